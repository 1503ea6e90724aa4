// GET /v1/records/{id}/evidence: the evidence bundle of one record
// (server/services/evidence_bundle.h, docs/formats/evidence-bundle.md), a
// zip named after the archive number, streamed as it is written.
#pragma once

#include "server/http/router.h"
#include "server/services/auth_service.h"
#include "server/services/evidence_bundle.h"

namespace custos::http {

// `auth` and `evidence` must outlive the router.
void AddEvidenceRoutes(Router& router, services::AuthService& auth, services::EvidenceService& evidence);

}  // namespace custos::http
