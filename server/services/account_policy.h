// The time rules on accounts that changed hands (docs/security.md):
//
// * cooling period: an account created, reset or granted its role less than
//   `cooling` ago may not approve a destruction or the shortening of a
//   retention period;
// * fresh accounts: content read within `fresh` of the account's set-up,
//   reset or role grant is flagged to the security auditor.
//
// Thread safety: pure functions.
#pragma once

#include <chrono>
#include <string_view>

#include "common/status.h"
#include "domain/model.h"

namespace custos::services {

struct AccountPolicyOptions {
  std::chrono::hours cooling{24 * 30};
  std::chrono::hours fresh{24 * 7};
};

// kConflict "approver_cooling_period" when `u` changed hands less than
// `options.cooling` before `now`. The message names the action, what
// happened to the account and when, and the first moment it may approve;
// params "since" (RFC 3339) and "until" (RFC 3339) and "event"
// ("created" | "reset" | "role_granted").
Status CheckCoolingPeriod(const domain::User& u, domain::Time now, const AccountPolicyOptions& options,
                          std::string_view action);

// Did `u` set up, get reset or get its role less than `options.fresh`
// before `now`? (Never when options.fresh is zero.)
bool IsFreshAccount(const domain::User& u, domain::Time now, const AccountPolicyOptions& options);

}  // namespace custos::services
