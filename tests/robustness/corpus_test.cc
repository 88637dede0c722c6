// The bad-input corpus: every kind of reject the contract names, mixed into a valid feed, at
// both doors. publish names each bad line and publishes the rest; ingest, fed the same lines
// raw by kcat (as a misbehaving source would), dead-letters each with its reason and stores
// every good one. Counts are exact.
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

struct Bad {
  std::string line;
  std::string reason;  // what the message must say
  std::string kind;    // its dead-letter kind
};

std::string Envelope(const std::string& id, const std::string& fields) {
  return R"({"event_id":")" + id + R"(","schema_version":1,"source":"lcs","child_id":"Z",)" +
         fields + "}";
}

const std::string kCareStart =
    R"("type":"care.period_started","occurred_at":"2024-01-01","recorded_at":"2024-01-02T00:00:00Z")";

std::vector<Bad> Corpus() {
  std::string big_field(1536 * 1024, 'a');  // 1.5 MiB: over the 1 MiB limit, under Kafka's
  return {
      {R"({"event_id":"x1","type":)", "not valid JSON", "invalid_json"},  // truncated line
      {Envelope("x2", kCareStart + R"(,"data":{"legal_status":"C2","placement")"), "not valid JSON",
       "invalid_json"},  // cut off mid-record
      {R"(["an","array"])", "not a JSON object", "invalid_json"},
      {R"({"event_id":"x3","type":"care.teleported","schema_version":1,"source":"lcs","child_id":"Z","occurred_at":"2024-01-01","recorded_at":"2024-01-02T00:00:00Z","data":{}})",
       "field 'type'", "unknown_type"},
      {Envelope("x4", kCareStart + R"(,"data":{"legal_status":"X9","placement":"U1"})"),
       "field 'data.legal_status'", "schema"},  // unknown code
      {Envelope("x5", kCareStart + R"(,"data":{"legal_status":"C2"})"), "field 'data.placement'",
       "schema"},  // missing required field
      {Envelope("x6", kCareStart +
                          R"(,"data":{"legal_status":"C2","placement":"U1","out_of_area":"no"})"),
       "field 'data.out_of_area'", "schema"},  // wrong type
      {R"({"event_id":"x7","schema_version":"1","source":"lcs","child_id":"Z",)" + kCareStart +
           R"(,"data":{"legal_status":"C2","placement":"U1"}})",
       "field 'schema_version'", "schema"},  // wrong type in the envelope
      {Envelope(
           "x8",
           R"("type":"care.period_ended","occurred_at":"2024-01-01","recorded_at":"2099-01-02T00:00:00Z","data":{"reason":"E4A"})"),
       "field 'recorded_at': more than 24 h in the future", "schema"},
      {Envelope(
           "x9",
           R"("type":"care.period_ended","occurred_at":"2024-03-01","recorded_at":"2024-01-02T00:00:00Z","data":{"reason":"E4A"})"),
       "field 'occurred_at': after recorded_at", "schema"},
      {Envelope(
           "x10",
           R"("type":"care.period_ended","occurred_at":"2024-02-30","recorded_at":"2024-03-02T00:00:00Z","data":{"reason":"E4A"})"),
       "field 'occurred_at'", "schema"},  // no such date
      {Envelope("x11",
                kCareStart + R"(,"data":{"legal_status":"C2","placement":"U1","note":")" +
                    std::string("\xff\xfe") + R"("})"),  // bytes that are not UTF-8
       "invalid UTF-8", "invalid_utf8"},
      {Envelope("x12", kCareStart + R"(,"data":{"legal_status":"C2","placement":"U1","pad":")" +
                           big_field + R"("})"),
       "oversize: ", "oversize"},
  };
}

// The fixture's lines with the corpus spread among them.
struct Mixed {
  std::string text;
  std::vector<std::string> expected;  // ":line: reason" for each bad one
  size_t good = 0;
};

Mixed Mix(const std::vector<std::string>& good, const std::vector<Bad>& bad) {
  Mixed m;
  m.good = good.size();
  size_t line = 0, next_bad = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    if (i % 5 == 2 && next_bad < bad.size()) {
      m.text += bad[next_bad].line + "\n";
      m.expected.push_back(":" + std::to_string(++line) + ": " + bad[next_bad].reason);
      ++next_bad;
    }
    m.text += good[i] + "\n";
    ++line;
  }
  EXPECT_EQ(next_bad, bad.size()) << "the fixture is too small to hold the corpus";
  return m;
}

TEST(Corpus, PublishNamesEveryBadLineIncludingA50MBOneAndPublishesTheRest) {
  auto fixture = test::BuildCareFixture(40, 21);
  auto bad = Corpus();
  // 50 MB on one line: read, refused by its size, and the lines after it still published.
  bad.push_back({std::string(50 * 1000 * 1000, ' ') + "{}", "oversize: ", "oversize"});
  auto mixed = Mix(fixture.lines, bad);
  test::TempDir dir;
  test::WriteFile(dir / "feed.jsonl", mixed.text);
  test::WriteFile(dir / "empty.jsonl", "");
  test::BrokerProcess broker(3);

  auto published = Careledger(
      {"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl", dir / "empty.jsonl"});
  EXPECT_EQ(published.exit_code, 1) << "a rejected line makes publish exit 1";
  for (const auto& e : mixed.expected) {
    EXPECT_THAT(published.err, HasSubstr(dir / "feed.jsonl" + e));
  }
  EXPECT_THAT(published.err, HasSubstr("published " + std::to_string(mixed.good) + " of " +
                                       std::to_string(mixed.good + bad.size()) + " events"));
  EXPECT_THAT(published.err, HasSubstr("rejected " + std::to_string(bad.size())));
  EXPECT_LT(published.err.size(), 20000u) << "no payload echoed back";

  auto ingest = Careledger(
      {"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store", "--until-end"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), mixed.good);
}

TEST(Corpus, IngestDeadLettersEveryKindWithItsReasonAndStoresEveryGoodEvent) {
  auto fixture = test::BuildCareFixture(40, 22);
  auto bad = Corpus();
  // Only the consumer can see these two: publish validates them away.
  const std::string& first = fixture.lines[0];
  bad.push_back({first.substr(0, first.size() - 2) + R"(,"extra":1}})",
                 "conflict: event_id already stored", "conflict"});
  std::string keyed;
  for (const auto& line : fixture.lines) {
    std::string child = line.substr(line.find("\"child_id\":\"") + 12);
    keyed += child.substr(0, child.find('"')) + "\t" + line + "\n";
  }
  for (const auto& b : bad) keyed += "Z\t" + b.line + "\n";
  // A conflict needs its first version stored first, so the corpus follows the feed; the
  // child key Z is right for the corpus lines that parse (they all say child Z), except the
  // conflict's, which is keyed by its own child.
  std::string child_of_first = first.substr(first.find("\"child_id\":\"") + 12);
  child_of_first = child_of_first.substr(0, child_of_first.find('"'));
  keyed.replace(keyed.rfind("Z\t"), 2, child_of_first + "\t");
  test::TempDir dir;
  test::WriteFile(dir / "keyed.tsv", keyed);
  test::BrokerProcess broker(3);
  auto produced =
      test::Run({test::KcatPath(), "-P", "-b", broker.bootstrap(), "-t", "careledger.socialcare.v1",
                 "-K", "\t", "-X", "partitioner=murmur2_random", "-X", "message.max.bytes=4000000",
                 "-l", dir / "keyed.tsv"});
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  auto ingest = Careledger(
      {"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store", "--until-end"});
  EXPECT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err, HasSubstr(std::to_string(bad.size()) +
                                    " messages were rejected into the dead-letter store"));
  EXPECT_EQ(test::StoredEventIds(dir / "store").size(), fixture.lines.size());

  auto store = EventStore::Open({.path = dir / "store", .read_only = true});
  ASSERT_TRUE(store.ok());
  std::multiset<std::string> reasons;
  ASSERT_TRUE((*store)
                  ->ScanDeadLetters([&](const DeadLetter& d) {
                    reasons.insert(d.reason);
                    return true;
                  })
                  .ok());
  ASSERT_EQ(reasons.size(), bad.size());
  for (const auto& b : bad) {
    size_t matching = 0;
    for (const auto& r : reasons) matching += r.find(b.reason) != std::string::npos;
    EXPECT_GE(matching, 1u) << "no dead letter says: " << b.reason;
  }
  // Each kind, counted, as the dead-letter list gives them.
  auto list = Careledger({"deadletter", "list", "--data", dir / "store", "--format", "csv"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::map<std::string, int> kinds, expected_kinds;
  for (const auto& b : bad) ++expected_kinds[b.kind];
  auto rows = test::Lines(list.out);
  for (size_t i = 1; i < rows.size(); ++i) {
    std::string rest = rows[i].substr(rows[i].find(',') + 1);
    ++kinds[rest.substr(0, rest.find(','))];
  }
  EXPECT_EQ(kinds, expected_kinds);
  EXPECT_LT(ingest.err.size(), 20000u) << "no payload echoed into the log";
}

}  // namespace
}  // namespace careledger
