#include "crypto/cms.h"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "crypto/openssl_util.h"
namespace custos::crypto {
namespace {

using Clock = std::chrono::system_clock;

// Text starting (after white space) with this is PEM; anything else is DER.
constexpr std::string_view kPemArmourPrefix = "-----BEGIN ";
constexpr std::string_view kWhiteSpace = " \t\r\n";
// PEM labels a signature may carry.
constexpr std::string_view kSignaturePemLabels[] = {PEM_STRING_CMS, PEM_STRING_PKCS7,
                                                    PEM_STRING_PKCS7_SIGNED};
// Trust-store files are recognised by these name endings (any letter case).
constexpr std::string_view kTrustFileSuffixes[] = {".pem", ".crt", ".cer"};
// The content is pulled through the digest in chunks of this size.
constexpr size_t kContentChunkSize = 64 * 1024;
// SignatureCheck::detail is cut to this many bytes.
constexpr size_t kMaxDetailLength = 512;
// A certificate may sign documents when its keyUsage (if present) has one of
// these bits.
constexpr uint32_t kSigningKeyUsage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION;
// X509_get_key_usage's answer when the certificate has no keyUsage extension.
constexpr uint32_t kNoKeyUsageExtension = UINT32_MAX;
// Subjects print in RFC 2253 form with UTF-8 left intact (no \XX escapes).
constexpr unsigned long kSubjectPrintFlags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
// BIO type of the content source (a plain source/sink without an index).
constexpr int kContentBioType = BIO_TYPE_SOURCE_SINK;
constexpr char kContentBioName[] = "custos content source";
// The SM2 distinguishing identifier GM/T 0009-2012 names as the default and
// GM/T 0010 signatures and SM2 certificates use. OpenSSL 3.0 does not apply
// it by itself (it hashes an empty identifier), so it is set explicitly.
constexpr std::string_view kSm2DistinguishingId = "1234567812345678";
// DER tag of a SET OF (signed attributes are verified as one).
constexpr unsigned char kDerSetTag = 0x31;
// DER long-form length: this bit, plus the count of length bytes that follow.
constexpr unsigned char kDerLongLengthBit = 0x80;
constexpr size_t kDerShortLengthLimit = 0x80;

// Status reasons.
constexpr char kReasonOpensslFailure[] = "openssl_failure";
constexpr char kReasonContentUnreadable[] = "content_unreadable";
constexpr char kReasonTrustStoreUnreadable[] = "trust_store_unreadable";
constexpr char kReasonTrustStoreBadCertificate[] = "trust_store_bad_certificate";

struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using BioMethodPtr = std::unique_ptr<BIO_METHOD, OpenSslFree<BIO_meth_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, OpenSslFree<CMS_ContentInfo_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslFree<X509_STORE_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslFree<EVP_MD_CTX_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, OpenSslFree<ASN1_OCTET_STRING_free>>;

Status OpensslFailure(std::string_view what) {
  return Internal("OpenSSL failed: " + std::string(what), kReasonOpensslFailure);
}

// The drained OpenSSL error queue: codes for classification, text for people.
struct OpenSslErrors {
  std::vector<unsigned long> codes;
  std::string text;

  bool Has(int library, int reason) const {
    return std::any_of(codes.begin(), codes.end(), [&](unsigned long c) {
      return ERR_GET_LIB(c) == library && ERR_GET_REASON(c) == reason;
    });
  }
};

OpenSslErrors DrainErrors() {
  OpenSslErrors errors;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    errors.codes.push_back(code);
    const char* library = ERR_lib_error_string(code);
    const char* reason = ERR_reason_error_string(code);
    if (!errors.text.empty()) errors.text += "; ";
    if (library != nullptr) errors.text += std::string(library) + ": ";
    errors.text += reason != nullptr ? reason : "error " + std::to_string(ERR_GET_REASON(code));
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      errors.text += " (" + std::string(data) + ")";
    }
  }
  return errors;
}

// "<what> (<OpenSSL's text>)", or just <what> when OpenSSL said nothing.
std::string WithOpenSslText(std::string_view what, const OpenSslErrors& errors) {
  std::string text(what);
  if (!errors.text.empty()) text += " (" + errors.text + ")";
  return text;
}

// Trims white space and caps the length of a detail text.
std::string TrimDetail(std::string text) {
  size_t first = text.find_first_not_of(kWhiteSpace);
  if (first == std::string::npos) return {};
  size_t last = text.find_last_not_of(kWhiteSpace);
  text = text.substr(first, last - first + 1);
  if (text.size() > kMaxDetailLength) text.resize(kMaxDetailLength);
  return text;
}

bool EndsWithIgnoreCase(std::string_view text, std::string_view suffix) {
  if (text.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), text.end() - suffix.size(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

bool IsTrustFileName(std::string_view name) {
  return std::any_of(std::begin(kTrustFileSuffixes), std::end(kTrustFileSuffixes),
                     [&](std::string_view s) { return EndsWithIgnoreCase(name, s); });
}

bool LooksLikePem(std::string_view text) {
  size_t first = text.find_first_not_of(kWhiteSpace);
  return first != std::string_view::npos && text.substr(first).starts_with(kPemArmourPrefix);
}

// A PEM password callback that refuses: nothing read here is encrypted, and
// OpenSSL must never prompt on a terminal.
int RefusePassword(char*, int, int, void*) { return 0; }

// ---------------------------------------------------------------------------
// SM2.

bool IsSm2Key(EVP_PKEY* key) { return key != nullptr && EVP_PKEY_is_a(key, "SM2") == 1; }

// Makes OpenSSL check the signature on `cert` with the standard SM2
// identifier when its issuer signed it with SM2. `cert` must not be shared
// with other threads yet. False only when out of memory.
bool UseStandardSm2Id(X509* cert) {
  if (X509_get_signature_nid(cert) != NID_SM2_with_SM3) return true;
  OctetStringPtr id(ASN1_OCTET_STRING_new());
  if (id == nullptr ||
      ASN1_OCTET_STRING_set(id.get(),
                            reinterpret_cast<const unsigned char*>(kSm2DistinguishingId.data()),
                            static_cast<int>(kSm2DistinguishingId.size())) != 1) {
    return false;
  }
  X509_set0_distinguishing_id(cert, id.release());
  return true;
}

// ---------------------------------------------------------------------------
// Trust store loading.

Status BadCertificate(const std::string& origin, const std::string& why) {
  return InvalidArgument("trust store file " + origin + ": " + why,
                         kReasonTrustStoreBadCertificate);
}

// Appends the PEM CERTIFICATE blocks of `text` to `out`.
Status ParsePemCertificates(std::string_view text, const std::string& origin,
                            std::vector<X509Ptr>& out) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio == nullptr) return OpensslFailure("BIO_new_mem_buf");
  size_t found = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, RefusePassword, nullptr)) {
    out.emplace_back(cert);
    ++found;
  }
  // Running out of blocks ends with "no start line"; anything else is a
  // corrupt block.
  unsigned long last = ERR_peek_last_error();
  bool clean_end = last == 0 || (ERR_GET_LIB(last) == ERR_LIB_PEM &&
                                 ERR_GET_REASON(last) == PEM_R_NO_START_LINE);
  if (!clean_end) return BadCertificate(origin, TrimDetail(DrainErrors().text));
  ERR_clear_error();
  if (found == 0) return BadCertificate(origin, "holds no PEM CERTIFICATE block");
  return Status::Ok();
}

// Appends the single DER certificate `text` to `out`.
Status ParseDerCertificate(std::string_view text, const std::string& origin,
                           std::vector<X509Ptr>& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(text.size())));
  if (cert == nullptr || p != end) {
    ERR_clear_error();
    return BadCertificate(origin, "is neither PEM nor a single DER certificate");
  }
  out.push_back(std::move(cert));
  return Status::Ok();
}

Status ParseCertificates(std::string_view text, const std::string& origin,
                         std::vector<X509Ptr>& out) {
  ErrorQueueScope errors;
  if (text.size() > static_cast<size_t>(INT_MAX)) return BadCertificate(origin, "too large");
  if (text.find(kPemArmourPrefix) != std::string_view::npos) {
    return ParsePemCertificates(text, origin, out);
  }
  return ParseDerCertificate(text, origin, out);
}

StatusOr<std::string> ReadTrustFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return InvalidArgument("cannot read trust store file " + path.string(),
                           kReasonTrustStoreUnreadable);
  }
  return text.str();
}

// Names of the trust files in `dir`, sorted so loading is deterministic.
StatusOr<std::vector<std::filesystem::path>> ListTrustFiles(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  std::vector<std::filesystem::path> files;
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (!IsTrustFileName(it->path().filename().string())) continue;
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) files.push_back(it->path());
  }
  if (ec) {
    return InvalidArgument("cannot read trust store directory " + dir + ": " + ec.message(),
                           kReasonTrustStoreUnreadable);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

// The loaded anchors. Written only while loading; afterwards read-only, so
// the X509_STORE (which has no lookup methods that could cache into it) is
// safely shared by concurrent verifications.
struct TrustStore::Impl {
  X509StorePtr store;
  size_t count = 0;
};

namespace {

StatusOr<std::shared_ptr<const TrustStore::Impl>> BuildImpl(std::vector<X509Ptr> certs) {
  auto impl = std::make_shared<TrustStore::Impl>();
  impl->store.reset(X509_STORE_new());
  if (impl->store == nullptr) return OpensslFailure("X509_STORE_new");
  std::vector<X509*> distinct;
  for (const X509Ptr& cert : certs) {
    bool seen = std::any_of(distinct.begin(), distinct.end(),
                            [&](X509* other) { return X509_cmp(other, cert.get()) == 0; });
    if (seen) continue;
    // Fill the certificate's extension cache and SM2 identifier now, before
    // it is shared.
    X509_check_purpose(cert.get(), -1, 0);
    if (!UseStandardSm2Id(cert.get())) return OpensslFailure("ASN1_OCTET_STRING_set");
    if (X509_STORE_add_cert(impl->store.get(), cert.get()) != 1) {
      ERR_clear_error();
      return OpensslFailure("X509_STORE_add_cert");
    }
    distinct.push_back(cert.get());
  }
  impl->count = distinct.size();
  return std::shared_ptr<const TrustStore::Impl>(std::move(impl));
}

}  // namespace

StatusOr<TrustStore> TrustStore::LoadDirectory(const std::string& dir) {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<std::filesystem::path> files, ListTrustFiles(dir));
  std::vector<X509Ptr> certs;
  for (const std::filesystem::path& file : files) {
    CUSTOS_ASSIGN_OR_RETURN(std::string text, ReadTrustFile(file));
    CUSTOS_RETURN_IF_ERROR(ParseCertificates(text, file.string(), certs));
  }
  CUSTOS_ASSIGN_OR_RETURN(std::shared_ptr<const Impl> impl, BuildImpl(std::move(certs)));
  return TrustStore(std::move(impl));
}

StatusOr<TrustStore> TrustStore::FromPem(std::string_view pem) {
  std::vector<X509Ptr> certs;
  if (pem.find_first_not_of(kWhiteSpace) != std::string_view::npos) {
    if (!LooksLikePem(pem)) return BadCertificate("(inline PEM)", "is not PEM text");
    CUSTOS_RETURN_IF_ERROR(ParseCertificates(pem, "(inline PEM)", certs));
  }
  CUSTOS_ASSIGN_OR_RETURN(std::shared_ptr<const Impl> impl, BuildImpl(std::move(certs)));
  return TrustStore(std::move(impl));
}

size_t TrustStore::size() const { return impl_->count; }

std::string_view SignatureStatusName(SignatureStatus status) {
  return status == SignatureStatus::kValid ? "valid" : "invalid";
}

namespace {

// ---------------------------------------------------------------------------
// Reading the signature and its signers.

// Why a signature is invalid.
struct Failure {
  std::string_view reason;  // one of the kReason* constants
  std::string detail;
};

// A failure attributed to one SignerInfo (by index).
struct SignerFailure {
  size_t signer = 0;
  Failure failure;
};

struct ParsedSignature {
  CmsPtr cms;
  std::string problem;  // why `cms` is null
};

ParsedSignature ParseDerSignature(std::string_view der) {
  ParsedSignature parsed;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* end = p + der.size();
  parsed.cms.reset(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (parsed.cms == nullptr) {
    parsed.problem = "not a CMS structure (" + DrainErrors().text + ")";
  } else if (p != end) {
    parsed.cms.reset();
    parsed.problem = "trailing bytes after the DER CMS structure";
  }
  return parsed;
}

// Decodes the first PEM block, which must be labelled CMS or PKCS7.
ParsedSignature ParsePemSignature(std::string_view pem) {
  ParsedSignature parsed;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long length = 0;
  if (bio == nullptr || PEM_read_bio(bio.get(), &name, &header, &data, &length) != 1) {
    parsed.problem = "unreadable PEM (" + DrainErrors().text + ")";
    return parsed;
  }
  std::string label(name);
  std::string der(reinterpret_cast<const char*>(data), static_cast<size_t>(length));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  bool known = std::any_of(std::begin(kSignaturePemLabels), std::end(kSignaturePemLabels),
                           [&](std::string_view l) { return l == label; });
  if (!known) {
    parsed.problem = "the PEM block is labelled \"" + label + "\", not CMS or PKCS7";
    return parsed;
  }
  return ParseDerSignature(der);
}

ParsedSignature ParseSignature(std::string_view signature) {
  if (signature.size() > static_cast<size_t>(INT_MAX)) {
    return ParsedSignature{nullptr, "signature too large"};
  }
  return LooksLikePem(signature) ? ParsePemSignature(signature) : ParseDerSignature(signature);
}

// A detached SignedData is the only shape accepted.
std::optional<Failure> CheckShape(CMS_ContentInfo* cms) {
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
    return Failure{kReasonMalformed, "the CMS structure is not SignedData"};
  }
  if (CMS_is_detached(cms) != 1) {
    return Failure{kReasonMalformed,
                   "the signature embeds its content; a detached signature is expected"};
  }
  return std::nullopt;
}

// What can be read about one signer without verifying anything.
struct SignerFacts {
  X509* cert = nullptr;  // owned by the SignerInfo; null when not found
  std::string subject;
  std::optional<Clock::time_point> signing_time;
  std::string digest_algorithm;
  std::string problem;  // non-empty when a signed attribute is unreadable
};

std::string SubjectOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return {};
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, kSubjectPrintFlags) < 0) {
    return {};
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string DigestAlgorithmOf(CMS_SignerInfo* si) {
  X509_ALGOR* digest = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, nullptr);
  if (digest == nullptr) return {};
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, digest);
  if (oid == nullptr) return {};
  int nid = OBJ_obj2nid(oid);
  if (nid != NID_undef) {
    std::string name = OBJ_nid2sn(nid);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return name;
  }
  char dotted[128];
  int n = OBJ_obj2txt(dotted, sizeof(dotted), oid, 1);
  return n > 0 ? std::string(dotted, std::min(static_cast<size_t>(n), sizeof(dotted) - 1))
               : std::string();
}

Clock::time_point FromTm(const struct tm& t) {
  using namespace std::chrono;
  sys_days date = year{t.tm_year + 1900} / month{static_cast<unsigned>(t.tm_mon + 1)} /
                  day{static_cast<unsigned>(t.tm_mday)};
  return date + hours{t.tm_hour} + minutes{t.tm_min} + seconds{t.tm_sec};
}

// Reads the signingTime signed attribute into `facts` (absent is fine).
void ReadSigningTime(CMS_SignerInfo* si, SignerFacts& facts) {
  int index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
  if (index < 0) return;
  X509_ATTRIBUTE* attribute = CMS_signed_get_attr(si, index);
  ASN1_TYPE* value = attribute != nullptr && X509_ATTRIBUTE_count(attribute) == 1
                         ? X509_ATTRIBUTE_get0_type(attribute, 0)
                         : nullptr;
  struct tm parts {};
  bool readable = value != nullptr &&
                  (value->type == V_ASN1_UTCTIME || value->type == V_ASN1_GENERALIZEDTIME) &&
                  ASN1_TIME_to_tm(value->value.utctime, &parts) == 1;
  if (!readable) {
    facts.problem = "the signingTime attribute is not a single valid time";
    return;
  }
  facts.signing_time = FromTm(parts);
}

SignerFacts ReadSignerFacts(CMS_SignerInfo* si) {
  SignerFacts facts;
  CMS_SignerInfo_get0_algs(si, nullptr, &facts.cert, nullptr, nullptr);
  if (facts.cert != nullptr) facts.subject = SubjectOf(facts.cert);
  facts.digest_algorithm = DigestAlgorithmOf(si);
  ReadSigningTime(si, facts);
  ERR_clear_error();
  return facts;
}

// ---------------------------------------------------------------------------
// The verification steps, in the order that decides which reason wins.

std::optional<SignerFailure> CheckFacts(const std::vector<SignerFacts>& facts) {
  for (size_t i = 0; i < facts.size(); ++i) {
    if (!facts[i].problem.empty()) return SignerFailure{i, {kReasonMalformed, facts[i].problem}};
  }
  for (size_t i = 0; i < facts.size(); ++i) {
    if (facts[i].cert == nullptr) {
      return SignerFailure{
          i, {kReasonNoSigner, "the signature does not carry the signer's certificate"}};
    }
  }
  return std::nullopt;
}

std::string DerLength(size_t n) {
  if (n < kDerShortLengthLimit) return std::string(1, static_cast<char>(n));
  std::string bytes;
  for (; n > 0; n >>= 8) bytes.insert(bytes.begin(), static_cast<char>(n & 0xff));
  return static_cast<char>(kDerLongLengthBit | bytes.size()) + bytes;
}

// The DER the signature covers: the signed attributes as a SET OF, in the
// order received (RFC 5652 §5.4). Empty when an attribute cannot be encoded.
std::string SignedAttributesDer(CMS_SignerInfo* si) {
  std::string body;
  for (int i = 0; i < CMS_signed_get_attr_count(si); ++i) {
    unsigned char* der = nullptr;
    int n = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &der);
    if (n <= 0) return {};
    body.append(reinterpret_cast<const char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
  }
  return static_cast<char>(kDerSetTag) + DerLength(body.size()) + body;
}

// CMS_SignerInfo_verify for SM2 signers, with the standard identifier set.
// Returns 1 (verified), 0 (wrong signature) or -1 (cannot verify).
int VerifySm2SignedAttributes(CMS_SignerInfo* si, EVP_PKEY* key) {
  X509_ALGOR* digest = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, nullptr);
  const ASN1_OBJECT* oid = nullptr;
  if (digest != nullptr) X509_ALGOR_get0(&oid, nullptr, nullptr, digest);
  const char* digest_name = oid != nullptr ? OBJ_nid2sn(OBJ_obj2nid(oid)) : nullptr;
  std::string signed_der = SignedAttributesDer(si);
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by `md`
  if (digest_name == nullptr || signed_der.empty() || md == nullptr ||
      EVP_DigestVerifyInit_ex(md.get(), &pkey_ctx, digest_name, nullptr, nullptr, key, nullptr) !=
          1 ||
      EVP_PKEY_CTX_set1_id(pkey_ctx, kSm2DistinguishingId.data(),
                           static_cast<int>(kSm2DistinguishingId.size())) != 1) {
    return -1;
  }
  const ASN1_OCTET_STRING* signature = CMS_SignerInfo_get0_signature(si);
  int result = EVP_DigestVerify(md.get(), ASN1_STRING_get0_data(signature),
                                static_cast<size_t>(ASN1_STRING_length(signature)),
                                reinterpret_cast<const unsigned char*>(signed_der.data()),
                                signed_der.size());
  return result == 1 ? 1 : 0;
}

// Verifies each signer's signature over its signed attributes (signers
// without signed attributes sign the content itself; VerifyContent checks
// those).
std::optional<SignerFailure> VerifySignedAttributes(STACK_OF(CMS_SignerInfo) * signers) {
  for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, i);
    EVP_PKEY* key = nullptr;
    CMS_SignerInfo_get0_algs(si, &key, nullptr, nullptr, nullptr);
    if (CMS_signed_get_attr_count(si) < 0) {
      if (!IsSm2Key(key)) continue;
      return SignerFailure{
          static_cast<size_t>(i),
          {kReasonMalformed, "SM2 signers without signed attributes are not supported"}};
    }
    ERR_clear_error();
    int result = IsSm2Key(key) ? VerifySm2SignedAttributes(si, key) : CMS_SignerInfo_verify(si);
    if (result == 1) continue;
    OpenSslErrors errors = DrainErrors();
    if (result == 0 || errors.Has(ERR_LIB_CMS, CMS_R_VERIFICATION_FAILURE)) {
      return SignerFailure{
          static_cast<size_t>(i),
          {kReasonBadSignature, WithOpenSslText("the signature value does not verify with the "
                                                "signer's public key",
                                                errors)}};
    }
    return SignerFailure{
        static_cast<size_t>(i),
        {kReasonMalformed, WithOpenSslText("the SignerInfo cannot be verified", errors)}};
  }
  return std::nullopt;
}

// A BIO source over a ByteSource. Read errors are kept in the state and
// reported to OpenSSL as end of data; the caller checks `error` afterwards.
struct ContentBioState {
  ByteSource* source = nullptr;
  Status error;
};

int ContentBioRead(BIO* bio, char* out, size_t size, size_t* read_bytes) {
  auto* state = static_cast<ContentBioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  *read_bytes = 0;
  if (state == nullptr || !state->error.ok() || size == 0) return 0;
  StatusOr<size_t> n = Internal("content read threw an exception", kReasonContentUnreadable);
  try {
    n = state->source->Read(reinterpret_cast<uint8_t*>(out), size);
  } catch (...) {
    // Exceptions must not unwind through OpenSSL's C frames.
  }
  if (!n.ok()) {
    state->error = n.status();
    return 0;
  }
  if (*n > size) {
    state->error =
        Internal("content source returned more bytes than asked for", kReasonContentUnreadable);
    return 0;
  }
  *read_bytes = *n;
  return *n > 0 ? 1 : 0;
}

long ContentBioCtrl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

// Frees the digest BIOs CMS_dataInit stacked on top of `bottom`, leaving
// `bottom` itself alone.
class DigestChain {
 public:
  DigestChain(BIO* top, BIO* bottom) : top_(top), bottom_(bottom) {}
  ~DigestChain() {
    while (top_ != nullptr && top_ != bottom_) {
      BIO* next = BIO_pop(top_);
      BIO_free(top_);
      top_ = next;
    }
  }
  DigestChain(const DigestChain&) = delete;
  DigestChain& operator=(const DigestChain&) = delete;
  BIO* top() const { return top_; }

 private:
  BIO* top_;
  BIO* bottom_;
};

// Streams `content` through the digests of the SignedData, then checks each
// signer's messageDigest attribute (or, without signed attributes, its
// signature over the content digest).
StatusOr<std::optional<SignerFailure>> VerifyContent(CMS_ContentInfo* cms,
                                                     STACK_OF(CMS_SignerInfo) * signers,
                                                     ByteSource& content) {
  BioMethodPtr method(BIO_meth_new(kContentBioType, kContentBioName));
  if (method == nullptr || BIO_meth_set_read_ex(method.get(), ContentBioRead) != 1 ||
      BIO_meth_set_ctrl(method.get(), ContentBioCtrl) != 1) {
    return OpensslFailure("BIO_meth_new");
  }
  ContentBioState state{&content, Status::Ok()};
  BioPtr source(BIO_new(method.get()));
  if (source == nullptr) return OpensslFailure("BIO_new");
  BIO_set_data(source.get(), &state);
  BIO_set_init(source.get(), 1);

  ERR_clear_error();
  DigestChain chain(CMS_dataInit(cms, source.get()), source.get());
  if (chain.top() == nullptr) {
    return std::optional<SignerFailure>(
        SignerFailure{0,
                      {kReasonMalformed,
                       WithOpenSslText("the content digests cannot be set up", DrainErrors())}});
  }
  std::vector<char> buffer(kContentChunkSize);
  int last_read = 0;
  do {
    last_read = BIO_read(chain.top(), buffer.data(), static_cast<int>(buffer.size()));
  } while (last_read > 0);
  if (!state.error.ok()) return state.error;
  if (last_read < 0) return OpensslFailure("digesting the content");

  for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, i);
    ERR_clear_error();
    int result = CMS_SignerInfo_verify_content(si, chain.top());
    if (result == 1) continue;
    OpenSslErrors errors = DrainErrors();
    Failure failure{kReasonMalformed, WithOpenSslText("the content cannot be checked", errors)};
    if (result == 0 && CMS_signed_get_attr_count(si) >= 0) {
      // The signed attributes were verified already, so only the content
      // can differ from what was signed.
      failure = {kReasonContentMismatch,
                 WithOpenSslText("the content's digest differs from the signed messageDigest "
                                 "attribute",
                                 errors)};
    } else if (result == 0) {
      // Without signed attributes a changed document and a corrupted
      // signature cannot be told apart.
      failure = {
          kReasonBadSignature,
          WithOpenSslText("the signature does not verify over the content's digest", errors)};
    }
    return std::optional<SignerFailure>(SignerFailure{static_cast<size_t>(i), failure});
  }
  return std::optional<SignerFailure>();
}

// The instant certificate validity is judged at: the claimed signing time,
// unless absent or later than `now`.
Clock::time_point ValidityInstant(const SignerFacts& facts, Clock::time_point now) {
  if (facts.signing_time.has_value() && *facts.signing_time <= now) return *facts.signing_time;
  return now;
}

std::optional<Failure> CheckSigningKeyUsage(X509* signer) {
  uint32_t usage = X509_get_key_usage(signer);
  if (usage == kNoKeyUsageExtension || (usage & kSigningKeyUsage) != 0) return std::nullopt;
  return Failure{kReasonUntrustedChain,
                 "the signer certificate's key usage allows neither digitalSignature nor "
                 "nonRepudiation"};
}

Failure ChainFailure(X509_STORE_CTX* ctx) {
  int error = X509_STORE_CTX_get_error(ctx);
  bool time_error = error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID;
  std::string detail =
      "certificate at depth " + std::to_string(X509_STORE_CTX_get_error_depth(ctx));
  if (X509* at = X509_STORE_CTX_get_current_cert(ctx)) detail += " (" + SubjectOf(at) + ")";
  detail += ": ";
  detail += X509_verify_cert_error_string(error);
  return Failure{time_error ? kReasonCertificateExpired : kReasonUntrustedChain, detail};
}

// Builds and checks the signer's chain to the trust store at `instant`,
// using the certificates carried in the signature as intermediates.
StatusOr<std::optional<Failure>> VerifySignerChain(X509_STORE* trust, CMS_ContentInfo* cms,
                                                   X509* signer, Clock::time_point instant) {
  X509StackPtr intermediates(CMS_get1_certs(cms));
  // These certificates belong to this call's CMS object only.
  bool ids_set = UseStandardSm2Id(signer);
  for (int i = 0; i < sk_X509_num(intermediates.get()); ++i) {
    ids_set = UseStandardSm2Id(sk_X509_value(intermediates.get(), i)) && ids_set;
  }
  if (!ids_set) return OpensslFailure("ASN1_OCTET_STRING_set");
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ctx == nullptr || X509_STORE_CTX_init(ctx.get(), trust, signer, intermediates.get()) != 1) {
    return OpensslFailure("X509_STORE_CTX_init");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);
  X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_time(param, Clock::to_time_t(instant));
  ERR_clear_error();
  if (X509_verify_cert(ctx.get()) != 1) {
    Failure failure = ChainFailure(ctx.get());
    ERR_clear_error();
    return std::optional<Failure>(std::move(failure));
  }
  return CheckSigningKeyUsage(signer);
}

StatusOr<std::optional<SignerFailure>> VerifyChains(X509_STORE* trust, CMS_ContentInfo* cms,
                                                    const std::vector<SignerFacts>& facts,
                                                    Clock::time_point now) {
  for (size_t i = 0; i < facts.size(); ++i) {
    CUSTOS_ASSIGN_OR_RETURN(
        std::optional<Failure> failure,
        VerifySignerChain(trust, cms, facts[i].cert, ValidityInstant(facts[i], now)));
    if (failure.has_value()) return std::optional<SignerFailure>(SignerFailure{i, *failure});
  }
  return std::optional<SignerFailure>();
}

// ---------------------------------------------------------------------------
// Assembling the result.

void Describe(const SignerFacts& facts, SignatureCheck& check) {
  check.signer_subject = facts.subject;
  check.signing_time = facts.signing_time;
  check.digest_algorithm = facts.digest_algorithm;
}

SignatureCheck Invalid(SignatureCheck check, const Failure& failure) {
  check.status = SignatureStatus::kInvalid;
  check.reason = std::string(failure.reason);
  check.detail = TrimDetail(failure.detail);
  return check;
}

SignatureCheck InvalidSigner(SignatureCheck check, const std::vector<SignerFacts>& facts,
                             const SignerFailure& failure) {
  if (failure.signer < facts.size()) Describe(facts[failure.signer], check);
  return Invalid(std::move(check), failure.failure);
}

// Opens a file as a ByteSource.
class FileSource final : public ByteSource {
 public:
  explicit FileSource(int fd) : fd_(fd) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  static StatusOr<std::unique_ptr<FileSource>> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Internal("cannot open content file " + path + ": " + std::strerror(errno),
                      kReasonContentUnreadable);
    }
    return std::make_unique<FileSource>(fd);
  }

  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_, p, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) {
        return Internal(std::string("cannot read content file: ") + std::strerror(errno),
                        kReasonContentUnreadable);
      }
    }
  }

 private:
  int fd_;
};

}  // namespace

StatusOr<SignatureCheck> VerifyDetached(const TrustStore& trust, ByteSource& content,
                                        std::string_view signature, Clock::time_point now) {
  ErrorQueueScope error_scope;
  SignatureCheck check;
  ParsedSignature parsed = ParseSignature(signature);
  if (parsed.cms == nullptr) return Invalid(check, {kReasonMalformed, parsed.problem});
  CMS_ContentInfo* cms = parsed.cms.get();
  if (std::optional<Failure> failure = CheckShape(cms)) return Invalid(check, *failure);

  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms);
  if (sk_CMS_SignerInfo_num(signers) <= 0) {
    return Invalid(check, {kReasonNoSigner, "the signature has no SignerInfo"});
  }
  // Attach each signer's certificate, found among those the signature carries.
  CMS_set1_signers_certs(cms, nullptr, 0);
  std::vector<SignerFacts> facts;
  for (int i = 0; i < sk_CMS_SignerInfo_num(signers); ++i) {
    facts.push_back(ReadSignerFacts(sk_CMS_SignerInfo_value(signers, i)));
  }
  Describe(facts.front(), check);

  if (std::optional<SignerFailure> failure = CheckFacts(facts)) {
    return InvalidSigner(check, facts, *failure);
  }
  if (std::optional<SignerFailure> failure = VerifySignedAttributes(signers)) {
    return InvalidSigner(check, facts, *failure);
  }
  CUSTOS_ASSIGN_OR_RETURN(std::optional<SignerFailure> content_failure,
                          VerifyContent(cms, signers, content));
  if (content_failure.has_value()) return InvalidSigner(check, facts, *content_failure);
  CUSTOS_ASSIGN_OR_RETURN(std::optional<SignerFailure> chain_failure,
                          VerifyChains(trust.impl_->store.get(), cms, facts, now));
  if (chain_failure.has_value()) return InvalidSigner(check, facts, *chain_failure);

  check.status = SignatureStatus::kValid;
  check.reason.clear();
  check.detail.clear();
  return check;
}

StatusOr<SignatureCheck> VerifyDetachedBuffer(const TrustStore& trust, std::string_view content,
                                              std::string_view signature, Clock::time_point now) {
  MemorySource source(reinterpret_cast<const uint8_t*>(content.data()), content.size());
  return VerifyDetached(trust, source, signature, now);
}

StatusOr<SignatureCheck> VerifyDetachedFile(const TrustStore& trust,
                                            const std::string& content_path,
                                            std::string_view signature, Clock::time_point now) {
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<FileSource> source, FileSource::Open(content_path));
  return VerifyDetached(trust, *source, signature, now);
}

}  // namespace custos::crypto
