// The SSDA903 return's CSV files (header, episodes, missing, OC3) into care events, taken as
// local authorities really send them: dd/mm/yyyy or ISO dates, extra columns (LA, YEAR, UPN…),
// several years' and several authorities' extracts in one file, the same episode re-sent by a
// later return, overlapping episodes. Column names and codes are the Department for
// Education's; docs/feeds.md lists every rule, whether it rejects a row or only warns.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "feed.h"

namespace careledger::feed {

namespace {

constexpr std::string_view kSource = "ssda903";

enum class FileKind { kHeader, kEpisodes, kMissing, kOc3 };

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
// URN of a placement with no Ofsted unique reference number (DfE guidance).
constexpr std::string_view kNoUrn = "XXXXXXX";
// REC X1: the episode ends but the period of care goes on (a change, not a leaving).
constexpr std::string_view kEpisodeEndsPeriodContinues = "X1";
// ETHNIC when the return's code is missing or unknown: "information not yet obtained".
constexpr std::string_view kEthnicityNotObtained = "NOBT";

// RNE, the reason for a new episode (DfE SSDA903 guidance): S started to be looked after;
// L change of legal status only; P change of placement and carer(s) only; T change of
// placement only, same carer(s); U change of legal status and of placement and carer(s);
// B change of legal status and of placement, same carer(s).
struct RneMeaning {
  std::string_view code;
  bool legal_status_changes;
  bool placement_changes;
};
constexpr RneMeaning kRne[] = {
    {"S", false, false}, {"L", true, false}, {"P", false, true},
    {"T", false, true},  {"U", true, true},  {"B", true, true},
};
constexpr RneMeaning kRneUnknown = {"", false, false};

struct OpenFile {
  CsvFile csv;
  FileKind kind;
  size_t index;  // order on the command line: a later file's copy of a record wins a tie
  Instant extracted_at;
  int la = -1, year = -1;            // the LA and YEAR columns, when the extract has them
  std::optional<int> inferred_year;  // episodes: the collection year of the latest DECOM
};

std::string_view CellAt(const CsvRow& r, int i) {
  return i >= 0 && size_t(i) < r.cells.size() ? std::string_view(r.cells[size_t(i)]) : "";
}
// A cell by column name; "" when the column or the cell is absent.
std::string_view Cell(const CsvFile& f, const CsvRow& r, std::string_view column) {
  return CellAt(r, f.Column(column));
}

// dd/mm/yyyy as in the return, or yyyy-mm-dd.
Result<Date> ReturnDate(std::string_view s) {
  auto digits = [&](size_t pos, size_t n, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y = 0, m = 0, d = 0;
  bool dmy = s.size() == 10 && s[2] == '/' && s[5] == '/' && digits(0, 2, d) && digits(3, 2, m) &&
             digits(6, 4, y);
  bool iso = s.size() == 10 && s[4] == '-' && s[7] == '-' && digits(0, 4, y) && digits(5, 2, m) &&
             digits(8, 2, d);
  if (!dmy && !iso) return Status::BadInput("not a date (dd/mm/yyyy or yyyy-mm-dd)");
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(m)},
                                  std::chrono::day{unsigned(d)}};
  if (!ymd.ok()) return Status::BadInput("no such calendar date");
  return Date{ymd};
}

// The outward code of a full postcode ("LS1 4AP", "LS14AP", "LS1   4AP") or of a district
// ("LS1"), upper-cased; empty when it does not look like one. The inward code is always 3
// characters.
std::string District(std::string_view postcode) {
  std::string s;
  for (char c : postcode) {
    if (c != ' ') s += char(std::toupper(static_cast<unsigned char>(c)));
  }
  size_t space = postcode.find(' ');
  std::string outward;
  if (space != std::string_view::npos) {
    outward = s.substr(0, space);
  } else if (s.size() >= 5) {
    outward = s.substr(0, s.size() - 3);
  } else {
    outward = s;
  }
  bool ok = outward.size() >= 2 && outward.size() <= 4 && std::isalpha(outward[0]) &&
            std::all_of(outward.begin(), outward.end(), [](char c) { return std::isalnum(c); });
  return ok ? outward : std::string();
}

// The collection year a day falls in, named by its first calendar year (1 April 2017 – 31
// March 2018 is 2017, as the YEAR column of LIIA extracts names it).
int CollectionYearOf(Date d) {
  return YearEnding::Containing(d).year - 1;
}
Date CollectionYearEnd(int year) {
  return YearEnding{year + 1}.Last();
}
std::string YearName(int year) {  // "2017/18"
  std::string two = std::to_string((year + 1) % 100);
  return std::to_string(year) + '/' + (two.size() < 2 ? "0" + two : two);
}

// Whether `code` of `list` may be used in a return of `year` (schemas/codes/ carries each
// code's first and last collection year where the DfE guidance bounds it). `why` says why not.
bool CodeValidInYear(std::string_view list, std::string_view code, int year, std::string& why) {
  if (!CodeTitle(list, code)) {
    why = "not a known " + std::string(list) + " code";
    return false;
  }
  auto bound = [&](std::string_view keyword) -> std::optional<int> {
    auto text = CodeAttribute(list, code, keyword);
    if (!text) return std::nullopt;
    return std::atoi(std::string(*text).c_str());
  };
  auto first = bound("x-first-year"), last = bound("x-last-year");
  if ((!first || year >= *first) && (!last || year <= *last)) return true;
  why = "'" + std::string(code) + "' is not a valid " + std::string(list) + " code in " +
        YearName(year) + " returns (valid " +
        (first && last ? "from " + YearName(*first) + " to " + YearName(*last)
         : first       ? "from " + YearName(*first)
                       : "until " + YearName(*last)) +
        ")";
  return false;
}

std::string EventId(std::string_view type, std::string_view child, std::string_view key) {
  std::string id(kSource);
  id += ':';
  id += type;
  id += ':';
  id += child;
  if (!key.empty()) {
    id += ':';
    id += key;
  }
  return id;
}

// The child's identity: (LA, CHILD) when the extract names authorities, else CHILD; empty
// when CHILD is.
std::string ChildKey(const OpenFile& f, const CsvRow& row) {
  std::string_view child = Cell(f.csv, row, "CHILD");
  if (child.empty()) return {};
  std::string_view la = CellAt(row, f.la);
  if (la.empty()) return std::string(child);
  return std::string(la) + '/' + std::string(child);
}

// An episodes file with its LA and YEAR columns found; nullopt for any other kind.
Result<std::optional<OpenFile>> OpenEpisodes(const std::string& path, size_t index) {
  std::vector<BrokenRecord> broken;
  auto csv = ReadCsv(path, broken);
  if (!csv.ok()) return csv.status();
  if (csv->Column("DECOM") < 0 || csv->Column("CHILD") < 0) return std::optional<OpenFile>();
  std::optional<OpenFile> f(std::in_place);
  f->csv = std::move(*csv);
  f->kind = FileKind::kEpisodes;
  f->index = index;
  f->la = f->csv.Column("LA");
  f->year = f->csv.Column("YEAR");
  return f;
}

int YearColumn(const OpenFile& f, const CsvRow& row) {  // -1 when absent or not a year
  std::string_view year = CellAt(row, f.year);
  if (year.size() != 4 ||
      !std::all_of(year.begin(), year.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::atoi(std::string(year).c_str());
}

struct Episode {
  const OpenFile* file;
  uint64_t line;
  int year;  // the collection year of the return the row came from
  std::string child;
  Date decom;
  std::optional<Date> dec;
  const RneMeaning* rne;
  std::string_view ls, place, provider, rec, reason, urn;
  std::optional<bool> out_of_area;
  bool short_break;
  // What a placement is, for telling a move from a change of episode with the same details.
  bool SamePlacement(const Episode& o) const {
    return place == o.place && provider == o.provider && urn == o.urn &&
           out_of_area == o.out_of_area;
  }
};

// Which copy of a record wins: the later return, then the later file, then the later line.
bool CopyBefore(int year_a, const OpenFile& fa, uint64_t la, int year_b, const OpenFile& fb,
                uint64_t lb) {
  return std::tuple(year_a, fa.index, la) < std::tuple(year_b, fb.index, lb);
}

class Ssda903Adapter {
 public:
  Ssda903Adapter(const AdapterOptions& options, RowSink& sink) : options_(options), sink_(sink) {}

  Status Run(const std::vector<std::string>& paths) {
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

 private:
  void Reject(const OpenFile& f, uint64_t line, std::string_view field, std::string_view reason,
              std::string_view rule) {
    sink_.Reject(f.csv.path, line, field, reason, rule);
  }
  void Warn(const OpenFile& f, uint64_t line, std::string_view field, std::string_view reason,
            std::string_view rule) {
    sink_.Warn(f.csv.path, line, field, reason, rule);
  }

  // A return without a YEAR column reports on the collection year its latest episode starts
  // in (an episode may end a day or more past that year's end; none starts after it).
  static void InferYear(OpenFile& f) {
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
  int RowYear(const OpenFile& f, const CsvRow& row) const {
    if (int year = YearColumn(f, row); year >= 0) return year;
    if (f.inferred_year) return *f.inferred_year;
    if (run_year_) return *run_year_;
    return CollectionYearOf(std::chrono::floor<std::chrono::days>(f.extracted_at) +
                            std::chrono::days{1}) -
           1;
  }

  // The child's identity: (LA, CHILD) when the extract names authorities, else CHILD. Empty,
  // and the row rejected, when CHILD is.
  std::string Child(const OpenFile& f, const CsvRow& row) {
    std::string child = ChildKey(f, row);
    if (child.empty()) Reject(f, row.line, "CHILD", "required", "child-required");
    return child;
  }

  std::optional<Date> RequiredDate(const OpenFile& f, const CsvRow& row, std::string_view column,
                                   std::string_view rule) {
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
  std::string_view OptionalCode(const OpenFile& f, const CsvRow& row, std::string_view column,
                                std::string_view list) {
    std::string_view code = Cell(f.csv, row, column);
    if (code.empty() || CodeTitle(list, code)) return code;
    Warn(f, row.line, column, "not a known " + std::string(list) + " code: left out",
         "code-unknown");
    return {};
  }

  Status Emit(const OpenFile& f, uint64_t line, std::vector<PendingEvent> events) {
    return sink_.Row(f.csv.path, line, events);
  }

  // ---- Header ------------------------------------------------------------------------------
  // A child is registered once, from the latest return that describes them; extracts that
  // repeat the header every year agree, and a disagreement is a warning.
  Status Headers(const std::vector<OpenFile>& files) {
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

  Status HeaderRow(const OpenFile& f, const CsvRow& row, const std::string& child) {
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

  // ---- Episodes ----------------------------------------------------------------------------
  std::optional<Episode> ParseEpisode(const OpenFile& f, const CsvRow& row) {
    Episode e{&f, row.line, RowYear(f, row), {}, {}, {}, &kRneUnknown, {}, {}, {}, {}, {}, {},
              {}, false};
    e.child = Child(f, row);
    if (e.child.empty()) return std::nullopt;
    auto decom = RequiredDate(f, row, "DECOM", "decom-unreadable");
    if (!decom) return std::nullopt;
    e.decom = *decom;
    std::string why;
    e.ls = Cell(f.csv, row, "LS");
    if (!CodeValidInYear("legal_status", e.ls, e.year, why)) {
      Reject(f, row.line, "LS", e.ls.empty() ? "required" : why, "legal-status-not-valid");
      return std::nullopt;
    }
    e.place = Cell(f.csv, row, "PLACE");
    if (!CodeValidInYear("placement", e.place, e.year, why)) {
      Reject(f, row.line, "PLACE", e.place.empty() ? "required" : why, "placement-not-valid");
      return std::nullopt;
    }
    e.short_break = IsShortBreakLegalStatus(e.ls);
    std::string_view rne = Cell(f.csv, row, "RNE");
    for (const auto& m : kRne) {
      if (m.code == rne) e.rne = &m;
    }
    if (e.rne == &kRneUnknown) {
      Warn(f, row.line, "RNE",
           "not a known code (S, L, P, T, U, B): the episode is read by its dates", "code-unknown");
    }
    std::string_view dec = Cell(f.csv, row, "DEC");
    e.rec = OptionalCode(f, row, "REC", "reason_for_end");
    if (!dec.empty()) {
      auto d = ReturnDate(dec);
      if (!d.ok()) {
        Reject(f, row.line, "DEC", d.status().message(), "dec-unreadable");
        return std::nullopt;
      }
      if (*d < e.decom) {
        Reject(f, row.line, "DEC", "before DECOM", "dec-before-decom");
        return std::nullopt;
      }
      e.dec = *d;
      if (*d > CollectionYearEnd(e.year)) {
        Warn(f, row.line, "DEC", "after the end of the " + YearName(e.year) + " collection year",
             "dec-after-year-end");
      }
      if (e.rec.empty()) {
        Warn(f, row.line, "REC", "empty while DEC is given: the episode ends, reason unknown (X1)",
             "rec-missing");
        e.rec = kEpisodeEndsPeriodContinues;
      }
    } else if (!e.rec.empty()) {
      Warn(f, row.line, "REC", "given on an open episode (no DEC): ignored", "rec-on-open-episode");
      e.rec = {};
    }
    if (std::string_view pl_post = Cell(f.csv, row, "PL_POST"); !pl_post.empty()) {
      std::string district = District(pl_post);
      if (options_.local_postcode_districts.empty()) {
        if (!warned_no_districts_) {
          warned_no_districts_ = true;
          Warn(f, row.line, "PL_POST",
               "no local postcode districts: out_of_area is left unknown for every placement "
               "(pass --local-postcodes or set ssda903.local_postcode_districts)",
               "out-of-area-unknown");
        }
      } else if (district.empty()) {
        Warn(f, row.line, "PL_POST", "not a postcode or postcode district: out_of_area unknown",
             "postcode-unreadable");
      } else {
        const auto& local = options_.local_postcode_districts;
        e.out_of_area = std::find(local.begin(), local.end(), district) == local.end();
      }
    }
    e.provider = OptionalCode(f, row, "PLACE_PROVIDER", "provider");
    e.reason = OptionalCode(f, row, "REASON_PLACE_CHANGE", "reason_place_change");
    e.urn = Cell(f.csv, row, "URN");
    if (e.urn == kNoUrn) e.urn = {};
    return e;
  }

  void Placement(EnvelopeWriter& w, const Episode& e) {
    w.Text("placement", e.place);
    if (!e.provider.empty()) w.Text("provider", e.provider);
    if (!e.urn.empty()) w.Text("home_id", e.urn);
    if (e.out_of_area) w.Flag("out_of_area", *e.out_of_area);
  }

  // Every episodes row of every file, per child: the same episode sent by several returns is
  // one (the latest return's copy wins), and the child's care is then read as the DfE counts
  // it: looked after on a day when an episode that is not a short break (V3/V4) covers it
  // (DECOM <= day < DEC), described by the one that began last. Events mark where that
  // changes: a period starts, its legal status or placement changes, it ends.
  Status Episodes(const std::vector<OpenFile>& files) {
    std::vector<std::string> children;
    std::unordered_map<std::string, std::vector<Episode>> by_child;
    for (const auto& f : files) {
      if (f.kind != FileKind::kEpisodes) continue;
      for (const auto& row : f.csv.rows) {
        sink_.CountRow();
        auto e = ParseEpisode(f, row);
        if (!e) continue;
        auto [it, inserted] = by_child.try_emplace(e->child);
        if (inserted) children.push_back(e->child);
        it->second.push_back(std::move(*e));
      }
    }
    bool have_headers = std::any_of(files.begin(), files.end(),
                                    [](const OpenFile& f) { return f.kind == FileKind::kHeader; });
    for (const auto& child : children) {
      auto& episodes = by_child[child];
      std::sort(episodes.begin(), episodes.end(), [](const Episode& a, const Episode& b) {
        if (a.decom != b.decom) return a.decom < b.decom;
        return CopyBefore(a.year, *a.file, a.line, b.year, *b.file, b.line);
      });
      // One episode per DECOM: the last copy of each run of equal DECOMs.
      std::vector<Episode> kept;
      for (auto& e : episodes) {
        if (!kept.empty() && kept.back().decom == e.decom) {
          const Episode& earlier = kept.back();
          Warn(*e.file, e.line, "DECOM",
               "the same episode as " + earlier.file->csv.path + ":" +
                   std::to_string(earlier.line) + " (this later copy is kept)",
               "episode-resent");
          kept.back() = e;
          continue;
        }
        kept.push_back(e);
      }
      if (have_headers && !header_children_.count(child)) {
        Warn(*kept.front().file, kept.front().line, "CHILD", "no header row for this child",
             "no-header-row");
      }
      CheckSequence(kept);
      CARELEDGER_RETURN_IF_ERROR(CareEvents(child, kept));
    }
    return Status::Ok();
  }

  // Findings that leave the figures well defined: overlaps (the child is counted once) and a
  // gap after an episode that said the care went on.
  void CheckSequence(const std::vector<Episode>& episodes) {
    std::optional<Date> reach;  // the latest DEC so far; nullopt: still open
    const Episode* reaching = nullptr;
    for (const auto& e : episodes) {
      if (reaching != nullptr) {
        if (!reach || *reach > e.decom) {
          Warn(*e.file, e.line, "DECOM",
               "overlaps the episode on " + reaching->file->csv.path + ":" +
                   std::to_string(reaching->line) +
                   " (the child is counted once, described by the episode that began last)",
               "overlapping-episodes");
        } else if (*reach < e.decom && reaching->rec == kEpisodeEndsPeriodContinues) {
          Warn(*e.file, e.line, "DECOM",
               "starts after a gap: the episode on " + reaching->file->csv.path + ":" +
                   std::to_string(reaching->line) +
                   " ended X1 (care continues); not looked after in between",
               "gap-between-episodes");
        }
      }
      if (reaching == nullptr || (reach && (!e.dec || *e.dec >= *reach))) {
        reach = e.dec;
        reaching = &e;
      }
    }
  }

  // The care events of one child's episodes (sorted by DECOM, one per DECOM).
  Status CareEvents(const std::string& child, const std::vector<Episode>& episodes) {
    std::set<Date> boundaries;
    for (const auto& e : episodes) {
      boundaries.insert(e.decom);
      if (e.dec) boundaries.insert(*e.dec);
    }
    const Episode* current = nullptr;  // describing the child's care; null when not in care
    for (Date b : boundaries) {
      // Of the episodes covering b, the one that began last, a short break only when nothing
      // else covers it.
      const Episode* next = nullptr;
      for (const auto& e : episodes) {
        if (e.decom > b) break;
        if (e.dec && *e.dec <= b) continue;
        if (next == nullptr || !e.short_break || next->short_break) next = &e;
      }
      if (next == current) continue;
      const std::string day = FormatDate(b);
      std::vector<PendingEvent> events;
      // Every event is keyed by the row that caused it (its DECOM, the episode's key in the
      // return), so a re-sent row gives the same ids: a new episode's start or change, else
      // the end of the one that was describing the care.
      const bool starts_here = next != nullptr && next->decom == b;
      const Episode& by = starts_here ? *next : *current;
      const std::string key = FormatDate(by.decom);
      if (current == nullptr) {
        auto w = Writer("care.period_started", child, key, day, by);
        w.Text("legal_status", next->ls);
        Placement(w, *next);
        events.push_back({std::move(w).FinishVersion(), Columns(true, true)});
      } else if (next == nullptr) {
        auto w = Writer("care.period_ended", child, key, day, by);
        w.Text("reason", current->rec.empty() ? kEpisodeEndsPeriodContinues : current->rec);
        events.push_back({std::move(w).FinishVersion(),
                          {{"child_id", "CHILD"}, {"data.reason", "REC"}, {"event_id", "DECOM"}}});
      } else {
        // A new episode says what changed (RNE); a return to an overlapping older one, when
        // the newer ends, changes whatever differs.
        const std::string change_key = starts_here ? key : key + "/end";
        bool ls = next->ls != current->ls || (starts_here && next->rne->legal_status_changes);
        bool place =
            !next->SamePlacement(*current) || (starts_here && next->rne->placement_changes);
        if (ls) {
          auto w = Writer("care.legal_status_changed", child, change_key, day, by);
          w.Text("legal_status", next->ls);
          events.push_back({std::move(w).FinishVersion(), Columns(true, false)});
        }
        if (place) {
          auto w = Writer("care.placement_changed", child, change_key, day, by);
          Placement(w, *next);
          if (starts_here && !next->reason.empty()) w.Text("reason", next->reason);
          events.push_back({std::move(w).FinishVersion(), Columns(false, true)});
        }
      }
      current = next;
      if (events.empty()) continue;
      CARELEDGER_RETURN_IF_ERROR(Emit(*by.file, by.line, std::move(events)));
    }
    return Status::Ok();
  }

  static EnvelopeWriter Writer(std::string_view type, const std::string& child,
                               const std::string& key, const std::string& day,
                               const Episode& from) {
    return EnvelopeWriter(EventId(type, child, key), type, kSource, child, day,
                          FormatInstant(from.file->extracted_at));
  }
  static std::vector<std::pair<std::string, std::string_view>> Columns(bool ls, bool place) {
    std::vector<std::pair<std::string, std::string_view>> c = {{"child_id", "CHILD"},
                                                               {"event_id", "DECOM"}};
    if (ls) c.emplace_back("data.legal_status", "LS");
    if (place) {
      c.emplace_back("data.placement", "PLACE");
      c.emplace_back("data.provider", "PLACE_PROVIDER");
      c.emplace_back("data.home_id", "URN");
      c.emplace_back("data.reason", "REASON_PLACE_CHANGE");
    }
    return c;
  }

  // ---- Missing and OC3 ---------------------------------------------------------------------
  Status MissingRow(const OpenFile& f, const CsvRow& row) {
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

  Status Oc3Row(const OpenFile& f, const CsvRow& row) {
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

  const AdapterOptions& options_;
  RowSink& sink_;
  std::optional<int> run_year_;
  bool warned_no_districts_ = false;
  std::set<std::string> header_children_;
  std::map<std::string, int> missing_per_day_;
};

}  // namespace

Status AdaptSsda903(const std::vector<std::string>& files, const AdapterOptions& options,
                    RowSink& sink) {
  return Ssda903Adapter(options, sink).Run(files);
}

}  // namespace careledger::feed

namespace careledger {

Result<Ssda903Census> ReadSsda903Census(const std::vector<std::string>& files) {
  using feed::CellAt;
  Ssda903Census census;
  struct Copy {
    int year;
    size_t file;
    size_t index;  // into census.episodes
  };
  std::map<std::pair<std::string, Date>, Copy> kept;
  for (size_t i = 0; i < files.size(); ++i) {
    auto open = feed::OpenEpisodes(files[i], i);
    if (!open.ok()) return open.status();
    if (!open->has_value()) continue;
    const feed::OpenFile& f = **open;
    const int decom = f.csv.Column("DECOM"), dec = f.csv.Column("DEC"), ls = f.csv.Column("LS"),
              place = f.csv.Column("PLACE");
    for (const auto& row : f.csv.rows) {
      std::string child = feed::ChildKey(f, row);
      if (child.empty()) continue;
      census.child_of_row[{files[i], row.line}] = child;
      auto start = feed::ReturnDate(CellAt(row, decom));
      if (!start.ok()) continue;
      Ssda903Episode e{child,
                       std::string(CellAt(row, ls)),
                       std::string(CellAt(row, place)),
                       files[i],
                       row.line,
                       *start,
                       std::nullopt};
      if (auto end = feed::ReturnDate(CellAt(row, dec)); end.ok()) e.dec = *end;
      // Without a YEAR every row of a file is of one return: a later line is a later copy.
      Copy copy{feed::YearColumn(f, row), i, census.episodes.size()};
      auto [it, inserted] = kept.try_emplace({child, *start}, copy);
      if (inserted) {
        census.episodes.push_back(std::move(e));
      } else if (std::tuple(it->second.year, it->second.file) <= std::tuple(copy.year, i)) {
        census.episodes[it->second.index] = std::move(e);
        it->second.year = copy.year;
        it->second.file = i;
      }
    }
  }
  return census;
}

std::map<std::string, StatutoryCare> LookedAfterOn(const Ssda903Census& census, Date d) {
  std::map<std::string, const Ssda903Episode*> latest;
  for (const auto& e : census.episodes) {
    if (e.decom > d || (e.dec && *e.dec <= d) || IsShortBreakLegalStatus(e.legal_status)) continue;
    auto [it, inserted] = latest.try_emplace(e.child, &e);
    if (!inserted && it->second->decom < e.decom) it->second = &e;
  }
  std::map<std::string, StatutoryCare> out;
  for (const auto& [child, e] : latest) out[child] = {e->placement, e->legal_status};
  return out;
}

}  // namespace careledger
