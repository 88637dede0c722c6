// Ingest's side of careledger.instances.v1 (consumers.h, "the instances of a group"). A private
// header of consumers/.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "careledger/consumers.h"
#include "careledger/kafka.h"

namespace careledger {

// Says who this instance is and what it answers for: at each assignment, again every
// InstanceRecord::kEvery (its time says it is alive) and, with no partitions, when it stops.
// A record that cannot be sent is logged and never stops ingest.
class InstanceAnnouncer {
 public:
  InstanceAnnouncer(Settings kafka, std::string instance, std::string group,
                    std::string advertised);
  ~InstanceAnnouncer();
  InstanceAnnouncer(const InstanceAnnouncer&) = delete;
  InstanceAnnouncer& operator=(const InstanceAnnouncer&) = delete;

  void Assigned(const std::vector<TopicPartition>& partitions);
  void Tick();     // between batches
  void Stopped();  // waits up to 5 s for the record to be delivered

 private:
  using Clock = std::chrono::steady_clock;
  void Announce(bool running);
  Settings settings_;
  InstanceRecord record_;
  Clock::time_point last_{};
  std::unique_ptr<Producer> producer_;  // opened at the first record
};

}  // namespace careledger
