// Replay on a real store: projection state families (create, write beside the live one, swap,
// reopen, leftovers of an interrupted rebuild) and a rebuild from the log that gives the same
// state as the live fold, whatever its chunk size.
#include <gtest/gtest.h>

#include <map>

#include "careledger/projections.h"
#include "ingest_builder.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Ev;  // one envelope, recorded at noon on the day it happened

// A: C2/U1 from 2023-01-10, K2 from 03-01, V3 (short break) from 06-01, leaves 08-01, back as
// C1/U3 on 2024-02-01. B: C2/U3 from 2023-02-01 to 2024-03-01. C: V4 only, never counted.
std::vector<std::string> Feed() {
  return {
      Ev("a1", "care.period_started", "A", "2023-01-10", R"("legal_status":"C2","placement":"U1")"),
      Ev("b1", "care.period_started", "B", "2023-02-01", R"("legal_status":"C2","placement":"U3")"),
      Ev("a2", "care.placement_changed", "A", "2023-03-01", R"("placement":"K2")"),
      Ev("c1", "care.period_started", "C", "2023-01-01", R"("legal_status":"V4","placement":"U3")"),
      Ev("a3", "care.legal_status_changed", "A", "2023-06-01", R"("legal_status":"V3")"),
      Ev("a4", "care.period_ended", "A", "2023-08-01", R"("reason":"E4A")"),
      Ev("b2", "care.period_ended", "B", "2024-03-01", R"("reason":"E13")"),
      Ev("a5", "care.period_started", "A", "2024-02-01", R"("legal_status":"C1","placement":"U3")"),
      Ev("a0", "child.registered", "A", "2022-12-01",
         R"("dob":"2012-05-01","sex":"F","ethnicity":"WBRI")"),
  };
}

// The live path: appended to the log and folded in the same batches, as ingest does; child B
// on partition 1, the others on 0.
void Ingest(EventStore& store, const std::vector<std::string>& lines, size_t batch_size) {
  test::IngestRun run;
  run.batch_size = batch_size;
  run.partition_of = [](const Envelope& e) { return e.child_id == "B" ? 1 : 0; };
  auto counts = test::IngestLines(store, lines, run);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  ASSERT_EQ(counts->rejected, 0u);
}

int64_t Cla(const EventStore& store, const char* date) {
  auto rows = ClaAt(store, *ParseDate(date), ClaDimension::kNone);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? rows->front().children : -1;
}

std::string Hash(const EventStore& store, std::string_view family = {}) {
  auto hash = ProjectionStateHash(store, family);
  EXPECT_TRUE(hash.ok()) << hash.status().ToString();
  return hash.ok() ? ToHex(*hash) : "";
}

std::optional<std::string> State(const EventStore& store, std::string_view key,
                                 std::string_view family = {}) {
  auto v = store.GetState(key, family);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : std::nullopt;
}

// Every stored fact of one child, key and value byte for byte.
std::string FactsOf(const EventStore& store, std::string_view child, std::string_view family = {}) {
  std::string all;
  EXPECT_TRUE(store
                  .ScanState(
                      FactKeyPrefix(child),
                      [&](std::string_view k, std::string_view v) {
                        all.append(k).append("=").append(v).append(";");
                        return true;
                      },
                      family)
                  .ok());
  return all;
}

TEST(StateFamilies, ASwapMakesTheNewFamilyLiveAndSurvivesReopening) {
  test::TempDir dir;
  const std::string path = dir / "s";
  {
    auto store = EventStore::Open({.path = path, .sync = false});
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->live_state_family(), "projection");
    auto live = (*store)->NewBatch();
    live.PutState("k", "old");
    ASSERT_TRUE((*store)->Write(live).ok());

    auto family = (*store)->CreateStateFamily();
    ASSERT_TRUE(family.ok());
    EXPECT_EQ(*family, "projection.1");
    auto side = (*store)->NewStateBatch(*family);
    side.PutState("k", "new");
    side.AddToCounter("n", 2);
    side.AddToCounter("n", 3);
    ASSERT_TRUE((*store)->Write(side).ok());
    EXPECT_EQ(State(**store, "k"), "old") << "the live state is untouched until the swap";
    EXPECT_EQ(State(**store, "k", *family), "new");
    EXPECT_EQ(DecodeCounter(*State(**store, "n", *family)), 5) << "counters merge there too";
    EXPECT_EQ(State(**store, "n"), std::nullopt);

    ASSERT_TRUE((*store)->SwapStateFamily(*family).ok());
    EXPECT_EQ((*store)->live_state_family(), "projection.1");
    EXPECT_EQ(State(**store, "k"), "new");
    // Live batches now go to the new family.
    auto after = (*store)->NewBatch();
    after.AddToCounter("n", 10);
    ASSERT_TRUE((*store)->Write(after).ok());
    EXPECT_EQ(DecodeCounter(*State(**store, "n")), 15);
  }
  {
    auto reader = EventStore::Open({.path = path, .read_only = true});
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ((*reader)->live_state_family(), "projection.1");
    EXPECT_EQ(State(**reader, "k"), "new");
  }
  auto store = EventStore::Open({.path = path, .sync = false});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->live_state_family(), "projection.1");
  EXPECT_EQ(State(**store, "k"), "new");
  EXPECT_EQ(DecodeCounter(*State(**store, "n")), 15);
}

TEST(StateFamilies, AFamilyLeftByAnInterruptedRebuildIsDroppedAtTheNextOpen) {
  test::TempDir dir;
  const std::string path = dir / "s";
  {
    auto store = EventStore::Open({.path = path, .sync = false});
    ASSERT_TRUE(store.ok());
    auto live = (*store)->NewBatch();
    live.PutState("k", "live");
    ASSERT_TRUE((*store)->Write(live).ok());
    auto family = (*store)->CreateStateFamily();
    ASSERT_TRUE(family.ok());
    auto side = (*store)->NewStateBatch(*family);
    side.PutState("k", "half-built");
    ASSERT_TRUE((*store)->Write(side).ok());
    // Closed without a swap, as a killed replay leaves it.
  }
  {
    auto reader = EventStore::Open({.path = path, .read_only = true});
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ(State(**reader, "k"), "live");
  }
  auto store = EventStore::Open({.path = path, .sync = false});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->live_state_family(), "projection");
  EXPECT_EQ(State(**store, "k"), "live");
  auto gone = (*store)->GetState("k", "projection.1");
  EXPECT_FALSE(gone.ok()) << "the leftover family was dropped";
  auto again = (*store)->CreateStateFamily();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "projection.1");
  EXPECT_EQ(State(**store, "k", *again), std::nullopt) << "a fresh family starts empty";
  EXPECT_FALSE((*store)->DropStateFamily("projection").ok()) << "the live one stays";
}

TEST(StateRebuild, GivesTheLiveStateWhateverTheChunkSize) {
  test::TempDir dir;
  auto store = EventStore::Open({.path = dir / "s", .sync = false});
  ASSERT_TRUE(store.ok());
  Ingest(**store, Feed(), 2);
  const std::string live = Hash(**store);
  ASSERT_EQ(live.size(), 64u);
  const std::string timeline_a = FactsOf(**store, "A");
  ASSERT_FALSE(timeline_a.empty());
  EXPECT_EQ(Cla(**store, "2023-03-15"), 2);
  EXPECT_EQ(Cla(**store, "2023-07-01"), 1);

  for (size_t chunk : {1, 4, 100}) {
    auto rebuild = StateRebuild::Begin(**store, {.known_at = std::nullopt, .chunk = chunk});
    ASSERT_TRUE(rebuild.ok());
    std::vector<uint64_t> seen;
    ASSERT_TRUE((*rebuild)->CatchUp(9, [&](uint64_t n) { seen.push_back(n); }).ok());
    EXPECT_EQ((*rebuild)->next(), 9u);
    EXPECT_EQ(seen.back(), 9u);
    EXPECT_EQ(seen.size(), (9 + chunk - 1) / chunk) << "one progress call per state batch";
    EXPECT_EQ(Hash(**store, (*rebuild)->family()), live) << "chunk " << chunk;
    EXPECT_EQ(FactsOf(**store, "A", (*rebuild)->family()), timeline_a)
        << "the same bytes, sequence and ingested_at included";
  }
  // Caught up in two steps, then swapped in: the figures read the rebuilt state.
  auto rebuild = StateRebuild::Begin(**store, {.known_at = std::nullopt, .chunk = 3});
  ASSERT_TRUE(rebuild.ok());
  ASSERT_TRUE((*rebuild)->CatchUp(4).ok());
  EXPECT_EQ((*rebuild)->next(), 4u);
  ASSERT_TRUE((*rebuild)->CatchUp(9).ok());
  EXPECT_FALSE((*rebuild)->CatchUp(12).ok()) << "the log ends at 9";
  ASSERT_TRUE((*rebuild)->Swap().ok());
  EXPECT_NE((*store)->live_state_family(), "projection");
  EXPECT_EQ(Hash(**store), live);
  EXPECT_EQ(Cla(**store, "2023-03-15"), 2);
  EXPECT_EQ(Cla(**store, "2023-07-01"), 1);
  EXPECT_EQ(Cla(**store, "2024-02-15"), 2);
  EXPECT_EQ(Cla(**store, "2024-03-01"), 1);
}

TEST(StateRebuild, AsKnownAtBeforeEveryRecordIsEmptyAndLeavesTheLiveStateAlone) {
  test::TempDir dir;
  auto store = EventStore::Open({.path = dir / "s", .sync = false});
  ASSERT_TRUE(store.ok());
  Ingest(**store, Feed(), 9);
  const std::string live = Hash(**store);
  std::string family;
  {
    auto rebuild =
        StateRebuild::Begin(**store, {.known_at = Instant{std::chrono::seconds{1000000000}}});
    ASSERT_TRUE(rebuild.ok());
    family = (*rebuild)->family();
    ASSERT_TRUE((*rebuild)->CatchUp(9).ok());
    auto hash = (*rebuild)->Hash();
    ASSERT_TRUE(hash.ok());
    // SHA-256 of nothing: no record was ingested by 2001.
    EXPECT_EQ(ToHex(*hash), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
  EXPECT_FALSE((*store)->GetState("x", family).ok()) << "dropped when the rebuild ends";
  EXPECT_EQ((*store)->live_state_family(), "projection");
  EXPECT_EQ(Hash(**store), live);
}

}  // namespace
}  // namespace careledger
