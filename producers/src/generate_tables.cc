// Draws from the national youth offence mix, the one table the generator reads from
// schemas/reference rather than holding itself.
#include "generate_tables.h"

namespace careledger::generate_detail {

std::string_view PickNationalOffenceGroup(Random& r) {
  const NationalOffenceProfile& national = *NationalYouthOffences();
  int64_t pick = r.Uniform(0, national.total - 1);
  for (const auto& [group, n] : national.by_group) {
    if ((pick -= n) < 0) return group;
  }
  return national.by_group.back().first;
}

}  // namespace careledger::generate_detail
