// KPIs: a metric's figure for a reporting period and the year before it, judged against the
// plan's target, beside the comparators DfE and the YJB publish.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "careledger/reporting.h"
#include "text.h"

namespace careledger {

namespace {

constexpr std::string_view kEngland = "E92000001";

// The comparators' indicators as the shared DfE and YJB tables name them (ReadReferenceTable).
constexpr std::string_view kThreePlusPlacements =
    "cla_on_31_march.with_3_or_more_placements_during_the_year.children_percent";
constexpr std::string_view kSameCarer =
    "children_looked_after_continuously_for_at_least_2_5_years_on_31_march_aged_under_16_years."
    "living_with_the_same_carer_for_at_least_2_years.children_percent";
constexpr std::string_view kCautionedOrSentenced =
    "children_cautioned_or_sentenced.per_10_000_aged_10_17";

std::vector<std::pair<std::string, std::string>> EveryComparator(std::string_view indicator) {
  return {{"national", std::string(indicator)},
          {"region", std::string(indicator)},
          {"neighbours", std::string(indicator)},
          {"local", std::string(indicator)}};
}

constexpr std::array<std::string_view, 4> kComparatorNames = {"national", "region", "neighbours",
                                                              "local"};

using text::ParseNumber;

using text::Fixed;

// The same day a year earlier (29 February → 28 February).
Date YearBefore(Date d) {
  std::chrono::year_month_day ymd(d);
  std::chrono::year_month_day earlier = ymd - std::chrono::years(1);
  if (!earlier.ok()) earlier = earlier.year() / earlier.month() / std::chrono::last;
  return std::chrono::sys_days(earlier);
}

std::string Span(Date from, Date to) {
  return FormatDate(from) + ".." + FormatDate(to);
}

std::string Quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

Figure Text(std::string text) {
  Figure f;
  f.kind = Figure::Kind::kText;
  f.text = std::move(text);
  return f;
}

}  // namespace

std::vector<Kpi> DefaultKpis() {
  std::vector<Kpi> kpis;
  auto add = [&](Kpi k) { kpis.push_back(std::move(k)); };
  add({.id = "cla_criminalisation_ratio",
       .title = "Criminalisation of children looked after: OC2 rate / all children's rate",
       .metric = "criminalisation",
       .measure = "ratio",
       .unit = "ratio"});
  add({.id = "informal_share_cla",
       .title = "Offences by children looked after resolved informally",
       .metric = "informal-share",
       .measure = "informal_pct",
       .select = {{"cohort", "cla"}},
       .higher_is_better = true,
       .unit = "%"});
  add({.id = "first_time_entrants",
       .title = "First-time entrants to the youth justice system",
       .metric = "fte",
       .measure = "rate_per_100k_10_17",
       .unit = "per 100,000 aged 10-17"});
  add({.id = "use_of_custody",
       .title = "Custodial sentences",
       .metric = "custody",
       .measure = "sentence_rate_per_1000_10_17",
       .unit = "per 1,000 aged 10-17"});
  add({.id = "reoffending",
       .title = "Children who reoffended within 12 months (binary rate)",
       .metric = "reoffending",
       .measure = "binary_rate_pct",
       .unit = "%"});
  add({.id = "missing_per_cla_child",
       .title = "Missing episodes per child looked after who went missing",
       .metric = "missing",
       .measure = "episodes_per_child",
       .select = {{"cohort", "cla"}},
       .unit = "episodes"});
  add({.id = "placement_stability_3plus",
       .title = "Children looked after on 31 March with 3 or more placements in the year",
       .metric = "placement-stability",
       .measure = "three_plus_pct",
       .unit = "%",
       .comparators = EveryComparator(kThreePlusPlacements)});
  add({.id = "placement_stability_long_term",
       .title = "Long-term placement stability: same carer for 2 years",
       .metric = "placement-stability",
       .measure = "same_carer_pct",
       .higher_is_better = true,
       .unit = "%",
       .comparators = EveryComparator(kSameCarer)});
  add({.id = "children_cautioned_or_sentenced",
       .title = "Children cautioned or sentenced",
       .metric = "criminalisation",
       .measure = "area_rate_pct",
       .scale = 100,
       .unit = "per 10,000 aged 10-17",
       .comparators = EveryComparator(kCautionedOrSentenced)});
  for (auto& k : kpis) k.where = "the default KPIs";
  return kpis;
}

Result<std::vector<Kpi>> KpisFromSettings(
    const std::map<std::string, std::map<std::string, SettingValue>>& settings) {
  std::vector<Kpi> kpis = DefaultKpis();
  for (const auto& entry : settings) {
    // Named, not bound: lambdas below take them (clang 14 cannot capture a structured binding).
    const std::string& id = entry.first;
    const auto& fields = entry.second;
    auto it = std::find_if(kpis.begin(), kpis.end(), [&](const Kpi& k) { return k.id == id; });
    const bool declared = it == kpis.end();
    if (declared) {
      kpis.push_back({.id = id, .title = id});
      it = std::prev(kpis.end());
    }
    Kpi& kpi = *it;
    // Where the table starts: its first setting's line.
    auto line_of = [](const SettingValue& s) {
      auto colon = s.where.rfind(':');
      return colon == std::string::npos ? 0L
                                        : std::strtol(s.where.c_str() + colon + 1, nullptr, 10);
    };
    kpi.where = std::min_element(fields.begin(), fields.end(), [&](const auto& a, const auto& b) {
                  return line_of(a.second) < line_of(b.second);
                })->second.where;
    bool enabled = true;
    bool select_given = false, comparators_given = false;
    for (const auto& field_setting : fields) {
      const std::string& field = field_setting.first;
      const SettingValue& setting = field_setting.second;
      std::string key = "kpi." + id;
      key += "." + field;
      const std::string& v = setting.value;
      auto bad = [&](const std::string& why) {
        return Status::BadInput((setting.where.empty() ? std::string("settings") : setting.where) +
                                ": " + Quoted(key) + " " + why);
      };
      auto number = [&](std::optional<double>& out) -> Status {
        out = ParseNumber(v);
        return out ? Status::Ok() : bad("must be a number");
      };
      if (field == "title") {
        kpi.title = v;
      } else if (field == "metric") {
        auto names = MetricNames();
        if (std::find(names.begin(), names.end(), v) == names.end()) {
          return bad("names no metric (" + Quoted(v) + ")");
        }
        kpi.metric = v;
      } else if (field == "measure") {
        kpi.measure = v;
      } else if (field == "unit") {
        kpi.unit = v;
      } else if (field == "better") {
        if (v != "higher" && v != "lower") return bad("must be \"higher\" or \"lower\"");
        kpi.higher_is_better = v == "higher";
      } else if (field == "target") {
        CARELEDGER_RETURN_IF_ERROR(number(kpi.target));
      } else if (field == "red") {
        CARELEDGER_RETURN_IF_ERROR(number(kpi.red));
      } else if (field == "scale") {
        std::optional<double> scale;
        CARELEDGER_RETURN_IF_ERROR(number(scale));
        if (*scale <= 0) return bad("must be above 0");
        kpi.scale = *scale;
      } else if (field == "window") {
        if (v != "12 months" && v != "period") return bad("must be \"12 months\" or \"period\"");
        kpi.twelve_months = v == "12 months";
      } else if (field == "enabled") {
        if (v != "true" && v != "false") return bad("must be true or false");
        enabled = v == "true";
      } else if (field.starts_with("select.")) {
        if (!select_given) kpi.select.clear();
        select_given = true;
        kpi.select.emplace_back(field.substr(7), v);
      } else if (field.starts_with("comparators.")) {
        const std::string name = field.substr(12);
        if (std::find(kComparatorNames.begin(), kComparatorNames.end(), name) ==
            kComparatorNames.end()) {
          return bad("is not a comparator (national, region, neighbours, local)");
        }
        if (!comparators_given) kpi.comparators.clear();
        comparators_given = true;
        if (!v.empty()) kpi.comparators.emplace_back(name, v);
      } else {
        return bad(
            "is not a KPI setting (title, metric, measure, select, better, target, red, scale, "
            "unit, window, comparators, enabled)");
      }
    }
    if (!enabled) {
      kpis.erase(it);
      continue;
    }
    auto fail = [&](const std::string& why) {
      std::string message = kpi.where;
      message += ": [kpi." + id + "] ";
      message += why;
      return Status::BadInput(message);
    };
    if (kpi.metric.empty() || kpi.measure.empty()) {
      return fail("needs a metric and a measure (a column of `careledger report METRIC`)");
    }
    auto dims = MetricDimensions(kpi.metric);
    if (!dims.ok()) return fail(dims.status().message());
    for (const auto& [dimension, value] : kpi.select) {
      if (std::find(dims->begin(), dims->end(), dimension) == dims->end()) {
        return fail("selects by " + Quoted(dimension) + ", which " + kpi.metric +
                    " does not break down by");
      }
    }
    if (kpi.target && kpi.red &&
        (kpi.higher_is_better ? *kpi.red >= *kpi.target : *kpi.red <= *kpi.target)) {
      return fail(std::string("red must be ") + (kpi.higher_is_better ? "below" : "above") +
                  " the target when " + (kpi.higher_is_better ? "higher" : "lower") + " is better");
    }
    if (kpi.red && !kpi.target) return fail("has a red threshold but no target");
  }
  return kpis;
}

std::string_view KpiStatusName(KpiStatus status) {
  switch (status) {
    case KpiStatus::kGreen:
      return "green";
    case KpiStatus::kAmber:
      return "amber";
    case KpiStatus::kRed:
      return "red";
    case KpiStatus::kNoTarget:
      return "no_target";
    case KpiStatus::kNoFigure:
      break;
  }
  return "no_figure";
}

int KpiStatusGauge(KpiStatus status) {
  switch (status) {
    case KpiStatus::kGreen:
      return 0;
    case KpiStatus::kAmber:
      return 1;
    case KpiStatus::kRed:
      return 2;
    default:
      return -1;
  }
}

KpiStatus JudgeKpi(const Kpi& kpi, std::optional<double> value) {
  if (!value) return KpiStatus::kNoFigure;
  if (!kpi.target) return KpiStatus::kNoTarget;
  // Worse than the threshold, whichever way is good.
  auto worse = [&](double threshold) {
    return kpi.higher_is_better ? *value < threshold : *value > threshold;
  };
  if (!worse(*kpi.target)) return KpiStatus::kGreen;
  if (!kpi.red) return KpiStatus::kRed;
  const bool at_or_past_red = kpi.higher_is_better ? *value <= *kpi.red : *value >= *kpi.red;
  return at_or_past_red ? KpiStatus::kRed : KpiStatus::kAmber;
}

namespace {

// Where one KPI's figure is asked: a day, a year ending 31 March or a period, and the same a
// year earlier.
struct KpiWindow {
  MetricQuery now, earlier;
  std::string label, earlier_label;
  int comparator_year = 0;  // the year ending 31 March the figure is compared for
};

Result<KpiWindow> WindowOf(const Kpi& kpi, const KpiQuery& q) {
  auto time = MetricTimeOf(kpi.metric);
  if (!time.ok()) return time.status();
  const Date last = q.period.second - std::chrono::days(1);
  MetricQuery base;
  base.metric = kpi.metric;
  base.known_at = q.known_at;
  base.today = q.today;
  base.population = q.population;
  for (const auto& [dimension, value] : kpi.select) base.by.push_back(dimension);
  if (base.by.empty()) base.by = {"none"};
  KpiWindow w{base, base, {}, {}, YearEnding::EndingBy(last).year};
  switch (*time) {
    case MetricTime::kAt:
      w.now.at = last;
      w.earlier.at = YearBefore(last);
      w.label = "at " + FormatDate(*w.now.at);
      w.earlier_label = "at " + FormatDate(*w.earlier.at);
      break;
    case MetricTime::kYear: {
      const YearEnding year = YearEnding::EndingBy(last);
      w.now.at = year.Last();
      w.earlier.at = YearEnding{year.year - 1}.Last();
      w.label = "year ending " + FormatDate(*w.now.at);
      w.earlier_label = "year ending " + FormatDate(*w.earlier.at);
      break;
    }
    case MetricTime::kPeriod: {
      const Date from = kpi.twelve_months
                            ? std::chrono::sys_days(std::chrono::year_month_day(q.period.second) -
                                                    std::chrono::years(1))
                            : q.period.first;
      w.now.period = {from, q.period.second};
      w.earlier.period = {YearBefore(from), YearBefore(q.period.second)};
      w.label = Span(w.now.period->first, w.now.period->second);
      w.earlier_label = Span(w.earlier.period->first, w.earlier.period->second);
      break;
    }
  }
  return w;
}

// The KPI's figure from one run of its metric: the row its selectors name, the measure, scaled;
// in published output a figure the metric's own published table would not show is withheld.
struct Read {
  Figure figure;
  std::optional<double> exact;
  std::vector<std::string> notes;
};

Result<Read> ReadFigure(const Stores& stores, const Kpi& kpi, const MetricQuery& query,
                        const KpiQuery& q) {
  auto table = RunMetric(stores, query);
  if (!table.ok()) return table.status();
  auto measure = std::find(table->measures.begin(), table->measures.end(), kpi.measure);
  if (measure == table->measures.end()) {
    std::string known;
    for (const auto& m : table->measures) known += (known.empty() ? "" : ", ") + m;
    return Status::BadInput(kpi.where + ": KPI " + kpi.id + ": " + kpi.metric + " has no measure " +
                            Quoted(kpi.measure) + " (" + known + ")");
  }
  const size_t column = size_t(measure - table->measures.begin());
  Read out{Figure::Empty(Figure::Kind::kAverage), std::nullopt, table->notes};
  for (size_t r = 0; r < table->rows.size(); ++r) {
    const auto& row = table->rows[r];
    bool match = true;
    for (size_t i = 0; i < kpi.select.size() && i < row.groups.size(); ++i) {
      match = match && row.groups[i] == kpi.select[i].second;
    }
    if (!match) continue;
    Figure f = row.values[column];
    if (f.value) {
      f.value = *f.value * kpi.scale;
      out.exact = f.value;
    }
    // A percentage shown as a rate keeps its counts, so it is withheld with them.
    if (kpi.scale != 1 && f.kind == Figure::Kind::kPercent) f.kind = Figure::Kind::kAverage;
    if (q.published && f.value) {
      const auto shown = Protect(*table, q.threshold, BreakdownsOf(stores, query));
      if (shown[r][column] == Shown::kSmall) {
        f = Text("<" + std::to_string(q.threshold));
      } else if (shown[r][column] == Shown::kWithheld) {
        f = Text("c");
      }
    }
    out.figure = std::move(f);
    break;
  }
  return out;
}

KpiComparatorValue Compare(const std::string& name, const std::string& indicator, int year,
                           const ReferenceFigures& reference, const AreaCodes& area) {
  KpiComparatorValue c{.name = name, .year = year};
  if (!reference.Has(indicator)) {
    c.note = "no imported table holds " + indicator + " (careledger reference import FILE)";
    return c;
  }
  auto one = [&](std::string_view code) {
    const ReferenceFigure* f = reference.Find(indicator, code, year);
    if (f) {
      c.year = f->year;
      if (const ReferenceTable* t = reference.TableOf(f)) c.source = t->file;
    }
    return f;
  };
  if (name == "neighbours") {
    if (area.neighbours.empty()) {
      c.note = "no statistical neighbours in the settings ([area] neighbours = [...])";
      return c;
    }
    double sum = 0;
    size_t n = 0;
    int latest = 0;
    for (const auto& code : area.neighbours) {
      const ReferenceFigure* f = one(code);
      if (f && f->value) {
        sum += *f->value;
        ++n;
        latest = std::max(latest, f->year);
      }
    }
    if (n == 0) {
      c.note = "none of the statistical neighbours has a published figure";
      return c;
    }
    c.value = sum / double(n);
    c.published = Fixed(*c.value, 1);
    c.year = latest;
    c.note = "mean of " + std::to_string(n) + " of " + std::to_string(area.neighbours.size()) +
             " statistical neighbours";
    return c;
  }
  std::string code = name == "national" ? std::string(kEngland)
                     : name == "region" ? area.region
                                        : area.code;
  if (code.empty()) {
    c.note = "no " + std::string(name == "region" ? "region" : "area code") +
             " in the settings ([area] " + (name == "region" ? "region" : "code") + " = ...)";
    return c;
  }
  const ReferenceFigure* f = one(code);
  if (!f) {
    c.note = "nothing published for " + code + " by " + std::to_string(year);
    return c;
  }
  c.published = f->published;
  c.value = f->value;
  return c;
}

}  // namespace

Result<std::vector<KpiResult>> EvaluateKpis(const EventStore& store, const std::vector<Kpi>& kpis,
                                            const ReferenceFigures& reference,
                                            const KpiQuery& query) {
  return EvaluateKpis(Stores{&store}, kpis, reference, query);
}

Result<std::vector<KpiResult>> EvaluateKpis(const Stores& stores, const std::vector<Kpi>& kpis,
                                            const ReferenceFigures& reference,
                                            const KpiQuery& query) {
  std::vector<KpiResult> results;
  for (const Kpi& kpi : kpis) {
    auto window = WindowOf(kpi, query);
    if (!window.ok()) return window.status();
    auto now = ReadFigure(stores, kpi, window->now, query);
    if (!now.ok()) return now.status();
    Result<Read> earlier = Read{Figure::Empty(Figure::Kind::kAverage), std::nullopt, {}};
    if (query.year_earlier) earlier = ReadFigure(stores, kpi, window->earlier, query);
    if (!earlier.ok()) return earlier.status();
    KpiResult r;
    r.kpi = kpi;
    r.window = window->label;
    r.earlier_window = window->earlier_label;
    r.value = now->figure;
    r.year_earlier = earlier->figure;
    r.exact_value = now->exact;
    r.status = JudgeKpi(kpi, now->exact);
    r.notes = now->notes;
    r.comparator_year = window->comparator_year;
    // In the columns' order, whatever order the settings gave them in.
    for (auto name : kComparatorNames) {
      for (const auto& [given, indicator] : kpi.comparators) {
        if (given != name) continue;
        r.comparators.push_back(
            Compare(given, indicator, r.comparator_year, reference, query.area));
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

ReportTable KpiReport(const std::vector<KpiResult>& results, const KpiQuery& query) {
  ReportTable t;
  t.metric = "kpi";
  t.selectors = {{"period", Span(query.period.first, query.period.second)}};
  if (query.known_at) t.selectors.emplace_back("as_known_at", FormatInstant(*query.known_at));
  t.dimensions = {"kpi", "window", "unit", "better"};
  t.measures = {"value", "year_earlier", "change", "target", "red", "status"};
  std::set<std::string> names;
  for (const auto& r : results) {
    for (const auto& c : r.comparators) names.insert(c.name);
  }
  std::vector<std::string> comparator_columns;
  for (auto name : kComparatorNames) {
    if (names.count(std::string(name))) comparator_columns.emplace_back(name);
  }
  t.measures.insert(t.measures.end(), comparator_columns.begin(), comparator_columns.end());
  auto number = [](std::optional<double> v) {
    if (!v) return Text("");
    // Thresholds as the settings gave them: whole numbers without decimals.
    return Text(std::floor(*v) == *v && std::fabs(*v) < 1e15 ? std::to_string(int64_t(*v))
                                                             : Fixed(*v, 2));
  };
  for (const auto& r : results) {
    ReportTable::Row row;
    row.groups = {r.kpi.id, r.window, r.kpi.unit, r.kpi.higher_is_better ? "higher" : "lower"};
    // A change is withheld with either figure it comes from.
    Figure change = Text("");
    const bool withheld =
        r.value.kind == Figure::Kind::kText || r.year_earlier.kind == Figure::Kind::kText;
    if (withheld) {
      change = Text("c");
    } else if (r.value.value && r.year_earlier.value) {
      const double d = *r.value.value - *r.year_earlier.value;
      const int decimals =
          r.value.kind == Figure::Kind::kCount                                                 ? 0
          : r.value.kind == Figure::Kind::kRatio || r.value.kind == Figure::Kind::kPerThousand ? 2
                                                                                               : 1;
      // A change that rounds to nothing has no sign ("-0.0" would say it fell).
      std::string shown = Fixed(d, decimals);
      if (std::stod(shown) == 0) shown = Fixed(0, decimals);
      change = Text((std::stod(shown) > 0 ? "+" : "") + shown);
    }
    row.values = {r.value,           r.year_earlier,
                  std::move(change), number(r.kpi.target),
                  number(r.kpi.red), Text(std::string(KpiStatusName(r.status)))};
    for (const auto& name : comparator_columns) {
      auto found = std::find_if(r.comparators.begin(), r.comparators.end(),
                                [&](const auto& c) { return c.name == name; });
      row.values.push_back(Text(found == r.comparators.end() ? "" : found->published));
    }
    t.rows.push_back(std::move(row));
    std::string sources;
    for (const auto& c : r.comparators) {
      std::string what = c.name + ": ";
      if (c.published.empty()) {
        what += c.note;
      } else {
        what += "year ending 31 March " + std::to_string(c.year) + ", " + c.source;
        if (!c.note.empty()) what += " (" + c.note + ")";
      }
      sources += (sources.empty() ? "" : "; ") + what;
    }
    std::string what = r.kpi.id + ": " + r.kpi.title + "; " + r.kpi.metric + " " + r.kpi.measure;
    for (size_t i = 0; i < r.kpi.select.size(); ++i) {
      what += (i ? ", " : " where ") + r.kpi.select[i].first + "=" + r.kpi.select[i].second;
    }
    what += "; the year before: " + r.earlier_window;
    if (!sources.empty()) what += "; comparators: " + sources;
    t.notes.push_back(std::move(what));
  }
  return t;
}

}  // namespace careledger
