// One child's care as social care records it: registration, periods of care with their
// placements and legal statuses, short breaks, and contacts as a care leaver.
#include "generate_child.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace careledger::generate_detail {

void ChildStory::Run() {
  sex_ = Pick<kSex>(story_);
  ethnicity_ = Pick<kEthnicity>(story_);
  male_ = std::string_view(sex_) == "M";
  Care();
  ShortBreaks();
  std::sort(stays_.begin(), stays_.end(),
            [](const Stay& a, const Stay& b) { return a.from < b.from; });
  Police();
  CareLeaver();
  if (first_ == Date::max()) return;  // no source ever knew of this child
  Date registered = std::max(dob_, first_ - days{story_.Uniform(0, 730)});
  Data d;
  d.Str("dob", DateText(dob_)).Str("sex", sex_).Str("ethnicity", ethnicity_.code);
  if (prior_formal_ > 0) d.Int("prior_formal_outcomes", prior_formal_);
  Emit(Source::kLcs, EventType::kChildRegistered, Instant{registered}, false, d.str());
  feed_.CountChild();
}

int ChildStory::AgeAt(Date d) const {
  using std::chrono::year_month_day;
  year_month_day b{dob_}, t{d};
  int age = int(t.year()) - int(b.year());
  if (t.month() < b.month() || (t.month() == b.month() && t.day() < b.day())) --age;
  return age;
}

void ChildStory::Emit(Source source, EventType type, Instant at, bool with_time,
                      const std::string& data) {
  EmitAs(ChildId(), source, type, at, with_time, data);
  first_ = std::min(first_, DayOf(at));
}

void ChildStory::EmitAs(std::string_view child, Source source, EventType type, Instant at,
                        bool with_time, const std::string& data) {
  feed_.Emit({delays_, faults_, ids_}, source, type, child, at, with_time, data);
}

// Pseudonymous, from the seed alone; made only for the few children a source knows of.
const std::string& ChildStory::ChildId() {
  if (id_.empty()) {
    id_ += 'C';  // id_ is empty here; "= \"C\"" trips g++ 12's -Wrestrict
    AppendHex(id_, Mix(o_.seed ^ 0x5eed, index_) >> 8, 14);
  }
  return id_;
}

std::string ChildStory::HomeId(int home) const {
  std::string s = "H";
  AppendDigits(s, unsigned(home), home < 1000 ? 3 : home < 10000 ? 4 : 9);
  return s;
}

// The first 45 % of homes are in the area; most are run by private providers.
bool ChildStory::HomeOutOfArea(int home) const {
  return home > homes_ * 45 / 100;
}

Code ChildStory::HomeProvider(int home) const {
  uint64_t h = Mix(o_.seed, uint64_t(home)) % 20;
  return h < 15 ? "PR4" : h < 18 ? "PR1" : "PR5";
}

Code ChildStory::PlacementFor(Date at) {
  int age = AgeAt(at);
  if (age < 10) return Pick<kPlacementUnder10>(story_);
  if (age < 14) return Pick<kPlacement10to13>(story_);
  if (age < 16) return Pick<kPlacement14to15>(story_);
  return Pick<kPlacement16to17>(story_);
}

// The placement members of care.period_started and care.placement_changed.
Data ChildStory::PlacementData(Code placement, int home) {
  std::string_view p = placement;
  Code provider = "PR1";
  bool out_of_area = false;
  if (home > 0) {
    provider = HomeProvider(home);
    out_of_area = HomeOutOfArea(home);
  } else if (p == "U1" || p == "U2" || p == "U3") {
    out_of_area = story_.Chance(0.25);
  } else if (p[0] == 'U') {
    provider = Pick<kFosterProvider>(story_);
    out_of_area = story_.Chance(0.35);
  } else if (p == "P1") {
    provider = "PR0";
    out_of_area = story_.Chance(0.05);
  } else if (p[0] == 'A') {
    provider = story_.Chance(0.7) ? "PR1" : "PR5";
    out_of_area = story_.Chance(0.4);
  } else if (p.size() == 3 && p[0] == 'Z') {
    provider = Pick<kSupportedProvider>(story_);
    out_of_area = story_.Chance(0.35);
  } else if (p == "R5") {
    provider = "PR3";
    out_of_area = story_.Chance(0.8);
  } else {
    provider = Pick<kSpecialistProvider>(story_);
    out_of_area = story_.Chance(0.6);
  }
  Data d;
  d.Str("placement", placement).Str("provider", provider);
  if (home > 0) d.Str("home_id", HomeId(home));
  d.Bool("out_of_area", out_of_area);
  return d;
}

int ChildStory::HomeFor(Code placement) {
  return std::string_view(placement) == "K2" ? int(story_.Uniform(1, homes_)) : 0;
}

void ChildStory::Care() {
  // About 6 % of children start a period of care before 18, most of them leaving it within
  // two years (the path weights above): with them an area's CLA on 31 March, starts and
  // ceased in the year are within 8 % of England's 2025 figures per child
  // (`careledger_bench_calibration`, bench/README.md).
  double p = 0.047 * ethnicity_.care;
  if (!story_.Chance(p)) return;
  int band = Pick<kEntryAgeBand>(story_);
  int band_end = band == 0 ? 1 : band == 1 ? 5 : band == 5 ? 10 : band == 10 ? 16 : 18;
  Date eighteenth = Anniversary(dob_, 18);
  Date entry =
      Anniversary(dob_, band) +
      days{story_.Uniform(0, (Anniversary(dob_, band_end) - Anniversary(dob_, band)).count() - 1)};
  for (int n = 0; n < 4 && entry < o_.end && entry < eighteenth; ++n) {
    std::optional<Date> end = CarePeriod(entry, eighteenth);
    if (!end || !story_.Chance(0.15)) break;  // about 1 in 7 come back into care
    entry = *end + days{story_.Uniform(30, 730)};
  }
}

// One period of care from `entry`, following a path chosen by age. Returns its end (none
// when still open at the feed's end). Periods that ended before the history begins are not
// in the extract.
std::optional<Date> ChildStory::CarePeriod(Date entry, Date eighteenth) {
  PeriodPlan plan = PlanPeriod(entry, eighteenth);
  std::optional<Date> open_end;
  if (plan.end < o_.end) open_end = plan.end;
  if (plan.end < history_start_) return open_end;  // over before the extract's history begins
  RecordPeriod(entry, plan, open_end);
  return open_end;
}

// Every draw of a period, in the order the story has always made them: its path, first
// placement, legal statuses, length, end and moves.
PeriodPlan ChildStory::PlanPeriod(Date entry, Date eighteenth) {
  PeriodPlan plan;
  int age = AgeAt(entry);
  plan.path = age < 1    ? Pick<kPathUnder1>(story_)
              : age < 5  ? Pick<kPath1to4>(story_)
              : age < 10 ? Pick<kPath5to9>(story_)
              : age < 16 ? Pick<kPath10to15>(story_)
                         : Pick<kPath16to17>(story_);
  if ((plan.path == Path::kRemand || plan.path == Path::kPace) && age < 12) {
    plan.path = Path::kHome;
  }
  plan.placement = PlacementFor(entry);
  DrawPath(plan, entry, eighteenth);
  plan.end = entry + days{std::max<int64_t>(plan.length, 1)};
  if (plan.end >= eighteenth) {
    plan.end = eighteenth;
    if (plan.path != Path::kLongTerm) plan.reason = Pick<kAgeOutReason>(story_);
  }
  DrawMoves(plan, entry);
  std::sort(plan.changes.begin(), plan.changes.end(),
            [](const CareChange& a, const CareChange& b) { return a.at < b.at; });
  return plan;
}

// The path's legal status and its changes, its length and the reason it ends.
void ChildStory::DrawPath(PeriodPlan& plan, Date entry, Date eighteenth) {
  auto& changes = plan.changes;
  auto after = [&](int64_t lo, int64_t hi) { return entry + days{story_.Uniform(lo, hi)}; };
  // SSDA903 legal statuses: C1 interim care order, C2 full care order, E1 placement order,
  // V2 accommodated by agreement (s20), L1/L2 police protection / emergency protection
  // order, J1/J2 remand / PACE transfer.
  switch (plan.path) {
    case Path::kShort:
      plan.legal = story_.Chance(0.15) ? (story_.Chance(0.7) ? "L1" : "L2")
                                       : (story_.Chance(0.8) ? "V2" : "C1");
      plan.length = story_.Uniform(2, 60);
      plan.reason = Pick<kHomeReason>(story_);
      break;
    case Path::kHome:
      plan.legal = story_.Chance(0.55) ? "V2" : "C1";
      plan.length = 20 + int64_t(story_.Exponential(300));
      plan.reason = Pick<kHomeReason>(story_);
      break;
    case Path::kAdoption: {
      plan.legal = "C1";
      Date order = after(200, 400);
      Date placed = order + days{story_.Uniform(30, 150)};
      changes.push_back({order, "E1"});
      changes.push_back({placed, nullptr, Pick<kAdoptive>(story_)});
      plan.length = (placed - entry).count() + story_.Uniform(100, 300);
      plan.reason = story_.Chance(0.6) ? "E11" : "E12";
      break;
    }
    case Path::kSgo:
      plan.legal = "C1";
      plan.placement = Pick<kKinship>(story_);
      changes.push_back({after(120, 300), "C2"});
      plan.length = story_.Uniform(300, 800);
      plan.reason = Pick<kSgoReason>(story_);
      break;
    case Path::kLongTerm:
      plan.legal = story_.Chance(0.8) ? "C1" : "V2";
      if (std::string_view(plan.legal) == "C1" || story_.Chance(0.3)) {
        changes.push_back({after(120, 360), "C2"});
      }
      plan.length = (eighteenth - entry).count();
      plan.reason = Pick<kAgeOutReason>(story_);
      break;
    case Path::kOther:
      plan.legal = story_.Chance(0.7) ? "V2" : "C1";
      plan.length = 10 + int64_t(story_.Exponential(200));
      plan.reason = Pick<kOtherReason>(story_);
      break;
    case Path::kRemand:  // remanded to youth detention accommodation
      plan.legal = "J1";
      plan.placement = story_.Chance(0.6) ? "R5" : "K1";
      plan.length = story_.Uniform(14, 120);
      plan.reason = story_.Chance(0.6) ? "E14" : "E9";
      break;
    case Path::kPace:  // a night in council accommodation under PACE
      plan.legal = "J2";
      plan.placement = story_.Chance(0.6) ? "K2" : "U6";
      plan.length = story_.Uniform(1, 2);
      plan.reason = "E4A";
      break;
  }
  std::string_view legal = plan.legal;
  if (legal == "L1" || legal == "L2") {
    changes.push_back({after(1, 8), story_.Chance(0.6) ? "C1" : "V2"});
  } else if (plan.path == Path::kHome && legal == "V2" && story_.Chance(0.2)) {
    changes.push_back({after(30, 180), "C1"});
  }
}

// Moves: foster placements last about two and a half years (teenagers' less than two),
// children's homes about one.
void ChildStory::DrawMoves(PeriodPlan& plan, Date entry) {
  if (plan.path == Path::kAdoption || plan.path == Path::kRemand || plan.path == Path::kPace) {
    return;
  }
  Date at = entry;
  Code current = plan.placement;
  for (int n = 0; n < 12; ++n) {
    double mean = std::string_view(current) == "K2" ? 330 : AgeAt(at) >= 10 ? 600 : 900;
    at += days{1 + int64_t(story_.Exponential(mean))};
    if (at >= plan.end) break;
    current = PlacementFor(at);
    plan.changes.push_back({at, nullptr, current});
  }
}

// The period's events as social care keyed them, and the stays the other sources see.
void ChildStory::RecordPeriod(Date entry, const PeriodPlan& plan,
                              const std::optional<Date>& open_end) {
  const Date end = plan.end;
  int home = HomeFor(plan.placement);
  Data start = Data().Str("legal_status", plan.legal);
  std::string data = start.str() + "," + PlacementData(plan.placement, home).str();
  Emit(Source::kLcs, EventType::kCarePeriodStarted, Instant{entry}, false, data);
  Stay stay{entry, end, plan.placement, home, true};
  for (const CareChange& c : plan.changes) {
    if (c.at >= end || c.at >= o_.end) break;
    if (c.legal_status) {
      Emit(Source::kLcs, EventType::kCareLegalStatusChanged, Instant{c.at}, false,
           Data().Str("legal_status", c.legal_status).str());
      continue;
    }
    stay.to = c.at;
    stays_.push_back(stay);
    int new_home = HomeFor(c.placement);
    Code why = plan.path == Path::kAdoption ? "CARPL" : Pick<kChangeReason>(story_);
    Emit(Source::kLcs, EventType::kCarePlacementChanged, Instant{c.at}, false,
         PlacementData(c.placement, new_home).Str("reason", why).str());
    stay = Stay{c.at, end, c.placement, new_home, true};
  }
  stays_.push_back(stay);
  if (open_end) {
    Emit(Source::kLcs, EventType::kCarePeriodEnded, Instant{end}, false,
         Data().Str("reason", plan.reason).str());
  }
  periods_.push_back({entry, open_end, false});
}

// A disabled child's agreed series of short breaks (V3/V4 in SSDA903): a few days at a
// time, several times a year, for some years.
void ChildStory::ShortBreaks() {
  if (!story_.Chance(0.0012)) return;
  Code legal = story_.Chance(0.75) ? "V3" : "V4";
  Date from = Anniversary(dob_, int(story_.Uniform(4, 14))) + days{story_.Uniform(0, 364)};
  Date until = std::min({from + days{story_.Uniform(365, 5 * 365)}, Anniversary(dob_, 18), o_.end});
  bool home = story_.Chance(0.2);
  int home_number = home ? int(story_.Uniform(1, homes_)) : 0;
  Code placement = home ? "K2" : "U6";
  for (Date at = from + days{int64_t(story_.Exponential(90))}; at < until;
       at += days{7 + int64_t(story_.Exponential(110))}) {
    Date back = at + days{story_.Uniform(1, 4)};
    bool overlaps = std::any_of(periods_.begin(), periods_.end(), [&](const Period& p) {
      return p.start <= back && (!p.end || at <= *p.end);
    });
    if (overlaps || at < history_start_) continue;
    std::string data =
        Data().Str("legal_status", legal).str() + "," + PlacementData(placement, home_number).str();
    Emit(Source::kLcs, EventType::kCarePeriodStarted, Instant{at}, false, data);
    Stay stay{at, back, placement, home_number, false};
    if (back < o_.end) {
      Emit(Source::kLcs, EventType::kCarePeriodEnded, Instant{back}, false,
           Data().Str("reason", "E4A").str());
    } else {
      stay.to = o_.end;
    }
    stays_.push_back(stay);
  }
}

// A child who left care at 16 or later after 13 weeks or more (since 14) is a care leaver;
// the authority records a contact around each birthday from the 17th to the 21st.
void ChildStory::CareLeaver() {
  for (const Period& p : periods_) {
    if (p.short_break || !p.end || AgeAt(*p.end) < 16) continue;
    Date since = std::max(p.start, Anniversary(dob_, 14));
    if (*p.end - since < days{91}) continue;
    for (int age = 17; age <= 21; ++age) {
      Date on = Anniversary(dob_, age) + days{story_.Uniform(-30, 60)};
      if (on <= *p.end) continue;
      if (on >= o_.end) break;
      bool back_in_care = std::any_of(periods_.begin(), periods_.end(), [&](const Period& q) {
        return q.start <= on && (!q.end || on < *q.end);
      });
      if (back_in_care) continue;
      Code in_touch = Pick<kInTouch>(story_);
      bool touch = std::string_view(in_touch) == "YES";
      Data d;
      d.Str("in_touch", in_touch)
          .Str("activity", touch ? Pick<kActivity>(story_) : "0")
          .Str("accommodation", touch ? Pick<kAccommodation>(story_) : "R2");
      Emit(Source::kLcs, EventType::kCareLeaverContactRecorded, Instant{on}, false, d.str());
    }
  }
}

}  // namespace careledger::generate_detail
