// Rendering: exact CSV, JSON and table output by placement, every format for a report
// without a dimension and for one with no rows, escaping of awkward group names, and the names
// of the formats.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "careledger/reporting.h"

namespace careledger {
namespace {

using ::testing::HasSubstr;

const Date kAt = *ParseDate("2025-03-31");

ReportTable ByPlacement() {
  return ClaReport({{"K2", 3}, {"U1", 12}}, kAt, ClaDimension::kPlacement);
}
ReportTable Total() {
  return ClaReport({{"", 15}}, kAt, ClaDimension::kNone);
}

TEST(Render, ClaReportByPlacementHasOneGroupAndOneValuePerRow) {
  ReportTable t = ByPlacement();
  EXPECT_EQ(t.metric, "cla");
  EXPECT_EQ(t.selectors, (std::vector<std::pair<std::string, std::string>>{{"at", "2025-03-31"}}));
  EXPECT_EQ(t.dimensions, std::vector<std::string>{"placement"});
  EXPECT_EQ(t.measures, std::vector<std::string>{"value"});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].groups, std::vector<std::string>{"K2"});
  EXPECT_EQ(t.rows[0].values[0].numerator, 3);
  EXPECT_EQ(t.rows[1].groups, std::vector<std::string>{"U1"});
  EXPECT_EQ(t.rows[1].values[0].numerator, 12);
}

// Every note the table prints goes with the figures in CSV (comment lines after the rows) and
// JSON (a notes field) as well: a provisional cohort or the population used must not be lost
// in an export.
TEST(Render, EveryFormatCarriesTheNotes) {
  ReportTable t = Total();
  t.notes = {"area population aged 10-17 (2025): 1,000", "cohort provisional"};
  EXPECT_EQ(Render(t, OutputFormat::kCsv),
            "value\n15\n# note: area population aged 10-17 (2025): 1,000\n"
            "# note: cohort provisional\n");
  EXPECT_EQ(Render(t, OutputFormat::kJson),
            R"({"metric":"cla","at":"2025-03-31","rows":[{"value":15}],)"
            R"("notes":["area population aged 10-17 (2025): 1,000","cohort provisional"]})"
            "\n");
  EXPECT_THAT(Render(t, OutputFormat::kTable),
              HasSubstr("note: area population aged 10-17 (2025): 1,000\nnote: cohort "
                        "provisional\n"));
}

TEST(Render, CsvByPlacementIsExact) {
  EXPECT_EQ(Render(ByPlacement(), OutputFormat::kCsv), "placement,value\nK2,3\nU1,12\n");
}

TEST(Render, JsonCarriesTheSelectorsAndNumbersAsNumbers) {
  EXPECT_EQ(Render(ByPlacement(), OutputFormat::kJson),
            R"({"metric":"cla","at":"2025-03-31","rows":[{"placement":"K2","value":3},)"
            R"({"placement":"U1","value":12}]})"
            "\n");
}

TEST(Render, TableByPlacementIsExact) {
  EXPECT_EQ(Render(ByPlacement(), OutputFormat::kTable),
            "cla  at=2025-03-31\n"
            "placement  value\n"
            "---------  -----\n"
            "K2             3\n"
            "U1            12\n");
}

TEST(Render, WithoutADimensionEveryFormatHasTheValueAlone) {
  ReportTable t = Total();
  EXPECT_TRUE(t.dimensions.empty());
  EXPECT_EQ(Render(t, OutputFormat::kCsv), "value\n15\n");
  EXPECT_EQ(Render(t, OutputFormat::kJson),
            "{\"metric\":\"cla\",\"at\":\"2025-03-31\",\"rows\":[{\"value\":15}]}\n");
  EXPECT_EQ(Render(t, OutputFormat::kTable),
            "cla  at=2025-03-31\n"
            "value\n"
            "-----\n"
            "   15\n");
}

TEST(Render, NoRowsStillGivesTheHeader) {
  ReportTable t = ClaReport({}, kAt, ClaDimension::kLegalStatus);
  EXPECT_EQ(Render(t, OutputFormat::kCsv), "legal_status,value\n");
  EXPECT_EQ(Render(t, OutputFormat::kJson),
            "{\"metric\":\"cla\",\"at\":\"2025-03-31\",\"rows\":[]}\n");
  EXPECT_EQ(Render(t, OutputFormat::kTable),
            "cla  at=2025-03-31\n"
            "legal_status  value\n"
            "------------  -----\n");
}

TEST(Render, AwkwardGroupNamesAreQuotedInCsvAndEscapedInJson) {
  ReportTable t;
  t.metric = "m";
  t.dimensions = {"group"};
  t.measures = {"children", "episodes"};
  t.rows = {{{"a,\"b\""}, {Figure::Count(-4), Figure::Count(1234567)}}};
  EXPECT_EQ(Render(t, OutputFormat::kCsv),
            "group,children,episodes\n"
            "\"a,\"\"b\"\"\",-4,1234567\n");
  EXPECT_EQ(Render(t, OutputFormat::kJson),
            "{\"metric\":\"m\",\"rows\":[{\"group\":\"a,\\\"b\\\"\",\"children\":-4,"
            "\"episodes\":1234567}]}\n");
  EXPECT_EQ(Render(t, OutputFormat::kTable),
            "m\n"
            "group  children  episodes\n"
            "-----  --------  --------\n"
            "a,\"b\"        -4   1234567\n");
}

TEST(Render, FormatNamesAreTableCsvJsonOnly) {
  EXPECT_EQ(*OutputFormatFromName("table"), OutputFormat::kTable);
  EXPECT_EQ(*OutputFormatFromName("csv"), OutputFormat::kCsv);
  EXPECT_EQ(*OutputFormatFromName("json"), OutputFormat::kJson);
  for (const char* bad : {"xml", "", "CSV", "json "}) {
    auto f = OutputFormatFromName(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().error_class(), ErrorClass::kBadInput) << bad;
  }
  EXPECT_THAT(OutputFormatFromName("xml").status().message(), HasSubstr("'xml'"));
}

}  // namespace
}  // namespace careledger
