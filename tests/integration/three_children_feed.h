// Test-only: the hand-written feed of three children that the report, serve and dashboard
// tests share, so that each figure they assert is worked out once, here.
#pragma once

#include <string>

namespace careledger::test {

// One envelope as a JSON line, recorded at noon on the day it occurred.
inline std::string Ev(const std::string& id, const std::string& type, const std::string& child,
                      const std::string& on, const std::string& data) {
  return R"({"event_id":")" + id + R"(","type":")" + type +
         R"(","schema_version":1,"source":"test","child_id":")" + child + R"(","occurred_at":")" +
         on + R"(","recorded_at":")" + on + R"(T12:00:00Z","data":{)" + data + "}}\n";
}

// A (born 2008-05-10) looked after from 2023-01-01 in U1; B (born 2007-02-01) in K2 from
// 2023-06-01 to 2024-02-01; C (born 2009-09-09) never looked after.
// A: theft at the placement on 2024-01-10, community resolution (Home Office 8) on 2024-02-01.
// B: violence on 2024-01-20 (still in care), youth caution on 2024-03-01.
// C: drugs on 2024-02-05, referral order at court on 2024-03-10.
inline std::string ThreeChildrenFeed() {
  return Ev("a0", "child.registered", "A", "2008-05-10",
            R"("dob":"2008-05-10","sex":"F","ethnicity":"WBRI")") +
         Ev("a1", "care.period_started", "A", "2023-01-01",
            R"("legal_status":"C2","placement":"U1","home_id":"H1")") +
         Ev("a2", "offence.recorded", "A", "2024-01-10",
            R"("offence_id":"OA","offence_group":"theft_handling","at_placement":true)") +
         Ev("a3", "outcome.recorded", "A", "2024-02-01",
            R"("offence_id":"OA","home_office_outcome":8,"decided_at":"2024-02-01")") +
         Ev("b0", "child.registered", "B", "2007-02-01",
            R"("dob":"2007-02-01","sex":"M","ethnicity":"BCRB")") +
         Ev("b1", "care.period_started", "B", "2023-06-01",
            R"("legal_status":"C2","placement":"K2","home_id":"H2")") +
         Ev("b2", "care.period_ended", "B", "2024-02-01", R"("reason":"E4A")") +
         Ev("b3", "offence.recorded", "B", "2024-01-20",
            R"("offence_id":"OB","offence_group":"violence_against_person","at_placement":false)") +
         Ev("b4", "outcome.recorded", "B", "2024-03-01",
            R"("offence_id":"OB","disposal":"youth_caution","decided_at":"2024-03-01")") +
         Ev("c0", "child.registered", "C", "2009-09-09",
            R"("dob":"2009-09-09","sex":"M","ethnicity":"WBRI")") +
         Ev("c1", "offence.recorded", "C", "2024-02-05",
            R"("offence_id":"OC","offence_group":"drugs","at_placement":false)") +
         Ev("c2", "court.outcome_recorded", "C", "2024-03-10",
            R"("offence_id":"OC","disposal":"referral_order","decided_at":"2024-03-10")");
}

}  // namespace careledger::test
