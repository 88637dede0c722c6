#include "feed.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace careledger {

namespace {
constexpr std::pair<std::string_view, FeedFormat> kFormats[] = {
    {"jsonl", FeedFormat::kJsonl},
    {"ssda903", FeedFormat::kSsda903},
    {"police-csv", FeedFormat::kPoliceCsv},
    {"yjs-csv", FeedFormat::kYjsCsv},
};
}  // namespace

std::optional<FeedFormat> FeedFormatFromName(std::string_view name) {
  for (auto [n, f] : kFormats) {
    if (n == name) return f;
  }
  return std::nullopt;
}

std::string Reject::ToString() const {
  std::string s = file + ':' + std::to_string(line) + ": ";
  if (!field.empty()) s += "field '" + field + "': ";
  s += reason;
  if (!rule.empty()) s += " [" + rule + "]";
  return s;
}

std::string Reject::ToJson() const {
  std::string s = "{\"file\":";
  AppendJsonString(s, file);
  s += ",\"line\":" + std::to_string(line) + ",\"field\":";
  AppendJsonString(s, field);
  s += ",\"reason\":";
  AppendJsonString(s, reason);
  if (!rule.empty()) {
    s += ",\"rule\":";
    AppendJsonString(s, rule);
  }
  return s + "}";
}

Status RejectsFile::Add(const Reject& reject) {
  if (!out_.is_open()) {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) return Status::BadInput("cannot write the rejects file " + path_);
  }
  ++count_;
  out_ << reject.ToJson() << '\n';
  if (!out_) return Status::BadInput("cannot write the rejects file " + path_);
  return Status::Ok();
}

Status RejectsFile::Finish() {
  if (!out_.is_open()) {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return Status::Ok();
    out_.open(path_, std::ios::binary | std::ios::trunc);
  }
  out_.flush();
  if (!out_) return Status::BadInput("cannot write the rejects file " + path_);
  return Status::Ok();
}

Result<FeedEvent> RetractRecord(std::string_view source, std::string_view child_id,
                                std::string_view source_key, std::string_view target_event_id,
                                Instant at) {
  const std::string day = FormatDate(std::chrono::floor<std::chrono::days>(at));
  feed::EnvelopeWriter w(std::string(source_key) + "/retracted", "event.retracted", source,
                         child_id, day, FormatInstant(at));
  w.Text("target_event_id", target_event_id);
  w.Text("reason", "absent_from_complete_extract");
  FeedEvent e{std::move(w).FinishVersion(), std::string(child_id), EventType::kEventRetracted,
              "complete re-extract", 0};
  EnvelopeParser parser;
  Envelope parsed;
  CARELEDGER_RETURN_IF_ERROR(parser.Parse(e.envelope, parsed));
  return e;
}

Result<AdaptReport> AdaptFiles(FeedFormat format, const std::vector<std::string>& files,
                               const AdapterOptions& options, const EventSink& on_event,
                               const RejectSink& on_reject) {
  feed::RowSink sink(on_event, on_reject, options.on_warning);
  Status s;
  switch (format) {
    case FeedFormat::kJsonl:
      s = feed::AdaptJsonl(files, sink);
      break;
    case FeedFormat::kSsda903:
      s = feed::AdaptSsda903(files, options, sink);
      break;
    case FeedFormat::kPoliceCsv:
      s = feed::AdaptPoliceCsv(files, options, sink);
      break;
    case FeedFormat::kYjsCsv:
      s = feed::AdaptYjsCsv(files, options, sink);
      break;
  }
  if (!s.ok()) return s;
  return sink.report();
}

Result<AdaptReport> AdaptFiles(FeedFormat format, const std::vector<std::string>& files,
                               const AdapterOptions& options, std::vector<FeedEvent>& events_out,
                               std::vector<Reject>& rejects_out) {
  EventSink on_event = [&](FeedEvent&& e) {
    events_out.push_back(std::move(e));
    return Status::Ok();
  };
  RejectSink on_reject = [&](Reject&& r) { rejects_out.push_back(std::move(r)); };
  return AdaptFiles(format, files, options, on_event, on_reject);
}

namespace feed {

Result<std::optional<CsvFile>> ReadCsvFeed(const std::string& path,
                                           std::vector<BrokenRecord>& broken, RowSink& sink) {
  auto csv = ReadCsv(path, broken);
  if (!csv.ok()) return csv.status();
  if (csv->header.empty()) {
    sink.Reject(path, 1, "", "empty file: no header row");
    return std::optional<CsvFile>();
  }
  return std::optional<CsvFile>(std::move(csv.value()));
}

bool AcceptCsvHeader(const CsvFile& csv, std::span<const std::string_view> columns,
                     const std::vector<BrokenRecord>& broken, RowSink& sink) {
  bool complete = true;
  for (auto column : columns) {
    if (csv.Column(column) < 0) {
      sink.Reject(csv.path, 1, column, "required column missing from the header");
      complete = false;
    }
  }
  if (!complete) return false;
  for (const auto& b : broken) {
    sink.CountRow();
    sink.Reject(csv.path, b.line, "", b.reason);
  }
  return true;
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r") == std::string_view::npos;
}

EnvelopeWriter::EnvelopeWriter(std::string_view event_id, std::string_view type,
                               std::string_view source, std::string_view child_id,
                               std::string_view occurred_at, std::string_view recorded_at) {
  event_id_ = event_id;
  out_ = "{\"event_id\":";
  AppendJsonString(out_, event_id);
  id_end_ = out_.size();
  out_ += ",\"type\":";
  AppendJsonString(out_, type);
  out_ += ",\"schema_version\":1,\"source\":";
  AppendJsonString(out_, source);
  out_ += ",\"child_id\":";
  AppendJsonString(out_, child_id);
  out_ += ",\"occurred_at\":";
  AppendJsonString(out_, occurred_at);
  recorded_start_ = out_.size();
  out_ += ",\"recorded_at\":";
  AppendJsonString(out_, recorded_at);
  recorded_end_ = out_.size();
  out_ += ",\"data\":{";
}

void EnvelopeWriter::Key(std::string_view key) {
  if (!first_) out_ += ',';
  first_ = false;
  AppendJsonString(out_, key);
  out_ += ':';
}

void EnvelopeWriter::Text(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonString(out_, value);
}

void EnvelopeWriter::Flag(std::string_view key, bool value) {
  Key(key);
  out_ += value ? "true" : "false";
}

void EnvelopeWriter::Integer(std::string_view key, int64_t value) {
  Key(key);
  out_ += std::to_string(value);
}

std::string EnvelopeWriter::Finish() && {
  out_ += "}}";
  return std::move(out_);
}

std::string EnvelopeWriter::FinishVersion() && {
  out_ += "}}";
  // The content: type, source, child, occurred_at and data, as written.
  std::string content = out_.substr(id_end_, recorded_start_ - id_end_);
  content.append(out_, recorded_end_);
  char version[17];
  std::snprintf(version, sizeof version, "%016llx",
                static_cast<unsigned long long>(Fingerprint(content)));
  std::string out = "{\"event_id\":";
  AppendJsonString(out, event_id_ + '@' + std::string(version, 12));
  out.append(out_, id_end_, recorded_end_ - id_end_);
  out += ",\"source_key\":";
  AppendJsonString(out, event_id_);
  out.append(out_, recorded_end_);
  return out;
}

std::pair<std::string, std::string> SplitFieldMessage(std::string_view message) {
  constexpr std::string_view kPrefix = "field '";
  if (message.starts_with(kPrefix)) {
    auto end = message.find("': ", kPrefix.size());
    if (end != std::string_view::npos) {
      return {std::string(message.substr(kPrefix.size(), end - kPrefix.size())),
              std::string(message.substr(end + 3))};
    }
  }
  return {std::string(), std::string(message)};
}

void RowSink::Reject(const std::string& file, uint64_t line, std::string_view field,
                     std::string_view reason, std::string_view rule) {
  ++report_.rejected;
  on_reject_(
      careledger::Reject{file, line, std::string(field), std::string(reason), std::string(rule)});
}

void RowSink::Warn(const std::string& file, uint64_t line, std::string_view field,
                   std::string_view reason, std::string_view rule) {
  ++report_.warnings[std::string(rule)];
  if (on_warning_) {
    on_warning_(Finding{file, line, std::string(field), std::string(reason), std::string(rule)});
  }
}

Status RowSink::Row(const std::string& file, uint64_t line, std::vector<PendingEvent>& events,
                    bool check_ids) {
  auto column_of = [](const PendingEvent& e, std::string field) {
    for (const auto& [envelope_field, column] : e.columns) {
      if (envelope_field == field) return std::string(column);
    }
    return field;
  };
  parsed_.clear();
  for (const auto& e : events) {
    Status s = parser_.Parse(e.envelope, env_);
    if (!s.ok()) {
      auto [field, rule] = SplitFieldMessage(s.message());
      Reject(file, line, column_of(e, std::move(field)), rule);
      return Status::Ok();
    }
    parsed_.emplace_back(env_.type, std::move(env_.child_id));
    if (!check_ids) continue;
    uint64_t fp = Fingerprint(e.envelope);
    auto [it, inserted] = ids_.try_emplace(env_.event_id, Seen{fp, line});
    // A versioned id names its content: the same id can only differ in recorded_at (files
    // of one run extracted at different times), which ingest counts as a duplicate.
    if (!inserted && it->second.fingerprint != fp && env_.source_key.empty()) {
      Reject(file, line, column_of(e, "event_id"),
             "the same source key as line " + std::to_string(it->second.line) +
                 " with different content");
      return Status::Ok();
    }
  }
  for (size_t i = 0; i < events.size(); ++i) {
    CARELEDGER_RETURN_IF_ERROR(
        on_event_(FeedEvent{std::move(events[i].envelope), std::move(parsed_[i].second),
                            parsed_[i].first, file, line}));
    ++report_.events;
  }
  return Status::Ok();
}

Result<Instant> ExtractTime(const std::string& path, const AdapterOptions& options) {
  if (options.extracted_at) return *options.extracted_at;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::BadInput("cannot stat " + path);
  return Instant{std::chrono::seconds{st.st_mtim.tv_sec}};
}

Status AdaptJsonl(const std::vector<std::string>& files, RowSink& sink) {
  std::vector<PendingEvent> one(1);
  std::string line;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::BadInput("cannot open " + path);
    uint64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      // A UTF-8 byte order mark, as Windows editors write: not part of the first event.
      if (line_no == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      sink.CountRow();
      one.resize(1);
      one[0].envelope = std::move(line);
      // Ids in JSON Lines are the source's own; duplicates are for ingest to settle.
      CARELEDGER_RETURN_IF_ERROR(sink.Row(path, line_no, one, /*check_ids=*/false));
      line.clear();
    }
  }
  return Status::Ok();
}

}  // namespace feed
}  // namespace careledger
