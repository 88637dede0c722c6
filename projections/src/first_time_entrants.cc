// M6 first-time entrants (docs/metrics.md: `fte` in "The metrics", M6 in "What ingest keeps").
// Ingest keeps a row for a child whose first formal outcome came at 10-17, on its decision date,
// with the child's age then; M12 reads the same rows.
#include <algorithm>
#include <numeric>

#include "aggregate.h"

namespace careledger::metrics {

const Offence* FirstFormal(const ChildView& c) {
  if (c.prior_formal_outcomes > 0) return nullptr;
  const Offence* first = nullptr;
  for (const auto& o : c.offences) {
    if (o.final && IsFormalDisposal(o.disposal) && (!first || o.decided < first->decided)) {
      first = &o;
    }
  }
  return first;
}

std::vector<KeptRow> FirstFormalRows(const ChildView& child) {
  const Offence* first = FirstFormal(child);
  if (!first) return {};
  auto age = AgeAt(child, first->decided);
  if (!IsAged10To17(age)) return {};
  std::vector<KeptRow> rows{
      NewRow(RowKind::kFirstFormal, child, first->decided, first->offence_id)};
  JudgeOffence(child, *first, first->decided, rows.back());
  rows.back().number = *age;
  return rows;
}

namespace {

// Each row's rate over its group's children aged 10-17 in the area (none for a group the
// settings lack).
void RateByGroups(Run& r, const std::map<std::string, int64_t>& groups) {
  for (auto& row : r.table.rows) {
    Figure rate = Figure::Empty(Figure::Kind::kPerHundredThousand);
    rate.numerator = row.values[0].numerator;
    auto it = groups.find(row.groups[0]);
    if (it != groups.end()) rate = Figure::Rate(*row.values[0].numerator, it->second);
    row.values[1] = std::move(rate).Columns(0, std::nullopt);
  }
}

}  // namespace

RateBase RateBaseOf(Run& r) {
  RateBase base;
  base.by_cohort = r.by == std::vector<std::string>{"cohort"};
  base.by_child = std::any_of(r.by.begin(), r.by.end(), [](const std::string& d) {
    return std::find(std::begin(kChildDimensions), std::end(kChildDimensions), d) !=
           std::end(kChildDimensions);
  });
  if (!base.by_child || base.by_cohort) {
    base.population = r.Population10To17(PopulationYear(r.window));
  }
  return base;
}

void RateOtherCohort(Run& r, std::optional<int64_t> population, const CohortRate& rate) {
  int64_t looked_after_or_leaving = 0;
  for (const auto& row : r.table.rows) {
    if (row.groups[0] != "other") {
      looked_after_or_leaving += row.values[rate.rate_column].denominator.value_or(0);
    }
  }
  for (auto& row : r.table.rows) {
    if (row.groups[0] != "other") continue;
    const int64_t count = *row.values[rate.count_column].numerator;
    Figure figure = Figure::Empty(rate.kind);
    figure.numerator = count;
    if (population) figure = rate.of(count, *population - looked_after_or_leaving);
    row.values[rate.rate_column] = std::move(figure).Columns(rate.count_column, std::nullopt);
  }
  r.table.notes.push_back(
      "rate per " + std::string(rate.per) + " of the row's own cohort aged 10-17 on " +
      FormatDate(r.window.from) +
      ": children looked after and care leavers as the store holds them; other children: the "
      "area population less both (" +
      std::to_string(looked_after_or_leaving) + ")");
}

// The child's first formal outcome ever, when the feed knows of none before it. The rate's
// denominator is the population the row is about: the area's children aged 10-17 by nothing or
// by offence group; by cohort, each cohort's own (children looked after and care leavers aged
// 10-17 on the period's first day, as the store holds them; other children: the area's less
// both), as DfE's OC2 measure divides by its own cohort; by sex, ethnicity group or age band,
// the area's children aged 10-17 in the row's group where the settings give them. By another
// child dimension the area population has no breakdown, so the rate is left blank.
Status FirstTimeEntrants(Run& r) {
  enum { kFte, kChildren };
  auto acc = r.NewAccumulator({"fte", "children_10_17"});
  RowGrouping grouping(r.by);
  CARELEDGER_RETURN_IF_ERROR(
      ForEachRow(r, RowKind::kFirstFormal, r.window, [&](const KeptRow& row) {
        auto key = grouping.Key(row);
        acc.AddRow(key, kFte, 1, row);
        acc.Sample(key, kFte, double(row.number));
      }));
  const RateBase base = RateBaseOf(r);
  const bool by_cohort = base.by_cohort, by_child = base.by_child;
  const std::optional<int64_t>& population = base.population;
  // By one dimension the settings break the area's population down by.
  std::optional<AreaPopulation> area;
  const std::map<std::string, int64_t>* groups = nullptr;
  if (by_child && r.by.size() == 1 && !by_cohort) {
    area = r.LatestPopulation(PopulationYear(r.window));
    if (area) groups = area->GroupsBy(r.by[0]);
    if (groups && groups->empty()) groups = nullptr;
  }
  if (by_cohort) {
    CARELEDGER_RETURN_IF_ERROR(AddAgedTenToSeventeen(r, acc, kChildren, r.window.from));
  } else if (groups) {
    r.table.notes.push_back("rate per 100,000 of the area's children aged 10-17 in the row's " +
                            r.by[0] + " (" + std::to_string(area->year) +
                            ", settings: [population] aged_10_17_by_" + r.by[0] +
                            "); a group the settings lack has no rate");
  } else if (by_child) {
    r.table.notes.emplace_back(
        "rates per 100,000 need the population of each group: ask by nothing, by cohort or by "
        "offence_group, or give the settings [population] YEAR = { aged_10_17_by_sex | "
        "aged_10_17_by_ethnicity_group | aged_10_17_by_age_band = { GROUP = N, ... } } and ask by "
        "that one dimension");
  }
  r.Emit(acc, {"fte", "rate_per_100k_10_17", "average_age"}, [&](const RowAccumulator& a) {
    const auto& ages = a.samples[kFte];
    Figure rate = Figure::Empty(Figure::Kind::kPerHundredThousand);
    rate.numerator = a.counts[kFte];
    if (population && !by_child) rate = Figure::Rate(a.counts[kFte], *population);
    // By cohort, the store's own count for now; "other" is set below from the area's.
    if (by_cohort) rate = Figure::Rate(a.counts[kFte], a.counts[kChildren]);
    return std::vector<Figure>{
        Figure::Count(a.counts[kFte]), std::move(rate).Columns(0, std::nullopt),
        Figure::Average(std::accumulate(ages.begin(), ages.end(), 0.0), int64_t(ages.size()))
            .Columns(std::nullopt, 0)};
  });
  if (groups) RateByGroups(r, *groups);
  if (by_cohort) {
    RateOtherCohort(r, population,
                    {0, 1, Figure::Kind::kPerHundredThousand, Figure::Rate, "100,000"});
  }
  return Status::Ok();
}

}  // namespace careledger::metrics
