// RecordService::Compare (docs/api.md "Version comparison") on a real
// SQLite store: texts put in place as the pipeline would (sealed under each
// file's key). Files paired by name (added, removed, changed, unchanged),
// the Chinese clause changed by character, files whose text is pending,
// absent or failed, the catalogue change between the versions, one
// content.read per text read naming the other version, and each refusal
// (invalid_compare, version_not_found, content_forbidden,
// content_destroyed) with nothing logged.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "server/services/loan_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "storage/content_store.h"
#include "storage/file_texts.h"
#include "storage/log_leaf.h"
#include "tests/storage/store_test_util.h"
#include "tests/server/service_test_util.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/scratch_store.h"

namespace custos::services {
namespace {

using domain::RecordId;
using domain::Role;
using domain::StoredFile;

using test_util::Must;
using test_util::NewKeyProvider;
using test_util::User;

// A file to check in: name and bytes.
struct Part {
  std::string name;
  std::string bytes;
};

class CompareServiceTest : public ::testing::Test {
 protected:
  CompareServiceTest()
      : store_(&signer_.checkpoint),
        keys_(NewKeyProvider()),
        content_(blobs_, *keys_, crypto::Suite::kIntl),
        clock_(domain::ParseTime("2026-03-02T09:00:00Z").value()),
        log_(store_, ""),
        records_(store_, content_, blobs_, log_, clock_, nullptr),
        loans_(store_, clock_) {
    Status s = store_.Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "records", "legal"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // Checks in a sales record with `parts` as version 1; returns its files.
  std::vector<StoredFile> CheckIn(const std::vector<Part>& parts) {
    RecordInput in;
    in.type = "general";
    in.title = "采购合同 Purchase contract";
    in.department = "sales";
    in.classification = "internal";
    auto c = records_.BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return {};
    }
    for (const Part& p : parts) Add(**c, p);
    CheckInResult r = Must((*c)->Commit(), "commit");
    id_ = r.detail.record.id;
    return r.detail.versions.empty() ? std::vector<StoredFile>{} : r.detail.versions[0].files;
  }

  // Adds a version of `parts`; returns its files.
  std::vector<StoredFile> NewVersion(const std::vector<Part>& parts, const std::string& note) {
    clock_.Advance(std::chrono::minutes(5));
    auto c = records_.BeginVersion(arch_, id_, "amendment", note);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return {};
    }
    for (const Part& p : parts) Add(**c, p);
    CheckInResult r = Must((*c)->Commit(), "commit version");
    return r.detail.versions.back().files;
  }

  static void Add(services::CheckIn& c, const Part& p) {
    crypto::Bytes b(p.bytes.begin(), p.bytes.end());
    MemorySource source(b);
    Status s = c.AddFile({p.name, "text/plain"}, source);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // The pipeline's row for `file`: its text sealed under the file's key
  // when state is kText.
  void Extracted(const StoredFile& file, const std::string& text,
                 storage::TextState state = storage::TextState::kText) {
    storage::FileText t;
    t.file_id = file.id;
    t.record_id = id_;
    t.version = file.version;
    t.state = state;
    t.claimed_type = "text/plain";
    t.identified_type = "text/plain";
    t.method = "text";
    if (state == storage::TextState::kText) {
      auto sealed = content_.SealDerived(file, storage::kTextPurpose, text);
      ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
      t.sealed_text = *sealed;
      t.text_bytes = text.size();
    }
    t.updated_at = clock_.Now();
    Status s =
        store_.Write([&](storage::Transaction& tx) -> Status { return tx.texts().Upsert(t); });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  uint64_t LogSize() {
    uint64_t n = 0;
    EXPECT_TRUE(store_
                    .Read([&](storage::Transaction& tx) -> Status {
                      CUSTOS_ASSIGN_OR_RETURN(n, tx.log().Size());
                      return Status::Ok();
                    })
                    .ok());
    return n;
  }

  storage::LogEvent EventAt(uint64_t i) {
    storage::LogEvent e;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(i, i + 1, 1));
      if (entries.size() != 1) return NotFound("no entry " + std::to_string(i));
      CUSTOS_ASSIGN_OR_RETURN(storage::DecodedLeaf leaf, storage::DecodeLeaf(entries[0].leaf));
      e = leaf.event;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e;
  }

  static std::string Detail(const storage::LogEvent& e, const std::string& key) {
    const domain::DetailValue* v = e.details.Find(key);
    if (v == nullptr) return "";
    if (const std::string* s = v->AsString()) return *s;
    if (auto i = v->AsInt()) return std::to_string(*i);
    return "?";
  }

  static const FileComparison* Named(const VersionComparison& c, const std::string& name) {
    for (const FileComparison& f : c.files) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  // The inserted and deleted segments of a diff, as "+text" and "-text".
  static std::vector<std::string> Changes(const storage::TextDiff& d) {
    std::vector<std::string> out;
    for (const storage::DiffSegment& s : d.segments) {
      if (s.op == storage::DiffOp::kInsert) out.push_back("+" + s.text);
      if (s.op == storage::DiffOp::kDelete) out.push_back("-" + s.text);
    }
    return out;
  }

  void ExpectRefused(const StatusOr<VersionComparison>& r, const std::string& reason,
                     const std::string& what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().reason(), reason) << what << ": " << r.status().ToString();
  }

  storage::testing::TestSigner signer_;
  storage::testing::ScratchStore store_;
  storage::MemoryBlobStore blobs_;
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  storage::ContentStore content_;
  ManualClock clock_;
  LogService log_;
  RecordService records_;
  LoanService loans_;
  RecordId id_;

  const Principal alice_ = User("alice", Role::kStaff, "sales");
  const Principal ann_ = User("ann", Role::kApprover, "sales");
  const Principal arch_ = User("arch", Role::kArchivist, "records");
};

TEST_F(CompareServiceTest, PairsFilesByNameAndDiffsTheChangedClauseByCharacter) {
  std::vector<StoredFile> v1 = CheckIn(
      {{"合同 contract.txt", "v1 bytes"}, {"附件 annex.txt", "annex"}, {"旧 old.txt", "old"}});
  std::vector<StoredFile> v2 = NewVersion(
      {{"合同 contract.txt", "v2 bytes"}, {"附件 annex.txt", "annex"}, {"新 new.txt", "new"}},
      "违约金调整 penalty changed");
  ASSERT_EQ(v1.size(), 3u);
  ASSERT_EQ(v2.size(), 3u);
  Extracted(v1[0], "第五条 违约金：价格调整为百分之五。Penalty of 5% per day.");
  Extracted(v2[0], "第五条 违约金：价格调整为百分之八。Penalty of 8% per day.");
  Extracted(v1[1], "附件正文 annex");
  Extracted(v2[1], "附件正文 annex");
  Extracted(v1[2], "旧条款 old clause");
  Extracted(v2[2], "新条款 new clause");
  const uint64_t before = LogSize();

  VersionComparison c = Must(records_.Compare(arch_, id_, 1, 2), "compare");
  EXPECT_EQ(c.record.id, id_);
  EXPECT_EQ(c.from.number, 1);
  EXPECT_EQ(c.to.number, 2);
  EXPECT_EQ(c.to.note, "违约金调整 penalty changed");
  EXPECT_EQ(c.to.kind, domain::VersionKind::kAmendment);
  ASSERT_EQ(c.files.size(), 4u);

  const FileComparison* contract = Named(c, "合同 contract.txt");
  ASSERT_NE(contract, nullptr);
  EXPECT_EQ(contract->change, FileChange::kChanged);
  EXPECT_EQ(contract->state, CompareState::kDiff);
  EXPECT_EQ(contract->diff.level, storage::DiffLevel::kUnit);
  EXPECT_EQ(Changes(contract->diff), (std::vector<std::string>{"-五", "+八", "-5", "+8"}));

  const FileComparison* annex = Named(c, "附件 annex.txt");
  ASSERT_NE(annex, nullptr);
  EXPECT_EQ(annex->change, FileChange::kUnchanged);
  EXPECT_TRUE(Changes(annex->diff).empty());

  const FileComparison* removed = Named(c, "旧 old.txt");
  ASSERT_NE(removed, nullptr);
  EXPECT_EQ(removed->change, FileChange::kRemoved);
  EXPECT_FALSE(removed->to.has_value());
  EXPECT_EQ(Changes(removed->diff), (std::vector<std::string>{"-旧条款 old clause"}));

  const FileComparison* added = Named(c, "新 new.txt");
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->change, FileChange::kAdded);
  EXPECT_FALSE(added->from.has_value());
  EXPECT_EQ(Changes(added->diff), (std::vector<std::string>{"+新条款 new clause"}));

  // Six texts read, six content.read events, each naming the other version.
  ASSERT_EQ(c.log_indexes.size(), 6u);
  EXPECT_EQ(LogSize(), before + 6);
  int of_v1 = 0;
  for (uint64_t i : c.log_indexes) {
    storage::LogEvent e = EventAt(i);
    EXPECT_EQ(e.action, "content.read");
    EXPECT_EQ(e.actor, "arch");
    EXPECT_EQ(e.subject, id_.value);
    EXPECT_EQ(Detail(e, "derived"), "text");
    const std::string version = Detail(e, "version");
    EXPECT_EQ(Detail(e, "compare"), version == "1" ? "2" : "1");
    of_v1 += version == "1" ? 1 : 0;
    EXPECT_FALSE(Detail(e, "file").empty());
    EXPECT_EQ(Detail(e, "sha256").size(), 64u);
  }
  EXPECT_EQ(of_v1, 3);

  // The other direction shows the same change the other way round.
  VersionComparison back = Must(records_.Compare(arch_, id_, 2, 1), "compare back");
  const FileComparison* contract_back = Named(back, "合同 contract.txt");
  ASSERT_NE(contract_back, nullptr);
  EXPECT_EQ(Changes(contract_back->diff), (std::vector<std::string>{"-八", "+五", "-8", "+5"}));
  EXPECT_EQ(Named(back, "新 new.txt")->change, FileChange::kRemoved);
}

TEST_F(CompareServiceTest, TwoFilesOfOneNameArePairedInOrder) {
  std::vector<StoredFile> v1 = CheckIn({{"扫描 scan.txt", "page 1"}, {"扫描 scan.txt", "page 2"}});
  std::vector<StoredFile> v2 = NewVersion(
      {{"扫描 scan.txt", "page 1"}, {"扫描 scan.txt", "page 2b"}, {"扫描 scan.txt", "page 3"}},
      "补扫 rescanned");
  ASSERT_EQ(v2.size(), 3u);
  Extracted(v1[0], "第一页 one");
  Extracted(v1[1], "第二页 two");
  Extracted(v2[0], "第一页 one");
  Extracted(v2[1], "第二页 two, revised");
  Extracted(v2[2], "第三页 three");
  VersionComparison c = Must(records_.Compare(arch_, id_, 1, 2), "compare");
  ASSERT_EQ(c.files.size(), 3u);
  EXPECT_EQ(c.files[0].change, FileChange::kUnchanged);
  EXPECT_EQ(c.files[1].change, FileChange::kChanged);
  EXPECT_EQ(Changes(c.files[1].diff), (std::vector<std::string>{"+, revised"}));
  EXPECT_EQ(c.files[2].change, FileChange::kAdded);
  EXPECT_EQ(Changes(c.files[2].diff), (std::vector<std::string>{"+第三页 three"}));
  EXPECT_EQ(c.log_indexes.size(), 5u);
}

TEST_F(CompareServiceTest, TextsNotExtractedSayWhyInsteadOfADiff) {
  std::vector<StoredFile> v1 =
      CheckIn({{"a 甲.txt", "a1"}, {"b 乙.png", "b1"}, {"c 丙.pdf", "c1"}});
  std::vector<StoredFile> v2 =
      NewVersion({{"a 甲.txt", "a2"}, {"b 乙.png", "b2"}, {"c 丙.pdf", "c2"}}, "修订 revised");
  ASSERT_EQ(v2.size(), 3u);
  // a: v2 not yet run (no row); b: no text; c: failed for good.
  Extracted(v1[0], "甲文本");
  Extracted(v1[1], "", storage::TextState::kNoText);
  Extracted(v2[1], "", storage::TextState::kNoText);
  Extracted(v1[2], "丙文本");
  Extracted(v2[2], "", storage::TextState::kFailed);
  const uint64_t before = LogSize();
  VersionComparison c = Must(records_.Compare(arch_, id_, 1, 2), "compare");
  EXPECT_EQ(Named(c, "a 甲.txt")->state, CompareState::kPending);
  EXPECT_EQ(Named(c, "b 乙.png")->state, CompareState::kNoText);
  EXPECT_EQ(Named(c, "c 丙.pdf")->state, CompareState::kFailed);
  for (const FileComparison& f : c.files) {
    EXPECT_TRUE(f.diff.segments.empty()) << f.name;
    EXPECT_EQ(f.change, FileChange::kChanged) << f.name;
  }
  // Two texts were read (a's and c's of version 1): two events.
  EXPECT_EQ(c.log_indexes.size(), 2u);
  EXPECT_EQ(LogSize(), before + 2);
}

TEST_F(CompareServiceTest, ReportsCatalogueChangesMadeBetweenTheVersions) {
  CheckIn({{"合同 contract.txt", "v1"}});
  clock_.Advance(std::chrono::minutes(1));
  RecordPatch before_v2;
  before_v2.title = "采购合同（修订）Purchase contract, revised";
  Must(records_.Patch(arch_, id_, before_v2), "patch before v2");
  NewVersion({{"合同 contract.txt", "v2"}}, "第二版 second");
  clock_.Advance(std::chrono::minutes(1));
  RecordPatch after_v2;
  after_v2.location = "二号库 Store 2";
  Must(records_.Patch(arch_, id_, after_v2), "patch after v2");

  VersionComparison c = Must(records_.Compare(arch_, id_, 1, 2), "compare");
  ASSERT_EQ(c.metadata_changes.size(), 1u) << "only the change between the two check-ins";
  EXPECT_EQ(c.metadata_changes[0].actor, "arch");
  EXPECT_EQ(c.metadata_changes[0].fields, (std::vector<std::string>{"title"}));
  EXPECT_GT(c.metadata_changes[0].log_index, c.from.log_index);
  EXPECT_LT(c.metadata_changes[0].log_index, c.to.log_index);
  // Neither text is extracted: pending, nothing read, nothing logged.
  EXPECT_EQ(c.files.at(0).state, CompareState::kPending);
  EXPECT_TRUE(c.log_indexes.empty());
}

TEST_F(CompareServiceTest, BadVersionsAreRefusedWithNothingLogged) {
  std::vector<StoredFile> v1 = CheckIn({{"合同 contract.txt", "v1"}});
  Extracted(v1[0], "合同正文");
  const uint64_t before = LogSize();
  ExpectRefused(records_.Compare(arch_, id_, 1, 1), "invalid_compare", "same version twice");
  ExpectRefused(records_.Compare(arch_, id_, 0, 1), "invalid_compare", "version 0");
  ExpectRefused(records_.Compare(arch_, id_, 1, -3), "invalid_compare", "negative version");
  ExpectRefused(records_.Compare(arch_, id_, 1, 2), "version_not_found", "no version 2");
  ExpectRefused(records_.Compare(arch_, id_, 9, 1), "version_not_found", "no version 9");
  ExpectRefused(records_.Compare(arch_, RecordId{"GEN-2026-999999"}, 1, 2), "record_not_found",
                "no record");
  EXPECT_EQ(LogSize(), before);
}

TEST_F(CompareServiceTest, StaffNeedsAnActiveDigitalLoan) {
  std::vector<StoredFile> v1 = CheckIn({{"合同 contract.txt", "v1"}});
  std::vector<StoredFile> v2 = NewVersion({{"合同 contract.txt", "v2"}}, "第二版 second");
  Extracted(v1[0], "价格调整为百分之五");
  Extracted(v2[0], "价格调整为百分之八");
  const uint64_t before = LogSize();
  ExpectRefused(records_.Compare(alice_, id_, 1, 2), "content_forbidden", "staff without a loan");
  EXPECT_EQ(LogSize(), before);

  LoanRequest q;
  q.record_id = id_.value;
  q.kind = "digital";
  q.due_at = clock_.Now() + std::chrono::hours(24 * 7);
  domain::Loan l = Must(loans_.Request(alice_, q), "request");
  Must(loans_.Approve(ann_, l.id), "approve");
  VersionComparison c = Must(records_.Compare(alice_, id_, 1, 2), "compare with a loan");
  ASSERT_EQ(c.log_indexes.size(), 2u);
  EXPECT_EQ(Detail(EventAt(c.log_indexes[0]), "loan"), l.id);
  EXPECT_EQ(Changes(c.files.at(0).diff), (std::vector<std::string>{"-五", "+八"}));
}

TEST_F(CompareServiceTest, ShreddedContentIsGone) {
  std::vector<StoredFile> v1 = CheckIn({{"合同 contract.txt", "v1"}});
  std::vector<StoredFile> v2 = NewVersion({{"合同 contract.txt", "v2"}}, "第二版 second");
  Extracted(v1[0], "价格调整为百分之五");
  Extracted(v2[0], "价格调整为百分之八");
  Status s = store_.Write([&](storage::Transaction& tx) -> Status {
    return tx.versions().SetFileKey(v2[0].id, v2[0].kek_id, {});
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  const uint64_t before = LogSize();
  ExpectRefused(records_.Compare(arch_, id_, 1, 2), "content_destroyed", "a shredded file key");
  EXPECT_EQ(LogSize(), before);
}

}  // namespace
}  // namespace custos::services
