// Reading the projection state whole: its hash, its first cell that differs from the log folded
// again, every child's timeline, and the check that it was written by this layout.
#include <algorithm>
#include <filesystem>
#include <set>

#include "aggregate.h"
#include "careledger/projections.h"

namespace careledger {

namespace {

constexpr std::string_view kClaPrefix = metrics::kCounterPrefix;
constexpr size_t kCounterSuffix = metrics::kCounterSuffix;

// A state entry's meaning: a counter by its value (none when it nets to zero), a fact or a
// kept row without when it was learned.
std::optional<std::string> CanonicalStateEntry(std::string_view key, std::string_view value) {
  if (key.starts_with(kClaPrefix)) {
    if (IsZeroCounter(value)) return std::nullopt;
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
  if (metrics::IsDayCellKey(key)) return metrics::DescribeCounterCell(key, "", "");
  if (key.starts_with(kClaPrefix) && key.size() >= kClaPrefix.size() + kCounterSuffix) {
    std::string_view cell = key.substr(kClaPrefix.size());
    std::string_view tail = cell.substr(cell.size() - kCounterSuffix + 1);
    cell.remove_suffix(kCounterSuffix);
    std::string text(cell);
    std::replace(text.begin(), text.end(), '\0', '=');
    int32_t partition = metrics::PartitionOfCounterKey(key);
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
    if (metrics::IsDayCellKey(key)) {
      what = metrics::DescribeCounterCell(key, value, *twin ? std::string_view(**twin) : "");
    } else if (key.starts_with(kClaPrefix)) {
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
        if (metrics::IsDayCellKey(key)) {
          what = metrics::DescribeCounterCell(key, "", value);
        } else if (key.starts_with(kClaPrefix)) {
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

Status AppendStoredFact(std::string_view value, Timeline& timeline, LatestPartition& latest) {
  Fact& f = timeline.facts.emplace_back();
  int32_t partition = 0;
  Status s = DecodeFact(value, f, partition);
  latest.See(f, partition, timeline.partition);
  return s;
}

Status ForEachTimeline(
    const EventStore& store, const std::vector<std::string>* child_ids,
    const std::function<void(std::string_view child_id, const Timeline&)>& visit) {
  auto owned = OwnedPartitions(store);
  if (!owned.ok()) return owned.status();
  std::string child;
  Timeline timeline;
  LatestPartition latest;
  auto flush = [&] {
    if (!timeline.facts.empty() && (owned->empty() || owned->count(timeline.partition))) {
      visit(child, timeline);
    }
    timeline.facts.clear();
    latest = {};
  };
  Status failure = Status::Ok();
  if (child_ids) {
    for (const auto& id : *child_ids) {
      child = id;
      CARELEDGER_RETURN_IF_ERROR(
          store.ScanState(FactKeyPrefix(id), [&](std::string_view, std::string_view value) {
            failure = AppendStoredFact(value, timeline, latest);
            return failure.ok();
          }));
      CARELEDGER_RETURN_IF_ERROR(failure);
      flush();
    }
    return Status::Ok();
  }
  // Every child: a store of an older layout would read as empty (named children are read only
  // once a row or counter read, which checks, has named them).
  CARELEDGER_RETURN_IF_ERROR(CheckStateLayout(store));
  // Facts come in key order: all of one child together, in timeline order.
  CARELEDGER_RETURN_IF_ERROR(
      store.ScanState(std::string("fact\0", 5), [&](std::string_view key, std::string_view value) {
        auto of = ChildOfFactKey(key);
        if (!of) return true;
        if (*of != child) {
          flush();
          child.assign(*of);
        }
        failure = AppendStoredFact(value, timeline, latest);
        return failure.ok();
      }));
  CARELEDGER_RETURN_IF_ERROR(failure);
  flush();
  return Status::Ok();
}

Status ForEachChildIn(const EventStore& store, std::optional<Instant> known_at,
                      const std::vector<std::string>& child_ids,
                      const std::function<void(const ChildView&)>& visit) {
  return ForEachTimeline(store, &child_ids, [&](std::string_view child, const Timeline& t) {
    visit(ResolveChild(child, t, known_at));
  });
}

Status CheckStateLayout(const EventStore& store, std::string_view family) {
  // Before one key per fact, the state held one timeline per child under "child\0"; before
  // this layout's marker, facts without the rows kept beside them. Such a store must be
  // rebuilt from its log, or its figures would silently read as empty. The marker is read
  // first: the scans for old keys open every file of the family (a tenth of a `report` on a
  // 1 M-children store), and no store with today's marker has them.
  auto layout = store.GetState(kLayoutKey, family);
  if (!layout.ok()) return layout.status();
  bool old_layout = *layout && **layout != kLayout;
  if (!*layout) {
    for (std::string_view prefix :
         {std::string_view("child\0", 6), std::string_view("fact\0", 5)}) {
      auto any = AnyStateUnder(store, prefix, family);
      if (!any.ok()) return any.status();
      old_layout = old_layout || *any;
    }
  }
  if (old_layout) {
    return Status::Fatal(
        "the projection state was written by an older careledger: run `careledger replay` to "
        "rebuild it from the log");
  }
  return Status::Ok();
}

}  // namespace metrics

Status ForEachChild(const EventStore& store, std::optional<Instant> known_at,
                    const std::function<void(const ChildView&)>& visit) {
  return metrics::ForEachTimeline(store, nullptr, [&](std::string_view child, const Timeline& t) {
    visit(ResolveChild(child, t, known_at));
  });
}
}  // namespace careledger
