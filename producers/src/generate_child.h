// One child's life as the sources record it: the care story (generate_child.cc) and the police
// and youth justice story (generate_police.cc) of one ChildStory. Private to producers/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "generate_impl.h"
#include "generate_tables.h"

namespace careledger::generate_detail {

struct Stay {  // one placement within a care period: [from, to)
  Date from, to;
  Code placement;
  int home = 0;              // children's home number, 0 when not a children's home
  bool looked_after = true;  // false for V3/V4 short breaks
};

struct Period {
  Date start;
  std::optional<Date> end;  // none while open at the feed's end
  bool short_break = false;
};

// A change within a period of care, planned before any of the period is recorded.
struct CareChange {
  Date at = {};
  Code legal_status = nullptr;  // a legal status change, or else a placement change
  Code placement = nullptr;
};

// How one period of care goes: drawn in full, then recorded.
struct PeriodPlan {
  Path path = Path::kShort;
  Code legal = "V2";
  Code placement = nullptr;
  Code reason = "E4A";
  int64_t length = 0;
  Date end = {};
  std::vector<CareChange> changes = {};
};

class ChildStory {
 public:
  ChildStory(const GeneratorOptions& o, Feed& feed, uint64_t index, Date dob, int homes)
      : o_(o),
        feed_(feed),
        story_(Mix(o.seed, index * 4)),
        delays_(Mix(o.seed, index * 4 + 1)),
        faults_(Mix(o.seed, index * 4 + 2)),
        ids_(Mix(o.seed, index * 4 + 3)),
        dob_(dob),
        homes_(homes),
        history_start_(o.start - days{3 * 365}),
        index_(index) {}

  void Run();

 private:
  int AgeAt(Date d) const;

  void Emit(Source source, EventType type, Instant at, bool with_time, const std::string& data);
  void EmitAs(std::string_view child, Source source, EventType type, Instant at, bool with_time,
              const std::string& data);
  const std::string& ChildId();

  std::string HomeId(int home) const;
  bool HomeOutOfArea(int home) const;
  Code HomeProvider(int home) const;
  Code PlacementFor(Date at);
  Data PlacementData(Code placement, int home);
  int HomeFor(Code placement);

  // Care (generate_child.cc).
  void Care();
  std::optional<Date> CarePeriod(Date entry, Date eighteenth);
  PeriodPlan PlanPeriod(Date entry, Date eighteenth);
  void DrawPath(PeriodPlan& plan, Date entry, Date eighteenth);
  void DrawMoves(PeriodPlan& plan, Date entry);
  void RecordPeriod(Date entry, const PeriodPlan& plan, const std::optional<Date>& open_end);
  void ShortBreaks();
  void CareLeaver();

  // Police and youth justice (generate_police.cc).
  const Stay* StayAt(Date d) const;
  Instant TimeOn(Date d);
  void Police();
  void MissingEpisodes(Date from, Date to, double per_year);
  static double AgeFactor(int age);
  void Offences(Date from, Date to, double frailty);
  void Offence(Instant at, const Stay* stay);
  void Remand(std::string_view offence, bool serious, Instant charged, Instant court,
              std::string_view disposal);
  void YjsCase(Instant decided, std::string_view disposal);
  void OpenCase(Instant at, Code intervention, int64_t months);
  void Callouts(Date from, Date to);
  void RiskAssessments();

  const GeneratorOptions& o_;
  Feed& feed_;
  Random story_, delays_, faults_, ids_;
  std::string id_;
  Date dob_;
  int homes_;
  Date history_start_;  // the care history in the extract starts three years before the window
  uint64_t index_;
  Code sex_ = "U";
  Ethnicity ethnicity_ = kEthnicity[0].first;
  bool male_ = false;
  std::vector<Period> periods_;
  std::vector<Stay> stays_;
  std::vector<Date> assessment_triggers_;
  Instant case_open_until_ = Instant::min();
  int prior_formal_ = 0;
  Date first_ = Date::max();
};

}  // namespace careledger::generate_detail
