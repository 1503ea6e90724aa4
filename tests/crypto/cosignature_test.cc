#include "crypto/cosignature.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/signature.h"

namespace custos::crypto::cosig {
namespace {

// A checkpoint text (the signed part of the note, no signature lines).
constexpr std::string_view kText =
    "archive.example/audit-log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n";
constexpr std::string_view kName = "witness.example/w1";
constexpr uint64_t kTime = 1700000123;

KeyPair TestKey() {
  Bytes seed(32, 0x07);
  auto key = KeyPair::FromRawPrivateKey(SignatureAlgorithm::kEd25519, seed.data(), seed.size());
  EXPECT_TRUE(key.ok());
  return *key;
}

// The key ID computed from the C2SP text directly, not through note::KeyId.
uint32_t IndependentKeyId(std::string_view name, const Bytes& pub) {
  std::string preimage(name);
  preimage += '\n';
  preimage += char(0x04);
  preimage.append(pub.begin(), pub.end());
  Digest32 h = Sha256Of(preimage);
  return (uint32_t(h[0]) << 24) | (uint32_t(h[1]) << 16) | (uint32_t(h[2]) << 8) | h[3];
}

// A cosignature line assembled by hand from the C2SP tlog-cosignature text.
std::string HandMadeLine(const KeyPair& key, std::string_view name, std::string_view text,
                         uint64_t ts) {
  std::string message = "cosignature/v1\ntime " + std::to_string(ts) + "\n" + std::string(text);
  auto sig = key.Sign(message);
  EXPECT_TRUE(sig.ok());
  uint32_t id = IndependentKeyId(name, key.public_key().raw());
  Bytes payload = {uint8_t(id >> 24), uint8_t(id >> 16), uint8_t(id >> 8), uint8_t(id)};
  for (int i = 7; i >= 0; --i) payload.push_back(uint8_t(ts >> (8 * i)));
  payload.insert(payload.end(), sig->begin(), sig->end());
  return "\xE2\x80\x94 " + std::string(name) + " " + Base64Encode(payload) + "\n";
}

std::string Vkey(const KeyPair& key, std::string_view name) {
  Bytes tk{0x04};
  tk.insert(tk.end(), key.public_key().raw().begin(), key.public_key().raw().end());
  uint32_t id = IndependentKeyId(name, key.public_key().raw());
  uint8_t be[4] = {uint8_t(id >> 24), uint8_t(id >> 16), uint8_t(id >> 8), uint8_t(id)};
  return std::string(name) + "+" + HexEncode(be, 4) + "+" + Base64Encode(tk);
}

WitnessKey ParsedKey(const KeyPair& key) {
  auto wk = ParseWitnessKey(Vkey(key, kName));
  EXPECT_TRUE(wk.ok()) << wk.status().ToString();
  return *wk;
}

// Replaces byte `index` of the line's decoded payload with its complement.
std::string FlipPayloadByte(const std::string& line, size_t index) {
  size_t space = line.rfind(' ');
  auto payload = Base64Decode(std::string_view(line).substr(space + 1, line.size() - space - 2));
  EXPECT_TRUE(payload.has_value());
  (*payload)[index] ^= 0xff;
  return line.substr(0, space + 1) + Base64Encode(*payload) + "\n";
}

TEST(CosignatureTest, KeyIdMatchesIndependentDerivation) {
  KeyPair key = TestKey();
  WitnessKey wk = ParsedKey(key);
  EXPECT_EQ(wk.key_id, IndependentKeyId(kName, key.public_key().raw()));
  EXPECT_EQ(FormatWitnessKey(wk), Vkey(key, kName));
  // The log-key type 0x01 gives another ID: a cosigner key is not a note key.
  EXPECT_NE(CosignatureKeyId(kName, wk.public_key),
            [&] {
              Bytes tk{0x01};
              tk.insert(tk.end(), wk.public_key.begin(), wk.public_key.end());
              Digest32 h = Sha256Of(std::string(kName) + "\n" + ToString(tk));
              return (uint32_t(h[0]) << 24) | (uint32_t(h[1]) << 16) | (uint32_t(h[2]) << 8) | h[3];
            }());
}

// The worked example of docs/formats/cosignature.md (computed with another
// Ed25519 implementation, Python's cryptography package).
TEST(CosignatureTest, DocumentedExampleVerifies) {
  const std::string vkey = "witness.example/w1+aa4a09d1+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
  const std::string line =
      "\xE2\x80\x94 witness.example/w1 qkoJ0QAAAABlU/F748sbuDBS3bFdtc6J8m/NkwvcG55xmAxUWN6usDKTHth8L2s6"
      "OkEGsXwlsvNwx0S00vbuC1FKwp4bOVN9MjBGDw==\n";
  auto wk = ParseWitnessKey(vkey);
  ASSERT_TRUE(wk.ok()) << wk.status().ToString();
  EXPECT_EQ(wk->key_id, 0xaa4a09d1u);
  auto ts = VerifyCosignatureLine(*wk, kText, line);
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();
  EXPECT_EQ(*ts, kTime);
  // The seed 32 x 0x07 gives that key, and (Ed25519 being deterministic)
  // the same line.
  EXPECT_EQ(Vkey(TestKey(), kName), vkey);
  EXPECT_EQ(HandMadeLine(TestKey(), kName, kText, kTime), line);
}

TEST(CosignatureTest, MessageIsHeaderTimeAndText) {
  EXPECT_EQ(CosignatureMessage(kText, 0), "cosignature/v1\ntime 0\n" + std::string(kText));
  EXPECT_EQ(CosignatureMessage("a\n", 1679315147), "cosignature/v1\ntime 1679315147\na\n");
}

TEST(CosignatureTest, HandMadeLineVerifiesAndGivesTimestamp) {
  KeyPair key = TestKey();
  std::string line = HandMadeLine(key, kName, kText, kTime);
  auto ts = VerifyCosignatureLine(ParsedKey(key), kText, line);
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();
  EXPECT_EQ(*ts, kTime);
  // Without the final newline too.
  EXPECT_TRUE(VerifyCosignatureLine(ParsedKey(key), kText, line.substr(0, line.size() - 1)).ok());
}

TEST(CosignatureTest, ChangedTextTimestampOrSignatureFails) {
  KeyPair key = TestKey();
  WitnessKey wk = ParsedKey(key);
  std::string line = HandMadeLine(key, kName, kText, kTime);
  std::string other_text(kText);
  other_text[26] = '9';  // size 8 -> 9
  EXPECT_EQ(VerifyCosignatureLine(wk, other_text, line).status().reason(), "cosignature_invalid");
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, FlipPayloadByte(line, 11)).status().reason(),
            "cosignature_invalid");  // last timestamp byte
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, FlipPayloadByte(line, 40)).status().reason(),
            "cosignature_invalid");  // inside the signature
}

TEST(CosignatureTest, WrongNameOrKeyIdIsAnotherSigner) {
  KeyPair key = TestKey();
  WitnessKey wk = ParsedKey(key);
  std::string other_name = HandMadeLine(key, "witness.example/w2", kText, kTime);
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, other_name).status().reason(),
            "cosignature_wrong_key");
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, FlipPayloadByte(HandMadeLine(key, kName, kText, kTime), 0))
                .status()
                .reason(),
            "cosignature_wrong_key");
}

TEST(CosignatureTest, MalformedLinesAndTimestampsAreRejected) {
  KeyPair key = TestKey();
  WitnessKey wk = ParsedKey(key);
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, "- witness.example/w1 AAAA\n").status().reason(),
            "cosignature_malformed");
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, "\xE2\x80\x94 witness.example/w1 !!!\n").status().reason(),
            "cosignature_malformed");
  std::string line = HandMadeLine(key, kName, kText, kTime);
  // A payload of the right key ID but 75 bytes.
  auto payload = Base64Decode(std::string_view(line).substr(line.rfind(' ') + 1, line.size() - line.rfind(' ') - 2));
  ASSERT_TRUE(payload.has_value());
  payload->pop_back();
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, line.substr(0, line.rfind(' ') + 1) + Base64Encode(*payload))
                .status()
                .reason(),
            "cosignature_malformed");
  std::string high = HandMadeLine(key, kName, kText, uint64_t(1) << 63);
  EXPECT_EQ(VerifyCosignatureLine(wk, kText, high).status().reason(), "cosignature_malformed");
}

TEST(CosignatureTest, BadWitnessKeysAreRejected) {
  KeyPair key = TestKey();
  std::string good = Vkey(key, kName);
  EXPECT_EQ(ParseWitnessKey("nonsense").status().reason(), "witness_key_malformed");
  EXPECT_EQ(ParseWitnessKey("bad name+00000000+AA==").status().reason(), "witness_key_malformed");
  std::string wrong_id = good;
  wrong_id[good.find('+') + 1] = wrong_id[good.find('+') + 1] == '0' ? '1' : '0';
  EXPECT_EQ(ParseWitnessKey(wrong_id).status().reason(), "witness_key_id_mismatch");
  // A log's Ed25519 note key (type 0x01) is not a cosigner key.
  Bytes tk{0x01};
  tk.insert(tk.end(), key.public_key().raw().begin(), key.public_key().raw().end());
  std::string log_key = std::string(kName) + "+" + good.substr(good.find('+') + 1, 8) + "+" + Base64Encode(tk);
  EXPECT_EQ(ParseWitnessKey(log_key).status().reason(), "witness_key_unsupported");
  Bytes short_key{0x04, 1, 2, 3};
  EXPECT_EQ(ParseWitnessKey(std::string(kName) + "+00000000+" + Base64Encode(short_key)).status().reason(),
            "witness_key_malformed");
}

}  // namespace
}  // namespace custos::crypto::cosig
