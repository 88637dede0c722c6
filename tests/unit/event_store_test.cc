// The event store on a real RocksDB in a temp directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

const TopicPartition kP0{"careledger.socialcare.v1", 0};

std::unique_ptr<EventStore> Open(const std::string& path, bool read_only = false) {
  auto s = EventStore::Open({.path = path, .read_only = read_only, .sync = false});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s.value()) : nullptr;
}

int64_t Counter(const EventStore& store, const std::string& key) {
  int64_t value = 0;
  EXPECT_TRUE(store
                  .ScanState(key,
                             [&](std::string_view, std::string_view v) {
                               value = DecodeCounter(v);
                               return false;
                             })
                  .ok());
  return value;
}

void AppendTwo(EventStore& store) {
  auto batch = store.NewBatch();
  EXPECT_EQ(batch.Append("id-a", "child-1", *ParseDate("2024-01-01"), kP0, 10, "payload-a"), 0u);
  EXPECT_EQ(batch.Append("id-b", "child-2", *ParseDate("2024-01-02"), kP0, 11, "payload-b"), 1u);
  batch.SetNextOffset(kP0, 12);
  ASSERT_TRUE(store.Write(batch).ok());
}

TEST(EventStore, AppendedEventsAreFoundByIdWithTheirFingerprint) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  AppendTwo(*store);
  std::vector<std::optional<StoredEventId>> found;
  ASSERT_TRUE(store->FindEventIds({"id-b", "id-a", "id-z"}, found).ok());
  ASSERT_EQ(found.size(), 3u);
  ASSERT_TRUE(found[0] && found[1]);
  EXPECT_EQ(found[0]->sequence, 1u);
  EXPECT_EQ(found[0]->fingerprint, Fingerprint("payload-b"));
  EXPECT_EQ(found[1]->sequence, 0u);
  EXPECT_FALSE(found[2].has_value());
}

TEST(EventStore, LogKeepsOriginalBytesAndKafkaCoordinatesInOrder) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  AppendTwo(*store);
  std::vector<LogRecord> records;
  ASSERT_TRUE(store
                  ->ScanLog([&](const LogRecord& r) {
                    records.push_back(r);
                    return true;
                  })
                  .ok());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].sequence, 0u);
  EXPECT_EQ(records[0].topic, "careledger.socialcare.v1");
  EXPECT_EQ(records[0].partition, 0);
  EXPECT_EQ(records[0].offset, 10);
  EXPECT_EQ(records[0].payload, "payload-a");
  EXPECT_EQ(records[1].payload, "payload-b");
  EXPECT_NE(records[0].chain, records[1].chain);
}

TEST(EventStore, OffsetsRoundTripPerPartition) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  AppendTwo(*store);
  EXPECT_EQ(*store->NextOffset(kP0), std::optional<int64_t>(12));
  EXPECT_EQ(*store->NextOffset({"careledger.socialcare.v1", 1}), std::nullopt);
  EXPECT_EQ(*store->NextOffset({"careledger.police.v1", 0}), std::nullopt);
}

TEST(EventStore, CountersAddAcrossBatches) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  auto b1 = store->NewBatch();
  b1.AddToCounter("cla-x", 3);
  b1.AddToCounter("cla-x", -1);
  ASSERT_TRUE(store->Write(b1).ok());
  auto b2 = store->NewBatch();
  b2.AddToCounter("cla-x", 5);
  ASSERT_TRUE(store->Write(b2).ok());
  EXPECT_EQ(Counter(*store, "cla-x"), 7);
}

TEST(EventStore, ABatchIsWrittenOnlyOnce) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  auto batch = store->NewBatch();
  batch.AddToCounter("cla-x", 2);
  ASSERT_TRUE(store->Write(batch).ok());
  Status again = store->Write(batch);
  EXPECT_EQ(again.error_class(), ErrorClass::kFatal);
  EXPECT_EQ(Counter(*store, "cla-x"), 2) << "its deltas are applied once";
}

TEST(EventStore, ABatchBuiltOnAnUnwrittenOneIsWrittenAfterIt) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  // Verify re-parses every payload, so these are real envelopes.
  auto envelope = [](const std::string& id) {
    return R"({"event_id":")" + id +
           R"(","type":"care.period_ended","schema_version":1,"source":"lcs","child_id":"c",)"
           R"("occurred_at":"2024-01-01","recorded_at":"2024-01-01T09:00:00Z",)"
           R"("data":{"reason":"E13"}})";
  };
  auto first = store->NewBatch();
  EXPECT_EQ(first.Append("id-a", "c", *ParseDate("2024-01-01"), kP0, 0, envelope("id-a")), 0u);
  auto second = store->NewBatchAfter(first.tail());
  EXPECT_EQ(second.Append("id-b", "c", *ParseDate("2024-01-01"), kP0, 1, envelope("id-b")), 1u);
  second.SetNextOffset(kP0, 2);
  EXPECT_EQ(store->Write(second).error_class(), ErrorClass::kFatal) << "not before the first";
  ASSERT_TRUE(store->Write(first).ok());
  ASSERT_TRUE(store->Write(second).ok());
  EXPECT_EQ(store->next_sequence(), 2u);
  auto report = store->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->records, 2u) << "one unbroken chain";
}

TEST(EventStore, UnwrittenBatchChangesNothing) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  {
    auto batch = store->NewBatch();
    (void)batch.Append("id-a", "c", *ParseDate("2024-01-01"), kP0, 0, "p");
    batch.SetNextOffset(kP0, 1);
  }
  std::vector<std::optional<StoredEventId>> found;
  ASSERT_TRUE(store->FindEventIds({"id-a"}, found).ok());
  EXPECT_FALSE(found[0].has_value());
  EXPECT_EQ(*store->NextOffset(kP0), std::nullopt);
  EXPECT_EQ(store->next_sequence(), 0u);
}

TEST(EventStore, SequencesContinueAfterReopen) {
  test::TempDir dir;
  {
    auto store = Open(dir / "s");
    AppendTwo(*store);
  }
  auto store = Open(dir / "s");
  EXPECT_EQ(store->next_sequence(), 2u);
  auto batch = store->NewBatch();
  EXPECT_EQ(batch.Append("id-c", "child-3", *ParseDate("2024-01-03"), kP0, 12, "payload-c"), 2u);
  batch.SetNextOffset(kP0, 13);
  ASSERT_TRUE(store->Write(batch).ok());
  std::vector<uint64_t> sequences;
  ASSERT_TRUE(store
                  ->ScanLog([&](const LogRecord& r) {
                    sequences.push_back(r.sequence);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(sequences, (std::vector<uint64_t>{0, 1, 2}));
}

TEST(EventStore, ReadOnlyOpenWorksBesideAWriter) {
  test::TempDir dir;
  auto writer = Open(dir / "s");
  AppendTwo(*writer);
  auto reader = Open(dir / "s", /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->next_sequence(), 2u);
  EXPECT_EQ(*reader->NextOffset(kP0), std::optional<int64_t>(12));
}

TEST(EventStore, SecondWriterIsRefusedWithAClearMessage) {
  test::TempDir dir;
  auto writer = Open(dir / "s");
  auto second = EventStore::Open({.path = dir / "s"});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), ::testing::HasSubstr("in use by another careledger"));
}

TEST(EventStore, IsCreatedWholeWithOwnerOnlyPermissions) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(std::filesystem::status(dir / "s").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename(), "s") << "no side directory is left behind";
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

TEST(EventStore, RefusesANonEmptyDirectoryThatIsNotAStore) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "docs");
  test::WriteFile(dir / "docs/notes.txt", "x");
  auto s = EventStore::Open({.path = dir / "docs"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), ::testing::HasSubstr("is not a careledger store"));
  EXPECT_FALSE(std::filesystem::exists(dir / "docs/CURRENT"));
}

TEST(EventStore, ReadOnlyOpenOfAMissingStoreNamesThePath) {
  test::TempDir dir;
  auto s = EventStore::Open({.path = dir / "nope", .read_only = true});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), ::testing::HasSubstr(dir / "nope"));
}

TEST(EventStore, DeadLettersKeepTheirCoordinatesAndReason) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  auto batch = store->NewBatch();
  batch.PutDeadLetter({"careledger.police.v1", 4}, 77, "not valid JSON", "{oops");
  ASSERT_TRUE(store->Write(batch).ok());
  int seen = 0;
  ASSERT_TRUE(store
                  ->ScanDeadLetters([&](const DeadLetter& d) {
                    ++seen;
                    EXPECT_EQ(d.from.topic, "careledger.police.v1");
                    EXPECT_EQ(d.from.partition, 4);
                    EXPECT_EQ(d.offset, 77);
                    EXPECT_EQ(d.reason, "not valid JSON");
                    EXPECT_EQ(d.payload, "{oops");
                    EXPECT_EQ(d.Id(), "careledger.police.v1/4@77");
                    return true;
                  })
                  .ok());
  EXPECT_EQ(seen, 1);
  auto id = ParseDeadLetterId("careledger.police.v1/4@77");
  ASSERT_TRUE(id.ok());
  auto one = store->GetDeadLetter(id->first, id->second);
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->payload, "{oops");
  auto none = store->GetDeadLetter(id->first, 78);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(EventStore, DeadLetterIdsThatAreNotTopicPartitionOffsetAreRefused) {
  for (const char* bad :
       {"", "topic", "topic/1", "topic@1", "/1@2", "t/x@1", "t/1@", "t/1@-3", "t/99999999999@1"}) {
    auto id = ParseDeadLetterId(bad);
    EXPECT_EQ(id.status().error_class(), ErrorClass::kBadInput) << bad;
  }
  auto id = ParseDeadLetterId("a/b.v1/2@30");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->first, (TopicPartition{"a/b.v1", 2}));
  EXPECT_EQ(id->second, 30);
}

}  // namespace
}  // namespace careledger
