#include "crypto/key_provider.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/envelope.h"
#include "crypto/random.h"

namespace custos::crypto {

static_assert(kDataKeySize == kEnvelopeKeySize, "a data key is an envelope key");

namespace {

constexpr mode_t kPrivateFileMode = 0600;
constexpr mode_t kGroupOtherBits = 0077;

Status CryptoFailure(std::string_view what) {
  return Internal("OpenSSL failed: " + std::string(what), std::string(kKeyCryptoFailure));
}
Status IoError(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(msg), std::string(kKekFileIo));
  return Internal(std::move(msg), std::string(kKekFileIo));
}
Status ParamsInvalid(std::string message) {
  return InvalidArgument(std::move(message), std::string(kKekParamsInvalid));
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result.
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAllFd(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return IoError("cannot write", path, w < 0 ? errno : EIO);
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

// Creates `path` exclusively with mode 0600 and writes `n` bytes, fsynced.
// Removes the file again if anything after its creation fails.
Status WritePrivateFileExclusive(const std::string& path, const uint8_t* p, size_t n) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               kPrivateFileMode));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      return Conflict("refusing to overwrite " + path, std::string(kKekFileExists));
    }
    return IoError("cannot create", path, errno);
  }
  Status s = ::fchmod(fd.get(), kPrivateFileMode) == 0 ? Status::Ok()
                                                        : IoError("cannot chmod", path, errno);
  if (s.ok()) s = WriteAllFd(fd.get(), p, n, path);
  if (s.ok() && ::fsync(fd.get()) != 0) s = IoError("cannot fsync", path, errno);
  if (s.ok() && fd.Close() != 0) s = IoError("cannot close", path, errno);
  if (!s.ok()) ::unlink(path.c_str());
  return s;
}

// Reads up to `max` bytes of a regular file. With `key_file`, first refuses
// a file that group or others may access or that is not kKekSize bytes, so
// such a file's bytes are never read.
StatusOr<size_t> ReadSmallFile(const std::string& path, uint8_t* out, size_t max,
                               bool key_file) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return IoError("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return IoError("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(path + " is not a regular file", std::string(kKekFileInsecure));
  }
  if (key_file && (st.st_mode & kGroupOtherBits) != 0) {
    return InvalidArgument(path + " is accessible to group or others (want mode 0600)",
                           std::string(kKekFileInsecure));
  }
  if (key_file && st.st_size != static_cast<off_t>(kKekSize)) {
    return InvalidArgument(path + " must hold exactly 32 bytes", std::string(kKekFileBadSize));
  }
  size_t got = 0;
  while (got < max) {
    ssize_t r = ::read(fd.get(), out + got, max - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return IoError("cannot read", path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

// Parses "key=<decimal>" with no sign, no leading zeros beyond "0", no spaces.
bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Splits `text` into lines that each end in '\n'; false if the last lacks it.
bool SplitLines(std::string_view text, std::vector<std::string_view>* lines) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    lines->push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return true;
}

// "key=value" with the expected key; returns the value.
bool TakeValue(std::string_view line, std::string_view key, std::string_view* value) {
  if (line.size() <= key.size() || line.substr(0, key.size()) != key ||
      line[key.size()] != '=') {
    return false;
  }
  *value = line.substr(key.size() + 1);
  return true;
}

StatusOr<SecretBytes> KeyWrap(const SecretBytes& kek, const uint8_t* in, size_t n,
                              bool wrap) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return CryptoFailure("cipher context");
  EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  SecretBytes out(n + 16);
  int len = 0;
  int fin = 0;
  bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr,
                              wrap ? 1 : 0) == 1 &&
            EVP_CipherUpdate(ctx, out.data(), &len, in, static_cast<int>(n)) == 1 && len > 0 &&
            EVP_CipherFinal_ex(ctx, out.data() + len, &fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    if (wrap) return CryptoFailure("AES key wrap");
    return DataLoss("the wrapped data key failed its integrity check",
                    std::string(kDekUnwrapFailed));
  }
  return SecretBytes(out.data(), static_cast<size_t>(len + fin));
}

}  // namespace

// ---- KEKs ----

std::string KekId(const SecretBytes& key) {
  Bytes input(kKekIdLabel.begin(), kKekIdLabel.end());
  input.push_back(0x00);
  input.insert(input.end(), key.data(), key.data() + key.size());
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  int rc = EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
  SecureZero(input.data(), input.size());
  if (rc != 1) return std::string();  // unreachable with the default provider
  return HexEncode(digest, kKekIdSize);
}

StatusOr<Kek> MakeKek(SecretBytes key) {
  if (key.size() != kKekSize) {
    return InvalidArgument("a KEK must be 32 bytes", std::string(kKekBadSize));
  }
  std::string id = KekId(key);
  if (id.empty()) return CryptoFailure("SHA-256");
  return Kek{std::move(id), std::move(key)};
}

StatusOr<Kek> CreateKekFile(const std::string& path) {
  SecretBytes key(kKekSize);
  CUSTOS_RETURN_IF_ERROR(RandomFill(key.data(), key.size()));
  CUSTOS_RETURN_IF_ERROR(WritePrivateFileExclusive(path, key.data(), key.size()));
  return MakeKek(std::move(key));
}

StatusOr<Kek> LoadKekFile(const std::string& path) {
  SecretBytes key(kKekSize + 1);  // one extra byte detects a file that grew
  CUSTOS_ASSIGN_OR_RETURN(size_t got,
                          ReadSmallFile(path, key.data(), key.size(), /*key_file=*/true));
  if (got != kKekSize) {
    return InvalidArgument(path + " must hold exactly 32 bytes", std::string(kKekFileBadSize));
  }
  return MakeKek(SecretBytes(key.data(), kKekSize));
}

// ---- scrypt ----

Status ValidateScryptParams(const ScryptParams& params) {
  uint64_t n = params.n;
  if (n < kMinScryptN || (n & (n - 1)) != 0) {
    return ParamsInvalid("scrypt n must be a power of two of at least 16384");
  }
  if (params.r < 1 || params.p < 1 || params.p > kMaxScryptP) {
    return ParamsInvalid("scrypt r or p out of range");
  }
  // Overflow-safe: 128·r·(n + p) ≤ kMaxScryptMemory.
  uint64_t per_r = kMaxScryptMemory / 128 / params.r;
  if (n + params.p > per_r) return ParamsInvalid("scrypt parameters need too much memory");
  if (params.salt.size() < kMinScryptSaltSize || params.salt.size() > kMaxScryptSaltSize) {
    return ParamsInvalid("scrypt salt must be 16 to 64 bytes");
  }
  return Status::Ok();
}

StatusOr<ScryptParams> NewScryptParams(uint64_t n, uint32_t r, uint32_t p) {
  ScryptParams params{n, r, p, Bytes(kScryptSaltSize)};
  CUSTOS_RETURN_IF_ERROR(RandomFill(params.salt.data(), params.salt.size()));
  CUSTOS_RETURN_IF_ERROR(ValidateScryptParams(params));
  return params;
}

std::string EncodeScryptParams(const ScryptParams& params) {
  return "format=" + std::string(kScryptParamsFormat) + "\n" +
         "n=" + std::to_string(params.n) + "\n" + "r=" + std::to_string(params.r) + "\n" +
         "p=" + std::to_string(params.p) + "\n" + "salt=" + HexEncode(params.salt) + "\n";
}

StatusOr<ScryptParams> ParseScryptParams(std::string_view text) {
  std::vector<std::string_view> lines;
  if (!SplitLines(text, &lines) || lines.size() != 5) {
    return ParamsInvalid("scrypt parameter file must have exactly five lines");
  }
  std::string_view format, n, r, p, salt;
  if (!TakeValue(lines[0], "format", &format) || format != kScryptParamsFormat) {
    return ParamsInvalid("not a custos-kek-scrypt-v1 parameter file");
  }
  if (!TakeValue(lines[1], "n", &n) || !TakeValue(lines[2], "r", &r) ||
      !TakeValue(lines[3], "p", &p) || !TakeValue(lines[4], "salt", &salt)) {
    return ParamsInvalid("expected the keys format, n, r, p, salt in that order");
  }
  ScryptParams params;
  uint64_t r64 = 0, p64 = 0;
  if (!ParseDecimal(n, &params.n) || !ParseDecimal(r, &r64) || !ParseDecimal(p, &p64) ||
      r64 > UINT32_MAX || p64 > UINT32_MAX) {
    return ParamsInvalid("scrypt n, r and p must be decimal numbers");
  }
  params.r = static_cast<uint32_t>(r64);
  params.p = static_cast<uint32_t>(p64);
  std::optional<Bytes> salt_bytes = HexDecode(salt);
  if (!salt_bytes || HexEncode(*salt_bytes) != salt) {
    return ParamsInvalid("scrypt salt must be lower-case hex");
  }
  params.salt = std::move(*salt_bytes);
  CUSTOS_RETURN_IF_ERROR(ValidateScryptParams(params));
  return params;
}

Status WriteScryptParamsFile(const std::string& path, const ScryptParams& params) {
  CUSTOS_RETURN_IF_ERROR(ValidateScryptParams(params));
  std::string text = EncodeScryptParams(params);
  return WritePrivateFileExclusive(path, reinterpret_cast<const uint8_t*>(text.data()),
                                   text.size());
}

StatusOr<ScryptParams> ReadScryptParamsFile(const std::string& path) {
  constexpr size_t kMaxParamsFileSize = 4096;
  std::string text(kMaxParamsFileSize + 1, '\0');
  CUSTOS_ASSIGN_OR_RETURN(size_t got, ReadSmallFile(path, reinterpret_cast<uint8_t*>(text.data()),
                                                    text.size(), /*key_file=*/false));
  if (got > kMaxParamsFileSize) return ParamsInvalid(path + " is too large");
  text.resize(got);
  return ParseScryptParams(text);
}

StatusOr<Kek> DeriveKekFromPassphrase(std::string_view passphrase, const ScryptParams& params) {
  if (passphrase.empty()) {
    return InvalidArgument("the passphrase is empty", std::string(kKekPassphraseEmpty));
  }
  CUSTOS_RETURN_IF_ERROR(ValidateScryptParams(params));
  // OpenSSL needs 128·r·(N + 2) + 128·r·p bytes; allow a little slack.
  uint64_t maxmem = 128 * uint64_t{params.r} * (params.n + 2 + params.p) + (1 << 20);
  SecretBytes key(kKekSize);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), params.salt.data(),
                     params.salt.size(), params.n, params.r, params.p, maxmem, key.data(),
                     key.size()) != 1) {
    return CryptoFailure("scrypt");
  }
  return MakeKek(std::move(key));
}

// ---- Providers ----

KeyProvider::~KeyProvider() = default;

StatusOr<WrappedKey> KeyProvider::Rewrap(const WrappedKey& wrapped) const {
  CUSTOS_ASSIGN_OR_RETURN(SecretBytes dek, Unwrap(wrapped));
  return Wrap(dek);
}

StatusOr<SecretBytes> KeyProvider::NewDataKey() const {
  SecretBytes dek(kDataKeySize);
  CUSTOS_RETURN_IF_ERROR(RandomFill(dek.data(), dek.size()));
  return dek;
}

StatusOr<std::unique_ptr<LocalKeyProvider>> LocalKeyProvider::Create(Kek current,
                                                                     std::vector<Kek> retired) {
  std::vector<Kek> keks;
  keks.push_back(std::move(current));
  for (Kek& k : retired) keks.push_back(std::move(k));
  for (size_t i = 0; i < keks.size(); ++i) {
    CUSTOS_ASSIGN_OR_RETURN(keks[i], MakeKek(std::move(keks[i].key)));
    for (size_t j = 0; j < i; ++j) {
      if (keks[j].id == keks[i].id) {
        return InvalidArgument("KEK " + keks[i].id + " is listed twice",
                               std::string(kKekDuplicateId));
      }
    }
  }
  return std::unique_ptr<LocalKeyProvider>(new LocalKeyProvider(std::move(keks)));
}

const Kek* LocalKeyProvider::Find(std::string_view id) const {
  for (const Kek& k : keks_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

std::vector<std::string> LocalKeyProvider::kek_ids() const {
  std::vector<std::string> ids;
  for (const Kek& k : keks_) ids.push_back(k.id);
  return ids;
}

StatusOr<WrappedKey> LocalKeyProvider::Wrap(const SecretBytes& dek) const {
  if (dek.size() != kDataKeySize) {
    return InvalidArgument("a data key must be 32 bytes", std::string(kDekBadSize));
  }
  const Kek& kek = keks_.front();
  CUSTOS_ASSIGN_OR_RETURN(SecretBytes out, KeyWrap(kek.key, dek.data(), dek.size(), true));
  return WrappedKey{kek.id, Bytes(out.data(), out.data() + out.size())};
}

StatusOr<SecretBytes> LocalKeyProvider::Unwrap(const WrappedKey& wrapped) const {
  const Kek* kek = Find(wrapped.kek_id);
  if (kek == nullptr) {
    return NotFound("no KEK with id \"" + wrapped.kek_id + "\" is loaded",
                    std::string(kKekUnknown));
  }
  if (wrapped.wrapped.size() != kDataKeySize + kKeyWrapOverhead) {
    return DataLoss("the wrapped data key has the wrong length", std::string(kDekUnwrapFailed));
  }
  CUSTOS_ASSIGN_OR_RETURN(SecretBytes dek, KeyWrap(kek->key, wrapped.wrapped.data(),
                                                    wrapped.wrapped.size(), false));
  if (dek.size() != kDataKeySize) {
    return DataLoss("the unwrapped data key has the wrong length", std::string(kDekUnwrapFailed));
  }
  return dek;
}

}  // namespace custos::crypto
