// KPIs and their comparators (docs/kpi.md): published tables read as DfE and the YJB publish
// them (their figures checked against the PROVENANCE.md of ../shared/fixtures), statuses against
// targets, the settings that change the default set, and a KPI read from a hand-built store.
#include <filesystem>
#include <fstream>

#include "metrics_offences_support.h"

namespace careledger::metrics_offences_test {
namespace {

namespace fs = std::filesystem;

std::optional<fs::path> SharedTable(const std::string& set, const std::string& file) {
  fs::path path = (fs::path(CARELEDGER_SOURCE_DIR) / ".." / "shared" / "fixtures" / set / file)
                      .lexically_normal();
  if (!fs::exists(path)) return std::nullopt;
  return path;
}

constexpr const char* kNoShared =
    "the shared fixtures (CARELEDGER_SOURCE_DIR/../shared/fixtures) are not here: ";

ReferenceTable Read(const fs::path& path, std::vector<std::string>* problems_out = nullptr) {
  std::vector<std::string> problems;
  auto table = ReadReferenceTable(path.string(), "", problems);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  if (problems_out) *problems_out = problems;
  return table.ok() ? std::move(*table) : ReferenceTable{};
}

// The published cell of one figure, "" when the table has none.
std::string Published(const ReferenceFigures& ref, std::string_view indicator,
                      std::string_view area, int year) {
  const ReferenceFigure* f = ref.Find(indicator, area, year);
  if (!f) return "";
  return f->year == year ? f->published : "year " + std::to_string(f->year);
}

TEST(ReferenceTables, ReadsDfeTablesAsPublished) {
  auto cla =
      SharedTable("socialcare/dfe-cla-la-2021-2025", "cla_number_and_rate_per_10k_children.csv");
  auto stability = SharedTable("socialcare/dfe-cla-la-2021-2025", "la_cla_placement_stability.csv");
  if (!cla || !stability) GTEST_SKIP() << kNoShared << "socialcare/dfe-cla-la-2021-2025";
  std::vector<std::string> problems;
  ReferenceTable numbers = Read(*cla, &problems);
  EXPECT_THAT(problems, ::testing::IsEmpty());
  EXPECT_EQ(numbers.layout, "wide");
  EXPECT_EQ(numbers.name, "cla_number_and_rate_per_10k_children");
  // 2,505 rows, each with three measures (population_estimate, children_count, rate_per_10000).
  EXPECT_EQ(numbers.figures.size(), 2505u * 3);
  ReferenceTable placements = Read(*stability);
  EXPECT_EQ(placements.figures.size(), 5010u * 2);
  auto ref = ReferenceFigures::Of({std::move(numbers), std::move(placements)});

  const std::string on_31_march = "children_looked_after_on_31_march_each_year.";
  // PROVENANCE.md, "Figures a test can check exactly".
  EXPECT_EQ(Published(ref, on_31_march + "children_count", "E92000001", 2025), "81770");
  EXPECT_EQ(Published(ref, on_31_march + "rate_per_10000", "E92000001", 2025), "67");
  EXPECT_EQ(Published(ref, on_31_march + "population_estimate", "E92000001", 2025), "12183016");
  EXPECT_EQ(Published(ref, "children_starting_to_be_looked_after_each_year.children_count",
                      "E92000001", 2025),
            "32270");
  EXPECT_EQ(Published(ref, "children_ceasing_to_be_looked_after_each_year.children_count",
                      "E92000001", 2025),
            "34450");
  EXPECT_EQ(Published(ref, on_31_march + "children_count", "E08000009", 2025), "353");
  EXPECT_EQ(Published(ref, on_31_march + "rate_per_10000", "E08000009", 2025), "62");
  // Trafford by its DfE LA number as well as its ONS code.
  EXPECT_EQ(Published(ref, on_31_march + "children_count", "358", 2025), "353");
  // Markers are kept as published, with no value: City of London 2025 is suppressed (c), and
  // Cumbria no longer exists in 2025 (z).
  const ReferenceFigure* city = ref.Find(on_31_march + "children_count", "E09000001", 2025);
  ASSERT_NE(city, nullptr);
  EXPECT_EQ(city->published, "c");
  EXPECT_FALSE(city->value);
  EXPECT_EQ(Published(ref, on_31_march + "children_count", "E10000006", 2025), "z");

  const std::string three_plus = "cla_on_31_march.with_3_or_more_placements_during_the_year.";
  EXPECT_EQ(Published(ref, three_plus + "children_count", "E08000009", 2025), "20");
  EXPECT_EQ(Published(ref, three_plus + "children_percent", "E08000009", 2025), "6");
  EXPECT_EQ(Published(ref, three_plus + "children_count", "E92000001", 2025), "8500");
  EXPECT_EQ(Published(ref, three_plus + "children_percent", "E92000001", 2025), "10");
  const std::string same_carer =
      "children_looked_after_continuously_for_at_least_2_5_years_on_31_march_aged_under_16_years."
      "living_with_the_same_carer_for_at_least_2_years.";
  EXPECT_EQ(Published(ref, same_carer + "children_count", "E92000001", 2025), "19680");
  EXPECT_EQ(Published(ref, same_carer + "children_percent", "E92000001", 2025), "69");
  // A year not yet published gives the latest before it, which says its own year.
  EXPECT_EQ(Published(ref, three_plus + "children_percent", "E92000001", 2026), "year 2025");
  EXPECT_EQ(Published(ref, three_plus + "children_percent", "E92000001", 2020), "");
}

TEST(ReferenceTables, ReadsTheYjbLongLayoutAsPublished) {
  auto path = SharedTable("yjs/trafford-children-cautioned-sentenced", "children_offending.csv");
  if (!path) GTEST_SKIP() << kNoShared << "yjs/trafford-children-cautioned-sentenced";
  ReferenceTable table = Read(*path);
  EXPECT_EQ(table.layout, "long");
  EXPECT_EQ(table.figures.size(), 242u);
  auto ref = ReferenceFigures::Of({std::move(table)});
  const std::string count = "children_cautioned_or_sentenced.count";
  const std::string rate = "children_cautioned_or_sentenced.per_10_000_aged_10_17";
  // "2024/25" is the year ending 31 March 2025.
  EXPECT_EQ(Published(ref, count, "E92000001", 2025), "12661");
  EXPECT_EQ(Published(ref, rate, "E92000001", 2025), "22");
  EXPECT_EQ(Published(ref, count, "E92000001", 2015), "36018");
  EXPECT_EQ(Published(ref, rate, "E92000001", 2015), "74");
  EXPECT_EQ(Published(ref, count, "E08000009", 2025), "38");
  EXPECT_EQ(Published(ref, rate, "E08000009", 2025), "14");
  EXPECT_EQ(Published(ref, rate, "E08000009", 2015), "54");
  double england = 0;
  for (const auto& f : ref.tables()[0].figures) {
    if (f.indicator == count && f.area_code == "E92000001") england += f.value.value_or(0);
  }
  EXPECT_EQ(england, 231184);
}

TEST(ReferenceTables, NamesRowsItLeavesOutAndRefusesOtherFiles) {
  test::TempDir dir;
  const fs::path wide = fs::path(dir.path()) / "wide.csv";
  std::ofstream(wide) << "\xEF\xBB\xBFtime_period,time_identifier,geographic_level,country_code,"
                         "country_name,new_la_code,la_name,measure_group,children_count\n"
                      << "2025,Reporting year,National,E92000001,England,,,All,100\n"
                      << "20x5,Reporting year,National,E92000001,England,,,All,7\n"
                      << "2024,Reporting year,Local authority,E92000001,England,E06000001,"
                         "Hartlepool,All,c\n"
                      << "2024,Reporting year,National,E92000001,England,,,All\n";
  std::vector<std::string> problems;
  auto table = ReadReferenceTable(wide.string(), "mine", problems);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->name, "mine");
  ASSERT_EQ(table->figures.size(), 2u);
  EXPECT_EQ(table->figures[0].indicator, "all.children_count");
  EXPECT_EQ(table->figures[1].published, "c");
  EXPECT_EQ(table->figures[1].level, "local_authority");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0], wide.string() + ":5: 8 cells where the header has 9");
  EXPECT_EQ(problems[1], wide.string() + ":3: time_period '20x5' is not a year (2025, 202425)");

  // Kept in the store and read back as it was.
  auto decoded = DecodeReferenceTable("mine", EncodeReferenceTable(*table));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->sha256, table->sha256);
  ASSERT_EQ(decoded->figures.size(), 2u);
  EXPECT_EQ(decoded->figures[1].area_code, "E06000001");
  EXPECT_EQ(decoded->figures[0].value, 100.0);

  const fs::path other = fs::path(dir.path()) / "other.csv";
  std::ofstream(other) << "a,b\n1,2\n";
  auto refused = ReadReferenceTable(other.string(), "", problems);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("other.csv:1: not a published table"));
}

Kpi Lower(double target, std::optional<double> red) {
  Kpi k;
  k.target = target;
  k.red = red;
  return k;
}

TEST(KpiStatus, GreenAtOrBetterThanTargetRedAtOrPastRedAmberBetween) {
  const Kpi lower = Lower(10, 15);
  EXPECT_EQ(JudgeKpi(lower, 8.0), KpiStatus::kGreen);
  EXPECT_EQ(JudgeKpi(lower, 10.0), KpiStatus::kGreen);
  EXPECT_EQ(JudgeKpi(lower, 12.5), KpiStatus::kAmber);
  EXPECT_EQ(JudgeKpi(lower, 15.0), KpiStatus::kRed);
  EXPECT_EQ(JudgeKpi(lower, std::nullopt), KpiStatus::kNoFigure);
  Kpi higher = Lower(75, 60);
  higher.higher_is_better = true;
  EXPECT_EQ(JudgeKpi(higher, 80.0), KpiStatus::kGreen);
  EXPECT_EQ(JudgeKpi(higher, 70.0), KpiStatus::kAmber);
  EXPECT_EQ(JudgeKpi(higher, 60.0), KpiStatus::kRed);
  // Without a red threshold, anything worse than the target is red; without a target, nothing
  // is judged.
  EXPECT_EQ(JudgeKpi(Lower(10, std::nullopt), 10.1), KpiStatus::kRed);
  EXPECT_EQ(JudgeKpi(Kpi{}, 3.0), KpiStatus::kNoTarget);
  EXPECT_EQ(KpiStatusGauge(KpiStatus::kAmber), 1);
  EXPECT_EQ(KpiStatusGauge(KpiStatus::kNoTarget), -1);
}

using KpiSettings = std::map<std::string, std::map<std::string, SettingValue>>;
SettingValue At(std::string value, int line) {
  return {std::move(value), SettingOrigin::kFile, "careledger.toml:" + std::to_string(line)};
}

TEST(KpiSettingsTest, ChangeAddAndDropDefaults) {
  auto defaults = DefaultKpis();
  ASSERT_EQ(defaults.size(), 9u);
  auto kpis =
      KpisFromSettings({{"informal_share_cla", {{"target", At("75", 3)}, {"red", At("60.5", 4)}}},
                        {"reoffending", {{"enabled", At("false", 6)}}},
                        {"callouts_restraints",
                         {{"metric", At("callouts", 8)},
                          {"measure", At("restraints", 9)},
                          {"better", At("lower", 10)},
                          {"window", At("period", 11)},
                          {"comparators.national", At("some.indicator", 12)}}}});
  ASSERT_TRUE(kpis.ok()) << kpis.status().ToString();
  ASSERT_EQ(kpis->size(), 9u);
  const Kpi& informal = (*kpis)[1];
  EXPECT_EQ(informal.id, "informal_share_cla");
  EXPECT_EQ(informal.target, 75.0);
  EXPECT_EQ(informal.red, 60.5);
  EXPECT_TRUE(informal.higher_is_better);
  EXPECT_TRUE(
      std::none_of(kpis->begin(), kpis->end(), [](const Kpi& k) { return k.id == "reoffending"; }));
  const Kpi& added = kpis->back();
  EXPECT_EQ(added.id, "callouts_restraints");
  EXPECT_FALSE(added.twelve_months);
  ASSERT_EQ(added.comparators.size(), 1u);
  EXPECT_EQ(added.comparators[0].first, "national");

  auto refused = [](KpiSettings settings) {
    auto r = KpisFromSettings(settings);
    return r.ok() ? std::string("accepted") : r.status().message();
  };
  EXPECT_EQ(refused({{"informal_share_cla", {{"target", At("75", 3)}, {"red", At("80", 4)}}}}),
            "careledger.toml:3: [kpi.informal_share_cla] red must be below the target when "
            "higher is better");
  EXPECT_EQ(refused({{"reoffending", {{"goal", At("1", 7)}}}}),
            "careledger.toml:7: 'kpi.reoffending.goal' is not a KPI setting (title, metric, "
            "measure, select, better, target, red, scale, unit, window, comparators, enabled)");
  EXPECT_EQ(refused({{"x", {{"metric", At("outcomes", 2)}}}}),
            "careledger.toml:2: [kpi.x] needs a metric and a measure (a column of `careledger "
            "report METRIC`)");
  EXPECT_EQ(refused({{"x", {{"metric", At("nope", 2)}}}}),
            "careledger.toml:2: 'kpi.x.metric' names no metric ('nope')");
  EXPECT_EQ(refused({{"x",
                      {{"metric", At("outcomes", 2)},
                       {"measure", At("offences", 3)},
                       {"select.colour", At("red", 4)}}}}),
            "careledger.toml:2: [kpi.x] selects by 'colour', which outcomes does not break down "
            "by");
}

// Informal share for children looked after, by hand: A is looked after from 2022. In the year
// ending 31 March 2025 four of its offences were decided, three without sanction or informally
// (75.0 %); in the year before, two, one of them (50.0 %).
class KpiFromStore : public MetricsOffences {
 protected:
  void SetUp() override {
    MetricsOffences::SetUp();
    Fold(*store_, {
                      Registered("a0", "A", "2009-01-01", "M", "WBRI"),
                      CareStarted("a1", "A", "2022-01-01", "H1"),
                      OffenceRecorded("a2", "A", "o1", "2024-05-01", "theft_handling"),
                      Disposal("a3", "A", "o1", "2024-05-10", "informal_no_yjs"),
                      OffenceRecorded("a4", "A", "o2", "2024-06-01", "theft_handling"),
                      Disposal("a5", "A", "o2", "2024-06-20", "youth_caution"),
                      OffenceRecorded("a6", "A", "o3", "2024-08-01", "criminal_damage"),
                      Disposal("a7", "A", "o3", "2024-08-02", "nfa"),
                      OffenceRecorded("a8", "A", "o4", "2025-01-01", "theft_handling"),
                      Disposal("a9", "A", "o4", "2025-03-31", "outcome_22"),
                      OffenceRecorded("b1", "A", "o5", "2023-06-01", "theft_handling"),
                      Disposal("b2", "A", "o5", "2023-06-02", "nfa"),
                      OffenceRecorded("b3", "A", "o6", "2023-07-01", "theft_handling"),
                      Disposal("b4", "A", "o6", "2023-07-10", "youth_caution"),
                  });
  }
  static Kpi Informal() {
    Kpi k = DefaultKpis()[1];
    k.target = 70;
    k.red = 55;
    k.comparators = {{"national", "informal.pct"},
                     {"neighbours", "informal.pct"},
                     {"region", "informal.pct"},
                     {"local", "not.imported"}};
    return k;
  }
  static ReferenceFigures Comparators() {
    ReferenceTable t;
    t.file = "informal.csv";
    auto add = [&](std::string area, int year, std::string published) {
      ReferenceFigure f;
      f.indicator = "informal.pct";
      f.area_code = std::move(area);
      f.year = year;
      f.published = std::move(published);
      f.value = f.published == "c" ? std::nullopt : std::optional<double>(std::stod(f.published));
      t.figures.push_back(std::move(f));
    };
    add("E92000001", 2024, "61");
    add("E92000001", 2025, "64");
    add("E06000001", 2025, "70");
    add("E06000002", 2025, "c");
    add("E06000003", 2024, "59");
    std::vector<ReferenceTable> tables;
    tables.push_back(std::move(t));
    return ReferenceFigures::Of(std::move(tables));
  }
};

TEST_F(KpiFromStore, ValueYearEarlierStatusAndComparators) {
  const auto reference = Comparators();
  const KpiQuery query{.period = {Day(2025, 1, 1), Day(2025, 4, 1)},
                       .today = Day(2026, 1, 1),
                       .area = {.code = "E06000009",
                                .name = "",
                                .region = "",
                                .neighbours = {"E06000001", "E06000002", "E06000003"}}};
  auto results = EvaluateKpis(*store_, {Informal()}, reference, query);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 1u);
  const KpiResult& r = (*results)[0];
  // The 12 months to the end of the quarter asked for, and the 12 before them.
  EXPECT_EQ(r.window, "2024-04-01..2025-04-01");
  EXPECT_EQ(r.earlier_window, "2023-04-01..2024-04-01");
  EXPECT_EQ(r.exact_value, 75.0);
  EXPECT_EQ(r.year_earlier.value, 50.0);
  EXPECT_EQ(r.status, KpiStatus::kGreen);
  EXPECT_EQ(r.comparator_year, 2025);
  ASSERT_EQ(r.comparators.size(), 4u);
  EXPECT_EQ(r.comparators[0].published, "64");
  // In the columns' order: national, region, neighbours, local.
  EXPECT_EQ(r.comparators[1].published, "");
  EXPECT_EQ(r.comparators[1].note, "no region in the settings ([area] region = ...)");
  // The neighbours' mean of those with a figure: 70 (2025) and 59 (2024, the latest it has);
  // the suppressed one is left out.
  EXPECT_EQ(r.comparators[2].published, "64.5");
  EXPECT_EQ(r.comparators[2].note, "mean of 2 of 3 statistical neighbours");
  EXPECT_EQ(r.comparators[3].published, "");
  EXPECT_THAT(r.comparators[3].note, ::testing::HasSubstr("no imported table holds not.imported"));

  EXPECT_EQ(Render(KpiReport(*results, query), OutputFormat::kCsv),
            "kpi,window,unit,better,value,year_earlier,change,target,red,status,national,region,"
            "neighbours,local\n"
            "informal_share_cla,2024-04-01..2025-04-01,%,higher,75.0,50.0,+25.0,70,55,green,64,,"
            "64.5,\n"
            "# note: informal_share_cla: Offences by children looked after resolved informally; "
            "informal-share informal_pct where cohort=cla; the year before: "
            "2023-04-01..2024-04-01; comparators: national: year ending 31 March 2025, "
            "informal.csv; region: no region in the settings ([area] region = ...); neighbours: "
            "year ending 31 March 2025, informal.csv (mean of 2 of 3 statistical neighbours); "
            "local: no imported table holds not.imported (careledger reference import FILE)\n");

  // Amber and red as the thresholds move; a year with nothing decided has no figure.
  Kpi amber = Informal();
  amber.target = 80;
  Kpi red = Informal();
  red.target = 90;
  red.red = 75;
  Kpi none = Informal();
  auto judged = EvaluateKpis(*store_, {amber, red}, reference, query);
  ASSERT_TRUE(judged.ok());
  EXPECT_EQ((*judged)[0].status, KpiStatus::kAmber);
  EXPECT_EQ((*judged)[1].status, KpiStatus::kRed);
  KpiQuery later = query;
  later.period = {Day(2026, 1, 1), Day(2026, 4, 1)};
  auto empty = EvaluateKpis(*store_, {none}, reference, later);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ((*empty)[0].status, KpiStatus::kNoFigure);
  EXPECT_EQ((*empty)[0].year_earlier.value, 75.0);
}

TEST_F(KpiFromStore, PublishedWithholdsASmallFigureButKeepsItsStatus) {
  // Four offences of children looked after: the percentage is derived from a count under 5.
  const KpiQuery query{.period = {Day(2024, 4, 1), Day(2025, 4, 1)},
                       .today = Day(2026, 1, 1),
                       .published = true,
                       .threshold = 5};
  auto results = EvaluateKpis(*store_, {Informal()}, ReferenceFigures{}, query);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  const KpiResult& r = (*results)[0];
  EXPECT_EQ(r.value.kind, Figure::Kind::kText);
  EXPECT_EQ(r.value.text, "c");
  EXPECT_EQ(r.status, KpiStatus::kGreen);
  const std::string json =
      Render(KpiReport(*results, query), OutputFormat::kJson, {.published = true});
  EXPECT_THAT(json, ::testing::HasSubstr(R"("value":"c","year_earlier":"c","change":"c")"));
  EXPECT_THAT(json, ::testing::HasSubstr(R"("status":"green")"));
  // Exact, the change is a number like the figures it is the difference of.
  const KpiQuery exact{.period = query.period, .today = query.today};
  auto exact_results = EvaluateKpis(*store_, {Informal()}, ReferenceFigures{}, exact);
  ASSERT_TRUE(exact_results.ok());
  EXPECT_THAT(Render(KpiReport(*exact_results, exact), OutputFormat::kJson),
              ::testing::HasSubstr(R"("value":75.0,"year_earlier":50.0,"change":25.0,"target":70,)"
                                   R"("red":55,"status":"green")"));
}

TEST_F(KpiFromStore, ReferenceTablesAreKeptInTheStore) {
  ReferenceTable t;
  t.name = "informal";
  t.file = "informal.csv";
  t.figures.push_back({.indicator = "informal.pct",
                       .level = "national",
                       .area_code = "E92000001",
                       .la_number = "",
                       .area_name = "England",
                       .period = "2024/25",
                       .year = 2025,
                       .published = "64",
                       .value = 64.0});
  ASSERT_TRUE(store_->PutReference(t.name, EncodeReferenceTable(t)).ok());
  t.figures[0].published = "65";  // a new import replaces the table whole
  ASSERT_TRUE(store_->PutReference(t.name, EncodeReferenceTable(t)).ok());
  auto loaded = ReferenceFigures::Load(*store_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->tables().size(), 1u);
  EXPECT_EQ(Published(*loaded, "informal.pct", "E92000001", 2025), "65");
}

}  // namespace
}  // namespace careledger::metrics_offences_test
