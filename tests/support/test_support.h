// Test-only helpers: temp directories, running the real binary, reading a store back.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "careledger/store.h"

namespace careledger::test {

// A fresh directory under $TMPDIR, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out, err;
};
// Runs a program to completion (killed after `timeout`), capturing stdout and stderr.
RunResult Run(const std::vector<std::string>& argv,
              std::chrono::seconds timeout = std::chrono::seconds(120));
// The careledger binary under test, with arguments.
RunResult Careledger(const std::vector<std::string>& args,
                     std::chrono::seconds timeout = std::chrono::seconds(120));

// A process that runs in the background until Stop()/destruction (SIGTERM, then SIGKILL).
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv);
  ~Background();
  // The first line the process wrote on stdout (waits for it).
  std::string FirstLine(std::chrono::seconds timeout = std::chrono::seconds(30));
  int Stop(int signal = 15);
  int pid() const { return pid_; }
  std::string Stderr() const;

 private:
  int pid_ = -1;
  std::string out_path_;
  TempDir dir_;
};

// `careledger broker` as its own process; its bootstrap address.
class BrokerProcess {
 public:
  explicit BrokerProcess(int partitions = 3);
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  Background process_;
  std::string bootstrap_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, std::string_view content);
std::vector<std::string> Lines(std::string_view text);
std::string KcatPath();  // /usr/bin/kcat; fails the test when missing
// kcat -P of a file of "key<TAB>value" lines, partitioned as Java clients and careledger do.
RunResult KcatProduce(const std::string& bootstrap, const std::string& topic,
                      const std::string& keyed_file);
// The same for "key<TAB>value" lines given whole, written to `dir`/keyed.tsv first.
RunResult KcatProduceLines(const std::string& bootstrap, const std::string& topic,
                           const std::string& keyed_lines, const std::string& dir);

// Settings for in-process clients in tests: a short session timeout so rejoins are quick.
Settings TestKafkaSettings(const std::string& bootstrap);

// The event ids held in a store's log (opened read-only).
std::multiset<std::string> StoredEventIds(const std::string& store_path);
// The reasons of a store's dead letters, in (topic, partition, offset) order.
std::vector<std::string> DeadLetterReasons(const std::string& store_path);

}  // namespace careledger::test
