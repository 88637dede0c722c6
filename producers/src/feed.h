// Private to producers/: what the feed adapters share — reading CSV, building envelopes, and
// validating a row's events together before they reach the sink.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "careledger/events.h"
#include "careledger/producers.h"

namespace careledger::feed {

// ---- CSV (careledger/common.h) ---------------------------------------------------------------
using careledger::BrokenRecord;
using careledger::CsvFile;
using careledger::CsvRow;
using careledger::ReadCsv;

// ---- Envelopes ------------------------------------------------------------------------------
// Writes an envelope member by member in the contract's field order, so that the same row
// always gives the same bytes (a re-send must be byte-identical to be a duplicate).
class EnvelopeWriter {
 public:
  EnvelopeWriter(std::string_view event_id, std::string_view type, std::string_view source,
                 std::string_view child_id, std::string_view occurred_at,
                 std::string_view recorded_at);
  void Text(std::string_view key, std::string_view value);
  void Flag(std::string_view key, bool value);
  void Integer(std::string_view key, int64_t value);
  std::string Finish() &&;
  // For a source whose rows are re-extracted: the id given is the record's source key, kept
  // as `source_key`, and the event_id becomes KEY@VERSION, VERSION a hash of everything but
  // the ids and recorded_at. The same content re-sent gets the same id whatever its extract
  // time; other content is a new version of the record, not a conflict.
  std::string FinishVersion() &&;

 private:
  void Key(std::string_view key);
  std::string out_;
  size_t id_end_ = 0;          // where the event_id's JSON string ends
  size_t recorded_start_ = 0;  // where ,"recorded_at":… begins
  size_t recorded_end_ = 0;    // and ends
  std::string event_id_;
  bool first_ = true;
};

// An envelope built from a row, with the columns its fields came from, so that a validation
// failure names the column the user can fix rather than the envelope field.
struct PendingEvent {
  std::string envelope;
  std::vector<std::pair<std::string, std::string_view>> columns;  // envelope field → column
};

// Everything an adapter needs to report: counts, the sinks, and the envelope parser.
class RowSink {
 public:
  RowSink(const EventSink& on_event, const RejectSink& on_reject,
          const WarningSink& on_warning = {})
      : on_event_(on_event), on_reject_(on_reject), on_warning_(on_warning) {}

  void Reject(const std::string& file, uint64_t line, std::string_view field,
              std::string_view reason, std::string_view rule = {});
  // A data-quality finding about a row that is kept.
  void Warn(const std::string& file, uint64_t line, std::string_view field, std::string_view reason,
            std::string_view rule);
  // Validates a row's events together: all are passed on, or the row is rejected for the first
  // failure. `check_ids`: also refuse an event_id already built in this run from different
  // content (a source key that is not unique), naming the earlier line.
  Status Row(const std::string& file, uint64_t line, std::vector<PendingEvent>& events,
             bool check_ids = true);
  void CountRow() { ++report_.rows; }
  const AdaptReport& report() const { return report_; }

 private:
  const EventSink& on_event_;
  const RejectSink& on_reject_;
  const WarningSink& on_warning_;
  AdaptReport report_;
  EnvelopeParser parser_;
  Envelope env_;
  struct Seen {
    uint64_t fingerprint;
    uint64_t line;
  };
  std::unordered_map<std::string, Seen> ids_;
  std::vector<std::pair<EventType, std::string>> parsed_;  // the row's types and child ids
};

// A parser message "field 'X': rule" split into X and rule; others have an empty field.
std::pair<std::string, std::string> SplitFieldMessage(std::string_view message);

// Reads a feed's CSV file; a file without a header row (an empty file) is rejected on line 1
// and comes back empty. BadInput when the file cannot be read.
Result<std::optional<CsvFile>> ReadCsvFeed(const std::string& path,
                                           std::vector<BrokenRecord>& broken, RowSink& sink);

// Rejects each of `columns` the header lacks, naming it; when none is missing, counts and
// rejects the records ReadCsv could not read and returns true: the file's rows may be read.
bool AcceptCsvHeader(const CsvFile& csv, std::span<const std::string_view> columns,
                     const std::vector<BrokenRecord>& broken, RowSink& sink);

// recorded_at for rows without one: the option, else the file's modification time.
Result<Instant> ExtractTime(const std::string& path, const AdapterOptions& options);

bool IsBlank(std::string_view s);

// The formats; each reads all of `files` and reports through `sink`.
Status AdaptJsonl(const std::vector<std::string>& files, RowSink& sink);
Status AdaptSsda903(const std::vector<std::string>& files, const AdapterOptions& options,
                    RowSink& sink);
Status AdaptPoliceCsv(const std::vector<std::string>& files, const AdapterOptions& options,
                      RowSink& sink);
Status AdaptYjsCsv(const std::vector<std::string>& files, const AdapterOptions& options,
                   RowSink& sink);

}  // namespace careledger::feed
