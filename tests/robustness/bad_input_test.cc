// Bad input never stops ingest or loses the other events: it is named (file:line or
// topic/partition@offset, and the reason) and set aside.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "care_fixture.h"
#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

TEST(BadInput, PublishNamesEveryBadLineAndPublishesTheRest) {
  auto fixture = test::BuildCareFixture(30, 3);
  const size_t good = fixture.lines.size();
  // Bad lines at known places among the good ones: {line number, expected reason}.
  std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"event_id":"x1","type":)", "not valid JSON"},
      {R"(["an","array"])", "not a JSON object"},
      {R"({"event_id":"x2","type":"care.period_started","schema_version":1,"source":"lcs","occurred_at":"2024-01-01","recorded_at":"2024-01-02T00:00:00Z","data":{"legal_status":"C2","placement":"U1"}})",
       "field 'child_id': required"},
      {R"({"event_id":"x3","type":"care.teleported","schema_version":1,"source":"lcs","child_id":"Z","occurred_at":"2024-01-01","recorded_at":"2024-01-02T00:00:00Z","data":{}})",
       "field 'type': not in code list event_type"},
      {R"({"event_id":"x4","type":"care.period_ended","schema_version":1,"source":"lcs","child_id":"Z","occurred_at":"2024-02-30","recorded_at":"2024-01-02T00:00:00Z","data":{"reason":"E4A"}})",
       "field 'occurred_at': no such calendar date"},
      {R"({"event_id":"x5","type":"care.period_started","schema_version":1,"source":"lcs","child_id":"Z","occurred_at":"2024-01-01","recorded_at":"2024-01-02T00:00:00Z","data":{"legal_status":"X9","placement":"U1"}})",
       "field 'data.legal_status': not in code list legal_status"},
  };
  std::string feed;
  std::vector<std::string> expected_errors;
  size_t line_no = 0, next_bad = 0;
  for (size_t i = 0; i < good; ++i) {
    if (i % 7 == 3 && next_bad < bad.size()) {
      feed += bad[next_bad].first + "\n";
      expected_errors.push_back(":" + std::to_string(++line_no) + ": " + bad[next_bad].second);
      ++next_bad;
    }
    feed += fixture.lines[i] + "\n";
    ++line_no;
  }
  ASSERT_EQ(next_bad, bad.size());
  test::TempDir dir;
  test::WriteFile(dir / "feed.jsonl", feed);
  test::BrokerProcess broker(3);

  auto published = Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"});
  EXPECT_EQ(published.exit_code, 1) << "a rejected line makes publish exit 1";
  for (const auto& e : expected_errors) {
    EXPECT_THAT(published.err, HasSubstr(dir / "feed.jsonl" + e));
  }
  EXPECT_THAT(published.err, HasSubstr("published " + std::to_string(good) + " of " +
                                       std::to_string(good + bad.size()) + " events"));
  EXPECT_THAT(published.err, HasSubstr("rejected 6"));

  auto ingest = Careledger(
      {"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store", "--until-end"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), good);
}

TEST(BadInput, IngestDeadLettersWhatTheTopicCarriesAndKeepsGoing) {
  // kcat bypasses publish's validation, as a misbehaving source would.
  auto fixture = test::BuildCareFixture(40, 4);
  std::string keyed = fixture.KeyedForKcat();
  const std::string conflicting = fixture.lines[0].substr(0, fixture.lines[0].size() - 2) +
                                  R"(,"extra":1}})";  // same event_id, other content
  const std::string first_line = fixture.lines[0];
  std::string child_of_first = first_line.substr(first_line.find("\"child_id\":\"") + 12);
  child_of_first = child_of_first.substr(0, child_of_first.find('"'));
  keyed += "K1\t{not json\n";
  keyed += "K1\t{\"event_id\":\"u1\",\"type\":\"care.unknown\",\"schema_version\":1}\n";
  keyed += "WRONGKEY\t" + fixture.lines[5].substr(0, fixture.lines[5].find("\"event_id\"") + 12) +
           "other" + fixture.lines[5].substr(fixture.lines[5].find("\"event_id\"") + 12) + "\n";
  keyed += child_of_first + "\t" + conflicting + "\n";
  test::TempDir dir;
  test::BrokerProcess broker(3);
  auto produced =
      test::KcatProduceLines(broker.bootstrap(), "careledger.socialcare.v1", keyed, dir.path());
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  auto ingest = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store",
                            "--until-end", "--max-batch", "25"});
  // Rejected input is not a failure of ingest: exit 0, and the count said.
  EXPECT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err, HasSubstr("4 messages were rejected into the dead-letter store"));
  EXPECT_THAT(ingest.err, HasSubstr("ingested " + std::to_string(fixture.lines.size())));
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), fixture.lines.size());

  auto store = EventStore::Open({.path = dir / "store", .read_only = true});
  ASSERT_TRUE(store.ok());
  std::vector<std::string> reasons;
  ASSERT_TRUE((*store)
                  ->ScanDeadLetters([&](const DeadLetter& d) {
                    EXPECT_EQ(d.from.topic, "careledger.socialcare.v1");
                    reasons.push_back(d.reason);
                    return true;
                  })
                  .ok());
  EXPECT_THAT(reasons, ::testing::UnorderedElementsAre(
                           HasSubstr("not valid JSON"), HasSubstr("field 'type'"),
                           HasSubstr("message key does not match child_id"),
                           HasSubstr("conflict: event_id already stored")));
  // Logs name offsets and reasons, never the payload.
  EXPECT_THAT(ingest.err, ::testing::Not(HasSubstr(child_of_first)));

  // The same four, once durable, on the dead-letter topic with their kind and source.
  auto topic = test::Run({test::KcatPath(), "-C", "-b", broker.bootstrap(), "-t",
                          "careledger.deadletter.v1", "-e", "-q", "-f", "%h\n"});
  ASSERT_EQ(topic.exit_code, 0) << topic.err;
  auto headers = test::Lines(topic.out);
  ASSERT_EQ(headers.size(), 4u) << topic.out;
  std::vector<std::string> kinds;
  for (const auto& h : headers) {
    EXPECT_THAT(h, HasSubstr("source_topic=careledger.socialcare.v1,source_partition="));
    kinds.push_back(h.substr(0, h.find(',')));
  }
  EXPECT_THAT(kinds, ::testing::UnorderedElementsAre("error=invalid_json", "error=unknown_type",
                                                     "error=key_mismatch", "error=conflict"));

  // Operators see them without payloads, and re-drive what passes now: the wrongly keyed
  // message is valid, so retry re-publishes it keyed by its child_id and ingest stores it.
  auto list = Careledger({"deadletter", "list", "--data", dir / "store", "--format", "csv"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto rows = test::Lines(list.out);
  ASSERT_EQ(rows.size(), 5u) << list.out;
  EXPECT_EQ(rows[0], "id,kind,status,reason,bytes");
  std::string retryable_id;
  std::map<std::string, std::string> status_by_kind;
  for (size_t i = 1; i < rows.size(); ++i) {
    auto fields = rows[i];
    std::string id = fields.substr(0, fields.find(','));
    std::string rest = fields.substr(id.size() + 1);
    std::string kind = rest.substr(0, rest.find(','));
    rest = rest.substr(kind.size() + 1);
    status_by_kind[kind] = rest.substr(0, rest.find(','));
    if (kind == "key_mismatch") retryable_id = id;
  }
  EXPECT_EQ(status_by_kind, (std::map<std::string, std::string>{{"conflict", "conflict"},
                                                                {"invalid_json", "invalid"},
                                                                {"key_mismatch", "retryable"},
                                                                {"unknown_type", "invalid"}}));
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(child_of_first)));
  auto show = Careledger({"deadletter", "show", retryable_id, "--data", dir / "store"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("status    retryable"));
  EXPECT_THAT(show.out, HasSubstr("type      care."));
  EXPECT_EQ(Careledger({"deadletter", "show", "nope", "--data", dir / "store"}).exit_code, 1);

  auto retry =
      Careledger({"deadletter", "retry", "--brokers", broker.bootstrap(), "--data", dir / "store"});
  EXPECT_EQ(retry.exit_code, 1) << "two stay invalid and one is a conflict\n" << retry.err;
  EXPECT_THAT(retry.err, HasSubstr("re-published 1 of 4 dead letters"));
  EXPECT_THAT(retry.err, HasSubstr("0 already stored, 2 still invalid, 1 conflicts"));
  auto again = Careledger(
      {"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store", "--until-end"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), fixture.lines.size() + 1);
  auto after = Careledger({"deadletter", "show", retryable_id, "--data", dir / "store"});
  EXPECT_THAT(after.out, HasSubstr("status    stored"));
}

TEST(BadInput, IngestDeadLettersEventsOutsideTheirChildsPartitionOrTopic) {
  // A child's events must all be in partition p of each topic (one instance holds the whole
  // timeline). A producer writing to an explicit partition, or a police event sent to the
  // social care topic, is named and set aside rather than splitting the child.
  test::TempDir dir;
  auto generated =
      Careledger({"generate", "--children", "2000", "--seed", "5", "--out", dir / "feed.jsonl"});
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  std::string care_line, police_line;
  for (const auto& line : test::Lines(test::ReadFile(dir / "feed.jsonl"))) {
    if (care_line.empty() && line.find("\"type\":\"care.period_started\"") != std::string::npos) {
      care_line = line;
    }
    if (police_line.empty() && line.find("\"type\":\"offence.recorded\"") != std::string::npos &&
        line.find("\"supersedes\"") == std::string::npos) {
      police_line = line;
    }
  }
  ASSERT_FALSE(care_line.empty());
  ASSERT_FALSE(police_line.empty());
  auto child_of = [](const std::string& line) {
    std::string rest = line.substr(line.find("\"child_id\":\"") + 12);
    return rest.substr(0, rest.find('"'));
  };
  test::BrokerProcess broker(3);
  const std::string topic = "careledger.socialcare.v1";
  // The same event into each of the three partitions: only one is where murmur2 puts it.
  test::WriteFile(dir / "one.tsv", child_of(care_line) + "\t" + care_line + "\n");
  for (const char* partition : {"0", "1", "2"}) {
    auto r = test::Run({test::KcatPath(), "-P", "-b", broker.bootstrap(), "-t", topic, "-p",
                        partition, "-K", "\t", "-l", dir / "one.tsv"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  test::WriteFile(dir / "police.tsv", child_of(police_line) + "\t" + police_line + "\n");
  ASSERT_EQ(test::KcatProduce(broker.bootstrap(), topic, dir / "police.tsv").exit_code, 0);

  auto ingest = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store",
                            "--until-end", "--kafka", "session.timeout.ms=6000"});
  EXPECT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err, HasSubstr("3 messages were rejected into the dead-letter store"));
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), 1u);
  EXPECT_THAT(test::DeadLetterReasons(dir / "store"),
              ::testing::UnorderedElementsAre(
                  HasSubstr("wrong partition: child_id hashes (murmur2) to partition"),
                  HasSubstr("wrong partition: child_id hashes (murmur2) to partition"),
                  ::testing::AllOf(HasSubstr("wrong topic: offence.recorded events"),
                                   HasSubstr("belong on careledger.police.v1, not "
                                             "careledger.socialcare.v1"))));
}

}  // namespace
}  // namespace careledger
