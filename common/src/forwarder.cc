#include "forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace careledger {

namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TcpForwarder>> TcpForwarder::Start(int listen_port, int target_port) {
  std::unique_ptr<TcpForwarder> f(new TcpForwarder());
  f->target_port_ = target_port;
  f->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(f->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = Loopback(listen_port);
  if (::bind(f->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(f->listen_fd_, 64) != 0) {
    return Status::Fatal("cannot listen on 127.0.0.1:" + std::to_string(listen_port) + ": " +
                         std::strerror(errno));
  }
  if (::pipe2(f->wake_, O_CLOEXEC) != 0) return Status::Fatal("pipe failed");
  f->acceptor_ = std::thread([p = f.get()] { p->AcceptLoop(); });
  return f;
}

TcpForwarder::~TcpForwarder() {
  if (wake_[1] >= 0) WriteAll(wake_[1], "x", 1);
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : relays_) t.join();
  for (int fd : {listen_fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

void TcpForwarder::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mu_);
    relays_.emplace_back([this, client] { Relay(client); });
  }
}

void TcpForwarder::Relay(int client) {
  int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(target_port_);
  if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    char buf[64 * 1024];
    for (bool open = true; open;) {
      pollfd fds[3] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0 && errno != EINTR) break;
      if (fds[2].revents) break;
      for (int i = 0; i < 2 && open; ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        open = n > 0 && WriteAll(i == 0 ? upstream : client, buf, size_t(n));
      }
    }
  }
  ::close(upstream);
  ::close(client);
}

}  // namespace careledger
