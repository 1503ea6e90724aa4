// Whole-table checks of the row seals (storage/row_seal.h) and of the
// log's tail, for `custosctl verify`, POST /v1/audit/verify and the
// start-up check of custosd (docs/operations.md "Start-up check").
//
// Reads go through MetadataStore::Read of a store opened with its sealer;
// rows are read as stored (Transaction::CheckRowSeals), so each bad row is
// a finding and the scan goes on. Thread safety: pure functions over the
// store.
#pragma once

#include <string>
#include <vector>

#include "crypto/signed_note.h"
#include "storage/metadata_store.h"
#include "storage/verifier.h"

namespace custos::storage {

// The tables the start-up check reads in full: the small ones that carry
// authority (users, sessions, departments, documents, exports). Records,
// versions and files are checked on each read and by verify.
const std::vector<std::string>& StartupSealTables();

// One finding per row of `tables` (every authority table when empty) whose
// seal fails: code "row_seal_invalid", object "row <table> <key>". Adds the
// number of rows checked to `*checked` when it is not null. Fails only
// when the rows cannot be read (or the store has no sealer:
// "no_row_sealer").
StatusOr<std::vector<Finding>> CheckRowSeals(MetadataStore& store, const std::vector<std::string>& tables,
                                             uint64_t* checked = nullptr);

// One finding per authority table whose set seal (storage/row_set.h)
// disagrees with the keys it holds: a row deleted or inserted outside the
// server, or a summary changed or deleted. Code "row_set_mismatch", object
// "table <table>". Reads the keys of `tables` (every authority table when
// empty) with a key-only scan.
StatusOr<std::vector<Finding>> CheckRowSetFindings(MetadataStore& store, const std::vector<std::string>& tables = {});

// The log's tail: the newest checkpoint's signature verifies with
// `verifiers` and names `origin`, its size is the log's size and its root
// equals the root of the stored tree at that size. A finding for each
// disagreement (codes checkpoint_signature, checkpoint_origin,
// log_tail_size, log_tail_root); none for an empty log without checkpoint.
StatusOr<std::vector<Finding>> CheckLogTail(MetadataStore& store, const std::string& origin,
                                            const std::vector<const crypto::note::Verifier*>& verifiers);

}  // namespace custos::storage
