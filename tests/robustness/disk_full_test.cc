// A full disk: ingest into a store on a 3 MiB tmpfs stops with a clear error and no offset
// past what was written; once the filesystem grows, ingest resumes with nothing lost.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "care_fixture.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

// A tmpfs of a given size, unmounted at scope exit. Needs root (as CI has).
class TinyFilesystem {
 public:
  TinyFilesystem(const std::string& at, const std::string& size) : at_(at) {
    std::filesystem::create_directories(at);
    mounted_ = ::mount("tmpfs", at.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    error_ = std::strerror(errno);
  }
  ~TinyFilesystem() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool Grow(const std::string& size) {
    return ::mount("tmpfs", at_.c_str(), "tmpfs", MS_REMOUNT, ("size=" + size).c_str()) == 0;
  }

 private:
  std::string at_, error_;
  bool mounted_ = false;
};

TEST(DiskFull, IngestStopsSaysWhyAndResumesWhenThereIsRoom) {
  test::TempDir dir;
  TinyFilesystem fs(dir / "tiny", "3m");
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << fs.error() << ")";
  auto fixture = test::BuildCareFixture(3000, 44);
  test::WriteFile(dir / "feed.jsonl", fixture.Jsonl());
  ASSERT_GT(fixture.Jsonl().size(), size_t(4) << 20) << "the feed must not fit in 3 MiB";
  test::BrokerProcess broker(3);
  ASSERT_EQ(Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"}).exit_code,
            0);
  const std::string store = dir / "tiny/store";
  const std::vector<std::string> ingest = {
      "ingest",      "--brokers", broker.bootstrap(), "--data",  store,
      "--until-end", "--group",   "disk-full-test",   "--kafka", "session.timeout.ms=6000"};

  auto full = Careledger(ingest);
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_THAT(full.err, HasSubstr("No space left on device"));
  // What was written is whole: the chain, indexes and offsets agree.
  auto verify = Careledger({"verify", "--data", store});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  size_t stored = test::StoredEventIds(store).size();
  EXPECT_LT(stored, fixture.lines.size());

  ASSERT_TRUE(fs.Grow("256m"));
  auto resumed = Careledger(ingest);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(test::StoredEventIds(store),
            std::multiset<std::string>(fixture.event_ids.begin(), fixture.event_ids.end()));
  EXPECT_EQ(Careledger({"verify", "--data", store}).exit_code, 0);
}

}  // namespace
}  // namespace careledger
