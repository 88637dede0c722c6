// careledger/store.h — the RocksDB event store. Everything that must be true together (events,
// their dedup keys, the per-child index, projection deltas, consumed offsets) is written in one
// Batch, so a crash at any point neither loses nor repeats an event.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"

namespace careledger {

struct StoreOptions {
  std::string path = "careledger-data";  // created with mode 0700 when missing
  // Reporting opens read-only beside a running ingest (no lock is taken).
  bool read_only = false;
  // Set (a scratch directory of the reader's own) to follow a store another process is
  // writing: a RocksDB secondary instance, brought up to date by EventStore::CatchUp. Implies
  // read_only. The directory only holds the secondary's own bookkeeping and may be discarded.
  std::string secondary_path = {};
  // fsync the WAL on every batch: offsets live in the batch, so a batch that could vanish
  // after a power cut would mean events the broker no longer re-delivers. Bigger batches
  // amortise the sync (measured: ~400k records/s with sync at 1,000 per batch).
  bool sync = true;
  // Block cache for the projection and index reads done while ingesting.
  size_t block_cache_bytes = size_t{64} << 20;
  // Memtable per column family before a flush to disk. Bigger means fewer, larger flushes
  // competing with ingest for the CPU; the WAL keeps it durable either way.
  size_t write_buffer_bytes = size_t{64} << 20;
  // The WAL a store keeps before it flushes the families holding its oldest file: what a
  // reader opened beside a running ingest replays at most (about 1 s per 128 MiB).
  uint64_t max_wal_bytes = uint64_t{128} << 20;
  // LZ4 on SST files, zstd with a trained dictionary on the last level (most of the bytes):
  // reads decompress one block at a time. Measured on a 200 k-event store once compacted:
  // 444 bytes an event with LZ4 throughout, 327 with zstd last, 277 with its dictionary.
  bool compress = true;
  // Flushes and compactions run beside ingest; the machines we size for have two cores.
  int background_threads = 2;
  int max_open_files = 512;
  // What stamps each batch as ingested (whole seconds are kept); the system clock when empty.
  // Tests set it to place batches in the seconds they need.
  std::function<Instant()> clock = {};
};

// Offsets [from, to) of a partition that the store never held and the broker no longer has
// (retention passed them), or, when `to` < `from`, a partition whose log ends at `to` below
// the store's next offset `from` (the topic was recreated or the brokers are another cluster).
struct OffsetGap {
  TopicPartition partition;
  int64_t from = 0, to = 0;
  bool accepted = false;  // an operator let ingest go on past it (--accept-gap)
  Instant found_at{};     // when it was first met
  Instant accepted_at{};
  // "offsets 10..20 of careledger.police.v1/0 (10 messages) were removed by retention ..."
  std::string Describe() const;
};

// A correction (supersedes) or retraction whose target does not apply: the store does not
// hold the target yet, or holds it for another child. The correcting event is in the log
// like any other (the fold applies it once its target is in the same child's timeline); it is
// held here so that one that has no effect is seen, listed and counted, never silent. Ingest
// releases it when the target arrives for the same child.
struct HeldCorrection {
  std::string event_id;         // the correcting event
  std::string target_event_id;  // the event it supersedes or retracts
  std::string child_id;         // the correcting event's child
  bool retraction = false;      // event.retracted; otherwise a supersedes
  // The target is stored, for another child: the fold never applies the correction (a child's
  // corrections act on that child's timeline only), so it stays held for good.
  bool other_child = false;
  TopicPartition from;  // where the correcting event was consumed
  int64_t offset = 0;
  Instant held_at{};  // when ingest first held it (whole seconds)
};

using ChainHash = std::array<uint8_t, 32>;  // SHA-256
std::string ToHex(const ChainHash& h);

struct LogRecord {
  uint64_t sequence = 0;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  Instant ingested_at;
  ChainHash chain{};    // SHA-256 over the previous record's chain and this record
  std::string payload;  // the original bytes, exactly as consumed
};

struct VerifyReport {
  uint64_t records = 0;
  ChainHash head{};  // the chain hash of the last record: a fingerprint of the whole log
  uint64_t dead_letters = 0;
};

// A message that could not be accepted, kept with the reason and its original bytes.
struct DeadLetter {
  TopicPartition from;
  int64_t offset = 0;
  RejectKind kind = RejectKind::kOther;
  std::string reason;   // names the field or check and the rule, never a value
  std::string payload;  // exactly as consumed
  // "topic/partition@offset": how operators name one (`careledger deadletter show ID`).
  std::string Id() const;
};

// The inverse of DeadLetter::Id.
Result<std::pair<TopicPartition, int64_t>> ParseDeadLetterId(std::string_view id);

struct StoredEventId {
  uint64_t sequence = 0;
  // FNV-1a of the payload: equal ones are only candidates for a re-send (a 64-bit hash can be
  // made to collide); ingest confirms them against the stored bytes.
  uint64_t fingerprint = 0;
};

// State entries gathered in memory in any order, for a rebuild to write as sorted table files
// (EventStore::WriteStateFiles) and ingest whole (EventStore::IngestStateFiles): no memtable, no
// WAL, and no compaction when the files ingested together do not overlap. Keys and values sit
// in one arena: a run holds hundreds of thousands of entries, and a string each was most of it.
class StateRun {
 public:
  void Put(std::string_view key, std::string_view value) { Add(key, value, false); }
  // Merged with what the cell holds, as Batch's are.
  void AddToCounter(std::string_view key, int64_t delta);
  void AddToCounters(std::string_view key, std::string_view counts) { Add(key, counts, true); }
  // In key order; of two entries with one key, the one added later stays later.
  void Sort();
  void Clear();
  size_t size() const { return entries_.size(); }
  // Room for `bytes` of keys and values (and an index entry for every 64 of them) made once,
  // rather than by doubling: an arena copied as it grows held twice its size at the copy. Pages
  // not written are never resident.
  void Reserve(size_t bytes);
  // What the run holds (its keys and values, and their index).
  size_t bytes() const { return arena_.size() + entries_.size() * sizeof(Entry); }
  std::string_view key(size_t i) const { return {arena_.data() + entries_[i].at, entries_[i].key}; }
  std::string_view value(size_t i) const {
    return {arena_.data() + entries_[i].at + entries_[i].key, entries_[i].value};
  }
  bool merges(size_t i) const { return entries_[i].merge; }
  // Once sorted: the first entry whose key is not below `key`.
  size_t LowerBound(std::string_view key) const;

 private:
  struct Entry {
    uint64_t at = 0;  // the key, then the value, in arena_
    uint32_t key = 0, value = 0;
    bool merge = false;
  };
  void Add(std::string_view key, std::string_view value, bool merge);
  std::string arena_;
  std::vector<Entry> entries_;
};

// A sorted StateRun written out to a file of its own (a rebuild's run that did not fit in
// memory), to be read back in key order and then removed, with the object. Not a table file:
// nothing compresses it only to decompress it again, and each entry keeps whether it merges.
class SpilledRun {
 public:
  // Every kSampleEvery-th key is kept in memory with its place in the file: where a range read
  // starts, and where a rebuild cuts its files.
  static constexpr size_t kSampleEvery = 256;
  [[nodiscard]] static Result<std::unique_ptr<SpilledRun>> Write(const StateRun& run,
                                                                 std::string path);
  ~SpilledRun();
  SpilledRun(const SpilledRun&) = delete;
  SpilledRun& operator=(const SpilledRun&) = delete;
  size_t size() const { return entries_; }
  const std::string& path() const { return path_; }
  const std::vector<std::pair<std::string, uint64_t>>& samples() const { return samples_; }

 private:
  SpilledRun() = default;
  std::string path_;
  size_t entries_ = 0;
  std::vector<std::pair<std::string, uint64_t>> samples_;  // key, offset
};

// One sorted run of a rebuild's state, in memory or spilled.
struct RunSource {
  const StateRun* memory = nullptr;
  const SpilledRun* spilled = nullptr;
};
std::vector<RunSource> InMemory(std::initializer_list<const StateRun*> runs);
// Every key the runs hold in [begin, end) (an empty end: no bound) once, in key order, with
// its entries combined as a batch applies them in the runs' order (a merge onto what came
// before, a put replacing it); `visit` returning false stops.
[[nodiscard]] Status MergeRuns(
    const std::vector<RunSource>& runs, std::string_view begin, std::string_view end,
    const std::function<bool(std::string_view key, std::string_view value, bool merges)>& visit);
// Keys cutting the runs' entries into `parts` ranges of about equal numbers of entries (fewer
// when there are too few); ascending, none empty.
std::vector<std::string> CutRuns(const std::vector<RunSource>& runs, size_t parts);

class EventStore {
 public:
  class Batch {
   public:
    Batch();
    ~Batch();
    Batch(Batch&&) noexcept;
    // Appends an accepted event to the log, its id to the dedup index and the child timeline.
    // The payload's Fingerprint may be passed when the caller has it already.
    uint64_t Append(std::string_view event_id, std::string_view child_id, Date occurred,
                    const TopicPartition& from, int64_t offset, std::string_view payload,
                    std::optional<uint64_t> payload_fingerprint = std::nullopt);
    void SetNextOffset(const TopicPartition& tp, int64_t next_offset);
    // `to_publish`: also marks it unpublished in this batch, for the dead-letter outbox (see
    // ScanUnpublishedDeadLetters): the mark is durable exactly when the dead letter is.
    void PutDeadLetter(const TopicPartition& from, int64_t offset, RejectKind kind,
                       std::string_view reason, std::string_view payload, bool to_publish = true);
    // Holds a correction whose target does not apply (replacing the record of the same two
    // ids), or releases one whose target has arrived.
    void HoldCorrection(const HeldCorrection& held);
    void ReleaseCorrection(std::string_view target_event_id, std::string_view event_id);
    void PutState(std::string_view key, std::string_view value);
    void DeleteState(std::string_view key);
    // A counter by merge (a rebuild, which writes each cell once, and ingest for a cell it has
    // not changed lately) or by its whole value (ingest, for a cell it holds: unflushed
    // operands pile up, and every read of the cell merges them all; zero removes it).
    void AddToCounter(std::string_view key, int64_t delta);
    void SetCounter(std::string_view key, int64_t value);
    // Named counts in one cell, added by merge name by name: `counts` as EncodeNamedCounts
    // gives them. One entry where a plain counter a name would be one each (a day's counter
    // changes in a partition).
    void AddToCounters(std::string_view key, std::string_view counts);
    size_t appended() const { return appended_; }
    // The one clock reading stamped on every record of the batch.
    Instant ingested_at() const;

    // Where this batch leaves the log. A batch begun from it (NewBatchAfter) can be built
    // while this one is being written, and must be written after it.
    struct Tail {
      uint64_t next_sequence = 0;
      ChainHash head{};
    };
    Tail tail() const { return {next_sequence_, head_}; }

   private:
    friend class EventStore;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    uint64_t first_sequence_ = 0;  // the store's sequence when the batch was begun
    uint64_t next_sequence_ = 0;
    ChainHash head_{};
    size_t appended_ = 0;
    bool written_ = false;
    bool state_only_ = false;  // from NewStateBatch: no log, no sequence check
  };

  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options);
  ~EventStore();
  const std::string& path() const;  // the directory it was opened from

  // `stamp`: what every record of the batch carries as the time it was ingested, in place of
  // the store's clock (a fixture's history told as it was ingested, batch by batch).
  Batch NewBatch(std::optional<Instant> stamp = std::nullopt) const;
  // A batch that continues one not yet written (see Batch::tail).
  Batch NewBatchAfter(const Batch::Tail& tail, std::optional<Instant> stamp = std::nullopt) const;
  // Writes the batch atomically (durably when options.sync). Fatal on failure: the caller
  // must not advance past what it holds.
  Status Write(Batch& batch);
  // Compacts every family down to its last level, as RocksDB would in time: what a store
  // settles to on disk (bench/ measures bytes per event after it).
  [[nodiscard]] Status CompactAll();

  Result<std::optional<int64_t>> NextOffset(const TopicPartition& tp) const;
  // The partitions this store answers for: its consumer's latest assignment (replaced whole
  // on every assignment; kept across restarts). Empty when it was never assigned any.
  Status SetAssignment(const std::vector<TopicPartition>& assignment);
  Result<std::vector<TopicPartition>> Assignment() const;
  // Offset gaps ingest met: kept for good, so `verify`, /metrics and an audit see every range
  // the store never held (open ones stop ingest; accepted ones say who decided and when).
  Status RecordGap(const OffsetGap& gap);
  Result<std::vector<OffsetGap>> Gaps() const;
  // Every held correction, by target event id. Few in a healthy feed: each is a source's
  // correction that has not (yet) taken effect.
  Result<std::vector<HeldCorrection>> HeldCorrections() const;
  // Reference tables (published comparators, `careledger reference import`): named texts kept
  // in meta, each replaced whole. Not projection state: a replay keeps them, a backup holds
  // them. In name order.
  Status PutReference(std::string_view name, std::string_view content);
  Result<std::vector<std::pair<std::string, std::string>>> References() const;
  Status FindEventIds(const std::vector<std::string_view>& ids,
                      std::vector<std::optional<StoredEventId>>& out) const;
  // The projection state reads take a state family (see below); empty means the live one.
  Result<std::optional<std::string>> GetState(std::string_view key,
                                              std::string_view family = {}) const;
  // The counters under `keys` (sorted, as from a std::map), 0 where there is none, in one
  // batched read.
  Status ReadCounters(const std::vector<std::string_view>& keys, std::vector<int64_t>& out,
                      std::string_view family = {}) const;
  // Visits keys with the prefix in order until `visit` returns false. A prefix that is a tag,
  // a zero byte and one key part (codec::PutKeyPart), such as one child's facts, is first
  // looked up in each file's prefix filter: files without it are not read.
  Status ScanState(std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& visit,
                   std::string_view family = {}) const;
  // Visits keys in [begin, end) in order until `visit` returns false: a range read touches
  // only the keys of its answer.
  Status ScanStateRange(std::string_view begin, std::string_view end,
                        const std::function<bool(std::string_view, std::string_view)>& visit,
                        std::string_view family = {}) const;
  // Log records from sequence `from` on, in order, until `visit` returns false.
  Status ScanLog(const std::function<bool(const LogRecord&)>& visit, uint64_t from = 0) const;
  // The original bytes of the record at `sequence`; Fatal when the log has no such record.
  Status ReadPayload(uint64_t sequence, std::string& payload) const;
  // Dead letters in (topic, partition, offset) order until `visit` returns false.
  Status ScanDeadLetters(const std::function<bool(const DeadLetter&)>& visit) const;
  Result<std::optional<DeadLetter>> GetDeadLetter(const TopicPartition& from, int64_t offset) const;
  // The dead-letter outbox. A dead letter stored to be published is marked unpublished in the
  // batch that stores it; its publisher clears the mark once the topic has acknowledged it.
  // What is still marked is what a process that died (or a broker that failed) left unsent:
  // visited in id order until `visit` returns false.
  Status ScanUnpublishedDeadLetters(const std::function<bool(const DeadLetter&)>& visit) const;
  // Clears the marks of these dead letters (ParseDeadLetterId's pairs), all in one write. Not
  // synced: a mark a power cut brings back is one the next start checks against the topic.
  Status MarkDeadLettersPublished(const std::vector<std::pair<TopicPartition, int64_t>>& ids);
  // The sequence the next appended record gets: everything below it is durable. Safe to read
  // from any thread (a rebuild reads it beside the ingest that writes).
  uint64_t next_sequence() const { return next_sequence_.load(std::memory_order_acquire); }

  // ---- Projection state families ----------------------------------------------------------
  // The projection state lives in one column family, the live one, named in meta ("projection"
  // until the first swap). A rebuild writes a new family beside it while ingest goes on writing
  // the live one, then swaps: one synced meta write makes the new family live, the handle is
  // switched and the old family dropped. A family that is not live when the store is opened
  // for writing is what an interrupted rebuild left behind, and is dropped then.
  std::string live_state_family() const;
  // A new, empty family ("projection.N"); not live.
  Result<std::string> CreateStateFamily();
  // A batch whose PutState/AddToCounter go to `family` (empty: the one live now), with nothing
  // else in it.
  // Written with Write, unsynced: until the swap nobody relies on it, and the swap's synced
  // write makes everything written before it durable (one WAL).
  Batch NewStateBatch(const std::string& family) const;
  // Makes `family` the live one and drops the one it replaces. The caller makes sure that no
  // batch for the old family is being built or written meanwhile (ingest swaps between
  // batches).
  Status SwapStateFamily(const std::string& family);
  // While a rebuild fills `family` (empty: the live one), no compactions, so no write stalls
  // on the level-0 files its flushes pile up, and its state batches skip the WAL. Turned off,
  // the family is flushed (what skipped the WAL is then on disk) and compacted first when
  // `compact` (otherwise RocksDB stops every write to the store until it has compacted them:
  // right only for a store about to be thrown away).
  [[nodiscard]] Status SetBulkLoad(std::string_view family, bool on, bool compact = true);
  // The entries of `runs` (each sorted) whose keys are in [begin, end) (an empty end: no bound)
  // as table files for `family`, in key order, a new one after about `file_bytes` of keys and
  // values (each compressed as the family's last level, with a dictionary of its own), the
  // entries of one key combined as a batch applies them (a merge onto what came before, a put
  // replacing it). None when nothing falls in the range. Runs cut at the same keys give files
  // that do not overlap.
  Result<std::vector<std::string>> WriteStateFiles(const std::string& family,
                                                   const std::vector<RunSource>& runs,
                                                   std::string_view begin = {},
                                                   std::string_view end = {},
                                                   size_t file_bytes = size_t(64) << 20) const;
  // A path beside the store for a rebuild's spilled run, removed with what a bulk load that
  // did not finish left.
  std::string NewStateFilePath(std::string_view suffix) const;
  // Moves files WriteStateFiles wrote into `family`, all at once. Files that overlap (each other
  // or what the family holds) go to level 0, for SetBulkLoad's compaction; the others straight
  // to the last level. What a bulk load that did not finish left is removed when the next
  // begins.
  [[nodiscard]] Status IngestStateFiles(const std::string& family,
                                        const std::vector<std::string>& paths);
  // Drops a family that is not live (an audit rebuild, an abandoned one).
  Status DropStateFamily(const std::string& family);
  // A secondary (StoreOptions::secondary_path): replays what the primary has written since the
  // last call, so that reads after it see every batch the primary had written (batches are
  // atomic, so never part of one). A no-op for any other store. Not concurrent with reads.
  Status CatchUp();

  // Recomputes the hash chain and checks the invariants: sequences without gaps, the head in
  // meta matches the last record, every event_id key points to its record and back, the
  // per-child index holds every record, the dead letters are as many as the batches stored
  // (and every unpublished mark names one),
  // every stored offset is the one ingest last wrote and none is behind the log or a dead
  // letter. The first breach is returned as a Fatal status that names it.
  Result<VerifyReport> Verify() const;
  // A consistent copy of the store in `dir` (which must not exist), taken while ingest may be
  // writing: SST files are hard-linked, the WAL copied. The copy is itself a store.
  Status Checkpoint(const std::string& dir) const;
  // SHA-256 over the projection state in key order: each entry as `canonical(key, value)` has
  // it (the value's meaning without incidental bytes), left out when that is nullopt.
  Result<ChainHash> HashState(
      const std::function<std::optional<std::string>(std::string_view, std::string_view)>&
          canonical,
      std::string_view family = {}) const;

 private:
  EventStore() = default;
  Status ReadTail();    // next_sequence_ and head_ from the last log record
  Status ReadLedger();  // a writer's copy of the offsets and the dead-letter count
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> next_sequence_{0};
  ChainHash head_{};
};

int64_t DecodeCounter(std::string_view value);

// ---- Counter cells: a plain counter (int64, 8 bytes) or named counts -----------------------
// Named counts are (name, count) pairs sorted by name, none zero, each a key part and 8 bytes
// (so never 8 bytes in all: the two kinds are told apart by size); "" is a cell whose counts
// all came to nothing. `sorted`: by name, each name once.
std::string EncodeNamedCounts(const std::vector<std::pair<std::string_view, int64_t>>& sorted);
// Calls fn(name, count) for each in name order; false (having called it for those before)
// when `cell` is not named counts.
[[nodiscard]] bool ForEachNamedCount(std::string_view cell,
                                     const std::function<void(std::string_view, int64_t)>& fn);
// A counter cell that counts nothing: a plain 0 or named counts that all came to nothing.
bool IsZeroCounter(std::string_view cell);
// The store's merge of a counter cell with a change (plain + plain, or named + named, name by
// name, zeros dropped); false when the two are not of one kind. Exposed for tools that open the
// store's files with RocksDB alone and must replay its write-ahead log the same way.
[[nodiscard]] bool MergeCounterCells(const std::string_view* existing, std::string_view change,
                                     std::string& out);

}  // namespace careledger
