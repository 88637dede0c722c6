// Fixture tests for the offence, missing and call-out metrics (M3, M4, M6–M8, M10–M13) and the
// published rendering of a report. Every expected figure is worked out by hand from the dates
// in the fixture; the comment next to it gives the reasoning.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "careledger/reporting.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Day;
using test::Ev;
using test::Figures;
using test::Fold;
using test::Report;

std::string Registered(const std::string& id, const std::string& child, const std::string& dob,
                       const std::string& sex, const std::string& ethnicity,
                       const std::string& extra = "") {
  return Ev(
      id, "child.registered", child, "2020-01-01",
      R"("dob":")" + dob + R"(","sex":")" + sex + R"(","ethnicity":")" + ethnicity + "\"" + extra);
}

std::string CareStarted(const std::string& id, const std::string& child, const std::string& on,
                        const std::string& home) {
  return Ev(id, "care.period_started", child, on,
            R"("legal_status":"C2","placement":"U1","home_id":")" + home + "\"");
}

std::string CareEnded(const std::string& id, const std::string& child, const std::string& on) {
  return Ev(id, "care.period_ended", child, on, R"("reason":"E13")");
}

std::string OffenceRecorded(const std::string& id, const std::string& child,
                            const std::string& offence, const std::string& on,
                            const std::string& group, bool at_placement = false) {
  return Ev(id, "offence.recorded", child, on,
            R"("offence_id":")" + offence + R"(","offence_group":")" + group +
                R"(","at_placement":)" + (at_placement ? "true" : "false"));
}

// A police outcome with a disposal.
std::string Disposal(const std::string& id, const std::string& child, const std::string& offence,
                     const std::string& decided, const std::string& disposal) {
  return Ev(id, "outcome.recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

// A police outcome as a Home Office outcome code only.
std::string HomeOffice(const std::string& id, const std::string& child, const std::string& offence,
                       const std::string& decided, int code) {
  return Ev(id, "outcome.recorded", child, decided,
            R"("offence_id":")" + offence + R"(","home_office_outcome":)" + std::to_string(code) +
                R"(,"decided_at":")" + decided + "\"");
}

std::string Court(const std::string& id, const std::string& child, const std::string& offence,
                  const std::string& decided, const std::string& disposal) {
  return Ev(id, "court.outcome_recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

// An offence committed on `on` and given `disposal` on `decided`, as two events.
void OffenceWith(std::vector<std::string>& lines, const std::string& child,
                 const std::string& offence, const std::string& on, const std::string& decided,
                 const std::string& disposal, const std::string& group = "theft_handling") {
  lines.push_back(OffenceRecorded(offence + "-o", child, offence, on, group));
  lines.push_back(Disposal(offence + "-d", child, offence, decided, disposal));
}

std::string Reported(const std::string& id, const std::string& child, const std::string& at,
                     const std::string& episode, const std::string& from_home = "") {
  return Ev(id, "missing.reported", child, at,
            R"("episode_id":")" + episode +
                R"(","category":"missing","risk":"medium","reported_by":"police")" +
                (from_home.empty() ? "" : R"(,"from_home_id":")" + from_home + "\""));
}

std::string Returned(const std::string& id, const std::string& child, const std::string& at,
                     const std::string& episode) {
  return Ev(id, "missing.returned", child, at, R"("episode_id":")" + episode + "\"");
}

std::string Interview(const std::string& id, const std::string& child, const std::string& at,
                      const std::string& episode, bool offered, bool accepted, bool held) {
  return Ev(id, "missing.return_interview", child, at,
            R"("episode_id":")" + episode + R"(","offered":)" + (offered ? "true" : "false") +
                R"(,"accepted":)" + (accepted ? "true" : "false") +
                (held ? R"(,"held_at":")" + at + "\"" : ""));
}

std::string Callout(const std::string& id, const std::string& home, const std::string& on,
                    const std::string& reason) {
  return Ev(id, "placement.police_callout", "home-" + home, on,
            R"("home_id":")" + home + R"(","reason":")" + reason + "\"");
}

Instant At(int y, unsigned m, unsigned d) {
  return Instant{std::chrono::sys_days{Day(y, m, d)}};
}

MetricQuery Query(const std::string& metric, Date from, Date to, std::vector<std::string> by = {}) {
  MetricQuery q;
  q.metric = metric;
  q.period = {from, to};
  q.by = std::move(by);
  return q;
}

// A cell's lineage as "measure:event_id", in order.
std::vector<std::string> LineageOf(const EventStore& store, const MetricQuery& q,
                                   const Cell& cell) {
  auto lineage = RunLineage(store, q, cell);
  EXPECT_TRUE(lineage.ok()) << lineage.status().ToString();
  std::vector<std::string> got;
  if (!lineage.ok()) return got;
  for (const auto& e : *lineage) got.push_back(e.measure + ":" + e.event_id);
  return got;
}

class MetricsOffences : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = EventStore::Open({.path = dir_ / "s", .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  test::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

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

// ---- M7 ------------------------------------------------------------------------------------
// January 2025. Three CLA children: M1 at home H9, M2 and M3 at home H2.
//   e1 M1 01-31 22:00 → 02-01 04:00 (6 h, spans two months, still out when January ends);
//      interview held exactly 72 h after the return (counts). Offered, accepted.
//   e2 M1 01-05 10:00 → 12:00 (2 h); interview 72 h + 1 s after (does not count). Offered,
//      accepted.
//   e3 M1 01-10 00:00 → 01-11 00:00 (24 h); interview offered, refused, not held.
//   e4 M1 01-20 08:00, never returned: open at the end, no duration.
//   e5 M2 01-12 00:00 → 10:00 (10 h); interview not offered.
//   e6 M2 2024-12-31 20:00 → 01-01 02:00: reported in December, not a January episode.
//   e7 M3 01-15 00:00 → 01-16 06:00 (30 h).
//   e8 M3 01-25 00:00 → 04:00 (4 h), reported as missing from home H1.
std::vector<std::string> MissingFeed() {
  return {
      Registered("m1", "M1", "2010-03-01", "F", "WBRI"),
      CareStarted("m1c", "M1", "2024-01-01", "H9"),
      Registered("m2", "M2", "2011-03-01", "M", "WBRI"),
      CareStarted("m2c", "M2", "2024-01-01", "H2"),
      Registered("m3", "M3", "2009-03-01", "M", "WBRI"),
      CareStarted("m3c", "M3", "2024-01-01", "H2"),
      Reported("e1r", "M1", "2025-01-31T22:00:00Z", "e1"),
      Returned("e1b", "M1", "2025-02-01T04:00:00Z", "e1"),
      Interview("e1i", "M1", "2025-02-04T04:00:00Z", "e1", true, true, true),
      Reported("e2r", "M1", "2025-01-05T10:00:00Z", "e2"),
      Returned("e2b", "M1", "2025-01-05T12:00:00Z", "e2"),
      Interview("e2i", "M1", "2025-01-08T12:00:01Z", "e2", true, true, true),
      Reported("e3r", "M1", "2025-01-10T00:00:00Z", "e3"),
      Returned("e3b", "M1", "2025-01-11T00:00:00Z", "e3"),
      Interview("e3i", "M1", "2025-01-12T00:00:00Z", "e3", true, false, false),
      Reported("e4r", "M1", "2025-01-20T08:00:00Z", "e4"),
      Reported("e5r", "M2", "2025-01-12T00:00:00Z", "e5"),
      Returned("e5b", "M2", "2025-01-12T10:00:00Z", "e5"),
      Interview("e5i", "M2", "2025-01-13T00:00:00Z", "e5", false, false, false),
      Reported("e6r", "M2", "2024-12-31T20:00:00Z", "e6"),
      Returned("e6b", "M2", "2025-01-01T02:00:00Z", "e6"),
      Reported("e7r", "M3", "2025-01-15T00:00:00Z", "e7"),
      Returned("e7b", "M3", "2025-01-16T06:00:00Z", "e7"),
      Reported("e8r", "M3", "2025-01-25T00:00:00Z", "e8", "H1"),
      Returned("e8b", "M3", "2025-01-25T04:00:00Z", "e8"),
  };
}

TEST_F(MetricsOffences, MissingEpisodesInAMonth) {
  Fold(*store_, MissingFeed());
  // Episodes e1–e5, e7, e8 = 7 by 3 children (7/3 = 2.3 each); M1 has 4 → one child with 3+.
  // Returned: e1, e2, e3, e5, e7, e8 → hours 2, 4, 6, 10, 24, 30: median (6 + 10) / 2 = 8.0;
  // p90 nearest rank ceil(0.9 × 6) = 6th = 30.0. Open when January ends: e1 (back on
  // 02-01) and e4 = 2. Interviews: offered e1, e2, e3 = 3 of 6 returned = 50.0 %; accepted
  // e1, e2 = 2 of 3 offered = 66.7 %; held within 72 h: e1 only = 1 of 6 returned = 16.7 %.
  EXPECT_EQ(Report(*store_, Query("missing", Day(2025, 1, 1), Day(2025, 2, 1))),
            (Figures{{"cla",
                      {{"episodes", "7"},
                       {"children", "3"},
                       {"children_3_plus", "1"},
                       {"episodes_per_child", "2.3"},
                       {"median_hours", "8.0"},
                       {"p90_hours", "30.0"},
                       {"open_at_end", "2"},
                       {"interviews_offered_pct", "50.0"},
                       {"interviews_accepted_pct", "66.7"},
                       {"interviews_within_72h_pct", "16.7"}}}}));
  // Lineage of home H2: e5 (M2: report, return, the interview not offered) and e7 (M3: report,
  // return); e8 was reported missing from H1. H2 is each child's from its care start (m2c,
  // m3c).
  EXPECT_EQ(
      LineageOf(*store_, Query("missing", Day(2025, 1, 1), Day(2025, 2, 1), {"home_id"}),
                {{"home_id", "H2"}}),
      (std::vector<std::string>{"episodes:e5b", "episodes:e5i", "episodes:e5r", "episodes:e7b",
                                "episodes:e7r", "episodes:m2c", "episodes:m3c", "returned:e5b",
                                "returned:e7b", "returned:m2c", "returned:m3c"}));
}

TEST_F(MetricsOffences, MissingEpisodeCountsInTheMonthItWasReported) {
  Fold(*store_, MissingFeed());
  // February: e1 returned in it but was reported in January, so no episode; e4 is still open.
  auto feb = Report(*store_, Query("missing", Day(2025, 2, 1), Day(2025, 3, 1)));
  ASSERT_EQ(feb.size(), 1u);
  EXPECT_EQ(feb["cla"]["episodes"], "0");
  EXPECT_EQ(feb["cla"]["children"], "0");
  EXPECT_EQ(feb["cla"]["open_at_end"], "1");
  EXPECT_EQ(feb["cla"]["median_hours"], "");
}

// M7 is read from the episode rows ingest keeps: a return and an interview that arrive in
// later batches change the live figures, and as known at an earlier batch the figures are
// what that batch left.
TEST_F(MetricsOffences, MissingEpisodeRowsFollowLateReturnsAndInterviews) {
  std::vector<std::string> first{
      Registered("r1", "M1", "2010-03-01", "F", "WBRI"),
      CareStarted("c1", "M1", "2024-01-01", "H9"),
      Reported("e1r", "M1", "2025-01-10T10:00:00Z", "e1"),
  };
  Fold(*store_, first, At(2025, 1, 11));
  Fold(*store_, {Returned("e1b", "M1", "2025-01-10T22:00:00Z", "e1")}, At(2025, 1, 12));
  Fold(*store_, {Interview("e1i", "M1", "2025-01-11T09:00:00Z", "e1", true, true, true)},
       At(2025, 1, 13));
  // Back after 12 hours; interview offered, accepted and held 11 hours after the return.
  auto q = Query("missing", Day(2025, 1, 1), Day(2025, 2, 1));
  auto live = Report(*store_, q);
  EXPECT_EQ(live["cla"]["episodes"], "1");
  EXPECT_EQ(live["cla"]["open_at_end"], "0");
  EXPECT_EQ(live["cla"]["median_hours"], "12.0");
  EXPECT_EQ(live["cla"]["interviews_offered_pct"], "100.0");
  EXPECT_EQ(live["cla"]["interviews_accepted_pct"], "100.0");
  EXPECT_EQ(live["cla"]["interviews_within_72h_pct"], "100.0");
  // As known once the return was in: back, no interview yet.
  q.known_at = At(2025, 1, 12);
  auto returned = Report(*store_, q);
  EXPECT_EQ(returned["cla"]["median_hours"], "12.0");
  EXPECT_EQ(returned["cla"]["interviews_offered_pct"], "0.0");
  // As known after the first batch: still away at the end of January.
  q.known_at = At(2025, 1, 11);
  auto reported = Report(*store_, q);
  EXPECT_EQ(reported["cla"]["episodes"], "1");
  EXPECT_EQ(reported["cla"]["open_at_end"], "1");
  EXPECT_EQ(reported["cla"]["median_hours"], "");
  EXPECT_EQ(reported["cla"]["interviews_offered_pct"], "");
}

TEST_F(MetricsOffences, MissingByHomePutsTheHomesWithMostEpisodesFirst) {
  Fold(*store_, MissingFeed());
  // H9: e1–e4 = 4; H2: e5, e7 = 2; H1 (e8's from_home_id) = 1. Most first, not by name.
  auto table = RunMetric(*store_, Query("missing", Day(2025, 1, 1), Day(2025, 2, 1), {"home_id"}));
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->rows.size(), 3u);
  EXPECT_EQ(table->rows[0].groups, std::vector<std::string>{"H9"});
  EXPECT_EQ(table->rows[0].values[0].value, 4.0);
  EXPECT_EQ(table->rows[1].groups, std::vector<std::string>{"H2"});
  EXPECT_EQ(table->rows[1].values[0].value, 2.0);
  EXPECT_EQ(table->rows[2].groups, std::vector<std::string>{"H1"});
  EXPECT_EQ(table->rows[2].values[0].value, 1.0);
}

// Children whose ids are long and differ only in their last character are two children. 64
// four-byte characters meet the envelope's maxLength of 64 and are 256 bytes, which a one-byte
// length in the fact key wrapped to 0: every such child read as the same one.
TEST_F(MetricsOffences, LongChildIdsDifferingOnlyAtTheEndStayTwoChildren) {
  std::string grin;  // U+1F600, four bytes
  for (int i = 0; i < 63; ++i) grin += "\U0001F600";
  const std::string ids[] = {grin + "\U0001F600", grin + "\U0001F601",  // 256 bytes
                             grin + "\u20AC", grin + "\u20AD"};         // 255 bytes
  std::vector<std::string> lines;
  for (size_t i = 0; i < std::size(ids); ++i) {
    std::string n = std::to_string(i);
    lines.push_back(Registered("r" + n, ids[i], "2010-03-01", "F", "WBRI"));
    lines.push_back(CareStarted("c" + n, ids[i], "2024-01-01", "H9"));
    lines.push_back(Reported("m" + n, ids[i], "2025-01-05T10:00:00Z", "e" + n));
  }
  ASSERT_EQ(ids[0].size(), 256u);
  ASSERT_EQ(ids[2].size(), 255u);
  Fold(*store_, lines);
  // Four episodes by four children, one each.
  auto figures = Report(*store_, Query("missing", Day(2025, 1, 1), Day(2025, 2, 1)));
  EXPECT_EQ(figures["cla"]["episodes"], "4");
  EXPECT_EQ(figures["cla"]["children"], "4");
  std::vector<std::string> seen;
  ASSERT_TRUE(ForEachChild(*store_, std::nullopt, [&](const ChildView& child) {
                seen.emplace_back(child.child_id);
                EXPECT_EQ(child.missing.size(), 1u);
              }).ok());
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> want(std::begin(ids), std::end(ids));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want);
}

// Past what the envelope allows, the key functions still keep ids apart: facts put straight
// into the state for two 65,536-byte ids are read back as two children.
TEST_F(MetricsOffences, ChildIdsOf65536BytesStayTwoChildren) {
  std::string a(65536, 'c');
  std::string b = a;
  b.back() = 'd';
  // Through the fold, as ingest writes them (the parser would refuse such ids at the door).
  std::vector<Envelope> envelopes(2);
  std::vector<AcceptedEvent> accepted;
  auto batch = store_->NewBatch();
  for (size_t i = 0; i < 2; ++i) {
    Envelope& e = envelopes[i];
    e.child_id = i == 0 ? a : b;
    e.type = EventType::kMissingReported;
    e.event_id = "m" + std::string(1, e.child_id.back());
    e.occurred_at =
        Timestamp{Day(2025, 1, 5), Instant{std::chrono::sys_days{Day(2025, 1, 5)}}, false};
    e.data.episode_id = "e";
    accepted.push_back({&e, i, 0, Instant{}});
  }
  ASSERT_TRUE(Projector(*store_).Apply(accepted, batch).ok());
  ASSERT_TRUE(store_->Write(batch).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(ForEachChild(*store_, std::nullopt, [&](const ChildView& child) {
                seen.emplace_back(child.child_id);
              }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{a, b}));
}

// ---- M8 ------------------------------------------------------------------------------------
// The call-outs of K's home H1 and of H2 and H3 in December 2025 and December 2024 (and one on
// 30 November 2025). K is looked after at H1 from 2024-06-01.
std::vector<std::string> DecemberCallouts() {
  return {
      Registered("k0", "K", "2009-01-01", "M", "WBRI"),
      CareStarted("kc", "K", "2024-06-01", "H1"),
      OffenceRecorded("k1", "K", "ok1", "2025-12-10", "criminal_damage", true),
      OffenceRecorded("k2", "K", "ok2", "2025-12-12", "criminal_damage", false),
      OffenceRecorded("k3", "K", "ok3", "2024-12-05", "criminal_damage", true),
      Callout("h1a", "H1", "2025-12-03", "missing_report"),
      Callout("h1b", "H1", "2025-12-17", "missing_report"),
      Callout("h1c", "H1", "2025-12-05", "restraint"),
      Callout("h1d", "H1", "2025-12-20", "emergency"),
      Callout("h1e", "H1", "2025-11-30", "emergency"),
      Callout("h1f", "H1", "2024-12-02", "notifiable_incident"),
      Callout("h1g", "H1", "2024-12-28", "missing_report"),
      Callout("h2a", "H2", "2025-12-15", "notifiable_incident"),
      Callout("h2b", "H2", "2024-12-01", "notifiable_incident"),
      Callout("h2c", "H2", "2024-12-02", "notifiable_incident"),
      Callout("h2d", "H2", "2024-12-03", "notifiable_incident"),
      Callout("h2e", "H2", "2024-12-31", "notifiable_incident"),
      Callout("h3a", "H3", "2024-12-10", "missing_report"),
      Callout("h3b", "H3", "2024-12-11", "missing_report"),
  };
}

// December 2025 against December 2024. K is looked after at H1 from 2024-06-01.
//   H1 Dec 2025: missing reports 12-03 and 12-17, restraint 12-05, emergency 12-20, K's offence
//      at the placement 12-10 (K's offence of 12-12 elsewhere does not count) = 5.
//      Dec 2024: notifiable incident, missing report, K's offence at the placement = 3.
//      Change (5 - 3) / 3 = +66.7 %. (Its call-out of 2025-11-30 is outside the month.)
//   H2 Dec 2025: 1 notifiable incident; Dec 2024: 4 → (1 - 4) / 4 = -75.0 %.
//   H3 Dec 2025: nothing; Dec 2024: 2 missing reports → 0 against 2, -100.0 %: the home must
//      still have its December row, or the board never sees the fall.
TEST_F(MetricsOffences, CalloutsPerHomeAgainstTheSameMonthAYearEarlier) {
  std::vector<std::string> lines = DecemberCallouts();
  Fold(*store_, lines);
  auto row = [](std::string m, std::string n, std::string e, std::string r, std::string o,
                std::string total, std::string earlier, std::string change) {
    return std::map<std::string, std::string>{{"missing_reports", m},
                                              {"notifiable_incidents", n},
                                              {"emergencies", e},
                                              {"restraints", r},
                                              {"offences_at_placement", o},
                                              {"total", total},
                                              {"total_year_earlier", earlier},
                                              {"change_pct", change}};
  };
  EXPECT_EQ(Report(*store_, Query("callouts", Day(2025, 12, 1), Day(2026, 1, 1))),
            (Figures{{"H1|2025-12", row("2", "0", "1", "1", "1", "5", "3", "66.7")},
                     {"H2|2025-12", row("0", "1", "0", "0", "0", "1", "4", "-75.0")},
                     {"H3|2025-12", row("0", "0", "0", "0", "0", "0", "2", "-100.0")}}));
}

// A part month is counted for its days, never widened to the month: 3 to 16 December 2025
// (the period 2025-12-03..2025-12-17, its end excluded) against 3 to 16 December 2024, on the
// same feed.
//   H1: the missing report of 12-03, the restraint of 12-05 and K's offence at the placement
//      of 12-10 = 3 (12-17's missing report and 12-20's emergency are outside). A year earlier:
//      K's offence of 2024-12-05 = 1 (12-02 and 12-28 are outside) → +200.0 %.
//   H2: 12-15 = 1; a year earlier only 2024-12-03 of its four = 1 → 0.0 %.
//   H3: nothing; a year earlier 12-10 and 12-11 = 2 → -100.0 %.
// Widened to the whole month these would be 5 against 3, 1 against 4 and 0 against 2.
TEST_F(MetricsOffences, CalloutsOverPartOfAMonthCountTheDaysAskedAbout) {
  std::vector<std::string> lines = DecemberCallouts();
  Fold(*store_, lines);
  auto q = Query("callouts", Day(2025, 12, 3), Day(2025, 12, 17));
  EXPECT_EQ(Report(*store_, q), (Figures{{"H1|2025-12",
                                          {{"missing_reports", "1"},
                                           {"notifiable_incidents", "0"},
                                           {"emergencies", "0"},
                                           {"restraints", "1"},
                                           {"offences_at_placement", "1"},
                                           {"total", "3"},
                                           {"total_year_earlier", "1"},
                                           {"change_pct", "200.0"}}},
                                         {"H2|2025-12",
                                          {{"missing_reports", "0"},
                                           {"notifiable_incidents", "1"},
                                           {"emergencies", "0"},
                                           {"restraints", "0"},
                                           {"offences_at_placement", "0"},
                                           {"total", "1"},
                                           {"total_year_earlier", "1"},
                                           {"change_pct", "0.0"}}},
                                         {"H3|2025-12",
                                          {{"missing_reports", "0"},
                                           {"notifiable_incidents", "0"},
                                           {"emergencies", "0"},
                                           {"restraints", "0"},
                                           {"offences_at_placement", "0"},
                                           {"total", "0"},
                                           {"total_year_earlier", "2"},
                                           {"change_pct", "-100.0"}}}}));
  auto table = RunMetric(*store_, q);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_THAT(table->notes, ::testing::Contains(::testing::HasSubstr("part months")));
  // H1's row drilled into: each call-out under its measure, the three under the total, the
  // one a year earlier under that total, and all four under the change they make.
  auto lineage = RunLineage(*store_, q, Cell{{"home_id", "H1"}, {"month", "2025-12"}});
  ASSERT_TRUE(lineage.ok()) << lineage.status().ToString();
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& e : *lineage) pairs.emplace_back(e.measure, e.event_id);
  EXPECT_EQ(pairs,
            (std::vector<std::pair<std::string, std::string>>{{"change_pct", "h1a"},
                                                              {"change_pct", "h1c"},
                                                              {"change_pct", "k1"},
                                                              {"change_pct", "k3"},
                                                              {"missing_reports", "h1a"},
                                                              {"offences_at_placement", "k1"},
                                                              {"restraints", "h1c"},
                                                              {"total", "h1a"},
                                                              {"total", "h1c"},
                                                              {"total", "k1"},
                                                              {"total_year_earlier", "k3"}}));
}

// A period metric without --period covers the last 12 complete months: on 4 December 2026 the
// year from 1 December 2025 to 30 November 2026 (it covered 2026-01-01..2027-01-01, future days
// and a month still filling up included). December 2025's call-out counts; this month's not.
TEST_F(MetricsOffences, TheDefaultPeriodIsTheLastTwelveCompleteMonths) {
  Fold(*store_, {Callout("d1", "H1", "2025-11-30", "emergency"),
                 Callout("d2", "H1", "2025-12-01", "emergency"),
                 Callout("d3", "H1", "2026-11-30", "restraint"),
                 Callout("d4", "H1", "2026-12-02", "restraint")});
  MetricQuery q;
  q.metric = "callouts";
  q.today = Day(2026, 12, 4);
  auto table = RunMetric(*store_, q);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(
      table->selectors,
      (std::vector<std::pair<std::string, std::string>>{{"period", "2025-12-01..2026-12-01"}}));
  q.by = {"home_id"};
  EXPECT_EQ(Report(*store_, q)["H1"].at("total"), "2");
}

// The period forms a board paper uses: a financial year, a calendar quarter, the last complete
// quarter (on 4 December 2026: July to September 2026; on 15 February 2027: October to
// December 2026), beside FROM..TO; anything else is refused naming them.
TEST(MetricSelectors, PeriodsAsBoardPapersNameThem) {
  auto period = [](const std::string& text, Date today) -> std::string {
    MetricSelectorText selectors;
    selectors.metric = "outcomes";
    selectors.period = text;
    auto q = ParseMetricSelectors(selectors, {}, today);
    if (!q.ok()) return q.status().message();
    return FormatDate(q->period->first) + ".." + FormatDate(q->period->second);
  };
  const Date dec4 = Day(2026, 12, 4);
  EXPECT_EQ(period("2025-26", dec4), "2025-04-01..2026-04-01");
  EXPECT_EQ(period("1999-00", dec4), "1999-04-01..2000-04-01");
  EXPECT_EQ(period("2026Q3", dec4), "2026-07-01..2026-10-01");
  EXPECT_EQ(period("2026Q1", dec4), "2026-01-01..2026-04-01");
  EXPECT_EQ(period("2026Q4", dec4), "2026-10-01..2027-01-01");
  EXPECT_EQ(period("last-complete-quarter", dec4), "2026-07-01..2026-10-01");
  EXPECT_EQ(period("last-complete-quarter", Day(2027, 2, 15)), "2026-10-01..2027-01-01");
  EXPECT_EQ(period("2025-12-15..2025-12-16", dec4), "2025-12-15..2025-12-16");
  for (const char* bad : {"2025-27", "2026Q5", "2026Q0", "2025", "2024-01-01", "last-quarter"}) {
    EXPECT_EQ(period(bad, dec4),
              std::string("--period: not FROM..TO with ISO dates, a financial year (2025-26), a "
                          "quarter (2026Q3) or last-complete-quarter: ") +
                  bad);
  }
}

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
