#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "batch_builder.h"
#include "careledger/consumers.h"
#include "careledger/events.h"
#include "careledger/kafka.h"
#include "careledger/projections.h"

namespace careledger {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kOffsetBeginning = -2;  // RD_KAFKA_OFFSET_BEGINNING

// "careledger.police.v1[0,1] careledger.socialcare.v1[0,1] ..." for the log.
std::string Describe(const std::vector<TopicPartition>& partitions) {
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& tp : partitions) by_topic[tp.topic].push_back(tp.partition);
  std::string out;
  for (const auto& [topic, list] : by_topic) {
    if (!out.empty()) out.append(" ");
    out.append(topic).append("[");
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) out.append(",");
      out.append(std::to_string(list[i]));
    }
    out.append("]");
  }
  return out.empty() ? "no partitions" : out;
}

// The replay protocol's files in the store's directory.
// One file per request, so that two `careledger replay` at once do not overwrite each other.
constexpr std::string_view kRequestSuffix = ".request";
std::string RequestPath(const std::string& dir, const std::string& id) {
  return dir + "/replay." + id + std::string(kRequestSuffix);
}
std::string ProgressPath(const std::string& dir, const std::string& id) {
  return dir + "/replay." + id + ".progress";
}
std::string ResultPath(const std::string& dir, const std::string& id) {
  return dir + "/replay." + id + ".result";
}

// Written beside and renamed into place, so a reader never sees half a file.
Status WriteWhole(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.flush()) return Status::Fatal("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Fatal("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

// "folded total pid": the pid of the ingest serving the request, so that the one waiting
// learns when that ingest is gone rather than waiting for ever.
std::string ProgressLine(uint64_t folded, uint64_t total) {
  return std::to_string(folded) + " " + std::to_string(total) + " " + std::to_string(::getpid()) +
         "\n";
}

// Results nobody came for (the one who asked was stopped), progress of requests a previous
// ingest took and never finished, and half-written files: none has a reader any more.
void RemoveStaleReplayFiles(const std::string& dir, std::chrono::minutes older_than) {
  std::error_code ec;
  auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("replay.") || name.ends_with(kRequestSuffix)) continue;
    std::error_code age_ec;
    auto written = std::filesystem::last_write_time(entry.path(), age_ec);
    if (!age_ec && now - written >= older_than) std::filesystem::remove(entry.path(), age_ec);
  }
}

std::optional<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A request's id is used in file names: letters, digits, '-' and '_' only.
bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// One request, removed from the directory (taking it is the acknowledgement); nullopt when
// it is malformed or another process took it.
std::optional<ReplayRequest> TakeReplayRequest(const std::string& path) {
  auto content = ReadWhole(path);
  if (!content) return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::remove(path, ec)) return std::nullopt;
  std::istringstream in(*content);
  ReplayRequest r;
  std::string known;
  in >> r.id >> known;
  if (!ValidId(r.id)) {
    spdlog::warn("ignoring a malformed replay request in {}", path);
    return std::nullopt;
  }
  if (known != "-") {
    int64_t secs = 0;
    if (std::from_chars(known.data(), known.data() + known.size(), secs).ec != std::errc()) {
      spdlog::warn("ignoring a malformed replay request in {}", path);
      return std::nullopt;
    }
    r.known_at = Instant{std::chrono::seconds{secs}};
  }
  return r;
}

// Fault injection for the kill -9 tests, and nothing else: CARELEDGER_FAULT, read once per
// process, makes ingest SIGKILL itself at a moment a test cannot hit from outside:
//   die-after-write    a batch holding dead letters is durable; none of them is sent yet
//   die-after-publish  the dead-letter topic acknowledged some; their marks are not cleared
enum class Fault { kNone, kDieAfterWrite, kDieAfterPublish };
Fault InjectedFault() {
  static const Fault fault = [] {
    const char* env = std::getenv("CARELEDGER_FAULT");
    if (!env || !*env) return Fault::kNone;
    std::string_view v(env);
    Fault f = v == "die-after-write"     ? Fault::kDieAfterWrite
              : v == "die-after-publish" ? Fault::kDieAfterPublish
                                         : Fault::kNone;
    if (f == Fault::kNone) {
      spdlog::warn("CARELEDGER_FAULT={} is not a fault this build injects; ignored", v);
    } else {
      spdlog::warn("CARELEDGER_FAULT={}: fault injection is on, ingest will kill itself", v);
    }
    return f;
  }();
  return fault;
}
void DieOfInjectedFault(std::string_view where) {
  spdlog::warn("CARELEDGER_FAULT: SIGKILL {}", where);
  spdlog::default_logger()->flush();
  std::raise(SIGKILL);
}

using DeadLetterRef = std::pair<TopicPartition, int64_t>;  // as ParseDeadLetterId has it

// The dead-letter outbox's sending side. Ingest stores each dead letter with an unpublished
// mark in its batch (Batch::PutDeadLetter); this sends it once that batch is durable, and
// clears the mark only after the topic's delivery report, for many letters in one store write.
// A process that dies between the two leaves the mark, and the next start sends it (Recover).
class DeadLetterOutbox {
 public:
  DeadLetterOutbox(EventStore& store, Settings kafka) : store_(store), settings_(std::move(kafka)) {
    settings_.erase("group.id");
  }
  DeadLetterOutbox(const DeadLetterOutbox&) = delete;  // the producer's callback holds `this`
  DeadLetterOutbox& operator=(const DeadLetterOutbox&) = delete;

  // Letters whose batch is durable; their marks are cleared by a Settle after delivery.
  void Send(const std::vector<DeadLetter>& letters);
  // Serves the delivery reports that have arrived and clears the delivered letters' marks.
  void Settle();
  // Waits up to `timeout` for every report, then settles.
  void Finish(std::chrono::milliseconds timeout);
  // At start: sends what a previous process left marked, except what the topic already holds.
  void Recover();

 private:
  bool OpenProducer();
  EventStore& store_;
  Settings settings_;
  uint64_t next_tag_ = 1;
  std::unordered_map<uint64_t, DeadLetterRef> sent_;  // by tag, awaiting a report
  std::vector<DeadLetterRef> delivered_;              // marks to clear
  // Declared last, so destroyed first: its destructor's flush reports into the members above.
  std::unique_ptr<Producer> producer_;  // opened at the first dead letter
};

bool DeadLetterOutbox::OpenProducer() {
  if (producer_) return true;
  auto producer = Producer::Open(settings_, [this](uint64_t tag, const Status& s) {
    auto it = sent_.find(tag);
    if (it == sent_.end()) return;
    if (s.ok()) {
      delivered_.push_back(std::move(it->second));
    } else {
      // Not sent again in this run: a failed report does not say the broker lacks it. The
      // mark stays, and the next start checks the topic before sending it.
      spdlog::warn(
          "a dead letter did not reach {} ({}); the store has it, and the next start "
          "sends it",
          kTopicDeadLetter, s.message());
    }
    sent_.erase(it);
  });
  if (!producer.ok()) {
    spdlog::warn(
        "cannot publish dead letters to {}: {}; the store has them, and the next start "
        "sends them",
        kTopicDeadLetter, producer.status().message());
    return false;
  }
  producer_ = std::move(producer.value());
  return true;
}

void DeadLetterOutbox::Send(const std::vector<DeadLetter>& letters) {
  if (letters.empty() || !OpenProducer()) return;
  for (const auto& d : letters) {
    std::string partition = std::to_string(d.from.partition);
    std::string offset = std::to_string(d.offset);
    std::string_view kind = RejectKindName(d.kind);
    uint64_t tag = next_tag_++;
    sent_.emplace(tag, DeadLetterRef{d.from, d.offset});
    // Keyed by the source coordinates: Recover finds a letter on the topic by its key.
    Status s = producer_->Produce(kTopicDeadLetter, d.Id(), d.payload,
                                  {{"error", kind},
                                   {"error_detail", d.reason},
                                   {"source_topic", d.from.topic},
                                   {"source_partition", partition},
                                   {"source_offset", offset}},
                                  tag);
    if (!s.ok()) {
      sent_.erase(tag);
      spdlog::warn("dead letter {} not published: {}", d.Id(), s.message());
    }
  }
}

void DeadLetterOutbox::Settle() {
  if (producer_) producer_->Poll();
  if (delivered_.empty()) return;
  if (InjectedFault() == Fault::kDieAfterPublish) {
    DieOfInjectedFault("after the dead-letter topic acknowledged, before the marks are cleared");
  }
  if (Status s = store_.MarkDeadLettersPublished(delivered_); !s.ok()) {
    // Kept, to clear with the next ones; the marks only cost a check at the next start.
    spdlog::warn("dead letters published but still marked unpublished: {}", s.message());
    return;
  }
  delivered_.clear();
}

void DeadLetterOutbox::Finish(std::chrono::milliseconds timeout) {
  if (producer_) {
    if (Status s = producer_->Flush(timeout); !s.ok()) {
      spdlog::warn(
          "dead letters not all published to {}: {}; the store has them, and the next "
          "start sends them",
          kTopicDeadLetter, s.message());
    }
  }
  Settle();
}

void DeadLetterOutbox::Recover() {
  std::map<std::string, DeadLetterRef> left;  // by id, the topic's key
  Status s = store_.ScanUnpublishedDeadLetters([&](const DeadLetter& d) {
    left.emplace(d.Id(), DeadLetterRef{d.from, d.offset});
    return true;
  });
  if (!s.ok() || left.empty()) {
    if (!s.ok()) spdlog::warn("unpublished dead letters cannot be read: {}", s.message());
    return;
  }
  // Exactly once on the topic: a mark outlives its letter's delivery when the process died
  // between the delivery report and clearing the mark. The dead process sends nothing more,
  // so what it got onto the topic is there now (on a real cluster: once the requests it had
  // in flight are replicated, well within a restart); read the topic's keys and send only
  // the rest.
  // Bounded by what the topic holds, and done only when marks are left (after a crash or a
  // failed delivery), not on every start. A letter retention already removed from the topic
  // is sent again: nobody can read the first copy.
  std::vector<DeadLetterRef> there;
  auto t0 = Clock::now();
  s = ScanTopicKeys(settings_, kTopicDeadLetter, std::chrono::seconds(30),
                    [&](std::string_view key) {
                      if (auto it = left.find(std::string(key)); it != left.end()) {
                        there.push_back(std::move(it->second));
                        left.erase(it);
                      }
                    });
  if (!s.ok()) {
    // Sending blind could publish a letter twice; they wait, marked, for a start that can look.
    spdlog::warn(
        "{} dead letters a previous run left unpublished stay so: {} cannot be read "
        "to check which are there already ({})",
        left.size() + there.size(), kTopicDeadLetter, s.message());
    return;
  }
  if (Status c = store_.MarkDeadLettersPublished(there); !c.ok()) {
    spdlog::warn("dead letters already on {} still marked unpublished: {}", kTopicDeadLetter,
                 c.message());
  }
  std::vector<DeadLetter> send;
  s = store_.ScanUnpublishedDeadLetters([&](const DeadLetter& d) {
    if (left.count(d.Id())) send.push_back(d);
    return true;
  });
  if (!s.ok()) spdlog::warn("unpublished dead letters cannot be read: {}", s.message());
  spdlog::info(
      "{} dead letters a previous run left unpublished: {} were on {} already, {} sent "
      "now ({} ms)",
      there.size() + left.size(), there.size(), kTopicDeadLetter, send.size(),
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  Send(send);
  Finish(std::chrono::seconds(10));
}

struct Position {
  int64_t next = 0;            // next offset to store
  std::optional<int64_t> end;  // high watermark at assignment (until_end)
};

// The batch in flight, and what it changes once durable. At namespace scope rather than
// inside Ingestor: clang (the fuzz build, clang-tidy) does not see a nested struct's default
// member initializers while the enclosing class is incomplete, so std::optional<InFlight>
// there would not be default-constructible.
struct InFlight {
  std::future<Status> done;
  EventStore::Batch::Tail tail;                   // the next batch continues from here
  std::unordered_map<std::string, uint64_t> ids;  // event_id → fingerprint, for dedup
  uint64_t appended = 0, messages = 0;
  std::map<std::pair<std::string, std::string>, uint64_t> by_type;
  std::map<std::string, uint64_t> dead_by_kind;
  uint32_t write_micros = 0;             // set by the writer thread
  std::vector<DeadLetter> dead_letters;  // to publish once durable
};

class Ingestor : public GroupConsumer::Listener {
 public:
  Ingestor(EventStore& store, const IngestOptions& options)
      : store_(store), options_(options), projector_(store), outbox_(store, options.kafka) {}

  Result<IngestStats> Run(const std::atomic<bool>& stop);

  std::vector<int64_t> OnAssign(const std::vector<TopicPartition>& partitions) override {
    // The stored offsets are only the truth once the batch being written is in.
    if (auto s = FinishWrite(); !s.ok()) failure_ = s;
    std::vector<int64_t> offsets;
    for (const auto& tp : partitions) {
      auto stored = StoredOffset(tp);
      if (!stored.ok()) {
        // Without the stored position we must not read: stop rather than guess, or than go
        // on with a partition whose messages would all be skipped.
        failure_ = stored.status();
        offsets.push_back(kOffsetBeginning);
        continue;
      }
      // A partition we hold nothing of starts at offset 0, not the logical BEGINNING: that
      // needs an offset lookup first, which the mock cluster sometimes answers only on
      // librdkafka's 500 ms retry (measured). Where retention has removed offset 0, that is
      // a gap like any other (CheckGaps).
      int64_t next = stored->value_or(0);
      positions_[tp] = Position{next, std::nullopt};
      offsets.push_back(next);
      spdlog::debug("assigned {}/{} from offset {}", tp.topic, tp.partition, next);
    }
    if (failure_.ok()) CheckGaps(partitions, offsets);
    if (failure_.ok()) ReadPartitionCounts(partitions);
    // An eager (range) assignment is the whole new assignment: it replaces the old one.
    if (auto s = store_.SetAssignment(partitions); !s.ok()) failure_ = s;
    spdlog::info("assigned {}; reading from the offsets in the store", Describe(partitions));
    if (!ever_assigned_) first_assigned_ = Clock::now();
    ever_assigned_ = true;
    return offsets;
  }

  void OnOutOfRange(const TopicPartition& tp, int64_t offset) override {
    // Retention overtook this ingest while it ran (it was behind by more than the topic
    // keeps), or the topic was recreated under it.
    auto pos = positions_.find(tp);
    int64_t next = pos == positions_.end() ? offset : pos->second.next;
    for (const Message& m : pending_) {  // read, and written before ingest stops
      if (m.partition() == tp.partition && m.topic() == tp.topic) {
        next = std::max(next, m.offset() + 1);
      }
    }
    auto low = RetryingWatermarks(*consumer_, {tp}, false);
    auto high = RetryingWatermarks(*consumer_, {tp}, true);
    if (!low.ok() || !high.ok()) {
      failure_ = Status::Fatal("offset " + std::to_string(offset) + " of " + tp.topic + "/" +
                               std::to_string(tp.partition) +
                               " is out of range and the broker's offsets cannot be read: " +
                               (low.ok() ? high.status() : low.status()).message());
      return;
    }
    CheckGap(tp, next, /*accept=*/false, (*low)[0], (*high)[0], nullptr);
    if (failure_.ok()) {
      // The broker says out of range but its watermarks now cover us: a topic recreated and
      // refilled past our offset in between. Never read on from a guess.
      failure_ = Status::Gap("offset " + std::to_string(offset) + " of " + tp.topic + "/" +
                             std::to_string(tp.partition) +
                             " was refused as out of range by the broker; ingest stops so "
                             "nothing is skipped silently");
    }
  }

  void OnRevoke(const std::vector<TopicPartition>& partitions) override {
    // Finish the batch in hand while its partitions are still ours.
    if (auto s = WriteBatch(); !s.ok()) failure_ = s;
    if (auto s = FinishWrite(); !s.ok()) failure_ = s;
    for (const auto& tp : partitions) positions_.erase(tp);
    spdlog::info("revoked {} partitions", partitions.size());
  }

 private:
  Status Step(GroupConsumer& consumer, bool& done);  // one poll, write and end check
  // Builds a batch from the messages in hand and hands it to a writer thread, after waiting
  // for the batch before it: so batch N+1 is polled, parsed and projected while N is being
  // written and synced. One batch at most is in flight, and batches are written in order.
  Status WriteBatch();
  // Waits for the batch in flight; counts it once it is durable.
  Status FinishWrite();
  Status FillEnds(GroupConsumer& consumer);
  bool AtEnd() const;
  // The stored next offset of a partition, read again when the store is only busy.
  Result<std::optional<int64_t>> StoredOffset(const TopicPartition& tp) const;
  // Watermarks, asked again while the broker's answer is retriable; then the error.
  Result<std::vector<int64_t>> RetryingWatermarks(GroupConsumer& consumer,
                                                  const std::vector<TopicPartition>& partitions,
                                                  bool high) const;
  // Compares each partition's start with the broker's low and high watermarks. A gap is
  // recorded in the store and stops ingest (failure_), unless the operator accepted it for
  // that partition: then ingest starts at the low watermark (offsets[i] and positions_).
  void CheckGaps(const std::vector<TopicPartition>& partitions, std::vector<int64_t>& offsets);
  // Each assigned topic's partition count, which says where each child's events belong.
  void ReadPartitionCounts(const std::vector<TopicPartition>& partitions);
  // One partition starting at `offset` (moved to `low` when its gap is accepted); `open`, a
  // gap the store recorded before and nobody has accepted yet.
  void CheckGap(const TopicPartition& tp, int64_t& offset, bool accept, int64_t low, int64_t high,
                const OffsetGap* open);
  // Between batches: takes a replay request, and swaps a rebuild in once it has caught up.
  Status ServeReplay();
  // Ends a replay that cannot finish (ingest stopping), telling the one who asked.
  void AbandonReplay(const std::string& why);

  EventStore& store_;
  const IngestOptions& options_;
  Projector projector_;
  EnvelopeParser parser_;
  std::map<TopicPartition, Position> positions_;
  std::vector<Message> pending_;
  std::vector<Envelope> envelopes_;
  IngestStats stats_;
  GroupConsumer* consumer_ = nullptr;  // while Run runs

  // Holds each accepted correction or retraction whose target the store does not hold for
  // the same child, and releases held ones whose target is among `accepted`. Runs once
  // everything before the batch is durable. The changes to held_ are returned, to be made
  // once the batch is handed on.
  struct HeldChange {
    bool hold;  // else release
    HeldCorrection correction;
  };
  using HeldChanges = std::vector<HeldChange>;  // in the order the batch makes them
  Status SettleCorrections(const std::vector<AcceptedEvent>& accepted, EventStore::Batch& batch,
                           HeldChanges& changes);
  void ApplyHeldChanges(HeldChanges&& changes);
  // Held corrections by target event id: loaded at start, kept in step with the store.
  std::unordered_map<std::string, std::vector<HeldCorrection>> held_;
  // Dead-letters a message into the batch in hand (and, once written, the topic).
  void Reject(EventStore::Batch& batch, const RawMessage& m, RejectKind kind, std::string reason);
  std::vector<DeadLetter> rejected_;  // in the batch being built
  DeadLetterOutbox outbox_;
  std::vector<OffsetGap> gaps_;  // met in this run, not accepted: ingest stops
  std::map<std::string, int32_t, std::less<>> partition_counts_;  // by topic, at assignment
  struct {
    uint64_t consumed = 0, duplicates = 0, dead_lettered = 0;
    std::map<std::string, uint64_t> dead_by_kind;
  } batch_counts_;  // likewise
  std::optional<InFlight> in_flight_;
  Status failure_;        // from a rebalance callback, returned by the next Step
  Status store_failure_;  // a fatal write: sticky
  bool ever_assigned_ = false;
  bool told_waiting_ = false;  // that the group is settling, once
  // The consumer's session timeout, which bounds how long a killed member holds partitions.
  std::chrono::milliseconds session_timeout_{10000};
  // A join and rebalance after the session timeout, on a loaded machine.
  static constexpr std::chrono::milliseconds kJoinAllowance{30000};
  Clock::time_point started_, last_message_, first_assigned_;

  // Requests taken and waiting for the one being served.
  std::deque<ReplayRequest> queued_replays_;
  // A replay being served: folded in a background thread up to near the log's head, then
  // caught up and swapped (or hashed and dropped) by ServeReplay between two batches.
  struct ReplayJob {
    ReplayRequest request;
    std::unique_ptr<StateRebuild> rebuild;  // outlives `folding`, which uses it
    std::future<Status> folding;
    uint64_t counted = 0;  // records folded as last told to the monitor
    // For StateRebuild::CatchUp: tells the monitor what was folded since the last call.
    void Count(IngestMonitor* monitor, uint64_t folded) {
      if (monitor && folded > counted) monitor->ReplayFolded(folded - counted);
      counted = std::max(counted, folded);
    }
  };
  std::unique_ptr<ReplayJob> replay_;
  Clock::time_point last_replay_check_{};
};

Status Ingestor::ServeReplay() {
  if (options_.replay_dir.empty()) return Status::Ok();
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
  if (!replay_) {
    if (queued_replays_.empty()) return Status::Ok();
    std::optional<ReplayRequest> request = std::move(queued_replays_.front());
    queued_replays_.pop_front();
    auto rebuild = StateRebuild::Begin(store_, {.known_at = request->known_at});
    if (!rebuild.ok()) {
      spdlog::warn("replay {} cannot start: {}", request->id, rebuild.status().message());
      (void)WriteWhole(ResultPath(dir, request->id), "error " + rebuild.status().message() + "\n");
      return Status::Ok();
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
    return Status::Ok();
  }
  if (replay_->folding.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return Status::Ok();
  }
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

Status Ingestor::WriteBatch() {
  // After a fatal store error nothing more is written: RocksDB refuses (or, built with
  // assertions as Debian's is, aborts on) a second write after a failed one, and the batch
  // in hand is re-read from Kafka by the next run anyway.
  if (!store_failure_.ok()) return store_failure_;
  if (pending_.empty()) return Status::Ok();
  // Counted into stats_ once the batch is handed on: an attempt that a retriable error cut
  // short (its messages are kept and tried again) counts nothing.
  rejected_.clear();
  batch_counts_ = {};
  auto t0 = Clock::now();
  auto batch = in_flight_ ? store_.NewBatchAfter(in_flight_->tail) : store_.NewBatch();
  std::vector<RawMessage> raw;
  raw.reserve(pending_.size());
  for (const Message& m : pending_) {
    raw.push_back({m.topic(), m.key(), m.payload(), m.partition(), m.offset()});
  }
  BatchContext context;
  context.next_offset = [this](const TopicPartition& tp) -> std::optional<int64_t> {
    auto pos = positions_.find(tp);
    if (pos == positions_.end()) return std::nullopt;
    return pos->second.next;
  };
  context.partition_counts = &partition_counts_;
  if (in_flight_) context.unwritten_ids = &in_flight_->ids;
  // Its status is taken by FinishWrite below.
  context.unwritten_durable = [this] {
    if (in_flight_) in_flight_->done.wait();
  };
  // Steps 1-3: parse, route, dedup, append and project (batch_builder.h).
  BuiltBatch built;
  CARELEDGER_RETURN_IF_ERROR(
      BuildBatch(raw, context, store_, parser_, projector_, envelopes_, batch, built));
  batch_counts_.consumed = built.consumed;
  for (BatchReject& r : built.rejected) Reject(batch, raw[r.message], r.kind, std::move(r.reason));
  auto t_built = Clock::now();
  spdlog::debug("batch of {} messages: {} us to build", pending_.size(),
                std::chrono::duration_cast<std::chrono::microseconds>(t_built - t0).count());

  // 4. This batch continues the one in flight: that must be durable first. Then each repeated
  // event id is a duplicate or a conflict.
  if (Status s = FinishWrite(); !s.ok()) return s;
  std::vector<BatchReject> conflicts;
  CARELEDGER_RETURN_IF_ERROR(
      SettleRepeats(raw, envelopes_, built, store_, batch_counts_.duplicates, conflicts));
  for (BatchReject& r : conflicts) Reject(batch, raw[r.message], r.kind, std::move(r.reason));
  std::vector<AcceptedEvent>& accepted = built.accepted;
  // 5. Corrections that do not (yet) apply are held where they can be seen.
  HeldChanges held_changes;
  CARELEDGER_RETURN_IF_ERROR(SettleCorrections(accepted, batch, held_changes));
  ApplyHeldChanges(std::move(held_changes));
  stats_.consumed += batch_counts_.consumed;
  stats_.duplicates += batch_counts_.duplicates;
  stats_.dead_lettered += batch_counts_.dead_lettered;
  InFlight& next = in_flight_.emplace();
  next.dead_by_kind = std::move(batch_counts_.dead_by_kind);
  for (const auto& a : accepted) {
    ++next.by_type[{std::string(a.topic), std::string(EventTypeName(a.envelope->type))}];
  }
  next.dead_letters = std::exchange(rejected_, {});
  next.tail = batch.tail();
  next.ids = std::move(built.ids);
  next.appended = accepted.size();
  next.messages = pending_.size();
  for (const auto& [tp, offset] : built.next_offsets) positions_[tp].next = offset;
  pending_.clear();  // the batch holds copies of what it needs
  next.done = std::async(std::launch::async, [this, b = std::move(batch), &next]() mutable {
    auto t = Clock::now();
    Status s = store_.Write(b);
    // A store that is only busy is waited out here, so the batch keeps its place in order.
    for (auto wait = std::chrono::milliseconds(100); s.error_class() == ErrorClass::kRetriable;
         wait = std::min(wait * 2, std::chrono::milliseconds(5000))) {
      spdlog::warn("{}; retrying in {} ms", s.message(), wait.count());
      std::this_thread::sleep_for(wait);
      s = store_.Write(b);
    }
    next.write_micros =
        uint32_t(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
    return s;
  });
  return Status::Ok();
}

Status Ingestor::SettleCorrections(const std::vector<AcceptedEvent>& accepted,
                                   EventStore::Batch& batch, HeldChanges& changes) {
  // Targets that arrive: a held correction now applies when the target is the same child's.
  if (!held_.empty()) {
    for (const auto& a : accepted) {
      auto it = held_.find(a.envelope->event_id);
      if (it == held_.end()) continue;
      for (HeldCorrection h : it->second) {
        if (h.other_child) continue;
        if (h.child_id == a.envelope->child_id) {
          spdlog::debug("correction {} now applies: its target {} arrived", h.event_id,
                        h.target_event_id);
          batch.ReleaseCorrection(h.target_event_id, h.event_id);
          changes.push_back({false, std::move(h)});
        } else {
          spdlog::warn("correction {} will never apply: its target {} arrived for another child",
                       h.event_id, h.target_event_id);
          h.other_child = true;
          batch.HoldCorrection(h);
          changes.push_back({true, std::move(h)});
        }
      }
    }
  }
  struct Correction {
    const AcceptedEvent* event;
    std::string_view target;
    bool retraction;
  };
  std::vector<Correction> corrections;
  for (const auto& a : accepted) {
    const Envelope& e = *a.envelope;
    if (!e.supersedes.empty()) corrections.push_back({&a, e.supersedes, false});
    if (e.type == EventType::kEventRetracted) {
      corrections.push_back({&a, e.data.target_event_id, true});
    }
  }
  if (corrections.empty()) return Status::Ok();
  // The target's child: from this batch, or from the store (which now holds every batch
  // before this one).
  std::unordered_map<std::string_view, std::optional<std::string_view>> child_in_batch;
  for (const auto& c : corrections) child_in_batch.emplace(c.target, std::nullopt);
  for (const auto& a : accepted) {
    auto it = child_in_batch.find(a.envelope->event_id);
    if (it != child_in_batch.end() && !it->second) it->second = a.envelope->child_id;
  }
  std::vector<std::string_view> lookup;
  for (const auto& c : corrections) {
    if (!child_in_batch.at(c.target)) lookup.push_back(c.target);
  }
  std::vector<std::optional<StoredEventId>> stored;
  CARELEDGER_RETURN_IF_ERROR(store_.FindEventIds(lookup, stored));
  size_t next_stored = 0;
  std::string payload;
  Envelope target;
  for (const auto& c : corrections) {
    const Envelope& e = *c.event->envelope;
    std::optional<std::string> target_child;
    if (const auto& in_batch = child_in_batch.at(c.target)) {
      target_child.emplace(*in_batch);
    } else if (const auto& found = stored[next_stored++]) {
      CARELEDGER_RETURN_IF_ERROR(store_.ReadPayload(found->sequence, payload));
      if (Status s = parser_.Parse(payload, target); !s.ok()) {
        return Status::Fatal("stored event " + std::string(c.target) +
                             " no longer parses: " + s.message());
      }
      target_child = std::move(target.child_id);
    }
    if (target_child == e.child_id) {
      // The fold applies it. A held correction that tried to act on the same target from
      // another child has been overtaken: the source fixed the record where it lives.
      if (auto it = held_.find(std::string(c.target)); it != held_.end()) {
        for (const HeldCorrection& h : it->second) {
          if (h.child_id == e.child_id) continue;  // released above, as the target came
          spdlog::info("correction {} is released: {} {} its target {} in its own child",
                       h.event_id, e.event_id, c.retraction ? "retracts" : "supersedes",
                       h.target_event_id);
          batch.ReleaseCorrection(h.target_event_id, h.event_id);
          changes.push_back({false, h});
        }
      }
      continue;
    }
    HeldCorrection h;
    h.event_id = e.event_id;
    h.target_event_id = c.target;
    h.child_id = e.child_id;
    h.retraction = c.retraction;
    h.other_child = target_child.has_value();
    h.from = {std::string(c.event->topic), c.event->partition};
    h.offset = c.event->offset;
    h.held_at = std::chrono::floor<std::chrono::seconds>(batch.ingested_at());
    // Awaiting is routine (a retraction on one topic can overtake its target on another);
    // acting on another child's event is a source's mistake.
    if (h.other_child) {
      spdlog::warn("{} {} held: its target is another child's event, so it never applies",
                   c.retraction ? "retraction" : "correction", h.event_id);
    } else {
      spdlog::debug("{} {} held: its target is not stored yet",
                    c.retraction ? "retraction" : "correction", h.event_id);
    }
    batch.HoldCorrection(h);
    changes.push_back({true, std::move(h)});
  }
  return Status::Ok();
}

void Ingestor::ApplyHeldChanges(HeldChanges&& changes) {
  for (HeldChange& change : changes) {
    HeldCorrection& h = change.correction;
    const std::string target = h.target_event_id;
    auto& list = held_[target];
    size_t had =
        std::erase_if(list, [&](const HeldCorrection& x) { return x.event_id == h.event_id; });
    if (change.hold) {
      stats_.corrections_held += had == 0;
      stats_.corrections_held_now += had == 0;
      list.push_back(std::move(h));
    } else {
      stats_.corrections_released += had;
      stats_.corrections_held_now -= had;
    }
    if (list.empty()) held_.erase(target);
  }
}

void Ingestor::Reject(EventStore::Batch& batch, const RawMessage& m, RejectKind kind,
                      std::string reason) {
  // The reason names the field and the rule; the payload is never logged.
  spdlog::warn("dead letter {}/{}@{}: {}", m.topic, m.partition, m.offset, reason);
  TopicPartition tp{std::string(m.topic), m.partition};
  batch.PutDeadLetter(tp, m.offset, kind, reason, m.payload, options_.publish_dead_letters);
  ++batch_counts_.dead_lettered;
  ++batch_counts_.dead_by_kind[std::string(RejectKindName(kind))];
  if (options_.publish_dead_letters) {
    rejected_.push_back({std::move(tp), m.offset, kind, std::move(reason), std::string(m.payload)});
  }
}

Status Ingestor::FinishWrite() {
  if (!in_flight_) return Status::Ok();
  Status s = in_flight_->done.get();
  InFlight done = std::move(*in_flight_);
  in_flight_.reset();
  if (!s.ok()) {
    // Nothing built on it may be written; the next run re-reads it all from Kafka.
    store_failure_ = s;
    projector_.Forget();
    return s;
  }
  spdlog::debug("batch of {} messages: {} us to write", done.messages, done.write_micros);
  if (!done.dead_letters.empty() && InjectedFault() == Fault::kDieAfterWrite) {
    DieOfInjectedFault("after a batch with dead letters is durable, before they are sent");
  }
  outbox_.Send(done.dead_letters);
  outbox_.Settle();
  stats_.write_micros.push_back(done.write_micros);
  stats_.appended += done.appended;
  for (const auto& [k, n] : done.by_type) stats_.appended_by_type[k] += n;
  for (const auto& [k, n] : done.dead_by_kind) stats_.dead_lettered_by_kind[k] += n;
  ++stats_.batches;
  if (options_.monitor && consumer_) {
    std::vector<PartitionLag> lag;
    for (const auto& [tp, pos] : positions_) {
      lag.push_back({tp, pos.next, consumer_->CachedHighWatermark(tp)});
    }
    IngestStats totals = stats_;
    totals.write_micros.clear();
    options_.monitor->Record(totals, std::move(lag), done.messages,
                             double(done.write_micros) / 1e6);
  }
  return Status::Ok();
}

Status Ingestor::FillEnds(GroupConsumer& consumer) {
  std::vector<TopicPartition> missing;
  for (const auto& [tp, pos] : positions_) {
    if (!pos.end) missing.push_back(tp);
  }
  if (missing.empty()) return Status::Ok();
  auto high = consumer.HighWatermarks(missing, std::chrono::milliseconds(10000));
  if (!high.ok()) return high.status();
  for (size_t i = 0; i < missing.size(); ++i) positions_[missing[i]].end = (*high)[i];
  return Status::Ok();
}

Result<std::optional<int64_t>> Ingestor::StoredOffset(const TopicPartition& tp) const {
  auto wait = std::chrono::milliseconds(100);
  for (int attempt = 1;; ++attempt, wait *= 2) {
    auto stored = store_.NextOffset(tp);
    if (stored.ok() || stored.status().error_class() != ErrorClass::kRetriable || attempt == 5) {
      if (stored.ok()) return stored;
      return Status::Fatal("cannot read the stored offset of " + tp.topic + "/" +
                           std::to_string(tp.partition) + ": " + stored.status().message());
    }
    std::this_thread::sleep_for(wait);
  }
}

Result<std::vector<int64_t>> Ingestor::RetryingWatermarks(
    GroupConsumer& consumer, const std::vector<TopicPartition>& partitions, bool high) const {
  // 200 ms doubling to 3.2 s, about 6 s in all: a partition whose leader moved answers "not
  // leader" until the client has the new leader, which took longer than 1.4 s (the three
  // tries before) under a loaded CI machine (BrokerFaults.IngestFollowsPartitionLeadersAsTheyMove).
  auto wait = std::chrono::milliseconds(200);
  for (int attempt = 1;; ++attempt, wait *= 2) {
    auto got = high ? consumer.HighWatermarks(partitions, std::chrono::milliseconds(10000))
                    : consumer.LowWatermarks(partitions, std::chrono::milliseconds(10000));
    if (got.ok() || attempt == 6) return got;
    spdlog::warn("{}; asking again in {} ms", got.status().message(), wait.count());
    std::this_thread::sleep_for(wait);
  }
}

void Ingestor::CheckGaps(const std::vector<TopicPartition>& partitions,
                         std::vector<int64_t>& offsets) {
  if (partitions.empty()) return;
  // Called inside the rebalance callback, before the assignment takes effect, so that an
  // accepted gap's new start is the offset the consumer is given.
  auto low = RetryingWatermarks(*consumer_, partitions, false);
  auto high = low.ok() ? RetryingWatermarks(*consumer_, partitions, true) : low;
  if (!low.ok() || !high.ok()) {
    failure_ = Status::Fatal("cannot check the assigned partitions for offset gaps: " +
                             (low.ok() ? high.status() : low.status()).message());
    return;
  }
  // A gap found before stays one until accepted, even when the watermarks no longer show it
  // (a recreated topic refilled past the store's offset would otherwise be read from there,
  // skipping its first messages).
  auto recorded = store_.Gaps();
  if (!recorded.ok()) {
    failure_ = recorded.status();
    return;
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    const OffsetGap* open = nullptr;
    for (const auto& gap : *recorded) {
      if (!gap.accepted && gap.partition == partitions[i]) open = &gap;
    }
    CheckGap(partitions[i], offsets[i], options_.accept_gaps.count(partitions[i]) > 0, (*low)[i],
             (*high)[i], open);
  }
}

void Ingestor::CheckGap(const TopicPartition& tp, int64_t& offset, bool accept, int64_t low,
                        int64_t high, const OffsetGap* open) {
  const int64_t next = offset;
  if (!open && next >= low && next <= high) return;
  OffsetGap gap = open ? *open : OffsetGap{tp, next, next < low ? low : high};
  if (!open) {
    gap.found_at =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  }
  if (accept) {
    gap.accepted = true;
    gap.accepted_at =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    if (Status s = store_.RecordGap(gap); !s.ok()) {
      failure_ = s;
      return;
    }
    spdlog::warn(
        "accepting an offset gap as told (--accept-gap {}:{}): {}; reading on from offset "
        "{}",
        tp.topic, tp.partition, gap.Describe(), low);
    offset = low;
    positions_[tp].next = low;
    return;
  }
  for (const auto& known : gaps_) {
    if (known.partition == tp) return;  // met again (out of range after assignment)
  }
  if (Status s = store_.RecordGap(gap); !s.ok()) spdlog::warn("{}", s.message());
  spdlog::error("{}", gap.Describe());
  gaps_.push_back(gap);
  std::string why, flags;
  for (const auto& g : gaps_) {
    why += (why.empty() ? "" : "; ") + g.Describe();
    flags += " --accept-gap " + g.partition.topic + ":" + std::to_string(g.partition.partition);
  }
  why +=
      ". Ingest stops here rather than lose them silently: publish them again if the source "
      "still has them, or go on past the gap with `careledger ingest" +
      flags + "` (ops/runbooks/offset-gap.md)";
  if (failure_.ok() || failure_.error_class() == ErrorClass::kGap) failure_ = Status::Gap(why);
}

void Ingestor::ReadPartitionCounts(const std::vector<TopicPartition>& partitions) {
  std::vector<std::string> topics;
  for (const auto& tp : partitions) {
    if (std::find(topics.begin(), topics.end(), tp.topic) == topics.end())
      topics.push_back(tp.topic);
  }
  auto wait = std::chrono::milliseconds(200);
  for (int attempt = 1;; ++attempt, wait *= 2) {
    auto counts = consumer_->PartitionCounts(topics, std::chrono::milliseconds(10000));
    if (counts.ok() && counts->size() == topics.size()) {
      for (const auto& [topic, n] : *counts) partition_counts_[topic] = n;
      return;
    }
    if (attempt == 4) {
      failure_ = Status::Fatal("cannot read the partition counts of the assigned topics: " +
                               (counts.ok() ? std::string("a topic is missing from the metadata")
                                            : counts.status().message()));
      return;
    }
    std::this_thread::sleep_for(wait);
  }
}

bool Ingestor::AtEnd() const {
  if (!ever_assigned_ || positions_.empty()) return false;
  for (const auto& [tp, pos] : positions_) {
    if (!pos.end || pos.next < *pos.end) return false;
  }
  return true;
}

Status Ingestor::Step(GroupConsumer& consumer, bool& done) {
  CARELEDGER_RETURN_IF_ERROR(ServeReplay());
  CARELEDGER_RETURN_IF_ERROR(consumer.Poll(options_.max_batch, options_.max_batch_wait, pending_));
  if (failure_.error_class() == ErrorClass::kGap) {
    // What was read before the gap is good: keep it, then stop.
    if (Status s = WriteBatch(); s.ok()) (void)FinishWrite();
  }
  CARELEDGER_RETURN_IF_ERROR(std::exchange(failure_, Status::Ok()));
  auto now = Clock::now();
  if (!pending_.empty()) last_message_ = now;
  if (pending_.empty() && in_flight_) {
    // Idle: make the last batch's counts visible now rather than with the next batch.
    CARELEDGER_RETURN_IF_ERROR(FinishWrite());
  }
  if (pending_.empty()) outbox_.Settle();  // idle: the last batch's dead letters are delivered
  if (pending_.empty() && ever_assigned_ && options_.monitor && !in_flight_) {
    bool at_head = true;
    for (const auto& [tp, pos] : positions_) {
      int64_t high = consumer.CachedHighWatermark(tp);
      at_head = at_head && high >= 0 && pos.next >= high;
    }
    if (at_head) options_.monitor->MarkCaughtUp();
  }
  CARELEDGER_RETURN_IF_ERROR(WriteBatch());
  if (options_.until_end) {
    CARELEDGER_RETURN_IF_ERROR(FillEnds(consumer));
    done = AtEnd();
  }
  if (!ever_assigned_) {
    last_message_ = now;  // idleness counts only once partitions are ours
    // A member of this group that died without leaving (kill -9, a lost host) holds its
    // partitions until its session times out: the group is settling, not failing. Say so once,
    // and give up only well after that.
    auto limit = std::max<std::chrono::milliseconds>(options_.assignment_timeout,
                                                     2 * session_timeout_ + kJoinAllowance);
    if (!told_waiting_ && now - started_ > std::chrono::seconds(5)) {
      told_waiting_ = true;
      spdlog::info(
          "waiting for partitions of group {}: a member that stopped without leaving (kill -9) "
          "holds them until its session times out (session.timeout.ms = {}); giving up after "
          "{} s",
          options_.group, session_timeout_.count(), limit.count() / 1000);
    }
    if (now - started_ > limit) {
      return Status::Fatal("no partitions assigned after " + std::to_string(limit.count() / 1000) +
                           " s: is the broker reachable and are the topics there?");
    }
  } else if (options_.until_idle && now - last_message_ >= *options_.until_idle) {
    done = true;
  }
  return Status::Ok();
}

Result<IngestStats> Ingestor::Run(const std::atomic<bool>& stop) {
  Settings settings = options_.kafka;
  settings["group.id"] = options_.group;
  if (!options_.instance_id.empty()) {
    if (auto given = settings.find("group.instance.id");
        given != settings.end() && given->second != options_.instance_id) {
      return Status::BadInput("two static instance ids: group.instance.id=" + given->second +
                              " in the Kafka settings and " + options_.instance_id +
                              " (--instance-id or ingest.instance_id): give one");
    }
    settings["group.instance.id"] = options_.instance_id;
  }
  if (auto id = settings.find("group.instance.id"); id != settings.end()) {
    spdlog::info(
        "static member {} of group {}: a restart with this id takes its partitions back at once "
        "(a broker that honours static membership; the embedded one does not), and a stop "
        "leaves them waiting up to session.timeout.ms for it",
        id->second, options_.group);
  }
  // librdkafka's 45 s default is how long a restarted ingest waits for the partitions its
  // killed predecessor held; 10 s keeps that short, within every broker's allowed range
  // (group.min.session.timeout.ms is 6 s by default), and a settings value wins.
  settings.try_emplace("session.timeout.ms", "10000");
  {
    const std::string& text = settings["session.timeout.ms"];
    int64_t ms = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (error != std::errc() || end != text.data() + text.size() || ms <= 0) {
      return Status::BadInput("session.timeout.ms: not a number of milliseconds: " + text);
    }
    session_timeout_ = std::chrono::milliseconds(ms);
  }
  (void)InjectedFault();  // read, and said, at start
  // Before consuming: what the last process stored and did not get onto the topic goes first.
  if (options_.publish_dead_letters) outbox_.Recover();
  std::vector<std::string> topics(std::begin(kSourceTopics), std::end(kSourceTopics));
  auto consumer = GroupConsumer::Open(settings, topics, this);
  if (!consumer.ok()) return consumer.status();
  // librdkafka's destroy waits for every message the application still holds: on any way
  // out, release the batch in hand before the consumer goes (this is destroyed first).
  consumer_ = consumer->get();
  struct ReleaseMessages {
    Ingestor& ingestor;
    ~ReleaseMessages() {
      ingestor.AbandonReplay("ingest stopped before the replay finished; run it again");
      ingestor.pending_.clear();
      if (ingestor.in_flight_) (void)ingestor.FinishWrite();
      ingestor.consumer_ = nullptr;
    }
  } release{*this};

  // Whatever an earlier ingest left of replays it served is stale now (requests still waiting
  // to be taken stay).
  if (!options_.replay_dir.empty()) {
    RemoveStaleReplayFiles(options_.replay_dir, std::chrono::minutes(0));
  }
  auto held = store_.HeldCorrections();
  if (!held.ok()) return held.status();
  stats_.corrections_held_now = held->size();
  for (auto& h : *held) held_[h.target_event_id].push_back(std::move(h));
  if (!held_.empty()) {
    spdlog::info("{} corrections are held (see `careledger corrections`)", held->size());
  }
  started_ = last_message_ = Clock::now();
  auto last_progress = started_;
  auto backoff = std::chrono::milliseconds(100);
  while (!stop.load()) {
    bool done = false;
    Status s = Step(**consumer, done);
    // Errors are decided here, by class, and nowhere else. Bad input never gets this far: it
    // is dead-lettered inside the batch. Retriable errors (a broker away, a busy store) are
    // waited out; the batch in hand is kept and written again. Anything fatal stops ingest
    // with nothing written, and no offset advanced, past the last good batch.
    if (s.error_class() == ErrorClass::kRetriable) {
      spdlog::warn("{}; retrying in {} ms", s.message(), backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    if (!s.ok()) return s;
    backoff = std::chrono::milliseconds(100);
    if (done) break;
    if (auto now = Clock::now(); now - last_progress > std::chrono::seconds(5)) {
      last_progress = now;
      spdlog::info("ingest: {} events stored, {} duplicates, {} dead letters", stats_.appended,
                   stats_.duplicates, stats_.dead_lettered);
    }
  }
  CARELEDGER_RETURN_IF_ERROR(WriteBatch());
  CARELEDGER_RETURN_IF_ERROR(FinishWrite());
  auto end = Clock::now();  // the work is done; leaving the group below is shutdown
  outbox_.Finish(std::chrono::seconds(10));
  consumer_ = nullptr;
  // Leave the group now, so a restart rejoins quickly (a static member does not leave: its
  // partitions wait for its restart).
  consumer->reset();
  stats_.seconds = std::chrono::duration<double>(end - started_).count();
  if (ever_assigned_) {
    stats_.seconds_assigned = std::chrono::duration<double>(end - first_assigned_).count();
  }
  return stats_;
}

}  // namespace

void AppendIngestMetrics(const IngestMonitor::Snapshot& snap, PrometheusText& x) {
  x.Family("careledger_events_ingested_total", "counter",
           "Events appended to the log by this process");
  for (const auto& [key, n] : snap.totals.appended_by_type) {
    x.Sample("careledger_events_ingested_total", {{"topic", key.first}, {"type", key.second}},
             double(n));
  }
  x.Family("careledger_dead_letters_total", "counter",
           "Messages this process set aside in the dead-letter store");
  for (RejectKind k : kRejectKinds) {
    const std::string kind(RejectKindName(k));
    auto it = snap.totals.dead_lettered_by_kind.find(kind);
    x.Sample("careledger_dead_letters_total", {{"kind", std::string(kind)}},
             it == snap.totals.dead_lettered_by_kind.end() ? 0 : double(it->second));
  }
  x.Family("careledger_consumer_lag_messages", "gauge",
           "High watermark minus the next offset the store will take");
  for (const auto& l : snap.lag) {
    x.Sample("careledger_consumer_lag_messages",
             {{"topic", l.partition.topic}, {"partition", std::to_string(l.partition.partition)}},
             double(l.lag()));
  }
  x.Family("careledger_batch_write_seconds", "histogram", "Time to write one batch");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < IngestMonitor::kWriteBuckets.size(); ++i) {
    cumulative += snap.write_buckets[i];
    x.Sample("careledger_batch_write_seconds_bucket",
             {{"le", PrometheusText::Number(IngestMonitor::kWriteBuckets[i])}}, double(cumulative));
  }
  cumulative += snap.write_buckets.back();
  x.Sample("careledger_batch_write_seconds_bucket", {{"le", "+Inf"}}, double(cumulative));
  x.Sample("careledger_batch_write_seconds_sum", {}, snap.write_seconds_sum);
  x.Sample("careledger_batch_write_seconds_count", {}, double(cumulative));
  x.Family("careledger_replay_events_total", "counter",
           "Log records gone through by replays this process served");
  x.Sample("careledger_replay_events_total", {}, double(snap.replay_records));
  x.Family("careledger_replay_in_progress", "gauge", "1 while a replay is being served");
  x.Sample("careledger_replay_in_progress", {}, snap.replaying ? 1 : 0);
  x.Family("careledger_replays_total", "counter", "Replays served, by how they ended");
  x.Sample("careledger_replays_total", {{"result", "ok"}}, double(snap.replays_ok));
  x.Sample("careledger_replays_total", {{"result", "failed"}}, double(snap.replays_failed));
}

IngestMonitor::Snapshot IngestMonitor::Read() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void IngestMonitor::Record(const IngestStats& totals, std::vector<PartitionLag> lag,
                           uint64_t batch_size, double write_seconds) {
  std::lock_guard lock(mu_);
  snapshot_.totals = totals;
  snapshot_.lag = std::move(lag);
  snapshot_.last_batch_size = batch_size;
  size_t bucket = 0;
  while (bucket < kWriteBuckets.size() && write_seconds > kWriteBuckets[bucket]) ++bucket;
  ++snapshot_.write_buckets[bucket];
  snapshot_.write_seconds_sum += write_seconds;
}

void IngestMonitor::MarkCaughtUp() {
  std::lock_guard lock(mu_);
  snapshot_.caught_up = true;
}

void IngestMonitor::ReplayStarted() {
  std::lock_guard lock(mu_);
  snapshot_.replaying = true;
}

void IngestMonitor::ReplayFolded(uint64_t records) {
  std::lock_guard lock(mu_);
  snapshot_.replay_records += records;
}

void IngestMonitor::ReplayEnded(bool ok) {
  std::lock_guard lock(mu_);
  snapshot_.replaying = false;
  ++(ok ? snapshot_.replays_ok : snapshot_.replays_failed);
}

Result<IngestStats> RunIngest(EventStore& store, const IngestOptions& options,
                              const std::atomic<bool>& stop) {
  Ingestor ingestor(store, options);
  return ingestor.Run(stop);
}

Result<std::string> StaticInstanceId(std::string_view requested, const std::string& data_dir) {
  auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  if (requested != "auto") {
    if (requested.empty() || requested.size() > 249 ||
        !std::all_of(requested.begin(), requested.end(), allowed)) {
      return Status::BadInput("instance id \"" + std::string(requested) +
                              "\": expected auto, or 1 to 249 of A-Z a-z 0-9 . _ -");
    }
    return std::string(requested);
  }
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) {
    return Status::Fatal(std::string("instance id auto: gethostname: ") + std::strerror(errno));
  }
  std::string name;
  for (const char* c = host.data(); *c != '\0' && name.size() < 64; ++c) {
    name += allowed(*c) ? *c : '_';
  }
  std::error_code ec;
  auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(data_dir, ec), ec);
  if (ec) return Status::Fatal("instance id auto: " + data_dir + ": " + ec.message());
  // FNV-1a: stable across builds and platforms, unlike std::hash; nothing secret rides on it.
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : path.string()) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "careledger-" + name + "-" + hex;
}

Status PostReplayRequest(const std::string& dir, const ReplayRequest& request) {
  if (!ValidId(request.id)) return Status::BadInput("replay request id is malformed");
  std::string known =
      request.known_at ? std::to_string(request.known_at->time_since_epoch().count()) : "-";
  return WriteWhole(RequestPath(dir, request.id), request.id + " " + known + "\n");
}

bool ReplayRequestPending(const std::string& dir, const std::string& id) {
  std::error_code ec;
  return std::filesystem::exists(RequestPath(dir, id), ec);
}

bool WithdrawReplayRequest(const std::string& dir, const std::string& id) {
  std::error_code ec;
  return std::filesystem::remove(RequestPath(dir, id), ec);
}

Result<std::optional<ChainHash>> PollReplay(const std::string& dir, const std::string& id,
                                            ReplayProgress& progress) {
  auto result = ReadWhole(ResultPath(dir, id));
  if (!result) {
    int64_t server = 0;
    if (auto p = ReadWhole(ProgressPath(dir, id))) {
      std::istringstream in(*p);
      ReplayProgress read;
      if (in >> read.folded >> read.total) progress = read;
      if (!(in >> server)) server = 0;
    }
    // The request was taken by an ingest that has gone (killed, or stopped by its service
    // manager): no result will come. Looked at again once, since it may have written the
    // result just before it stopped.
    if (server > 0 && ::kill(pid_t(server), 0) != 0 && errno == ESRCH) {
      result = ReadWhole(ResultPath(dir, id));
      if (!result) {
        std::error_code ec;
        std::filesystem::remove(ProgressPath(dir, id), ec);
        return Status::Fatal("the ingest serving replay " + id + " (pid " + std::to_string(server) +
                             ") stopped before the replay finished; nothing was swapped in: run "
                             "`careledger replay` again");
      }
    } else {
      return std::optional<ChainHash>();
    }
  }
  std::error_code ec;
  std::filesystem::remove(ResultPath(dir, id), ec);
  std::filesystem::remove(ProgressPath(dir, id), ec);
  std::string_view r = *result;
  while (!r.empty() && (r.back() == '\n' || r.back() == '\r')) r.remove_suffix(1);
  if (r.starts_with("error "))
    return Status::Fatal("replay in ingest: " + std::string(r.substr(6)));
  if (!r.starts_with("ok ") || r.size() != 3 + 64) {
    return Status::Fatal("replay result " + ResultPath(dir, id) + " is malformed");
  }
  ChainHash hash{};
  for (size_t i = 0; i < hash.size(); ++i) {
    auto hex = r.substr(3 + 2 * i, 2);
    if (std::from_chars(hex.data(), hex.data() + 2, hash[i], 16).ec != std::errc()) {
      return Status::Fatal("replay result " + ResultPath(dir, id) + " is malformed");
    }
  }
  return std::optional<ChainHash>(hash);
}

}  // namespace careledger
