#include <algorithm>

#include "careledger/reporting.h"

namespace careledger {

Result<OutputFormat> OutputFormatFromName(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  return Status::BadInput("unknown format '" + std::string(name) + "' (table, csv, json)");
}

namespace {

std::string RenderCsv(const ReportTable& t) {
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
  for (const auto& r : t.rows) {
    std::vector<std::string> cells = r.groups;
    for (auto v : r.values) cells.push_back(std::to_string(v));
    add_row(cells);
  }
  return out;
}

std::string RenderJson(const ReportTable& t) {
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
      out += std::to_string(t.rows[r].values[i]);
    }
    out += '}';
  }
  out += "]}\n";
  return out;
}

std::string RenderTable(const ReportTable& t) {
  std::vector<std::string> header = t.dimensions;
  header.insert(header.end(), t.measures.begin(), t.measures.end());
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : t.rows) {
    std::vector<std::string> row = r.groups;
    for (auto v : r.values) row.push_back(std::to_string(v));
    cells.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    width[i] = header[i].size();
    for (const auto& row : cells) width[i] = std::max(width[i], row[i].size());
  }
  std::string out = t.metric;
  for (const auto& [k, v] : t.selectors) out += "  " + k + "=" + v;
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
  for (auto w : width) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : cells) line(row);
  return out;
}

}  // namespace

std::string Render(const ReportTable& table, OutputFormat format) {
  switch (format) {
    case OutputFormat::kCsv:
      return RenderCsv(table);
    case OutputFormat::kJson:
      return RenderJson(table);
    case OutputFormat::kTable:
      break;
  }
  return RenderTable(table);
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
    row.values = {r.children};
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace careledger
