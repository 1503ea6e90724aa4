// Client side of the RFC 3161 time-stamp protocol over HTTP (RFC 3161 §3.4):
// asks a time-stamp authority for a token over a checkpoint note's text. The
// attester thread (checkpoint_attester.h) calls it and stores the token as a
// timestamp signature line (crypto::tsa::TimestampLine); the format is in
// docs/formats/timestamp.md.
//
// Thread safety: RequestTimestamp opens its own connection per call and
// shares nothing; it may run on several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custos::services {

// One configured time-stamp authority (log.tsa).
struct TsaEndpoint {
  // The name on its signature lines: a valid signed-note key name.
  std::string name;
  // Where queries are POSTed: "http://host[:port]/path" or https.
  std::string url;
  // For https: PEM bundle of the CAs the TSA's TLS certificate must chain
  // to; empty = the system CAs. (Trust in the TOKENS is log.tsa_ca, used by
  // crypto::tsa::VerifyToken, not this.)
  std::string ca_file;
};

// Largest reply read from a TSA; a larger one is refused.
inline constexpr size_t kMaxTsaReplySize = 64 * 1024;

// POSTs a DER TimeStampReq (SHA-256 of `note_text`, a fresh random 64-bit
// nonce, certReq true) to endpoint.url with Content-Type
// application/timestamp-query and returns the DER TimeStampToken of the
// reply, checked by crypto::tsa::TokenFromResponse (status granted, imprint
// and nonce match). The token's signature is not checked here. `timeout`
// bounds the connection, the send and each receive. Errors:
//   kUnavailable   tsa_unreachable: connect/TLS failure, time-out, HTTP 5xx
//   kInvalidArgument tsa_url_invalid: the URL is not http(s)
//   kInvalidArgument tsa_bad_reply: HTTP status other than 200 (and not 5xx),
//       a Content-Type other than application/timestamp-reply, a body over
//       kMaxTsaReplySize; and TokenFromResponse's timestamp_malformed
//   kUnprocessable timestamp_rejected: the TSA refused (its status text)
//   kDataLoss      timestamp_imprint_mismatch, timestamp_nonce_mismatch
// Messages name the TSA; none holds a secret.
[[nodiscard]] StatusOr<std::vector<uint8_t>> RequestTimestamp(const TsaEndpoint& endpoint,
                                                              std::string_view note_text,
                                                              std::chrono::milliseconds timeout);

}  // namespace custos::services
