// The log record's value layout (private to the store):
//   u8 format(=1) | lp topic | u32 partition | u64 offset | u64 ingested_at (s) | payload
#pragma once

#include <cstring>

#include "careledger/common.h"
#include "careledger/store.h"

namespace careledger::codec {

inline void EncodeLogValue(std::string& out, std::string_view topic, int32_t partition,
                           int64_t offset, Instant ingested_at, std::string_view payload) {
  out.reserve(32 + topic.size() + payload.size());
  out.push_back(char(1));
  PutLengthPrefixed(out, topic);
  PutBigEndian32(out, uint32_t(partition));
  PutFixed64(out, uint64_t(offset));
  PutFixed64(out, uint64_t(ingested_at.time_since_epoch().count()));
  out.append(payload);
}

inline bool DecodeLogValue(std::string_view in, LogRecord& rec) {
  if (in.empty() || in[0] != char(1)) return false;
  in.remove_prefix(1);
  std::string_view topic;
  if (!GetLengthPrefixed(in, topic) || in.size() < 20) return false;
  rec.topic.assign(topic);
  rec.partition = int32_t(GetBigEndian32(in.data()));
  rec.offset = int64_t(GetFixed64(in.data() + 4));
  rec.ingested_at = Instant{std::chrono::seconds{int64_t(GetFixed64(in.data() + 12))}};
  rec.payload.assign(in.substr(20));
  return true;
}

}  // namespace careledger::codec
