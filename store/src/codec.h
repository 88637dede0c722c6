// The log record's value layout (private to the store):
//   u8 format(=1) | lp topic | u32 partition | u64 offset | u64 ingested_at (s) | chain (32) |
//   payload
// chain = SHA-256(previous record's chain ‖ sequence (8, big-endian) ‖ every byte of this
// value except the chain itself): altering, removing or reordering a record breaks it.
#pragma once

#include <openssl/evp.h>

#include <cstring>

#include "careledger/common.h"
#include "careledger/store.h"

namespace careledger::codec {

inline ChainHash ComputeChain(const ChainHash& previous, uint64_t sequence, std::string_view header,
                              std::string_view payload) {
  std::string seq;
  PutBigEndian64(seq, sequence);
  ChainHash out{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, previous.data(), previous.size());
  EVP_DigestUpdate(ctx, seq.data(), seq.size());
  EVP_DigestUpdate(ctx, header.data(), header.size());
  EVP_DigestUpdate(ctx, payload.data(), payload.size());
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  return out;
}

// Encodes a record and returns its chain hash (computed from `previous`).
inline ChainHash EncodeLogValue(std::string& out, const ChainHash& previous, uint64_t sequence,
                                std::string_view topic, int32_t partition, int64_t offset,
                                Instant ingested_at, std::string_view payload) {
  out.reserve(64 + topic.size() + payload.size());
  out.push_back(char(1));
  PutLengthPrefixed(out, topic);
  PutBigEndian32(out, uint32_t(partition));
  PutFixed64(out, uint64_t(offset));
  PutFixed64(out, uint64_t(ingested_at.time_since_epoch().count()));
  ChainHash chain = ComputeChain(previous, sequence, out, payload);
  out.append(reinterpret_cast<const char*>(chain.data()), chain.size());
  out.append(payload);
  return chain;
}

// Decodes a record; `header` is set to the bytes the chain covers before the payload.
inline bool DecodeLogValue(std::string_view in, LogRecord& rec,
                           std::string_view* header = nullptr) {
  const std::string_view whole = in;
  if (in.empty() || in[0] != char(1)) return false;
  in.remove_prefix(1);
  std::string_view topic;
  if (!GetLengthPrefixed(in, topic) || in.size() < 20 + 32) return false;
  rec.topic.assign(topic);
  rec.partition = int32_t(GetBigEndian32(in.data()));
  rec.offset = int64_t(GetFixed64(in.data() + 4));
  rec.ingested_at = Instant{std::chrono::seconds{int64_t(GetFixed64(in.data() + 12))}};
  if (header) *header = whole.substr(0, size_t(in.data() + 20 - whole.data()));
  std::memcpy(rec.chain.data(), in.data() + 20, 32);
  rec.payload.assign(in.substr(20 + 32));
  return true;
}

}  // namespace careledger::codec
