#include "ingest_builder.h"

#include <deque>
#include <memory>
#include <unordered_set>

#include "batch_builder.h"

namespace careledger::test {

Result<IngestCounts> IngestLines(EventStore& store, const std::vector<std::string>& lines,
                                 const IngestRun& run) {
  EnvelopeParser parser(ParserOptions{.now = run.now});
  Projector projector(store, run.projector);
  const bool pipelined = run.projector.overlapping;
  IngestCounts counts;
  // Where each line goes, from a parse of its own: its child is the key, its type the topic.
  std::deque<std::string> keys, topics;
  std::vector<int32_t> partitions(lines.size(), 0);
  {
    Envelope e;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (parser.Parse(lines[i], e).ok()) {
        keys.push_back(e.child_id);
        topics.emplace_back(TopicFor(e.type));
        if (run.partition_of) partitions[i] = run.partition_of(e);
      } else {
        keys.emplace_back();
        topics.emplace_back("unparsed");
      }
    }
  }
  // The envelopes of a batch outlive its write (its accepted events point into them).
  std::deque<std::vector<Envelope>> envelopes;
  std::optional<EventStore::Batch> unwritten;
  std::unordered_set<std::string> unwritten_ids;
  Status unwritten_status = Status::Ok();
  auto write_unwritten = [&] {
    if (unwritten && unwritten_status.ok()) unwritten_status = store.Write(*unwritten);
    unwritten.reset();
  };
  for (size_t first = 0; first < lines.size(); first += run.batch_size) {
    const size_t n = std::min(run.batch_size, lines.size() - first);
    std::vector<RawMessage> messages;
    for (size_t i = first; i < first + n; ++i) {
      messages.push_back({topics[i], keys[i], lines[i], partitions[i], int64_t(i)});
    }
    BatchContext context;
    context.next_offset = [](const TopicPartition&) { return std::optional<int64_t>(0); };
    if (unwritten) context.unwritten_ids = &unwritten_ids;
    if (run.wait_hook) {
      context.unwritten_durable = [&] {
        if (!unwritten) return;
        if (run.waits) ++*run.waits;
        write_unwritten();
      };
    }
    auto batch =
        unwritten ? store.NewBatchAfter(unwritten->tail(), run.stamp) : store.NewBatch(run.stamp);
    BuiltBatch built;
    CARELEDGER_RETURN_IF_ERROR(BuildBatch(messages, context, store, parser, projector,
                                          envelopes.emplace_back(), batch, built));
    write_unwritten();
    CARELEDGER_RETURN_IF_ERROR(unwritten_status);
    std::vector<BatchReject> refused = std::move(built.rejected);
    CARELEDGER_RETURN_IF_ERROR(
        SettleRepeats(messages, envelopes.back(), built, store, counts.duplicates, refused));
    for (const BatchReject& r : refused) {
      const RawMessage& m = messages[r.message];
      batch.PutDeadLetter({std::string(m.topic), m.partition}, m.offset, r.kind, r.reason,
                          m.payload, false);
    }
    counts.rejected += refused.size();
    counts.appended += built.accepted.size();
    if (pipelined) {
      unwritten.emplace(std::move(batch));
      unwritten_ids = std::move(built.ids);
    } else {
      CARELEDGER_RETURN_IF_ERROR(store.Write(batch));
    }
  }
  write_unwritten();
  CARELEDGER_RETURN_IF_ERROR(unwritten_status);
  return counts;
}

}  // namespace careledger::test
