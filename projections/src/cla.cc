// M1 children looked after (docs/metrics.md: `cla` in "The metrics", M1 in "What ingest keeps").
// Ingest keeps counters for it (a +1/-1 span per dimension value a child in care passes through)
// and a span row per spell of care; its query reads the counters where they hold the answer, the
// spell rows where they do, and otherwise folds the children they name.
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

// Spells end on the day the child ceased to be looked after, which M1 counts as an ending. A
// spell's details hold for all of it (a change cuts a new one), and so do the child's sex and
// ethnicity: the row holds every child dimension but the age band (which moves on birthdays),
// and the date of birth that gives the age band on any day, so that CLA on a day by any of them
// is a count of the rows, without the children.
std::vector<KeptRow> CareSpellRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  for (const auto& s : child.spells) {
    if (s.short_break) continue;
    KeptRow& row =
        rows.emplace_back(SpanRow(RowKind::kCareSpell, child, s.from, s.to, FormatDate(s.from)));
    row.judged_on = s.from;
    for (size_t i = 1; i < std::size(kChildDimensions); ++i) {
      row.values[i] = DimensionValue(kRowDimensions[i], child, s.from, {});
    }
  }
  return rows;
}

namespace {

// The live count on a day, from the counters ingest keeps (a few short range scans, whatever the
// number of children), where they hold the answer: no period, no --as-known-at (counters are
// the state as ingested), no lineage (counters carry no event ids), and at most one dimension.
// The cohort of a child looked after is "cla": the total. ClaFromCountersMatchesTheFold... in
// metrics_population_test checks them against the fold below.
std::optional<std::string> CounterDimension(const Run& r) {
  if (r.query.period || r.query.known_at || r.query.fold || r.cell || r.by.size() > 1) {
    return std::nullopt;
  }
  if (r.by.empty() || r.by[0] == "cohort") return std::string();
  if (IsClaCounterDimension(r.by[0])) return r.by[0];
  return std::nullopt;
}

}  // namespace

Result<std::vector<ClaRow>> ClaCountsOn(
    const std::function<Result<std::map<std::string, int64_t>>(std::string_view counter)>& read,
    std::string_view dimension) {
  if (!dimension.empty() && !IsClaCounterDimension(dimension)) {
    return Status::BadInput("no CLA counters by '" + std::string(dimension) + "'");
  }
  const bool total = dimension.empty();
  // The total is any one dimension's cells summed: placement's.
  const bool by_group = dimension == "ethnicity_group";
  auto by_value = read(total      ? kDimPlacement
                       : by_group ? std::string_view("ethnicity")
                                  : dimension);
  if (!by_value.ok()) return by_value.status();
  std::map<std::string, int64_t> counts;
  for (const auto& [value, n] : *by_value) {
    counts[total ? std::string() : by_group ? GroupOfEthnicity(value) : value] += n;
  }
  std::vector<ClaRow> rows;
  for (auto& [group, n] : counts) {
    if (n != 0) rows.push_back({group, n});
  }
  if (total && rows.empty()) rows.push_back({"", 0});
  return rows;
}

namespace {

Status ClaFromCounters(Run& r, const std::string& dimension) {
  auto counts =
      ClaCountsOn([&](std::string_view counter) { return r.CountersOn(r.at, counter); }, dimension);
  if (!counts.ok()) return counts.status();
  r.table.dimensions = r.by;
  r.table.measures = {"value"};
  for (const auto& row : *counts) {
    std::vector<std::string> groups;
    if (!r.by.empty()) {
      if (row.children == 0) continue;  // the total's zero row: a cohort with nobody in it
      groups.push_back(dimension.empty() ? "cla" : row.group);
    }
    r.table.rows.push_back({std::move(groups), {Figure::Count(row.children)}});
  }
  return Status::Ok();
}

// CLA on a day by any dimensions, live or as known at a time: a count of the care-spell rows (as
// they stood then) open on the day. A spell row is dated the day after its last day (`to` + 1)
// and holds its first day, every child dimension a spell holds throughout, and the date of birth
// that gives the age band on the day; a child's spells never overlap, so each child looked after
// on D has exactly one row with from <= D < on - 1.
bool ClaFromSpellRows(Run& r, Status& status) {
  if (r.query.period || r.query.fold || r.cell) return false;
  auto acc = r.NewAccumulator({"children"});
  RowGrouping grouping(r.by);
  const auto band = std::find(r.by.begin(), r.by.end(), "age_band");
  const uint32_t day = codec::DaysKey(r.at);
  status = ForEachRow(r, RowKind::kCareSpell,
                      Window{r.at + std::chrono::days{2}, kOpenSpan + std::chrono::days{1}},
                      [&](const KeptRow& row) {
                        if (uint64_t(row.number) > day) return;
                        GroupKey key = grouping.Key(row);
                        if (band != r.by.end()) {
                          key[size_t(band - r.by.begin())] = AgeBand(AgeAt(row.born, r.at));
                        }
                        acc.Add(key, 0, 1);
                      });
  r.Emit(acc, {"children"}, Counts);
  return true;
}

}  // namespace

Status Cla(Run& r) {
  if (auto dimension = CounterDimension(r)) return ClaFromCounters(r, *dimension);
  if (Status s = Status::Ok(); ClaFromSpellRows(r, s)) return s;
  if (!r.query.period) {
    auto acc = r.NewAccumulator({"children"});
    CARELEDGER_RETURN_IF_ERROR(
        r.ChildrenIn(RowKind::kCareSpell, r.AtDay(), [&](const ChildView& c) {
          acc.Begin();
          if (const CareSpell* s = ClaSpellAt(c, r.at)) {
            auto key = acc.Key(c, r.at);
            acc.CountChild(key, 0, {c.registered});
            acc.AddFacts(key, 0, 0, s->facts);
            acc.NoteJudged(key, 0, c, r.at);
          }
        }));
    r.Emit(acc, {"children"}, Counts);
    return Status::Ok();
  }
  auto acc = r.NewAccumulator({"children", "started", "ended"});
  const Window& w = r.window;
  CARELEDGER_RETURN_IF_ERROR(r.ChildrenIn(RowKind::kCareSpell, w, [&](const ChildView& c) {
    acc.Begin();
    // Stretches of being looked after, whatever the details: a change of placement is not
    // a start.
    std::optional<Date> from, to;
    std::vector<const Fact*> facts;
    auto stretch_done = [&] {
      if (!from) return;
      Date first = std::max(*from, w.from);
      Date end = to.value_or(Date::max());
      if (first < w.to && end > w.from) {
        acc.CountChild(acc.Key(c, first), 0, {c.registered});
        acc.AddFacts(acc.Key(c, first), 0, 0, facts);
        acc.NoteJudged(acc.Key(c, first), 0, c, first);
      }
      if (w.Contains(*from)) {
        auto key = acc.Key(c, *from);
        acc.CountChild(key, 1, {facts.front()});
        acc.NoteJudged(key, 1, c, *from);
      }
      if (to && w.Contains(*to)) {
        auto key = acc.Key(c, *to - std::chrono::days{1});
        acc.CountChild(key, 2, {facts.back()});
        acc.NoteJudged(key, 2, c, *to - std::chrono::days{1});
      }
    };
    for (const auto& s : c.spells) {
      if (s.short_break) continue;
      if (from && to && *to == s.from) {
        to = s.to;
        facts.insert(facts.end(), s.facts.begin(), s.facts.end());
        continue;
      }
      stretch_done();
      from = s.from;
      to = s.to;
      facts = s.facts;
    }
    stretch_done();
  }));
  r.Emit(acc, {"children", "started", "ended"}, Counts);
  return Status::Ok();
}

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
  return metrics::ClaCountsOn(
      [&](std::string_view counter) { return metrics::CountersOn(store, at, counter); }, dimension);
}

}  // namespace careledger