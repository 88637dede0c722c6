// End-to-end harness: one generated feed, one embedded broker, and in the same run
//   publish (careledger, validation on)      vs  kcat -P of the same lines
//   ingest (validation, dedup, projections,  vs  a bare librdkafka consumer of the same
//           fsync per batch)                     topics, kcat -C of one, and RocksDB alone
//                                                writing the same events (3 puts each, fsync)
// Prints a table of rates and ratios. Ingest is timed from partition assignment: the mock
// cluster's group join (~3 s) is a fixed cost that a real cluster does not have.
//
//   careledger_bench_e2e [--children N] [--years Y] [--seed S] [--max-batch N] [--repeat N]
//
// Consumer stages are repeated (--repeat, default 3) and the median reported: single runs on a
// 2-core VM vary by ±30 % with fsync latency and scheduling.
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "careledger/consumers.h"
#include "careledger/events.h"
#include "careledger/kafka.h"
#include "careledger/producers.h"

extern char** environ;

namespace careledger {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Runs a command with stdout to `out_path` (or /dev/null); returns its exit code.
int RunCommand(const std::vector<std::string>& argv, const std::string& out_path = "/dev/null") {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The bare baseline: a librdkafka consumer assigned every partition of the topics from the
// beginning, reading until it has `expected` messages. No parsing, no storing. Ingest reads
// all three source topics (two of them empty here), which costs librdkafka ~0.5 s more before
// the first message on the mock cluster, so the fair baseline reads the same three.
double BareConsume(const std::string& bootstrap, const std::vector<std::string>& topics,
                   int partitions, uint64_t expected) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "bench-bare", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  // The same fetch setting as ingest's consumer (GroupConsumer), so only the work differs.
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "100", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (const auto& topic : topics) {
    for (int p = 0; p < partitions; ++p) {
      // Offset 0, as ingest starts a partition it holds nothing of (no offset lookup).
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = 0;
    }
  }
  auto t = Clock::now();
  rd_kafka_assign(rk, list);
  uint64_t n = 0;
  while (n < expected) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 1000);
    if (!m) continue;
    if (!m->err) ++n;
    rd_kafka_message_destroy(m);
  }
  double seconds = Seconds(t);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return seconds;
}

struct RawEvent {
  std::string event_id, child_id, line;
};

// Writes the events into a new RocksDB as log, event_id and child entries (column families of
// their own), `batch` events per WriteBatch, fsync each; returns the seconds taken.
Result<double> RawStoreWrite(const std::string& path, const std::vector<RawEvent>& events,
                             size_t batch) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"log", {}}, {"event_id", {}}, {"child", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  auto s = rocksdb::DB::Open(options, path, families, &handles, &raw_db);
  if (!s.ok()) return Status::Fatal("raw RocksDB open: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw_db);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  auto t = Clock::now();
  uint64_t seq = 0;
  for (size_t i = 0; i < events.size(); i += batch) {
    rocksdb::WriteBatch wb;
    for (size_t k = i; k < std::min(events.size(), i + batch); ++k, ++seq) {
      char key[8];
      for (int b = 0; b < 8; ++b) key[b] = char(seq >> (56 - 8 * b));
      wb.Put(handles[1], rocksdb::Slice(key, 8), events[k].line);
      wb.Put(handles[2], events[k].event_id, rocksdb::Slice(key, 8));
      wb.Put(handles[3], events[k].child_id + std::string(key, 8), rocksdb::Slice());
    }
    s = db->Write(sync, &wb);
    if (!s.ok()) return Status::Fatal("raw RocksDB write: " + s.ToString());
  }
  double seconds = Seconds(t);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  return seconds;
}

struct Row {
  std::string what;
  uint64_t events;
  double seconds;
  std::string baseline;
  double baseline_seconds;
  uint64_t baseline_events;  // a baseline reading one topic reads only that topic's share
};

void Print(const std::vector<Row>& rows) {
  std::printf("%-34s %9s %9s %12s   %-28s %12s %7s\n", "stage", "events", "seconds", "events/s",
              "baseline (same run)", "events/s", "ratio");
  for (const auto& r : rows) {
    double rate = double(r.events) / r.seconds;
    double base = double(r.baseline_events) / r.baseline_seconds;
    std::printf("%-34s %9llu %9.3f %12.0f   %-28s %12.0f %6.0f%%\n", r.what.c_str(),
                static_cast<unsigned long long>(r.events), r.seconds, rate, r.baseline.c_str(),
                base, 100.0 * rate / base);
  }
}

// What the command line can change: the feed generated, the batch size and the runs per stage.
struct Options {
  GeneratorOptions gen = {};
  size_t max_batch = 5000;
  int repeat = 3;
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  GeneratorOptions& gen = o.gen;
  gen.children = 280000;  // an area of 280,000 children: about 83,000 events
  gen.invalid_rate = 0;   // publish would refuse the malformed lines; the bench measures the rest
  gen.seed = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--children") gen.children = std::atoi(argv[i + 1]);
    if (flag == "--seed") gen.seed = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--max-batch") o.max_batch = size_t(std::atoll(argv[i + 1]));
    if (flag == "--repeat") o.repeat = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--years") {
      // The years up to today, as the other benches generate them (bench/run-all.sh).
      Date today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
      gen.end = today;
      gen.start =
          Date{std::chrono::year_month_day{today} - std::chrono::years{std::atoi(argv[i + 1])}};
    }
  }
  return o;
}

// The generated feed as a file, the same lines keyed by child for kcat -P, and as raw events
// for the store's ceiling.
struct Feed {
  std::string path, keyed;
  FeedSummary summary = {};
  uint64_t events = 0, social_care = 0;
  std::vector<RawEvent> raw = {};
};

// Returns the exit code: 0, or 1 when the feed could not be generated.
int WriteFeed(const GeneratorOptions& gen, Feed& f) {
  {
    std::ofstream out(f.path);
    if (Status s = GenerateFeed(gen, out, &f.summary); !s.ok()) {
      return std::cerr << s.ToString(), 1;
    }
  }
  // Lines (messages) in all, and on the social care topic alone: the feed spans the three
  // topics. Re-sent duplicates are messages too; ingest stores each event once.
  std::ifstream in(f.path);
  std::ofstream out(f.keyed);
  EnvelopeParser parser;
  Envelope env;
  for (std::string line; std::getline(in, line); ++f.events) {
    (void)parser.Parse(line, env);
    f.social_care += TopicFor(env.type) == kTopicSocialCare;
    out << env.child_id << '\t' << line << '\n';
    f.raw.push_back({env.event_id, env.child_id, line});
  }
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The consumers the ingest is compared with.
struct Baselines {
  double kcat_consume = 0, bare_consume = 0, bare_consume_all = 0;
};

// 2. Baseline consumer: kcat reads the same topic from the beginning to its end. Returns the
// exit code.
int MeasureConsumers(const std::string& kcat, const std::string& bootstrap, const Feed& f,
                     int repeat, Baselines& b) {
  auto t = Clock::now();
  if (RunCommand({kcat, "-C", "-b", bootstrap, "-t", "careledger.socialcare.v1", "-o", "beginning",
                  "-e", "-q", "-f", "%o\n"}) != 0) {
    return std::cerr << "kcat -C failed\n", 1;
  }
  b.kcat_consume = Seconds(t);
  std::vector<double> bare_one, bare_all;
  const std::vector<std::string> all_topics(std::begin(kSourceTopics), std::end(kSourceTopics));
  for (int r = 0; r < repeat; ++r) {
    bare_one.push_back(BareConsume(bootstrap, {std::string(kTopicSocialCare)}, 6, f.social_care));
    bare_all.push_back(BareConsume(bootstrap, all_topics, 6, f.events));
  }
  b.bare_consume = Median(bare_one);
  b.bare_consume_all = Median(bare_all);
  return 0;
}

// 3. careledger ingest of the same messages, into a new store each time (a new group too,
// so that no run waits out the last one's session). Returns the exit code.
int MeasureIngest(const Settings& kafka, const std::filesystem::path& dir, const Options& o,
                  const Feed& f, Result<IngestStats>& stats, double& seconds) {
  std::vector<double> ingest_runs;
  for (int r = 0; r < o.repeat; ++r) {
    auto store = EventStore::Open({.path = dir / ("store" + std::to_string(r))});
    if (!store.ok()) return std::cerr << store.status().ToString(), 1;
    IngestOptions options;
    options.kafka = kafka;
    options.group = "bench-" + std::to_string(r);
    options.until_end = true;
    options.max_batch = o.max_batch;
    std::atomic<bool> stop{false};
    stats = RunIngest(**store, options, stop);
    if (!stats.ok()) return std::cerr << stats.status().ToString(), 1;
    if (stats->appended != f.summary.events()) {
      return std::cerr << "ingest stored " << stats->appended << " of " << f.summary.events()
                       << "\n",
             1;
    }
    ingest_runs.push_back(stats->seconds_assigned);
  }
  seconds = Median(ingest_runs);
  return 0;
}

// 3b. The store's ceiling: the same events written straight into RocksDB as the three
// entries the store cannot do without (log record, event_id key, per-child index entry), in
// batches of the same size with fsync, and nothing else: no Kafka, no validation, no dedup
// look-ups, no projections. Returns the exit code.
int MeasureRawStore(const std::filesystem::path& dir, const Feed& f, const Options& o,
                    double& seconds) {
  std::vector<double> raw_runs;
  for (int r = 0; r < o.repeat; ++r) {
    auto s = RawStoreWrite(dir / ("raw" + std::to_string(r)), f.raw, o.max_batch);
    if (!s.ok()) return std::cerr << s.status().ToString(), 1;
    raw_runs.push_back(*s);
  }
  seconds = Median(raw_runs);
  return 0;
}

void PrintIngestDetail(const IngestStats& stats, const Options& o) {
  std::printf("consumer stages: median of %d runs\n", o.repeat);
  std::vector<uint32_t> w = stats.write_micros;
  std::sort(w.begin(), w.end());
  std::printf(
      "ingest: %llu batches of up to %zu; batch write (fsync) p50 %.1f ms, p99 %.1f ms; group "
      "join %.2f s (excluded)\n",
      static_cast<unsigned long long>(stats.batches), o.max_batch,
      w.empty() ? 0.0 : w[w.size() / 2] / 1000.0,
      w.empty() ? 0.0 : w[std::min(w.size() - 1, w.size() * 99 / 100)] / 1000.0,
      stats.seconds - stats.seconds_assigned);
}

int Main(int argc, char** argv) {
  // CARELEDGER_LOG_LEVEL=debug shows each batch's build and write times.
  if (const char* level = std::getenv("CARELEDGER_LOG_LEVEL")) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  const Options o = ParseOptions(argc, argv);
  const std::string kcat = "kcat";
  auto dir =
      std::filesystem::temp_directory_path() / ("careledger-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Feed f{.path = dir / "feed.jsonl", .keyed = dir / "keyed.tsv"};
  if (int rc = WriteFeed(o.gen, f); rc != 0) return rc;
  std::cerr << "feed: " << o.gen.children << " children, " << f.events << " events, "
            << std::filesystem::file_size(f.path) / 1024 << " KiB\n";

  auto cluster = MockCluster::Start(6);
  if (!cluster.ok()) return std::cerr << cluster.status().ToString(), 1;
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  Settings kafka = {{"bootstrap.servers", bootstrap}, {"session.timeout.ms", "6000"}};
  std::vector<Row> rows;

  // 1. careledger publish, with validation and an idempotent producer.
  std::ostringstream diagnostics;
  auto published = PublishJsonl({f.path}, kafka, diagnostics);
  if (!published.ok() || !published->all_good()) {
    return std::cerr << "publish failed: " << diagnostics.str(), 1;
  }
  Baselines b;
  if (int rc = MeasureConsumers(kcat, bootstrap, f, o.repeat, b); rc != 0) return rc;
  Result<IngestStats> stats = Status::Fatal("no run");
  double ingest_seconds = 0, raw_seconds = 0;
  if (int rc = MeasureIngest(kafka, dir, o, f, stats, ingest_seconds); rc != 0) return rc;
  if (int rc = MeasureRawStore(dir, f, o, raw_seconds); rc != 0) return rc;

  // 4. Baseline producer, last so that it cannot disturb the consumers: kcat -P of the same
  // lines into an otherwise unused topic.
  auto t = Clock::now();
  if (RunCommand({kcat, "-P", "-b", bootstrap, "-t", "careledger.yjs.v1", "-K", "\t", "-X",
                  "partitioner=murmur2_random", "-l", f.keyed}) != 0) {
    return std::cerr << "kcat -P failed\n", 1;
  }
  double kcat_produce = Seconds(t);

  const uint64_t events = f.events, social_care = f.social_care;
  rows.push_back({"publish (validate, idempotent)", published->published, published->seconds,
                  "kcat -P", kcat_produce, events});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds,
                  "bare consumer, same 3 topics", b.bare_consume_all, events});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds,
                  "bare consumer, 1 topic", b.bare_consume, social_care});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds, "kcat -C",
                  b.kcat_consume, social_care});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds,
                  "RocksDB: 3 puts/event, fsync", raw_seconds, events});
  Print(rows);
  PrintIngestDetail(*stats, o);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace careledger

int main(int argc, char** argv) {
  return careledger::Main(argc, argv);
}
