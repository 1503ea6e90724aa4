// Retention schedules, per-record overrides, pending shortenings, legal
// holds and the disposition queue (DESIGN §2, §7).
//
// Who does what (checked here):
//   * Archivists change schedules and per-record rules. A change that
//     lengthens retention (IsLengthening) applies at once; one that shortens
//     it becomes a pending change that legal approves or rejects — never the
//     person who asked for it, and never approved by an account created,
//     reset or granted its role within the cooling period (account_policy.h).
//   * Legal places holds (name, reason, case reference, records), adds and
//     removes records, and releases them. A held record is `on_hold`: it
//     cannot be destroyed, and its retention cannot be shortened (409
//     "record_on_hold" naming the hold), until every hold on it is released.
//   * Archivists, legal and auditors read schedules, changes, holds and the
//     disposition queue.
// Every change is one audit event in the transaction that makes it; a
// record whose state changes gets its own `record.state` event.
// Thread safety: safe for concurrent use.
#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "domain/workflow.h"
#include "server/services/account_policy.h"
#include "server/services/clock.h"
#include "server/services/principal.h"
#include "server/services/retention.h"
#include "storage/metadata_store.h"

namespace custos::services {

struct ScheduleView {
  domain::RecordType type;
  RetentionRule rule;
  bool is_default = true;
  std::optional<domain::Time> updated_at;
  std::string updated_by;
};

// A pending (or decided) shortening.
struct RetentionChange {
  std::string id;
  std::string scope;   // "schedule" or "record"
  std::string target;  // record type name or record id
  RetentionRule from;
  RetentionRule to;
  domain::ChangeState state = domain::ChangeState::kPending;
  std::string requested_by;
  domain::Time requested_at;
  std::string decided_by;
  std::optional<domain::Time> decided_at;
  std::string reason;
};

// The outcome of asking for a rule: applied at once, or pending approval.
struct RuleChangeResult {
  bool applied = false;
  std::optional<ScheduleView> schedule;      // scope "schedule", applied
  std::optional<Disposition> disposition;    // scope "record", applied
  std::optional<RetentionChange> pending;    // when it shortens
};

struct Hold {
  std::string id;
  std::string name;
  std::string reason;
  std::string case_ref;
  domain::HoldState state = domain::HoldState::kActive;
  std::vector<std::string> record_ids;  // records currently under this hold
  std::string created_by;
  domain::Time created_at;
  std::string released_by;
  std::optional<domain::Time> released_at;
};

struct HoldInput {
  std::string name;
  std::string reason;
  std::string case_ref;
  std::vector<std::string> record_ids;
};

// The one JSON codec of a hold and of a change: the stored body (camelCase
// fields; absent times left out). The API shows the same objects with
// absent times as null (server/http/retention_routes.cc).
Poco::JSON::Object::Ptr HoldObject(const Hold& h);
Poco::JSON::Object::Ptr ChangeObject(const RetentionChange& c);

struct DueRecord {
  domain::Record record;
  Disposition disposition;
};

class RetentionService {
 public:
  // `account_policy.cooling`: how long after its creation, reset or role
  // grant an account may not approve a shortening (Approve).
  RetentionService(storage::MetadataStore& store, Clock& clock, AccountPolicyOptions account_policy = {});

  StatusOr<std::vector<ScheduleView>> Schedules(const Principal& who);
  StatusOr<RuleChangeResult> PutSchedule(const Principal& who, const std::string& type,
                                         const RetentionRule& rule);
  StatusOr<RuleChangeResult> PutRecordRule(const Principal& who, const domain::RecordId& id,
                                           const RetentionRule& rule);
  StatusOr<Disposition> RecordDisposition(const Principal& who, const domain::RecordId& id);

  // Every change, or those in `state` when it is not empty (a ChangeState
  // name; kInvalidArgument "invalid_parameter" otherwise).
  StatusOr<std::vector<RetentionChange>> Changes(const Principal& who, const std::string& state);
  // Legal, never the person who asked, never an account that changed hands
  // within the cooling period: kConflict "approver_cooling_period"
  // (account_policy.h; the approver's users row is read in the approving
  // transaction), "invalid_change_state"; kPermissionDenied "forbidden",
  // "self_approval"; kNotFound "change_not_found". Every pending change is a
  // shortening, so every approval is under the cooling period.
  StatusOr<RetentionChange> Approve(const Principal& who, const std::string& change_id);
  StatusOr<RetentionChange> Reject(const Principal& who, const std::string& change_id,
                                   const std::string& reason);

  StatusOr<Hold> CreateHold(const Principal& who, const HoldInput& input);
  StatusOr<std::vector<Hold>> Holds(const Principal& who);
  StatusOr<Hold> GetHold(const Principal& who, const std::string& id);
  StatusOr<Hold> AddToHold(const Principal& who, const std::string& id,
                           const std::vector<std::string>& record_ids);
  StatusOr<Hold> RemoveFromHold(const Principal& who, const std::string& id,
                                const std::string& record_id);
  StatusOr<Hold> ReleaseHold(const Principal& who, const std::string& id);

  // Brings every record's state in line with its rule and holds (marking
  // the due ones `disposition_due`), then lists the due records the caller
  // may see, oldest disposition date first.
  StatusOr<std::vector<DueRecord>> DispositionDue(const Principal& who);
  // The sweep alone, as the system (housekeeping); returns records changed.
  StatusOr<int> SweepStates();

 private:
  StatusOr<RetentionChange> Decide(const Principal& who, const std::string& change_id, bool approve,
                                   const std::string& reason);

  storage::MetadataStore& store_;
  Clock& clock_;
  const AccountPolicyOptions account_policy_;
};

}  // namespace custos::services
