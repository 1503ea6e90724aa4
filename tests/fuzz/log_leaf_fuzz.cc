// Fuzz target for the audit log leaf codec (storage/log_leaf.h,
// docs/formats/audit-log.md section "Leaf") and the canonical JSON parser
// beneath it (domain/canonical_json.h). The input is read both as a leaf and
// as JSON text. Neither may crash, and the properties that make a leaf's
// bytes unique must hold:
//   * a leaf that decodes re-encodes to exactly the input bytes, and passes
//     its own chain link check;
//   * the one-pass reader and the reference decoder give the same verdict
//     and reason;
//   * canonical JSON is a fixed point: canonicalising the output again gives
//     the same bytes, and the output decodes as a leaf exactly when the input
//     did and was already canonical.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "domain/canonical_json.h"
#include "storage/log_leaf.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void FuzzLeaf(std::string_view input) {
  custos::StatusOr<custos::storage::DecodedLeaf> leaf = custos::storage::DecodeLeaf(input);
  // The one-pass reader accepts exactly what the reference decoder accepts,
  // and DecodeLeaf refuses with the reference's reason.
  custos::StatusOr<custos::storage::DecodedLeaf> reference =
      custos::storage::DecodeLeafReference(input);
  Check(custos::storage::DecodeLeafOnePass(input).has_value() == reference.ok());
  Check(leaf.ok() == reference.ok());
  if (!leaf.ok()) Check(leaf.status().reason() == reference.status().reason());
  if (!leaf.ok()) return;
  custos::StatusOr<std::string> again =
      custos::storage::EncodeLeaf(leaf->event, leaf->seq, leaf->prev);
  Check(again.ok() && *again == input);
  Check(custos::storage::CheckChainLink(*leaf, leaf->seq, leaf->prev).ok());
}

void FuzzCanonicalJson(std::string_view input) {
  custos::StatusOr<std::string> canonical = custos::domain::Canonicalize(input);
  if (!canonical.ok()) return;
  custos::StatusOr<std::string> twice = custos::domain::Canonicalize(*canonical);
  Check(twice.ok() && *twice == *canonical);
  if (*canonical != input) {
    // A leaf has one encoding: a non-canonical input never decodes.
    Check(!custos::storage::DecodeLeaf(input).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  FuzzLeaf(input);
  FuzzCanonicalJson(input);
  return 0;
}
