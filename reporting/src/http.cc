// The HTTP server behind `careledger serve` and `careledger run` (docs/api.md), on cpp-httplib:
// its start (the listen address, TLS and exposure checks, binding), its connection pool and its
// lifecycle; the routes are in http_routes.cc, /metrics' text in http_metrics.cc.
// Handlers run on httplib's thread pool; the store is read concurrently, and a secondary store
// is brought up to date under an exclusive lock between reads.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "careledger/reporting.h"
#include "http_server.h"

namespace careledger {

namespace {

// httplib's own pool has a fixed number of threads (8 on this machine) and each is held for
// a connection's whole life, so eight idle sockets kept /healthz waiting for seconds. This
// pool starts a thread whenever no worker is free, up to `max`, and lets a thread go after a
// while idle. At `max`, enqueue waits: the listen thread stops accepting, and further
// connections queue in the kernel (bounded by the listen backlog) rather than in memory.
class ConnectionWorkers : public httplib::TaskQueue {
 public:
  explicit ConnectionWorkers(size_t max) : max_(max) {}
  ~ConnectionWorkers() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return jobs_.size() < idle_ || threads_ < max_ || stopping_; });
    jobs_.push_back(std::move(fn));
    if (jobs_.size() <= idle_) {
      work_.notify_one();
      return;
    }
    ++threads_;
    // Detached: a worker leaves on its own when idle, and shutdown waits for the count.
    std::thread([this] { Work(); }).detach();
  }

  void shutdown() override {
    std::unique_lock lock(mu_);
    stopping_ = true;
    work_.notify_all();
    room_.notify_all();
    gone_.wait(lock, [&] { return threads_ == 0; });
  }

 private:
  static constexpr auto kIdleExit = std::chrono::seconds(30);

  void Work() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      work_.wait_for(lock, kIdleExit, [&] { return !jobs_.empty() || stopping_; });
      --idle_;
      if (jobs_.empty()) break;  // idle too long, or stopping
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
      room_.notify_one();
    }
    --threads_;
    room_.notify_one();
    gone_.notify_all();  // under the lock: `this` may be gone as soon as it is released
  }

  const size_t max_;
  std::mutex mu_;
  std::condition_variable work_, room_, gone_;
  std::deque<std::function<void()>> jobs_;
  size_t threads_ = 0, idle_ = 0;
  bool stopping_ = false;
};

// Loopback as the operator writes it: 127.0.0.0/8, ::1 (bracketed or not) and localhost. Any
// other name counts as public, even one that resolves to loopback today.
bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// What serving on `host` as configured lacks to keep figures and the token off the wire in
// clear: nothing on loopback, otherwise TLS and a token.
std::vector<std::string> PublicExposure(const std::string& host, const ServeOptions& o) {
  std::vector<std::string> missing;
  if (IsLoopback(host)) return missing;
  if (o.tls_cert_path.empty()) missing.emplace_back("TLS (serve.tls_cert and serve.tls_key)");
  if (o.token.empty()) missing.emplace_back("a bearer token (serve.token)");
  return missing;
}

// HOST:PORT as serve.listen gives it (port 0: any free one).
struct ListenAddress {
  std::string host = {};
  int port = -1;
};

Result<ListenAddress> ParseListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      port = std::stoi(listen.substr(colon + 1), &used);
      if (used != listen.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    return Status::BadInput("serve.listen: not HOST:PORT: " + listen);
  }
  return ListenAddress{listen.substr(0, colon), port};
}

// Before anything is bound: TLS whole or not at all, no figures or token in clear off loopback
// unless the operator said so (then a warning), and certificate files this process can read.
Status CheckServing(const std::string& host, const ServeOptions& options) {
  if (options.tls_cert_path.empty() != options.tls_key_path.empty()) {
    return Status::BadInput("serve: TLS needs both serve.tls_cert and serve.tls_key");
  }
  if (auto lacking = PublicExposure(host, options); !lacking.empty()) {
    std::string missing = lacking[0] + (lacking.size() > 1 ? " and " + lacking[1] : "");
    if (!options.insecure_public) {
      return Status::BadInput(
          "refusing to serve on " + options.listen + ": it is not a loopback address, and " +
          missing + (lacking.size() > 1 ? " are" : " is") +
          " missing. Give them (--tls-cert, --tls-key; serve.token in the settings "
          "file), listen on 127.0.0.1, or pass --insecure-public to serve without them");
    }
    spdlog::warn(
        "serve: serving on {} without {} (--insecure-public): anyone who can reach it "
        "can read published figures, and a token sent in clear can be read on the way",
        options.listen, missing);
  }
  for (const std::string* path : {&options.tls_cert_path, &options.tls_key_path}) {
    if (!path->empty() && ::access(path->c_str(), R_OK) != 0) {
      return Status::BadInput("serve: cannot read " + *path + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

// httplib's getaddrinfo wants an IPv6 literal without its brackets.
std::string BindHost(const std::string& host) {
  std::string bind_host = host;
  if (bind_host.size() > 2 && bind_host.front() == '[' && bind_host.back() == ']') {
    bind_host = bind_host.substr(1, bind_host.size() - 2);
  }
  return bind_host;
}

}  // namespace

Status HttpServer::Impl::MakeServer() {
  const ServeOptions& o = options;
  if (o.tls_cert_path.empty()) {
    server = std::make_unique<httplib::Server>();
  } else {
    server = std::make_unique<httplib::SSLServer>(o.tls_cert_path.c_str(), o.tls_key_path.c_str());
    if (!server->is_valid()) {
      return Status::BadInput("serve: the TLS certificate " + o.tls_cert_path + " or key " +
                              o.tls_key_path +
                              " could not be used (not PEM, or the key is not the certificate's)");
    }
  }
  return Status::Ok();
}

void HttpServer::Impl::ConfigureConnections() {
  const ServeOptions& o = options;
  httplib::Server& http = *server;
  size_t max_connections = std::max<size_t>(o.max_connections, 1);
  http.new_task_queue = [max_connections] { return new ConnectionWorkers(max_connections); };
  http.set_read_timeout(o.read_timeout);
  http.set_keep_alive_timeout(o.keep_alive_seconds);
  // Only another instance's read has a body (a few ids at most); httplib reads a body before
  // any handler can refuse it, so one sent by anyone is bounded here.
  http.set_payload_max_length(size_t{8} << 20);
  // A response goes out as headers then body: with Nagle's algorithm the body waits for the
  // client's delayed ACK of the headers, 40 ms on Linux, on every request of a kept-open
  // connection (measured: 41 ms p50 for a 1 ms figure).
  http.set_tcp_nodelay(true);
  http.set_socket_options([this](socket_t fd) {
    httplib::default_socket_options(fd);
    // A connection that sends nothing is not handed to accept (so takes no thread) until its
    // first bytes arrive or a few seconds of SYN-ACK retries have passed; then the keep-alive
    // timeout closes it.
    int seconds = 2;
    ::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds);
    listen_fd = fd;
  });
}

Status HttpServer::Impl::Bind(const std::string& host, int port) {
  const ServeOptions& o = options;
  const std::string bind_host = BindHost(host);
  httplib::Server& http = *server;
  if (port == 0) {
    port = http.bind_to_any_port(bind_host);
    if (port < 0) return Status::Fatal("cannot listen on " + host + ": no free port");
  } else if (!http.bind_to_port(bind_host, port)) {
    return Status::Fatal("cannot listen on " + o.listen +
                         " (in use, or not an address of this machine)");
  }
  // httplib listens with a backlog of 5; listen() again on the bound socket sets ours.
  if (listen_fd < 0 || ::listen(listen_fd, o.listen_backlog) != 0) {
    spdlog::warn("serve: could not set the listen backlog to {}; httplib's 5 stands",
                 o.listen_backlog);
  }
  address = host + ":" + std::to_string(port);
  return Status::Ok();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(ServeOptions options) {
  auto listen_at = ParseListen(options.listen);
  if (!listen_at.ok()) return listen_at.status();
  CARELEDGER_RETURN_IF_ERROR(CheckServing(listen_at->host, options));

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.options = std::move(options);
  CARELEDGER_RETURN_IF_ERROR(impl.MakeServer());
  impl.ConfigureConnections();
  impl.Routes();
  CARELEDGER_RETURN_IF_ERROR(impl.Bind(listen_at->host, listen_at->port));
  impl.thread = std::thread([&impl] { impl.server->listen_after_bind(); });
  return server;
}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Attach(EventStore& store) {
  impl_->store.store(&store);
}

std::string HttpServer::address() const {
  return impl_->address;
}

bool HttpServer::tls() const {
  return !impl_->options.tls_cert_path.empty();
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->server->stop();
  impl_->thread.join();
}

}  // namespace careledger
