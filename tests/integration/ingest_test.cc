// Publish → in-process mock Kafka → ingest → RocksDB → CLA, on a fixture of more than 10,000
// events whose counts come from the independent oracle in care_fixture.h.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <set>
#include <string>

#include "care_fixture.h"
#include "careledger/consumers.h"
#include "careledger/events.h"
#include "careledger/kafka.h"
#include "careledger/producers.h"
#include "careledger/projections.h"
#include "test_support.h"

namespace careledger {
namespace {

std::map<std::string, int64_t> ClaByPlacement(const EventStore& store, Date at) {
  auto rows = ClaAt(store, at, ClaDimension::kPlacement);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  std::map<std::string, int64_t> out;
  for (const auto& r : *rows) out[r.group] = r.children;
  return out;
}

TEST(IngestPipeline, TenThousandEventsGiveTheOracleCountsAtThreeDates) {
  auto fixture = test::BuildCareFixture(1500, 2024);
  ASSERT_GE(fixture.lines.size(), 10000u);
  test::TempDir dir;
  test::WriteFile(dir / "feed.jsonl", fixture.Jsonl());

  auto cluster = MockCluster::Start(6);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  Settings kafka = test::TestKafkaSettings((*cluster)->bootstrap_servers());

  std::ostringstream diagnostics;
  auto published = PublishJsonl({dir / "feed.jsonl"}, kafka, diagnostics);
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  EXPECT_EQ(published->published, fixture.lines.size()) << diagnostics.str();
  EXPECT_EQ(published->rejected, 0u);
  EXPECT_EQ(published->undelivered, 0u);

  auto store = EventStore::Open({.path = dir / "store"});
  ASSERT_TRUE(store.ok());
  IngestOptions options;
  options.kafka = kafka;
  options.until_end = true;
  options.max_batch = 2000;
  IngestMonitor monitor;
  options.monitor = &monitor;
  std::atomic<bool> stop{false};
  auto stats = RunIngest(**store, options, stop);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->appended, fixture.lines.size());
  EXPECT_EQ(stats->duplicates, 0u);
  EXPECT_EQ(stats->dead_lettered, 0u);

  // What a metrics endpoint would have read after the last batch.
  auto seen = monitor.Read();
  EXPECT_EQ(seen.totals.appended, fixture.lines.size());
  EXPECT_EQ(seen.totals.batches, stats->batches);
  uint64_t batches = 0;
  for (auto n : seen.write_buckets) batches += n;
  EXPECT_EQ(batches, stats->batches);
  EXPECT_EQ(stats->write_micros.size(), stats->batches);
  int64_t stored = 0;
  for (const auto& p : seen.lag) {
    if (p.partition.topic != kTopicSocialCare) continue;
    EXPECT_EQ(p.lag(), 0) << "partition " << p.partition.partition << " is caught up";
    stored += p.stored_offset;
  }
  EXPECT_EQ(stored, int64_t(fixture.lines.size()));
  std::cout << "[ figures  ] " << fixture.lines.size() << " events; publish "
            << uint64_t(double(published->published) / published->seconds) << "/s; ingest "
            << uint64_t(double(stats->consumed) / stats->seconds_assigned)
            << "/s after the group join (" << stats->batches << " batches)\n";

  for (const char* d : {"2022-03-31", "2023-03-31", "2024-03-31"}) {
    Date at = *ParseDate(d);
    auto expected = fixture.ExpectedClaByPlacement(at);
    EXPECT_EQ(ClaByPlacement(**store, at), expected) << d;
    auto total = ClaAt(**store, at, ClaDimension::kNone);
    ASSERT_TRUE(total.ok());
    EXPECT_EQ(total->front().children, fixture.ExpectedCla(at)) << d;
    EXPECT_GT(fixture.ExpectedCla(at), 100) << "fixture too thin to test anything at " << d;
  }
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), fixture.lines.size());
}

TEST(IngestPipeline, DuplicateEventIdsAreStoredOnce) {
  auto fixture = test::BuildCareFixture(200, 7);
  test::TempDir dir;
  // The whole feed twice, as a source that re-sends everything would.
  test::WriteFile(dir / "feed.jsonl", fixture.Jsonl() + fixture.Jsonl());
  auto cluster = MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok());
  Settings kafka = test::TestKafkaSettings((*cluster)->bootstrap_servers());
  std::ostringstream diagnostics;
  auto published = PublishJsonl({dir / "feed.jsonl"}, kafka, diagnostics);
  ASSERT_TRUE(published.ok());
  ASSERT_EQ(published->published, 2 * fixture.lines.size());

  auto store = EventStore::Open({.path = dir / "store"});
  ASSERT_TRUE(store.ok());
  IngestOptions options;
  options.kafka = kafka;
  options.until_end = true;
  options.max_batch = 500;  // duplicates both inside one batch and across batches
  std::atomic<bool> stop{false};
  auto stats = RunIngest(**store, options, stop);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->appended, fixture.lines.size());
  EXPECT_EQ(stats->duplicates, fixture.lines.size());
  auto ids = test::StoredEventIds(dir / "store");
  EXPECT_EQ(ids, std::multiset<std::string>(fixture.event_ids.begin(), fixture.event_ids.end()));
  Date at = *ParseDate("2023-03-31");
  auto total = ClaAt(**store, at, ClaDimension::kNone);
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->front().children, fixture.ExpectedCla(at));
}

TEST(IngestPipeline, AnEqualFingerprintIsConfirmedByTheBytes) {
  // The dedup fingerprint is 64-bit FNV-1a, which an attacker can make collide. Simulated
  // here by storing an event under the fingerprint of another payload with its id: before,
  // the second was dropped as a "duplicate"; the bytes decide now, so it is a conflict.
  auto fixture = test::BuildCareFixture(20, 11);
  const std::string original = fixture.lines[0];
  const std::string forged = original.substr(0, original.size() - 2) + R"(,"x":1}})";
  Envelope e;
  ASSERT_TRUE(EnvelopeParser().Parse(original, e).ok());
  test::TempDir dir;
  {
    auto store = EventStore::Open({.path = dir / "store"});
    ASSERT_TRUE(store.ok());
    auto batch = (*store)->NewBatch();
    batch.Append(e.event_id, e.child_id, e.occurred_at.date, {"careledger.socialcare.v1", 99}, 0,
                 original, Fingerprint(forged));
    ASSERT_TRUE((*store)->Write(batch).ok());
  }
  test::WriteFile(dir / "feed.jsonl", forged + "\n" + original + "\n");
  auto cluster = MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok());
  Settings kafka = test::TestKafkaSettings((*cluster)->bootstrap_servers());
  std::ostringstream diagnostics;
  auto published = PublishJsonl({dir / "feed.jsonl"}, kafka, diagnostics);
  ASSERT_TRUE(published.ok());
  ASSERT_EQ(published->published, 2u);

  auto store = EventStore::Open({.path = dir / "store"});
  ASSERT_TRUE(store.ok());
  IngestOptions options;
  options.kafka = kafka;
  options.until_end = true;
  std::atomic<bool> stop{false};
  auto stats = RunIngest(**store, options, stop);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->appended, 0u);
  EXPECT_EQ(stats->duplicates, 1u) << "the original, re-sent";
  EXPECT_EQ(stats->dead_lettered, 1u) << "the forged copy";
  EXPECT_EQ(test::DeadLetterReasons(dir / "store"),
            std::vector<std::string>{"conflict: event_id already stored with different content"});
}

// A topic followed by one consumer kept open (each serve's view of careledger.instances.v1):
// what the topic holds when it is opened, then what arrives after, each once.
TEST(TopicFollower, ReadsWhatIsThereThenWhatArrivesOnOneConsumer) {
  auto cluster = MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  Settings kafka = test::TestKafkaSettings((*cluster)->bootstrap_servers());
  auto producer =
      Producer::Open(kafka, [](uint64_t, const Status& s) { EXPECT_TRUE(s.ok()) << s.ToString(); });
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  auto send = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE((*producer)
                      ->Produce("followed", "k" + std::to_string(i), "v" + std::to_string(i), {},
                                uint64_t(i))
                      .ok());
    }
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(10)).ok());
  };
  send(0, 3);
  auto follower = TopicFollower::Open(kafka, "followed", std::chrono::seconds(10));
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  std::multiset<std::string> seen;
  auto read_until = [&](size_t n) {
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
         seen.size() < n && std::chrono::steady_clock::now() < deadline;) {
      ASSERT_TRUE((*follower)
                      ->Poll(std::chrono::milliseconds(200),
                             [&](std::string_view key, std::string_view value) {
                               seen.insert(std::string(key) + "=" + std::string(value));
                             })
                      .ok());
    }
  };
  read_until(3);
  EXPECT_EQ(seen, (std::multiset<std::string>{"k0=v0", "k1=v1", "k2=v2"}));
  send(3, 5);
  read_until(5);
  // Nothing more arrives, and nothing is read twice.
  ASSERT_TRUE((*follower)
                  ->Poll(std::chrono::milliseconds(500),
                         [&](std::string_view key, std::string_view value) {
                           seen.insert(std::string(key) + "=" + std::string(value));
                         })
                  .ok());
  EXPECT_EQ(seen, (std::multiset<std::string>{"k0=v0", "k1=v1", "k2=v2", "k3=v3", "k4=v4"}));
}

}  // namespace
}  // namespace careledger
