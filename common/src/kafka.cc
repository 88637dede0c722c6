// The Kafka clients over librdkafka: messages, settings and handles, the mock cluster, the
// producer and the group consumer (ScanTopicKeys is in kafka_scan.cc).
#include "careledger/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "careledger/events.h"
#include "forwarder.h"
#include "kafka_handles.h"

namespace careledger {

void KafkaDeleter::operator()(rd_kafka_t* rk) const {
  rd_kafka_destroy(rk);
}
void Message::Deleter::operator()(rd_kafka_message_t* m) const {
  rd_kafka_message_destroy(m);
}

std::string_view Message::topic() const {
  return rd_kafka_topic_name(m_->rkt);
}
int32_t Message::partition() const {
  return m_->partition;
}
int64_t Message::offset() const {
  return m_->offset;
}
std::string_view Message::key() const {
  return {static_cast<const char*>(m_->key), m_->key_len};
}
std::string_view Message::payload() const {
  return {static_cast<const char*>(m_->payload), m_->len};
}

namespace {

// librdkafka's own log lines go through spdlog so they land on stderr with ours. Its errors
// (a broker disconnecting, a refused connection) are ones it recovers from by itself, so they
// are warnings to us; what it cannot recover from reaches the caller as a fatal error.
void LogCallback(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // One settings file serves the consumer and the producers alike (the [kafka] table), so a
  // consumer property reaching a producer, or the reverse, is by design, not a mistake.
  const std::string_view line(buf);
  const bool other_role = std::string_view(fac) == "CONFWARN" &&
                          (line.find("is a consumer property and will be ignored by this "
                                     "producer") != std::string_view::npos ||
                           line.find("is a producer property and will be ignored by this "
                                     "consumer") != std::string_view::npos);
  if (level <= 4 && !other_role) {
    spdlog::warn("librdkafka {}: {}", fac, buf);
  } else {
    spdlog::debug("librdkafka {}: {}", fac, buf);
  }
}

Settings WithDefaults(Settings settings, const Settings& defaults) {
  for (const auto& [k, v] : defaults) settings.try_emplace(k, v);
  return settings;
}

}  // namespace

Result<ConfHandle> kafka_detail::MakeConf(const Settings& settings) {
  ConfHandle conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      // librdkafka's message may quote the value, which must not reach a log when it is secret.
      std::string why = err;
      if (IsSecretKey(k) && !v.empty()) {
        for (auto at = why.find(v); at != std::string::npos; at = why.find(v, at + 5)) {
          why.replace(at, v.size(), "*****");
        }
      }
      return Status::BadInput(std::string("Kafka setting '").append(k).append("': ").append(why));
    }
  }
  spdlog::debug("kafka settings: {}", MaskedForLog(settings));
  return conf;
}

Result<KafkaHandle> kafka_detail::NewHandle(rd_kafka_type_t type, ConfHandle conf) {
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk) return Status::Fatal(std::string("cannot create Kafka client: ") + err);
  static_cast<void>(conf.release());  // rd_kafka_new took ownership
  return KafkaHandle(rk);
}

// ---- MockCluster ----------------------------------------------------------------------------

Result<std::unique_ptr<MockCluster>> MockCluster::Start(int partitions, int bootstrap_port,
                                                        int brokers) {
  if (partitions < 1) return Status::BadInput("partitions must be at least 1");
  auto conf = MakeConf({{"log_level", "3"}});
  if (!conf.ok()) return conf.status();
  auto rk = NewHandle(RD_KAFKA_PRODUCER, std::move(conf.value()));
  if (!rk.ok()) return rk.status();
  std::unique_ptr<MockCluster> mc(new MockCluster());
  mc->owner_ = std::move(rk.value());
  auto* cluster = rd_kafka_mock_cluster_new(mc->owner_.get(), brokers);
  if (!cluster) return Status::Fatal("cannot start the mock Kafka cluster");
  mc->cluster_ = cluster;
  mc->bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster);
  std::vector<std::string_view> topics(std::begin(kSourceTopics), std::end(kSourceTopics));
  topics.push_back(kTopicDeadLetter);
  for (auto topic : topics) {
    if (auto err =
            rd_kafka_mock_topic_create(cluster, std::string(topic).c_str(), partitions, brokers);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Fatal("cannot create topic " + std::string(topic) + ": " +
                           rd_kafka_err2str(err));
    }
  }
  if (bootstrap_port != 0) {
    // "127.0.0.1:PORT[,...]": forward to the first broker; metadata names the others.
    std::string first = mc->bootstrap_.substr(0, mc->bootstrap_.find(','));
    int broker_port = std::stoi(first.substr(first.rfind(':') + 1));
    auto fwd = TcpForwarder::Start(bootstrap_port, broker_port);
    if (!fwd.ok()) return fwd.status();
    mc->forwarder_ = std::move(fwd.value());
    mc->bootstrap_ = "127.0.0.1:" + std::to_string(bootstrap_port);
  }
  return mc;
}

Status MockCluster::SetBrokerUp(bool up, int broker) {
  auto* c = static_cast<rd_kafka_mock_cluster_t*>(cluster_);
  auto err = up ? rd_kafka_mock_broker_set_up(c, broker) : rd_kafka_mock_broker_set_down(c, broker);
  return err ? Status::Fatal(rd_kafka_err2str(err)) : Status::Ok();
}

Status MockCluster::MoveLeader(std::string_view topic, int partition, int broker) {
  auto err = rd_kafka_mock_partition_set_leader(static_cast<rd_kafka_mock_cluster_t*>(cluster_),
                                                std::string(topic).c_str(), partition, broker);
  return err ? Status::Fatal(rd_kafka_err2str(err)) : Status::Ok();
}

Status MockCluster::FailNextRequests(int16_t api_key, int count, int error) {
  std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(count),
                                          static_cast<rd_kafka_resp_err_t>(error));
  rd_kafka_mock_push_request_errors_array(static_cast<rd_kafka_mock_cluster_t*>(cluster_), api_key,
                                          size_t(count), errors.data());
  return Status::Ok();
}

MockCluster::~MockCluster() {
  if (cluster_) rd_kafka_mock_cluster_destroy(static_cast<rd_kafka_mock_cluster_t*>(cluster_));
}

// ---- Producer -------------------------------------------------------------------------------

// kMaxEnvelopeBytes plus 64 KiB for the key, headers and record batch framing.
constexpr const char* kProducerMaxBytes = "1114112";
static_assert(kMaxEnvelopeBytes + 65536 == 1114112);

struct Producer::Callbacks {
  DeliveryCallback on_delivery;
  // The first offset delivered to each partition. Delivery reports are served by Flush and
  // Produce in the producing thread, so no lock.
  std::map<std::pair<std::string, int32_t>, int64_t> first_delivered;
};

Result<std::unique_ptr<Producer>> Producer::Open(const Settings& settings,
                                                 DeliveryCallback on_delivery) {
  auto conf = MakeConf(WithDefaults(settings, {
                                                  {"enable.idempotence", "true"},
                                                  {"acks", "all"},
                                                  {"partitioner", "murmur2_random"},
                                                  {"linger.ms", "5"},
                                                  {"queue.buffering.max.messages", "1000000"},
                                                  {"compression.codec", "none"},
                                                  // The contract allows envelopes up to
                                                  // kMaxEnvelopeBytes (1 MiB); librdkafka's
                                                  // default limit (1,000,000) is below it.
                                                  // Key, headers and batch framing need room
                                                  // beside the value; topics need the same
                                                  // max.message.bytes (real-kafka.toml).
                                                  {"message.max.bytes", kProducerMaxBytes},
                                              }));
  if (!conf.ok()) return conf.status();
  std::unique_ptr<Producer> p(new Producer());
  p->callbacks_ = std::make_unique<Callbacks>(Callbacks{std::move(on_delivery), {}});
  rd_kafka_conf_set_opaque(conf->get(), p->callbacks_.get());
  rd_kafka_conf_set_dr_msg_cb(
      conf->get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        auto* cb = static_cast<Callbacks*>(opaque);
        if (!m->err && m->offset >= 0) {
          auto [it, added] = cb->first_delivered.try_emplace(
              {rd_kafka_topic_name(m->rkt), m->partition}, m->offset);
          if (!added) it->second = std::min(it->second, m->offset);
        }
        if (!cb->on_delivery) return;
        auto tag = reinterpret_cast<uintptr_t>(m->_private);
        cb->on_delivery(tag, m->err ? Status::Retriable(rd_kafka_err2str(m->err)) : Status::Ok());
      });
  auto rk = NewHandle(RD_KAFKA_PRODUCER, std::move(conf.value()));
  if (!rk.ok()) return rk.status();
  p->rk_ = std::move(rk.value());
  // Messages produced before the idempotent producer has its producer id wait for a retry
  // timer (~1 s on the mock cluster, measured). A metadata round trip first lets the id
  // request go out with the first broker connection; failing it is not an error here (the
  // broker may come later, and librdkafka retries).
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(p->rk_.get(), 0, nullptr, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(metadata);
  }
  return p;
}

Producer::~Producer() {
  if (rk_) rd_kafka_flush(rk_.get(), 10000);
}

Status Producer::Produce(std::string_view topic, std::string_view key, std::string_view value,
                         std::initializer_list<Header> headers, uint64_t tag) {
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& h : headers) {
    rd_kafka_header_add(hdrs, h.name.data(), ssize_t(h.name.size()), h.value.data(),
                        ssize_t(h.value.size()));
  }
  std::string topic_name(topic);
  for (;;) {
    // The RD_KAFKA_V_* macros are C and cast C-style.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
    auto err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
        // The tag travels as librdkafka's opaque pointer, never dereferenced: an integer is
        // what it carries. NOLINTNEXTLINE(performance-no-int-to-ptr)
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(uintptr_t(tag))), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();  // headers now owned by the msg
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_.get(), 50);  // serve delivery reports to make room
      continue;
    }
    rd_kafka_headers_destroy(hdrs);
    if (rd_kafka_fatal_error(rk_.get(), nullptr, 0)) {
      return Status::Fatal(std::string("producer: ") + rd_kafka_err2str(err));
    }
    return Status::Retriable(std::string("producer: ") + rd_kafka_err2str(err));
  }
}

Status Producer::Flush(std::chrono::milliseconds timeout) {
  auto err = rd_kafka_flush(rk_.get(), int(timeout.count()));
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return Status::Retriable(std::to_string(rd_kafka_outq_len(rk_.get())) +
                             " messages still undelivered after " +
                             std::to_string(timeout.count()) + " ms");
  }
  return Status::Ok();
}

void Producer::Poll() {
  rd_kafka_poll(rk_.get(), 0);
}

int32_t PartitionForKey(std::string_view key, int32_t partitions) {
  // librdkafka's own murmur2 partitioner (the topic and opaques are unused for a key).
  return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions, nullptr,
                                          nullptr);
}

Result<std::vector<Producer::Dropped>> Producer::DroppedByRetention(
    std::chrono::milliseconds timeout) {
  std::vector<Dropped> out;
  for (const auto& [tp, first] : callbacks_->first_delivered) {
    int64_t low = 0, high = 0;
    if (auto err = rd_kafka_query_watermark_offsets(rk_.get(), tp.first.c_str(), tp.second, &low,
                                                    &high, int(timeout.count()))) {
      return Status::Retriable("low watermark of " + tp.first + "/" + std::to_string(tp.second) +
                               ": " + rd_kafka_err2str(err));
    }
    if (low > first) out.push_back({tp.first, tp.second, first, low});
  }
  return out;
}

// ---- GroupConsumer --------------------------------------------------------------------------

namespace {

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  out.reserve(size_t(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  }
  return out;
}

void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* listener = static_cast<GroupConsumer::Listener*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    auto tps = ToVector(partitions);
    auto offsets = listener->OnAssign(tps);
    for (int i = 0; i < partitions->cnt; ++i) partitions->elems[i].offset = offsets[size_t(i)];
    if (auto e = rd_kafka_assign(rk, partitions)) {
      spdlog::error("assign failed: {}", rd_kafka_err2str(e));
    }
  } else {
    listener->OnRevoke(ToVector(partitions));
    if (auto e = rd_kafka_assign(rk, nullptr)) {
      spdlog::error("unassign failed: {}", rd_kafka_err2str(e));
    }
  }
}

}  // namespace

Status CheckKafkaSettings(const Settings& settings) {
  auto conf = MakeConf(settings);
  return conf.ok() ? Status::Ok() : conf.status();
}

Result<std::unique_ptr<GroupConsumer>> GroupConsumer::Open(const Settings& settings,
                                                           const std::vector<std::string>& topics,
                                                           Listener* listener) {
  auto conf = MakeConf(WithDefaults(settings, {
                                                  {"group.id", "careledger-ingest"},
                                                  {"enable.auto.commit", "false"},
                                                  {"enable.auto.offset.store", "false"},
                                                  // Never skip silently: a start below
                                                  // the low watermark (retention) or past
                                                  // the high one (a recreated topic) is
                                                  // reported to the listener instead.
                                                  {"auto.offset.reset", "error"},
                                                  {"partition.assignment.strategy", "range"},
                                                  {"enable.partition.eof", "false"},
                                                  // How long a broker may hold a fetch that
                                                  // has no data. The mock cluster holds it
                                                  // the whole time even when data arrives,
                                                  // so this bounds publish-to-figure latency
                                                  // there (100 ms gave p99 133 ms at 10k/s,
                                                  // 5 ms 33 ms: bench/README.md). A real
                                                  // broker answers as soon as data arrives,
                                                  // so there it only sets the idle request
                                                  // rate (ops/examples/real-kafka.toml).
                                                  {"fetch.wait.max.ms", "5"},
                                              }));
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), listener);
  rd_kafka_conf_set_rebalance_cb(conf->get(), RebalanceCallback);
  auto rk = NewHandle(RD_KAFKA_CONSUMER, std::move(conf.value()));
  if (!rk.ok()) return rk.status();
  std::unique_ptr<GroupConsumer> c(new GroupConsumer());
  c->rk_ = std::move(rk.value());
  c->listener_ = listener;
  rd_kafka_poll_set_consumer(c->rk_.get());
  PartitionList subscription(rd_kafka_topic_partition_list_new(int(topics.size())));
  for (const auto& t : topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (auto err = rd_kafka_subscribe(c->rk_.get(), subscription.get())) {
    return Status::Fatal(std::string("subscribe: ") + rd_kafka_err2str(err));
  }
  return c;
}

GroupConsumer::~GroupConsumer() {
  if (rk_) rd_kafka_consumer_close(rk_.get());
}

Status GroupConsumer::Poll(size_t max, std::chrono::milliseconds wait, std::vector<Message>& out) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  const size_t had = out.size();
  while (out.size() < max) {
    // Wait only for the first message; after it, take what has already arrived. A batch is
    // then as big as the backlog (large when ingest is behind, amortising the fsync) and a
    // lone event is not held back for the rest of the window.
    auto left = out.size() > had ? std::chrono::milliseconds(0)
                                 : std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - std::chrono::steady_clock::now());
    rd_kafka_message_t* m =
        rd_kafka_consumer_poll(rk_.get(), int(std::max<int64_t>(0, left.count())));
    if (!m) {
      if (left.count() <= 0) break;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      TopicPartition tp{m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->partition};
      int64_t offset = m->offset;
      rd_kafka_message_destroy(m);
      listener_->OnOutOfRange(tp, offset);
      continue;
    }
    if (m->err) {
      std::string what = rd_kafka_message_errstr(m);
      bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
      rd_kafka_message_destroy(m);
      if (fatal) return Status::Fatal("consumer: " + what);
      spdlog::warn("consumer: {}", what);  // librdkafka retries these itself
      continue;
    }
    out.emplace_back(m);
  }
  return Status::Ok();
}

int64_t GroupConsumer::CachedHighWatermark(const TopicPartition& tp) const {
  int64_t low = -1, high = -1;
  if (rd_kafka_get_watermark_offsets(rk_.get(), tp.topic.c_str(), tp.partition, &low, &high)) {
    return -1;
  }
  return high;
}

Result<std::vector<int64_t>> GroupConsumer::HighWatermarks(
    const std::vector<TopicPartition>& partitions, std::chrono::milliseconds timeout) {
  return ListOffsets(partitions, RD_KAFKA_OFFSET_END, timeout);
}

Result<std::map<std::string, int32_t>> GroupConsumer::PartitionCounts(
    const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  if (auto err = rd_kafka_metadata(rk_.get(), 1, nullptr, &md, int(timeout.count()))) {
    return Status::Retriable(std::string("topic metadata: ") + rd_kafka_err2str(err));
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(
      md, rd_kafka_metadata_destroy);
  std::map<std::string, int32_t> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (std::find(topics.begin(), topics.end(), t.topic) == topics.end()) continue;
    if (t.err) {
      return Status::Retriable("metadata of " + std::string(t.topic) + ": " +
                               rd_kafka_err2str(t.err));
    }
    out[t.topic] = t.partition_cnt;
  }
  return out;
}

Result<std::vector<int64_t>> GroupConsumer::LowWatermarks(
    const std::vector<TopicPartition>& partitions, std::chrono::milliseconds timeout) {
  return ListOffsets(partitions, RD_KAFKA_OFFSET_BEGINNING, timeout);
}

Result<std::vector<int64_t>> GroupConsumer::ListOffsets(
    const std::vector<TopicPartition>& partitions, int64_t which,
    std::chrono::milliseconds timeout) {
  const char* what = which == RD_KAFKA_OFFSET_END ? "high watermark" : "low watermark";
  PartitionList list(rd_kafka_topic_partition_list_new(int(partitions.size())));
  for (const auto& tp : partitions) {
    // ListOffsets with timestamp -1 answers with the end offset, -2 with the first one held.
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = which;
  }
  if (auto err = rd_kafka_offsets_for_times(rk_.get(), list.get(), int(timeout.count()))) {
    return Status::Retriable(std::string(what) + "s: " + rd_kafka_err2str(err));
  }
  std::vector<int64_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err) {
      return Status::Retriable(std::string(what) + " of " + list->elems[i].topic + "/" +
                               std::to_string(list->elems[i].partition) + ": " +
                               rd_kafka_err2str(list->elems[i].err));
    }
    out.push_back(list->elems[i].offset);
  }
  return out;
}

}  // namespace careledger

#if defined(__SANITIZE_THREAD__)
// librdkafka's threads and locks are C11's, which TSan cannot see without this (see there).
#include "tsan_c11_threads.h"
#endif
