// The dashboard's files. A placeholder page until the dashboard is built (issue 7).
#include "careledger/reporting.h"

namespace careledger {

std::optional<Asset> DashboardAsset(std::string_view path) {
  static constexpr std::string_view kIndex =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>careledger</title>"
      "</head><body><h1>careledger</h1><p>The dashboard is not built yet.</p></body></html>\n";
  if (path == "/" || path == "/index.html") return Asset{"text/html; charset=utf-8", kIndex};
  return std::nullopt;
}

}  // namespace careledger
