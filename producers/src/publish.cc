#include <spdlog/spdlog.h>

#include "careledger/events.h"
#include "careledger/kafka.h"
#include "careledger/producers.h"

namespace careledger {

namespace {

// A message's tag carries where it came from, so an undelivered one can be named.
constexpr int kLineBits = 40;
uint64_t Tag(size_t file, uint64_t line) {
  return (uint64_t(file) << kLineBits) | line;
}

}  // namespace

namespace {

// The publishing half shared by feeds and re-driven dead letters: `source` hands events to the
// sink it is given (and reports rows and rejects); each event is produced to its type's topic
// keyed by child_id and counted once its delivery report says so. Events are named by their
// `file` (an index into `names`) and line when they are not delivered.
using FeedSource = std::function<Result<AdaptReport>(const EventSink&)>;
Result<PublishReport> PublishFrom(const FeedSource& source, const std::vector<std::string>& names,
                                  const Settings& kafka, std::ostream& diagnostics) {
  PublishReport report;
  auto start = std::chrono::steady_clock::now();
  auto name_index = [&](const std::string& name) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return i;
    }
    return size_t{0};
  };
  auto producer = Producer::Open(kafka, [&](uint64_t tag, const Status& s) {
    if (s.ok()) {
      ++report.published;
      return;
    }
    ++report.undelivered;
    diagnostics << names[tag >> kLineBits] << ':' << (tag & ((uint64_t{1} << kLineBits) - 1))
                << ": not delivered: " << s.message() << '\n';
  });
  if (!producer.ok()) return producer.status();

  size_t last_index = 0;
  const std::string* last_name = nullptr;
  EventSink on_event = [&](FeedEvent&& e) {
    if (last_name == nullptr || *last_name != e.file) {
      last_index = name_index(e.file);
      last_name = &names[last_index];
    }
    ++report.events;
    Status s = (*producer)->Produce(
        TopicFor(e.type), e.child_id, e.envelope,
        {{"ce_type", EventTypeName(e.type)}, {"content-type", "application/json"}},
        Tag(last_index, e.line));
    if (!s.ok()) {
      if (s.error_class() == ErrorClass::kFatal) return s;
      ++report.undelivered;
      diagnostics << e.file << ':' << e.line << ": not queued: " << s.message() << '\n';
    }
    return Status::Ok();
  };
  auto fed = source(on_event);
  if (!fed.ok()) return fed.status();
  report.lines = fed->rows;
  report.rejected = fed->rejected;
  report.warnings = fed->warnings;
  if (Status s = (*producer)->Flush(std::chrono::seconds(60)); !s.ok()) {
    // Whatever has no delivery report is not published; say how many.
    diagnostics << "publish: " << s.message() << '\n';
    report.undelivered += report.events - report.published - report.undelivered;
  }
  // Delivered is not yet kept: a broker whose retention is smaller than what was just sent
  // has already dropped the oldest, and ingest would meet them as an offset gap.
  if (auto dropped = (*producer)->DroppedByRetention(std::chrono::seconds(10)); !dropped.ok()) {
    diagnostics << "publish: cannot check what the broker still holds: "
                << dropped.status().message() << '\n';
  } else {
    for (const auto& d : *dropped) {
      diagnostics << "publish: " << d.topic << '/' << d.partition << ": offsets " << d.from << ".."
                  << d.to - 1 << " (" << d.to - d.from
                  << " messages) were delivered and already dropped by the broker\n";
      report.dropped += uint64_t(d.to - d.from);
    }
    if (!dropped->empty()) {
      diagnostics << "publish: the broker's retention dropped events before they could be read "
                     "(the embedded broker keeps about 5 MiB per partition): publish in smaller "
                     "pieces while ingest runs (`careledger run`), or use Kafka with "
                     "retention.ms=-1 (ops/runbooks/offset-gap.md)\n";
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace

Result<PublishReport> PublishFeed(FeedFormat format, const std::vector<std::string>& files,
                                  const AdapterOptions& options, const Settings& kafka,
                                  const RejectSink& on_reject, std::ostream& diagnostics) {
  return PublishFrom(
      [&](const EventSink& sink) { return AdaptFiles(format, files, options, sink, on_reject); },
      files, kafka, diagnostics);
}

Result<PublishReport> PublishEvents(std::vector<FeedEvent> events, const Settings& kafka,
                                    std::ostream& diagnostics) {
  std::vector<std::string> names;
  for (const auto& e : events) {
    if (names.empty() || names.back() != e.file) names.push_back(e.file);
  }
  return PublishFrom(
      [&](const EventSink& sink) -> Result<AdaptReport> {
        AdaptReport r;
        for (auto& e : events) {
          ++r.rows;
          ++r.events;
          CARELEDGER_RETURN_IF_ERROR(sink(std::move(e)));
        }
        return r;
      },
      names, kafka, diagnostics);
}

Result<PublishReport> PublishJsonl(const std::vector<std::string>& files, const Settings& kafka,
                                   std::ostream& diagnostics) {
  RejectSink on_reject = [&](Reject&& r) { diagnostics << r.ToString() << '\n'; };
  return PublishFeed(FeedFormat::kJsonl, files, AdapterOptions{}, kafka, on_reject, diagnostics);
}

}  // namespace careledger
