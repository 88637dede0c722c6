// M12 disproportionality (docs/metrics.md: `disproportionality` in "The metrics", M12 in "What
// ingest keeps"): its denominators, the children aged 10-17 known to the store on the period's
// first day by the group compared, kept by ingest as counters and span rows, and the query that
// reads them with the numerators M3's, M6's and M7's rows give.
//
// A registered child counts from its 10th birthday to its 18th. Within those years its sex and
// ethnicity hold, and its cohort (cla, care_leaver, other) changes only where a spell of care
// starts or ends and on the 16th birthday (from which a child who has left care can be a care
// leaver): ingest judges the child on each of those days, as the fold does, and keeps each
// stretch, as counters for the live figure (a query reads the cells of the day asked about, not
// the children) and as span rows for the figure as known at a past time.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

constexpr int kFirstBirthday = 10, kSixteenth = 16, kEndBirthday = 18;

}  // namespace

std::string AgedTenToSeventeenCounter(std::string_view dimension) {
  return "aged_10_17:" + std::string(dimension);
}

std::vector<AgedTenToSeventeen> AgedTenToSeventeenStretches(const ChildView& child) {
  std::vector<AgedTenToSeventeen> out;
  if (!child.registered || !child.dob) return out;
  const Date first = BirthdayOf(child, kFirstBirthday), end = BirthdayOf(child, kEndBirthday);
  std::vector<Date> days{first, BirthdayOf(child, kSixteenth)};
  for (const auto& s : child.spells) {
    days.push_back(s.from);
    if (s.to) days.push_back(*s.to);
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  days.erase(
      std::remove_if(days.begin(), days.end(), [&](Date d) { return d < first || d >= end; }),
      days.end());
  for (Date d : days) {
    std::string cohort = DimensionValue("cohort", child, d, {});
    if (!out.empty() && out.back().cohort == cohort) continue;
    if (!out.empty()) out.back().to = d;
    out.push_back({d, end, std::move(cohort)});
  }
  return out;
}

void AddAgedTenToSeventeenCounters(const ChildView& child, Contribution& out) {
  const auto stretches = AgedTenToSeventeenStretches(child);
  if (stretches.empty()) return;
  const Date first = stretches.front().from, end = stretches.back().to;
  for (std::string_view dim : kAgedTenToSeventeenDimensions) {
    SpanMerger spans(out, AgedTenToSeventeenCounter(dim), child.partition);
    if (dim != "cohort") {
      spans.Add(first, end, DimensionValue(dim, child, first, {}));
      continue;
    }
    for (const auto& s : stretches) spans.Add(s.from, s.to, s.cohort);
  }
}

// The child's sex and ethnicity, and the cohort of the stretch, with the registration behind
// them: M12's children aged 10-17 on a day, as known at a past time, are the rows open on it.
std::vector<KeptRow> AgedTenToSeventeenRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  for (const auto& s : AgedTenToSeventeenStretches(child)) {
    KeptRow& row = rows.emplace_back(SpanRow(RowKind::kAgedTenToSeventeen, child, s.from,
                                             s.to - std::chrono::days{1}, FormatDate(s.from)));
    row.judged_on = s.from;
    for (std::string_view dim : {"sex", "ethnicity", "ethnicity_group"}) {
      row.values[*RowDimensionIndex(dim)] = DimensionValue(dim, child, s.from, {});
    }
    row.values[*RowDimensionIndex("cohort")] = s.cohort;
    row.event_ids.push_back(child.registered->event_id);
  }
  return rows;
}

namespace {

// The children aged 10-17 on `on` by their group that day, from the counters ingest keeps: live
// and without lineage (counters hold the state as ingested, and no event ids).
std::optional<Result<std::map<std::string, int64_t>>> AgedTenToSeventeenFromCounters(
    const Run& r, const std::string& dim, Date on) {
  if (r.query.known_at || r.query.fold || r.cell) return std::nullopt;
  const bool by_group = dim == "ethnicity_group";
  auto counts = r.CountersOn(on, AgedTenToSeventeenCounter(by_group ? "ethnicity" : dim));
  if (!counts.ok() || !by_group) return counts;
  std::map<std::string, int64_t> groups;
  for (const auto& [value, n] : *counts) groups[GroupOfEthnicity(value)] += n;
  return groups;
}

// The 95 % confidence interval of a relative rate index (a/n1)/(b/n2) by the log method
// (Katz): exp(ln RRI ± 1.96 √(1/a − 1/n1 + 1/b − 1/n2)). Undefined where either rate is 0.
std::pair<std::optional<double>, std::optional<double>> RateRatioInterval(const Figure& rate,
                                                                          const Figure& against) {
  if (!rate.numerator || !rate.denominator || !against.numerator || !against.denominator) {
    return {};
  }
  const auto a = static_cast<double>(*rate.numerator);
  const auto n1 = static_cast<double>(*rate.denominator);
  const auto b = static_cast<double>(*against.numerator);
  const auto n2 = static_cast<double>(*against.denominator);
  if (a <= 0 || b <= 0 || n1 <= 0 || n2 <= 0) return {};
  const double log_rri = std::log((a / n1) / (b / n2));
  const double se = std::sqrt(1 / a - 1 / n1 + 1 / b - 1 / n2);
  return {std::exp(log_rri - 1.96 * se), std::exp(log_rri + 1.96 * se)};
}

}  // namespace

Status AddAgedTenToSeventeen(Run& r, Accumulator& acc, size_t measure, Date on) {
  if (r.by.size() == 1) {
    if (auto counts = AgedTenToSeventeenFromCounters(r, r.by[0], on)) {
      if (!counts->ok()) return counts->status();
      for (const auto& [group, n] : **counts) {
        if (n != 0) acc.Add({group}, measure, n);
      }
      return Status::Ok();
    }
  }
  if (!r.query.fold) {
    // As known at a time, or for lineage: the rows open on the day, as they stood then.
    RowGrouping grouping(r.by);
    const uint32_t day = codec::DaysKey(on);
    // A stretch lies between the 10th birthday and the day before the 18th: 8 years at most.
    const Window running = SpansRunningOn(on, std::chrono::days{8 * 366});
    return ForEachRow(r, RowKind::kAgedTenToSeventeen, running, [&](const KeptRow& row) {
      if (uint64_t(row.number) <= day) acc.AddRow(grouping.Key(row), measure, 1, row);
    });
  }
  return r.Children([&](const ChildView& c) {
    if (c.registered && IsAged10To17(AgeAt(c, on))) {
      acc.Add(acc.Key(c, on), measure, 1, {c.registered});
    }
  });
}

namespace {

// M12's measures, in its accumulator's order.
enum DisproportionalityMeasure : size_t {
  kChildren,
  kWithOutcome,
  kOutcomes,
  kInformal,
  kFormal,
  kFte,
  kMissing
};

// The Youth Justice Board's toolkit compares each group with a reference group; a dimension
// without one (ethnicity's 18 codes, a placement) would give every index against nothing.
std::string ReferenceGroupOf(const std::string& dim) {
  return dim == "ethnicity_group" ? "White" : dim == "cohort" ? "other" : dim == "sex" ? "F" : "";
}

// The numerators, from the rows M3, M6 and M7 keep (see Disproportionality).
Status CountNumerators(Run& r, Accumulator& acc) {
  const Window& w = r.window;
  auto aged_10_17 = [&](const KeptRow& row) { return IsAged10To17(AgeAt(row.born, w.from)); };
  RowGrouping grouping(r.by);
  // Children counted once per row of the table and measure.
  std::set<std::tuple<GroupKey, size_t, std::string>> counted;
  auto once = [&](const GroupKey& key, size_t measure, const KeptRow& row) {
    return counted.emplace(key, measure, row.child_id).second;
  };
  CARELEDGER_RETURN_IF_ERROR(ForEachOutcome(r, [&](const KeptRow& row) {
    if (!aged_10_17(row)) return;
    auto key = grouping.Key(row);
    acc.AddRow(key, kOutcomes, 1, row);
    if (once(key, kWithOutcome, row)) acc.Add(key, kWithOutcome, 1);
    if (row.informal) acc.AddRow(key, kInformal, 1, row);
    if (IsFormalDisposal(row.values[*RowDimensionIndex("disposal")]) && once(key, kFormal, row)) {
      acc.Add(key, kFormal, 1);
    }
  }));
  CARELEDGER_RETURN_IF_ERROR(ForEachRow(r, RowKind::kFirstFormal, w, [&](const KeptRow& row) {
    if (aged_10_17(row)) acc.AddRow(grouping.Key(row), kFte, 1, row);
  }));
  return ForEachRow(r, RowKind::kMissingEpisode, SpansRunningOn(w.from), [&](const KeptRow& row) {
    if (!w.Contains(codec::DateFromDaysKey(uint32_t(row.number))) || !aged_10_17(row)) {
      return;
    }
    auto key = grouping.Key(row);
    acc.AddRow(key, kMissing, once(key, kMissing, row) ? 1 : 0, row, {row.event_ids[0]});
  });
}

// Each rate, then its relative rate index against the reference group with the index's 95 %
// confidence interval (left empty here: AddRateRatios sets them once every row is known).
const std::vector<std::string>& DisproportionalityColumns() {
  static const std::vector<std::string> columns = {
      "children_10_17",    "outcome_rate_pct", "outcome_rri",  "outcome_rri_low",
      "outcome_rri_high",  "informal_pct",     "informal_rri", "informal_rri_low",
      "informal_rri_high", "formal_rate_pct",  "formal_rri",   "formal_rri_low",
      "formal_rri_high",   "fte_rate_pct",     "fte_rri",      "fte_rri_low",
      "fte_rri_high",      "missing_rate_pct", "missing_rri",  "missing_rri_low",
      "missing_rri_high"};
  return columns;
}

std::vector<Figure> DisproportionalityRates(const RowAccumulator& a) {
  const auto& n = a.counts;
  std::vector<Figure> out{Figure::Count(n[kChildren])};
  auto rate = [&](Figure f) {
    out.push_back(std::move(f));
    for (int i = 0; i < 3; ++i) out.push_back(Figure::Empty(Figure::Kind::kRatio));
  };
  rate(Figure::Percent(n[kWithOutcome], n[kChildren]).Columns(std::nullopt, 0));
  rate(Figure::Percent(n[kInformal], n[kOutcomes]));
  rate(Figure::Percent(n[kFormal], n[kChildren]).Columns(std::nullopt, 0));
  rate(Figure::Percent(n[kFte], n[kChildren]).Columns(std::nullopt, 0));
  rate(Figure::Percent(n[kMissing], n[kChildren]).Columns(std::nullopt, 0));
  return out;
}

// A row's denominator set to `children`, and each rate over children with it.
void Rebase(ReportTable::Row& row, int64_t children) {
  row.values[0] = Figure::Count(children);
  for (size_t i : {1, 9, 13, 17}) {
    row.values[i] = Figure::Percent(*row.values[i].numerator, children).Columns(std::nullopt, 0);
  }
}

// By cohort: other children are the area's less those looked after and leaving care.
void RebaseOtherChildren(Run& r) {
  auto population = r.Population10To17(PopulationYear(r.window));
  int64_t in_or_leaving_care = 0;
  for (const auto& row : r.table.rows) {
    if (row.groups[0] != "other") in_or_leaving_care += *row.values[0].numerator;
  }
  for (auto& row : r.table.rows) {
    if (row.groups[0] == "other" && population) Rebase(row, *population - in_or_leaving_care);
  }
  r.table.notes.push_back(population ? "other children: the area population aged 10-17 less "
                                       "those looked after and care leavers (" +
                                           std::to_string(in_or_leaving_care) + ")"
                                     : "other children: only those the store knows of (no area "
                                       "population in the settings), which overstates their "
                                       "rates");
}

// By another dimension: each group's children from the area's population by it, where the
// settings give one.
void RebaseGroups(Run& r, const std::string& dim) {
  const Window& w = r.window;
  auto population = r.LatestPopulation(PopulationYear(w));
  const std::map<std::string, int64_t>* groups = nullptr;
  if (population) groups = population->GroupsBy(dim);
  if (groups && !groups->empty()) {
    for (auto& row : r.table.rows) {
      auto it = groups->find(row.groups[0]);
      if (it != groups->end()) {
        Rebase(row, it->second);
        continue;
      }
      // Not the store's few beside the area's many: no denominator, no rate.
      row.values[0] = Figure::Empty(Figure::Kind::kCount);
      for (size_t i : {1, 9, 13, 17}) row.values[i] = Figure::Empty(Figure::Kind::kPercent);
    }
    r.table.notes.push_back("children aged 10-17 by " + dim + ": the area's (" +
                            std::to_string(population->year) +
                            ", settings); a group the settings lack has no rate");
  } else {
    r.table.notes.push_back("children aged 10-17 by " + dim +
                            ": only those the store knows of (no [population] " +
                            std::to_string(PopulationYear(w)) + " aged_10_17_by_" + dim +
                            " in the settings), which overstates their rates");
  }
}

// Each rate's relative rate index against the reference group's row, with its 95 % confidence
// interval (none for the reference row itself).
void AddRateRatios(Run& r, const std::string& reference) {
  const ReportTable::Row* ref = nullptr;
  std::optional<size_t> ref_index;
  for (size_t i = 0; i < r.table.rows.size(); ++i) {
    if (r.table.rows[i].groups[0] == reference) {
      ref = &r.table.rows[i];
      ref_index = i;
    }
  }
  r.table.reference_rows.assign(r.table.rows.size(), ref_index);
  for (auto& row : r.table.rows) {
    for (size_t i = 1; i + 3 < row.values.size(); i += 4) {
      const Figure& rate = row.values[i];
      const Figure* against = ref ? &ref->values[i] : nullptr;
      row.values[i + 1] =
          Figure::Ratio(rate.value, against ? against->value : std::nullopt).From({i});
      if (&row == ref || !against) continue;
      auto [low, high] = RateRatioInterval(rate, *against);
      row.values[i + 2] = Figure::Ratio(low, 1.0).From({i});
      row.values[i + 3] = Figure::Ratio(high, 1.0).From({i});
    }
  }
}

}  // namespace

// Each rate's numerator is read from the rows M3, M6 and M7 keep, for the children aged 10-17 on
// the period's first day (a row holds the child's date of birth) and grouped as those rows are
// (an offence by the child's group on the offence date, an episode on its report); the
// denominator is those children by their group on the first day.
Status Disproportionality(Run& r) {
  if (r.by.size() != 1) {
    return Status::BadInput(
        "disproportionality compares the groups of one dimension: --by ethnicity_group, sex "
        "or cohort");
  }
  const std::string dim = r.by[0];
  const std::string reference = ReferenceGroupOf(dim);
  if (reference.empty()) {
    return Status::BadInput("disproportionality has no reference group for --by " + dim +
                            ": --by ethnicity_group (against White), sex (against F) or cohort "
                            "(against other)");
  }
  auto acc =
      r.NewAccumulator({"children_10_17", "children_with_outcome", "outcomes", "informal_outcomes",
                        "children_with_formal", "first_time_entrants", "children_missing"});
  CARELEDGER_RETURN_IF_ERROR(CountNumerators(r, acc));
  CARELEDGER_RETURN_IF_ERROR(AddAgedTenToSeventeen(r, acc, kChildren, r.window.from));
  r.Emit(acc, DisproportionalityColumns(), DisproportionalityRates);
  // The denominators from the area's population where the settings give it: each rate over
  // children is then of the area's children in the group, not the few the store knows.
  if (dim == "cohort") {
    RebaseOtherChildren(r);
  } else {
    RebaseGroups(r, dim);
  }
  AddRateRatios(r, reference);
  r.table.notes.push_back("relative rate index against " + dim + " = " + reference +
                          "; children aged 10-17 on " + FormatDate(r.window.from) +
                          ", counted in their group on that day; an outcome or missing episode "
                          "in the group of its offence or report");
  return Status::Ok();
}

}  // namespace careledger::metrics
