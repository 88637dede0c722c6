#include <algorithm>
#include <cmath>
#include <cstdio>

#include "careledger/reporting.h"
#include "text.h"

namespace careledger {

Result<OutputFormat> OutputFormatFromName(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  return Status::BadInput("unknown format '" + std::string(name) + "' (table, csv, json)");
}

namespace {

using text::Fixed;
using text::HtmlEscape;

// One figure as text: exact for the restricted output; for published output as Protect says,
// percentages to one decimal place (halves away from zero, as statistical releases round;
// printf alone would round 62.25 to the even 62.2).
std::string Cell(const Figure& f, const RenderOptions& o, Shown shown) {
  if (f.kind == Figure::Kind::kText) return f.text;
  if (!f.value) return "";
  if (shown == Shown::kSmall) return "<" + std::to_string(o.threshold);
  if (shown == Shown::kWithheld) return "c";
  switch (f.kind) {
    case Figure::Kind::kCount:
      return std::to_string(int64_t(*f.value));
    case Figure::Kind::kPercent:
      return Fixed(o.published ? std::round(*f.value * 10.0) / 10.0 : *f.value, 1);
    case Figure::Kind::kRatio:
    case Figure::Kind::kPerThousand:  // custody is rare: 0.19 per 1,000, as the YJB shows it
      return Fixed(*f.value, 2);
    default:
      return Fixed(*f.value, 1);
  }
}

std::vector<std::vector<std::string>> Cells(const ReportTable& t, const RenderOptions& o) {
  std::vector<std::vector<Shown>> shown;
  if (o.published) shown = Protect(t, o.threshold, o.breakdowns);
  std::vector<std::vector<std::string>> out;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    std::vector<std::string> row;
    for (size_t c = 0; c < t.rows[r].values.size(); ++c) {
      row.push_back(Cell(t.rows[r].values[c], o, o.published ? shown[r][c] : Shown::kFigure));
    }
    out.push_back(std::move(row));
  }
  return out;
}

// The notes every format carries beside the figures: the metric's own (population used,
// provisional cohorts, part months) and, when published, what the markers mean.
std::vector<std::string> Notes(const ReportTable& t, const RenderOptions& o) {
  std::vector<std::string> notes = t.notes;
  if (o.published) {
    notes.push_back("published figures: counts of 1 to " + std::to_string(o.threshold - 1) +
                    " show as <" + std::to_string(o.threshold) +
                    "; c marks a figure withheld because it is derived from one or because the "
                    "totals would give one away");
  }
  return notes;
}

std::string RenderCsv(const ReportTable& t, const RenderOptions& o) {
  auto figures = Cells(t, o);
  std::string out;
  auto add_row = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ',';
      out += CsvField(cells[i]);
    }
    out += '\n';
  };
  std::vector<std::string> header = t.dimensions;
  header.insert(header.end(), t.measures.begin(), t.measures.end());
  add_row(header);
  for (size_t i = 0; i < t.rows.size(); ++i) {
    std::vector<std::string> cells = t.rows[i].groups;
    cells.insert(cells.end(), figures[i].begin(), figures[i].end());
    add_row(cells);
  }
  // After the rows, as comment lines (read with comment='#' in pandas, `#` in R's read.csv),
  // so that a reader of the header and rows alone is not thrown.
  for (const auto& note : Notes(t, o)) out += "# note: " + note + '\n';
  return out;
}

// JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

std::string RenderJson(const ReportTable& t, const RenderOptions& o) {
  auto figures = Cells(t, o);
  std::string out = "{\"metric\":";
  AppendJsonString(out, t.metric);
  for (const auto& [k, v] : t.selectors) {
    out += ',';
    AppendJsonString(out, k);
    out += ':';
    AppendJsonString(out, v);
  }
  out += ",\"rows\":[";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    out += r ? ",{" : "{";
    bool first = true;
    auto key = [&](std::string_view name) {
      if (!first) out += ',';
      first = false;
      AppendJsonString(out, name);
      out += ':';
    };
    for (size_t i = 0; i < t.dimensions.size(); ++i) {
      key(t.dimensions[i]);
      AppendJsonString(out, t.rows[r].groups[i]);
    }
    for (size_t i = 0; i < t.measures.size(); ++i) {
      key(t.measures[i]);
      const std::string& cell = figures[r][i];
      // A text figure (a status, a month, a comparator as published) is a number only when
      // it reads as one: "green" or "2025-01" must stay strings.
      // A signed change ("+2.7") is the number 2.7: every change is a number to a program.
      const bool is_text = t.rows[r].values[i].kind == Figure::Kind::kText;
      const std::string_view unsigned_cell =
          is_text && cell.starts_with('+') ? std::string_view(cell).substr(1) : cell;
      bool number =
          is_text ? IsJsonNumber(unsigned_cell) : !cell.empty() && cell != "c" && cell[0] != '<';
      if (number) {
        out += unsigned_cell;
      } else if (cell.empty()) {
        out += "null";
      } else {
        AppendJsonString(out, cell);
      }
    }
    out += '}';
  }
  out += "]";
  if (auto notes = Notes(t, o); !notes.empty()) {
    out += ",\"notes\":[";
    for (size_t i = 0; i < notes.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, notes[i]);
    }
    out += ']';
  }
  out += "}\n";
  return out;
}

// A <table> for a page that stands alone (the board pack): the selectors as its caption, the
// dimensions as row headers, the notes after it.
std::string RenderHtml(const ReportTable& t, const RenderOptions& o) {
  auto figures = Cells(t, o);
  std::string out =
      "<table class=\"figures\" data-metric=\"" + HtmlEscape(t.metric) + "\">\n<caption>";
  out += HtmlEscape(t.metric);
  for (const auto& [k, v] : t.selectors) out += " " + HtmlEscape(k) + "=" + HtmlEscape(v);
  out += "</caption>\n<thead><tr>";
  for (const auto& d : t.dimensions) out += "<th scope=\"col\">" + HtmlEscape(d) + "</th>";
  for (const auto& m : t.measures) out += "<th scope=\"col\">" + HtmlEscape(m) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    out += "<tr>";
    for (const auto& g : t.rows[r].groups) out += "<th scope=\"row\">" + HtmlEscape(g) + "</th>";
    for (const auto& cell : figures[r]) {
      out += "<td>" + HtmlEscape(cell.empty() ? "-" : cell) + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  for (const auto& note : Notes(t, o)) out += "<p class=\"note\">" + HtmlEscape(note) + "</p>\n";
  return out;
}

std::string RenderTable(const ReportTable& t, const RenderOptions& o) {
  auto figures = Cells(t, o);
  std::vector<std::string> header = t.dimensions;
  header.insert(header.end(), t.measures.begin(), t.measures.end());
  std::vector<std::vector<std::string>> cells;
  for (size_t i = 0; i < t.rows.size(); ++i) {
    std::vector<std::string> row = t.rows[i].groups;
    for (auto& f : figures[i]) row.push_back(f.empty() ? "-" : f);
    cells.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    width[i] = header[i].size();
    for (const auto& row : cells) width[i] = std::max(width[i], row[i].size());
  }
  std::string out = t.metric;
  for (const auto& [k, v] : t.selectors) out.append("  ").append(k).append("=").append(v);
  out += '\n';
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      bool numeric = i >= t.dimensions.size();
      std::string pad(width[i] - row[i].size(), ' ');
      out += i ? "  " : "";
      out += numeric ? pad + row[i] : row[i] + pad;
    }
    out += '\n';
  };
  line(header);
  std::vector<std::string> rule;
  rule.reserve(width.size());
  for (auto w : width) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : cells) line(row);
  for (const auto& note : Notes(t, o)) out += "note: " + note + '\n';
  return out;
}

}  // namespace

std::string Render(const ReportTable& table, OutputFormat format, const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kCsv:
      return RenderCsv(table, options);
    case OutputFormat::kJson:
      return RenderJson(table, options);
    case OutputFormat::kHtml:
      return RenderHtml(table, options);
    case OutputFormat::kTable:
      break;
  }
  return RenderTable(table, options);
}

ReportTable ClaReport(const std::vector<ClaRow>& rows, Date at, ClaDimension by) {
  ReportTable t;
  t.metric = "cla";
  t.selectors = {{"at", FormatDate(at)}};
  if (by == ClaDimension::kPlacement) t.dimensions = {"placement"};
  if (by == ClaDimension::kLegalStatus) t.dimensions = {"legal_status"};
  t.measures = {"value"};
  for (const auto& r : rows) {
    ReportTable::Row row;
    if (by != ClaDimension::kNone) row.groups = {r.group};
    row.values = {Figure::Count(r.children)};
    t.rows.push_back(std::move(row));
  }
  return t;
}

ReportTable PanelReport(const std::vector<PanelItem>& items, Date as_of,
                        std::optional<Instant> known_at) {
  ReportTable t;
  t.metric = "panel";
  t.selectors = {{"as_of", FormatDate(as_of)}};
  if (known_at) t.selectors.emplace_back("as_known_at", FormatInstant(*known_at));
  t.dimensions = {"child_id", "offence_id",    "offence_date",  "status",
                  "cohort",   "offence_group", "knife_related", "exploitation_risk",
                  "area",     "home_id",       "at_placement"};
  t.measures = {"days_waiting"};
  auto yes_no = [](bool b) { return std::string(b ? "yes" : "no"); };
  for (const auto& item : items) {
    ReportTable::Row row;
    row.groups = {item.child_id,
                  item.offence_id,
                  FormatDate(item.offence_date),
                  std::string(PanelStatusName(item.status)),
                  item.cohort,
                  item.offence_group,
                  yes_no(item.knife_related),
                  item.exploitation_risk,
                  item.area,
                  item.home_id,
                  yes_no(item.at_placement)};
    row.values = {Figure::Count(item.days_waiting)};
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back(
      std::to_string(items.size()) +
      " offences by children looked after and care leavers wait for a decision; this list names "
      "children and is never published");
  return t;
}

}  // namespace careledger
