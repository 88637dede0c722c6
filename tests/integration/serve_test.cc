// `careledger serve` as an operator runs it (`run` and gauges: serve_run_test.cc and
// serve_gauges_test.cc): the report_test feed is
// published to `careledger broker` and ingested (with one broken message smuggled in with kcat),
// then the HTTP API is asked over loopback and every figure is checked against the hand-worked
// values; a real Prometheus scrapes /metrics. See docs/api.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "careledger/reporting.h"
#include "serve_test_support.h"
#include "test_support.h"
#include "three_children_feed.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kWrongToken = "wrong-token-that-must-never-appear-in-any-log-0000";
const std::string kQuarter = "2024-01-01..2024-04-01";

using test::Ev;

// Publishes the feed (and a broken message that only kcat can send), ingests it, and starts
// `careledger serve` on a free loopback port: once for the suite.
class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    broker_ = new test::BrokerProcess(3);
    test::WriteFile(*dir_ / "c.toml", "[serve]\ntoken = \"" + kToken +
                                          "\"\n[population]\n2023 = { aged_10_17 = 20000, "
                                          "under_18 = 50000 }\n");
    ::chmod((*dir_ / "c.toml").c_str(), 0600);
    test::WriteFile(*dir_ / "feed.jsonl", test::ThreeChildrenFeed());
    auto published =
        Careledger({"publish", "--brokers", broker_->bootstrap(), *dir_ / "feed.jsonl"});
    ASSERT_EQ(published.exit_code, 0) << published.err;
    // Broken JSON whose text names a child: counted as a dead letter, never shown.
    test::WriteFile(*dir_ / "keyed.tsv", "SECRETCHILD\t{\"child_id\":\"SECRETCHILD\",\n");
    auto smuggled =
        test::KcatProduce(broker_->bootstrap(), "careledger.socialcare.v1", *dir_ / "keyed.tsv");
    ASSERT_EQ(smuggled.exit_code, 0) << smuggled.err;
    auto ingest =
        Careledger({"ingest", "--brokers", broker_->bootstrap(), "--data", store(), "--until-end"});
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
    server_ =
        new test::Background({CARELEDGER_BIN, "serve", "--data", store(), "--config",
                              *dir_ / "c.toml", "--listen", "127.0.0.1:0", "--log-level", "debug"});
    url_ = server_->FirstLine();
    ASSERT_THAT(url_, HasSubstr("http://127.0.0.1:"));
    // It answers at once and is ready once it has opened the store.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto r = ClientFor(url_)->Get("/readyz");
      if (r && r->status == 200) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never ready";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  static void TearDownTestSuite() {
    if (server_) server_->Stop();
    delete server_;
    delete broker_;
    delete dir_;
  }
  static std::string store() { return *dir_ / "store"; }
  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) {
    return ClientFor(url_)->Get(path, headers);
  }

  static test::TempDir* dir_;
  static test::BrokerProcess* broker_;
  static test::Background* server_;
  static std::string url_;
};
test::TempDir* Serve::dir_ = nullptr;
test::BrokerProcess* Serve::broker_ = nullptr;
test::Background* Serve::server_ = nullptr;
std::string Serve::url_;

TEST_F(Serve, HealthAndReadiness) {
  auto r = Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = Get("/readyz");
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(Serve, MetricIsTheReportJsonExactWithTheTokenPublishedWithout) {
  auto report = Careledger({"report", "cla", "--data", store(), "--at", "2024-01-15", "--by",
                            "placement", "--format", "json"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  auto r = Get("/api/v1/metrics/cla?at=2024-01-15&by=placement", Bearer(kToken));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, report.out);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");

  r = Get("/api/v1/metrics/cla?at=2024-03-31", Bearer(kToken));
  EXPECT_EQ(r->body, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":1}]})"
                     "\n");  // B left on 1 February
  // No token, or asking for it: the published view, where 1 is "<5".
  r = Get("/api/v1/metrics/cla?at=2024-03-31");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":"<5"}],)"
                     R"("notes":["published figures: counts of 1 to 4 show as <5; c marks a )"
                     R"(figure withheld because it is derived from one or because the totals )"
                     R"(would give one away"]})"
                     "\n");
  r = Get("/api/v1/metrics/cla?at=2024-03-31&published=true", Bearer(kToken));
  EXPECT_EQ(r->body, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":"<5"}],)"
                     R"("notes":["published figures: counts of 1 to 4 show as <5; c marks a )"
                     R"(figure withheld because it is derived from one or because the totals )"
                     R"(would give one away"]})"
                     "\n");
  auto published = Careledger({"report", "informal-share", "--data", store(), "--period", kQuarter,
                               "--format", "json", "--published"});
  r = Get("/api/v1/metrics/informal-share?period=" + kQuarter);
  EXPECT_EQ(r->body, published.out);
  // A monthly series is the same JSON as `report --series monthly`, published or exact.
  for (bool exact : {false, true}) {
    std::vector<std::string> args = {"report",   "outcomes", "--data",   store(),
                                     "--period", kQuarter,   "--by",     "cohort",
                                     "--series", "monthly",  "--format", "json"};
    if (!exact) args.emplace_back("--published");
    auto series = Careledger(args);
    ASSERT_EQ(series.exit_code, 0) << series.err;
    r = exact ? Get("/api/v1/metrics/outcomes?by=cohort&series=monthly&period=" + kQuarter,
                    Bearer(kToken))
              : Get("/api/v1/metrics/outcomes?by=cohort&series=monthly&period=" + kQuarter);
    EXPECT_EQ(r->body, series.out);
  }
  r = Get("/api/v1/metrics/outcomes?series=yearly");
  EXPECT_EQ(r->status, 400);
}

TEST_F(Serve, BadSelectorsAre400WithTheReason) {
  auto r = Get("/api/v1/metrics/cla?at=31-03-2024");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "{\"error\": \"at: not a date (YYYY-MM-DD): 31-03-2024\"}\n");
  r = Get("/api/v1/metrics/cla?period=2024-01-01");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(
      r->body,
      "{\"error\": \"period: not FROM..TO with ISO dates, a financial year (2025-26), a quarter "
      "(2026Q3) or last-complete-quarter: 2024-01-01\"}\n");
  r = Get("/api/v1/metrics/no-such-metric");
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("\"error\""));
  r = Get("/api/v1/metrics/cla?at=2024-03-31&by=shoe_size");
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("shoe_size"));
}

TEST_F(Serve, LineageNeedsTheTokenAndBadTokensAreNeverLogged) {
  const std::string path =
      "/api/v1/lineage/outcomes?period=" + kQuarter + "&by=cohort&cell=cohort=cla";
  auto r = Get(path);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = Get(path, Bearer(kWrongToken));
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->body, "{\"error\": \"invalid bearer token\"}\n");
  r = Get("/api/v1/metrics/cla?at=2024-03-31", Bearer(kWrongToken));
  EXPECT_EQ(r->status, 401);
  r = Get("/metrics", Bearer(kWrongToken));
  EXPECT_EQ(r->status, 401);
  // The same events as `careledger lineage` gives (Reports.LineageNamesTheEventsBehindOneFigure).
  r = Get(path, Bearer(kToken));
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "{\"metric\": \"outcomes\", \"events\": ["
            "{\"measure\": \"at_placement\", \"event_id\": \"a0\"}, "
            "{\"measure\": \"at_placement\", \"event_id\": \"a1\"}, "
            "{\"measure\": \"at_placement\", \"event_id\": \"a2\"}, "
            "{\"measure\": \"at_placement\", \"event_id\": \"a3\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"a0\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"a1\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"a2\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"a3\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"b0\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"b1\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"b2\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"b3\"}, "
            "{\"measure\": \"offences\", \"event_id\": \"b4\"}]}\n");
  std::string log = server_->Stderr();
  ASSERT_THAT(log, HasSubstr("/api/v1/lineage/outcomes 401")) << "the access log was captured";
  EXPECT_THAT(log, HasSubstr("GET /api/v1/lineage/outcomes from 127.0.0.1: wrong bearer token"));
  EXPECT_THAT(log, Not(HasSubstr(kWrongToken)));
  EXPECT_THAT(log, Not(HasSubstr(kToken)));
}

// The out-of-court panel's worklist names children: refused without the token, never in a
// published form, and each read logged by who asked and how long the list was, never its ids.
// Every offence of this feed has its decision, so the list is empty (panel_test.cc has lists).
TEST_F(Serve, PanelWorklistNeedsTheTokenAndItsReadsAreLoggedWithoutIds) {
  auto r = Get("/api/v1/panel");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body,
            "{\"error\": \"the panel worklist names children: it needs the bearer token\"}\n");
  r = Get("/api/v1/panel", Bearer(kWrongToken));
  EXPECT_EQ(r->status, 401);
  r = Get("/api/v1/panel?published=1", Bearer(kToken));
  EXPECT_EQ(r->status, 400);
  r = Get("/api/v1/panel?as_known_at=yesterday", Bearer(kToken));
  EXPECT_EQ(r->status, 400);
  r = Get("/api/v1/panel?as_known_at=2024-03-01", Bearer(kToken));
  EXPECT_EQ(r->status, 200);
  auto body = nlohmann::json::parse(r->body);
  EXPECT_EQ(body["metric"], "panel");
  EXPECT_EQ(body["as_of"], "2024-03-01");
  EXPECT_EQ(body["rows"].size(), 0u);
  std::string log = server_->Stderr();
  EXPECT_THAT(log, HasSubstr("panel worklist read from 127.0.0.1: 0 offences"));
}

TEST_F(Serve, DeadLettersAreCountsAndReasonsNeverPayloads) {
  auto r = Get("/api/v1/deadletters");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto body = nlohmann::json::parse(r->body);
  EXPECT_EQ(body["total"], 1);
  EXPECT_EQ(body["by_kind"], nlohmann::json::parse(R"({"invalid_json": 1})"));
  ASSERT_EQ(body["by_reason"].size(), 1u);
  EXPECT_EQ(body["by_reason"][0]["kind"], "invalid_json");
  EXPECT_EQ(body["by_reason"][0]["count"], 1);
  EXPECT_THAT(r->body, Not(HasSubstr("SECRETCHILD")));
}

TEST_F(Serve, DashboardAndUnknownPaths) {
  auto r = Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string(DashboardAsset("/")->body));
  r = Get("/no/such/file.js");
  EXPECT_EQ(r->status, 404);
}

TEST_F(Serve, MetricsArePublishedWithoutTheTokenAndExactWithIt) {
  auto r = Get("/metrics", Bearer(kToken));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  // Today A is looked after (never left) and nobody else: B left, C never came into care.
  EXPECT_THAT(r->body, HasSubstr("\ncareledger_cla_children 1\n"));
  EXPECT_THAT(r->body, HasSubstr("\ncareledger_missing_open_episodes 0\n"));
  EXPECT_THAT(r->body, HasSubstr("\ncareledger_yjs_open_cases{cohort=\"cla\"} 0\n"));
  EXPECT_THAT(r->body, HasSubstr("\ncareledger_published 0\n"));
  r = Get("/metrics");
  EXPECT_THAT(r->body, Not(HasSubstr("\ncareledger_cla_children ")));
  EXPECT_THAT(r->body, HasSubstr("\ncareledger_missing_open_episodes 0\n"));
  EXPECT_THAT(r->body, HasSubstr("\ncareledger_published 1\n"));
}

// A real Prometheus, scraping every second with the token, answers PromQL with the figure.
TEST_F(Serve, PrometheusScrapesTheClaCount) {
  const std::string prometheus = "/usr/bin/prometheus";
  ASSERT_EQ(::access(prometheus.c_str(), X_OK), 0) << "install the Debian package prometheus";
  std::string target = url_.substr(std::string("http://").size());
  int port = FreePort();
  test::TempDir dir;
  test::WriteFile(dir / "prometheus.yml",
                  "global:\n  scrape_interval: 1s\n"
                  "scrape_configs:\n  - job_name: careledger\n"
                  "    authorization:\n      credentials: " +
                      kToken + "\n    static_configs:\n      - targets: ['" + target + "']\n");
  test::Background server({prometheus, "--config.file=" + (dir / "prometheus.yml"),
                           "--storage.tsdb.path=" + (dir / "tsdb"),
                           "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::seconds(5));
  std::string last;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.Get("/api/v1/query?query=careledger_cla_children");
    if (r && r->status == 200) {
      last = r->body;
      auto body = nlohmann::json::parse(r->body);
      if (!body["data"]["result"].empty()) {
        EXPECT_EQ(body["data"]["result"][0]["value"][1], "1");
        EXPECT_EQ(body["data"]["result"][0]["metric"]["job"], "careledger");
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ADD_FAILURE() << "no careledger_cla_children in Prometheus within 20 s; last answer: " << last
                << "\nprometheus log: " << server.Stderr();
}

}  // namespace
}  // namespace careledger
