// M1 children looked after: the fold, the state it keeps per child, and the query.
#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

namespace {

constexpr std::string_view kClaPrefix = metrics::kCounterPrefix;
constexpr std::string_view kDimPlacement = "placement";
constexpr std::string_view kDimLegalStatus = "legal_status";
constexpr size_t kCounterSuffix = metrics::kCounterSuffix;
using metrics::CounterContribution;
using metrics::Deltas;
using metrics::kLayout;
using metrics::kLayoutKey;
// Every dimension a child looked after on D can be broken down by, judged on D as the fold
// judges it (metrics::DimensionValue). All but the age band hold for a whole spell; the age
// band changes on the birthdays that cross a band, where the spell's contribution moves. The
// cohort of a child looked after is always "cla", and the ethnicity group is read from the
// ethnicity's counters: neither has counters of its own.
constexpr std::string_view kCounterDimensions[] = {
    kDimPlacement, kDimLegalStatus, "provider", "area", "home_id", "sex", "ethnicity", "age_band"};
// The birthdays on which the age band changes (AgeBand).
constexpr int kBandBirthdays[] = {10, 14, 16, 18, 22, 26};

void AddClaCounters(const ChildView& child, metrics::Contribution& out) {
  for (std::string_view dim : kCounterDimensions) {
    metrics::SpanMerger spans(out, std::string(dim), child.partition);
    for (const auto& s : child.spells) {
      const Date to = s.to.value_or(Date::max());
      if (s.short_break || to <= s.from) continue;  // never looked after on any day of it
      Date from = s.from;
      if (dim == "age_band" && child.dob) {
        for (int age : kBandBirthdays) {
          Date birthday = metrics::BirthdayOf(child, age);
          if (birthday <= from || birthday >= to) continue;
          spans.Add(from, birthday, metrics::DimensionValue(dim, child, from, {}));
          from = birthday;
        }
      }
      spans.Add(from, to, metrics::DimensionValue(dim, child, from, {}));
    }
  }
}

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

// The child's timeline from its fact entries (in key order, as the state holds them).
Status DecodeTimeline(const std::vector<std::pair<std::string, std::string>>& entries,
                      Timeline& out) {
  LatestPartition latest;
  out.facts.reserve(entries.size());
  for (const auto& [key, value] : entries) {
    Fact& f = out.facts.emplace_back();
    int32_t partition = 0;
    CARELEDGER_RETURN_IF_ERROR(DecodeFact(value, f, partition));
    latest.See(f, partition, out.partition);
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

namespace {

// A state entry's meaning: a counter by its value (none when it nets to zero), a fact or a
// kept row without when it was learned.
std::optional<std::string> CanonicalStateEntry(std::string_view key, std::string_view value) {
  if (key.starts_with(kClaPrefix)) {
    if (DecodeCounter(value) == 0) return std::nullopt;
    return std::string(value);
  }
  if (auto row = metrics::CanonicalKeptRow(key, value)) return *row;
  if (ChildOfFactKey(key)) {
    Fact f;
    int32_t partition = 0;
    // A malformed fact reads as its bytes: it still differs from a good one.
    if (!DecodeFact(value, f, partition).ok()) return std::string(value);
    return CanonicalFact(f, partition);
  }
  return std::string(value);
}

// "CLA counter placement=U1 on 2023-01-10 (partition 0)", "fact ev-7 of child c-12".
std::string DescribeStateKey(std::string_view key) {
  if (key.starts_with(kClaPrefix) && key.size() >= kClaPrefix.size() + kCounterSuffix) {
    std::string_view cell = key.substr(kClaPrefix.size());
    std::string_view tail = cell.substr(cell.size() - kCounterSuffix + 1);
    cell.remove_suffix(kCounterSuffix);
    std::string text(cell);
    std::replace(text.begin(), text.end(), '\0', '=');
    int32_t partition = (uint8_t(tail[4]) << 8) | uint8_t(tail[5]);
    return "CLA counter " + text + " on " +
           FormatDate(codec::DateFromDaysKey(codec::GetBigEndian32(tail.data()))) + " (partition " +
           std::to_string(partition) + ")";
  }
  if (auto row = metrics::DescribeKeptRowKey(key)) return *row;
  if (auto child = ChildOfFactKey(key)) {
    // The event id follows the child, two instants (16) and the type rank (1).
    size_t child_end = size_t(child->data() - key.data()) + child->size();
    std::string_view rest = key.substr(std::min(key.size(), child_end + 17));
    return "fact " + std::string(rest) + " of child " + std::string(*child);
  }
  std::string printable;
  for (char c : key) printable += (c >= 0x20 && c < 0x7f) ? c : '.';
  return "state key " + printable;
}

}  // namespace

Result<ChainHash> ProjectionStateHash(const EventStore& store, std::string_view family) {
  return store.HashState(CanonicalStateEntry, family);
}

Result<std::optional<std::string>> FirstDifferingCell(const EventStore& store,
                                                      const std::string& scratch_dir) {
  struct RemoveScratch {
    std::string path;
    ~RemoveScratch() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } cleanup{scratch_dir};
  auto rebuilt = EventStore::Open({.path = scratch_dir, .sync = false});
  if (!rebuilt.ok()) return rebuilt.status();
  RebuildOptions scratch;
  scratch.compact = false;  // read once, then removed
  auto stats = RebuildProjectionsInto(store, **rebuilt, scratch);
  if (!stats.ok()) return stats.status();
  // Every live cell against its rebuilt twin, then any rebuilt cell the live state lacks. Only
  // the first difference in key order is named: the rest usually follow from it.
  std::optional<std::string> first;
  Status failure = Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(store.ScanState("", [&](std::string_view key, std::string_view value) {
    auto live = CanonicalStateEntry(key, value);
    if (!live) return true;
    auto twin = (*rebuilt)->GetState(key);
    if (!twin.ok()) {
      failure = twin.status();
      return false;
    }
    std::optional<std::string> again;
    if (*twin) again = CanonicalStateEntry(key, **twin);
    if (again == live) return true;
    std::string what = DescribeStateKey(key);
    if (key.starts_with(kClaPrefix)) {
      what += ": live " + std::to_string(DecodeCounter(value)) + ", rebuilt from the log " +
              std::to_string(*twin ? DecodeCounter(**twin) : 0);
    } else {
      what += again ? ": differs from the log's" : ": not in the log";
    }
    first = std::move(what);
    return false;
  }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  if (first) return first;
  CARELEDGER_RETURN_IF_ERROR(
      (*rebuilt)->ScanState("", [&](std::string_view key, std::string_view value) {
        if (!CanonicalStateEntry(key, value)) return true;
        auto live = store.GetState(key);
        if (!live.ok()) {
          failure = live.status();
          return false;
        }
        if (*live && CanonicalStateEntry(key, **live)) return true;
        std::string what = DescribeStateKey(key);
        if (key.starts_with(kClaPrefix)) {
          what += ": live 0, rebuilt from the log " + std::to_string(DecodeCounter(value));
        } else {
          what += ": missing from the live state";
        }
        first = std::move(what);
        return false;
      }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  return first;
}

namespace metrics {

namespace {

Result<bool> AnyStateUnder(const EventStore& store, std::string_view prefix,
                           std::string_view family) {
  bool any = false;
  CARELEDGER_RETURN_IF_ERROR(store.ScanState(
      prefix,
      [&](auto, auto) {
        any = true;
        return false;
      },
      family));
  return any;
}

}  // namespace

namespace {

// A stored fact at the end of the timeline being read (facts come in timeline order); the
// child's partition is its latest-ingested fact's.
Status AppendStoredFact(std::string_view value, Timeline& timeline, LatestPartition& latest) {
  Fact& f = timeline.facts.emplace_back();
  int32_t partition = 0;
  Status s = DecodeFact(value, f, partition);
  latest.See(f, partition, timeline.partition);
  return s;
}

void VisitIfOwned(const std::set<int32_t>& owned, std::string_view child_id,
                  const Timeline& timeline, std::optional<Instant> known_at,
                  const std::function<void(const ChildView&)>& visit) {
  if (!timeline.facts.empty() && (owned.empty() || owned.count(timeline.partition))) {
    visit(ResolveChild(child_id, timeline, known_at));
  }
}

}  // namespace

Status ForEachChildIn(const EventStore& store, std::optional<Instant> known_at,
                      const std::vector<std::string>& child_ids,
                      const std::function<void(const ChildView&)>& visit) {
  auto owned = OwnedPartitions(store);
  if (!owned.ok()) return owned.status();
  Timeline timeline;
  for (const auto& child : child_ids) {
    timeline.facts.clear();
    LatestPartition latest;
    Status failure = Status::Ok();
    CARELEDGER_RETURN_IF_ERROR(
        store.ScanState(FactKeyPrefix(child), [&](std::string_view, std::string_view value) {
          failure = AppendStoredFact(value, timeline, latest);
          return failure.ok();
        }));
    CARELEDGER_RETURN_IF_ERROR(failure);
    VisitIfOwned(*owned, child, timeline, known_at, visit);
  }
  return Status::Ok();
}

Status CheckStateLayout(const EventStore& store, std::string_view family) {
  // Before one key per fact, the state held one timeline per child under "child\0"; before
  // this layout's marker, facts without the rows kept beside them. Such a store must be
  // rebuilt from its log, or its figures would silently read as empty.
  auto old_layout = AnyStateUnder(store, std::string_view("child\0", 6), family);
  if (!old_layout.ok()) return old_layout.status();
  if (!*old_layout) {
    auto layout = store.GetState(kLayoutKey, family);
    if (!layout.ok()) return layout.status();
    if (!*layout || **layout != kLayout) {
      old_layout = AnyStateUnder(store, std::string_view("fact\0", 5), family);
      if (!old_layout.ok()) return old_layout.status();
    }
  }
  if (*old_layout) {
    return Status::Fatal(
        "the projection state was written by an older careledger: run `careledger replay` to "
        "rebuild it from the log");
  }
  return Status::Ok();
}

}  // namespace metrics

Status ForEachChild(const EventStore& store, std::optional<Instant> known_at,
                    const std::function<void(const ChildView&)>& visit) {
  CARELEDGER_RETURN_IF_ERROR(metrics::CheckStateLayout(store));
  auto owned_or = metrics::OwnedPartitions(store);
  if (!owned_or.ok()) return owned_or.status();
  const std::set<int32_t>& owned = *owned_or;
  // Facts come in key order: all of one child together, in timeline order.
  std::string child;
  Timeline timeline;
  LatestPartition latest;
  auto flush = [&] {
    metrics::VisitIfOwned(owned, child, timeline, known_at, visit);
    timeline.facts.clear();
    latest = {};
  };
  Status failure = Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(
      store.ScanState(std::string("fact\0", 5), [&](std::string_view key, std::string_view value) {
        auto of = ChildOfFactKey(key);
        if (!of) return true;
        if (*of != child) {
          flush();
          child.assign(*of);
        }
        failure = metrics::AppendStoredFact(value, timeline, latest);
        return failure.ok();
      }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  flush();
  return Status::Ok();
}

Result<ClaDimension> ClaDimensionFromName(std::string_view name) {
  if (name.empty() || name == "none") return ClaDimension::kNone;
  if (name == kDimPlacement) return ClaDimension::kPlacement;
  if (name == kDimLegalStatus) return ClaDimension::kLegalStatus;
  return Status::BadInput("cannot break CLA down by '" + std::string(name) +
                          "' (placement, legal_status)");
}

bool IsClaCounterDimension(std::string_view dimension) {
  return dimension == "ethnicity_group" ||
         std::find(std::begin(kCounterDimensions), std::end(kCounterDimensions), dimension) !=
             std::end(kCounterDimensions);
}

Result<std::vector<ClaRow>> ClaAt(const EventStore& store, Date at, ClaDimension by) {
  if (by == ClaDimension::kNone) return ClaCountsAt(store, at, "");
  return ClaCountsAt(store, at, by == ClaDimension::kLegalStatus ? kDimLegalStatus : kDimPlacement);
}

Result<std::vector<ClaRow>> ClaCountsAt(const EventStore& store, Date at,
                                        std::string_view dimension) {
  if (!dimension.empty() && !IsClaCounterDimension(dimension)) {
    return Status::BadInput("no CLA counters by '" + std::string(dimension) + "'");
  }
  const bool total = dimension.empty();
  // The total is any one dimension's cells summed: placement's.
  const bool by_group = dimension == "ethnicity_group";
  auto by_value = metrics::CountersOn(store, at,
                                      total      ? kDimPlacement
                                      : by_group ? std::string_view("ethnicity")
                                                 : dimension);
  if (!by_value.ok()) return by_value.status();
  std::map<std::string, int64_t> counts;
  for (const auto& [value, n] : *by_value) {
    counts[total ? std::string() : by_group ? metrics::GroupOfEthnicity(value) : value] += n;
  }
  std::vector<ClaRow> rows;
  for (auto& [group, n] : counts) {
    if (n != 0) rows.push_back({group, n});
  }
  if (total && rows.empty()) rows.push_back({"", 0});
  return rows;
}

}  // namespace careledger
