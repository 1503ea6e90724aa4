// The states of the workflow documents other than loans (DESIGN §2, §7):
// legal holds, pending retention changes, destruction batches and audit
// jobs (loan states are in domain/loan.h). Each value has one name,
// used alike in API JSON, in stored document bodies and in the documents
// table's state column: Name gives it and the Parse functions read it back
// (kUnprocessable "invalid_state" for any other text).
//
// The table behind them is EnumNames (domain/enum_names.h).
#pragma once

#include <string_view>

#include "common/status.h"
#include "domain/enum_names.h"

namespace custos::domain {

// A legal hold: active until released.
enum class HoldState { kActive, kReleased };
// A retention change that shortens a rule: pending until legal decides.
enum class ChangeState { kPending, kApproved, kRejected };
// A destruction batch: proposed ──approve × N──▶ approved ──execute──▶ executed.
enum class BatchState { kProposed, kApproved, kExecuted };
// An audit job (verify or export): queued ──▶ running ──▶ done or failed; a
// finished export later becomes shredded (a record it names was destroyed)
// or expired.
enum class JobState { kQueued, kRunning, kDone, kFailed, kShredded, kExpired };

std::string_view Name(HoldState s);
std::string_view Name(ChangeState s);
std::string_view Name(BatchState s);
std::string_view Name(JobState s);
StatusOr<HoldState> ParseHoldState(std::string_view s);
StatusOr<ChangeState> ParseChangeState(std::string_view s);
StatusOr<BatchState> ParseBatchState(std::string_view s);
StatusOr<JobState> ParseJobState(std::string_view s);


}  // namespace custos::domain
