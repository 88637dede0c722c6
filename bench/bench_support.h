// Private to bench/: storing a generated feed the way ingest stores it, without Kafka, for the
// benches that start from a store (projections.cc, postgres_peer.cc).
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "careledger/producers.h"
#include "careledger/projections.h"
#include "careledger/store.h"

namespace careledger::bench {

inline double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Prints "what: status" and says true when `s` failed.
inline bool Fail(const Status& s, const char* what) {
  if (s.ok()) return false;
  std::cerr << what << ": " << s.ToString() << "\n";
  return true;
}

// The feed the benches share (the demo's): 100,000 children over the 3 years to `today`, seed
// 42, changed by --children N, --years Y, --seed S; and --repeat N.
struct FeedFlags {
  GeneratorOptions gen;
  int repeat = 3;
  Date today;
  explicit FeedFlags(Date today_) : today(today_) {
    gen.children = 100000;
    gen.seed = 42;
    gen.end = today;
    Years(3);
  }
  void Years(int years) {
    gen.start = Date{std::chrono::year_month_day{today} - std::chrono::years{std::max(1, years)}};
  }
  // Takes argv[i] (and its value, advancing i) when it is one of these flags.
  bool Take(int argc, char** argv, int& i) {
    std::string_view flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--children") {
      gen.children = std::atoi(value);
    } else if (flag == "--seed") {
      gen.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--repeat") {
      repeat = std::max(1, std::atoi(value));
    } else if (flag == "--years") {
      Years(std::atoi(value));
    } else {
      return false;
    }
    ++i;
    return true;
  }
};

// A store, or exit(1) naming the path.
inline std::unique_ptr<EventStore> OpenStore(const std::filesystem::path& path, bool sync) {
  StoreOptions o;
  o.path = path;
  o.sync = sync;
  auto store = EventStore::Open(o);
  if (!store.ok()) {
    std::cerr << "open " << path << ": " << store.status().ToString() << "\n";
    std::exit(1);
  }
  return std::move(store.value());
}

// Stores `lines` as ingest does: valid lines once each (re-sent duplicates dropped by event id,
// malformed lines skipped), Batch::Append + Projector::Apply in batches of 5,000, each child on
// partition Fingerprint(child_id) % 6. `after_batch(batch, lines_done)` runs after each write.
// False (having said why) when a fold or a write fails.
// Not through ingest's batch rule (BuildBatch, consumers/src/batch_builder.h), on purpose: the
// figures in bench/README.md time this fold. BuildBatch would add a store look-up of every
// event id, a routing check (which needs each line's key, topic and partition, so a parse of
// its own first) and the next offsets; it logs each event under its type's topic, not "feed";
// and its batches are of 5,000 messages, not 5,000 events. The dedup here is that rule's
// outcome for this feed: a repeated id is never appended (ingest dead-letters a conflicting
// one, which this feed has none of).
inline bool StoreFeed(EventStore& store, const std::vector<std::string>& lines,
                      const std::function<void(const EventStore::Batch&, size_t)>& after_batch = {},
                      const std::function<void(size_t first_line)>& before_batch = {}) {
  EnvelopeParser parser;
  Projector projector(store);
  std::unordered_set<std::string> seen;
  const size_t kBatch = 5000;
  std::vector<Envelope> envs(kBatch);
  std::vector<AcceptedEvent> accepted;
  for (size_t i = 0; i < lines.size();) {
    if (before_batch) before_batch(i);
    auto batch = store.NewBatch();
    accepted.clear();
    for (size_t n = 0; i < lines.size() && n < kBatch; ++i) {
      if (!parser.Parse(lines[i], envs[n]).ok()) continue;  // the feed's malformed lines
      if (!seen.insert(envs[n].event_id).second) continue;
      const Envelope& e = envs[n];
      int32_t partition = int32_t(Fingerprint(e.child_id) % 6);
      uint64_t seq = batch.Append(e.event_id, e.child_id, e.occurred_at.date, {"feed", partition},
                                  int64_t(i), lines[i]);
      accepted.push_back({&envs[n], seq, partition, batch.ingested_at()});
      ++n;
    }
    if (Fail(projector.Apply(accepted, batch), "apply") || Fail(store.Write(batch), "write")) {
      return false;
    }
    if (after_batch) after_batch(batch, i);
  }
  return true;
}

}  // namespace careledger::bench
