#include "server/services/account_policy.h"

#include <optional>
#include <string>

#include "server/services/account_state.h"

namespace custos::services {

using domain::Time;

namespace {

struct Handover {
  Time at;
  const char* event;  // "created" | "reset" | "role_granted"
  const char* phrase; // for the message
};

// The newest of creation, reset and role grant. An unreadable provenance
// counts as none (creation only): the row seal vouches for the text, and
// the account's creation still bounds it.
Handover NewestHandover(const domain::User& u, const Provenance& p) {
  Handover h{u.created_at, "created", "was created"};
  if (p.reset_at && *p.reset_at > h.at) h = {*p.reset_at, "reset", "had its password reset"};
  if (p.role_granted_at && *p.role_granted_at > h.at) {
    h = {*p.role_granted_at, "role_granted", "was granted its role"};
  }
  return h;
}

Provenance ProvenanceOf(const domain::User& u) {
  auto p = ParseProvenance(u.provenance);
  return p.ok() ? *p : Provenance{};
}

}  // namespace

Status CheckCoolingPeriod(const domain::User& u, Time now, const AccountPolicyOptions& options,
                          std::string_view action) {
  if (options.cooling.count() <= 0) return Status::Ok();
  Handover h = NewestHandover(u, ProvenanceOf(u));
  Time until = h.at + options.cooling;
  if (now >= until) return Status::Ok();
  std::string since = domain::FormatTime(h.at);
  std::string until_text = domain::FormatTime(until);
  std::string days = std::to_string(options.cooling.count() / 24);
  return Conflict("account '" + u.username.value + "' " + h.phrase + " on " + since.substr(0, 10) +
                      ", less than " + days + " days ago, so it may not " + std::string(action) +
                      " until " + until_text,
                  "approver_cooling_period")
      .WithParam("since", since)
      .WithParam("until", until_text)
      .WithParam("event", h.event);
}

bool IsFreshAccount(const domain::User& u, Time now, const AccountPolicyOptions& options) {
  if (options.fresh.count() <= 0) return false;
  Provenance p = ProvenanceOf(u);
  Time newest = LastHandover(u, p);
  if (p.setup_at && *p.setup_at > newest) newest = *p.setup_at;
  return now < newest + options.fresh;
}

}  // namespace custos::services
