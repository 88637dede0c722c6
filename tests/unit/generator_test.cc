// The synthetic feed: the same seed gives the same bytes; every line but the ones meant to be
// malformed passes the envelope parser; each child's story holds together once corrections
// are applied; and a large area looks like national statistics with the feed faults at the
// rates asked for.
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

namespace careledger {
namespace {

GeneratorOptions Options(int children, uint64_t seed) {
  GeneratorOptions o;
  o.children = children;
  o.seed = seed;
  return o;
}

GeneratorOptions NoFaults(GeneratorOptions o) {
  o.late_rate = o.duplicate_rate = o.correction_rate = o.invalid_rate = 0;
  return o;
}

std::string Feed(const GeneratorOptions& o, FeedSummary* summary = nullptr) {
  std::ostringstream out;
  Status s = GenerateFeed(o, out, summary);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out.str();
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool IsHomePlaceholder(const std::string& child_id) {
  return child_id[0] == 'H';
}

// The feed as a reader sees it once re-sent lines are dropped and corrections applied.
struct ParsedFeed {
  std::vector<Envelope> events;  // every valid line once, in feed order
  std::vector<std::string> raw;  // the line of each of `events`
  std::set<std::string> superseded, retracted;
  std::set<size_t> bad_lines;                      // 1-based, failed the parser
  std::map<std::string, std::string> error_kinds;  // parser message → a line number
  size_t duplicates = 0;
  // Events that stand after corrections, by child, as they would be folded.
  std::map<std::string, std::vector<const Envelope*>> by_child;
};

ParsedFeed Parse(const std::string& feed) {
  ParsedFeed p;
  EnvelopeParser parser;
  std::map<std::string, std::string> seen;  // event_id → line
  size_t number = 0;
  for (const std::string& line : SplitLines(feed)) {
    ++number;
    Envelope env;
    Status s = parser.Parse(line, env);
    if (!s.ok()) {
      p.bad_lines.insert(number);
      p.error_kinds.emplace(s.message(), std::to_string(number));
      continue;
    }
    auto [it, fresh] = seen.emplace(env.event_id, line);
    if (!fresh) {
      EXPECT_EQ(it->second, line) << "line " << number << " re-sends an id with other bytes";
      ++p.duplicates;
      continue;
    }
    if (!env.supersedes.empty()) p.superseded.insert(env.supersedes);
    p.events.push_back(std::move(env));
    p.raw.push_back(line);
  }
  // event.retracted's target is in data, which Envelope does not carry: read it from the line.
  simdjson::dom::parser json;
  for (size_t i = 0; i < p.events.size(); ++i) {
    if (p.events[i].type != EventType::kEventRetracted) continue;
    simdjson::padded_string padded(p.raw[i]);
    std::string_view target;
    EXPECT_FALSE(json.parse(padded)["data"]["target_event_id"].get(target));
    p.retracted.insert(std::string(target));
  }
  for (const Envelope& e : p.events) {
    if (p.superseded.count(e.event_id) || p.retracted.count(e.event_id) ||
        e.type == EventType::kEventRetracted) {
      continue;
    }
    p.by_child[e.child_id].push_back(&e);
  }
  return p;
}

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
      {EventType::kOffenceRecorded, 335},
      {EventType::kOutcomeRecorded, 290},
      {EventType::kArrestRecorded, 138},
      {EventType::kYjsCaseOpened, 81},
      {EventType::kYjsCaseClosed, 65},
      {EventType::kCourtOutcomeRecorded, 53},
      {EventType::kEventRetracted, 6},
  };
  EXPECT_EQ(s.events_by_type, expected);
  EXPECT_EQ(s.events(), 5382u);
  EXPECT_EQ(s.lines, 5433u);  // 5382 events + 49 re-sent + 2 malformed
  EXPECT_EQ(s.children, 730u);
  EXPECT_EQ(s.late, 104u);
  EXPECT_EQ(s.duplicates, 49u);
  EXPECT_EQ(s.superseding, 21u);
  EXPECT_EQ(s.retractions, 6u);
  EXPECT_EQ(s.invalid_lines.size(), 2u);
  EXPECT_EQ(ExpectValidFeed(Options(20000, 7), feed, s), s.events());
}

// A care period's stretch with one legal status and placement, as the statutory return sees it.
struct Spell {
  Date from, to;
  std::string legal_status, placement, provider;
  bool out_of_area = false;
};

std::vector<Spell> Spells(std::vector<const Envelope*> events) {
  auto rank = [](EventType t) {
    return t == EventType::kCarePeriodStarted ? 0 : t == EventType::kCarePeriodEnded ? 2 : 1;
  };
  std::stable_sort(events.begin(), events.end(), [&](const Envelope* a, const Envelope* b) {
    return std::pair(a->occurred_at.date, rank(a->type)) <
           std::pair(b->occurred_at.date, rank(b->type));
  });
  std::vector<Spell> spells;
  std::optional<Spell> open;
  for (const Envelope* e : events) {
    Date d = e->occurred_at.date;
    switch (e->type) {
      case EventType::kCarePeriodStarted:
        open = Spell{d,
                     Date::max(),
                     e->data.legal_status,
                     e->data.placement,
                     e->data.provider,
                     *e->data.out_of_area};
        break;
      case EventType::kCarePlacementChanged:
      case EventType::kCareLegalStatusChanged:
      case EventType::kCarePeriodEnded:
        if (!open) break;
        open->to = d;
        spells.push_back(*open);
        open->from = d;
        open->to = Date::max();
        if (e->type == EventType::kCarePeriodEnded) open.reset();
        if (e->type == EventType::kCarePlacementChanged) {
          open->placement = e->data.placement;
          open->provider = e->data.provider;
          open->out_of_area = *e->data.out_of_area;
        }
        if (e->type == EventType::kCareLegalStatusChanged) {
          open->legal_status = e->data.legal_status;
        }
        break;
      default:
        break;
    }
  }
  if (open) spells.push_back(*open);
  std::erase_if(spells, [](const Spell& s) { return IsShortBreakLegalStatus(s.legal_status); });
  return spells;
}

const Spell* SpellAt(const std::vector<Spell>& spells, Date d) {
  for (const Spell& s : spells) {
    if (s.from <= d && d < s.to) return &s;
  }
  return nullptr;
}

double Share(double part, double whole) {
  return whole > 0 ? 100.0 * part / whole : 0;
}

int AgeOn(Date dob, Date d) {
  std::chrono::year_month_day b{dob}, t{d};
  int age = int(t.year()) - int(b.year());
  if (std::pair(unsigned(t.month()), unsigned(t.day())) <
      std::pair(unsigned(b.month()), unsigned(b.day()))) {
    --age;
  }
  return age;
}

// A large area against the national shapes the generator promises, with tolerances: the
// exact figures of one small feed are in CountsOfASmallAreaByType.
TEST(FeedGenerator, ALargeAreaLooksLikeTheNationalFigures) {
  const int kChildren = 400000;
  GeneratorOptions o = Options(kChildren, 2024);
  FeedSummary summary;
  const std::string feed = Feed(o, &summary);
  ParsedFeed p = Parse(feed);
  std::map<std::string, std::vector<Spell>> spells;
  std::map<std::string, Date> dob;
  for (const auto& [child, events] : p.by_child) {
    spells[child] = Spells(events);
    for (const Envelope* e : events) {
      if (e->type == EventType::kChildRegistered) dob[child] = *e->data.dob;
    }
  }

  // M1 at two 31 Marches: about 70 per 10,000; mostly foster care, 1 in 6 in children's homes.
  for (const char* day : {"2024-03-31", "2025-03-31"}) {
    SCOPED_TRACE(day);
    Date at = *ParseDate(day);
    double cla = 0, homes = 0, foster = 0, private_or_voluntary = 0, away = 0;
    std::map<std::string, double> legal;
    for (const auto& [child, ss] : spells) {
      const Spell* s = SpellAt(ss, at);
      if (!s) continue;
      ++cla;
      homes += s->placement == "K2";
      foster += s->placement[0] == 'U';
      private_or_voluntary += s->provider == "PR4" || s->provider == "PR5";
      away += s->out_of_area;
      ++legal[s->legal_status];
    }
    double per_10000 = cla * 10000 / kChildren;
    EXPECT_GE(per_10000, 50);
    EXPECT_LE(per_10000, 90);
    EXPECT_GE(Share(homes, cla), 10);
    EXPECT_LE(Share(homes, cla), 25);
    EXPECT_GE(Share(foster, cla), 55);
    EXPECT_LE(Share(foster, cla), 80);
    EXPECT_GE(Share(private_or_voluntary, cla), 25);
    EXPECT_LE(Share(private_or_voluntary, cla), 55);
    EXPECT_GE(Share(away, cla), 20);
    EXPECT_LE(Share(away, cla), 50);
    EXPECT_GE(Share(legal["C2"] + legal["C1"] + legal["V2"] + legal["E1"], cla), 95);
    EXPECT_GT(legal["C2"], legal["V2"]);
    EXPECT_GT(legal["V2"], legal["C1"]);
  }

  // M7 over a year: about 1 in 10 children in care go missing, a good share of them 3+ times.
  const Date year_from = *ParseDate("2024-04-01"), year_to = *ParseDate("2025-04-01");
  std::map<std::string, int> episodes;
  double interviews = 0, within_72h = 0, later = 0, declined = 0;
  std::map<std::string, double> groups, tiers_seen;
  double offences_cla = 0, offences_other = 0, at_placement = 0;
  std::set<std::string> charged, to_court;
  std::map<std::string, Instant> returned;  // episode_id → return
  std::vector<std::pair<std::string, Instant>> held_interviews;
  simdjson::dom::parser json;
  for (size_t i = 0; i < p.events.size(); ++i) {
    const Envelope& e = p.events[i];
    if (p.superseded.count(e.event_id) || p.retracted.count(e.event_id)) continue;
    simdjson::padded_string padded(p.raw[i]);
    simdjson::dom::element data = json.parse(padded)["data"];
    Date d = e.occurred_at.date;
    if (e.type == EventType::kMissingReported && year_from <= d && d < year_to) {
      ++episodes[e.child_id];
    }
    if (e.type == EventType::kMissingReturned) {
      returned[std::string(data["episode_id"].get_string().value())] = e.occurred_at.instant;
    }
    if (e.type == EventType::kMissingReturnInterview) {
      ++interviews;
      bool offered = data["offered"].get_bool(), accepted = data["accepted"].get_bool();
      declined += offered && !accepted;
      std::string_view held;
      if (!data["held_at"].get(held)) {
        held_interviews.push_back(
            {std::string(data["episode_id"].get_string().value()), ParseTimestamp(held)->instant});
      }
    }
    if (e.type == EventType::kOffenceRecorded) {
      std::string_view group = data["offence_group"].get_string();
      ++groups[std::string(group)];
      int age = AgeOn(dob.at(e.child_id), d);
      EXPECT_GE(age, 10);
      EXPECT_LE(age, 17);
      (SpellAt(spells[e.child_id], d) ? offences_cla : offences_other) += 1;
      at_placement += data["at_placement"].get_bool().value();
    }
    if (e.type == EventType::kOutcomeRecorded || e.type == EventType::kCourtOutcomeRecorded) {
      std::string_view disposal, offence = data["offence_id"].get_string();
      if (!data["disposal"].get(disposal)) tiers_seen[std::string(disposal)] += 1;
      int64_t code = 0;
      if (!data["home_office_outcome"].get(code) && code == 1) charged.insert(std::string(offence));
      if (e.type == EventType::kCourtOutcomeRecorded) to_court.insert(std::string(offence));
    }
  }
  double cla_in_year = 0, missing = 0, repeatedly = 0;
  for (const auto& [child, ss] : spells) {
    bool in_care = std::any_of(
        ss.begin(), ss.end(), [&](const Spell& s) { return s.from < year_to && year_from < s.to; });
    if (!in_care) continue;
    ++cla_in_year;
    missing += episodes[child] > 0;
    repeatedly += episodes[child] >= 3;
  }
  EXPECT_GE(Share(missing, cla_in_year), 6);
  EXPECT_LE(Share(missing, cla_in_year), 16);
  EXPECT_GE(Share(repeatedly, missing), 20);
  for (const auto& [episode, held] : held_interviews) {
    (held - returned.at(episode) <= std::chrono::hours{72} ? within_72h : later) += 1;
  }
  EXPECT_GE(Share(declined, interviews), 15);
  EXPECT_GE(Share(within_72h, interviews), 15);
  EXPECT_GE(Share(later, interviews), 15);

  // Offences: the national group mix within a third; children in care several times as likely
  // to offend as other 10–17 year olds (child-years in the window as the denominator).
  // The national mix is the reference file's (schemas/reference).
  ASSERT_TRUE(NationalYouthOffences().ok());
  std::map<std::string, double> national;
  for (const auto& [g, n] : NationalYouthOffences()->by_group) national[g] = double(n);
  double national_total = 0, local_total = offences_cla + offences_other;
  for (const auto& [g, n] : national) national_total += n;
  for (const auto& [g, n] : national) {
    SCOPED_TRACE(g);
    EXPECT_NEAR(groups[g] / local_total, n / national_total, 0.35 * n / national_total);
  }
  double cla_years = 0;
  for (const auto& [child, ss] : spells) {
    if (!dob.count(child)) continue;
    Date from =
        std::max(o.start, Date{std::chrono::year_month_day{dob[child]} + std::chrono::years{10}});
    Date to =
        std::min(o.end, Date{std::chrono::year_month_day{dob[child]} + std::chrono::years{18}});
    for (const Spell& s : ss) {
      Date a = std::max(from, s.from), b = std::min(to, s.to);
      if (a < b) cla_years += double((b - a).count()) / 365.25;
    }
  }
  double population_years = kChildren * 8.0 / 18.0 * 3.0;
  double ratio = (offences_cla / cla_years) / (offences_other / (population_years - cla_years));
  EXPECT_GE(ratio, 3);
  EXPECT_LE(ratio, 10);
  EXPECT_GT(at_placement, 0.1 * offences_cla);
  // Outcomes at every tier of spec/events.md; every court outcome follows a charge.
  for (const char* d : {"nfa", "withdrawn", "community_resolution_police", "outcome_22",
                        "youth_caution", "youth_conditional_caution", "referral_order",
                        "youth_rehabilitation_order", "detention_training_order"}) {
    EXPECT_GT(tiers_seen[d], 0) << d;
  }
  for (const auto& offence : to_court) EXPECT_EQ(charged.count(offence), 1u) << offence;

  // What real feeds do, at the rates asked for (within 30 % of each).
  const double story = double(summary.events() - summary.superseding - 2 * summary.retractions);
  auto near = [&](double measured, double rate) {
    EXPECT_GE(measured / story, rate * 0.7);
    EXPECT_LE(measured / story, rate * 1.3);
  };
  near(double(p.duplicates), o.duplicate_rate);
  near(double(summary.superseding + summary.retractions), o.correction_rate);
  near(double(p.bad_lines.size()), o.invalid_rate);
  double late = 0;
  std::set<std::string> copies = p.retracted;
  for (const Envelope& e : p.events) {
    if (!e.supersedes.empty() || copies.count(e.event_id) || e.type == EventType::kEventRetracted) {
      continue;
    }
    late += e.recorded_at.instant - e.occurred_at.instant >= std::chrono::days{21};
  }
  near(late, o.late_rate);
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
