// M14 use of custody (docs/metrics.md): custodial sentences and remands to youth detention
// accommodation of children aged 10-17 decided in the period, each per 1,000 of the row's own
// population aged 10-17. Every figure below is counted by hand from the events.
#include "metrics_offences_support.h"

namespace careledger::metrics_offences_test {
namespace {

std::string Remanded(const std::string& id, const std::string& child, const std::string& offence,
                     const std::string& on, const std::string& to) {
  return Ev(id, "court.remand_decided", child, on,
            R"("offence_id":")" + offence + R"(","remanded_to":")" + to + R"(","decided_at":")" +
                on + "\"");
}

std::string StartedOnRemand(const std::string& id, const std::string& child,
                            const std::string& on) {
  return Ev(id, "care.period_started", child, on,
            R"("legal_status":"J1","placement":"K2","home_id":"SECURE")");
}

MetricQuery Year2024(std::vector<std::string> by) {
  MetricQuery q = Query("custody", Day(2024, 4, 1), Day(2025, 4, 1), std::move(by));
  // The year's middle day is in 2024: the mid-2024 estimate.
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year == 2024) return AreaPopulation{.year = 2024, .aged_10_17 = 1000, .under_18 = 2300};
    return std::nullopt;
  };
  return q;
}

class UseOfCustody : public MetricsOffences {
 protected:
  void SetUp() override {
    MetricsOffences::SetUp();
    Fold(*store_, {
                      // A (15), looked after since 2023: charged with a robbery, remanded to youth
                      // detention, then given a detention and training order.
                      Registered("a0", "A", "2009-01-01", "M", "WBRI"),
                      CareStarted("a1", "A", "2023-01-01", "H1"),
                      OffenceRecorded("a2", "A", "a-o1", "2024-05-01", "robbery"),
                      HomeOffice("a3", "A", "a-o1", "2024-05-02", 1),
                      Remanded("a4", "A", "a-o1", "2024-05-03", "youth_detention_accommodation"),
                      Court("a5", "A", "a-o1", "2024-09-01", "detention_training_order"),
                      // B (15), never in care: remanded to youth detention twice, to local
                      // authority accommodation and on bail in between (neither counts), then given
                      // a youth rehabilitation order (not custody).
                      Registered("b0", "B", "2008-06-01", "F", "WBRI"),
                      OffenceRecorded("b1", "B", "b-o1", "2024-06-01", "violence_against_person"),
                      Remanded("b2", "B", "b-o1", "2024-06-05", "youth_detention_accommodation"),
                      Remanded("b3", "B", "b-o1", "2024-07-01", "local_authority_accommodation"),
                      Remanded("b4", "B", "b-o1", "2024-07-15", "bail"),
                      Remanded("b5", "B", "b-o1", "2024-08-01", "youth_detention_accommodation"),
                      Court("b6", "B", "b-o1", "2024-10-01", "youth_rehabilitation_order"),
                      // C (17), a care leaver (in care from 14 to past 16): long-term detention.
                      Registered("c0", "C", "2007-03-01", "M", "BCRB"),
                      CareStarted("c1", "C", "2021-06-01", "H2"),
                      CareEnded("c2", "C", "2023-06-01"),
                      OffenceRecorded("c3", "C", "c-o1", "2024-07-01", "robbery"),
                      Court("c4", "C", "c-o1", "2024-11-01", "long_term_detention"),
                      // D (16): sentenced before the year, remanded on its first day after it.
                      Registered("d0", "D", "2008-01-01", "M", "WBRI"),
                      Court("d1", "D", "d-o1", "2024-02-01", "detention_training_order"),
                      Remanded("d2", "D", "d-o2", "2025-04-01", "youth_detention_accommodation"),
                      // E (15): remanded to youth detention for an offence the store has no record
                      // of, which makes E looked after that day (legal status J1): judged the day
                      // before, E is among the other children.
                      Registered("e0", "E", "2009-01-01", "F", "WBRI"),
                      StartedOnRemand("e1", "E", "2024-09-01"),
                      Remanded("e2", "E", "e-o1", "2024-09-01", "youth_detention_accommodation"),
                      // F is 18 when remanded: not a child of the measure.
                      Registered("f0", "F", "2006-01-01", "M", "WBRI"),
                      Remanded("f1", "F", "f-o1", "2024-05-01", "youth_detention_accommodation"),
                  });
  }
};

TEST_F(UseOfCustody, CountsSentencesAndRemandsPerThousandOfEachCohort) {
  // Children aged 10-17 on 1 April 2024 as the store holds them: A looked after, C a care
  // leaver; the other children are the area's 1,000 less those two (998). Sentences: A (cla),
  // C (care_leaver). Remands to youth detention: A (cla); B twice and E (other).
  const Figures by_cohort{{"cla",
                           {{"custodial_sentences", "1"},
                            {"sentence_rate_per_1000_10_17", "1000.00"},
                            {"remands_to_yda", "1"},
                            {"remand_rate_per_1000_10_17", "1000.00"}}},
                          {"care_leaver",
                           {{"custodial_sentences", "1"},
                            {"sentence_rate_per_1000_10_17", "1000.00"},
                            {"remands_to_yda", "0"},
                            {"remand_rate_per_1000_10_17", "0.00"}}},
                          {"other",
                           {{"custodial_sentences", "0"},
                            {"sentence_rate_per_1000_10_17", "0.00"},
                            {"remands_to_yda", "3"},
                            {"remand_rate_per_1000_10_17", "3.01"}}}};
  EXPECT_EQ(Report(*store_, Year2024({"cohort"})), by_cohort);
  auto fold = Year2024({"cohort"});
  fold.fold = true;
  EXPECT_EQ(Report(*store_, fold), by_cohort);
  // The area: 2 sentences and 4 remands per 1,000 children aged 10-17.
  const Figures area{{"",
                      {{"custodial_sentences", "2"},
                       {"sentence_rate_per_1000_10_17", "2.00"},
                       {"remands_to_yda", "4"},
                       {"remand_rate_per_1000_10_17", "4.00"}}}};
  EXPECT_EQ(Report(*store_, Year2024({"none"})), area);
  // Each row names the events behind it: the child's registration and care (its cohort), the
  // offence's events and the remand.
  EXPECT_EQ(
      LineageOf(*store_, Year2024({"cohort"}), {{"cohort", "cla"}}),
      (std::vector<std::string>{"children_10_17:a0", "children_10_17:a1", "custodial_sentences:a0",
                                "custodial_sentences:a1", "custodial_sentences:a2",
                                "custodial_sentences:a3", "custodial_sentences:a5",
                                "remands_to_yda:a0", "remands_to_yda:a1", "remands_to_yda:a2",
                                "remands_to_yda:a3", "remands_to_yda:a4", "remands_to_yda:a5"}));
}

// A retracted remand is no remand; a sentence replaced on appeal by a community order is no
// longer custody.
TEST_F(UseOfCustody, CorrectionsTakeARowAway) {
  Fold(*store_, {Ev("x1", "event.retracted", "B", "2024-12-01",
                    R"("target_event_id":"b5","reason":"entered_in_error")"),
                 Court("x2", "C", "c-o1", "2025-01-15", "youth_rehabilitation_order")});
  const auto got = Report(*store_, Year2024({"none"}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.at("").at("custodial_sentences"), "1");
  EXPECT_EQ(got.at("").at("remands_to_yda"), "3");
}

}  // namespace
}  // namespace careledger::metrics_offences_test
