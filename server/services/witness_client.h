// Client side of the C2SP tlog-witness protocol (https://c2sp.org/tlog-witness):
// submits a signed checkpoint with a consistency proof to a witness's
// add-checkpoint endpoint and returns the cosignature lines it verified.
// The attester thread (checkpoint_attester.h) calls it; the line format and
// the policy verifiers apply are in docs/formats/cosignature.md.
//
// Thread safety: SubmitCheckpoint opens its own connection per call and
// shares nothing; it may run on several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/cosignature.h"

namespace custos::services {

// One configured witness.
struct WitnessEndpoint {
  crypto::cosig::WitnessKey key;
  // The witness's submission prefix, "http://host:port/prefix" or https; the
  // client POSTs to <url>/add-checkpoint.
  std::string url;
  // For https: PEM bundle of the CAs the witness's certificate must chain to
  // (log.witness_ca); empty = the system CAs.
  std::string ca_file;
};

struct WitnessResult {
  enum Kind {
    kCosigned,     // 200 with at least one valid cosignature by `key`
    kConflict,     // 409: the witness's latest size is not old_size (see witness_size)
    kRefused,      // 4xx other than 409, or a 200 reply without a valid cosignature
    kUnreachable,  // connect failure, timeout, 5xx: retry later
  } kind = kUnreachable;
  // kCosigned: the witness's cosignature lines by `key`, each verified with
  // crypto::cosig::VerifyCosignatureLine and ending in '\n'. Lines of other
  // keys in the reply are dropped (the protocol says to ignore them).
  std::vector<std::string> lines;
  // kConflict: the size in the text/x.tlog.size body (0 if the body did not
  // parse; detail says so).
  uint64_t witness_size = 0;
  // What happened, for logs and alerts: the HTTP status and the start of the
  // reply body, or the network error. Never holds a secret.
  std::string detail;
};

// POSTs "old <old_size>\n", one base64 line per proof hash, "\n", then
// `signed_note` (the log's checkpoint note, as signed) to
// <endpoint.url>/add-checkpoint and classifies the reply as WitnessResult
// documents. `proof` is the RFC 6962 consistency proof from old_size to the
// checkpoint's size (empty when old_size is 0 or equal to the size); at most
// 63 hashes (more give kRefused without a request). `timeout` bounds the
// connection, the send and each receive.
[[nodiscard]] WitnessResult SubmitCheckpoint(const WitnessEndpoint& endpoint, uint64_t old_size,
                                             const std::vector<crypto::Digest32>& proof,
                                             std::string_view signed_note,
                                             std::chrono::milliseconds timeout);

// The request body SubmitCheckpoint sends (exposed for tests).
[[nodiscard]] std::string AddCheckpointBody(uint64_t old_size,
                                            const std::vector<crypto::Digest32>& proof,
                                            std::string_view signed_note);

}  // namespace custos::services
