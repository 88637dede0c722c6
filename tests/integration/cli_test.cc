// The command line as a user meets it: --help everywhere, exit 0/1/2, data on stdout and
// diagnostics on stderr.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd : {"broker", "demo", "generate", "publish", "ingest", "report"}) {
    auto r = Careledger({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("--data")) << cmd << ": common flags are listed";
    EXPECT_THAT(r.out, HasSubstr("--brokers")) << cmd;
  }
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(Careledger({}).exit_code, 2);
  EXPECT_EQ(Careledger({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Careledger({"report"}).exit_code, 2) << "metric is required";
  EXPECT_EQ(Careledger({"report", "cla", "--at", "2024-13-01"}).exit_code, 2);
  EXPECT_EQ(Careledger({"report", "cla", "--format", "xml"}).exit_code, 2);
  auto by = Careledger({"report", "cla", "--by", "shoe_size"});
  EXPECT_EQ(by.exit_code, 2);
  EXPECT_THAT(by.err, HasSubstr("placement, legal_status"));
  auto metric = Careledger({"report", "teleports"});
  EXPECT_EQ(metric.exit_code, 2);
  EXPECT_THAT(metric.err, HasSubstr("not available"));
}

TEST(Cli, ReportOnAMissingStoreSaysWhatToDo) {
  test::TempDir dir;
  auto r = Careledger({"report", "cla", "--data", dir / "nothing-here"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no store at " + dir / "nothing-here"));
  EXPECT_EQ(r.out, "");
}

TEST(Cli, PublishWithoutBrokersExplainsHowToGetOne) {
  test::TempDir dir;
  test::WriteFile(dir / "f.jsonl", "");
  auto r = Careledger({"publish", dir / "f.jsonl"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("careledger broker"));
}

TEST(Cli, GenerateIsDeterministicBySeed) {
  auto a = Careledger({"generate", "--children", "5000", "--seed", "9"});
  auto b = Careledger({"generate", "--children", "5000", "--seed", "9"});
  auto c = Careledger({"generate", "--children", "5000", "--seed", "10"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(a.out == b.out);
  EXPECT_TRUE(a.out != c.out);
  // An area of 5,000 children: 155 known to some source, 1,154 events, 15 re-sent, 1 malformed.
  EXPECT_EQ(test::Lines(a.out).size(), 1170u);
}

TEST(Cli, SettingsFileEnvironmentAndFlagsApplyInThatOrder) {
  test::TempDir dir;
  // The settings file names a store that does not exist; the flag overrides it.
  test::WriteFile(dir / "c.conf", "# comment\ndata = " + dir / "from-file" +
                                      "\nkafka.sasl.password = hunter2\nlog_level = debug\n");
  auto r = Careledger({"report", "cla", "--config", dir / "c.conf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no store at " + dir / "from-file"));
  EXPECT_THAT(r.err, HasSubstr("sasl.password=*****")) << "settings are logged at debug";
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("hunter2"))) << "secrets are never logged";
  r = Careledger({"report", "cla", "--config", dir / "c.conf", "--data", dir / "from-flag"});
  EXPECT_THAT(r.err, HasSubstr("no store at " + dir / "from-flag"));
  test::WriteFile(dir / "bad.conf", "data\n");
  r = Careledger({"report", "cla", "--config", dir / "bad.conf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir / "bad.conf" + ":1: expected key = value"));
}

}  // namespace
}  // namespace careledger
