// Ingest's dead-letter outbox (the sending side of the dead-letter topic) and the faults the
// kill -9 tests inject around it. A private header of consumers/.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "careledger/common.h"
#include "careledger/config.h"
#include "careledger/kafka.h"
#include "careledger/store.h"

namespace careledger {

// Fault injection for the kill -9 tests, and nothing else: CARELEDGER_FAULT, read once per
// process, makes ingest SIGKILL itself at a moment a test cannot hit from outside:
//   die-after-write    a batch holding dead letters is durable; none of them is sent yet
//   die-after-publish  the dead-letter topic acknowledged some; their marks are not cleared
enum class Fault { kNone, kDieAfterWrite, kDieAfterPublish };
Fault InjectedFault();
// Logs `where`, flushes the log and SIGKILLs this process.
void DieOfInjectedFault(std::string_view where);

using DeadLetterRef = std::pair<TopicPartition, int64_t>;  // as ParseDeadLetterId has it

// The dead-letter outbox's sending side. Ingest stores each dead letter with an unpublished
// mark in its batch (Batch::PutDeadLetter); this sends it once that batch is durable, and
// clears the mark only after the topic's delivery report, for many letters in one store write.
// A process that dies between the two leaves the mark, and the next start sends it (Recover).
class DeadLetterOutbox {
 public:
  DeadLetterOutbox(EventStore& store, Settings kafka) : store_(store), settings_(std::move(kafka)) {
    settings_.erase("group.id");
  }
  DeadLetterOutbox(const DeadLetterOutbox&) = delete;  // the producer's callback holds `this`
  DeadLetterOutbox& operator=(const DeadLetterOutbox&) = delete;

  // Letters whose batch is durable; their marks are cleared by a Settle after delivery.
  void Send(const std::vector<DeadLetter>& letters);
  // Serves the delivery reports that have arrived and clears the delivered letters' marks.
  void Settle();
  // Waits up to `timeout` for every report, then settles.
  void Finish(std::chrono::milliseconds timeout);
  // At start: sends what a previous process left marked, except what the topic already holds.
  void Recover();

 private:
  bool OpenProducer();
  EventStore& store_;
  Settings settings_;
  uint64_t next_tag_ = 1;
  std::unordered_map<uint64_t, DeadLetterRef> sent_;  // by tag, awaiting a report
  std::vector<DeadLetterRef> delivered_;              // marks to clear
  // Declared last, so destroyed first: its destructor's flush reports into the members above.
  std::unique_ptr<Producer> producer_;  // opened at the first dead letter
};

}  // namespace careledger
