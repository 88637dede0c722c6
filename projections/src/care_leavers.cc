// M2 care leavers (docs/metrics.md: `care-leavers` in "The metrics", M2 in "What ingest keeps"):
// who counts on a day and what their latest contact says, for the fold and for the counters ingest
// keeps, the span row ingest keeps for the years a child may be a care leaver, and the query that
// reads them.
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
  out.in_touch = IsInTouch(d.in_touch);
  out.suitable = IsSuitableAccommodation(d.accommodation);
  out.eet = IsInEducationEmploymentOrTraining(d.activity);
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

// IsCareLeaverAt needs an age of 16-25, care after the 16th birthday and not being looked
// after: so a day on or after the end of a spell that ended after the 16th birthday, and before
// the 26th. The day either side keeps a 29 February birthday inside whichever way it is
// counted.
std::vector<KeptRow> CareLeaverYearsRows(const ChildView& child) {
  if (!child.dob) return {};
  Date sixteenth = AddMonths(*child.dob, 16 * 12) - std::chrono::days{1};
  Date twenty_sixth = AddMonths(*child.dob, 26 * 12) + std::chrono::days{1};
  std::optional<Date> first_left;
  for (const auto& s : child.spells) {
    if (!s.short_break && s.to && *s.to > sixteenth)
      first_left = std::min(first_left.value_or(*s.to), *s.to);
  }
  if (!first_left || *first_left >= twenty_sixth) return {};
  return {SpanRow(RowKind::kCareLeaverYears, child, *first_left, twenty_sixth, "")};
}

namespace {

std::vector<Figure> CareLeaverFigures(const std::vector<int64_t>& n) {
  return {Figure::Count(n[0]), Figure::Count(n[1]),
          Figure::Percent(n[2], n[1]).Columns(std::nullopt, 1),
          Figure::Percent(n[3], n[1]).Columns(std::nullopt, 1),
          Figure::Percent(n[4], n[1]).Columns(std::nullopt, 1)};
}

const std::vector<std::string> kCareLeaverColumns = {
    "care_leavers", "with_contact_12m", "in_touch_pct", "suitable_accommodation_pct", "eet_pct"};

bool CareLeaversFromCounters(Run& r, Status& status) {
  if (r.query.known_at || r.query.fold || r.cell || r.by.size() > 1) return false;
  std::string_view dim = r.by.empty() ? "band" : std::string_view(r.by[0]);
  // Dimensions with one value for every care leaver: the total, under that value.
  std::optional<std::string> only;
  if (dim == "cohort") only = "care_leaver";
  if (dim == "legal_status" || dim == "placement" || dim == "provider" || dim == "area" ||
      dim == "home_id") {
    only = "not_looked_after";
  }
  if (only) dim = "band";
  // Read from the counters of the dimension they are a function of.
  std::function<std::string(std::string_view)> value_of = [](std::string_view v) {
    return std::string(v);
  };
  if (dim == "age_band") {
    dim = "band";
    value_of = [](std::string_view band) {
      return std::string(band == "18" || band == "19-21" ? "18-21" : band);
    };
  } else if (dim == "ethnicity_group") {
    dim = "ethnicity";
    value_of = GroupOfEthnicity;
  }
  if (std::find(std::begin(kCareLeaverDimensions), std::end(kCareLeaverDimensions), dim) ==
      std::end(kCareLeaverDimensions)) {
    return false;
  }
  std::map<std::string, std::vector<int64_t>> rows;
  for (size_t m = 0; m < kCareLeaverMeasures; ++m) {
    auto counts = r.CountersOn(r.at, CareLeaverCounter(m, dim));
    if (!counts.ok()) {
      status = counts.status();
      return true;
    }
    for (const auto& [value, n] : *counts) {
      std::string group = r.by.empty() ? "" : only.value_or(value_of(value));
      auto& row = rows[group];
      row.resize(kCareLeaverMeasures);
      row[m] += n;
    }
  }
  r.table.dimensions = r.by;
  r.table.measures = kCareLeaverColumns;
  if (r.by.empty() && rows.empty()) rows[""].resize(kCareLeaverMeasures);
  for (const auto& [group, n] : rows) {
    if (n[0] == 0 && !r.by.empty()) continue;  // nobody there (the fold makes no row)
    std::vector<std::string> groups;
    if (!r.by.empty()) groups.push_back(group);
    r.table.rows.push_back({std::move(groups), CareLeaverFigures(n)});
  }
  return true;
}

}  // namespace

// Live, by nothing or one dimension, from the counters ingest keeps (AddCareLeaverCounters);
// as known at a time, by several dimensions, for lineage and as the oracle, the fold over the
// children whose span rows say they may be care leavers on the day.
Status CareLeavers(Run& r) {
  if (Status s = Status::Ok(); CareLeaversFromCounters(r, s)) return s;
  enum { kLeavers, kContact, kInTouch, kSuitable, kEet };
  auto acc = r.NewAccumulator({"care_leavers", "with_contact", "in_touch", "suitable_accommodation",
                               "in_education_employment_training"});
  CARELEDGER_RETURN_IF_ERROR(
      r.ChildrenIn(RowKind::kCareLeaverYears, r.AtDay(), [&](const ChildView& c) {
        if (!IsCareLeaverAt(c, r.at)) return;
        acc.Begin();
        Extras extras{{"band", std::string(CareLeaverBand(*AgeAt(c, r.at)))}};
        auto key = acc.Key(c, r.at, extras);
        // Each measure names what the child counts by: the registration and the care that make
        // a care leaver, the contact, and what set the child's other dimensions.
        auto count = [&](size_t measure, const std::vector<const Fact*>& facts) {
          acc.AddFacts(key, measure, 1, facts);
          acc.NoteJudged(key, measure, c, r.at);
        };
        std::vector<const Fact*> leaver{c.registered};
        for (const CareSpell* s : CareLeaverSpells(c, r.at)) {
          leaver.insert(leaver.end(), s->facts.begin(), s->facts.end());
        }
        count(kLeavers, leaver);
        LeaverContact contact = LatestContact(c, r.at);
        if (!contact.contact) return;
        count(kContact, {contact.contact});
        if (contact.in_touch) count(kInTouch, {contact.contact});
        if (contact.suitable) count(kSuitable, {contact.contact});
        if (contact.eet) count(kEet, {contact.contact});
      }));
  r.Emit(acc, kCareLeaverColumns,
         [](const RowAccumulator& a) { return CareLeaverFigures(a.counts); });
  return Status::Ok();
}

}  // namespace careledger::metrics
