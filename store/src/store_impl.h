// The store's internals shared by its files (store.cc: open and the counter cells;
// store_batch.cc; store_reads.cc; store_dead_letters.cc; store_verify.cc;
// store_families.cc): the column families, meta's keys, RocksDB's options classes and the two
// Impl structs. Private to store/.
#pragma once

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
#include "careledger/store.h"
#include "codec.h"

namespace careledger::store_detail {

// Column families (design.md): the order here is the order of handles in Impl::cf.
enum Cf : size_t { kDefault, kLog, kEventId, kChild, kOffsets, kDeadLetter, kProjection, kMeta };
inline constexpr std::array<const char*, 8> kCfNames = {
    "default", "log", "event_id", "child", "offsets", "deadletter", "projection", "meta"};
// The projection state families: "projection" (the first), then "projection.N" by rebuilds.
inline constexpr std::string_view kStateFamilyBase = "projection";
// The part of a state key that ScanState's prefix filter is kept for: "<tag>\0" and the key
// part after it (codec::PutKeyPart), as in one child's facts ("fact\0" + child id). 0 for a
// key of any other shape.
inline size_t TaggedPartLength(std::string_view key) {
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

inline bool IsStateFamily(std::string_view name) {
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

inline constexpr std::string_view kMetaLogHead = "log_head";  // next sequence (8) + head chain (32)
inline constexpr std::string_view kMetaAssigned{"assigned\0", 9};  // + partition key → ""
inline constexpr std::string_view kMetaStateFamily =
    "state_family";  // the live state family's name
inline constexpr std::string_view kMetaGap{"gap\0",
                                           4};  // + partition key + from (BE64) → OffsetGap
// + lp target event id + lp correcting event id → HeldCorrection (kept by ingest, not a
// projection: a rebuild leaves it alone, and it is a function of the event-id index)
inline constexpr std::string_view kMetaHeld{"held\0", 5};
// + the dead letter's key → "": the dead-letter outbox. Put in the batch that stores the dead
// letter, deleted once the dead-letter topic has acknowledged it, so what is left is exactly
// what no delivery report confirmed (kept in meta beside the other small bookkeeping, not in
// the dead-letter family, whose records stay as ingest wrote them for verify to count).
inline constexpr std::string_view kMetaUnpublished{"unpublished\0", 12};
// Written by every batch that stores an offset or a dead letter, so that Verify can tell an
// edited offset or a deleted dead letter from what ingest wrote (neither is in the hash chain).
// Stores from before these records verify without these two checks until their next batch.
inline constexpr std::string_view kMetaReference{"reference\0", 10};  // + name → its text
inline constexpr std::string_view kMetaOffsets = "offsets";  // per partition: lp partition key, u64
inline constexpr std::string_view kMetaDeadLetters = "dead_letters";  // u64: how many were stored

inline std::string EncodeOffsetsMirror(const std::map<std::string, std::string>& offsets) {
  std::string out;
  for (const auto& [key, value] : offsets) {
    codec::PutLengthPrefixed(out, key);
    codec::PutLengthPrefixed(out, value);
  }
  return out;
}

inline bool DecodeOffsetsMirror(std::string_view in, std::map<std::string, std::string>& out) {
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
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    // Table files a rebuild ingests (SstFileWriter's) have no unique id for the MANIFEST to
    // check, which RocksDB warns of once a process: every `report` after a replay would print
    // it. Their blocks' checksums are verified as any file's.
    if (level == rocksdb::InfoLogLevel::WARN_LEVEL &&
        std::string_view(format).find("SST file opened without unique ID") !=
            std::string_view::npos) {
      level = rocksdb::InfoLogLevel::DEBUG_LEVEL;
    }
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

// Where WriteStateFiles writes table files until they are ingested (moved into the store).
inline std::string StateFilesDir(const std::string& store_path) {
  return store_path + "/bulk";
}

inline std::string PartitionKey(const TopicPartition& tp) {
  std::string k = tp.topic;
  k.push_back('\0');
  codec::PutBigEndian32(k, uint32_t(tp.partition));
  return k;
}

inline Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Retriable(std::move(msg));
  return Status::Fatal(std::move(msg));
}

// The name of the MANIFEST a store's writer is using; a writer's every open starts a new one.
inline std::string ReadCurrentFile(const std::string& path) {
  std::ifstream in(path + "/CURRENT");
  std::string name;
  std::getline(in, name);
  return name;
}

// The numbers of the writer's write-ahead logs (NNNNNN.log in the store's directory).
inline std::set<uint64_t> WalFiles(const std::string& path) {
  std::set<uint64_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.ends_with(".log") &&
        name.find_first_not_of("0123456789") == name.size() - 4) {
      out.insert(std::stoull(name.substr(0, name.size() - 4)));
    }
  }
  return out;
}

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

// A dead letter's value: this marker and its kind, then its reason (length-prefixed) and the
// payload. Records written before the kind was stored begin with the reason's length, which
// this marker would put at 4 GiB, more than any value holds.
inline constexpr std::string_view kDeadLetterWithKind{"\xff\xff\xff\xff", 4};

inline std::string DeadLetterKey(const TopicPartition& from, int64_t offset) {
  std::string key = PartitionKey(from);
  codec::PutBigEndian64(key, uint64_t(offset));
  return key;
}

inline std::string HeldKey(std::string_view target_event_id, std::string_view event_id) {
  std::string k(kMetaHeld);
  codec::PutLengthPrefixed(k, target_event_id);
  codec::PutLengthPrefixed(k, event_id);
  return k;
}

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

// A dead letter as stored (Batch::PutDeadLetter); false when it does not decode.
bool DecodeDeadLetter(std::string_view key, std::string_view value, DeadLetter& out);

}  // namespace careledger::store_detail

namespace careledger {

using namespace store_detail;  // NOLINT(google-build-using-namespace): the store's own files

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
  // A secondary: the writer's logs it may have read. One of them gone means the writer flushed
  // it, and RocksDB 7.8's secondary keeps what it read from it in its memtable until the writer
  // writes again (never, if it closed): merges read from the flushed table and the memtable.
  std::set<uint64_t> writer_logs;
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
  std::atomic<uint64_t> state_files{0};  // names the table files WriteStateFiles and spilled runs write
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

}  // namespace careledger
