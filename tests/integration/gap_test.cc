// Offset gaps: events the broker no longer holds are never skipped silently. The embedded
// broker keeps about 5 MiB per partition, so a feed larger than that loses its head to
// retention before ingest starts, exactly as real Kafka does after retention.ms; a store
// pointed at another cluster (or a recreated topic) is ahead of the log. Both stop ingest with
// exit 3 naming the range, `verify` fails on them until an operator accepts them, and an
// accepted gap is kept in the store for audit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <charconv>
#include <thread>

#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kPolice = "careledger.police.v1";
const std::string kSocialCare = "careledger.socialcare.v1";

// The first and last offsets a partition still holds, read by kcat (not by careledger).
std::pair<int64_t, int64_t> HeldOffsets(const std::string& bootstrap, const std::string& topic) {
  auto read_one = [&](const std::string& from) {
    auto r = test::Run({test::KcatPath(), "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", from,
                        "-c", "1", "-e", "-q", "-f", "%o\n"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    int64_t offset = -1;
    std::from_chars(r.out.data(), r.out.data() + r.out.size(), offset);
    return offset;
  };
  return {read_one("beginning"), read_one("-1")};
}

TEST(OffsetGap, RetentionAheadOfTheStoreStopsIngestUntilAnOperatorAcceptsIt) {
  test::TempDir dir;
  test::BrokerProcess broker(1);
  ASSERT_FALSE(broker.bootstrap().empty());
  // 47,314 valid events of ~500 bytes on one partition per topic: more than the ~5 MiB the
  // embedded broker keeps, so the oldest are gone before ingest starts.
  auto generated =
      Careledger({"generate", "--children", "172000", "--seed", "7", "--out", dir / "feed.jsonl"});
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  auto published = Careledger({"publish", dir / "feed.jsonl", "--brokers", broker.bootstrap()});
  ASSERT_THAT(published.err, HasSubstr("published 47314 of"));

  auto [police_low, police_last] = HeldOffsets(broker.bootstrap(), kPolice);
  auto [care_low, care_last] = HeldOffsets(broker.bootstrap(), kSocialCare);
  ASSERT_GT(police_low, 0) << "the feed should exceed the broker's retention";
  ASSERT_GT(care_low, 0) << "the feed should exceed the broker's retention";
  // publish says so itself, before ingest ever meets it.
  EXPECT_EQ(published.exit_code, 1);
  EXPECT_THAT(
      published.err,
      HasSubstr(kPolice + "/0: offsets 0.." + std::to_string(police_low - 1) + " (" +
                std::to_string(police_low) + " messages) were delivered and already dropped"));
  EXPECT_THAT(published.err, HasSubstr("dropped by the broker's retention " +
                                       std::to_string(police_low + care_low)));

  const std::vector<std::string> ingest = {
      "ingest",      "--brokers",   broker.bootstrap(), "--data",
      dir / "store", "--until-end", "--kafka",          "session.timeout.ms=6000"};
  auto stopped = Careledger(ingest);
  EXPECT_EQ(stopped.exit_code, 3) << stopped.err;
  EXPECT_THAT(stopped.err, HasSubstr("offsets 0.." + std::to_string(police_low - 1) + " of " +
                                     kPolice + "/0 (" + std::to_string(police_low) +
                                     " messages) are no longer held by the broker"));
  EXPECT_THAT(stopped.err, HasSubstr("offsets 0.." + std::to_string(care_low - 1) + " of " +
                                     kSocialCare + "/0"));
  EXPECT_THAT(stopped.err,
              HasSubstr("--accept-gap " + kPolice + ":0 --accept-gap " + kSocialCare + ":0"));
  {
    // Nothing past a gap is read (the yjs partition has none, and what it held is kept).
    auto store = EventStore::Open({.path = dir / "store", .read_only = true});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (const auto& topic : {kPolice, kSocialCare}) {
      auto next = (*store)->NextOffset({topic, 0});
      ASSERT_TRUE(next.ok());
      EXPECT_FALSE(next->has_value()) << topic;
    }
  }

  auto verify = Careledger({"verify", "--data", dir / "store"});
  EXPECT_EQ(verify.exit_code, 3) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("open gap         offsets 0.." +
                                    std::to_string(police_low - 1) + " of " + kPolice + "/0"));

  // /metrics of `serve` over the store shows it, for the CareledgerOffsetGap alert.
  {
    test::Background serve(
        {CARELEDGER_BIN, "serve", "--data", dir / "store", "--listen", "127.0.0.1:0"});
    const std::string url = serve.FirstLine();
    ASSERT_THAT(url, HasSubstr("http://127.0.0.1:"));
    httplib::Client client(url);
    client.set_read_timeout(std::chrono::seconds(10));
    std::string body;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (body.empty() && std::chrono::steady_clock::now() < deadline) {
      if (auto r = client.Get("/metrics"); r && r->status == 200) {
        body = r->body;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    EXPECT_THAT(body,
                HasSubstr("careledger_offset_gap_messages{topic=\"" + kPolice +
                          "\",partition=\"0\",state=\"open\"} " + std::to_string(police_low)));
  }

  // Still stopped on a second start: the gap does not go away by itself.
  EXPECT_EQ(Careledger(ingest).exit_code, 3);

  // Accepting one partition is not enough while the other still has a gap.
  auto accept = ingest;
  accept.insert(accept.end(), {"--accept-gap", kPolice + ":0"});
  auto half = Careledger(accept);
  EXPECT_EQ(half.exit_code, 3) << half.err;
  std::string reason = half.err.substr(half.err.rfind("careledger: "));
  EXPECT_THAT(reason, HasSubstr("of " + kSocialCare + "/0 ("));
  EXPECT_THAT(reason, Not(HasSubstr(kPolice)));

  accept.insert(accept.end(), {"--accept-gap", kSocialCare + ":0"});
  auto accepted = Careledger(accept);
  ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_THAT(accepted.err,
              HasSubstr("accepting an offset gap as told (--accept-gap " + kSocialCare + ":0)"));

  // Everything the broker still held was read, from its first offset to its last.
  auto report = Careledger({"verify", "--data", dir / "store"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_THAT(report.out, HasSubstr("accepted gap     offsets 0.." +
                                    std::to_string(police_low - 1) + " of " + kPolice + "/0"));
  EXPECT_THAT(report.out, HasSubstr("accepted gap     offsets 0.." + std::to_string(care_low - 1) +
                                    " of " + kSocialCare + "/0"));
  auto store = EventStore::Open({.path = dir / "store", .read_only = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto police_next = (*store)->NextOffset({kPolice, 0});
  ASSERT_TRUE(police_next.ok());
  EXPECT_EQ(police_next->value_or(-1), police_last + 1);
  auto care_next = (*store)->NextOffset({kSocialCare, 0});
  ASSERT_TRUE(care_next.ok());
  EXPECT_EQ(care_next->value_or(-1), care_last + 1);
}

TEST(OffsetGap, AStoreAheadOfAFreshClusterStopsIngest) {
  test::TempDir dir;
  std::string jsonl;
  {
    test::BrokerProcess first(1);
    auto generated =
        Careledger({"generate", "--children", "3000", "--seed", "3", "--out", dir / "feed.jsonl"});
    ASSERT_EQ(generated.exit_code, 0) << generated.err;
    (void)Careledger({"publish", dir / "feed.jsonl", "--brokers", first.bootstrap()});
    auto ingested = Careledger({"ingest", "--brokers", first.bootstrap(), "--data", dir / "store",
                                "--until-end", "--kafka", "session.timeout.ms=6000"});
    ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  }
  auto store = EventStore::Open({.path = dir / "store", .read_only = true});
  ASSERT_TRUE(store.ok());
  auto next = (*store)->NextOffset({kSocialCare, 0});
  ASSERT_TRUE(next.ok() && next->has_value());
  store->reset();

  // Another, empty cluster: before, "ingested 0 events" and exit 0.
  test::BrokerProcess fresh(1);
  auto stopped = Careledger({"ingest", "--brokers", fresh.bootstrap(), "--data", dir / "store",
                             "--until-end", "--kafka", "session.timeout.ms=6000"});
  EXPECT_EQ(stopped.exit_code, 3) << stopped.err;
  EXPECT_THAT(stopped.err, HasSubstr(kSocialCare +
                                     "/0 ends at offset 0 but this store has read "
                                     "it up to " +
                                     std::to_string(**next)));
  const auto before = test::StoredEventIds(dir / "store");

  // The source sends everything again to the new cluster; accepting the gaps re-reads the new
  // topics from their start, and every event is already stored: nothing is added or lost.
  (void)Careledger({"publish", dir / "feed.jsonl", "--brokers", fresh.bootstrap()});
  auto accepted =
      Careledger({"ingest", "--brokers", fresh.bootstrap(), "--data", dir / "store", "--until-end",
                  "--kafka", "session.timeout.ms=6000", "--accept-gap", kSocialCare + ":0",
                  "--accept-gap", kPolice + ":0", "--accept-gap", "careledger.yjs.v1:0"});
  ASSERT_EQ(accepted.exit_code, 0) << accepted.err;
  EXPECT_EQ(test::StoredEventIds(dir / "store"), before);
  auto verify = Careledger({"verify", "--data", dir / "store"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("accepted gap     " + kSocialCare + "/0 ends at offset 0"));
}

}  // namespace
}  // namespace careledger
