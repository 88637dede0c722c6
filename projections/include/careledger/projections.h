// careledger/projections.h — figures as folds over each child's whole timeline. The live path
// (inside the ingest batch) and any rebuild run the same code: when an event for a child
// arrives, in whatever order, the child's contribution is recomputed and the difference is
// written as counter deltas keyed by date, so "CLA at D" is a prefix sum.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "careledger/common.h"
#include "careledger/events.h"
#include "careledger/store.h"

namespace careledger {

// One care event of a child, as the fold needs it.
struct CareFact {
  EventType type = EventType::kCarePeriodStarted;
  Timestamp occurred_at;
  Instant recorded_at;
  uint64_t id_fingerprint = 0;  // last tie-breaker, so arrival order never matters
  std::string legal_status, placement;
};

struct ChildState {
  int32_t partition = 0;  // the partition whose counters hold this child's contribution
  std::optional<Date> dob;
  std::string sex, ethnicity;
  std::vector<CareFact> care;  // kept in timeline order (see TimelineBefore)
};

// A stretch of time in which the child counted as looked after, with one legal status and one
// placement: [from, to), `to` empty while still open. V3/V4 (short breaks) never form a spell.
struct ClaSpell {
  Date from;
  std::optional<Date> to;
  std::string legal_status, placement;
};

bool TimelineBefore(const CareFact& a, const CareFact& b);
// The pure fold: the child's spells as looked after, from all of its care facts.
std::vector<ClaSpell> ClaSpells(const ChildState& child);
// Children looked after at D: spells with from <= D < to (a period ending on D does not count
// on D, as in the SSDA903 "looked after at 31 March" count).
bool IsLookedAfterAt(const std::vector<ClaSpell>& spells, Date d);

std::string EncodeChildState(const ChildState& child);
Result<ChildState> DecodeChildState(std::string_view bytes);

struct AcceptedEvent {
  const Envelope* envelope = nullptr;
  uint64_t sequence = 0;
  // The Kafka partition (the same number in every co-partitioned topic). Figures are kept per
  // partition so that each instance answers only for the partitions it owns, and the
  // figures of several instances add up.
  int32_t partition = 0;
};

// Folds accepted events into the batch. Reads the children's previous state from the batch
// before it (which may still be being written) and then from the store. Batches must be
// written in the order Apply saw them; if one is not written, call Forget before the next.
class Projector {
 public:
  explicit Projector(const EventStore& store) : store_(store) {}
  Status Apply(const std::vector<AcceptedEvent>& events, EventStore::Batch& batch);
  void Forget() { previous_.clear(); }

 private:
  const EventStore& store_;
  // Child key → encoded state, as the last batch Apply built leaves it.
  std::unordered_map<std::string, std::string> previous_;
};

// A hash of the projection state's meaning: two stores that hold the same events, in whatever
// order they arrived, have the same hash (counters that net to zero are left out).
Result<ChainHash> ProjectionStateHash(const EventStore& store);

// ---- Queries --------------------------------------------------------------------------------
enum class ClaDimension { kNone, kPlacement, kLegalStatus };
Result<ClaDimension> ClaDimensionFromName(std::string_view name);

struct ClaRow {
  std::string group;  // empty for kNone
  int64_t children = 0;
};
// M1 "CLA at D": children with an open care period on D, excluding V3/V4, by one dimension,
// over the partitions the store is assigned (all of them when it never was). Groups with no
// children are left out; rows are in group order.
Result<std::vector<ClaRow>> ClaAt(const EventStore& store, Date at, ClaDimension by);

}  // namespace careledger
