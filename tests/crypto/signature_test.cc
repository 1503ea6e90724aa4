#include "crypto/signature.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "tests/testutil/testutil.h"

namespace custos::crypto {
namespace {

using custos::testing::ReadFileOrDie;
using custos::testing::TempDir;
using custos::testing::WriteFile;

Bytes FromHex(std::string_view hex) {
  std::optional<Bytes> b = HexDecode(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b.value_or(Bytes{});
}

std::string Str(const SecretBytes& s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

// Runs a shell command quietly; returns its exit status (-1 if it did not
// exit normally).
int RunQuietly(const std::string& command) {
  int rc = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool HaveOpensslCli() { return RunQuietly("openssl version") == 0; }

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// RFC 8032 §7.1, TEST 1, TEST 2 and TEST 3 (secret key = seed).
struct Ed25519Vector {
  const char* seed;
  const char* public_key;
  const char* message;
  const char* signature;
};
constexpr Ed25519Vector kRfc8032Vectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
     "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
     "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760"
     "984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

TEST(SignatureEd25519, Rfc8032Vectors) {
  for (const Ed25519Vector& v : kRfc8032Vectors) {
    SCOPED_TRACE(v.public_key);
    Bytes seed = FromHex(v.seed);
    StatusOr<KeyPair> key =
        KeyPair::FromRawPrivateKey(SignatureAlgorithm::kEd25519, seed.data(), seed.size());
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(HexEncode(key->public_key().raw()), v.public_key);
    Bytes message = FromHex(v.message);
    StatusOr<Bytes> sig = key->Sign(message.data(), message.size());
    ASSERT_TRUE(sig.ok()) << sig.status().ToString();
    EXPECT_EQ(HexEncode(*sig), v.signature);
    StatusOr<PublicKey> pub =
        PublicKey::FromRaw(SignatureAlgorithm::kEd25519, FromHex(v.public_key));
    ASSERT_TRUE(pub.ok());
    EXPECT_TRUE(pub->Verify(message.data(), message.size(), sig->data(), sig->size()).ok());
  }
}

TEST(SignatureEd25519, BitFlippedSignature) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(key.ok());
  StatusOr<Bytes> sig = key->Sign("message");
  ASSERT_TRUE(sig.ok());
  ASSERT_EQ(sig->size(), kEd25519SignatureSize);
  for (size_t bit : {0u, 100u, 511u}) {
    Bytes bad = *sig;
    bad[bit / 8] ^= uint8_t(1u << (bit % 8));
    Status st = key->Verify("message", bad);
    EXPECT_EQ(st.reason(), "signature_invalid") << bit;
    EXPECT_EQ(st.code(), ErrorCode::kDataLoss);
  }
  EXPECT_TRUE(key->Verify("message", *sig).ok());
}

TEST(SignatureEd25519, WrongMessage) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(key.ok());
  StatusOr<Bytes> sig = key->Sign("message");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(key->Verify("messagE", *sig).reason(), "signature_invalid");
}

TEST(SignatureEd25519, WrongKey) {
  StatusOr<KeyPair> a = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  StatusOr<KeyPair> b = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(a.ok() && b.ok());
  StatusOr<Bytes> sig = a->Sign("message");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(b->Verify("message", *sig).reason(), "signature_invalid");
}

TEST(SignatureEd25519, TruncatedAndEmptySignature) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(key.ok());
  StatusOr<Bytes> sig = key->Sign("m");
  ASSERT_TRUE(sig.ok());
  Bytes truncated(sig->begin(), sig->end() - 1);
  EXPECT_EQ(key->Verify("m", truncated).reason(), "signature_invalid");
  EXPECT_EQ(key->Verify("m", Bytes{}).reason(), "signature_invalid");
  Bytes longer = *sig;
  longer.push_back(0);
  EXPECT_EQ(key->Verify("m", longer).reason(), "signature_invalid");
}

TEST(SignatureEd25519, RawKeyLengths) {
  Bytes short_key(31, 1);
  EXPECT_EQ(PublicKey::FromRaw(SignatureAlgorithm::kEd25519, short_key).status().reason(),
            "key_malformed");
  EXPECT_EQ(
      KeyPair::FromRawPrivateKey(SignatureAlgorithm::kEd25519, short_key.data(), short_key.size())
          .status()
          .reason(),
      "key_malformed");
}

TEST(SignatureEd25519, RawPrivateKeyRoundTrip) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(key.ok());
  StatusOr<SecretBytes> seed = key->RawPrivateKey();
  ASSERT_TRUE(seed.ok());
  ASSERT_EQ(seed->size(), kEd25519SeedSize);
  StatusOr<KeyPair> again =
      KeyPair::FromRawPrivateKey(SignatureAlgorithm::kEd25519, seed->data(), seed->size());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key().raw(), key->public_key().raw());
}

// --------------------------------------------------------------------- SM2

TEST(SignatureSm2, SignVerifyRoundTrip) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kSm2Sm3);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->algorithm(), SignatureAlgorithm::kSm2Sm3);
  ASSERT_EQ(key->public_key().raw().size(), kSm2PublicKeySize);
  EXPECT_EQ(key->public_key().raw()[0], kSm2UncompressedPointTag);
  StatusOr<Bytes> s1 = key->Sign("message");
  StatusOr<Bytes> s2 = key->Sign("message");
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_LE(s1->size(), kSm2MaxSignatureSize);
  EXPECT_NE(*s1, *s2);  // SM2 signatures are randomized
  EXPECT_TRUE(key->Verify("message", *s1).ok());
  EXPECT_TRUE(key->Verify("message", *s2).ok());
  EXPECT_EQ(key->Verify("messagE", *s1).reason(), "signature_invalid");
  Bytes flipped = *s1;
  flipped[flipped.size() - 1] ^= 1;
  EXPECT_EQ(key->Verify("message", flipped).reason(), "signature_invalid");
}

TEST(SignatureSm2, EmptyMessage) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kSm2Sm3);
  ASSERT_TRUE(key.ok());
  StatusOr<Bytes> sig = key->Sign("");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(key->Verify("", *sig).ok());
}

TEST(SignatureSm2, Ed25519SignatureOnSm2Key) {
  StatusOr<KeyPair> sm2 = KeyPair::Generate(SignatureAlgorithm::kSm2Sm3);
  StatusOr<KeyPair> ed = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(sm2.ok() && ed.ok());
  StatusOr<Bytes> sig = ed->Sign("m");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sm2->Verify("m", *sig).reason(), "signature_invalid");
}

TEST(SignatureSm2, RawScalarRoundTrip) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kSm2Sm3);
  ASSERT_TRUE(key.ok());
  StatusOr<SecretBytes> d = key->RawPrivateKey();
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), kSm2PrivateKeySize);
  StatusOr<KeyPair> again =
      KeyPair::FromRawPrivateKey(SignatureAlgorithm::kSm2Sm3, d->data(), d->size());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->public_key().raw(), key->public_key().raw());
  StatusOr<Bytes> sig = again->Sign("m");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(key->Verify("m", *sig).ok());
}

TEST(SignatureSm2, ScalarOutOfRange) {
  // GB/T 32918.5 curve order n.
  const std::string n = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123";
  const std::string n_minus_1 = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122";
  const std::string n_minus_2 = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54121";
  for (const std::string& bad : {std::string(64, '0'), n, n_minus_1, std::string(64, 'f')}) {
    Bytes d = FromHex(bad);
    EXPECT_EQ(KeyPair::FromRawPrivateKey(SignatureAlgorithm::kSm2Sm3, d.data(), d.size())
                  .status()
                  .reason(),
              "key_malformed")
        << bad;
  }
  Bytes d = FromHex(n_minus_2);
  EXPECT_TRUE(KeyPair::FromRawPrivateKey(SignatureAlgorithm::kSm2Sm3, d.data(), d.size()).ok());
  Bytes one(32, 0);
  one[31] = 1;
  StatusOr<KeyPair> k1 = KeyPair::FromRawPrivateKey(SignatureAlgorithm::kSm2Sm3, one.data(), 32);
  ASSERT_TRUE(k1.ok());
  // d = 1: the public key is the generator G (GB/T 32918.5).
  EXPECT_EQ(HexEncode(k1->public_key().raw()),
            "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
            "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");
}

TEST(SignatureSm2, PointNotOnCurve) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kSm2Sm3);
  ASSERT_TRUE(key.ok());
  Bytes point = key->public_key().raw();
  EXPECT_TRUE(PublicKey::FromRaw(SignatureAlgorithm::kSm2Sm3, point).ok());
  Bytes off = point;
  off[40] ^= 1;
  EXPECT_EQ(PublicKey::FromRaw(SignatureAlgorithm::kSm2Sm3, off).status().reason(),
            "key_malformed");
  Bytes compressed_tag = point;
  compressed_tag[0] = 0x02;
  EXPECT_EQ(PublicKey::FromRaw(SignatureAlgorithm::kSm2Sm3, compressed_tag).status().reason(),
            "key_malformed");
  Bytes truncated(point.begin(), point.end() - 1);
  EXPECT_EQ(PublicKey::FromRaw(SignatureAlgorithm::kSm2Sm3, truncated).status().reason(),
            "key_malformed");
}

// Interoperability with the OpenSSL command line, which takes the SM2
// distinguishing id explicitly with -sigopt distid:...
class SignatureSm2Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveOpensslCli()) GTEST_SKIP() << "openssl command line tool not installed";
  }
  std::string Path(const std::string& name) const { return dir_.Sub(name); }
  TempDir dir_;
};

TEST_F(SignatureSm2Cli, OpensslVerifiesOurSignature) {
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kSm2Sm3);
  ASSERT_TRUE(key.ok());
  StatusOr<std::string> pub = key->public_key().ToPem();
  ASSERT_TRUE(pub.ok());
  StatusOr<Bytes> sig = key->Sign("archive checkpoint\n");
  ASSERT_TRUE(sig.ok());
  WriteFile(Path("pub.pem"), *pub);
  WriteFile(Path("msg"), "archive checkpoint\n");
  WriteFile(Path("sig"), ToString(*sig));
  const std::string verify =
      "openssl dgst -sm3 -verify " + Path("pub.pem") + " -signature " + Path("sig") + " ";
  EXPECT_EQ(RunQuietly(verify + "-sigopt distid:1234567812345678 " + Path("msg")), 0);
  EXPECT_NE(RunQuietly(verify + "-sigopt distid:1234567812345679 " + Path("msg")), 0);
  WriteFile(Path("msg"), "archive checkpoinT\n");
  EXPECT_NE(RunQuietly(verify + "-sigopt distid:1234567812345678 " + Path("msg")), 0);
}

TEST_F(SignatureSm2Cli, WeVerifyOpensslSignatureAndLoadItsKey) {
  ASSERT_EQ(RunQuietly("openssl genpkey -algorithm SM2 -out " + Path("key.pem")), 0);
  ASSERT_EQ(::chmod(Path("key.pem").c_str(), 0600), 0);
  WriteFile(Path("msg"), "hello sm2");
  ASSERT_EQ(RunQuietly("openssl dgst -sm3 -sign " + Path("key.pem") +
                       " -sigopt distid:1234567812345678 -out " + Path("sig") + " " + Path("msg")),
            0);
  StatusOr<KeyPair> key = KeyPair::LoadPrivateKeyFile(Path("key.pem"));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->algorithm(), SignatureAlgorithm::kSm2Sm3);
  Bytes sig = ToBytes(ReadFileOrDie(Path("sig")));
  EXPECT_TRUE(key->Verify("hello sm2", sig).ok());
  EXPECT_EQ(key->Verify("hello sm3", sig).reason(), "signature_invalid");
}

TEST_F(SignatureSm2Cli, WrongDistinguishingId) {
  ASSERT_EQ(RunQuietly("openssl genpkey -algorithm SM2 -out " + Path("key.pem")), 0);
  ASSERT_EQ(::chmod(Path("key.pem").c_str(), 0600), 0);
  WriteFile(Path("msg"), "hello sm2");
  ASSERT_EQ(RunQuietly("openssl dgst -sm3 -sign " + Path("key.pem") +
                       " -sigopt distid:8765432187654321 -out " + Path("sig") + " " + Path("msg")),
            0);
  ASSERT_EQ(RunQuietly("openssl dgst -sm3 -sign " + Path("key.pem") + " -out " + Path("sig-noid") +
                       " " + Path("msg")),
            0);
  StatusOr<KeyPair> key = KeyPair::LoadPrivateKeyFile(Path("key.pem"));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->Verify("hello sm2", ToBytes(ReadFileOrDie(Path("sig")))).reason(),
            "signature_invalid");
  EXPECT_EQ(key->Verify("hello sm2", ToBytes(ReadFileOrDie(Path("sig-noid")))).reason(),
            "signature_invalid");
}

TEST_F(SignatureSm2Cli, OtherAlgorithmsUnsupported) {
  ASSERT_EQ(RunQuietly("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                       Path("p256.pem")),
            0);
  EXPECT_EQ(KeyPair::FromPem(ReadFileOrDie(Path("p256.pem"))).status().reason(), "key_unsupported");
  ASSERT_EQ(
      RunQuietly("openssl pkey -in " + Path("p256.pem") + " -pubout -out " + Path("p256.pub")), 0);
  EXPECT_EQ(PublicKey::FromPem(ReadFileOrDie(Path("p256.pub"))).status().reason(),
            "key_unsupported");
}

TEST_F(SignatureSm2Cli, EncryptedPemRefusedWithoutPrompt) {
  ASSERT_EQ(RunQuietly("openssl genpkey -algorithm ED25519 -aes-256-cbc -pass pass:secret -out " +
                       Path("enc.pem") + " </dev/null"),
            0);
  EXPECT_EQ(KeyPair::FromPem(ReadFileOrDie(Path("enc.pem"))).status().reason(), "key_malformed");
}

// -------------------------------------------------------------------- PEM

class SignaturePem : public ::testing::TestWithParam<SignatureAlgorithm> {
 protected:
  TempDir dir_;
};

TEST_P(SignaturePem, SaveLoadRoundTripIsMode0600) {
  StatusOr<KeyPair> key = KeyPair::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  const std::string path = dir_.Sub("signing.pem");
  mode_t old_umask = ::umask(0);  // the file mode must not depend on the umask
  Status saved = key->SavePrivateKeyFile(path);
  ::umask(old_umask);
  ASSERT_TRUE(saved.ok()) << saved.ToString();
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_NE(ReadFileOrDie(path).find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  StatusOr<KeyPair> loaded = KeyPair::LoadPrivateKeyFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->algorithm(), GetParam());
  EXPECT_EQ(loaded->public_key().raw(), key->public_key().raw());
  StatusOr<Bytes> sig = loaded->Sign("m");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(key->Verify("m", *sig).ok());
}

TEST_P(SignaturePem, SaveRefusesExistingFile) {
  StatusOr<KeyPair> key = KeyPair::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  const std::string path = dir_.Sub("taken.pem");
  WriteFile(path, "keep me");
  Status st = key->SavePrivateKeyFile(path);
  EXPECT_EQ(st.reason(), "key_file_exists");
  EXPECT_EQ(ReadFileOrDie(path), "keep me");
}

TEST_P(SignaturePem, SaveRefusesSymlink) {
  StatusOr<KeyPair> key = KeyPair::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  const std::string link = dir_.Sub("link.pem");
  ASSERT_EQ(::symlink(dir_.Sub("target.pem").c_str(), link.c_str()), 0);
  EXPECT_EQ(key->SavePrivateKeyFile(link).reason(), "key_file_exists");
  struct stat st {};
  EXPECT_NE(::stat(dir_.Sub("target.pem").c_str(), &st), 0);  // nothing written through it
}

TEST_P(SignaturePem, LoadRefusesGroupOrOtherPermissions) {
  StatusOr<KeyPair> key = KeyPair::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  const std::string path = dir_.Sub("k.pem");
  ASSERT_TRUE(key->SavePrivateKeyFile(path).ok());
  for (mode_t mode : {0640, 0604, 0620, 0644, 0601}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    StatusOr<KeyPair> loaded = KeyPair::LoadPrivateKeyFile(path);
    EXPECT_EQ(loaded.status().reason(), "key_file_insecure") << std::oct << mode;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(KeyPair::LoadPrivateKeyFile(path).ok());
}

TEST_P(SignaturePem, PublicKeyPemRoundTrip) {
  StatusOr<KeyPair> key = KeyPair::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  StatusOr<std::string> pem = key->public_key().ToPem();
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  StatusOr<PublicKey> pub = PublicKey::FromPem(*pem);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->algorithm(), GetParam());
  EXPECT_EQ(pub->raw(), key->public_key().raw());
  StatusOr<Bytes> sig = key->Sign("m");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(pub->Verify("m", *sig).ok());
}

TEST_P(SignaturePem, PrivateKeyPemRoundTrip) {
  StatusOr<KeyPair> key = KeyPair::Generate(GetParam());
  ASSERT_TRUE(key.ok());
  StatusOr<SecretBytes> pem = key->PrivateKeyPem();
  ASSERT_TRUE(pem.ok());
  StatusOr<KeyPair> again = KeyPair::FromPem(Str(*pem));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key().raw(), key->public_key().raw());
}

INSTANTIATE_TEST_SUITE_P(Signature, SignaturePem,
                         ::testing::Values(SignatureAlgorithm::kEd25519,
                                           SignatureAlgorithm::kSm2Sm3),
                         [](const auto& info) {
                           return info.param == SignatureAlgorithm::kEd25519 ? "Ed25519" : "Sm2";
                         });

TEST(SignatureFiles, LoadMissingFile) {
  TempDir dir;
  EXPECT_EQ(KeyPair::LoadPrivateKeyFile(dir.Sub("absent.pem")).status().reason(),
            "key_file_not_found");
}

TEST(SignatureFiles, LoadDirectoryIsInsecure) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  EXPECT_EQ(KeyPair::LoadPrivateKeyFile(dir.path()).status().reason(), "key_file_insecure");
}

TEST(SignatureFiles, GarbagePem) {
  EXPECT_EQ(KeyPair::FromPem("not a key").status().reason(), "key_malformed");
  EXPECT_EQ(PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .status()
                .reason(),
            "key_malformed");
  TempDir dir;
  WriteFile(dir.Sub("junk.pem"), "junk");
  EXPECT_EQ(KeyPair::LoadPrivateKeyFile(dir.Sub("junk.pem")).status().reason(), "key_malformed");
}

TEST(SignatureFiles, AlgorithmNames) {
  EXPECT_EQ(SignatureAlgorithmName(SignatureAlgorithm::kEd25519), "ed25519");
  EXPECT_EQ(SignatureAlgorithmName(SignatureAlgorithm::kSm2Sm3), "sm2-sm3");
}

}  // namespace
}  // namespace custos::crypto
