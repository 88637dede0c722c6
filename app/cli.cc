#include "cli.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

namespace careledger::app {

// CLI11 validator for YYYY-MM-DD.
const CLI::Validator kIsoDate(
    [](std::string& s) {
      auto d = ParseDate(s);
      return d.ok() ? std::string() : "not a date (YYYY-MM-DD): " + s;
    },
    "DATE");

void AddCommonFlags(CLI::App& cmd, CommonFlags& flags, bool several_stores) {
  cmd.add_option("--config", flags.config, "Settings file (TOML; see ops/examples/*.toml)");
  cmd.add_option("--brokers", flags.brokers, "Kafka bootstrap servers HOST:PORT,...");
  cmd.add_option("--kafka", flags.kafka, "librdkafka setting key=value (repeatable)");
  if (several_stores) {
    cmd.add_option("--data", flags.stores,
                   "Store directory (default ./careledger-data); repeat it to read the stores of "
                   "several instances of one consumer group as one (their partitions disjoint)");
  } else {
    cmd.add_option("--data", flags.data, "Store directory (default ./careledger-data)");
  }
  cmd.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, off");
}

Result<Context> Resolve(const CommonFlags& flags) {
  auto config = ResolveConfig({.config_file = flags.config,
                               .brokers = flags.brokers,
                               .data = flags.stores.empty() ? flags.data : flags.stores.front(),
                               .log_level = flags.log_level,
                               .kafka = flags.kafka},
                              CareledgerEnvironment());
  if (!config.ok()) return config.status();
  Context ctx;
  ctx.config = std::move(config).value();
  ctx.kafka = ctx.config.KafkaSettings();
  ctx.data_dir = ctx.config.data_dir();
  ctx.data_dirs = flags.stores.size() > 1 ? flags.stores : std::vector<std::string>{ctx.data_dir};
  ctx.log_level = ctx.config.log_level();
  ctx.local_postcode_districts = ctx.config.LocalPostcodeDistricts();
  CARELEDGER_RETURN_IF_ERROR(InitLogging(ctx.log_level));
  for (const auto& w : ctx.config.warnings()) spdlog::warn("{}", w);
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

Status RequireBrokers(const Context& ctx) {
  if (ctx.kafka.count("bootstrap.servers")) return Status::Ok();
  return Status::BadInput(
      "no Kafka brokers: pass --brokers HOST:PORT (start one with `careledger broker`)");
}

int Fail(const Status& s) {
  std::cerr << "careledger: " << s.message() << '\n';
  // Its own code, so a service manager can be told not to restart into the same gap
  // (RestartPreventExitStatus=3 in ops/systemd).
  return s.error_class() == ErrorClass::kGap ? kExitGap : 1;
}

std::string Rate(uint64_t n, double seconds) {
  return std::to_string(seconds > 0 ? uint64_t(double(n) / seconds) : 0) + "/s";
}

}  // namespace careledger::app
