// The routes of the HTTP server and its API handlers (docs/api.md): who may ask, the query a
// request makes, and the JSON (or text) it gets back.
#include <httplib.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "careledger/reporting.h"
#include "http_server.h"

namespace careledger {

namespace {

using http_detail::Clock;

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

void Error(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content("{\"error\": " + JsonString(message) + "}\n", "application/json");
}

// Who is asking: no Authorization header at all, the right bearer token, or anything else.
enum class Access { kAnonymous, kRestricted, kRefused };

Access Authorize(const httplib::Request& req, const std::string& token) {
  if (!req.has_header("Authorization")) return Access::kAnonymous;
  const std::string& header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (token.empty() || header.size() != kBearer.size() + token.size() ||
      header.compare(0, kBearer.size(), kBearer) != 0) {
    return Access::kRefused;
  }
  // Constant time: how much of a guess matched must not show in the response time.
  return CRYPTO_memcmp(header.data() + kBearer.size(), token.data(), token.size()) == 0
             ? Access::kRestricted
             : Access::kRefused;
}

// The query string's selectors as `report` takes them (at, period, as_known_at, by, series);
// BadInput naming the parameter. Messages may quote the parameter: it is the caller's own text.
Result<MetricQuery> ToQuery(const httplib::Request& req, const std::string& metric,
                            const ServeOptions& options) {
  auto param = [&](const char* name) {
    return req.has_param(name) ? req.get_param_value(name) : std::string();
  };
  auto q = ParseMetricSelectors(
      {metric, param("at"), param("period"), param("as_known_at"), param("by"), param("series")},
      {.at = "at",
       .period = "period",
       .known_at = "as_known_at",
       .cell = "cell",
       .series = "series"});
  if (!q.ok()) return q.status();
  q->today = options.today();
  q->population = options.population;
  return q;
}

// A parameter as sent, for values that hold '=' themselves (cell=cohort=cla): httplib's own
// parser cuts a value at its first '='.
std::optional<std::string> RawParam(const std::string& target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string::npos) return std::nullopt;
  for (size_t start = q + 1; start < target.size();) {
    size_t amp = target.find('&', start);
    if (amp == std::string::npos) amp = target.size();
    std::string_view item(target.data() + start, amp - start);
    if (item.size() > name.size() && item.substr(0, name.size()) == name &&
        item[name.size()] == '=') {
      return httplib::detail::decode_url(std::string(item.substr(name.size() + 1)), true);
    }
    start = amp + 1;
  }
  return std::nullopt;
}

// A request path or method as the log shows it: control characters and bytes outside printable
// ASCII as \xHH (and a backslash doubled), so a decoded %0A cannot start a forged log line.
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out;
}

// 401 for a token that was sent and is wrong, logged (so that guessing shows) without the token.
void Refuse(const httplib::Request& req, httplib::Response& res) {
  spdlog::warn("serve: {} {} from {}: wrong bearer token (not logged)", Printable(req.method),
               Printable(req.path), req.remote_addr);
  Error(res, 401, "invalid bearer token");
}

// For endpoints that name events or children: true with the right token; otherwise the response
// is set (403 without any token, saying `why`; 401 for a wrong one).
bool TokenOnly(const httplib::Request& req, httplib::Response& res, const std::string& token,
               std::string_view why) {
  switch (Authorize(req, token)) {
    case Access::kRefused:
      Refuse(req, res);
      return false;
    case Access::kAnonymous:
      Error(res, 403, why);
      return false;
    case Access::kRestricted:
      break;
  }
  return true;
}

bool IsTrue(const std::string& v) {
  return v == "1" || v == "true" || v == "yes";
}

}  // namespace

// The store, up to date to within catch_up_interval, locked for reading; null (and the
// response set) when there is none yet or catching up failed.
EventStore* HttpServer::Impl::Fresh(std::shared_lock<std::shared_mutex>& lock,
                                    httplib::Response& res, bool wait_to_catch_up) {
  EventStore* s = store.load();
  if (!s) {
    Error(res, 503, "the store is not open yet");
    return nullptr;
  }
  if (options.follow_store) {
    std::unique_lock exclusive(mu, std::defer_lock);
    if (wait_to_catch_up) {
      exclusive.lock();
    } else {
      (void)exclusive.try_lock();
    }
    if (exclusive.owns_lock() && Clock::now() - last_catch_up >= options.catch_up_interval) {
      if (Status st = s->CatchUp(); !st.ok()) {
        spdlog::warn("serve: {}", st.message());
        Error(res, 503, "the store could not be read; see the server log");
        return nullptr;
      }
      last_catch_up = Clock::now();
    }
  }
  lock = std::shared_lock(mu);
  return s;
}

void HttpServer::Impl::Metric(const httplib::Request& req, httplib::Response& res) {
  Access access = Authorize(req, options.token);
  if (access == Access::kRefused) return Refuse(req, res);
  auto query = ToQuery(req, req.matches[1], options);
  if (!query.ok()) return Error(res, 400, query.status().message());
  if (Status s = CheckMetricQuery(*query); !s.ok()) return Error(res, 400, s.message());
  std::shared_lock<std::shared_mutex> lock;
  EventStore* s = Fresh(lock, res);
  if (!s) return;
  http_detail::FanOut fan_out(*s, options, &peer_connections);
  if (!fan_out.status.ok()) {
    spdlog::error("serve: {}: {}", query->metric, fan_out.status.message());
    return Error(res, 500, "the figure's partitions could not be read; see the server log");
  }
  auto table =
      fan_out.Run<ReportTable>([&](const Stores& stores) { return RunMetric(stores, *query); });
  if (!table.ok()) {
    if (table.status().error_class() == ErrorClass::kBadInput) {
      return Error(res, 400, table.status().message());
    }
    spdlog::error("serve: {}: {}", query->metric, table.status().message());
    return Error(res, 500, "the figure could not be computed; see the server log");
  }
  bool published = access != Access::kRestricted ||
                   (req.has_param("published") && IsTrue(req.get_param_value("published")));
  std::string body =
      Render(*table, OutputFormat::kJson,
             {.published = published,
              .threshold = options.threshold,
              .breakdowns = published ? BreakdownsOf(fan_out.stores, *query) : BreakdownRunner{}});
  fan_out.Describe(res, body);
  res.set_content(body, "application/json");
}

void HttpServer::Impl::Lineage(const httplib::Request& req, httplib::Response& res) {
  if (!TokenOnly(req, res, options.token, "lineage needs the bearer token")) return;
  auto query = ToQuery(req, req.matches[1], options);
  if (!query.ok()) return Error(res, 400, query.status().message());
  Cell cell;
  if (auto raw = RawParam(req.target, "cell")) {
    auto parsed = ParseCell(*raw, {.cell = "cell"});
    if (!parsed.ok()) return Error(res, 400, parsed.status().message());
    cell = std::move(*parsed);
  }
  if (Status s = CheckMetricQuery(*query, &cell); !s.ok()) return Error(res, 400, s.message());
  std::shared_lock<std::shared_mutex> lock;
  EventStore* s = Fresh(lock, res);
  if (!s) return;
  http_detail::FanOut fan_out(*s, options, &peer_connections);
  if (!fan_out.status.ok()) {
    spdlog::error("serve: lineage {}: {}", query->metric, fan_out.status.message());
    return Error(res, 500, "the lineage's partitions could not be read; see the server log");
  }
  auto entries = fan_out.Run<std::vector<LineageEntry>>(
      [&](const Stores& stores) { return RunLineage(stores, *query, cell); });
  if (!entries.ok()) {
    if (entries.status().error_class() == ErrorClass::kBadInput) {
      return Error(res, 400, entries.status().message());
    }
    spdlog::error("serve: lineage {}: {}", query->metric, entries.status().message());
    return Error(res, 500, "the lineage could not be computed; see the server log");
  }
  std::string out = "{\"metric\": " + JsonString(query->metric) + ", \"events\": [";
  for (size_t i = 0; i < entries->size(); ++i) {
    const auto& e = (*entries)[i];
    out += (i ? ", " : "") + std::string("{\"measure\": ") + JsonString(e.measure) +
           ", \"event_id\": " + JsonString(e.event_id) + "}";
  }
  out += "]}\n";
  fan_out.Describe(res, out);
  res.set_content(out, "application/json");
}

// Another instance of the group reading this store for a figure it is answering (FanOut): the
// token only (the answer holds children's rows and events), and only once ingest has caught up,
// so that a store still reading its partitions is never counted as whole.
void HttpServer::Impl::InternalRead(const httplib::Request& req, httplib::Response& res) {
  if (!TokenOnly(req, res, options.token, "another instance's read needs the bearer token")) {
    return;
  }
  std::string why;
  if (!Ready(why)) return Error(res, 503, why);
  std::shared_lock<std::shared_mutex> lock;
  // Not waiting to catch up: the asker may hold its own store's lock while it waits for this
  // answer, and this store's next figure may be waiting on the asker's.
  EventStore* s = Fresh(lock, res, /*wait_to_catch_up=*/false);
  if (!s) return;
  if (auto assignment = s->Assignment(); assignment.ok()) {
    std::set<int32_t> own;
    for (const auto& tp : *assignment) own.insert(tp.partition);
    if (!http_detail::StillReading(options, own, options.group ? options.group() : GroupView{})
             .empty()) {
      return Error(res, 503, "ingest is still reading partitions this instance has taken over");
    }
  }
  auto answer = AnswerStoreRead(*s, req.body);
  if (!answer.ok()) {
    switch (answer.status().error_class()) {
      case ErrorClass::kBadInput:
        return Error(res, 400, answer.status().message());
      case ErrorClass::kRetriable:
        return Error(res, 409, answer.status().message());
      default:
        spdlog::error("serve: a peer's read: {}", answer.status().message());
        return Error(res, 500, "the store could not be read; see the server log");
    }
  }
  res.set_content(*answer, "application/octet-stream");
}

// The out-of-court panel's worklist names children: the token only, never a published view.
// Each read is logged (who asked and how many offences it listed), never with the ids.
void HttpServer::Impl::Panel(const httplib::Request& req, httplib::Response& res) {
  if (!TokenOnly(req, res, options.token,
                 "the panel worklist names children: it needs the bearer token")) {
    return;
  }
  if (req.has_param("published") && IsTrue(req.get_param_value("published"))) {
    return Error(res, 400, "the panel worklist names children and has no published view");
  }
  auto query = ParseMetricSelectors(
      {"panel", "", "", req.has_param("as_known_at") ? req.get_param_value("as_known_at") : "", ""},
      {.known_at = "as_known_at"}, options.today());
  if (!query.ok()) return Error(res, 400, query.status().message());
  std::shared_lock<std::shared_mutex> lock;
  EventStore* s = Fresh(lock, res);
  if (!s) return;
  auto items = PanelWorklist(*s, {.today = query->today, .known_at = query->known_at});
  if (!items.ok()) {
    spdlog::error("serve: panel worklist: {}", items.status().message());
    return Error(res, 500, "the panel worklist could not be read; see the server log");
  }
  spdlog::info("serve: panel worklist read from {}: {} offences", req.remote_addr, items->size());
  const Date as_of =
      query->known_at ? std::chrono::floor<std::chrono::days>(*query->known_at) : query->today;
  res.set_content(Render(PanelReport(*items, as_of, query->known_at), OutputFormat::kJson),
                  "application/json");
}

// The KPIs for a reporting period (default the last complete quarter): published without the
// token (a withheld figure keeps its status), exact with it.
void HttpServer::Impl::Kpis(const httplib::Request& req, httplib::Response& res) {
  Access access = Authorize(req, options.token);
  if (access == Access::kRefused) return Refuse(req, res);
  auto param = [&](const char* name) {
    return req.has_param(name) ? req.get_param_value(name) : std::string();
  };
  const std::string period = param("period");
  auto query = ParseMetricSelectors(
      {"outcomes", "", period.empty() ? "last-complete-quarter" : period, param("as_known_at"), ""},
      {.period = "period", .known_at = "as_known_at"}, options.today());
  if (!query.ok()) return Error(res, 400, query.status().message());
  std::shared_lock<std::shared_mutex> lock;
  EventStore* s = Fresh(lock, res);
  if (!s) return;
  auto reference = ReferenceFigures::Load(*s);
  if (!reference.ok()) {
    spdlog::error("serve: kpi: {}", reference.status().message());
    return Error(res, 500, "the reference tables could not be read; see the server log");
  }
  const bool published = access != Access::kRestricted || IsTrue(param("published"));
  const KpiQuery kpi_query{.period = *query->period,
                           .known_at = query->known_at,
                           .today = query->today,
                           .population = options.population,
                           .area = options.area,
                           .published = published,
                           .threshold = options.threshold};
  auto results = EvaluateKpis(*s, options.kpis, *reference, kpi_query);
  if (!results.ok()) {
    spdlog::error("serve: kpi: {}", results.status().message());
    return Error(res, 500, "the KPIs could not be computed; see the server log");
  }
  res.set_content(Render(KpiReport(*results, kpi_query), OutputFormat::kJson,
                         {.published = published, .threshold = options.threshold}),
                  "application/json");
}

void HttpServer::Impl::DeadLetters(const httplib::Request& req, httplib::Response& res) {
  if (Authorize(req, options.token) == Access::kRefused) return Refuse(req, res);
  std::shared_lock<std::shared_mutex> lock;
  EventStore* s = Fresh(lock, res);
  if (!s) return;
  // Reasons name a field or check and the rule, never a value (store.h), so they are safe to
  // show; payloads and the ids in them are not read out.
  uint64_t total = 0;
  std::map<std::string, uint64_t> by_kind;
  std::map<std::pair<std::string, std::string>, uint64_t> by_reason;
  Status st = s->ScanDeadLetters([&](const DeadLetter& d) {
    ++total;
    std::string kind(RejectKindName(d.kind));
    ++by_kind[kind];
    ++by_reason[{kind, d.reason}];
    return true;
  });
  if (!st.ok()) {
    spdlog::error("serve: dead letters: {}", st.message());
    return Error(res, 500, "the dead letters could not be read; see the server log");
  }
  std::string out = "{\"total\": " + std::to_string(total) + ", \"by_kind\": {";
  bool first = true;
  for (const auto& [kind, n] : by_kind) {
    out += (first ? "" : ", ") + JsonString(kind) + ": " + std::to_string(n);
    first = false;
  }
  out += "}, \"by_reason\": [";
  first = true;
  for (const auto& [key, n] : by_reason) {
    out += (first ? "" : ", ") + std::string("{\"kind\": ") + JsonString(key.first) +
           ", \"reason\": " + JsonString(key.second) + ", \"count\": " + std::to_string(n) + "}";
    first = false;
  }
  res.set_content(out + "]}\n", "application/json");
}

void HttpServer::Impl::Prometheus(const httplib::Request& req, httplib::Response& res) {
  Access access = Authorize(req, options.token);
  if (access == Access::kRefused) return Refuse(req, res);
  std::shared_lock<std::shared_mutex> lock;
  EventStore* s = Fresh(lock, res);
  if (!s) return;
  http_detail::FanOut fan_out(*s, options, &peer_connections);
  if (!fan_out.status.ok()) {
    spdlog::error("serve: /metrics: {}", fan_out.status.message());
    return Error(res, 500, "the metrics could not be computed; see the server log");
  }
  std::lock_guard hold(gauges_mu);
  auto text = fan_out.Run<std::string>([&](const Stores& stores) {
    return http_detail::PrometheusMetrics(*s, stores, options, access != Access::kRestricted,
                                          gauges);
  });
  if (!text.ok()) {
    spdlog::error("serve: /metrics: {}", text.status().message());
    return Error(res, 500, "the metrics could not be computed; see the server log");
  }
  std::string body;
  fan_out.Describe(res, body);  // the headers; the gauges say it in the text
  PrometheusText x;
  x.Family("careledger_figures_missing_partitions", "gauge",
           "Partitions the figure gauges lack: their instance could not be asked, did not answer "
           "or is still reading them (0: the gauges are the whole area's)");
  x.Sample("careledger_figures_missing_partitions", {}, double(fan_out.missing.size()));
  x.Family("careledger_figures_peers", "gauge",
           "Other instances of the group whose stores the figure gauges were read from");
  x.Sample("careledger_figures_peers", {}, double(fan_out.asked()));
  res.set_content(*text + x.Take(), "text/plain; version=0.0.4; charset=utf-8");
}

void HttpServer::Impl::Routes() {
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    std::string why;
    if (Ready(why)) return res.set_content("ready\n", "text/plain");
    res.status = 503;
    res.set_content("not ready: " + why + "\n", "text/plain");
  });
  if (options.pipeline_only) {
    server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      PrometheusText x;
      if (options.pipeline) options.pipeline->AppendMetrics(x);
      res.set_content(x.Take(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server->Get(R"(/.*)", [](const httplib::Request&, httplib::Response& res) {
      Error(res, 404, "this is ingest's metrics endpoint: /metrics, /healthz and /readyz only");
    });
    return;
  }
  server->Get(R"(/api/v1/metrics/([a-z0-9-]+))",
              [this](const httplib::Request& req, httplib::Response& res) { Metric(req, res); });
  server->Post("/api/v1/internal/read", [this](const httplib::Request& req,
                                               httplib::Response& res) { InternalRead(req, res); });
  server->Get(R"(/api/v1/lineage/([a-z0-9-]+))",
              [this](const httplib::Request& req, httplib::Response& res) { Lineage(req, res); });
  // How far the store has got: its log's length. Figures change only when it moves (or the
  // day does), so a client polls this and asks for figures again only then.
  server->Get("/api/v1/head", [this](const httplib::Request& req, httplib::Response& res) {
    if (Authorize(req, options.token) == Access::kRefused) return Refuse(req, res);
    std::shared_lock<std::shared_mutex> lock;
    EventStore* s = Fresh(lock, res);
    if (!s) return;
    // exact_figures: whether this server has a token at all, so that a page offers the exact
    // view only where it can exist.
    res.set_content("{\"log_records\":" + std::to_string(s->next_sequence()) +
                        ",\"exact_figures\":" + (options.token.empty() ? "false" : "true") + "}\n",
                    "application/json");
  });
  server->Get("/api/v1/panel",
              [this](const httplib::Request& req, httplib::Response& res) { Panel(req, res); });
  server->Get("/api/v1/kpi",
              [this](const httplib::Request& req, httplib::Response& res) { Kpis(req, res); });
  server->Get("/api/v1/deadletters", [this](const httplib::Request& req, httplib::Response& res) {
    DeadLetters(req, res);
  });
  server->Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    Prometheus(req, res);
  });
  server->Get(R"(/.*)", [](const httplib::Request& req, httplib::Response& res) {
    auto asset = DashboardAsset(req.path);
    if (!asset) return Error(res, 404, "no such page");
    res.set_content(std::string(asset->body), std::string(asset->content_type).c_str());
  });
  // The access log names the path only: a query string may carry selectors worth keeping out
  // of logs, and headers (the token) are never logged.
  server->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("serve: {} {} {}", Printable(req.method), Printable(req.path), res.status);
  });
}

}  // namespace careledger
