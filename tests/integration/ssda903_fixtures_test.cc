// SSDA903 returns as local authorities really send them (the three sets of
// /work/shared/fixtures/ssda903, see their PROVENANCE.md): published with nothing but --brokers,
// ingested, and `report cla` checked on every 31 March against an ORACLE written here, apart from
// careledger. The oracle reads the CSV files itself (its own reader: BOM, CRLF, quoted cells) and
// applies the DfE rule for "looked after at 31 March" straight to the rows; it calls none of
// careledger's producers or projections. Its only shared input is the code lists of
// schemas/codes (reference data: which LS and PLACE codes are valid in which collection year).
//
// What careledger must do with a return, and so what the oracle does:
// - A child is (LA, CHILD) when the file has an LA column, else CHILD.
// - A row is rejected only when it cannot be understood: CHILD empty; DECOM empty or not a date
//   (dd/mm/yyyy or yyyy-mm-dd); LS or PLACE not a valid code in the row's collection year. The
//   row's collection year is its YEAR column when there is one, else the collection year
//   (1 April to 31 March, named by its first calendar year) holding the latest DECOM of the file.
// - The same episode sent more than once (same child, same DECOM) is one episode: the copy from
//   the latest YEAR wins, and between copies of the same YEAR (or with no YEAR) the later line.
// - Looked after on D: an episode with DECOM <= D and DEC empty or after D, LS V3/V4 (short
//   breaks) left out; each child once, under the PLACE of its open episode that began last.
//   A DEC that is not a date would leave the episode open (no fixture has one: checked below).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "test_support.h"

namespace careledger {
namespace {

namespace fs = std::filesystem;
using Day = std::chrono::sys_days;
using ::testing::HasSubstr;

// ---- The oracle's CSV reader --------------------------------------------------------------

struct CsvRecord {
  int line = 0;  // the physical line the record starts on, the header being line 1
  std::vector<std::string> cells;
};

// RFC 4180 as returns are sent: an optional UTF-8 BOM; LF, CRLF (or a lone CR) between records;
// cells in double quotes may hold commas, line breaks and "" for a quote. A blank line holds no
// record (but still counts as a line).
std::vector<CsvRecord> ParseCsv(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<CsvRecord> out;
  CsvRecord record{1, {}};
  std::string cell;
  bool in_quotes = false;
  bool any = false;  // the record has something: a character, a comma or a quote
  int line = 1;
  auto finish = [&] {
    if (any) {
      record.cells.push_back(std::move(cell));
      out.push_back(std::move(record));
    }
    record = CsvRecord{line, {}};
    cell.clear();
    any = false;
  };
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    size_t line_break = 0;  // the length of the line break starting here, if one does
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      line_break = 2;
    } else if (c == '\r' || c == '\n') {
      line_break = 1;
    }
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        i += 2;
      } else if (c == '"') {
        in_quotes = false;
        ++i;
      } else {
        if (line_break) ++line;
        const size_t n = line_break ? line_break : 1;
        cell.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    if (line_break) {
      ++line;
      finish();
      i += line_break;
      continue;
    }
    any = true;
    if (c == '"') {
      in_quotes = true;
    } else if (c == ',') {
      record.cells.push_back(std::move(cell));
      cell.clear();
    } else {
      cell += c;
    }
    ++i;
  }
  finish();
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int> ParseInt(std::string_view s) {
  s = Trim(s);
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The two date forms returns use: dd/mm/yyyy (the DfE's) and yyyy-mm-dd (LIIA's concatenated
// extracts). Anything else, or no such calendar day, is not a date.
std::optional<Day> ParseReturnDate(std::string_view s) {
  s = Trim(s);
  if (s.size() != 10) return std::nullopt;
  std::optional<int> d, m, y;
  if (s[2] == '/' && s[5] == '/') {
    d = ParseInt(s.substr(0, 2));
    m = ParseInt(s.substr(3, 2));
    y = ParseInt(s.substr(6, 4));
  } else if (s[4] == '-' && s[7] == '-') {
    y = ParseInt(s.substr(0, 4));
    m = ParseInt(s.substr(5, 2));
    d = ParseInt(s.substr(8, 2));
  }
  if (!d || !m || !y || *d < 1 || *m < 1) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year{*y}, std::chrono::month{unsigned(*m)},
                                  std::chrono::day{unsigned(*d)}};
  if (!ymd.ok()) return std::nullopt;
  return Day{ymd};
}

std::string Iso(Day day) {
  std::chrono::year_month_day ymd{day};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

Day March31(int year) {
  return Day{std::chrono::year{year} / std::chrono::March / std::chrono::day{31}};
}

// The collection year holding a day: 1 April Y to 31 March Y+1 is year Y (2017 = 2017/18).
int CollectionYear(Day day) {
  std::chrono::year_month_day ymd{day};
  return unsigned(ymd.month()) >= 4 ? int(ymd.year()) : int(ymd.year()) - 1;
}

// ---- Reference data: a code list of schemas/codes ------------------------------------------

// Each code with the collection years it is valid in ("x-first-year"/"x-last-year" on its entry,
// absent = unbounded).
class CodeList {
 public:
  static CodeList Load(const std::string& name) {
    CodeList list;
    const std::string path =
        std::string(CARELEDGER_SOURCE_DIR) + "/schemas/codes/" + name + ".json";
    try {
      auto schema = nlohmann::json::parse(test::ReadFile(path));
      for (const char* key : {"oneOf", "anyOf"}) {
        if (!schema.contains(key)) continue;
        for (const auto& entry : schema.at(key)) {
          if (!entry.contains("const")) continue;
          Years years;
          if (entry.contains("x-first-year")) years.first = entry.at("x-first-year").get<int>();
          if (entry.contains("x-last-year")) years.last = entry.at("x-last-year").get<int>();
          list.years_[entry.at("const").get<std::string>()] = years;
        }
      }
      if (schema.contains("enum")) {
        for (const auto& code : schema.at("enum")) list.years_[code.get<std::string>()] = {};
      }
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << path << ": " << e.what();
    }
    EXPECT_FALSE(list.years_.empty()) << path << " lists no codes";
    return list;
  }
  // Every non-empty code is valid in every year: for the oracle's own checks, whose figures
  // must not move when the code lists gain year ranges.
  static CodeList AnyCode() {
    CodeList list;
    list.any_ = true;
    return list;
  }

  bool ValidIn(std::string_view code, int year) const {
    if (any_) return !code.empty();
    auto it = years_.find(code);
    if (it == years_.end()) return false;
    const Years& y = it->second;
    return (!y.first || year >= *y.first) && (!y.last || year <= *y.last);
  }
  bool Lists(std::string_view code) const { return years_.find(code) != years_.end(); }

 private:
  struct Years {
    std::optional<int> first, last;
  };
  bool any_ = false;
  std::map<std::string, Years, std::less<>> years_;
};

// ---- The oracle ----------------------------------------------------------------------------

struct Episode {
  std::string child;  // LA + '/' + CHILD with an LA column, else CHILD
  Day decom;
  std::optional<Day> dec;  // nullopt: still open
  std::string legal_status, placement;
  int year = 0;  // the collection year of the copy kept
  int line = 0;
};

struct Rejection {
  int line = 0;
  std::vector<std::string> columns;  // every rule the row breaks
};

struct ReturnOracle {
  int rows = 0;
  std::vector<Rejection> rejected;
  std::vector<Episode> episodes;  // accepted, one per (child, DECOM)
  int copies_collapsed = 0;
  int unreadable_dec = 0;
  int first_year = 0, last_year = 0;  // the 31 Marches the set spans
};

std::string ChildIdentity(std::string_view la, std::string_view child, bool has_la) {
  return has_la ? std::string(la) + "/" + std::string(child) : std::string(child);
}

ReturnOracle ReadEpisodes(const std::string& path, const CodeList& legal_status,
                          const CodeList& placement) {
  ReturnOracle o;
  auto records = ParseCsv(test::ReadFile(path));
  if (records.empty()) {
    ADD_FAILURE() << path << " holds no header";
    return o;
  }
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < records[0].cells.size(); ++i) {
    column[std::string(Trim(records[0].cells[i]))] = i;
  }
  for (const char* required : {"CHILD", "DECOM", "LS", "PLACE", "DEC"}) {
    if (!column.count(required)) ADD_FAILURE() << path << " has no " << required << " column";
  }
  const bool has_la = column.count("LA") > 0;
  const bool has_year = column.count("YEAR") > 0;
  auto cell = [&](const CsvRecord& r, const char* name) -> std::string_view {
    auto it = column.find(name);
    if (it == column.end() || it->second >= r.cells.size()) return {};
    return Trim(r.cells[it->second]);
  };
  // Without a YEAR column, the file is the return of the collection year of its latest DECOM.
  std::optional<Day> latest_decom;
  for (size_t i = 1; i < records.size(); ++i) {
    if (auto d = ParseReturnDate(cell(records[i], "DECOM"))) {
      latest_decom = latest_decom ? std::max(*latest_decom, *d) : *d;
    }
  }
  const int file_year = latest_decom ? CollectionYear(*latest_decom) : 0;

  std::map<std::pair<std::string, Day>, Episode> kept;
  for (size_t i = 1; i < records.size(); ++i) {
    const CsvRecord& r = records[i];
    ++o.rows;
    int year = file_year;
    if (has_year) {
      if (auto y = ParseInt(cell(r, "YEAR"))) year = *y;
    }
    Rejection rejection{r.line, {}};
    auto decom = ParseReturnDate(cell(r, "DECOM"));
    if (cell(r, "CHILD").empty()) rejection.columns.emplace_back("CHILD");
    if (!decom) rejection.columns.emplace_back("DECOM");
    if (!legal_status.ValidIn(cell(r, "LS"), year)) rejection.columns.emplace_back("LS");
    if (!placement.ValidIn(cell(r, "PLACE"), year)) rejection.columns.emplace_back("PLACE");
    if (!rejection.columns.empty()) {
      o.rejected.push_back(std::move(rejection));
      continue;
    }
    Episode e{ChildIdentity(cell(r, "LA"), cell(r, "CHILD"), has_la),
              *decom,
              std::nullopt,
              std::string(cell(r, "LS")),
              std::string(cell(r, "PLACE")),
              year,
              r.line};
    if (auto dec_text = cell(r, "DEC"); !dec_text.empty()) {
      e.dec = ParseReturnDate(dec_text);
      if (!e.dec) ++o.unreadable_dec;  // left open, as the rule above says
    }
    std::pair<std::string, Day> key{e.child, e.decom};
    auto [it, inserted] = kept.try_emplace(std::move(key), e);
    if (!inserted) {
      ++o.copies_collapsed;
      // Lines only grow, so a copy of the same or a later YEAR is the newer one.
      if (e.year >= it->second.year) it->second = std::move(e);
    }
  }
  for (auto& [key, e] : kept) {
    const int decom_year = int(std::chrono::year_month_day{e.decom}.year());
    const int end_year = e.dec ? int(std::chrono::year_month_day{*e.dec}.year()) : decom_year;
    o.first_year = o.episodes.empty() ? decom_year : std::min(o.first_year, decom_year);
    o.last_year = std::max({o.last_year, decom_year, end_year});
    o.episodes.push_back(std::move(e));
  }
  return o;
}

// The children looked after on a day, each with the episode that places it (DfE SSDA903
// guidance: open on the day, short breaks V3/V4 left out; the open episode that began last).
std::map<std::string, const Episode*> LookedAfterOn(const ReturnOracle& o, Day day) {
  std::map<std::string, const Episode*> children;
  for (const Episode& e : o.episodes) {
    if (e.legal_status == "V3" || e.legal_status == "V4") continue;
    if (e.decom > day || (e.dec && *e.dec <= day)) continue;
    const Episode*& placed = children[e.child];
    if (!placed || e.decom > placed->decom) placed = &e;
  }
  return children;
}

struct ClaFigure {
  int64_t total = 0;
  std::map<std::string, int64_t> by_placement;
};

ClaFigure ClaOn(const ReturnOracle& o, Day day) {
  ClaFigure f;
  for (const auto& [child, e] : LookedAfterOn(o, day)) {
    ++f.total;
    ++f.by_placement[e->placement];
  }
  return f;
}

// ---- careledger as a user runs it ----------------------------------------------------------

std::optional<fs::path> FixtureSet(std::string_view name) {
  fs::path dir = (fs::path(CARELEDGER_SOURCE_DIR) / ".." / "shared" / "fixtures" / "ssda903" /
                  std::string(name))
                     .lexically_normal();
  if (!fs::is_directory(dir)) return std::nullopt;
  return dir;
}

constexpr std::string_view kNoFixtures =
    "the shared fixtures (CARELEDGER_SOURCE_DIR/../shared/fixtures/ssda903) are not here: ";

std::string Head(const std::string& text, size_t lines) {
  size_t pos = 0;
  for (size_t n = 0; n < lines && pos != std::string::npos; ++n) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  return pos == std::string::npos ? text : text.substr(0, pos) + "[...]\n";
}

// The fixture folders are read-only copies, but tests may run as root, for whom the mode bits
// are no barrier: a rejects file written beside an input would land in the shared copy. Any
// entry that appears is a failure; a *.rejects.jsonl the run left there is removed again, so
// that the shared copy stays byte-for-byte what PROVENANCE.md says.
class FixtureFolderWatch {
 public:
  explicit FixtureFolderWatch(fs::path dir) : dir_(std::move(dir)), before_(Entries()) {}

  void ExpectUnchanged() const {
    for (const std::string& name : Entries()) {
      const bool is_new = !before_.count(name);
      if (name.ends_with(".rejects.jsonl")) {
        ADD_FAILURE() << "publish wrote " << (dir_ / name)
                      << " next to its inputs: rejects go to stderr unless --rejects is given"
                      << (is_new ? "" : " (it was there before this test: a leftover)");
        std::error_code ec;
        if (is_new) fs::remove(dir_ / name, ec);
      } else if (is_new) {
        ADD_FAILURE() << "publish wrote " << (dir_ / name) << " into the fixture folder";
      }
    }
  }

 private:
  std::set<std::string> Entries() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }

  fs::path dir_;
  std::set<std::string> before_;
};

struct NamedRow {
  int line = 0;
  std::string field;  // empty when the line as a whole is named
  std::string reason;
};

std::string RegexEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// The lines of stderr naming a row of the file with this name: "PATH:LINE: field 'F': REASON"
// (or "PATH:LINE: REASON").
std::vector<NamedRow> RowsNamed(const std::string& err, std::string_view file_name) {
  const std::regex named(R"((^|[/\s]))" + RegexEscape(file_name) +
                         R"(:([0-9]+): (field '([^']*)': )?(.*)$)");
  std::vector<NamedRow> rows;
  for (const std::string& line : test::Lines(err)) {
    std::smatch m;
    if (std::regex_search(line, m, named)) {
      rows.push_back({std::stoi(m[2].str()), m[4].str(), m[5].str()});
    }
  }
  return rows;
}

// Every row the oracle rejects is named on stderr with one of the columns it breaks and a reason
// (one failure listing the rows that are not).
void ExpectRejectionsNamed(const ReturnOracle& oracle, const std::string& err,
                           std::string_view file_name) {
  auto named = RowsNamed(err, file_name);
  std::vector<std::string> missing;
  for (const Rejection& r : oracle.rejected) {
    const bool found = std::any_of(named.begin(), named.end(), [&](const NamedRow& n) {
      return n.line == r.line && !n.reason.empty() &&
             std::find(r.columns.begin(), r.columns.end(), n.field) != r.columns.end();
    });
    if (!found) {
      missing.push_back(std::string(file_name) + ':' + std::to_string(r.line) + " (" +
                        ::testing::PrintToString(r.columns) + ")");
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 20; ++i) list += "  " + missing[i] + '\n';
    ADD_FAILURE() << missing.size() << " of the " << oracle.rejected.size()
                  << " rows the oracle rejects are not named on stderr with such a column and a "
                     "reason, among them:\n"
                  << list << "stderr begins:\n"
                  << Head(err, 40);
  }
}

// `careledger report cla --at DAY --format json [--by placement]`: value by placement, or
// under "" without --by. nullopt (and a failure) when it did not answer.
std::optional<std::map<std::string, int64_t>> ReportCla(const std::string& store, Day day,
                                                        bool by_placement) {
  std::vector<std::string> args = {"report", "cla",    "--data",   store,
                                   "--at",   Iso(day), "--format", "json"};
  if (by_placement) args.insert(args.end(), {"--by", "placement"});
  auto r = test::Careledger(args);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "report cla --at " << Iso(day) << " exited " << r.exit_code << ": " << r.err;
    return std::nullopt;
  }
  std::map<std::string, int64_t> rows;
  try {
    auto json = nlohmann::json::parse(r.out);
    for (const auto& row : json.at("rows")) {
      std::string group = by_placement ? row.at("placement").get<std::string>() : "";
      auto [it, inserted] = rows.emplace(group, row.at("value").get<int64_t>());
      if (!inserted) ADD_FAILURE() << "placement " << group << " twice in:\n" << r.out;
    }
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "report cla --at " << Iso(day) << " is not the JSON expected (" << e.what()
                  << "):\n"
                  << r.out;
    return std::nullopt;
  }
  return rows;
}

std::string PlacementDiff(const std::map<std::string, int64_t>& careledger,
                          const std::map<std::string, int64_t>& oracle) {
  std::set<std::string> keys;
  for (const auto& [k, v] : careledger) keys.insert(k);
  for (const auto& [k, v] : oracle) keys.insert(k);
  std::ostringstream out;
  out << "  placement  careledger  oracle\n";
  auto value = [](const std::map<std::string, int64_t>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string("-") : std::to_string(it->second);
  };
  for (const std::string& k : keys) {
    std::string got = value(careledger, k), want = value(oracle, k);
    out << "  " << std::left << std::setw(9) << k << std::right << std::setw(12) << got
        << std::setw(8) << want << (got == want ? "" : "   <-- differs") << '\n';
  }
  return out.str();
}

// Publishes the set's files with nothing but --brokers, ingests them, and compares `report cla`
// with the oracle on every 31 March the set spans. Then `careledger reconcile` over the same
// files and store: its output goes to `reconciled`.
void ExpectClaMatchesTheOracle(const fs::path& set, const std::string& episodes_file,
                               const std::vector<std::string>& files,
                               test::RunResult* reconciled = nullptr) {
  const ReturnOracle oracle = ReadEpisodes(set / episodes_file, CodeList::Load("legal_status"),
                                           CodeList::Load("placement"));
  ASSERT_FALSE(oracle.episodes.empty()) << "the oracle accepted no episode of " << set;

  test::TempDir dir;
  test::BrokerProcess broker(3);
  ASSERT_FALSE(broker.bootstrap().empty()) << "careledger broker did not start";
  FixtureFolderWatch folder(set);
  std::vector<std::string> publish = {"publish", "--brokers", broker.bootstrap(), "--format",
                                      "ssda903"};
  for (const std::string& f : files) publish.push_back(set / f);
  auto published = test::Careledger(publish);
  folder.ExpectUnchanged();
  // 1 is publish's exit when some row was rejected; anything else is a usage error or a crash.
  ASSERT_TRUE(published.exit_code == 0 || published.exit_code == 1)
      << "publish exited " << published.exit_code << ":\n"
      << Head(published.err, 40);
  ExpectRejectionsNamed(oracle, published.err, episodes_file);

  const std::string store = dir / "store";
  auto ingest =
      test::Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", store, "--until-end"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err, HasSubstr("dead letters 0")) << "publish sent what ingest refused";

  for (int year = oracle.first_year; year <= oracle.last_year; ++year) {
    const Day day = March31(year);
    const ClaFigure want = ClaOn(oracle, day);
    auto total = ReportCla(store, day, false);
    auto by_placement = ReportCla(store, day, true);
    std::cout << "[ oracle   ] " << set.filename().string() << ' ' << Iso(day) << ": " << want.total
              << " looked after, careledger "
              << (total && total->count("") ? std::to_string(total->at("")) : "?") << '\n';
    if (!total || !by_placement) continue;
    EXPECT_EQ(*total, (std::map<std::string, int64_t>{{"", want.total}}))
        << set.filename() << ": children looked after on " << Iso(day);
    if (*by_placement != want.by_placement) {
      ADD_FAILURE() << set.filename() << ": children looked after on " << Iso(day)
                    << " by placement (the oracle's total " << want.total << "):\n"
                    << PlacementDiff(*by_placement, want.by_placement);
    }
  }
  if (reconciled != nullptr) {
    std::vector<std::string> reconcile = {"reconcile", "ssda903", "--data", store};
    for (const std::string& f : files) reconcile.push_back(set / f);
    *reconciled = test::Careledger(reconcile);
  }
}

// ---- The oracle's own checks ---------------------------------------------------------------

TEST(Ssda903Oracle, CsvReaderTakesBomCrlfAndQuotedCells) {
  auto records = ParseCsv(
      "\xEF\xBB\xBF"
      "A,B,C\r\n"
      "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
      "\r\n"
      "2,\"two\nlines\",\r\n"
      "3,,\n"
      "\"\",4,5");
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].line, 1);
  EXPECT_EQ(records[0].cells, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[1].cells, (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(records[2].line, 4) << "a blank line still counts";
  EXPECT_EQ(records[2].cells, (std::vector<std::string>{"2", "two\nlines", ""}));
  EXPECT_EQ(records[3].line, 6) << "the quoted line break counts too";
  EXPECT_EQ(records[3].cells, (std::vector<std::string>{"3", "", ""}));
  EXPECT_EQ(records[4].line, 7);
  EXPECT_EQ(records[4].cells, (std::vector<std::string>{"", "4", "5"}));

  EXPECT_EQ(ParseReturnDate("29/02/2024"), Day{std::chrono::year{2024} / 2 / 29});
  EXPECT_EQ(ParseReturnDate("2018-04-01"), Day{std::chrono::year{2018} / 4 / 1});
  EXPECT_EQ(ParseReturnDate("29/02/2023"), std::nullopt);
  EXPECT_EQ(ParseReturnDate("notadate"), std::nullopt);
  EXPECT_EQ(ParseReturnDate(""), std::nullopt);
  EXPECT_EQ(CollectionYear(*ParseReturnDate("31/03/2018")), 2017);
  EXPECT_EQ(CollectionYear(*ParseReturnDate("01/04/2018")), 2018);
}

// Figures worked out apart from the oracle (by hand for the small set; awk one-liners over the
// files for the others), with every code taken as valid so that they hold whatever year ranges
// schemas/codes gains. They keep an oracle that silently counts nothing from passing.
TEST(Ssda903Oracle, HandCheckedFigures) {
  auto d2i = FixtureSet("d2i-validator-fake");
  auto sf = FixtureSet("sf-demand-regional-v1");
  auto liia = FixtureSet("liia-pipeline-tt1-2025");
  if (!d2i || !sf || !liia) GTEST_SKIP() << kNoFixtures << "a set is missing";
  const CodeList any = CodeList::AnyCode();

  // awk -F, over episodes.csv: distinct CHILD with LS not V3/V4, DECOM <= D and (DEC empty or
  // DEC > D). 2015: 74, 2016: 510, 2017: 1,764, 2018: 1,201 (DEC 01/04/2018 still open).
  auto o = ReadEpisodes(*d2i / "episodes.csv", any, any);
  EXPECT_EQ(o.rows, 5050);
  EXPECT_TRUE(o.rejected.empty());
  EXPECT_EQ(o.copies_collapsed, 0);
  EXPECT_EQ(o.unreadable_dec, 0);
  EXPECT_EQ(o.first_year, 2015);
  EXPECT_EQ(o.last_year, 2018);
  EXPECT_EQ(ClaOn(o, March31(2015)).total, 74);
  EXPECT_EQ(ClaOn(o, March31(2016)).total, 510);
  EXPECT_EQ(ClaOn(o, March31(2017)).total, 1764);
  EXPECT_EQ(ClaOn(o, March31(2018)).total, 1201);
  // sort by child and DECOM, last PLACE per child: T2 55, U5 55, A3 39 on 31/03/2018.
  auto d2i_2018 = ClaOn(o, March31(2018)).by_placement;
  EXPECT_EQ(d2i_2018["T2"], 55);
  EXPECT_EQ(d2i_2018["U5"], 55);
  EXPECT_EQ(d2i_2018["A3"], 39);
  // Child 218074 is open in T2 since 23/06/2017 (line 3092) and in K1 since 25/03/2018 (3094).
  auto children = LookedAfterOn(o, March31(2018));
  ASSERT_TRUE(children.count("218074"));
  EXPECT_EQ(children["218074"]->placement, "K1");
  EXPECT_EQ(children["218074"]->line, 3094);

  // awk keeping the last copy of each (LA, CHILD, DECOM): 0, 6, 21, 112, 535, 466, 288, 181,
  // 122, 75 on 31/03/2013..2022. Counting every copy would give 439 on 31/03/2019.
  o = ReadEpisodes(*sf / "episodes.csv", any, any);
  EXPECT_EQ(o.rows, 3737);
  EXPECT_TRUE(o.rejected.empty());
  EXPECT_EQ(o.copies_collapsed, 910);
  EXPECT_EQ(o.episodes.size(), 2827u);
  EXPECT_EQ(o.unreadable_dec, 0);
  EXPECT_EQ(o.first_year, 2013);
  EXPECT_EQ(o.last_year, 2022);
  const std::vector<int64_t> sf_totals = {0, 6, 21, 112, 535, 466, 288, 181, 122, 75};
  for (int year = 2013; year <= 2022; ++year) {
    EXPECT_EQ(ClaOn(o, March31(year)).total, sf_totals[size_t(year - 2013)]) << year;
  }
  // Southwark 296227: U4 from 13/09/2017, open in YEAR 2017 (line 4), closed 02/10/2018 in
  // YEAR 2018 (line 1462), then a V3 short break: looked after on 31/03/2018, not on 31/03/2019.
  EXPECT_EQ(LookedAfterOn(o, March31(2018)).at("Southwark/296227")->placement, "U4");
  EXPECT_FALSE(LookedAfterOn(o, March31(2019)).count("Southwark/296227"));
  // Southwark 640353: U5 closed 01/03/2019 by YEAR 2018, then P1 from that day.
  EXPECT_EQ(LookedAfterOn(o, March31(2019)).at("Southwark/640353")->placement, "P1");

  // By hand from the 23 rows: lines 2 (CHILD empty) and 3 (DECOM notadate) are rejected;
  // 31/03/2023: 14338 H5, 900323 U5. 31/03/2024: 900327 U4 (the J3 episode, before its V3
  // breaks), 185686 U4, 173118 U4, 237247 U5, 14338 H5, 900323 U5, 817282 U5, 310964 U3.
  // 31/03/2025: 186835 U5, 185686 U3, 900323 U1 (900327's open V3 break is left out).
  o = ReadEpisodes(*liia / "SSDA903_2025_episodes.csv", any, any);
  EXPECT_EQ(o.rows, 23);
  ASSERT_EQ(o.rejected.size(), 2u);
  EXPECT_EQ(o.rejected[0].line, 2);
  EXPECT_EQ(o.rejected[0].columns, std::vector<std::string>{"CHILD"});
  EXPECT_EQ(o.rejected[1].line, 3);
  EXPECT_EQ(o.rejected[1].columns, std::vector<std::string>{"DECOM"});
  EXPECT_EQ(o.unreadable_dec, 0);
  EXPECT_EQ(o.first_year, 2023);
  EXPECT_EQ(o.last_year, 2025);
  using Places = std::map<std::string, int64_t>;
  EXPECT_EQ(ClaOn(o, March31(2023)).by_placement, (Places{{"H5", 1}, {"U5", 1}}));
  EXPECT_EQ(ClaOn(o, March31(2024)).total, 8);
  EXPECT_EQ(ClaOn(o, March31(2024)).by_placement,
            (Places{{"H5", 1}, {"U3", 1}, {"U4", 3}, {"U5", 3}}));
  EXPECT_EQ(ClaOn(o, March31(2025)).by_placement, (Places{{"U1", 1}, {"U3", 1}, {"U5", 1}}));
}

// With the real code lists the oracle can only lose rows to a code out of its years, never gain
// figures, and the rows its sanity figures rest on are not all lost.
TEST(Ssda903Oracle, CodeListsOnlyRemoveRows) {
  const CodeList legal_status = CodeList::Load("legal_status");
  const CodeList placement = CodeList::Load("placement");
  for (const char* code : {"C1", "C2", "V2", "V3", "V4"}) EXPECT_TRUE(legal_status.Lists(code));
  for (const char* code : {"K2", "U1", "U4", "U5"}) EXPECT_TRUE(placement.Lists(code));
  for (auto [name, file] : {std::pair{"d2i-validator-fake", "episodes.csv"},
                            std::pair{"sf-demand-regional-v1", "episodes.csv"},
                            std::pair{"liia-pipeline-tt1-2025", "SSDA903_2025_episodes.csv"}}) {
    auto set = FixtureSet(name);
    if (!set) GTEST_SKIP() << kNoFixtures << name;
    auto real = ReadEpisodes(*set / file, legal_status, placement);
    auto all = ReadEpisodes(*set / file, CodeList::AnyCode(), CodeList::AnyCode());
    EXPECT_GE(real.rejected.size(), all.rejected.size()) << name;
    int64_t looked_after = 0;
    for (int year = all.first_year; year <= all.last_year; ++year) {
      auto r = ClaOn(real, March31(year)), a = ClaOn(all, March31(year));
      EXPECT_LE(r.total, a.total) << name << ' ' << year;
      if (real.rejected.size() == all.rejected.size()) {
        EXPECT_EQ(r.total, a.total) << name;
      }
      looked_after += r.total;
    }
    EXPECT_GT(looked_after, 0) << name << ": the oracle counts nobody";
  }
  // U1, U3, U5 with C1, C2, L2 are valid 2024/25 codes: 186835, 185686 and 900323.
  auto liia = FixtureSet("liia-pipeline-tt1-2025");
  auto o = ReadEpisodes(*liia / "SSDA903_2025_episodes.csv", legal_status, placement);
  EXPECT_EQ(ClaOn(o, March31(2025)).total, 3);
}

// ---- careledger against the oracle ---------------------------------------------------------

TEST(Ssda903Fixtures, D2iValidatorFakeClaMatchesTheOracleOnEvery31March) {
  auto set = FixtureSet("d2i-validator-fake");
  if (!set) GTEST_SKIP() << kNoFixtures << "d2i-validator-fake";
  test::RunResult reconciled;
  ExpectClaMatchesTheOracle(*set, "episodes.csv",
                            {"header.csv", "episodes.csv", "missing.csv", "oc3.csv"}, &reconciled);
  EXPECT_EQ(reconciled.exit_code, 0) << reconciled.out << reconciled.err;
  EXPECT_THAT(reconciled.out, HasSubstr("2018-03-31   1201   1201       0\n"));
  EXPECT_THAT(reconciled.err, HasSubstr("the store agrees with the files on all 4 dates"));
}

TEST(Ssda903Fixtures, SfDemandRegionalClaMatchesTheOracleOnEvery31March) {
  auto set = FixtureSet("sf-demand-regional-v1");
  if (!set) GTEST_SKIP() << kNoFixtures << "sf-demand-regional-v1";
  ExpectClaMatchesTheOracle(*set, "episodes.csv", {"header.csv", "episodes.csv"});
}

TEST(Ssda903Fixtures, LiiaTt1ClaMatchesTheOracleOnEvery31March) {
  auto set = FixtureSet("liia-pipeline-tt1-2025");
  if (!set) GTEST_SKIP() << kNoFixtures << "liia-pipeline-tt1-2025";
  test::RunResult reconciled;
  ExpectClaMatchesTheOracle(*set, "SSDA903_2025_episodes.csv",
                            {"SSDA903_2025_header.csv", "SSDA903_2025_episodes.csv",
                             "SSDA903_2025_missing.csv", "SSDA903_2025_oc3.csv"},
                            &reconciled);
  // Child 14338's only episode (line 16) is H5, retired before this 2024/25 return: the DfE
  // count of the raw rows has the child on 31 March 2023 and 2024, the store does not, and
  // reconcile says which row and rule.
  EXPECT_EQ(reconciled.exit_code, 1) << reconciled.out << reconciled.err;
  EXPECT_THAT(reconciled.out, HasSubstr("2024-03-31 14338: files H5 (V2), store not looked after\n"
                                        "    rejected: " +
                                        (*set / "SSDA903_2025_episodes.csv").string() +
                                        ":16: field 'PLACE': 'H5' is not a valid placement code "
                                        "in 2024/25 returns (valid until 2023/24) "
                                        "[placement-not-valid]\n"));
  EXPECT_THAT(reconciled.out, HasSubstr("children that differ (2):"));
}

// The episodes file alone, so that every rejection publish counts is one of its rows.
TEST(Ssda903Fixtures, LiiaTt1BadRowsAreNamedOnStderrAndNoRejectsFileIsWritten) {
  auto set = FixtureSet("liia-pipeline-tt1-2025");
  if (!set) GTEST_SKIP() << kNoFixtures << "liia-pipeline-tt1-2025";
  const std::string file = "SSDA903_2025_episodes.csv";
  const ReturnOracle oracle =
      ReadEpisodes(*set / file, CodeList::Load("legal_status"), CodeList::Load("placement"));

  test::BrokerProcess broker(1);
  ASSERT_FALSE(broker.bootstrap().empty()) << "careledger broker did not start";
  FixtureFolderWatch folder(*set);
  auto r = test::Careledger(
      {"publish", "--brokers", broker.bootstrap(), "--format", "ssda903", *set / file});
  folder.ExpectUnchanged();
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << "publish exited " << r.exit_code;

  // The header is line 1: line 2 has no CHILD, line 3 has DECOM "notadate".
  auto named = RowsNamed(r.err, file);
  auto names = [&](int line, const std::string& field) {
    return std::any_of(named.begin(), named.end(), [&](const NamedRow& n) {
      return n.line == line && n.field == field && !n.reason.empty();
    });
  };
  EXPECT_TRUE(names(2, "CHILD")) << r.err;
  EXPECT_TRUE(names(3, "DECOM")) << r.err;
  ExpectRejectionsNamed(oracle, r.err, file);
  // No other row is named, and each rejected row once.
  std::multiset<int> lines_named, lines_rejected;
  for (const NamedRow& n : named) lines_named.insert(n.line);
  for (const Rejection& rej : oracle.rejected) lines_rejected.insert(rej.line);
  EXPECT_EQ(lines_named, lines_rejected) << r.err;

  std::smatch count;
  const std::regex rejected_count(R"(\brejected ([0-9]+)\b)");
  ASSERT_TRUE(std::regex_search(r.err, count, rejected_count)) << "no 'rejected N' in:\n" << r.err;
  EXPECT_EQ(std::stoul(count[1].str()), named.size())
      << "the rejected count against the " << file << ": lines on stderr:\n"
      << r.err;
  // A child id is never printed (design.md: logs never print event data).
  for (const NamedRow& n : named) EXPECT_THAT(n.reason, ::testing::Not(HasSubstr("689661")));
}

}  // namespace
}  // namespace careledger
