// Dates on two clocks, settings masking, escaping and byte codecs.
#include "careledger/common.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace careledger {
namespace {

using ::testing::HasSubstr;

TEST(Timestamp, BareDateIsMidnightUtcOfThatDate) {
  auto ts = ParseTimestamp("2024-03-31");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(FormatDate(ts->date), "2024-03-31");
  EXPECT_EQ(FormatInstant(ts->instant), "2024-03-31T00:00:00Z");
  EXPECT_FALSE(ts->has_time);
}

TEST(Timestamp, OffsetMovesTheInstantButNotTheWrittenDate) {
  auto ts = ParseTimestamp("2024-04-01T00:30:00+01:00");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(FormatDate(ts->date), "2024-04-01");
  EXPECT_EQ(FormatInstant(ts->instant), "2024-03-31T23:30:00Z");
  auto west = ParseTimestamp("2024-01-01T22:00:00.123-05:00");
  ASSERT_TRUE(west.ok());
  EXPECT_EQ(FormatInstant(west->instant), "2024-01-02T03:00:00Z");
}

TEST(Timestamp, LeapDaysAndGarbage) {
  EXPECT_TRUE(ParseDate("2024-02-29").ok());
  EXPECT_THAT(ParseDate("2023-02-29").status().message(), HasSubstr("no such calendar date"));
  for (const char* bad :
       {"", "2024", "2024-1-01", "24-01-01", "2024-01-01T", "2024-01-01T25:00:00Z",
        "2024-01-01T10:00:00+1:00", "2024-01-01T10:00:00Zjunk", "yesterday"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(Settings, SecretsAreMaskedAndOthersShown) {
  Settings s = {{"bootstrap.servers", "k:9093"},
                {"sasl.password", "hunter2"},
                {"ssl.key.password", "pw"},
                {"api_token", "t0k"},
                {"client.secret", "s3"}};
  std::string logged = MaskedForLog(s);
  EXPECT_THAT(logged, HasSubstr("bootstrap.servers=k:9093"));
  EXPECT_THAT(logged, HasSubstr("sasl.password=*****"));
  for (const char* secret : {"hunter2", "=pw", "t0k", "s3"}) {
    EXPECT_THAT(logged, ::testing::Not(HasSubstr(secret)));
  }
}

TEST(Settings, KeyValueNeedsAnEqualsSign) {
  Settings s;
  EXPECT_TRUE(AddKeyValue("acks=all", s).ok());
  EXPECT_EQ(s["acks"], "all");
  EXPECT_TRUE(AddKeyValue("sasl.jaas=a=b", s).ok());
  EXPECT_EQ(s["sasl.jaas"], "a=b");
  EXPECT_EQ(AddKeyValue("novalue", s).error_class(), ErrorClass::kBadInput);
  EXPECT_FALSE(AddKeyValue("=x", s).ok());
}

TEST(Text, JsonStringsAreEscaped) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\nd\te\x01");
  EXPECT_EQ(out, R"("a\"b\\c\nd\te\u0001")");
}

TEST(Text, CsvQuotesOnlyWhenItMust) {
  EXPECT_EQ(CsvField("U1"), "U1");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
}

TEST(Codec, KeysSortInNumericAndDateOrder) {
  std::string a, b;
  codec::PutBigEndian64(a, 255);
  codec::PutBigEndian64(b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(codec::GetBigEndian64(b.data()), 256u);
  Date before_epoch = *ParseDate("1969-12-31"), epoch = *ParseDate("1970-01-01"),
       later = *ParseDate("2024-03-31");
  EXPECT_LT(codec::DaysKey(before_epoch), codec::DaysKey(epoch));
  EXPECT_LT(codec::DaysKey(epoch), codec::DaysKey(later));
  EXPECT_EQ(codec::DateFromDaysKey(codec::DaysKey(before_epoch)), before_epoch);
  std::string lp;
  codec::PutLengthPrefixed(lp, "abc");
  lp += "rest";
  std::string_view in = lp, out;
  ASSERT_TRUE(codec::GetLengthPrefixed(in, out));
  EXPECT_EQ(out, "abc");
  EXPECT_EQ(in, "rest");
  std::string_view short_input("\x09\0\0\0ab", 6);
  EXPECT_FALSE(codec::GetLengthPrefixed(short_input, out));
}

}  // namespace
}  // namespace careledger
