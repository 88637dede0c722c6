// careledger/producers.h — getting source data onto the topics: validate each row, publish with
// an idempotent producer keyed by child_id, and count a message as published only once its
// delivery report says so. Also the synthetic feed generator.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "careledger/common.h"
#include "careledger/events.h"

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
  // The area's population aged 0–17 (at any moment; births replace those who turn 18). Most
  // never enter care or meet the police, and a child appears in the feed only once a source
  // knows of them: about 70 in 10,000 are looked after at any time.
  int children = 100000;
  Date start = Date{std::chrono::year{2023} / 4 / 1};
  Date end = Date{std::chrono::year{2026} / 4 / 1};  // exclusive
  uint64_t seed = 1;
  // What real feeds do, as fractions of the events the story holds. Each is drawn on its own
  // stream, so setting one to 0 leaves the story and its event ids unchanged.
  double late_rate = 0.02;         // recorded 3 weeks to 6 months after it happened
  double duplicate_rate = 0.01;    // the same line re-sent later, byte for byte
  double correction_rate = 0.005;  // superseded later, or keyed twice and the copy retracted
  double invalid_rate = 0.001;     // a line the contract rejects (a different fault each time)
};

// What a generated feed holds, for tests, benches and the CLI's summary line.
struct FeedSummary {
  uint64_t lines = 0;
  uint64_t children = 0;  // children registered: those some source knew of
  // Distinct valid events by type: corrections and retracted copies included, re-sent
  // duplicates and invalid lines not.
  std::map<EventType, uint64_t> events_by_type;
  uint64_t late = 0;                    // story events recorded 21 days or more after they happened
  uint64_t duplicates = 0;              // lines repeating an earlier line byte for byte
  uint64_t superseding = 0;             // events carrying `supersedes`
  uint64_t retractions = 0;             // event.retracted, each of a copy keyed twice
  std::vector<uint64_t> invalid_lines;  // 1-based numbers of the lines meant to be rejected
  uint64_t events() const;              // the sum of events_by_type
};

// Writes a synthetic feed as JSON Lines: children's social care (lcs), police (police-rms) and
// youth justice (yjs) events, in the order the sources recorded them. The same options give
// byte-identical output. Shapes follow national statistics in outline (see generate.cc).
Status GenerateFeed(const GeneratorOptions& options, std::ostream& out,
                    FeedSummary* summary = nullptr);

}  // namespace careledger
