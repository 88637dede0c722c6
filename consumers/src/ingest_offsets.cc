// Assignment and offsets: where each partition starts, gaps, and the end (ingestor.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "ingestor.h"

namespace careledger::ingest {

std::vector<int64_t> Ingestor::OnAssign(const std::vector<TopicPartition>& partitions) {
  // The stored offsets are only the truth once the batch being written is in.
  if (auto s = FinishWrite(); !s.ok()) failure_ = s;
  std::vector<int64_t> offsets;
  for (const auto& tp : partitions) {
    auto stored = StoredOffset(tp);
    if (!stored.ok()) {
      // Without the stored position we must not read: stop rather than guess, or than go
      // on with a partition whose messages would all be skipped.
      failure_ = stored.status();
      offsets.push_back(kOffsetBeginning);
      continue;
    }
    // A partition we hold nothing of starts at offset 0, not the logical BEGINNING: that
    // needs an offset lookup first, which the mock cluster sometimes answers only on
    // librdkafka's 500 ms retry (measured). Where retention has removed offset 0, that is
    // a gap like any other (CheckGaps).
    int64_t next = stored->value_or(0);
    positions_[tp] = Position{next, std::nullopt};
    offsets.push_back(next);
    spdlog::debug("assigned {}/{} from offset {}", tp.topic, tp.partition, next);
  }
  if (failure_.ok()) CheckGaps(partitions, offsets);
  if (failure_.ok()) ReadPartitionCounts(partitions);
  // Those the store did not hold before may be far behind: the figures say so until ingest
  // has read to the end (the monitor's catching_up, and the announced `reading`). Until ingest
  // first reaches the end, that is all of them.
  std::set<int32_t> assigned;
  for (const auto& tp : partitions) assigned.insert(tp.partition);
  std::erase_if(reading_, [&](int32_t p) { return !assigned.count(p); });
  if (auto before = store_.Assignment(); before.ok()) {
    std::vector<int32_t> taken_over;
    for (const auto& tp : partitions) {
      if (std::find(before->begin(), before->end(), tp) == before->end()) {
        taken_over.push_back(tp.partition);
      }
    }
    reading_.insert(taken_over.begin(), taken_over.end());
    if (!taken_over.empty() && options_.monitor) options_.monitor->CatchingUp(taken_over);
  }
  if (!read_to_end_) reading_ = assigned;
  // An eager (range) assignment is the whole new assignment: it replaces the old one.
  if (auto s = store_.SetAssignment(partitions); !s.ok()) failure_ = s;
  spdlog::info("assigned {}; reading from the offsets in the store", Describe(partitions));
  if (announcer_) {
    int32_t of = 0;
    for (const auto& [topic, n] : partition_counts_) of = std::max(of, n);
    announcer_->Assigned(partitions, of, {reading_.begin(), reading_.end()});
  }
  if (!ever_assigned_) first_assigned_ = Clock::now();
  ever_assigned_ = true;
  return offsets;
}

void Ingestor::OnOutOfRange(const TopicPartition& tp, int64_t offset) {
  // Retention overtook this ingest while it ran (it was behind by more than the topic
  // keeps), or the topic was recreated under it.
  auto pos = positions_.find(tp);
  int64_t next = pos == positions_.end() ? offset : pos->second.next;
  for (const Message& m : pending_) {  // read, and written before ingest stops
    if (m.partition() == tp.partition && m.topic() == tp.topic) {
      next = std::max(next, m.offset() + 1);
    }
  }
  auto low = RetryingWatermarks(*consumer_, {tp}, false);
  auto high = RetryingWatermarks(*consumer_, {tp}, true);
  if (!low.ok() || !high.ok()) {
    failure_ = Status::Fatal("offset " + std::to_string(offset) + " of " + tp.topic + "/" +
                             std::to_string(tp.partition) +
                             " is out of range and the broker's offsets cannot be read: " +
                             (low.ok() ? high.status() : low.status()).message());
    return;
  }
  CheckGap(tp, next, /*accept=*/false, (*low)[0], (*high)[0], nullptr);
  if (failure_.ok()) {
    // The broker says out of range but its watermarks now cover us: a topic recreated and
    // refilled past our offset in between. Never read on from a guess.
    failure_ = Status::Gap("offset " + std::to_string(offset) + " of " + tp.topic + "/" +
                           std::to_string(tp.partition) +
                           " was refused as out of range by the broker; ingest stops so "
                           "nothing is skipped silently");
  }
}

void Ingestor::OnRevoke(const std::vector<TopicPartition>& partitions) {
  // Finish the batch in hand while its partitions are still ours.
  if (auto s = WriteBatch(); !s.ok()) failure_ = s;
  if (auto s = FinishWrite(); !s.ok()) failure_ = s;
  for (const auto& tp : partitions) positions_.erase(tp);
  spdlog::info("revoked {} partitions", partitions.size());
  if (announcer_) announcer_->Revoked();
}

Status Ingestor::FillEnds(GroupConsumer& consumer) {
  std::vector<TopicPartition> missing;
  for (const auto& [tp, pos] : positions_) {
    if (!pos.end) missing.push_back(tp);
  }
  if (missing.empty()) return Status::Ok();
  auto high = consumer.HighWatermarks(missing, std::chrono::milliseconds(10000));
  if (!high.ok()) return high.status();
  for (size_t i = 0; i < missing.size(); ++i) positions_[missing[i]].end = (*high)[i];
  return Status::Ok();
}

Result<std::optional<int64_t>> Ingestor::StoredOffset(const TopicPartition& tp) const {
  auto wait = std::chrono::milliseconds(100);
  for (int attempt = 1;; ++attempt, wait *= 2) {
    auto stored = store_.NextOffset(tp);
    if (stored.ok() || stored.status().error_class() != ErrorClass::kRetriable || attempt == 5) {
      if (stored.ok()) return stored;
      return Status::Fatal("cannot read the stored offset of " + tp.topic + "/" +
                           std::to_string(tp.partition) + ": " + stored.status().message());
    }
    std::this_thread::sleep_for(wait);
  }
}

Result<std::vector<int64_t>> Ingestor::RetryingWatermarks(
    GroupConsumer& consumer, const std::vector<TopicPartition>& partitions, bool high) const {
  // 200 ms doubling to 3.2 s, about 6 s in all: a partition whose leader moved answers "not
  // leader" until the client has the new leader, which took longer than 1.4 s (the three
  // tries before) under a loaded CI machine (BrokerFaults.IngestFollowsPartitionLeadersAsTheyMove).
  auto wait = std::chrono::milliseconds(200);
  for (int attempt = 1;; ++attempt, wait *= 2) {
    auto got = high ? consumer.HighWatermarks(partitions, std::chrono::milliseconds(10000))
                    : consumer.LowWatermarks(partitions, std::chrono::milliseconds(10000));
    if (got.ok() || attempt == 6) return got;
    spdlog::warn("{}; asking again in {} ms", got.status().message(), wait.count());
    std::this_thread::sleep_for(wait);
  }
}

void Ingestor::CheckGaps(const std::vector<TopicPartition>& partitions,
                         std::vector<int64_t>& offsets) {
  if (partitions.empty()) return;
  // Called inside the rebalance callback, before the assignment takes effect, so that an
  // accepted gap's new start is the offset the consumer is given.
  auto low = RetryingWatermarks(*consumer_, partitions, false);
  auto high = low.ok() ? RetryingWatermarks(*consumer_, partitions, true) : low;
  if (!low.ok() || !high.ok()) {
    failure_ = Status::Fatal("cannot check the assigned partitions for offset gaps: " +
                             (low.ok() ? high.status() : low.status()).message());
    return;
  }
  // A gap found before stays one until accepted, even when the watermarks no longer show it
  // (a recreated topic refilled past the store's offset would otherwise be read from there,
  // skipping its first messages).
  auto recorded = store_.Gaps();
  if (!recorded.ok()) {
    failure_ = recorded.status();
    return;
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    const OffsetGap* open = nullptr;
    for (const auto& gap : *recorded) {
      if (!gap.accepted && gap.partition == partitions[i]) open = &gap;
    }
    CheckGap(partitions[i], offsets[i], options_.accept_gaps.count(partitions[i]) > 0, (*low)[i],
             (*high)[i], open);
  }
}

void Ingestor::CheckGap(const TopicPartition& tp, int64_t& offset, bool accept, int64_t low,
                        int64_t high, const OffsetGap* open) {
  const int64_t next = offset;
  if (!open && next >= low && next <= high) return;
  OffsetGap gap = open ? *open : OffsetGap{tp, next, next < low ? low : high};
  if (!open) {
    gap.found_at =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  }
  if (accept) {
    gap.accepted = true;
    gap.accepted_at =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    if (Status s = store_.RecordGap(gap); !s.ok()) {
      failure_ = s;
      return;
    }
    spdlog::warn(
        "accepting an offset gap as told (--accept-gap {}:{}): {}; reading on from offset "
        "{}",
        tp.topic, tp.partition, gap.Describe(), low);
    offset = low;
    positions_[tp].next = low;
    return;
  }
  for (const auto& known : gaps_) {
    if (known.partition == tp) return;  // met again (out of range after assignment)
  }
  if (Status s = store_.RecordGap(gap); !s.ok()) spdlog::warn("{}", s.message());
  spdlog::error("{}", gap.Describe());
  gaps_.push_back(gap);
  std::string why, flags;
  for (const auto& g : gaps_) {
    why += (why.empty() ? "" : "; ") + g.Describe();
    flags += " --accept-gap " + g.partition.topic + ":" + std::to_string(g.partition.partition);
  }
  why +=
      ". Ingest stops here rather than lose them silently: publish them again if the source "
      "still has them, or go on past the gap with `careledger ingest" +
      flags + "` (ops/runbooks/offset-gap.md)";
  if (failure_.ok() || failure_.error_class() == ErrorClass::kGap) failure_ = Status::Gap(why);
}

void Ingestor::ReadPartitionCounts(const std::vector<TopicPartition>& partitions) {
  std::vector<std::string> topics;
  for (const auto& tp : partitions) {
    if (std::find(topics.begin(), topics.end(), tp.topic) == topics.end())
      topics.push_back(tp.topic);
  }
  auto wait = std::chrono::milliseconds(200);
  for (int attempt = 1;; ++attempt, wait *= 2) {
    auto counts = consumer_->PartitionCounts(topics, std::chrono::milliseconds(10000));
    if (counts.ok() && counts->size() == topics.size()) {
      for (const auto& [topic, n] : *counts) partition_counts_[topic] = n;
      return;
    }
    if (attempt == 4) {
      failure_ = Status::Fatal("cannot read the partition counts of the assigned topics: " +
                               (counts.ok() ? std::string("a topic is missing from the metadata")
                                            : counts.status().message()));
      return;
    }
    std::this_thread::sleep_for(wait);
  }
}

bool Ingestor::AtEnd() const {
  if (!ever_assigned_ || positions_.empty()) return false;
  for (const auto& [tp, pos] : positions_) {
    if (!pos.end || pos.next < *pos.end) return false;
  }
  return true;
}

}  // namespace careledger::ingest
