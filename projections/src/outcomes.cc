// M3 outcomes by tier (docs/metrics.md: `outcomes` in "The metrics", M3 in "What ingest keeps").
// Ingest keeps a row per offence with a final disposal, on its decision date, with every
// dimension judged at the offence date, so that a period's outcomes are one range read; M4, M10,
// M11 and M12 read the same rows (ForEachOutcome).
#include "aggregate.h"

namespace careledger::metrics {

std::vector<KeptRow> OutcomeRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  for (const auto& o : child.offences) {
    if (!o.final) continue;
    rows.push_back(NewRow(RowKind::kOutcome, child, o.decided, o.offence_id));
    JudgeOffence(child, o, OffenceDate(o), rows.back());
  }
  return rows;
}

Status CountOutcomes(Run& r, Accumulator& acc, bool KeptRow::*flagged) {
  RowGrouping grouping(r.by);
  return ForEachOutcome(r, [&](const KeptRow& row) {
    auto key = grouping.Key(row);
    acc.AddRow(key, 0, 1, row);
    if (row.*flagged) acc.AddRow(key, 1, 1, row);
  });
}

Status Outcomes(Run& r) {
  auto acc = r.NewAccumulator({"offences", "at_placement"});
  CARELEDGER_RETURN_IF_ERROR(CountOutcomes(r, acc, &KeptRow::at_placement));
  r.Emit(acc, {"offences", "at_placement"}, Counts);
  return Status::Ok();
}

}  // namespace careledger::metrics
