// The CLA fold on hand-made timelines: every expected figure below is worked out by hand from
// the dates in the test, not by running the code.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "careledger/projections.h"

namespace careledger {
namespace {

using std::chrono::April;
using std::chrono::day;
using std::chrono::year;

Date D(int y, unsigned m, unsigned d) {
  return Date{year{y} / std::chrono::month{m} / day{d}};
}

CareFact Fact(EventType type, Date on, std::string legal = "", std::string placement = "",
              int recorded_hour = 12) {
  CareFact f;
  f.type = type;
  f.occurred_at = Timestamp{on, Instant{on}, false};
  f.recorded_at = Instant{on} + std::chrono::hours{recorded_hour};
  f.id_fingerprint = Fingerprint(FormatDate(on) + std::to_string(int(type)));
  f.legal_status = std::move(legal);
  f.placement = std::move(placement);
  return f;
}

// Enters on C2 in foster care, moves to a children's home, goes onto V3 (short breaks, not
// counted), leaves, and re-enters a year later on C1.
std::vector<CareFact> EntersMovesShortBreakLeavesReenters() {
  return {
      Fact(EventType::kCarePeriodStarted, D(2023, 1, 10), "C2", "U1"),
      Fact(EventType::kCarePlacementChanged, D(2023, 3, 1), "", "K2"),
      Fact(EventType::kCareLegalStatusChanged, D(2023, 6, 1), "V3"),
      Fact(EventType::kCarePeriodEnded, D(2023, 8, 1)),
      Fact(EventType::kCarePeriodStarted, D(2024, 2, 1), "C1", "U3"),
  };
}

ChildState Sorted(std::vector<CareFact> facts) {
  std::sort(facts.begin(), facts.end(), TimelineBefore);
  ChildState child;
  child.care = std::move(facts);
  return child;
}

TEST(ClaFold, SpellsOfATimelineWithAMoveAShortBreakAndAReentry) {
  auto spells = ClaSpells(Sorted(EntersMovesShortBreakLeavesReenters()));
  ASSERT_EQ(spells.size(), 3u);
  EXPECT_EQ(spells[0].from, D(2023, 1, 10));
  EXPECT_EQ(spells[0].to, D(2023, 3, 1));
  EXPECT_EQ(spells[0].placement, "U1");
  EXPECT_EQ(spells[0].legal_status, "C2");
  EXPECT_EQ(spells[1].from, D(2023, 3, 1));
  EXPECT_EQ(spells[1].to, D(2023, 6, 1));  // V3 from 1 June: no longer counted
  EXPECT_EQ(spells[1].placement, "K2");
  EXPECT_EQ(spells[2].from, D(2024, 2, 1));
  EXPECT_FALSE(spells[2].to.has_value());
  EXPECT_EQ(spells[2].legal_status, "C1");
  EXPECT_EQ(spells[2].placement, "U3");
}

TEST(ClaFold, LookedAfterAtEachDateOfTheTimeline) {
  auto spells = ClaSpells(Sorted(EntersMovesShortBreakLeavesReenters()));
  struct Case {
    Date at;
    bool cla;
  } cases[] = {
      {D(2023, 1, 9), false},  {D(2023, 1, 10), true},  // counted from the day care starts
      {D(2023, 2, 28), true},  {D(2023, 3, 1), true},  {D(2023, 5, 31), true},
      {D(2023, 6, 1), false},  // on V3
      {D(2023, 7, 31), false}, {D(2023, 8, 1), false}, {D(2024, 1, 31), false},
      {D(2024, 2, 1), true},   {D(2030, 1, 1), true},  // still open
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsLookedAfterAt(spells, c.at), c.cla) << FormatDate(c.at);
  }
}

TEST(ClaFold, PeriodEndingOnADateIsNotCountedOnThatDate) {
  auto spells = ClaSpells(Sorted({Fact(EventType::kCarePeriodStarted, D(2024, 1, 1), "C2", "U1"),
                                  Fact(EventType::kCarePeriodEnded, D(2024, 3, 31))}));
  EXPECT_TRUE(IsLookedAfterAt(spells, D(2024, 3, 30)));
  EXPECT_FALSE(IsLookedAfterAt(spells, D(2024, 3, 31)));
}

TEST(ClaFold, ArrivalOrderDoesNotChangeTheSpells) {
  auto expected = ClaSpells(Sorted(EntersMovesShortBreakLeavesReenters()));
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    auto facts = EntersMovesShortBreakLeavesReenters();
    std::shuffle(facts.begin(), facts.end(), rng);
    auto spells = ClaSpells(Sorted(facts));
    ASSERT_EQ(spells.size(), expected.size());
    for (size_t k = 0; k < spells.size(); ++k) {
      EXPECT_EQ(spells[k].from, expected[k].from);
      EXPECT_EQ(spells[k].to, expected[k].to);
      EXPECT_EQ(spells[k].placement, expected[k].placement);
    }
  }
}

TEST(ClaFold, ShortBreakPeriodIsNeverCounted) {
  auto spells = ClaSpells(Sorted({Fact(EventType::kCarePeriodStarted, D(2024, 1, 1), "V4", "U3"),
                                  Fact(EventType::kCarePeriodEnded, D(2024, 1, 20))}));
  EXPECT_TRUE(spells.empty());
}

TEST(ClaFold, ShortBreakTurningIntoFullCareIsCountedFromTheChange) {
  auto spells = ClaSpells(Sorted({Fact(EventType::kCarePeriodStarted, D(2024, 1, 1), "V3", "U3"),
                                  Fact(EventType::kCareLegalStatusChanged, D(2024, 2, 15), "C2")}));
  ASSERT_EQ(spells.size(), 1u);
  EXPECT_EQ(spells[0].from, D(2024, 2, 15));
  EXPECT_FALSE(IsLookedAfterAt(spells, D(2024, 2, 14)));
}

TEST(ClaFold, SecondStartWithoutAnEndIsNotCountedTwice) {
  auto spells = ClaSpells(Sorted({Fact(EventType::kCarePeriodStarted, D(2024, 1, 1), "C2", "U1"),
                                  Fact(EventType::kCarePeriodStarted, D(2024, 2, 1), "C2", "K2")}));
  ASSERT_EQ(spells.size(), 2u);
  EXPECT_EQ(spells[0].to, D(2024, 2, 1));
  EXPECT_EQ(spells[1].from, D(2024, 2, 1));
}

TEST(ClaFold, EndAndReentryOnTheSameDayFollowRecordingOrder) {
  // Both events carry a bare date; the source recorded the end (09:00) before the new start
  // (15:00), so the child is looked after again from that day.
  auto spells =
      ClaSpells(Sorted({Fact(EventType::kCarePeriodStarted, D(2024, 1, 1), "C2", "U1"),
                        Fact(EventType::kCarePeriodStarted, D(2024, 5, 1), "C1", "K2", 15),
                        Fact(EventType::kCarePeriodEnded, D(2024, 5, 1), "", "", 9)}));
  EXPECT_TRUE(IsLookedAfterAt(spells, D(2024, 5, 1)));
  ASSERT_EQ(spells.size(), 2u);
  EXPECT_EQ(spells[1].placement, "K2");
}

TEST(ClaFold, MovesOutsideAnOpenPeriodAreIgnored) {
  auto spells = ClaSpells(Sorted({Fact(EventType::kCarePlacementChanged, D(2024, 1, 1), "", "K2"),
                                  Fact(EventType::kCareLegalStatusChanged, D(2024, 1, 5), "C2")}));
  EXPECT_TRUE(spells.empty());
}

TEST(ClaFold, ChildStateSurvivesEncoding) {
  ChildState child = Sorted(EntersMovesShortBreakLeavesReenters());
  child.dob = D(2010, 4, 1);
  child.partition = 5;
  child.sex = "F";
  child.ethnicity = "WBRI";
  auto decoded = DecodeChildState(EncodeChildState(child));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->dob, child.dob);
  EXPECT_EQ(decoded->partition, 5);
  EXPECT_EQ(decoded->sex, "F");
  EXPECT_EQ(decoded->ethnicity, "WBRI");
  ASSERT_EQ(decoded->care.size(), child.care.size());
  for (size_t i = 0; i < child.care.size(); ++i) {
    EXPECT_EQ(decoded->care[i].type, child.care[i].type);
    EXPECT_EQ(decoded->care[i].occurred_at.instant, child.care[i].occurred_at.instant);
    EXPECT_EQ(decoded->care[i].recorded_at, child.care[i].recorded_at);
    EXPECT_EQ(decoded->care[i].placement, child.care[i].placement);
    EXPECT_EQ(decoded->care[i].legal_status, child.care[i].legal_status);
  }
  EXPECT_FALSE(DecodeChildState("garbage").ok());
}

}  // namespace
}  // namespace careledger
