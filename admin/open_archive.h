// Opening an existing data directory the way every custosctl command that
// works on an archive does: read DIR/custos.conf, then
// storage::ArchiveStorage::Open.
//
// Thread safety: stateless functions; the returned archive is as thread-safe
// as storage/archive.h says.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "storage/archive.h"
#include "storage/data_dir.h"

namespace custos::admin {

// Reads and parses dir's custos.conf. Fails with the read error (which names
// the path) or the parse error prefixed by the path.
StatusOr<Config> LoadDataDirConfig(const storage::DataDir& dir);

// LoadDataDirConfig, then ArchiveStorage::Open (no orphan sweep). An open
// failure keeps its code and reason; its message starts with
// "cannot open the archive: ". The caller owns the archive.
StatusOr<std::unique_ptr<storage::ArchiveStorage>> OpenArchive(const std::string& data_dir);

}  // namespace custos::admin
