// Fixture tests for the disproportionality metric (M12): against white children, by cohort
// against other children, who is counted at the start and in which group, and refusal without a
// reference group. Every expected figure is worked out by hand from the dates in the fixture.
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

// ---- M12 -----------------------------------------------------------------------------------
// 2025, children aged 10-17 on 2025-01-01, by ethnicity group against White.
// White (W1, W2 WOTH, W3, W4 = 4; W9 is 9 on 2025-01-01 and left out):
//   W1 youth caution (formal, first) → with outcome 1/4 = 25.0 %, formal 25.0 %, FTE 25.0 %;
//   informal 0 of 1 outcome = 0.0 %; W2 missing once → 25.0 %. RRIs 1.0, informal RRI
//   undefined (0/0).
// Black (B1 BCRB, B2 BAFR = 2):
//   B1 referral order (formal, first) and community resolution; B2 nfa → with an outcome
//   2/2 = 100.0 % (RRI 4.0); informal 2 of 3 outcomes = 66.7 % (RRI undefined: White's is 0);
//   formal 1/2 = 50.0 % (2.0); FTE 1/2 = 50.0 % (2.0); missing 0.0 % (RRI 0.0).
// 95 % intervals by the log method, exp(ln RRI ± 1.96 √(1/a − 1/n1 + 1/b − 1/n2)): outcome
//   2 of 2 against 1 of 4, √0.75 = 0.866 → 0.73 to 21.8; formal and FTE 1 of 2 against 1 of 4,
//   √1.25 = 1.118 → 0.22 to 17.9; none where either rate is 0, none for White itself.
TEST_F(MetricsOffences, DisproportionalityAgainstWhiteChildren) {
  std::vector<std::string> lines = {
      Registered("w1", "W1", "2010-01-01", "M", "WBRI"),
      Registered("w2", "W2", "2011-01-01", "M", "WOTH"),
      Registered("w3", "W3", "2012-05-05", "F", "WBRI"),
      Registered("w4", "W4", "2008-02-02", "F", "WBRI"),
      Registered("w9", "W9", "2015-06-01", "M", "WBRI"),
      Registered("b1", "B1", "2010-06-01", "M", "BCRB"),
      Registered("b2", "B2", "2009-09-09", "F", "BAFR"),
      Reported("w2m", "W2", "2025-04-01T10:00:00Z", "w2e"),
  };
  OffenceWith(lines, "W1", "w1a", "2025-02-01", "2025-03-01", "youth_caution");
  OffenceWith(lines, "W9", "w9a", "2025-07-01", "2025-08-01", "youth_caution");
  OffenceWith(lines, "B1", "b1a", "2025-04-01", "2025-05-01", "referral_order");
  OffenceWith(lines, "B1", "b1b", "2025-05-01", "2025-06-01", "community_resolution_police");
  OffenceWith(lines, "B2", "b2a", "2025-06-01", "2025-07-01", "nfa");
  Fold(*store_, lines);
  EXPECT_EQ(
      Report(*store_, Query("disproportionality", Day(2025, 1, 1), Day(2026, 1, 1))),
      (Figures{
          {"Black",
           {{"children_10_17", "2"},     {"outcome_rate_pct", "100.0"}, {"outcome_rri", "4.0"},
            {"outcome_rri_low", "0.7"},  {"outcome_rri_high", "21.8"},  {"informal_pct", "66.7"},
            {"informal_rri", ""},        {"informal_rri_low", ""},      {"informal_rri_high", ""},
            {"formal_rate_pct", "50.0"}, {"formal_rri", "2.0"},         {"formal_rri_low", "0.2"},
            {"formal_rri_high", "17.9"}, {"fte_rate_pct", "50.0"},      {"fte_rri", "2.0"},
            {"fte_rri_low", "0.2"},      {"fte_rri_high", "17.9"},      {"missing_rate_pct", "0.0"},
            {"missing_rri", "0.0"},      {"missing_rri_low", ""},       {"missing_rri_high", ""}}},
          {"White", {{"children_10_17", "4"},   {"outcome_rate_pct", "25.0"},
                     {"outcome_rri", "1.0"},    {"outcome_rri_low", ""},
                     {"outcome_rri_high", ""},  {"informal_pct", "0.0"},
                     {"informal_rri", ""},      {"informal_rri_low", ""},
                     {"informal_rri_high", ""}, {"formal_rate_pct", "25.0"},
                     {"formal_rri", "1.0"},     {"formal_rri_low", ""},
                     {"formal_rri_high", ""},   {"fte_rate_pct", "25.0"},
                     {"fte_rri", "1.0"},        {"fte_rri_low", ""},
                     {"fte_rri_high", ""},      {"missing_rate_pct", "25.0"},
                     {"missing_rri", "1.0"},    {"missing_rri_low", ""},
                     {"missing_rri_high", ""}}}}));
  // With the area's children aged 10-17 by ethnicity group in the settings (White 800, Black
  // 100), the rates divide by those: Black 2 of 100 = 2.0 % with an outcome, White 1 of 800 =
  // 0.1 %, an index of 16.0 (95 %: √(1/2 − 1/100 + 1/1 − 1/800) = 1.220 → 1.5 to 174.9).
  MetricQuery q = Query("disproportionality", Day(2025, 1, 1), Day(2026, 1, 1));
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year != 2025) return std::nullopt;
    AreaPopulation p{2025, 1000, 2000};
    p.aged_10_17_by_ethnicity_group = {{"White", 800}, {"Black", 100}};
    return p;
  };
  auto with_area = Report(*store_, q);
  EXPECT_EQ(with_area["Black"]["children_10_17"], "100");
  EXPECT_EQ(with_area["Black"]["outcome_rate_pct"], "2.0");
  EXPECT_EQ(with_area["White"]["children_10_17"], "800");
  EXPECT_EQ(with_area["White"]["outcome_rate_pct"], "0.1");
  EXPECT_EQ(with_area["Black"]["outcome_rri"], "16.0");
  EXPECT_EQ(with_area["Black"]["outcome_rri_low"], "1.5");
  EXPECT_EQ(with_area["Black"]["outcome_rri_high"], "174.9");
  EXPECT_EQ(with_area["Black"]["informal_pct"], "66.7") << "a share of outcomes, not of children";
}

// By cohort against other children, cohorts judged on 2025-01-01.
// cla (C1, C2 looked after since 2024): C1 youth caution → with outcome 1/2 = 50.0 %,
//   formal 50.0 %, FTE 50.0 %; informal 0 of 1 = 0.0 %.
// other (O1–O4): O1 nfa → with outcome 1/4 = 25.0 %; informal 1 of 1 = 100.0 %; formal and
//   FTE 0.0 %.
// RRI cla ÷ other: outcome 2.0 (95 % interval 1 of 2 against 1 of 4: 0.22 to 17.9), informal
// 0.0 (no interval: a rate of 0), formal and FTE undefined (other's rate is 0), missing
// undefined (0 / 0).
TEST_F(MetricsOffences, DisproportionalityByCohortAgainstOtherChildren) {
  std::vector<std::string> lines = {
      Registered("c1", "C1", "2010-01-01", "M", "WBRI"),
      CareStarted("c1c", "C1", "2024-01-01", "H1"),
      Registered("c2", "C2", "2011-01-01", "F", "WBRI"),
      CareStarted("c2c", "C2", "2024-06-01", "H1"),
      Registered("o1", "O1", "2010-01-01", "M", "WBRI"),
      Registered("o2", "O2", "2010-02-01", "M", "WBRI"),
      Registered("o3", "O3", "2010-03-01", "F", "WBRI"),
      Registered("o4", "O4", "2010-04-01", "F", "WBRI"),
  };
  OffenceWith(lines, "C1", "c1a", "2025-02-01", "2025-03-01", "youth_caution");
  OffenceWith(lines, "O1", "o1a", "2025-03-01", "2025-04-01", "nfa");
  Fold(*store_, lines);
  EXPECT_EQ(
      Report(*store_, Query("disproportionality", Day(2025, 1, 1), Day(2026, 1, 1), {"cohort"})),
      (Figures{{"cla",
                {
                    {"children_10_17", "2"},
                    {"outcome_rate_pct", "50.0"},
                    {"outcome_rri", "2.0"},
                    {"outcome_rri_low", "0.2"},
                    {"outcome_rri_high", "17.9"},
                    {"informal_pct", "0.0"},
                    {"informal_rri", "0.0"},
                    {"informal_rri_low", ""},
                    {"informal_rri_high", ""},
                    {"formal_rate_pct", "50.0"},
                    {"formal_rri", ""},
                    {"formal_rri_low", ""},
                    {"formal_rri_high", ""},
                    {"fte_rate_pct", "50.0"},
                    {"fte_rri", ""},
                    {"fte_rri_low", ""},
                    {"fte_rri_high", ""},
                    {"missing_rate_pct", "0.0"},
                    {"missing_rri", ""},
                    {"missing_rri_low", ""},
                    {"missing_rri_high", ""},
                }},
               {"other",
                {
                    {"children_10_17", "4"},   {"outcome_rate_pct", "25.0"},
                    {"outcome_rri", "1.0"},    {"outcome_rri_low", ""},
                    {"outcome_rri_high", ""},  {"informal_pct", "100.0"},
                    {"informal_rri", "1.0"},   {"informal_rri_low", ""},
                    {"informal_rri_high", ""}, {"formal_rate_pct", "0.0"},
                    {"formal_rri", ""},        {"formal_rri_low", ""},
                    {"formal_rri_high", ""},   {"fte_rate_pct", "0.0"},
                    {"fte_rri", ""},           {"fte_rri_low", ""},
                    {"fte_rri_high", ""},      {"missing_rate_pct", "0.0"},
                    {"missing_rri", ""},       {"missing_rri_low", ""},
                    {"missing_rri_high", ""},
                }}}));
  // With the area's population (1,000 aged 10-17 in 2025), other children are the area's less
  // the 2 looked after: 998, not the 4 the store knows. Their outcome rate 1/998 = 0.1 %; cla's
  // 50.0 % is 499.0 times it (95 % interval: √(1/1 − 1/2 + 1/1 − 1/998) = 1.224 → 45.3 to
  // 5,498.9); other's formal, FTE and missing rates 0 of 998.
  MetricQuery q = Query("disproportionality", Day(2025, 1, 1), Day(2026, 1, 1), {"cohort"});
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year == 2025) return AreaPopulation{2025, 1000, 2000};
    return std::nullopt;
  };
  auto with_area = Report(*store_, q);
  EXPECT_EQ(with_area["other"]["children_10_17"], "998");
  EXPECT_EQ(with_area["other"]["outcome_rate_pct"], "0.1");
  EXPECT_EQ(with_area["other"]["formal_rate_pct"], "0.0");
  EXPECT_EQ(with_area["other"]["informal_pct"], "100.0");
  EXPECT_EQ(with_area["cla"]["children_10_17"], "2");
  EXPECT_EQ(with_area["cla"]["outcome_rri"], "499.0");
  EXPECT_EQ(with_area["cla"]["outcome_rri_low"], "45.3");
  EXPECT_EQ(with_area["cla"]["outcome_rri_high"], "5498.9");
  EXPECT_EQ(with_area["cla"]["informal_rri"], "0.0");
}

// Children count in a denominator by their age and group on the period's first day, and an
// outcome or missing episode counts in the group of its offence or report (as M3 and M7 count
// them), for those children only. 2025, by cohort:
//   C3 (13 on 2025-01-01, other) comes into care on 2025-03-01 and offends in care: its youth
//      caution (formal, first) counts for cla, whose denominator is empty; C3 is one of the other
//      children aged 10-17.
//   O5 is 9 on 2025-01-01: its referral order at 10 counts nowhere.
//   O6 is 17 on 2025-01-01: its nfa at 18 counts for other (informal).
//   L1 (16, looked after from 2024-01-01 to 2024-12-01, after its 16th birthday) is a care
//      leaver on 2025-01-01 and goes missing on 2025-02-01.
// care_leaver: 1 child; missing 1/1 = 100.0 %, no outcome (0.0 %, RRI 0.0 against other's 50.0).
// cla: no child; one outcome, not informal (0.0 %, RRI 0.0 against other's 100.0).
// other: 2 children (C3, O6); outcome 1/2 = 50.0 %; informal 1 of 1 = 100.0 %; no formal, FTE
//   or missing (0.0 %).
TEST_F(MetricsOffences, DisproportionalityCountsChildrenAtTheStartAndOutcomesInTheirGroup) {
  std::vector<std::string> lines = {
      Registered("c3", "C3", "2011-03-01", "F", "WBRI"),
      CareStarted("c3c", "C3", "2025-03-01", "H1"),
      Registered("o5", "O5", "2015-06-01", "M", "WBRI"),
      Registered("o6", "O6", "2007-03-01", "M", "WBRI"),
      Registered("l1", "L1", "2008-06-01", "M", "WBRI"),
      CareStarted("l1c", "L1", "2024-01-01", "H1"),
      CareEnded("l1e", "L1", "2024-12-01"),
      Reported("l1m", "L1", "2025-02-01T10:00:00Z", "l1x"),
  };
  OffenceWith(lines, "C3", "c3a", "2025-06-01", "2025-07-01", "youth_caution");
  OffenceWith(lines, "O5", "o5a", "2025-07-01", "2025-08-01", "referral_order");
  OffenceWith(lines, "O6", "o6a", "2025-04-01", "2025-05-01", "nfa");
  Fold(*store_, lines);
  auto live = Query("disproportionality", Day(2025, 1, 1), Day(2026, 1, 1), {"cohort"});
  auto folded = live;
  folded.fold = true;
  const auto figures = Report(*store_, live);
  EXPECT_EQ(figures, Report(*store_, folded));
  EXPECT_EQ(
      figures,
      (Figures{
          {"care_leaver",
           {{"children_10_17", "1"},    {"outcome_rate_pct", "0.0"}, {"outcome_rri", "0.0"},
            {"outcome_rri_low", ""},    {"outcome_rri_high", ""},    {"informal_pct", ""},
            {"informal_rri", ""},       {"informal_rri_low", ""},    {"informal_rri_high", ""},
            {"formal_rate_pct", "0.0"}, {"formal_rri", ""},          {"formal_rri_low", ""},
            {"formal_rri_high", ""},    {"fte_rate_pct", "0.0"},     {"fte_rri", ""},
            {"fte_rri_low", ""},        {"fte_rri_high", ""},        {"missing_rate_pct", "100.0"},
            {"missing_rri", ""},        {"missing_rri_low", ""},     {"missing_rri_high", ""}}},
          {"cla", {{"children_10_17", "0"}, {"outcome_rate_pct", ""}, {"outcome_rri", ""},
                   {"outcome_rri_low", ""}, {"outcome_rri_high", ""}, {"informal_pct", "0.0"},
                   {"informal_rri", "0.0"}, {"informal_rri_low", ""}, {"informal_rri_high", ""},
                   {"formal_rate_pct", ""}, {"formal_rri", ""},       {"formal_rri_low", ""},
                   {"formal_rri_high", ""}, {"fte_rate_pct", ""},     {"fte_rri", ""},
                   {"fte_rri_low", ""},     {"fte_rri_high", ""},     {"missing_rate_pct", ""},
                   {"missing_rri", ""},     {"missing_rri_low", ""},  {"missing_rri_high", ""}}},
          {"other",
           {{"children_10_17", "2"},    {"outcome_rate_pct", "50.0"}, {"outcome_rri", "1.0"},
            {"outcome_rri_low", ""},    {"outcome_rri_high", ""},     {"informal_pct", "100.0"},
            {"informal_rri", "1.0"},    {"informal_rri_low", ""},     {"informal_rri_high", ""},
            {"formal_rate_pct", "0.0"}, {"formal_rri", ""},           {"formal_rri_low", ""},
            {"formal_rri_high", ""},    {"fte_rate_pct", "0.0"},      {"fte_rri", ""},
            {"fte_rri_low", ""},        {"fte_rri_high", ""},         {"missing_rate_pct", "0.0"},
            {"missing_rri", ""},        {"missing_rri_low", ""},      {"missing_rri_high", ""}}}}));
  // Lineage: the registrations of the children counted, and the events of what they did.
  auto lineage_of = [&](const MetricQuery& q) {
    return LineageOf(*store_, q, Cell{{"cohort", "other"}});
  };
  EXPECT_EQ(lineage_of(live), (std::vector<std::string>{
                                  "children_10_17:c3", "children_10_17:o6", "informal_outcomes:o6",
                                  "informal_outcomes:o6a-d", "informal_outcomes:o6a-o",
                                  "outcomes:o6", "outcomes:o6a-d", "outcomes:o6a-o"}));
  EXPECT_EQ(lineage_of(live), lineage_of(folded));
}

// A breakdown without a reference group is refused (it gave every relative rate index as "-"
// and a note "against ethnicity = F").
TEST_F(MetricsOffences, DisproportionalityWithoutAReferenceGroupIsRefused) {
  for (const char* by : {"ethnicity", "placement"}) {
    auto table =
        RunMetric(*store_, Query("disproportionality", Day(2025, 1, 1), Day(2026, 1, 1), {by}));
    ASSERT_FALSE(table.ok()) << by;
    EXPECT_EQ(table.status().error_class(), ErrorClass::kBadInput);
    EXPECT_EQ(table.status().message(),
              std::string("disproportionality has no reference group for --by ") + by +
                  ": --by ethnicity_group (against White), sex (against F) or cohort (against "
                  "other)");
  }
}

}  // namespace
}  // namespace careledger
