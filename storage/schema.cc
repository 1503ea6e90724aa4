#include "storage/schema.h"

#include "domain/model.h"
#include "storage/sql_util.h"

namespace custos::storage {

namespace {

// Never edit a released migration: add the next. Written for SQLite;
// SchemaMigrations() adapts them for PostgreSQL.
const std::vector<std::vector<std::string>>& SqliteMigrations() {
  static const std::vector<std::vector<std::string>> m = {
      // 1: people, catalogue, versions, files, audit log.
      {
          "CREATE TABLE departments (name TEXT PRIMARY KEY, created_at TEXT NOT NULL)",
          "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
          "role TEXT NOT NULL, department TEXT NOT NULL, must_change_password BIGINT NOT NULL, "
          "password_changed_at TEXT NOT NULL, failed_logins BIGINT NOT NULL, "
          "locked_until TEXT NOT NULL, disabled BIGINT NOT NULL, created_at TEXT NOT NULL)",
          "CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, "
          "username TEXT NOT NULL REFERENCES users(username), created_at TEXT NOT NULL, "
          "last_seen_at TEXT NOT NULL, expires_at TEXT NOT NULL)",
          "CREATE INDEX sessions_by_user ON sessions(username)",
          "CREATE TABLE archive_sequences (prefix TEXT NOT NULL, year BIGINT NOT NULL, "
          "last BIGINT NOT NULL, PRIMARY KEY (prefix, year))",
          "CREATE TABLE records (id TEXT PRIMARY KEY, type TEXT NOT NULL, title TEXT NOT NULL, "
          "description TEXT NOT NULL, department TEXT NOT NULL, classification TEXT NOT NULL, "
          "custodian TEXT NOT NULL, location TEXT NOT NULL, metadata_json TEXT NOT NULL, "
          "retention_class TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, "
          "created_by TEXT NOT NULL, updated_at TEXT NOT NULL, expires_on TEXT NOT NULL)",
          "CREATE INDEX records_by_created ON records(created_at)",
          "CREATE INDEX records_by_expiry ON records(expires_on)",
          // Full text over the catalogue: trigram tokens match any substring
          // of three or more characters, Chinese included.
          "CREATE VIRTUAL TABLE records_fts USING fts5(id UNINDEXED, title, description, "
          "metadata, tokenize = 'trigram')",
          "CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN "
          "INSERT INTO records_fts(rowid, id, title, description, metadata) "
          "VALUES (new.rowid, new.id, new.title, new.description, new.metadata_json); END",
          "CREATE TRIGGER records_fts_update AFTER UPDATE ON records BEGIN "
          "UPDATE records_fts SET title = new.title, description = new.description, "
          "metadata = new.metadata_json WHERE rowid = old.rowid; END",
          "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN "
          "DELETE FROM records_fts WHERE rowid = old.rowid; END",
          "CREATE INDEX records_by_department ON records(department)",
          "CREATE TABLE versions (record_id TEXT NOT NULL REFERENCES records(id), "
          "number BIGINT NOT NULL, kind TEXT NOT NULL, note TEXT NOT NULL, "
          "created_at TEXT NOT NULL, created_by TEXT NOT NULL, manifest_hash TEXT NOT NULL, "
          "prev_manifest_hash TEXT NOT NULL, log_index BIGINT NOT NULL, "
          "PRIMARY KEY (record_id, number))",
          "CREATE TABLE files (id TEXT PRIMARY KEY, record_id TEXT NOT NULL, "
          "version BIGINT NOT NULL, position BIGINT NOT NULL, name TEXT NOT NULL, "
          "media_type TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, "
          "sm3 TEXT NOT NULL, blob_id TEXT NOT NULL UNIQUE, kek_id TEXT NOT NULL, "
          "wrapped_dek BLOB, sig_status TEXT NOT NULL, sig_signer TEXT NOT NULL, "
          "sig_time TEXT NOT NULL, sig_reason TEXT NOT NULL, "
          "FOREIGN KEY (record_id, version) REFERENCES versions(record_id, number))",
          "CREATE INDEX files_by_version ON files(record_id, version)",
          "CREATE TABLE log_leaves (seq BIGINT PRIMARY KEY, leaf TEXT NOT NULL, "
          "subject TEXT NOT NULL)",
          "CREATE INDEX log_leaves_by_subject ON log_leaves(subject, seq)",
          "CREATE TABLE log_nodes (level BIGINT NOT NULL, idx BIGINT NOT NULL, "
          "hash BLOB NOT NULL, PRIMARY KEY (level, idx))",
          "CREATE TABLE log_checkpoints (size BIGINT PRIMARY KEY, root BLOB NOT NULL, "
          "note TEXT NOT NULL, created_at TEXT NOT NULL)",
      },
      // 2: workflow documents (loans, holds, retention changes, destructions).
      {
          "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, "
          "subject TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL, "
          "due_at TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
          "body TEXT NOT NULL, PRIMARY KEY (kind, id))",
          "CREATE INDEX documents_by_subject ON documents(kind, subject)",
          "CREATE INDEX documents_by_owner ON documents(kind, owner)",
          "CREATE INDEX documents_by_due ON documents(kind, state, due_at)",
          "CREATE INDEX documents_by_created ON documents(kind, created_at)",
      },
      // 3: stored audit packages (encrypted blobs) and the records each names,
      // so that destroying a record shreds them.
      {
          "CREATE TABLE exports (id TEXT PRIMARY KEY, owner TEXT NOT NULL, format TEXT NOT NULL, "
          "created_at TEXT NOT NULL, expires_at TEXT NOT NULL, blob_id TEXT NOT NULL UNIQUE, "
          "file_id TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, "
          "kek_id TEXT NOT NULL, wrapped_dek BLOB, shredded_by TEXT NOT NULL, "
          "summary TEXT NOT NULL)",
          "CREATE INDEX exports_by_owner ON exports(owner)",
          "CREATE TABLE export_records (export_id TEXT NOT NULL REFERENCES exports(id), "
          "record_id TEXT NOT NULL, content BIGINT NOT NULL, PRIMARY KEY (export_id, record_id))",
          "CREATE INDEX export_records_by_record ON export_records(record_id)",
      },
      // 4: row seals (storage/row_seal.h): each authority row's MAC, and
      // the salt of a record's commitments (storage/row_image.h).
      {
          "ALTER TABLE departments ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE users ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE sessions ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE records ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE records ADD COLUMN salt TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE versions ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE files ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE documents ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE exports ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
      },
      // 5: the personal values of record.update events, which the log names
      // only by field; a record's destruction deletes its rows.
      {
          "CREATE TABLE record_changes (log_index BIGINT PRIMARY KEY, "
          "record_id TEXT NOT NULL, before_json TEXT NOT NULL, after_json TEXT NOT NULL)",
          "CREATE INDEX record_changes_by_record ON record_changes(record_id, log_index)",
      },
      // 6: set seals (storage/row_set.h): which keys each authority table
      // holds, sealed; filled at the first open with the seal key.
      {
          "CREATE TABLE row_sets (table_name TEXT PRIMARY KEY, row_count BIGINT NOT NULL, "
          "digest TEXT NOT NULL, mac TEXT NOT NULL)",
      },
      // 7: the three administrative roles (docs/security.md): an account's
      // credentials (set-up code, second factor; secret) and provenance
      // (created, reset, granted by whom and when), as the services' JSON.
      // "{}" is absent: older rows keep their seals.
      {
          "ALTER TABLE users ADD COLUMN credentials TEXT NOT NULL DEFAULT '{}'",
          "ALTER TABLE users ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}'",
      },
      // 8: the content index (storage/search_index.h): keyed tokens only,
      // derived data, not sealed. WITHOUT ROWID: the key is the row, so
      // SQLite stores it once (about half the bytes of a rowid table and
      // its key index).
      {
          "CREATE TABLE search_postings (token TEXT NOT NULL, record_id TEXT NOT NULL, "
          "field TEXT NOT NULL, file_id TEXT NOT NULL DEFAULT '', tf INTEGER NOT NULL, "
          "PRIMARY KEY (token, record_id, field, file_id)) WITHOUT ROWID",
          "CREATE INDEX search_postings_by_record ON search_postings(record_id)",
      },
      // 9: content search (docs/formats/search-index.md "Tables").
      // file_texts: what the content pipeline learned of each file, its
      // text sealed under the file's own key (storage/file_texts.h).
      // search_queue: records whose index entries are due; every record
      // that is not destroyed is queued (the backfill). search_postings
      // held no rows in any archive yet: it is made again with the keyed
      // token as its 16 raw bytes instead of 32 hex characters (its key,
      // stored twice, is most of a posting).
      {
          "CREATE TABLE file_texts (file_id TEXT PRIMARY KEY, record_id TEXT NOT NULL, "
          "version BIGINT NOT NULL, state TEXT NOT NULL, claimed_type TEXT NOT NULL, "
          "identified_type TEXT NOT NULL, method TEXT NOT NULL, pages BIGINT NOT NULL, "
          "text_bytes BIGINT NOT NULL, sealed_text BLOB, attempts BIGINT NOT NULL, "
          "next_attempt TEXT NOT NULL, reason TEXT NOT NULL, updated_at TEXT NOT NULL)",
          "CREATE INDEX file_texts_by_record ON file_texts(record_id)",
          "CREATE INDEX file_texts_by_state ON file_texts(state, next_attempt)",
          "CREATE TABLE search_queue (record_id TEXT PRIMARY KEY, queued_at TEXT NOT NULL)",
          "CREATE INDEX search_queue_by_time ON search_queue(queued_at)",
          "INSERT INTO search_queue(record_id, queued_at) "
          "SELECT id, created_at FROM records WHERE state <> 'destroyed'",
          "DROP TABLE search_postings",
          "CREATE TABLE search_postings (token BLOB NOT NULL, record_id TEXT NOT NULL, "
          "field TEXT NOT NULL, file_id TEXT NOT NULL DEFAULT '', tf INTEGER NOT NULL, "
          "PRIMARY KEY (token, record_id, field, file_id)) WITHOUT ROWID",
          "CREATE INDEX search_postings_by_record ON search_postings(record_id)",
      },
      // 10: derived data cached per file and purpose (previews,
      // storage/derived_cache.h), sealed under the file's own key.
      {
          "CREATE TABLE derived_cache (file_id TEXT NOT NULL, purpose TEXT NOT NULL, "
          "record_id TEXT NOT NULL, sealed BLOB NOT NULL, created_at TEXT NOT NULL, "
          "PRIMARY KEY (file_id, purpose))",
          "CREATE INDEX derived_cache_by_record ON derived_cache(record_id)",
      },
      // 11: signatures added to a checkpoint after the log signed it:
      // witness cosignatures and RFC 3161 timestamps, each a complete
      // signed-note signature line (docs/formats/cosignature.md,
      // docs/formats/timestamp.md).
      {
          "CREATE TABLE checkpoint_signatures (size BIGINT NOT NULL, name TEXT NOT NULL, "
          "kind TEXT NOT NULL, line TEXT NOT NULL, created_at TEXT NOT NULL, "
          "PRIMARY KEY (size, name))",
          "CREATE INDEX checkpoint_signatures_by_name ON checkpoint_signatures(name, size)",
      },
      // 12: each token's postings of a tf above 1, best first
      // (storage/sql_search_match.h): a search reads the kMatchCandidates
      // best postings of its rarest token, these and then those of tf 1 in
      // key order, instead of all of them. Partial: most postings have a tf
      // of 1 and need no second copy.
      {
          "CREATE INDEX search_postings_by_impact ON search_postings(token, tf DESC, record_id, field, file_id) "
          "WHERE tf > 1",
      },
  };
  return m;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) {
    s.replace(at, from.size(), to);
  }
  return s;
}

}  // namespace

std::vector<std::vector<std::string>> SchemaMigrations(SqlEngine engine) {
  if (engine == SqlEngine::kSqlite) return SqliteMigrations();
  std::vector<std::vector<std::string>> out;
  for (const auto& migration : SqliteMigrations()) {
    std::vector<std::string> statements;
    for (const std::string& ddl : migration) {
      // The full-text table and its triggers are SQLite's own.
      if (ddl.find("records_fts") != std::string::npos) continue;
      // WITHOUT ROWID is SQLite's storage choice; PostgreSQL has no rowid.
      statements.push_back(ReplaceAll(ReplaceAll(ddl, " BLOB", " BYTEA"), " WITHOUT ROWID", ""));
    }
    out.push_back(std::move(statements));
  }
  return out;
}

const std::vector<std::string>& SchemaTables() {
  static const std::vector<std::string> tables = {
      "departments", "users",    "sessions",   "archive_sequences", "records",        "versions",
      "files",       "log_leaves", "log_nodes", "log_checkpoints",   "documents",
      "exports",     "export_records", "record_changes", "row_sets", "search_postings",
      "file_texts",  "search_queue", "derived_cache", "checkpoint_signatures"};
  return tables;
}

StatusOr<int> ApplyMigrations(sql::Connection& s, SqlEngine engine, int* from_version) {
  const char* begin = engine == SqlEngine::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN";
  CUSTOS_RETURN_IF_ERROR(sql::Exec(
      s, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
         "applied_at TEXT NOT NULL)"));
  CUSTOS_ASSIGN_OR_RETURN(sql::Rows v,
                          sql::Query(s, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  int version = static_cast<int>(v.Int(0, 0));
  if (from_version != nullptr) *from_version = version;
  const auto migrations = SchemaMigrations(engine);
  if (version > static_cast<int>(migrations.size())) {
    return InvalidArgument("database schema version " + std::to_string(version) +
                               " is newer than this program knows (" +
                               std::to_string(migrations.size()) + ")",
                           "schema_too_new");
  }
  for (size_t i = static_cast<size_t>(version); i < migrations.size(); ++i) {
    CUSTOS_RETURN_IF_ERROR(sql::Exec(s, begin));
    Status st;
    for (const std::string& ddl : migrations[i]) {
      st = sql::Exec(s, ddl);
      if (!st.ok()) break;
    }
    if (st.ok()) {
      st = sql::Exec(s, "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)",
                     {sql::P(static_cast<int64_t>(i + 1)),
                      sql::P(domain::FormatTime(std::chrono::system_clock::now()))});
    }
    if (st.ok()) st = sql::Exec(s, "COMMIT");
    if (!st.ok()) {
      (void)sql::Exec(s, "ROLLBACK");
      return st.WithContext("migration " + std::to_string(i + 1));
    }
    version = static_cast<int>(i + 1);
  }
  return version;
}

}  // namespace custos::storage
