#include "careledger/common.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace careledger {

std::string Status::ToString() const {
  switch (cls_) {
    case ErrorClass::kOk:
      return "ok";
    case ErrorClass::kBadInput:
      return "bad input: " + msg_;
    case ErrorClass::kRetriable:
      return "retriable: " + msg_;
    case ErrorClass::kFatal:
      return "fatal: " + msg_;
    case ErrorClass::kGap:
      return "gap: " + msg_;
  }
  return msg_;
}

namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

Result<Date> ParseDatePrefix(std::string_view text) {
  int y = 0, m = 0, d = 0;
  if (text.size() < 10 || !Digits(text, 0, 4, y) || text[4] != '-' || !Digits(text, 5, 2, m) ||
      text[7] != '-' || !Digits(text, 8, 2, d)) {
    return Status::BadInput("not an RFC 3339 date (YYYY-MM-DD)");
  }
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(m)},
                                  std::chrono::day{unsigned(d)}};
  if (!ymd.ok()) return Status::BadInput("no such calendar date");
  return Date{ymd};
}

}  // namespace

Result<Date> ParseDate(std::string_view text) {
  if (text.size() != 10) return Status::BadInput("not a date (YYYY-MM-DD)");
  return ParseDatePrefix(text);
}

Result<Timestamp> ParseTimestamp(std::string_view text) {
  auto date = ParseDatePrefix(text);
  if (!date.ok()) return date.status();
  Timestamp ts{*date, Instant{*date}, false};
  if (text.size() == 10) return ts;
  // date-time: 'T' HH:MM:SS [.frac] (Z | ±HH:MM)
  int hh = 0, mm = 0, ss = 0;
  if (text.size() < 19 || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      !Digits(text, 11, 2, hh) || text[13] != ':' || !Digits(text, 14, 2, mm) || text[16] != ':' ||
      !Digits(text, 17, 2, ss) || hh > 23 || mm > 59 || ss > 60) {
    return Status::BadInput("not an RFC 3339 date-time");
  }
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return Status::BadInput("empty fraction of a second");
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = 0, om = 0;
    if (!Digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return Status::BadInput("bad UTC offset in date-time");
    }
    offset_minutes = (text[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return Status::BadInput("date-time has no UTC offset (Z or ±HH:MM)");
  }
  if (pos != text.size()) return Status::BadInput("trailing characters after date-time");
  using namespace std::chrono;
  ts.instant = Instant{*date} + hours{hh} + minutes{mm} + seconds{std::min(ss, 59)} -
               minutes{offset_minutes};
  ts.has_time = true;
  return ts;
}

std::string FormatDate(Date d) {
  std::chrono::year_month_day ymd{d};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

std::string FormatInstant(Instant t) {
  auto day = std::chrono::floor<std::chrono::days>(t);
  std::chrono::hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02dZ", FormatDate(day).c_str(),
                int(hms.hours().count()), int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}

Date Anniversary(Date born, int years) {
  std::chrono::year_month_day ymd{born};
  std::chrono::year y = ymd.year() + std::chrono::years{years};
  std::chrono::year_month_day moved = y / ymd.month() / ymd.day();
  if (!moved.ok()) moved = y / std::chrono::March / 1;
  return std::chrono::sys_days{moved};
}

Date YearEnding::First() const {
  return std::chrono::sys_days{std::chrono::year{year - 1} / std::chrono::April / 1};
}
Date YearEnding::Last() const {
  return std::chrono::sys_days{std::chrono::year{year} / std::chrono::March / 31};
}
Date YearEnding::End() const {
  return Last() + std::chrono::days{1};
}
YearEnding YearEnding::Containing(Date d) {
  std::chrono::year_month_day ymd{d};
  return {int(ymd.year()) + (ymd.month() >= std::chrono::April ? 1 : 0)};
}
YearEnding YearEnding::EndingBy(Date d) {
  YearEnding y = Containing(d);
  return IsLastDay(d) ? y : YearEnding{y.year - 1};
}
bool YearEnding::IsLastDay(Date d) {
  std::chrono::year_month_day ymd{d};
  return ymd.month() == std::chrono::March && ymd.day() == std::chrono::day{31};
}

Date Today() {
  return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
}

Status InitLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return Status::BadInput("unknown log level '" + std::string(level) +
                            "' (trace, debug, info, warn, error, off)");
  }
  auto logger = spdlog::stderr_color_mt("careledger");
  logger->set_level(lvl);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

bool IsSecretKey(std::string_view key) {
  static constexpr std::array<std::string_view, 5> kMarks = {"password", "secret", "token",
                                                             "key.pem", "private"};
  for (auto mark : kMarks) {
    if (key.find(mark) != std::string_view::npos) return true;
  }
  return key == "sasl.oauthbearer.config" || key == "ssl.key.password";
}

std::string MaskedForLog(const Settings& settings) {
  std::string out;
  for (const auto& [k, v] : settings) {
    if (!out.empty()) out += ", ";
    out += k;
    out += '=';
    out += IsSecretKey(k) ? "*****" : v;
  }
  return out;
}

Status AddKeyValue(std::string_view key_value, Settings& settings) {
  auto eq = key_value.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::BadInput("expected key=value, got '" + std::string(key_value.substr(0, 64)) +
                            "'");
  }
  settings[std::string(key_value.substr(0, eq))] = std::string(key_value.substr(eq + 1));
  return Status::Ok();
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace codec {
void PutBigEndian32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(char((v >> (8 * i)) & 0xff));
}
void PutBigEndian64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(char((v >> (8 * i)) & 0xff));
}
uint32_t GetBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | uint8_t(p[i]);
  return v;
}
uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | uint8_t(p[i]);
  return v;
}
void PutFixed64(std::string& out, uint64_t v) {
  char buf[8];
  std::memcpy(buf, &v, 8);
  out.append(buf, 8);
}
uint64_t GetFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
void PutLengthPrefixed(std::string& out, std::string_view s) {
  auto n = uint32_t(s.size());
  char buf[4];
  std::memcpy(buf, &n, 4);
  out.append(buf, 4);
  out.append(s);
}
bool GetLengthPrefixed(std::string_view& in, std::string_view& out) {
  if (in.size() < 4) return false;
  uint32_t n;
  std::memcpy(&n, in.data(), 4);
  if (in.size() - 4 < n) return false;
  out = in.substr(4, n);
  in.remove_prefix(4 + size_t(n));
  return true;
}
void PutKeyPart(std::string& out, std::string_view s) {
  uint64_t n = s.size();
  while (n >= 0x80) {
    out.push_back(char(0x80 | (n & 0x7f)));
    n >>= 7;
  }
  out.push_back(char(n));
  out.append(s);
}
bool GetKeyPart(std::string_view& in, std::string_view& out) {
  uint64_t n = 0;
  size_t used = 0;
  for (int shift = 0;; shift += 7) {
    // Ten bytes hold any 64-bit length; more is not a length this code wrote.
    if (used == in.size() || shift > 63) return false;
    auto b = uint8_t(in[used++]);
    n |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  if (in.size() - used < n) return false;
  out = in.substr(used, size_t(n));
  in.remove_prefix(used + size_t(n));
  return true;
}
uint32_t DaysKey(Date d) {
  return uint32_t(int64_t(d.time_since_epoch().count()) + (int64_t{1} << 31));
}
Date DateFromDaysKey(uint32_t key) {
  return Date{std::chrono::days{int64_t(key) - (int64_t{1} << 31)}};
}
}  // namespace codec

uint64_t Fingerprint(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64-bit offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace careledger

namespace careledger {

namespace {
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::string PrometheusText::Number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " +
          std::string(name) + " " + std::string(type) + "\n";
}

void PrometheusText::Sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      out_ += (i ? "," : "") + labels[i].first + "=\"" + LabelValue(labels[i].second) + "\"";
    }
    out_ += '}';
  }
  out_ += " " + Number(value) + "\n";
}

}  // namespace careledger
