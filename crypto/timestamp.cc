#include "crypto/timestamp.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <utility>

#include "crypto/openssl_util.h"
#include "crypto/hash.h"
#include "crypto/signed_note.h"

namespace custos::crypto::tsa {
namespace {

// RFC 3161 PKIStatus values that carry a token.
constexpr long kStatusGranted = 0;
constexpr long kStatusGrantedWithMods = 1;
// The only TSTInfo / TimeStampReq version.
constexpr long kTstVersion = 1;
// Subjects print in RFC 2253 form with UTF-8 left intact (as crypto/cms.cc).
constexpr unsigned long kSubjectPrintFlags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
// A PEM bundle larger than this is refused (a bundle of roots is a few KiB).
constexpr size_t kMaxBundleSize = 1 << 20;
constexpr char kNewline = '\n';
constexpr uint8_t kTypeUnassigned = note::kTypeUnassigned;

struct X509StackShallowFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpenSslFree<ASN1_INTEGER_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, OpenSslFree<PKCS7_free>>;
using TsReqPtr = std::unique_ptr<TS_REQ, OpenSslFree<TS_REQ_free>>;
using TsRespPtr = std::unique_ptr<TS_RESP, OpenSslFree<TS_RESP_free>>;
using TstInfoPtr = std::unique_ptr<TS_TST_INFO, OpenSslFree<TS_TST_INFO_free>>;
using ImprintPtr = std::unique_ptr<TS_MSG_IMPRINT, OpenSslFree<TS_MSG_IMPRINT_free>>;
using AlgorPtr = std::unique_ptr<X509_ALGOR, OpenSslFree<X509_ALGOR_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, OpenSslFree<ASN1_OCTET_STRING_free>>;
using VerifyCtxPtr = std::unique_ptr<TS_VERIFY_CTX, OpenSslFree<TS_VERIFY_CTX_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackShallowFree>;

// The TS library reason codes now in the error queue (drained).
std::vector<int> DrainTsReasons() {
  std::vector<int> reasons;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    if (ERR_GET_LIB(e) == ERR_LIB_TS) reasons.push_back(ERR_GET_REASON(e));
  }
  return reasons;
}

bool Has(const std::vector<int>& reasons, int reason) {
  return std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
}

Status Malformed(std::string message) {
  return InvalidArgument(std::move(message), std::string(kReasonMalformed));
}
Status LineMalformed(std::string message) {
  return InvalidArgument(std::move(message), std::string(kReasonLineMalformed));
}
Status ImprintMismatch() {
  return DataLoss("the time-stamp token is not for this data (message imprint differs)",
                  std::string(kReasonImprintMismatch));
}
Status OpensslFailure(std::string_view what) {
  return Internal("OpenSSL failed: " + std::string(what), "openssl_failure");
}

// Decodes a whole DER object with `d2i`; null (and nothing leaked) if it
// does not parse, bytes are left over, or it is larger than kMaxTokenSize.
template <typename Ptr, typename D2i, typename Free>
Ptr DecodeWholeOwned(std::span<const uint8_t> der, D2i d2i, Free free_fn) {
  if (der.empty() || der.size() > kMaxTokenSize) return Ptr();
  const unsigned char* p = der.data();
  auto* obj = d2i(nullptr, &p, long(der.size()));
  if (obj == nullptr) return Ptr();
  if (p != der.data() + der.size()) {
    free_fn(obj);
    return Ptr();
  }
  return Ptr(obj);
}

// Is `algo` SHA-256 (parameters absent or NULL, as RFC 5754 allows)?
bool IsSha256(const X509_ALGOR* algo) {
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algo);
  return oid != nullptr && OBJ_obj2nid(oid) == NID_sha256;
}

// Checks the TSTInfo's message imprint: SHA-256 and equal to `expected`.
Status CheckImprint(TS_TST_INFO* tst, const Digest32& expected) {
  TS_MSG_IMPRINT* imprint = TS_TST_INFO_get_msg_imprint(tst);
  if (imprint == nullptr) return Malformed("time-stamp token without a message imprint");
  ASN1_OCTET_STRING* msg = TS_MSG_IMPRINT_get_msg(imprint);
  if (!IsSha256(TS_MSG_IMPRINT_get_algo(imprint)) || msg == nullptr ||
      ASN1_STRING_length(msg) != int(expected.size()) ||
      std::memcmp(ASN1_STRING_get0_data(msg), expected.data(), expected.size()) != 0) {
    return ImprintMismatch();
  }
  return Status::Ok();
}

IntegerPtr NonceInteger(uint64_t nonce) {
  IntegerPtr n(ASN1_INTEGER_new());
  if (n && ASN1_INTEGER_set_uint64(n.get(), nonce) != 1) n.reset();
  return n;
}

Status CheckNonce(TS_TST_INFO* tst, uint64_t nonce) {
  const ASN1_INTEGER* got = TS_TST_INFO_get_nonce(tst);
  IntegerPtr want = NonceInteger(nonce);
  if (!want) return OpensslFailure("ASN1_INTEGER_set_uint64");
  if (got == nullptr || ASN1_INTEGER_cmp(got, want.get()) != 0) {
    return DataLoss(got == nullptr ? "the time-stamp reply has no nonce"
                                   : "the time-stamp reply's nonce is not the request's",
                    std::string(kReasonNonceMismatch));
  }
  return Status::Ok();
}

TsReqPtr BuildRequest(const Digest32& sha256, uint64_t nonce) {
  TsReqPtr req(TS_REQ_new());
  ImprintPtr imprint(TS_MSG_IMPRINT_new());
  AlgorPtr algo(X509_ALGOR_new());
  IntegerPtr n = NonceInteger(nonce);
  if (!req || !imprint || !algo || !n) return TsReqPtr();
  // SHA-256 with NULL parameters, as `openssl ts -query` writes it.
  if (X509_ALGOR_set0(algo.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr) != 1 ||
      TS_MSG_IMPRINT_set_algo(imprint.get(), algo.get()) != 1 ||
      TS_MSG_IMPRINT_set_msg(imprint.get(), const_cast<uint8_t*>(sha256.data()),
                             int(sha256.size())) != 1 ||
      TS_REQ_set_version(req.get(), kTstVersion) != 1 ||
      TS_REQ_set_msg_imprint(req.get(), imprint.get()) != 1 ||
      TS_REQ_set_nonce(req.get(), n.get()) != 1 || TS_REQ_set_cert_req(req.get(), 1) != 1) {
    return TsReqPtr();
  }
  return req;
}

std::vector<uint8_t> ToDer(PKCS7* token) {
  int len = i2d_PKCS7(token, nullptr);
  if (len <= 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_PKCS7(token, &p) != len) return {};
  return out;
}

// "status 2 (rejection): <text>; failure info <bits>".
std::string DescribeStatus(TS_STATUS_INFO* info, long status) {
  static constexpr const char* kNames[] = {"granted",  "grantedWithMods",        "rejection",
                                           "waiting",  "revocationWarning",      "revocationNotification"};
  std::string out = "the time-stamp authority answered status " + std::to_string(status);
  if (status >= 0 && status < long(std::size(kNames))) out += std::string(" (") + kNames[status] + ")";
  const STACK_OF(ASN1_UTF8STRING)* text = TS_STATUS_INFO_get0_text(info);
  for (int i = 0; text != nullptr && i < sk_ASN1_UTF8STRING_num(text); ++i) {
    const ASN1_UTF8STRING* s = sk_ASN1_UTF8STRING_value(text, i);
    out += i == 0 ? ": " : "; ";
    // Printable ASCII only: the text comes from the network.
    const unsigned char* d = ASN1_STRING_get0_data(s);
    for (int k = 0; k < ASN1_STRING_length(s) && k < 200; ++k) {
      out.push_back(d[k] >= 0x20 && d[k] < 0x7f ? char(d[k]) : '?');
    }
  }
  const ASN1_BIT_STRING* fail = TS_STATUS_INFO_get0_failure_info(info);
  if (fail != nullptr) {
    static constexpr std::pair<int, const char*> kBits[] = {
        {TS_INFO_BAD_ALG, "badAlg"},
        {TS_INFO_BAD_REQUEST, "badRequest"},
        {TS_INFO_BAD_DATA_FORMAT, "badDataFormat"},
        {TS_INFO_TIME_NOT_AVAILABLE, "timeNotAvailable"},
        {TS_INFO_UNACCEPTED_POLICY, "unacceptedPolicy"},
        {TS_INFO_UNACCEPTED_EXTENSION, "unacceptedExtension"},
        {TS_INFO_ADD_INFO_NOT_AVAILABLE, "addInfoNotAvailable"},
        {TS_INFO_SYSTEM_FAILURE, "systemFailure"}};
    for (const auto& [bit, name] : kBits) {
      if (ASN1_BIT_STRING_get_bit(fail, bit)) out += std::string(" [") + name + "]";
    }
  }
  return out;
}

// Loads every certificate of a PEM bundle into a fresh store.
StatusOr<StorePtr> LoadTrustStore(const std::string& pem) {
  auto bad = [](std::string m) {
    return InvalidArgument(std::move(m), std::string(kReasonBadTrustBundle));
  };
  if (pem.empty() || pem.size() > kMaxBundleSize) {
    return bad("the trusted time-stamp roots bundle is empty or too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  StorePtr store(X509_STORE_new());
  if (!bio || !store) return OpensslFailure("BIO_new_mem_buf/X509_STORE_new");
  int count = 0;
  while (X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
      return bad("could not add a certificate of the trusted time-stamp roots");
    }
    ++count;
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (count == 0) return bad("no PEM certificate in the trusted time-stamp roots bundle");
  return store;
}

std::string SignerSubject(PKCS7* token) {
  X509StackPtr signers(PKCS7_get0_signers(token, nullptr, 0));
  if (!signers || sk_X509_num(signers.get()) < 1) return "";
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out ||
      X509_NAME_print_ex(out.get(), X509_get_subject_name(sk_X509_value(signers.get(), 0)), 0,
                         kSubjectPrintFlags) < 0) {
    return "";
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, size_t(n)) : std::string();
}

std::string SerialHex(TS_TST_INFO* tst) {
  const ASN1_INTEGER* serial = TS_TST_INFO_get_serial(tst);
  if (serial == nullptr) return "";
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return "";
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::optional<int64_t> GenTime(TS_TST_INFO* tst) {
  const ASN1_GENERALIZEDTIME* t = TS_TST_INFO_get_time(tst);
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return int64_t(timegm(&tm));
}

// Maps a failed TS_RESP_verify_token to a named error.
Status VerifyFailure() {
  std::vector<int> r = DrainTsReasons();
  if (Has(r, TS_R_MESSAGE_IMPRINT_MISMATCH)) return ImprintMismatch();
  if (Has(r, TS_R_CERTIFICATE_VERIFY_ERROR) || Has(r, TS_R_INVALID_SIGNER_CERTIFICATE_PURPOSE) ||
      Has(r, TS_R_TSA_UNTRUSTED)) {
    return DataLoss("the time-stamp signer does not chain to a trusted time-stamping certificate",
                    std::string(kReasonUntrusted));
  }
  if (Has(r, TS_R_SIGNATURE_FAILURE) || Has(r, TS_R_ESS_SIGNING_CERTIFICATE_ERROR) ||
      Has(r, TS_R_THERE_MUST_BE_ONE_SIGNER)) {
    return DataLoss("the time-stamp token's signature does not verify",
                    std::string(kReasonBadSignature));
  }
  if (Has(r, TS_R_WRONG_CONTENT_TYPE) || Has(r, TS_R_NO_CONTENT) || Has(r, TS_R_DETACHED_CONTENT) ||
      Has(r, TS_R_UNSUPPORTED_VERSION) || Has(r, TS_R_BAD_PKCS7_TYPE)) {
    return Malformed("not a well-formed time-stamp token");
  }
  // Anything else (e.g. a PKCS7 digest failure) is a signature that fails.
  return DataLoss("the time-stamp token does not verify", std::string(kReasonBadSignature));
}

uint32_t ReadBigEndian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

}  // namespace

// ---------------------------------------------------------------- protocol

std::vector<uint8_t> MakeRequest(const Digest32& sha256, uint64_t nonce) {
  ErrorQueueScope errors;
  TsReqPtr req = BuildRequest(sha256, nonce);
  if (!req) return {};
  int len = i2d_TS_REQ(req.get(), nullptr);
  if (len <= 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_TS_REQ(req.get(), &p) != len) return {};
  return out;
}

StatusOr<std::vector<uint8_t>> TokenFromResponse(std::span<const uint8_t> resp_der,
                                                 const Digest32& sha256, uint64_t nonce) {
  ErrorQueueScope errors;
  TsRespPtr resp = DecodeWholeOwned<TsRespPtr>(resp_der, d2i_TS_RESP, TS_RESP_free);
  if (!resp) return Malformed("not a DER time-stamp reply (TimeStampResp)");
  TS_STATUS_INFO* info = TS_RESP_get_status_info(resp.get());
  long status = info ? ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(info)) : -1;
  if (status != kStatusGranted && status != kStatusGrantedWithMods) {
    return Unprocessable(DescribeStatus(info, status), std::string(kReasonRejected));
  }
  PKCS7* token = TS_RESP_get_token(resp.get());
  TS_TST_INFO* tst = TS_RESP_get_tst_info(resp.get());
  if (token == nullptr || tst == nullptr) {
    return Malformed("the time-stamp reply is granted but carries no token");
  }
  CUSTOS_RETURN_IF_ERROR(CheckImprint(tst, sha256));
  CUSTOS_RETURN_IF_ERROR(CheckNonce(tst, nonce));
  // The library's own check of the same request (version, imprint, nonce).
  TsReqPtr req = BuildRequest(sha256, nonce);
  if (!req) return OpensslFailure("TS_REQ");
  VerifyCtxPtr ctx(TS_REQ_to_TS_VERIFY_CTX(req.get(), nullptr));
  if (!ctx) return OpensslFailure("TS_REQ_to_TS_VERIFY_CTX");
  if (TS_RESP_verify_response(ctx.get(), resp.get()) != 1) {
    std::vector<int> r = DrainTsReasons();
    if (Has(r, TS_R_NONCE_MISMATCH) || Has(r, TS_R_NONCE_NOT_RETURNED)) {
      return DataLoss("the time-stamp reply's nonce is not the request's",
                      std::string(kReasonNonceMismatch));
    }
    if (Has(r, TS_R_MESSAGE_IMPRINT_MISMATCH)) return ImprintMismatch();
    return Malformed("the time-stamp reply does not match the request");
  }
  std::vector<uint8_t> der = ToDer(token);
  if (der.empty()) return OpensslFailure("i2d_PKCS7");
  return der;
}

StatusOr<TokenInfo> VerifyToken(std::span<const uint8_t> token_der, std::string_view data,
                                const std::string& ca_pem_bundle) {
  ErrorQueueScope errors;
  Pkcs7Ptr token = DecodeWholeOwned<Pkcs7Ptr>(token_der, d2i_PKCS7, PKCS7_free);
  if (!token) return Malformed("not a DER time-stamp token (CMS ContentInfo)");
  TstInfoPtr tst(PKCS7_to_TS_TST_INFO(token.get()));
  if (!tst) return Malformed("the CMS object is not a time-stamp token (no TSTInfo)");
  Digest32 digest = Sha256Of(data);
  CUSTOS_RETURN_IF_ERROR(CheckImprint(tst.get(), digest));
  CUSTOS_ASSIGN_OR_RETURN(StorePtr store, LoadTrustStore(ca_pem_bundle));

  VerifyCtxPtr ctx(TS_VERIFY_CTX_new());
  auto* imprint = static_cast<unsigned char*>(OPENSSL_malloc(digest.size()));
  if (!ctx || imprint == nullptr) {
    OPENSSL_free(imprint);
    return OpensslFailure("TS_VERIFY_CTX_new");
  }
  std::memcpy(imprint, digest.data(), digest.size());
  // The context owns the imprint buffer and the store from here on.
  TS_VERIFY_CTX_set_imprint(ctx.get(), imprint, long(digest.size()));
  TS_VERIFY_CTX_set_store(ctx.get(), store.release());
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
  if (TS_RESP_verify_token(ctx.get(), token.get()) != 1) return VerifyFailure();

  TokenInfo out;
  std::optional<int64_t> gen_time = GenTime(tst.get());
  if (!gen_time) return Malformed("the time-stamp token's genTime is unreadable");
  out.gen_time_unix = *gen_time;
  out.tsa_subject = SignerSubject(token.get());
  out.serial_hex = SerialHex(tst.get());
  return out;
}

// -------------------------------------------------------------- note lines

uint32_t TimestampKeyId(std::string_view tsa_name) {
  Bytes type{kTypeUnassigned};
  type.insert(type.end(), kTimestampTypeIdentifier.begin(), kTimestampTypeIdentifier.end());
  return note::KeyId(tsa_name, type);
}

std::string TimestampLine(std::string_view tsa_name, std::span<const uint8_t> token_der) {
  if (!note::IsValidKeyName(tsa_name)) return "";
  uint32_t id = TimestampKeyId(tsa_name);
  Bytes payload = {uint8_t(id >> 24), uint8_t(id >> 16), uint8_t(id >> 8), uint8_t(id)};
  payload.insert(payload.end(), token_der.begin(), token_der.end());
  std::string line(note::kSignatureLinePrefix);
  line.append(tsa_name);
  line.push_back(' ');
  line.append(Base64Encode(payload));
  line.push_back(kNewline);
  return line;
}

StatusOr<std::vector<uint8_t>> TokenFromLine(std::string_view tsa_name, std::string_view line) {
  if (!line.empty() && line.back() == kNewline) line.remove_suffix(1);
  if (line.substr(0, note::kSignatureLinePrefix.size()) != note::kSignatureLinePrefix) {
    return LineMalformed("a timestamp line starts with an em dash and a space");
  }
  line.remove_prefix(note::kSignatureLinePrefix.size());
  size_t space = line.find(' ');
  if (space == std::string_view::npos) return LineMalformed("a timestamp line is \"— name base64\"");
  std::string_view name = line.substr(0, space);
  std::string_view payload_text = line.substr(space + 1);
  if (!note::IsValidKeyName(name)) return LineMalformed("bad key name in timestamp line");
  if (name != tsa_name) {
    return InvalidArgument("the line is signed by \"" + std::string(name) + "\", not by \"" +
                               std::string(tsa_name) + "\"",
                           std::string(kReasonLineWrongName));
  }
  if (payload_text.size() > (kMaxTokenSize + note::kKeyIdSize) / 3 * 4 + 4) {
    return LineMalformed("timestamp line longer than the token size limit");
  }
  std::optional<Bytes> payload = Base64Decode(payload_text);
  if (!payload || payload->size() <= note::kKeyIdSize) {
    return LineMalformed("bad base64 or no token in timestamp line");
  }
  if (payload->size() - note::kKeyIdSize > kMaxTokenSize) {
    return LineMalformed("timestamp token larger than the size limit");
  }
  if (ReadBigEndian32(payload->data()) != TimestampKeyId(tsa_name)) {
    return InvalidArgument("timestamp line key id is not the one of \"" + std::string(tsa_name) +
                               "\"",
                           std::string(kReasonLineKeyIdMismatch));
  }
  return std::vector<uint8_t>(payload->begin() + note::kKeyIdSize, payload->end());
}

}  // namespace custos::crypto::tsa
