// Destruction batches (DESIGN §2, §7): proposal, two approvals, execution
// by crypto-shredding, tombstones and the signed destruction certificate.
//
//   proposed ──approve × N──▶ approved ──execute──▶ executed
//
//   * An archivist proposes a batch of records whose disposition is due
//     (action `destroy`, date reached, no hold); any other record is
//     refused with 409 naming it. A record is in at most one open batch.
//   * Approval needs one person for each role in
//     DestructionOptions::approver_roles (default: one approver and one
//     legal), all distinct, never the proposer, never an administrative
//     role (principal.h IsNonBusiness), and never an account created, reset
//     or granted its role within DestructionOptions::account_policy.cooling
//     (409 "approver_cooling_period", account_policy.h).
//   * An archivist executes an approved batch. Every record is checked again
//     (a hold placed after approval still stops it). Then, in one
//     transaction: every file's wrapped data key is cleared, the record is
//     reduced to a tombstone and a `record.destroy` event is appended per
//     record. After that commit, the ciphertext blobs are deleted and the
//     database's freed space and write-ahead log are scrubbed, so neither
//     the content nor its key survives on disk. Finally a certificate —
//     canonical JSON listing every record and file hash, the rule, the
//     approvals and the receipts of the destruction events — is signed with
//     the log key as a signed note (docs/formats/destruction-certificate.md).
//   * Executing an executed batch again finishes what a crash interrupted
//     (blob deletion, scrubbing, the certificate) and changes nothing else.
//   * Readers see a batch as they see the catalogue (MaySeeRecord on each
//     record as it is now): Get and List leave out the records the reader
//     may not see and count them in `hidden_records`; a batch with no
//     record the reader may see is reported as not existing (404
//     "destruction_not_found") and left out of List. Approving a batch and
//     reading its certificate need every record visible: otherwise 403
//     "batch_records_hidden" (404 when none is visible).
// Thread safety: safe for concurrent use.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "crypto/signed_note.h"
#include "domain/workflow.h"
#include "server/services/account_policy.h"
#include "server/services/clock.h"
#include "server/services/log_service.h"
#include "server/services/principal.h"
#include "server/services/retention.h"
#include "storage/blob_store.h"
#include "storage/metadata_store.h"

namespace custos::services {

struct DestructionOptions {
  std::vector<domain::Role> approver_roles = {domain::Role::kApprover, domain::Role::kLegal};
  // The cooling period an approver's account must be past (its `cooling`;
  // `fresh` is not used here).
  AccountPolicyOptions account_policy;
};

inline constexpr const char* kDestructionDocument = "destruction";  // id: DB-YYYY-NNNNNN
inline constexpr const char* kTombstoneDocument = "tombstone";      // id: record id

struct DestructionApproval {
  std::string by;
  std::string role;
  domain::Time at;
  uint64_t log_index = 0;
};

struct DestroyedFile {
  std::string id;
  int version = 0;
  std::string name;
  uint64_t size = 0;
  std::string sha256;
  std::string sm3;
  std::string blob_id;
};

struct DestructionItem {
  std::string record_id;
  std::string type;
  std::string title;
  std::string department;
  RetentionRule rule;
  std::string rule_source;
  std::string trigger_date;
  std::string disposition_date;
  std::vector<DestroyedFile> files;
  uint64_t event_index = 0;  // its record.destroy event (after execution)
};

struct DestructionBatch {
  std::string id;
  std::string reason;
  domain::BatchState state = domain::BatchState::kProposed;
  std::string proposed_by;
  domain::Time proposed_at;
  std::vector<DestructionApproval> approvals;
  std::vector<DestructionItem> items;
  std::string executed_by;
  std::optional<domain::Time> executed_at;
  std::vector<uint64_t> event_indices;  // propose, approvals, execution
  std::string certificate;  // signed note; empty until issued
  // Records of the batch the reader may not see in the catalogue
  // (MaySeeRecord), left out of `items` by Get and List.
  size_t hidden_records = 0;
};

// The one JSON codec of a batch's parts, shared by its stored body, its
// certificate (docs/formats/destruction-certificate.md), tombstones and the
// API: an item {recordId, type, title, department, retention:{rule, source,
// triggerDate, dispositionDate}, files:[{id, version, name, size, sha256,
// sm3 when known, blobId when `with_blob_ids`}], eventIndex}, and approvals
// [{by, role, at, logIndex}].
Poco::JSON::Object::Ptr DestructionItemObject(const DestructionItem& item, bool with_blob_ids);
// The batch's stored body: {id, reason, state, proposedBy, proposedAt,
// approvals, items (with blob ids), executedBy, executedAt when executed,
// eventIndices, certificate}.
Poco::JSON::Object::Ptr DestructionBatchObject(const DestructionBatch& b);
Poco::JSON::Array::Ptr DestructionApprovalsArray(const std::vector<DestructionApproval>& approvals);

class DestructionService {
 public:
  DestructionService(storage::MetadataStore& store, storage::BlobStore& blobs, LogService& log,
                     std::vector<const crypto::note::Signer*> signers, Clock& clock,
                     DestructionOptions options = {});

  StatusOr<DestructionBatch> Propose(const Principal& who, const std::vector<std::string>& record_ids,
                                     const std::string& reason);
  // The batch as `who` may see it (see above); kNotFound "destruction_not_found".
  StatusOr<DestructionBatch> Get(const Principal& who, const std::string& id);
  // Newest first; batches with no record `who` may see are left out.
  StatusOr<std::vector<DestructionBatch>> List(const Principal& who);
  // kPermissionDenied "batch_records_hidden" unless `who` may see every
  // record of the batch; "self_approval", "forbidden" (role not needed,
  // or an administrative role); kConflict "invalid_batch_state",
  // "already_approved", "approver_cooling_period" (the approver's users row,
  // read in the approving transaction, changed hands too recently).
  StatusOr<DestructionBatch> Approve(const Principal& who, const std::string& id);
  StatusOr<DestructionBatch> Execute(const Principal& who, const std::string& id);
  // The signed certificate (kConflict "not_executed" before execution). It
  // names every record, so it needs every record visible, like Approve.
  StatusOr<std::string> Certificate(const Principal& who, const std::string& id);

  // Finishes every batch whose execution committed but was cut short by a
  // crash (ciphertext still on disk, database not scrubbed, no certificate),
  // as its executor: what POST …/execute would do again. custosd calls it
  // at start, so no destroyed record's ciphertext outlives a restart.
  // Returns how many batches it finished.
  StatusOr<int> FinishInterrupted();

 private:
  // Every batch, oldest first, without an authorization check.
  StatusOr<std::vector<DestructionBatch>> LoadAll();
  Status FinishExecution(const Principal& who, DestructionBatch& batch);

  storage::MetadataStore& store_;
  storage::BlobStore& blobs_;
  LogService& log_;
  const std::vector<const crypto::note::Signer*> signers_;
  Clock& clock_;
  const DestructionOptions options_;
};

// The first line of a certificate note.
inline constexpr const char* kCertificateHeader = "custos destruction certificate v1";

}  // namespace custos::services
