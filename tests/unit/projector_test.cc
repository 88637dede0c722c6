// The projector on a real store: events for three children, applied in different orders and
// batch splits, give the hand-computed CLA figures and byte-identical projection state.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>

#include "careledger/projections.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Ev;  // one envelope, recorded at noon on the day it happened

// A: enters C2/U1, moves to K2, onto V3, leaves, re-enters C1/U3.
// B: C2/U3 from 2023-02-01 to 2024-03-01.  C: V4 short breaks only, never counted.
std::vector<std::string> Feed() {
  return {
      Ev("a1", "care.period_started", "A", "2023-01-10", R"("legal_status":"C2","placement":"U1")"),
      Ev("a2", "care.placement_changed", "A", "2023-03-01", R"("placement":"K2")"),
      Ev("a3", "care.legal_status_changed", "A", "2023-06-01", R"("legal_status":"V3")"),
      Ev("a4", "care.period_ended", "A", "2023-08-01", R"("reason":"E4A")"),
      Ev("a5", "care.period_started", "A", "2024-02-01", R"("legal_status":"C1","placement":"U3")"),
      Ev("a0", "child.registered", "A", "2022-12-01",
         R"("dob":"2012-05-01","sex":"F","ethnicity":"WBRI")"),
      Ev("b1", "care.period_started", "B", "2023-02-01", R"("legal_status":"C2","placement":"U3")"),
      Ev("b2", "care.period_ended", "B", "2024-03-01", R"("reason":"E13")"),
      Ev("c1", "care.period_started", "C", "2023-01-01", R"("legal_status":"V4","placement":"U3")"),
  };
}

// Applies the feed in batches of `batch_size`, in the given order, as ingest does. `pipelined`:
// as ingest does, each batch is built before the one before it is written. `cache_bytes`: what
// the projector may hold of the children it touched. Every batch is stamped alike, so that
// runs in different orders and splits can be compared byte for byte.
void Ingest(EventStore& store, const std::vector<std::string>& lines, size_t batch_size,
            bool pipelined = false, size_t cache_bytes = ProjectorOptions::kDefaultCacheBytes) {
  test::IngestRun run;
  run.batch_size = batch_size;
  run.stamp = Instant{};
  run.projector.overlapping = pipelined;
  run.projector.cache_bytes = cache_bytes;
  auto counts = test::IngestLines(store, lines, run);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  ASSERT_EQ(counts->rejected, 0u);
}

std::map<std::string, int64_t> Cla(const EventStore& store, const std::string& date,
                                   ClaDimension by) {
  auto rows = ClaAt(store, *ParseDate(date), by);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  std::map<std::string, int64_t> out;
  for (const auto& r : *rows) out[r.group] = r.children;
  return out;
}

// The projection state's meaning: timelines without when each fact was learned, counters that
// net to zero left out (a child's contribution can be added and taken back on days that a
// different arrival order never touches).
std::string ProjectionBytes(const EventStore& store) {
  auto hash = ProjectionStateHash(store);
  EXPECT_TRUE(hash.ok());
  return hash.ok() ? ToHex(*hash) : "";
}

TEST(Projector, ClaAtDatesMatchHandCountedFigures) {
  test::TempDir dir;
  auto store = EventStore::Open({.path = dir / "s", .sync = false});
  ASSERT_TRUE(store.ok());
  Ingest(**store, Feed(), 100);
  using M = std::map<std::string, int64_t>;
  EXPECT_EQ(Cla(**store, "2022-12-31", ClaDimension::kNone), (M{{"", 0}}));
  EXPECT_EQ(Cla(**store, "2023-01-15", ClaDimension::kPlacement), (M{{"U1", 1}}));
  EXPECT_EQ(Cla(**store, "2023-02-15", ClaDimension::kPlacement), (M{{"U1", 1}, {"U3", 1}}));
  EXPECT_EQ(Cla(**store, "2023-04-01", ClaDimension::kPlacement), (M{{"K2", 1}, {"U3", 1}}));
  EXPECT_EQ(Cla(**store, "2023-07-01", ClaDimension::kNone), (M{{"", 1}}));
  EXPECT_EQ(Cla(**store, "2024-02-15", ClaDimension::kPlacement), (M{{"U3", 2}}));
  EXPECT_EQ(Cla(**store, "2024-02-15", ClaDimension::kLegalStatus), (M{{"C1", 1}, {"C2", 1}}));
  EXPECT_EQ(Cla(**store, "2024-03-01", ClaDimension::kNone), (M{{"", 1}}));
}

TEST(Projector, AnyArrivalOrderAndBatchingGivesByteIdenticalState) {
  test::TempDir dir;
  auto reference = EventStore::Open({.path = dir / "ref", .sync = false});
  ASSERT_TRUE(reference.ok());
  Ingest(**reference, Feed(), 100);
  const std::string expected = ProjectionBytes(**reference);
  ASSERT_FALSE(expected.empty());

  std::mt19937 rng(11);
  for (int run = 0; run < 8; ++run) {
    auto lines = Feed();
    std::shuffle(lines.begin(), lines.end(), rng);
    auto store = EventStore::Open({.path = dir / ("s" + std::to_string(run)), .sync = false});
    ASSERT_TRUE(store.ok());
    Ingest(**store, lines, size_t(1 + run % 4));
    EXPECT_EQ(ProjectionBytes(**store), expected) << "run " << run;
  }
}

TEST(Projector, BuildingEachBatchBeforeThePreviousIsWrittenGivesTheSameState) {
  test::TempDir dir;
  auto reference = EventStore::Open({.path = dir / "ref", .sync = false});
  ASSERT_TRUE(reference.ok());
  Ingest(**reference, Feed(), 100);
  // Batches of 1 and 2: a child's events fall in consecutive batches, so each one is folded
  // onto the state the batch still in flight leaves, not the store's older one.
  for (size_t size : {1, 2}) {
    auto store = EventStore::Open({.path = dir / ("p" + std::to_string(size)), .sync = false});
    ASSERT_TRUE(store.ok());
    Ingest(**store, Feed(), size, /*pipelined=*/true);
    EXPECT_EQ(ProjectionBytes(**store), ProjectionBytes(**reference)) << "batches of " << size;
    using M = std::map<std::string, int64_t>;
    EXPECT_EQ(Cla(**store, "2023-03-01", ClaDimension::kPlacement), (M{{"K2", 1}, {"U3", 1}}));
  }
}

// The children a projector holds stand for what it would read back: none held (beyond the
// batch in flight), each dropped at the next batch, or all of them give the same state.
TEST(Projector, HoldingChildrenOrReadingThemBackGivesTheSameState) {
  test::TempDir dir;
  auto reference = EventStore::Open({.path = dir / "ref", .sync = false});
  ASSERT_TRUE(reference.ok());
  Ingest(**reference, Feed(), 100);
  const std::string expected = ProjectionBytes(**reference);
  int run = 0;
  for (size_t cache_bytes : {size_t{0}, size_t{1}, ProjectorOptions::kDefaultCacheBytes}) {
    for (bool pipelined : {false, true}) {
      for (size_t size : {1, 3}) {
        auto store = EventStore::Open({.path = dir / ("s" + std::to_string(run++)), .sync = false});
        ASSERT_TRUE(store.ok());
        Ingest(**store, Feed(), size, pipelined, cache_bytes);
        EXPECT_EQ(ProjectionBytes(**store), expected)
            << "holding " << cache_bytes << " bytes, batches of " << size
            << (pipelined ? ", pipelined" : "");
      }
    }
  }
}

// Ingest writes each counter cell whole, from its value as read; two children starting on the
// same day share their cells, so the second batch must add to what the first (still in flight,
// not in the store) set, or the first child's count is lost.
TEST(Projector, ConsecutiveBatchesAddToTheSameCounterCellWhileTheFirstIsInFlight) {
  test::TempDir dir;
  auto store = EventStore::Open({.path = dir / "s", .sync = false});
  ASSERT_TRUE(store.ok());
  std::vector<std::string> feed;
  for (const char* child : {"D", "E", "F"}) {
    feed.push_back(Ev(std::string("s-") + child, "care.period_started", child, "2023-05-02",
                      R"("legal_status":"C2","placement":"U1")"));
  }
  Ingest(**store, feed, 1, /*pipelined=*/true);
  using M = std::map<std::string, int64_t>;
  EXPECT_EQ(Cla(**store, "2023-05-02", ClaDimension::kNone), (M{{"", 3}}));
  EXPECT_EQ(Cla(**store, "2023-07-01", ClaDimension::kPlacement), (M{{"U1", 3}}));
  EXPECT_EQ(Cla(**store, "2023-05-01", ClaDimension::kNone), (M{{"", 0}}));
}

TEST(Projector, LateEventChangesOnlyThePastItBelongsTo) {
  test::TempDir dir;
  auto store = EventStore::Open({.path = dir / "s", .sync = false});
  ASSERT_TRUE(store.ok());
  auto feed = Feed();
  // B's end arrives last, long after the fact.
  auto late = std::find_if(feed.begin(), feed.end(),
                           [](const std::string& l) { return l.find("\"b2\"") != l.npos; });
  std::string b2 = *late;
  feed.erase(late);
  Ingest(**store, feed, 100);
  using M = std::map<std::string, int64_t>;
  EXPECT_EQ(Cla(**store, "2024-03-01", ClaDimension::kNone), (M{{"", 2}}));
  EXPECT_EQ(Cla(**store, "2024-02-29", ClaDimension::kNone), (M{{"", 2}}));
  Ingest(**store, {b2}, 1);
  EXPECT_EQ(Cla(**store, "2024-03-01", ClaDimension::kNone), (M{{"", 1}}));
  EXPECT_EQ(Cla(**store, "2024-02-29", ClaDimension::kNone), (M{{"", 2}}));
}

TEST(Projector, AStoreFromBeforeOneKeyPerFactAsksForAReplay) {
  test::TempDir dir;
  auto store = EventStore::Open({.path = dir / "s", .sync = false});
  ASSERT_TRUE(store.ok());
  auto batch = (*store)->NewBatch();
  batch.PutState(std::string("child\0A", 7), "old timeline bytes");
  ASSERT_TRUE((*store)->Write(batch).ok());
  MetricQuery q;
  q.metric = "cla";
  q.today = Date{std::chrono::year{2025} / 3 / 31};
  auto table = RunMetric(**store, q);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().error_class(), ErrorClass::kFatal);
  EXPECT_NE(table.status().message().find("run `careledger replay`"), std::string::npos);
}

// A store written before the kept rows has facts but no layout marker: an outcomes query would
// read no rows and say 0. It is refused, and so is an ingest batch, whose marker would hide the
// gap for good; a replay into a fresh family gives the rows.
TEST(Projector, AStoreFromBeforeTheKeptRowsAsksForAReplayAndReplayFillsThem) {
  test::TempDir dir;
  auto store = EventStore::Open({.path = dir / "s", .sync = false});
  ASSERT_TRUE(store.ok());
  const std::vector<std::string> lines = {
      R"({"event_id":"o1","type":"offence.recorded","schema_version":1,"source":"t","child_id":"A","occurred_at":"2025-01-05","recorded_at":"2025-01-05T12:00:00Z","data":{"offence_id":"x","offence_group":"theft_handling","at_placement":false}})",
      R"({"event_id":"d1","type":"outcome.recorded","schema_version":1,"source":"t","child_id":"A","occurred_at":"2025-02-01","recorded_at":"2025-02-01T12:00:00Z","data":{"offence_id":"x","disposal":"youth_caution","decided_at":"2025-02-01"}})"};
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{Date{} + std::chrono::days{30000}}}});
  std::vector<Envelope> envelopes(lines.size());
  auto batch = (*store)->NewBatch();
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(parser.Parse(lines[i], envelopes[i]).ok()) << lines[i];
    batch.Append(envelopes[i].event_id, "A", envelopes[i].occurred_at.date, {"t", 0}, int64_t(i),
                 lines[i]);
    // As an older careledger wrote it: the fact, and nothing kept beside it.
    Fact fact = FactFromEnvelope(envelopes[i], i, Instant{});
    batch.PutState(FactKey("A", fact), EncodeFact(fact, 0));
  }
  ASSERT_TRUE((*store)->Write(batch).ok());
  MetricQuery q;
  q.metric = "outcomes";
  {
    // A store of an earlier layout carries that layout's marker: refused by the marker alone,
    // as a store is after an upgrade that changed how its rows are kept.
    test::TempDir marked_dir;
    auto marked = EventStore::Open({.path = marked_dir / "s", .sync = false});
    ASSERT_TRUE(marked.ok());
    auto old = (*marked)->NewBatch();
    old.PutState(std::string_view("layout\0", 7), "12: an earlier layout");
    ASSERT_TRUE((*marked)->Write(old).ok());
    auto refused = RunMetric(**marked, q);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("run `careledger replay`"), std::string::npos);
  }
  q.period = {Date{std::chrono::year{2025} / 1 / 1}, Date{std::chrono::year{2026} / 1 / 1}};
  auto table = RunMetric(**store, q);
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.status().message().find("run `careledger replay`"), std::string::npos);
  auto next = (*store)->NewBatch();
  std::vector<AcceptedEvent> none;
  Projector projector(**store);
  auto applied = projector.Apply(none, next);
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.message().find("run `careledger replay`"), std::string::npos);

  auto rebuild = StateRebuild::Begin(**store, {});
  ASSERT_TRUE(rebuild.ok());
  ASSERT_TRUE((*rebuild)->CatchUp((*store)->next_sequence()).ok());
  ASSERT_TRUE((*rebuild)->Swap().ok());
  table = RunMetric(**store, q);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->rows.size(), 1u);  // by cohort and tier: other, out-of-court formal
  EXPECT_EQ(table->rows[0].groups, (std::vector<std::string>{"other", "out_of_court_formal"}));
  EXPECT_EQ(table->rows[0].values[0].value, 1.0);
}

}  // namespace
}  // namespace careledger
