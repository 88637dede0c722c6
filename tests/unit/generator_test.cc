// The synthetic feed: the same seed gives the same bytes; every line but the ones meant to be
// malformed passes the envelope parser; each child's story holds together once corrections
// are applied. A large area against the national statistics is in generator_national_test.cc.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "careledger/events.h"
#include "careledger/producers.h"
#include "generator_test_support.h"

namespace careledger {
namespace {

// Checks every invariant of a feed; returns the number of valid distinct events.
size_t ExpectValidFeed(const GeneratorOptions& o, const std::string& feed,
                       const FeedSummary& summary) {
  EXPECT_TRUE(feed.empty() || feed.back() == '\n') << "every line ends with a newline";
  ParsedFeed p = Parse(feed);
  EXPECT_EQ(std::vector<uint64_t>(p.bad_lines.begin(), p.bad_lines.end()), summary.invalid_lines)
      << "exactly the lines meant to be malformed fail the parser";
  EXPECT_EQ(p.duplicates, summary.duplicates);
  EXPECT_EQ(p.events.size(), summary.events());
  EXPECT_EQ(p.superseded.size(), summary.superseding);
  EXPECT_EQ(p.retracted.size(), summary.retractions);
  Instant last{};
  for (const Envelope& e : p.events) {
    EXPECT_LE(last, e.recorded_at.instant) << "lines in the order they were recorded";
    last = e.recorded_at.instant;
    EXPECT_LT(e.occurred_at.date, o.end);
    EXPECT_LE(e.occurred_at.instant, e.recorded_at.instant) << "recorded before it happened";
  }
  size_t registered = 0;
  for (auto& [child, events] : p.by_child) {
    if (IsHomePlaceholder(child)) {
      for (const Envelope* e : events) EXPECT_EQ(e->type, EventType::kPlacementPoliceCallout);
      continue;
    }
    std::stable_sort(events.begin(), events.end(), [](const Envelope* a, const Envelope* b) {
      return a->occurred_at.date < b->occurred_at.date;
    });
    size_t registrations = std::count_if(events.begin(), events.end(), [](const Envelope* e) {
      return e->type == EventType::kChildRegistered;
    });
    EXPECT_EQ(registrations, 1u) << child;
    registered += registrations;
    Date dob = Date::min();
    for (const Envelope* e : events) {
      if (e->type == EventType::kChildRegistered) dob = *e->data.dob;
    }
    // Walk in occurred order: an end needs a period that started on an earlier date.
    int open = 0;
    Date opened{};
    for (const Envelope* e : events) {
      EXPECT_LE(dob, e->occurred_at.date) << child << " has an event before birth";
      if (e->type == EventType::kCarePeriodStarted) {
        EXPECT_EQ(open, 0) << child << " has two periods open at once";
        ++open;
        opened = e->occurred_at.date;
      }
      if (e->type == EventType::kCarePeriodEnded) {
        EXPECT_EQ(open, 1) << child << " ends a period it never started";
        EXPECT_LT(opened, e->occurred_at.date) << child << " ends a period on the day it started";
        open = 0;
      }
    }
  }
  EXPECT_EQ(registered, summary.children);
  return p.events.size();
}

TEST(FeedGenerator, SameSeedSameBytesOtherSeedOtherBytesAndOtherChildren) {
  const std::string base = Feed(Options(20000, 7));
  EXPECT_EQ(Feed(Options(20000, 7)), base);
  EXPECT_TRUE(Feed(Options(20000, 8)) != base) << "not printed: megabytes";
  // Child ids come from the seed alone: two seeds share no child.
  std::set<std::string> a, b;
  for (const auto& [child, events] : Parse(base).by_child) a.insert(child);
  for (const auto& [child, events] : Parse(Feed(Options(20000, 8))).by_child) {
    if (!IsHomePlaceholder(child)) {
      EXPECT_EQ(a.count(child), 0u) << child;
    }
  }
}

// Figures of one small feed, computed once and checked by hand against its shape: 20,000
// children give about 140 CLA and some 6,000 events.
TEST(FeedGenerator, CountsOfASmallAreaByType) {
  FeedSummary s;
  const std::string feed = Feed(Options(20000, 7), &s);
  // About 140 CLA at a time; 6 years of care history (3 before the window) and 3 of police
  // and youth justice records; 730 of the 20,000 ever known to a source.
  const std::map<EventType, uint64_t> expected = {
      {EventType::kChildRegistered, 733},
      {EventType::kCarePeriodStarted, 542},
      {EventType::kCarePlacementChanged, 810},
      {EventType::kCareLegalStatusChanged, 235},
      {EventType::kCarePeriodEnded, 406},
      {EventType::kCareLeaverContactRecorded, 275},
      {EventType::kExploitationRiskAssessed, 89},
      {EventType::kPlacementPoliceCallout, 128},
      {EventType::kMissingReported, 411},
      {EventType::kMissingReturned, 413},
      {EventType::kMissingReturnInterview, 372},
      {EventType::kOffenceRecorded, 334},
      {EventType::kOutcomeRecorded, 290},
      {EventType::kArrestRecorded, 138},
      {EventType::kYjsCaseOpened, 81},
      {EventType::kYjsCaseClosed, 66},
      {EventType::kCourtOutcomeRecorded, 52},
      {EventType::kEventRetracted, 6},
      {EventType::kCourtRemandDecided, 18},
  };
  EXPECT_EQ(s.events_by_type, expected);
  EXPECT_EQ(s.events(), 5399u);
  EXPECT_EQ(s.lines, 5450u);  // 5399 events + 49 re-sent + 2 malformed
  EXPECT_EQ(s.children, 730u);
  EXPECT_EQ(s.late, 104u);
  EXPECT_EQ(s.duplicates, 49u);
  EXPECT_EQ(s.superseding, 21u);
  EXPECT_EQ(s.retractions, 6u);
  EXPECT_EQ(s.invalid_lines.size(), 2u);
  EXPECT_EQ(ExpectValidFeed(Options(20000, 7), feed, s), s.events());
}

TEST(FeedGenerator, FeedsOfSeveralSeedsAreValid) {
  for (uint64_t seed : {2u, 3u, 99u}) {
    SCOPED_TRACE(seed);
    GeneratorOptions o = Options(30000, seed);
    FeedSummary s;
    std::string feed = Feed(o, &s);
    EXPECT_GT(s.children, 0u);
    ExpectValidFeed(o, feed, s);
  }
}

TEST(FeedGenerator, AFeedEndingTomorrowHoldsNothingRecordedInTheFuture) {
  // The demo's window ends tomorrow; late records and re-sends must still fall inside the
  // extract, or the reader's clock rule (recorded_at at most 24 h ahead) refuses them.
  GeneratorOptions o = Options(30000, 12);
  o.late_rate = 0.2;  // many records due long after their event
  o.end = Today() + std::chrono::days{1};
  o.start = Date{std::chrono::year_month_day{o.end} - std::chrono::years{1}};
  FeedSummary s;
  std::string feed = Feed(o, &s);
  ParsedFeed p = Parse(feed);
  EXPECT_EQ(std::vector<uint64_t>(p.bad_lines.begin(), p.bad_lines.end()), s.invalid_lines);
  const std::string last = FormatInstant(std::chrono::sys_days{o.end} - std::chrono::seconds{1});
  size_t at = 0, recorded = 0;
  while ((at = feed.find("\"recorded_at\":\"", at)) != std::string::npos) {
    at += 15;
    EXPECT_LE(feed.substr(at, 20), last);
    ++recorded;
  }
  EXPECT_GT(recorded, 1000u);
}

TEST(FeedGenerator, EachKindOfMalformedLineFailsTheParser) {
  GeneratorOptions o = Options(20000, 5);
  o.invalid_rate = 0.05;
  FeedSummary s;
  std::string feed = Feed(o, &s);
  ParsedFeed p = Parse(feed);
  EXPECT_EQ(std::vector<uint64_t>(p.bad_lines.begin(), p.bad_lines.end()), s.invalid_lines);
  std::set<std::string> kinds;
  for (const auto& [message, line] : p.error_kinds) {
    if (message.find("not in code list") != std::string::npos &&
        message.find("'type'") == std::string::npos) {
      kinds.insert("unknown code");
    }
    if (message == "field 'child_id': required") kinds.insert("missing field");
    if (message.find("occurred_at") != std::string::npos) kinds.insert("bad date");
    if (message == "field 'type': not in code list event_type") kinds.insert("unknown type");
    if (message.find("not valid JSON") != std::string::npos) kinds.insert("cut off");
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"unknown code", "missing field", "bad date",
                                          "unknown type", "cut off"}));
}

TEST(FeedGenerator, FaultRatesAtZeroLeaveTheStoryAndItsIdsAlone) {
  FeedSummary clean_summary, noisy_summary;
  const std::string clean = Feed(NoFaults(Options(20000, 7)), &clean_summary);
  EXPECT_EQ(clean_summary.late + clean_summary.duplicates + clean_summary.superseding +
                clean_summary.retractions + clean_summary.invalid_lines.size(),
            0u);
  GeneratorOptions noisy_options = Options(20000, 7);
  noisy_options.late_rate = 0;  // a late line differs in recorded_at
  const std::string noisy = Feed(noisy_options, &noisy_summary);
  EXPECT_EQ(clean_summary.children, noisy_summary.children);
  std::set<std::string> noisy_lines;
  for (auto& line : SplitLines(noisy)) noisy_lines.insert(line);
  // A clean line is missing from the noisy feed only where the noisy one was superseded: its
  // first version carried a mistyped date.
  size_t missing = 0;
  for (const auto& line : SplitLines(clean)) missing += noisy_lines.count(line) == 0;
  EXPECT_EQ(missing, noisy_summary.superseding);
}

TEST(FeedGenerator, ANarrowWindowKeepsEveryEventBeforeItsEnd) {
  GeneratorOptions o = Options(20000, 5);
  o.start = *ParseDate("2024-01-01");
  o.end = *ParseDate("2024-03-01");
  FeedSummary s;
  std::string feed = Feed(o, &s);
  ExpectValidFeed(o, feed, s);
  GeneratorOptions one_day = Options(20000, 5);
  one_day.start = *ParseDate("2024-02-29");
  one_day.end = *ParseDate("2024-03-01");
  feed = Feed(one_day, &s);
  ExpectValidFeed(one_day, feed, s);
}

TEST(FeedGenerator, NoFieldCouldHoldANameOrAnAddress) {
  const std::string feed = Feed(Options(20000, 11));
  const std::regex key(R"re("([A-Za-z_.]+)"\s*:)re");
  std::set<std::string> keys;
  for (auto it = std::sregex_iterator(feed.begin(), feed.end(), key); it != std::sregex_iterator();
       ++it) {
    keys.insert((*it)[1].str());
  }
  // Exactly the envelope and the fields of spec/events.md, nothing else.
  EXPECT_EQ(keys, (std::set<std::string>{"event_id",
                                         "type",
                                         "schema_version",
                                         "source",
                                         "child_id",
                                         "occurred_at",
                                         "recorded_at",
                                         "supersedes",
                                         "data",
                                         "dob",
                                         "sex",
                                         "ethnicity",
                                         "prior_formal_outcomes",
                                         "legal_status",
                                         "placement",
                                         "provider",
                                         "home_id",
                                         "out_of_area",
                                         "reason",
                                         "in_touch",
                                         "activity",
                                         "accommodation",
                                         "kind",
                                         "level",
                                         "episode_id",
                                         "category",
                                         "risk",
                                         "from_home_id",
                                         "offered",
                                         "accepted",
                                         "held_at",
                                         "offence_id",
                                         "offence_group",
                                         "offence_type",
                                         "knife_related",
                                         "at_placement",
                                         "home_office_outcome",
                                         "disposal",
                                         "decided_at",
                                         "arrested_at",
                                         "remanded_to",
                                         "case_id",
                                         "intervention",
                                         "target_event_id"}));
}

TEST(FeedGenerator, NoChildrenGiveAnEmptyFeedAndBadOptionsAreRefused) {
  EXPECT_EQ(Feed(Options(0, 1)), "");
  std::ostringstream out;
  EXPECT_EQ(GenerateFeed(Options(-1, 1), out).error_class(), ErrorClass::kBadInput);
  GeneratorOptions empty_window;
  empty_window.end = empty_window.start;
  EXPECT_EQ(GenerateFeed(empty_window, out).error_class(), ErrorClass::kBadInput);
  GeneratorOptions bad_rate;
  bad_rate.late_rate = 1.5;
  EXPECT_EQ(GenerateFeed(bad_rate, out).error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace careledger
