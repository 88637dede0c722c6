// Private to bench/: storing a generated feed the way ingest stores it (its batch rule), without
// Kafka, for the benches that start from a store (projections.cc, calibration.cc,
// postgres_peer.cc).
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

#include "batch_builder.h"
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

// Stores `lines` as ingest does, through its batch rule (BuildBatch, consumers/src/
// batch_builder.h): each valid line a message on its type's topic, keyed by its child, on
// partition Fingerprint(child_id) % 6, in batches of 5,000 messages; a repeated event id is
// not appended again (this feed's repeats are byte-for-byte re-sends: settling them as
// duplicates or conflicts is ingest's, and changes no state), the feed's malformed lines are
// skipped. `after_batch(batch, lines_done)` runs after each write. False (having said why)
// when a batch cannot be built or written.
inline bool StoreFeed(EventStore& store, const std::vector<std::string>& lines,
                      const std::function<void(const EventStore::Batch&, size_t)>& after_batch = {},
                      const std::function<void(size_t first_line)>& before_batch = {}) {
  EnvelopeParser router, parser;
  Projector projector(store);
  const size_t kBatch = 5000;
  std::vector<Envelope> envelopes;
  Envelope e;
  std::vector<RawMessage> messages;
  std::vector<std::string> keys;
  keys.reserve(kBatch);  // never reallocated: the messages' keys point into it
  BatchContext context;  // every partition held from offset 0; each batch durable before the next
  context.next_offset = [](const TopicPartition&) { return std::optional<int64_t>(0); };
  for (size_t i = 0; i < lines.size();) {
    if (before_batch) before_batch(i);
    messages.clear();
    keys.clear();
    for (; i < lines.size() && messages.size() < kBatch; ++i) {
      // What a producer knows when it sends: the event's type and child (its topic and key).
      if (!router.Parse(lines[i], e).ok()) continue;  // the feed's malformed lines
      keys.push_back(e.child_id);
      messages.push_back({TopicFor(e.type), keys.back(), lines[i],
                          int32_t(Fingerprint(e.child_id) % 6), int64_t(i)});
    }
    auto batch = store.NewBatch();
    BuiltBatch built;
    if (Fail(BuildBatch(messages, context, store, parser, projector, envelopes, batch, built),
             "build a batch") ||
        Fail(store.Write(batch), "write")) {
      return false;
    }
    if (after_batch) after_batch(batch, i);
  }
  return true;
}

}  // namespace careledger::bench
