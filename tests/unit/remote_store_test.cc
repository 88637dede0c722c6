// Another instance's store read over the wire (RemoteStore, AnswerStoreRead): every read a
// figure makes, encoded, answered from a real store and decoded, gives the figure the store
// gives when read directly; a read that does not decode is refused, never a crash; an answer
// with a partition the other end does not answer for fails the figure and is told to the
// remote store. (The transport here hands each request to AnswerStoreRead; the HTTP between
// instances is tested with real processes in tests/integration/fan_out_test.cc.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "careledger/reporting.h"
#include "ingest_builder.h"
#include "metrics_offences_support.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger {
namespace {

using namespace metrics_offences_test;
using test::Day;
using test::Fold;

// The store at the other end, reached directly. `claimed`: the partitions it is announced to
// answer for. `lie`: the other end answers whatever the request expects (it drops the
// partitions the request names, as a peer that ignored them would).
class LoopbackRemote : public RemoteStore {
 public:
  LoopbackRemote(const EventStore& store, std::set<int32_t> claimed, bool lie = false)
      : store_(store), claimed_(std::move(claimed)), lie_(lie) {}
  std::string Name() const override { return "instance loopback"; }
  std::set<int32_t> Partitions() const override { return claimed_; }
  Result<std::string> Read(const std::string& request) const override {
    ++reads;
    if (!lie_) return AnswerStoreRead(store_, request);
    // <op> <count (4)> <partitions (4 each)> <the rest>: as if it expected none.
    std::string honest =
        request.substr(0, 1) + std::string(4, '\0') + request.substr(5 + 4 * claimed_.size());
    return AnswerStoreRead(store_, honest);
  }
  void Failed(const Status& why) const override { failures.push_back(why.message()); }
  mutable int reads = 0;
  mutable std::vector<std::string> failures;

 private:
  const EventStore& store_;
  std::set<int32_t> claimed_;
  bool lie_;
};

// Two children in care, one with missing episodes of 2, 4 and 30 hours, one with an offence
// and its outcome: figures with medians, percentages and a lineage.
std::vector<std::string> Feed() {
  return {
      Registered("r1", "A1", "2010-03-01", "F", "WBRI"),
      CareStarted("c1", "A1", "2024-01-01", "H9"),
      Registered("r2", "A2", "2009-06-01", "M", "MWBC"),
      CareStarted("c2", "A2", "2024-02-01", "H2"),
      Reported("e1r", "A1", "2025-01-05T10:00:00Z", "e1"),
      Returned("e1b", "A1", "2025-01-05T12:00:00Z", "e1"),
      Reported("e2r", "A1", "2025-01-10T00:00:00Z", "e2"),
      Returned("e2b", "A1", "2025-01-10T04:00:00Z", "e2"),
      Reported("e3r", "A2", "2025-01-15T00:00:00Z", "e3"),
      Returned("e3b", "A2", "2025-01-16T06:00:00Z", "e3"),
  };
}

std::string Json(const Result<ReportTable>& t) {
  if (!t.ok()) return "error: " + t.status().ToString();
  return Render(*t, OutputFormat::kJson, {.published = false});
}

TEST_F(MetricsOffences, AStoreReadOverTheWireGivesEveryFigureAsReadDirectly) {
  Fold(*store_, Feed(), Instant{std::chrono::sys_days{std::chrono::year{2025} / 2 / 1}});
  LoopbackRemote remote(*store_, {});
  std::vector<MetricQuery> queries;
  for (const char* metric : {"missing", "outcomes", "fte", "callouts", "disproportionality"}) {
    queries.push_back(Query(metric, Day(2025, 1, 1), Day(2025, 2, 1)));
  }
  for (const char* metric : {"cla", "care-leavers", "yjs-caseload"}) {
    MetricQuery q;
    q.metric = metric;
    q.at = Day(2025, 1, 31);
    queries.push_back(q);
    q.by = {"placement"};
    if (std::string(metric) == "cla") queries.push_back(q);
  }
  MetricQuery known = Query("missing", Day(2025, 1, 1), Day(2025, 2, 1));
  known.known_at = Instant{std::chrono::sys_days{std::chrono::year{2025} / 3 / 1}};
  queries.push_back(known);
  for (const auto& q : queries) {
    const std::string direct = Json(RunMetric(*store_, q));
    ASSERT_THAT(direct, ::testing::Not(::testing::HasSubstr("error")));
    EXPECT_EQ(Json(RunMetric(Stores{&remote}, q)), direct) << q.metric;
  }
  // The medians of the hours away (2, 4, 30 → 4.0) came over the wire.
  EXPECT_THAT(Json(RunMetric(Stores{&remote}, queries[0])), ::testing::HasSubstr("4.0"));
  EXPECT_GT(remote.reads, int(queries.size()));
  // The events behind a figure: the same, read through the children's timelines.
  auto direct = RunLineage(*store_, queries[0], {{"cohort", "cla"}});
  auto wired = RunLineage(Stores{&remote}, queries[0], {{"cohort", "cla"}});
  ASSERT_TRUE(direct.ok() && wired.ok());
  ASSERT_EQ(direct->size(), wired->size());
  EXPECT_GE(direct->size(), 6u);
  for (size_t i = 0; i < direct->size(); ++i) {
    EXPECT_EQ((*wired)[i].event_id, (*direct)[i].event_id);
    EXPECT_EQ((*wired)[i].measure, (*direct)[i].measure);
  }
  EXPECT_TRUE(remote.failures.empty());
}

TEST_F(MetricsOffences, AReadThatDoesNotDecodeIsRefused) {
  Fold(*store_, Feed());
  std::mt19937 random(7);
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string request(random() % 48, '\0');
    for (auto& c : request) c = char(random());
    // Most with a real op and no partitions expected, so that the arguments are what is read.
    if (!request.empty() && i % 4 != 0) request[0] = "CRST"[random() % 4];
    if (request.size() >= 5 && i % 2 == 0) request.replace(1, 4, std::string(4, '\0'));
    auto answer = AnswerStoreRead(*store_, request);
    if (!answer.ok()) {
      ++refused;
      EXPECT_THAT(answer.status().error_class(),
                  ::testing::AnyOf(ErrorClass::kBadInput, ErrorClass::kRetriable))
          << answer.status().ToString();
    }
  }
  EXPECT_GT(refused, 2900);
  EXPECT_EQ(AnswerStoreRead(*store_, "").status().error_class(), ErrorClass::kBadInput);
}

TEST_F(MetricsOffences, AnAnswerForOtherPartitionsFailsTheFigureAndNamesTheRemote) {
  Fold(*store_, Feed());
  MetricQuery q = Query("missing", Day(2025, 1, 1), Day(2025, 2, 1));
  // Announced for partition 42, but the store answers for all: it refuses the read.
  LoopbackRemote moved(*store_, {42});
  auto refused = RunMetric(Stores{&moved}, q);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().error_class(), ErrorClass::kRetriable);
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("instance loopback"));
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("rebalanced"));
  ASSERT_EQ(moved.failures.size(), 1u);
  // One that answers anyway, with rows of partitions it was not announced for.
  LoopbackRemote liar(*store_, {42}, /*lie=*/true);
  auto wrong = RunMetric(Stores{&liar}, q);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().error_class(), ErrorClass::kRetriable);
  EXPECT_THAT(wrong.status().message(), ::testing::HasSubstr("which it does not answer for"));
  ASSERT_EQ(liar.failures.size(), 1u);
  EXPECT_THAT(liar.failures[0], ::testing::Not(::testing::HasSubstr("A1")));  // no child's id
}

// Where a figure reads several other instances, it asks them at once (it waits for the
// slowest, not for the sum of them), and takes in their answers in the stores' order: the
// first read of each waits here, up to 5 s, for the other instance to be asked too, which it
// never is if they are asked one after the other. The figures are those of the two stores read
// directly.
TEST(RemoteStores, AreAskedAtOnceAndGiveTheFiguresOfTheStoresReadDirectly) {
  test::TempDir dir;
  std::vector<std::unique_ptr<EventStore>> stores;
  for (int32_t p : {0, 1}) {
    auto opened = EventStore::Open({.path = dir / ("s" + std::to_string(p)), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::vector<TopicPartition> assignment;
    for (const auto& topic : kSourceTopics) assignment.push_back({std::string(topic), p});
    ASSERT_TRUE((*opened)->SetAssignment(assignment).ok());
    // Child A1 on partition 0, A2 on 1: each store holds its own partition's events only.
    std::vector<std::string> lines;
    for (const auto& line : Feed()) {
      if (line.find(p == 0 ? "\"A1\"" : "\"A2\"") != std::string::npos) lines.push_back(line);
    }
    test::IngestRun run;
    run.partition_of = [p](const Envelope&) { return p; };
    auto counts = test::IngestLines(**opened, lines, run);
    ASSERT_TRUE(counts.ok()) << counts.status().ToString();
    ASSERT_EQ(counts->rejected, 0u);
    stores.push_back(std::move(*opened));
  }
  struct Meeting {
    std::mutex mu;
    std::condition_variable arrived;
    int asked = 0;
  } meeting;
  class Waiting : public LoopbackRemote {
   public:
    Waiting(const EventStore& store, std::set<int32_t> claimed, Meeting& m)
        : LoopbackRemote(store, std::move(claimed)), m_(m) {}
    Result<std::string> Read(const std::string& request) const override {
      if (reads == 0) {  // the figure's first read of each
        std::unique_lock lock(m_.mu);
        ++m_.asked;
        m_.arrived.notify_all();
        met = m_.arrived.wait_for(lock, std::chrono::seconds(5), [&] { return m_.asked == 2; });
      }
      return LoopbackRemote::Read(request);
    }
    mutable bool met = false;

   private:
    Meeting& m_;
  };
  Waiting a(*stores[0], {0}, meeting), b(*stores[1], {1}, meeting);
  MetricQuery q = Query("missing", Day(2025, 1, 1), Day(2025, 2, 1));
  const std::string direct = Json(RunMetric(Stores{stores[0].get(), stores[1].get()}, q));
  ASSERT_THAT(direct, ::testing::HasSubstr("4.0"));  // the median of 2, 4 and 30 hours
  // (The note naming the stores read differs: the figures do not.)
  auto figures = [](const std::string& json) { return json.substr(0, json.find("\"notes\"")); };
  EXPECT_EQ(figures(Json(RunMetric(Stores{&a, &b}, q))), figures(direct));
  EXPECT_TRUE(a.met && b.met) << "the second instance was asked only once the first had answered";
  EXPECT_TRUE(a.failures.empty() && b.failures.empty());
}

}  // namespace
}  // namespace careledger
