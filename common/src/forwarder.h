// A loopback TCP forwarder: accepts on a fixed port and relays bytes both ways to one target.
// Private to the kafka module (used for `careledger broker --port`).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "careledger/common.h"

namespace careledger {

class TcpForwarder {
 public:
  static Result<std::unique_ptr<TcpForwarder>> Start(int listen_port, int target_port);
  ~TcpForwarder();  // stops accepting, closes every relayed connection, joins its threads

 private:
  TcpForwarder() = default;
  void AcceptLoop();
  void Relay(int client);

  int listen_fd_ = -1;
  int target_port_ = 0;
  int wake_[2] = {-1, -1};  // a pipe: written once to stop every thread
  std::mutex mu_;
  std::vector<std::thread> relays_;
  std::thread acceptor_;
};

}  // namespace careledger
