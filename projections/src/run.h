// Private to projections/: one query being answered (Run, run.cc) and what every metric's
// query shares: the state's layout and partitions, the kept rows' reads and their grouping.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "accumulator.h"
#include "dimensions.h"
#include "kept_rows.h"
#include "source.h"

namespace careledger::metrics {

// Fatal, asking for a replay, when the store's projection state was written by an older
// careledger whose layout the queries would misread as empty.
Status CheckStateLayout(const EventStore& store, std::string_view family = {});

// The projection state's layout, kept beside it: a store whose state predates the outcome rows
// would otherwise answer every query over kept rows with nothing.
inline constexpr std::string_view kLayoutKey{"layout\0", 7};
inline constexpr std::string_view kLayout =
    "18: cla counters by month and, a day's in one cell, by day and every child dimension, kept "
    "rows, span rows, the values "
    "rows held before keyed by when they held (not a 31 March row's before its day), missing "
    "episodes' figures in their rows, every row's date of birth, the children aged 10-17, open "
    "youth justice cases, offences awaiting a decision, placement stability (its care events up "
    "to its day), custody";

// M1 "CLA on a day" from counters `read` by name (CountersOn: over one store or several), by a
// dimension the counters are kept by ("" for none).
Result<std::vector<ClaRow>> ClaCountsOn(
    const std::function<Result<std::map<std::string, int64_t>>(std::string_view counter)>& read,
    std::string_view dimension);

// One query being answered: what was asked, and the table (or lineage) it gives.
struct Run {
  Run(const Stores& s, const MetricQuery& q, const Cell* c, std::vector<std::string> b)
      : query(q), cell(c), by(std::move(b)) {
    for (const StoreRef& store : s) sources.push_back(SourceOf(store));
  }
  // Empty while only checking the query. Several: their partitions are disjoint, and a child's
  // facts, rows and counter cells are all under its partition, so reading each store (in
  // turn: EachSource) reads what one store holding every partition would.
  std::vector<std::shared_ptr<const Source>> sources;
  const MetricQuery& query;
  const Cell* cell;
  std::vector<std::string> by;
  Date at{};
  Window window{};
  int year = 0;  // criminalisation, placement-stability: the year ending 31 March
  ReportTable table;
  std::vector<LineageEntry> lineage;
  std::set<Accumulator::JudgedRow> judged;  // the lineage cell's kept rows

  Accumulator NewAccumulator(std::vector<std::string> raw) const {
    return Accumulator(by, std::move(raw), cell);
  }
  // ReadEach: other instances' stores are asked at once.
  Status EachSource(const std::function<Status(const Source&)>& read) const {
    return ReadEach(sources, read);
  }
  Status Children(const std::function<void(const ChildView&)>& visit) const {
    return EachSource([&](const Source& s) { return s.Children(query.known_at, nullptr, visit); });
  }
  // The children with a span row of `kind` meeting `span` (as the rows stood at the time
  // asked about): those a figure over it can count. For the oracle, every child.
  Status ChildrenIn(RowKind kind, const Window& span,
                    const std::function<void(const ChildView&)>& visit) const {
    if (query.fold) return Children(visit);
    return EachSource([&](const Source& s) -> Status {
      auto ids = s.SpanChildren(kind, span, query.known_at);
      if (!ids.ok()) return ids.status();
      return s.Children(query.known_at, &*ids, visit);
    });
  }
  // The named children (sorted ids), from whichever store holds each.
  Status ChildrenNamed(const std::vector<std::string>& ids,
                       const std::function<void(const ChildView&)>& visit) const {
    return EachSource([&](const Source& s) { return s.Children(query.known_at, &ids, visit); });
  }
  // CountersOn summed over the stores.
  Result<std::map<std::string, int64_t>> CountersOn(Date on, std::string_view dimension) const;
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

}  // namespace careledger::metrics
