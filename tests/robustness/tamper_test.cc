// `careledger verify` catches a store altered behind its back: records changed, removed,
// reordered or cut from the end, and broken indexes or offsets, each named.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

#include "care_fixture.h"
#include "careledger/events.h"
#include "careledger/projections.h"
#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;

constexpr int kRecords = 12;

constexpr int kDeadLetters = 2;
const TopicPartition kPolice{"careledger.police.v1", 0};

// A small store with kRecords events from the fixture, folded into the projections as ingest
// does, in two batches; the second also holds kDeadLetters dead letters from another topic.
void BuildStore(const std::string& path) {
  auto fixture = test::BuildCareFixture(10, 8);
  auto store = EventStore::Open({.path = path, .sync = false});
  ASSERT_TRUE(store.ok());
  EnvelopeParser parser;
  Projector projector(**store);
  std::vector<Envelope> envs(kRecords);
  for (int b = 0; b < 2; ++b) {
    auto batch = (*store)->NewBatch();
    std::vector<AcceptedEvent> accepted;
    for (int i = b * kRecords / 2; i < (b + 1) * kRecords / 2; ++i) {
      Envelope& env = envs[size_t(i)];
      ASSERT_TRUE(parser.Parse(fixture.lines[size_t(i)], env).ok());
      uint64_t seq = batch.Append(env.event_id, env.child_id, env.occurred_at.date,
                                  {"careledger.socialcare.v1", 0}, i, fixture.lines[size_t(i)]);
      accepted.push_back({&env, seq, 0, batch.ingested_at()});
    }
    ASSERT_TRUE(projector.Apply(accepted, batch).ok());
    batch.SetNextOffset({"careledger.socialcare.v1", 0}, (b + 1) * kRecords / 2);
    if (b == 1) {
      for (int k = 0; k < kDeadLetters; ++k) {
        batch.PutDeadLetter(kPolice, 40 + k, RejectKind::kSchema,
                            "schema: data.disposal is not a known code", "{}");
      }
      batch.SetNextOffset(kPolice, 40 + kDeadLetters);
    }
    ASSERT_TRUE((*store)->Write(batch).ok());
  }
}

std::string PartitionKeyOf(const TopicPartition& tp) {
  std::string key = tp.topic;
  key.push_back('\0');
  codec::PutBigEndian32(key, uint32_t(tp.partition));
  return key;
}

// The first projection key with `prefix`, found through the store's own reader (the raw
// handle has no merge operator to read counters with).
std::string FirstStateKey(const std::string& path, std::string_view prefix) {
  auto store = EventStore::Open({.path = path, .read_only = true});
  EXPECT_TRUE(store.ok());
  std::string found;
  EXPECT_TRUE((*store)
                  ->ScanState(prefix,
                              [&](std::string_view key, std::string_view value) {
                                if (key.starts_with("cla") && IsZeroCounter(value)) {
                                  return true;
                                }
                                found = key;
                                return false;
                              })
                  .ok());
  EXPECT_FALSE(found.empty());
  return found;
}

// The store's counter merge, so that the raw handle replays the WAL's counter deltas rather than
// stopping at the first one (point-in-time recovery would drop the rest).
class CounterMerge : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* out, rocksdb::Logger*) const override {
    std::string_view before;
    if (existing) before = {existing->data(), existing->size()};
    return MergeCounterCells(existing ? &before : nullptr, {value.data(), value.size()}, *out);
  }
  const char* Name() const override { return "careledger.Int64Add"; }
};

// Raw RocksDB access to the store's column families, as an intruder (or a bad disk) has it.
class RawStore {
 public:
  explicit RawStore(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name :
         {"default", "log", "event_id", "child", "offsets", "deadletter", "projection", "meta"}) {
      rocksdb::ColumnFamilyOptions options;
      if (std::string_view(name) == "projection") {
        options.merge_operator = std::make_shared<CounterMerge>();
      }
      cfs.emplace_back(name, options);
    }
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles_, &db).ok());
    db_.reset(db);
  }
  ~RawStore() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }
  static std::string Seq(uint64_t s) {
    std::string k;
    codec::PutBigEndian64(k, s);
    return k;
  }
  std::string Get(const std::string& family, const std::string& key) {
    std::string v;
    EXPECT_TRUE(db_->Get({}, cf(family), key, &v).ok());
    return v;
  }
  void Put(const std::string& family, const std::string& key, const std::string& value) {
    EXPECT_TRUE(db_->Put({}, cf(family), key, value).ok());
  }
  void Delete(const std::string& family, const std::string& key) {
    EXPECT_TRUE(db_->Delete({}, cf(family), key).ok());
  }
  rocksdb::DB* db() { return db_.get(); }

 private:
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

class Tamper : public ::testing::Test {
 protected:
  void SetUp() override {
    BuildStore(store_);
    auto clean = test::Careledger({"verify", "--data", store_});
    ASSERT_EQ(clean.exit_code, 0) << clean.err;
    ASSERT_THAT(clean.out, HasSubstr("log records      " + std::to_string(kRecords)));
    ASSERT_THAT(clean.out, HasSubstr("dead letters     " + std::to_string(kDeadLetters)));
    auto figures = test::Careledger({"verify", "--figures", "--data", store_});
    ASSERT_EQ(figures.exit_code, 0) << figures.err;
  }
  test::RunResult VerifyAfter(const std::function<void(RawStore&)>& change,
                              std::vector<std::string> flags = {}) {
    {
      RawStore raw(store_);
      change(raw);
    }
    flags.insert(flags.begin(), {"verify", "--data", store_});
    return test::Careledger(flags);
  }
  test::TempDir dir_;
  std::string store_ = dir_ / "store";
};

TEST_F(Tamper, AlteredPayloadBreaksTheChainAtThatRecord) {
  auto r = VerifyAfter([](RawStore& raw) {
    std::string v = raw.Get("log", RawStore::Seq(5));
    v[v.size() - 3] = v[v.size() - 3] == '1' ? '2' : '1';  // one byte of the payload
    raw.Put("log", RawStore::Seq(5), v);
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("log record 5: hash chain broken"));
}

TEST_F(Tamper, DeletedRecordIsNamed) {
  auto r = VerifyAfter([](RawStore& raw) { raw.Delete("log", RawStore::Seq(7)); });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("log record 7 is missing (the next is 8)"));
}

TEST_F(Tamper, ReorderedRecordsBreakTheChain) {
  auto r = VerifyAfter([](RawStore& raw) {
    std::string a = raw.Get("log", RawStore::Seq(2)), b = raw.Get("log", RawStore::Seq(3));
    raw.Put("log", RawStore::Seq(2), b);
    raw.Put("log", RawStore::Seq(3), a);
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("log record 2: hash chain broken"));
}

TEST_F(Tamper, RecordsCutFromTheEndAreCaughtByTheHead) {
  auto r = VerifyAfter([](RawStore& raw) {
    raw.Delete("log", RawStore::Seq(kRecords - 1));
    raw.Delete("log", RawStore::Seq(kRecords - 2));
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the log ends before its recorded head"));
}

TEST_F(Tamper, ACutTailWithTheHeadAndIndexesFixedUpIsCaughtByTheVerifiedHead) {
  // Everything inside the store made consistent again after cutting the last two records:
  // only the head the previous verify kept outside the store (DATA.verified-head) knows.
  ChainHash new_head{};
  {
    auto store = EventStore::Open({.path = store_, .read_only = true});
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->ScanLog(
                        [&](const LogRecord& r) {
                          new_head = r.chain;
                          return false;
                        },
                        kRecords - 3)
                    .ok());
  }
  auto cut = VerifyAfter([&](RawStore& raw) {
    for (uint64_t seq : {kRecords - 2, kRecords - 1}) {
      raw.Delete("log", RawStore::Seq(seq));
      for (auto family : {"event_id", "child"}) {
        std::unique_ptr<rocksdb::Iterator> it(raw.db()->NewIterator({}, raw.cf(family)));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          std::string_view k(it->key().data(), it->key().size());
          std::string_view v(it->value().data(), it->value().size());
          bool of_seq =
              family == std::string_view("event_id")
                  ? v.size() >= 8 && codec::GetFixed64(v.data()) == seq
                  : k.size() >= 8 && codec::GetBigEndian64(k.data() + k.size() - 8) == seq;
          if (of_seq) raw.Delete(family, it->key().ToString());
        }
      }
    }
    std::string head;
    codec::PutBigEndian64(head, kRecords - 2);
    head.append(reinterpret_cast<const char*>(new_head.data()), new_head.size());
    raw.Put("meta", "log_head", head);
  });
  EXPECT_EQ(cut.exit_code, 1) << cut.out;
  EXPECT_THAT(cut.err, HasSubstr("the log no longer holds the head verified at"));
  EXPECT_THAT(cut.err, HasSubstr("(" + std::to_string(kRecords) + " records, chain"));
  EXPECT_THAT(cut.err, HasSubstr("its tail was cut"));
  // The store alone cannot tell: with the kept head elsewhere, it verifies.
  auto alone =
      test::Careledger({"verify", "--data", store_, "--verified-head", store_ + ".elsewhere"});
  EXPECT_EQ(alone.exit_code, 0) << alone.err;
}

TEST_F(Tamper, MissingEventIdKeyIsNamed) {
  auto r = VerifyAfter([](RawStore& raw) {
    std::unique_ptr<rocksdb::Iterator> it(raw.db()->NewIterator({}, raw.cf("event_id")));
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    raw.Delete("event_id", it->key().ToString());
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("its event_id key is missing or points elsewhere"));
}

TEST_F(Tamper, OffsetBehindTheLogIsNamed) {
  auto r = VerifyAfter([](RawStore& raw) {
    std::string key = "careledger.socialcare.v1";
    key.push_back('\0');
    codec::PutBigEndian32(key, 0);
    std::string v;
    codec::PutFixed64(v, 3);
    raw.Put("offsets", key, v);
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("stored offset of careledger.socialcare.v1/0 is behind the log"));
}

// Each kind of record that is not in the hash chain, altered in turn.

TEST_F(Tamper, RaisedOffsetIsNamed) {
  // Raised past the log, the next ingest would skip messages 12..99 without a trace.
  auto r = VerifyAfter([](RawStore& raw) {
    std::string v;
    codec::PutFixed64(v, 100);
    raw.Put("offsets", PartitionKeyOf({"careledger.socialcare.v1", 0}), v);
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the stored offset of careledger.socialcare.v1/0 is 100 where "
                               "ingest wrote 12 (an offset was edited"));
}

// A dead letter written before its kind was stored (the reason's length first) is still read,
// with the kind its reason gave then; one with a kind byte beyond the known kinds is refused.
TEST_F(Tamper, ADeadLetterWithoutAStoredKindIsReadAndABadKindIsRefused) {
  const TopicPartition from{"careledger.police.v1", 3};
  auto key = [&](int64_t offset) {
    std::string k = PartitionKeyOf(from);
    codec::PutBigEndian64(k, uint64_t(offset));
    return k;
  };
  {
    RawStore raw(store_);
    std::string old;
    codec::PutLengthPrefixed(old, "field 'type': not in code list event_type");
    old += "{}";
    raw.Put("deadletter", key(7), old);
  }
  {
    auto store = EventStore::Open({.path = store_, .read_only = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto letter = (*store)->GetDeadLetter(from, 7);
    ASSERT_TRUE(letter.ok() && letter->has_value()) << letter.status().ToString();
    EXPECT_EQ((*letter)->kind, RejectKind::kUnknownType);
    EXPECT_EQ((*letter)->reason, "field 'type': not in code list event_type");
    EXPECT_EQ((*letter)->payload, "{}");
    // Those written now keep the kind they were given, whatever the reason's words.
    auto stored = (*store)->GetDeadLetter(kPolice, 40);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ((*stored)->kind, RejectKind::kSchema);
  }
  {
    RawStore raw(store_);
    raw.Put("deadletter", key(8), std::string("\xff\xff\xff\xff\x7f", 5) + "x");
  }
  auto store = EventStore::Open({.path = store_, .read_only = true});
  ASSERT_TRUE(store.ok());
  auto bad = (*store)->GetDeadLetter(from, 8);
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("dead letter is malformed"));
}

TEST_F(Tamper, OffsetOfAnotherPartitionAddedIsNamed) {
  auto r = VerifyAfter([](RawStore& raw) {
    std::string v;
    codec::PutFixed64(v, 5);
    raw.Put("offsets", PartitionKeyOf({"careledger.yjs.v1", 2}), v);
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the stored offset of careledger.yjs.v1/2 (5) was not written"));
}

TEST_F(Tamper, DeletedDeadLetterIsNamed) {
  auto r = VerifyAfter([](RawStore& raw) {
    std::string key = PartitionKeyOf(kPolice);
    codec::PutBigEndian64(key, 41);
    raw.Delete("deadletter", key);
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("1 dead letters where the batches stored 2 (a dead letter was "
                               "deleted)"));
}

TEST_F(Tamper, DeadLetterAtOrPastItsOffsetIsNamed) {
  auto r = VerifyAfter([](RawStore& raw) {
    std::string key = PartitionKeyOf(kPolice);
    codec::PutBigEndian64(key, 41);
    std::string v = raw.Get("deadletter", key);
    raw.Delete("deadletter", key);
    key.resize(key.size() - 8);
    codec::PutBigEndian64(key, 42);
    raw.Put("deadletter", key, v);
  });
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err,
              HasSubstr("stored offset of careledger.police.v1/0 is behind the log (offset 42"));
}

TEST_F(Tamper, EditedProjectionCounterIsNamedByFigures) {
  const std::string key = FirstStateKey(store_, std::string_view("cla\0month:", 10));
  auto change = [&](RawStore& raw) {
    std::string v;
    codec::PutFixed64(v, 7);
    raw.Put("projection", key, v);
  };
  // Counters are not in the hash chain: only folding the log again shows the edit.
  auto plain = VerifyAfter(change);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  auto r = test::Careledger({"verify", "--figures", "--data", store_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("verify --figures: CLA counter "));
  EXPECT_THAT(r.err, HasSubstr(": live 7, rebuilt from the log "));
}

TEST_F(Tamper, EditedDayCounterIsNamedByFigures) {
  const std::string key = FirstStateKey(store_, std::string_view("cla\0@day\0", 9));
  std::string edited_name;
  auto change = [&](RawStore& raw) {
    // The cell's first name counted 7: the stored cell read back, one count changed.
    std::vector<std::pair<std::string, int64_t>> counts;
    ASSERT_TRUE(
        ForEachNamedCount(raw.Get("projection", key),
                          [&](std::string_view name, int64_t n) { counts.emplace_back(name, n); }));
    ASSERT_FALSE(counts.empty());
    counts[0].second = 7;
    edited_name = counts[0].first;
    std::vector<std::pair<std::string_view, int64_t>> views(counts.begin(), counts.end());
    raw.Put("projection", key, EncodeNamedCounts(views));
  };
  auto plain = VerifyAfter(change);
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  auto r = test::Careledger({"verify", "--figures", "--data", store_});
  EXPECT_EQ(r.exit_code, 1);
  std::replace(edited_name.begin(), edited_name.end(), '\0', '=');
  EXPECT_THAT(r.err, HasSubstr("verify --figures: counters of "));
  EXPECT_THAT(r.err, HasSubstr(edited_name + ": live 7, rebuilt from the log "));
}

TEST_F(Tamper, DeletedFactIsNamedByFigures) {
  const std::string key = FirstStateKey(store_, std::string_view("fact\0", 5));
  auto r = VerifyAfter([&](RawStore& raw) { raw.Delete("projection", key); }, {"--figures"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("verify --figures: fact "));
  EXPECT_THAT(r.err, HasSubstr(": missing from the live state"));
}

}  // namespace
}  // namespace careledger
