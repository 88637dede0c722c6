// M2 care leavers: who counts on a day and what their latest contact says, for the fold and
// for the counters ingest keeps.
//
// A child's care-leaver figures change only on a few days: when a spell of care starts or ends
// (being looked after, and the days looked after since the 14th birthday, which do not change
// while the child is not looked after), on the birthdays that cross an age band (16, 18, 19,
// 22, 26), on the day of each contact and on the day it falls out of the 12 months before.
// Between two such days every measure holds, so ingest keeps each stretch as counters (+1 where
// it starts, −1 where it ends) per measure and dimension value, and a query on D reads those
// cells, not the children.
#include <algorithm>
#include <array>
#include <memory>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

// The birthdays on which a care leaver's band or age band changes, or eligibility starts or ends.
constexpr int kLeaverBirthdays[] = {16, 18, 19, 22, 26};

// The first day whose 12 months before no longer hold a contact made on `made`.
Date ContactLapses(Date made) {
  Date d = AddMonths(made, 12);
  while (AddMonths(d - std::chrono::days{1}, -12) >= made) d -= std::chrono::days{1};
  while (AddMonths(d, -12) < made) d += std::chrono::days{1};
  return d;
}

// What a child contributes on a day: nothing, or one care leaver with its measures.
struct Standing {
  bool leaver = false;
  std::array<bool, kCareLeaverMeasures> measures{};
  std::array<std::string, std::size(kCareLeaverDimensions)> values;
  bool operator==(const Standing&) const = default;
};

Standing StandingOn(const ChildView& child, Date d) {
  Standing s;
  if (!IsCareLeaverAt(child, d)) return s;
  s.leaver = true;
  LeaverContact c = LatestContact(child, d);
  s.measures = {true, c.contact != nullptr, c.in_touch, c.suitable, c.eet};
  Extras extras{{"band", std::string(CareLeaverBand(*AgeAt(child, d)))}};
  for (size_t i = 0; i < s.values.size(); ++i) {
    s.values[i] = DimensionValue(kCareLeaverDimensions[i], child, d, extras);
  }
  return s;
}

}  // namespace

LeaverContact LatestContact(const ChildView& child, Date at) {
  LeaverContact out;
  Date year_ago = AddMonths(at, -12);
  for (const Fact* f : child.contacts) {
    Date d = f->occurred_at.date;
    if (d > year_ago && d <= at) out.contact = f;
  }
  if (!out.contact) return out;
  const EventData& d = out.contact->data;
  out.in_touch = d.in_touch == "YES";
  out.suitable = d.accommodation.size() == 2 && d.accommodation[1] == '1';
  out.eet = !d.activity.empty() && (d.activity[0] == 'F' || d.activity[0] == 'P');
  return out;
}

std::string CareLeaverCounter(size_t measure, std::string_view dimension) {
  return "leaver:" + std::to_string(measure) + ":" + std::string(dimension);
}

void AddCareLeaverCounters(const ChildView& child, Contribution& out) {
  if (!child.dob) return;
  // Never looked after after the 16th birthday: never a care leaver.
  Date sixteenth = BirthdayOf(child, 16);
  bool after_sixteen = false;
  for (const auto& s : child.spells) {
    if (!s.short_break && s.to.value_or(Date::max()) > sixteenth) after_sixteen = true;
  }
  if (!after_sixteen) return;
  std::vector<Date> days;
  for (const auto& s : child.spells) {
    days.push_back(s.from);
    if (s.to) days.push_back(*s.to);
  }
  for (int age : kLeaverBirthdays) days.push_back(BirthdayOf(child, age));
  for (const Fact* f : child.contacts) {
    days.push_back(f->occurred_at.date);
    days.push_back(ContactLapses(f->occurred_at.date));
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  // Before the 16th birthday nobody is a care leaver, and after the 26th nobody is.
  days.erase(std::remove_if(days.begin(), days.end(), [&](Date d) { return d < sixteenth; }),
             days.end());
  // One merger for each measure and dimension: a new contact changes the in-touch measures,
  // not the count of care leavers by band.
  std::vector<std::unique_ptr<SpanMerger>> spans;
  for (size_t m = 0; m < kCareLeaverMeasures; ++m) {
    for (std::string_view dim : kCareLeaverDimensions) {
      spans.push_back(
          std::make_unique<SpanMerger>(out, CareLeaverCounter(m, dim), child.partition));
    }
  }
  auto add = [&](const Standing& s, Date from, Date to) {
    if (!s.leaver) return;
    for (size_t m = 0; m < kCareLeaverMeasures; ++m) {
      if (!s.measures[m]) continue;
      for (size_t i = 0; i < s.values.size(); ++i) {
        spans[m * s.values.size() + i]->Add(from, to, s.values[i]);
      }
    }
  };
  Standing current;
  Date since{};
  for (Date d : days) {
    Standing now = StandingOn(child, d);
    if (now == current) continue;
    add(current, since, d);
    current = std::move(now);
    since = d;
  }
  add(current, since, Date::max());
}

}  // namespace careledger::metrics
