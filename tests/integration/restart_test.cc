// Restart: ingest part of a feed, stop the process, publish more (with re-sent duplicates),
// ingest again: the store holds exactly the published event ids, each once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "care_fixture.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;

TEST(Restart, StopThenPublishMoreThenIngestLosesAndRepeatsNothing) {
  auto fixture = test::BuildCareFixture(400, 31);
  const size_t split = fixture.lines.size() * 6 / 10;
  test::TempDir dir;
  std::string part1, part2;
  for (size_t i = 0; i < fixture.lines.size(); ++i) {
    (i < split ? part1 : part2) += fixture.lines[i] + "\n";
  }
  for (size_t i = 0; i < 50; ++i) part2 += fixture.lines[i * 3] + "\n";  // re-sent from part 1
  test::WriteFile(dir / "part1.jsonl", part1);
  test::WriteFile(dir / "part2.jsonl", part2);
  test::BrokerProcess broker(3);
  const std::string store = dir / "store";
  const std::vector<std::string> common = {"--brokers", broker.bootstrap(),       "--data", store,
                                           "--kafka",   "session.timeout.ms=6000"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), common.begin(), common.end());
    return args;
  };

  // 1. A long-running ingest takes part 1, then is stopped with SIGTERM.
  test::Background ingest([&] {
    std::vector<std::string> argv{CARELEDGER_BIN, "ingest"};
    auto rest = with({});
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }());
  auto published = Careledger(with({"publish", dir / "part1.jsonl"}));
  ASSERT_EQ(published.exit_code, 0) << published.err;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(store + "/CURRENT") &&
        test::StoredEventIds(store).size() == split) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(test::StoredEventIds(store).size(), split);
  EXPECT_EQ(ingest.Stop(15), 0) << "SIGTERM is a clean stop";

  // 2. More arrives while nothing ingests, including 50 re-sent events.
  published = Careledger(with({"publish", dir / "part2.jsonl"}));
  ASSERT_EQ(published.exit_code, 0) << published.err;

  // 3. Ingest again from the offsets in the store, until nothing has come for 3 s.
  auto again = Careledger(with({"ingest", "--until-idle", "3"}));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(
      again.err,
      ::testing::HasSubstr("ingested " + std::to_string(fixture.lines.size() - split) + " events"));
  EXPECT_THAT(again.err, ::testing::HasSubstr("duplicates 50"));

  auto stored = test::StoredEventIds(store);
  EXPECT_EQ(stored, std::multiset<std::string>(fixture.event_ids.begin(), fixture.event_ids.end()));

  Date at = *ParseDate("2023-03-31");
  auto report =
      Careledger({"report", "cla", "--data", store, "--at", "2023-03-31", "--format", "csv"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "value\n" + std::to_string(fixture.ExpectedCla(at)) + "\n");
}

}  // namespace
}  // namespace careledger
