// Private to projections/: the accumulator that turns per-child contributions into rows and,
// for lineage, remembers the event ids behind one row.
#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "dimensions.h"
#include "kept_rows.h"

namespace careledger::metrics {

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

}  // namespace careledger::metrics
