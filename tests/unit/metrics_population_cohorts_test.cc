// Fixture tests for age and care-leaver bands that change on birthdays, care leavers (M2),
// criminalisation (M5) and the YJS caseload (M9). Every expected figure is worked out by hand
// from the dates in the fixture; the reasoning is in the comment next to it.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <thread>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "metrics_population_support.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

// Event builders, queries, shared feeds and the MetricPopulation fixture:
// metrics_population_support.h.
using namespace metrics_population_test;

using test::Day;
using test::Ev;
using test::Fold;
using test::Report;

// ---- Birthdays
// ----------------------------------------------------------------------------------- F born
// 2014-04-01, G born 2008-02-29, K born 2012-02-29; all looked after from 2020-01-01. A 29 February
// birthday falls on 1 March in a common year (as the law of England counts it).
TEST_F(MetricPopulation, AgeBandsChangeOnTheBirthdayIncluding29February) {
  Fold(*store_, {Reg("F", "2014-04-01"), Start("f1", "F", "2020-01-01", "C2", "U1"),
                 Reg("G", "2008-02-29"), Start("g1", "G", "2020-01-01", "C2", "U1"),
                 Reg("K", "2012-02-29"), Start("k1", "K", "2020-01-01", "C2", "U1")});
  auto bands = [&](Date d) { return Col(Report(*store_, At("cla", d, {"age_band"}))); };
  // 2024-02-28: F 9, G 15 (16th birthday is tomorrow), K 11.
  EXPECT_EQ(bands(Day(2024, 2, 28)), (Column{{"under 10", "1"}, {"14-15", "1"}, {"10-13", "1"}}));
  // 2024-02-29 (leap year): G turns 16 today.
  EXPECT_EQ(bands(Day(2024, 2, 29)), (Column{{"under 10", "1"}, {"16-17", "1"}, {"10-13", "1"}}));
  // 2024-03-31: F still 9; 2024-04-01: F turns 10.
  EXPECT_EQ(bands(Day(2024, 3, 31)), (Column{{"under 10", "1"}, {"16-17", "1"}, {"10-13", "1"}}));
  EXPECT_EQ(bands(Day(2024, 4, 1)), (Column{{"16-17", "1"}, {"10-13", "2"}}));
  // 2026-02-28 (common year): G 17, K 13, F 11.
  EXPECT_EQ(bands(Day(2026, 2, 28)), (Column{{"16-17", "1"}, {"10-13", "2"}}));
  // 2026-03-01: G's 18th and K's 14th birthdays.
  EXPECT_EQ(bands(Day(2026, 3, 1)), (Column{{"10-13", "1"}, {"14-15", "1"}, {"18-21", "1"}}));
}

// L born 2006-05-10, looked after 2020-01-01 to 2024-05-10 (its 18th birthday): a care leaver
// from that day (four years looked after since its 14th birthday, 2020-05-10, some after 16).
TEST_F(MetricPopulation, CareLeaverBandsChangeOnBirthdaysAndEndAt26) {
  Fold(*store_, {Reg("L", "2006-05-10"), Start("l1", "L", "2020-01-01", "C2", "U1"),
                 End("l2", "L", "2024-05-10")});
  auto bands = [&](Date d) { return Col(Report(*store_, At("care-leavers", d)), "care_leavers"); };
  EXPECT_EQ(bands(Day(2024, 5, 9)), Column{});                // still looked after
  EXPECT_EQ(ClaAt(Day(2024, 5, 9)), "1");                     // (the CLA count has L)
  EXPECT_EQ(ClaAt(Day(2024, 5, 10)), "0");                    // ended on the 18th birthday
  EXPECT_EQ(bands(Day(2024, 5, 10)), (Column{{"18", "1"}}));  // 18th birthday
  EXPECT_EQ(bands(Day(2025, 5, 9)), (Column{{"18", "1"}}));
  EXPECT_EQ(bands(Day(2025, 5, 10)), (Column{{"19-21", "1"}}));  // 19th
  EXPECT_EQ(bands(Day(2027, 5, 10)), (Column{{"19-21", "1"}}));  // 21st: same band
  EXPECT_EQ(bands(Day(2028, 5, 9)), (Column{{"19-21", "1"}}));
  EXPECT_EQ(bands(Day(2028, 5, 10)), (Column{{"22-25", "1"}}));  // 22nd
  EXPECT_EQ(bands(Day(2031, 5, 10)), (Column{{"22-25", "1"}}));  // 25th: same band
  EXPECT_EQ(bands(Day(2032, 5, 9)), (Column{{"22-25", "1"}}));   // aged 25, last day
  EXPECT_EQ(bands(Day(2032, 5, 10)), Column{});                  // 26: no longer counted
}

// Z born 2008-02-29, looked after 2022-01-01 to 2025-01-01 (14th birthday 2022-03-01, 16th
// 2024-02-29 inside it). Its 18th birthday is 2026-03-01.
TEST_F(MetricPopulation, CareLeaverBorn29FebruaryTurns18On1March) {
  Fold(*store_, {Reg("Z", "2008-02-29"), Start("z1", "Z", "2022-01-01", "C2", "U1"),
                 End("z2", "Z", "2025-01-01")});
  auto bands = [&](Date d) { return Col(Report(*store_, At("care-leavers", d)), "care_leavers"); };
  EXPECT_EQ(bands(Day(2026, 2, 28)), (Column{{"16-17", "1"}}));
  EXPECT_EQ(bands(Day(2026, 3, 1)), (Column{{"18", "1"}}));
}

// ---- M2 -----------------------------------------------------------------------------------------
// All born 2008-01-01: 14th birthday 2022-01-01, 16th 2024-01-01; judged on 2024-06-01 (aged 16).
TEST_F(MetricPopulation, CareLeaverThirteenWeekRule) {
  Fold(*store_,
       {// P1: 2023-11-01 to 2024-01-31 = 30 (Nov) + 31 (Dec) + 30 (Jan 1-30) = 91 days, 30 of
        // them after the 16th birthday: a care leaver.
        Reg("P1", "2008-01-01"), Start("p1s", "P1", "2023-11-01", "C2", "U1"),
        End("p1e", "P1", "2024-01-31"),
        // P2: one day shorter, 2023-11-02 to 2024-01-31 = 90 days: not.
        Reg("P2", "2008-01-01"), Start("p2s", "P2", "2023-11-02", "C2", "U1"),
        End("p2e", "P2", "2024-01-31"),
        // P3: 2022-06-01 to 2024-01-01: long enough, but the period ends on the 16th birthday,
        // so the last day looked after is the day before it: none of it at 16: not.
        Reg("P3", "2008-01-01"), Start("p3s", "P3", "2022-06-01", "C2", "U1"),
        End("p3e", "P3", "2024-01-01"),
        // P4: the same ending a day later: looked after on the 16th birthday itself: counts.
        Reg("P4", "2008-01-01"), Start("p4s", "P4", "2022-06-01", "C2", "U1"),
        End("p4e", "P4", "2024-01-02"),
        // P5: 2021-10-01 to 2022-03-01 (only 2022-01-01..02-28 = 59 days after the 14th
        // birthday) and 2024-01-01 to 2024-02-01 (31 days) = 90 days since the 14th: not,
        // although 151 days in all.
        Reg("P5", "2008-01-01"), Start("p5a", "P5", "2021-10-01", "C2", "U1"),
        End("p5b", "P5", "2022-03-01"), Start("p5c", "P5", "2024-01-01", "C2", "U1"),
        End("p5d", "P5", "2024-02-01"),
        // P6: a year of V3 short breaks across the 16th birthday: never looked after: not.
        Reg("P6", "2008-01-01"), Start("p6s", "P6", "2023-06-01", "V3", "U1"),
        End("p6e", "P6", "2024-06-01")});
  // P1 and P4, both aged 16; nobody has a contact, so the percentages are undefined (blank).
  EXPECT_EQ(Report(*store_, At("care-leavers", Day(2024, 6, 1))),
            (test::Figures{{"16-17",
                            {{"care_leavers", "2"},
                             {"with_contact_12m", "0"},
                             {"in_touch_pct", ""},
                             {"suitable_accommodation_pct", ""},
                             {"eet_pct", ""}}}}));
}

// Q1..Q5 born 2007-01-01, looked after 2021-01-01 to 2025-01-01: care leavers aged 18 on
// 2025-06-01. "A contact in the last 12 months" is one in (2024-06-01, 2025-06-01]: the latest
// such contact is the child's current state.
TEST_F(MetricPopulation, CareLeaverContactInTheLastTwelveMonths) {
  Lines feed;
  for (const char* c : {"Q1", "Q2", "Q3", "Q4", "Q5"}) {
    std::string q = c;
    feed.push_back(Reg(q, "2007-01-01"));
    feed.push_back(Start(q + "s", q, "2021-01-01", "C2", "U1"));
    feed.push_back(End(q + "e", q, "2025-01-01"));
  }
  // Q1: an older contact (not in touch, NEET, unsuitable) replaced by 2025-03-01 in touch, F1
  // (EET), B1 (suitable).
  feed.push_back(Contact("q1c1", "Q1", "2024-12-01", "NO", "G5", "B2"));
  feed.push_back(Contact("q1c2", "Q1", "2025-03-01", "YES", "F1", "B1"));
  // Q2: 2024-06-02, one day inside the 12 months: in touch, G4 (NEET), B2 (unsuitable).
  feed.push_back(Contact("q2c", "Q2", "2024-06-02", "YES", "G4", "B2"));
  // Q3: 2024-06-01, exactly 12 months before: outside, so Q3 has no contact.
  feed.push_back(Contact("q3c", "Q3", "2024-06-01", "YES", "P1", "B1"));
  // Q4: only a contact after the date asked about.
  feed.push_back(Contact("q4c", "Q4", "2025-07-01", "YES", "F1", "B1"));
  // Q5: not in touch, activity 0, in custody (X): none of the three.
  feed.push_back(Contact("q5c", "Q5", "2025-05-01", "NO", "0", "X"));
  Fold(*store_, feed);
  // 5 care leavers; with a contact: Q1, Q2, Q5 = 3; in touch Q1, Q2 = 2/3 = 66.7 %;
  // suitable Q1 = 1/3 = 33.3 %; EET Q1 = 1/3 = 33.3 %.
  EXPECT_EQ(Report(*store_, At("care-leavers", Day(2025, 6, 1))),
            (test::Figures{{"18",
                            {{"care_leavers", "5"},
                             {"with_contact_12m", "3"},
                             {"in_touch_pct", "66.7"},
                             {"suitable_accommodation_pct", "33.3"},
                             {"eet_pct", "33.3"}}}}));
  // Lineage of band 18: each care leaver by its registration and the care since its 14th
  // birthday (its start and end); each figure from a contact by that contact (the latest in
  // the 12 months).
  auto lineage = RunLineage(*store_, At("care-leavers", Day(2025, 6, 1)), Cell{{"band", "18"}});
  ASSERT_TRUE(lineage.ok()) << lineage.status().ToString();
  EXPECT_EQ(Pairs(*lineage), (std::vector<std::pair<std::string, std::string>>{
                                 {"care_leavers", "Q1.reg"},
                                 {"care_leavers", "Q1e"},
                                 {"care_leavers", "Q1s"},
                                 {"care_leavers", "Q2.reg"},
                                 {"care_leavers", "Q2e"},
                                 {"care_leavers", "Q2s"},
                                 {"care_leavers", "Q3.reg"},
                                 {"care_leavers", "Q3e"},
                                 {"care_leavers", "Q3s"},
                                 {"care_leavers", "Q4.reg"},
                                 {"care_leavers", "Q4e"},
                                 {"care_leavers", "Q4s"},
                                 {"care_leavers", "Q5.reg"},
                                 {"care_leavers", "Q5e"},
                                 {"care_leavers", "Q5s"},
                                 {"in_education_employment_training", "q1c2"},
                                 {"in_touch", "q1c2"},
                                 {"in_touch", "q2c"},
                                 {"suitable_accommodation", "q1c2"},
                                 {"with_contact", "q1c2"},
                                 {"with_contact", "q2c"},
                                 {"with_contact", "q5c"}}));
}

TEST_F(MetricPopulation, CriminalisationOc2CohortAreaRateAndRatio) {
  Fold(*store_, CriminalisationFeed());
  // Cohort: R1, R2, R7, R13 = 4 (R3 a day short, R4 a one-day gap, R5 V3, R6 aged 9, R14 not
  // looked after on 31 March).
  // Cohort with a formal outcome in the year: R1 (twice, one child) = 1 → 25.0 %.
  // Area children 10-17 with a formal outcome in the year: R1, R3, R4, R5, R8 = 5 (R9 informal,
  // R10/R11 outside the year, R12 aged 18) of 1000 = 0.5 %. Ratio 25.0 / 0.5 = 50.0.
  EXPECT_EQ(Report(*store_, Criminalisation2025()),
            (test::Figures{{"",
                            {{"oc2_cohort", "4"},
                             {"oc2_with_formal", "1"},
                             {"oc2_rate_pct", "25.0"},
                             {"area_with_formal", "5"},
                             {"area_population_10_17", "1000"},
                             {"area_rate_pct", "0.5"},
                             {"ratio", "50.0"}}}}));
}

// The mid-2024 estimate missing: the latest of the two years before stands in (2022 here);
// none at all: the area rate and the ratio are blank, the cohort figures stay.
TEST_F(MetricPopulation, CriminalisationPopulationFallsBackOrLeavesTheRateBlank) {
  Fold(*store_, CriminalisationFeed());
  MetricQuery q = Criminalisation2025();
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year == 2022) return AreaPopulation{2022, 500, 1200};
    return std::nullopt;
  };
  // 5 / 500 = 1.0 %; ratio 25.0 / 1.0 = 25.0.
  auto f = Report(*store_, q);
  EXPECT_EQ(f[""]["area_population_10_17"], "500");
  EXPECT_EQ(f[""]["area_rate_pct"], "1.0");
  EXPECT_EQ(f[""]["ratio"], "25.0");
  q.population = nullptr;
  EXPECT_EQ(Report(*store_, q), (test::Figures{{"",
                                                {{"oc2_cohort", "4"},
                                                 {"oc2_with_formal", "1"},
                                                 {"oc2_rate_pct", "25.0"},
                                                 {"area_with_formal", "5"},
                                                 {"area_population_10_17", ""},
                                                 {"area_rate_pct", ""},
                                                 {"ratio", ""}}}}));
}

TEST_F(MetricPopulation, CriminalisationLineageNamesTheEventsOfEachMeasure) {
  Fold(*store_, CriminalisationFeed());
  auto lineage = RunLineage(*store_, Criminalisation2025(), Cell{});
  ASSERT_TRUE(lineage.ok()) << lineage.status().ToString();
  // Per child: the registration, and for a formal outcome the offence's events (R1's first
  // formal outcome is the caution of r1-o1: the offence and its outcome). A child in the
  // cohort also by the care events that kept it looked after through the year: R13's two
  // periods that touch on 2024-09-01 (its end between them), each other child's one start.
  std::vector<std::pair<std::string, std::string>> expected = {
      {"area_with_formal", "R1.reg"},  {"area_with_formal", "R3.reg"},
      {"area_with_formal", "R4.reg"},  {"area_with_formal", "R5.reg"},
      {"area_with_formal", "R8.reg"},  {"area_with_formal", "r1.off1"},
      {"area_with_formal", "r1.out1"}, {"area_with_formal", "r3.out"},
      {"area_with_formal", "r4.out"},  {"area_with_formal", "r5.out"},
      {"area_with_formal", "r8.out"},  {"oc2_cohort", "R1.reg"},
      {"oc2_cohort", "R13.reg"},       {"oc2_cohort", "R2.reg"},
      {"oc2_cohort", "R7.reg"},        {"oc2_cohort", "r1.s"},
      {"oc2_cohort", "r13.e"},         {"oc2_cohort", "r13.s"},
      {"oc2_cohort", "r13.s2"},        {"oc2_cohort", "r2.s"},
      {"oc2_cohort", "r7.s"},          {"oc2_with_formal", "R1.reg"},
      {"oc2_with_formal", "r1.off1"},  {"oc2_with_formal", "r1.out1"},
      {"oc2_with_formal", "r1.s"}};
  EXPECT_EQ(Pairs(*lineage), expected);
}

TEST_F(MetricPopulation, YjsCaseloadOpenCasesWithClaAndCareLeavers) {
  Fold(*store_, CaseloadFeed());
  // 2025-06-01: court orders S1 (CLA), S2 (care leaver); S3 closed today; S4's oocd opened
  // today; S5 not yet.
  EXPECT_EQ(Report(*store_, At("yjs-caseload", Day(2025, 6, 1))),
            (test::Figures{{"court_order",
                            {{"open_cases", "2"},
                             {"cla", "1"},
                             {"cla_pct", "50.0"},
                             {"care_leavers", "1"},
                             {"care_leaver_pct", "50.0"}}},
                           {"oocd",
                            {{"open_cases", "1"},
                             {"cla", "0"},
                             {"cla_pct", "0.0"},
                             {"care_leavers", "0"},
                             {"care_leaver_pct", "0.0"}}}}));
  // 2025-05-31: court orders S1, S2, S3: 1/3 CLA, 1/3 care leavers.
  EXPECT_EQ(Report(*store_, At("yjs-caseload", Day(2025, 5, 31))),
            (test::Figures{{"court_order",
                            {{"open_cases", "3"},
                             {"cla", "1"},
                             {"cla_pct", "33.3"},
                             {"care_leavers", "1"},
                             {"care_leaver_pct", "33.3"}}}}));
  // 2024-06-01: S1's diversion case; S1 is looked after (S2 too, but has no case).
  EXPECT_EQ(Report(*store_, At("yjs-caseload", Day(2024, 6, 1))),
            (test::Figures{{"diversion",
                            {{"open_cases", "1"},
                             {"cla", "1"},
                             {"cla_pct", "100.0"},
                             {"care_leavers", "0"},
                             {"care_leaver_pct", "0.0"}}}}));
  auto lineage = RunLineage(*store_, At("yjs-caseload", Day(2025, 6, 1)),
                            Cell{{"intervention", "court_order"}});
  ASSERT_TRUE(lineage.ok()) << lineage.status().ToString();
  // Each case by its opening; the cla and care_leavers measures also by what put the child in
  // that cohort on the day: S1's care (s1.s), S2's registration (its age) and its care (s2.s,
  // s2.e).
  EXPECT_EQ(Pairs(*lineage),
            (std::vector<std::pair<std::string, std::string>>{{"care_leavers", "S2.reg"},
                                                              {"care_leavers", "s2.c2o"},
                                                              {"care_leavers", "s2.e"},
                                                              {"care_leavers", "s2.s"},
                                                              {"cla", "s1.c1o"},
                                                              {"cla", "s1.s"},
                                                              {"open_cases", "s1.c1o"},
                                                              {"open_cases", "s2.c2o"}}));
}

}  // namespace
}  // namespace careledger
