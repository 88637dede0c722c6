// The figures ingest keeps against the fold on generated feeds: CLA from the counters, the rows
// kept for the offence metrics (shuffled, in batches, with corrections), figures as known at a
// past time, and row versions rebuilt from the log.
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
      {"custody", {"cohort"}},
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
      // (31 March 2026 is ahead of the first three times: read from the fold as it stood.)
      for (const char* metric : {"criminalisation", "placement-stability"}) {
        MetricQuery kept = At(metric, Day(y + 1, 3, 31)), folded = kept;
        kept.known_at = folded.known_at = known_at;
        folded.fold = true;
        EXPECT_EQ(Report(*store_, kept), Report(*store_, folded))
            << metric << ", year ending 31 March " << y + 1;
      }
    }
    offences.push_back(decided);
    looked_after.push_back(cla);
  }
  // Not five comparisons of the same table: the deliveries add to what was known (the first
  // third of the feed's lines is mostly the area's registrations and the care already under
  // way on its first day, so no outcome is known until the second), and the figures a second
  // after a delivery are the delivery's. By the fold: outcomes 0, 0, 93, 93, 203; CLA on the
  // three 31 Marches, summed, 0, 459, 470, 470, 491.
  EXPECT_EQ(offences, (std::vector<int64_t>{0, 0, 93, 93, 203}));
  EXPECT_EQ(looked_after, (std::vector<int64_t>{0, 459, 470, 470, 491}));
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

}  // namespace
}  // namespace careledger
