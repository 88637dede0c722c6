// Helpers shared by the population metric tests (metrics_population_test.cc,
// metrics_population_kept_test.cc, metrics_population_cohorts_test.cc): one builder per event type,
// queries and columns, the MetricPopulation fixture, and the criminalisation and caseload feeds.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <thread>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger::metrics_population_test {

using test::Day;
using test::Ev;
using test::Fold;
using test::Report;

using Column = std::map<std::string, std::string>;
using Lines = std::vector<std::string>;

inline std::string Reg(const std::string& child, const std::string& dob,
                       const std::string& sex = "M", const std::string& ethnicity = "WBRI") {
  return Ev(child + ".reg", "child.registered", child, dob,
            R"("dob":")" + dob + R"(","sex":")" + sex + R"(","ethnicity":")" + ethnicity + "\"");
}

inline std::string Start(const std::string& id, const std::string& child, const std::string& on,
                         const std::string& legal_status, const std::string& placement,
                         const std::string& provider = "PR1", bool out_of_area = false,
                         const std::string& recorded = "", const std::string& supersedes = "") {
  return Ev(id, "care.period_started", child, on,
            R"("legal_status":")" + legal_status + R"(","placement":")" + placement +
                R"(","provider":")" + provider + R"(","out_of_area":)" +
                (out_of_area ? "true" : "false"),
            recorded, supersedes);
}

inline std::string End(const std::string& id, const std::string& child, const std::string& on,
                       const std::string& recorded = "") {
  return Ev(id, "care.period_ended", child, on, R"("reason":"E8")", recorded);
}

inline std::string Contact(const std::string& id, const std::string& child, const std::string& on,
                           const std::string& in_touch, const std::string& activity,
                           const std::string& accommodation) {
  return Ev(id, "care_leaver.contact_recorded", child, on,
            R"("in_touch":")" + in_touch + R"(","activity":")" + activity +
                R"(","accommodation":")" + accommodation + "\"");
}

inline std::string Court(const std::string& id, const std::string& child,
                         const std::string& offence, const std::string& decided,
                         const std::string& disposal) {
  return Ev(id, "court.outcome_recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

inline std::string Police(const std::string& id, const std::string& child,
                          const std::string& offence, const std::string& decided,
                          const std::string& disposal) {
  return Ev(id, "outcome.recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

inline std::string Case(const std::string& id, const std::string& type, const std::string& child,
                        const std::string& on, const std::string& case_id,
                        const std::string& intervention) {
  return Ev(id, type, child, on,
            R"("case_id":")" + case_id + R"(","intervention":")" + intervention + "\"");
}

inline MetricQuery At(const std::string& metric, Date at, std::vector<std::string> by = {}) {
  MetricQuery q;
  q.metric = metric;
  q.at = at;
  q.by = std::move(by);
  return q;
}

inline MetricQuery Over(const std::string& metric, Date from, Date to,
                        std::vector<std::string> by = {}) {
  MetricQuery q;
  q.metric = metric;
  q.period = {from, to};
  q.by = std::move(by);
  return q;
}

inline Instant On(int y, unsigned m, unsigned d) {
  return Instant{Day(y, m, d)};
}

// One measure of every row: row key → figure.
inline Column Col(const test::Figures& figures, const std::string& measure = "value") {
  Column out;
  for (const auto& [key, measures] : figures) {
    auto it = measures.find(measure);
    out[key] = it == measures.end() ? "absent" : it->second;
  }
  return out;
}

inline std::vector<std::pair<std::string, std::string>> Pairs(
    const std::vector<LineageEntry>& entries) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : entries) out.emplace_back(e.measure, e.event_id);
  return out;
}

class MetricPopulation : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore("s");
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<EventStore> OpenStore(const std::string& name) {
    auto s = EventStore::Open({.path = dir_ / name, .sync = false});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // CLA at d, no breakdown.
  std::string ClaAt(Date d) { return Col(Report(*store_, At("cla", d)))[""]; }

  test::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

// ---- M5 -----------------------------------------------------------------------------------------
// Year ending 2025-03-31: the 12 months are 2024-04-01 .. 2025-03-31.
inline Lines CriminalisationFeed() {
  return {
      // R1 (15): looked after since 2023; youth caution 2024-07-01 and a fine 2025-02-01.
      Reg("R1", "2010-01-01"),
      Start("r1.s", "R1", "2023-01-01", "C2", "U1"),
      Ev("r1.off1", "offence.recorded", "R1", "2024-06-01",
         R"("offence_id":"r1-o1","offence_group":"theft_handling","at_placement":false)"),
      Police("r1.out1", "R1", "r1-o1", "2024-07-01", "youth_caution"),
      Court("r1.out2", "R1", "r1-o2", "2025-02-01", "fine"),
      // R2 (14): looked after from 2024-04-01, exactly the 12 months. No offence.
      Reg("R2", "2011-01-01"),
      Start("r2.s", "R2", "2024-04-01", "C2", "U1"),
      // R3 (14): from 2024-04-02, a day short; referral order 2024-10-01.
      Reg("R3", "2011-01-01"),
      Start("r3.s", "R3", "2024-04-02", "C2", "U1"),
      Court("r3.out", "R3", "r3-o", "2024-10-01", "referral_order"),
      // R4 (15): out of care on 2024-09-01 only (a one-day gap); conditional caution 2025-01-10.
      Reg("R4", "2010-01-01"),
      Start("r4.s", "R4", "2023-01-01", "C2", "U1"),
      End("r4.e", "R4", "2024-09-01"),
      Start("r4.s2", "R4", "2024-09-02", "C2", "U1"),
      Police("r4.out", "R4", "r4-o", "2025-01-10", "youth_conditional_caution"),
      // R5 (15): V3 from 2024-11-01 to 2024-11-15 inside the year; youth caution 2024-12-01.
      Reg("R5", "2010-01-01"),
      Start("r5.s", "R5", "2023-01-01", "C2", "U1"),
      Ev("r5.v3", "care.legal_status_changed", "R5", "2024-11-01", R"("legal_status":"V3")"),
      Ev("r5.c2", "care.legal_status_changed", "R5", "2024-11-15", R"("legal_status":"C2")"),
      Police("r5.out", "R5", "r5-o", "2024-12-01", "youth_caution"),
      // R6: 9 on 2025-03-31 (10th birthday 2025-04-01): too young.
      Reg("R6", "2015-04-01"),
      Start("r6.s", "R6", "2020-01-01", "C2", "U1"),
      // R7: 10th birthday on 2025-03-31 itself: in the cohort.
      Reg("R7", "2015-03-31"),
      Start("r7.s", "R7", "2020-01-01", "C2", "U1"),
      // R13 (15): one period ends 2024-09-01 and the next starts the same day (the end recorded
      // first): continuous, in the cohort.
      Reg("R13", "2010-01-01"),
      Start("r13.s", "R13", "2023-01-01", "C2", "U1"),
      End("r13.e", "R13", "2024-09-01", "2024-09-01T10:00:00Z"),
      Start("r13.s2", "R13", "2024-09-01", "C2", "U1", "PR1", false, "2024-09-01T11:00:00Z"),
      // R14 (15): looked after 2024-03-01 to 2025-03-31, so not on 31 March itself: not in the
      // cohort.
      Reg("R14", "2010-01-01"),
      Start("r14.s", "R14", "2024-03-01", "C2", "U1"),
      End("r14.e", "R14", "2025-03-31"),
      // Children never looked after (R8 .. R12), aged 16 unless said.
      Reg("R8", "2009-01-01"),
      Court("r8.out", "R8", "r8-o", "2024-05-01", "fine"),
      // R9: community resolution is informal, not formal.
      Reg("R9", "2009-01-01"),
      Police("r9.out", "R9", "r9-o", "2024-08-01", "community_resolution_police"),
      // R10, R11: decided the day after and the day before the year.
      Reg("R10", "2009-01-01"),
      Court("r10.out", "R10", "r10-o", "2025-04-01", "fine"),
      Reg("R11", "2009-01-01"),
      Court("r11.out", "R11", "r11-o", "2024-03-31", "fine"),
      // R12: 18 on 2025-03-31 (17 when fined on 2024-06-01): outside 10-17, since age is
      // judged on 31 March as for the OC2 cohort (one date for numerator and denominator).
      Reg("R12", "2007-01-01"),
      Court("r12.out", "R12", "r12-o", "2024-06-01", "fine"),
  };
}

inline MetricQuery Criminalisation2025() {
  MetricQuery q = At("criminalisation", Day(2025, 3, 31));
  // The year ending 31 March 2025 uses the mid-2024 estimate.
  q.population = [](int year) -> std::optional<AreaPopulation> {
    if (year == 2024) return AreaPopulation{2024, 1000, 2300};
    return std::nullopt;
  };
  return q;
}

// ---- M9 -----------------------------------------------------------------------------------------
inline Lines CaseloadFeed() {
  return {
      // S1: looked after from 2024-01-01; diversion 2024-01-01..2024-12-31, court order from
      // 2025-01-01.
      Reg("S1", "2010-01-01"),
      Start("s1.s", "S1", "2024-01-01", "C2", "U1"),
      Case("s1.c0o", "yjs.case_opened", "S1", "2024-01-01", "c0", "diversion"),
      Case("s1.c0c", "yjs.case_closed", "S1", "2024-12-31", "c0", "diversion"),
      Case("s1.c1o", "yjs.case_opened", "S1", "2025-01-01", "c1", "court_order"),
      // S2: care leaver (looked after 2021-01-01..2025-01-01, 18 on 2025-01-01); court order
      // from 2025-02-01.
      Reg("S2", "2007-01-01"),
      Start("s2.s", "S2", "2021-01-01", "C2", "U1"),
      End("s2.e", "S2", "2025-01-01"),
      Case("s2.c2o", "yjs.case_opened", "S2", "2025-02-01", "c2", "court_order"),
      // S3..S5: never looked after.
      Reg("S3", "2009-01-01"),
      Case("s3.c3o", "yjs.case_opened", "S3", "2025-05-01", "c3", "court_order"),
      Case("s3.c3c", "yjs.case_closed", "S3", "2025-06-01", "c3", "court_order"),
      Reg("S4", "2009-01-01"),
      Case("s4.c4o", "yjs.case_opened", "S4", "2025-06-01", "c4", "oocd"),
      Reg("S5", "2009-01-01"),
      Case("s5.c5o", "yjs.case_opened", "S5", "2025-06-02", "c5", "prevention"),
  };
}

}  // namespace careledger::metrics_population_test
