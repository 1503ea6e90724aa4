// Lines added to a stored checkpoint after the log signed it (schema
// migration 11, table checkpoint_signatures): witness cosignatures and
// timestamps, on SQLite and PostgreSQL alike. A stored line comes back
// byte for byte and rides on the served note after the log's own
// signature; a witness's latest size is found; bad lines, a second line of
// the same name, a line for a checkpoint that does not exist and a write in
// a read transaction are refused and change nothing; custosctl migrate
// copies the table.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "storage/metadata_store.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "storage/store_copy.h"
#include "tests/storage/backend_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

using testing::Backend;
using testing::TestSigner;

const std::string kDash = "\xe2\x80\x94 ";

CheckpointSignature Line(uint64_t size, const std::string& name, const std::string& kind,
                         const std::string& payload = "AAAAAQID") {
  CheckpointSignature s;
  s.size = size;
  s.name = name;
  s.kind = kind;
  s.line = kDash + name + " " + payload + "\n";
  s.created_at = domain::TruncateToMillis(std::chrono::system_clock::now());
  return s;
}

std::unique_ptr<MetadataStore> OpenSqlite(const std::string& path, TestSigner& signer) {
  SqliteOptions options;
  options.path = path;
  options.durable = false;
  auto s = SqliteStore::Open(options, &signer.checkpoint);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Appends `n` events in one write: one checkpoint of the new size.
void Append(MetadataStore& store, int n) {
  Status s = store.Write([&](Transaction& tx) -> Status {
    for (int i = 0; i < n; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(testing::Event("test.event", "合同-1", i)).status());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

class CheckpointSignatureStore : public testing::BackendStoreTest {
 protected:
  void SetUp() override {
    BackendStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Append(*store_, 2);  // checkpoint of size 2
    Append(*store_, 3);  // checkpoint of size 5
  }

  Status Add(const CheckpointSignature& sig) {
    return store_->Write([&](Transaction& tx) { return tx.log().AddCheckpointSignature(sig); });
  }
  std::vector<CheckpointSignature> Lines(uint64_t size) {
    std::vector<CheckpointSignature> out;
    Status s = store_->Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.log().CheckpointSignatures(size));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
};

TEST_P(CheckpointSignatureStore, StoredLinesRideOnTheServedNoteAfterTheLogsSignature) {
  ASSERT_TRUE(Add(Line(5, "tsa.example/时间戳", kTimestampKind, "AAAABBBB")).ok());
  ASSERT_TRUE(Add(Line(5, "witness.example/b", kCosignatureKind)).ok());
  ASSERT_TRUE(Add(Line(5, "witness.example/a", kCosignatureKind)).ok());
  ASSERT_TRUE(Add(Line(2, "witness.example/a", kCosignatureKind)).ok());

  std::vector<CheckpointSignature> lines = Lines(5);
  ASSERT_EQ(lines.size(), 3u);
  StoredCheckpoint cp;
  std::optional<uint64_t> last_a, last_none;
  std::optional<StoredCheckpoint> attested, stamped;
  Status s = store_->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(cp, tx.log().LatestCheckpoint());
    CUSTOS_ASSIGN_OR_RETURN(last_a, tx.log().LastSignedSize("witness.example/a"));
    CUSTOS_ASSIGN_OR_RETURN(last_none, tx.log().LastSignedSize("witness.example/c"));
    CUSTOS_ASSIGN_OR_RETURN(attested, tx.log().LatestAttestedCheckpoint(""));
    CUSTOS_ASSIGN_OR_RETURN(stamped, tx.log().LatestAttestedCheckpoint(kTimestampKind));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cp.size, 5u);
  EXPECT_EQ(last_a, std::optional<uint64_t>(5));
  EXPECT_FALSE(last_none.has_value());
  ASSERT_TRUE(attested.has_value());
  EXPECT_EQ(attested->size, 5u);
  ASSERT_TRUE(stamped.has_value());
  EXPECT_EQ(stamped->note, cp.note);

  const std::string note = AttestedNote(cp, lines);
  EXPECT_EQ(note, cp.note + kDash + "witness.example/a AAAAAQID\n" + kDash + "witness.example/b AAAAAQID\n" +
                      kDash + "tsa.example/时间戳 AAAABBBB\n");
  // The log's own signature still verifies, the added lines unknown to it.
  auto opened = crypto::note::Open(note, signer_.verifiers());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->unverified.size(), 3u);
}

TEST_P(CheckpointSignatureStore, BadLinesAreRefusedAndNothingIsStored) {
  CheckpointSignature wrong_name = Line(5, "witness.example/a", kCosignatureKind);
  wrong_name.name = "witness.example/b";
  CheckpointSignature two_lines = Line(5, "w", kCosignatureKind);
  two_lines.line += two_lines.line;
  CheckpointSignature no_lf = Line(5, "w", kCosignatureKind);
  no_lf.line.pop_back();
  CheckpointSignature not_base64 = Line(5, "w", kCosignatureKind, "AA AA");
  for (const CheckpointSignature& bad : {Line(5, "w", "stamp"), Line(5, "", kCosignatureKind), wrong_name,
                                         two_lines, no_lf, not_base64}) {
    Status st = Add(bad);
    EXPECT_EQ(st.reason(), "checkpoint_signature_malformed") << bad.line;
  }
  EXPECT_EQ(Add(Line(4, "w", kCosignatureKind)).reason(), "no_checkpoint");
  ASSERT_TRUE(Add(Line(5, "w", kCosignatureKind, "AAAAAQID")).ok());
  EXPECT_EQ(Add(Line(5, "w", kCosignatureKind, "AAAAAQIE")).reason(), "checkpoint_signature_exists");
  Status ro = store_->Read([&](Transaction& tx) { return tx.log().AddCheckpointSignature(Line(2, "x", kCosignatureKind)); });
  EXPECT_EQ(ro.reason(), "read_only_transaction");
  std::vector<CheckpointSignature> lines = Lines(5);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].line, kDash + "w AAAAAQID\n");
  EXPECT_TRUE(Lines(2).empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, CheckpointSignatureStore,
                         testing::kBothBackends,
                         testing::BackendName);

TEST(CheckpointSignatureCopy, CustosctlMigrateCopiesTheLines) {
  CUSTOS_REQUIRE_POSTGRES(custos::testing::PostgresDsn());
  custos::testing::TempDir tmp;
  TestSigner signer;
  {
    std::unique_ptr<MetadataStore> store = OpenSqlite(tmp.Sub("custos.db"), signer);
    ASSERT_NE(store, nullptr);
    Append(*store, 1);
    Status s = store->Write([&](Transaction& tx) {
      return tx.log().AddCheckpointSignature(Line(1, "witness.example/见证", kCosignatureKind));
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  const std::string dsn = custos::testing::NewPostgresSchema();
  auto counts = CopySqliteToPostgres(tmp.Sub("custos.db"), dsn, nullptr);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->at("checkpoint_signatures"), 1u);
  PostgresOptions options;
  options.dsn = dsn;
  auto pg = PostgresStore::Open(options, &signer.checkpoint);
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  std::vector<CheckpointSignature> lines;
  Status s = (*pg)->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(lines, tx.log().CheckpointSignatures(1));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].line, kDash + "witness.example/见证 AAAAAQID\n");
}

}  // namespace
}  // namespace custos::storage
