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

Fact Care(EventType type, Date on, std::string legal = "", std::string placement = "",
          int recorded_hour = 12) {
  Fact f;
  f.type = type;
  f.event_id = FormatDate(on) + "/" + std::to_string(int(type));
  f.occurred_at = Timestamp{on, Instant{on}, false};
  f.recorded_at = Instant{on} + std::chrono::hours{recorded_hour};
  f.data.legal_status = std::move(legal);
  f.data.placement = std::move(placement);
  return f;
}

// Enters on C2 in foster care, moves to a children's home, goes onto V3 (short breaks, not
// counted), leaves, and re-enters a year later on C1.
std::vector<Fact> EntersMovesShortBreakLeavesReenters() {
  return {
      Care(EventType::kCarePeriodStarted, D(2023, 1, 10), "C2", "U1"),
      Care(EventType::kCarePlacementChanged, D(2023, 3, 1), "", "K2"),
      Care(EventType::kCareLegalStatusChanged, D(2023, 6, 1), "V3"),
      Care(EventType::kCarePeriodEnded, D(2023, 8, 1)),
      Care(EventType::kCarePeriodStarted, D(2024, 2, 1), "C1", "U3"),
  };
}

Timeline Sorted(std::vector<Fact> facts) {
  Timeline t;
  for (auto& f : facts) AddFact(t, std::move(f));
  return t;
}

// The stretches counted as looked after (short breaks left out), copied out of the view.
std::vector<CareSpell> ClaSpells(const Timeline& t) {
  std::vector<CareSpell> out;
  for (auto& s : ResolveChild("c", t).spells) {
    if (!s.short_break) out.push_back(s);
  }
  return out;
}

bool IsLookedAfterAt(const std::vector<CareSpell>& spells, Date d) {
  return std::any_of(spells.begin(), spells.end(),
                     [d](const CareSpell& s) { return s.from <= d && (!s.to || d < *s.to); });
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
  auto spells = ClaSpells(Sorted({Care(EventType::kCarePeriodStarted, D(2024, 1, 1), "C2", "U1"),
                                  Care(EventType::kCarePeriodEnded, D(2024, 3, 31))}));
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
  auto spells = ClaSpells(Sorted({Care(EventType::kCarePeriodStarted, D(2024, 1, 1), "V4", "U3"),
                                  Care(EventType::kCarePeriodEnded, D(2024, 1, 20))}));
  EXPECT_TRUE(spells.empty());
}

TEST(ClaFold, ShortBreakTurningIntoFullCareIsCountedFromTheChange) {
  auto spells = ClaSpells(Sorted({Care(EventType::kCarePeriodStarted, D(2024, 1, 1), "V3", "U3"),
                                  Care(EventType::kCareLegalStatusChanged, D(2024, 2, 15), "C2")}));
  ASSERT_EQ(spells.size(), 1u);
  EXPECT_EQ(spells[0].from, D(2024, 2, 15));
  EXPECT_FALSE(IsLookedAfterAt(spells, D(2024, 2, 14)));
}

TEST(ClaFold, SecondStartWithoutAnEndIsNotCountedTwice) {
  auto spells = ClaSpells(Sorted({Care(EventType::kCarePeriodStarted, D(2024, 1, 1), "C2", "U1"),
                                  Care(EventType::kCarePeriodStarted, D(2024, 2, 1), "C2", "K2")}));
  ASSERT_EQ(spells.size(), 2u);
  EXPECT_EQ(spells[0].to, D(2024, 2, 1));
  EXPECT_EQ(spells[1].from, D(2024, 2, 1));
}

TEST(ClaFold, EndAndReentryOnTheSameDayFollowRecordingOrder) {
  // Both events carry a bare date; the source recorded the end (09:00) before the new start
  // (15:00), so the child is looked after again from that day.
  auto spells =
      ClaSpells(Sorted({Care(EventType::kCarePeriodStarted, D(2024, 1, 1), "C2", "U1"),
                        Care(EventType::kCarePeriodStarted, D(2024, 5, 1), "C1", "K2", 15),
                        Care(EventType::kCarePeriodEnded, D(2024, 5, 1), "", "", 9)}));
  EXPECT_TRUE(IsLookedAfterAt(spells, D(2024, 5, 1)));
  ASSERT_EQ(spells.size(), 2u);
  EXPECT_EQ(spells[1].placement, "K2");
}

TEST(ClaFold, MovesOutsideAnOpenPeriodAreIgnored) {
  auto spells = ClaSpells(Sorted({Care(EventType::kCarePlacementChanged, D(2024, 1, 1), "", "K2"),
                                  Care(EventType::kCareLegalStatusChanged, D(2024, 1, 5), "C2")}));
  EXPECT_TRUE(spells.empty());
}

TEST(ClaFold, FactsSurviveEncodingAndKeysSortInTimelineOrder) {
  Timeline t = Sorted(EntersMovesShortBreakLeavesReenters());
  t.partition = 5;
  Fact registered;
  registered.event_id = "r";
  registered.data.dob = D(2010, 4, 1);
  registered.data.sex = "F";
  registered.data.ethnicity = "WBRI";
  registered.data.prior_formal_outcomes = 2;
  registered.data.at_placement = false;
  registered.data.decided_at = Timestamp{D(2024, 1, 2), Instant{D(2024, 1, 2)}, false};
  registered.sequence = 77;
  AddFact(t, registered);
  for (size_t i = 0; i < t.facts.size(); ++i) {
    Fact a;
    int32_t partition = 0;
    ASSERT_TRUE(DecodeFact(EncodeFact(t.facts[i], 5), a, partition).ok());
    EXPECT_EQ(partition, 5);
    const Fact& b = t.facts[i];
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.event_id, b.event_id);
    EXPECT_EQ(a.occurred_at.instant, b.occurred_at.instant);
    EXPECT_EQ(a.recorded_at, b.recorded_at);
    EXPECT_EQ(a.sequence, b.sequence);
    EXPECT_EQ(a.data.placement, b.data.placement);
    EXPECT_EQ(a.data.legal_status, b.data.legal_status);
    EXPECT_EQ(a.data.dob, b.data.dob);
    EXPECT_EQ(a.data.sex, b.data.sex);
    EXPECT_EQ(a.data.prior_formal_outcomes, b.data.prior_formal_outcomes);
    EXPECT_EQ(a.data.at_placement, b.data.at_placement);
    EXPECT_EQ(a.data.knife_related, b.data.knife_related);
    EXPECT_EQ(a.data.decided_at.has_value(), b.data.decided_at.has_value());
    EXPECT_EQ(CanonicalFact(a, 5), CanonicalFact(b, 5));
    EXPECT_EQ(*ChildOfFactKey(FactKey("child-1", b)), "child-1");
    // RocksDB's byte order of the keys is the timeline's order.
    if (i > 0) {
      EXPECT_LT(FactKey("c", t.facts[i - 1]), FactKey("c", b));
    }
  }
  Fact f;
  int32_t partition = 0;
  EXPECT_FALSE(DecodeFact("garbage", f, partition).ok());
  EXPECT_FALSE(ChildOfFactKey("cla\0x").has_value());
}

TEST(ClaFold, FactKeysKeepChildIdsOfEveryLengthWhole) {
  Fact f = Care(EventType::kCarePeriodStarted, D(2023, 1, 10), "C2", "U1");
  // 255 and 256 were one child when the length was a single byte (256 wrapped to 0), and
  // 65,536 wraps a two-byte length as well.
  for (size_t n : {size_t{1}, size_t{127}, size_t{128}, size_t{255}, size_t{256}, size_t{65536}}) {
    SCOPED_TRACE(n);
    std::string a(n, 'x');
    std::string b = a;
    b.back() = 'y';
    EXPECT_EQ(ChildOfFactKey(FactKey(a, f)), std::optional<std::string_view>(a));
    EXPECT_EQ(ChildOfFactKey(FactKeyPrefix(b)), std::optional<std::string_view>(b));
    EXPECT_TRUE(FactKey(a, f).starts_with(FactKeyPrefix(a)));
    // A child's prefix scan never meets a fact of another child, however the ids relate.
    for (const std::string& other : {b, a + "x", a.substr(0, n - 1), std::string(n + 256, 'x')}) {
      EXPECT_FALSE(FactKey(other, f).starts_with(FactKeyPrefix(a))) << other.size();
      EXPECT_NE(ChildOfFactKey(FactKey(other, f)), std::optional<std::string_view>(a));
    }
  }
  // Under 128 bytes the key is what the former single length byte made it: stores keep theirs.
  EXPECT_EQ(FactKeyPrefix("child-1"), std::string("fact\0\x07", 6) + "child-1");
  EXPECT_EQ(FactKeyPrefix(std::string(127, 'x')),
            std::string("fact\0\x7f", 6) + std::string(127, 'x'));
  EXPECT_EQ(FactKeyPrefix(std::string(300, 'x')).substr(5, 2), std::string("\xac\x02", 2));
  // A key cut inside its id is nobody's.
  std::string cut = FactKeyPrefix(std::string(300, 'x'));
  cut.resize(cut.size() - 1);
  EXPECT_FALSE(ChildOfFactKey(cut).has_value());
}

TEST(ClaFold, SourceKeySurvivesEncodingAndAStoreOfTheFormerFormatIsStillRead) {
  Fact f = Care(EventType::kCarePeriodEnded, D(2023, 8, 1));
  f.source_key = "ssda903:care.period_ended:c:2023-01-10";
  f.data.remanded_to = "bail";
  Fact back;
  int32_t partition = 0;
  ASSERT_TRUE(DecodeFact(EncodeFact(f, 2), back, partition).ok());
  EXPECT_EQ(back.source_key, f.source_key);
  EXPECT_EQ(back.data.remanded_to, "bail");
  // Format 4, written before remanded_to: the same bytes without it (its u32 length, at the end).
  f.source_key.clear();
  f.data.remanded_to.clear();
  std::string v4 = EncodeFact(f, 2);
  v4[0] = 4;
  v4.resize(v4.size() - 4);
  back.data.remanded_to = "left over";
  ASSERT_TRUE(DecodeFact(v4, back, partition).ok());
  EXPECT_EQ(back.data.remanded_to, "");
  EXPECT_EQ(CanonicalFact(back, 2), CanonicalFact(f, 2));
  // Format 3, written before source_key: format 4 without it.
  // format, partition, type, then event_id and supersedes with their u32 lengths
  size_t supersedes_end = 1 + 4 + 1 + 4 + f.event_id.size() + 4;
  std::string v3 = v4;
  v3[0] = 3;
  v3.erase(supersedes_end, 4);  // the empty source_key's length
  ASSERT_TRUE(DecodeFact(v3, back, partition).ok());
  EXPECT_EQ(back.event_id, f.event_id);
  EXPECT_EQ(back.source_key, "");
  EXPECT_EQ(CanonicalFact(back, 2), CanonicalFact(f, 2));
}

// Versions of one record (a return's row re-extracted): the latest recorded counts, whatever
// order they arrived in; as known before the newer one arrived, the older one counts.
TEST(ClaFold, TheLatestVersionOfARecordCountsWhateverTheArrivalOrder) {
  auto versioned = [](Fact f, std::string version, int recorded_day, uint64_t sequence) {
    f.source_key = f.event_id;
    f.event_id += "@" + version;
    f.recorded_at = Instant{D(2024, 6, recorded_day)};
    f.sequence = sequence;
    f.ingested_at = Instant{D(2024, 6, recorded_day)} + std::chrono::hours{1};
    return f;
  };
  Fact start = Care(EventType::kCarePeriodStarted, D(2023, 1, 10), "C2", "U1");
  // The first extract says the period ended on 1 August 2023; a re-extract corrects it to
  // 1 September.
  Fact ended = Care(EventType::kCarePeriodEnded, D(2023, 8, 1));
  Fact corrected = Care(EventType::kCarePeriodEnded, D(2023, 9, 1));
  corrected.event_id = ended.event_id;  // the same row of the return
  std::vector<Fact> facts = {start, versioned(ended, "a", 1, 2), versioned(corrected, "b", 20, 3)};
  std::mt19937 rng(11);
  for (int i = 0; i < 6; ++i) {
    std::shuffle(facts.begin(), facts.end(), rng);
    Timeline t = Sorted(facts);
    auto spells = ClaSpells(t);
    ASSERT_EQ(spells.size(), 1u);
    EXPECT_EQ(spells[0].to, D(2023, 9, 1));
    // As known on 10 June, before the re-extract.
    auto then = ResolveChild("c", t, Instant{D(2024, 6, 10)}).spells;
    ASSERT_EQ(then.size(), 1u);
    EXPECT_EQ(then[0].to, D(2023, 8, 1));
  }
  // An older extract ingested after a newer one does not win: recorded_at orders versions.
  facts = {start, versioned(corrected, "b", 20, 2), versioned(ended, "a", 1, 3)};
  auto spells = ClaSpells(Sorted(facts));
  ASSERT_EQ(spells.size(), 1u);
  EXPECT_EQ(spells[0].to, D(2023, 9, 1));
}

}  // namespace
}  // namespace careledger
