// Private to projections/: what every metric shares — the window it is asked about, the
// dimensions a contribution can be grouped by, and the accumulator that turns per-child
// contributions into rows (and, for lineage, remembers the event ids behind one row).
#pragma once

#include <map>
#include <set>
#include <string>
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

// The common dimensions every child-level figure can be broken down by.
inline constexpr std::string_view kChildDimensions[] = {
    "age_band",  "sex",      "ethnicity", "ethnicity_group", "cohort", "legal_status",
    "placement", "provider", "area",      "home_id"};

using GroupKey = std::vector<std::string>;

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
  struct LineageLess {
    bool operator()(const LineageEntry& a, const LineageEntry& b) const {
      return std::tie(a.measure, a.event_id) < std::tie(b.measure, b.event_id);
    }
  };
  std::set<LineageEntry, LineageLess> lineage_;
};

}  // namespace careledger::metrics
