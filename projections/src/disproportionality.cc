// M12 disproportionality: its denominators, the children aged 10-17 known to the store on the
// period's first day by the group compared, kept by ingest as counters.
//
// A registered child counts from its 10th birthday to its 18th. Within those years its sex and
// ethnicity hold, and its cohort (cla, care_leaver, other) changes only where a spell of care
// starts or ends and on the 16th birthday (from which a child who has left care can be a care
// leaver): ingest judges the child on each of those days, as the fold does, and keeps each
// stretch, as counters for the live figure (a query reads the cells of the day asked about, not
// the children) and as span rows for the figure as known at a past time.
#include <algorithm>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

constexpr int kFirstBirthday = 10, kSixteenth = 16, kEndBirthday = 18;

}  // namespace

std::string AgedTenToSeventeenCounter(std::string_view dimension) {
  return "aged_10_17:" + std::string(dimension);
}

std::vector<AgedTenToSeventeen> AgedTenToSeventeenStretches(const ChildView& child) {
  std::vector<AgedTenToSeventeen> out;
  if (!child.registered || !child.dob) return out;
  const Date first = BirthdayOf(child, kFirstBirthday), end = BirthdayOf(child, kEndBirthday);
  std::vector<Date> days{first, BirthdayOf(child, kSixteenth)};
  for (const auto& s : child.spells) {
    days.push_back(s.from);
    if (s.to) days.push_back(*s.to);
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  days.erase(
      std::remove_if(days.begin(), days.end(), [&](Date d) { return d < first || d >= end; }),
      days.end());
  for (Date d : days) {
    std::string cohort = DimensionValue("cohort", child, d, {});
    if (!out.empty() && out.back().cohort == cohort) continue;
    if (!out.empty()) out.back().to = d;
    out.push_back({d, end, std::move(cohort)});
  }
  return out;
}

void AddAgedTenToSeventeenCounters(const ChildView& child, Contribution& out) {
  const auto stretches = AgedTenToSeventeenStretches(child);
  if (stretches.empty()) return;
  const Date first = stretches.front().from, end = stretches.back().to;
  for (std::string_view dim : kAgedTenToSeventeenDimensions) {
    SpanMerger spans(out, AgedTenToSeventeenCounter(dim), child.partition);
    if (dim != "cohort") {
      spans.Add(first, end, DimensionValue(dim, child, first, {}));
      continue;
    }
    for (const auto& s : stretches) spans.Add(s.from, s.to, s.cohort);
  }
}

}  // namespace careledger::metrics
