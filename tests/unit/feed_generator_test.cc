// The synthetic feed: deterministic, valid, in recording order, and shaped like care.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "careledger/events.h"
#include "careledger/producers.h"
#include "test_support.h"

namespace careledger {
namespace {

std::string Generate(int children, uint64_t seed) {
  GeneratorOptions o;
  o.children = children;
  o.seed = seed;
  std::ostringstream out;
  EXPECT_TRUE(GenerateFeed(o, out).ok());
  return out.str();
}

TEST(FeedGenerator, SameSeedSameBytesOtherSeedOtherBytes) {
  EXPECT_EQ(Generate(50, 1), Generate(50, 1));
  EXPECT_NE(Generate(50, 1), Generate(50, 2));
}

TEST(FeedGenerator, EveryLineIsAValidEventInRecordingOrderWithinTheWindow) {
  GeneratorOptions o;
  o.children = 300;
  std::ostringstream out;
  ASSERT_TRUE(GenerateFeed(o, out).ok());
  EnvelopeParser parser;
  Envelope env;
  Instant last_recorded{};
  std::map<std::string, int> registrations;
  std::map<std::string, Date> open_since;  // child → start of its open period
  std::set<std::string> ids;
  size_t short_breaks = 0, ends = 0;
  // Order by occurred time per child to check that every end follows a start.
  std::map<std::string, std::vector<std::pair<Date, EventType>>> timeline;
  for (const auto& line : test::Lines(out.str())) {
    if (line.empty()) continue;
    ASSERT_TRUE(parser.Parse(line, env).ok()) << line;
    EXPECT_GE(env.recorded_at.instant, last_recorded);
    last_recorded = env.recorded_at.instant;
    EXPECT_LT(env.occurred_at.date, o.end);
    EXPECT_TRUE(ids.insert(env.event_id).second) << "event ids are unique";
    EXPECT_EQ(line.find("\"name\""), std::string::npos);
    EXPECT_EQ(line.find("\"address\""), std::string::npos);
    if (env.type == EventType::kChildRegistered) ++registrations[env.child_id];
    if (IsShortBreakLegalStatus(env.data.legal_status)) ++short_breaks;
    if (env.type == EventType::kCarePeriodEnded) ++ends;
    timeline[env.child_id].push_back({env.occurred_at.date, env.type});
  }
  EXPECT_EQ(registrations.size(), 300u);
  for (const auto& [child, n] : registrations) EXPECT_EQ(n, 1) << child;
  EXPECT_GT(short_breaks, 0u) << "the feed exercises the V3/V4 rule";
  EXPECT_GT(ends, 0u);
  for (auto& [child, events] : timeline) {
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    int open = 0;
    for (const auto& [date, type] : events) {
      if (type == EventType::kCarePeriodStarted) ++open;
      if (type == EventType::kCarePeriodEnded) {
        EXPECT_GT(open, 0) << child << " ends a period it never started";
        --open;
      }
    }
  }
}

TEST(FeedGenerator, RejectsAnEmptyWindow) {
  GeneratorOptions o;
  o.end = o.start;
  std::ostringstream out;
  EXPECT_EQ(GenerateFeed(o, out).error_class(), ErrorClass::kBadInput);
}

}  // namespace
}  // namespace careledger
