// Backup while ingest runs, restore, verify, resume: the restored store catches up from the
// backup's own offsets and ends with exactly the published events and the same figures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "care_fixture.h"
#include "careledger/events.h"
#include "careledger/store.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

bool WaitForStored(const std::string& store, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(store + "/CURRENT") && test::StoredEventIds(store).size() == n) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

std::string Field(const std::string& out, const std::string& name) {
  auto pos = out.find(name);
  if (pos == std::string::npos) return "";
  auto end = out.find('\n', pos);
  return out.substr(pos + name.size(), end - pos - name.size());
}

TEST(Backup, TakenWhileIngestRunsRestoresAndResumes) {
  auto fixture = test::BuildCareFixture(600, 12);
  const size_t half = fixture.lines.size() / 2;
  test::TempDir dir;
  std::string first, second;
  for (size_t i = 0; i < fixture.lines.size(); ++i) {
    (i < half ? first : second) += fixture.lines[i] + "\n";
  }
  test::WriteFile(dir / "first.jsonl", first);
  test::WriteFile(dir / "second.jsonl", second);
  test::BrokerProcess broker(3);
  const std::string store = dir / "store";
  test::Background ingest({CARELEDGER_BIN, "ingest", "--brokers", broker.bootstrap(), "--data",
                           store, "--kafka", "session.timeout.ms=6000"});

  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "first.jsonl"}).exit_code,
            0);
  ASSERT_TRUE(WaitForStored(store, half));
  auto backup = Careledger({"backup", "--data", store, dir / "backup"});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_EQ(Field(backup.out, "log records      "), std::to_string(half));
  auto again = Careledger({"backup", "--data", store, dir / "backup"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, HasSubstr("already exists"));

  ASSERT_EQ(
      Careledger({"publish", "--brokers", broker.bootstrap(), dir / "second.jsonl"}).exit_code, 0);
  ASSERT_TRUE(WaitForStored(store, fixture.lines.size()));
  EXPECT_EQ(ingest.Stop(15), 0);
  auto original = Careledger({"verify", "--data", store});
  ASSERT_EQ(original.exit_code, 0) << original.err;

  // Restore refuses to overwrite a store, then restores into an empty place.
  auto refused = Careledger({"restore", "--data", store, dir / "backup"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("is not empty"));
  const std::string restored = dir / "restored";
  auto restore = Careledger({"restore", "--data", restored, dir / "backup"});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(Field(restore.out, "log records      "), std::to_string(half));

  // Resume from the backup's offsets: exactly the second half is new to it.
  auto resumed = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", restored,
                             "--group", "after-restore", "--until-end"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err,
              HasSubstr("ingested " + std::to_string(fixture.lines.size() - half) + " events"));
  EXPECT_EQ(test::StoredEventIds(restored),
            std::multiset<std::string>(fixture.event_ids.begin(), fixture.event_ids.end()));
  auto after = Careledger({"verify", "--data", restored});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(Field(after.out, "projection state "), Field(original.out, "projection state "));
}

// A backup big enough that copying it takes a while: fixtures under distinct id prefixes until
// it holds at least `at_least` records. Returns how many it holds.
uint64_t BuildLargeBackup(const std::string& path, uint64_t at_least) {
  auto store = EventStore::Open({.path = path, .sync = false});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return 0;
  EnvelopeParser parser;
  Envelope env;
  int64_t offset = 0;
  for (int round = 0; (*store)->next_sequence() < at_least; ++round) {
    auto fixture = test::BuildCareFixture(2000, uint64_t(round), "r" + std::to_string(round) + "-");
    auto batch = (*store)->NewBatch();
    for (const auto& line : fixture.lines) {
      EXPECT_TRUE(parser.Parse(line, env).ok());
      (void)batch.Append(env.event_id, env.child_id, env.occurred_at.date,
                         {"careledger.socialcare.v1", 0}, offset++, line);
    }
    batch.SetNextOffset({"careledger.socialcare.v1", 0}, offset);
    EXPECT_TRUE((*store)->Write(batch).ok());
  }
  return (*store)->next_sequence();
}

uint64_t TreeBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  uint64_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    auto size = it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
    if (!size_ec) n += size;
  }
  return n;
}

// Whether the process has finished (a zombie waiting to be reaped) or is gone.
bool Exited(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto close = line.rfind(')');
  return close == std::string::npos || line.size() < close + 3 || line[close + 2] == 'Z';
}

std::vector<std::string> SideDirectories(const std::string& target) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const std::string stem = fs::path(target).filename().string() + ".restoring-";
  for (const auto& e : fs::directory_iterator(fs::path(target).parent_path())) {
    if (e.path().filename().string().starts_with(stem)) out.push_back(e.path());
  }
  return out;
}

// kill -9 of a restore at random points of its copy: the target never opens as a store (it
// used to verify with 0 records, or a few thousand when the WAL was cut short), and the next
// restore clears what the killed one left and verifies with every record.
TEST(Restore, KilledAtRandomPointsOfTheCopyLeavesNoStoreAndTheNextRestoreIsWhole) {
  test::TempDir dir;
  const std::string backup = dir / "backup";
  const uint64_t records = BuildLargeBackup(backup, 100000);
  ASSERT_GE(records, 100000u);
  const uint64_t backup_bytes = TreeBytes(backup);
  const std::string target = dir / "restored";
  std::mt19937_64 rng(std::random_device{}());
  int mid_copy = 0;
  for (int run = 0; run < 5; ++run) {
    const double share = std::uniform_real_distribution<double>(0.02, 0.98)(rng);
    test::Background restore({CARELEDGER_BIN, "restore", "--data", target, backup});
    const std::string side = target + ".restoring-" + std::to_string(restore.pid());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!Exited(restore.pid()) && TreeBytes(side) < uint64_t(share * double(backup_bytes)) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const int code = restore.Stop(SIGKILL);
    SCOPED_TRACE("run " + std::to_string(run) + ", share " + std::to_string(share) + ", exit " +
                 std::to_string(code));
    namespace fs = std::filesystem;
    if (fs::exists(side)) {
      ++mid_copy;
      // Nothing at the target opens as a store.
      EXPECT_FALSE(EventStore::Open({.path = target, .read_only = true}).ok());
      auto verify = test::Careledger({"verify", "--data", target});
      EXPECT_EQ(verify.exit_code, 1) << verify.out;
    } else {
      // It finished before the kill: then the target is the whole backup.
      auto verify = test::Careledger({"verify", "--data", target});
      ASSERT_EQ(verify.exit_code, 0) << verify.err;
      EXPECT_EQ(Field(verify.out, "log records      "), std::to_string(records));
      fs::remove_all(target);
    }
  }
  EXPECT_GE(mid_copy, 3) << "the kills should land inside the copy";

  auto restore = test::Careledger({"restore", "--data", target, backup});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(Field(restore.out, "log records      "), std::to_string(records));
  EXPECT_THAT(SideDirectories(target), ::testing::IsEmpty());
  auto verify = test::Careledger({"verify", "--data", target});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(Field(verify.out, "log records      "), std::to_string(records));
}

// A backup that does not verify is never renamed into place, and its copy is removed.
TEST(Restore, ABackupThatDoesNotVerifyLeavesNothingBehind) {
  test::TempDir dir;
  const std::string backup = dir / "backup";
  ASSERT_GE(BuildLargeBackup(backup, 1), 1u);
  {
    // A stored offset behind its log: the copy fails verify.
    auto store = EventStore::Open({.path = backup});
    ASSERT_TRUE(store.ok());
    auto batch = (*store)->NewBatch();
    batch.SetNextOffset({"careledger.socialcare.v1", 0}, 0);  // behind the log
    ASSERT_TRUE((*store)->Write(batch).ok());
  }
  const std::string target = dir / "restored";
  auto restore = test::Careledger({"restore", "--data", target, backup});
  EXPECT_EQ(restore.exit_code, 1);
  EXPECT_THAT(restore.err, HasSubstr("does not verify"));
  EXPECT_FALSE(std::filesystem::exists(target));
  EXPECT_THAT(SideDirectories(target), ::testing::IsEmpty());
}

}  // namespace
}  // namespace careledger
