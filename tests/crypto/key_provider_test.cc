// Tests for KEKs (key files, passphrases) and DEK wrapping
// (crypto/key_provider.h).
#include "crypto/key_provider.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/testutil.h"

namespace custos::crypto {
namespace {

using custos::testing::TempDir;

// Cheap but valid scrypt cost for tests (16 MiB).
constexpr uint64_t kTestN = kMinScryptN;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 0777;
}

void WriteRaw(const std::string& path, const Bytes& data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(::fchmod(fd, mode), 0);
  ::close(fd);
}

Kek FixedKek(uint8_t fill) {
  auto k = MakeKek(SecretBytes(Bytes(kKekSize, fill)));
  EXPECT_TRUE(k.ok());
  return std::move(k).value();
}

std::unique_ptr<LocalKeyProvider> Provider(uint8_t current, std::vector<uint8_t> retired = {}) {
  std::vector<Kek> old;
  for (uint8_t r : retired) old.push_back(FixedKek(r));
  auto p = LocalKeyProvider::Create(FixedKek(current), std::move(old));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

bool SameBytes(const SecretBytes& a, const SecretBytes& b) {
  return ConstantTimeEquals(a.data(), a.size(), b.data(), b.size());
}

// ---------------------------------------------------------------------------
// KEK ids

TEST(KeyProviderKekId, DerivedAndStable) {
  Kek a = FixedKek(1);
  EXPECT_EQ(a.id.size(), 2 * kKekIdSize);
  EXPECT_EQ(a.id, KekId(a.key));
  EXPECT_EQ(a.id, FixedKek(1).id);
  EXPECT_NE(a.id, FixedKek(2).id);
  // The id is not a prefix of the key.
  EXPECT_NE(a.id, HexEncode(Bytes(kKekIdSize, 1)));
  EXPECT_EQ(MakeKek(SecretBytes(Bytes(31, 1))).status().reason(), kKekBadSize);
}

// ---------------------------------------------------------------------------
// Key files

TEST(KeyProviderKeyFile, CreateThenLoad) {
  TempDir dir;
  std::string path = dir.Sub("kek.key");
  auto created = CreateKekFile(path);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(ModeOf(path), 0600u);
  auto loaded = LoadKekFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->id, created->id);
  EXPECT_TRUE(SameBytes(loaded->key, created->key));
}

TEST(KeyProviderKeyFile, CreatedModeIgnoresUmask) {
  TempDir dir;
  mode_t old = ::umask(0);
  auto created = CreateKekFile(dir.Sub("kek.key"));
  ::umask(old);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(ModeOf(dir.Sub("kek.key")), 0600u);
}

TEST(KeyProviderKeyFile, CreateRefusesExistingFile) {
  TempDir dir;
  std::string path = dir.Sub("kek.key");
  WriteRaw(path, Bytes(kKekSize, 7), 0600);
  EXPECT_EQ(CreateKekFile(path).status().reason(), kKekFileExists);
  auto loaded = LoadKekFile(path);  // untouched
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(SameBytes(loaded->key, SecretBytes(Bytes(kKekSize, 7))));
}

TEST(KeyProviderKeyFile, RefusesWorldReadable) {
  TempDir dir;
  std::string path = dir.Sub("kek.key");
  WriteRaw(path, Bytes(kKekSize, 7), 0644);
  auto loaded = LoadKekFile(path);
  EXPECT_EQ(loaded.status().reason(), kKekFileInsecure);
  EXPECT_EQ(loaded.status().code(), ErrorCode::kInvalidArgument);
}

TEST(KeyProviderKeyFile, RefusesGroupReadable) {
  TempDir dir;
  std::string path = dir.Sub("kek.key");
  WriteRaw(path, Bytes(kKekSize, 7), 0640);
  EXPECT_EQ(LoadKekFile(path).status().reason(), kKekFileInsecure);
}

TEST(KeyProviderKeyFile, RefusesWrongLength) {
  TempDir dir;
  for (size_t n : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
    std::string path = dir.Sub("kek" + std::to_string(n));
    WriteRaw(path, Bytes(n, 7), 0600);
    EXPECT_EQ(LoadKekFile(path).status().reason(), kKekFileBadSize) << n;
  }
}

TEST(KeyProviderKeyFile, MissingFile) {
  TempDir dir;
  auto loaded = LoadKekFile(dir.Sub("absent"));
  EXPECT_EQ(loaded.status().reason(), kKekFileIo);
  EXPECT_EQ(loaded.status().code(), ErrorCode::kNotFound);
}

TEST(KeyProviderKeyFile, RefusesSymlink) {
  TempDir dir;
  std::string target = dir.Sub("real.key");
  WriteRaw(target, Bytes(kKekSize, 7), 0600);
  ASSERT_EQ(::symlink(target.c_str(), dir.Sub("link.key").c_str()), 0);
  EXPECT_FALSE(LoadKekFile(dir.Sub("link.key")).ok());
}

// ---------------------------------------------------------------------------
// Passphrase KEKs

TEST(KeyProviderPassphrase, DeterministicForSameParams) {
  auto params = NewScryptParams(kTestN, 8, 1);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  auto a = DeriveKekFromPassphrase("correct horse battery staple", *params);
  auto b = DeriveKekFromPassphrase("correct horse battery staple", *params);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->id, b->id);
  EXPECT_TRUE(SameBytes(a->key, b->key));
}

TEST(KeyProviderPassphrase, DifferentPassphraseOrSaltDiffers) {
  auto params = NewScryptParams(kTestN, 8, 1);
  ASSERT_TRUE(params.ok());
  auto a = DeriveKekFromPassphrase("correct horse battery staple", *params);
  auto b = DeriveKekFromPassphrase("correct horse battery stapLe", *params);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->id, b->id);
  EXPECT_FALSE(SameBytes(a->key, b->key));
  auto other_salt = NewScryptParams(kTestN, 8, 1);
  ASSERT_TRUE(other_salt.ok());
  auto c = DeriveKekFromPassphrase("correct horse battery staple", *other_salt);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->id, c->id);
}

// The KEK is scrypt's 32-byte output for the stored parameters (scrypt itself
// is checked against RFC 7914 in cipher_kat_test.cc).
TEST(KeyProviderPassphrase, IsScryptOfPassphraseAndSalt) {
  ScryptParams params{kTestN, 8, 1, ToBytes("SodiumChloride!!")};
  auto kek = DeriveKekFromPassphrase("pleaseletmein", params);
  ASSERT_TRUE(kek.ok());
  Bytes expect(kKekSize);
  ASSERT_EQ(EVP_PBE_scrypt("pleaseletmein", 13, params.salt.data(), params.salt.size(), kTestN, 8,
                           1, 64 << 20, expect.data(), expect.size()),
            1);
  EXPECT_TRUE(SameBytes(kek->key, SecretBytes(expect)));
}

TEST(KeyProviderPassphrase, EmptyPassphrase) {
  auto params = NewScryptParams(kTestN, 8, 1);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(DeriveKekFromPassphrase("", *params).status().reason(), kKekPassphraseEmpty);
}

TEST(KeyProviderPassphrase, ParamsFileRoundTrip) {
  TempDir dir;
  auto params = NewScryptParams(kTestN, 8, 2);
  ASSERT_TRUE(params.ok());
  std::string path = dir.Sub("kek.scrypt");
  ASSERT_TRUE(WriteScryptParamsFile(path, *params).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(WriteScryptParamsFile(path, *params).reason(), kKekFileExists);
  auto read = ReadScryptParamsFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->n, params->n);
  EXPECT_EQ(read->r, 8u);
  EXPECT_EQ(read->p, 2u);
  EXPECT_EQ(read->salt, params->salt);
  auto a = DeriveKekFromPassphrase("pass", *params);
  auto b = DeriveKekFromPassphrase("pass", *read);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->id, b->id);
}

TEST(KeyProviderPassphrase, ParamsTextFormat) {
  ScryptParams p{1 << 15, 8, 1, Bytes(16, 0xab)};
  EXPECT_EQ(EncodeScryptParams(p),
            "format=custos-kek-scrypt-v1\nn=32768\nr=8\np=1\n"
            "salt=abababababababababababababababab\n");
  EXPECT_TRUE(ParseScryptParams(EncodeScryptParams(p)).ok());
}

TEST(KeyProviderPassphrase, ParamsRejectMalformed) {
  const std::string salt = "salt=abababababababababababababababab\n";
  const std::string head = "format=custos-kek-scrypt-v1\n";
  const std::vector<std::string> bad = {
      "",
      head + "n=32768\nr=8\np=1\n" + salt.substr(0, salt.size() - 1),  // no final newline
      "format=other\nn=32768\nr=8\np=1\n" + salt,
      head + "n=32768\np=1\nr=8\n" + salt,                 // order
      head + "n=32768\nr=8\np=1\n" + salt + "x=1\n",       // extra key
      head + "n= 32768\nr=8\np=1\n" + salt,                // whitespace
      head + "n=32767\nr=8\np=1\n" + salt,                 // not a power of two
      head + "n=1024\nr=8\np=1\n" + salt,                  // below the minimum
      head + "n=032768\nr=8\np=1\n" + salt,                // leading zero
      head + "n=32768\nr=0\np=1\n" + salt,                 // r = 0
      head + "n=32768\nr=8\np=17\n" + salt,                // p too large
      head + "n=4194304\nr=64\np=1\n" + salt,              // too much memory
      head + "n=32768\nr=8\np=1\nsalt=abab\n",             // salt too short
      head + "n=32768\nr=8\np=1\nsalt=ABABABABABABABABABABABABABABABAB\n",  // upper case
      head + "n=32768\nr=8\np=1\nsalt=zzababababababababababababababab\n",
      head + "n=99999999999999999999999\nr=8\np=1\n" + salt,  // overflow
  };
  for (const std::string& text : bad) {
    EXPECT_EQ(ParseScryptParams(text).status().reason(), kKekParamsInvalid) << text;
  }
}

// ---------------------------------------------------------------------------
// Wrapping

TEST(KeyProviderWrap, WrapUnwrapRoundTrip) {
  auto provider = Provider(1);
  auto dek = provider->NewDataKey();
  ASSERT_TRUE(dek.ok());
  EXPECT_EQ(dek->size(), kDataKeySize);
  auto wrapped = provider->Wrap(*dek);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ(wrapped->kek_id, provider->current_kek_id());
  EXPECT_EQ(wrapped->wrapped.size(), kDataKeySize + kKeyWrapOverhead);
  auto back = provider->Unwrap(*wrapped);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(SameBytes(*back, *dek));
}

TEST(KeyProviderWrap, NewDataKeysDiffer) {
  auto provider = Provider(1);
  auto a = provider->NewDataKey();
  auto b = provider->NewDataKey();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(SameBytes(*a, *b));
}

TEST(KeyProviderWrap, WrapRejectsBadDekSize) {
  auto provider = Provider(1);
  EXPECT_EQ(provider->Wrap(SecretBytes(Bytes(16, 1))).status().reason(), kDekBadSize);
}

TEST(KeyProviderWrap, UnknownKekId) {
  auto provider = Provider(1);
  auto dek = provider->NewDataKey();
  ASSERT_TRUE(dek.ok());
  auto wrapped = Provider(2)->Wrap(*dek);
  ASSERT_TRUE(wrapped.ok());
  auto back = provider->Unwrap(*wrapped);
  EXPECT_EQ(back.status().reason(), kKekUnknown);
  EXPECT_EQ(back.status().code(), ErrorCode::kNotFound);
}

TEST(KeyProviderWrap, WrongKekUnderRightId) {
  auto provider = Provider(1);
  auto dek = provider->NewDataKey();
  ASSERT_TRUE(dek.ok());
  auto wrapped = Provider(2)->Wrap(*dek);
  ASSERT_TRUE(wrapped.ok());
  wrapped->kek_id = provider->current_kek_id();  // a lying id
  EXPECT_EQ(provider->Unwrap(*wrapped).status().reason(), kDekUnwrapFailed);
}

TEST(KeyProviderWrap, TamperedWrappedKey) {
  auto provider = Provider(1);
  auto dek = provider->NewDataKey();
  ASSERT_TRUE(dek.ok());
  auto wrapped = provider->Wrap(*dek);
  ASSERT_TRUE(wrapped.ok());
  for (size_t i = 0; i < wrapped->wrapped.size(); ++i) {
    WrappedKey bad = *wrapped;
    bad.wrapped[i] ^= 0x01;
    auto back = provider->Unwrap(bad);
    EXPECT_EQ(back.status().reason(), kDekUnwrapFailed) << "byte " << i;
    EXPECT_EQ(back.status().code(), ErrorCode::kDataLoss);
  }
  WrappedKey shorter = *wrapped;
  shorter.wrapped.resize(shorter.wrapped.size() - 8);
  EXPECT_EQ(provider->Unwrap(shorter).status().reason(), kDekUnwrapFailed);
  WrappedKey empty{wrapped->kek_id, {}};
  EXPECT_EQ(provider->Unwrap(empty).status().reason(), kDekUnwrapFailed);
}

TEST(KeyProviderWrap, ShortDekWrappedUnderKekIsRejected) {
  // RFC 5649 pads a 25-byte key to 32 bytes, so its wrapping is 40 bytes
  // like a real DEK's: the provider must still reject the 25-byte result.
  Kek kek = FixedKek(1);
  auto provider = Provider(1);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  Bytes in(25, 9), out(48);
  int len = 0, fin = 0;
  ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap_pad(), nullptr, kek.key.data(), nullptr), 1);
  ASSERT_EQ(EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), 25), 1);
  ASSERT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + len, &fin), 1);
  EVP_CIPHER_CTX_free(ctx);
  out.resize(static_cast<size_t>(len + fin));
  ASSERT_EQ(out.size(), 40u);
  EXPECT_EQ(provider->Unwrap(WrappedKey{kek.id, out}).status().reason(), kDekUnwrapFailed);
}

TEST(KeyProviderRotation, RewrapToNewKekThenUnwrapWithNewOnly) {
  auto old_provider = Provider(1);
  auto dek = old_provider->NewDataKey();
  ASSERT_TRUE(dek.ok());
  auto wrapped_old = old_provider->Wrap(*dek);
  ASSERT_TRUE(wrapped_old.ok());

  // Rotation: new current KEK 2, old KEK 1 retired.
  auto rotating = Provider(2, {1});
  EXPECT_EQ(rotating->kek_ids().size(), 2u);
  auto via_retired = rotating->Unwrap(*wrapped_old);
  ASSERT_TRUE(via_retired.ok());
  EXPECT_TRUE(SameBytes(*via_retired, *dek));
  auto wrapped_new = rotating->Rewrap(*wrapped_old);
  ASSERT_TRUE(wrapped_new.ok()) << wrapped_new.status().ToString();
  EXPECT_EQ(wrapped_new->kek_id, rotating->current_kek_id());
  EXPECT_NE(wrapped_new->wrapped, wrapped_old->wrapped);

  // After rotation the old KEK is gone.
  auto new_only = Provider(2);
  auto back = new_only->Unwrap(*wrapped_new);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(SameBytes(*back, *dek));
  EXPECT_EQ(new_only->Unwrap(*wrapped_old).status().reason(), kKekUnknown);

  // Re-wrapping what is already current changes nothing.
  auto again = rotating->Rewrap(*wrapped_new);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->wrapped, wrapped_new->wrapped);
}

TEST(KeyProviderRotation, RewrapTamperedFails) {
  auto provider = Provider(2, {1});
  auto dek = provider->NewDataKey();
  ASSERT_TRUE(dek.ok());
  auto wrapped = Provider(1)->Wrap(*dek);
  ASSERT_TRUE(wrapped.ok());
  wrapped->wrapped[3] ^= 0x40;
  EXPECT_EQ(provider->Rewrap(*wrapped).status().reason(), kDekUnwrapFailed);
}

TEST(KeyProviderCreate, RejectsDuplicateKek) {
  std::vector<Kek> retired;
  retired.push_back(FixedKek(1));
  auto p = LocalKeyProvider::Create(FixedKek(1), std::move(retired));
  EXPECT_EQ(p.status().reason(), kKekDuplicateId);
}

TEST(KeyProviderCreate, RecomputesLyingId) {
  Kek k = FixedKek(1);
  k.id = "0000000000000000";
  auto p = LocalKeyProvider::Create(std::move(k));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)->current_kek_id(), FixedKek(1).id);
}

TEST(KeyProviderCreate, RejectsBadKekSize) {
  auto p = LocalKeyProvider::Create(Kek{"x", SecretBytes(Bytes(16, 1))});
  EXPECT_EQ(p.status().reason(), kKekBadSize);
}

TEST(KeyProviderThreads, SharedAcrossThreads) {
  auto provider = Provider(2, {1});
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto dek = provider->NewDataKey();
        auto w = dek.ok() ? provider->Wrap(*dek) : StatusOr<WrappedKey>(dek.status());
        auto u = w.ok() ? provider->Unwrap(*w) : StatusOr<SecretBytes>(w.status());
        if (!u.ok() || !SameBytes(*u, *dek)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace custos::crypto
