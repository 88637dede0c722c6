// Fixture tests for the offence profile against England and Wales (M10), exploitation risk at
// the offence date (M11), reoffending (M13) and the published rendering of a report (small counts
// suppressed). Every expected figure is worked out by hand from the dates in the fixture; the
// comment next to it gives the reasoning.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "careledger/reporting.h"
#include "metrics_offences_support.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

// Event builders and the MetricsOffences fixture, shared: metrics_offences_support.h.
using namespace metrics_offences_test;

using test::Day;
using test::Ev;
using test::Figures;
using test::Fold;
using test::Report;

// ---- M10 -----------------------------------------------------------------------------------
// 2025, local population aged 10-17 of 1,000 (2025 estimate: the period's middle is
// 2025-07-02). Violence: 2 offences → 200.0 per 100,000; national 12,437 / 5,466,338 ×
// 100,000 = 227.5; ratio 200 / 227.52 = 0.88. Theft: 1 → 100.0; national 2,884 → 52.76;
// ratio 1.90. Robbery: 0 → 0.0; national 2,354 → 43.06; ratio 0. All: 3 → 300.0; national
// 38,518 → 704.64; ratio 0.43.
TEST_F(MetricsOffences, OffenceProfileAgainstEnglandAndWales) {
  std::vector<std::string> lines = {Registered("p0", "P", "2010-01-01", "M", "WBRI")};
  OffenceWith(lines, "P", "p1", "2025-02-01", "2025-03-01", "youth_caution",
              "violence_against_person");
  OffenceWith(lines, "P", "p2", "2025-03-01", "2025-04-01", "nfa", "violence_against_person");
  OffenceWith(lines, "P", "p3", "2025-04-01", "2025-05-01", "outcome_22", "theft_handling");
  // Decided in 2026: outside the period.
  OffenceWith(lines, "P", "p4", "2025-12-01", "2026-01-01", "nfa", "robbery");
  Fold(*store_, lines);
  MetricQuery q = Query("offence-profile", Day(2025, 1, 1), Day(2026, 1, 1));
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year == 2025) return AreaPopulation{2025, 1000, 2000};
    return std::nullopt;
  };
  auto figures = Report(*store_, q);
  using Row = std::map<std::string, std::string>;
  EXPECT_EQ(figures["violence_against_person"], (Row{{"offences", "2"},
                                                     {"rate_per_100k_10_17", "200.0"},
                                                     {"national_rate_per_100k", "227.5"},
                                                     {"ratio", "0.9"}}));
  EXPECT_EQ(figures["theft_handling"], (Row{{"offences", "1"},
                                            {"rate_per_100k_10_17", "100.0"},
                                            {"national_rate_per_100k", "52.8"},
                                            {"ratio", "1.9"}}));
  EXPECT_EQ(figures["robbery"], (Row{{"offences", "0"},
                                     {"rate_per_100k_10_17", "0.0"},
                                     {"national_rate_per_100k", "43.1"},
                                     {"ratio", "0.0"}}));
  EXPECT_EQ(figures["all"], (Row{{"offences", "3"},
                                 {"rate_per_100k_10_17", "300.0"},
                                 {"national_rate_per_100k", "704.6"},
                                 {"ratio", "0.4"}}));
  // The eleven national groups and "all", each once.
  EXPECT_EQ(figures.size(), 12u);
  // Lineage: the offences decided in the period, by their own events and P's registration.
  EXPECT_EQ(LineageOf(*store_, q, {{"offence_group", "violence_against_person"}}),
            (std::vector<std::string>{"offences:p0", "offences:p1-d", "offences:p1-o",
                                      "offences:p2-d", "offences:p2-o"}));
  EXPECT_EQ(
      LineageOf(*store_, q, {{"offence_group", "all"}}),
      (std::vector<std::string>{"offences:p0", "offences:p1-d", "offences:p1-o", "offences:p2-d",
                                "offences:p2-o", "offences:p3-d", "offences:p3-o"}));
}

// An outcome whose offence record never arrived has no offence group: its row has no national
// comparator (England and Wales have no "unknown" group), while "all" still counts it:
// 1 / 1,000 → 100.0 against 704.6, ratio 100 / 704.64 = 0.14.
TEST_F(MetricsOffences, OffenceProfileHasNoNationalRateForAnUnknownGroup) {
  Fold(*store_, {Registered("p0", "P", "2010-01-01", "M", "WBRI"),
                 Disposal("p5d", "P", "p5", "2025-06-01", "nfa")});
  MetricQuery q = Query("offence-profile", Day(2025, 1, 1), Day(2026, 1, 1));
  q.population = [](int) -> std::optional<AreaPopulation> {
    return AreaPopulation{2025, 1000, 2000};
  };
  auto figures = Report(*store_, q);
  using Row = std::map<std::string, std::string>;
  EXPECT_EQ(figures["unknown"], (Row{{"offences", "1"},
                                     {"rate_per_100k_10_17", "100.0"},
                                     {"national_rate_per_100k", ""},
                                     {"ratio", ""}}));
  EXPECT_EQ(figures["all"], (Row{{"offences", "1"},
                                 {"rate_per_100k_10_17", "100.0"},
                                 {"national_rate_per_100k", "704.6"},
                                 {"ratio", "0.1"}}));
  EXPECT_EQ(figures.size(), 13u);
}

// ---- M11 -----------------------------------------------------------------------------------
// 2025. X: CCE high assessed 2025-03-01, low from 2025-07-01.
//   x1 committed 02-15 (before any assessment: other), youth caution.
//   x2 committed 03-01 (the day of the assessment: at risk), community resolution.
//   x3 committed 05-01 (high), nfa.
//   x4 committed 08-01 (low by then: other), referral order.
// Y: CSE medium since 2024-11-01; y1 committed 2025-10-01, youth caution (at risk).
// Z: never assessed; z1 HO 22 (other).
// At risk: x2, x3, y1 → 3, informal or no sanction x2, x3 → 2/3 = 66.7 %.
// Other: x1, x4, z1 → 3, informal z1 → 1/3 = 33.3 %.
TEST_F(MetricsOffences, ExploitationRiskAtTheOffenceDate) {
  std::vector<std::string> lines = {
      Registered("x0", "X", "2009-01-01", "M", "WBRI"),
      Ev("xr1", "child.exploitation_risk_assessed", "X", "2025-03-01",
         R"("kind":"CCE","level":"high")"),
      Ev("xr2", "child.exploitation_risk_assessed", "X", "2025-07-01",
         R"("kind":"CCE","level":"low")"),
      Registered("y0", "Y", "2010-01-01", "F", "WBRI"),
      Ev("yr1", "child.exploitation_risk_assessed", "Y", "2024-11-01",
         R"("kind":"CSE","level":"medium")"),
      Registered("z0", "Z", "2010-01-01", "M", "WBRI"),
      OffenceRecorded("z1o", "Z", "z1", "2025-06-01", "drugs"),
      HomeOffice("z1r", "Z", "z1", "2025-06-05", 22),
  };
  OffenceWith(lines, "X", "x1", "2025-02-15", "2025-04-01", "youth_caution");
  OffenceWith(lines, "X", "x2", "2025-03-01", "2025-04-10", "community_resolution_police");
  OffenceWith(lines, "X", "x3", "2025-05-01", "2025-06-01", "nfa");
  OffenceWith(lines, "X", "x4", "2025-08-01", "2025-09-01", "referral_order");
  OffenceWith(lines, "Y", "y1", "2025-10-01", "2025-10-20", "youth_caution");
  Fold(*store_, lines);
  EXPECT_EQ(
      Report(*store_, Query("exploitation", Day(2025, 1, 1), Day(2026, 1, 1))),
      (Figures{{"medium_or_high",
                {{"offences", "3"}, {"no_sanction_or_informal", "2"}, {"informal_pct", "66.7"}}},
               {"other",
                {{"offences", "3"}, {"no_sanction_or_informal", "1"}, {"informal_pct", "33.3"}}}}));
}

// CCE and CSE are assessed separately: a later CSE "none" does not lift a CCE "high".
// V: CCE high 2025-03-01, CSE none 2025-04-01 → still at risk on 2025-05-01 (v1, nfa:
// at risk, 1 of 1 informal = 100.0 %). "both" none on 2025-07-01 clears it: v2 on 2025-08-01,
// youth caution → other, 0 of 1 = 0.0 %.
TEST_F(MetricsOffences, ExploitationRiskKeepsEachKindOfAssessment) {
  std::vector<std::string> lines = {
      Registered("v0", "V", "2009-01-01", "M", "WBRI"),
      Ev("vr1", "child.exploitation_risk_assessed", "V", "2025-03-01",
         R"("kind":"CCE","level":"high")"),
      Ev("vr2", "child.exploitation_risk_assessed", "V", "2025-04-01",
         R"("kind":"CSE","level":"none")"),
      Ev("vr3", "child.exploitation_risk_assessed", "V", "2025-07-01",
         R"("kind":"both","level":"none")"),
  };
  OffenceWith(lines, "V", "v1", "2025-05-01", "2025-06-01", "nfa");
  OffenceWith(lines, "V", "v2", "2025-08-01", "2025-09-01", "youth_caution");
  Fold(*store_, lines);
  EXPECT_EQ(
      Report(*store_, Query("exploitation", Day(2025, 1, 1), Day(2026, 1, 1))),
      (Figures{{"medium_or_high",
                {{"offences", "1"}, {"no_sanction_or_informal", "1"}, {"informal_pct", "100.0"}}},
               {"other",
                {{"offences", "1"}, {"no_sanction_or_informal", "0"}, {"informal_pct", "0.0"}}}}));
}

// ---- M13 -----------------------------------------------------------------------------------
// Cohort: formal outcomes in [2024-01-01, 2024-04-01). "Within 12 months" and "a further 6"
// are read inclusively, from the index decision date.
//   R1 (other): index youth caution 2024-02-01. Reoffences: committed 2024-06-01 (referral
//      order 2024-09-01) and committed 2025-02-01, exactly 12 months on, proven 2025-08-01,
//      exactly 18 months on. Not: committed 2025-02-02 (too late); nfa (not formal);
//      committed 2024-11-01 but proven 2025-08-02 (too late) → 2 reoffences.
//   R2 (other): index referral order 2024-03-15; its earlier community resolution is not
//      formal; no reoffence.
//   R3: only an outcome 22 in the quarter → not in the cohort. R4: formal on 2024-04-01 →
//      outside the quarter.
//   R5 (CLA): index youth caution 2024-01-20; committed 2024-03-01, referral order
//      2024-03-20 (itself inside the quarter) is a reoffence → 1.
// other: 2 children, 1 reoffender (50.0 %), 2 reoffences (2.0 each).
// cla: 1 child, 1 reoffender (100.0 %), 1 reoffence (1.0).
TEST_F(MetricsOffences, ReoffendingWithinTwelveMonthsProvenWithinEighteen) {
  std::vector<std::string> lines = {
      Registered("r1", "R1", "2008-01-01", "M", "WBRI"),
      Registered("r2", "R2", "2009-01-01", "M", "WBRI"),
      Registered("r3", "R3", "2009-01-01", "M", "WBRI"),
      Registered("r4", "R4", "2009-01-01", "M", "WBRI"),
      Registered("r5", "R5", "2008-05-05", "F", "WBRI"),
      CareStarted("r5c", "R5", "2023-01-01", "H1"),
  };
  OffenceWith(lines, "R1", "r1a", "2024-01-10", "2024-02-01", "youth_caution");
  OffenceWith(lines, "R1", "r1b", "2024-06-01", "2024-09-01", "referral_order");
  OffenceWith(lines, "R1", "r1c", "2025-02-01", "2025-08-01", "youth_caution");
  OffenceWith(lines, "R1", "r1d", "2025-02-02", "2025-03-01", "youth_caution");
  OffenceWith(lines, "R1", "r1e", "2024-10-01", "2024-11-01", "nfa");
  OffenceWith(lines, "R1", "r1f", "2024-11-01", "2025-08-02", "youth_caution");
  OffenceWith(lines, "R2", "r2a", "2024-03-01", "2024-03-15", "referral_order");
  OffenceWith(lines, "R2", "r2b", "2024-01-05", "2024-01-10", "community_resolution_police");
  OffenceWith(lines, "R3", "r3a", "2024-02-01", "2024-02-10", "outcome_22");
  OffenceWith(lines, "R4", "r4a", "2024-03-01", "2024-04-01", "youth_caution");
  OffenceWith(lines, "R5", "r5a", "2024-01-05", "2024-01-20", "youth_caution");
  OffenceWith(lines, "R5", "r5b", "2024-03-01", "2024-03-20", "referral_order");
  Fold(*store_, lines);
  EXPECT_EQ(Report(*store_, Query("reoffending", Day(2024, 1, 1), Day(2024, 4, 1))),
            (Figures{{"cla",
                      {{"children", "1"},
                       {"reoffenders", "1"},
                       {"binary_rate_pct", "100.0"},
                       {"reoffences", "1"},
                       {"frequency", "1.0"}}},
                     {"other",
                      {{"children", "2"},
                       {"reoffenders", "1"},
                       {"binary_rate_pct", "50.0"},
                       {"reoffences", "2"},
                       {"frequency", "2.0"}}}}));
  // Lineage of cla: R5's index offence (with the registration) and its reoffence, each with
  // the care (r5c) that made R5 looked after on the index decision date.
  EXPECT_EQ(LineageOf(*store_, Query("reoffending", Day(2024, 1, 1), Day(2024, 4, 1)),
                      {{"cohort", "cla"}}),
            (std::vector<std::string>{"children:r5", "children:r5a-d", "children:r5a-o",
                                      "children:r5c", "reoffences:r5", "reoffences:r5b-d",
                                      "reoffences:r5b-o", "reoffences:r5c"}));
}

// ---- Publishing ----------------------------------------------------------------------------
// Informal share in 2025 by cohort:
//   cla (PC, looked after from 2024-01-01): 8 offences, 5 nfa → 5/8 = 62.5 % → 63 published
//     (half rounds up, as statisticians round).
//   care_leaver (PL, born 2007-01-01, looked after 2022-01-01 to 2024-06-01): 3 youth
//     cautions → 3 is "<5", 0 informal stays 0, 0/3 is derived from a small count → "c".
//   other (PO): 5 offences, 1 outcome 22 → 5 shown, 1 is "<5", 1/5 → "c".
TEST_F(MetricsOffences, PublishedReportSuppressesSmallCounts) {
  std::vector<std::string> lines = {
      Registered("pc", "PC", "2009-01-01", "M", "WBRI"),
      CareStarted("pcc", "PC", "2024-01-01", "H1"),
      Registered("pl", "PL", "2007-01-01", "F", "WBRI"),
      CareStarted("plc", "PL", "2022-01-01", "H2"),
      CareEnded("ple", "PL", "2024-06-01"),
      Registered("po", "PO", "2010-01-01", "M", "WBRI"),
  };
  for (int i = 0; i < 8; ++i) {
    std::string day = "2025-02-1" + std::to_string(i);
    OffenceWith(lines, "PC", "pc" + std::to_string(i), day, "2025-03-01",
                i < 5 ? "nfa" : "youth_caution");
  }
  for (int i = 0; i < 3; ++i) {
    OffenceWith(lines, "PL", "pl" + std::to_string(i), "2025-04-0" + std::to_string(i + 1),
                "2025-05-01", "youth_caution");
  }
  for (int i = 0; i < 5; ++i) {
    OffenceWith(lines, "PO", "po" + std::to_string(i), "2025-06-0" + std::to_string(i + 1),
                "2025-07-01", i == 0 ? "outcome_22" : "youth_caution");
  }
  Fold(*store_, lines);
  auto table = RunMetric(*store_, [] {
    MetricQuery q = Query("informal-share", Day(2025, 1, 1), Day(2026, 1, 1));
    q.today = Day(2026, 11, 23);
    return q;
  }());
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  // Restricted: exact.
  EXPECT_EQ(Render(*table, OutputFormat::kCsv),
            "cohort,offences,no_sanction_or_informal,informal_pct\n"
            "care_leaver,3,0,0.0\n"
            "cla,8,5,62.5\n"
            "other,5,1,20.0\n");
  // Published: care leavers' 3 offences and other children's 1 informal outcome are small.
  // Each is alone in its column, and the column's total is published (the same report without
  // --by: 16 offences, 6 informal), so the smallest other count of each column is withheld
  // with it (other's 5 offences, cla's 5 informal), and cla's percentage with its count.
  RenderOptions published{.published = true};
  const std::string kPublishedNote =
      "published figures: counts of 1 to 4 show as <5; c marks a figure withheld because it "
      "is derived from one or because the totals would give one away";
  EXPECT_EQ(Render(*table, OutputFormat::kCsv, published),
            "cohort,offences,no_sanction_or_informal,informal_pct\n"
            "care_leaver,<5,0,c\n"
            "cla,8,c,c\n"
            "other,c,<5,c\n"
            "# note: " +
                kPublishedNote + "\n");
  EXPECT_EQ(Render(*table, OutputFormat::kTable, published),
            "informal-share  period=2025-01-01..2026-01-01\n"
            "cohort       offences  no_sanction_or_informal  informal_pct\n"
            "-----------  --------  -----------------------  ------------\n"
            "care_leaver        <5                        0             c\n"
            "cla                 8                        c             c\n"
            "other               c                       <5             c\n"
            "note: " +
                kPublishedNote + "\n");
  // JSON: suppressed cells are strings, the rest numbers.
  EXPECT_EQ(
      Render(*table, OutputFormat::kJson, published),
      R"({"metric":"informal-share","period":"2025-01-01..2026-01-01","rows":[)"
      R"({"cohort":"care_leaver","offences":"<5","no_sanction_or_informal":0,)"
      R"("informal_pct":"c"},)"
      R"({"cohort":"cla","offences":8,"no_sanction_or_informal":"c","informal_pct":"c"},)"
      R"({"cohort":"other","offences":"c","no_sanction_or_informal":"<5","informal_pct":"c"}],)"
      R"("notes":[")" +
          kPublishedNote + "\"]}\n");
  // A threshold of 10 suppresses 5 and 8 as well, and every percentage with them.
  EXPECT_EQ(Render(*table, OutputFormat::kCsv, RenderOptions{.published = true, .threshold = 10}),
            "cohort,offences,no_sanction_or_informal,informal_pct\n"
            "care_leaver,<10,0,c\n"
            "cla,<10,<10,c\n"
            "other,<10,<10,c\n"
            "# note: published figures: counts of 1 to 9 show as <10; c marks a figure withheld "
            "because it is derived from one or because the totals would give one away\n");
}

}  // namespace
}  // namespace careledger
