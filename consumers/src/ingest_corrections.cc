// Corrections and retractions whose target does not (yet) apply (ingestor.h).
#include <spdlog/spdlog.h>

#include <string_view>

#include "ingestor.h"

namespace careledger::ingest {

Status Ingestor::LoadHeldCorrections() {
  auto held = store_.HeldCorrections();
  if (!held.ok()) return held.status();
  stats_.corrections_held_now = held->size();
  for (auto& h : *held) held_[h.target_event_id].push_back(std::move(h));
  if (!held_.empty()) {
    spdlog::info("{} corrections are held (see `careledger corrections`)", held->size());
  }
  return Status::Ok();
}

Status Ingestor::SettleCorrections(const std::vector<AcceptedEvent>& accepted,
                                   EventStore::Batch& batch, HeldChanges& changes) {
  ReleaseArrivedTargets(accepted, batch, changes);
  std::vector<BatchCorrection> corrections;
  for (const auto& a : accepted) {
    const Envelope& e = *a.envelope;
    if (!e.supersedes.empty()) corrections.push_back({&a, e.supersedes, false});
    if (e.type == EventType::kEventRetracted) {
      corrections.push_back({&a, e.data.target_event_id, true});
    }
  }
  if (corrections.empty()) return Status::Ok();
  // The target's child: from this batch, or from the store (which now holds every batch
  // before this one).
  std::unordered_map<std::string_view, std::optional<std::string_view>> child_in_batch;
  for (const auto& c : corrections) child_in_batch.emplace(c.target, std::nullopt);
  for (const auto& a : accepted) {
    auto it = child_in_batch.find(a.envelope->event_id);
    if (it != child_in_batch.end() && !it->second) it->second = a.envelope->child_id;
  }
  std::vector<std::string_view> lookup;
  for (const auto& c : corrections) {
    if (!child_in_batch.at(c.target)) lookup.push_back(c.target);
  }
  std::vector<std::optional<StoredEventId>> stored;
  CARELEDGER_RETURN_IF_ERROR(store_.FindEventIds(lookup, stored));
  size_t next_stored = 0;
  std::string payload;
  Envelope target;
  for (const auto& c : corrections) {
    std::optional<std::string> target_child;
    if (const auto& in_batch = child_in_batch.at(c.target)) {
      target_child.emplace(*in_batch);
    } else if (const auto& found = stored[next_stored++]) {
      CARELEDGER_RETURN_IF_ERROR(store_.ReadPayload(found->sequence, payload));
      if (Status s = parser_.Parse(payload, target); !s.ok()) {
        return Status::Fatal("stored event " + std::string(c.target) +
                             " no longer parses: " + s.message());
      }
      target_child = std::move(target.child_id);
    }
    if (target_child == c.event->envelope->child_id) {
      ReleaseOvertaken(c, batch, changes);
      continue;
    }
    HoldUnapplied(c, target_child.has_value(), batch, changes);
  }
  return Status::Ok();
}

void Ingestor::ReleaseArrivedTargets(const std::vector<AcceptedEvent>& accepted,
                                     EventStore::Batch& batch, HeldChanges& changes) {
  // Targets that arrive: a held correction now applies when the target is the same child's.
  if (!held_.empty()) {
    for (const auto& a : accepted) {
      auto it = held_.find(a.envelope->event_id);
      if (it == held_.end()) continue;
      for (HeldCorrection h : it->second) {
        if (h.other_child) continue;
        if (h.child_id == a.envelope->child_id) {
          spdlog::debug("correction {} now applies: its target {} arrived", h.event_id,
                        h.target_event_id);
          batch.ReleaseCorrection(h.target_event_id, h.event_id);
          changes.push_back({false, std::move(h)});
        } else {
          spdlog::warn("correction {} will never apply: its target {} arrived for another child",
                       h.event_id, h.target_event_id);
          h.other_child = true;
          batch.HoldCorrection(h);
          changes.push_back({true, std::move(h)});
        }
      }
    }
  }
}

void Ingestor::ReleaseOvertaken(const BatchCorrection& c, EventStore::Batch& batch,
                                HeldChanges& changes) {
  const Envelope& e = *c.event->envelope;
  // The fold applies it. A held correction that tried to act on the same target from
  // another child has been overtaken: the source fixed the record where it lives.
  if (auto it = held_.find(std::string(c.target)); it != held_.end()) {
    for (const HeldCorrection& h : it->second) {
      if (h.child_id == e.child_id) continue;  // released above, as the target came
      spdlog::info("correction {} is released: {} {} its target {} in its own child", h.event_id,
                   e.event_id, c.retraction ? "retracts" : "supersedes", h.target_event_id);
      batch.ReleaseCorrection(h.target_event_id, h.event_id);
      changes.push_back({false, h});
    }
  }
}

void Ingestor::HoldUnapplied(const BatchCorrection& c, bool other_child, EventStore::Batch& batch,
                             HeldChanges& changes) {
  const Envelope& e = *c.event->envelope;
  HeldCorrection h;
  h.event_id = e.event_id;
  h.target_event_id = c.target;
  h.child_id = e.child_id;
  h.retraction = c.retraction;
  h.other_child = other_child;
  h.from = {std::string(c.event->topic), c.event->partition};
  h.offset = c.event->offset;
  h.held_at = std::chrono::floor<std::chrono::seconds>(batch.ingested_at());
  // Awaiting is routine (a retraction on one topic can overtake its target on another);
  // acting on another child's event is a source's mistake.
  if (h.other_child) {
    spdlog::warn("{} {} held: its target is another child's event, so it never applies",
                 c.retraction ? "retraction" : "correction", h.event_id);
  } else {
    spdlog::debug("{} {} held: its target is not stored yet",
                  c.retraction ? "retraction" : "correction", h.event_id);
  }
  batch.HoldCorrection(h);
  changes.push_back({true, std::move(h)});
}

void Ingestor::ApplyHeldChanges(HeldChanges&& changes) {
  for (HeldChange& change : changes) {
    HeldCorrection& h = change.correction;
    const std::string target = h.target_event_id;
    auto& list = held_[target];
    size_t had =
        std::erase_if(list, [&](const HeldCorrection& x) { return x.event_id == h.event_id; });
    if (change.hold) {
      stats_.corrections_held += had == 0;
      stats_.corrections_held_now += had == 0;
      list.push_back(std::move(h));
    } else {
      stats_.corrections_released += had;
      stats_.corrections_held_now -= had;
    }
    if (list.empty()) held_.erase(target);
  }
}

}  // namespace careledger::ingest
