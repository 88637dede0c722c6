// The quarterly board pack: one self-contained HTML page built from the store as known at the
// quarter's end, with what an auditor needs to build it again in its footer.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "careledger/reporting.h"
#include "text.h"

namespace careledger {

namespace {

using text::Fixed;

using text::HtmlEscape;

// "2026Q3" for the quarter starting on `first`.
std::string QuarterName(Date first) {
  std::chrono::year_month_day ymd(first);
  return std::to_string(int(ymd.year())) + "Q" +
         std::to_string((unsigned(ymd.month()) - 1) / 3 + 1);
}

Date QuarterBefore(Date first) {
  return std::chrono::sys_days(std::chrono::year_month_day(first) - std::chrono::months(3));
}

constexpr std::string_view kStyle = R"(
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #111; margin: 1.5rem; font-size: 11pt; }
h1 { font-size: 18pt; margin-bottom: 0.2rem; }
h2 { font-size: 13pt; border-top: 2px solid #333; padding-top: 0.4rem; margin-top: 1.2rem; }
table { border-collapse: collapse; margin: 0.4rem 0 0.6rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.2rem; }
th, td { border: 1px solid #999; padding: 0.15rem 0.4rem; font-size: 9.5pt; }
td { text-align: right; }
th[scope="col"] { background: #eee; }
th[scope="row"] { text-align: left; font-weight: normal; }
td.rag-green { background: #d9f0d3; }
td.rag-amber { background: #fee0b6; }
td.rag-red { background: #f4a6a6; font-weight: bold; }
.note { font-size: 8.5pt; color: #333; margin: 0.1rem 0; }
.trends { display: flex; flex-wrap: wrap; gap: 0.6rem; }
.trend { width: 30%; min-width: 15rem; break-inside: avoid; }
.trend h3 { font-size: 9.5pt; margin: 0.2rem 0; }
svg text { font-size: 9px; fill: #111; }
svg .line { fill: none; stroke: #2166ac; stroke-width: 2; }
svg .dot { fill: #2166ac; }
svg .target { stroke: #1b7837; stroke-dasharray: 4 3; stroke-width: 1.5; }
svg .axis { stroke: #333; stroke-width: 1; }
footer { margin-top: 1.5rem; border-top: 1px solid #333; font-size: 8.5pt; }
footer code { word-break: break-all; }
section { break-inside: avoid-page; }
@page { size: A4 landscape; margin: 12mm; }
)";

// One KPI over the quarters: a line through the figures it has (a withheld or missing one is a
// gap), the target dashed, each figure written above its point.
std::string TrendSvg(const Kpi& kpi, const std::vector<std::string>& quarters,
                     const std::vector<Figure>& values) {
  constexpr double kWidth = 300, kHeight = 120, kLeft = 22, kRight = 22, kTop = 16, kBottom = 18;
  std::vector<double> known;
  for (const auto& v : values) {
    if (v.kind != Figure::Kind::kText && v.value) known.push_back(*v.value);
  }
  if (kpi.target) known.push_back(*kpi.target);
  double lo = known.empty() ? 0 : *std::min_element(known.begin(), known.end());
  double hi = known.empty() ? 1 : *std::max_element(known.begin(), known.end());
  if (hi - lo < 1e-9) {
    lo -= 1;
    hi += 1;
  }
  const double span = hi - lo;
  lo -= span * 0.1;
  hi += span * 0.1;
  const size_t n = values.size();
  auto x = [&](size_t i) {
    return kLeft + (kWidth - kLeft - kRight) * (n > 1 ? double(i) / double(n - 1) : 0.5);
  };
  auto y = [&](double v) { return kTop + (kHeight - kTop - kBottom) * (hi - v) / (hi - lo); };
  std::string svg = "<svg role=\"img\" viewBox=\"0 0 " + Fixed(kWidth, 0) + " " +
                    Fixed(kHeight, 0) + "\" width=\"100%\"><title>" + HtmlEscape(kpi.title) +
                    ", last " + std::to_string(n) + " quarters</title>";
  svg += "<line class=\"axis\" x1=\"" + Fixed(kLeft, 0) + "\" y1=\"" + Fixed(kHeight - kBottom, 1) +
         "\" x2=\"" + Fixed(kWidth - kRight, 0) + "\" y2=\"" + Fixed(kHeight - kBottom, 1) + "\"/>";
  if (kpi.target) {
    svg += "<line class=\"target\" x1=\"" + Fixed(kLeft, 0) + "\" y1=\"" +
           Fixed(y(*kpi.target), 1) + "\" x2=\"" + Fixed(kWidth - kRight, 0) + "\" y2=\"" +
           Fixed(y(*kpi.target), 1) + "\"/>";
  }
  // A withheld or missing figure is a gap: the next point starts a segment of its own.
  std::string segments;
  bool pen_down = false;
  for (size_t i = 0; i < n; ++i) {
    const Figure& v = values[i];
    if (v.kind == Figure::Kind::kText || !v.value) {
      pen_down = false;
      continue;
    }
    segments += std::string(segments.empty() ? "" : " ") + (pen_down ? "L" : "M") + Fixed(x(i), 1) +
                "," + Fixed(y(*v.value), 1);
    pen_down = true;
  }
  if (!segments.empty()) svg += "<path class=\"line\" d=\"" + segments + "\"/>";
  for (size_t i = 0; i < n; ++i) {
    const Figure& v = values[i];
    const bool has = v.kind != Figure::Kind::kText && v.value;
    std::string label =
        v.kind == Figure::Kind::kText ? v.text
        : !v.value
            ? "-"
            : Fixed(*v.value, v.kind == Figure::Kind::kRatio || v.kind == Figure::Kind::kPerThousand
                                  ? 2
                                  : (v.kind == Figure::Kind::kCount ? 0 : 1));
    const double py = has ? y(*v.value) : kHeight - kBottom;
    if (has) {
      svg += "<circle class=\"dot\" cx=\"" + Fixed(x(i), 1) + "\" cy=\"" + Fixed(py, 1) +
             "\" r=\"2.5\"/>";
    }
    svg += "<text x=\"" + Fixed(x(i), 1) + "\" y=\"" + Fixed(std::max(9.0, py - 5), 1) +
           "\" text-anchor=\"middle\">" + HtmlEscape(label) + "</text>";
    svg += "<text x=\"" + Fixed(x(i), 1) + "\" y=\"" + Fixed(kHeight - 4, 0) +
           "\" text-anchor=\"middle\">" + HtmlEscape(quarters[i]) + "</text>";
  }
  return svg + "</svg>";
}

Result<std::string> ChainAt(const EventStore& store, uint64_t sequence) {
  std::string chain;
  CARELEDGER_RETURN_IF_ERROR(store.ScanLog(
      [&](const LogRecord& rec) {
        chain = ToHex(rec.chain);
        return false;
      },
      sequence));
  return chain;
}

// The state `careledger replay --as-known-at t` would build, built in a scratch store.
Result<std::string> StateHashAsKnownAt(const EventStore& store, Instant t,
                                       const std::string& scratch_dir) {
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir, ec);
  Result<std::string> out = Status::Fatal("no rebuild");
  {
    auto scratch = EventStore::Open({.path = scratch_dir, .sync = false});
    if (!scratch.ok()) return scratch.status();
    RebuildOptions options;
    options.known_at = t;
    auto rebuilt = RebuildProjectionsInto(store, **scratch, options);
    if (!rebuilt.ok()) {
      out = rebuilt.status();
    } else {
      auto hash = ProjectionStateHash(**scratch);
      out = hash.ok() ? Result<std::string>(ToHex(*hash)) : Result<std::string>(hash.status());
    }
  }
  std::filesystem::remove_all(scratch_dir, ec);
  return out;
}

}  // namespace

Result<std::string> BoardPackHtml(const EventStore& store, const BoardPackOptions& o) {
  const Instant quarter_end{std::chrono::sys_seconds(o.quarter.second)};
  const Instant known_at = std::min(o.known_at.value_or(quarter_end), o.now);
  const bool provisional = o.now < quarter_end;
  const Date last_day = o.quarter.second - std::chrono::days(1);
  auto reference = ReferenceFigures::Load(store);
  if (!reference.ok()) return reference.status();
  KpiQuery query{.period = o.quarter,
                 .known_at = known_at,
                 .today = last_day,
                 .population = o.population,
                 .area = o.area,
                 .published = o.published,
                 .threshold = o.threshold};
  auto kpis = EvaluateKpis(store, o.kpis, *reference, query);
  if (!kpis.ok()) return kpis.status();

  std::string html = "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n";
  const std::string area = o.area.name.empty() ? std::string("the partnership") : o.area.name;
  const std::string title = "Board pack " + o.quarter_name + ": " + area;
  html += "<title>" + HtmlEscape(title) + "</title>\n<style>" + std::string(kStyle) + "</style>\n";
  html += "</head>\n<body>\n<h1>" + HtmlEscape(title) + "</h1>\n";
  html += "<p>Reducing the criminalisation of children in care and care leavers: the quarter " +
          FormatDate(o.quarter.first) + " to " + FormatDate(last_day) +
          ", as the store knew it at " + FormatInstant(known_at) + ". " +
          (o.published ? "Published figures: counts of 1 to " + std::to_string(o.threshold - 1) +
                             " show as &lt;" + std::to_string(o.threshold) +
                             "; c marks a figure withheld because it is derived from one or the "
                             "totals would give one away. A KPI's status is shown even where its "
                             "figure is withheld."
                       : std::string("Restricted: exact figures, not for publication.")) +
          "</p>\n";
  if (provisional) {
    html += "<p><strong>Provisional: the quarter has not ended.</strong></p>\n";
  }
  auto end = FirstIngestedAfter(store, known_at, store.next_sequence());
  if (!end.ok()) return end.status();
  if (*end == 0) {
    html += "<p><strong>Nothing had been ingested by " + FormatInstant(known_at) +
            ": the store was loaded later. Build the pack with --as-known-at a later time (a date "
            "will do) to report this quarter as the store knew it then.</strong></p>\n";
  }

  // The KPI table, its status cells coloured (the word says it too).
  html += "<section>\n<h2>Key performance indicators</h2>\n";
  std::string table = Render(KpiReport(*kpis, query), OutputFormat::kHtml,
                             {.published = o.published, .threshold = o.threshold});
  for (std::string_view status : {"green", "amber", "red"}) {
    const std::string plain = "<td>" + std::string(status) + "</td>";
    const std::string marked =
        "<td class=\"rag-" + std::string(status) + "\">" + std::string(status) + "</td>";
    for (size_t at = table.find(plain); at != std::string::npos;
         at = table.find(plain, at + marked.size())) {
      table.replace(at, plain.size(), marked);
    }
  }
  html += table + "</section>\n";

  // Each KPI over the last eight quarters, as known at the same time.
  std::vector<std::pair<Date, Date>> quarters;
  for (Date first = o.quarter.first; quarters.size() < 8; first = QuarterBefore(first)) {
    quarters.insert(quarters.begin(),
                    {first, quarters.empty() ? o.quarter.second : quarters.front().first});
  }
  std::vector<std::string> names;
  std::vector<std::vector<Figure>> series(o.kpis.size());
  for (const auto& q : quarters) {
    names.push_back(QuarterName(q.first));
    KpiQuery each = query;
    each.period = q;
    each.year_earlier = false;
    auto results = EvaluateKpis(store, o.kpis, *reference, each);
    if (!results.ok()) return results.status();
    for (size_t k = 0; k < results->size(); ++k) series[k].push_back((*results)[k].value);
  }
  html +=
      "<section>\n<h2>The last eight quarters</h2>\n<p class=\"note\">Each point is the KPI "
      "for the window ending with that quarter (its note above says which); the dashed line "
      "is its target.</p>\n<div class=\"trends\">\n";
  for (size_t k = 0; k < o.kpis.size(); ++k) {
    html += "<div class=\"trend\" data-kpi=\"" + HtmlEscape(o.kpis[k].id) + "\"><h3>" +
            HtmlEscape(o.kpis[k].title) +
            (o.kpis[k].unit.empty() ? "" : " (" + HtmlEscape(o.kpis[k].unit) + ")") + "</h3>" +
            TrendSvg(o.kpis[k], names, series[k]) + "</div>\n";
  }
  html += "</div>\n</section>\n";

  // Outcomes by tier and cohort, and call-outs per home against the same quarter a year before.
  auto section = [&](const std::string& heading, MetricQuery q) -> Status {
    q.known_at = known_at;
    q.today = last_day;
    q.population = o.population;
    auto t = RunMetric(store, q);
    if (!t.ok()) return t.status();
    html += "<section>\n<h2>" + HtmlEscape(heading) + "</h2>\n" +
            Render(*t, OutputFormat::kHtml,
                   {.published = o.published,
                    .threshold = o.threshold,
                    .breakdowns = o.published ? BreakdownsOf(store, q) : BreakdownRunner{}}) +
            "</section>\n";
    return Status::Ok();
  };
  MetricQuery outcomes;
  outcomes.metric = "outcomes";
  outcomes.period = o.quarter;
  outcomes.by = {"tier", "cohort"};
  CARELEDGER_RETURN_IF_ERROR(section("Outcomes by tier and cohort", outcomes));
  MetricQuery callouts;
  callouts.metric = "callouts";
  callouts.period = o.quarter;
  callouts.by = {"home_id"};
  CARELEDGER_RETURN_IF_ERROR(
      section("Police call-outs per home, against the same quarter a year earlier", callouts));

  // The panel worklist at the quarter's end: counts only, never a child.
  auto items = PanelWorklist(store, {.today = last_day, .known_at = known_at});
  if (!items.ok()) return items.status();
  std::map<std::pair<std::string, std::string>, int64_t> waiting;
  for (const auto& item : *items) {
    const std::string band = item.days_waiting <= 30   ? "0-30 days"
                             : item.days_waiting <= 90 ? "31-90 days"
                                                       : "over 90 days";
    ++waiting[{std::string(PanelStatusName(item.status)), band}];
  }
  ReportTable panel;
  panel.metric = "panel worklist";
  panel.selectors = {{"on", FormatDate(last_day)}};
  panel.dimensions = {"waiting_for", "days_waiting"};
  panel.measures = {"offences"};
  for (const auto& [key, n] : waiting) {
    ReportTable::Row row{{key.first, key.second}, {Figure::Count(n)}};
    panel.rows.push_back(std::move(row));
  }
  panel.notes.emplace_back(
      "offences by children looked after and care leavers waiting for a decision "
      "(awaiting_outcome) or for the court (charged); the list itself names "
      "children and is never in this pack");
  html += "<section>\n<h2>Out-of-court panel: offences waiting</h2>\n" +
          Render(panel, OutputFormat::kHtml, {.published = o.published, .threshold = o.threshold}) +
          "</section>\n";

  // What an auditor needs to build this page again.
  html += "<footer>\n<p>Built from log records 0 to " +
          (*end > 0 ? std::to_string(*end - 1) : std::string("none")) + " (" +
          std::to_string(*end) + " records ingested by " + FormatInstant(known_at) + ")";
  if (*end > 0) {
    auto chain = ChainAt(store, *end - 1);
    if (!chain.ok()) return chain.status();
    html += ", whose hash chain ends at <code data-lineage=\"chain\">" + *chain +
            "</code> (<code>careledger verify</code> checks the chain)";
  }
  html += ".</p>\n";
  if (!o.scratch_dir.empty()) {
    auto state = StateHashAsKnownAt(store, known_at, o.scratch_dir);
    if (!state.ok()) return state.status();
    html += "<p>Projection state as known at " + FormatInstant(known_at) +
            ": <code data-lineage=\"state\">" + *state +
            "</code>, the hash <code>careledger "
            "replay --as-known-at " +
            FormatInstant(known_at) + "</code> prints.</p>\n";
  }
  for (const auto& t : reference->tables()) {
    html += "<p>Comparators: " + HtmlEscape(t.name) + " (" + HtmlEscape(t.file) +
            ", sha256 <code>" + HtmlEscape(t.sha256) + "</code>, imported " +
            HtmlEscape(t.imported_at) + ").</p>\n";
  }
  html += "<p>To build it again: <code>careledger board-pack --quarter " +
          HtmlEscape(o.quarter_name) +
          (o.known_at ? " --as-known-at " + FormatInstant(known_at) : std::string()) +
          (o.published ? "" : " --exact") +
          "</code> with the same settings on a copy of this log (the same bytes).</p>\n";
  html += "</footer>\n</body>\n</html>\n";
  return html;
}

}  // namespace careledger
