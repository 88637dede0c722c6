// The feed as a file: each record's envelope, when its source sent it, and the faults real
// extracts carry (late, re-sent, corrected, retracted and malformed records).
#include <algorithm>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "generate_impl.h"

namespace careledger::generate_detail {

void Feed::Emit(Streams r, Source source, EventType type, std::string_view child, Instant occurred,
                bool with_time, const std::string& data) {
  std::string id = NewId(r.ids);
  Instant recorded = occurred + (with_time ? seconds{0} : hours{9}) + NormalDelay(r.delays, source);
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
  std::string text = Envelope(id, type, source, child, Stamp(first, with_time), recorded, {}, data);
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

Status Feed::Write(std::ostream& out) {
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

std::string Feed::Stamp(Instant t, bool with_time) {
  return with_time ? InstantText(t) : DateText(DayOf(t));
}

// How long each source takes to key a record: police at once, social care within a
// fortnight of working days, youth justice within ten days. Never 21 days: that is "late".
seconds Feed::NormalDelay(Random& r, Source source) {
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

std::string Feed::NewId(Random& r) {  // a version 4 UUID
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

std::string Feed::Envelope(std::string_view id, EventType type, Source source,
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
bool Feed::ReplaceValue(std::string& text, std::string_view key, std::string_view value) {
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
void Feed::AddInvalid(Streams r, EventType type, const std::string& text, Instant recorded) {
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

}  // namespace careledger::generate_detail
