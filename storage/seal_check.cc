#include "storage/seal_check.h"

#include "storage/row_image.h"

namespace custos::storage {

const std::vector<std::string>& StartupSealTables() {
  static const std::vector<std::string> tables = {"users", "sessions", "departments", "documents", "exports"};
  return tables;
}

StatusOr<std::vector<Finding>> CheckRowSeals(MetadataStore& store, const std::vector<std::string>& tables,
                                             uint64_t* checked) {
  std::vector<Finding> findings;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.CheckRowSeals(tables, [&](const RowImage& row) {
                              findings.push_back({"row " + row.table + " " + row.key,
                                                  "the row's seal does not verify: it was changed, forged or "
                                                  "copied outside the server",
                                                  "row_seal_invalid"});
                            }));
    if (checked != nullptr) *checked += n;
    return Status::Ok();
  }));
  return findings;
}

StatusOr<std::vector<Finding>> CheckRowSetFindings(MetadataStore& store, const std::vector<std::string>& tables) {
  std::vector<Finding> findings;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    return tx.CheckRowSets(tables, [&](const std::string& table, const std::string& what) {
      findings.push_back({"table " + table, what, "row_set_mismatch"});
    });
  }));
  return findings;
}

StatusOr<std::vector<Finding>> CheckLogTail(MetadataStore& store, const std::string& origin,
                                            const std::vector<const crypto::note::Verifier*>& verifiers) {
  std::vector<Finding> findings;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    auto latest = tx.log().LatestCheckpoint();
    if (!latest.ok()) {
      if (latest.status().reason() != "no_checkpoint") return latest.status();
      if (size != 0) {
        findings.push_back({"log", "the log holds " + std::to_string(size) + " entries but no checkpoint",
                            "log_tail_size"});
      }
      return Status::Ok();
    }
    const std::string name = "checkpoint at size " + std::to_string(latest->size);
    auto opened = crypto::OpenCheckpoint(latest->note, verifiers);
    if (!opened.ok()) {
      findings.push_back({name, "signature does not verify: " + opened.status().message(), "checkpoint_signature"});
      return Status::Ok();
    }
    const crypto::Checkpoint& signed_body = opened->checkpoint;
    if (signed_body.origin != origin) {
      findings.push_back({name, "origin is '" + signed_body.origin + "', expected '" + origin + "'",
                          "checkpoint_origin"});
    }
    if (signed_body.size != size) {
      findings.push_back({name,
                          "the newest signed size is " + std::to_string(signed_body.size) + ", the log holds " +
                              std::to_string(size) + " entries",
                          "log_tail_size"});
      return Status::Ok();
    }
    CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 root, tx.log().RootAt(size));
    if (root != signed_body.root) {
      findings.push_back({name, "the signed root differs from the root of the stored tree", "log_tail_root"});
    }
    return Status::Ok();
  }));
  return findings;
}

}  // namespace custos::storage
