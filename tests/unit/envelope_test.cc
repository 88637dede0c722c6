// EnvelopeParser: what is accepted, with every envelope field of each care type checked
// exactly; field order, unknown fields, inclusive length limits; reuse after a failure; one
// rejection per rule (not JSON, missing fields, wrong JSON types, lengths, dates, codes in
// data), each bad input naming the field and never the child; and messages that never carry
// the value that was refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "careledger/events.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kChild[] = "CL-7f3a9c";  // must never appear in an error message

// One envelope, written field by field so that a test can drop or change any of them.
struct Fields {
  std::string event_id = R"("ev-0001")";
  std::string type = R"("care.period_started")";
  std::string schema_version = "1";
  std::string source = R"("lcs")";
  std::string child_id = std::string("\"") + kChild + "\"";
  std::string occurred_at = R"("2024-04-01T00:30:00+01:00")";
  std::string recorded_at = R"("2024-04-03T10:20:30Z")";
  std::string data = R"({"legal_status":"C2","placement":"U1","provider":"PR1","home_id":"H0042",)"
                     R"("out_of_area":false})";
  std::string extra;  // more members, each followed by a comma

  std::string Json() const {
    std::string out = "{" + extra;
    auto member = [&](const char* name, const std::string& value) {
      if (value.empty()) return;  // an empty value leaves the field out
      if (out.size() > 1 && out.back() != ',') out += ',';
      out += std::string("\"") + name + "\":" + value;
    };
    member("event_id", event_id);
    member("type", type);
    member("schema_version", schema_version);
    member("source", source);
    member("child_id", child_id);
    member("occurred_at", occurred_at);
    member("recorded_at", recorded_at);
    member("data", data);
    return out + "}";
  }
};

Fields OfType(const std::string& type, const std::string& data) {
  Fields f;
  f.type = "\"" + type + "\"";
  f.data = data;
  return f;
}

// The envelope fields every care-type test checks alike.
void ExpectCommonFields(const Envelope& env) {
  EXPECT_EQ(env.event_id, "ev-0001");
  EXPECT_EQ(env.schema_version, 1);
  EXPECT_EQ(env.source, "lcs");
  EXPECT_EQ(env.child_id, kChild);
  // The written date stays the calendar date; the instant is an hour earlier, in UTC.
  EXPECT_EQ(FormatDate(env.occurred_at.date), "2024-04-01");
  EXPECT_EQ(FormatInstant(env.occurred_at.instant), "2024-03-31T23:30:00Z");
  EXPECT_TRUE(env.occurred_at.has_time);
  EXPECT_EQ(FormatDate(env.recorded_at.date), "2024-04-03");
  EXPECT_EQ(FormatInstant(env.recorded_at.instant), "2024-04-03T10:20:30Z");
  EXPECT_TRUE(env.recorded_at.has_time);
  EXPECT_EQ(env.supersedes, "");
}

TEST(EnvelopeParser, ChildRegisteredKeepsEveryField) {
  EnvelopeParser parser;
  Envelope env;
  Fields f = OfType("child.registered",
                    R"({"dob":"2009-02-28","sex":"U","ethnicity":"WROM","responsible_la":"E06"})");
  ASSERT_TRUE(parser.Parse(f.Json(), env).ok());
  ExpectCommonFields(env);
  EXPECT_EQ(env.type, EventType::kChildRegistered);
  ASSERT_TRUE(env.data.dob.has_value());
  EXPECT_EQ(FormatDate(*env.data.dob), "2009-02-28");
  EXPECT_EQ(env.data.sex, "U");
  EXPECT_EQ(env.data.ethnicity, "WROM");
  EXPECT_EQ(env.data.legal_status, "");
  EXPECT_EQ(env.data.placement, "");
  EXPECT_FALSE(env.data.out_of_area.has_value());
}

TEST(EnvelopeParser, CarePeriodStartedKeepsEveryField) {
  EnvelopeParser parser;
  Envelope env;
  ASSERT_TRUE(parser.Parse(Fields().Json(), env).ok());
  ExpectCommonFields(env);
  EXPECT_EQ(env.type, EventType::kCarePeriodStarted);
  EXPECT_EQ(env.data.legal_status, "C2");
  EXPECT_EQ(env.data.placement, "U1");
  EXPECT_EQ(env.data.provider, "PR1");
  EXPECT_EQ(env.data.home_id, "H0042");
  EXPECT_EQ(env.data.out_of_area, std::optional<bool>(false));
  EXPECT_EQ(env.data.reason, "");
  EXPECT_FALSE(env.data.dob.has_value());
}

TEST(EnvelopeParser, CarePlacementChangedKeepsEveryField) {
  EnvelopeParser parser;
  Envelope env;
  Fields f = OfType(
      "care.placement_changed",
      R"({"placement":"Z11","provider":"PR5","home_id":"H0100","out_of_area":true,"reason":"CUSTOD"})");
  ASSERT_TRUE(parser.Parse(f.Json(), env).ok());
  ExpectCommonFields(env);
  EXPECT_EQ(env.type, EventType::kCarePlacementChanged);
  EXPECT_EQ(env.data.placement, "Z11");
  EXPECT_EQ(env.data.provider, "PR5");
  EXPECT_EQ(env.data.home_id, "H0100");
  EXPECT_EQ(env.data.out_of_area, std::optional<bool>(true));
  EXPECT_EQ(env.data.reason, "CUSTOD");
  EXPECT_EQ(env.data.legal_status, "");
}

TEST(EnvelopeParser, CareLegalStatusChangedKeepsEveryField) {
  EnvelopeParser parser;
  Envelope env;
  ASSERT_TRUE(
      parser.Parse(OfType("care.legal_status_changed", R"({"legal_status":"J3"})").Json(), env)
          .ok());
  ExpectCommonFields(env);
  EXPECT_EQ(env.type, EventType::kCareLegalStatusChanged);
  EXPECT_EQ(env.data.legal_status, "J3");
  EXPECT_EQ(env.data.placement, "");
  EXPECT_FALSE(IsShortBreakLegalStatus(env.data.legal_status));
}

TEST(EnvelopeParser, CarePeriodEndedKeepsEveryField) {
  EnvelopeParser parser;
  Envelope env;
  Fields f = OfType("care.period_ended", R"({"reason":"E45"})");
  f.occurred_at = R"("2024-04-01")";
  ASSERT_TRUE(parser.Parse(f.Json(), env).ok());
  EXPECT_EQ(env.type, EventType::kCarePeriodEnded);
  EXPECT_EQ(env.data.reason, "E45");
  // A bare date is midnight UTC of that date, without a time.
  EXPECT_EQ(FormatDate(env.occurred_at.date), "2024-04-01");
  EXPECT_EQ(FormatInstant(env.occurred_at.instant), "2024-04-01T00:00:00Z");
  EXPECT_FALSE(env.occurred_at.has_time);
  EXPECT_EQ(TopicFor(env.type), kTopicSocialCare);
}

TEST(EnvelopeParser, FieldOrderDoesNotMatter) {
  EnvelopeParser parser;
  Envelope env;
  // `data` before `type`: the data rules still see the type.
  std::string json =
      std::string(R"({"data":{"reason":"E13"},"recorded_at":"2024-04-03T10:20:30Z",)") +
      R"("occurred_at":"2024-04-01","child_id":"c1","source":"lcs","schema_version":1,)" +
      R"("type":"care.period_ended","event_id":"ev-9"})";
  ASSERT_TRUE(parser.Parse(json, env).ok());
  EXPECT_EQ(env.type, EventType::kCarePeriodEnded);
  EXPECT_EQ(env.data.reason, "E13");
  EXPECT_EQ(env.event_id, "ev-9");
}

TEST(EnvelopeParser, UnknownFieldsAtTopLevelAndInDataChangeNothing) {
  EnvelopeParser parser;
  Envelope env;
  Fields f;
  f.extra = R"("trace_id":"t-1","meta":{"event_id":"other","n":[1,2.5,null]},)";
  f.data = R"({"legal_status":"C1","placement":"K2","notes_v2":{"k":true},"event_id":"in-data"})";
  ASSERT_TRUE(parser.Parse(f.Json(), env).ok());
  EXPECT_EQ(env.event_id, "ev-0001");
  EXPECT_EQ(env.data.legal_status, "C1");
  EXPECT_EQ(env.data.placement, "K2");
}

TEST(EnvelopeParser, LengthLimitsAreInclusive) {
  EnvelopeParser parser;
  Envelope env;
  Fields f;
  f.event_id = "\"" + std::string(128, 'e') + "\"";
  f.child_id = "\"" + std::string(64, 'c') + "\"";
  ASSERT_TRUE(parser.Parse(f.Json(), env).ok());
  EXPECT_EQ(env.event_id.size(), 128u);
  EXPECT_EQ(env.child_id.size(), 64u);
}

TEST(EnvelopeParser, BadThenGoodThenGoodKeepsNothingFromEarlierCalls) {
  EnvelopeParser parser;
  Envelope env;
  Fields registered = OfType("child.registered", R"({"dob":"2010-01-01","sex":"M"})");
  registered.child_id = R"("other-child")";
  ASSERT_FALSE(parser.Parse(registered.Json().substr(0, 40), env).ok());

  Fields first;
  first.extra = R"("supersedes":"ev-0000",)";
  ASSERT_TRUE(parser.Parse(first.Json(), env).ok());
  EXPECT_EQ(env.supersedes, "ev-0000");
  EXPECT_EQ(env.data.placement, "U1");

  ASSERT_TRUE(parser.Parse(OfType("care.period_ended", R"({"reason":"E4A"})").Json(), env).ok());
  EXPECT_EQ(env.type, EventType::kCarePeriodEnded);
  EXPECT_EQ(env.supersedes, "");
  EXPECT_EQ(env.data.reason, "E4A");
  EXPECT_EQ(env.data.legal_status, "");
  EXPECT_EQ(env.data.placement, "");
  EXPECT_EQ(env.data.provider, "");
  EXPECT_EQ(env.data.home_id, "");
  EXPECT_FALSE(env.data.out_of_area.has_value());
  EXPECT_FALSE(env.data.dob.has_value());
}

TEST(EnvelopeParser, ALongInputAfterAShortOneParses) {
  // The parser grows its padded buffer; a long line after short ones must still be read whole.
  EnvelopeParser parser;
  Envelope env;
  ASSERT_FALSE(parser.Parse("{}", env).ok());
  Fields f;
  f.extra = R"("padding":")" + std::string(100000, 'p') + R"(",)";
  ASSERT_TRUE(parser.Parse(f.Json(), env).ok());
  EXPECT_EQ(env.data.home_id, "H0042");
  ASSERT_TRUE(parser.Parse(Fields().Json(), env).ok());
}

TEST(EnvelopeParser, ASchemaVersionPastInt64IsAnUnsupportedVersion) {
  // Found by tests/fuzz (fuzz_envelope): simdjson holds 2^63 and above as a uint64, which the
  // schema's "minimum": 1 accepts but the parser read as version 0, indexing before the first.
  EnvelopeParser parser;
  Envelope env;
  for (const char* version : {"9223372036854775808", "18446744073709551615"}) {
    Fields f;
    f.schema_version = version;
    Status s = parser.Parse(f.Json(), env);
    EXPECT_EQ(s.error_class(), ErrorClass::kBadInput) << version;
    EXPECT_EQ(s.message(),
              "field 'schema_version': unsupported version for care.period_started (this build "
              "reads 1–1)")
        << version;
  }
  // The fuzzer's input as it found it, with many schema_version members: refused now at the
  // first repeated member, before any of them is read.
  const std::string found =
      R"x({"event_id":"ev-9","type":"care.period_ended","schode_id":"ewe<<<-8","typ":45481416e)x"
      R"x(5,"sourc_version":45481416e5,"source":"lcs","ch":"iod_ended","schode_id":"ewe<<<-8",)x"
      R"x("typ":45416e5,"source":"le.periodended","shhe'a_version":45381416e5,"source":"lcs",")x"
      R"x(ch_at":"2024-05-01","recoe":"care.period_ended","sche'a_version":32655942e5,"source")x"
      R"x(:"lcs","ch":"202.period_ended","sche'a_version":45481416e5,"source":"lcs","ch":"1012)x"
      R"x(012-05-02T09:00:00period_ended","schema_version":3,"source":"lcs","child_idpec!orded)x"
      R"x(_at":"2024-0509:0201","r_at":"2024-05-1","recodr_edat":"2025-05-02T09:08","typ":4548)x"
      R"x(1416e5,"source":"le.periodended","shhe'a_version":45471416e5,"source":"lcs","ch":"20)x"
      R"x(24-001","reredtype":"care.perid","schode_id":"ewe<<<-8","typ":45481416e5,"source":"d)x"
      R"x(ed","shhe'a_version":45481416e5,"source":"lcs","ch":"2024-001","rered_at":"2024-05-1)x"
      R"x(","ren":32655942e5,"source":"lcs","ch":"202.period_ended","sche'a_version":45481416e)x"
      R"x(5,"source":"lcs","ch":"1od_ended","sche'a_version":32655942e5,"source":"lcs","ch":"2)x"
      R"x(024-001","rered_at":"202Tnded","schode_ie":"care.period_ended","sche'a_version":4548)x"
      R"x(1415e5,"sourc_version":6,"source":"lcs","child_id":"Z1","occurred_at":"2024-05-01",")x"
      R"x(recon":32655942e5,"sourcesion":15555511111111111545,"s#ourclchema_version":155555555)x"
      R"x(,"source":"lcs","chilcuat":"2(","recorded_at":"2024-05-02T09:00:00Z","rsded_asqperse)x"
      R"x(id":"<<_ended","schema_version":15555511111111111555,"s#ource":"lcse.per_ended","sch)x"
      R"x(ema_version":15555511111111111555,"":"vcs","_ie":"care.period_ended","sche'a_version)x"
      R"x(":45481415e5,"source":"lcs1024-0501","recorded_at":"2024-05-02T09:00:00Z","supersupe)x"
      R"x(rsedes":"?ev%8","data":{"reason":"E4B"}})x";
  Status s = parser.Parse(found, env);
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(s.message(), "field 'schode_id': appears twice in one object");
  // And the parser still reads a good envelope afterwards.
  ASSERT_TRUE(parser.Parse(Fields().Json(), env).ok());
  EXPECT_EQ(env.schema_version, 1);
}

TEST(EnvelopeParser, ARepeatedMemberAnywhereIsRefusedNamingIt) {
  // Parsers disagree on which copy of a repeated member wins, so a reader of the stored bytes
  // could see another event than the one validated: refused, at any depth.
  EnvelopeParser parser;
  Envelope env;
  const std::string good = Fields().Json();
  ASSERT_TRUE(parser.Parse(good, env).ok());
  const std::string child = R"("child_id":")";
  std::string twice = good;
  twice.insert(twice.find(child), R"("child_id":"SOMEONE-ELSE",)");
  Status s = parser.Parse(twice, env);
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(s.message(), "field 'child_id': appears twice in one object");

  std::string in_data = good;
  in_data.insert(in_data.find(R"("data":{)") + 8, R"("placement":"U1",)");
  s = parser.Parse(in_data, env);
  EXPECT_EQ(s.message(), "field 'data.placement': appears twice in one object");

  std::string nested = good;
  nested.insert(nested.find(R"("data":{)") + 8, R"("extra":[{"a":1,"a":2}],)");
  s = parser.Parse(nested, env);
  EXPECT_EQ(s.message(), "field 'data.extra[].a': appears twice in one object");
}

TEST(EnvelopeParser, ACorrectionOrRetractionOfItselfIsRefused) {
  // It would take itself out of the child's history while the log counts it as received.
  EnvelopeParser parser;
  Envelope env;
  Fields corrects = Fields();
  corrects.extra = R"("supersedes":"ev-0001",)";
  Status s = parser.Parse(corrects.Json(), env);
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_EQ(s.message(), "field 'supersedes': names the event itself");
  corrects.extra = R"("supersedes":"ev-0000",)";
  EXPECT_TRUE(parser.Parse(corrects.Json(), env).ok());

  Fields retracts = OfType("event.retracted", R"({"target_event_id":"ev-0001","reason":"error"})");
  s = parser.Parse(retracts.Json(), env);
  EXPECT_EQ(s.message(), "field 'data.target_event_id': names the event itself");
  retracts.data = R"({"target_event_id":"ev-0000","reason":"error"})";
  EXPECT_TRUE(parser.Parse(retracts.Json(), env).ok());
}

// Each refusal says why, as the dead-letter store records it, decided where it was refused.
TEST(EnvelopeParser, EachRefusalSaysItsKind) {
  EnvelopeParser parser;
  Envelope env;
  auto kind_of = [&](const std::string& json) {
    RejectKind kind = RejectKind::kOther;
    EXPECT_FALSE(parser.Parse(json, env, &kind).ok()) << json;
    return kind;
  };
  auto with = [](auto change) {
    Fields f;
    change(f);
    return f.Json();
  };
  EXPECT_EQ(kind_of("this is not json"), RejectKind::kInvalidJson);
  EXPECT_EQ(kind_of(R"(["a"])"), RejectKind::kInvalidJson);
  EXPECT_EQ(kind_of(with([](Fields& f) { f.source = "\"\xff\xfe\""; })), RejectKind::kInvalidUtf8);
  EXPECT_EQ(kind_of(std::string(2 << 20, ' ') + "{}"), RejectKind::kOversize);
  EXPECT_EQ(kind_of(with([](Fields& f) { f.type = R"("care.teleported")"; })),
            RejectKind::kUnknownType);
  // A type that is not a string, or none, is a fault of the envelope, not an unknown type.
  EXPECT_EQ(kind_of(with([](Fields& f) { f.type = "3"; })), RejectKind::kSchema);
  EXPECT_EQ(kind_of(with([](Fields& f) { f.child_id = R"("")"; })), RejectKind::kSchema);
  EXPECT_EQ(kind_of(with([](Fields& f) { f.data = R"({"legal_status":"C2"})"; })),
            RejectKind::kSchema);
  EXPECT_EQ(kind_of(with([](Fields& f) { f.recorded_at = R"("2099-01-01T00:00:00Z")"; })),
            RejectKind::kSchema);
  // A good one after them parses, and says nothing of a kind.
  RejectKind kind = RejectKind::kOther;
  EXPECT_TRUE(parser.Parse(Fields().Json(), env, &kind).ok());
}

struct Rule {
  std::string name;
  std::string json;
  std::string message;
};

class EnvelopeFieldRule : public ::testing::TestWithParam<Rule> {};

TEST_P(EnvelopeFieldRule, IsBadInputNamingTheFieldButNotTheChild) {
  EnvelopeParser parser;
  Envelope env;
  Status s = parser.Parse(GetParam().json, env);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_class(), ErrorClass::kBadInput);
  EXPECT_THAT(s.message(), HasSubstr(GetParam().message));
  EXPECT_THAT(s.ToString(), Not(HasSubstr(kChild)));
}

std::vector<Rule> Rules() {
  std::vector<Rule> rules;
  auto raw = [&](std::string name, std::string json, std::string message) {
    rules.push_back({std::move(name), std::move(json), std::move(message)});
  };
  auto add = [&](std::string name, auto change, std::string message) {
    Fields f;
    change(f);
    raw(std::move(name), f.Json(), std::move(message));
  };
  const std::string ok = Fields().Json();
  raw("NotJson", "this is not json", "not valid JSON");
  raw("Truncated", ok.substr(0, ok.size() / 2), "not valid JSON");
  raw("Array", R"(["a"])", "not a JSON object");
  const std::pair<const char*, std::string Fields::*> required[] = {
      {"event_id", &Fields::event_id},
      {"type", &Fields::type},
      {"schema_version", &Fields::schema_version},
      {"source", &Fields::source},
      {"child_id", &Fields::child_id},
      {"occurred_at", &Fields::occurred_at},
      {"recorded_at", &Fields::recorded_at},
      {"data", &Fields::data}};
  for (const auto& [field, member] : required) {
    // Renamed, not left out: the value is still there under an unknown name; only the field is
    // missing.
    add(
        std::string("Missing_") + field,
        [&](Fields& f) {
          f.extra = std::string("\"x_") + field + "\":" + f.*member + ",";
          f.*member = "";
        },
        std::string("field '") + field + "': required");
  }
  add(
      "EmptyEventId", [](Fields& f) { f.event_id = R"("")"; }, "field 'event_id': length");
  add(
      "LongEventId", [](Fields& f) { f.event_id = "\"" + std::string(129, 'x') + "\""; },
      "field 'event_id': length must be 1–128");
  add(
      "NumericEventId", [](Fields& f) { f.event_id = "17"; }, "field 'event_id': must be a string");
  add(
      "TypeNotString", [](Fields& f) { f.type = "3"; }, "field 'type': must be a string");
  add(
      "UnknownType", [](Fields& f) { f.type = R"("care.teleported")"; },
      "field 'type': not in code list event_type");
  add(
      "EmptySource", [](Fields& f) { f.source = R"("")"; }, "field 'source': length");
  add(
      "EmptyChildId", [](Fields& f) { f.child_id = R"("")"; }, "field 'child_id': length");
  add(
      "LongChildId", [](Fields& f) { f.child_id = "\"" + std::string(65, 'c') + "\""; },
      "field 'child_id': length must be 1–64");
  add(
      "NumericChildId", [](Fields& f) { f.child_id = "12345"; },
      "field 'child_id': must be a string");
  add(
      "NullChildId", [](Fields& f) { f.child_id = "null"; }, "field 'child_id': must be a string");
  add(
      "VersionTwo", [](Fields& f) { f.schema_version = "2"; },
      "field 'schema_version': unsupported version");
  add(
      "VersionString", [](Fields& f) { f.schema_version = R"("1")"; },
      "field 'schema_version': must be an integer");
  add(
      "FractionalVersion", [](Fields& f) { f.schema_version = "1.0"; },
      "field 'schema_version': must be an integer");
  add(
      "OccurredGarbage", [](Fields& f) { f.occurred_at = R"("last tuesday")"; },
      "field 'occurred_at'");
  add(
      "OccurredNumber", [](Fields& f) { f.occurred_at = "20240401"; },
      "field 'occurred_at': must be a string");
  add(
      "NoSuchDate", [](Fields& f) { f.occurred_at = R"("2024-02-30")"; },
      "field 'occurred_at': no such calendar date");
  add(
      "RecordedBadOffset", [](Fields& f) { f.recorded_at = R"("2024-04-03T10:20:30+1")"; },
      "field 'recorded_at'");
  add(
      "RecordedBareDate", [](Fields& f) { f.recorded_at = R"("2024-04-03")"; },
      "field 'recorded_at': must be a date-time");
  add(
      "RecordedNoOffset", [](Fields& f) { f.recorded_at = R"("2024-04-03T10:20:30")"; },
      "field 'recorded_at': date-time has no UTC offset");
  add(
      "DataNull", [](Fields& f) { f.data = "null"; }, "field 'data': must be an object");
  add(
      "DataNotObject", [](Fields& f) { f.data = "[]"; }, "field 'data': must be an object");
  add(
      "EmptySupersedes", [](Fields& f) { f.extra = R"("supersedes":"",)"; },
      "field 'supersedes': length");
  add(
      "StartedWithoutLegalStatus", [](Fields& f) { f.data = R"({"placement":"U1"})"; },
      "field 'data.legal_status': required");
  add(
      "NoPlacement", [](Fields& f) { f.data = R"({"legal_status":"C2"})"; },
      "field 'data.placement': required");
  add(
      "UnknownLegalStatus", [](Fields& f) { f.data = R"({"legal_status":"X9","placement":"U1"})"; },
      "field 'data.legal_status': not in code list legal_status");
  add(
      "UnknownPlacement", [](Fields& f) { f.data = R"({"legal_status":"C2","placement":"U9"})"; },
      "field 'data.placement': not in code list placement");
  add(
      "PlacementNotString", [](Fields& f) { f.data = R"({"legal_status":"C2","placement":1})"; },
      "field 'data.placement': must be a string");
  add(
      "UnknownProvider",
      [](Fields& f) { f.data = R"({"legal_status":"C2","placement":"U1","provider":"PR9"})"; },
      "field 'data.provider': not in code list provider");
  add(
      "EmptyHomeId",
      [](Fields& f) { f.data = R"({"legal_status":"C2","placement":"U1","home_id":""})"; },
      "field 'data.home_id': length");
  add(
      "OutOfAreaNotBool",
      [](Fields& f) { f.data = R"({"legal_status":"C2","placement":"U1","out_of_area":"yes"})"; },
      "field 'data.out_of_area': must be a boolean");
  add(
      "ChangedWithoutPlacement",
      [](Fields& f) { f = OfType("care.placement_changed", R"({"reason":"CARPL"})"); },
      "field 'data.placement': required");
  add(
      "ChangedForUnknownReason",
      [](Fields& f) {
        f = OfType("care.placement_changed", R"({"placement":"U2","reason":"BORED"})");
      },
      "field 'data.reason': not in code list reason_place_change");
  add(
      "LegalStatusChangedWithoutIt",
      [](Fields& f) { f = OfType("care.legal_status_changed", R"({})"); },
      "field 'data.legal_status': required");
  add(
      "EndedWithoutReason", [](Fields& f) { f = OfType("care.period_ended", R"({})"); },
      "field 'data.reason': required");
  add(
      "UnknownEndReason", [](Fields& f) { f = OfType("care.period_ended", R"({"reason":"E99"})"); },
      "field 'data.reason': not in code list reason_for_end");
  add(
      "RegisteredWithoutDob", [](Fields& f) { f = OfType("child.registered", R"({"sex":"M"})"); },
      "field 'data.dob': required");
  add(
      "UnknownSex",
      [](Fields& f) { f = OfType("child.registered", R"({"dob":"2010-01-01","sex":"X"})"); },
      "field 'data.sex': not in code list sex");
  add(
      "DobNotADate", [](Fields& f) { f = OfType("child.registered", R"({"dob":"2010-13-01"})"); },
      "field 'data.dob'");
  return rules;
}

INSTANTIATE_TEST_SUITE_P(EachRule, EnvelopeFieldRule, ::testing::ValuesIn(Rules()),
                         [](const auto& p) { return p.param.name; });

TEST(EnvelopeParser, MessagesNeverEchoTheRefusedValue) {
  // Whatever was refused may be personal data; the message names the field and the rule only.
  const std::string secret = "Jane-Doe-07700900123";
  std::vector<Fields> cases(9);
  cases[0].type = "\"" + secret + "\"";
  cases[1].event_id = "\"" + secret + std::string(120, 'x') + "\"";
  cases[2].child_id = "\"" + secret + std::string(60, 'x') + "\"";
  cases[3].occurred_at = "\"" + secret + "\"";
  cases[4].recorded_at = "\"2024-04-03T10:20:30" + secret + "\"";
  cases[5].schema_version = "\"" + secret + "\"";
  cases[6].data = R"({"legal_status":")" + secret + R"(","placement":"U1"})";
  cases[7] = OfType("care.period_ended", R"({"reason":")" + secret + R"("})");
  cases[8] = OfType("child.registered", R"({"dob":")" + secret + R"("})");
  EnvelopeParser parser;
  Envelope env;
  for (size_t i = 0; i < cases.size(); ++i) {
    Status s = parser.Parse(cases[i].Json(), env);
    ASSERT_FALSE(s.ok()) << "case " << i;
    EXPECT_THAT(s.ToString(), Not(HasSubstr("Jane"))) << "case " << i;
    EXPECT_THAT(s.ToString(), Not(HasSubstr(kChild))) << "case " << i;
  }
  Status not_json = parser.Parse("{\"child_id\":\"" + secret + "\"", env);
  ASSERT_FALSE(not_json.ok());
  EXPECT_THAT(not_json.ToString(), Not(HasSubstr("Jane")));
}

}  // namespace
}  // namespace careledger
