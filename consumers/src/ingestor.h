// The ingest loop's class, split by concept over consumers/src/ingest*.cc as RocksDB splits
// DBImpl: the loop and the batch hand-off (ingest.cc), assignment and offsets
// (ingest_offsets.cc), held corrections (ingest_corrections.cc) and serving a replay
// (ingest_replay.cc). The batch rule itself is batch_builder.h. A private header of consumers/.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "batch_builder.h"
#include "careledger/consumers.h"
#include "careledger/events.h"
#include "careledger/kafka.h"
#include "careledger/projections.h"
#include "dead_letter_outbox.h"
#include "instance_announcer.h"
#include "replay_files.h"

namespace careledger::ingest {

using Clock = std::chrono::steady_clock;
inline constexpr int64_t kOffsetBeginning = -2;  // RD_KAFKA_OFFSET_BEGINNING
using replay_files::kRequestSuffix;
using replay_files::ProgressLine;
using replay_files::ProgressPath;
using replay_files::RemoveStaleReplayFiles;
using replay_files::RequestPath;
using replay_files::ResultPath;
using replay_files::TakeReplayRequest;
using replay_files::WriteWhole;

// "careledger.police.v1[0,1] careledger.socialcare.v1[0,1] ..." for the log.
std::string Describe(const std::vector<TopicPartition>& partitions);

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
  EventStore::Batch::Tail tail;         // the next batch continues from here
  std::unordered_set<std::string> ids;  // its event ids, for dedup
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

  std::vector<int64_t> OnAssign(const std::vector<TopicPartition>& partitions) override;

  void OnOutOfRange(const TopicPartition& tp, int64_t offset) override;

  void OnRevoke(const std::vector<TopicPartition>& partitions) override;

 private:
  // The consumer's settings: the group, a static instance id, and a session timeout (kept in
  // session_timeout_), checked.
  Result<Settings> GroupSettings();
  // Steps until `stop`, done or a fatal error: the one place errors are decided by class.
  Status Consume(GroupConsumer& consumer, const std::atomic<bool>& stop);
  Status Step(GroupConsumer& consumer, bool& done);  // one poll, write and end check
  // Builds a batch from the messages in hand and hands it to a writer thread, after waiting
  // for the batch before it: so batch N+1 is polled, parsed and projected while N is being
  // written and synced. One batch at most is in flight, and batches are written in order.
  Status WriteBatch();
  // What the batch in hand is built against: the partitions held, their next offsets, and the
  // batch in flight (its event ids, and a wait until it is durable).
  BatchContext InHandContext() const;
  // Counts the batch in hand and hands it to a writer thread: it becomes the batch in flight.
  void HandOn(EventStore::Batch&& batch, BuiltBatch& built);
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
  // Queues the requests left in the replay directory (looked at every 200 ms at most).
  void TakeReplayRequests();
  // Begins folding the next queued request in a background thread, if there is one.
  void StartNextReplay();
  // Once the background fold is done: catches up, swaps in (or hashes) and tells the result.
  Status FinishReplay();
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
  // The held corrections the store kept, into held_ (at start).
  Status LoadHeldCorrections();
  // A correction or retraction accepted in the batch, and the event id it acts on.
  struct BatchCorrection {
    const AcceptedEvent* event = nullptr;
    std::string_view target = {};
    bool retraction = false;
  };
  // Releases (or marks never to apply) the held corrections whose targets `accepted` brings.
  void ReleaseArrivedTargets(const std::vector<AcceptedEvent>& accepted, EventStore::Batch& batch,
                             HeldChanges& changes);
  // `c` applies to its own child's target: held corrections of that target from other children
  // are released.
  void ReleaseOvertaken(const BatchCorrection& c, EventStore::Batch& batch, HeldChanges& changes);
  // Holds `c`, whose target is not stored yet or (`other_child`) is another child's.
  void HoldUnapplied(const BatchCorrection& c, bool other_child, EventStore::Batch& batch,
                     HeldChanges& changes);
  // Held corrections by target event id: loaded at start, kept in step with the store.
  std::unordered_map<std::string, std::vector<HeldCorrection>> held_;
  // Dead-letters a message into the batch in hand (and, once written, the topic).
  void Reject(EventStore::Batch& batch, const RawMessage& m, RejectKind kind, std::string reason);
  std::vector<DeadLetter> rejected_;  // in the batch being built
  DeadLetterOutbox outbox_;
  std::unique_ptr<InstanceAnnouncer> announcer_;  // when options_.announce_as
  std::vector<OffsetGap> gaps_;                   // met in this run, not accepted: ingest stops
  std::map<std::string, int32_t, std::less<>> partition_counts_;  // by topic, at assignment
  struct {
    uint64_t consumed = 0, duplicates = 0, dead_lettered = 0;
    std::map<std::string, uint64_t> dead_by_kind;
  } batch_counts_;  // likewise
  std::optional<InFlight> in_flight_;
  Status failure_;        // from a rebalance callback, returned by the next Step
  Status store_failure_;  // a fatal write: sticky
  bool ever_assigned_ = false;
  // Assigned partitions not yet read to the end since they were given to this store, and
  // whether it has ever read to the end (until then, all of them).
  std::set<int32_t> reading_;
  bool read_to_end_ = false;
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

}  // namespace careledger::ingest
