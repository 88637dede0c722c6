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

// Says who this instance is and what it answers for: at each assignment, once it has read
// them to the end, again every InstanceRecord::kEvery (its time says it is alive) and, with no
// partitions, when it stops.
// A record that cannot be sent is logged and never stops ingest.
class InstanceAnnouncer {
 public:
  InstanceAnnouncer(Settings kafka, std::string instance, std::string group,
                    std::string advertised);
  ~InstanceAnnouncer();
  InstanceAnnouncer(const InstanceAnnouncer&) = delete;
  InstanceAnnouncer& operator=(const InstanceAnnouncer&) = delete;

  // `of`: the source topics' partition count; `reading`: those of `partitions` not yet read to
  // the end.
  void Assigned(const std::vector<TopicPartition>& partitions, int32_t of,
                std::vector<int32_t> reading);
  void Revoked();       // holds none until the next assignment
  void ReadToTheEnd();  // said at once, the first time after an assignment
  void Tick();          // between batches
  void Stopped();       // waits up to 5 s for the record to be delivered

 private:
  using Clock = std::chrono::steady_clock;
  void Announce(bool running);
  Settings settings_;
  InstanceRecord record_;
  Clock::time_point last_{};
  std::unique_ptr<Producer> producer_;  // opened at the first record
};

}  // namespace careledger
