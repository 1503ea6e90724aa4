// A row of an authority table as named column values: the one form that
// both the row seals (a MAC per row under a key kept with the KEK, not in
// the database) and the state replay (every authority row is the replay of
// the audit log's events) read. DESIGN §5, §7; docs/formats/audit-log.md
// "State images" and docs/security.md "Row seals".
//
// Authority tables: departments, users, sessions, records, versions, files,
// documents (loans, holds and their members, retention schedules,
// overrides and changes, destruction batches, export and verify jobs) and
// exports. Left out, and why: archive_sequences (counters; a wrong counter
// can only make an insert fail, never grant anything), log_leaves,
// log_nodes and log_checkpoints (the log itself: hash chain, tree and
// signatures), export_records (the list of an export, bound by the
// export's image), records_fts (a search index rebuilt from records),
// schema_migrations.
//
// Two uses of one row:
//   kSeal  every column, as stored: the password hash, wrapped data keys,
//          sessions.last_seen_at, counters. The MAC covers all of it.
//   kLog   what an audit event may carry forever: no secret and no value
//          that a destruction must sever. Secret columns become commitments
//          (users.password_hash → "sha256:<hex of the PHC string>", whose
//          own random salt makes it unguessable), wrapped keys become their
//          presence ("1" / "0"), the personal columns of a record
//          (description, location, metadata_json) become salted
//          commitments (Commitment below), and columns that change without
//          consequence and without an event are left out
//          (sessions.last_seen_at; files.kek_id and exports.kek_id, which
//          key rotation rewrites).
//
// Values are text: integers in decimal, booleans "1"/"0", times as
// domain::FormatTime, absent optionals "". Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/model.h"
#include "storage/metadata_store.h"

namespace custos::storage {

enum class ImageUse { kSeal, kLog };

struct RowImage {
  std::string table;  // SQL table name: "users", "documents", …
  // The primary key; composite keys joined with '/':
  // documents "loan/LN-2026-000001", versions "CT-2026-000001/2".
  std::string key;
  // Column name → value, in the table's column order, key columns
  // included (kLog: only the columns it keeps).
  std::vector<std::pair<std::string, std::string>> columns;
  bool deleted = false;  // kLog: the row was deleted (columns empty)

  // The value of `column`, or nullptr.
  [[nodiscard]] const std::string* Find(std::string_view column) const;
};

RowImage ImageOf(const domain::Department& d, ImageUse use);
RowImage ImageOf(const domain::User& u, ImageUse use);
RowImage ImageOf(const domain::Session& s, ImageUse use);
// Uses r.salt for the commitments (kLog); r.salt itself is a kSeal column
// only.
RowImage ImageOf(const domain::Record& r, ImageUse use);
// The versions row only (its files are rows of their own).
RowImage ImageOf(const domain::Version& v, ImageUse use);
RowImage ImageOf(const domain::StoredFile& f, ImageUse use);
RowImage ImageOf(const Document& d, ImageUse use);
// With the export's record list (export_records) as one column.
RowImage ImageOf(const StoredExport& e, ImageUse use);

// The image of a deleted row (kLog).
RowImage DeletedImage(std::string table, std::string key);

// The kLog images of the rows one write function changed, in the order
// written: the input of the state replay. Every write path of the
// repositories (storage/sql_repositories.cc) adds the row's kLog image
// after an insert or an update that can change it, and a DeletedImage
// after a delete; the log (SqlLog) attaches them to the function's events
// (docs/formats/audit-log.md "State images"). A write that changes only
// kSeal columns (sessions.last_seen_at, files.kek_id) adds nothing.
// Thread safety: one per transaction, used by its thread only.
//
// Beside the images it keeps the keys inserted into and deleted from each
// table, for the set seals (storage/row_set.h): AddInserted after an
// insert, and any deleted image (DeletedImage) counts as a deletion.
class RowChanges {
 public:
  // A key that joined (inserted) or left its table.
  struct Member {
    std::string table;
    std::string key;
    bool inserted = true;
  };

  void Add(RowImage image) {
    if (image.deleted) members_.push_back({image.table, image.key, false});
    images_.push_back(std::move(image));
  }
  // Add() of the image of a row just inserted.
  void AddInserted(RowImage image) {
    members_.push_back({image.table, image.key, true});
    Add(std::move(image));
  }
  [[nodiscard]] bool empty() const { return images_.empty(); }
  // The images added since the last Take(), and forgets them.
  std::vector<RowImage> Take() { return std::exchange(images_, {}); }
  // The keys inserted and deleted since the last TakeMembers(), in order,
  // and forgets them (Take() leaves them).
  std::vector<Member> TakeMembers() { return std::exchange(members_, {}); }
  // Forgets everything added (the write function failed and rolled back).
  void Clear() {
    images_.clear();
    members_.clear();
  }

 private:
  std::vector<RowImage> images_;
  std::vector<Member> members_;
};

// The bytes a row seal is computed over: table, key and every (name, value)
// pair, each as a 4-byte big-endian length and the bytes, in order.
std::string SealInput(const RowImage& image);

// The commitment that stands for a personal value in the log:
// "c1:" + lower-hex SHA-256 of (salt bytes ‖ column ‖ 0x00 ‖ value), with
// the salt as the 32 bytes its hex names. "" for an empty value (an
// emptied column is visibly empty) or an empty salt. Once a destruction
// empties the salt, nobody can test a guess against an old commitment.
std::string Commitment(std::string_view salt_hex, std::string_view column, std::string_view value);

// A new random record salt (hex of 32 bytes).
StatusOr<std::string> NewRecordSalt();

}  // namespace custos::storage
