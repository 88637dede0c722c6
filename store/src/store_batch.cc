// A batch: what one commit writes, gathered and written in key order.
#include "store_impl.h"

namespace careledger {

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

}  // namespace careledger
