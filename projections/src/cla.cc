// M1 children looked after: the fold, the state it keeps per child, and the query.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "careledger/projections.h"

namespace careledger {

namespace {

constexpr char kChildPrefix[] = "child";
// Counter families: "cla" \0 dimension \0 value \0 <days key (4)> <partition (2)> →
// children entering (+) and leaving (−) that cell on that day, in that partition.
constexpr std::string_view kClaPrefix{"cla\0", 4};
constexpr std::string_view kDimPlacement = "placement";
constexpr std::string_view kDimLegalStatus = "legal_status";

std::string ChildKey(std::string_view child_id) {
  std::string k(kChildPrefix);
  k.push_back('\0');
  k.append(child_id);
  return k;
}

std::string CounterPrefix(std::string_view dimension) {
  std::string k(kClaPrefix);
  k.append(dimension);
  k.push_back('\0');
  return k;
}

constexpr size_t kCounterSuffix = 1 + 4 + 2;  // \0, days key, partition

std::string CounterKey(std::string_view dimension, std::string_view value, Date d,
                       int32_t partition) {
  std::string k = CounterPrefix(dimension);
  k.append(value);
  k.push_back('\0');
  codec::PutBigEndian32(k, codec::DaysKey(d));
  k.push_back(char((partition >> 8) & 0xff));
  k.push_back(char(partition & 0xff));
  return k;
}

using Deltas = std::map<std::string, int64_t>;

void AddSpellDeltas(const ChildView& child, int64_t sign, Deltas& out) {
  for (const auto& s : child.spells) {
    if (s.short_break) continue;
    for (auto [dim, value] : {std::pair{kDimPlacement, std::string_view(s.placement)},
                              std::pair{kDimLegalStatus, std::string_view(s.legal_status)}}) {
      out[CounterKey(dim, value, s.from, child.partition)] += sign;
      if (s.to) out[CounterKey(dim, value, *s.to, child.partition)] -= sign;
    }
  }
}

}  // namespace

Status Projector::Apply(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch) {
  // Children touched by this batch, with their timeline before it (for the difference).
  struct Touched {
    Timeline before, after;
  };
  std::unordered_map<std::string_view, Touched> touched;
  for (const auto& ev : events) {
    const Envelope& e = *ev.envelope;
    auto [it, inserted] = touched.try_emplace(e.child_id);
    if (inserted) {
      std::string key = ChildKey(e.child_id);
      std::optional<std::string> before;
      if (auto in_flight = previous_.find(key); in_flight != previous_.end()) {
        before = in_flight->second;
      } else {
        auto stored = store_.GetState(key, family_);
        if (!stored.ok()) return stored.status();
        before = std::move(stored.value());
      }
      if (before) {
        auto decoded = DecodeTimeline(*before);
        if (!decoded.ok()) return decoded.status();
        it->second.before = std::move(decoded.value());
      }
      it->second.after = it->second.before;
    }
    Timeline& child = it->second.after;
    child.partition = ev.partition;
    AddFact(child, FactFromEnvelope(e, ev.sequence, ev.ingested_at));
  }
  // Summed over the whole batch first: one merge operand per counter cell per batch.
  Deltas deltas;
  previous_.clear();
  for (auto& [child_id, t] : touched) {
    AddSpellDeltas(ResolveChild(child_id, t.before), -1, deltas);
    AddSpellDeltas(ResolveChild(child_id, t.after), +1, deltas);
    std::string key = ChildKey(child_id);
    std::string state = EncodeTimeline(t.after);
    batch.PutState(key, state);
    previous_.emplace(std::move(key), std::move(state));
  }
  for (const auto& [key, delta] : deltas) {
    if (delta != 0) batch.AddToCounter(key, delta);
  }
  return Status::Ok();
}

Result<ChainHash> ProjectionStateHash(const EventStore& store, std::string_view family) {
  std::string child_prefix = ChildKey("");
  return store.HashState(
      [&](std::string_view key, std::string_view value) -> std::optional<std::string> {
        if (key.starts_with(kClaPrefix)) {
          if (DecodeCounter(value) == 0) return std::nullopt;
          return std::string(value);
        }
        if (key.starts_with(child_prefix)) {
          auto timeline = DecodeTimeline(value);
          // A malformed timeline hashes as its bytes: it still differs from a good one.
          if (!timeline.ok()) return std::string(value);
          return CanonicalTimeline(*timeline);
        }
        return std::string(value);
      },
      family);
}

Status ForEachChild(const EventStore& store, std::optional<Instant> known_at,
                    const std::function<void(const ChildView&)>& visit) {
  auto assignment = store.Assignment();
  if (!assignment.ok()) return assignment.status();
  std::set<int32_t> owned;
  for (const auto& tp : *assignment) owned.insert(tp.partition);
  std::string prefix = ChildKey("");
  Status failure = Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(
      store.ScanState(prefix, [&](std::string_view key, std::string_view value) {
        auto timeline = DecodeTimeline(value);
        if (!timeline.ok()) {
          failure = timeline.status();
          return false;
        }
        if (!owned.empty() && !owned.count(timeline->partition)) return true;
        visit(ResolveChild(key.substr(prefix.size()), *timeline, known_at));
        return true;
      }));
  return failure;
}

Result<ClaDimension> ClaDimensionFromName(std::string_view name) {
  if (name.empty() || name == "none") return ClaDimension::kNone;
  if (name == kDimPlacement) return ClaDimension::kPlacement;
  if (name == kDimLegalStatus) return ClaDimension::kLegalStatus;
  return Status::BadInput("cannot break CLA down by '" + std::string(name) +
                          "' (placement, legal_status)");
}

Result<std::vector<ClaRow>> ClaAt(const EventStore& store, Date at, ClaDimension by) {
  auto assignment = store.Assignment();
  if (!assignment.ok()) return assignment.status();
  std::set<int32_t> owned;
  for (const auto& tp : *assignment) owned.insert(tp.partition);
  std::string_view dim = by == ClaDimension::kLegalStatus ? kDimLegalStatus : kDimPlacement;
  std::string prefix = CounterPrefix(dim);
  uint32_t at_key = codec::DaysKey(at);
  std::map<std::string, int64_t> counts;
  CARELEDGER_RETURN_IF_ERROR(
      store.ScanState(prefix, [&](std::string_view key, std::string_view value) {
        key.remove_prefix(prefix.size());
        if (key.size() < kCounterSuffix) return true;
        const char* tail = key.data() + key.size() - 6;
        int32_t partition = (uint8_t(tail[4]) << 8) | uint8_t(tail[5]);
        if (!owned.empty() && !owned.count(partition)) return true;
        if (codec::GetBigEndian32(tail) <= at_key) {
          std::string_view group = key.substr(0, key.size() - kCounterSuffix);
          counts[by == ClaDimension::kNone ? std::string() : std::string(group)] +=
              DecodeCounter(value);
        }
        return true;
      }));
  std::vector<ClaRow> rows;
  for (auto& [group, n] : counts) {
    if (n != 0) rows.push_back({group, n});
  }
  if (by == ClaDimension::kNone && rows.empty()) rows.push_back({"", 0});
  return rows;
}

}  // namespace careledger
