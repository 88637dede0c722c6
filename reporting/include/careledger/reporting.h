// careledger/reporting.h — figures rendered for people and programs: aligned tables, CSV
// (header row, the --by dimensions first, then the measures) and JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"
#include "careledger/projections.h"

namespace careledger {

enum class OutputFormat { kTable, kCsv, kJson };
Result<OutputFormat> OutputFormatFromName(std::string_view name);

// Published output (spec/metrics.md "Publishing rules") hides small counts; the restricted
// output shows exact figures.
struct RenderOptions {
  bool published = false;
  int64_t threshold = 5;  // counts from 1 to threshold-1 are suppressed
};

std::string Render(const ReportTable& table, OutputFormat format,
                   const RenderOptions& options = {});

// The dashboard's files, built into the binary (so serve needs nothing installed beside it).
struct Asset {
  std::string_view content_type;
  std::string_view body;
};
// The file at a URL path without its query: "/" (also "/index.html") is the page,
// "/dashboard.js" and "/dashboard.css" its script and style; nullopt for any other path. The page
// reads GET /api/v1/metrics/{metric}?at=&period=&by=&published= every second.
std::optional<Asset> DashboardAsset(std::string_view path);

// M1 at a date as a report table.
ReportTable ClaReport(const std::vector<ClaRow>& rows, Date at, ClaDimension by);

}  // namespace careledger
