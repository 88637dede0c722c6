#include "batch_builder.h"

#include "careledger/kafka.h"  // PartitionForKey: the producers' murmur2 rule, no client

namespace careledger {

Status CheckRouting(const RawMessage& m, const Envelope& e,
                    const std::map<std::string, int32_t, std::less<>>* counts, RejectKind& kind) {
  // A child's events must all be in partition p of each topic, so that one instance (and one
  // store) holds the child's whole timeline; anything else would split the child silently.
  if (m.key != e.child_id) {
    kind = RejectKind::kKeyMismatch;
    return Status::BadInput("message key does not match child_id (breaks co-partitioning)");
  }
  // event.retracted may come on any source topic (spec/events.md): each system retracts its
  // own events on its own topic.
  if (std::string_view topic = TopicFor(e.type);
      topic != m.topic && e.type != EventType::kEventRetracted) {
    kind = RejectKind::kWrongTopic;
    return Status::BadInput("wrong topic: " + std::string(EventTypeName(e.type)) +
                            " events belong on " + std::string(topic) + ", not " +
                            std::string(m.topic));
  }
  if (!counts) return Status::Ok();
  if (auto n = counts->find(m.topic); n != counts->end()) {
    if (int32_t want = PartitionForKey(e.child_id, n->second); want != m.partition) {
      kind = RejectKind::kWrongPartition;
      return Status::BadInput("wrong partition: child_id hashes (murmur2) to partition " +
                              std::to_string(want) + " of " + std::to_string(n->second) + ", not " +
                              std::to_string(m.partition) + " (breaks co-partitioning)");
    }
  }
  return Status::Ok();
}

Status BuildBatch(std::span<const RawMessage> messages, const BatchContext& context,
                  EventStore& store, EnvelopeParser& parser, Projector& projector,
                  std::vector<Envelope>& envelopes, EventStore::Batch& batch, BuiltBatch& built) {
  if (envelopes.size() < messages.size()) envelopes.resize(messages.size());

  // 1. Which messages are new for us, and do they parse? (never trust the topic)
  std::vector<size_t> valid;  // indexes into messages and envelopes
  for (size_t i = 0; i < messages.size(); ++i) {
    const RawMessage& m = messages[i];
    TopicPartition tp{std::string(m.topic), m.partition};
    // Not ours any more, or already in the store (a re-delivery after seek): skip. The
    // offset check makes a replayed message harmless even before event-id dedup.
    const std::optional<int64_t> from = context.next_offset(tp);
    if (!from || m.offset < *from) continue;
    auto& next = built.next_offsets[tp];
    next = std::max(next, m.offset + 1);
    ++built.consumed;
    RejectKind kind = RejectKind::kOther;
    Status s = parser.Parse(m.payload, envelopes[i], &kind);
    if (s.ok()) s = CheckRouting(m, envelopes[i], context.partition_counts, kind);
    if (!s.ok()) {
      built.rejected.push_back({i, kind, s.message()});
      continue;
    }
    valid.push_back(i);
  }

  // 2. Dedup by event_id against the store, the unwritten batch, and within the batch. An id
  // seen before is settled by SettleRepeats, once everything before this batch is in the store
  // to compare with. The fingerprint only says which copies may be the same: a 64-bit hash
  // can be made to collide, so equal fingerprints are confirmed byte for byte there.
  std::vector<std::string_view> ids;
  ids.reserve(valid.size());
  for (size_t i : valid) ids.push_back(envelopes[i].event_id);
  std::vector<std::optional<StoredEventId>> stored;
  CARELEDGER_RETURN_IF_ERROR(store.FindEventIds(ids, stored));
  for (size_t k = 0; k < valid.size(); ++k) {
    const RawMessage& m = messages[valid[k]];
    const Envelope& e = envelopes[valid[k]];
    bool known = stored[k].has_value();
    if (context.unwritten_ids && context.unwritten_ids->contains(e.event_id)) known = true;
    if (built.ids.contains(e.event_id)) known = true;
    if (known) {
      built.repeats.push_back({valid[k], stored[k]});
      continue;
    }
    const uint64_t fingerprint = Fingerprint(m.payload);
    built.ids.emplace(e.event_id);
    uint64_t seq =
        batch.Append(e.event_id, e.child_id, e.occurred_at.date,
                     {std::string(m.topic), m.partition}, m.offset, m.payload, fingerprint);
    built.accepted.push_back({&e, seq, m.partition, batch.ingested_at(), m.topic, m.offset});
  }

  // 3. Projection deltas and offsets go in the same batch: all or nothing.
  CARELEDGER_RETURN_IF_ERROR(projector.Apply(built.accepted, batch, context.unwritten_durable));
  for (const auto& [tp, next] : built.next_offsets) batch.SetNextOffset(tp, next);
  return Status::Ok();
}

Status SettleRepeats(std::span<const RawMessage> messages, const std::vector<Envelope>& envelopes,
                     const BuiltBatch& built, const EventStore& store, uint64_t& duplicates,
                     std::vector<BatchReject>& conflicts) {
  if (built.repeats.empty()) return Status::Ok();
  // The first copy of each id this batch appended (the rare path: only when there are
  // repeats), which is the copy kept.
  std::unordered_map<std::string_view, const AcceptedEvent*> appended;
  for (const AcceptedEvent& a : built.accepted) appended.emplace(a.envelope->event_id, &a);
  std::string earlier;
  for (const BatchRepeat& r : built.repeats) {
    const RawMessage& m = messages[r.message];
    const std::string_view id = envelopes[r.message].event_id;
    if (auto it = appended.find(id); it != appended.end()) {
      earlier.assign(messages[size_t(it->second->envelope - envelopes.data())].payload);
    } else if (r.stored) {
      CARELEDGER_RETURN_IF_ERROR(store.ReadPayload(r.stored->sequence, earlier));
    } else {
      // Appended by the batch before this one, durable by now.
      std::vector<std::optional<StoredEventId>> found;
      CARELEDGER_RETURN_IF_ERROR(store.FindEventIds({id}, found));
      if (found.empty() || !found[0]) return Status::Fatal("an event id the store knew is gone");
      CARELEDGER_RETURN_IF_ERROR(store.ReadPayload(found[0]->sequence, earlier));
    }
    if (earlier == m.payload) {
      ++duplicates;
      continue;
    }
    auto same = SameEventButForRecordedAt(earlier, m.payload);
    if (same.ok() && *same) {
      ++duplicates;
    } else {
      conflicts.push_back({r.message, RejectKind::kConflict,
                           "conflict: event_id already stored with different content"});
    }
  }
  return Status::Ok();
}

}  // namespace careledger
