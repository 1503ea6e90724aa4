// Fuzz target for the signed-note and checkpoint parsers (crypto/signed_note.h).
//
// Feeds arbitrary bytes to note::Open, ParseCheckpointBody, OpenCheckpoint and
// the key-text parsers, with the verifier key of
// shared/testdata/signed-note/checkpoint-vectors.json, so that inputs derived
// from the seed corpus (the vector checkpoints) reach signature verification.
// Beyond "must not crash", it checks two round-trip properties and traps if
// either fails:
//   - a body ParseCheckpointBody accepts is reproduced byte for byte by
//     FormatCheckpointBody;
//   - the text of a note Open accepts can be signed again and reopened.
// Depends only on custos_crypto.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/signed_note.h"

namespace {

using custos::crypto::note::KeySigner;
using custos::crypto::note::KeyVerifier;

// The key of checkpoint-vectors.json (Ed25519 seed 32 × 0x42; the seed is
// public test material).
constexpr std::string_view kVectorSignerKey =
    "PRIVATE+KEY+archive.example/audit-log+27bbed2b+AUJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC";

[[noreturn]] void Fail() { __builtin_trap(); }

const KeySigner& VectorSigner() {
  // Immutable after first use; built once to keep each iteration cheap.
  static const KeySigner* const signer = [] {
    auto s = KeySigner::FromSignerKey(kVectorSignerKey);
    if (!s.ok()) Fail();
    return new KeySigner(std::move(s).value());
  }();
  return *signer;
}

void CheckCheckpointRoundTrip(std::string_view input) {
  auto cp = custos::crypto::ParseCheckpointBody(input);
  if (!cp.ok()) return;
  auto again = custos::crypto::FormatCheckpointBody(*cp);
  if (!again.ok() || *again != input) Fail();
}

void CheckNoteRoundTrip(std::string_view input) {
  const KeySigner& signer = VectorSigner();
  auto note = custos::crypto::note::Open(input, {&signer.verifier()});
  if (!note.ok()) return;
  if (note->verified.empty()) Fail();
  auto resigned = custos::crypto::note::Sign(note->text, {&signer});
  if (!resigned.ok()) Fail();
  auto reopened = custos::crypto::note::Open(*resigned, {&signer.verifier()});
  if (!reopened.ok() || reopened->text != note->text) Fail();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckCheckpointRoundTrip(input);
  CheckNoteRoundTrip(input);
  (void)custos::crypto::OpenCheckpoint(input, {&VectorSigner().verifier()});
  (void)KeyVerifier::FromVerifierKey(input);
  (void)KeySigner::FromSignerKey(input);
  return 0;
}
