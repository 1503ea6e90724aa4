// Seeding an archive without a server, for the admin suites: the archive in
// a data directory opened in this process (as custosctl opens it) with a
// log and a record service over it, and check-ins and new versions of
// given files through them.
//
// Everything fails the current test (ADD_FAILURE) rather than throwing.
// Thread safety: an OpenedArchive belongs to one thread; the free
// functions are stateless.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/open_archive.h"
#include "common/byte_stream.h"
#include "crypto/bytes.h"
#include "domain/model.h"
#include "server/services/clock.h"
#include "server/services/log_service.h"
#include "server/services/principal.h"
#include "server/services/record_service.h"
#include "storage/archive.h"
#include "tests/admin/live_archive.h"

namespace custos::testing::live {

// One file of a check-in or a new version.
struct SeedFile {
  std::string name;
  std::string bytes;
  std::string type = "application/octet-stream";
};

// Adds `files` to a begun check-in or new version and commits it; the
// result, or nullopt after ADD_FAILURE.
inline std::optional<services::CheckInResult> Commit(
    StatusOr<std::unique_ptr<services::CheckIn>> begun, const std::vector<SeedFile>& files) {
  if (!begun.ok()) {
    ADD_FAILURE() << "begin: " << begun.status().ToString();
    return std::nullopt;
  }
  for (const SeedFile& file : files) {
    crypto::Bytes bytes(file.bytes.begin(), file.bytes.end());
    MemorySource source(bytes);
    Status added = (*begun)->AddFile({file.name, file.type}, source);
    if (!added.ok()) {
      ADD_FAILURE() << "add file " << file.name << ": " << added.ToString();
      return std::nullopt;
    }
  }
  auto result = (*begun)->Commit();
  if (!result.ok()) {
    ADD_FAILURE() << "commit: " << result.status().ToString();
    return std::nullopt;
  }
  return *result;
}

// A general record of department sales, classified internal.
inline services::RecordInput GeneralRecord(const std::string& title) {
  services::RecordInput in;
  in.type = "general";
  in.title = title;
  in.department = "sales";
  in.classification = "internal";
  return in;
}

// The archivist InitWithArchivist creates, as a principal.
inline services::Principal Archivist() {
  return {domain::Username{kArchivist}, domain::Role::kArchivist, "sales"};
}

// The archive of a stopped data directory, opened in this process, with a
// log service and a record service over it that read time from `clock`
// (which must outlive it). Closed when destroyed, so the directory can be
// copied afterwards.
class OpenedArchive {
 public:
  // nullptr (after ADD_FAILURE) if the archive does not open.
  static std::unique_ptr<OpenedArchive> Open(const std::string& data, services::Clock& clock) {
    auto archive = admin::OpenArchive(data);
    if (!archive.ok()) {
      ADD_FAILURE() << "open " << data << ": " << archive.status().ToString();
      return nullptr;
    }
    return std::unique_ptr<OpenedArchive>(new OpenedArchive(std::move(*archive), clock));
  }

  storage::ArchiveStorage& storage() { return *storage_; }
  services::LogService& log() { return log_; }
  services::RecordService& records() { return records_; }

 private:
  OpenedArchive(std::unique_ptr<storage::ArchiveStorage> storage, services::Clock& clock)
      : storage_(std::move(storage)),
        log_(storage_->store(), storage_->keyring().VerifierKeys()),
        records_(storage_->store(), storage_->content(), storage_->blobs(), log_, clock,
                 nullptr) {}

  std::unique_ptr<storage::ArchiveStorage> storage_;
  services::LogService log_;
  services::RecordService records_;
};

}  // namespace custos::testing::live
