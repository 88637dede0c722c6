// Verify (the hash chain, offsets and dead letters against their ledgers), checkpoints and
// the state hash.
#include "store_impl.h"

namespace careledger {

std::string ToHex(const ChainHash& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : h) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

namespace {

Status Breach(std::string what) {
  return Status::Fatal("verify: " + std::move(what));
}

// The store as every check reads it: one snapshot, so a consistent view even while ingest
// writes.
struct VerifyView {
  rocksdb::DB* db = nullptr;
  const std::vector<rocksdb::ColumnFamilyHandle*>* cf = nullptr;
  rocksdb::ReadOptions ro = {};

  rocksdb::ColumnFamilyHandle* family(Cf c) const { return (*cf)[c]; }
  bool Get(Cf c, std::string_view key, std::string& value) const {
    return db->Get(ro, family(c), key, &value).ok();
  }
  std::unique_ptr<rocksdb::Iterator> Scan(Cf c) const {
    return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro, family(c)));
  }
};

// The log: records numbered without a hole, the hash chain unbroken, every payload parsing,
// and each record under its event id and in the per-child index. Notes the highest offset
// stored from each partition.
Status CheckLog(const VerifyView& view, VerifyReport& report,
                std::map<TopicPartition, int64_t>& last_offset) {
  EnvelopeParser parser;
  Envelope env;
  LogRecord rec;
  auto it = view.Scan(kLog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t seq = codec::GetBigEndian64(it->key().data());
    std::string at = "log record " + std::to_string(seq);
    if (seq != report.records) {
      return Breach("log record " + std::to_string(report.records) + " is missing (the next is " +
                    std::to_string(seq) + ")");
    }
    std::string_view header;
    if (!codec::DecodeLogValue({it->value().data(), it->value().size()}, rec, &header)) {
      return Breach(at + " is malformed");
    }
    if (codec::ComputeChain(report.head, seq, header, rec.payload) != rec.chain) {
      return Breach(at + ": hash chain broken (the record was altered, or records reordered)");
    }
    report.head = rec.chain;
    ++report.records;
    if (!parser.Parse(rec.payload, env).ok()) return Breach(at + ": payload no longer parses");
    std::string v;
    auto s = view.db->Get(view.ro, view.family(kEventId), env.event_id, &v);
    if (!s.ok() || v.size() != 16 || codec::GetFixed64(v.data()) != seq) {
      return Breach(at + ": its event_id key is missing or points elsewhere");
    }
    std::string child_key = env.child_id;
    child_key.push_back('\0');
    codec::PutBigEndian32(child_key, codec::DaysKey(env.occurred_at.date));
    codec::PutBigEndian64(child_key, seq);
    if (!view.Get(kChild, child_key, v)) return Breach(at + ": missing from the per-child index");
    auto& last = last_offset[{rec.topic, rec.partition}];
    last = std::max(last, rec.offset);
  }
  return FromRocks(it->status(), "verify: scan log");
}

// The log ends where meta's head says it does: records removed from its end are caught.
Status CheckLogHead(const VerifyView& view, const VerifyReport& report) {
  std::string head;
  bool found = view.Get(kMeta, kMetaLogHead, head);
  if (report.records > 0) {
    if (!found || head.size() != 40) return Breach("the log head is missing from meta");
    if (codec::GetBigEndian64(head.data()) != report.records ||
        std::memcmp(head.data() + 8, report.head.data(), 32) != 0) {
      return Breach("the log ends before its recorded head (records removed from the end)");
    }
  }
  return Status::Ok();
}

// One event_id key and one per-child index entry a record: none left over.
Status CheckIndexCounts(const VerifyView& view, uint64_t records) {
  for (auto [family, name] :
       {std::pair{kEventId, "event_id keys"}, std::pair{kChild, "per-child index entries"}}) {
    uint64_t n = 0;
    auto i = view.Scan(family);
    for (i->SeekToFirst(); i->Valid(); i->Next()) ++n;
    if (n != records) {
      return Breach(std::to_string(n) + " " + name + " for " + std::to_string(records) +
                    " log records");
    }
  }
  return Status::Ok();
}

// Dead letters: as many as the batches counted (one deleted or slipped in is caught), each
// below its partition's stored offset like the log's records (noted in `last_offset`).
Status CheckDeadLetters(const VerifyView& view, VerifyReport& report,
                        std::map<TopicPartition, int64_t>& last_offset) {
  uint64_t dead_letters = 0;
  auto dl = view.Scan(kDeadLetter);
  for (dl->SeekToFirst(); dl->Valid(); dl->Next()) {
    DeadLetter letter;
    if (!DecodeDeadLetter({dl->key().data(), dl->key().size()},
                          {dl->value().data(), dl->value().size()}, letter)) {
      return Breach("dead letter " + std::to_string(dead_letters) + " is malformed");
    }
    ++dead_letters;
    auto& last = last_offset[letter.from];
    last = std::max(last, letter.offset);
  }
  CARELEDGER_RETURN_IF_ERROR(FromRocks(dl->status(), "verify: scan dead letters"));
  report.dead_letters = dead_letters;
  std::string count;
  if (view.Get(kMeta, kMetaDeadLetters, count)) {
    if (count.size() != 8) return Breach("the dead-letter count in meta is malformed");
    if (uint64_t recorded = codec::GetFixed64(count.data()); recorded != dead_letters) {
      return Breach(std::to_string(dead_letters) + " dead letters where the batches stored " +
                    std::to_string(recorded) +
                    (dead_letters < recorded ? " (a dead letter was deleted)"
                                             : " (a dead letter was added outside ingest)"));
    }
  }
  return Status::Ok();
}

Status ReadStoredOffsets(const VerifyView& view, std::map<std::string, std::string>& stored) {
  auto oi = view.Scan(kOffsets);
  for (oi->SeekToFirst(); oi->Valid(); oi->Next()) {
    stored.emplace(oi->key().ToString(), oi->value().ToString());
  }
  return FromRocks(oi->status(), "verify: scan offsets");
}

// A partition key as operators name it: "topic/partition".
std::string PartitionName(std::string_view key) {
  auto nul = key.find('\0');
  if (nul == std::string_view::npos || key.size() != nul + 5) return std::string(key);
  return std::string(key.substr(0, nul)) + "/" +
         std::to_string(int32_t(codec::GetBigEndian32(key.data() + nul + 1)));
}

std::string OffsetText(std::string_view v) {
  return v.size() == 8 ? std::to_string(int64_t(codec::GetFixed64(v.data()))) : "malformed";
}

// No stored offset behind what the store holds from its partition.
Status CheckOffsetsAhead(const std::map<std::string, std::string>& stored,
                         const std::vector<OffsetGap>& gaps,
                         const std::map<TopicPartition, int64_t>& last_offset) {
  // A partition read again from a recreated topic (an accepted gap whose log ended below the
  // store's offset) holds records from the old topic above its new offsets.
  std::set<TopicPartition> reread;
  for (const auto& gap : gaps) {
    if (gap.accepted && gap.to < gap.from) reread.insert(gap.partition);
  }
  for (const auto& [tp, offset] : last_offset) {
    if (reread.count(tp)) continue;
    auto at = stored.find(PartitionKey(tp));
    if (at == stored.end() || at->second.size() != 8 ||
        int64_t(codec::GetFixed64(at->second.data())) <= offset) {
      return Breach("the stored offset of " + tp.topic + "/" + std::to_string(tp.partition) +
                    " is behind the log (offset " + std::to_string(offset) + " is stored)");
    }
  }
  return Status::Ok();
}

// Each offset as the last batch that set it wrote it (meta's copy), and none it did not.
Status CheckOffsetsAsWritten(const VerifyView& view,
                             const std::map<std::string, std::string>& stored) {
  std::string mirror;
  if (!view.Get(kMeta, kMetaOffsets, mirror)) return Status::Ok();
  std::map<std::string, std::string> written;
  if (!DecodeOffsetsMirror(mirror, written)) {
    return Breach("the copy of the offsets in meta is malformed");
  }
  for (const auto& [key, value] : written) {
    auto at = stored.find(key);
    if (at == stored.end()) {
      return Breach("the stored offset of " + PartitionName(key) + " is missing (ingest wrote " +
                    OffsetText(value) + ")");
    }
    if (at->second != value) {
      return Breach("the stored offset of " + PartitionName(key) + " is " + OffsetText(at->second) +
                    " where ingest wrote " + OffsetText(value) +
                    " (an offset was edited: the next ingest would skip or repeat messages)");
    }
  }
  for (const auto& [key, value] : stored) {
    if (!written.count(key)) {
      return Breach("the stored offset of " + PartitionName(key) + " (" + OffsetText(value) +
                    ") was not written by ingest");
    }
  }
  return Status::Ok();
}

// Every unpublished mark names a stored dead letter.
Status CheckUnpublishedMarks(const VerifyView& view) {
  auto marks = view.Scan(kMeta);
  const rocksdb::Slice unpublished(kMetaUnpublished.data(), kMetaUnpublished.size());
  for (marks->Seek(unpublished); marks->Valid() && marks->key().starts_with(unpublished);
       marks->Next()) {
    std::string key(marks->key().data() + unpublished.size(),
                    marks->key().size() - unpublished.size()),
        v;
    if (!view.Get(kDeadLetter, key, v)) {
      return Breach("an unpublished mark names no stored dead letter (a dead letter was deleted)");
    }
  }
  return FromRocks(marks->status(), "verify: scan unpublished marks");
}

}  // namespace

Result<VerifyReport> EventStore::Verify() const {
  // A consistent view even while ingest writes.
  ScopedSnapshot snapshot(impl_->db.get());
  VerifyView view;
  view.db = impl_->db.get();
  view.cf = &impl_->cf;
  view.ro.snapshot = snapshot.get();

  VerifyReport report;
  std::map<TopicPartition, int64_t> last_offset;
  CARELEDGER_RETURN_IF_ERROR(CheckLog(view, report, last_offset));
  CARELEDGER_RETURN_IF_ERROR(CheckLogHead(view, report));
  CARELEDGER_RETURN_IF_ERROR(CheckIndexCounts(view, report.records));
  CARELEDGER_RETURN_IF_ERROR(CheckDeadLetters(view, report, last_offset));
  // Offsets: each as the last batch that set it wrote it, and none behind what the store holds.
  std::map<std::string, std::string> stored;
  CARELEDGER_RETURN_IF_ERROR(ReadStoredOffsets(view, stored));
  auto gaps = Gaps();
  if (!gaps.ok()) return gaps.status();
  CARELEDGER_RETURN_IF_ERROR(CheckOffsetsAhead(stored, *gaps, last_offset));
  CARELEDGER_RETURN_IF_ERROR(CheckOffsetsAsWritten(view, stored));
  // Last: a dead letter deleted or moved leaves its mark behind, and the checks above name
  // that more precisely.
  CARELEDGER_RETURN_IF_ERROR(CheckUnpublishedMarks(view));
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

}  // namespace careledger
