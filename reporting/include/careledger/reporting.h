// careledger/reporting.h — figures rendered for people and programs: aligned tables, CSV
// (header row, the --by dimensions first, then the measures) and JSON.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"
#include "careledger/projections.h"
#include "careledger/store.h"

namespace careledger {

enum class OutputFormat { kTable, kCsv, kJson };
Result<OutputFormat> OutputFormatFromName(std::string_view name);

// The same figure by fewer of a table's --by dimensions, as a user would ask for it on its own
// (nullopt where it cannot be asked that way): the totals published beside the table.
using BreakdownRunner =
    std::function<std::optional<ReportTable>(const std::vector<std::string>& by)>;

// The runner for a query's own totals: the same metric, period and known-at from the store,
// by fewer dimensions (nullopt where the metric cannot be asked that way, or fails).
BreakdownRunner BreakdownsOf(const EventStore& store, const MetricQuery& query);

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
  // Its own metric families, appended to /metrics.
  virtual void AppendMetrics(PrometheusText& out) const = 0;
};

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  std::string token;                      // empty: exact figures are never served
  int64_t threshold = 5;                  // published suppression (RenderOptions::threshold)
  std::string store_path;                 // for careledger_store_size_bytes
  // Reference inputs for the metrics, as `report` has them from the settings.
  std::function<std::optional<AreaPopulation>(int year)> population;
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
