// `careledger publish --format ...` as a user runs it against `careledger broker`: the example
// SSDA903 files go through, a re-send is stored once (the event ids come from the source keys),
// and a bad row is named on stderr and in the rejects file while the rest is published.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

std::string Example(std::string_view name) {
  return std::string(CARELEDGER_SOURCE_DIR) + "/ops/examples/" + std::string(name);
}

TEST(FeedPublish, Ssda903ExamplesArePublishedOnceAndAReSendIsADuplicate) {
  test::TempDir dir;
  test::BrokerProcess broker(3);
  // The postcode districts come from the settings file, as an authority would configure them.
  test::WriteFile(dir / "c.toml",
                  "[ssda903]\nlocal_postcode_districts = [\"LS1\", \"ls2\", \"LS6\"]\n");
  const std::vector<std::string> publish = {"publish",
                                            "--brokers",
                                            broker.bootstrap(),
                                            "--config",
                                            dir / "c.toml",
                                            "--format",
                                            "ssda903",
                                            "--extracted-at",
                                            "2025-06-30T09:00:00Z",
                                            "--rejects",
                                            dir / "rejects.jsonl",
                                            Example("ssda903_header.csv"),
                                            Example("ssda903_episodes.csv"),
                                            Example("ssda903_missing.csv"),
                                            Example("ssda903_oc3.csv")};
  for (int round = 1; round <= 2; ++round) {
    auto r = Careledger(publish);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("published 22 of 22 events from 17 rows")) << round;
    EXPECT_THAT(r.err, HasSubstr("rejected 0, undelivered 0")) << round;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "rejects.jsonl")) << "a clean run writes none";
  EXPECT_FALSE(std::filesystem::exists(Example("ssda903_header.csv") + ".rejects.jsonl"));

  auto ingest = Careledger(
      {"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store", "--until-end"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err, HasSubstr("ingested 22 events"));
  EXPECT_THAT(ingest.err, HasSubstr("duplicates 22, dead letters 0"));
  size_t ended = 0;
  for (const auto& id : test::StoredEventIds(dir / "store")) {
    if (id.starts_with("ssda903:care.period_ended:C1001:2024-01-05@")) ++ended;
  }
  EXPECT_EQ(ended, 1u);
  // C1001 (U4 since September) and C1003 (K2) were looked after on 31 March 2024.
  auto report = Careledger(
      {"report", "cla", "--data", dir / "store", "--at", "2024-03-31", "--format", "csv"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "value\n2\n");
}

TEST(FeedPublish, ABadRowIsNamedAndListedAndTheOthersArePublished) {
  test::TempDir dir;
  test::BrokerProcess broker(3);
  test::WriteFile(dir / "police.csv",
                  test::ReadFile(Example("police.csv")) +
                      "offence,C1004,2024-09-31,,,,,,OF-24-0100,drugs,,,N,,,,\n");
  auto r = Careledger({"publish", "--brokers", broker.bootstrap(), "--format", "police-csv",
                       "--extracted-at", "2025-06-30T09:00:00Z", "--rejects", dir / "rejects.jsonl",
                       dir / "police.csv"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr(dir / "police.csv" + ":9: field 'occurred_at': no such calendar date"));
  EXPECT_THAT(r.err, HasSubstr("published 7 of 7 events from 8 rows"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("C1004"))) << "a child id is never printed";
  EXPECT_EQ(test::ReadFile(dir / "rejects.jsonl"),
            "{\"file\":\"" + dir / "police.csv" +
                "\",\"line\":9,\"field\":\"occurred_at\",\"reason\":\"no such calendar date\"}\n");
  // Unasked, nothing is written beside the inputs (they may sit on a read-only share).
  std::filesystem::remove(dir / "rejects.jsonl");
  auto again = Careledger({"publish", "--brokers", broker.bootstrap(), "--format", "police-csv",
                           "--extracted-at", "2025-06-30T09:00:00Z", dir / "police.csv"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err,
              HasSubstr(dir / "police.csv" + ":9: field 'occurred_at': no such calendar date"));
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u) << "only police.csv";
}

TEST(FeedPublish, AReExtractOfUnchangedRowsIsADuplicateWhateverItsExtractTime) {
  test::TempDir dir;
  test::BrokerProcess broker(3);
  std::vector<std::string> files = {Example("ssda903_header.csv"), Example("ssda903_episodes.csv"),
                                    Example("ssda903_missing.csv"), Example("ssda903_oc3.csv")};
  for (const char* extracted : {"2025-06-30T09:00:00Z", "2025-09-30T09:00:00Z"}) {
    std::vector<std::string> args = {"publish", "--brokers",      broker.bootstrap(), "--format",
                                     "ssda903", "--extracted-at", extracted};
    args.insert(args.end(), files.begin(), files.end());
    auto r = Careledger(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto ingest = Careledger(
      {"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store", "--until-end"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err, HasSubstr("ingested 22 events"));
  EXPECT_THAT(ingest.err, HasSubstr("duplicates 22, dead letters 0"));
}

// A re-extract that changes a row (C1001's last episode now ends a month later) is a new
// version of that record: the figures follow it, and as known before it arrived they do not.
// A complete re-extract retracts the records it no longer holds.
TEST(FeedPublish, AReExtractThatChangesARowIsANewVersionAndACompleteOneRetractsWhatIsGone) {
  test::TempDir dir;
  test::BrokerProcess broker(3);
  std::string episodes = test::ReadFile(Example("ssda903_episodes.csv"));
  const std::string row = "C1001,05/01/2024,L,C1,N1,U4,PR4,20/06/2024,E4A,,LS6,BD1,XXXXXXX";
  ASSERT_NE(episodes.find(row), std::string::npos);
  test::WriteFile(dir / "episodes.csv", episodes);
  episodes.replace(episodes.find(row), row.size(),
                   "C1001,05/01/2024,L,C1,N1,U4,PR4,20/07/2024,E4A,,LS6,BD1,XXXXXXX");
  std::filesystem::create_directories(dir / "re-extract");
  test::WriteFile(dir / "re-extract/episodes.csv", episodes);
  // Ingest runs as a service would, across the extracts; reports read the store beside it.
  test::Background ingest(
      {CARELEDGER_BIN, "ingest", "--brokers", broker.bootstrap(), "--data", dir / "store"});
  auto publish = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"publish", "--brokers", broker.bootstrap(), "--format",
                                    "ssda903"};
    all.insert(all.end(), args.begin(), args.end());
    return Careledger(all);
  };
  auto cla = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"report", "cla",        "--data",   dir / "store",
                                     "--at",   "2024-06-30", "--format", "csv"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Careledger(args).out;
  };
  // The figure once ingest has caught up with what was just published.
  auto cla_becomes = [&](const std::string& want) {
    std::string seen;
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
         std::chrono::steady_clock::now() < deadline;) {
      if ((seen = cla({})) == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return seen;
  };
  auto p = publish({"--extracted-at", "2025-06-30T09:00:00Z", dir / "episodes.csv"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  // C1002 and C1003 on 30 June 2024; C1001 left on the 20th.
  ASSERT_EQ(cla_becomes("value\n2\n"), "value\n2\n") << ingest.Stderr();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string before =
      FormatInstant(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  p = publish({"--extracted-at", "2025-09-30T09:00:00Z", dir / "re-extract/episodes.csv"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(cla_becomes("value\n3\n"), "value\n3\n") << "C1001 is now looked after until 20 July";
  EXPECT_EQ(cla({"--as-known-at", before}), "value\n2\n") << "what the report said before";
  // Both versions are kept in the log.
  size_t versions = 0;
  for (const auto& id : test::StoredEventIds(dir / "store")) {
    if (id.starts_with("ssda903:care.period_ended:C1001:2024-01-05@")) ++versions;
  }
  EXPECT_EQ(versions, 2u);

  // A complete re-extract without C1003: its three records (the start, and the legal status and
  // placement change of its second episode) are retracted, the count said before publishing.
  std::string without;
  for (const auto& line : test::Lines(episodes)) {
    if (!line.starts_with("C1003,")) without += line + "\n";
  }
  test::WriteFile(dir / "re-extract/complete.csv", without);
  const std::vector<std::string> complete = {"--extracted-at", "2025-10-31T09:00:00Z",
                                             "--complete",     "--data",
                                             dir / "store",    dir / "re-extract/complete.csv"};
  p = publish(complete);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_THAT(p.err, HasSubstr("complete re-extract: 3 stored records are no longer in the files "
                               "and will be retracted\n"));
  EXPECT_EQ(cla_becomes("value\n2\n"), "value\n2\n") << "C1001 and C1002; C1003 is gone";
  // Said again, nothing more to retract.
  EXPECT_THAT(publish(complete).err, HasSubstr("complete re-extract: 0 stored records"));
  EXPECT_EQ(ingest.Stop(), 0) << ingest.Stderr();
  EXPECT_THAT(ingest.Stderr(), HasSubstr("dead letters 0"));
}

TEST(FeedPublish, TheLargestEnvelopeTheContractAllowsIsDeliveredAndIngested) {
  // Up to 1 MiB meets the contract (kMaxEnvelopeBytes); librdkafka's own default limit is
  // 1,000,000 bytes, so before, publish could not deliver what ingest would accept.
  test::TempDir dir;
  const std::string event =
      R"({"event_id":"big-1","type":"child.registered","schema_version":1,"source":"lcs",)"
      R"("child_id":"C-BIG","occurred_at":"2024-01-01","recorded_at":"2024-01-02T00:00:00Z",)"
      R"("data":{"dob":"2012-05-01","sex":"F","ethnicity":"WBRI"})";
  const size_t kLimit = 1 << 20;
  // Insignificant whitespace makes it as large as allowed: exactly 1 MiB.
  std::string line = event + std::string(kLimit - event.size() - 1, ' ') + "}";
  ASSERT_EQ(line.size(), kLimit);
  test::WriteFile(dir / "big.jsonl", line + "\n");
  test::BrokerProcess broker(1);
  auto published = Careledger({"publish", "--brokers", broker.bootstrap(), dir / "big.jsonl"});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  EXPECT_THAT(published.err, HasSubstr("published 1 of 1 events"));
  auto ingested = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store",
                              "--until-end", "--kafka", "session.timeout.ms=6000"});
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  EXPECT_EQ(test::StoredEventIds(dir / "store"), std::multiset<std::string>{"big-1"});

  // One byte more is refused by publish, naming the line and the limit.
  test::WriteFile(dir / "bigger.jsonl", line.substr(0, kLimit - 1) + " }\n");
  auto refused = Careledger({"publish", "--brokers", broker.bootstrap(), dir / "bigger.jsonl"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("bigger.jsonl:1: oversize: 1048577 bytes > 1048576"));
}

}  // namespace
}  // namespace careledger
