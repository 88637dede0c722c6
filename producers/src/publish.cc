#include <spdlog/spdlog.h>

#include <fstream>

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

Result<PublishReport> PublishJsonl(const std::vector<std::string>& files, const Settings& kafka,
                                   std::ostream& diagnostics) {
  PublishReport report;
  auto start = std::chrono::steady_clock::now();
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

  EnvelopeParser parser;
  Envelope env;
  std::string line;
  for (size_t f = 0; f < files.size(); ++f) {
    std::ifstream in(files[f], std::ios::binary);
    if (!in) return Status::BadInput("cannot open " + files[f]);
    uint64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      ++report.lines;
      if (Status s = parser.Parse(line, env); !s.ok()) {
        ++report.rejected;
        diagnostics << files[f] << ':' << line_no << ": " << s.message() << '\n';
        continue;
      }
      auto type = EventTypeName(env.type);
      Status s = (*producer)->Produce(TopicFor(env.type), env.child_id, line,
                                      {{"ce_type", type}, {"content-type", "application/json"}},
                                      Tag(f, line_no));
      if (!s.ok()) {
        if (s.error_class() == ErrorClass::kFatal) return s;
        ++report.undelivered;
        diagnostics << files[f] << ':' << line_no << ": not queued: " << s.message() << '\n';
      }
    }
  }
  if (Status s = (*producer)->Flush(std::chrono::seconds(60)); !s.ok()) {
    // Whatever has no delivery report is not published; say how many.
    diagnostics << "publish: " << s.message() << '\n';
    report.undelivered += report.lines - report.rejected - report.published - report.undelivered;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace careledger
