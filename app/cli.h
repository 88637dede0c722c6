// Private to app/: what every subcommand shares.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "careledger/common.h"
#include "careledger/config.h"
#include "careledger/consumers.h"
#include "careledger/producers.h"
#include "careledger/reporting.h"

namespace careledger::app {

// Flags every subcommand accepts after its name (spec/cli.md).
struct CommonFlags {
  std::string config;
  std::string brokers;
  std::vector<std::string> kafka;  // key=value, passed to librdkafka
  std::string data;
  std::vector<std::string> stores;  // --data given more than once (report, lineage)
  std::string log_level;
};
// `several_stores`: --data may be repeated (the stores of several instances, read as one).
void AddCommonFlags(CLI::App& cmd, CommonFlags& flags, bool several_stores = false);

// The effective settings (careledger/config.h: defaults, then the settings file, then
// CARELEDGER_* environment variables, then flags), unpacked for the subcommands.
struct Context {
  Config config;
  Settings kafka;
  std::string data_dir;
  std::vector<std::string> data_dirs;  // data_dir, or every --data given to report and lineage
  std::string log_level;
  // SSDA903 feed settings from the settings file (`ssda903.local_postcode_districts`).
  std::vector<std::string> local_postcode_districts;
};
// Resolves the settings and sets up logging at their level.
Result<Context> Resolve(const CommonFlags& flags);

// CLI11 validator for YYYY-MM-DD.
extern const CLI::Validator kIsoDate;

// SIGINT/SIGTERM are blocked in every thread and taken here: the first asks for a clean stop,
// a second exits at once (the store is crash-safe, so that loses nothing).
class SignalWatcher {
 public:
  SignalWatcher();
  ~SignalWatcher();
  const std::atomic<bool>& stop() const { return stop_; }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};
// Call first in main, before any thread exists, so that every thread inherits the mask.
void BlockStopSignals();

// The consuming side that `ingest` and `run` share: the same flags, the same options (and so
// both serve `careledger replay` requests).
struct IngestFlags {
  std::string group = "careledger-ingest";
  size_t max_batch = 5000;
  std::vector<std::string> accept_gaps;  // TOPIC:PARTITION
  std::string instance_id;               // empty: ingest.instance_id
  std::string advertised;                // run: where the other instances reach its API
};
void AddIngestFlags(CLI::App& cmd, IngestFlags& flags);
Result<IngestOptions> ToIngestOptions(const IngestFlags& flags, const Context& ctx);
// Where the serve of this store answers the group's other instances, from the settings:
// serve.advertised, else serve.listen when it names one address (not a wildcard or port 0).
std::string ServeAddress(const Config& config);

// What a server sees of the ingest in its process (`run`, `ingest --metrics-listen`).
class IngestView : public PipelineView {
 public:
  explicit IngestView(const IngestMonitor& monitor) : monitor_(monitor) {}
  bool CaughtUp() const override { return monitor_.Read().caught_up; }
  std::set<int32_t> CatchingUp() const override {
    auto partitions = monitor_.Read().catching_up;
    return {partitions.begin(), partitions.end()};
  }
  void AppendMetrics(PrometheusText& out) const override {
    AppendIngestMetrics(monitor_.Read(), out);
  }

 private:
  const IngestMonitor& monitor_;
};

// BadInput unless the settings name Kafka brokers.
Status RequireBrokers(const Context& ctx);

// Exit codes: 0 done, 1 failed (the reason on stderr), 2 usage, kExitGap an offset gap that
// an operator must decide about (ops/runbooks/offset-gap.md).
constexpr int kExitGap = 3;
// Prints "careledger: <reason>" on stderr and returns the exit code for it.
int Fail(const Status& s);

// "<n/seconds>/s", the rate the summaries below print.
std::string Rate(uint64_t n, double seconds);
// The summaries on stderr that publish and ingest end with (and demo, which runs both).
void PrintPublishSummary(const PublishReport& r, FeedFormat format);
void PrintIngestSummary(const IngestStats& s);

// Subcommands: each registers itself and returns what runs it once parsed. Each parses its
// flags, wires modules together, and maps the outcome to an exit code; the work itself lives in
// the modules.
struct Command {
  CLI::App* cli = nullptr;
  std::function<int()> run;
};
Command AddBroker(CLI::App& app);
Command AddGenerate(CLI::App& app);
Command AddPublish(CLI::App& app);
Command AddIngest(CLI::App& app);
Command AddReport(CLI::App& app);
Command AddLineage(CLI::App& app);
Command AddDemo(CLI::App& app);
Command AddVerify(CLI::App& app);
Command AddBackup(CLI::App& app);
Command AddRestore(CLI::App& app);
Command AddDeadLetter(CLI::App& app);
Command AddCorrections(CLI::App& app);
Command AddConfig(CLI::App& app);
Command AddReplay(CLI::App& app);
Command AddServe(CLI::App& app);
Command AddRun(CLI::App& app);
Command AddReconcile(CLI::App& app);
Command AddReference(CLI::App& app);
Command AddBoardPack(CLI::App& app);
Command AddInstances(CLI::App& app);

}  // namespace careledger::app
