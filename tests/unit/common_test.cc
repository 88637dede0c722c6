// Dates on two clocks, settings masking, escaping and byte codecs.
#include "careledger/common.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// One rule for ages, used by the projections and the generator alike: a child born on 29
// February turns a year older on 1 March in a common year (the generator once said 28
// February, so a generated child could leave care a day before the projections made it 18).
TEST(Calendar, AnniversaryOf29FebruaryIs1MarchInACommonYearAndItselfInALeapYear) {
  const Date leapling = *ParseDate("2008-02-29");
  EXPECT_EQ(FormatDate(Anniversary(leapling, 18)), "2026-03-01");
  EXPECT_EQ(FormatDate(Anniversary(leapling, 16)), "2024-02-29");
  EXPECT_EQ(FormatDate(Anniversary(leapling, 0)), "2008-02-29");
  EXPECT_EQ(FormatDate(Anniversary(*ParseDate("2008-02-28"), 18)), "2026-02-28");
  EXPECT_EQ(FormatDate(Anniversary(*ParseDate("2007-12-31"), 10)), "2017-12-31");
  EXPECT_EQ(FormatDate(Anniversary(*ParseDate("2026-03-01"), -18)), "2008-03-01");
}

// One "year ending 31 March" for the criminalisation protocol, the SSDA903 collection year, the
// financial-year periods and the reconciliation dates (each once wrote its own).
TEST(Calendar, YearEndingRunsFromTheFirstOfAprilToThe31stOfMarch) {
  const YearEnding y2025{2025};
  EXPECT_EQ(FormatDate(y2025.First()), "2024-04-01");
  EXPECT_EQ(FormatDate(y2025.Last()), "2025-03-31");
  EXPECT_EQ(FormatDate(y2025.End()), "2025-04-01");
  EXPECT_EQ(YearEnding::Containing(*ParseDate("2025-03-31")).year, 2025);
  EXPECT_EQ(YearEnding::Containing(*ParseDate("2025-04-01")).year, 2026);
  EXPECT_EQ(YearEnding::Containing(*ParseDate("2025-01-01")).year, 2025);
  EXPECT_EQ(YearEnding::Containing(*ParseDate("2024-12-31")).year, 2025);
  // The last year to have ended by a day: on 31 March, that day's.
  EXPECT_EQ(YearEnding::EndingBy(*ParseDate("2025-03-31")).year, 2025);
  EXPECT_EQ(YearEnding::EndingBy(*ParseDate("2025-03-30")).year, 2024);
  EXPECT_EQ(YearEnding::EndingBy(*ParseDate("2025-04-01")).year, 2025);
  EXPECT_EQ(YearEnding::EndingBy(*ParseDate("2026-12-06")).year, 2026);
  EXPECT_TRUE(YearEnding::IsLastDay(*ParseDate("2024-03-31")));
  EXPECT_FALSE(YearEnding::IsLastDay(*ParseDate("2024-03-30")));
  EXPECT_FALSE(YearEnding::IsLastDay(*ParseDate("2024-05-31")));
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

TEST(Timestamp, ZuluDateTimeKeepsItsDateAndTime) {
  auto ts = ParseTimestamp("2024-03-31T23:30:05Z");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(FormatDate(ts->date), "2024-03-31");
  EXPECT_EQ(FormatInstant(ts->instant), "2024-03-31T23:30:05Z");
  EXPECT_TRUE(ts->has_time);
}

TEST(Timestamp, EastOfUtcAfterMidnightKeepsTheWrittenDate) {
  auto ts = ParseTimestamp("2024-01-01T00:30:00+01:00");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(FormatDate(ts->date), "2024-01-01");
  EXPECT_EQ(FormatInstant(ts->instant), "2023-12-31T23:30:00Z");
  auto west = ParseTimestamp("2024-03-31T23:45:00-08:30");
  ASSERT_TRUE(west.ok());
  EXPECT_EQ(FormatDate(west->date), "2024-03-31");
  EXPECT_EQ(FormatInstant(west->instant), "2024-04-01T08:15:00Z");
}

TEST(Timestamp, FractionalSecondsAreAcceptedAndDropped) {
  for (const char* text : {"2024-03-31T23:30:00.5Z", "2024-03-31T23:30:00.999999999Z",
                           "2024-03-31t23:30:00.000z", "2024-03-31T23:30:00.123+00:00"}) {
    auto ts = ParseTimestamp(text);
    ASSERT_TRUE(ts.ok()) << text;
    EXPECT_EQ(FormatInstant(ts->instant), "2024-03-31T23:30:00Z") << text;
  }
  EXPECT_FALSE(ParseTimestamp("2024-03-31T23:30:00.Z").ok());
}

TEST(Timestamp, LeapDayOnlyInLeapYears) {
  for (const char* ok : {"2024-02-29", "2000-02-29", "2024-02-29T12:00:00Z"}) {
    EXPECT_TRUE(ParseTimestamp(ok).ok()) << ok;
  }
  for (const char* bad : {"2023-02-29", "1900-02-29", "2100-02-29", "2023-02-29T12:00:00Z",
                          "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00"}) {
    auto ts = ParseTimestamp(bad);
    ASSERT_FALSE(ts.ok()) << bad;
    EXPECT_EQ(ts.status().error_class(), ErrorClass::kBadInput) << bad;
  }
  EXPECT_EQ(FormatDate(*ParseDate("2024-02-29") + std::chrono::days{1}), "2024-03-01");
}

TEST(Timestamp, ParseDateTakesADateOnly) {
  EXPECT_EQ(FormatDate(*ParseDate("1999-12-31")), "1999-12-31");
  for (const char* bad : {"2024-03-31T00:00:00Z", "2024-03-31 ", " 2024-03-31", "2024/03/31",
                          "31-03-2024", "garbage!!!"}) {
    auto d = ParseDate(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().error_class(), ErrorClass::kBadInput) << bad;
  }
}

TEST(Timestamp, InstantsBefore1970Format) {
  auto ts = ParseTimestamp("1969-12-31T23:59:59Z");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(FormatInstant(ts->instant), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatDate(ts->date), "1969-12-31");
}

TEST(Settings, MaskedForLogIsExactAndInKeyOrder) {
  Settings s = {{"sasl.username", "svc"},
                {"bootstrap.servers", "kafka-1:9093,kafka-2:9093"},
                {"ssl.key.password", "pw1"},
                {"sasl.password", "pw2"}};
  EXPECT_EQ(MaskedForLog(s),
            "bootstrap.servers=kafka-1:9093,kafka-2:9093, sasl.password=*****, "
            "sasl.username=svc, ssl.key.password=*****");
  EXPECT_EQ(MaskedForLog({}), "");
}

TEST(Settings, AnyKeyNamingATokenOrSecretIsSecret) {
  for (const char* key : {"sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret",
                          "api.token", "token", "refresh_token_file", "secret"}) {
    EXPECT_TRUE(IsSecretKey(key)) << key;
  }
  for (const char* key :
       {"bootstrap.servers", "sasl.username", "security.protocol", "acks", "ssl.ca.location"}) {
    EXPECT_FALSE(IsSecretKey(key)) << key;
  }
}

TEST(Settings, KeyValueWithoutEqualsNamesTheText) {
  Settings s;
  Status st = AddKeyValue("novalue", s);
  EXPECT_EQ(st.error_class(), ErrorClass::kBadInput);
  EXPECT_THAT(st.message(), HasSubstr("novalue"));
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(AddKeyValue("linger.ms=", s).ok());
  EXPECT_EQ(s.at("linger.ms"), "");
}

TEST(Text, JsonEscapesEveryControlCharacterAndAppends) {
  std::string out = "x=";
  AppendJsonString(out, std::string_view("\r\x1f\b\f\0/\x7f\xc3\xa9", 9));
  EXPECT_EQ(out, "x=\"\\r\\u001f\\u0008\\u000c\\u0000/\x7f\xc3\xa9\"");
  std::string empty;
  AppendJsonString(empty, "");
  EXPECT_EQ(empty, "\"\"");
  std::string quote;
  AppendJsonString(quote, "\"");
  EXPECT_EQ(quote, "\"\\\"\"");
}

TEST(Text, CsvQuotesLineBreaksButNotSpaces) {
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a b;c"), "a b;c");
  EXPECT_EQ(CsvField("line\nbreak"), "\"line\nbreak\"");
  EXPECT_EQ(CsvField("cr\r"), "\"cr\r\"");
  EXPECT_EQ(CsvField("\""), "\"\"\"\"");
}

TEST(Codec, BigEndian32BytesAndOrder) {
  std::string bytes;
  codec::PutBigEndian32(bytes, 0x01020304u);
  EXPECT_EQ(bytes, std::string("\x01\x02\x03\x04", 4));
  const uint32_t values[] = {0, 1, 255, 256, 65535, 65536, 0x7fffffffu, 0x80000000u, 0xffffffffu};
  std::string previous;
  for (uint32_t v : values) {
    std::string key;
    codec::PutBigEndian32(key, v);
    ASSERT_EQ(key.size(), 4u);
    EXPECT_EQ(codec::GetBigEndian32(key.data()), v);
    if (v != 0) {
      EXPECT_LT(previous, key) << v;
    }
    previous = key;
  }
}

TEST(Codec, BigEndian64BytesAndOrder) {
  std::string bytes;
  codec::PutBigEndian64(bytes, 0x0102030405060708ull);
  EXPECT_EQ(bytes, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  const uint64_t values[] = {0,          1,         255,  256, 1ull << 32, (1ull << 32) + 1,
                             1ull << 63, ~0ull - 1, ~0ull};
  std::string previous;
  for (uint64_t v : values) {
    std::string key;
    codec::PutBigEndian64(key, v);
    ASSERT_EQ(key.size(), 8u);
    EXPECT_EQ(codec::GetBigEndian64(key.data()), v);
    if (v != 0) {
      EXPECT_LT(previous, key) << v;
    }
    previous = key;
  }
}

TEST(Codec, Fixed64RoundTrips) {
  for (uint64_t v : {uint64_t{0}, uint64_t{7}, uint64_t(-7), ~uint64_t{0}}) {
    std::string out;
    codec::PutFixed64(out, v);
    ASSERT_EQ(out.size(), 8u);
    EXPECT_EQ(codec::GetFixed64(out.data()), v);
  }
}

TEST(Codec, DaysKeyBytesSortInDateOrderAcrossTheEpoch) {
  const char* dates[] = {"1900-01-01", "1969-01-01", "1969-12-31", "1970-01-01",
                         "1970-01-02", "2000-02-29", "2024-03-31", "2099-12-31"};
  EXPECT_EQ(codec::DaysKey(*ParseDate("1970-01-01")), 0x80000000u);
  EXPECT_EQ(codec::DaysKey(*ParseDate("1969-12-31")), 0x7fffffffu);
  std::string previous;
  for (const char* text : dates) {
    Date d = *ParseDate(text);
    EXPECT_EQ(codec::DateFromDaysKey(codec::DaysKey(d)), d) << text;
    std::string key;
    codec::PutBigEndian32(key, codec::DaysKey(d));
    EXPECT_LT(previous, key) << text;
    previous = key;
  }
}

TEST(Codec, LengthPrefixedStringsReadBackInTurn) {
  std::string buf;
  codec::PutLengthPrefixed(buf, "");
  codec::PutLengthPrefixed(buf, std::string_view("a\0b", 3));
  std::string_view in = buf, first, second;
  ASSERT_TRUE(codec::GetLengthPrefixed(in, first));
  ASSERT_TRUE(codec::GetLengthPrefixed(in, second));
  EXPECT_EQ(first, "");
  EXPECT_EQ(second, std::string_view("a\0b", 3));
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(codec::GetLengthPrefixed(in, first));
}

TEST(Codec, KeyPartsOfAnyLengthReadBackWhole) {
  std::string buf;
  const std::vector<size_t> lengths = {0, 1, 127, 128, 255, 256, 16383, 16384, 65536};
  for (size_t n : lengths) codec::PutKeyPart(buf, std::string(n, char('a' + n % 26)));
  std::string_view in = buf;
  for (size_t n : lengths) {
    std::string_view part;
    ASSERT_TRUE(codec::GetKeyPart(in, part)) << n;
    EXPECT_EQ(part, std::string(n, char('a' + n % 26)));
  }
  EXPECT_TRUE(in.empty());
  // LEB128: one byte below 128 (the former u8 length), then 7 bits a byte, low bits first.
  std::string one, two, three;
  codec::PutKeyPart(one, std::string(127, 'x'));
  codec::PutKeyPart(two, std::string(256, 'x'));
  codec::PutKeyPart(three, std::string(65536, 'x'));
  EXPECT_EQ(one.substr(0, 1), "\x7f");
  EXPECT_EQ(two.substr(0, 2), "\x80\x02");
  EXPECT_EQ(three.substr(0, 3), "\x80\x80\x04");
  // Cut short, in the length or in the bytes: not read.
  for (std::string_view cut :
       {std::string_view(two).substr(0, 1), std::string_view(two).substr(0, 200),
        std::string_view("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")}) {
    std::string_view part;
    EXPECT_FALSE(codec::GetKeyPart(cut, part));
  }
}

TEST(Fingerprint, IsSixtyFourBitFnv1a) {
  EXPECT_EQ(Fingerprint(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fingerprint("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_NE(Fingerprint("ab"), Fingerprint("ba"));
}

TEST(ErrorStatus, ToStringNamesTheClass) {
  EXPECT_EQ(Status::Ok().ToString(), "ok");
  EXPECT_EQ(Status::BadInput("x").ToString(), "bad input: x");
  EXPECT_EQ(Status::Retriable("y").ToString(), "retriable: y");
  EXPECT_EQ(Status::Fatal("z").ToString(), "fatal: z");
}

}  // namespace
}  // namespace careledger
