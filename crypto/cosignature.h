// Witness cosignatures of checkpoints: C2SP tlog-cosignature, the Ed25519
// "cosignature/v1" type (https://c2sp.org/tlog-cosignature). The line
// format, how custosd obtains cosignatures and how an outside verifier checks
// them are in docs/formats/cosignature.md.
//
// A cosignature is an ordinary signed-note signature line appended to the
// log's checkpoint (crypto/signed_note.h):
//
//   — <witness name> base64(key ID (4) ‖ timestamp (8, big-endian) ‖ Ed25519 signature (64))
//
//   key ID  = SHA-256(<witness name> ‖ 0x0A ‖ 0x04 ‖ 32-byte public key)[0:4]
//   message = "cosignature/v1\n" "time <timestamp>\n" ‖ note text
//
// where the note text is the checkpoint body the log signed (final '\n'
// included, no signature lines) and the timestamp is POSIX seconds.
//
// Thread safety: every function is pure and may be called concurrently.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/bytes.h"

namespace custos::crypto::cosig {

// Signature type byte of Ed25519 cosignature/v1 keys (key IDs and vkeys).
inline constexpr uint8_t kTypeCosignatureV1 = 0x04;
// First line of the signed message (domain separation).
inline constexpr std::string_view kMessageHeader = "cosignature/v1\n";
inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kTimestampSize = 8;
inline constexpr size_t kSignatureSize = 64;
// Decoded payload of a cosignature line: key ID ‖ timestamp ‖ signature.
inline constexpr size_t kPayloadSize = 4 + kTimestampSize + kSignatureSize;  // 76
// Timestamps above 2^63 - 1 are invalid (C2SP tlog-cosignature).
inline constexpr uint64_t kMaxTimestamp = (uint64_t(1) << 63) - 1;

// A witness as a verifier knows it: name, key ID and Ed25519 public key.
struct WitnessKey {
  std::string name;
  uint32_t key_id = 0;
  std::array<uint8_t, kPublicKeySize> public_key{};
};

// SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public_key)[0:4], big-endian.
[[nodiscard]] uint32_t CosignatureKeyId(std::string_view name,
                                        const std::array<uint8_t, kPublicKeySize>& public_key);

// Parses a witness verifier key "<name>+<8 hex key ID>+<base64(0x04 ‖ 32-byte
// Ed25519 public key)>" (a C2SP signed-note vkey of type 0x04). Errors
// (kInvalidArgument): witness_key_malformed (syntax, invalid name, bad hex or
// base64, wrong length, not an Ed25519 key), witness_key_unsupported (a type
// byte other than 0x04, e.g. a log's own 0x01 key), witness_key_id_mismatch
// (the hex key ID is not CosignatureKeyId(name, key)).
[[nodiscard]] StatusOr<WitnessKey> ParseWitnessKey(std::string_view vkey);

// The vkey text of `key` (key ID in lower-case hex); ParseWitnessKey's inverse.
[[nodiscard]] std::string FormatWitnessKey(const WitnessKey& key);

// "cosignature/v1\ntime <timestamp>\n" followed by `note_text`: the bytes a
// cosignature/v1 signature covers. `note_text` is the checkpoint text
// without signature lines, final '\n' included.
[[nodiscard]] std::string CosignatureMessage(std::string_view note_text, uint64_t timestamp);

// Checks one signature line (with or without its final '\n') as a
// cosignature by `key` of `note_text`; returns the cosignature's timestamp.
// Errors:
//   cosignature_malformed (kInvalidArgument)  not "— name base64" or a
//       payload that is not 76 bytes, or a timestamp above kMaxTimestamp
//   cosignature_wrong_key (kInvalidArgument)  the line's name or key ID is
//       not `key`'s (the line belongs to another signer)
//   cosignature_invalid (kDataLoss)           the Ed25519 signature does not
//       verify over CosignatureMessage(note_text, timestamp)
[[nodiscard]] StatusOr<uint64_t> VerifyCosignatureLine(const WitnessKey& key,
                                                       std::string_view note_text,
                                                       std::string_view line);

}  // namespace custos::crypto::cosig
