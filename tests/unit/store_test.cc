// The event store on a real RocksDB in a temp directory, adding to event_store_test.cc: exact
// log records across topics, offsets per topic-partition, counters, what survives a reopen,
// readers beside a writer, dead letters in key order, and batches built on a stale sequence.
#include "careledger/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "test_support.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;

const TopicPartition kCare0{"careledger.socialcare.v1", 0};
const TopicPartition kPolice2{"careledger.police.v1", 2};

std::unique_ptr<EventStore> OpenStore(const std::string& path, bool read_only = false) {
  auto s = EventStore::Open({.path = path, .read_only = read_only, .sync = false});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s.value()) : nullptr;
}

std::vector<LogRecord> Log(const EventStore& store) {
  std::vector<LogRecord> records;
  Status s = store.ScanLog([&](const LogRecord& r) {
    records.push_back(r);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return records;
}

std::map<std::string, int64_t> Counters(const EventStore& store, std::string_view prefix) {
  std::map<std::string, int64_t> out;
  Status s = store.ScanState(prefix, [&](std::string_view k, std::string_view v) {
    out[std::string(k)] = DecodeCounter(v);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<std::optional<StoredEventId>> Find(const EventStore& store,
                                               const std::vector<std::string_view>& ids) {
  std::vector<std::optional<StoredEventId>> found;
  EXPECT_TRUE(store.FindEventIds(ids, found).ok());
  return found;
}

// Two events from two topics in one batch, with the offsets consumed.
void WriteTwoEvents(EventStore& store) {
  auto batch = store.NewBatch();
  EXPECT_EQ(
      batch.Append("ev-care", "child-1", *ParseDate("2024-01-05"), kCare0, 40, R"({"n":"care"})"),
      0u);
  EXPECT_EQ(batch.Append("ev-police", "child-1", *ParseDate("2023-12-30"), kPolice2, 7,
                         R"({"n":"police"})"),
            1u);
  EXPECT_EQ(batch.appended(), 2u);
  batch.SetNextOffset(kCare0, 41);
  batch.SetNextOffset(kPolice2, 8);
  ASSERT_TRUE(store.Write(batch).ok());
}

TEST(EventStore, ScanLogYieldsExactRecordsInAppendOrder) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  const auto before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  WriteTwoEvents(*store);
  const auto after = std::chrono::system_clock::now();
  auto records = Log(*store);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].sequence, 0u);
  EXPECT_EQ(records[0].topic, "careledger.socialcare.v1");
  EXPECT_EQ(records[0].partition, 0);
  EXPECT_EQ(records[0].offset, 40);
  EXPECT_EQ(records[0].payload, R"({"n":"care"})");
  EXPECT_EQ(records[1].sequence, 1u);
  EXPECT_EQ(records[1].topic, "careledger.police.v1");
  EXPECT_EQ(records[1].partition, 2);
  EXPECT_EQ(records[1].offset, 7);
  EXPECT_EQ(records[1].payload, R"({"n":"police"})");
  for (const auto& r : records) {
    EXPECT_GE(r.ingested_at, before);
    EXPECT_LE(r.ingested_at, after);
    EXPECT_NE(r.chain, ChainHash{});
  }
}

TEST(EventStore, ScanLogStopsWhenTheVisitorSaysSo) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  WriteTwoEvents(*store);
  int visited = 0;
  ASSERT_TRUE(store
                  ->ScanLog([&](const LogRecord&) {
                    ++visited;
                    return false;
                  })
                  .ok());
  EXPECT_EQ(visited, 1);
}

TEST(EventStore, EverythingWrittenSurvivesAReopen) {
  test::TempDir dir;
  {
    auto store = OpenStore(dir / "s");
    WriteTwoEvents(*store);
    auto batch = store->NewBatch();
    batch.AddToCounter("cla|total", 2);
    batch.PutDeadLetter(kPolice2, 9, "field 'type': unknown event type", "{}");
    ASSERT_TRUE(store->Write(batch).ok());
  }
  auto store = OpenStore(dir / "s");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->next_sequence(), 2u);
  auto found = Find(*store, {"ev-care", "ev-police"});
  ASSERT_TRUE(found[0] && found[1]);
  EXPECT_EQ(found[0]->sequence, 0u);
  EXPECT_EQ(found[1]->fingerprint, Fingerprint(R"({"n":"police"})"));
  EXPECT_EQ(*store->NextOffset(kCare0), std::optional<int64_t>(41));
  EXPECT_EQ(*store->NextOffset(kPolice2), std::optional<int64_t>(8));
  EXPECT_EQ(Counters(*store, "cla|"), (std::map<std::string, int64_t>{{"cla|total", 2}}));
  auto records = Log(*store);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].payload, R"({"n":"police"})");
  // The hash chain continues from the stored head.
  auto batch = store->NewBatch();
  EXPECT_EQ(batch.Append("ev-3", "child-2", *ParseDate("2024-01-06"), kCare0, 41, "{}"), 2u);
  ASSERT_TRUE(store->Write(batch).ok());
  EXPECT_EQ(store->next_sequence(), 3u);
}

TEST(EventStore, ReaderBesideAWriterSeesTheDataAndTheWriterGoesOn) {
  test::TempDir dir;
  auto writer = OpenStore(dir / "s");
  WriteTwoEvents(*writer);
  auto reader = OpenStore(dir / "s", /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->next_sequence(), 2u);
  EXPECT_EQ(Log(*reader).size(), 2u);
  auto found = Find(*reader, {"ev-police"});
  ASSERT_TRUE(found[0].has_value());
  EXPECT_EQ(found[0]->sequence, 1u);
  EXPECT_EQ(*reader->NextOffset(kPolice2), std::optional<int64_t>(8));

  // The writer is not blocked by the reader; a reader opened afterwards sees the new record.
  auto batch = writer->NewBatch();
  (void)batch.Append("ev-3", "child-2", *ParseDate("2024-01-06"), kCare0, 41, "{}");
  batch.SetNextOffset(kCare0, 42);
  ASSERT_TRUE(writer->Write(batch).ok());
  auto second_reader = OpenStore(dir / "s", /*read_only=*/true);
  ASSERT_NE(second_reader, nullptr);
  EXPECT_EQ(second_reader->next_sequence(), 3u);
  EXPECT_EQ(*second_reader->NextOffset(kCare0), std::optional<int64_t>(42));
}

TEST(EventStore, ReadOnlyStoreRefusesToWrite) {
  test::TempDir dir;
  {
    auto store = OpenStore(dir / "s");
    WriteTwoEvents(*store);
  }
  auto reader = OpenStore(dir / "s", /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  auto batch = reader->NewBatch();
  batch.SetNextOffset(kCare0, 99);
  EXPECT_FALSE(reader->Write(batch).ok());
  EXPECT_EQ(*reader->NextOffset(kCare0), std::optional<int64_t>(41));
}

TEST(EventStore, DeadLettersComeBackInTopicPartitionOffsetOrder) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  auto batch = store->NewBatch();
  batch.PutDeadLetter(kPolice2, 10, "field 'data': must be an object", R"({"data":[]})");
  batch.PutDeadLetter(kPolice2, 9, "not valid JSON: TAPE_ERROR", "{oops");
  batch.PutDeadLetter(kCare0, 300, "conflict: ev-1 stored with other content", "{}");
  ASSERT_TRUE(store->Write(batch).ok());
  struct Seen {
    TopicPartition tp;
    int64_t offset;
    std::string reason;
  };
  std::vector<Seen> seen;
  ASSERT_TRUE(store
                  ->ScanDeadLetters([&](const DeadLetter& d) {
                    seen.push_back({d.from, d.offset, d.reason});
                    return true;
                  })
                  .ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].tp, kPolice2);
  EXPECT_EQ(seen[0].offset, 9);
  EXPECT_EQ(seen[0].reason, "not valid JSON: TAPE_ERROR");
  EXPECT_EQ(seen[1].tp, kPolice2);
  EXPECT_EQ(seen[1].offset, 10);
  EXPECT_EQ(seen[1].reason, "field 'data': must be an object");
  EXPECT_EQ(seen[2].tp, kCare0);
  EXPECT_EQ(seen[2].offset, 300);
  EXPECT_EQ(seen[2].reason, "conflict: ev-1 stored with other content");
}

TEST(EventStore, ABatchBuiltBeforeAnotherWriteIsRefusedAndOverwritesNothing) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  auto first = store->NewBatch();
  auto second = store->NewBatch();  // built on the same sequence as `first`
  EXPECT_EQ(first.Append("ev-a", "child-1", *ParseDate("2024-01-01"), kCare0, 0, "payload-a"), 0u);
  EXPECT_EQ(second.Append("ev-b", "child-2", *ParseDate("2024-01-01"), kCare0, 1, "payload-b"), 0u);
  ASSERT_TRUE(store->Write(first).ok());
  Status stale = store->Write(second);
  EXPECT_EQ(stale.error_class(), ErrorClass::kFatal) << "record 0 would be written twice";
  auto records = Log(*store);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].payload, "payload-a");
  EXPECT_EQ(Find(*store, {"ev-b"})[0], std::nullopt);
  EXPECT_EQ(store->next_sequence(), 1u);
}

}  // namespace
}  // namespace careledger
