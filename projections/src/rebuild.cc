// Rebuilding the projection state from the log: RebuildProjectionsInto (a fresh store or a
// family, in two passes on two threads, its state written as sorted files and ingested whole).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

namespace {

// The state one thread of a rebuild writes: gathered in memory (a StateRun), and whenever it
// holds `limit` bytes, sorted and spilled to a file of its own (SpilledRun). The end merges
// every thread's runs, spilled and in memory, into table files cut by key range that do not
// overlap, one a thread: no memtable, no WAL, no compaction.
class RunWriter {
 public:
  RunWriter(EventStore& to, size_t limit) : to_(to), limit_(std::max<size_t>(limit, 1)) {
    run_.Reserve(limit_);
  }
  Status Put(std::string_view key, std::string_view value) {
    run_.Put(key, value);
    return Filled();
  }
  Status Add(std::string_view key, int64_t delta) {
    run_.AddToCounter(key, delta);
    return Filled();
  }
  Status AddNamed(std::string_view key, std::string_view counts) {
    run_.AddToCounters(key, counts);
    return Filled();
  }
  // What is left, sorted and kept in memory.
  void Finish() { run_.Sort(); }
  // The runs in the order they were written: the spilled ones, then the one in memory.
  std::vector<RunSource> sources() const {
    std::vector<RunSource> out;
    for (const auto& s : spilled_) out.push_back({.memory = nullptr, .spilled = s.get()});
    out.push_back({.memory = &run_, .spilled = nullptr});
    return out;
  }

 private:
  Status Filled() {
    if (run_.bytes() < limit_) return Status::Ok();
    run_.Sort();
    auto spilled = SpilledRun::Write(run_, to_.NewStateFilePath(".run"));
    if (!spilled.ok()) return spilled.status();
    spilled_.push_back(std::move(*spilled));
    run_.Clear();
    run_.Reserve(limit_);
    return Status::Ok();
  }
  EventStore& to_;
  size_t limit_;
  StateRun run_;
  std::vector<std::unique_ptr<SpilledRun>> spilled_;
};

// A pass's threads stop when one of them fails (the first failure is the one returned), or
// when the caller asks.
struct Stop {
  const std::atomic<bool>* asked = nullptr;
  std::atomic<bool> failed{false};
  bool Now() const {
    return failed.load(std::memory_order_relaxed) ||
           (asked && asked->load(std::memory_order_relaxed));
  }
  std::mutex mu;
  Status first = Status::Ok();
  void Fail(Status s) {
    std::lock_guard lock(mu);
    if (first.ok()) first = std::move(s);
    failed = true;
  }
};

// Pass 1: the log records [begin, end) parsed again, each written as its child's fact. Every
// 64th record's child is sampled: where pass 2 splits the children between its threads.
constexpr uint64_t kSampleEvery = 64;
struct FactsWritten {
  uint64_t records = 0;
  std::vector<std::string> sampled_children;
};

Status WriteFacts(const EventStore& from, uint64_t begin, uint64_t end,
                  std::optional<Instant> known_at, RunWriter& out, FactsWritten& written,
                  const Stop& stop) {
  // Every record was accepted once, when the clock rule (recorded_at at most 24 h ahead of the
  // receiver) held; a clock far ahead keeps the rebuild from rejecting it now.
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{9000} / 1 / 1}}});
  Envelope env;
  Status failure = Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(from.ScanLog(
      [&](const LogRecord& rec) {
        if (rec.sequence >= end || stop.Now()) return false;
        if (known_at && rec.ingested_at > *known_at) return true;
        if (Status s = parser.Parse(rec.payload, env); !s.ok()) {
          failure = Status::Fatal("log record " + std::to_string(rec.sequence) +
                                  " no longer parses: " + s.message());
          return false;
        }
        Fact fact = FactFromEnvelope(env, rec.sequence, rec.ingested_at);
        failure = out.Put(FactKey(env.child_id, fact), EncodeFact(fact, rec.partition));
        if (written.records++ % kSampleEvery == 0) written.sampled_children.push_back(env.child_id);
        return failure.ok();
      },
      begin));
  CARELEDGER_RETURN_IF_ERROR(failure);
  out.Finish();
  return Status::Ok();
}

// Counter cell → the sum of its changes. A pass sums a million changes into a hundred
// thousand cells; std::unordered_map's node and key allocation per cell and its chained
// buckets were a quarter of the children pass, nearly all of it cache misses. Here a cell is
// one slot of an open-addressed table (its hash, its key's place in one arena, its sum).
class CellSums {
 public:
  int64_t& operator[](std::string_view key) {
    if (2 * (size_ + 1) > slots_.size()) Grow();
    const uint64_t hash = std::hash<std::string_view>{}(key);
    for (size_t i = hash & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      Slot& slot = slots_[i];
      if (slot.length == kEmpty) {
        slot = {hash, keys_.size(), key.size(), 0};
        keys_.append(key);
        ++size_;
        return slot.sum;
      }
      if (slot.hash == hash && KeyOf(slot) == key) return slot.sum;
    }
  }
  size_t size() const { return size_; }
  void clear() {
    slots_.clear();
    keys_.clear();
    size_ = 0;
  }
  template <class Visit>
  void ForEach(Visit visit) const {
    for (const Slot& slot : slots_) {
      if (slot.length != kEmpty) visit(KeyOf(slot), slot.sum);
    }
  }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  struct Slot {
    uint64_t hash = 0, offset = 0, length = kEmpty;
    int64_t sum = 0;
  };
  std::string_view KeyOf(const Slot& slot) const {
    return std::string_view(keys_).substr(slot.offset, slot.length);
  }
  void Grow() {
    std::vector<Slot> old(std::max<size_t>(1024, slots_.size() * 2));
    old.swap(slots_);
    for (const Slot& slot : old) {
      if (slot.length == kEmpty) continue;
      size_t i = slot.hash & (slots_.size() - 1);
      while (slots_[i].length != kEmpty) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = slot;
    }
  }
  std::vector<Slot> slots_;  // a power of two, at most half full
  std::string keys_;
  size_t size_ = 0;
};

// Pass 2: the facts of the children whose keys are in [begin, end), read back in key order (a
// child's together), each child folded as the batches that ingested its facts folded it.
// Counter deltas are summed in memory up to a bound, then written as they stand (counters
// merge), so memory stays bounded whatever the store's size.
constexpr size_t kMaxDeltas = size_t(1) << 20;
struct ChildrenFolded {
  uint64_t children = 0, counters = 0;
  CellSums deltas;  // not yet written
};

Status WriteDeltas(CellSums& deltas, RunWriter& out, uint64_t& written) {
  std::vector<std::pair<std::string_view, int64_t>> days;
  Status failure = Status::Ok();
  deltas.ForEach([&](std::string_view cell, int64_t delta) {
    if (!failure.ok() || delta == 0) return;
    if (metrics::IsDayCounterKey(cell)) {
      days.emplace_back(cell, delta);
      return;
    }
    failure = out.Add(cell, delta);
    ++written;
  });
  CARELEDGER_RETURN_IF_ERROR(failure);
  for (const auto& [cell, counts] : metrics::DayCells(std::move(days))) {
    CARELEDGER_RETURN_IF_ERROR(out.AddNamed(cell, counts));
    ++written;
  }
  deltas.clear();
  return Status::Ok();
}

// One child, its facts in log order. The live counters telescope (each batch adds the child's
// new contribution and takes away its old one), so their totals are the final timeline's
// contribution. The rows are the final timeline's rows, with the values each held before,
// version by version: one version for each ingest stamp among the child's facts, as the
// batches that ingested them wrote.
Status FoldChild(const std::string& child_id, std::vector<std::pair<Fact, int32_t>>& facts,
                 RunWriter& out, ChildrenFolded& folded) {
  // The child's rows and kept values as written, in order (nullopt: removed); the last of a
  // key is what the store keeps.
  std::vector<std::pair<std::string, std::optional<std::string>>> entries;
  std::unordered_map<std::string, Instant> since;
  metrics::RowVersionWriter writer{
      [&](const std::string& key) -> Result<Instant> { return since.at(key); },
      [&](std::string_view key, std::string_view value) {
        entries.emplace_back(std::string(key), std::string(value));
      },
      [&](std::string_view key) { entries.emplace_back(std::string(key), std::nullopt); },
      [&](const std::string& key, Instant stamp) { since[key] = stamp; }};
  Timeline t;
  t.facts.reserve(facts.size());
  metrics::KeptRowEntries rows;
  for (size_t run = 0; run < facts.size();) {
    Instant stamp = facts[run].first.ingested_at;
    size_t end = run;
    while (end < facts.size() && facts[end].first.ingested_at == stamp) ++end;
    // The run in timeline order after the facts before it: as AddFact one by one would.
    auto mid = t.facts.size();
    for (; run < end; ++run) t.facts.push_back(std::move(facts[run].first));
    t.partition = facts[end - 1].second;
    std::stable_sort(t.facts.begin() + std::ptrdiff_t(mid), t.facts.end(), TimelineBefore);
    std::inplace_merge(t.facts.begin(), t.facts.begin() + std::ptrdiff_t(mid), t.facts.end(),
                       TimelineBefore);
    ChildView view = ResolveChild(child_id, t);
    if (end == facts.size()) {
      for (auto& [cell, n] : metrics::CounterContribution(view)) folded.deltas[cell] += n;
    }
    auto after = metrics::KeptRowEntriesOf(view);
    CARELEDGER_RETURN_IF_ERROR(metrics::ChangeKeptRows(rows, after, stamp, writer));
    rows = std::move(after);
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && entries[i + 1].first == entries[i].first) continue;
    if (entries[i].second)
      CARELEDGER_RETURN_IF_ERROR(out.Put(entries[i].first, *entries[i].second));
  }
  ++folded.children;
  if (folded.deltas.size() > kMaxDeltas) {
    CARELEDGER_RETURN_IF_ERROR(WriteDeltas(folded.deltas, out, folded.counters));
  }
  return Status::Ok();
}

// Every fact entry in [begin, end) in key order, to `visit` (false stops).
using FactEntries = std::function<Status(
    const std::string& begin, const std::string& end,
    const std::function<bool(std::string_view key, std::string_view value)>& visit)>;

// The facts of the facts pass's runs (spilled or in memory), in key order across them.
FactEntries FactsInRuns(const std::vector<RunSource>& runs) {
  return [&runs](const std::string& begin, const std::string& end, const auto& visit) {
    return MergeRuns(runs, begin, end, [&](std::string_view key, std::string_view value, bool) {
      return visit(key, value);
    });
  };
}

Status FoldChildren(const FactEntries& facts_of, const std::string& begin, const std::string& end,
                    RunWriter& out, ChildrenFolded& folded, const Stop& stop) {
  std::string child;
  std::vector<std::pair<Fact, int32_t>> facts;
  auto fold = [&]() -> Status {
    if (facts.empty()) return Status::Ok();
    // Key order is timeline order; the versions follow the order the log learned them in.
    std::sort(facts.begin(), facts.end(),
              [](const auto& a, const auto& b) { return a.first.sequence < b.first.sequence; });
    Status s = FoldChild(child, facts, out, folded);
    facts.clear();
    return s;
  };
  Status failure = Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(
      facts_of(begin, end, [&](std::string_view key, std::string_view value) {
        if (stop.Now()) return false;
        auto of = ChildOfFactKey(key);
        if (!of) return true;
        if (*of != child) {
          failure = fold();
          if (!failure.ok()) return false;
          child.assign(*of);
        }
        auto& [fact, partition] = facts.emplace_back();
        failure = DecodeFact(value, fact, partition);
        return failure.ok();
      }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  CARELEDGER_RETURN_IF_ERROR(fold());
  // The deltas left are written by this thread too: counters merge, so a cell that both threads
  // changed is two entries combined when the files are written (summing the threads' maps
  // first was a third of the pass, on one thread).
  CARELEDGER_RETURN_IF_ERROR(WriteDeltas(folded.deltas, out, folded.counters));
  out.Finish();
  return Status::Ok();
}

// Runs `work(i)` for i in [0, n) on n threads; the first failure stops the others.
Status OnThreads(size_t n, Stop& stop, const std::function<Status(size_t)>& work) {
  std::vector<std::future<void>> running;
  for (size_t i = 0; i < n; ++i) {
    running.push_back(std::async(std::launch::async, [&, i] {
      if (Status s = work(i); !s.ok()) stop.Fail(std::move(s));
    }));
  }
  for (auto& r : running) r.get();
  if (stop.first.ok() && stop.asked && stop.asked->load()) {
    return Status::Fatal("the rebuild was stopped");
  }
  return stop.first;
}

// The children cut in `parts` at sampled children's keys (a child's facts all fall after the
// cut before it: its keys share its prefix).
std::vector<std::string> ChildBounds(std::vector<std::string> sampled, size_t parts) {
  std::vector<std::string> bounds{std::string("fact\0", 5)};
  bounds.reserve(parts + 1);
  if (sampled.size() >= parts) {
    auto less = [](const auto& a, const auto& b) { return FactKeyPrefix(a) < FactKeyPrefix(b); };
    std::sort(sampled.begin(), sampled.end(), less);
    for (size_t i = 1; i < parts; ++i)
      bounds.push_back(FactKeyPrefix(sampled[sampled.size() * i / parts]));
  }
  bounds.emplace_back("fact\1", 5);
  return bounds;
}

// Every run, spilled or in memory, merged into files cut at the same keys, one a thread: files
// that do not overlap, each holding every run's entries of its range.
Result<std::vector<std::string>> WriteRuns(EventStore& to, const std::string& family,
                                           const std::vector<RunSource>& runs, size_t threads,
                                           Stop& stop) {
  std::vector<std::string> cuts{""};
  for (auto& cut : CutRuns(runs, threads)) cuts.push_back(std::move(cut));
  cuts.emplace_back();  // no bound
  std::vector<std::vector<std::string>> written(cuts.size() - 1);
  CARELEDGER_RETURN_IF_ERROR(OnThreads(written.size(), stop, [&](size_t i) {
    auto paths = to.WriteStateFiles(family, runs, cuts[i], cuts[i + 1]);
    if (!paths.ok()) return paths.status();
    written[i] = std::move(*paths);
    return Status::Ok();
  }));
  std::vector<std::string> paths;
  for (auto& part : written) paths.insert(paths.end(), part.begin(), part.end());
  return paths;
}

// One rebuild's passes over what they share: the target family, the threads' writers (the
// facts' of pass 1, then the state's of pass 2), and how to stop.
class Passes {
 public:
  static constexpr size_t kThreads = 2;
  Passes(EventStore& to, const RebuildOptions& options) : to_(to), family_(options.family) {
    stop_.asked = options.stop;
    for (size_t i = 0; i < 2 * kThreads; ++i) {
      writers_.push_back(std::make_unique<RunWriter>(to, options.run_bytes));
    }
  }

  // Pass 1: the log cut in two by sequence, parsed into facts, for pass 2 to read back in key
  // order from the threads' runs.
  Status Facts(const EventStore& from, uint64_t end, std::optional<Instant> known_at,
               RebuildStats& stats) {
    std::vector<FactsWritten> facts(kThreads);
    CARELEDGER_RETURN_IF_ERROR(OnThreads(kThreads, stop_, [&](size_t i) {
      return WriteFacts(from, end * i / kThreads, end * (i + 1) / kThreads, known_at, *writers_[i],
                        facts[i], stop_);
    }));
    for (auto& f : facts) {
      stats.records += f.records;
      for (auto& c : f.sampled_children) sampled_.push_back(std::move(c));
    }
    for (size_t i = 0; i < kThreads; ++i) {
      for (const RunSource& run : writers_[i]->sources()) fact_runs_.push_back(run);
    }
    return Status::Ok();
  }

  // Pass 2: the children cut in two at the sampled median child, folded.
  Status Children(RebuildStats& stats) {
    const std::vector<std::string> bounds = ChildBounds(std::move(sampled_), kThreads);
    const FactEntries facts_of = FactsInRuns(fact_runs_);
    std::vector<ChildrenFolded> folded(bounds.size() - 1);
    CARELEDGER_RETURN_IF_ERROR(OnThreads(folded.size(), stop_, [&](size_t i) {
      return FoldChildren(facts_of, bounds[i], bounds[i + 1], *writers_[kThreads + i], folded[i],
                          stop_);
    }));
    for (auto& f : folded) {
      stats.children += f.children;
      stats.counters += f.counters;
    }
    return Status::Ok();
  }

  // Every run, the facts' and the state's, spilled or in memory, as files that do not overlap,
  // ingested together.
  Status Ingest() {
    std::vector<RunSource> runs;
    for (const auto& writer : writers_) {
      for (const RunSource& run : writer->sources()) runs.push_back(run);
    }
    auto written = WriteRuns(to_, family_, runs, kThreads, stop_);
    if (!written.ok()) return written.status();
    return to_.IngestStateFiles(family_, *written);
  }

 private:
  EventStore& to_;
  const std::string family_;
  Stop stop_;
  std::vector<std::unique_ptr<RunWriter>> writers_;
  std::vector<std::string> sampled_;  // children, every 64th fact's
  std::vector<RunSource> fact_runs_;  // the facts pass's runs, spilled or in memory
};

}  // namespace

Result<RebuildStats> RebuildProjectionsInto(const EventStore& from, EventStore& to,
                                            const RebuildOptions& options) {
  CARELEDGER_RETURN_IF_ERROR(to.SetBulkLoad(options.family, true));
  // On a failure, compactions resume without compacting first: the family is dropped.
  struct CompactionsBack {
    EventStore& store;
    const std::string& family;
    bool done = false;
    ~CompactionsBack() {
      if (done) return;
      if (Status s = store.SetBulkLoad(family, false, false); !s.ok()) {
        spdlog::warn("compactions of the rebuilt state not resumed: {}", s.message());
      }
    }
  } compactions_back{to, options.family};
  using Clock = std::chrono::steady_clock;
  RebuildStats stats;
  Passes passes(to, options);
  auto started = Clock::now();
  const uint64_t end = std::min(options.end, from.next_sequence());
  CARELEDGER_RETURN_IF_ERROR(passes.Facts(from, end, options.known_at, stats));
  stats.facts_pass = Clock::now() - started;
  started = Clock::now();
  CARELEDGER_RETURN_IF_ERROR(passes.Children(stats));
  stats.children_pass = Clock::now() - started;
  started = Clock::now();
  CARELEDGER_RETURN_IF_ERROR(passes.Ingest());
  stats.files = Clock::now() - started;
  // The files do not overlap, so into a family that held nothing they all went to the last
  // level, and the compaction finds nothing to do.
  compactions_back.done = true;
  started = Clock::now();
  CARELEDGER_RETURN_IF_ERROR(to.SetBulkLoad(options.family, false, options.compact));
  stats.compaction = Clock::now() - started;
  // The layout marker last, in a batch written as `to` writes (synced, if it syncs): a crash
  // before it leaves facts without a marker, which every reader refuses (CheckStateLayout), and
  // a StateRebuild's family is dropped.
  if (stats.records > 0) {
    auto batch = options.family.empty() ? to.NewBatch() : to.NewStateBatch(options.family);
    batch.PutState(metrics::kLayoutKey, metrics::kLayout);
    CARELEDGER_RETURN_IF_ERROR(to.Write(batch));
  }
  return stats;
}

}  // namespace careledger
