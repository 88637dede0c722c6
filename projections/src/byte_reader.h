// Private to projections/: reads the fixed-width and length-prefixed fields of encoded bytes
// (a stored fact, another instance's read and its answer) from the front. A short read leaves
// it failed and gives zeros, so a decoder checks ok() once at the end.
#pragma once

#include <cstdint>
#include <string_view>

#include "careledger/common.h"

namespace careledger::metrics {

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }
  void Fail() { ok_ = false; }
  std::string_view& rest() { return in_; }
  uint8_t Byte() {
    if (!Need(1)) return 0;
    auto b = uint8_t(in_[0]);
    in_.remove_prefix(1);
    return b;
  }
  uint32_t U32() {  // big-endian
    if (!Need(4)) return 0;
    uint32_t v = codec::GetBigEndian32(in_.data());
    in_.remove_prefix(4);
    return v;
  }
  uint64_t U64() {  // codec's fixed 8 bytes
    if (!Need(8)) return 0;
    uint64_t v = codec::GetFixed64(in_.data());
    in_.remove_prefix(8);
    return v;
  }
  std::string_view Bytes() {  // length-prefixed
    std::string_view s;
    if (ok_ && !codec::GetLengthPrefixed(in_, s)) ok_ = false;
    return s;
  }

 private:
  bool Need(size_t n) {
    if (in_.size() < n) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace careledger::metrics
