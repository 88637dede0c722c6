// The out-of-court panel's worklist (docs/metrics.md, "The panel worklist"): the offences by
// children looked after and care leavers that wait for a decision. Ingest keeps a row for each
// (kAwaitingDecision) on its offence date while it waits, and removes it when the decision
// comes; the list reads those rows, never every child, and as known at a time reads the rows as
// they stood then (what the panel was shown that day).
#include <algorithm>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

// Where an offence stands for the panel: waiting (and how), or decided. A Home Office outcome
// that is no disposal for the child (taken into consideration, offender died, penalty notice,
// cannabis warning) closes it for the panel as a disposal would.
std::optional<PanelStatus> Waiting(const Offence& o) {
  if (!o.recorded || o.final) return std::nullopt;
  bool charged = false;
  for (const Fact* f : o.outcomes) {
    if (f->data.home_office_outcome != 1) return std::nullopt;
    charged = true;
  }
  return charged ? PanelStatus::kCharged : PanelStatus::kAwaitingOutcome;
}

PanelItem ItemOf(const KeptRow& row, Date as_of) {
  auto value = [&](std::string_view dimension) {
    return row.values[*RowDimensionIndex(dimension)];
  };
  PanelItem item;
  item.child_id = row.child_id;
  item.offence_id = row.item_id;
  item.offence_date = row.on;
  item.days_waiting = std::max<int64_t>(0, (as_of - row.on).count());
  item.status = PanelStatus(row.number);
  item.cohort = value("cohort");
  item.offence_group = value("offence_group");
  item.exploitation_risk = value("exploitation_risk");
  item.area = value("area");
  item.home_id = value("home_id");
  item.knife_related = row.knife_related;
  item.at_placement = row.at_placement;
  return item;
}

}  // namespace

std::vector<KeptRow> AwaitingDecisionRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  for (const auto& o : child.offences) {
    auto status = Waiting(o);
    if (!status) continue;
    const Date on = OffenceDate(o);
    const std::string_view cohort = CohortAt(child, on);
    if (cohort != "cla" && cohort != "care_leaver") continue;
    KeptRow& row = rows.emplace_back(NewRow(RowKind::kAwaitingDecision, child, on, o.offence_id));
    JudgeOffence(child, o, on, row);
    row.number = int64_t(*status);
    row.knife_related = o.recorded->data.knife_related.value_or(false);
  }
  return rows;
}

}  // namespace careledger::metrics

namespace careledger {

std::string_view PanelStatusName(PanelStatus status) {
  return status == PanelStatus::kCharged ? "charged" : "awaiting_outcome";
}

Result<std::vector<PanelItem>> PanelWorklist(const EventStore& store, const PanelQuery& query) {
  using metrics::KeptRow;
  const Date as_of =
      query.known_at ? std::chrono::floor<std::chrono::days>(*query.known_at) : query.today;
  std::vector<PanelItem> items;
  auto add = [&](const KeptRow& row) {
    // A kept row's status is one of the two it was written with; anything else is not a row of
    // this careledger's.
    if (row.number == int64_t(PanelStatus::kAwaitingOutcome) ||
        row.number == int64_t(PanelStatus::kCharged)) {
      items.push_back(metrics::ItemOf(row, as_of));
    }
  };
  const metrics::Window all{Date{}, metrics::kOpenSpan};
  if (query.fold) {
    CARELEDGER_RETURN_IF_ERROR(ForEachChild(store, query.known_at, [&](const ChildView& child) {
      for (const auto& row : metrics::AwaitingDecisionRows(child)) add(row);
    }));
  } else if (query.known_at) {
    CARELEDGER_RETURN_IF_ERROR(metrics::ScanKeptRowsAsKnownAt(
        store, metrics::RowKind::kAwaitingDecision, all, *query.known_at, add));
  } else {
    CARELEDGER_RETURN_IF_ERROR(
        metrics::ScanKeptRows(store, metrics::RowKind::kAwaitingDecision, all, add));
  }
  std::sort(items.begin(), items.end(), [](const PanelItem& a, const PanelItem& b) {
    return std::tie(b.days_waiting, a.child_id, a.offence_id) <
           std::tie(a.days_waiting, b.child_id, b.offence_id);
  });
  return items;
}

}  // namespace careledger
