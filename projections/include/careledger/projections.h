// careledger/projections.h — figures as folds over each child's whole timeline.
//
// The projection state is one timeline per child: every event of the child that a figure reads,
// in an order that does not depend on arrival (occurred, recorded, type, event id), each stamped
// with when we learned it. The fold (state, event) → new state runs inside the ingest batch and
// on replay alike. Every figure is then a pure function of the timelines: live, as at a date,
// over a period, and as known at a past time (only the facts ingested by then), with the event
// ids behind each figure. The headline CLA count is also kept as counter deltas keyed by date,
// written as the difference of the child's contribution whenever any of its events arrives.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "careledger/common.h"
#include "careledger/config.h"
#include "careledger/events.h"
#include "careledger/store.h"

namespace careledger {

// ---- Timelines ------------------------------------------------------------------------------
// One event of a child as the figures read it.
struct Fact {
  EventType type = EventType::kChildRegistered;
  std::string event_id, supersedes;
  std::string source_key;  // versions of one record share it; the latest recorded counts
  Timestamp occurred_at;
  Instant recorded_at;
  uint64_t sequence = 0;  // log sequence: the order we learned it in
  Instant ingested_at;    // when we learned it, for "as known at"
  EventData data;
};

struct Timeline {
  int32_t partition = 0;    // the partition whose counters hold this child's contribution
  std::vector<Fact> facts;  // in TimelineBefore order
};

// Arrival-independent order: occurred, recorded, a period's start before its changes and end,
// then event id.
bool TimelineBefore(const Fact& a, const Fact& b);
void AddFact(Timeline& timeline, Fact fact);
Fact FactFromEnvelope(const Envelope& e, uint64_t sequence, Instant ingested_at);

// The state holds one entry per fact, keyed so that RocksDB's order is the timeline's order
// within each child: appending a fact is one Put, whatever the child's history.
std::string FactKeyPrefix(std::string_view child_id);  // all facts of one child
std::string FactKey(std::string_view child_id, const Fact& fact);
// The child a fact key belongs to; nullopt for any other key.
std::optional<std::string_view> ChildOfFactKey(std::string_view key);
std::string EncodeFact(const Fact& fact, int32_t partition);
[[nodiscard]] Status DecodeFact(std::string_view bytes, Fact& fact, int32_t& partition);
// The fact's meaning: its encoding without when it was learned, so that the same events
// ingested in any order encode the same.
std::string CanonicalFact(const Fact& fact, int32_t partition);

// ---- A child's resolved history -----------------------------------------------------------
// A stretch of a care period with one legal status and placement: [from, to), `to` empty while
// still open. Short-break (V3/V4) stretches are kept, flagged, because the OC2 cohort asks
// about them; they never count as looked after.
struct CareSpell {
  Date from;
  std::optional<Date> to;
  std::string legal_status, placement, provider, home_id;
  std::optional<bool> out_of_area;  // unknown when the source could not say
  bool short_break = false;
  std::vector<const Fact*> facts;  // the events that made the stretch: start, changes, end
};

struct MissingEpisode {
  std::string episode_id;
  const Fact* reported = nullptr;  // null when only the return or interview is known
  const Fact* returned = nullptr;
  const Fact* interview = nullptr;
};

struct Offence {
  std::string offence_id;
  const Fact* recorded = nullptr;     // null while only its outcome is known
  std::vector<const Fact*> outcomes;  // outcome.recorded and court.outcome_recorded, in order
  // The final disposal: the latest decided outcome that is a disposal for the child (Home
  // Office 1 "charged" waits for the court; 4, 6, 7, 19 are not a child's disposal).
  const Fact* final = nullptr;
  std::string disposal;
  Date decided{};
};

struct YjsCase {
  std::string case_id;
  const Fact* opened = nullptr;
  const Fact* closed = nullptr;
};

// A child's history with corrections applied (supersedes and event.retracted remove their
// targets; of the versions of one source_key only the latest recorded, then the latest
// ingested, counts) and, when asked, only the facts ingested by a time. Borrows from its
// timeline.
struct ChildView {
  std::string_view child_id;
  int32_t partition = 0;
  const Fact* registered = nullptr;  // the latest child.registered
  std::optional<Date> dob;
  std::string_view sex, ethnicity;
  int prior_formal_outcomes = 0;
  std::vector<CareSpell> spells;  // in date order, adjacent ones with the same details merged
  std::vector<const Fact*> contacts, risk_assessments, callouts;
  // court.remand_decided, in timeline order: a court's decision stands as the child's whatever
  // becomes of the offence's record.
  std::vector<const Fact*> remands;
  std::vector<MissingEpisode> missing;  // in order of report
  std::vector<Offence> offences;        // in order of the offence date
  std::vector<YjsCase> cases;
};

ChildView ResolveChild(std::string_view child_id, const Timeline& timeline,
                       std::optional<Instant> known_at = std::nullopt);

// Looked after on d: a non-short-break spell with from <= d < to (a period ending on d does not
// count on d, as in the SSDA903 "looked after at 31 March" count).
const CareSpell* ClaSpellAt(const ChildView& child, Date d);
bool IsLookedAfterAt(const ChildView& child, Date d);
// Whole years of age on d; nullopt without a date of birth.
std::optional<int> AgeAt(const ChildView& child, Date d);
std::optional<int> AgeAt(std::optional<Date> dob, Date d);
// "under 10", "10-13", "14-15", "16-17", "18-21", "22-25", "26+" or "unknown".
std::string_view AgeBand(std::optional<int> age);
// Not looked after on d, aged 16–25, looked after for at least 13 weeks in total since the
// 14th birthday, some of it on or after the 16th (spec/metrics.md).
bool IsCareLeaverAt(const ChildView& child, Date d);
// The stretches of care that make the child a care leaver on d (those since the 14th
// birthday); none when the child is not one.
std::vector<const CareSpell*> CareLeaverSpells(const ChildView& child, Date d);
std::string_view CareLeaverBand(int age);  // "16-17", "18", "19-21", "22-25"
// "cla", "care_leaver" or "other", judged on d.
std::string_view CohortAt(const ChildView& child, Date d);
// Looked after every day of the 12 months to 31 March `year` (so never V3/V4 in them) and
// aged 10 or over on that day.
bool InOc2Cohort(const ChildView& child, int year);
// The stretches of care that kept the child looked after through those 12 months, in date
// order; none when the child is not in the cohort.
std::vector<const CareSpell*> Oc2CohortSpells(const ChildView& child, int year);
// The exploitation risk on d: the higher of the CCE and the CSE level last assessed on or
// before d ("both" assesses the two); "" when never assessed.
std::string_view ExploitationRiskAt(const ChildView& child, Date d);
// The assessments it is judged from: the latest of CCE and of CSE on or before d.
std::vector<const Fact*> ExploitationRiskFacts(const ChildView& child, Date d);

// ---- The fold inside the ingest batch -------------------------------------------------------
struct AcceptedEvent {
  const Envelope* envelope = nullptr;
  uint64_t sequence = 0;
  // The Kafka partition (the same number in every co-partitioned topic). Figures are kept per
  // partition so that each instance answers only for the partitions it owns, and the
  // figures of several instances add up.
  int32_t partition = 0;
  Instant ingested_at{};
  // Where it was consumed (the topic's bytes live as long as the batch being built).
  std::string_view topic = {};
  int64_t offset = 0;
};

struct ProjectorOptions {
  // What Apply holds of the children batches touched lately (Projector::HeldChild). On the 1
  // M-children feed, reading each touched child's facts back from RocksDB (a seek through
  // every level) was 28 % of ingest's main thread; at 128 MiB about half the reads left are of
  // children with no facts yet (ingest 10.5 k → 12.4 k events/s; 512 MiB held nearly every
  // child, for 13.1 k/s and 210 MiB more resident).
  static constexpr size_t kDefaultCacheBytes = size_t{128} << 20;
  // The previous state is read from this family (empty: the live one); a rebuild folds into
  // its own.
  std::string family;
  // The next batch may be built before this one is written (ingest's pipeline), so the
  // children this batch touches are held until then, whatever `cache_bytes` says; a caller
  // that writes each batch before building the next may say false.
  bool overlapping = true;
  // Bounds (roughly) what is held of children touched before.
  size_t cache_bytes = kDefaultCacheBytes;
  // Threads a batch's children are folded on; 0: one a core, at most four. On the 1
  // M-children feed the fold was 83 % of ingest's main thread.
  size_t threads = 0;
  // Counter cells held (about 100 bytes each).
  size_t held_cells = size_t{1} << 18;
};

// Folds accepted events into the batch. Reads the children's previous state from the batch
// before it (which may still be being written) and then from the store. Batches must be
// written in the order Apply saw them; if one is not written, call Forget before the next.
class Projector {
 public:
  explicit Projector(const EventStore& store, ProjectorOptions options = {});
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;
  // `previous_written`, when the batch before may still be being written (`overlapping`):
  // waits until it is; called only when a counter cell that batch changed must be read.
  Status Apply(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch,
               const std::function<void()>& previous_written = {});
  // Drops what is held of the state: after a swap, or when a batch built on it was not written.
  void Forget() {
    recent_.clear();
    older_.clear();
    recent_bytes_ = 0;
    cells_.clear();
    replaced_.clear();
  }

 private:
  // What Apply holds of a child: its fact entries (state key → encoded fact, in key order), as
  // the state holds them once the batches Apply built are written, and when each of its kept
  // rows that Apply wrote or read took its value (read back from the store otherwise). Apply
  // is the only writer of both while it lives (a swapped state calls Forget).
  struct HeldChild {
    std::vector<std::pair<std::string, std::string>> facts;
    std::unordered_map<std::string, Instant> row_since;
    size_t bytes = 0;  // about what it takes in memory
  };
  struct Touched;
  struct ChildFold;
  Status Fold(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch,
              const std::function<void()>& previous_written);
  // Each changed counter cell, set whole (known or read) or merged (see the definition).
  Status WriteCounters(const std::vector<std::unordered_map<std::string, int64_t>>& deltas,
                       EventStore::Batch& batch, const std::function<void()>& previous_written);
  // One child's fold, into `c` and `deltas` only: it reads the store and what the batches
  // before left in `replaced_`, and writes nothing else, so that children fold on any thread.
  void FoldChild(ChildFold& c, std::unordered_map<std::string, int64_t>& deltas) const;
  [[nodiscard]] Status ReadChild(std::string_view child_id, HeldChild& child) const;
  void HoldChild(std::string child_id, HeldChild child);

  const EventStore& store_;
  const ProjectorOptions options_;
  const size_t threads_;
  // Two generations of held children: a child moves to `recent_` when a batch touches it; a
  // batch that starts with `recent_` over half the budget drops `older_` and makes `recent_`
  // it. The children of the batch before are always in one of them, so a batch still being
  // written is never read back from the store.
  std::unordered_map<std::string, HeldChild> recent_, older_;
  size_t recent_bytes_ = 0;
  // Counter cells Apply holds: a cell's value as the batches it built leave it (written, or
  // being written), so that a cell changed again is not read back; or, for a cell whose value
  // is unknown, the fold that last changed it by a merge operand. Apply is the only writer of
  // the counters while it lives (a swapped state calls Forget). A live feed changes today's
  // and this month's cells batch after batch. At most `held_cells`.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  struct HeldCell {
    int64_t value = 0;
    uint64_t merged_in = 0;  // a fold's number; 0: `value` is the cell's
  };
  std::unordered_map<std::string, HeldCell, KeyHash, std::equal_to<>> cells_;
  uint64_t folds_ = 0;
  // Kept row → the value it held before a batch replaced it, while batches of that second may
  // still give it back (then it held all along, as a rebuild of the second at once sees it).
  struct Replaced {
    Instant stamp, since;
    std::string value;
  };
  std::unordered_map<std::string, Replaced> replaced_;
  bool layout_checked_ = false;  // the state is in the layout this fold writes
};

// ---- Rebuilding the projection state from the log ------------------------------------------
struct RebuildStats {
  uint64_t records = 0;   // log records folded
  uint64_t children = 0;  // children with facts that shape the kept figures (counters, rows)
  uint64_t counters = 0;  // counter deltas written (a cell's total, or parts of it at scale)
  // Wall time of each pass (the log parsed into facts, the facts folded child by child), of
  // merging the runs into the state's files and ingesting them, and of the compaction after
  // them (nothing to do when the family held nothing before).
  std::chrono::duration<double> facts_pass{}, children_pass{}, files{}, compaction{};
};

struct RebuildOptions {
  // What each of a pass's threads holds in memory (its state, sorted by key) before spilling it
  // to a file of its own (SpilledRun). At the end every run, spilled or not, is merged into
  // table files that do not overlap, one a thread, so no rebuild needs a compaction.
  size_t run_bytes = size_t(32) << 20;
  // Only the records ingested by then: the state as it was at that time.
  std::optional<Instant> known_at;
  uint64_t end = UINT64_MAX;  // the log up to this sequence (at most the log's end)
  std::string family;         // the state family written; empty: the live one
  // Set (by another thread) to stop the rebuild: it returns a Fatal error soon after.
  const std::atomic<bool>* stop = nullptr;
  // Compactions are off while the rebuild writes; at the end the family is compacted before
  // they resume, unless it is about to be thrown away (a scratch store).
  bool compact = true;
};

// Folds the log of `from` into the projection state of `to` (a family of it that holds no state
// yet): the state Projector::Apply leaves after folding the same log (the same
// ProjectionStateHash). Two passes, each on two threads: every record parsed again into its
// child's fact (one that no longer parses is a Fatal error naming its sequence), then the facts
// taken in key order, a child at a time, for its counters and kept rows. The state is gathered
// in memory and written as sorted table files that are ingested whole; what it holds in memory
// is bounded by RebuildOptions::run_bytes a thread (runs beyond it are spilled and read
// back), a child's facts and up to 2^20 counter cells a thread, whatever the size of the store.
// `to` may be `from` (a family beside the live one, as StateRebuild writes).
Result<RebuildStats> RebuildProjectionsInto(const EventStore& from, EventStore& to,
                                            const RebuildOptions& options = {});

// A hash of the projection state's meaning: two stores that hold the same events, in whatever
// order and whenever they arrived, have the same hash (counters that net to zero are left out).
// `family` names a state family other than the live one (a rebuild's).
Result<ChainHash> ProjectionStateHash(const EventStore& store, std::string_view family = {});
// The ingest stamp of the log record at `sequence`; Fatal when there is none.
Result<Instant> IngestedAt(const EventStore& store, uint64_t sequence);
// The first log sequence below `end` ingested after `t` (`end` when none was): the log's stamps
// never fall along it, so a binary search of a few records.
Result<uint64_t> FirstIngestedAfter(const EventStore& store, Instant t, uint64_t end);
// Folds the log of `store` again into a scratch store made at `scratch_dir` (removed after)
// and compares the result with the live state cell by cell, as ProjectionStateHash reads
// them. The first cell that differs, named with both values, or nullopt when none does.
Result<std::optional<std::string>> FirstDifferingCell(const EventStore& store,
                                                      const std::string& scratch_dir);

// ---- Rebuilding the state from the log (careledger replay) ----------------------------------
// Folds the log into a new state family beside the live one, with the same Projector the
// ingest batches use, so the result is the same bytes the live path gives. The log only grows,
// so a rebuild can fold up to a point while ingest appends, then catch up, then swap; an audit
// rebuild (known_at) folds only the records ingested by then and is dropped, never swapped.
class StateRebuild {
 public:
  struct Options {
    std::optional<Instant> known_at;  // only records ingested at or before it
    // Log records per state batch: the batch, its envelopes and the timelines it touches are
    // what a rebuild holds in memory.
    size_t chunk = 10000;
    // Set (by another thread) to stop the first CatchUp's bulk rebuild (RebuildProjectionsInto).
    const std::atomic<bool>* stop = nullptr;
  };
  static Result<std::unique_ptr<StateRebuild>> Begin(EventStore& store, Options options);
  // Drops the family unless it was swapped in.
  ~StateRebuild();
  StateRebuild(const StateRebuild&) = delete;
  StateRebuild& operator=(const StateRebuild&) = delete;

  // Folds the log records from next() up to (not including) sequence `end`. `progress` is
  // called after each state batch with the records folded so far (all of them, from 0). The
  // first call folds all but the last ingest stamp's records with RebuildProjectionsInto (two
  // passes on two threads), the rest with the Projector, as ingest folded them.
  Status CatchUp(uint64_t end, const std::function<void(uint64_t folded)>& progress = {});
  uint64_t next() const { return next_.load(); }
  const std::string& family() const { return family_; }
  Result<ChainHash> Hash() const { return ProjectionStateHash(store_, family_); }
  // Makes the rebuilt family the live state. Call with the log caught up to its head and no
  // ingest batch being built or written.
  Status Swap();

 private:
  StateRebuild(EventStore& store, std::string family, Options options)
      : store_(store),
        family_(family),
        options_(options),
        projector_(store, {.family = std::move(family), .overlapping = false}) {}
  EventStore& store_;
  std::string family_;
  Options options_;
  Projector projector_;
  std::atomic<uint64_t> next_{0};
  bool swapped_ = false;
};

// Visits every child timeline of the partitions the store answers for (all of them when it was
// never assigned any), resolved as known at `known_at` when given.
Status ForEachChild(const EventStore& store, std::optional<Instant> known_at,
                    const std::function<void(const ChildView&)>& visit);

// ---- Headline CLA counters ------------------------------------------------------------------
enum class ClaDimension { kNone, kPlacement, kLegalStatus };
Result<ClaDimension> ClaDimensionFromName(std::string_view name);

struct ClaRow {
  std::string group;  // empty for kNone
  int64_t children = 0;
};
// M1 "CLA at D" from the counters (no scan of timelines): by one dimension, over the partitions
// the store is assigned. Groups with no children are left out; rows are in group order.
Result<std::vector<ClaRow>> ClaAt(const EventStore& store, Date at, ClaDimension by);
// The same by any dimension the counters are kept by ("" for none; IsClaCounterDimension):
// every child dimension but the cohort, judged on D.
bool IsClaCounterDimension(std::string_view dimension);
Result<std::vector<ClaRow>> ClaCountsAt(const EventStore& store, Date at,
                                        std::string_view dimension);

// ---- Metrics (spec/metrics.md) ------------------------------------------------------------
// What a figure is: a count, a percentage of two counts, a rate, a ratio or an average.
// Published output suppresses small counts and what is derived from them, so a derived figure
// keeps the counts it came from.
struct Figure {
  enum class Kind {
    kCount,
    kPercent,
    kPerHundredThousand,
    kPerThousand,
    kRatio,
    kAverage,
    kHours,
    kText
  };
  Kind kind = Kind::kCount;
  std::optional<double> value;                    // empty: not defined (a zero denominator)
  std::optional<int64_t> numerator, denominator;  // the counts a derived figure came from
  std::string text;                               // kText only (e.g. a month)
  // Where the row shows those counts (measure indices): a derived figure is withheld with
  // them. Unset: the row does not show it, and a published percentage then reveals it.
  std::optional<size_t> numerator_column, denominator_column;
  // kRatio: the figures it divides (measure indices, in its row and in its row's entry of
  // the table's reference_rows); empty: every figure of its row.
  std::vector<size_t> from_columns;

  static Figure Empty(Kind kind) { return Make(kind, std::nullopt, std::nullopt, std::nullopt); }
  static Figure Count(int64_t n) { return Make(Kind::kCount, double(n), n, std::nullopt); }
  static Figure Percent(int64_t num, int64_t den);
  static Figure Rate(int64_t num, int64_t population);  // per 100,000
  static Figure RatePerThousand(int64_t num, int64_t population);
  static Figure Ratio(std::optional<double> a, std::optional<double> b);
  static Figure Average(double total, int64_t n, Kind kind = Kind::kAverage);

  Figure Columns(std::optional<size_t> numerator_col, std::optional<size_t> denominator_col) && {
    numerator_column = numerator_col;
    denominator_column = denominator_col;
    return std::move(*this);
  }
  Figure From(std::vector<size_t> columns) && {
    from_columns = std::move(columns);
    return std::move(*this);
  }

 private:
  static Figure Make(Kind kind, std::optional<double> value, std::optional<int64_t> numerator,
                     std::optional<int64_t> denominator) {
    Figure f;
    f.kind = kind;
    f.value = value;
    f.numerator = numerator;
    f.denominator = denominator;
    return f;
  }
};

struct ReportTable {
  std::string metric;                                          // e.g. "cla"
  std::vector<std::pair<std::string, std::string>> selectors;  // e.g. {"at", "2025-03-31"}
  std::vector<std::string> dimensions;  // column names of the --by dimensions
  std::vector<std::string> measures;    // "value" when there is one measure
  struct Row {
    std::vector<std::string> groups;  // one per dimension
    std::vector<Figure> values;       // one per measure
  };
  std::vector<Row> rows;
  std::vector<std::string> notes;  // caveats a reader must see (provisional figures, inputs)
  // Measures that add up to another in every row (a total and its parts): a published total
  // must not give away a part that is withheld.
  struct Sum {
    size_t total;
    std::vector<size_t> parts;
  };
  std::vector<Sum> row_sums;
  // Per row, the row its ratios also divide by (the reference group of a relative rate index,
  // in the same month of a series); empty: none.
  std::vector<std::optional<size_t>> reference_rows;
};

// Which figure: one of --at / --period, optionally --as-known-at, broken down --by.
struct MetricQuery {
  std::string metric;                           // "cla", "care-leavers", … (spec/cli.md)
  std::optional<Date> at;                       // state on a date
  std::optional<std::pair<Date, Date>> period;  // [from, to)
  std::optional<Instant> known_at;              // only what was ingested by then
  std::vector<std::string> by;  // dimensions, in output order; {"none"}: no breakdown at all
  Date today{};                 // what "now" means (defaults when neither at nor period)
  // One block of rows per calendar month of the period (--series monthly): a period metric
  // over each month, a metric on a day (cla, care-leavers, yjs-caseload) on each month's last.
  bool monthly = false;
  // Compute from the child timelines even where ingest keeps the figure: the oracle that the
  // kept figures are tested against.
  bool fold = false;
  // Reference inputs: the area's population by year, and the national comparator.
  std::function<std::optional<AreaPopulation>(int year)> population;
};

// One figure's cell for lineage: dimension → value (only the dimensions asked --by).
using Cell = std::map<std::string, std::string>;

struct LineageEntry {
  std::string measure;
  std::string event_id;
};

// The selectors as text, from command-line flags or URL parameters, and the names the caller's
// users know them by (errors name them).
struct MetricSelectorText {
  std::string metric, at, period, known_at, by;  // empty: not given
  std::string series = {};                       // "monthly" or empty
};
struct MetricSelectorNames {
  std::string_view at = "--at", period = "--period", known_at = "--as-known-at", cell = "--cell",
                   series = "--series";
};
// What "today" is for a report as known at T: T's day (the report as it stood then, its default
// day and periods those it showed), unless that is after `today`.
Date TodayAsKnownAt(Date today, Instant known_at);
// The query they ask (today: the system date unless given, TodayAsKnownAt with --as-known-at;
// no population: the caller adds its settings); BadInput naming the selector when one does not
// parse. A period is FROM..TO (half
// open), a financial year ending 31 March ("2025-26"), a calendar quarter ("2026Q3") or
// "last-complete-quarter".
Result<MetricQuery> ParseMetricSelectors(const MetricSelectorText& text,
                                         const MetricSelectorNames& names = {},
                                         std::optional<Date> today = std::nullopt);
// --series monthly: the whole months its rows cover ([from, to)); BadInput as the report would.
Result<std::pair<Date, Date>> SeriesPeriod(const MetricQuery& query);
// "DIM=VALUE,..." as a lineage cell.
Result<Cell> ParseCell(const std::string& text, const MetricSelectorNames& names = {});

std::vector<std::string_view> MetricNames();
// The dimensions a metric can be broken down by.
Result<std::vector<std::string_view>> MetricDimensions(std::string_view metric);
// What a metric is asked for: a day (--at D), a period (--period FROM..TO) or a year ending
// 31 March (--at YYYY-03-31).
enum class MetricTime { kAt, kPeriod, kYear };
Result<MetricTime> MetricTimeOf(std::string_view metric);
// BadInput naming the flag when the query cannot be answered (unknown metric or dimension,
// --at where a period is needed, a lineage cell naming a dimension not asked --by, …):
// checked before a store is opened.
Status CheckMetricQuery(const MetricQuery& query, const Cell* lineage_cell = nullptr);
Result<ReportTable> RunMetric(const EventStore& store, const MetricQuery& query);
// The event ids behind the figures of one row of the metric (the row whose --by dimensions have
// the cell's values), each with the measure it counts towards, in measure then id order.
Result<std::vector<LineageEntry>> RunLineage(const EventStore& store, const MetricQuery& query,
                                             const Cell& cell);
// Several instances' stores answering as one: each answers for the partitions of its consumer's
// last assignment, and a child's facts, rows and counter cells are all under its partition, so
// a figure read from each in turn (then finished once: medians, percentages, rates) is the
// figure of one store holding every partition. The stores must answer for disjoint partitions.
//
// A store may be another instance's, read over the network: reporting/ carries each read (an
// opaque request, answered at the other end by AnswerStoreRead) and brings its answer back.
class RemoteStore {
 public:
  virtual ~RemoteStore() = default;
  // "instance i-2 at http://host:port", for notes and errors.
  virtual std::string Name() const = 0;
  // The partitions it is expected to answer for (its instance's announced assignment). A read
  // names them and the other end refuses it when it answers for others (it was rebalanced); a
  // row or child of any other partition in an answer fails the read.
  virtual std::set<int32_t> Partitions() const = 0;
  // Retriable when the other end does not answer in time, refuses, or cannot be reached.
  virtual Result<std::string> Read(const std::string& request) const = 0;
  // Told when a read failed (Read's own failure, or an answer that fails the checks), before
  // the figure fails with it: the caller may ask again without this store and say so.
  virtual void Failed(const Status& why) const = 0;
};
// Answers one RemoteStore read from this store. BadInput for a request that does not decode;
// Retriable when the store answers for other partitions than the request expects.
[[nodiscard]] Result<std::string> AnswerStoreRead(const EventStore& store,
                                                  std::string_view request);

// One store a figure reads: on this host, or another instance's.
struct StoreRef {
  StoreRef(const EventStore* s) : local(s) {}    // NOLINT(google-explicit-constructor)
  StoreRef(const RemoteStore* r) : remote(r) {}  // NOLINT(google-explicit-constructor)
  const EventStore* local = nullptr;
  const RemoteStore* remote = nullptr;
  bool operator==(const StoreRef&) const = default;
};
using Stores = std::vector<StoreRef>;
// BadInput naming a partition two stores answer for (or a store never assigned any, which
// answers for all), with both stores' paths.
Status CheckDisjointStores(const Stores& stores);
// "answers for partitions 0,1,4 of <path>; 2,3,5 of <path>": what a merged answer covers.
Result<std::string> DescribeStores(const Stores& stores);
Result<ReportTable> RunMetric(const Stores& stores, const MetricQuery& query);
Result<std::vector<LineageEntry>> RunLineage(const Stores& stores, const MetricQuery& query,
                                             const Cell& cell);

// The out-of-court panel's worklist (docs/metrics.md, "The panel worklist"): each offence by a
// child looked after or a care leaver (judged at the offence date) that waits for a decision.
// About named children: never part of the published view.
enum class PanelStatus : int64_t {
  kAwaitingOutcome = 0,  // recorded, nothing decided yet
  kCharged = 1,          // charged or summonsed (Home Office outcome 1): the court decides
};
std::string_view PanelStatusName(PanelStatus status);  // "awaiting_outcome", "charged"
struct PanelItem {
  std::string child_id, offence_id;
  Date offence_date{};
  int64_t days_waiting = 0;  // from the offence date to the day the list is for
  PanelStatus status = PanelStatus::kAwaitingOutcome;
  // Judged at the offence date: cla or care_leaver; the offence group; medium_or_high or other;
  // in_area, out_of_area or unknown (not_looked_after for a care leaver); the placement's home.
  std::string cohort, offence_group, exploitation_risk, area, home_id;
  bool knife_related = false, at_placement = false;
};
struct PanelQuery {
  Date today{};                     // the day the list is for, unless known_at
  std::optional<Instant> known_at;  // the list as it stood then, for that day
  bool fold = false;                // from the child timelines: the oracle
};
// Longest waiting first (then by child and offence id); the partitions the store answers for.
Result<std::vector<PanelItem>> PanelWorklist(const EventStore& store, const PanelQuery& query);

}  // namespace careledger
