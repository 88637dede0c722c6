// `careledger report` and `careledger lineage` as a user runs them: a small hand-written feed is
// published to `careledger broker` and ingested in two runs (the second retracts an outcome), and
// every figure below is worked out by hand from the feed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_support.h"
#include "three_children_feed.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

using test::Ev;

class Reports : public ::testing::Test {
 protected:
  void SetUp() override {
    test::WriteFile(dir_ / "c.toml",
                    "[population]\n2023 = { aged_10_17 = 20000, under_18 = 50000 }\n");
    Ingest(test::ThreeChildrenFeed());
  }
  void Ingest(const std::string& feed) {
    std::string file = dir_ / ("feed" + std::to_string(++feeds_) + ".jsonl");
    test::WriteFile(file, feed);
    auto published = Careledger({"publish", "--brokers", broker_.bootstrap(), file});
    ASSERT_EQ(published.exit_code, 0) << published.err;
    auto ingest =
        Careledger({"ingest", "--brokers", broker_.bootstrap(), "--data", store(), "--until-end"});
    ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  }
  std::string store() const { return dir_ / "store"; }
  test::RunResult Report(std::vector<std::string> args) {
    std::vector<std::string> all = {"report"};
    all.insert(all.end(), args.begin(), args.end());
    for (const std::string& extra :
         {std::string("--data"), store(), std::string("--config"), dir_ / "c.toml"}) {
      all.push_back(extra);
    }
    return Careledger(all);
  }

  test::TempDir dir_;
  test::BrokerProcess broker_{3};
  int feeds_ = 0;
};

const std::string kQuarter = "2024-01-01..2024-04-01";

TEST_F(Reports, ClaAtADateAndByPlacement) {
  auto r = Report({"cla", "--at", "2024-03-31", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "value\n1\n");  // B left on 1 February
  r = Report({"cla", "--at", "2024-01-15", "--by", "placement", "--format", "csv"});
  EXPECT_EQ(r.out, "placement,value\nK2,1\nU1,1\n");
  // Over the quarter: both looked after at some point, B's care ended in it, nobody started.
  r = Report({"cla", "--period", kQuarter, "--format", "csv"});
  EXPECT_EQ(r.out, "children,started,ended\n2,0,1\n");
}

TEST_F(Reports, OutcomesByCohortAndTierThenARetraction) {
  auto r = Report({"outcomes", "--period", kQuarter, "--by", "cohort,tier", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Cohorts are judged on the offence date: B offended while still in care.
  const std::string before =
      "cohort,tier,offences,at_placement\n"
      "cla,informal,1,1\n"
      "cla,out_of_court_formal,1,0\n"
      "other,first_tier,1,0\n";
  EXPECT_EQ(r.out, before);

  // A later run retracts A's community resolution: the offence has no outcome any more.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::string known_at =
      FormatInstant(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Ingest(Ev("a4", "event.retracted", "A", "2024-04-02",
            R"("target_event_id":"a3","reason":"recorded_in_error")"));
  r = Report({"outcomes", "--period", kQuarter, "--by", "cohort,tier", "--format", "csv"});
  EXPECT_EQ(r.out,
            "cohort,tier,offences,at_placement\n"
            "cla,out_of_court_formal,1,0\n"
            "other,first_tier,1,0\n");
  // What the report said before the retraction was ingested.
  r = Report({"outcomes", "--period", kQuarter, "--by", "cohort,tier", "--format", "csv",
              "--as-known-at", known_at});
  EXPECT_EQ(r.out, before);
}

TEST_F(Reports, PublishedOutputSuppressesSmallCounts) {
  auto r = Report({"informal-share", "--period", kQuarter, "--format", "csv", "--published"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "cohort,offences,no_sanction_or_informal,informal_pct\n"
            "cla,<5,<5,c\n"
            "other,<5,0,c\n"
            "# note: published figures: counts of 1 to 4 show as <5; c marks a figure withheld "
            "because it is derived from one or because the totals would give one away\n");
  r = Report({"informal-share", "--period", kQuarter, "--format", "csv"});
  EXPECT_EQ(r.out,
            "cohort,offences,no_sanction_or_informal,informal_pct\n"
            "cla,2,1,50.0\n"
            "other,1,0,0.0\n");
}

// The threshold comes from the settings (publish.threshold): at 3, the markers say "<3". cla's
// 2 offences and other's 1 are both hidden under a total of 3 (each 1 or 2: neither is
// pinned); cla's 1 informal outcome is alone in its column, but under a total of 1 that is
// itself suppressed where it is published.
TEST_F(Reports, PublishingThresholdComesFromTheSettings) {
  test::WriteFile(dir_ / "t.toml", "[publish]\nthreshold = 3\n");
  auto r = Careledger({"report", "informal-share", "--data", store(), "--config", dir_ / "t.toml",
                       "--period", kQuarter, "--format", "csv", "--published"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "cohort,offences,no_sanction_or_informal,informal_pct\n"
            "cla,<3,<3,c\n"
            "other,<3,0,c\n"
            "# note: published figures: counts of 1 to 2 show as <3; c marks a figure withheld "
            "because it is derived from one or because the totals would give one away\n");
}

// --series monthly: one block per month, the month first. CLA on each month's last day: A (U1)
// and B (K2) on 31 January; B's care ended on 1 February, so A alone at the end of February and
// March. Outcomes by the month they were decided: A's community resolution on 1 February (cla,
// at the placement), B's caution on 1 March (cla: in care when he offended), C's referral order
// on 10 March (other); nothing in January.
TEST_F(Reports, MonthlySeriesHasOneBlockPerMonth) {
  auto r = Report(
      {"cla", "--period", kQuarter, "--series", "monthly", "--by", "placement", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "month,placement,value\n"
            "2024-01,K2,1\n"
            "2024-01,U1,1\n"
            "2024-02,U1,1\n"
            "2024-03,U1,1\n");
  r = Report({"outcomes", "--period", kQuarter, "--series", "monthly", "--by", "cohort", "--format",
              "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "month,cohort,offences,at_placement\n"
            "2024-02,cla,1,1\n"
            "2024-03,cla,1,0\n"
            "2024-03,other,1,0\n");
  r = Report({"outcomes", "--period", kQuarter, "--series", "monthly", "--by", "cohort", "--format",
              "json"});
  EXPECT_THAT(r.out, HasSubstr(R"("period":"2024-01-01..2024-04-01","series":"monthly","rows":[)"
                               R"({"month":"2024-02","cohort":"cla","offences":1,)"));
  // A month is never cut or widened, and a yearly figure has no months.
  r = Report({"outcomes", "--period", "2024-01-15..2024-04-01", "--series", "monthly"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--series monthly needs whole months"));
  r = Report({"criminalisation", "--series", "monthly"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("criminalisation is for a year ending 31 March"));
  r = Report({"cla", "--series", "weekly"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(Reports, CriminalisationUsesTheConfiguredPopulation) {
  auto r = Report({"criminalisation", "--at", "2024-03-31", "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // OC2 cohort: A only (looked after all year, 15 on 31 March). Her outcome is informal.
  // Area: B (youth caution, 17) and C (referral order, 14) of 20,000 children aged 10-17.
  EXPECT_EQ(r.out,
            "oc2_cohort,oc2_with_formal,oc2_rate_pct,area_with_formal,area_population_10_17,"
            "area_rate_pct,ratio\n"
            "1,0,0.0,2,20000,0.0,0.00\n"
            "# note: area population aged 10-17 (2023): 20000\n");
  r = Report({"criminalisation", "--at", "2024-03-31"});
  EXPECT_THAT(r.out, HasSubstr("note: area population aged 10-17 (2023): 20000"));
}

// OA and OB by their children's registrations, the offences and outcomes, and the care that
// made A and B looked after on the offence dates (A's start a1; B's stretch b1 to b2).
TEST_F(Reports, LineageNamesTheEventsBehindOneFigure) {
  auto r = Careledger({"lineage", "outcomes", "--data", store(), "--period", kQuarter, "--by",
                       "cohort", "--cell", "cohort=cla"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "measure\tevent_id\n"
            "at_placement\ta0\nat_placement\ta1\nat_placement\ta2\nat_placement\ta3\n"
            "offences\ta0\noffences\ta1\noffences\ta2\noffences\ta3\n"
            "offences\tb0\noffences\tb1\noffences\tb2\noffences\tb3\noffences\tb4\n");
}

// A cell the report does not have, or one that leaves out a --by dimension, is a usage error
// naming it: an empty lineage would read as "no events behind this figure".
TEST_F(Reports, LineageOfACellTheReportLacksIsAnError) {
  auto r = Careledger({"lineage", "outcomes", "--data", store(), "--period", kQuarter, "--by",
                       "cohort", "--cell", "cohort=care_leaver"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("the outcomes report has no row cohort=care_leaver"));
  r = Careledger({"lineage", "outcomes", "--data", store(), "--period", kQuarter, "--by",
                  "cohort,tier", "--cell", "cohort=cla"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--cell must name a value of every --by dimension; missing: tier"));
}

}  // namespace
}  // namespace careledger
