// custosctl verify against a real archive with one stored byte changed
// (DESIGN §7: "an alteration of any stored byte that verify does not
// report" must never happen). A small archive is made once — custosctl
// init, then two records checked in through the services, one of them with
// a second version — and every test damages its own copy: a blob file, a
// row of each table the verifier binds to the log (records, versions,
// files, log_leaves, log_nodes, log_checkpoints) or a key file. verify
// --json must exit 1 with a finding whose object names what was changed;
// the untouched archive exits 0.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/services/clock.h"
#include "server/services/principal.h"
#include "server/services/record_service.h"
#include "storage/archive.h"
#include "storage/blob_store.h"
#include "domain/model.h"
#include "tests/admin/in_process.h"
#include "tests/admin/live_archive.h"
#include "tests/admin/verdict.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ the seed

// What the seed archive holds: record `a` with version 1 (two files) and
// version 2 (one file), record `b` with one file.
struct Seed {
  std::string data;
  std::string a, b;
  domain::StoredFile a_file;  // the first file of a's version 1
  domain::StoredFile b_file;  // b's only file
  uint64_t a_v1_index = 0;     // the log entry of a's check-in
  uint64_t a_v2_index = 0;     // the log entry of a's version 2
};

// The files of a seed version: part-<i>.bin with the given contents.
std::vector<live::SeedFile> Parts(const std::vector<std::string>& contents) {
  std::vector<live::SeedFile> out;
  for (size_t i = 0; i < contents.size(); ++i) {
    out.push_back({"part-" + std::to_string(i) + ".bin", contents[i]});
  }
  return out;
}

// custosctl init and an archivist, then the records of Seed checked in
// through RecordService on the archive opened in-process (as custosctl
// opens it). The archive is closed again before this returns, so the data
// directory can be copied.
bool MakeSeed(const TempDir& tmp, Seed& seed) {
  seed.data = tmp.Sub("data");
  if (!live::InitWithArchivist(tmp, seed.data)) return false;
  services::SystemClock clock;
  std::unique_ptr<live::OpenedArchive> archive = live::OpenedArchive::Open(seed.data, clock);
  if (!archive) return false;
  services::RecordService& records = archive->records();
  const services::Principal archivist = live::Archivist();
  auto a1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord("Board minutes 2026")),
                         Parts({live::PatternBytes(5000, 1), live::PatternBytes(70000, 2)}));
  auto b1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord("Supplier register")),
                         Parts({live::PatternBytes(3000, 3)}));
  if (!a1 || !b1) return false;
  seed.a = a1->detail.record.id.value;
  seed.b = b1->detail.record.id.value;
  auto a2 = live::Commit(records.BeginVersion(archivist, domain::RecordId{seed.a}, "amendment",
                                              "corrected attendance"),
                         Parts({live::PatternBytes(4000, 4)}));
  if (!a2) return false;
  seed.a_v1_index = a1->log_index;
  seed.a_v2_index = a2->log_index;
  Status s = archive->storage().store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto va, tx.versions().List(domain::RecordId{seed.a}));
    CUSTOS_ASSIGN_OR_RETURN(auto vb, tx.versions().List(domain::RecordId{seed.b}));
    if (va.size() != 2 || vb.size() != 1 || va[0].files.size() != 2 || vb[0].files.size() != 1) {
      return Internal("the seed records do not have the expected versions");
    }
    seed.a_file = va[0].files[0];
    seed.b_file = vb[0].files[0];
    return Status::Ok();
  });
  if (!s.ok()) {
    ADD_FAILURE() << s.ToString();
    return false;
  }
  return true;
}

// ------------------------------------------------------------ running verify

// custosctl verify --data DIR --json, parsed.
Verdict Verify(const std::string& data) {
  return RunVerdict({Ctl(), "verify", "--data", data, "--json"}, "object");
}

// True if a finding's object is `object` or starts with `object` and a
// space ("file <id> (name, blob …)"), so "log entry 1" does not match
// "log entry 12".
bool Names(const Verdict& v, const std::string& object) {
  for (const Finding& f : v.findings) {
    if (f.object == object || f.object.rfind(object + " ", 0) == 0) return true;
  }
  return false;
}

// True if some finding's object contains `text` anywhere.
bool Mentions(const Verdict& v, const std::string& text) {
  for (const Finding& f : v.findings) {
    if (f.object.find(text) != std::string::npos || f.problem.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// ------------------------------------------------------------ changing bytes

uint8_t XorOne(uint8_t c) { return c ^ 0x01; }
// A different lower-case hex digit, so a hex column stays well formed.
uint8_t OtherHexDigit(uint8_t c) { return c == '0' ? '1' : '0'; }
// A different base64 character, so a signature line stays well formed.
uint8_t OtherBase64Char(uint8_t c) { return c == 'A' ? 'B' : 'A'; }

// Changes byte `offset` (from the end when negative) of a regular file.
void ChangeFileByte(const std::string& path, long offset,
                    const std::function<uint8_t(uint8_t)>& change = XorOne) {
  std::string bytes = ReadFileOrDie(path);
  ASSERT_FALSE(bytes.empty()) << path;
  size_t at = offset >= 0 ? static_cast<size_t>(offset) : bytes.size() - static_cast<size_t>(-offset);
  ASSERT_LT(at, bytes.size()) << path;
  const uint8_t before = static_cast<uint8_t>(bytes[at]);
  bytes[at] = static_cast<char>(change(before));
  ASSERT_NE(static_cast<uint8_t>(bytes[at]), before);
  // Keep the file's inode and mode: write in place.
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.is_open()) << path;
  f.seekp(static_cast<std::streamoff>(at));
  f.put(bytes[at]);
  f.close();
  ASSERT_EQ(ReadFileOrDie(path), bytes) << path;
}

// Changes one byte of `column` in the first row of `table` that `where`
// selects, directly in the database file with the SQLite C API (as someone
// with the file in hand would). `offset` counts from the end when negative;
// `pick`, when given, chooses the offset from the column's bytes instead.
// The value keeps its storage class (TEXT stays TEXT, BLOB stays BLOB).
void ChangeColumnByte(const std::string& data, const std::string& table, const std::string& column,
                      const std::string& where, long offset,
                      const std::function<uint8_t(uint8_t)>& change,
                      const std::function<size_t(const std::string&)>& pick = nullptr) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data + "/custos.db").c_str(), &db), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> closer(db, sqlite3_close);
  const std::string select =
      "SELECT rowid, typeof(" + column + "), " + column + " FROM " + table + " WHERE " + where + " LIMIT 1";
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, select.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW) << "no row of " << table << " where " << where;
  const int64_t rowid = sqlite3_column_int64(st, 0);
  const std::string type = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
  const void* p = sqlite3_column_blob(st, 2);
  std::string value(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, 2)));
  sqlite3_finalize(st);
  ASSERT_FALSE(value.empty()) << table << "." << column << " is empty";
  size_t at = pick ? pick(value)
                   : offset >= 0 ? static_cast<size_t>(offset) : value.size() - static_cast<size_t>(-offset);
  ASSERT_LT(at, value.size());
  const uint8_t before = static_cast<uint8_t>(value[at]);
  value[at] = static_cast<char>(change(before));
  ASSERT_NE(static_cast<uint8_t>(value[at]), before);

  const std::string update = "UPDATE " + table + " SET " + column + " = ? WHERE rowid = ?";
  ASSERT_EQ(sqlite3_prepare_v2(db, update.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  if (type == "blob") {
    sqlite3_bind_blob(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  } else {
    ASSERT_EQ(type, "text") << table << "." << column;
    sqlite3_bind_text(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(st, 2, rowid);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_finalize(st);
}

// One integer from the database (-1 if the query gives no row).
int64_t QueryInt(const std::string& data, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open((data + "/custos.db").c_str(), &db), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> closer(db, sqlite3_close);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t out = -1;
  if (st != nullptr && sqlite3_step(st) == SQLITE_ROW) out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return out;
}

// The offset of a character in the middle of the base64 signature on the
// last line of a signed note ("— <name> <base64>\n"). The middle, not the
// end: the last base64 character also carries padding bits.
size_t MiddleOfSignature(const std::string& note) {
  size_t line = note.rfind('\n', note.size() - 2);  // start of the last line
  size_t sig = note.rfind(' ');                     // before its signature
  EXPECT_NE(line, std::string::npos);
  EXPECT_GT(sig, line);
  return sig + 1 + (note.size() - 1 - (sig + 1)) / 2;
}

// The blob file of `f` in a data directory.
std::string BlobPath(const std::string& data, const domain::StoredFile& f) {
  return data + "/blobs/" + f.blob_id.value.substr(0, storage::kBlobFanOutChars) + "/" + f.blob_id.value;
}


// ------------------------------------------------------------------ fixture

class ArchiveTamper : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { seed_.Make(MakeSeed); }
  static void TearDownTestSuite() { seed_.Clear(); }
  void SetUp() override {
    ASSERT_TRUE(seed_.made()) << "the seed archive could not be made";
    data_ = seed_.CopyData(tmp_);
  }

  // The newest checkpoint's size: the checkpoint that covers the whole log.
  int64_t NewestCheckpointSize() { return QueryInt(data_, "SELECT MAX(size) FROM log_checkpoints"); }

  static inline live::SuiteSeed<Seed> seed_;
  TempDir tmp_;
  std::string data_;
};

TEST_F(ArchiveTamper, UntouchedArchiveExitsZero) {
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 0) << Dump(v);
  EXPECT_TRUE(v.clean) << Dump(v);
  EXPECT_TRUE(v.findings.empty()) << Dump(v);
  ASSERT_TRUE(v.counts) << Dump(v);
  EXPECT_EQ(v.counts->getValue<uint64_t>("records"), 2u);
  EXPECT_EQ(v.counts->getValue<uint64_t>("versions"), 3u);
  EXPECT_EQ(v.counts->getValue<uint64_t>("files"), 4u);
  EXPECT_EQ(v.counts->getValue<uint64_t>("contentBytes"), 5000u + 70000u + 3000u + 4000u);
  EXPECT_GT(v.counts->getValue<uint64_t>("logEntries"), seed_->a_v2_index);
}

// ------------------------------------------------------------------- blobs

TEST_F(ArchiveTamper, BlobByteNamesItsFile) {
  // A byte in the middle of the ciphertext: a chunk's tag no longer holds.
  const std::string path = BlobPath(data_, seed_->a_file);
  ChangeFileByte(path, static_cast<long>(fs::file_size(path) / 2));
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "file " + seed_->a_file.id.value)) << Dump(v);
}

TEST_F(ArchiveTamper, BlobLastByteNamesItsFile) {
  ChangeFileByte(BlobPath(data_, seed_->b_file), -1);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "file " + seed_->b_file.id.value)) << Dump(v);
}

// -------------------------------------------------------------------- rows

TEST_F(ArchiveTamper, RecordTitleByteNamesTheRecord) {
  ChangeColumnByte(data_, "records", "title", "id = '" + seed_->a + "'", 0, XorOne);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "record " + seed_->a)) << Dump(v);
}

TEST_F(ArchiveTamper, VersionManifestHashByteNamesTheVersion) {
  ChangeColumnByte(data_, "versions", "manifest_hash", "record_id = '" + seed_->a + "' AND number = 2",
                   10, OtherHexDigit);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "version 2 of " + seed_->a)) << Dump(v);
}

TEST_F(ArchiveTamper, VersionPrevManifestHashByteNamesTheVersion) {
  ChangeColumnByte(data_, "versions", "prev_manifest_hash",
                   "record_id = '" + seed_->a + "' AND number = 2", 0, OtherHexDigit);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "version 2 of " + seed_->a)) << Dump(v);
}

TEST_F(ArchiveTamper, FileSha256ByteNamesTheFile) {
  ChangeColumnByte(data_, "files", "sha256", "id = '" + seed_->b_file.id.value + "'", 20, OtherHexDigit);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "file " + seed_->b_file.id.value)) << Dump(v);
  // The hash is part of the version's manifest too.
  EXPECT_TRUE(Names(v, "version 1 of " + seed_->b)) << Dump(v);
}

TEST_F(ArchiveTamper, FileWrappedKeyByteNamesTheFile) {
  ChangeColumnByte(data_, "files", "wrapped_dek", "id = '" + seed_->b_file.id.value + "'", 12, XorOne);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "file " + seed_->b_file.id.value)) << Dump(v);
}

TEST_F(ArchiveTamper, FileSizeNamesTheVersion) {
  // Not a byte of a text column, but the row's size is bound to the log
  // through the manifest as well.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data_ + "/custos.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, ("UPDATE files SET size = size + 1 WHERE id = '" + seed_->b_file.id.value + "'").c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "version 1 of " + seed_->b)) << Dump(v);
}

// --------------------------------------------------------------------- log

TEST_F(ArchiveTamper, LeafByteNamesTheEntry) {
  // A byte in the middle of the leaf of a's check-in.
  ChangeColumnByte(data_, "log_leaves", "leaf", "seq = " + std::to_string(seed_->a_v1_index), 0, XorOne,
                   [](const std::string& leaf) { return leaf.size() / 2; });
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "log entry " + std::to_string(seed_->a_v1_index))) << Dump(v);
}

TEST_F(ArchiveTamper, LeafHashNodeByteNamesTheEntry) {
  // Level 0 of the tree holds the leaf hashes.
  ChangeColumnByte(data_, "log_nodes", "hash", "level = 0 AND idx = " + std::to_string(seed_->a_v2_index),
                   7, XorOne);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "log entry " + std::to_string(seed_->a_v2_index))) << Dump(v);
}

TEST_F(ArchiveTamper, InnerNodeByteNamesTheNode) {
  ASSERT_GE(QueryInt(data_, "SELECT COUNT(*) FROM log_nodes WHERE level = 1"), 1);
  ChangeColumnByte(data_, "log_nodes", "hash", "level = 1 AND idx = 0", 31, XorOne);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "log node (1, 0)")) << Dump(v);
}

TEST_F(ArchiveTamper, CheckpointSignatureByteNamesTheCheckpoint) {
  const int64_t size = NewestCheckpointSize();
  ASSERT_GT(size, 0);
  // One character in the middle of the base64 signature of the last line.
  ChangeColumnByte(data_, "log_checkpoints", "note", "size = " + std::to_string(size), 0,
                   OtherBase64Char, MiddleOfSignature);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "checkpoint at size " + std::to_string(size))) << Dump(v);
}

TEST_F(ArchiveTamper, CheckpointRootColumnByteNamesTheCheckpoint) {
  const int64_t size = NewestCheckpointSize();
  ASSERT_GT(size, 0);
  ChangeColumnByte(data_, "log_checkpoints", "root", "size = " + std::to_string(size), 0, XorOne);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "checkpoint at size " + std::to_string(size))) << Dump(v);
}

TEST_F(ArchiveTamper, OlderCheckpointSignatureByteNamesIt) {
  // Not only the newest: every stored checkpoint is checked.
  const int64_t size = QueryInt(data_, "SELECT size FROM log_checkpoints ORDER BY size LIMIT 1");
  ASSERT_GT(size, 0);
  ASSERT_LT(size, NewestCheckpointSize());
  ChangeColumnByte(data_, "log_checkpoints", "note", "size = " + std::to_string(size), 0,
                   OtherBase64Char, MiddleOfSignature);
  Verdict v = Verify(data_);
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "checkpoint at size " + std::to_string(size))) << Dump(v);
}

// --------------------------------------------------------------- key files

std::string KekFilePath(const std::string& data) {
  std::string id = ReadFileOrDie(data + "/keys/kek/current");
  while (!id.empty() && id.back() == '\n') id.pop_back();
  return data + "/keys/kek/" + id + ".key";
}

TEST_F(ArchiveTamper, KekFileByteIsReported) {
  // The KEK's id is derived from its bytes, so a changed KEK file no longer
  // holds the key its name says: nothing could be decrypted with it.
  const std::string path = KekFilePath(data_);
  ChangeFileByte(path, 5);
  Verdict v = Verify(data_);
  // Damaged stored data, not a failure to run: exit 1 (not 2) with a
  // finding in the JSON report that names the key file, as for any other
  // damaged object.
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Mentions(v, fs::path(path).filename().string())) << Dump(v);
}

TEST_F(ArchiveTamper, LogSigningKeyByteIsReported) {
  // A byte inside the base64 body of the PEM (its last line before the END
  // line holds the end of the private key).
  const std::string path = data_ + "/keys/log-ed25519.pem";
  std::string pem = ReadFileOrDie(path);
  size_t end_line = pem.find("-----END");
  ASSERT_NE(end_line, std::string::npos);
  ChangeFileByte(path, static_cast<long>(end_line - 8), OtherBase64Char);
  Verdict v = Verify(data_);
  // A different (valid) signing key no longer matches the signatures on the
  // stored checkpoints.
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, "checkpoint at size " + std::to_string(NewestCheckpointSize()))) << Dump(v);
  // And the signing key no longer matches the published verifier key.
  EXPECT_TRUE(Mentions(v, "log.vkey")) << Dump(v);
}

TEST_F(ArchiveTamper, VerifierKeyFileByteIsReported) {
  // keys/log.vkey is the public key operators hand to auditors (and that
  // verify-package checks packages against). A changed byte inside its
  // base64 key makes it a different key.
  const std::string path = data_ + "/keys/log.vkey";
  std::string vkey = ReadFileOrDie(path);
  // "<name>+<key id>+<base64>": the key starts after the second '+' (the
  // base64 may itself hold '+').
  size_t plus = vkey.find('+', vkey.find('+') + 1);
  ASSERT_NE(plus, std::string::npos);
  ASSERT_LT(plus + 10, vkey.find('\n'));
  ChangeFileByte(path, static_cast<long>(plus + 10), OtherBase64Char);
  Verdict v = Verify(data_);
  // The server never reads the file (it signs with the private key), so
  // only verify's comparison of the file with the signing key catches this
  // before auditors do.
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Mentions(v, "log.vkey")) << Dump(v);
}

}  // namespace
}  // namespace custos::testing
