#include "crypto/signature.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace custos::crypto {

namespace internal {
void PkeyDeleter::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
}  // namespace internal

namespace {

// OpenSSL names of the key types and of the SM2 curve.
constexpr const char* kEd25519KeyType = "ED25519";
constexpr const char* kSm2KeyType = "SM2";
constexpr const char* kSm2GroupName = "SM2";
constexpr const char* kSm3DigestName = "SM3";
constexpr mode_t kPrivateKeyFileMode = 0600;
constexpr mode_t kGroupOtherBits = 0077;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct BnDeleter {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct ParamDeleter {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct ParamBldDeleter {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct EcGroupDeleter {
  void operator()(EC_GROUP* p) const { EC_GROUP_free(p); }
};
struct EcPointDeleter {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamDeleter>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldDeleter>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, EcGroupDeleter>;
using EcPointPtr = std::unique_ptr<EC_POINT, EcPointDeleter>;

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* owned) {
  return std::shared_ptr<EVP_PKEY>(owned, internal::PkeyDeleter());
}

// Drops OpenSSL's thread-local error queue so a failure here does not leak
// into an unrelated later error report.
Status CryptoFailure(const std::string& what) {
  ERR_clear_error();
  return Internal("OpenSSL failure: " + what, "crypto_failure");
}
Status KeyMalformed(const std::string& what) {
  ERR_clear_error();
  return InvalidArgument(what, "key_malformed");
}
Status SignatureInvalid() {
  ERR_clear_error();
  return DataLoss("signature does not verify", "signature_invalid");
}

StatusOr<SignatureAlgorithm> AlgorithmOf(const EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, kEd25519KeyType)) return SignatureAlgorithm::kEd25519;
  if (EVP_PKEY_is_a(pkey, kSm2KeyType)) return SignatureAlgorithm::kSm2Sm3;
  return InvalidArgument("key algorithm is neither Ed25519 nor SM2", "key_unsupported");
}

// 0x04 ‖ X ‖ Y of an SM2 key, whatever point form it was loaded from.
StatusOr<Bytes> Sm2PublicPoint(const EVP_PKEY* pkey) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  bool ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1;
  BnPtr xp(x), yp(y);
  if (!ok) return CryptoFailure("reading the SM2 public point");
  Bytes out(kSm2PublicKeySize);
  out[0] = kSm2UncompressedPointTag;
  if (BN_bn2binpad(x, out.data() + 1, kSm2CoordinateSize) != int(kSm2CoordinateSize) ||
      BN_bn2binpad(y, out.data() + 1 + kSm2CoordinateSize, kSm2CoordinateSize) !=
          int(kSm2CoordinateSize)) {
    return CryptoFailure("encoding the SM2 public point");
  }
  return out;
}

StatusOr<Bytes> RawPublicKey(SignatureAlgorithm algorithm, const EVP_PKEY* pkey) {
  if (algorithm == SignatureAlgorithm::kSm2Sm3) return Sm2PublicPoint(pkey);
  Bytes out(kEd25519PublicKeySize);
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &len) != 1 || len != out.size()) {
    return CryptoFailure("reading the Ed25519 public key");
  }
  return out;
}

// Builds an SM2 EVP_PKEY from OSSL_PARAMs (`selection` public or key pair).
StatusOr<std::shared_ptr<EVP_PKEY>> Sm2FromParams(OSSL_PARAM_BLD* bld, int selection) {
  if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, kSm2GroupName, 0) != 1) {
    return CryptoFailure("OSSL_PARAM_BLD_push_utf8_string");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, kSm2KeyType, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return CryptoFailure("EVP_PKEY_fromdata_init");
  }
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) != 1 || pkey == nullptr) {
    return KeyMalformed("not a valid SM2 key");
  }
  return Share(pkey);
}

StatusOr<std::shared_ptr<EVP_PKEY>> Sm2PublicFromPoint(const uint8_t* p, size_t n) {
  if (n != kSm2PublicKeySize || p[0] != kSm2UncompressedPointTag) {
    return KeyMalformed("an SM2 public key is a 65-byte uncompressed point");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, p, n) != 1) {
    return CryptoFailure("OSSL_PARAM_BLD_push_octet_string");
  }
  return Sm2FromParams(bld.get(), EVP_PKEY_PUBLIC_KEY);
}

// The SM2 scalar d must satisfy 1 ≤ d ≤ n-2 (GB/T 32918.1 §6.1).
bool Sm2ScalarInRange(const BIGNUM* d, const EC_GROUP* group) {
  BnPtr limit(BN_dup(EC_GROUP_get0_order(group)));
  if (!limit || BN_sub_word(limit.get(), 2) != 1) return false;
  return !BN_is_zero(d) && !BN_is_negative(d) && BN_cmp(d, limit.get()) <= 0;
}

StatusOr<std::shared_ptr<EVP_PKEY>> Sm2KeyPairFromScalar(const uint8_t* p, size_t n) {
  if (n != kSm2PrivateKeySize) return KeyMalformed("an SM2 private key is 32 bytes");
  EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_sm2));
  BnPtr d(BN_secure_new());
  if (!group || !d || BN_bin2bn(p, static_cast<int>(n), d.get()) == nullptr) {
    return CryptoFailure("preparing the SM2 scalar");
  }
  BN_set_flags(d.get(), BN_FLG_CONSTTIME);
  if (!Sm2ScalarInRange(d.get(), group.get())) {
    return KeyMalformed("SM2 private scalar out of range");
  }
  EcPointPtr point(EC_POINT_new(group.get()));
  uint8_t encoded[kSm2PublicKeySize];
  if (!point || EC_POINT_mul(group.get(), point.get(), d.get(), nullptr, nullptr, nullptr) != 1 ||
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, encoded,
                         sizeof(encoded), nullptr) != sizeof(encoded)) {
    return CryptoFailure("computing the SM2 public point");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, encoded,
                                       sizeof(encoded)) != 1) {
    return CryptoFailure("building SM2 key parameters");
  }
  return Sm2FromParams(bld.get(), EVP_PKEY_KEYPAIR);
}

StatusOr<Bytes> Sm2RawScalar(const EVP_PKEY* pkey) {
  BIGNUM* d = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
    return CryptoFailure("reading the SM2 private scalar");
  }
  BnPtr dp(d);
  Bytes out(kSm2PrivateKeySize);
  if (BN_bn2binpad(d, out.data(), static_cast<int>(out.size())) != int(out.size())) {
    SecureZero(out.data(), out.size());
    return CryptoFailure("encoding the SM2 private scalar");
  }
  return out;
}

// Applies the SM2 distinguishing identifier to a freshly initialised
// DigestSign/DigestVerify context (before any data is hashed, so the Z value
// is computed with it).
bool SetSm2Id(EVP_MD_CTX* md) {
  EVP_PKEY_CTX* pctx = EVP_MD_CTX_get_pkey_ctx(md);
  return pctx != nullptr &&
         EVP_PKEY_CTX_set1_id(pctx, kSm2DistinguishingId.data(), kSm2DistinguishingId.size()) == 1;
}

// The digest name for EVP_Digest{Sign,Verify}Init_ex: none for Ed25519.
const char* DigestNameFor(SignatureAlgorithm algorithm) {
  return algorithm == SignatureAlgorithm::kSm2Sm3 ? kSm3DigestName : nullptr;
}

// Never prompts: encrypted PEM input is refused.
int RefusePassphrase(char*, int, int, void*) { return -1; }

BioPtr ReadOnlyBio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Status WriteAll(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Internal(std::string("write: ") + std::strerror(errno), "key_file_io");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status FsyncDirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal("open directory " + dir + ": " + std::strerror(errno), "key_file_io");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return Internal("fsync directory " + dir + ": " + std::strerror(errno), "key_file_io");
  return Status::Ok();
}

StatusOr<SecretBytes> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("no key file at " + path, "key_file_not_found");
    return Internal("open " + path + ": " + std::strerror(errno), "key_file_io");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Internal("stat " + path + ": " + std::strerror(errno), "key_file_io");
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & kGroupOtherBits) != 0) {
    ::close(fd);
    return PermissionDenied(
        "private key file " + path + " must be a regular file with mode 0600 or stricter",
        "key_file_insecure");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileSize) {
    ::close(fd);
    return InvalidArgument("key file " + path + " is too large", "key_malformed");
  }
  SecretBytes buf(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  if (got != buf.size()) return Internal("short read of " + path, "key_file_io");
  return buf;
}

}  // namespace

std::string_view SignatureAlgorithmName(SignatureAlgorithm algorithm) {
  return algorithm == SignatureAlgorithm::kSm2Sm3 ? "sm2-sm3" : "ed25519";
}

// ---------------------------------------------------------------- PublicKey

StatusOr<PublicKey> PublicKey::FromPkey(std::shared_ptr<EVP_PKEY> pkey) {
  CUSTOS_ASSIGN_OR_RETURN(SignatureAlgorithm algorithm, AlgorithmOf(pkey.get()));
  CUSTOS_ASSIGN_OR_RETURN(Bytes raw, RawPublicKey(algorithm, pkey.get()));
  return PublicKey(algorithm, std::move(pkey), std::move(raw));
}

StatusOr<PublicKey> PublicKey::FromRaw(SignatureAlgorithm algorithm, const uint8_t* p, size_t n) {
  if (algorithm == SignatureAlgorithm::kSm2Sm3) {
    CUSTOS_ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> pkey, Sm2PublicFromPoint(p, n));
    return FromPkey(std::move(pkey));
  }
  if (n != kEd25519PublicKeySize) return KeyMalformed("an Ed25519 public key is 32 bytes");
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, n);
  if (pkey == nullptr) return KeyMalformed("not a valid Ed25519 public key");
  return FromPkey(Share(pkey));
}

StatusOr<PublicKey> PublicKey::FromPem(std::string_view pem) {
  BioPtr bio = ReadOnlyBio(pem);
  if (!bio) return CryptoFailure("BIO_new_mem_buf");
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, RefusePassphrase, nullptr);
  if (pkey == nullptr) return KeyMalformed("not a PEM public key");
  return FromPkey(Share(pkey));
}

StatusOr<std::string> PublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) {
    return CryptoFailure("PEM_write_bio_PUBKEY");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Status PublicKey::Verify(const uint8_t* message, size_t message_size, const uint8_t* signature,
                         size_t signature_size) const {
  static constexpr uint8_t kEmpty = 0;
  if (message_size == 0) message = &kEmpty;
  if (signature_size == 0) return SignatureInvalid();
  MdCtxPtr md(EVP_MD_CTX_new());
  if (!md) return CryptoFailure("EVP_MD_CTX_new");
  if (EVP_DigestVerifyInit_ex(md.get(), nullptr, DigestNameFor(algorithm_), nullptr, nullptr,
                              pkey_.get(), nullptr) != 1) {
    return CryptoFailure("EVP_DigestVerifyInit_ex");
  }
  if (algorithm_ == SignatureAlgorithm::kSm2Sm3 && !SetSm2Id(md.get())) {
    return CryptoFailure("setting the SM2 distinguishing id");
  }
  if (EVP_DigestVerify(md.get(), signature, signature_size, message, message_size) != 1) {
    return SignatureInvalid();
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ KeyPair

StatusOr<KeyPair> KeyPair::FromPkey(EVP_PKEY* owned) {
  std::shared_ptr<EVP_PKEY> pkey = Share(owned);
  CUSTOS_ASSIGN_OR_RETURN(PublicKey public_key, PublicKey::FromPkey(pkey));
  return KeyPair(std::move(pkey), std::move(public_key));
}

StatusOr<KeyPair> KeyPair::Generate(SignatureAlgorithm algorithm) {
  const char* type = algorithm == SignatureAlgorithm::kSm2Sm3 ? kSm2KeyType : kEd25519KeyType;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) return CryptoFailure("EVP_PKEY_keygen_init");
  if (algorithm == SignatureAlgorithm::kSm2Sm3) {
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                            const_cast<char*>(kSm2GroupName), 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_PKEY_CTX_set_params(ctx.get(), params) != 1) return CryptoFailure("SM2 group");
  }
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &pkey) != 1 || pkey == nullptr) {
    return CryptoFailure("EVP_PKEY_generate");
  }
  return FromPkey(pkey);
}

StatusOr<KeyPair> KeyPair::FromRawPrivateKey(SignatureAlgorithm algorithm, const uint8_t* p,
                                             size_t n) {
  if (algorithm == SignatureAlgorithm::kSm2Sm3) {
    CUSTOS_ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> pkey, Sm2KeyPairFromScalar(p, n));
    CUSTOS_ASSIGN_OR_RETURN(PublicKey public_key, PublicKey::FromPkey(pkey));
    return KeyPair(std::move(pkey), std::move(public_key));
  }
  if (n != kEd25519SeedSize) return KeyMalformed("an Ed25519 seed is 32 bytes");
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, p, n);
  if (pkey == nullptr) return CryptoFailure("EVP_PKEY_new_raw_private_key");
  return FromPkey(pkey);
}

StatusOr<KeyPair> KeyPair::FromPem(std::string_view pem) {
  BioPtr bio = ReadOnlyBio(pem);
  if (!bio) return CryptoFailure("BIO_new_mem_buf");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassphrase, nullptr);
  if (pkey == nullptr) return KeyMalformed("not an unencrypted PEM private key");
  return FromPkey(pkey);
}

StatusOr<KeyPair> KeyPair::LoadPrivateKeyFile(const std::string& path) {
  CUSTOS_ASSIGN_OR_RETURN(SecretBytes pem, ReadKeyFile(path));
  StatusOr<KeyPair> key =
      FromPem(std::string_view(reinterpret_cast<const char*>(pem.data()), pem.size()));
  if (!key.ok()) return key.status().WithContext(path);
  return key;
}

StatusOr<SecretBytes> KeyPair::PrivateKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return CryptoFailure("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len));
}

StatusOr<SecretBytes> KeyPair::RawPrivateKey() const {
  if (algorithm() == SignatureAlgorithm::kSm2Sm3) {
    CUSTOS_ASSIGN_OR_RETURN(Bytes d, Sm2RawScalar(pkey_.get()));
    return SecretBytes(std::move(d));
  }
  SecretBytes seed(kEd25519SeedSize);
  size_t len = seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey_.get(), seed.data(), &len) != 1 || len != seed.size()) {
    return CryptoFailure("EVP_PKEY_get_raw_private_key");
  }
  return seed;
}

Status KeyPair::SavePrivateKeyFile(const std::string& path) const {
  CUSTOS_ASSIGN_OR_RETURN(SecretBytes pem, PrivateKeyPem());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kPrivateKeyFileMode);
  if (fd < 0) {
    if (errno == EEXIST) return Conflict(path + " already exists", "key_file_exists");
    return Internal("create " + path + ": " + std::strerror(errno), "key_file_io");
  }
  Status st = ::fchmod(fd, kPrivateKeyFileMode) == 0
                  ? WriteAll(fd, pem.data(), pem.size())
                  : Internal("fchmod " + path + ": " + std::strerror(errno), "key_file_io");
  if (st.ok() && ::fsync(fd) != 0) {
    st = Internal("fsync " + path + ": " + std::strerror(errno), "key_file_io");
  }
  if (::close(fd) != 0 && st.ok()) {
    st = Internal("close " + path + ": " + std::strerror(errno), "key_file_io");
  }
  if (st.ok()) st = FsyncDirectoryOf(path);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

StatusOr<Bytes> KeyPair::Sign(const uint8_t* message, size_t message_size) const {
  static constexpr uint8_t kEmpty = 0;
  if (message_size == 0) message = &kEmpty;
  MdCtxPtr md(EVP_MD_CTX_new());
  if (!md) return CryptoFailure("EVP_MD_CTX_new");
  if (EVP_DigestSignInit_ex(md.get(), nullptr, DigestNameFor(algorithm()), nullptr, nullptr,
                            pkey_.get(), nullptr) != 1) {
    return CryptoFailure("EVP_DigestSignInit_ex");
  }
  if (algorithm() == SignatureAlgorithm::kSm2Sm3 && !SetSm2Id(md.get())) {
    return CryptoFailure("setting the SM2 distinguishing id");
  }
  size_t len =
      algorithm() == SignatureAlgorithm::kSm2Sm3 ? kSm2MaxSignatureSize : kEd25519SignatureSize;
  Bytes sig(len);
  if (EVP_DigestSign(md.get(), sig.data(), &len, message, message_size) != 1) {
    return CryptoFailure("EVP_DigestSign");
  }
  sig.resize(len);
  return sig;
}

}  // namespace custos::crypto
