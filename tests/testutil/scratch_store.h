// ScratchStore: a real SqliteStore in a temporary directory of its own, for
// service and route tests (custos_test_fakes, tests/CMakeLists.txt). It is
// opened non-durable (SqliteOptions::durable = false: no fsync), which a test
// does not need and which keeps a store per test cheap; everything else —
// schema, SQL, group commit, row seals (under a random key of its own),
// failures — is the product's.
//
// Thread safety: as SqliteStore's (any thread).
#pragma once

#include <memory>
#include <string>

#include "storage/metadata_store.h"
#include "storage/sqlite_store.h"

namespace custos::storage::testing {

class ScratchStore final : public MetadataStore {
 public:
  // Creates the directory under $TMPDIR (or /tmp) and opens the store;
  // throws std::runtime_error if either fails. `signer` as for
  // SqliteStore::Open: it must outlive the store.
  explicit ScratchStore(CheckpointSigner* signer);
  // Closes the store and removes the directory.
  ~ScratchStore() override;
  ScratchStore(const ScratchStore&) = delete;
  ScratchStore& operator=(const ScratchStore&) = delete;

  Status Write(const TxFn& fn) override { return store_->Write(fn); }
  Status Read(const TxFn& fn) override { return store_->Read(fn); }
  Status Scrub() override { return store_->Scrub(); }

  // The database file.
  std::string path() const { return directory_ + "/custos.db"; }
  // The sealer of its rows.
  const RowSealer& sealer() const { return *sealer_; }

 private:
  std::string directory_;
  std::unique_ptr<RowSealer> sealer_;  // declared before the store, which uses it
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace custos::storage::testing
