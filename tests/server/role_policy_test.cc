// The authorization rules of the three administrative roles in the service
// layer (principal.h), the cooling period on approvals and the flagging of
// content read by fresh accounts (account_policy.h, fresh_reads.h), on a
// SQLite store driven by a ManualClock. Accounts are written straight into
// the users table with the provenance they are meant to have.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "server/services/account_state.h"
#include "server/services/audit_package.h"
#include "server/services/destruction_service.h"
#include "server/services/fresh_reads.h"
#include "server/services/loan_service.h"
#include "server/services/log_service.h"
#include "server/services/principal.h"
#include "server/services/record_service.h"
#include "server/services/retention_service.h"
#include "server/services/row_integrity.h"
#include "storage/content_store.h"
#include "storage/log_leaf.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/scratch_store.h"

namespace custos::services {
namespace {

using domain::FileId;
using domain::RecordId;
using domain::Role;
using domain::Time;

constexpr auto kDay = std::chrono::hours(24);
const char* const kSales = "销售部";

Time At(const std::string& rfc3339) { return domain::ParseTime(rfc3339).value(); }

Principal Who(const std::string& name, Role role, const std::string& department = kSales) {
  return Principal{domain::Username{name}, role, department};
}

std::unique_ptr<crypto::LocalKeyProvider> NewKeyProvider() {
  auto key = crypto::RandomBytes(crypto::kKekSize);
  auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(*key)));
  return std::move(crypto::LocalKeyProvider::Create(std::move(*kek)).value());
}

RetentionRule Rule(const std::string& period) {
  return RetentionRule{ParseRetentionTrigger("created").value(), ParseIsoPeriod(period).value(),
                       ParseRetentionAction("destroy").value()};
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

template <typename T>
void ExpectForbidden(const StatusOr<T>& s, const std::string& what) {
  ASSERT_FALSE(s.ok()) << what << " succeeded";
  EXPECT_EQ(s.status().code(), ErrorCode::kPermissionDenied) << what << ": " << s.status().ToString();
  EXPECT_EQ(s.status().reason(), "forbidden") << what << ": " << s.status().ToString();
}
void ExpectForbidden(const Status& s, const std::string& what) {
  ASSERT_FALSE(s.ok()) << what << " succeeded";
  EXPECT_EQ(s.code(), ErrorCode::kPermissionDenied) << what << ": " << s.ToString();
  EXPECT_EQ(s.reason(), "forbidden") << what << ": " << s.ToString();
}

std::string Param(const Status& s, const std::string& name) {
  for (const ErrorParam& p : s.params()) {
    if (p.name == name) {
      if (const auto* v = std::get_if<std::string>(&p.value)) return *v;
    }
  }
  return "";
}

template <typename T>
void ExpectCooling(const StatusOr<T>& s, const std::string& event, const std::string& until,
                   const std::string& what) {
  ASSERT_FALSE(s.ok()) << what << " succeeded";
  EXPECT_EQ(s.status().code(), ErrorCode::kConflict) << what << ": " << s.status().ToString();
  EXPECT_EQ(s.status().reason(), "approver_cooling_period") << what << ": " << s.status().ToString();
  EXPECT_TRUE(Contains(s.status().message(), until)) << what << ": the message names when: " << s.status().message();
  EXPECT_EQ(Param(s.status(), "event"), event) << what;
  EXPECT_EQ(Param(s.status(), "until"), until) << what;
}

// The four accounts that read and approve nothing.
std::vector<Principal> NonBusiness() {
  return {Who("root", Role::kSysAdmin, "it"), Who("secoff", Role::kSecurityOfficer, "it"),
          Who("secaud", Role::kSecurityAuditor, "it"), Who("admin", Role::kLegacyAdmin, "it")};
}

class RolePolicyTest : public ::testing::Test {
 protected:
  RolePolicyTest()
      : store_(&signer_.checkpoint),
        keys_(NewKeyProvider()),
        content_(blobs_, *keys_, crypto::Suite::kIntl),
        clock_(At("2026-03-02T09:00:00Z")),
        log_(store_, signer_.signer.VerifierKey()),
        fresh_reads_(metrics_),
        records_(store_, content_, blobs_, log_, clock_, nullptr, RecordOptionsWithFreshReads()),
        retention_(store_, clock_),
        destruction_(store_, blobs_, log_, {&signer_.signer}, clock_),
        loans_(store_, clock_) {
    Status s = store_.Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {kSales, "records", "legal", "audit", "it"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    // The archivist who checks everything in has been here for years.
    AddAccount(arch_, clock_.Now() - 800 * kDay, {});
  }

  RecordOptions RecordOptionsWithFreshReads() {
    RecordOptions o;
    o.fresh_reads = &fresh_reads_;
    return o;
  }

  // Writes `who`'s users row, created at `created`, with `p` as provenance.
  void AddAccount(const Principal& who, Time created, const Provenance& p) {
    domain::User u;
    u.username = who.username;
    u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
    u.role = who.role;
    u.department = who.department;
    u.must_change_password = false;
    u.password_changed_at = created;
    u.created_at = created;
    u.provenance = Serialize(p);
    Status s = store_.Write([&](storage::Transaction& tx) { return tx.users().Insert(u); });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // An account that changed hands long ago.
  void AddOldAccount(const Principal& who) {
    Provenance p;
    p.created_by = "root";
    p.role_granted_at = clock_.Now() - 400 * kDay;
    p.role_granted_by = "secoff+root";
    AddAccount(who, clock_.Now() - 500 * kDay, p);
  }

  struct Checked {
    RecordId id;
    FileId file;
  };
  Checked CheckIn(const std::string& title, const std::string& type = "general") {
    RecordInput in;
    in.type = type;
    in.title = title;
    in.department = kSales;
    in.classification = "internal";
    if (type == "contract") {
      in.metadata = {{"counterparty", "上海某某有限公司"}, {"contractNumber", "HT-2026-7"}, {"signedDate", "2026-01-05"}};
    }
    Checked out;
    auto c = records_.BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return out;
    }
    std::string text = "内容 of " + title;
    crypto::Bytes bytes(text.begin(), text.end());
    MemorySource source(bytes);
    EXPECT_TRUE((*c)->AddFile({"正文.txt", "text/plain"}, source).ok());
    auto r = (*c)->Commit();
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return out;
    }
    out.id = r->detail.record.id;
    out.file = r->detail.versions.at(0).files.at(0).id;
    return out;
  }

  StatusOr<std::string> Read(const Principal& who, const Checked& c) {
    CUSTOS_ASSIGN_OR_RETURN(ContentRead cr, records_.OpenContent(who, c.id, 1, c.file));
    std::string out;
    uint8_t buf[4096];
    for (;;) {
      CUSTOS_ASSIGN_OR_RETURN(size_t n, cr.stream->Read(buf, sizeof buf));
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(buf), n);
    }
    return out;
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
  std::vector<storage::LogEvent> EventsSince(uint64_t from, const std::string& action) {
    std::vector<storage::LogEvent> out;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
      if (from >= size) return Status::Ok();
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(from, size, 1000));
      for (const auto& e : entries) {
        CUSTOS_ASSIGN_OR_RETURN(storage::DecodedLeaf leaf, storage::DecodeLeaf(e.leaf));
        if (leaf.event.action == action) out.push_back(leaf.event);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // Two records due for destruction and a batch of them proposed (the
  // clock then stands on 2036-03-03, when the general schedule has run out).
  DestructionBatch ProposedBatch() {
    Checked a = CheckIn("2026 年会议记录");
    Checked b = CheckIn("离职交接清单");
    clock_.Set(At("2036-03-03T10:00:00Z"));
    auto batch = destruction_.Propose(arch_, {a.id.value, b.id.value}, "保管期满");
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    return batch.ok() ? *batch : DestructionBatch{};
  }

  // A pending shortening of the general schedule, asked by the archivist.
  RetentionChange PendingShortening() {
    auto r = retention_.PutSchedule(arch_, "general", Rule("P1Y"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || !r->pending) {
      ADD_FAILURE() << "the shortening did not wait for approval";
      return {};
    }
    return *r->pending;
  }

  storage::testing::TestSigner signer_;
  storage::testing::ScratchStore store_;
  storage::MemoryBlobStore blobs_;
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  storage::ContentStore content_;
  ManualClock clock_;
  LogService log_;
  MetricsRegistry metrics_;
  FreshReadLog fresh_reads_;
  RecordService records_;
  RetentionService retention_;
  DestructionService destruction_;
  LoanService loans_;

  const Principal arch_ = Who("arch", Role::kArchivist, "records");
  const Principal ann_ = Who("ann", Role::kApprover);
  const Principal lee_ = Who("lee", Role::kLegal, "legal");
};

// ================================================================ the roles

TEST(RoleRules, RequireFunctionsFollowTheMatrix) {
  for (Role r : {Role::kSysAdmin, Role::kArchivist, Role::kStaff, Role::kApprover, Role::kLegal, Role::kAuditor,
                 Role::kSecurityOfficer, Role::kSecurityAuditor, Role::kLegacyAdmin}) {
    Principal p = Who("someone", r);
    std::string name(domain::Name(r));
    EXPECT_EQ(RequireAdmin(p).ok(), r == Role::kSysAdmin) << name;
    EXPECT_EQ(RequireSecurityOfficer(p).ok(), r == Role::kSecurityOfficer) << name;
    EXPECT_EQ(RequireAdministrative(p).ok(),
              r == Role::kSysAdmin || r == Role::kSecurityOfficer || r == Role::kSecurityAuditor)
        << name;
    EXPECT_EQ(RequireLogReader(p).ok(),
              r == Role::kAuditor || r == Role::kArchivist || r == Role::kSecurityAuditor)
        << name;
    EXPECT_EQ(IsNonBusiness(r), domain::IsAdministrative(r) || r == Role::kLegacyAdmin) << name;
    if (!RequireSecurityOfficer(p).ok()) {
      EXPECT_EQ(RequireSecurityOfficer(p).reason(), "forbidden") << name;
    }
  }
  // The legacy admin is no administrative role: it may do nothing at all.
  EXPECT_FALSE(RequireAdministrative(Who("admin", Role::kLegacyAdmin)).ok());
  EXPECT_FALSE(RequireAdmin(Who("admin", Role::kLegacyAdmin)).ok());
}

TEST_F(RolePolicyTest, AdministrativeRolesReadNoCatalogueNorContent) {
  Checked c = CheckIn("采购合同 2026", "contract");
  for (const Principal& who : NonBusiness()) {
    const std::string name = who.username.value;
    AddOldAccount(who);
    uint64_t size = LogSize();
    ExpectForbidden(records_.Get(who, c.id), name + " gets a record");
    ExpectForbidden(records_.Search(who, domain::RecordQuery{}), name + " searches");
    ExpectForbidden(records_.Versions(who, c.id, std::nullopt), name + " lists versions");
    ExpectForbidden(records_.GetVersion(who, c.id, 1), name + " gets a version");
    ExpectForbidden(records_.History(who, c.id), name + " reads a history");
    ExpectForbidden(records_.OpenContent(who, c.id, 1, c.file), name + " reads content");
    ExpectForbidden(records_.Receipt(who, c.id, 1), name + " gets a receipt");
    ExpectForbidden(records_.BeginCheckIn(who, RecordInput{}), name + " checks in");
    ExpectForbidden(records_.Patch(who, c.id, RecordPatch{}), name + " patches");
    ExportRequest ex;
    ex.record_ids = {c.id.value};
    ExpectForbidden(CheckExportRequest(&who, ex), name + " exports");
    EXPECT_EQ(LogSize(), size) << name << ": nothing logged";
  }
}

TEST_F(RolePolicyTest, AdministrativeRolesTouchNoLoans) {
  Checked c = CheckIn("客户档案 张三");
  Principal alice = Who("alice", Role::kStaff);
  LoanRequest req;
  req.record_id = c.id.value;
  req.kind = "digital";
  req.purpose = "离职交接";
  req.due_at = clock_.Now() + 7 * kDay;
  auto loan = loans_.Request(alice, req);
  ASSERT_TRUE(loan.ok()) << loan.status().ToString();
  for (const Principal& who : NonBusiness()) {
    const std::string name = who.username.value;
    uint64_t size = LogSize();
    ExpectForbidden(loans_.Request(who, req), name + " borrows");
    ExpectForbidden(loans_.Get(who, loan->id), name + " reads a loan");
    ExpectForbidden(loans_.List(who, LoanFilter{}), name + " lists loans");
    ExpectForbidden(loans_.Approve(who, loan->id), name + " approves a loan");
    ExpectForbidden(loans_.Reject(who, loan->id, "不批准"), name + " rejects a loan");
    ExpectForbidden(loans_.Checkout(who, loan->id), name + " checks a loan out");
    ExpectForbidden(loans_.Revoke(who, loan->id, "撤销"), name + " revokes a loan");
    ExpectForbidden(loans_.Register(who, std::nullopt, std::nullopt), name + " reads the register");
    auto alerts = loans_.GetAlerts(who);
    ASSERT_TRUE(alerts.ok()) << name << ": " << alerts.status().ToString();
    EXPECT_TRUE(alerts->overdue_loans.empty()) << name;
    EXPECT_EQ(LogSize(), size) << name << ": nothing logged";
  }
  EXPECT_EQ(loans_.Get(alice, loan->id)->state, domain::LoanState::kRequested);
}

TEST_F(RolePolicyTest, AdministrativeRolesTouchNoRetentionHoldsOrDestruction) {
  DestructionBatch batch = ProposedBatch();
  ASSERT_FALSE(batch.id.empty());
  RetentionChange change = PendingShortening();
  HoldInput hold{"诉讼保全 2036-01", "合同纠纷", "(2036)沪01民初1号", {batch.items.at(0).record_id}};
  for (const Principal& who : NonBusiness()) {
    const std::string name = who.username.value;
    AddOldAccount(who);
    uint64_t size = LogSize();
    ExpectForbidden(retention_.Schedules(who), name + " reads schedules");
    ExpectForbidden(retention_.PutSchedule(who, "general", Rule("P2Y")), name + " changes a schedule");
    ExpectForbidden(retention_.RecordDisposition(who, RecordId{batch.items.at(0).record_id}), name + " reads a disposition");
    ExpectForbidden(retention_.Changes(who, ""), name + " reads changes");
    ExpectForbidden(retention_.Approve(who, change.id), name + " approves a shortening");
    ExpectForbidden(retention_.Reject(who, change.id, "不同意"), name + " rejects a shortening");
    ExpectForbidden(retention_.CreateHold(who, hold), name + " places a hold");
    ExpectForbidden(retention_.Holds(who), name + " lists holds");
    ExpectForbidden(retention_.DispositionDue(who), name + " reads the disposition queue");
    ExpectForbidden(destruction_.Propose(who, {batch.items.at(0).record_id}, "到期"), name + " proposes");
    ExpectForbidden(destruction_.Get(who, batch.id), name + " reads a batch");
    ExpectForbidden(destruction_.List(who), name + " lists batches");
    ExpectForbidden(destruction_.Approve(who, batch.id), name + " approves a destruction");
    ExpectForbidden(destruction_.Execute(who, batch.id), name + " executes a destruction");
    ExpectForbidden(destruction_.Certificate(who, batch.id), name + " reads a certificate");
    EXPECT_EQ(LogSize(), size) << name << ": nothing logged";
  }
}

// Even configured as a destruction approver, an administrative role may not
// approve: the refusal comes before the configured roles are looked at.
TEST_F(RolePolicyTest, AdministrativeRoleConfiguredAsApproverIsStillRefused) {
  DestructionOptions o;
  o.approver_roles = {Role::kSysAdmin, Role::kSecurityOfficer, Role::kLegacyAdmin};
  DestructionService misconfigured(store_, blobs_, log_, {&signer_.signer}, clock_, o);
  DestructionBatch batch = ProposedBatch();
  for (const Principal& who : NonBusiness()) {
    AddOldAccount(who);
    ExpectForbidden(misconfigured.Approve(who, batch.id), who.username.value + " approves");
  }
}

TEST_F(RolePolicyTest, SecurityAuditorReadsTheLogTheOtherAdministratorsDoNot) {
  CheckIn("公开通知");
  uint64_t size = LogSize();
  auto entries = log_.Entries(Who("secaud", Role::kSecurityAuditor, "it"), 0, size);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(entries->size(), size);
  for (const Principal& who : {Who("root", Role::kSysAdmin, "it"), Who("secoff", Role::kSecurityOfficer, "it"),
                               Who("admin", Role::kLegacyAdmin, "it")}) {
    ExpectForbidden(log_.Entries(who, 0, size), who.username.value + " reads the log");
    ExpectForbidden(log_.Inclusion(who, 0, size), who.username.value + " reads a proof");
  }
}

TEST(AlertRules, IntegrityAlertsGoToAuditorSysadminAndSecurityAuditorOnly) {
  ManualClock clock(At("2026-03-02T09:00:00Z"));
  int null_fd = ::open("/dev/null", O_WRONLY);
  ASSERT_GE(null_fd, 0);
  {
    Logger logger(null_fd);
    MetricsRegistry metrics;
    RowIntegrityMonitor monitor(clock, logger, metrics);
    monitor.Report("users", "mallory");
    for (Role r : {Role::kSysAdmin, Role::kArchivist, Role::kStaff, Role::kApprover, Role::kLegal, Role::kAuditor,
                   Role::kSecurityOfficer, Role::kSecurityAuditor, Role::kLegacyAdmin}) {
      bool sees = r == Role::kAuditor || r == Role::kSysAdmin || r == Role::kSecurityAuditor;
      EXPECT_EQ(monitor.AlertFor(Who("x", r)).has_value(), sees) << domain::Name(r);
    }
  }
  ::close(null_fd);
}

// ================================================================ cooling period

TEST_F(RolePolicyTest, DestructionApproverCreated29DaysAgoIsRefusedUntilDay30) {
  DestructionBatch batch = ProposedBatch();
  AddOldAccount(lee_);
  const Time created = clock_.Now() - 29 * kDay;
  Provenance p;
  p.created_by = "root";
  AddAccount(ann_, created, p);
  uint64_t size = LogSize();
  const std::string until = domain::FormatTime(created + 30 * kDay);
  ExpectCooling(destruction_.Approve(ann_, batch.id), "created", until, "ann approves on day 29");
  EXPECT_TRUE(Contains(destruction_.Approve(ann_, batch.id).status().message(), batch.id));
  EXPECT_EQ(LogSize(), size) << "a refused approval logs nothing";
  auto unchanged = destruction_.Get(lee_, batch.id);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_TRUE(unchanged->approvals.empty());
  EXPECT_EQ(unchanged->state, domain::BatchState::kProposed);

  clock_.Advance(2 * kDay);  // the account is 31 days old
  auto approved = destruction_.Approve(ann_, batch.id);
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  ASSERT_EQ(approved->approvals.size(), 1u);
  EXPECT_EQ(approved->approvals[0].by, "ann");
  EXPECT_EQ(EventsSince(size, "destruction.approve").size(), 1u);
}

TEST_F(RolePolicyTest, RoleGranted10DaysAgoRefusesThoughTheAccountIsOld) {
  DestructionBatch batch = ProposedBatch();
  Provenance p;
  p.created_by = "root";
  p.role_granted_at = clock_.Now() - 10 * kDay;
  p.role_granted_by = "secoff+root";
  AddAccount(lee_, clock_.Now() - 900 * kDay, p);
  ExpectCooling(destruction_.Approve(lee_, batch.id), "role_granted",
                domain::FormatTime(*p.role_granted_at + 30 * kDay), "lee approves 10 days after the grant");
}

TEST_F(RolePolicyTest, ResetFiveDaysAgoRefuses) {
  DestructionBatch batch = ProposedBatch();
  Provenance p;
  p.created_by = "root";
  p.role_granted_at = clock_.Now() - 700 * kDay;
  p.reset_at = clock_.Now() - 5 * kDay;
  p.reset_by = "root";
  AddAccount(ann_, clock_.Now() - 900 * kDay, p);
  ExpectCooling(destruction_.Approve(ann_, batch.id), "reset", domain::FormatTime(*p.reset_at + 30 * kDay),
                "ann approves 5 days after a reset");
}

TEST_F(RolePolicyTest, ApproverWithoutAnAccountIsRefused) {
  DestructionBatch batch = ProposedBatch();
  ExpectForbidden(destruction_.Approve(ann_, batch.id), "an approver the users table does not know");
}

TEST_F(RolePolicyTest, CoolingPeriodIsConfigurable) {
  AccountPolicyOptions policy;
  policy.cooling = std::chrono::hours(0);
  DestructionOptions o;
  o.account_policy = policy;
  DestructionService no_cooling(store_, blobs_, log_, {&signer_.signer}, clock_, o);
  DestructionBatch batch = ProposedBatch();
  AddAccount(ann_, clock_.Now() - 1 * kDay, {});
  EXPECT_TRUE(no_cooling.Approve(ann_, batch.id).ok());

  o.account_policy.cooling = 100 * kDay;
  DestructionService long_cooling(store_, blobs_, log_, {&signer_.signer}, clock_, o);
  AddAccount(lee_, clock_.Now() - 60 * kDay, {});
  ExpectCooling(long_cooling.Approve(lee_, batch.id), "created",
                domain::FormatTime(clock_.Now() + 40 * kDay), "lee approves on day 60 of 100");
}

TEST_F(RolePolicyTest, RetentionShorteningApproverCreated29DaysAgoIsRefusedUntilDay30) {
  RetentionChange change = PendingShortening();
  const Time created = clock_.Now() - 29 * kDay;
  AddAccount(lee_, created, {});
  uint64_t size = LogSize();
  ExpectCooling(retention_.Approve(lee_, change.id), "created", domain::FormatTime(created + 30 * kDay),
                "lee approves a shortening on day 29");
  EXPECT_EQ(LogSize(), size);
  auto pending = retention_.Changes(lee_, "pending");
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).id, change.id);

  clock_.Advance(2 * kDay);
  auto approved = retention_.Approve(lee_, change.id);
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->state, domain::ChangeState::kApproved);
}

TEST_F(RolePolicyTest, RetentionApproverGrantedOrResetRecentlyIsRefused) {
  RetentionChange change = PendingShortening();
  Provenance granted;
  granted.role_granted_at = clock_.Now() - 10 * kDay;
  AddAccount(lee_, clock_.Now() - 900 * kDay, granted);
  ExpectCooling(retention_.Approve(lee_, change.id), "role_granted",
                domain::FormatTime(*granted.role_granted_at + 30 * kDay), "granted 10 days ago");
  Principal lena = Who("lena", Role::kLegal, "legal");
  Provenance reset;
  reset.role_granted_at = clock_.Now() - 800 * kDay;
  reset.reset_at = clock_.Now() - 5 * kDay;
  AddAccount(lena, clock_.Now() - 900 * kDay, reset);
  ExpectCooling(retention_.Approve(lena, change.id), "reset", domain::FormatTime(*reset.reset_at + 30 * kDay),
                "reset 5 days ago");
}

// Rejecting keeps the longer period: a fresh account may do it.
TEST_F(RolePolicyTest, RejectingAShorteningIsNotUnderTheCoolingPeriod) {
  RetentionChange change = PendingShortening();
  AddAccount(lee_, clock_.Now() - 1 * kDay, {});
  auto rejected = retention_.Reject(lee_, change.id, "保管期限不得缩短");
  ASSERT_TRUE(rejected.ok()) << rejected.status().ToString();
  EXPECT_EQ(rejected->state, domain::ChangeState::kRejected);
}

TEST_F(RolePolicyTest, RetentionCoolingPeriodIsConfigurable) {
  AccountPolicyOptions policy;
  policy.cooling = std::chrono::hours(0);
  RetentionService no_cooling(store_, clock_, policy);
  RetentionChange change = PendingShortening();
  AddAccount(lee_, clock_.Now(), {});
  EXPECT_TRUE(no_cooling.Approve(lee_, change.id).ok());
}

// ================================================================ fresh accounts

TEST_F(RolePolicyTest, ContentReadByAFreshAccountIsFlaggedAndAlertedToTheSecurityAuditor) {
  Checked c = CheckIn("人事档案 李四");
  Principal arnie = Who("arnie", Role::kArchivist, "records");
  Provenance p;
  p.created_by = "root";
  p.setup_at = clock_.Now() - 3 * kDay;
  p.setup_code_issued_by = "secoff";
  AddAccount(arnie, clock_.Now() - 4 * kDay, p);
  uint64_t size = LogSize();
  auto text = Read(arnie, c);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "内容 of 人事档案 李四");
  auto reads = EventsSince(size, "content.read");
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].details.Bool("freshAccount").value_or(false), true);

  std::vector<FreshRead> kept = fresh_reads_.FreshReads(Who("secaud", Role::kSecurityAuditor, "it"));
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].username, "arnie");
  EXPECT_EQ(kept[0].role, Role::kArchivist);
  EXPECT_EQ(kept[0].record_id, c.id);
  EXPECT_EQ(kept[0].version, 1);
  EXPECT_EQ(kept[0].file_id, c.file);
  EXPECT_EQ(kept[0].at, clock_.Now());
  EXPECT_EQ(kept[0].account_since, *p.setup_at);
  EXPECT_EQ(kept[0].log_index, size);
  EXPECT_TRUE(Contains(metrics_.Render(), "custos_fresh_account_reads_total 1")) << metrics_.Render();
  for (Role r : {Role::kSysAdmin, Role::kSecurityOfficer, Role::kAuditor, Role::kArchivist, Role::kLegacyAdmin}) {
    EXPECT_TRUE(fresh_reads_.FreshReads(Who("x", r)).empty()) << domain::Name(r);
  }
}

TEST_F(RolePolicyTest, ContentReadByAnOldAccountIsNotFlagged) {
  Checked c = CheckIn("人事档案 王五");
  uint64_t size = LogSize();
  ASSERT_TRUE(Read(arch_, c).ok());
  auto reads = EventsSince(size, "content.read");
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_FALSE(reads[0].details.Bool("freshAccount").has_value());
  EXPECT_TRUE(fresh_reads_.FreshReads(Who("secaud", Role::kSecurityAuditor, "it")).empty());
  EXPECT_EQ(fresh_reads_.Total(), 0u);
}

TEST_F(RolePolicyTest, ReadAfterARecentRoleGrantOrResetIsFlaggedOnceTheWindowEndsItIsNot) {
  Checked c = CheckIn("采购合同 丙", "contract");
  Principal lena = Who("lena", Role::kLegal, "legal");
  Provenance granted;
  granted.role_granted_at = clock_.Now() - 2 * kDay;
  AddAccount(lena, clock_.Now() - 900 * kDay, granted);  // legal reads contracts directly
  Principal arnie = Who("arnie", Role::kArchivist, "records");
  Provenance reset;
  reset.reset_at = clock_.Now() - 6 * kDay;
  AddAccount(arnie, clock_.Now() - 900 * kDay, reset);
  ASSERT_TRUE(Read(lena, c).ok());
  ASSERT_TRUE(Read(arnie, c).ok());
  EXPECT_EQ(fresh_reads_.Total(), 2u);
  clock_.Advance(2 * kDay);  // arnie's reset is 8 days old, lena's grant 4
  uint64_t size = LogSize();
  ASSERT_TRUE(Read(lena, c).ok());
  ASSERT_TRUE(Read(arnie, c).ok());
  auto reads = EventsSince(size, "content.read");
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].actor, "lena");
  EXPECT_TRUE(reads[0].details.Bool("freshAccount").value_or(false));
  EXPECT_EQ(reads[1].actor, "arnie");
  EXPECT_FALSE(reads[1].details.Bool("freshAccount").has_value());
  auto kept = fresh_reads_.FreshReads(Who("secaud", Role::kSecurityAuditor, "it"));
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].username, "lena");  // newest first
  EXPECT_EQ(kept[0].account_since, *granted.role_granted_at);
}

TEST_F(RolePolicyTest, RefusedReadByAFreshAccountIsNeitherLoggedNorKept) {
  Checked c = CheckIn("客户档案 赵六");
  Principal alice = Who("alice", Role::kStaff);
  AddAccount(alice, clock_.Now() - 1 * kDay, {});
  uint64_t size = LogSize();
  auto refused = Read(alice, c);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "content_forbidden");
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(fresh_reads_.Total(), 0u);
}

TEST(FreshReadLogTest, KeepsTheNewestHundred) {
  MetricsRegistry metrics;
  FreshReadLog log(metrics);
  for (uint64_t i = 0; i < FreshReadLog::kKept + 5; ++i) {
    FreshRead r;
    r.username = "u" + std::to_string(i);
    r.log_index = i;
    log.Add(r);
  }
  auto kept = log.FreshReads(Who("secaud", Role::kSecurityAuditor, "it"));
  ASSERT_EQ(kept.size(), FreshReadLog::kKept);
  EXPECT_EQ(kept.front().log_index, FreshReadLog::kKept + 4);
  EXPECT_EQ(kept.back().log_index, 5u);
  EXPECT_EQ(log.Total(), FreshReadLog::kKept + 5);
  EXPECT_TRUE(Contains(metrics.Render(), "custos_fresh_account_reads_total 105")) << metrics.Render();
}

}  // namespace
}  // namespace custos::services
