#include "fuzz_input.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace careledger::fuzz {

ScratchDir::ScratchDir() {
  // RAM when there is a /dev/shm: on a disk, writing the input costs more than the code under
  // test (about 250 runs/s here against thousands).
  std::error_code ec;
  std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                   ? std::filesystem::path("/dev/shm")
                                   : std::filesystem::temp_directory_path();
  std::string pattern = base / "careledger-fuzz-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ScratchDir::Write(std::string_view name, std::string_view text) const {
  std::string path = path_ + '/' + std::string(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), std::streamsize(text.size()));
  out.close();
  if (!out) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

std::vector<std::string_view> SplitFiles(std::string_view input) {
  constexpr std::string_view kSeparator = "\n====\n";
  std::vector<std::string_view> files;
  for (;;) {
    size_t at = input.find(kSeparator);
    if (at == std::string_view::npos) break;
    files.push_back(input.substr(0, at + 1));
    input.remove_prefix(at + kSeparator.size());
  }
  files.push_back(input);
  return files;
}

}  // namespace careledger::fuzz
