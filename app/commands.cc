// The subcommands. Each parses its flags, wires modules together, and maps the outcome to an
// exit code; the work itself lives in the modules.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "careledger/consumers.h"
#include "careledger/kafka.h"
#include "careledger/producers.h"
#include "careledger/projections.h"
#include "careledger/reporting.h"
#include "careledger/store.h"
#include "cli.h"

namespace careledger::app {

namespace {

// CLI11 validator for an RFC 3339 date-time.
const CLI::Validator kDateTime(
    [](std::string& s) {
      auto t = ParseTimestamp(s);
      return t.ok() && t->has_time ? std::string()
                                   : "not an RFC 3339 date-time (2025-06-30T09:00:00Z): " + s;
    },
    "DATETIME");

std::string Rate(uint64_t n, double seconds) {
  return std::to_string(seconds > 0 ? uint64_t(double(n) / seconds) : 0) + "/s";
}

void PrintPublishSummary(const PublishReport& r, FeedFormat format) {
  // JSON Lines: a line is an event, so rejected lines count among the events read.
  if (format == FeedFormat::kJsonl) {
    std::cerr << "published " << r.published << " of " << r.lines << " events";
  } else {
    std::cerr << "published " << r.published << " of " << r.events << " events from " << r.lines
              << " rows";
  }
  std::cerr << " in " << r.seconds << " s (" << Rate(r.published, r.seconds) << "); rejected "
            << r.rejected << ", undelivered " << r.undelivered;
  if (r.dropped > 0) std::cerr << ", dropped by the broker's retention " << r.dropped;
  std::cerr << '\n';
  if (!r.warnings.empty()) {
    // Rows kept despite a data-quality finding: counted by rule, most frequent first.
    std::vector<std::pair<std::string, uint64_t>> by_count(r.warnings.begin(), r.warnings.end());
    std::stable_sort(by_count.begin(), by_count.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::cerr << "data quality (rows kept):";
    for (const auto& [rule, n] : by_count) std::cerr << ' ' << rule << ' ' << n << ',';
    std::cerr << " listed with --quality FILE\n";
  }
}

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

}  // namespace

Command AddBroker(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    int partitions = 6;
    int port = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "broker",
      "Run the embedded Kafka (librdkafka mock cluster) until SIGTERM; the first "
      "line on stdout is its bootstrap address");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--partitions", o->partitions, "Partitions per topic (default 6)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--port", o->port,
                  "Fixed bootstrap port on 127.0.0.1 (default: the broker's ephemeral port)")
      ->check(CLI::Range(1, 65535));
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            SignalWatcher signals;
            auto cluster = MockCluster::Start(o->partitions, o->port);
            if (!cluster.ok()) return Fail(cluster.status());
            std::cout << (*cluster)->bootstrap_servers() << std::endl;
            spdlog::info("embedded Kafka at {} with {} partitions per topic; stop with SIGTERM",
                         (*cluster)->bootstrap_servers(), o->partitions);
            // Where a user meets the limit first: a feed bigger than this loses its oldest
            // events before ingest reads them (publish and ingest then say so).
            spdlog::info(
                "it keeps about 5 MiB per partition and drops older messages (a demo and test "
                "broker: ops/runbooks/offset-gap.md)");
            while (!signals.stop().load())
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
            return 0;
          }};
}

Command AddGenerate(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    GeneratorOptions gen;
    std::string start, end, out;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "Write a synthetic feed as JSON Lines");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--children", o->gen.children,
                  "Children aged 0-17 in the area (default 100000); most never appear in a feed")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--start", o->start, "First day (default 2023-04-01)")->check(kIsoDate);
  cmd->add_option("--end", o->end, "Day after the last (default 2026-04-01)")->check(kIsoDate);
  cmd->add_option("--seed", o->gen.seed, "Seed: the same seed gives the same bytes");
  cmd->add_option("--out", o->out, "Output file (default stdout)");
  cmd->add_option("--late-rate", o->gen.late_rate,
                  "Share of events recorded 3 weeks to 6 months late (default 0.02)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--duplicate-rate", o->gen.duplicate_rate,
                  "Share of events re-sent later as the same line (default 0.01)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--correction-rate", o->gen.correction_rate,
                  "Share of events later superseded, or keyed twice and retracted (default 0.005)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--invalid-rate", o->gen.invalid_rate,
                  "Share of events followed by a malformed line publish rejects (default 0.001)")
      ->check(CLI::Range(0.0, 1.0));
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            if (!o->start.empty()) o->gen.start = *ParseDate(o->start);
            if (!o->end.empty()) o->gen.end = *ParseDate(o->end);
            std::ofstream file;
            if (!o->out.empty()) {
              file.open(o->out, std::ios::binary | std::ios::trunc);
              if (!file) return Fail(Status::BadInput("cannot write " + o->out));
            }
            FeedSummary summary;
            Status s = GenerateFeed(o->gen, o->out.empty() ? std::cout : file, &summary);
            if (!s.ok()) return Fail(s);
            std::cerr << "generated " << summary.lines << " lines: " << summary.events()
                      << " events about " << summary.children << " children; late " << summary.late
                      << ", re-sent " << summary.duplicates << ", superseding "
                      << summary.superseding << ", retractions " << summary.retractions
                      << ", invalid " << summary.invalid_lines.size() << '\n';
            return 0;
          }};
}

namespace {

// The records of a complete re-extract's authorities that the store holds and the files no
// longer do: a retraction of each one's latest version (unless already retracted). An
// authority is the LA part of a child id ("Bromley/123"); files without an LA column cover
// every child of the source.
Result<std::vector<FeedEvent>> RecordsNoLongerExtracted(const std::vector<std::string>& files,
                                                        AdapterOptions options,
                                                        const std::string& data_dir) {
  auto authority = [](std::string_view child) {
    size_t slash = child.find('/');
    return std::string(slash == std::string_view::npos ? "" : child.substr(0, slash));
  };
  std::set<std::string> extracted, authorities;
  EnvelopeParser parser;
  Envelope e;
  EventSink collect = [&](FeedEvent&& f) {
    CARELEDGER_RETURN_IF_ERROR(parser.Parse(f.envelope, e));
    extracted.insert(e.source_key);
    authorities.insert(authority(e.child_id));
    return Status::Ok();
  };
  options.on_warning = nullptr;
  auto adapted = AdaptFiles(FeedFormat::kSsda903, files, options, collect, [](Reject&&) {});
  if (!adapted.ok()) return adapted.status();
  auto store = EventStore::Open({.path = data_dir, .read_only = true});
  if (!store.ok()) return store.status();
  struct Latest {
    Instant recorded;
    std::string event_id, child_id;
  };
  std::map<std::string, Latest> stored;  // source key → its latest version
  std::set<std::string> retracted;
  CARELEDGER_RETURN_IF_ERROR((*store)->ScanLog([&](const LogRecord& r) {
    if (!parser.Parse(r.payload, e).ok() || e.source != "ssda903") return true;
    if (e.type == EventType::kEventRetracted) {
      retracted.insert(e.data.target_event_id);
      return true;
    }
    if (e.source_key.empty() || !authorities.count(authority(e.child_id))) return true;
    auto [it, inserted] = stored.try_emplace(e.source_key);
    if (inserted || it->second.recorded <= e.recorded_at.instant) {
      it->second = {e.recorded_at.instant, e.event_id, e.child_id};
    }
    return true;
  }));
  const Instant now = options.extracted_at.value_or(
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  std::vector<FeedEvent> out;
  for (const auto& [key, latest] : stored) {
    if (extracted.count(key) || retracted.count(latest.event_id)) continue;
    auto r = RetractRecord("ssda903", latest.child_id, key, latest.event_id, now);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace

Command AddPublish(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string format = "jsonl";
    std::vector<std::string> files;
    std::string local_postcodes, year_end, extracted_at, rejects, quality;
    bool complete = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("publish",
                         "Validate and publish feed files to the topics; rejected rows are named "
                         "file:line with the field, reason and rule on stderr");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--format", o->format,
                  "Input format: jsonl (default), ssda903, police-csv, yjs-csv (docs/feeds.md)")
      ->check(CLI::IsMember({"jsonl", "ssda903", "police-csv", "yjs-csv"}));
  cmd->add_option("--local-postcodes", o->local_postcodes,
                  "ssda903: the authority's postcode districts AB1,AB2,... (a placement elsewhere "
                  "is out_of_area); overrides ssda903.local_postcode_districts");
  cmd->add_option("--year-end", o->year_end,
                  "ssda903: the day OC3 contacts are recorded on (default: the end of the "
                  "return's collection year, not after the extract day)")
      ->check(kIsoDate);
  cmd->add_option("--extracted-at", o->extracted_at,
                  "When the files were extracted (RFC 3339 date-time): recorded_at of rows that "
                  "have none (default: each file's modification time)")
      ->check(kDateTime);
  cmd->add_option("--rejects", o->rejects,
                  "Also list rejected rows in FILE as JSON Lines (file, line, field, reason, "
                  "rule); nothing is written unless asked");
  cmd->add_option("--quality", o->quality,
                  "List the data-quality warnings about rows that were kept in FILE as JSON "
                  "Lines (file, line, field, reason, rule)");
  cmd->add_flag("--complete", o->complete,
                "ssda903: the files are the source's complete current extract for the "
                "authorities they name: records of theirs in the store (--data) that the files "
                "no longer hold are retracted (the count is printed before anything is "
                "published)");
  cmd->add_option("files", o->files, "Files to publish")->required()->check(CLI::ExistingFile);
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            if (Status s = RequireBrokers(*ctx); !s.ok()) return Fail(s);
            AdapterOptions options;
            options.local_postcode_districts = o->local_postcodes.empty()
                                                   ? ctx->local_postcode_districts
                                                   : SplitList(o->local_postcodes);
            if (!o->year_end.empty()) options.year_end = *ParseDate(o->year_end);
            if (!o->extracted_at.empty()) {
              options.extracted_at = ParseTimestamp(o->extracted_at)->instant;
            }
            const FeedFormat format = *FeedFormatFromName(o->format);
            // Files are written only where asked: inputs often sit on a read-only share, and a
            // folder of source data is no place for our output.
            std::optional<RejectsFile> rejects, quality;
            if (!o->rejects.empty()) rejects.emplace(o->rejects);
            if (!o->quality.empty()) quality.emplace(o->quality);
            Status written;
            auto add = [&](std::optional<RejectsFile>& file, const Reject& r) {
              if (!file) return;
              if (Status s = file->Add(r); !s.ok() && written.ok()) written = s;
            };
            RejectSink on_reject = [&](Reject&& r) {
              std::cerr << r.ToString() << '\n';
              add(rejects, r);
            };
            options.on_warning = [&](Finding&& f) { add(quality, f); };
            std::vector<FeedEvent> retractions;
            if (o->complete) {
              if (format != FeedFormat::kSsda903) {
                std::cerr << "careledger: --complete is for --format ssda903\n";
                return 2;
              }
              auto gone = RecordsNoLongerExtracted(o->files, options, ctx->data_dir);
              if (!gone.ok()) return Fail(gone.status());
              retractions = std::move(*gone);
              std::cerr << "complete re-extract: " << retractions.size()
                        << " stored records are no longer in the files and will be retracted\n";
            }
            auto report = PublishFeed(format, o->files, options, ctx->kafka, on_reject, std::cerr);
            if (report.ok() && !retractions.empty()) {
              auto retracted = PublishEvents(std::move(retractions), ctx->kafka, std::cerr);
              if (!retracted.ok()) return Fail(retracted.status());
              report->events += retracted->events;
              report->published += retracted->published;
              report->undelivered += retracted->undelivered;
            }
            for (auto* file : {&rejects, &quality}) {
              if (!*file) continue;
              if (Status s = (*file)->Finish(); !s.ok() && written.ok()) written = s;
            }
            if (!report.ok()) return Fail(report.status());
            if (!written.ok()) return Fail(written);
            if (rejects && rejects->count() > 0) {
              std::cerr << rejects->count() << " rejected, listed in " << rejects->path() << '\n';
            }
            PrintPublishSummary(*report, format);
            return report->all_good() ? 0 : 1;
          }};
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

// What `verify` prints about a store that passed.
struct Verified {
  VerifyReport report;
  ChainHash state{};
  std::vector<OffsetGap> gaps;                     // met by ingest, open or accepted
  size_t held_awaiting = 0, held_other_child = 0;  // corrections not in effect
};

Result<Verified> VerifyStore(const std::string& path) {
  auto store = EventStore::Open({.path = path, .read_only = true});
  if (!store.ok()) return store.status();
  auto report = (*store)->Verify();
  if (!report.ok()) return report.status();
  auto state = ProjectionStateHash(**store);
  if (!state.ok()) return state.status();
  auto gaps = (*store)->Gaps();
  if (!gaps.ok()) return gaps.status();
  auto held = (*store)->HeldCorrections();
  if (!held.ok()) return held.status();
  Verified v{*report, *state, std::move(gaps.value())};
  for (const auto& h : *held) ++(h.other_child ? v.held_other_child : v.held_awaiting);
  return v;
}

int PrintVerified(const std::string& path, const Verified& v) {
  std::cout << "log records      " << v.report.records << '\n'
            << "log head         " << ToHex(v.report.head) << '\n'
            << "projection state " << ToHex(v.state) << '\n';
  std::cout << "dead letters     " << v.report.dead_letters << '\n';
  // Not damage either: a source's correction that has not taken effect (yet).
  if (v.held_awaiting + v.held_other_child > 0) {
    std::cout << "held corrections " << v.held_awaiting << " awaiting their target, "
              << v.held_other_child << " naming another child's event (`careledger corrections`)\n";
  }
  // A gap is not damage to the store, but the store is missing events the source sent: an
  // open one fails verification; an accepted one is listed, as an audit would want.
  size_t open = 0;
  for (const auto& gap : v.gaps) {
    std::cout << (gap.accepted ? "accepted gap     " : "open gap         ") << gap.Describe();
    if (gap.accepted) std::cout << " (accepted " << FormatInstant(gap.accepted_at) << ")";
    std::cout << '\n';
    open += gap.accepted ? 0 : 1;
  }
  if (open > 0) {
    return Fail(Status::Gap(std::to_string(open) +
                            " open offset gap(s): the store is missing events the source sent "
                            "(see ops/runbooks/offset-gap.md)"));
  }
  std::cerr << "verified " << path
            << ": hash chain, event_id and per-child indexes, offsets, dead letters\n";
  return 0;
}

// Verifies the store at `path` and prints what it holds; the shared tail of verify and backup.
int VerifyAndPrint(const std::string& path) {
  auto verified = VerifyStore(path);
  if (!verified.ok()) return Fail(verified.status());
  return PrintVerified(path, *verified);
}

// The head a verify found good, kept outside the store: the next verify checks that the log
// still holds it, so a cut tail (or a rewritten history) with the store's own head and indexes
// fixed up to match is caught. "<sequence> <chain hex> <verified at>", one line.
std::string DefaultWitness(const std::string& data_dir) {
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + ".verified-head";
}

Status CheckWitness(const std::string& data_dir, const std::string& witness) {
  std::ifstream in(witness);
  if (!in) return Status::Ok();  // the first verify of this store
  uint64_t records = 0;
  std::string chain, at;
  if (!(in >> records >> chain >> at) || chain.size() != 64) {
    return Status::Fatal("the verified-head file " + witness + " is malformed");
  }
  if (records == 0) return Status::Ok();
  auto store = EventStore::Open({.path = data_dir, .read_only = true});
  if (!store.ok()) return store.status();
  std::optional<std::string> found;
  CARELEDGER_RETURN_IF_ERROR((*store)->ScanLog(
      [&](const LogRecord& r) {
        if (r.sequence == records - 1) found = ToHex(r.chain);
        return false;
      },
      records - 1));
  if (found == chain) return Status::Ok();
  return Status::Fatal("the log no longer holds the head verified at " + at + " (" +
                       std::to_string(records) + " records, chain " + chain.substr(0, 16) +
                       "…, kept in " + witness + "): " +
                       (found ? "the history up to it was rewritten"
                              : "its tail was cut (or an older backup restored over it without "
                                "`careledger restore`)"));
}

Status WriteWitness(const std::string& witness, const VerifyReport& report) {
  std::string tmp = witness + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << report.records << ' ' << ToHex(report.head) << ' '
        << FormatInstant(
               std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()))
        << '\n';
    if (!out.flush()) return Status::Fatal("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, witness, ec);
  if (ec) return Status::Fatal("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

Command AddVerify(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    bool figures = false;
    std::string witness;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("verify",
                         "Check the log's hash chain and the store's invariants; exit 1 naming the "
                         "first breach. Prints the log head and the projection state hash");
  AddCommonFlags(*cmd, o->common);
  cmd->add_flag("--figures", o->figures,
                "Also fold the log again into a scratch store under $TMPDIR and compare every "
                "projection cell with the live one, naming the first that differs");
  cmd->add_option("--verified-head", o->witness,
                  "File outside the store keeping the head this verify found good; the next "
                  "verify checks the log still holds it (default: DATA.verified-head)");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            const std::string witness =
                o->witness.empty() ? DefaultWitness(ctx->data_dir) : o->witness;
            auto verified = VerifyStore(ctx->data_dir);
            if (!verified.ok()) return Fail(verified.status());
            if (Status s = CheckWitness(ctx->data_dir, witness); !s.ok()) return Fail(s);
            if (o->figures) {
              auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
              if (!store.ok()) return Fail(store.status());
              const auto scratch = std::filesystem::temp_directory_path() /
                                   ("careledger-verify-figures-" + std::to_string(::getpid()));
              auto differing = FirstDifferingCell(**store, scratch.string());
              if (!differing.ok()) return Fail(differing.status());
              if (*differing) {
                return Fail(Status::Fatal("verify --figures: " + **differing +
                                          " (the projection state was altered, or the fold "
                                          "changed: `careledger replay` rebuilds it)"));
              }
              std::cerr << "figures: every projection cell matches the log folded again\n";
            }
            int code = PrintVerified(ctx->data_dir, *verified);
            // Kept once the store is good (an open offset gap is not damage to the log).
            if (code == 0 || code == kExitGap) {
              if (Status s = WriteWitness(witness, verified->report); !s.ok()) return Fail(s);
            }
            return code;
          }};
}

Command AddBackup(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string dir;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "backup",
      "Copy the store consistently into DIR (safe while ingest runs), then verify the copy");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("dir", o->dir, "Backup directory (must not exist)")->required();
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto store = EventStore::Open({.path = ctx->data_dir, .read_only = true});
            if (!store.ok()) return Fail(store.status());
            if (Status s = (*store)->Checkpoint(o->dir); !s.ok()) return Fail(s);
            return VerifyAndPrint(o->dir);
          }};
}

// ---- restore ------------------------------------------------------------------------------
// A restore never writes into the target itself: it copies into a side directory beside it
// ("<target>.restoring-<pid>", same filesystem so the rename is atomic), makes every byte
// durable, verifies the copy as a store, and only then renames it into place. Killed at any
// point before the rename, the target holds nothing that opens as a store (copied straight in,
// a half copy used to open and verify as a store with fewer records, or none).

Status Errno(const std::string& what) {
  return Status::Fatal(what + ": " + std::strerror(errno));
}

// fsync of a file or directory; a directory's entries (the names in it) are durable after it.
Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0 ? Status::Ok() : Errno("fsync " + path);
}

// Copies the tree `from` into the new directory `to`, every file and directory synced.
Status CopyTreeDurably(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::create_directory(to, ec) || ec) {
    return Status::Fatal("create " + to.string() + ": " + (ec ? ec.message() : "it exists"));
  }
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    const fs::path target = to / entry.path().filename();
    if (entry.is_directory(ec)) {
      CARELEDGER_RETURN_IF_ERROR(CopyTreeDurably(entry.path(), target));
      continue;
    }
    if (!fs::copy_file(entry.path(), target, ec) || ec) {
      return Status::Fatal("copy " + entry.path().string() + ": " + ec.message());
    }
    if (fs::file_size(target, ec) != fs::file_size(entry.path(), ec) || ec) {
      return Status::Fatal("copy " + entry.path().string() + ": sizes differ after the copy");
    }
    CARELEDGER_RETURN_IF_ERROR(SyncPath(target.string(), false));
  }
  if (ec) return Status::Fatal("read " + from.string() + ": " + ec.message());
  return SyncPath(to.string(), true);
}

// Side directories of restores into `target` whose process is gone (killed, or the machine
// stopped): never a store anyone reads, so removed. A live process's is left alone.
void RemoveStaleRestores(const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  const std::string stem = target.filename().string() + ".restoring-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(stem)) continue;
    long pid = 0;
    const char* digits = name.data() + stem.size();
    auto [end, err] = std::from_chars(digits, name.data() + name.size(), pid);
    if (err != std::errc() || end != name.data() + name.size() || pid <= 0) continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
    spdlog::warn("removing {}, left by an interrupted restore", entry.path().string());
    fs::remove_all(entry.path(), ec);
  }
}

Result<Verified> RestoreInto(const std::filesystem::path& backup, std::filesystem::path target) {
  namespace fs = std::filesystem;
  target = fs::absolute(target).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();  // "store/" names "store"
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    return Status::BadInput(target.string() + " is not empty: move it away before restoring");
  }
  fs::create_directories(target.parent_path(), ec);
  RemoveStaleRestores(target);
  const fs::path side = target.string() + ".restoring-" + std::to_string(::getpid());
  fs::remove_all(side, ec);
  struct RemoveUnlessRenamed {
    fs::path path;
    bool renamed = false;
    ~RemoveUnlessRenamed() {
      std::error_code ignored;
      if (!renamed) fs::remove_all(path, ignored);
    }
  } cleanup{side};

  CARELEDGER_RETURN_IF_ERROR(CopyTreeDurably(backup, side));
  ::chmod(side.c_str(), 0700);
  auto verified = VerifyStore(side.string());
  if (!verified.ok()) {
    return Status::Fatal("the copy of " + backup.string() +
                         " does not verify: " + verified.status().message());
  }
  // rename(2) replaces an empty directory and refuses a non-empty one, so a store that
  // appeared at the target meanwhile is never overwritten.
  if (::rename(side.c_str(), target.c_str()) != 0) {
    return Errno("rename " + side.string() + " to " + target.string());
  }
  cleanup.renamed = true;
  CARELEDGER_RETURN_IF_ERROR(SyncPath(target.parent_path().string(), true));
  return verified;
}

Command AddRestore(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string dir;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "restore",
      "Copy the backup in DIR beside --data (which must not hold a store), verify the copy, "
      "then rename it into place; ingest then resumes from the backup's offsets");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("dir", o->dir, "Backup directory")->required()->check(CLI::ExistingDirectory);
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            auto verified = RestoreInto(o->dir, ctx->data_dir);
            if (!verified.ok()) return Fail(verified.status());
            // The restored head is the one to keep from now on (it may be older than the one
            // a verify kept for the store this replaces).
            if (Status s = WriteWitness(DefaultWitness(ctx->data_dir), verified->report); !s.ok()) {
              return Fail(s);
            }
            return PrintVerified(ctx->data_dir, *verified);
          }};
}

Command AddDemo(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    int children = 100000;
    uint64_t seed = 42;
    std::string dir = "careledger-demo";
    std::string listen;
    bool no_serve = false;
  };
  auto o = std::make_shared<Opts>();
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
  cmd->add_flag("--no-serve", o->no_serve,
                "Stop after the report instead of serving the dashboard");
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            SignalWatcher signals;
            namespace fs = std::filesystem;
            std::error_code ec;
            fs::remove_all(o->dir, ec);
            fs::create_directories(o->dir, ec);
            if (ec) return Fail(Status::Fatal("cannot create " + o->dir + ": " + ec.message()));

            // 1. The embedded broker, in this process.
            auto cluster = MockCluster::Start(6);
            if (!cluster.ok()) return Fail(cluster.status());
            Settings kafka = ctx->kafka;
            kafka["bootstrap.servers"] = (*cluster)->bootstrap_servers();
            std::cerr << "embedded Kafka at " << kafka["bootstrap.servers"] << '\n';

            // 2. Three years of a synthetic authority's feed, ending today.
            GeneratorOptions gen;
            gen.children = o->children;
            gen.seed = o->seed;
            gen.end = Today() + std::chrono::days{1};
            gen.start = Date{std::chrono::year_month_day{gen.end} - std::chrono::years{3}};
            // Publish rejects a file with malformed lines (exit 1); the demo shows the rest of
            // the pipeline, so its feed has none. Late, re-sent and corrected events stay.
            gen.invalid_rate = 0;
            std::string feed = o->dir + "/feed.jsonl";
            {
              std::ofstream out(feed, std::ios::binary);
              if (Status s = GenerateFeed(gen, out); !s.ok()) return Fail(s);
            }
            std::cerr << "generated the feed of an area with " << o->children << " children "
                      << FormatDate(gen.start) << ".." << FormatDate(gen.end) << " into " << feed
                      << '\n';

            // 3. Publish, 4. ingest exactly once into the store.
            auto published = PublishJsonl({feed}, kafka, std::cerr);
            if (!published.ok()) return Fail(published.status());
            PrintPublishSummary(*published, FeedFormat::kJsonl);
            auto store = EventStore::Open({.path = o->dir + "/store"});
            if (!store.ok()) return Fail(store.status());
            IngestOptions ingest;
            ingest.kafka = kafka;
            ingest.until_end = true;
            auto stats = RunIngest(**store, ingest, signals.stop());
            if (!stats.ok()) return Fail(stats.status());
            PrintIngestSummary(*stats);

            // 5. The report: CLA today by placement, and at each 31 March in the window.
            Date today = Today();
            auto now = ClaAt(**store, today, ClaDimension::kPlacement);
            if (!now.ok()) return Fail(now.status());
            std::cout << Render(ClaReport(*now, today, ClaDimension::kPlacement),
                                OutputFormat::kTable)
                      << '\n';
            ReportTable trend;
            trend.metric = "cla at 31 March";
            trend.dimensions = {"at"};
            trend.measures = {"value"};
            for (auto y = std::chrono::year_month_day{gen.start}.year();
                 y <= std::chrono::year_month_day{today}.year(); ++y) {
              Date d = YearEnding{int(y)}.Last();
              if (d < gen.start || d > today) continue;
              auto total = ClaAt(**store, d, ClaDimension::kNone);
              if (!total.ok()) return Fail(total.status());
              trend.rows.push_back({{FormatDate(d)}, {Figure::Count(total->front().children)}});
            }
            std::cout << Render(trend, OutputFormat::kTable) << '\n';
            // The partnership's questions, over the last 12 months: how offences by children
            // in care are resolved, how often they are criminalised, how often they go missing.
            for (std::string_view metric : {"informal-share", "criminalisation", "missing"}) {
              MetricQuery q;
              q.metric = metric;
              q.today = today;
              Config config = ctx->config;
              q.population = [config](int year) { return config.PopulationFor(year); };
              auto table = RunMetric(**store, q);
              if (!table.ok()) return Fail(table.status());
              std::cout << Render(*table, OutputFormat::kTable) << '\n';
            }
            std::cerr << "store: " << o->dir << "/store — try `careledger report cla --data "
                      << o->dir << "/store --at 2025-03-31 --by legal_status`\n";
            if (o->no_serve) return 0;
            // 6. The dashboard and the API over the same store, until Ctrl-C.
            ServeOptions serve;
            serve.listen = o->listen.empty() ? ctx->config.ServeListen() : o->listen;
            serve.token = ctx->config.ServeToken();
            serve.threshold = ctx->config.PublishThreshold();
            serve.store_path = o->dir + "/store";
            Config config = ctx->config;
            serve.population = [config](int year) { return config.PopulationFor(year); };
            auto server = HttpServer::Start(serve);
            if (!server.ok()) return Fail(server.status());
            (*server)->Attach(**store);
            std::cout << "dashboard: http://" << (*server)->address() << "/  (Ctrl-C to stop)"
                      << std::endl;
            while (!signals.stop().load()) {
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            (*server)->Stop();
            return 0;
          }};
}

}  // namespace careledger::app
