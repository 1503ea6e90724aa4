// The states of the workflow documents other than loans (DESIGN §2, §7):
// legal holds, pending retention changes, destruction batches and audit
// jobs (loan states are in domain/loan.h). Each value has one name,
// used alike in API JSON, in stored document bodies and in the documents
// table's state column: Name gives it and the Parse functions read it back
// (kUnprocessable "invalid_state" for any other text).
//
// EnumNames is the table behind such Name/Parse pairs.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

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

// The names of the N values of enum E, in the order they are listed.
template <typename E, size_t N>
struct EnumNames {
  std::array<std::pair<E, std::string_view>, N> names;

  // "unknown" for a value outside the table.
  constexpr std::string_view Name(E v) const {
    for (const auto& [value, name] : names) {
      if (value == v) return name;
    }
    return "unknown";
  }
  // kUnprocessable `code`, "unknown <what> '<s>' (expected a, b, …)", for a
  // name outside the table.
  StatusOr<E> Parse(std::string_view s, std::string_view what, const std::string& code) const {
    std::string expected;
    for (const auto& [value, name] : names) {
      if (name == s) return value;
      expected += (expected.empty() ? "" : ", ") + std::string(name);
    }
    return Unprocessable("unknown " + std::string(what) + " '" + std::string(s) + "' (expected " +
                             expected + ")",
                         code);
  }
};

}  // namespace custos::domain
