// careledger/reporting.h — figures rendered for people and programs: aligned tables, CSV
// (header row, the --by dimensions first, then the measures) and JSON.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"
#include "careledger/config.h"
#include "careledger/projections.h"
#include "careledger/store.h"

namespace careledger {

// kHtml: a <table> and its notes, for a page of careledger's own (the board pack); never a
// --format.
enum class OutputFormat { kTable, kCsv, kJson, kHtml };
Result<OutputFormat> OutputFormatFromName(std::string_view name);

// The same figure by fewer of a table's --by dimensions, as a user would ask for it on its own
// (nullopt where it cannot be asked that way): the totals published beside the table.
using BreakdownRunner =
    std::function<std::optional<ReportTable>(const std::vector<std::string>& by)>;

// The runner for a query's own totals: the same metric, period and known-at from the store,
// by fewer dimensions (nullopt where the metric cannot be asked that way, or fails).
BreakdownRunner BreakdownsOf(const EventStore& store, const MetricQuery& query);
BreakdownRunner BreakdownsOf(const Stores& stores, const MetricQuery& query);

// Published output (spec/metrics.md "Publishing rules") hides small counts and whatever would
// give one back; the restricted output shows exact figures.
struct RenderOptions {
  bool published = false;
  int64_t threshold = 5;  // counts from 1 to threshold-1 are suppressed
  // The totals beside the table; without it, the sums of the table's own cells stand in.
  BreakdownRunner breakdowns = {};
};

std::string Render(const ReportTable& table, OutputFormat format,
                   const RenderOptions& options = {});

// What published output shows of one figure: the figure, "<threshold" (a small count) or "c"
// (withheld: derived from a hidden count, or hidden so that a published total cannot give
// one back).
enum class Shown : uint8_t { kFigure, kSmall, kWithheld };
// One Shown per figure of the table, rows by measures. Primary: counts from 1 to threshold-1
// and what is derived from them. Secondary: against the totals published beside it (each
// table by fewer dimensions, protected the same way; a row's total and its parts,
// ReportTable::row_sums) no hidden count may be pinned by one total and the ranges the others
// show, nor be a combination of the totals; the smallest other count is hidden until none is,
// then what is derived from those.
std::vector<std::vector<Shown>> Protect(const ReportTable& table, int64_t threshold,
                                        const BreakdownRunner& breakdowns = {});

// The dashboard's files, built into the binary (so serve needs nothing installed beside it).
struct Asset {
  std::string_view content_type;
  std::string_view body;
};
// The file at a URL path without its query: "/" (also "/index.html") is the page,
// "/dashboard.js" and "/dashboard.css" its script and style; nullopt for any other path. The page
// reads GET /api/v1/metrics/{metric}?at=&period=&by=&published= every second.
std::optional<Asset> DashboardAsset(std::string_view path);

// ---- Reference figures (docs/kpi.md) -----------------------------------------------------
// Figures as DfE and the YJB publish them, read from their own files, never retyped: KPI
// comparators. One figure: an indicator for an area and a year ending 31 March.
struct ReferenceFigure {
  // Named by the row's filters and the measure, as slugs:
  // "cla_on_31_march.with_3_or_more_placements_during_the_year.children_percent".
  std::string indicator;
  std::string level;      // national, regional, local_authority
  std::string area_code;  // ONS: E92000001 England, E12… a region, the authority's own
  std::string la_number;  // DfE's three-digit LA number, where the table gives it
  std::string area_name;
  std::string period;           // as published: "2025", "2024/25"
  int year = 0;                 // the year ending 31 March it covers
  std::string published;        // the cell as published: "62", "c", "z"
  std::optional<double> value;  // none where the cell is a marker
};
struct ReferenceTable {
  std::string name;  // what it is kept as (by default the file's name without .csv)
  std::string file, sha256, imported_at;
  std::string layout;  // "wide" (explore-education-statistics) or "long"
  std::vector<ReferenceFigure> figures;
};
// A published table: DfE's explore-education-statistics layout (time_period, geographic_level,
// the geography's codes, then filter columns and measure columns) or the long layout (area_code,
// area_name, area_type, period, indicator, measure, value). A UTF-8 BOM, quoted cells and
// c/z/x markers are read as published. BadInput when the file is neither; `problems` gets each
// row left out (file:line and why).
Result<ReferenceTable> ReadReferenceTable(const std::string& path, std::string name,
                                          std::vector<std::string>& problems);
std::string EncodeReferenceTable(const ReferenceTable& table);
// Keeps the table in the store (replacing the one of its name), stamped as imported `now`.
Status StoreReferenceTable(EventStore& store, ReferenceTable& table, Instant now);
Result<ReferenceTable> DecodeReferenceTable(std::string_view name, std::string_view text);

// Every reference table, indexed by indicator and area (its ONS code or LA number).
class ReferenceFigures {
 public:
  static Result<ReferenceFigures> Load(const EventStore& store);
  static ReferenceFigures Of(std::vector<ReferenceTable> tables);
  ReferenceFigures() = default;
  ReferenceFigures(ReferenceFigures&&) = default;
  ReferenceFigures& operator=(ReferenceFigures&&) = default;
  ReferenceFigures(const ReferenceFigures&) = delete;
  ReferenceFigures& operator=(const ReferenceFigures&) = delete;
  const std::vector<ReferenceTable>& tables() const { return tables_; }
  // The latest figure published for a year ending 31 March `year` or before; null for none.
  const ReferenceFigure* Find(std::string_view indicator, std::string_view area, int year) const;
  bool Has(std::string_view indicator) const;
  // The table a figure came from.
  const ReferenceTable* TableOf(const ReferenceFigure* figure) const;

 private:
  std::vector<ReferenceTable> tables_;
  std::map<std::pair<std::string, std::string>, std::vector<const ReferenceFigure*>> index_;
};

// ---- KPIs (docs/kpi.md) --------------------------------------------------------------------
// A figure a plan watches: which metric and row, which way is good, its target and red
// threshold, and its published comparators.
struct Kpi {
  std::string id = {}, title = {};
  std::string metric = {}, measure = {};
  std::vector<std::pair<std::string, std::string>> select = {};  // dimension → value: the row
  bool higher_is_better = false;
  std::optional<double> target = {}, red = {};
  double scale = 1;  // the metric's figure times this (a percentage as per 10,000: 100)
  std::string unit = {};
  // A period metric over the 12 months to the period's end (the default: the published
  // comparators are annual), or over the period asked for.
  bool twelve_months = true;
  // Comparator → indicator: national (England), region, neighbours (the mean of the
  // statistical neighbours'), local (the area's own published figure).
  std::vector<std::pair<std::string, std::string>> comparators = {};
  std::string where = {};  // the settings that changed it ("careledger.toml:12"), for errors
};
// The default set: the plans' measures (criminalisation, informal share for children looked
// after, first-time entrants, use of custody, reoffending, missing episodes per child looked
// after, placement stability, children cautioned or sentenced), without targets.
std::vector<Kpi> DefaultKpis();
// The default set changed and added to by the settings' [kpi.ID] tables (enabled = false
// drops one); BadInput naming the setting and where it came from.
Result<std::vector<Kpi>> KpisFromSettings(
    const std::map<std::string, std::map<std::string, SettingValue>>& settings);

enum class KpiStatus { kGreen, kAmber, kRed, kNoTarget, kNoFigure };
std::string_view KpiStatusName(KpiStatus status);  // green, amber, red, no_target, no_figure
// /metrics' careledger_kpi_status: 0 green, 1 amber, 2 red, -1 no target or no figure.
int KpiStatusGauge(KpiStatus status);
// Green at or better than the target; red at or worse than `red` (without one, anything worse
// than the target); amber between.
KpiStatus JudgeKpi(const Kpi& kpi, std::optional<double> value);

struct KpiQuery {
  std::pair<Date, Date> period = {};  // the reporting period [from, to)
  std::optional<Instant> known_at = {};
  Date today{};
  std::function<std::optional<AreaPopulation>(int year)> population = {};
  AreaCodes area = {};
  bool published = false;  // figures suppressed as in published output; statuses shown
  int64_t threshold = 5;
  bool year_earlier = true;  // false: the year before is not read (a trend's quarters)
};
struct KpiComparatorValue {
  std::string name = {};       // national, region, neighbours, local
  std::string published = {};  // as published ("62", "c"); a mean to one decimal; empty: none
  std::optional<double> value = {};
  int year = 0;             // the year ending 31 March it is for
  std::string source = {};  // the reference table's file
  std::string note = {};    // why there is none, or what a mean is of
};
struct KpiResult {
  Kpi kpi;
  std::string window, earlier_window;  // "2025-04-01..2026-04-01", "at 2026-03-31"
  Figure value, year_earlier;          // published: a withheld figure is kText "<5" or "c"
  std::optional<double> exact_value;   // what the status is judged on
  KpiStatus status = KpiStatus::kNoFigure;
  int comparator_year = 0;  // the year ending 31 March comparators are asked for
  std::vector<KpiComparatorValue> comparators;
  std::vector<std::string> notes;  // the metric's own notes
};
Result<std::vector<KpiResult>> EvaluateKpis(const EventStore& store, const std::vector<Kpi>& kpis,
                                            const ReferenceFigures& reference,
                                            const KpiQuery& query);
// The same over several instances' stores read as one (RunMetric).
Result<std::vector<KpiResult>> EvaluateKpis(const Stores& stores, const std::vector<Kpi>& kpis,
                                            const ReferenceFigures& reference,
                                            const KpiQuery& query);
// One row a KPI: its value, the year before, change, target, red, status and comparators.
ReportTable KpiReport(const std::vector<KpiResult>& results, const KpiQuery& query);

// ---- The quarterly board pack (docs/kpi.md "The board pack") ------------------------------
struct BoardPackOptions {
  std::pair<Date, Date> quarter = {};  // [first day, the day after its last)
  std::string quarter_name = {};       // "2026Q3"
  bool published = true;
  int64_t threshold = 5;
  std::vector<Kpi> kpis = DefaultKpis();
  AreaCodes area = {};
  std::function<std::optional<AreaPopulation>(int year)> population = {};
  Instant now{};  // the pack is as known at the quarter's end, or now if that is sooner
  // Another time to know it at (a store loaded after the quarter ended knew nothing then).
  std::optional<Instant> known_at = {};
  // Where the audit rebuild as known at that time goes (removed after): its state hash is the
  // one `careledger replay --as-known-at` prints. Empty: no rebuild, no state hash.
  std::string scratch_dir = {};
};
// One self-contained HTML page: the KPI table with statuses, each KPI over the last eight
// quarters (SVG), outcomes by tier and cohort, call-outs per home year on year, the panel
// worklist's counts (never names), and a footer naming the log, its hash chain head, the
// reference tables and the state hash an auditor can reproduce. The same store and settings
// give the same bytes.
Result<std::string> BoardPackHtml(const EventStore& store, const BoardPackOptions& options);

// ---- HTTP: `careledger serve` and `careledger run` (docs/api.md) ---------------------------
// The JSON API, Prometheus /metrics, health and the dashboard. Without a valid
// `Authorization: Bearer <token>` every figure is the published (suppressed) view and lineage
// is refused; a token that is sent and wrong is refused everywhere (401) and never logged.
// A pipeline running in the server's process (`careledger run`), as the server sees it: the
// server knows nothing of how it consumes.
class PipelineView {
 public:
  virtual ~PipelineView() = default;
  // It has read what the brokers held when it started (/readyz).
  virtual bool CaughtUp() const = 0;
  // The partitions it has been assigned and has not yet read to the end of since: a store
  // that has just taken them over holds less of them than there is.
  virtual std::set<int32_t> CatchingUp() const { return {}; }
  // Its own metric families, appended to /metrics.
  virtual void AppendMetrics(PrometheusText& out) const = 0;
};

// An instance of this one's consumer group as it last announced itself (app/ reads them
// from careledger.instances.v1; reporting/ knows nothing of Kafka).
struct PeerInstance {
  std::string instance = {}, advertised = {};
  std::vector<int32_t> partitions = {};
  std::vector<int32_t> reading = {};  // of those, the ones it has not yet read to the end
  int32_t of = 0;                     // the source topics' partition count (0: not said)
  bool live = false;  // running, and heard from lately; else it died without saying so
  Instant at{};       // when it last announced itself
};

// The group as this instance last heard of it.
struct GroupView {
  // The ingest writing this store, when it runs as a process of its own (`serve` beside
  // `ingest`, the systemd layout): what it is still reading, and whether it runs at all. Absent
  // for `run` (its pipeline says), and until that ingest has announced itself.
  std::optional<PeerInstance> self;
  std::vector<PeerInstance> others;  // those announcing partitions
};

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  std::string token;                      // empty: exact figures are never served
  int64_t threshold = 5;                  // published suppression (RenderOptions::threshold)
  std::string store_path;                 // for careledger_store_size_bytes
  // Reference inputs for the metrics, as `report` has them from the settings.
  std::function<std::optional<AreaPopulation>(int year)> population;
  // The KPIs (GET /api/v1/kpi, careledger_kpi_status) and the area their comparators are for.
  std::vector<Kpi> kpis = DefaultKpis();
  AreaCodes area;
  // `run`: ingest in this process. Pipeline metrics come from it, and /readyz waits for it
  // to catch up. Null for `serve` alone.
  const PipelineView* pipeline = nullptr;
  // `ingest --metrics-listen`: /metrics holds the pipeline's families only, beside /healthz and
  // /readyz (ready once the pipeline has caught up); no figures, no store, nothing else.
  bool pipeline_only = false;
  // The store is a secondary (StoreOptions::secondary_path) following another process:
  // CatchUp before answering, at most once per interval.
  bool follow_store = false;
  std::chrono::milliseconds catch_up_interval{5};
  std::function<Date()> today = Today;  // what "now" means for figures without at/period
  // The group. A figure asks the other instances that answer for partitions this one does not
  // (with the token) and merges their answers; its response says which partitions it covers
  // and, when an instance could not be asked or did not answer, or this store is still reading
  // some of its own, that it is partial and who holds the rest, never a smaller figure passed
  // off as the area's. Null: none known.
  std::function<GroupView()> group;
  // How long a peer may take to connect (at most a second) and to answer one read; past it,
  // its partitions are left out of the figure and the response says so.
  std::chrono::milliseconds peer_timeout{5000};
  // PEM file of the certificate authority that signed the peers' TLS certificates (empty: the
  // system's); for an https `advertised` address.
  std::string peer_ca_path;

  // TLS (PEM files), both or neither. An address other than loopback (127.0.0.0/8, ::1,
  // localhost) is refused without TLS and a token unless insecure_public, which logs a warning.
  std::string tls_cert_path, tls_key_path;
  bool insecure_public = false;

  // Idle and slow clients: each connection holds a thread while it is open, so these bound how
  // long one can hold it and how many are held; past max_connections the rest wait in the
  // kernel's accept queue (listen_backlog), and past that the kernel refuses them.
  std::chrono::milliseconds read_timeout{2000};  // each read while a request is arriving
  int keep_alive_seconds = 2;                    // waiting for a first or next request
  size_t max_connections = 512;
  int listen_backlog = 512;
};

class HttpServer {
 public:
  // Binds (Fatal when the address is taken) and serves on a thread of its own until Stop or
  // destruction. Until Attach, /readyz says 503 and figures are 503.
  static Result<std::unique_ptr<HttpServer>> Start(ServeOptions options);
  ~HttpServer();
  // The store to answer from; it must outlive the server (or Stop). Once only.
  void Attach(EventStore& store);
  std::string address() const;  // "HOST:PORT" actually bound
  bool tls() const;
  void Stop();

 private:
  HttpServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// M1 at a date as a report table.
ReportTable ClaReport(const std::vector<ClaRow>& rows, Date at, ClaDimension by);
// The out-of-court panel's worklist as a table: one row an offence, its days waiting the one
// measure. Restricted output only (it names children).
ReportTable PanelReport(const std::vector<PanelItem>& items, Date as_of,
                        std::optional<Instant> known_at);

}  // namespace careledger
