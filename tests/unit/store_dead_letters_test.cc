// The event store's dead letters: in key order, by id with their coordinates and reason, their
// ids parsed, and their unpublished marks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "careledger/store.h"
#include "store_test_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;

TEST(EventStore, DeadLettersComeBackInTopicPartitionOffsetOrder) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  auto batch = store->NewBatch();
  batch.PutDeadLetter(kPolice2, 10, RejectKind::kSchema, "field 'data': must be an object",
                      R"({"data":[]})");
  batch.PutDeadLetter(kPolice2, 9, RejectKind::kInvalidJson, "not valid JSON: TAPE_ERROR", "{oops");
  batch.PutDeadLetter(kCare0, 300, RejectKind::kConflict,
                      "conflict: ev-1 stored with other content", "{}");
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

TEST(EventStore, DeadLettersKeepTheirCoordinatesAndReason) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  auto batch = store->NewBatch();
  batch.PutDeadLetter({"careledger.police.v1", 4}, 77, RejectKind::kInvalidJson, "not valid JSON",
                      "{oops");
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

std::vector<std::string> UnpublishedIds(const EventStore& store) {
  std::vector<std::string> ids;
  Status s = store.ScanUnpublishedDeadLetters([&](const DeadLetter& d) {
    ids.push_back(d.Id());
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ids;
}

TEST(EventStore, DeadLettersToPublishStayMarkedUnpublishedUntilMarkedPublished) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  {
    // A batch never written marks nothing: the mark is in the dead letter's own batch.
    auto unwritten = store->NewBatch();
    unwritten.PutDeadLetter(kCare0, 1, RejectKind::kInvalidJson, "not valid JSON", "{");
  }
  auto batch = store->NewBatch();
  batch.PutDeadLetter(kPolice2, 10, RejectKind::kSchema, "field 'data': must be an object",
                      R"({"data":[]})");
  batch.PutDeadLetter(kPolice2, 9, RejectKind::kInvalidJson, "not valid JSON: TAPE_ERROR", "{oops");
  batch.PutDeadLetter(kCare0, 300, RejectKind::kConflict,
                      "conflict: ev-1 stored with other content", "{}");
  batch.PutDeadLetter(kCare0, 301, RejectKind::kInvalidJson, "not valid JSON", "{",
                      /*to_publish=*/false);
  batch.SetNextOffset(kPolice2, 11);  // as ingest does: verify wants offsets past them
  batch.SetNextOffset(kCare0, 302);
  ASSERT_TRUE(store->Write(batch).ok());

  // Whole dead letters, in id order, without the one not to publish.
  std::vector<DeadLetter> left;
  ASSERT_TRUE(store
                  ->ScanUnpublishedDeadLetters([&](const DeadLetter& d) {
                    left.push_back(d);
                    return true;
                  })
                  .ok());
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].Id(), "careledger.police.v1/2@9");
  EXPECT_EQ(left[0].reason, "not valid JSON: TAPE_ERROR");
  EXPECT_EQ(left[0].payload, "{oops");
  EXPECT_EQ(left[1].Id(), "careledger.police.v1/2@10");
  EXPECT_EQ(left[2].Id(), "careledger.socialcare.v1/0@300");

  ASSERT_TRUE(store->MarkDeadLettersPublished({{kPolice2, 9}, {kCare0, 300}}).ok());
  EXPECT_EQ(UnpublishedIds(*store), std::vector<std::string>{"careledger.police.v1/2@10"});
  ASSERT_TRUE(store->MarkDeadLettersPublished({}).ok());

  // Marks and their clearing survive a reopen; the dead letters themselves all stay, and verify
  // holds throughout.
  auto verified = store->Verify();
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  store.reset();
  store = OpenStore(dir / "s");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(UnpublishedIds(*store), std::vector<std::string>{"careledger.police.v1/2@10"});
  ASSERT_TRUE(store->MarkDeadLettersPublished({{kPolice2, 10}}).ok());
  EXPECT_TRUE(UnpublishedIds(*store).empty());
  auto report = store->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->dead_letters, 4u);
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
