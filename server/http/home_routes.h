// The home page's route (docs/api.md "Home summary"): GET /v1/me/summary,
// what is waiting for the signed-in user (server/services/home_service.h).
#pragma once

#include "server/http/router.h"
#include "server/services/auth_service.h"
#include "server/services/home_service.h"

namespace custos::http {

// Registers GET /v1/me/summary. `home` is copied (it holds references
// only); `auth` and the services `home` refers to must outlive the router.
void AddHomeRoutes(Router& router, services::AuthService& auth, const services::HomeService& home);

}  // namespace custos::http
