// The live fold: what one ingest batch adds to the projection state (each fact, and the kept
// rows and counter cells of every child it touches), and the children it holds between batches.
#include <algorithm>
#include <unordered_map>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

namespace {

using metrics::CounterContribution;
using metrics::Deltas;
using metrics::kLayout;
using metrics::kLayoutKey;

// Whether a fact can change a child's counters: its registration (date of birth, sex,
// ethnicity), its care, a care leaver's contact, a youth justice case opening or closing, and
// any correction, retraction or version (which may stand for one of those). Offences, call-outs
// and missing episodes cannot, and a batch of only those leaves the counters alone.
bool ShapesCounters(const Fact& f) {
  switch (f.type) {
    case EventType::kChildRegistered:
    case EventType::kCarePeriodStarted:
    case EventType::kCarePlacementChanged:
    case EventType::kCareLegalStatusChanged:
    case EventType::kCarePeriodEnded:
    case EventType::kCareLeaverContactRecorded:
    case EventType::kYjsCaseOpened:
    case EventType::kYjsCaseClosed:
    case EventType::kEventRetracted:
      return true;
    default:
      return !f.supersedes.empty() || !f.source_key.empty();
  }
}

// The child's timeline from its fact entries (in key order, as the state holds them).
Status DecodeTimeline(const std::vector<std::pair<std::string, std::string>>& entries,
                      Timeline& out) {
  metrics::LatestPartition latest;
  out.facts.reserve(entries.size());
  for (const auto& [key, value] : entries) {
    CARELEDGER_RETURN_IF_ERROR(metrics::AppendStoredFact(value, out, latest));
  }
  return Status::Ok();
}

// Adds `added` (sorted by key) to `entries` (sorted by key); an entry with a key already held
// replaces it, as a Put does.
void MergeEntries(std::vector<std::pair<std::string, std::string>>& entries,
                  std::vector<std::pair<std::string, std::string>>& added) {
  if (added.empty()) return;
  std::vector<std::pair<std::string, std::string>> merged;
  merged.reserve(entries.size() + added.size());
  size_t i = 0, j = 0;
  while (i < entries.size() || j < added.size()) {
    if (j == added.size() || (i < entries.size() && entries[i].first < added[j].first)) {
      merged.push_back(std::move(entries[i++]));
    } else {
      while (j + 1 < added.size() && added[j + 1].first == added[j].first) ++j;  // the last Put
      if (i < entries.size() && entries[i].first == added[j].first) ++i;
      merged.push_back(std::move(added[j++]));
    }
  }
  entries = std::move(merged);
}

}  // namespace

namespace metrics {

Contribution CounterContribution(const ChildView& child) {
  Contribution c;
  AddClaCounters(child, c);
  AddCareLeaverCounters(child, c);
  AddAgedTenToSeventeenCounters(child, c);
  AddOpenCaseCounters(child, c);
  Settle(c);
  return c;
}

}  // namespace metrics

Result<Projector::HeldChild> Projector::TakeChild(std::string_view child_id) {
  const std::string key(child_id);
  if (auto node = recent_.extract(key)) {
    recent_bytes_ -= node.mapped().bytes;
    return std::move(node.mapped());
  }
  if (auto node = older_.extract(key)) return std::move(node.mapped());
  HeldChild child;
  CARELEDGER_RETURN_IF_ERROR(store_.ScanState(
      FactKeyPrefix(child_id),
      [&](std::string_view k, std::string_view value) {
        child.facts.emplace_back(std::string(k), std::string(value));
        return true;
      },
      family_));
  return child;
}

void Projector::HoldChild(std::string child_id, HeldChild child) {
  // Heap blocks and map nodes counted roughly: the budget is a bound, not an account.
  constexpr size_t kPerEntry = 96;
  child.bytes = kPerEntry + child_id.size();
  for (const auto& [key, value] : child.facts) child.bytes += kPerEntry + key.size() + value.size();
  for (const auto& [key, since] : child.row_since) child.bytes += kPerEntry + key.size();
  recent_bytes_ += child.bytes;
  recent_.insert_or_assign(std::move(child_id), std::move(child));
}

Status Projector::Apply(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch) {
  Status s = Fold(events, batch);
  // A child taken out of what is held and not put back is gone: nothing held is whole now.
  if (!s.ok()) Forget();
  return s;
}

Status Projector::Fold(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch) {
  // Every fact is one Put. Children whose kept figures may have changed also get their CLA
  // contribution and outcome rows recomputed from the whole timeline, and the difference
  // written.
  struct Touched {
    int32_t partition = 0;
    bool counters = false;              // some fact may change its counters
    std::vector<Fact> facts;            // all of the child's facts in this batch
    std::vector<int32_t> partition_of;  // each fact's
    std::vector<std::pair<std::string, std::string>> entries;  // and their state entries
  };
  std::unordered_map<std::string_view, Touched> touched;
  touched.reserve(events.size());
  for (const auto& ev : events) {
    // The counter keys hold the partition in two bytes (CounterKey); a bigger one would merge
    // partitions' figures, so it stops ingest instead.
    if (ev.partition < 0 || ev.partition > 0xffff) {
      return Status::Fatal("partition " + std::to_string(ev.partition) +
                           " is beyond the 65,535 the CLA counters can tell apart");
    }
    const Envelope& e = *ev.envelope;
    Fact fact = FactFromEnvelope(e, ev.sequence, ev.ingested_at);
    Touched& t = touched[e.child_id];
    auto& entry = t.entries.emplace_back(FactKey(e.child_id, fact), EncodeFact(fact, ev.partition));
    batch.PutState(entry.first, entry.second);
    t.partition = ev.partition;
    t.partition_of.push_back(ev.partition);
    t.counters = t.counters || ShapesCounters(fact);
    t.facts.push_back(std::move(fact));
  }
  if (!layout_checked_) {
    // Writing the marker into a state that lacks what it promises would hide the gap for good.
    CARELEDGER_RETURN_IF_ERROR(metrics::CheckStateLayout(store_, family_));
    layout_checked_ = true;
  }
  if (!events.empty()) batch.PutState(kLayoutKey, kLayout);
  // Values replaced before the earliest second this batch stamps can no longer come back.
  if (!events.empty()) {
    Instant earliest = events.front().ingested_at;
    for (const auto& ev : events) earliest = std::min(earliest, ev.ingested_at);
    std::erase_if(replaced_, [&](const auto& r) { return r.second.stamp < earliest; });
  }
  // The batch before may still be being written: its children stay held through this one.
  if (recent_bytes_ > cache_bytes_ / 2 || (!overlapping_ && cache_bytes_ == 0)) {
    older_ = std::move(recent_);
    recent_.clear();
    recent_bytes_ = 0;
    if (!overlapping_ && cache_bytes_ == 0) older_.clear();
  }
  Deltas deltas;
  for (auto& [child_id, t] : touched) {
    auto taken = TakeChild(child_id);
    if (!taken.ok()) return taken.status();
    HeldChild held = std::move(taken.value());
    Timeline timeline;
    CARELEDGER_RETURN_IF_ERROR(DecodeTimeline(held.facts, timeline));
    // What the child contributed before, taken before the timeline changes under its view.
    // Counters are kept under the child's partition: one that moves takes them along.
    const bool counters =
        t.counters || (!timeline.facts.empty() && timeline.partition != t.partition);
    metrics::KeptRowEntries rows;
    metrics::Contribution counted;
    {
      ChildView was = ResolveChild(child_id, timeline);
      if (counters) counted = CounterContribution(was);
      rows = metrics::KeptRowEntriesOf(was);
    }
    metrics::RowVersionWriter writer{
        [&](const std::string& key) -> Result<Instant> {
          if (auto it = held.row_since.find(key); it != held.row_since.end()) return it->second;
          auto stored = store_.GetState(key, family_);
          if (!stored.ok()) return stored.status();
          if (!*stored) return Status::Fatal("a kept row is missing (run `careledger replay`)");
          auto since = metrics::SinceOfStoredRow(**stored);
          if (since.ok()) held.row_since.emplace(key, *since);
          return since;
        },
        [&](std::string_view key, std::string_view value) { batch.PutState(key, value); },
        [&](std::string_view key) {
          batch.DeleteState(key);
          if (auto it = held.row_since.find(std::string(key)); it != held.row_since.end()) {
            held.row_since.erase(it);
          }
        },
        [&](const std::string& key, Instant since) { held.row_since[key] = since; },
        [&](const std::string& key, Instant since, const std::string& value, Instant stamp) {
          replaced_[key] = {stamp, since, value};
        },
        [&](const std::string& key, const std::string& value,
            Instant stamp) -> std::optional<Instant> {
          auto it = replaced_.find(key);
          if (it == replaced_.end() || it->second.stamp != stamp || it->second.value != value) {
            return std::nullopt;
          }
          Instant since = it->second.since;
          replaced_.erase(it);
          return since;
        }};
    // The facts by the batch they were ingested in (ingest's batch has one; a rebuild's chunk
    // many), each one's rows written as a version of its own, as ingest wrote them.
    for (size_t run = 0; run < t.facts.size();) {
      Instant stamp = t.facts[run].ingested_at;
      size_t end = run;
      while (end < t.facts.size() && t.facts[end].ingested_at == stamp) ++end;
      for (; run < end; ++run) {
        timeline.partition = t.partition_of[run];
        AddFact(timeline, std::move(t.facts[run]));
      }
      ChildView is = ResolveChild(child_id, timeline);
      if (run == t.facts.size() && counters)
        metrics::AddDifference(counted, CounterContribution(is), deltas);
      auto after = metrics::KeptRowEntriesOf(is);
      CARELEDGER_RETURN_IF_ERROR(metrics::ChangeKeptRows(rows, after, stamp, writer));
      rows = std::move(after);
    }
    // By key only, keeping the batch's order within one: the last Put of a key wins, as in the
    // store.
    std::stable_sort(t.entries.begin(), t.entries.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    MergeEntries(held.facts, t.entries);
    HoldChild(std::string(child_id), std::move(held));
  }
  // Each cell is written whole, from its value now: as merge operands, one a batch, a busy
  // ingest left a thousand in a cell before a flush, and every poll of the figure merged them
  // (a quarter of `serve`'s CPU beside ingest at 10,000 events/s).
  const auto changes = metrics::SortedChanges(deltas);
  std::vector<std::string_view> unread;  // in key order, for one batched read
  for (const auto& [key, delta] : changes) {
    if (!counters_.contains(key)) unread.push_back(key);
  }
  std::vector<int64_t> stored;
  CARELEDGER_RETURN_IF_ERROR(store_.ReadCounters(unread, stored, family_));
  std::vector<int64_t> now(changes.size());
  size_t next_stored = 0;
  for (size_t i = 0; i < changes.size(); ++i) {
    const auto& [key, delta] = changes[i];
    auto known = counters_.find(key);
    now[i] = (known != counters_.end() ? known->second : stored[next_stored++]) + delta;
    batch.SetCounter(key, now[i]);
  }
  // Past the bound only this batch's cells stay known (the next batch may be built before this
  // one is written); the others are read back from the store when next changed.
  if (counters_.size() + unread.size() > kKnownCounters) counters_.clear();
  for (size_t i = 0; i < changes.size(); ++i) {
    if (auto known = counters_.find(changes[i].first); known != counters_.end()) {
      known->second = now[i];
    } else {
      counters_.emplace(std::string(changes[i].first), now[i]);
    }
  }
  return Status::Ok();
}

}  // namespace careledger
