// The dashboard's files (reporting/dashboard/), served from the bytes compiled into the binary.
#include "careledger/reporting.h"
#include "dashboard_files.h"

namespace careledger {
namespace {

struct ContentType {
  std::string_view extension;
  std::string_view type;
};
constexpr ContentType kContentTypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},  // RFC 9239
};

}  // namespace

std::optional<Asset> DashboardAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  // Only a file's own name at the top level: no query, no directories, nothing like "/../".
  if (path.size() < 2 || path[0] != '/') return std::nullopt;
  std::string_view name = path.substr(1);
  if (name.find_first_of("/\\?#") != std::string_view::npos) return std::nullopt;
  for (const DashboardFile& file : EmbeddedDashboardFiles()) {
    if (file.name != name) continue;
    for (const ContentType& t : kContentTypes) {
      if (name.ends_with(t.extension)) return Asset{t.type, file.body};
    }
  }
  return std::nullopt;
}

}  // namespace careledger
