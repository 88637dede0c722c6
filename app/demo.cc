// demo: everything on the embedded default, in one process: broker, generated feed, ingest,
// report, then the dashboard until Ctrl-C.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "careledger/kafka.h"
#include "careledger/producers.h"
#include "careledger/projections.h"
#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

struct DemoFlags {
  CommonFlags common;
  int children = 100000;
  uint64_t seed = 42;
  std::string dir = "careledger-demo";
  std::string listen;
  bool no_serve = false;
  std::vector<std::string> reference;  // published comparator tables to import
};

// 2. Three years of a synthetic authority's feed, ending today, written to `feed`; the options
// it was generated with (the report's window starts at theirs).
Result<GeneratorOptions> WriteDemoFeed(const DemoFlags& o, const std::string& feed) {
  GeneratorOptions gen;
  gen.children = o.children;
  gen.seed = o.seed;
  gen.end = Today() + std::chrono::days{1};
  gen.start = Date{std::chrono::year_month_day{gen.end} - std::chrono::years{3}};
  // Publish rejects a file with malformed lines (exit 1); the demo shows the rest of
  // the pipeline, so its feed has none. Late, re-sent and corrected events stay.
  gen.invalid_rate = 0;
  {
    std::ofstream out(feed, std::ios::binary);
    if (Status s = GenerateFeed(gen, out); !s.ok()) return s;
  }
  std::cerr << "generated the feed of an area with " << o.children << " children "
            << FormatDate(gen.start) << ".." << FormatDate(gen.end) << " into " << feed << '\n';
  return gen;
}

// 3. Publish, 4. ingest exactly once into the store.
Result<std::unique_ptr<EventStore>> PublishAndIngest(const DemoFlags& o, const std::string& feed,
                                                     const Settings& kafka,
                                                     const std::atomic<bool>& stop) {
  auto published = PublishJsonl({feed}, kafka, std::cerr);
  if (!published.ok()) return published.status();
  PrintPublishSummary(*published, FeedFormat::kJsonl);
  auto store = EventStore::Open({.path = o.dir + "/store"});
  if (!store.ok()) return store.status();
  IngestOptions ingest;
  ingest.kafka = kafka;
  ingest.until_end = true;
  auto stats = RunIngest(**store, ingest, stop);
  if (!stats.ok()) return stats.status();
  PrintIngestSummary(*stats);
  return store;
}

// 5. The report: CLA today by placement, and at each 31 March in the window.
Status PrintDemoReport(const EventStore& store, Date start, const Config& ctx_config,
                       const std::vector<Kpi>& kpis) {
  Date today = Today();
  auto now = ClaAt(store, today, ClaDimension::kPlacement);
  if (!now.ok()) return now.status();
  std::cout << Render(ClaReport(*now, today, ClaDimension::kPlacement), OutputFormat::kTable)
            << '\n';
  ReportTable trend;
  trend.metric = "cla at 31 March";
  trend.dimensions = {"at"};
  trend.measures = {"value"};
  for (auto y = std::chrono::year_month_day{start}.year();
       y <= std::chrono::year_month_day{today}.year(); ++y) {
    Date d = YearEnding{int(y)}.Last();
    if (d < start || d > today) continue;
    auto total = ClaAt(store, d, ClaDimension::kNone);
    if (!total.ok()) return total.status();
    trend.rows.push_back({{FormatDate(d)}, {Figure::Count(total->front().children)}});
  }
  std::cout << Render(trend, OutputFormat::kTable) << '\n';
  // The partnership's questions, over the last 12 months: how offences by children
  // in care are resolved, how often they are criminalised, how often they go missing.
  for (std::string_view metric : {"informal-share", "criminalisation", "missing"}) {
    MetricQuery q;
    q.metric = metric;
    q.today = today;
    q.population = [config = ctx_config](int year) { return config.PopulationFor(year); };
    auto table = RunMetric(store, q);
    if (!table.ok()) return table.status();
    std::cout << Render(*table, OutputFormat::kTable) << '\n';
  }
  // The plan's KPIs for the last complete quarter, with their targets and comparators.
  auto quarter = ParseMetricSelectors({"outcomes", "", "last-complete-quarter", "", ""}, {}, today);
  if (!quarter.ok()) return quarter.status();
  auto reference = ReferenceFigures::Load(store);
  if (!reference.ok()) return reference.status();
  const KpiQuery query{
      .period = *quarter->period,
      .today = today,
      .population = [config = ctx_config](int year) { return config.PopulationFor(year); },
      .area = ctx_config.Area()};
  auto results = EvaluateKpis(store, kpis, *reference, query);
  if (!results.ok()) return results.status();
  std::cout << Render(KpiReport(*results, query), OutputFormat::kTable) << '\n';
  return Status::Ok();
}

// Published comparator tables (docs/kpi.md) into the demo's store, as `reference import` does.
Status ImportReference(EventStore& store, const std::vector<std::string>& files) {
  for (const auto& file : files) {
    std::vector<std::string> problems;
    auto table = ReadReferenceTable(file, "", problems);
    if (!table.ok()) return table.status();
    for (const auto& p : problems) std::cerr << "careledger: " << p << '\n';
    CARELEDGER_RETURN_IF_ERROR(StoreReferenceTable(
        store, *table, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())));
    std::cerr << "comparators: " << table->figures.size() << " figures from " << table->file
              << '\n';
  }
  return Status::Ok();
}

// 6. The dashboard and the API over the same store, until Ctrl-C.
int ServeDashboard(const DemoFlags& o, const Context& ctx, EventStore& store, std::vector<Kpi> kpis,
                   const std::atomic<bool>& stop) {
  ServeOptions serve;
  serve.kpis = std::move(kpis);
  serve.area = ctx.config.Area();
  serve.listen = o.listen.empty() ? ctx.config.ServeListen() : o.listen;
  serve.token = ctx.config.ServeToken();
  serve.threshold = ctx.config.PublishThreshold();
  serve.store_path = o.dir + "/store";
  Config config = ctx.config;
  serve.population = [config](int year) { return config.PopulationFor(year); };
  auto server = HttpServer::Start(serve);
  if (!server.ok()) return Fail(server.status());
  (*server)->Attach(store);
  std::cout << "dashboard: http://" << (*server)->address() << "/  (Ctrl-C to stop)" << std::endl;
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  (*server)->Stop();
  return 0;
}

int RunDemo(const DemoFlags& o) {
  auto ctx = Resolve(o.common);
  if (!ctx.ok()) return Fail(ctx.status());
  auto kpis = KpisFromSettings(ctx->config.KpiSettings());
  if (!kpis.ok()) return Fail(kpis.status());
  SignalWatcher signals;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(o.dir, ec);
  fs::create_directories(o.dir, ec);
  if (ec) return Fail(Status::Fatal("cannot create " + o.dir + ": " + ec.message()));

  // 1. The embedded broker, in this process.
  auto cluster = MockCluster::Start(6);
  if (!cluster.ok()) return Fail(cluster.status());
  Settings kafka = ctx->kafka;
  kafka["bootstrap.servers"] = (*cluster)->bootstrap_servers();
  std::cerr << "embedded Kafka at " << kafka["bootstrap.servers"] << '\n';

  std::string feed = o.dir + "/feed.jsonl";
  auto gen = WriteDemoFeed(o, feed);
  if (!gen.ok()) return Fail(gen.status());
  auto store = PublishAndIngest(o, feed, kafka, signals.stop());
  if (!store.ok()) return Fail(store.status());
  if (Status s = ImportReference(**store, o.reference); !s.ok()) return Fail(s);
  if (Status s = PrintDemoReport(**store, gen->start, ctx->config, *kpis); !s.ok()) return Fail(s);
  std::cerr << "store: " << o.dir << "/store — try `careledger report cla --data " << o.dir
            << "/store --at 2025-03-31 --by legal_status`\n";
  if (o.no_serve) return 0;
  return ServeDashboard(o, *ctx, **store, std::move(*kpis), signals.stop());
}

}  // namespace

Command AddDemo(CLI::App& app) {
  auto o = std::make_shared<DemoFlags>();
  auto* cmd = app.add_subcommand("demo",
                                 "Everything on the embedded default: broker, generated feed, "
                                 "ingest, report, then the dashboard until Ctrl-C");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--children", o->children, "Children aged 0-17 in the area (default 100000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "Seed of the synthetic feed (default 42)");
  cmd->add_option("--dir", o->dir, "Working directory, emptied first (default ./careledger-demo)");
  cmd->add_option("--listen", o->listen,
                  "Dashboard address (default serve.listen, 127.0.0.1:8080)");
  cmd->add_option("--reference", o->reference,
                  "Published comparator tables to import for the KPIs (docs/kpi.md), e.g. the "
                  "DfE and YJB tables of ../shared/fixtures");
  cmd->add_flag("--no-serve", o->no_serve,
                "Stop after the report instead of serving the dashboard");
  return {cmd, [o] { return RunDemo(*o); }};
}

}  // namespace careledger::app
