// Helpers shared by the contract tests (schema_test.cc, schema_invalid_test.cc,
// schema_contract_test.cc): a valid example of every event type, one invalid example per rule,
// the edits that derive one from the other, and the fixed clock they are parsed against.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "careledger/events.h"

namespace careledger::schema_test {

inline constexpr char kChild[] = "CHILD-SECRET-9";  // must never appear in a message
// Fixed clock for every test, so the future rule does not depend on the day the tests run.
inline const Instant kNow = ParseTimestamp("2024-06-01T12:00:00Z")->instant;

// data members, in order, as JSON text: easy to drop or replace one.
using Members = std::vector<std::pair<std::string, std::string>>;

struct Event {
  Event(std::string t, int v, Members d) : type(std::move(t)), version(v), data(std::move(d)) {}

  std::string type;
  int version = 1;
  Members data;
  std::map<std::string, std::string> envelope;  // replaces (or, if "", drops) a field

  std::string Json() const {
    std::map<std::string, std::string> f = {
        {"event_id", R"("ev-1")"},
        {"type", "\"" + type + "\""},
        {"schema_version", std::to_string(version)},
        {"source", R"("police-rms")"},
        {"child_id", std::string("\"") + kChild + "\""},
        {"occurred_at", R"("2024-05-01T20:15:00+01:00")"},
        {"recorded_at", R"("2024-05-02T09:00:00Z")"},
    };
    std::string d = "{";
    for (const auto& [k, v] : data) d += (d.size() > 1 ? ",\"" : "\"") + k + "\":" + v;
    f["data"] = d + "}";
    for (const auto& [k, v] : envelope) f[k] = v;
    std::string out = "{";
    for (const auto& [k, v] : f) {
      if (v.empty()) continue;
      out += (out.size() > 1 ? ",\"" : "\"") + k + "\":" + v;
    }
    return out + "}";
  }
};

// A valid event of every type and version, with every field its schema declares.
inline std::vector<Event> ValidEvents() {
  return {
      {"child.registered",
       1,
       {{"dob", R"("2009-02-28")"},
        {"sex", R"("F")"},
        {"ethnicity", R"("WIRT")"},
        {"prior_formal_outcomes", "2"},
        {"responsible_la", R"("E06000023")"}}},
      {"care.period_started",
       1,
       {{"legal_status", R"("C2")"},
        {"placement", R"("K2")"},
        {"provider", R"("PR4")"},
        {"home_id", R"("H0042")"},
        {"out_of_area", "true"}}},
      {"care.placement_changed",
       1,
       {{"placement", R"("Z12")"},
        {"provider", R"("PR0")"},
        {"home_id", R"("H0043")"},
        {"out_of_area", "false"},
        {"reason", R"("CREQB")"}}},
      {"care.legal_status_changed", 1, {{"legal_status", R"("V4")"}}},
      {"care.period_ended", 1, {{"reason", R"("E4B")"}}},
      {"care_leaver.contact_recorded",
       1,
       {{"in_touch", R"("YES")"}, {"activity", R"("G6")"}, {"accommodation", R"("Z2")"}}},
      {"child.exploitation_risk_assessed", 1, {{"kind", R"("both")"}, {"level", R"("medium")"}}},
      {"placement.police_callout",
       1,
       {{"home_id", R"("H0042")"}, {"reason", R"("notifiable_incident")"}}},
      {"missing.reported",
       1,
       {{"episode_id", R"("M-77")"},
        {"category", R"("away")"},
        {"risk", R"("no_apparent_risk")"},
        {"from_home_id", R"("H0042")"}}},
      {"missing.reported",
       2,
       {{"episode_id", R"("M-78")"},
        {"category", R"("missing")"},
        {"risk", R"("high")"},
        {"from_home_id", R"("H0044")"},
        {"reported_by", R"("social_worker")"}}},
      {"missing.returned", 1, {{"episode_id", R"("M-77")"}}},
      {"missing.return_interview",
       1,
       {{"episode_id", R"("M-77")"},
        {"offered", "true"},
        {"accepted", "false"},
        {"held_at", R"("2024-05-02T08:30:00Z")"}}},
      {"offence.recorded",
       1,
       {{"offence_id", R"("O-1")"},
        {"offence_group", R"("breach_of_statutory_order")"},
        {"offence_type", R"("breach_of_bail")"},
        {"knife_related", "false"},
        {"at_placement", "true"}}},
      {"outcome.recorded",
       1,
       {{"offence_id", R"("O-1")"},
        {"home_office_outcome", "22"},
        {"disposal", R"("outcome_22")"},
        {"decided_at", R"("2024-05-01")"}}},
      {"arrest.recorded",
       1,
       {{"offence_id", R"("O-1")"}, {"arrested_at", R"("2024-05-01T21:00:00+01:00")"}}},
      {"yjs.case_opened", 1, {{"case_id", R"("Y-5")"}, {"intervention", R"("diversion")"}}},
      {"yjs.case_closed", 1, {{"case_id", R"("Y-5")"}, {"intervention", R"("court_order")"}}},
      {"court.outcome_recorded",
       1,
       {{"offence_id", R"("O-1")"},
        {"disposal", R"("youth_rehabilitation_order")"},
        {"decided_at", R"("2024-05-01T14:00:00Z")"}}},
      {"event.retracted",
       1,
       {{"target_event_id", R"("ev-0")"}, {"reason", R"("entered_in_error")"}}},
      {"court.remand_decided",
       1,
       {{"offence_id", R"("O-1")"},
        {"remanded_to", R"("youth_detention_accommodation")"},
        {"decided_at", R"("2024-05-02")"}}},
  };
}

inline const Event& ValidOf(const std::string& type, int version = 1) {
  static const std::vector<Event> events = ValidEvents();
  for (const auto& e : events) {
    if (e.type == type && e.version == version) return e;
  }
  ADD_FAILURE() << "no valid example of " << type;
  return events.front();
}

inline Event Without(Event e, const std::string& field) {
  std::erase_if(e.data, [&](const auto& m) { return m.first == field; });
  return e;
}

inline Event WithData(Event e, const std::string& field, const std::string& value) {
  for (auto& m : e.data) {
    if (m.first == field) {
      m.second = value;
      return e;
    }
  }
  e.data.emplace_back(field, value);
  return e;
}

inline Event WithEnvelope(Event e, const std::string& field, const std::string& value) {
  e.envelope[field] = value;
  return e;
}

struct Invalid {
  std::string name;
  std::string json;
  std::string message;  // exact "field '...': rule" prefix or the whole message
  bool in_schema;       // a rule JSON Schema states, so valijson must refuse it too
};

inline std::string Quoted(const std::string& s) {
  return "\"" + s + "\"";
}

inline std::vector<Invalid> InvalidEvents() {
  std::vector<Invalid> r;
  auto add = [&](std::string name, const Event& e, std::string message, bool in_schema = true) {
    r.push_back({std::move(name), e.Json(), std::move(message), in_schema});
  };
  const Event started = ValidOf("care.period_started");
  // Envelope: every required field, then each keyword that constrains one.
  for (const char* f : {"event_id", "type", "schema_version", "source", "child_id", "occurred_at",
                        "recorded_at", "data"}) {
    add(std::string("EnvelopeMissing_") + f, WithEnvelope(started, f, ""),
        std::string("field '") + f + "': required");
  }
  add("EventIdEmpty", WithEnvelope(started, "event_id", R"("")"),
      "field 'event_id': length must be 1–128");
  add("EventIdTooLong", WithEnvelope(started, "event_id", Quoted(std::string(129, 'e'))),
      "field 'event_id': length must be 1–128");
  add("EventIdNotString", WithEnvelope(started, "event_id", "7"),
      "field 'event_id': must be a string");
  add("TypeNotInList", WithEnvelope(started, "type", R"("care.teleported")"),
      "field 'type': not in code list event_type");
  add("TypeNotString", WithEnvelope(started, "type", "[]"), "field 'type': must be a string");
  add("VersionNotInteger", WithEnvelope(started, "schema_version", "1.5"),
      "field 'schema_version': must be an integer");
  add("VersionZero", WithEnvelope(started, "schema_version", "0"),
      "field 'schema_version': value must be at least 1");
  add("SourceEmpty", WithEnvelope(started, "source", R"("")"),
      "field 'source': length must be 1–64");
  // 65 code points in 130 bytes: length counts characters, not bytes.
  std::string e_acute;
  for (int i = 0; i < 65; ++i) e_acute += "\xc3\xa9";
  add("ChildIdTooManyCharacters", WithEnvelope(started, "child_id", Quoted(e_acute)),
      "field 'child_id': length must be 1–64");
  add("OccurredNotADate", WithEnvelope(started, "occurred_at", R"("yesterday")"),
      "field 'occurred_at': not an RFC 3339 date (YYYY-MM-DD)");
  add("OccurredNoSuchDay", WithEnvelope(started, "occurred_at", R"("2024-04-31")"),
      "field 'occurred_at': no such calendar date");
  add("RecordedBareDate", WithEnvelope(started, "recorded_at", R"("2024-05-02")"),
      "field 'recorded_at': must be a date-time, not a date");
  add("RecordedWithSpace", WithEnvelope(started, "recorded_at", R"("2024-05-02 09:00:00Z")"),
      "field 'recorded_at': not an RFC 3339 date-time");
  add("SupersedesEmpty", WithEnvelope(started, "supersedes", R"("")"),
      "field 'supersedes': length must be 1–128");
  add("DataNotObject", WithEnvelope(started, "data", "[]"), "field 'data': must be an object");

  // Rules beyond JSON Schema: the envelope is valid against the schemas, and still refused.
  add("RecordedMoreThanADayAhead",
      WithEnvelope(started, "recorded_at", R"("2024-06-02T12:00:01Z")"),
      "field 'recorded_at': more than 24 h in the future", false);
  add("OccurredAfterRecorded", WithEnvelope(started, "occurred_at", R"("2024-05-02T09:00:01Z")"),
      "field 'occurred_at': after recorded_at", false);
  add("OccurredDateAfterRecordedDate", WithEnvelope(started, "occurred_at", R"("2024-05-03")"),
      "field 'occurred_at': after recorded_at", false);
  {
    Event v2 = started;
    v2.version = 2;
    add("VersionNotInThisBuild", v2,
        "field 'schema_version': unsupported version for care.period_started (this build reads "
        "1–1)",
        false);
  }

  // data: every required field of every type.
  for (const auto& e : ValidEvents()) {
    for (const auto& [field, value] : e.data) {
      (void)value;
      static const std::map<std::string, std::vector<std::string>> kOptional = {
          {"child.registered", {"prior_formal_outcomes", "responsible_la"}},
          {"care.period_started", {"provider", "home_id", "out_of_area"}},
          {"care.placement_changed", {"provider", "home_id", "out_of_area", "reason"}},
          {"care_leaver.contact_recorded", {"activity", "accommodation"}},
          {"missing.reported", {"from_home_id"}},
          {"missing.return_interview", {"held_at"}},
          {"offence.recorded", {"offence_type", "knife_related"}},
          {"outcome.recorded", {"home_office_outcome", "disposal"}},  // the anyOf, below
      };
      auto opt = kOptional.find(e.type);
      if (opt != kOptional.end() &&
          std::find(opt->second.begin(), opt->second.end(), field) != opt->second.end()) {
        continue;
      }
      add(e.type + "_v" + std::to_string(e.version) + "_Missing_" + field, Without(e, field),
          "field 'data." + field + "': required");
    }
  }
  // data: each code list, each JSON type, each format, length and minimum.
  struct Change {
    const char* type;
    const char* field;
    std::string value;
    std::string rule;
  };
  const Change changes[] = {
      {"child.registered", "dob", R"("2009-02-28T10:00:00Z")", "must be a date, not a date-time"},
      {"child.registered", "dob", R"("2009-04-31")", "no such calendar date"},
      {"child.registered", "sex", R"("X")", "not in code list sex"},
      {"child.registered", "ethnicity", R"("WHITE")", "not in code list ethnicity"},
      {"child.registered", "prior_formal_outcomes", "-1", "value must be 0–1000"},
      {"child.registered", "prior_formal_outcomes", "1.5", "must be an integer"},
      {"child.registered", "prior_formal_outcomes", "1001", "value must be 0–1000"},
      {"child.registered", "prior_formal_outcomes", "10000000000000000000", "value must be 0–1000"},
      {"child.registered", "responsible_la", Quoted(std::string(17, 'L')), "length must be 1–16"},
      {"care.period_started", "legal_status", R"("V1")", "not in code list legal_status"},
      {"care.period_started", "placement", R"("R4")", "not in code list placement"},
      {"care.period_started", "provider", R"("PR6")", "not in code list provider"},
      {"care.period_started", "home_id", R"("")", "length must be 1–64"},
      {"care.period_started", "out_of_area", R"("yes")", "must be a boolean"},
      {"care.placement_changed", "reason", R"("BORED")", "not in code list reason_place_change"},
      {"care.period_ended", "reason", R"("E4")", "not in code list reason_for_end"},
      {"care.period_ended", "reason", "4", "must be a string"},
      {"care_leaver.contact_recorded", "in_touch", R"("yes")", "not in code list in_touch"},
      {"care_leaver.contact_recorded", "activity", R"("G1")", "not in code list activity"},
      {"care_leaver.contact_recorded", "accommodation", R"("X1")",
       "not in code list accommodation"},
      {"child.exploitation_risk_assessed", "kind", R"("CRE")",
       "not in code list exploitation_kind"},
      {"child.exploitation_risk_assessed", "level", R"("severe")",
       "not in code list exploitation_level"},
      {"placement.police_callout", "reason", R"("noise")", "not in code list callout_reason"},
      {"missing.reported", "category", R"("absent")", "not in code list missing_category"},
      {"missing.reported", "risk", R"("none")", "not in code list missing_risk"},
      {"missing.return_interview", "offered", "1", "must be a boolean"},
      {"missing.return_interview", "held_at", R"("2024-05-02")", "must be a date-time, not a date"},
      {"offence.recorded", "offence_group", R"("fraud")", "not in code list offence_group"},
      {"offence.recorded", "offence_type", Quoted(std::string(65, 't')), "length must be 1–64"},
      {"offence.recorded", "knife_related", "null", "must be a boolean"},
      {"outcome.recorded", "home_office_outcome", "23", "not in code list home_office_outcome"},
      {"outcome.recorded", "home_office_outcome", R"("2")", "must be an integer"},
      {"outcome.recorded", "disposal", R"("caution")", "not in code list disposal"},
      {"outcome.recorded", "decided_at", R"("2024-05-01T25:00:00Z")", "not an RFC 3339 date-time"},
      {"arrest.recorded", "arrested_at", R"("2024-05-01")", "must be a date-time, not a date"},
      {"yjs.case_opened", "intervention", R"("oocr")", "not in code list yjs_intervention"},
      {"court.outcome_recorded", "disposal", R"("dto")", "not in code list disposal"},
      {"court.remand_decided", "remanded_to", R"("custody")", "not in code list remand"},
      {"event.retracted", "target_event_id", Quoted(std::string(129, 'e')), "length must be 1–128"},
      {"event.retracted", "reason", R"("")", "length must be 1–64"},
  };
  for (const auto& c : changes) {
    add(std::string(c.type) + "_" + c.field + "_" + std::to_string(r.size()),
        WithData(ValidOf(c.type), c.field, c.value),
        std::string("field 'data.") + c.field + "': " + c.rule);
  }
  add("MissingReportedV2_NotRecordedIsOnlyForUpcasts",
      WithData(ValidOf("missing.reported", 2), "reported_by", R"("not_recorded")"),
      "field 'data.reported_by': not in code list reported_by");
  add("OutcomeWithNeitherCodeNorDisposal",
      Without(Without(ValidOf("outcome.recorded"), "home_office_outcome"), "disposal"),
      "field 'data': needs home_office_outcome or disposal");
  return r;
}

}  // namespace careledger::schema_test
