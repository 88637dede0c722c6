// M1–M13 (spec/metrics.md) as folds over resolved child timelines. Every metric visits each
// child once (ForEachChild), asks the child's view what it contributes to which row, and
// derives its percentages and rates from the counts at the end, so that the published output
// can suppress a small count and everything derived from it.
//
// Each metric's query lives in its own file, beside what ingest keeps for it (aggregate.h names
// the file); here is what they all share: the metric table, the checks of a query, the rows'
// reads and the dimensions.
#include <algorithm>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

Figure Figure::Percent(int64_t num, int64_t den) {
  Figure f = Make(Kind::kPercent, std::nullopt, num, den);
  if (den != 0) f.value = 100.0 * double(num) / double(den);
  return f;
}

Figure Figure::Rate(int64_t num, int64_t population) {
  Figure f = Make(Kind::kPerHundredThousand, std::nullopt, num, population);
  if (population > 0) f.value = 100000.0 * double(num) / double(population);
  return f;
}

Figure Figure::Ratio(std::optional<double> a, std::optional<double> b) {
  Figure f = Empty(Kind::kRatio);
  if (a && b && *b != 0) f.value = *a / *b;
  return f;
}

Figure Figure::Average(double total, int64_t n, Kind kind) {
  Figure f = Make(kind, std::nullopt, std::nullopt, n);
  if (n > 0) f.value = total / double(n);
  return f;
}

namespace metrics {

namespace {

std::string_view Or(std::string_view s, std::string_view fallback) {
  return s.empty() ? fallback : s;
}

}  // namespace

int PopulationYear(const Window& w) {
  Date middle = w.from + (w.to - w.from) / 2;
  return int(std::chrono::year_month_day{middle}.year());
}

std::optional<AreaPopulation> Run::LatestPopulation(int population_year) const {
  std::optional<AreaPopulation> p;
  for (int y = population_year; query.population && y >= population_year - 2 && !p; --y) {
    p = query.population(y);
    if (p && p->aged_10_17 <= 0) p.reset();
  }
  return p;
}

std::optional<int64_t> Run::Population10To17(int population_year) {
  std::optional<AreaPopulation> p = LatestPopulation(population_year);
  if (!p) {
    table.notes.push_back("no area population aged 10-17 for " + std::to_string(population_year) +
                          " in the settings ([population] " + std::to_string(population_year) +
                          " = { aged_10_17 = N, under_18 = N }): rates are left blank");
    return std::nullopt;
  }
  table.notes.push_back("area population aged 10-17 (" + std::to_string(p->year) +
                        (p->year == population_year
                             ? ""
                             : ", the latest estimate for " + std::to_string(population_year)) +
                        "): " + std::to_string(p->aged_10_17));
  return p->aged_10_17;
}

void Run::Emit(Accumulator& acc, const std::vector<std::string>& measures,
               const std::function<std::vector<Figure>(const RowAccumulator&)>& derive) {
  if (by.empty()) acc.Row({});
  table.dimensions = by;
  table.measures = measures.size() == 1 ? std::vector<std::string>{"value"} : measures;
  for (auto& [key, row] : acc.rows()) table.rows.push_back({key, derive(row)});
  lineage = acc.TakeLineage();
  judged = acc.TakeJudged();
}

Status NameJudgedRows(Run& r) {
  if (r.judged.empty()) return Status::Ok();
  std::vector<std::string> ids;
  for (const auto& j : r.judged) {
    if (ids.empty() || ids.back() != j.child_id) ids.push_back(j.child_id);
  }
  std::set<LineageEntry, LineageLess> named(r.lineage.begin(), r.lineage.end());
  CARELEDGER_RETURN_IF_ERROR(
      ForEachChildIn(*r.store, r.query.known_at, ids, [&](const ChildView& child) {
        // The child's rows again, as its timeline gives them (once a kind), for the day each
        // was judged on.
        std::map<RowKind, std::vector<KeptRow>> rows_of;
        auto first = r.judged.lower_bound({std::string(child.child_id), RowKind{}, {}, {}, {}});
        for (auto j = first; j != r.judged.end() && j->child_id == child.child_id; ++j) {
          auto [rows, added] = rows_of.try_emplace(j->kind);
          if (added) rows->second = KeptRowsOf(j->kind, child);
          Date judged_on = j->on;
          for (const auto& row : rows->second) {
            if (row.item_id == j->item_id && row.on == j->on) judged_on = row.judged_on;
          }
          for (const auto& d : r.by) {
            for (const Fact* f : DimensionFacts(d, child, judged_on)) {
              named.insert({j->measure, f->event_id});
            }
          }
        }
      }));
  r.lineage.assign(named.begin(), named.end());
  return Status::Ok();
}

std::vector<Figure> Counts(const RowAccumulator& r) {
  std::vector<Figure> out;
  for (auto n : r.counts) out.push_back(Figure::Count(n));
  return out;
}

Status ForEachRow(Run& r, RowKind kind, const Window& window,
                  const std::function<void(const KeptRow&)>& visit) {
  if (!r.query.fold) {
    if (r.query.known_at) {
      return ScanKeptRowsAsKnownAt(*r.store, kind, window, *r.query.known_at, visit);
    }
    return ScanKeptRows(*r.store, kind, window, visit);
  }
  return r.Children([&](const ChildView& c) {
    for (const auto& row : KeptRowsOf(kind, c)) {
      if (window.Contains(row.on)) visit(row);
    }
  });
}

Status ForEachOutcome(Run& r, const std::function<void(const KeptRow&)>& visit) {
  return ForEachRow(r, RowKind::kOutcome, r.window, visit);
}

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

Result<Run> Prepare(const EventStore* store, const MetricQuery& q, const Cell* cell,
                    const MetricDef*& def_out) {
  auto def = Find(q.metric);
  if (!def.ok()) return def.status();
  const MetricDef& m = **def;
  def_out = *def;
  // "--by none" asks for the figure for everyone where the metric breaks down by default.
  const bool total = q.by == std::vector<std::string>{"none"};
  Run r(store, q, cell, total ? std::vector<std::string>{} : q.by.empty() ? m.default_by : q.by);
  auto allowed = DimensionsOf(m);
  for (const auto& d : r.by) {
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
      if (std::find(r.by.begin(), r.by.end(), dim) == r.by.end()) {
        return Status::BadInput("--cell names '" + dim +
                                "', which is not among the --by dimensions");
      }
    }
  }
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
      if (q.period) {
        return Status::BadInput("criminalisation is for a year ending 31 March: --at YYYY-03-31");
      }
      if (q.at && !YearEnding::IsLastDay(*q.at)) {
        return Status::BadInput("criminalisation is for a year ending 31 March: --at YYYY-03-31");
      }
      r.year = YearEnding::EndingBy(q.at.value_or(q.today)).year;
      sel.emplace_back("year_ending", std::to_string(r.year) + "-03-31");
      break;
    }
  }
  if (r.window.from > r.window.to) return Status::BadInput("the period ends before it starts");
  if (q.known_at) sel.emplace_back("as_known_at", FormatInstant(*q.known_at));
  r.table.metric = std::string(m.name);
  return r;
}

}  // namespace

namespace {

// The stretch of care on `on` (its start, changes and end), the start of the care it belongs to
// (stretches touch while a change cuts them) and the event that set its value of `dimension`:
// the first of the touching stretches before it that share that value.
void CareFacts(const ChildView& child, Date on, std::string_view dimension,
               std::vector<const Fact*>& out) {
  const CareSpell* s = ClaSpellAt(child, on);
  if (!s) return;
  out.insert(out.end(), s->facts.begin(), s->facts.end());
  const std::string value = DimensionValue(dimension, child, on, {});
  size_t first = size_t(s - child.spells.data()), set = first;
  bool same = true;
  while (first > 0) {
    const CareSpell& before = child.spells[first - 1];
    if (before.short_break || before.to != child.spells[first].from) break;
    --first;
    same = same && DimensionValue(dimension, child, before.from, {}) == value;
    if (same) set = first;
  }
  for (size_t i : {first, set}) {
    if (!child.spells[i].facts.empty()) out.push_back(child.spells[i].facts.front());
  }
}

}  // namespace

std::vector<const Fact*> DimensionFacts(std::string_view dimension, const ChildView& child,
                                        Date on) {
  std::vector<const Fact*> out;
  const bool recorded = dimension == "age_band" || dimension == "sex" || dimension == "ethnicity" ||
                        dimension == "ethnicity_group";
  if (recorded) {
    out.push_back(child.registered);
  } else if (dimension == "cohort") {
    if (IsLookedAfterAt(child, on)) {
      CareFacts(child, on, dimension, out);
    } else {
      // A care leaver by age and by the care since the 14th birthday; "other" by the record.
      out.push_back(child.registered);
      for (const CareSpell* spell : CareLeaverSpells(child, on)) {
        out.insert(out.end(), spell->facts.begin(), spell->facts.end());
      }
    }
  } else if (dimension == "exploitation_risk") {
    out = ExploitationRiskFacts(child, on);
  } else if (std::find(std::begin(kChildDimensions), std::end(kChildDimensions), dimension) !=
             std::end(kChildDimensions)) {
    CareFacts(child, on, dimension, out);
  }
  std::erase(out, nullptr);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string DimensionValue(std::string_view dimension, const ChildView& child, Date on,
                           const Extras& extras) {
  for (const auto& [name, value] : extras) {
    if (name == dimension) return value.empty() ? "unknown" : value;
  }
  if (dimension == "age_band") return std::string(AgeBand(AgeAt(child, on)));
  if (dimension == "sex") return std::string(Or(child.sex, "unknown"));
  if (dimension == "ethnicity") return std::string(Or(child.ethnicity, "unknown"));
  if (dimension == "ethnicity_group") {
    return std::string(EthnicityGroup(child.ethnicity).value_or("unknown"));
  }
  if (dimension == "cohort") return std::string(CohortAt(child, on));
  const CareSpell* spell = ClaSpellAt(child, on);
  if (!spell) return "not_looked_after";
  if (dimension == "legal_status") return spell->legal_status;
  if (dimension == "placement") return spell->placement;
  if (dimension == "provider") return std::string(Or(spell->provider, "unknown"));
  if (dimension == "home_id") return std::string(Or(spell->home_id, "none"));
  if (dimension == "area") {
    if (!spell->out_of_area) return "unknown";
    return *spell->out_of_area ? "out_of_area" : "in_area";
  }
  return "unknown";
}

}  // namespace metrics

namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  for (size_t start = 0; start < s.size();) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// A period as asked: FROM..TO (half open, ISO dates), a financial year ending 31 March
// ("2025-26": 1 April 2025 to 31 March 2026), a calendar quarter ("2026Q3": July to September
// 2026) or the last complete calendar quarter before `today`.
std::optional<std::pair<Date, Date>> ParsePeriod(const std::string& text, Date today) {
  using std::chrono::year, std::chrono::month;
  auto number = [&](size_t from, size_t n) -> std::optional<int> {
    if (from + n > text.size()) return std::nullopt;
    int v = 0;
    for (size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto quarter = [](int y, int q) {
    Date from{year{y} / month{unsigned(3 * q - 2)} / 1};
    return std::pair{from, metrics::AddMonths(from, 3)};
  };
  if (auto dots = text.find(".."); dots != std::string::npos) {
    auto from = ParseDate(text.substr(0, dots));
    auto to = ParseDate(text.substr(dots + 2));
    if (!from.ok() || !to.ok()) return std::nullopt;
    return std::pair{*from, *to};
  }
  if (text == "last-complete-quarter") {
    std::chrono::year_month_day ymd{today};
    int y = int(ymd.year()), q = int((unsigned(ymd.month()) - 1) / 3) + 1;
    if (--q == 0) {
      q = 4;
      --y;
    }
    return quarter(y, q);
  }
  if (text.size() == 7 && text[4] == '-') {
    auto y = number(0, 4), next = number(5, 2);
    if (!y || !next || *next != (*y + 1) % 100) return std::nullopt;
    const YearEnding financial{*y + 1};
    return std::pair{financial.First(), financial.End()};
  }
  if (text.size() == 6 && (text[4] == 'Q' || text[4] == 'q')) {
    auto y = number(0, 4), q = number(5, 1);
    if (!y || !q || *q < 1 || *q > 4) return std::nullopt;
    return quarter(*y, *q);
  }
  return std::nullopt;
}

}  // namespace

Result<MetricQuery> ParseMetricSelectors(const MetricSelectorText& text,
                                         const MetricSelectorNames& names,
                                         std::optional<Date> today) {
  MetricQuery q;
  q.metric = text.metric;
  q.today = today.value_or(Today());
  auto bad = [](std::string_view name, std::string_view what, const std::string& value) {
    return Status::BadInput(std::string(name) + ": not " + std::string(what) + ": " + value);
  };
  if (!text.at.empty()) {
    auto d = ParseDate(text.at);
    if (!d.ok()) return bad(names.at, "a date (YYYY-MM-DD)", text.at);
    q.at = *d;
  }
  if (!text.period.empty()) {
    q.period = ParsePeriod(text.period, q.today);
    if (!q.period) {
      return bad(names.period,
                 "FROM..TO with ISO dates, a financial year (2025-26), a quarter (2026Q3) or "
                 "last-complete-quarter",
                 text.period);
    }
  }
  if (!text.known_at.empty()) {
    auto t = ParseTimestamp(text.known_at);
    if (!t.ok()) return bad(names.known_at, "an RFC 3339 time", text.known_at);
    q.known_at = t->instant;
  }
  q.by = SplitComma(text.by);
  if (!text.series.empty()) {
    if (text.series != "monthly") return bad(names.series, "monthly", text.series);
    q.monthly = true;
  }
  return q;
}

Result<Cell> ParseCell(const std::string& text, const MetricSelectorNames& names) {
  Cell cell;
  for (const std::string& pair : SplitComma(text)) {
    auto eq = pair.find('=');
    if (eq == std::string::npos) {
      return Status::BadInput(std::string(names.cell) + ": not DIM=VALUE: " + pair);
    }
    cell[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return cell;
}

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
Result<ReportTable> RunSeries(const EventStore& store, const MetricQuery& q) {
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
    return metrics::Prepare(nullptr, months->front(), nullptr, def).status();
  }
  return metrics::Prepare(nullptr, query, lineage_cell, def).status();
}

Result<ReportTable> RunMetric(const EventStore& store, const MetricQuery& query) {
  if (query.monthly) return RunSeries(store, query);
  const metrics::MetricDef* def = nullptr;
  auto run = metrics::Prepare(&store, query, nullptr, def);
  if (!run.ok()) return run.status();
  CARELEDGER_RETURN_IF_ERROR(def->run(*run));
  return std::move(run->table);
}

Result<std::vector<LineageEntry>> RunLineage(const EventStore& store, const MetricQuery& query,
                                             const Cell& cell) {
  if (query.monthly) {
    return Status::BadInput(
        "lineage is of one figure: ask for its month with --period instead of --series");
  }
  const metrics::MetricDef* def = nullptr;
  auto run = metrics::Prepare(&store, query, &cell, def);
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
