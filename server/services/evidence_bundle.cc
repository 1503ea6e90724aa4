#include "server/services/evidence_bundle.h"

#include <Poco/JSON/Object.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "domain/canonical_json.h"
#include "server/services/audit_package.h"
#include "server/services/bag_writer.h"
#include "server/services/events.h"
#include "server/services/loan.h"
#include "server/services/log_service.h"
#include "storage/log_leaf.h"

namespace custos::services {

using domain::Record;
using domain::RecordId;
using domain::StoredFile;
using domain::Version;
using storage::Transaction;

namespace {

// Action of the bundle's own read event, as an export's (its subject is
// the record, its details say "evidence").
constexpr char kReadAction[] = "export.create";

// How long Prepare waits for the checkpoint that covers the read event.
constexpr std::chrono::milliseconds kCheckpointPoll{5};
constexpr int kCheckpointPolls = 400;

struct BundleFile {
  StoredFile file;
  int version = 0;
  std::string path;      // inside data/
  std::string withheld;  // "" when the original is included
};

std::string SignaturePath(int version, const StoredFile& f) {
  return "signatures/v" + std::to_string(version) + "/" + f.id.value + ".json";
}

StatusOr<std::string> SignatureJson(int version, const StoredFile& f) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("version", version);
  o->set("file", f.id.value);
  o->set("name", f.name);
  o->set("size", static_cast<Poco::Int64>(f.size));
  o->set("sha256", f.sha256);
  o->set("status", f.signature.status);
  o->set("signer", f.signature.signer);
  o->set("signingTime", f.signature.signing_time ? domain::FormatTime(*f.signature.signing_time) : std::string());
  o->set("reason", f.signature.reason);
  CUSTOS_ASSIGN_OR_RETURN(std::string json, domain::CanonicalJson(o));
  return json + "\n";
}

// Does `e` belong to a loan `who` may not see (details.loan)? The rule of
// the record's history (RecordService::History).
bool HiddenLoanEntry(const Principal& who, const storage::LogEntry& e, const std::vector<domain::Loan>& loans) {
  auto leaf = storage::DecodeLeaf(e.leaf);
  if (!leaf.ok() || !leaf->event.details.Has("loan")) return false;
  const std::string id = leaf->event.details.String("loan").value_or("");
  for (const domain::Loan& l : loans) {
    if (l.id == id) return !MaySeeLoan(who, l);
  }
  return !MaySeeLoan(who, domain::Loan{});
}

}  // namespace

class PreparedEvidence {
 public:
  std::string name;
  domain::Time now;
  Record record;
  std::vector<BundleFile> files;
  std::map<std::string, std::string> tags;  // every tag file but the manifests and bag-info.txt
  std::string bag_info;
  EvidenceResult result;
};

namespace {

// The right to the originals, decided and logged in one write transaction.
struct Decision {
  std::string withheld;  // "" when the caller may read the originals
  std::set<std::string> readable;  // file ids whose originals go in
  std::optional<uint64_t> log_index;
  std::optional<domain::Time> fresh_since;
};

bool LentAsCopies(const EvidenceOptions& o, const Record& r) {
  return std::find(o.stamp_classifications.begin(), o.stamp_classifications.end(), r.classification) !=
         o.stamp_classifications.end();
}

// What one read snapshot gives besides the files.
struct Snapshot {
  storage::StoredCheckpoint checkpoint;  // its note attested (cosignatures, timestamps)
  std::vector<uint64_t> redacted;         // custody events a destruction redacted
  size_t left_out = 0;                    // events of loans the caller may not see
};

// Decides the caller's right to the originals of `b`'s record at `b.now`
// and, for a signed-in caller, appends the read event (write transaction).
StatusOr<Decision> DecideAndLog(Transaction& tx, const Principal* who, const PreparedEvidence& b,
                                const EvidenceOptions& options) {
  Decision d;
  const RecordId& id = b.record.id;
  CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(id));
  if (!r || (who != nullptr && !MaySeeRecord(*who, *r))) return NotFound("no record " + id.value, "record_not_found");
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Version> versions, tx.versions().List(id));
  bool may_read = true;
  std::string via_loan;
  if (who != nullptr) {
    CUSTOS_ASSIGN_OR_RETURN(may_read, MayReadContentNow(tx, *who, *r, b.now, &via_loan));
    if (!may_read) {
      d.withheld = kEvidenceNotPermitted;
    } else if (!via_loan.empty() && LentAsCopies(options, *r)) {
      may_read = false;
      d.withheld = kEvidenceStampedOnly;
    }
  }
  domain::DetailValue::Array with_content;
  for (const Version& v : versions) {
    for (const StoredFile& f : v.files) {
      if (may_read && !f.wrapped_dek.empty() && r->state != domain::RecordState::kDestroyed) {
        d.readable.insert(f.id.value);
        with_content.push_back(f.id.value);
      }
    }
  }
  if (who == nullptr) return d;
  storage::LogEvent e = MakeEvent(kReadAction, *who, id.value, b.now);
  e.details.Set("evidence", b.name);
  if (!via_loan.empty()) e.details.Set("loan", via_loan);
  if (!with_content.empty()) {
    CUSTOS_ASSIGN_OR_RETURN(d.fresh_since, FreshAccountSince(tx, *who, b.now, options.account_policy));
    if (d.fresh_since) e.details.Set("freshAccount", true);
  }
  e.details.Set("recordIds", domain::DetailValue::Array{id.value});
  e.details.Set("filesWithContent", std::move(with_content));
  CUSTOS_ASSIGN_OR_RETURN(d.log_index, tx.log().Append(e));
  return d;
}

// The record, its files (original or why not) and their signature results.
Status ReadFiles(Transaction& tx, const Decision& d, PreparedEvidence& b) {
  b.files.clear();
  b.tags.clear();
  CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(b.record.id));
  if (!r) return NotFound("no record " + b.record.id.value, "record_not_found");
  b.record = *r;
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Version> versions, tx.versions().List(r->id));
  for (const Version& v : versions) {
    for (const StoredFile& f : v.files) {
      BundleFile bf{f, v.number, "v" + std::to_string(v.number) + "/" + f.id.value + "-" + SafeName(f.name), ""};
      if (f.wrapped_dek.empty() || r->state == domain::RecordState::kDestroyed) {
        bf.withheld = kEvidenceDestroyed;
      } else if (!d.readable.count(f.id.value)) {
        bf.withheld = d.withheld.empty() ? kEvidenceNotPermitted : d.withheld;
      }
      CUSTOS_ASSIGN_OR_RETURN(b.tags[SignaturePath(v.number, f)], SignatureJson(v.number, f));
      b.files.push_back(std::move(bf));
    }
  }
  return Status::Ok();
}

// The newest checkpoint that witnesses cosigned and the newest that an
// authority timestamped, when older than the bundle's checkpoint `cp` (which
// covers the bundle's own read event, so it is rarely attested yet): each
// with its lines as log/attested/<size>.checkpoint, and the RFC 9162
// consistency proof from it to `cp` as log/attested/<size>.consistency.
// Every event below such a size is then witnessed or timestamped too.
Status AddAttested(Transaction& tx, const storage::StoredCheckpoint& cp, PreparedEvidence& b) {
  // A snapshot taken again replaces what the first one found.
  for (auto it = b.tags.lower_bound("log/attested/"); it != b.tags.end() && it->first.rfind("log/attested/", 0) == 0;) {
    it = b.tags.erase(it);
  }
  for (const char* kind : {storage::kCosignatureKind, storage::kTimestampKind}) {
    CUSTOS_ASSIGN_OR_RETURN(std::optional<storage::StoredCheckpoint> attested,
                            tx.log().LatestAttestedCheckpoint(kind));
    if (!attested || attested->size >= cp.size) continue;
    const std::string base = "log/attested/" + std::to_string(attested->size);
    if (b.tags.count(base + ".checkpoint")) continue;
    CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::CheckpointSignature> lines,
                            tx.log().CheckpointSignatures(attested->size));
    b.tags[base + ".checkpoint"] = storage::AttestedNote(*attested, std::move(lines));
    CUSTOS_ASSIGN_OR_RETURN(std::vector<crypto::Digest32> proof, tx.log().ConsistencyProof(attested->size, cp.size));
    std::string text;
    for (const crypto::Digest32& h : proof) text += crypto::Base64Encode(h) + "\n";
    b.tags[base + ".consistency"] = text;
  }
  return Status::Ok();
}

// The newest checkpoint (attested) and every custody event under it that
// `who` may see, each with its proof.
Status ReadEvents(Transaction& tx, const Principal* who, PreparedEvidence& b, Snapshot& snap) {
  storage::StoredCheckpoint& cp = snap.checkpoint;
  CUSTOS_ASSIGN_OR_RETURN(cp, tx.log().LatestCheckpoint());
  CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::CheckpointSignature> lines, tx.log().CheckpointSignatures(cp.size));
  cp.note = storage::AttestedNote(cp, std::move(lines));
  CUSTOS_RETURN_IF_ERROR(AddAttested(tx, cp, b));
  const std::string& subject = b.record.id.value;
  CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::LogEntry> entries, tx.log().EntriesForSubject(subject, SIZE_MAX));
  std::vector<domain::Loan> loans;
  if (who != nullptr) {
    CUSTOS_ASSIGN_OR_RETURN(loans, LoansOfRecord(tx, b.record.id));
  }
  b.result.events = 0;
  for (const storage::LogEntry& e : entries) {
    if (e.index >= cp.size) continue;  // not under the checkpoint yet
    if (e.redacted()) {
      snap.redacted.push_back(e.index);
      continue;
    }
    if (who != nullptr && HiddenLoanEntry(*who, e, loans)) {
      ++snap.left_out;
      continue;
    }
    CUSTOS_ASSIGN_OR_RETURN(std::vector<crypto::Digest32> proof, tx.log().InclusionProof(e.index, cp.size));
    const std::string n = std::to_string(e.index);
    b.tags["events/" + n + ".json"] = e.leaf;
    b.tags["proofs/" + n + ".tlog-proof"] = FormatReceipt(e.leaf, e.index, proof, cp.note);
    ++b.result.events;
  }
  return Status::Ok();
}

// A fresh account's bundle with originals goes to the security auditor's
// list, file by file, as its downloads would.
void ReportFreshReads(const Principal* who, const Decision& d, const PreparedEvidence& b,
                      const EvidenceOptions& options) {
  if (who == nullptr || !d.fresh_since || !d.log_index || options.fresh_reads == nullptr) return;
  for (const BundleFile& f : b.files) {
    if (f.withheld.empty()) {
      options.fresh_reads->Add({who->username.value, who->role, b.record.id, f.version, f.file.id, b.now,
                                *d.fresh_since, *d.log_index});
    }
  }
}

// bag-info.txt of a bundle (docs/formats/evidence-bundle.md).
std::string BagInfo(const PreparedEvidence& b, const Snapshot& snap, const Principal* who) {
  const storage::StoredCheckpoint& cp = snap.checkpoint;
  uint64_t bytes = 0, count = 0;
  for (const BundleFile& f : b.files) {
    if (f.withheld.empty()) {
      bytes += f.file.size;
      ++count;
    }
  }
  std::string info;
  info += "Source-Organization: Custos archive " + cp.note.substr(0, cp.note.find('\n')) + "\n";
  info += "Bagging-Date: " + domain::FormatTime(b.now).substr(0, 10) + "\n";
  info += "External-Identifier: " + b.name + "\n";
  info += "Payload-Oxum: " + std::to_string(bytes) + "." + std::to_string(count) + "\n";
  info += "Bag-Count: 1 of 1\n";
  info += std::string(kEvidenceRecordLabel) + ": " + b.record.id.value + "\n";
  info += "Custos-Evidence-Made: " + domain::FormatTime(b.now) + "\n";
  info += "Custos-Evidence-Made-By: " + (who ? who->username.value : std::string(kEvidenceOperator)) + "\n";
  info += "Custos-Checkpoint-Size: " + std::to_string(cp.size) + "\n";
  info += "Custos-Checkpoint-Root: " + crypto::Base64Encode(cp.root) + "\n";
  size_t withheld = 0;
  for (const BundleFile& f : b.files) withheld += f.withheld.empty() ? 0 : 1;
  info += "Custos-Withheld-Files: " + std::to_string(withheld) + "\n";
  for (const BundleFile& f : b.files) {
    if (!f.withheld.empty()) {
      info += "Custos-Withheld: v" + std::to_string(f.version) + "/" + f.file.id.value + " " + f.withheld + "\n";
    }
  }
  for (uint64_t i : snap.redacted) info += "Custos-Redacted-Event: " + std::to_string(i) + "\n";
  info += "Custos-Events-Left-Out: " + std::to_string(snap.left_out) + "\n";
  return info;
}

}  // namespace

EvidenceService::EvidenceService(storage::MetadataStore& store, storage::ContentStore& content,
                                 std::string verifier_keys, Clock& clock, EvidenceOptions options)
    : store_(store),
      content_(content),
      verifier_keys_(std::move(verifier_keys)),
      clock_(clock),
      options_(std::move(options)) {}

EvidenceService::~EvidenceService() = default;

StatusOr<std::shared_ptr<PreparedEvidence>> EvidenceService::Prepare(const Principal* who, const RecordId& id) {
  if (who != nullptr && IsNonBusiness(who->role)) return Forbidden("make evidence bundles");
  auto b = std::make_shared<PreparedEvidence>();
  b->now = clock_.Now();
  b->name = "evidence-" + id.value;
  b->record.id = id;

  // 1. The right to the originals, and the read event, in one write
  //    transaction (as a download decides and logs).
  Decision d;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(d, DecideAndLog(tx, who, *b, options_));
    return Status::Ok();
  }));

  // 2. Everything else in one read snapshot, which covers the read event.
  //    Its checkpoint is signed just after the event's commit; a snapshot
  //    taken in between is taken again.
  Snapshot snap;
  for (int attempt = 0;; ++attempt) {
    CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
      snap = Snapshot{};
      CUSTOS_RETURN_IF_ERROR(ReadFiles(tx, d, *b));
      return ReadEvents(tx, who, *b, snap);
    }));
    if (!d.log_index || *d.log_index < snap.checkpoint.size || attempt == kCheckpointPolls) break;
    std::this_thread::sleep_for(kCheckpointPoll);
  }

  // 3. The other tag files, bag-info.txt and the summary they give.
  CUSTOS_ASSIGN_OR_RETURN(std::string catalogue, domain::CanonicalJson(CatalogueJson(b->record)));
  b->tags[kEvidenceRecordPath] = catalogue + "\n";
  b->tags["log/checkpoint"] = snap.checkpoint.note;
  b->tags["log/key"] = verifier_keys_ + (verifier_keys_.empty() || verifier_keys_.back() == '\n' ? "" : "\n");
  b->bag_info = BagInfo(*b, snap, who);
  std::map<std::string, std::string> all = b->tags;
  all["bag-info.txt"] = b->bag_info;
  b->tags[kEvidenceSummaryPath] = EvidenceSummary(all);
  b->result.name = b->name;
  b->result.record_id = id.value;
  b->result.checkpoint_size = snap.checkpoint.size;
  b->result.log_index = d.log_index;
  b->result.content_withheld = d.withheld;
  ReportFreshReads(who, d, *b, options_);
  return b;
}

std::optional<uint64_t> EvidenceLogIndex(const PreparedEvidence& bundle) { return bundle.result.log_index; }

StatusOr<EvidenceResult> EvidenceService::WriteTo(PreparedEvidence& b, ByteSink& out) {
  EvidenceResult result = b.result;
  BagWriter bag(PackageFormat::kZip, out, b.name + "/", std::chrono::system_clock::to_time_t(b.now));
  CUSTOS_RETURN_IF_ERROR(bag.Begin());
  for (const BundleFile& f : b.files) {
    ++result.files;
    if (!f.withheld.empty()) continue;
    uint64_t bytes = 0;
    CUSTOS_RETURN_IF_ERROR(bag.Payload(content_, f.file, f.path, b.record.id.value, bytes));
    ++result.files_with_content;
    result.payload_bytes += bytes;
  }
  for (const auto& [path, bytes] : b.tags) CUSTOS_RETURN_IF_ERROR(bag.Tag(path, bytes));
  CUSTOS_RETURN_IF_ERROR(bag.Finish(b.bag_info));
  return result;
}

StatusOr<EvidenceResult> EvidenceService::Write(const Principal* who, const RecordId& id, const std::string& path) {
  CUSTOS_ASSIGN_OR_RETURN(std::shared_ptr<PreparedEvidence> b, Prepare(who, id));
  EvidenceResult result;
  CUSTOS_RETURN_IF_ERROR(WriteFileAtomically(path, [&](ByteSink& sink) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(result, WriteTo(*b, sink));
    return Status::Ok();
  }));
  return result;
}

}  // namespace custos::services
