// What ingest tells `serve` and /metrics while it runs (consumers.h: IngestMonitor).
#include <algorithm>
#include <mutex>
#include <string>

#include "careledger/consumers.h"

namespace careledger {

void AppendIngestMetrics(const IngestMonitor::Snapshot& snap, PrometheusText& x) {
  x.Family("careledger_events_ingested_total", "counter",
           "Events appended to the log by this process");
  for (const auto& [key, n] : snap.totals.appended_by_type) {
    x.Sample("careledger_events_ingested_total", {{"topic", key.first}, {"type", key.second}},
             double(n));
  }
  x.Family("careledger_dead_letters_total", "counter",
           "Messages this process set aside in the dead-letter store");
  for (RejectKind k : kRejectKinds) {
    const std::string kind(RejectKindName(k));
    auto it = snap.totals.dead_lettered_by_kind.find(kind);
    x.Sample("careledger_dead_letters_total", {{"kind", std::string(kind)}},
             it == snap.totals.dead_lettered_by_kind.end() ? 0 : double(it->second));
  }
  x.Family("careledger_consumer_lag_messages", "gauge",
           "High watermark minus the next offset the store will take");
  for (const auto& l : snap.lag) {
    x.Sample("careledger_consumer_lag_messages",
             {{"topic", l.partition.topic}, {"partition", std::to_string(l.partition.partition)}},
             double(l.lag()));
  }
  x.Family("careledger_batch_write_seconds", "histogram", "Time to write one batch");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < IngestMonitor::kWriteBuckets.size(); ++i) {
    cumulative += snap.write_buckets[i];
    x.Sample("careledger_batch_write_seconds_bucket",
             {{"le", PrometheusText::Number(IngestMonitor::kWriteBuckets[i])}}, double(cumulative));
  }
  cumulative += snap.write_buckets.back();
  x.Sample("careledger_batch_write_seconds_bucket", {{"le", "+Inf"}}, double(cumulative));
  x.Sample("careledger_batch_write_seconds_sum", {}, snap.write_seconds_sum);
  x.Sample("careledger_batch_write_seconds_count", {}, double(cumulative));
  x.Family("careledger_replay_events_total", "counter",
           "Log records gone through by replays this process served");
  x.Sample("careledger_replay_events_total", {}, double(snap.replay_records));
  x.Family("careledger_replay_in_progress", "gauge", "1 while a replay is being served");
  x.Sample("careledger_replay_in_progress", {}, snap.replaying ? 1 : 0);
  x.Family("careledger_replays_total", "counter", "Replays served, by how they ended");
  x.Sample("careledger_replays_total", {{"result", "ok"}}, double(snap.replays_ok));
  x.Sample("careledger_replays_total", {{"result", "failed"}}, double(snap.replays_failed));
}

IngestMonitor::Snapshot IngestMonitor::Read() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void IngestMonitor::Record(const IngestStats& totals, std::vector<PartitionLag> lag,
                           uint64_t batch_size, double write_seconds) {
  std::lock_guard lock(mu_);
  snapshot_.totals = totals;
  snapshot_.lag = std::move(lag);
  snapshot_.last_batch_size = batch_size;
  size_t bucket = 0;
  while (bucket < kWriteBuckets.size() && write_seconds > kWriteBuckets[bucket]) ++bucket;
  ++snapshot_.write_buckets[bucket];
  snapshot_.write_seconds_sum += write_seconds;
}

void IngestMonitor::MarkCaughtUp() {
  std::lock_guard lock(mu_);
  snapshot_.caught_up = true;
  snapshot_.catching_up.clear();
}

void IngestMonitor::CatchingUp(const std::vector<int32_t>& partitions) {
  std::lock_guard lock(mu_);
  auto& c = snapshot_.catching_up;
  c.insert(c.end(), partitions.begin(), partitions.end());
  std::sort(c.begin(), c.end());
  c.erase(std::unique(c.begin(), c.end()), c.end());
}

void IngestMonitor::ReplayStarted() {
  std::lock_guard lock(mu_);
  snapshot_.replaying = true;
}

void IngestMonitor::ReplayFolded(uint64_t records) {
  std::lock_guard lock(mu_);
  snapshot_.replay_records += records;
}

void IngestMonitor::ReplayEnded(bool ok) {
  std::lock_guard lock(mu_);
  snapshot_.replaying = false;
  ++(ok ? snapshot_.replays_ok : snapshot_.replays_failed);
}

}  // namespace careledger
