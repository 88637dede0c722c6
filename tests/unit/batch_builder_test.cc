// The ingest batch rule without Kafka (consumers/src/batch_builder.h) on a real store: which
// messages are appended, refused, skipped or repeated, and which repeats are duplicates or
// conflicts, each case worked by hand.
#include "batch_builder.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "careledger/kafka.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Ev;

const std::string kCare(TopicFor(EventType::kCarePeriodStarted));
const std::string kPolice(TopicFor(EventType::kMissingReported));

// A store with the partitions it holds, building batches as ingest does, one after the other
// (each written before the next is built, unless `Unwritten` is used).
class BatchBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = EventStore::Open({.path = dir_ / "s", .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    projector_ = std::make_unique<Projector>(*store_);
    next_[{kCare, 0}] = 0;
    next_[{kCare, 1}] = 0;
    next_[{kPolice, 0}] = 0;
  }

  // A message on `topic`/`partition` at `offset`, keyed by `key`; its bytes are kept here.
  RawMessage Message(const std::string& payload, const std::string& key, const std::string& topic,
                     int32_t partition, int64_t offset) {
    const std::string& bytes = *kept_.emplace_back(std::make_unique<std::string>(payload));
    const std::string& k = *kept_.emplace_back(std::make_unique<std::string>(key));
    const std::string& t = *kept_.emplace_back(std::make_unique<std::string>(topic));
    return {t, k, bytes, partition, offset};
  }

  BatchContext Context() {
    BatchContext context;
    context.next_offset = [this](const TopicPartition& tp) -> std::optional<int64_t> {
      auto it = next_.find(tp);
      return it == next_.end() ? std::nullopt : std::optional<int64_t>(it->second);
    };
    context.partition_counts = &counts_;
    return context;
  }

  // Builds a batch of `messages`, settles its repeats and writes it: the next offsets become
  // the ones held.
  BuiltBatch Build(const std::vector<RawMessage>& messages, uint64_t* duplicates = nullptr,
                   std::vector<BatchReject>* conflicts = nullptr) {
    auto& envelopes = envelopes_.emplace_back();
    auto batch = store_->NewBatch();
    BuiltBatch built;
    Status s =
        BuildBatch(messages, Context(), *store_, parser_, *projector_, envelopes, batch, built);
    EXPECT_TRUE(s.ok()) << s.ToString();
    uint64_t dup = 0;
    std::vector<BatchReject> conf;
    s = SettleRepeats(messages, envelopes, built, *store_, dup, conf);
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = store_->Write(batch);
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (const auto& [tp, next] : built.next_offsets) next_[tp] = next;
    if (duplicates) *duplicates = dup;
    if (conflicts) *conflicts = std::move(conf);
    return built;
  }

  test::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<Projector> projector_;
  EnvelopeParser parser_{
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{2100} / 1 / 1}}}};
  std::map<TopicPartition, int64_t> next_;
  std::map<std::string, int32_t, std::less<>> counts_;
  std::vector<std::unique_ptr<std::string>> kept_;
  std::vector<std::vector<Envelope>> envelopes_;
};

std::string Registered(const std::string& id, const std::string& child) {
  return Ev(id, "child.registered", child, "2024-01-01",
            R"("dob":"2012-05-01","sex":"F","ethnicity":"WBRI")");
}

TEST_F(BatchBuilderTest, AppendsWhatParsesAndIsRoutedAndRefusesTheRestByRule) {
  counts_[kCare] = 2;
  // Where murmur2 puts child "A" of 2 partitions, and the other one.
  const int32_t home = PartitionForKey("A", 2), away = 1 - home;
  const std::vector<RawMessage> messages = {
      Message(Registered("e1", "A"), "A", kCare, home, 0),
      Message("{not json", "A", kCare, home, 1),            // not JSON
      Message(Registered("e3", "A"), "B", kCare, home, 2),  // key is not the child
      Message(Registered("e4", "A"), "A", kPolice, 0, 0),   // care event on police topic
      Message(Registered("e5", "A"), "A", kCare, away, 0),  // wrong partition
      Message(Registered("e6", "A"), "A", kCare, home, 3),
  };
  BuiltBatch built = Build(messages);
  EXPECT_EQ(built.consumed, 6u);
  ASSERT_EQ(built.accepted.size(), 2u);
  EXPECT_EQ(built.accepted[0].envelope->event_id, "e1");
  EXPECT_EQ(built.accepted[1].envelope->event_id, "e6");
  EXPECT_EQ(built.accepted[1].offset, 3);
  ASSERT_EQ(built.rejected.size(), 4u);
  EXPECT_EQ(built.rejected[0].message, 1u);
  EXPECT_EQ(built.rejected[0].kind, RejectKind::kInvalidJson);
  EXPECT_EQ(built.rejected[1].message, 2u);
  EXPECT_EQ(built.rejected[1].kind, RejectKind::kKeyMismatch);
  EXPECT_EQ(built.rejected[2].message, 3u);
  EXPECT_EQ(built.rejected[2].kind, RejectKind::kWrongTopic);
  EXPECT_EQ(built.rejected[3].message, 4u);
  EXPECT_EQ(built.rejected[3].kind, RejectKind::kWrongPartition);
  EXPECT_NE(built.rejected[3].reason.find("murmur2"), std::string::npos);
  EXPECT_TRUE(built.repeats.empty());
  // Every message read moves its partition on, refused ones included.
  EXPECT_EQ((built.next_offsets.at({kCare, home})), 4);
  EXPECT_EQ((built.next_offsets.at({kCare, away})), 1);
  EXPECT_EQ((built.next_offsets.at({kPolice, 0})), 1);
  EXPECT_EQ(store_->next_sequence(), 2u);
}

TEST_F(BatchBuilderTest, SkipsRedeliveriesAndPartitionsNoLongerHeld) {
  next_[{kCare, 0}] = 5;
  next_.erase({kCare, 1});
  const std::vector<RawMessage> messages = {
      Message(Registered("e1", "A"), "A", kCare, 0, 4),  // before the next offset: re-read
      Message(Registered("e2", "B"), "B", kCare, 1, 0),  // a partition revoked
      Message(Registered("e3", "C"), "C", kCare, 0, 5),
  };
  BuiltBatch built = Build(messages);
  EXPECT_EQ(built.consumed, 1u);
  ASSERT_EQ(built.accepted.size(), 1u);
  EXPECT_EQ(built.accepted[0].envelope->event_id, "e3");
  EXPECT_TRUE(built.rejected.empty());
  EXPECT_EQ(built.next_offsets.size(), 1u);
  EXPECT_EQ((built.next_offsets.at({kCare, 0})), 6);
}

TEST_F(BatchBuilderTest,
       ARepeatWithTheSameBytesOrANewRecordedAtIsADuplicateAndOtherBytesAConflict) {
  const std::string first = Registered("e1", "A");
  const std::string later_recorded =
      Ev("e1", "child.registered", "A", "2024-01-01",
         R"("dob":"2012-05-01","sex":"F","ethnicity":"WBRI")", "2024-01-02T09:00:00Z");
  const std::string other_sex = Ev("e1", "child.registered", "A", "2024-01-01",
                                   R"("dob":"2012-05-01","sex":"M","ethnicity":"WBRI")");
  // Within one batch: the first copy is kept, the others settled against it.
  uint64_t duplicates = 0;
  std::vector<BatchReject> conflicts;
  BuiltBatch built =
      Build({Message(first, "A", kCare, 0, 0), Message(first, "A", kCare, 0, 1),
             Message(later_recorded, "A", kCare, 0, 2), Message(other_sex, "A", kCare, 0, 3)},
            &duplicates, &conflicts);
  EXPECT_EQ(built.accepted.size(), 1u);
  EXPECT_EQ(built.repeats.size(), 3u);
  EXPECT_EQ(duplicates, 2u);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].message, 3u);
  EXPECT_EQ(conflicts[0].kind, RejectKind::kConflict);
  // In a later batch, against the stored copy.
  built = Build({Message(first, "A", kCare, 0, 4), Message(other_sex, "A", kCare, 0, 5)},
                &duplicates, &conflicts);
  EXPECT_TRUE(built.accepted.empty());
  ASSERT_EQ(built.repeats.size(), 2u);
  EXPECT_TRUE(built.repeats[0].stored.has_value());
  EXPECT_EQ(duplicates, 1u);
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0].message, 1u);
  EXPECT_EQ(store_->next_sequence(), 1u);
}

TEST_F(BatchBuilderTest, AnIdOfTheUnwrittenBatchBeforeIsARepeatSettledOnceThatBatchIsStored) {
  const std::string first = Registered("e1", "A");
  auto& envelopes_before = envelopes_.emplace_back();
  auto before = store_->NewBatch();
  BuiltBatch built_before;
  const std::vector<RawMessage> one = {Message(first, "A", kCare, 0, 0)};
  ASSERT_TRUE(BuildBatch(one, Context(), *store_, parser_, *projector_, envelopes_before, before,
                         built_before)
                  .ok());
  next_[{kCare, 0}] = 1;
  // The next batch is built before that one is written, as ingest pipelines them.
  BatchContext context = Context();
  context.unwritten_ids = &built_before.ids;
  bool waited = false;
  context.unwritten_durable = [&] {
    waited = true;
    ASSERT_TRUE(store_->Write(before).ok());
  };
  std::vector<Envelope> envelopes;
  auto batch = store_->NewBatchAfter(before.tail());
  BuiltBatch built;
  const std::vector<RawMessage> again = {Message(first, "A", kCare, 0, 1)};
  ASSERT_TRUE(
      BuildBatch(again, context, *store_, parser_, *projector_, envelopes, batch, built).ok());
  EXPECT_TRUE(built.accepted.empty());
  ASSERT_EQ(built.repeats.size(), 1u);
  EXPECT_FALSE(built.repeats[0].stored.has_value());  // not stored when the batch was built
  if (!waited) {
    ASSERT_TRUE(store_->Write(before).ok());
  }
  uint64_t duplicates = 0;
  std::vector<BatchReject> conflicts;
  ASSERT_TRUE(SettleRepeats(again, envelopes, built, *store_, duplicates, conflicts).ok());
  EXPECT_EQ(duplicates, 1u);
  EXPECT_TRUE(conflicts.empty());
  ASSERT_TRUE(store_->Write(batch).ok());
  EXPECT_EQ(store_->next_sequence(), 1u);
}

TEST_F(BatchBuilderTest, AcceptedEventsAreProjectedInTheSameBatch) {
  const std::vector<RawMessage> messages = {
      Message(Registered("a0", "A"), "A", kCare, 0, 0),
      Message(Ev("a1", "care.period_started", "A", "2024-02-01",
                 R"("legal_status":"C2","placement":"U1")"),
              "A", kCare, 0, 1),
  };
  Build(messages);
  auto rows = ClaAt(*store_, *ParseDate("2024-03-31"), ClaDimension::kNone);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->front().children, 1);
  auto stored = store_->NextOffset({kCare, 0});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, std::optional<int64_t>(2));
}

}  // namespace
}  // namespace careledger
