// kafka_handles.h — private to the kafka module: RAII owners of librdkafka's configuration and
// partition lists, and making a configuration and a client handle from settings. Shared by
// kafka.cc (the producer, the group consumer, the mock cluster) and kafka_scan.cc.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>

#include "careledger/common.h"
#include "careledger/kafka.h"

namespace careledger::kafka_detail {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// Validates every setting once, at start-up, with librdkafka's own checks.
Result<ConfHandle> MakeConf(const Settings& settings);

// A client of `type` taking `conf`, its log lines routed through spdlog.
Result<KafkaHandle> NewHandle(rd_kafka_type_t type, ConfHandle conf);

}  // namespace careledger::kafka_detail

namespace careledger {
using namespace kafka_detail;  // NOLINT(google-build-using-namespace): the kafka module's own
}  // namespace careledger
