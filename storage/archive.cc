#include "storage/archive.h"

#include "storage/sqlite_store.h"

namespace custos::storage {

namespace {

StatusOr<crypto::Suite> SuiteOf(const Config& config) { return crypto::ParseSuite(config.suite); }

Status RequireSqlite(const Config& config) {
  if (config.storage_backend != "sqlite") {
    return InvalidArgument("storage.backend '" + config.storage_backend +
                               "' is not supported by this build",
                           "backend_unsupported");
  }
  return Status::Ok();
}

}  // namespace

Status ArchiveStorage::Create(const DataDir& dir, const Config& config) {
  CUSTOS_RETURN_IF_ERROR(RequireSqlite(config));
  CUSTOS_ASSIGN_OR_RETURN(crypto::Suite suite, SuiteOf(config));
  CUSTOS_RETURN_IF_ERROR(Keyring::Create(dir, config.origin, suite));
  CUSTOS_ASSIGN_OR_RETURN(auto archive, Open(dir, config));
  return Status::Ok();
}

StatusOr<std::unique_ptr<ArchiveStorage>> ArchiveStorage::Open(const DataDir& dir,
                                                               const Config& config,
                                                               bool sweep_orphans,
                                                               uint64_t* swept) {
  CUSTOS_RETURN_IF_ERROR(RequireSqlite(config));
  CUSTOS_ASSIGN_OR_RETURN(crypto::Suite suite, SuiteOf(config));
  std::unique_ptr<ArchiveStorage> a(new ArchiveStorage());
  a->root_ = dir.root();
  a->origin_ = config.origin;
  CUSTOS_ASSIGN_OR_RETURN(a->keyring_, Keyring::Load(dir, config.origin, suite));
  a->signer_ = std::make_unique<NoteCheckpointSigner>(config.origin, a->keyring_->log_signers());
  CUSTOS_ASSIGN_OR_RETURN(auto store, SqliteStore::Open({dir.Database()}, a->signer_.get()));
  a->store_ = std::move(store);
  CUSTOS_ASSIGN_OR_RETURN(a->blobs_, FileBlobStore::OpenDirectory(dir.BlobsDir()));
  a->content_ = std::make_unique<ContentStore>(*a->blobs_, a->keyring_->keys(), suite);
  if (sweep_orphans) {
    MetadataStore& store = *a->store_;
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, a->blobs_->SweepOrphans([&store](const BlobId& id) {
      bool referenced = true;  // when in doubt, keep
      (void)store.Read([&](Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(referenced, tx.versions().BlobReferenced(id));
        return Status::Ok();
      });
      return referenced;
    }));
    if (swept != nullptr) *swept = n;
  }
  return a;
}

StatusOr<VerifyReport> ArchiveStorage::Verify(
    const std::function<void(const VerifyProgress&)>& progress) {
  VerifyOptions o;
  o.origin = origin_;
  o.verifiers = keyring_->log_verifiers();
  o.content = content_.get();
  o.blobs = blobs_.get();
  o.progress = progress;
  CUSTOS_ASSIGN_OR_RETURN(VerifyReport report, VerifyArchive(*store_, o));
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
