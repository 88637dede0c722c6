// kill -9: `careledger ingest` is killed at random moments while a producer publishes, and
// restarted, again and again. At the end the store holds exactly the published event ids
// (none lost, none twice), verifies, and its projection state hash equals a clean single run's.
//
// Cycles: 5 by default (each restart waits out the killed member's session, ~10 s);
// CARELEDGER_KILL_CYCLES=100 for the long run.
//
// And the dead-letter outbox: ingest killed (CARELEDGER_FAULT) after a batch with dead letters
// is durable and before they are sent, then again after the topic acknowledged them and before
// the store heard; every dead letter still reaches the topic exactly once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "care_fixture.h"
#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;

std::string StateHash(const std::string& store) {
  auto r = Careledger({"verify", "--data", store});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto pos = r.out.find("projection state ");
  return pos == std::string::npos ? "" : r.out.substr(pos + 17, 64);
}

TEST(KillNine, IngestKilledAtRandomLosesAndRepeatsNothing) {
  const char* env = std::getenv("CARELEDGER_KILL_CYCLES");
  const int cycles = env ? std::atoi(env) : 5;
  auto fixture = test::BuildCareFixture(1000, 77);
  test::TempDir dir;
  // The feed in one chunk per cycle, with some events re-sent in the next chunk.
  std::vector<std::string> chunks;
  const size_t per = fixture.lines.size() / size_t(cycles) + 1;
  for (int c = 0; c < cycles; ++c) {
    std::string chunk;
    for (size_t i = size_t(c) * per; i < std::min(fixture.lines.size(), size_t(c + 1) * per); ++i) {
      chunk += fixture.lines[i] + "\n";
    }
    if (c > 0) chunk += fixture.lines[size_t(c) * per - 1] + "\n";  // a re-send
    chunks.push_back(dir / ("chunk" + std::to_string(c) + ".jsonl"));
    test::WriteFile(chunks.back(), chunk);
  }
  test::BrokerProcess broker(3);
  const std::string store = dir / "store";

  // The producer publishes a chunk every 8 s while ingest is being killed and restarted.
  std::thread producer([&] {
    for (const auto& chunk : chunks) {
      auto r = Careledger({"publish", "--brokers", broker.bootstrap(), chunk});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      std::this_thread::sleep_for(std::chrono::seconds(8));  // across the restarts
    }
  });

  // Restarted the way systemd does: the same group and the same store. The killed member
  // holds its partitions until its session times out (session.timeout.ms, 10 s unless set),
  // so each restart waits about that long for its first assignment, and no longer.
  std::mt19937 rng(1234);
  std::vector<double> waits;
  for (int c = 0; c < cycles; ++c) {
    auto started = std::chrono::steady_clock::now();
    test::Background ingest({CARELEDGER_BIN, "ingest", "--brokers", broker.bootstrap(), "--data",
                             store, "--group", "kill", "--max-batch", "200", "--log-level",
                             "info"});
    bool assigned = false;
    while (!assigned && std::chrono::steady_clock::now() - started < std::chrono::seconds(60)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      assigned = ingest.Stderr().find(" assigned ") != std::string::npos;
    }
    ASSERT_TRUE(assigned) << "restart " << c << " got no partitions in 60 s:\n" << ingest.Stderr();
    waits.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (c > 0) {
      // A restart after a kill says why it waits (once it has waited 5 s).
      EXPECT_THAT(ingest.Stderr(), ::testing::HasSubstr("holds them until its session times out"))
          << "restart " << c;
    }
    // Then killed at once or mid-batch.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
    EXPECT_EQ(ingest.Stop(9), 128 + 9);
  }
  producer.join();
  std::string seen;
  for (double w : waits) seen += std::to_string(w).substr(0, 4) + " s ";
  std::cout << "time to the first assignment after each (re)start: " << seen << "\n";
  for (size_t c = 1; c < waits.size(); ++c) {
    // The session timeout and a join, with room for a loaded machine: bounded, not a minute.
    EXPECT_LT(waits[c], 30.0) << "restart " << c << ": " << seen;
  }
  auto last = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", store, "--group",
                          "kill", "--until-end"});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(test::StoredEventIds(store),
            std::multiset<std::string>(fixture.event_ids.begin(), fixture.event_ids.end()));

  // A clean single run over the same topics.
  auto clean = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", dir / "clean",
                           "--group", "clean", "--until-end"});
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  std::string expected = StateHash(dir / "clean");
  ASSERT_EQ(expected.size(), 64u);
  EXPECT_EQ(StateHash(store), expected);
}

// The ids of a store's dead letters, all of them or those still marked unpublished.
std::vector<std::string> DeadLetterIds(const std::string& store_path, bool unpublished = false) {
  std::vector<std::string> ids;
  auto store = EventStore::Open({.path = store_path, .read_only = true});
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return ids;
  }
  auto visit = [&](const DeadLetter& d) {
    ids.push_back(d.Id());
    return true;
  };
  Status s =
      unpublished ? (*store)->ScanUnpublishedDeadLetters(visit) : (*store)->ScanDeadLetters(visit);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ids;
}
std::vector<std::string> UnpublishedIds(const std::string& store_path) {
  return DeadLetterIds(store_path, /*unpublished=*/true);
}

// The dead-letter topic as "key|headers" lines, one per message.
std::vector<std::string> DeadLetterTopic(const std::string& bootstrap) {
  auto r = test::Run({test::KcatPath(), "-C", "-b", bootstrap, "-t", "careledger.deadletter.v1",
                      "-e", "-q", "-f", "%k|%h\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = test::Lines(r.out);
  std::erase(lines, "");
  return lines;
}

TEST(KillNine, DeadLettersReachTheTopicOnceAcrossKillsAroundTheirPublish) {
  // Bad messages among good ones, smuggled past publish's checks with kcat.
  auto fixture = test::BuildCareFixture(60, 19);
  const auto good = test::Lines(fixture.KeyedForKcat());
  std::string keyed;
  int bad = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    if (good[i].empty()) continue;
    if (i % 10 == 3) {
      keyed += "K" + std::to_string(++bad) + "\t{not json " + std::to_string(i) + "\n";
    }
    keyed += good[i] + "\n";
  }
  ASSERT_GE(bad, 6);
  test::TempDir dir;
  test::BrokerProcess broker(3);
  auto produced =
      test::KcatProduceLines(broker.bootstrap(), "careledger.socialcare.v1", keyed, dir.path());
  ASSERT_EQ(produced.exit_code, 0) << produced.err;
  const std::string store = dir / "store";
  // Started as systemd restarts it: the same group, the same store.
  auto ingest = [&](const std::string& fault) {
    return test::Run({"/usr/bin/env", "CARELEDGER_FAULT=" + fault, CARELEDGER_BIN, "ingest",
                      "--brokers", broker.bootstrap(), "--data", store, "--group", "outbox",
                      "--until-end", "--max-batch", "20", "--log-level", "info"});
  };

  // 1. Dies once the first batch holding dead letters is durable, before sending them.
  auto first = ingest("die-after-write");
  ASSERT_EQ(first.exit_code, 128 + 9) << first.err;
  const auto stored_at_kill = DeadLetterIds(store);
  ASSERT_FALSE(stored_at_kill.empty()) << first.err;
  ASSERT_LT(stored_at_kill.size(), size_t(bad)) << "some are left for the run that completes";
  EXPECT_EQ(UnpublishedIds(store), stored_at_kill);
  EXPECT_TRUE(DeadLetterTopic(broker.bootstrap()).empty());

  // 2. Starts by sending them, and dies after the topic acknowledged them, before the store
  //    clears their marks: without a look at the topic the next start would send them again.
  auto second = ingest("die-after-publish");
  ASSERT_EQ(second.exit_code, 128 + 9) << second.err;
  EXPECT_EQ(UnpublishedIds(store), stored_at_kill);
  EXPECT_EQ(DeadLetterTopic(broker.bootstrap()).size(), stored_at_kill.size());

  // 3. Runs to the end: finds them on the topic, sends none again, publishes the rest.
  auto third = ingest("");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_THAT(third.err,
              ::testing::HasSubstr(std::to_string(stored_at_kill.size()) +
                                   " were on careledger.deadletter.v1 already, 0 sent now"));

  const auto ids = DeadLetterIds(store);
  ASSERT_EQ(ids.size(), size_t(bad));
  std::multiset<std::string> on_topic;
  for (const auto& line : DeadLetterTopic(broker.bootstrap())) {
    std::string key = line.substr(0, line.find('|'));
    on_topic.insert(key);
    // Keyed by its source id, which the headers repeat.
    auto source = ParseDeadLetterId(key);
    ASSERT_TRUE(source.ok()) << line;
    EXPECT_THAT(line, ::testing::HasSubstr("error=invalid_json,"));
    EXPECT_THAT(
        line, ::testing::HasSubstr("source_topic=" + source->first.topic +
                                   ",source_partition=" + std::to_string(source->first.partition) +
                                   ",source_offset=" + std::to_string(source->second)));
  }
  EXPECT_EQ(on_topic, std::multiset<std::string>(ids.begin(), ids.end()))
      << "every dead letter on the topic, and once";
  EXPECT_TRUE(UnpublishedIds(store).empty());
  EXPECT_EQ(test::StoredEventIds(store),
            std::multiset<std::string>(fixture.event_ids.begin(), fixture.event_ids.end()));
  auto verify = Careledger({"verify", "--data", store});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

}  // namespace
}  // namespace careledger

namespace careledger {
namespace {

TEST(Signals, SecondSignalExitsAtOnceAndLeavesTheStoreWhole) {
  auto fixture = test::BuildCareFixture(2000, 91);
  test::TempDir dir;
  test::WriteFile(dir / "feed.jsonl", fixture.Jsonl());
  test::BrokerProcess broker(3);
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  // A clean stop can finish within a few milliseconds, before a second signal is sent; such
  // an attempt proves nothing about the second signal, so try again on a fresh store.
  bool caught_running = false;
  for (int attempt = 0; attempt < 5 && !caught_running; ++attempt) {
    std::string store = dir / ("store" + std::to_string(attempt));
    test::Background ingest({CARELEDGER_BIN, "ingest", "--brokers", broker.bootstrap(), "--data",
                             store, "--max-batch", "100", "--group",
                             "signals-" + std::to_string(attempt)});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (ingest.Stderr().find("assigned") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(ingest.Stderr().find("assigned"), std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // mid-stream
    ::kill(ingest.pid(), SIGTERM);  // finish the batch in hand, then stop...
    // Two signals sent before the first is taken merge into one, so the second goes only once
    // ingest has said it is stopping, and only while it still runs.
    auto exited = [&] {
      siginfo_t info{};
      ::waitid(P_PID, id_t(ingest.pid()), &info, WEXITED | WNOHANG | WNOWAIT);
      return info.si_pid != 0;
    };
    bool acknowledged = false;
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
         !acknowledged && !exited() && std::chrono::steady_clock::now() < until;) {
      acknowledged = ingest.Stderr().find("finishing the batch in hand") != std::string::npos;
      if (!acknowledged) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    caught_running = acknowledged && !exited();
    int code = ingest.Stop(SIGTERM);
    if (caught_running) {
      EXPECT_EQ(code, 128 + SIGTERM) << "...but a second signal exits at once";
    } else {
      EXPECT_EQ(code, 0) << "a clean stop";
    }
    auto verify = Careledger({"verify", "--data", store});
    EXPECT_EQ(verify.exit_code, 0) << verify.err;
  }
  EXPECT_TRUE(caught_running) << "every attempt had stopped before the second signal";
}

}  // namespace
}  // namespace careledger
