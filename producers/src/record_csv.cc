// The police and youth justice CSV feeds: one file, a record_type column saying what each row
// is, and a table per format saying which columns make which event. docs/feeds.md is the
// user's side of these tables.
#include "feed.h"

namespace careledger::feed {

namespace {

enum class Value {
  kText,      // passed through; the envelope's code lists judge it
  kId,        // a source reference, 1–64 characters
  kFlag,      // Y or N → true or false
  kHoOutcome  // Home Office outcome code, 1–22 → an integer
};

struct FieldSpec {
  std::string_view json;    // member of `data`
  std::string_view column;  // the CSV column it comes from
  Value value;
  bool required;
};

struct RecordSpec {
  std::string_view record_type;
  std::string_view event_type;
  // What makes the event_id, after source and type; "occurred_at" stands for its date.
  std::vector<std::string_view> key;
  std::vector<FieldSpec> fields;
  bool decided_at = false;               // data.decided_at is the row's occurred_at
  std::vector<std::string_view> one_of;  // at least one of these columns must have a value
};

struct FormatSpec {
  std::string_view format;
  std::string_view source;
  std::vector<RecordSpec> records;
};

const FormatSpec kPolice = {
    "police-csv",
    "police-rms",
    {
        {"missing_reported",
         "missing.reported",
         {"episode_id"},
         {{"episode_id", "episode_id", Value::kId, true},
          {"category", "category", Value::kText, true},
          {"risk", "risk", Value::kText, true},
          {"from_home_id", "home_id", Value::kId, false}},
         false,
         {}},
        {"missing_returned",
         "missing.returned",
         {"episode_id"},
         {{"episode_id", "episode_id", Value::kId, true}},
         false,
         {}},
        {"offence",
         "offence.recorded",
         {"offence_id"},
         {{"offence_id", "offence_id", Value::kId, true},
          {"offence_group", "offence_group", Value::kText, true},
          {"offence_type", "offence_type", Value::kText, false},
          {"knife_related", "knife_related", Value::kFlag, false},
          {"at_placement", "at_placement", Value::kFlag, true}},
         false,
         {}},
        {"outcome",
         "outcome.recorded",
         {"offence_id", "occurred_at"},
         {{"offence_id", "offence_id", Value::kId, true},
          {"home_office_outcome", "home_office_outcome", Value::kHoOutcome, false},
          {"disposal", "disposal", Value::kText, false}},
         true,
         {"home_office_outcome", "disposal"}},
        {"callout",
         "placement.police_callout",
         {"incident_id"},
         {{"home_id", "home_id", Value::kId, true}, {"reason", "reason", Value::kText, true}},
         false,
         {}},
    }};

const FormatSpec kYjs = {"yjs-csv",
                         "yjs",
                         {
                             {"case_opened",
                              "yjs.case_opened",
                              {"case_id"},
                              {{"case_id", "case_id", Value::kId, true},
                               {"intervention", "intervention", Value::kText, true}},
                              false,
                              {}},
                             {"case_closed",
                              "yjs.case_closed",
                              {"case_id"},
                              {{"case_id", "case_id", Value::kId, true},
                               {"intervention", "intervention", Value::kText, true}},
                              false,
                              {}},
                             {"court_outcome",
                              "court.outcome_recorded",
                              {"offence_id", "occurred_at"},
                              {{"offence_id", "offence_id", Value::kId, true},
                               {"disposal", "disposal", Value::kText, true}},
                              true,
                              {}},
                             {"remand",
                              "court.remand_decided",
                              {"offence_id", "occurred_at"},
                              {{"offence_id", "offence_id", Value::kId, true},
                               {"remanded_to", "remanded_to", Value::kText, true}},
                              true,
                              {}},
                         }};

constexpr std::string_view kRequiredColumns[] = {"record_type", "child_id", "occurred_at"};
constexpr size_t kMaxIdLength = 64;

class RecordCsvAdapter {
 public:
  RecordCsvAdapter(const FormatSpec& spec, const AdapterOptions& options, RowSink& sink)
      : spec_(spec), options_(options), sink_(sink) {}

  Status Run(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
      std::vector<BrokenRecord> broken;
      auto read = ReadCsvFeed(path, broken, sink_);
      if (!read.ok()) return read.status();
      if (!read->has_value()) continue;
      auto& csv = *read;
      if (!AcceptCsvHeader(*csv, kRequiredColumns, broken, sink_)) continue;
      auto extracted = ExtractTime(path, options_);
      if (!extracted.ok()) return extracted.status();
      extracted_at_ = FormatInstant(*extracted);
      for (const auto& row : csv->rows) {
        sink_.CountRow();
        CARELEDGER_RETURN_IF_ERROR(Row(*csv, row));
      }
    }
    return Status::Ok();
  }

 private:
  // The cell, or nullopt when the header has no such column.
  static std::optional<std::string_view> Cell(const CsvFile& f, const CsvRow& r,
                                              std::string_view column) {
    int i = f.Column(column);
    if (i < 0) return std::nullopt;
    return size_t(i) < r.cells.size() ? std::string_view(r.cells[size_t(i)]) : "";
  }

  Status Row(const CsvFile& f, const CsvRow& row) {
    auto reject = [&](std::string_view field, std::string_view reason) {
      Reject(f, row, field, reason);
      return Status::Ok();
    };
    std::string_view record_type = *Cell(f, row, "record_type");
    const RecordSpec* spec = RecordFor(f, row, record_type);
    if (spec == nullptr) return Status::Ok();
    std::string_view child = *Cell(f, row, "child_id");
    if (child.empty()) return reject("child_id", "required");
    std::string_view occurred = *Cell(f, row, "occurred_at");
    if (occurred.empty()) return reject("occurred_at", "required");
    auto when = ParseTimestamp(occurred);
    if (!when.ok()) return reject("occurred_at", when.status().message());
    std::string recorded = extracted_at_;
    if (!RecordedAt(f, row, recorded)) return Status::Ok();
    std::string event_id;
    if (!EventIdOf(f, row, *spec, when->date, event_id)) return Status::Ok();

    EnvelopeWriter w(event_id, spec->event_type, spec_.source, child, occurred, recorded);
    PendingEvent event;
    event.columns = {{"child_id", "child_id"},
                     {"occurred_at", "occurred_at"},
                     {"recorded_at", "recorded_at"},
                     {"event_id", spec->key.front()}};
    if (!Fields(f, row, *spec, w, event)) return Status::Ok();
    if (spec->decided_at) {
      w.Text("decided_at", occurred);
      event.columns.emplace_back("data.decided_at", "occurred_at");
    }
    event.envelope = std::move(w).Finish();
    std::vector<PendingEvent> events;
    events.push_back(std::move(event));
    return sink_.Row(f.path, row.line, events);
  }

  // Rejects the row; false, for the steps that say whether the row is still good.
  bool Reject(const CsvFile& f, const CsvRow& row, std::string_view field,
              std::string_view reason) {
    sink_.Reject(f.path, row.line, field, reason);
    return false;
  }

  // The spec of the row's record_type; nullptr, and the row rejected, when there is none.
  const RecordSpec* RecordFor(const CsvFile& f, const CsvRow& row, std::string_view record_type) {
    const RecordSpec* spec = nullptr;
    for (const auto& r : spec_.records) {
      if (r.record_type == record_type) spec = &r;
    }
    if (spec == nullptr) {
      std::string known;
      for (const auto& r : spec_.records)
        known += (known.empty() ? "" : ", ") + std::string(r.record_type);
      Reject(f, row, "record_type",
             "not a known " + std::string(spec_.format) + " record type (" + known + ")");
    }
    return spec;
  }

  // recorded_at from the row when it has one (a date-time), else the extract time already in
  // `recorded`; false when the row is rejected.
  bool RecordedAt(const CsvFile& f, const CsvRow& row, std::string& recorded) {
    if (auto text = Cell(f, row, "recorded_at"); text && !text->empty()) {
      auto ts = ParseTimestamp(*text);
      if (!ts.ok()) return Reject(f, row, "recorded_at", ts.status().message());
      if (!ts->has_time) return Reject(f, row, "recorded_at", "must be a date-time, not a date");
      recorded = *text;
    }
    return true;
  }

  // The event_id: source, type and the record's key columns; false when the row is rejected.
  bool EventIdOf(const CsvFile& f, const CsvRow& row, const RecordSpec& spec, Date occurred,
                 std::string& event_id) {
    event_id = spec_.source;
    event_id += ':';
    event_id += spec.event_type;
    for (auto column : spec.key) {
      std::string_view part =
          column == "occurred_at" ? std::string_view() : Cell(f, row, column).value_or("");
      if (column != "occurred_at" && part.empty()) {
        if (!Cell(f, row, column)) {
          return Reject(f, row, column,
                        "column missing from the header (needed for record_type " +
                            std::string(spec.record_type) + ")");
        }
        return Reject(f, row, column, "required for record_type " + std::string(spec.record_type));
      }
      event_id += ':';
      event_id += column == "occurred_at" ? FormatDate(occurred) : std::string(part);
    }
    return true;
  }

  // The record's data fields into `w`, with the columns they came from; false when the row is
  // rejected.
  bool Fields(const CsvFile& f, const CsvRow& row, const RecordSpec& spec, EnvelopeWriter& w,
              PendingEvent& event) {
    bool any_of = spec.one_of.empty();
    for (const auto& field : spec.fields) {
      auto cell = Cell(f, row, field.column);
      if (!cell || cell->empty()) {
        if (!field.required) continue;
        if (!cell) {
          return Reject(f, row, field.column,
                        "column missing from the header (needed for record_type " +
                            std::string(spec.record_type) + ")");
        }
        return Reject(f, row, field.column,
                      "required for record_type " + std::string(spec.record_type));
      }
      for (auto c : spec.one_of) any_of = any_of || c == field.column;
      if (!WriteValue(f, row, field, *cell, w)) return false;
      event.columns.emplace_back("data." + std::string(field.json), field.column);
    }
    if (!any_of) {
      std::string names;
      for (auto c : spec.one_of) names += (names.empty() ? "" : " or ") + std::string(c);
      return Reject(
          f, row, spec.one_of.front(),
          "one of " + names + " is required for record_type " + std::string(spec.record_type));
    }
    return true;
  }

  // One field's cell, checked as its Value says, into `w`; false when the row is rejected.
  bool WriteValue(const CsvFile& f, const CsvRow& row, const FieldSpec& field, std::string_view v,
                  EnvelopeWriter& w) {
    switch (field.value) {
      case Value::kText:
        w.Text(field.json, v);
        break;
      case Value::kId:
        if (v.size() > kMaxIdLength)
          return Reject(f, row, field.column, "longer than 64 characters");
        w.Text(field.json, v);
        break;
      case Value::kFlag:
        if (v != "Y" && v != "N") return Reject(f, row, field.column, "must be Y or N");
        w.Flag(field.json, v == "Y");
        break;
      case Value::kHoOutcome: {
        int code = 0;
        bool digits = !v.empty() && v.size() <= 2 &&
                      v.find_first_not_of("0123456789") == std::string_view::npos;
        if (digits) code = std::stoi(std::string(v));
        if (code < 1 || code > 22)
          return Reject(f, row, field.column, "not a Home Office outcome code (1–22)");
        w.Integer(field.json, code);
        break;
      }
    }
    return true;
  }

  const FormatSpec& spec_;
  const AdapterOptions& options_;
  RowSink& sink_;
  std::string extracted_at_;
};

}  // namespace

Status AdaptPoliceCsv(const std::vector<std::string>& files, const AdapterOptions& options,
                      RowSink& sink) {
  return RecordCsvAdapter(kPolice, options, sink).Run(files);
}

Status AdaptYjsCsv(const std::vector<std::string>& files, const AdapterOptions& options,
                   RowSink& sink) {
  return RecordCsvAdapter(kYjs, options, sink).Run(files);
}

}  // namespace careledger::feed
