// Data protection as the logs show it: a feed goes through every command an operator runs at
// the default (info) level, bad rows and bad messages included, and no child id from the feed
// appears in anything written to stderr (or in the diagnostics commands print on stdout).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "care_fixture.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;

// The child_id field of an envelope line.
std::string ChildOf(const std::string& line) {
  auto at = line.find(R"("child_id":")") + 12;
  return line.substr(at, line.find('"', at) - at);
}

TEST(DataProtection, NoChildIdReachesTheLogsAtInfo) {
  auto fixture = test::BuildCareFixture(60, 4242);
  ASSERT_EQ(fixture.children.size(), 60u);
  test::TempDir dir;

  // Good lines, and lines publish rejects: each names its child, which the error must not.
  std::string feed = fixture.Jsonl() + "\n";
  const std::string& sample = fixture.lines[0];
  std::string bad_code = sample;
  if (auto at = bad_code.find(R"("type":")"); at != std::string::npos) {
    bad_code.replace(at, 8, R"("type":"care.teleported_)");
  }
  feed += bad_code + "\n";
  std::string bad_date = sample;
  bad_date.replace(bad_date.find(R"("occurred_at":")") + 15, 10, "2024-02-30");
  feed += bad_date + "\n";
  test::WriteFile(dir / "feed.jsonl", feed);

  // Messages only ingest can judge, smuggled onto the topic as a misbehaving source would: a key
  // that is another child's id, the same event_id with other content, and broken JSON.
  std::string other = fixture.lines[7];
  other.insert(other.find(R"("event_id":")") + 12, "other-");
  std::string keyed = ChildOf(fixture.lines[30]) + "\t" + other + "\n";
  std::string conflicting = sample.substr(0, sample.size() - 2) + R"(,"extra":1}})";
  keyed += ChildOf(sample) + "\t" + conflicting + "\n";
  keyed += ChildOf(fixture.lines[40]) + "\t{\"child_id\":\"" + ChildOf(fixture.lines[40]) + "\",\n";
  test::WriteFile(dir / "keyed.tsv", keyed);

  test::BrokerProcess broker(3);
  const std::string info[] = {"--log-level", "info"};
  std::string logs;
  auto run = [&](std::vector<std::string> args, bool stdout_is_diagnostic) {
    args.insert(args.end(), std::begin(info), std::end(info));
    auto r = Careledger(args);
    logs += r.err;
    if (stdout_is_diagnostic) logs += r.out;
    return r;
  };
  auto published = run({"publish", "--brokers", broker.bootstrap(), "--rejects",
                        dir / "rejects.jsonl", dir / "feed.jsonl"},
                       true);
  EXPECT_EQ(published.exit_code, 1) << "two lines are rejected\n" << published.err;
  auto smuggled =
      test::KcatProduce(broker.bootstrap(), "careledger.socialcare.v1", dir / "keyed.tsv");
  ASSERT_EQ(smuggled.exit_code, 0) << smuggled.err;
  auto ingest = run(
      {"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store", "--until-end"}, true);
  EXPECT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err, ::testing::HasSubstr("3 messages were rejected into the dead-letter"));
  EXPECT_EQ(run({"verify", "--data", dir / "store"}, true).exit_code, 0);
  EXPECT_EQ(run({"report", "cla", "--data", dir / "store", "--at", "2023-03-31"}, false).exit_code,
            0);
  // list prints ids, kinds and reasons as data; what it logs must still be clean.
  EXPECT_EQ(run({"deadletter", "list", "--data", dir / "store"}, true).exit_code, 0);
  EXPECT_EQ(run({"deadletter", "retry", "--dry-run", "--data", dir / "store"}, true).exit_code, 1)
      << "the conflict and the broken JSON cannot be retried";
  EXPECT_EQ(run({"backup", dir / "backup", "--data", dir / "store"}, true).exit_code, 0);

  ASSERT_THAT(logs, ::testing::HasSubstr("ingested")) << "the logs were captured";
  int found = 0;
  for (const auto& child : fixture.children) {
    if (logs.find(child.child_id) != std::string::npos) {
      ++found;
      ADD_FAILURE() << "child id " << child.child_id << " appears in the logs";
    }
  }
  EXPECT_EQ(found, 0);
}

}  // namespace
}  // namespace careledger
