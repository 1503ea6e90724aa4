// verify() against real files: a clean archive verifies; one changed byte in
// a record row, a leaf, a tree node, a checkpoint or a blob is named.
#include "storage/verifier.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>
#include <fstream>

#include "crypto/random.h"
#include "storage/blob_store.h"
#include "storage/integrity.h"
#include "storage/sqlite_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

using testing::Event;
using testing::MakeRecord;

// A small archive in a directory: database, blobs, one KEK.
class Archive {
 public:
  Archive(const std::string& dir, crypto::note::KeySigner* signer, const crypto::Kek& kek)
      : dir_(dir), checkpoint_signer_(testing::kOrigin, {signer}), verifier_(&signer->verifier()) {
    std::filesystem::create_directories(dir + "/blobs");
    store_ = SqliteStore::Open({dir + "/custos.db"}, &checkpoint_signer_).value();
    blobs_ = FileBlobStore::OpenDirectory(dir + "/blobs").value();
    keys_ = crypto::LocalKeyProvider::Create(crypto::Kek{kek.id, kek.key.Clone()}).value();
    content_ = std::make_unique<ContentStore>(*blobs_, *keys_, crypto::Suite::kIntl);
  }

  // Checks in a record with one file and logs it the way the services do.
  void CheckIn(const std::string& id, const std::string& text) {
    crypto::Bytes bytes(text.begin(), text.end());
    MemorySource src(bytes);
    StoredContent c = content_->Put(src, 1 << 20).value();
    Status s = store_->Write([&](Transaction& tx) -> Status {
      domain::Record r = MakeRecord(id, "Contract " + id);
      CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
      domain::Version v;
      v.record_id = r.id;
      v.number = 1;
      v.created_at = r.created_at;
      v.created_by = "alice";
      domain::StoredFile f;
      f.id = c.file_id;
      f.record_id = r.id;
      f.version = 1;
      f.name = "contract.txt";
      f.media_type = "text/plain";
      f.size = c.size;
      f.sha256 = c.sha256;
      f.blob_id = c.blob_id;
      f.kek_id = c.kek_id;
      f.wrapped_dek = c.wrapped_dek;
      v.files.push_back(f);
      CUSTOS_ASSIGN_OR_RETURN(v.manifest_hash, ManifestHash(v));
      LogEvent e = Event("record.checkin", id);
      CUSTOS_ASSIGN_OR_RETURN(std::string rh, RecordDigest(r));
      e.details.Set(kDetailRecordHash, rh);
      e.details.Set(kDetailManifestHash, v.manifest_hash);
      e.details.Set(kDetailVersion, 1);
      CUSTOS_ASSIGN_OR_RETURN(v.log_index, tx.log().Append(e));
      return tx.versions().Insert(v);
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // `content_from`: VerifyOptions::content_from (0: every blob).
  VerifyReport Verify(uint64_t content_from = 0) {
    auto r = VerifyWith(content_from, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }

  StatusOr<VerifyReport> VerifyWith(uint64_t content_from, std::function<bool()> stop) {
    VerifyOptions o;
    o.content_from = content_from;
    o.stop = std::move(stop);
    o.origin = testing::kOrigin;
    o.verifiers = {verifier_};
    o.content = content_.get();
    o.blobs = blobs_.get();
    return VerifyArchive(*store_, o);
  }

  std::string BlobPathOf(const std::string& record_id) {
    std::string blob;
    Status s = store_->Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto v, tx.versions().Find(domain::RecordId{record_id}, 1));
      blob = v->files[0].blob_id.value;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok());
    for (auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/blobs")) {
      if (e.path().filename().string().find(blob) == 0) return e.path().string();
    }
    ADD_FAILURE() << "blob file not found";
    return {};
  }

 SqliteStore& store() { return *store_; }
  FileBlobStore& blobs() { return *blobs_; }

 private:
  std::string dir_;
  NoteCheckpointSigner checkpoint_signer_;
  const crypto::note::Verifier* verifier_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<FileBlobStore> blobs_;
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  std::unique_ptr<ContentStore> content_;
};

void ExecSql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

bool Names(const VerifyReport& r, const std::string& object, const std::string& code) {
  for (const Finding& f : r.findings) {
    if (f.object.find(object) != std::string::npos && f.code == code) return true;
  }
  return false;
}

std::string Dump(const VerifyReport& r) {
  std::string out;
  for (const Finding& f : r.findings) out += f.object + ": " + f.problem + " [" + f.code + "]\n";
  return out;
}

// Flips one bit of the fifth byte from the end of the file at `path`.
void FlipByteNearEnd(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-5, std::ios::end);
  char c;
  f.get(c);
  f.seekp(-5, std::ios::end);
  f.put(static_cast<char>(c ^ 0x01));
}

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest()
      : signer_(crypto::note::KeySigner::Create(
                    testing::kOrigin,
                    crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519).value())
                    .value()),
        kek_(crypto::MakeKek(crypto::SecretBytes(crypto::RandomBytes(32).value())).value()) {}

  // Builds the template archive: 5 records, 5 log entries.
  void SetUp() override {
    Archive a(tmp_.Sub("template"), &signer_, kek_);
    for (int i = 1; i <= 5; ++i) {
      a.CheckIn("CT-2026-00000" + std::to_string(i), "contract text number " + std::to_string(i));
    }
    VerifyReport r = a.Verify();
    EXPECT_TRUE(r.clean()) << Dump(r);
    EXPECT_EQ(r.log_entries, 5u);
    EXPECT_EQ(r.records, 5u);
    EXPECT_EQ(r.files, 5u);
  }

  // Flips a byte of the blob of `record_id`'s first version in archive `dir`.
  void DamageBlobOf(const std::string& dir, const std::string& record_id) {
    std::string path;
    {
      Archive a(dir, &signer_, kek_);
      path = a.BlobPathOf(record_id);
    }
    FlipByteNearEnd(path);
  }

  // A copy of the template archive to damage.
  std::string Copy(const std::string& name) {
    std::filesystem::copy(tmp_.Sub("template"), tmp_.Sub(name),
                          std::filesystem::copy_options::recursive);
    return tmp_.Sub(name);
  }

  custos::testing::TempDir tmp_;
  crypto::note::KeySigner signer_;
  crypto::Kek kek_;
};

TEST_F(VerifierTest, CleanArchiveHasNoFindings) {
  Archive a(Copy("clean"), &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(r.clean()) << Dump(r);
  EXPECT_EQ(r.checkpoints, 5u);
  EXPECT_GT(r.content_bytes, 0u);
}

TEST_F(VerifierTest, ChangedRecordRowIsNamed) {
  std::string dir = Copy("row");
  ExecSql(dir + "/custos.db", "UPDATE records SET title = 'Contract CT-2026-00000X' WHERE id = 'CT-2026-000003'");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "record CT-2026-000003", "record_row_mismatch")) << Dump(r);
}

TEST_F(VerifierTest, ChangedLeafIsNamed) {
  std::string dir = Copy("leaf");
  ExecSql(dir + "/custos.db", "UPDATE log_leaves SET leaf = replace(leaf, '\"alice\"', '\"alicf\"') WHERE seq = 2");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "log entry 2", "log_leaf_hash_mismatch")) << Dump(r);
}

TEST_F(VerifierTest, ChangedTreeNodeIsNamed) {
  std::string dir = Copy("node");
  ExecSql(dir + "/custos.db", "UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 1");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "log node (1, 1)", "log_node_mismatch")) << Dump(r);
}

TEST_F(VerifierTest, ChangedCheckpointIsNamed) {
  std::string dir = Copy("checkpoint");
  // Change the signed size line's text while keeping the note well formed.
  ExecSql(dir + "/custos.db",
          "UPDATE log_checkpoints SET note = replace(note, char(10) || '3' || char(10), char(10) || "
          "'4' || char(10)) WHERE size = 3");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "checkpoint at size 3", "checkpoint_signature")) << Dump(r);
}

TEST_F(VerifierTest, ChangedBlobByteIsNamed) {
  std::string dir = Copy("blob");
  DamageBlobOf(dir, "CT-2026-000004");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  bool named = false;
  for (const Finding& x : r.findings) named = named || x.object.find("contract.txt") != std::string::npos;
  EXPECT_TRUE(named) << Dump(r);
  EXPECT_EQ(r.findings.size(), 1u) << Dump(r);
}

// Record 4's only version is log entry 3: a pass from size 4 does not read
// its blob, a pass from size 3 does; every other check still runs in full.
TEST_F(VerifierTest, IncrementalPassReadsOnlyBlobsLoggedSince) {
  std::string dir = Copy("incremental");
  DamageBlobOf(dir, "CT-2026-000004");
  ExecSql(dir + "/custos.db", "UPDATE records SET title = '改过的标题' WHERE id = 'CT-2026-000001'");
  Archive a(dir, &signer_, kek_);
  VerifyReport from4 = a.Verify(4);
  EXPECT_EQ(from4.files_unread, 4u);
  EXPECT_EQ(from4.files, 5u);
  EXPECT_TRUE(Names(from4, "record CT-2026-000001", "record_row_mismatch")) << Dump(from4);
  // The state replay runs in full too.
  EXPECT_TRUE(Names(from4, "row records CT-2026-000001", "row_differs")) << Dump(from4);
  EXPECT_EQ(from4.findings.size(), 2u) << Dump(from4);
  VerifyReport from3 = a.Verify(3);
  EXPECT_EQ(from3.files_unread, 3u);
  EXPECT_EQ(from3.findings.size(), 3u) << Dump(from3);
  EXPECT_EQ(a.Verify().files_unread, 0u);
}

TEST_F(VerifierTest, StopEndsTheRunAtTheNextBatch) {
  Archive a(Copy("stop"), &signer_, kek_);
  int polls = 0;
  auto stopped = a.VerifyWith(0, [&polls] { return ++polls > 2; });
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().reason(), "verify_stopped");
  EXPECT_EQ(polls, 3);
  int never = 0;
  ASSERT_TRUE(a.VerifyWith(0, [&never] { ++never; return false; }).ok());
  EXPECT_GT(never, 5);  // the log, a tree level, and each of the five records
}

TEST_F(VerifierTest, DeletedLeafIsNamed) {
  std::string dir = Copy("gone");
  ExecSql(dir + "/custos.db", "DELETE FROM log_leaves WHERE seq = 4");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "log entry 4", "log_entry_missing")) << Dump(r);
}

// On SQLite the walk reads the log's rows in rowid order while they come in
// log order (SqlDialect::log_rowid_order): a leaf, a level-0 node and a
// level-1 node moved to the end of their tables still verify clean, and a
// seq that is not an integer is not read as the entry it rounds to.
TEST_F(VerifierTest, RowsOutOfLogOrderAreReadAsStored) {
  std::string dir = Copy("reordered");
  uint64_t entries = 0;
  {
    Archive a(dir, &signer_, kek_);
    VerifyReport clean = a.Verify();
    ASSERT_TRUE(clean.clean()) << Dump(clean);
    entries = clean.log_entries;
    ASSERT_GT(entries, 4u);
  }
  ExecSql(dir + "/custos.db",
          "CREATE TEMP TABLE l AS SELECT * FROM log_leaves WHERE seq = 2;"
          "DELETE FROM log_leaves WHERE seq = 2; INSERT INTO log_leaves SELECT * FROM l;"
          "CREATE TEMP TABLE n AS SELECT * FROM log_nodes WHERE level = 0 AND idx = 3;"
          "DELETE FROM log_nodes WHERE level = 0 AND idx = 3; INSERT INTO log_nodes SELECT * FROM n");
  {
    Archive a(dir, &signer_, kek_);
    VerifyReport r = a.Verify();
    EXPECT_TRUE(r.clean()) << Dump(r);
    EXPECT_EQ(r.log_entries, entries);
  }
  // Interior nodes come from the same windows when they are consecutive:
  // one moved out of its place is read through the key instead.
  std::string interior = Copy("moved_interior");
  {
    Archive a(interior, &signer_, kek_);
    Status s = a.store().Write([&](Transaction& tx) -> Status {
      for (int i = 0; i < 8; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event("record.view", "CT-2026-000001", i)).status());
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  ExecSql(interior + "/custos.db",
          "CREATE TEMP TABLE n AS SELECT * FROM log_nodes WHERE level = 1 AND idx = 1;"
          "DELETE FROM log_nodes WHERE level = 1 AND idx = 1; INSERT INTO log_nodes SELECT * FROM n");
  {
    Archive a(interior, &signer_, kek_);
    VerifyReport r = a.Verify();
    EXPECT_TRUE(r.clean()) << Dump(r);
  }
  std::string real = Copy("real_seq");
  ExecSql(real + "/custos.db", "UPDATE log_leaves SET seq = 1.5 WHERE seq = 1");
  Archive a(real, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "log entry 1", "log_entry_missing")) << Dump(r);
}

// Each version's event is read back at its log index (nothing of it is
// kept from the walk): an index naming another record's entry, one past
// the log, or a redacted entry records no manifest.
TEST_F(VerifierTest, VersionWhoseLogIndexDoesNotRecordItIsNamed) {
  std::string dir = Copy("version_index");
  // Entry 1 is the check-in of CT-2026-000002; 99 is past the log's end;
  // entry 4 (CT-2026-000005's check-in) loses its body.
  ExecSql(dir + "/custos.db",
          "UPDATE versions SET log_index = 1 WHERE record_id = 'CT-2026-000003';"
          "UPDATE versions SET log_index = 99 WHERE record_id = 'CT-2026-000004';"
          "UPDATE log_leaves SET leaf = '' WHERE seq = 4");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "version 1 of CT-2026-000003", "manifest_not_logged")) << Dump(r);
  EXPECT_TRUE(Names(r, "version 1 of CT-2026-000004", "manifest_not_logged")) << Dump(r);
  EXPECT_TRUE(Names(r, "version 1 of CT-2026-000005", "manifest_not_logged")) << Dump(r);
  EXPECT_TRUE(Names(r, "log entry 4", "log_entry_redacted")) << Dump(r);
  EXPECT_FALSE(Names(r, "version 1 of CT-2026-000002", "manifest_not_logged")) << Dump(r);
  EXPECT_FALSE(Names(r, "version 1 of CT-2026-000001", "manifest_not_logged")) << Dump(r);
}

// The tree is checked a batch of 4,096 nodes at a time, each batch beside
// the level below it: faults in the second batch of level 1, in level 2
// and in a level-0 hash of the second leaf batch are each named, and
// nothing else is.
TEST_F(VerifierTest, NodeFaultsInALaterBatchAreNamed) {
  constexpr int kEntries = 9000;
  std::string dir = tmp_.Sub("batches");
  {
    Archive a(dir, &signer_, kek_);
    Status s = a.store().Write([&](Transaction& tx) -> Status {
      for (int i = 0; i < kEntries; ++i) {
        CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event("record.view", "CT-2026-批次-" + std::to_string(i % 97), i)).status());
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    VerifyReport clean = a.Verify();
    ASSERT_TRUE(clean.clean()) << Dump(clean);
    EXPECT_EQ(clean.log_entries, uint64_t{kEntries});
    uint64_t nodes = 0;  // every complete node of every level, each counted once
    for (uint64_t level_size = kEntries; level_size > 0; level_size /= 2) nodes += level_size;
    EXPECT_EQ(clean.log_nodes, nodes);
  }
  ExecSql(dir + "/custos.db",
          "UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 4100;"
          "DELETE FROM log_nodes WHERE level = 1 AND idx = 4200;"
          "UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 0 AND idx = 8500");
  Archive a(dir, &signer_, kek_);
  VerifyReport r = a.Verify();
  EXPECT_TRUE(Names(r, "log node (1, 4100)", "log_node_mismatch")) << Dump(r);
  EXPECT_TRUE(Names(r, "log node (2, 2050)", "log_node_mismatch")) << Dump(r);
  EXPECT_TRUE(Names(r, "log node (1, 4200)", "log_node_missing")) << Dump(r);
  EXPECT_TRUE(Names(r, "log entry 8500", "log_leaf_hash_mismatch")) << Dump(r);
  EXPECT_TRUE(Names(r, "log node (1, 4250)", "log_node_mismatch")) << Dump(r);
  EXPECT_EQ(r.findings.size(), 5u) << Dump(r);
}

// A child process checks records in as fast as it can and reports each
// acknowledged one on a pipe; it is SIGKILLed at a random moment, mid-commit
// as often as not. After reopening: every acknowledged record is there, no
// record or event is half there (verify is clean), orphan blobs are swept.
TEST_F(VerifierTest, KillDuringCommitsLeavesWholeTransactionsOnly) {
  std::mt19937 rng(20261125);
  for (int trial = 0; trial < 3; ++trial) {
    std::string dir = Copy("crash" + std::to_string(trial));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      Archive a(dir, &signer_, kek_);
      for (int i = 6;; ++i) {
        char id[32];
        std::snprintf(id, sizeof id, "CT-2026-%06d", i);
        a.CheckIn(id, std::string(1000 + i, 'x'));
        if (::write(fds[1], id, 14) != 14) _exit(1);
      }
    }
    ::close(fds[1]);
    // The kill comes at a random moment after the first acknowledgement
    // (opening the archive can take longer than the whole window on a busy
    // machine).
    std::set<std::string> acked;
    char buf[14];
    if (::read(fds[0], buf, sizeof buf) == static_cast<ssize_t>(sizeof buf)) {
      acked.insert(std::string(buf, sizeof buf));
    }
    ::usleep(50000 + rng() % 300000);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    while (::read(fds[0], buf, sizeof buf) == static_cast<ssize_t>(sizeof buf)) {
      acked.insert(std::string(buf, sizeof buf));
    }
    ::close(fds[0]);
    ASSERT_GT(acked.size(), 0u) << "the child never committed anything";

    Archive a(dir, &signer_, kek_);
    auto swept = a.blobs().SweepOrphans([&](const domain::BlobId& id) {
      bool referenced = true;
      (void)a.store().Read([&](Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(referenced, tx.versions().BlobReferenced(id));
        return Status::Ok();
      });
      return referenced;
    });
    ASSERT_TRUE(swept.ok()) << swept.status().ToString();
    VerifyReport r = a.Verify();
    EXPECT_TRUE(r.clean()) << Dump(r);
    EXPECT_GE(r.records, 5 + acked.size());
    EXPECT_LE(r.records, 5 + acked.size() + 1);  // at most one committed but not yet acknowledged
    EXPECT_EQ(r.log_entries, r.records);
    auto blobs = a.blobs().List();
    ASSERT_TRUE(blobs.ok());
    EXPECT_EQ(blobs->size(), r.files);  // no orphan left
    for (const std::string& id : acked) {
      Status s = a.store().Read([&](Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{id}));
        EXPECT_TRUE(rec.has_value()) << id << " was acknowledged but is gone";
        return Status::Ok();
      });
      EXPECT_TRUE(s.ok());
    }
  }
}

}  // namespace
}  // namespace custos::storage
