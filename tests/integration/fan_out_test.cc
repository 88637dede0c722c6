// One area-wide answer from any instance: three `run` instances of one consumer group share
// the twelve partitions of a generated feed, and every metric asked of any of them over HTTP is
// exactly the figure of one instance of another group that ingested everything (medians,
// percentages, rates and relative rate indexes included, which no sum of parts gives). One is
// killed with -9: while its partitions move, a figure is whole and right or says it is
// partial, never a smaller figure passed off as the area's; once the survivors have read the
// moved partitions, every figure is the area's again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "careledger/projections.h"
#include "serve_test_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 12;

// A figure as an instance served it, with its coverage headers.
struct Answer {
  int status = 0;
  nlohmann::json body;
  std::string partitions, partial, missing, peers;
};

class RunInstance {
 public:
  RunInstance(const std::string& data, const std::string& config, const std::string& bootstrap)
      : process_(std::make_unique<test::Background>(std::vector<std::string>{
            CARELEDGER_BIN, "run", "--brokers", bootstrap, "--data", data, "--config", config,
            "--listen", "127.0.0.1:0", "--kafka", "session.timeout.ms=6000"})),
        url_(process_->FirstLine()),
        client_(ClientFor(url_)) {}
  Answer Ask(const std::string& path) const {
    Answer a;
    auto r = client_->Get(path, Bearer(kToken));
    if (!r) return a;
    a.status = r->status;
    a.body = nlohmann::json::parse(r->body, nullptr, false);
    a.partitions = r->get_header_value("X-Careledger-Partitions");
    a.partial = r->get_header_value("X-Careledger-Partial");
    a.missing = r->get_header_value("X-Careledger-Missing-Partitions");
    a.peers = r->get_header_value("X-Careledger-Peers");
    return a;
  }
  std::string Text(const std::string& path) const {
    auto r = client_->Get(path, Bearer(kToken));
    return r && r->status == 200 ? r->body : std::string();
  }
  test::Background& process() { return *process_; }
  const std::string& url() const { return url_; }

 private:
  std::unique_ptr<test::Background> process_;
  std::string url_;
  std::unique_ptr<httplib::Client> client_;
};

// What is compared: the table without its notes (a fanned-out figure notes what it covers).
nlohmann::json Figures(nlohmann::json j) {
  if (j.is_object()) j.erase("notes");
  return j;
}

std::string AllPartitions() {
  std::string out;
  for (int p = 0; p < kPartitions; ++p) out += (p ? "," : "") + std::to_string(p);
  return out;
}

TEST(FanOut, EveryInstanceAnswersForTheWholeAreaAndSaysWhenItCannot) {
  test::TempDir dir;
  const std::string feed = dir / "feed.jsonl";
  auto generated = Careledger({"generate", "--children", "20000", "--seed", "29", "--invalid-rate",
                               "0", "--start", "2021-04-01", "--end", "2024-04-01", "--out", feed});
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  test::BrokerProcess broker(kPartitions);
  auto published = Careledger({"publish", "--brokers", broker.bootstrap(), feed});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  // The oracle: one instance of another consumer group that ingested everything.
  const std::string whole = dir / "whole";
  auto ingested = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", whole, "--group",
                              "careledger-whole", "--until-end"});
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;
  test::WriteFile(dir / "c.toml", "[serve]\ntoken = \"" + std::string(kToken) + "\"\n");
  ::chmod((dir / "c.toml").c_str(), 0600);

  std::vector<std::unique_ptr<RunInstance>> group;
  for (const char* name : {"a", "b", "c"}) {
    group.push_back(std::make_unique<RunInstance>(dir / name, dir / "c.toml", broker.bootstrap()));
  }
  auto logs = [&] {
    std::string out;
    for (const auto& i : group) out += i->url() + ":\n" + i->process().Stderr() + "\n";
    return out;
  };
  const std::string cla = "/api/v1/metrics/cla?at=2023-03-31";
  // Settled: each instance answers for all twelve partitions, asking the other two.
  auto whole_from = [&](const RunInstance& i, size_t peers) {
    Answer a = i.Ask(cla);
    return a.status == 200 && a.partial == "false" && a.partitions == AllPartitions() &&
           size_t(std::count(a.peers.begin(), a.peers.end(), ',')) + (a.peers.empty() ? 0 : 1) ==
               peers;
  };
  auto settle = [&](size_t peers) {
    for (auto deadline = Clock::now() + std::chrono::seconds(120); Clock::now() < deadline;
         std::this_thread::sleep_for(std::chrono::milliseconds(300))) {
      bool all = true;
      for (const auto& i : group) all = all && (!i || whole_from(*i, peers));
      if (all) return true;
    }
    return false;
  };
  ASSERT_TRUE(settle(2)) << logs();

  // Every metric, by default and --by none, live and as known at now (a store that took
  // partitions over knows their events from when it read them), from each instance.
  auto compare_all = [&](const std::string& when) {
    const std::string known_at = FormatInstant(
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
    int compared = 0, nonzero = 0;
    for (auto metric : MetricNames()) {
      auto time = MetricTimeOf(metric);
      ASSERT_TRUE(time.ok());
      const bool period = *time == MetricTime::kPeriod;
      for (const std::string variant : {"", "none", "known"}) {
        std::vector<std::string> args{"report", std::string(metric), "--format", "json", "--data",
                                      whole};
        std::string path = "/api/v1/metrics/" + std::string(metric) +
                           (period ? "?period=2022-04-01..2023-04-01" : "?at=2023-03-31");
        args.insert(args.end(), {period ? "--period" : "--at",
                                 period ? "2022-04-01..2023-04-01" : "2023-03-31"});
        if (variant == "none") {
          args.insert(args.end(), {"--by", "none"});
          path += "&by=none";
        } else if (variant == "known") {
          args.insert(args.end(), {"--as-known-at", known_at});
          path += "&as_known_at=" + known_at;
        }
        auto one = Careledger(args);
        if (one.exit_code == 2) continue;  // a metric that cannot be asked that way (by none)
        ASSERT_EQ(one.exit_code, 0) << metric << " " << variant << ": " << one.err;
        const auto expected = Figures(nlohmann::json::parse(one.out, nullptr, false));
        ASSERT_TRUE(expected.is_object()) << one.out;
        for (const auto& i : group) {
          if (!i) continue;
          Answer a = i->Ask(path);
          ASSERT_EQ(a.status, 200) << when << " " << path << ": " << a.body.dump();
          EXPECT_EQ(a.partial, "false") << when << " " << path;
          EXPECT_EQ(Figures(a.body), expected) << when << " " << i->url() << path;
        }
        ++compared;
        if (expected.dump().find_first_of("123456789") != std::string::npos) ++nonzero;
      }
    }
    EXPECT_GE(compared, 2 * int(MetricNames().size()) + 8) << when;
    EXPECT_GE(nonzero, int(MetricNames().size())) << when;
  };
  compare_all("three instances");

  // The gauges too are the area's on every instance, from every store.
  auto today_cla =
      Careledger({"report", "cla", "--by", "none", "--format", "json", "--data", whole});
  ASSERT_EQ(today_cla.exit_code, 0) << today_cla.err;
  const auto cla_now = nlohmann::json::parse(today_cla.out)["rows"][0]["value"].get<int64_t>();
  EXPECT_GT(cla_now, 0);
  for (const auto& i : group) {
    const std::string text = i->Text("/metrics");
    EXPECT_THAT(text, HasSubstr("\ncareledger_cla_children " + std::to_string(cla_now) + "\n"));
    EXPECT_THAT(text, HasSubstr("\ncareledger_figures_missing_partitions 0\n"));
    EXPECT_THAT(text, HasSubstr("\ncareledger_figures_peers 2\n"));
  }

  // The events behind one cell, asked of one instance: the oracle's.
  auto lineage = group[0]->Ask("/api/v1/lineage/outcomes?period=2022-04-01..2023-04-01&by=none");
  auto whole_lineage = Careledger({"lineage", "outcomes", "--period", "2022-04-01..2023-04-01",
                                   "--by", "none", "--data", whole});
  ASSERT_EQ(whole_lineage.exit_code, 0) << whole_lineage.err;
  ASSERT_EQ(lineage.status, 200);
  ASSERT_GT(lineage.body["events"].size(), 10u);
  size_t found = 0;
  for (const auto& e : lineage.body["events"]) {
    found += whole_lineage.out.find(e["event_id"].get<std::string>()) != std::string::npos;
  }
  EXPECT_EQ(found, lineage.body["events"].size());
  EXPECT_EQ(test::Lines(whole_lineage.out).size(), lineage.body["events"].size() + 1);  // + header

  // c dies without a word. Until a and b have taken its partitions over and read them, a
  // figure is either partial (naming what it lacks) or whole and right, never short.
  // So too a median (missing hours) and percentages (outcomes).
  std::map<std::string, nlohmann::json> expected_now;
  for (const std::string& path :
       {cla, std::string("/api/v1/metrics/missing?period=2022-04-01..2023-04-01"),
        std::string("/api/v1/metrics/outcomes?period=2022-04-01..2023-04-01")}) {
    Answer a = group[0]->Ask(path);
    ASSERT_EQ(a.partial, "false") << path;
    expected_now[path] = Figures(a.body);
  }
  ASSERT_EQ(group[2]->process().Stop(SIGKILL), 128 + SIGKILL);
  group[2].reset();
  int partial = 0, whole_and_right = 0;
  for (auto deadline = Clock::now() + std::chrono::seconds(120);
       Clock::now() < deadline && !(partial > 0 && settle(1));) {
    for (size_t k = 0; k < 2; ++k) {
      for (const auto& [path, expected] : expected_now) {
        Answer a = group[k]->Ask(path);
        if (a.status != 200) continue;
        if (a.partial == "true") {
          ++partial;
          EXPECT_EQ(a.body["partial"], true);
          EXPECT_FALSE(a.missing.empty());
        } else {
          ++whole_and_right;
          EXPECT_EQ(a.partitions, AllPartitions());
          EXPECT_EQ(Figures(a.body), expected) << "whole but wrong, during the move: " << path;
        }
      }
    }
  }
  EXPECT_GT(partial, 0) << "a figure during the move says it is partial";
  ASSERT_TRUE(settle(1)) << logs();
  compare_all("two instances after c was killed");
}

}  // namespace
}  // namespace careledger
