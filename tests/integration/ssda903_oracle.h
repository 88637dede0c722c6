// Test-only: the ORACLE of the SSDA903 fixture tests, written apart from careledger (its own
// CSV reader, the code lists of schemas/codes, the DfE rule for "looked after at 31 March"), and
// where the shared fixture sets are. What it does and why: ssda903_fixtures_test.cc's opening.
#pragma once

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

namespace careledger::ssda903_oracle {

namespace fs = std::filesystem;
using Day = std::chrono::sys_days;

// ---- The oracle's CSV reader --------------------------------------------------------------

struct CsvRecord {
  int line = 0;  // the physical line the record starts on, the header being line 1
  std::vector<std::string> cells;
};

// RFC 4180 as returns are sent: an optional UTF-8 BOM; LF, CRLF (or a lone CR) between records;
// cells in double quotes may hold commas, line breaks and "" for a quote. A blank line holds no
// record (but still counts as a line).
inline std::vector<CsvRecord> ParseCsv(std::string_view text) {
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

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline std::optional<int> ParseInt(std::string_view s) {
  s = Trim(s);
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The two date forms returns use: dd/mm/yyyy (the DfE's) and yyyy-mm-dd (LIIA's concatenated
// extracts). Anything else, or no such calendar day, is not a date.
inline std::optional<Day> ParseReturnDate(std::string_view s) {
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

inline std::string Iso(Day day) {
  std::chrono::year_month_day ymd{day};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

inline Day March31(int year) {
  return Day{std::chrono::year{year} / std::chrono::March / std::chrono::day{31}};
}

// The collection year holding a day: 1 April Y to 31 March Y+1 is year Y (2017 = 2017/18).
inline int CollectionYear(Day day) {
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

inline std::string ChildIdentity(std::string_view la, std::string_view child, bool has_la) {
  return has_la ? std::string(la) + "/" + std::string(child) : std::string(child);
}

inline ReturnOracle ReadEpisodes(const std::string& path, const CodeList& legal_status,
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
inline std::map<std::string, const Episode*> LookedAfterOn(const ReturnOracle& o, Day day) {
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

inline ClaFigure ClaOn(const ReturnOracle& o, Day day) {
  ClaFigure f;
  for (const auto& [child, e] : LookedAfterOn(o, day)) {
    ++f.total;
    ++f.by_placement[e->placement];
  }
  return f;
}
// ---- Where the fixture sets are -----------------------------------------------------------

inline std::optional<fs::path> FixtureSet(std::string_view name) {
  fs::path dir = (fs::path(CARELEDGER_SOURCE_DIR) / ".." / "shared" / "fixtures" / "ssda903" /
                  std::string(name))
                     .lexically_normal();
  if (!fs::is_directory(dir)) return std::nullopt;
  return dir;
}

inline constexpr std::string_view kNoFixtures =
    "the shared fixtures (CARELEDGER_SOURCE_DIR/../shared/fixtures/ssda903) are not here: ";

}  // namespace careledger::ssda903_oracle
