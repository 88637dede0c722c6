// Backup while ingest runs, restore, verify, resume: the restored store catches up from the
// backup's own offsets and ends with exactly the published events and the same figures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "care_fixture.h"
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

}  // namespace
}  // namespace careledger
