#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "careledger/consumers.h"
#include "careledger/events.h"
#include "careledger/kafka.h"
#include "careledger/projections.h"
#include "ingestor.h"

namespace careledger {

namespace ingest {

std::string Describe(const std::vector<TopicPartition>& partitions) {
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& tp : partitions) by_topic[tp.topic].push_back(tp.partition);
  std::string out;
  for (const auto& [topic, list] : by_topic) {
    if (!out.empty()) out.append(" ");
    out.append(topic).append("[");
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) out.append(",");
      out.append(std::to_string(list[i]));
    }
    out.append("]");
  }
  return out.empty() ? "no partitions" : out;
}

Status Ingestor::WriteBatch() {
  // After a fatal store error nothing more is written: RocksDB refuses (or, built with
  // assertions as Debian's is, aborts on) a second write after a failed one, and the batch
  // in hand is re-read from Kafka by the next run anyway.
  if (!store_failure_.ok()) return store_failure_;
  if (pending_.empty()) return Status::Ok();
  // Counted into stats_ once the batch is handed on: an attempt that a retriable error cut
  // short (its messages are kept and tried again) counts nothing.
  rejected_.clear();
  batch_counts_ = {};
  auto t0 = Clock::now();
  auto batch = in_flight_ ? store_.NewBatchAfter(in_flight_->tail) : store_.NewBatch();
  std::vector<RawMessage> raw;
  raw.reserve(pending_.size());
  for (const Message& m : pending_) {
    raw.push_back({m.topic(), m.key(), m.payload(), m.partition(), m.offset()});
  }
  const BatchContext context = InHandContext();
  // Steps 1-3: parse, route, dedup, append and project (batch_builder.h).
  BuiltBatch built;
  CARELEDGER_RETURN_IF_ERROR(
      BuildBatch(raw, context, store_, parser_, projector_, envelopes_, batch, built));
  batch_counts_.consumed = built.consumed;
  for (BatchReject& r : built.rejected) Reject(batch, raw[r.message], r.kind, std::move(r.reason));
  auto t_built = Clock::now();
  spdlog::debug("batch of {} messages: {} us to build", pending_.size(),
                std::chrono::duration_cast<std::chrono::microseconds>(t_built - t0).count());

  // 4. This batch continues the one in flight: that must be durable first. Then each repeated
  // event id is a duplicate or a conflict.
  if (Status s = FinishWrite(); !s.ok()) return s;
  std::vector<BatchReject> conflicts;
  CARELEDGER_RETURN_IF_ERROR(
      SettleRepeats(raw, envelopes_, built, store_, batch_counts_.duplicates, conflicts));
  for (BatchReject& r : conflicts) Reject(batch, raw[r.message], r.kind, std::move(r.reason));
  std::vector<AcceptedEvent>& accepted = built.accepted;
  // 5. Corrections that do not (yet) apply are held where they can be seen.
  HeldChanges held_changes;
  CARELEDGER_RETURN_IF_ERROR(SettleCorrections(accepted, batch, held_changes));
  ApplyHeldChanges(std::move(held_changes));
  HandOn(std::move(batch), built);
  return Status::Ok();
}

BatchContext Ingestor::InHandContext() const {
  BatchContext context;
  context.next_offset = [this](const TopicPartition& tp) -> std::optional<int64_t> {
    auto pos = positions_.find(tp);
    if (pos == positions_.end()) return std::nullopt;
    return pos->second.next;
  };
  context.partition_counts = &partition_counts_;
  if (in_flight_) context.unwritten_ids = &in_flight_->ids;
  // Its status is taken by WriteBatch's FinishWrite, once the batch is built.
  context.unwritten_durable = [this] {
    if (in_flight_) in_flight_->done.wait();
  };
  return context;
}

void Ingestor::HandOn(EventStore::Batch&& batch, BuiltBatch& built) {
  const std::vector<AcceptedEvent>& accepted = built.accepted;
  stats_.consumed += batch_counts_.consumed;
  stats_.duplicates += batch_counts_.duplicates;
  stats_.dead_lettered += batch_counts_.dead_lettered;
  InFlight& next = in_flight_.emplace();
  next.dead_by_kind = std::move(batch_counts_.dead_by_kind);
  for (const auto& a : accepted) {
    ++next.by_type[{std::string(a.topic), std::string(EventTypeName(a.envelope->type))}];
  }
  next.dead_letters = std::exchange(rejected_, {});
  next.tail = batch.tail();
  next.ids = std::move(built.ids);
  next.appended = accepted.size();
  next.messages = pending_.size();
  for (const auto& [tp, offset] : built.next_offsets) positions_[tp].next = offset;
  pending_.clear();  // the batch holds copies of what it needs
  next.done = std::async(std::launch::async, [this, b = std::move(batch), &next]() mutable {
    auto t = Clock::now();
    Status s = store_.Write(b);
    // A store that is only busy is waited out here, so the batch keeps its place in order.
    for (auto wait = std::chrono::milliseconds(100); s.error_class() == ErrorClass::kRetriable;
         wait = std::min(wait * 2, std::chrono::milliseconds(5000))) {
      spdlog::warn("{}; retrying in {} ms", s.message(), wait.count());
      std::this_thread::sleep_for(wait);
      s = store_.Write(b);
    }
    next.write_micros =
        uint32_t(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
    return s;
  });
}

void Ingestor::Reject(EventStore::Batch& batch, const RawMessage& m, RejectKind kind,
                      std::string reason) {
  // The reason names the field and the rule; the payload is never logged.
  spdlog::warn("dead letter {}/{}@{}: {}", m.topic, m.partition, m.offset, reason);
  TopicPartition tp{std::string(m.topic), m.partition};
  batch.PutDeadLetter(tp, m.offset, kind, reason, m.payload, options_.publish_dead_letters);
  ++batch_counts_.dead_lettered;
  ++batch_counts_.dead_by_kind[std::string(RejectKindName(kind))];
  if (options_.publish_dead_letters) {
    rejected_.push_back({std::move(tp), m.offset, kind, std::move(reason), std::string(m.payload)});
  }
}

Status Ingestor::FinishWrite() {
  if (!in_flight_) return Status::Ok();
  Status s = in_flight_->done.get();
  InFlight done = std::move(*in_flight_);
  in_flight_.reset();
  if (!s.ok()) {
    // Nothing built on it may be written; the next run re-reads it all from Kafka.
    store_failure_ = s;
    projector_.Forget();
    return s;
  }
  spdlog::debug("batch of {} messages: {} us to write", done.messages, done.write_micros);
  if (!done.dead_letters.empty() && InjectedFault() == Fault::kDieAfterWrite) {
    DieOfInjectedFault("after a batch with dead letters is durable, before they are sent");
  }
  outbox_.Send(done.dead_letters);
  outbox_.Settle();
  stats_.write_micros.push_back(done.write_micros);
  stats_.appended += done.appended;
  for (const auto& [k, n] : done.by_type) stats_.appended_by_type[k] += n;
  for (const auto& [k, n] : done.dead_by_kind) stats_.dead_lettered_by_kind[k] += n;
  ++stats_.batches;
  if (options_.monitor && consumer_) {
    std::vector<PartitionLag> lag;
    for (const auto& [tp, pos] : positions_) {
      lag.push_back({tp, pos.next, consumer_->CachedHighWatermark(tp)});
    }
    IngestStats totals = stats_;
    totals.write_micros.clear();
    options_.monitor->Record(totals, std::move(lag), done.messages,
                             double(done.write_micros) / 1e6);
  }
  return Status::Ok();
}

Status Ingestor::Step(GroupConsumer& consumer, bool& done) {
  CARELEDGER_RETURN_IF_ERROR(ServeReplay());
  CARELEDGER_RETURN_IF_ERROR(consumer.Poll(options_.max_batch, options_.max_batch_wait, pending_));
  if (failure_.error_class() == ErrorClass::kGap) {
    // What was read before the gap is good: keep it, then stop.
    if (Status s = WriteBatch(); s.ok()) (void)FinishWrite();
  }
  CARELEDGER_RETURN_IF_ERROR(std::exchange(failure_, Status::Ok()));
  auto now = Clock::now();
  if (!pending_.empty()) last_message_ = now;
  if (pending_.empty() && in_flight_) {
    // Idle: make the last batch's counts visible now rather than with the next batch.
    CARELEDGER_RETURN_IF_ERROR(FinishWrite());
  }
  if (pending_.empty()) outbox_.Settle();  // idle: the last batch's dead letters are delivered
  if (announcer_) announcer_->Tick();
  if (pending_.empty() && ever_assigned_ && !in_flight_ && (options_.monitor || announcer_)) {
    bool at_head = true;
    for (const auto& [tp, pos] : positions_) {
      int64_t high = consumer.CachedHighWatermark(tp);
      at_head = at_head && high >= 0 && pos.next >= high;
    }
    if (at_head) {
      read_to_end_ = true;
      reading_.clear();
      if (options_.monitor) options_.monitor->MarkCaughtUp();
      if (announcer_) announcer_->ReadToTheEnd();
    }
  }
  CARELEDGER_RETURN_IF_ERROR(WriteBatch());
  if (options_.until_end) {
    CARELEDGER_RETURN_IF_ERROR(FillEnds(consumer));
    done = AtEnd();
  }
  if (!ever_assigned_) {
    last_message_ = now;  // idleness counts only once partitions are ours
    // A member of this group that died without leaving (kill -9, a lost host) holds its
    // partitions until its session times out: the group is settling, not failing. Say so once,
    // and give up only well after that.
    auto limit = std::max<std::chrono::milliseconds>(options_.assignment_timeout,
                                                     2 * session_timeout_ + kJoinAllowance);
    if (!told_waiting_ && now - started_ > std::chrono::seconds(5)) {
      told_waiting_ = true;
      spdlog::info(
          "waiting for partitions of group {}: a member that stopped without leaving (kill -9) "
          "holds them until its session times out (session.timeout.ms = {}); giving up after "
          "{} s",
          options_.group, session_timeout_.count(), limit.count() / 1000);
    }
    if (now - started_ > limit) {
      return Status::Fatal("no partitions assigned after " + std::to_string(limit.count() / 1000) +
                           " s: is the broker reachable and are the topics there?");
    }
  } else if (options_.until_idle && now - last_message_ >= *options_.until_idle) {
    done = true;
  }
  return Status::Ok();
}

Result<Settings> Ingestor::GroupSettings() {
  Settings settings = options_.kafka;
  settings["group.id"] = options_.group;
  if (!options_.instance_id.empty()) {
    if (auto given = settings.find("group.instance.id");
        given != settings.end() && given->second != options_.instance_id) {
      return Status::BadInput("two static instance ids: group.instance.id=" + given->second +
                              " in the Kafka settings and " + options_.instance_id +
                              " (--instance-id or ingest.instance_id): give one");
    }
    settings["group.instance.id"] = options_.instance_id;
  }
  if (auto id = settings.find("group.instance.id"); id != settings.end()) {
    spdlog::info(
        "static member {} of group {}: a restart with this id takes its partitions back at once "
        "(a broker that honours static membership; the embedded one does not), and a stop "
        "leaves them waiting up to session.timeout.ms for it",
        id->second, options_.group);
  }
  // librdkafka's 45 s default is how long a restarted ingest waits for the partitions its
  // killed predecessor held; 10 s keeps that short, within every broker's allowed range
  // (group.min.session.timeout.ms is 6 s by default), and a settings value wins.
  settings.try_emplace("session.timeout.ms", "10000");
  {
    const std::string& text = settings["session.timeout.ms"];
    int64_t ms = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (error != std::errc() || end != text.data() + text.size() || ms <= 0) {
      return Status::BadInput("session.timeout.ms: not a number of milliseconds: " + text);
    }
    session_timeout_ = std::chrono::milliseconds(ms);
  }
  return settings;
}

Result<IngestStats> Ingestor::Run(const std::atomic<bool>& stop) {
  auto settings = GroupSettings();
  if (!settings.ok()) return settings.status();
  (void)InjectedFault();  // read, and said, at start
  // Before consuming: what the last process stored and did not get onto the topic goes first.
  if (options_.publish_dead_letters) outbox_.Recover();
  if (!options_.announce_as.empty()) {
    announcer_ = std::make_unique<InstanceAnnouncer>(options_.kafka, options_.announce_as,
                                                     options_.group, options_.advertised);
  }
  std::vector<std::string> topics(std::begin(kSourceTopics), std::end(kSourceTopics));
  auto consumer = GroupConsumer::Open(*settings, topics, this);
  if (!consumer.ok()) return consumer.status();
  // librdkafka's destroy waits for every message the application still holds: on any way
  // out, release the batch in hand before the consumer goes (this is destroyed first).
  consumer_ = consumer->get();
  struct ReleaseMessages {
    Ingestor& ingestor;
    ~ReleaseMessages() {
      ingestor.AbandonReplay("ingest stopped before the replay finished; run it again");
      ingestor.pending_.clear();
      if (ingestor.in_flight_) (void)ingestor.FinishWrite();
      ingestor.consumer_ = nullptr;
    }
  } release{*this};

  // Whatever an earlier ingest left of replays it served is stale now (requests still waiting
  // to be taken stay).
  if (!options_.replay_dir.empty()) {
    RemoveStaleReplayFiles(options_.replay_dir, std::chrono::minutes(0));
  }
  CARELEDGER_RETURN_IF_ERROR(LoadHeldCorrections());
  started_ = last_message_ = Clock::now();
  CARELEDGER_RETURN_IF_ERROR(Consume(**consumer, stop));
  CARELEDGER_RETURN_IF_ERROR(WriteBatch());
  CARELEDGER_RETURN_IF_ERROR(FinishWrite());
  auto end = Clock::now();  // the work is done; leaving the group below is shutdown
  outbox_.Finish(std::chrono::seconds(10));
  consumer_ = nullptr;
  // Leave the group now, so a restart rejoins quickly (a static member does not leave: its
  // partitions wait for its restart).
  consumer->reset();
  if (announcer_) announcer_->Stopped();
  stats_.seconds = std::chrono::duration<double>(end - started_).count();
  if (ever_assigned_) {
    stats_.seconds_assigned = std::chrono::duration<double>(end - first_assigned_).count();
  }
  return stats_;
}

Status Ingestor::Consume(GroupConsumer& consumer, const std::atomic<bool>& stop) {
  auto last_progress = started_;
  auto backoff = std::chrono::milliseconds(100);
  while (!stop.load()) {
    bool done = false;
    Status s = Step(consumer, done);
    // Errors are decided here, by class, and nowhere else. Bad input never gets this far: it
    // is dead-lettered inside the batch. Retriable errors (a broker away, a busy store) are
    // waited out; the batch in hand is kept and written again. Anything fatal stops ingest
    // with nothing written, and no offset advanced, past the last good batch.
    if (s.error_class() == ErrorClass::kRetriable) {
      spdlog::warn("{}; retrying in {} ms", s.message(), backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    if (!s.ok()) return s;
    backoff = std::chrono::milliseconds(100);
    if (done) break;
    if (auto now = Clock::now(); now - last_progress > std::chrono::seconds(5)) {
      last_progress = now;
      spdlog::info("ingest: {} events stored, {} duplicates, {} dead letters", stats_.appended,
                   stats_.duplicates, stats_.dead_lettered);
    }
  }
  return Status::Ok();
}

}  // namespace ingest

Result<IngestStats> RunIngest(EventStore& store, const IngestOptions& options,
                              const std::atomic<bool>& stop) {
  ingest::Ingestor ingestor(store, options);
  return ingestor.Run(stop);
}

Result<std::string> StaticInstanceId(std::string_view requested, const std::string& data_dir) {
  auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  if (requested != "auto") {
    if (requested.empty() || requested.size() > 249 ||
        !std::all_of(requested.begin(), requested.end(), allowed)) {
      return Status::BadInput("instance id \"" + std::string(requested) +
                              "\": expected auto, or 1 to 249 of A-Z a-z 0-9 . _ -");
    }
    return std::string(requested);
  }
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) {
    return Status::Fatal(std::string("instance id auto: gethostname: ") + std::strerror(errno));
  }
  std::string name;
  for (const char* c = host.data(); *c != '\0' && name.size() < 64; ++c) {
    name += allowed(*c) ? *c : '_';
  }
  std::error_code ec;
  auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(data_dir, ec), ec);
  if (ec) return Status::Fatal("instance id auto: " + data_dir + ": " + ec.message());
  // FNV-1a: stable across builds and platforms, unlike std::hash; nothing secret rides on it.
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : path.string()) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "careledger-" + name + "-" + hex;
}

}  // namespace careledger
