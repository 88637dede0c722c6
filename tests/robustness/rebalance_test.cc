// Rebalance: one instance, then a second and a third join mid-stream, one is killed and comes
// back. Each has its own store. After every rebalance an instance holds partition p of all
// three topics or of none; at the end the instances' partitions are disjoint and complete,
// the events they answer for are exactly the published ones with no overlap, and their CLA
// figures sum to the oracle's. And the stores of one group's instances, read as one, give every
// metric exactly as one store holding everything does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "care_fixture.h"
#include "careledger/events.h"
#include "careledger/projections.h"
#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using Clock = std::chrono::steady_clock;

// Every "assigned ..." line an instance logged, as topic → partitions.
std::vector<std::map<std::string, std::set<int>>> Assignments(const std::string& log) {
  std::vector<std::map<std::string, std::set<int>>> out;
  std::regex line(R"(assigned (.*); reading)"), topic(R"((\S+)\[([0-9,]*)\])");
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
    std::map<std::string, std::set<int>> a;
    std::string text = (*it)[1];
    for (std::sregex_iterator t(text.begin(), text.end(), topic); t != end; ++t) {
      std::stringstream parts((*t)[2]);
      for (std::string p; std::getline(parts, p, ',');) a[(*t)[1]].insert(std::stoi(p));
    }
    out.push_back(a);
  }
  return out;
}

class Instance {
 public:
  Instance(const std::string& name, const std::string& store, const std::string& bootstrap)
      : name_(name), store_(store), bootstrap_(bootstrap) {}
  void Start() {
    process_ = std::make_unique<test::Background>(std::vector<std::string>{
        CARELEDGER_BIN, "ingest", "--brokers", bootstrap_, "--data", store_, "--kafka",
        "session.timeout.ms=6000", "--max-batch", "300"});
  }
  int Stop(int signal) {
    log_ += process_->Stderr();
    int code = process_->Stop(signal);
    log_ += process_->Stderr();
    return code;
  }
  std::string Log() const { return log_ + (process_ ? process_->Stderr() : ""); }
  const std::string& name() const { return name_; }
  const std::string& store() const { return store_; }

 private:
  std::string name_, store_, bootstrap_, log_;
  std::unique_ptr<test::Background> process_;
};

TEST(Rebalance, InstancesJoiningAndDyingKeepEveryPartitionWithOneOwner) {
  const int kPartitions = 6;
  auto fixture = test::BuildCareFixture(1200, 61);
  test::TempDir dir;
  std::vector<std::string> chunks;
  const size_t per = fixture.lines.size() / 12 + 1;
  for (size_t c = 0; c * per < fixture.lines.size(); ++c) {
    std::string chunk;
    for (size_t i = c * per; i < std::min(fixture.lines.size(), (c + 1) * per); ++i) {
      chunk += fixture.lines[i] + "\n";
    }
    chunks.push_back(dir / ("chunk" + std::to_string(c)));
    test::WriteFile(chunks.back(), chunk);
  }
  test::BrokerProcess broker(kPartitions);
  std::thread producer([&] {
    for (const auto& chunk : chunks) {
      auto r = Careledger({"publish", "--brokers", broker.bootstrap(), chunk});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    }
  });

  Instance a("a", dir / "a", broker.bootstrap()), b("b", dir / "b", broker.bootstrap()),
      c("c", dir / "c", broker.bootstrap());
  auto at = [start = Clock::now()](int seconds) {
    std::this_thread::sleep_until(start + std::chrono::seconds(seconds));
  };
  a.Start();
  at(4);
  b.Start();
  at(8);
  c.Start();
  at(12);
  EXPECT_EQ(b.Stop(9), 128 + 9);  // killed: the group notices after the session timeout
  at(16);
  b.Start();  // back, with its own store
  producer.join();

  // Wait until the stores hold every published message of the partitions they answer for.
  auto counts = test::Run({test::KcatPath(), "-C", "-b", broker.bootstrap(), "-t",
                           "careledger.socialcare.v1", "-e", "-q", "-f", "%p\n"});
  ASSERT_EQ(counts.exit_code, 0);
  std::map<int32_t, int64_t> end_offset;  // socialcare partition → high watermark
  for (const auto& p : test::Lines(counts.out)) {
    if (!p.empty()) ++end_offset[std::stoi(p)];
  }
  auto caught_up = [&] {
    int64_t stored = 0;
    std::set<int32_t> covered;
    for (const Instance* i : {&a, &b, &c}) {
      auto store = EventStore::Open({.path = i->store(), .read_only = true});
      if (!store.ok()) return false;
      auto assignment = (*store)->Assignment();
      if (!assignment.ok()) return false;
      for (const auto& tp : *assignment) {
        if (tp.topic != kTopicSocialCare) continue;
        if (!covered.insert(tp.partition).second) return false;  // two owners: not settled
        auto next = (*store)->NextOffset(tp);
        if (next.ok() && next->has_value() && **next == end_offset[tp.partition]) {
          stored += **next;
        }
      }
    }
    return stored == int64_t(fixture.lines.size()) && covered.size() == size_t(kPartitions);
  };
  auto deadline = Clock::now() + std::chrono::seconds(90);
  while (!caught_up() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(caught_up()) << "a:\n" << a.Log() << "\nb:\n" << b.Log() << "\nc:\n" << c.Log();
  for (Instance* i : {&a, &b, &c}) EXPECT_EQ(i->Stop(15), 0) << i->name();

  // 1. Co-partitioning after every rebalance: partition p of all three topics, or none.
  for (const Instance* i : {&a, &b, &c}) {
    auto assignments = Assignments(i->Log());
    EXPECT_FALSE(assignments.empty()) << i->name();
    for (const auto& assignment : assignments) {
      std::set<int> socialcare = assignment.count(std::string(kTopicSocialCare))
                                     ? assignment.at(std::string(kTopicSocialCare))
                                     : std::set<int>{};
      for (auto topic : kSourceTopics) {
        std::set<int> parts = assignment.count(std::string(topic))
                                  ? assignment.at(std::string(topic))
                                  : std::set<int>{};
        EXPECT_EQ(parts, socialcare) << i->name() << ": " << topic;
      }
    }
  }
  EXPECT_GE(Assignments(a.Log()).size(), 3u) << "a saw b, c and b's return";

  // 2. The events each instance answers for: disjoint, and together the published set.
  std::multiset<std::string> answered;
  int64_t summed_cla = 0;
  const Date kAt = *ParseDate("2023-03-31");
  for (const Instance* i : {&a, &b, &c}) {
    auto store = EventStore::Open({.path = i->store(), .read_only = true});
    ASSERT_TRUE(store.ok());
    auto assignment = (*store)->Assignment();
    ASSERT_TRUE(assignment.ok());
    std::set<int32_t> owned;
    for (const auto& tp : *assignment) owned.insert(tp.partition);
    EnvelopeParser parser;
    Envelope env;
    ASSERT_TRUE((*store)
                    ->ScanLog([&](const LogRecord& r) {
                      if (owned.count(r.partition) && parser.Parse(r.payload, env).ok()) {
                        answered.insert(env.event_id);
                      }
                      return true;
                    })
                    .ok());
    auto cla = ClaAt(**store, kAt, ClaDimension::kNone);
    ASSERT_TRUE(cla.ok());
    summed_cla += cla->front().children;
    EXPECT_EQ(Careledger({"verify", "--data", i->store()}).exit_code, 0) << i->name();
  }
  EXPECT_EQ(answered,
            std::multiset<std::string>(fixture.event_ids.begin(), fixture.event_ids.end()));
  // 3. Figures add up across instances.
  EXPECT_EQ(summed_cla, fixture.ExpectedCla(kAt));
}

// The messages each partition of each source topic holds: (topic, partition) → high watermark.
std::map<std::pair<std::string, int32_t>, int64_t> EndOffsets(const std::string& bootstrap) {
  std::map<std::pair<std::string, int32_t>, int64_t> end;
  for (auto topic : kSourceTopics) {
    auto read = test::Run({test::KcatPath(), "-C", "-b", bootstrap, "-t", std::string(topic), "-e",
                           "-q", "-f", "%p\n"});
    EXPECT_EQ(read.exit_code, 0) << read.err;
    for (const auto& p : test::Lines(read.out)) {
      if (!p.empty()) ++end[{std::string(topic), std::stoi(p)}];
    }
  }
  return end;
}

// Three instances of one group share the partitions of a generated feed (every kind of event,
// late, re-sent and corrected ones too); then one instance of another group ingests it all.
// `report METRIC --data a --data b --data c` must equal that instance's report of every metric,
// exactly: medians of missing hours, percentages, rates and relative rate indexes included,
// which no sum of three reports gives.
TEST(Rebalance, TheStoresOfAGroupAnswerAsOneStore) {
  const int kPartitions = 6;
  test::TempDir dir;
  const std::string feed = dir / "feed.jsonl";
  auto generated = Careledger({"generate", "--children", "60000", "--seed", "23", "--invalid-rate",
                               "0", "--start", "2021-04-01", "--end", "2024-04-01", "--out", feed});
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  test::BrokerProcess broker(kPartitions);
  Instance a("a", dir / "a", broker.bootstrap()), b("b", dir / "b", broker.bootstrap()),
      c("c", dir / "c", broker.bootstrap());
  std::vector<Instance*> group{&a, &b, &c};
  for (Instance* i : group) i->Start();
  auto published = Careledger({"publish", "--brokers", broker.bootstrap(), feed});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  const auto end_offset = EndOffsets(broker.bootstrap());

  // Settled: every partition of every topic owned by exactly one instance, which holds it all.
  auto caught_up = [&] {
    std::set<std::pair<std::string, int32_t>> covered;
    for (const Instance* i : group) {
      auto store = EventStore::Open({.path = i->store(), .read_only = true});
      if (!store.ok()) return false;
      auto assignment = (*store)->Assignment();
      if (!assignment.ok()) return false;
      for (const auto& tp : *assignment) {
        if (!covered.insert({tp.topic, tp.partition}).second) return false;
        auto next = (*store)->NextOffset(tp);
        auto end = end_offset.find({tp.topic, tp.partition});
        const int64_t want = end == end_offset.end() ? 0 : end->second;
        if (!next.ok() || next->value_or(0) != want) return false;
      }
    }
    return covered.size() == std::size(kSourceTopics) * size_t(kPartitions);
  };
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!caught_up() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(caught_up()) << "a:\n" << a.Log() << "\nb:\n" << b.Log() << "\nc:\n" << c.Log();

  // Each instance says on careledger.instances.v1 what it answers for: `careledger instances`
  // lists the three of the group running, their partitions disjoint and all six, none still
  // being read.
  auto listed = [&] {
    std::map<std::string, std::pair<std::string, std::string>> out;  // id → state, partitions
    auto r = Careledger({"instances", "--brokers", broker.bootstrap()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const auto& line : test::Lines(r.out)) {
      std::vector<std::string> f;
      std::stringstream fields(line);
      for (std::string x; std::getline(fields, x, '\t');) f.push_back(x);
      // Once each has read its partitions to the end, none is still reading any.
      if (f.size() == 7 && f[1] == "careledger-ingest") {
        out[f[0]] = {f[4] == "-" ? f[2] : f[2] + ", reading " + f[4], f[3]};
      }
    }
    return out;
  };
  auto settled = [&](const std::string& state) {
    auto now = listed();
    std::multiset<std::string> parts;
    for (const auto& [id, is] : now) {
      if (is.first != state) return false;
      std::stringstream list(is.second);
      for (std::string p; std::getline(list, p, ',');) parts.insert(p);
    }
    return now.size() == 3 &&
           (state == "running" ? parts == std::multiset<std::string>{"0", "1", "2", "3", "4", "5"}
                               : parts == std::multiset<std::string>{"-", "-", "-"});
  };
  deadline = Clock::now() + std::chrono::seconds(20);
  while (!settled("running") && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(settled("running")) << testing::PrintToString(listed());
  for (Instance* i : group) EXPECT_EQ(i->Stop(15), 0) << i->name();
  for (Instance* i : group) EXPECT_EQ(Assignments(i->Log()).empty(), false) << i->name();
  // Stopped, each says so, answering for nothing.
  EXPECT_TRUE(settled("stopped")) << testing::PrintToString(listed());

  const std::string whole = dir / "whole";
  auto ingested = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", whole, "--group",
                              "careledger-whole", "--until-end"});
  ASSERT_EQ(ingested.exit_code, 0) << ingested.err;

  // The merged table says what it covers (a note); the single store's has no such note.
  auto without_coverage = [](const std::string& out) {
    std::string kept;
    for (const auto& line : test::Lines(out)) {
      if (line.find("answers for partitions") == std::string::npos) kept += line + "\n";
    }
    return kept;
  };
  int compared = 0, nonzero = 0;
  for (auto metric : MetricNames()) {
    auto time = MetricTimeOf(metric);
    ASSERT_TRUE(time.ok());
    for (const std::string by : {"", "none"}) {
      std::vector<std::string> args{"report", std::string(metric), "--format", "csv"};
      if (*time == MetricTime::kPeriod) {
        args.insert(args.end(), {"--period", "2022-04-01..2023-04-01"});
      } else {
        args.insert(args.end(), {"--at", "2023-03-31"});
      }
      if (!by.empty()) args.insert(args.end(), {"--by", by});
      auto merged_args = args, whole_args = args;
      for (const Instance* i : group) merged_args.insert(merged_args.end(), {"--data", i->store()});
      whole_args.insert(whole_args.end(), {"--data", whole});
      auto merged = Careledger(merged_args), one = Careledger(whole_args);
      if (one.exit_code == 2) continue;  // a metric that cannot be asked that way (by none)
      ASSERT_EQ(one.exit_code, 0) << metric << " " << by << ": " << one.err;
      ASSERT_EQ(merged.exit_code, 0) << metric << " " << by << ": " << merged.err;
      EXPECT_NE(merged.out.find("answers for partitions"), std::string::npos) << metric;
      EXPECT_EQ(without_coverage(merged.out), one.out) << metric << " --by " << by;
      ++compared;
      // (A figure other than 0 somewhere in the table: the comparison is of something.)
      for (const auto& line : test::Lines(one.out)) {
        if (std::regex_search(line, std::regex(",[1-9][0-9.]*(,|$)"))) {
          ++nonzero;
          break;
        }
      }
    }
  }
  EXPECT_GE(compared, int(MetricNames().size()) + 8);
  EXPECT_GE(nonzero, int(MetricNames().size()));

  // The figures behind one cell: the same events.
  auto lineage = [&](const std::vector<std::string>& data) {
    std::vector<std::string> args{"lineage", "outcomes", "--period", "2022-04-01..2023-04-01",
                                  "--by",    "none"};
    for (const auto& d : data) args.insert(args.end(), {"--data", d});
    return Careledger(args);
  };
  auto merged_lineage = lineage({a.store(), b.store(), c.store()});
  auto whole_lineage = lineage({whole});
  ASSERT_EQ(whole_lineage.exit_code, 0) << whole_lineage.err;
  EXPECT_EQ(merged_lineage.out, whole_lineage.out);
  EXPECT_GT(test::Lines(whole_lineage.out).size(), 10u);

  // Stores answering for the same partitions are refused, naming both.
  auto overlapping =
      Careledger({"report", "cla", "--at", "2023-03-31", "--data", a.store(), "--data", whole});
  EXPECT_EQ(overlapping.exit_code, 2);
  EXPECT_THAT(overlapping.err, testing::HasSubstr("is answered for by both"));
  EXPECT_THAT(overlapping.err, testing::HasSubstr(whole));
}

}  // namespace
}  // namespace careledger
