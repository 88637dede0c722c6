// `careledger verify` catches a store altered behind its back: records changed, removed,
// reordered or cut from the end, and broken indexes or offsets, each named.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "care_fixture.h"
#include "careledger/events.h"
#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;

constexpr int kRecords = 12;

// A small store with kRecords events from the fixture, in two batches.
void BuildStore(const std::string& path) {
  auto fixture = test::BuildCareFixture(10, 8);
  auto store = EventStore::Open({.path = path, .sync = false});
  ASSERT_TRUE(store.ok());
  EnvelopeParser parser;
  Envelope env;
  for (int b = 0; b < 2; ++b) {
    auto batch = (*store)->NewBatch();
    for (int i = b * kRecords / 2; i < (b + 1) * kRecords / 2; ++i) {
      ASSERT_TRUE(parser.Parse(fixture.lines[size_t(i)], env).ok());
      (void)batch.Append(env.event_id, env.child_id, env.occurred_at.date,
                         {"careledger.socialcare.v1", 0}, i, fixture.lines[size_t(i)]);
    }
    batch.SetNextOffset({"careledger.socialcare.v1", 0}, (b + 1) * kRecords / 2);
    ASSERT_TRUE((*store)->Write(batch).ok());
  }
}

// Raw RocksDB access to the store's column families, as an intruder (or a bad disk) has it.
class RawStore {
 public:
  explicit RawStore(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name :
         {"default", "log", "event_id", "child", "offsets", "deadletter", "projection", "meta"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
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
  }
  test::RunResult VerifyAfter(const std::function<void(RawStore&)>& change) {
    {
      RawStore raw(store_);
      change(raw);
    }
    return test::Careledger({"verify", "--data", store_});
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

}  // namespace
}  // namespace careledger
