// M1 children looked after: the fold, the state it keeps per child, and the query.
#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "careledger/projections.h"
#include "timeline_codec.h"

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

// A stable sort in TimelineBefore order. Most children's events arrive in order; the others
// are sorted by index, so that each Fact is moved once rather than at every merge step.
void SortFacts(std::vector<Fact>& facts) {
  if (std::is_sorted(facts.begin(), facts.end(), TimelineBefore)) return;
  std::vector<uint32_t> order(facts.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return TimelineBefore(facts[a], facts[b]); });
  std::vector<Fact> sorted;
  sorted.reserve(facts.size());
  for (uint32_t i : order) sorted.push_back(std::move(facts[i]));
  facts = std::move(sorted);
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
        auto stored = store_.GetState(key);
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

namespace {

// Whether a fact can change a child's care spells: the period events, and every correction
// (a supersedes or a retraction may remove one). The counters are a function of the spells
// alone, so a timeline of these facts gives the same counters as the whole one.
bool ShapesSpells(const Envelope& f) {
  switch (f.type) {
    case EventType::kCarePeriodStarted:
    case EventType::kCarePlacementChanged:
    case EventType::kCareLegalStatusChanged:
    case EventType::kCarePeriodEnded:
    case EventType::kEventRetracted:
      return true;
    default:
      return !f.supersedes.empty();
  }
}

// A child while the log is read: its facts encoded as they arrive (about 250 bytes each,
// where a Fact is over 1 KiB), with what sorting them needs, and the facts of its spells.
struct PendingChild {
  struct Entry {
    Instant occurred, recorded;
    EventType type;
    uint32_t at, size;        // the fact's bytes in `encoded`
    uint32_t id_at, id_size;  // its event id's
  };
  int32_t partition = 0;
  std::string encoded;
  std::vector<Entry> entries;  // in log order
  Timeline spells;
};

}  // namespace

Result<RebuildStats> RebuildProjections(const EventStore& from, const ProjectionSink& sink) {
  // Every record was accepted once, when the clock rule (recorded_at at most 24 h ahead of the
  // receiver) held; a clock far ahead keeps the rebuild from rejecting it now.
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{9000} / 1 / 1}}});
  std::unordered_map<std::string, PendingChild> children;
  RebuildStats stats;
  Envelope env;
  Status failure = Status::Ok();
  CARELEDGER_RETURN_IF_ERROR(from.ScanLog([&](const LogRecord& rec) {
    if (Status s = parser.Parse(rec.payload, env); !s.ok()) {
      failure = Status::Fatal("log record " + std::to_string(rec.sequence) +
                              " no longer parses: " + s.message());
      return false;
    }
    PendingChild& c = children[env.child_id];
    // As in Apply: the partition of the child's latest event holds its contribution.
    c.partition = rec.partition;
    auto at = uint32_t(c.encoded.size());
    auto id_at =
        uint32_t(timeline_codec::AppendFact(c.encoded, env, rec.sequence, rec.ingested_at));
    c.entries.push_back({env.occurred_at.instant, env.recorded_at.instant, env.type, at,
                         uint32_t(c.encoded.size() - at), id_at, uint32_t(env.event_id.size())});
    if (ShapesSpells(env)) {
      // Moved, not copied: the parser sets every field again on the next record.
      c.spells.facts.push_back(Fact{env.type, std::move(env.event_id), std::move(env.supersedes),
                                    env.occurred_at, env.recorded_at.instant, rec.sequence,
                                    rec.ingested_at, std::move(env.data)});
    }
    ++stats.records;
    return true;
  }));
  CARELEDGER_RETURN_IF_ERROR(failure);

  std::vector<std::pair<std::string_view, PendingChild*>> order;
  order.reserve(children.size());
  for (auto& [child_id, c] : children) order.emplace_back(child_id, &c);
  std::sort(order.begin(), order.end());
  // The live counters telescope (each batch adds the child's new contribution and takes away
  // its old one), so their totals are the final timelines' contributions.
  Deltas deltas;
  std::string key = ChildKey(""), state;
  const size_t prefix = key.size();
  std::vector<uint32_t> sorted;
  for (auto& [child_id, c] : order) {
    // A stable sort in TimelineBefore order: what AddFact's insertion after equal facts
    // gives, one event at a time.
    auto key_of = [&, c = c](uint32_t i) {
      const auto& e = c->entries[i];
      return timeline_codec::FactKey{e.occurred, e.recorded, e.type,
                                     std::string_view(c->encoded).substr(e.id_at, e.id_size)};
    };
    sorted.resize(c->entries.size());
    for (uint32_t i = 0; i < sorted.size(); ++i) sorted[i] = i;
    std::stable_sort(sorted.begin(), sorted.end(), [&](uint32_t a, uint32_t b) {
      return timeline_codec::KeyBefore(key_of(a), key_of(b));
    });
    state.clear();
    timeline_codec::AppendHeader(state, c->partition, uint32_t(sorted.size()));
    for (uint32_t i : sorted) state.append(c->encoded, c->entries[i].at, c->entries[i].size);

    SortFacts(c->spells.facts);
    c->spells.partition = c->partition;
    AddSpellDeltas(ResolveChild(child_id, c->spells), +1, deltas);
    key.resize(prefix);
    key.append(child_id);
    CARELEDGER_RETURN_IF_ERROR(sink.put_state(key, state));
    ++stats.children;
  }
  for (const auto& [cell, delta] : deltas) {
    if (delta == 0) continue;
    CARELEDGER_RETURN_IF_ERROR(sink.add_to_counter(cell, delta));
    ++stats.counters;
  }
  return stats;
}

Result<RebuildStats> RebuildProjectionsInto(const EventStore& from, EventStore& to,
                                            size_t batch_entries) {
  // A full batch is written on a second thread while the next is filled: writing (sorting,
  // WAL, memtables) took as long as the fold. One write at a time, in order, and the next
  // batch is begun only once the one before it is written, so that the store is never used
  // from two threads at once.
  std::optional<EventStore::Batch> batch, writing;
  std::future<Status> written;
  auto wait = [&]() -> Status {
    if (!written.valid()) return Status::Ok();
    Status s = written.get();
    writing.reset();
    return s;
  };
  batch.emplace(to.NewBatch());
  size_t entries = 0;
  auto flush_if_full = [&]() -> Status {
    if (++entries < batch_entries) return Status::Ok();
    CARELEDGER_RETURN_IF_ERROR(wait());
    writing.emplace(std::move(*batch));
    batch.emplace(to.NewBatch());
    written = std::async(std::launch::async, [&] { return to.Write(*writing); });
    entries = 0;
    return Status::Ok();
  };
  ProjectionSink sink{[&](std::string_view key, std::string_view value) {
                        batch->PutState(key, value);
                        return flush_if_full();
                      },
                      [&](std::string_view key, int64_t delta) {
                        batch->AddToCounter(key, delta);
                        return flush_if_full();
                      }};
  auto stats = RebuildProjections(from, sink);
  Status last = wait();  // before returning, whatever happened: the thread uses `to`
  if (!stats.ok()) return stats.status();
  CARELEDGER_RETURN_IF_ERROR(last);
  if (entries > 0) CARELEDGER_RETURN_IF_ERROR(to.Write(*batch));
  return stats;
}

Result<ChainHash> ProjectionStateHash(const EventStore& store) {
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
      });
}

Status ForEachChild(const EventStore& store, std::optional<Instant> known_at,
                    const std::function<void(const ChildView&)>& visit) {
  auto assignment = store.Assignment();
  if (!assignment.ok()) return assignment.status();
  std::set<int32_t> owned;
  for (const auto& tp : *assignment) owned.insert(tp.partition);
  std::string prefix = ChildKey("");
  Status failure = Status::Ok();
  Timeline timeline;  // one for all children: its facts' strings keep their buffers
  CARELEDGER_RETURN_IF_ERROR(
      store.ScanState(prefix, [&](std::string_view key, std::string_view value) {
        failure = DecodeTimelineInto(value, timeline);
        if (!failure.ok()) return false;
        if (!owned.empty() && !owned.count(timeline.partition)) return true;
        visit(ResolveChild(key.substr(prefix.size()), timeline, known_at));
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
