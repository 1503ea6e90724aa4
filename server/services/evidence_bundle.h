// Evidence bundles (docs/formats/evidence-bundle.md): everything a court's
// expert needs to check one record offline, with `openssl` and the log's
// verifier key obtained independently — a BagIt 1.0 bag (RFC 8493) packed
// as a zip with UTF-8 names (server/services/bag_writer.h):
//
//   <name>/bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt
//   <name>/data/v<n>/<file id>-<file name>   the original bytes, where the
//                                            caller may read them
//   <name>/record.json                       the catalogue values and salt
//                                            (what the log's recordHash binds)
//   <name>/signatures/v<n>/<file id>.json    the CMS signature result of
//                                            each file, as checked at check-in
//   <name>/events/<index>.json               each custody event: the exact
//                                            leaf bytes of log entry <index>
//   <name>/proofs/<index>.tlog-proof         its RFC 9162 inclusion proof
//                                            against log/checkpoint
//                                            (c2sp.org/tlog-proof@v1)
//   <name>/log/checkpoint                    the checkpoint with every
//                                            cosignature and timestamp line
//   <name>/log/key                           the log's verifier key(s)
//   <name>/summary.md                        who did what when, and how to
//                                            check each claim, in Chinese
//                                            and English
//
// <name> is "evidence-<archive number>". The custody events are the log
// entries whose subject is the record (LogRepository::EntriesForSubject),
// as the record's history and the audit package's recordHash binding read
// them; a signed-in caller gets those of loans they may not see left out
// (counted in bag-info.txt), as in the record's history.
//
// summary.md is a function of the bundle's other tag files
// (EvidenceSummary), so a verifier regenerates it and compares.
//
// Thread safety: an EvidenceService may be shared by threads; a prepared
// bundle belongs to one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "domain/model.h"
#include "server/services/account_policy.h"
#include "server/services/clock.h"
#include "server/services/fresh_reads.h"
#include "server/services/principal.h"
#include "storage/content_store.h"
#include "storage/metadata_store.h"

namespace custos::services {

// The bag-info.txt label that marks a bag as an evidence bundle; its value
// is the archive number.
inline constexpr char kEvidenceRecordLabel[] = "Custos-Evidence-Record";
inline constexpr char kEvidenceSummaryPath[] = "summary.md";
inline constexpr char kEvidenceRecordPath[] = "record.json";
// Custos-Evidence-Made-By of the operator's offline bundle: not a valid
// username (usernames cannot hold ':').
inline constexpr char kEvidenceOperator[] = "operator:offline";

// Why a bundle holds no original of a file (bag-info.txt Custos-Withheld).
inline constexpr char kEvidenceDestroyed[] = "destroyed";
inline constexpr char kEvidenceNotPermitted[] = "not_permitted";          // may see, not read
inline constexpr char kEvidenceStampedOnly[] = "stamped_copy_only";     // a borrower of a record lent as stamped copies

struct EvidenceOptions {
  // Records of these classifications are lent as stamped copies only
  // (RecordOptions::stamp_classifications): whoever reads them only
  // through a loan gets no originals.
  std::vector<domain::Classification> stamp_classifications;
  // A bundle with originals read by a fresh account says so in its event
  // and goes to `fresh_reads` (may be null), as downloads do.
  AccountPolicyOptions account_policy;
  FreshReadLog* fresh_reads = nullptr;
};

struct EvidenceResult {
  std::string name;       // the bag's folder, "evidence-<record>"
  std::string record_id;  // the archive number
  uint64_t files = 0;
  uint64_t files_with_content = 0;
  uint64_t payload_bytes = 0;
  uint64_t events = 0;    // custody events with their proofs
  uint64_t checkpoint_size = 0;
  // The reason no original is included (a kEvidence* code) when the caller
  // may not read them; "" when every live file's original is included.
  std::string content_withheld;
  std::optional<uint64_t> log_index;  // the bundle's own export.create event (signed-in callers)
};

// A bundle decided, logged and read in one snapshot, ready to be written.
class PreparedEvidence;

class EvidenceService {
 public:
  // Every reference must outlive the service. `verifier_keys` is the log's
  // verifier key text (DATA/keys/log.vkey).
  EvidenceService(storage::MetadataStore& store, storage::ContentStore& content, std::string verifier_keys,
                  Clock& clock, EvidenceOptions options = {});
  ~EvidenceService();

  // Decides what the bundle of record `id` holds and, for a signed-in
  // `who`, logs the read before any byte is written: one export.create
  // event whose subject is the record (details "evidence": the bag's name,
  // "recordIds", "filesWithContent"), committed with the decision of the
  // right to read (MayReadContentNow, as a download decides it). Then reads
  // the record, its custody events, their proofs and the newest checkpoint
  // in one snapshot, so the bundle holds its own read event. `who` null
  // means the operator: every live original, no event.
  // Failures: kNotFound "record_not_found" (no such record, or one `who`
  // may not see); kPermissionDenied "forbidden" for a non-business role;
  // errors of the store.
  StatusOr<std::shared_ptr<PreparedEvidence>> Prepare(const Principal* who, const domain::RecordId& id);

  // Writes a prepared bundle to `out` (a zip), streaming the originals from
  // the content store and checking each against its recorded hash
  // (kDataLoss "content_hash_mismatch"). On failure `out` holds a partial
  // bundle to be abandoned.
  StatusOr<EvidenceResult> WriteTo(PreparedEvidence& bundle, ByteSink& out);

  // Prepare and WriteTo into the file `path` (0600, through a temporary
  // file; never half-written).
  StatusOr<EvidenceResult> Write(const Principal* who, const domain::RecordId& id, const std::string& path);

 private:
  storage::MetadataStore& store_;
  storage::ContentStore& content_;
  const std::string verifier_keys_;
  Clock& clock_;
  const EvidenceOptions options_;
};

// The bundle's own read event (its export.create entry), for a signed-in
// caller; nullopt for the operator.
std::optional<uint64_t> EvidenceLogIndex(const PreparedEvidence& bundle);

// The bilingual summary (summary.md) that the bundle's tag files give:
// `tags` maps each tag file's path inside the bag (bag-info.txt,
// record.json, signatures/…, events/…, log/checkpoint) to its bytes.
// Deterministic; parts that do not parse are left out of it (the verifier
// names them separately).
std::string EvidenceSummary(const std::map<std::string, std::string>& tags);

}  // namespace custos::services
