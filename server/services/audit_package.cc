#include "server/services/audit_package.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <map>
#include <memory>
#include <set>

#include "crypto/hash.h"
#include "common/byte_stream.h"
#include "server/services/bag_writer.h"
#include "server/services/events.h"
#include "server/services/loan.h"
#include "server/services/log_service.h"
#include "server/services/package_writer.h"
#include "domain/canonical_json.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"

namespace custos::services {

using domain::Record;
using domain::RecordId;
using domain::StoredFile;
using storage::Transaction;
using domain::Version;

namespace {

constexpr size_t kEntriesPerRead = 10000;

// Why a file's content is left out: the code (WithheldFile::reason) and
// the words metadata/<record>.json gives.
constexpr char kWithheldDestroyed[] = "destroyed";
constexpr char kWithheldNotRequested[] = "not_requested";
constexpr char kWithheldNotPermitted[] = "not_permitted";

std::string WithheldText(const std::string& code) {
  if (code == kWithheldNotRequested) return "content not requested";
  if (code == kWithheldNotPermitted) return "the exporter may not read this content";
  return code;
}

}  // namespace

Poco::JSON::Object::Ptr CatalogueJson(const Record& x) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", x.id.value);
  o->set("type", std::string(domain::Name(x.type)));
  o->set("title", x.title);
  o->set("description", x.description);
  o->set("department", x.department);
  o->set("classification", std::string(domain::Name(x.classification)));
  o->set("custodian", x.custodian);
  o->set("location", x.location);
  auto meta = domain::ParseJsonStrict(x.metadata_json);
  o->set("metadata", meta.ok() ? *meta : Poco::Dynamic::Var());
  o->set("retentionClass", x.retention_class);
  o->set("state", std::string(domain::Name(x.state)));
  o->set("createdAt", domain::FormatTime(x.created_at));
  o->set("createdBy", x.created_by);
  o->set("updatedAt", domain::FormatTime(x.updated_at));
  // What an auditor needs to recompute the record's recordHash and find it
  // in the log (docs/formats/audit-package.md, "Catalogue values").
  o->set("salt", x.salt);
  return o;
}

namespace {

struct ExportFile {
  StoredFile file;
  int version = 0;
  bool include = false;
  std::string withheld;  // why the content is not included (a kWithheld* code)
  std::string path;      // inside data/
};

struct ExportRecord {
  Record record;
  std::vector<Version> versions;
  std::vector<ExportFile> files;
  // The log entry with the record's newest recordHash, when the package's
  // checkpoint covers it: what binds the catalogue values to the log.
  std::optional<uint64_t> record_hash_index;
};

std::string VersionReceiptPath(const Record& r, int number) {
  return "receipts/" + r.id.value + "-v" + std::to_string(number) + ".tlog-proof";
}

std::string RecordReceiptPath(const Record& r) { return "receipts/" + r.id.value + ".tlog-proof"; }

Poco::JSON::Object::Ptr RecordMetadata(const ExportRecord& r) {
  Poco::JSON::Object::Ptr o = CatalogueJson(r.record);
  const Record& x = r.record;
  o->set("logIndex", r.record_hash_index ? Poco::Dynamic::Var(static_cast<Poco::Int64>(*r.record_hash_index))
                                         : Poco::Dynamic::Var());
  o->set("receipt", r.record_hash_index ? Poco::Dynamic::Var(RecordReceiptPath(x)) : Poco::Dynamic::Var());
  Poco::JSON::Array::Ptr versions = new Poco::JSON::Array;
  for (const Version& v : r.versions) {
    Poco::JSON::Object::Ptr vo = new Poco::JSON::Object;
    vo->set("number", v.number);
    vo->set("kind", std::string(domain::Name(v.kind)));
    vo->set("note", v.note);
    vo->set("createdAt", domain::FormatTime(v.created_at));
    vo->set("createdBy", v.created_by);
    vo->set("manifestHash", v.manifest_hash);
    vo->set("prevManifestHash", v.prev_manifest_hash);
    vo->set("logIndex", static_cast<Poco::Int64>(v.log_index));
    vo->set("receipt", VersionReceiptPath(x, v.number));
    Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
    for (const ExportFile& f : r.files) {
      if (f.version != v.number) continue;
      Poco::JSON::Object::Ptr fo = new Poco::JSON::Object;
      fo->set("id", f.file.id.value);
      fo->set("name", f.file.name);
      fo->set("mediaType", f.file.media_type);
      fo->set("size", static_cast<Poco::Int64>(f.file.size));
      fo->set("sha256", f.file.sha256);
      if (!f.file.sm3.empty()) fo->set("sm3", f.file.sm3);
      fo->set("signature", f.file.signature.status);
      // The rest of what the version's manifest hash covers.
      fo->set("signer", f.file.signature.signer);
      fo->set("signingTime", f.file.signature.signing_time ? domain::FormatTime(*f.file.signature.signing_time)
                                                            : std::string());
      fo->set("path", f.include ? Poco::Dynamic::Var("data/" + f.path) : Poco::Dynamic::Var());
      if (!f.include) fo->set("withheld", WithheldText(f.withheld));
      files->add(fo);
    }
    vo->set("files", files);
    versions->add(vo);
  }
  o->set("versions", versions);
  return o;
}

// The package's name: the requested one (letters, digits, '-', '_', '.'),
// else custos-export-<date>.
StatusOr<std::string> PackageName(const ExportRequest& request, domain::Time now) {
  std::string name = request.name.empty() ? "custos-export-" + domain::FormatTime(now).substr(0, 10) : request.name;
  for (char c : name) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return Unprocessable("the package name may hold only letters, digits, '-', '_' and '.'",
                           "invalid_export")
          .WithParam("rule", "name");
    }
  }
  return name;
}

// A record with its versions, deciding file by file what goes in: content
// when it still exists, was asked for and `who` may read it (directly or
// through a checked-out digital loan at `now`).
StatusOr<ExportRecord> PlanRecord(Transaction& tx, const Principal* who, const Record& r,
                                  const ExportRequest& request, domain::Time now) {
  ExportRecord er;
  er.record = r;
  CUSTOS_ASSIGN_OR_RETURN(er.versions, tx.versions().List(r.id));
  bool may_read = who == nullptr || MayReadContentDirectly(*who, r);
  if (!may_read) {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> loans,
                            LoansOfRecord(tx, r.id, who->username.value, {domain::LoanState::kCheckedOut}));
    for (const domain::Loan& l : loans) may_read = may_read || domain::GrantsContentAccess(l, who->username.value, now);
  }
  for (const Version& v : er.versions) {
    for (const StoredFile& f : v.files) {
      ExportFile ef;
      ef.file = f;
      ef.version = v.number;
      ef.path = r.id.value + "/v" + std::to_string(v.number) + "/" + f.id.value + "-" + SafeName(f.name);
      if (f.wrapped_dek.empty()) {
        ef.withheld = kWithheldDestroyed;
      } else if (!request.include_content) {
        ef.withheld = kWithheldNotRequested;
      } else if (!may_read) {
        ef.withheld = kWithheldNotPermitted;
      } else {
        ef.include = true;
      }
      er.files.push_back(std::move(ef));
    }
  }
  return er;
}

// What the package holds, read in one snapshot: the records, the latest
// checkpoint and a receipt for every version it covers.
struct Snapshot {
  std::vector<ExportRecord> records;
  storage::StoredCheckpoint checkpoint;
  std::map<std::string, std::string> receipts;  // path → text
};

class SnapshotReader {
 public:
  SnapshotReader(Transaction& tx, const Principal* who, const ExportRequest& request, domain::Time now)
      : tx_(tx), who_(who), request_(request), now_(now) {}

  StatusOr<Snapshot> Read() {
    for (const std::string& id : request_.record_ids) {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx_.records().Find(RecordId{id}));
      if (!r || (who_ != nullptr && !MaySeeRecord(*who_, *r))) return NotFound("no record " + id, "record_not_found");
      CUSTOS_RETURN_IF_ERROR(Add(*r));
    }
    if (request_.query) CUSTOS_RETURN_IF_ERROR(AddMatches(*request_.query));
    CUSTOS_ASSIGN_OR_RETURN(snap_.checkpoint, tx_.log().LatestCheckpoint());
    // With the lines witnesses and time-stamping authorities added so far.
    CUSTOS_ASSIGN_OR_RETURN(auto lines, tx_.log().CheckpointSignatures(snap_.checkpoint.size));
    snap_.checkpoint.note = storage::AttestedNote(snap_.checkpoint, std::move(lines));
    CUSTOS_RETURN_IF_ERROR(AddReceipts());
    return std::move(snap_);
  }

 private:
  Status Add(const Record& r) {
    if (!seen_.insert(r.id.value).second) return Status::Ok();
    if (snap_.records.size() >= kMaxExportRecords) {
      return Unprocessable("more than " + std::to_string(kMaxExportRecords) + " records match",
                           "invalid_export")
          .WithParam("rule", "too_many")
          .WithParam("max", kMaxExportRecords);
    }
    CUSTOS_ASSIGN_OR_RETURN(ExportRecord er, PlanRecord(tx_, who_, r, request_, now_));
    snap_.records.push_back(std::move(er));
    return Status::Ok();
  }

  Status AddMatches(domain::RecordQuery q) {
    if (who_ != nullptr) RestrictToVisible(*who_, q);
    q.page_size = 500;
    for (q.page = 1;; ++q.page) {
      CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, tx_.records().Search(q));
      for (const Record& r : page.records) {
        if (who_ == nullptr || MaySeeRecord(*who_, r)) CUSTOS_RETURN_IF_ERROR(Add(r));
      }
      if (page.records.size() < 500) return Status::Ok();
    }
  }

  // A receipt for every version the checkpoint covers, and one for each
  // record's newest recordHash entry it covers.
  Status AddReceipts() {
    const storage::StoredCheckpoint& cp = snap_.checkpoint;
    for (ExportRecord& er : snap_.records) {
      for (const Version& v : er.versions) {
        if (v.log_index >= cp.size) continue;  // not yet checkpointed
        CUSTOS_RETURN_IF_ERROR(AddReceipt(VersionReceiptPath(er.record, v.number), v.log_index));
      }
      CUSTOS_ASSIGN_OR_RETURN(er.record_hash_index, NewestRecordHash(er.record.id, cp.size));
      if (er.record_hash_index) {
        CUSTOS_RETURN_IF_ERROR(AddReceipt(RecordReceiptPath(er.record), *er.record_hash_index));
      }
    }
    return Status::Ok();
  }

  // The receipt of entry `index` against the snapshot's checkpoint; none
  // for an entry a destruction redacted (a receipt holds the leaf).
  Status AddReceipt(const std::string& path, uint64_t index) {
    const storage::StoredCheckpoint& cp = snap_.checkpoint;
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx_.log().Entries(index, index + 1, 1));
    if (entries.empty()) return DataLoss("log entry " + std::to_string(index) + " is missing", "log_entry_missing");
    if (entries[0].leaf.empty()) return Status::Ok();
    CUSTOS_ASSIGN_OR_RETURN(auto proof, tx_.log().InclusionProof(index, cp.size));
    snap_.receipts[path] = FormatReceipt(entries[0].leaf, index, proof, cp.note);
    return Status::Ok();
  }

  // The index of the newest entry about record `id` whose details carry a
  // recordHash (the row as read in this snapshot); nullopt when there is
  // none or the checkpoint (of `size`) does not cover it yet.
  StatusOr<std::optional<uint64_t>> NewestRecordHash(const RecordId& id, uint64_t size) {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::LogEntry> entries,
                            tx_.log().EntriesForSubject(id.value, SIZE_MAX));
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      auto leaf = storage::DecodeLeaf(it->leaf);
      if (!leaf.ok() || !leaf->event.details.String(storage::kDetailRecordHash)) continue;
      if (it->index >= size) break;
      return std::optional<uint64_t>(it->index);
    }
    return std::optional<uint64_t>();
  }

  Transaction& tx_;
  const Principal* who_;
  const ExportRequest& request_;
  const domain::Time now_;
  Snapshot snap_;
  std::set<std::string> seen_;
};

// The export.create event: an export by a user is a read of everything it
// includes. Returns its log index.
// By a fresh account (FreshAccountSince), the event says so and the
// included files go to `fresh_reads` once the event is committed.
StatusOr<uint64_t> LogExport(storage::MetadataStore& store, const Principal& who, const std::string& name,
                             const Snapshot& snap, domain::Time now, const AccountPolicyOptions& policy,
                             FreshReadLog* fresh_reads) {
  uint64_t index = 0;
  std::optional<domain::Time> fresh_since;
  CUSTOS_RETURN_IF_ERROR(store.Write([&](Transaction& tx) -> Status {
    storage::LogEvent e = MakeEvent("export.create", who, "export:" + name, now);
    bool any_content = false;
    for (const ExportRecord& er : snap.records) {
      for (const ExportFile& f : er.files) any_content = any_content || f.include;
    }
    if (any_content) {
      CUSTOS_ASSIGN_OR_RETURN(fresh_since, FreshAccountSince(tx, who, now, policy));
      if (fresh_since) e.details.Set("freshAccount", true);
    }
    domain::DetailValue::Array ids;
    domain::DetailValue::Array files;
    for (const ExportRecord& er : snap.records) {
      ids.push_back(er.record.id.value);
      for (const ExportFile& f : er.files) {
        if (f.include) files.push_back(f.file.id.value);
      }
    }
    e.details.Set("recordIds", std::move(ids));
    e.details.Set("filesWithContent", std::move(files));
    e.details.Set("checkpointSize", snap.checkpoint.size);
    CUSTOS_ASSIGN_OR_RETURN(index, tx.log().Append(e));
    return Status::Ok();
  }));
  if (fresh_since && fresh_reads != nullptr) {
    for (const ExportRecord& er : snap.records) {
      for (const ExportFile& f : er.files) {
        if (f.include) {
          fresh_reads->Add({who.username.value, who.role, er.record.id, f.version, f.file.id, now,
                            *fresh_since, index});
        }
      }
    }
  }
  return index;
}

// The whole log up to the checkpoint, one {"index","leaf"} line per entry:
// the auditor recomputes the chain and the root from it.
StatusOr<std::string> LogEntriesJsonl(storage::MetadataStore& store, uint64_t size) {
  std::string jsonl;
  for (uint64_t start = 0; start < size; start += kEntriesPerRead) {
    std::vector<storage::LogEntry> entries;
    CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(entries, tx.log().Entries(start, std::min(size, start + kEntriesPerRead), kEntriesPerRead));
      return Status::Ok();
    }));
    for (const auto& e : entries) {
      if (e.leaf.empty()) {  // redacted by a destruction: its leaf hash still builds the tree
        jsonl += "{\"index\":" + std::to_string(e.index) + ",\"leafHash\":\"" + crypto::Base64Encode(e.leaf_hash) +
                 "\",\"redacted\":true}\n";
        continue;
      }
      jsonl += "{\"index\":" + std::to_string(e.index) + ",\"leaf\":\"" + crypto::Base64Encode(e.leaf) + "\"}\n";
    }
  }
  return jsonl;
}

// bag-info.txt (docs/formats/export-package.md).
std::string BagInfo(const ExportSummary& summary, const Snapshot& snap, const Principal* who, domain::Time now) {
  std::string info;
  info += "Source-Organization: Custos archive " + std::string(snap.checkpoint.note.substr(0, snap.checkpoint.note.find('\n'))) + "\n";
  info += "Bagging-Date: " + domain::FormatTime(now).substr(0, 10) + "\n";
  info += "External-Identifier: " + summary.name + "\n";
  info += "Payload-Oxum: " + std::to_string(summary.payload_bytes) + "." + std::to_string(summary.files_with_content) + "\n";
  info += "Bag-Count: 1 of 1\n";
  info += "Custos-Records: " + std::to_string(summary.records) + "\n";
  info += "Custos-Checkpoint-Size: " + std::to_string(summary.log_size) + "\n";
  info += "Custos-Checkpoint-Root: " + summary.log_root + "\n";
  if (who != nullptr) info += "Custos-Exported-By: " + who->username.value + "\n";
  // Which files the package leaves out and why, one line each; the names
  // are in metadata/<record>.json (a bag-info value is one line).
  info += "Custos-Withheld-Files: " + std::to_string(summary.withheld.size()) + "\n";
  for (const WithheldFile& f : summary.withheld) {
    info += "Custos-Withheld: " + f.record_id + "/v" + std::to_string(f.version) + "/" + f.file_id + " " +
            f.reason + "\n";
  }
  return info;
}

}  // namespace

Status CheckExportRequest(const Principal* who, const ExportRequest& request) {
  if (who != nullptr && IsNonBusiness(who->role)) return Forbidden("export records");
  if (request.record_ids.empty() && !request.query) {
    return Unprocessable("name the records to export (recordIds) or give a query", "invalid_export")
        .WithParam("rule", "empty");
  }
  if (request.record_ids.size() > kMaxExportRecords) {
    return Unprocessable("at most " + std::to_string(kMaxExportRecords) + " records per package",
                         "invalid_export")
        .WithParam("rule", "too_many")
        .WithParam("max", kMaxExportRecords);
  }
  return Status::Ok();
}

StatusOr<PackageFormat> ParsePackageFormat(std::string_view s) {
  if (s == "tar.gz" || s == "tgz") return PackageFormat::kTarGz;
  if (s == "zip") return PackageFormat::kZip;
  return Unprocessable("format must be tar.gz or zip", "invalid_format");
}

std::string_view Extension(PackageFormat f) { return f == PackageFormat::kZip ? ".zip" : ".tar.gz"; }

PackageExporter::PackageExporter(storage::MetadataStore& store, storage::ContentStore& content,
                                 std::string verifier_keys, Clock& clock)
    : store_(store), content_(content), verifier_keys_(std::move(verifier_keys)), clock_(clock) {}

StatusOr<ExportSummary> PackageExporter::Write(const Principal* who, const ExportRequest& request,
                                               const std::string& path) {
  ExportSummary summary;
  CUSTOS_RETURN_IF_ERROR(WriteFileAtomically(path, [&](ByteSink& sink) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(summary, WriteTo(who, request, sink));
    return Status::Ok();
  }));
  return summary;
}

StatusOr<ExportSummary> PackageExporter::WriteTo(const Principal* who, const ExportRequest& request,
                                                 ByteSink& out) {
  CUSTOS_RETURN_IF_ERROR(CheckExportRequest(who, request));
  const domain::Time now = clock_.Now();
  ExportSummary summary;
  CUSTOS_ASSIGN_OR_RETURN(summary.name, PackageName(request, now));

  // 1. Choose the records and decide, file by file, what goes in; all read
  //    in one snapshot.
  Snapshot snap;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(snap, SnapshotReader(tx, who, request, now).Read());
    return Status::Ok();
  }));
  if (snap.records.empty()) return NotFound("no record matches", "record_not_found");
  summary.records = snap.records.size();
  summary.log_size = snap.checkpoint.size;
  summary.log_root = crypto::Base64Encode(snap.checkpoint.root);

  // 2. Log the export before any byte leaves.
  if (who != nullptr) {
    CUSTOS_ASSIGN_OR_RETURN(summary.log_index, LogExport(store_, *who, summary.name, snap, now, policy_, fresh_reads_));
  }

  // 3. Write the bag: payload, metadata, the log, receipts, then the
  //    manifests and bag-info.txt.
  BagWriter bag(request.format, out, summary.name + "/", std::chrono::system_clock::to_time_t(now));
  CUSTOS_RETURN_IF_ERROR(bag.Begin());
  for (const ExportRecord& er : snap.records) {
    for (const ExportFile& f : er.files) {
      ++summary.files;
      if (!f.include) {
        summary.withheld.push_back(
            WithheldFile{er.record.id.value, f.version, f.file.id.value, f.file.name, f.withheld});
        continue;
      }
      if (summary.records_with_content.empty() || summary.records_with_content.back() != er.record.id.value) {
        summary.records_with_content.push_back(er.record.id.value);
      }
      uint64_t bytes = 0;
      CUSTOS_RETURN_IF_ERROR(bag.Payload(content_, f.file, f.path, er.record.id.value, bytes));
      ++summary.files_with_content;
      summary.payload_bytes += bytes;
    }
  }
  for (const ExportRecord& er : snap.records) {
    CUSTOS_ASSIGN_OR_RETURN(std::string json, domain::CanonicalJson(RecordMetadata(er)));
    CUSTOS_RETURN_IF_ERROR(bag.Tag("metadata/" + er.record.id.value + ".json", json + "\n"));
  }
  CUSTOS_ASSIGN_OR_RETURN(std::string jsonl, LogEntriesJsonl(store_, snap.checkpoint.size));
  CUSTOS_RETURN_IF_ERROR(bag.Tag("log/entries.jsonl", jsonl));
  CUSTOS_RETURN_IF_ERROR(bag.Tag("log/checkpoint", snap.checkpoint.note));
  CUSTOS_RETURN_IF_ERROR(
      bag.Tag("log/key", verifier_keys_ + (verifier_keys_.empty() || verifier_keys_.back() == '\n' ? "" : "\n")));
  for (const auto& [name, text] : snap.receipts) CUSTOS_RETURN_IF_ERROR(bag.Tag(name, text));
  CUSTOS_RETURN_IF_ERROR(bag.Finish(BagInfo(summary, snap, who, now)));
  return summary;
}

}  // namespace custos::services
