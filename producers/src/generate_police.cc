// One child's story in police and youth justice records: missing episodes, offences and their
// outcomes, youth justice cases, children's homes' callouts and exploitation screening.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "generate_child.h"

namespace careledger::generate_detail {

// The stay (if any) the child is in at `t`.
const Stay* ChildStory::StayAt(Date d) const {
  for (const Stay& s : stays_) {
    if (s.from <= d && d < s.to) return &s;
  }
  return nullptr;
}

// A moment in the evening-heavy hours when children go missing and offend.
Instant ChildStory::TimeOn(Date d) {
  int64_t s = story_.Chance(0.6) ? story_.Uniform(15 * 3600, 86399) : story_.Uniform(0, 86399);
  return Instant{d} + seconds{s};
}

// Police and youth justice records start with the feed's window; the police hold nothing of
// a child under 10 (the age of criminal responsibility) as an offender.
void ChildStory::Police() {
  bool ever_cla =
      std::any_of(stays_.begin(), stays_.end(), [](const Stay& s) { return s.looked_after; });
  // Draw the child's propensities whether or not they are 10–17 in the window, so a child's
  // story does not depend on the window's length.
  bool missing_prone = story_.Chance(ever_cla ? 0.25 : 0.012);
  double missing_rate = Pick<kMissingRate>(story_);
  // Children cautioned or sentenced in a year: England's 2024/25 count per child within 5 %
  // (`careledger_bench_calibration`); children in care 3.5 times as often offenders.
  double offending = ever_cla ? 0.15 : 0.042;
  offending *= (male_ ? 1.4 : 0.6) * ethnicity_.offending;
  bool offender = story_.Chance(std::min(offending, 0.9));
  double frailty = Pick<kOffendingFrailty>(story_);
  if (offender && AgeAt(o_.start) >= 11 && story_.Chance(0.2)) {
    prior_formal_ = int(story_.Uniform(1, 3));
  }
  if (!missing_prone && !offender && stays_.empty()) return;  // most children
  Date from = std::max(o_.start, Anniversary(dob_, 10));
  Date to = std::min(o_.end, Anniversary(dob_, 18));
  if (from >= to) return;
  if (missing_prone) MissingEpisodes(from, to, missing_rate);
  if (offender) Offences(from, to, frailty);
  Callouts(from, to);
  RiskAssessments();
}

// Episodes as a Poisson process, twice as often from a children's home and a third as often
// from the family home.
void ChildStory::MissingEpisodes(Date from, Date to, double per_year) {
  const double max_rate = per_year * 2.0 / 365.0;
  Instant t = Instant{from};
  int episodes = 0;
  while (true) {
    t += seconds{int64_t(story_.Exponential(kDay / max_rate))};
    Date d = DayOf(t);
    if (d >= to) break;
    const Stay* stay = StayAt(d);
    double rate = (stay == nullptr ? 0.35 : stay->home > 0 ? 2.0 : 1.0) * per_year / 365.0;
    if (!story_.Chance(rate / max_rate)) continue;
    Instant reported = TimeOn(d);
    std::string episode = HexId("MP", ids_.Next());
    Code risk = Pick<kRisk>(story_);
    Data d1;
    d1.Str("episode_id", episode).Str("category", Pick<kCategory>(story_)).Str("risk", risk);
    if (stay && stay->home > 0) d1.Str("from_home_id", HomeId(stay->home));
    Emit(Source::kPolice, EventType::kMissingReported, reported, true, d1.str());
    ++episodes;
    if (stay && stay->home > 0 && story_.Chance(0.85)) {
      EmitAs(ChildId(), Source::kLcs, EventType::kPlacementPoliceCallout,
             reported - seconds{story_.Uniform(60, 1800)}, true,
             Data().Str("home_id", HomeId(stay->home)).Str("reason", "missing_report").str());
    }
    // Most return within a day; a tail stays away for days or weeks.
    int64_t away = story_.Chance(0.6)    ? story_.Uniform(2 * 3600, kDay)
                   : story_.Chance(0.75) ? story_.Uniform(kDay, 3 * kDay)
                                         : story_.Uniform(3 * kDay, 21 * kDay);
    Instant back = reported + seconds{away};
    t = back;
    if (risk[0] == 'h' || (risk[0] == 'm' && story_.Chance(0.3))) {
      assessment_triggers_.push_back(DayOf(back));
    }
    if (DayOf(back) >= o_.end) break;  // still missing when the extract was taken
    Emit(Source::kPolice, EventType::kMissingReturned, back, true,
         Data().Str("episode_id", episode).str());
    if (!story_.Chance(0.9)) continue;  // no interview recorded at all
    bool offered = story_.Chance(0.85);
    bool accepted = offered && story_.Chance(0.65);
    Data d3;
    d3.Str("episode_id", episode).Bool("offered", offered).Bool("accepted", accepted);
    Instant at = back + seconds{story_.Uniform(3600, 3 * kDay)};
    if (accepted) {
      // Statutory guidance asks for the interview within 72 hours; about half manage it.
      at = back + seconds{story_.Chance(0.55) ? story_.Uniform(4 * 3600, 72 * 3600)
                                              : story_.Uniform(73 * 3600, 20 * kDay)};
      d3.Str("held_at", InstantText(at));
    }
    if (DayOf(at) < o_.end) {
      Emit(Source::kPolice, EventType::kMissingReturnInterview, at, true, d3.str());
    }
  }
  if (episodes >= 3) assessment_triggers_.push_back(to - days{1});
}

double ChildStory::AgeFactor(int age) {
  return age < 12 ? 0.3 : age < 14 ? 0.7 : age < 16 ? 1.2 : 1.6;
}

void ChildStory::Offences(Date from, Date to, double frailty) {
  // About 2 offences a year per 100 children aged 10–17 recorded with a suspect, counting
  // those that end in no further action; children in care offend 1.5 times as often while
  // in care, on top of being more often offenders at all.
  const double base = 0.085 * frailty / 365.0;
  const double max_rate = base * 1.6 * 1.5 * 1.3;
  Instant t = Instant{from};
  while (true) {
    t += seconds{int64_t(story_.Exponential(kDay / max_rate))};
    Date d = DayOf(t);
    if (d >= to) break;
    const Stay* stay = StayAt(d);
    bool cla = stay && stay->looked_after;
    double rate = base * AgeFactor(AgeAt(d)) * (cla ? 1.5 * (stay->home > 0 ? 1.3 : 1.0) : 1.0);
    if (!story_.Chance(rate / max_rate)) continue;
    Offence(TimeOn(d), stay);
  }
}

void ChildStory::Offence(Instant at, const Stay* stay) {
  std::string offence = HexId("OF", ids_.Next());
  std::string_view group = PickNationalOffenceGroup(story_);
  Data d;
  d.Str("offence_id", offence).Str("offence_group", group);
  bool knife = false;
  if (group == "burglary" && story_.Chance(0.6)) d.Str("offence_type", "domestic_burglary");
  if (group == "theft_handling" && story_.Chance(0.2)) d.Str("offence_type", "vehicle_theft");
  if (group == "breach_of_statutory_order" && story_.Chance(0.5)) {
    d.Str("offence_type", "breach_of_bail");
  }
  if (group == "other" && story_.Chance(0.25)) {
    d.Str("offence_type", "knife_possession");
    knife = true;
  }
  if (group == "violence_against_person") knife = story_.Chance(0.08);
  if (group == "robbery") knife = story_.Chance(0.2);
  if (knife) d.Bool("knife_related", true);
  // In children's homes staff call the police to damage and assaults a family would not.
  bool at_placement = stay && stay->looked_after && story_.Chance(stay->home > 0 ? 0.35 : 0.12);
  d.Bool("at_placement", at_placement);
  Emit(Source::kPolice, EventType::kOffenceRecorded, at, true, d.str());
  if (group == "drugs" || group == "robbery") assessment_triggers_.push_back(DayOf(at));

  bool serious = group == "violence_against_person" || group == "robbery" || group == "burglary" ||
                 group == "sexual";
  if (story_.Chance(serious ? 0.55 : 0.25)) {
    Instant arrested = at + seconds{story_.Uniform(600, 3 * kDay)};
    if (DayOf(arrested) < o_.end) {
      Emit(Source::kPolice, EventType::kArrestRecorded, arrested, true,
           Data().Str("offence_id", offence).Str("arrested_at", InstantText(arrested)).str());
    }
  }
  if (!story_.Chance(0.92)) return;  // still under investigation
  OutcomeRow row = Pick<kPoliceOutcome>(story_);
  std::string_view disposal = row.disposal ? row.disposal : "";
  int64_t wait = row.home_office == 1            ? story_.Uniform(1, 60)
                 : disposal.starts_with("youth") ? story_.Uniform(14, 90)
                                                 : story_.Uniform(3, 60);
  Instant decided = at + seconds{wait * kDay + story_.Uniform(0, 8 * 3600)};
  if (DayOf(decided) >= o_.end) return;
  Data o;
  o.Str("offence_id", offence);
  if (row.home_office > 0) o.Int("home_office_outcome", row.home_office);
  if (row.disposal) o.Str("disposal", row.disposal);
  o.Str("decided_at", InstantText(decided));
  Emit(Source::kPolice, EventType::kOutcomeRecorded, decided, true, o.str());
  if (row.home_office == 1) {
    Instant court = decided + seconds{story_.Uniform(30, 250) * kDay + story_.Uniform(0, 6 * 3600)};
    if (DayOf(court) >= o_.end) return;
    disposal = Pick<kCourtDisposal>(story_);
    Remand(offence, serious, decided, court, disposal);
    Emit(Source::kYjs, EventType::kCourtOutcomeRecorded, court, true,
         Data()
             .Str("offence_id", offence)
             .Str("disposal", disposal)
             .Str("decided_at", InstantText(court))
             .str());
    decided = court;
  }
  YjsCase(decided, disposal);
}

// At the first hearing after a charge the court decides where the child waits for the next:
// most are bailed; a few, more often those charged with serious offences and those the court
// goes on to sentence to custody, are remanded to youth detention (England 2023/24: about 700
// remand episodes against 400 custodial sentences) or to local authority accommodation. Drawn
// from the offence's own stream, so that the story's draws, and every feed's other events,
// stay as they were.
void ChildStory::Remand(std::string_view offence, bool serious, Instant charged, Instant court,
                        std::string_view disposal) {
  uint64_t id = 0xcbf29ce484222325ull;  // FNV-1a: the same on every platform, as std::hash is not
  for (char c : offence) id = (id ^ uint8_t(c)) * 0x100000001b3ull;
  Random draw(Mix(o_.seed ^ 0x7e3a4d, id));
  const bool custody = disposal == "detention_training_order" || disposal == "long_term_detention";
  const double to_yda = custody ? 0.5 : serious ? 0.05 : 0.01;
  const double to_la = serious ? 0.06 : 0.02;
  const double u = draw.Unit();
  Code to = u < to_yda           ? "youth_detention_accommodation"
            : u < to_yda + to_la ? "local_authority_accommodation"
            : u < 0.4            ? "bail"
                                 : nullptr;  // no hearing before the one that decides
  if (!to) return;
  const int64_t days_to_court = (court - charged) / seconds{kDay};
  Instant at = charged + seconds{draw.Uniform(0, std::min<int64_t>(14, days_to_court - 1)) * kDay +
                                 draw.Uniform(9 * 3600, 16 * 3600)};
  if (at >= court) return;
  Emit(Source::kYjs, EventType::kCourtRemandDecided, at, true,
       Data()
           .Str("offence_id", offence)
           .Str("remanded_to", to)
           .Str("decided_at", InstantText(at))
           .str());
}

// The youth justice service works with a child after an out-of-court or court disposal, and
// on diversion after some informal ones. One case at a time.
void ChildStory::YjsCase(Instant decided, std::string_view disposal) {
  Code intervention = nullptr;
  int64_t months = 3;
  if (disposal == "youth_caution" || disposal == "youth_conditional_caution") {
    intervention = "oocd";
    months = story_.Uniform(3, 4);
  } else if (disposal == "referral_order" || disposal == "reparation_order") {
    intervention = "court_order";
    months = story_.Uniform(3, 12);
  } else if (disposal == "youth_rehabilitation_order" || disposal == "yro_intensive_supervision") {
    intervention = "court_order";
    months = story_.Uniform(6, 24);
  } else if (disposal == "detention_training_order" || disposal == "long_term_detention") {
    intervention = "court_order";
    months = story_.Uniform(4, 24);
  } else if (disposal == "informal_with_yjs" || disposal == "community_resolution_yjs" ||
             (disposal == "outcome_22" && story_.Chance(0.5))) {
    intervention = "diversion";
    months = 3;
  }
  if (intervention) OpenCase(decided + seconds{story_.Uniform(0, 14) * kDay}, intervention, months);
}

void ChildStory::OpenCase(Instant at, Code intervention, int64_t months) {
  if (at < case_open_until_ || DayOf(at) >= o_.end) return;
  std::string id = HexId("YJ", ids_.Next());
  Data d;
  d.Str("case_id", id).Str("intervention", intervention);
  Emit(Source::kYjs, EventType::kYjsCaseOpened, at, true, d.str());
  Instant closed = at + seconds{months * 30 * kDay + story_.Uniform(0, 20) * kDay};
  case_open_until_ = closed;
  if (DayOf(closed) < o_.end) {
    Emit(Source::kYjs, EventType::kYjsCaseClosed, closed, true, d.str());
  }
}

// Children's homes call the police for incidents besides missing children; a quarter of the
// calls name no child and carry the home's placeholder instead.
void ChildStory::Callouts(Date from, Date to) {
  const double per_day = 1.2 / 365.0;
  for (const Stay& s : stays_) {
    if (s.home == 0) continue;
    Date a = std::max(from, s.from), b = std::min(to, s.to);
    if (a >= b) continue;
    Instant t = Instant{a};
    while (true) {
      t += seconds{int64_t(story_.Exponential(kDay / per_day))};
      if (DayOf(t) >= b) break;
      std::string home = HomeId(s.home);
      Instant at = TimeOn(DayOf(t));
      std::string data =
          Data().Str("home_id", home).Str("reason", Pick<kCalloutReason>(story_)).str();
      if (story_.Chance(0.25)) {
        EmitAs(home, Source::kLcs, EventType::kPlacementPoliceCallout, at, true, data);
      } else {
        Emit(Source::kLcs, EventType::kPlacementPoliceCallout, at, true, data);
      }
    }
  }
}

// Exploitation screening after high-risk missing episodes and drugs or robbery offences, at
// most one a quarter; a medium or high assessment may bring a youth justice prevention case.
void ChildStory::RiskAssessments() {
  std::sort(assessment_triggers_.begin(), assessment_triggers_.end());
  std::optional<Date> last;
  int done = 0;
  for (Date at : assessment_triggers_) {
    if (done == 4 || (last && at - *last < days{90}) || !story_.Chance(0.6)) continue;
    Date on = at + days{story_.Uniform(1, 21)};
    if (on >= o_.end) break;
    Code level = Pick<kLevel>(story_);
    Code kind = std::string_view(sex_) == "F" ? Pick<kKindGirl>(story_) : Pick<kKindBoy>(story_);
    Emit(Source::kLcs, EventType::kExploitationRiskAssessed, Instant{on}, false,
         Data().Str("kind", kind).Str("level", level).str());
    last = at;
    ++done;
    if (level[0] != 'n' && level[0] != 'l' && AgeAt(on) < 18 && story_.Chance(0.3)) {
      OpenCase(Instant{on} + seconds{story_.Uniform(1, 30) * kDay}, "prevention",
               story_.Uniform(3, 6));
    }
  }
}

}  // namespace careledger::generate_detail
