// Set seals: which keys each authority table holds, sealed, so that a row
// deleted (or inserted) outside the server is caught. A row seal
// (storage/row_seal.h) proves a row was written by the server; it cannot
// prove that a row is missing. docs/security.md "Set seals".
//
// Table row_sets (migration 6) holds one row per authority table:
//   table_name  the table ("records", …)
//   row_count   how many rows it holds
//   digest      lower-hex XOR, over its rows, of the member hash
//               SealBytes(RowImage{"row_set_member", key, {"table": table}})
//               (HMAC-SHA256 under the row seal key of the SealInput of
//               that image), 64 zeros for an empty table
//   mac         the seal of RowImage{"row_sets", table, {"table_name",
//               "row_count", "digest"}}
// An insert XORs its key's member hash in and adds one; a delete XORs it
// out and takes one away. So the summary follows every write without
// reading the table, in the write's own transaction (SqlTransaction's
// Flush), and a key-only scan recomputes it. Thread safety: functions over
// the caller's connection.
#pragma once

#include <string>
#include <vector>

#include "storage/row_image.h"
#include "storage/row_seal.h"
#include "storage/sql_util.h"

namespace custos::storage {

// The schema version that creates row_sets.
inline constexpr int kRowSetsMigration = 6;

// The tables that carry a set seal, in check order.
const std::vector<std::string>& RowSetTables();

// Applies the inserted and deleted keys of one write function to the
// summaries of their tables (inside the write's transaction). kDataLoss
// "row_integrity" (reported like a failed row seal) if a table's summary is
// missing or fails its seal: the write is refused.
Status ApplyRowSetChanges(sql::Connection& connection, const RowSealer& sealer,
                          const std::vector<RowChanges::Member>& members);

// Recomputes the summary of every table in RowSetTables() from its keys and
// stores it, replacing what is there, inside the caller's transaction: the
// trust on upgrade of an archive's first open with migration 6 or with a
// new seal key (docs/security.md "Set seals").
Status SealRowSets(sql::Connection& connection, const RowSealer& sealer);
// SealRowSets in a transaction of its own, which `begin` starts
// ("BEGIN IMMEDIATE", "BEGIN"), when `upgraded` (the first open of an
// archive whose rows are sealed already but that predates migration 6) or
// when the log is still empty (a new archive, whose first open with the
// key follows the one that made its schema). Otherwise nothing: a summary
// deleted later stays missing, and the checks name it.
Status SealNewRowSets(sql::Connection& connection, const RowSealer& sealer, const char* begin, bool upgraded);

// One table whose stored summary disagrees with its keys.
struct RowSetDifference {
  std::string table;
  std::string what;  // "3 rows, the summary says 4 (1 deleted)", …
};

// Recomputes the summaries of `tables` (every RowSetTables() entry when
// empty) from their keys (a key-only scan) and compares each with its
// stored row: a missing or extra row, a replaced key, a missing summary or
// one whose seal fails is a difference. Fails only when the rows cannot be
// read.
StatusOr<std::vector<RowSetDifference>> CheckRowSets(sql::Connection& connection, const RowSealer& sealer,
                                                      const std::vector<std::string>& tables);

}  // namespace custos::storage
