#include "dead_letter_outbox.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include "careledger/events.h"

namespace careledger {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

Fault InjectedFault() {
  static const Fault fault = [] {
    const char* env = std::getenv("CARELEDGER_FAULT");
    if (!env || !*env) return Fault::kNone;
    std::string_view v(env);
    Fault f = v == "die-after-write"     ? Fault::kDieAfterWrite
              : v == "die-after-publish" ? Fault::kDieAfterPublish
                                         : Fault::kNone;
    if (f == Fault::kNone) {
      spdlog::warn("CARELEDGER_FAULT={} is not a fault this build injects; ignored", v);
    } else {
      spdlog::warn("CARELEDGER_FAULT={}: fault injection is on, ingest will kill itself", v);
    }
    return f;
  }();
  return fault;
}
void DieOfInjectedFault(std::string_view where) {
  spdlog::warn("CARELEDGER_FAULT: SIGKILL {}", where);
  spdlog::default_logger()->flush();
  std::raise(SIGKILL);
}

bool DeadLetterOutbox::OpenProducer() {
  if (producer_) return true;
  auto producer = Producer::Open(settings_, [this](uint64_t tag, const Status& s) {
    auto it = sent_.find(tag);
    if (it == sent_.end()) return;
    if (s.ok()) {
      delivered_.push_back(std::move(it->second));
    } else {
      // Not sent again in this run: a failed report does not say the broker lacks it. The
      // mark stays, and the next start checks the topic before sending it.
      spdlog::warn(
          "a dead letter did not reach {} ({}); the store has it, and the next start "
          "sends it",
          kTopicDeadLetter, s.message());
    }
    sent_.erase(it);
  });
  if (!producer.ok()) {
    spdlog::warn(
        "cannot publish dead letters to {}: {}; the store has them, and the next start "
        "sends them",
        kTopicDeadLetter, producer.status().message());
    return false;
  }
  producer_ = std::move(producer.value());
  return true;
}

void DeadLetterOutbox::Send(const std::vector<DeadLetter>& letters) {
  if (letters.empty() || !OpenProducer()) return;
  for (const auto& d : letters) {
    std::string partition = std::to_string(d.from.partition);
    std::string offset = std::to_string(d.offset);
    std::string_view kind = RejectKindName(d.kind);
    uint64_t tag = next_tag_++;
    sent_.emplace(tag, DeadLetterRef{d.from, d.offset});
    // Keyed by the source coordinates: Recover finds a letter on the topic by its key.
    Status s = producer_->Produce(kTopicDeadLetter, d.Id(), d.payload,
                                  {{"error", kind},
                                   {"error_detail", d.reason},
                                   {"source_topic", d.from.topic},
                                   {"source_partition", partition},
                                   {"source_offset", offset}},
                                  tag);
    if (!s.ok()) {
      sent_.erase(tag);
      spdlog::warn("dead letter {} not published: {}", d.Id(), s.message());
    }
  }
}

void DeadLetterOutbox::Settle() {
  if (producer_) producer_->Poll();
  if (delivered_.empty()) return;
  if (InjectedFault() == Fault::kDieAfterPublish) {
    DieOfInjectedFault("after the dead-letter topic acknowledged, before the marks are cleared");
  }
  if (Status s = store_.MarkDeadLettersPublished(delivered_); !s.ok()) {
    // Kept, to clear with the next ones; the marks only cost a check at the next start.
    spdlog::warn("dead letters published but still marked unpublished: {}", s.message());
    return;
  }
  delivered_.clear();
}

void DeadLetterOutbox::Finish(std::chrono::milliseconds timeout) {
  if (producer_) {
    if (Status s = producer_->Flush(timeout); !s.ok()) {
      spdlog::warn(
          "dead letters not all published to {}: {}; the store has them, and the next "
          "start sends them",
          kTopicDeadLetter, s.message());
    }
  }
  Settle();
}

void DeadLetterOutbox::Recover() {
  std::map<std::string, DeadLetterRef> left;  // by id, the topic's key
  Status s = store_.ScanUnpublishedDeadLetters([&](const DeadLetter& d) {
    left.emplace(d.Id(), DeadLetterRef{d.from, d.offset});
    return true;
  });
  if (!s.ok() || left.empty()) {
    if (!s.ok()) spdlog::warn("unpublished dead letters cannot be read: {}", s.message());
    return;
  }
  // Exactly once on the topic: a mark outlives its letter's delivery when the process died
  // between the delivery report and clearing the mark. The dead process sends nothing more,
  // so what it got onto the topic is there now (on a real cluster: once the requests it had
  // in flight are replicated, well within a restart); read the topic's keys and send only
  // the rest.
  // Bounded by what the topic holds, and done only when marks are left (after a crash or a
  // failed delivery), not on every start. A letter retention already removed from the topic
  // is sent again: nobody can read the first copy.
  std::vector<DeadLetterRef> there;
  auto t0 = Clock::now();
  s = ScanTopicKeys(settings_, kTopicDeadLetter, std::chrono::seconds(30),
                    [&](std::string_view key) {
                      if (auto it = left.find(std::string(key)); it != left.end()) {
                        there.push_back(std::move(it->second));
                        left.erase(it);
                      }
                    });
  if (!s.ok()) {
    // Sending blind could publish a letter twice; they wait, marked, for a start that can look.
    spdlog::warn(
        "{} dead letters a previous run left unpublished stay so: {} cannot be read "
        "to check which are there already ({})",
        left.size() + there.size(), kTopicDeadLetter, s.message());
    return;
  }
  if (Status c = store_.MarkDeadLettersPublished(there); !c.ok()) {
    spdlog::warn("dead letters already on {} still marked unpublished: {}", kTopicDeadLetter,
                 c.message());
  }
  std::vector<DeadLetter> send;
  s = store_.ScanUnpublishedDeadLetters([&](const DeadLetter& d) {
    if (left.count(d.Id())) send.push_back(d);
    return true;
  });
  if (!s.ok()) spdlog::warn("unpublished dead letters cannot be read: {}", s.message());
  spdlog::info(
      "{} dead letters a previous run left unpublished: {} were on {} already, {} sent "
      "now ({} ms)",
      there.size() + left.size(), there.size(), kTopicDeadLetter, send.size(),
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  Send(send);
  Finish(std::chrono::seconds(10));
}

}  // namespace careledger
