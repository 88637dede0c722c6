// The SSDA903 return's CSV files (header, episodes, missing, OC3) into care events, taken as
// local authorities really send them: dd/mm/yyyy or ISO dates, extra columns (LA, YEAR, UPN…),
// several years' and several authorities' extracts in one file, the same episode re-sent by a
// later return, overlapping episodes. Column names and codes are the Department for
// Education's; docs/feeds.md lists every rule, whether it rejects a row or only warns.
#include "ssda903.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace careledger::feed {

namespace ssda903_detail {

namespace {

// A file is recognised by one column only it has; then these columns must be present. Others
// (UPN, URN, HOME_POST, LA, YEAR…) are read when there.
struct FileKindSpec {
  FileKind kind;
  std::string_view signature;
  std::vector<std::string_view> columns;
};
const FileKindSpec kFileKinds[] = {
    {FileKind::kHeader, "ETHNIC", {"CHILD", "SEX", "DOB", "ETHNIC"}},
    {FileKind::kEpisodes, "DECOM", {"CHILD", "DECOM", "LS", "PLACE", "DEC"}},
    {FileKind::kMissing, "MIS_START", {"CHILD", "MISSING", "MIS_START", "MIS_END"}},
    {FileKind::kOc3, "IN_TOUCH", {"CHILD", "IN_TOUCH", "ACTIV", "ACCOM"}},
};

// SEX: 1 and 2 are what the return holds; M/F/U are accepted from local systems.
constexpr std::pair<std::string_view, std::string_view> kSexes[] = {
    {"1", "M"}, {"2", "F"}, {"M", "M"}, {"F", "F"}, {"U", "U"}};
// MISSING: M missing from placement, A away from placement without authorisation.
constexpr std::pair<std::string_view, std::string_view> kMissingCategories[] = {{"M", "missing"},
                                                                                {"A", "away"}};
// ETHNIC when the return's code is missing or unknown: "information not yet obtained".
constexpr std::string_view kEthnicityNotObtained = "NOBT";

}  // namespace

Status Ssda903Adapter::Run(const std::vector<std::string>& paths) {
  std::vector<OpenFile> files;
  files.reserve(paths.size());
  for (const auto& path : paths) {
    std::vector<BrokenRecord> broken;
    auto read = ReadCsvFeed(path, broken, sink_);
    if (!read.ok()) return read.status();
    if (!read->has_value()) continue;
    auto& csv = *read;
    const FileKindSpec* spec = nullptr;
    for (const auto& k : kFileKinds) {
      if (csv->Column(k.signature) >= 0) {
        spec = &k;
        break;
      }
    }
    if (spec == nullptr) {
      sink_.Reject(path, 1, "",
                   "unknown column set: not an SSDA903 header, episodes, missing or OC3 file",
                   "unknown-file");
      continue;
    }
    if (!AcceptCsvHeader(*csv, spec->columns, broken, sink_)) continue;
    auto extracted = ExtractTime(path, options_);
    if (!extracted.ok()) return extracted.status();
    OpenFile& f = files.emplace_back();
    f.csv = std::move(*csv);
    f.kind = spec->kind;
    f.index = files.size() - 1;
    f.extracted_at = *extracted;
    f.la = f.csv.Column("LA");
    f.year = f.csv.Column("YEAR");
    if (f.kind == FileKind::kEpisodes) InferYear(f);
  }
  for (const auto& f : files) {
    if (f.inferred_year) run_year_ = std::max(run_year_.value_or(0), *f.inferred_year);
  }
  // Registrations first, then what happens to the children.
  CARELEDGER_RETURN_IF_ERROR(Headers(files));
  CARELEDGER_RETURN_IF_ERROR(Episodes(files));
  for (FileKind kind : {FileKind::kMissing, FileKind::kOc3}) {
    for (const auto& f : files) {
      if (f.kind != kind) continue;
      for (const auto& row : f.csv.rows) {
        sink_.CountRow();
        CARELEDGER_RETURN_IF_ERROR(kind == FileKind::kMissing ? MissingRow(f, row)
                                                              : Oc3Row(f, row));
      }
    }
  }
  return Status::Ok();
}

// A return without a YEAR column reports on the collection year its latest episode starts
// in (an episode may end a day or more past that year's end; none starts after it).
void Ssda903Adapter::InferYear(OpenFile& f) {
  int decom = f.csv.Column("DECOM");
  for (const auto& row : f.csv.rows) {
    auto d = ReturnDate(CellAt(row, decom));
    if (!d.ok()) continue;
    f.inferred_year = std::max(f.inferred_year.value_or(0), CollectionYearOf(*d));
  }
}

// The collection year of the return a row belongs to: its YEAR, else the file's, else the
// run's, else the last one to have ended by the extract time (returns are made after the
// year ends).
int Ssda903Adapter::RowYear(const OpenFile& f, const CsvRow& row) const {
  if (int year = YearColumn(f, row); year >= 0) return year;
  if (f.inferred_year) return *f.inferred_year;
  if (run_year_) return *run_year_;
  return CollectionYearOf(std::chrono::floor<std::chrono::days>(f.extracted_at) +
                          std::chrono::days{1}) -
         1;
}

// The child's identity: (LA, CHILD) when the extract names authorities, else CHILD. Empty,
// and the row rejected, when CHILD is.
std::string Ssda903Adapter::Child(const OpenFile& f, const CsvRow& row) {
  std::string child = ChildKey(f, row);
  if (child.empty()) Reject(f, row.line, "CHILD", "required", "child-required");
  return child;
}

std::optional<Date> Ssda903Adapter::RequiredDate(const OpenFile& f, const CsvRow& row,
                                                 std::string_view column, std::string_view rule) {
  std::string_view text = Cell(f.csv, row, column);
  if (text.empty()) {
    Reject(f, row.line, column, "required", rule);
    return std::nullopt;
  }
  auto d = ReturnDate(text);
  if (!d.ok()) {
    Reject(f, row.line, column, d.status().message(), rule);
    return std::nullopt;
  }
  return *d;
}

// An optional code that is not in its list is dropped with a warning: the row still says
// when the child was where.
std::string_view Ssda903Adapter::OptionalCode(const OpenFile& f, const CsvRow& row,
                                              std::string_view column, std::string_view list) {
  std::string_view code = Cell(f.csv, row, column);
  if (code.empty() || CodeTitle(list, code)) return code;
  Warn(f, row.line, column, "not a known " + std::string(list) + " code: left out", "code-unknown");
  return {};
}

// ---- Header ------------------------------------------------------------------------------
// A child is registered once, from the latest return that describes them; extracts that
// repeat the header every year agree, and a disagreement is a warning.
Status Ssda903Adapter::Headers(const std::vector<OpenFile>& files) {
  struct Kept {
    const OpenFile* file;
    const CsvRow* row;
    int year;
  };
  std::vector<std::string> order;
  std::unordered_map<std::string, Kept> by_child;
  for (const auto& f : files) {
    if (f.kind != FileKind::kHeader) continue;
    for (const auto& row : f.csv.rows) {
      sink_.CountRow();
      std::string child = Child(f, row);
      if (child.empty()) continue;
      int year = RowYear(f, row);
      auto [it, inserted] = by_child.try_emplace(child, Kept{&f, &row, year});
      if (inserted) {
        order.push_back(child);
        continue;
      }
      Kept& kept = it->second;
      for (std::string_view column : {"SEX", "DOB", "ETHNIC"}) {
        if (Cell(f.csv, row, column) != Cell(kept.file->csv, *kept.row, column)) {
          Warn(f, row.line, column,
               "differs from the same child's header on " + kept.file->csv.path + ":" +
                   std::to_string(kept.row->line) + " (the later return's is kept)",
               "header-conflict");
          break;
        }
      }
      if (CopyBefore(kept.year, *kept.file, kept.row->line, year, f, row.line)) {
        kept = Kept{&f, &row, year};
      }
    }
  }
  for (const auto& child : order) {
    header_children_.insert(child);
    const Kept& k = by_child[child];
    CARELEDGER_RETURN_IF_ERROR(HeaderRow(*k.file, *k.row, child));
  }
  return Status::Ok();
}

Status Ssda903Adapter::HeaderRow(const OpenFile& f, const CsvRow& row, const std::string& child) {
  std::string_view sex_code = Cell(f.csv, row, "SEX");
  std::string_view sex;
  for (auto [code, value] : kSexes) {
    if (code == sex_code) sex = value;
  }
  if (sex.empty()) {
    Warn(f, row.line, "SEX", "not a known code (1, 2, M, F, U): recorded as U", "code-unknown");
    sex = "U";
  }
  auto dob = RequiredDate(f, row, "DOB", "dob-unreadable");
  if (!dob) return Status::Ok();
  std::string_view ethnic = Cell(f.csv, row, "ETHNIC");
  if (ethnic.empty() || !CodeTitle("ethnicity", ethnic)) {
    Warn(f, row.line, "ETHNIC",
         std::string(ethnic.empty() ? "empty" : "not a known ethnicity code") +
             ": recorded as NOBT (not yet obtained)",
         "code-unknown");
    ethnic = kEthnicityNotObtained;
  }
  // The return has no registration date; the date of birth is the one date it has, and
  // registration is only a carrier for the child's attributes.
  EnvelopeWriter w(EventId("child.registered", child, ""), "child.registered", kSource, child,
                   FormatDate(*dob), FormatInstant(f.extracted_at));
  w.Text("dob", FormatDate(*dob));
  w.Text("sex", sex);
  w.Text("ethnicity", ethnic);
  return Emit(f, row.line,
              {{std::move(w).FinishVersion(),
                {{"child_id", "CHILD"}, {"data.ethnicity", "ETHNIC"}, {"event_id", "CHILD"}}}});
}

// ---- Missing and OC3 ---------------------------------------------------------------------
Status Ssda903Adapter::MissingRow(const OpenFile& f, const CsvRow& row) {
  std::string child = Child(f, row);
  if (child.empty()) return Status::Ok();
  std::string_view code = Cell(f.csv, row, "MISSING");
  std::string_view category;
  for (auto [c, value] : kMissingCategories) {
    if (c == code) category = value;
  }
  if (category.empty()) {
    Reject(f, row.line, "MISSING", "not a known code (M, A)", "code-unknown");
    return Status::Ok();
  }
  auto start = RequiredDate(f, row, "MIS_START", "mis-start-unreadable");
  if (!start) return Status::Ok();
  std::optional<Date> end;
  if (std::string_view text = Cell(f.csv, row, "MIS_END"); !text.empty()) {
    auto d = ReturnDate(text);
    if (!d.ok()) {
      Reject(f, row.line, "MIS_END", d.status().message(), "mis-end-unreadable");
      return Status::Ok();
    }
    if (*d < *start) {
      Reject(f, row.line, "MIS_END", "before MIS_START", "mis-end-before-start");
      return Status::Ok();
    }
    end = *d;
  }
  // The return has no episode reference: the child and start day make one, numbered when a
  // child goes missing more than once on a day in one return (in file order, so a re-run
  // gives the same). A later return's row for the same day is the same episode re-sent.
  std::string key = FormatDate(*start);
  int& seen = missing_per_day_[child + '\n' + key + '\n' + std::to_string(RowYear(f, row))];
  if (++seen > 1) key += ':' + std::to_string(seen);
  std::string episode_id = std::string(kSource) + ':' + child + ':' + key;
  const std::string recorded = FormatInstant(f.extracted_at);
  std::vector<PendingEvent> events;
  // The return carries no risk grading: the event says so rather than guess one.
  EnvelopeWriter reported(EventId("missing.reported", child, key), "missing.reported", kSource,
                          child, FormatDate(*start), recorded);
  reported.Text("episode_id", episode_id);
  reported.Text("category", category);
  reported.Text("risk", "not_recorded");
  events.push_back(
      {std::move(reported).FinishVersion(),
       {{"child_id", "CHILD"}, {"data.category", "MISSING"}, {"event_id", "MIS_START"}}});
  if (end) {
    EnvelopeWriter returned(EventId("missing.returned", child, key), "missing.returned", kSource,
                            child, FormatDate(*end), recorded);
    returned.Text("episode_id", episode_id);
    events.push_back(
        {std::move(returned).FinishVersion(),
         {{"child_id", "CHILD"}, {"occurred_at", "MIS_END"}, {"event_id", "MIS_START"}}});
  }
  return Emit(f, row.line, std::move(events));
}

Status Ssda903Adapter::Oc3Row(const OpenFile& f, const CsvRow& row) {
  std::string child = Child(f, row);
  if (child.empty()) return Status::Ok();
  std::string_view in_touch = Cell(f.csv, row, "IN_TOUCH");
  if (in_touch.empty()) {
    Reject(f, row.line, "IN_TOUCH", "required", "in-touch-required");
    return Status::Ok();
  }
  // OC3 records the care leaver's situation around their birthday in the year; the year's
  // end is the one date the file implies (or the extract's day, for an in-year extract).
  Date on = options_.year_end
                ? *options_.year_end
                : std::min(CollectionYearEnd(RowYear(f, row)),
                           Date{std::chrono::floor<std::chrono::days>(f.extracted_at)});
  std::string day = FormatDate(on);
  EnvelopeWriter w(EventId("care_leaver.contact_recorded", child, day),
                   "care_leaver.contact_recorded", kSource, child, day,
                   FormatInstant(f.extracted_at));
  w.Text("in_touch", in_touch);
  if (auto a = OptionalCode(f, row, "ACTIV", "activity"); !a.empty()) w.Text("activity", a);
  if (auto a = OptionalCode(f, row, "ACCOM", "accommodation"); !a.empty()) {
    w.Text("accommodation", a);
  }
  return Emit(f, row.line,
              {{std::move(w).FinishVersion(),
                {{"child_id", "CHILD"},
                 {"data.in_touch", "IN_TOUCH"},
                 {"data.activity", "ACTIV"},
                 {"data.accommodation", "ACCOM"},
                 {"event_id", "CHILD"}}}});
}

}  // namespace ssda903_detail

Status AdaptSsda903(const std::vector<std::string>& files, const AdapterOptions& options,
                    RowSink& sink) {
  return ssda903_detail::Ssda903Adapter(options, sink).Run(files);
}

}  // namespace careledger::feed
