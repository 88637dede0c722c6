// The record each ingest announces on careledger.instances.v1.
#include <gtest/gtest.h>

#include "careledger/consumers.h"

namespace careledger {
namespace {

TEST(InstanceRecord, RoundTripsAndSortsItsPartitions) {
  InstanceRecord r{.instance = "careledger-host-0123",
                   .group = "careledger-ingest",
                   .advertised = "https://10.0.0.7:8080",
                   .running = true,
                   .partitions = {0, 4, 5},
                   .reading = {5},
                   .of = 12,
                   .at = std::chrono::sys_seconds(std::chrono::seconds(1796000000))};
  const std::string json = EncodeInstanceRecord(r);
  EXPECT_EQ(json,
            "{\"instance\":\"careledger-host-0123\",\"group\":\"careledger-ingest\","
            "\"advertised\":\"https://10.0.0.7:8080\",\"running\":true,\"partitions\":[0,4,5],"
            "\"reading\":[5],\"of\":12,\"at\":\"2026-11-30T00:53:20Z\"}");
  auto back = DecodeInstanceRecord(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, r);
  auto unsorted = DecodeInstanceRecord(
      R"({"instance":"x","running":false,"partitions":[3,1,3],"reading":[3,1],)"
      R"("at":"2026-01-01T00:00:00Z"})");
  ASSERT_TRUE(unsorted.ok());
  EXPECT_EQ(unsorted->partitions, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(unsorted->reading, (std::vector<int32_t>{1, 3}));
  EXPECT_FALSE(unsorted->running);
}

// An instance of an earlier release says neither what it is reading nor how many partitions
// there are; a later one may say more. Both are read for what they do say.
TEST(InstanceRecord, FieldsItDoesNotKnowOrLacksAreNoError) {
  auto older = DecodeInstanceRecord(
      R"({"instance":"x","group":"g","advertised":"","running":true,"partitions":[2],)"
      R"("at":"2026-01-01T00:00:00Z"})");
  ASSERT_TRUE(older.ok()) << older.status().message();
  EXPECT_EQ(older->partitions, (std::vector<int32_t>{2}));
  EXPECT_TRUE(older->reading.empty());
  EXPECT_EQ(older->of, 0);
  auto newer = DecodeInstanceRecord(
      R"({"instance":"x","running":true,"partitions":[2],"zone":{"rack":"b","n":[1]},)"
      R"("of":4,"at":"2026-01-01T00:00:00Z"})");
  ASSERT_TRUE(newer.ok()) << newer.status().message();
  EXPECT_EQ(newer->of, 4);
}

TEST(InstanceRecord, OneThatDoesNotDecodeSaysWhy) {
  for (std::string_view bad :
       {R"({"group":"g","at":"2026-01-01T00:00:00Z"})", R"({"instance":"x","at":"yesterday"})",
        R"({"instance":"x","of":-1,"at":"2026-01-01T00:00:00Z"})", "not json"}) {
    auto r = DecodeInstanceRecord(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("an instance record does not decode"), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace careledger
