// EnvelopeParser: what is accepted, exactly as parsed, and one rejection per rule, each naming
// the field and never echoing the payload.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "careledger/events.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Line(std::string type = "care.period_started",
                 std::string data = R"("legal_status":"C2","placement":"U1")",
                 std::string extra = "") {
  return R"({"event_id":"e-1","type":")" + type +
         R"(","schema_version":1,"source":"lcs","child_id":"CHILD-SECRET-42",)" + extra +
         R"("occurred_at":"2024-03-31T23:30:00+01:00","recorded_at":"2024-04-02T09:15:00Z",)" +
         R"("data":{)" + data + "}}";
}

// Replaces `from` with `to` once.
std::string With(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

Status Parse(const std::string& json) {
  EnvelopeParser parser;
  Envelope env;
  return parser.Parse(json, env);
}

TEST(EnvelopeParser, ParsesEveryEnvelopeFieldExactly) {
  EnvelopeParser parser;
  Envelope env;
  ASSERT_TRUE(parser.Parse(Line(), env).ok());
  EXPECT_EQ(env.event_id, "e-1");
  EXPECT_EQ(env.type, EventType::kCarePeriodStarted);
  EXPECT_EQ(env.schema_version, 1);
  EXPECT_EQ(env.source, "lcs");
  EXPECT_EQ(env.child_id, "CHILD-SECRET-42");
  // The calendar date is the one the source wrote; the instant is UTC.
  EXPECT_EQ(FormatDate(env.occurred_at.date), "2024-03-31");
  EXPECT_EQ(FormatInstant(env.occurred_at.instant), "2024-03-31T22:30:00Z");
  EXPECT_EQ(FormatInstant(env.recorded_at.instant), "2024-04-02T09:15:00Z");
  EXPECT_EQ(env.data.legal_status, "C2");
  EXPECT_EQ(env.data.placement, "U1");
  EXPECT_TRUE(env.supersedes.empty());
  EXPECT_EQ(TopicFor(env.type), "careledger.socialcare.v1");
}

TEST(EnvelopeParser, ParsesEachCareType) {
  EnvelopeParser parser;
  Envelope env;
  ASSERT_TRUE(
      parser
          .Parse(Line("child.registered", R"("dob":"2011-07-04","sex":"F","ethnicity":"MWBC")"),
                 env)
          .ok());
  EXPECT_EQ(FormatDate(*env.data.dob), "2011-07-04");
  EXPECT_EQ(env.data.sex, "F");
  EXPECT_EQ(env.data.ethnicity, "MWBC");
  ASSERT_TRUE(
      parser
          .Parse(
              Line(
                  "care.placement_changed",
                  R"("placement":"K2","provider":"PR4","home_id":"H9","out_of_area":true,"reason":"CARPL")"),
              env)
          .ok());
  EXPECT_EQ(env.data.placement, "K2");
  EXPECT_EQ(env.data.provider, "PR4");
  EXPECT_EQ(env.data.home_id, "H9");
  EXPECT_EQ(env.data.out_of_area, true);
  EXPECT_EQ(env.data.reason, "CARPL");
  ASSERT_TRUE(parser.Parse(Line("care.legal_status_changed", R"("legal_status":"V3")"), env).ok());
  EXPECT_EQ(env.data.legal_status, "V3");
  EXPECT_TRUE(IsShortBreakLegalStatus(env.data.legal_status));
  ASSERT_TRUE(parser.Parse(Line("care.period_ended", R"("reason":"E4A")"), env).ok());
  EXPECT_EQ(env.type, EventType::kCarePeriodEnded);
  EXPECT_EQ(env.data.reason, "E4A");
}

TEST(EnvelopeParser, UnknownFieldsAreKeptButIgnored) {
  EXPECT_TRUE(Parse(Line("care.period_started",
                         R"("legal_status":"C2","placement":"U1","future":{"x":[1,2]})",
                         R"("trace":"abc",)"))
                  .ok());
}

TEST(EnvelopeParser, IsReusableWithoutCarryingFieldsOver) {
  EnvelopeParser parser;
  Envelope env;
  ASSERT_TRUE(parser
                  .Parse(Line("care.period_started", R"("legal_status":"C2","placement":"U1")",
                              R"("supersedes":"e-0",)"),
                         env)
                  .ok());
  EXPECT_EQ(env.supersedes, "e-0");
  EXPECT_FALSE(parser.Parse("{broken", env).ok());
  ASSERT_TRUE(parser.Parse(Line("care.period_ended", R"("reason":"E13")"), env).ok());
  EXPECT_TRUE(env.supersedes.empty());
  EXPECT_TRUE(env.data.placement.empty()) << "data fields of the earlier event must not remain";
}

struct Rejection {
  std::string name, json, message;
};

class EnvelopeRejects : public ::testing::TestWithParam<Rejection> {};

TEST_P(EnvelopeRejects, NamesTheFieldAndTheRule) {
  Status s = Parse(GetParam().json);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_THAT(s.message(), HasSubstr(GetParam().message));
  EXPECT_THAT(s.message(), Not(HasSubstr("CHILD-SECRET-42"))) << "never echo the payload";
}

std::vector<Rejection> Rejections() {
  const std::string ok = Line();
  std::vector<Rejection> r = {
      {"NotJson", "this is not json", "not valid JSON"},
      {"Truncated", ok.substr(0, ok.size() / 2), "not valid JSON"},
      {"Array", R"(["a"])", "not a JSON object"},
      {"LongEventId", With(ok, R"("e-1")", "\"" + std::string(129, 'x') + "\""),
       "field 'event_id': length must be 1–128"},
      {"EmptyChildId", With(ok, R"("CHILD-SECRET-42")", R"("")"), "field 'child_id': length"},
      {"LongChildId", With(ok, R"("CHILD-SECRET-42")", "\"" + std::string(65, 'c') + "\""),
       "field 'child_id': length must be 1–64"},
      {"UnknownType", With(ok, "care.period_started", "care.teleported"),
       "field 'type': not in code list event_type"},
      {"VersionTwo", With(ok, R"("schema_version":1)", R"("schema_version":2)"),
       "field 'schema_version': unsupported version"},
      {"VersionString", With(ok, R"("schema_version":1)", R"("schema_version":"1")"),
       "field 'schema_version': must be an integer"},
      {"NoSuchDate", With(ok, "2024-03-31T23:30:00+01:00", "2024-02-30"),
       "field 'occurred_at': no such calendar date"},
      {"RecordedBareDate", With(ok, "2024-04-02T09:15:00Z", "2024-04-02"),
       "field 'recorded_at': must be a date-time"},
      {"RecordedNoOffset", With(ok, "2024-04-02T09:15:00Z", "2024-04-02T09:15:00"),
       "field 'recorded_at': date-time has no UTC offset"},
      {"DataNotObject",
       With(ok, R"("data":{"legal_status":"C2","placement":"U1"})", R"("data":[])"),
       "field 'data': must be an object"},
      {"NoPlacement", Line("care.period_started", R"("legal_status":"C2")"),
       "field 'data.placement': required"},
      {"UnknownLegalStatus", Line("care.period_started", R"("legal_status":"X9","placement":"U1")"),
       "field 'data.legal_status': not in code list legal_status"},
      {"UnknownEndReason", Line("care.period_ended", R"("reason":"E99")"),
       "field 'data.reason': not in code list reason_for_end"},
      {"RegisteredWithoutDob", Line("child.registered", R"("sex":"M")"),
       "field 'data.dob': required"},
      {"OutOfAreaNotBool",
       Line("care.period_started", R"("legal_status":"C2","placement":"U1","out_of_area":"yes")"),
       "field 'data.out_of_area': must be a boolean"},
  };
  for (const char* field : {"event_id", "type", "schema_version", "source", "child_id",
                            "occurred_at", "recorded_at", "data"}) {
    // Rename the field so that it is missing.
    std::string json =
        With(ok, std::string("\"") + field + "\":", std::string("\"x_") + field + "\":");
    r.push_back(
        {std::string("Missing_") + field, json, std::string("field '") + field + "': required"});
  }
  return r;
}

INSTANTIATE_TEST_SUITE_P(EachRule, EnvelopeRejects, ::testing::ValuesIn(Rejections()),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace careledger
