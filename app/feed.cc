// broker, generate and publish: the feed's side, up to the topics (the embedded Kafka, a
// synthetic authority's feed, and files validated and published).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "careledger/kafka.h"
#include "careledger/producers.h"
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

}  // namespace

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

struct PublishFlags {
  CommonFlags common;
  std::string format = "jsonl";
  std::vector<std::string> files;
  std::string local_postcodes, year_end, extracted_at, rejects, quality;
  bool complete = false;
};

void AddPublishFlags(CLI::App& cmd, PublishFlags& f) {
  AddCommonFlags(cmd, f.common);
  cmd.add_option("--format", f.format,
                 "Input format: jsonl (default), ssda903, police-csv, yjs-csv (docs/feeds.md)")
      ->check(CLI::IsMember({"jsonl", "ssda903", "police-csv", "yjs-csv"}));
  cmd.add_option("--local-postcodes", f.local_postcodes,
                 "ssda903: the authority's postcode districts AB1,AB2,... (a placement elsewhere "
                 "is out_of_area); overrides ssda903.local_postcode_districts");
  cmd.add_option("--year-end", f.year_end,
                 "ssda903: the day OC3 contacts are recorded on (default: the end of the "
                 "return's collection year, not after the extract day)")
      ->check(kIsoDate);
  cmd.add_option("--extracted-at", f.extracted_at,
                 "When the files were extracted (RFC 3339 date-time): recorded_at of rows that "
                 "have none (default: each file's modification time)")
      ->check(kDateTime);
  cmd.add_option("--rejects", f.rejects,
                 "Also list rejected rows in FILE as JSON Lines (file, line, field, reason, "
                 "rule); nothing is written unless asked");
  cmd.add_option("--quality", f.quality,
                 "List the data-quality warnings about rows that were kept in FILE as JSON "
                 "Lines (file, line, field, reason, rule)");
  cmd.add_flag("--complete", f.complete,
               "ssda903: the files are the source's complete current extract for the "
               "authorities they name: records of theirs in the store (--data) that the files "
               "no longer hold are retracted (the count is printed before anything is "
               "published)");
  cmd.add_option("files", f.files, "Files to publish")->required()->check(CLI::ExistingFile);
}

// The adapter's settings from the flags and the settings file; its sinks are the caller's.
AdapterOptions ToAdapterOptions(const PublishFlags& o, const Context& ctx) {
  AdapterOptions options;
  options.local_postcode_districts =
      o.local_postcodes.empty() ? ctx.local_postcode_districts : SplitList(o.local_postcodes);
  if (!o.year_end.empty()) options.year_end = *ParseDate(o.year_end);
  if (!o.extracted_at.empty()) {
    options.extracted_at = ParseTimestamp(o.extracted_at)->instant;
  }
  return options;
}

int RunPublish(const PublishFlags& o) {
  auto ctx = Resolve(o.common);
  if (!ctx.ok()) return Fail(ctx.status());
  if (Status s = RequireBrokers(*ctx); !s.ok()) return Fail(s);
  AdapterOptions options = ToAdapterOptions(o, *ctx);
  const FeedFormat format = *FeedFormatFromName(o.format);
  // Files are written only where asked: inputs often sit on a read-only share, and a
  // folder of source data is no place for our output.
  std::optional<RejectsFile> rejects, quality;
  if (!o.rejects.empty()) rejects.emplace(o.rejects);
  if (!o.quality.empty()) quality.emplace(o.quality);
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
  if (o.complete) {
    if (format != FeedFormat::kSsda903) {
      std::cerr << "careledger: --complete is for --format ssda903\n";
      return 2;
    }
    auto gone = RecordsNoLongerExtracted(o.files, options, ctx->data_dir);
    if (!gone.ok()) return Fail(gone.status());
    retractions = std::move(*gone);
    std::cerr << "complete re-extract: " << retractions.size()
              << " stored records are no longer in the files and will be retracted\n";
  }
  auto report = PublishFeed(format, o.files, options, ctx->kafka, on_reject, std::cerr);
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
}

}  // namespace

Command AddPublish(CLI::App& app) {
  auto o = std::make_shared<PublishFlags>();
  auto* cmd =
      app.add_subcommand("publish",
                         "Validate and publish feed files to the topics; rejected rows are named "
                         "file:line with the field, reason and rule on stderr");
  AddPublishFlags(*cmd, *o);
  return {cmd, [o] { return RunPublish(*o); }};
}

}  // namespace careledger::app
