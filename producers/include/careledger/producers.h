// careledger/producers.h — getting source data onto the topics: adapt each source's rows into
// envelopes, validate each, publish with an idempotent producer keyed by child_id, and count a
// message as published only once its delivery report says so. Also the synthetic feed generator.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"
#include "careledger/events.h"

namespace careledger {

// ---- Feed adapters ------------------------------------------------------------------------
// Each format turns a source's rows into event envelopes (spec/events.md); every envelope then
// goes through EnvelopeParser, like a JSON Lines line, before anything is published. docs/feeds.md
// documents every column.
enum class FeedFormat { kJsonl, kSsda903, kPoliceCsv, kYjsCsv };
std::optional<FeedFormat> FeedFormatFromName(std::string_view name);  // "jsonl", "ssda903", …

// A row (or a whole file) that was rejected, or a data-quality warning about one that was kept.
// Never carries the row's content beyond a code from a published code list.
struct Reject {
  std::string file;
  uint64_t line = 0;  // 1-based, the header being line 1; a record starts on its first line
  std::string field;  // the column (or envelope field); empty when the line as a whole is bad
  std::string reason;
  std::string rule;  // a stable name for the check (docs/feeds.md), e.g. "decom-unreadable"
  // "file:line: field 'F': reason [rule]" (the rule only when there is one)
  std::string ToString() const;
  // {"file":…,"line":…,"field":…,"reason":…,"rule":…}, one line of a rejects or quality file
  std::string ToJson() const;
};
using Finding = Reject;  // a data-quality warning has the same shape
using RejectSink = std::function<void(Reject&&)>;
using WarningSink = std::function<void(Finding&&)>;

struct AdapterOptions {
  // recorded_at of rows that carry none (every SSDA903 row; police/YJS rows with a blank or no
  // recorded_at column). Unset: each file's modification time, to the second.
  std::optional<Instant> extracted_at;
  // SSDA903: the authority's own postcode districts (outward codes such as "LS1", "LS27"); a
  // placement whose PL_POST district is not among them is out_of_area. Empty: out_of_area is
  // left unknown (one warning says how to set them).
  std::vector<std::string> local_postcode_districts;
  // SSDA903 OC3: the day contacts are recorded on. Unset: the end of the return's collection
  // year (its YEAR column, else the year its episodes reach, else the extract time's).
  std::optional<Date> year_end;
  // Data-quality findings about rows that were kept (SSDA903: REC on an open episode,
  // overlapping episodes, ...). Unset: only counted in AdaptReport.
  WarningSink on_warning;
};

// A validated envelope, ready to publish.
struct FeedEvent {
  std::string envelope;  // UTF-8 JSON, one line
  std::string child_id;  // the Kafka key
  EventType type = EventType::kChildRegistered;
  std::string file;  // where it came from, to name an undelivered one
  uint64_t line = 0;
};

struct AdaptReport {
  uint64_t rows = 0;      // data rows read (JSON Lines: non-blank lines)
  uint64_t events = 0;    // envelopes built and valid
  uint64_t rejected = 0;  // Reject entries: rows, or whole files (missing column, no header)
  std::map<std::string, uint64_t> warnings;  // data-quality findings by rule (rows kept)
};

using EventSink = std::function<Status(FeedEvent&&)>;  // an error stops the run

// Reads `files` in `format` and hands each valid event to `on_event` (in file order; SSDA903
// episodes per child in date order) and each rejected row to `on_reject`. A row either yields
// all its events or is rejected whole. BadInput for what stops the run: an unreadable file.
Result<AdaptReport> AdaptFiles(FeedFormat format, const std::vector<std::string>& files,
                               const AdapterOptions& options, const EventSink& on_event,
                               const RejectSink& on_reject);
// The same, collecting into vectors (tests, small files).
Result<AdaptReport> AdaptFiles(FeedFormat format, const std::vector<std::string>& files,
                               const AdapterOptions& options, std::vector<FeedEvent>& events_out,
                               std::vector<Reject>& rejects_out);

// The dead-letter file of a publish run: one JSON line per reject, written as they come.
class RejectsFile {
 public:
  explicit RejectsFile(std::string path) : path_(std::move(path)) {}
  // Creates (or truncates) the file at the first reject.
  Status Add(const Reject& reject);
  // Flushes. A run with no rejects creates no file, but empties one left by an earlier run so
  // that it never describes another run.
  Status Finish();
  uint64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
  uint64_t count_ = 0;
};

struct PublishReport {
  uint64_t lines = 0;        // rows read (JSON Lines: non-blank lines)
  uint64_t events = 0;       // valid events handed to the producer
  uint64_t published = 0;    // acknowledged by the broker (acks=all)
  uint64_t rejected = 0;     // failed validation: named on `diagnostics` as file:line: reason
  uint64_t undelivered = 0;  // valid but not acknowledged: named likewise
  // Acknowledged, then dropped by the broker's retention before anyone could read them (the
  // embedded broker keeps ~5 MiB per partition): named on `diagnostics` by partition.
  uint64_t dropped = 0;
  std::map<std::string, uint64_t> warnings;  // data-quality findings by rule (rows kept)
  double seconds = 0;
  bool all_good() const { return rejected == 0 && undelivered == 0 && dropped == 0; }
};

// Adapts `files` and publishes their events to the topics their types belong to, keyed by
// child_id, streaming (nothing is held beyond what the producer queues). Rejects go to
// `on_reject`; undelivered events are named on `diagnostics`.
Result<PublishReport> PublishFeed(FeedFormat format, const std::vector<std::string>& files,
                                  const AdapterOptions& options, const Settings& kafka,
                                  const RejectSink& on_reject, std::ostream& diagnostics);

// Publishes events already built and validated (e.g. dead letters re-driven), exactly as
// PublishFeed does; an undelivered one is named by its `file` and `line`.
Result<PublishReport> PublishEvents(std::vector<FeedEvent> events, const Settings& kafka,
                                    std::ostream& diagnostics);

// Publishes JSON Lines files of envelopes. Bad lines are reported on `diagnostics` as
// file:line: reason and skipped; the others are published.
Result<PublishReport> PublishJsonl(const std::vector<std::string>& files, const Settings& kafka,
                                   std::ostream& diagnostics);

// A retraction of a record that a complete re-extract no longer holds: event.retracted of
// `target_event_id` (the record's latest stored version), for `child_id`, recorded at `at`.
// Its id is the record's source key with /retracted, versioned like the record's own.
Result<FeedEvent> RetractRecord(std::string_view source, std::string_view child_id,
                                std::string_view source_key, std::string_view target_event_id,
                                Instant at);

// ---- SSDA903 reconciliation ---------------------------------------------------------------
// The statutory count straight from the files, as an analyst checks a return before it goes to
// the DfE: every episodes row that names a child and a readable DECOM, whatever else the
// adapter makes of it, one per (child, DECOM) with the latest return's copy winning.
struct Ssda903Episode {
  std::string child, legal_status, placement, file;
  uint64_t line = 0;
  Date decom{};
  std::optional<Date> dec;  // empty: open (or unreadable, which the adapter rejects)
};
struct Ssda903Census {
  std::vector<Ssda903Episode> episodes;
  // Every episodes row (file, line) that names a child, kept or rejected: to find a child's
  // rejects and warnings.
  std::map<std::pair<std::string, uint64_t>, std::string> child_of_row;
};
// BadInput when a file cannot be read; files that are not episodes files are skipped.
Result<Ssda903Census> ReadSsda903Census(const std::vector<std::string>& files);

struct StatutoryCare {
  std::string placement, legal_status;
};
// The DfE rule: looked after on d when an episode that is not a short break (V3/V4) has DECOM
// <= d and no DEC or DEC > d; a child counts once, described by the episode that began last.
std::map<std::string, StatutoryCare> LookedAfterOn(const Ssda903Census& census, Date d);

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
