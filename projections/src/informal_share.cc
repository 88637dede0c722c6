// M4 informal resolution share, and M11 children at risk of exploitation, which is the same share
// by the exploitation risk each outcome row holds (docs/metrics.md: `informal-share` and
// `exploitation` in "The metrics", M3's row in "What ingest keeps"). Ingest keeps nothing of
// their own: they read M3's outcome rows (outcomes.cc), whose exploitation risk JudgeOffence
// judges at the offence date.
#include "aggregate.h"

namespace careledger::metrics {

namespace {

std::vector<Figure> InformalShare(const RowAccumulator& a) {
  return {Figure::Count(a.counts[0]), Figure::Count(a.counts[1]),
          Figure::Percent(a.counts[1], a.counts[0]).Columns(1, 0)};
}

}  // namespace

// M4 and M11: the same share, M11 broken down by exploitation risk.
Status Informal(Run& r) {
  auto acc = r.NewAccumulator({"offences", "informal"});
  CARELEDGER_RETURN_IF_ERROR(CountOutcomes(r, acc, &KeptRow::informal));
  r.Emit(acc, {"offences", "no_sanction_or_informal", "informal_pct"}, InformalShare);
  return Status::Ok();
}

}  // namespace careledger::metrics
