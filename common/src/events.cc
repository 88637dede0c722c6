#include "careledger/events.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace careledger {

namespace {

struct TypeRow {
  EventType type;
  std::string_view name;
  std::string_view topic;
};

constexpr std::array<TypeRow, 18> kTypes = {{
    {EventType::kChildRegistered, "child.registered", kTopicSocialCare},
    {EventType::kCarePeriodStarted, "care.period_started", kTopicSocialCare},
    {EventType::kCarePlacementChanged, "care.placement_changed", kTopicSocialCare},
    {EventType::kCareLegalStatusChanged, "care.legal_status_changed", kTopicSocialCare},
    {EventType::kCarePeriodEnded, "care.period_ended", kTopicSocialCare},
    {EventType::kCareLeaverContactRecorded, "care_leaver.contact_recorded", kTopicSocialCare},
    {EventType::kExploitationRiskAssessed, "child.exploitation_risk_assessed", kTopicSocialCare},
    {EventType::kPlacementPoliceCallout, "placement.police_callout", kTopicSocialCare},
    {EventType::kMissingReported, "missing.reported", kTopicPolice},
    {EventType::kMissingReturned, "missing.returned", kTopicPolice},
    {EventType::kMissingReturnInterview, "missing.return_interview", kTopicPolice},
    {EventType::kOffenceRecorded, "offence.recorded", kTopicPolice},
    {EventType::kOutcomeRecorded, "outcome.recorded", kTopicPolice},
    {EventType::kArrestRecorded, "arrest.recorded", kTopicPolice},
    {EventType::kYjsCaseOpened, "yjs.case_opened", kTopicYjs},
    {EventType::kYjsCaseClosed, "yjs.case_closed", kTopicYjs},
    {EventType::kCourtOutcomeRecorded, "court.outcome_recorded", kTopicYjs},
    {EventType::kEventRetracted, "event.retracted", kTopicSocialCare},
}};

// SSDA903 code lists used by the care events. They move into schemas/ with the feed contract.
constexpr std::string_view kLegalStatuses[] = {"C1", "C2", "D1", "E1", "V2", "V3", "V4",
                                               "L1", "L2", "L3", "J1", "J2", "J3"};
constexpr std::string_view kPlacements[] = {
    "A3", "A4", "A5", "A6", "K1", "K2", "K3", "P1", "P3", "R1", "R2", "R3",  "R5",  "S1",  "T0",
    "T1", "T2", "T3", "T4", "U1", "U2", "U3", "U4", "U5", "U6", "Z1", "Z11", "Z12", "Z13", "Z14"};
constexpr std::string_view kProviders[] = {"PR0", "PR1", "PR2", "PR3", "PR4", "PR5"};
constexpr std::string_view kEndReasons[] = {"X1",  "E11", "E12", "E2",  "E3",  "E4A", "E4B", "E13",
                                            "E41", "E45", "E46", "E47", "E48", "E5",  "E6",  "E7",
                                            "E9",  "E14", "E15", "E16", "E17", "E8"};
constexpr std::string_view kPlacementChangeReasons[] = {"CARPL", "CLOSE", "ALLEG",  "STAND",
                                                        "APPRR", "CREQB", "CREQO",  "CHILD",
                                                        "LAREQ", "PLACE", "CUSTOD", "OTHER"};
constexpr std::string_view kSexes[] = {"M", "F", "U"};

template <size_t N>
bool In(const std::string_view (&list)[N], std::string_view v) {
  return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

Status FieldError(std::string_view field, std::string_view rule) {
  std::string msg = "field '";
  msg += field;
  msg += "': ";
  msg += rule;
  return Status::BadInput(std::move(msg));
}

using simdjson::dom::element;

Status GetString(element v, std::string_view field, size_t min_len, size_t max_len,
                 std::string& out) {
  std::string_view s;
  if (v.get_string().get(s)) return FieldError(field, "must be a string");
  if (s.size() < min_len || s.size() > max_len) {
    return FieldError(field,
                      "length must be " + std::to_string(min_len) + "–" + std::to_string(max_len));
  }
  out.assign(s);
  return Status::Ok();
}

template <size_t N>
Status GetCode(element v, std::string_view field, const std::string_view (&list)[N],
               std::string& out) {
  CARELEDGER_RETURN_IF_ERROR(GetString(v, field, 1, 16, out));
  if (!In(list, out)) return FieldError(field, "not a known code");
  return Status::Ok();
}

Status GetTimestamp(element v, std::string_view field, bool need_time, Timestamp& out) {
  std::string_view s;
  if (v.get_string().get(s)) return FieldError(field, "must be a string");
  auto ts = ParseTimestamp(s);
  if (!ts.ok()) return FieldError(field, ts.status().message());
  if (need_time && !ts->has_time) return FieldError(field, "must be a date-time, not a date");
  out = *ts;
  return Status::Ok();
}

Status ParseData(simdjson::dom::object data, EventType type, EventData& out) {
  out = EventData{};
  bool has_placement = false, has_legal_status = false, has_reason = false, has_dob = false;
  for (auto [key, value] : data) {
    if (key == "dob") {
      Timestamp ts;
      CARELEDGER_RETURN_IF_ERROR(GetTimestamp(value, "data.dob", false, ts));
      out.dob = ts.date;
      has_dob = true;
    } else if (key == "sex") {
      CARELEDGER_RETURN_IF_ERROR(GetCode(value, "data.sex", kSexes, out.sex));
    } else if (key == "ethnicity") {
      CARELEDGER_RETURN_IF_ERROR(GetString(value, "data.ethnicity", 1, 8, out.ethnicity));
    } else if (key == "legal_status") {
      CARELEDGER_RETURN_IF_ERROR(
          GetCode(value, "data.legal_status", kLegalStatuses, out.legal_status));
      has_legal_status = true;
    } else if (key == "placement") {
      CARELEDGER_RETURN_IF_ERROR(GetCode(value, "data.placement", kPlacements, out.placement));
      has_placement = true;
    } else if (key == "provider") {
      CARELEDGER_RETURN_IF_ERROR(GetCode(value, "data.provider", kProviders, out.provider));
    } else if (key == "home_id") {
      CARELEDGER_RETURN_IF_ERROR(GetString(value, "data.home_id", 1, 64, out.home_id));
    } else if (key == "out_of_area") {
      bool b = false;
      if (value.get_bool().get(b)) return FieldError("data.out_of_area", "must be a boolean");
      out.out_of_area = b;
    } else if (key == "reason") {
      CARELEDGER_RETURN_IF_ERROR(GetString(value, "data.reason", 1, 32, out.reason));
      has_reason = true;
    }
  }
  switch (type) {
    case EventType::kChildRegistered:
      if (!has_dob) return FieldError("data.dob", "required for child.registered");
      break;
    case EventType::kCarePeriodStarted:
      if (!has_legal_status) return FieldError("data.legal_status", "required");
      if (!has_placement) return FieldError("data.placement", "required");
      break;
    case EventType::kCarePlacementChanged:
      if (!has_placement) return FieldError("data.placement", "required");
      if (has_reason && !In(kPlacementChangeReasons, out.reason)) {
        return FieldError("data.reason", "not a known REASON_PLACE_CHANGE code");
      }
      break;
    case EventType::kCareLegalStatusChanged:
      if (!has_legal_status) return FieldError("data.legal_status", "required");
      break;
    case EventType::kCarePeriodEnded:
      if (!has_reason) return FieldError("data.reason", "required");
      if (!In(kEndReasons, out.reason)) return FieldError("data.reason", "not a known REC code");
      break;
    default:
      break;
  }
  return Status::Ok();
}

}  // namespace

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (const auto& row : kTypes) {
    if (row.name == name) return row.type;
  }
  return std::nullopt;
}

std::string_view EventTypeName(EventType type) {
  return kTypes[size_t(type)].name;
}
std::string_view TopicFor(EventType type) {
  return kTypes[size_t(type)].topic;
}

bool IsShortBreakLegalStatus(std::string_view legal_status) {
  // SSDA903: V3/V4 are agreed series of short-term (respite) placements; the statutory CLA
  // count and the OC2 cohort leave them out.
  return legal_status == "V3" || legal_status == "V4";
}

struct EnvelopeParser::Impl {
  simdjson::dom::parser parser;
  std::vector<char> padded;
};

EnvelopeParser::EnvelopeParser() : impl_(std::make_unique<Impl>()) {}
EnvelopeParser::~EnvelopeParser() = default;

Status EnvelopeParser::Parse(std::string_view json, Envelope& out) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; Kafka payloads and file lines
  // are not padded, so copy into a buffer that is.
  auto& buf = impl_->padded;
  if (buf.size() < json.size() + simdjson::SIMDJSON_PADDING) {
    buf.resize(json.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buf.data(), json.data(), json.size());
  element doc;
  if (auto err = impl_->parser.parse(buf.data(), json.size(), false).get(doc)) {
    return Status::BadInput(std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return Status::BadInput("not a JSON object");

  bool seen[9] = {};
  enum { kId, kType, kVersion, kSource, kChild, kOccurred, kRecorded, kData, kSupersedes };
  simdjson::dom::object data;
  out.supersedes.clear();
  for (auto [key, value] : obj) {
    if (key == "event_id") {
      CARELEDGER_RETURN_IF_ERROR(GetString(value, "event_id", 1, 128, out.event_id));
      seen[kId] = true;
    } else if (key == "type") {
      std::string_view t;
      if (value.get_string().get(t)) return FieldError("type", "must be a string");
      auto type = EventTypeFromName(t);
      if (!type) return FieldError("type", "unknown event type");
      out.type = *type;
      seen[kType] = true;
    } else if (key == "schema_version") {
      int64_t v = 0;
      if (value.get_int64().get(v)) return FieldError("schema_version", "must be an integer");
      if (v != 1) return FieldError("schema_version", "unsupported version (this build reads 1)");
      out.schema_version = int(v);
      seen[kVersion] = true;
    } else if (key == "source") {
      CARELEDGER_RETURN_IF_ERROR(GetString(value, "source", 1, 64, out.source));
      seen[kSource] = true;
    } else if (key == "child_id") {
      CARELEDGER_RETURN_IF_ERROR(GetString(value, "child_id", 1, 64, out.child_id));
      seen[kChild] = true;
    } else if (key == "occurred_at") {
      CARELEDGER_RETURN_IF_ERROR(GetTimestamp(value, "occurred_at", false, out.occurred_at));
      seen[kOccurred] = true;
    } else if (key == "recorded_at") {
      CARELEDGER_RETURN_IF_ERROR(GetTimestamp(value, "recorded_at", true, out.recorded_at));
      seen[kRecorded] = true;
    } else if (key == "supersedes") {
      CARELEDGER_RETURN_IF_ERROR(GetString(value, "supersedes", 1, 128, out.supersedes));
    } else if (key == "data") {
      if (value.get_object().get(data)) return FieldError("data", "must be an object");
      seen[kData] = true;
    }
  }
  static constexpr std::string_view kNames[] = {"event_id",    "type",     "schema_version",
                                                "source",      "child_id", "occurred_at",
                                                "recorded_at", "data"};
  for (int i = 0; i < 8; ++i) {
    if (!seen[i]) return FieldError(kNames[i], "required");
  }
  return ParseData(data, out.type, out.data);
}

}  // namespace careledger
