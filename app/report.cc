// report and lineage: one figure of spec/metrics.md, and the event ids behind one of its cells.
// Both take the same selectors, so a figure and its lineage are always asked the same way.
#include <iostream>

#include "careledger/projections.h"
#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

struct Selectors {
  CommonFlags common;
  std::string metric, at, period, known_at, by, series, format = "table";
};

std::string MetricList() {
  std::string out;
  for (auto name : MetricNames()) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

void AddSelectors(CLI::App& cmd, Selectors& s) {
  AddCommonFlags(cmd, s.common, /*several_stores=*/true);
  cmd.add_option("metric", s.metric,
                 "Metric: " + MetricList() +
                     "; or, for report, panel: the out-of-court panel's worklist (names children), "
                     "or kpi: every KPI with its target, status and comparators")
      ->required();
  cmd.add_option("--at", s.at, "The state on a date, YYYY-MM-DD (default today)");
  cmd.add_option("--period", s.period,
                 "A half-open period FROM..TO, a financial year 2025-26, a quarter 2026Q3 or "
                 "last-complete-quarter (default the last 12 complete months)");
  cmd.add_option("--as-known-at", s.known_at,
                 "Only what had been ingested by then (RFC 3339; a bare date is its midnight UTC)");
  cmd.add_option("--series", s.series,
                 "monthly: one block of rows per calendar month of the period (whole months), "
                 "the month first")
      ->check(CLI::IsMember({"monthly"}));
  cmd.add_option("--by", s.by,
                 "Dimensions to break down by, comma-separated; none for the figure for everyone "
                 "where a metric breaks down by default");
}

// The selectors as a query, with the area populations of the settings.
Result<MetricQuery> ToQuery(const Selectors& s, const Context& ctx) {
  auto q = ParseMetricSelectors({s.metric, s.at, s.period, s.known_at, s.by, s.series});
  if (!q.ok()) return q.status();
  Config config = ctx.config;
  q->population = [config](int year) { return config.PopulationFor(year); };
  return q;
}

// The first of the flags a subcommand does not take that was given; null when none was.
const char* FirstGiven(std::initializer_list<std::pair<const char*, bool>> flags) {
  for (const auto& [flag, given] : flags) {
    if (given) return flag;
  }
  return nullptr;
}

int UsageError(const Status& s) {
  std::cerr << "careledger: " << s.message() << '\n';
  return 2;
}

// The stores --data names, opened to read: one, or the stores of several instances of one
// consumer group, read as one.
struct OpenedStores {
  std::vector<std::unique_ptr<EventStore>> opened;
  Stores stores;
};
Result<OpenedStores> OpenToRead(const Context& ctx) {
  OpenedStores out;
  for (const auto& dir : ctx.data_dirs) {
    auto store = EventStore::Open({.path = dir, .read_only = true});
    if (!store.ok()) return store.status();
    out.stores.push_back(store->get());
    out.opened.push_back(std::move(store).value());
  }
  return out;
}

// report panel and report kpi read one store.
Status OneStore(const Context& ctx, std::string_view what) {
  if (ctx.data_dirs.size() <= 1) return Status::Ok();
  return Status::BadInput(std::string(what) +
                          " reads one store: give --data once (several stores answer as one for "
                          "a metric's report and lineage)");
}

// `report panel`: the out-of-court panel's worklist, today or as known at a time. It names
// children, so it has no published form, and it is a list, not a figure: no --at, --period,
// --by or --series.
int ReportPanel(const Selectors& s, bool published) {
  if (const char* flag = FirstGiven({{"--at", !s.at.empty()},
                                     {"--period", !s.period.empty()},
                                     {"--by", !s.by.empty()},
                                     {"--series", !s.series.empty()},
                                     {"--published", published}})) {
    return UsageError(
        Status::BadInput(std::string("report panel takes ") + flag +
                         " nowhere: the worklist is every offence waiting for a decision, today or "
                         "--as-known-at a time, and it names children, so it is never published"));
  }
  auto ctx = Resolve(s.common);
  if (!ctx.ok()) return Fail(ctx.status());
  auto query = ParseMetricSelectors({"panel", "", "", s.known_at, "", ""});
  if (!query.ok()) return UsageError(query.status());
  if (auto one = OneStore(*ctx, "report panel"); !one.ok()) return UsageError(one);
  auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
  if (!store.ok()) return Fail(store.status());
  auto items = PanelWorklist(**store, {.today = query->today, .known_at = query->known_at});
  if (!items.ok()) return Fail(items.status());
  const Date as_of =
      query->known_at ? std::chrono::floor<std::chrono::days>(*query->known_at) : query->today;
  std::cout << Render(PanelReport(*items, as_of, query->known_at), *OutputFormatFromName(s.format));
  return 0;
}

// `report kpi`: every KPI (the defaults as the settings change them) for a reporting period,
// the last complete quarter unless --period says.
int ReportKpi(const Selectors& s, bool published) {
  if (const char* flag = FirstGiven(
          {{"--at", !s.at.empty()}, {"--by", !s.by.empty()}, {"--series", !s.series.empty()}})) {
    return UsageError(Status::BadInput(
        std::string("report kpi takes no ") + flag +
        ": each KPI reads its own metric's row; give the reporting --period (default "
        "last-complete-quarter)"));
  }
  auto ctx = Resolve(s.common);
  if (!ctx.ok()) return Fail(ctx.status());
  auto kpis = KpisFromSettings(ctx->config.KpiSettings());
  if (!kpis.ok()) return UsageError(kpis.status());
  auto query = ParseMetricSelectors(
      {"outcomes", "", s.period.empty() ? "last-complete-quarter" : s.period, s.known_at, "", ""});
  if (!query.ok()) return UsageError(query.status());
  if (auto one = OneStore(*ctx, "report kpi"); !one.ok()) return UsageError(one);
  auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
  if (!store.ok()) return Fail(store.status());
  auto reference = ReferenceFigures::Load(**store);
  if (!reference.ok()) return Fail(reference.status());
  const Config config = ctx->config;
  const KpiQuery kpi_query{.period = *query->period,
                           .known_at = query->known_at,
                           .today = query->today,
                           .population = [config](int year) { return config.PopulationFor(year); },
                           .area = config.Area(),
                           .published = published,
                           .threshold = config.PublishThreshold()};
  auto results = EvaluateKpis(**store, *kpis, *reference, kpi_query);
  if (!results.ok()) {
    return results.status().error_class() == ErrorClass::kBadInput ? UsageError(results.status())
                                                                   : Fail(results.status());
  }
  std::cout << Render(KpiReport(*results, kpi_query), *OutputFormatFromName(s.format),
                      {.published = published, .threshold = kpi_query.threshold});
  return 0;
}

}  // namespace

Command AddReport(CLI::App& app) {
  struct Opts : Selectors {
    bool published = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("report", "Print a figure from the store (spec/metrics.md)");
  AddSelectors(*cmd, *o);
  cmd->add_option("--format", o->format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->add_flag("--published", o->published,
                "Suppress small counts (1 to publish.threshold - 1, default 1 to 4), every figure "
                "derived from them, and whatever the totals would reveal, for publication");
  return {cmd, [o] {
            if (o->metric == "panel") return ReportPanel(*o, o->published);
            if (o->metric == "kpi") return ReportKpi(*o, o->published);
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto query = ToQuery(*o, *ctx);
            if (!query.ok()) return UsageError(query.status());
            if (auto s = CheckMetricQuery(*query); !s.ok()) return UsageError(s);
            auto opened = OpenToRead(*ctx);
            if (!opened.ok()) return Fail(opened.status());
            auto table = RunMetric(opened->stores, *query);
            if (!table.ok()) {
              return table.status().error_class() == ErrorClass::kBadInput
                         ? UsageError(table.status())
                         : Fail(table.status());
            }
            std::cout << Render(*table, *OutputFormatFromName(o->format),
                                {.published = o->published,
                                 .threshold = ctx->config.PublishThreshold(),
                                 .breakdowns = BreakdownsOf(opened->stores, *query)});
            return 0;
          }};
}

Command AddLineage(CLI::App& app) {
  struct Opts : Selectors {
    std::string cell;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("lineage", "The event ids behind one figure of a report");
  AddSelectors(*cmd, *o);
  cmd->add_option(
      "--cell", o->cell,
      "The row: DIM=VALUE,... for each --by dimension (none for a report without --by)");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto query = ToQuery(*o, *ctx);
            if (!query.ok()) return UsageError(query.status());
            auto cell = ParseCell(o->cell);
            if (!cell.ok()) return UsageError(cell.status());
            if (auto s = CheckMetricQuery(*query, &*cell); !s.ok()) return UsageError(s);
            auto opened = OpenToRead(*ctx);
            if (!opened.ok()) return Fail(opened.status());
            auto entries = RunLineage(opened->stores, *query, *cell);
            if (!entries.ok()) {
              return entries.status().error_class() == ErrorClass::kBadInput
                         ? UsageError(entries.status())
                         : Fail(entries.status());
            }
            std::cout << "measure\tevent_id\n";
            for (const auto& e : *entries) std::cout << e.measure << '\t' << e.event_id << '\n';
            return 0;
          }};
}

}  // namespace careledger::app
