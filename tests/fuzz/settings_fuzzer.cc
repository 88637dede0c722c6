// ResolveConfig on an arbitrary settings file: valid settings or a BadInput naming the line,
// never a crash, an escaped exception, a leak or undefined behaviour.
#include <cstdlib>

#include "careledger/config.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace careledger;
  static const fuzz::ScratchDir dir;
  ConfigFlags flags;
  flags.config_file = dir.Write("careledger.toml", fuzz::AsText(data, size));
  auto config = ResolveConfig(flags, Environment{});
  if (!config.ok() && config.status().error_class() != ErrorClass::kBadInput) std::abort();
  if (config.ok()) {
    // What `config check` shows must hold up for whatever was read.
    (void)config->Describe();
    (void)config->KafkaSettings();
    (void)config->LocalPostcodeDistricts();
  }
  return 0;
}
