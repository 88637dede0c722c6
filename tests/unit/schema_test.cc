// The contract in schemas/ as EnvelopeParser applies it: a valid example of every event type
// (fields extracted exactly), one invalid example per rule (the message names the field), the
// rules no schema can state, versioning, code-list metadata, load-time refusal of what the
// interpreter does not support, and a cross-check of every example against valijson, a
// reference JSON Schema validator reading the same files.
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

namespace careledger {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kChild[] = "CHILD-SECRET-9";  // must never appear in a message
// Fixed clock for every test, so the future rule does not depend on the day the tests run.
const Instant kNow = ParseTimestamp("2024-06-01T12:00:00Z")->instant;

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
std::vector<Event> ValidEvents() {
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
  };
}

const Event& ValidOf(const std::string& type, int version = 1) {
  static const std::vector<Event> events = ValidEvents();
  for (const auto& e : events) {
    if (e.type == type && e.version == version) return e;
  }
  ADD_FAILURE() << "no valid example of " << type;
  return events.front();
}

Event Without(Event e, const std::string& field) {
  std::erase_if(e.data, [&](const auto& m) { return m.first == field; });
  return e;
}

Event WithData(Event e, const std::string& field, const std::string& value) {
  for (auto& m : e.data) {
    if (m.first == field) {
      m.second = value;
      return e;
    }
  }
  e.data.emplace_back(field, value);
  return e;
}

Event WithEnvelope(Event e, const std::string& field, const std::string& value) {
  e.envelope[field] = value;
  return e;
}

struct Invalid {
  std::string name;
  std::string json;
  std::string message;  // exact "field '...': rule" prefix or the whole message
  bool in_schema;       // a rule JSON Schema states, so valijson must refuse it too
};

std::string Quoted(const std::string& s) {
  return "\"" + s + "\"";
}

std::vector<Invalid> InvalidEvents() {
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

// ---- The examples ------------------------------------------------------------------------

class ValidEvent : public ::testing::TestWithParam<Event> {};

TEST_P(ValidEvent, IsAccepted) {
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  Status s = parser.Parse(GetParam().Json(), env);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(EventTypeName(env.type), GetParam().type);
  EXPECT_EQ(env.schema_version, GetParam().version);
}

INSTANTIATE_TEST_SUITE_P(EveryType, ValidEvent, ::testing::ValuesIn(ValidEvents()),
                         [](const auto& p) {
                           std::string n = p.param.type + "_v" + std::to_string(p.param.version);
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

class InvalidEvent : public ::testing::TestWithParam<Invalid> {};

TEST_P(InvalidEvent, IsRefusedNamingTheFieldAndTheRule) {
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  Status s = parser.Parse(GetParam().json, env);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(s.message(), GetParam().message);
  EXPECT_THAT(s.ToString(), Not(HasSubstr(kChild)));
}

INSTANTIATE_TEST_SUITE_P(EveryRule, InvalidEvent, ::testing::ValuesIn(InvalidEvents()),
                         [](const auto& p) {
                           std::string n = p.param.name;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

// ---- What each type carries into EventData -----------------------------------------------

Envelope ParseOk(const Event& e) {
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  Status s = parser.Parse(e.Json(), env);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return env;
}

TEST(SchemaExtraction, ChildRegisteredCarriesHistoryAndAuthority) {
  Envelope env = ParseOk(ValidOf("child.registered"));
  EXPECT_EQ(FormatDate(*env.data.dob), "2009-02-28");
  EXPECT_EQ(env.data.sex, "F");
  EXPECT_EQ(env.data.ethnicity, "WIRT");
  EXPECT_EQ(env.data.prior_formal_outcomes, std::optional<int>(2));
  EXPECT_EQ(env.data.responsible_la, "E06000023");
}

TEST(SchemaExtraction, CareLeaverAndExploitation) {
  Envelope contact = ParseOk(ValidOf("care_leaver.contact_recorded"));
  EXPECT_EQ(contact.data.in_touch, "YES");
  EXPECT_EQ(contact.data.activity, "G6");
  EXPECT_EQ(contact.data.accommodation, "Z2");
  Envelope risk = ParseOk(ValidOf("child.exploitation_risk_assessed"));
  EXPECT_EQ(risk.data.kind, "both");
  EXPECT_EQ(risk.data.level, "medium");
  Envelope callout = ParseOk(ValidOf("placement.police_callout"));
  EXPECT_EQ(callout.data.home_id, "H0042");
  EXPECT_EQ(callout.data.reason, "notifiable_incident");
}

TEST(SchemaExtraction, MissingEpisodeAndReturnInterview) {
  Envelope interview = ParseOk(ValidOf("missing.return_interview"));
  EXPECT_EQ(interview.data.episode_id, "M-77");
  EXPECT_EQ(interview.data.offered, std::optional<bool>(true));
  EXPECT_EQ(interview.data.accepted, std::optional<bool>(false));
  ASSERT_TRUE(interview.data.held_at.has_value());
  EXPECT_EQ(FormatInstant(interview.data.held_at->instant), "2024-05-02T08:30:00Z");
  Envelope returned = ParseOk(ValidOf("missing.returned"));
  EXPECT_EQ(returned.data.episode_id, "M-77");
  EXPECT_EQ(returned.data.category, "");
}

TEST(SchemaExtraction, OffenceOutcomeArrestAndCourt) {
  Envelope offence = ParseOk(ValidOf("offence.recorded"));
  EXPECT_EQ(offence.data.offence_id, "O-1");
  EXPECT_EQ(offence.data.offence_group, "breach_of_statutory_order");
  EXPECT_EQ(offence.data.offence_type, "breach_of_bail");
  EXPECT_EQ(offence.data.knife_related, std::optional<bool>(false));
  EXPECT_EQ(offence.data.at_placement, std::optional<bool>(true));

  Envelope outcome = ParseOk(ValidOf("outcome.recorded"));
  EXPECT_EQ(outcome.data.home_office_outcome, std::optional<int>(22));
  EXPECT_EQ(outcome.data.disposal, "outcome_22");
  ASSERT_TRUE(outcome.data.decided_at.has_value());
  EXPECT_EQ(FormatDate(outcome.data.decided_at->date), "2024-05-01");
  EXPECT_FALSE(outcome.data.decided_at->has_time);

  // Either member of the anyOf alone is enough.
  Envelope code_only = ParseOk(Without(ValidOf("outcome.recorded"), "disposal"));
  EXPECT_EQ(code_only.data.home_office_outcome, std::optional<int>(22));
  EXPECT_EQ(code_only.data.disposal, "");
  Envelope disposal_only = ParseOk(Without(ValidOf("outcome.recorded"), "home_office_outcome"));
  EXPECT_FALSE(disposal_only.data.home_office_outcome.has_value());
  EXPECT_EQ(disposal_only.data.disposal, "outcome_22");

  Envelope arrest = ParseOk(ValidOf("arrest.recorded"));
  EXPECT_EQ(FormatInstant(arrest.data.arrested_at->instant), "2024-05-01T20:00:00Z");
  Envelope court = ParseOk(ValidOf("court.outcome_recorded"));
  EXPECT_EQ(court.data.disposal, "youth_rehabilitation_order");
  EXPECT_EQ(FormatInstant(court.data.decided_at->instant), "2024-05-01T14:00:00Z");
}

TEST(SchemaExtraction, YouthJusticeCasesAndRetraction) {
  Envelope opened = ParseOk(ValidOf("yjs.case_opened"));
  EXPECT_EQ(opened.data.case_id, "Y-5");
  EXPECT_EQ(opened.data.intervention, "diversion");
  Envelope retracted = ParseOk(ValidOf("event.retracted"));
  EXPECT_EQ(retracted.data.target_event_id, "ev-0");
  EXPECT_EQ(retracted.data.reason, "entered_in_error");
}

TEST(SchemaExtraction, AFieldTheTypeDoesNotDeclareIsNotExtracted) {
  // dob is child.registered's; on another type it is an unknown field, kept but ignored.
  Envelope env = ParseOk(WithData(ValidOf("missing.returned"), "dob", R"("not even a date")"));
  EXPECT_FALSE(env.data.dob.has_value());
  EXPECT_EQ(env.data.episode_id, "M-77");
}

TEST(SchemaExtraction, LengthCountsCharactersNotBytes) {
  std::string e_acute;
  for (int i = 0; i < 64; ++i) e_acute += "\xc3\xa9";
  Envelope env = ParseOk(WithEnvelope(ValidOf("missing.returned"), "child_id", Quoted(e_acute)));
  EXPECT_EQ(env.child_id.size(), 128u);
}

// ---- Versions and upcasting --------------------------------------------------------------

TEST(SchemaVersions, MissingReportedV1IsReadAsV2WithReportedByNotRecorded) {
  Envelope v1 = ParseOk(ValidOf("missing.reported", 1));
  EXPECT_EQ(v1.schema_version, 1);
  EXPECT_EQ(v1.data.reported_by, "not_recorded");
  EXPECT_EQ(v1.data.episode_id, "M-77");
  EXPECT_EQ(v1.data.category, "away");
  EXPECT_EQ(v1.data.risk, "no_apparent_risk");
  EXPECT_EQ(v1.data.from_home_id, "H0042");
}

TEST(SchemaVersions, MissingReportedV2KeepsWhoReported) {
  Envelope v2 = ParseOk(ValidOf("missing.reported", 2));
  EXPECT_EQ(v2.schema_version, 2);
  EXPECT_EQ(v2.data.reported_by, "social_worker");
  EXPECT_EQ(v2.data.risk, "high");
}

TEST(SchemaVersions, AV1EventIsCheckedAgainstTheV1Schema) {
  // v1 had no reported_by: one sent anyway is an unknown field, and v2's code list does not
  // apply to it; the upcaster still sets not_recorded.
  Envelope env = ParseOk(WithData(ValidOf("missing.reported", 1), "reported_by", R"("x")"));
  EXPECT_EQ(env.data.reported_by, "not_recorded");
}

TEST(SchemaVersions, CurrentVersionOfEachType) {
  EXPECT_EQ(CurrentSchemaVersion(EventType::kMissingReported), 2);
  EXPECT_EQ(CurrentSchemaVersion(EventType::kCarePeriodStarted), 1);
  EXPECT_EQ(CurrentSchemaVersion(EventType::kEventRetracted), 1);
}

// ---- Rules beyond the schemas --------------------------------------------------------------

TEST(EnvelopeRules, OversizeIsRefusedBeforeParsing) {
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  std::string big(kMaxEnvelopeBytes + 1, ' ');  // not even JSON: size is checked first
  Status s = parser.Parse(big, env);
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(s.message(), "oversize: 1048577 bytes > 1048576");
  // Exactly the limit is read (and here fails only as JSON).
  std::string at_limit(kMaxEnvelopeBytes, ' ');
  EXPECT_THAT(parser.Parse(at_limit, env).message(), HasSubstr("not valid JSON"));
}

TEST(EnvelopeRules, InvalidUtf8IsNamed) {
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  Event e = WithEnvelope(ValidOf("missing.returned"), "source", "\"rms\xff\xfe\"");
  Status s = parser.Parse(e.Json(), env);
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(s.message(), "invalid UTF-8");
}

TEST(EnvelopeRules, RecordedAtUpToADayAheadOfTheClockIsAccepted) {
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  Event e = WithEnvelope(ValidOf("missing.returned"), "recorded_at", R"("2024-06-02T12:00:00Z")");
  ASSERT_TRUE(parser.Parse(e.Json(), env).ok());
  // Another clock: the same event is a day and a second ahead of it.
  EnvelopeParser earlier(ParserOptions{kNow - std::chrono::seconds{1}});
  EXPECT_EQ(earlier.Parse(e.Json(), env).message(),
            "field 'recorded_at': more than 24 h in the future");
}

TEST(EnvelopeRules, DefaultClockIsTheSystemClock) {
  EnvelopeParser parser;
  Envelope env;
  Instant tomorrow = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) +
                     std::chrono::hours{48};
  Event e =
      WithEnvelope(ValidOf("missing.returned"), "recorded_at", Quoted(FormatInstant(tomorrow)));
  EXPECT_EQ(parser.Parse(e.Json(), env).message(),
            "field 'recorded_at': more than 24 h in the future");
}

TEST(EnvelopeRules, OccurredOnTheDayOfRecordingIsAccepted) {
  // A bare date is the source's local day: 2 May is not after 09:00 UTC on 2 May.
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  Event e = WithEnvelope(ValidOf("missing.returned"), "occurred_at", R"("2024-05-02")");
  EXPECT_TRUE(parser.Parse(e.Json(), env).ok());
}

// ---- Code lists as data -------------------------------------------------------------------

TEST(CodeLists, DisposalTiersAndFormality) {
  EXPECT_EQ(DisposalTier("nfa"), "no_sanction");
  EXPECT_EQ(DisposalTier("community_resolution_yjs"), "informal");
  EXPECT_EQ(DisposalTier("youth_conditional_caution"), "out_of_court_formal");
  EXPECT_EQ(DisposalTier("referral_order"), "first_tier");
  EXPECT_EQ(DisposalTier("yro_intensive_supervision"), "community");
  EXPECT_EQ(DisposalTier("long_term_detention"), "custody");
  EXPECT_EQ(DisposalTier("caution"), std::nullopt);
  EXPECT_TRUE(IsFormalDisposal("absolute_discharge"));  // a conviction without sanction
  EXPECT_TRUE(IsFormalDisposal("youth_caution"));
  EXPECT_TRUE(IsFormalDisposal("fine"));
  EXPECT_FALSE(IsFormalDisposal("dismissed"));
  EXPECT_FALSE(IsFormalDisposal("outcome_22"));
  EXPECT_FALSE(IsFormalDisposal("no_such_disposal"));
}

TEST(CodeLists, EthnicityGroups) {
  EXPECT_EQ(EthnicityGroup("WBRI"), "White");
  EXPECT_EQ(EthnicityGroup("MWAS"), "Mixed");
  EXPECT_EQ(EthnicityGroup("ABAN"), "Asian");
  EXPECT_EQ(EthnicityGroup("BCRB"), "Black");
  EXPECT_EQ(EthnicityGroup("OOTH"), "Other");
  // spec/metrics.md: GRT = WIRT + WROM, and "Refused/not obtained" as a group of its own.
  EXPECT_EQ(EthnicityGroup("REFU"), "Refused/not obtained");
  EXPECT_EQ(EthnicityGroup("NOBT"), "Refused/not obtained");
  EXPECT_EQ(EthnicityGroup("WIRT"), "GRT");
  EXPECT_EQ(EthnicityGroup("WROM"), "GRT");
  EXPECT_EQ(EthnicityGroup("WBR"), std::nullopt);
}

TEST(CodeLists, HomeOfficeOutcomesMapIntoDisposals) {
  EXPECT_EQ(HomeOfficeOutcomeDisposal(1), std::nullopt);  // charged: the court decides
  EXPECT_EQ(HomeOfficeOutcomeDisposal(2), "youth_caution");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(3), "youth_conditional_caution");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(8), "community_resolution_police");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(22), "outcome_22");
  for (int nfa : {9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21}) {
    EXPECT_EQ(HomeOfficeOutcomeDisposal(nfa), "nfa") << nfa;
  }
  for (int not_child : {4, 6, 7, 19}) {
    EXPECT_EQ(HomeOfficeOutcomeDisposal(not_child), std::nullopt) << not_child;
    EXPECT_EQ(CodeAttribute("home_office_outcome", std::to_string(not_child), "x-outcome"),
              "not_child_disposal");
  }
  EXPECT_EQ(CodeAttribute("home_office_outcome", "1", "x-outcome"), "charged");
  EXPECT_EQ(HomeOfficeOutcomeDisposal(0), std::nullopt);
  EXPECT_EQ(HomeOfficeOutcomeDisposal(23), std::nullopt);
}

TEST(CodeLists, ShortBreaksTitlesAndSuitability) {
  EXPECT_TRUE(IsShortBreakLegalStatus("V3"));
  EXPECT_TRUE(IsShortBreakLegalStatus("V4"));
  EXPECT_FALSE(IsShortBreakLegalStatus("V2"));
  EXPECT_FALSE(IsShortBreakLegalStatus("XX"));
  EXPECT_EQ(CodeTitle("legal_status", "C2"), "Full care order");
  EXPECT_EQ(CodeTitle("legal_status", "C9"), std::nullopt);
  EXPECT_EQ(CodeAttribute("accommodation", "Z2", "x-suitable"), "false");
  EXPECT_EQ(CodeAttribute("accommodation", "X", "x-suitable"), std::nullopt);
  EXPECT_EQ(CodeAttribute("event_type", "court.outcome_recorded", "x-topic"), kTopicYjs);
}

// A care leaver's contact is judged by its code lists' keywords, not by the codes' letters.
TEST(CodeLists, CareLeaverContactCodes) {
  EXPECT_TRUE(IsInTouch("YES"));
  for (const char* not_in_touch : {"NO", "DIED", "REFU", "NREQ", "RHOM", "yes", ""}) {
    EXPECT_FALSE(IsInTouch(not_in_touch)) << not_in_touch;
  }
  for (const char* suitable :
       {"B1", "C1", "D1", "E1", "G1", "H1", "K1", "R1", "S1", "T1", "U1", "V1", "W1", "Y1", "Z1"}) {
    EXPECT_TRUE(IsSuitableAccommodation(suitable)) << suitable;
  }
  for (const char* not_suitable : {"B2", "Z2", "X", "0", "B"}) {
    EXPECT_FALSE(IsSuitableAccommodation(not_suitable)) << not_suitable;
  }
  for (const char* eet : {"F1", "P1", "F2", "P2", "F3", "P3", "F4", "P4", "F5", "P5"}) {
    EXPECT_TRUE(IsInEducationEmploymentOrTraining(eet)) << eet;
  }
  for (const char* neet : {"G4", "G5", "G6", "0", "F9", "F"}) {
    EXPECT_FALSE(IsInEducationEmploymentOrTraining(neet)) << neet;
  }
}

// ---- Loading ---------------------------------------------------------------------------------

std::vector<ContractFile> FilesWith(const std::string& path, const std::string* text) {
  std::vector<ContractFile> files;
  bool replaced = false;
  for (const auto& f : EmbeddedContractFiles()) {
    if (f.path == path) {
      replaced = true;
      if (text) files.push_back({f.path, *text});
    } else {
      files.push_back(f);
    }
  }
  if (!replaced && text) files.push_back({path, *text});
  return files;
}

TEST(ContractLoading, TheBuiltInContractLoads) {
  EXPECT_TRUE(CheckContract(EmbeddedContractFiles()).ok());
  int events = 0, codes = 0;
  for (const auto& f : EmbeddedContractFiles()) {
    events += f.path.starts_with("events/");
    codes += f.path.starts_with("codes/");
  }
  EXPECT_EQ(events, 19);  // 18 types, missing.reported twice
  EXPECT_EQ(codes, 21);
}

struct BadContract {
  std::string name, path, text, message;
};

class ContractRefused : public ::testing::TestWithParam<BadContract> {};

TEST_P(ContractRefused, AtLoadNamingTheFileAndTheReason) {
  Status s = CheckContract(FilesWith(GetParam().path, &GetParam().text));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_class(), ErrorClass::kFatal);
  EXPECT_EQ(s.message(), GetParam().message);
}

const char kReturned[] = "events/missing.returned.v1.schema.json";

std::vector<BadContract> BadContracts() {
  return {
      {"UnsupportedKeyword", kReturned,
       R"({"type":"object","properties":{"episode_id":{"type":"string","pattern":"^M"}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id/pattern: "
       "unsupported keyword 'pattern'"},
      {"InlineEnum", kReturned, R"({"type":"object","properties":{"episode_id":{"enum":["a"]}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id/enum: "
       "unsupported keyword 'enum'"},
      {"ClosedObject", kReturned, R"({"type":"object","additionalProperties":false})",
       "schemas/events/missing.returned.v1.schema.json at additionalProperties: only `true` is "
       "supported"},
      {"RefWithSibling", kReturned,
       R"({"properties":{"episode_id":{"$ref":"../codes/sex.json","maxLength":3}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id: keyword "
       "'maxLength' beside $ref is ignored by draft 7; move it into the referenced schema"},
      {"DanglingRef", kReturned, R"({"properties":{"episode_id":{"$ref":"../codes/nope.json"}}})",
       "schemas/codes/nope.json: no such file"},
      {"UnknownFormat", kReturned, R"({"properties":{"episode_id":{"format":"email"}}})",
       "schemas/events/missing.returned.v1.schema.json at properties/episode_id/format: format "
       "'email' is not supported"},
      {"VersionWithoutUpcaster", "events/missing.returned.v2.schema.json", R"({"type":"object"})",
       "missing.returned v1 has no upcaster to v2 (common/src/events.cc kUpcasters)"},
      {"TypeTheCodeDoesNotKnow", "events/missing.found.v1.schema.json", R"({"type":"object"})",
       "schemas/events/missing.found: not an event type of this build"},
      {"FieldEventDataCannotHold", kReturned, R"({"properties":{"episode_id":{"type":"integer"}}})",
       "schemas/events/missing.returned.v1.schema.json: property 'episode_id' has a type "
       "EventData cannot hold"},
      {"CodeListOfMixedTypes", "codes/sex.json",
       R"({"type":"string","oneOf":[{"const":"M"},{"const":1}]})",
       "schemas/codes/sex.json at oneOf: consts of mixed types"},
      {"NotJson", "codes/sex.json", R"({"type":)",
       "schemas/codes/sex.json: not valid JSON: The JSON document has an improper structure: "
       "missing or superfluous commas, braces, missing keys, etc."},
  };
}

INSTANTIATE_TEST_SUITE_P(EachReason, ContractRefused, ::testing::ValuesIn(BadContracts()),
                         [](const auto& p) { return p.param.name; });

TEST(ContractLoading, AMissingTypeSchemaIsRefused) {
  Status s = CheckContract(FilesWith(kReturned, nullptr));
  EXPECT_EQ(s.message(), "schemas/events/missing.returned.v1.schema.json: missing");
}

// ---- Cross-check with a reference validator ---------------------------------------------------

// valijson over nlohmann::json, reading the same embedded files; $refs are fetched by path.
class ReferenceValidator {
 public:
  ReferenceValidator() {
    for (const auto& f : EmbeddedContractFiles()) {
      docs_[std::string(f.path)] = nlohmann::json::parse(f.text);
    }
    for (const auto& [path, doc] : docs_) {
      if (path == "envelope.schema.json" || path.starts_with("events/")) {
        auto& schema = schemas_[path];
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(doc);
        parser.populateSchema(
            adapter, schema,
            [this](const std::string& uri) -> const nlohmann::json* {
              // "../codes/sex.json" from events/, "codes/event_type.json" from the root.
              std::string name = uri.substr(uri.rfind('/') + 1);
              auto it = docs_.find("codes/" + name);
              return it == docs_.end() ? nullptr : new nlohmann::json(it->second);
            },
            [](const nlohmann::json* fetched) { delete fetched; });
      }
    }
  }

  bool Accepts(const std::string& json) {
    nlohmann::json doc = nlohmann::json::parse(json);
    if (!Valid("envelope.schema.json", doc)) return false;
    std::string path = "events/" + doc["type"].get<std::string>() + ".v" +
                       std::to_string(doc["schema_version"].get<int64_t>()) + ".schema.json";
    // No schema for that version: JSON Schema has nothing more to say.
    return !schemas_.count(path) || Valid(path, doc["data"]);
  }

 private:
  bool Valid(const std::string& path, const nlohmann::json& doc) {
    valijson::Validator validator;
    valijson::adapters::NlohmannJsonAdapter target(doc);
    return validator.validate(schemas_.at(path), target, nullptr);
  }

  std::map<std::string, nlohmann::json> docs_;
  std::map<std::string, valijson::Schema> schemas_;
};

TEST(ReferenceValidator, AgreesOnEveryExample) {
  ReferenceValidator reference;
  EnvelopeParser parser(ParserOptions{kNow});
  Envelope env;
  int agreed = 0;
  for (const auto& e : ValidEvents()) {
    EXPECT_TRUE(reference.Accepts(e.Json())) << e.type << " v" << e.version;
    EXPECT_TRUE(parser.Parse(e.Json(), env).ok());
    ++agreed;
  }
  for (const auto& bad : InvalidEvents()) {
    EXPECT_FALSE(parser.Parse(bad.json, env).ok()) << bad.name;
    // Rules JSON Schema states, valijson refuses too; the rest pass the schemas, by design.
    EXPECT_EQ(reference.Accepts(bad.json), !bad.in_schema) << bad.name;
    ++agreed;
  }
  EXPECT_EQ(agreed, int(ValidEvents().size() + InvalidEvents().size()));
}

TEST(ReferenceData, NationalYouthOffencesAreTheBriefsFigures) {
  const auto& national = NationalYouthOffences();
  ASSERT_TRUE(national.ok()) << national.status().message();
  EXPECT_EQ(national->year, 2021);
  EXPECT_EQ(national->total, 38518);
  EXPECT_EQ(national->population_aged_10_17, 5466338);
  ASSERT_EQ(national->by_group.size(), 11u);
  EXPECT_EQ(national->by_group.front(),
            (std::pair<std::string, int64_t>{"violence_against_person", 12437}));
  EXPECT_EQ(national->by_group.back(), (std::pair<std::string, int64_t>{"sexual", 903}));
  for (const auto& [group, n] : national->by_group) {
    EXPECT_TRUE(CodeTitle("offence_group", group).has_value())
        << group << " is not an offence group";
  }
}

}  // namespace
}  // namespace careledger
