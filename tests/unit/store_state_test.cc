// The event store's lookups and state: events found by id with their fingerprint, offsets per
// topic-partition, counters and named counts merged across batches, and state runs as sorted files.
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

TEST(EventStore, AppendedEventsAreFoundByIdWithTheirFingerprint) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  WriteTwoEvents(*store);
  auto found = Find(*store, {"ev-police", "ev-care", "ev-missing"});
  ASSERT_EQ(found.size(), 3u);
  ASSERT_TRUE(found[0] && found[1]);
  EXPECT_EQ(found[0]->sequence, 1u);
  EXPECT_EQ(found[0]->fingerprint, Fingerprint(R"({"n":"police"})"));
  EXPECT_EQ(found[1]->sequence, 0u);
  EXPECT_FALSE(found[2].has_value());
}

TEST(EventStore, OffsetsRoundTripPerPartition) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  WriteTwoEvents(*store);
  EXPECT_EQ(*store->NextOffset(kCare0), std::optional<int64_t>(41));
  EXPECT_EQ(*store->NextOffset(kPolice2), std::optional<int64_t>(8));
  EXPECT_EQ(*store->NextOffset({"careledger.socialcare.v1", 1}), std::nullopt);
  EXPECT_EQ(*store->NextOffset({"careledger.police.v1", 0}), std::nullopt);
}

TEST(EventStore, CountersAddAcrossBatches) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  auto b1 = store->NewBatch();
  b1.AddToCounter("cla-x", 3);
  b1.AddToCounter("cla-x", -1);
  ASSERT_TRUE(store->Write(b1).ok());
  auto b2 = store->NewBatch();
  b2.AddToCounter("cla-x", 5);
  ASSERT_TRUE(store->Write(b2).ok());
  EXPECT_EQ(Counters(*store, "cla-x"), (std::map<std::string, int64_t>{{"cla-x", 7}}));
}

// A day's counters in one cell: each batch's names merged into it name by name, across the
// memtable and a compaction (so both the read's merge and the compaction's), zeros dropped.
TEST(EventStore, NamedCountsMergeNameByNameAndDropWhatComesToNothing) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  auto named = [&](std::string_view key) {
    std::map<std::string, int64_t> out;
    auto cell = store->GetState(key);
    EXPECT_TRUE(cell.ok() && *cell);
    if (!cell.ok() || !*cell) return out;
    EXPECT_TRUE(
        ForEachNamedCount(**cell, [&](std::string_view n, int64_t c) { out[std::string(n)] = c; }));
    return out;
  };
  using Counts = std::vector<std::pair<std::string_view, int64_t>>;
  constexpr std::string_view kU1{"placement\0U1", 12}, kF{"sex\0F", 5},
      kBand{
          "age_band\0"
          "10-15",
          14};
  auto b1 = store->NewBatch();
  b1.AddToCounters("day", EncodeNamedCounts(Counts{{kU1, 1}, {kF, 1}}));
  ASSERT_TRUE(store->Write(b1).ok());
  auto b2 = store->NewBatch();
  b2.AddToCounters("day", EncodeNamedCounts(Counts{{kBand, 2}, {kF, -1}}));
  ASSERT_TRUE(store->Write(b2).ok());
  EXPECT_EQ(named("day"),
            (std::map<std::string, int64_t>{{std::string(kBand), 2}, {std::string(kU1), 1}}));
  ASSERT_TRUE(store->CompactAll().ok());
  auto b3 = store->NewBatch();
  b3.AddToCounters("day", EncodeNamedCounts(Counts{{kBand, -2}, {kU1, -1}}));
  ASSERT_TRUE(store->Write(b3).ok());
  EXPECT_EQ(named("day"), (std::map<std::string, int64_t>{}));
  EXPECT_TRUE(IsZeroCounter(**store->GetState("day")));
  // A plain counter and named counts are told apart by size, and never merged together.
  std::string merged, plain;
  codec::PutFixed64(plain, 3);
  std::string_view existing = plain;
  EXPECT_TRUE(MergeCounterCells(&existing, plain, merged));
  EXPECT_EQ(DecodeCounter(merged), 6);
  EXPECT_FALSE(MergeCounterCells(&existing, EncodeNamedCounts(Counts{{"a", 1}}), merged));
}

// A rebuild's state as sorted files: entries added in any order, runs cut at one key into
// files that do not overlap, one key's entries combined as a batch applies them (counters from
// two runs summed, named counts name by name, a later put replacing an earlier one), and the
// files ingested whole, readable as if written by batches, with nothing left beside the store.
TEST(EventStore, StateRunsWrittenAsFilesReadAsTheirBatchesWould) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->SetBulkLoad("", true).ok());
  using Counts = std::vector<std::pair<std::string_view, int64_t>>;
  StateRun a, b;
  a.AddToCounter("cla-z", 5);
  a.Put("row-b", "first");
  a.AddToCounter("cla-a", 2);
  a.AddToCounters("day", EncodeNamedCounts(Counts{{"F", 1}, {"M", 2}}));
  a.AddToCounter("cla-a", 1);  // the same key twice in one run
  b.AddToCounter("cla-a", -3);
  b.Put("row-b", "second");
  b.AddToCounters("day", EncodeNamedCounts(Counts{{"F", 4}}));
  b.Put("row-c", "only");
  a.Sort();
  b.Sort();
  EXPECT_EQ(a.key(0), "cla-a");
  EXPECT_EQ(a.LowerBound("cla-b"), 2u);
  auto low = store->WriteStateFiles("", InMemory({&a, &b}), "", "day");
  auto high = store->WriteStateFiles("", InMemory({&a, &b}), "day", "");
  auto none = store->WriteStateFiles("", InMemory({&a, &b}), "x", "");
  ASSERT_TRUE(low.ok() && high.ok() && none.ok());
  EXPECT_FALSE(low->empty());
  EXPECT_FALSE(high->empty());
  EXPECT_TRUE(none->empty());
  ASSERT_EQ(low->size(), 1u);
  ASSERT_EQ(high->size(), 1u);
  ASSERT_TRUE(store->IngestStateFiles("", {low->front(), high->front()}).ok());
  ASSERT_TRUE(store->SetBulkLoad("", false, false).ok());
  // cla-a nets to zero: kept as a zero cell, as merged counters are until compacted away.
  EXPECT_EQ(Counters(*store, "cla-"), (std::map<std::string, int64_t>{{"cla-a", 0}, {"cla-z", 5}}));
  std::map<std::string, int64_t> day;
  auto cell = store->GetState("day");
  ASSERT_TRUE(cell.ok() && *cell);
  EXPECT_TRUE(
      ForEachNamedCount(**cell, [&](std::string_view n, int64_t c) { day[std::string(n)] = c; }));
  EXPECT_EQ(day, (std::map<std::string, int64_t>{{"F", 5}, {"M", 2}}));
  EXPECT_EQ(*store->GetState("row-b"), std::optional<std::string>("second"));
  EXPECT_EQ(*store->GetState("row-c"), std::optional<std::string>("only"));
  // Ingested files are moved into the store; the next bulk load clears what one left behind.
  const auto bulk = std::filesystem::path(dir / "s") / "bulk";
  EXPECT_TRUE(std::filesystem::is_empty(bulk));
  StateRun left;
  left.Put("row-d", "never ingested");
  ASSERT_TRUE(store->WriteStateFiles("", InMemory({&left})).ok());
  EXPECT_FALSE(std::filesystem::is_empty(bulk));
  ASSERT_TRUE(store->SetBulkLoad("", true).ok());
  EXPECT_FALSE(std::filesystem::exists(bulk));
  ASSERT_TRUE(store->SetBulkLoad("", false, false).ok());
  EXPECT_EQ(*store->GetState("row-d"), std::nullopt);
}

// A run spilled to its file reads back as it was, merged with the runs after it as a batch
// applies them; a range read from the middle of a long run starts at the right key.
TEST(EventStore, SpilledRunsReadBackInKeyOrderAndMergeWithTheRunsAfterThem) {
  test::TempDir dir;
  StateRun first, second;
  for (int i = 0; i < 1000; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "row-%04d", i);
    first.Put(key, "v" + std::to_string(i));
  }
  first.AddToCounter("cla-a", 2);
  second.AddToCounter("cla-a", 5);
  second.Put("row-0500", "replaced");
  first.Sort();
  second.Sort();
  auto spilled = SpilledRun::Write(first, dir / "bulk/0.run");
  ASSERT_TRUE(spilled.ok()) << spilled.status().ToString();
  EXPECT_EQ((*spilled)->size(), 1001u);
  EXPECT_EQ((*spilled)->samples().size(), 4u);  // one every 256 entries
  const std::vector<RunSource> runs = {{.memory = nullptr, .spilled = spilled->get()},
                                       {.memory = &second, .spilled = nullptr}};
  std::vector<std::string> keys;
  std::map<std::string, std::string> values;
  ASSERT_TRUE(MergeRuns(runs, "row-0499", "row-0502",
                        [&](std::string_view k, std::string_view v, bool merges) {
                          keys.emplace_back(k);
                          values[std::string(k)] = std::string(v) + (merges ? " (merges)" : "");
                          return true;
                        })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"row-0499", "row-0500", "row-0501"}));
  EXPECT_EQ(values["row-0500"], "replaced");
  int64_t cla = 0;
  size_t all = 0;
  ASSERT_TRUE(MergeRuns(runs, "", "", [&](std::string_view k, std::string_view v, bool merges) {
                ++all;
                if (k == "cla-a" && merges) cla = DecodeCounter(v);
                return true;
              }).ok());
  EXPECT_EQ(all, 1001u);
  EXPECT_EQ(cla, 7);
  // The file goes with the object.
  const std::string path = (*spilled)->path();
  spilled->reset();
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Runs written as several files of about `file_bytes` each, cut between keys: files that do
// not overlap, all readable once ingested.
TEST(EventStore, StateFilesAreCutBySizeBetweenKeys) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->SetBulkLoad("", true).ok());
  StateRun a, b;
  for (int i = 0; i < 100; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "row-%03d", i);
    a.Put(key, std::string(40, 'a'));
    b.Put(key, std::string(40, 'b'));  // every key twice: one entry each in the files
  }
  a.Sort();
  b.Sort();
  auto files = store->WriteStateFiles("", InMemory({&a, &b}), {}, {}, 1000);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->size(), 5u);  // 47 bytes a key: a new file after every 22 keys
  ASSERT_TRUE(store->IngestStateFiles("", *files).ok());
  ASSERT_TRUE(store->SetBulkLoad("", false, false).ok());
  size_t rows = 0;
  ASSERT_TRUE(store
                  ->ScanState("row-",
                              [&](std::string_view, std::string_view v) {
                                rows += v == std::string(40, 'b');
                                return true;
                              })
                  .ok());
  EXPECT_EQ(rows, 100u);
}

// State files keep a prefix filter of "<tag>\0<key part>" (one child's facts): a scan of one
// such prefix may skip files without it, a range over several must not.
TEST(EventStore, ScansOfOneTaggedPartAndOfRangesFindKeysInEveryFile) {
  test::TempDir dir;
  auto tagged = [](std::string_view child, std::string_view rest) {
    std::string key("fact\0", 5);
    codec::PutKeyPart(key, child);
    key.append(rest);
    return key;
  };
  // Each child's keys in a file of their own: a clean close flushes the memtable.
  for (std::string_view child : {"child-a", "child-b", "child-c"}) {
    auto store = OpenStore(dir / "s");
    ASSERT_NE(store, nullptr);
    auto batch = store->NewStateBatch("");
    batch.PutState(tagged(child, "1"), "x");
    batch.PutState(tagged(child, "2"), "y");
    ASSERT_TRUE(store->Write(batch).ok());
  }
  auto store = OpenStore(dir / "s");
  ASSERT_NE(store, nullptr);
  auto keys_of = [&](auto scan) {
    std::vector<std::string> keys;
    EXPECT_TRUE(scan([&](std::string_view k, std::string_view) {
                  keys.emplace_back(k);
                  return true;
                }).ok());
    return keys;
  };
  using Visit = std::function<bool(std::string_view, std::string_view)>;
  EXPECT_EQ(keys_of([&](const Visit& v) { return store->ScanState(tagged("child-b", ""), v); }),
            (std::vector<std::string>{tagged("child-b", "1"), tagged("child-b", "2")}));
  EXPECT_EQ(keys_of([&](const Visit& v) { return store->ScanState(tagged("child-d", ""), v); }),
            std::vector<std::string>{});
  const std::vector<std::string> b_and_c = {tagged("child-b", "1"), tagged("child-b", "2"),
                                            tagged("child-c", "1"), tagged("child-c", "2")};
  EXPECT_EQ(keys_of([&](const Visit& v) {
              return store->ScanStateRange(tagged("child-b", ""), std::string("fact\1", 5), v);
            }),
            b_and_c);
  EXPECT_EQ(keys_of([&](const Visit& v) {
              return store->ScanStateRange(tagged("child-a", "9"), std::string("fact\1", 5), v);
            }),
            b_and_c);
  EXPECT_EQ(
      keys_of([&](const Visit& v) { return store->ScanState(std::string("fact\0", 5), v); }).size(),
      6u);
}

}  // namespace
}  // namespace careledger
