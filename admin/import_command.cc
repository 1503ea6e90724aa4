#include "admin/import_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "admin/import_manifest.h"
#include "admin/open_archive.h"
#include "crypto/cms.h"
#include "server/services/clock.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "storage/archive.h"
#include "storage/search_index.h"
#include "domain/canonical_json.h"
#include "storage/data_dir.h"

namespace custos::admin {

namespace {

// CheckIn::AttachSignature's limit for one detached signature.
constexpr uint64_t kMaxSignatureBytes = 1 << 20;
// Signatures are held in memory between the reads of the batch.
constexpr uint64_t kMaxSignatureBytesTotal = 256ULL << 20;
// A refusal lists at most this many problems.
constexpr size_t kMaxProblems = 100;

// ------------------------------------------------------------ the batch

// What the check read (step 1) saw: the entries, in order, and the bytes
// of every file entry.
struct Scan {
  std::vector<BatchEntry> order;
  std::map<std::string, EntryDigest> files;  // by entry path
  std::set<std::string> directories;
  std::string manifest_name;  // kManifestCsv or kManifestJson
  std::string manifest_text;
};

// The import worked out from the manifest.
struct Plan {
  std::vector<PlannedRecord> records;
  // Content entry → (record index, file index).
  std::map<std::string, std::pair<size_t, size_t>> content;
  // Signature entry → its bytes (filled by step 2).
  std::map<std::string, std::string> signatures;
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// Whether a failure of the batch checks is the batch's fault (refused, exit
// 1) rather than the machine's (could not run, exit 2).
bool IsRefusal(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kInternal:
    case ErrorCode::kResourceExhausted:
    case ErrorCode::kUnavailable:
    case ErrorCode::kDataLoss:
      return false;
    default:
      return true;
  }
}

Status BatchChanged(const std::string& entry) {
  return DataLoss("the batch file changed while it was being imported (at entry '" +
                      PrintableName(entry) + "'); nothing was imported",
                  "batch_changed");
}

// Reads `data` to its end into *out, refusing more than `max` bytes.
Status ReadAll(ByteSource& data, uint64_t max, const std::string& what, std::string* out) {
  uint8_t buf[64 * 1024];
  while (true) {
    CUSTOS_ASSIGN_OR_RETURN(size_t n, data.Read(buf, sizeof buf));
    if (n == 0) return Status::Ok();
    if (out->size() + n > max) {
      return TooLarge(what + " is larger than " + std::to_string(max) + " bytes",
                      "batch_entry_too_large");
    }
    out->append(reinterpret_cast<const char*>(buf), n);
  }
}

// Step 1, the archive part: every entry, every byte.
StatusOr<Scan> ScanBatch(BatchReader& reader) {
  CUSTOS_RETURN_IF_ERROR(reader.Rewind());
  Scan scan;
  BatchEntry entry;
  while (true) {
    CUSTOS_ASSIGN_OR_RETURN(bool more, reader.Next(&entry));
    if (!more) break;
    scan.order.push_back(entry);
    if (entry.kind == EntryKind::kDirectory) {
      scan.directories.insert(entry.path);
      continue;
    }
    if (entry.path == kManifestCsv || entry.path == kManifestJson) {
      if (!scan.manifest_name.empty()) {
        return Unprocessable("entry '" + entry.path + "': the batch has both " +
                                 std::string(kManifestCsv) + " and " + std::string(kManifestJson) +
                                 "; keep one",
                             "invalid_manifest");
      }
      scan.manifest_name = entry.path;
      CUSTOS_RETURN_IF_ERROR(ReadAll(reader.data(), kMaxManifestBytes, "entry '" + entry.path + "'",
                                     &scan.manifest_text));
    }
    CUSTOS_ASSIGN_OR_RETURN(scan.files[entry.path], reader.Finish());
  }
  if (scan.manifest_name.empty()) {
    return Unprocessable("the batch has no " + std::string(kManifestCsv) + " or " +
                             std::string(kManifestJson) + " at its root",
                         "invalid_manifest");
  }
  return scan;
}

// Reads the batch again (steps 2–4), calling `visit` for every entry with
// its data stream. The entries must be those of the scan, in the same
// order, with the same bytes; otherwise the file changed under us.
Status Reread(BatchReader& reader, const Scan& scan,
              const std::function<Status(const BatchEntry&, ByteSource&)>& visit) {
  CUSTOS_RETURN_IF_ERROR(reader.Rewind());
  size_t i = 0;
  BatchEntry entry;
  while (true) {
    StatusOr<bool> more = reader.Next(&entry);
    if (!more.ok()) {
      // The first read passed every check the reader makes: a refusal now
      // means the file is no longer what it was.
      if (!IsRefusal(more.status())) return more.status();
      return BatchChanged(i < scan.order.size() ? scan.order[i].path : entry.path);
    }
    if (!*more) break;
    if (i >= scan.order.size() || scan.order[i].path != entry.path ||
        scan.order[i].kind != entry.kind) {
      return BatchChanged(entry.path);
    }
    CUSTOS_RETURN_IF_ERROR(visit(entry, reader.data()));
    if (entry.kind == EntryKind::kFile) {
      StatusOr<EntryDigest> digest = reader.Finish();
      if (!digest.ok()) {
        return IsRefusal(digest.status()) ? BatchChanged(entry.path) : digest.status();
      }
      const EntryDigest& seen = scan.files.at(entry.path);
      if (digest->size != seen.size || digest->sha256 != seen.sha256) {
        return BatchChanged(entry.path);
      }
    }
    ++i;
  }
  if (i != scan.order.size()) return BatchChanged(scan.order[i].path);
  return Status::Ok();
}

// ----------------------------------------------------------- the checks

std::string Quoted(const std::string& s) { return "'" + PrintableName(s) + "'"; }

// The rule CheckIn::AddFile applies to file names, checked before any byte
// is stored.
bool ValidFileName(const std::string& name) {
  if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
      !domain::IsValidUtf8(name)) {
    return false;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == '/' || c == '\\' || c == 0x7f) return false;
  }
  return true;
}

std::string RecordLabel(const PlannedRecord& r) {
  return r.where + (r.key.empty() ? "" : " (record " + Quoted(r.key) + ")");
}

// Step 1, the manifest part: the rows against the entries of the scan.
// Every problem found is appended to *problems.
class ManifestChecker {
 public:
  ManifestChecker(const Scan& scan, std::vector<std::string>* problems)
      : scan_(scan), problems_(*problems) {}

  // Adds the files of record `r` of `plan` to its content map and totals.
  void CheckRecordFiles(Plan& plan, size_t r) {
    const PlannedRecord& record = plan.records[r];
    const size_t max_files = services::RecordOptions{}.max_files_per_version;
    if (record.files.size() > max_files) {
      problems_.push_back(RecordLabel(record) + ": " + std::to_string(record.files.size()) +
                          " files, but a record version holds at most " +
                          std::to_string(max_files));
    }
    for (size_t f = 0; f < record.files.size(); ++f) {
      const PlannedFile& file = record.files[f];
      if (!ValidFileName(file.name)) {
        problems_.push_back(file.where + ": file name " + Quoted(file.name) +
                            " must be 1 to 255 bytes of UTF-8 without '/', '\\' or control "
                            "characters");
      }
      if (Use(file.entry, file.where, "path")) {
        plan.content[file.entry] = {r, f};
        ++plan.files;
        plan.bytes += scan_.files.at(file.entry).size;
      }
      if (!file.signature.empty() && Use(file.signature, file.where, "signature")) {
        uint64_t size = scan_.files.at(file.signature).size;
        if (size > kMaxSignatureBytes) {
          problems_.push_back(file.where + ": signature " + Quoted(file.signature) + " is " +
                              std::to_string(size) + " bytes; a signature may have at most " +
                              std::to_string(kMaxSignatureBytes));
        }
        signature_bytes_ += size;
      }
    }
  }

  // After every record: the signatures' total and the files no row uses.
  void CheckBatch() {
    if (signature_bytes_ > kMaxSignatureBytesTotal) {
      problems_.push_back("the signatures of the batch total " + std::to_string(signature_bytes_) +
                          " bytes; at most " + std::to_string(kMaxSignatureBytesTotal) +
                          " are accepted in one batch");
    }
    for (const auto& [entry, digest] : scan_.files) {
      if (entry != scan_.manifest_name && !used_.count(entry)) {
        problems_.push_back("entry " + Quoted(entry) + " is not listed in " + scan_.manifest_name +
                            " (every file of the batch must be imported or named as a signature)");
      }
    }
  }

 private:
  // Claims `entry` for the row at `where` (as its "path" or "signature").
  bool Use(const std::string& entry, const std::string& where, const char* as) {
    const std::string what = where + ": " + as + " " + Quoted(entry);
    auto [it, inserted] = used_.try_emplace(entry, where);
    if (!inserted) {
      problems_.push_back(what + " is already used on " + it->second);
    } else if (entry == scan_.manifest_name) {
      problems_.push_back(what + " is the manifest");
    } else if (!scan_.files.count(entry)) {
      problems_.push_back(what + (scan_.directories.count(entry) ? " is a directory"
                                                                 : " is not a file in the batch"));
    } else {
      return true;
    }
    return false;
  }

  const Scan& scan_;
  std::vector<std::string>& problems_;
  std::map<std::string, std::string> used_;  // entry → the row that uses it
  uint64_t signature_bytes_ = 0;
};

// Step 1, the manifest part: parses it, checks it against the entries and
// every record as a check-in (nothing is written). Appends every problem.
Plan CheckManifest(const Scan& scan, NameEncoding encoding, services::RecordService& records,
                   const services::Principal& who, std::vector<std::string>* problems) {
  Plan plan;
  StatusOr<std::vector<ManifestRow>> rows = scan.manifest_name == kManifestCsv
                                                ? ParseManifestCsv(scan.manifest_text, encoding)
                                                : ParseManifestJson(scan.manifest_text);
  if (!rows.ok()) {
    problems->push_back(rows.status().message());
    return plan;
  }
  plan.records = PlanRecords(*rows, problems);
  ManifestChecker checker(scan, problems);
  for (size_t r = 0; r < plan.records.size(); ++r) {
    checker.CheckRecordFiles(plan, r);
    // Everything BeginCheckIn checks (role, type, classification, texts,
    // department, type-specific metadata); nothing is written.
    const PlannedRecord& record = plan.records[r];
    StatusOr<std::unique_ptr<services::CheckIn>> dry = records.BeginCheckIn(who, record.input);
    if (!dry.ok()) problems->push_back(RecordLabel(record) + ": " + dry.status().message());
  }
  checker.CheckBatch();
  return plan;
}

// Step 2: the signatures' bytes.
Status LoadSignatures(BatchReader& reader, const Scan& scan, Plan& plan) {
  std::set<std::string> wanted;
  for (const PlannedRecord& r : plan.records) {
    for (const PlannedFile& f : r.files) {
      if (!f.signature.empty()) wanted.insert(f.signature);
    }
  }
  if (wanted.empty()) return Status::Ok();
  return Reread(reader, scan, [&](const BatchEntry& e, ByteSource& data) -> Status {
    if (!wanted.count(e.path)) return Status::Ok();
    return ReadAll(data, kMaxSignatureBytes, "signature '" + e.path + "'",
                   &plan.signatures[e.path]);
  });
}

// Step 3: with records.reject_invalid_contract_signatures, a signed
// contract whose signature does not verify would fail at commit; find it
// now, before anything is stored.
Status VerifyContractSignatures(BatchReader& reader, const Scan& scan, const Plan& plan,
                                const crypto::TrustStore& trust, services::Clock& clock,
                                std::vector<std::string>* problems) {
  bool any = false;
  for (const PlannedRecord& r : plan.records) {
    if (r.input.type != "contract") continue;
    for (const PlannedFile& f : r.files) any = any || !f.signature.empty();
  }
  if (!any) return Status::Ok();
  return Reread(reader, scan, [&](const BatchEntry& e, ByteSource& data) -> Status {
    auto it = plan.content.find(e.path);
    if (it == plan.content.end()) return Status::Ok();
    const PlannedRecord& record = plan.records[it->second.first];
    const PlannedFile& file = record.files[it->second.second];
    if (record.input.type != "contract" || file.signature.empty()) return Status::Ok();
    CUSTOS_ASSIGN_OR_RETURN(
        crypto::SignatureCheck check,
        crypto::VerifyDetached(trust, data, plan.signatures.at(file.signature), clock.Now()));
    if (check.status != crypto::SignatureStatus::kValid) {
      problems->push_back(file.where + ": the signature " + Quoted(file.signature) + " on " +
                          Quoted(file.entry) + " does not verify (" + check.reason +
                          "), and this installation refuses such contracts "
                          "(records.reject_invalid_contract_signatures)");
    }
    return Status::Ok();
  });
}

// ------------------------------------------------------------- the import

ImportedRecord Described(const PlannedRecord& planned, const Scan& scan) {
  ImportedRecord out;
  out.key = planned.key;
  out.type = planned.input.type;
  out.title = planned.input.title;
  for (const PlannedFile& f : planned.files) {
    ImportedFile file;
    file.entry = f.entry;
    file.name = f.name;
    auto it = scan.files.find(f.entry);
    if (it != scan.files.end()) {
      file.size = it->second.size;
      file.sha256 = crypto::HexEncode(it->second.sha256);
    }
    file.signature = f.signature.empty() ? "none" : "unchecked";
    out.files.push_back(std::move(file));
  }
  return out;
}

ImportedRecord Described(const PlannedRecord& planned, const services::CheckInResult& result) {
  ImportedRecord out;
  out.key = planned.key;
  out.id = result.detail.record.id.value;
  out.type = std::string(domain::Name(result.detail.record.type));
  out.title = result.detail.record.title;
  out.log_index = result.log_index;
  const domain::Version& v = result.detail.versions.back();
  for (size_t i = 0; i < v.files.size(); ++i) {
    ImportedFile file;
    file.entry = i < planned.files.size() ? planned.files[i].entry : "";
    file.name = v.files[i].name;
    file.size = v.files[i].size;
    file.sha256 = v.files[i].sha256;
    file.signature = v.files[i].signature.status;
    out.files.push_back(std::move(file));
  }
  return out;
}

using CheckIns = std::vector<std::unique_ptr<services::CheckIn>>;
// For each record, the planned file indexes in the order they were stored.
using StoredOrder = std::vector<std::vector<size_t>>;

// Step 4a: streams every file of the batch into its record's check-in. The
// files of a record are stored in the order of the archive, which may differ
// from the manifest's: *order remembers which planned file each one is.
Status StoreFiles(BatchReader& reader, const Scan& scan, const Plan& plan, CheckIns& checkins,
                  StoredOrder* order) {
  order->assign(plan.records.size(), {});
  return Reread(reader, scan, [&](const BatchEntry& e, ByteSource& data) -> Status {
    auto it = plan.content.find(e.path);
    if (it == plan.content.end()) return Status::Ok();
    const auto [r, f] = it->second;
    const PlannedFile& file = plan.records[r].files[f];
    Status added = checkins[r]->AddFile(services::FileInput{file.name, file.media_type}, data);
    if (!added.ok()) {
      // The reader's own refusals: the file changed since step 1 passed.
      if (added.reason().rfind("batch_", 0) == 0) return BatchChanged(e.path);
      return added.WithContext("entry '" + PrintableName(e.path) + "'");
    }
    if (!file.signature.empty()) {
      Status attached = checkins[r]->AttachSignature(plan.signatures.at(file.signature));
      if (!attached.ok()) {
        return attached.WithContext("signature '" + PrintableName(file.signature) + "'");
      }
    }
    (*order)[r].push_back(f);
    return Status::Ok();
  });
}

// Step 4b: commits the records in manifest order, one transaction each.
void CommitAll(const Plan& plan, CheckIns& checkins, const StoredOrder& order,
               ImportReport& report) {
  for (size_t r = 0; r < plan.records.size(); ++r) {
    StatusOr<services::CheckInResult> result = checkins[r]->Commit();
    if (!result.ok()) {
      std::string message = RecordLabel(plan.records[r]) + ": " + result.status().message();
      if (report.records.empty()) {
        message += "; nothing was imported";
      } else {
        message += "; the " + std::to_string(report.records.size()) +
                   " records listed before it were imported, the " +
                   std::to_string(plan.records.size() - r) +
                   " from this one on were not (import them from a batch of their own)";
      }
      report.problems.push_back(message);
      return;
    }
    PlannedRecord stored = plan.records[r];
    stored.files.clear();
    for (size_t f : order[r]) stored.files.push_back(plan.records[r].files[f]);
    report.records.push_back(Described(stored, *result));
  }
  report.outcome = ImportOutcome::kImported;
}

// Step 4. Stores every file, then commits the records. Check-ins that are
// not committed delete the blobs they stored when they are destroyed.
void Import(BatchReader& reader, const Scan& scan, const Plan& plan,
            services::RecordService& records, const services::Principal& who,
            ImportReport& report) {
  CheckIns checkins;
  for (const PlannedRecord& r : plan.records) {
    StatusOr<std::unique_ptr<services::CheckIn>> c = records.BeginCheckIn(who, r.input);
    if (!c.ok()) {
      report.problems.push_back(RecordLabel(r) + ": " + c.status().message() +
                                "; nothing was imported");
      return;
    }
    checkins.push_back(std::move(c).value());
  }
  StoredOrder order;
  Status s = StoreFiles(reader, scan, plan, checkins, &order);
  if (!s.ok()) {
    std::string message = s.message();
    if (s.reason() != "batch_changed") message += "; nothing was imported";
    report.problems.push_back(message);
    return;
  }
  CommitAll(plan, checkins, order, report);
}

// The detached-signature trust anchors: every PEM in DATA/trust, as custosd
// loads them.
StatusOr<std::shared_ptr<const crypto::TrustStore>> LoadTrust(const storage::DataDir& dir) {
  std::string trust_dir = dir.root() + "/trust";
  struct stat st {};
  if (::stat(trust_dir.c_str(), &st) != 0) return std::shared_ptr<const crypto::TrustStore>();
  CUSTOS_ASSIGN_OR_RETURN(crypto::TrustStore trust, crypto::TrustStore::LoadDirectory(trust_dir));
  return std::make_shared<const crypto::TrustStore>(std::move(trust));
}

// The actor of an import run without --as.
constexpr const char* kOperatorImporter = "system:import";

// The --as user, read straight from the store (AuthService is not needed:
// nobody signs in).
StatusOr<services::Principal> ImportingArchivist(storage::MetadataStore& store,
                                                 const std::string& username) {
  // Without --as the operator imports in the archive's own name: the log
  // names "system:import", which no user can be called (':' is not allowed
  // in usernames), so the entries cannot be mistaken for a person's.
  if (username.empty()) {
    return services::Principal{domain::Username{kOperatorImporter}, domain::Role::kArchivist, ""};
  }
  std::optional<domain::User> user;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(user, tx.users().Find(domain::Username{username}));
    return Status::Ok();
  }));
  if (!user) return NotFound("--as: no user '" + username + "'", "user_not_found");
  if (user->disabled) return PermissionDenied("--as: user '" + username + "' is disabled");
  if (user->role != domain::Role::kArchivist) {
    return PermissionDenied("--as: user '" + username + "' is " +
                            std::string(domain::Name(user->role)) +
                            ", not archivist; only archivists check records in");
  }
  return services::Principal{user->username, user->role, user->department};
}

void Refused(ImportReport& report, std::vector<std::string> problems) {
  report.outcome = ImportOutcome::kRefused;
  report.problems = std::move(problems);
}

void CouldNotRun(ImportReport& report, const Status& s) {
  report.outcome = ImportOutcome::kFailed;
  report.problems = {s.message()};
}

// Everything an import works with, opened in this order (and closed in the
// reverse one): the lock first, so nothing is read under a live server.
struct ImportContext {
  std::unique_ptr<storage::DataDirLock> lock;
  Config config;
  std::unique_ptr<storage::ArchiveStorage> archive;
  std::shared_ptr<const crypto::TrustStore> trust;  // null: no DATA/trust
  services::SystemClock clock;
  services::Principal who;
  std::unique_ptr<services::LogService> log;
  // Imported records are indexed and queued like check-ins; custosd's
  // pipeline (or custosctl reindex) extracts their text.
  std::unique_ptr<storage::IndexKey> index_key;
  std::unique_ptr<services::RecordService> records;
};

// Opens the data directory for an import. Every failure means the import
// could not run.
StatusOr<std::unique_ptr<ImportContext>> OpenContext(const ImportOptions& options) {
  auto ctx = std::make_unique<ImportContext>();
  storage::DataDir dir(options.data_dir);
  CUSTOS_RETURN_IF_ERROR(dir.CheckWritable());
  CUSTOS_ASSIGN_OR_RETURN(
      ctx->lock, storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive));
  CUSTOS_ASSIGN_OR_RETURN(ctx->config, LoadDataDirConfig(dir));
  auto archive = storage::ArchiveStorage::Open(dir, ctx->config);
  if (!archive.ok()) return archive.status().WithContext("cannot open the archive");
  ctx->archive = std::move(archive).value();
  CUSTOS_ASSIGN_OR_RETURN(ctx->trust, LoadTrust(dir));
  CUSTOS_ASSIGN_OR_RETURN(ctx->who, ImportingArchivist(ctx->archive->store(), options.as_user));
  storage::ArchiveStorage& a = *ctx->archive;
  ctx->log = std::make_unique<services::LogService>(a.store(), a.keyring().VerifierKeys());
  services::RecordOptions record_options;
  record_options.max_file_bytes = options.limits.max_file_bytes;
  record_options.reject_invalid_contract_signatures =
      ctx->config.reject_invalid_contract_signatures;
  CUSTOS_ASSIGN_OR_RETURN(ctx->index_key, storage::IndexKey::LoadOrCreate(dir));
  record_options.index_key = ctx->index_key.get();
  ctx->records = std::make_unique<services::RecordService>(
      a.store(), a.content(), a.blobs(), *ctx->log, ctx->clock, ctx->trust, record_options);
  return ctx;
}

// Records a failure of the batch checks as a refusal or, when the machine
// rather than the batch is at fault, as could-not-run.
void Stopped(ImportReport& report, const Status& s) {
  if (IsRefusal(s) && s.code() != ErrorCode::kNotFound) {
    Refused(report, {s.message()});
  } else {
    CouldNotRun(report, s);
  }
}

}  // namespace

ImportReport ImportBatch(const ImportOptions& options) {
  ImportReport report;
  StatusOr<std::unique_ptr<ImportContext>> ctx = OpenContext(options);
  if (!ctx.ok()) {
    CouldNotRun(report, ctx.status());
    return report;
  }
  services::RecordService& records = *(*ctx)->records;
  const services::Principal& who = (*ctx)->who;
  auto reader = BatchReader::Open(options.batch, options.limits, options.name_encoding);
  if (!reader.ok()) {
    Stopped(report, reader.status());
    return report;
  }
  // Step 1.
  StatusOr<Scan> scan = ScanBatch(**reader);
  if (!scan.ok()) {
    Stopped(report, scan.status());
    return report;
  }
  std::vector<std::string> problems;
  Plan plan = CheckManifest(*scan, options.name_encoding, records, who, &problems);
  report.files = plan.files;
  report.bytes = plan.bytes;
  // Steps 2 and 3.
  Status s = problems.empty() ? LoadSignatures(**reader, *scan, plan) : Status::Ok();
  if (s.ok() && problems.empty() && (*ctx)->config.reject_invalid_contract_signatures) {
    const crypto::TrustStore empty = crypto::TrustStore::FromPem("").value();
    const crypto::TrustStore& trust = (*ctx)->trust ? *(*ctx)->trust : empty;
    s = VerifyContractSignatures(**reader, *scan, plan, trust, (*ctx)->clock, &problems);
  }
  if (!s.ok()) {
    CouldNotRun(report, s);
  } else if (!problems.empty()) {
    Refused(report, std::move(problems));
  } else if (options.dry_run) {
    for (const PlannedRecord& r : plan.records) report.records.push_back(Described(r, *scan));
    report.outcome = ImportOutcome::kChecked;
  } else {
    Import(**reader, *scan, plan, records, who, report);  // step 4
  }
  return report;
}

// ---------------------------------------------------------- command line

StatusOr<uint64_t> ParseByteCount(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument(
        "'" + std::string(text) + "' is not a byte count (digits with an optional K, M, G or T)",
        "invalid_byte_count");
  };
  if (text.empty()) return bad();
  uint64_t unit = 1;
  switch (text.back()) {
    case 'K':
      unit = 1ULL << 10;
      break;
    case 'M':
      unit = 1ULL << 20;
      break;
    case 'G':
      unit = 1ULL << 30;
      break;
    case 'T':
      unit = 1ULL << 40;
      break;
    default:
      break;
  }
  if (unit != 1) text.remove_suffix(1);
  if (text.empty() || text.size() > 19) return bad();
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0 || n > UINT64_MAX / unit) return bad();
  return n * unit;
}

namespace {

const char kImportUsage[] =
    "usage: custosctl import --data DIR [--as USER] [--max-file-bytes N] [--max-total-bytes N]\n"
    "       [--name-encoding utf-8|gbk] [--dry-run] [--json] BATCH";

std::string OutcomeName(ImportOutcome o) {
  switch (o) {
    case ImportOutcome::kImported:
      return "imported";
    case ImportOutcome::kChecked:
      return "checked";
    case ImportOutcome::kRefused:
      return "refused";
    case ImportOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

std::string ReportJson(const ImportOptions& options, const ImportReport& report) {
  Poco::JSON::Object::Ptr root = new Poco::JSON::Object;
  root->set("outcome", OutcomeName(report.outcome));
  root->set("batch", options.batch);
  root->set("actor", options.as_user.empty() ? std::string(kOperatorImporter) : options.as_user);
  Poco::JSON::Array::Ptr records = new Poco::JSON::Array;
  for (const ImportedRecord& r : report.records) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("key", r.key);
    if (!r.id.empty()) {
      o->set("id", r.id);
      o->set("logIndex", static_cast<Poco::UInt64>(r.log_index));
    }
    o->set("type", r.type);
    o->set("title", r.title);
    Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
    for (const ImportedFile& f : r.files) {
      Poco::JSON::Object::Ptr fo = new Poco::JSON::Object;
      fo->set("entry", f.entry);
      fo->set("name", f.name);
      fo->set("size", static_cast<Poco::UInt64>(f.size));
      fo->set("sha256", f.sha256);
      fo->set("signature", f.signature);
      files->add(fo);
    }
    o->set("files", files);
    records->add(o);
  }
  root->set("records", records);
  Poco::JSON::Array::Ptr problems = new Poco::JSON::Array;
  for (const std::string& p : report.problems) problems->add(p);
  root->set("problems", problems);
  Poco::JSON::Object::Ptr summary = new Poco::JSON::Object;
  summary->set("records", static_cast<Poco::UInt64>(report.records.size()));
  summary->set("files", static_cast<Poco::UInt64>(report.files));
  summary->set("bytes", static_cast<Poco::UInt64>(report.bytes));
  root->set("summary", summary);
  std::ostringstream out;
  root->stringify(out);
  return out.str();
}

std::string Count(uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// A title as one line of text (titles may hold line breaks and tabs).
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  return text;
}

void PrintRecords(const ImportReport& report, const char* verb, std::ostream& out) {
  for (const ImportedRecord& r : report.records) {
    out << verb << " " << (r.id.empty() ? r.type : r.id) << " " << OneLine(r.title) << " ("
        << Count(r.files.size(), "file") << ")\n";
  }
}

void PrintReport(const ImportOptions& options, const ImportReport& report, std::ostream& out,
                 std::ostream& err) {
  const std::string batch = PrintableName(options.batch);
  switch (report.outcome) {
    case ImportOutcome::kImported:
      PrintRecords(report, "imported", out);
      out << "imported " << Count(report.records.size(), "record") << " ("
          << Count(report.files, "file") << ", " << Count(report.bytes, "byte") << ") from "
          << batch << " as " << (options.as_user.empty() ? std::string(kOperatorImporter) : options.as_user) << "\n";
      return;
    case ImportOutcome::kChecked:
      PrintRecords(report, "would import", out);
      out << batch << " can be imported: " << Count(report.records.size(), "record") << " ("
          << Count(report.files, "file") << ", " << Count(report.bytes, "byte")
          << "); nothing was imported (--dry-run)\n";
      return;
    case ImportOutcome::kRefused: {
      size_t shown = std::min(report.problems.size(), kMaxProblems);
      for (size_t i = 0; i < shown; ++i) {
        err << "custosctl: import: refused: " << report.problems[i] << "\n";
      }
      if (report.problems.size() > shown) {
        err << "custosctl: import: … and " << report.problems.size() - shown << " more problems\n";
      }
      err << "custosctl: import: " << batch << " refused; nothing was imported\n";
      return;
    }
    case ImportOutcome::kFailed:
      PrintRecords(report, "imported", out);
      for (const std::string& p : report.problems) err << "custosctl: import: " << p << "\n";
      return;
  }
}

}  // namespace

int RunImport(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto usage = [&](const std::string& message) {
    err << "custosctl: import: " << message << "\n" << kImportUsage << "\n";
    return 2;
  };
  ImportOptions options;
  bool json = false;
  std::map<std::string, std::string> values;
  std::vector<std::string> positionals;
  const std::set<std::string> valued = {"--data", "--as", "--max-file-bytes", "--max-total-bytes",
                                        "--name-encoding"};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--dry-run") {
      options.dry_run = true;
    } else if (valued.count(a)) {
      if (i + 1 >= args.size()) return usage(a + " needs a value");
      if (values.count(a)) return usage(a + " given twice");
      values[a] = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      return usage("unknown argument '" + a + "'");
    } else {
      positionals.push_back(a);
    }
  }
  if (!values.count("--data")) return usage("--data DIR is required");
  if (positionals.size() != 1) return usage("exactly one BATCH file is required");
  options.data_dir = values["--data"];
  options.as_user = values.count("--as") ? values["--as"] : "";
  options.batch = positionals.front();
  if (values.count("--name-encoding")) {
    StatusOr<NameEncoding> encoding = ParseNameEncoding(values["--name-encoding"]);
    if (!encoding.ok()) return usage(encoding.status().message());
    options.name_encoding = *encoding;
  }
  for (const auto& [flag, field] :
       {std::pair{"--max-file-bytes", &options.limits.max_file_bytes},
        std::pair{"--max-total-bytes", &options.limits.max_total_bytes}}) {
    if (!values.count(flag)) continue;
    StatusOr<uint64_t> n = ParseByteCount(values[flag]);
    if (!n.ok()) return usage(std::string(flag) + ": " + n.status().message());
    *field = *n;
  }

  ImportReport report = ImportBatch(options);
  if (json) {
    out << ReportJson(options, report) << "\n";
    if (report.outcome == ImportOutcome::kFailed) {
      for (const std::string& p : report.problems) err << "custosctl: import: " << p << "\n";
    }
  } else {
    PrintReport(options, report, out, err);
  }
  switch (report.outcome) {
    case ImportOutcome::kImported:
    case ImportOutcome::kChecked:
      return 0;
    case ImportOutcome::kRefused:
      return 1;
    case ImportOutcome::kFailed:
      return 2;
  }
  return 2;
}

int RunImport(const std::vector<std::string>& args) {
  return RunImport(args, std::cout, std::cerr);
}

}  // namespace custos::admin
