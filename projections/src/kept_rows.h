// Private to projections/: the rows ingest keeps (kept_rows.cc), one dated contribution of a
// child to a figure each, and how they are built, stored, versioned and read.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dimensions.h"

namespace careledger::metrics {

// A dated contribution of one child to a figure over a period, kept in the state by the ingest
// batch ("row" entries keyed by kind, date, child and item, so that a period is one range read)
// and recomputed from the timeline by the fold. Every dimension is judged when the row is made,
// so a query groups rows without the child.
enum class RowKind : char {
  kOutcome = 'o',      // M3, M4, M10, M11: an offence with a final disposal, on its decision
                       // date, judged at the offence date
  kFirstFormal = 'f',  // M6: a child's first formal outcome, aged 10-17, judged on that day
  kCallout = 'c',      // M8: a police call-out from a placement (number: its measure), or an
                       // offence recorded at the placement, on its date, by home
  kReoffence = 'r',    // M13: see below
  kYearEnding = 'y',   // M5: a child aged 10-17 on 31 March in the OC2 cohort or with a formal
                       // outcome in the year (number: kInOc2Cohort | kFormalInYear), on 31 March
  // Span rows (see below):
  kCareSpell = 's',           // M1: a spell of care, to the day it ended
  kCareLeaverYears = 'l',     // M2: from the 16th birthday to the 26th, for a child in care after
                              // the 16th
  kMissingEpisode = 'e',      // M7: an episode, from its report to the day of its return,
                              // judged on the day it was reported, with its return and interview
  kYjsCase = 'j',             // M9: a youth justice case, from its opening to the day it closed
  kAgedTenToSeventeen = 'a',  // M12: a registered child from its 10th birthday to the day before
                              // its 18th, one row per cohort it is in (the event id: its
                              // registration)
  kCustody = 'u',             // M14: a custodial sentence (number 0) or a remand to youth
                              // detention accommodation (1), on the day decided (custody.cc)
  kPlacementStability = 'p',  // M15: a child looked after on 31 March, on that day (number: its
                              // placements in the year and two flags, placement_stability.cc)
  // Not a figure: the out-of-court panel's worklist (panel.cc).
  kAwaitingDecision = 'w',  // an offence by a CLA child or care leaver (judged at the offence
                            // date) with no decision yet, on the offence date (number: its
                            // PanelStatus)
};
inline constexpr RowKind kRowKinds[] = {RowKind::kOutcome,          RowKind::kFirstFormal,
                                        RowKind::kCallout,          RowKind::kReoffence,
                                        RowKind::kYearEnding,       RowKind::kCareSpell,
                                        RowKind::kCareLeaverYears,  RowKind::kMissingEpisode,
                                        RowKind::kYjsCase,          RowKind::kAgedTenToSeventeen,
                                        RowKind::kAwaitingDecision, RowKind::kPlacementStability,
                                        RowKind::kCustody};
// Span rows serve the figures whose dimensions are judged on the day asked about (the
// child's age, cohort and placement then), which no row dated at ingest can hold. Each is a
// span of days in which the child may count: dated by the day after it ends (kOpenSpan while
// it has not), its first day in `number` (codec::DaysKey). A query reads the rows ending after
// the start of what it asks about, and resolves those children only, with the same fold as
// the oracle: the children of its answer, never every child. A span may be wider than the
// days the child counts (the fold decides); never narrower.
inline const Date kOpenSpan{std::chrono::year{9999} / std::chrono::December / 31};
// The dates of the span rows whose last day is `day` or later: those still running on it.
inline Window SpansRunningOn(Date day) {
  return Window{day + std::chrono::days{1}, kOpenSpan + std::chrono::days{1}};
}
// The same for spans never longer than `longest` days (first to last): a span running on `day`
// ends by day + longest - 1, so the read stops there instead of taking every span that starts
// later.
inline Window SpansRunningOn(Date day, std::chrono::days longest) {
  return Window{day + std::chrono::days{1}, day + longest + std::chrono::days{1}};
}
inline constexpr int64_t kInOc2Cohort = 1, kFormalInYear = 2;
// kReoffence (M13): each formal outcome on its decision date, as the index offence it would be
// (item: its ordinal among the child's formal outcomes, so that a child's rows on one day come
// in that order; number: the reoffences counted from it; event ids: its own, "", the
// reoffences').

// The dimensions a row holds, in KeptRow::values order: the child's, then the offence's, then a
// missing episode's. A row leaves the values of the dimensions its kind has not empty
// (JudgeDimensions).
inline constexpr std::string_view kRowDimensions[] = {
    "age_band",        "sex",          "ethnicity",
    "ethnicity_group", "cohort",       "legal_status",
    "placement",       "provider",     "area",
    "home_id",         "tier",         "disposal",
    "offence_group",   "at_placement", "exploitation_risk",
    "category",        "risk"};
inline constexpr size_t kRowDimensionCount = std::size(kRowDimensions);
// Where a missing episode's own dimensions (the last two) begin.
inline constexpr size_t kOffenceDimensionsEnd = kRowDimensionCount - 2;
static_assert(kRowDimensions[kOffenceDimensionsEnd] == "category");

struct KeptRow {
  RowKind kind = RowKind::kOutcome;
  Date on{};
  int32_t partition = 0;
  std::string child_id, item_id;
  std::array<std::string, kRowDimensionCount> values;  // in kRowDimensions order
  bool at_placement = false, informal = false;
  bool knife_related = false;  // kAwaitingDecision: the offence was recorded as knife-related
  int64_t number = 0;          // kFirstFormal: age; kCallout: the measure; kYearEnding: the flags
  // kMissingEpisode: whether the child came back, and the seconds from report to return; the
  // return interview: offered, accepted, held within 72 hours of the return.
  bool returned = false, offered = false, accepted = false, within_72h = false;
  int64_t seconds_away = 0;
  // The child's date of birth: a care spell's age band on any day of it, and M12's children
  // aged 10-17 on the first day of a period.
  std::optional<Date> born;
  // The events behind it, for lineage. kYearEnding: the registration (or ""), then the first
  // formal outcome's events.
  std::vector<std::string> event_ids;
  // The day its child dimensions were judged on. Not kept (a row read from the store has none):
  // lineage builds the row again from the child's timeline to name the events that set them.
  Date judged_on{};
};

// The child's rows of one kind: the one definition that ingest keeps and the fold (as known at
// a past time, and the oracle in tests) recomputes.
std::vector<KeptRow> KeptRowsOf(RowKind kind, const ChildView& child);
// What each metric's rows (in its own file) are built from. A row of the child's dated `on`,
// with its partition and date of birth:
KeptRow NewRow(RowKind kind, const ChildView& child, Date on, std::string item_id);
// A span row from `from` to `last_day` (none: still running).
KeptRow SpanRow(RowKind kind, const ChildView& child, Date from, std::optional<Date> last_day,
                std::string item_id);
// The dimensions a row of its kind holds, judged on `on` (those in `extras` first): a missing
// episode's are the child's and its own (category, risk); every other row's are the child's and
// the offence's, judged as DimensionValue judges them where the row has no offence. The rest
// stay empty.
void JudgeDimensions(const ChildView& child, Date on, const Extras& extras, KeptRow& row);
// The child's dimensions judged on `on`, then the offence's.
void JudgeOffence(const ChildView& child, const Offence& o, Date on, KeptRow& row);
// The ids of the children with a span row of `kind` meeting [from, to), sorted; the
// partitions the store answers for only. With `known_at`, the span rows as they stood then.
Result<std::vector<std::string>> ChildrenWithSpans(const EventStore& store, RowKind kind,
                                                   const Window& window,
                                                   std::optional<Instant> known_at = std::nullopt);
// A child's partition is the one its latest-ingested fact came from (facts are stored in
// timeline order, not arrival order). What ingest keeps for it is kept under that partition, so
// that Apply and the rebuild agree on it even if the partitions were ever reassigned.
struct LatestPartition {
  uint64_t sequence = 0;
  bool any = false;
  void See(const Fact& f, int32_t partition, int32_t& out) {
    if (!any || f.sequence >= sequence) {
      sequence = f.sequence;
      out = partition;
      any = true;
    }
  }
};
// A stored fact at the end of the timeline being read (facts come in timeline order); the
// child's partition is its latest-ingested fact's.
Status AppendStoredFact(std::string_view value, Timeline& timeline, LatestPartition& latest);
// The partitions the store answers for (empty: all; it was never assigned any).
Result<std::set<int32_t>> OwnedPartitions(const EventStore& store);
// The stored timelines of the partitions the store answers for (all of them when it was never
// assigned any): of the named children (sorted ids; unknown ones are skipped), or of every child
// when `child_ids` is null, in id order.
Status ForEachTimeline(
    const EventStore& store, const std::vector<std::string>* child_ids,
    const std::function<void(std::string_view child_id, const Timeline&)>& visit);
// ForEachChild for the given children only (sorted ids; unknown ones are skipped).
Status ForEachChildIn(const EventStore& store, std::optional<Instant> known_at,
                      const std::vector<std::string>& child_ids,
                      const std::function<void(const ChildView&)>& visit);
// The state key a row is kept under: its kind, date, child and item, in that order.
std::string RowKey(const KeptRow& row);
// Where a --by dimension sits in KeptRow::values; nullopt when it is not one.
std::optional<size_t> RowDimensionIndex(std::string_view dimension);
// A child's rows of every kind as state entries (key, value), sorted by key, each key once.
// (A sorted vector: a rebuild builds one for every ingest stamp of every child, and a map's
// node per row and its comparisons were a fifth of the rebuild's children pass.)
using KeptRowEntries = std::vector<std::pair<std::string, std::string>>;
KeptRowEntries KeptRowEntriesOf(const ChildView& child);
// Where a child's row changes go, and when each row it has took its value.
struct RowVersionWriter {
  std::function<Result<Instant>(const std::string& row_key)> since_of;
  std::function<void(std::string_view key, std::string_view value)> put;
  std::function<void(std::string_view key)> remove;
  // Told of each row given a value (optional): its since from now on.
  std::function<void(const std::string& row_key, Instant since)> written = {};
  // Told of each value kept as replaced at `stamp` (optional), and asked, when a row is given
  // a value at `stamp`, whether that value was replaced at `stamp` too (optional): then it held
  // all along, as a rebuild that folds the second at once sees it, and the answer is its since.
  std::function<void(const std::string& row_key, Instant since, const std::string& value,
                     Instant stamp)>
      replaced = {};
  std::function<std::optional<Instant>(const std::string& row_key, const std::string& value,
                                       Instant stamp)>
      restored = {};
};
// Whether rows of `kind` are made ahead of their day: a row for each 31 March to the 18th
// birthday (M5's year-ending rows, M15's placement stability), the child's care and cohort
// assumed to go on. Every other row is of something that has happened (an outcome, an episode)
// or a span dated by the day after it ends.
bool MadeAhead(RowKind kind);
// The last day whose rows made ahead the kept values give as known at `t`: `t`'s own (UTC). A
// value such a row held only before its day came was a forecast; ChangeKeptRows does not keep
// it, so a query as known at T about a 31 March after T's day is answered by the fold of the
// timelines as they stood at T (ForEachRow), never by the rows.
Date LastDayKnownAt(Instant t);
// What turns a child's rows `before` into `after` as ingested at `stamp`: a row that changes or
// goes keeps the value it had, valid from its since until `stamp`, for queries as known at a
// time between (but for a row made ahead of its day, replaced before it: see LastDayKnownAt);
// a row that is new or changes holds `stamp` as its since.
[[nodiscard]] Status ChangeKeptRows(const KeptRowEntries& before, const KeptRowEntries& after,
                                    Instant stamp, const RowVersionWriter& out);
// A row's meaning, for ProjectionStateHash: its value without when it took it, and nothing for
// the values rows held before (when we learned something, like a fact's ingest stamp, is not
// what the state means). nullopt when the key is not a row's.
std::optional<std::optional<std::string>> CanonicalKeptRow(std::string_view key,
                                                           std::string_view value);
// The since of a row's stored value.
Result<Instant> SinceOfStoredRow(std::string_view stored);
// The kept rows of a kind dated in [from, to), of the partitions the store answers for, in
// date order.
Status ScanKeptRows(const EventStore& store, RowKind kind, const Window& window,
                    const std::function<void(const KeptRow&)>& visit);
// The same, as the rows stood at `known_at` (in the same order).
Status ScanKeptRowsAsKnownAt(const EventStore& store, RowKind kind, const Window& window,
                             Instant known_at, const std::function<void(const KeptRow&)>& visit);
// A row as another instance sends it (its key and value as kept, each length-prefixed), and
// taken back from the front of `in`: false when it does not decode.
void AppendWireRow(std::string& out, const KeptRow& row);
[[nodiscard]] bool TakeWireRow(std::string_view& in, KeptRow& row);
// "outcome row of offence O of child C (2025-01-05)" for a state key that is a row; else
// nullopt.
std::optional<std::string> DescribeKeptRowKey(std::string_view key);

}  // namespace careledger::metrics
