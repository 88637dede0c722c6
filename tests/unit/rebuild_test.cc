// RebuildProjections against the live fold on real stores: the state rebuilt from the log is
// the state ingest left (the same ProjectionStateHash, and the timelines byte for byte, with
// when each fact was learned), whatever the batches, partitions and corrections were.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "ingest_builder.h"
#include "test_support.h"

namespace careledger {
namespace {

// One envelope; recorded at noon on the day it happened.
std::string Ev(const std::string& id, const std::string& type, const std::string& child,
               const std::string& on, const std::string& data, const std::string& supersedes = "") {
  return R"({"event_id":")" + id + R"(","type":")" + type +
         R"(","schema_version":1,"source":"lcs","child_id":")" + child + R"(","occurred_at":")" +
         on + R"(","recorded_at":")" + on + R"(T12:00:00Z")" +
         (supersedes.empty() ? std::string() : R"(,"supersedes":")" + supersedes + "\"") +
         R"(,"data":{)" + data + "}}";
}

std::unique_ptr<EventStore> Open(const std::string& path) {
  auto store = EventStore::Open({.path = path, .sync = false});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store.value()) : nullptr;
}

// How the live fold is run: the projector's options, and whether each batch is built before
// the one before it is written (ingest's pipeline), with or without a way to wait for it.
struct FoldRun {
  ProjectorOptions projector = {};
  bool wait_hook = true;
  int* waits = nullptr;  // counts the waits asked for
};

// The live fold as ingest runs it (ingest_builder.h): valid lines once each, in batches of
// `batch_size`, each event on the partition `partition_of` gives it, stamped as its batch's
// log records are.
void Ingest(EventStore& store, const std::vector<std::string>& lines, size_t batch_size,
            const std::function<int32_t(const Envelope&)>& partition_of, FoldRun fold = {}) {
  test::IngestRun run;
  run.batch_size = batch_size;
  run.partition_of = partition_of;
  run.projector = fold.projector;
  run.wait_hook = fold.wait_hook;
  run.waits = fold.waits;
  auto counts = test::IngestLines(store, lines, run);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
}

std::string StateHash(const EventStore& store) {
  auto hash = ProjectionStateHash(store);
  EXPECT_TRUE(hash.ok()) << hash.status().ToString();
  return hash.ok() ? ToHex(*hash) : "";
}

// Stricter than ProjectionStateHash: timelines byte for byte (sequence and ingested_at
// included), counters by their value, those that net to zero left out.
std::string RawStateHash(const EventStore& store) {
  auto hash = store.HashState(
      [](std::string_view key, std::string_view value) -> std::optional<std::string> {
        if (key.starts_with(std::string_view("cla\0", 4)) && IsZeroCounter(value)) {
          return std::nullopt;
        }
        return std::string(value);
      });
  EXPECT_TRUE(hash.ok());
  return hash.ok() ? ToHex(*hash) : "";
}

// Corrections, a retraction, an event arriving before the ones it follows, a child moving
// partition, and a child's events spread over batches.
std::vector<std::string> HandFeed() {
  return {
      Ev("a2", "care.placement_changed", "A", "2023-03-01", R"("placement":"K2")"),
      Ev("a1", "care.period_started", "A", "2023-01-10", R"("legal_status":"C2","placement":"U1")"),
      Ev("b1", "care.period_started", "B", "2023-02-01", R"("legal_status":"C2","placement":"U3")"),
      Ev("a0", "child.registered", "A", "2022-12-01",
         R"("dob":"2012-05-01","sex":"F","ethnicity":"WBRI")"),
      Ev("b2", "care.period_ended", "B", "2024-03-01", R"("reason":"E13")"),
      Ev("b3", "care.period_ended", "B", "2024-04-01", R"("reason":"E13")", "b2"),
      Ev("a3", "care.legal_status_changed", "A", "2023-06-01", R"("legal_status":"C1")"),
      Ev("a4", "event.retracted", "A", "2023-07-01",
         R"("target_event_id":"a3","reason":"keyed twice")"),
      Ev("c1", "care.period_started", "C", "2023-01-01", R"("legal_status":"C2","placement":"U3")"),
      // A correction of another type: it still removes the care period it supersedes, so C
      // is never counted.
      Ev("c2", "child.registered", "C", "2023-01-01",
         R"("dob":"2010-01-01","sex":"M","ethnicity":"WBRI")", "c1"),
  };
}

// The generator's feed, a line each (none if it failed).
std::vector<std::string> GeneratedLines(const GeneratorOptions& gen) {
  std::ostringstream out;
  EXPECT_TRUE(GenerateFeed(gen, out).ok());
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Runs of at most `bytes` in memory: small ones write the state as many files that overlap.
RebuildOptions InRunsOf(size_t bytes) {
  RebuildOptions options;
  options.run_bytes = bytes;
  return options;
}

// The hand feed ingested on one partition, and an empty store to rebuild it into.
struct HandFedStores {
  test::TempDir dir;
  std::unique_ptr<EventStore> live = Open(dir / "live"), rebuilt = Open(dir / "rebuilt");
  HandFedStores() {
    if (live) Ingest(*live, HandFeed(), 100, [](const Envelope&) { return 0; });
  }
};

TEST(RebuildProjections, HandFeedGivesTheLiveStateExactly) {
  test::TempDir dir;
  auto live = Open(dir / "live");
  ASSERT_TRUE(live);
  // A's events change partition half way (a reassignment): the last one's partition counts.
  int calls = 0;
  Ingest(*live, HandFeed(), 2,
         [&](const Envelope& e) { return int32_t(e.child_id == "A" && ++calls > 2); });
  auto rebuilt = Open(dir / "rebuilt");
  ASSERT_TRUE(rebuilt);
  auto stats = RebuildProjectionsInto(*live, *rebuilt, InRunsOf(3));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->records, 10u);
  EXPECT_EQ(stats->children, 3u);
  EXPECT_EQ(StateHash(*rebuilt), StateHash(*live));
  EXPECT_EQ(RawStateHash(*rebuilt), RawStateHash(*live));
  // A: C2/U1 from 2023-01-10, K2 from 2023-03-01 (the C1 change retracted), open.
  // B: C2/U3 from 2023-02-01 to 2024-04-01 (the end corrected). C: its period superseded.
  auto cla = ClaAt(*rebuilt, Date{std::chrono::year{2024} / 3 / 15}, ClaDimension::kPlacement);
  ASSERT_TRUE(cla.ok());
  ASSERT_EQ(cla->size(), 2u);
  EXPECT_EQ((*cla)[0].group, "K2");
  EXPECT_EQ((*cla)[0].children, 1);
  EXPECT_EQ((*cla)[1].group, "U3");
  EXPECT_EQ((*cla)[1].children, 1);
}

TEST(RebuildProjections, GeneratedFeedGivesTheLiveStateExactly) {
  GeneratorOptions gen;
  gen.children = 6000;
  gen.seed = 5;
  // Many more corrections and late events than a real feed: the rebuild resolves spells from
  // the care facts and the corrections alone, and sorts what arrives out of order.
  gen.correction_rate = 0.1;
  gen.late_rate = 0.2;
  const auto lines = GeneratedLines(gen);
  ASSERT_FALSE(lines.empty());

  test::TempDir dir;
  auto live = Open(dir / "live");
  ASSERT_TRUE(live);
  Ingest(*live, lines, 97, [](const Envelope& e) { return int32_t(Fingerprint(e.child_id) % 6); });

  auto rebuilt = Open(dir / "rebuilt");
  ASSERT_TRUE(rebuilt);
  auto stats = RebuildProjectionsInto(*live, *rebuilt, InRunsOf(500));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->records, live->next_sequence());
  EXPECT_EQ(StateHash(*rebuilt), StateHash(*live));
  EXPECT_EQ(RawStateHash(*rebuilt), RawStateHash(*live));
}

// The live fold of a generated feed in batches of many children, on one thread and on several,
// each batch built while the one before is written (waiting for it before a counter cell it
// merged into is read, or merging into the cell again), holding many counter cells or very
// few: every way gives the state a rebuild from the log gives.
TEST(RebuildProjections, TheLiveFoldOnThreadsAndPipelinedGivesTheRebuiltState) {
  GeneratorOptions gen;
  gen.children = 20000;
  gen.seed = 8;
  gen.correction_rate = 0.05;
  gen.late_rate = 0.1;
  const auto lines = GeneratedLines(gen);
  ASSERT_FALSE(lines.empty());
  auto partition_of = [](const Envelope& e) { return int32_t(Fingerprint(e.child_id) % 4); };

  test::TempDir dir;
  std::string expected;
  {
    auto one = Open(dir / "one");
    ASSERT_TRUE(one);
    FoldRun plain;
    plain.projector.overlapping = false;
    plain.projector.threads = 1;
    Ingest(*one, lines, 1500, partition_of, plain);
    auto rebuilt = Open(dir / "rebuilt");
    ASSERT_TRUE(rebuilt);
    ASSERT_TRUE(RebuildProjectionsInto(*one, *rebuilt, InRunsOf(5000)).ok());
    expected = StateHash(*rebuilt);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(StateHash(*one), expected);
  }
  struct Way {
    size_t threads, held_cells;
    bool wait_hook;
  };
  for (Way way : {Way{4, size_t{1} << 18, true}, Way{2, size_t{1} << 18, false}, Way{3, 16, true},
                  Way{2, 0, false}}) {
    std::string name = "t" + std::to_string(way.threads) + "c" + std::to_string(way.held_cells) +
                       (way.wait_hook ? "w" : "");
    auto store = Open(dir / name);
    ASSERT_TRUE(store);
    int waits = 0;
    FoldRun run;
    run.projector.threads = way.threads;
    run.projector.held_cells = way.held_cells;
    run.wait_hook = way.wait_hook;
    run.waits = &waits;
    Ingest(*store, lines, 1500, partition_of, run);
    EXPECT_EQ(StateHash(*store), expected) << name;
    // Byte for byte, when each row took its value included, against its own log folded again.
    auto rebuilt = Open(dir / (name + "-rebuilt"));
    ASSERT_TRUE(rebuilt);
    ASSERT_TRUE(RebuildProjectionsInto(*store, *rebuilt, InRunsOf(5000)).ok());
    EXPECT_EQ(RawStateHash(*store), RawStateHash(*rebuilt)) << name;
    // Cells merged into by one batch and changed by the next are read only after a wait.
    if (way.wait_hook && way.held_cells > 16) {
      EXPECT_GT(waits, 0) << name;
    }
    if (!way.wait_hook) {
      EXPECT_EQ(waits, 0) << name;
    }
  }
}

TEST(RebuildProjections, WritesEachFactOnceAndEachCounterCellOnceAThread) {
  HandFedStores stores;
  ASSERT_TRUE(stores.live && stores.rebuilt);
  EventStore *live = stores.live.get(), *rebuilt = stores.rebuilt.get();
  auto stats = RebuildProjectionsInto(*live, *rebuilt, InRunsOf(4));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  // One key per fact: A's five, B's three, C's two (the feed's ten events).
  std::map<std::string, int> facts;
  ASSERT_TRUE(rebuilt
                  ->ScanState(std::string("fact\0", 5),
                              [&](std::string_view key, std::string_view) {
                                if (auto child = ChildOfFactKey(key)) ++facts[std::string(*child)];
                                return true;
                              })
                  .ok());
  EXPECT_EQ(facts, (std::map<std::string, int>{{"A", 5}, {"B", 3}, {"C", 2}}));
  // A: U1 and C2 +1 on 2023-01-10; U1 -1 and K2 +1 on 2023-03-01 (C2 -1 and +1 that day net
  // to zero: the C1 change is retracted). B: U3 and C2 +1 on 2023-02-01, -1 on 2024-04-01.
  // Each of the 8 again in its month's cell (no two of them share a month and a value). The
  // days' changes are names in the day's cell of the child's partition. (Counters by the other
  // dimensions follow the same spells; the placement's and the legal status's are the ones
  // counted here.)
  size_t cells = 0, placement_and_status = 0;
  ASSERT_TRUE(
      rebuilt
          ->ScanState(std::string("cla\0", 4),
                      [&](std::string_view key, std::string_view value) {
                        ++cells;
                        for (std::string dim : {"month:placement", "month:legal_status"}) {
                          placement_and_status +=
                              key.starts_with(std::string("cla\0", 4) + dim + '\0');
                        }
                        if (key.starts_with(std::string_view("cla\0@day\0", 9))) {
                          EXPECT_TRUE(ForEachNamedCount(value, [&](std::string_view name, int64_t) {
                            placement_and_status +=
                                name.starts_with(std::string_view("placement\0", 10)) ||
                                name.starts_with(std::string_view("legal_status\0", 13));
                          }));
                        }
                        return true;
                      })
          .ok());
  EXPECT_EQ(placement_and_status, 16u);
  // Each cell once a thread at most: a cell whose children were folded on both threads is two
  // merge operands (summed when read), never one per child.
  EXPECT_GE(stats->counters, cells);
  EXPECT_LE(stats->counters, 2 * cells);
}

TEST(RebuildProjections, StopsWhenAskedAndSaysSo) {
  HandFedStores stores;
  ASSERT_TRUE(stores.live && stores.rebuilt);
  EventStore *live = stores.live.get(), *rebuilt = stores.rebuilt.get();
  std::atomic<bool> stop{true};
  RebuildOptions options;
  options.stop = &stop;
  auto stats = RebuildProjectionsInto(*live, *rebuilt, options);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().message(), "the rebuild was stopped");
  // Nothing was written but facts: no layout marker, so no query reads the half-built state.
  auto layout = rebuilt->GetState(std::string_view("layout\0", 7));
  ASSERT_TRUE(layout.ok());
  EXPECT_FALSE(*layout);
}

TEST(RebuildProjections, ARecordThatNoLongerParsesIsFatalAndNamesItsSequence) {
  test::TempDir dir;
  auto store = Open(dir / "s");
  ASSERT_TRUE(store);
  auto batch = store->NewBatch();
  batch.Append("x1", "A", Date{}, {"t", 0}, 0, R"({"event_id":"x1"})");
  ASSERT_TRUE(store->Write(batch).ok());
  auto rebuilt = Open(dir / "r");
  ASSERT_TRUE(rebuilt);
  auto stats = RebuildProjectionsInto(*store, *rebuilt);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().error_class(), ErrorClass::kFatal);
  EXPECT_TRUE(stats.status().message().starts_with("log record 0 no longer parses: "))
      << stats.status().message();
}

}  // namespace
}  // namespace careledger
