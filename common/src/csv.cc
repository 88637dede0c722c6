// CSV as feeds and published tables come: RFC 4180 with the quirks of real files.
#include <fstream>
#include <sstream>

#include "careledger/common.h"

namespace careledger {

int CsvFile::Column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return int(i);
  }
  return -1;
}

namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// A file's text being read, and where.
struct CsvCursor {
  std::string_view t = {};
  size_t pos = 0;
  uint64_t line = 1;
};

// A quoted cell: everything up to the closing quote, "" being one quote; `c.pos` is at the
// opening quote. Sets `problem` as the record's first problem where there is one.
void ReadQuotedCell(CsvCursor& c, std::string& cell, std::string_view& problem) {
  const std::string_view t = c.t;
  size_t& pos = c.pos;
  cell.clear();
  ++pos;
  for (;;) {
    if (pos >= t.size()) {
      problem = "unterminated quoted cell";
      break;
    }
    char ch = t[pos++];
    if (ch == '"') {
      if (pos < t.size() && t[pos] == '"') {
        cell += '"';
        ++pos;
      } else {
        break;
      }
    } else {
      if (ch == '\n') ++c.line;
      cell += ch;
    }
  }
  // Only spaces may follow the closing quote before the separator.
  while (pos < t.size() && (t[pos] == ' ' || t[pos] == '\t')) ++pos;
  if (problem.empty() && pos < t.size() && t[pos] != ',' && t[pos] != '\n' && t[pos] != '\r') {
    problem = "text after a closing quote";
  }
}

// One record from `c.pos` to the end of its line: its cells, whether every cell is blank, and
// its problem when it has one.
CsvRow ReadRecord(CsvCursor& c, std::string_view& problem, bool& blank_record) {
  const std::string_view t = c.t;
  size_t& pos = c.pos;
  CsvRow row;
  row.line = c.line;
  std::string cell;
  bool quoted = false;
  blank_record = true;
  for (;;) {
    if (pos < t.size() && t[pos] == '"' && TrimSpaces(cell).empty()) {
      quoted = true;
      ReadQuotedCell(c, cell, problem);
      blank_record = false;
    }
    while (pos < t.size() && t[pos] != ',' && t[pos] != '\n') {
      if (!quoted) cell += t[pos];
      ++pos;
    }
    std::string_view v = quoted ? std::string_view(cell) : TrimSpaces(cell);
    if (!v.empty()) blank_record = false;
    row.cells.emplace_back(v);
    cell.clear();
    quoted = false;
    if (pos >= t.size()) break;
    if (t[pos++] == '\n') {
      ++c.line;
      break;
    }
  }
  return row;
}

}  // namespace

Result<CsvFile> ReadCsv(const std::string& path, std::vector<BrokenRecord>& broken) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::BadInput("cannot open " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string text = std::move(buf).str();
  std::string_view t = text;
  if (t.starts_with("\xEF\xBB\xBF")) t.remove_prefix(3);

  CsvFile file;
  file.path = path;
  CsvCursor cursor{t};
  bool have_header = false;
  while (cursor.pos < t.size()) {
    std::string_view problem;
    bool blank_record = true;
    CsvRow row = ReadRecord(cursor, problem, blank_record);
    if (blank_record && row.cells.size() == 1) continue;
    if (!problem.empty()) {
      broken.push_back({row.line, std::string(problem)});
    } else if (!have_header) {
      file.header = std::move(row.cells);
      have_header = true;
    } else if (row.cells.size() != file.header.size()) {
      broken.push_back({row.line, std::to_string(row.cells.size()) +
                                      " cells where the header has " +
                                      std::to_string(file.header.size())});
    } else {
      file.rows.push_back(std::move(row));
    }
  }
  return file;
}

}  // namespace careledger
