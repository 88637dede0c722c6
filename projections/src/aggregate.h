// Private to projections/: what every metric shares — the window it is asked about, the
// dimensions a contribution can be grouped by, and the accumulator that turns per-child
// contributions into rows (and, for lineage, remembers the event ids behind one row).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
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

// Fatal, asking for a replay, when the store's projection state was written by an older
// careledger whose layout the queries would misread as empty.
Status CheckStateLayout(const EventStore& store, std::string_view family = {});

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

// The partitions the store answers for (empty: all; it was never assigned any).
Result<std::set<int32_t>> OwnedPartitions(const EventStore& store);

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

// The projection state's layout, kept beside it: a store whose state predates the outcome rows
// would otherwise answer every query over kept rows with nothing.
inline constexpr std::string_view kLayoutKey{"layout\0", 7};
inline constexpr std::string_view kLayout =
    "14: cla counters by month and, a day's in one cell, by day and every child dimension, kept "
    "rows, span rows, the values "
    "rows held before keyed by when they held, missing episodes' figures in "
    "their rows, every row's date of birth, the children aged 10-17, open youth justice cases";

// ---- Counters that ingest keeps (counters.cc) ----------------------------------------------
inline constexpr std::string_view kCounterPrefix{"cla\0", 4};
inline constexpr size_t kCounterSuffix = 1 + 4 + 2;  // \0, days key, partition
// Counter cell → the change a batch makes to it. Hashed: a rebuild gathers millions of cells
// with long common prefixes, which an ordered map spent most of its time comparing.
using Deltas = std::unordered_map<std::string, int64_t>;
std::string CounterKey(std::string_view dimension, std::string_view value, Date d,
                       int32_t partition);
// Every counter cell's key ends with its partition (two bytes).
int32_t PartitionOfCounterKey(std::string_view key);
// The first day on which the child (with a date of birth) is `age` (Anniversary: a 29 February
// birthday is 1 March in a common year, as AgeAt counts it).
Date BirthdayOf(const ChildView& child, int age);
// What one child adds to the counter cells: (cell, amount), in key order once Settle()d.
using Contribution = std::vector<std::pair<std::string, int64_t>>;
// Every counter cell a child contributes to (M1's, M2's, M9's and M12's), settled (projector.cc).
Contribution CounterContribution(const ChildView& child);
// Counts (dimension, value) on each day of [from, to) (to = Date::max(): still open): +1 on
// `from` and −1 on `to`, in the day's and the month's cells.
void AddSpan(Contribution& out, std::string_view dimension, std::string_view value, Date from,
             Date to, int32_t partition);
// One dimension's spans of a child, given in date order: a span that starts where the last one
// ended with the same value continues it, so a change elsewhere (a new placement, a contact)
// makes no cells here. Finish() (or the destructor) adds the last.
class SpanMerger {
 public:
  SpanMerger(Contribution& out, std::string dimension, int32_t partition)
      : out_(out), dimension_(std::move(dimension)), partition_(partition) {}
  ~SpanMerger() { Finish(); }
  SpanMerger(const SpanMerger&) = delete;
  SpanMerger& operator=(const SpanMerger&) = delete;
  void Add(Date from, Date to, std::string_view value) {
    if (open_ && to_ == from && value_ == value) {
      to_ = to;
      return;
    }
    Finish();
    open_ = true;
    from_ = from;
    to_ = to;
    value_.assign(value);
  }
  void Finish() {
    if (open_) AddSpan(out_, dimension_, value_, from_, to_, partition_);
    open_ = false;
  }

 private:
  Contribution& out_;
  std::string dimension_;
  int32_t partition_;
  bool open_ = false;
  Date from_{}, to_{};
  std::string value_;
};
// Sorts by cell, adds up each cell's amounts, drops those that come to nothing.
void Settle(Contribution& c);
// A change to one dimension value's day, as contributions and deltas hold it: it is written
// into its day's cell of named counts (DayCells), not as a cell of its own.
bool IsDayCounterKey(std::string_view key);
// A day's cell of named counts, as stored.
bool IsDayCellKey(std::string_view key);
// Day counter changes (any order, a key more than once) → their cells and the named counts to
// merge into each (EventStore::Batch::AddToCounters), in key order, none empty.
std::vector<std::pair<std::string, std::string>> DayCells(
    std::vector<std::pair<std::string_view, int64_t>> changes);
// "counters of 2023-01-10 (partition 0), placement=U1: live 1, rebuilt from the log 0": the
// names of a day cell whose counts differ.
std::string DescribeCounterCell(std::string_view key, std::string_view live,
                                std::string_view rebuilt);
// Adds `after` − `before` (both settled) to the batch's deltas: a child's contribution before
// and after a batch differs in a few cells, and only those are touched.
void AddDifference(const Contribution& before, const Contribution& after, Deltas& out);
// Each value of `dimension` → its count on `at`, over the partitions the store answers for
// (a value whose cells net to zero reads as 0).
Result<std::map<std::string, int64_t>> CountersOn(const EventStore& store, Date at,
                                                  std::string_view dimension);

// The ethnicity group of an ethnicity value as a dimension shows it ("unknown" for none).
inline std::string GroupOfEthnicity(std::string_view ethnicity) {
  return std::string(EthnicityGroup(ethnicity).value_or("unknown"));
}

// ---- Rows that ingest keeps ---------------------------------------------------------------
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
};
inline constexpr RowKind kRowKinds[] = {RowKind::kOutcome,         RowKind::kFirstFormal,
                                        RowKind::kCallout,         RowKind::kReoffence,
                                        RowKind::kYearEnding,      RowKind::kCareSpell,
                                        RowKind::kCareLeaverYears, RowKind::kMissingEpisode,
                                        RowKind::kYjsCase,         RowKind::kAgedTenToSeventeen};
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
  int64_t number = 0;  // kFirstFormal: age; kCallout: the measure; kYearEnding: the flags
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
// ForEachChild for the given children only (sorted ids; unknown ones are skipped).
Status ForEachChildIn(const EventStore& store, std::optional<Instant> known_at,
                      const std::vector<std::string>& child_ids,
                      const std::function<void(const ChildView&)>& visit);
// Where a --by dimension sits in KeptRow::values; nullopt when it is not one.
std::optional<size_t> RowDimensionIndex(std::string_view dimension);
// A child's rows of every kind as state entries, key → value.
using KeptRowEntries = std::map<std::string, std::string>;
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
// What turns a child's rows `before` into `after` as ingested at `stamp`: a row that changes or
// goes keeps the value it had, valid from its since until `stamp`, for queries as known at a
// time between; a row that is new or changes holds `stamp` as its since.
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
// "outcome row of offence O of child C (2025-01-05)" for a state key that is a row; else
// nullopt.
std::optional<std::string> DescribeKeptRowKey(std::string_view key);

// A lineage's order: by measure, then event id.
struct LineageLess {
  bool operator()(const LineageEntry& a, const LineageEntry& b) const {
    return std::tie(a.measure, a.event_id) < std::tie(b.measure, b.event_id);
  }
};

struct RowAccumulator {
  std::vector<int64_t> counts;               // one per raw measure
  std::vector<std::vector<double>> samples;  // one per raw measure, for medians
};

// Rows keyed by the --by values. Each child is visited once: Begin(child) before its
// contributions; CountChild counts the child at most once per (row, measure).
class Accumulator {
 public:
  Accumulator(std::vector<std::string> by, std::vector<std::string> raw_measures,
              const Cell* lineage_cell)
      : by_(std::move(by)), raw_(std::move(raw_measures)) {
    if (lineage_cell) {
      target_.emplace();
      for (const auto& d : by_) {
        auto it = lineage_cell->find(d);
        target_->push_back(it == lineage_cell->end() ? std::string() : it->second);
      }
    }
  }
  const std::vector<std::string>& by() const { return by_; }

  GroupKey Key(const ChildView& child, Date on, const Extras& extras = {}) const {
    GroupKey key;
    key.reserve(by_.size());
    for (const auto& d : by_) key.push_back(DimensionValue(d, child, on, extras));
    return key;
  }
  void Begin() { counted_.clear(); }
  void Add(const GroupKey& key, size_t measure, int64_t amount,
           std::initializer_list<const Fact*> facts = {}) {
    Row(key).counts[measure] += amount;
    Note(key, measure, facts);
  }
  void AddFacts(const GroupKey& key, size_t measure, int64_t amount,
                const std::vector<const Fact*>& facts) {
    Row(key).counts[measure] += amount;
    if (IsTarget(key)) {
      for (const Fact* f : facts) Lineage(measure, f);
    }
  }
  // The same, with the event ids as a kept row holds them.
  void AddIds(const GroupKey& key, size_t measure, int64_t amount,
              const std::vector<std::string>& event_ids) {
    Row(key).counts[measure] += amount;
    if (!IsTarget(key)) return;
    for (const auto& id : event_ids) lineage_.insert({raw_[measure], id});
  }
  // A kept row's contribution, with its events (`event_ids`, or all of the row's). For lineage
  // the row is remembered too: the events that set its child dimensions are read from the
  // child's timeline once the figure is done (NameJudgedRows).
  void AddRow(const GroupKey& key, size_t measure, int64_t amount, const KeptRow& row) {
    AddRow(key, measure, amount, row, row.event_ids);
  }
  void AddRow(const GroupKey& key, size_t measure, int64_t amount, const KeptRow& row,
              const std::vector<std::string>& event_ids) {
    AddIds(key, measure, amount, event_ids);
    if (IsTarget(key)) judged_.insert({row.child_id, row.kind, row.item_id, row.on, raw_[measure]});
  }
  // For a contribution judged on a child read whole: the events that set its --by dimensions
  // on `on`, under `measure`.
  void NoteJudged(const GroupKey& key, size_t measure, const ChildView& child, Date on) {
    if (!IsTarget(key)) return;
    for (const auto& d : by_) {
      for (const Fact* f : DimensionFacts(d, child, on)) Lineage(measure, f);
    }
  }
  void CountChild(const GroupKey& key, size_t measure, std::initializer_list<const Fact*> facts) {
    if (counted_.insert({key, measure}).second) Row(key).counts[measure] += 1;
    Note(key, measure, facts);
  }
  void Sample(const GroupKey& key, size_t measure, double value) {
    Row(key).samples[measure].push_back(value);
  }
  // Makes sure a row exists (so that a group with nothing in it still shows as zero).
  RowAccumulator& Row(const GroupKey& key) {
    auto [it, inserted] = rows_.try_emplace(key);
    if (inserted) {
      it->second.counts.assign(raw_.size(), 0);
      it->second.samples.resize(raw_.size());
    }
    return it->second;
  }
  std::map<GroupKey, RowAccumulator>& rows() { return rows_; }
  bool IsTarget(const GroupKey& key) const { return target_ && *target_ == key; }
  std::vector<LineageEntry> TakeLineage() {
    std::vector<LineageEntry> out(lineage_.begin(), lineage_.end());
    return out;
  }
  // A kept row in the lineage cell: whose, which, and the measure it counted under.
  struct JudgedRow {
    std::string child_id;
    RowKind kind = RowKind::kOutcome;
    std::string item_id;
    Date on{};
    std::string measure;
    bool operator<(const JudgedRow& o) const {
      return std::tie(child_id, kind, item_id, on, measure) <
             std::tie(o.child_id, o.kind, o.item_id, o.on, o.measure);
    }
  };
  std::set<JudgedRow> TakeJudged() { return std::move(judged_); }

 private:
  void Note(const GroupKey& key, size_t measure, std::initializer_list<const Fact*> facts) {
    if (!IsTarget(key)) return;
    for (const Fact* f : facts) Lineage(measure, f);
  }
  void Lineage(size_t measure, const Fact* f) {
    if (f) lineage_.insert({raw_[measure], f->event_id});
  }

  std::vector<std::string> by_, raw_;
  std::map<GroupKey, RowAccumulator> rows_;
  std::set<std::pair<GroupKey, size_t>> counted_;
  std::optional<GroupKey> target_;
  std::set<LineageEntry, LineageLess> lineage_;
  std::set<JudgedRow> judged_;
};

// ---- What every metric's query shares (metrics.cc) ----------------------------------------
// One query being answered: what was asked, and the table (or lineage) it gives.
struct Run {
  Run(const EventStore* s, const MetricQuery& q, const Cell* c, std::vector<std::string> b)
      : store(s), query(q), cell(c), by(std::move(b)) {}
  const EventStore* store;  // null while only checking the query
  const MetricQuery& query;
  const Cell* cell;
  std::vector<std::string> by;
  Date at{};
  Window window{};
  int year = 0;  // criminalisation: the year ending 31 March
  ReportTable table;
  std::vector<LineageEntry> lineage;
  std::set<Accumulator::JudgedRow> judged;  // the lineage cell's kept rows

  Accumulator NewAccumulator(std::vector<std::string> raw) const {
    return Accumulator(by, std::move(raw), cell);
  }
  Status Children(const std::function<void(const ChildView&)>& visit) const {
    return ForEachChild(*store, query.known_at, visit);
  }
  // The children with a span row of `kind` meeting `span` (as the rows stood at the time
  // asked about): those a figure over it can count. For the oracle, every child.
  Status ChildrenIn(RowKind kind, const Window& span,
                    const std::function<void(const ChildView&)>& visit) const {
    if (query.fold) return Children(visit);
    auto ids = ChildrenWithSpans(*store, kind, span, query.known_at);
    if (!ids.ok()) return ids.status();
    return ForEachChildIn(*store, query.known_at, *ids, visit);
  }
  Window AtDay() const { return Window{at, at + std::chrono::days{1}}; }
  // The estimate for the year, or failing that the latest of the two years before it (the
  // mid-year estimates are published a year or more late), with a note saying which.
  std::optional<int64_t> Population10To17(int population_year);
  // The settings' population for the year, or the latest of the two before it; no note.
  std::optional<AreaPopulation> LatestPopulation(int population_year) const;
  // Turns the accumulated rows into the table: `derive` gives each row's figures in the
  // order of `measures`.
  void Emit(Accumulator& acc, const std::vector<std::string>& measures,
            const std::function<std::vector<Figure>(const RowAccumulator&)>& derive);
};

// The year of the population estimate for a window: the year its middle day falls in, so that
// the year ending 31 March Y uses the mid-year estimate of Y-1 (30 June Y-1 lies inside it).
int PopulationYear(const Window& w);

std::vector<Figure> Counts(const RowAccumulator& r);

// The rows ingest keeps, read by date (as they stood at a past time, when asked); when a test
// asks for the fold, the same rows recomputed from the timelines.
Status ForEachRow(Run& r, RowKind kind, const Window& window,
                  const std::function<void(const KeptRow&)>& visit);

Status ForEachOutcome(Run& r, const std::function<void(const KeptRow&)>& visit);
// For lineage: adds to the run's lineage the events that set the child dimensions of the kept
// rows the figure counted (Accumulator::AddRow), as each row's child stood when it was judged.
Status NameJudgedRows(Run& r);

// The row's --by values, as Accumulator::Key gives them for a child.
class RowGrouping {
 public:
  explicit RowGrouping(const std::vector<std::string>& by) {
    // Prepare has checked every dimension against the metric's list, which these rows hold.
    for (const auto& d : by) index_.push_back(RowDimensionIndex(d).value_or(0));
  }
  GroupKey Key(const KeptRow& row) const {
    GroupKey key;
    key.reserve(index_.size());
    for (size_t i : index_) key.push_back(row.values[i]);
    return key;
  }

 private:
  std::vector<size_t> index_;
};

// Each metric's section below: the counters and rows ingest keeps for it (KeptRowsOf builds its
// rows) and its query (run by Definitions() in metrics.cc), all defined in the metric's own file.

// ---- M1 children looked after (cla.cc) ----------------------------------------------------
// The child's CLA counters: a +1/-1 span per dimension value it passes through in care.
void AddClaCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> CareSpellRows(const ChildView& child);
Status Cla(Run& r);

// ---- M2 care leavers (care_leavers.cc) ----------------------------------------------------
// The latest contact in the 12 months to `at` (none: null), and what it says.
struct LeaverContact {
  const Fact* contact = nullptr;
  bool in_touch = false, suitable = false, eet = false;
};
LeaverContact LatestContact(const ChildView& child, Date at);
// The measures the counters keep, in this order: care leavers, with a contact in the 12
// months, in touch, in suitable accommodation, in education, employment or training.
inline constexpr size_t kCareLeaverMeasures = 5;
// The dimensions a care leaver's counters are kept by; every other child dimension has one
// value for a care leaver (cohort: care_leaver; the placement's: not_looked_after).
// The age band and the ethnicity group are read from the band's and the ethnicity's counters.
inline constexpr std::string_view kCareLeaverDimensions[] = {"band", "sex", "ethnicity"};
// The counter dimension of a measure by a dimension.
std::string CareLeaverCounter(size_t measure, std::string_view dimension);
// The child's care-leaver counters.
void AddCareLeaverCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> CareLeaverYearsRows(const ChildView& child);
Status CareLeavers(Run& r);

// ---- M3 outcomes by tier (outcomes.cc) ----------------------------------------------------
std::vector<KeptRow> OutcomeRows(const ChildView& child);
// The period's outcome rows by their --by values, with their events: every row in measure 0,
// those `flagged` in measure 1 (M3: at the placement; M4 and M11: no sanction or informal).
Status CountOutcomes(Run& r, Accumulator& acc, bool KeptRow::*flagged);
Status Outcomes(Run& r);

// ---- M4 informal resolution share and M11 exploitation (informal_share.cc) ----------------
Status Informal(Run& r);

// ---- M5 criminalisation of children in care (criminalisation.cc) --------------------------
std::vector<KeptRow> YearEndingRows(const ChildView& child);
Status Criminalisation(Run& r);

// ---- M6 first-time entrants (first_time_entrants.cc) --------------------------------------
// The child's first formal outcome ever; none when the source recorded earlier ones.
const Offence* FirstFormal(const ChildView& child);
std::vector<KeptRow> FirstFormalRows(const ChildView& child);
Status FirstTimeEntrants(Run& r);

// ---- M7 missing from home and care (missing.cc) -------------------------------------------
std::vector<KeptRow> MissingEpisodeRows(const ChildView& child);
Status Missing(Run& r);

// ---- M8 police call-outs from placements (callouts.cc) ------------------------------------
// M8's measures, in its table's order.
enum class CalloutMeasure {
  kMissingReport,
  kNotifiableIncident,
  kEmergency,
  kRestraint,
  kOffenceAtPlacement
};
std::optional<CalloutMeasure> CalloutMeasureOf(std::string_view reason);
std::vector<KeptRow> CalloutRows(const ChildView& child);
Status Callouts(Run& r);

// ---- M9 youth justice caseload (yjs_caseload.cc) ------------------------------------------
// The counter dimension of the open cases: each value is "<cohort>/<intervention>", the child's
// cohort on the day (cla, care_leaver, other) and the case's intervention.
inline constexpr std::string_view kOpenCasesCounter = "yjs_open";
// A child's open cases, each from the day it opened to the day it closed, cut where the child's
// cohort changes.
void AddOpenCaseCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> YjsCaseRows(const ChildView& child);
Status YjsCaseload(Run& r);

// ---- M10 offence profile against England and Wales (offence_profile.cc) -------------------
Status OffenceProfile(Run& r);

// ---- M12 disproportionality (disproportionality.cc) ---------------------------------------
// The dimensions its denominators (children aged 10-17 known to the store) are kept by; the
// ethnicity group is read from the ethnicity's counters.
inline constexpr std::string_view kAgedTenToSeventeenDimensions[] = {"sex", "ethnicity", "cohort"};
// The counter dimension of the children aged 10-17 by a dimension.
std::string AgedTenToSeventeenCounter(std::string_view dimension);
// A registered child's days from its 10th birthday to its 18th, cut where its cohort changes.
struct AgedTenToSeventeen {
  Date from, to;  // to: the first day after
  std::string cohort;
};
std::vector<AgedTenToSeventeen> AgedTenToSeventeenStretches(const ChildView& child);
// The registered child's counters from its 10th birthday to its 18th.
void AddAgedTenToSeventeenCounters(const ChildView& child, Contribution& out);
std::vector<KeptRow> AgedTenToSeventeenRows(const ChildView& child);
Status Disproportionality(Run& r);
// The children aged 10-17 on a day, by the run's dimensions, added to `measure`: read from the
// counters live (by one dimension), from the span rows as known at a time or for lineage (with
// their events), from the fold as the oracle.
Status AddAgedTenToSeventeen(Run& r, Accumulator& acc, size_t measure, Date on);

// ---- M13 reoffending (reoffending.cc) -----------------------------------------------------
std::vector<KeptRow> ReoffenceRows(const ChildView& child);
Status Reoffending(Run& r);

}  // namespace careledger::metrics
