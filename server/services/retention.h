// Retention (DESIGN §2): schedules, per-record overrides, legal holds and
// the disposition date of a record — the value types, their stored forms
// and the rules that need no service around them.
//
// A rule is (trigger, period, action). The trigger date comes from the
// record: `created` (the day it was checked in), `contract_end` (metadata
// endDate), `valid_until` (metadata validUntil) or `last_activity` (the
// day of its last change). The disposition date is the trigger date plus
// the period, in calendar arithmetic (2026-01-31 + P1M = 2026-02-28). On
// and after that day, a `destroy` or `review` record is due unless a legal
// hold is on it; a `permanent` record never is. A record without its
// trigger date (a contract with no end date) is not due.
//
// All dates are UTC calendar days, "YYYY-MM-DD".
#pragma once

#include <Poco/JSON/Object.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/metadata_store.h"
#include "domain/event_details.h"
#include "domain/model.h"

namespace custos::services {

enum class RetentionTrigger { kCreated, kContractEnd, kValidUntil, kLastActivity };
enum class RetentionAction { kDestroy, kReview, kPermanent };

std::string_view Name(RetentionTrigger t);
std::string_view Name(RetentionAction a);
StatusOr<RetentionTrigger> ParseRetentionTrigger(std::string_view s);  // 422 "invalid_trigger"
StatusOr<RetentionAction> ParseRetentionAction(std::string_view s);    // 422 "invalid_action"

// An ISO 8601 period of whole days: PnYnMnWnD (at least one part; no time
// part). Kept as months and days, and as the text it was given in.
struct IsoPeriod {
  int months = 0;
  int days = 0;
  std::string text;  // canonical: "P10Y", "P18M" → "P1Y6M", "P2W" → "P14D", "P0D"
};
// kUnprocessable "invalid_period".
StatusOr<IsoPeriod> ParseIsoPeriod(std::string_view text);

struct RetentionRule {
  RetentionTrigger trigger = RetentionTrigger::kCreated;
  IsoPeriod period;
  RetentionAction action = RetentionAction::kDestroy;
};

// The defaults of a fresh archive (documented in docs/retention.md):
// contracts 10 years after their end, qualification certificates 5 years
// after valid-until, customer files 5 years after last activity, product
// dossiers permanent, general records 10 years after creation.
RetentionRule DefaultRule(domain::RecordType type);

// True when `to` keeps every record at least as long as `from`: the same
// trigger and a period no shorter in both months and days, or `to`
// permanent; `review` counts as longer than `destroy` (nothing is destroyed
// without a decision). Anything else shortens and needs legal approval.
bool IsLengthening(const RetentionRule& from, const RetentionRule& to);

// "YYYY-MM-DD" plus a period; nullopt for a malformed date.
std::optional<std::string> AddPeriod(const std::string& date, const IsoPeriod& period);
// The UTC day of an instant.
std::string DayOf(domain::Time t);

// Where a record's rule and date come from, and what they are.
struct Disposition {
  RetentionRule rule;
  std::string source;                       // "schedule" or "record"
  std::optional<std::string> trigger_date;  // nullopt: the record lacks it
  std::optional<std::string> date;          // disposition date; nullopt if none
  std::vector<std::string> holds;           // active legal holds on the record
  bool due = false;                         // date reached, not permanent, no hold
};

Disposition ComputeDisposition(const domain::Record& r, const RetentionRule& rule,
                               const std::string& source, std::vector<std::string> holds,
                               domain::Time now);

// ---- Stored forms (storage::Document kinds and their bodies).

inline constexpr const char* kScheduleDocument = "retention_schedule";  // id: record type name
inline constexpr const char* kOverrideDocument = "retention_override";  // id: record id
inline constexpr const char* kChangeDocument = "retention_change";      // id: RC-YYYY-NNNNNN
inline constexpr const char* kHoldDocument = "hold";                    // id: LH-YYYY-NNNNNN
inline constexpr const char* kHoldItemDocument = "hold_item";  // id: "<hold>/<record>"; subject: record

Poco::JSON::Object::Ptr RuleJson(const RetentionRule& rule);
// The same three members as audit event details.
domain::EventDetails RuleDetails(const RetentionRule& rule);
// Decodes {"trigger","period","action"} (400/422 naming the field).
StatusOr<RetentionRule> RuleFromJson(const Poco::JSON::Object::Ptr& o);

// The rule in force for a record inside `tx` (override, else schedule, else
// default) and the ids of the active holds on it, then its disposition.
StatusOr<Disposition> LoadDisposition(storage::Transaction& tx, const domain::Record& r,
                                      domain::Time now);
// What LoadDisposition reads: the rule in force, its source ("record" for
// the record's own override, else "schedule") and the active holds, for
// ComputeDisposition at any instant.
struct DispositionInputs {
  RetentionRule rule;
  std::string source;
  std::vector<std::string> holds;
};
StatusOr<DispositionInputs> LoadDispositionInputs(storage::Transaction& tx, const domain::Record& r);
// LoadDispositionInputs for a pass over many records in one read
// transaction: the overrides and active hold items are read once (a few
// queries in all), the schedules once per record type met.
class DispositionDocuments {
 public:
  static StatusOr<DispositionDocuments> Load(storage::Transaction& tx);
  // What LoadDispositionInputs(tx, r) gives, from the documents read.
  StatusOr<DispositionInputs> For(storage::Transaction& tx, const domain::Record& r);

 private:
  std::map<std::string, storage::Document> overrides_;            // by record id
  std::map<std::string, std::vector<std::string>> holds_;          // record id -> hold ids
  std::map<domain::RecordType, RetentionRule> schedules_;          // read as met
};
// The schedule rule for a type (stored or default).
StatusOr<RetentionRule> LoadSchedule(storage::Transaction& tx, domain::RecordType type);
// Ids of the active holds on a record.
StatusOr<std::vector<std::string>> ActiveHolds(storage::Transaction& tx, const domain::RecordId& id);

// Brings a record's state in line with its holds and disposition
// (on_hold / disposition_due / active; destroyed stays), appending a
// `record.state` event with the new record hash when it changes. `actor`
// is the user whose action caused it, or the system actor.
Status ReconcileRecordState(storage::Transaction& tx, domain::Record& r, const std::string& actor,
                            domain::Time now);
// The same with the record's inputs already read in this transaction (no
// documents read again).
Status ReconcileRecordState(storage::Transaction& tx, domain::Record& r, const std::string& actor,
                            domain::Time now, const DispositionInputs& in);

}  // namespace custos::services
