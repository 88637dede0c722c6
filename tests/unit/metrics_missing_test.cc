// Fixture tests for the missing-episode (M7) and call-out (M8) metrics, child ids that differ
// only at the end, the default period and the period selectors as board papers name them. Every
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

// As known at T, the report is the one of T's day: its default day and relative periods are
// counted from T's day (what did the report say on 1 April?), never from a later today.
TEST(MetricSelectors, AsKnownAtCountsDefaultsFromThatDay) {
  auto parse = [](MetricSelectorText selectors) {
    auto q = ParseMetricSelectors(selectors, {}, Day(2026, 12, 4));
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? *q : MetricQuery{};
  };
  MetricSelectorText text;
  text.metric = "outcomes";
  text.known_at = "2025-04-01T09:00:00Z";
  EXPECT_EQ(parse(text).today, Day(2025, 4, 1));
  text.period = "last-complete-quarter";
  EXPECT_EQ(parse(text).period, std::make_pair(Day(2025, 1, 1), Day(2025, 4, 1)));
  // A time after today leaves today as it is.
  text.known_at = "2027-01-01T00:00:00Z";
  EXPECT_EQ(parse(text).today, Day(2026, 12, 4));
  EXPECT_EQ(parse(text).period, std::make_pair(Day(2026, 7, 1), Day(2026, 10, 1)));
}

}  // namespace
}  // namespace careledger
