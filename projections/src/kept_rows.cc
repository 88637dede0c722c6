// Rows that ingest keeps: one per dated contribution of a child to a figure over a period,
// written by the ingest batch whenever the child's history changes, and read by date. Each
// metric builds its rows in its own file (aggregate.h names it); here is how every row is
// stored, versioned and read, and the offences several metrics' rows are made of.
//
// Row layout, in the projection state:
//   key   "row" \0 <kind (1)> <days key of its date (4)> <child id (key part)> <item id (key part)>
//   value <since (8, fixed)> <partition (2)> <flags (1): at_placement, informal>
//         <number (8, fixed)> [<seconds away (8, fixed)>: an episode's]
//         <the child's date of birth (4: days key + 1; 0 unknown)>
//         <the dimension values (key parts)> <event ids (key parts) to the end>
// The date follows the kind so that a period is one range read; the value holds every
// dimension already judged, so a query groups rows without the child.
//
// Versions, for "as known at": `since` is the ingest stamp of the batch that gave the row its
// value. When a later batch changes or removes the row, the value it had is kept beside it:
//   key   "was" \0 <kind (1)> [<days key of its date (4)>: year-ending rows only]
//         <the month its since fell in (4: the days key of its first day)>
//         <until (8, big-endian)> <the rest of the row key> <since (8, big-endian)>
//   value <until (8, fixed)> <the row's value after its since>
// so that the rows as known at T are the rows of the period whose since <= T and the kept
// values with since <= T < until. The kept values are read by when they held, not by date: in
// each month up to T's (of each 31 March, for the year-ending rows), one seek to until > T,
// which reads the values that held at T and at most a month's worth more, whatever the store's
// history. Read by date, a span still open (dated kOpenSpan) left every value it ever held on
// that one date, and each read as known at read every span that ever closed (54,927 values for
// none held, for CLA on a 1 M-children store).
#include <algorithm>
#include <map>

#include "aggregate.h"

namespace careledger::metrics {

namespace {

constexpr std::string_view kRowPrefix{"row\0", 4};
constexpr std::string_view kWasPrefix{"was\0", 4};
constexpr size_t kSinceBytes = 8;

std::string DayBound(RowKind kind, Date d, std::string_view prefix = kRowPrefix) {
  std::string k(prefix);
  k.push_back(char(kind));
  codec::PutBigEndian32(k, codec::DaysKey(d));
  return k;
}

std::string EncodeRow(const KeptRow& row) {
  std::string v;
  v.push_back(char((row.partition >> 8) & 0xff));
  v.push_back(char(row.partition & 0xff));
  v.push_back(char((row.at_placement ? 1 : 0) | (row.informal ? 2 : 0) | (row.returned ? 4 : 0) |
                   (row.offered ? 8 : 0) | (row.accepted ? 16 : 0) | (row.within_72h ? 32 : 0) |
                   (row.knife_related ? 64 : 0)));
  codec::PutFixed64(v, uint64_t(row.number));
  if (row.kind == RowKind::kMissingEpisode) codec::PutFixed64(v, uint64_t(row.seconds_away));
  codec::PutBigEndian32(v, row.born ? codec::DaysKey(*row.born) + 1 : 0);  // 0: unknown
  for (const auto& value : row.values) codec::PutKeyPart(v, value);
  for (const auto& id : row.event_ids) codec::PutKeyPart(v, id);
  return v;
}

// Decodes a row (its value after the since) from a key under `prefix`: a row's key, or a
// kept value's (the row key with its since after it).
bool DecodeRow(std::string_view key, std::string_view value, KeptRow& row,
               std::string_view prefix = kRowPrefix) {
  if (!key.starts_with(prefix) || key.size() < prefix.size() + 5 || value.size() < 11) {
    return false;
  }
  key.remove_prefix(prefix.size());
  row.kind = RowKind(key[0]);
  row.on = codec::DateFromDaysKey(codec::GetBigEndian32(key.data() + 1));
  key.remove_prefix(5);
  std::string_view part;
  if (!codec::GetKeyPart(key, part)) return false;
  row.child_id.assign(part);
  if (!codec::GetKeyPart(key, part)) return false;
  row.item_id.assign(part);
  row.partition = (uint8_t(value[0]) << 8) | uint8_t(value[1]);
  row.at_placement = value[2] & 1;
  row.informal = value[2] & 2;
  row.returned = value[2] & 4;
  row.offered = value[2] & 8;
  row.accepted = value[2] & 16;
  row.within_72h = value[2] & 32;
  row.knife_related = value[2] & 64;
  row.number = int64_t(codec::GetFixed64(value.data() + 3));
  value.remove_prefix(11);
  row.seconds_away = 0;
  if (row.kind == RowKind::kMissingEpisode) {
    if (value.size() < 8) return false;
    row.seconds_away = int64_t(codec::GetFixed64(value.data()));
    value.remove_prefix(8);
  }
  row.born.reset();
  if (value.size() < 4) return false;
  if (uint32_t born = codec::GetBigEndian32(value.data())) {
    row.born = codec::DateFromDaysKey(born - 1);
  }
  value.remove_prefix(4);
  for (auto& v : row.values) {
    if (!codec::GetKeyPart(value, part)) return false;
    v.assign(part);
  }
  row.event_ids.clear();
  while (!value.empty()) {
    if (!codec::GetKeyPart(value, part)) return false;
    row.event_ids.emplace_back(part);
  }
  // A call-out row's number indexes M8's measures and its event id is read: a row that could
  // make either go out of bounds does not decode.
  if (row.kind == RowKind::kCallout) {
    return row.number >= 0 && row.number <= int64_t(CalloutMeasure::kOffenceAtPlacement) &&
           !row.event_ids.empty();
  }
  // An episode row names its report, return and interview (M7 reads all three).
  if (row.kind == RowKind::kMissingEpisode) return row.event_ids.size() == 3;
  return true;
}

Instant InstantFrom(uint64_t seconds) {
  return Instant{std::chrono::seconds{int64_t(seconds)}};
}

uint64_t SecondsOf(Instant t) {
  return uint64_t(t.time_since_epoch().count());
}

// A stored row: its since, then the encoded row.
std::string StoredRow(Instant since, std::string_view encoded) {
  std::string v;
  v.reserve(kSinceBytes + encoded.size());
  codec::PutFixed64(v, SecondsOf(since));
  v.append(encoded);
  return v;
}

// The bytes of a kept value's key that say when it held: the month of its since and its until.
constexpr size_t kHeldBytes = 4 + 8;

// Where they go after the kind: first, for the kinds read over many dates (spans, periods), so
// that a read as known at T reads what held at T of every date; after the date for the
// year-ending rows, read one 31 March at a time, whose versions held at T on other 31 Marches
// outnumber the day's tenfold.
size_t HeldAfterKind(RowKind kind) {
  return kind == RowKind::kYearEnding ? 4 : 0;
}
size_t HeldAfterKind(std::string_view after_prefix) {
  return after_prefix.empty() ? 0 : HeldAfterKind(RowKind(after_prefix[0]));
}

uint32_t MonthOf(Instant t) {
  return codec::DaysKey(FirstOfMonth(std::chrono::floor<std::chrono::days>(t)));
}

// The key a row's value from `since` is kept under once replaced at `until`.
std::string WasKey(std::string_view row_key, Instant since, Instant until) {
  std::string_view rest = row_key.substr(kRowPrefix.size());
  const size_t held = 1 + HeldAfterKind(rest);
  std::string k(kWasPrefix);
  k.append(rest.substr(0, held));
  codec::PutBigEndian32(k, MonthOf(since));
  codec::PutBigEndian64(k, SecondsOf(until));
  k.append(rest.substr(held));
  codec::PutBigEndian64(k, SecondsOf(since));
  return k;
}

// A kept value's key as the row key it was under, with the "was" prefix (without when it held).
std::string_view WasRowKey(std::string_view was_key, std::string& scratch) {
  std::string_view rest = was_key.substr(kWasPrefix.size());
  const size_t held = 1 + HeldAfterKind(rest);
  if (rest.size() < held + kHeldBytes + kSinceBytes) return was_key;
  rest.remove_suffix(kSinceBytes);
  scratch.assign(kWasPrefix);
  scratch.append(rest.substr(0, held));
  scratch.append(rest.substr(held + kHeldBytes));
  return scratch;
}

}  // namespace

std::string RowKey(const KeptRow& row) {
  std::string k = DayBound(row.kind, row.on);
  codec::PutKeyPart(k, row.child_id);
  codec::PutKeyPart(k, row.item_id);
  return k;
}

void JudgeDimensions(const ChildView& child, Date on, const Extras& extras, KeptRow& row) {
  const bool episode = row.kind == RowKind::kMissingEpisode;
  row.judged_on = on;
  for (size_t i = 0; i < kRowDimensionCount; ++i) {
    bool child_dim = i < std::size(kChildDimensions);
    if (!child_dim && episode != (i >= kOffenceDimensionsEnd)) continue;
    row.values[i] = DimensionValue(kRowDimensions[i], child, on, extras);
  }
}

void JudgeOffence(const ChildView& child, const Offence& o, Date on, KeptRow& row) {
  Extras extras = OffenceExtras(o);
  auto level = ExploitationRiskAt(child, on);
  extras.emplace_back("exploitation_risk",
                      level == "medium" || level == "high" ? "medium_or_high" : "other");
  JudgeDimensions(child, on, extras, row);
  row.at_placement = o.recorded && o.recorded->data.at_placement.value_or(false);
  row.informal = IsInformalTier(o.disposal);
  for (const Fact* f : OffenceFacts(child, o)) row.event_ids.push_back(f->event_id);
}

KeptRow NewRow(RowKind kind, const ChildView& child, Date on, std::string item_id) {
  KeptRow row;
  row.kind = kind;
  row.on = on;
  row.partition = child.partition;
  row.child_id.assign(child.child_id);
  row.item_id = std::move(item_id);
  row.born = child.dob;
  return row;
}

KeptRow SpanRow(RowKind kind, const ChildView& child, Date from, std::optional<Date> last_day,
                std::string item_id) {
  Date on = last_day ? *last_day + std::chrono::days{1} : kOpenSpan;
  KeptRow row = NewRow(kind, child, std::min(on, kOpenSpan), std::move(item_id));
  row.number = codec::DaysKey(from);
  return row;
}

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

std::vector<const Offence*> FormalIn(const ChildView& c, const Window& w) {
  std::vector<const Offence*> out;
  for (const auto& o : c.offences) {
    if (o.final && IsFormalDisposal(o.disposal) && w.Contains(o.decided)) out.push_back(&o);
  }
  // Stable: outcomes decided on one day stay in the order of their offences.
  std::stable_sort(out.begin(), out.end(),
                   [](const Offence* a, const Offence* b) { return a->decided < b->decided; });
  return out;
}

std::optional<size_t> RowDimensionIndex(std::string_view dimension) {
  for (size_t i = 0; i < kRowDimensionCount; ++i) {
    if (kRowDimensions[i] == dimension) return i;
  }
  return std::nullopt;
}

std::vector<KeptRow> KeptRowsOf(RowKind kind, const ChildView& child) {
  switch (kind) {
    case RowKind::kOutcome:
      return OutcomeRows(child);
    case RowKind::kFirstFormal:
      return FirstFormalRows(child);
    case RowKind::kCallout:
      return CalloutRows(child);
    case RowKind::kReoffence:
      return ReoffenceRows(child);
    case RowKind::kYearEnding:
      return YearEndingRows(child);
    case RowKind::kCareSpell:
      return CareSpellRows(child);
    case RowKind::kCareLeaverYears:
      return CareLeaverYearsRows(child);
    case RowKind::kMissingEpisode:
      return MissingEpisodeRows(child);
    case RowKind::kYjsCase:
      return YjsCaseRows(child);
    case RowKind::kAgedTenToSeventeen:
      return AgedTenToSeventeenRows(child);
    case RowKind::kAwaitingDecision:
      return AwaitingDecisionRows(child);
    case RowKind::kPlacementStability:
      return PlacementStabilityRows(child);
    case RowKind::kCustody:
      return CustodyRows(child);
  }
  return {};
}

KeptRowEntries KeptRowEntriesOf(const ChildView& child) {
  KeptRowEntries out;
  auto add = [&out](const std::vector<KeptRow>& rows) {
    for (const auto& row : rows) out.emplace_back(RowKey(row), EncodeRow(row));
  };
  // A child with neither offences, call-outs, care, missing episodes nor cases has no rows but
  // its years aged 10-17.
  if (child.offences.empty() && child.callouts.empty() && child.spells.empty() &&
      child.missing.empty() && child.cases.empty() && child.remands.empty()) {
    add(AgedTenToSeventeenRows(child));
  } else {
    for (RowKind kind : kRowKinds) add(KeptRowsOf(kind, child));
  }
  // By key, the first of a key kept (as a map's emplace would).
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) { return a.first == b.first; }),
            out.end());
  return out;
}

bool MadeAhead(RowKind kind) {
  return kind == RowKind::kYearEnding || kind == RowKind::kPlacementStability;
}

Date LastDayKnownAt(Instant t) {
  return std::chrono::floor<std::chrono::days>(t);
}

namespace {

// Whether the value a row held is kept when `stamp` replaces it: not when the row was made
// ahead of its day and that day had not come (the 31 March rows to the 18th birthday are
// rewritten at every change to a child in care: such values were a tenth of a rebuild's state).
bool KeepsReplacedValue(std::string_view row_key, Instant stamp) {
  if (row_key.size() < kRowPrefix.size() + 5) return true;
  const auto kind = RowKind(row_key[kRowPrefix.size()]);
  const Date on =
      codec::DateFromDaysKey(codec::GetBigEndian32(row_key.data() + kRowPrefix.size() + 1));
  return !MadeAhead(kind) || on <= LastDayKnownAt(stamp);
}

}  // namespace

Status ChangeKeptRows(const KeptRowEntries& before, const KeptRowEntries& after, Instant stamp,
                      const RowVersionWriter& out) {
  auto keep_old = [&](const std::string& key, const std::string& value) -> Status {
    auto since = out.since_of(key);
    if (!since.ok()) return since.status();
    // A value that lasted less than a second (two batches in one second) was never the row
    // as known at any time a query can name, and a rebuild, which folds the second at once,
    // never sees it.
    if (*since >= stamp) return Status::Ok();
    if (KeepsReplacedValue(key, stamp)) {
      std::string kept;
      codec::PutFixed64(kept, SecondsOf(stamp));
      kept.append(value);
      out.put(WasKey(key, *since, stamp), kept);
    }
    // Told even when not kept: a value given back within the second keeps its since either way.
    if (out.replaced) out.replaced(key, *since, value, stamp);
    return Status::Ok();
  };
  // Both sorted by key: each walk keeps its place in the other.
  auto now = after.begin();
  for (const auto& [key, value] : before) {
    while (now != after.end() && now->first < key) ++now;
    const bool kept = now != after.end() && now->first == key;
    if (kept && now->second == value) continue;
    CARELEDGER_RETURN_IF_ERROR(keep_old(key, value));
    if (!kept) out.remove(key);
  }
  auto old = before.begin();
  for (const auto& [key, value] : after) {
    while (old != before.end() && old->first < key) ++old;
    if (old != before.end() && old->first == key && old->second == value) continue;
    Instant since = stamp;
    if (auto held = out.restored ? out.restored(key, value, stamp) : std::nullopt) {
      // (Replaced at `stamp` too: that kept value's until.)
      if (KeepsReplacedValue(key, stamp)) out.remove(WasKey(key, *held, stamp));
      since = *held;
    }
    out.put(key, StoredRow(since, value));
    if (out.written) out.written(key, since);
  }
  return Status::Ok();
}

std::optional<std::optional<std::string>> CanonicalKeptRow(std::string_view key,
                                                           std::string_view value) {
  if (key.starts_with(kWasPrefix)) return std::optional<std::string>();
  if (!key.starts_with(kRowPrefix)) return std::nullopt;
  return std::string(value.substr(std::min(value.size(), kSinceBytes)));
}

Result<Instant> SinceOfStoredRow(std::string_view stored) {
  if (stored.size() < kSinceBytes)
    return Status::Fatal("a kept row does not decode (run `careledger replay`)");
  return InstantFrom(codec::GetFixed64(stored.data()));
}

namespace {

// Visits the rows of a kind dated in [from, to), of the partitions the store answers for, with
// their since, their row key and their value as stored after the since: as they stand, or
// (`held_at`) the values they held at that time that a later batch replaced, with their until.
Status ScanRowVersions(
    const EventStore& store, RowKind kind, const Window& window, std::optional<Instant> held_at,
    const std::function<void(const KeptRow&, Instant since, Instant until, std::string_view key,
                             std::string_view encoded)>& visit) {
  CARELEDGER_RETURN_IF_ERROR(CheckStateLayout(store));
  auto owned = OwnedPartitions(store);
  if (!owned.ok()) return owned.status();
  const std::string_view prefix = held_at ? kWasPrefix : kRowPrefix;
  KeptRow row;
  std::string bad, scratch;
  auto each = [&](std::string_view key, std::string_view value) {
    Instant since{}, until = Instant::max();
    std::string_view row_key = key;
    if (held_at) {
      if (key.size() < prefix.size() + 1 + kHeldBytes + kSinceBytes || value.size() < kSinceBytes) {
        bad.assign(key);
        return false;
      }
      since = InstantFrom(codec::GetBigEndian64(key.data() + key.size() - kSinceBytes));
      until = InstantFrom(codec::GetFixed64(value.data()));
      row_key = WasRowKey(key, scratch);
    } else if (value.size() >= kSinceBytes) {
      since = InstantFrom(codec::GetFixed64(value.data()));
    }
    if (value.size() < kSinceBytes || !DecodeRow(row_key, value.substr(kSinceBytes), row, prefix)) {
      bad.assign(key);
      return false;
    }
    if (held_at && !(since <= *held_at && *held_at < until && window.Contains(row.on))) {
      return true;
    }
    if (owned->empty() || owned->count(row.partition)) {
      visit(row, since, until, row_key, value.substr(kSinceBytes));
    }
    return true;
  };
  if (!held_at) {
    CARELEDGER_RETURN_IF_ERROR(store.ScanStateRange(DayBound(kind, window.from, prefix),
                                                    DayBound(kind, window.to, prefix), each));
  } else {
    // Kept values in groups (the kind, and the date where it comes first), each by the month of
    // their since, each month by until: a seek skips a month's values replaced by T, another
    // the months after T's; what is read held at T, but for the rest of T's month.
    const size_t group = prefix.size() + 1 + HeldAfterKind(kind);
    const uint32_t last_month = MonthOf(*held_at);
    std::string cursor = group > prefix.size() + 1 ? DayBound(kind, window.from, prefix)
                                                   : std::string(prefix) + char(kind);
    const std::string end = group > prefix.size() + 1 ? DayBound(kind, window.to, prefix)
                                                      : std::string(prefix) + char(char(kind) + 1);
    for (bool more = true; more && bad.empty();) {
      more = false;
      const std::string from = cursor;
      CARELEDGER_RETURN_IF_ERROR(
          store.ScanStateRange(from, end, [&](std::string_view key, std::string_view value) {
            if (key.size() < group + kHeldBytes) return each(key, value);  // fails to decode
            const uint32_t month = codec::GetBigEndian32(key.data() + group);
            const uint64_t until = codec::GetBigEndian64(key.data() + group + 4);
            if (month > last_month) {
              // The next group, if there is one (a date's: the next day's).
              if (group == prefix.size() + 1) return false;
              cursor = DayBound(
                  kind,
                  codec::DateFromDaysKey(codec::GetBigEndian32(key.data() + prefix.size() + 1)) +
                      std::chrono::days{1},
                  prefix);
            } else if (until <= SecondsOf(*held_at)) {
              cursor.assign(key.substr(0, group + 4));
              codec::PutBigEndian64(cursor, SecondsOf(*held_at) + 1);
            } else {
              return each(key, value);
            }
            more = true;
            return false;
          }));
    }
  }
  if (!bad.empty()) {
    return Status::Fatal("a kept row does not decode (run `careledger replay`)");
  }
  return Status::Ok();
}

}  // namespace

Status ScanKeptRows(const EventStore& store, RowKind kind, const Window& window,
                    const std::function<void(const KeptRow&)>& visit) {
  return ScanRowVersions(store, kind, window, std::nullopt,
                         [&](const KeptRow& row, Instant, Instant, std::string_view,
                             std::string_view) { visit(row); });
}

Status ScanKeptRowsAsKnownAt(const EventStore& store, RowKind kind, const Window& window,
                             Instant known_at, const std::function<void(const KeptRow&)>& visit) {
  // The values held then that a later batch replaced, then the live rows merged with them in
  // the live order (the row keys'): a query may read a child's rows in order. A row's versions
  // never overlap in time, so only the replaced values held then are kept in memory and sorted;
  // collecting and sorting every row was most of such a query.
  auto unprefixed = [](std::string_view key) {
    return key.substr(key.starts_with(kWasPrefix) ? kWasPrefix.size() : kRowPrefix.size());
  };
  // Each kept as its key and stored value, one after the other in one arena, and decoded again
  // when its turn comes into one row: a copy of each decoded row (a dozen strings) was a third
  // of such a `report`, nearly all of it fresh memory faulted in.
  struct Held {
    size_t at, key_size, value_size;
  };
  std::string arena;
  std::vector<Held> was;
  CARELEDGER_RETURN_IF_ERROR(ScanRowVersions(
      store, kind, window, known_at,
      [&](const KeptRow&, Instant, Instant, std::string_view key, std::string_view encoded) {
        was.push_back({arena.size(), key.size(), encoded.size()});
        arena.append(key).append(encoded);
      }));
  auto key_of = [&](const Held& h) { return std::string_view(arena).substr(h.at, h.key_size); };
  // They come by when they held, not by row key.
  std::sort(was.begin(), was.end(), [&](const Held& a, const Held& b) {
    return unprefixed(key_of(a)) < unprefixed(key_of(b));
  });
  KeptRow held;
  Status failure = Status::Ok();
  auto visit_held = [&](const Held& h) {
    if (!DecodeRow(key_of(h), std::string_view(arena).substr(h.at + h.key_size, h.value_size), held,
                   kWasPrefix)) {
      failure = Status::Fatal("a kept row does not decode (run `careledger replay`)");
      return;
    }
    visit(held);
  };
  size_t next = 0;
  CARELEDGER_RETURN_IF_ERROR(ScanRowVersions(
      store, kind, window, std::nullopt,
      [&](const KeptRow& row, Instant since, Instant, std::string_view key, std::string_view) {
        if (known_at < since || !failure.ok()) return;
        const std::string_view at = unprefixed(key);
        for (; next < was.size() && unprefixed(key_of(was[next])) < at; ++next) {
          visit_held(was[next]);
        }
        visit(row);
      }));
  for (; next < was.size() && failure.ok(); ++next) visit_held(was[next]);
  return failure;
}

Result<std::vector<std::string>> ChildrenWithSpans(const EventStore& store, RowKind kind,
                                                   const Window& window,
                                                   std::optional<Instant> known_at) {
  std::vector<std::string> ids;
  uint32_t before = codec::DaysKey(window.to);
  const Window ending = SpansRunningOn(window.from);
  auto meets = [&](const KeptRow& row, Instant since, Instant until, std::string_view,
                   std::string_view) {
    if (known_at && !(since <= *known_at && *known_at < until)) return;
    if (uint64_t(row.number) < before) ids.push_back(row.child_id);
  };
  CARELEDGER_RETURN_IF_ERROR(ScanRowVersions(store, kind, ending, std::nullopt, meets));
  if (known_at) CARELEDGER_RETURN_IF_ERROR(ScanRowVersions(store, kind, ending, known_at, meets));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

void AppendWireRow(std::string& out, const KeptRow& row) {
  codec::PutLengthPrefixed(out, RowKey(row));
  codec::PutLengthPrefixed(out, EncodeRow(row));
}

bool TakeWireRow(std::string_view& in, KeptRow& row) {
  std::string_view key, value;
  return codec::GetLengthPrefixed(in, key) && codec::GetLengthPrefixed(in, value) &&
         DecodeRow(key, value, row);
}

std::optional<std::string> DescribeKeptRowKey(std::string_view key) {
  const bool was = key.starts_with(kWasPrefix);
  if (!key.starts_with(kRowPrefix) && !was) return std::nullopt;
  std::string_view rest = key.substr(kRowPrefix.size());
  std::string since, scratch;
  if (was && rest.size() >= kSinceBytes) {
    since =
        ", the value it held from " +
        FormatInstant(InstantFrom(codec::GetBigEndian64(rest.data() + rest.size() - kSinceBytes)));
    rest = WasRowKey(key, scratch).substr(kWasPrefix.size());
  }
  std::string_view child, item;
  if (rest.size() < 5) return "kept row (malformed key)";
  char kind = rest[0];
  Date on = codec::DateFromDaysKey(codec::GetBigEndian32(rest.data() + 1));
  rest.remove_prefix(5);
  if (!codec::GetKeyPart(rest, child) || !codec::GetKeyPart(rest, item)) {
    return "kept row (malformed key)";
  }
  std::string what = kind == char(RowKind::kOutcome)       ? "outcome row of offence "
                     : kind == char(RowKind::kFirstFormal) ? "first formal outcome row of offence "
                     : kind == char(RowKind::kCallout)     ? "call-out row of event "
                     : kind == char(RowKind::kReoffence)   ? "reoffending row of offence "
                     : kind == char(RowKind::kYearEnding)  ? "year-ending row"
                     : kind == char(RowKind::kCareSpell)   ? "care spell row from "
                     : kind == char(RowKind::kCareLeaverYears) ? "care-leaver years row"
                     : kind == char(RowKind::kMissingEpisode)  ? "missing episode row of event "
                     : kind == char(RowKind::kYjsCase)         ? "youth justice case row of event "
                     : kind == char(RowKind::kAgedTenToSeventeen) ? "aged 10-17 row from "
                     : kind == char(RowKind::kAwaitingDecision)   ? "panel worklist row of offence "
                     : kind == char(RowKind::kPlacementStability) ? "placement stability row"
                     : kind == char(RowKind::kCustody)            ? "custody row of "
                                                                  : "kept row of ";
  return what + std::string(item) + " of child " + std::string(child) + " (" + FormatDate(on) +
         ")" + since;
}

}  // namespace careledger::metrics
