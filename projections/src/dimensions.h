// Private to projections/: the window a metric is asked about, the dimensions a contribution
// can be grouped by, the date rules every metric shares, and what they read of an offence.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "careledger/projections.h"

namespace careledger::metrics {

struct Window {
  Date from, to;  // [from, to)
  bool Contains(Date d) const { return from <= d && d < to; }
};

// Values a metric knows about one contribution beyond the child's own dimensions (tier,
// disposal, offence_group, category, …).
using Extras = std::vector<std::pair<std::string_view, std::string>>;

// The value of one --by dimension for a contribution of `child` judged on `on`.
std::string DimensionValue(std::string_view dimension, const ChildView& child, Date on,
                           const Extras& extras);
// The events that set the child's value of `dimension` on `on`, for lineage: the registration
// for what it records (and the age), the stretch of care for what a care period decides, the
// stretches that make a care leaver, the assessments behind the exploitation risk. None for a
// dimension a contribution brings itself (an offence's tier, an episode's risk).
std::vector<const Fact*> DimensionFacts(std::string_view dimension, const ChildView& child,
                                        Date on);

// The common dimensions every child-level figure can be broken down by.
inline constexpr std::string_view kChildDimensions[] = {
    "age_band",  "sex",      "ethnicity", "ethnicity_group", "cohort", "legal_status",
    "placement", "provider", "area",      "home_id"};

using GroupKey = std::vector<std::string>;

// The same day `months` later (or earlier), or the month's last day when it has no such day.
inline Date AddMonths(Date d, int months) {
  std::chrono::year_month_day ymd{d};
  auto moved = std::chrono::year_month{ymd.year(), ymd.month()} + std::chrono::months{months};
  auto last = std::chrono::year_month_day_last{moved.year(), moved.month() / std::chrono::last};
  return Date{moved.year() / moved.month() / std::min(ymd.day(), last.day())};
}
inline Date FirstOfMonth(Date d) {
  std::chrono::year_month_day ymd{d};
  return Date{ymd.year() / ymd.month() / 1};
}
// The ages youth justice counts (an unknown age is not one of them).
inline bool IsAged10To17(std::optional<int> age) {
  return age && *age >= 10 && *age <= 17;
}

// The ethnicity group of an ethnicity value as a dimension shows it ("unknown" for none).
inline std::string GroupOfEthnicity(std::string_view ethnicity) {
  return std::string(EthnicityGroup(ethnicity).value_or("unknown"));
}

// ---- Offences and their outcomes (M3, M4, M10, M11 and the offences other metrics read) ----
// The offence's date; when only the outcome is known, the decision date stands in.
Date OffenceDate(const Offence& o);
// The events behind an offence's figures: the child's registration, the offence, its outcomes.
std::vector<const Fact*> OffenceFacts(const ChildView& child, const Offence& o);
// tier, disposal, offence_group, at_placement.
Extras OffenceExtras(const Offence& o);
bool IsInformalTier(std::string_view disposal);
// Formal outcomes decided in the window, in decision order.
std::vector<const Offence*> FormalIn(const ChildView& child, const Window& window);

}  // namespace careledger::metrics
