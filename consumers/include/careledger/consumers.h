// careledger/consumers.h — the ingest loop: consume the source topics as group
// "careledger-ingest", validate every message again, drop exact duplicates by event_id, and
// write ONE store batch per polled batch holding the events, their dedup keys, the projection
// deltas and the next offsets. Offsets come from the store on every assignment.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"
#include "careledger/store.h"

namespace careledger {

class IngestMonitor;

struct IngestOptions {
  Settings kafka;  // bootstrap.servers and anything else, passed to librdkafka unchanged
  std::string group = "careledger-ingest";
  // Static group membership (Kafka's group.instance.id, KIP-345); empty: a dynamic member.
  // A static member's partitions wait for it across a restart, so an ingest restarted after
  // kill -9 takes them back at once instead of waiting out its predecessor's session. What it
  // costs: a static member does not leave the group when it stops, so its partitions wait
  // session.timeout.ms after a clean stop too, for a restart or, failing one, a rebalance. A
  // real broker (2.3 or later) honours it; librdkafka's mock cluster, the embedded broker,
  // takes the id and ignores it (measured in bench/README.md). See StaticInstanceId.
  std::string instance_id;
  // Stop once no message has arrived for this long while partitions are assigned.
  std::optional<std::chrono::milliseconds> until_idle;
  // Stop once every assigned partition is read up to the high watermark seen when it was
  // assigned: the batch mode for audits, backfills and tests.
  bool until_end = false;
  // A batch is what has arrived, up to max_batch; when nothing has, ingest waits up to
  // max_batch_wait for the first message. Under a backlog batches grow to max_batch and
  // amortise the fsync; a lone event is written at once.
  size_t max_batch = 5000;
  std::chrono::milliseconds max_batch_wait{100};
  // Give up when the group has not assigned any partition for this long (or, if longer, twice
  // the session timeout and 30 s: a killed predecessor holds its partitions that long).
  std::chrono::milliseconds assignment_timeout{60000};
  IngestMonitor* monitor = nullptr;  // optional: lag, batch sizes, write latency
  // Also publish each dead letter, once it is durable in the store, to
  // careledger.deadletter.v1 (headers: error, error_detail, source_topic, source_partition,
  // source_offset). The store is the record; the topic tells other systems. Through an outbox:
  // each is stored marked unpublished and the mark cleared after its delivery report; a start
  // sends what a previous process left marked, skipping what the topic already holds by key,
  // so each reaches the topic once even across kill -9. Off: none is marked, none published.
  bool publish_dead_letters = true;
  // The store's directory, watched between batches for a `careledger replay` request (see
  // PostReplayRequest); empty: replays are not served.
  std::string replay_dir;
  // Partitions whose offset gap (see OffsetGap) an operator has decided to go on past: ingest
  // records the gap as accepted and reads on from the broker's low watermark. Every other
  // gap stops ingest with ErrorClass::kGap.
  std::set<TopicPartition> accept_gaps;
  // Announce this instance on careledger.instances.v1 under this id (below); empty: do not.
  std::string announce_as;
  std::string advertised;  // where its HTTP API answers (run), or empty (ingest alone)
};

// The group.instance.id for `requested`: "auto" derives one from this host's name and the
// store's absolute path (careledger-<host>-<16 hex digits>): the same after every restart of
// the ingest of this store on this host, different for every other store, which the store's
// lock keeps to one process. Anything else is taken as it is, if Kafka allows it (1 to 249 of
// A-Z a-z 0-9 . _ -). Two members with one id fence each other: never share one.
Result<std::string> StaticInstanceId(std::string_view requested, const std::string& data_dir);

// ---- the instances of a group --------------------------------------------------------------
// Each ingest (and run) tells the others who it is, where its HTTP API answers and which
// partitions it answers for, on a compacted topic keyed by instance: at each assignment, when it
// has first read them to the end, every InstanceRecord::kEvery while it runs, and with no
// partitions when it stops. A record older than kStaleAfter is of an instance that died without
// saying so (kill -9, a lost host).
inline constexpr std::string_view kTopicInstances = "careledger.instances.v1";
struct InstanceRecord {
  static constexpr std::chrono::seconds kEvery{10}, kStaleAfter{45};
  std::string instance = {}, group = {}, advertised = {};
  bool running = false;
  std::vector<int32_t> partitions = {};  // sorted: partition p of every source topic
  // Of those, the ones it has not yet read to the end since it was given them (all of them
  // until it first reaches the end): its store holds less of them than the topics do.
  std::vector<int32_t> reading = {};
  int32_t of = 0;  // how many partitions the source topics have (the most of any; 0: not said)
  Instant at{};    // when it was said
  bool operator==(const InstanceRecord&) const = default;
};
std::string EncodeInstanceRecord(const InstanceRecord& record);  // one JSON object
Result<InstanceRecord> DecodeInstanceRecord(std::string_view json);
// One message of the instances topic taken into `latest` (by instance id: a later record
// replaces an earlier one); one that does not decode is skipped, with a warning naming its key.
void KeepLatestInstance(std::string_view key, std::string_view value,
                        std::map<std::string, InstanceRecord>& latest);
// The latest record of each instance on the topic, read to its end (none: the topic is empty
// or absent), by instance id. Records that do not decode are skipped, with a warning.
Result<std::vector<InstanceRecord>> ReadInstances(const Settings& kafka,
                                                  std::chrono::milliseconds timeout);

// ---- careledger replay beside a running ingest ----------------------------------------------
// RocksDB lets one process write a store, and a running ingest holds it. `careledger replay`
// then asks that ingest, through files in the store's directory, to rebuild the projection
// state: it folds the log into a new family in a background thread while it goes on ingesting,
// catches up with the batches written meanwhile, and swaps between two batches (so no event is
// lost or counted twice). An audit request (known_at) is folded and hashed, never swapped in.
struct ReplayRequest {
  std::string id;                   // names its progress and result files
  std::optional<Instant> known_at;  // only the records ingested by then; never swapped in
};
struct ReplayProgress {
  uint64_t folded = 0;  // log records folded so far
  uint64_t total = 0;   // the log's length when last looked at
};
Status PostReplayRequest(const std::string& dir, const ReplayRequest& request);
// True while a posted request has not been taken by an ingest. A running ingest takes every
// request within a fraction of a second and serves them one after the other.
bool ReplayRequestPending(const std::string& dir, const std::string& id);
// Takes back a request no ingest took (true when it was still there).
bool WithdrawReplayRequest(const std::string& dir, const std::string& id);
// nullopt while the replay runs (with `progress` filled in when known); the state hash once
// done, or why it failed. The result's files are removed once read.
Result<std::optional<ChainHash>> PollReplay(const std::string& dir, const std::string& id,
                                            ReplayProgress& progress);

struct IngestStats {
  uint64_t consumed = 0;       // messages read from Kafka (excluding ones already stored)
  uint64_t appended = 0;       // events added to the log
  uint64_t duplicates = 0;     // same event_id, same bytes: stored once
  uint64_t dead_lettered = 0;  // rejected, with the reason, into the dead-letter store
  uint64_t batches = 0;
  // Corrections and retractions whose target did not apply (EventStore::HeldCorrections):
  // held by this run, released by this run (their target came, or was fixed in its own
  // child), and held in all when the run ended.
  uint64_t corrections_held = 0, corrections_released = 0, corrections_held_now = 0;
  double seconds = 0;                  // the whole run, including joining the group
  double seconds_assigned = 0;         // since partitions were first assigned: the rate's basis
  std::vector<uint32_t> write_micros;  // each batch's store write (fsync included)
  // `appended` by (topic, event type name) and `dead_lettered` by RejectKindName: the labels
  // of the Prometheus counters, fixed sets.
  std::map<std::pair<std::string, std::string>, uint64_t> appended_by_type;
  std::map<std::string, uint64_t> dead_lettered_by_kind;
};

// What a metrics endpoint reads while ingest runs (thread-safe; updated once per batch).
struct PartitionLag {
  TopicPartition partition;
  int64_t stored_offset = 0;   // next offset the store will take
  int64_t high_watermark = 0;  // as last seen from the broker (-1 when not known yet)
  int64_t lag() const { return high_watermark < 0 ? 0 : high_watermark - stored_offset; }
};
class IngestMonitor {
 public:
  // Upper bounds (seconds) of the batch-write latency histogram, Prometheus style.
  static constexpr std::array<double, 10> kWriteBuckets = {0.001, 0.002, 0.005, 0.01, 0.025,
                                                           0.05,  0.1,   0.25,  0.5,  1.0};
  struct Snapshot {
    IngestStats totals;  // write_micros left empty
    std::vector<PartitionLag> lag;
    uint64_t last_batch_size = 0;
    // Batches per latency bucket (not cumulative); the last counts those above 1 s.
    std::array<uint64_t, kWriteBuckets.size() + 1> write_buckets{};
    double write_seconds_sum = 0;
    // A poll has come back empty since partitions were assigned: ingest has read what the
    // broker held (readiness for `careledger run`).
    bool caught_up = false;
    // Partitions assigned that the store did not hold before (new to it, or taken back after
    // another instance held them), until ingest has read to the end of every partition: what
    // the store holds of them may still be short.
    std::vector<int32_t> catching_up;
    // Replays this ingest served (`careledger replay` beside it).
    uint64_t replay_records = 0;  // log records replays have gone through, all together
    uint64_t replays_ok = 0, replays_failed = 0;
    bool replaying = false;
  };
  Snapshot Read() const;
  void Record(const IngestStats& totals, std::vector<PartitionLag> lag, uint64_t batch_size,
              double write_seconds);
  void MarkCaughtUp();  // also clears catching_up
  void CatchingUp(const std::vector<int32_t>& partitions);
  void ReplayStarted();
  void ReplayFolded(uint64_t records);  // records folded since the last call
  void ReplayEnded(bool ok);

 private:
  mutable std::mutex mu_;
  Snapshot snapshot_;
};

// The pipeline's own metric families (events ingested, dead letters by kind, lag, batch
// write latency, replays served), the same wherever ingest runs (ops/prometheus/README.md).
void AppendIngestMetrics(const IngestMonitor::Snapshot& snapshot, PrometheusText& out);

// Runs until `stop` becomes true, or the until_* condition holds. Fatal store or broker errors
// end it with nothing written past the last good batch.
Result<IngestStats> RunIngest(EventStore& store, const IngestOptions& options,
                              const std::atomic<bool>& stop);

}  // namespace careledger
