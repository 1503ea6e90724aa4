// C2SP tlog-cosignature, Ed25519 cosignature/v1: see crypto/cosignature.h and
// docs/formats/cosignature.md.
#include "crypto/cosignature.h"

#include <algorithm>
#include <optional>

#include "crypto/hash.h"
#include "crypto/signature.h"
#include "crypto/signed_note.h"

namespace custos::crypto::cosig {
namespace {

constexpr size_t kKeyIdSize = note::kKeyIdSize;

Status KeyMalformed(std::string message) {
  return InvalidArgument(std::move(message), "witness_key_malformed");
}

Status LineMalformed(std::string message) {
  return InvalidArgument(std::move(message), "cosignature_malformed");
}

uint32_t ReadBigEndian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

uint64_t ReadBigEndian64(const uint8_t* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

std::string KeyIdHex(uint32_t id) {
  uint8_t be[kKeyIdSize] = {uint8_t(id >> 24), uint8_t(id >> 16), uint8_t(id >> 8), uint8_t(id)};
  return HexEncode(be, sizeof(be));
}

}  // namespace

uint32_t CosignatureKeyId(std::string_view name,
                          const std::array<uint8_t, kPublicKeySize>& public_key) {
  Bytes type_and_key{kTypeCosignatureV1};
  type_and_key.insert(type_and_key.end(), public_key.begin(), public_key.end());
  return note::KeyId(name, type_and_key);
}

StatusOr<WitnessKey> ParseWitnessKey(std::string_view vkey) {
  size_t plus1 = vkey.find('+');
  if (plus1 == std::string_view::npos) return KeyMalformed("witness key is not name+id+key");
  size_t plus2 = vkey.find('+', plus1 + 1);
  if (plus2 == std::string_view::npos) return KeyMalformed("witness key is not name+id+key");
  std::string_view name = vkey.substr(0, plus1);
  std::string_view hex = vkey.substr(plus1 + 1, plus2 - plus1 - 1);
  std::string_view b64 = vkey.substr(plus2 + 1);
  if (!note::IsValidKeyName(name)) return KeyMalformed("invalid witness name in witness key");
  std::optional<Bytes> id = hex.size() == note::kKeyIdHexSize ? HexDecode(hex) : std::nullopt;
  if (!id) return KeyMalformed("witness key ID is not 8 hex digits");
  std::optional<Bytes> key = Base64Decode(b64);
  if (!key || key->empty()) return KeyMalformed("witness key is not base64");
  if ((*key)[0] != kTypeCosignatureV1) {
    return InvalidArgument("witness key type is not cosignature/v1 (0x04)",
                           "witness_key_unsupported");
  }
  if (key->size() != 1 + kPublicKeySize) return KeyMalformed("witness key is not 32 bytes");
  if (!PublicKey::FromRaw(SignatureAlgorithm::kEd25519, key->data() + 1, kPublicKeySize).ok()) {
    return KeyMalformed("witness key is not an Ed25519 public key");
  }
  WitnessKey out;
  out.name = std::string(name);
  std::copy(key->begin() + 1, key->end(), out.public_key.begin());
  out.key_id = CosignatureKeyId(out.name, out.public_key);
  if (out.key_id != ReadBigEndian32(id->data())) {
    return InvalidArgument("witness key ID does not match its name and key",
                           "witness_key_id_mismatch");
  }
  return out;
}

std::string FormatWitnessKey(const WitnessKey& key) {
  Bytes type_and_key{kTypeCosignatureV1};
  type_and_key.insert(type_and_key.end(), key.public_key.begin(), key.public_key.end());
  return key.name + "+" + KeyIdHex(key.key_id) + "+" + Base64Encode(type_and_key);
}

std::string CosignatureMessage(std::string_view note_text, uint64_t timestamp) {
  std::string out(kMessageHeader);
  out += "time ";
  out += std::to_string(timestamp);
  out += '\n';
  out += note_text;
  return out;
}

StatusOr<uint64_t> VerifyCosignatureLine(const WitnessKey& key, std::string_view note_text,
                                         std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.substr(0, note::kSignatureLinePrefix.size()) != note::kSignatureLinePrefix) {
    return LineMalformed("cosignature line does not start with an em dash and a space");
  }
  line.remove_prefix(note::kSignatureLinePrefix.size());
  size_t space = line.find(' ');
  if (space == std::string_view::npos) return LineMalformed("cosignature line has no signature");
  std::string_view name = line.substr(0, space);
  std::optional<Bytes> payload = Base64Decode(line.substr(space + 1));
  if (!payload) return LineMalformed("cosignature line is not base64");
  if (payload->size() < kKeyIdSize) return LineMalformed("cosignature payload too short");
  if (name != key.name || ReadBigEndian32(payload->data()) != key.key_id) {
    return InvalidArgument("the line is not a cosignature of witness " + key.name,
                           "cosignature_wrong_key");
  }
  if (payload->size() != kPayloadSize) {
    return LineMalformed("cosignature payload is " + std::to_string(payload->size()) +
                         " bytes, not " + std::to_string(kPayloadSize));
  }
  uint64_t timestamp = ReadBigEndian64(payload->data() + kKeyIdSize);
  if (timestamp > kMaxTimestamp) return LineMalformed("cosignature timestamp above 2^63-1");
  auto pub = PublicKey::FromRaw(SignatureAlgorithm::kEd25519, key.public_key.data(),
                                key.public_key.size());
  if (!pub.ok()) return pub.status();
  const uint8_t* sig = payload->data() + kKeyIdSize + kTimestampSize;
  std::string message = CosignatureMessage(note_text, timestamp);
  if (!pub->Verify(reinterpret_cast<const uint8_t*>(message.data()), message.size(), sig,
                   kSignatureSize)
           .ok()) {
    return DataLoss("cosignature of witness " + key.name + " does not verify",
                    "cosignature_invalid");
  }
  return timestamp;
}

}  // namespace custos::crypto::cosig
