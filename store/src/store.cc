#include "careledger/store.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "careledger/events.h"
#include "codec.h"

namespace careledger {

namespace {

// Column families (design.md): the order here is the order of handles in Impl::cf.
enum Cf : size_t { kDefault, kLog, kEventId, kChild, kOffsets, kDeadLetter, kProjection, kMeta };
constexpr std::array<const char*, 8> kCfNames = {"default", "log",        "event_id",   "child",
                                                 "offsets", "deadletter", "projection", "meta"};
// The projection state families: "projection" (the first), then "projection.N" by rebuilds.
constexpr std::string_view kStateFamilyBase = "projection";
// The part of a state key that ScanState's prefix filter is kept for: "<tag>\0" and the key
// part after it (codec::PutKeyPart), as in one child's facts ("fact\0" + child id). 0 for a
// key of any other shape.
size_t TaggedPartLength(std::string_view key) {
  const size_t zero = key.substr(0, 16).find('\0');
  if (zero == std::string_view::npos) return 0;
  std::string_view rest = key.substr(zero + 1), part;
  if (!codec::GetKeyPart(rest, part)) return 0;
  return key.size() - rest.size();
}

// Each state file keeps a bloom filter of the tagged parts of its keys, beside the whole keys'
// one: a scan of one child's facts then opens only the files that hold some (at a million
// children, reading a child's facts back was a seek through every level and a fifth of
// ingest's time; a tenth of those children had no facts yet).
class TaggedPartPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "careledger.TaggedPart.1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), TaggedPartLength({key.data(), key.size()})};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return TaggedPartLength({key.data(), key.size()}) > 0;
  }
};

bool IsStateFamily(std::string_view name) {
  return name == kStateFamilyBase ||
         (name.starts_with(kStateFamilyBase) && name.size() > kStateFamilyBase.size() + 1 &&
          name[kStateFamilyBase.size()] == '.');
}

// Projection counters are deltas added by merge (MergeCounterCells), so a batch touching the
// same cell from many children needs no read-modify-write.
class CounterMergeOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    std::string_view before;
    if (existing) before = {existing->data(), existing->size()};
    return MergeCounterCells(existing ? &before : nullptr, {value.data(), value.size()},
                             *new_value);
  }
  // The name stores were created with when every counter was an int64: a store's files keep it.
  const char* Name() const override { return "careledger.Int64Add"; }
};

constexpr std::string_view kMetaLogHead = "log_head";       // next sequence (8) + head chain (32)
constexpr std::string_view kMetaAssigned{"assigned\0", 9};  // + partition key → ""
constexpr std::string_view kMetaStateFamily = "state_family";  // the live state family's name
constexpr std::string_view kMetaGap{"gap\0", 4};  // + partition key + from (BE64) → OffsetGap
// + lp target event id + lp correcting event id → HeldCorrection (kept by ingest, not a
// projection: a rebuild leaves it alone, and it is a function of the event-id index)
constexpr std::string_view kMetaHeld{"held\0", 5};
// + the dead letter's key → "": the dead-letter outbox. Put in the batch that stores the dead
// letter, deleted once the dead-letter topic has acknowledged it, so what is left is exactly
// what no delivery report confirmed (kept in meta beside the other small bookkeeping, not in
// the dead-letter family, whose records stay as ingest wrote them for verify to count).
constexpr std::string_view kMetaUnpublished{"unpublished\0", 12};
// Written by every batch that stores an offset or a dead letter, so that Verify can tell an
// edited offset or a deleted dead letter from what ingest wrote (neither is in the hash chain).
// Stores from before these records verify without these two checks until their next batch.
constexpr std::string_view kMetaOffsets = "offsets";  // per partition: lp partition key, u64
constexpr std::string_view kMetaDeadLetters = "dead_letters";  // u64: how many were stored

std::string EncodeOffsetsMirror(const std::map<std::string, std::string>& offsets) {
  std::string out;
  for (const auto& [key, value] : offsets) {
    codec::PutLengthPrefixed(out, key);
    codec::PutLengthPrefixed(out, value);
  }
  return out;
}

bool DecodeOffsetsMirror(std::string_view in, std::map<std::string, std::string>& out) {
  while (!in.empty()) {
    std::string_view key, value;
    if (!codec::GetLengthPrefixed(in, key) || !codec::GetLengthPrefixed(in, value)) return false;
    out.emplace(key, value);
  }
  return true;
}

// RocksDB's own log goes to ours (stderr) rather than a LOG file in the store: one stream for
// operators, and nothing but data on the data disk. That matters when the disk fills: RocksDB
// logs the failed write, and appending to a LOG file on the full disk aborts Debian's build
// (its assertions are on).
class SpdlogLogger : public rocksdb::Logger {
 public:
  SpdlogLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level <= rocksdb::InfoLogLevel::INFO_LEVEL && !spdlog::should_log(spdlog::level::debug)) {
      return;  // formatting is the cost; skip it when the line would be dropped
    }
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, format, ap);
    switch (level) {
      case rocksdb::InfoLogLevel::DEBUG_LEVEL:
      case rocksdb::InfoLogLevel::INFO_LEVEL:
        spdlog::debug("rocksdb: {}", buf);
        break;
      case rocksdb::InfoLogLevel::WARN_LEVEL:
        spdlog::warn("rocksdb: {}", buf);
        break;
      default:
        spdlog::error("rocksdb: {}", buf);
    }
  }
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
};

std::string PartitionKey(const TopicPartition& tp) {
  std::string k = tp.topic;
  k.push_back('\0');
  codec::PutBigEndian32(k, uint32_t(tp.partition));
  return k;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Retriable(std::move(msg));
  return Status::Fatal(std::move(msg));
}

// The name of the MANIFEST a store's writer is using; a writer's every open starts a new one.
std::string ReadCurrentFile(const std::string& path) {
  std::ifstream in(path + "/CURRENT");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

int64_t DecodeCounter(std::string_view value) {
  if (value.size() != 8) return 0;
  return int64_t(codec::GetFixed64(value.data()));
}

std::string EncodeNamedCounts(const std::vector<std::pair<std::string_view, int64_t>>& sorted) {
  std::string out;
  for (const auto& [name, count] : sorted) {
    if (count == 0) continue;
    codec::PutKeyPart(out, name);
    codec::PutFixed64(out, uint64_t(count));
  }
  return out;
}

bool ForEachNamedCount(std::string_view cell,
                       const std::function<void(std::string_view, int64_t)>& fn) {
  if (cell.size() == 8) return false;
  while (!cell.empty()) {
    std::string_view name;
    if (!codec::GetKeyPart(cell, name) || cell.size() < 8) return false;
    fn(name, int64_t(codec::GetFixed64(cell.data())));
    cell.remove_prefix(8);
  }
  return true;
}

bool IsZeroCounter(std::string_view cell) {
  return cell.empty() || (cell.size() == 8 && DecodeCounter(cell) == 0);
}

bool MergeCounterCells(const std::string_view* existing, std::string_view change,
                       std::string& out) {
  out.clear();
  if (change.size() == 8 && (!existing || existing->size() == 8)) {
    int64_t sum = DecodeCounter(change) + (existing ? DecodeCounter(*existing) : 0);
    codec::PutFixed64(out, uint64_t(sum));
    return true;
  }
  // Named counts: both sorted by name, so one pass over the two.
  std::vector<std::pair<std::string_view, int64_t>> a, b, merged;
  auto into = [](auto& v) { return [&v](std::string_view n, int64_t c) { v.emplace_back(n, c); }; };
  if ((existing && !ForEachNamedCount(*existing, into(a))) || !ForEachNamedCount(change, into(b))) {
    return false;
  }
  merged.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      merged.push_back(a[i++]);
    } else if (i == a.size() || b[j].first < a[i].first) {
      merged.push_back(b[j++]);
    } else {
      merged.emplace_back(a[i].first, a[i].second + b[j].second);
      ++i;
      ++j;
    }
  }
  out = EncodeNamedCounts(merged);
  return true;
}

namespace {

// An exclusive advisory lock on a file in the store, held while a writer has it open (the
// kernel drops it when the process dies, kill -9 included). A second writer is told the store
// is in use because it could not take the lock, not by reading RocksDB's message.
class WriterLock {
 public:
  WriterLock() = default;
  ~WriterLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  // false: another process (or another open in this one) holds it.
  [[nodiscard]] Result<bool> Take(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::Fatal("cannot open " + path + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno == EWOULDBLOCK) return false;
    return Status::Fatal("cannot lock " + path + ": " + std::strerror(errno));
  }

 private:
  int fd_ = -1;
};

}  // namespace

struct EventStore::Impl {
  // First, so that it is released after the database is closed.
  WriterLock writer_lock;
  std::unique_ptr<rocksdb::DB> db;
  // By Cf; cf[kProjection] is the family live at open (see `live` for the one live now).
  bool secondary = false;
  StoreOptions options;  // as opened: a secondary reopens with them after a swap
  int reopened = 0;
  // A secondary: the writer's CURRENT file (which names its MANIFEST) when it opened. A new one
  // means the writer restarted, and RocksDB's catch-up would count merges twice (below).
  std::string writer_current;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  rocksdb::WriteOptions write_options;
  rocksdb::ColumnFamilyOptions state_options;  // for families a rebuild creates
  // A one-shot reader reads each block of its ranges once: filling the block cache with them
  // had every block's decompressed copy land in fresh pages (a third of a `report` as known at
  // was tcmalloc populating spans and the kernel faulting pages in), where a block read outside
  // the cache is freed when the iterator leaves it and its memory reused for the next.
  bool scans_fill_cache = true;
  // The live state family: switched by a swap while other threads may read through it.
  std::atomic<rocksdb::ColumnFamilyHandle*> live{nullptr};
  mutable std::mutex families_mu;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> families;  // state families
  // Families a rebuild is filling (SetBulkLoad): written without the WAL, flushed when done.
  std::set<rocksdb::ColumnFamilyHandle*> bulk_loading;  // under families_mu
  bool BulkLoading(rocksdb::ColumnFamilyHandle* family) const {
    std::lock_guard lock(families_mu);
    return bulk_loading.contains(family);
  }
  // Handles are destroyed only with the store: a reader may still hold a swapped-out one (a
  // dropped family stays readable through its handle).
  std::vector<rocksdb::ColumnFamilyHandle*> owned;
  // A writer's copy of every stored offset and the number of dead letters, as the last batch
  // left them: each batch writes them whole into meta (kMetaOffsets, kMetaDeadLetters).
  std::mutex ledger_mu;
  std::map<std::string, std::string> offsets;  // partition key → stored value
  uint64_t dead_letters = 0;
  ~Impl() {
    for (auto* h : owned) {
      if (h) db->DestroyColumnFamilyHandle(h);
    }
  }
  // The handle of a state family; empty = the live one. Null when there is no such family.
  rocksdb::ColumnFamilyHandle* State(std::string_view family) const {
    if (family.empty()) return live.load(std::memory_order_acquire);
    std::lock_guard lock(families_mu);
    auto it = families.find(family);
    return it == families.end() ? nullptr : it->second;
  }
};

struct EventStore::Batch::Impl {
  // Entries are gathered first and handed to RocksDB sorted by column family and key at
  // Write: a memtable insert that follows the previous one in key order reuses its skip-list
  // position, where a random key searches from the top. Event ids, child keys and counter
  // keys arrive in random order, and these searches were a quarter of ingest's CPU.
  enum class Op : uint8_t { kPut, kMerge, kDelete };
  struct Entry {
    uint32_t cf;
    Op op;
    std::string key, value;
  };
  std::vector<Entry> entries;
  const std::vector<rocksdb::ColumnFamilyHandle*>* cf = nullptr;
  // Where projection entries go: the family live when the batch is written, or a fixed one.
  const std::atomic<rocksdb::ColumnFamilyHandle*>* live = nullptr;
  rocksdb::ColumnFamilyHandle* state = nullptr;
  Instant ingested_at;  // one clock reading for the whole batch

  void Put(uint32_t family, std::string key, std::string value, bool merge = false) {
    entries.push_back({family, merge ? Op::kMerge : Op::kPut, std::move(key), std::move(value)});
  }
  void Delete(uint32_t family, std::string key) {
    entries.push_back({family, Op::kDelete, std::move(key), {}});
  }
  rocksdb::WriteBatch Build() {
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.cf != b.cf ? a.cf < b.cf : a.key < b.key;
    });
    size_t bytes = 0;
    for (const auto& e : entries) bytes += e.key.size() + e.value.size() + 16;
    rocksdb::WriteBatch wb(bytes);
    rocksdb::ColumnFamilyHandle* projection = state ? state : live->load(std::memory_order_acquire);
    for (const auto& e : entries) {
      auto* family = e.cf == kProjection ? projection : (*cf)[e.cf];
      switch (e.op) {
        case Op::kPut:
          wb.Put(family, e.key, e.value);
          break;
        case Op::kMerge:
          wb.Merge(family, e.key, e.value);
          break;
        case Op::kDelete:
          wb.Delete(family, e.key);
          break;
      }
    }
    return wb;
  }
};

EventStore::Batch::Batch() : impl_(std::make_unique<Impl>()) {}
EventStore::Batch::~Batch() = default;
EventStore::Batch::Batch(Batch&&) noexcept = default;
Instant EventStore::Batch::ingested_at() const {
  return impl_->ingested_at;
}

uint64_t EventStore::Batch::Append(std::string_view event_id, std::string_view child_id,
                                   Date occurred, const TopicPartition& from, int64_t offset,
                                   std::string_view payload,
                                   std::optional<uint64_t> payload_fingerprint) {
  uint64_t seq = next_sequence_++;
  ++appended_;
  std::string key;
  codec::PutBigEndian64(key, seq);
  std::string value;
  head_ = codec::EncodeLogValue(value, head_, seq, from.topic, from.partition, offset,
                                impl_->ingested_at, payload);
  impl_->Put(kLog, std::move(key), std::move(value));

  std::string id_value;
  codec::PutFixed64(id_value, seq);
  codec::PutFixed64(id_value, payload_fingerprint.value_or(Fingerprint(payload)));
  impl_->Put(kEventId, std::string(event_id), std::move(id_value));

  std::string child_key(child_id);
  child_key.push_back('\0');
  codec::PutBigEndian32(child_key, codec::DaysKey(occurred));
  codec::PutBigEndian64(child_key, seq);
  impl_->Put(kChild, std::move(child_key), std::string());
  return seq;
}

void EventStore::Batch::SetNextOffset(const TopicPartition& tp, int64_t next_offset) {
  std::string v;
  codec::PutFixed64(v, uint64_t(next_offset));
  impl_->Put(kOffsets, PartitionKey(tp), std::move(v));
}

namespace {
// A dead letter's value: this marker and its kind, then its reason (length-prefixed) and the
// payload. Records written before the kind was stored begin with the reason's length, which
// this marker would put at 4 GiB, more than any value holds.
constexpr std::string_view kDeadLetterWithKind{"\xff\xff\xff\xff", 4};

std::string DeadLetterKey(const TopicPartition& from, int64_t offset) {
  std::string key = PartitionKey(from);
  codec::PutBigEndian64(key, uint64_t(offset));
  return key;
}
}  // namespace

void EventStore::Batch::PutDeadLetter(const TopicPartition& from, int64_t offset, RejectKind kind,
                                      std::string_view reason, std::string_view payload,
                                      bool to_publish) {
  std::string key = DeadLetterKey(from, offset);
  if (to_publish) impl_->Put(kMeta, std::string(kMetaUnpublished) + key, std::string());
  std::string value(kDeadLetterWithKind);
  value.push_back(char(kind));
  codec::PutLengthPrefixed(value, reason);
  value.append(payload);
  impl_->Put(kDeadLetter, std::move(key), std::move(value));
}

namespace {
std::string HeldKey(std::string_view target_event_id, std::string_view event_id) {
  std::string k(kMetaHeld);
  codec::PutLengthPrefixed(k, target_event_id);
  codec::PutLengthPrefixed(k, event_id);
  return k;
}
}  // namespace

void EventStore::Batch::HoldCorrection(const HeldCorrection& held) {
  std::string v;
  codec::PutLengthPrefixed(v, held.child_id);
  v.push_back(char((held.retraction ? 1 : 0) | (held.other_child ? 2 : 0)));
  codec::PutLengthPrefixed(v, held.from.topic);
  codec::PutFixed64(v, uint64_t(uint32_t(held.from.partition)));
  codec::PutFixed64(v, uint64_t(held.offset));
  codec::PutFixed64(v, uint64_t(held.held_at.time_since_epoch().count()));
  impl_->Put(kMeta, HeldKey(held.target_event_id, held.event_id), std::move(v));
}

void EventStore::Batch::ReleaseCorrection(std::string_view target_event_id,
                                          std::string_view event_id) {
  impl_->Delete(kMeta, HeldKey(target_event_id, event_id));
}

void EventStore::Batch::PutState(std::string_view key, std::string_view value) {
  impl_->Put(kProjection, std::string(key), std::string(value));
}

void EventStore::Batch::DeleteState(std::string_view key) {
  impl_->Delete(kProjection, std::string(key));
}

void EventStore::Batch::AddToCounter(std::string_view key, int64_t delta) {
  std::string v;
  codec::PutFixed64(v, uint64_t(delta));
  impl_->Put(kProjection, std::string(key), std::move(v), /*merge=*/true);
}

void EventStore::Batch::AddToCounters(std::string_view key, std::string_view counts) {
  impl_->Put(kProjection, std::string(key), std::string(counts), /*merge=*/true);
}

void EventStore::Batch::SetCounter(std::string_view key, int64_t value) {
  if (value == 0) return DeleteState(key);
  std::string v;
  codec::PutFixed64(v, uint64_t(value));
  impl_->Put(kProjection, std::string(key), std::move(v));
}

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(options.path + "/CURRENT", ec);
  const bool read_only = options.read_only || !options.secondary_path.empty();
  if (read_only && !exists) {
    return Status::BadInput("no store at " + options.path + " (run `careledger ingest` first)");
  }
  if (!exists && fs::is_directory(options.path, ec) && !fs::is_empty(options.path, ec)) {
    return Status::BadInput(options.path + " is not a careledger store and is not empty");
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // A one-shot reader (`report`, `lineage`, `verify`) reads a few ranges and exits.
  const bool one_shot = options.read_only && options.secondary_path.empty();
  // It never flushes or compacts: no background threads to start.
  if (!one_shot) db_options.IncreaseParallelism(options.background_threads);
  db_options.max_open_files = options.max_open_files;
  db_options.info_log = std::make_shared<SpdlogLogger>();
  // The small families (offsets, meta, dead letters) take a little of every batch and never
  // fill a memtable, so without a cap no WAL file is ever released: 660 MiB of WAL after an
  // 840 k-event ingest, replayed by every read-only open (a `report` took 5 s). The cap
  // flushes whatever holds the oldest WAL file once the WAL passes it.
  db_options.max_total_wal_size = options.max_wal_bytes;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.enable_index_compression = false;
  // A one-shot reader loads the index and filter of the tables its ranges meet, when it
  // meets them, instead of every table's at open.
  table.cache_index_and_filter_blocks = one_shot;
  auto table_factory =
      std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table));

  rocksdb::ColumnFamilyOptions base_options;
  base_options.table_factory = table_factory;
  base_options.compression = options.compress ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  if (options.compress) {
    // The last level holds nearly all the bytes and is rewritten least: zstd with a dictionary
    // trained per file (event payloads repeat their field names and codes) took a 200 k-event
    // store from 444 to 277 bytes an event once compacted; LZ4 above keeps flushes cheap.
    base_options.bottommost_compression = rocksdb::kZSTD;
    base_options.bottommost_compression_opts.enabled = true;
    base_options.bottommost_compression_opts.max_dict_bytes = 16 << 10;
    base_options.bottommost_compression_opts.zstd_max_train_bytes = 100 * (16 << 10);
  }
  base_options.write_buffer_size = options.write_buffer_bytes;
  // The meta family takes range deletes (SetAssignment), and RocksDB 7.8 hands a hinted
  // family's range deletes the splice of its point keys (a different skip list): it aborts.
  rocksdb::ColumnFamilyOptions meta_options = base_options;
  // A batch is written in key order (Batch::Impl::Build), so each key is near the one before
  // it in the memtable; the plain insert searches from the top of a 64 MiB skip list every
  // time, a cache miss a level (half of ingest's write). A hint keeps the last insert's place:
  // one hint a family, as every key has the empty prefix.
  base_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewCappedPrefixTransform(0));
  // Ingest looks up every new event's id, and nearly all are absent: a whole-key bloom filter
  // on the memtable answers those without searching the skip list (FindEventIds was 11 % of
  // ingest's main thread, 2.4 % with it).
  rocksdb::ColumnFamilyOptions event_id_options = base_options;
  if (!options.read_only) {
    // (A read-only open's memtables stay empty: zeroing 3 MiB of filter for them was 6 % of a
    // report. A secondary replays the writer's WAL into its memtables, so it keeps the filter.)
    event_id_options.memtable_prefix_bloom_size_ratio = 0.05;
    event_id_options.memtable_whole_key_filtering = true;
  }
  rocksdb::ColumnFamilyOptions state_options = base_options;
  state_options.merge_operator = std::make_shared<CounterMergeOperator>();
  state_options.prefix_extractor = std::make_shared<TaggedPartPrefix>();
  auto describe = [&](const std::vector<std::string>& extra_state_families) {
    std::vector<rocksdb::ColumnFamilyDescriptor> out;
    out.reserve(std::size(kCfNames));
    for (const char* name : kCfNames) {
      out.emplace_back(name, IsStateFamily(name)                            ? state_options
                             : std::string_view(name) == kCfNames[kMeta]    ? meta_options
                             : std::string_view(name) == kCfNames[kEventId] ? event_id_options
                                                                            : base_options);
    }
    for (const auto& name : extra_state_families) out.emplace_back(name, state_options);
    return out;
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = describe({});

  if (!read_only && !exists) {
    // RocksDB adds column families one at a time; a reader that opened the store meanwhile
    // would find some missing. Build it whole beside its place, then move it in.
    std::string side = options.path + ".creating-" + std::to_string(::getpid());
    fs::remove_all(side, ec);
    fs::create_directories(side, ec);
    if (ec) return Status::Fatal("cannot create " + side + ": " + ec.message());
    ::chmod(side.c_str(), 0700);  // the store holds pseudonymous personal data
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* fresh = nullptr;
    CARELEDGER_RETURN_IF_ERROR(FromRocks(
        rocksdb::DB::Open(db_options, side, descriptors, &handles, &fresh), "create store"));
    for (auto* h : handles) fresh->DestroyColumnFamilyHandle(h);
    delete fresh;
    fs::create_directories(fs::path(options.path).parent_path(), ec);
    fs::remove(options.path, ec);  // an empty directory left for us is fine to replace
    fs::rename(side, options.path, ec);
    if (ec) fs::remove_all(side, ec);  // another process made it first: use theirs
  }

  // Per-operation perf counters showed up at ~7% of ingest CPU in a profile (thread-local
  // look-ups) and nothing reads them; the setting is per thread, and the opener writes.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  auto impl = std::make_unique<Impl>();
  if (!read_only) {
    auto taken = impl->writer_lock.Take(options.path + "/careledger.lock");
    if (!taken.ok()) return taken.status();
    if (!*taken) {
      return Status::Fatal("store " + options.path +
                           " is in use by another careledger process (it holds " + options.path +
                           "/careledger.lock)");
    }
  }
  impl->state_options = state_options;
  impl->scans_fill_cache = !one_shot;
  impl->options = options;
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s;
  // Every state family there is gets opened (RocksDB wants all of them for writing); which
  // one is live is read from meta below. A reader may list the families just before a
  // writer drops one, and then fails to open it: list again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<std::string> names, extra;
    if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &names).ok()) {
      for (const auto& name : names) {
        if (IsStateFamily(name) && name != kStateFamilyBase) extra.push_back(name);
      }
    }
    // "projection" itself is opened only while it exists (a swap drops it for good).
    descriptors = describe(extra);
    if (!names.empty() &&
        std::find(names.begin(), names.end(), std::string(kStateFamilyBase)) == names.end()) {
      descriptors.erase(descriptors.begin() + kProjection);
    }
    if (!options.secondary_path.empty()) {
      // Read before opening: a restart in between then shows as a change, never the reverse.
      impl->writer_current = ReadCurrentFile(options.path);
      // A secondary keeps every SST file open: it cannot reopen one the primary has since
      // compacted away.
      db_options.max_open_files = -1;
      // Each catch-up that finds the writer's flushes in the manifest loads the new tables on
      // this many threads, started afresh every time: the default 16 made `serve` beside a
      // busy ingest start some 700 threads a second (with them, its API p99 at 10,000 events/s
      // was 123-133 ms; without, 21-34 ms). A catch-up's new tables are few; one thread will do.
      db_options.max_file_opening_threads = 1;
      s = rocksdb::DB::OpenAsSecondary(db_options, options.path, options.secondary_path,
                                       descriptors, &handles, &raw);
      impl->secondary = true;
    } else if (options.read_only) {
      // A one-shot reader (`report`, `verify`) opens most tables once: mapped, their index and
      // filter blocks are read in place instead of copied into fresh heap (page faults were a
      // third of a report on a 1 M-children store).
      db_options.allow_mmap_reads = true;
      db_options.max_file_opening_threads = 1;
      db_options.skip_stats_update_on_db_open = true;
      s = rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors, &handles, &raw);
    } else {
      s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
    }
    // A reader beside a running writer may also find a file gone that it had just listed (the
    // writer replaced its OPTIONS or MANIFEST file, or released a WAL): open again.
    if (s.ok() || !read_only || !(s.IsInvalidArgument() || s.IsPathNotFound())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
  }
  if (!s.ok()) {
    return FromRocks(s, "open store " + options.path);
  }
  impl->db.reset(raw);
  impl->write_options.sync = options.sync;
  impl->owned = handles;
  impl->cf.assign(kCfNames.size(), nullptr);
  for (auto* h : handles) {
    const std::string& name = h->GetName();
    if (IsStateFamily(name)) {
      impl->families.emplace(name, h);
      continue;
    }
    for (size_t i = 0; i < kCfNames.size(); ++i) {
      if (name == kCfNames[i]) impl->cf[i] = h;
    }
  }
  {
    std::string live(kStateFamilyBase);
    std::string v;
    auto got = impl->db->Get(rocksdb::ReadOptions(), impl->cf[kMeta], kMetaStateFamily, &v);
    if (got.ok()) {
      live = v;
    } else if (!got.IsNotFound()) {
      return FromRocks(got, "read the live state family");
    }
    auto it = impl->families.find(live);
    if (it == impl->families.end()) {
      return Status::Fatal("the live projection state family '" + live +
                           "' is missing (run `careledger replay`)");
    }
    impl->live.store(it->second);
    impl->cf[kProjection] = it->second;
    if (!read_only) {
      // Not live at open: an interrupted rebuild's, of no use to anyone.
      for (auto i = impl->families.begin(); i != impl->families.end();) {
        if (i->first == live) {
          ++i;
          continue;
        }
        spdlog::info("dropping state family {} left by an interrupted replay", i->first);
        CARELEDGER_RETURN_IF_ERROR(
            FromRocks(impl->db->DropColumnFamily(i->second), "drop " + i->first));
        i = impl->families.erase(i);
      }
    }
  }

  std::unique_ptr<EventStore> store(new EventStore());
  store->impl_ = std::move(impl);
  CARELEDGER_RETURN_IF_ERROR(store->ReadTail());
  if (!read_only) CARELEDGER_RETURN_IF_ERROR(store->ReadLedger());
  return store;
}

Status EventStore::ReadLedger() {
  const rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf[kOffsets]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    impl_->offsets.emplace(it->key().ToString(), it->value().ToString());
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read offsets"));
  std::string v;
  if (impl_->db->Get(ro, impl_->cf[kMeta], kMetaDeadLetters, &v).ok() && v.size() == 8) {
    impl_->dead_letters = codec::GetFixed64(v.data());
    return Status::Ok();
  }
  // A store from before the count: its dead letters as they are now.
  it.reset(impl_->db->NewIterator(ro, impl_->cf[kDeadLetter]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++impl_->dead_letters;
  return FromRocks(it->status(), "count dead letters");
}

Status EventStore::ReadTail() {
  // The next sequence follows the last log key: the log is the only source of truth for it.
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf[kLog]));
  it->SeekToLast();
  if (it->Valid()) {
    next_sequence_.store(codec::GetBigEndian64(it->key().data()) + 1);
    LogRecord last;
    if (!codec::DecodeLogValue({it->value().data(), it->value().size()}, last)) {
      return Status::Fatal("the last log record is malformed (run `careledger verify`)");
    }
    head_ = last.chain;
  }
  return FromRocks(it->status(), "read log tail");
}

Status EventStore::CatchUp() {
  if (!impl_->secondary) return Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(
      FromRocks(impl_->db->TryCatchUpWithPrimary(), "catch up with the store"));
  // Open the store afresh, in a directory of its own so that the two secondaries never share
  // their bookkeeping, when catching up cannot be trusted:
  // - the writer restarted: it flushed the WAL it recovered into a table file, and RocksDB
  //   7.8's secondary then holds that data twice, in that file and in the memtable it had
  //   read from the same WAL; merged counters come out doubled (store_test has the case).
  //   Checked after catching up, so any restart catching up has seen is caught now.
  // - a replay swapped another state family in and dropped the one this secondary holds (it
  //   cannot open families made after it opened).
  std::string live;
  auto got = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf[kMeta], kMetaStateFamily, &live);
  if ((got.ok() && live != impl_->live.load()->GetName()) ||
      ReadCurrentFile(impl_->options.path) != impl_->writer_current) {
    StoreOptions again = impl_->options;
    int generation = impl_->reopened + 1;
    again.secondary_path = impl_->options.secondary_path + "/g" + std::to_string(generation);
    auto fresh = Open(again);
    if (!fresh.ok()) return fresh.status();
    (*fresh)->impl_->options = impl_->options;
    (*fresh)->impl_->reopened = generation;
    impl_ = std::move((*fresh)->impl_);  // closes the one before
    next_sequence_.store((*fresh)->next_sequence());
    head_ = (*fresh)->head_;
    if (generation > 1) {
      std::error_code ignored;  // only RocksDB's info logs: left behind if it fails
      std::filesystem::remove_all(
          impl_->options.secondary_path + "/g" + std::to_string(generation - 1), ignored);
    }
    return Status::Ok();
  }
  return ReadTail();
}

EventStore::~EventStore() {
  // A writer that stops cleanly leaves no WAL behind: every store opened after it (a report,
  // verify, the next ingest) would otherwise replay it first, seconds per few hundred MiB.
  if (!impl_ || !impl_->db || impl_->secondary || impl_->options.read_only) return;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  for (size_t i = 0; i < impl_->cf.size(); ++i) {
    if (i != kProjection && impl_->cf[i]) families.push_back(impl_->cf[i]);
  }
  families.push_back(impl_->live.load());
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (auto s = impl_->db->Flush(flush, families); !s.ok()) {
    spdlog::warn("store {}: flush at close: {} (the next open replays the WAL instead)",
                 impl_->options.path, s.ToString());
  }
}

EventStore::Batch EventStore::NewBatch(std::optional<Instant> stamp) const {
  return NewBatchAfter({next_sequence(), head_}, stamp);
}

EventStore::Batch EventStore::NewBatchAfter(const Batch::Tail& tail,
                                            std::optional<Instant> stamp) const {
  Batch b;
  b.impl_->cf = &impl_->cf;
  b.impl_->live = &impl_->live;
  b.first_sequence_ = b.next_sequence_ = tail.next_sequence;
  b.head_ = tail.head;
  b.impl_->ingested_at = std::chrono::floor<std::chrono::seconds>(
      stamp ? *stamp
            : (impl_->options.clock ? impl_->options.clock() : std::chrono::system_clock::now()));
  return b;
}

Status EventStore::CompactAll() {
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  std::vector<rocksdb::ColumnFamilyHandle*> families = impl_->cf;
  {
    std::lock_guard lock(impl_->families_mu);
    for (const auto& [name, handle] : impl_->families) families.push_back(handle);
  }
  for (auto* cf : families) {
    if (!cf) continue;
    CARELEDGER_RETURN_IF_ERROR(
        FromRocks(impl_->db->CompactRange(options, cf, nullptr, nullptr), "compact"));
  }
  return Status::Ok();
}

Status EventStore::Write(Batch& batch) {
  // A batch is built on the store as it was at NewBatch: its sequences, chain and projection
  // deltas are only right if nothing was written since, and it is written once.
  if (batch.written_) return Status::Fatal("batch written twice");
  if (batch.state_only_) {
    if (!batch.impl_->state) return Status::Fatal("no such state family");
    rocksdb::WriteBatch wb = batch.impl_->Build();
    rocksdb::WriteOptions unsynced;
    // A rebuild's state is durable once SetBulkLoad ends it (a flush), and a rebuild cut short
    // is thrown away, so its WAL would only be written and deleted (a fifth of the rebuild).
    unsynced.disableWAL = impl_->BulkLoading(batch.impl_->state);
    CARELEDGER_RETURN_IF_ERROR(FromRocks(impl_->db->Write(unsynced, &wb), "write state batch"));
    batch.written_ = true;
    return Status::Ok();
  }
  if (batch.first_sequence_ != next_sequence()) {
    return Status::Fatal("batch built on a stale store (another batch was written since)");
  }
  if (batch.appended_ > 0) {
    // The head travels with the records, so a log cut short at the end is caught too.
    std::string head;
    codec::PutBigEndian64(head, batch.next_sequence_);
    head.append(reinterpret_cast<const char*>(batch.head_.data()), batch.head_.size());
    batch.impl_->Put(kMeta, std::string(kMetaLogHead), std::move(head));
  }
  std::lock_guard ledger_lock(impl_->ledger_mu);
  std::map<std::string, std::string> offsets;
  uint64_t dead_letters = 0;
  bool ledger_changed = false;
  for (const auto& e : batch.impl_->entries) {
    if (e.cf == kOffsets || e.cf == kDeadLetter) {
      if (!ledger_changed) offsets = impl_->offsets;
      ledger_changed = true;
      if (e.cf == kOffsets) offsets[e.key] = e.value;
      if (e.cf == kDeadLetter) ++dead_letters;
    }
  }
  dead_letters += impl_->dead_letters;
  if (ledger_changed) {
    batch.impl_->Put(kMeta, std::string(kMetaOffsets), EncodeOffsetsMirror(offsets));
    std::string count;
    codec::PutFixed64(count, dead_letters);
    batch.impl_->Put(kMeta, std::string(kMetaDeadLetters), std::move(count));
  }
  rocksdb::WriteBatch wb = batch.impl_->Build();
  CARELEDGER_RETURN_IF_ERROR(FromRocks(impl_->db->Write(impl_->write_options, &wb), "write batch"));
  if (ledger_changed) {
    impl_->offsets = std::move(offsets);
    impl_->dead_letters = dead_letters;
  }
  head_ = batch.head_;
  next_sequence_.store(batch.next_sequence_, std::memory_order_release);
  batch.written_ = true;
  return Status::Ok();
}

Result<std::optional<int64_t>> EventStore::NextOffset(const TopicPartition& tp) const {
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf[kOffsets], PartitionKey(tp), &v);
  if (s.IsNotFound()) return std::optional<int64_t>();
  CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "read offset"));
  return std::optional<int64_t>(int64_t(codec::GetFixed64(v.data())));
}

Status EventStore::SetAssignment(const std::vector<TopicPartition>& assignment) {
  rocksdb::WriteBatch wb;
  std::string begin(kMetaAssigned), end(kMetaAssigned);
  end.back() = '\1';
  wb.DeleteRange(impl_->cf[kMeta], begin, end);
  for (const auto& tp : assignment) wb.Put(impl_->cf[kMeta], begin + PartitionKey(tp), "");
  return FromRocks(impl_->db->Write(impl_->write_options, &wb), "record assignment");
}

namespace {
// Visits meta's records under `prefix` in key order, each key without the prefix; the first
// error `visit` returns ends the scan and is returned.
Status ScanMeta(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta, std::string_view prefix,
                std::string_view what,
                const std::function<Status(std::string_view key, std::string_view value)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), meta));
  rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    CARELEDGER_RETURN_IF_ERROR(visit({it->key().data() + p.size(), it->key().size() - p.size()},
                                     {it->value().data(), it->value().size()}));
  }
  return FromRocks(it->status(), what);
}
}  // namespace

Result<std::vector<TopicPartition>> EventStore::Assignment() const {
  std::vector<TopicPartition> out;
  CARELEDGER_RETURN_IF_ERROR(
      ScanMeta(*impl_->db, impl_->cf[kMeta], kMetaAssigned, "read assignment",
               [&](std::string_view key, std::string_view) {
                 auto nul = key.find('\0');
                 if (nul == std::string_view::npos || key.size() != nul + 5) return Status::Ok();
                 out.push_back({std::string(key.substr(0, nul)),
                                int32_t(codec::GetBigEndian32(key.data() + nul + 1))});
                 return Status::Ok();
               }));
  return out;
}

std::string OffsetGap::Describe() const {
  std::string where = partition.topic + "/" + std::to_string(partition.partition);
  if (to >= from) {
    return "offsets " + std::to_string(from) + ".." + std::to_string(to - 1) + " of " + where +
           " (" + std::to_string(to - from) +
           " messages) are no longer held by the broker (its retention removed them before "
           "this store read them)";
  }
  return where + " ends at offset " + std::to_string(to) + " but this store has read it up to " +
         std::to_string(from) +
         ": the topic was recreated, or these brokers are not the cluster the store was fed from";
}

namespace {
std::string GapKey(const OffsetGap& gap) {
  std::string k(kMetaGap);
  k.append(PartitionKey(gap.partition));
  codec::PutBigEndian64(k, uint64_t(gap.from));
  return k;
}
}  // namespace

Status EventStore::RecordGap(const OffsetGap& gap) {
  // Met again on every restart until accepted: the first finding's time is the one kept.
  std::string key = GapKey(gap), old;
  OffsetGap record = gap;
  auto got = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf[kMeta], key, &old);
  if (got.ok() && old.size() >= 25) {
    record.found_at = Instant(std::chrono::seconds(int64_t(codec::GetFixed64(old.data() + 9))));
  } else if (!got.IsNotFound()) {
    CARELEDGER_RETURN_IF_ERROR(FromRocks(got, "read gap"));
  }
  std::string v;
  codec::PutFixed64(v, uint64_t(record.to));
  v.push_back(record.accepted ? '\1' : '\0');
  codec::PutFixed64(v, uint64_t(record.found_at.time_since_epoch().count()));
  codec::PutFixed64(v, uint64_t(record.accepted_at.time_since_epoch().count()));
  rocksdb::WriteBatch wb;
  wb.Put(impl_->cf[kMeta], key, v);
  return FromRocks(impl_->db->Write(impl_->write_options, &wb), "record gap");
}

Result<std::vector<OffsetGap>> EventStore::Gaps() const {
  std::vector<OffsetGap> out;
  CARELEDGER_RETURN_IF_ERROR(ScanMeta(
      *impl_->db, impl_->cf[kMeta], kMetaGap, "read gaps",
      [&](std::string_view key, std::string_view v) {
        auto nul = key.find('\0');
        if (nul == std::string_view::npos || key.size() != nul + 13 || v.size() != 25) {
          return Status::Fatal("a gap record in meta is malformed");
        }
        OffsetGap gap;
        gap.partition = {std::string(key.substr(0, nul)),
                         int32_t(codec::GetBigEndian32(key.data() + nul + 1))};
        gap.from = int64_t(codec::GetBigEndian64(key.data() + nul + 5));
        gap.to = int64_t(codec::GetFixed64(v.data()));
        gap.accepted = v[8] != '\0';
        gap.found_at = Instant(std::chrono::seconds(int64_t(codec::GetFixed64(v.data() + 9))));
        gap.accepted_at = Instant(std::chrono::seconds(int64_t(codec::GetFixed64(v.data() + 17))));
        out.push_back(std::move(gap));
        return Status::Ok();
      }));
  return out;
}

Result<std::vector<HeldCorrection>> EventStore::HeldCorrections() const {
  std::vector<HeldCorrection> out;
  CARELEDGER_RETURN_IF_ERROR(ScanMeta(
      *impl_->db, impl_->cf[kMeta], kMetaHeld, "read held corrections",
      [&](std::string_view key, std::string_view v) {
        std::string_view target, id, child, topic;
        bool ok = codec::GetLengthPrefixed(key, target) && codec::GetLengthPrefixed(key, id) &&
                  key.empty() && codec::GetLengthPrefixed(v, child) && !v.empty();
        uint8_t flags = ok ? uint8_t(v[0]) : 0;
        if (ok) v.remove_prefix(1);
        ok = ok && codec::GetLengthPrefixed(v, topic) && v.size() == 24;
        if (!ok) return Status::Fatal("a held-correction record in meta is malformed");
        HeldCorrection h;
        h.target_event_id = target;
        h.event_id = id;
        h.child_id = child;
        h.retraction = flags & 1;
        h.other_child = flags & 2;
        h.from = {std::string(topic), int32_t(uint32_t(codec::GetFixed64(v.data())))};
        h.offset = int64_t(codec::GetFixed64(v.data() + 8));
        h.held_at = Instant(std::chrono::seconds(int64_t(codec::GetFixed64(v.data() + 16))));
        out.push_back(std::move(h));
        return Status::Ok();
      }));
  return out;
}

Status EventStore::FindEventIds(const std::vector<std::string_view>& ids,
                                std::vector<std::optional<StoredEventId>>& out) const {
  out.assign(ids.size(), std::nullopt);
  if (ids.empty()) return Status::Ok();
  std::vector<rocksdb::Slice> keys(ids.begin(), ids.end());
  std::vector<rocksdb::PinnableSlice> values(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  impl_->db->MultiGet(rocksdb::ReadOptions(), impl_->cf[kEventId], keys.size(), keys.data(),
                      values.data(), statuses.data());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    CARELEDGER_RETURN_IF_ERROR(FromRocks(statuses[i], "read event id"));
    out[i] =
        StoredEventId{codec::GetFixed64(values[i].data()), codec::GetFixed64(values[i].data() + 8)};
  }
  return Status::Ok();
}

Status EventStore::ReadCounters(const std::vector<std::string_view>& keys,
                                std::vector<int64_t>& out, std::string_view family) const {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + std::string(family));
  out.assign(keys.size(), 0);
  if (keys.empty()) return Status::Ok();
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  impl_->db->MultiGet(rocksdb::ReadOptions(), handle, keys.size(), slices.data(), values.data(),
                      statuses.data(), /*sorted_input=*/true);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    CARELEDGER_RETURN_IF_ERROR(FromRocks(statuses[i], "read projection state"));
    out[i] = DecodeCounter({values[i].data(), values[i].size()});
  }
  return Status::Ok();
}

Result<std::optional<std::string>> EventStore::GetState(std::string_view key,
                                                        std::string_view family) const {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + std::string(family));
  std::string v;
  auto s =
      impl_->db->Get(rocksdb::ReadOptions(), handle, rocksdb::Slice(key.data(), key.size()), &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "read projection state"));
  return std::optional<std::string>(std::move(v));
}

namespace {

// Visits the keys in [begin, end) of `handle`; `one_part` when they all share begin's tagged
// part (TaggedPartLength), so that files whose prefix filter lacks it are never opened.
Status ScanStateKeys(rocksdb::DB& db, bool fill_cache, rocksdb::ColumnFamilyHandle* handle,
                     std::string_view begin, std::string_view end, bool one_part,
                     const std::function<bool(std::string_view, std::string_view)>& visit) {
  rocksdb::Slice upper(end.data(), end.size());
  rocksdb::ReadOptions options;
  options.fill_cache = fill_cache;
  options.iterate_upper_bound = &upper;
  // With a prefix extractor set, RocksDB's Seek may skip files by the seek key's prefix: a
  // range over several prefixes (children, days) has to ask for the total order.
  options.prefix_same_as_start = one_part;
  options.total_order_seek = !one_part;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options, handle));
  for (it->Seek(rocksdb::Slice(begin.data(), begin.size())); it->Valid(); it->Next()) {
    if (!visit({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()})) {
      break;
    }
  }
  return FromRocks(it->status(), "scan projection state");
}

}  // namespace

Status EventStore::ScanState(std::string_view prefix,
                             const std::function<bool(std::string_view, std::string_view)>& visit,
                             std::string_view family) const {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + std::string(family));
  // A range read up to the first key past the prefix: unbounded, a scan of a child with no
  // facts yet stopped on the next key after the prefix, and RocksDB merged that key's operands
  // to show it: a counter cell written by merge holds one per batch until a flush, thousands.
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) {
    end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
    return ScanStateKeys(*impl_->db, impl_->scans_fill_cache, handle, prefix, end,
                         TaggedPartLength(prefix) == prefix.size(), visit);
  }
  // No key follows every key with the prefix (it is empty, or all 0xff): read to the end.
  rocksdb::ReadOptions total_order;
  total_order.total_order_seek = true;
  total_order.fill_cache = impl_->scans_fill_cache;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(total_order, handle));
  rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    if (!visit({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()})) {
      break;
    }
  }
  return FromRocks(it->status(), "scan projection state");
}

Status EventStore::ScanStateRange(
    std::string_view begin, std::string_view end,
    const std::function<bool(std::string_view, std::string_view)>& visit,
    std::string_view family) const {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + std::string(family));
  return ScanStateKeys(*impl_->db, impl_->scans_fill_cache, handle, begin, end, /*one_part=*/false,
                       visit);
}

Status EventStore::ReadPayload(uint64_t sequence, std::string& payload) const {
  bool found = false;
  CARELEDGER_RETURN_IF_ERROR(ScanLog(
      [&](const LogRecord& r) {
        found = r.sequence == sequence;
        if (found) payload = r.payload;
        return false;
      },
      sequence));
  if (!found) return Status::Fatal("the log has no record " + std::to_string(sequence));
  return Status::Ok();
}

Status EventStore::ScanLog(const std::function<bool(const LogRecord&)>& visit,
                           uint64_t from) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf[kLog]));
  LogRecord rec;
  std::string start;
  codec::PutBigEndian64(start, from);
  for (it->Seek(start); it->Valid(); it->Next()) {
    rec.sequence = codec::GetBigEndian64(it->key().data());
    if (!codec::DecodeLogValue({it->value().data(), it->value().size()}, rec)) {
      return Status::Fatal("log record " + std::to_string(rec.sequence) + " is malformed");
    }
    if (!visit(rec)) break;
  }
  return FromRocks(it->status(), "scan log");
}

namespace {

// What a dead letter written before its kind was stored is taken for: the only place a kind
// is read from a reason's text, and only for those records (the reasons of that time).
RejectKind KindOfReasonWithoutKind(std::string_view reason) {
  if (reason.find("UTF-8") != std::string_view::npos) return RejectKind::kInvalidUtf8;
  if (reason.starts_with("oversize")) return RejectKind::kOversize;
  if (reason.starts_with("not valid JSON") || reason.starts_with("not a JSON object")) {
    return RejectKind::kInvalidJson;
  }
  if (reason.starts_with("field 'type'")) return RejectKind::kUnknownType;
  if (reason.starts_with("field '")) return RejectKind::kSchema;
  if (reason.starts_with("conflict")) return RejectKind::kConflict;
  if (reason.starts_with("message key")) return RejectKind::kKeyMismatch;
  if (reason.starts_with("wrong partition")) return RejectKind::kWrongPartition;
  if (reason.starts_with("wrong topic")) return RejectKind::kWrongTopic;
  return RejectKind::kOther;
}

bool DecodeDeadLetter(std::string_view key, std::string_view value, DeadLetter& out) {
  auto nul = key.find('\0');
  if (nul == std::string_view::npos || key.size() != nul + 13) return false;
  out.from = {std::string(key.substr(0, nul)),
              int32_t(codec::GetBigEndian32(key.data() + nul + 1))};
  out.offset = int64_t(codec::GetBigEndian64(key.data() + nul + 5));
  const bool with_kind = value.starts_with(kDeadLetterWithKind);
  if (with_kind) {
    value.remove_prefix(kDeadLetterWithKind.size());
    if (value.empty() || uint8_t(value[0]) > uint8_t(RejectKind::kOther)) return false;
    out.kind = RejectKind(value[0]);
    value.remove_prefix(1);
  }
  std::string_view reason;
  if (!codec::GetLengthPrefixed(value, reason)) return false;
  out.reason.assign(reason);
  if (!with_kind) out.kind = KindOfReasonWithoutKind(reason);
  out.payload.assign(value);
  return true;
}

}  // namespace

std::string DeadLetter::Id() const {
  return from.topic + "/" + std::to_string(from.partition) + "@" + std::to_string(offset);
}

Result<std::pair<TopicPartition, int64_t>> ParseDeadLetterId(std::string_view id) {
  auto bad = [&] {
    return Status::BadInput("dead-letter id '" + std::string(id) +
                            "' is not of the form topic/partition@offset");
  };
  auto slash = id.rfind('/'), at = id.rfind('@');
  if (slash == std::string_view::npos || at == std::string_view::npos || at < slash || slash == 0) {
    return bad();
  }
  auto number = [](std::string_view s, int64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  int64_t partition = 0, offset = 0;
  if (!number(id.substr(slash + 1, at - slash - 1), partition) ||
      !number(id.substr(at + 1), offset) || partition > INT32_MAX) {
    return bad();
  }
  return std::make_pair(TopicPartition{std::string(id.substr(0, slash)), int32_t(partition)},
                        offset);
}

Status EventStore::ScanDeadLetters(const std::function<bool(const DeadLetter&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf[kDeadLetter]));
  DeadLetter letter;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!DecodeDeadLetter({it->key().data(), it->key().size()},
                          {it->value().data(), it->value().size()}, letter)) {
      return Status::Fatal("a dead letter's key or value is malformed");
    }
    if (!visit(letter)) break;
  }
  return FromRocks(it->status(), "scan dead letters");
}

Result<std::optional<DeadLetter>> EventStore::GetDeadLetter(const TopicPartition& from,
                                                            int64_t offset) const {
  std::string key = DeadLetterKey(from, offset);
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf[kDeadLetter], key, &value);
  if (s.IsNotFound()) return std::optional<DeadLetter>();
  CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "read dead letter"));
  DeadLetter letter;
  if (!DecodeDeadLetter(key, value, letter)) return Status::Fatal("dead letter is malformed");
  return std::optional<DeadLetter>(std::move(letter));
}

namespace {

// A snapshot of the store for the scope: reads under it see one moment.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  ScopedSnapshot(const ScopedSnapshot&) = delete;
  ScopedSnapshot& operator=(const ScopedSnapshot&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

}  // namespace

Status EventStore::ScanUnpublishedDeadLetters(
    const std::function<bool(const DeadLetter&)>& visit) const {
  // Read under one snapshot: a mark cleared meanwhile is then seen with its dead letter.
  ScopedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.get();
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf[kMeta]));
  const rocksdb::Slice prefix(kMetaUnpublished.data(), kMetaUnpublished.size());
  std::string value;
  DeadLetter letter;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    auto s =
        impl_->db->Get(ro, impl_->cf[kDeadLetter], rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return Status::Fatal("an unpublished mark names no dead letter");
    CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "read unpublished dead letter"));
    if (!DecodeDeadLetter(key, value, letter)) return Status::Fatal("dead letter is malformed");
    if (!visit(letter)) break;
  }
  return FromRocks(it->status(), "scan unpublished dead letters");
}

Status EventStore::MarkDeadLettersPublished(
    const std::vector<std::pair<TopicPartition, int64_t>>& ids) {
  if (ids.empty()) return Status::Ok();
  rocksdb::WriteBatch wb;
  for (const auto& [from, offset] : ids) {
    CARELEDGER_RETURN_IF_ERROR(FromRocks(
        wb.Delete(impl_->cf[kMeta], std::string(kMetaUnpublished) + DeadLetterKey(from, offset)),
        "clear unpublished marks"));
  }
  rocksdb::WriteOptions unsynced;
  return FromRocks(impl_->db->Write(unsynced, &wb), "clear unpublished marks");
}

std::string ToHex(const ChainHash& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : h) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Result<VerifyReport> EventStore::Verify() const {
  auto breach = [](std::string what) { return Status::Fatal("verify: " + std::move(what)); };
  const auto& cf = impl_->cf;
  // A consistent view even while ingest writes.
  ScopedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.get();

  VerifyReport report;
  EnvelopeParser parser;
  Envelope env;
  LogRecord rec;
  std::map<TopicPartition, int64_t> last_offset;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, cf[kLog]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t seq = codec::GetBigEndian64(it->key().data());
    std::string at = "log record " + std::to_string(seq);
    if (seq != report.records) {
      return breach("log record " + std::to_string(report.records) + " is missing (the next is " +
                    std::to_string(seq) + ")");
    }
    std::string_view header;
    if (!codec::DecodeLogValue({it->value().data(), it->value().size()}, rec, &header)) {
      return breach(at + " is malformed");
    }
    if (codec::ComputeChain(report.head, seq, header, rec.payload) != rec.chain) {
      return breach(at + ": hash chain broken (the record was altered, or records reordered)");
    }
    report.head = rec.chain;
    ++report.records;
    if (!parser.Parse(rec.payload, env).ok()) return breach(at + ": payload no longer parses");
    std::string v;
    auto s = impl_->db->Get(ro, cf[kEventId], env.event_id, &v);
    if (!s.ok() || v.size() != 16 || codec::GetFixed64(v.data()) != seq) {
      return breach(at + ": its event_id key is missing or points elsewhere");
    }
    std::string child_key = env.child_id;
    child_key.push_back('\0');
    codec::PutBigEndian32(child_key, codec::DaysKey(env.occurred_at.date));
    codec::PutBigEndian64(child_key, seq);
    if (!impl_->db->Get(ro, cf[kChild], child_key, &v).ok()) {
      return breach(at + ": missing from the per-child index");
    }
    auto& last = last_offset[{rec.topic, rec.partition}];
    last = std::max(last, rec.offset);
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "verify: scan log"));

  std::string head;
  auto s = impl_->db->Get(ro, cf[kMeta], kMetaLogHead, &head);
  if (report.records > 0) {
    if (!s.ok() || head.size() != 40) return breach("the log head is missing from meta");
    if (codec::GetBigEndian64(head.data()) != report.records ||
        std::memcmp(head.data() + 8, report.head.data(), 32) != 0) {
      return breach("the log ends before its recorded head (records removed from the end)");
    }
  }
  for (auto [family, name] :
       {std::pair{kEventId, "event_id keys"}, std::pair{kChild, "per-child index entries"}}) {
    uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> i(impl_->db->NewIterator(ro, cf[family]));
    for (i->SeekToFirst(); i->Valid(); i->Next()) ++n;
    if (n != report.records) {
      return breach(std::to_string(n) + " " + name + " for " + std::to_string(report.records) +
                    " log records");
    }
  }
  // Dead letters: as many as the batches counted (one deleted or slipped in is caught), each
  // below its partition's stored offset like the log's records.
  uint64_t dead_letters = 0;
  std::unique_ptr<rocksdb::Iterator> dl(impl_->db->NewIterator(ro, cf[kDeadLetter]));
  for (dl->SeekToFirst(); dl->Valid(); dl->Next()) {
    DeadLetter letter;
    if (!DecodeDeadLetter({dl->key().data(), dl->key().size()},
                          {dl->value().data(), dl->value().size()}, letter)) {
      return breach("dead letter " + std::to_string(dead_letters) + " is malformed");
    }
    ++dead_letters;
    auto& last = last_offset[letter.from];
    last = std::max(last, letter.offset);
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(dl->status(), "verify: scan dead letters"));
  report.dead_letters = dead_letters;
  std::string count;
  if (impl_->db->Get(ro, cf[kMeta], kMetaDeadLetters, &count).ok()) {
    if (count.size() != 8) return breach("the dead-letter count in meta is malformed");
    if (uint64_t recorded = codec::GetFixed64(count.data()); recorded != dead_letters) {
      return breach(std::to_string(dead_letters) + " dead letters where the batches stored " +
                    std::to_string(recorded) +
                    (dead_letters < recorded ? " (a dead letter was deleted)"
                                             : " (a dead letter was added outside ingest)"));
    }
  }

  // Offsets: each as the last batch that set it wrote it, and none behind what the store holds.
  std::map<std::string, std::string> stored;
  std::unique_ptr<rocksdb::Iterator> oi(impl_->db->NewIterator(ro, cf[kOffsets]));
  for (oi->SeekToFirst(); oi->Valid(); oi->Next()) {
    stored.emplace(oi->key().ToString(), oi->value().ToString());
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(oi->status(), "verify: scan offsets"));
  auto name = [](std::string_view key) {
    auto nul = key.find('\0');
    if (nul == std::string_view::npos || key.size() != nul + 5) return std::string(key);
    return std::string(key.substr(0, nul)) + "/" +
           std::to_string(int32_t(codec::GetBigEndian32(key.data() + nul + 1)));
  };
  auto offset_text = [](std::string_view v) {
    return v.size() == 8 ? std::to_string(int64_t(codec::GetFixed64(v.data()))) : "malformed";
  };
  // A partition read again from a recreated topic (an accepted gap whose log ended below the
  // store's offset) holds records from the old topic above its new offsets.
  auto gaps = Gaps();
  if (!gaps.ok()) return gaps.status();
  std::set<TopicPartition> reread;
  for (const auto& gap : *gaps) {
    if (gap.accepted && gap.to < gap.from) reread.insert(gap.partition);
  }
  for (const auto& [tp, offset] : last_offset) {
    if (reread.count(tp)) continue;
    auto at = stored.find(PartitionKey(tp));
    if (at == stored.end() || at->second.size() != 8 ||
        int64_t(codec::GetFixed64(at->second.data())) <= offset) {
      return breach("the stored offset of " + tp.topic + "/" + std::to_string(tp.partition) +
                    " is behind the log (offset " + std::to_string(offset) + " is stored)");
    }
  }
  std::string mirror;
  if (impl_->db->Get(ro, cf[kMeta], kMetaOffsets, &mirror).ok()) {
    std::map<std::string, std::string> written;
    if (!DecodeOffsetsMirror(mirror, written)) {
      return breach("the copy of the offsets in meta is malformed");
    }
    for (const auto& [key, value] : written) {
      auto at = stored.find(key);
      if (at == stored.end()) {
        return breach("the stored offset of " + name(key) + " is missing (ingest wrote " +
                      offset_text(value) + ")");
      }
      if (at->second != value) {
        return breach("the stored offset of " + name(key) + " is " + offset_text(at->second) +
                      " where ingest wrote " + offset_text(value) +
                      " (an offset was edited: the next ingest would skip or repeat messages)");
      }
    }
    for (const auto& [key, value] : stored) {
      if (!written.count(key)) {
        return breach("the stored offset of " + name(key) + " (" + offset_text(value) +
                      ") was not written by ingest");
      }
    }
  }
  // Last: a dead letter deleted or moved leaves its mark behind, and the checks above name
  // that more precisely.
  std::unique_ptr<rocksdb::Iterator> marks(impl_->db->NewIterator(ro, cf[kMeta]));
  const rocksdb::Slice unpublished(kMetaUnpublished.data(), kMetaUnpublished.size());
  for (marks->Seek(unpublished); marks->Valid() && marks->key().starts_with(unpublished);
       marks->Next()) {
    std::string key(marks->key().data() + unpublished.size(),
                    marks->key().size() - unpublished.size()),
        v;
    if (!impl_->db->Get(ro, cf[kDeadLetter], key, &v).ok()) {
      return breach("an unpublished mark names no stored dead letter (a dead letter was deleted)");
    }
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(marks->status(), "verify: scan unpublished marks"));
  return report;
}

Status EventStore::Checkpoint(const std::string& dir) const {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return Status::BadInput(dir + " already exists");
  rocksdb::Checkpoint* raw = nullptr;
  CARELEDGER_RETURN_IF_ERROR(
      FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // A compaction in the writing process can delete a file between listing and linking it:
  // that attempt fails cleanly and the next one sees the new file set.
  rocksdb::Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s = checkpoint->CreateCheckpoint(dir);
    if (s.ok()) break;
    std::filesystem::remove_all(dir, ec);
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "checkpoint into " + dir));
  ::chmod(dir.c_str(), 0700);
  return Status::Ok();
}

Result<ChainHash> EventStore::HashState(
    const std::function<std::optional<std::string>(std::string_view, std::string_view)>& canonical,
    std::string_view family) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  Status s = ScanState(
      "",
      [&](std::string_view k, std::string_view value) {
        auto meaning = canonical(k, value);
        if (!meaning) return true;
        std::string_view v = *meaning;
        std::string lengths;
        codec::PutBigEndian32(lengths, uint32_t(k.size()));
        codec::PutBigEndian32(lengths, uint32_t(v.size()));
        EVP_DigestUpdate(ctx, lengths.data(), lengths.size());
        EVP_DigestUpdate(ctx, k.data(), k.size());
        EVP_DigestUpdate(ctx, v.data(), v.size());
        return true;
      },
      family);
  ChainHash out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  if (!s.ok()) return s;
  return out;
}

std::string EventStore::live_state_family() const {
  return impl_->live.load(std::memory_order_acquire)->GetName();
}

Result<std::string> EventStore::CreateStateFamily() {
  std::lock_guard lock(impl_->families_mu);
  uint64_t n = 1;
  for (const auto& [name, handle] : impl_->families) {
    uint64_t k = 0;
    if (name.size() <= kStateFamilyBase.size()) continue;
    const char* digits = name.data() + kStateFamilyBase.size() + 1;
    if (std::from_chars(digits, name.data() + name.size(), k).ec == std::errc()) {
      n = std::max(n, k + 1);
    }
  }
  std::string name = std::string(kStateFamilyBase) + "." + std::to_string(n);
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  CARELEDGER_RETURN_IF_ERROR(FromRocks(
      impl_->db->CreateColumnFamily(impl_->state_options, name, &handle), "create " + name));
  impl_->owned.push_back(handle);
  impl_->families.emplace(name, handle);
  return name;
}

EventStore::Batch EventStore::NewStateBatch(const std::string& family) const {
  Batch b;
  b.impl_->cf = &impl_->cf;
  b.impl_->live = &impl_->live;
  b.impl_->state =
      family.empty() ? impl_->live.load(std::memory_order_acquire) : impl_->State(family);
  b.state_only_ = true;
  return b;
}

Status EventStore::SwapStateFamily(const std::string& family) {
  std::lock_guard lock(impl_->families_mu);
  auto it = impl_->families.find(family);
  if (it == impl_->families.end()) return Status::Fatal("no state family " + family);
  rocksdb::ColumnFamilyHandle* old = impl_->live.load();
  if (old == it->second) return Status::Ok();
  rocksdb::WriteBatch wb;
  wb.Put(impl_->cf[kMeta], kMetaStateFamily, family);
  rocksdb::WriteOptions synced;
  synced.sync = true;  // and with it everything written to the new family before
  CARELEDGER_RETURN_IF_ERROR(
      FromRocks(impl_->db->Write(synced, &wb), "make " + family + " the live state"));
  impl_->live.store(it->second, std::memory_order_release);
  std::string old_name = old->GetName();
  impl_->families.erase(old_name);
  // The swap is done; a family that fails to drop now is dropped at the next open.
  if (auto s = impl_->db->DropColumnFamily(old); !s.ok()) {
    spdlog::warn("old state family {} not dropped yet: {}", old_name, s.ToString());
  }
  return Status::Ok();
}

Status EventStore::SetBulkLoad(std::string_view family, bool on, bool compact) {
  auto* handle = impl_->State(family);
  if (!handle) return Status::Fatal("no state family " + std::string(family));
  if (on) {
    std::lock_guard lock(impl_->families_mu);
    impl_->bulk_loading.insert(handle);
  } else {
    // What was written without the WAL goes to files before anything written after (the
    // rebuild's layout marker, with the WAL) can make the family look whole.
    {
      std::lock_guard lock(impl_->families_mu);
      impl_->bulk_loading.erase(handle);
    }
    CARELEDGER_RETURN_IF_ERROR(
        FromRocks(impl_->db->Flush(rocksdb::FlushOptions(), handle), "flush the state family"));
  }
  if (!on && compact) {
    // Compacted first: turned back on over the level-0 files a bulk load left (143 after ten
    // million events), RocksDB stops every write to the store until it has compacted them.
    CARELEDGER_RETURN_IF_ERROR(
        FromRocks(impl_->db->CompactRange(rocksdb::CompactRangeOptions(), handle, nullptr, nullptr),
                  "compact the state family"));
  }
  return FromRocks(
      impl_->db->SetOptions(handle, {{"disable_auto_compactions", on ? "true" : "false"}}),
      "set the state family's compactions");
}

Status EventStore::DropStateFamily(const std::string& family) {
  std::lock_guard lock(impl_->families_mu);
  auto it = impl_->families.find(family);
  if (it == impl_->families.end()) return Status::Ok();
  if (it->second == impl_->live.load()) {
    return Status::Fatal("state family " + family + " is live and cannot be dropped");
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(impl_->db->DropColumnFamily(it->second), "drop " + family));
  impl_->bulk_loading.erase(it->second);
  impl_->families.erase(it);
  return Status::Ok();
}

}  // namespace careledger
