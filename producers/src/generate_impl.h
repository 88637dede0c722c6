// The generator's parts its files share (generate.cc: the entry point; generate_writer.cc: the
// feed and its faults; generate_child.cc and generate_police.cc: one child's story): the random
// streams, the text of dates and identifiers, data objects and the feed. Private to producers/.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/events.h"
#include "careledger/producers.h"

namespace careledger::generate_detail {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;

inline constexpr int64_t kDay = 86400;

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

inline uint64_t Mix(uint64_t a, uint64_t b) {
  Random r(a * 0x9e3779b97f4a7c15ull ^ b);
  return r.Next();
}

enum class Source { kLcs, kPolice, kYjs };
inline std::string_view SourceName(Source s) {
  return s == Source::kLcs ? "lcs" : s == Source::kPolice ? "police-rms" : "yjs";
}

inline Date DayOf(Instant t) {
  return std::chrono::floor<days>(t);
}

// Text of dates, times and identifiers, written by hand: snprintf and the common formatters
// were most of the generator's time.
inline void AppendDigits(std::string& s, unsigned v, int width) {
  char buf[10];
  for (int i = width - 1; i >= 0; --i, v /= 10) buf[i] = char('0' + v % 10);
  s.append(buf, size_t(width));
}
inline void AppendDateText(std::string& s, Date d) {
  std::chrono::year_month_day ymd{d};
  AppendDigits(s, unsigned(int(ymd.year())), 4);
  s += '-';
  AppendDigits(s, unsigned(ymd.month()), 2);
  s += '-';
  AppendDigits(s, unsigned(ymd.day()), 2);
}
inline std::string DateText(Date d) {
  std::string s;
  AppendDateText(s, d);
  return s;
}
inline std::string InstantText(Instant t) {  // RFC 3339 in UTC, as FormatInstant
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
inline void AppendHex(std::string& s, uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) s += kHex[(v >> (4 * i)) & 0xf];
}
inline std::string HexId(std::string_view prefix, uint64_t v) {
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
inline constexpr int kFaults = 5;

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

  // One record as its source keyed it, and whatever the feed's faults make of it: late,
  // re-sent, corrected, keyed twice and retracted, or with a malformed copy beside it.
  void Emit(Streams r, Source source, EventType type, std::string_view child, Instant occurred,
            bool with_time, const std::string& data);

  void CountChild() { ++summary_.children; }

  // Every line, in the order the sources sent them.
  Status Write(std::ostream& out);

 private:
  static std::string Stamp(Instant t, bool with_time);
  static seconds NormalDelay(Random& r, Source source);
  static std::string NewId(Random& r);
  static std::string Envelope(std::string_view id, EventType type, Source source,
                              std::string_view child, std::string_view occurred, Instant recorded,
                              std::string_view supersedes, std::string_view data);
  static bool ReplaceValue(std::string& text, std::string_view key, std::string_view value);
  void AddInvalid(Streams r, EventType type, const std::string& text, Instant recorded);

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

}  // namespace careledger::generate_detail
