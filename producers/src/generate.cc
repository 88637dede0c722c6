// The synthetic feed. Shapes follow the published SSDA903 national tables in outline (most
// children in foster care, about 1 in 6 in children's homes, C2 the commonest legal status,
// short breaks under V3/V4) so that the figures look like a real authority's, never a real
// child's: identifiers are derived from the seed alone.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "careledger/producers.h"

namespace careledger {

namespace {

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
  int Uniform(int lo, int hi) { return lo + int(Next() % uint64_t(hi - lo + 1)); }  // [lo, hi]
  double Unit() { return double(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
  template <typename T, size_t N>
  const T& Weighted(const std::pair<T, int> (&table)[N]) {
    int total = 0;
    for (const auto& [v, w] : table) total += w;
    int pick = Uniform(0, total - 1);
    for (const auto& [v, w] : table) {
      if ((pick -= w) < 0) return v;
    }
    return table[N - 1].first;
  }

 private:
  uint64_t s_;
};

using Code = const char*;
constexpr std::pair<Code, int> kLegalStatusAtStart[] = {
    {"C2", 46}, {"V2", 24}, {"C1", 12}, {"E1", 3}, {"V3", 6}, {"V4", 3},
    {"L1", 2},  {"J2", 1},  {"D1", 1},  {"L2", 1}, {"J1", 1}};
constexpr std::pair<Code, int> kPlacement[] = {
    {"U1", 14}, {"U2", 6}, {"U3", 30}, {"U4", 8}, {"U5", 4}, {"U6", 7}, {"K2", 15},
    {"R1", 5},  {"R2", 1}, {"P1", 3},  {"S1", 2}, {"Z1", 3}, {"R5", 2}};
constexpr std::pair<Code, int> kProvider[] = {{"PR1", 55}, {"PR4", 35}, {"PR5", 6}, {"PR2", 4}};
constexpr std::pair<Code, int> kEndReason[] = {
    {"E4A", 30}, {"E11", 8}, {"E12", 4}, {"E13", 10}, {"E41", 6}, {"E45", 3},
    {"E46", 2},  {"E47", 2}, {"E48", 2}, {"E5", 3},   {"E7", 3},  {"E9", 2},
    {"E15", 4},  {"E16", 3}, {"E17", 5}, {"E2", 1},   {"E3", 2},  {"E8", 10}};
constexpr std::pair<Code, int> kChangeReason[] = {
    {"CARPL", 25}, {"CLOSE", 5}, {"ALLEG", 3},  {"STAND", 10}, {"APPRR", 8}, {"CREQB", 10},
    {"CREQO", 8},  {"CHILD", 6}, {"LAREQ", 10}, {"PLACE", 10}, {"OTHER", 5}};
constexpr std::pair<Code, int> kEthnicity[] = {
    {"WBRI", 70}, {"WOTH", 5}, {"WIRT", 1}, {"WROM", 1}, {"MWBC", 4}, {"MOTH", 4}, {"AIND", 2},
    {"APKN", 3},  {"BAFR", 3}, {"BCRB", 2}, {"OOTH", 2}, {"REFU", 1}, {"NOBT", 2}};
constexpr std::pair<Code, int> kSex[] = {{"M", 56}, {"F", 43}, {"U", 1}};

struct Event {
  Instant recorded;
  uint64_t order;  // generation order, so equal recording times keep a stable order
  std::string line;
};

class FeedWriter {
 public:
  FeedWriter(Random& rng, std::vector<Event>& out) : rng_(rng), out_(out) {}

  // `data` is the already-encoded members of the data object.
  void Emit(std::string_view type, std::string_view child_id, Date occurred,
            std::string_view data) {
    using namespace std::chrono;
    // Sources record most events within days; a few take weeks.
    auto delay = hours{rng_.Chance(0.9) ? rng_.Uniform(1, 24 * 7) : rng_.Uniform(24 * 7, 24 * 60)};
    Instant recorded = Instant{occurred} + hours{9} + delay + seconds{rng_.Uniform(0, 3599)};
    std::string line = "{\"event_id\":\"" + Uuid() + "\",\"type\":\"";
    line += type;
    line += "\",\"schema_version\":1,\"source\":\"lcs\",\"child_id\":\"";
    line += child_id;
    line += "\",\"occurred_at\":\"" + FormatDate(occurred) + "\",\"recorded_at\":\"" +
            FormatInstant(recorded) + "\",\"data\":{";
    line += data;
    line += "}}";
    out_.push_back({recorded, out_.size(), std::move(line)});
  }

 private:
  std::string Uuid() {
    uint64_t a = rng_.Next(), b = rng_.Next();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", unsigned(a >> 32),
                  unsigned((a >> 16) & 0xffff), unsigned(a & 0xfff),
                  unsigned(0x8000 | ((b >> 48) & 0x3fff)),
                  static_cast<unsigned long long>(b & 0xffffffffffffull));
    return buf;
  }
  Random& rng_;
  std::vector<Event>& out_;
};

std::string Member(std::string_view key, std::string_view value, bool first = false) {
  std::string s = first ? "\"" : ",\"";
  s += key;
  s += "\":";
  AppendJsonString(s, value);
  return s;
}

std::string PlacementData(Random& rng, Code placement) {
  std::string s = Member("placement", placement, true);
  s += Member("provider", rng.Weighted(kProvider));
  char home[16];
  std::snprintf(home, sizeof home, "H%04d", rng.Uniform(1, 400));
  s += Member("home_id", home);
  s += rng.Chance(0.35) ? ",\"out_of_area\":true" : ",\"out_of_area\":false";
  return s;
}

void GenerateChild(Random& rng, const GeneratorOptions& o, FeedWriter& w) {
  using namespace std::chrono;
  char id[24];
  std::snprintf(id, sizeof id, "C%012llx",
                static_cast<unsigned long long>(rng.Next() & 0xffffffffffffull));
  const int window = int((o.end - o.start).count());
  // Age 0–17 at the window's start, a little older on average as in the national tables.
  Date dob = o.start - days{rng.Uniform(0, 17 * 365 + 300)};
  Date first_contact = std::max(dob, o.start - days{rng.Uniform(0, 3 * 365)});
  w.Emit("child.registered", id, first_contact,
         Member("dob", FormatDate(dob), true) + Member("sex", rng.Weighted(kSex)) +
             Member("ethnicity", rng.Weighted(kEthnicity)));

  Date eighteenth = Date{year_month_day{dob} + years{18}};
  // Entries spread evenly from two years before the window, so the number in care is steady
  // across it (as in real authorities) and periods open at the start have their history.
  const int lead_in = 2 * 365;
  Date cursor = o.start - days{lead_in};
  int periods = rng.Chance(0.8) ? 1 : (rng.Chance(0.85) ? 2 : 3);
  for (int p = 0; p < periods; ++p) {
    Date start = p == 0 ? cursor + days{rng.Uniform(0, lead_in + window - 1)}
                        : cursor + days{rng.Uniform(30, 730)};
    if (start < first_contact) start = first_contact;
    if (start >= o.end || start >= eighteenth) break;
    std::string legal = rng.Weighted(kLegalStatusAtStart);
    bool short_break = legal == "V3" || legal == "V4";
    Code placement = short_break ? "U3" : rng.Weighted(kPlacement);
    w.Emit("care.period_started", id, start,
           Member("legal_status", legal, true) + "," + PlacementData(rng, placement));

    // Lengths: short breaks days to weeks; otherwise months to years (median about a year).
    int length =
        short_break ? rng.Uniform(2, 60) : int(-std::log(1.0 - rng.Unit() * 0.999) * 520.0) + 7;
    Date end = start + days{length};
    bool ages_out = end >= eighteenth;
    if (ages_out) end = eighteenth;

    Date at = start;
    int changes = short_break ? 0 : rng.Uniform(0, 3);
    for (int c = 0; c < changes; ++c) {
      at += days{rng.Uniform(20, std::max(21, length / (changes + 1)))};
      if (at >= end || at >= o.end) break;
      w.Emit("care.placement_changed", id, at,
             PlacementData(rng, rng.Weighted(kPlacement)) +
                 Member("reason", rng.Weighted(kChangeReason)));
    }
    if (legal == "V2" && rng.Chance(0.4)) {
      Date change = start + days{rng.Uniform(14, 120)};
      if (change < end && change < o.end) {
        w.Emit("care.legal_status_changed", id, change,
               Member("legal_status", rng.Chance(0.7) ? "C1" : "C2", true));
      }
    }
    if (end >= o.end) break;  // still open when the feed ends
    w.Emit("care.period_ended", id, end,
           Member("reason",
                  ages_out      ? "E8"
                  : short_break ? "E4A"
                                : rng.Weighted(kEndReason),
                  true));
    cursor = end + days{1};
  }
}

}  // namespace

Status GenerateFeed(const GeneratorOptions& o, std::ostream& out) {
  if (o.children < 0) return Status::BadInput("--children must not be negative");
  if (o.end <= o.start) return Status::BadInput("--end must be after --start");
  Random rng(o.seed);
  std::vector<Event> events;
  FeedWriter writer(rng, events);
  for (int i = 0; i < o.children; ++i) GenerateChild(rng, o, writer);
  // A feed arrives in the order its source recorded things, and stops at the window's end.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.recorded, a.order) < std::tie(b.recorded, b.order);
  });
  for (const auto& e : events) out << e.line << '\n';
  if (!out) return Status::Fatal("cannot write the feed");
  return Status::Ok();
}

}  // namespace careledger
