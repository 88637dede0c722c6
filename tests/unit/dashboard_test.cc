// The dashboard compiled into the binary: the page, its script and its style with their content
// types, byte for byte the files in reporting/dashboard/, and nothing at any other path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "careledger/reporting.h"
#include "test_support.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Source(const std::string& name) {
  return test::ReadFile(std::string(CARELEDGER_SOURCE_DIR) + "/reporting/dashboard/" + name);
}

TEST(Dashboard, RootIsThePage) {
  auto page = DashboardAsset("/");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page->body, Source("index.html"));
  EXPECT_THAT(std::string(page->body), StartsWith("<!doctype html>\n<html lang=\"en\">"));
  auto index = DashboardAsset("/index.html");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index->body, page->body);
}

TEST(Dashboard, ScriptAndStyleAreTheSourceFiles) {
  auto js = DashboardAsset("/dashboard.js");
  ASSERT_TRUE(js.has_value());
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js->body, Source("dashboard.js"));
  auto css = DashboardAsset("/dashboard.css");
  ASSERT_TRUE(css.has_value());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(css->body, Source("dashboard.css"));
}

TEST(Dashboard, EveryFileThePageLinksToIsServed) {
  std::string page(DashboardAsset("/")->body);
  std::regex link(R"re((?:src|href)="([^"]*)")re");
  std::vector<std::string> links;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), link); it != std::sregex_iterator();
       ++it) {
    links.push_back((*it)[1]);
  }
  EXPECT_EQ(links, (std::vector<std::string>{"/dashboard.css", "/dashboard.js"}));
  for (const std::string& l : links) EXPECT_TRUE(DashboardAsset(l).has_value()) << l;
}

TEST(Dashboard, NothingElseIsServed) {
  for (std::string_view path : {"",
                                "index.html",
                                "dashboard.js",
                                "/dashboard.JS",
                                "/Dashboard.js",
                                "/dashboard",
                                "/index.htm",
                                "//dashboard.js",
                                "/./dashboard.js",
                                "/../dashboard.js",
                                "/dashboard/dashboard.js",
                                "/dashboard.js?v=1",
                                "/dashboard.js#x",
                                "/dashboard_files.h",
                                "/api/v1/metrics/cla",
                                "/metrics",
                                "/favicon.ico",
                                "/CMakeLists.txt",
                                "/../../CMakeLists.txt",
                                "/%2e%2e/CMakeLists.txt",
                                "/dashboard.css/",
                                "/dashboard.js\\"}) {
    EXPECT_FALSE(DashboardAsset(path).has_value()) << path;
  }
}

// Tests and scripts find figures by data-figure; the page keeps the names of its panels.
TEST(Dashboard, PageNamesItsFigures) {
  std::string page(DashboardAsset("/")->body);
  for (const char* figure :
       {"cla-now", "cla-trend", "care-leavers", "outcomes", "informal-share", "criminalisation",
        "missing", "callouts", "callouts-homes", "offence-profile", "status", "mode"}) {
    EXPECT_THAT(page, HasSubstr(std::string("data-figure=\"") + figure + "\"")) << figure;
  }
}

}  // namespace
}  // namespace careledger
