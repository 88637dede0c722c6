#include "cli.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

namespace careledger::app {

void AddCommonFlags(CLI::App& cmd, CommonFlags& flags) {
  cmd.add_option("--config", flags.config, "Settings file (key = value lines)");
  cmd.add_option("--brokers", flags.brokers, "Kafka bootstrap servers HOST:PORT,...");
  cmd.add_option("--kafka", flags.kafka, "librdkafka setting key=value (repeatable)");
  cmd.add_option("--data", flags.data, "Store directory (default ./careledger-data)");
  cmd.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, off");
}

std::vector<std::string> SplitList(std::string_view list) {
  std::vector<std::string> out;
  std::string item;
  for (size_t i = 0; i <= list.size(); ++i) {
    char c = i < list.size() ? list[i] : ',';
    if (c == ',') {
      if (!item.empty()) out.push_back(std::move(item));
      item.clear();
    } else if (c != ' ' && c != '\t') {
      item += char(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

namespace {

Status Apply(std::string_view key, std::string_view value, Context& ctx) {
  if (key == "brokers") {
    ctx.kafka["bootstrap.servers"] = std::string(value);
  } else if (key == "data") {
    ctx.data_dir = value;
  } else if (key == "log_level") {
    ctx.log_level = value;
  } else if (key == "ssda903.local_postcode_districts") {
    ctx.local_postcode_districts = SplitList(value);
  } else if (key.starts_with("kafka.")) {
    ctx.kafka[std::string(key.substr(6))] = std::string(value);
  } else {
    return Status::BadInput("unknown setting '" + std::string(key) + "'");
  }
  return Status::Ok();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

Result<Context> Resolve(const CommonFlags& flags) {
  Context ctx;
  if (!flags.config.empty()) {
    std::ifstream in(flags.config);
    if (!in) return Status::BadInput("cannot read settings file " + flags.config);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::string_view l = Trim(line);
      if (l.empty() || l.front() == '#') continue;
      auto eq = l.find('=');
      if (eq == std::string_view::npos) {
        return Status::BadInput(flags.config + ":" + std::to_string(n) + ": expected key = value");
      }
      if (Status s = Apply(Trim(l.substr(0, eq)), Trim(l.substr(eq + 1)), ctx); !s.ok()) {
        return Status::BadInput(flags.config + ":" + std::to_string(n) + ": " + s.message());
      }
    }
  }
  for (auto [env, key] :
       {std::pair{"CARELEDGER_BROKERS", "brokers"}, std::pair{"CARELEDGER_DATA", "data"},
        std::pair{"CARELEDGER_LOG_LEVEL", "log_level"}}) {
    if (const char* v = std::getenv(env); v && *v) CARELEDGER_RETURN_IF_ERROR(Apply(key, v, ctx));
  }
  if (!flags.brokers.empty()) ctx.kafka["bootstrap.servers"] = flags.brokers;
  if (!flags.data.empty()) ctx.data_dir = flags.data;
  if (!flags.log_level.empty()) ctx.log_level = flags.log_level;
  for (const auto& kv : flags.kafka) CARELEDGER_RETURN_IF_ERROR(AddKeyValue(kv, ctx.kafka));
  CARELEDGER_RETURN_IF_ERROR(InitLogging(ctx.log_level));
  spdlog::debug("settings: data={} kafka: {}", ctx.data_dir, MaskedForLog(ctx.kafka));
  return ctx;
}

namespace {
sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // the watcher's own "finish" wake-up
  return set;
}
}  // namespace

void BlockStopSignals() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher() {
  thread_ = std::thread([this] {
    sigset_t set = StopSignals();
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0 || sig == SIGUSR1) return;
      if (stop_.exchange(true)) std::_Exit(128 + sig);
      spdlog::info("signal {}: finishing the batch in hand, then stopping", sig);
    }
  });
}

SignalWatcher::~SignalWatcher() {
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

int Fail(const Status& s) {
  std::cerr << "careledger: " << s.message() << '\n';
  return 1;
}

}  // namespace careledger::app
