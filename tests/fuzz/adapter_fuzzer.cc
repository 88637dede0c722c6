// One CSV feed adapter (CARELEDGER_FUZZ_FORMAT: kSsda903, kPoliceCsv or kYjsCsv) on arbitrary
// files. Every row becomes valid events or a reject; the run itself never fails, since the files
// are readable and SSDA903 has the districts to judge out_of_area by; and a second run over the
// same files gives the same envelopes, byte for byte.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "careledger/producers.h"
#include "fuzz_input.h"

namespace careledger::fuzz {
namespace {

constexpr FeedFormat kFormat = FeedFormat::CARELEDGER_FUZZ_FORMAT;

AdapterOptions Options() {
  AdapterOptions options;
  // Fixed, so that a run does not depend on the scratch files' modification times.
  options.extracted_at = ParseTimestamp("2025-04-02T09:00:00Z")->instant;
  options.local_postcode_districts = {"LS1", "LS2", "LS6", "BD1"};
  return options;
}

}  // namespace
}  // namespace careledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace careledger;
  static const fuzz::ScratchDir dir;
  static const AdapterOptions options = fuzz::Options();
  // SSDA903 reads up to four files at once (header, episodes, missing, OC3); the others one.
  std::vector<std::string_view> texts = fuzz::SplitFiles(fuzz::AsText(data, size));
  if (fuzz::kFormat != FeedFormat::kSsda903 || texts.size() > 4) texts = {fuzz::AsText(data, size)};
  std::vector<std::string> files;
  for (size_t i = 0; i < texts.size(); ++i) {
    files.push_back(dir.Write("feed" + std::to_string(i) + ".csv", texts[i]));
  }
  std::vector<FeedEvent> events;
  std::vector<Reject> rejects;
  auto report = AdaptFiles(fuzz::kFormat, files, options, events, rejects);
  if (!report.ok()) {
    std::fprintf(stderr, "AdaptFiles failed: %s\n", report.status().message().c_str());
    std::abort();
  }
  if (report->events != events.size() || report->rejected != rejects.size()) std::abort();
  // The same rows give the same bytes: a re-send is a duplicate only if it is byte-identical.
  std::vector<FeedEvent> again;
  std::vector<Reject> rejects_again;
  if (!AdaptFiles(fuzz::kFormat, files, options, again, rejects_again).ok()) std::abort();
  if (again.size() != events.size() || rejects_again.size() != rejects.size()) std::abort();
  for (size_t i = 0; i < events.size(); ++i) {
    if (again[i].envelope != events[i].envelope) std::abort();
  }
  return 0;
}
