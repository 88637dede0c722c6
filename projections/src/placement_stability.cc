// M15 placement stability, as DfE's "Children looked after in England" measures it
// (docs/metrics.md: `placement-stability` in "The metrics", M15 in "What ingest keeps"): of the
// children looked after on 31 March, those with three or more placements in the year; of those
// aged under 16 and looked after continuously for two and a half years, those living with the
// same carer for two years. Ingest keeps a row per child and 31 March it is looked after on,
// with the child's dimensions that day, so that a year's figures are the rows of one day.
#include <algorithm>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

// A temporary placement (T0-T4: hospital, holiday, a carer's holiday, seven days or less) is
// not counted as a placement, and coming back from it to the carer before is no move.
bool IsTemporary(const CareSpell& s) {
  return s.placement.size() == 2 && s.placement[0] == 'T' && s.placement[1] >= '0' &&
         s.placement[1] <= '4';
}

// Whether two stretches of care are one carer: the same home when the source names homes,
// otherwise the same placement type and provider. A change of legal status alone, or a foster
// placement becoming a placement for adoption with the same carers, is no move.
bool SameCarer(const CareSpell& a, const CareSpell& b) {
  if (!a.home_id.empty() || !b.home_id.empty()) return a.home_id == b.home_id;
  return a.placement == b.placement && a.provider == b.provider;
}

// The child's placements: its stretches of care (short breaks and temporary placements left
// out), a stretch with the carer of the one before it (the same period of care, or a period
// that begins the day the last ended) continuing it. Each is [from, to).
struct Placement {
  Date from;
  std::optional<Date> to;
  std::vector<const Fact*> facts;
};
std::vector<Placement> Placements(const ChildView& child) {
  std::vector<Placement> out;
  const CareSpell* carer = nullptr;  // the last counted stretch
  for (const auto& s : child.spells) {
    if (s.short_break || IsTemporary(s)) continue;
    const bool continues =
        carer && SameCarer(*carer, s) && !out.empty() && out.back().to &&
        (*out.back().to == s.from ||
         // back from a temporary placement (the gap is its stretch)
         std::any_of(child.spells.begin(), child.spells.end(), [&](const CareSpell& t) {
           return IsTemporary(t) && t.from == *out.back().to && t.to == s.from;
         }));
    if (continues) {
      out.back().to = s.to;
      out.back().facts.insert(out.back().facts.end(), s.facts.begin(), s.facts.end());
    } else {
      out.push_back({s.from, s.to, s.facts});
    }
    carer = &s;
  }
  return out;
}

// The first day of the run of care the child is in on `d`: looked after without a break (short
// breaks not counting as care, temporary placements counting) back to it.
Date InCareSince(const ChildView& child, Date d) {
  Date since = d;
  for (size_t i = child.spells.size(); i-- > 0;) {
    const CareSpell& s = child.spells[i];
    if (s.short_break || s.from > since) continue;
    if (s.to && *s.to < since) break;
    since = s.from;
  }
  return since;
}

constexpr int64_t kPlacementsMask = 0xffff;
constexpr int64_t kLongTermCohort = int64_t(1) << 16;  // under 16, in care 2.5 years
constexpr int64_t kSameCarerTwoYears = int64_t(1) << 17;

}  // namespace

std::vector<KeptRow> PlacementStabilityRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  std::optional<int> first, last;  // the years ending 31 March the child's care meets
  for (const auto& s : child.spells) {
    if (s.short_break) continue;
    const int from = YearEnding::Containing(s.from).year;
    // An open stretch: up to the last 31 March before the 18th birthday (or 18 years on).
    int to =
        s.to ? YearEnding::Containing(*s.to).year
             : (child.dob ? YearEnding::Containing(Anniversary(*child.dob, 18)).year : from + 18);
    first = std::min(first.value_or(from), from);
    last = std::max(last.value_or(to), to);
  }
  if (!first) return rows;
  const auto placements = Placements(child);
  for (int y = *first; y <= *last; ++y) {
    const Date end = YearEnding{y}.Last();
    if (!ClaSpellAt(child, end)) continue;
    const Window year{YearEnding{y}.First(), YearEnding{y}.End()};
    KeptRow& row = rows.emplace_back(NewRow(RowKind::kPlacementStability, child, end, ""));
    JudgeDimensions(child, end, {}, row);
    row.event_ids.emplace_back(child.registered ? child.registered->event_id : "");
    int64_t count = 0;
    const Placement* current = nullptr;
    for (const auto& p : placements) {
      if (p.from >= year.to || (p.to && *p.to <= year.from)) continue;
      ++count;
      // The care events up to that day: a later one (the placement's end, a change of legal
      // status) says nothing of it, and naming it rewrote every year's row at each.
      for (const Fact* f : p.facts) {
        if (f->occurred_at.date <= end) row.event_ids.push_back(f->event_id);
      }
      if (p.from <= end && (!p.to || *p.to > end)) current = &p;
    }
    row.number = std::min(count, kPlacementsMask);
    const auto age = AgeAt(child, end);
    if (age && *age < 16 && InCareSince(child, end) <= AddMonths(end, -30)) {
      row.number |= kLongTermCohort;
      if (current && current->from <= AddMonths(end, -24)) row.number |= kSameCarerTwoYears;
    }
  }
  return rows;
}

Status PlacementStability(Run& r) {
  enum { kCla, kThreePlus, kLongTerm, kSameCarer };
  const Date end = YearEnding{r.year}.Last();
  auto acc = r.NewAccumulator(
      {"cla_31_march", "three_plus_placements", "long_term_cohort", "same_carer_2_years"});
  RowGrouping grouping(r.by);
  CARELEDGER_RETURN_IF_ERROR(ForEachRow(r, RowKind::kPlacementStability,
                                        {end, end + std::chrono::days{1}}, [&](const KeptRow& row) {
                                          auto key = grouping.Key(row);
                                          acc.AddRow(key, kCla, 1, row);
                                          if ((row.number & kPlacementsMask) >= 3)
                                            acc.AddRow(key, kThreePlus, 1, row);
                                          if (row.number & kLongTermCohort)
                                            acc.AddRow(key, kLongTerm, 1, row);
                                          if (row.number & kSameCarerTwoYears)
                                            acc.AddRow(key, kSameCarer, 1, row);
                                        }));
  r.Emit(acc,
         {"cla_31_march", "three_plus_placements", "three_plus_pct", "under_16_in_care_2_5_years",
          "same_carer_2_years", "same_carer_pct"},
         [](const RowAccumulator& a) {
           const auto& n = a.counts;
           return std::vector<Figure>{Figure::Count(n[kCla]),
                                      Figure::Count(n[kThreePlus]),
                                      Figure::Percent(n[kThreePlus], n[kCla]).Columns(1, 0),
                                      Figure::Count(n[kLongTerm]),
                                      Figure::Count(n[kSameCarer]),
                                      Figure::Percent(n[kSameCarer], n[kLongTerm]).Columns(4, 3)};
         });
  return Status::Ok();
}

}  // namespace careledger::metrics
