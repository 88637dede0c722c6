// The contract in schemas/ as EnvelopeParser applies it to valid events: a valid example of every
// event type is accepted, the fields each type carries are extracted exactly, and versions are
// checked and upcast.
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
#include "schema_test_support.h"

namespace careledger {
namespace {

// The valid and invalid examples and what builds them: schema_test_support.h.
using namespace schema_test;

using ::testing::HasSubstr;
using ::testing::Not;

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

}  // namespace
}  // namespace careledger
