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

Result<PublishReport> PublishFeed(FeedFormat format, const std::vector<std::string>& files,
                                  const AdapterOptions& options, const Settings& kafka,
                                  const RejectSink& on_reject, std::ostream& diagnostics) {
  PublishReport report;
  auto start = std::chrono::steady_clock::now();
  // Files are named by their index in `files`; adapters report the path they were given.
  auto file_index = [&](const std::string& path) {
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i] == path) return i;
    }
    return size_t{0};
  };
  auto producer = Producer::Open(kafka, [&](uint64_t tag, const Status& s) {
    if (s.ok()) {
      ++report.published;
      return;
    }
    ++report.undelivered;
    diagnostics << files[tag >> kLineBits] << ':' << (tag & ((uint64_t{1} << kLineBits) - 1))
                << ": not delivered: " << s.message() << '\n';
  });
  if (!producer.ok()) return producer.status();

  size_t last_index = 0;
  const std::string* last_file = nullptr;
  EventSink on_event = [&](FeedEvent&& e) {
    if (last_file == nullptr || *last_file != e.file) {
      last_index = file_index(e.file);
      last_file = &files[last_index];
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
  auto adapted = AdaptFiles(format, files, options, on_event, on_reject);
  if (!adapted.ok()) return adapted.status();
  report.lines = adapted->rows;
  report.rejected = adapted->rejected;
  if (Status s = (*producer)->Flush(std::chrono::seconds(60)); !s.ok()) {
    // Whatever has no delivery report is not published; say how many.
    diagnostics << "publish: " << s.message() << '\n';
    report.undelivered += report.events - report.published - report.undelivered;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<PublishReport> PublishJsonl(const std::vector<std::string>& files, const Settings& kafka,
                                   std::ostream& diagnostics) {
  RejectSink on_reject = [&](Reject&& r) { diagnostics << r.ToString() << '\n'; };
  return PublishFeed(FeedFormat::kJsonl, files, AdapterOptions{}, kafka, on_reject, diagnostics);
}

}  // namespace careledger
