// Corrections (supersedes) and retractions whose target does not apply are never silent: ingest
// stores them (the fold applies one once its target is in the same child's timeline) and holds
// them where an operator sees them: `careledger corrections`, `verify`, and /metrics. A held
// one is released when its target arrives for the same child, across restarts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

std::string Registered(const std::string& id, const std::string& child) {
  return R"({"event_id":")" + id + R"(","type":"child.registered","schema_version":1,)" +
         R"("source":"lcs","child_id":")" + child +
         R"(","occurred_at":"2015-04-22","recorded_at":"2015-04-22T10:32:32Z",)" +
         R"("data":{"dob":"2009-03-29","sex":"M","ethnicity":"WBRI"}})";
}

std::string Offence(const std::string& id, const std::string& child,
                    const std::string& supersedes = "") {
  return R"({"event_id":")" + id + R"(","type":"offence.recorded","schema_version":1,)" +
         R"("source":"police-rms","child_id":")" + child + "\"," +
         (supersedes.empty() ? "" : R"("supersedes":")" + supersedes + "\",") +
         R"("occurred_at":"2023-12-06T09:07:47Z","recorded_at":"2023-12-06T09:20:06Z",)" +
         R"("data":{"offence_id":"OF-)" + id + R"(","offence_group":"theft_handling",)" +
         R"("at_placement":false}})";
}

std::string Retraction(const std::string& id, const std::string& child, const std::string& target) {
  return R"({"event_id":")" + id + R"(","type":"event.retracted","schema_version":1,)" +
         R"("source":"police-rms","child_id":")" + child +
         R"(","occurred_at":"2023-12-07","recorded_at":"2023-12-07T09:00:00Z",)" +
         R"("data":{"target_event_id":")" + target + R"(","reason":"recorded in error"}})";
}

// `corrections --format csv` as its data rows, without the header.
std::vector<std::string> HeldRows(const std::string& store) {
  auto listed = Careledger({"corrections", "--data", store, "--format", "csv"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  auto lines = test::Lines(listed.out);
  EXPECT_FALSE(lines.empty());
  if (!lines.empty()) lines.erase(lines.begin());
  std::vector<std::string> rows;
  for (auto& line : lines) {
    // event_id,kind,target,state,child (then where and since, which vary)
    size_t cut = 0;
    for (int commas = 0; cut < line.size() && commas < 5; ++cut) commas += line[cut] == ',';
    rows.push_back(line.substr(0, cut - 1));
  }
  return rows;
}

std::string Metrics(const std::string& store) {
  test::Background serve({CARELEDGER_BIN, "serve", "--data", store, "--listen", "127.0.0.1:0"});
  const std::string url = serve.FirstLine();
  EXPECT_THAT(url, HasSubstr("http://127.0.0.1:"));
  httplib::Client client(url);
  client.set_read_timeout(std::chrono::seconds(10));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto r = client.Get("/metrics"); r && r->status == 200) return r->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

TEST(Corrections, OnesWithoutTheirTargetAreHeldInViewAndReleasedWhenItArrives) {
  test::TempDir dir;
  test::BrokerProcess broker;
  const std::string store = dir / "store";
  // Child A and child B. Each line's fate is in the comment.
  test::WriteFile(dir / "first.jsonl",
                  Registered("a-reg", "CHILD-A") + "\n" + Registered("b-reg", "CHILD-B") + "\n" +
                      Offence("a-off1", "CHILD-A") + "\n" +
                      // Its target comes in the second feed: held, then released.
                      Retraction("r-late", "CHILD-A", "a-off-late") + "\n" +
                      // Its target never comes: held for good.
                      Offence("s-missing", "CHILD-A", "never-sent") + "\n" +
                      // Its target is stored, but is child A's: never applies to child B.
                      Retraction("r-other", "CHILD-B", "a-off1") + "\n" +
                      // Its target comes later, for the other child.
                      Offence("s-later", "CHILD-A", "b-off-later") + "\n" +
                      // Before its target in the same feed (one batch, or the next): applies.
                      Retraction("r-soon", "CHILD-A", "a-off2") + "\n" +
                      Offence("a-off2", "CHILD-A") + "\n" +
                      // Removes itself: refused.
                      Offence("s-self", "CHILD-A", "s-self") + "\n");
  auto published = Careledger({"publish", "--brokers", broker.bootstrap(), dir / "first.jsonl"});
  ASSERT_EQ(published.exit_code, 1) << published.err;  // the line that removes itself
  EXPECT_THAT(published.err, HasSubstr("field 'supersedes': names the event itself"));
  // The source's own check is not the only one: send that line past publish, as a careless
  // producer would, and ingest refuses it too.
  test::WriteFile(dir / "self.tsv", "CHILD-A\t" + Offence("s-self", "CHILD-A", "s-self") + "\n");
  ASSERT_EQ(
      test::KcatProduce(broker.bootstrap(), "careledger.police.v1", dir / "self.tsv").exit_code, 0);

  const std::vector<std::string> ingest = {
      "ingest", "--brokers",   broker.bootstrap(), "--data",
      store,    "--until-end", "--kafka",          "session.timeout.ms=6000"};
  auto first = Careledger(ingest);
  EXPECT_EQ(first.exit_code, 0) << first.err;  // a dead letter is not a failure
  EXPECT_THAT(test::DeadLetterReasons(store),
              UnorderedElementsAre("field 'supersedes': names the event itself"));
  EXPECT_EQ(test::StoredEventIds(store).size(), 9u);
  // r-soon and its target may reach ingest in one batch (never held) or in two (held, then
  // released by the next batch): both leave the same four held. (Seen in the sanitised CI
  // build, where batches are slower to fill.)
  EXPECT_THAT(first.err, ContainsRegex("corrections whose target did not apply: (4 held and 0|5 "
                                       "held and 1) released by this run, 4 held in all"));
  EXPECT_THAT(HeldRows(store),
              UnorderedElementsAre("r-late,retraction,a-off-late,awaiting_target,CHILD-A",
                                   "s-missing,supersedes,never-sent,awaiting_target,CHILD-A",
                                   "r-other,retraction,a-off1,other_child,CHILD-B",
                                   "s-later,supersedes,b-off-later,awaiting_target,CHILD-A"));
  auto verify = Careledger({"verify", "--data", store});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("held corrections 3 awaiting their target, 1 naming another "
                                    "child's event"));

  // The targets arrive; the police retract one of theirs, on their own topic.
  test::WriteFile(dir / "second.jsonl", Offence("a-off-late", "CHILD-A") + "\n" +
                                            Offence("b-off-later", "CHILD-B") + "\n");
  ASSERT_EQ(
      Careledger({"publish", "--brokers", broker.bootstrap(), dir / "second.jsonl"}).exit_code, 0);
  test::WriteFile(dir / "police.tsv",
                  "CHILD-B\t" + Retraction("r-police", "CHILD-B", "b-off-later") + "\n");
  ASSERT_EQ(
      test::KcatProduce(broker.bootstrap(), "careledger.police.v1", dir / "police.tsv").exit_code,
      0);
  // A restart as an operator does it: same group, same store.
  auto second = Careledger(ingest);
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(test::StoredEventIds(store).size(), 12u);
  EXPECT_EQ(test::DeadLetterReasons(store).size(), 1u);
  // r-late's target came; s-later's came for child B, where its own source then retracted it.
  EXPECT_THAT(second.err, HasSubstr("correction s-later is released: r-police retracts its "
                                    "target b-off-later in its own child"));
  EXPECT_THAT(second.err, HasSubstr("corrections whose target did not apply: 0 held and 2 "
                                    "released by this run, 2 held in all"));
  EXPECT_THAT(HeldRows(store),
              UnorderedElementsAre("s-missing,supersedes,never-sent,awaiting_target,CHILD-A",
                                   "r-other,retraction,a-off1,other_child,CHILD-B"));

  const std::string metrics = Metrics(store);
  EXPECT_THAT(metrics, HasSubstr("careledger_corrections_held{kind=\"supersedes\",state=\"awaiting_"
                                 "target\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("careledger_corrections_held{kind=\"supersedes\",state=\"other_"
                                 "child\"} 0\n"));
  EXPECT_THAT(metrics, HasSubstr("careledger_corrections_held{kind=\"retraction\",state=\"other_"
                                 "child\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("careledger_corrections_held{kind=\"retraction\",state=\"awaiting_"
                                 "target\"} 0\n"));
  EXPECT_THAT(metrics, HasSubstr("careledger_corrections_held_oldest_timestamp_seconds "));
  EXPECT_THAT(metrics, Not(HasSubstr("careledger_corrections_held_oldest_timestamp_seconds 0")));
}

}  // namespace
}  // namespace careledger
