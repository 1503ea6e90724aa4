// RetentionService and DestructionService (server/services/
// retention_service.h, destruction_service.h) on a SQLite store driven by a
// ManualClock: who may change schedules, overrides and holds; lengthening
// applies at once, shortening waits for legal; holds block shortening and
// destruction; record states follow dates and holds, each change logged
// with the record's hash; destruction batches from proposal through two
// approvals to crypto-shredding execution, tombstones and the signed
// certificate whose receipts verify offline.
#include "server/services/retention_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/key_provider.h"
#include "crypto/merkle.h"
#include "crypto/random.h"
#include "crypto/signed_note.h"
#include "common/byte_stream.h"
#include "server/services/destruction_service.h"
#include "server/services/events.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "domain/canonical_json.h"
#include "storage/content_store.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"
#include "storage/verifier.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/faulty_store.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/scratch_store.h"

namespace custos::services {
namespace {

using namespace std::chrono_literals;
using domain::FileId;
using domain::RecordId;
using domain::RecordState;
using domain::Role;
using domain::Time;

namespace merkle = crypto::merkle;

constexpr auto kDay = std::chrono::hours(24);

template <typename T>
T Must(StatusOr<T> s, const char* what = "") {
  if (!s.ok()) {
    ADD_FAILURE() << what << ": " << s.status().ToString();
    return T{};
  }
  return std::move(s).value();
}

Time At(const std::string& rfc3339) { return domain::ParseTime(rfc3339).value(); }

Principal User(const std::string& name, Role role, const std::string& department) {
  return Principal{domain::Username{name}, role, department};
}

std::unique_ptr<crypto::LocalKeyProvider> NewKeyProvider() {
  auto key = crypto::RandomBytes(crypto::kKekSize);
  auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(*key)));
  return std::move(crypto::LocalKeyProvider::Create(std::move(*kek)).value());
}

RetentionRule Rule(const std::string& trigger, const std::string& period,
                   const std::string& action) {
  return RetentionRule{ParseRetentionTrigger(trigger).value(), ParseIsoPeriod(period).value(),
                       ParseRetentionAction(action).value()};
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Expects `s` to have failed with `code` and `reason`.
template <typename T>
void ExpectRefused(const StatusOr<T>& s, ErrorCode code, const std::string& reason,
                   const std::string& what) {
  ASSERT_FALSE(s.ok()) << what << " succeeded";
  EXPECT_EQ(s.status().code(), code) << what << ": " << s.status().ToString();
  EXPECT_EQ(s.status().reason(), reason) << what << ": " << s.status().ToString();
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return lines;
}

// Verifies a tlog-proof@v1 receipt offline (leaf → inclusion proof →
// signed checkpoint) and returns its leaf, or "" after failing the test.
std::string VerifyReceipt(const std::string& receipt, uint64_t expected_index,
                          const std::vector<const crypto::note::Verifier*>& verifiers) {
  const std::string kHeader = "c2sp.org/tlog-proof@v1\n";
  if (receipt.compare(0, kHeader.size(), kHeader) != 0) {
    ADD_FAILURE() << "receipt header missing: " << receipt;
    return "";
  }
  size_t blank = receipt.find("\n\n");
  if (blank == std::string::npos) {
    ADD_FAILURE() << "receipt has no blank line";
    return "";
  }
  std::vector<std::string> lines =
      SplitLines(receipt.substr(kHeader.size(), blank + 1 - kHeader.size()));
  if (lines.size() < 2 || lines[0].rfind("extra ", 0) != 0 || lines[1].rfind("index ", 0) != 0) {
    ADD_FAILURE() << "receipt lacks extra/index lines";
    return "";
  }
  auto leaf = crypto::Base64Decode(lines[0].substr(6));
  if (!leaf) {
    ADD_FAILURE() << "extra is not base64";
    return "";
  }
  uint64_t index = std::stoull(lines[1].substr(6));
  EXPECT_EQ(index, expected_index);
  std::vector<crypto::Bytes> proof;
  for (size_t i = 2; i < lines.size(); ++i) {
    auto h = crypto::Base64Decode(lines[i]);
    if (!h) {
      ADD_FAILURE() << "proof line is not base64";
      return "";
    }
    proof.push_back(*h);
  }
  auto cp = crypto::OpenCheckpoint(receipt.substr(blank + 2), verifiers);
  if (!cp.ok()) {
    ADD_FAILURE() << "receipt checkpoint: " << cp.status().ToString();
    return "";
  }
  EXPECT_EQ(cp->checkpoint.origin, storage::testing::kOrigin);
  std::string leaf_text(leaf->begin(), leaf->end());
  Status inclusion = merkle::VerifyInclusion(
      index, cp->checkpoint.size, merkle::HashLeaf(leaf_text), proof, cp->checkpoint.root);
  if (!inclusion.ok()) {
    ADD_FAILURE() << "receipt inclusion: " << inclusion.ToString();
    return "";
  }
  return leaf_text;
}

// A BlobStore whose deletions fail, as a process dying before it got to
// them would leave the blobs.
class UndeletableBlobs final : public storage::BlobStore {
 public:
  explicit UndeletableBlobs(storage::BlobStore& inner) : inner_(inner) {}
  StatusOr<std::unique_ptr<storage::BlobWriter>> Create() override { return inner_.Create(); }
  StatusOr<std::unique_ptr<ByteSource>> Open(const domain::BlobId& id) override {
    return inner_.Open(id);
  }
  StatusOr<uint64_t> Size(const domain::BlobId& id) override { return inner_.Size(id); }
  Status Delete(const domain::BlobId&) override {
    return Status(ErrorCode::kInternal, "the disk went away", std::string(storage::kBlobIo));
  }
  StatusOr<std::vector<domain::BlobId>> List() override { return inner_.List(); }
  StatusOr<uint64_t> SweepOrphans(const std::function<bool(const domain::BlobId&)>& f) override {
    return inner_.SweepOrphans(f);
  }

 private:
  storage::BlobStore& inner_;
};

struct TestRecord {
  RecordId id;
  std::vector<FileId> files;  // of version 1
};

// Everything both services need, over one SQLite store of the test's own.
class RetentionFixture : public ::testing::Test {
 protected:
  RetentionFixture() : RetentionFixture(DestructionOptions{}) {}
  explicit RetentionFixture(DestructionOptions options)
      : store_(&signer_.checkpoint),
        keys_(NewKeyProvider()),
        content_(blobs_, *keys_, crypto::Suite::kIntl),
        clock_(At("2026-03-02T09:00:00Z")),
        log_(store_, signer_.signer.VerifierKey()),
        records_(store_, content_, blobs_, log_, clock_, nullptr),
        retention_(store_, clock_),
        destruction_(store_, blobs_, log_, {&signer_.signer}, clock_, std::move(options)) {
    Status s = store_.Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "hr", "records", "legal", "audit", "it"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      }
      // Accounts long past the approvers' cooling period (account_policy.h):
      // approvals read the approver's users row.
      for (const Principal* p : {&arch_, &arnie_, &lee_, &lena_, &ann_, &amos_, &alice_, &audrey_, &root_}) {
        domain::User u;
        u.username = p->username;
        u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
        u.role = p->role;
        u.department = p->department;
        u.created_at = clock_.Now() - 400 * kDay;
        u.password_changed_at = u.created_at;
        CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // Checks in a record with one file per entry of `contents`.
  TestRecord CheckIn(const std::string& type, const std::string& title,
                     const domain::RecordMetadata& metadata = {},
                     std::vector<std::string> contents = {},
                     const std::string& classification = "internal") {
    if (contents.empty()) contents = {"content of " + title};
    RecordInput in;
    in.type = type;
    in.title = title;
    in.description = "description of " + title;
    in.location = "box 7";
    in.department = "sales";
    in.classification = classification;
    in.metadata = metadata;
    TestRecord out;
    auto c = records_.BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return out;
    }
    for (size_t i = 0; i < contents.size(); ++i) {
      crypto::Bytes bytes(contents[i].begin(), contents[i].end());
      MemorySource source(bytes);
      Status added = (*c)->AddFile({"doc" + std::to_string(i) + ".txt", "text/plain"}, source);
      EXPECT_TRUE(added.ok()) << added.ToString();
    }
    CheckInResult r = Must((*c)->Commit(), "commit");
    out.id = r.detail.record.id;
    if (!r.detail.versions.empty()) {
      for (const auto& f : r.detail.versions[0].files) out.files.push_back(f.id);
    }
    return out;
  }

  TestRecord General(const std::string& title) { return CheckIn("general", title); }

  TestRecord Dossier(const std::string& title) {
    domain::RecordMetadata m{{"productModel", "X-100"}, {"documentKind", "test report"}};
    return CheckIn("product_dossier", title, m);
  }

  void AddVersion(const RecordId& id, const std::string& content) {
    auto c = records_.BeginVersion(arch_, id, "amendment", "second thoughts");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    crypto::Bytes bytes(content.begin(), content.end());
    MemorySource source(bytes);
    ASSERT_TRUE((*c)->AddFile({"amendment.txt", "text/plain"}, source).ok());
    ASSERT_TRUE((*c)->Commit().ok());
  }

  domain::Record Row(const RecordId& id) {
    std::optional<domain::Record> r;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(r, tx.records().Find(id));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!r) {
      ADD_FAILURE() << "no record " << id.value;
      return {};
    }
    return *r;
  }
  RecordState StateOf(const TestRecord& r) { return Row(r.id).state; }

  std::vector<domain::Version> VersionsOf(const RecordId& id) {
    std::vector<domain::Version> out;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.versions().List(id));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  std::vector<domain::StoredFile> FilesOf(const RecordId& id) {
    std::vector<domain::StoredFile> out;
    for (const auto& v : VersionsOf(id)) out.insert(out.end(), v.files.begin(), v.files.end());
    return out;
  }

  std::optional<storage::Document> Doc(const std::string& kind, const std::string& id) {
    std::optional<storage::Document> d;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(d, tx.documents().Find(kind, id));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return d;
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

  // Every event from log index `from` on.
  std::vector<std::pair<uint64_t, storage::LogEvent>> EventsSince(uint64_t from) {
    std::vector<std::pair<uint64_t, storage::LogEvent>> out;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
      for (uint64_t at = from; at < size;) {
        CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(at, size, 1000));
        if (entries.empty()) break;
        for (const auto& e : entries) {
          CUSTOS_ASSIGN_OR_RETURN(storage::DecodedLeaf leaf, storage::DecodeLeaf(e.leaf));
          out.emplace_back(e.index, leaf.event);
          at = e.index + 1;
        }
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  std::vector<storage::LogEvent> EventsOf(uint64_t from, const std::string& action,
                                          const std::string& subject = "") {
    std::vector<storage::LogEvent> out;
    for (auto& [i, e] : EventsSince(from)) {
      if (e.action == action && (subject.empty() || e.subject == subject)) out.push_back(e);
    }
    return out;
  }
  static std::string Detail(const storage::LogEvent& e, const std::string& key) {
    return e.details.String(key).value_or("");
  }

  // Expects exactly one record.state event for `r` since `from`, moving it
  // from `before` to `after`, whose recordHash is the row as it is now.
  void ExpectOneStateEvent(uint64_t from, const TestRecord& r, RecordState before,
                           RecordState after) {
    auto events = EventsOf(from, "record.state", r.id.value);
    ASSERT_EQ(events.size(), 1u) << "record.state events of " << r.id.value;
    const storage::LogEvent& e = events[0];
    EXPECT_EQ(Detail(e, "from"), domain::Name(before));
    EXPECT_EQ(Detail(e, "to"), domain::Name(after));
    domain::Record row = Row(r.id);
    EXPECT_EQ(row.state, after);
    EXPECT_EQ(Detail(e, storage::kDetailRecordHash), storage::RecordDigest(row).value());
  }

  storage::VerifyReport VerifyAll() {
    storage::VerifyOptions o;
    o.origin = storage::testing::kOrigin;
    o.verifiers = signer_.verifiers();
    o.content = &content_;
    o.blobs = &blobs_;
    auto report = storage::VerifyArchive(store_, o);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : storage::VerifyReport{};
  }
  static std::string Dump(const storage::VerifyReport& r) {
    std::string out;
    for (const auto& f : r.findings) out += f.object + ": " + f.problem + " [" + f.code + "]\n";
    return out;
  }

  StatusOr<std::string> Read(const Principal& who, const RecordId& id, int version,
                             const FileId& file) {
    CUSTOS_ASSIGN_OR_RETURN(ContentRead cr, records_.OpenContent(who, id, version, file));
    std::string out;
    uint8_t buf[4096];
    for (;;) {
      CUSTOS_ASSIGN_OR_RETURN(size_t n, cr.stream->Read(buf, sizeof buf));
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(buf), n);
    }
    return out;
  }

  // A pending shortening of the general schedule approved by legal.
  void ShortenGeneralScheduleTo(const std::string& period) {
    RuleChangeResult r =
        Must(retention_.PutSchedule(arch_, "general", Rule("created", period, "destroy")), "put");
    ASSERT_TRUE(r.pending.has_value());
    ASSERT_TRUE(retention_.Approve(lee_, r.pending->id).ok());
  }

  StatusOr<Hold> PlaceHold(const std::vector<RecordId>& ids, const std::string& name = "Dispute") {
    HoldInput in;
    in.name = name;
    in.reason = "litigation pending";
    in.case_ref = "CASE-2026-17";
    for (const auto& id : ids) in.record_ids.push_back(id.value);
    return retention_.CreateHold(lee_, in);
  }

  storage::testing::TestSigner signer_;
  storage::testing::ScratchStore store_;
  storage::MemoryBlobStore blobs_;
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  storage::ContentStore content_;
  ManualClock clock_;
  LogService log_;
  RecordService records_;
  RetentionService retention_;
  DestructionService destruction_;

  const Principal arch_ = User("arch", Role::kArchivist, "records");
  const Principal arnie_ = User("arnie", Role::kArchivist, "records");
  const Principal lee_ = User("lee", Role::kLegal, "legal");
  const Principal lena_ = User("lena", Role::kLegal, "legal");
  const Principal ann_ = User("ann", Role::kApprover, "sales");
  const Principal amos_ = User("amos", Role::kApprover, "sales");
  const Principal alice_ = User("alice", Role::kStaff, "sales");
  const Principal audrey_ = User("audrey", Role::kAuditor, "audit");
  const Principal root_ = User("root", Role::kSysAdmin, "it");
};

// ================================================================ retention

class RetentionServiceTest : public RetentionFixture {};

TEST_F(RetentionServiceTest, OnlyArchivistsChangeSchedulesAndRecordRules) {
  TestRecord r = General("Minutes");
  uint64_t size = LogSize();
  for (const Principal* who : {&lee_, &ann_, &alice_, &audrey_, &root_}) {
    std::string name = who->username.value;
    ExpectRefused(retention_.PutSchedule(*who, "general", Rule("created", "P20Y", "destroy")),
                  ErrorCode::kPermissionDenied, "forbidden", name + " lengthens a schedule");
    ExpectRefused(retention_.PutSchedule(*who, "general", Rule("created", "P1Y", "destroy")),
                  ErrorCode::kPermissionDenied, "forbidden", name + " shortens a schedule");
    ExpectRefused(retention_.PutRecordRule(*who, r.id, Rule("created", "P20Y", "destroy")),
                  ErrorCode::kPermissionDenied, "forbidden", name + " overrides a record");
  }
  EXPECT_EQ(LogSize(), size);
  std::vector<ScheduleView> schedules = Must(retention_.Schedules(arch_), "schedules");
  for (const ScheduleView& v : schedules) EXPECT_TRUE(v.is_default) << domain::Name(v.type);
  Disposition d = Must(retention_.RecordDisposition(arch_, r.id), "disposition");
  EXPECT_EQ(d.source, "schedule");
}

TEST_F(RetentionServiceTest, OnlyLegalOtherThanTheRequesterDecidesChanges) {
  RuleChangeResult r =
      Must(retention_.PutSchedule(arch_, "general", Rule("created", "P1Y", "destroy")), "put");
  ASSERT_TRUE(r.pending.has_value());
  const std::string id = r.pending->id;
  uint64_t size = LogSize();
  // The requester, another archivist, and every role but legal.
  for (const Principal* who : {&arch_, &arnie_, &ann_, &alice_, &audrey_, &root_}) {
    ExpectRefused(retention_.Approve(*who, id), ErrorCode::kPermissionDenied, "forbidden",
                  who->username.value + " approves");
    ExpectRefused(retention_.Reject(*who, id, "no"), ErrorCode::kPermissionDenied, "forbidden",
                  who->username.value + " rejects");
  }
  EXPECT_EQ(LogSize(), size);
  std::vector<RetentionChange> pending = Must(retention_.Changes(lee_, "pending"), "changes");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(domain::Name(pending[0].state), "pending");
  EXPECT_EQ(pending[0].requested_by, "arch");
  ExpectRefused(retention_.Approve(lee_, "RC-2026-999999"), ErrorCode::kNotFound,
                "change_not_found", "unknown change");
}

TEST_F(RetentionServiceTest, RequesterWhoBecameLegalStillCannotDecideTheirOwnChange) {
  RuleChangeResult r =
      Must(retention_.PutSchedule(arch_, "general", Rule("created", "P1Y", "destroy")), "put");
  ASSERT_TRUE(r.pending.has_value());
  const Principal arch_now_legal = User("arch", Role::kLegal, "legal");
  ExpectRefused(retention_.Approve(arch_now_legal, r.pending->id), ErrorCode::kPermissionDenied,
                "self_approval", "requester approves");
  ExpectRefused(retention_.Reject(arch_now_legal, r.pending->id, ""), ErrorCode::kPermissionDenied,
                "self_approval", "requester rejects");
  EXPECT_EQ(Must(retention_.Changes(lee_, "pending"), "pending").size(), 1u);
}

TEST_F(RetentionServiceTest, ReadersAreArchivistsLegalAndAuditors) {
  for (const Principal* who : {&ann_, &alice_, &root_}) {
    std::string name = who->username.value;
    ExpectRefused(retention_.Schedules(*who), ErrorCode::kPermissionDenied, "forbidden", name);
    ExpectRefused(retention_.Changes(*who, ""), ErrorCode::kPermissionDenied, "forbidden", name);
    ExpectRefused(retention_.Holds(*who), ErrorCode::kPermissionDenied, "forbidden", name);
    ExpectRefused(retention_.DispositionDue(*who), ErrorCode::kPermissionDenied, "forbidden", name);
  }
  for (const Principal* who : {&arch_, &lee_, &audrey_}) {
    std::string name = who->username.value;
    EXPECT_TRUE(retention_.Schedules(*who).ok()) << name;
    EXPECT_TRUE(retention_.Changes(*who, "").ok()) << name;
    EXPECT_TRUE(retention_.Holds(*who).ok()) << name;
    EXPECT_TRUE(retention_.DispositionDue(*who).ok()) << name;
  }
  ExpectRefused(retention_.Changes(arch_, "open"), ErrorCode::kInvalidArgument, "invalid_parameter",
                "unknown state filter");
}

TEST_F(RetentionServiceTest, OnlyLegalPlacesChangesAndReleasesHolds) {
  TestRecord r = General("Minutes");
  TestRecord s = General("Budget");
  HoldInput in{"Dispute", "litigation pending", "CASE-1", {r.id.value}};
  uint64_t size = LogSize();
  for (const Principal* who : {&arch_, &ann_, &alice_, &audrey_, &root_}) {
    ExpectRefused(retention_.CreateHold(*who, in), ErrorCode::kPermissionDenied, "forbidden",
                  who->username.value + " places a hold");
  }
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(StateOf(r), RecordState::kActive);

  Hold h = Must(retention_.CreateHold(lee_, in), "hold");
  for (const Principal* who : {&arch_, &ann_, &alice_, &audrey_, &root_}) {
    std::string name = who->username.value;
    ExpectRefused(retention_.AddToHold(*who, h.id, {s.id.value}), ErrorCode::kPermissionDenied,
                  "forbidden", name + " adds");
    ExpectRefused(retention_.RemoveFromHold(*who, h.id, r.id.value), ErrorCode::kPermissionDenied,
                  "forbidden", name + " removes");
    ExpectRefused(retention_.ReleaseHold(*who, h.id), ErrorCode::kPermissionDenied, "forbidden",
                  name + " releases");
  }
  EXPECT_EQ(domain::Name(Must(retention_.GetHold(audrey_, h.id), "get").state), "active");
  EXPECT_EQ(StateOf(r), RecordState::kOnHold);
  EXPECT_EQ(StateOf(s), RecordState::kActive);
  // Another legal user may manage a hold lee placed.
  EXPECT_TRUE(retention_.AddToHold(lena_, h.id, {s.id.value}).ok());
  EXPECT_EQ(StateOf(s), RecordState::kOnHold);
  EXPECT_TRUE(retention_.ReleaseHold(lena_, h.id).ok());
  EXPECT_EQ(StateOf(r), RecordState::kActive);
  EXPECT_EQ(StateOf(s), RecordState::kActive);
}

TEST_F(RetentionServiceTest, LengtheningAScheduleAppliesAtOnce) {
  TestRecord r = General("Minutes");
  clock_.Advance(1h);
  uint64_t size = LogSize();
  RuleChangeResult res =
      Must(retention_.PutSchedule(arch_, "general", Rule("created", "P12Y", "destroy")), "put");
  EXPECT_TRUE(res.applied);
  EXPECT_FALSE(res.pending.has_value());
  ASSERT_TRUE(res.schedule.has_value());
  EXPECT_EQ(res.schedule->rule.period.text, "P12Y");

  std::vector<ScheduleView> schedules = Must(retention_.Schedules(audrey_), "schedules");
  auto general = std::find_if(schedules.begin(), schedules.end(), [](const ScheduleView& v) {
    return v.type == domain::RecordType::kGeneral;
  });
  ASSERT_NE(general, schedules.end());
  EXPECT_FALSE(general->is_default);
  EXPECT_EQ(general->rule.period.text, "P12Y");
  EXPECT_EQ(general->updated_by, "arch");
  ASSERT_TRUE(general->updated_at.has_value());
  EXPECT_EQ(*general->updated_at, clock_.Now());
  EXPECT_EQ(schedules.size(), 5u);

  Disposition d = Must(retention_.RecordDisposition(arch_, r.id), "disposition");
  ASSERT_TRUE(d.date.has_value());
  EXPECT_EQ(*d.date, "2038-03-02");
  EXPECT_EQ(d.source, "schedule");

  auto events = EventsOf(size, "retention.schedule");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].subject, "schedule:general");
  EXPECT_EQ(events[0].actor, "arch");
  EXPECT_TRUE(Must(retention_.Changes(arch_, ""), "changes").empty());

  // destroy → review and anything → permanent lengthen too.
  EXPECT_TRUE(
      Must(retention_.PutSchedule(arch_, "general", Rule("created", "P12Y", "review")), "review")
          .applied);
  EXPECT_TRUE(
      Must(retention_.PutSchedule(arch_, "contract", Rule("created", "P0D", "permanent")), "perm")
          .applied);
  EXPECT_TRUE(Must(retention_.Changes(arch_, ""), "changes").empty());
  ExpectRefused(retention_.PutSchedule(arch_, "widget", Rule("created", "P1Y", "destroy")),
                ErrorCode::kUnprocessable, "invalid_type", "unknown type");
}

TEST_F(RetentionServiceTest, ShorteningAScheduleWaitsForLegalApproval) {
  TestRecord r = General("Minutes");
  uint64_t size = LogSize();
  RuleChangeResult res =
      Must(retention_.PutSchedule(arch_, "general", Rule("created", "P5Y", "destroy")), "put");
  EXPECT_FALSE(res.applied);
  ASSERT_TRUE(res.pending.has_value());
  const RetentionChange& c = *res.pending;
  EXPECT_EQ(c.id, "RC-2026-000001");
  EXPECT_EQ(domain::Name(c.state), "pending");
  EXPECT_EQ(c.scope, "schedule");
  EXPECT_EQ(c.target, "general");
  EXPECT_EQ(c.from.period.text, "P10Y");
  EXPECT_EQ(c.to.period.text, "P5Y");
  EXPECT_EQ(c.requested_by, "arch");
  ASSERT_EQ(EventsOf(size, "retention.change_request").size(), 1u);

  // Nothing changed yet.
  EXPECT_EQ(*Must(retention_.RecordDisposition(arch_, r.id), "d").date, "2036-03-02");
  for (const ScheduleView& v : Must(retention_.Schedules(arch_), "schedules")) {
    EXPECT_TRUE(v.is_default) << domain::Name(v.type);
  }

  clock_.Advance(2h);
  RetentionChange approved = Must(retention_.Approve(lee_, c.id), "approve");
  EXPECT_EQ(domain::Name(approved.state), "approved");
  EXPECT_EQ(approved.decided_by, "lee");
  ASSERT_TRUE(approved.decided_at.has_value());
  EXPECT_EQ(*approved.decided_at, clock_.Now());
  EXPECT_EQ(*Must(retention_.RecordDisposition(arch_, r.id), "d").date, "2031-03-02");
  auto decided = EventsOf(size, "retention.change_approve");
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].actor, "lee");
  EXPECT_EQ(Detail(decided[0], "change"), c.id);
  EXPECT_TRUE(Must(retention_.Changes(lee_, "pending"), "pending").empty());
  ASSERT_EQ(Must(retention_.Changes(lee_, "approved"), "approved").size(), 1u);

  // Deciding twice is a conflict, and changes nothing.
  uint64_t after = LogSize();
  ExpectRefused(retention_.Approve(lena_, c.id), ErrorCode::kConflict, "invalid_change_state",
                "approve again");
  ExpectRefused(retention_.Reject(lena_, c.id, "changed my mind"), ErrorCode::kConflict,
                "invalid_change_state", "reject after approval");
  EXPECT_EQ(LogSize(), after);
  EXPECT_EQ(*Must(retention_.RecordDisposition(arch_, r.id), "d").date, "2031-03-02");
}

TEST_F(RetentionServiceTest, RejectedShorteningChangesNothing) {
  TestRecord r = General("Minutes");
  RuleChangeResult res = Must(
      retention_.PutSchedule(arch_, "general", Rule("last_activity", "P20Y", "destroy")), "put");
  // A trigger change shortens, however long the period.
  ASSERT_TRUE(res.pending.has_value());
  RetentionChange rejected =
      Must(retention_.Reject(lee_, res.pending->id, "keep the default"), "reject");
  EXPECT_EQ(domain::Name(rejected.state), "rejected");
  EXPECT_EQ(rejected.reason, "keep the default");
  EXPECT_EQ(rejected.decided_by, "lee");
  Disposition d = Must(retention_.RecordDisposition(arch_, r.id), "d");
  EXPECT_EQ(d.rule.trigger, RetentionTrigger::kCreated);
  EXPECT_EQ(*d.date, "2036-03-02");
  ExpectRefused(retention_.Approve(lena_, res.pending->id), ErrorCode::kConflict,
                "invalid_change_state", "approve after rejection");
  ExpectRefused(retention_.Reject(lena_, res.pending->id, ""), ErrorCode::kConflict,
                "invalid_change_state", "reject twice");
  EXPECT_EQ(Must(retention_.Changes(arch_, "rejected"), "rejected").size(), 1u);
}

TEST_F(RetentionServiceTest, RecordOverrideLengthensAtOnceAndShortensWithApproval) {
  TestRecord r = General("Minutes");
  TestRecord other = General("Budget");
  RuleChangeResult longer =
      Must(retention_.PutRecordRule(arch_, r.id, Rule("created", "P15Y", "destroy")), "longer");
  EXPECT_TRUE(longer.applied);
  ASSERT_TRUE(longer.disposition.has_value());
  EXPECT_EQ(longer.disposition->source, "record");
  EXPECT_EQ(*longer.disposition->date, "2041-03-02");
  // Only that record.
  EXPECT_EQ(Must(retention_.RecordDisposition(arch_, other.id), "other").source, "schedule");

  RuleChangeResult shorter =
      Must(retention_.PutRecordRule(arch_, r.id, Rule("created", "P1Y", "destroy")), "shorter");
  EXPECT_FALSE(shorter.applied);
  ASSERT_TRUE(shorter.pending.has_value());
  EXPECT_EQ(shorter.pending->scope, "record");
  EXPECT_EQ(shorter.pending->target, r.id.value);
  EXPECT_EQ(shorter.pending->from.period.text, "P15Y");
  EXPECT_EQ(*Must(retention_.RecordDisposition(arch_, r.id), "d").date, "2041-03-02");

  ASSERT_TRUE(retention_.Approve(lee_, shorter.pending->id).ok());
  Disposition d = Must(retention_.RecordDisposition(arch_, r.id), "d");
  EXPECT_EQ(d.source, "record");
  EXPECT_EQ(*d.date, "2027-03-02");
  ExpectRefused(retention_.PutRecordRule(arch_, RecordId{"GN-2026-999999"},
                                         Rule("created", "P20Y", "destroy")),
                ErrorCode::kNotFound, "record_not_found", "unknown record");
}

TEST_F(RetentionServiceTest, HeldRecordsRetentionCannotBeShortened) {
  TestRecord r = General("Minutes");
  Hold h = Must(PlaceHold({r.id}), "hold");
  EXPECT_EQ(h.id, "LH-2026-000001");
  uint64_t size = LogSize();
  auto refused = retention_.PutRecordRule(arch_, r.id, Rule("created", "P1Y", "destroy"));
  ExpectRefused(refused, ErrorCode::kConflict, "record_on_hold", "shorten a held record");
  EXPECT_TRUE(Contains(refused.status().message(), h.id)) << refused.status().message();
  EXPECT_EQ(LogSize(), size);
  EXPECT_TRUE(Must(retention_.Changes(arch_, ""), "changes").empty());
  // Lengthening a held record is fine.
  EXPECT_TRUE(
      Must(retention_.PutRecordRule(arch_, r.id, Rule("created", "P30Y", "destroy")), "l").applied);
  EXPECT_EQ(StateOf(r), RecordState::kOnHold);
}

TEST_F(RetentionServiceTest, ApprovingAShorteningAfterAHoldWasPlacedIsRefused) {
  TestRecord r = General("Minutes");
  RuleChangeResult res =
      Must(retention_.PutRecordRule(arch_, r.id, Rule("created", "P0D", "destroy")), "shorten");
  ASSERT_TRUE(res.pending.has_value());
  Hold h = Must(PlaceHold({r.id}), "hold");
  uint64_t size = LogSize();
  auto refused = retention_.Approve(lee_, res.pending->id);
  ExpectRefused(refused, ErrorCode::kConflict, "record_on_hold", "approve while held");
  EXPECT_TRUE(Contains(refused.status().message(), h.id)) << refused.status().message();
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(Must(retention_.Changes(arch_, "pending"), "pending").size(), 1u);
  EXPECT_EQ(Must(retention_.RecordDisposition(arch_, r.id), "d").source, "schedule");
  EXPECT_EQ(StateOf(r), RecordState::kOnHold);

  // Released, the same change may be approved, and the record falls due at once.
  ASSERT_TRUE(retention_.ReleaseHold(lee_, h.id).ok());
  EXPECT_EQ(StateOf(r), RecordState::kActive);
  uint64_t before = LogSize();
  ASSERT_TRUE(retention_.Approve(lee_, res.pending->id).ok());
  ExpectOneStateEvent(before, r, RecordState::kActive, RecordState::kDispositionDue);
}

TEST_F(RetentionServiceTest, StatesFollowDatesAndHoldsEachChangeLogged) {
  TestRecord r = General("Minutes");
  EXPECT_EQ(StateOf(r), RecordState::kActive);

  // The day before the disposition date: nothing is due.
  clock_.Set(At("2036-03-01T23:59:59Z"));
  EXPECT_TRUE(Must(retention_.DispositionDue(arch_), "due").empty());
  EXPECT_EQ(StateOf(r), RecordState::kActive);

  clock_.Set(At("2036-03-02T00:00:00Z"));
  uint64_t size = LogSize();
  std::vector<DueRecord> due = Must(retention_.DispositionDue(arch_), "due");
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].record.id, r.id);
  EXPECT_EQ(*due[0].disposition.date, "2036-03-02");
  ExpectOneStateEvent(size, r, RecordState::kActive, RecordState::kDispositionDue);
  auto ev = EventsOf(size, "record.state", r.id.value);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].actor, kSystemActor);
  EXPECT_EQ(Detail(ev[0], "dispositionDate"), "2036-03-02");
  // Asking again changes nothing.
  size = LogSize();
  EXPECT_EQ(Must(retention_.DispositionDue(lee_), "due").size(), 1u);
  EXPECT_EQ(Must(retention_.SweepStates(), "sweep"), 0);
  EXPECT_EQ(LogSize(), size);

  // A hold takes it off the queue.
  size = LogSize();
  Hold h = Must(PlaceHold({r.id}), "hold");
  ExpectOneStateEvent(size, r, RecordState::kDispositionDue, RecordState::kOnHold);
  ev = EventsOf(size, "record.state", r.id.value);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].actor, "lee");
  const domain::DetailValue::Array* holds = ev[0].details.Array("holds");
  ASSERT_NE(holds, nullptr);
  ASSERT_FALSE(holds->empty());
  ASSERT_NE((*holds)[0].AsString(), nullptr);
  EXPECT_EQ(*(*holds)[0].AsString(), h.id);
  EXPECT_TRUE(Must(retention_.DispositionDue(arch_), "due").empty());
  EXPECT_EQ(StateOf(r), RecordState::kOnHold);

  // Released: due again.
  size = LogSize();
  ASSERT_TRUE(retention_.ReleaseHold(lee_, h.id).ok());
  ExpectOneStateEvent(size, r, RecordState::kOnHold, RecordState::kDispositionDue);
  EXPECT_EQ(Must(retention_.DispositionDue(arch_), "due").size(), 1u);

  // Lengthening its retention makes it active again.
  size = LogSize();
  ASSERT_TRUE(
      Must(retention_.PutRecordRule(arch_, r.id, Rule("created", "P20Y", "destroy")), "l").applied);
  ExpectOneStateEvent(size, r, RecordState::kDispositionDue, RecordState::kActive);

  // Every row still matches its last logged hash.
  storage::VerifyReport report = VerifyAll();
  EXPECT_TRUE(report.clean()) << Dump(report);
}

TEST_F(RetentionServiceTest, TwoHoldsMustBothBeReleased) {
  TestRecord r = General("Minutes");
  Hold a = Must(PlaceHold({r.id}, "First"), "a");
  uint64_t size = LogSize();
  Hold b = Must(PlaceHold({r.id}, "Second"), "b");
  EXPECT_TRUE(EventsOf(size, "record.state").empty());  // already on hold
  Disposition d = Must(retention_.RecordDisposition(arch_, r.id), "d");
  EXPECT_EQ(d.holds.size(), 2u);

  ASSERT_TRUE(retention_.ReleaseHold(lee_, a.id).ok());
  EXPECT_EQ(StateOf(r), RecordState::kOnHold);
  size = LogSize();
  ASSERT_TRUE(Must(retention_.RemoveFromHold(lee_, b.id, r.id.value), "remove").record_ids.empty());
  ExpectOneStateEvent(size, r, RecordState::kOnHold, RecordState::kActive);
  ASSERT_EQ(EventsOf(size, "hold.remove", r.id.value).size(), 1u);
}

TEST_F(RetentionServiceTest, HoldLifecycleAndRefusals) {
  TestRecord r = General("Minutes");
  TestRecord s = General("Budget");
  ExpectRefused(retention_.CreateHold(lee_, {"", "why", "", {r.id.value}}),
                ErrorCode::kUnprocessable, "invalid_name", "no name");
  ExpectRefused(retention_.CreateHold(lee_, {"Dispute", " ", "", {r.id.value}}),
                ErrorCode::kUnprocessable, "invalid_reason", "no reason");
  // An unknown record refuses the hold and leaves no record held.
  ExpectRefused(PlaceHold({r.id, RecordId{"GN-2026-999999"}}), ErrorCode::kNotFound,
                "record_not_found", "unknown record");
  EXPECT_EQ(StateOf(r), RecordState::kActive);
  for (const Hold& h : Must(retention_.Holds(lee_), "holds")) EXPECT_NE(domain::Name(h.state), "active") << h.id;

  uint64_t size = LogSize();
  Hold h = Must(PlaceHold({r.id}), "hold");
  EXPECT_EQ(domain::Name(h.state), "active");
  EXPECT_EQ(h.name, "Dispute");
  EXPECT_EQ(h.case_ref, "CASE-2026-17");
  EXPECT_EQ(h.created_by, "lee");
  EXPECT_EQ(h.record_ids, std::vector<std::string>{r.id.value});
  EXPECT_EQ(EventsOf(size, "hold.create").size(), 1u);
  EXPECT_EQ(EventsOf(size, "hold.add", r.id.value).size(), 1u);

  // Adding a record twice is a no-op for it.
  Hold more = Must(retention_.AddToHold(lee_, h.id, {r.id.value, s.id.value}), "add");
  EXPECT_EQ(more.record_ids, (std::vector<std::string>{r.id.value, s.id.value}));
  EXPECT_EQ(EventsOf(size, "hold.add", r.id.value).size(), 1u);
  ExpectRefused(retention_.AddToHold(lee_, h.id, {}), ErrorCode::kUnprocessable,
                "invalid_recordIds", "add nothing");
  ExpectRefused(retention_.RemoveFromHold(lee_, h.id, "GN-2026-999999"), ErrorCode::kNotFound,
                "record_not_held", "remove a record not held");
  ExpectRefused(retention_.GetHold(lee_, "LH-2026-999999"), ErrorCode::kNotFound, "hold_not_found",
                "unknown hold");

  clock_.Advance(1h);
  Hold released = Must(retention_.ReleaseHold(lee_, h.id), "release");
  EXPECT_EQ(domain::Name(released.state), "released");
  EXPECT_EQ(released.released_by, "lee");
  ASSERT_TRUE(released.released_at.has_value());
  EXPECT_EQ(*released.released_at, clock_.Now());
  EXPECT_EQ(StateOf(r), RecordState::kActive);
  EXPECT_EQ(StateOf(s), RecordState::kActive);
  EXPECT_EQ(domain::Name(Must(retention_.GetHold(audrey_, h.id), "get").state), "released");

  uint64_t after = LogSize();
  ExpectRefused(retention_.ReleaseHold(lee_, h.id), ErrorCode::kConflict, "hold_released",
                "release twice");
  ExpectRefused(retention_.AddToHold(lee_, h.id, {r.id.value}), ErrorCode::kConflict,
                "hold_released", "add to a released hold");
  ExpectRefused(retention_.RemoveFromHold(lee_, h.id, r.id.value), ErrorCode::kConflict,
                "hold_released", "remove from a released hold");
  EXPECT_EQ(LogSize(), after);
}

TEST_F(RetentionServiceTest, DueQueueIsOrderedByDateAndSkipsPermanentRecords) {
  TestRecord late = General("Late");
  domain::RecordMetadata m{{"issuer", "CNAS"}, {"certificateNumber", "Q-1"}, {"validUntil", "2027-01-01"}};
  TestRecord early = CheckIn("qualification", "Early", m);  // due 2032-01-01
  TestRecord dossier = Dossier("Forever");
  domain::RecordMetadata c{{"counterparty", "ACME"}, {"contractNumber", "HT-9"}, {"signedDate", "2026-01-01"}};
  TestRecord open_ended = CheckIn("contract", "No end date", c);

  clock_.Set(At("2090-01-01T00:00:00Z"));
  EXPECT_EQ(Must(retention_.SweepStates(), "sweep"), 2);
  std::vector<DueRecord> due = Must(retention_.DispositionDue(audrey_), "due");
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].record.id, early.id);
  EXPECT_EQ(*due[0].disposition.date, "2032-01-01");
  EXPECT_EQ(due[1].record.id, late.id);
  EXPECT_EQ(StateOf(dossier), RecordState::kActive);
  EXPECT_EQ(StateOf(open_ended), RecordState::kActive);
  Disposition d = Must(retention_.RecordDisposition(arch_, open_ended.id), "d");
  EXPECT_FALSE(d.date.has_value());
  EXPECT_FALSE(d.due);
}

// ================================================================ destruction

class DestructionServiceTest : public RetentionFixture {
 protected:
  // Two general records checked in on 2026-03-02 (due 2036-03-02), one of
  // them with two files and a second version; then the clock moves to
  // when they are due.
  void SetUp() override {
    a_ = CheckIn("general", "Old minutes", {}, {"minutes, page 1", "minutes, page 2"});
    AddVersion(a_.id, "minutes, corrected");
    b_ = General("Old budget");
    keep_ = Dossier("Product X dossier");
    clock_.Set(At("2036-03-03T10:00:00Z"));
  }

  DestructionBatch ProposeAB() {
    return Must(destruction_.Propose(arch_, {a_.id.value, b_.id.value}, "retention expired"),
                "propose");
  }
  DestructionBatch Approved() {
    DestructionBatch b = ProposeAB();
    EXPECT_TRUE(destruction_.Approve(ann_, b.id).ok());
    return Must(destruction_.Approve(lee_, b.id), "legal approval");
  }

  TestRecord a_, b_, keep_;
};

TEST_F(DestructionServiceTest, ProposalRefusesWhatMayNotBeDestroyed) {
  TestRecord fresh = General("New minutes");  // checked in now: due in 2046
  uint64_t size = LogSize();
  for (const Principal* who : {&lee_, &ann_, &alice_, &audrey_, &root_}) {
    ExpectRefused(destruction_.Propose(*who, {a_.id.value}, ""), ErrorCode::kPermissionDenied,
                  "forbidden", who->username.value + " proposes");
  }
  ExpectRefused(destruction_.Propose(arch_, {}, ""), ErrorCode::kUnprocessable, "invalid_recordIds",
                "empty list");
  ExpectRefused(destruction_.Propose(arch_, {a_.id.value, b_.id.value, a_.id.value}, ""),
                ErrorCode::kUnprocessable, "invalid_recordIds", "duplicate");

  auto not_due = destruction_.Propose(arch_, {a_.id.value, fresh.id.value}, "");
  ExpectRefused(not_due, ErrorCode::kConflict, "record_not_due", "not due");
  EXPECT_TRUE(Contains(not_due.status().message(), fresh.id.value)) << not_due.status().message();
  auto permanent = destruction_.Propose(arch_, {keep_.id.value}, "");
  ExpectRefused(permanent, ErrorCode::kConflict, "record_not_due", "permanent");
  EXPECT_TRUE(Contains(permanent.status().message(), keep_.id.value));
  ExpectRefused(destruction_.Propose(arch_, {"GN-2026-999999"}, ""), ErrorCode::kNotFound,
                "record_not_found", "unknown");
  // Due for review is not due for destruction.
  TestRecord review = General("Review me");
  RuleChangeResult to_review =
      Must(retention_.PutRecordRule(arch_, review.id, Rule("created", "P0D", "review")), "review");
  ASSERT_TRUE(to_review.pending.has_value());
  ASSERT_TRUE(retention_.Approve(lee_, to_review.pending->id).ok());
  ASSERT_TRUE(Must(retention_.RecordDisposition(arch_, review.id), "d").due);
  auto for_review = destruction_.Propose(arch_, {review.id.value}, "");
  ExpectRefused(for_review, ErrorCode::kConflict, "record_not_due", "due for review");
  EXPECT_TRUE(Contains(for_review.status().message(), "review")) << for_review.status().message();
  size = LogSize();
  // No refusal left a batch or an event behind.
  EXPECT_EQ(LogSize(), size);

  Hold h = Must(PlaceHold({b_.id}), "hold");
  size = LogSize();
  auto held = destruction_.Propose(arch_, {a_.id.value, b_.id.value}, "");
  ExpectRefused(held, ErrorCode::kConflict, "record_on_hold", "held");
  EXPECT_TRUE(Contains(held.status().message(), b_.id.value)) << held.status().message();
  EXPECT_TRUE(Contains(held.status().message(), h.id)) << held.status().message();
  EXPECT_EQ(LogSize(), size);
  EXPECT_TRUE(Must(destruction_.List(arch_), "list").empty());
  ASSERT_TRUE(retention_.ReleaseHold(lee_, h.id).ok());

  DestructionBatch batch = ProposeAB();
  EXPECT_EQ(batch.id, "DB-2036-000001");
  EXPECT_EQ(domain::Name(batch.state), "proposed");
  EXPECT_EQ(batch.proposed_by, "arch");
  ASSERT_EQ(batch.items.size(), 2u);
  EXPECT_EQ(batch.items[0].record_id, a_.id.value);
  EXPECT_EQ(batch.items[0].files.size(), 3u);  // two files of v1, one of v2
  EXPECT_EQ(batch.items[0].disposition_date, "2036-03-02");
  EXPECT_EQ(batch.items[0].rule_source, "schedule");

  // A record is in at most one open batch.
  auto twice = destruction_.Propose(arnie_, {b_.id.value}, "");
  ExpectRefused(twice, ErrorCode::kConflict, "record_in_batch", "in another batch");
  EXPECT_TRUE(Contains(twice.status().message(), b_.id.value));
  EXPECT_TRUE(Contains(twice.status().message(), batch.id));
  EXPECT_EQ(Must(destruction_.List(audrey_), "list").size(), 1u);
  ExpectRefused(destruction_.List(alice_), ErrorCode::kPermissionDenied, "forbidden",
                "staff lists");
}

TEST_F(DestructionServiceTest, ApprovalNeedsOneApproverAndOneLegalNeitherTheProposer) {
  DestructionBatch b = ProposeAB();
  uint64_t size = LogSize();
  ExpectRefused(destruction_.Approve(arch_, b.id), ErrorCode::kPermissionDenied, "self_approval",
                "proposer approves");
  for (const Principal* who : {&arnie_, &alice_, &audrey_}) {
    ExpectRefused(destruction_.Approve(*who, b.id), ErrorCode::kPermissionDenied, "forbidden",
                  who->username.value + " approves");
  }
  // The administrator approves nothing: refused before the batch is looked
  // at (so the answer says nothing of whether it exists).
  ExpectRefused(destruction_.Approve(root_, b.id), ErrorCode::kPermissionDenied, "forbidden",
                "the administrator approves");
  EXPECT_EQ(LogSize(), size);

  clock_.Advance(1h);
  DestructionBatch one = Must(destruction_.Approve(ann_, b.id), "ann");
  EXPECT_EQ(domain::Name(one.state), "proposed");
  ASSERT_EQ(one.approvals.size(), 1u);
  EXPECT_EQ(one.approvals[0].by, "ann");
  EXPECT_EQ(one.approvals[0].role, "approver");
  EXPECT_EQ(one.approvals[0].at, clock_.Now());

  size = LogSize();
  ExpectRefused(destruction_.Approve(ann_, b.id), ErrorCode::kConflict, "already_approved",
                "ann again");
  auto second_approver = destruction_.Approve(amos_, b.id);
  ExpectRefused(second_approver, ErrorCode::kPermissionDenied, "forbidden",
                "a second approver instead of legal");
  EXPECT_TRUE(Contains(second_approver.status().message(), "legal"))
      << second_approver.status().message();
  EXPECT_EQ(LogSize(), size);
  ExpectRefused(destruction_.Execute(arch_, b.id), ErrorCode::kConflict, "invalid_batch_state",
                "execute with one approval");

  DestructionBatch two = Must(destruction_.Approve(lee_, b.id), "lee");
  EXPECT_EQ(domain::Name(two.state), "approved");
  ASSERT_EQ(two.approvals.size(), 2u);
  EXPECT_EQ(two.approvals[1].by, "lee");
  EXPECT_EQ(two.approvals[1].role, "legal");
  auto events = EventsOf(size, "destruction.approve");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].subject, "destruction:" + b.id);
  EXPECT_EQ(Detail(events[0], "state"), "approved");
  EXPECT_EQ(two.approvals[1].log_index, LogSize() - 1);

  ExpectRefused(destruction_.Approve(lena_, b.id), ErrorCode::kConflict, "invalid_batch_state",
                "a third approval");
  ExpectRefused(destruction_.Approve(lee_, "DB-2036-999999"), ErrorCode::kNotFound,
                "destruction_not_found", "unknown batch");
  // Nothing is destroyed by approval alone.
  EXPECT_EQ(StateOf(a_), RecordState::kActive);
  EXPECT_FALSE(FilesOf(a_.id)[0].wrapped_dek.empty());
}

// A batch configured for two approvers and legal takes two distinct approvers.
class DestructionTwoApproversTest : public RetentionFixture {
 protected:
  DestructionTwoApproversTest()
      : RetentionFixture(DestructionOptions{{Role::kApprover, Role::kApprover, Role::kLegal}}) {}
};

TEST_F(DestructionTwoApproversTest, EachConfiguredRoleNeedsItsOwnPerson) {
  TestRecord r = General("Minutes");
  clock_.Set(At("2036-03-03T10:00:00Z"));
  DestructionBatch b = Must(destruction_.Propose(arch_, {r.id.value}, ""), "propose");
  ASSERT_TRUE(destruction_.Approve(lee_, b.id).ok());
  ExpectRefused(destruction_.Approve(lena_, b.id), ErrorCode::kPermissionDenied, "forbidden",
                "second legal");
  EXPECT_EQ(domain::Name(Must(destruction_.Approve(ann_, b.id), "ann").state), "proposed");
  ExpectRefused(destruction_.Approve(ann_, b.id), ErrorCode::kConflict, "already_approved", "ann");
  EXPECT_EQ(domain::Name(Must(destruction_.Approve(amos_, b.id), "amos").state), "approved");
}

TEST_F(DestructionServiceTest, ExecuteNeedsApprovalAndAnArchivist) {
  DestructionBatch b = ProposeAB();
  ExpectRefused(destruction_.Execute(arch_, b.id), ErrorCode::kConflict, "invalid_batch_state",
                "execute a proposed batch");
  ExpectRefused(destruction_.Certificate(arch_, b.id), ErrorCode::kConflict, "not_executed",
                "certificate before execution");
  ASSERT_TRUE(destruction_.Approve(ann_, b.id).ok());
  ASSERT_TRUE(destruction_.Approve(lee_, b.id).ok());
  uint64_t size = LogSize();
  for (const Principal* who : {&lee_, &ann_, &alice_, &audrey_, &root_}) {
    ExpectRefused(destruction_.Execute(*who, b.id), ErrorCode::kPermissionDenied, "forbidden",
                  who->username.value + " executes");
  }
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(StateOf(a_), RecordState::kActive);
  // Any archivist may execute, not only the proposer.
  EXPECT_EQ(domain::Name(Must(destruction_.Execute(arnie_, b.id), "execute").state), "executed");
}

TEST_F(DestructionServiceTest, HoldPlacedAfterApprovalStopsExecution) {
  DestructionBatch b = Approved();
  Hold h = Must(PlaceHold({b_.id}), "hold");
  uint64_t size = LogSize();
  auto refused = destruction_.Execute(arch_, b.id);
  ExpectRefused(refused, ErrorCode::kConflict, "record_on_hold", "execute a held record");
  EXPECT_TRUE(Contains(refused.status().message(), b_.id.value)) << refused.status().message();
  // Nothing happened, to either record.
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(domain::Name(Must(destruction_.Get(arch_, b.id), "get").state), "approved");
  for (const TestRecord* r : {&a_, &b_}) {
    EXPECT_NE(StateOf(*r), RecordState::kDestroyed);
    for (const auto& f : FilesOf(r->id)) {
      EXPECT_FALSE(f.wrapped_dek.empty());
      EXPECT_TRUE(blobs_.Size(f.blob_id).ok());
    }
    EXPECT_FALSE(Doc(kTombstoneDocument, r->id.value).has_value());
  }
  EXPECT_TRUE(Read(arch_, a_.id, 1, a_.files[0]).ok());

  // Released, the approved batch executes.
  ASSERT_TRUE(retention_.ReleaseHold(lee_, h.id).ok());
  EXPECT_EQ(domain::Name(Must(destruction_.Execute(arch_, b.id), "execute").state), "executed");
  EXPECT_EQ(StateOf(b_), RecordState::kDestroyed);
}

TEST_F(DestructionServiceTest, RecordNoLongerDueAtExecutionIsRefused) {
  DestructionBatch b = Approved();
  ASSERT_TRUE(Must(retention_.PutRecordRule(arch_, a_.id, Rule("created", "P50Y", "destroy")), "l")
                  .applied);
  auto refused = destruction_.Execute(arch_, b.id);
  ExpectRefused(refused, ErrorCode::kConflict, "record_not_due", "no longer due");
  EXPECT_TRUE(Contains(refused.status().message(), a_.id.value));
  EXPECT_EQ(StateOf(b_), RecordState::kActive);
}

TEST_F(DestructionServiceTest, ExecutionShredsKeysDeletesBlobsAndLeavesTombstones) {
  DestructionBatch approved = Approved();
  std::vector<domain::StoredFile> files_before = FilesOf(a_.id);
  for (const auto& f : FilesOf(b_.id)) files_before.push_back(f);
  ASSERT_EQ(files_before.size(), 4u);
  std::vector<domain::StoredFile> kept_before = FilesOf(keep_.id);
  uint64_t size = LogSize();

  clock_.Advance(1h);
  DestructionBatch done = Must(destruction_.Execute(arch_, approved.id), "execute");
  EXPECT_EQ(domain::Name(done.state), "executed");
  EXPECT_EQ(done.executed_by, "arch");
  ASSERT_TRUE(done.executed_at.has_value());
  EXPECT_EQ(*done.executed_at, clock_.Now());
  EXPECT_FALSE(done.certificate.empty());

  // Keys gone, ciphertext gone.
  for (const TestRecord* r : {&a_, &b_}) {
    for (const auto& f : FilesOf(r->id)) {
      EXPECT_TRUE(f.wrapped_dek.empty()) << f.id.value;
      EXPECT_FALSE(blobs_.Size(f.blob_id).ok()) << f.blob_id.value;
    }
  }
  auto remaining = Must(blobs_.List(), "list");
  for (const auto& f : files_before) {
    EXPECT_EQ(std::count(remaining.begin(), remaining.end(), f.blob_id), 0) << f.blob_id.value;
  }
  // The record not in the batch is untouched.
  ASSERT_EQ(FilesOf(keep_.id).size(), 1u);
  EXPECT_EQ(FilesOf(keep_.id)[0].wrapped_dek, kept_before[0].wrapped_dek);
  EXPECT_TRUE(Read(arch_, keep_.id, 1, keep_.files[0]).ok());

  // One record.destroy event per record, bound to the tombstone row.
  auto destroys = EventsOf(size, "record.destroy");
  ASSERT_EQ(destroys.size(), 2u);
  for (const TestRecord* r : {&a_, &b_}) {
    auto events = EventsOf(size, "record.destroy", r->id.value);
    ASSERT_EQ(events.size(), 1u) << r->id.value;
    domain::Record row = Row(r->id);
    EXPECT_EQ(row.state, RecordState::kDestroyed);
    EXPECT_TRUE(row.description.empty());
    EXPECT_TRUE(row.location.empty());
    EXPECT_EQ(row.metadata_json, "{}");
    EXPECT_FALSE(row.title.empty());  // the tombstone keeps what identifies it
    EXPECT_EQ(Detail(events[0], storage::kDetailRecordHash), storage::RecordDigest(row).value());
    EXPECT_EQ(Detail(events[0], "batch"), approved.id);
    EXPECT_EQ(events[0].actor, "arch");
    const domain::DetailValue::Array* logged_files = events[0].details.Array("files");
    ASSERT_NE(logged_files, nullptr);
    EXPECT_EQ(logged_files->size(), FilesOf(r->id).size());

    auto tomb = Doc(kTombstoneDocument, r->id.value);
    ASSERT_TRUE(tomb.has_value()) << r->id.value;
    EXPECT_EQ(tomb->state, "destroyed");
    EXPECT_TRUE(Contains(tomb->body, approved.id)) << tomb->body;

    RecordDetail detail = Must(records_.Get(audrey_, r->id), "get");
    EXPECT_EQ(detail.record.state, RecordState::kDestroyed);
    EXPECT_EQ(detail.tombstone_json, tomb->body);
    auto parsed = domain::ParseJsonStrict(detail.tombstone_json);
    ASSERT_TRUE(parsed.ok());
    auto o = parsed->extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(o->getValue<std::string>("batch"), approved.id);
    EXPECT_EQ(o->getValue<std::string>("destroyedBy"), "arch");
    EXPECT_EQ(o->getArray("approvals")->size(), 2u);
    EXPECT_EQ(o->getObject("retention")->getValue<std::string>("period"), "P10Y");
  }
  // The batch remembers which event destroyed which record.
  ASSERT_EQ(done.items.size(), 2u);
  EXPECT_NE(done.items[0].event_index, done.items[1].event_index);
  EXPECT_GE(done.items[0].event_index, size);

  // Content reads are gone for good; the tombstone cannot change.
  for (const Principal* who : {&arch_, &lee_}) {
    auto read = Read(*who, a_.id, 1, a_.files[0]);
    ExpectRefused(read, ErrorCode::kGone, "content_destroyed", who->username.value + " reads");
  }
  ExpectRefused(Read(arch_, a_.id, 2, FilesOf(a_.id)[2].id), ErrorCode::kGone, "content_destroyed",
                "read version 2");
  RecordPatch patch;
  patch.title = "Revived";
  ExpectRefused(records_.Patch(arch_, a_.id, patch), ErrorCode::kConflict, "record_destroyed",
                "patch");
  ExpectRefused(records_.BeginVersion(arch_, a_.id, "amendment", ""), ErrorCode::kConflict,
                "record_destroyed", "new version");
  ExpectRefused(retention_.PutRecordRule(arch_, a_.id, Rule("created", "P99Y", "destroy")),
                ErrorCode::kConflict, "record_destroyed", "override");
  ExpectRefused(PlaceHold({a_.id}), ErrorCode::kConflict, "record_destroyed", "hold");
  ExpectRefused(destruction_.Propose(arch_, {b_.id.value}, ""), ErrorCode::kConflict,
                "record_destroyed", "propose again");
  // Sweeps leave destroyed records alone.
  clock_.Advance(kDay * 400);
  EXPECT_EQ(Must(retention_.SweepStates(), "sweep"), 0);
  EXPECT_EQ(StateOf(a_), RecordState::kDestroyed);

  // The archive still verifies: every row matches its last logged hash and
  // no destroyed file has ciphertext left.
  storage::VerifyReport report = VerifyAll();
  EXPECT_TRUE(report.clean()) << Dump(report);
}

TEST_F(DestructionServiceTest, ExecutingAgainChangesNothing) {
  DestructionBatch approved = Approved();
  DestructionBatch first = Must(destruction_.Execute(arch_, approved.id), "execute");
  std::string certificate = Must(destruction_.Certificate(audrey_, approved.id), "certificate");
  EXPECT_EQ(certificate, first.certificate);
  uint64_t size = LogSize();
  std::string tomb = Doc(kTombstoneDocument, a_.id.value)->body;

  clock_.Advance(kDay);
  DestructionBatch again = Must(destruction_.Execute(arnie_, approved.id), "execute again");
  EXPECT_EQ(domain::Name(again.state), "executed");
  EXPECT_EQ(again.executed_by, "arch");
  EXPECT_EQ(again.certificate, certificate);
  EXPECT_EQ(LogSize(), size);
  EXPECT_TRUE(EventsOf(size, "record.destroy").empty());
  EXPECT_EQ(Must(destruction_.Certificate(lee_, approved.id), "certificate"), certificate);
  EXPECT_EQ(Doc(kTombstoneDocument, a_.id.value)->body, tomb);
  // An executed batch takes no more approvals.
  ExpectRefused(destruction_.Approve(lena_, approved.id), ErrorCode::kConflict,
                "invalid_batch_state", "approve an executed batch");
}

TEST_F(DestructionServiceTest, ExecutingAgainFinishesWhatACrashInterrupted) {
  DestructionBatch first = Must(destruction_.Propose(arch_, {a_.id.value}, ""), "propose a");
  DestructionBatch second = Must(destruction_.Propose(arch_, {b_.id.value}, ""), "propose b");
  for (const DestructionBatch* b : {&first, &second}) {
    ASSERT_TRUE(destruction_.Approve(ann_, b->id).ok());
    ASSERT_TRUE(destruction_.Approve(lee_, b->id).ok());
  }

  // 1. The keys are shredded and committed, then the blobs fail to go.
  UndeletableBlobs stuck(blobs_);
  DestructionService interrupted(store_, stuck, log_, {&signer_.signer}, clock_);
  uint64_t size = LogSize();
  EXPECT_FALSE(interrupted.Execute(arch_, first.id).ok());
  EXPECT_EQ(domain::Name(Must(destruction_.Get(arch_, first.id), "get").state), "executed");
  EXPECT_EQ(StateOf(a_), RecordState::kDestroyed);
  for (const auto& f : FilesOf(a_.id)) {
    EXPECT_TRUE(f.wrapped_dek.empty());
    EXPECT_TRUE(blobs_.Size(f.blob_id).ok());  // left behind
  }
  ExpectRefused(destruction_.Certificate(arch_, first.id), ErrorCode::kConflict, "not_executed",
                "certificate of an unfinished execution");
  // verify notices the ciphertext that should be gone.
  storage::VerifyReport report = VerifyAll();
  EXPECT_EQ(
      std::count_if(report.findings.begin(), report.findings.end(),
                    [](const storage::Finding& f) { return f.code == "destroyed_blob_present"; }),
      3)
      << Dump(report);
  uint64_t destroys = EventsOf(size, "record.destroy").size();
  EXPECT_EQ(destroys, 1u);

  DestructionBatch finished = Must(destruction_.Execute(arch_, first.id), "execute again");
  EXPECT_FALSE(finished.certificate.empty());
  for (const auto& f : FilesOf(a_.id)) EXPECT_FALSE(blobs_.Size(f.blob_id).ok());
  EXPECT_EQ(EventsOf(size, "record.destroy").size(), destroys);
  EXPECT_EQ(EventsOf(size, "destruction.certificate").size(), 1u);
  EXPECT_EQ(Must(destruction_.Certificate(arch_, first.id), "certificate"), finished.certificate);

  // 2. Everything but the certificate's commit happened.
  storage::testing::FaultyStore crashing(store_);
  crashing.FailWrite(2, Status(ErrorCode::kInternal, "crash", "crash"));
  DestructionService no_certificate(crashing, blobs_, log_, {&signer_.signer}, clock_);
  size = LogSize();
  EXPECT_FALSE(no_certificate.Execute(arch_, second.id).ok());
  EXPECT_EQ(StateOf(b_), RecordState::kDestroyed);
  EXPECT_FALSE(blobs_.Size(FilesOf(b_.id)[0].blob_id).ok());
  ExpectRefused(destruction_.Certificate(arch_, second.id), ErrorCode::kConflict, "not_executed",
                "certificate that never committed");
  EXPECT_TRUE(EventsOf(size, "destruction.certificate").empty());
  DestructionBatch done = Must(destruction_.Execute(arch_, second.id), "execute again");
  EXPECT_FALSE(done.certificate.empty());
  EXPECT_EQ(EventsOf(size, "record.destroy").size(), 1u);
  EXPECT_EQ(EventsOf(size, "destruction.certificate").size(), 1u);

  report = VerifyAll();
  EXPECT_TRUE(report.clean()) << Dump(report);
}

TEST_F(DestructionServiceTest, CertificateIsSignedAndItsReceiptsVerify) {
  DestructionBatch approved = Approved();
  std::vector<domain::StoredFile> a_files = FilesOf(a_.id);
  std::vector<domain::StoredFile> b_files = FilesOf(b_.id);
  DestructionBatch done = Must(destruction_.Execute(arch_, approved.id), "execute");
  std::string cert = Must(destruction_.Certificate(audrey_, approved.id), "certificate");
  ExpectRefused(destruction_.Certificate(alice_, approved.id), ErrorCode::kPermissionDenied,
                "forbidden", "staff reads a certificate");

  // Signed with the log key.
  auto note = crypto::note::Open(cert, signer_.verifiers());
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  ASSERT_EQ(note->verified.size(), 1u);
  EXPECT_EQ(note->verified[0].name, signer_.signer.name());
  const std::string header = std::string(kCertificateHeader) + "\n";
  ASSERT_EQ(note->text.rfind(header, 0), 0u) << note->text;
  // A changed byte breaks the signature.
  std::string forged = cert;
  size_t at = forged.find(a_.id.value);
  ASSERT_NE(at, std::string::npos);
  forged[at + 3] = forged[at + 3] == '9' ? '8' : '9';
  EXPECT_FALSE(crypto::note::Open(forged, signer_.verifiers()).ok());

  std::string json = note->text.substr(header.size());
  ASSERT_FALSE(json.empty());
  ASSERT_EQ(json.back(), '\n');
  json.pop_back();
  auto parsed = domain::ParseJsonStrict(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(domain::CanonicalJson(*parsed).value(), json);  // canonical JSON
  auto c = parsed->extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(c->getValue<std::string>("batch"), approved.id);
  EXPECT_EQ(c->getValue<std::string>("proposedBy"), "arch");
  EXPECT_EQ(c->getValue<std::string>("executedBy"), "arch");
  Poco::JSON::Array::Ptr approvals = c->getArray("approvals");
  ASSERT_TRUE(approvals);
  ASSERT_EQ(approvals->size(), 2u);
  EXPECT_EQ(approvals->getObject(0)->getValue<std::string>("by"), "ann");
  EXPECT_EQ(approvals->getObject(1)->getValue<std::string>("by"), "lee");

  // Every record, with every file's hash.
  Poco::JSON::Array::Ptr records = c->getArray("records");
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2u);
  const std::vector<std::pair<const TestRecord*, std::vector<domain::StoredFile>*>> expected = {
      {&a_, &a_files}, {&b_, &b_files}};
  for (size_t i = 0; i < expected.size(); ++i) {
    Poco::JSON::Object::Ptr rec = records->getObject(static_cast<unsigned>(i));
    EXPECT_EQ(rec->getValue<std::string>("recordId"), expected[i].first->id.value);
    EXPECT_EQ(rec->getObject("retention")->getValue<std::string>("period"), "P10Y");
    Poco::JSON::Array::Ptr files = rec->getArray("files");
    ASSERT_TRUE(files);
    ASSERT_EQ(files->size(), expected[i].second->size());
    for (size_t j = 0; j < files->size(); ++j) {
      Poco::JSON::Object::Ptr f = files->getObject(static_cast<unsigned>(j));
      EXPECT_EQ(f->getValue<std::string>("id"), (*expected[i].second)[j].id.value);
      EXPECT_EQ(f->getValue<std::string>("sha256"), (*expected[i].second)[j].sha256);
      EXPECT_EQ(f->getValue<std::string>("sha256").size(), 64u);
    }
  }

  // A receipt per record that verifies offline and proves its record.destroy event.
  Poco::JSON::Array::Ptr receipts = c->getArray("receipts");
  ASSERT_TRUE(receipts);
  ASSERT_EQ(receipts->size(), 2u);
  for (size_t i = 0; i < receipts->size(); ++i) {
    Poco::JSON::Object::Ptr r = receipts->getObject(static_cast<unsigned>(i));
    const std::string record_id = r->getValue<std::string>("recordId");
    EXPECT_EQ(record_id, expected[i].first->id.value);
    uint64_t index = static_cast<uint64_t>(r->getValue<Poco::Int64>("eventIndex"));
    EXPECT_EQ(index, done.items[i].event_index);
    std::string leaf =
        VerifyReceipt(r->getValue<std::string>("receipt"), index, signer_.verifiers());
    ASSERT_FALSE(leaf.empty());
    auto decoded = storage::DecodeLeaf(leaf);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->seq, index);
    EXPECT_EQ(decoded->event.action, "record.destroy");
    EXPECT_EQ(decoded->event.subject, record_id);
    EXPECT_EQ(Detail(decoded->event, storage::kDetailRecordHash),
              storage::RecordDigest(Row(RecordId{record_id})).value());
  }

  // Issuing the certificate is itself logged, with its hash.
  auto issued = EventsOf(0, "destruction.certificate");
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(Detail(issued[0], "sha256"), crypto::HexEncode(crypto::Sha256Of(cert)));
}

}  // namespace
}  // namespace custos::services
