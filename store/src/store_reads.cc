// Offsets, assignment, gaps, held corrections, event ids and the projection state.
#include "store_impl.h"

namespace careledger {

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

Status EventStore::PutReference(std::string_view name, std::string_view content) {
  std::string key(kMetaReference);
  key += name;
  rocksdb::WriteOptions synced = impl_->write_options;
  synced.sync = true;
  return FromRocks(
      impl_->db->Put(synced, impl_->cf[kMeta], key, rocksdb::Slice(content.data(), content.size())),
      "record reference table");
}

Result<std::vector<std::pair<std::string, std::string>>> EventStore::References() const {
  std::vector<std::pair<std::string, std::string>> out;
  CARELEDGER_RETURN_IF_ERROR(ScanMeta(*impl_->db, impl_->cf[kMeta], kMetaReference,
                                      "read reference tables",
                                      [&](std::string_view key, std::string_view value) {
                                        out.emplace_back(key, value);
                                        return Status::Ok();
                                      }));
  return out;
}

const std::string& EventStore::path() const {
  return impl_->options.path;
}

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

}  // namespace careledger
