// ScanTopicKeys: every key a topic holds, read to the partitions' ends by a consumer that
// joins no group, in steps (the topic's metadata, the assignment to the ends, the reading).
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "careledger/kafka.h"
#include "kafka_handles.h"

namespace careledger {

namespace {

// Milliseconds left until a deadline, never negative: what each librdkafka call may wait.
struct ScanDeadline {
  std::chrono::steady_clock::time_point at = {};
  int Left() const {
    return int(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        at - std::chrono::steady_clock::now())
                                        .count()));
  }
};

using MetadataHandle =
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)>;

// The topic's metadata: its partitions, or why there are none to read.
Result<MetadataHandle> TopicMetadata(rd_kafka_t* rk, const std::string& name,
                                     const ScanDeadline& deadline) {
  const rd_kafka_metadata_t* md = nullptr;
  {
    std::unique_ptr<rd_kafka_topic_t, void (*)(rd_kafka_topic_t*)> handle(
        rd_kafka_topic_new(rk, name.c_str(), nullptr), rd_kafka_topic_destroy);
    if (auto err = rd_kafka_metadata(rk, 0, handle.get(), &md, deadline.Left())) {
      return Status::Retriable("metadata of " + name + ": " + rd_kafka_err2str(err));
    }
  }
  MetadataHandle owned(md, rd_kafka_metadata_destroy);
  if (md->topic_cnt != 1 || md->topics[0].err) {
    return Status::Retriable(
        "metadata of " + name + ": " +
        (md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "topic missing"));
  }
  return owned;
}

// Assigns every partition that holds messages from its low watermark, and records in `end`
// where each ends now: what is produced after the call is not this scan's concern.
Status AssignToEnds(rd_kafka_t* rk, const std::string& name, const rd_kafka_metadata_topic_t& md,
                    const ScanDeadline& deadline, std::map<int32_t, int64_t>& end) {
  PartitionList assignment(rd_kafka_topic_partition_list_new(md.partition_cnt));
  for (int i = 0; i < md.partition_cnt; ++i) {
    int32_t p = md.partitions[i].id;
    int64_t low = 0, high = 0;
    if (auto err =
            rd_kafka_query_watermark_offsets(rk, name.c_str(), p, &low, &high, deadline.Left())) {
      return Status::Retriable("watermarks of " + name + "/" + std::to_string(p) + ": " +
                               rd_kafka_err2str(err));
    }
    if (high <= low) continue;
    end[p] = high;
    rd_kafka_topic_partition_list_add(assignment.get(), name.c_str(), p)->offset = low;
  }
  if (end.empty()) return Status::Ok();
  if (auto err = rd_kafka_assign(rk, assignment.get())) {
    return Status::Retriable("assign " + name + ": " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

// Polls until every partition in `end` has been read to its end, visiting each message.
Status ReadToEnds(rd_kafka_t* rk, const std::string& name, std::chrono::milliseconds timeout,
                  const ScanDeadline& deadline, std::map<int32_t, int64_t>& end,
                  const std::function<void(std::string_view key, std::string_view value)>& visit) {
  while (!end.empty()) {
    if (deadline.Left() == 0) {
      return Status::Retriable(name + " not read to its end within " +
                               std::to_string(timeout.count()) + " ms");
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, std::min(deadline.Left(), 100));
    if (!m) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> message(
        m, rd_kafka_message_destroy);
    auto at = end.find(m->partition);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (at != end.end() && m->offset >= at->second) end.erase(at);
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE || m->err == RD_KAFKA_RESP_ERR__FATAL) {
      // Retention moved the low watermark while this read: what it removed is no longer there
      // to find, so the scan cannot say whether a key was.
      return Status::Retriable("reading " + name + ": " + rd_kafka_message_errstr(m));
    }
    if (m->err) {
      spdlog::debug("reading {}: {}", name, rd_kafka_message_errstr(m));  // librdkafka retries
      continue;
    }
    if (at == end.end()) continue;
    visit({static_cast<const char*>(m->key), m->key_len},
          {static_cast<const char*>(m->payload), m->len});
    if (m->offset + 1 >= at->second) end.erase(at);
  }
  return Status::Ok();
}

}  // namespace

Status ScanTopicKeys(const Settings& settings, std::string_view topic,
                     std::chrono::milliseconds timeout,
                     const std::function<void(std::string_view key)>& visit) {
  return ScanTopic(settings, topic, timeout,
                   [&](std::string_view key, std::string_view) { visit(key); });
}

namespace {

// A consumer that joins no group: librdkafka's consumer poll wants a group id, but partitions
// are assigned by hand, so the group is never joined, and nothing is committed to it.
Result<KafkaHandle> UngroupedConsumer(const Settings& settings, bool eof,
                                      std::string_view offset_reset) {
  Settings own = settings;
  own["group.id"] = "careledger-topic-scan";
  own["enable.auto.commit"] = "false";
  own["enable.partition.eof"] = eof ? "true" : "false";
  own["auto.offset.reset"] = std::string(offset_reset);
  auto conf = MakeConf(own);
  if (!conf.ok()) return conf.status();
  auto rk = NewHandle(RD_KAFKA_CONSUMER, std::move(conf.value()));
  if (!rk.ok()) return rk.status();
  rd_kafka_poll_set_consumer(rk->get());
  return rk;
}

}  // namespace

Status ScanTopic(const Settings& settings, std::string_view topic,
                 std::chrono::milliseconds timeout,
                 const std::function<void(std::string_view key, std::string_view value)>& visit) {
  const ScanDeadline deadline{std::chrono::steady_clock::now() + timeout};
  auto rk = UngroupedConsumer(settings, /*eof=*/true, "error");
  if (!rk.ok()) return rk.status();
  struct Close {
    rd_kafka_t* rk;
    ~Close() { rd_kafka_consumer_close(rk); }
  } close{rk->get()};

  const std::string name(topic);
  auto md = TopicMetadata(rk->get(), name, deadline);
  if (!md.ok()) return md.status();
  std::map<int32_t, int64_t> end;
  CARELEDGER_RETURN_IF_ERROR(AssignToEnds(rk->get(), name, (*md)->topics[0], deadline, end));
  return ReadToEnds(rk->get(), name, timeout, deadline, end, visit);
}

Result<std::unique_ptr<TopicFollower>> TopicFollower::Open(const Settings& settings,
                                                           std::string_view topic,
                                                           std::chrono::milliseconds timeout) {
  const ScanDeadline deadline{std::chrono::steady_clock::now() + timeout};
  // What retention or compaction removed before it was read is not there to read: from the
  // first offset there is.
  auto rk = UngroupedConsumer(settings, /*eof=*/false, "earliest");
  if (!rk.ok()) return rk.status();
  std::unique_ptr<TopicFollower> follower(new TopicFollower(std::move(rk).value()));
  const std::string name(topic);
  auto md = TopicMetadata(follower->rk_.get(), name, deadline);
  if (!md.ok()) return md.status();
  const auto& partitions = (*md)->topics[0];
  PartitionList assignment(rd_kafka_topic_partition_list_new(partitions.partition_cnt));
  for (int i = 0; i < partitions.partition_cnt; ++i) {
    rd_kafka_topic_partition_list_add(assignment.get(), name.c_str(), partitions.partitions[i].id)
        ->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  if (auto err = rd_kafka_assign(follower->rk_.get(), assignment.get())) {
    return Status::Retriable("assign " + name + ": " + rd_kafka_err2str(err));
  }
  return follower;
}

TopicFollower::TopicFollower(KafkaHandle rk) : rk_(std::move(rk)) {}

TopicFollower::~TopicFollower() {
  if (rk_) rd_kafka_consumer_close(rk_.get());
}

Status TopicFollower::Poll(
    std::chrono::milliseconds wait,
    const std::function<void(std::string_view key, std::string_view value)>& visit) {
  const ScanDeadline deadline{std::chrono::steady_clock::now() + wait};
  do {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), deadline.Left());
    if (!m) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> message(
        m, rd_kafka_message_destroy);
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
      return Status::Retriable(std::string("following: ") + rd_kafka_message_errstr(m));
    }
    if (m->err) {
      spdlog::debug("following: {}", rd_kafka_message_errstr(m));  // librdkafka retries
      continue;
    }
    visit({static_cast<const char*>(m->key), m->key_len},
          {static_cast<const char*>(m->payload), m->len});
  } while (deadline.Left() > 0);
  return Status::Ok();
}

}  // namespace careledger
