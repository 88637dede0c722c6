// Helpers shared by the event store's unit tests (store_*_test.cc): opening a store on a temp
// directory, reading its log, counters and event ids back, and the topic-partitions they use.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "careledger/store.h"
#include "test_support.h"

namespace careledger {

inline const TopicPartition kCare0{"careledger.socialcare.v1", 0};
inline const TopicPartition kPolice2{"careledger.police.v1", 2};

inline std::unique_ptr<EventStore> OpenStore(const std::string& path, bool read_only = false) {
  auto s = EventStore::Open({.path = path, .read_only = read_only, .sync = false});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s.value()) : nullptr;
}

inline std::map<std::string, int64_t> Counters(const EventStore& store, std::string_view prefix) {
  std::map<std::string, int64_t> out;
  Status s = store.ScanState(prefix, [&](std::string_view k, std::string_view v) {
    out[std::string(k)] = DecodeCounter(v);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

inline std::vector<std::optional<StoredEventId>> Find(const EventStore& store,
                                                      const std::vector<std::string_view>& ids) {
  std::vector<std::optional<StoredEventId>> found;
  EXPECT_TRUE(store.FindEventIds(ids, found).ok());
  return found;
}

// Two events from two topics in one batch, with the offsets consumed.
inline void WriteTwoEvents(EventStore& store) {
  auto batch = store.NewBatch();
  EXPECT_EQ(
      batch.Append("ev-care", "child-1", *ParseDate("2024-01-05"), kCare0, 40, R"({"n":"care"})"),
      0u);
  EXPECT_EQ(batch.Append("ev-police", "child-1", *ParseDate("2023-12-30"), kPolice2, 7,
                         R"({"n":"police"})"),
            1u);
  EXPECT_EQ(batch.appended(), 2u);
  batch.SetNextOffset(kCare0, 41);
  batch.SetNextOffset(kPolice2, 8);
  ASSERT_TRUE(store.Write(batch).ok());
}

}  // namespace careledger
