// Offences with an outcome (M3, M4, M10, M11): one kept row per decided offence, written by the
// ingest batch whenever the child's history changes, and read by decision date.
//
// Row layout, in the projection state:
//   key   "out" \0 <days key of the decision (4)> <child id (key part)> <offence id (key part)>
//   value <partition (2)> <flags (1): at_placement, informal> <15 dimension values (key parts)>
//         <event ids (key parts) to the end>
// The decision date leads the key so that a period is one range read; the value holds every
// dimension already judged at the offence date, so a query groups rows without the child.
#include <algorithm>
#include <map>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

constexpr std::string_view kRowPrefix{"out\0", 4};

std::string RowKey(Date decided, std::string_view child_id, std::string_view offence_id) {
  std::string k(kRowPrefix);
  codec::PutBigEndian32(k, codec::DaysKey(decided));
  codec::PutKeyPart(k, child_id);
  codec::PutKeyPart(k, offence_id);
  return k;
}

std::string DayBound(Date d) {
  std::string k(kRowPrefix);
  codec::PutBigEndian32(k, codec::DaysKey(d));
  return k;
}

std::string EncodeRow(const OutcomeRow& row) {
  std::string v;
  v.push_back(char((row.partition >> 8) & 0xff));
  v.push_back(char(row.partition & 0xff));
  v.push_back(char((row.at_placement ? 1 : 0) | (row.informal ? 2 : 0)));
  for (const auto& value : row.values) codec::PutKeyPart(v, value);
  for (const auto& id : row.event_ids) codec::PutKeyPart(v, id);
  return v;
}

bool DecodeRow(std::string_view key, std::string_view value, OutcomeRow& row) {
  if (!key.starts_with(kRowPrefix) || key.size() < kRowPrefix.size() + 4 || value.size() < 3) {
    return false;
  }
  key.remove_prefix(kRowPrefix.size());
  row.decided = codec::DateFromDaysKey(codec::GetBigEndian32(key.data()));
  key.remove_prefix(4);
  std::string_view part;
  if (!codec::GetKeyPart(key, part)) return false;
  row.child_id.assign(part);
  if (!codec::GetKeyPart(key, part)) return false;
  row.offence_id.assign(part);
  row.partition = (uint8_t(value[0]) << 8) | uint8_t(value[1]);
  row.at_placement = value[2] & 1;
  row.informal = value[2] & 2;
  value.remove_prefix(3);
  for (auto& v : row.values) {
    if (!codec::GetKeyPart(value, part)) return false;
    v.assign(part);
  }
  row.event_ids.clear();
  while (!value.empty()) {
    if (!codec::GetKeyPart(value, part)) return false;
    row.event_ids.emplace_back(part);
  }
  return true;
}

std::map<std::string, std::string> RowEntries(const ChildView& child) {
  std::map<std::string, std::string> out;
  for (const auto& row : OutcomeRowsOf(child)) {
    out.emplace(RowKey(row.decided, row.child_id, row.offence_id), EncodeRow(row));
  }
  return out;
}

}  // namespace

Result<std::set<int32_t>> OwnedPartitions(const EventStore& store) {
  auto assignment = store.Assignment();
  if (!assignment.ok()) return assignment.status();
  std::set<int32_t> owned;
  for (const auto& tp : *assignment) owned.insert(tp.partition);
  return owned;
}

Date OffenceDate(const Offence& o) {
  return o.recorded ? o.recorded->occurred_at.date : o.decided;
}

std::vector<const Fact*> OffenceFacts(const ChildView& child, const Offence& o) {
  std::vector<const Fact*> facts{child.registered, o.recorded};
  for (const Fact* f : o.outcomes) facts.push_back(f);
  facts.erase(std::remove(facts.begin(), facts.end(), nullptr), facts.end());
  return facts;
}

Extras OffenceExtras(const Offence& o) {
  auto tier = DisposalTier(o.disposal);
  std::string_view group = o.recorded ? std::string_view(o.recorded->data.offence_group) : "";
  return {
      {"tier", std::string(tier.value_or("unknown"))},
      {"disposal", o.disposal},
      {"offence_group", std::string(group.empty() ? "unknown" : group)},
      {"at_placement", o.recorded && o.recorded->data.at_placement.value_or(false) ? "yes" : "no"}};
}

bool IsInformalTier(std::string_view disposal) {
  auto tier = DisposalTier(disposal);
  return tier && (*tier == "no_sanction" || *tier == "informal");
}

std::optional<size_t> OutcomeDimensionIndex(std::string_view dimension) {
  for (size_t i = 0; i < kOutcomeDimensionCount; ++i) {
    if (kOutcomeDimensions[i] == dimension) return i;
  }
  return std::nullopt;
}

std::vector<OutcomeRow> OutcomeRowsOf(const ChildView& child) {
  std::vector<OutcomeRow> rows;
  for (const auto& o : child.offences) {
    if (!o.final) continue;
    OutcomeRow& row = rows.emplace_back();
    row.decided = o.decided;
    row.partition = child.partition;
    row.child_id.assign(child.child_id);
    row.offence_id = o.offence_id;
    Date on = OffenceDate(o);
    Extras extras = OffenceExtras(o);
    auto level = ExploitationRiskAt(child, on);
    extras.emplace_back("exploitation_risk",
                        level == "medium" || level == "high" ? "medium_or_high" : "other");
    for (size_t i = 0; i < kOutcomeDimensionCount; ++i) {
      row.values[i] = DimensionValue(kOutcomeDimensions[i], child, on, extras);
    }
    row.at_placement = o.recorded && o.recorded->data.at_placement.value_or(false);
    row.informal = IsInformalTier(o.disposal);
    for (const Fact* f : OffenceFacts(child, o)) row.event_ids.push_back(f->event_id);
  }
  return rows;
}

void WriteOutcomeRowChanges(const ChildView& before, const ChildView& after,
                            EventStore::Batch& batch) {
  if (before.offences.empty() && after.offences.empty()) return;
  auto old_rows = RowEntries(before);
  auto new_rows = RowEntries(after);
  for (const auto& [key, value] : old_rows) {
    if (!new_rows.count(key)) batch.DeleteState(key);
  }
  for (const auto& [key, value] : new_rows) {
    auto old = old_rows.find(key);
    if (old == old_rows.end() || old->second != value) batch.PutState(key, value);
  }
}

std::vector<std::pair<std::string, std::string>> OutcomeRowEntries(const ChildView& child) {
  auto rows = RowEntries(child);
  return {rows.begin(), rows.end()};
}

Status ScanOutcomeRows(const EventStore& store, const Window& window,
                       const std::function<void(const OutcomeRow&)>& visit) {
  CARELEDGER_RETURN_IF_ERROR(CheckStateLayout(store));
  auto owned = OwnedPartitions(store);
  if (!owned.ok()) return owned.status();
  OutcomeRow row;
  std::string bad;
  CARELEDGER_RETURN_IF_ERROR(
      store.ScanStateRange(DayBound(window.from), DayBound(window.to),
                           [&](std::string_view key, std::string_view value) {
                             if (!DecodeRow(key, value, row)) {
                               bad.assign(key);
                               return false;
                             }
                             if (owned->empty() || owned->count(row.partition)) visit(row);
                             return true;
                           }));
  if (!bad.empty()) {
    return Status::Fatal("a kept outcome row does not decode (run `careledger replay`)");
  }
  return Status::Ok();
}

std::optional<std::string> DescribeOutcomeRowKey(std::string_view key) {
  if (!key.starts_with(kRowPrefix)) return std::nullopt;
  std::string_view rest = key.substr(kRowPrefix.size());
  if (rest.size() < 4) return "outcome row (malformed key)";
  Date decided = codec::DateFromDaysKey(codec::GetBigEndian32(rest.data()));
  rest.remove_prefix(4);
  std::string_view child, offence;
  if (!codec::GetKeyPart(rest, child) || !codec::GetKeyPart(rest, offence)) {
    return "outcome row (malformed key)";
  }
  return "outcome row of offence " + std::string(offence) + " of child " + std::string(child) +
         " (decided " + FormatDate(decided) + ")";
}

}  // namespace careledger::metrics
