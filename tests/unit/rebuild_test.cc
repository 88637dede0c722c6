// RebuildProjections against the live fold on real stores: the state rebuilt from the log is
// the state ingest left (the same ProjectionStateHash, and the timelines byte for byte, with
// when each fact was learned), whatever the batches, partitions and corrections were.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <unordered_set>

#include "careledger/producers.h"
#include "careledger/projections.h"
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

// The live fold as ingest runs it: valid lines once each, in batches of `batch_size`, each
// event on the partition `partition_of` gives it, stamped as its batch's log records are.
void Ingest(EventStore& store, const std::vector<std::string>& lines, size_t batch_size,
            const std::function<int32_t(const Envelope&)>& partition_of) {
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{2100} / 1 / 1}}});
  Projector projector(store);
  std::unordered_set<std::string> seen;
  size_t i = 0;
  while (i < lines.size()) {
    std::vector<Envelope> envs(batch_size);
    std::vector<AcceptedEvent> accepted;
    auto batch = store.NewBatch();
    for (size_t n = 0; i < lines.size() && n < batch_size; ++i) {
      if (!parser.Parse(lines[i], envs[n]).ok()) continue;
      if (!seen.insert(envs[n].event_id).second) continue;
      int32_t partition = partition_of(envs[n]);
      uint64_t seq = batch.Append(envs[n].event_id, envs[n].child_id, envs[n].occurred_at.date,
                                  {"t", partition}, int64_t(i), lines[i]);
      accepted.push_back({&envs[n], seq, partition, batch.ingested_at()});
      ++n;
    }
    ASSERT_TRUE(projector.Apply(accepted, batch).ok());
    ASSERT_TRUE(store.Write(batch).ok());
  }
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
        if (key.starts_with(std::string_view("cla\0", 4)) && DecodeCounter(value) == 0) {
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

RebuildOptions InBatchesOf(size_t entries) {
  RebuildOptions options;
  options.batch_entries = entries;
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
  auto stats = RebuildProjectionsInto(*live, *rebuilt, InBatchesOf(3));
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
  std::ostringstream out;
  ASSERT_TRUE(GenerateFeed(gen, out).ok());
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string l; std::getline(in, l);) lines.push_back(l);

  test::TempDir dir;
  auto live = Open(dir / "live");
  ASSERT_TRUE(live);
  Ingest(*live, lines, 97, [](const Envelope& e) { return int32_t(Fingerprint(e.child_id) % 6); });

  auto rebuilt = Open(dir / "rebuilt");
  ASSERT_TRUE(rebuilt);
  auto stats = RebuildProjectionsInto(*live, *rebuilt, InBatchesOf(500));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->records, live->next_sequence());
  EXPECT_EQ(StateHash(*rebuilt), StateHash(*live));
  EXPECT_EQ(RawStateHash(*rebuilt), RawStateHash(*live));
}

TEST(RebuildProjections, WritesEachFactOnceAndEachCounterCellOnce) {
  HandFedStores stores;
  ASSERT_TRUE(stores.live && stores.rebuilt);
  EventStore *live = stores.live.get(), *rebuilt = stores.rebuilt.get();
  auto stats = RebuildProjectionsInto(*live, *rebuilt, InBatchesOf(4));
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
  // Each of the 8 again in its month's cell (no two of them share a month and a value).
  // (Counters by the other dimensions follow the same spells; the placement's and the legal
  // status's are the ones counted here.)
  size_t cells = 0, placement_and_status = 0;
  ASSERT_TRUE(rebuilt
                  ->ScanState(std::string("cla\0", 4),
                              [&](std::string_view key, std::string_view) {
                                ++cells;
                                for (std::string dim : {"placement", "legal_status",
                                                        "month:placement", "month:legal_status"}) {
                                  placement_and_status +=
                                      key.starts_with(std::string("cla\0", 4) + dim + '\0');
                                }
                                return true;
                              })
                  .ok());
  EXPECT_EQ(placement_and_status, 16u);
  // Each cell once, though its children may have been folded on either thread.
  EXPECT_EQ(stats->counters, cells);
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
