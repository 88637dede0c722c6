// EnvelopeParser::Parse on arbitrary bytes: every input is either an envelope or a BadInput
// naming why, never a crash, a leak or undefined behaviour.
#include <cstdlib>

#include "careledger/events.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One parser for the run, as ingest keeps one: its reused buffers are part of what is tested.
  static careledger::EnvelopeParser parser;
  careledger::Envelope envelope;
  careledger::Status s = parser.Parse(careledger::fuzz::AsText(data, size), envelope);
  // Fatal would mean the built-in contract failed to load: not the input's fault.
  if (!s.ok() && s.error_class() != careledger::ErrorClass::kBadInput) std::abort();
  return 0;
}
