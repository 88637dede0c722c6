#include "careledger/events.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <new>
#include <variant>
#include <vector>

#include "schema.h"

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

// EventData's fields by the names the schemas give them. Extraction fills a field only when
// the type's schema declares it, so nothing unvalidated reaches the projections.
using Slot = std::variant<std::string EventData::*, std::optional<bool> EventData::*,
                          std::optional<int> EventData::*, std::optional<Date> EventData::*,
                          std::optional<Timestamp> EventData::*>;
struct SlotRow {
  std::string_view name;
  Slot slot;
};
const SlotRow kSlots[] = {
    {"dob", &EventData::dob},
    {"sex", &EventData::sex},
    {"ethnicity", &EventData::ethnicity},
    {"prior_formal_outcomes", &EventData::prior_formal_outcomes},
    {"responsible_la", &EventData::responsible_la},
    {"legal_status", &EventData::legal_status},
    {"placement", &EventData::placement},
    {"provider", &EventData::provider},
    {"home_id", &EventData::home_id},
    {"reason", &EventData::reason},
    {"out_of_area", &EventData::out_of_area},
    {"in_touch", &EventData::in_touch},
    {"activity", &EventData::activity},
    {"accommodation", &EventData::accommodation},
    {"kind", &EventData::kind},
    {"level", &EventData::level},
    {"episode_id", &EventData::episode_id},
    {"category", &EventData::category},
    {"risk", &EventData::risk},
    {"from_home_id", &EventData::from_home_id},
    {"reported_by", &EventData::reported_by},
    {"offered", &EventData::offered},
    {"accepted", &EventData::accepted},
    {"held_at", &EventData::held_at},
    {"offence_id", &EventData::offence_id},
    {"offence_group", &EventData::offence_group},
    {"offence_type", &EventData::offence_type},
    {"knife_related", &EventData::knife_related},
    {"at_placement", &EventData::at_placement},
    {"home_office_outcome", &EventData::home_office_outcome},
    {"disposal", &EventData::disposal},
    {"decided_at", &EventData::decided_at},
    {"arrested_at", &EventData::arrested_at},
    {"case_id", &EventData::case_id},
    {"intervention", &EventData::intervention},
    {"target_event_id", &EventData::target_event_id},
};

// Upcasters: (type, from_version) -> what turns that version's EventData into the next
// version's. Reading an old event runs the chain up to the type's current version.
struct Upcaster {
  EventType type;
  int from_version;
  void (*apply)(EventData&);
};
constexpr Upcaster kUpcasters[] = {
    // missing.reported v2 made reported_by required; v1 sources never said who reported.
    {EventType::kMissingReported, 1, [](EventData& d) { d.reported_by = "not_recorded"; }},
};

const Upcaster* FindUpcaster(EventType type, int from_version) {
  for (const auto& u : kUpcasters) {
    if (u.type == type && u.from_version == from_version) return &u;
  }
  return nullptr;
}

// A type's schema at one version, with each declared property's EventData field.
struct DataPlan {
  const schema::Node* node = nullptr;
  std::vector<int8_t> slot;  // per property of `node`: index into kSlots, or -1
};

struct TypePlan {
  std::vector<DataPlan> versions;  // [0] is version 1
};

// The compiled contract: immutable once built, shared by every parser in the process.
struct Contract {
  Status status;
  std::unique_ptr<schema::SchemaSet> schemas;
  std::array<TypePlan, kTypes.size()> types;
  const schema::CodeList* event_types = nullptr;
  std::vector<EventType> type_of_entry;  // per entry of codes/event_type.json
  const schema::CodeList* legal_status = nullptr;
  // The CLA fold asks for every spell; a two-entry list beats a code-list lookup.
  std::vector<uint64_t> short_breaks;  // schema::PackCode of each
  const schema::CodeList* disposal = nullptr;
  const schema::CodeList* ethnicity = nullptr;
  const schema::CodeList* home_office_outcome = nullptr;
};

bool SlotFits(const Slot& slot, const schema::Node& node) {
  using schema::Format;
  switch (slot.index()) {
    case 0:
      return node.types == schema::kString && node.format == Format::kNone;
    case 1:
      return node.types == schema::kBoolean;
    case 2:
      return node.types == schema::kInteger;
    case 3:
      return node.types == schema::kString && node.format == Format::kDate;
    default:
      return node.types == schema::kString &&
             (node.format == Format::kDateTime || node.format == Format::kDateOrDateTime);
  }
}

Status BuildPlans(Contract& c) {
  const auto& events = c.schemas->events();
  for (const auto& [key, node] : events) {
    if (!EventTypeFromName(key.first)) {
      return Status::Fatal("schemas/events/" + key.first + ": not an event type of this build");
    }
  }
  for (const auto& row : kTypes) {
    TypePlan& plan = c.types[size_t(row.type)];
    for (int v = 1;; ++v) {
      auto it = events.find({std::string(row.name), v});
      if (it == events.end()) break;
      DataPlan dp;
      dp.node = it->second;
      for (const auto& prop : dp.node->properties) {
        int8_t found = -1;
        for (size_t i = 0; i < std::size(kSlots); ++i) {
          if (kSlots[i].name == prop.name) found = int8_t(i);
        }
        if (found >= 0 && !SlotFits(kSlots[uint8_t(found)].slot, *prop.node)) {
          return Status::Fatal("schemas/events/" + std::string(row.name) + ".v" +
                               std::to_string(v) + ".schema.json: property '" + prop.name +
                               "' has a type EventData cannot hold");
        }
        dp.slot.push_back(found);
      }
      plan.versions.push_back(std::move(dp));
    }
    const std::string name(row.name);
    if (plan.versions.empty()) {
      return Status::Fatal("schemas/events/" + name + ".v1.schema.json: missing");
    }
    if (events.upper_bound({name, int(plan.versions.size())}) != events.end() &&
        events.upper_bound({name, int(plan.versions.size())})->first.first == name) {
      return Status::Fatal("schemas/events/" + name + ": versions must run 1, 2, … without gaps");
    }
    for (int v = 1; v < int(plan.versions.size()); ++v) {
      if (!FindUpcaster(row.type, v)) {
        return Status::Fatal(name + " v" + std::to_string(v) + " has no upcaster to v" +
                             std::to_string(v + 1) + " (common/src/events.cc kUpcasters)");
      }
    }
  }
  // The envelope's type list and this build's EventType must be the same set, with the same
  // topics: a type the schemas know but the code does not would be accepted and then dropped.
  int type_index = c.schemas->envelope().FindProperty("type");
  const schema::CodeList* types =
      type_index < 0 ? nullptr : c.schemas->envelope().properties[size_t(type_index)].node->codes;
  if (!types || types->entries.size() != kTypes.size()) {
    return Status::Fatal("schemas/codes/event_type.json: must list this build's 18 event types");
  }
  for (const auto& e : types->entries) {
    auto t = EventTypeFromName(e.code);
    if (!t || e.Extra("x-topic") != TopicFor(*t)) {
      return Status::Fatal(
          "schemas/codes/event_type.json: an entry is not an event type of this "
          "build, or its x-topic differs");
    }
    c.type_of_entry.push_back(*t);
  }
  c.event_types = types;
  return Status::Ok();
}

Contract BuildContract(std::span<const ContractFile> files) {
  Contract c;
  auto loaded = schema::SchemaSet::Load(files);
  if (!loaded.ok()) {
    c.status = loaded.status();
    return c;
  }
  c.schemas = std::move(loaded).value();
  c.status = BuildPlans(c);
  c.legal_status = c.schemas->Codes("legal_status");
  c.disposal = c.schemas->Codes("disposal");
  c.ethnicity = c.schemas->Codes("ethnicity");
  c.home_office_outcome = c.schemas->Codes("home_office_outcome");
  if (c.legal_status) {
    for (const auto& e : c.legal_status->entries) {
      auto packed = schema::PackCode(e.code);
      if (packed && e.Extra("x-short-break") == "true") c.short_breaks.push_back(*packed);
    }
  }
  if (c.status.ok() && !(c.legal_status && c.disposal && c.ethnicity && c.home_office_outcome)) {
    c.status = Status::Fatal(
        "schemas/codes/: legal_status, disposal, ethnicity and "
        "home_office_outcome are needed by the code");
  }
  return c;
}

Result<NationalOffenceProfile> ReadNationalYouthOffences() {
  constexpr std::string_view kPath = "reference/youth_offences_with_outcome_2021.json";
  auto bad = [&](std::string_view what) {
    return Status::Fatal("schemas/" + std::string(kPath) + ": " + std::string(what));
  };
  for (const ContractFile& f : EmbeddedContractFiles()) {
    if (f.path != kPath) continue;
    simdjson::dom::parser parser;
    simdjson::dom::object doc;
    if (parser.parse(f.text.data(), f.text.size()).get(doc)) return bad("not a JSON object");
    NationalOffenceProfile p;
    int64_t year = 0;
    simdjson::dom::object groups;
    if (doc["year"].get(year) || doc["offences_with_outcome"].get(groups) ||
        doc["total"].get(p.total) || doc["population_aged_10_17"].get(p.population_aged_10_17)) {
      return bad("needs year, offences_with_outcome, total and population_aged_10_17");
    }
    p.year = int(year);
    int64_t sum = 0;
    for (auto [group, count] : groups) {
      int64_t n = 0;
      if (count.get(n) || n < 0) return bad("offence counts must be whole numbers");
      p.by_group.emplace_back(std::string(group), n);
      sum += n;
    }
    if (sum != p.total) return bad("the groups do not add up to the total");
    return p;
  }
  return bad("not embedded");
}

const Contract& BuiltInContract() {
  static const Contract contract = BuildContract(EmbeddedContractFiles());
  return contract;
}

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

const schema::CodeEntry* FindCode(const schema::CodeList* list, std::string_view code) {
  return list ? list->Find(code) : nullptr;
}

std::optional<std::string_view> Attribute(const schema::CodeList* list, std::string_view code,
                                          std::string_view keyword) {
  const auto* e = FindCode(list, code);
  return e ? e->Extra(keyword) : std::nullopt;
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

int CurrentSchemaVersion(EventType type) {
  return int(BuiltInContract().types[size_t(type)].versions.size());
}

Status CheckContract(std::span<const ContractFile> files) {
  return BuildContract(files).status;
}

std::optional<std::string_view> CodeTitle(std::string_view list, std::string_view code) {
  const auto& c = BuiltInContract();
  const auto* e = c.schemas ? FindCode(c.schemas->Codes(list), code) : nullptr;
  return e ? std::optional<std::string_view>(e->title) : std::nullopt;
}

std::optional<std::string_view> CodeAttribute(std::string_view list, std::string_view code,
                                              std::string_view keyword) {
  const auto& c = BuiltInContract();
  return c.schemas ? Attribute(c.schemas->Codes(list), code, keyword) : std::nullopt;
}

std::optional<std::string_view> DisposalTier(std::string_view disposal) {
  return Attribute(BuiltInContract().disposal, disposal, "x-tier");
}

bool IsFormalDisposal(std::string_view disposal) {
  return Attribute(BuiltInContract().disposal, disposal, "x-formal") == "true";
}

bool IsInTouch(std::string_view in_touch) {
  return CodeAttribute("in_touch", in_touch, "x-in-touch") == "true";
}

bool IsSuitableAccommodation(std::string_view accommodation) {
  return CodeAttribute("accommodation", accommodation, "x-suitable") == "true";
}

bool IsInEducationEmploymentOrTraining(std::string_view activity) {
  return CodeAttribute("activity", activity, "x-eet") == "true";
}

std::optional<std::string_view> EthnicityGroup(std::string_view ethnicity) {
  return Attribute(BuiltInContract().ethnicity, ethnicity, "x-group");
}

std::optional<std::string_view> HomeOfficeOutcomeDisposal(int code) {
  const auto* list = BuiltInContract().home_office_outcome;
  const auto* e = list ? list->Find(int64_t{code}) : nullptr;
  return e ? e->Extra("x-disposal") : std::nullopt;
}

bool IsShortBreakLegalStatus(std::string_view legal_status) {
  // SSDA903: V3/V4 are agreed series of short-term (respite) placements; the statutory CLA
  // count and the OC2 cohort leave them out. schemas/codes/legal_status.json marks them.
  auto packed = schema::PackCode(legal_status);
  if (!packed) return false;
  const auto& codes = BuiltInContract().short_breaks;
  return std::find(codes.begin(), codes.end(), *packed) != codes.end();
}

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
}  // namespace

EnvelopeParser::EnvelopeParser() : EnvelopeParser(ParserOptions{}) {}
EnvelopeParser::EnvelopeParser(ParserOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
EnvelopeParser::~EnvelopeParser() = default;

Status EnvelopeParser::Parse(std::string_view json, Envelope& out, RejectKind* kind) {
  RejectKind unused = RejectKind::kOther;
  RejectKind& why = kind ? *kind : unused;
  why = RejectKind::kSchema;  // what every check after the JSON layer's is
  const Contract& contract = impl_->contract;
  if (!contract.status.ok()) {
    why = RejectKind::kOther;
    return Status::Fatal("the built-in schemas did not load: " + contract.status.message());
  }
  if (json.size() > kMaxEnvelopeBytes) {
    why = RejectKind::kOversize;
    return Status::BadInput("oversize: " + std::to_string(json.size()) + " bytes > " +
                            std::to_string(kMaxEnvelopeBytes));
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; Kafka payloads and file lines
  // are not padded, so copy into a buffer that is.
  auto& buf = impl_->padded;
  if (buf.size() < json.size() + simdjson::SIMDJSON_PADDING) {
    buf.resize(json.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buf.data(), json.data(), json.size());
  element doc;
  if (auto err = impl_->parser.parse(buf.data(), json.size(), false).get(doc)) {
    if (err == simdjson::UTF8_ERROR) {
      why = RejectKind::kInvalidUtf8;
      return Status::BadInput("invalid UTF-8");
    }
    why = RejectKind::kInvalidJson;
    return Status::BadInput(std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    why = RejectKind::kInvalidJson;
    return Status::BadInput("not a JSON object");
  }
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

  const TypePlan& type_plan = contract.types[size_t(out.type)];
  if (out.schema_version < 1 || out.schema_version > int(type_plan.versions.size())) {
    return FieldError("schema_version", "unsupported version for " +
                                            std::string(EventTypeName(out.type)) +
                                            " (this build reads 1–" +
                                            std::to_string(type_plan.versions.size()) + ")");
  }
  const Instant now = impl_->options.now ? *impl_->options.now : CoarseNow();
  if (out.recorded_at.instant > now + std::chrono::hours{24}) {
    return FieldError("recorded_at", "more than 24 h in the future");
  }
  // A bare date is compared as a date: it is the source's local calendar day, which may
  // start before midnight UTC.
  if (out.occurred_at.has_time ? out.occurred_at.instant > out.recorded_at.instant
                               : out.occurred_at.date > out.recorded_at.date) {
    return FieldError("occurred_at", "after recorded_at");
  }

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
  // An event that removes itself would leave the child's history as if it never came, while
  // the log and every count of events say it did.
  if (!out.supersedes.empty() && out.supersedes == out.event_id) {
    return FieldError("supersedes", "names the event itself");
  }
  if (out.type == EventType::kEventRetracted && out.data.target_event_id == out.event_id) {
    return FieldError("data.target_event_id", "names the event itself");
  }
  return Status::Ok();
}

const Result<NationalOffenceProfile>& NationalYouthOffences() {
  static const Result<NationalOffenceProfile> profile = ReadNationalYouthOffences();
  return profile;
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
