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

int TypeRank(EventType t) {
  // Same instant and same recording time: a period starts before it changes or ends.
  switch (t) {
    case EventType::kCarePeriodStarted:
      return 0;
    case EventType::kCareLegalStatusChanged:
    case EventType::kCarePlacementChanged:
      return 1;
    default:
      return 2;
  }
}

using Deltas = std::map<std::string, int64_t>;

void AddSpellDeltas(const ChildState& child, int64_t sign, Deltas& out) {
  for (const auto& s : ClaSpells(child)) {
    for (auto [dim, value] : {std::pair{kDimPlacement, std::string_view(s.placement)},
                              std::pair{kDimLegalStatus, std::string_view(s.legal_status)}}) {
      out[CounterKey(dim, value, s.from, child.partition)] += sign;
      if (s.to) out[CounterKey(dim, value, *s.to, child.partition)] -= sign;
    }
  }
}

bool IsCareType(EventType t) {
  return t == EventType::kCarePeriodStarted || t == EventType::kCarePlacementChanged ||
         t == EventType::kCareLegalStatusChanged || t == EventType::kCarePeriodEnded;
}

}  // namespace

bool TimelineBefore(const CareFact& a, const CareFact& b) {
  return std::tuple(a.occurred_at.instant, a.recorded_at, TypeRank(a.type), a.id_fingerprint) <
         std::tuple(b.occurred_at.instant, b.recorded_at, TypeRank(b.type), b.id_fingerprint);
}

std::vector<ClaSpell> ClaSpells(const ChildState& child) {
  std::vector<ClaSpell> spells;
  bool open = false;
  Date since{};
  std::string legal_status, placement;
  auto close_at = [&](Date d) {
    if (open && since < d && !IsShortBreakLegalStatus(legal_status)) {
      spells.push_back({since, d, legal_status, placement});
    }
    since = d;
  };
  for (const auto& f : child.care) {
    Date d = f.occurred_at.date;
    switch (f.type) {
      case EventType::kCarePeriodStarted:
        // A start while a period is open (a missed end) continues the care with new details,
        // so the child is never counted twice.
        close_at(d);
        open = true;
        legal_status = f.legal_status;
        placement = f.placement;
        break;
      case EventType::kCarePlacementChanged:
        close_at(d);
        placement = f.placement;
        break;
      case EventType::kCareLegalStatusChanged:
        close_at(d);
        legal_status = f.legal_status;
        break;
      case EventType::kCarePeriodEnded:
        close_at(d);
        open = false;
        break;
      default:
        break;
    }
  }
  if (open && !IsShortBreakLegalStatus(legal_status)) {
    spells.push_back({since, std::nullopt, legal_status, placement});
  }
  // Adjacent spells with the same details are one stretch of care.
  std::vector<ClaSpell> merged;
  for (auto& s : spells) {
    if (!merged.empty() && merged.back().to == s.from &&
        merged.back().legal_status == s.legal_status && merged.back().placement == s.placement) {
      merged.back().to = s.to;
    } else {
      merged.push_back(std::move(s));
    }
  }
  return merged;
}

bool IsLookedAfterAt(const std::vector<ClaSpell>& spells, Date d) {
  return std::any_of(spells.begin(), spells.end(),
                     [d](const ClaSpell& s) { return s.from <= d && (!s.to || d < *s.to); });
}

std::string EncodeChildState(const ChildState& child) {
  std::string out;
  out.push_back(char(1));  // format
  codec::PutBigEndian32(out, uint32_t(child.partition));
  codec::PutBigEndian32(out, child.dob ? codec::DaysKey(*child.dob) : 0);
  codec::PutLengthPrefixed(out, child.sex);
  codec::PutLengthPrefixed(out, child.ethnicity);
  codec::PutBigEndian32(out, uint32_t(child.care.size()));
  for (const auto& f : child.care) {
    out.push_back(char(f.type));
    codec::PutBigEndian32(out, codec::DaysKey(f.occurred_at.date));
    codec::PutFixed64(out, uint64_t(f.occurred_at.instant.time_since_epoch().count()));
    out.push_back(char(f.occurred_at.has_time));
    codec::PutFixed64(out, uint64_t(f.recorded_at.time_since_epoch().count()));
    codec::PutFixed64(out, f.id_fingerprint);
    codec::PutLengthPrefixed(out, f.legal_status);
    codec::PutLengthPrefixed(out, f.placement);
  }
  return out;
}

Result<ChildState> DecodeChildState(std::string_view in) {
  auto bad = [] { return Status::Fatal("projection state of a child is malformed"); };
  ChildState child;
  if (in.size() < 9 || in[0] != char(1)) return bad();
  child.partition = int32_t(codec::GetBigEndian32(in.data() + 1));
  uint32_t dob = codec::GetBigEndian32(in.data() + 5);
  if (dob != 0) child.dob = codec::DateFromDaysKey(dob);
  in.remove_prefix(9);
  std::string_view s;
  if (!codec::GetLengthPrefixed(in, s)) return bad();
  child.sex = s;
  if (!codec::GetLengthPrefixed(in, s)) return bad();
  child.ethnicity = s;
  if (in.size() < 4) return bad();
  uint32_t n = codec::GetBigEndian32(in.data());
  in.remove_prefix(4);
  child.care.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (in.size() < 30) return bad();
    CareFact f;
    f.type = EventType(uint8_t(in[0]));
    f.occurred_at.date = codec::DateFromDaysKey(codec::GetBigEndian32(in.data() + 1));
    f.occurred_at.instant =
        Instant{std::chrono::seconds{int64_t(codec::GetFixed64(in.data() + 5))}};
    f.occurred_at.has_time = in[13] != 0;
    f.recorded_at = Instant{std::chrono::seconds{int64_t(codec::GetFixed64(in.data() + 14))}};
    f.id_fingerprint = codec::GetFixed64(in.data() + 22);
    in.remove_prefix(30);
    if (!codec::GetLengthPrefixed(in, s)) return bad();
    f.legal_status = s;
    if (!codec::GetLengthPrefixed(in, s)) return bad();
    f.placement = s;
    child.care.push_back(std::move(f));
  }
  return child;
}

Status Projector::Apply(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch) {
  // Children touched by this batch, with their state before it (for the difference).
  struct Touched {
    ChildState before, after;
  };
  std::unordered_map<std::string_view, Touched> touched;
  for (const auto& ev : events) {
    const Envelope& e = *ev.envelope;
    bool care = IsCareType(e.type);
    if (!care && e.type != EventType::kChildRegistered) continue;
    auto [it, inserted] = touched.try_emplace(e.child_id);
    if (inserted) {
      std::string key = ChildKey(e.child_id);
      std::optional<std::string> before;
      if (auto in_flight = previous_.find(key); in_flight != previous_.end()) {
        before = in_flight->second;
      } else {
        auto stored = store_.GetState(key);
        if (!stored.ok()) return stored.status();
        before = std::move(stored.value());
      }
      if (before) {
        auto decoded = DecodeChildState(*before);
        if (!decoded.ok()) return decoded.status();
        it->second.before = std::move(decoded.value());
      }
      it->second.after = it->second.before;
    }
    ChildState& child = it->second.after;
    child.partition = ev.partition;
    if (e.type == EventType::kChildRegistered) {
      child.dob = e.data.dob;
      child.sex = e.data.sex;
      child.ethnicity = e.data.ethnicity;
      continue;
    }
    CareFact f{e.type,
               e.occurred_at,
               e.recorded_at.instant,
               Fingerprint(e.event_id),
               e.data.legal_status,
               e.data.placement};
    child.care.insert(std::upper_bound(child.care.begin(), child.care.end(), f, TimelineBefore),
                      std::move(f));
  }
  // Summed over the whole batch first: one merge operand per counter cell per batch.
  Deltas deltas;
  previous_.clear();
  for (auto& [child_id, t] : touched) {
    AddSpellDeltas(t.before, -1, deltas);
    AddSpellDeltas(t.after, +1, deltas);
    std::string key = ChildKey(child_id);
    std::string state = EncodeChildState(t.after);
    batch.PutState(key, state);
    previous_.emplace(std::move(key), std::move(state));
  }
  for (const auto& [key, delta] : deltas) {
    if (delta != 0) batch.AddToCounter(key, delta);
  }
  return Status::Ok();
}

Result<ChainHash> ProjectionStateHash(const EventStore& store) {
  return store.HashState([](std::string_view key, std::string_view value) {
    return key.starts_with(kClaPrefix) && DecodeCounter(value) == 0;
  });
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
