// The event types and their topics, EventData's fields by schema name, the upcasters, and the
// contract compiled from schemas/ that ties them together.
#include "careledger/events.h"

#include <algorithm>
#include <array>
#include <string>

#include "events_contract.h"

namespace careledger {

namespace {

struct TypeRow {
  EventType type;
  std::string_view name;
  std::string_view topic;
};

constexpr std::array<TypeRow, kEventTypeCount> kTypes = {{
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
    {EventType::kCourtRemandDecided, "court.remand_decided", kTopicYjs},
}};

constexpr Upcaster kUpcasters[] = {
    // missing.reported v2 made reported_by required; v1 sources never said who reported.
    {EventType::kMissingReported, 1, [](EventData& d) { d.reported_by = "not_recorded"; }},
};

}  // namespace

namespace events_detail {

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
    {"remanded_to", &EventData::remanded_to},
    {"case_id", &EventData::case_id},
    {"intervention", &EventData::intervention},
    {"target_event_id", &EventData::target_event_id},
};

const Upcaster* FindUpcaster(EventType type, int from_version) {
  for (const auto& u : kUpcasters) {
    if (u.type == type && u.from_version == from_version) return &u;
  }
  return nullptr;
}

}  // namespace events_detail

namespace {

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

}  // namespace

const Contract& events_detail::BuiltInContract() {
  static const Contract contract = BuildContract(EmbeddedContractFiles());
  return contract;
}

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

}  // namespace careledger
