// Reading an SSDA903 return's cells: dates in either form, postcode districts, collection
// years, codes valid in a year's return, the ids of events and children, episodes files.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <tuple>

#include "ssda903.h"

namespace careledger::feed::ssda903_detail {

std::string_view CellAt(const CsvRow& r, int i) {
  return i >= 0 && size_t(i) < r.cells.size() ? std::string_view(r.cells[size_t(i)]) : "";
}
std::string_view Cell(const CsvFile& f, const CsvRow& r, std::string_view column) {
  return CellAt(r, f.Column(column));
}

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

int CollectionYearOf(Date d) {
  return YearEnding::Containing(d).year - 1;
}
Date CollectionYearEnd(int year) {
  return YearEnding{year + 1}.Last();
}
std::string YearName(int year) {
  std::string two = std::to_string((year + 1) % 100);
  return std::to_string(year) + '/' + (two.size() < 2 ? "0" + two : two);
}

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

std::string ChildKey(const OpenFile& f, const CsvRow& row) {
  std::string_view child = Cell(f.csv, row, "CHILD");
  if (child.empty()) return {};
  std::string_view la = CellAt(row, f.la);
  if (la.empty()) return std::string(child);
  return std::string(la) + '/' + std::string(child);
}

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

int YearColumn(const OpenFile& f, const CsvRow& row) {
  std::string_view year = CellAt(row, f.year);
  if (year.size() != 4 ||
      !std::all_of(year.begin(), year.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::atoi(std::string(year).c_str());
}

bool CopyBefore(int year_a, const OpenFile& fa, uint64_t la, int year_b, const OpenFile& fb,
                uint64_t lb) {
  return std::tuple(year_a, fa.index, la) < std::tuple(year_b, fb.index, lb);
}

}  // namespace careledger::feed::ssda903_detail
