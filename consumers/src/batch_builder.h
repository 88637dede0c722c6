// The ingest batch rule, with no Kafka in it: which polled messages become events, which are
// dead letters, which are repeats of events already held, and what one batch writes for them
// (the events, their projections, the next offsets). Ingest pipelines and retries around it;
// tests (tests/support/ingest_builder.h) and the benches that start from a store
// (bench/bench_support.h) build their batches through it. A private header of consumers/ that
// tests and benches may include.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "careledger/common.h"
#include "careledger/events.h"
#include "careledger/projections.h"
#include "careledger/store.h"

namespace careledger {

// A polled message where it lies: the caller keeps its bytes alive until the batch is written.
struct RawMessage {
  std::string_view topic, key, payload;
  int32_t partition = 0;
  int64_t offset = 0;
};

// What the batch is built against.
struct BatchContext {
  // The next offset this instance reads of a partition it holds; nullopt when it no longer
  // holds it. A message before that offset (a re-delivery) or of a partition not held is
  // skipped: neither an event nor a dead letter.
  std::function<std::optional<int64_t>(const TopicPartition&)> next_offset;
  // Each topic's partition count, where known: a child's events must be on the partition its
  // id hashes to (murmur2), so that one instance holds the child's whole timeline.
  const std::map<std::string, int32_t, std::less<>>* partition_counts = nullptr;
  // The event ids of the batch written before this one and not yet durable.
  const std::unordered_set<std::string>* unwritten_ids = nullptr;
  // Called before the projection reads the store for a child the unwritten batch touched:
  // returns once that batch is durable (its status is the caller's to take).
  std::function<void()> unwritten_durable;
};

// A message refused, by the rule it breaks; the reason names the field or rule, never the
// payload.
struct BatchReject {
  size_t message = 0;  // its index in the messages given
  RejectKind kind = RejectKind::kOther;
  std::string reason;
};

// A message whose event id is held already (stored, in the unwritten batch, or earlier in this
// one): a duplicate or a conflict, told apart by SettleRepeats.
struct BatchRepeat {
  size_t message = 0;
  std::optional<StoredEventId> stored;  // where the store held it when the batch was built
};

struct BuiltBatch {
  uint64_t consumed = 0;                           // messages of partitions held, not re-read
  std::vector<AcceptedEvent> accepted;             // appended, in message order
  std::vector<BatchReject> rejected;               // refused, in message order
  std::vector<BatchRepeat> repeats;                // settled once what came before is durable
  std::map<TopicPartition, int64_t> next_offsets;  // written with the batch
  std::unordered_set<std::string> ids;             // appended event ids
};

// Builds `batch` from `messages`: (1) each message of a held partition is parsed and its
// routing checked (refused ones are returned, for the caller to dead-letter); (2) its event
// id is looked up in the store, the unwritten batch and this one (a repeat is returned, else
// the event is appended); (3) the accepted events are projected into the batch, and each
// partition's next offset set. `envelopes` is resized to the messages and must outlive the
// batch's write (accepted events point into it).
[[nodiscard]] Status BuildBatch(std::span<const RawMessage> messages, const BatchContext& context,
                                EventStore& store, EnvelopeParser& parser, Projector& projector,
                                std::vector<Envelope>& envelopes, EventStore::Batch& batch,
                                BuiltBatch& built);

// Step 4, once everything before the batch is durable: a repeat with the same bytes as the
// copy held, or differing only in recorded_at, is a duplicate (counted in `duplicates`); any
// other is a conflict, returned in `conflicts`.
[[nodiscard]] Status SettleRepeats(std::span<const RawMessage> messages,
                                   const std::vector<Envelope>& envelopes, const BuiltBatch& built,
                                   const EventStore& store, uint64_t& duplicates,
                                   std::vector<BatchReject>& conflicts);

// Whether a message may carry its event: keyed by its child, on its type's topic, on the
// partition the child hashes to. `kind` says which rule a refusal breaks.
[[nodiscard]] Status CheckRouting(const RawMessage& m, const Envelope& e,
                                  const std::map<std::string, int32_t, std::less<>>* counts,
                                  RejectKind& kind);

}  // namespace careledger
