// M13 reoffending (docs/metrics.md: `reoffending` in "The metrics", M13 in "What ingest
// keeps"). Ingest keeps a row per formal outcome, as the index offence it would be, with the
// reoffences counted from it, so that a cohort's figures are the rows of its window.
#include <algorithm>
#include <cstdio>
#include <set>

#include "aggregate.h"

namespace careledger::metrics {

// A reoffence: a formal outcome for an offence committed within 12 months after the index
// decision and decided within 18 months of it.
std::vector<KeptRow> ReoffenceRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  auto formal = FormalIn(child, Window{Date::min(), Date::max()});
  for (size_t n = 0; n < formal.size(); ++n) {
    const Offence* index = formal[n];
    char ordinal[32];
    std::snprintf(ordinal, sizeof ordinal, "%06zu:", n);
    KeptRow& row = rows.emplace_back(
        NewRow(RowKind::kReoffence, child, index->decided, ordinal + index->offence_id));
    JudgeDimensions(child, index->decided, {}, row);
    for (const Fact* f : OffenceFacts(child, *index)) row.event_ids.push_back(f->event_id);
    row.event_ids.emplace_back();
    Date offences_until = AddMonths(index->decided, 12);
    Date proven_by = AddMonths(index->decided, 18);
    for (const Offence* o : formal) {
      Date committed = OffenceDate(*o);
      if (o == index || committed <= index->decided || committed > offences_until ||
          o->decided > proven_by) {
        continue;
      }
      ++row.number;
      for (const Fact* f : OffenceFacts(child, *o)) row.event_ids.push_back(f->event_id);
    }
  }
  return rows;
}

Status Reoffending(Run& r) {
  enum { kCohort, kReoffenders, kReoffences };
  auto acc = r.NewAccumulator({"children", "reoffenders", "reoffences"});
  Date latest_follow_up = r.window.from;
  RowGrouping grouping(r.by);
  // A child's rows come in (date, ordinal) order: the first seen is its index offence.
  std::set<std::string> seen;
  CARELEDGER_RETURN_IF_ERROR(ForEachRow(r, RowKind::kReoffence, r.window, [&](const KeptRow& row) {
    if (!seen.insert(row.child_id).second) return;
    latest_follow_up = std::max(latest_follow_up, AddMonths(row.on, 18));
    auto key = grouping.Key(row);
    auto split = std::find(row.event_ids.begin(), row.event_ids.end(), std::string());
    acc.AddRow(key, kCohort, 1, row, {row.event_ids.begin(), split});
    if (row.number == 0) return;
    acc.AddRow(key, kReoffences, row.number, row,
               {split == row.event_ids.end() ? split : split + 1, row.event_ids.end()});
    acc.Add(key, kReoffenders, 1, {});
  }));
  r.Emit(acc, {"children", "reoffenders", "binary_rate_pct", "reoffences", "frequency"},
         [](const RowAccumulator& a) {
           const auto& n = a.counts;
           return std::vector<Figure>{
               Figure::Count(n[kCohort]), Figure::Count(n[kReoffenders]),
               Figure::Percent(n[kReoffenders], n[kCohort]).Columns(1, 0),
               Figure::Count(n[kReoffences]),
               Figure::Average(double(n[kReoffences]), n[kReoffenders]).Columns(3, 1)};
         });
  if (latest_follow_up > r.query.today) {
    r.table.notes.push_back("provisional: the 18-month follow-up runs to " +
                            FormatDate(latest_follow_up));
  }
  return Status::Ok();
}

}  // namespace careledger::metrics
