// An independent oracle for CLA: children's care plans are drawn at random, the events are
// written from the plans, and the expected counts are read straight off the plans (which
// legal status and placement held on day D), without going through the projection code.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "careledger/common.h"

namespace careledger::test {

struct CareChange {
  Date on;
  std::string legal_status;  // empty: unchanged
  std::string placement;     // empty: unchanged
};

struct CarePeriodPlan {
  Date start;
  std::optional<Date> end;
  std::string legal_status, placement;
  std::vector<CareChange> changes;  // strictly between start and end, on distinct days
};

struct ChildPlan {
  std::string child_id;
  std::vector<CarePeriodPlan> periods;
};

struct CareFixture {
  std::vector<ChildPlan> children;
  std::vector<std::string> lines;  // one JSON envelope per line, shuffled across children
  std::vector<std::string> event_ids;

  // Children looked after on `at` (not V3/V4), by placement ("" = all).
  std::map<std::string, int64_t> ExpectedClaByPlacement(Date at) const;
  int64_t ExpectedCla(Date at) const;
  std::string Jsonl() const;         // lines joined with '\n'
  std::string KeyedForKcat() const;  // "child_id\tjson" lines, for kcat -K '\t'
};

// Children's care between 2021-01-01 and 2025-01-01, deterministic for a seed.
CareFixture BuildCareFixture(int children, uint64_t seed, std::string id_prefix = "ev");

}  // namespace careledger::test
