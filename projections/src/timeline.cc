// Child timelines: the fold's state and its encoding, and what every figure reads of the view
// ResolveChild (resolve_child.cc) makes of a timeline.
#include <algorithm>
#include <tuple>

#include "byte_reader.h"
#include "careledger/projections.h"

namespace careledger {

namespace {

int TypeRank(EventType t) {
  // Same instant and same recording time: a period starts before it changes or ends, and an
  // episode is reported before it ends.
  switch (t) {
    case EventType::kChildRegistered:
      return 0;
    case EventType::kCarePeriodStarted:
    case EventType::kMissingReported:
    case EventType::kOffenceRecorded:
    case EventType::kYjsCaseOpened:
      return 1;
    case EventType::kCareLegalStatusChanged:
    case EventType::kCarePlacementChanged:
      return 2;
    default:
      return 3;
  }
}

// Every EventData field, in one fixed order, so encoding and decoding cannot drift apart.
template <typename Data, typename Str, typename OptBool, typename OptInt, typename OptDate,
          typename OptTime>
void ForEachField(Data& d, Str str, OptBool opt_bool, OptInt opt_int, OptDate opt_date,
                  OptTime opt_time) {
  for (
      auto* s :
      {&d.sex,           &d.ethnicity,    &d.responsible_la, &d.legal_status, &d.placement,
       &d.provider,      &d.home_id,      &d.reason,         &d.in_touch,     &d.activity,
       &d.accommodation, &d.kind,         &d.level,          &d.episode_id,   &d.category,
       &d.risk,          &d.from_home_id, &d.reported_by,    &d.offence_id,   &d.offence_group,
       &d.offence_type,  &d.disposal,     &d.case_id,        &d.intervention, &d.target_event_id}) {
    str(*s);
  }
  for (auto* b : {&d.out_of_area, &d.offered, &d.accepted, &d.knife_related, &d.at_placement}) {
    opt_bool(*b);
  }
  opt_int(d.prior_formal_outcomes);
  opt_int(d.home_office_outcome);
  opt_date(d.dob);
  for (auto* t : {&d.held_at, &d.decided_at, &d.arrested_at}) opt_time(*t);
}

void PutTimestamp(std::string& out, const Timestamp& t) {
  codec::PutBigEndian32(out, codec::DaysKey(t.date));
  codec::PutFixed64(out, uint64_t(t.instant.time_since_epoch().count()));
  out.push_back(char(t.has_time));
}

class Reader : public metrics::ByteReader {
 public:
  using ByteReader::ByteReader;
  std::string Str() { return std::string(Bytes()); }
  Timestamp Time() {
    Timestamp t;
    t.date = codec::DateFromDaysKey(U32());
    t.instant = Instant{std::chrono::seconds{int64_t(U64())}};
    t.has_time = Byte() != 0;
    return t;
  }
};

// 4 added source_key, 5 remanded_to (after every other field); facts of formats 3 and 4 are
// still read (neither source_key nor remanded_to, then no remanded_to).
constexpr char kFactFormat = 5;
constexpr char kFactFormatWithoutRemand = 4;
constexpr char kFactFormatWithoutSourceKey = 3;

void PutSortable64(std::string& out, int64_t v) {
  codec::PutBigEndian64(out, uint64_t(v) ^ (uint64_t(1) << 63));
}

std::string Encode(const Fact& f, int32_t partition, bool with_knowledge) {
  std::string out;
  out.reserve(160);
  out.push_back(kFactFormat);
  codec::PutBigEndian32(out, uint32_t(partition));
  out.push_back(char(f.type));
  codec::PutLengthPrefixed(out, f.event_id);
  codec::PutLengthPrefixed(out, f.supersedes);
  codec::PutLengthPrefixed(out, f.source_key);
  PutTimestamp(out, f.occurred_at);
  codec::PutFixed64(out, uint64_t(f.recorded_at.time_since_epoch().count()));
  if (with_knowledge) {
    codec::PutFixed64(out, f.sequence);
    codec::PutFixed64(out, uint64_t(f.ingested_at.time_since_epoch().count()));
  }
  ForEachField(
      f.data, [&](const std::string& s) { codec::PutLengthPrefixed(out, s); },
      [&](const std::optional<bool>& b) { out.push_back(char(b ? 1 + *b : 0)); },
      [&](const std::optional<int>& i) {
        out.push_back(char(i.has_value()));
        codec::PutBigEndian32(out, uint32_t(i.value_or(0)));
      },
      [&](const std::optional<Date>& d) { codec::PutBigEndian32(out, d ? codec::DaysKey(*d) : 0); },
      [&](const std::optional<Timestamp>& t) {
        out.push_back(char(t.has_value()));
        if (t) PutTimestamp(out, *t);
      });
  codec::PutLengthPrefixed(out, f.data.remanded_to);
  return out;
}

}  // namespace

bool TimelineBefore(const Fact& a, const Fact& b) {
  return std::tuple(a.occurred_at.instant, a.recorded_at, TypeRank(a.type),
                    std::string_view(a.event_id)) < std::tuple(b.occurred_at.instant, b.recorded_at,
                                                               TypeRank(b.type),
                                                               std::string_view(b.event_id));
}

void AddFact(Timeline& timeline, Fact fact) {
  auto at = std::upper_bound(timeline.facts.begin(), timeline.facts.end(), fact, TimelineBefore);
  timeline.facts.insert(at, std::move(fact));
}

Fact FactFromEnvelope(const Envelope& e, uint64_t sequence, Instant ingested_at) {
  return Fact{e.type,       e.event_id,    e.supersedes,
              e.source_key, e.occurred_at, e.recorded_at.instant,
              sequence,     ingested_at,   e.data};
}

// The child id's length is a varint (codec::PutKeyPart), never cut: it was one byte, so every
// id of 256 bytes (64 four-byte characters meet the schema's maxLength) read back as the same
// child. Ids under 128 bytes keep the key the one byte gave them, so existing stores read on;
// one that holds an id of 128..255 bytes misreads it until `careledger replay` rebuilds the
// state in this layout.
std::string FactKeyPrefix(std::string_view child_id) {
  std::string k("fact\0", 5);
  codec::PutKeyPart(k, child_id);
  return k;
}

std::string FactKey(std::string_view child_id, const Fact& f) {
  std::string k = FactKeyPrefix(child_id);
  PutSortable64(k, f.occurred_at.instant.time_since_epoch().count());
  PutSortable64(k, f.recorded_at.time_since_epoch().count());
  k.push_back(char(TypeRank(f.type)));
  k.append(f.event_id);
  return k;
}

std::optional<std::string_view> ChildOfFactKey(std::string_view key) {
  constexpr std::string_view kFact("fact\0", 5);
  if (!key.starts_with(kFact)) return std::nullopt;
  key.remove_prefix(kFact.size());
  std::string_view child;
  if (!codec::GetKeyPart(key, child)) return std::nullopt;
  return child;
}

std::string EncodeFact(const Fact& fact, int32_t partition) {
  return Encode(fact, partition, true);
}

std::string CanonicalFact(const Fact& fact, int32_t partition) {
  return Encode(fact, partition, false);
}

Status DecodeFact(std::string_view bytes, Fact& f, int32_t& partition) {
  Reader r(bytes);
  uint8_t format = r.Byte();
  if (format != uint8_t(kFactFormat) && format != uint8_t(kFactFormatWithoutRemand) &&
      format != uint8_t(kFactFormatWithoutSourceKey)) {
    return Status::Fatal("projection state holds a fact in an unknown format (replay to rebuild)");
  }
  partition = int32_t(r.U32());
  f.type = EventType(r.Byte());
  f.event_id = r.Str();
  f.supersedes = r.Str();
  f.source_key.clear();
  if (format != uint8_t(kFactFormatWithoutSourceKey)) f.source_key = r.Str();
  f.occurred_at = r.Time();
  f.recorded_at = Instant{std::chrono::seconds{int64_t(r.U64())}};
  f.sequence = r.U64();
  f.ingested_at = Instant{std::chrono::seconds{int64_t(r.U64())}};
  ForEachField(
      f.data, [&](std::string& s) { s = r.Str(); },
      [&](std::optional<bool>& b) {
        uint8_t v = r.Byte();
        b.reset();
        if (v) b = v == 2;
      },
      [&](std::optional<int>& i) {
        bool has = r.Byte() != 0;
        auto v = int32_t(r.U32());
        i.reset();
        if (has) i = v;
      },
      [&](std::optional<Date>& d) {
        uint32_t key = r.U32();
        d.reset();
        if (key != 0) d = codec::DateFromDaysKey(key);
      },
      [&](std::optional<Timestamp>& ts) {
        ts.reset();
        if (r.Byte()) ts = r.Time();
      });
  f.data.remanded_to.clear();
  if (format == uint8_t(kFactFormat)) f.data.remanded_to = r.Str();
  if (!r.ok() || !r.done()) return Status::Fatal("projection state holds a malformed fact");
  return Status::Ok();
}

const CareSpell* ClaSpellAt(const ChildView& child, Date d) {
  for (const auto& s : child.spells) {
    if (!s.short_break && s.from <= d && (!s.to || d < *s.to)) return &s;
  }
  return nullptr;
}

bool IsLookedAfterAt(const ChildView& child, Date d) {
  return ClaSpellAt(child, d) != nullptr;
}

std::optional<int> AgeAt(const ChildView& child, Date d) {
  return AgeAt(child.dob, d);
}

std::optional<int> AgeAt(std::optional<Date> dob, Date d) {
  if (!dob || d < *dob) return std::nullopt;
  std::chrono::year_month_day born{*dob}, on{d};
  int age = int(on.year()) - int(born.year());
  if (d < Anniversary(*dob, age)) --age;
  return age;
}

std::string_view AgeBand(std::optional<int> age) {
  if (!age) return "unknown";
  if (*age < 10) return "under 10";
  if (*age < 14) return "10-13";
  if (*age < 16) return "14-15";
  if (*age < 18) return "16-17";
  if (*age < 22) return "18-21";
  if (*age < 26) return "22-25";
  return "26+";
}

std::vector<const CareSpell*> CareLeaverSpells(const ChildView& child, Date d) {
  auto age = AgeAt(child, d);
  if (!age || *age < 16 || *age > 25 || IsLookedAfterAt(child, d)) return {};
  Date fourteenth = Anniversary(*child.dob, 14), sixteenth = Anniversary(*child.dob, 16);
  int64_t days = 0;
  bool after_sixteen = false;
  std::vector<const CareSpell*> counted;
  for (const auto& s : child.spells) {
    if (s.short_break) continue;
    Date from = std::max(s.from, fourteenth);
    Date to = std::min(s.to.value_or(d), d);
    if (from >= to) continue;
    days += (to - from).count();
    if (to > sixteenth) after_sixteen = true;
    counted.push_back(&s);
  }
  if (days < 13 * 7 || !after_sixteen) counted.clear();
  return counted;
}

bool IsCareLeaverAt(const ChildView& child, Date d) {
  return !CareLeaverSpells(child, d).empty();
}

std::string_view CareLeaverBand(int age) {
  if (age < 18) return "16-17";
  if (age == 18) return "18";
  if (age < 22) return "19-21";
  return "22-25";
}

std::string_view CohortAt(const ChildView& child, Date d) {
  if (IsLookedAfterAt(child, d)) return "cla";
  if (IsCareLeaverAt(child, d)) return "care_leaver";
  return "other";
}

std::vector<const CareSpell*> Oc2CohortSpells(const ChildView& child, int year) {
  const Date end = YearEnding{year}.Last(), start = YearEnding{year}.First();
  auto age = AgeAt(child, end);
  if (!age || *age < 10) return {};
  // Every day of [start, end] inside one run of touching, counted spells.
  std::vector<const CareSpell*> run;
  Date covered = start;
  for (const auto& s : child.spells) {
    if (s.short_break) continue;
    if (s.from <= covered && (!s.to || *s.to > covered)) {
      run.push_back(&s);
      if (!s.to || *s.to > end) return run;
      covered = *s.to;
    }
  }
  return {};
}

bool InOc2Cohort(const ChildView& child, int year) {
  return !Oc2CohortSpells(child, year).empty();
}

std::vector<const Fact*> ExploitationRiskFacts(const ChildView& child, Date d) {
  // CCE and CSE are separate assessments (a later CSE "none" says nothing of CCE); "both"
  // assesses the two at once.
  const Fact *cce = nullptr, *cse = nullptr;
  for (const Fact* f : child.risk_assessments) {
    if (f->occurred_at.date > d) break;
    if (f->data.kind != "CSE") cce = f;
    if (f->data.kind != "CCE") cse = f;
  }
  std::vector<const Fact*> out;
  if (cce) out.push_back(cce);
  if (cse && cse != cce) out.push_back(cse);
  return out;
}

std::string_view ExploitationRiskAt(const ChildView& child, Date d) {
  // The higher of the two latest.
  auto rank = [](std::string_view level) {
    return level == "high" ? 3 : level == "medium" ? 2 : level == "low" ? 1 : 0;
  };
  std::string_view risk;
  for (const Fact* f : ExploitationRiskFacts(child, d)) {
    if (risk.empty() || rank(f->data.level) > rank(risk)) risk = f->data.level;
  }
  return risk;
}

}  // namespace careledger
