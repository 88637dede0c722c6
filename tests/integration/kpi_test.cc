// KPIs through the real binary, as a partnership runs them (docs/kpi.md): published tables
// imported with `careledger reference import`, targets in the settings, `report kpi`, and the
// same KPIs from `serve` (GET /api/v1/kpi, careledger_kpi_status on /metrics).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "serve_test_support.h"
#include "test_support.h"
#include "three_children_feed.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

// The three children's feed ingested; a comparator table of our own in the long layout; the
// settings give the area and a target for the informal share of children looked after.
// By hand, year ending 31 March 2024: A's theft (community resolution) and B's violence (youth
// caution) are the offences of children looked after: 1 of 2 informal, 50.0 %; nothing was
// decided the year before. Target 60, red at 40: amber. England published 55, the area 48.
class Kpis : public ::testing::Test {
 protected:
  void SetUp() override {
    test::WriteFile(dir_ / "feed.jsonl", test::ThreeChildrenFeed());
    auto published = Careledger({"publish", "--brokers", broker_.bootstrap(), dir_ / "feed.jsonl"});
    ASSERT_EQ(published.exit_code, 0) << published.err;
    auto ingest =
        Careledger({"ingest", "--brokers", broker_.bootstrap(), "--data", store_, "--until-end"});
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
    test::WriteFile(dir_ / "informal.csv",
                    "area_code,area_name,area_type,period,indicator,measure,value\n"
                    "E92000001,England,Country,2023/24,Informal resolution,Percent,55\n"
                    "E08000009,Trafford,UA,2023/24,Informal resolution,Percent,48\n"
                    "E08000009,Trafford,UA,2022/23,Informal resolution,Percent,c\n");
    test::WriteFile(settings_, "[serve]\ntoken = \"" + kToken +
                                   "\"\n"
                                   "[area]\ncode = \"E08000009\"\n"
                                   "[kpi.informal_share_cla]\ntarget = 60\nred = 40\n"
                                   "comparators = { national = \"informal_resolution.percent\", "
                                   "local = \"informal_resolution.percent\" }\n");
    ::chmod(settings_.c_str(), 0600);
    auto imported = Careledger({"reference", "import", "--data", store_, dir_ / "informal.csv"});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_THAT(imported.out, HasSubstr("imported informal from informal.csv (long layout"));
    EXPECT_THAT(imported.out, HasSubstr("3 figures, 1 of them markers (c, z, x), 1 indicators, "
                                        "2 areas, years ending 31 March 2023–2024"));
  }
  std::string Row(const std::string& csv, const std::string& kpi) {
    for (const auto& line : test::Lines(csv)) {
      if (line.starts_with(kpi + ",")) return line;
    }
    return "";
  }
  test::TempDir dir_;
  test::BrokerProcess broker_{3};
  std::string store_ = dir_ / "store";
  std::string settings_ = dir_ / "c.toml";
};

TEST_F(Kpis, ReportKpiJudgesTheTargetBesideThePublishedComparators) {
  auto r = Careledger({"report", "kpi", "--data", store_, "--config", settings_, "--period",
                       "2023-24", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto header = test::Lines(r.out).at(0);
  EXPECT_EQ(header,
            "kpi,window,unit,better,value,year_earlier,change,target,red,status,national,region,"
            "neighbours,local");
  EXPECT_EQ(Row(r.out, "informal_share_cla"),
            "informal_share_cla,2023-04-01..2024-04-01,%,higher,50.0,,,60,40,amber,55,,,48");
  // Every default KPI has its row, with no target: nothing judged.
  EXPECT_EQ(test::Lines(r.out).size(), 1u + 9 + 9) << r.out;  // the header, 9 rows, 9 notes
  EXPECT_THAT(Row(r.out, "reoffending"), HasSubstr(",no_target,"));
  EXPECT_THAT(Row(r.out, "placement_stability_3plus"), HasSubstr(",year ending 2024-03-31,"));

  // Published: the percentage of two offences is withheld, its status is not.
  r = Careledger({"report", "kpi", "--data", store_, "--config", settings_, "--period", "2023-24",
                  "--format", "csv", "--published"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Row(r.out, "informal_share_cla"),
            "informal_share_cla,2023-04-01..2024-04-01,%,higher,c,,c,60,40,amber,55,,,48");
}

TEST_F(Kpis, ServeAnswersTheSameAndExposesEachStatus) {
  test::Background server({CARELEDGER_BIN, "serve", "--data", store_, "--config", settings_,
                           "--listen", "127.0.0.1:0"});
  const std::string url = server.FirstLine();
  ASSERT_THAT(url, HasSubstr("http://127.0.0.1:"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto ready = ClientFor(url)->Get("/readyz"); !ready || ready->status != 200;
       ready = ClientFor(url)->Get("/readyz")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never ready";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto exact = ClientFor(url)->Get("/api/v1/kpi?period=2023-24", Bearer(kToken));
  ASSERT_TRUE(exact);
  ASSERT_EQ(exact->status, 200) << exact->body;
  EXPECT_THAT(exact->body,
              HasSubstr(R"({"kpi":"informal_share_cla","window":"2023-04-01..2024-04-01",)"
                        R"("unit":"%","better":"higher","value":50.0,"year_earlier":null,)"
                        R"("change":null,"target":60,"red":40,"status":"amber","national":55,)"
                        R"("region":null,"neighbours":null,"local":48})"));
  auto published = ClientFor(url)->Get("/api/v1/kpi?period=2023-24");
  ASSERT_TRUE(published);
  EXPECT_THAT(published->body, HasSubstr(R"("value":"c","year_earlier":null,"change":"c")"));
  EXPECT_THAT(published->body, HasSubstr(R"("status":"amber")"));
  auto bad = ClientFor(url)->Get("/api/v1/kpi?period=2023-99");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  // /metrics: the last complete quarter's statuses. Nothing was decided in the 12 months to its
  // end (the feed ends in 2024), so the informal share has no figure: -1.
  auto metrics = ClientFor(url)->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("# TYPE careledger_kpi_status gauge"));
  EXPECT_THAT(metrics->body, HasSubstr("careledger_kpi_status{kpi=\"informal_share_cla\"} -1\n"));
}

TEST_F(Kpis, BadSettingsAndFilesAreNamed) {
  test::WriteFile(dir_ / "bad.toml", "[kpi.informal_share_cla]\ntarget = 60\nred = 70\n");
  auto r = Careledger({"report", "kpi", "--data", store_, "--config", dir_ / "bad.toml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr((dir_ / "bad.toml") +
                               ":2: [kpi.informal_share_cla] red must be below the target when "
                               "higher is better"));
  test::WriteFile(dir_ / "nothing.csv", "a,b\n1,2\n");
  r = Careledger({"reference", "import", "--data", store_, dir_ / "nothing.csv"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("nothing.csv:1: not a published table careledger reads"));
}

TEST_F(Kpis, ImportsTheYjbTableAsPublished) {
  const std::filesystem::path yjb =
      std::filesystem::path(CARELEDGER_SOURCE_DIR) /
      "../shared/fixtures/yjs/trafford-children-cautioned-sentenced/children_offending.csv";
  if (!std::filesystem::exists(yjb)) {
    GTEST_SKIP() << "the shared fixtures (CARELEDGER_SOURCE_DIR/../shared/fixtures/yjs) are not "
                    "here";
  }
  auto r = Careledger({"reference", "import", "--data", store_, yjb.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Careledger({"reference", "list", "--data", store_, "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 11 areas over 11 years, each a count and a rate per 10,000.
  EXPECT_THAT(r.out, HasSubstr("children_offending,children_cautioned_or_sentenced.count,"
                               "2015-2025,"));
  EXPECT_THAT(r.out, HasSubstr(",121,11\n"));
  // Trafford's published 14 per 10,000 in 2024/25 (and England's 22) beside the area's own rate.
  test::WriteFile(settings_, "[area]\ncode = \"E08000009\"\n");
  r = Careledger({"report", "kpi", "--data", store_, "--config", settings_, "--period", "2024-25",
                  "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Row(r.out, "children_cautioned_or_sentenced"), HasSubstr(",no_figure,22,,,14"));
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The quarterly board pack, as known at a time after the ingest (the store was loaded after the
// quarter it reports): its KPI table and statuses, the panel's counts without a child in them,
// the same bytes when built again, a footer whose state hash `careledger replay --as-known-at`
// gives back, and the PDF headless Chromium prints of it.
TEST_F(Kpis, BoardPackIsOneSelfContainedPageAnAuditorCanRebuild) {
  const std::string known_at =
      FormatInstant(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  auto pack = [&](const std::string& out, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"board-pack", "--data",    store_,    "--config",
                                     settings_,    "--quarter", "2024Q1",  "--as-known-at",
                                     known_at,     "--out",     dir_ / out};
    args.insert(args.end(), more.begin(), more.end());
    return Careledger(args);
  };
  auto r = pack("pack.html", {"--pdf", dir_ / "pack.pdf"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = Slurp(dir_ / "pack.html");
  EXPECT_THAT(html, HasSubstr("<title>Board pack 2024Q1: the partnership</title>"));
  // The KPI row as report kpi --published gives it, the status cell coloured.
  EXPECT_THAT(html, HasSubstr("<tr><th scope=\"row\">informal_share_cla</th><th scope=\"row\">"
                              "2023-04-01..2024-04-01</th><th scope=\"row\">%</th><th "
                              "scope=\"row\">higher</th><td>c</td><td>-</td><td>c</td><td>60</td>"
                              "<td>40</td><td class=\"rag-amber\">amber</td><td>55</td><td>-</td>"
                              "<td>-</td><td>48</td></tr>"));
  EXPECT_THAT(html, HasSubstr("<div class=\"trend\" data-kpi=\"informal_share_cla\">"));
  EXPECT_THAT(html, HasSubstr("<svg role=\"img\""));
  // Self-contained: nothing fetched from anywhere.
  EXPECT_THAT(html, ::testing::Not(HasSubstr("src=")));
  EXPECT_THAT(html, ::testing::Not(HasSubstr("href=")));
  // The panel's counts, never its list: no offence id of the feed is in the page.
  EXPECT_THAT(html, HasSubstr("Out-of-court panel: offences waiting"));
  for (const char* id : {"\"OA\"", ">OA<", ">OB<", ">OC<"})
    EXPECT_THAT(html, ::testing::Not(HasSubstr(id)));

  // The footer names the state an auditor's replay as known at the same time gives back.
  const std::regex state(R"(<code data-lineage="state">([0-9a-f]{64})</code>)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, state)) << html.substr(html.find("<footer>"));
  const std::string hash = m[1];
  EXPECT_THAT(html, HasSubstr("records ingested by " + known_at));
  auto again = pack("again.html");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Slurp(dir_ / "again.html"), html) << "the same store and settings give the same bytes";
  auto replay = Careledger({"replay", "--data", store_, "--as-known-at", known_at});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(test::Lines(replay.out).back(), hash);

  // The PDF: its pages and the KPI table's text, read back with poppler's tools.
  for (const char* tool : {"/usr/bin/pdfinfo", "/usr/bin/pdftotext"}) {
    ASSERT_TRUE(std::filesystem::exists(tool)) << tool
                                               << " is missing (ops/setup.sh installs "
                                                  "poppler-utils)";
  }
  auto info = test::Run({"/usr/bin/pdfinfo", dir_ / "pack.pdf"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  std::smatch pages;
  const std::regex pages_line(R"(Pages:\s+(\d+))");
  ASSERT_TRUE(std::regex_search(info.out, pages, pages_line)) << info.out;
  // A4 landscape: the KPI table and its notes, the eight-quarter trends, the outcome, call-out
  // and panel tables and the footer.
  EXPECT_EQ(std::stoi(pages[1]), 5) << info.out;
  auto text = test::Run({"/usr/bin/pdftotext", "-layout", dir_ / "pack.pdf", "-"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("Key performance indicators"));
  EXPECT_TRUE(std::regex_search(
      text.out, std::regex(R"(informal_share_cla[^\n]*higher\s+c\s+-\s+c\s+60\s+40\s+amber\s+55)")))
      << text.out.substr(0, 3000);

  r = Careledger(
      {"board-pack", "--data", store_, "--quarter", "2024-Q1", "--out", dir_ / "x.html"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--quarter: a calendar quarter such as 2026Q3"));
}

}  // namespace
}  // namespace careledger
