// M10 offence profile against England and Wales (docs/metrics.md: `offence-profile` in "The
// metrics", M3's row in "What ingest keeps"). Ingest keeps nothing of its own: it reads M3's
// outcome rows (outcomes.cc) and holds them to the national figures of schemas/reference.
#include "aggregate.h"

namespace careledger::metrics {

Status OffenceProfile(Run& r) {
  if (r.by.empty()) {
    return Status::BadInput("offence-profile is by offence_group; its row 'all' is the total");
  }
  const auto& national = NationalYouthOffences();
  if (!national.ok()) return national.status();
  auto acc = r.NewAccumulator({"offences"});
  for (const auto& [group, n] : national->by_group) acc.Row({group});
  acc.Row({"all"});
  RowGrouping grouping(r.by);
  CARELEDGER_RETURN_IF_ERROR(ForEachOutcome(r, [&](const KeptRow& row) {
    acc.AddRow(grouping.Key(row), 0, 1, row);
    acc.AddIds({"all"}, 0, 1, row.event_ids);
  }));
  auto population = r.Population10To17(PopulationYear(r.window));
  r.table.notes.push_back("England and Wales: youth offences with an outcome in " +
                          std::to_string(national->year) + ", population aged 10-17 " +
                          std::to_string(national->population_aged_10_17) + " (schemas/reference)");
  r.Emit(acc, {"offences", "rate_per_100k_10_17", "national_rate_per_100k", "ratio"},
         [&](const RowAccumulator& a) {
           // The row's group is not passed in; the national figure is looked up after.
           Figure rate = Figure::Empty(Figure::Kind::kPerHundredThousand);
           rate.numerator = a.counts[0];
           if (population) rate = Figure::Rate(a.counts[0], *population);
           return std::vector<Figure>{Figure::Count(a.counts[0]),
                                      std::move(rate).Columns(0, std::nullopt),
                                      Figure::Empty(Figure::Kind::kPerHundredThousand),
                                      Figure::Empty(Figure::Kind::kRatio)};
         });
  for (auto& row : r.table.rows) {
    // "all" against the national total; a group England and Wales do not have (an outcome
    // whose offence record never arrived is "unknown") has no comparator.
    std::optional<int64_t> n;
    if (row.groups[0] == "all") n = national->total;
    for (const auto& [group, count] : national->by_group) {
      if (group == row.groups[0]) n = count;
    }
    if (!n) continue;
    row.values[2] = Figure::Rate(*n, national->population_aged_10_17);
    row.values[2].numerator.reset();  // a national figure is public: never suppressed
    row.values[3] = Figure::Ratio(row.values[1].value, row.values[2].value).From({1, 2});
  }
  return Status::Ok();
}

}  // namespace careledger::metrics
