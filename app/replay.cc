// replay: rebuild the projection state from the log beside the live one, then swap (or, as
// known at a past time, hash it and drop it). Served by the running ingest when there is one
// (it holds the store), done here otherwise.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "careledger/consumers.h"
#include "careledger/projections.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

using Clock = std::chrono::steady_clock;

// "replayed N of M events (X/s)" on stderr, at most once a second.
class ProgressLine {
 public:
  void Update(uint64_t folded, uint64_t total, bool force = false) {
    auto now = Clock::now();
    if (!force && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - started_).count();
    uint64_t rate = seconds > 0 ? uint64_t(double(folded) / seconds) : 0;
    std::cerr << "replayed " << folded << " of " << total << " events (" << rate << "/s)\n";
  }

 private:
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_ = started_;
};

// The rebuild in this process: the store is ours.
Result<ChainHash> ReplayHere(EventStore& store, std::optional<Instant> known_at,
                             const std::atomic<bool>& stop) {
  auto rebuild = StateRebuild::Begin(store, {.known_at = known_at, .chunk = 10000, .stop = &stop});
  if (!rebuild.ok()) return rebuild.status();
  const uint64_t total = store.next_sequence();
  ProgressLine progress;
  progress.Update(0, total, true);  // the rebuild is under way: its family exists
  auto report = [&](uint64_t folded) { progress.Update(folded, total); };
  // The family is dropped on the way out when stopped.
  Status folded = (*rebuild)->CatchUp(total, report);
  if (stop.load()) return Status::Fatal("replay stopped; the live state is unchanged");
  CARELEDGER_RETURN_IF_ERROR(folded);
  progress.Update(total, total, true);
  if (known_at) return (*rebuild)->Hash();
  CARELEDGER_RETURN_IF_ERROR((*rebuild)->Swap());
  return ProjectionStateHash(store);
}

// Asks the ingest that holds the store. nullopt when no ingest took the request (it stopped
// meanwhile): the caller can then open the store itself.
Result<std::optional<ChainHash>> ReplayInIngest(const std::string& dir,
                                                std::optional<Instant> known_at,
                                                const std::atomic<bool>& stop) {
  ReplayRequest request;
  std::random_device rd;
  request.id = std::to_string(::getpid()) + "-" + std::to_string(rd());
  request.known_at = known_at;
  CARELEDGER_RETURN_IF_ERROR(PostReplayRequest(dir, request));
  std::cerr << "the store is in use by a running ingest: asking it to replay between batches\n";
  auto posted = Clock::now();
  ProgressLine line;
  ReplayProgress progress;
  bool seen = false;
  for (;;) {
    auto done = PollReplay(dir, request.id, progress);
    if (!done.ok()) return done.status();
    if (*done) {
      if (seen) line.Update(progress.total, progress.total, true);
      return done;
    }
    if (progress.total > 0) {
      line.Update(progress.folded, progress.total, !seen);
      seen = true;
    }
    // Ingest looks between batches, several times a second; one that does not take the
    // request within this long is not running any more (or is stuck).
    if (ReplayRequestPending(dir, request.id) && Clock::now() - posted > std::chrono::seconds(20)) {
      if (WithdrawReplayRequest(dir, request.id)) return std::optional<ChainHash>();
    }
    if (stop.load()) {
      WithdrawReplayRequest(dir, request.id);
      return Status::Fatal("replay stopped waiting; a rebuild already begun by ingest goes on");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

Command AddReplay(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string projection = "all";
    std::string known_at;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "replay",
      "Rebuild the projection state from the log beside the live one, then swap it in; print "
      "the state hash. Works while ingest runs: that ingest rebuilds beside its batches and "
      "swaps between two of them");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--projection", o->projection,
                  "Which projection: only 'all' (timelines and the CLA counters derived from "
                  "them are rebuilt together)")
      ->check(CLI::IsMember({"all"}));
  cmd->add_option("--as-known-at", o->known_at,
                  "Rebuild only the log records ingested at or before T (RFC 3339), print that "
                  "state's hash and drop it: the live state is left alone");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            std::optional<Instant> known_at;
            if (!o->known_at.empty()) {
              auto t = ParseTimestamp(o->known_at);
              if (!t.ok()) {
                std::cerr << "careledger: --as-known-at: not an RFC 3339 time: " << o->known_at
                          << '\n';
                return 2;
              }
              known_at = t->instant;
            }
            std::error_code ec;
            if (!std::filesystem::exists(ctx->data_dir + "/CURRENT", ec)) {
              return Fail(Status::BadInput("no store at " + ctx->data_dir +
                                           " (run `careledger ingest` first)"));
            }
            SignalWatcher signals;
            for (int attempt = 0; attempt < 3; ++attempt) {
              auto store = EventStore::Open({.path = ctx->data_dir});
              if (store.ok()) {
                auto hash = ReplayHere(**store, known_at, signals.stop());
                if (!hash.ok()) return Fail(hash.status());
                std::cout << ToHex(*hash) << '\n';
                return 0;
              }
              if (store.status().message().find("in use by another") == std::string::npos) {
                return Fail(store.status());
              }
              auto hash = ReplayInIngest(ctx->data_dir, known_at, signals.stop());
              if (!hash.ok()) return Fail(hash.status());
              if (*hash) {
                std::cout << ToHex(**hash) << '\n';
                return 0;
              }
            }
            return Fail(Status::Fatal("the store stayed in use but no ingest took the replay"));
          }};
}

}  // namespace careledger::app
