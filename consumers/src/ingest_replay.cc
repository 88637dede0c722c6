// Serving a replay between batches (ingestor.h).
#include <spdlog/spdlog.h>

#include <filesystem>
#include <string>

#include "ingestor.h"

namespace careledger::ingest {

Status Ingestor::ServeReplay() {
  if (options_.replay_dir.empty()) return Status::Ok();
  TakeReplayRequests();
  if (!replay_) {
    StartNextReplay();
    return Status::Ok();
  }
  if (replay_->folding.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return Status::Ok();
  }
  return FinishReplay();
}

void Ingestor::TakeReplayRequests() {
  const std::string& dir = options_.replay_dir;
  auto now = Clock::now();
  if (now - last_replay_check_ >= std::chrono::milliseconds(200)) {
    last_replay_check_ = now;
    std::vector<std::string> paths;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = entry.path().filename().string();
      if (name.starts_with("replay.") && name.ends_with(kRequestSuffix)) {
        paths.push_back(entry.path().string());
      }
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& path : paths) {
      if (auto request = TakeReplayRequest(path)) {
        // Taken: from now on the one who asked watches this process (its pid) for the result.
        (void)WriteWhole(ProgressPath(dir, request->id), ProgressLine(0, store_.next_sequence()));
        queued_replays_.push_back(std::move(*request));
      }
    }
    RemoveStaleReplayFiles(dir, std::chrono::minutes(10));
  }
}

void Ingestor::StartNextReplay() {
  const std::string& dir = options_.replay_dir;
  if (queued_replays_.empty()) return;
  std::optional<ReplayRequest> request = std::move(queued_replays_.front());
  queued_replays_.pop_front();
  auto rebuild = StateRebuild::Begin(store_, {.known_at = request->known_at});
  if (!rebuild.ok()) {
    spdlog::warn("replay {} cannot start: {}", request->id, rebuild.status().message());
    (void)WriteWhole(ResultPath(dir, request->id), "error " + rebuild.status().message() + "\n");
    return;
  }
  spdlog::info("replay {}: rebuilding the projection state into {} beside ingest", request->id,
               (*rebuild)->family());
  auto job = std::make_unique<ReplayJob>();
  job->request = std::move(*request);
  job->rebuild = std::move(rebuild.value());
  StateRebuild* r = job->rebuild.get();
  std::string progress_path = ProgressPath(dir, job->request.id);
  if (options_.monitor) options_.monitor->ReplayStarted();
  job->folding =
      std::async(std::launch::async, [this, r, progress_path, j = job.get()]() -> Status {
        auto last = Clock::now() - std::chrono::seconds(1);
        auto report = [&](uint64_t folded) {
          j->Count(options_.monitor, folded);
          if (auto t = Clock::now(); t - last >= std::chrono::milliseconds(500)) {
            last = t;
            (void)WriteWhole(progress_path, ProgressLine(folded, store_.next_sequence()));
          }
        };
        report(0);
        // Chase the head while ingest appends; the last stretch is folded between two batches.
        // A few passes at most: under an ingest as fast as the rebuild, the pause takes the rest.
        for (int pass = 0; pass < 8; ++pass) {
          CARELEDGER_RETURN_IF_ERROR(r->CatchUp(store_.next_sequence(), report));
          if (store_.next_sequence() - r->next() <= 5000) break;
        }
        return Status::Ok();
      });
  replay_ = std::move(job);
}

Status Ingestor::FinishReplay() {
  const std::string& dir = options_.replay_dir;
  std::unique_ptr<ReplayJob> job = std::move(replay_);
  Status s = job->folding.get();
  std::string hash;
  if (s.ok()) {
    // Nothing in flight: the log's head is final until the next batch, which is built on the
    // state as swapped.
    CARELEDGER_RETURN_IF_ERROR(FinishWrite());
    auto t0 = Clock::now();
    s = job->rebuild->CatchUp(store_.next_sequence(),
                              [&](uint64_t folded) { job->Count(options_.monitor, folded); });
    if (s.ok() && !job->request.known_at) {
      s = job->rebuild->Swap();
      projector_.Forget();
    }
    if (s.ok()) {
      auto h = job->request.known_at ? job->rebuild->Hash() : ProjectionStateHash(store_);
      if (h.ok()) hash = ToHex(*h);
      s = h.status();
    }
    spdlog::info("replay {}: {} at log sequence {} ({} ms between batches)", job->request.id,
                 s.ok() ? (job->request.known_at ? "hashed" : "swapped in") : "failed",
                 store_.next_sequence(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  }
  if (!s.ok()) spdlog::warn("replay {} failed: {}", job->request.id, s.message());
  if (options_.monitor) options_.monitor->ReplayEnded(s.ok());
  std::error_code ec;
  std::filesystem::remove(ProgressPath(dir, job->request.id), ec);
  (void)WriteWhole(ResultPath(dir, job->request.id),
                   s.ok() ? "ok " + hash + "\n" : "error " + s.message() + "\n");
  return Status::Ok();
}

void Ingestor::AbandonReplay(const std::string& why) {
  for (const auto& request : queued_replays_) {
    (void)WriteWhole(ResultPath(options_.replay_dir, request.id), "error " + why + "\n");
  }
  queued_replays_.clear();
  if (!replay_) return;
  std::unique_ptr<ReplayJob> job = std::move(replay_);
  (void)job->folding.get();  // the rebuild is dropped with the job
  if (options_.monitor) options_.monitor->ReplayEnded(false);
  std::error_code ec;
  std::filesystem::remove(ProgressPath(options_.replay_dir, job->request.id), ec);
  (void)WriteWhole(ResultPath(options_.replay_dir, job->request.id), "error " + why + "\n");
}

}  // namespace careledger::ingest
