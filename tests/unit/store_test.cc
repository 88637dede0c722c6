// The event store on a real RocksDB in a temp directory: exact log records across topics,
// compression, what survives a reopen, the write-ahead log, readers and secondaries beside a
// writer, batches (written once, in order, or not at all, and refused when built on a stale
// sequence), the single-writer lock, and how a store directory is created or refused.
#include "careledger/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "store_test_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;

std::vector<LogRecord> Log(const EventStore& store) {
  std::vector<LogRecord> records;
  Status s = store.ScanLog([&](const LogRecord& r) {
    records.push_back(r);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return records;
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
  EXPECT_NE(records[0].chain, records[1].chain);
}

uintmax_t BytesOnDisk(const std::filesystem::path& dir) {
  uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".sst") bytes += e.file_size();
  }
  return bytes;
}

// Event-shaped payloads: the field names and codes repeat, the ids do not.
uintmax_t CompactedBytesOf20kEvents(const std::filesystem::path& path, bool compress,
                                    std::vector<LogRecord>& log) {
  auto s = EventStore::Open({.path = path.string(), .sync = false, .compress = compress});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return 0;
  EventStore& store = **s;
  for (int b = 0; b < 20; ++b) {
    auto batch = store.NewBatch();
    for (int i = 0; i < 1000; ++i) {
      int n = b * 1000 + i;
      std::string id = "ev-" + std::to_string(n * 7919 % 100003) + "-" + std::to_string(n);
      std::string child = "C" + std::to_string(n * 31 % 5003);
      std::string payload = R"({"event_id":")" + id +
                            R"(","type":"care.period_started","schema_version":2,"source":"lcs",)"
                            R"("child_id":")" +
                            child + R"(","occurred_at":"2024-0)" + std::to_string(1 + n % 9) +
                            R"(-1)" + std::to_string(n % 10) +
                            R"(T10:00:00Z","data":{"legal_status":"C2","placement":"U)" +
                            std::to_string(1 + n % 6) + R"(","provider":"PR1"}})";
      (void)batch.Append(id, child, *ParseDate("2024-01-05"), kCare0, n, payload);
    }
    batch.SetNextOffset(kCare0, (b + 1) * 1000);
    EXPECT_TRUE(store.Write(batch).ok());
  }
  EXPECT_TRUE(store.CompactAll().ok());
  log = Log(store);
  return BytesOnDisk(path);
}

TEST(EventStore, CompactedStoresAreCompressedAndReadTheSame) {
  test::TempDir dir;
  std::vector<LogRecord> plain_log, packed_log;
  uintmax_t plain = CompactedBytesOf20kEvents(dir / "plain", false, plain_log);
  uintmax_t packed = CompactedBytesOf20kEvents(dir / "packed", true, packed_log);
  ASSERT_EQ(plain_log.size(), 20000u);
  ASSERT_EQ(packed_log.size(), 20000u);
  for (size_t i = 0; i < plain_log.size(); ++i) {
    ASSERT_EQ(packed_log[i].payload, plain_log[i].payload) << "record " << i;
  }
  // With LZ4 on the last level too, 0.30 of these bytes were left; with zstd and its
  // dictionary there, 0.24.
  EXPECT_LT(double(packed), 0.27 * double(plain)) << packed << " of " << plain << " bytes";
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
    batch.PutDeadLetter(kPolice2, 9, RejectKind::kUnknownType, "field 'type': unknown event type",
                        "{}");
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
  std::vector<uint64_t> sequences;
  for (const auto& r : Log(*store)) sequences.push_back(r.sequence);
  EXPECT_EQ(sequences, (std::vector<uint64_t>{0, 1, 2}));
}

// Bytes of the store's write-ahead log files: what the next open replays before anything.
uint64_t WalBytes(const std::string& path) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.path().extension() == ".log") bytes += entry.file_size();
  }
  return bytes;
}

// A few MiB of events, offsets and dead letters, in batches as ingest writes them.
void WriteMegabytes(EventStore& store, int megabytes) {
  const std::string payload(1000, 'x');
  int64_t offset = 0;
  for (int b = 0; b < megabytes; ++b) {
    auto batch = store.NewBatch();
    for (int i = 0; i < 1000; ++i, ++offset) {
      batch.Append("ev-" + std::to_string(offset), "child-" + std::to_string(offset % 97),
                   *ParseDate("2024-01-05"), kCare0, offset, payload);
    }
    batch.SetNextOffset(kCare0, offset);
    batch.PutDeadLetter(kPolice2, b, RejectKind::kUnknownType, "field 'type': unknown event type",
                        "{}");
    ASSERT_TRUE(store.Write(batch).ok());
  }
}

TEST(EventStore, AWriterClosedCleanlyLeavesNoLogToReplay) {
  // Every read-only open (each `careledger report`) replays the WAL first: after an 840 k-event
  // ingest that was 660 MiB and 5 s a report.
  test::TempDir dir;
  {
    auto store = OpenStore(dir / "s");
    WriteMegabytes(*store, 8);
    EXPECT_GT(WalBytes(dir / "s"), uint64_t{8} << 20);
  }
  EXPECT_EQ(WalBytes(dir / "s"), 0u);
  auto reader = OpenStore(dir / "s", /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->next_sequence(), 8000u);
  EXPECT_EQ(*reader->NextOffset(kCare0), std::optional<int64_t>(8000));
}

TEST(EventStore, TheLogAWriterKeepsIsCappedWhileItRuns) {
  // The small families (offsets, meta, dead letters) never fill a memtable; without the cap
  // they would pin every WAL file since the store was opened.
  test::TempDir dir;
  auto store = EventStore::Open(
      {.path = dir / "s", .sync = false, .write_buffer_bytes = 1 << 20, .max_wal_bytes = 2 << 20});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  WriteMegabytes(**store, 24);
  // The cap plus the WAL file being written and one a flush is releasing.
  EXPECT_LT(WalBytes(dir / "s"), uint64_t{6} << 20);
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

TEST(EventStore, SecondaryFollowsTheWriterOnCatchUp) {
  test::TempDir dir;
  auto writer = OpenStore(dir / "s");
  WriteTwoEvents(*writer);
  auto opened = EventStore::Open({.path = dir / "s", .secondary_path = dir / "follower"});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& follower = **opened;
  EXPECT_EQ(follower.next_sequence(), 2u);

  auto batch = writer->NewBatch();
  (void)batch.Append("ev-3", "child-2", *ParseDate("2024-01-06"), kCare0, 41, "{}");
  batch.SetNextOffset(kCare0, 42);
  batch.AddToCounter("c", 5);
  ASSERT_TRUE(writer->Write(batch).ok());
  // Nothing new until it catches up; then the whole batch, counters merged.
  EXPECT_EQ(*follower.NextOffset(kCare0), std::optional<int64_t>(41));
  ASSERT_TRUE(follower.CatchUp().ok());
  EXPECT_EQ(follower.next_sequence(), 3u);
  EXPECT_EQ(Log(follower).size(), 3u);
  EXPECT_EQ(*follower.NextOffset(kCare0), std::optional<int64_t>(42));
  EXPECT_EQ(Counters(follower, "c"), (std::map<std::string, int64_t>{{"c", 5}}));
}

// A prefix scan stops at its prefix without reading the key after it: unbounded, looking up a
// child with no facts yet landed on the next key, and RocksDB merged all of that key's
// operands to show it; a busy ingest's counter cells hold tens of thousands before a flush.
// RocksDB's own count of merges says whether it happened.
TEST(EventStore, APrefixScanMergesNoOperandsOfTheKeyAfterIt) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 200; ++i) {
    auto batch = store->NewBatch();
    batch.AddToCounter("d", 1);
    ASSERT_TRUE(store->Write(batch).ok());
  }
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  EXPECT_TRUE(Counters(*store, "c").empty());
  EXPECT_EQ(rocksdb::get_perf_context()->internal_merge_count, 0u);
  // The scan of the key's own prefix does merge them, once: the count is read, not assumed.
  EXPECT_EQ(Counters(*store, "d"), (std::map<std::string, int64_t>{{"d", 200}}));
  EXPECT_GT(rocksdb::get_perf_context()->internal_merge_count, 0u);
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
}

// One event, its offset and one more on counter "c", as a writer of a secondary's tests writes.
void AddCounted(EventStore& w, const std::string& id, int64_t next_offset) {
  auto batch = w.NewBatch();
  (void)batch.Append(id, "child-1", *ParseDate("2024-01-06"), kCare0, next_offset - 1, "{}");
  batch.SetNextOffset(kCare0, next_offset);
  batch.AddToCounter("c", 1);
  ASSERT_TRUE(w.Write(batch).ok());
}

// When the writer reopens, RocksDB flushes what it recovers from its WAL to a table file, which
// a secondary that had already read that WAL into its memtable would otherwise see twice:
// merged counters doubled (puts are harmless). Found as a dashboard figure of 11 for 6.
TEST(EventStore, SecondaryCountsCountersOnceAcrossAWriterRestart) {
  test::TempDir dir;
  auto writer = OpenStore(dir / "s");
  AddCounted(*writer, "ev-1", 1);
  AddCounted(*writer, "ev-2", 2);
  auto opened = EventStore::Open({.path = dir / "s", .secondary_path = dir / "follower"});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& follower = **opened;
  AddCounted(*writer, "ev-3", 3);
  ASSERT_TRUE(follower.CatchUp().ok());
  EXPECT_EQ(Counters(follower, "c"), (std::map<std::string, int64_t>{{"c", 3}}));

  writer.reset();  // the writer stops, and starts again
  writer = OpenStore(dir / "s");
  ASSERT_NE(writer, nullptr);
  AddCounted(*writer, "ev-4", 4);
  ASSERT_TRUE(follower.CatchUp().ok());
  EXPECT_EQ(Counters(follower, "c"), (std::map<std::string, int64_t>{{"c", 4}}));
  EXPECT_EQ(follower.next_sequence(), 4u);
  EXPECT_EQ(*follower.NextOffset(kCare0), std::optional<int64_t>(4));

  writer.reset();  // and once more, with nothing new written before the follower looks
  writer = OpenStore(dir / "s");
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(follower.CatchUp().ok());
  EXPECT_EQ(Counters(follower, "c"), (std::map<std::string, int64_t>{{"c", 4}}));

  // A flush while the writer runs (a checkpoint flushes the memtables) is caught up correctly
  // by RocksDB itself.
  AddCounted(*writer, "ev-5", 5);
  ASSERT_TRUE(follower.CatchUp().ok());
  ASSERT_TRUE(writer->Checkpoint(dir / "backup").ok());
  AddCounted(*writer, "ev-6", 6);
  ASSERT_TRUE(follower.CatchUp().ok());
  EXPECT_EQ(Counters(follower, "c"), (std::map<std::string, int64_t>{{"c", 6}}));
  EXPECT_EQ(follower.next_sequence(), 6u);
}

// The writer stops for good (ingest --until-end exiting flushes its memtables at a clean close)
// after the follower has read its last writes from the WAL, and nothing writes after: the
// follower must still count each merge once. Seen as a dashboard figure of 7 for 6 in CI.
TEST(EventStore, SecondaryCountsCountersOnceAfterTheWriterClosesForGood) {
  test::TempDir dir;
  auto writer = OpenStore(dir / "s");
  AddCounted(*writer, "ev-1", 1);
  auto opened = EventStore::Open({.path = dir / "s", .secondary_path = dir / "follower"});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& follower = **opened;
  AddCounted(*writer, "ev-2", 2);
  ASSERT_TRUE(follower.CatchUp().ok());
  EXPECT_EQ(Counters(follower, "c"), (std::map<std::string, int64_t>{{"c", 2}}));
  writer.reset();  // closes, flushing what the follower has in its memtable
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(follower.CatchUp().ok());
    EXPECT_EQ(Counters(follower, "c"), (std::map<std::string, int64_t>{{"c", 2}})) << i;
  }
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

TEST(EventStore, ABatchIsWrittenOnlyOnce) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  auto batch = store->NewBatch();
  batch.AddToCounter("cla-x", 2);
  ASSERT_TRUE(store->Write(batch).ok());
  Status again = store->Write(batch);
  EXPECT_EQ(again.error_class(), ErrorClass::kFatal);
  EXPECT_EQ(Counters(*store, "cla-x"), (std::map<std::string, int64_t>{{"cla-x", 2}}))
      << "its deltas are applied once";
}

TEST(EventStore, ABatchBuiltOnAnUnwrittenOneIsWrittenAfterIt) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
  // Verify re-parses every payload, so these are real envelopes.
  auto envelope = [](const std::string& id) {
    return R"({"event_id":")" + id +
           R"(","type":"care.period_ended","schema_version":1,"source":"lcs","child_id":"c",)"
           R"("occurred_at":"2024-01-01","recorded_at":"2024-01-01T09:00:00Z",)"
           R"("data":{"reason":"E13"}})";
  };
  auto first = store->NewBatch();
  EXPECT_EQ(first.Append("id-a", "c", *ParseDate("2024-01-01"), kCare0, 0, envelope("id-a")), 0u);
  auto second = store->NewBatchAfter(first.tail());
  EXPECT_EQ(second.Append("id-b", "c", *ParseDate("2024-01-01"), kCare0, 1, envelope("id-b")), 1u);
  second.SetNextOffset(kCare0, 2);
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
  auto store = OpenStore(dir / "s");
  {
    auto batch = store->NewBatch();
    (void)batch.Append("id-a", "c", *ParseDate("2024-01-01"), kCare0, 0, "p");
    batch.SetNextOffset(kCare0, 1);
  }
  EXPECT_EQ(Find(*store, {"id-a"})[0], std::nullopt);
  EXPECT_EQ(*store->NextOffset(kCare0), std::nullopt);
  EXPECT_EQ(store->next_sequence(), 0u);
}

TEST(EventStore, SecondWriterIsRefusedWithAClearMessage) {
  test::TempDir dir;
  auto writer = OpenStore(dir / "s");
  auto second = EventStore::Open({.path = dir / "s"});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("in use by another careledger"));
}

TEST(EventStore, IsCreatedWholeWithOwnerOnlyPermissions) {
  test::TempDir dir;
  auto store = OpenStore(dir / "s");
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
  EXPECT_THAT(s.status().message(), HasSubstr("is not a careledger store"));
  EXPECT_FALSE(std::filesystem::exists(dir / "docs/CURRENT"));
}

TEST(EventStore, ReadOnlyOpenOfAMissingStoreNamesThePath) {
  test::TempDir dir;
  auto s = EventStore::Open({.path = dir / "nope", .read_only = true});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(dir / "nope"));
}

}  // namespace
}  // namespace careledger
