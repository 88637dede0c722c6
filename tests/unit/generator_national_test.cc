// The synthetic feed at the scale of a large area against the national shapes the generator
// promises: care spells, legal statuses and placements, ages, and the feed faults' rates.
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

}  // namespace
}  // namespace careledger
