// C2SP signed notes (https://c2sp.org/signed-note) and tlog checkpoints
// (https://c2sp.org/tlog-checkpoint), byte-compatible with Go's
// golang.org/x/mod/sumdb/note. The format, the key id derivation, the key
// texts and Custos's SM2 signature type are documented in
// docs/formats/checkpoint.md.
//
//   text\n            <- the note text: non-empty, ends in '\n'
//   \n                <- one blank line
//   — name base64(key id ‖ signature)\n      <- one or more lines
//
// Thread safety: all free functions are thread-safe. KeySigner and
// KeyVerifier are immutable values whose const methods may be called from
// several threads at once. Signer/Verifier implementations must be likewise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "crypto/signature.h"

namespace custos::crypto {
namespace note {

// ---------------------------------------------------------------- constants

// Signature type bytes (C2SP signed-note "Signature types").
inline constexpr uint8_t kTypeEd25519 = 0x01;
// 0xff: "reserved for signature types without an identifier byte assigned by
// this specification", followed by a longer identifier. Custos's SM2 type is
// 0xff ‖ kSm2TypeIdentifier.
inline constexpr uint8_t kTypeUnassigned = 0xff;
inline constexpr std::string_view kSm2TypeIdentifier = "custos/sm2-sm3";

// Every signature line starts with U+2014 EM DASH (UTF-8 e2 80 94) and a space.
inline constexpr std::string_view kSignatureLinePrefix = "\xE2\x80\x94 ";
// Signer key texts start with this.
inline constexpr std::string_view kSignerKeyPrefix = "PRIVATE+KEY+";
inline constexpr size_t kKeyIdSize = 4;
inline constexpr size_t kKeyIdHexSize = 8;

// Open() limits: C2SP requires accepting at least 16 signatures.
inline constexpr size_t kMaxSignatures = 100;
inline constexpr size_t kMaxNoteSize = 1 << 20;  // 1 MiB, text and signatures

// ------------------------------------------------------------ syntax checks

// A key name is non-empty, valid UTF-8, and has no Unicode white space and no
// '+' (C2SP signed-note "Format").
[[nodiscard]] bool IsValidKeyName(std::string_view name);

// A note text is non-empty, valid UTF-8, ends in '\n', and has no ASCII
// control character other than '\n'.
[[nodiscard]] bool IsValidNoteText(std::string_view text);

// The key id: the first four bytes, big-endian, of
// SHA-256(name ‖ 0x0A ‖ type_and_key), where type_and_key is the signature
// type (0x01, or 0xff ‖ kSm2TypeIdentifier) followed by the public key.
[[nodiscard]] uint32_t KeyId(std::string_view name, const Bytes& type_and_key);

// The bytes that follow the key name in key id derivations and in key texts
// for `public_key`: 0x01 ‖ 32-byte Ed25519 key, or
// 0xff ‖ "custos/sm2-sm3" ‖ 65-byte uncompressed SM2 point.
[[nodiscard]] Bytes TypeAndPublicKey(const PublicKey& public_key);

// ------------------------------------------------------------- interfaces

// Produces note signatures under one (name, key id).
class Signer {
 public:
  virtual ~Signer() = default;
  virtual const std::string& name() const = 0;
  virtual uint32_t key_id() const = 0;
  // The raw signature of `message` (without the key id).
  virtual StatusOr<Bytes> Sign(std::string_view message) const = 0;
};

// Checks note signatures for one (name, key id).
class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual const std::string& name() const = 0;
  virtual uint32_t key_id() const = 0;
  // True if `signature` (without the key id) is valid for `message`.
  virtual bool Verify(std::string_view message, const Bytes& signature) const = 0;
};

// -------------------------------------------------- key-backed implementations

// Verifies Ed25519 or SM2 note signatures with a public key.
class KeyVerifier final : public Verifier {
 public:
  // note_key_name_invalid if !IsValidKeyName(name).
  static StatusOr<KeyVerifier> Create(std::string name, PublicKey public_key);
  // Parses a verifier key text "name+<8 hex key id>+<base64(type ‖ key)>".
  // Errors: note_key_malformed (syntax, invalid name, bad hex or base64, key
  // bytes of the wrong length or not a valid key),
  // note_key_unsupported (a signature type other than Ed25519 or Custos SM2),
  // note_key_id_mismatch (the hex id is not KeyId(name, type ‖ key)).
  static StatusOr<KeyVerifier> FromVerifierKey(std::string_view vkey);

  // The verifier key text, key id in lower-case hex.
  std::string VerifierKey() const;
  const PublicKey& public_key() const { return public_key_; }

  const std::string& name() const override { return name_; }
  uint32_t key_id() const override { return key_id_; }
  bool Verify(std::string_view message, const Bytes& signature) const override;

 private:
  KeyVerifier(std::string name, PublicKey public_key);
  std::string name_;
  PublicKey public_key_;
  uint32_t key_id_;
};

// Signs notes with an Ed25519 or SM2 private key.
class KeySigner final : public Signer {
 public:
  // note_key_name_invalid if !IsValidKeyName(name).
  static StatusOr<KeySigner> Create(std::string name, KeyPair key);
  // Parses a signer key text
  // "PRIVATE+KEY+name+<8 hex key id>+<base64(type ‖ private key)>", where the
  // private key is the 32-byte Ed25519 seed or the 32-byte SM2 scalar and the
  // key id is derived from the matching public key. Errors as
  // KeyVerifier::FromVerifierKey.
  static StatusOr<KeySigner> FromSignerKey(std::string_view skey);

  // The signer key text (secret).
  StatusOr<SecretBytes> SignerKey() const;
  // The matching verifier key text.
  std::string VerifierKey() const { return verifier_.VerifierKey(); }
  // A verifier for this signer's signatures.
  const KeyVerifier& verifier() const { return verifier_; }
  const KeyPair& key() const { return key_; }

  const std::string& name() const override { return verifier_.name(); }
  uint32_t key_id() const override { return verifier_.key_id(); }
  // Ed25519: 64 bytes, deterministic. SM2: DER, randomized.
  StatusOr<Bytes> Sign(std::string_view message) const override;

 private:
  KeySigner(KeyPair key, KeyVerifier verifier)
      : key_(std::move(key)), verifier_(std::move(verifier)) {}
  KeyPair key_;
  KeyVerifier verifier_;
};

// ---------------------------------------------------------- sign and open

// One signature line of an opened note.
struct Signature {
  std::string name;
  uint32_t key_id = 0;
  std::string base64;  // base64(key id ‖ signature), as on the line
};

// A note whose signatures Open() checked.
struct Note {
  std::string text;                 // the signed text, final '\n' included
  std::vector<Signature> verified;  // by a known verifier, in line order
  // Lines from unknown (name, key id) pairs, in line order, duplicates
  // dropped. They are NOT checked.
  std::vector<Signature> unverified;
};

// Signs `text` with every signer, in order, and returns the signed note
// "text\n— name sig\n…". Errors: note_malformed (kInvalidArgument) if
// !IsValidNoteText(text); note_no_signer if `signers` is empty or holds null;
// note_key_name_invalid for a signer with an invalid name; a signer's own
// failure.
StatusOr<std::string> Sign(std::string_view text, const std::vector<const Signer*>& signers);

// Parses `signed_note` and verifies the signatures of known keys. A line is
// checked by the verifier with the same (name, key id); lines of unknown keys
// are collected as unverified and otherwise ignored; a repeated line of a key
// already checked is skipped. Errors:
//   note_too_large (kTooLarge)            more than kMaxNoteSize bytes
//   note_malformed (kInvalidArgument)     not a signed note: invalid UTF-8,
//       control characters, no blank line, bad signature line (dash, name,
//       base64, fewer than 5 bytes), more than kMaxSignatures lines
//   note_invalid_signature (kDataLoss)    a known key's signature is bad
//   note_no_verified_signature (kDataLoss) no line from a known key
//   note_verifier_ambiguous (kInvalidArgument) two verifiers share
//       (name, key id), or a verifier is null
// The verifiers are only borrowed for the call.
StatusOr<Note> Open(std::string_view signed_note, const std::vector<const Verifier*>& verifiers);

}  // namespace note

// ------------------------------------------------------------- checkpoints

// The body of a C2SP tlog-checkpoint note.
struct Checkpoint {
  std::string origin;  // the log's identity, non-empty, no '\n'
  uint64_t size = 0;   // number of leaves
  Digest32 root{};     // RFC 6962 root hash at `size`
  // Opaque extension lines (without '\n'), each non-empty. Custos writes
  // none; parsing keeps them.
  std::vector<std::string> extensions;

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// "<origin>\n<size>\n<base64 root>\n" followed by "<extension>\n" for each
// extension. checkpoint_malformed (kInvalidArgument) if the result would not
// parse back (empty origin or extension, a '\n' inside one) or is not a valid
// note text.
StatusOr<std::string> FormatCheckpointBody(const Checkpoint& checkpoint);

// Strict inverse of FormatCheckpointBody: at least three lines, every line
// ending in '\n'; non-empty origin; size in decimal without sign or leading
// zeros (except "0"), at most 2^64-1; root the canonical padded base64 of
// exactly 32 bytes; any further lines non-empty extensions.
// checkpoint_malformed (kInvalidArgument) otherwise.
StatusOr<Checkpoint> ParseCheckpointBody(std::string_view text);

// A signed checkpoint opened with note::Open.
struct OpenedCheckpoint {
  Checkpoint checkpoint;
  note::Note note;
};

// note::Open followed by ParseCheckpointBody of the note text; the errors of
// both.
StatusOr<OpenedCheckpoint> OpenCheckpoint(std::string_view signed_checkpoint,
                                          const std::vector<const note::Verifier*>& verifiers);

}  // namespace custos::crypto
