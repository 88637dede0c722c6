// Fixture tests for the population metrics (spec/metrics.md: M1 cla, M2 care-leavers,
// M5 criminalisation, M9 yjs-caseload), corrections, known-at, order independence and lineage.
// Every expected figure is worked out by hand from the dates in the fixture; the reasoning is
// in the comment next to it.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <thread>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Day;
using test::Ev;
using test::Fold;
using test::Report;
using Column = std::map<std::string, std::string>;
using Lines = std::vector<std::string>;

std::string Reg(const std::string& child, const std::string& dob, const std::string& sex = "M",
                const std::string& ethnicity = "WBRI") {
  return Ev(child + ".reg", "child.registered", child, dob,
            R"("dob":")" + dob + R"(","sex":")" + sex + R"(","ethnicity":")" + ethnicity + "\"");
}

std::string Start(const std::string& id, const std::string& child, const std::string& on,
                  const std::string& legal_status, const std::string& placement,
                  const std::string& provider = "PR1", bool out_of_area = false,
                  const std::string& recorded = "", const std::string& supersedes = "") {
  return Ev(id, "care.period_started", child, on,
            R"("legal_status":")" + legal_status + R"(","placement":")" + placement +
                R"(","provider":")" + provider + R"(","out_of_area":)" +
                (out_of_area ? "true" : "false"),
            recorded, supersedes);
}

std::string End(const std::string& id, const std::string& child, const std::string& on,
                const std::string& recorded = "") {
  return Ev(id, "care.period_ended", child, on, R"("reason":"E8")", recorded);
}

std::string Contact(const std::string& id, const std::string& child, const std::string& on,
                    const std::string& in_touch, const std::string& activity,
                    const std::string& accommodation) {
  return Ev(id, "care_leaver.contact_recorded", child, on,
            R"("in_touch":")" + in_touch + R"(","activity":")" + activity +
                R"(","accommodation":")" + accommodation + "\"");
}

std::string Court(const std::string& id, const std::string& child, const std::string& offence,
                  const std::string& decided, const std::string& disposal) {
  return Ev(id, "court.outcome_recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

std::string Police(const std::string& id, const std::string& child, const std::string& offence,
                   const std::string& decided, const std::string& disposal) {
  return Ev(id, "outcome.recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

std::string Case(const std::string& id, const std::string& type, const std::string& child,
                 const std::string& on, const std::string& case_id,
                 const std::string& intervention) {
  return Ev(id, type, child, on,
            R"("case_id":")" + case_id + R"(","intervention":")" + intervention + "\"");
}

MetricQuery At(const std::string& metric, Date at, std::vector<std::string> by = {}) {
  MetricQuery q;
  q.metric = metric;
  q.at = at;
  q.by = std::move(by);
  return q;
}

MetricQuery Over(const std::string& metric, Date from, Date to, std::vector<std::string> by = {}) {
  MetricQuery q;
  q.metric = metric;
  q.period = {from, to};
  q.by = std::move(by);
  return q;
}

Instant On(int y, unsigned m, unsigned d) {
  return Instant{Day(y, m, d)};
}

// One measure of every row: row key → figure.
Column Col(const test::Figures& figures, const std::string& measure = "value") {
  Column out;
  for (const auto& [key, measures] : figures) {
    auto it = measures.find(measure);
    out[key] = it == measures.end() ? "absent" : it->second;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<LineageEntry>& entries) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : entries) out.emplace_back(e.measure, e.event_id);
  return out;
}

class MetricPopulation : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore("s");
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<EventStore> OpenStore(const std::string& name) {
    auto s = EventStore::Open({.path = dir_ / name, .sync = false});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // CLA at d, no breakdown.
  std::string ClaAt(Date d) { return Col(Report(*store_, At("cla", d)))[""]; }

  test::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

// ---- M1 -----------------------------------------------------------------------------------------
// A: C2/U1 in area from 2023-01-10, moves to K2 (PR4, out of area) 2024-02-01, ends 2024-09-30.
// B: C1/U3 from 2024-01-01, still open.
// C: V3 short breaks 2023-06-01 to 2024-06-01: never looked after.
// D: C2/U4 from 2023-05-01, onto V4 on 2024-01-15, ends 2024-04-01.
// E: two periods, 2024-02-01 to 2024-03-01 and from 2024-04-01 (open).
Lines ClaFeed() {
  return {
      Reg("A", "2012-06-15", "M", "WBRI"),
      Start("a1", "A", "2023-01-10", "C2", "U1"),
      Ev("a2", "care.placement_changed", "A", "2024-02-01",
         R"("placement":"K2","provider":"PR4","out_of_area":true,"reason":"CARPL")"),
      End("a3", "A", "2024-09-30"),
      Reg("B", "2008-03-01", "F", "BCRB"),
      Start("b1", "B", "2024-01-01", "C1", "U3"),
      Reg("C", "2015-01-01", "F", "AIND"),
      Start("c1", "C", "2023-06-01", "V3", "U1"),
      End("c2", "C", "2024-06-01"),
      Reg("D", "2010-09-01", "M", "MWBC"),
      Start("d1", "D", "2023-05-01", "C2", "U4"),
      Ev("d2", "care.legal_status_changed", "D", "2024-01-15", R"("legal_status":"V4")"),
      End("d3", "D", "2024-04-01"),
      Reg("E", "2011-02-01", "F", "WBRI"),
      Start("e1", "E", "2024-02-01", "C2", "U1"),
      End("e2", "E", "2024-03-01"),
      Start("e3", "E", "2024-04-01", "C2", "U1"),
  };
}

TEST_F(MetricPopulation, ClaAtSeveralDatesLeavesOutShortBreaks) {
  Fold(*store_, ClaFeed());
  EXPECT_EQ(ClaAt(Day(2023, 1, 9)), "0");    // nobody has started yet
  EXPECT_EQ(ClaAt(Day(2023, 1, 10)), "1");   // A from its first day
  EXPECT_EQ(ClaAt(Day(2023, 12, 31)), "2");  // A, D (C is on V3 short breaks)
  EXPECT_EQ(ClaAt(Day(2024, 1, 14)), "3");   // A, B, D
  EXPECT_EQ(ClaAt(Day(2024, 1, 15)), "2");   // D is on V4 from today: A, B
  EXPECT_EQ(ClaAt(Day(2024, 2, 15)), "3");   // A, B, E
  EXPECT_EQ(ClaAt(Day(2024, 3, 1)), "2");    // E's period ended today: A, B
  EXPECT_EQ(ClaAt(Day(2024, 4, 1)), "3");    // E back: A, B, E
  EXPECT_EQ(ClaAt(Day(2024, 9, 29)), "3");   // A's last day: A, B, E
  EXPECT_EQ(ClaAt(Day(2024, 9, 30)), "2");   // A ended today: B, E
}

TEST_F(MetricPopulation, ClaByEveryDimension) {
  Fold(*store_, ClaFeed());
  // 2024-03-31: A (K2, PR4, out of area, C2, M, WBRI = White, aged 11) and B (U3, in area, C1, F,
  // BCRB = Black, aged 16). D has ended, E is between periods, C is V3.
  Date d = Day(2024, 3, 31);
  EXPECT_EQ(Col(Report(*store_, At("cla", d, {"placement"}))), (Column{{"K2", "1"}, {"U3", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", d, {"legal_status"}))),
            (Column{{"C1", "1"}, {"C2", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", d, {"area"}))),
            (Column{{"in_area", "1"}, {"out_of_area", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", d, {"sex"}))), (Column{{"F", "1"}, {"M", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", d, {"ethnicity_group"}))),
            (Column{{"Black", "1"}, {"White", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", d, {"age_band"}))),
            (Column{{"10-13", "1"}, {"16-17", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", d, {"provider"}))), (Column{{"PR1", "1"}, {"PR4", "1"}}));
  // 2024-01-14: A C2/U1, B C1/U3, D C2/U4 (its last day before V4).
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 1, 14), {"legal_status"}))),
            (Column{{"C1", "1"}, {"C2", "2"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 1, 14), {"placement"}))),
            (Column{{"U1", "1"}, {"U3", "1"}, {"U4", "1"}}));
  // Two dimensions at 2024-04-15: A M/White, B F/Black, E F/White (WBRI).
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 4, 15), {"sex", "ethnicity_group"}))),
            (Column{{"F|Black", "1"}, {"F|White", "1"}, {"M|White", "1"}}));
}

// The age band a child looked after counts in moves on the birthday that crosses a band, and a
// 29 February birthday falls on 1 March in a common year: L (born 2008-02-29) is 9 on
// 2018-02-28 and 10 on 2018-03-01; M (born 2004-06-10) turns 18 on 2022-06-10 in care.
TEST_F(MetricPopulation, ClaByAgeBandMovesOnTheBirthday) {
  Fold(*store_, {Reg("L", "2008-02-29"), Start("l1", "L", "2017-01-01", "C2", "U1"),
                 Reg("M", "2004-06-10"), Start("m1", "M", "2021-01-01", "C2", "U1")});
  auto bands = [&](Date d) {
    MetricQuery live = At("cla", d, {"age_band"}), folded = live;
    folded.fold = true;
    auto a = Col(Report(*store_, live));
    EXPECT_EQ(a, Col(Report(*store_, folded))) << FormatDate(d);
    return a;
  };
  EXPECT_EQ(bands(Day(2018, 2, 28)), (Column{{"under 10", "1"}}));
  EXPECT_EQ(bands(Day(2018, 3, 1)), (Column{{"10-13", "1"}}));
  EXPECT_EQ(bands(Day(2022, 2, 28)), (Column{{"10-13", "1"}, {"16-17", "1"}}));  // L is 13
  EXPECT_EQ(bands(Day(2022, 3, 1)), (Column{{"14-15", "1"}, {"16-17", "1"}}));   // L is 14
  EXPECT_EQ(bands(Day(2022, 6, 9)), (Column{{"14-15", "1"}, {"16-17", "1"}}));   // M is 17
  EXPECT_EQ(bands(Day(2022, 6, 10)), (Column{{"14-15", "1"}, {"18-21", "1"}}));  // M is 18
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2022, 3, 1), {"cohort"}))), (Column{{"cla", "2"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2016, 3, 1), {"cohort"}))), Column{});
}

// A generated feed's lines, without duplicates or invalid lines (Fold neither dedups nor rejects).
Lines GeneratedLines(GeneratorOptions options) {
  options.duplicate_rate = options.invalid_rate = 0;
  std::ostringstream feed;
  EXPECT_TRUE(GenerateFeed(options, feed).ok());
  Lines lines;
  std::istringstream in(feed.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "CLA at D" live, by nothing or any one dimension, is read from the counters ingest keeps (a
// few short scans); the fold reads every child. On a generated feed with many
// corrections, late events and retractions, both must give the same table on every month end.
TEST_F(MetricPopulation, ClaFromCountersMatchesTheFoldOnAGeneratedFeed) {
  GeneratorOptions options{.children = 30000, .seed = 11, .correction_rate = 0.05};
  Lines lines = GeneratedLines(options);
  Fold(*store_, lines, Instant{}, 997);
  int checked = 0;
  using std::chrono::year, std::chrono::month, std::chrono::months;
  for (auto ym = year{2023} / month{3}; ym <= year{2026} / month{5}; ym += months{1}) {
    // The counters are read as whole months before D's month and days of it up to D: its
    // first day, a day inside it and its last.
    for (Date d : {Date{ym / 1}, Date{ym / 15}, Date{ym / std::chrono::last}}) {
      for (std::vector<std::string> by :
           {std::vector<std::string>{}, {"legal_status"}, {"placement"}}) {
        MetricQuery live = At("cla", d, by), folded = live;
        folded.fold = true;
        auto a = Col(Report(*store_, live)), b = Col(Report(*store_, folded));
        EXPECT_EQ(a, b) << FormatDate(d) << " by " << (by.empty() ? "nothing" : by[0]);
        checked += a.empty() ? 0 : 1;
      }
    }
  }
  EXPECT_EQ(checked, 39 * 3 * 3);  // 2023-03 … 2026-05
  // Every other dimension the counters are kept by, and the cohort (the total, as "cla"), on
  // each quarter's last day and on a day inside it.
  for (auto ym = year{2023} / month{3}; ym <= year{2026} / month{3}; ym += months{3}) {
    for (Date d : {Date{ym / 10}, Date{ym / std::chrono::last}}) {
      for (std::string dim : {"provider", "area", "home_id", "sex", "ethnicity", "age_band",
                              "ethnicity_group", "cohort"}) {
        MetricQuery live = At("cla", d, {dim}), folded = live;
        folded.fold = true;
        auto a = Col(Report(*store_, live)), b = Col(Report(*store_, folded));
        EXPECT_EQ(a, b) << FormatDate(d) << " by " << dim;
        checked += a.empty() ? 0 : 1;
      }
    }
  }
  EXPECT_EQ(checked, 39 * 3 * 3 + 13 * 2 * 8);
  // Care leavers (M2) on the same days, by nothing and by each dimension, from their counters.
  int leaver_tables = 0;
  for (auto ym = year{2023} / month{3}; ym <= year{2026} / month{3}; ym += months{3}) {
    for (Date d : {Date{ym / 10}, Date{ym / std::chrono::last}}) {
      for (std::string dim :
           {"", "band", "age_band", "sex", "ethnicity", "ethnicity_group", "cohort", "placement"}) {
        MetricQuery live = At("care-leavers", d), folded = live;
        if (!dim.empty()) live.by = folded.by = {dim};
        folded.fold = true;
        auto a = Report(*store_, live);
        EXPECT_EQ(a, Report(*store_, folded))
            << "care leavers on " << FormatDate(d) << " by " << dim;
        leaver_tables +=
            a.size() > 1 || (a.size() == 1 && a.begin()->second.at("care_leavers") != "0");
      }
    }
  }
  EXPECT_EQ(leaver_tables, 13 * 2 * 8);  // none of them empty
  // Disproportionality (M12) over each quarter and year: its denominators from the counters of
  // the children aged 10-17, its numerators from the rows.
  int disproportionality_rows = 0;
  test::Figures first_cohorts;
  for (auto ym = year{2023} / month{4}; ym <= year{2026} / month{1}; ym += months{3}) {
    for (auto length : {months{3}, months{12}}) {
      const Date from{ym / 1}, to{(ym + length) / 1};
      for (std::string dim : {"ethnicity_group", "sex", "cohort"}) {
        MetricQuery live = Over("disproportionality", from, to, {dim}), folded = live;
        folded.fold = true;
        auto a = Report(*store_, live);
        EXPECT_EQ(a, Report(*store_, folded))
            << "disproportionality from " << FormatDate(from) << " by " << dim;
        disproportionality_rows += int(a.size());
        if (from == Day(2023, 4, 1) && dim == "cohort") first_cohorts = a;
      }
    }
  }
  // 12 quarters and 12 years, each by 7 ethnicity groups, 2 sexes and 3 cohorts, and a child of
  // unknown sex aged 10-17 at the start of 10 of them.
  EXPECT_EQ(disproportionality_rows, 24 * (7 + 2 + 3) + 10);
  // Not comparisons of empty cells: on 2023-04-01 the feed knows 7 care leavers, 112 children
  // looked after and 459 other children aged 10-17.
  EXPECT_EQ(first_cohorts["care_leaver"].at("children_10_17"), "7");
  EXPECT_EQ(first_cohorts["cla"].at("children_10_17"), "112");
  EXPECT_EQ(first_cohorts["other"].at("children_10_17"), "459");
  // The youth justice caseload (M9) on the 10th and last day of each month: its open cases by
  // the child's cohort and the case's intervention from the counters, against the fold.
  int64_t open_cases = 0;
  for (auto ym = year{2023} / month{3}; ym <= year{2026} / month{5}; ym += months{1}) {
    for (Date d : {Date{ym / 10}, Date{ym / std::chrono::last}}) {
      MetricQuery live = At("yjs-caseload", d), folded = live;  // by intervention
      folded.fold = true;
      auto a = Report(*store_, live);
      EXPECT_EQ(a, Report(*store_, folded)) << "yjs-caseload on " << FormatDate(d);
      for (const auto& [intervention, figures] : a) {
        open_cases += std::stoll(figures.at("open_cases"));
      }
    }
  }
  EXPECT_EQ(open_cases, 1111);  // the open cases of the 78 days, summed: not zeros compared
  // Not a comparison of two zeros: seed 11's feed has 186 looked after on its first day.
  EXPECT_EQ(ClaAt(Day(2023, 3, 31)), "186");
}

// Offences with an outcome (M3, M4, M10, M11), criminalisation (M5), first-time entrants (M6),
// call-outs (M8) and reoffending (M13) are read from the rows ingest keeps, by date; the fold
// recomputes the same rows from every timeline. The feed arrives shuffled, in batches of uneven
// size, with corrections and retractions, so that a child's rows are rewritten by late events, by
// corrections of its offences and outcomes, and by care events that move the cohort an offence is
// judged in: the kept figures must equal the fold's in every month.
TEST_F(MetricPopulation, KeptRowsMatchTheFoldOnAShuffledGeneratedFeed) {
  GeneratorOptions options{.children = 20000, .seed = 5, .correction_rate = 0.08};
  Lines lines = GeneratedLines(options);
  // Late events: a tenth of the feed moved to the end, in random order.
  std::mt19937 rng(7);
  std::shuffle(lines.begin() + std::ptrdiff_t(lines.size() * 9 / 10), lines.end(), rng);
  Lines late;
  for (size_t i = 0; i < lines.size(); i += 10) late.push_back(lines[i]);
  Lines on_time;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i % 10 != 0) on_time.push_back(lines[i]);
  }
  Fold(*store_, on_time, Instant{}, 389);
  Fold(*store_, late, Instant{}, 53);
  using std::chrono::year, std::chrono::month, std::chrono::months;
  const std::vector<std::pair<std::string, std::vector<std::string>>> queries = {
      {"outcomes", {}},
      {"outcomes", {"offence_group", "disposal"}},
      {"outcomes", {"placement", "area", "at_placement"}},
      {"informal-share", {}},
      {"informal-share", {"age_band", "ethnicity_group", "sex"}},
      {"exploitation", {}},
      {"offence-profile", {}},
      {"fte", {}},
      {"fte", {"offence_group", "sex"}},
      {"callouts", {}},
      {"callouts", {"home_id"}},
      {"reoffending", {}},
      {"reoffending", {"ethnicity_group"}},
      {"missing", {}},
      {"missing", {"home_id"}},
      {"missing", {"category", "risk", "age_band"}},
      {"disproportionality", {"cohort"}},
      {"disproportionality", {"ethnicity_group"}},
      {"cla", {"age_band", "cohort"}}};
  int64_t offences = 0, entrants = 0, callouts = 0, reoffenders = 0, episodes = 0;
  int64_t leavers = 0, cases = 0, looked_after = 0;
  for (auto ym = year{2023} / month{1}; ym <= year{2026} / month{6}; ym += months{1}) {
    Date from = std::chrono::sys_days{ym / 1};
    Date to = std::chrono::sys_days{(ym + months{1}) / 1};
    for (const auto& [metric, by] : queries) {
      MetricQuery kept = Over(metric, from, to, by), folded = kept;
      folded.fold = true;
      auto a = Report(*store_, kept);
      EXPECT_EQ(a, Report(*store_, folded)) << metric << " in " << FormatDate(from);
      for (const auto& [group, figures] : a) {
        if (metric == "outcomes" && by.empty()) offences += std::stoll(figures.at("offences"));
        if (metric == "fte" && by.empty()) entrants += std::stoll(figures.at("fte"));
        if (metric == "callouts" && by.size() == 1) callouts += std::stoll(figures.at("total"));
        if (metric == "reoffending" && by.empty()) {
          reoffenders += std::stoll(figures.at("reoffenders"));
        }
        if (metric == "missing" && by.empty()) episodes += std::stoll(figures.at("episodes"));
      }
    }
    // The figures judged on one day: at each month's end.
    Date end = to - std::chrono::days{1};
    for (const auto& [metric, by] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"cla", {"age_band"}},
             {"cla", {"cohort", "sex", "area"}},
             {"cla", {"age_band", "legal_status"}},
             {"care-leavers", {}},
             {"care-leavers", {"band", "ethnicity_group"}},
             {"yjs-caseload", {}},
             {"yjs-caseload", {"intervention", "cohort"}}}) {
      MetricQuery kept = At(metric, end, by), folded = kept;
      folded.fold = true;
      auto a = Report(*store_, kept);
      EXPECT_EQ(a, Report(*store_, folded)) << metric << " on " << FormatDate(end);
      for (const auto& [group, figures] : a) {
        if (metric == "care-leavers" && by.empty())
          leavers += std::stoll(figures.at("care_leavers"));
        if (metric == "yjs-caseload" && by.empty()) cases += std::stoll(figures.at("open_cases"));
        if (metric == "cla" && by.size() == 1) looked_after += std::stoll(figures.at("value"));
      }
    }
  }
  // Not a comparison of two empty tables: seed 5's feed has this many offences decided, first
  // time entrants and call-outs (with offences at the placement) in the 42 months, by the fold.
  EXPECT_EQ(offences, 220);
  EXPECT_EQ(entrants, 37);
  EXPECT_EQ(callouts, 138);
  EXPECT_EQ(reoffenders, 4);
  // And missing episodes reported in the months; children looked after, care leavers and open
  // youth justice cases on the 42 month ends, summed.
  EXPECT_EQ(episodes, 547);
  EXPECT_EQ(looked_after, 6489);
  EXPECT_EQ(leavers, 2693);
  EXPECT_EQ(cases, 453);
  int64_t cohort = 0;
  for (int y = 2023; y <= 2026; ++y) {
    for (std::vector<std::string> by : {std::vector<std::string>{}, {"sex", "age_band"}}) {
      MetricQuery kept = At("criminalisation", Day(y, 3, 31), by), folded = kept;
      folded.fold = true;
      auto a = Report(*store_, kept);
      EXPECT_EQ(a, Report(*store_, folded)) << "criminalisation, year ending 31 March " << y;
      if (by.empty()) cohort += std::stoll(a[""].at("oc2_cohort"));
    }
  }
  EXPECT_EQ(cohort, 290);  // OC2 cohorts of the four years together
  // Lineage of a cell reads the same event ids either way.
  MetricQuery kept = Over("outcomes", Day(2024, 4, 1), Day(2025, 4, 1)), folded = kept;
  folded.fold = true;
  Cell cell{{"cohort", "cla"}, {"tier", "informal"}};  // at least one offence (below)
  auto a = RunLineage(*store_, kept, cell), b = RunLineage(*store_, folded, cell);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  EXPECT_GE(a->size(), 4u);  // each: its offence and outcome, and the child's registration
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].measure, (*b)[i].measure);
    EXPECT_EQ((*a)[i].event_id, (*b)[i].event_id);
  }
}

// As known at a past time, the kept figures read the rows as they stood then: the rows whose
// value was written by then and the values that rows held before a later batch replaced them.
// The feed arrives in four deliveries a month apart (the last one late events, shuffled, with
// corrections and retractions among them), each in many batches stamped with the same second;
// as known at each delivery, every kept figure must equal the fold over the facts ingested by
// then. A rebuild from the log (fast, and the replay's chunks) writes the same versions.
TEST_F(MetricPopulation, KeptFiguresAsKnownAtMatchTheFold) {
  GeneratorOptions options{.children = 20000, .seed = 5, .correction_rate = 0.08};
  Lines lines = GeneratedLines(options);
  std::mt19937 rng(7);
  std::shuffle(lines.begin() + std::ptrdiff_t(lines.size() * 9 / 10), lines.end(), rng);
  std::vector<Lines> deliveries(4);
  for (size_t i = 0; i < lines.size(); ++i) {
    deliveries[i % 10 == 0 ? 3 : (i * 3) / lines.size()].push_back(lines[i]);
  }
  const Instant stamps[] = {On(2026, 1, 1), On(2026, 2, 1), On(2026, 3, 1), On(2026, 4, 1)};
  for (size_t i = 0; i < deliveries.size(); ++i) Fold(*store_, deliveries[i], stamps[i], 389);

  const std::vector<std::pair<std::string, std::vector<std::string>>> over_periods = {
      {"outcomes", {"cohort", "tier"}},
      {"informal-share", {"age_band", "ethnicity_group"}},
      {"exploitation", {}},
      {"offence-profile", {}},
      {"fte", {"offence_group"}},
      {"callouts", {"home_id"}},
      {"reoffending", {}},
      {"missing", {"category", "risk"}},
      {"disproportionality", {"sex"}},
      {"disproportionality", {"cohort"}},
      {"cla", {"age_band", "cohort"}}};
  const std::vector<std::pair<std::string, std::vector<std::string>>> on_a_day = {
      {"cla", {}},
      {"cla", {"placement"}},
      {"cla", {"cohort", "sex"}},
      {"cla", {"age_band", "sex"}},
      {"cla", {"age_band"}},
      {"care-leavers", {"band"}},
      {"yjs-caseload", {"intervention"}}};
  std::vector<int64_t> offences, looked_after;
  // Before the first delivery (nothing known), at each of the first three and a second after
  // the second (the same rows as at it).
  for (Instant known_at :
       {On(2025, 12, 31), stamps[0], stamps[1], stamps[1] + std::chrono::seconds{1}, stamps[2]}) {
    int64_t decided = 0, cla = 0;
    for (int y : {2023, 2024, 2025}) {
      Date from = Day(y, 4, 1), to = Day(y + 1, 4, 1);
      for (const auto& [metric, by] : over_periods) {
        MetricQuery kept = Over(metric, from, to, by), folded = kept;
        kept.known_at = folded.known_at = known_at;
        folded.fold = true;
        auto a = Report(*store_, kept);
        EXPECT_EQ(a, Report(*store_, folded)) << metric << " in the year from " << FormatDate(from)
                                              << " as known at " << FormatInstant(known_at);
        if (metric == "outcomes") {
          for (const auto& [group, figures] : a) decided += std::stoll(figures.at("offences"));
        }
      }
      for (const auto& [metric, by] : on_a_day) {
        MetricQuery kept = At(metric, Day(y + 1, 3, 31), by), folded = kept;
        kept.known_at = folded.known_at = known_at;
        folded.fold = true;
        auto a = Report(*store_, kept);
        EXPECT_EQ(a, Report(*store_, folded))
            << metric << " on " << y + 1 << "-03-31 as known at " << FormatInstant(known_at);
        if (metric == "cla" && by.empty()) cla += std::stoll(a[""].at("value"));
      }
      MetricQuery kept = At("criminalisation", Day(y + 1, 3, 31)), folded = kept;
      kept.known_at = folded.known_at = known_at;
      folded.fold = true;
      EXPECT_EQ(Report(*store_, kept), Report(*store_, folded))
          << "criminalisation, year ending 31 March " << y + 1;
    }
    offences.push_back(decided);
    looked_after.push_back(cla);
  }
  // Not five comparisons of the same table: the deliveries add to what was known (the first
  // third of the feed's lines is mostly the area's registrations and the care already under
  // way on its first day, so no outcome is known until the second), and the figures a second
  // after a delivery are the delivery's. By the fold: outcomes 0, 0, 88, 88, 193; CLA on the
  // three 31 Marches, summed, 0, 462, 462, 462, 486.
  EXPECT_EQ(offences, (std::vector<int64_t>{0, 0, 88, 88, 193}));
  EXPECT_EQ(looked_after, (std::vector<int64_t>{0, 462, 462, 462, 486}));
  // Lineage of a cell as known at a delivery reads the same event ids either way.
  MetricQuery kept = Over("outcomes", Day(2024, 4, 1), Day(2025, 4, 1)), folded = kept;
  kept.known_at = folded.known_at = stamps[1];
  folded.fold = true;
  Cell cell{{"cohort", "other"}, {"tier", "informal"}};
  auto a = RunLineage(*store_, kept, cell), b = RunLineage(*store_, folded, cell);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Pairs(*a), Pairs(*b));
  EXPECT_FALSE(a->empty());
}

// The values rows held before are a function of the log (each record carries its batch's
// stamp): a rebuild from the log, which folds each child's facts at once, and a replay, whose
// chunks span several batches, write the same versions as ingest did, batch by batch.
TEST_F(MetricPopulation, RowVersionsAreRebuiltFromTheLog) {
  GeneratorOptions options{.children = 6000, .seed = 5, .late_rate = 0.2, .correction_rate = 0.08};
  Lines lines = GeneratedLines(options);
  std::mt19937 rng(3);
  std::shuffle(lines.begin() + std::ptrdiff_t(lines.size() / 2), lines.end(), rng);
  // Small batches, three to a second: a row changed and changed back, or removed and made
  // again, within one second must leave what a rebuild (which folds the second at once) leaves.
  auto batches = std::make_shared<int>(0);
  auto opened = EventStore::Open({.path = dir_ / "clocked", .sync = false, .clock = [batches] {
                                    return On(2026, 1, 1) + std::chrono::seconds{(*batches)++ / 3};
                                  }});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store_ = std::move(*opened);
  Fold(*store_, lines, test::kBatchClock, 53);
  // The rows with their since, and the values they held before, byte for byte (the state hash
  // leaves the stamps out, as it leaves out when each fact was learned).
  using Entries = std::map<std::string, std::string>;
  auto versions = [](const EventStore& store, std::string_view family = {}) {
    Entries out;
    for (std::string prefix : {std::string("row\0", 4), std::string("was\0", 4)}) {
      EXPECT_TRUE(store
                      .ScanState(
                          prefix,
                          [&](std::string_view key, std::string_view value) {
                            out.emplace(key, value);
                            return true;
                          },
                          family)
                      .ok());
    }
    return out;
  };
  Entries live = versions(*store_);
  size_t replaced = 0;
  for (const auto& [key, value] : live) replaced += key.starts_with(std::string("was\0", 4));
  EXPECT_GT(replaced, 0u);  // late care events and corrections replaced some rows' values
  auto fresh = OpenStore("rebuilt");
  ASSERT_NE(fresh, nullptr);
  ASSERT_TRUE(RebuildProjectionsInto(*store_, *fresh).ok());
  EXPECT_TRUE(versions(*fresh) == live) << "the rebuild's row versions differ from ingest's";
  auto replay = StateRebuild::Begin(*store_, {.known_at = std::nullopt, .chunk = 1500});
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  ASSERT_TRUE((*replay)->CatchUp(store_->next_sequence()).ok());
  EXPECT_TRUE(versions(*store_, (*replay)->family()) == live)
      << "the replay's row versions differ from ingest's";
  auto hash = ProjectionStateHash(*store_), rebuilt = ProjectionStateHash(*fresh);
  ASSERT_TRUE(hash.ok() && rebuilt.ok());
  EXPECT_EQ(*hash, *rebuilt);
}

TEST_F(MetricPopulation, ClaOverAPeriodCountsChildrenNotPeriods) {
  Fold(*store_, ClaFeed());
  // [2024-01-01, 2024-07-01): looked after at some point: A, B, D (to 01-15), E = 4 (C never).
  // Started: B (01-01) and E (02-01 and again 04-01: one child) = 2; A's move is not a start.
  // Ended: D (its looked-after stretch ends when V4 begins on 01-15; the period's own end on
  // 04-01 ends nothing more) and E (03-01) = 2; A ends 09-30, after the period. Reading taken:
  // the CLA population leaves out V3/V4, so moving onto short breaks is leaving it (an end).
  auto f = Report(*store_, Over("cla", Day(2024, 1, 1), Day(2024, 7, 1)));
  EXPECT_EQ(f, (test::Figures{{"", {{"children", "4"}, {"started", "2"}, {"ended", "2"}}}}));
  // [2023-01-01, 2024-01-01): A (from 01-10) and D (from 05-01) start; nobody ends.
  f = Report(*store_, Over("cla", Day(2023, 1, 1), Day(2024, 1, 1)));
  EXPECT_EQ(f, (test::Figures{{"", {{"children", "2"}, {"started", "2"}, {"ended", "0"}}}}));
  // By legal status (judged on the first day in the period for "children", on the start day
  // for "started", on the last day looked after for "ended"): C1 = B; C2 = A, D, E (E's two
  // starts are one child), D ends on C2 (last day 01-14), E ends on C2 (last day 02-29).
  f = Report(*store_, Over("cla", Day(2024, 1, 1), Day(2024, 7, 1), {"legal_status"}));
  EXPECT_EQ(f, (test::Figures{{"C1", {{"children", "1"}, {"started", "1"}, {"ended", "0"}}},
                              {"C2", {{"children", "3"}, {"started", "1"}, {"ended", "2"}}}}));
}

// W's first period ends on 2024-09-01 and the next starts that day; both were recorded at the
// same moment (one extract), so only the order of types decides which comes first. The end
// belongs to the period that was open: the child is looked after without a break. Y's only
// period starts and ends on the same day: it never counts.
TEST_F(MetricPopulation, PeriodEndingTheDayTheNextStartsIsContinuousCare) {
  Fold(*store_, {Reg("W", "2010-01-01"), Start("w1", "W", "2023-01-01", "C2", "U1"),
                 End("w2", "W", "2024-09-01"), Start("w3", "W", "2024-09-01", "C1", "U3"),
                 Reg("Y", "2010-01-01"), Start("y1", "Y", "2024-09-01", "C2", "U1"),
                 End("y2", "Y", "2024-09-01")});
  // 2024-08-31: W on C2; 2024-09-01 and 2024-10-01: W on C1 (Y's period has no day in it).
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 8, 31), {"legal_status"}))),
            (Column{{"C2", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 9, 1), {"legal_status"}))),
            (Column{{"C1", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 10, 1), {"legal_status"}))),
            (Column{{"C1", "1"}}));
  // The headline counters agree.
  auto counters = careledger::ClaAt(*store_, Day(2024, 10, 1), ClaDimension::kLegalStatus);
  ASSERT_TRUE(counters.ok());
  ASSERT_EQ(counters->size(), 1u);
  EXPECT_EQ((*counters)[0].group, "C1");
  EXPECT_EQ((*counters)[0].children, 1);
  // Over 2024-09: W is looked after throughout, one stretch: neither a start nor an end.
  EXPECT_EQ(Report(*store_, Over("cla", Day(2024, 9, 1), Day(2024, 10, 1))),
            (test::Figures{{"", {{"children", "1"}, {"started", "0"}, {"ended", "0"}}}}));
}

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

// ---- M5 -----------------------------------------------------------------------------------------
// Year ending 2025-03-31: the 12 months are 2024-04-01 .. 2025-03-31.
Lines CriminalisationFeed() {
  return {
      // R1 (15): looked after since 2023; youth caution 2024-07-01 and a fine 2025-02-01.
      Reg("R1", "2010-01-01"),
      Start("r1.s", "R1", "2023-01-01", "C2", "U1"),
      Ev("r1.off1", "offence.recorded", "R1", "2024-06-01",
         R"("offence_id":"r1-o1","offence_group":"theft_handling","at_placement":false)"),
      Police("r1.out1", "R1", "r1-o1", "2024-07-01", "youth_caution"),
      Court("r1.out2", "R1", "r1-o2", "2025-02-01", "fine"),
      // R2 (14): looked after from 2024-04-01, exactly the 12 months. No offence.
      Reg("R2", "2011-01-01"),
      Start("r2.s", "R2", "2024-04-01", "C2", "U1"),
      // R3 (14): from 2024-04-02, a day short; referral order 2024-10-01.
      Reg("R3", "2011-01-01"),
      Start("r3.s", "R3", "2024-04-02", "C2", "U1"),
      Court("r3.out", "R3", "r3-o", "2024-10-01", "referral_order"),
      // R4 (15): out of care on 2024-09-01 only (a one-day gap); conditional caution 2025-01-10.
      Reg("R4", "2010-01-01"),
      Start("r4.s", "R4", "2023-01-01", "C2", "U1"),
      End("r4.e", "R4", "2024-09-01"),
      Start("r4.s2", "R4", "2024-09-02", "C2", "U1"),
      Police("r4.out", "R4", "r4-o", "2025-01-10", "youth_conditional_caution"),
      // R5 (15): V3 from 2024-11-01 to 2024-11-15 inside the year; youth caution 2024-12-01.
      Reg("R5", "2010-01-01"),
      Start("r5.s", "R5", "2023-01-01", "C2", "U1"),
      Ev("r5.v3", "care.legal_status_changed", "R5", "2024-11-01", R"("legal_status":"V3")"),
      Ev("r5.c2", "care.legal_status_changed", "R5", "2024-11-15", R"("legal_status":"C2")"),
      Police("r5.out", "R5", "r5-o", "2024-12-01", "youth_caution"),
      // R6: 9 on 2025-03-31 (10th birthday 2025-04-01): too young.
      Reg("R6", "2015-04-01"),
      Start("r6.s", "R6", "2020-01-01", "C2", "U1"),
      // R7: 10th birthday on 2025-03-31 itself: in the cohort.
      Reg("R7", "2015-03-31"),
      Start("r7.s", "R7", "2020-01-01", "C2", "U1"),
      // R13 (15): one period ends 2024-09-01 and the next starts the same day (the end recorded
      // first): continuous, in the cohort.
      Reg("R13", "2010-01-01"),
      Start("r13.s", "R13", "2023-01-01", "C2", "U1"),
      End("r13.e", "R13", "2024-09-01", "2024-09-01T10:00:00Z"),
      Start("r13.s2", "R13", "2024-09-01", "C2", "U1", "PR1", false, "2024-09-01T11:00:00Z"),
      // R14 (15): looked after 2024-03-01 to 2025-03-31, so not on 31 March itself: not in the
      // cohort.
      Reg("R14", "2010-01-01"),
      Start("r14.s", "R14", "2024-03-01", "C2", "U1"),
      End("r14.e", "R14", "2025-03-31"),
      // Children never looked after (R8 .. R12), aged 16 unless said.
      Reg("R8", "2009-01-01"),
      Court("r8.out", "R8", "r8-o", "2024-05-01", "fine"),
      // R9: community resolution is informal, not formal.
      Reg("R9", "2009-01-01"),
      Police("r9.out", "R9", "r9-o", "2024-08-01", "community_resolution_police"),
      // R10, R11: decided the day after and the day before the year.
      Reg("R10", "2009-01-01"),
      Court("r10.out", "R10", "r10-o", "2025-04-01", "fine"),
      Reg("R11", "2009-01-01"),
      Court("r11.out", "R11", "r11-o", "2024-03-31", "fine"),
      // R12: 18 on 2025-03-31 (17 when fined on 2024-06-01): outside 10-17, since age is
      // judged on 31 March as for the OC2 cohort (one date for numerator and denominator).
      Reg("R12", "2007-01-01"),
      Court("r12.out", "R12", "r12-o", "2024-06-01", "fine"),
  };
}

MetricQuery Criminalisation2025() {
  MetricQuery q = At("criminalisation", Day(2025, 3, 31));
  // The year ending 31 March 2025 uses the mid-2024 estimate.
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year == 2024) return AreaPopulation{2024, 1000, 2300};
    return std::nullopt;
  };
  return q;
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

// ---- M9 -----------------------------------------------------------------------------------------
Lines CaseloadFeed() {
  return {
      // S1: looked after from 2024-01-01; diversion 2024-01-01..2024-12-31, court order from
      // 2025-01-01.
      Reg("S1", "2010-01-01"),
      Start("s1.s", "S1", "2024-01-01", "C2", "U1"),
      Case("s1.c0o", "yjs.case_opened", "S1", "2024-01-01", "c0", "diversion"),
      Case("s1.c0c", "yjs.case_closed", "S1", "2024-12-31", "c0", "diversion"),
      Case("s1.c1o", "yjs.case_opened", "S1", "2025-01-01", "c1", "court_order"),
      // S2: care leaver (looked after 2021-01-01..2025-01-01, 18 on 2025-01-01); court order
      // from 2025-02-01.
      Reg("S2", "2007-01-01"),
      Start("s2.s", "S2", "2021-01-01", "C2", "U1"),
      End("s2.e", "S2", "2025-01-01"),
      Case("s2.c2o", "yjs.case_opened", "S2", "2025-02-01", "c2", "court_order"),
      // S3..S5: never looked after.
      Reg("S3", "2009-01-01"),
      Case("s3.c3o", "yjs.case_opened", "S3", "2025-05-01", "c3", "court_order"),
      Case("s3.c3c", "yjs.case_closed", "S3", "2025-06-01", "c3", "court_order"),
      Reg("S4", "2009-01-01"),
      Case("s4.c4o", "yjs.case_opened", "S4", "2025-06-01", "c4", "oocd"),
      Reg("S5", "2009-01-01"),
      Case("s5.c5o", "yjs.case_opened", "S5", "2025-06-02", "c5", "prevention"),
  };
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

// ---- Lineage of M1
// --------------------------------------------------------------------------------
TEST_F(MetricPopulation, ClaLineageIsTheEventsOfTheCell) {
  Fold(*store_, ClaFeed());
  // C2 on 2024-01-14: A (registered; its stretch from a1 to the move a2) and D (registered; its
  // stretch from d1 to the V4 change d2). B is C1; C is V3.
  auto lineage = RunLineage(*store_, At("cla", Day(2024, 1, 14), {"legal_status"}),
                            Cell{{"legal_status", "C2"}});
  ASSERT_TRUE(lineage.ok()) << lineage.status().ToString();
  EXPECT_EQ(Pairs(*lineage),
            (std::vector<std::pair<std::string, std::string>>{{"children", "A.reg"},
                                                              {"children", "D.reg"},
                                                              {"children", "a1"},
                                                              {"children", "a2"},
                                                              {"children", "d1"},
                                                              {"children", "d2"}}));
}

// ---- Corrections, late events, known-at
// ------------------------------------------------------------ Batch 1 (ingested 2025-01-01): T1
// looked after 2024-01-01..2024-03-01; T2 from 2024-01-01 on U1. Batch 2 (ingested 2025-02-01):
// T1's end is retracted; T2's start is corrected to 2024-02-01 on U3. Batch 3 (ingested
// 2025-03-01): T4's care 2019-01-01..2019-03-01, long ago.
Lines Batch1() {
  return {Reg("T1", "2012-01-01"), Start("t1.s", "T1", "2024-01-01", "C2", "U1"),
          End("t1.e", "T1", "2024-03-01"), Reg("T2", "2012-01-01"),
          Start("t2.s", "T2", "2024-01-01", "C2", "U1")};
}
Lines Batch2() {
  return {
      Ev("t1.x", "event.retracted", "T1", "2025-01-15",
         R"("target_event_id":"t1.e","reason":"entered in error")"),
      Start("t2.s2", "T2", "2024-02-01", "C2", "U3", "PR1", false, "2025-01-20T09:00:00Z", "t2.s")};
}
Lines Batch3() {
  return {Reg("T4", "2005-01-01"), Start("t4.s", "T4", "2019-01-01", "C2", "U1"),
          End("t4.e", "T4", "2019-03-01")};
}

TEST_F(MetricPopulation, RetractionAndSupersedesChangeTheFigures) {
  Fold(*store_, Batch1(), On(2025, 1, 1));
  // Before the corrections: 2024-01-15 T1, T2 both on U1; 2024-06-01 only T2 (T1 ended 03-01).
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 1, 15), {"placement"}))),
            (Column{{"U1", "2"}}));
  EXPECT_EQ(ClaAt(Day(2024, 6, 1)), "1");
  Fold(*store_, Batch2(), On(2025, 2, 1));
  // After: T1 never ended; T2 starts 2024-02-01 on U3 instead.
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 1, 15), {"placement"}))),
            (Column{{"U1", "1"}}));
  EXPECT_EQ(Col(Report(*store_, At("cla", Day(2024, 2, 15), {"placement"}))),
            (Column{{"U1", "1"}, {"U3", "1"}}));
  EXPECT_EQ(ClaAt(Day(2024, 6, 1)), "2");
  // Over 2024: T1 and T2 both start and nobody ends (T1's end is gone).
  EXPECT_EQ(Report(*store_, Over("cla", Day(2024, 1, 1), Day(2025, 1, 1))),
            (test::Figures{{"", {{"children", "2"}, {"started", "2"}, {"ended", "0"}}}}));
}

TEST_F(MetricPopulation, LateEventChangesOnlyThePastFigureItBelongsTo) {
  Fold(*store_, Batch1(), On(2025, 1, 1));
  Fold(*store_, Batch2(), On(2025, 2, 1));
  auto figures = [&] {
    return std::vector<test::Figures>{
        Report(*store_, At("cla", Day(2018, 12, 31))), Report(*store_, At("cla", Day(2019, 3, 1))),
        Report(*store_, At("cla", Day(2024, 6, 1), {"placement"})),
        Report(*store_, Over("cla", Day(2024, 1, 1), Day(2025, 1, 1))),
        Report(*store_, Over("cla", Day(2020, 1, 1), Day(2025, 1, 1)))};
  };
  auto before = figures();
  EXPECT_EQ(ClaAt(Day(2019, 2, 1)), "0");
  EXPECT_EQ(Report(*store_, Over("cla", Day(2019, 1, 1), Day(2020, 1, 1))),
            (test::Figures{{"", {{"children", "0"}, {"started", "0"}, {"ended", "0"}}}}));
  Fold(*store_, Batch3(), On(2025, 3, 1));
  // T4 was looked after 2019-01-01..2019-02-28: the 2019 figures change...
  EXPECT_EQ(ClaAt(Day(2019, 2, 1)), "1");
  EXPECT_EQ(Report(*store_, Over("cla", Day(2019, 1, 1), Day(2020, 1, 1))),
            (test::Figures{{"", {{"children", "1"}, {"started", "1"}, {"ended", "1"}}}}));
  // ...and nothing else: the day before, the day it ended, 2024, and 2020-2024.
  EXPECT_EQ(figures(), before);
}

TEST_F(MetricPopulation, AsKnownAtShowsTheFigureBeforeAndAfterALaterBatch) {
  Fold(*store_, Batch1(), On(2025, 1, 1));
  Fold(*store_, Batch2(), On(2025, 2, 1));
  Fold(*store_, Batch3(), On(2025, 3, 1));
  auto known = [&](Instant t, Date d) {
    MetricQuery q = At("cla", d);
    q.known_at = t;
    return Col(Report(*store_, q))[""];
  };
  // Before anything was ingested: nobody.
  EXPECT_EQ(known(On(2024, 12, 31), Day(2024, 6, 1)), "0");
  // After batch 1 only: T2 (T1 ended 2024-03-01); 2024-01-15: T1 and T2.
  EXPECT_EQ(known(On(2025, 1, 1), Day(2024, 6, 1)), "1");
  EXPECT_EQ(known(On(2025, 1, 31), Day(2024, 6, 1)), "1");
  EXPECT_EQ(known(On(2025, 1, 31), Day(2024, 1, 15)), "2");
  // From the moment batch 2 was ingested: T1's end retracted (2 on 06-01), T2 from 02-01
  // (only T1 on 01-15).
  EXPECT_EQ(known(On(2025, 2, 1), Day(2024, 6, 1)), "2");
  EXPECT_EQ(known(On(2025, 2, 1), Day(2024, 1, 15)), "1");
  // T4's 2019 care is known only from 2025-03-01.
  EXPECT_EQ(known(On(2025, 2, 28), Day(2019, 2, 1)), "0");
  EXPECT_EQ(known(On(2025, 3, 1), Day(2019, 2, 1)), "1");
  EXPECT_EQ(ClaAt(Day(2019, 2, 1)), "1");
}

// ---- Order independence
// ----------------------------------------------------------------------------
TEST_F(MetricPopulation, ShuffledEventsAndBatchSizesGiveTheSameStateAndFigures) {
  Lines all;
  for (const auto& part :
       {ClaFeed(), CriminalisationFeed(), CaseloadFeed(), Batch1(), Batch2(), Batch3()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  auto figures = [&](const EventStore& store) {
    return std::vector<test::Figures>{
        Report(store, At("cla", Day(2024, 1, 14), {"legal_status"})),
        Report(store, At("cla", Day(2024, 6, 1), {"placement", "area"})),
        Report(store, Over("cla", Day(2024, 1, 1), Day(2024, 7, 1))),
        Report(store, At("care-leavers", Day(2025, 6, 1))),
        Report(store, Criminalisation2025()),
        Report(store, At("yjs-caseload", Day(2025, 6, 1)))};
  };
  auto hash = [](const EventStore& store) {
    auto h = ProjectionStateHash(store);
    EXPECT_TRUE(h.ok());
    return h.ok() ? ToHex(*h) : std::string();
  };
  Fold(*store_, all);
  const std::string expected_hash = hash(*store_);
  const auto expected = figures(*store_);
  ASSERT_FALSE(expected_hash.empty());
  // Some figures of all the fixtures together, by hand, so that the shuffled stores are held
  // to them and not only to each other. 2024-01-14: C1 = B; C2 = A, D, R1, R4, R5, R6, R7, R13,
  // S1, S2, T1 = 11 (T2 starts 2024-02-01 once corrected).
  EXPECT_EQ(Col(expected[0]), (Column{{"C1", "1"}, {"C2", "11"}}));
  // OC2 cohort 2025 now also has B (17), E (14, back from 2024-04-01: exactly the 12 months),
  // S1 (15), T1 (13) and T2 (13, from 2024-02-01), all looked after throughout: 9, of whom R1
  // has a formal outcome = 11.1 %; the area rate is still 5 / 1000 = 0.5 %, so the ratio is
  // 11.11 / 0.5 = 22.2.
  EXPECT_EQ(Col(expected[4], "oc2_cohort"), (Column{{"", "9"}}));
  EXPECT_EQ(Col(expected[4], "ratio"), (Column{{"", "22.2"}}));
  // Cases belong to S1..S5 only, and nobody else changes their cohort.
  EXPECT_EQ(Col(expected[5], "open_cases"), (Column{{"court_order", "2"}, {"oocd", "1"}}));

  const size_t sizes[] = {1, 2, 3, 7, 50};
  for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    Lines lines = all;
    std::mt19937 rng(seed);
    std::shuffle(lines.begin(), lines.end(), rng);
    size_t size = sizes[seed % 5];
    auto store = OpenStore("seed" + std::to_string(seed));
    ASSERT_NE(store, nullptr);
    Fold(*store, lines, Instant{}, size);
    EXPECT_EQ(hash(*store), expected_hash) << "seed " << seed << ", batches of " << size;
    EXPECT_EQ(figures(*store), expected) << "seed " << seed << ", batches of " << size;
  }
}

}  // namespace
}  // namespace careledger
