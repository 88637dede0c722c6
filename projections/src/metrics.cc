// M1–M13 (spec/metrics.md) as folds over resolved child timelines. Every metric visits each
// child once (ForEachChild), asks the child's view what it contributes to which row, and
// derives its percentages and rates from the counts at the end, so that the published output
// can suppress a small count and everything derived from it.
//
// Each metric's query lives in its own file, beside what ingest keeps for it (aggregate.h names
// the file); here are the metric table, the checks of a query, a monthly series and the entry
// points that run a query or its lineage. The query's shared reads are in run.cc, the
// dimensions in dimensions.cc, the parsing of the selectors in metric_selectors.cc.
#include <algorithm>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

namespace metrics {

namespace {

enum class TimeKind { kAt, kPeriod, kYear };

struct MetricDef {
  std::string_view name;
  TimeKind time;
  std::vector<std::string_view> extra_dimensions;
  std::vector<std::string> default_by;
  Status (*run)(Run&);
  bool child_dimensions = true;
};

const std::vector<MetricDef>& Definitions() {
  static const std::vector<MetricDef> defs = {
      {"cla", TimeKind::kAt, {}, {}, Cla},
      {"care-leavers", TimeKind::kAt, {"band"}, {"band"}, CareLeavers},
      {"outcomes",
       TimeKind::kPeriod,
       {"tier", "disposal", "offence_group", "at_placement"},
       {"cohort", "tier"},
       Outcomes},
      {"informal-share",
       TimeKind::kPeriod,
       {"tier", "disposal", "offence_group", "at_placement"},
       {"cohort"},
       Informal},
      {"criminalisation", TimeKind::kYear, {}, {}, Criminalisation},
      {"fte", TimeKind::kPeriod, {"offence_group"}, {"cohort"}, FirstTimeEntrants},
      {"missing", TimeKind::kPeriod, {"category", "risk"}, {"cohort"}, Missing},
      {"callouts", TimeKind::kPeriod, {}, {"home_id", "month"}, Callouts, false},
      {"yjs-caseload", TimeKind::kAt, {"intervention"}, {"intervention"}, YjsCaseload},
      {"offence-profile", TimeKind::kPeriod, {}, {"offence_group"}, OffenceProfile, false},
      {"exploitation",
       TimeKind::kPeriod,
       {"exploitation_risk", "tier", "offence_group"},
       {"exploitation_risk"},
       Informal},
      {"disproportionality", TimeKind::kPeriod, {}, {"ethnicity_group"}, Disproportionality},
      {"reoffending", TimeKind::kPeriod, {}, {"cohort"}, Reoffending},
      {"custody", TimeKind::kPeriod, {"offence_group"}, {"cohort"}, UseOfCustody},
      {"placement-stability", TimeKind::kYear, {}, {}, PlacementStability},
  };
  return defs;
}

Result<const MetricDef*> Find(std::string_view name) {
  for (const auto& d : Definitions()) {
    if (d.name == name) return &d;
  }
  std::string names;
  for (const auto& d : Definitions()) names += (names.empty() ? "" : ", ") + std::string(d.name);
  return Status::BadInput("unknown metric '" + std::string(name) + "' (" + names + ")");
}

std::vector<std::string_view> DimensionsOf(const MetricDef& def) {
  std::vector<std::string_view> dims = def.extra_dimensions;
  if (def.child_dimensions) {
    dims.insert(dims.end(), std::begin(kChildDimensions), std::end(kChildDimensions));
  }
  if (def.name == "callouts") dims = {"home_id", "month"};
  if (def.name == "offence-profile") dims = {"offence_group"};
  if (def.name == "missing") dims.emplace_back("home_id");
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  return dims;
}

// Every --by dimension is one the metric breaks down by, and a lineage's --cell names only
// --by dimensions.
Status CheckDimensions(const MetricDef& m, const std::vector<std::string>& by, const Cell* cell) {
  auto allowed = DimensionsOf(m);
  for (const auto& d : by) {
    if (std::find(allowed.begin(), allowed.end(), d) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list.append(list.empty() ? "" : ", ").append(a);
      return Status::BadInput(std::string("cannot break ")
                                  .append(m.name)
                                  .append(" down by '")
                                  .append(d)
                                  .append("' (")
                                  .append(list)
                                  .append(")"));
    }
  }
  if (cell) {
    for (const auto& [dim, value] : *cell) {
      if (std::find(by.begin(), by.end(), dim) == by.end()) {
        return Status::BadInput("--cell names '" + dim +
                                "', which is not among the --by dimensions");
      }
    }
  }
  return Status::Ok();
}

// The day, period or year asked about (or the metric's default), shown in the table's selectors.
Status SetTime(const MetricDef& m, const MetricQuery& q, Run& r) {
  if (q.at && q.period) return Status::BadInput("give --at or --period, not both");
  auto& sel = r.table.selectors;
  switch (m.time) {
    case TimeKind::kAt:
      if (q.period && m.name != "cla") {
        return Status::BadInput(std::string(m.name) + " is a count on a day: use --at D");
      }
      r.at = q.at.value_or(q.today);
      if (q.period) {
        r.window = {q.period->first, q.period->second};
        sel.emplace_back("period", FormatDate(r.window.from) + ".." + FormatDate(r.window.to));
      } else {
        sel.emplace_back("at", FormatDate(r.at));
      }
      break;
    case TimeKind::kPeriod:
      if (q.at) {
        return Status::BadInput(std::string(m.name) +
                                " counts over a period: use --period FROM..TO");
      }
      if (q.period) {
        r.window = {q.period->first, q.period->second};
      } else if (m.name == "reoffending") {
        // The latest cohort whose 18-month follow-up is over.
        Date from = FirstOfMonth(AddMonths(q.today, -21));
        r.window = {from, AddMonths(from, 3)};
      } else {
        // The last 12 complete months, as a board paper reports: no day after today, and no
        // month still filling up.
        Date this_month = FirstOfMonth(q.today);
        r.window = {AddMonths(this_month, -12), this_month};
      }
      sel.emplace_back("period", FormatDate(r.window.from) + ".." + FormatDate(r.window.to));
      break;
    case TimeKind::kYear: {
      if (q.period || (q.at && !YearEnding::IsLastDay(*q.at))) {
        return Status::BadInput(std::string(m.name) +
                                " is for a year ending 31 March: --at YYYY-03-31");
      }
      r.year = YearEnding::EndingBy(q.at.value_or(q.today)).year;
      sel.emplace_back("year_ending", std::to_string(r.year) + "-03-31");
      break;
    }
  }
  if (r.window.from > r.window.to) return Status::BadInput("the period ends before it starts");
  return Status::Ok();
}

Result<Run> Prepare(const Stores& stores, const MetricQuery& q, const Cell* cell,
                    const MetricDef*& def_out) {
  auto def = Find(q.metric);
  if (!def.ok()) return def.status();
  const MetricDef& m = **def;
  def_out = *def;
  // "--by none" asks for the figure for everyone where the metric breaks down by default.
  const bool total = q.by == std::vector<std::string>{"none"};
  Run r(stores, q, cell, total ? std::vector<std::string>{} : q.by.empty() ? m.default_by : q.by);
  CARELEDGER_RETURN_IF_ERROR(CheckDimensions(m, r.by, cell));
  CARELEDGER_RETURN_IF_ERROR(SetTime(m, q, r));
  if (q.known_at) r.table.selectors.emplace_back("as_known_at", FormatInstant(*q.known_at));
  r.table.metric = std::string(m.name);
  return r;
}

}  // namespace

}  // namespace metrics

std::vector<std::string_view> MetricNames() {
  std::vector<std::string_view> names;
  for (const auto& d : metrics::Definitions()) names.push_back(d.name);
  return names;
}

Result<std::vector<std::string_view>> MetricDimensions(std::string_view metric) {
  auto def = metrics::Find(metric);
  if (!def.ok()) return def.status();
  return metrics::DimensionsOf(**def);
}

Result<MetricTime> MetricTimeOf(std::string_view metric) {
  auto def = metrics::Find(metric);
  if (!def.ok()) return def.status();
  switch ((*def)->time) {
    case metrics::TimeKind::kAt:
      return MetricTime::kAt;
    case metrics::TimeKind::kYear:
      return MetricTime::kYear;
    case metrics::TimeKind::kPeriod:
      break;
  }
  return MetricTime::kPeriod;
}

namespace {

using metrics::AddMonths;
using metrics::FirstOfMonth;

// --series monthly: one query per calendar month of the period (the last 12 complete months
// when none is given). A month is never widened or cut, so the period must run from a 1st to
// a 1st.
Result<std::vector<MetricQuery>> MonthlyQueries(const MetricQuery& q) {
  auto def = metrics::Find(q.metric);
  if (!def.ok()) return def.status();
  const std::string name((*def)->name);
  if ((*def)->time == metrics::TimeKind::kYear) {
    return Status::BadInput(name + " is for a year ending 31 March: --series monthly does not " +
                            "apply (ask for each year with --at YYYY-03-31)");
  }
  if (q.at) return Status::BadInput("--series monthly is over a period: give --period, not --at");
  MetricQuery base = q;
  base.monthly = false;
  if (!base.period) {
    Date this_month = FirstOfMonth(q.today);
    base.period = std::pair{AddMonths(this_month, -12), this_month};
  }
  auto [from, to] = *base.period;
  if (FirstOfMonth(from) != from || FirstOfMonth(to) != to || from >= to) {
    return Status::BadInput(
        "--series monthly needs whole months: a period from the 1st of a month to the 1st of a "
        "later one (" +
        FormatDate(from) + ".." + FormatDate(to) + " is not)");
  }
  std::vector<MetricQuery> out;
  for (Date m = from; m < to; m = AddMonths(m, 1)) {
    MetricQuery one = base;
    if ((*def)->time == metrics::TimeKind::kAt) {
      one.period.reset();
      one.at = AddMonths(m, 1) - std::chrono::days{1};
    } else {
      one.period = std::pair{m, AddMonths(m, 1)};
    }
    out.push_back(std::move(one));
    if (out.size() > 240) return Status::BadInput("--series monthly: at most 240 months");
  }
  return out;
}

// The months' tables one under another, the month first: what a board paper's monthly table
// holds. Each month keeps its own reference row, and its notes once.
Result<ReportTable> RunSeries(const Stores& store, const MetricQuery& q) {
  auto months = MonthlyQueries(q);
  if (!months.ok()) return months.status();
  ReportTable out;
  out.metric = q.metric;
  for (const MetricQuery& one : *months) {
    auto t = RunMetric(store, one);
    if (!t.ok()) return t.status();
    if (std::find(t->dimensions.begin(), t->dimensions.end(), "month") != t->dimensions.end()) {
      return Status::BadInput(q.metric + " is broken down by month already: ask --by without " +
                              "month, or leave out --series");
    }
    if (out.rows.empty() && out.dimensions.empty()) {
      out.dimensions = {"month"};
      out.dimensions.insert(out.dimensions.end(), t->dimensions.begin(), t->dimensions.end());
      out.measures = t->measures;
      out.row_sums = t->row_sums;
    }
    const Date first = FirstOfMonth(one.at ? *one.at : one.period->first);
    const std::string month = FormatDate(first).substr(0, 7);
    const size_t base = out.rows.size();
    for (size_t i = 0; i < t->rows.size(); ++i) {
      auto& row = t->rows[i];
      row.groups.insert(row.groups.begin(), month);
      out.rows.push_back(std::move(row));
      std::optional<size_t> ref;
      if (i < t->reference_rows.size() && t->reference_rows[i]) ref = base + *t->reference_rows[i];
      out.reference_rows.push_back(ref);
    }
    for (auto& note : t->notes) {
      if (std::find(out.notes.begin(), out.notes.end(), note) == out.notes.end()) {
        out.notes.push_back(std::move(note));
      }
    }
  }
  auto [from, to] = *SeriesPeriod(q);
  out.selectors = {{"period", FormatDate(from) + ".." + FormatDate(to)}, {"series", "monthly"}};
  if (q.known_at) out.selectors.emplace_back("as_known_at", FormatInstant(*q.known_at));
  return out;
}

}  // namespace

Result<std::pair<Date, Date>> SeriesPeriod(const MetricQuery& query) {
  auto months = MonthlyQueries(query);
  if (!months.ok()) return months.status();
  auto first = [](const MetricQuery& m) { return FirstOfMonth(m.at ? *m.at : m.period->first); };
  return std::pair{first(months->front()), AddMonths(first(months->back()), 1)};
}

Status CheckMetricQuery(const MetricQuery& query, const Cell* lineage_cell) {
  const metrics::MetricDef* def = nullptr;
  if (query.monthly) {
    if (lineage_cell) {
      return Status::BadInput(
          "lineage is of one figure: ask for its month with --period instead of --series");
    }
    auto months = MonthlyQueries(query);
    if (!months.ok()) return months.status();
    return metrics::Prepare({}, months->front(), nullptr, def).status();
  }
  return metrics::Prepare({}, query, lineage_cell, def).status();
}

Status CheckDisjointStores(const Stores& stores) {
  std::map<int32_t, std::string> owner;
  for (const StoreRef& store : stores) {
    auto source = metrics::SourceOf(store);
    auto owned = source->Partitions();
    if (!owned.ok()) return owned.status();
    if (owned->empty() && stores.size() > 1) {
      return Status::BadInput(source->Name() +
                              " was never assigned partitions, so it answers for all of them: "
                              "it cannot be read with other stores");
    }
    for (int32_t p : *owned) {
      auto [it, added] = owner.emplace(p, source->Name());
      if (!added) {
        return Status::BadInput("partition " + std::to_string(p) + " is answered for by both " +
                                it->second + " and " + source->Name() +
                                " (a store answers for its instance's last assignment; leave "
                                "out the store of an instance that no longer runs)");
      }
    }
  }
  return Status::Ok();
}

Result<std::string> DescribeStores(const Stores& stores) {
  std::string out = "answers for";
  for (size_t i = 0; i < stores.size(); ++i) {
    auto source = metrics::SourceOf(stores[i]);
    auto owned = source->Partitions();
    if (!owned.ok()) return owned.status();
    std::string parts;
    for (int32_t p : *owned) parts += (parts.empty() ? "" : ",") + std::to_string(p);
    out += std::string(i ? ";" : "") + " partitions " + (parts.empty() ? "all" : parts) + " of " +
           source->Name();
  }
  return out;
}

Result<ReportTable> RunMetric(const EventStore& store, const MetricQuery& query) {
  return RunMetric(Stores{&store}, query);
}

Result<std::vector<LineageEntry>> RunLineage(const EventStore& store, const MetricQuery& query,
                                             const Cell& cell) {
  return RunLineage(Stores{&store}, query, cell);
}

Result<ReportTable> RunMetric(const Stores& stores, const MetricQuery& query) {
  if (stores.size() > 1) CARELEDGER_RETURN_IF_ERROR(CheckDisjointStores(stores));
  if (query.monthly) return RunSeries(stores, query);
  const metrics::MetricDef* def = nullptr;
  auto run = metrics::Prepare(stores, query, nullptr, def);
  if (!run.ok()) return run.status();
  CARELEDGER_RETURN_IF_ERROR(def->run(*run));
  if (stores.size() > 1) {
    auto covered = DescribeStores(stores);
    if (!covered.ok()) return covered.status();
    run->table.notes.push_back(*covered);
  }
  return std::move(run->table);
}

Result<std::vector<LineageEntry>> RunLineage(const Stores& stores, const MetricQuery& query,
                                             const Cell& cell) {
  if (stores.size() > 1) CARELEDGER_RETURN_IF_ERROR(CheckDisjointStores(stores));
  if (query.monthly) {
    return Status::BadInput(
        "lineage is of one figure: ask for its month with --period instead of --series");
  }
  const metrics::MetricDef* def = nullptr;
  auto run = metrics::Prepare(stores, query, &cell, def);
  if (!run.ok()) return run.status();
  std::string missing, named;
  for (const auto& d : run->by) {
    if (!cell.count(d)) missing += (missing.empty() ? "" : ", ") + d;
    if (cell.count(d)) named += (named.empty() ? "" : ",") + d + "=" + cell.at(d);
  }
  if (!missing.empty()) {
    return Status::BadInput("--cell must name a value of every --by dimension; missing: " +
                            missing);
  }
  CARELEDGER_RETURN_IF_ERROR(def->run(*run));
  CARELEDGER_RETURN_IF_ERROR(metrics::NameJudgedRows(*run));
  // A cell the report does not have is an error, not an empty lineage: a typo must not read
  // as "no events behind this figure".
  const bool found =
      std::any_of(run->table.rows.begin(), run->table.rows.end(), [&](const auto& row) {
        for (size_t i = 0; i < run->by.size(); ++i) {
          if (i >= row.groups.size() || row.groups[i] != cell.at(run->by[i])) return false;
        }
        return true;
      });
  if (!found) {
    return Status::BadInput("the " + query.metric + " report has no row " + named +
                            " for these selectors");
  }
  return std::move(run->lineage);
}

}  // namespace careledger
