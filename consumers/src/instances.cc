// The instances of a group on careledger.instances.v1: the record, reading the topic, and the
// announcer ingest runs (instance_announcer.h).
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "careledger/consumers.h"
#include "instance_announcer.h"

namespace careledger {

namespace {

void AppendList(std::string& out, const std::vector<int32_t>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + std::to_string(items[i]);
  out += ']';
}

// Far beyond any topic's (Kafka's own limits are in the thousands): a count past it is garbage.
constexpr int64_t kMaxPartitions = 1 << 20;

void SortUnique(std::vector<int32_t>& items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
}

}  // namespace

std::string EncodeInstanceRecord(const InstanceRecord& record) {
  std::string out = "{\"instance\":";
  AppendJsonString(out, record.instance);
  out += ",\"group\":";
  AppendJsonString(out, record.group);
  out += ",\"advertised\":";
  AppendJsonString(out, record.advertised);
  out += ",\"running\":";
  out += record.running ? "true" : "false";
  out += ",\"partitions\":";
  AppendList(out, record.partitions);
  out += ",\"reading\":";
  AppendList(out, record.reading);
  out += ",\"of\":" + std::to_string(record.of);
  out += ",\"at\":";
  AppendJsonString(out, FormatInstant(record.at));
  out += "}";
  return out;
}

Result<InstanceRecord> DecodeInstanceRecord(std::string_view json) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  InstanceRecord r;
  std::string at;
  auto bad = [](std::string_view why) {
    return Status::BadInput("an instance record does not decode: " + std::string(why));
  };
  try {
    auto doc = parser.iterate(padded);
    for (auto field : doc.get_object()) {
      std::string_view key = field.unescaped_key();
      if (key == "instance") {
        r.instance = std::string(std::string_view(field.value().get_string()));
      } else if (key == "group") {
        r.group = std::string(std::string_view(field.value().get_string()));
      } else if (key == "advertised") {
        r.advertised = std::string(std::string_view(field.value().get_string()));
      } else if (key == "running") {
        r.running = field.value().get_bool();
      } else if (key == "partitions") {
        for (auto p : field.value().get_array()) r.partitions.push_back(int32_t(int64_t(p)));
      } else if (key == "reading") {
        for (auto p : field.value().get_array()) r.reading.push_back(int32_t(int64_t(p)));
      } else if (key == "of") {
        const int64_t of = field.value().get_int64();
        if (of < 0 || of > kMaxPartitions) return bad("of: not a partition count");
        r.of = int32_t(of);
      } else if (key == "at") {
        at = std::string(std::string_view(field.value().get_string()));
      }
    }
  } catch (const simdjson::simdjson_error& e) {
    return bad(e.what());
  }
  if (r.instance.empty()) return bad("no instance");
  auto when = ParseTimestamp(at);
  if (!when.ok()) return bad("at: " + when.status().message());
  r.at = when->instant;
  // (A record from before `reading` and `of` has neither: nothing read, partitions not said.)
  SortUnique(r.partitions);
  SortUnique(r.reading);
  return r;
}

void KeepLatestInstance(std::string_view key, std::string_view value,
                        std::map<std::string, InstanceRecord>& latest) {
  auto record = DecodeInstanceRecord(value);
  if (!record.ok()) {
    spdlog::warn("{} key {}: {}", kTopicInstances, key, record.status().message());
    return;
  }
  std::string id = record->instance;
  latest[id] = std::move(record).value();
}

Result<std::vector<InstanceRecord>> ReadInstances(const Settings& kafka,
                                                  std::chrono::milliseconds timeout) {
  Settings settings = kafka;
  settings.erase("group.id");
  std::map<std::string, InstanceRecord> latest;
  Status s = ScanTopic(settings, kTopicInstances, timeout,
                       [&](std::string_view key, std::string_view value) {
                         KeepLatestInstance(key, value, latest);
                       });
  // A topic no instance has written yet has no partitions to read.
  if (!s.ok() && s.message().find("Unknown topic") == std::string::npos) return s;
  std::vector<InstanceRecord> out;
  out.reserve(latest.size());
  for (auto& [id, record] : latest) out.push_back(std::move(record));
  return out;
}

InstanceAnnouncer::InstanceAnnouncer(Settings kafka, std::string instance, std::string group,
                                     std::string advertised)
    : settings_(std::move(kafka)) {
  settings_.erase("group.id");
  settings_.erase("group.instance.id");
  record_.instance = std::move(instance);
  record_.group = std::move(group);
  record_.advertised = std::move(advertised);
}

InstanceAnnouncer::~InstanceAnnouncer() = default;

void InstanceAnnouncer::Assigned(const std::vector<TopicPartition>& partitions, int32_t of,
                                 std::vector<int32_t> reading) {
  record_.partitions.clear();
  for (const auto& tp : partitions) record_.partitions.push_back(tp.partition);
  SortUnique(record_.partitions);
  record_.of = of;
  record_.reading = std::move(reading);
  SortUnique(record_.reading);
  Announce(true);
}

void InstanceAnnouncer::Revoked() {
  record_.partitions.clear();
  record_.reading.clear();
  Announce(true);
}

void InstanceAnnouncer::ReadToTheEnd() {
  if (record_.reading.empty()) return;
  record_.reading.clear();
  Announce(true);
}

void InstanceAnnouncer::Tick() {
  if (producer_) producer_->Poll();
  if (Clock::now() - last_ >= InstanceRecord::kEvery) Announce(true);
}

void InstanceAnnouncer::Stopped() {
  record_.partitions.clear();
  record_.reading.clear();
  Announce(false);
  if (producer_) {
    if (auto s = producer_->Flush(std::chrono::seconds(5)); !s.ok()) {
      spdlog::warn("{}: the stop was not delivered: {}", kTopicInstances, s.message());
    }
  }
}

void InstanceAnnouncer::Announce(bool running) {
  last_ = Clock::now();
  record_.running = running;
  record_.at = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  if (!producer_) {
    // Announcing is for the other instances and operators: it never stops ingest.
    auto opened = Producer::Open(settings_, [](uint64_t, const Status& s) {
      if (!s.ok()) spdlog::warn("{}: not delivered: {}", kTopicInstances, s.message());
    });
    if (!opened.ok()) {
      spdlog::warn("{}: {}", kTopicInstances, opened.status().message());
      return;
    }
    producer_ = std::move(opened).value();
  }
  if (auto s = producer_->Produce(kTopicInstances, record_.instance, EncodeInstanceRecord(record_),
                                  {}, 0);
      !s.ok()) {
    spdlog::warn("{}: {}", kTopicInstances, s.message());
  }
}

}  // namespace careledger
