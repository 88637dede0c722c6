// Test-only: hand-written events folded into a real store the way ingest does, and the figures
// read back. Shared by the metric fixture tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "careledger/projections.h"

namespace careledger::test {

// One envelope as JSON. `on` is an RFC 3339 date or date-time; recorded one hour after it
// (or at noon on a bare date) unless `recorded` is given. `data` is the body of "data":{...}.
inline std::string Ev(const std::string& id, const std::string& type, const std::string& child,
                      const std::string& on, const std::string& data,
                      const std::string& recorded = "", const std::string& supersedes = "") {
  std::string rec = recorded;
  if (rec.empty()) rec = on.size() == 10 ? on + "T12:00:00Z" : on;
  std::string out = R"({"event_id":")" + id + R"(","type":")" + type + R"(","schema_version":)" +
                    (type == "missing.reported" ? "2" : "1") + R"(,"source":"test","child_id":")" +
                    child + R"(","occurred_at":")" + on + R"(","recorded_at":")" + rec + "\"";
  if (!supersedes.empty()) out += R"(,"supersedes":")" + supersedes + "\"";
  return out + R"(,"data":{)" + data + "}}";
}

// Stamps each batch with the store's own clock reading for it, as ingest does (the log's
// records carry it, so a rebuild from the log sees the same stamps).
inline constexpr Instant kBatchClock = Instant::min();

// Folds lines into the store through the Projector, `batch_size` at a time, stamping every
// batch as ingested at `ingested_at` (for --as-known-at tests). Fails the test on bad input.
inline void Fold(EventStore& store, const std::vector<std::string>& lines,
                 Instant ingested_at = Instant{}, size_t batch_size = 1000) {
  EnvelopeParser parser(
      ParserOptions{.now = Instant{std::chrono::sys_days{std::chrono::year{2100} / 1 / 1}}});
  Projector projector(store);
  for (size_t i = 0; i < lines.size(); i += batch_size) {
    size_t n = std::min(batch_size, lines.size() - i);
    std::vector<Envelope> envs(n);
    std::vector<AcceptedEvent> accepted;
    auto batch = store.NewBatch();
    for (size_t k = 0; k < n; ++k) {
      auto s = parser.Parse(lines[i + k], envs[k]);
      ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << lines[i + k];
      uint64_t seq = batch.Append(envs[k].event_id, envs[k].child_id, envs[k].occurred_at.date,
                                  {"t", 0}, int64_t(store.next_sequence() + k), lines[i + k]);
      accepted.push_back(
          {&envs[k], seq, 0, ingested_at == kBatchClock ? batch.ingested_at() : ingested_at});
    }
    ASSERT_TRUE(projector.Apply(accepted, batch).ok());
    ASSERT_TRUE(store.Write(batch).ok());
  }
}

// A report as {row groups joined by "|" → {measure → rendered figure (exact, 1 decimal)}}.
using Figures = std::map<std::string, std::map<std::string, std::string>>;

inline Figures Report(const EventStore& store, MetricQuery q) {
  if (q.today == Date{}) q.today = std::chrono::sys_days{std::chrono::year{2026} / 11 / 23};
  auto table = RunMetric(store, q);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  Figures out;
  if (!table.ok()) return out;
  for (const auto& row : table->rows) {
    std::string key;
    for (const auto& g : row.groups) key += (key.empty() ? "" : "|") + g;
    for (size_t i = 0; i < row.values.size(); ++i) {
      const Figure& f = row.values[i];
      std::string text;
      if (f.value) {
        char buf[64];
        if (f.kind == Figure::Kind::kCount) {
          std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(*f.value));
        } else {
          std::snprintf(buf, sizeof buf, "%.1f", *f.value);
        }
        text = buf;
      }
      out[key][table->measures[i]] = text;
    }
  }
  return out;
}

inline Date Day(int y, unsigned m, unsigned d) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

}  // namespace careledger::test
