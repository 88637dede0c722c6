#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "careledger/events.h"

extern char** environ;

namespace careledger::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/careledger-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

namespace {

// posix_spawn with stdout/stderr sent to files: simple, and nothing can block on a full pipe.
int Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // The test process may have signals blocked; the child must start with a clean mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
    return -1;
  }
  return pid;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for pid up to timeout; kills it with SIGKILL when the time is up.
int WaitFor(int pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    int r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return ExitCode(status);
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "process " << pid << " did not finish within " << timeout.count()
                    << " ms and was killed";
      return ExitCode(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

RunResult Run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  TempDir dir;
  RunResult result;
  int pid = Spawn(argv, dir / "out", dir / "err");
  if (pid < 0) return result;
  result.exit_code = WaitFor(pid, timeout);
  result.out = ReadFile(dir / "out");
  result.err = ReadFile(dir / "err");
  return result;
}

RunResult Careledger(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::vector<std::string> argv{CARELEDGER_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, timeout);
}

Background::Background(const std::vector<std::string>& argv) {
  out_path_ = dir_ / "out";
  pid_ = Spawn(argv, out_path_, dir_ / "err");
}

Background::~Background() {
  if (pid_ > 0) Stop(SIGKILL);
}

std::string Background::FirstLine(std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = ReadFile(out_path_);
    if (auto nl = out.find('\n'); nl != std::string::npos) return out.substr(0, nl);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no line on stdout within " << timeout.count()
                << " s; stderr: " << ReadFile(dir_ / "err");
  return {};
}

std::string Background::Stderr() const {
  return ReadFile(dir_ / "err");
}

int Background::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int code = WaitFor(pid_, std::chrono::seconds(30));
  pid_ = -1;
  return code;
}

BrokerProcess::BrokerProcess(int partitions)
    : process_({CARELEDGER_BIN, "broker", "--partitions", std::to_string(partitions)}) {
  bootstrap_ = process_.FirstLine();
}

std::string KcatPath() {
  for (const char* p : {"/usr/bin/kcat", "/usr/bin/kafkacat"}) {
    if (access(p, X_OK) == 0) return p;
  }
  ADD_FAILURE() << "kcat is not installed (ops/setup.sh installs it)";
  return "kcat";
}

RunResult KcatProduce(const std::string& bootstrap, const std::string& topic,
                      const std::string& keyed_file) {
  return Run({KcatPath(), "-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-X",
              "partitioner=murmur2_random", "-l", keyed_file});
}

RunResult KcatProduceLines(const std::string& bootstrap, const std::string& topic,
                           const std::string& keyed_lines, const std::string& dir) {
  const std::string file = dir + "/keyed.tsv";
  WriteFile(file, keyed_lines);
  return KcatProduce(bootstrap, topic, file);
}

Settings TestKafkaSettings(const std::string& bootstrap) {
  return {{"bootstrap.servers", bootstrap}, {"session.timeout.ms", "6000"}};
}

std::vector<std::string> DeadLetterReasons(const std::string& store_path) {
  std::vector<std::string> reasons;
  auto store = EventStore::Open({.path = store_path, .read_only = true});
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return reasons;
  }
  Status s = (*store)->ScanDeadLetters([&](const DeadLetter& d) {
    reasons.push_back(d.reason);
    return true;
  });
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return reasons;
}

std::multiset<std::string> StoredEventIds(const std::string& store_path) {
  std::multiset<std::string> ids;
  auto store = EventStore::Open({.path = store_path, .read_only = true});
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return ids;
  }
  EnvelopeParser parser;
  Envelope env;
  Status s = (*store)->ScanLog([&](const LogRecord& rec) {
    if (Status p = parser.Parse(rec.payload, env); !p.ok()) {
      ADD_FAILURE() << "stored record " << rec.sequence << " does not parse: " << p.message();
    } else {
      ids.insert(env.event_id);
    }
    return true;
  });
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return ids;
}

}  // namespace careledger::test
