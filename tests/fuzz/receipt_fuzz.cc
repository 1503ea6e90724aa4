// Fuzz target for the receipt reader (server/services/receipt.h,
// docs/formats/receipt.md): ParseReceipt and VerifyReceipt, the latter with
// the verifier key of shared/testdata/signed-note/checkpoint-vectors.json
// (origin archive.example/audit-log), so that the seeds in corpus/receipt/,
// signed with that key, reach the inclusion-proof check.
//
// Properties, each checked with abort():
//   * a receipt ParseReceipt accepts is written back byte for byte by
//     FormatReceipt (the format has one text per receipt: strict base64, an
//     index without leading zeros, the checkpoint verbatim), and has at most
//     64 proof lines of 32 bytes each;
//   * a receipt VerifyReceipt accepts also parses, to the same parts, and
//     proves an entry inside its checkpoint's tree (index < size) of the
//     verifier's origin.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/signed_note.h"
#include "server/services/log_service.h"
#include "server/services/receipt.h"

namespace {

using custos::crypto::note::KeyVerifier;

// The verifier key of checkpoint-vectors.json (public test material).
constexpr std::string_view kVectorVerifierKey =
    "archive.example/audit-log+27bbed2b+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
constexpr std::string_view kVectorOrigin = "archive.example/audit-log";
constexpr size_t kMaxProofLines = 64;

void Check(bool condition, const char* what = nullptr) {
  if (condition) return;
  if (what != nullptr) std::fprintf(stderr, "receipt: %s\n", what);
  std::abort();
}

const KeyVerifier& VectorVerifier() {
  // Immutable after first use.
  static const KeyVerifier* const verifier = [] {
    auto v = KeyVerifier::FromVerifierKey(kVectorVerifierKey);
    Check(v.ok());
    return new KeyVerifier(std::move(v).value());
  }();
  return *verifier;
}

std::string Format(const custos::services::Receipt& r) {
  std::vector<custos::crypto::Digest32> proof;
  for (const auto& h : r.proof) {
    Check(h.size() == 32);
    custos::crypto::Digest32 d;
    std::copy(h.begin(), h.end(), d.begin());
    proof.push_back(d);
  }
  return custos::services::FormatReceipt(r.leaf, r.index, proof, r.checkpoint_note);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = custos::services::ParseReceipt(input);
  if (parsed.ok()) {
    Check(parsed->proof.size() <= kMaxProofLines);
    Check(Format(*parsed) == input,
          "ParseReceipt accepted a text that FormatReceipt writes differently "
          "(not the one encoding docs/formats/receipt.md allows)");
  }
  auto verified = custos::services::VerifyReceipt(input, {&VectorVerifier()});
  if (std::getenv("CUSTOS_FUZZ_TRACE") != nullptr) {  // to see what the seeds reach
    std::fprintf(stderr, "parse: %s, verify: %s\n",
                 parsed.ok() ? "ok" : parsed.status().reason().c_str(),
                 verified.ok() ? "ok" : verified.status().reason().c_str());
  }
  if (verified.ok()) {
    Check(parsed.ok());
    Check(verified->receipt.leaf == parsed->leaf && verified->receipt.index == parsed->index &&
          verified->receipt.proof == parsed->proof &&
          verified->receipt.checkpoint_note == parsed->checkpoint_note);
    Check(verified->receipt.index < verified->checkpoint.size);
    Check(verified->checkpoint.origin == kVectorOrigin);
  }
  return 0;
}
