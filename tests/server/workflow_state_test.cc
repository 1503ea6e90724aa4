// The workflow state names (domain/workflow.h): every state has the one name
// the API, the stored bodies and the documents table use, and reads back;
// any other text is refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "domain/workflow.h"
#include "server/services/loan.h"

namespace custos::domain {
namespace {

template <typename E, typename ParseFn>
void ExpectRoundTrip(const std::vector<E>& values, const std::vector<std::string>& names, ParseFn parse) {
  ASSERT_EQ(values.size(), names.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(Name(values[i]), names[i]);
    auto back = parse(names[i]);
    ASSERT_TRUE(back.ok()) << names[i];
    EXPECT_EQ(*back, values[i]) << names[i];
  }
  for (const char* wrong : {"", "Active", "pending ", "已批准", "unknown"}) {
    auto refused = parse(wrong);
    ASSERT_FALSE(refused.ok()) << wrong;
    EXPECT_EQ(refused.status().code(), ErrorCode::kUnprocessable) << wrong;
    EXPECT_EQ(refused.status().reason(), "invalid_state") << wrong;
  }
}

TEST(WorkflowState, HoldStatesKeepTheirStoredNames) {
  ExpectRoundTrip<HoldState>({HoldState::kActive, HoldState::kReleased}, {"active", "released"},
                             ParseHoldState);
}

TEST(WorkflowState, ChangeStatesKeepTheirStoredNames) {
  ExpectRoundTrip<ChangeState>({ChangeState::kPending, ChangeState::kApproved, ChangeState::kRejected},
                               {"pending", "approved", "rejected"}, ParseChangeState);
}

TEST(WorkflowState, BatchStatesKeepTheirStoredNames) {
  ExpectRoundTrip<BatchState>({BatchState::kProposed, BatchState::kApproved, BatchState::kExecuted},
                              {"proposed", "approved", "executed"}, ParseBatchState);
}

TEST(WorkflowState, JobStatesKeepTheirWireNames) {
  ExpectRoundTrip<JobState>({JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kFailed,
                             JobState::kShredded, JobState::kExpired},
                            {"queued", "running", "done", "failed", "shredded", "expired"}, ParseJobState);
}

TEST(WorkflowState, LoanStatesShareTheTable) {
  EXPECT_EQ(domain::Name(domain::LoanState::kCheckedOut), "checked_out");
  auto refused = domain::ParseLoanState("checked out");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "invalid_state");
  EXPECT_NE(refused.status().message().find("expected one of: requested, approved, checked_out"), std::string::npos)
      << refused.status().message();
  auto kind = domain::ParseLoanKind("paper");
  ASSERT_FALSE(kind.ok());
  EXPECT_EQ(kind.status().reason(), "invalid_kind");
  EXPECT_NE(kind.status().message().find("unknown loan kind 'paper'"), std::string::npos);
}

}  // namespace
}  // namespace custos::domain
