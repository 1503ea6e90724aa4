// Tests of detached CMS signature verification (crypto/cms.h).
//
// Certificates (made on first use) and signatures are created at run time
// with the `openssl` command in a scratch directory: a trusted root, a signer
// it issued, an intermediate CA with its own signer, an unrelated root with a
// signer, a signer whose validity ended in 2020, a signer whose key usage
// forbids signing, a signer with a UTF-8 name, and SM2 roots and signers.
// Each test signs the contract with `openssl cms -sign` (SM2: through the
// OpenSSL API, see SignSm2) and provokes one fault.
#include "crypto/cms.h"

#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/testutil.h"

namespace custos::crypto {
namespace {

using Clock = std::chrono::system_clock;
using custos::testing::TempDir;
using custos::testing::WriteFile;
using std::chrono::hours;
using std::chrono::minutes;

constexpr hours kTenYears{24 * 3650};
constexpr hours kTwoDays{48};

// Certificate profiles for `openssl req` / `openssl x509 -req`, and a minimal
// `openssl ca` database for issuing a certificate with chosen past dates.
constexpr char kOpensslConfig[] = R"(
[req]
distinguished_name = dn
[dn]
[ca_profile]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[signer_profile]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[encipher_only_profile]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment
[ca]
default_ca = backdating_ca
[backdating_ca]
dir = ./ca_db
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = any_policy
unique_subject = no
[any_policy]
commonName = supplied
)";

constexpr char kEcKey[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
constexpr char kSm2Key[] = "-newkey sm2";
// How SM2 certificates are signed: SM3 with the GM/T 0009-2012 default
// distinguishing identifier.
constexpr char kSm2CertSigning[] = "-sm3 -sigopt distid:1234567812345678";
// The same identifier for SM2 CMS signatures.
constexpr std::string_view kSm2Id = "1234567812345678";
constexpr int kValidDays = 30;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A deterministic stand-in for a signed PDF, larger than one read chunk.
std::string MakeContract() {
  std::string text = "%PDF-1.7\n% Sales contract 2024-117\n";
  for (int i = 0; text.size() < 300'000; ++i) {
    text += "line " + std::to_string(i) + ": the buyer pays within 30 days\n";
  }
  return text;
}

template <auto kFree>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

// Signs `content` as `signer` (<signer>.pem/.key in `dir`) the way GM/T 0010
// SM2 signatures are made: detached, SM3, signed attributes, identifier
// 1234567812345678. `openssl cms -sign` in OpenSSL 3.0 cannot (it leaves the
// SM2 SignerInfo's signatureAlgorithm empty and fails to encode), so the
// signature is built through the API and that field filled in. "" on failure.
std::string SignSm2(const TempDir& dir, const std::string& signer, const std::string& content) {
  std::unique_ptr<BIO, OpenSslFree<BIO_free>> cert_file(
      BIO_new_file(dir.Sub(signer + ".pem").c_str(), "r"));
  std::unique_ptr<BIO, OpenSslFree<BIO_free>> key_file(
      BIO_new_file(dir.Sub(signer + ".key").c_str(), "r"));
  if (cert_file == nullptr || key_file == nullptr) return {};
  std::unique_ptr<X509, OpenSslFree<X509_free>> cert(
      PEM_read_bio_X509(cert_file.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>> key(
      PEM_read_bio_PrivateKey(key_file.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<BIO, OpenSslFree<BIO_free>> data(
      BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  std::unique_ptr<CMS_ContentInfo, OpenSslFree<CMS_ContentInfo_free>> cms(
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY));
  if (cert == nullptr || key == nullptr || data == nullptr || cms == nullptr) return {};
  CMS_SignerInfo* si =
      CMS_add1_signer(cms.get(), cert.get(), key.get(), EVP_sm3(), CMS_KEY_PARAM | CMS_BINARY);
  if (si == nullptr ||
      EVP_PKEY_CTX_set1_id(CMS_SignerInfo_get0_pkey_ctx(si), kSm2Id.data(),
                           static_cast<int>(kSm2Id.size())) != 1 ||
      CMS_final(cms.get(), data.get(), nullptr, CMS_BINARY) != 1) {
    return {};
  }
  X509_ALGOR* signature_algorithm = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, nullptr, &signature_algorithm);
  X509_ALGOR_set0(signature_algorithm, OBJ_nid2obj(NID_SM2_with_SM3), V_ASN1_UNDEF, nullptr);
  unsigned char* der = nullptr;
  int n = i2d_CMS_ContentInfo(cms.get(), &der);
  if (n <= 0) return {};
  std::string signature(reinterpret_cast<const char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return signature;
}

// One certificate of the test PKI, made as <name>.pem and <name>.key.
struct CertSpec {
  std::string_view name;
  std::string_view subject;
  std::string_view issuer;  // empty for a self-signed root
  std::string_view profile;
  std::string_view key;
  std::string_view signing;
  bool backdated = false;  // issued with `openssl ca`, valid only in January 2020
};

constexpr CertSpec kCertSpecs[] = {
    {"root", "/CN=Custos Test Root", "", "ca_profile", kEcKey, "-sha256"},
    {"alice", "/O=Example Archive/CN=Alice Signer", "root", "signer_profile", kEcKey, "-sha256"},
    {"inter", "/CN=Custos Test Intermediate", "root", "ca_profile", kEcKey, "-sha256"},
    {"bob", "/CN=Bob Signer", "inter", "signer_profile", kEcKey, "-sha256"},
    {"other_root", "/CN=Unrelated Root", "", "ca_profile", kEcKey, "-sha256"},
    {"mallory", "/CN=Mallory Signer", "other_root", "signer_profile", kEcKey, "-sha256"},
    {"encipher", "/CN=Encipher Only", "root", "encipher_only_profile", kEcKey, "-sha256"},
    {"zhang", "/O=档案馆/CN=张三", "root", "signer_profile", kEcKey, "-sha256"},
    {"old", "/CN=Old Signer", "root", "signer_profile", kEcKey, "-sha256", true},
    {"sm2_root", "/CN=SM2 Test Root", "", "ca_profile", kSm2Key, kSm2CertSigning},
    {"sm2_signer", "/CN=SM2 Signer", "sm2_root", "signer_profile", kSm2Key, kSm2CertSigning},
    {"sm2_plain_root", "/CN=SM2 Root Without Standard Id", "", "ca_profile", kSm2Key, "-sm3"},
    {"sm2_plain_signer", "/CN=SM2 Plain Signer", "sm2_plain_root", "signer_profile", kSm2Key,
     "-sm3"},
};

// The scratch PKI, shared by the tests of one program. Certificates are made
// on first use (ctest runs every test in its own process, so building them
// all up front would repeat dozens of openssl runs per test); signatures are
// made per test.
class TestPki {
 public:
  TestPki() : contract_(MakeContract()) {
    WriteFile(Path("openssl.cnf"), kOpensslConfig);
    WriteFile(Path("contract.pdf"), contract_);
    std::filesystem::create_directories(Path("ca_db"));
    WriteFile(Path("ca_db/index.txt"), "");
    WriteFile(Path("ca_db/serial"), "1000\n");
  }

  const std::string& output() const { return output_; }
  const std::string& contract() const { return contract_; }
  std::string Path(const std::string& name) const { return dir_.Sub(name); }
  const TempDir& dir() const { return dir_; }

  // Makes certificate `name` of kCertSpecs (and its issuers) unless made
  // already. False on failure, with the reason in output().
  bool Need(std::string_view name) {
    if (made_.count(std::string(name)) != 0) return true;
    const CertSpec* spec = nullptr;
    for (const CertSpec& s : kCertSpecs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      output_ = "no certificate spec named " + std::string(name);
      return false;
    }
    bool ok = spec->issuer.empty() ? MakeRoot(*spec)
                                   : Need(spec->issuer) && MakeRequest(*spec) &&
                                         (spec->backdated ? IssueBackdated(*spec) : Issue(*spec));
    if (ok) made_.insert(std::string(name));
    return ok;
  }

  // The PEM text of certificate `name` (made if needed); "" on failure.
  std::string Pem(std::string_view name) {
    return Need(name) ? ReadFile(Path(std::string(name) + ".pem")) : std::string();
  }

  // A store trusting only "root"; null on failure.
  const TrustStore* RootTrust() {
    if (root_trust_ == nullptr && Need("root")) {
      StatusOr<TrustStore> trust = TrustStore::FromPem(Pem("root"));
      if (trust.ok()) root_trust_ = std::make_unique<TrustStore>(*trust);
      if (!trust.ok()) output_ = trust.status().ToString();
    }
    return root_trust_.get();
  }

  // Runs `openssl <args>` in the PKI directory. On failure returns false and
  // keeps the command and its output in output().
  bool Openssl(const std::string& args) {
    std::string command = "cd '" + dir_.path() + "' && openssl " + args + " >openssl.out 2>&1";
    if (std::system(command.c_str()) == 0) return true;
    output_ = "openssl " + args + "\n" + ReadFile(Path("openssl.out"));
    return false;
  }

  // Signs contract.pdf as `signer` (made if needed) with extra `openssl cms`
  // options; returns the signature, "" on failure.
  std::string Sign(const std::string& signer, const std::string& options = "") {
    if (!Need(signer)) return {};
    std::string out = "sig" + std::to_string(++signatures_) + ".p7s";
    bool ok = Openssl("cms -sign -binary -outform DER -in contract.pdf -signer " + signer +
                      ".pem -inkey " + signer + ".key " + options + " -out " + out);
    return ok ? ReadFile(Path(out)) : std::string();
  }

 private:
  static std::string Str(std::string_view s) { return std::string(s); }

  bool MakeRoot(const CertSpec& spec) {
    return Openssl("req -x509 -config openssl.cnf -extensions " + Str(spec.profile) + " " +
                   Str(spec.key) + " " + Str(spec.signing) + " -nodes -keyout " + Str(spec.name) +
                   ".key -subj '" + Str(spec.subject) + "' -days " + std::to_string(kValidDays) +
                   " -out " + Str(spec.name) + ".pem");
  }

  bool MakeRequest(const CertSpec& spec) {
    return Openssl("req -new -utf8 -config openssl.cnf " + Str(spec.key) + " -nodes -keyout " +
                   Str(spec.name) + ".key -subj '" + Str(spec.subject) + "' -out " +
                   Str(spec.name) + ".csr");
  }

  bool Issue(const CertSpec& spec) {
    return Openssl("x509 -req " + Str(spec.signing) + " -in " + Str(spec.name) + ".csr -CA " +
                   Str(spec.issuer) + ".pem -CAkey " + Str(spec.issuer) + ".key -set_serial " +
                   std::to_string(++serial_) + " -days " + std::to_string(kValidDays) +
                   " -extfile openssl.cnf -extensions " + Str(spec.profile) + " -out " +
                   Str(spec.name) + ".pem");
  }

  // `openssl x509` in OpenSSL 3.0 cannot choose validity dates; `openssl ca` can.
  bool IssueBackdated(const CertSpec& spec) {
    return Openssl("ca -batch -config openssl.cnf -cert " + Str(spec.issuer) + ".pem -keyfile " +
                   Str(spec.issuer) + ".key -in " + Str(spec.name) + ".csr -out " + Str(spec.name) +
                   ".pem -notext -startdate 20200101000000Z -enddate 20200201000000Z "
                   "-extfile openssl.cnf -extensions " +
                   Str(spec.profile));
  }

  TempDir dir_;
  std::string contract_;
  std::string output_;
  std::set<std::string> made_;
  std::unique_ptr<TrustStore> root_trust_;
  int serial_ = 1;
  int signatures_ = 0;
};

TestPki& Pki() {
  static TestPki pki;  // made on first use, removed when the program exits
  return pki;
}

// A ByteSource that hands out at most `chunk` bytes per Read and counts calls.
class ChunkedSource final : public ByteSource {
 public:
  ChunkedSource(std::string_view data, size_t chunk) : data_(data), chunk_(chunk) {}
  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    ++reads_;
    size_t take = std::min({n, chunk_, data_.size() - pos_});
    std::copy_n(data_.data() + pos_, take, p);
    pos_ += take;
    return take;
  }
  int reads() const { return reads_; }

 private:
  std::string_view data_;
  size_t chunk_;
  size_t pos_ = 0;
  int reads_ = 0;
};

// A ByteSource that fails after handing out some bytes.
class FailingSource final : public ByteSource {
 public:
  explicit FailingSource(std::string_view data) : data_(data) {}
  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    if (served_) return Status(ErrorCode::kUnavailable, "disk went away", "disk_gone");
    served_ = true;
    size_t take = std::min(n, data_.size());
    std::copy_n(data_.data(), take, p);
    return take;
  }

 private:
  std::string_view data_;
  bool served_ = false;
};

class CmsVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Pki().RootTrust(), nullptr) << "building the test PKI failed:\n" << Pki().output();
  }

  // The store trusting only "root".
  static const TrustStore& Trust() { return *Pki().RootTrust(); }

  // Signs the contract; fails the test if openssl fails.
  static std::string Sign(const std::string& signer, const std::string& options = "") {
    std::string signature = Pki().Sign(signer, options);
    EXPECT_FALSE(signature.empty()) << Pki().output();
    return signature;
  }

  // Verifies `signature` over `content` (default: the contract) against the
  // root-only trust store; fails the test if the call itself fails.
  static SignatureCheck Verify(const std::string& signature,
                               std::optional<Clock::time_point> now = std::nullopt,
                               const std::string* content = nullptr) {
    // `now` defaults to the time of this call, after the signature (and a
    // certificate made for it on first use) exist.
    StatusOr<SignatureCheck> check =
        VerifyDetachedBuffer(Trust(), content != nullptr ? *content : Pki().contract(), signature,
                             now.value_or(Clock::now()));
    EXPECT_TRUE(check.ok()) << check.status().ToString();
    return check.ok() ? *check : SignatureCheck{};
  }

  static void ExpectInvalid(const SignatureCheck& check, std::string_view reason) {
    EXPECT_EQ(check.status, SignatureStatus::kInvalid);
    EXPECT_EQ(check.reason, reason) << "detail: " << check.detail;
    EXPECT_FALSE(check.detail.empty());
  }
};

TEST_F(CmsVerifyTest, ValidSignature) {
  SignatureCheck check = Verify(Sign("alice"));
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.reason << ": " << check.detail;
  EXPECT_EQ(check.reason, "");
  EXPECT_EQ(check.detail, "");
  EXPECT_EQ(check.signer_subject, "CN=Alice Signer,O=Example Archive");
  EXPECT_EQ(check.digest_algorithm, "sha256");
  ASSERT_TRUE(check.signing_time.has_value());
  EXPECT_LT(std::chrono::abs(*check.signing_time - Clock::now()), minutes(5));
  EXPECT_EQ(SignatureStatusName(check.status), "valid");
}

TEST_F(CmsVerifyTest, ValidFromFile) {
  const std::string signature = Sign("alice");
  StatusOr<SignatureCheck> check =
      VerifyDetachedFile(Trust(), Pki().Path("contract.pdf"), signature, Clock::now());
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->status, SignatureStatus::kValid) << check->detail;
}

TEST_F(CmsVerifyTest, ContentReadInSmallChunks) {
  ChunkedSource source(Pki().contract(), 7);
  const std::string signature = Sign("alice");
  StatusOr<SignatureCheck> check = VerifyDetached(Trust(), source, signature, Clock::now());
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->status, SignatureStatus::kValid) << check->detail;
  EXPECT_GT(source.reads(), static_cast<int>(Pki().contract().size() / 7));
}

TEST_F(CmsVerifyTest, Sha512Digest) {
  SignatureCheck check = Verify(Sign("alice", "-md sha512"));
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.detail;
  EXPECT_EQ(check.digest_algorithm, "sha512");
}

TEST_F(CmsVerifyTest, PemSignatureAccepted) {
  std::string pem = Pki().Sign("alice", "-outform PEM");
  ASSERT_EQ(pem.rfind("-----BEGIN CMS-----", 0), 0u) << pem.substr(0, 40);
  EXPECT_EQ(Verify(pem).status, SignatureStatus::kValid);
}

TEST_F(CmsVerifyTest, PemWithPkcs7LabelAccepted) {
  std::string pem = Pki().Sign("alice", "-outform PEM");
  for (std::string_view from : {"BEGIN CMS", "END CMS"}) {
    size_t at = pem.find(from);
    ASSERT_NE(at, std::string::npos);
    pem.replace(at, from.size(), from.starts_with("BEGIN") ? "BEGIN PKCS7" : "END PKCS7");
  }
  EXPECT_EQ(Verify(pem).status, SignatureStatus::kValid);
}

TEST_F(CmsVerifyTest, TamperedContent) {
  std::string tampered = Pki().contract();
  tampered[tampered.size() / 2] ^= 0x01;
  SignatureCheck check = Verify(Sign("alice"), std::nullopt, &tampered);
  ExpectInvalid(check, kReasonContentMismatch);
  // The facts are still reported for an invalid signature.
  EXPECT_EQ(check.signer_subject, "CN=Alice Signer,O=Example Archive");
  EXPECT_TRUE(check.signing_time.has_value());
  EXPECT_EQ(check.digest_algorithm, "sha256");
  EXPECT_EQ(SignatureStatusName(check.status), "invalid");
}

TEST_F(CmsVerifyTest, TruncatedContent) {
  std::string truncated = Pki().contract().substr(0, Pki().contract().size() - 1);
  ExpectInvalid(Verify(Sign("alice"), std::nullopt, &truncated), kReasonContentMismatch);
}

TEST_F(CmsVerifyTest, CorruptedSignatureValue) {
  // Without unsigned attributes the SignerInfo ends with its signatureValue,
  // so the last byte of the DER is the last byte of the ECDSA signature.
  std::string signature = Sign("alice");
  signature.back() ^= 0x01;
  SignatureCheck check = Verify(signature);
  ExpectInvalid(check, kReasonBadSignature);
  EXPECT_EQ(check.signer_subject, "CN=Alice Signer,O=Example Archive");
}

TEST_F(CmsVerifyTest, BadSignatureWinsOverContentMismatch) {
  std::string signature = Sign("alice");
  signature.back() ^= 0x01;
  std::string tampered = Pki().contract() + "x";
  ExpectInvalid(Verify(signature, std::nullopt, &tampered), kReasonBadSignature);
}

TEST_F(CmsVerifyTest, NoSignedAttributesTamperedContent) {
  // Without signed attributes the signature covers the content digest
  // directly, so a changed document shows as a signature that fails.
  std::string tampered = Pki().contract() + "x";
  SignatureCheck check = Verify(Sign("alice", "-noattr"), std::nullopt, &tampered);
  ExpectInvalid(check, kReasonBadSignature);
  EXPECT_FALSE(check.signing_time.has_value());
}

TEST_F(CmsVerifyTest, NoSignedAttributesValid) {
  SignatureCheck check = Verify(Sign("alice", "-noattr"));
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.detail;
  EXPECT_FALSE(check.signing_time.has_value());
}

TEST_F(CmsVerifyTest, UntrustedCa) {
  SignatureCheck check = Verify(Sign("mallory"));
  ExpectInvalid(check, kReasonUntrustedChain);
  EXPECT_EQ(check.signer_subject, "CN=Mallory Signer");
}

TEST_F(CmsVerifyTest, EmptyTrustStore) {
  StatusOr<TrustStore> empty = TrustStore::FromPem("");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->size(), 0u);
  const std::string signature = Sign("alice");
  StatusOr<SignatureCheck> check =
      VerifyDetachedBuffer(*empty, Pki().contract(), signature, Clock::now());
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  ExpectInvalid(*check, kReasonUntrustedChain);
}

TEST_F(CmsVerifyTest, IntermediateCarriedInSignature) {
  SignatureCheck check = Verify(Sign("bob", "-certfile inter.pem"));
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.reason << ": " << check.detail;
  EXPECT_EQ(check.signer_subject, "CN=Bob Signer");
}

TEST_F(CmsVerifyTest, MissingIntermediate) {
  ExpectInvalid(Verify(Sign("bob")), kReasonUntrustedChain);
}

TEST_F(CmsVerifyTest, IntermediateInTrustStoreIsNotAnAnchor) {
  // Partial chains are off: trusting only the intermediate is not enough.
  StatusOr<TrustStore> only_inter = TrustStore::FromPem(Pki().Pem("inter"));
  ASSERT_TRUE(only_inter.ok()) << only_inter.status().ToString();
  const std::string signature = Sign("bob", "-certfile inter.pem");
  StatusOr<SignatureCheck> check =
      VerifyDetachedBuffer(*only_inter, Pki().contract(), signature, Clock::now());
  ASSERT_TRUE(check.ok());
  ExpectInvalid(*check, kReasonUntrustedChain);
}

TEST_F(CmsVerifyTest, KeyUsageForbidsSigning) {
  std::string signature = Pki().Sign("encipher");
  if (signature.empty()) GTEST_SKIP() << "openssl refused to sign: " << Pki().output();
  ExpectInvalid(Verify(signature), kReasonUntrustedChain);
}

TEST_F(CmsVerifyTest, ExpiredAtSigningTime) {
  // "old" was valid only in January 2020; the signature claims today.
  SignatureCheck check = Verify(Sign("old"));
  ExpectInvalid(check, kReasonCertificateExpired);
  EXPECT_EQ(check.signer_subject, "CN=Old Signer");
  EXPECT_TRUE(check.signing_time.has_value());
}

TEST_F(CmsVerifyTest, ExpiredAtNowWithoutSigningTime) {
  SignatureCheck check = Verify(Sign("alice", "-noattr"), Clock::now() + kTenYears);
  ExpectInvalid(check, kReasonCertificateExpired);
}

TEST_F(CmsVerifyTest, ExpiredLaterButValidAtSigningTime) {
  // Certificates are judged at the signing time: a signature made while the
  // certificate was valid stays valid after it expires.
  SignatureCheck check = Verify(Sign("alice"), Clock::now() + kTenYears);
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.reason << ": " << check.detail;
}

TEST_F(CmsVerifyTest, SigningTimeAfterNowJudgedAtNow) {
  // A signing time later than `now` is not believed; two days ago the
  // certificates did not exist yet.
  ExpectInvalid(Verify(Sign("alice"), Clock::now() - kTwoDays), kReasonCertificateExpired);
}

TEST_F(CmsVerifyTest, GarbageSignature) {
  SignatureCheck check = Verify("this is not a signature");
  ExpectInvalid(check, kReasonMalformed);
  EXPECT_EQ(check.signer_subject, "");
  EXPECT_EQ(check.digest_algorithm, "");
}

TEST_F(CmsVerifyTest, EmptySignature) { ExpectInvalid(Verify(""), kReasonMalformed); }

TEST_F(CmsVerifyTest, GarbagePem) {
  ExpectInvalid(Verify("-----BEGIN CMS-----\nnot base64 !!\n-----END CMS-----\n"),
                kReasonMalformed);
}

TEST_F(CmsVerifyTest, PemWithCertificateLabel) {
  ExpectInvalid(Verify(Pki().Pem("alice")), kReasonMalformed);
}

TEST_F(CmsVerifyTest, TruncatedDer) {
  std::string signature = Sign("alice");
  ExpectInvalid(Verify(signature.substr(0, signature.size() / 2)), kReasonMalformed);
}

TEST_F(CmsVerifyTest, TrailingBytesAfterDer) {
  ExpectInvalid(Verify(Sign("alice") + std::string(1, '\0')), kReasonMalformed);
}

TEST_F(CmsVerifyTest, AttachedSignatureRejected) {
  ExpectInvalid(Verify(Sign("alice", "-nodetach")), kReasonMalformed);
}

TEST_F(CmsVerifyTest, NotSignedData) {
  ASSERT_TRUE(
      Pki().Openssl("cms -digest_create -binary -in contract.pdf -outform DER -out digested.p7"))
      << Pki().output();
  ExpectInvalid(Verify(custos::testing::ReadFileOrDie(Pki().Path("digested.p7"))),
                kReasonMalformed);
}

TEST_F(CmsVerifyTest, SignerCertificateAbsent) {
  SignatureCheck check = Verify(Sign("alice", "-nocerts"));
  ExpectInvalid(check, kReasonNoSigner);
  EXPECT_EQ(check.signer_subject, "");
  EXPECT_EQ(check.digest_algorithm, "sha256");
  EXPECT_TRUE(check.signing_time.has_value());
}

TEST_F(CmsVerifyTest, CertificatesOnlyHasNoSigner) {
  ASSERT_TRUE(Pki().Openssl("crl2pkcs7 -nocrl -certfile root.pem -outform DER -out certs.p7"))
      << Pki().output();
  ExpectInvalid(Verify(custos::testing::ReadFileOrDie(Pki().Path("certs.p7"))), kReasonNoSigner);
}

TEST_F(CmsVerifyTest, TwoTrustedSigners) {
  ASSERT_TRUE(Pki().Need("bob")) << Pki().output();
  SignatureCheck check =
      Verify(Sign("alice", "-signer bob.pem -inkey bob.key -certfile inter.pem"));
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.reason << ": " << check.detail;
  EXPECT_EQ(check.signer_subject, "CN=Alice Signer,O=Example Archive");
}

TEST_F(CmsVerifyTest, SecondSignerUntrusted) {
  ASSERT_TRUE(Pki().Need("mallory")) << Pki().output();
  SignatureCheck check = Verify(Sign("alice", "-signer mallory.pem -inkey mallory.key"));
  ExpectInvalid(check, kReasonUntrustedChain);
  EXPECT_EQ(check.signer_subject, "CN=Mallory Signer");
}

TEST_F(CmsVerifyTest, Utf8SignerSubjectKeptUnescaped) {
  SignatureCheck check = Verify(Sign("zhang"));
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.detail;
  EXPECT_EQ(check.signer_subject, "CN=张三,O=档案馆");
}

TEST_F(CmsVerifyTest, ContentReadErrorIsReturned) {
  FailingSource source(Pki().contract());
  const std::string signature = Sign("alice");
  StatusOr<SignatureCheck> check = VerifyDetached(Trust(), source, signature, Clock::now());
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.status().reason(), "disk_gone");
}

TEST_F(CmsVerifyTest, MissingContentFile) {
  const std::string signature = Sign("alice");
  StatusOr<SignatureCheck> check =
      VerifyDetachedFile(Trust(), Pki().Path("no-such-contract.pdf"), signature, Clock::now());
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.status().reason(), "content_unreadable");
}

// Makes `signer` if needed and signs the contract with it through SignSm2.
std::string SignSm2As(const std::string& signer, const std::string& content) {
  EXPECT_TRUE(Pki().Need(signer)) << Pki().output();
  return SignSm2(Pki().dir(), signer, content);
}

// Verifies against a store holding only the SM2 root `root`.
SignatureCheck VerifySm2(const std::string& root, const std::string& signature,
                         const std::string& content) {
  StatusOr<TrustStore> trust = TrustStore::FromPem(Pki().Pem(root));
  EXPECT_TRUE(trust.ok()) << trust.status().ToString();
  if (!trust.ok()) return {};
  StatusOr<SignatureCheck> check = VerifyDetachedBuffer(*trust, content, signature, Clock::now());
  EXPECT_TRUE(check.ok()) << check.status().ToString();
  return check.ok() ? *check : SignatureCheck{};
}

TEST_F(CmsVerifyTest, Sm2SignerValid) {
  std::string signature = SignSm2As("sm2_signer", Pki().contract());
  ASSERT_FALSE(signature.empty());
  SignatureCheck check = VerifySm2("sm2_root", signature, Pki().contract());
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.reason << ": " << check.detail;
  EXPECT_EQ(check.signer_subject, "CN=SM2 Signer");
  EXPECT_EQ(check.digest_algorithm, "sm3");
  EXPECT_TRUE(check.signing_time.has_value());
}

TEST_F(CmsVerifyTest, Sm2TamperedContent) {
  std::string signature = SignSm2As("sm2_signer", Pki().contract());
  ASSERT_FALSE(signature.empty());
  std::string tampered = "x" + Pki().contract();
  ExpectInvalid(VerifySm2("sm2_root", signature, tampered), kReasonContentMismatch);
}

TEST_F(CmsVerifyTest, Sm2CorruptedSignatureValue) {
  std::string signature = SignSm2As("sm2_signer", Pki().contract());
  ASSERT_FALSE(signature.empty());
  signature.back() ^= 0x01;
  ExpectInvalid(VerifySm2("sm2_root", signature, Pki().contract()), kReasonBadSignature);
}

TEST_F(CmsVerifyTest, Sm2CertificatesSignedWithoutStandardId) {
  // OpenSSL 3.0 tools sign SM2 certificates with an empty identifier unless
  // told otherwise; such a chain does not verify under the standard one.
  std::string signature = SignSm2As("sm2_plain_signer", Pki().contract());
  ASSERT_FALSE(signature.empty());
  ExpectInvalid(VerifySm2("sm2_plain_root", signature, Pki().contract()), kReasonUntrustedChain);
}

TEST_F(CmsVerifyTest, Sm2SignerFromOpensslCms) {
  std::string signature = Pki().Sign("sm2_signer", "-md sm3");
  if (signature.empty()) {
    GTEST_SKIP() << "this openssl cannot create CMS signatures with SM2 keys (OpenSSL 3.0's "
                    "`openssl cms -sign` leaves the SM2 signatureAlgorithm empty); output:\n"
                 << Pki().output();
  }
  SignatureCheck check = VerifySm2("sm2_root", signature, Pki().contract());
  EXPECT_EQ(check.status, SignatureStatus::kValid) << check.reason << ": " << check.detail;
  EXPECT_EQ(check.digest_algorithm, "sm3");
}

TEST_F(CmsVerifyTest, ConcurrentVerificationsShareOneStore) {
  const std::string trusted = Sign("alice");
  const std::string untrusted = Sign("mallory");
  constexpr int kThreads = 4;
  constexpr int kRounds = 5;
  std::atomic<int> valid{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < kRounds; ++r) {
        StatusOr<SignatureCheck> good =
            VerifyDetachedBuffer(Trust(), Pki().contract(), trusted, Clock::now());
        StatusOr<SignatureCheck> bad =
            VerifyDetachedBuffer(Trust(), Pki().contract(), untrusted, Clock::now());
        if (good.ok() && good->status == SignatureStatus::kValid) ++valid;
        if (bad.ok() && bad->reason == kReasonUntrustedChain) ++rejected;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(valid.load(), kThreads * kRounds);
  EXPECT_EQ(rejected.load(), kThreads * kRounds);
}

// --- Trust store loading ----------------------------------------------------

class CmsTrustStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Pki().Need("root")) << "building the test PKI failed:\n" << Pki().output();
  }

  static std::string Pem(const std::string& name) { return Pki().Pem(name); }

  TempDir dir_;
};

TEST_F(CmsTrustStoreTest, MissingDirectory) {
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.Sub("absent"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().reason(), "trust_store_unreadable");
}

TEST_F(CmsTrustStoreTest, EmptyDirectory) {
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->size(), 0u);
}

TEST_F(CmsTrustStoreTest, LoadsBundlesDerAndIgnoresOtherNames) {
  WriteFile(dir_.Sub("Bundle.PEM"), Pem("root") + Pem("other_root"));
  ASSERT_TRUE(Pki().Need("inter")) << Pki().output();
  ASSERT_TRUE(Pki().Openssl("x509 -in inter.pem -outform DER -out inter.der")) << Pki().output();
  WriteFile(dir_.Sub("inter.crt"), custos::testing::ReadFileOrDie(Pki().Path("inter.der")));
  WriteFile(dir_.Sub("README.txt"), "not a certificate");
  WriteFile(dir_.Sub("root.key"), custos::testing::ReadFileOrDie(Pki().Path("root.key")));
  std::filesystem::create_directories(dir_.Sub("nested.pem"));
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->size(), 3u);
}

TEST_F(CmsTrustStoreTest, DuplicateCertificatesCountOnce) {
  WriteFile(dir_.Sub("a.pem"), Pem("root"));
  WriteFile(dir_.Sub("b.cer"), Pem("root"));
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->size(), 1u);
}

TEST_F(CmsTrustStoreTest, KeysBesideCertificateAreSkipped) {
  WriteFile(dir_.Sub("ca.pem"),
            custos::testing::ReadFileOrDie(Pki().Path("root.key")) + Pem("root"));
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->size(), 1u);
}

TEST_F(CmsTrustStoreTest, PemFileWithoutCertificate) {
  WriteFile(dir_.Sub("root.pem"), custos::testing::ReadFileOrDie(Pki().Path("root.key")));
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().reason(), "trust_store_bad_certificate");
  EXPECT_NE(store.status().message().find("root.pem"), std::string::npos);
}

TEST_F(CmsTrustStoreTest, CorruptPemBlock) {
  WriteFile(dir_.Sub("bad.pem"),
            Pem("root") + "-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n");
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().reason(), "trust_store_bad_certificate");
}

TEST_F(CmsTrustStoreTest, GarbageCrtFile) {
  WriteFile(dir_.Sub("junk.crt"), "definitely not DER");
  StatusOr<TrustStore> store = TrustStore::LoadDirectory(dir_.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().reason(), "trust_store_bad_certificate");
}

TEST_F(CmsTrustStoreTest, FromPemRejectsNonPem) {
  StatusOr<TrustStore> store = TrustStore::FromPem("just words");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().reason(), "trust_store_bad_certificate");
}

TEST_F(CmsTrustStoreTest, CopiesShareOneStore) {
  StatusOr<TrustStore> store = TrustStore::FromPem(Pem("root") + Pem("other_root"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  TrustStore copy = *store;
  EXPECT_EQ(copy.size(), 2u);
  const std::string signature = Pki().Sign("mallory");
  StatusOr<SignatureCheck> check =
      VerifyDetachedBuffer(copy, Pki().contract(), signature, Clock::now());
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->status, SignatureStatus::kValid) << check->detail;
}

}  // namespace
}  // namespace custos::crypto
