// `careledger serve` and `careledger run` as an operator runs them: the report_test feed is
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
#include "test_support.h"
#include "three_children_feed.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kToken = "0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kWrongToken = "wrong-token-that-must-never-appear-in-any-log-0000";
const std::string kQuarter = "2024-01-01..2024-04-01";

using test::Ev;

// "http://127.0.0.1:PORT" → a client for it.
std::unique_ptr<httplib::Client> ClientFor(const std::string& url) {
  auto client = std::make_unique<httplib::Client>(url);
  client->set_read_timeout(std::chrono::seconds(10));
  return client;
}

httplib::Headers Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

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

// A feed published, ingested to its end and served with the token (the gauges' tests).
struct ServedFeed {
  test::TempDir dir;
  test::BrokerProcess broker{3};
  std::unique_ptr<test::Background> server;
  std::string url;
};

void ServeFeed(const std::string& feed, ServedFeed& s) {
  test::WriteFile(s.dir / "feed.jsonl", feed);
  test::WriteFile(s.dir / "c.toml", "[serve]\ntoken = \"" + kToken + "\"\n");
  ::chmod((s.dir / "c.toml").c_str(), 0600);
  auto published = Careledger({"publish", "--brokers", s.broker.bootstrap(), s.dir / "feed.jsonl"});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  auto ingest = Careledger(
      {"ingest", "--brokers", s.broker.bootstrap(), "--data", s.dir / "store", "--until-end"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  s.server = std::make_unique<test::Background>(
      std::vector<std::string>{CARELEDGER_BIN, "serve", "--data", s.dir / "store", "--config",
                               s.dir / "c.toml", "--listen", "127.0.0.1:0"});
  s.url = s.server->FirstLine();
  ASSERT_THAT(s.url, HasSubstr("http://127.0.0.1:"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto ready = ClientFor(s.url)->Get("/readyz"); !ready || ready->status != 200;
       ready = ClientFor(s.url)->Get("/readyz")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never ready";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// /metrics' gauges are the figures of today as the API gives them, read from what ingest keeps
// (they were a fold of every child of their own, with their own rule for an open case: a case
// closed with a later date counted as closed). Dates are relative to today, the day serve uses.
TEST(ServeGauges, AreTodaysFiguresFromTheKeptCellsAndRows) {
  const Date today = Today();
  auto on = [&](int days) { return FormatDate(today + std::chrono::days{days}); };
  auto born = [&](int years, int days_before) {
    return FormatDate(Anniversary(today, -years) - std::chrono::days{days_before});
  };
  const std::chrono::year_month_day ymd{today};
  const std::string month_start = FormatDate(Date{ymd.year() / ymd.month() / 1});
  auto child = [](const std::string& dob) {
    return R"("dob":")" + dob + R"(","sex":"M","ethnicity":"WBRI")";
  };
  const std::string placed = R"("legal_status":"C2","placement":"U1","home_id":"H1")";
  // L: looked after from 15 to 17, a care leaver of 19 today. M: 15, looked after since a year
  // ago; missing 60 days ago (back the next day) and again on the first of this month (not
  // back); a court order open since 100 days ago. N: 16, never looked after; a diversion opened
  // 50 days ago whose closing is already recorded for tomorrow, so open today.
  const std::string feed =
      test::Ev("l0", "child.registered", "L", born(19, 10), child(born(19, 10))) +
      test::Ev("l1", "care.period_started", "L", on(-4 * 365), placed) +
      test::Ev("l2", "care.period_ended", "L", on(-2 * 365), R"("reason":"E4A")") +
      test::Ev("m0", "child.registered", "M", born(15, 3), child(born(15, 3))) +
      test::Ev("m1", "care.period_started", "M", on(-365), placed) +
      test::Ev("m2", "missing.reported", "M", on(-60),
               R"("episode_id":"E1","category":"missing","risk":"low")") +
      test::Ev("m3", "missing.returned", "M", on(-59), R"("episode_id":"E1")") +
      test::Ev("m4", "missing.reported", "M", month_start,
               R"("episode_id":"E2","category":"missing","risk":"medium")") +
      test::Ev("m5", "yjs.case_opened", "M", on(-100),
               R"("case_id":"K1","intervention":"court_order")") +
      test::Ev("n0", "child.registered", "N", born(16, 20), child(born(16, 20))) +
      test::Ev("n1", "yjs.case_opened", "N", on(-50),
               R"("case_id":"K2","intervention":"diversion")") +
      std::regex_replace(test::Ev("n2", "yjs.case_closed", "N", on(1),
                                  R"("case_id":"K2","intervention":"diversion")"),
                         std::regex("T12:00:00Z"), "T00:00:01Z");  // within the contract's 24 h
  ServedFeed served;
  ASSERT_NO_FATAL_FAILURE(ServeFeed(feed, served));
  const std::string& url = served.url;
  auto r = ClientFor(url)->Get("/metrics", Bearer(kToken));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  for (const char* line :
       {"\ncareledger_care_leavers 1\n", "\ncareledger_missing_open_episodes 1\n",
        "\ncareledger_missing_episodes_this_month 1\n",
        "\ncareledger_yjs_open_cases{cohort=\"cla\"} 1\n",
        "\ncareledger_yjs_open_cases{cohort=\"care_leaver\"} 0\n",
        "\ncareledger_yjs_open_cases{cohort=\"other\"} 1\n"}) {
    EXPECT_THAT(r->body, HasSubstr(line));
  }
}

// Published, /metrics protects the youth justice caseload by cohort as the API's published
// table does: beside the total the API publishes without a token (7 open cases, none of them
// a care leaver's), showing the other children's 6 would give the looked-after child's 1 back.
TEST(ServeGauges, PublishedCohortsCannotGiveASmallCountBack) {
  const Date today = Today();
  auto on = [&](int days) { return FormatDate(today + std::chrono::days{days}); };
  auto child = [&](int years) {
    return R"("dob":")" + FormatDate(Anniversary(today, -years) - std::chrono::days{10}) +
           R"(","sex":"M","ethnicity":"WBRI")";
  };
  // M: 15, looked after for a year, a court order open. O1..O6: 16, never looked after, each a
  // diversion open.
  std::string feed = test::Ev("m0", "child.registered", "M", on(-400), child(15)) +
                     test::Ev("m1", "care.period_started", "M", on(-365),
                              R"("legal_status":"C2","placement":"U1","home_id":"H1")") +
                     test::Ev("m2", "yjs.case_opened", "M", on(-100),
                              R"("case_id":"K0","intervention":"court_order")");
  for (int i = 1; i <= 6; ++i) {
    const std::string id = "O" + std::to_string(i), n = std::to_string(i);
    feed += test::Ev("o" + n + "r", "child.registered", id, on(-400), child(16)) +
            test::Ev("o" + n + "c", "yjs.case_opened", id, on(-50),
                     R"("case_id":"K)" + n + R"(","intervention":"diversion")");
  }
  ServedFeed served;
  ASSERT_NO_FATAL_FAILURE(ServeFeed(feed, served));
  const std::string& url = served.url;
  auto exact = ClientFor(url)->Get("/metrics", Bearer(kToken));
  ASSERT_TRUE(exact);
  for (const char* line : {"\ncareledger_yjs_open_cases{cohort=\"cla\"} 1\n",
                           "\ncareledger_yjs_open_cases{cohort=\"care_leaver\"} 0\n",
                           "\ncareledger_yjs_open_cases{cohort=\"other\"} 6\n"}) {
    EXPECT_THAT(exact->body, HasSubstr(line));
  }
  // The API's published total, the figure the scrape must not be subtracted from.
  auto total = ClientFor(url)->Get("/api/v1/metrics/yjs-caseload?by=none");
  ASSERT_TRUE(total);
  EXPECT_EQ(total->status, 200) << total->body;
  EXPECT_THAT(total->body, HasSubstr("\"open_cases\":7"));
  auto scraped = ClientFor(url)->Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_THAT(scraped->body, HasSubstr("\ncareledger_published 1\n"));
  EXPECT_THAT(scraped->body, HasSubstr("\ncareledger_yjs_open_cases{cohort=\"care_leaver\"} 0\n"));
  EXPECT_THAT(scraped->body, Not(HasSubstr("careledger_yjs_open_cases{cohort=\"cla\"}")));
  EXPECT_THAT(scraped->body, Not(HasSubstr("careledger_yjs_open_cases{cohort=\"other\"}")));
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

// `ingest --metrics-listen`: where ingest runs as its own unit (ops/systemd), its pipeline
// metrics are served by itself, pass promtool's lint, and drive the alerts through a real
// Prometheus scrape.
TEST(IngestMetrics, IngestServesItsOwnMetricsAndADeadLetterFiresItsAlert) {
  const std::string prometheus = "/usr/bin/prometheus", promtool = "/usr/bin/promtool";
  ASSERT_EQ(::access(prometheus.c_str(), X_OK), 0) << "install the Debian package prometheus";
  test::TempDir dir;
  test::BrokerProcess broker(3);
  const std::string feed = test::ThreeChildrenFeed();
  test::WriteFile(dir / "feed.jsonl", feed);
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  // The oracle: events by type, counted from the feed's own lines.
  std::map<std::string, int> by_type;
  for (const auto& line : test::Lines(feed)) {
    auto at = line.find("\"type\":\"") + 8;
    ++by_type[line.substr(at, line.find('"', at) - at)];
  }
  test::Background ingest({CARELEDGER_BIN, "ingest", "--brokers", broker.bootstrap(), "--data",
                           dir / "store", "--metrics-listen", "127.0.0.1:0", "--kafka",
                           "session.timeout.ms=6000"});
  const std::string url = ingest.FirstLine();
  ASSERT_THAT(url, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/metrics"));
  const std::string target = url.substr(7, url.size() - 7 - 8);
  httplib::Client client("http://" + target);
  client.set_read_timeout(std::chrono::seconds(5));
  // Every type's count as the feed has it (topics are the contract's, not checked here).
  std::vector<std::regex> expected;
  for (const auto& [type, n] : by_type) {
    expected.emplace_back("careledger_events_ingested_total\\{topic=\"[a-z.0-9]+\",type=\"" + type +
                          "\"\\} " + std::to_string(n) + "\n");
  }
  auto all_counted = [&](const std::string& text) {
    return std::all_of(expected.begin(), expected.end(),
                       [&](const std::regex& re) { return std::regex_search(text, re); });
  };
  std::string body;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < deadline && !all_counted(body);
       std::this_thread::sleep_for(std::chrono::milliseconds(200))) {
    if (auto r = client.Get("/metrics"); r && r->status == 200) body = r->body;
  }
  EXPECT_TRUE(all_counted(body)) << body << ingest.Stderr();
  EXPECT_THAT(body, HasSubstr("careledger_dead_letters_total{kind=\"invalid_json\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("careledger_batch_write_seconds_count "));
  // Only the pipeline: no figures, nothing else on this port.
  EXPECT_THAT(body, Not(HasSubstr("careledger_cla_children")));
  EXPECT_EQ(client.Get("/api/v1/metrics/cla")->status, 404);
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  test::WriteFile(dir / "metrics.txt", body);
  auto lint = test::Run({"/bin/sh", "-c", promtool + " check metrics < " + (dir / "metrics.txt")});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;

  // Prometheus scrapes it every second and evaluates the shipped alert rules.
  int port = FreePort();
  test::WriteFile(dir / "prometheus.yml",
                  "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                  "rule_files:\n  - " CARELEDGER_SOURCE_DIR
                  "/ops/prometheus/alerts.yml\n"
                  "scrape_configs:\n  - job_name: careledger\n"
                  "    static_configs:\n      - targets: ['" +
                      target + "']\n");
  test::Background server({prometheus, "--config.file=" + (dir / "prometheus.yml"),
                           "--storage.tsdb.path=" + (dir / "tsdb"),
                           "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  httplib::Client prom("127.0.0.1", port);
  prom.set_read_timeout(std::chrono::seconds(5));
  auto scraped = [&] {
    auto r = prom.Get("/api/v1/query?query=careledger_dead_letters_total");
    return r && r->status == 200 && !nlohmann::json::parse(r->body)["data"]["result"].empty();
  };
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       std::chrono::steady_clock::now() < deadline && !scraped();
       std::this_thread::sleep_for(std::chrono::milliseconds(250))) {
  }
  ASSERT_TRUE(scraped()) << server.Stderr();
  // A source sends something that is not JSON: a dead letter, and the alert on it.
  test::WriteFile(dir / "bad.tsv", "A\t{\"event_id\":\n");
  ASSERT_EQ(
      test::KcatProduce(broker.bootstrap(), "careledger.socialcare.v1", dir / "bad.tsv").exit_code,
      0);
  std::string alerts;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(250))) {
    auto r = prom.Get("/api/v1/alerts");
    if (!r || r->status != 200) continue;
    alerts = r->body;
    bool firing = false;
    const auto parsed = nlohmann::json::parse(alerts);  // outlives the loop over its parts
    for (const auto& a : parsed["data"]["alerts"]) {
      firing |= a["labels"]["alertname"] == "CareledgerDeadLettersGrowing" &&
                a["labels"]["kind"] == "invalid_json" && a["state"] == "firing";
    }
    if (firing) return;
  }
  ADD_FAILURE() << "CareledgerDeadLettersGrowing{kind=invalid_json} did not fire within 30 s: "
                << alerts << "\nprometheus log: " << server.Stderr();
}

// `run`: ingest and serve in one process; a figure changes once its events are published.
TEST(Run, ServesEachBatchAsSoonAsItIsWritten) {
  test::TempDir dir;
  test::BrokerProcess broker(3);
  test::WriteFile(dir / "c.toml", "[serve]\ntoken = \"" + kToken + "\"\n");
  ::chmod((dir / "c.toml").c_str(), 0600);
  test::WriteFile(dir / "feed.jsonl", test::ThreeChildrenFeed());
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  test::Background run({CARELEDGER_BIN, "run", "--brokers", broker.bootstrap(), "--data",
                        dir / "store", "--config", dir / "c.toml", "--listen", "127.0.0.1:0"});
  std::string url = run.FirstLine();
  ASSERT_THAT(url, HasSubstr("http://127.0.0.1:"));
  auto client = ClientFor(url);
  auto wait_for = [&](const std::string& path, const std::string& want) {
    std::string last;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = client->Get(path, Bearer(kToken));
      if (r && r->body == want) return true;
      if (r) last = r->body;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << path << ": still " << last << "\n" << run.Stderr();
    return false;
  };
  ASSERT_TRUE(wait_for("/readyz", "ready\n"));
  const std::string cla = "/api/v1/metrics/cla?at=2024-03-31";
  EXPECT_TRUE(wait_for(cla, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":1}]})"
                            "\n"));
  test::WriteFile(dir / "more.jsonl",
                  Ev("d0", "child.registered", "D", "2010-01-01",
                     R"("dob":"2010-01-01","sex":"F","ethnicity":"WBRI")") +
                      Ev("d1", "care.period_started", "D", "2024-03-01",
                         R"("legal_status":"C2","placement":"U1","home_id":"H1")"));
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "more.jsonl"}).exit_code,
            0);
  EXPECT_TRUE(wait_for(cla, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":2}]})"
                            "\n"));
  // The counters follow once ingest has seen the write through (the next poll).
  std::shared_ptr<httplib::Response> metrics;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);;) {
    auto r = client->Get("/metrics", Bearer(kToken));
    ASSERT_TRUE(r);
    metrics = std::make_shared<httplib::Response>(*r);
    if (r->body.find("type=\"care.period_started\"} 3\n") != std::string::npos ||
        std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(metrics->body,
              HasSubstr("\ncareledger_events_ingested_total{topic=\"careledger.socialcare.v1\","
                        "type=\"care.period_started\"} 3\n"));
  EXPECT_THAT(metrics->body, HasSubstr("\ncareledger_dead_letters_total{kind=\"schema\"} 0\n"));
  EXPECT_THAT(metrics->body, HasSubstr("\ncareledger_batch_write_seconds_count "));
  EXPECT_THAT(metrics->body, HasSubstr("\ncareledger_replay_events_total 0\n"));

  // `careledger replay` beside `run` is served by its ingest (as beside `ingest`), and shows in
  // its metrics: each of the 14 log records (the feed's 12 and D's 2) folded once.
  auto replay = Careledger({"replay", "--data", dir / "store"});
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  auto after = client->Get("/metrics", Bearer(kToken));
  ASSERT_TRUE(after);
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replay_events_total 14\n"));
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replays_total{result=\"ok\"} 1\n"));
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replays_total{result=\"failed\"} 0\n"));
  EXPECT_THAT(after->body, HasSubstr("\ncareledger_replay_in_progress 0\n"));
  auto head = client->Get("/api/v1/head");  // no token needed: a length, no figure
  ASSERT_TRUE(head);
  EXPECT_EQ(head->body, "{\"log_records\":14,\"exact_figures\":true}\n");
  EXPECT_TRUE(wait_for(cla, R"({"metric":"cla","at":"2024-03-31","rows":[{"value":2}]})"
                            "\n"));
  EXPECT_EQ(run.Stop(), 0) << run.Stderr();
}

}  // namespace
}  // namespace careledger
