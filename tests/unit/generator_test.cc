// The synthetic feed, adding to feed_generator_test.cc: stable size, other seeds and narrow
// windows still valid, each child registered before anything else happens to it, every end
// after a start, and no field that could hold a name or an address.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "careledger/events.h"
#include "careledger/producers.h"

namespace careledger {
namespace {

GeneratorOptions Options(int children, uint64_t seed) {
  GeneratorOptions o;
  o.children = children;
  o.seed = seed;
  return o;
}

std::string Feed(const GeneratorOptions& o) {
  std::ostringstream out;
  Status s = GenerateFeed(o, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out.str();
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Checks every invariant of a feed; returns the number of events.
size_t ExpectValidFeed(const GeneratorOptions& o, const std::string& feed) {
  EXPECT_TRUE(feed.empty() || feed.back() == '\n') << "every line ends with a newline";
  EnvelopeParser parser;
  Envelope env;
  Instant last_recorded{};
  std::map<std::string, int> registrations;
  std::map<std::string, std::vector<std::pair<Date, EventType>>> timeline;
  size_t events = 0;
  for (const std::string& line : SplitLines(feed)) {
    Status s = parser.Parse(line, env);
    EXPECT_TRUE(s.ok()) << s.ToString() << " in line " << events + 1;
    if (!s.ok()) continue;
    ++events;
    EXPECT_LE(last_recorded, env.recorded_at.instant) << "line " << events;
    last_recorded = env.recorded_at.instant;
    EXPECT_LT(env.occurred_at.date, o.end) << "line " << events;
    EXPECT_LE(env.occurred_at.instant, env.recorded_at.instant) << "recorded before it happened";
    if (env.type == EventType::kChildRegistered) ++registrations[env.child_id];
    timeline[env.child_id].push_back({env.occurred_at.date, env.type});
  }
  EXPECT_EQ(registrations.size(), size_t(o.children));
  for (const auto& [child, n] : registrations) EXPECT_EQ(n, 1) << child;
  for (auto& [child, events_of_child] : timeline) {
    EXPECT_EQ(registrations.count(child), 1u) << child << " has events but no registration";
    std::stable_sort(events_of_child.begin(), events_of_child.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    Date registered = Date::max();
    for (const auto& [date, type] : events_of_child) {
      if (type == EventType::kChildRegistered) registered = std::min(registered, date);
    }
    // Walk in occurred order: an end needs a period that started on an earlier date.
    std::vector<Date> open_starts;
    for (const auto& [date, type] : events_of_child) {
      EXPECT_LE(registered, date) << child << " has an event before its registration";
      if (type == EventType::kCarePeriodStarted) open_starts.push_back(date);
      if (type == EventType::kCarePeriodEnded) {
        if (open_starts.empty()) {
          ADD_FAILURE() << child << " ends a period it never started";
          continue;
        }
        EXPECT_LT(open_starts.back(), date) << child << " ends a period on the day it started";
        open_starts.pop_back();
      }
    }
    EXPECT_LE(open_starts.size(), 1u) << child << " has two periods open at once";
  }
  return events;
}

TEST(FeedGenerator, FiftyChildrenGiveTheSameLineCountEveryRun) {
  std::string first = Feed(Options(50, 7));
  std::string second = Feed(Options(50, 7));
  size_t lines = SplitLines(first).size();
  EXPECT_EQ(SplitLines(second).size(), lines);
  EXPECT_GE(lines, 100u) << "a registration and at least one care event for most children";
  EXPECT_EQ(first, second);
}

TEST(FeedGenerator, OtherSeedsAndSizesGiveOtherFeeds) {
  std::string base = Feed(Options(50, 7));
  EXPECT_NE(Feed(Options(50, 8)), base);
  EXPECT_NE(Feed(Options(51, 7)), base);
  // Child ids come from the seed alone: two seeds share no child.
  EnvelopeParser parser;
  Envelope env;
  std::set<std::string> children_a, children_b;
  for (const auto& line : SplitLines(Feed(Options(50, 7)))) {
    ASSERT_TRUE(parser.Parse(line, env).ok());
    children_a.insert(env.child_id);
  }
  for (const auto& line : SplitLines(Feed(Options(50, 8)))) {
    ASSERT_TRUE(parser.Parse(line, env).ok());
    EXPECT_EQ(children_a.count(env.child_id), 0u) << env.child_id;
    children_b.insert(env.child_id);
  }
  EXPECT_EQ(children_a.size(), 50u);
  EXPECT_EQ(children_b.size(), 50u);
}

TEST(FeedGenerator, FeedsOfSeveralSeedsAreValid) {
  for (uint64_t seed : {2u, 3u, 99u}) {
    SCOPED_TRACE(seed);
    GeneratorOptions o = Options(120, seed);
    EXPECT_GT(ExpectValidFeed(o, Feed(o)), 120u);
  }
}

TEST(FeedGenerator, ANarrowWindowKeepsEveryEventBeforeItsEnd) {
  GeneratorOptions o = Options(200, 5);
  o.start = *ParseDate("2024-01-01");
  o.end = *ParseDate("2024-03-01");
  std::string feed = Feed(o);
  ExpectValidFeed(o, feed);
  GeneratorOptions one_day = Options(40, 5);
  one_day.start = *ParseDate("2024-02-29");
  one_day.end = *ParseDate("2024-03-01");
  ExpectValidFeed(one_day, Feed(one_day));
}

TEST(FeedGenerator, NoFieldCouldHoldANameOrAnAddress) {
  const std::string feed = Feed(Options(200, 11));
  const std::regex key(R"re("([A-Za-z_.]+)"\s*:)re");
  std::set<std::string> keys;
  for (auto it = std::sregex_iterator(feed.begin(), feed.end(), key); it != std::sregex_iterator();
       ++it) {
    keys.insert((*it)[1].str());
  }
  for (const auto& k : keys) {
    EXPECT_EQ(k.find("name"), std::string::npos) << k;
    EXPECT_EQ(k.find("address"), std::string::npos) << k;
    EXPECT_EQ(k.find("postcode"), std::string::npos) << k;
  }
  // Exactly the envelope and the care fields, nothing else.
  EXPECT_EQ(keys, (std::set<std::string>{"event_id", "type", "schema_version", "source", "child_id",
                                         "occurred_at", "recorded_at", "data", "dob", "sex",
                                         "ethnicity", "legal_status", "placement", "provider",
                                         "home_id", "out_of_area", "reason"}));
}

TEST(FeedGenerator, NoChildrenGiveAnEmptyFeedAndNegativeIsRefused) {
  EXPECT_EQ(Feed(Options(0, 1)), "");
  std::ostringstream out;
  EXPECT_EQ(GenerateFeed(Options(-1, 1), out).error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace careledger
