#include "domain/workflow.h"

namespace custos::domain {

namespace {

constexpr EnumNames<HoldState, 2> kHoldStates{{{
    {HoldState::kActive, "active"},
    {HoldState::kReleased, "released"},
}}};

constexpr EnumNames<ChangeState, 3> kChangeStates{{{
    {ChangeState::kPending, "pending"},
    {ChangeState::kApproved, "approved"},
    {ChangeState::kRejected, "rejected"},
}}};

constexpr EnumNames<BatchState, 3> kBatchStates{{{
    {BatchState::kProposed, "proposed"},
    {BatchState::kApproved, "approved"},
    {BatchState::kExecuted, "executed"},
}}};

constexpr EnumNames<JobState, 6> kJobStates{{{
    {JobState::kQueued, "queued"},
    {JobState::kRunning, "running"},
    {JobState::kDone, "done"},
    {JobState::kFailed, "failed"},
    {JobState::kShredded, "shredded"},
    {JobState::kExpired, "expired"},
}}};

}  // namespace

std::string_view Name(HoldState s) { return kHoldStates.Name(s); }
std::string_view Name(ChangeState s) { return kChangeStates.Name(s); }
std::string_view Name(BatchState s) { return kBatchStates.Name(s); }
std::string_view Name(JobState s) { return kJobStates.Name(s); }

StatusOr<HoldState> ParseHoldState(std::string_view s) {
  return kHoldStates.Parse(s, "hold state", "invalid_state");
}
StatusOr<ChangeState> ParseChangeState(std::string_view s) {
  return kChangeStates.Parse(s, "retention change state", "invalid_state");
}
StatusOr<BatchState> ParseBatchState(std::string_view s) {
  return kBatchStates.Parse(s, "destruction batch state", "invalid_state");
}
StatusOr<JobState> ParseJobState(std::string_view s) {
  return kJobStates.Parse(s, "audit job state", "invalid_state");
}

}  // namespace custos::domain
