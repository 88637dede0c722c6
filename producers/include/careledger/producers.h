// careledger/producers.h — getting source data onto the topics: validate each row, publish with
// an idempotent producer keyed by child_id, and count a message as published only once its
// delivery report says so. Also the synthetic feed generator.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "careledger/common.h"

namespace careledger {

struct PublishReport {
  uint64_t lines = 0;        // non-blank lines read
  uint64_t published = 0;    // acknowledged by the broker (acks=all)
  uint64_t rejected = 0;     // failed validation: named on `diagnostics` as file:line: reason
  uint64_t undelivered = 0;  // valid but not acknowledged: named likewise
  double seconds = 0;
  bool all_good() const { return rejected == 0 && undelivered == 0; }
};

// Publishes JSON Lines files of envelopes to the topics their types belong to. Bad lines are
// reported and skipped; the others are published.
Result<PublishReport> PublishJsonl(const std::vector<std::string>& files, const Settings& kafka,
                                   std::ostream& diagnostics);

struct GeneratorOptions {
  int children = 2000;
  Date start = Date{std::chrono::year{2023} / 4 / 1};
  Date end = Date{std::chrono::year{2026} / 4 / 1};  // exclusive
  uint64_t seed = 1;
};

// Writes a synthetic feed as JSON Lines, in the order a source would record it. The same
// options give byte-identical output. For now: registrations and care periods with placement
// and legal-status changes (including V3/V4 short breaks) and ends.
Status GenerateFeed(const GeneratorOptions& options, std::ostream& out);

}  // namespace careledger
