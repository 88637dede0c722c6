// M5 criminalisation of children in care, OC2 / former PAF C18 (docs/metrics.md:
// `criminalisation` in "The metrics", M5 in "What ingest keeps"). Ingest keeps its year-ending
// rows, each dated 31 March with the child's dimensions that day, so that a year's figures are
// the rows of one day.
#include "aggregate.h"

namespace careledger::metrics {

// One row for each year ending 31 March in which the child was 10-17 on that day and in the
// OC2 cohort or given a formal outcome in the year.
std::vector<KeptRow> YearEndingRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  if (!child.dob) return rows;
  int born = int(std::chrono::year_month_day{*child.dob}.year());
  for (int y = born + 10; y <= born + 18; ++y) {
    const YearEnding year_ending{y};
    const Date end = year_ending.Last();
    auto age = AgeAt(child, end);
    if (!IsAged10To17(age)) continue;
    Window year{year_ending.First(), year_ending.End()};
    auto formal = FormalIn(child, year);
    bool in_cohort = InOc2Cohort(child, y);
    if (!in_cohort && formal.empty()) continue;
    KeptRow& row = rows.emplace_back(NewRow(RowKind::kYearEnding, child, end, ""));
    JudgeDimensions(child, end, {}, row);
    row.number = (in_cohort ? kInOc2Cohort : 0) | (formal.empty() ? 0 : kFormalInYear);
    row.event_ids.emplace_back(child.registered ? child.registered->event_id : "");
    if (!formal.empty()) {
      for (const Fact* f : OffenceFacts(child, *formal.front()))
        row.event_ids.push_back(f->event_id);
    }
  }
  return rows;
}

Status Criminalisation(Run& r) {
  enum { kCohort, kCohortFormal, kAreaFormal };
  const Date end = YearEnding{r.year}.Last();
  auto acc = r.NewAccumulator({"oc2_cohort", "oc2_with_formal", "area_with_formal"});
  RowGrouping grouping(r.by);
  Window on_the_day{end, end + std::chrono::days{1}};
  // The lineage cell's children in the cohort, and whether each had a formal outcome: their
  // care events are read from their timelines below (a row keeps only the registration).
  std::map<std::string, std::pair<GroupKey, bool>> cohort_of_cell;
  CARELEDGER_RETURN_IF_ERROR(
      ForEachRow(r, RowKind::kYearEnding, on_the_day, [&](const KeptRow& row) {
        auto key = grouping.Key(row);
        bool in_cohort = row.number & kInOc2Cohort;
        if (in_cohort && acc.IsTarget(key)) {
          cohort_of_cell.emplace(row.child_id, std::pair{key, bool(row.number & kFormalInYear)});
        }
        std::vector<std::string> registered, formal;
        if (!row.event_ids.empty() && !row.event_ids[0].empty()) {
          registered.push_back(row.event_ids[0]);
        }
        if (row.event_ids.size() > 1) formal.assign(row.event_ids.begin() + 1, row.event_ids.end());
        if (in_cohort) acc.AddRow(key, kCohort, 1, row, registered);
        if (!(row.number & kFormalInYear)) return;
        acc.AddRow(key, kAreaFormal, 1, row, formal);
        if (in_cohort) acc.AddRow(key, kCohortFormal, 1, row, formal);
      }));
  if (!cohort_of_cell.empty()) {
    std::vector<std::string> ids;
    ids.reserve(cohort_of_cell.size());
    for (const auto& [id, of] : cohort_of_cell) ids.push_back(id);
    CARELEDGER_RETURN_IF_ERROR(r.ChildrenNamed(ids, [&](const ChildView& child) {
      auto it = cohort_of_cell.find(std::string(child.child_id));
      if (it == cohort_of_cell.end()) return;
      const auto& [key, formal] = it->second;
      std::vector<const Fact*> care;
      for (const CareSpell* s : Oc2CohortSpells(child, r.year)) {
        care.insert(care.end(), s->facts.begin(), s->facts.end());
      }
      acc.AddFacts(key, kCohort, 0, care);
      if (formal) acc.AddFacts(key, kCohortFormal, 0, care);
    }));
  }
  std::optional<int64_t> population;
  if (r.by.empty()) population = r.Population10To17(r.year - 1);
  r.Emit(acc,
         {"oc2_cohort", "oc2_with_formal", "oc2_rate_pct", "area_with_formal",
          "area_population_10_17", "area_rate_pct", "ratio"},
         [&](const RowAccumulator& a) {
           const auto& n = a.counts;
           auto cohort_rate = Figure::Percent(n[kCohortFormal], n[kCohort]).Columns(1, 0);
           Figure area_rate = Figure::Empty(Figure::Kind::kPercent);
           area_rate.numerator = n[kAreaFormal];
           Figure pop = Figure::Empty(Figure::Kind::kCount);
           if (population) {
             area_rate = Figure::Percent(n[kAreaFormal], *population);
             // A published estimate, not a count of children in the store: never withheld.
             pop = Figure::Count(*population);
             pop.numerator.reset();
           }
           area_rate = std::move(area_rate).Columns(3, 4);
           return std::vector<Figure>{
               Figure::Count(n[kCohort]),
               Figure::Count(n[kCohortFormal]),
               cohort_rate,
               Figure::Count(n[kAreaFormal]),
               pop,
               area_rate,
               Figure::Ratio(cohort_rate.value, area_rate.value).From({2, 5})};
         });
  if (!r.by.empty()) {
    r.table.notes.emplace_back("the area rate needs the whole area's population: ask without --by");
  }
  return Status::Ok();
}

}  // namespace careledger::metrics
