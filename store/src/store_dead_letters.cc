// The dead-letter store and its outbox marks.
#include "store_impl.h"

namespace careledger {

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

}  // namespace

namespace store_detail {

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

}  // namespace store_detail

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

}  // namespace careledger
