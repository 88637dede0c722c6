// Settings: defaults < TOML file < CARELEDGER_* environment < flags, where each came from,
// errors that name file:line and the key, and secrets that never reach the output.
#include "careledger/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "careledger/consumers.h"
#include "test_support.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Written {
  test::TempDir dir;
  std::string path;
};

// A settings file the owner alone can read, as the examples ask.
std::unique_ptr<Written> SettingsFile(std::string_view text) {
  auto w = std::make_unique<Written>();
  w->path = w->dir / "careledger.toml";
  test::WriteFile(w->path, text);
  ::chmod(w->path.c_str(), 0600);
  return w;
}

Result<Config> FromFile(const std::string& path, Environment env = {}, ConfigFlags flags = {}) {
  flags.config_file = path;
  return ResolveConfig(flags, env);
}

TEST(Config, DefaultsWhenNothingIsGiven) {
  auto c = ResolveConfig({}, {});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->Describe(),
            "data = careledger-data  # default\n"
            "log_level = info  # default\n"
            "publish.threshold = 5  # default\n"
            "serve.listen = 127.0.0.1:8080  # default\n"
            "serve.peer_timeout_ms = 5000  # default\n");
  EXPECT_EQ(c->KafkaSettings(), Settings{});
  EXPECT_EQ(c->ServeToken(), "");
  EXPECT_TRUE(c->LocalPostcodeDistricts().empty());
}

TEST(Config, FileThenEnvironmentThenFlags) {
  auto f = SettingsFile(
      "brokers = \"file:9092\"\n"
      "data = \"/from/file\"\n"
      "log_level = \"warn\"\n"
      "[kafka]\n"
      "\"security.protocol\" = \"SASL_SSL\"\n"
      "\"sasl.username\" = \"file-user\"\n");
  Environment env = {{"CARELEDGER_DATA", "/from/env"},
                     {"CARELEDGER_BROKERS", "env:9092"},
                     {"CARELEDGER_KAFKA_SASL_USERNAME", "env-user"},
                     {"CARELEDGER_KILL_CYCLES", "100"}};  // a test's knob, not a setting
  ConfigFlags flags;
  flags.brokers = "flag:9092";
  flags.kafka = {"sasl.username=flag-user"};
  auto c = FromFile(f->path, env, flags);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const std::string p = f->path;
  EXPECT_EQ(c->Describe(),
            "brokers = flag:9092  # flag --brokers\n"
            "data = /from/env  # env CARELEDGER_DATA\n"
            "kafka.sasl.username = flag-user  # flag --kafka\n"
            "kafka.security.protocol = SASL_SSL  # file " +
                p +
                ":5\n"
                "log_level = warn  # file " +
                p +
                ":3\n"
                "publish.threshold = 5  # default\n"
                "serve.listen = 127.0.0.1:8080  # default\n"
                "serve.peer_timeout_ms = 5000  # default\n");
  EXPECT_EQ(c->KafkaSettings(), (Settings{{"bootstrap.servers", "flag:9092"},
                                          {"sasl.username", "flag-user"},
                                          {"security.protocol", "SASL_SSL"}}));
  EXPECT_EQ(c->data_dir(), "/from/env");
  EXPECT_EQ(c->log_level(), "warn");
}

TEST(Config, EverySecretIsMaskedWhereverItCameFrom) {
  auto f = SettingsFile(
      "[kafka]\n"
      "\"sasl.password\" = \"s3cret-sasl\"\n"
      "\"ssl.key.password\" = \"s3cret-key\"\n"
      "\"sasl.oauthbearer.client.secret\" = \"s3cret-oauth\"\n"
      "[serve]\n"
      "token = \"s3cret-token-0123456789abcdef0123456789\"\n");
  Environment env = {{"CARELEDGER_KAFKA_SSL_KEYSTORE_PASSWORD", "s3cret-keystore"}};
  auto c = FromFile(f->path, env);
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::string shown = c->Describe();
  EXPECT_THAT(shown, Not(HasSubstr("s3cret")));
  EXPECT_THAT(shown, HasSubstr("kafka.sasl.password = *****  # file " + f->path + ":2\n"));
  EXPECT_THAT(shown, HasSubstr("kafka.ssl.key.password = *****  # file " + f->path + ":3\n"));
  EXPECT_THAT(
      shown, HasSubstr("kafka.sasl.oauthbearer.client.secret = *****  # file " + f->path + ":4\n"));
  EXPECT_THAT(shown, HasSubstr("serve.token = *****  # file " + f->path + ":6\n"));
  EXPECT_THAT(shown, HasSubstr("kafka.ssl.keystore.password = *****  # env "
                               "CARELEDGER_KAFKA_SSL_KEYSTORE_PASSWORD\n"));
  EXPECT_EQ(c->KafkaSettings().at("ssl.keystore.password"), "s3cret-keystore");
  EXPECT_EQ(c->ServeToken(), "s3cret-token-0123456789abcdef0123456789");
  EXPECT_TRUE(c->warnings().empty()) << "the file is mode 0600";
}

TEST(Config, FlatKeyValueFormWorksWhenValuesAreQuoted) {
  // The pre-TOML form: dotted keys are TOML tables, flattened back to the same names.
  auto f = SettingsFile(
      "# comment\n"
      "brokers = \"a:9092,b:9092\"\n"
      "kafka.security.protocol = \"SSL\"\n"
      "kafka.ssl.ca.location = \"/etc/ca.pem\"\n"
      "ssda903.local_postcode_districts = \"ls1, ls2,LS6\"\n");
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->KafkaSettings(), (Settings{{"bootstrap.servers", "a:9092,b:9092"},
                                          {"security.protocol", "SSL"},
                                          {"ssl.ca.location", "/etc/ca.pem"}}));
  EXPECT_EQ(c->LocalPostcodeDistricts(), (std::vector<std::string>{"LS1", "LS2", "LS6"}));
}

TEST(Config, KafkaNumbersAndBooleansPassAsText) {
  auto f = SettingsFile(
      "[kafka]\n"
      "\"session.timeout.ms\" = 10000\n"
      "\"enable.ssl.certificate.verification\" = true\n"
      "\"bootstrap.servers\" = \"k:9092\"\n"
      "[ssda903]\n"
      "local_postcode_districts = [\"ab1\", \"SW1A\"]\n");
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->KafkaSettings(), (Settings{{"bootstrap.servers", "k:9092"},
                                          {"enable.ssl.certificate.verification", "true"},
                                          {"session.timeout.ms", "10000"}}));
  EXPECT_EQ(c->entries().at("brokers").where, f->path + ":4") << "one name for the bootstrap";
  EXPECT_EQ(c->LocalPostcodeDistricts(), (std::vector<std::string>{"AB1", "SW1A"}));
}

TEST(Config, UnknownKeysAndWrongTypesNameFileLineAndKey) {
  struct Case {
    const char* text;
    std::string message;
  };
  for (const Case& c : {
           Case{"data = \"d\"\n\nlgo_level = \"info\"\n", ":3: unknown setting 'lgo_level'"},
           Case{"[serve]\nlisten = \"x:1\"\nport = 80\n", ":3: unknown setting 'serve.port'"},
           Case{"data = 7\n", ":1: 'data' must be a string, not an integer"},
           Case{"kafka = \"x\"\n",
                ":1: 'kafka' must be a table of librdkafka properties, not a "
                "string"},
           Case{"[kafka]\n\"linger.ms\" = 1.5\n",
                ":2: 'kafka.linger.ms' must be a string, an integer or a boolean, not a "
                "floating-point number"},
           Case{"[kafka]\n\"Linger.MS\" = 1\n",
                ":2: 'kafka.Linger.MS' is not a librdkafka property name"},
           Case{"[ssda903]\nlocal_postcode_districts = [1]\n",
                ":2: 'ssda903.local_postcode_districts' must be a list of strings, not a list "
                "holding an integer"},
           Case{"[serve]\ntoken = [\"a\"]\n", ":2: 'serve.token' must be a string, not an array"},
       }) {
    auto f = SettingsFile(c.text);
    auto r = FromFile(f->path);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().error_class(), ErrorClass::kBadInput);
    EXPECT_EQ(r.status().message(), f->path + c.message) << c.text;
  }
}

TEST(Config, TextThatIsNotTomlNamesTheLineButNeverItsValue) {
  auto f = SettingsFile("data = \"d\"\nkafka.sasl.password = hunter2\n");
  auto r = FromFile(f->path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            f->path +
                ":2: not valid TOML: Error while parsing value: could not determine value type "
                "(text values are quoted: data = \"/var/lib/careledger\")");
  auto trailing = SettingsFile("[kafka]\n\"sasl.password\" = \"ok\" hunter2\n");
  r = FromFile(trailing->path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            trailing->path +
                ":2: not valid TOML: Error while parsing key-value pair: expected a "
                "comment or whitespace")
      << "toml++ quotes the next character ('h'); it is cut";
}

TEST(Config, InvalidValuesNameWhereTheyCameFrom) {
  auto bad = [](Environment env, ConfigFlags flags = {}) {
    auto r = ResolveConfig(flags, env);
    EXPECT_FALSE(r.ok());
    return r.status().message();
  };
  EXPECT_EQ(
      bad({{"CARELEDGER_LOG_LEVEL", "loud"}}),
      "CARELEDGER_LOG_LEVEL: 'log_level' must be one of trace, debug, info, warn, error, off");
  EXPECT_EQ(
      bad({{"CARELEDGER_SERVE_LISTEN", "localhost"}}),
      "CARELEDGER_SERVE_LISTEN: 'serve.listen' must be HOST:PORT with a port from 1 to 65535");
  EXPECT_EQ(
      bad({{"CARELEDGER_SERVE_LISTEN", "[::1]:65536"}}),
      "CARELEDGER_SERVE_LISTEN: 'serve.listen' must be HOST:PORT with a port from 1 to 65535");
  EXPECT_EQ(bad({{"CARELEDGER_INGEST_METRICS_LISTEN", "9464"}}),
            "CARELEDGER_INGEST_METRICS_LISTEN: 'ingest.metrics_listen' must be HOST:PORT with a "
            "port from 1 to 65535");
  EXPECT_EQ(bad({{"CARELEDGER_SERVE_TOKEN", "guessable"}}),
            "CARELEDGER_SERVE_TOKEN: 'serve.token' must be at least 32 printable characters "
            "without spaces (openssl rand -hex 32)");
  EXPECT_EQ(bad({{"CARELEDGER_SERVE_TLS_CERT", "/etc/cert.pem"}}),
            "CARELEDGER_SERVE_TLS_CERT: 'serve.tls_cert' needs serve.tls_key beside it");
  EXPECT_EQ(bad({{"CARELEDGER_SERVE_TLS_KEY", "/etc/key.pem"}}),
            "CARELEDGER_SERVE_TLS_KEY: 'serve.tls_key' needs serve.tls_cert beside it");
  EXPECT_EQ(bad({{"CARELEDGER_KAFKA_", "x"}}),
            "CARELEDGER_KAFKA_: not a librdkafka property (CARELEDGER_KAFKA_ then the property in "
            "upper case with '_' for '.')");
  ConfigFlags flags;
  flags.kafka = {"sasl.password"};
  EXPECT_EQ(bad({}, flags), "--kafka: expected property=value with a librdkafka property name");
  flags.kafka.clear();
  flags.log_level = "chatty";
  EXPECT_EQ(bad({}, flags),
            "--log-level: 'log_level' must be one of trace, debug, info, warn, error, off");
  auto ipv6 = ResolveConfig({}, {{"CARELEDGER_SERVE_LISTEN", "[::1]:8443"}});
  ASSERT_TRUE(ipv6.ok()) << ipv6.status().message();
  EXPECT_EQ(ipv6->ServeListen(), "[::1]:8443");
  auto tls = ResolveConfig({}, {{"CARELEDGER_SERVE_TLS_CERT", "/etc/cert.pem"},
                                {"CARELEDGER_SERVE_TLS_KEY", "/etc/key.pem"}});
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  EXPECT_EQ(tls->ServeTlsCert(), "/etc/cert.pem");
  EXPECT_EQ(tls->ServeTlsKey(), "/etc/key.pem");
}

// The publishing threshold (spec/metrics.md "threshold configurable") from the file, then the
// environment; a threshold that would hide nothing ("<2" says 1), or is not a whole number, is
// refused naming where it came from.
TEST(Config, PublishingThresholdComesFromTheSettings) {
  EXPECT_EQ(ResolveConfig({}, {})->PublishThreshold(), 5);
  auto f = SettingsFile("[publish]\nthreshold = 10\n");
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->PublishThreshold(), 10);
  auto env = FromFile(f->path, {{"CARELEDGER_PUBLISH_THRESHOLD", "3"}});
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->PublishThreshold(), 3);
  auto one = SettingsFile("[publish]\nthreshold = 2\n");  // "<2" would say "1"
  EXPECT_EQ(FromFile(one->path).status().message(),
            one->path + ":2: 'publish.threshold' must be a whole number from 3 to 100");
  auto text = SettingsFile("[publish]\nthreshold = \"5\"\n");
  EXPECT_EQ(FromFile(text->path).status().message(),
            text->path + ":2: 'publish.threshold' must be an integer, not a string");
  EXPECT_EQ(
      ResolveConfig({}, {{"CARELEDGER_PUBLISH_THRESHOLD", "five"}}).status().message(),
      "CARELEDGER_PUBLISH_THRESHOLD: 'publish.threshold' must be a whole number from 3 to 100");
}

// How long a figure waits for another instance of the group, and whose certificates it trusts.
TEST(Config, PeerTimeoutAndAuthorityComeFromTheSettings) {
  auto defaults = ResolveConfig({}, {});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->ServePeerTimeout(), std::chrono::milliseconds(5000));
  EXPECT_EQ(defaults->ServePeerCa(), "");
  auto f = SettingsFile("[serve]\npeer_timeout_ms = 750\npeer_ca = \"/etc/ca.pem\"\n");
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->ServePeerTimeout(), std::chrono::milliseconds(750));
  EXPECT_EQ(c->ServePeerCa(), "/etc/ca.pem");
  auto zero = SettingsFile("[serve]\npeer_timeout_ms = 0\n");
  EXPECT_EQ(FromFile(zero->path).status().message(),
            zero->path +
                ":2: 'serve.peer_timeout_ms' must be a whole number of milliseconds from 100 to "
                "600000");
}

TEST(Config, EmptyEnvironmentVariablesAreUnset) {
  auto c = ResolveConfig({}, {{"CARELEDGER_DATA", ""}, {"CARELEDGER_KAFKA_SASL_PASSWORD", ""}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->data_dir(), "careledger-data");
  EXPECT_EQ(c->KafkaSettings(), Settings{});
}

TEST(Config, SecretsInAFileOthersCanReadAreWarnedAbout) {
  auto f = SettingsFile("[kafka]\n\"sasl.password\" = \"x\"\n");
  ::chmod(f->path.c_str(), 0644);
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->warnings(), std::vector<std::string>{"settings file " + f->path +
                                                    " holds secrets and is readable by others: "
                                                    "chmod 600 it"});
  auto plain = SettingsFile("data = \"d\"\n");
  ::chmod(plain->path.c_str(), 0644);
  c = FromFile(plain->path);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->warnings().empty()) << "nothing secret in it";
}

TEST(Config, AMissingFileIsNamed) {
  auto r = FromFile("/nonexistent/careledger.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "cannot read settings file /nonexistent/careledger.toml: No such file or directory");
}

TEST(Config, AreaPopulationsByYear) {
  auto f = SettingsFile(
      "[population]\n"
      "2024 = { aged_10_17 = 41230, under_18 = 98310 }\n"
      "2025 = { aged_10_17 = 41600 }\n");
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto p2024 = c->PopulationFor(2024);
  ASSERT_TRUE(p2024.has_value());
  EXPECT_EQ(p2024->aged_10_17, 41230);
  EXPECT_EQ(p2024->under_18, 98310);
  EXPECT_EQ(c->PopulationFor(2025)->under_18, 0) << "not given";
  EXPECT_FALSE(c->PopulationFor(2023).has_value());
  EXPECT_THAT(c->Describe(), HasSubstr("population.2024.aged_10_17 = 41230  # file"));
}

// The area's children aged 10-17 by sex, by ethnicity group and by age band (the denominators
// of disproportionality and of first-time entrants by group), as nested tables of a year.
TEST(Config, AreaPopulationsBySexEthnicityGroupAndAgeBand) {
  auto f = SettingsFile(
      "[population]\n"
      "2025 = { aged_10_17 = 1000, aged_10_17_by_sex = { F = 490, M = 510 }, "
      "aged_10_17_by_ethnicity_group = { White = 800, Black = 100, \"Mixed\" = 60 }, "
      "aged_10_17_by_age_band = { 10-13 = 500, 14-15 = 250, \"16-17\" = 250 } }\n");
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto p = c->PopulationFor(2025);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->aged_10_17, 1000);
  EXPECT_EQ(p->aged_10_17_by_sex, (std::map<std::string, int64_t>{{"F", 490}, {"M", 510}}));
  EXPECT_EQ(p->aged_10_17_by_ethnicity_group,
            (std::map<std::string, int64_t>{{"Black", 100}, {"Mixed", 60}, {"White", 800}}));
  EXPECT_EQ(p->aged_10_17_by_age_band,
            (std::map<std::string, int64_t>{{"10-13", 500}, {"14-15", 250}, {"16-17", 250}}));
  auto bad =
      SettingsFile("[population]\n2025 = { aged_10_17 = 9, aged_10_17_by_sex = { F = 0 } }\n");
  EXPECT_THAT(FromFile(bad->path).status().message(),
              HasSubstr(":2: 'population.2025.aged_10_17_by_sex.F' must be a positive integer"));
  // An age band no child aged 10-17 is in would never meet a row.
  bad = SettingsFile(
      "[population]\n2025 = { aged_10_17 = 9, aged_10_17_by_age_band = { 10-14 = 5 } }\n");
  EXPECT_THAT(FromFile(bad->path).status().message(),
              HasSubstr(":2: 'population.2025.aged_10_17_by_age_band.10-14' is not an age band of "
                        "children aged 10-17"));
  bad = SettingsFile("[population]\n2025 = { aged_10_17 = 9, aged_10_17_by_region = { N = 5 } }\n");
  EXPECT_THAT(FromFile(bad->path).status().message(),
              HasSubstr("unknown setting 'population.2025.aged_10_17_by_region'"));
}

TEST(Config, AreaPopulationErrorsNameTheLineAndKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"[population]\n24 = { aged_10_17 = 1 }\n", ":2: 'population.24' must be a year"},
      {"[population]\n2024 = 5\n", ":2: 'population.2024' must be a table"},
      {"[population]\n2024 = { aged_0_9 = 5 }\n", ":2: unknown setting 'population.2024.aged_0_9'"},
      {"[population]\n2024 = { under_18 = -3 }\n",
       ":2: 'population.2024.under_18' must be a positive integer"},
      {"population = 7\n", ":1: 'population' must be a table of years"},
  };
  for (const auto& [text, message] : cases) {
    auto f = SettingsFile(text);
    auto c = FromFile(f->path);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_THAT(c.status().message(), HasSubstr(f->path + message)) << text;
  }
}

// ingest.instance_id = "auto": one id per host and store, the same after every restart, in the
// characters Kafka allows; an id given is checked, not changed.
TEST(StaticInstanceId, AutoIsStablePerHostAndStoreAndAnIdGivenIsCheckedAsKafkaWould) {
  test::TempDir dir;
  const std::string a = dir / "a", b = dir / "b";
  auto id = StaticInstanceId("auto", a);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_THAT(*id, ::testing::MatchesRegex("careledger-[A-Za-z0-9._-]+-[0-9a-f]{16}"));
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_THAT(*id, HasSubstr(std::string(host).substr(0, 20)));
  // The same store by another spelling of its path is the same member; another store is not.
  auto again = StaticInstanceId("auto", dir / "x/../a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto relative = StaticInstanceId("auto", "a");
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(*relative, *id);
  auto other = StaticInstanceId("auto", b);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *id);

  auto given = StaticInstanceId("ingest-host1.store_2", a);
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(*given, "ingest-host1.store_2");
  EXPECT_TRUE(StaticInstanceId(std::string(249, 'x'), a).ok());
  for (std::string bad : {std::string("two words"), std::string("a/b"), std::string(250, 'x'),
                          std::string("caf\xc3\xa9")}) {
    auto r = StaticInstanceId(bad, a);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().error_class(), ErrorClass::kBadInput);
    EXPECT_THAT(r.status().message(), HasSubstr("expected auto, or 1 to 249 of A-Z a-z 0-9 . _ -"));
  }
}

// [area] names the partnership as published tables do; [kpi.ID] tables are kept field by field
// with the line each came from, for the KPIs to check against the metrics.
TEST(Config, AreaCodesAndKpiTables) {
  auto f = SettingsFile(
      "[area]\n"
      "code = \"e08000009\"\n"
      "name = \"Trafford\"\n"
      "region = \"E12000002\"\n"
      "neighbours = [\"E09000006\", \"E06000060, E10000003\"]\n"
      "[kpi.informal_share_cla]\n"
      "target = 75\n"
      "red = 62.5\n"
      "[kpi.restraints]\n"
      "metric = \"callouts\"\n"
      "select = { home_id = \"H1\" }\n"
      "comparators = { national = \"x.y\" }\n"
      "enabled = true\n");
  auto c = FromFile(f->path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const AreaCodes area = c->Area();
  EXPECT_EQ(area.code, "E08000009");
  EXPECT_EQ(area.name, "Trafford");
  EXPECT_EQ(area.region, "E12000002");
  EXPECT_THAT(area.neighbours, ::testing::ElementsAre("E09000006", "E06000060", "E10000003"));
  auto kpis = c->KpiSettings();
  ASSERT_EQ(kpis.size(), 2u);
  EXPECT_EQ(kpis["informal_share_cla"]["target"].value, "75");
  EXPECT_EQ(kpis["informal_share_cla"]["red"].value, "62.5");
  EXPECT_EQ(kpis["informal_share_cla"]["red"].where, f->path + ":8");
  EXPECT_EQ(kpis["restraints"]["select.home_id"].value, "H1");
  EXPECT_EQ(kpis["restraints"]["comparators.national"].value, "x.y");
  EXPECT_EQ(kpis["restraints"]["enabled"].value, "true");

  for (const auto& [text, error] : std::vector<std::pair<std::string, std::string>>{
           {"[area]\nneighbours = \"E1\"\n", ":2: 'area.neighbours' must be a list of area codes"},
           {"[area]\ncounty = \"x\"\n",
            ":2: unknown setting 'area.county' (code, name, region or neighbours)"},
           {"[kpi.Bad-Name]\ntarget = 1\n", ":1: 'kpi.Bad-Name' must be named in lower case"},
           {"[kpi.x]\ntarget = [1]\n",
            ":2: 'kpi.x.target' must be a string, a number or a boolean"},
           {"[kpi.x]\nselect = \"cohort=cla\"\n", ":2: 'kpi.x.select' must be a table"},
       }) {
    auto bad = FromFile(SettingsFile(text)->path);
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_THAT(bad.status().message(), HasSubstr(error)) << text;
  }
}

}  // namespace
}  // namespace careledger
