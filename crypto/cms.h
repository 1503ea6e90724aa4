// Verification of detached CMS (RFC 5652) / PKCS #7 SignedData signatures
// that archive staff check in beside a document (a `.p7s` file, DER or PEM).
// The format accepted and every decision rule are described in
// docs/formats/signatures.md.
//
// Usage:
//   StatusOr<TrustStore> trust = TrustStore::LoadDirectory(config.trust_dir);
//   ...
//   StatusOr<SignatureCheck> check =
//       VerifyDetachedFile(*trust, "/path/contract.pdf", p7s_bytes, now);
//   if (!check.ok()) { /* could not verify at all: I/O or library failure */ }
//   else if (check->status == SignatureStatus::kValid) { ... }
//   else { /* check->reason says why the signature is not acceptable */ }
//
// A signature that is wrong in any way is NOT an error: the call succeeds and
// returns a SignatureCheck with status kInvalid and a stable reason. A Status
// error means only that verification could not be attempted (the content could
// not be read, or OpenSSL failed to allocate).
//
// Trust: only the certificates of the TrustStore are trust anchors. The
// system's default CA locations are never consulted.
//
// Thread safety: a TrustStore is immutable after loading; copies share the
// same certificates and any number of threads may verify against one store
// concurrently. The Verify* functions keep no state between calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/byte_stream.h"

namespace custos::crypto {

enum class SignatureStatus { kValid, kInvalid };

// "valid" or "invalid", as stored with the file and sent to clients.
std::string_view SignatureStatusName(SignatureStatus status);

// The stable reasons of an invalid SignatureCheck (SignatureCheck::reason).
// Exactly one is reported; when several faults exist, the first in the order
// below wins (docs/formats/signatures.md, "How a result is decided").
// The .p7s is not a DER or PEM CMS SignedData, carries its content inside
// (not detached), or holds an inconsistent SignerInfo.
inline constexpr std::string_view kReasonMalformed = "malformed";
// No SignerInfo, or the signature does not carry its signer's certificate.
inline constexpr std::string_view kReasonNoSigner = "no_signer";
// The signature value does not verify with the signer's public key. (For a
// signer without signed attributes this also covers a changed document: the
// two cannot be told apart.)
inline constexpr std::string_view kReasonBadSignature = "bad_signature";
// The signature is intact but the content's digest differs from the signed
// messageDigest attribute: the document is not the one that was signed.
inline constexpr std::string_view kReasonContentMismatch = "content_mismatch";
// The signer certificate does not chain to a trust anchor of the store (or
// its key usage forbids signing).
inline constexpr std::string_view kReasonUntrustedChain = "untrusted_chain";
// A certificate of the chain was not valid (expired or not yet valid) at the
// instant judged; VerifyDetached says which instant that is.
inline constexpr std::string_view kReasonCertificateExpired = "certificate_expired";

// The outcome of verifying one detached signature.
struct SignatureCheck {
  SignatureStatus status = SignatureStatus::kInvalid;
  // "" when valid; otherwise one of the kReason* strings above.
  std::string reason;
  // Signer certificate subject, RFC 2253 order ("CN=Alice,O=Example"), with
  // UTF-8 kept as is (not \XX-escaped). "" when no signer certificate was
  // found.
  std::string signer_subject;
  // The signingTime signed attribute, when present and readable. It is the
  // signer's own claim, not a trusted timestamp.
  std::optional<std::chrono::system_clock::time_point> signing_time;
  // The signer's digest algorithm in lower case ("sha256", "sha512", "sm3"),
  // or its dotted OID when OpenSSL does not know it. "" when unreadable.
  std::string digest_algorithm;
  // Human-readable explanation (OpenSSL's error text, trimmed). "" when valid.
  // For logs and display only: never match on it.
  std::string detail;
};

// A set of trust-anchor (CA) certificates. Copyable and cheap to copy: copies
// share one immutable certificate set.
class TrustStore {
 public:
  // Loads every regular file in `dir` (not recursively) whose name ends in
  // .pem, .crt or .cer (any letter case); other files are ignored. Each file
  // holds one or more PEM "CERTIFICATE" blocks (other PEM blocks such as
  // keys are skipped) or, failing that, one DER certificate. An empty
  // directory gives an empty store, against which every signature is
  // untrusted.
  // Errors: InvalidArgument with reason "trust_store_unreadable" when `dir` or
  // a file in it cannot be read; "trust_store_bad_certificate" when a matching
  // file holds no certificate or a corrupt one (the message names the file).
  static StatusOr<TrustStore> LoadDirectory(const std::string& dir);

  // The same from PEM text holding one or more certificates (for
  // configuration given inline and for tests). Empty text gives an empty
  // store. Errors: "trust_store_bad_certificate".
  static StatusOr<TrustStore> FromPem(std::string_view pem);

  // Number of distinct certificates loaded.
  size_t size() const;

  struct Impl;  // OpenSSL objects; defined in cms.cc.

 private:
  explicit TrustStore(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  friend StatusOr<SignatureCheck> VerifyDetached(const TrustStore&, ByteSource&, std::string_view,
                                                 std::chrono::system_clock::time_point);

  std::shared_ptr<const Impl> impl_;  // never null; immutable
};

// Verifies the detached CMS signature `signature` (DER, or PEM labelled CMS,
// PKCS7 or "PKCS #7 SIGNED DATA") over the bytes read from `content` until
// its end, hashed as they are (no S/MIME line-ending canonicalisation). The
// content is streamed in fixed-size chunks and never held in memory as a
// whole. It is read only when the signature itself parses and verifies, so on
// an invalid result `content` may be left partly read or unread.
//
// SM2 signers (GM/T 0010) are verified with the standard distinguishing
// identifier "1234567812345678", as are SM2-signed certificates of the chain.
//
// Certificate validity is judged at the signing time when the signature
// carries a signingTime attribute that is not later than `now`, and at `now`
// otherwise (docs/formats/signatures.md, "Which instant the certificates are
// judged at"). Pass the current time in production; tests pass other times.
//
// Returns a SignatureCheck (status kValid, or kInvalid with a reason; signer
// subject, signing time and digest algorithm are filled whenever they can be
// read, also when invalid). Every signer of a multi-signer signature must
// verify; the fields then describe the first signer, or the first failing one.
// Errors (verification not attempted or not finished): any error returned by
// `content.Read`, passed through unchanged; Internal with reason
// "openssl_failure" when OpenSSL cannot allocate its objects.
StatusOr<SignatureCheck> VerifyDetached(const TrustStore& trust, ByteSource& content,
                                        std::string_view signature,
                                        std::chrono::system_clock::time_point now);

// The same over an in-memory content buffer (`content` need only stay alive
// for the call).
StatusOr<SignatureCheck> VerifyDetachedBuffer(const TrustStore& trust, std::string_view content,
                                              std::string_view signature,
                                              std::chrono::system_clock::time_point now);

// The same over the file at `content_path`, read sequentially.
// Additional error: Internal with reason "content_unreadable" when the file
// cannot be opened or a read fails.
StatusOr<SignatureCheck> VerifyDetachedFile(const TrustStore& trust,
                                            const std::string& content_path,
                                            std::string_view signature,
                                            std::chrono::system_clock::time_point now);

}  // namespace custos::crypto
