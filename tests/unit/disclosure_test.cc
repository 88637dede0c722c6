// Disclosure control of published output (spec/metrics.md "Publishing rules"): hand-worked
// tables for each rule. The attack on real reports of a generated store is in
// disclosure_attack_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "careledger/reporting.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

// ---- Hand-worked tables ---------------------------------------------------------------------

ReportTable Counts(const std::vector<std::pair<std::string, int64_t>>& rows) {
  ReportTable t;
  t.metric = "m";
  t.dimensions = {"group"};
  t.measures = {"value"};
  for (const auto& [g, n] : rows) t.rows.push_back({{g}, {Figure::Count(n)}});
  return t;
}

std::vector<std::string> Column(const ReportTable& t, size_t column = 0) {
  std::vector<std::string> out;
  std::istringstream csv(Render(t, OutputFormat::kCsv, {.published = true}));
  std::string line;
  std::getline(csv, line);  // header
  while (std::getline(csv, line) && !line.starts_with("#")) {
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    out.push_back(cells[t.dimensions.size() + column]);
  }
  return out;
}

// One small count alone in a column whose total is published (the same figure without --by:
// 3 + 9 + 40 = 52) would be 52 - 9 - 40: the smallest other count (9) goes with it.
TEST(Disclosure, OneSmallCountInAColumnTakesTheNextSmallestWithIt) {
  EXPECT_EQ(Column(Counts({{"a", 3}, {"b", 40}, {"c", 9}})),
            (std::vector<std::string>{"<5", "40", "c"}));
  // Two small counts protect each other; zeros and large counts stay.
  EXPECT_EQ(Column(Counts({{"a", 3}, {"b", 40}, {"c", 2}, {"d", 0}})),
            (std::vector<std::string>{"<5", "40", "<5", "0"}));
  // A column whose total is itself small is suppressed wherever it is published.
  EXPECT_EQ(Column(Counts({{"a", 3}, {"b", 0}, {"c", 1}})),
            (std::vector<std::string>{"<5", "0", "<5"}));
}

// Two "<5" whose total is 2 are 1 and 1; two whose total is 8 are 4 and 4. The first takes a
// third cell with it; where there is none, both become "c" (0 or more), which pins nothing.
TEST(Disclosure, SmallCountsWhoseTotalPinsThemAreProtectedToo) {
  EXPECT_EQ(Column(Counts({{"a", 1}, {"b", 1}, {"c", 30}, {"d", 12}})),
            (std::vector<std::string>{"<5", "<5", "30", "c"}));
  EXPECT_EQ(Column(Counts({{"a", 4}, {"b", 4}})), (std::vector<std::string>{"c", "c"}));
  EXPECT_EQ(Column(Counts({{"a", 2}, {"b", 3}})), (std::vector<std::string>{"<5", "<5"}));
}

// A percentage goes with its count, a rate index with the rates it divides (its own row's and
// the reference group's), and the published percentage has one decimal place, halves away
// from zero: 5 of 80 is 6.25 %, published 6.3 (printf's own rounding gives 6.2).
TEST(Disclosure, DerivedFiguresGoWithTheirCountsAndPercentagesHaveOneDecimal) {
  ReportTable t;
  t.metric = "m";
  t.dimensions = {"group"};
  t.measures = {"children", "with", "pct", "rri"};
  auto row = [](std::string g, int64_t children, int64_t with) {
    return ReportTable::Row{
        {std::move(g)},
        {Figure::Count(children), Figure::Count(with),
         Figure::Percent(with, children).Columns(1, 0), Figure::Empty(Figure::Kind::kRatio)}};
  };
  t.rows = {row("a", 80, 5), row("b", 200, 20), row("c", 30, 3), row("d", 25, 6)};
  t.reference_rows.assign(t.rows.size(), size_t{1});
  for (auto& r : t.rows) {
    r.values[3] = Figure::Ratio(r.values[2].value, t.rows[1].values[2].value).From({2});
  }
  // "with": c's 3 is small and alone in its column: a's 5 (the smallest other) goes too; each
  // one's percentage and index go with it; b is the reference, d is shown in full.
  EXPECT_EQ(Column(t, 1), (std::vector<std::string>{"c", "20", "<5", "6"}));
  EXPECT_EQ(Column(t, 2), (std::vector<std::string>{"c", "10.0", "c", "24.0"}));
  EXPECT_EQ(Column(t, 3), (std::vector<std::string>{"c", "1.00", "c", "2.40"}));
  t.rows.pop_back();
  t.rows.pop_back();
  t.rows[1].values[1] = Figure::Count(25);
  t.rows[1].values[2] = Figure::Percent(25, 200).Columns(1, 0);
  EXPECT_EQ(Column(t, 2), (std::vector<std::string>{"6.3", "12.5"}));
  // The reference group's rate hidden: every index is hidden.
  t.rows[1].values[1] = Figure::Count(2);
  t.rows[1].values[2] = Figure::Percent(2, 200).Columns(1, 0);
  EXPECT_EQ(Column(t, 3), (std::vector<std::string>{"c", "c"}));
}

// A row's total and its parts: one part hidden would be the total less the others.
TEST(Disclosure, ARowTotalDoesNotGiveAwayOneHiddenPart) {
  ReportTable t;
  t.metric = "m";
  t.measures = {"x", "y", "z", "total"};
  t.rows = {{{}, {Figure::Count(2), Figure::Count(7), Figure::Count(30), Figure::Count(39)}}};
  t.row_sums = {{.total = 3, .parts = {0, 1, 2}}};
  EXPECT_EQ(Render(t, OutputFormat::kCsv, {.published = true}).substr(0, 22),
            "x,y,z,total\n<5,c,30,39");
}

}  // namespace
}  // namespace careledger
