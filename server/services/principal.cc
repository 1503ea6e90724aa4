#include "server/services/principal.h"

namespace custos::services {

using storage::Classification;
using storage::Role;

Status Forbidden(const std::string& action) {
  return PermissionDenied("your role may not " + action, "forbidden");
}

bool MaySeeRecord(const Principal& p, const storage::Record& r) {
  switch (p.role) {
    case Role::kArchivist:
    case Role::kLegal:
    case Role::kAuditor:
      return true;
    case Role::kApprover:
      return r.classification <= Classification::kConfidential;
    case Role::kStaff:
      return r.classification <= Classification::kInternal;
    case Role::kAdmin:
      return false;
  }
  return false;
}

bool MayReadContentDirectly(const Principal& p, const storage::Record& r) {
  if (p.role == Role::kArchivist) return r.classification < Classification::kSecret;
  if (p.role == Role::kLegal) return r.type == storage::RecordType::kContract;
  return false;
}

Status RequireArchivist(const Principal& p) {
  return p.role == Role::kArchivist ? Status::Ok() : Forbidden("check in or change records");
}

Status RequireAdmin(const Principal& p) {
  return p.role == Role::kAdmin ? Status::Ok() : Forbidden("manage users and departments");
}

Status RequireLogReader(const Principal& p) {
  return (p.role == Role::kAuditor || p.role == Role::kArchivist)
             ? Status::Ok()
             : Forbidden("read log entries and proofs");
}

}  // namespace custos::services
