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

int Main(int argc, char** argv) {
  // CARELEDGER_LOG_LEVEL=debug shows each batch's build and write times.
  if (const char* level = std::getenv("CARELEDGER_LOG_LEVEL")) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  GeneratorOptions gen;
  gen.children = 280000;  // an area of 280,000 children: about 83,000 events
  gen.invalid_rate = 0;   // publish would refuse the malformed lines; the bench measures the rest
  gen.seed = 7;
  size_t max_batch = 5000;
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--children") gen.children = std::atoi(argv[i + 1]);
    if (flag == "--seed") gen.seed = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--max-batch") max_batch = size_t(std::atoll(argv[i + 1]));
    if (flag == "--repeat") repeat = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--years") {
      // The years up to today, as the other benches generate them (bench/run-all.sh).
      Date today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
      gen.end = today;
      gen.start =
          Date{std::chrono::year_month_day{today} - std::chrono::years{std::atoi(argv[i + 1])}};
    }
  }
  const std::string kcat = "kcat";
  auto dir =
      std::filesystem::temp_directory_path() / ("careledger-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string feed = dir / "feed.jsonl", keyed = dir / "keyed.tsv";
  FeedSummary summary;
  {
    std::ofstream out(feed);
    if (Status s = GenerateFeed(gen, out, &summary); !s.ok()) {
      return std::cerr << s.ToString(), 1;
    }
  }
  // Lines (messages) in all, and on the social care topic alone: the feed spans the three
  // topics. Re-sent duplicates are messages too; ingest stores each event once.
  uint64_t events = 0, social_care = 0;
  std::vector<RawEvent> raw;
  {
    std::ifstream in(feed);
    std::ofstream out(keyed);
    EnvelopeParser parser;
    Envelope env;
    for (std::string line; std::getline(in, line); ++events) {
      (void)parser.Parse(line, env);
      social_care += TopicFor(env.type) == kTopicSocialCare;
      out << env.child_id << '\t' << line << '\n';
      raw.push_back({env.event_id, env.child_id, line});
    }
  }
  std::cerr << "feed: " << gen.children << " children, " << events << " events, "
            << std::filesystem::file_size(feed) / 1024 << " KiB\n";

  auto cluster = MockCluster::Start(6);
  if (!cluster.ok()) return std::cerr << cluster.status().ToString(), 1;
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  Settings kafka = {{"bootstrap.servers", bootstrap}, {"session.timeout.ms", "6000"}};
  std::vector<Row> rows;

  // 1. careledger publish, with validation and an idempotent producer.
  std::ostringstream diagnostics;
  auto published = PublishJsonl({feed}, kafka, diagnostics);
  if (!published.ok() || !published->all_good()) {
    return std::cerr << "publish failed: " << diagnostics.str(), 1;
  }

  // 2. Baseline consumer: kcat reads the same topic from the beginning to its end.
  auto t = Clock::now();
  if (RunCommand({kcat, "-C", "-b", bootstrap, "-t", "careledger.socialcare.v1", "-o", "beginning",
                  "-e", "-q", "-f", "%o\n"}) != 0) {
    return std::cerr << "kcat -C failed\n", 1;
  }
  double kcat_consume = Seconds(t);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> bare_one, bare_all;
  const std::vector<std::string> all_topics(std::begin(kSourceTopics), std::end(kSourceTopics));
  for (int r = 0; r < repeat; ++r) {
    bare_one.push_back(BareConsume(bootstrap, {std::string(kTopicSocialCare)}, 6, social_care));
    bare_all.push_back(BareConsume(bootstrap, all_topics, 6, events));
  }
  double bare_consume = median(bare_one), bare_consume_all = median(bare_all);

  // 3. careledger ingest of the same messages, into a new store each time (a new group too,
  // so that no run waits out the last one's session).
  std::vector<double> ingest_runs;
  Result<IngestStats> stats = Status::Fatal("no run");
  for (int r = 0; r < repeat; ++r) {
    auto store = EventStore::Open({.path = dir / ("store" + std::to_string(r))});
    if (!store.ok()) return std::cerr << store.status().ToString(), 1;
    IngestOptions options;
    options.kafka = kafka;
    options.group = "bench-" + std::to_string(r);
    options.until_end = true;
    options.max_batch = max_batch;
    std::atomic<bool> stop{false};
    stats = RunIngest(**store, options, stop);
    if (!stats.ok()) return std::cerr << stats.status().ToString(), 1;
    if (stats->appended != summary.events()) {
      return std::cerr << "ingest stored " << stats->appended << " of " << summary.events() << "\n",
             1;
    }
    ingest_runs.push_back(stats->seconds_assigned);
  }
  double ingest_seconds = median(ingest_runs);

  // 3b. The store's ceiling: the same events written straight into RocksDB as the three
  // entries the store cannot do without (log record, event_id key, per-child index entry), in
  // batches of the same size with fsync, and nothing else: no Kafka, no validation, no dedup
  // look-ups, no projections.
  std::vector<double> raw_runs;
  for (int r = 0; r < repeat; ++r) {
    auto seconds = RawStoreWrite(dir / ("raw" + std::to_string(r)), raw, max_batch);
    if (!seconds.ok()) return std::cerr << seconds.status().ToString(), 1;
    raw_runs.push_back(*seconds);
  }
  double raw_seconds = median(raw_runs);

  // 4. Baseline producer, last so that it cannot disturb the consumers: kcat -P of the same
  // lines into an otherwise unused topic.
  t = Clock::now();
  if (RunCommand({kcat, "-P", "-b", bootstrap, "-t", "careledger.yjs.v1", "-K", "\t", "-X",
                  "partitioner=murmur2_random", "-l", keyed}) != 0) {
    return std::cerr << "kcat -P failed\n", 1;
  }
  double kcat_produce = Seconds(t);

  rows.push_back({"publish (validate, idempotent)", published->published, published->seconds,
                  "kcat -P", kcat_produce, events});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds,
                  "bare consumer, same 3 topics", bare_consume_all, events});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds,
                  "bare consumer, 1 topic", bare_consume, social_care});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds, "kcat -C",
                  kcat_consume, social_care});
  rows.push_back({"ingest (all on, fsync per batch)", stats->consumed, ingest_seconds,
                  "RocksDB: 3 puts/event, fsync", raw_seconds, events});
  Print(rows);
  std::printf("consumer stages: median of %d runs\n", repeat);
  std::vector<uint32_t> w = stats->write_micros;
  std::sort(w.begin(), w.end());
  std::printf(
      "ingest: %llu batches of up to %zu; batch write (fsync) p50 %.1f ms, p99 %.1f ms; group "
      "join %.2f s (excluded)\n",
      static_cast<unsigned long long>(stats->batches), max_batch,
      w.empty() ? 0.0 : w[w.size() / 2] / 1000.0,
      w.empty() ? 0.0 : w[std::min(w.size() - 1, w.size() * 99 / 100)] / 1000.0,
      stats->seconds - stats->seconds_assigned);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace careledger

int main(int argc, char** argv) {
  return careledger::Main(argc, argv);
}
