#include "care_fixture.h"

#include <algorithm>
#include <random>

namespace careledger::test {

namespace {

using std::chrono::days;

const char* const kLegal[] = {"C2", "C2", "C1", "V2", "E1", "V3", "V4"};
const char* const kPlacement[] = {"U1", "U3", "K2", "R1", "P1"};

std::string Envelope(const std::string& id, const std::string& type, const std::string& child,
                     Date on, const std::string& data) {
  return R"({"event_id":")" + id + R"(","type":")" + type +
         R"(","schema_version":1,"source":"lcs","child_id":")" + child + R"(","occurred_at":")" +
         FormatDate(on) + R"(","recorded_at":")" +
         FormatInstant(Instant{on + days{1}} + std::chrono::hours{10}) + R"(","data":{)" + data +
         "}}";
}

bool IsShortBreak(const std::string& ls) {
  return ls == "V3" || ls == "V4";
}

}  // namespace

CareFixture BuildCareFixture(int children, uint64_t seed, std::string id_prefix) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const Date window_start{std::chrono::year{2021} / 1 / 1};
  const Date window_end{std::chrono::year{2025} / 1 / 1};
  CareFixture f;
  int next_id = 0;
  auto emit = [&](const std::string& type, const std::string& child, Date on,
                  const std::string& data) {
    std::string id = id_prefix + "-" + std::to_string(next_id++);
    f.event_ids.push_back(id);
    f.lines.push_back(Envelope(id, type, child, on, data));
  };
  for (int c = 0; c < children; ++c) {
    ChildPlan plan;
    plan.child_id = "K" + std::to_string(seed) + "x" + std::to_string(c);
    emit("child.registered", plan.child_id, window_start,
         R"("dob":"2010-01-01","sex":"M","ethnicity":"WBRI")");
    Date cursor = window_start + days{uniform(0, 600)};
    int periods = uniform(1, 3);
    for (int p = 0; p < periods && cursor < window_end; ++p) {
      CarePeriodPlan period;
      period.start = cursor;
      period.legal_status = kLegal[uniform(0, 6)];
      period.placement = kPlacement[uniform(0, 4)];
      int length = uniform(20, 700);
      Date end = period.start + days{length};
      int changes = uniform(0, 3);
      Date at = period.start;
      for (int k = 0; k < changes; ++k) {
        at += days{uniform(1, std::max(1, length / 4))};
        if (at >= end) break;
        CareChange change{at, "", ""};
        if (uniform(0, 2) == 0) {
          change.legal_status = kLegal[uniform(0, 6)];
        } else {
          change.placement = kPlacement[uniform(0, 4)];
        }
        period.changes.push_back(change);
      }
      if (end < window_end) period.end = end;
      plan.periods.push_back(period);
      cursor = end + days{uniform(1, 200)};
      if (!period.end) break;
    }
    for (const auto& period : plan.periods) {
      emit("care.period_started", plan.child_id, period.start,
           R"("legal_status":")" + period.legal_status + R"(","placement":")" + period.placement +
               R"(","provider":"PR1","out_of_area":false)");
      for (const auto& ch : period.changes) {
        if (!ch.legal_status.empty()) {
          emit("care.legal_status_changed", plan.child_id, ch.on,
               R"("legal_status":")" + ch.legal_status + R"(")");
        } else {
          emit("care.placement_changed", plan.child_id, ch.on,
               R"("placement":")" + ch.placement + R"(","reason":"CARPL")");
        }
      }
      if (period.end) {
        emit("care.period_ended", plan.child_id, *period.end, R"("reason":"E4A")");
      }
    }
    f.children.push_back(std::move(plan));
  }
  // Arrival order is unrelated to time: the pipeline must not depend on it.
  std::vector<size_t> order(f.lines.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::string> lines, ids;
  for (size_t i : order) {
    lines.push_back(std::move(f.lines[i]));
    ids.push_back(std::move(f.event_ids[i]));
  }
  f.lines = std::move(lines);
  f.event_ids = std::move(ids);
  return f;
}

std::map<std::string, int64_t> CareFixture::ExpectedClaByPlacement(Date at) const {
  std::map<std::string, int64_t> out;
  for (const auto& child : children) {
    for (const auto& p : child.periods) {
      if (at < p.start || (p.end && at >= *p.end)) continue;
      std::string legal = p.legal_status, placement = p.placement;
      for (const auto& ch : p.changes) {
        if (ch.on > at) break;
        if (!ch.legal_status.empty()) legal = ch.legal_status;
        if (!ch.placement.empty()) placement = ch.placement;
      }
      if (!IsShortBreak(legal)) ++out[placement];
    }
  }
  return out;
}

int64_t CareFixture::ExpectedCla(Date at) const {
  int64_t n = 0;
  for (const auto& [placement, count] : ExpectedClaByPlacement(at)) n += count;
  return n;
}

std::string CareFixture::Jsonl() const {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string CareFixture::KeyedForKcat() const {
  std::string out;
  for (const auto& l : lines) {
    auto pos = l.find(R"("child_id":")") + 12;
    out += l.substr(pos, l.find('"', pos) - pos) + "\t" + l + "\n";
  }
  return out;
}

}  // namespace careledger::test
