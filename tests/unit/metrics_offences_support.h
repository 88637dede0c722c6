// Helpers shared by the offence, missing and call-out metric tests (metrics_offences_test.cc,
// metrics_missing_test.cc, metrics_offence_profile_test.cc, metrics_disproportionality_test.cc):
// one builder per event type, dates, queries, lineage read back and the MetricsOffences fixture.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "careledger/reporting.h"
#include "metrics_support.h"
#include "test_support.h"

namespace careledger::metrics_offences_test {

using test::Day;
using test::Ev;
using test::Figures;
using test::Fold;
using test::Report;

inline std::string Registered(const std::string& id, const std::string& child,
                              const std::string& dob, const std::string& sex,
                              const std::string& ethnicity, const std::string& extra = "") {
  return Ev(
      id, "child.registered", child, "2020-01-01",
      R"("dob":")" + dob + R"(","sex":")" + sex + R"(","ethnicity":")" + ethnicity + "\"" + extra);
}

inline std::string CareStarted(const std::string& id, const std::string& child,
                               const std::string& on, const std::string& home) {
  return Ev(id, "care.period_started", child, on,
            R"("legal_status":"C2","placement":"U1","home_id":")" + home + "\"");
}

inline std::string CareEnded(const std::string& id, const std::string& child,
                             const std::string& on) {
  return Ev(id, "care.period_ended", child, on, R"("reason":"E13")");
}

inline std::string OffenceRecorded(const std::string& id, const std::string& child,
                                   const std::string& offence, const std::string& on,
                                   const std::string& group, bool at_placement = false) {
  return Ev(id, "offence.recorded", child, on,
            R"("offence_id":")" + offence + R"(","offence_group":")" + group +
                R"(","at_placement":)" + (at_placement ? "true" : "false"));
}

// A police outcome with a disposal.
inline std::string Disposal(const std::string& id, const std::string& child,
                            const std::string& offence, const std::string& decided,
                            const std::string& disposal) {
  return Ev(id, "outcome.recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

// A police outcome as a Home Office outcome code only.
inline std::string HomeOffice(const std::string& id, const std::string& child,
                              const std::string& offence, const std::string& decided, int code) {
  return Ev(id, "outcome.recorded", child, decided,
            R"("offence_id":")" + offence + R"(","home_office_outcome":)" + std::to_string(code) +
                R"(,"decided_at":")" + decided + "\"");
}

inline std::string Court(const std::string& id, const std::string& child,
                         const std::string& offence, const std::string& decided,
                         const std::string& disposal) {
  return Ev(id, "court.outcome_recorded", child, decided,
            R"("offence_id":")" + offence + R"(","disposal":")" + disposal + R"(","decided_at":")" +
                decided + "\"");
}

// An offence committed on `on` and given `disposal` on `decided`, as two events.
inline void OffenceWith(std::vector<std::string>& lines, const std::string& child,
                        const std::string& offence, const std::string& on,
                        const std::string& decided, const std::string& disposal,
                        const std::string& group = "theft_handling") {
  lines.push_back(OffenceRecorded(offence + "-o", child, offence, on, group));
  lines.push_back(Disposal(offence + "-d", child, offence, decided, disposal));
}

inline std::string Reported(const std::string& id, const std::string& child, const std::string& at,
                            const std::string& episode, const std::string& from_home = "") {
  return Ev(id, "missing.reported", child, at,
            R"("episode_id":")" + episode +
                R"(","category":"missing","risk":"medium","reported_by":"police")" +
                (from_home.empty() ? "" : R"(,"from_home_id":")" + from_home + "\""));
}

inline std::string Returned(const std::string& id, const std::string& child, const std::string& at,
                            const std::string& episode) {
  return Ev(id, "missing.returned", child, at, R"("episode_id":")" + episode + "\"");
}

inline std::string Interview(const std::string& id, const std::string& child, const std::string& at,
                             const std::string& episode, bool offered, bool accepted, bool held) {
  return Ev(id, "missing.return_interview", child, at,
            R"("episode_id":")" + episode + R"(","offered":)" + (offered ? "true" : "false") +
                R"(,"accepted":)" + (accepted ? "true" : "false") +
                (held ? R"(,"held_at":")" + at + "\"" : ""));
}

inline std::string Callout(const std::string& id, const std::string& home, const std::string& on,
                           const std::string& reason) {
  return Ev(id, "placement.police_callout", "home-" + home, on,
            R"("home_id":")" + home + R"(","reason":")" + reason + "\"");
}

inline Instant At(int y, unsigned m, unsigned d) {
  return Instant{std::chrono::sys_days{Day(y, m, d)}};
}

inline MetricQuery Query(const std::string& metric, Date from, Date to,
                         std::vector<std::string> by = {}) {
  MetricQuery q;
  q.metric = metric;
  q.period = {from, to};
  q.by = std::move(by);
  return q;
}

// A cell's lineage as "measure:event_id", in order.
inline std::vector<std::string> LineageOf(const EventStore& store, const MetricQuery& q,
                                          const Cell& cell) {
  auto lineage = RunLineage(store, q, cell);
  EXPECT_TRUE(lineage.ok()) << lineage.status().ToString();
  std::vector<std::string> got;
  if (!lineage.ok()) return got;
  for (const auto& e : *lineage) got.push_back(e.measure + ":" + e.event_id);
  return got;
}

class MetricsOffences : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = EventStore::Open({.path = dir_ / "s", .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  test::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

}  // namespace careledger::metrics_offences_test
