#include "crypto/signed_note.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <utility>

#include "crypto/hash.h"

namespace custos::crypto {
namespace note {
namespace {

constexpr char kNewline = '\n';
constexpr char kKeyTextSeparator = '+';
constexpr std::string_view kTextSignaturesSeparator = "\n\n";
// A signature line's payload is the key id plus at least one byte.
constexpr size_t kMinSignaturePayload = kKeyIdSize + 1;

Status Malformed(std::string message) {
  return InvalidArgument(std::move(message), "note_malformed");
}
Status KeyMalformed(std::string message) {
  return InvalidArgument(std::move(message), "note_key_malformed");
}
Status NameInvalid(std::string_view name) {
  return InvalidArgument("invalid note key name \"" + std::string(name) + "\"",
                         "note_key_name_invalid");
}

// Decodes one UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF). Returns its length, or 0 if invalid.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* code_point) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    *code_point = b0;
    return 1;
  }
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  uint32_t cp = b0 & (0xFF >> (len + 1));
  for (size_t k = 1; k < len; ++k) {
    uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  *code_point = cp;
  return len;
}

// Unicode White_Space (the set Go's unicode.IsSpace reports).
bool IsUnicodeSpace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Valid UTF-8 without ASCII control characters other than '\n'.
bool IsValidNoteBytes(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0 || (cp < 0x20 && cp != uint32_t(kNewline))) return false;
    i += len;
  }
  return true;
}

// Splits `s` at the first `sep`: returns the part before and leaves the rest
// in `*s`; nullopt (and `*s` untouched) if there is no `sep`.
std::optional<std::string_view> Chop(std::string_view* s, char sep) {
  size_t at = s->find(sep);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view head = s->substr(0, at);
  s->remove_prefix(at + 1);
  return head;
}

std::string KeyIdHex(uint32_t id) {
  uint8_t be[kKeyIdSize] = {uint8_t(id >> 24), uint8_t(id >> 16), uint8_t(id >> 8), uint8_t(id)};
  return HexEncode(be, sizeof(be));
}

uint32_t ReadBigEndian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

std::optional<uint32_t> ParseKeyIdHex(std::string_view hex) {
  if (hex.size() != kKeyIdHexSize) return std::nullopt;
  std::optional<Bytes> b = HexDecode(hex);
  if (!b) return std::nullopt;
  return ReadBigEndian32(b->data());
}

// The signature type prefix of `algorithm`: 0x01, or 0xff ‖ identifier.
Bytes TypePrefix(SignatureAlgorithm algorithm) {
  if (algorithm == SignatureAlgorithm::kEd25519) return Bytes{kTypeEd25519};
  Bytes out{kTypeUnassigned};
  out.insert(out.end(), kSm2TypeIdentifier.begin(), kSm2TypeIdentifier.end());
  return out;
}

// Recognises the type prefix of decoded key bytes; returns the algorithm and
// the offset of the key material.
StatusOr<std::pair<SignatureAlgorithm, size_t>> SplitTypePrefix(const uint8_t* key, size_t n) {
  for (SignatureAlgorithm a : {SignatureAlgorithm::kEd25519, SignatureAlgorithm::kSm2Sm3}) {
    Bytes prefix = TypePrefix(a);
    if (n >= prefix.size() && std::equal(prefix.begin(), prefix.end(), key)) {
      return std::make_pair(a, prefix.size());
    }
  }
  if (n == 0) return KeyMalformed("empty key");
  return InvalidArgument("unsupported note signature type", "note_key_unsupported");
}

// The "name+hex+base64" tail shared by verifier and signer key texts.
struct KeyText {
  std::string name;
  uint32_t key_id = 0;
  Bytes key;  // type prefix ‖ key material (wiped by the caller if secret)
};

StatusOr<KeyText> ParseKeyText(std::string_view text) {
  std::optional<std::string_view> name = Chop(&text, kKeyTextSeparator);
  std::optional<std::string_view> hex =
      name ? Chop(&text, kKeyTextSeparator) : std::optional<std::string_view>();
  if (!name || !hex) return KeyMalformed("a note key is name+keyid+key");
  if (!IsValidKeyName(*name)) return KeyMalformed("invalid key name in note key");
  std::optional<uint32_t> id = ParseKeyIdHex(*hex);
  std::optional<Bytes> key = Base64Decode(text);
  if (!id || !key || key->empty()) return KeyMalformed("bad key id or key encoding");
  return KeyText{std::string(*name), *id, std::move(*key)};
}

Status CheckKeyId(const KeyVerifier& v, uint32_t claimed) {
  if (v.key_id() == claimed) return Status::Ok();
  return InvalidArgument("key id does not match the key", "note_key_id_mismatch");
}

// Appends "— name base64(id ‖ sig)\n".
void AppendSignatureLine(std::string* out, const std::string& name, uint32_t id,
                         const Bytes& signature) {
  Bytes payload = {uint8_t(id >> 24), uint8_t(id >> 16), uint8_t(id >> 8), uint8_t(id)};
  payload.insert(payload.end(), signature.begin(), signature.end());
  out->append(kSignatureLinePrefix);
  out->append(name);
  out->push_back(' ');
  out->append(Base64Encode(payload));
  out->push_back(kNewline);
}

// One parsed signature line.
struct SignatureLine {
  Signature signature;
  Bytes raw;  // the signature without the key id
};

StatusOr<SignatureLine> ParseSignatureLine(std::string_view line) {
  if (line.substr(0, kSignatureLinePrefix.size()) != kSignatureLinePrefix) {
    return Malformed("signature line does not start with an em dash and a space");
  }
  line.remove_prefix(kSignatureLinePrefix.size());
  std::optional<std::string_view> name = Chop(&line, ' ');
  if (!name || !IsValidKeyName(*name)) return Malformed("bad key name in signature line");
  std::optional<Bytes> payload = Base64Decode(line);
  if (!payload || payload->size() < kMinSignaturePayload) {
    return Malformed("bad signature encoding");
  }
  SignatureLine out;
  out.signature =
      Signature{std::string(*name), ReadBigEndian32(payload->data()), std::string(line)};
  out.raw.assign(payload->begin() + kKeyIdSize, payload->end());
  return out;
}

const Verifier* FindVerifier(const std::vector<const Verifier*>& verifiers, const Signature& sig) {
  for (const Verifier* v : verifiers) {
    if (v->key_id() == sig.key_id && v->name() == sig.name) return v;
  }
  return nullptr;
}

Status CheckVerifiers(const std::vector<const Verifier*>& verifiers) {
  std::set<std::pair<std::string, uint32_t>> seen;
  for (const Verifier* v : verifiers) {
    if (v == nullptr || !seen.emplace(v->name(), v->key_id()).second) {
      return InvalidArgument("null or duplicate note verifier", "note_verifier_ambiguous");
    }
  }
  return Status::Ok();
}

// Splits a signed note into its text and its signature block.
StatusOr<std::pair<std::string_view, std::string_view>> SplitNote(std::string_view msg) {
  if (msg.size() > kMaxNoteSize) {
    return TooLarge("signed note larger than " + std::to_string(kMaxNoteSize) + " bytes",
                    "note_too_large");
  }
  if (!IsValidNoteBytes(msg)) return Malformed("note is not valid UTF-8 text");
  size_t split = msg.rfind(kTextSignaturesSeparator);
  if (split == std::string_view::npos) return Malformed("note has no signature block");
  std::string_view text = msg.substr(0, split + 1);
  std::string_view sigs = msg.substr(split + kTextSignaturesSeparator.size());
  if (sigs.empty() || sigs.back() != kNewline) return Malformed("note has no signature lines");
  return std::make_pair(text, sigs);
}

}  // namespace

// ---------------------------------------------------------------- syntax

bool IsValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    size_t len = DecodeUtf8(name, i, &cp);
    if (len == 0 || IsUnicodeSpace(cp) || cp == uint32_t(kKeyTextSeparator)) return false;
    i += len;
  }
  return true;
}

bool IsValidNoteText(std::string_view text) {
  return !text.empty() && text.back() == kNewline && IsValidNoteBytes(text);
}

uint32_t KeyId(std::string_view name, const Bytes& type_and_key) {
  Sha256 h;
  h.Update(name);
  h.Update(std::string_view(&kNewline, 1));
  h.Update(type_and_key);
  Digest32 d = h.Finish();
  return ReadBigEndian32(d.data());
}

Bytes TypeAndPublicKey(const PublicKey& public_key) {
  Bytes out = TypePrefix(public_key.algorithm());
  out.insert(out.end(), public_key.raw().begin(), public_key.raw().end());
  return out;
}

// ----------------------------------------------------------- KeyVerifier

KeyVerifier::KeyVerifier(std::string name, PublicKey public_key)
    : name_(std::move(name)),
      public_key_(std::move(public_key)),
      key_id_(KeyId(name_, TypeAndPublicKey(public_key_))) {}

StatusOr<KeyVerifier> KeyVerifier::Create(std::string name, PublicKey public_key) {
  if (!IsValidKeyName(name)) return NameInvalid(name);
  return KeyVerifier(std::move(name), std::move(public_key));
}

StatusOr<KeyVerifier> KeyVerifier::FromVerifierKey(std::string_view vkey) {
  CUSTOS_ASSIGN_OR_RETURN(KeyText kt, ParseKeyText(vkey));
  CUSTOS_ASSIGN_OR_RETURN(auto split, SplitTypePrefix(kt.key.data(), kt.key.size()));
  StatusOr<PublicKey> pub =
      PublicKey::FromRaw(split.first, kt.key.data() + split.second, kt.key.size() - split.second);
  if (!pub.ok()) return KeyMalformed("bad public key: " + pub.status().message());
  KeyVerifier v(std::move(kt.name), std::move(*pub));
  CUSTOS_RETURN_IF_ERROR(CheckKeyId(v, kt.key_id));
  return v;
}

std::string KeyVerifier::VerifierKey() const {
  return name_ + kKeyTextSeparator + KeyIdHex(key_id_) + kKeyTextSeparator +
         Base64Encode(TypeAndPublicKey(public_key_));
}

bool KeyVerifier::Verify(std::string_view message, const Bytes& signature) const {
  return public_key_.Verify(message, signature).ok();
}

// ------------------------------------------------------------- KeySigner

StatusOr<KeySigner> KeySigner::Create(std::string name, KeyPair key) {
  CUSTOS_ASSIGN_OR_RETURN(KeyVerifier verifier,
                          KeyVerifier::Create(std::move(name), key.public_key()));
  return KeySigner(std::move(key), std::move(verifier));
}

StatusOr<KeySigner> KeySigner::FromSignerKey(std::string_view skey) {
  if (skey.substr(0, kSignerKeyPrefix.size()) != kSignerKeyPrefix) {
    return KeyMalformed("a signer key starts with PRIVATE+KEY+");
  }
  CUSTOS_ASSIGN_OR_RETURN(KeyText kt, ParseKeyText(skey.substr(kSignerKeyPrefix.size())));
  SecretBytes secret(std::move(kt.key));
  CUSTOS_ASSIGN_OR_RETURN(auto split, SplitTypePrefix(secret.data(), secret.size()));
  StatusOr<KeyPair> key = KeyPair::FromRawPrivateKey(split.first, secret.data() + split.second,
                                                     secret.size() - split.second);
  if (!key.ok()) return KeyMalformed("bad private key: " + key.status().message());
  CUSTOS_ASSIGN_OR_RETURN(KeySigner signer, Create(std::move(kt.name), std::move(*key)));
  CUSTOS_RETURN_IF_ERROR(CheckKeyId(signer.verifier_, kt.key_id));
  return signer;
}

StatusOr<SecretBytes> KeySigner::SignerKey() const {
  CUSTOS_ASSIGN_OR_RETURN(SecretBytes raw, key_.RawPrivateKey());
  Bytes type_and_key = TypePrefix(key_.algorithm());
  type_and_key.insert(type_and_key.end(), raw.data(), raw.data() + raw.size());
  std::string text = std::string(kSignerKeyPrefix) + name() + kKeyTextSeparator +
                     KeyIdHex(key_id()) + kKeyTextSeparator + Base64Encode(type_and_key);
  SecretBytes out(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  SecureZero(type_and_key.data(), type_and_key.size());
  SecureZero(text.data(), text.size());
  return out;
}

StatusOr<Bytes> KeySigner::Sign(std::string_view message) const { return key_.Sign(message); }

// -------------------------------------------------------------- Sign/Open

StatusOr<std::string> Sign(std::string_view text, const std::vector<const Signer*>& signers) {
  if (!IsValidNoteText(text)) return Malformed("note text must be UTF-8 text ending in a newline");
  if (signers.empty()) return InvalidArgument("no note signer", "note_no_signer");
  std::string lines;
  for (const Signer* s : signers) {
    if (s == nullptr) return InvalidArgument("null note signer", "note_no_signer");
    if (!IsValidKeyName(s->name())) return NameInvalid(s->name());
    CUSTOS_ASSIGN_OR_RETURN(Bytes sig, s->Sign(text));
    AppendSignatureLine(&lines, s->name(), s->key_id(), sig);
  }
  std::string out;
  out.reserve(text.size() + 1 + lines.size());
  out.append(text);
  out.push_back(kNewline);
  out.append(lines);
  return out;
}

StatusOr<Note> Open(std::string_view signed_note, const std::vector<const Verifier*>& verifiers) {
  CUSTOS_RETURN_IF_ERROR(CheckVerifiers(verifiers));
  CUSTOS_ASSIGN_OR_RETURN(auto parts, SplitNote(signed_note));
  Note note;
  note.text = std::string(parts.first);
  std::string_view sigs = parts.second;
  std::set<std::pair<std::string, uint32_t>> checked;
  std::set<std::string_view> seen_unknown;
  size_t count = 0;
  while (!sigs.empty()) {
    std::string_view line = *Chop(&sigs, kNewline);  // sigs ends in '\n'
    if (++count > kMaxSignatures) {
      return Malformed("more than " + std::to_string(kMaxSignatures) + " signatures");
    }
    CUSTOS_ASSIGN_OR_RETURN(SignatureLine parsed, ParseSignatureLine(line));
    const Verifier* v = FindVerifier(verifiers, parsed.signature);
    if (v == nullptr) {
      if (seen_unknown.insert(line).second) note.unverified.push_back(std::move(parsed.signature));
      continue;
    }
    if (!checked.emplace(v->name(), v->key_id()).second) continue;
    if (!v->Verify(note.text, parsed.raw)) {
      return DataLoss("signature by " + v->name() + " does not verify", "note_invalid_signature");
    }
    note.verified.push_back(std::move(parsed.signature));
  }
  if (note.verified.empty()) {
    return DataLoss("no signature by a known key", "note_no_verified_signature");
  }
  return note;
}

}  // namespace note

// ------------------------------------------------------------- checkpoints

namespace {

constexpr size_t kCheckpointMandatoryLines = 3;

Status CheckpointMalformed(std::string message) {
  return InvalidArgument(std::move(message), "checkpoint_malformed");
}

// Decimal, no sign, no leading zeros except "0" itself, fits in 64 bits.
std::optional<uint64_t> ParseTreeSize(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

bool IsValidLine(std::string_view line) {
  return !line.empty() && line.find('\n') == std::string_view::npos;
}

}  // namespace

StatusOr<std::string> FormatCheckpointBody(const Checkpoint& checkpoint) {
  if (!IsValidLine(checkpoint.origin)) return CheckpointMalformed("bad checkpoint origin");
  std::string out = checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" +
                    Base64Encode(checkpoint.root) + "\n";
  for (const std::string& ext : checkpoint.extensions) {
    if (!IsValidLine(ext)) return CheckpointMalformed("bad checkpoint extension line");
    out += ext + "\n";
  }
  if (!note::IsValidNoteText(out)) return CheckpointMalformed("checkpoint is not note text");
  return out;
}

StatusOr<Checkpoint> ParseCheckpointBody(std::string_view text) {
  if (!note::IsValidNoteText(text)) {
    return CheckpointMalformed("checkpoint is not UTF-8 text ending in a newline");
  }
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (lines.size() < kCheckpointMandatoryLines) {
    return CheckpointMalformed("checkpoint needs origin, size and root lines");
  }
  Checkpoint cp;
  if (lines[0].empty()) return CheckpointMalformed("empty checkpoint origin");
  cp.origin = std::string(lines[0]);
  std::optional<uint64_t> size = ParseTreeSize(lines[1]);
  if (!size) return CheckpointMalformed("bad checkpoint tree size");
  cp.size = *size;
  std::optional<Bytes> root = Base64Decode(lines[2]);
  if (!root || root->size() != cp.root.size()) {
    return CheckpointMalformed("checkpoint root is not base64 of 32 bytes");
  }
  std::copy(root->begin(), root->end(), cp.root.begin());
  for (size_t i = kCheckpointMandatoryLines; i < lines.size(); ++i) {
    if (lines[i].empty()) return CheckpointMalformed("empty checkpoint extension line");
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

StatusOr<OpenedCheckpoint> OpenCheckpoint(std::string_view signed_checkpoint,
                                          const std::vector<const note::Verifier*>& verifiers) {
  CUSTOS_ASSIGN_OR_RETURN(note::Note opened, note::Open(signed_checkpoint, verifiers));
  CUSTOS_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpointBody(opened.text));
  return OpenedCheckpoint{std::move(cp), std::move(opened)};
}

}  // namespace custos::crypto
