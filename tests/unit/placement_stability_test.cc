// M15 placement stability (docs/metrics.md): children looked after on 31 March with three or
// more placements in the year, and of those under 16 in care for two and a half years, those
// with the same carer for two years. Every figure below is counted by hand from the events.
#include "metrics_offences_support.h"

namespace careledger::metrics_offences_test {
namespace {

std::string Started(const std::string& id, const std::string& child, const std::string& on,
                    const std::string& home, const std::string& legal_status = "C2") {
  return Ev(
      id, "care.period_started", child, on,
      R"("legal_status":")" + legal_status + R"(","placement":"U1","home_id":")" + home + "\"");
}

std::string Moved(const std::string& id, const std::string& child, const std::string& on,
                  const std::string& home, const std::string& placement = "U1") {
  return Ev(id, "care.placement_changed", child, on,
            R"("placement":")" + placement + R"(","home_id":")" + home + "\"");
}

std::string LegalStatus(const std::string& id, const std::string& child, const std::string& on,
                        const std::string& legal_status) {
  return Ev(id, "care.legal_status_changed", child, on,
            R"("legal_status":")" + legal_status + "\"");
}

MetricQuery Year(int year) {
  MetricQuery q;
  q.metric = "placement-stability";
  q.at = Day(year, 3, 31);
  return q;
}

class PlacementStability : public MetricsOffences {
 protected:
  void SetUp() override {
    MetricsOffences::SetUp();
    // A (13 on 31 March 2025), in care since June 2022: H1, then H2 in May 2024 (a change of
    // legal status in August is no move; four days in hospital in September, then back to H2,
    // are none either), then H3 in January 2025. B (15) with H5 since 2021, its legal status
    // changed once. C (17) came into care in October 2024 and moved twice. D (10) was in care
    // in 2020-21 and again, with H9, since January 2023. E has short breaks only; F's care ended
    // on 31 March 2025, which does not count on that day.
    Fold(*store_, {Registered("a0", "A", "2012-01-01", "M", "WBRI"),
                   Started("a1", "A", "2022-06-01", "H1"),
                   Moved("a2", "A", "2024-05-01", "H2"),
                   LegalStatus("a3", "A", "2024-08-01", "C1"),
                   Moved("a4", "A", "2024-09-01", "HOSP", "T1"),
                   Moved("a5", "A", "2024-09-05", "H2"),
                   Moved("a6", "A", "2025-01-10", "H3"),
                   Registered("b0", "B", "2010-03-01", "F", "WBRI"),
                   Started("b1", "B", "2021-01-01", "H5"),
                   LegalStatus("b2", "B", "2023-01-01", "C1"),
                   Registered("c0", "C", "2008-01-01", "M", "BCRB"),
                   Started("c1", "C", "2024-10-01", "H6"),
                   Moved("c2", "C", "2024-11-01", "H7"),
                   Moved("c3", "C", "2024-12-01", "H8"),
                   Registered("d0", "D", "2015-01-01", "F", "WBRI"),
                   Started("d1", "D", "2020-01-01", "H4"),
                   CareEnded("d2", "D", "2022-01-01"),
                   Started("d3", "D", "2023-01-01", "H9"),
                   Registered("e0", "E", "2012-06-01", "M", "WBRI"),
                   Started("e1", "E", "2024-01-01", "H10", "V3"),
                   Registered("f0", "F", "2011-01-01", "F", "WBRI"),
                   Started("f1", "F", "2024-01-01", "H11"),
                   CareEnded("f2", "F", "2025-03-31")});
  }
};

TEST_F(PlacementStability, CountsPlacementsInTheYearAndTheSameCarerForTwoYears) {
  // 2025: A, B, C and D looked after on 31 March; A (H1, H2, H3) and C (H6, H7, H8) with three
  // placements; A and B under 16 and in care since before 30 September 2022, of whom B has been
  // with H5 since before 31 March 2023.
  const Figures y2025{{"",
                       {{"cla_31_march", "4"},
                        {"three_plus_placements", "2"},
                        {"three_plus_pct", "50.0"},
                        {"under_16_in_care_2_5_years", "2"},
                        {"same_carer_2_years", "1"},
                        {"same_carer_pct", "50.0"}}}};
  EXPECT_EQ(Report(*store_, Year(2025)), y2025);
  auto fold = Year(2025);
  fold.fold = true;
  EXPECT_EQ(Report(*store_, fold), y2025);
  // 2024: A (H1 only), B, D and F (in care since January 2024); only B in care for 2.5 years
  // (A from June 2022, D from 2023, F from 2024), and with the same carer.
  const Figures y2024{{"",
                       {{"cla_31_march", "4"},
                        {"three_plus_placements", "0"},
                        {"three_plus_pct", "0.0"},
                        {"under_16_in_care_2_5_years", "1"},
                        {"same_carer_2_years", "1"},
                        {"same_carer_pct", "100.0"}}}};
  EXPECT_EQ(Report(*store_, Year(2024)), y2024);
  // By sex: A and C are male, B and D female.
  auto by_sex = Year(2025);
  by_sex.by = {"sex"};
  const auto got = Report(*store_, by_sex);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.at("M").at("three_plus_placements"), "2");
  EXPECT_EQ(got.at("F").at("same_carer_2_years"), "1");
  EXPECT_EQ(got.at("F").at("cla_31_march"), "2");
}

TEST_F(PlacementStability, IsAskedForAYearEnding31March) {
  auto q = Year(2025);
  q.at = Day(2025, 3, 30);
  EXPECT_FALSE(CheckMetricQuery(q).ok());
  q.at.reset();
  q.period = {Day(2024, 4, 1), Day(2025, 4, 1)};
  EXPECT_FALSE(CheckMetricQuery(q).ok());
}

// A 31 March's row names the care events up to that day, and keeps no value it held before
// that day came (docs/metrics.md, "as known at"): such a value was a forecast, and as known at a
// time before a 31 March its figures are folded from the timelines as they stood then.
class PlacementStabilityAsKnownAt : public MetricsOffences {
 protected:
  // The kept values of placement stability rows: their 31 Marches.
  std::vector<std::string> KeptValues() {
    std::vector<std::string> dates;
    const std::string from("was\0p", 5), to("was\0q", 5);
    auto s = store_->ScanStateRange(from, to, [&](std::string_view key, std::string_view) {
      // was \0 p <month of since (4)> <until (8)> <the row key after its kind: the day first>
      dates.push_back(FormatDate(codec::DateFromDaysKey(codec::GetBigEndian32(key.data() + 17))));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return dates;
  }
  static MetricQuery KnownAt(int year, Instant t, bool fold = false) {
    auto q = Year(year);
    q.known_at = t;
    q.fold = fold;
    return q;
  }
};

TEST_F(PlacementStabilityAsKnownAt, KeepsNoValueARowHeldBeforeItsDayAndFoldsThoseDays) {
  // A (13 on 31 March 2025), in care with H1 since June 2022, learned on 1 June 2024; on 10
  // September 2024 a move to H2 (1 September) and a change of legal status (5 September); on 1
  // May 2025 a move to H3 (10 January 2025).
  Fold(*store_,
       {Registered("a0", "A", "2012-01-01", "M", "WBRI"), Started("a1", "A", "2022-06-01", "H1")},
       At(2024, 6, 1));
  Fold(*store_, {Moved("a2", "A", "2024-09-01", "H2"), LegalStatus("a3", "A", "2024-09-05", "C1")},
       At(2024, 9, 10));
  Fold(*store_, {Moved("a4", "A", "2025-01-10", "H3")}, At(2025, 5, 1));
  // Only the 2025 row's value from 10 September 2024 to 1 May 2025, replaced after its day: the
  // 2024 row never changed (a2 and a3 came after its day), and every value replaced before its
  // 31 March had come (2025's forecast from June, 2026's onwards) is not kept.
  EXPECT_EQ(KeptValues(), std::vector<std::string>{"2025-03-31"});

  auto figures = [](const std::string& placements, const std::string& same_carer) {
    // A is under 16 and in care since before 30 September 2022 on both 31 Marches asked about.
    return Figures{{"",
                    {{"cla_31_march", "1"},
                     {"three_plus_placements", placements},
                     {"three_plus_pct", placements == "1" ? "100.0" : "0.0"},
                     {"under_16_in_care_2_5_years", "1"},
                     {"same_carer_2_years", same_carer},
                     {"same_carer_pct", same_carer == "1" ? "100.0" : "0.0"}}}};
  };
  // As known at 1 July 2024, 31 March 2025 was ahead, and A's forecast then (H1 since June 2022,
  // two years by then) is not kept: the fold of what was known then gives it.
  EXPECT_EQ(Report(*store_, KnownAt(2025, At(2024, 7, 1))), figures("0", "1"));
  // As known at 1 December 2024: H1 and H2 in the year, with H2 not yet two years.
  EXPECT_EQ(Report(*store_, KnownAt(2025, At(2024, 12, 1))), figures("0", "0"));
  EXPECT_EQ(Report(*store_, KnownAt(2025, At(2024, 12, 1), true)), figures("0", "0"));
  // As known at 15 April 2025, the day had come: the kept value (two placements) is read.
  EXPECT_EQ(Report(*store_, KnownAt(2025, At(2025, 4, 15))), figures("0", "0"));
  EXPECT_EQ(Report(*store_, KnownAt(2025, At(2025, 4, 15), true)), figures("0", "0"));
  // Since 1 May 2025, and live: three placements.
  EXPECT_EQ(Report(*store_, KnownAt(2025, At(2025, 5, 2))), figures("1", "0"));
  EXPECT_EQ(Report(*store_, Year(2025)), figures("1", "0"));
  // On 31 March 2024, with H1 since June 2022 (under 2 years): its lineage names the care event
  // of that day's placement, not the later ones.
  EXPECT_EQ(Report(*store_, Year(2024)).at("").at("three_plus_placements"), "0");
  EXPECT_EQ(LineageOf(*store_, Year(2024), Cell{}),
            (std::vector<std::string>{"cla_31_march:a0", "cla_31_march:a1"}));
}

}  // namespace
}  // namespace careledger::metrics_offences_test
