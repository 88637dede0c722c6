// Private to tests/fuzz: the adapters and the settings parser read files by path, so a fuzz input
// goes through a scratch file, as a user's file would (no second, in-memory code path to keep).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace careledger::fuzz {

// A directory of this process's own (in /dev/shm when there is one), removed with everything in it
// when the process exits.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Writes `text` to `name` in the directory (replacing it) and returns its path; aborts if the
  // file cannot be written, since a fuzz run without its input would test nothing.
  std::string Write(std::string_view name, std::string_view text) const;

 private:
  std::string path_;
};

// The input split at each line "====" (several files in one input, for SSDA903's four).
std::vector<std::string_view> SplitFiles(std::string_view input);

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace careledger::fuzz
