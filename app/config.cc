// careledger config check: the effective settings, validated, with secrets masked.
#include <iostream>
#include <memory>

#include "careledger/kafka.h"
#include "cli.h"

namespace careledger::app {

namespace {

// librdkafka judges each property on its own, so a refusal can name the line it came from.
Status CheckWithLibrdkafka(const Config& config) {
  for (const auto& [key, v] : config.entries()) {
    std::string property;
    if (key == "brokers") {
      property = "bootstrap.servers";
    } else if (key.starts_with("kafka.")) {
      property = key.substr(6);
    } else {
      continue;
    }
    if (Status s = CheckKafkaSettings({{property, v.value}}); !s.ok()) {
      return Status::BadInput((v.where.empty() ? std::string("default") : v.where) + ": '" + key +
                              "': " + s.message());
    }
  }
  return Status::Ok();
}

}  // namespace

Command AddConfig(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string action;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "config",
      "check: validate the settings file, CARELEDGER_* variables and flags together, as every "
      "subcommand would, and print the effective settings one per line, sorted, each with where "
      "it came from (default, file, env, flag); secrets are masked. Exit 1 naming the file:line "
      "(or variable, or flag) and the key of the first invalid setting");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("action", o->action, "check")->required()->check(CLI::IsMember({"check"}));
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            if (Status s = CheckWithLibrdkafka(ctx->config); !s.ok()) return Fail(s);
            // The KPIs against the metrics they name (a measure is checked when one is read).
            if (auto kpis = KpisFromSettings(ctx->config.KpiSettings()); !kpis.ok()) {
              return Fail(kpis.status());
            }
            std::cout << ctx->config.Describe();
            return 0;
          }};
}

}  // namespace careledger::app
