// Test-only: hand-written events folded into a real store the way ingest does, and the figures
// read back. Shared by the metric fixture tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "careledger/projections.h"
#include "ingest_builder.h"

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

// Folds lines into the store as ingest does (ingest_builder.h), `batch_size` at a time,
// stamping every batch as ingested at `ingested_at` (for --as-known-at tests). Fails the test
// on bad input.
inline void Fold(EventStore& store, const std::vector<std::string>& lines,
                 Instant ingested_at = Instant{}, size_t batch_size = 1000) {
  IngestRun run;
  run.batch_size = batch_size;
  if (ingested_at != kBatchClock) run.stamp = ingested_at;
  auto counts = IngestLines(store, lines, run);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  ASSERT_EQ(counts->rejected, 0u) << "a line was refused";
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
        } else if (f.kind == Figure::Kind::kPerThousand) {
          std::snprintf(buf, sizeof buf, "%.2f", *f.value);
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
