#include "careledger/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <array>
#include <cstring>
#include <filesystem>

#include "codec.h"

namespace careledger {

namespace {

// Column families (design.md): the order here is the order of handles in Impl::cf.
enum Cf : size_t { kDefault, kLog, kEventId, kChild, kOffsets, kDeadLetter, kProjection, kMeta };
constexpr std::array<const char*, 8> kCfNames = {"default", "log",        "event_id",   "child",
                                                 "offsets", "deadletter", "projection", "meta"};

// Projection counters are int64 deltas added by merge, so a batch touching the same cell from
// many children needs no read-modify-write.
class Int64AddOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    int64_t sum = DecodeCounter({value.data(), value.size()});
    if (existing) sum += DecodeCounter({existing->data(), existing->size()});
    new_value->clear();
    codec::PutFixed64(*new_value, uint64_t(sum));
    return true;
  }
  const char* Name() const override { return "careledger.Int64Add"; }
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

}  // namespace

int64_t DecodeCounter(std::string_view value) {
  if (value.size() != 8) return 0;
  return int64_t(codec::GetFixed64(value.data()));
}

struct EventStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  rocksdb::WriteOptions write_options;
  ~Impl() {
    for (auto* h : cf) {
      if (h) db->DestroyColumnFamilyHandle(h);
    }
  }
};

struct EventStore::Batch::Impl {
  rocksdb::WriteBatch wb;
  const std::vector<rocksdb::ColumnFamilyHandle*>* cf = nullptr;
};

EventStore::Batch::Batch() : impl_(std::make_unique<Impl>()) {}
EventStore::Batch::~Batch() = default;
EventStore::Batch::Batch(Batch&&) noexcept = default;

uint64_t EventStore::Batch::Append(std::string_view event_id, std::string_view child_id,
                                   Date occurred, const TopicPartition& from, int64_t offset,
                                   std::string_view payload) {
  const auto& cf = *impl_->cf;
  uint64_t seq = next_sequence_++;
  ++appended_;
  std::string key;
  codec::PutBigEndian64(key, seq);
  std::string value;
  codec::EncodeLogValue(value, from.topic, from.partition, offset,
                        std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()),
                        payload);
  impl_->wb.Put(cf[kLog], key, value);

  std::string id_value;
  codec::PutFixed64(id_value, seq);
  codec::PutFixed64(id_value, Fingerprint(payload));
  impl_->wb.Put(cf[kEventId], rocksdb::Slice(event_id.data(), event_id.size()), id_value);

  std::string child_key(child_id);
  child_key.push_back('\0');
  codec::PutBigEndian32(child_key, codec::DaysKey(occurred));
  codec::PutBigEndian64(child_key, seq);
  impl_->wb.Put(cf[kChild], child_key, rocksdb::Slice());
  return seq;
}

void EventStore::Batch::SetNextOffset(const TopicPartition& tp, int64_t next_offset) {
  std::string v;
  codec::PutFixed64(v, uint64_t(next_offset));
  impl_->wb.Put((*impl_->cf)[kOffsets], PartitionKey(tp), v);
}

void EventStore::Batch::PutDeadLetter(const TopicPartition& from, int64_t offset,
                                      std::string_view reason, std::string_view payload) {
  std::string key = PartitionKey(from);
  codec::PutBigEndian64(key, uint64_t(offset));
  std::string value;
  codec::PutLengthPrefixed(value, reason);
  value.append(payload);
  impl_->wb.Put((*impl_->cf)[kDeadLetter], key, value);
}

void EventStore::Batch::PutState(std::string_view key, std::string_view value) {
  impl_->wb.Put((*impl_->cf)[kProjection], rocksdb::Slice(key.data(), key.size()),
                rocksdb::Slice(value.data(), value.size()));
}

void EventStore::Batch::AddToCounter(std::string_view key, int64_t delta) {
  std::string v;
  codec::PutFixed64(v, uint64_t(delta));
  impl_->wb.Merge((*impl_->cf)[kProjection], rocksdb::Slice(key.data(), key.size()), v);
}

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& options) {
  std::error_code ec;
  if (!options.read_only && !std::filesystem::exists(options.path, ec)) {
    std::filesystem::create_directories(options.path, ec);
    if (ec)
      return Status::Fatal("cannot create store directory " + options.path + ": " + ec.message());
    ::chmod(options.path.c_str(), 0700);  // the store holds pseudonymous personal data
  }
  if (options.read_only && !std::filesystem::exists(options.path + "/CURRENT", ec)) {
    return Status::BadInput("no store at " + options.path + " (run `careledger ingest` first)");
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.max_open_files = 512;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  auto table_factory =
      std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kCfNames) {
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.table_factory = table_factory;
    // LZ4 roughly halves JSON payloads for little CPU; reads decompress a block at a time.
    cf_options.compression = rocksdb::kLZ4Compression;
    if (std::strcmp(name, "projection") == 0) {
      cf_options.merge_operator = std::make_shared<Int64AddOperator>();
    }
    descriptors.emplace_back(name, cf_options);
  }

  auto impl = std::make_unique<Impl>();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors, &impl->cf, &raw)
          : rocksdb::DB::Open(db_options, options.path, descriptors, &impl->cf, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::Fatal("store " + options.path + " is in use by another careledger process (" +
                           s.ToString() + ")");
    }
    return FromRocks(s, "open store " + options.path);
  }
  impl->db.reset(raw);
  impl->write_options.sync = options.sync;

  std::unique_ptr<EventStore> store(new EventStore());
  store->impl_ = std::move(impl);
  // The next sequence follows the last log key: the log is the only source of truth for it.
  std::unique_ptr<rocksdb::Iterator> it(
      store->impl_->db->NewIterator(rocksdb::ReadOptions(), store->impl_->cf[kLog]));
  it->SeekToLast();
  if (it->Valid()) store->next_sequence_ = codec::GetBigEndian64(it->key().data()) + 1;
  CARELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "read log tail"));
  return store;
}

EventStore::~EventStore() = default;

EventStore::Batch EventStore::NewBatch() const {
  Batch b;
  b.impl_->cf = &impl_->cf;
  b.next_sequence_ = next_sequence_;
  return b;
}

Status EventStore::Write(Batch& batch) {
  if (batch.next_sequence_ < next_sequence_) {
    return Status::Fatal("batch built on a stale sequence (two writers?)");
  }
  CARELEDGER_RETURN_IF_ERROR(
      FromRocks(impl_->db->Write(impl_->write_options, &batch.impl_->wb), "write batch"));
  next_sequence_ = batch.next_sequence_;
  return Status::Ok();
}

Result<std::optional<int64_t>> EventStore::NextOffset(const TopicPartition& tp) const {
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf[kOffsets], PartitionKey(tp), &v);
  if (s.IsNotFound()) return std::optional<int64_t>();
  CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "read offset"));
  return std::optional<int64_t>(int64_t(codec::GetFixed64(v.data())));
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

Result<std::optional<std::string>> EventStore::GetState(std::string_view key) const {
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf[kProjection],
                          rocksdb::Slice(key.data(), key.size()), &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  CARELEDGER_RETURN_IF_ERROR(FromRocks(s, "read projection state"));
  return std::optional<std::string>(std::move(v));
}

Status EventStore::ScanState(
    std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf[kProjection]));
  rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    if (!visit({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()})) {
      break;
    }
  }
  return FromRocks(it->status(), "scan projection state");
}

Status EventStore::ScanLog(const std::function<bool(const LogRecord&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf[kLog]));
  LogRecord rec;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rec.sequence = codec::GetBigEndian64(it->key().data());
    if (!codec::DecodeLogValue({it->value().data(), it->value().size()}, rec)) {
      return Status::Fatal("log record " + std::to_string(rec.sequence) + " is malformed");
    }
    if (!visit(rec)) break;
  }
  return FromRocks(it->status(), "scan log");
}

Status EventStore::ScanDeadLetters(
    const std::function<bool(const TopicPartition&, int64_t, std::string_view)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf[kDeadLetter]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    auto nul = key.find('\0');
    if (nul == std::string_view::npos || key.size() != nul + 13) continue;
    TopicPartition tp{std::string(key.substr(0, nul)),
                      int32_t(codec::GetBigEndian32(key.data() + nul + 1))};
    int64_t offset = int64_t(codec::GetBigEndian64(key.data() + nul + 5));
    std::string_view value(it->value().data(), it->value().size());
    std::string_view reason;
    if (!codec::GetLengthPrefixed(value, reason)) continue;
    if (!visit(tp, offset, reason)) break;
  }
  return FromRocks(it->status(), "scan dead letters");
}

}  // namespace careledger
