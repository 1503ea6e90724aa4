// An opened archive: everything under one data directory assembled into the
// stores the services use. Built by custosd and custosctl (the composition
// roots) and passed down by reference.
//
//   ArchiveStorage::Create(dir, config)   new installation: keys, database
//   ArchiveStorage::Open(dir, config)     existing installation
//
// Thread safety: the members are themselves thread-safe; the object is
// immutable after Open().
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "storage/blob_store.h"
#include "storage/content_store.h"
#include "storage/custody.h"
#include "storage/data_dir.h"
#include "storage/keyring.h"
#include "storage/metadata_store.h"
#include "storage/verifier.h"

namespace custos::storage {

// The metadata store `config` names (storage.backend): SQLite in the data
// directory, or PostgreSQL at storage.dsn. `sealer` and
// `seal_existing_rows` as SqliteOptions'.
StatusOr<std::unique_ptr<MetadataStore>> OpenMetadataStore(const DataDir& dir, const Config& config,
                                                          CheckpointSigner* signer,
                                                          const RowSealer* sealer = nullptr,
                                                          bool seal_existing_rows = false);

class ArchiveStorage {
 public:
  // Creates keys (keyring) and the database schema in an initialised data
  // directory (data_dir.h's CreateFresh must have run).
  static Status Create(const DataDir& dir, const Config& config);

  // Opens keys, database and blob folder. On SQLite the store signs only
  // if the data directory holds signing custody (storage/custody.h; a
  // directory without a marker is claimed here); otherwise every write
  // that appends to the log fails with kUnavailable "signing_not_promoted"
  // and the archive serves reads only. With `sweep_orphans`, removes
  // blobs no committed row references (only safe before serving) and
  // reports how many through `swept`; it removes nothing when the set
  // seals of files or exports show rows deleted outside the server
  // (storage/row_set.h), which CheckAtStart then reports.
  static StatusOr<std::unique_ptr<ArchiveStorage>> Open(const DataDir& dir, const Config& config,
                                                        bool sweep_orphans = false,
                                                        uint64_t* swept = nullptr);

  MetadataStore& store() { return *store_; }
  BlobStore& blobs() { return *blobs_; }
  ContentStore& content() { return *content_; }
  const Keyring& keyring() const { return *keyring_; }
  const std::string& origin() const { return origin_; }
  // Whether this archive signs (always held on PostgreSQL). Changed only by
  // Promote().
  const Custody& custody() const { return custody_; }

  // Takes signing custody where it is not held: appends `event` (its
  // checkpoint is the first this directory signs), then binds the custody
  // marker to the directory. Call it with the data directory's lock held
  // exclusively and nothing else writing. kConflict "already_promoted" if
  // custody is held; the append's and the marker's failures.
  Status Promote(const LogEvent& event);

  // verify(): everything, including every blob (only those of versions
  // logged at or after `content_from` when it is not 0:
  // VerifyOptions::content_from); `stop` as VerifyOptions::stop.
  StatusOr<VerifyReport> Verify(const std::function<void(const VerifyProgress&)>& progress = {},
                                uint64_t content_from = 0, std::function<bool()> stop = {});

  // The start-up check of custosd (docs/operations.md "Start-up check"):
  // the seal of every row of the small authority tables
  // (StartupSealTables()) and the log's tail (CheckLogTail). Empty when
  // they agree; errors only when the database cannot be read.
  StatusOr<std::vector<Finding>> CheckAtStart();

 private:
  ArchiveStorage() = default;
  std::string root_;  // the data directory
  std::string origin_;
  std::unique_ptr<Keyring> keyring_;
  std::unique_ptr<NoteCheckpointSigner> signer_;
  std::unique_ptr<CustodySigner> custody_signer_;  // over signer_
  Custody custody_;
  std::unique_ptr<MetadataStore> store_;
  std::unique_ptr<FileBlobStore> blobs_;
  std::unique_ptr<ContentStore> content_;
};

}  // namespace custos::storage
