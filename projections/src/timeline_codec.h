// Private to projections/: a timeline's order and encoding piece by piece, for the rebuild,
// which encodes each fact as it reads it and writes a child's facts once they are sorted.
#pragma once

#include <string>
#include <string_view>

#include "careledger/projections.h"

namespace careledger::timeline_codec {

// What TimelineBefore compares.
struct FactKey {
  Instant occurred, recorded;
  EventType type = EventType::kChildRegistered;
  std::string_view event_id;
};
inline FactKey KeyOf(const Fact& f) {
  return {f.occurred_at.instant, f.recorded_at, f.type, f.event_id};
}
bool KeyBefore(const FactKey& a, const FactKey& b);

// EncodeTimeline is AppendHeader and then AppendFact for each fact, in order.
void AppendHeader(std::string& out, int32_t partition, uint32_t facts);
// The fact FactFromEnvelope(e, sequence, ingested_at) makes, encoded without making it.
// Returns where in `out` its event id starts.
size_t AppendFact(std::string& out, const Envelope& e, uint64_t sequence, Instant ingested_at);

}  // namespace careledger::timeline_codec
