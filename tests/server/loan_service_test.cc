// LoanService (server/services/loan_service.h) and the loan check of
// RecordService::OpenContent, on a SQLite store driven by a ManualClock: the
// loan state machine, each approval rule and its refusal, digital access
// ending at the due date by itself, physical hand-out and return, renewal,
// revocation, expiry, the overdue list, alerts, the register and the audit
// events behind every transition.
#include "server/services/loan_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "common/byte_stream.h"
#include "server/services/events.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "storage/content_store.h"
#include "storage/log_leaf.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/scratch_store.h"

namespace custos::services {
namespace {

using namespace std::chrono_literals;
using domain::FileId;
using domain::RecordId;
using domain::Role;
using domain::Time;

constexpr auto kDay = std::chrono::hours(24);

// Fails the current test and returns a default value when `s` is not OK.
template <typename T>
T Must(StatusOr<T> s, const char* what = "") {
  if (!s.ok()) {
    ADD_FAILURE() << what << ": " << s.status().ToString();
    return T{};
  }
  return std::move(s).value();
}

Principal User(const std::string& name, Role role, const std::string& department) {
  return Principal{domain::Username{name}, role, department};
}

std::unique_ptr<crypto::LocalKeyProvider> NewKeyProvider() {
  auto key = crypto::RandomBytes(crypto::kKekSize);
  auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(*key)));
  return std::move(crypto::LocalKeyProvider::Create(std::move(*kek)).value());
}

// A record checked in for the tests, with the id of its one file and the
// file's plaintext.
struct TestRecord {
  RecordId id;
  FileId file;
  std::string content;
};

std::vector<std::string> LoanIds(const std::vector<domain::Loan>& loans) {
  std::vector<std::string> out;
  for (const domain::Loan& l : loans) out.push_back(l.id);
  return out;
}

class LoanServiceTest : public ::testing::Test {
 protected:
  LoanServiceTest()
      : store_(&signer_.checkpoint),
        keys_(NewKeyProvider()),
        content_(blobs_, *keys_, crypto::Suite::kIntl),
        clock_(domain::ParseTime("2026-03-02T09:00:00Z").value()),
        log_(store_, ""),
        records_(store_, content_, blobs_, log_, clock_, nullptr),
        loans_(store_, clock_) {
    Status s = store_.Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "hr", "records", "legal", "audit", "it"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    internal_ = CheckIn("general", "internal", "sales", "Price list 2026", {});
    confidential_ = CheckIn("general", "confidential", "sales", "Key accounts", {});
    secret_ = CheckIn("general", "secret", "sales", "Merger plan", {});
    hr_internal_ = CheckIn("general", "internal", "hr", "Holiday rota", {});
  }

  TestRecord CheckIn(const std::string& type, const std::string& classification,
                     const std::string& department, const std::string& title,
                     const domain::RecordMetadata& metadata) {
    RecordInput in;
    in.type = type;
    in.title = title;
    in.department = department;
    in.classification = classification;
    in.metadata = metadata;
    TestRecord out;
    out.content = "content of " + title + " (" + classification + ")";
    auto c = records_.BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return out;
    }
    crypto::Bytes bytes(out.content.begin(), out.content.end());
    MemorySource source(bytes);
    Status added = (*c)->AddFile({"doc.txt", "text/plain"}, source);
    EXPECT_TRUE(added.ok()) << added.ToString();
    CheckInResult r = Must((*c)->Commit(), "commit");
    out.id = r.detail.record.id;
    if (!r.detail.versions.empty() && !r.detail.versions[0].files.empty()) {
      out.file = r.detail.versions[0].files[0].id;
    }
    return out;
  }

  // A qualification certificate of `department` running out `days` from today.
  TestRecord Certificate(int days, const std::string& classification = "internal",
                         const std::string& department = "sales") {
    domain::RecordMetadata m{{"issuer", "CNAS"},
                             {"certificateNumber", "C-" + std::to_string(days)},
                             {"validUntil", DateIn(days)}};
    return CheckIn("qualification", classification, department,
                   "Certificate " + std::to_string(days), m);
  }

  std::string DateIn(int days) { return domain::FormatTime(clock_.Now() + kDay * days).substr(0, 10); }
  Time In(std::chrono::milliseconds d) { return clock_.Now() + d; }

  StatusOr<domain::Loan> Request(const Principal& who, const TestRecord& r, const std::string& kind,
                         std::chrono::milliseconds due_in = 7 * kDay,
                         const std::string& purpose = "") {
    LoanRequest q;
    q.record_id = r.id.value;
    q.kind = kind;
    q.purpose = purpose;
    q.due_at = In(due_in);
    return loans_.Request(who, q);
  }

  // Requests and approves a loan with one approver (`ann_`).
  domain::Loan Granted(const Principal& who, const TestRecord& r, const std::string& kind,
               std::chrono::milliseconds due_in = 7 * kDay) {
    domain::Loan l = Must(Request(who, r, kind, due_in), "request");
    return Must(loans_.Approve(ann_, l.id), "approve");
  }

  // The plaintext of the record's file as `who` reads it.
  StatusOr<std::string> Read(const Principal& who, const TestRecord& r) {
    CUSTOS_ASSIGN_OR_RETURN(ContentRead cr, records_.OpenContent(who, r.id, 1, r.file));
    std::string out;
    uint8_t buf[4096];
    for (;;) {
      CUSTOS_ASSIGN_OR_RETURN(size_t n, cr.stream->Read(buf, sizeof buf));
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(buf), n);
    }
    return out;
  }

  // The stored loan, whoever may see it.
  domain::Loan Stored(const std::string& id) { return Must(loans_.Get(arch_, id), "get"); }

  uint64_t LogSize() {
    uint64_t n = 0;
    EXPECT_TRUE(store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(n, tx.log().Size());
      return Status::Ok();
    }).ok());
    return n;
  }

  // The event at log index `i`.
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
    return e.details.String(key).value_or("");
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

  const Principal alice_ = User("alice", Role::kStaff, "sales");
  const Principal bob_ = User("bob", Role::kStaff, "sales");
  const Principal carol_ = User("carol", Role::kStaff, "hr");
  const Principal ann_ = User("ann", Role::kApprover, "sales");
  const Principal amos_ = User("amos", Role::kApprover, "sales");
  const Principal abe_ = User("abe", Role::kApprover, "sales");
  const Principal hank_ = User("hank", Role::kApprover, "hr");
  const Principal arch_ = User("arch", Role::kArchivist, "records");
  const Principal lee_ = User("lee", Role::kLegal, "legal");
  const Principal audrey_ = User("audrey", Role::kAuditor, "audit");
  const Principal admin_ = User("root", Role::kSysAdmin, "it");

  TestRecord internal_, confidential_, secret_, hr_internal_;
};

// ------------------------------------------------------------ digital loans

TEST_F(LoanServiceTest, DigitalLoanOpensAtApprovalAndReadsUntilTheDueDate) {
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");
  domain::Loan l = Must(Request(alice_, internal_, "digital", 7 * kDay), "request");
  EXPECT_EQ(l.id, "LN-2026-000001");
  EXPECT_EQ(Name(l.state), "requested");
  EXPECT_EQ(l.approvals_needed, 1);
  EXPECT_EQ(l.department, "sales");
  EXPECT_EQ(l.due_at, In(7 * kDay));
  // Requested is not enough.
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");

  clock_.Advance(1h);
  domain::Loan a = Must(loans_.Approve(ann_, l.id), "approve");
  // The last approval opens access: straight to checked_out.
  EXPECT_EQ(Name(a.state), "checked_out");
  ASSERT_EQ(a.approvals.size(), 1u);
  EXPECT_EQ(a.approvals[0].by, "ann");
  ASSERT_TRUE(a.checked_out_at.has_value());
  EXPECT_EQ(*a.checked_out_at, clock_.Now());

  uint64_t before = LogSize();
  auto got = Read(alice_, internal_);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, internal_.content);
  storage::LogEvent read = EventAt(before);
  EXPECT_EQ(read.action, "content.read");
  EXPECT_EQ(Detail(read, "loan"), l.id);
  // Nobody else reads through alice's loan.
  EXPECT_EQ(Read(bob_, internal_).status().reason(), "content_forbidden");

  // The last millisecond before the due date still reads; the due date itself does not.
  clock_.Set(a.due_at - 1ms);
  EXPECT_TRUE(Read(alice_, internal_).ok());
  clock_.Set(a.due_at);
  uint64_t size = LogSize();
  auto late = Read(alice_, internal_);
  EXPECT_EQ(late.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(late.status().reason(), "content_forbidden");
  EXPECT_EQ(LogSize(), size);  // a refused read is not logged as a read
  // Nothing ran to expire it: the stored state is still checked_out.
  domain::Loan stored = Stored(l.id);
  EXPECT_EQ(Name(stored.state), "checked_out");
  EXPECT_EQ(Name(domain::EffectiveState(stored, clock_.Now())), "expired");
}

TEST_F(LoanServiceTest, ReturnedLoanNoLongerReadsAndCannotBeReturnedTwice) {
  domain::Loan l = Granted(alice_, internal_, "digital");
  ASSERT_TRUE(Read(alice_, internal_).ok());
  clock_.Advance(2h);
  // Another person's digital loan is not theirs to return.
  EXPECT_EQ(loans_.Return(ann_, l.id).status().reason(), "forbidden");
  domain::Loan r = Must(loans_.Return(alice_, l.id), "return");
  EXPECT_EQ(Name(r.state), "returned");
  ASSERT_TRUE(r.returned_at.has_value());
  EXPECT_EQ(*r.returned_at, clock_.Now());
  EXPECT_EQ(r.returned_by, "alice");
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");

  auto again = loans_.Return(alice_, l.id);
  EXPECT_EQ(again.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(again.status().reason(), "invalid_loan_state");
  EXPECT_NE(again.status().message().find("returned"), std::string::npos)
      << again.status().message();
  EXPECT_EQ(Stored(l.id).events.size(), r.events.size());
  // The loan is closed: a new one may be asked for.
  EXPECT_TRUE(Request(alice_, internal_, "digital").ok());
}

TEST_F(LoanServiceTest, PhysicalLoansDoNotOpenContent) {
  domain::Loan l = Granted(alice_, internal_, "physical");
  EXPECT_EQ(Name(l.state), "approved");
  EXPECT_FALSE(l.checked_out_at.has_value());
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");
  ASSERT_TRUE(loans_.Checkout(arch_, l.id).ok());
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");
}

TEST_F(LoanServiceTest, ArchivistsAndLegalReadWithoutALoanBelowTheirLimits) {
  auto direct = Read(arch_, confidential_);
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(*direct, confidential_.content);
  // Secret content needs a loan even for an archivist.
  EXPECT_EQ(Read(arch_, secret_).status().reason(), "content_forbidden");
  // Legal reads contracts only.
  EXPECT_EQ(Read(lee_, internal_).status().reason(), "content_forbidden");
  domain::RecordMetadata m{{"counterparty", "ACME"}, {"contractNumber", "K-1"}, {"signedDate", "2026-01-05"}};
  TestRecord contract = CheckIn("contract", "confidential", "sales", "Supply contract", m);
  EXPECT_TRUE(Read(lee_, contract).ok());
}

// ---------------------------------------------------------- approval rules

TEST_F(LoanServiceTest, NobodyApprovesTheirOwnLoan) {
  domain::Loan l = Must(Request(ann_, internal_, "digital"), "request");
  uint64_t size = LogSize();
  auto self = loans_.Approve(ann_, l.id);
  EXPECT_EQ(self.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(self.status().reason(), "self_approval");
  EXPECT_EQ(loans_.Reject(ann_, l.id, "no").status().reason(), "self_approval");
  EXPECT_EQ(LogSize(), size);
  domain::Loan stored = Stored(l.id);
  EXPECT_EQ(Name(stored.state), "requested");
  EXPECT_TRUE(stored.approvals.empty());
  // A colleague may.
  EXPECT_EQ(Name(Must(loans_.Approve(amos_, l.id)).state), "checked_out");
}

TEST_F(LoanServiceTest, OnlyApproversOfTheOwningDepartmentApprove) {
  // hank approves for hr: a sales record's loan is not his to approve. He
  // borrowed it himself, so he sees it, and the department is checked first.
  domain::Loan own = Must(Request(hank_, internal_, "digital"), "request");
  auto wrong = loans_.Approve(hank_, own.id);
  EXPECT_EQ(wrong.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(wrong.status().reason(), "wrong_department");
  EXPECT_EQ(loans_.Reject(hank_, own.id, "").status().reason(), "wrong_department");

  // Another person's loan of a sales record: hank does not even see it.
  domain::Loan l = Must(Request(alice_, internal_, "digital"), "request");
  EXPECT_EQ(loans_.Approve(hank_, l.id).status().reason(), "loan_not_found");
  // Other roles may not approve at all.
  EXPECT_EQ(loans_.Approve(arch_, l.id).status().reason(), "forbidden");
  EXPECT_EQ(loans_.Approve(alice_, l.id).status().reason(), "forbidden");
  EXPECT_EQ(loans_.Approve(admin_, l.id).status().reason(), "forbidden");
  EXPECT_EQ(loans_.Approve(bob_, l.id).status().reason(), "loan_not_found");
  domain::Loan stored = Stored(l.id);
  EXPECT_EQ(Name(stored.state), "requested");
  EXPECT_TRUE(stored.approvals.empty());
  EXPECT_EQ(stored.events.size(), 1u);
  // The hr approver approves hr records.
  domain::Loan hr = Must(Request(carol_, hr_internal_, "digital"), "request");
  EXPECT_EQ(Name(Must(loans_.Approve(hank_, hr.id)).state), "checked_out");
  EXPECT_EQ(loans_.Approve(ann_, hr.id).status().reason(), "loan_not_found");
}

TEST_F(LoanServiceTest, SecretLoanNeedsTwoDistinctApprovers) {
  domain::Loan l = Must(Request(arch_, secret_, "digital", 7 * kDay, "due diligence"), "request");
  EXPECT_EQ(l.approvals_needed, 2);
  EXPECT_EQ(l.classification, domain::Classification::kSecret);

  domain::Loan one = Must(loans_.Approve(ann_, l.id), "first approval");
  EXPECT_EQ(Name(one.state), "requested");
  ASSERT_EQ(one.approvals.size(), 1u);
  EXPECT_EQ(Read(arch_, secret_).status().reason(), "content_forbidden");

  uint64_t size = LogSize();
  auto twice = loans_.Approve(ann_, l.id);
  EXPECT_EQ(twice.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(twice.status().reason(), "already_approved");
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(Stored(l.id).approvals.size(), 1u);
  EXPECT_EQ(Name(Stored(l.id).state), "requested");

  clock_.Advance(10min);
  domain::Loan two = Must(loans_.Approve(amos_, l.id), "second approval");
  EXPECT_EQ(Name(two.state), "checked_out");
  ASSERT_EQ(two.approvals.size(), 2u);
  EXPECT_EQ(two.approvals[0].by, "ann");
  EXPECT_EQ(two.approvals[1].by, "amos");
  EXPECT_EQ(two.checked_out_by, "amos");
  auto got = Read(arch_, secret_);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, secret_.content);
  // A third approval has nothing left to approve.
  EXPECT_EQ(loans_.Approve(abe_, l.id).status().reason(), "invalid_loan_state");
}

// The two-approver rule is about the record as it is when the loan is
// decided: a request made while the record was internal, approved after the
// record became secret, must not open secret content on one approval.
TEST_F(LoanServiceTest, RecordMadeSecretBeforeApprovalNeedsTwoApprovers) {
  domain::Loan l = Must(Request(arch_, internal_, "digital", 7 * kDay, "inventory"), "request");
  ASSERT_EQ(l.approvals_needed, 1);
  RecordPatch patch;
  patch.classification = "secret";
  ASSERT_TRUE(records_.Patch(arch_, internal_.id, patch).ok());
  ASSERT_EQ(Read(arch_, internal_).status().reason(), "content_forbidden");  // no direct read now

  domain::Loan one = Must(loans_.Approve(ann_, l.id), "first approval");
  EXPECT_EQ(Name(one.state), "requested") << "one approval opened a loan of a secret record";
  EXPECT_EQ(Read(arch_, internal_).status().reason(), "content_forbidden");
}

TEST_F(LoanServiceTest, ConfidentialAndSecretLoansNeedAPurpose) {
  for (const std::string& blank : {std::string(), std::string("  \t\n")}) {
    auto c = Request(alice_, confidential_, "digital", 7 * kDay, blank);
    EXPECT_EQ(c.status().code(), ErrorCode::kUnprocessable);
    EXPECT_EQ(c.status().reason(), "purpose_required");
    EXPECT_EQ(Request(arch_, secret_, "physical", 7 * kDay, blank).status().reason(),
              "purpose_required");
  }
  EXPECT_TRUE(Request(alice_, internal_, "digital", 7 * kDay, "").ok());
  domain::Loan c = Must(Request(alice_, confidential_, "digital", 7 * kDay, "quarterly review"), "request");
  EXPECT_EQ(c.purpose, "quarterly review");
  EXPECT_TRUE(Request(arch_, secret_, "physical", 7 * kDay, "audit").ok());
}

TEST_F(LoanServiceTest, RejectedLoanIsClosed) {
  domain::Loan l = Must(Request(alice_, internal_, "digital"), "request");
  domain::Loan r = Must(loans_.Reject(ann_, l.id, "not needed"), "reject");
  EXPECT_EQ(Name(r.state), "rejected");
  EXPECT_EQ(r.reason, "not needed");
  EXPECT_EQ(r.closed_by, "ann");
  ASSERT_TRUE(r.closed_at.has_value());
  auto late = loans_.Approve(amos_, l.id);
  EXPECT_EQ(late.status().reason(), "invalid_loan_state");
  EXPECT_NE(late.status().message().find("rejected"), std::string::npos);
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");
}

TEST_F(LoanServiceTest, RequestChecksDueDateVisibilityAndDuplicates) {
  LoanRequest q;
  q.record_id = internal_.id.value;
  q.kind = "digital";
  EXPECT_EQ(loans_.Request(alice_, q).status().reason(), "invalid_due_date");  // none
  q.due_at = clock_.Now();
  EXPECT_EQ(loans_.Request(alice_, q).status().reason(), "invalid_due_date");  // not future
  q.due_at = clock_.Now() + 90 * kDay + 1ms;
  EXPECT_EQ(loans_.Request(alice_, q).status().reason(), "invalid_due_date");  // too far
  q.kind = "borrow";
  q.due_at = clock_.Now() + kDay;
  EXPECT_EQ(loans_.Request(alice_, q).status().reason(), "invalid_kind");
  EXPECT_EQ(Request(admin_, internal_, "digital").status().reason(), "forbidden");
  // A record alice may not see is reported like a missing one.
  EXPECT_EQ(Request(alice_, secret_, "digital", kDay, "why").status().reason(), "record_not_found");
  EXPECT_EQ(Request(carol_, confidential_, "digital", kDay, "why").status().reason(),
            "record_not_found");
  q.kind = "digital";
  q.record_id = "GN-2026-999999";
  EXPECT_EQ(loans_.Request(alice_, q).status().reason(), "record_not_found");

  // The longest loan is allowed; then one open loan per kind and record.
  domain::Loan l = Must(Request(alice_, internal_, "digital", 90 * kDay), "request");
  EXPECT_EQ(Request(alice_, internal_, "digital").status().reason(), "loan_exists");
  EXPECT_TRUE(Request(alice_, internal_, "physical").ok());
  EXPECT_TRUE(Request(bob_, internal_, "digital").ok());
  // Once alice's loan ran out (by time alone) she may ask again.
  clock_.Set(l.due_at);
  EXPECT_TRUE(Request(alice_, internal_, "digital").ok());
}

// A due date inside the current millisecond is not in the future once it is
// stored (at millisecond precision); such a loan would be born expired.
TEST_F(LoanServiceTest, DueDateInsideTheCurrentMillisecondIsRefused) {
  LoanRequest q;
  q.record_id = internal_.id.value;
  q.kind = "digital";
  q.due_at = clock_.Now() + 500us;
  auto l = loans_.Request(alice_, q);
  EXPECT_EQ(l.status().reason(), "invalid_due_date")
      << (l.ok() ? "accepted with due " + domain::FormatTime(l->due_at) + " at " +
                       domain::FormatTime(clock_.Now())
                 : "");
}

// --------------------------------------------------------------- physical

TEST_F(LoanServiceTest, PhysicalOriginalIsHandedOutAndTakenBackByAnArchivist) {
  domain::Loan l = Granted(alice_, internal_, "physical");
  ASSERT_EQ(Name(l.state), "approved");
  EXPECT_EQ(loans_.Checkout(alice_, l.id).status().reason(), "forbidden");
  EXPECT_EQ(loans_.Checkout(ann_, l.id).status().reason(), "forbidden");
  EXPECT_EQ(Name(Stored(l.id).state), "approved");

  clock_.Advance(3h);
  Time out_at = clock_.Now();
  domain::Loan out = Must(loans_.Checkout(arch_, l.id), "checkout");
  EXPECT_EQ(Name(out.state), "checked_out");
  EXPECT_EQ(out.checked_out_by, "arch");
  ASSERT_TRUE(out.checked_out_at.has_value());
  EXPECT_EQ(*out.checked_out_at, out_at);
  EXPECT_EQ(loans_.Checkout(arch_, l.id).status().reason(), "invalid_loan_state");

  // The record shows who holds the original and since when, to those who
  // may see the loan (MaySeeLoan): not to another member of staff.
  clock_.Advance(1h);
  EXPECT_TRUE(Must(records_.Get(bob_, internal_.id), "get record").open_loans.empty());
  RecordDetail d = Must(records_.Get(arch_, internal_.id), "get record");
  ASSERT_EQ(d.open_loans.size(), 1u);
  EXPECT_EQ(d.open_loans[0].id, l.id);
  EXPECT_EQ(d.open_loans[0].borrower, "alice");
  EXPECT_EQ(Name(d.open_loans[0].state), "checked_out");
  ASSERT_TRUE(d.open_loans[0].checked_out_at.has_value());
  EXPECT_EQ(*d.open_loans[0].checked_out_at, out_at);

  // One original can be out only once.
  domain::Loan other = Granted(bob_, internal_, "physical");
  auto second = loans_.Checkout(arch_, other.id);
  EXPECT_EQ(second.status().code(), ErrorCode::kConflict);
  EXPECT_EQ(second.status().reason(), "original_out");
  EXPECT_EQ(Name(Stored(other.id).state), "approved");

  // Only an archivist confirms the return.
  EXPECT_EQ(loans_.Return(alice_, l.id).status().reason(), "forbidden");
  domain::Loan back = Must(loans_.Return(arch_, l.id), "return");
  EXPECT_EQ(Name(back.state), "returned");
  EXPECT_EQ(back.returned_by, "arch");
  EXPECT_EQ(loans_.Return(arch_, l.id).status().reason(), "invalid_loan_state");
  d = Must(records_.Get(bob_, internal_.id), "get record");
  ASSERT_EQ(d.open_loans.size(), 1u);
  EXPECT_EQ(d.open_loans[0].id, other.id);
  // Now bob's may go out.
  EXPECT_EQ(Name(Must(loans_.Checkout(arch_, other.id)).state), "checked_out");
}

TEST_F(LoanServiceTest, DigitalLoansAreNotHandedOut) {
  domain::Loan l = Must(Request(alice_, internal_, "digital"), "request");
  EXPECT_EQ(loans_.Checkout(arch_, l.id).status().reason(), "not_physical");
  domain::Loan p = Must(Request(alice_, internal_, "physical"), "request");
  // Not approved yet.
  auto early = loans_.Checkout(arch_, p.id);
  EXPECT_EQ(early.status().reason(), "invalid_loan_state");
  EXPECT_NE(early.status().message().find("requested"), std::string::npos);
}

// ------------------------------------------------------------- revocation

TEST_F(LoanServiceTest, RevocationByDepartmentApproverOrArchivist) {
  domain::Loan l = Granted(alice_, internal_, "digital");
  ASSERT_TRUE(Read(alice_, internal_).ok());
  EXPECT_EQ(loans_.Revoke(alice_, l.id, "").status().reason(), "forbidden");
  EXPECT_EQ(loans_.Revoke(hank_, l.id, "").status().reason(), "loan_not_found");
  EXPECT_EQ(loans_.Revoke(lee_, l.id, "").status().reason(), "forbidden");
  EXPECT_EQ(Name(Stored(l.id).state), "checked_out");

  clock_.Advance(1h);
  domain::Loan r = Must(loans_.Revoke(amos_, l.id, "left the project"), "revoke");
  EXPECT_EQ(Name(r.state), "revoked");
  EXPECT_EQ(r.closed_by, "amos");
  EXPECT_EQ(r.reason, "left the project");
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");
  auto again = loans_.Revoke(amos_, l.id, "");
  EXPECT_EQ(again.status().reason(), "invalid_loan_state");
  EXPECT_NE(again.status().message().find("revoked"), std::string::npos);
  EXPECT_EQ(loans_.Return(alice_, l.id).status().reason(), "invalid_loan_state");

  // An archivist revokes a request; a lapsed loan is not revoked.
  domain::Loan q = Must(Request(bob_, internal_, "digital", kDay), "request");
  EXPECT_EQ(Name(Must(loans_.Revoke(arch_, q.id, "duplicate")).state), "revoked");
  domain::Loan p = Must(Request(bob_, internal_, "physical", kDay), "request");
  clock_.Set(p.due_at);
  auto lapsed = loans_.Revoke(arch_, p.id, "");
  EXPECT_EQ(lapsed.status().reason(), "invalid_loan_state");
  EXPECT_NE(lapsed.status().message().find("expired"), std::string::npos);
}

TEST_F(LoanServiceTest, AnOriginalThatIsOutIsReturnedNotRevoked) {
  domain::Loan l = Granted(alice_, internal_, "physical");
  ASSERT_TRUE(loans_.Checkout(arch_, l.id).ok());
  EXPECT_EQ(loans_.Revoke(ann_, l.id, "").status().reason(), "original_out");
  EXPECT_EQ(loans_.Revoke(arch_, l.id, "").status().reason(), "original_out");
  EXPECT_EQ(Name(Stored(l.id).state), "checked_out");
  // An approved original not yet handed out may be revoked.
  domain::Loan b = Granted(bob_, internal_, "physical");
  EXPECT_EQ(Name(Must(loans_.Revoke(ann_, b.id, "")).state), "revoked");
}

// ---------------------------------------------------------------- renewal

TEST_F(LoanServiceTest, RenewalNeedsApprovalAndThenMovesTheDueDate) {
  domain::Loan l = Granted(alice_, internal_, "digital", 2 * kDay);
  Time first_due = l.due_at;
  Time new_due = In(10 * kDay);

  EXPECT_EQ(loans_.Renew(ann_, l.id, new_due).status().reason(), "forbidden");
  EXPECT_EQ(loans_.Renew(bob_, l.id, new_due).status().reason(), "loan_not_found");
  EXPECT_EQ(loans_.Renew(alice_, l.id, std::nullopt).status().reason(), "invalid_due_date");
  EXPECT_EQ(loans_.Renew(alice_, l.id, first_due).status().reason(), "invalid_due_date");
  EXPECT_EQ(loans_.Renew(alice_, l.id, In(90 * kDay + 1ms)).status().reason(), "invalid_due_date");

  domain::Loan asked = Must(loans_.Renew(alice_, l.id, new_due), "renew");
  ASSERT_TRUE(asked.renewal.has_value());
  EXPECT_EQ(asked.renewal->due_at, new_due);
  EXPECT_EQ(asked.due_at, first_due);  // not before it is approved
  EXPECT_EQ(loans_.Renew(alice_, l.id, In(20 * kDay)).status().reason(), "renewal_pending");
  EXPECT_EQ(loans_.Approve(alice_, l.id).status().reason(), "forbidden");

  // Approved by the same approver as the loan itself: a renewal is a new decision.
  domain::Loan renewed = Must(loans_.Approve(ann_, l.id), "approve renewal");
  EXPECT_EQ(renewed.due_at, new_due);
  EXPECT_FALSE(renewed.renewal.has_value());
  EXPECT_EQ(renewed.renewals, 1);
  EXPECT_EQ(Name(renewed.state), "checked_out");

  // Past the first due date the loan still reads; past the new one it does not.
  clock_.Set(first_due + 1h);
  EXPECT_TRUE(Read(alice_, internal_).ok());
  clock_.Set(new_due);
  EXPECT_EQ(Read(alice_, internal_).status().reason(), "content_forbidden");
  // An expired loan is not renewed.
  EXPECT_EQ(loans_.Renew(alice_, l.id, In(5 * kDay)).status().reason(), "invalid_loan_state");
}

TEST_F(LoanServiceTest, RenewalOfASecretLoanNeedsTwoApprovalsAgain) {
  domain::Loan l = Must(Request(arch_, secret_, "digital", 3 * kDay, "due diligence"), "request");
  ASSERT_TRUE(loans_.Approve(ann_, l.id).ok());
  domain::Loan open = Must(loans_.Approve(amos_, l.id), "second approval");
  ASSERT_EQ(Name(open.state), "checked_out");
  Time new_due = In(20 * kDay);
  ASSERT_TRUE(loans_.Renew(arch_, l.id, new_due).ok());

  domain::Loan one = Must(loans_.Approve(ann_, l.id), "first renewal approval");
  EXPECT_EQ(one.due_at, l.due_at);
  ASSERT_TRUE(one.renewal.has_value());
  EXPECT_EQ(one.renewal->approvals.size(), 1u);
  EXPECT_EQ(loans_.Approve(ann_, l.id).status().reason(), "already_approved");
  EXPECT_EQ(Stored(l.id).due_at, l.due_at);

  domain::Loan two = Must(loans_.Approve(abe_, l.id), "second renewal approval");
  EXPECT_EQ(two.due_at, new_due);
  EXPECT_FALSE(two.renewal.has_value());
  EXPECT_EQ(two.renewals, 1);
  // The register keeps every approval: the loan's two and the renewal's two.
  ASSERT_EQ(two.approvals.size(), 4u);
  EXPECT_EQ(two.approvals[2].by, "ann");
  EXPECT_EQ(two.approvals[3].by, "abe");
  clock_.Set(l.due_at + 1ms);
  EXPECT_TRUE(Read(arch_, secret_).ok());
}

TEST_F(LoanServiceTest, RejectedRenewalLeavesTheLoanStanding) {
  domain::Loan l = Granted(alice_, internal_, "physical", 5 * kDay);
  ASSERT_TRUE(loans_.Checkout(arch_, l.id).ok());
  ASSERT_TRUE(loans_.Renew(alice_, l.id, In(30 * kDay)).ok());
  domain::Loan r = Must(loans_.Reject(amos_, l.id, "needed back"), "reject renewal");
  EXPECT_EQ(Name(r.state), "checked_out");
  EXPECT_FALSE(r.renewal.has_value());
  EXPECT_EQ(r.due_at, l.due_at);
  EXPECT_EQ(r.renewals, 0);
  // A request (not yet approved) is not renewed.
  domain::Loan q = Must(Request(bob_, internal_, "digital"), "request");
  auto renew = loans_.Renew(bob_, q.id, In(8 * kDay));
  EXPECT_EQ(renew.status().reason(), "invalid_loan_state");
  EXPECT_NE(renew.status().message().find("requested"), std::string::npos);
}

// ----------------------------------------------------------------- expiry

TEST_F(LoanServiceTest, ExpireDueRecordsEveryLoanWhoseTimeRanOut) {
  domain::Loan requested = Must(Request(alice_, internal_, "digital", kDay), "request");
  domain::Loan approved = Granted(bob_, internal_, "physical", kDay);
  domain::Loan reading = Granted(carol_, internal_, "digital", kDay);
  domain::Loan out = Granted(alice_, internal_, "physical", kDay);
  ASSERT_TRUE(loans_.Checkout(arch_, out.id).ok());
  domain::Loan later = Granted(bob_, internal_, "digital", 5 * kDay);
  ASSERT_EQ(Name(reading.state), "checked_out");

  EXPECT_EQ(Must(loans_.ExpireDue()), 0);
  clock_.Set(reading.due_at - 1ms);
  EXPECT_EQ(Must(loans_.ExpireDue()), 0);
  clock_.Set(reading.due_at);
  // Access ended without ExpireDue.
  EXPECT_EQ(Read(carol_, internal_).status().reason(), "content_forbidden");

  uint64_t before = LogSize();
  EXPECT_EQ(Must(loans_.ExpireDue()), 3);
  ASSERT_EQ(LogSize(), before + 3);
  std::set<std::string> logged;
  for (uint64_t i = before; i < before + 3; ++i) {
    storage::LogEvent e = EventAt(i);
    EXPECT_EQ(e.action, "loan.expire");
    EXPECT_EQ(e.actor, kSystemActor);
    EXPECT_EQ(e.subject, internal_.id.value);
    EXPECT_EQ(Detail(e, "state"), "expired");
    logged.insert(Detail(e, "loan"));
  }
  EXPECT_EQ(logged, (std::set<std::string>{requested.id, approved.id, reading.id}));
  for (const std::string& id : logged) {
    domain::Loan l = Stored(id);
    EXPECT_EQ(Name(l.state), "expired") << id;
    EXPECT_EQ(l.closed_by, kSystemActor);
    ASSERT_TRUE(l.closed_at.has_value());
    EXPECT_EQ(*l.closed_at, l.due_at);
    ASSERT_FALSE(l.events.empty());
    EXPECT_EQ(l.events.back().action, "loan.expire");
    EXPECT_EQ(Detail(EventAt(l.events.back().log_index), "loan"), id);
  }
  // An original that is out stays out, overdue; a loan not yet due is untouched.
  EXPECT_EQ(Name(Stored(out.id).state), "checked_out");
  EXPECT_TRUE(domain::IsOverdue(Stored(out.id), clock_.Now()));
  EXPECT_EQ(Name(Stored(later.id).state), "checked_out");
  EXPECT_EQ(Must(loans_.ExpireDue()), 0);
  EXPECT_EQ(LogSize(), before + 3);
  // Expired is final.
  EXPECT_EQ(loans_.Approve(ann_, requested.id).status().reason(), "invalid_loan_state");
  EXPECT_EQ(loans_.Checkout(arch_, approved.id).status().reason(), "invalid_loan_state");
}

TEST_F(LoanServiceTest, ExpireDueWorksThroughMoreLoansThanOneBatch) {
  // ExpireDue works in batches of 200; 205 loans need two. (Spread over
  // five records: every request reads the loans of its record.)
  std::vector<TestRecord> shelf = {internal_, hr_internal_};
  for (int i = 0; i < 3; ++i) shelf.push_back(CheckIn("general", "public", "hr", "Leaflet", {}));
  for (int i = 0; i < 205; ++i) {
    Principal borrower = User("user" + std::to_string(i), Role::kStaff, "sales");
    ASSERT_TRUE(Request(borrower, shelf[i % shelf.size()], "digital", kDay).ok());
  }
  clock_.Advance(kDay);
  EXPECT_EQ(Must(loans_.ExpireDue()), 205);
  LoanFilter f;
  f.state = domain::LoanState::kExpired;
  std::vector<domain::Loan> all = Must(loans_.List(arch_, f));
  ASSERT_EQ(all.size(), 205u);
  for (const domain::Loan& l : all) EXPECT_EQ(Name(l.state), "expired") << l.id;
}

// ---------------------------------------------------- overdue and alerts

TEST_F(LoanServiceTest, OverdueOriginalsAreListedForThoseWhoMaySeeThem) {
  domain::Loan out = Granted(alice_, internal_, "physical", 3 * kDay);
  ASSERT_TRUE(loans_.Checkout(arch_, out.id).ok());
  domain::Loan digital = Granted(bob_, internal_, "digital", 3 * kDay);
  domain::Loan hr = Must(Request(carol_, hr_internal_, "physical", 3 * kDay), "request");
  ASSERT_TRUE(loans_.Approve(hank_, hr.id).ok());
  ASSERT_TRUE(loans_.Checkout(arch_, hr.id).ok());

  LoanFilter overdue;
  overdue.overdue = true;
  clock_.Set(out.due_at - 1ms);
  EXPECT_TRUE(Must(loans_.List(arch_, overdue)).empty());
  clock_.Set(out.due_at);
  EXPECT_EQ(LoanIds(Must(loans_.List(arch_, overdue))), (std::vector<std::string>{hr.id, out.id}));
  EXPECT_EQ(LoanIds(Must(loans_.List(alice_, overdue))), std::vector<std::string>{out.id});
  EXPECT_TRUE(Must(loans_.List(bob_, overdue)).empty());  // a digital loan is never overdue
  EXPECT_EQ(LoanIds(Must(loans_.List(ann_, overdue))), std::vector<std::string>{out.id});
  EXPECT_EQ(LoanIds(Must(loans_.List(hank_, overdue))), std::vector<std::string>{hr.id});
  EXPECT_EQ(LoanIds(Must(loans_.List(carol_, overdue))), std::vector<std::string>{hr.id});

  Alerts a = Must(loans_.GetAlerts(ann_));
  EXPECT_EQ(LoanIds(a.overdue_loans), std::vector<std::string>{out.id});
  Alerts for_admin = Must(loans_.GetAlerts(admin_));  // admins see no loans or records
  EXPECT_TRUE(for_admin.overdue_loans.empty());
  EXPECT_TRUE(for_admin.certificates.empty());
  // Returned, it is no longer overdue.
  ASSERT_TRUE(loans_.Return(arch_, out.id).ok());
  EXPECT_EQ(LoanIds(Must(loans_.List(arch_, overdue))), std::vector<std::string>{hr.id});
  EXPECT_EQ(Name(domain::EffectiveState(Stored(digital.id), clock_.Now())), "expired");
}

TEST_F(LoanServiceTest, AlertsListCertificatesByHorizon) {
  std::vector<int> days = {200, 91, 90, 31, 30, 8, 7, 5, 0, -1, -40};
  std::map<std::string, int> by_id;
  for (int d : days) by_id[Certificate(d).id.value] = d;
  TestRecord hr_cert = Certificate(3, "confidential", "hr");

  Alerts a = Must(loans_.GetAlerts(alice_));
  struct Want {
    int days_left;
    int horizon;
    bool expired;
  };
  std::vector<Want> want = {{-40, 0, true}, {-1, 0, true}, {0, 7, false},  {5, 7, false},
                            {7, 7, false},  {8, 30, false}, {30, 30, false}, {31, 90, false},
                            {90, 90, false}};
  ASSERT_EQ(a.certificates.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const CertificateAlert& c = a.certificates[i];
    EXPECT_EQ(c.days_left, want[i].days_left) << i;
    EXPECT_EQ(c.horizon, want[i].horizon) << i;
    EXPECT_EQ(c.expired, want[i].expired) << i;
    EXPECT_EQ(by_id[c.record.id.value], want[i].days_left) << c.record.id.value;
    EXPECT_EQ(c.valid_until, DateIn(want[i].days_left));
  }
  // carol (hr staff) also sees her department's confidential certificate.
  Alerts hr = Must(loans_.GetAlerts(carol_));
  ASSERT_EQ(hr.certificates.size(), want.size() + 1);
  auto it = std::find_if(hr.certificates.begin(), hr.certificates.end(),
                         [&](const CertificateAlert& c) { return c.record.id == hr_cert.id; });
  ASSERT_NE(it, hr.certificates.end());
  EXPECT_EQ(it->days_left, 3);
  EXPECT_EQ(it->horizon, 7);

  // Late in the day the count is still in whole calendar days.
  clock_.Advance(14h);
  Alerts evening = Must(loans_.GetAlerts(alice_));
  ASSERT_EQ(evening.certificates.size(), want.size());
  EXPECT_EQ(evening.certificates.back().days_left, 90);

  // Custom horizons.
  LoanOptions o;
  o.certificate_horizons = {14, 60};
  LoanService custom(store_, clock_, o);
  Alerts c = Must(custom.GetAlerts(alice_));
  std::vector<std::pair<int, int>> got;
  for (const CertificateAlert& x : c.certificates) got.push_back({x.days_left, x.horizon});
  EXPECT_EQ(got, (std::vector<std::pair<int, int>>{
                     {-40, 0}, {-1, 0}, {0, 14}, {5, 14}, {7, 14}, {8, 14}, {30, 60}, {31, 60}}));
}

// --------------------------------------------------------------- register

TEST_F(LoanServiceTest, RegisterCarriesTheLogIndicesOfEveryEvent) {
  domain::Loan a = Granted(alice_, internal_, "digital");
  clock_.Advance(1h);
  Time second_at = clock_.Now();
  domain::Loan b = Granted(bob_, internal_, "physical");
  ASSERT_TRUE(loans_.Checkout(arch_, b.id).ok());
  ASSERT_TRUE(loans_.Renew(bob_, b.id, In(20 * kDay)).ok());
  ASSERT_TRUE(loans_.Approve(amos_, b.id).ok());
  ASSERT_TRUE(loans_.Return(arch_, b.id).ok());
  clock_.Advance(1h);
  domain::Loan c = Must(Request(arch_, secret_, "digital", kDay, "audit"), "request");
  ASSERT_TRUE(loans_.Approve(ann_, c.id).ok());
  ASSERT_TRUE(loans_.Approve(amos_, c.id).ok());
  ASSERT_TRUE(loans_.Revoke(abe_, c.id, "done").ok());
  domain::Loan d = Must(Request(carol_, hr_internal_, "digital", kDay), "request");
  ASSERT_TRUE(loans_.Reject(hank_, d.id, "no").ok());
  domain::Loan e = Must(Request(alice_, confidential_, "digital", kDay, "x"), "request");
  clock_.Advance(kDay);
  // Only e ran out while still open (a runs 7 days; b, c and d are closed).
  ASSERT_EQ(Must(loans_.ExpireDue()), 1);

  std::vector<domain::Loan> reg = Must(loans_.Register(audrey_, std::nullopt, std::nullopt));
  ASSERT_EQ(LoanIds(reg), (std::vector<std::string>{a.id, b.id, c.id, d.id, e.id}));
  std::map<std::string, std::vector<std::string>> want_actions = {
      {a.id, {"loan.request", "loan.approve"}},
      {b.id, {"loan.request", "loan.approve", "loan.checkout", "loan.renew", "loan.approve",
              "loan.return"}},
      {c.id, {"loan.request", "loan.approve", "loan.approve", "loan.revoke"}},
      {d.id, {"loan.request", "loan.reject"}},
      {e.id, {"loan.request", "loan.expire"}},
  };
  std::set<uint64_t> seen;
  for (const domain::Loan& l : reg) {
    std::vector<std::string> actions;
    for (const domain::LoanEvent& ev : l.events) {
      actions.push_back(ev.action);
      EXPECT_TRUE(seen.insert(ev.log_index).second) << "index " << ev.log_index << " reused";
      storage::LogEvent logged = EventAt(ev.log_index);
      EXPECT_EQ(logged.action, ev.action) << l.id << " @" << ev.log_index;
      EXPECT_EQ(logged.actor, ev.by) << l.id << " @" << ev.log_index;
      EXPECT_EQ(logged.subject, l.record_id.value);
      EXPECT_EQ(Detail(logged, "loan"), l.id) << l.id << " @" << ev.log_index;
    }
    EXPECT_EQ(actions, want_actions[l.id]) << l.id;
    for (const domain::LoanApproval& ap : l.approvals) {
      storage::LogEvent logged = EventAt(ap.log_index);
      EXPECT_EQ(logged.action, "loan.approve") << l.id;
      EXPECT_EQ(logged.actor, ap.by) << l.id;
      EXPECT_EQ(Detail(logged, "loan"), l.id);
    }
  }
  // b's renewal approval joined its approvals, with its own index.
  const domain::Loan& rb = reg[1];
  ASSERT_EQ(rb.approvals.size(), 2u);
  EXPECT_EQ(rb.approvals[1].by, "amos");
  EXPECT_EQ(rb.approvals[1].log_index, rb.events[4].log_index);

  // A period: loans requested from the second one on.
  std::vector<domain::Loan> part = Must(loans_.Register(arch_, second_at, std::nullopt));
  EXPECT_EQ(LoanIds(part), (std::vector<std::string>{b.id, c.id, d.id, e.id}));
  part = Must(loans_.Register(lee_, second_at, second_at));
  EXPECT_EQ(LoanIds(part), std::vector<std::string>{b.id});
  EXPECT_EQ(loans_.Register(arch_, second_at, second_at - 1ms).status().reason(), "invalid_range");
  EXPECT_EQ(loans_.Register(alice_, std::nullopt, std::nullopt).status().reason(), "forbidden");
  EXPECT_EQ(loans_.Register(ann_, std::nullopt, std::nullopt).status().reason(), "forbidden");
}

// ------------------------------------------------------------- audit events

TEST_F(LoanServiceTest, EveryTransitionIsOneEventAndARefusalNone) {
  struct Step {
    std::string action;
    std::function<StatusOr<domain::Loan>()> call;
  };
  domain::Loan l;
  domain::Loan p;
  std::vector<Step> steps = {
      {"loan.request", [&] { return l = Must(Request(alice_, internal_, "digital")); }},
      {"loan.approve", [&] { return loans_.Approve(ann_, l.id); }},
      {"loan.renew", [&] { return loans_.Renew(alice_, l.id, In(9 * kDay)); }},
      {"loan.reject", [&] { return loans_.Reject(ann_, l.id, "no"); }},
      {"loan.return", [&] { return loans_.Return(alice_, l.id); }},
      {"loan.request", [&] { return p = Must(Request(bob_, internal_, "physical")); }},
      {"loan.approve", [&] { return loans_.Approve(amos_, p.id); }},
      {"loan.checkout", [&] { return loans_.Checkout(arch_, p.id); }},
      {"loan.return", [&] { return loans_.Return(arch_, p.id); }},
  };
  for (const Step& s : steps) {
    uint64_t before = LogSize();
    clock_.Advance(1min);
    StatusOr<domain::Loan> r = s.call();
    ASSERT_TRUE(r.ok()) << s.action << ": " << r.status().ToString();
    ASSERT_EQ(LogSize(), before + 1) << s.action;
    storage::LogEvent e = EventAt(before);
    EXPECT_EQ(e.action, s.action);
    EXPECT_EQ(e.subject, internal_.id.value);
    EXPECT_EQ(e.at, clock_.Now());
    EXPECT_EQ(Detail(e, "loan"), r->id);
    EXPECT_EQ(Detail(e, "state"), std::string(Name(r->state)));
    ASSERT_FALSE(r->events.empty());
    EXPECT_EQ(r->events.back().log_index, before);
    EXPECT_EQ(r->events.back().action, s.action);
  }
  // Refusals append nothing.
  uint64_t before = LogSize();
  EXPECT_FALSE(loans_.Return(alice_, l.id).ok());
  EXPECT_FALSE(loans_.Approve(ann_, l.id).ok());
  EXPECT_FALSE(loans_.Checkout(arch_, p.id).ok());
  EXPECT_FALSE(loans_.Revoke(arch_, p.id, "").ok());
  EXPECT_FALSE(loans_.Renew(bob_, p.id, In(10 * kDay)).ok());
  EXPECT_FALSE(Request(alice_, secret_, "digital", kDay, "x").ok());
  EXPECT_EQ(LogSize(), before);
}

// ------------------------------------------------------------- visibility

TEST_F(LoanServiceTest, ListShowsStaffTheirOwnAndApproversTheirDepartment) {
  domain::Loan a = Must(Request(alice_, internal_, "digital"), "request");
  domain::Loan b = Must(Request(bob_, internal_, "digital"), "request");
  domain::Loan c = Must(Request(carol_, hr_internal_, "digital"), "request");
  domain::Loan an = Must(Request(ann_, hr_internal_, "digital"), "request");  // ann borrows from hr
  domain::Loan h = Must(Request(hank_, internal_, "physical"), "request");    // hank borrows from sales

  LoanFilter all;
  EXPECT_EQ(LoanIds(Must(loans_.List(alice_, all))), std::vector<std::string>{a.id});
  EXPECT_EQ(LoanIds(Must(loans_.List(bob_, all))), std::vector<std::string>{b.id});
  EXPECT_EQ(LoanIds(Must(loans_.List(carol_, all))), std::vector<std::string>{c.id});
  // Newest first: the department's loans and their own.
  EXPECT_EQ(LoanIds(Must(loans_.List(ann_, all))),
            (std::vector<std::string>{h.id, an.id, b.id, a.id}));
  EXPECT_EQ(LoanIds(Must(loans_.List(hank_, all))),
            (std::vector<std::string>{h.id, an.id, c.id}));
  for (const Principal& p : {arch_, lee_, audrey_}) {
    EXPECT_EQ(LoanIds(Must(loans_.List(p, all))),
              (std::vector<std::string>{h.id, an.id, c.id, b.id, a.id}));
  }
  EXPECT_EQ(loans_.List(admin_, all).status().reason(), "forbidden");

  LoanFilter mine;
  mine.mine = true;
  EXPECT_EQ(LoanIds(Must(loans_.List(ann_, mine))), std::vector<std::string>{an.id});
  EXPECT_TRUE(Must(loans_.List(arch_, mine)).empty());
  LoanFilter of_record;
  of_record.record_id = hr_internal_.id.value;
  EXPECT_EQ(LoanIds(Must(loans_.List(arch_, of_record))), (std::vector<std::string>{an.id, c.id}));

  // Get follows the same rule.
  EXPECT_EQ(loans_.Get(bob_, a.id).status().reason(), "loan_not_found");
  EXPECT_EQ(loans_.Get(hank_, a.id).status().reason(), "loan_not_found");
  EXPECT_TRUE(loans_.Get(ann_, a.id).ok());
  EXPECT_TRUE(loans_.Get(hank_, h.id).ok());
  EXPECT_EQ(loans_.Get(admin_, a.id).status().reason(), "forbidden");  // as List()
  EXPECT_EQ(loans_.Get(arch_, "LN-2026-999999").status().reason(), "loan_not_found");

  // The state filter uses the state at this instant.
  ASSERT_TRUE(loans_.Approve(ann_, a.id).ok());
  LoanFilter checked_out;
  checked_out.state = domain::LoanState::kCheckedOut;
  EXPECT_EQ(LoanIds(Must(loans_.List(arch_, checked_out))), std::vector<std::string>{a.id});
  clock_.Advance(7 * kDay);
  EXPECT_TRUE(Must(loans_.List(arch_, checked_out)).empty());
  LoanFilter expired;
  expired.state = domain::LoanState::kExpired;
  EXPECT_EQ(Must(loans_.List(arch_, expired)).size(), 5u);
}

}  // namespace
}  // namespace custos::services
