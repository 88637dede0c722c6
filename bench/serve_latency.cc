// Freshness of the HTTP API: how long from publishing an event to the figure in the API
// changing, at a steady publish rate.
//
//   careledger_bench_serve [--rates 1000,10000] [--seconds 5] [--mode run|serve]
//                          [--broker-nice N (default -10; 0: the broker competes for the cores)]
//
// Per rate: `careledger broker`, then either `careledger run` (ingest and serve in one process)
// or `careledger ingest` + `careledger serve` (the store followed as a RocksDB secondary), all
// as the real binary. Each published event is a new child's care.period_started, so the CLA
// count at 2025-01-01 rises by one per event. A poller asks
// /api/v1/metrics/cla?at=2025-01-01 (exact, with the token) in a loop; when it sees the count
// reach n, the events 1..n that were not yet seen count as visible at that response. Events
// reach the count out of publish order across partitions, so this attributes by count, not by
// identity; with 3 partitions written in one batch that is the same batch boundary.
#include <fcntl.h>
#include <httplib.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "careledger/kafka.h"
#include "processes.h"

namespace {

using bench::FirstLine;
using bench::Process;
using bench::Quantile;
using bench::Spawn;
using Clock = std::chrono::steady_clock;
const std::string kToken = "bench-token-0123456789abcdef0123456789abcdef";

std::string Event(const std::string& id, const std::string& child) {
  return R"({"event_id":")" + id +
         R"(","type":"care.period_started","schema_version":1,"source":"bench","child_id":")" +
         child +
         R"(","occurred_at":"2024-06-01","recorded_at":"2024-06-01T12:00:00Z","data":{"legal_status":"C2","placement":"U1","home_id":"H1"}})";
}

// The exact CLA count, or -1.
int64_t Cla(httplib::Client& client) {
  auto r = client.Get("/api/v1/metrics/cla?at=2025-01-01", {{"Authorization", "Bearer " + kToken}});
  if (!r || r->status != 200) return -1;
  auto at = r->body.find("\"value\":");
  if (at == std::string::npos) return 0;  // no rows: nobody looked after
  return std::atoll(r->body.c_str() + at + 8);
}

// The process's peak resident set (VmHWM), in MiB; read while it still runs. -1 if unknown.
double PeakRssMiB(const Process* p) {
  if (!p || p->pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(p->pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;  // kB
  }
  return -1;
}

struct Poll {
  double at_ms = 0, took_ms = 0;
  int64_t seen = 0;
  size_t published = 0;
};

// What watching the API saw: a latency per event seen, the polls made, and (when tracing) each
// poll.
struct Measured {
  std::vector<double> latency_ms = {};
  uint64_t polls = 0;
  std::vector<Poll> traced = {};
};

// Publishes `total` events at `rate` a second while a second thread polls the API at `url` and
// times each event from its send to the first poll that counts it.
Measured PublishAndWatch(careledger::Producer& producer, const std::string& url, int rate,
                         size_t total, bool tracing) {
  std::vector<Clock::time_point> sent(total);
  Measured m;
  auto& latency_ms = m.latency_ms;
  latency_ms.reserve(total);
  std::atomic<size_t> published{0};
  std::atomic<bool> done{false};
  uint64_t& polls = m.polls;
  std::vector<Poll>& traced = m.traced;
  const auto first_poll = Clock::now();
  std::thread poller([&] {
    httplib::Client c(url);
    size_t seen = 0;
    auto deadline = Clock::time_point::max();
    while (seen < total) {
      auto asked = Clock::now();
      int64_t n = Cla(c) - 1;  // less the warm-up child
      auto now = Clock::now();
      if (tracing) {
        traced.push_back({std::chrono::duration<double, std::milli>(asked - first_poll).count(),
                          std::chrono::duration<double, std::milli>(now - asked).count(), n,
                          published.load()});
      }
      ++polls;
      size_t upto = std::min<size_t>(n < 0 ? 0 : size_t(n), published.load());
      for (; seen < upto; ++seen) {
        latency_ms.push_back(std::chrono::duration<double, std::milli>(now - sent[seen]).count());
      }
      if (done.load() && deadline == Clock::time_point::max()) {
        deadline = now + std::chrono::seconds(30);
      }
      if (now > deadline) break;
    }
  });
  const auto start = Clock::now();
  for (size_t i = 0; i < total;) {
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    size_t due = std::min(total, size_t(elapsed * rate));
    for (; i < due; ++i) {
      std::string child = "P" + std::to_string(i);
      sent[i] = Clock::now();
      published.store(i + 1);
      (void)producer.Produce("careledger.socialcare.v1", child,
                             Event("e" + std::to_string(i), child), {}, i);
    }
    (void)producer.Flush(std::chrono::milliseconds(0));  // serve delivery reports
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  done.store(true);
  (void)producer.Flush(std::chrono::seconds(10));
  poller.join();
  return m;
}

void WritePolls(const std::string& path, const std::vector<Poll>& traced) {
  std::ofstream out(path);
  out << "at_ms\ttook_ms\tseen\tpublished\n";
  for (const auto& p : traced) {
    out << p.at_ms << '\t' << p.took_ms << '\t' << p.seen << '\t' << p.published << '\n';
  }
}

// Whether the API at `url` counts the warm-up child within a minute.
bool WarmUpShows(const std::string& url) {
  httplib::Client client(url);
  for (auto deadline = Clock::now() + std::chrono::seconds(60);;) {
    if (Cla(client) == 1) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// `run` ingests and serves in one process; otherwise ingest and serve each have their own.
void SpawnApi(const std::string& bin, const std::string& mode, const std::string& bootstrap,
              const std::string& dir, const std::string& log_level,
              std::unique_ptr<Process>* ingest, std::unique_ptr<Process>* server) {
  std::vector<std::string> common = {"--data",        dir + "/store", "--config",
                                     dir + "/c.toml", "--log-level",  log_level};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), common.begin(), common.end());
    return a;
  };
  if (mode == "run") {
    *server =
        Spawn(with({bin, "run", "--brokers", bootstrap, "--listen", "127.0.0.1:0"}), dir, "run");
  } else {
    *ingest = Spawn(with({bin, "ingest", "--brokers", bootstrap}), dir, "ingest");
    *server = Spawn(with({bin, "serve", "--listen", "127.0.0.1:0"}), dir, "serve");
  }
}

// `trace`: a directory to keep the run in, with debug logs and every poll (polls.tsv: ms since
// the first poll, how long it took, the count it saw, events published by then).
int RunOne(int rate, int seconds, const std::string& mode, const std::string& extra,
           int broker_nice, const std::string& trace) {
  namespace fs = std::filesystem;
  std::string dir =
      fs::temp_directory_path() / ("careledger-bench-serve-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream c(dir + "/c.toml");
    c << extra << "\n[serve]\ntoken = \"" << kToken << "\"\n";
  }
  fs::permissions(dir + "/c.toml", fs::perms::owner_read | fs::perms::owner_write);
  const std::string bin = CARELEDGER_BIN;
  auto broker = Spawn({bin, "broker", "--partitions", "3"}, dir, "broker");
  // The broker stands in for Kafka, which runs on hosts of its own: on these two cores, at the
  // same priority as everything else, its single thread was descheduled for ~40 ms at a time,
  // and every event published then waited (ProduceResponse round trips of 41-42 ms in the
  // producer's protocol log, while ingest's fetches came back empty). `--broker-nice 0`
  // measures that co-located case.
  if (broker_nice != 0 && setpriority(PRIO_PROCESS, id_t(broker->pid), broker_nice) != 0) {
    std::cerr << "broker left at nice 0 (setpriority: " << std::strerror(errno)
              << "; root or CAP_SYS_NICE raises it)\n";
    broker_nice = 0;
  }
  std::string bootstrap = FirstLine(*broker);
  if (bootstrap.empty()) return std::cerr << "broker did not start\n", 1;

  careledger::Settings settings{{"bootstrap.servers", bootstrap}};
  auto producer = careledger::Producer::Open(settings, [](uint64_t, const careledger::Status&) {});
  if (!producer.ok()) return std::cerr << producer.status().message() << '\n', 1;
  // One event first, so that the topics exist when ingest subscribes.
  (void)(*producer)->Produce("careledger.socialcare.v1", "W", Event("w", "W"), {}, 0);
  (void)(*producer)->Flush(std::chrono::seconds(10));

  std::unique_ptr<Process> ingest, server;
  SpawnApi(bin, mode, bootstrap, dir, trace.empty() ? "warn" : "debug", &ingest, &server);
  std::string url = FirstLine(*server);
  if (url.empty()) return std::cerr << mode << " did not start\n", 1;
  if (!WarmUpShows(url)) return std::cerr << "the warm-up event never showed\n", 1;

  const size_t total = size_t(rate) * size_t(seconds);
  auto start = Clock::now();
  Measured m = PublishAndWatch(**producer, url, rate, total, !trace.empty());
  auto& latency_ms = m.latency_ms;
  const uint64_t polls = m.polls;
  double achieved = double(total) / std::chrono::duration<double>(Clock::now() - start).count();
  // `run` ingests and serves in one process; otherwise ingest and serve each have their own.
  double serve_rss = PeakRssMiB(server.get()), ingest_rss = PeakRssMiB(ingest.get());
  std::printf(
      "%-6s %7d/s  %6zu events  seen %6zu  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  "
      "(%llu API polls, broker at nice %d)  peak RSS: %s %.1f MiB",
      mode.c_str(), rate, total, latency_ms.size(), Quantile(latency_ms, 0.5),
      Quantile(latency_ms, 0.99), Quantile(latency_ms, 1.0), static_cast<unsigned long long>(polls),
      broker_nice, mode == "run" ? "run" : "serve", serve_rss);
  if (ingest) std::printf(", ingest %.1f MiB", ingest_rss);
  std::printf("\n");
  (void)achieved;
  producer->reset();
  server.reset();
  ingest.reset();
  broker.reset();
  if (!trace.empty()) {
    WritePolls(dir + "/polls.tsv", m.traced);
    std::string kept = trace + "/" + mode + "-" + std::to_string(rate) + "-" +
                       std::to_string(getpid()) + "-" + std::to_string(polls);
    fs::create_directories(trace);
    fs::rename(dir, kept);
    std::printf("trace: %s (polls.tsv, broker/%s logs)\n", kept.c_str(),
                mode == "run" ? "run" : "ingest/serve");
    return latency_ms.size() == total ? 0 : 1;
  }
  fs::remove_all(dir);
  return latency_ms.size() == total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> rates = {1000, 10000};
  int seconds = 5;
  std::vector<std::string> modes = {"run", "serve"};
  std::string extra;  // settings-file lines, to try a setting without a rebuild
  std::string trace;
  int broker_nice = -10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--seconds") {
      seconds = std::atoi(value.c_str());
    } else if (flag == "--rates") {
      rates.clear();
      std::stringstream ss(value);
      for (std::string r; std::getline(ss, r, ',');) rates.push_back(std::atoi(r.c_str()));
    } else if (flag == "--mode") {
      modes = {value};
    } else if (flag == "--settings") {
      extra += value + "\n";
    } else if (flag == "--trace") {
      trace = value;
    } else if (flag == "--broker-nice") {
      broker_nice = std::atoi(value.c_str());
    } else {
      std::cerr << "usage: careledger_bench_serve [--rates R,...] [--seconds S] [--mode run|serve] "
                   "[--settings 'TOML line']... [--trace DIR] [--broker-nice N]\n";
      return 2;
    }
  }
  int rc = 0;
  for (const auto& mode : modes) {
    for (int rate : rates) rc |= RunOne(rate, seconds, mode, extra, broker_nice, trace);
  }
  return rc;
}
