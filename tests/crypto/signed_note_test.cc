#include "crypto/signed_note.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "tests/testutil/testutil.h"

namespace custos::crypto {
namespace {

using note::KeySigner;
using note::KeyVerifier;

// shared/testdata/signed-note/checkpoint-vectors.json: checkpoints signed by
// golang.org/x/mod/sumdb/note with the Ed25519 seed 32 × 0x42.
struct NoteVector {
  std::string text;
  std::string signed_note;
};
struct Vectors {
  std::string name;
  std::string seed_hex;
  std::string skey;
  std::string vkey;
  std::vector<NoteVector> notes;
};

Vectors LoadVectors() {
  const std::string json = custos::testing::ReadFileOrDie(custos::testing::TestdataDir() +
                                                          "/signed-note/checkpoint-vectors.json");
  Poco::JSON::Parser parser;
  auto root = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
  Vectors v;
  v.name = root->getValue<std::string>("name");
  v.seed_hex = root->getValue<std::string>("ed25519SeedHex");
  v.skey = root->getValue<std::string>("skey");
  v.vkey = root->getValue<std::string>("vkey");
  Poco::JSON::Array::Ptr notes = root->getArray("notes");
  for (size_t i = 0; i < notes->size(); ++i) {
    Poco::JSON::Object::Ptr n = notes->getObject(static_cast<unsigned>(i));
    v.notes.push_back({n->getValue<std::string>("Text"), n->getValue<std::string>("Signed")});
  }
  return v;
}

// The vectors' key id, from their key texts ("...+27bbed2b+...").
constexpr uint32_t kVectorKeyId = 0x27bbed2b;
constexpr std::string_view kEmDash = "\xE2\x80\x94";

KeySigner SignerFromSeed(const std::string& name, const std::string& seed_hex) {
  Bytes seed = HexDecode(seed_hex).value();
  StatusOr<KeyPair> key =
      KeyPair::FromRawPrivateKey(SignatureAlgorithm::kEd25519, seed.data(), seed.size());
  EXPECT_TRUE(key.ok());
  StatusOr<KeySigner> signer = KeySigner::Create(name, std::move(*key));
  EXPECT_TRUE(signer.ok());
  return std::move(signer).value();
}

KeySigner NewSigner(const std::string& name,
                    SignatureAlgorithm algorithm = SignatureAlgorithm::kEd25519) {
  StatusOr<KeyPair> key = KeyPair::Generate(algorithm);
  EXPECT_TRUE(key.ok());
  StatusOr<KeySigner> signer = KeySigner::Create(name, std::move(*key));
  EXPECT_TRUE(signer.ok());
  return std::move(signer).value();
}

std::string Str(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

// A verifier that claims any (name, id) and rejects every signature.
class RejectingVerifier final : public note::Verifier {
 public:
  RejectingVerifier(std::string name, uint32_t id) : name_(std::move(name)), id_(id) {}
  const std::string& name() const override { return name_; }
  uint32_t key_id() const override { return id_; }
  bool Verify(std::string_view, const Bytes&) const override { return false; }

 private:
  std::string name_;
  uint32_t id_;
};

class SignedNoteVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    vectors_ = LoadVectors();
    ASSERT_EQ(vectors_.notes.size(), 2u);
    StatusOr<KeyVerifier> v = KeyVerifier::FromVerifierKey(vectors_.vkey);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    verifier_.emplace(std::move(*v));
  }
  Vectors vectors_;
  std::optional<KeyVerifier> verifier_;
};

TEST_F(SignedNoteVectors, SignReproducesReferenceBytes) {
  KeySigner signer = SignerFromSeed(vectors_.name, vectors_.seed_hex);
  EXPECT_EQ(signer.key_id(), kVectorKeyId);
  for (const NoteVector& v : vectors_.notes) {
    StatusOr<std::string> signed_note = note::Sign(v.text, {&signer});
    ASSERT_TRUE(signed_note.ok()) << signed_note.status().ToString();
    EXPECT_EQ(*signed_note, v.signed_note);
  }
}

TEST_F(SignedNoteVectors, KeyTextsParseAndReformatIdentically) {
  StatusOr<KeySigner> signer = KeySigner::FromSignerKey(vectors_.skey);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  EXPECT_EQ(signer->name(), vectors_.name);
  EXPECT_EQ(signer->key_id(), kVectorKeyId);
  StatusOr<SecretBytes> skey = signer->SignerKey();
  ASSERT_TRUE(skey.ok());
  EXPECT_EQ(Str(*skey), vectors_.skey);
  EXPECT_EQ(signer->VerifierKey(), vectors_.vkey);
  EXPECT_EQ(verifier_->VerifierKey(), vectors_.vkey);
  EXPECT_EQ(verifier_->name(), vectors_.name);
  EXPECT_EQ(verifier_->key_id(), kVectorKeyId);
  // The seed in the signer key is the vectors' seed.
  StatusOr<SecretBytes> seed = signer->key().RawPrivateKey();
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ(HexEncode(seed->data(), seed->size()), vectors_.seed_hex);
}

TEST_F(SignedNoteVectors, OpenVerifiesEveryVector) {
  for (const NoteVector& v : vectors_.notes) {
    StatusOr<note::Note> n = note::Open(v.signed_note, {&*verifier_});
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(n->text, v.text);
    ASSERT_EQ(n->verified.size(), 1u);
    EXPECT_EQ(n->verified[0].name, vectors_.name);
    EXPECT_EQ(n->verified[0].key_id, kVectorKeyId);
    EXPECT_TRUE(n->unverified.empty());
  }
}

TEST_F(SignedNoteVectors, CheckpointBodiesParseAndReformat) {
  StatusOr<Checkpoint> empty = ParseCheckpointBody(vectors_.notes[0].text);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->origin, vectors_.name);
  EXPECT_EQ(empty->size, 0u);
  EXPECT_EQ(empty->root, Sha256Of(""));  // RFC 6962 empty tree
  EXPECT_TRUE(empty->extensions.empty());
  StatusOr<Checkpoint> eight = ParseCheckpointBody(vectors_.notes[1].text);
  ASSERT_TRUE(eight.ok());
  EXPECT_EQ(eight->size, 8u);
  for (size_t i = 0; i < vectors_.notes.size(); ++i) {
    StatusOr<Checkpoint> cp = ParseCheckpointBody(vectors_.notes[i].text);
    ASSERT_TRUE(cp.ok());
    StatusOr<std::string> body = FormatCheckpointBody(*cp);
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(*body, vectors_.notes[i].text);
  }
}

TEST_F(SignedNoteVectors, OpenCheckpoint) {
  StatusOr<OpenedCheckpoint> cp = OpenCheckpoint(vectors_.notes[1].signed_note, {&*verifier_});
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->checkpoint.size, 8u);
  EXPECT_EQ(cp->note.verified.size(), 1u);
}

TEST_F(SignedNoteVectors, TamperedText) {
  std::string tampered = vectors_.notes[1].signed_note;
  size_t at = tampered.find("\n8\n");
  ASSERT_NE(at, std::string::npos);
  tampered[at + 1] = '9';
  StatusOr<note::Note> n = note::Open(tampered, {&*verifier_});
  EXPECT_EQ(n.status().reason(), "note_invalid_signature");
  EXPECT_EQ(n.status().code(), ErrorCode::kDataLoss);
}

TEST_F(SignedNoteVectors, BitFlippedSignature) {
  std::string signed_note = vectors_.notes[0].signed_note;
  // Decode the signature line, flip a bit of the Ed25519 signature, re-encode.
  size_t b64_start = signed_note.rfind(' ') + 1;
  std::string b64 = signed_note.substr(b64_start, signed_note.size() - 1 - b64_start);
  Bytes payload = Base64Decode(b64).value();
  payload[note::kKeyIdSize + 10] ^= 0x04;
  std::string tampered = signed_note.substr(0, b64_start) + Base64Encode(payload) + "\n";
  EXPECT_EQ(note::Open(tampered, {&*verifier_}).status().reason(), "note_invalid_signature");
}

TEST_F(SignedNoteVectors, SignatureForWrongKeyIsUnknown) {
  // Same name, different key: a different key id, so the line is ignored and
  // nothing verifies.
  KeySigner other = NewSigner(vectors_.name);
  ASSERT_NE(other.key_id(), kVectorKeyId);
  StatusOr<std::string> signed_note = note::Sign(vectors_.notes[0].text, {&other});
  ASSERT_TRUE(signed_note.ok());
  StatusOr<note::Note> n = note::Open(*signed_note, {&*verifier_});
  EXPECT_EQ(n.status().reason(), "note_no_verified_signature");
}

TEST_F(SignedNoteVectors, KnownNameAndIdButBadSignature) {
  RejectingVerifier impostor(vectors_.name, kVectorKeyId);
  StatusOr<note::Note> n = note::Open(vectors_.notes[0].signed_note, {&impostor});
  EXPECT_EQ(n.status().reason(), "note_invalid_signature");
}

TEST_F(SignedNoteVectors, ExtraUnknownSignatureIgnored) {
  KeySigner witness = NewSigner("witness.example/w1");
  StatusOr<std::string> witnessed = note::Sign(vectors_.notes[1].text, {&witness});
  ASSERT_TRUE(witnessed.ok());
  std::string witness_line = witnessed->substr(vectors_.notes[1].text.size() + 1);
  std::string combined = vectors_.notes[1].signed_note + witness_line;
  StatusOr<note::Note> n = note::Open(combined, {&*verifier_});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(n->verified.size(), 1u);
  ASSERT_EQ(n->unverified.size(), 1u);
  EXPECT_EQ(n->unverified[0].name, "witness.example/w1");
  EXPECT_EQ(n->unverified[0].key_id, witness.key_id());
  // Both verify when both keys are known.
  StatusOr<note::Note> both = note::Open(combined, {&*verifier_, &witness.verifier()});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->verified.size(), 2u);
}

TEST_F(SignedNoteVectors, UnknownSignatureWithGarbagePayloadIgnored) {
  // An unknown key's line is not checked, only parsed.
  std::string combined = vectors_.notes[0].signed_note + std::string(kEmDash) +
                         " other.example/key AAAAAAAAAAAAAAAA\n";
  StatusOr<note::Note> n = note::Open(combined, {&*verifier_});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->unverified.size(), 1u);
}

TEST_F(SignedNoteVectors, BadDash) {
  std::string signed_note = vectors_.notes[0].signed_note;
  size_t dash = signed_note.find(kEmDash);
  ASSERT_NE(dash, std::string::npos);
  std::string hyphen = signed_note;
  hyphen.replace(dash, kEmDash.size(), "-");
  EXPECT_EQ(note::Open(hyphen, {&*verifier_}).status().reason(), "note_malformed");
  std::string en_dash = signed_note;
  en_dash.replace(dash, kEmDash.size(), "\xE2\x80\x93");  // U+2013
  EXPECT_EQ(note::Open(en_dash, {&*verifier_}).status().reason(), "note_malformed");
  std::string no_space = signed_note;
  no_space.erase(dash + kEmDash.size(), 1);
  EXPECT_EQ(note::Open(no_space, {&*verifier_}).status().reason(), "note_malformed");
}

TEST_F(SignedNoteVectors, MissingBlankLine) {
  std::string signed_note = vectors_.notes[0].signed_note;
  size_t blank = signed_note.find("\n\n");
  ASSERT_NE(blank, std::string::npos);
  signed_note.erase(blank, 1);
  EXPECT_EQ(note::Open(signed_note, {&*verifier_}).status().reason(), "note_malformed");
}

TEST_F(SignedNoteVectors, MissingFinalNewline) {
  std::string signed_note = vectors_.notes[0].signed_note;
  signed_note.pop_back();
  EXPECT_EQ(note::Open(signed_note, {&*verifier_}).status().reason(), "note_malformed");
}

TEST_F(SignedNoteVectors, NoSignatureLines) {
  EXPECT_EQ(note::Open(vectors_.notes[0].text + "\n", {&*verifier_}).status().reason(),
            "note_malformed");
}

TEST_F(SignedNoteVectors, ControlCharacterInText) {
  std::string signed_note = vectors_.notes[0].signed_note;
  signed_note[3] = '\t';
  EXPECT_EQ(note::Open(signed_note, {&*verifier_}).status().reason(), "note_malformed");
  signed_note[3] = '\r';
  EXPECT_EQ(note::Open(signed_note, {&*verifier_}).status().reason(), "note_malformed");
}

TEST_F(SignedNoteVectors, InvalidUtf8) {
  for (std::string bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x80", "\xFF"}) {
    std::string signed_note = vectors_.notes[0].signed_note;
    signed_note.insert(5, bad);
    EXPECT_EQ(note::Open(signed_note, {&*verifier_}).status().reason(), "note_malformed");
  }
}

TEST_F(SignedNoteVectors, ShortOrBadSignaturePayload) {
  const std::string text =
      vectors_.notes[0].text + "\n" + std::string(kEmDash) + " " + vectors_.name + " ";
  // Four bytes: a key id and no signature.
  EXPECT_EQ(note::Open(text + "J7vtKw==\n", {&*verifier_}).status().reason(), "note_malformed");
  EXPECT_EQ(note::Open(text + "not base64!\n", {&*verifier_}).status().reason(), "note_malformed");
  EXPECT_EQ(note::Open(text + "\n", {&*verifier_}).status().reason(), "note_malformed");
  // No space between name and signature.
  std::string no_space =
      vectors_.notes[0].text + "\n" + std::string(kEmDash) + " " + vectors_.name + "\n";
  EXPECT_EQ(note::Open(no_space, {&*verifier_}).status().reason(), "note_malformed");
}

TEST_F(SignedNoteVectors, BadKeyNameInSignatureLine) {
  const std::string prefix = vectors_.notes[0].text + "\n" + std::string(kEmDash) + " ";
  for (std::string name : {"a+b",
                           "a\xC2\xA0"
                           "b",
                           "a\xE3\x80\x80"
                           "b"}) {
    EXPECT_EQ(note::Open(prefix + name + " AAAAAAAAAAAA\n", {&*verifier_}).status().reason(),
              "note_malformed")
        << name;
  }
  EXPECT_EQ(note::Open(prefix + " AAAAAAAAAAAA\n", {&*verifier_}).status().reason(),
            "note_malformed");
}

TEST_F(SignedNoteVectors, DuplicateKnownSignatureCountedOnce) {
  std::string sig_line = vectors_.notes[0].signed_note.substr(vectors_.notes[0].text.size() + 1);
  StatusOr<note::Note> n = note::Open(vectors_.notes[0].signed_note + sig_line, {&*verifier_});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->verified.size(), 1u);
}

TEST_F(SignedNoteVectors, AmbiguousVerifiers) {
  EXPECT_EQ(note::Open(vectors_.notes[0].signed_note, {&*verifier_, &*verifier_}).status().reason(),
            "note_verifier_ambiguous");
  EXPECT_EQ(note::Open(vectors_.notes[0].signed_note, {nullptr}).status().reason(),
            "note_verifier_ambiguous");
}

// ------------------------------------------------------------ signature counts

TEST(SignedNote, SixteenSignaturesAccepted) {
  std::vector<KeySigner> signers;
  for (int i = 0; i < 16; ++i) signers.push_back(NewSigner("log.example/k" + std::to_string(i)));
  std::vector<const note::Signer*> all;
  for (const KeySigner& s : signers) all.push_back(&s);
  StatusOr<std::string> signed_note = note::Sign("text\n", all);
  ASSERT_TRUE(signed_note.ok());
  // Known: only the last key; the fifteen others are unknown.
  StatusOr<note::Note> n = note::Open(*signed_note, {&signers.back().verifier()});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->verified.size(), 1u);
  EXPECT_EQ(n->unverified.size(), 15u);
  // Known: all of them, verified in line order.
  std::vector<const note::Verifier*> verifiers;
  for (const KeySigner& s : signers) verifiers.push_back(&s.verifier());
  StatusOr<note::Note> all_known = note::Open(*signed_note, verifiers);
  ASSERT_TRUE(all_known.ok());
  ASSERT_EQ(all_known->verified.size(), 16u);
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(all_known->verified[i].name, signers[i].name());
}

TEST(SignedNote, TooManySignatures) {
  KeySigner signer = NewSigner("log.example/log");
  StatusOr<std::string> signed_note = note::Sign("text\n", {&signer});
  ASSERT_TRUE(signed_note.ok());
  std::string many = *signed_note;
  for (size_t i = 0; i < note::kMaxSignatures; ++i) {
    many += std::string(kEmDash) + " other.example/k" + std::to_string(i) + " AAAAAAAAAAAA\n";
  }
  EXPECT_EQ(note::Open(many, {&signer.verifier()}).status().reason(), "note_malformed");
  // Exactly kMaxSignatures lines are still fine.
  std::string limit = *signed_note;
  for (size_t i = 0; i + 1 < note::kMaxSignatures; ++i) {
    limit += std::string(kEmDash) + " other.example/k" + std::to_string(i) + " AAAAAAAAAAAA\n";
  }
  EXPECT_TRUE(note::Open(limit, {&signer.verifier()}).ok());
}

TEST(SignedNote, TooLarge) {
  KeySigner signer = NewSigner("log.example/log");
  std::string text;
  while (text.size() <= note::kMaxNoteSize) text += std::string(1023, 'x') + "\n";
  StatusOr<std::string> signed_note = note::Sign(text, {&signer});
  ASSERT_TRUE(signed_note.ok());
  StatusOr<note::Note> n = note::Open(*signed_note, {&signer.verifier()});
  EXPECT_EQ(n.status().reason(), "note_too_large");
  EXPECT_EQ(n.status().code(), ErrorCode::kTooLarge);
}

// ------------------------------------------------------------------- signing

TEST(SignedNote, SignRejectsBadText) {
  KeySigner signer = NewSigner("log.example/log");
  for (const std::string& bad : std::vector<std::string>{"", "no newline", "tab\there\n",
                                                         std::string("nul\0\n", 5), "\xFF\n"}) {
    EXPECT_EQ(note::Sign(bad, {&signer}).status().reason(), "note_malformed");
  }
  EXPECT_EQ(note::Sign("text\n", {}).status().reason(), "note_no_signer");
  EXPECT_EQ(note::Sign("text\n", {nullptr}).status().reason(), "note_no_signer");
}

TEST(SignedNote, SignerNameValidation) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(key.ok());
  for (std::string bad : {"", "a b", "a+b", "a\nb",
                          "a\xE2\x80\x83"
                          "b",
                          "\xFF"}) {
    EXPECT_EQ(KeySigner::Create(bad, *key).status().reason(), "note_key_name_invalid") << bad;
  }
  EXPECT_TRUE(KeySigner::Create("日志.example/审计", *key).ok());
}

TEST(SignedNote, TextWithBlankLinesRoundTrips) {
  KeySigner signer = NewSigner("log.example/log");
  const std::string text = "first\n\nthird\n\n";
  StatusOr<std::string> signed_note = note::Sign(text, {&signer});
  ASSERT_TRUE(signed_note.ok());
  StatusOr<note::Note> n = note::Open(*signed_note, {&signer.verifier()});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->text, text);
}

TEST(SignedNote, SignersOrderPreserved) {
  KeySigner a = NewSigner("a.example/log");
  KeySigner b = NewSigner("b.example/log");
  StatusOr<std::string> ab = note::Sign("t\n", {&a, &b});
  ASSERT_TRUE(ab.ok());
  EXPECT_LT(ab->find("a.example"), ab->find("b.example"));
  StatusOr<std::string> ba = note::Sign("t\n", {&b, &a});
  ASSERT_TRUE(ba.ok());
  EXPECT_GT(ba->find("a.example"), ba->find("b.example"));
}

// ------------------------------------------------------------------- key texts

TEST(SignedNoteKeys, VerifierKeyIdMismatch) {
  const std::string vkey =
      "archive.example/audit-log+27bbed2c+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
  EXPECT_EQ(KeyVerifier::FromVerifierKey(vkey).status().reason(), "note_key_id_mismatch");
  const std::string renamed =
      "archive.example/audit-log2+27bbed2b+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS";
  EXPECT_EQ(KeyVerifier::FromVerifierKey(renamed).status().reason(), "note_key_id_mismatch");
}

TEST(SignedNoteKeys, UnsupportedSignatureType) {
  Bytes key(33, 7);
  key[0] = 0x02;  // ECDSA: assigned by C2SP but not supported here
  const std::string vkey = "x.example/k+00000000+" + Base64Encode(key);
  EXPECT_EQ(KeyVerifier::FromVerifierKey(vkey).status().reason(), "note_key_unsupported");
  key[0] = note::kTypeUnassigned;  // 0xff but not Custos's identifier
  EXPECT_EQ(
      KeyVerifier::FromVerifierKey("x.example/k+00000000+" + Base64Encode(key)).status().reason(),
      "note_key_unsupported");
}

TEST(SignedNoteKeys, MalformedVerifierKeys) {
  for (std::string bad : {
           "", "name-only", "name+27bbed2b",
           "name+27bbed2+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS",
           "name+27bbed2bb+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS",
           "name+zzbbed2b+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS",
           "name+27bbed2b+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgds", "name+27bbed2b+",
           "na me+27bbed2b+ASFS+NGbeR0kRTJC4V8uq2y3z/p7al7TAJeWDgaYgdsS",
           "name+27bbed2b+AUJC",  // Ed25519 type with a 2-byte key
       }) {
    StatusOr<KeyVerifier> v = KeyVerifier::FromVerifierKey(bad);
    EXPECT_EQ(v.status().reason(), "note_key_malformed") << bad;
  }
}

TEST(SignedNoteKeys, MalformedSignerKeys) {
  for (std::string bad : {
           "",
           "PRIVATE+archive.example/"
           "audit-log+27bbed2b+AUJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC",
           "archive.example/audit-log+27bbed2b+AUJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC",
           "PRIVATE+KEY+archive.example/"
           "audit-log+27bbed2b+AUJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=",
       }) {
    EXPECT_EQ(KeySigner::FromSignerKey(bad).status().reason(), "note_key_malformed") << bad;
  }
  EXPECT_EQ(KeySigner::FromSignerKey("PRIVATE+KEY+archive.example/audit-log+27bbed2c+"
                                     "AUJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC")
                .status()
                .reason(),
            "note_key_id_mismatch");
}

TEST(SignedNoteKeys, KeyIdDerivation) {
  // key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], computed by hand.
  KeySigner signer = NewSigner("log.example/log");
  Sha256 h;
  h.Update("log.example/log\n\x01");
  h.Update(signer.key().public_key().raw());
  Digest32 d = h.Finish();
  uint32_t expected =
      (uint32_t(d[0]) << 24) | (uint32_t(d[1]) << 16) | (uint32_t(d[2]) << 8) | d[3];
  EXPECT_EQ(signer.key_id(), expected);
}

// ------------------------------------------------------------------------ SM2

TEST(SignedNoteSm2, KeyTextsRoundTrip) {
  KeySigner signer = NewSigner("archive.example/audit-log", SignatureAlgorithm::kSm2Sm3);
  const std::string vkey = signer.VerifierKey();
  const std::string prefix = "archive.example/audit-log+";
  ASSERT_EQ(vkey.rfind(prefix, 0), 0u);
  Bytes key = Base64Decode(vkey.substr(prefix.size() + note::kKeyIdHexSize + 1)).value();
  ASSERT_EQ(key.size(), 1 + note::kSm2TypeIdentifier.size() + kSm2PublicKeySize);
  EXPECT_EQ(key[0], 0xff);
  EXPECT_EQ(std::string(key.begin() + 1, key.begin() + 1 + note::kSm2TypeIdentifier.size()),
            "custos/sm2-sm3");
  // key id = SHA-256(name ‖ 0x0A ‖ 0xff ‖ "custos/sm2-sm3" ‖ point)[:4]
  Sha256 h;
  h.Update("archive.example/audit-log\n");
  h.Update(key);
  Digest32 d = h.Finish();
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%02x%02x%02x%02x", d[0], d[1], d[2], d[3]);
  EXPECT_NE(vkey.find(std::string("+") + hex + "+"), std::string::npos);

  StatusOr<KeyVerifier> v = KeyVerifier::FromVerifierKey(vkey);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->VerifierKey(), vkey);
  EXPECT_EQ(v->key_id(), signer.key_id());
  StatusOr<SecretBytes> skey = signer.SignerKey();
  ASSERT_TRUE(skey.ok());
  StatusOr<KeySigner> parsed = KeySigner::FromSignerKey(Str(*skey));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  StatusOr<SecretBytes> again = parsed->SignerKey();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Str(*again), Str(*skey));
  EXPECT_EQ(parsed->VerifierKey(), vkey);
}

TEST(SignedNoteSm2, SignedBesideEd25519) {
  KeySigner ed = NewSigner("archive.example/audit-log");
  KeySigner sm2 = NewSigner("archive.example/audit-log", SignatureAlgorithm::kSm2Sm3);
  ASSERT_NE(ed.key_id(), sm2.key_id());
  StatusOr<std::string> body =
      FormatCheckpointBody({"archive.example/audit-log", 3, Sha256Of("x"), {}});
  ASSERT_TRUE(body.ok());
  StatusOr<std::string> signed_note = note::Sign(*body, {&ed, &sm2});
  ASSERT_TRUE(signed_note.ok()) << signed_note.status().ToString();
  // A verifier that knows only Ed25519 ignores the SM2 line.
  StatusOr<note::Note> ed_only = note::Open(*signed_note, {&ed.verifier()});
  ASSERT_TRUE(ed_only.ok()) << ed_only.status().ToString();
  EXPECT_EQ(ed_only->unverified.size(), 1u);
  // One that knows only SM2 verifies it.
  StatusOr<note::Note> sm2_only = note::Open(*signed_note, {&sm2.verifier()});
  ASSERT_TRUE(sm2_only.ok()) << sm2_only.status().ToString();
  ASSERT_EQ(sm2_only->verified.size(), 1u);
  EXPECT_EQ(sm2_only->verified[0].key_id, sm2.key_id());
  StatusOr<OpenedCheckpoint> both = OpenCheckpoint(*signed_note, {&ed.verifier(), &sm2.verifier()});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->note.verified.size(), 2u);
  EXPECT_EQ(both->checkpoint.size, 3u);
}

TEST(SignedNoteSm2, TamperedTextRejected) {
  KeySigner sm2 = NewSigner("archive.example/audit-log", SignatureAlgorithm::kSm2Sm3);
  StatusOr<std::string> signed_note = note::Sign("archive.example/audit-log\n1\n", {&sm2});
  ASSERT_TRUE(signed_note.ok());
  std::string tampered = *signed_note;
  tampered[tampered.find("\n1\n") + 1] = '2';
  EXPECT_EQ(note::Open(tampered, {&sm2.verifier()}).status().reason(), "note_invalid_signature");
}

// ---------------------------------------------------------------- checkpoints

TEST(SignedNoteCheckpoint, ExtensionsKept) {
  const std::string root = Base64Encode(Sha256Of("r"));
  StatusOr<Checkpoint> cp = ParseCheckpointBody("o.example/log\n5\n" + root + "\next one\next2\n");
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->extensions, (std::vector<std::string>{"ext one", "ext2"}));
  StatusOr<std::string> again = FormatCheckpointBody(*cp);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "o.example/log\n5\n" + root + "\next one\next2\n");
}

TEST(SignedNoteCheckpoint, LargestTreeSize) {
  const std::string root = Base64Encode(Sha256Of("r"));
  StatusOr<Checkpoint> cp = ParseCheckpointBody("o\n18446744073709551615\n" + root + "\n");
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->size, UINT64_MAX);
}

TEST(SignedNoteCheckpoint, MalformedBodies) {
  const std::string root = Base64Encode(Sha256Of("r"));
  const std::string root31 = Base64Encode(Bytes(31, 1));
  const std::string root33 = Base64Encode(Bytes(33, 1));
  // Non-canonical: 'B' (value 1) as the last character before '=' leaves a
  // non-zero padding bit.
  std::string noncanonical = root;
  noncanonical[noncanonical.size() - 2] = 'B';
  for (const std::string& bad : std::vector<std::string>{
           "",
           "o\n5\n" + root,          // no final newline
           "o\n5\n",                 // no root line
           "\n5\n" + root + "\n",    // empty origin
           "o\n05\n" + root + "\n",  // leading zero
           "o\n00\n" + root + "\n",
           "o\n+5\n" + root + "\n",
           "o\n-1\n" + root + "\n",
           "o\n 5\n" + root + "\n",
           "o\n\n" + root + "\n",
           "o\n0x5\n" + root + "\n",
           "o\n18446744073709551616\n" + root + "\n",  // 2^64
           "o\n5\n" + root31 + "\n",
           "o\n5\n" + root33 + "\n",
           "o\n5\n" + noncanonical + "\n",
           "o\n5\n" + root.substr(0, root.size() - 1) + "\n",
           "o\n5\n" + root + "\n\n",  // empty extension line
           "o\n5\n" + root + "\next\n\n",
           "o\t\n5\n" + root + "\n",  // control character
       }) {
    EXPECT_EQ(ParseCheckpointBody(bad).status().reason(), "checkpoint_malformed") << bad;
  }
}

TEST(SignedNoteCheckpoint, FormatRejectsUnparsableFields) {
  EXPECT_EQ(FormatCheckpointBody({"", 1, {}, {}}).status().reason(), "checkpoint_malformed");
  EXPECT_EQ(FormatCheckpointBody({"a\nb", 1, {}, {}}).status().reason(), "checkpoint_malformed");
  EXPECT_EQ(FormatCheckpointBody({"a", 1, {}, {""}}).status().reason(), "checkpoint_malformed");
  EXPECT_EQ(FormatCheckpointBody({"a", 1, {}, {"x\ny"}}).status().reason(), "checkpoint_malformed");
  EXPECT_EQ(FormatCheckpointBody({"a\x01", 1, {}, {}}).status().reason(), "checkpoint_malformed");
}

TEST(SignedNoteCheckpoint, OpenCheckpointRejectsNonCheckpointNote) {
  KeySigner signer = NewSigner("log.example/log");
  StatusOr<std::string> signed_note = note::Sign("just a note\n", {&signer});
  ASSERT_TRUE(signed_note.ok());
  EXPECT_EQ(OpenCheckpoint(*signed_note, {&signer.verifier()}).status().reason(),
            "checkpoint_malformed");
}

}  // namespace
}  // namespace custos::crypto
