// The synthetic feed: a local authority's children as three source systems would report them.
// Shapes follow published national statistics in outline, so the figures look like a real
// authority's and never a real child's (identifiers come from the seed alone):
// - DfE "Children looked after in England" (SSDA903): about 70 CLA per 10,000 children; ages
//   at entry; mostly foster care, about 1 in 6 in children's homes, many with private
//   providers and out of area; C2/C1/V2/E1 the commonest legal statuses; V3/V4 short breaks;
//   about 1 in 10 CLA missing in a year, some many times; care leavers' contacts at 17–21.
// - MoJ/YJB "Youth justice statistics": only 10–17 year olds offend; the offence-group mix;
//   children in care several times as likely to offend as others; outcomes from no further
//   action to custody, with Home Office outcome codes; charges followed by a court outcome.
// - What real extracts do: some records late, re-sent, corrected, retracted, or malformed.
// The population is the area's 0–17s: births spread over the whole span so the number of
// children stays near --children; a child appears only once a source knows of them.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "careledger/events.h"
#include "careledger/producers.h"

namespace careledger {

uint64_t FeedSummary::events() const {
  uint64_t n = 0;
  for (const auto& [type, count] : events_by_type) n += count;
  return n;
}

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;

constexpr int64_t kDay = 86400;

// splitmix64: tiny, fast, and the same on every platform (std distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int64_t Uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + int64_t(Next() % uint64_t(hi - lo + 1));
  }
  double Unit() { return double(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  double Exponential(double mean) { return -std::log(1.0 - Unit()) * mean; }

 private:
  uint64_t s_;
};

uint64_t Mix(uint64_t a, uint64_t b) {
  Random r(a * 0x9e3779b97f4a7c15ull ^ b);
  return r.Next();
}

using Code = const char*;
template <typename T>
using W = std::pair<T, int>;

template <typename T, size_t N>
constexpr int TotalWeight(const std::pair<T, int> (&table)[N]) {
  int total = 0;
  for (const auto& [v, w] : table) total += w;
  return total;
}

// A value drawn from a table of (value, weight); the total is summed once, at compile time.
template <const auto& table>
auto Pick(Random& r) {
  static constexpr int kTotal = TotalWeight(table);
  int64_t pick = r.Uniform(0, kTotal - 1);
  for (const auto& [v, w] : table) {
    if ((pick -= w) < 0) return v;
  }
  return std::end(table)[-1].first;
}

// An offence group in the national mix (schemas/reference), which the generator checks it
// can read before it starts.
std::string_view PickNationalOffenceGroup(Random& r) {
  const NationalOffenceProfile& national = *NationalYouthOffences();
  int64_t pick = r.Uniform(0, national.total - 1);
  for (const auto& [group, n] : national.by_group) {
    if ((pick -= n) < 0) return group;
  }
  return national.by_group.back().first;
}

// ---- Code tables (weights are per mille or relative) ----------------------------------------
constexpr W<Code> kSex[] = {{"M", 510}, {"F", 489}, {"U", 1}};
// The population by SSDA903 ethnicity code (census shares, per mille), with each group's
// over-representation in care and in youth justice (DfE and YJB ethnicity tables, rounded).
struct Ethnicity {
  Code code;
  double care, offending;
};
constexpr W<Ethnicity> kEthnicity[] = {
    {{"WBRI", 1.0, 1.0}, 720}, {{"WIRI", 1.0, 1.0}, 5},  {{"WOTH", 1.0, 1.0}, 50},
    {{"WIRT", 3.0, 1.4}, 2},   {{"WROM", 3.0, 1.4}, 4},  {{"MWBC", 2.0, 1.4}, 15},
    {{"MWBA", 1.5, 1.4}, 6},   {{"MWAS", 1.5, 1.4}, 10}, {{"MOTH", 1.5, 1.4}, 15},
    {{"AIND", 0.4, 0.7}, 30},  {{"APKN", 0.4, 0.7}, 40}, {{"ABAN", 0.4, 0.7}, 15},
    {{"AOTH", 0.4, 0.7}, 15},  {{"BCRB", 1.5, 1.8}, 8},  {{"BAFR", 1.0, 1.8}, 35},
    {{"BOTH", 2.0, 1.8}, 5},   {{"CHNE", 0.3, 0.3}, 4},  {{"OOTH", 1.0, 1.0}, 15},
    {{"REFU", 1.0, 1.0}, 3},   {{"NOBT", 1.0, 1.0}, 3}};

// Age at entry to care, DfE starts: under 1 about 20 %, 1–4 15 %, 5–9 17 %, 10–15 35 %, 16+ 13 %.
constexpr W<int> kEntryAgeBand[] = {{0, 20}, {1, 15}, {5, 17}, {10, 35}, {16, 13}};
enum class Path { kShort, kHome, kAdoption, kSgo, kLongTerm, kOther, kRemand, kPace };
constexpr W<Path> kPathUnder1[] = {{Path::kShort, 10},
                                   {Path::kHome, 25},
                                   {Path::kAdoption, 35},
                                   {Path::kSgo, 15},
                                   {Path::kLongTerm, 15}};
constexpr W<Path> kPath1to4[] = {{Path::kShort, 15},
                                 {Path::kHome, 40},
                                 {Path::kAdoption, 15},
                                 {Path::kSgo, 15},
                                 {Path::kLongTerm, 15}};
constexpr W<Path> kPath5to9[] = {
    {Path::kShort, 15}, {Path::kHome, 49}, {Path::kSgo, 12}, {Path::kLongTerm, 24}};
constexpr W<Path> kPath10to15[] = {{Path::kShort, 20}, {Path::kHome, 48},  {Path::kLongTerm, 20},
                                   {Path::kOther, 6},  {Path::kRemand, 3}, {Path::kPace, 3}};
constexpr W<Path> kPath16to17[] = {{Path::kShort, 15}, {Path::kHome, 43},  {Path::kLongTerm, 27},
                                   {Path::kOther, 10}, {Path::kRemand, 3}, {Path::kPace, 2}};

constexpr W<Code> kPlacementUnder10[] = {{"U1", 4}, {"U2", 1},  {"U3", 14}, {"U4", 18},
                                         {"U5", 2}, {"U6", 46}, {"K2", 2},  {"P1", 8},
                                         {"R1", 1}, {"Z1", 2},  {"R3", 1}};
constexpr W<Code> kPlacement10to13[] = {{"U1", 4},  {"U3", 9}, {"U4", 22}, {"U6", 40},
                                        {"K2", 40}, {"P1", 5}, {"S1", 2},  {"Z1", 2}};
constexpr W<Code> kPlacement14to15[] = {{"U1", 3}, {"U3", 6}, {"U4", 14}, {"U6", 30}, {"K2", 60},
                                        {"P1", 4}, {"S1", 2}, {"Z1", 2},  {"K1", 1}};
constexpr W<Code> kPlacement16to17[] = {{"U1", 3}, {"U3", 5},   {"U4", 14}, {"U6", 24}, {"K2", 45},
                                        {"P1", 3}, {"Z11", 14}, {"Z12", 8}, {"Z13", 3}, {"Z14", 2},
                                        {"Z1", 2}, {"K1", 1},   {"S1", 1}};
constexpr W<Code> kKinship[] = {{"U1", 30}, {"U2", 10}, {"U3", 60}};
constexpr W<Code> kAdoptive[] = {{"A3", 10}, {"A4", 5}, {"A5", 55}, {"A6", 30}};

constexpr W<Code> kFosterProvider[] = {{"PR1", 55}, {"PR4", 40}, {"PR5", 5}};
constexpr W<Code> kSupportedProvider[] = {{"PR4", 70}, {"PR5", 20}, {"PR1", 10}};
constexpr W<Code> kSpecialistProvider[] = {{"PR4", 55}, {"PR5", 15}, {"PR2", 20}, {"PR1", 10}};

constexpr W<Code> kChangeReason[] = {{"CARPL", 25}, {"CLOSE", 5},  {"ALLEG", 3}, {"STAND", 10},
                                     {"APPRR", 8},  {"CREQB", 10}, {"CREQO", 8}, {"CHILD", 6},
                                     {"LAREQ", 10}, {"PLACE", 10}, {"OTHER", 5}};
constexpr W<Code> kHomeReason[] = {{"E4A", 80}, {"E4B", 10}, {"E13", 10}};
constexpr W<Code> kSgoReason[] = {{"E45", 35}, {"E46", 35}, {"E41", 10}, {"E47", 10}, {"E48", 10}};
constexpr W<Code> kAgeOutReason[] = {{"E17", 25}, {"E5", 35}, {"E6", 8}, {"E13", 8},
                                     {"E4A", 10}, {"E7", 3},  {"E8", 11}};
constexpr W<Code> kOtherReason[] = {{"E3", 30}, {"E8", 30}, {"E9", 15}, {"E16", 10}, {"E15", 15}};

constexpr W<const char*> kCategory[] = {{"missing", 85}, {"away", 15}};
constexpr W<Code> kRisk[] = {{"no_apparent_risk", 10}, {"low", 40}, {"medium", 40}, {"high", 10}};
constexpr W<double> kMissingRate[] = {{0.5, 40}, {1.5, 30}, {4.0, 20}, {10.0, 10}};  // a year
constexpr W<Code> kCalloutReason[] = {
    {"notifiable_incident", 50}, {"emergency", 25}, {"restraint", 25}};

constexpr W<double> kOffendingFrailty[] = {{1.0, 60}, {3.0, 25}, {8.0, 12}, {20.0, 3}};

// An outcome as the police record it (Home Office code and/or disposal), or a charge that
// goes to court (code 1, disposal decided by the court).
struct OutcomeRow {
  int home_office = 0;  // 0: none given
  Code disposal = nullptr;
};
constexpr W<OutcomeRow> kPoliceOutcome[] = {
    {{1, nullptr}, 20},  // charged: the court decides
    {{2, "youth_caution"}, 6},
    {{3, "youth_conditional_caution"}, 4},
    {{8, "community_resolution_police"}, 15},
    {{22, "outcome_22"}, 8},
    {{0, "informal_no_yjs"}, 3},
    {{0, "informal_with_yjs"}, 4},
    {{0, "community_resolution_other_agency"}, 1},
    {{0, "community_resolution_yjs"}, 3},
    {{16, "nfa"}, 12},  // victim does not support
    {{15, "nfa"}, 8},   // evidential difficulties
    {{14, "nfa"}, 4},
    {{10, "nfa"}, 3},  // not in the public interest (police)
    {{12, "nfa"}, 2},  // prosecution prevented: below the age of criminal responsibility etc.
    {{18, "nfa"}, 3},  // investigation complete, no suspect identified
    {{21, "nfa"}, 2},
    {{9, "nfa"}, 1},
    {{20, "nfa"}, 1},
    {{4, nullptr}, 1},  // taken into consideration: recorded, not a disposal of its own
    {{19, nullptr}, 1},
};
constexpr W<Code> kCourtDisposal[] = {{"discontinued", 10},
                                      {"dismissed", 5},
                                      {"withdrawn", 10},
                                      {"absolute_discharge", 2},
                                      {"conditional_discharge", 6},
                                      {"fine", 8},
                                      {"parents_fined", 1},
                                      {"referral_order", 30},
                                      {"order_to_continue", 2},
                                      {"reparation_order", 2},
                                      {"youth_rehabilitation_order", 14},
                                      {"yro_intensive_supervision", 3},
                                      {"detention_training_order", 6},
                                      {"long_term_detention", 1}};

constexpr W<Code> kInTouch[] = {{"YES", 88}, {"NO", 6}, {"REFU", 2}, {"NREQ", 2}, {"RHOM", 2}};
constexpr W<Code> kActivity[] = {{"F1", 6}, {"F2", 25}, {"F3", 5}, {"F4", 12}, {"F5", 2},
                                 {"P1", 2}, {"P2", 3},  {"P3", 2}, {"P4", 2},  {"P5", 1},
                                 {"G4", 8}, {"G5", 26}, {"G6", 6}};
constexpr W<Code> kAccommodation[] = {{"U1", 30}, {"D1", 15}, {"Z1", 12}, {"B1", 12}, {"E1", 6},
                                      {"K1", 3},  {"T1", 3},  {"B2", 3},  {"S2", 2},  {"V2", 2},
                                      {"W2", 1},  {"X", 2},   {"Y1", 4},  {"U2", 3}};
constexpr W<Code> kLevel[] = {{"none", 20}, {"low", 35}, {"medium", 30}, {"high", 15}};
constexpr W<Code> kKindGirl[] = {{"CSE", 55}, {"CCE", 25}, {"both", 20}};
constexpr W<Code> kKindBoy[] = {{"CCE", 70}, {"CSE", 10}, {"both", 20}};

enum class Source { kLcs, kPolice, kYjs };
std::string_view SourceName(Source s) {
  return s == Source::kLcs ? "lcs" : s == Source::kPolice ? "police-rms" : "yjs";
}

Date DayOf(Instant t) {
  return std::chrono::floor<days>(t);
}

// Text of dates, times and identifiers, written by hand: snprintf and the common formatters
// were most of the generator's time.
void AppendDigits(std::string& s, unsigned v, int width) {
  char buf[10];
  for (int i = width - 1; i >= 0; --i, v /= 10) buf[i] = char('0' + v % 10);
  s.append(buf, size_t(width));
}
void AppendDateText(std::string& s, Date d) {
  std::chrono::year_month_day ymd{d};
  AppendDigits(s, unsigned(int(ymd.year())), 4);
  s += '-';
  AppendDigits(s, unsigned(ymd.month()), 2);
  s += '-';
  AppendDigits(s, unsigned(ymd.day()), 2);
}
std::string DateText(Date d) {
  std::string s;
  AppendDateText(s, d);
  return s;
}
std::string InstantText(Instant t) {  // RFC 3339 in UTC, as FormatInstant
  std::string s;
  s.reserve(20);
  Date d = DayOf(t);
  AppendDateText(s, d);
  unsigned secs = unsigned((t - Instant{d}).count());
  s += 'T';
  AppendDigits(s, secs / 3600, 2);
  s += ':';
  AppendDigits(s, secs / 60 % 60, 2);
  s += ':';
  AppendDigits(s, secs % 60, 2);
  s += 'Z';
  return s;
}
void AppendHex(std::string& s, uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) s += kHex[(v >> (4 * i)) & 0xf];
}
std::string HexId(std::string_view prefix, uint64_t v) {
  std::string s(prefix);
  AppendHex(s, v, 12);
  return s;
}

// ---- Data objects --------------------------------------------------------------------------
class Data {
 public:
  Data& Str(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(s_, value);
    return *this;
  }
  Data& Bool(std::string_view key, bool value) {
    Key(key);
    s_ += value ? "true" : "false";
    return *this;
  }
  Data& Int(std::string_view key, int64_t value) {
    Key(key);
    s_ += std::to_string(value);
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  void Key(std::string_view key) {
    if (!s_.empty()) s_ += ',';
    s_ += '"';
    s_ += key;
    s_ += "\":";
  }
  std::string s_;
};

// ---- The feed: lines with the time the source sent them ------------------------------------
struct Line {
  Instant sent;    // recorded_at, or later for a re-sent duplicate
  uint64_t order;  // generation order, so equal times keep a stable order
  std::string text;
  bool invalid;
};

// The malformed lines real extracts carry, one of each in turn.
enum class Fault { kUnknownCode, kMissingField, kBadDate, kUnknownType, kTruncated };
constexpr int kFaults = 5;

class Feed {
 public:
  Feed(const GeneratorOptions& o, FeedSummary& summary)
      : o_(o), summary_(summary), last_recorded_(std::chrono::sys_days{o.end} - seconds{1}) {}

  // Per-child random streams besides the story's: how long each record took to key, the
  // feed's faults (and every line they add), and the story's identifiers. Apart, so that a
  // fault rate changes only the lines its faults touch.
  struct Streams {
    Random& delays;
    Random& faults;
    Random& ids;
  };

  void Emit(Streams r, Source source, EventType type, std::string_view child, Instant occurred,
            bool with_time, const std::string& data) {
    std::string id = NewId(r.ids);
    Instant recorded =
        occurred + (with_time ? seconds{0} : hours{9}) + NormalDelay(r.delays, source);
    bool late = r.faults.Chance(o_.late_rate);
    if (late) recorded = occurred + seconds{r.faults.Uniform(21 * kDay, 180 * kDay)};
    recorded = InExtract(recorded);
    bool correct = r.faults.Chance(o_.correction_rate);
    bool supersede = r.faults.Chance(0.7);
    bool duplicate = r.faults.Chance(o_.duplicate_rate);
    bool invalid = r.faults.Chance(o_.invalid_rate);

    // A superseded record carried a mistyped time or date; its correction the right one.
    Instant first = occurred;
    if (correct && supersede) {
      first -= with_time ? seconds{r.faults.Uniform(3600, 12 * 3600)}
                         : seconds{r.faults.Uniform(1, 3) * kDay};
    }
    std::string text =
        Envelope(id, type, source, child, Stamp(first, with_time), recorded, {}, data);
    if (late) ++summary_.late;
    Count(type);
    if (duplicate) {
      Add(recorded + seconds{r.faults.Uniform(3600, 30 * kDay)}, text);
      ++summary_.duplicates;
    }
    if (invalid) AddInvalid(r, type, text, recorded);
    Add(recorded, std::move(text));
    if (!correct) return;
    std::string id2 = NewId(r.faults);
    if (supersede) {
      Instant at = InExtract(recorded + seconds{r.faults.Uniform(kDay, 90 * kDay)});
      Add(at, Envelope(id2, type, source, child, Stamp(occurred, with_time), at, id, data));
      Count(type);
      ++summary_.superseding;
      return;
    }
    // Keyed twice by mistake; the copy is retracted once someone notices. The retraction is
    // about the copy's event, so it carries that event's occurred_at: what happened in the
    // world stays inside the window, whenever the mistake was found.
    Instant copy_at = InExtract(recorded + seconds{r.faults.Uniform(600, 48 * 3600)});
    Add(copy_at, Envelope(id2, type, source, child, Stamp(occurred, with_time), copy_at, {}, data));
    Count(type);
    Instant retract_at = InExtract(copy_at + seconds{r.faults.Uniform(kDay, 60 * kDay)});
    Add(retract_at,
        Envelope(NewId(r.faults), EventType::kEventRetracted, source, child,
                 Stamp(occurred, with_time), retract_at, {},
                 Data().Str("target_event_id", id2).Str("reason", "duplicate_record").str()));
    Count(EventType::kEventRetracted);
    ++summary_.retractions;
  }

  void CountChild() { ++summary_.children; }

  Status Write(std::ostream& out) {
    std::sort(lines_.begin(), lines_.end(), [](const Line& a, const Line& b) {
      return std::tie(a.sent, a.order) < std::tie(b.sent, b.order);
    });
    std::string buffer;
    buffer.reserve(1 << 20);
    uint64_t number = 0;
    for (const Line& line : lines_) {
      ++number;
      if (line.invalid) summary_.invalid_lines.push_back(number);
      buffer += line.text;
      buffer += '\n';
      if (buffer.size() >= (1 << 20) - 1024) {
        out.write(buffer.data(), std::streamsize(buffer.size()));
        buffer.clear();
      }
    }
    out.write(buffer.data(), std::streamsize(buffer.size()));
    summary_.lines = number;
    out.flush();
    if (!out) return Status::Fatal("cannot write the feed");
    return Status::Ok();
  }

 private:
  static std::string Stamp(Instant t, bool with_time) {
    return with_time ? InstantText(t) : DateText(DayOf(t));
  }

  // How long each source takes to key a record: police at once, social care within a
  // fortnight of working days, youth justice within ten days. Never 21 days: that is "late".
  static seconds NormalDelay(Random& r, Source source) {
    switch (source) {
      case Source::kPolice:
        return seconds{r.Chance(0.85) ? r.Uniform(300, 6 * 3600) : r.Uniform(6 * 3600, 3 * kDay)};
      case Source::kLcs: {
        int64_t d = r.Chance(0.65)  ? r.Uniform(0, 1)
                    : r.Chance(0.7) ? r.Uniform(2, 5)
                                    : r.Uniform(6, 14);
        return seconds{d * kDay + r.Uniform(0, 8 * 3600)};
      }
      case Source::kYjs:
        return seconds{r.Uniform(3600, 10 * kDay)};
    }
    return seconds{0};
  }

  static std::string NewId(Random& r) {  // a version 4 UUID
    uint64_t a = r.Next(), b = r.Next();
    std::string s;
    s.reserve(36);
    AppendHex(s, a >> 32, 8);
    s += '-';
    AppendHex(s, (a >> 16) & 0xffff, 4);
    s += "-4";
    AppendHex(s, a & 0xfff, 3);
    s += '-';
    AppendHex(s, 0x8000 | ((b >> 48) & 0x3fff), 4);
    s += '-';
    AppendHex(s, b & 0xffffffffffffull, 12);
    return s;
  }

  static std::string Envelope(std::string_view id, EventType type, Source source,
                              std::string_view child, std::string_view occurred, Instant recorded,
                              std::string_view supersedes, std::string_view data) {
    std::string s;
    s.reserve(200 + data.size());
    s += "{\"event_id\":\"";
    s += id;
    s += "\",\"type\":\"";
    s += EventTypeName(type);
    s += "\",\"schema_version\":1,\"source\":\"";
    s += SourceName(source);
    s += "\",\"child_id\":\"";
    s += child;
    s += "\",\"occurred_at\":\"";
    s += occurred;
    s += "\",\"recorded_at\":\"";
    s += InstantText(recorded);
    if (!supersedes.empty()) {
      s += "\",\"supersedes\":\"";
      s += supersedes;
    }
    s += "\",\"data\":{";
    s += data;
    s += "}}";
    return s;
  }

  // Replaces the string value of "key" in `text`; false when there is no such member.
  static bool ReplaceValue(std::string& text, std::string_view key, std::string_view value) {
    std::string needle = "\"" + std::string(key) + "\":\"";
    size_t at = text.find(needle);
    if (at == std::string::npos) return false;
    at += needle.size();
    size_t end = text.find('"', at);
    text.replace(at, end - at, value);
    return true;
  }

  // A malformed copy of `text` beside it (the good record still arrives): an unknown code, a
  // missing required field, a date in the wrong format, an unknown event type, a cut-off line.
  void AddInvalid(Streams r, EventType type, const std::string& text, Instant recorded) {
    std::string bad = text;
    ReplaceValue(bad, "event_id", NewId(r.faults));
    for (int tries = 0; tries < kFaults; ++tries) {
      auto fault = Fault(next_fault_++ % kFaults);
      bool done = false;
      switch (fault) {
        case Fault::kUnknownCode:
          // The care codes are the ones every validator checks today.
          if (type == EventType::kChildRegistered) done = ReplaceValue(bad, "sex", "X");
          if (type == EventType::kCarePeriodStarted) done = ReplaceValue(bad, "legal_status", "C3");
          if (type == EventType::kCarePlacementChanged) done = ReplaceValue(bad, "placement", "U7");
          if (type == EventType::kCareLegalStatusChanged) {
            done = ReplaceValue(bad, "legal_status", "C3");
          }
          if (type == EventType::kCarePeriodEnded) done = ReplaceValue(bad, "reason", "E10");
          break;
        case Fault::kMissingField: {
          size_t at = bad.find("\"child_id\":\"");
          size_t end = bad.find("\",", at) + 2;
          bad.erase(at, end - at);
          done = true;
          break;
        }
        case Fault::kBadDate: {
          std::string iso = DateText(DayOf(recorded));
          done = ReplaceValue(bad, "occurred_at",
                              iso.substr(8, 2) + "/" + iso.substr(5, 2) + "/" + iso.substr(0, 4));
          break;
        }
        case Fault::kUnknownType: {
          std::string name(EventTypeName(type));
          std::replace(name.begin(), name.end(), '.', '_');
          done = ReplaceValue(bad, "type", name);
          break;
        }
        case Fault::kTruncated:
          bad.resize(bad.size() * 2 / 3);
          done = true;
          break;
      }
      if (done) break;
    }
    lines_.push_back({InExtract(recorded + seconds{r.faults.Uniform(0, 7200)}), lines_.size(),
                      std::move(bad), true});
  }

  void Add(Instant sent, std::string text) {
    lines_.push_back({InExtract(sent), lines_.size(), std::move(text), false});
  }
  // The feed is an extract taken at the end of the window: whatever would have been recorded
  // (or re-sent) later is recorded in its last second instead, never in the future of the
  // extract, which the contract refuses (recorded_at more than 24 h ahead of the reader).
  Instant InExtract(Instant t) const { return std::min(t, last_recorded_); }
  void Count(EventType type) { ++summary_.events_by_type[type]; }

  const GeneratorOptions& o_;
  FeedSummary& summary_;
  std::vector<Line> lines_;
  uint64_t next_fault_ = 0;
  Instant last_recorded_;
};

// ---- One child's life, as the sources record it ----------------------------------------------
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

  void Run() {
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

 private:
  int AgeAt(Date d) const {
    using std::chrono::year_month_day;
    year_month_day b{dob_}, t{d};
    int age = int(t.year()) - int(b.year());
    if (t.month() < b.month() || (t.month() == b.month() && t.day() < b.day())) --age;
    return age;
  }

  void Emit(Source source, EventType type, Instant at, bool with_time, const std::string& data) {
    EmitAs(ChildId(), source, type, at, with_time, data);
    first_ = std::min(first_, DayOf(at));
  }
  void EmitAs(std::string_view child, Source source, EventType type, Instant at, bool with_time,
              const std::string& data) {
    feed_.Emit({delays_, faults_, ids_}, source, type, child, at, with_time, data);
  }

  // Pseudonymous, from the seed alone; made only for the few children a source knows of.
  const std::string& ChildId() {
    if (id_.empty()) {
      id_ = "C";
      AppendHex(id_, Mix(o_.seed ^ 0x5eed, index_) >> 8, 14);
    }
    return id_;
  }

  std::string HomeId(int home) const {
    std::string s = "H";
    AppendDigits(s, unsigned(home), home < 1000 ? 3 : home < 10000 ? 4 : 9);
    return s;
  }
  // The first 45 % of homes are in the area; most are run by private providers.
  bool HomeOutOfArea(int home) const { return home > homes_ * 45 / 100; }
  Code HomeProvider(int home) const {
    uint64_t h = Mix(o_.seed, uint64_t(home)) % 20;
    return h < 15 ? "PR4" : h < 18 ? "PR1" : "PR5";
  }

  Code PlacementFor(Date at) {
    int age = AgeAt(at);
    if (age < 10) return Pick<kPlacementUnder10>(story_);
    if (age < 14) return Pick<kPlacement10to13>(story_);
    if (age < 16) return Pick<kPlacement14to15>(story_);
    return Pick<kPlacement16to17>(story_);
  }

  // The placement members of care.period_started and care.placement_changed.
  Data PlacementData(Code placement, int home) {
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

  int HomeFor(Code placement) {
    return std::string_view(placement) == "K2" ? int(story_.Uniform(1, homes_)) : 0;
  }

  void Care() {
    // About 6 % of children start a period of care before 18, most of them leaving it within
    // two years (the path weights above): with them an area's CLA on 31 March, starts and
    // ceased in the year are within 8 % of England's 2025 figures per child
    // (`careledger_bench_calibration`, bench/README.md).
    double p = 0.047 * ethnicity_.care;
    if (!story_.Chance(p)) return;
    int band = Pick<kEntryAgeBand>(story_);
    int band_end = band == 0 ? 1 : band == 1 ? 5 : band == 5 ? 10 : band == 10 ? 16 : 18;
    Date eighteenth = Anniversary(dob_, 18);
    Date entry = Anniversary(dob_, band) +
                 days{story_.Uniform(
                     0, (Anniversary(dob_, band_end) - Anniversary(dob_, band)).count() - 1)};
    for (int n = 0; n < 4 && entry < o_.end && entry < eighteenth; ++n) {
      std::optional<Date> end = CarePeriod(entry, eighteenth);
      if (!end || !story_.Chance(0.15)) break;  // about 1 in 7 come back into care
      entry = *end + days{story_.Uniform(30, 730)};
    }
  }

  // One period of care from `entry`, following a path chosen by age. Returns its end (none
  // when still open at the feed's end). Periods that ended before the history begins are not
  // in the extract.
  std::optional<Date> CarePeriod(Date entry, Date eighteenth) {
    int age = AgeAt(entry);
    Path path = age < 1    ? Pick<kPathUnder1>(story_)
                : age < 5  ? Pick<kPath1to4>(story_)
                : age < 10 ? Pick<kPath5to9>(story_)
                : age < 16 ? Pick<kPath10to15>(story_)
                           : Pick<kPath16to17>(story_);
    if ((path == Path::kRemand || path == Path::kPace) && age < 12) path = Path::kHome;
    struct Change {
      Date at;
      Code legal_status = nullptr;  // a legal status change, or else a placement change
      Code placement = nullptr;
    };
    std::vector<Change> changes;
    Code legal = "V2";
    Code placement = PlacementFor(entry);
    Code reason = "E4A";
    int64_t length = 0;
    auto after = [&](int64_t lo, int64_t hi) { return entry + days{story_.Uniform(lo, hi)}; };
    // SSDA903 legal statuses: C1 interim care order, C2 full care order, E1 placement order,
    // V2 accommodated by agreement (s20), L1/L2 police protection / emergency protection
    // order, J1/J2 remand / PACE transfer.
    switch (path) {
      case Path::kShort:
        legal = story_.Chance(0.15) ? (story_.Chance(0.7) ? "L1" : "L2")
                                    : (story_.Chance(0.8) ? "V2" : "C1");
        length = story_.Uniform(2, 60);
        reason = Pick<kHomeReason>(story_);
        break;
      case Path::kHome:
        legal = story_.Chance(0.55) ? "V2" : "C1";
        length = 20 + int64_t(story_.Exponential(300));
        reason = Pick<kHomeReason>(story_);
        break;
      case Path::kAdoption: {
        legal = "C1";
        Date order = after(200, 400);
        Date placed = order + days{story_.Uniform(30, 150)};
        changes.push_back({order, "E1"});
        changes.push_back({placed, nullptr, Pick<kAdoptive>(story_)});
        length = (placed - entry).count() + story_.Uniform(100, 300);
        reason = story_.Chance(0.6) ? "E11" : "E12";
        break;
      }
      case Path::kSgo:
        legal = "C1";
        placement = Pick<kKinship>(story_);
        changes.push_back({after(120, 300), "C2"});
        length = story_.Uniform(300, 800);
        reason = Pick<kSgoReason>(story_);
        break;
      case Path::kLongTerm:
        legal = story_.Chance(0.8) ? "C1" : "V2";
        if (std::string_view(legal) == "C1" || story_.Chance(0.3)) {
          changes.push_back({after(120, 360), "C2"});
        }
        length = (eighteenth - entry).count();
        reason = Pick<kAgeOutReason>(story_);
        break;
      case Path::kOther:
        legal = story_.Chance(0.7) ? "V2" : "C1";
        length = 10 + int64_t(story_.Exponential(200));
        reason = Pick<kOtherReason>(story_);
        break;
      case Path::kRemand:  // remanded to youth detention accommodation
        legal = "J1";
        placement = story_.Chance(0.6) ? "R5" : "K1";
        length = story_.Uniform(14, 120);
        reason = story_.Chance(0.6) ? "E14" : "E9";
        break;
      case Path::kPace:  // a night in council accommodation under PACE
        legal = "J2";
        placement = story_.Chance(0.6) ? "K2" : "U6";
        length = story_.Uniform(1, 2);
        reason = "E4A";
        break;
    }
    if (std::string_view(legal) == "L1" || std::string_view(legal) == "L2") {
      changes.push_back({after(1, 8), story_.Chance(0.6) ? "C1" : "V2"});
    } else if (path == Path::kHome && std::string_view(legal) == "V2" && story_.Chance(0.2)) {
      changes.push_back({after(30, 180), "C1"});
    }
    Date end = entry + days{std::max<int64_t>(length, 1)};
    if (end >= eighteenth) {
      end = eighteenth;
      if (path != Path::kLongTerm) reason = Pick<kAgeOutReason>(story_);
    }
    // Moves: foster placements last about two and a half years (teenagers' less than two),
    // children's homes about one.
    if (path != Path::kAdoption && path != Path::kRemand && path != Path::kPace) {
      Date at = entry;
      Code current = placement;
      for (int n = 0; n < 12; ++n) {
        double mean = std::string_view(current) == "K2" ? 330 : AgeAt(at) >= 10 ? 600 : 900;
        at += days{1 + int64_t(story_.Exponential(mean))};
        if (at >= end) break;
        current = PlacementFor(at);
        changes.push_back({at, nullptr, current});
      }
    }
    std::sort(changes.begin(), changes.end(),
              [](const Change& a, const Change& b) { return a.at < b.at; });

    std::optional<Date> open_end;
    if (end < o_.end) open_end = end;
    if (end < history_start_) return open_end;  // over before the extract's history begins

    int home = HomeFor(placement);
    Data start = Data().Str("legal_status", legal);
    std::string data = start.str() + "," + PlacementData(placement, home).str();
    Emit(Source::kLcs, EventType::kCarePeriodStarted, Instant{entry}, false, data);
    Stay stay{entry, end, placement, home, true};
    for (const Change& c : changes) {
      if (c.at >= end || c.at >= o_.end) break;
      if (c.legal_status) {
        Emit(Source::kLcs, EventType::kCareLegalStatusChanged, Instant{c.at}, false,
             Data().Str("legal_status", c.legal_status).str());
        continue;
      }
      stay.to = c.at;
      stays_.push_back(stay);
      int new_home = HomeFor(c.placement);
      Code why = path == Path::kAdoption ? "CARPL" : Pick<kChangeReason>(story_);
      Emit(Source::kLcs, EventType::kCarePlacementChanged, Instant{c.at}, false,
           PlacementData(c.placement, new_home).Str("reason", why).str());
      stay = Stay{c.at, end, c.placement, new_home, true};
    }
    stays_.push_back(stay);
    if (open_end) {
      Emit(Source::kLcs, EventType::kCarePeriodEnded, Instant{end}, false,
           Data().Str("reason", reason).str());
    }
    periods_.push_back({entry, open_end, false});
    return open_end;
  }

  // A disabled child's agreed series of short breaks (V3/V4 in SSDA903): a few days at a
  // time, several times a year, for some years.
  void ShortBreaks() {
    if (!story_.Chance(0.0012)) return;
    Code legal = story_.Chance(0.75) ? "V3" : "V4";
    Date from = Anniversary(dob_, int(story_.Uniform(4, 14))) + days{story_.Uniform(0, 364)};
    Date until =
        std::min({from + days{story_.Uniform(365, 5 * 365)}, Anniversary(dob_, 18), o_.end});
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
      std::string data = Data().Str("legal_status", legal).str() + "," +
                         PlacementData(placement, home_number).str();
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

  // The stay (if any) the child is in at `t`.
  const Stay* StayAt(Date d) const {
    for (const Stay& s : stays_) {
      if (s.from <= d && d < s.to) return &s;
    }
    return nullptr;
  }

  // A moment in the evening-heavy hours when children go missing and offend.
  Instant TimeOn(Date d) {
    int64_t s = story_.Chance(0.6) ? story_.Uniform(15 * 3600, 86399) : story_.Uniform(0, 86399);
    return Instant{d} + seconds{s};
  }

  // Police and youth justice records start with the feed's window; the police hold nothing of
  // a child under 10 (the age of criminal responsibility) as an offender.
  void Police() {
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
  void MissingEpisodes(Date from, Date to, double per_year) {
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

  static double AgeFactor(int age) {
    return age < 12 ? 0.3 : age < 14 ? 0.7 : age < 16 ? 1.2 : 1.6;
  }

  void Offences(Date from, Date to, double frailty) {
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

  void Offence(Instant at, const Stay* stay) {
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

    bool serious = group == "violence_against_person" || group == "robbery" ||
                   group == "burglary" || group == "sexual";
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
      Instant court =
          decided + seconds{story_.Uniform(30, 250) * kDay + story_.Uniform(0, 6 * 3600)};
      if (DayOf(court) >= o_.end) return;
      disposal = Pick<kCourtDisposal>(story_);
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

  // The youth justice service works with a child after an out-of-court or court disposal, and
  // on diversion after some informal ones. One case at a time.
  void YjsCase(Instant decided, std::string_view disposal) {
    Code intervention = nullptr;
    int64_t months = 3;
    if (disposal == "youth_caution" || disposal == "youth_conditional_caution") {
      intervention = "oocd";
      months = story_.Uniform(3, 4);
    } else if (disposal == "referral_order" || disposal == "reparation_order") {
      intervention = "court_order";
      months = story_.Uniform(3, 12);
    } else if (disposal == "youth_rehabilitation_order" ||
               disposal == "yro_intensive_supervision") {
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
    if (intervention)
      OpenCase(decided + seconds{story_.Uniform(0, 14) * kDay}, intervention, months);
  }

  void OpenCase(Instant at, Code intervention, int64_t months) {
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
  void Callouts(Date from, Date to) {
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
  void RiskAssessments() {
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

  // A child who left care at 16 or later after 13 weeks or more (since 14) is a care leaver;
  // the authority records a contact around each birthday from the 17th to the 21st.
  void CareLeaver() {
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

}  // namespace

Status GenerateFeed(const GeneratorOptions& o, std::ostream& out, FeedSummary* summary) {
  if (o.children < 0) return Status::BadInput("--children must not be negative");
  if (o.end <= o.start) return Status::BadInput("--end must be after --start");
  for (double rate : {o.late_rate, o.duplicate_rate, o.correction_rate, o.invalid_rate}) {
    if (!(rate >= 0 && rate <= 1)) return Status::BadInput("feed fault rates must be in [0, 1]");
  }
  if (!NationalYouthOffences().ok()) return NationalYouthOffences().status();
  FeedSummary local;
  FeedSummary& s = summary ? *summary : local;
  s = FeedSummary{};
  Feed feed(o, s);
  // Everyone aged 0–17 at some time from the care history's start to the window's end, born
  // evenly, so that about `children` are 0–17 at any moment.
  const Date history = o.start - days{3 * 365};
  const Date first_birth = Anniversary(history, -18);
  const int64_t span = (o.end - first_birth).count();
  const auto people = uint64_t(std::llround(double(o.children) * double(span) / (18 * 365.25)));
  // About 4 children's homes per 10,000 children, in and out of the area, used by the area.
  const int homes = std::max(4, int(o.children / 2500));
  Random births(Mix(o.seed, 0xb1a7));
  for (uint64_t i = 0; i < people && o.children > 0; ++i) {
    Date dob = first_birth + days{births.Uniform(0, span - 1)};
    ChildStory(o, feed, i, dob, homes).Run();
  }
  return feed.Write(out);
}

}  // namespace careledger
