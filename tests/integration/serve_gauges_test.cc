// `careledger serve`'s /metrics gauges on feeds of their own: today's figures from what ingest
// keeps, and a published cohort table that cannot give a small count back.
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

using test::Ev;

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

}  // namespace
}  // namespace careledger
