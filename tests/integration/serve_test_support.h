// Test-only: what the serve tests share: the API token and a loopback client, and a free
// port for a listener. Shared by serve_test.cc, serve_gauges_test.cc and serve_run_test.cc.
#pragma once

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

namespace careledger {

inline const std::string kToken = "0123456789abcdef0123456789abcdef0123456789abcdef";

// "http://127.0.0.1:PORT" → a client for it.
inline std::unique_ptr<httplib::Client> ClientFor(const std::string& url) {
  auto client = std::make_unique<httplib::Client>(url);
  client->set_read_timeout(std::chrono::seconds(10));
  return client;
}

inline httplib::Headers Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace careledger
