// Interoperability: `careledger broker` is a real Kafka endpoint. kcat writes to it and reads
// from it; `careledger ingest` and `careledger report` run as separate processes.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>

#include "care_fixture.h"
#include "test_support.h"

namespace careledger {
namespace {

using test::Careledger;
using ::testing::HasSubstr;

const std::string kSocialCare = "careledger.socialcare.v1";

TEST(Interop, KcatProducesCareledgerIngestsAndReportsTheOracleCounts) {
  auto fixture = test::BuildCareFixture(300, 99);
  test::TempDir dir;
  test::WriteFile(dir / "keyed.tsv", fixture.KeyedForKcat());
  test::BrokerProcess broker(3);
  ASSERT_FALSE(broker.bootstrap().empty());

  auto produced = test::KcatProduce(broker.bootstrap(), kSocialCare, dir / "keyed.tsv");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  auto ingest = Careledger({"ingest", "--brokers", broker.bootstrap(), "--data", dir / "store",
                            "--until-end", "--kafka", "session.timeout.ms=6000"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_THAT(ingest.err,
              HasSubstr("ingested " + std::to_string(fixture.lines.size()) + " events"));

  for (const char* d : {"2022-06-30", "2023-03-31", "2024-09-30"}) {
    Date at = *ParseDate(d);
    auto total =
        Careledger({"report", "cla", "--data", dir / "store", "--at", d, "--format", "csv"});
    ASSERT_EQ(total.exit_code, 0) << total.err;
    EXPECT_EQ(total.out, "value\n" + std::to_string(fixture.ExpectedCla(at)) + "\n") << d;

    auto by = Careledger({"report", "cla", "--data", dir / "store", "--at", d, "--by", "placement",
                          "--format", "csv"});
    ASSERT_EQ(by.exit_code, 0) << by.err;
    std::string expected = "placement,value\n";
    for (const auto& [placement, n] : fixture.ExpectedClaByPlacement(at)) {
      expected += placement + "," + std::to_string(n) + "\n";
    }
    EXPECT_EQ(by.out, expected) << d;
  }

  // kcat reads back every message, keyed by child.
  auto read = test::Run({test::KcatPath(), "-C", "-b", broker.bootstrap(), "-t", kSocialCare, "-e",
                         "-q", "-f", "%k\n"});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(test::Lines(read.out).size(), fixture.lines.size());
}

TEST(Interop, CareledgerAndKcatPutAChildInTheSamePartition) {
  // Co-partitioning across clients: careledger publish and kcat (murmur2_random, as Java
  // clients use) must agree on every child's partition.
  auto first = test::BuildCareFixture(150, 5, "cl");
  auto second = test::BuildCareFixture(150, 5, "kc");  // same children, other event ids
  test::TempDir dir;
  test::WriteFile(dir / "feed.jsonl", first.Jsonl());
  test::WriteFile(dir / "keyed.tsv", second.KeyedForKcat());
  test::BrokerProcess broker(6);

  auto published = Careledger({"publish", "--brokers", broker.bootstrap(), dir / "feed.jsonl"});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  auto produced = test::KcatProduce(broker.bootstrap(), kSocialCare, dir / "keyed.tsv");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  auto read = test::Run({test::KcatPath(), "-C", "-b", broker.bootstrap(), "-t", kSocialCare, "-e",
                         "-q", "-f", "%k %p\n"});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  std::map<std::string, std::set<std::string>> partitions_of_child;
  auto lines = test::Lines(read.out);
  EXPECT_EQ(lines.size(), first.lines.size() + second.lines.size());
  for (const auto& line : lines) {
    auto space = line.find(' ');
    partitions_of_child[line.substr(0, space)].insert(line.substr(space + 1));
  }
  EXPECT_EQ(partitions_of_child.size(), 150u);
  std::set<std::string> used;
  for (const auto& [child, parts] : partitions_of_child) {
    EXPECT_EQ(parts.size(), 1u) << child << " is in more than one partition";
    used.insert(parts.begin(), parts.end());
  }
  EXPECT_EQ(used.size(), 6u) << "150 children should spread over all 6 partitions";
}

TEST(Interop, BrokerPrintsItsAddressFirstAndStopsOnSigterm) {
  test::Background broker({CARELEDGER_BIN, "broker", "--partitions", "2"});
  std::string address = broker.FirstLine();
  EXPECT_THAT(address, ::testing::MatchesRegex("127\\.0\\.0\\.1:[0-9]+"));
  auto metadata = test::Run({test::KcatPath(), "-L", "-b", address, "-t", kSocialCare});
  ASSERT_EQ(metadata.exit_code, 0) << metadata.err;
  EXPECT_THAT(metadata.out, HasSubstr("topic \"careledger.socialcare.v1\" with 2 partitions"));
  EXPECT_EQ(broker.Stop(15), 0);
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(Interop, BrokerTakesAFixedBootstrapPortWhenAsked) {
  const std::string port = std::to_string(FreeLoopbackPort());
  test::Background broker({CARELEDGER_BIN, "broker", "--partitions", "2", "--port", port});
  EXPECT_EQ(broker.FirstLine(), "127.0.0.1:" + port);
  test::TempDir dir;
  auto fixture = test::BuildCareFixture(20, 1);
  test::WriteFile(dir / "f.jsonl", fixture.Jsonl());
  auto published = Careledger({"publish", "--brokers", "127.0.0.1:" + port, dir / "f.jsonl"});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  auto read = test::Run({test::KcatPath(), "-C", "-b", "127.0.0.1:" + port, "-t", kSocialCare, "-e",
                         "-q", "-f", "%k\n"});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(test::Lines(read.out).size(), fixture.lines.size());
  EXPECT_EQ(broker.Stop(15), 0);
}

}  // namespace
}  // namespace careledger
