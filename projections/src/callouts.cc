// M8 police call-outs from placements (docs/metrics.md: `callouts` in "The metrics", M8 in "What
// ingest keeps"). Ingest keeps a row per call-out and per offence recorded at a placement, by
// home, so that a period's figures and the same months a year earlier are two reads of the rows.
#include <algorithm>
#include <array>
#include <map>
#include <tuple>

#include "aggregate.h"

namespace careledger::metrics {

std::optional<CalloutMeasure> CalloutMeasureOf(std::string_view reason) {
  if (reason == "missing_report") return CalloutMeasure::kMissingReport;
  if (reason == "notifiable_incident") return CalloutMeasure::kNotifiableIncident;
  if (reason == "emergency") return CalloutMeasure::kEmergency;
  if (reason == "restraint") return CalloutMeasure::kRestraint;
  return std::nullopt;
}

std::vector<KeptRow> CalloutRows(const ChildView& child) {
  std::vector<KeptRow> rows;
  auto add = [&](const Fact* f, std::string_view home, CalloutMeasure measure) {
    KeptRow& row =
        rows.emplace_back(NewRow(RowKind::kCallout, child, f->occurred_at.date, f->event_id));
    row.values[*RowDimensionIndex("home_id")] = home.empty() ? "none" : std::string(home);
    row.number = int64_t(measure);
    row.event_ids.push_back(f->event_id);
  };
  for (const Fact* f : child.callouts) {
    if (auto measure = CalloutMeasureOf(f->data.reason)) add(f, f->data.home_id, *measure);
  }
  for (const auto& o : child.offences) {
    if (!o.recorded || !o.recorded->data.at_placement.value_or(false)) continue;
    const CareSpell* spell = ClaSpellAt(child, o.recorded->occurred_at.date);
    add(o.recorded, spell ? std::string_view(spell->home_id) : "",
        CalloutMeasure::kOffenceAtPlacement);
  }
  return rows;
}

namespace {

std::string MonthName(Date d) {
  return FormatDate(d).substr(0, 7);
}

// (home, month) → counts by CalloutMeasure in the window, then a year earlier.
using CalloutCells = std::map<std::pair<std::string, Date>, std::array<int64_t, 10>>;

// The call-outs in the window and in the same days a year earlier, into `cells`; for lineage,
// the events behind the run's cell into `lineage`.
Status CountCallouts(Run& r, CalloutCells& cells, std::vector<LineageEntry>& lineage) {
  bool want_lineage = r.cell != nullptr;
  std::vector<std::string> target;
  if (want_lineage) {
    for (const auto& d : r.by) target.push_back(r.cell->count(d) ? r.cell->at(d) : "");
  }
  static constexpr std::string_view kMeasures[] = {"missing_reports", "notifiable_incidents",
                                                   "emergencies", "restraints",
                                                   "offences_at_placement"};
  // The window's days, each row under its month, and the same days a year earlier under the
  // month a year on: a part month is counted for the days asked about, never widened to the
  // whole month (nor its comparator).
  const Window& now = r.window;
  const Window year_earlier{AddMonths(now.from, -12), AddMonths(now.to, -12)};
  const Window read{year_earlier.from, now.to};
  auto in_target = [&](const std::string& home, Date month) {
    std::vector<std::string> key;
    for (const auto& d : r.by) key.push_back(d == "home_id" ? home : MonthName(month));
    return key == target;
  };
  // A row's lineage: each call-out under its own measure and the total it is in, and under
  // the change, which both totals make.
  auto note = [&](std::string_view measure, const std::string& event_id) {
    lineage.push_back({std::string(measure), event_id});
    lineage.push_back({"change_pct", event_id});
  };
  return ForEachRow(r, RowKind::kCallout, read, [&](const KeptRow& row) {
    const std::string& home = row.values[*RowDimensionIndex("home_id")];
    if (year_earlier.Contains(row.on)) {
      Date month = FirstOfMonth(AddMonths(row.on, 12));
      cells[{home, month}][5 + row.number] += 1;
      if (want_lineage && in_target(home, month)) note("total_year_earlier", row.event_ids[0]);
    }
    if (!now.Contains(row.on)) return;
    Date month = FirstOfMonth(row.on);
    cells[{home, month}][row.number] += 1;
    if (want_lineage && in_target(home, month)) {
      lineage.push_back({std::string(kMeasures[row.number]), row.event_ids[0]});
      note("total", row.event_ids[0]);
    }
  });
}

// The table: each row of the --by values with its measures, its total, the total a year
// earlier and the change.
void EmitCallouts(Run& r, const CalloutCells& cells) {
  const Window& now = r.window;
  // Every (home, month) with call-outs in it or in the same days a year earlier (a home that
  // went from some to none must show its fall of 100 %).
  std::map<std::vector<std::string>, std::array<int64_t, 10>> rows;
  for (const auto& [cell, n] : cells) {
    std::vector<std::string> key;
    for (const auto& d : r.by) key.push_back(d == "home_id" ? cell.first : MonthName(cell.second));
    auto& row = rows[key];
    for (size_t i = 0; i < n.size(); ++i) row[i] += n[i];
  }
  if (FirstOfMonth(now.from) != now.from || FirstOfMonth(now.to) != now.to) {
    r.table.notes.emplace_back(
        "part months: the period's days only, against the same days a year earlier");
  }
  r.table.dimensions = r.by;
  r.table.measures = {"missing_reports",       "notifiable_incidents",
                      "emergencies",           "restraints",
                      "offences_at_placement", "total",
                      "total_year_earlier",    "change_pct"};
  r.table.row_sums = {{.total = 5, .parts = {0, 1, 2, 3, 4}}};
  for (const auto& [key, n] : rows) {
    int64_t total = n[0] + n[1] + n[2] + n[3] + n[4];
    int64_t earlier = n[5] + n[6] + n[7] + n[8] + n[9];
    Figure change = Figure::Empty(Figure::Kind::kPercent).Columns(5, 6);
    change.numerator = total;
    change.denominator = earlier;
    if (earlier) change.value = 100.0 * double(total - earlier) / double(earlier);
    r.table.rows.push_back(
        {key,
         {Figure::Count(n[0]), Figure::Count(n[1]), Figure::Count(n[2]), Figure::Count(n[3]),
          Figure::Count(n[4]), Figure::Count(total), Figure::Count(earlier), std::move(change)}});
  }
}

}  // namespace

Status Callouts(Run& r) {
  CalloutCells cells;
  std::vector<LineageEntry> lineage;
  CARELEDGER_RETURN_IF_ERROR(CountCallouts(r, cells, lineage));
  EmitCallouts(r, cells);
  std::sort(lineage.begin(), lineage.end(), [](const LineageEntry& a, const LineageEntry& b) {
    return std::tie(a.measure, a.event_id) < std::tie(b.measure, b.event_id);
  });
  r.lineage = std::move(lineage);
  return Status::Ok();
}

}  // namespace careledger::metrics
