// The SSDA903 return's CSV files (header, episodes, missing, OC3) into care events. Column
// names and codes are the Department for Education's; docs/feeds.md says what each becomes.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "feed.h"

namespace careledger::feed {

namespace {

constexpr std::string_view kSource = "ssda903";

enum class FileKind { kHeader, kEpisodes, kMissing, kOc3 };

// A file is recognised by one column only it has; then all of its columns must be present.
struct FileKindSpec {
  FileKind kind;
  std::string_view signature;
  std::vector<std::string_view> columns;
};
const FileKindSpec kFileKinds[] = {
    {FileKind::kHeader, "ETHNIC", {"CHILD", "SEX", "DOB", "ETHNIC"}},
    {FileKind::kEpisodes,
     "DECOM",
     {"CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
      "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"}},
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

struct OpenFile {
  CsvFile csv;
  FileKind kind;
  Instant extracted_at;
};

// A cell by column name; "" when the row is short.
std::string_view Cell(const CsvFile& f, const CsvRow& r, std::string_view column) {
  int i = f.Column(column);
  return i >= 0 && size_t(i) < r.cells.size() ? std::string_view(r.cells[size_t(i)]) : "";
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

// The outward code of a full postcode ("LS1 4AP", "LS14AP") or of a district ("LS1"),
// upper-cased; empty when it does not look like one. The inward code is always 3 characters.
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

// The last 31 March on or before `t`: the end of the year an SSDA903 extract reports on.
Date CollectionYearEnd(Instant t) {
  using namespace std::chrono;
  year_month_day ymd{floor<days>(t)};
  year y = ymd.year();
  year_month_day end{y / March / 31};
  if (ymd < end) end = year_month_day{(y - years{1}) / March / 31};
  return sys_days{end};
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

struct Episode {
  const OpenFile* file;
  uint64_t line;
  std::string child;
  Date decom;
  std::optional<Date> dec;
  const RneMeaning* rne;
  std::string_view ls, place, provider, rec, reason, urn;
  std::optional<bool> out_of_area;
};

class Ssda903Adapter {
 public:
  Ssda903Adapter(const AdapterOptions& options, RowSink& sink) : options_(options), sink_(sink) {}

  Status Run(const std::vector<std::string>& paths) {
    std::vector<OpenFile> files;
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
                     "unknown column set: not an SSDA903 header, episodes, missing or OC3 file");
        continue;
      }
      if (!AcceptCsvHeader(*csv, spec->columns, broken, sink_)) continue;
      auto extracted = ExtractTime(path, options_);
      if (!extracted.ok()) return extracted.status();
      files.push_back({std::move(*csv), spec->kind, *extracted});
    }
    // Checked before anything is emitted, so that nothing is published half-judged.
    if (options_.local_postcode_districts.empty()) {
      for (const auto& f : files) {
        if (f.kind != FileKind::kEpisodes) continue;
        for (const auto& row : f.csv.rows) {
          if (Cell(f.csv, row, "PL_POST").empty()) continue;
          return Status::BadInput(
              f.csv.path + ':' + std::to_string(row.line) +
              ": field 'PL_POST': no local postcode districts to judge out_of_area by: pass "
              "--local-postcodes or set ssda903.local_postcode_districts");
        }
      }
    }
    // Registrations first, then what happens to the children.
    for (FileKind kind :
         {FileKind::kHeader, FileKind::kEpisodes, FileKind::kMissing, FileKind::kOc3}) {
      if (kind == FileKind::kEpisodes) {
        CARELEDGER_RETURN_IF_ERROR(Episodes(files));
        continue;
      }
      for (const auto& f : files) {
        if (f.kind != kind) continue;
        for (const auto& row : f.csv.rows) {
          sink_.CountRow();
          Status s = kind == FileKind::kHeader    ? HeaderRow(f, row)
                     : kind == FileKind::kMissing ? MissingRow(f, row)
                                                  : Oc3Row(f, row);
          CARELEDGER_RETURN_IF_ERROR(s);
        }
      }
    }
    return Status::Ok();
  }

 private:
  void Reject(const OpenFile& f, uint64_t line, std::string_view field, std::string_view reason) {
    sink_.Reject(f.csv.path, line, field, reason);
  }

  // CHILD, or a reject; empty when rejected.
  std::string_view Child(const OpenFile& f, const CsvRow& row) {
    std::string_view child = Cell(f.csv, row, "CHILD");
    if (child.empty()) Reject(f, row.line, "CHILD", "required");
    return child;
  }

  std::optional<Date> RequiredDate(const OpenFile& f, const CsvRow& row, std::string_view column) {
    std::string_view text = Cell(f.csv, row, column);
    if (text.empty()) {
      Reject(f, row.line, column, "required");
      return std::nullopt;
    }
    auto d = ReturnDate(text);
    if (!d.ok()) {
      Reject(f, row.line, column, d.status().message());
      return std::nullopt;
    }
    return *d;
  }

  Status HeaderRow(const OpenFile& f, const CsvRow& row) {
    std::string_view child = Child(f, row);
    if (child.empty()) return Status::Ok();
    std::string_view sex_code = Cell(f.csv, row, "SEX");
    std::string_view sex;
    for (auto [code, value] : kSexes) {
      if (code == sex_code) sex = value;
    }
    if (sex.empty()) {
      Reject(f, row.line, "SEX", "not a known code (1, 2, M, F, U)");
      return Status::Ok();
    }
    auto dob = RequiredDate(f, row, "DOB");
    if (!dob) return Status::Ok();
    std::string_view ethnic = Cell(f.csv, row, "ETHNIC");
    if (ethnic.empty()) {
      Reject(f, row.line, "ETHNIC", "required");
      return Status::Ok();
    }
    // The return has no registration date; the date of birth is the one date it has, and
    // registration is only a carrier for the child's attributes.
    EnvelopeWriter w(EventId("child.registered", child, ""), "child.registered", kSource, child,
                     FormatDate(*dob), FormatInstant(f.extracted_at));
    w.Text("dob", FormatDate(*dob));
    w.Text("sex", sex);
    w.Text("ethnicity", ethnic);
    return Emit(f, row.line,
                {{std::move(w).Finish(),
                  {{"child_id", "CHILD"}, {"data.ethnicity", "ETHNIC"}, {"event_id", "CHILD"}}}});
  }

  Status Emit(const OpenFile& f, uint64_t line, std::vector<PendingEvent> events) {
    return sink_.Row(f.csv.path, line, events);
  }

  std::optional<Episode> ParseEpisode(const OpenFile& f, const CsvRow& row) {
    Episode e{&f, row.line, {}, {}, {}, nullptr, {}, {}, {}, {}, {}, {}, {}};
    std::string_view child = Child(f, row);
    if (child.empty()) return std::nullopt;
    e.child = child;
    auto decom = RequiredDate(f, row, "DECOM");
    if (!decom) return std::nullopt;
    e.decom = *decom;
    std::string_view rne = Cell(f.csv, row, "RNE");
    for (const auto& m : kRne) {
      if (m.code == rne) e.rne = &m;
    }
    if (e.rne == nullptr) {
      Reject(f, row.line, "RNE", "not a known code (S, L, P, T, U, B)");
      return std::nullopt;
    }
    std::string_view dec = Cell(f.csv, row, "DEC");
    e.rec = Cell(f.csv, row, "REC");
    if (!dec.empty()) {
      auto d = ReturnDate(dec);
      if (!d.ok()) {
        Reject(f, row.line, "DEC", d.status().message());
        return std::nullopt;
      }
      if (*d < e.decom) {
        Reject(f, row.line, "DEC", "before DECOM");
        return std::nullopt;
      }
      if (e.rec.empty()) {
        Reject(f, row.line, "REC", "required when DEC is given");
        return std::nullopt;
      }
      e.dec = *d;
    } else if (!e.rec.empty()) {
      Reject(f, row.line, "DEC", "required when REC is given");
      return std::nullopt;
    }
    std::string_view pl_post = Cell(f.csv, row, "PL_POST");
    if (!pl_post.empty()) {
      std::string district = District(pl_post);
      if (district.empty()) {
        Reject(f, row.line, "PL_POST", "not a postcode or postcode district");
        return std::nullopt;
      }
      const auto& local = options_.local_postcode_districts;
      e.out_of_area = std::find(local.begin(), local.end(), district) == local.end();
    }
    e.ls = Cell(f.csv, row, "LS");
    e.place = Cell(f.csv, row, "PLACE");
    e.provider = Cell(f.csv, row, "PLACE_PROVIDER");
    e.reason = Cell(f.csv, row, "REASON_PLACE_CHANGE");
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

  // Every episodes row of every file, per child in DECOM order: a period starts, changes, and
  // ends. Children come out in the order they first appear.
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
    for (const auto& child : children) {
      auto& episodes = by_child[child];
      std::stable_sort(episodes.begin(), episodes.end(),
                       [](const Episode& a, const Episode& b) { return a.decom < b.decom; });
      enum class Before { kNothing, kContinuing, kOpen, kEnded } before = Before::kNothing;
      const Episode* previous = nullptr;
      for (const auto& e : episodes) {
        const OpenFile& f = *e.file;
        if (previous != nullptr && previous->decom == e.decom) {
          Reject(f, e.line, "DECOM",
                 "another episode of this child starts on the same day (line " +
                     std::to_string(previous->line) + ")");
          continue;
        }
        bool starts = before == Before::kNothing || before == Before::kEnded;
        if (before == Before::kEnded && e.rne->code != "S") {
          Reject(f, e.line, "RNE",
                 "a new period must start with S (the previous episode ended it)");
          continue;
        }
        if (before == Before::kContinuing && e.rne->code == "S") {
          Reject(f, e.line, "RNE", "S starts a period, but the previous episode continues it (X1)");
          continue;
        }
        if (before == Before::kOpen) {
          Reject(f, e.line, "DECOM", "the child's previous episode has no DEC");
          continue;
        }
        CARELEDGER_RETURN_IF_ERROR(EpisodeEvents(e, starts));
        previous = &e;
        before = !e.dec                                 ? Before::kOpen
                 : e.rec == kEpisodeEndsPeriodContinues ? Before::kContinuing
                                                        : Before::kEnded;
      }
    }
    return Status::Ok();
  }

  Status EpisodeEvents(const Episode& e, bool starts) {
    const OpenFile& f = *e.file;
    const std::string decom = FormatDate(e.decom);
    const std::string recorded = FormatInstant(f.extracted_at);
    std::vector<PendingEvent> events;
    auto make = [&](std::string_view type, const std::string& occurred) {
      return EnvelopeWriter(EventId(type, e.child, decom), type, kSource, e.child, occurred,
                            recorded);
    };
    // A period that starts before the extract's first episode starts, as far as the feed can
    // know, at that episode (its RNE is then whatever the change was).
    if (starts) {
      auto w = make("care.period_started", decom);
      w.Text("legal_status", e.ls);
      Placement(w, e);
      events.push_back({std::move(w).Finish(),
                        {{"child_id", "CHILD"},
                         {"data.legal_status", "LS"},
                         {"data.placement", "PLACE"},
                         {"data.provider", "PLACE_PROVIDER"},
                         {"data.home_id", "URN"},
                         {"event_id", "DECOM"}}});
    } else {
      if (e.rne->legal_status_changes) {
        auto w = make("care.legal_status_changed", decom);
        w.Text("legal_status", e.ls);
        events.push_back(
            {std::move(w).Finish(),
             {{"child_id", "CHILD"}, {"data.legal_status", "LS"}, {"event_id", "DECOM"}}});
      }
      if (e.rne->placement_changes) {
        auto w = make("care.placement_changed", decom);
        Placement(w, e);
        if (!e.reason.empty()) w.Text("reason", e.reason);
        events.push_back({std::move(w).Finish(),
                          {{"child_id", "CHILD"},
                           {"data.placement", "PLACE"},
                           {"data.provider", "PLACE_PROVIDER"},
                           {"data.home_id", "URN"},
                           {"data.reason", "REASON_PLACE_CHANGE"},
                           {"event_id", "DECOM"}}});
      }
    }
    if (e.dec && e.rec != kEpisodeEndsPeriodContinues) {
      auto w = make("care.period_ended", FormatDate(*e.dec));
      w.Text("reason", e.rec);
      events.push_back({std::move(w).Finish(),
                        {{"child_id", "CHILD"}, {"data.reason", "REC"}, {"event_id", "DECOM"}}});
    }
    return Emit(f, e.line, std::move(events));
  }

  Status MissingRow(const OpenFile& f, const CsvRow& row) {
    std::string_view child = Child(f, row);
    if (child.empty()) return Status::Ok();
    std::string_view code = Cell(f.csv, row, "MISSING");
    std::string_view category;
    for (auto [c, value] : kMissingCategories) {
      if (c == code) category = value;
    }
    if (category.empty()) {
      Reject(f, row.line, "MISSING", "not a known code (M, A)");
      return Status::Ok();
    }
    auto start = RequiredDate(f, row, "MIS_START");
    if (!start) return Status::Ok();
    std::optional<Date> end;
    if (std::string_view text = Cell(f.csv, row, "MIS_END"); !text.empty()) {
      auto d = ReturnDate(text);
      if (!d.ok()) {
        Reject(f, row.line, "MIS_END", d.status().message());
        return Status::Ok();
      }
      if (*d < *start) {
        Reject(f, row.line, "MIS_END", "before MIS_START");
        return Status::Ok();
      }
      end = *d;
    }
    // The return has no episode reference: the child and start day make one, numbered when a
    // child goes missing more than once on a day (in file order, so a re-run gives the same).
    std::string key = FormatDate(*start);
    int& seen = missing_per_day_[std::string(child) + '\n' + key];
    if (++seen > 1) key += ':' + std::to_string(seen);
    std::string episode_id = std::string(kSource) + ':' + std::string(child) + ':' + key;
    const std::string recorded = FormatInstant(f.extracted_at);
    std::vector<PendingEvent> events;
    // The return carries no risk grading: the event says so rather than guess one.
    EnvelopeWriter reported(EventId("missing.reported", child, key), "missing.reported", kSource,
                            child, FormatDate(*start), recorded);
    reported.Text("episode_id", episode_id);
    reported.Text("category", category);
    reported.Text("risk", "not_recorded");
    events.push_back(
        {std::move(reported).Finish(),
         {{"child_id", "CHILD"}, {"data.category", "MISSING"}, {"event_id", "MIS_START"}}});
    if (end) {
      EnvelopeWriter returned(EventId("missing.returned", child, key), "missing.returned", kSource,
                              child, FormatDate(*end), recorded);
      returned.Text("episode_id", episode_id);
      events.push_back(
          {std::move(returned).Finish(),
           {{"child_id", "CHILD"}, {"occurred_at", "MIS_END"}, {"event_id", "MIS_START"}}});
    }
    return Emit(f, row.line, std::move(events));
  }

  Status Oc3Row(const OpenFile& f, const CsvRow& row) {
    std::string_view child = Child(f, row);
    if (child.empty()) return Status::Ok();
    std::string_view in_touch = Cell(f.csv, row, "IN_TOUCH");
    if (in_touch.empty()) {
      Reject(f, row.line, "IN_TOUCH", "required");
      return Status::Ok();
    }
    // OC3 records the care leaver's situation around their birthday in the year; the year's
    // end is the one date the file implies.
    Date on = options_.year_end ? *options_.year_end : CollectionYearEnd(f.extracted_at);
    std::string day = FormatDate(on);
    EnvelopeWriter w(EventId("care_leaver.contact_recorded", child, day),
                     "care_leaver.contact_recorded", kSource, child, day,
                     FormatInstant(f.extracted_at));
    w.Text("in_touch", in_touch);
    if (auto a = Cell(f.csv, row, "ACTIV"); !a.empty()) w.Text("activity", a);
    if (auto a = Cell(f.csv, row, "ACCOM"); !a.empty()) w.Text("accommodation", a);
    return Emit(f, row.line,
                {{std::move(w).Finish(),
                  {{"child_id", "CHILD"},
                   {"data.in_touch", "IN_TOUCH"},
                   {"data.activity", "ACTIV"},
                   {"data.accommodation", "ACCOM"},
                   {"event_id", "CHILD"}}}});
  }

  const AdapterOptions& options_;
  RowSink& sink_;
  std::map<std::string, int> missing_per_day_;
};

}  // namespace

Status AdaptSsda903(const std::vector<std::string>& files, const AdapterOptions& options,
                    RowSink& sink) {
  return Ssda903Adapter(options, sink).Run(files);
}

}  // namespace careledger::feed
