// careledger/kafka.h — RAII owners for librdkafka: the embedded mock cluster, an idempotent
// producer that knows which messages were delivered, and a group consumer whose starting
// offsets come from the caller (the store), never from the broker.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"

struct rd_kafka_s;
struct rd_kafka_message_s;

namespace careledger {

class TcpForwarder;

// librdkafka's own checks of property names and values, as every client applies at start-up;
// BadInput naming the first property it refuses (never a secret's value).
Status CheckKafkaSettings(const Settings& settings);

struct KafkaDeleter {
  void operator()(rd_kafka_s* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_s, KafkaDeleter>;

// librdkafka's mock cluster: a real Kafka protocol endpoint on loopback, in this process.
// It keeps only ~5 MiB per partition and is single-threaded: size workloads accordingly.
class MockCluster {
 public:
  // Creates the three source topics and the dead-letter topic with `partitions` each. The mock
  // brokers listen on ephemeral ports; a non-zero `bootstrap_port` adds a loopback forwarder on
  // that port to the first broker, so clients can be configured with a fixed address (they
  // then follow the metadata to the brokers' own ports).
  static Result<std::unique_ptr<MockCluster>> Start(int partitions, int bootstrap_port = 0,
                                                    int brokers = 1);
  ~MockCluster();
  const std::string& bootstrap_servers() const { return bootstrap_; }

  // Fault injection, for tests: a broker (1..brokers) stops answering (connections close) or
  // comes back; the next `count` requests of a Kafka API (0 Produce, 1 Fetch, ...) fail with
  // `error`; a partition's leadership moves to another broker.
  Status SetBrokerUp(bool up, int broker = 1);
  Status FailNextRequests(int16_t api_key, int count, int error);
  Status MoveLeader(std::string_view topic, int partition, int broker);

 private:
  MockCluster() = default;
  KafkaHandle owner_;  // the mock cluster's book-keeping handle; destroyed after the cluster
  void* cluster_ = nullptr;
  std::unique_ptr<TcpForwarder> forwarder_;
  std::string bootstrap_;
};

// The partition a keyed message belongs in: murmur2(key) mod partitions, positive, as Java
// clients, kcat and careledger's producer (murmur2_random) choose it.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

struct Header {
  std::string_view name, value;
};

class Producer {
 public:
  // Called from Flush/Poll for each message: its opaque tag and the delivery error, if any.
  using DeliveryCallback = std::function<void(uint64_t tag, const Status& status)>;

  // Settings pass to librdkafka; idempotence, acks=all and the murmur2_random partitioner
  // (what Java clients and kcat use) are set unless the caller overrides them.
  static Result<std::unique_ptr<Producer>> Open(const Settings& settings,
                                                DeliveryCallback on_delivery);
  ~Producer();

  // Queues one message; waits for room when the local queue is full.
  Status Produce(std::string_view topic, std::string_view key, std::string_view value,
                 std::initializer_list<Header> headers, uint64_t tag);
  // Waits until every queued message has a delivery report (or the timeout passes).
  Status Flush(std::chrono::milliseconds timeout);
  // Serves the delivery reports that have arrived, without waiting.
  void Poll();
  // Messages this producer delivered that the broker no longer holds (its low watermark is
  // past them): retention dropped them before anyone could have read them, as the embedded
  // broker does beyond ~5 MiB per partition. Empty when none.
  struct Dropped {
    std::string topic;
    int32_t partition = 0;
    int64_t from = 0, to = 0;  // offsets [from, to) delivered and gone
  };
  Result<std::vector<Dropped>> DroppedByRetention(std::chrono::milliseconds timeout);

 private:
  Producer() = default;
  struct Callbacks;
  std::unique_ptr<Callbacks> callbacks_;
  KafkaHandle rk_;
};

// A consumed message; owns the librdkafka message.
class Message {
 public:
  explicit Message(rd_kafka_message_s* m) : m_(m) {}
  std::string_view topic() const;
  int32_t partition() const;
  int64_t offset() const;
  std::string_view key() const;
  std::string_view payload() const;

 private:
  struct Deleter {
    void operator()(rd_kafka_message_s* m) const;
  };
  std::unique_ptr<rd_kafka_message_s, Deleter> m_;
};

// Visits the key of every message `topic` holds: each partition read from its low watermark
// to its high watermark as of the call, by a consumer of its own that joins no group and
// commits nothing. Retriable when the topic cannot be read to those ends within `timeout`.
// For a producer that may have died between a delivery and recording it: what is already
// there (ingest's dead-letter outbox).
Status ScanTopicKeys(const Settings& settings, std::string_view topic,
                     std::chrono::milliseconds timeout,
                     const std::function<void(std::string_view key)>& visit);
// The same, each message's key and value, in offset order within each partition.
Status ScanTopic(const Settings& settings, std::string_view topic,
                 std::chrono::milliseconds timeout,
                 const std::function<void(std::string_view key, std::string_view value)>& visit);

// Follows a topic from its first offset, by a consumer of its own that joins no group and
// commits nothing, kept open between reads: for a small topic read again and again (each
// serve reads careledger.instances.v1 every few seconds), where a consumer opened for each
// read would connect, and over TLS and SASL authenticate, each time. The partitions are those
// the topic has when it is opened.
class TopicFollower {
 public:
  // Retriable when the topic's partitions cannot be read (it does not exist yet).
  static Result<std::unique_ptr<TopicFollower>> Open(const Settings& settings,
                                                     std::string_view topic,
                                                     std::chrono::milliseconds timeout);
  ~TopicFollower();
  TopicFollower(const TopicFollower&) = delete;
  TopicFollower& operator=(const TopicFollower&) = delete;
  // Visits, in offset order within each partition, what arrives within `wait`. Retriable when
  // the follower cannot go on (open it again): the client failed for good.
  [[nodiscard]] Status Poll(
      std::chrono::milliseconds wait,
      const std::function<void(std::string_view key, std::string_view value)>& visit);

 private:
  explicit TopicFollower(KafkaHandle rk);
  KafkaHandle rk_;
};

class GroupConsumer {
 public:
  struct Listener {
    virtual ~Listener() = default;
    // The next offset to read for each newly assigned partition (-2 = from the beginning).
    virtual std::vector<int64_t> OnAssign(const std::vector<TopicPartition>& partitions) = 0;
    // Called before partitions are taken away: write what is in hand for them now.
    virtual void OnRevoke(const std::vector<TopicPartition>& partitions) = 0;
    // The broker no longer holds `offset` (or never did): retention removed it, or the topic
    // was recreated. The consumer never resets on its own (auto.offset.reset=error), so
    // this is the only way on from here, and the listener decides.
    virtual void OnOutOfRange(const TopicPartition& partition, int64_t offset) = 0;
  };

  // Range assignment keeps partition p of every co-partitioned topic on one instance; Kafka
  // offsets are never committed, because the store holds them with the data.
  static Result<std::unique_ptr<GroupConsumer>> Open(const Settings& settings,
                                                     const std::vector<std::string>& topics,
                                                     Listener* listener);
  ~GroupConsumer();  // leaves the group

  // Up to `max` messages: waits at most `wait` for the first, then takes only what has
  // already arrived. Broker errors that librdkafka
  // recovers from itself are logged; fatal ones are returned.
  Status Poll(size_t max, std::chrono::milliseconds wait, std::vector<Message>& out);
  // The high watermark librdkafka last saw in a fetch response (no request); -1 if none yet.
  int64_t CachedHighWatermark(const TopicPartition& tp) const;
  // Each partition's high watermark (the offset the next message will get), in one request
  // per broker rather than one per partition.
  Result<std::vector<int64_t>> HighWatermarks(const std::vector<TopicPartition>& partitions,
                                              std::chrono::milliseconds timeout);
  // How many partitions each topic has now (one metadata request).
  Result<std::map<std::string, int32_t>> PartitionCounts(const std::vector<std::string>& topics,
                                                         std::chrono::milliseconds timeout);
  // Each partition's low watermark (the first offset the broker still holds), likewise.
  Result<std::vector<int64_t>> LowWatermarks(const std::vector<TopicPartition>& partitions,
                                             std::chrono::milliseconds timeout);

 private:
  GroupConsumer() = default;
  Result<std::vector<int64_t>> ListOffsets(const std::vector<TopicPartition>& partitions,
                                           int64_t which, std::chrono::milliseconds timeout);
  KafkaHandle rk_;
  Listener* listener_ = nullptr;
};

}  // namespace careledger
