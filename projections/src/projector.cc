// The live fold: what one ingest batch adds to the projection state (each fact, and the kept
// rows and counter cells of every child it touches), and the children it holds between batches.
#include <algorithm>
#include <atomic>
#include <future>
#include <thread>
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

// The counter keys hold the partition in two bytes (CounterKey); a bigger one would merge
// partitions' figures, so it stops ingest instead.
Status CheckPartition(int32_t partition) {
  if (partition < 0 || partition > 0xffff) {
    return Status::Fatal("partition " + std::to_string(partition) +
                         " is beyond the 65,535 the CLA counters can tell apart");
  }
  return Status::Ok();
}

// `fold(i, deltas)` for each i in [0, count) on up to `threads` threads (the caller's among
// them), each taking the next i not taken and folding into deltas of its own, until a fold
// returns false.
template <typename FoldOne>
std::vector<Deltas> FoldOnThreads(size_t threads, size_t count, const FoldOne& fold) {
  std::vector<Deltas> deltas(std::min(threads, std::max<size_t>(1, count / 64)));
  std::atomic<size_t> next{0};
  auto work = [&](Deltas& mine) {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < count;) {
      if (!fold(i, mine)) return;
    }
  };
  std::vector<std::future<void>> helpers;
  for (size_t i = 1; i < deltas.size(); ++i) {
    helpers.push_back(std::async(std::launch::async, work, std::ref(deltas[i])));
  }
  work(deltas[0]);
  for (auto& h : helpers) h.get();
  return deltas;
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

// What one batch brings a child: its facts, as the batch holds them.
struct Projector::Touched {
  int32_t partition = 0;
  bool counters = false;              // some fact may change its counters
  std::vector<Fact> facts;            // all of the child's facts in this batch
  std::vector<int32_t> partition_of;  // each fact's
  std::vector<std::pair<std::string, std::string>> entries;  // and their state entries

  // One fact of the child's, put in the batch as its state entry.
  void Add(const AcceptedEvent& ev, EventStore::Batch& batch) {
    const Envelope& e = *ev.envelope;
    Fact fact = FactFromEnvelope(e, ev.sequence, ev.ingested_at);
    auto& entry = entries.emplace_back(FactKey(e.child_id, fact), EncodeFact(fact, ev.partition));
    batch.PutState(entry.first, entry.second);
    partition = ev.partition;
    partition_of.push_back(ev.partition);
    counters = counters || ShapesCounters(fact);
    facts.push_back(std::move(fact));
  }
};

// One child's fold, done apart from the others (on either thread) and applied to the batch and
// to what Apply holds afterwards, in the children's order.
struct Projector::ChildFold {
  std::string_view child_id;
  Touched* touched = nullptr;
  HeldChild held;
  bool was_held = false;  // else its facts are read from the store
  // Its state changes in order: a value to put, or nullopt to delete.
  std::vector<std::pair<std::string, std::optional<std::string>>> changes;
  // Its changes to `replaced_` in order: a value kept, or nullopt for one given back.
  std::vector<std::pair<std::string, std::optional<Replaced>>> replaced;
  Status status = Status::Ok();

  // What Apply holds of the child, taken from the generation it is in.
  void TakeHeld(std::unordered_map<std::string, HeldChild>& recent, size_t& recent_bytes,
                std::unordered_map<std::string, HeldChild>& older) {
    const std::string key(child_id);
    if (auto node = recent.extract(key)) {
      recent_bytes -= node.mapped().bytes;
      held = std::move(node.mapped());
      was_held = true;
    } else if (auto older_node = older.extract(key)) {
      held = std::move(older_node.mapped());
      was_held = true;
    }
  }
  // Its state changes into the batch, and its changes to what Apply keeps of replaced values
  // into `held_replaced`.
  void WriteTo(EventStore::Batch& batch, std::unordered_map<std::string, Replaced>& held_replaced) {
    for (auto& [key, value] : changes) {
      if (value) {
        batch.PutState(key, *value);
      } else {
        batch.DeleteState(key);
      }
    }
    for (auto& [key, kept] : replaced) {
      if (kept) {
        held_replaced.insert_or_assign(std::move(key), std::move(*kept));
      } else {
        held_replaced.erase(key);
      }
    }
  }
};

Projector::Projector(const EventStore& store, ProjectorOptions options)
    : store_(store),
      options_(std::move(options)),
      threads_(options_.threads != 0
                   ? options_.threads
                   : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4)) {}

Projector::~Projector() = default;

Status Projector::ReadChild(std::string_view child_id, HeldChild& child) const {
  return store_.ScanState(
      FactKeyPrefix(child_id),
      [&](std::string_view k, std::string_view value) {
        child.facts.emplace_back(std::string(k), std::string(value));
        return true;
      },
      options_.family);
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

Status Projector::Apply(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch,
                        const std::function<void()>& previous_written) {
  Status s = Fold(events, batch, previous_written);
  // A child taken out of what is held and not put back is gone: nothing held is whole now.
  if (!s.ok()) Forget();
  return s;
}

void Projector::FoldChild(ChildFold& c, Deltas& deltas) const {
  if (!c.was_held) {
    c.status = ReadChild(c.child_id, c.held);
    if (!c.status.ok()) return;
  }
  Touched& t = *c.touched;
  HeldChild& held = c.held;
  Timeline timeline;
  c.status = DecodeTimeline(held.facts, timeline);
  if (!c.status.ok()) return;
  // What the child contributed before, taken before the timeline changes under its view.
  // Counters are kept under the child's partition: one that moves takes them along.
  const bool counters =
      t.counters || (!timeline.facts.empty() && timeline.partition != t.partition);
  metrics::KeptRowEntries rows;
  metrics::Contribution counted;
  {
    ChildView was = ResolveChild(c.child_id, timeline);
    if (counters) counted = CounterContribution(was);
    rows = metrics::KeptRowEntriesOf(was);
  }
  metrics::RowVersionWriter writer{
      [&](const std::string& key) -> Result<Instant> {
        if (auto it = held.row_since.find(key); it != held.row_since.end()) return it->second;
        auto stored = store_.GetState(key, options_.family);
        if (!stored.ok()) return stored.status();
        if (!*stored) return Status::Fatal("a kept row is missing (run `careledger replay`)");
        auto since = metrics::SinceOfStoredRow(**stored);
        if (since.ok()) held.row_since.emplace(key, *since);
        return since;
      },
      [&](std::string_view key, std::string_view value) {
        c.changes.emplace_back(std::string(key), std::string(value));
      },
      [&](std::string_view key) {
        c.changes.emplace_back(std::string(key), std::nullopt);
        if (auto it = held.row_since.find(std::string(key)); it != held.row_since.end()) {
          held.row_since.erase(it);
        }
      },
      [&](const std::string& key, Instant since) { held.row_since[key] = since; },
      [&](const std::string& key, Instant since, const std::string& value, Instant stamp) {
        c.replaced.emplace_back(key, Replaced{stamp, since, value});
      },
      // `replaced_` as the batches before left it: a value kept by this batch was kept at
      // this batch's stamps, and a row never takes back at one stamp the value it gave up at
      // that stamp, so the child's own changes above need not be seen here.
      [&](const std::string& key, const std::string& value,
          Instant stamp) -> std::optional<Instant> {
        auto it = replaced_.find(key);
        if (it == replaced_.end() || it->second.stamp != stamp || it->second.value != value) {
          return std::nullopt;
        }
        c.replaced.emplace_back(key, std::nullopt);
        return it->second.since;
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
    ChildView is = ResolveChild(c.child_id, timeline);
    if (run == t.facts.size() && counters)
      metrics::AddDifference(counted, CounterContribution(is), deltas);
    auto after = metrics::KeptRowEntriesOf(is);
    c.status = metrics::ChangeKeptRows(rows, after, stamp, writer);
    if (!c.status.ok()) return;
    rows = std::move(after);
  }
  // By key only, keeping the batch's order within one: the last Put of a key wins, as in the
  // store.
  std::stable_sort(t.entries.begin(), t.entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  MergeEntries(held.facts, t.entries);
}

Status Projector::WriteCounters(const std::vector<Deltas>& deltas, EventStore::Batch& batch,
                                const std::function<void()>& previous_written) {
  // A cell is written whole, from its value now, once it is known: as merge operands, one a
  // batch, a busy ingest left a thousand in a cell before a flush, and every poll of the figure
  // merged them (a quarter of `serve`'s CPU beside ingest at 10,000 events/s). But most cells a
  // batch changes were never written before (567 k of the 610 k cells read on a 200,000-children
  // backfill), and reading each first was a third of the fold: so a cell not held gets its
  // change as a merge operand, and is read only when changed again. A merge is right whenever
  // it lands; a read is not while a batch that merged into the cell is unwritten: this one, or
  // the one before, for which `previous_written` waits (without it such a cell is merged again).
  // Dropping what is held is always right: a cell not held is merged.
  if (cells_.size() > options_.held_cells) cells_.clear();
  ++folds_;
  struct Read {
    std::string_view key;
    int64_t delta;
    HeldCell* cell;
  };
  std::vector<Read> reads;
  std::vector<std::pair<std::string_view, int64_t>> days;
  bool wait = false;
  for (const Deltas& part : deltas) {
    for (const auto& [key, delta] : part) {
      if (delta == 0) continue;
      if (metrics::IsDayCounterKey(key)) {
        days.emplace_back(key, delta);
        continue;
      }
      auto it = cells_.find(key);
      if (it == cells_.end()) {
        batch.AddToCounter(key, delta);
        cells_.emplace(key, HeldCell{0, folds_});
        continue;
      }
      HeldCell& cell = it->second;
      if (cell.merged_in == 0) {
        cell.value += delta;
        batch.SetCounter(key, cell.value);
        continue;
      }
      const bool just_before = options_.overlapping && cell.merged_in + 1 == folds_;
      if (cell.merged_in == folds_ || (just_before && !previous_written)) {
        batch.AddToCounter(key, delta);
        cell.merged_in = folds_;
        continue;
      }
      wait = wait || just_before;
      reads.push_back({key, delta, &cell});
    }
  }
  std::sort(reads.begin(), reads.end(), [](const Read& a, const Read& b) { return a.key < b.key; });
  std::vector<std::string_view> keys;
  keys.reserve(reads.size());
  for (const auto& r : reads) keys.push_back(r.key);
  if (wait) previous_written();
  std::vector<int64_t> stored;
  CARELEDGER_RETURN_IF_ERROR(store_.ReadCounters(keys, stored, options_.family));
  for (size_t i = 0; i < reads.size(); ++i) {
    // A cell changed twice in this batch: the first change set it, the second adds to it.
    HeldCell& cell = *reads[i].cell;
    cell.value = (cell.merged_in == 0 ? cell.value : stored[i]) + reads[i].delta;
    cell.merged_in = 0;
    batch.SetCounter(reads[i].key, cell.value);
  }
  // Day cells are always merged: each holds a day's changes in a partition, which few batches
  // after the first touch again (the day's live edge: a merge operand a batch until a flush).
  for (const auto& [cell, counts] : metrics::DayCells(std::move(days))) {
    batch.AddToCounters(cell, counts);
  }
  return Status::Ok();
}

Status Projector::Fold(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch,
                       const std::function<void()>& previous_written) {
  // Every fact is one Put. Children whose kept figures may have changed also get their CLA
  // contribution and outcome rows recomputed from the whole timeline, and the difference
  // written.
  std::unordered_map<std::string_view, Touched> touched;
  touched.reserve(events.size());
  for (const auto& ev : events) {
    CARELEDGER_RETURN_IF_ERROR(CheckPartition(ev.partition));
    touched[ev.envelope->child_id].Add(ev, batch);
  }
  if (!layout_checked_) {
    // Writing the marker into a state that lacks what it promises would hide the gap for good.
    CARELEDGER_RETURN_IF_ERROR(metrics::CheckStateLayout(store_, options_.family));
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
  if (recent_bytes_ > options_.cache_bytes / 2 ||
      (!options_.overlapping && options_.cache_bytes == 0)) {
    older_ = std::move(recent_);
    recent_.clear();
    recent_bytes_ = 0;
    if (!options_.overlapping && options_.cache_bytes == 0) older_.clear();
  }
  std::vector<ChildFold> folds;
  folds.reserve(touched.size());
  for (auto& [child_id, t] : touched) {
    ChildFold& c = folds.emplace_back();
    c.child_id = child_id;
    c.touched = &t;
    c.TakeHeld(recent_, recent_bytes_, older_);
  }
  // The children apart on every thread, each taking the next one not taken: a child's fold
  // reads only what it holds, the store and `replaced_` as the batches before left it.
  std::vector<Deltas> deltas = FoldOnThreads(threads_, folds.size(), [&](size_t i, Deltas& mine) {
    FoldChild(folds[i], mine);
    return folds[i].status.ok();
  });
  for (auto& c : folds) {
    CARELEDGER_RETURN_IF_ERROR(c.status);
    c.WriteTo(batch, replaced_);
    HoldChild(std::string(c.child_id), std::move(c.held));
  }
  CARELEDGER_RETURN_IF_ERROR(WriteCounters(deltas, batch, previous_written));
  return Status::Ok();
}

}  // namespace careledger
