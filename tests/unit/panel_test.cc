// The out-of-court panel's worklist (docs/metrics.md, "The panel worklist"): which offences wait
// for a decision, how long, and how each is described, counted by hand from the events below;
// the kept rows against the fold, live and as known at.
#include "metrics_offences_support.h"

namespace careledger::metrics_offences_test {
namespace {

// "child offence status days cohort group knife risk area home at_placement", one an item.
std::vector<std::string> Lines(const std::vector<PanelItem>& items) {
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const auto& i : items) {
    out.push_back(i.child_id + " " + i.offence_id + " " + std::string(PanelStatusName(i.status)) +
                  " " + std::to_string(i.days_waiting) + " " + i.cohort + " " + i.offence_group +
                  " " + (i.knife_related ? "knife" : "-") + " " + i.exploitation_risk + " " +
                  i.area + " " + i.home_id + " " + (i.at_placement ? "at_placement" : "-"));
  }
  return out;
}

std::vector<std::string> Worklist(const EventStore& store, std::optional<Instant> known_at,
                                  bool fold) {
  auto items =
      PanelWorklist(store, {.today = Day(2026, 11, 23), .known_at = known_at, .fold = fold});
  EXPECT_TRUE(items.ok()) << items.status().ToString();
  return items.ok() ? Lines(*items) : std::vector<std::string>{};
}

std::string Knife(const std::string& id, const std::string& child, const std::string& offence,
                  const std::string& on) {
  return Ev(id, "offence.recorded", child, on,
            R"("offence_id":")" + offence +
                R"(","offence_group":"violence_against_person","knife_related":true,)"
                R"("at_placement":true)");
}

TEST_F(MetricsOffences, PanelWorklistListsTheOffencesOfCareChildrenWaitingForADecision) {
  // A in care since 2025 in H1; B left care at 17 (a care leaver at 21); C never in care; D
  // came into care after its offence; E placed out of area in H7 and assessed at high risk.
  Fold(
      *store_,
      {Registered("a0", "A", "2010-05-01", "M", "WBRI"), CareStarted("a1", "A", "2025-01-01", "H1"),
       Knife("a2", "A", "oA1", "2026-10-01"),
       OffenceRecorded("a3", "A", "oA2", "2026-09-01", "theft_handling"),
       OffenceRecorded("a4", "A", "oA3", "2026-08-01", "criminal_damage"),
       OffenceRecorded("a5", "A", "oA4", "2026-07-01", "drugs"),
       OffenceRecorded("a6", "A", "oA5", "2026-06-01", "robbery"),
       Registered("b0", "B", "2005-03-01", "F", "WBRI"), CareStarted("b1", "B", "2020-01-01", "H2"),
       CareEnded("b2", "B", "2023-01-01"), Registered("c0", "C", "2010-01-01", "M", "WBRI"),
       OffenceRecorded("c1", "C", "oC1", "2026-10-15", "theft_handling"),
       Registered("d0", "D", "2011-01-01", "F", "WBRI"),
       OffenceRecorded("d1", "D", "oD1", "2026-10-10", "public_order"),
       CareStarted("d2", "D", "2026-10-20", "H3"), Registered("e0", "E", "2009-02-01", "M", "BCRB"),
       Ev("e1", "care.period_started", "E", "2025-06-01",
          R"("legal_status":"C2","placement":"K2","home_id":"H7","out_of_area":true)"),
       Ev("e2", "child.exploitation_risk_assessed", "E", "2026-01-01",
          R"("kind":"CCE","level":"high")")},
      At(2026, 11, 1));
  // Three weeks later: A's theft charged; its damage cautioned; its drugs offence taken into
  // consideration (no disposal for the child, but decided); its robbery charged and then
  // sentenced. B's and E's offences arrive, still undecided.
  Fold(*store_,
       {HomeOffice("a7", "A", "oA2", "2026-09-10", 1),
        Disposal("a8", "A", "oA3", "2026-08-20", "youth_caution"),
        HomeOffice("a9", "A", "oA4", "2026-07-15", 4),
        HomeOffice("a10", "A", "oA5", "2026-06-10", 1),
        Court("a11", "A", "oA5", "2026-07-15", "referral_order"),
        OffenceRecorded("b3", "B", "oB1", "2026-11-20", "drugs"),
        OffenceRecorded("e3", "E", "oE1", "2026-11-01", "robbery")},
       At(2026, 11, 22));

  // Today (2026-11-23), longest waiting first.
  const std::vector<std::string> today{
      "A oA2 charged 83 cla theft_handling - other unknown H1 -",
      "A oA1 awaiting_outcome 53 cla violence_against_person knife other unknown H1 at_placement",
      "E oE1 awaiting_outcome 22 cla robbery - medium_or_high out_of_area H7 -",
      "B oB1 awaiting_outcome 3 care_leaver drugs - other not_looked_after not_looked_after -"};
  EXPECT_EQ(Worklist(*store_, std::nullopt, false), today);
  EXPECT_EQ(Worklist(*store_, std::nullopt, true), today);

  // As the panel saw it on 1 November at noon: all five of A's offences, nothing decided yet,
  // each waiting from its date to that day.
  const Instant first_of_november = At(2026, 11, 1) + std::chrono::hours{12};
  const std::vector<std::string> then{
      "A oA5 awaiting_outcome 153 cla robbery - other unknown H1 -",
      "A oA4 awaiting_outcome 123 cla drugs - other unknown H1 -",
      "A oA3 awaiting_outcome 92 cla criminal_damage - other unknown H1 -",
      "A oA2 awaiting_outcome 61 cla theft_handling - other unknown H1 -",
      "A oA1 awaiting_outcome 31 cla violence_against_person knife other unknown H1 at_placement"};
  EXPECT_EQ(Worklist(*store_, first_of_november, false), then);
  EXPECT_EQ(Worklist(*store_, first_of_november, true), then);
}

TEST_F(MetricsOffences, PanelWorklistDropsAnOffenceOnceRetractedOrDecided) {
  Fold(
      *store_,
      {Registered("a0", "A", "2010-05-01", "M", "WBRI"), CareStarted("a1", "A", "2025-01-01", "H1"),
       OffenceRecorded("a2", "A", "oA1", "2026-10-01", "theft_handling"),
       OffenceRecorded("a3", "A", "oA2", "2026-10-02", "drugs")},
      At(2026, 11, 1));
  EXPECT_EQ(Worklist(*store_, std::nullopt, false).size(), 2u);
  // The first offence's record withdrawn; the second decided, then that decision corrected to a
  // charge (a supersedes): it waits again, for the court.
  Fold(*store_,
       {Ev("a4", "event.retracted", "A", "2026-11-02",
           R"("target_event_id":"a2","reason":"recorded_in_error")"),
        Disposal("a5", "A", "oA2", "2026-10-20", "youth_caution")},
       At(2026, 11, 2));
  EXPECT_EQ(Worklist(*store_, std::nullopt, false), std::vector<std::string>{});
  Fold(*store_,
       {Ev("a6", "outcome.recorded", "A", "2026-10-20",
           R"("offence_id":"oA2","home_office_outcome":1,"decided_at":"2026-10-20")", "", "a5")},
       At(2026, 11, 3));
  const std::vector<std::string> charged{"A oA2 charged 52 cla drugs - other unknown H1 -"};
  EXPECT_EQ(Worklist(*store_, std::nullopt, false), charged);
  EXPECT_EQ(Worklist(*store_, std::nullopt, true), charged);
}

}  // namespace
}  // namespace careledger::metrics_offences_test
