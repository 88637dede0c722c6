// `careledger instances`: the instances of each consumer group as they announce themselves on
// careledger.instances.v1 (consumers.h, "the instances of a group").
#include <iostream>
#include <map>

#include "cli.h"

namespace careledger::app {

namespace {

// running, stopped, or stale: running by its last record, which is older than a live instance
// lets a record get (it was killed, or its host lost).
std::string_view StateOf(const InstanceRecord& r, Instant now) {
  if (!r.running) return "stopped";
  return now - r.at > InstanceRecord::kStaleAfter ? "stale" : "running";
}

std::string Partitions(const std::vector<int32_t>& partitions) {
  std::string out;
  for (int32_t p : partitions) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out.empty() ? "-" : out;
}

}  // namespace

Command AddInstances(CLI::App& app) {
  struct Opts {
    CommonFlags common;
    std::string format = "table";
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("instances",
                                 "The ingest and run instances of each group: their partitions, "
                                 "those still being read, and API address");
  AddCommonFlags(*cmd, o->common);
  cmd->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  return {cmd, [o] {
            auto ctx = Resolve(o->common);
            if (!ctx.ok()) return Fail(ctx.status());
            if (Status s = RequireBrokers(*ctx); !s.ok()) return Fail(s);
            auto records = ReadInstances(ctx->kafka, std::chrono::seconds(10));
            if (!records.ok()) return Fail(records.status());
            const Instant now = std::chrono::time_point_cast<std::chrono::seconds>(
                std::chrono::system_clock::now());
            // A partition two live instances of one group claim: one of them has not heard of
            // the rebalance yet (or died without saying so, until it is stale).
            std::map<std::pair<std::string, int32_t>, std::vector<std::string>> claims;
            for (const auto& r : *records) {
              if (StateOf(r, now) != "running") continue;
              for (int32_t p : r.partitions) claims[{r.group, p}].push_back(r.instance);
            }
            if (o->format == "json") {
              std::cout << "[";
              for (size_t i = 0; i < records->size(); ++i) {
                const auto& r = (*records)[i];
                std::string line = EncodeInstanceRecord(r);
                line.pop_back();  // the object's '}', to add the state judged now
                line += ",\"state\":\"" + std::string(StateOf(r, now)) + "\"}";
                std::cout << (i ? ",\n " : "") << line;
              }
              std::cout << "]\n";
            } else {
              std::cout << "instance\tgroup\tstate\tpartitions\treading\tadvertised\tsaid_at\n";
              for (const auto& r : *records) {
                std::cout << r.instance << '\t' << r.group << '\t' << StateOf(r, now) << '\t'
                          << Partitions(r.partitions) << '\t' << Partitions(r.reading) << '\t'
                          << (r.advertised.empty() ? "-" : r.advertised) << '\t'
                          << FormatInstant(r.at) << '\n';
              }
            }
            for (const auto& [at, instances] : claims) {
              if (instances.size() < 2) continue;
              std::string names;
              for (const auto& n : instances) names += (names.empty() ? "" : " and ") + n;
              std::cerr << "careledger: group " << at.first << ": partition " << at.second
                        << " is claimed by " << names << " (a rebalance not yet heard of)\n";
            }
            return 0;
          }};
}

}  // namespace careledger::app
