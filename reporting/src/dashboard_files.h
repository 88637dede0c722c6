// The dashboard's files as compiled in by cmake/EmbedDashboard.cmake (private to reporting/).
#pragma once

#include <span>
#include <string_view>

namespace careledger {

struct DashboardFile {
  std::string_view name;  // as in reporting/dashboard/, e.g. "dashboard.js"
  std::string_view body;
};
// Sorted by name.
std::span<const DashboardFile> EmbeddedDashboardFiles();

}  // namespace careledger
