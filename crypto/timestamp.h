// RFC 3161 time-stamp tokens for checkpoints, and the signature line that
// carries one on an attested checkpoint note. The format, how to check a
// token with `openssl ts -verify`, and what the GM suite does are documented
// in docs/formats/timestamp.md.
//
//   request   MakeRequest(SHA-256(note text), nonce)        -> DER TimeStampReq
//   reply     TokenFromResponse(DER TimeStampResp, ...)     -> DER TimeStampToken
//   line      TimestampLine(tsa name, token)                -> "— <name> base64(keyID ‖ token)\n"
//   check     TokenFromLine + VerifyToken(token, note text, trusted TSA roots)
//
// The imprint of every token is SHA-256 of the checkpoint note TEXT (the
// signed message: everything before the blank line that precedes the
// signature lines, final '\n' included).
//
// Bad input (truncated or garbage DER, a wrong line) is reported as a Status
// with a stable reason; it never crashes and never throws.
//
// Thread safety: all functions are thread-safe and keep no state between
// calls (each builds its own OpenSSL objects).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"

namespace custos::crypto::tsa {

// ---------------------------------------------------------------- constants

// The key id of a timestamp line is the first four bytes, big-endian, of
// SHA-256(tsa name ‖ 0x0A ‖ 0xff ‖ kTimestampTypeIdentifier): the signed-note
// key id derivation with the "unassigned" type byte 0xff and this identifier.
inline constexpr std::string_view kTimestampTypeIdentifier = "custos/rfc3161";
// Tokens (and replies) larger than this are refused as malformed. Real
// tokens with a two-certificate chain are 2-6 KiB.
inline constexpr size_t kMaxTokenSize = 64 * 1024;

// Stable reasons (Status::reason()).
// DER that is not a TimeStampReq/Resp/Token, trailing bytes, over the size cap.
inline constexpr std::string_view kReasonMalformed = "timestamp_malformed";
// The TSA answered with a status other than granted / grantedWithMods.
inline constexpr std::string_view kReasonRejected = "timestamp_rejected";
// The token's message imprint is not SHA-256 of the expected data (or uses
// another hash algorithm).
inline constexpr std::string_view kReasonImprintMismatch = "timestamp_imprint_mismatch";
// The reply's nonce is missing or is not the request's.
inline constexpr std::string_view kReasonNonceMismatch = "timestamp_nonce_mismatch";
// The CMS signature or the ESS signing-certificate binding does not verify.
inline constexpr std::string_view kReasonBadSignature = "timestamp_bad_signature";
// The signer does not chain to a trusted root, or is not a time-stamping
// certificate (critical extended key usage timeStamping).
inline constexpr std::string_view kReasonUntrusted = "timestamp_untrusted";
// The trusted-roots PEM bundle is empty or holds no readable certificate.
inline constexpr std::string_view kReasonBadTrustBundle = "timestamp_bad_trust_bundle";
// A timestamp signature line: bad syntax, another TSA's name, wrong key id.
inline constexpr std::string_view kReasonLineMalformed = "timestamp_line_malformed";
inline constexpr std::string_view kReasonLineWrongName = "timestamp_line_wrong_name";
inline constexpr std::string_view kReasonLineKeyIdMismatch = "timestamp_line_key_id_mismatch";

// ---------------------------------------------------------------- protocol

// A DER TimeStampReq (RFC 3161 §2.4.1): version 1, message imprint
// SHA-256 = `sha256`, the nonce `nonce` (as a positive INTEGER), certReq
// true (so the token carries the TSA's certificate), no policy.
[[nodiscard]] std::vector<uint8_t> MakeRequest(const Digest32& sha256, uint64_t nonce);

// Checks a DER TimeStampResp against the request MakeRequest(sha256, nonce)
// and returns its DER TimeStampToken (the CMS ContentInfo). The token's
// signature is NOT checked here (VerifyToken does that). Errors:
//   kReasonMalformed (kInvalidArgument)       not a TimeStampResp, trailing
//       bytes, larger than kMaxTokenSize, granted but without a token
//   kReasonRejected (kUnprocessable)          status rejection/waiting/...;
//       the message carries the TSA's status text and failure info
//   kReasonImprintMismatch (kDataLoss)        another imprint or algorithm
//   kReasonNonceMismatch (kDataLoss)          nonce missing or different
[[nodiscard]] StatusOr<std::vector<uint8_t>> TokenFromResponse(std::span<const uint8_t> resp_der,
                                                               const Digest32& sha256,
                                                               uint64_t nonce);

// What a verified token says.
struct TokenInfo {
  int64_t gen_time_unix = 0;  // TSTInfo genTime, seconds since 1970 (UTC)
  std::string tsa_subject;    // signer certificate subject, RFC 2253 ("CN=…,O=…")
  std::string serial_hex;     // TSTInfo serialNumber, upper-case hex
};

// Verifies a DER TimeStampToken for `data` the way `openssl ts -verify -data`
// does: the CMS signature, the ESS signing-certificate attribute, the
// signer's chain to a root of `ca_pem_bundle` (PEM certificates, one or
// more) under purpose timestampsign (the signer needs the critical extended
// key usage timeStamping), validity at the current time, and the message
// imprint, which must be SHA-256(data). Only the bundle's certificates are
// trust anchors; the system's CA locations are never used. Errors:
//   kReasonMalformed (kInvalidArgument)       not a TimeStampToken
//   kReasonBadTrustBundle (kInvalidArgument)  no certificate in the bundle
//   kReasonImprintMismatch (kDataLoss)        not a token for `data`
//   kReasonBadSignature (kDataLoss)           signature/ESS binding fails
//   kReasonUntrusted (kDataLoss)              chain, purpose or validity
[[nodiscard]] StatusOr<TokenInfo> VerifyToken(std::span<const uint8_t> token_der,
                                              std::string_view data,
                                              const std::string& ca_pem_bundle);

// -------------------------------------------------------------- note lines

// The key id of TSA `tsa_name` (see kTimestampTypeIdentifier).
[[nodiscard]] uint32_t TimestampKeyId(std::string_view tsa_name);

// "— <tsa_name> base64(key id ‖ token_der)\n" (U+2014 EM DASH, one space,
// the name, one space, the payload, one '\n'). `tsa_name` must be a valid
// signed-note key name (note::IsValidKeyName); "" is returned otherwise.
[[nodiscard]] std::string TimestampLine(std::string_view tsa_name,
                                        std::span<const uint8_t> token_der);

// The token of a timestamp line of TSA `tsa_name` (with or without its final
// '\n'). The token is not checked (VerifyToken does that). Errors:
//   kReasonLineMalformed (kInvalidArgument)     not "— name base64", bad
//       base64, no token after the key id, token over kMaxTokenSize
//   kReasonLineWrongName (kInvalidArgument)     the line is another key's
//   kReasonLineKeyIdMismatch (kInvalidArgument) key id != TimestampKeyId(name)
[[nodiscard]] StatusOr<std::vector<uint8_t>> TokenFromLine(std::string_view tsa_name,
                                                           std::string_view line);

}  // namespace custos::crypto::tsa
