// The command line as a user meets it: --help everywhere, exit 0/1/2, data on stdout and
// diagnostics on stderr.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "test_support.h"
#include "three_children_feed.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(Cli, OneSettingsTableForBothRolesWarnsNothingWhenAllIsWell) {
  // [kafka] serves the consumer and the producers alike: librdkafka's "consumer property
  // ignored by this producer" (and the reverse) is not news to a user.
  test::TempDir dir;
  test::BrokerProcess broker(3);
  test::WriteFile(dir / "feed.jsonl", test::ThreeChildrenFeed());
  const std::vector<std::string> both = {"--kafka", "session.timeout.ms=6000", "--kafka",
                                         "linger.ms=5"};
  std::vector<std::string> publish = {"publish", "--brokers", broker.bootstrap(),
                                      dir / "feed.jsonl"};
  publish.insert(publish.end(), both.begin(), both.end());
  auto published = Careledger(publish);
  ASSERT_EQ(published.exit_code, 0) << published.err;
  std::vector<std::string> ingest = {"ingest", "--brokers",   broker.bootstrap(),
                                     "--data", dir / "store", "--until-end"};
  ingest.insert(ingest.end(), both.begin(), both.end());
  auto ingested = Careledger(ingest);
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  for (const auto* err : {&published.err, &ingested.err}) {
    EXPECT_THAT(*err, Not(HasSubstr("CONFWARN")));
    EXPECT_THAT(*err, Not(HasSubstr(" warn ")));
  }
}

// Static group membership, for a real broker (the embedded one takes the id and ignores it):
// from the flag or the settings, derived from the host and store for "auto", checked before
// anything joins. Each store here is its own deployment, so each has its own group: a static
// member does not leave its group when it stops.
TEST(Cli, StaticInstanceIdFromAFlagOrTheSettingsIsCheckedAndUsed) {
  test::TempDir dir;
  test::BrokerProcess broker(3);
  test::WriteFile(dir / "feed.jsonl", test::ThreeChildrenFeed());
  auto published = Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  auto ingest = [&](const std::string& store, const std::string& group,
                    std::vector<std::string> extra, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    for (std::string a : {std::string(CARELEDGER_BIN), std::string("ingest"),
                          std::string("--brokers"), broker.bootstrap(), std::string("--data"),
                          store, std::string("--group"), group, std::string("--until-end")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::Run(argv);
  };
  auto derived = ingest(dir / "a", "static-a", {"--instance-id", "auto"});
  ASSERT_EQ(derived.exit_code, 0) << derived.err;
  EXPECT_THAT(derived.err, ::testing::ContainsRegex(
                               "static member careledger-[A-Za-z0-9._-]+-[0-9a-f]{16} of group "
                               "static-a"));
  const std::string feed = test::ThreeChildrenFeed();
  EXPECT_EQ(test::StoredEventIds(dir / "a").size(),
            size_t(std::count(feed.begin(), feed.end(), '\n')));
  auto from_env = ingest(dir / "b", "static-b", {}, {"CARELEDGER_INGEST_INSTANCE_ID=ingest-b.1"});
  ASSERT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_THAT(from_env.err, HasSubstr("static member ingest-b.1 of group static-b"));
  auto dynamic = ingest(dir / "c", "dynamic-c", {});
  ASSERT_EQ(dynamic.exit_code, 0) << dynamic.err;
  EXPECT_THAT(dynamic.err, Not(HasSubstr("static member")));

  auto bad = ingest(dir / "d", "static-d", {"--instance-id", "host 1"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("instance id \"host 1\": expected auto, or 1 to 249 of"));
  auto two =
      ingest(dir / "d", "static-d", {"--instance-id", "one", "--kafka", "group.instance.id=two"});
  EXPECT_EQ(two.exit_code, 1);
  EXPECT_THAT(two.err, HasSubstr("two static instance ids: group.instance.id=two"));
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd :
       {"broker", "demo", "generate", "publish", "ingest", "report", "config", "replay"}) {
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
  EXPECT_THAT(by.err, HasSubstr("cannot break cla down by 'shoe_size' (age_band, area, cohort"));
  auto metric = Careledger({"report", "teleports"});
  EXPECT_EQ(metric.exit_code, 2);
  EXPECT_THAT(metric.err, HasSubstr("unknown metric 'teleports' (cla, care-leavers, outcomes"));
  auto both =
      Careledger({"report", "cla", "--at", "2024-03-31", "--period", "2024-01-01..2024-04-01"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("give --at or --period, not both"));
  auto period = Careledger({"report", "outcomes", "--period", "2024-01-01"});
  EXPECT_EQ(period.exit_code, 2);
  EXPECT_THAT(period.err, HasSubstr("--period: not FROM..TO"));
  auto at = Careledger({"report", "outcomes", "--at", "2024-03-31"});
  EXPECT_EQ(at.exit_code, 2);
  EXPECT_THAT(at.err, HasSubstr("outcomes counts over a period: use --period FROM..TO"));
  auto year = Careledger({"report", "criminalisation", "--at", "2024-03-30"});
  EXPECT_EQ(year.exit_code, 2);
  EXPECT_THAT(year.err, HasSubstr("year ending 31 March"));
  // The panel's worklist names children: it has no published form, and it is a list, not a
  // figure broken down.
  auto panel = Careledger({"report", "panel", "--published"});
  EXPECT_EQ(panel.exit_code, 2);
  EXPECT_THAT(panel.err, HasSubstr("report panel takes --published nowhere"));
  EXPECT_EQ(Careledger({"report", "panel", "--by", "cohort"}).exit_code, 2);
  EXPECT_EQ(Careledger({"report", "panel", "--as-known-at", "soon"}).exit_code, 2);
  auto cell = Careledger({"lineage", "cla", "--by", "placement", "--cell", "sex=F"});
  EXPECT_EQ(cell.exit_code, 2);
  EXPECT_THAT(cell.err, HasSubstr("--cell names 'sex', which is not among the --by dimensions"));
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
  // An area of 5,000 children: 155 known to some source, 1,372 events, 15 re-sent, 1 malformed.
  EXPECT_EQ(test::Lines(a.out).size(), 1388u);
}

TEST(Cli, SettingsFileEnvironmentAndFlagsApplyInThatOrder) {
  test::TempDir dir;
  // The settings file names a store that does not exist; the variable, then the flag, override it.
  test::WriteFile(dir / "c.toml", "# comment\ndata = \"" + dir / "from-file" +
                                      "\"\nlog_level = \"debug\"\n[kafka]\n"
                                      "\"sasl.password\" = \"hunter2\"\n");
  ::chmod((dir / "c.toml").c_str(), 0600);
  auto r = Careledger({"report", "cla", "--config", dir / "c.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no store at " + dir / "from-file"));
  EXPECT_THAT(r.err, HasSubstr("sasl.password=*****")) << "settings are logged at debug";
  EXPECT_THAT(r.err, Not(HasSubstr("hunter2"))) << "secrets are never logged";
  r = test::Run({"/usr/bin/env", "CARELEDGER_DATA=" + dir / "from-env", CARELEDGER_BIN, "report",
                 "cla", "--config", dir / "c.toml"});
  EXPECT_THAT(r.err, HasSubstr("no store at " + dir / "from-env"));
  r = test::Run({"/usr/bin/env", "CARELEDGER_DATA=" + dir / "from-env", CARELEDGER_BIN, "report",
                 "cla", "--config", dir / "c.toml", "--data", dir / "from-flag"});
  EXPECT_THAT(r.err, HasSubstr("no store at " + dir / "from-flag"));
  // The pre-TOML form with a bare value is refused with the line and a hint.
  test::WriteFile(dir / "old.conf", "data = /var/lib/careledger\n");
  r = Careledger({"report", "cla", "--config", dir / "old.conf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir / "old.conf" + ":1: not valid TOML"));
  EXPECT_THAT(r.err, HasSubstr("text values are quoted"));
}

// Secrets given every way a secret can be given: the file, a variable, a flag.
constexpr const char* kFileSecret = "file-secret-7Hq";
constexpr const char* kEnvSecret = "env-secret-9Zt";
constexpr const char* kFlagSecret = "flag-secret-3Kd";
constexpr const char* kToken = "token-secret-4Wm-0123456789abcdef0123456789";

TEST(ConfigCheck, PrintsTheEffectiveSettingsWithTheirOriginsAndNoSecret) {
  test::TempDir dir;
  const std::string file = dir / "careledger.toml";
  test::WriteFile(file, std::string("brokers = \"kafka-1:9093\"\n"
                                    "data = \"/from/file\"\n"
                                    "[kafka]\n"
                                    "\"security.protocol\" = \"SASL_SSL\"\n"
                                    "\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n"
                                    "\"sasl.username\" = \"ingest\"\n"
                                    "\"sasl.password\" = \"") +
                            kFileSecret + "\"\n[serve]\ntoken = \"" + kToken + "\"\n");
  ::chmod(file.c_str(), 0600);
  auto r = test::Run(
      {"/usr/bin/env", std::string("CARELEDGER_KAFKA_SSL_KEY_PASSWORD=") + kEnvSecret,
       "CARELEDGER_DATA=/from/env", CARELEDGER_BIN, "config", "check", "--config", file, "--kafka",
       std::string("ssl.keystore.password=") + kFlagSecret, "--log-level", "debug"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "brokers = kafka-1:9093  # file " + file +
                       ":1\n"
                       "data = /from/env  # env CARELEDGER_DATA\n"
                       "kafka.sasl.mechanisms = SCRAM-SHA-512  # file " +
                       file +
                       ":5\n"
                       "kafka.sasl.password = *****  # file " +
                       file +
                       ":7\n"
                       "kafka.sasl.username = ingest  # file " +
                       file +
                       ":6\n"
                       "kafka.security.protocol = SASL_SSL  # file " +
                       file +
                       ":4\n"
                       "kafka.ssl.key.password = *****  # env CARELEDGER_KAFKA_SSL_KEY_PASSWORD\n"
                       "kafka.ssl.keystore.password = *****  # flag --kafka\n"
                       "log_level = debug  # flag --log-level\n"
                       "publish.threshold = 5  # default\n"
                       "serve.listen = 127.0.0.1:8080  # default\n"
                       "serve.peer_timeout_ms = 5000  # default\n"
                       "serve.token = *****  # file " +
                       file + ":9\n");
  for (const char* secret : {kFileSecret, kEnvSecret, kFlagSecret, kToken}) {
    EXPECT_THAT(r.out, Not(HasSubstr(secret)));
    EXPECT_THAT(r.err, Not(HasSubstr(secret))) << "not even at debug";
  }
}

TEST(ConfigCheck, InvalidSettingsExitOneNamingWhereAndWhichKey) {
  test::TempDir dir;
  test::WriteFile(dir / "typo.toml", "data = \"d\"\n\nlgo_level = \"info\"\n");
  auto r = Careledger({"config", "check", "--config", dir / "typo.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "careledger: " + dir / "typo.toml" + ":3: unknown setting 'lgo_level'\n");
  EXPECT_EQ(r.out, "");

  test::WriteFile(dir / "type.toml",
                  "[kafka]\n\"sasl.password\" = [\"" + std::string(kFileSecret) + "\"]\n");
  r = Careledger({"config", "check", "--config", dir / "type.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "careledger: " + dir / "type.toml" +
                       ":2: 'kafka.sasl.password' must be a string, an integer or a boolean, not "
                       "an array\n");

  // librdkafka's own checks, traced back to the line.
  test::WriteFile(dir / "rdkafka.toml", "[kafka]\n\"session.timeout.ms\" = \"soon\"\n");
  r = Careledger({"config", "check", "--config", dir / "rdkafka.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir / "rdkafka.toml" + ":2: 'kafka.session.timeout.ms': "));
  EXPECT_THAT(r.err, HasSubstr("Invalid value"));

  r = test::Run({"/usr/bin/env", std::string("CARELEDGER_SERVE_TOKEN=") + kEnvSecret,
                 CARELEDGER_BIN, "config", "check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("CARELEDGER_SERVE_TOKEN: 'serve.token' must be at least 32"));
  EXPECT_THAT(r.err, Not(HasSubstr(kEnvSecret)));
}

TEST(ConfigCheck, TheShippedExamplesAreValid) {
  for (const char* name : {"embedded.toml", "real-kafka.toml"}) {
    auto r = Careledger({"config", "check", "--config",
                         std::string(CARELEDGER_SOURCE_DIR) + "/ops/examples/" + name});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("brokers = ")) << name;
    EXPECT_THAT(r.out, Not(HasSubstr("change-me"))) << name;
  }
}

TEST(ConfigCheck, UsageErrorsExitTwo) {
  EXPECT_EQ(Careledger({"config"}).exit_code, 2) << "check is required";
  EXPECT_EQ(Careledger({"config", "edit"}).exit_code, 2);
  EXPECT_EQ(Careledger({"config", "check", "--colour"}).exit_code, 2);
  auto help = Careledger({"config", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--config"));
}

}  // namespace
}  // namespace careledger
