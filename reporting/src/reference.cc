// Reference tables: figures as DfE and the YJB publish them, read from their own files (never
// retyped), kept in the store and looked up as KPI comparators.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "careledger/reporting.h"
#include "text.h"

namespace careledger {

namespace {

// What published tables write where a figure is not given: c suppressed, z not applicable,
// x not available, k under half the unit, u low reliability, ":" and ".." older markers.
constexpr std::array<std::string_view, 11> kMarkers = {"c", "z",  "x", "k",  "u", "low",
                                                       ":", "..", ".", "NA", ""};
bool IsMarker(std::string_view cell) {
  return std::find(kMarkers.begin(), kMarkers.end(), cell) != kMarkers.end();
}

constexpr auto Number = text::ParseNumber;

// "With 3 or more placements during the year" → "with_3_or_more_placements_during_the_year".
std::string Slug(std::string_view text) {
  std::string out;
  bool gap = false;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      if (gap && !out.empty()) out += '_';
      out += char(std::tolower(u));
      gap = false;
    } else {
      gap = true;
    }
  }
  return out;
}

// "2025" (DfE's reporting year, ending 31 March), "202425" (EES financial year) and "2024/25"
// or "2024-25" (the YJB's) → the year ending 31 March: 2025.
std::optional<int> YearEndingOf(std::string_view period) {
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (period.size() == 4 && digits(period)) return std::stoi(std::string(period));
  std::string_view first, second;
  if (period.size() == 6 && digits(period)) {
    first = period.substr(0, 4);
    second = period.substr(4);
  } else if (period.size() == 7 && (period[4] == '/' || period[4] == '-')) {
    first = period.substr(0, 4);
    second = period.substr(5);
  }
  if (!digits(first) || !digits(second)) return std::nullopt;
  const int start = std::stoi(std::string(first));
  if ((start + 1) % 100 != std::stoi(std::string(second))) return std::nullopt;
  return start + 1;
}

std::string Sha256Of(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string Where(const CsvFile& f, uint64_t line) {
  return f.path + ":" + std::to_string(line);
}

// The explore-education-statistics layout DfE publishes in: time and geography columns, then
// filter columns (text) and measure columns (numbers or markers), one row an area, a year and a
// combination of filters. Each measure of a row is one figure, its indicator named by the
// row's filters and the measure.
constexpr std::array<std::string_view, 10> kEesKeys = {
    "time_period", "time_identifier", "geographic_level", "country_code", "country_name",
    "region_code", "region_name",     "old_la_code",      "la_name",      "new_la_code"};

Status ReadWide(const CsvFile& f, ReferenceTable& table, std::vector<std::string>& problems) {
  std::vector<size_t> filters, measures;
  for (size_t c = 0; c < f.header.size(); ++c) {
    if (std::find(kEesKeys.begin(), kEesKeys.end(), f.header[c]) != kEesKeys.end()) continue;
    bool numeric = true, any = false;
    for (const CsvRow& row : f.rows) {
      const std::string& cell = row.cells[c];
      if (Number(cell)) {
        any = true;
      } else if (!IsMarker(cell)) {
        numeric = false;
        break;
      }
    }
    (numeric && any ? measures : filters).push_back(c);
  }
  if (measures.empty()) {
    return Status::BadInput(f.path + ": no column holds figures (numbers or c/z/x markers)");
  }
  auto col = [&](std::string_view name) { return f.Column(name); };
  const int period = col("time_period"), level = col("geographic_level");
  for (const CsvRow& row : f.rows) {
    auto cell = [&](int c) -> const std::string& {
      static const std::string kNone;
      return c < 0 ? kNone : row.cells[size_t(c)];
    };
    auto year = YearEndingOf(cell(period));
    if (!year) {
      problems.push_back(Where(f, row.line) + ": time_period '" + cell(period) +
                         "' is not a year (2025, 202425)");
      continue;
    }
    ReferenceFigure base;
    base.year = *year;
    base.period = cell(period);
    const std::string& geography = cell(level);
    if (geography == "National") {
      base.level = "national";
      base.area_code = cell(col("country_code"));
      base.area_name = cell(col("country_name"));
    } else if (geography == "Regional") {
      base.level = "regional";
      base.area_code = cell(col("region_code"));
      base.area_name = cell(col("region_name"));
    } else if (geography == "Local authority") {
      base.level = "local_authority";
      base.area_code = cell(col("new_la_code"));
      base.area_name = cell(col("la_name"));
      base.la_number = cell(col("old_la_code"));
    } else {
      problems.push_back(Where(f, row.line) + ": geographic_level '" + geography +
                         "' is not National, Regional or Local authority");
      continue;
    }
    std::string indicator;
    for (size_t c : filters) {
      if (!indicator.empty()) indicator += '.';
      indicator += Slug(row.cells[c]);
    }
    for (size_t c : measures) {
      ReferenceFigure figure = base;
      figure.indicator =
          indicator.empty() ? Slug(f.header[c]) : indicator + "." + Slug(f.header[c]);
      figure.published = row.cells[c];
      figure.value = Number(figure.published);
      table.figures.push_back(std::move(figure));
    }
  }
  return Status::Ok();
}

// The long (tidy) layout local data teams publish in: one row a figure, with its area, period,
// indicator and measure (the Trafford Data Lab's "children cautioned or sentenced").
Status ReadLong(const CsvFile& f, ReferenceTable& table, std::vector<std::string>& problems) {
  const int code = f.Column("area_code"), name = f.Column("area_name"),
            type = f.Column("area_type"), period = f.Column("period"),
            indicator = f.Column("indicator"), measure = f.Column("measure"),
            value = f.Column("value");
  for (const CsvRow& row : f.rows) {
    const auto& cells = row.cells;
    auto year = YearEndingOf(cells[size_t(period)]);
    if (!year) {
      problems.push_back(Where(f, row.line) + ": period '" + cells[size_t(period)] +
                         "' is not a year (2024/25, 2025)");
      continue;
    }
    ReferenceFigure figure;
    figure.year = *year;
    figure.period = cells[size_t(period)];
    figure.area_code = cells[size_t(code)];
    figure.area_name = name < 0 ? "" : cells[size_t(name)];
    const std::string area_type = type < 0 ? "" : cells[size_t(type)];
    figure.level = area_type == "Country"  ? "national"
                   : area_type == "Region" ? "regional"
                                           : "local_authority";
    figure.indicator = Slug(cells[size_t(indicator)]);
    if (measure >= 0) figure.indicator += "." + Slug(cells[size_t(measure)]);
    figure.published = cells[size_t(value)];
    figure.value = Number(figure.published);
    if (!figure.value && !IsMarker(figure.published)) {
      problems.push_back(Where(f, row.line) + ": value '" + figure.published +
                         "' is neither a number nor a marker (c, z, x, NA)");
      continue;
    }
    table.figures.push_back(std::move(figure));
  }
  return Status::Ok();
}

// Tabs and line breaks never appear in a published cell; were one to, it would break a line.
std::string Clean(std::string_view s) {
  std::string out(s);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return out;
}

std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> out;
  for (;;) {
    auto tab = line.find('\t');
    out.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) return out;
    line.remove_prefix(tab + 1);
  }
}

constexpr std::string_view kFormatLine = "careledger-reference 1";

}  // namespace

Result<ReferenceTable> ReadReferenceTable(const std::string& path, std::string name,
                                          std::vector<std::string>& problems) {
  std::vector<BrokenRecord> broken;
  auto csv = ReadCsv(path, broken);
  if (!csv.ok()) return csv.status();
  for (const auto& b : broken) problems.push_back(Where(*csv, b.line) + ": " + b.reason);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();

  ReferenceTable table;
  if (name.empty()) {
    name = path.substr(path.find_last_of('/') + 1);
    if (name.ends_with(".csv")) name.resize(name.size() - 4);
  }
  table.name = std::move(name);
  table.file = path.substr(path.find_last_of('/') + 1);
  table.sha256 = Sha256Of(bytes.str());
  if (csv->Column("time_period") >= 0 && csv->Column("geographic_level") >= 0) {
    table.layout = "wide";
    CARELEDGER_RETURN_IF_ERROR(ReadWide(*csv, table, problems));
  } else if (csv->Column("area_code") >= 0 && csv->Column("period") >= 0 &&
             csv->Column("indicator") >= 0 && csv->Column("value") >= 0) {
    table.layout = "long";
    CARELEDGER_RETURN_IF_ERROR(ReadLong(*csv, table, problems));
  } else {
    return Status::BadInput(path +
                            ":1: not a published table careledger reads: the header needs "
                            "time_period and geographic_level (DfE's explore-education-statistics "
                            "layout) or area_code, period, indicator and value (the long layout)");
  }
  if (table.figures.empty()) return Status::BadInput(path + ": no figures in the file");
  return table;
}

std::string EncodeReferenceTable(const ReferenceTable& table) {
  std::string out(kFormatLine);
  out += '\n';
  for (const auto& [key, value] :
       {std::pair<std::string_view, const std::string&>{"file", table.file},
        {"sha256", table.sha256},
        {"imported_at", table.imported_at},
        {"layout", table.layout}}) {
    out += key;
    out += '\t';
    out += Clean(value);
    out += '\n';
  }
  out += "figures\n";
  for (const ReferenceFigure& f : table.figures) {
    for (std::string_view cell : {std::string_view(f.indicator), std::string_view(f.level),
                                  std::string_view(f.area_code), std::string_view(f.la_number),
                                  std::string_view(f.area_name), std::string_view(f.period)}) {
      out += Clean(cell);
      out += '\t';
    }
    out += std::to_string(f.year);
    out += '\t';
    out += Clean(f.published);
    out += '\n';
  }
  return out;
}

Status StoreReferenceTable(EventStore& store, ReferenceTable& table, Instant now) {
  table.imported_at = FormatInstant(now);
  return store.PutReference(table.name, EncodeReferenceTable(table));
}

Result<ReferenceTable> DecodeReferenceTable(std::string_view name, std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::Fatal("reference table " + std::string(name) + " in the store: " + why);
  };
  ReferenceTable table;
  table.name = std::string(name);
  bool header = true, first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (first) {
      if (line != kFormatLine) return bad("not a format careledger knows");
      first = false;
      continue;
    }
    if (header) {
      if (line == "figures") {
        header = false;
        continue;
      }
      auto cells = SplitTabs(line);
      if (cells.size() != 2) return bad("a header line without a tab");
      if (cells[0] == "file") table.file = cells[1];
      if (cells[0] == "sha256") table.sha256 = cells[1];
      if (cells[0] == "imported_at") table.imported_at = cells[1];
      if (cells[0] == "layout") table.layout = cells[1];
      continue;
    }
    auto cells = SplitTabs(line);
    if (cells.size() != 8) return bad("a figure without its 8 fields");
    ReferenceFigure f;
    f.indicator = cells[0];
    f.level = cells[1];
    f.area_code = cells[2];
    f.la_number = cells[3];
    f.area_name = cells[4];
    f.period = cells[5];
    auto year = Number(cells[6]);
    if (!year) return bad("a figure without a year");
    f.year = int(*year);
    f.published = cells[7];
    f.value = Number(f.published);
    table.figures.push_back(std::move(f));
  }
  if (first) return bad("empty");
  return table;
}

Result<ReferenceFigures> ReferenceFigures::Load(const EventStore& store) {
  auto stored = store.References();
  if (!stored.ok()) return stored.status();
  std::vector<ReferenceTable> tables;
  for (const auto& [name, text] : *stored) {
    auto table = DecodeReferenceTable(name, text);
    if (!table.ok()) return table.status();
    tables.push_back(std::move(*table));
  }
  return Of(std::move(tables));
}

ReferenceFigures ReferenceFigures::Of(std::vector<ReferenceTable> tables) {
  ReferenceFigures out;
  out.tables_ = std::move(tables);
  for (const ReferenceTable& table : out.tables_) {
    for (const ReferenceFigure& f : table.figures) {
      out.index_[{f.indicator, f.area_code}].push_back(&f);
      if (!f.la_number.empty()) out.index_[{f.indicator, f.la_number}].push_back(&f);
    }
  }
  for (auto& [key, figures] : out.index_) {
    std::stable_sort(figures.begin(), figures.end(),
                     [](const auto* a, const auto* b) { return a->year < b->year; });
  }
  return out;
}

const ReferenceTable* ReferenceFigures::TableOf(const ReferenceFigure* figure) const {
  for (const ReferenceTable& table : tables_) {
    // std::less: a total order even across arrays, where < is unspecified.
    const std::less<> before;
    if (!table.figures.empty() && !before(figure, &table.figures.front()) &&
        !before(&table.figures.back(), figure)) {
      return &table;
    }
  }
  return nullptr;
}

const ReferenceFigure* ReferenceFigures::Find(std::string_view indicator, std::string_view area,
                                              int year) const {
  auto it = index_.find({std::string(indicator), std::string(area)});
  if (it == index_.end()) return nullptr;
  const ReferenceFigure* found = nullptr;
  // The latest year published by `year` (a later import of the same year replaces it).
  for (const ReferenceFigure* f : it->second) {
    if (f->year <= year) found = f;
  }
  return found;
}

bool ReferenceFigures::Has(std::string_view indicator) const {
  auto it = index_.lower_bound({std::string(indicator), std::string()});
  return it != index_.end() && it->first.first == indicator;
}

}  // namespace careledger
