// serve and run: the HTTP API, /metrics and the dashboard (docs/api.md). `serve` follows a
// store another process (ingest) writes, as a RocksDB secondary; `run` is ingest and serve in
// one process over the one open store, so the API sees each batch as soon as it is written.
#include <spdlog/spdlog.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>  // kill(pid, 0): is the owner of a scratch directory alive (POSIX)
#include <cstdlib>  // mkdtemp (POSIX, from glibc's stdlib.h)
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "careledger/consumers.h"
#include "careledger/kafka.h"
#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

struct ServeFlags {
  CommonFlags common;
  std::string group = "careledger-ingest";  // serve: the group of the ingest it follows
  std::string listen;
  std::string tls_cert, tls_key;
  bool insecure_public = false;
};

void AddServeFlags(CLI::App& cmd, ServeFlags& f) {
  AddCommonFlags(cmd, f.common);
  cmd.add_option("--listen", f.listen,
                 "HOST:PORT to serve on (default serve.listen, 127.0.0.1:8080; port 0: any free)");
  cmd.add_option("--tls-cert", f.tls_cert,
                 "PEM certificate (chain) to serve HTTPS with (default serve.tls_cert)");
  cmd.add_option("--tls-key", f.tls_key, "PEM private key of --tls-cert (default serve.tls_key)");
  cmd.add_flag("--insecure-public", f.insecure_public,
               "serve on an address other than loopback without TLS or a token (logs a warning)");
}

Result<ServeOptions> ToServeOptions(const ServeFlags& f, const Context& ctx) {
  ServeOptions o;
  auto kpis = KpisFromSettings(ctx.config.KpiSettings());
  if (!kpis.ok()) return kpis.status();
  o.kpis = std::move(*kpis);
  o.area = ctx.config.Area();
  o.listen = f.listen.empty() ? ctx.config.ServeListen() : f.listen;
  o.token = ctx.config.ServeToken();
  o.threshold = ctx.config.PublishThreshold();
  o.peer_timeout = ctx.config.ServePeerTimeout();
  o.peer_ca_path = ctx.config.ServePeerCa();
  // The flags replace the settings' pair as a whole: a key from one and a certificate from the
  // other would not match.
  bool flags_tls = !f.tls_cert.empty() || !f.tls_key.empty();
  o.tls_cert_path = flags_tls ? f.tls_cert : ctx.config.ServeTlsCert();
  o.tls_key_path = flags_tls ? f.tls_key : ctx.config.ServeTlsKey();
  o.insecure_public = f.insecure_public;
  o.store_path = ctx.data_dir;
  Config config = ctx.config;
  o.population = [config](int year) { return config.PopulationFor(year); };
  return o;
}

// The first stdout line is the address, as `broker` prints its own: scripts and tests read it.
void Announce(const HttpServer& server, const ServeOptions& o) {
  const char* scheme = server.tls() ? "https://" : "http://";
  std::cout << scheme << server.address() << std::endl;
  spdlog::info("serving on {}{} ({})", scheme, server.address(),
               o.token.empty() ? "no serve.token: published figures only"
                               : "exact figures with the bearer token");
}

void WaitForStop(const std::atomic<bool>& stop) {
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// A scratch directory for the secondary's bookkeeping, removed at scope exit. Its name carries
// the pid, so that the next serve removes those a killed serve left behind (kill -9 runs no
// destructor; they were piling up in /tmp).
class ScratchDir {
 public:
  ScratchDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path tmp = fs::temp_directory_path(ec);
    const std::string prefix = "careledger-serve-";
    for (const auto& entry : fs::directory_iterator(tmp, ec)) {
      std::string name = entry.path().filename().string();
      if (!name.starts_with(prefix)) continue;
      char* end = nullptr;
      long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
      if (pid <= 0 || *end != '-') continue;
      if (::kill(pid_t(pid), 0) == -1 && errno == ESRCH) fs::remove_all(entry.path(), ec);
    }
    std::string pattern = (tmp / (prefix + std::to_string(::getpid()) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The instances of a group as careledger.instances.v1 has them, followed on a thread of its
// own by one consumer kept open: each figure's response says which partitions it covers from
// what this last saw (ServeOptions::group). While the topic cannot be read (it does not exist
// until an instance has announced itself), the last records stay, and it is tried again every
// few seconds.
class InstanceWatch {
 public:
  InstanceWatch(Settings kafka, std::string group, std::string self)
      : kafka_(std::move(kafka)), group_(std::move(group)), self_(std::move(self)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~InstanceWatch() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  InstanceWatch(const InstanceWatch&) = delete;
  InstanceWatch& operator=(const InstanceWatch&) = delete;

  GroupView Group() const {
    const auto now = std::chrono::system_clock::now();
    std::lock_guard lock(mu_);
    GroupView out;
    for (const auto& [id, r] : records_) {
      if (r.group != group_) continue;
      PeerInstance peer{.instance = r.instance,
                        .advertised = r.advertised,
                        .partitions = r.partitions,
                        .reading = r.reading,
                        .of = r.of,
                        .live = r.running && now - r.at <= InstanceRecord::kStaleAfter,
                        .at = r.at};
      if (r.instance == self_) {
        out.self = std::move(peer);
      } else if (!r.partitions.empty()) {
        out.others.push_back(std::move(peer));
      }
    }
    return out;
  }

 private:
  void Loop() {
    std::unique_ptr<TopicFollower> follower;
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      if (!follower) {
        auto opened = TopicFollower::Open(kafka_, kTopicInstances, std::chrono::seconds(4));
        if (opened.ok()) {
          follower = std::move(opened).value();
        } else {
          spdlog::debug("{}: {}", kTopicInstances, opened.status().message());
        }
      }
      std::map<std::string, InstanceRecord> arrived;
      if (follower) {
        // In short steps, so that a stop is not kept waiting.
        Status s = follower->Poll(std::chrono::milliseconds(250),
                                  [&](std::string_view key, std::string_view value) {
                                    KeepLatestInstance(key, value, arrived);
                                  });
        if (!s.ok()) {
          spdlog::debug("{}: {}", kTopicInstances, s.message());
          follower.reset();
        }
      }
      lock.lock();
      for (auto& [id, r] : arrived) records_[id] = std::move(r);
      if (!follower) wake_.wait_for(lock, std::chrono::seconds(2), [this] { return stop_; });
    }
  }
  const Settings kafka_;
  const std::string group_, self_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::map<std::string, InstanceRecord> records_;  // the latest of each instance
  std::thread thread_;                             // last: started once the rest is there
};

}  // namespace

Command AddServe(CLI::App& app) {
  auto o = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand(
      "serve", "HTTP JSON API, Prometheus /metrics and the dashboard over the store");
  AddServeFlags(*cmd, *o);
  cmd->add_option("--group", o->group,
                  "The consumer group of the ingest whose store this serves: with --brokers, "
                  "each figure says which partitions the group's other instances answer for "
                  "(default careledger-ingest)");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            SignalWatcher signals;
            auto serve_options = ToServeOptions(*o, *ctx);
            if (!serve_options.ok()) return Fail(serve_options.status());
            ServeOptions options = std::move(*serve_options);
            options.follow_store = true;
            // Serving the store of the ingest beside it, it is that ingest to the others.
            std::unique_ptr<InstanceWatch> watch;
            if (ctx->kafka.count("bootstrap.servers")) {
              const std::string& id = ctx->config.IngestInstanceId();
              auto self = StaticInstanceId(id.empty() ? "auto" : id, ctx->data_dir);
              if (!self.ok()) return Fail(self.status());
              watch = std::make_unique<InstanceWatch>(ctx->kafka, o->group, *self);
              options.group = [w = watch.get()] { return w->Group(); };
            }
            ScratchDir scratch;
            if (scratch.path().empty()) {
              return Fail(Status::Fatal("cannot create a scratch directory in the temp dir"));
            }
            auto server = HttpServer::Start(options);
            if (!server.ok()) return Fail(server.status());
            Announce(**server, options);
            // Serve from the start (/healthz, and /readyz saying why not yet); the store may
            // not exist until ingest has made it.
            std::unique_ptr<EventStore> store;
            for (bool told = false; !signals.stop().load();) {
              auto opened = EventStore::Open(
                  {.path = ctx->data_dir, .read_only = true, .secondary_path = scratch.path()});
              if (opened.ok()) {
                store = std::move(opened).value();
                break;
              }
              if (!told) spdlog::info("waiting for the store: {}", opened.status().message());
              told = true;
              std::this_thread::sleep_for(std::chrono::milliseconds(500));
            }
            if (store) (*server)->Attach(*store);
            WaitForStop(signals.stop());
            (*server)->Stop();
            return 0;
          }};
}

Command AddRun(CLI::App& app) {
  struct Opts : ServeFlags {
    IngestFlags ingest;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "run", "Ingest and serve in one process: the API sees each batch as soon as it is written");
  AddServeFlags(*cmd, *o);
  AddIngestFlags(*cmd, o->ingest);
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            if (Status s = RequireBrokers(*ctx); !s.ok()) return Fail(s);
            SignalWatcher signals;
            auto store = EventStore::Open({.path = ctx->data_dir});
            if (!store.ok()) return Fail(store.status());
            IngestMonitor monitor;
            IngestView view(monitor);
            auto serve_options = ToServeOptions(*o, *ctx);
            if (!serve_options.ok()) return Fail(serve_options.status());
            ServeOptions options = std::move(*serve_options);
            options.pipeline = &view;
            auto parsed = ToIngestOptions(o->ingest, *ctx);
            if (!parsed.ok()) return Fail(parsed.status());
            IngestOptions ingest = std::move(parsed.value());
            InstanceWatch watch(ctx->kafka, ingest.group, ingest.announce_as);
            options.group = [&watch] { return watch.Group(); };
            auto server = HttpServer::Start(options);
            if (!server.ok()) return Fail(server.status());
            (*server)->Attach(**store);
            Announce(**server, options);
            ingest.monitor = &monitor;
            if (ingest.advertised.empty()) ingest.advertised = ctx->config.ServeAdvertised();
            if (ingest.advertised.empty()) {
              ingest.advertised =
                  std::string((*server)->tls() ? "https://" : "http://") + (*server)->address();
            }
            auto stats = RunIngest(**store, ingest, signals.stop());
            (*server)->Stop();
            if (!stats.ok()) return Fail(stats.status());
            spdlog::info("run: {} events stored, {} duplicates, {} dead letters", stats->appended,
                         stats->duplicates, stats->dead_lettered);
            return 0;
          }};
}

}  // namespace careledger::app
