// ResolveChild: a child's timeline folded into the view every figure reads, one step a kind of
// fact (corrections, care, records, offences' outcomes).
#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "careledger/projections.h"

namespace careledger {

namespace {

bool KnownAt(const Fact& f, std::optional<Instant> known_at) {
  return !known_at || f.ingested_at <= *known_at;
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

// The event ids of the facts that no longer count, as known at `known_at`.
std::unordered_set<std::string_view> RemovedFacts(const Timeline& timeline,
                                                  std::optional<Instant> known_at) {
  // Corrections remove their targets; a correction not yet known removes nothing.
  std::unordered_set<std::string_view> removed;
  // Versions of one record: the latest recorded, then the latest ingested, stands for it.
  std::unordered_map<std::string_view, const Fact*> latest_version;
  for (const auto& f : timeline.facts) {
    if (!KnownAt(f, known_at)) continue;
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
  return removed;
}

// Care: walk the period events in timeline order, cutting a spell at every change.
class CareWalk {
 public:
  explicit CareWalk(std::vector<CareSpell>& spells) : spells_(spells) {}
  CareWalk(const CareWalk&) = delete;
  CareWalk& operator=(const CareWalk&) = delete;

  void Start(const Fact& f) {
    // A start while a period is open (a missed end) continues the care with new details,
    // so the child is never counted twice.
    cut_by_ = CloseAt(f.occurred_at.date, &f) ? &f : nullptr;
    open_ = true;
    current_.legal_status = f.data.legal_status;
    Place(f);
  }
  void ChangePlacement(const Fact& f) {
    CloseAt(f.occurred_at.date, &f);
    Place(f);
  }
  void ChangeLegalStatus(const Fact& f) {
    CloseAt(f.occurred_at.date, &f);
    current_.legal_status = f.data.legal_status;
    current_.facts.push_back(&f);
  }
  void End(const Fact& f) {
    // An end at the same moment as the start that cut the previous period short (one
    // period ends the day the next starts, and the sort put the start first) ends that
    // previous period, already closed: the new one stays open.
    if (cut_by_ && cut_by_->occurred_at.instant == f.occurred_at.instant) {
      spells_.back().facts.push_back(&f);
      cut_by_ = nullptr;
      return;
    }
    cut_by_ = nullptr;
    CloseAt(f.occurred_at.date, &f);
    open_ = false;
  }
  // The period still open, when there is one, as the last spell.
  void Finish() {
    if (open_) {
      current_.to.reset();
      spells_.push_back(current_);
    }
  }

 private:
  bool CloseAt(Date d, const Fact* by) {
    bool closed = open_ && current_.from < d;
    if (closed) {
      current_.to = d;
      if (by) current_.facts.push_back(by);
      spells_.push_back(current_);
    }
    current_.from = d;
    current_.to.reset();
    current_.facts.clear();
    return closed;
  }
  // A start and a move both say where the child lives now.
  void Place(const Fact& f) {
    current_.placement = f.data.placement;
    current_.provider = f.data.provider;
    current_.home_id = f.data.home_id;
    current_.out_of_area = f.data.out_of_area;
    current_.facts.push_back(&f);
  }

  std::vector<CareSpell>& spells_;
  bool open_ = false;
  CareSpell current_;
  // The start that last cut short an open period (closing a spell of at least a day).
  const Fact* cut_by_ = nullptr;
};

// Records of one kind (missing episodes, offences, youth justice cases) by their id, in the
// order each first appears.
template <typename Record>
class RecordsById {
 public:
  RecordsById(std::vector<Record>& records, std::string Record::*id) : records_(records), id_(id) {}
  RecordsById(const RecordsById&) = delete;
  RecordsById& operator=(const RecordsById&) = delete;
  Record& operator[](const std::string& id) {
    auto [it, inserted] = index_.try_emplace(id, records_.size());
    if (inserted) records_.emplace_back().*id_ = id;
    return records_[it->second];
  }

 private:
  std::vector<Record>& records_;
  std::string Record::*id_;
  std::map<std::string_view, size_t> index_;
};

// The facts that count, in timeline order, into the view: each kind where it belongs.
class ViewBuilder {
 public:
  explicit ViewBuilder(ChildView& v)
      : v_(v),
        care_(v.spells),
        episodes_(v.missing, &MissingEpisode::episode_id),
        offences_(v.offences, &Offence::offence_id),
        cases_(v.cases, &YjsCase::case_id) {}

  void Add(const Fact& f) {
    const EventData& d = f.data;
    switch (f.type) {
      case EventType::kChildRegistered:
        Register(f);
        break;
      case EventType::kCarePeriodStarted:
        care_.Start(f);
        break;
      case EventType::kCarePlacementChanged:
        care_.ChangePlacement(f);
        break;
      case EventType::kCareLegalStatusChanged:
        care_.ChangeLegalStatus(f);
        break;
      case EventType::kCarePeriodEnded:
        care_.End(f);
        break;
      case EventType::kCareLeaverContactRecorded:
        v_.contacts.push_back(&f);
        break;
      case EventType::kExploitationRiskAssessed:
        v_.risk_assessments.push_back(&f);
        break;
      case EventType::kPlacementPoliceCallout:
        v_.callouts.push_back(&f);
        break;
      case EventType::kMissingReported:
        episodes_[d.episode_id].reported = &f;
        break;
      case EventType::kMissingReturned:
        episodes_[d.episode_id].returned = &f;
        break;
      case EventType::kMissingReturnInterview:
        episodes_[d.episode_id].interview = &f;
        break;
      case EventType::kOffenceRecorded:
        offences_[d.offence_id].recorded = &f;
        break;
      case EventType::kOutcomeRecorded:
      case EventType::kCourtOutcomeRecorded:
        offences_[d.offence_id].outcomes.push_back(&f);
        break;
      case EventType::kCourtRemandDecided:
        v_.remands.push_back(&f);
        break;
      case EventType::kArrestRecorded:
      case EventType::kEventRetracted:
        break;
      case EventType::kYjsCaseOpened:
        cases_[d.case_id].opened = &f;
        break;
      case EventType::kYjsCaseClosed:
        cases_[d.case_id].closed = &f;
        break;
    }
  }
  void Finish() { care_.Finish(); }

 private:
  void Register(const Fact& f) {
    v_.registered = &f;
    v_.dob = f.data.dob;
    v_.sex = f.data.sex;
    v_.ethnicity = f.data.ethnicity;
    v_.prior_formal_outcomes = f.data.prior_formal_outcomes.value_or(0);
  }

  ChildView& v_;
  CareWalk care_;
  RecordsById<MissingEpisode> episodes_;
  RecordsById<Offence> offences_;
  RecordsById<YjsCase> cases_;
};

// Short breaks are flagged; adjacent stretches with the same details are one.
void MergeStretches(std::vector<CareSpell>& spells) {
  std::vector<CareSpell> merged;
  for (auto& s : spells) {
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
  spells = std::move(merged);
}

// An offence whose record was withdrawn (retracted, or superseded by nothing of the same
// offence id) is no longer an offence: its outcomes go with it, instead of standing as an
// outcome of an unknown offence. An outcome whose offence record has not arrived yet stays.
void DropWithdrawnOffences(const Timeline& timeline, std::optional<Instant> known_at,
                           const std::unordered_set<std::string_view>& removed,
                           std::vector<Offence>& offences) {
  std::unordered_set<std::string_view> withdrawn;
  for (const auto& f : timeline.facts) {
    if (f.type == EventType::kOffenceRecorded && KnownAt(f, known_at) &&
        removed.count(f.event_id)) {
      withdrawn.insert(f.data.offence_id);
    }
  }
  std::erase_if(offences,
                [&](const Offence& o) { return !o.recorded && withdrawn.count(o.offence_id) > 0; });
}

void ChooseFinalDisposals(std::vector<Offence>& offences) {
  for (auto& o : offences) {
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
}

void SortByOffenceDate(std::vector<Offence>& offences) {
  auto offence_date = [](const Offence& o) {
    return o.recorded ? o.recorded->occurred_at.instant
                      : (o.final ? Instant{o.decided} : Instant{});
  };
  std::stable_sort(offences.begin(), offences.end(), [&](const Offence& a, const Offence& b) {
    return offence_date(a) < offence_date(b);
  });
}

}  // namespace

ChildView ResolveChild(std::string_view child_id, const Timeline& timeline,
                       std::optional<Instant> known_at) {
  ChildView v;
  v.child_id = child_id;
  v.partition = timeline.partition;
  const auto removed = RemovedFacts(timeline, known_at);
  ViewBuilder builder(v);
  for (const auto& f : timeline.facts) {
    if (KnownAt(f, known_at) && !removed.count(f.event_id)) builder.Add(f);
  }
  builder.Finish();
  MergeStretches(v.spells);
  DropWithdrawnOffences(timeline, known_at, removed, v.offences);
  ChooseFinalDisposals(v.offences);
  SortByOffenceDate(v.offences);
  return v;
}

}  // namespace careledger
