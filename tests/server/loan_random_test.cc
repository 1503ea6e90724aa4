// A randomized walk through LoanService and RecordService::OpenContent
// (fixed seed): thousands of requests, approvals, rejections, hand-outs,
// returns, renewals, revocations, expiry runs, clock jumps and content reads
// by staff, approvers of two departments, archivists, legal and an auditor,
// on records of every classification.
//
// The test keeps its own model of every loan, written from the rules in
// server/services/loan_service.h and principal.h (not from the code), and
// after each action checks that
//   * the service accepted the action exactly when the model says it is
//     legal, and a refusal names one of the rules the action breaks;
//   * every stored loan matches the model and is consistent in itself
//     (approvals distinct, never the borrower's, all from approvers of the
//     loan's department; checked_out only with enough approvals; returned
//     and closed loans stamped; each loan's events point at log entries
//     about it), and a refused action changed no stored loan;
//   * a content read succeeded exactly when the model says the reader may
//     read: directly by role, or through their own digital loan that is
//     checked out and not past its due date.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "common/byte_stream.h"
#include "server/services/events.h"
#include "server/services/loan_service.h"
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
using domain::Classification;
using domain::Role;
using domain::Time;
using std::chrono::milliseconds;

constexpr int kActions = 2000;
constexpr uint32_t kSeed = 20260105;
constexpr auto kDay = std::chrono::hours(24);
constexpr int kMaxDays = 90;  // LoanOptions default
// Every this many actions, the lists (visibility, overdue) are compared and
// every stored loan is decoded and checked again.
constexpr int kListCheckEvery = 200;

std::unique_ptr<crypto::LocalKeyProvider> NewKeyProvider() {
  auto key = crypto::RandomBytes(crypto::kKekSize);
  auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(*key)));
  return std::move(crypto::LocalKeyProvider::Create(std::move(*kek)).value());
}

struct ModelRecord {
  domain::RecordId id;
  domain::FileId file;
  std::string content;
  domain::RecordType type;
  Classification classification;
  std::string department;
};

// The test's own view of one loan.
struct ModelLoan {
  std::string id;
  size_t record = 0;
  domain::LoanKind kind = domain::LoanKind::kDigital;
  std::string borrower;
  std::string department;
  Classification classification = Classification::kInternal;
  int needed = 1;
  domain::LoanState state = domain::LoanState::kRequested;  // stored
  Time due;
  std::vector<std::string> approvals;  // every approval, renewals' included
  bool renewal = false;
  Time renewal_due;
  std::vector<std::string> renewal_approvals;
  int renewals = 0;
  size_t events = 1;
};

// ---- The rules, restated from the headers.

bool SeesRecord(const Principal& p, const ModelRecord& r) {
  switch (p.role) {
    case Role::kArchivist:
    case Role::kLegal:
    case Role::kAuditor:
      return true;
    case Role::kApprover:
      return r.classification != Classification::kSecret || r.department == p.department;
    case Role::kStaff:
      return r.classification == Classification::kPublic ||
             r.classification == Classification::kInternal ||
             (r.classification == Classification::kConfidential && r.department == p.department);
    case Role::kSysAdmin:
      return false;
  }
  return false;
}

bool ReadsDirectly(const Principal& p, const ModelRecord& r) {
  return (p.role == Role::kArchivist && r.classification != Classification::kSecret) ||
         (p.role == Role::kLegal && r.type == domain::RecordType::kContract);
}

bool SeesLoan(const Principal& p, const ModelLoan& l) {
  switch (p.role) {
    case Role::kArchivist:
    case Role::kLegal:
    case Role::kAuditor:
      return true;
    case Role::kApprover:
      return l.department == p.department || l.borrower == p.username.value;
    case Role::kStaff:
      return l.borrower == p.username.value;
    case Role::kSysAdmin:
      return false;
  }
  return false;
}

// The state at `now`: time ends requests, approvals and digital access.
domain::LoanState StateAt(const ModelLoan& l, Time now) {
  if (now < l.due) return l.state;
  if (l.state == domain::LoanState::kRequested || l.state == domain::LoanState::kApproved) return domain::LoanState::kExpired;
  if (l.state == domain::LoanState::kCheckedOut && l.kind == domain::LoanKind::kDigital) return domain::LoanState::kExpired;
  return l.state;
}

bool OpenAt(const ModelLoan& l, Time now) {
  domain::LoanState s = StateAt(l, now);
  return s == domain::LoanState::kRequested || s == domain::LoanState::kApproved || s == domain::LoanState::kCheckedOut;
}

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The reasons an approver-only step (approve or reject) breaks, against the
// approvals already given in this round.
std::set<std::string> ApproverViolations(const Principal& p, const ModelLoan& l,
                                         const std::vector<std::string>* given) {
  std::set<std::string> v;
  if (p.role != Role::kApprover) v.insert("forbidden");
  if (p.department != l.department) v.insert("wrong_department");
  if (p.username.value == l.borrower) v.insert("self_approval");
  if (given != nullptr && Contains(*given, p.username.value)) v.insert("already_approved");
  return v;
}

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

class LoanRandomTest : public ::testing::Test {
 protected:
  LoanRandomTest()
      : store_(&signer_.checkpoint),
        keys_(NewKeyProvider()),
        content_(blobs_, *keys_, crypto::Suite::kIntl),
        clock_(domain::ParseTime("2026-01-05T08:00:00Z").value()),
        log_(store_, ""),
        records_(store_, content_, blobs_, log_, clock_, nullptr),
        loans_(store_, clock_) {}

  void SetUp() override {
    ASSERT_TRUE(store_.Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "hr", "records", "legal", "audit"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      }
      return Status::Ok();
    }).ok());
    auto add = [&](const std::string& name, Role role, const std::string& department) {
      users_.push_back(Principal{domain::Username{name}, role, department});
      by_name_[name] = users_.back();
    };
    add("s1", Role::kStaff, "sales");
    add("s2", Role::kStaff, "sales");
    add("s3", Role::kStaff, "hr");
    add("a1", Role::kApprover, "sales");
    add("a2", Role::kApprover, "sales");
    add("a3", Role::kApprover, "sales");
    add("h1", Role::kApprover, "hr");
    add("h2", Role::kApprover, "hr");
    add("r1", Role::kArchivist, "records");
    add("r2", Role::kArchivist, "records");
    add("l1", Role::kLegal, "legal");
    add("au", Role::kAuditor, "audit");
    for (const Principal& p : users_) {
      if (p.role == Role::kApprover) approvers_.push_back(p);
      if (p.role == Role::kArchivist) archivists_.push_back(p);
    }
    CheckInRecord(domain::RecordType::kGeneral, "internal", "sales");
    CheckInRecord(domain::RecordType::kGeneral, "confidential", "sales");
    CheckInRecord(domain::RecordType::kGeneral, "secret", "sales");
    CheckInRecord(domain::RecordType::kContract, "confidential", "hr");
    CheckInRecord(domain::RecordType::kGeneral, "secret", "hr");
    CheckInRecord(domain::RecordType::kGeneral, "public", "hr");
  }

  void CheckInRecord(domain::RecordType type, const std::string& classification,
                     const std::string& department) {
    RecordInput in;
    in.type = std::string(domain::Name(type));
    in.title = in.type + " " + classification + " " + department;
    in.department = department;
    in.classification = classification;
    if (type == domain::RecordType::kContract) {
      in.metadata = {{"counterparty", "ACME"},
                     {"contractNumber", "K-" + std::to_string(records_model_.size())},
                     {"signedDate", "2025-12-01"}};
    }
    ModelRecord m;
    m.type = type;
    m.classification = domain::ParseClassification(classification).value();
    m.department = department;
    m.content = "the content of " + in.title;
    auto c = records_.BeginCheckIn(archivists_.front(), in);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    crypto::Bytes bytes(m.content.begin(), m.content.end());
    MemorySource source(bytes);
    ASSERT_TRUE((*c)->AddFile({"f.txt", "text/plain"}, source).ok());
    auto r = (*c)->Commit();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    m.id = r->detail.record.id;
    m.file = r->detail.versions.at(0).files.at(0).id;
    records_model_.push_back(m);
  }

  // ---- random choices

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  milliseconds Ms(int64_t lo, int64_t hi) {
    return milliseconds(std::uniform_int_distribution<int64_t>(lo, hi)(rng_));
  }
  const Principal& AnyUser() { return users_[Pick(users_.size())]; }
  const Principal& UserOr(const std::vector<Principal>& likely) {
    return Chance(0.8) ? likely[Pick(likely.size())] : AnyUser();
  }
  // A loan to act on: mostly one for which the action makes sense now
  // (`useful`), otherwise any.
  template <typename Pred>
  ModelLoan* PickLoan(Pred useful) {
    if (loans_model_.empty()) return nullptr;
    std::vector<ModelLoan*> fit;
    for (ModelLoan& l : loans_model_) {
      if (useful(l)) fit.push_back(&l);
    }
    if (!fit.empty() && Chance(0.8)) return fit[Pick(fit.size())];
    return &loans_model_[Pick(loans_model_.size())];
  }
  domain::LoanState Now(const ModelLoan& l) { return StateAt(l, clock_.Now()); }
  bool Granted(const ModelLoan& l) {
    return Now(l) == domain::LoanState::kApproved || Now(l) == domain::LoanState::kCheckedOut;
  }
  // Mostly an approver of the loan's department (the borrower included).
  const Principal& ApproverFor(const ModelLoan& l) {
    std::vector<Principal> own;
    for (const Principal& p : approvers_) {
      if (p.department == l.department) own.push_back(p);
    }
    if (Chance(0.7)) return by_name_[own[Pick(own.size())].username.value];
    return UserOr(approvers_);
  }

  // ---- checking one call

  // Compares a call's outcome with the model's verdict (`violations` empty:
  // must succeed). Returns whether the call succeeded.
  template <typename T>
  bool Expect(const std::string& what, const StatusOr<T>& got, const std::set<std::string>& violations) {
    if (violations.empty()) {
      EXPECT_TRUE(got.ok()) << step_ << " " << what << ": refused with "
                            << got.status().ToString();
    } else if (got.ok()) {
      ADD_FAILURE() << step_ << " " << what << ": accepted, but breaks " << Join(violations);
    } else {
      EXPECT_TRUE(violations.count(got.status().reason()) == 1)
          << step_ << " " << what << ": refused with " << got.status().ToString()
          << ", expected one of " << Join(violations);
      if (got.status().reason() == "invalid_loan_state") {
        EXPECT_EQ(got.status().code(), ErrorCode::kConflict);
        // The message names the state the loan is in.
        EXPECT_NE(got.status().message().find(" is " + state_now_), std::string::npos)
            << step_ << " " << what << ": " << got.status().message() << " (state " << state_now_ << ")";
      }
    }
    ++outcomes_[what.substr(0, what.find(' ')) + ":" + (got.ok() ? "ok" : got.status().reason())];
    return got.ok();
  }

  // A successful call returned `loan`: it must be what is now stored.
  void ExpectReturnedIsStored(const domain::Loan& loan) {
    changed_.insert(loan.id);
    returned_[loan.id] = ToDocument(loan, clock_.Now()).body;
  }

  // ---- the actions

  void DoRequest() {
    const Principal& who = AnyUser();
    size_t ri = Pick(records_model_.size());
    const ModelRecord& r = records_model_[ri];
    domain::LoanKind kind = Chance(0.5) ? domain::LoanKind::kDigital : domain::LoanKind::kPhysical;
    LoanRequest q;
    q.record_id = r.id.value;
    q.kind = std::string(Name(kind));
    q.purpose = Chance(0.75) ? "project work" : (Chance(0.5) ? "" : "  ");
    Time now = clock_.Now();
    double d = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (d < 0.04) {
      q.due_at = now - Ms(0, 3600000);
    } else if (d < 0.08) {
      q.due_at = now + kDay * kMaxDays + Ms(1, 3600000);
    } else if (d < 0.10) {
      q.due_at = now + kDay * kMaxDays;
    } else {
      q.due_at = now + Ms(3600000, 30LL * 86400000);
    }
    std::set<std::string> v;
    if (*q.due_at <= now || *q.due_at > now + kDay * kMaxDays) v.insert("invalid_due_date");
    if (!SeesRecord(who, r)) v.insert("record_not_found");
    if (r.classification >= Classification::kConfidential &&
        q.purpose.find_first_not_of(" \t\r\n") == std::string::npos) {
      v.insert("purpose_required");
    }
    for (const ModelLoan& l : loans_model_) {
      if (l.record == ri && l.borrower == who.username.value && l.kind == kind && OpenAt(l, now)) {
        v.insert("loan_exists");
      }
    }
    auto got = loans_.Request(who, q);
    if (!Expect("request " + q.kind + " " + r.id.value + " by " + who.username.value, got, v)) return;
    int year = std::stoi(domain::FormatTime(now).substr(0, 4));
    char id[32];
    std::snprintf(id, sizeof id, "LN-%04d-%06d", year, ++numbers_[year]);
    EXPECT_EQ(got->id, id) << step_;
    ModelLoan m;
    m.id = got->id;
    m.record = ri;
    m.kind = kind;
    m.borrower = who.username.value;
    m.department = r.department;
    m.classification = r.classification;
    m.needed = r.classification == Classification::kSecret ? 2 : 1;
    m.due = domain::TruncateToMillis(*q.due_at);
    loans_model_.push_back(m);
    ExpectReturnedIsStored(*got);
  }

  void DoApprove() {
    ModelLoan* l = PickLoan([&](const ModelLoan& x) {
      return Now(x) == domain::LoanState::kRequested || (x.renewal && Granted(x));
    });
    if (l == nullptr) return;
    state_now_ = std::string(Name(Now(*l)));
    const Principal& who = ApproverFor(*l);
    Time now = clock_.Now();
    domain::LoanState s = StateAt(*l, now);
    bool renewal = l->renewal && (s == domain::LoanState::kApproved || s == domain::LoanState::kCheckedOut);
    std::set<std::string> v;
    if (!SeesLoan(who, *l)) {
      v = {"loan_not_found"};
    } else if (renewal) {
      v = ApproverViolations(who, *l, &l->renewal_approvals);
    } else {
      std::vector<std::string> round(l->approvals.begin(), l->approvals.end());
      v = ApproverViolations(who, *l, &round);
      if (s != domain::LoanState::kRequested) v.insert("invalid_loan_state");
    }
    auto got = loans_.Approve(who, l->id);
    if (!Expect("approve " + l->id + " by " + who.username.value, got, v)) return;
    ++l->events;
    if (renewal) {
      l->renewal_approvals.push_back(who.username.value);
      if (static_cast<int>(l->renewal_approvals.size()) >= l->needed) {
        l->due = l->renewal_due;
        for (const std::string& a : l->renewal_approvals) l->approvals.push_back(a);
        l->renewal = false;
        l->renewal_approvals.clear();
        ++l->renewals;
      }
    } else {
      l->approvals.push_back(who.username.value);
      if (static_cast<int>(l->approvals.size()) >= l->needed) {
        l->state = l->kind == domain::LoanKind::kDigital ? domain::LoanState::kCheckedOut : domain::LoanState::kApproved;
      }
    }
    ExpectReturnedIsStored(*got);
  }

  void DoReject() {
    ModelLoan* l = PickLoan([&](const ModelLoan& x) {
      return Now(x) == domain::LoanState::kRequested || (x.renewal && Granted(x));
    });
    if (l == nullptr) return;
    state_now_ = std::string(Name(Now(*l)));
    const Principal& who = ApproverFor(*l);
    domain::LoanState s = StateAt(*l, clock_.Now());
    bool renewal = l->renewal && (s == domain::LoanState::kApproved || s == domain::LoanState::kCheckedOut);
    std::set<std::string> v;
    if (!SeesLoan(who, *l)) {
      v = {"loan_not_found"};
    } else {
      v = ApproverViolations(who, *l, nullptr);
      if (!renewal && s != domain::LoanState::kRequested) v.insert("invalid_loan_state");
    }
    auto got = loans_.Reject(who, l->id, "no");
    if (!Expect("reject " + l->id + " by " + who.username.value, got, v)) return;
    ++l->events;
    if (renewal) {
      l->renewal = false;
      l->renewal_approvals.clear();
    } else {
      l->state = domain::LoanState::kRejected;
    }
    ExpectReturnedIsStored(*got);
  }

  void DoCheckout() {
    ModelLoan* l = PickLoan([&](const ModelLoan& x) {
      return x.kind == domain::LoanKind::kPhysical && Now(x) == domain::LoanState::kApproved;
    });
    if (l == nullptr) return;
    state_now_ = std::string(Name(Now(*l)));
    const Principal& who = UserOr(archivists_);
    std::set<std::string> v;
    if (who.role != Role::kArchivist) {
      v = {"forbidden"};
    } else {
      if (l->kind != domain::LoanKind::kPhysical) v.insert("not_physical");
      if (StateAt(*l, clock_.Now()) != domain::LoanState::kApproved) v.insert("invalid_loan_state");
      for (const ModelLoan& o : loans_model_) {
        if (o.record == l->record && o.kind == domain::LoanKind::kPhysical &&
            o.state == domain::LoanState::kCheckedOut) {
          v.insert("original_out");
        }
      }
    }
    auto got = loans_.Checkout(who, l->id);
    if (!Expect("checkout " + l->id + " by " + who.username.value, got, v)) return;
    ++l->events;
    l->state = domain::LoanState::kCheckedOut;
    ExpectReturnedIsStored(*got);
  }

  void DoReturn() {
    ModelLoan* l = PickLoan([&](const ModelLoan& x) { return Now(x) == domain::LoanState::kCheckedOut; });
    if (l == nullptr) return;
    state_now_ = std::string(Name(Now(*l)));
    const Principal& who = Chance(0.4) ? by_name_[l->borrower] : UserOr(archivists_);
    std::set<std::string> v;
    if (!SeesLoan(who, *l)) {
      v = {"loan_not_found"};
    } else {
      bool archivist = who.role == Role::kArchivist;
      if (!archivist && (l->kind == domain::LoanKind::kPhysical || who.username.value != l->borrower)) {
        v.insert("forbidden");
      }
      if (StateAt(*l, clock_.Now()) != domain::LoanState::kCheckedOut) v.insert("invalid_loan_state");
    }
    auto got = loans_.Return(who, l->id);
    if (!Expect("return " + l->id + " by " + who.username.value, got, v)) return;
    ++l->events;
    l->state = domain::LoanState::kReturned;
    l->renewal = false;
    l->renewal_approvals.clear();
    ExpectReturnedIsStored(*got);
  }

  void DoRenew() {
    ModelLoan* l = PickLoan([&](const ModelLoan& x) { return Granted(x) && !x.renewal; });
    if (l == nullptr) return;
    state_now_ = std::string(Name(Now(*l)));
    const Principal& who = Chance(0.85) ? by_name_[l->borrower] : AnyUser();
    Time now = clock_.Now();
    double d = std::uniform_real_distribution<double>(0, 1)(rng_);
    Time due = d < 0.1 ? l->due - Ms(0, 3600000)
                       : (d < 0.15 ? now + kDay * kMaxDays + Ms(1, 1000) : l->due + Ms(1, 20LL * 86400000));
    domain::LoanState s = StateAt(*l, now);
    std::set<std::string> v;
    if (!SeesLoan(who, *l)) {
      v = {"loan_not_found"};
    } else {
      if (who.username.value != l->borrower) v.insert("forbidden");
      if (s != domain::LoanState::kApproved && s != domain::LoanState::kCheckedOut) v.insert("invalid_loan_state");
      if (l->renewal) v.insert("renewal_pending");
      if (due <= l->due || due > now + kDay * kMaxDays) v.insert("invalid_due_date");
    }
    auto got = loans_.Renew(who, l->id, due);
    if (!Expect("renew " + l->id + " by " + who.username.value, got, v)) return;
    ++l->events;
    l->renewal = true;
    l->renewal_due = due;
    l->renewal_approvals.clear();
    ExpectReturnedIsStored(*got);
  }

  void DoRevoke() {
    ModelLoan* l = PickLoan([&](const ModelLoan& x) { return OpenAt(x, clock_.Now()); });
    if (l == nullptr) return;
    state_now_ = std::string(Name(Now(*l)));
    const Principal& who = Chance(0.5) ? ApproverFor(*l) : UserOr(archivists_);
    domain::LoanState s = StateAt(*l, clock_.Now());
    std::set<std::string> v;
    if (!SeesLoan(who, *l)) {
      v = {"loan_not_found"};
    } else {
      bool may = who.role == Role::kArchivist ||
                 (who.role == Role::kApprover && who.department == l->department);
      if (!may) v.insert("forbidden");
      if (s != domain::LoanState::kRequested && s != domain::LoanState::kApproved && s != domain::LoanState::kCheckedOut) {
        v.insert("invalid_loan_state");
      }
      if (s == domain::LoanState::kCheckedOut && l->kind == domain::LoanKind::kPhysical) v.insert("original_out");
    }
    auto got = loans_.Revoke(who, l->id, "revoked");
    if (!Expect("revoke " + l->id + " by " + who.username.value, got, v)) return;
    ++l->events;
    l->state = domain::LoanState::kRevoked;
    l->renewal = false;
    l->renewal_approvals.clear();
    ExpectReturnedIsStored(*got);
  }

  void DoExpire() {
    Time now = clock_.Now();
    std::vector<ModelLoan*> due;
    for (ModelLoan& l : loans_model_) {
      bool open = l.state == domain::LoanState::kRequested || l.state == domain::LoanState::kApproved ||
                  l.state == domain::LoanState::kCheckedOut;
      if (open && StateAt(l, now) == domain::LoanState::kExpired) due.push_back(&l);
    }
    auto got = loans_.ExpireDue();
    ASSERT_TRUE(got.ok()) << step_ << " " << got.status().ToString();
    EXPECT_EQ(*got, static_cast<int>(due.size())) << step_;
    for (ModelLoan* l : due) {
      l->state = domain::LoanState::kExpired;
      l->renewal = false;
      l->renewal_approvals.clear();
      ++l->events;
      changed_.insert(l->id);
    }
  }

  void DoAdvance() {
    Time now = clock_.Now();
    double d = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (d < 0.4) {
      // Right onto, or just before, one of the next due dates.
      std::vector<Time> ahead;
      for (const ModelLoan& l : loans_model_) {
        if (l.due > now) ahead.push_back(l.due);
      }
      std::sort(ahead.begin(), ahead.end());
      if (!ahead.empty()) {
        Time t = ahead[Pick(std::min<size_t>(ahead.size(), 3))];
        if (Chance(0.5) && t - 1ms > now) t -= 1ms;
        clock_.Set(t);
        return;
      }
    }
    clock_.Advance(d < 0.85 ? Ms(1, 3 * 3600000) : Ms(3600000, 2LL * 86400000));
  }

  void DoRead() {
    const Principal* reader = &AnyUser();
    size_t ri = Pick(records_model_.size());
    // Half the time: a borrower reads the record of one of their digital
    // loans, whatever became of it.
    std::vector<const ModelLoan*> digital;
    for (const ModelLoan& l : loans_model_) {
      if (l.kind == domain::LoanKind::kDigital) digital.push_back(&l);
    }
    if (!digital.empty() && Chance(0.5)) {
      const ModelLoan* l = digital[Pick(digital.size())];
      reader = &by_name_[l->borrower];
      ri = l->record;
    }
    const Principal& who = *reader;
    const ModelRecord& r = records_model_[ri];
    Time now = clock_.Now();
    bool via_loan = false;
    for (const ModelLoan& l : loans_model_) {
      if (l.record == ri && l.kind == domain::LoanKind::kDigital && l.borrower == who.username.value &&
          StateAt(l, now) == domain::LoanState::kCheckedOut) {
        via_loan = true;
      }
    }
    std::set<std::string> v;
    if (!SeesRecord(who, r)) {
      v = {"record_not_found"};
    } else if (!ReadsDirectly(who, r) && !via_loan) {
      v = {"content_forbidden"};
    }
    auto got = records_.OpenContent(who, r.id, 1, r.file);
    ++reads_;
    if (!Expect("read " + r.id.value + " by " + who.username.value, got, v)) return;
    ++reads_ok_;
    if (via_loan && !ReadsDirectly(who, r)) ++reads_by_loan_;
    std::string text;
    uint8_t buf[256];
    for (;;) {
      auto n = got->stream->Read(buf, sizeof buf);
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) break;
      text.append(reinterpret_cast<const char*>(buf), *n);
    }
    EXPECT_EQ(text, r.content) << step_;
  }

  // ---- checking the store

  std::map<std::string, storage::Document> StoredLoans() {
    std::map<std::string, storage::Document> out;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      storage::DocumentQuery q;
      q.kind = kLoanDocument;
      for (;;) {
        CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::Document> docs, tx.documents().List(q));
        for (storage::Document& d : docs) out[d.id] = std::move(d);
        if (docs.size() < q.limit) return Status::Ok();
        q.after_id = out.rbegin()->first;
      }
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // The log entry at `index` is about loan `id` (action `action`).
  void ExpectLogged(const std::string& id, const domain::LoanEvent& e) {
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(e.log_index, e.log_index + 1, 1));
      if (entries.size() != 1) return NotFound("no log entry " + std::to_string(e.log_index));
      CUSTOS_ASSIGN_OR_RETURN(storage::DecodedLeaf leaf, storage::DecodeLeaf(entries[0].leaf));
      EXPECT_EQ(leaf.event.action, e.action) << step_ << " " << id;
      EXPECT_EQ(leaf.event.actor, e.by) << step_ << " " << id;
      bool about = leaf.event.details.String("loan") == id;
      EXPECT_TRUE(about) << step_ << " log entry " << e.log_index << " is not about " << id;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << step_ << " " << s.ToString();
  }

  // The role of a known user; kAdmin (which no test user has) otherwise.
  Role RoleOf(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? Role::kSysAdmin : it->second.role;
  }

  // One stored loan against the model and the rules.
  void CheckLoan(const ModelLoan& m, const storage::Document& d, bool check_log) {
    auto decoded = LoanFromDocument(d);
    ASSERT_TRUE(decoded.ok()) << step_ << " " << decoded.status().ToString();
    const domain::Loan& l = *decoded;
    const std::string at = step_ + " " + l.id;
    reached_.insert(l.state);
    // Columns and body agree.
    EXPECT_EQ(d.state, Name(l.state)) << at;
    EXPECT_EQ(d.owner, l.borrower) << at;
    EXPECT_EQ(d.subject, l.record_id.value) << at;
    ASSERT_TRUE(d.due_at.has_value()) << at;
    EXPECT_EQ(*d.due_at, l.due_at) << at;
    // The model.
    EXPECT_EQ(l.state, m.state) << at << ": " << Name(l.state) << " vs " << Name(m.state);
    EXPECT_EQ(l.due_at, m.due) << at;
    EXPECT_EQ(l.kind, m.kind) << at;
    EXPECT_EQ(l.borrower, m.borrower) << at;
    EXPECT_EQ(l.record_id, records_model_[m.record].id) << at;
    EXPECT_EQ(l.department, m.department) << at;
    EXPECT_EQ(l.classification, m.classification) << at;
    EXPECT_EQ(l.approvals_needed, m.needed) << at;
    std::vector<std::string> by;
    for (const domain::LoanApproval& a : l.approvals) by.push_back(a.by);
    EXPECT_EQ(by, m.approvals) << at;
    EXPECT_EQ(l.renewal.has_value(), m.renewal) << at;
    if (l.renewal && m.renewal) {
      EXPECT_EQ(l.renewal->due_at, m.renewal_due) << at;
      std::vector<std::string> rby;
      for (const domain::LoanApproval& a : l.renewal->approvals) rby.push_back(a.by);
      EXPECT_EQ(rby, m.renewal_approvals) << at;
    }
    EXPECT_EQ(l.renewals, m.renewals) << at;
    EXPECT_EQ(l.events.size(), m.events) << at;

    // The rules, on the stored loan alone.
    EXPECT_NE(Name(l.state), "unknown") << at;
    EXPECT_EQ(l.approvals_needed, l.classification == Classification::kSecret ? 2 : 1) << at;
    EXPECT_GT(l.due_at, l.requested_at) << at;
    if (l.classification >= Classification::kConfidential) {
      EXPECT_NE(l.purpose.find_first_not_of(" \t\r\n"), std::string::npos) << at;
    }
    auto check_approvals = [&](const std::vector<domain::LoanApproval>& group) {
      std::set<std::string> distinct;
      for (const domain::LoanApproval& a : group) {
        EXPECT_TRUE(distinct.insert(a.by).second) << at << ": " << a.by << " approved twice";
        EXPECT_NE(a.by, l.borrower) << at << ": the borrower approved";
        auto u = by_name_.find(a.by);
        ASSERT_NE(u, by_name_.end()) << at << ": unknown approver " << a.by;
        EXPECT_EQ(u->second.role, Role::kApprover) << at << ": " << a.by;
        EXPECT_EQ(u->second.department, l.department) << at << ": " << a.by;
        EXPECT_NE(a.log_index, 0u) << at;
      }
    };
    size_t needed = static_cast<size_t>(l.approvals_needed);
    bool granted = l.renewals > 0 || l.approvals.size() >= needed;
    if (granted) {
      // The loan's own round, then one round per renewal.
      EXPECT_EQ(l.approvals.size(), needed * (1 + static_cast<size_t>(l.renewals))) << at;
      for (size_t i = 0; i + needed <= l.approvals.size(); i += needed) {
        check_approvals({l.approvals.begin() + i, l.approvals.begin() + i + needed});
      }
    } else {
      check_approvals(l.approvals);
      EXPECT_TRUE(l.state == domain::LoanState::kRequested || l.state == domain::LoanState::kRejected ||
                  l.state == domain::LoanState::kRevoked || l.state == domain::LoanState::kExpired)
          << at << ": " << Name(l.state) << " with too few approvals";
    }
    if (l.renewal) {
      EXPECT_TRUE(l.state == domain::LoanState::kApproved || l.state == domain::LoanState::kCheckedOut) << at;
      EXPECT_LT(l.renewal->approvals.size(), needed) << at;
      EXPECT_GT(l.renewal->due_at, l.due_at) << at;
      check_approvals(l.renewal->approvals);
    }
    switch (l.state) {
      case domain::LoanState::kRequested:
        EXPECT_FALSE(l.checked_out_at.has_value()) << at;
        EXPECT_FALSE(l.closed_at.has_value()) << at;
        break;
      case domain::LoanState::kApproved:
        EXPECT_EQ(l.kind, domain::LoanKind::kPhysical) << at << ": a digital loan opens at approval";
        EXPECT_TRUE(granted) << at;
        EXPECT_FALSE(l.checked_out_at.has_value()) << at;
        break;
      case domain::LoanState::kCheckedOut:
        EXPECT_TRUE(granted) << at;
        EXPECT_TRUE(l.checked_out_at.has_value()) << at;
        if (l.kind == domain::LoanKind::kPhysical) {
          EXPECT_EQ(RoleOf(l.checked_out_by), Role::kArchivist) << at;
        } else if (l.approvals.size() >= needed) {
          EXPECT_EQ(l.checked_out_by, l.approvals[needed - 1].by) << at;
        }
        EXPECT_FALSE(l.returned_at.has_value()) << at;
        break;
      case domain::LoanState::kReturned:
        ASSERT_TRUE(l.returned_at.has_value()) << at;
        ASSERT_TRUE(l.checked_out_at.has_value()) << at;
        EXPECT_GE(*l.returned_at, *l.checked_out_at) << at;
        EXPECT_TRUE(RoleOf(l.returned_by) == Role::kArchivist ||
                    (l.kind == domain::LoanKind::kDigital && l.returned_by == l.borrower))
            << at << ": returned by " << l.returned_by;
        EXPECT_FALSE(l.renewal.has_value()) << at;
        break;
      case domain::LoanState::kRejected:
      case domain::LoanState::kRevoked:
      case domain::LoanState::kExpired:
        EXPECT_TRUE(l.closed_at.has_value()) << at;
        EXPECT_FALSE(l.closed_by.empty()) << at;
        EXPECT_FALSE(l.renewal.has_value()) << at;
        if (l.state == domain::LoanState::kExpired) {
          EXPECT_EQ(l.closed_by, kSystemActor) << at;
        }
        if (l.state == domain::LoanState::kRejected) {
          EXPECT_EQ(RoleOf(l.closed_by), Role::kApprover) << at;
        }
        break;
    }
    // Events: a request first, indices rising, the newest about this loan.
    ASSERT_FALSE(l.events.empty()) << at;
    EXPECT_EQ(l.events.front().action, "loan.request") << at;
    for (size_t i = 1; i < l.events.size(); ++i) {
      EXPECT_GT(l.events[i].log_index, l.events[i - 1].log_index) << at;
    }
    if (check_log) ExpectLogged(l.id, l.events.back());
  }

  // After each action: every stored loan is the model's, and only the loans
  // the action changed have changed.
  void CheckStore() {
    std::map<std::string, storage::Document> now = StoredLoans();
    ASSERT_EQ(now.size(), loans_model_.size()) << step_;
    for (const ModelLoan& m : loans_model_) {
      auto it = now.find(m.id);
      ASSERT_NE(it, now.end()) << step_ << " " << m.id << " is not stored";
      const storage::Document& d = it->second;
      bool changed = changed_.count(m.id) != 0;
      auto before = previous_.find(m.id);
      if (!changed) {
        ASSERT_NE(before, previous_.end()) << step_ << " " << m.id;
        EXPECT_EQ(d.body, before->second.body) << step_ << " " << m.id << " changed unasked";
        EXPECT_EQ(d.updated_at, before->second.updated_at) << step_ << " " << m.id;
        // Cheap column check; the body is the one checked when it last changed.
        EXPECT_EQ(d.state, Name(m.state)) << step_ << " " << m.id;
        continue;
      }
      if (auto r = returned_.find(m.id); r != returned_.end()) {
        EXPECT_EQ(d.body, r->second) << step_ << " " << m.id << ": returned loan is not the stored one";
      }
      CheckLoan(m, d, /*check_log=*/true);
    }
    previous_ = std::move(now);
    changed_.clear();
    returned_.clear();
  }

  // Every so often: the lists match the model too.
  void CheckLists() {
    Time now = clock_.Now();
    // Four users per pass, in turn (every user's list decodes every loan).
    for (int k = 0; k < 4; ++k) {
      const Principal& p = users_[list_turn_++ % users_.size()];
      auto got = loans_.List(p, LoanFilter{});
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      std::vector<std::string> want;
      for (const ModelLoan& l : loans_model_) {
        if (SeesLoan(p, l)) want.push_back(l.id);
      }
      std::reverse(want.begin(), want.end());
      std::vector<std::string> ids;
      for (const domain::Loan& l : *got) ids.push_back(l.id);
      EXPECT_EQ(ids, want) << step_ << " list for " << p.username.value;
    }
    LoanFilter overdue;
    overdue.overdue = true;
    auto got = loans_.List(archivists_.front(), overdue);
    ASSERT_TRUE(got.ok());
    std::vector<std::string> want;
    for (const ModelLoan& l : loans_model_) {
      if (l.kind == domain::LoanKind::kPhysical && l.state == domain::LoanState::kCheckedOut && now >= l.due) {
        want.push_back(l.id);
      }
    }
    std::reverse(want.begin(), want.end());
    std::vector<std::string> ids;
    for (const domain::Loan& l : *got) ids.push_back(l.id);
    EXPECT_EQ(ids, want) << step_ << " overdue";
    // And a full pass over every stored loan.
    for (const auto& [id, d] : previous_) {
      auto m = std::find_if(loans_model_.begin(), loans_model_.end(),
                            [&](const ModelLoan& x) { return x.id == id; });
      ASSERT_NE(m, loans_model_.end());
      CheckLoan(*m, d, /*check_log=*/false);
    }
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

  std::mt19937 rng_{kSeed};
  std::vector<Principal> users_;
  std::map<std::string, Principal> by_name_;
  std::vector<Principal> approvers_;
  std::vector<Principal> archivists_;
  std::vector<ModelRecord> records_model_;
  std::vector<ModelLoan> loans_model_;
  std::map<int, int> numbers_;  // loan numbers taken per year
  std::string step_;            // "step N", for failure messages

  std::set<std::string> changed_;               // loans the current action changed
  std::map<std::string, std::string> returned_;  // their bodies as the call returned them
  std::map<std::string, storage::Document> previous_;  // stored loans after the last action

  std::string state_now_;                // of the loan acted on, before the action
  size_t list_turn_ = 0;                 // whose list CheckLists compares next
  std::map<std::string, int> outcomes_;  // "approve:self_approval" → how often
  std::set<domain::LoanState> reached_;          // states seen stored
  int reads_ = 0, reads_ok_ = 0, reads_by_loan_ = 0;
};

TEST_F(LoanRandomTest, ThousandsOfRandomActionsKeepEveryRule) {
  std::map<std::string, int> actions;
  for (int i = 0; i < kActions && !HasFatalFailure(); ++i) {
    step_ = "step " + std::to_string(i);
    int a = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (a < 12) {
      DoRequest(), ++actions["request"];
    } else if (a < 32) {
      DoApprove(), ++actions["approve"];
    } else if (a < 36) {
      DoReject(), ++actions["reject"];
    } else if (a < 46) {
      DoCheckout(), ++actions["checkout"];
    } else if (a < 53) {
      DoReturn(), ++actions["return"];
    } else if (a < 62) {
      DoRenew(), ++actions["renew"];
    } else if (a < 65) {
      DoRevoke(), ++actions["revoke"];
    } else if (a < 79) {
      DoAdvance(), ++actions["advance"];
    } else if (a < 97) {
      DoRead(), ++actions["read"];
    } else {
      DoExpire(), ++actions["expire"];
    }
    CheckStore();
    if (i % kListCheckEvery == kListCheckEvery - 1) CheckLists();
    // Stop at the first step that went wrong: later ones would only repeat it.
    if (HasFailure()) break;
  }
  CheckLists();

  // The walk stored every state and read both ways (so the checks above
  // were not vacuous).
  int renewed = 0;
  for (const ModelLoan& l : loans_model_) {
    if (l.renewals > 0) ++renewed;
  }
  for (domain::LoanState s : {domain::LoanState::kRequested, domain::LoanState::kApproved, domain::LoanState::kCheckedOut,
                      domain::LoanState::kReturned, domain::LoanState::kRejected, domain::LoanState::kRevoked,
                      domain::LoanState::kExpired}) {
    EXPECT_EQ(reached_.count(s), 1u) << "no loan was ever " << Name(s);
  }
  EXPECT_GT(renewed, 0);
  EXPECT_GT(reads_by_loan_, 0);
  EXPECT_GT(reads_ - reads_ok_, 0);
  std::string summary;
  for (const auto& [name, n] : actions) summary += name + "=" + std::to_string(n) + " ";
  RecordProperty("actions", summary);
  RecordProperty("loans", static_cast<int>(loans_model_.size()));
  std::string outcomes;
  for (const auto& [name, n] : outcomes_) outcomes += name + "=" + std::to_string(n) + " ";
  RecordProperty("outcomes", outcomes);
}

}  // namespace
}  // namespace custos::services
