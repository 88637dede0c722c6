// Broker faults through the mock cluster's own controls: the producer retries without
// duplicating anything, and ingest waits out a broker that is away, then carries on.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <thread>

#include "care_fixture.h"
#include "careledger/consumers.h"
#include "careledger/events.h"
#include "careledger/kafka.h"
#include "careledger/producers.h"
#include "test_support.h"

namespace careledger {
namespace {

constexpr int16_t kProduce = 0;  // Kafka API keys
constexpr int16_t kFetch = 1;

// Publishes the whole fixture and expects every line acknowledged.
void PublishAll(const test::CareFixture& fixture, const Settings& kafka, const test::TempDir& dir) {
  test::WriteFile(dir / "feed.jsonl", fixture.Jsonl());
  std::ostringstream diagnostics;
  auto published = PublishJsonl({dir / "feed.jsonl"}, kafka, diagnostics);
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(published->published, fixture.lines.size()) << diagnostics.str();
  EXPECT_EQ(published->undelivered, 0u);
}

// Ingests into a new store to the end, in small batches so that faults land mid-ingest.
Result<IngestStats> IngestToEnd(const std::string& store_path, const Settings& kafka,
                                size_t max_batch = 5000) {
  auto store = EventStore::Open({.path = store_path});
  if (!store.ok()) return store.status();
  IngestOptions options;
  options.kafka = kafka;
  options.until_end = true;
  options.max_batch = max_batch;
  options.max_batch_wait = std::chrono::milliseconds(50);
  std::atomic<bool> stop{false};
  return RunIngest(**store, options, stop);
}

TEST(BrokerFaults, ProducerRetriesWithoutDuplicates) {
  auto fixture = test::BuildCareFixture(300, 21);
  test::TempDir dir;
  auto cluster = MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok());
  // Produce requests fail, retriably, in ways that make a non-idempotent producer write twice
  // (the broker may have written a batch whose acknowledgement was lost).
  ASSERT_TRUE(
      (*cluster)->FailNextRequests(kProduce, 6, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS).ok());
  ASSERT_TRUE((*cluster)->FailNextRequests(kProduce, 4, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT).ok());
  Settings kafka = test::TestKafkaSettings((*cluster)->bootstrap_servers());
  PublishAll(fixture, kafka, dir);

  // Every message is on the topic exactly once: ingest finds no re-sent copies.
  auto stats = IngestToEnd(dir / "store", kafka);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->appended, fixture.lines.size());
  EXPECT_EQ(stats->duplicates, 0u);
}

TEST(BrokerFaults, IngestWaitsOutABrokerThatIsAwayAndCarriesOn) {
  auto fixture = test::BuildCareFixture(800, 22);
  test::TempDir dir;
  auto cluster = MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok());
  Settings kafka = test::TestKafkaSettings((*cluster)->bootstrap_servers());
  PublishAll(fixture, kafka, dir);

  // Fetches fail for a while, and the broker goes away for two seconds mid-ingest.
  ASSERT_TRUE(
      (*cluster)->FailNextRequests(kFetch, 5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION).ok());
  std::thread outage([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(4000));  // after the group join
    EXPECT_TRUE((*cluster)->SetBrokerUp(false).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    EXPECT_TRUE((*cluster)->SetBrokerUp(true).ok());
  });
  auto stats = IngestToEnd(dir / "store", kafka, 200);
  outage.join();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->appended, fixture.lines.size());
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), fixture.lines.size());
}

TEST(BrokerFaults, IngestFollowsPartitionLeadersAsTheyMove) {
  auto fixture = test::BuildCareFixture(800, 23);
  test::TempDir dir;
  auto cluster = MockCluster::Start(3, 0, /*brokers=*/3);
  ASSERT_TRUE(cluster.ok());
  Settings kafka = test::TestKafkaSettings((*cluster)->bootstrap_servers());
  PublishAll(fixture, kafka, dir);

  // Every social care partition changes leader twice while ingest reads it.
  std::thread moves([&] {
    for (int round = 0; round < 2; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(round == 0 ? 3500 : 500));
      for (int p = 0; p < 3; ++p) {
        EXPECT_TRUE((*cluster)->MoveLeader(kTopicSocialCare, p, 1 + (p + round + 1) % 3).ok());
      }
    }
  });
  auto stats = IngestToEnd(dir / "store", kafka, 200);
  moves.join();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->appended, fixture.lines.size());
  EXPECT_EQ(stats->duplicates, 0u);
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), fixture.lines.size());
}

}  // namespace
}  // namespace careledger
