// ingest: the topics consumed into the store, exactly once; the flags and options it shares
// with `run`, and the summary it (and demo) prints.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <iostream>

#include "careledger/consumers.h"
#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

void PrintIngestSummary(const IngestStats& s) {
  std::cerr << "ingested " << s.appended << " events in " << s.batches << " batches, " << s.seconds
            << " s, " << s.seconds_assigned << " s after joining the group ("
            << Rate(s.consumed, s.seconds_assigned) << "); duplicates " << s.duplicates
            << ", dead letters " << s.dead_lettered << '\n';
  if (s.corrections_held + s.corrections_released + s.corrections_held_now > 0) {
    std::cerr << "corrections whose target did not apply: " << s.corrections_held << " held and "
              << s.corrections_released << " released by this run, " << s.corrections_held_now
              << " held in all (`careledger corrections`)\n";
  }
}

void AddIngestFlags(CLI::App& cmd, IngestFlags& flags) {
  cmd.add_option("--group", flags.group, "Consumer group (default careledger-ingest)");
  cmd.add_option("--max-batch", flags.max_batch, "Events per store batch (default 5000)")
      ->check(CLI::Range(1, 1000000));
  cmd.add_option("--accept-gap", flags.accept_gaps,
                 "TOPIC:PARTITION whose offset gap (events the broker no longer holds) you have "
                 "decided to go past: recorded in the store, then read on from the broker's "
                 "first offset. Without it a gap stops ingest (exit 3)")
      ->type_name("TOPIC:PARTITION");
  cmd.add_option("--instance-id", flags.instance_id,
                 "Static group membership: auto (derived from this host and the store's path) "
                 "or an id, so that a restart after a crash takes its partitions back at once "
                 "on a real broker (default ingest.instance_id; unset: a dynamic member)")
      ->type_name("auto|ID");
  cmd.add_option("--advertised", flags.advertised,
                 "The URL the group's other instances reach this store's API at (run's own, or "
                 "that of the serve beside this ingest), announced on careledger.instances.v1 "
                 "(default serve.advertised, else run's bound address or serve.listen)");
}

std::string ServeAddress(const Config& config) {
  if (!config.ServeAdvertised().empty()) return config.ServeAdvertised();
  const std::string& listen = config.ServeListen();
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return "";
  std::string_view host = std::string_view(listen).substr(0, colon);
  std::string_view port = std::string_view(listen).substr(colon + 1);
  for (std::string_view anywhere : {"", "0.0.0.0", "::", "[::]", "*"}) {
    if (host == anywhere) return "";
  }
  if (port.empty() || port == "0") return "";
  return (config.ServeTlsCert().empty() ? "http://" : "https://") + listen;
}

Result<IngestOptions> ToIngestOptions(const IngestFlags& flags, const Context& ctx) {
  IngestOptions options;
  options.kafka = ctx.kafka;
  options.group = flags.group;
  options.max_batch = flags.max_batch;
  options.replay_dir = ctx.data_dir;  // `careledger replay` asks through it
  const std::string& instance_id =
      flags.instance_id.empty() ? ctx.config.IngestInstanceId() : flags.instance_id;
  if (!instance_id.empty()) {
    auto id = StaticInstanceId(instance_id, ctx.data_dir);
    if (!id.ok()) return id.status();
    options.instance_id = std::move(id.value());
  }
  // Announced on careledger.instances.v1 under its static id, or the one `auto` would give
  // (stable across restarts of this store's ingest on this host).
  if (options.instance_id.empty()) {
    auto id = StaticInstanceId("auto", ctx.data_dir);
    if (!id.ok()) return id.status();
    options.announce_as = std::move(id.value());
  } else {
    options.announce_as = options.instance_id;
  }
  options.advertised = flags.advertised;
  for (const auto& text : flags.accept_gaps) {
    auto colon = text.rfind(':');
    int32_t partition = -1;
    if (colon != std::string::npos) {
      auto digits = std::string_view(text).substr(colon + 1);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), partition).ptr !=
          digits.data() + digits.size()) {
        partition = -1;
      }
    }
    std::string topic = colon == std::string::npos ? "" : text.substr(0, colon);
    if (partition < 0 || std::find(std::begin(kSourceTopics), std::end(kSourceTopics), topic) ==
                             std::end(kSourceTopics)) {
      return Status::BadInput("--accept-gap " + text +
                              ": expected TOPIC:PARTITION of a source topic, e.g. "
                              "careledger.police.v1:0");
    }
    options.accept_gaps.insert({topic, partition});
  }
  return options;
}

Command AddIngest(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    IngestFlags ingest;
    double until_idle = -1;
    bool until_end = false;
    std::string metrics_listen;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "ingest", "Consume the topics into the store, exactly once (until SIGTERM, or as told)");
  AddCommonFlags(*cmd, o->common);
  AddIngestFlags(*cmd, o->ingest);
  cmd->add_option("--until-idle", o->until_idle, "Stop after SECONDS with no message")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--until-end", o->until_end,
                "Stop once caught up with the high watermarks seen at start");
  cmd->add_option("--metrics-listen", o->metrics_listen,
                  "HOST:PORT to serve ingest's own Prometheus /metrics on (default "
                  "ingest.metrics_listen; unset: none; port 0: any free, printed on stdout)");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            if (Status s = RequireBrokers(*ctx); !s.ok()) return Fail(s);
            SignalWatcher signals;
            auto store = EventStore::Open({.path = ctx->data_dir});
            if (!store.ok()) return Fail(store.status());
            auto parsed = ToIngestOptions(o->ingest, *ctx);
            if (!parsed.ok()) return Fail(parsed.status());
            IngestOptions options = std::move(parsed.value());
            options.until_end = o->until_end;
            // The serve beside it (the systemd layout) answers the group's other instances
            // for this store.
            if (options.advertised.empty()) options.advertised = ServeAddress(ctx->config);
            if (o->until_idle >= 0) {
              options.until_idle = std::chrono::milliseconds(int64_t(o->until_idle * 1000));
            }
            // The pipeline's metrics where ingest runs on its own (the systemd layout).
            IngestMonitor monitor;
            IngestView view(monitor);
            std::unique_ptr<HttpServer> metrics;
            const std::string& metrics_listen =
                o->metrics_listen.empty() ? ctx->config.IngestMetricsListen() : o->metrics_listen;
            if (!metrics_listen.empty()) {
              ServeOptions serve;
              serve.listen = metrics_listen;
              serve.token = ctx->config.ServeToken();
              serve.tls_cert_path = ctx->config.ServeTlsCert();
              serve.tls_key_path = ctx->config.ServeTlsKey();
              serve.pipeline = &view;
              serve.pipeline_only = true;
              auto started = HttpServer::Start(serve);
              if (!started.ok()) return Fail(started.status());
              metrics = std::move(started.value());
              const char* scheme = metrics->tls() ? "https://" : "http://";
              std::cout << scheme << metrics->address() << "/metrics" << std::endl;
              spdlog::info("ingest metrics on {}{}/metrics", scheme, metrics->address());
              options.monitor = &monitor;
            }
            auto stats = RunIngest(**store, options, signals.stop());
            if (metrics) metrics->Stop();
            if (!stats.ok()) return Fail(stats.status());
            PrintIngestSummary(*stats);
            // Rejected input is the sources' to fix, not a failure of ingest: a clean stop is
            // exit 0 (systemd shows the unit as stopped, not failed), with the count said.
            if (stats->dead_lettered > 0) {
              std::cerr << "careledger: " << stats->dead_lettered
                        << " messages were rejected into the dead-letter store (`careledger "
                           "deadletter list`)\n";
            }
            return 0;
          }};
}

}  // namespace careledger::app
