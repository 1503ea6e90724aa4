// Routes of retention, legal holds and destruction (DESIGN §4
// "retention"): schedules and pending changes, per-record rules, the
// disposition queue, holds, destruction batches and their certificates.
#pragma once

#include "server/http/router.h"
#include "server/services/auth_service.h"
#include "server/services/destruction_service.h"
#include "server/services/retention_service.h"

namespace custos::http {

void AddRetentionRoutes(Router& router, services::AuthService& auth,
                        services::RetentionService& retention,
                        services::DestructionService& destruction);

}  // namespace custos::http
