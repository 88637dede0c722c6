// What the contract refuses: one invalid example per rule, the message naming the field and the
// rule (never the child), and the rules no schema can state (size, UTF-8, the clock).
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

}  // namespace
}  // namespace careledger
