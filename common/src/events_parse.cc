// EnvelopeParser: an event's JSON checked against the contract (envelope, then its type's
// data at its version), read into an Envelope and upcast; and comparing two events' JSON.
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <variant>
#include <vector>

#include "careledger/events.h"
#include "events_contract.h"

namespace careledger {

namespace {

// The wall clock to the nearest few milliseconds, which is all a 24-hour rule needs, at a
// fraction of the cost of the precise clock on every event.
Instant CoarseNow() {
  timespec ts{};
  if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) != 0) {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
  return Instant{std::chrono::seconds{ts.tv_sec}};
}

Status FieldError(std::string_view field, std::string_view rule) {
  std::string msg = "field '";
  msg += field;
  msg += "': ";
  msg += rule;
  return Status::BadInput(std::move(msg));
}

using simdjson::dom::element;

// Readers for values validation has already checked; the fallbacks are never taken.
std::string_view StringOf(element v) {
  std::string_view s;
  return v.get_string().get(s) ? std::string_view() : s;
}
bool BoolOf(element v) {
  bool b = false;
  return v.get_bool().get(b) ? false : b;
}
int64_t IntOf(element v) {
  int64_t n = 0;
  return v.get_int64().get(n) ? 0 : n;
}
Timestamp TimestampOf(element v) {
  auto ts = ParseTimestamp(StringOf(v));
  return ts.ok() ? *ts : Timestamp{};
}

// Validation has already checked every value; this only copies what the schema declares.
void ExtractData(simdjson::dom::object data, const DataPlan& plan, EventData& out) {
  for (auto [key, value] : data) {
    int i = plan.node->FindProperty(key);
    if (i < 0 || plan.slot[size_t(i)] < 0) continue;
    // Not negative (checked above), so through uint8_t it keeps its value.
    const Slot& slot = kSlots[uint8_t(plan.slot[size_t(i)])].slot;
    switch (slot.index()) {
      case 0:
        (out.*std::get<0>(slot)).assign(StringOf(value));
        break;
      case 1:
        out.*std::get<1>(slot) = BoolOf(value);
        break;
      case 2:
        out.*std::get<2>(slot) = int(IntOf(value));
        break;
      case 3:
        out.*std::get<3>(slot) = TimestampOf(value).date;
        break;
      default:
        out.*std::get<4>(slot) = TimestampOf(value);
        break;
    }
  }
}

}  // namespace

struct EnvelopeParser::Impl {
  const Contract& contract = BuiltInContract();
  ParserOptions options;
  simdjson::dom::parser parser;
  std::vector<char> padded;
};

namespace {
// JSON leaves duplicate member names undefined (RFC 8259: "SHOULD be unique"); parsers differ
// on which copy wins, so a downstream reader of the stored bytes could see another event than
// the one validated here. Refused, naming the member. Objects are small (a dozen members), so
// comparing each name with the ones before it is the cheap way.
std::optional<std::string> DuplicateMember(element e, const std::string& at) {
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  if (e.get_object().get(obj) == simdjson::SUCCESS) {
    std::string_view seen[32];
    size_t n = 0;
    std::vector<std::string_view> more;
    for (auto [key, value] : obj) {
      bool dup = std::find(seen, seen + n, key) != seen + n ||
                 std::find(more.begin(), more.end(), key) != more.end();
      if (dup) return (at.empty() ? "" : at + ".") + std::string(key);
      if (n < std::size(seen)) {
        seen[n++] = key;
      } else {
        more.push_back(key);
      }
      if (value.is_object() || value.is_array()) {
        if (auto d = DuplicateMember(value, (at.empty() ? "" : at + ".") + std::string(key))) {
          return d;
        }
      }
    }
  } else if (e.get_array().get(arr) == simdjson::SUCCESS) {
    for (element item : arr) {
      if (item.is_object() || item.is_array()) {
        if (auto d = DuplicateMember(item, at + "[]")) return d;
      }
    }
  }
  return std::nullopt;
}

// The bytes as a JSON object, or why not (oversize, invalid UTF-8, not JSON, not an object).
Status ParseObject(std::string_view json, std::vector<char>& buf, simdjson::dom::parser& parser,
                   element& doc, simdjson::dom::object& obj, RejectKind& why) {
  if (json.size() > kMaxEnvelopeBytes) {
    why = RejectKind::kOversize;
    return Status::BadInput("oversize: " + std::to_string(json.size()) + " bytes > " +
                            std::to_string(kMaxEnvelopeBytes));
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; Kafka payloads and file lines
  // are not padded, so copy into a buffer that is.
  if (buf.size() < json.size() + simdjson::SIMDJSON_PADDING) {
    buf.resize(json.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buf.data(), json.data(), json.size());
  if (auto err = parser.parse(buf.data(), json.size(), false).get(doc)) {
    if (err == simdjson::UTF8_ERROR) {
      why = RejectKind::kInvalidUtf8;
      return Status::BadInput("invalid UTF-8");
    }
    why = RejectKind::kInvalidJson;
    return Status::BadInput(std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  if (doc.get_object().get(obj)) {
    why = RejectKind::kInvalidJson;
    return Status::BadInput("not a JSON object");
  }
  return Status::Ok();
}

// No member named twice, and valid against envelope.schema.json.
Status CheckEnvelope(element doc, simdjson::dom::object obj, const Contract& contract,
                     RejectKind& why) {
  if (auto dup = DuplicateMember(doc, "")) {
    return Status::BadInput("field '" + *dup + "': appears twice in one object");
  }
  if (Status s = schema::Validate(doc, contract.schemas->envelope(), nullptr); !s.ok()) {
    // A type the contract does not have is told apart from any other envelope fault.
    std::string_view type;
    if (obj["type"].get_string().get(type) == simdjson::SUCCESS &&
        !contract.event_types->Find(type)) {
      why = RejectKind::kUnknownType;
    }
    return s;
  }
  return Status::Ok();
}

// The envelope's fields into `out`; returns its data member, read later against the type's
// schema at the version read here.
element ReadEnvelope(simdjson::dom::object obj, const Contract& contract, Envelope& out) {
  // Valid against envelope.schema.json: every required field is there with its type.
  element data;
  out.supersedes.clear();
  out.source_key.clear();
  for (auto [key, value] : obj) {
    if (key == "event_id") {
      out.event_id.assign(StringOf(value));
    } else if (key == "type") {
      const auto* entry = contract.event_types->Find(StringOf(value));
      out.type = entry ? contract.type_of_entry[contract.event_types->IndexOf(*entry)]
                       : EventType::kChildRegistered;
    } else if (key == "schema_version") {
      // Past INT64_MAX simdjson holds a uint64, which IntOf reads as 0; the schema's
      // "minimum": 1 has let it through, so clamp it rather than index version 0.
      uint64_t big = 0;
      out.schema_version = value.get_uint64().get(big) == simdjson::SUCCESS
                               ? int(std::min<uint64_t>(big, 1 << 20))
                               : int(std::min<int64_t>(IntOf(value), 1 << 20));
    } else if (key == "source") {
      out.source.assign(StringOf(value));
    } else if (key == "child_id") {
      out.child_id.assign(StringOf(value));
    } else if (key == "occurred_at") {
      out.occurred_at = TimestampOf(value);
    } else if (key == "recorded_at") {
      out.recorded_at = TimestampOf(value);
    } else if (key == "supersedes") {
      out.supersedes.assign(StringOf(value));
    } else if (key == "source_key") {
      out.source_key.assign(StringOf(value));
    } else if (key == "data") {
      data = value;
    }
  }
  return data;
}

// A version this build reads, and times that can be true.
Status CheckVersionAndTimes(const Envelope& out, const TypePlan& type_plan,
                            const ParserOptions& options) {
  if (out.schema_version < 1 || out.schema_version > int(type_plan.versions.size())) {
    return FieldError("schema_version", "unsupported version for " +
                                            std::string(EventTypeName(out.type)) +
                                            " (this build reads 1–" +
                                            std::to_string(type_plan.versions.size()) + ")");
  }
  const Instant now = options.now ? *options.now : CoarseNow();
  if (out.recorded_at.instant > now + std::chrono::hours{24}) {
    return FieldError("recorded_at", "more than 24 h in the future");
  }
  // A bare date is compared as a date: it is the source's local calendar day, which may
  // start before midnight UTC.
  if (out.occurred_at.has_time ? out.occurred_at.instant > out.recorded_at.instant
                               : out.occurred_at.date > out.recorded_at.date) {
    return FieldError("occurred_at", "after recorded_at");
  }
  return Status::Ok();
}

// `data` checked against its type's schema at the envelope's version, read into out.data and
// upcast to the type's current version.
Status ReadData(element data, const TypePlan& type_plan, Envelope& out) {
  const DataPlan& plan = type_plan.versions[size_t(out.schema_version - 1)];
  static constexpr schema::Path kData{nullptr, "data"};
  CARELEDGER_RETURN_IF_ERROR(schema::Validate(data, *plan.node, &kData));
  // Destroy and default-initialise: `out.data = EventData{}` would first zero the whole
  // struct (value-initialisation), a measurable share of the per-event cost.
  out.data.~EventData();
  new (&out.data) EventData;
  simdjson::dom::object data_object;
  if (data.get_object().get(data_object) == simdjson::SUCCESS) {
    ExtractData(data_object, plan, out.data);
  }
  for (int v = out.schema_version; v < int(type_plan.versions.size()); ++v) {
    FindUpcaster(out.type, v)->apply(out.data);
  }
  return Status::Ok();
}

// An event that removes itself would leave the child's history as if it never came, while
// the log and every count of events say it did.
Status CheckNotSelfReferring(const Envelope& out) {
  if (!out.supersedes.empty() && out.supersedes == out.event_id) {
    return FieldError("supersedes", "names the event itself");
  }
  if (out.type == EventType::kEventRetracted && out.data.target_event_id == out.event_id) {
    return FieldError("data.target_event_id", "names the event itself");
  }
  return Status::Ok();
}

}  // namespace

EnvelopeParser::EnvelopeParser() : EnvelopeParser(ParserOptions{}) {}
EnvelopeParser::EnvelopeParser(ParserOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
EnvelopeParser::~EnvelopeParser() = default;

// Each step is in this file, so that the compiler can inline them: parsing runs per event.
Status EnvelopeParser::Parse(std::string_view json, Envelope& out, RejectKind* kind) {
  RejectKind unused = RejectKind::kOther;
  RejectKind& why = kind ? *kind : unused;
  why = RejectKind::kSchema;  // what every check after the JSON layer's is
  const Contract& contract = impl_->contract;
  if (!contract.status.ok()) {
    why = RejectKind::kOther;
    return Status::Fatal("the built-in schemas did not load: " + contract.status.message());
  }
  element doc;
  simdjson::dom::object obj;
  CARELEDGER_RETURN_IF_ERROR(ParseObject(json, impl_->padded, impl_->parser, doc, obj, why));
  CARELEDGER_RETURN_IF_ERROR(CheckEnvelope(doc, obj, contract, why));
  const element data = ReadEnvelope(obj, contract, out);
  const TypePlan& type_plan = contract.types[size_t(out.type)];
  CARELEDGER_RETURN_IF_ERROR(CheckVersionAndTimes(out, type_plan, impl_->options));
  CARELEDGER_RETURN_IF_ERROR(ReadData(data, type_plan, out));
  return CheckNotSelfReferring(out);
}

Result<bool> SameEventButForRecordedAt(std::string_view a, std::string_view b) {
  // Only on the rare path where a stored event and a new one with its id differ: every member
  // but recorded_at, as minified JSON, in key order.
  using Members = std::vector<std::pair<std::string_view, std::string>>;
  auto members = [](simdjson::dom::parser& parser, std::string_view json, Members& out) -> Status {
    element doc;
    simdjson::dom::object obj;
    if (parser.parse(json.data(), json.size()).get(doc) || doc.get_object().get(obj)) {
      return Status::BadInput("not a JSON object");
    }
    for (auto [key, value] : obj) {
      if (key != "recorded_at") out.emplace_back(key, simdjson::minify(value));
    }
    std::sort(out.begin(), out.end());
    return Status::Ok();
  };
  simdjson::dom::parser pa, pb;  // each document lives in its parser
  Members ma, mb;
  CARELEDGER_RETURN_IF_ERROR(members(pa, a, ma));
  CARELEDGER_RETURN_IF_ERROR(members(pb, b, mb));
  return ma == mb;
}

}  // namespace careledger