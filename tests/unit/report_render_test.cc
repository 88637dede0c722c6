// Rendering: exact CSV, JSON and table output.
#include <gtest/gtest.h>

#include "careledger/reporting.h"

namespace careledger {
namespace {

const Date kAt = *ParseDate("2025-03-31");

TEST(Render, CsvHasTheDimensionsFirstThenValue) {
  auto t = ClaReport({{"K2", 3}, {"U1", 12}}, kAt, ClaDimension::kPlacement);
  EXPECT_EQ(Render(t, OutputFormat::kCsv), "placement,value\nK2,3\nU1,12\n");
  auto total = ClaReport({{"", 15}}, kAt, ClaDimension::kNone);
  EXPECT_EQ(Render(total, OutputFormat::kCsv), "value\n15\n");
}

TEST(Render, JsonCarriesTheSelectorsAndNumbersAsNumbers) {
  auto t = ClaReport({{"K2", 3}, {"U1", 12}}, kAt, ClaDimension::kPlacement);
  EXPECT_EQ(Render(t, OutputFormat::kJson),
            R"({"metric":"cla","at":"2025-03-31","rows":[{"placement":"K2","value":3},)"
            R"({"placement":"U1","value":12}]})"
            "\n");
}

TEST(Render, TableAlignsTextLeftAndNumbersRight) {
  auto t = ClaReport({{"K2", 3}, {"U1", 12}}, kAt, ClaDimension::kLegalStatus);
  EXPECT_EQ(Render(t, OutputFormat::kTable),
            "cla  at=2025-03-31\n"
            "legal_status  value\n"
            "------------  -----\n"
            "K2                3\n"
            "U1               12\n");
}

TEST(Render, UnknownFormatIsRefused) {
  EXPECT_EQ(OutputFormatFromName("xml").status().error_class(), ErrorClass::kBadInput);
  EXPECT_TRUE(OutputFormatFromName("csv").ok());
}

}  // namespace
}  // namespace careledger
