// Test-only: the lines of a feed ingested into a real store through ingest's own batch rule
// (consumers/src/batch_builder.h), batch by batch, with no Kafka. Every test and fixture that
// folds events the way ingest does goes through here.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "careledger/projections.h"
#include "careledger/store.h"

namespace careledger::test {

inline ProjectorOptions NotOverlapping() {
  ProjectorOptions options;
  options.overlapping = false;
  return options;
}

struct IngestRun {
  size_t batch_size = 1000;
  // The partition each event is on (every topic co-partitioned); 0 when unset. Each line is a
  // message on its type's topic, keyed by its child, at its line number as the offset.
  std::function<int32_t(const Envelope&)> partition_of;
  // Every batch stamped as ingested at this instant instead of by the store's clock.
  std::optional<Instant> stamp;
  // As ingest pipelines (`projector.overlapping`): each batch is built before the one before
  // it is written, which is written when the projection asks for it or once built.
  ProjectorOptions projector = NotOverlapping();
  // Whether the projection may wait for the batch before to be written (ingest's way); without,
  // it merges into a counter cell that batch changed instead of reading it.
  bool wait_hook = true;
  // Counts the times a batch's projection waited for the one before it.
  int* waits = nullptr;
  // Events are dated up to here without being "in the future".
  Instant now = Instant{std::chrono::sys_days{std::chrono::year{2100} / 1 / 1}};
};

struct IngestCounts {
  uint64_t appended = 0, duplicates = 0, rejected = 0;
};

// Ingests `lines` in order; a line that does not parse or a conflicting repeat is dead-lettered
// (and counted), a repeat with the same content counted as a duplicate, as ingest does.
[[nodiscard]] Result<IngestCounts> IngestLines(EventStore& store,
                                               const std::vector<std::string>& lines,
                                               const IngestRun& run = {});

}  // namespace careledger::test
