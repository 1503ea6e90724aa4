// Derived data sealed under a stored file's own key
// (ContentStore::SealDerived / OpenDerived, docs/formats/envelope.md
// "Derived data"): the round trip in both suites, the derived file id, and
// each way a seal must fail to open — another purpose, another file, a
// changed byte, a destroyed file — and that the seal holds no plaintext.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/envelope.h"
#include "crypto/hash.h"
#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "storage/content_store.h"
#include "storage/file_texts.h"
#include "tests/testutil/memory_blob_store.h"

namespace custos::storage {
namespace {

// Extracted text as the pipeline would seal it: Chinese next to ASCII.
const std::string kText =
    "采购合同 Purchase Contract CT-2026-000123\n第三条 价格调整：甲方与乙方协商一致。penalty clause 违约金 5%";

std::unique_ptr<crypto::LocalKeyProvider> NewKeyProvider() {
  auto key = crypto::RandomBytes(crypto::kKekSize);
  auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(*key)));
  return std::move(crypto::LocalKeyProvider::Create(std::move(*kek)).value());
}

class ContentStoreDerived : public ::testing::TestWithParam<crypto::Suite> {
 protected:
  void SetUp() override {
    keys_ = NewKeyProvider();
    content_ = std::make_unique<ContentStore>(blobs_, *keys_, GetParam());
    file_ = Stored("合同正文.pdf contract body");
    other_ = Stored("另一个文件 another file");
  }

  // A stored file (its recorded fields) with `body` as content.
  domain::StoredFile Stored(const std::string& body) {
    std::vector<uint8_t> bytes(body.begin(), body.end());
    MemorySource source(bytes);
    auto c = content_->Put(source, UINT64_MAX);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    domain::StoredFile f;
    f.id = c->file_id;
    f.blob_id = c->blob_id;
    f.kek_id = c->kek_id;
    f.wrapped_dek = c->wrapped_dek;
    f.sha256 = c->sha256;
    return f;
  }

  std::vector<uint8_t> SealOk(const domain::StoredFile& f, const std::string& purpose, const std::string& text) {
    auto sealed = content_->SealDerived(f, purpose, text);
    EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
    return sealed.ok() ? *sealed : std::vector<uint8_t>{};
  }

  MemoryBlobStore blobs_;
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  std::unique_ptr<ContentStore> content_;
  domain::StoredFile file_;
  domain::StoredFile other_;
};

TEST_P(ContentStoreDerived, RoundTripChineseText) {
  const std::vector<uint8_t> sealed = SealOk(file_, kTextPurpose, kText);
  auto opened = content_->OpenDerived(file_, kTextPurpose, sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, kText);
  // Empty text seals too (one empty final chunk).
  auto empty = content_->OpenDerived(file_, kTextPurpose, SealOk(file_, kTextPurpose, ""));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(*empty, "");
}

TEST_P(ContentStoreDerived, EnvelopeCarriesTheDerivedFileIdNotTheFileId) {
  const std::vector<uint8_t> sealed = SealOk(file_, kTextPurpose, kText);
  ASSERT_GE(sealed.size(), crypto::kEnvelopeHeaderSize);
  const std::vector<uint8_t> id_in_header(sealed.begin() + 12, sealed.begin() + 12 + crypto::kFileIdSize);
  // SHA-256("custos-derived-v1\0" "text" "\0" + file id hex), first 16 bytes.
  const crypto::Digest32 digest = crypto::Sha256Of(std::string("custos-derived-v1\0text\0", 23) + file_.id.value);
  EXPECT_EQ(id_in_header, std::vector<uint8_t>(digest.begin(), digest.begin() + 16));
  const crypto::FileId derived = DerivedFileId(file_.id, kTextPurpose);
  EXPECT_TRUE(std::equal(derived.begin(), derived.end(), id_in_header.begin()));
  EXPECT_NE(crypto::HexEncode(derived.data(), derived.size()), file_.id.value);
}

TEST(DerivedFileId, MatchesTheDocumentedVectors) {
  // docs/formats/envelope.md "Derived data" (computed with Python's hashlib).
  const domain::FileId id{"00112233445566778899aabbccddeeff"};
  const crypto::FileId text = DerivedFileId(id, kTextPurpose);
  const crypto::FileId preview = DerivedFileId(id, "preview");
  EXPECT_EQ(crypto::HexEncode(text.data(), text.size()), "ef804612b0f468f5a559ec9ff435f322");
  EXPECT_EQ(crypto::HexEncode(preview.data(), preview.size()), "1fab1af931eff8c84346f0435c15a3aa");
}

TEST_P(ContentStoreDerived, WrongPurposeFails) {
  const std::vector<uint8_t> sealed = SealOk(file_, kTextPurpose, kText);
  auto opened = content_->OpenDerived(file_, "preview", sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(opened.status().reason(), crypto::kEnvelopeWrongFileId);
}

TEST_P(ContentStoreDerived, AnotherFilesSealFails) {
  const std::vector<uint8_t> sealed = SealOk(other_, kTextPurpose, kText);
  auto opened = content_->OpenDerived(file_, kTextPurpose, sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
}

TEST_P(ContentStoreDerived, AnotherFilesKeyUnderThisFilesIdFails) {
  // The other file's DEK with this file's id: the id matches, the key not.
  domain::StoredFile forged = other_;
  forged.id = file_.id;
  const std::vector<uint8_t> sealed = SealOk(forged, kTextPurpose, kText);
  auto opened = content_->OpenDerived(file_, kTextPurpose, sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(opened.status().reason(), crypto::kEnvelopeChunkTagMismatch);
}

TEST_P(ContentStoreDerived, ChangedByteFails) {
  const std::vector<uint8_t> sealed = SealOk(file_, kTextPurpose, kText);
  // Every byte of the envelope, header and records alike.
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::vector<uint8_t> changed = sealed;
    changed[i] ^= 0x01;
    auto opened = content_->OpenDerived(file_, kTextPurpose, changed);
    EXPECT_FALSE(opened.ok()) << "byte " << i;
  }
  std::vector<uint8_t> truncated(sealed.begin(), sealed.end() - 1);
  EXPECT_EQ(content_->OpenDerived(file_, kTextPurpose, truncated).status().code(), ErrorCode::kDataLoss);
}

TEST_P(ContentStoreDerived, DestroyedFileRefusesBothWays) {
  const std::vector<uint8_t> sealed = SealOk(file_, kTextPurpose, kText);
  domain::StoredFile destroyed = file_;
  destroyed.wrapped_dek.clear();
  auto seal = content_->SealDerived(destroyed, kTextPurpose, kText);
  ASSERT_FALSE(seal.ok());
  EXPECT_EQ(seal.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(seal.status().reason(), kContentDestroyed);
  auto open = content_->OpenDerived(destroyed, kTextPurpose, sealed);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(open.status().reason(), kContentDestroyed);
}

TEST_P(ContentStoreDerived, MalformedFileIdRefused) {
  domain::StoredFile bad = file_;
  bad.id = domain::FileId{"合同-not-hex"};
  auto seal = content_->SealDerived(bad, kTextPurpose, kText);
  ASSERT_FALSE(seal.ok());
  EXPECT_EQ(seal.status().reason(), kInvalidFileId);
}

TEST_P(ContentStoreDerived, SealedBytesHoldNoPlaintext) {
  const std::vector<uint8_t> sealed = SealOk(file_, kTextPurpose, kText);
  const std::string bytes(sealed.begin(), sealed.end());
  for (const char* piece : {"采购", "合同", "价格调整", "Purchase", "penalty", "CT-2026"}) {
    EXPECT_EQ(bytes.find(piece), std::string::npos) << piece;
  }
  // Each seal has its own salt: sealing again gives other bytes.
  EXPECT_NE(SealOk(file_, kTextPurpose, kText), sealed);
}

INSTANTIATE_TEST_SUITE_P(Suites, ContentStoreDerived, ::testing::Values(crypto::Suite::kIntl, crypto::Suite::kGm),
                         [](const ::testing::TestParamInfo<crypto::Suite>& info) {
                           return std::string(crypto::SuiteName(info.param));
                         });

}  // namespace
}  // namespace custos::storage
