// careledger/reporting.h — figures rendered for people and programs: aligned tables, CSV
// (header row, the --by dimensions first, then the measures) and JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"
#include "careledger/projections.h"

namespace careledger {

enum class OutputFormat { kTable, kCsv, kJson };
Result<OutputFormat> OutputFormatFromName(std::string_view name);

struct ReportTable {
  std::string metric;                                          // e.g. "cla"
  std::vector<std::pair<std::string, std::string>> selectors;  // e.g. {"at", "2025-03-31"}
  std::vector<std::string> dimensions;  // column names of the --by dimensions
  std::vector<std::string> measures;    // "value" when there is one measure
  struct Row {
    std::vector<std::string> groups;  // one per dimension
    std::vector<int64_t> values;      // one per measure
  };
  std::vector<Row> rows;
};

std::string Render(const ReportTable& table, OutputFormat format);

// M1 at a date as a report table.
ReportTable ClaReport(const std::vector<ClaRow>& rows, Date at, ClaDimension by);

}  // namespace careledger
