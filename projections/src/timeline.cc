// Child timelines: the fold's state, its encoding, and the resolved view every figure reads.
#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

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

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  uint8_t Byte() {
    if (!Need(1)) return 0;
    auto b = uint8_t(in_[0]);
    in_.remove_prefix(1);
    return b;
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = codec::GetBigEndian32(in_.data());
    in_.remove_prefix(4);
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = codec::GetFixed64(in_.data());
    in_.remove_prefix(8);
    return v;
  }
  std::string Str() {
    std::string_view s;
    if (!codec::GetLengthPrefixed(in_, s)) ok_ = false;
    return std::string(s);
  }
  Timestamp Time() {
    Timestamp t;
    t.date = codec::DateFromDaysKey(U32());
    t.instant = Instant{std::chrono::seconds{int64_t(U64())}};
    t.has_time = Byte() != 0;
    return t;
  }

 private:
  bool Need(size_t n) {
    if (in_.size() < n) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

// 4 added source_key; facts of format 3 (none) are still read.
constexpr char kFactFormat = 4;
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
  return out;
}

// The date an outcome was decided: its decided_at, or failing that when it was recorded as
// happening.
Date DecidedOn(const Fact& f) {
  return f.data.decided_at ? f.data.decided_at->date : f.occurred_at.date;
}

std::optional<std::string_view> DisposalOf(const Fact& f) {
  if (!f.data.disposal.empty()) return f.data.disposal;
  if (f.data.home_office_outcome) return HomeOfficeOutcomeDisposal(*f.data.home_office_outcome);
  return std::nullopt;
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
  if (format != uint8_t(kFactFormat) && format != uint8_t(kFactFormatWithoutSourceKey)) {
    return Status::Fatal("projection state holds a fact in an unknown format (replay to rebuild)");
  }
  partition = int32_t(r.U32());
  f.type = EventType(r.Byte());
  f.event_id = r.Str();
  f.supersedes = r.Str();
  f.source_key.clear();
  if (format == uint8_t(kFactFormat)) f.source_key = r.Str();
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
  if (!r.ok() || !r.done()) return Status::Fatal("projection state holds a malformed fact");
  return Status::Ok();
}

ChildView ResolveChild(std::string_view child_id, const Timeline& timeline,
                       std::optional<Instant> known_at) {
  ChildView v;
  v.child_id = child_id;
  v.partition = timeline.partition;
  auto known = [&](const Fact& f) { return !known_at || f.ingested_at <= *known_at; };
  // Corrections remove their targets; a correction not yet known removes nothing.
  std::unordered_set<std::string_view> removed;
  // Versions of one record: the latest recorded, then the latest ingested, stands for it.
  std::unordered_map<std::string_view, const Fact*> latest_version;
  for (const auto& f : timeline.facts) {
    if (!known(f)) continue;
    if (!f.supersedes.empty()) removed.insert(f.supersedes);
    if (f.type == EventType::kEventRetracted) removed.insert(f.data.target_event_id);
    if (f.source_key.empty()) continue;
    auto [it, inserted] = latest_version.try_emplace(f.source_key, &f);
    if (inserted) continue;
    const Fact*& latest = it->second;
    if (std::tuple(latest->recorded_at, latest->sequence) < std::tuple(f.recorded_at, f.sequence)) {
      removed.insert(latest->event_id);
      latest = &f;
    } else {
      removed.insert(f.event_id);
    }
  }

  // Care: walk the period events in timeline order, cutting a spell at every change.
  bool open = false;
  CareSpell current;
  // The start that last cut short an open period (closing a spell of at least a day).
  const Fact* cut_by = nullptr;
  auto close_at = [&](Date d, const Fact* by) {
    bool closed = open && current.from < d;
    if (closed) {
      current.to = d;
      if (by) current.facts.push_back(by);
      v.spells.push_back(current);
    }
    current.from = d;
    current.to.reset();
    current.facts.clear();
    return closed;
  };
  std::map<std::string_view, size_t> episode_index, offence_index, case_index;
  auto episode = [&](const std::string& id) -> MissingEpisode& {
    auto [it, inserted] = episode_index.try_emplace(id, v.missing.size());
    if (inserted) v.missing.emplace_back().episode_id = id;
    return v.missing[it->second];
  };
  auto offence = [&](const std::string& id) -> Offence& {
    auto [it, inserted] = offence_index.try_emplace(id, v.offences.size());
    if (inserted) v.offences.emplace_back().offence_id = id;
    return v.offences[it->second];
  };
  auto yjs_case = [&](const std::string& id) -> YjsCase& {
    auto [it, inserted] = case_index.try_emplace(id, v.cases.size());
    if (inserted) v.cases.emplace_back().case_id = id;
    return v.cases[it->second];
  };

  // A start and a move both say where the child lives now.
  auto place = [&](const Fact& f) {
    current.placement = f.data.placement;
    current.provider = f.data.provider;
    current.home_id = f.data.home_id;
    current.out_of_area = f.data.out_of_area;
    current.facts.push_back(&f);
  };
  for (const auto& f : timeline.facts) {
    if (!known(f) || removed.count(f.event_id)) continue;
    const EventData& d = f.data;
    Date on = f.occurred_at.date;
    switch (f.type) {
      case EventType::kChildRegistered:
        v.registered = &f;
        v.dob = d.dob;
        v.sex = d.sex;
        v.ethnicity = d.ethnicity;
        v.prior_formal_outcomes = d.prior_formal_outcomes.value_or(0);
        break;
      case EventType::kCarePeriodStarted:
        // A start while a period is open (a missed end) continues the care with new details,
        // so the child is never counted twice.
        cut_by = close_at(on, &f) ? &f : nullptr;
        open = true;
        current.legal_status = d.legal_status;
        place(f);
        break;
      case EventType::kCarePlacementChanged:
        close_at(on, &f);
        place(f);
        break;
      case EventType::kCareLegalStatusChanged:
        close_at(on, &f);
        current.legal_status = d.legal_status;
        current.facts.push_back(&f);
        break;
      case EventType::kCarePeriodEnded:
        // An end at the same moment as the start that cut the previous period short (one
        // period ends the day the next starts, and the sort put the start first) ends that
        // previous period, already closed: the new one stays open.
        if (cut_by && cut_by->occurred_at.instant == f.occurred_at.instant) {
          v.spells.back().facts.push_back(&f);
          cut_by = nullptr;
          break;
        }
        cut_by = nullptr;
        close_at(on, &f);
        open = false;
        break;
      case EventType::kCareLeaverContactRecorded:
        v.contacts.push_back(&f);
        break;
      case EventType::kExploitationRiskAssessed:
        v.risk_assessments.push_back(&f);
        break;
      case EventType::kPlacementPoliceCallout:
        v.callouts.push_back(&f);
        break;
      case EventType::kMissingReported:
        episode(d.episode_id).reported = &f;
        break;
      case EventType::kMissingReturned:
        episode(d.episode_id).returned = &f;
        break;
      case EventType::kMissingReturnInterview:
        episode(d.episode_id).interview = &f;
        break;
      case EventType::kOffenceRecorded:
        offence(d.offence_id).recorded = &f;
        break;
      case EventType::kOutcomeRecorded:
      case EventType::kCourtOutcomeRecorded:
        offence(d.offence_id).outcomes.push_back(&f);
        break;
      case EventType::kArrestRecorded:
      case EventType::kEventRetracted:
        break;
      case EventType::kYjsCaseOpened:
        yjs_case(d.case_id).opened = &f;
        break;
      case EventType::kYjsCaseClosed:
        yjs_case(d.case_id).closed = &f;
        break;
    }
  }
  if (open) {
    current.to.reset();
    v.spells.push_back(current);
  }
  // Short breaks are flagged; adjacent stretches with the same details are one.
  std::vector<CareSpell> merged;
  for (auto& s : v.spells) {
    s.short_break = IsShortBreakLegalStatus(s.legal_status);
    if (!merged.empty()) {
      auto& last = merged.back();
      if (last.to == s.from && last.legal_status == s.legal_status &&
          last.placement == s.placement && last.provider == s.provider &&
          last.home_id == s.home_id && last.out_of_area == s.out_of_area) {
        last.to = s.to;
        last.facts.insert(last.facts.end(), s.facts.begin(), s.facts.end());
        continue;
      }
    }
    merged.push_back(std::move(s));
  }
  v.spells = std::move(merged);

  // An offence whose record was withdrawn (retracted, or superseded by nothing of the same
  // offence id) is no longer an offence: its outcomes go with it, instead of standing as an
  // outcome of an unknown offence. An outcome whose offence record has not arrived yet stays.
  std::unordered_set<std::string_view> withdrawn;
  for (const auto& f : timeline.facts) {
    if (f.type == EventType::kOffenceRecorded && known(f) && removed.count(f.event_id)) {
      withdrawn.insert(f.data.offence_id);
    }
  }
  std::erase_if(v.offences,
                [&](const Offence& o) { return !o.recorded && withdrawn.count(o.offence_id) > 0; });

  for (auto& o : v.offences) {
    // The final disposal is the one decided last; a court disposal after a charge replaces
    // nothing, it is the first disposal.
    for (const Fact* f : o.outcomes) {
      auto disposal = DisposalOf(*f);
      if (!disposal) continue;
      Date decided = DecidedOn(*f);
      if (!o.final || decided >= o.decided) {
        o.final = f;
        o.disposal = *disposal;
        o.decided = decided;
      }
    }
  }
  auto offence_date = [](const Offence& o) {
    return o.recorded ? o.recorded->occurred_at.instant
                      : (o.final ? Instant{o.decided} : Instant{});
  };
  std::stable_sort(v.offences.begin(), v.offences.end(), [&](const Offence& a, const Offence& b) {
    return offence_date(a) < offence_date(b);
  });
  return v;
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
