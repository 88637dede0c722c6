// M1 children looked after: the counters ingest keeps for it (a +1/-1 span per dimension value
// a child in care passes through) and the query that reads them.
#include <algorithm>
#include <map>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

namespace {

constexpr std::string_view kDimPlacement = "placement";
constexpr std::string_view kDimLegalStatus = "legal_status";
// Every dimension a child looked after on D can be broken down by, judged on D as the fold
// judges it (metrics::DimensionValue). All but the age band hold for a whole spell; the age
// band changes on the birthdays that cross a band, where the spell's contribution moves. The
// cohort of a child looked after is always "cla", and the ethnicity group is read from the
// ethnicity's counters: neither has counters of its own.
constexpr std::string_view kCounterDimensions[] = {
    kDimPlacement, kDimLegalStatus, "provider", "area", "home_id", "sex", "ethnicity", "age_band"};
// The birthdays on which the age band changes (AgeBand).
constexpr int kBandBirthdays[] = {10, 14, 16, 18, 22, 26};

}  // namespace

namespace metrics {

void AddClaCounters(const ChildView& child, metrics::Contribution& out) {
  for (std::string_view dim : kCounterDimensions) {
    metrics::SpanMerger spans(out, std::string(dim), child.partition);
    for (const auto& s : child.spells) {
      const Date to = s.to.value_or(Date::max());
      if (s.short_break || to <= s.from) continue;  // never looked after on any day of it
      Date from = s.from;
      if (dim == "age_band" && child.dob) {
        for (int age : kBandBirthdays) {
          Date birthday = metrics::BirthdayOf(child, age);
          if (birthday <= from || birthday >= to) continue;
          spans.Add(from, birthday, metrics::DimensionValue(dim, child, from, {}));
          from = birthday;
        }
      }
      spans.Add(from, to, metrics::DimensionValue(dim, child, from, {}));
    }
  }
}

// Whether a fact can change a child's counters: its registration (date of birth, sex,
// ethnicity), its care, a care leaver's contact, a youth justice case opening or closing, and
// any correction, retraction or version (which may stand for one of those). Offences, call-outs

}  // namespace metrics

Result<ClaDimension> ClaDimensionFromName(std::string_view name) {
  if (name.empty() || name == "none") return ClaDimension::kNone;
  if (name == kDimPlacement) return ClaDimension::kPlacement;
  if (name == kDimLegalStatus) return ClaDimension::kLegalStatus;
  return Status::BadInput("cannot break CLA down by '" + std::string(name) +
                          "' (placement, legal_status)");
}

bool IsClaCounterDimension(std::string_view dimension) {
  return dimension == "ethnicity_group" ||
         std::find(std::begin(kCounterDimensions), std::end(kCounterDimensions), dimension) !=
             std::end(kCounterDimensions);
}

Result<std::vector<ClaRow>> ClaAt(const EventStore& store, Date at, ClaDimension by) {
  if (by == ClaDimension::kNone) return ClaCountsAt(store, at, "");
  return ClaCountsAt(store, at, by == ClaDimension::kLegalStatus ? kDimLegalStatus : kDimPlacement);
}

Result<std::vector<ClaRow>> ClaCountsAt(const EventStore& store, Date at,
                                        std::string_view dimension) {
  if (!dimension.empty() && !IsClaCounterDimension(dimension)) {
    return Status::BadInput("no CLA counters by '" + std::string(dimension) + "'");
  }
  const bool total = dimension.empty();
  // The total is any one dimension's cells summed: placement's.
  const bool by_group = dimension == "ethnicity_group";
  auto by_value = metrics::CountersOn(store, at,
                                      total      ? kDimPlacement
                                      : by_group ? std::string_view("ethnicity")
                                                 : dimension);
  if (!by_value.ok()) return by_value.status();
  std::map<std::string, int64_t> counts;
  for (const auto& [value, n] : *by_value) {
    counts[total ? std::string() : by_group ? metrics::GroupOfEthnicity(value) : value] += n;
  }
  std::vector<ClaRow> rows;
  for (auto& [group, n] : counts) {
    if (n != 0) rows.push_back({group, n});
  }
  if (total && rows.empty()) rows.push_back({"", 0});
  return rows;
}

}  // namespace careledger