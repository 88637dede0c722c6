// What answering for the whole area costs: the latency of a figure asked of one of three `run`
// instances of a consumer group, which reads its own store and asks the other two for theirs
// over HTTP, against the same figure from one `run` instance of another group holding every
// partition itself (the baseline, measured in the same run).
//
//   careledger_bench_fanout [--children 20000] [--years 3] [--seed 42] [--requests 1000]
//
// `careledger generate` writes the feed, `careledger publish` puts it on a `careledger broker`
// of 12 partitions, and four `run` processes ingest it: "single" (group careledger-single) and
// a, b, c (group careledger-ingest). Once each answers for every partition (a: asking b and
// c), each query is asked `--requests` times of single, then of a, alternating by query, one at
// a time on a kept-open connection, with the token; the bodies' figures must be equal. Prints
// p50, p99 and max in ms for each, and the ratio of a's to single's.
#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "processes.h"

namespace {

using bench::Clock;
using bench::FirstLine;
using bench::Process;
using bench::Quantile;
using bench::Spawn;

const std::string kToken = "bench-token-0123456789abcdef0123456789abcdef";

// The figures of a response: the body up to its notes (a fanned-out figure notes the stores it
// read).
std::string Figures(const std::string& body) {
  auto rows = body.find("\"rows\"");
  auto notes = body.find("\"notes\"");
  if (rows == std::string::npos) return body;
  // Up to the comma before the notes, or the object's closing brace.
  const size_t end = notes == std::string::npos ? body.rfind('}') : notes - 1;
  return body.substr(rows, end - rows);
}

struct Asked {
  int status = 0;
  std::string body, partial, peers;
};

Asked Ask(httplib::Client& client, const std::string& path) {
  Asked a;
  auto r = client.Get(path, {{"Authorization", "Bearer " + kToken}});
  if (!r) return a;
  a.status = r->status;
  a.body = r->body;
  a.partial = r->get_header_value("X-Careledger-Partial");
  a.peers = r->get_header_value("X-Careledger-Peers");
  return a;
}

int Run(int children, int years, int seed, int requests) {
  namespace fs = std::filesystem;
  const std::string dir =
      fs::temp_directory_path() / ("careledger-bench-fanout-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream c(dir + "/c.toml");
    c << "[serve]\ntoken = \"" << kToken << "\"\n";
  }
  fs::permissions(dir + "/c.toml", fs::perms::owner_read | fs::perms::owner_write);
  const std::string bin = CARELEDGER_BIN, feed = dir + "/feed.jsonl";
  const int end_year = 2021 + years;
  if (std::system((bin + " generate --children " + std::to_string(children) + " --seed " +
                   std::to_string(seed) + " --invalid-rate 0 --start 2021-04-01 --end " +
                   std::to_string(end_year) + "-04-01 --out " + feed + " > /dev/null")
                      .c_str()) != 0) {
    return std::cerr << "generate failed\n", 1;
  }
  auto broker = Spawn({bin, "broker", "--partitions", "12"}, dir, "broker");
  const std::string bootstrap = FirstLine(*broker);
  if (bootstrap.empty()) return std::cerr << "broker did not start\n", 1;
  if (std::system(
          (bin + " publish --brokers " + bootstrap + " " + feed + " > /dev/null").c_str()) != 0) {
    return std::cerr << "publish failed\n", 1;
  }
  auto run = [&](const std::string& name, const std::string& group) {
    return Spawn({bin, "run", "--brokers", bootstrap, "--group", group, "--data", dir + "/" + name,
                  "--config", dir + "/c.toml", "--listen", "127.0.0.1:0", "--log-level", "warn",
                  "--kafka", "session.timeout.ms=6000"},
                 dir, name);
  };
  auto single = run("single", "careledger-single");
  std::vector<std::unique_ptr<Process>> group;
  for (const char* name : {"a", "b", "c"}) group.push_back(run(name, "careledger-ingest"));
  const std::string single_url = FirstLine(*single), a_url = FirstLine(*group[0]);
  if (single_url.empty() || a_url.empty()) return std::cerr << "run did not start\n", 1;
  httplib::Client to_single(single_url), to_a(a_url);
  for (auto* c : {&to_single, &to_a}) {
    c->set_keep_alive(true);
    c->set_read_timeout(std::chrono::seconds(30));
  }

  const std::vector<std::string> queries = {
      "/api/v1/metrics/cla?at=2023-03-31",
      "/api/v1/metrics/outcomes?period=2022-04-01..2023-04-01",
      "/api/v1/metrics/missing?period=2022-04-01..2023-04-01",
  };
  // Settled: both whole, a asking two peers, and the same figures from both.
  std::string last;
  auto settled = [&] {
    for (const auto& q : queries) {
      Asked s = Ask(to_single, q), a = Ask(to_a, q);
      last = q + ": single " + std::to_string(s.status) + " partial " + s.partial + ", a " +
             std::to_string(a.status) + " partial " + a.partial + " peers " + a.peers + "\n" +
             s.body + "\n" + a.body;
      if (s.status != 200 || a.status != 200 || s.partial != "false" || a.partial != "false" ||
          a.peers.find(',') == std::string::npos || Figures(s.body) != Figures(a.body)) {
        return false;
      }
    }
    return true;
  };
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!settled()) {
    if (Clock::now() > deadline) {
      return std::cerr << "the instances never settled; last:\n" << last << "\n", 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  std::printf(
      "fan-out: %d children over %d years, 12 partitions, %d requests per query and "
      "instance, one at a time\n",
      children, years, requests);
  std::printf("%-58s %9s %9s %9s %9s %9s %9s %7s\n", "query", "single50", "single99", "singlemx",
              "fan50", "fan99", "fanmax", "p50x");
  int failures = 0;
  for (const auto& q : queries) {
    std::vector<double> single_ms, fan_ms;
    for (int i = 0; i < requests; ++i) {
      for (auto [client, out] : {std::pair{&to_single, &single_ms}, std::pair{&to_a, &fan_ms}}) {
        auto t0 = Clock::now();
        Asked a = Ask(*client, q);
        out->push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        failures += a.status != 200 || a.partial != "false";
      }
    }
    std::printf("%-58s %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %7.2f\n", q.c_str(),
                Quantile(single_ms, 0.5), Quantile(single_ms, 0.99), Quantile(single_ms, 1.0),
                Quantile(fan_ms, 0.5), Quantile(fan_ms, 0.99), Quantile(fan_ms, 1.0),
                Quantile(fan_ms, 0.5) / Quantile(single_ms, 0.5));
  }
  if (failures) std::printf("%d responses were not whole or not 200\n", failures);
  fs::remove_all(dir);
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int children = 20000, years = 3, seed = 42, requests = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (flag == "--children") {
      children = v;
    } else if (flag == "--years") {
      years = v;
    } else if (flag == "--seed") {
      seed = v;
    } else if (flag == "--requests") {
      requests = v;
    } else {
      std::cerr << "usage: careledger_bench_fanout [--children N] [--years Y] [--seed S] "
                   "[--requests N]\n";
      return 2;
    }
  }
  return Run(children, years, seed, requests);
}
