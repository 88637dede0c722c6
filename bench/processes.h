// The real binaries a bench drives, as processes: spawned with their output in files, their
// first line (the address `broker`, `serve` and `run` print) read back, stopped with SIGTERM.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace bench {

using Clock = std::chrono::steady_clock;

struct Process {
  pid_t pid = -1;
  std::string out;
  ~Process() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
};

inline std::unique_ptr<Process> Spawn(const std::vector<std::string>& argv, const std::string& dir,
                                      const std::string& name) {
  auto p = std::make_unique<Process>();
  p->out = dir + "/" + name + ".out";
  std::string err = dir + "/" + name + ".err";
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, p->out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (posix_spawn(&p->pid, args[0], &actions, nullptr, args.data(), environ) != 0) p->pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return p;
}

inline std::string FirstLine(const Process& p) {
  for (auto deadline = Clock::now() + std::chrono::seconds(30); Clock::now() < deadline;) {
    std::ifstream in(p.out);
    std::string line;
    if (std::getline(in, line) && in) return line;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

inline double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

}  // namespace bench
