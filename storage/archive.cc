#include "storage/archive.h"

#include <filesystem>
#include <system_error>

#include "storage/postgres_store.h"
#include "storage/seal_check.h"
#include "storage/sqlite_store.h"

namespace custos::storage {

namespace {

StatusOr<crypto::Suite> SuiteOf(const Config& config) { return crypto::ParseSuite(config.suite); }

// On PostgreSQL other nodes may be writing blobs into the shared folder
// while this one starts: only files untouched this long are swept. An
// upload stalls at most the request timeouts (minutes), and a blob waits
// for its database commit for seconds.
constexpr std::chrono::seconds kSharedSweepMinAge{6 * 3600};

// The custody of an SQLite data directory; a directory without a marker
// (made before custody existed, or by ArchiveStorage::Create) is claimed.
StatusOr<Custody> CustodyOf(const DataDir& dir, const Config& config) {
  if (config.storage_backend != "sqlite") return Custody{false, true, ""};
  CUSTOS_ASSIGN_OR_RETURN(Custody custody, ReadCustody(dir));
  if (custody.present) return custody;
  CUSTOS_RETURN_IF_ERROR(BindCustody(dir, "claimed by the first open of a directory without a marker"));
  return ReadCustody(dir);
}

}  // namespace

StatusOr<std::unique_ptr<MetadataStore>> OpenMetadataStore(const DataDir& dir, const Config& config,
                                                          CheckpointSigner* signer, const RowSealer* sealer,
                                                          bool seal_existing_rows) {
  if (config.storage_backend == "sqlite") {
    SqliteOptions options;
    options.path = dir.Database();
    options.sealer = sealer;
    options.seal_existing_rows = seal_existing_rows;
    CUSTOS_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(options, signer));
    return std::unique_ptr<MetadataStore>(std::move(store));
  }
  if (config.storage_backend == "postgresql") {
    PostgresOptions options;
    options.dsn = config.storage_dsn;
    options.sealer = sealer;
    options.seal_existing_rows = seal_existing_rows;
    CUSTOS_ASSIGN_OR_RETURN(auto store, PostgresStore::Open(options, signer));
    return std::unique_ptr<MetadataStore>(std::move(store));
  }
  return InvalidArgument("storage.backend '" + config.storage_backend + "' is unknown",
                         "backend_unsupported");
}

Status ArchiveStorage::Create(const DataDir& dir, const Config& config) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Suite suite, SuiteOf(config));
  {
    // A database shared by several nodes may already hold an archive (made
    // by an init elsewhere): a second one would mix two logs under two keys.
    CUSTOS_ASSIGN_OR_RETURN(auto store, OpenMetadataStore(dir, config, /*signer=*/nullptr));
    bool empty = true;
    CUSTOS_RETURN_IF_ERROR(store->Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
      CUSTOS_ASSIGN_OR_RETURN(auto users, tx.users().List());
      empty = size == 0 && users.empty();
      return Status::Ok();
    }));
    if (!empty) {
      return Conflict("the database already holds an archive; give an empty database, or point "
                      "this node's data directory at the existing archive (copy its custos.conf "
                      "and keys/)",
                      "database_not_empty");
    }
  }
  CUSTOS_RETURN_IF_ERROR(Keyring::Create(dir, config.origin, suite));
  if (config.storage_backend == "sqlite") {
    CUSTOS_RETURN_IF_ERROR(BindCustody(dir, "created with the archive"));
  }
  CUSTOS_ASSIGN_OR_RETURN(auto archive, Open(dir, config));
  return Status::Ok();
}

StatusOr<std::unique_ptr<ArchiveStorage>> ArchiveStorage::Open(const DataDir& dir,
                                                               const Config& config,
                                                               bool sweep_orphans,
                                                               uint64_t* swept) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Suite suite, SuiteOf(config));
  std::unique_ptr<ArchiveStorage> a(new ArchiveStorage());
  a->root_ = dir.root();
  a->origin_ = config.origin;
  // An archive made before row seals gets its seal key now, and every row
  // is sealed under it before the key takes its final name (trust on
  // upgrade, docs/security.md "Row seals").
  const bool new_seal_key = !Keyring::HasRowSealKey(dir);
  if (new_seal_key) CUSTOS_RETURN_IF_ERROR(Keyring::PrepareRowSealKey(dir));
  CUSTOS_ASSIGN_OR_RETURN(a->keyring_, Keyring::Load(dir, config.origin, suite));
  a->signer_ = std::make_unique<NoteCheckpointSigner>(config.origin, a->keyring_->log_signers());
  CUSTOS_ASSIGN_OR_RETURN(a->custody_, CustodyOf(dir, config));
  a->custody_signer_ =
      std::make_unique<CustodySigner>(*a->signer_, a->custody_.held, a->custody_.why_not);
  auto store = OpenMetadataStore(dir, config, a->custody_signer_.get(), a->keyring_->row_sealer(),
                                 a->keyring_->row_seal_key_pending());
  if (!store.ok()) {
    // A key made for this open seals nothing (row_seal_key_missing, …).
    if (new_seal_key) (void)Keyring::DiscardPendingRowSealKey(dir);
    return store.status();
  }
  a->store_ = std::move(store).value();
  if (a->keyring_->row_seal_key_pending()) CUSTOS_RETURN_IF_ERROR(Keyring::CommitRowSealKey(dir));
  CUSTOS_ASSIGN_OR_RETURN(a->blobs_, FileBlobStore::OpenDirectory(dir.BlobsDir()));
  a->content_ = std::make_unique<ContentStore>(*a->blobs_, a->keyring_->keys(), suite);
  // Rows deleted outside the server leave their ciphertext behind: it is
  // no orphan, and the start-up check refuses such an archive.
  bool rows_deleted = false;
  if (sweep_orphans && a->keyring_->row_sealer() != nullptr) {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<Finding> sets, CheckRowSetFindings(*a->store_, {"files", "exports"}));
    rows_deleted = !sets.empty();
  }
  if (sweep_orphans && !rows_deleted) {
    MetadataStore& store = *a->store_;
    auto is_referenced = [&store](const domain::BlobId& id) {
      bool referenced = true;  // when in doubt, keep
      (void)store.Read([&](Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(referenced, tx.versions().BlobReferenced(id));
        if (referenced) return Status::Ok();
        CUSTOS_ASSIGN_OR_RETURN(referenced, tx.exports().BlobReferenced(id));  // a stored package
        return Status::Ok();
      });
      return referenced;
    };
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n,
                            config.storage_backend == "sqlite"
                                ? a->blobs_->SweepOrphans(is_referenced)
                                : a->blobs_->SweepOrphansOlderThan(is_referenced, kSharedSweepMinAge));
    if (swept != nullptr) *swept = n;
  }
  return a;
}

Status ArchiveStorage::Promote(const LogEvent& event) {
  if (custody_.held) {
    return Conflict("this data directory already holds the log's signing custody",
                    "already_promoted");
  }
  custody_signer_->Allow();
  CUSTOS_RETURN_IF_ERROR(
      store_->Write([&](Transaction& tx) { return tx.log().Append(event).status(); }));
  const DataDir dir(root_);
  CUSTOS_RETURN_IF_ERROR(BindCustody(dir, "promoted at " + domain::FormatTime(event.at)));
  CUSTOS_ASSIGN_OR_RETURN(custody_, ReadCustody(dir));
  return Status::Ok();
}

StatusOr<std::vector<Finding>> ArchiveStorage::CheckAtStart() {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Finding> findings, CheckRowSeals(*store_, StartupSealTables()));
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Finding> sets, CheckRowSetFindings(*store_));
  findings.insert(findings.end(), sets.begin(), sets.end());
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Finding> tail,
                          CheckLogTail(*store_, origin_, keyring_->log_verifiers()));
  findings.insert(findings.end(), tail.begin(), tail.end());
  return findings;
}

StatusOr<VerifyReport> ArchiveStorage::Verify(
    const std::function<void(const VerifyProgress&)>& progress, uint64_t content_from,
    std::function<bool()> stop) {
  VerifyOptions o;
  o.origin = origin_;
  o.verifiers = keyring_->log_verifiers();
  o.content = content_.get();
  o.blobs = blobs_.get();
  o.progress = progress;
  o.content_from = content_from;
  o.stop = std::move(stop);
  o.row_seals = true;
  CUSTOS_ASSIGN_OR_RETURN(VerifyReport report, VerifyArchive(*store_, o));
  // Older versions kept API exports in clear in DATA/exports; custosd
  // removes that folder at start. Whatever is still there is plaintext.
  std::error_code ec;
  const std::string legacy_exports = root_ + "/exports";
  for (auto it = std::filesystem::recursive_directory_iterator(legacy_exports, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      report.findings.push_back({it->path().string(), "an audit package of an older version lies here in clear",
                                 "export_plaintext_leftover"});
    }
  }
  // The published verifier key must be the signing key's: auditors check
  // checkpoints with this file.
  const std::string vkey_path = DataDir(root_).KeysDir() + "/log.vkey";
  auto vkey = ReadSmallFile(vkey_path);
  if (!vkey.ok()) {
    report.findings.push_back({vkey_path, vkey.status().message(), "vkey_unreadable"});
  } else if (*vkey != keyring_->VerifierKeys() && *vkey != keyring_->VerifierKeys() + "\n") {
    report.findings.push_back({vkey_path, "does not match the log's signing key", "vkey_mismatch"});
  }
  return report;
}

}  // namespace custos::storage
