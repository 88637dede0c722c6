// The HTTP server behind `careledger serve` and `careledger run` (docs/api.md), on cpp-httplib.
// Handlers run on httplib's thread pool; the store is read concurrently, and a secondary store
// is brought up to date under an exclusive lock between reads.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "careledger/reporting.h"

namespace careledger {

namespace {

using Clock = std::chrono::steady_clock;

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

bool IsTrue(const std::string& v) {
  return v == "1" || v == "true" || v == "yes";
}

// httplib's own pool has a fixed number of threads (8 on this machine) and each is held for
// a connection's whole life, so eight idle sockets kept /healthz waiting for seconds. This
// pool starts a thread whenever no worker is free, up to `max`, and lets a thread go after a
// while idle. At `max`, enqueue waits: the listen thread stops accepting, and further
// connections queue in the kernel (bounded by the listen backlog) rather than in memory.
class ConnectionWorkers : public httplib::TaskQueue {
 public:
  explicit ConnectionWorkers(size_t max) : max_(max) {}
  ~ConnectionWorkers() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return jobs_.size() < idle_ || threads_ < max_ || stopping_; });
    jobs_.push_back(std::move(fn));
    if (jobs_.size() <= idle_) {
      work_.notify_one();
      return;
    }
    ++threads_;
    // Detached: a worker leaves on its own when idle, and shutdown waits for the count.
    std::thread([this] { Work(); }).detach();
  }

  void shutdown() override {
    std::unique_lock lock(mu_);
    stopping_ = true;
    work_.notify_all();
    room_.notify_all();
    gone_.wait(lock, [&] { return threads_ == 0; });
  }

 private:
  static constexpr auto kIdleExit = std::chrono::seconds(30);

  void Work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      work_.wait_for(lock, kIdleExit, [&] { return !jobs_.empty() || stopping_; });
      --idle_;
      if (jobs_.empty()) break;  // idle too long, or stopping
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
      room_.notify_one();
    }
    --threads_;
    room_.notify_one();
    gone_.notify_all();  // under the lock: `this` may be gone as soon as it is released
  }

  const size_t max_;
  std::mutex mu_;
  std::condition_variable work_, room_, gone_;
  std::deque<std::function<void()>> jobs_;
  size_t threads_ = 0, idle_ = 0;
  bool stopping_ = false;
};

// Loopback as the operator writes it: 127.0.0.0/8, ::1 (bracketed or not) and localhost. Any
// other name counts as public, even one that resolves to loopback today.
bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// The monitoring figures (a few queries), kept for as long as the store's log and the day are
// the same: a scrape (or a dashboard poll) of an idle store costs nothing.
struct MonitoringFigures {
  uint64_t log_next = 0;  // the store's next_sequence() when computed
  Date day{};
  int64_t care_leavers = 0, missing_open = 0, missing_month = 0;
  std::map<std::string, int64_t> yjs_open;
  // The cohorts whose count the published view leaves out: small, or hidden so that the total
  // the API publishes beside them cannot give a small one back.
  std::set<std::string> yjs_withheld;
};

// The Prometheus text exposition (format 0.0.4) of the monitoring gauges (and, given an ingest
// monitor, the pipeline metrics); published: counts from 1 to threshold-1 are left out.
// `cached` is read again only when the log or the day has moved on.
Result<std::string> PrometheusMetrics(const EventStore& store, const ServeOptions& options,
                                      bool published, MonitoringFigures& cached);

}  // namespace

struct HttpServer::Impl {
  ServeOptions options;
  std::unique_ptr<httplib::Server> server;  // an httplib::SSLServer when serving TLS
  int listen_fd = -1;                       // the listening socket, once bound
  std::thread thread;
  std::string address;
  std::atomic<EventStore*> store{nullptr};
  std::shared_mutex mu;  // shared: reads; exclusive: CatchUp
  Clock::time_point last_catch_up{};
  std::mutex gauges_mu;  // one scrape folds at a time; the next reads its figures
  MonitoringFigures gauges;

  // The store, up to date to within catch_up_interval, locked for reading; null (and the
  // response set) when there is none yet or catching up failed.
  EventStore* Fresh(std::shared_lock<std::shared_mutex>& lock, httplib::Response& res) {
    EventStore* s = store.load();
    if (!s) {
      Error(res, 503, "the store is not open yet");
      return nullptr;
    }
    if (options.follow_store) {
      std::unique_lock exclusive(mu);
      if (Clock::now() - last_catch_up >= options.catch_up_interval) {
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

  bool Ready(std::string& why) const {
    if (!options.pipeline_only && !store.load()) {
      why = "the store is not open yet";
      return false;
    }
    if (options.pipeline && !options.pipeline->CaughtUp()) {
      why = "ingest has not caught up with the broker yet";
      return false;
    }
    return true;
  }

  void Routes();
  void Metric(const httplib::Request& req, httplib::Response& res);
  void Lineage(const httplib::Request& req, httplib::Response& res);
  void DeadLetters(const httplib::Request& req, httplib::Response& res);
  void Prometheus(const httplib::Request& req, httplib::Response& res);
};

void HttpServer::Impl::Metric(const httplib::Request& req, httplib::Response& res) {
  Access access = Authorize(req, options.token);
  if (access == Access::kRefused) return Refuse(req, res);
  auto query = ToQuery(req, req.matches[1], options);
  if (!query.ok()) return Error(res, 400, query.status().message());
  if (Status s = CheckMetricQuery(*query); !s.ok()) return Error(res, 400, s.message());
  std::shared_lock<std::shared_mutex> lock;
  EventStore* s = Fresh(lock, res);
  if (!s) return;
  auto table = RunMetric(*s, *query);
  if (!table.ok()) {
    if (table.status().error_class() == ErrorClass::kBadInput) {
      return Error(res, 400, table.status().message());
    }
    spdlog::error("serve: {}: {}", query->metric, table.status().message());
    return Error(res, 500, "the figure could not be computed; see the server log");
  }
  bool published = access != Access::kRestricted ||
                   (req.has_param("published") && IsTrue(req.get_param_value("published")));
  res.set_content(Render(*table, OutputFormat::kJson,
                         {.published = published,
                          .threshold = options.threshold,
                          .breakdowns = published ? BreakdownsOf(*s, *query) : BreakdownRunner{}}),
                  "application/json");
}

void HttpServer::Impl::Lineage(const httplib::Request& req, httplib::Response& res) {
  switch (Authorize(req, options.token)) {
    case Access::kRefused:
      return Refuse(req, res);
    case Access::kAnonymous:
      return Error(res, 403, "lineage needs the bearer token");
    case Access::kRestricted:
      break;
  }
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
  auto entries = RunLineage(*s, *query, cell);
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
  res.set_content(out + "]}\n", "application/json");
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
  std::lock_guard hold(gauges_mu);
  auto text = PrometheusMetrics(*s, options, access != Access::kRestricted, gauges);
  if (!text.ok()) {
    spdlog::error("serve: /metrics: {}", text.status().message());
    return Error(res, 500, "the metrics could not be computed; see the server log");
  }
  res.set_content(*text, "text/plain; version=0.0.4; charset=utf-8");
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

namespace {

// What serving on `host` as configured lacks to keep figures and the token off the wire in
// clear: nothing on loopback, otherwise TLS and a token.
std::vector<std::string> PublicExposure(const std::string& host, const ServeOptions& o) {
  std::vector<std::string> missing;
  if (IsLoopback(host)) return missing;
  if (o.tls_cert_path.empty()) missing.emplace_back("TLS (serve.tls_cert and serve.tls_key)");
  if (o.token.empty()) missing.emplace_back("a bearer token (serve.token)");
  return missing;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(ServeOptions options) {
  auto colon = options.listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      port = std::stoi(options.listen.substr(colon + 1), &used);
      if (used != options.listen.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    return Status::BadInput("serve.listen: not HOST:PORT: " + options.listen);
  }
  std::string host = options.listen.substr(0, colon);
  if (options.tls_cert_path.empty() != options.tls_key_path.empty()) {
    return Status::BadInput("serve: TLS needs both serve.tls_cert and serve.tls_key");
  }
  if (auto lacking = PublicExposure(host, options); !lacking.empty()) {
    std::string missing = lacking[0] + (lacking.size() > 1 ? " and " + lacking[1] : "");
    if (!options.insecure_public) {
      return Status::BadInput(
          "refusing to serve on " + options.listen + ": it is not a loopback address, and " +
          missing + (lacking.size() > 1 ? " are" : " is") +
          " missing. Give them (--tls-cert, --tls-key; serve.token in the settings "
          "file), listen on 127.0.0.1, or pass --insecure-public to serve without them");
    }
    spdlog::warn(
        "serve: serving on {} without {} (--insecure-public): anyone who can reach it "
        "can read published figures, and a token sent in clear can be read on the way",
        options.listen, missing);
  }
  for (const std::string* path : {&options.tls_cert_path, &options.tls_key_path}) {
    if (!path->empty() && ::access(path->c_str(), R_OK) != 0) {
      return Status::BadInput("serve: cannot read " + *path + ": " + std::strerror(errno));
    }
  }
  // httplib's getaddrinfo wants an IPv6 literal without its brackets.
  std::string bind_host = host;
  if (bind_host.size() > 2 && bind_host.front() == '[' && bind_host.back() == ']') {
    bind_host = bind_host.substr(1, bind_host.size() - 2);
  }

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.options = std::move(options);
  const ServeOptions& o = impl.options;
  if (o.tls_cert_path.empty()) {
    impl.server = std::make_unique<httplib::Server>();
  } else {
    impl.server =
        std::make_unique<httplib::SSLServer>(o.tls_cert_path.c_str(), o.tls_key_path.c_str());
    if (!impl.server->is_valid()) {
      return Status::BadInput("serve: the TLS certificate " + o.tls_cert_path + " or key " +
                              o.tls_key_path +
                              " could not be used (not PEM, or the key is not the certificate's)");
    }
  }
  httplib::Server& http = *impl.server;
  size_t max_connections = std::max<size_t>(o.max_connections, 1);
  http.new_task_queue = [max_connections] { return new ConnectionWorkers(max_connections); };
  http.set_read_timeout(o.read_timeout);
  http.set_keep_alive_timeout(o.keep_alive_seconds);
  http.set_socket_options([&impl](socket_t fd) {
    httplib::default_socket_options(fd);
    // A connection that sends nothing is not handed to accept (so takes no thread) until its
    // first bytes arrive or a few seconds of SYN-ACK retries have passed; then the keep-alive
    // timeout closes it.
    int seconds = 2;
    ::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds);
    impl.listen_fd = fd;
  });
  impl.Routes();
  if (port == 0) {
    port = http.bind_to_any_port(bind_host);
    if (port < 0) return Status::Fatal("cannot listen on " + host + ": no free port");
  } else if (!http.bind_to_port(bind_host, port)) {
    return Status::Fatal("cannot listen on " + o.listen +
                         " (in use, or not an address of this machine)");
  }
  // httplib listens with a backlog of 5; listen() again on the bound socket sets ours.
  if (impl.listen_fd < 0 || ::listen(impl.listen_fd, o.listen_backlog) != 0) {
    spdlog::warn("serve: could not set the listen backlog to {}; httplib's 5 stands",
                 o.listen_backlog);
  }
  impl.address = host + ":" + std::to_string(port);
  impl.thread = std::thread([&impl] { impl.server->listen_after_bind(); });
  return server;
}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Attach(EventStore& store) {
  impl_->store.store(&store);
}

std::string HttpServer::address() const {
  return impl_->address;
}

bool HttpServer::tls() const {
  return !impl_->options.tls_cert_path.empty();
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->server->stop();
  impl_->thread.join();
}

// ---- Prometheus text exposition ------------------------------------------------------------

namespace {

uint64_t DirectoryBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

// The gauges are the API's own figures for today, read from what ingest keeps (never a fold
// of every child), so that /metrics and /api/v1/metrics cannot disagree.
Status ReadMonitoringFigures(const EventStore& store, Date today, int64_t threshold,
                             MonitoringFigures& out) {
  MonitoringFigures f{.log_next = store.next_sequence(),
                      .day = today,
                      .yjs_open = {{"cla", 0}, {"care_leaver", 0}, {"other", 0}},
                      .yjs_withheld = {}};
  auto query = [&](std::string metric, std::vector<std::string> by,
                   std::optional<std::pair<Date, Date>> period) {
    MetricQuery q;
    q.metric = std::move(metric);
    q.by = std::move(by);
    q.today = today;
    if (period) {
      q.period = period;
    } else {
      q.at = today;
    }
    return q;
  };
  auto ask = [&](std::string metric, std::vector<std::string> by,
                 std::optional<std::pair<Date, Date>> period) -> Result<ReportTable> {
    return RunMetric(store, query(std::move(metric), std::move(by), period));
  };
  // A count measure of one row, or its total over the table's rows (0 when there is none).
  auto count = [](const ReportTable& t, std::string_view measure, const ReportTable::Row& row) {
    auto m = std::find(t.measures.begin(), t.measures.end(), measure);
    if (m == t.measures.end()) return int64_t{0};
    return int64_t(row.values[size_t(m - t.measures.begin())].value.value_or(0));
  };
  auto total = [&](const ReportTable& t, std::string_view measure) {
    int64_t n = 0;
    for (const auto& row : t.rows) n += count(t, measure, row);
    return n;
  };
  auto leavers = ask("care-leavers", {}, std::nullopt);
  if (!leavers.ok()) return leavers.status();
  f.care_leavers = total(*leavers, "care_leavers");
  // Reported this month up to today, and every episode open at the end of today.
  const std::chrono::year_month_day ymd{today};
  const Date month_start{ymd.year() / ymd.month() / 1};
  auto missing = ask("missing", {}, std::pair{month_start, today + std::chrono::days{1}});
  if (!missing.ok()) return missing.status();
  f.missing_month = total(*missing, "episodes");
  f.missing_open = total(*missing, "open_at_end");
  const MetricQuery by_cohort = query("yjs-caseload", {"cohort"}, std::nullopt);
  auto yjs = RunMetric(store, by_cohort);
  if (!yjs.ok()) return yjs.status();
  // Protected as the API's published table of the same query is: a scrape without the token
  // and GET /api/v1/metrics/yjs-caseload (by nothing) must not give a small count back
  // between them.
  const auto shown = Protect(*yjs, threshold, BreakdownsOf(store, by_cohort));
  const auto open = std::find(yjs->measures.begin(), yjs->measures.end(), "open_cases");
  for (size_t i = 0; i < yjs->rows.size(); ++i) {
    const auto& row = yjs->rows[i];
    f.yjs_open[row.groups.at(0)] = count(*yjs, "open_cases", row);
    if (open != yjs->measures.end() &&
        shown[i][size_t(open - yjs->measures.begin())] != Shown::kFigure) {
      f.yjs_withheld.insert(row.groups.at(0));
    }
  }
  out = std::move(f);
  return Status::Ok();
}

Result<std::string> PrometheusMetrics(const EventStore& store, const ServeOptions& options,
                                      bool published, MonitoringFigures& cached) {
  PrometheusText x;
  // A count from 1 to threshold-1 is left out of the published view: an absent series rather
  // than a made-up number (Prometheus has no "<5").
  auto gauge = [&](std::string_view name, const std::vector<std::pair<std::string, std::string>>& l,
                   int64_t n) {
    if (published && n > 0 && n < options.threshold) return;
    x.Sample(name, l, double(n));
  };
  const Date today = options.today();

  auto cla = ClaAt(store, today, ClaDimension::kNone);
  if (!cla.ok()) return cla.status();
  int64_t cla_children = 0;
  for (const auto& row : *cla) cla_children += row.children;

  if (cached.yjs_open.empty() || cached.log_next != store.next_sequence() || cached.day != today) {
    CARELEDGER_RETURN_IF_ERROR(ReadMonitoringFigures(store, today, options.threshold, cached));
  }
  const MonitoringFigures& f = cached;

  x.Family("careledger_cla_children", "gauge", "Children looked after today (M1)");
  gauge("careledger_cla_children", {}, cla_children);
  x.Family("careledger_care_leavers", "gauge", "Care leavers aged 16-25 today (M2)");
  gauge("careledger_care_leavers", {}, f.care_leavers);
  x.Family("careledger_missing_open_episodes", "gauge",
           "Missing episodes reported and not yet returned");
  gauge("careledger_missing_open_episodes", {}, f.missing_open);
  x.Family("careledger_missing_episodes_this_month", "gauge",
           "Missing episodes reported since the first of this month");
  gauge("careledger_missing_episodes_this_month", {}, f.missing_month);
  x.Family("careledger_yjs_open_cases", "gauge", "Open youth justice cases by cohort today");
  for (const auto& [cohort, n] : f.yjs_open) {
    if (published && f.yjs_withheld.contains(cohort)) continue;
    gauge("careledger_yjs_open_cases", {{"cohort", cohort}}, n);
  }
  x.Family("careledger_published", "gauge",
           "1 when small counts are left out of this scrape (no bearer token), 0 when exact");
  x.Sample("careledger_published", {}, published ? 1 : 0);

  // Offset gaps ingest met (ops/runbooks/offset-gap.md): an open one has stopped ingest.
  auto gaps = store.Gaps();
  if (!gaps.ok()) return gaps.status();
  x.Family("careledger_offset_gap_messages", "gauge",
           "Messages of a partition the store never read and the brokers no longer hold; "
           "state=open stops ingest until an operator accepts the gap");
  for (const auto& gap : *gaps) {
    x.Sample("careledger_offset_gap_messages",
             {{"topic", gap.partition.topic},
              {"partition", std::to_string(gap.partition.partition)},
              {"state", gap.accepted ? "accepted" : "open"}},
             double(gap.to >= gap.from ? gap.to - gap.from : gap.from - gap.to));
  }

  // Corrections that have not taken effect (`careledger corrections`): the figures do not yet
  // reflect what a source has corrected.
  auto held = store.HeldCorrections();
  if (!held.ok()) return held.status();
  std::map<std::pair<std::string_view, std::string_view>, uint64_t> held_by;
  Instant oldest = Instant::max();
  for (const auto& kind : {"supersedes", "retraction"}) {
    for (const auto& state : {"awaiting_target", "other_child"}) held_by[{kind, state}] = 0;
  }
  for (const auto& h : *held) {
    ++held_by[{h.retraction ? "retraction" : "supersedes",
               h.other_child ? "other_child" : "awaiting_target"}];
    oldest = std::min(oldest, h.held_at);
  }
  x.Family("careledger_corrections_held", "gauge",
           "Corrections (supersedes) and retractions ingest holds because their target is not "
           "stored (awaiting_target) or is another child's event (other_child, never applies)");
  for (const auto& [key, n] : held_by) {
    x.Sample("careledger_corrections_held",
             {{"kind", std::string(key.first)}, {"state", std::string(key.second)}}, double(n));
  }
  x.Family("careledger_corrections_held_oldest_timestamp_seconds", "gauge",
           "When the longest-held correction was first held (absent when none is)");
  if (!held->empty()) {
    x.Sample("careledger_corrections_held_oldest_timestamp_seconds", {},
             double(oldest.time_since_epoch().count()));
  }

  if (!options.store_path.empty()) {
    x.Family("careledger_store_size_bytes", "gauge", "Bytes on disk under the store directory");
    x.Sample("careledger_store_size_bytes", {}, double(DirectoryBytes(options.store_path)));
  }

  if (options.pipeline) options.pipeline->AppendMetrics(x);
  return x.Take();
}

}  // namespace

}  // namespace careledger
