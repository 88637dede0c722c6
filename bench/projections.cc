// Issue 6: rebuilding every projection from the log against a bare scan of the same log, and
// the latency of every metric query. One generated feed, stored without Kafka the way ingest
// stores it (Batch::Append + Projector::Apply), then in one run and alternating:
//   - the baseline: EventStore::ScanLog visiting every record and touching its payload;
//   - the live fold replayed: the log scanned, parsed and folded by Projector::Apply into a
//     fresh store's state in batches (what a rebuild costs done the straightforward way);
//   - RebuildProjectionsInto: the log parsed into facts, then the facts folded a child at a
//     time, each pass on two threads.
// Both rebuilds must give the source's ProjectionStateHash. Then RunMetric for every metric,
// live and as known at a time half way through the ingest, and ResolveChild per child.
#include "careledger/projections.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "bench_support.h"
#include "careledger/producers.h"

namespace careledger {
namespace {

using Clock = std::chrono::steady_clock;

using bench::Median;
using bench::Seconds;

std::string Range(std::vector<double> v, double scale, const char* unit) {
  std::sort(v.begin(), v.end());
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(scale >= 1000 ? 1 : 0);
  out << v.front() * scale << "–" << v.back() * scale << unit;
  return out.str();
}

using bench::Fail;

std::unique_ptr<EventStore> OpenStore(const std::filesystem::path& path) {
  // A rebuild writes state it can recompute; the log is not touched.
  return bench::OpenStore(path, /*sync=*/false);
}

// The feed stored as ingest stores it (bench::StoreFeed). Returns the instant half way through
// (for --as-known-at queries).
// With `feed_stamps`, each batch is stamped when its first line was recorded (a second after
// the batch before at the least), as a store that ingested the feed as it happened would be:
// its rows' versions then span years, where the system clock puts them all in one minute.
Instant Ingest(EventStore& store, const std::vector<std::string>& lines, Instant* feed_stamps) {
  Instant middle{};
  EnvelopeParser parser;
  Envelope first;
  bool ok = bench::StoreFeed(
      store, lines,
      [&](const EventStore::Batch& batch, size_t done) {
        // A pause half way so that "as known at" the first half's stamp (whole seconds) splits
        // it.
        if (middle == Instant{} && done >= lines.size() / 2) {
          middle = batch.ingested_at();
          if (!feed_stamps) ::usleep(1100 * 1000);
        }
      },
      [&](size_t i) {
        if (!feed_stamps) return;
        for (; i < lines.size() && !parser.Parse(lines[i], first).ok(); ++i) {
        }
        Instant next = *feed_stamps + std::chrono::seconds{1};
        if (i < lines.size()) next = std::max(next, first.recorded_at.instant);
        *feed_stamps = next;
      });
  if (!ok) std::exit(1);
  return middle;
}

// The straightforward rebuild: the live fold over the log, batch by batch.
Status ReplayLiveFold(const EventStore& from, EventStore& to, size_t batch_size) {
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{9000} / 1 / 1}}});
  Projector projector(to);
  std::vector<Envelope> envs(batch_size);
  std::vector<AcceptedEvent> accepted;
  Status failure = Status::Ok();
  auto flush = [&]() -> Status {
    auto batch = to.NewBatch();
    CARELEDGER_RETURN_IF_ERROR(projector.Apply(accepted, batch));
    CARELEDGER_RETURN_IF_ERROR(to.Write(batch));
    accepted.clear();
    return Status::Ok();
  };
  CARELEDGER_RETURN_IF_ERROR(from.ScanLog([&](const LogRecord& rec) {
    Envelope& e = envs[accepted.size()];
    failure = parser.Parse(rec.payload, e);
    if (!failure.ok()) return false;
    accepted.push_back({&e, rec.sequence, rec.partition, rec.ingested_at});
    if (accepted.size() == batch_size) failure = flush();
    return failure.ok();
  }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  return accepted.empty() ? Status::Ok() : flush();
}

// What the command line can change besides the feed (bench::FeedFlags).
struct Options {
  bool queries = true, rebuild = true, only_fast = false;
  std::string keep_store = {};  // where to leave the source store, for the CLI at this scale
  std::string from_store = {};  // a store --keep-store left: no feed generated or ingested
  bool feed_stamps = false;     // --stamps feed: batches stamped when recorded, not by the clock
};

Options ParseOptions(int argc, char** argv, bench::FeedFlags& flags) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (flags.Take(argc, argv, i)) continue;
    std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--no-queries") o.queries = false;
    if (flag == "--no-rebuild") o.rebuild = false;
    if (flag == "--no-live-fold") o.only_fast = true;
    if (flag == "--keep-store") o.keep_store = value, ++i;
    if (flag == "--from-store") o.from_store = value, ++i;
    if (flag == "--stamps") o.feed_stamps = std::string_view(value) == "feed", ++i;
  }
  return o;
}

// The store the stages read: the one --from-store names, or the generated feed ingested.
struct Source {
  std::unique_ptr<EventStore> store = {};
  Instant middle = {};
  std::filesystem::path dir = {};
};

// The stored feed as it is; "as known at" the stamp of the record half way.
bool OpenKeptStore(const std::string& from_store, Source& s) {
  s.dir = from_store;
  s.store = OpenStore(s.dir);
  if (Fail(s.store->ScanLog(
               [&](const LogRecord& rec) {
                 s.middle = rec.ingested_at;
                 return false;
               },
               s.store->next_sequence() / 2),
           "scan")) {
    return false;
  }
  std::cout << "store " << from_store << ": " << s.store->next_sequence() << " events\n";
  return true;
}

bool IngestGeneratedFeed(const GeneratorOptions& gen, bool feed_stamps, Source& s) {
  std::vector<std::string> lines;
  {
    std::ostringstream out;
    if (Fail(GenerateFeed(gen, out), "generate")) return false;
    std::istringstream in(out.str());
    for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
  }
  Instant stamp{};
  if (feed_stamps) {
    StoreOptions o;
    o.path = s.dir;
    o.sync = false;
    o.clock = [&stamp] { return stamp; };
    auto opened = EventStore::Open(o);
    if (Fail(opened.status(), "open")) return false;
    s.store = std::move(*opened);
  } else {
    s.store = OpenStore(s.dir);
  }
  auto t0 = Clock::now();
  s.middle = Ingest(*s.store, lines, feed_stamps ? &stamp : nullptr);
  double ingest_s = Seconds(t0);
  std::cout << "feed: " << gen.children << " children, " << FormatDate(gen.start) << " to "
            << FormatDate(gen.end) << ", seed " << gen.seed << ": " << lines.size() << " lines, "
            << s.store->next_sequence() << " events stored (ingest fold, sync off, "
            << (feed_stamps ? "each batch stamped when recorded: " : "with a 1.1 s pause: ")
            << ingest_s << " s)" << std::endl;
  return true;
}

uintmax_t BytesOnDisk(const std::filesystem::path& dir) {
  uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  return bytes;
}

bool PrintDiskUse(EventStore& source, const std::filesystem::path& source_dir, uint64_t records) {
  uintmax_t bytes = BytesOnDisk(source_dir);
  std::printf("store on disk: %.1f MiB (%.0f bytes an event)\n", double(bytes) / (1 << 20),
              double(bytes) / double(std::max<uint64_t>(records, 1)));
  auto t = Clock::now();
  if (Fail(source.CompactAll(), "compact")) return false;
  double compact_s = Seconds(t);
  bytes = BytesOnDisk(source_dir);
  std::printf("store on disk once compacted (%.1f s): %.1f MiB (%.0f bytes an event)\n", compact_s,
              double(bytes) / (1 << 20), double(bytes) / double(std::max<uint64_t>(records, 1)));
  return true;
}

// Each rebuild stage's times, one a run.
struct RebuildTimes {
  std::vector<double> scan = {}, live = {}, fast = {}, parse = {}, parser_ctor = {};
};

// Where the rebuild's time goes: building a parser (the schemas), then the scan with every
// payload parsed.
bool TimeParse(const EventStore& source, RebuildTimes& times) {
  auto t = Clock::now();
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{9000} / 1 / 1}}});
  times.parser_ctor.push_back(Seconds(t));
  Envelope env;
  t = Clock::now();
  if (Fail(
          source.ScanLog([&](const LogRecord& rec) { return parser.Parse(rec.payload, env).ok(); }),
          "parse")) {
    return false;
  }
  times.parse.push_back(Seconds(t));
  return true;
}

bool TimeLiveFold(const EventStore& source, const ChainHash& source_hash,
                  const std::filesystem::path& dir, int r, RebuildTimes& times) {
  auto to = OpenStore(dir / ("live-" + std::to_string(r)));
  auto t = Clock::now();
  if (Fail(ReplayLiveFold(source, *to, 5000), "replay live fold")) return false;
  times.live.push_back(Seconds(t));
  auto h = ProjectionStateHash(*to);
  if (!h.ok() || *h != source_hash) {
    return std::cerr << "live-fold rebuild: state hash differs from the source's\n", false;
  }
  return true;
}

bool TimeFastRebuild(const EventStore& source, const ChainHash& source_hash,
                     const std::filesystem::path& dir, int r, int repeat, RebuildTimes& times) {
  auto to = OpenStore(dir / ("fast-" + std::to_string(r)));
  auto t = Clock::now();
  auto stats = RebuildProjectionsInto(source, *to);
  times.fast.push_back(Seconds(t));
  if (Fail(stats.status(), "rebuild")) return false;
  auto h = ProjectionStateHash(*to);
  if (!h.ok() || *h != source_hash) {
    return std::cerr << "RebuildProjectionsInto: state hash differs from the source's\n", false;
  }
  if (r == 0) {
    std::cout << "rebuild wrote " << stats->children << " timelines and " << stats->counters
              << " counter cells; state hash " << ToHex(*h).substr(0, 16)
              << "… equal to the live store's\n";
  }
  if (r == 0 || r + 1 == repeat) {
    std::printf(
        "rebuild %d: facts pass %.2f s, children pass %.2f s, files %.2f s, compaction %.2f "
        "s\n",
        r, stats->facts_pass.count(), stats->children_pass.count(), stats->files.count(),
        stats->compaction.count());
  }
  return true;
}

void PrintRebuild(const RebuildTimes& times, uint64_t records, uint64_t touched, int repeat) {
  double base = double(records) / Median(times.scan);
  auto row = [&](const char* name, const std::vector<double>& t) {
    double rate = double(records) / Median(t);
    std::printf("| %s | %.0f | %s | %.0f %% |\n", name, rate, Range(t, 1000, " ms").c_str(),
                100.0 * rate / base);
  };
  std::printf("\nmedian of %d, events/s (touched %llu)\n| stage | events/s | times | of scan |\n",
              repeat, static_cast<unsigned long long>(touched % 10));
  row("ScanLog, payload touched (baseline)", times.scan);
  std::printf("| EnvelopeParser construction (schemas) | | %s | |\n",
              Range(times.parser_ctor, 1000, " ms").c_str());
  row("ScanLog + EnvelopeParser::Parse of every payload", times.parse);
  if (!times.live.empty()) row("rebuild: live fold (Projector::Apply per 5,000)", times.live);
  row("rebuild: RebuildProjectionsInto", times.fast);
}

bool BenchRebuild(const EventStore& source, const ChainHash& source_hash,
                  const std::filesystem::path& dir, uint64_t records, int repeat, bool only_fast) {
  RebuildTimes times;
  uint64_t touched = 0;
  auto scan_once = [&] {
    auto t = Clock::now();
    uint64_t n = 0;
    if (Fail(source.ScanLog([&](const LogRecord& r) {
          touched += r.payload.size() + uint8_t(r.payload[r.payload.size() / 2]);
          ++n;
          return true;
        }),
             "scan")) {
      std::exit(1);
    }
    if (n != records) std::exit((std::cerr << "scan saw " << n << " records\n", 1));
    return Seconds(t);
  };
  (void)scan_once();  // warm: every stage then reads the log from the block cache
  for (int r = 0; r < repeat; ++r) {
    times.scan.push_back(scan_once());
    if (!TimeParse(source, times)) return false;
    if (!only_fast && !TimeLiveFold(source, source_hash, dir, r, times)) return false;
    if (!TimeFastRebuild(source, source_hash, dir, r, repeat, times)) return false;
    std::filesystem::remove_all(dir / ("live-" + std::to_string(r)));
    std::filesystem::remove_all(dir / ("fast-" + std::to_string(r)));
  }
  PrintRebuild(times, records, touched, repeat);
  return true;
}

bool TimeMetrics(const EventStore& source, Date today, Instant middle, int repeat) {
  std::printf("\nqueries, today = %s, median of %d (range) in ms\n", FormatDate(today).c_str(),
              repeat);
  std::printf("| metric | live | as known at half way |\n");
  // Every metric as asked by default, then the breakdowns the CLA counters do not hold.
  std::vector<std::pair<std::string, std::vector<std::string>>> asked;
  for (auto name : MetricNames()) asked.push_back({std::string(name), {}});
  asked.push_back({"cla", {"age_band"}});
  asked.push_back({"cla", {"cohort", "sex"}});
  for (const auto& [name, by] : asked) {
    std::vector<double> times[2];
    for (int k = 0; k < 2; ++k) {
      for (int r = 0; r < repeat; ++r) {
        MetricQuery q;
        q.metric = name;
        q.by = by;
        q.today = today;
        if (k == 1) {
          // As a user asks it (ParseMetricSelectors): the report as it stood then, of that day.
          q.known_at = middle;
          q.today = TodayAsKnownAt(today, middle);
        }
        auto t = Clock::now();
        auto table = RunMetric(source, q);
        times[k].push_back(Seconds(t));
        if (Fail(table.status(), "query")) return false;
      }
    }
    std::string label = name;
    for (size_t i = 0; i < by.size(); ++i) label += (i ? "," : " --by ") + by[i];
    std::printf("| %s | %.0f (%s) | %.0f (%s) |\n", label.c_str(), Median(times[0]) * 1000,
                Range(times[0], 1000, "").c_str(), Median(times[1]) * 1000,
                Range(times[1], 1000, "").c_str());
  }
  return true;
}

// Every child's facts as stored (one entry per fact, a child's entries together).
bool ReadChildFacts(const EventStore& source,
                    std::vector<std::pair<std::string, std::vector<std::string>>>& states) {
  return !Fail(source.ScanState(std::string("fact", 5),
                                [&](std::string_view k, std::string_view v) {
                                  auto child = ChildOfFactKey(k);
                                  if (!child) return true;
                                  if (states.empty() || states.back().first != *child) {
                                    states.emplace_back(std::string(*child),
                                                        std::vector<std::string>{});
                                  }
                                  states.back().second.emplace_back(v);
                                  return true;
                                }),
               "scan state");
}

// Per child: decode alone, and decode + ResolveChild (what ForEachChild does per child).
bool TimePerChild(const EventStore& source, Instant middle, int repeat) {
  std::vector<std::pair<std::string, std::vector<std::string>>> states;
  if (!ReadChildFacts(source, states)) return false;
  std::vector<double> decode, resolve, resolve_known;
  size_t spells = 0;
  for (int r = 0; r < repeat; ++r) {
    auto t = Clock::now();
    std::vector<Timeline> timelines;
    timelines.reserve(states.size());
    for (const auto& [id, facts] : states) {
      Timeline& tl = timelines.emplace_back();
      for (const auto& v : facts) {
        if (Fail(DecodeFact(v, tl.facts.emplace_back(), tl.partition), "decode")) return false;
      }
    }
    decode.push_back(Seconds(t));
    t = Clock::now();
    for (size_t i = 0; i < states.size(); ++i) {
      spells += ResolveChild(states[i].first, timelines[i]).spells.size();
    }
    resolve.push_back(Seconds(t));
    t = Clock::now();
    for (size_t i = 0; i < states.size(); ++i) {
      spells += ResolveChild(states[i].first, timelines[i], middle).spells.size();
    }
    resolve_known.push_back(Seconds(t));
  }
  double n = double(states.size());
  std::printf(
      "\nper child (%zu children, %zu spells seen): DecodeFact of all its facts %.2f µs, "
      "ResolveChild %.2f µs, ResolveChild as known at %.2f µs\n",
      states.size(), spells, Median(decode) / n * 1e6, Median(resolve) / n * 1e6,
      Median(resolve_known) / n * 1e6);
  return true;
}

int Main(int argc, char** argv) {
  const Date today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  bench::FeedFlags flags(today);
  const Options o = ParseOptions(argc, argv, flags);
  const GeneratorOptions& gen = flags.gen;
  const int repeat = flags.repeat;
  auto dir = std::filesystem::temp_directory_path() /
             ("careledger-bench-projections-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  Source s;
  s.dir = dir / "source";
  if (!o.from_store.empty()) {
    if (!OpenKeptStore(o.from_store, s)) return 1;
  } else if (!IngestGeneratedFeed(gen, o.feed_stamps, s)) {
    return 1;
  }
  const uint64_t records = s.store->next_sequence();
  auto source_hash = ProjectionStateHash(*s.store);
  if (Fail(source_hash.status(), "hash")) return 1;
  if (!PrintDiskUse(*s.store, s.dir, records)) return 1;

  if (o.rebuild && !BenchRebuild(*s.store, *source_hash, dir, records, repeat, o.only_fast)) {
    return 1;
  }
  if (o.queries) {
    if (!TimeMetrics(*s.store, today, s.middle, repeat)) return 1;
    if (!TimePerChild(*s.store, s.middle, repeat)) return 1;
  }
  if (!o.keep_store.empty() && o.from_store.empty()) {
    s.store.reset();
    std::filesystem::remove_all(o.keep_store);
    std::filesystem::rename(dir / "source", o.keep_store);
    std::cout << "the source store is kept in " << o.keep_store << "\n";
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace careledger

int main(int argc, char** argv) {
  return careledger::Main(argc, argv);
}
