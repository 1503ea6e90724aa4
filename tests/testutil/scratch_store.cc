#include "tests/testutil/scratch_store.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "crypto/random.h"

namespace custos::storage::testing {

namespace {

std::string MakeDirectory() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/custos-store-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  return tmpl;
}

}  // namespace

ScratchStore::ScratchStore(CheckpointSigner* signer) : directory_(MakeDirectory()) {
  auto key = crypto::RandomBytes(RowSealer::kKeySize);
  if (!key.ok()) throw std::runtime_error("no random bytes for the row seal key");
  sealer_ = std::make_unique<RowSealer>(*key);
  SqliteOptions options;
  options.path = path();
  options.durable = false;
  options.sealer = sealer_.get();
  auto store = SqliteStore::Open(options, signer);
  if (!store.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(directory_, ec);
    throw std::runtime_error("cannot open the scratch store: " + store.status().ToString());
  }
  store_ = std::move(store).value();
}

ScratchStore::~ScratchStore() {
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(directory_, ec);
}

}  // namespace custos::storage::testing
