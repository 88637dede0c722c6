// Private to projections/: the counter cells ingest keeps (counters.cc) and what a child
// contributes to them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dimensions.h"

namespace careledger::metrics {

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

}  // namespace careledger::metrics
