// The --by dimensions of a child on a day (dimensions.h): each one's value, and for lineage the
// events that set it.
#include "dimensions.h"

#include <algorithm>

namespace careledger::metrics {

namespace {

std::string_view Or(std::string_view s, std::string_view fallback) {
  return s.empty() ? fallback : s;
}

// The stretch of care on `on` (its start, changes and end), the start of the care it belongs to
// (stretches touch while a change cuts them) and the event that set its value of `dimension`:
// the first of the touching stretches before it that share that value.
void CareFacts(const ChildView& child, Date on, std::string_view dimension,
               std::vector<const Fact*>& out) {
  const CareSpell* s = ClaSpellAt(child, on);
  if (!s) return;
  out.insert(out.end(), s->facts.begin(), s->facts.end());
  const std::string value = DimensionValue(dimension, child, on, {});
  size_t first = size_t(s - child.spells.data()), set = first;
  bool same = true;
  while (first > 0) {
    const CareSpell& before = child.spells[first - 1];
    if (before.short_break || before.to != child.spells[first].from) break;
    --first;
    same = same && DimensionValue(dimension, child, before.from, {}) == value;
    if (same) set = first;
  }
  for (size_t i : {first, set}) {
    if (!child.spells[i].facts.empty()) out.push_back(child.spells[i].facts.front());
  }
}

}  // namespace

std::vector<const Fact*> DimensionFacts(std::string_view dimension, const ChildView& child,
                                        Date on) {
  std::vector<const Fact*> out;
  const bool recorded = dimension == "age_band" || dimension == "sex" || dimension == "ethnicity" ||
                        dimension == "ethnicity_group";
  if (recorded) {
    out.push_back(child.registered);
  } else if (dimension == "cohort") {
    if (IsLookedAfterAt(child, on)) {
      CareFacts(child, on, dimension, out);
    } else {
      // A care leaver by age and by the care since the 14th birthday; "other" by the record.
      out.push_back(child.registered);
      for (const CareSpell* spell : CareLeaverSpells(child, on)) {
        out.insert(out.end(), spell->facts.begin(), spell->facts.end());
      }
    }
  } else if (dimension == "exploitation_risk") {
    out = ExploitationRiskFacts(child, on);
  } else if (std::find(std::begin(kChildDimensions), std::end(kChildDimensions), dimension) !=
             std::end(kChildDimensions)) {
    CareFacts(child, on, dimension, out);
  }
  std::erase(out, nullptr);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string DimensionValue(std::string_view dimension, const ChildView& child, Date on,
                           const Extras& extras) {
  for (const auto& [name, value] : extras) {
    if (name == dimension) return value.empty() ? "unknown" : value;
  }
  if (dimension == "age_band") return std::string(AgeBand(AgeAt(child, on)));
  if (dimension == "sex") return std::string(Or(child.sex, "unknown"));
  if (dimension == "ethnicity") return std::string(Or(child.ethnicity, "unknown"));
  if (dimension == "ethnicity_group") {
    return std::string(EthnicityGroup(child.ethnicity).value_or("unknown"));
  }
  if (dimension == "cohort") return std::string(CohortAt(child, on));
  const CareSpell* spell = ClaSpellAt(child, on);
  if (!spell) return "not_looked_after";
  if (dimension == "legal_status") return spell->legal_status;
  if (dimension == "placement") return spell->placement;
  if (dimension == "provider") return std::string(Or(spell->provider, "unknown"));
  if (dimension == "home_id") return std::string(Or(spell->home_id, "none"));
  if (dimension == "area") {
    if (!spell->out_of_area) return "unknown";
    return *spell->out_of_area ? "out_of_area" : "in_area";
  }
  return "unknown";
}

}  // namespace careledger::metrics
