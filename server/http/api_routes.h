// The v1 API routes (DESIGN §4): session, users and departments, records
// and versions, content, receipts and the log. Handlers parse, call one
// service function and render; policy lives in the services.
#pragma once

#include "common/config.h"
#include "server/http/router.h"
#include "server/services/audit_service.h"
#include "server/services/auth_service.h"
#include "server/services/destruction_service.h"
#include "server/services/evidence_bundle.h"
#include "server/services/checkpoint_attester.h"
#include "server/services/fresh_reads.h"
#include "server/services/loan_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "server/services/retention_service.h"
#include "server/services/row_integrity.h"
#include "server/services/verify_schedule.h"

namespace custos::http {

struct ApiServices {
  services::AuthService& auth;
  services::RecordService& records;
  services::LogService& log;
  services::LoanService& loans;
  services::RetentionService& retention;
  services::DestructionService& destruction;
  services::AuditService& audit;
  // Adds its alert to GET /v1/alerts; null when verification is not scheduled.
  const services::VerifySchedule* verification = nullptr;
  // Adds its alert (rows refused for a bad seal) to GET /v1/alerts; may be null.
  const services::RowIntegrityMonitor* row_integrity = nullptr;
  // Adds the content reads by fresh accounts (the security auditor's
  // "freshAccountReads") to GET /v1/alerts; may be null.
  const services::FreshReadLog* fresh_reads = nullptr;
  // Serves the tlog-tiles read API under /log/ (tile_routes.h) from `log`.
  bool serve_tiles = false;
  // Adds its alert (a witness refused a checkpoint, …) to GET /v1/alerts;
  // null when no witness or time-stamping authority is configured.
  const services::CheckpointAttester* attester = nullptr;
  // Serves GET /v1/records/{id}/evidence (evidence_routes.h); none when null.
  services::EvidenceService* evidence = nullptr;
  // false (log.public_entries): entry bundles of /log/ for signed-in log
  // readers only.
  bool public_tile_entries = true;
};

// Registers every /v1 route. The services must outlive the router.
void AddApiRoutes(Router& router, ApiServices api);

}  // namespace custos::http
