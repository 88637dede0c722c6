// The HTTP server's internals shared by its files (http.cc: start, connections and lifecycle;
// http_routes.cc: the routes and API handlers; http_metrics.cc: the Prometheus text). Private
// to reporting/.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>

#include "careledger/reporting.h"

namespace careledger::http_detail {

using Clock = std::chrono::steady_clock;

// The monitoring figures (a few queries), kept for as long as the store's log and the day are
// the same: a scrape (or a dashboard poll) of an idle store costs nothing.
struct MonitoringFigures {
  uint64_t log_next = 0;  // the store's next_sequence() when computed
  Date day{};
  int64_t care_leavers = 0, missing_open = 0, missing_month = 0;
  std::map<std::string, int64_t> yjs_open;
  // The cohorts whose count the published view leaves out: small, or hidden so that the total
  // the API publishes beside them cannot give a small one back.
  std::set<std::string> yjs_withheld;
  // Each KPI's status for the last complete quarter (careledger_kpi_status).
  std::vector<std::pair<std::string, int>> kpi_status = {};
};

// The Prometheus text exposition (format 0.0.4) of the monitoring gauges (and, given an ingest
// monitor, the pipeline metrics); published: counts from 1 to threshold-1 are left out. The
// figures are read from `stores` (this store, then the group's other instances' for the area:
// FanOut); the store's own gauges (gaps, held corrections, size) from `store`. `cached` is read
// again only when the log or the day has moved on, and at every scrape when other instances'
// stores are read.
Result<std::string> PrometheusMetrics(const EventStore& store, const Stores& stores,
                                      const ServeOptions& options, bool published,
                                      MonitoringFigures& cached);

// Connections to the group's other instances kept open across figures, by address: a figure
// takes one for each peer it asks and gives it back, so that a figure does not open a
// connection (over TLS, a handshake) to every peer it asks.
class PeerConnections {
 public:
  // One kept open to `advertised` (`kept`), else a new one set up with the options' timeouts
  // and CA.
  std::unique_ptr<httplib::Client> Take(const std::string& advertised, const ServeOptions& options,
                                        bool& kept);
  void Give(const std::string& advertised, std::unique_ptr<httplib::Client> client);

 private:
  static constexpr size_t kIdlePerPeer = 8;  // as many figures at once as are worth keeping for
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle_;
};

// Another instance of the group's store, read over its internal API (peers.cc).
class PeerStore final : public RemoteStore {
 public:
  // `connections`: where its connection comes from and goes back to (null: its own).
  PeerStore(const PeerInstance& peer, const ServeOptions& options,
            PeerConnections* connections = nullptr);
  ~PeerStore() override;
  PeerStore(const PeerStore&) = delete;
  PeerStore& operator=(const PeerStore&) = delete;
  std::string Name() const override;
  std::set<int32_t> Partitions() const override { return partitions_; }
  Result<std::string> Read(const std::string& request) const override;
  void Failed(const Status& why) const override;
  // Why a read of it failed, if one did.
  std::optional<std::string> failure() const;

 private:
  PeerInstance peer_;
  std::set<int32_t> partitions_;
  std::string token_;
  const ServeOptions& options_;
  PeerConnections* connections_;
  // Kept open across one figure's reads; replaced once when a kept connection had been closed.
  mutable std::unique_ptr<httplib::Client> client_;
  mutable bool kept_ = false;  // taken open from `connections_`, not used yet
  mutable std::mutex mu_;
  mutable std::optional<std::string> failure_;
};

// Of `own` (this store's partitions), those its ingest has been given and has not yet read to
// the end: as the pipeline in this process says (all of them until it first has), or as the
// ingest beside it last announced.
std::set<int32_t> StillReading(const ServeOptions& options, const std::set<int32_t>& own,
                               const GroupView& group);

// The stores one figure reads: this instance's, then those of the group's other live instances
// for the partitions this one does not answer for; and the partitions left out, with why.
struct FanOut {
  FanOut(const EventStore& store, const ServeOptions& options,
         PeerConnections* connections = nullptr);
  Status status = Status::Ok();  // of reading this store's assignment
  Stores stores;
  std::set<int32_t> own, covered, missing;
  struct LeftOut {
    PeerInstance peer;
    std::set<int32_t> partitions;
    std::string why;
  };
  std::vector<LeftOut> left_out;

  // Runs `figure` over the stores; while it fails for a peer's read, leaves that peer out (its
  // partitions then missing) and runs it again.
  template <typename T>
  Result<T> Run(const std::function<Result<T>(const Stores&)>& figure) {
    for (;;) {
      auto out = figure(stores);
      if (out.ok() || out.status().error_class() != ErrorClass::kRetriable || !DropFailed()) {
        return out;
      }
    }
  }
  // The response's coverage: X-Careledger-Partitions (those answered for), -Partial,
  // -Missing-Partitions and -Peers (the instances whose answers the figure holds) always; and, when
  // partitions are missing, "partial": true and "coverage" in the body, naming who holds them and
  // why they were not asked. A whole answer's body stays the report's JSON. A peer whose read
  // failed after the figure (a published view's breakdowns) is left out first: the figure is then
  // marked partial rather than passed off as whole.
  void Describe(httplib::Response& res, std::string& body);
  size_t asked() const { return peers_.size(); }  // the other instances read

 private:
  bool DropFailed();
  void Leave(const PeerInstance& peer, const std::set<int32_t>& theirs, const std::string& why);
  struct Asked {
    PeerInstance peer;
    std::set<int32_t> partitions;
    std::unique_ptr<PeerStore> store;
  };
  std::vector<Asked> peers_;
};

}  // namespace careledger::http_detail

namespace careledger {

struct HttpServer::Impl {
  ServeOptions options;
  std::unique_ptr<httplib::Server> server;  // an httplib::SSLServer when serving TLS
  int listen_fd = -1;                       // the listening socket, once bound
  std::thread thread;
  std::string address;
  std::atomic<EventStore*> store{nullptr};
  std::shared_mutex mu;  // shared: reads; exclusive: CatchUp
  http_detail::Clock::time_point last_catch_up{};
  std::mutex gauges_mu;  // one scrape folds at a time; the next reads its figures
  http_detail::MonitoringFigures gauges;
  http_detail::PeerConnections peer_connections;

  // The store, up to date to within catch_up_interval, locked for reading; null (and the
  // response set) when there is none yet or catching up failed.
  // Not `wait_to_catch_up`: when another request is catching the store up, read it as it is.
  EventStore* Fresh(std::shared_lock<std::shared_mutex>& lock, httplib::Response& res,
                    bool wait_to_catch_up = true);

  bool Ready(std::string& why) const {
    if (!options.pipeline_only && !store.load()) {
      why = "the store is not open yet";
      return false;
    }
    if (options.pipeline && !options.pipeline->CaughtUp()) {
      why = "ingest has not caught up with the broker yet";
      return false;
    }
    return true;
  }

  // Start's steps, in order: the server (plain or TLS), how it takes connections, its routes
  // (http_routes.cc), then the bound socket and the address it is known by.
  Status MakeServer();
  void ConfigureConnections();
  void Routes();
  Status Bind(const std::string& host, int port);

  void Metric(const httplib::Request& req, httplib::Response& res);
  void InternalRead(const httplib::Request& req, httplib::Response& res);
  void Lineage(const httplib::Request& req, httplib::Response& res);
  void DeadLetters(const httplib::Request& req, httplib::Response& res);
  void Panel(const httplib::Request& req, httplib::Response& res);
  void Kpis(const httplib::Request& req, httplib::Response& res);
  void Prometheus(const httplib::Request& req, httplib::Response& res);
};

}  // namespace careledger
