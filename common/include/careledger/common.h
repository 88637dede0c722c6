// careledger/common.h — what every module shares: Status/Result with an error class, dates on
// two clocks, logging set-up, key/value settings with secrets masked, and JSON/CSV escaping.
#pragma once

#include <chrono>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace careledger {

// The class decides what the caller does, in one place: retry, dead-letter, or stop. A gap
// is the one stop an operator must decide about: events the source no longer holds were never
// read (retention overtook ingest, or the topic was recreated), so going on would lose them
// silently; its own exit code keeps a service manager from restarting into it again.
enum class ErrorClass { kOk, kBadInput, kRetriable, kFatal, kGap };

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return {}; }
  static Status BadInput(std::string msg) { return {ErrorClass::kBadInput, std::move(msg)}; }
  static Status Retriable(std::string msg) { return {ErrorClass::kRetriable, std::move(msg)}; }
  static Status Fatal(std::string msg) { return {ErrorClass::kFatal, std::move(msg)}; }
  static Status Gap(std::string msg) { return {ErrorClass::kGap, std::move(msg)}; }

  bool ok() const { return cls_ == ErrorClass::kOk; }
  ErrorClass error_class() const { return cls_; }
  const std::string& message() const { return msg_; }
  // "bad input: ...", "retriable: ...", "fatal: ...", "gap: ..." for diagnostics.
  std::string ToString() const;

 private:
  Status(ErrorClass cls, std::string msg) : cls_(cls), msg_(std::move(msg)) {}
  ErrorClass cls_ = ErrorClass::kOk;
  std::string msg_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

#define CARELEDGER_RETURN_IF_ERROR(expr) \
  do {                                   \
    ::careledger::Status s_ = (expr);    \
    if (!s_.ok()) return s_;             \
  } while (0)

// ---- Time ---------------------------------------------------------------------------------
using Date = std::chrono::sys_days;
using Instant = std::chrono::sys_seconds;

// An RFC 3339 date ("2024-03-31") or date-time ("2024-03-31T23:30:00+01:00"). `date` is the
// calendar date as written by the source (the local date the thing happened on, which is what
// statutory counts use); `instant` is the same moment in UTC (midnight UTC for a bare date).
struct Timestamp {
  Date date;
  Instant instant;
  bool has_time = false;
};
Result<Timestamp> ParseTimestamp(std::string_view text);
Result<Date> ParseDate(std::string_view text);  // "YYYY-MM-DD" only
std::string FormatDate(Date d);
std::string FormatInstant(Instant t);  // "YYYY-MM-DDTHH:MM:SSZ"
Date Today();
// The day someone born on `born` turns `years` old: the anniversary, or for 29 February in a
// common year 1 March (as the law in England counts it). Every age in careledger, the
// generator's included, is counted from this one rule.
Date Anniversary(Date born, int years);
// The year ending 31 March that the statutory returns (SSDA903), the youth justice figures and
// the criminalisation protocol count in, named by the calendar year it ends in: 2025 is
// 1 April 2024 to 31 March 2025. (SSDA903 names its collection years by the year they start.)
struct YearEnding {
  int year = 0;
  Date First() const;  // 1 April of the year before
  Date Last() const;   // 31 March
  Date End() const;    // the day after Last(): [First(), End()) is the year
  static YearEnding Containing(Date d);
  static YearEnding EndingBy(Date d);  // the last that has ended by the end of `d`
  static bool IsLastDay(Date d);       // d is a 31 March
};

// ---- Logging ------------------------------------------------------------------------------
// Diagnostics go to stderr; data goes to stdout. Levels: trace, debug, info, warn, error, off.
Status InitLogging(std::string_view level);

// ---- Settings -----------------------------------------------------------------------------
// Kafka settings pass through to librdkafka unchanged; this map is what they travel in.
using Settings = std::map<std::string, std::string>;

bool IsSecretKey(std::string_view key);  // sasl.password, ssl.key.password, *token*, …
// "k=v, k=v" with every secret value replaced by "*****": the only way settings reach a log.
std::string MaskedForLog(const Settings& settings);
// Parses "key=value" into settings; BadInput naming the text when there is no '='.
Status AddKeyValue(std::string_view key_value, Settings& settings);

// ---- Where a record came from ---------------------------------------------------------------
// A topic's partition: what the store keys offsets, dead letters and records' origins by, and
// what the Kafka clients consume. Plain data, so the store needs no Kafka client to name one.
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator<(const TopicPartition& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
  bool operator==(const TopicPartition& o) const = default;
};

// Why a message was refused, decided where it was refused: stored with its dead letter, the
// `error` header on the dead-letter topic and the label of dead-letter metrics. Stored as its
// number: append, never reorder.
enum class RejectKind : uint8_t {
  kInvalidJson,     // not JSON, or not an object
  kInvalidUtf8,     // bytes that are not UTF-8
  kOversize,        // larger than an envelope may be
  kUnknownType,     // a `type` the contract does not have
  kSchema,          // a field against its schema or a rule of the envelope
  kConflict,        // an event id already stored with other content
  kKeyMismatch,     // the message key is not the child id
  kWrongPartition,  // the child id hashes to another partition
  kWrongTopic,      // the type belongs on another topic
  kOther,
};
inline constexpr RejectKind kRejectKinds[] = {RejectKind::kInvalidJson, RejectKind::kInvalidUtf8,
                                              RejectKind::kOversize,    RejectKind::kUnknownType,
                                              RejectKind::kSchema,      RejectKind::kConflict,
                                              RejectKind::kKeyMismatch, RejectKind::kWrongPartition,
                                              RejectKind::kWrongTopic,  RejectKind::kOther};
// Each kind's name, in the enum's order.
inline constexpr std::string_view kRejectKindNames[] = {
    "invalid_json", "invalid_utf8", "oversize",        "unknown_type", "schema",
    "conflict",     "key_mismatch", "wrong_partition", "wrong_topic",  "other"};
static_assert(std::size(kRejectKindNames) == size_t(RejectKind::kOther) + 1);
inline std::string_view RejectKindName(RejectKind kind) {
  return size_t(kind) < std::size(kRejectKindNames) ? kRejectKindNames[size_t(kind)] : "other";
}

// ---- Text output --------------------------------------------------------------------------
void AppendJsonString(std::string& out, std::string_view s);  // quoted and escaped
std::string CsvField(std::string_view s);                     // quoted only when it must be

// ---- CSV ------------------------------------------------------------------------------------
// RFC 4180: quoted cells may hold commas, doubled quotes and line breaks; unquoted cells are
// trimmed of spaces; a UTF-8 byte order mark (Excel) is skipped.
struct CsvRow {
  uint64_t line = 0;  // where the record starts
  std::vector<std::string> cells;
};
struct CsvFile {
  std::string path;
  std::vector<std::string> header;  // empty when the file has no rows at all
  std::vector<CsvRow> rows;         // blank lines left out
  // The index of a header column, or -1.
  int Column(std::string_view name) const;
};
// A record left out of `rows`: an unterminated quote, or a cell count other than the header's
// (a stray comma shifts every later cell into the wrong column, so such a row is never read).
struct BrokenRecord {
  uint64_t line;
  std::string reason;
};
// BadInput when the file cannot be read; broken records are per-row problems.
Result<CsvFile> ReadCsv(const std::string& path, std::vector<BrokenRecord>& broken);

// ---- Byte encodings for keys and stored values --------------------------------------------
// Big-endian where the bytes are a key (so RocksDB's byte order is numeric order), fixed
// little-endian for values.
namespace codec {
void PutBigEndian32(std::string& out, uint32_t v);
void PutBigEndian64(std::string& out, uint64_t v);
uint32_t GetBigEndian32(const char* p);
uint64_t GetBigEndian64(const char* p);
void PutFixed64(std::string& out, uint64_t v);
uint64_t GetFixed64(const char* p);
void PutLengthPrefixed(std::string& out, std::string_view s);  // u32 length + bytes
// Reads one length-prefixed string from the front of `in` and advances it.
bool GetLengthPrefixed(std::string_view& in, std::string_view& out);
// A key part of any length: LEB128 varint length + bytes. Self-delimiting, so no part's
// encoding is a prefix of another's, and a prefix scan for one part never meets another. A
// length under 128 is the one byte it would be as a plain u8, so keys written with a one-byte
// length before stay the same.
void PutKeyPart(std::string& out, std::string_view s);
// Reads one key part from the front of `in` and advances it; false when `in` is cut short.
bool GetKeyPart(std::string_view& in, std::string_view& out);
// A date as an unsigned key that sorts in date order (days since 1970 + 2^31).
uint32_t DaysKey(Date d);
Date DateFromDaysKey(uint32_t key);
}  // namespace codec

// 64-bit FNV-1a: stable across runs and machines, for content fingerprints (not security).
uint64_t Fingerprint(std::string_view bytes);

// The Prometheus text exposition (version 0.0.4), written by whichever module owns a metric:
// the server writes the figures', the ingest loop its own.
class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const Labels& labels, double value);
  std::string Take() { return std::move(out_); }
  // A sample value as Prometheus writes it: integers without a fraction.
  static std::string Number(double v);

 private:
  std::string out_;
};

}  // namespace careledger
