// The census the reports read from SSDA903 episodes files: each episode's latest copy, and who
// was looked after on a day by the DfE's rule.
#include <map>
#include <tuple>

#include "ssda903.h"

namespace careledger {

namespace ssda903 = feed::ssda903_detail;

Result<Ssda903Census> ReadSsda903Census(const std::vector<std::string>& files) {
  using ssda903::CellAt;
  Ssda903Census census;
  struct Copy {
    int year;
    size_t file;
    size_t index;  // into census.episodes
  };
  std::map<std::pair<std::string, Date>, Copy> kept;
  for (size_t i = 0; i < files.size(); ++i) {
    auto open = ssda903::OpenEpisodes(files[i], i);
    if (!open.ok()) return open.status();
    if (!open->has_value()) continue;
    const ssda903::OpenFile& f = **open;
    const int decom = f.csv.Column("DECOM"), dec = f.csv.Column("DEC"), ls = f.csv.Column("LS"),
              place = f.csv.Column("PLACE");
    for (const auto& row : f.csv.rows) {
      std::string child = ssda903::ChildKey(f, row);
      if (child.empty()) continue;
      census.child_of_row[{files[i], row.line}] = child;
      auto start = ssda903::ReturnDate(CellAt(row, decom));
      if (!start.ok()) continue;
      Ssda903Episode e{child,
                       std::string(CellAt(row, ls)),
                       std::string(CellAt(row, place)),
                       files[i],
                       row.line,
                       *start,
                       std::nullopt};
      if (auto end = ssda903::ReturnDate(CellAt(row, dec)); end.ok()) e.dec = *end;
      // Without a YEAR every row of a file is of one return: a later line is a later copy.
      Copy copy{ssda903::YearColumn(f, row), i, census.episodes.size()};
      auto [it, inserted] = kept.try_emplace({child, *start}, copy);
      if (inserted) {
        census.episodes.push_back(std::move(e));
      } else if (std::tuple(it->second.year, it->second.file) <= std::tuple(copy.year, i)) {
        census.episodes[it->second.index] = std::move(e);
        it->second.year = copy.year;
        it->second.file = i;
      }
    }
  }
  return census;
}

std::map<std::string, StatutoryCare> LookedAfterOn(const Ssda903Census& census, Date d) {
  std::map<std::string, const Ssda903Episode*> latest;
  for (const auto& e : census.episodes) {
    if (e.decom > d || (e.dec && *e.dec <= d) || IsShortBreakLegalStatus(e.legal_status)) continue;
    auto [it, inserted] = latest.try_emplace(e.child, &e);
    if (!inserted && it->second->decom < e.decom) it->second = &e;
  }
  std::map<std::string, StatutoryCare> out;
  for (const auto& [child, e] : latest) out[child] = {e->placement, e->legal_status};
  return out;
}

}  // namespace careledger
