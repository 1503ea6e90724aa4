// Routes of the auditor's toolkit over HTTP (DESIGN §4 "audit"):
// background verification with a stored report, and audit-package exports.
#pragma once

#include "server/http/router.h"
#include "server/services/audit_service.h"
#include "server/services/auth_service.h"

namespace custos::http {

void AddAuditRoutes(Router& router, services::AuthService& auth, services::AuditService& audit);

}  // namespace custos::http
