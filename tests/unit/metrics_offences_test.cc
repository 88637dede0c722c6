// Fixture tests for the offence outcome metrics (M3, M4: outcomes by cohort, tier, disposal and
// offence group, informal share), the lineage of their rows and first-time entrants (M6). Every
// expected figure is worked out by hand from the dates in the fixture; the comment next to it
// gives the reasoning.
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

// ---- M3 / M4 -------------------------------------------------------------------------------
// Period P = [2025-04-01, 2026-04-01).
// A (CLA at home H1 from 2024-01-01 throughout):
//   oA1 violence, at the placement, 2025-05-10: HO 2 (youth caution) on 2025-06-01, corrected
//       (supersedes, ingested later) to nfa on the same day → no_sanction, at_placement.
//   oA2 theft 2025-07-01: HO 1 (charged) 2025-07-05, court referral order 2025-09-15 →
//       first_tier, decided on the court's date.
//   oA3 criminal damage 2025-08-01: HO 22 2025-08-20 → outcome_22, informal.
//   oA4 drugs 2025-10-01, youth caution 2025-10-10, then the offence is retracted → gone.
// B (born 2007-03-01; CLA 2023-01-01 to 2025-06-30, then a care leaver: 18, 13+ weeks looked
//   after since the 14th birthday, some after the 16th):
//   oB1 public order 2025-06-15 (CLA that day), HO 8 2025-07-20 (a care leaver that day) →
//       community_resolution_police, informal, counted as CLA (judged at the offence date).
//   oB2 burglary 2025-09-01 (care leaver), court YRO 2025-11-01 → community.
// C (never in care → other):
//   oC1 robbery 2025-05-01, court DTO 2025-12-01 → custody.
//   oC2 nfa decided 2025-03-15 (before P), oC3 HO 22 decided 2026-04-01 (P ends the day
//   before), oC4 HO 1 2025-10-01 with no court decision yet: none of them counted.
std::vector<std::string> OutcomeFeed() {
  return {
      Registered("a0", "A", "2009-06-01", "M", "WBRI"),
      CareStarted("a00", "A", "2024-01-01", "H1"),
      OffenceRecorded("a1o", "A", "oA1", "2025-05-10", "violence_against_person", true),
      HomeOffice("a1r", "A", "oA1", "2025-06-01", 2),
      OffenceRecorded("a2o", "A", "oA2", "2025-07-01", "theft_handling"),
      HomeOffice("a2r", "A", "oA2", "2025-07-05", 1),
      Court("a2c", "A", "oA2", "2025-09-15", "referral_order"),
      OffenceRecorded("a3o", "A", "oA3", "2025-08-01", "criminal_damage"),
      HomeOffice("a3r", "A", "oA3", "2025-08-20", 22),
      OffenceRecorded("a4o", "A", "oA4", "2025-10-01", "drugs"),
      Disposal("a4r", "A", "oA4", "2025-10-10", "youth_caution"),
      Ev("a4x", "event.retracted", "A", "2025-10-20",
         R"("target_event_id":"a4o","reason":"recorded_in_error")"),
      Registered("b0", "B", "2007-03-01", "F", "BCRB"),
      CareStarted("b00", "B", "2023-01-01", "H2"),
      CareEnded("b01", "B", "2025-06-30"),
      OffenceRecorded("b1o", "B", "oB1", "2025-06-15", "public_order"),
      HomeOffice("b1r", "B", "oB1", "2025-07-20", 8),
      OffenceRecorded("b2o", "B", "oB2", "2025-09-01", "burglary"),
      Court("b2c", "B", "oB2", "2025-11-01", "youth_rehabilitation_order"),
      Registered("c0", "C", "2010-01-15", "M", "WBRI"),
      OffenceRecorded("c1o", "C", "oC1", "2025-05-01", "robbery"),
      Court("c1c", "C", "oC1", "2025-12-01", "detention_training_order"),
      OffenceRecorded("c2o", "C", "oC2", "2025-02-01", "motoring"),
      Disposal("c2r", "C", "oC2", "2025-03-15", "nfa"),
      OffenceRecorded("c3o", "C", "oC3", "2026-03-01", "theft_handling"),
      HomeOffice("c3r", "C", "oC3", "2026-04-01", 22),
      OffenceRecorded("c4o", "C", "oC4", "2025-09-20", "drugs"),
      HomeOffice("c4r", "C", "oC4", "2025-10-01", 1),
  };
}

// The correction of oA1's youth caution to nfa, recorded nine days after it.
std::string OutcomeCorrection() {
  return Ev("a1c", "outcome.recorded", "A", "2025-06-01",
            R"("offence_id":"oA1","disposal":"nfa","decided_at":"2025-06-01")",
            "2025-06-10T09:00:00Z", "a1r");
}

class MetricsOutcomes : public MetricsOffences {
 protected:
  void SetUp() override {
    MetricsOffences::SetUp();
    Fold(*store_, OutcomeFeed(), At(2026, 1, 1));
    Fold(*store_, {OutcomeCorrection()}, At(2026, 2, 1));
  }
  Date from_ = Day(2025, 4, 1), to_ = Day(2026, 4, 1);
};

TEST_F(MetricsOutcomes, ByCohortAndTierJudgesTheCohortAtTheOffenceDate) {
  // Default --by cohort,tier. CLA: oA1 no_sanction (at the placement), oA2 first_tier, oA3 and
  // oB1 informal. Care leaver: oB2 community. Other: oC1 custody. oA4 (retracted) is nowhere.
  EXPECT_EQ(Report(*store_, Query("outcomes", from_, to_)),
            (Figures{{"cla|first_tier", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"cla|informal", {{"offences", "2"}, {"at_placement", "0"}}},
                     {"cla|no_sanction", {{"offences", "1"}, {"at_placement", "1"}}},
                     {"care_leaver|community", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"other|custody", {{"offences", "1"}, {"at_placement", "0"}}}}));
}

TEST_F(MetricsOutcomes, ACorrectionMovesTheOutcomeFromFormalToNoSanctionOnceKnown) {
  // Known at 2026-01-15 (before the correction arrived on 2026-02-01) oA1 is still a youth
  // caution: out_of_court_formal, at the placement.
  MetricQuery q = Query("outcomes", from_, to_, {"tier"});
  q.known_at = At(2026, 1, 15);
  EXPECT_EQ(Report(*store_, q),
            (Figures{{"community", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"custody", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"first_tier", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"informal", {{"offences", "2"}, {"at_placement", "0"}}},
                     {"out_of_court_formal", {{"offences", "1"}, {"at_placement", "1"}}}}));
  q.known_at.reset();
  EXPECT_EQ(Report(*store_, q),
            (Figures{{"community", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"custody", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"first_tier", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"informal", {{"offences", "2"}, {"at_placement", "0"}}},
                     {"no_sanction", {{"offences", "1"}, {"at_placement", "1"}}}}));
}

TEST_F(MetricsOutcomes, ByDisposalMapsHomeOfficeCodes) {
  // HO 22 → outcome_22, HO 8 → community_resolution_police; HO 1 is replaced by the court's
  // referral order; the retracted youth caution and the waiting HO 1 (oC4) are absent.
  EXPECT_EQ(Report(*store_, Query("outcomes", from_, to_, {"disposal"})),
            (Figures{{"community_resolution_police", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"detention_training_order", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"nfa", {{"offences", "1"}, {"at_placement", "1"}}},
                     {"outcome_22", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"referral_order", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"youth_rehabilitation_order", {{"offences", "1"}, {"at_placement", "0"}}}}));
}

TEST_F(MetricsOutcomes, ByOffenceGroupAndTheCrossTableWithDisposal) {
  EXPECT_EQ(Report(*store_, Query("outcomes", from_, to_, {"offence_group"})),
            (Figures{{"burglary", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"criminal_damage", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"public_order", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"robbery", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"theft_handling", {{"offences", "1"}, {"at_placement", "0"}}},
                     {"violence_against_person", {{"offences", "1"}, {"at_placement", "1"}}}}));
  EXPECT_EQ(
      Report(*store_, Query("outcomes", from_, to_, {"offence_group", "disposal"})),
      (Figures{
          {"burglary|youth_rehabilitation_order", {{"offences", "1"}, {"at_placement", "0"}}},
          {"criminal_damage|outcome_22", {{"offences", "1"}, {"at_placement", "0"}}},
          {"public_order|community_resolution_police", {{"offences", "1"}, {"at_placement", "0"}}},
          {"robbery|detention_training_order", {{"offences", "1"}, {"at_placement", "0"}}},
          {"theft_handling|referral_order", {{"offences", "1"}, {"at_placement", "0"}}},
          {"violence_against_person|nfa", {{"offences", "1"}, {"at_placement", "1"}}}}));
}

TEST_F(MetricsOutcomes, AtPlacementIsShownSeparately) {
  // Only oA1 happened at the placement; the other five did not.
  EXPECT_EQ(Report(*store_, Query("outcomes", from_, to_, {"at_placement"})),
            (Figures{{"no", {{"offences", "5"}, {"at_placement", "0"}}},
                     {"yes", {{"offences", "1"}, {"at_placement", "1"}}}}));
}

TEST_F(MetricsOutcomes, ACourtDisposalAfterAChargeIsDecidedOnTheCourtDate) {
  // July 2025 holds oA2's HO 1 (07-05) but its disposal came from the court in September; the
  // only outcome decided in July is oB1 (07-20).
  EXPECT_EQ(Report(*store_, Query("outcomes", Day(2025, 7, 1), Day(2025, 8, 1), {"disposal"})),
            (Figures{{"community_resolution_police", {{"offences", "1"}, {"at_placement", "0"}}}}));
  // September: the referral order (09-15). oC4's HO 1 on 2025-10-01 waits for a court.
  EXPECT_EQ(Report(*store_, Query("outcomes", Day(2025, 9, 1), Day(2025, 11, 1), {"disposal"})),
            (Figures{{"referral_order", {{"offences", "1"}, {"at_placement", "0"}}}}));
}

TEST_F(MetricsOutcomes, LineageOfACellNamesTheCorrectionNotWhatItReplaced) {
  // cla|no_sanction is oA1: A's registration, the offence record and the correction (a1c);
  // the youth caution it superseded (a1r) no longer makes up any figure. A is in the cla
  // cohort on the offence date by the care that started with a00.
  EXPECT_EQ(LineageOf(*store_, Query("outcomes", from_, to_),
                      Cell{{"cohort", "cla"}, {"tier", "no_sanction"}}),
            (std::vector<std::string>{"at_placement:a0", "at_placement:a00", "at_placement:a1c",
                                      "at_placement:a1o", "offences:a0", "offences:a00",
                                      "offences:a1c", "offences:a1o"}));
}

// A row's lineage names the events that set the dimensions it is counted by, as its child
// stood on the day it was judged (the offence date), not just the row's own events.
// P: registered (p0); care from 2024-01-01 on C2 in U1 (p1); moved to U4 on 2024-03-01 (p1b,
// learned a month after the rest); C1 from 2024-06-01 (p2); moved to K2 on 2025-02-01 (p3);
// assessed at high CCE risk on 2024-08-01 (p5). Theft on 2024-09-01 (p4o), youth caution on
// 2024-10-01 (p4d). On 2024-09-01 P is in the stretch p2..p3, in the care that p1 started; U4
// was set by p1b, C1 by p2.
TEST_F(MetricsOffences, LineageNamesTheEventsThatSetARowsDimensions) {
  auto care = [](const std::string& id, const std::string& type, const std::string& on,
                 const std::string& data) { return Ev(id, "care." + type, "P", on, data); };
  Fold(*store_,
       {Registered("p0", "P", "2009-06-01", "M", "WBRI"),
        care("p1", "period_started", "2024-01-01",
             R"("legal_status":"C2","placement":"U1","home_id":"H1")"),
        care("p2", "legal_status_changed", "2024-06-01", R"("legal_status":"C1")"),
        care("p3", "placement_changed", "2025-02-01", R"("placement":"K2","home_id":"H2")"),
        Ev("p5", "child.exploitation_risk_assessed", "P", "2024-08-01",
           R"("kind":"CCE","level":"high")"),
        OffenceRecorded("p4o", "P", "oP", "2024-09-01", "theft_handling"),
        Disposal("p4d", "P", "oP", "2024-10-01", "youth_caution")},
       At(2026, 1, 1));
  Fold(*store_,
       {care("p1b", "placement_changed", "2024-03-01", R"("placement":"U4","home_id":"H1")")},
       At(2026, 2, 1));
  auto lineage_of = [&](std::vector<std::string> by, const Cell& cell,
                        std::optional<Instant> known_at = std::nullopt,
                        const std::string& metric = "outcomes") {
    auto q = Query(metric, Day(2024, 4, 1), Day(2025, 4, 1), std::move(by));
    q.known_at = known_at;
    return LineageOf(*store_, q, cell);
  };
  // The row's own events (p0, p4o, p4d), its stretch (p2, p3), the start of the care (p1) and
  // the move to U4 (p1b).
  EXPECT_EQ(lineage_of({"placement"}, {{"placement", "U4"}}),
            (std::vector<std::string>{"offences:p0", "offences:p1", "offences:p1b", "offences:p2",
                                      "offences:p3", "offences:p4d", "offences:p4o"}));
  // C1 was set by p2, which starts the stretch: the move to U4 has nothing to do with it.
  EXPECT_EQ(lineage_of({"legal_status"}, {{"legal_status", "C1"}}),
            (std::vector<std::string>{"offences:p0", "offences:p1", "offences:p2", "offences:p3",
                                      "offences:p4d", "offences:p4o"}));
  // The risk (which the exploitation metric breaks down by) by the assessment.
  EXPECT_EQ(
      lineage_of({"exploitation_risk"}, {{"exploitation_risk", "medium_or_high"}}, std::nullopt,
                 "exploitation"),
      (std::vector<std::string>{"offences:p0", "offences:p4d", "offences:p4o", "offences:p5"}));
  // Sex by the registration, which the row names already.
  EXPECT_EQ(lineage_of({"sex"}, {{"sex", "M"}}),
            (std::vector<std::string>{"offences:p0", "offences:p4d", "offences:p4o"}));
  // As known before the move to U4 arrived, P was in U1 on the offence date, from p1.
  EXPECT_EQ(lineage_of({"placement"}, {{"placement", "U1"}}, At(2026, 1, 15)),
            (std::vector<std::string>{"offences:p0", "offences:p1", "offences:p2", "offences:p3",
                                      "offences:p4d", "offences:p4o"}));
}

TEST_F(MetricsOutcomes, InformalShareByCohort) {
  // CLA: oA1 nfa, oA3 outcome_22, oB1 community resolution informal of 4 (oA2 is first tier)
  // = 3/4 = 75.0 %. Care leaver: oB2 community 0/1. Other: oC1 custody 0/1.
  EXPECT_EQ(
      Report(*store_, Query("informal-share", from_, to_)),
      (Figures{
          {"cla", {{"offences", "4"}, {"no_sanction_or_informal", "3"}, {"informal_pct", "75.0"}}},
          {"care_leaver",
           {{"offences", "1"}, {"no_sanction_or_informal", "0"}, {"informal_pct", "0.0"}}},
          {"other",
           {{"offences", "1"}, {"no_sanction_or_informal", "0"}, {"informal_pct", "0.0"}}}}));
  // Lineage of care_leaver: oB2 (registration, record, court outcome), and what made B a care
  // leaver on the offence date: its age (the registration) and its care since the 14th birthday
  // (b00 to b01).
  EXPECT_EQ(LineageOf(*store_, Query("informal-share", from_, to_), {{"cohort", "care_leaver"}}),
            (std::vector<std::string>{"offences:b0", "offences:b00", "offences:b01", "offences:b2c",
                                      "offences:b2o"}));
}

// ---- M6 ------------------------------------------------------------------------------------
// Period [2025-04-01, 2026-04-01): its middle day, 2025-09-30, picks the 2025 population,
// 20,000 aged 10-17.
TEST_F(MetricsOffences, FirstTimeEntrants) {
  std::vector<std::string> lines = {
      // F1, CLA: nfa 2024-12-01 is not formal; youth caution 2025-06-01 is the first formal,
      // aged 15 (born 2010-05-10). FTE, cla.
      Registered("f1", "F1", "2010-05-10", "M", "WBRI"),
      CareStarted("f1c", "F1", "2024-01-01", "H1"),
      // F2: referral order 2024-11-01 came first → not a first-time entrant in P.
      Registered("f2", "F2", "2008-08-20", "M", "WBRI"),
      // F3: two formal outcomes before the feed began → excluded.
      Registered("f3", "F3", "2011-02-01", "M", "WBRI", R"(,"prior_formal_outcomes":2)"),
      // F4: born 2015-09-01, youth conditional caution 2025-10-01 aged 10 → FTE, other.
      Registered("f4", "F4", "2015-09-01", "F", "WBRI"),
      // F5: born 2007-11-30, youth caution on the 18th birthday → too old, excluded.
      Registered("f5", "F5", "2007-11-30", "M", "WBRI"),
      // F6: born 2008-01-10, absolute discharge (a conviction: formal) 2025-12-15 aged 17.
      Registered("f6", "F6", "2008-01-10", "M", "WBRI"),
      // F7: community resolution only: informal, never an entrant.
      Registered("f7", "F7", "2012-01-01", "M", "WBRI"),
      // F8: prior 0 given explicitly; caution decided 2026-04-01, after P.
      Registered("f8", "F8", "2011-06-01", "M", "WBRI", R"(,"prior_formal_outcomes":0)"),
  };
  OffenceWith(lines, "F1", "f1a", "2024-11-01", "2024-12-01", "nfa");
  OffenceWith(lines, "F1", "f1b", "2025-05-01", "2025-06-01", "youth_caution");
  OffenceWith(lines, "F2", "f2a", "2024-10-01", "2024-11-01", "referral_order");
  OffenceWith(lines, "F2", "f2b", "2025-04-10", "2025-05-01", "youth_caution");
  OffenceWith(lines, "F3", "f3a", "2025-06-01", "2025-07-01", "youth_caution");
  OffenceWith(lines, "F4", "f4a", "2025-09-15", "2025-10-01", "youth_conditional_caution");
  OffenceWith(lines, "F5", "f5a", "2025-11-01", "2025-11-30", "youth_caution");
  OffenceWith(lines, "F6", "f6a", "2025-12-01", "2025-12-15", "absolute_discharge");
  OffenceWith(lines, "F7", "f7a", "2025-05-01", "2025-06-01", "community_resolution_police");
  OffenceWith(lines, "F8", "f8a", "2026-03-01", "2026-04-01", "youth_caution");
  Fold(*store_, lines);
  MetricQuery q = Query("fte", Day(2025, 4, 1), Day(2026, 4, 1));
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year == 2025) return AreaPopulation{2025, 20000, 40000};
    return std::nullopt;
  };
  // Each cohort's rate divides by its own population aged 10-17 on 2025-04-01, as OC2 does:
  // cla: F1 → 1 of the 1 child looked after then (F1, 14) → 100,000.0, average age 15.
  // other: F4 (10) and F6 (17) → 2 of the area's 20,000 less that child: 2 / 19,999 × 100,000
  // = 10.0, (10 + 17) / 2 = 13.5.
  EXPECT_EQ(
      Report(*store_, q),
      (Figures{
          {"cla", {{"fte", "1"}, {"rate_per_100k_10_17", "100000.0"}, {"average_age", "15.0"}}},
          {"other", {{"fte", "2"}, {"rate_per_100k_10_17", "10.0"}, {"average_age", "13.5"}}}}));
  // Lineage of cla: F1's first formal outcome and registration, and its care start (f1c), for
  // the entrant and for the cohort's child aged 10-17 on 2025-04-01.
  EXPECT_EQ(LineageOf(*store_, q, {{"cohort", "cla"}}),
            (std::vector<std::string>{"children_10_17:f1", "children_10_17:f1c", "fte:f1",
                                      "fte:f1b-d", "fte:f1b-o", "fte:f1c"}));
  // By sex and by age band, the area's children aged 10-17 in the group, from the settings:
  // F: F4 → 1 / 9,800 × 100,000 = 10.2; M: F1 and F6 → 2 / 10,200 × 100,000 = 19.6. By age
  // band (on the decision date): 10-13 F4 → 1 / 10,000 = 10.0; 14-15 F1, which the settings
  // lack → no rate; 16-17 F6 → 1 / 5,000 = 20.0.
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year != 2025) return std::nullopt;
    AreaPopulation p{2025, 20000, 40000};
    p.aged_10_17_by_sex = {{"F", 9800}, {"M", 10200}};
    p.aged_10_17_by_age_band = {{"10-13", 10000}, {"16-17", 5000}};
    return p;
  };
  q.by = {"sex"};
  EXPECT_EQ(
      Report(*store_, q),
      (Figures{{"F", {{"fte", "1"}, {"rate_per_100k_10_17", "10.2"}, {"average_age", "10.0"}}},
               {"M", {{"fte", "2"}, {"rate_per_100k_10_17", "19.6"}, {"average_age", "16.0"}}}}));
  q.by = {"age_band"};
  EXPECT_EQ(
      Report(*store_, q),
      (Figures{
          {"10-13", {{"fte", "1"}, {"rate_per_100k_10_17", "10.0"}, {"average_age", "10.0"}}},
          {"14-15", {{"fte", "1"}, {"rate_per_100k_10_17", ""}, {"average_age", "15.0"}}},
          {"16-17", {{"fte", "1"}, {"rate_per_100k_10_17", "20.0"}, {"average_age", "17.0"}}}}));
  // Without the breakdown in the settings, no rate, and a note saying what would give one.
  q.by = {"ethnicity_group"};
  auto table = RunMetric(*store_, q);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_THAT(table->notes, ::testing::Contains(::testing::HasSubstr("aged_10_17_by_age_band")));
  EXPECT_EQ(
      Report(*store_, q),
      (Figures{{"White", {{"fte", "3"}, {"rate_per_100k_10_17", ""}, {"average_age", "14.0"}}}}));
}

}  // namespace
}  // namespace careledger
