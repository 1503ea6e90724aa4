// HMAC-SHA256 (RFC 2104) under one fixed key, for MACs computed often
// (a row seal per row read, storage/row_seal.h): the key's inner and outer
// hash states are computed once, so each MAC costs two SHA-256 runs over
// the message and one over 32 bytes, and allocates nothing after a
// thread's first call.
//
// Thread safety: Mac() may be called from any number of threads at once
// (each uses a context of its own); the object is immutable after
// construction.
#pragma once

#include <string_view>

#include "crypto/bytes.h"
#include "crypto/hash.h"

struct evp_md_ctx_st;

namespace custos::crypto {

class HmacSha256 {
 public:
  // Any key length (keys longer than 64 bytes are hashed first, as RFC
  // 2104 says). Aborts if OpenSSL cannot set up SHA-256.
  explicit HmacSha256(const Bytes& key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // HMAC-SHA256(key, data).
  [[nodiscard]] Digest32 Mac(std::string_view data) const;

 private:
  evp_md_ctx_st* inner_;  // SHA-256 state after (key ^ ipad)
  evp_md_ctx_st* outer_;  // SHA-256 state after (key ^ opad)
};

}  // namespace custos::crypto
