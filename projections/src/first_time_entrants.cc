// M6 first-time entrants (docs/metrics.md: `fte` in "The metrics", M6 in "What ingest keeps").
// Ingest keeps a row for a child whose first formal outcome came at 10-17, on its decision date,
// with the child's age then; M12 reads the same rows.
#include <numeric>

#include "aggregate.h"

namespace careledger::metrics {

const Offence* FirstFormal(const ChildView& c) {
  if (c.prior_formal_outcomes > 0) return nullptr;
  const Offence* first = nullptr;
  for (const auto& o : c.offences) {
    if (o.final && IsFormalDisposal(o.disposal) && (!first || o.decided < first->decided)) {
      first = &o;
    }
  }
  return first;
}

std::vector<KeptRow> FirstFormalRows(const ChildView& child) {
  const Offence* first = FirstFormal(child);
  if (!first) return {};
  auto age = AgeAt(child, first->decided);
  if (!IsAged10To17(age)) return {};
  std::vector<KeptRow> rows{
      NewRow(RowKind::kFirstFormal, child, first->decided, first->offence_id)};
  JudgeOffence(child, *first, first->decided, rows.back());
  rows.back().number = *age;
  return rows;
}

// The child's first formal outcome ever, when the feed knows of none before it.
Status FirstTimeEntrants(Run& r) {
  auto acc = r.NewAccumulator({"fte"});
  RowGrouping grouping(r.by);
  CARELEDGER_RETURN_IF_ERROR(
      ForEachRow(r, RowKind::kFirstFormal, r.window, [&](const KeptRow& row) {
        auto key = grouping.Key(row);
        acc.AddIds(key, 0, 1, row.event_ids);
        acc.Sample(key, 0, double(row.number));
      }));
  auto population = r.Population10To17(PopulationYear(r.window));
  r.Emit(acc, {"fte", "rate_per_100k_10_17", "average_age"}, [&](const RowAccumulator& a) {
    const auto& ages = a.samples[0];
    Figure rate = Figure::Empty(Figure::Kind::kPerHundredThousand);
    rate.numerator = a.counts[0];
    if (population) rate = Figure::Rate(a.counts[0], *population);
    return std::vector<Figure>{
        Figure::Count(a.counts[0]), std::move(rate).Columns(0, std::nullopt),
        Figure::Average(std::accumulate(ages.begin(), ages.end(), 0.0), int64_t(ages.size()))
            .Columns(std::nullopt, 0)};
  });
  return Status::Ok();
}

}  // namespace careledger::metrics
