// RecordService::Search with the content index and RecordService::ReadText
// (docs/search.md "API"), on a real SQLite store with an index key: the
// catalogue's postings are written at check-in, and each test puts a
// file's extracted text in place as the pipeline would (sealed under the
// file's key, content postings under the index key). Chinese words of two
// characters, notes and content, full-width, traditional and mixed
// queries; which field matched and the marked snippets; content hits only
// for callers who may read the content; content.snippet and content.read
// events; bad queries refused with nothing logged.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "server/services/content_pipeline.h"
#include "server/services/loan_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "storage/content_store.h"
#include "storage/file_texts.h"
#include "storage/log_leaf.h"
#include "storage/search_index.h"
#include "storage/text_tokens.h"
#include "tests/storage/store_test_util.h"
#include "tests/server/service_test_util.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/scratch_store.h"

namespace custos::services {
namespace {

using domain::FieldMatch;
using domain::FileId;
using domain::RecordId;
using domain::Role;

using test_util::Must;
using test_util::NewKeyProvider;
using test_util::User;

RecordOptions IndexedOptions(const storage::IndexKey* key) {
  RecordOptions o;
  o.index_key = key;
  return o;
}

// A record checked in for the tests and its first file.
struct Checked {
  RecordId id;
  domain::StoredFile file;
};

class SearchServiceTest : public ::testing::Test {
 protected:
  SearchServiceTest()
      : store_(&signer_.checkpoint),
        keys_(NewKeyProvider()),
        content_(blobs_, *keys_, crypto::Suite::kIntl),
        clock_(domain::ParseTime("2026-03-02T09:00:00Z").value()),
        log_(store_, ""),
        index_key_(crypto::Bytes(storage::kIndexKeySize, 0x5A)),
        records_(store_, content_, blobs_, log_, clock_, nullptr, IndexedOptions(&index_key_)),
        loans_(store_, clock_) {
    Status s = store_.Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "hr", "records", "legal"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // Checks in a record of one file "name" (bytes irrelevant to search: the
  // extracted text is put in place by Extracted()).
  Checked CheckIn(const std::string& title, const std::string& classification = "internal",
                  const std::string& department = "sales", const std::string& type = "general",
                  const std::string& file_name = "文件 file.txt") {
    RecordInput in;
    in.type = type;
    in.title = title;
    in.department = department;
    in.classification = classification;
    if (type == "contract") {
      in.metadata = {{"counterparty", "甲方ABC有限公司"}, {"contractNumber", "HT-2026-01"}, {"signedDate", "2026-01-05"}};
    }
    Checked out;
    auto c = records_.BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return out;
    }
    const std::string bytes = "bytes of " + title;
    crypto::Bytes b(bytes.begin(), bytes.end());
    MemorySource source(b);
    EXPECT_TRUE((*c)->AddFile({file_name, "text/plain"}, source).ok());
    CheckInResult r = Must((*c)->Commit(), "commit");
    out.id = r.detail.record.id;
    if (!r.detail.versions.empty() && !r.detail.versions[0].files.empty()) out.file = r.detail.versions[0].files[0];
    return out;
  }

  // Adds a version with `note`; returns its file.
  domain::StoredFile NewVersion(const RecordId& id, const std::string& note) {
    auto c = records_.BeginVersion(arch_, id, "amendment", note);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return {};
    }
    const std::string bytes = "amendment";
    crypto::Bytes b(bytes.begin(), bytes.end());
    MemorySource source(b);
    EXPECT_TRUE((*c)->AddFile({"补充协议.txt", "text/plain"}, source).ok());
    CheckInResult r = Must((*c)->Commit(), "commit version");
    return r.detail.versions.back().files.at(0);
  }

  // What the pipeline does for a file with text: the sealed text and the
  // content postings.
  void Extracted(const RecordId& id, int version, const domain::StoredFile& file, const std::string& text) {
    auto sealed = content_.SealDerived(file, storage::kTextPurpose, text);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    storage::FileText t;
    t.file_id = file.id;
    t.record_id = id;
    t.version = version;
    t.state = storage::TextState::kText;
    t.claimed_type = "text/plain";
    t.identified_type = "text/plain";
    t.method = "text";
    t.text_bytes = text.size();
    t.sealed_text = *sealed;
    t.updated_at = clock_.Now();
    Status s = store_.Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_RETURN_IF_ERROR(tx.texts().Upsert(t));
      return tx.search().Replace(id, kFieldContent, file.id,
                                 index_key_.KeyedFrequencies(storage::TermFrequencies(text)));
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  domain::RecordPage Find(const Principal& who, const std::string& text) {
    domain::RecordQuery q;
    q.text = text;
    return Must(records_.Search(who, q), "search");
  }

  static std::vector<std::string> Ids(const domain::RecordPage& p) {
    std::vector<std::string> out;
    for (const domain::Record& r : p.records) out.push_back(r.id.value);
    return out;
  }
  // The matches of record `id` in `p` (none when it is not a hit).
  static std::vector<FieldMatch> MatchesOf(const domain::RecordPage& p, const RecordId& id) {
    for (size_t i = 0; i < p.records.size(); ++i) {
      if (p.records[i].id == id) return i < p.matches.size() ? p.matches[i] : std::vector<FieldMatch>{};
    }
    return {};
  }
  static const FieldMatch* Field(const std::vector<FieldMatch>& ms, const std::string& field) {
    for (const FieldMatch& m : ms) {
      if (m.field == field) return &m;
    }
    return nullptr;
  }
  // The marked segments of a snippet.
  static std::vector<std::string> Marked(const FieldMatch* m) {
    std::vector<std::string> out;
    if (m == nullptr) return out;
    for (size_t i = 1; i < m->snippet.size(); i += 2) out.push_back(m->snippet[i]);
    return out;
  }

  uint64_t LogSize() {
    uint64_t n = 0;
    EXPECT_TRUE(store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(n, tx.log().Size());
      return Status::Ok();
    }).ok());
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

  // A digital loan of `r` to `who`, approved by `ann_`.
  void DigitalLoan(const Principal& who, const RecordId& r) {
    LoanRequest q;
    q.record_id = r.value;
    q.kind = "digital";
    q.due_at = clock_.Now() + std::chrono::hours(24 * 7);
    domain::Loan l = Must(loans_.Request(who, q), "request");
    Must(loans_.Approve(ann_, l.id), "approve");
  }

  storage::testing::TestSigner signer_;
  storage::testing::ScratchStore store_;
  storage::MemoryBlobStore blobs_;
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  storage::ContentStore content_;
  ManualClock clock_;
  LogService log_;
  storage::IndexKey index_key_;
  RecordService records_;
  LoanService loans_;

  const Principal alice_ = User("alice", Role::kStaff, "sales");
  const Principal carol_ = User("carol", Role::kStaff, "hr");
  const Principal ann_ = User("ann", Role::kApprover, "sales");
  const Principal arch_ = User("arch", Role::kArchivist, "records");
  const Principal lee_ = User("lee", Role::kLegal, "legal");
};

TEST_F(SearchServiceTest, TwoCharacterChineseWordsMatchContentWithMarkedSnippet) {
  Checked a = CheckIn("采购 Purchase 2026");
  Extracted(a.id, 1, a.file, "本合同由甲方与乙方于二〇二六年签订。");
  Checked other = CheckIn("Other record");
  Extracted(other.id, 1, other.file, "毫无关系的文字");
  for (const std::string word : {"合同", "甲方"}) {
    domain::RecordPage p = Find(arch_, word);
    EXPECT_EQ(Ids(p), std::vector<std::string>{a.id.value}) << word;
    const std::vector<FieldMatch> ms = MatchesOf(p, a.id);
    const FieldMatch* m = Field(ms, "content");
    ASSERT_NE(m, nullptr) << word;
    EXPECT_EQ(m->version, 1);
    EXPECT_EQ(m->file_id.value, a.file.id.value);
    EXPECT_EQ(m->file_name, "文件 file.txt");
    EXPECT_EQ(Marked(m), std::vector<std::string>{word});
  }
}

TEST_F(SearchServiceTest, PhraseInVersionNoteAndContentGivesBothFields) {
  Checked a = CheckIn("供货协议 Supply");
  domain::StoredFile v2 = NewVersion(a.id, "第二版：价格调整条款修订");
  Extracted(a.id, 2, v2, "双方同意按照价格调整条款执行。");
  domain::RecordPage p = Find(arch_, "价格调整");
  ASSERT_EQ(Ids(p), std::vector<std::string>{a.id.value});
  std::vector<FieldMatch> ms = MatchesOf(p, a.id);
  const FieldMatch* note = Field(ms, "note");
  ASSERT_NE(note, nullptr);
  EXPECT_EQ(note->version, 2);
  EXPECT_EQ(note->snippet, (std::vector<std::string>{"第二版：", "价格调整", "条款修订"}));
  const FieldMatch* content = Field(ms, "content");
  ASSERT_NE(content, nullptr);
  EXPECT_EQ(content->version, 2);
  EXPECT_EQ(content->file_name, "补充协议.txt");
  EXPECT_EQ(content->snippet, (std::vector<std::string>{"双方同意按照", "价格调整", "条款执行。"}));
  EXPECT_EQ(Field(ms, "title"), nullptr);
}

TEST_F(SearchServiceTest, FullWidthMixedAndTraditionalQueriesMatch) {
  Checked a = CheckIn("质量证书");
  Extracted(a.id, 1, a.file, "证书编号 ISO9001，持有人甲方ABC公司，价格调整见附件");
  Checked t = CheckIn("台湾合约");
  Extracted(t.id, 1, t.file, "合約第五條：價格調整依物價指數");
  EXPECT_EQ(Marked(Field(MatchesOf(Find(arch_, "ＩＳＯ９００１"), a.id), "content")),
            std::vector<std::string>{"ISO9001"});
  EXPECT_EQ(Ids(Find(arch_, "abc公司")), std::vector<std::string>{a.id.value});
  EXPECT_EQ(Ids(Find(arch_, "9001")), std::vector<std::string>{a.id.value});
  // Traditional query, simplified text, and the reverse: both records.
  std::vector<std::string> both{a.id.value, t.id.value};
  std::sort(both.begin(), both.end());
  for (const std::string q : {"價格調整", "价格调整"}) {
    std::vector<std::string> ids = Ids(Find(arch_, q));
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, both) << q;
  }
  EXPECT_EQ(Marked(Field(MatchesOf(Find(arch_, "价格调整"), t.id), "content")),
            std::vector<std::string>{"價格調整"});
}

TEST_F(SearchServiceTest, CatalogueFieldsSayWhichMatched) {
  Checked a = CheckIn("年度合同汇编", "internal", "sales", "contract", "合同扫描件.pdf");
  domain::RecordPage p = Find(arch_, "合同");
  ASSERT_EQ(Ids(p), std::vector<std::string>{a.id.value});
  std::vector<FieldMatch> ms = MatchesOf(p, a.id);
  EXPECT_EQ(Marked(Field(ms, "title")), std::vector<std::string>{"合同"});
  ASSERT_NE(Field(ms, "fileName"), nullptr);
  EXPECT_EQ(Field(ms, "fileName")->file_id.value, a.file.id.value);
  EXPECT_EQ(Field(ms, "fileName")->version, 1);
  EXPECT_EQ(Field(ms, "content"), nullptr) << "no text extracted yet";
  // Metadata values and the archive number.
  EXPECT_EQ(Marked(Field(MatchesOf(Find(arch_, "ABC有限公司"), a.id), "metadata")),
            (std::vector<std::string>{"ABC", "有限公司"}));
  ASSERT_NE(Field(MatchesOf(Find(arch_, a.id.value), a.id), "archiveNumber"), nullptr);
}

TEST_F(SearchServiceTest, StaffReadsContentHitsOnlyThroughAnActiveDigitalLoan) {
  Checked a = CheckIn("Price list 价目表");
  Extracted(a.id, 1, a.file, "机密折扣：违约金条款百分之五");
  uint64_t before = LogSize();
  EXPECT_TRUE(Find(alice_, "违约金").records.empty()) << "no loan: not a hit through its content";
  EXPECT_EQ(LogSize(), before) << "nothing shown, nothing logged";
  // The catalogue still matches for her, without any content match.
  std::vector<FieldMatch> title_only = MatchesOf(Find(alice_, "价目表"), a.id);
  ASSERT_EQ(title_only.size(), 1u);
  EXPECT_EQ(title_only[0].field, "title");

  DigitalLoan(alice_, a.id);
  before = LogSize();
  domain::RecordPage p = Find(alice_, "违约金");
  ASSERT_EQ(Ids(p), std::vector<std::string>{a.id.value});
  EXPECT_EQ(Marked(Field(MatchesOf(p, a.id), "content")), std::vector<std::string>{"违约金"});
  ASSERT_EQ(LogSize(), before + 1);
  storage::LogEvent e = EventAt(before);
  EXPECT_EQ(e.action, "content.snippet");
  EXPECT_EQ(e.subject, a.id.value);
  EXPECT_EQ(e.details.Int("version").value_or(0), 1);
  EXPECT_EQ(e.details.String("file").value_or(""), a.file.id.value);
  EXPECT_EQ(e.details.size(), 2u) << "version and file, never the query";
}

TEST_F(SearchServiceTest, LegalReadsContractsOnlyAndArchivistsNotSecret) {
  Checked contract = CheckIn("Lease 租赁", "confidential", "sales", "contract");
  Extracted(contract.id, 1, contract.file, "甲方承担违约责任");
  Checked memo = CheckIn("Memo 备忘", "internal", "sales");
  Extracted(memo.id, 1, memo.file, "乙方承担违约责任");
  Checked secret = CheckIn("Merger 并购", "secret", "sales");
  Extracted(secret.id, 1, secret.file, "丙方承担违约责任");
  EXPECT_EQ(Ids(Find(lee_, "违约责任")), std::vector<std::string>{contract.id.value});
  std::vector<std::string> arch = Ids(Find(arch_, "违约责任"));
  std::sort(arch.begin(), arch.end());
  std::vector<std::string> expected{contract.id.value, memo.id.value};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(arch, expected) << "the secret record's content is no hit for an archivist";
  // The archivist still sees the secret record by its catalogue.
  EXPECT_EQ(Ids(Find(arch_, "并购")), std::vector<std::string>{secret.id.value});
}

TEST_F(SearchServiceTest, RecordTheCallerMayNotSeeIsNeverAHit) {
  Checked hr = CheckIn("人事档案 Personnel", "confidential", "hr", "general", "人事.txt");
  NewVersion(hr.id, "薪资调整说明");
  Extracted(hr.id, 1, hr.file, "薪资调整方案全文");
  for (const std::string& q : std::vector<std::string>{"人事档案", "人事", "薪资调整", "Personnel", "补充协议", hr.id.value}) {
    EXPECT_TRUE(Find(alice_, q).records.empty()) << q;
  }
  // Even with a digital loan attempt refused, nothing: she cannot see it.
  EXPECT_FALSE(Find(carol_, "薪资调整").records.empty()) << "her own department's confidential record";
  EXPECT_EQ(Field(MatchesOf(Find(carol_, "薪资调整"), hr.id), "content"), nullptr) << "no loan";
}

TEST_F(SearchServiceTest, PostingsReplaceTheCatalogueScanForBigramsAndWords) {
  Checked a = CheckIn("价格调整方案 Steel");
  // The words apart and out of order: no substring scan finds this; the
  // postings do, so it is proof that the scan was replaced.
  domain::RecordPage p = Find(arch_, "调整 价格 steel");
  ASSERT_EQ(Ids(p), std::vector<std::string>{a.id.value});
  EXPECT_NE(Field(MatchesOf(p, a.id), "title"), nullptr);
  // A lone ideograph still finds it inside words (the scan stays).
  EXPECT_EQ(Ids(Find(arch_, "案")), std::vector<std::string>{a.id.value});
}

TEST_F(SearchServiceTest, AMatchCutByTheCandidatesAnswersTotalNotExact) {
  // Fault: a search that reads a bounded share of a common word's postings
  // and still says its count is exact. Two records hold 合同 and 甲方 in
  // their titles; 4,200 postings of other (record-less) ids hold both too,
  // more than the candidates a search reads.
  Checked a = CheckIn("采购合同 甲方");
  Checked b = CheckIn("销售合同 甲方");
  Status s = store_.Write([&](storage::Transaction& tx) -> Status {
    const auto keyed = index_key_.KeyedFrequencies({{"合同", 1}, {"甲方", 1}});
    for (int i = 0; i < 4200; ++i) {
      CUSTOS_RETURN_IF_ERROR(tx.search().Replace(RecordId{"ZZ-" + std::to_string(100000 + i)}, kFieldTitle,
                                                 FileId{""}, keyed));
    }
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_GT(4200u, storage::SearchIndexRepository::kMatchCandidates);
  domain::RecordPage p = Find(arch_, "合同 甲方");
  std::vector<std::string> ids = Ids(p);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want{a.id.value, b.id.value};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);  // the lowest ids come first among equal counts
  EXPECT_EQ(p.total, 2u);
  EXPECT_FALSE(p.total_exact);
  // A word of the two records only: the whole answer, counted exactly.
  domain::RecordPage q = Find(arch_, "采购");
  EXPECT_EQ(Ids(q), std::vector<std::string>{a.id.value});
  EXPECT_TRUE(q.total_exact);
}

TEST_F(SearchServiceTest, NoSnippetNoEventAndBadQueriesChangeNothing) {
  Checked a = CheckIn("合同汇编");
  Extracted(a.id, 1, a.file, "正文没有那个词");
  uint64_t before = LogSize();
  EXPECT_EQ(Ids(Find(arch_, "合同")), std::vector<std::string>{a.id.value});
  EXPECT_EQ(LogSize(), before) << "a title hit shows no content";
  std::string many;
  for (int i = 0; i < 70; ++i) many += "w" + std::to_string(i) + "x ";
  domain::RecordQuery q;
  q.text = many;
  auto r = records_.Search(arch_, q);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.status().reason(), "too_many_tokens");
  EXPECT_EQ(LogSize(), before);
}

TEST_F(SearchServiceTest, ReadTextChecksRightsLogsAndSaysWhenThereIsNone) {
  Checked a = CheckIn("Price list 价目表");
  // Before the pipeline: 404 text_not_found, nothing logged.
  uint64_t before = LogSize();
  auto none = records_.ReadText(arch_, a.id, 1, a.file.id);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().reason(), "text_not_found");
  EXPECT_EQ(LogSize(), before);
  Extracted(a.id, 1, a.file, "价目表正文：钢材每吨4200元");
  // Staff without a loan: refused, nothing logged.
  auto refused = records_.ReadText(alice_, a.id, 1, a.file.id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "content_forbidden");
  EXPECT_EQ(LogSize(), before);
  EXPECT_EQ(records_.ReadText(arch_, a.id, 1, FileId{"00000000000000000000000000000000"}).status().reason(),
            "file_not_found");
  EXPECT_EQ(records_.ReadText(arch_, a.id, 7, a.file.id).status().reason(), "version_not_found");
  // The archivist reads it; one content.read with derived "text".
  TextRead t = Must(records_.ReadText(arch_, a.id, 1, a.file.id), "read text");
  EXPECT_EQ(t.text, "价目表正文：钢材每吨4200元");
  EXPECT_EQ(t.status.state, storage::TextState::kText);
  EXPECT_TRUE(t.status.sealed_text.empty());
  ASSERT_EQ(LogSize(), before + 1);
  storage::LogEvent e = EventAt(t.log_index);
  EXPECT_EQ(e.action, "content.read");
  EXPECT_EQ(e.details.String("derived").value_or(""), "text");
  EXPECT_EQ(e.details.String("file").value_or(""), a.file.id.value);
  // Through a digital loan, staff read it too, the loan named.
  DigitalLoan(alice_, a.id);
  TextRead via = Must(records_.ReadText(alice_, a.id, 1, a.file.id), "read via loan");
  EXPECT_EQ(via.text, t.text);
  EXPECT_FALSE(EventAt(via.log_index).details.String("loan").value_or("").empty());
  // The detail lists the file's extraction, without text.
  RecordDetail d = Must(records_.Get(alice_, a.id), "get");
  ASSERT_EQ(d.texts.size(), 1u);
  EXPECT_EQ(d.texts[0].file_id, a.file.id);
  EXPECT_TRUE(d.texts[0].sealed_text.empty());
}

}  // namespace
}  // namespace custos::services
