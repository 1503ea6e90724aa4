// The MetadataStore contract, run against SqliteStore and PostgresStore
// alike: both engines must fail, order, paginate, roll back and build the
// audit log exactly alike. A cross-check appends the same events to both and
// compares leaves, tree nodes and checkpoints. Last, the FaultyStore that
// service tests inject failures with (tests/testutil/faulty_store.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/faulty_store.h"
#include "tests/testutil/scratch_store.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

using testing::Event;
using testing::MakeRecord;
using testing::TestSigner;
namespace merkle = crypto::merkle;
using std::chrono::milliseconds;

// ------------------------------------------------------------------ helpers

// Signs through a TestSigner, or fails while `fail` is set.
class SwitchableSigner final : public CheckpointSigner {
 public:
  explicit SwitchableSigner(CheckpointSigner& inner) : inner_(inner) {}
  StatusOr<std::string> Sign(uint64_t size, const crypto::Digest32& root) override {
    if (fail) return Internal("signing key unavailable", "test_sign_failed");
    return inner_.Sign(size, root);
  }
  std::atomic<bool> fail{false};

 private:
  CheckpointSigner& inner_;
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<MetadataStore>(const custos::testing::TempDir&, CheckpointSigner*)>
      open;
};

// Both engines seal and check every authority row (storage/row_seal.h)
// under one key of the test process.
const RowSealer* TestSealer() {
  static const RowSealer* const sealer = new RowSealer(crypto::Bytes(RowSealer::kKeySize, 0x5a));
  return sealer;
}

std::unique_ptr<MetadataStore> OpenSqlite(const custos::testing::TempDir& dir,
                                          CheckpointSigner* signer) {
  SqliteOptions options;
  options.path = dir.Sub("custos.db");
  options.sealer = TestSealer();
  auto s = SqliteStore::Open(options, signer);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::unique_ptr<MetadataStore>(std::move(s).value()) : nullptr;
}

// A new schema on the test PostgreSQL server for every store.
std::unique_ptr<MetadataStore> OpenPostgres(const custos::testing::TempDir&,
                                            CheckpointSigner* signer) {
  PostgresOptions options;
  options.dsn = custos::testing::NewPostgresSchema();
  if (options.dsn.empty()) return nullptr;
  options.sealer = TestSealer();
  auto s = PostgresStore::Open(options, signer);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::unique_ptr<MetadataStore>(std::move(s).value()) : nullptr;
}

// Names the backend in test output.
void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

const Backend kSqlite{"Sqlite", OpenSqlite};
const Backend kPostgres{"Postgres", OpenPostgres};

// A fixed instant (2026-11-22T14:00:00Z) plus `ms` milliseconds, so that
// both stores see identical leaves.
domain::Time At(int64_t ms) { return domain::Time(milliseconds(1795356000000LL + ms)); }

LogEvent FixedEvent(const std::string& subject, int n) {
  LogEvent e = Event("test.append", subject, n);
  e.at = At(n);
  return e;
}

domain::User MakeUser(const std::string& name, domain::Time now) {
  domain::User u;
  u.username = domain::Username{name};
  u.password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";
  u.role = domain::Role::kArchivist;
  u.department = "sales";
  u.created_at = u.password_changed_at = now;
  return u;
}

domain::StoredFile MakeFile(const std::string& id, const std::string& blob, const std::string& name) {
  domain::StoredFile f;
  f.id = domain::FileId{id};
  f.name = name;
  f.media_type = "application/pdf";
  f.size = 10;
  f.sha256 = "00";
  f.blob_id = domain::BlobId{blob};
  f.kek_id = "kek-1";
  f.wrapped_dek = {1, 2, 3};
  return f;
}

domain::Version MakeVersion(const std::string& record, int number, std::vector<domain::StoredFile> files) {
  domain::Version v;
  v.record_id = domain::RecordId{record};
  v.number = number;
  v.created_at = At(number);
  v.created_by = "alice";
  v.manifest_hash = "ab";
  v.log_index = 7;
  v.files = std::move(files);
  return v;
}

std::vector<std::string> Ids(const domain::RecordPage& page) {
  std::vector<std::string> out;
  for (const domain::Record& r : page.records) out.push_back(r.id.value);
  return out;
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().name == kPostgres.name) {
      CUSTOS_REQUIRE_POSTGRES(custos::testing::PostgresDsn());
    }
    store_ = GetParam().open(dir_, &signer_);
    ASSERT_NE(store_, nullptr);
  }

  // Runs `fn` in a write transaction and expects it to commit.
  void MustWrite(const MetadataStore::TxFn& fn) {
    Status s = store_->Write(fn);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Runs `fn` in a read transaction and expects it to succeed.
  void MustRead(const MetadataStore::TxFn& fn) {
    Status s = store_->Read(fn);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Inserts records in one write.
  void InsertRecords(const std::vector<domain::Record>& records) {
    MustWrite([&](Transaction& tx) -> Status {
      for (const domain::Record& r : records) CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
      return Status::Ok();
    });
  }
  // Appends one event per write, for subjects s0..s{n-1} cycling over 3.
  void AppendEach(int from, int to) {
    for (int i = from; i < to; ++i) {
      MustWrite([&](Transaction& tx) {
        return tx.log().Append(FixedEvent("s" + std::to_string(i % 3), i)).status();
      });
    }
  }
  domain::RecordPage Search(const domain::RecordQuery& q) {
    domain::RecordPage page;
    MustRead([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(page, tx.records().Search(q));
      return Status::Ok();
    });
    return page;
  }
  std::vector<std::string> SearchText(const std::string& text) {
    domain::RecordQuery q;
    q.text = text;
    auto ids = Ids(Search(q));
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  custos::testing::TempDir dir_;
  TestSigner test_signer_;
  SwitchableSigner signer_{test_signer_.checkpoint};
  std::unique_ptr<MetadataStore> store_;
};

// --------------------------------------------------- departments and users

TEST_P(StoreContract, DuplicateDepartmentIsDepartmentExists) {
  const domain::Time t = At(0) + std::chrono::microseconds(1500);  // stored to the millisecond
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"sales", t}));
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"archive", t}));
    Status dup = tx.departments().Insert({"sales", t});
    EXPECT_EQ(dup.code(), ErrorCode::kConflict);
    EXPECT_EQ(dup.reason(), "department_exists");
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto list, tx.departments().List());
    EXPECT_EQ(list.size(), 2u);
    if (list.size() == 2) {
      EXPECT_EQ(list[0].name, "archive");  // name order
      EXPECT_EQ(list[1].name, "sales");
      EXPECT_EQ(list[1].created_at, At(1));
    }
    CUSTOS_ASSIGN_OR_RETURN(bool sales, tx.departments().Exists("sales"));
    CUSTOS_ASSIGN_OR_RETURN(bool legal, tx.departments().Exists("legal"));
    EXPECT_TRUE(sales);
    EXPECT_FALSE(legal);
    return Status::Ok();
  });
}

TEST_P(StoreContract, DuplicateUserAndUpdateOfMissingUser) {
  MustWrite([&](Transaction& tx) -> Status {
    domain::User u = MakeUser("bob", At(10));
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(MakeUser("alice", At(11))));
    Status dup = tx.users().Insert(u);
    EXPECT_EQ(dup.code(), ErrorCode::kConflict);
    EXPECT_EQ(dup.reason(), "user_exists");
    Status missing = tx.users().Update(MakeUser("carol", At(0)));
    EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
    EXPECT_EQ(missing.reason(), "user_not_found");
    // Update changes everything but the name and created_at.
    u.password_hash = "$argon2id$new";
    u.role = domain::Role::kAuditor;
    u.department = "legal";
    u.must_change_password = false;
    u.password_changed_at = At(20);
    u.failed_logins = 4;
    u.locked_until = At(30) + std::chrono::microseconds(999);
    u.disabled = true;
    u.created_at = At(99);
    return tx.users().Update(u);
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto bob, tx.users().Find(domain::Username{"bob"}));
    EXPECT_TRUE(bob.has_value());
    if (bob) {
      EXPECT_EQ(bob->password_hash, "$argon2id$new");
      EXPECT_EQ(bob->role, domain::Role::kAuditor);
      EXPECT_EQ(bob->department, "legal");
      EXPECT_FALSE(bob->must_change_password);
      EXPECT_EQ(bob->password_changed_at, At(20));
      EXPECT_EQ(bob->failed_logins, 4);
      EXPECT_EQ(bob->locked_until, std::optional<domain::Time>(At(30)));
      EXPECT_TRUE(bob->disabled);
      EXPECT_EQ(bob->created_at, At(10));
    }
    CUSTOS_ASSIGN_OR_RETURN(auto nobody, tx.users().Find(domain::Username{"carol"}));
    EXPECT_FALSE(nobody.has_value());
    CUSTOS_ASSIGN_OR_RETURN(auto list, tx.users().List());
    EXPECT_EQ(list.size(), 2u);
    if (list.size() == 2) {
      EXPECT_EQ(list[0].username.value, "alice");
      EXPECT_EQ(list[1].username.value, "bob");
      EXPECT_FALSE(list[0].locked_until.has_value());
    }
    return Status::Ok();
  });
  // Unlocking clears locked_until.
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto bob, tx.users().Find(domain::Username{"bob"}));
    bob->locked_until.reset();
    return tx.users().Update(*bob);
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto bob, tx.users().Find(domain::Username{"bob"}));
    EXPECT_FALSE(bob->locked_until.has_value());
    return Status::Ok();
  });
}

TEST_P(StoreContract, SessionsInsertFindTouchDelete) {
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(MakeUser("alice", At(0))));
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(MakeUser("bob", At(0))));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert({"t1", domain::Username{"alice"}, At(1), At(1), At(100)}));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert({"t2", domain::Username{"alice"}, At(2), At(2), At(100)}));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert({"t3", domain::Username{"bob"}, At(3), At(3), At(100)}));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Touch("t1", At(50) + std::chrono::microseconds(700)));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Touch("missing", At(50)));  // no such session: no-op
    return tx.sessions().Delete("missing");
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto t1, tx.sessions().Find("t1"));
    EXPECT_TRUE(t1.has_value());
    if (t1) {
      EXPECT_EQ(t1->username.value, "alice");
      EXPECT_EQ(t1->created_at, At(1));
      EXPECT_EQ(t1->last_seen_at, At(50));
      EXPECT_EQ(t1->expires_at, At(100));
    }
    CUSTOS_ASSIGN_OR_RETURN(auto none, tx.sessions().Find("missing"));
    EXPECT_FALSE(none.has_value());
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Delete("t3"));
    return tx.sessions().DeleteForUser(domain::Username{"alice"});
  });
  MustRead([&](Transaction& tx) -> Status {
    for (const char* token : {"t1", "t2", "t3"}) {
      CUSTOS_ASSIGN_OR_RETURN(auto s, tx.sessions().Find(token));
      EXPECT_FALSE(s.has_value()) << token;
    }
    return Status::Ok();
  });
}

TEST_P(StoreContract, SessionOfUnknownUserOrDuplicateTokenIsDatabaseError) {
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(MakeUser("alice", At(0))));
    return tx.sessions().Insert({"t1", domain::Username{"alice"}, At(1), At(1), At(100)});
  });
  Status unknown = store_->Write([&](Transaction& tx) {
    return tx.sessions().Insert({"t2", domain::Username{"mallory"}, At(1), At(1), At(100)});
  });
  EXPECT_EQ(unknown.code(), ErrorCode::kInternal) << unknown.ToString();
  EXPECT_EQ(unknown.reason(), "database_error");
  Status dup = store_->Write([&](Transaction& tx) {
    return tx.sessions().Insert({"t1", domain::Username{"alice"}, At(5), At(5), At(100)});
  });
  EXPECT_EQ(dup.code(), ErrorCode::kInternal) << dup.ToString();
  EXPECT_EQ(dup.reason(), "database_error");
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto t1, tx.sessions().Find("t1"));
    EXPECT_TRUE(t1 && t1->created_at == At(1));  // the first one stays
    CUSTOS_ASSIGN_OR_RETURN(auto t2, tx.sessions().Find("t2"));
    EXPECT_FALSE(t2.has_value());
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ records

TEST_P(StoreContract, DuplicateRecordAndUpdateOfMissingRecord) {
  domain::Record r = MakeRecord("CT-2026-000001", "Supply contract");
  r.created_at = At(5) + std::chrono::microseconds(250);
  r.updated_at = At(5);
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
    Status dup = tx.records().Insert(r);
    EXPECT_EQ(dup.code(), ErrorCode::kConflict);
    EXPECT_EQ(dup.reason(), "record_exists");
    Status missing = tx.records().Update(MakeRecord("CT-2026-000002", "x"));
    EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
    EXPECT_EQ(missing.reason(), "record_not_found");
    return Status::Ok();
  });
  domain::Record changed = r;
  changed.type = domain::RecordType::kGeneral;
  changed.title = "Supply contract (amended)";
  changed.description = "steel";
  changed.department = "legal";
  changed.classification = domain::Classification::kConfidential;
  changed.custodian = "bob";
  changed.location = "Box 7";
  changed.metadata_json = R"({"counterparty":"ACME"})";
  changed.retention_class = "10y";
  changed.state = domain::RecordState::kOnHold;
  changed.created_at = At(900);    // ignored
  changed.created_by = "mallory";  // ignored
  changed.updated_at = At(60);
  MustWrite([&](Transaction& tx) { return tx.records().Update(changed); });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto got, tx.records().Find(r.id));
    EXPECT_TRUE(got.has_value());
    if (got) {
      EXPECT_EQ(got->type, domain::RecordType::kGeneral);
      EXPECT_EQ(got->title, "Supply contract (amended)");
      EXPECT_EQ(got->description, "steel");
      EXPECT_EQ(got->department, "legal");
      EXPECT_EQ(got->classification, domain::Classification::kConfidential);
      EXPECT_EQ(got->custodian, "bob");
      EXPECT_EQ(got->location, "Box 7");
      EXPECT_EQ(got->metadata_json, R"({"counterparty":"ACME"})");
      EXPECT_EQ(got->retention_class, "10y");
      EXPECT_EQ(got->state, domain::RecordState::kOnHold);
      EXPECT_EQ(got->created_at, At(5));
      EXPECT_EQ(got->created_by, "alice");
      EXPECT_EQ(got->updated_at, At(60));
    }
    CUSTOS_ASSIGN_OR_RETURN(auto none, tx.records().Find(domain::RecordId{"CT-2026-000002"}));
    EXPECT_FALSE(none.has_value());
    return Status::Ok();
  });
}

// Records for the search tests: created a millisecond apart, so newest first
// is the reverse of this order.
std::vector<domain::Record> Catalogue() {
  std::vector<domain::Record> v;
  auto add = [&](const std::string& id, const std::string& title, const std::string& description,
                 const std::string& metadata) {
    domain::Record r = MakeRecord(id, title);
    r.description = description;
    r.metadata_json = metadata;
    r.created_at = r.updated_at = At(static_cast<int64_t>(v.size()));
    v.push_back(r);
  };
  add("CT-2026-000001", "Steel Supply Agreement", "", "{}");
  add("CT-2026-000002", "Office lease", "Renewed yearly by ACME Holdings", "{}");
  add("CF-2026-000001", "Customer file", "", R"({"customer":"Zenith GmbH"})");
  add("GN-2026-000001", "100% sure", "", "{}");
  add("GN-2026-000002", "1000 units", "", "{}");
  add("GN-2026-000003", "a_b", "", "{}");
  add("GN-2026-000004", "axb", "", "{}");
  add("GN-2026-000005", "Q!1 report", "", "{}");
  return v;
}

TEST_P(StoreContract, SearchTextMatchesTitleDescriptionMetadataIgnoringCase) {
  InsertRecords(Catalogue());
  using V = std::vector<std::string>;
  EXPECT_EQ(SearchText("steel"), V{"CT-2026-000001"});
  EXPECT_EQ(SearchText("SUPPLY agr"), V{"CT-2026-000001"});
  EXPECT_EQ(SearchText("acme"), V{"CT-2026-000002"});
  EXPECT_EQ(SearchText("zenith"), V{"CF-2026-000001"});
  EXPECT_EQ(SearchText("nothing like it"), V{});
}

TEST_P(StoreContract, SearchTextMatchesArchiveNumber) {
  InsertRecords(Catalogue());
  using V = std::vector<std::string>;
  EXPECT_EQ(SearchText("CF-2026-000001"), V{"CF-2026-000001"});
  EXPECT_EQ(SearchText("ct-2026"), (V{"CT-2026-000001", "CT-2026-000002"}));
  EXPECT_EQ(SearchText("CF"), V{"CF-2026-000001"});  // short texts too
}

TEST_P(StoreContract, SearchFoldsUnicodeCaseForTextsOfThreeCharacters) {
  InsertRecords({MakeRecord("CT-2026-000001", "采购合同书"),
                 MakeRecord("CT-2026-000002", "Vertrag über Stahl"),
                 MakeRecord("CT-2026-000003", "Договор поставки"),
                 MakeRecord("CT-2026-000004", "σοφός λόγος")});
  using V = std::vector<std::string>;
  EXPECT_EQ(SearchText("合同书"), V{"CT-2026-000001"});
  EXPECT_EQ(SearchText("ÜBER"), V{"CT-2026-000002"});
  EXPECT_EQ(SearchText("ДОГОВОР"), V{"CT-2026-000003"});
  EXPECT_EQ(SearchText("ΣΟΦΌΣ"), V{"CT-2026-000004"});  // final sigma folds to sigma
  EXPECT_EQ(SearchText("ΌΣ Λ"), V{"CT-2026-000004"});  // spaces are characters too
}

TEST_P(StoreContract, SearchMatchesShortNonAsciiText) {
  InsertRecords({MakeRecord("CT-2026-000001", "采购合同书"),
                 MakeRecord("CT-2026-000002", "Vertrag über Stahl")});
  using V = std::vector<std::string>;
  EXPECT_EQ(SearchText("合同"), V{"CT-2026-000001"});  // two characters, six bytes
  EXPECT_EQ(SearchText("合"), V{"CT-2026-000001"});
  // Texts shorter than three characters go through LIKE, which folds ASCII
  // only.
  EXPECT_EQ(SearchText("üb"), V{"CT-2026-000002"});
  EXPECT_EQ(SearchText("ÜB"), V{});
}

TEST_P(StoreContract, SearchTreatsLikeMetacharactersLiterally) {
  InsertRecords(Catalogue());
  using V = std::vector<std::string>;
  EXPECT_EQ(SearchText("100%"), V{"GN-2026-000001"});
  EXPECT_EQ(SearchText("0%"), V{"GN-2026-000001"});
  EXPECT_EQ(SearchText("a_b"), V{"GN-2026-000003"});
  EXPECT_EQ(SearchText("_"), V{"GN-2026-000003"});
  EXPECT_EQ(SearchText("Q!1"), V{"GN-2026-000005"});
  EXPECT_EQ(SearchText("!"), V{"GN-2026-000005"});
  EXPECT_EQ(SearchText("%"), V{"GN-2026-000001"});
}

// The content index's records (RecordQuery::text_matched_ids) are ORed
// with the store's own match; text_scan false leaves only them and the
// archive number, and filters and clearance still apply to them.
TEST_P(StoreContract, SearchOrsContentIndexMatchesAndSkipsTheScanWhenTold) {
  InsertRecords(Catalogue());
  using V = std::vector<std::string>;
  auto search = [&](const std::string& text, std::vector<std::string> ids, bool scan) {
    domain::RecordQuery q;
    q.text = text;
    q.text_scan = scan;
    for (const std::string& id : ids) q.text_matched_ids.push_back(domain::RecordId{id});
    auto out = Ids(Search(q));
    std::sort(out.begin(), out.end());
    return out;
  };
  // Scan and ids: the catalogue's match OR the index's, short (LIKE) and
  // long (full-text index) texts alike.
  EXPECT_EQ(search("steel", {"GN-2026-000004"}, true), (V{"CT-2026-000001", "GN-2026-000004"}));
  EXPECT_EQ(search("axb", {"CT-2026-000002"}, true), (V{"CT-2026-000002", "GN-2026-000004"}));
  EXPECT_EQ(search("价格调整", {"CF-2026-000001"}, true), (V{"CF-2026-000001"}));
  // No scan: the catalogue's words alone find nothing, the ids do.
  EXPECT_EQ(search("steel", {}, false), V{});
  EXPECT_EQ(search("steel", {"CT-2026-000002"}, false), V{"CT-2026-000002"});
  EXPECT_EQ(search("ax", {}, false), V{});
  // ...but the archive number is still matched.
  EXPECT_EQ(search("ct-2026", {}, false), (V{"CT-2026-000001", "CT-2026-000002"}));
  EXPECT_EQ(search("CF-2026-000001", {"GN-2026-000001"}, false), (V{"CF-2026-000001", "GN-2026-000001"}));
  // An id that does not exist is no record; filters still restrict ids.
  EXPECT_EQ(search("steel", {"XX-2026-000009"}, false), V{});
  domain::RecordQuery q;
  q.text = "steel";
  q.text_scan = false;
  q.text_matched_ids = {domain::RecordId{"CT-2026-000001"}, domain::RecordId{"GN-2026-000001"}};
  q.department = "hr";  // every catalogue record is of "sales"
  EXPECT_EQ(Ids(Search(q)), V{});
  q.department = "sales";
  q.allowed_classifications = {domain::Classification::kPublic};  // they are internal
  EXPECT_EQ(Ids(Search(q)), V{});
  q.allowed_classifications.clear();
  EXPECT_EQ(Ids(Search(q)), (V{"GN-2026-000001", "CT-2026-000001"}));
  // Without a text the ids are no filter at all.
  domain::RecordQuery all;
  all.text_matched_ids = {domain::RecordId{"CT-2026-000001"}};
  EXPECT_EQ(Search(all).total, Catalogue().size());
  // The page is ordered newest first as any other.
  EXPECT_EQ(Ids(Search([] {
              domain::RecordQuery x;
              x.text = "zz";
              x.text_scan = false;
              x.text_matched_ids = {domain::RecordId{"CT-2026-000001"}, domain::RecordId{"GN-2026-000005"},
                                    domain::RecordId{"CT-2026-000002"}};
              return x;
            }())),
            (V{"GN-2026-000005", "CT-2026-000002", "CT-2026-000001"}));
}

// Bounded by the index's ids alone, the count comes with the page
// (COUNT(*) OVER ()): the same total on every page, past the last page
// too, an id without a record not counted, and the filters applied first.
TEST_P(StoreContract, SearchByIndexIdsAloneCountsTheSameOnEveryPage) {
  std::vector<domain::Record> catalogue = Catalogue();
  catalogue[2].type = domain::RecordType::kCustomerFile;
  catalogue[5].type = domain::RecordType::kCustomerFile;
  InsertRecords(catalogue);
  const size_t n = catalogue.size();
  domain::RecordQuery q;
  q.text = "zz";
  q.text_scan = false;
  for (const domain::Record& r : catalogue) q.text_matched_ids.push_back(r.id);
  q.text_matched_ids.push_back(domain::RecordId{"XX-2026-000009"});  // no such record
  q.page_size = 2;
  std::vector<std::string> seen;
  for (int page = 1; page <= static_cast<int>(n / 2) + 2; ++page) {
    q.page = page;
    domain::RecordPage p = Search(q);
    EXPECT_EQ(p.total, n) << "page " << page;
    EXPECT_TRUE(p.total_exact) << "page " << page;
    const size_t first = static_cast<size_t>(page - 1) * 2;
    EXPECT_EQ(p.records.size(), first >= n ? 0 : std::min<size_t>(2, n - first)) << "page " << page;
    for (const std::string& id : Ids(p)) seen.push_back(id);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), n);
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
  q.page = 1;
  q.department = "hr";  // every catalogue record is of "sales"
  domain::RecordPage none = Search(q);
  EXPECT_EQ(none.total, 0u);
  EXPECT_TRUE(none.records.empty());
  q.department.clear();
  q.type = domain::RecordType::kContract;
  q.page_size = 1;
  q.page = 1;
  domain::RecordPage contracts = Search(q);
  size_t expected = 0;
  for (const domain::Record& r : catalogue) expected += r.type == domain::RecordType::kContract;
  ASSERT_EQ(expected, n - 2);
  EXPECT_EQ(contracts.total, expected);
  EXPECT_EQ(contracts.records.size(), 1u);
}

TEST_P(StoreContract, SearchFiltersAndClearance) {
  std::vector<domain::Record> records = Catalogue();
  records[0].type = domain::RecordType::kContract;
  records[0].classification = domain::Classification::kSecret;
  records[0].metadata_json = R"({"endDate":"2027-01-31"})";
  records[1].department = "legal";
  records[1].state = domain::RecordState::kOnHold;
  records[1].metadata_json = R"({"endDate":"2026-12-31"})";
  records[2].type = domain::RecordType::kCustomerFile;
  records[2].classification = domain::Classification::kPublic;
  records[3].type = domain::RecordType::kQualification;
  records[3].metadata_json = R"({"validUntil":"2026-12-01"})";
  InsertRecords(records);
  auto ids = [&](const domain::RecordQuery& q) {
    auto v = Ids(Search(q));
    std::sort(v.begin(), v.end());
    return v;
  };
  using V = std::vector<std::string>;
  domain::RecordQuery q;
  q.type = domain::RecordType::kCustomerFile;
  EXPECT_EQ(ids(q), V{"CF-2026-000001"});
  q = {};
  q.department = "legal";
  EXPECT_EQ(ids(q), V{"CT-2026-000002"});
  q = {};
  q.classification = domain::Classification::kSecret;
  EXPECT_EQ(ids(q), V{"CT-2026-000001"});
  q = {};
  q.state = domain::RecordState::kOnHold;
  EXPECT_EQ(ids(q), V{"CT-2026-000002"});
  q = {};
  q.allowed_classifications = {domain::Classification::kPublic, domain::Classification::kInternal};
  EXPECT_EQ(Search(q).total, records.size() - 1);  // the secret one is hidden
  q.text = "steel";
  EXPECT_EQ(ids(q), V{});
  q = {};
  q.created_from = At(2);
  q.created_to = At(3);
  EXPECT_EQ(ids(q), (V{"CF-2026-000001", "GN-2026-000001"}));
  q = {};
  q.expiring_by = "2026-12-31";
  EXPECT_EQ(ids(q), (V{"CT-2026-000002", "GN-2026-000001"}));
  q.type = domain::RecordType::kContract;
  q.department = "legal";
  EXPECT_EQ(ids(q), V{"CT-2026-000002"});
}

TEST_P(StoreContract, SearchOrdersNewestFirstThenIdDescending) {
  std::vector<domain::Record> records = Catalogue();
  records[4].created_at = records[5].created_at = records[6].created_at = At(100);
  InsertRecords(records);
  domain::RecordQuery q;
  EXPECT_EQ(Ids(Search(q)),
            (std::vector<std::string>{"GN-2026-000004", "GN-2026-000003", "GN-2026-000002",
                                      "GN-2026-000005", "GN-2026-000001", "CF-2026-000001",
                                      "CT-2026-000002", "CT-2026-000001"}));
}

// sort=: by a column or a metadata field, either direction, records
// without the value last both ways, ties by archive number, and pages that
// neither overlap nor skip; amounts by value, not as text.
TEST_P(StoreContract, SearchSortsByColumnsAndMetadataWithMissingValuesLast) {
  std::vector<domain::Record> v;
  auto add = [&](const std::string& id, const std::string& title, const std::string& metadata) {
    domain::Record r = MakeRecord(id, title);
    r.metadata_json = metadata;
    r.created_at = r.updated_at = At(static_cast<int64_t>(v.size()));
    v.push_back(r);
  };
  add("CT-2026-000001", "供货合同 Stahl", R"({"counterparty":"Zenith GmbH","amount":"900.5","endDate":"2027-01-31"})");
  add("CT-2026-000002", "Agreement 采购", R"({"counterparty":"阿里巴巴","amount":"10000","endDate":"2026-06-30"})");
  add("CT-2026-000003", "lease", R"({"counterparty":"ACME","amount":"75"})");
  add("CT-2026-000004", "Board minutes", "{}");
  add("CT-2026-000005", "Zeta report", R"({"counterparty":"","endDate":"2026-06-30"})");
  InsertRecords(v);
  auto sorted = [&](const std::string& key, bool descending, int page = 1, int size = 50) {
    domain::RecordQuery q;
    q.sort = key;
    q.descending = descending;
    q.page = page;
    q.page_size = size;
    return Ids(Search(q));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(sorted("id", false), (V{"CT-2026-000001", "CT-2026-000002", "CT-2026-000003", "CT-2026-000004",
                                    "CT-2026-000005"}));
  EXPECT_EQ(sorted("id", true), (V{"CT-2026-000005", "CT-2026-000004", "CT-2026-000003", "CT-2026-000002",
                                   "CT-2026-000001"}));
  EXPECT_EQ(sorted("createdAt", false).front(), "CT-2026-000001");
  EXPECT_EQ(sorted("createdAt", true).front(), "CT-2026-000005");
  // Amounts as numbers: 75 < 900.5 < 10000 (as text "10000" < "75" < "900.5").
  EXPECT_EQ(sorted("amount", false), (V{"CT-2026-000003", "CT-2026-000001", "CT-2026-000002", "CT-2026-000004",
                                        "CT-2026-000005"}));
  EXPECT_EQ(sorted("amount", true), (V{"CT-2026-000002", "CT-2026-000001", "CT-2026-000003", "CT-2026-000005",
                                       "CT-2026-000004"}));
  // An empty value counts as missing; equal end dates tie by archive number.
  EXPECT_EQ(sorted("endDate", false), (V{"CT-2026-000002", "CT-2026-000005", "CT-2026-000001", "CT-2026-000003",
                                         "CT-2026-000004"}));
  V counterparty = sorted("counterparty", false);
  ASSERT_EQ(counterparty.size(), 5u);
  EXPECT_EQ(V(counterparty.begin(), counterparty.begin() + 3),
            (V{"CT-2026-000003", "CT-2026-000001", "CT-2026-000002"}));  // ACME, Zenith GmbH, 阿里巴巴
  // Pages of two under a sort: together the whole order, once each.
  V paged;
  for (int p = 1; p <= 3; ++p) {
    V one = sorted("endDate", false, p, 2);
    paged.insert(paged.end(), one.begin(), one.end());
  }
  EXPECT_EQ(paged, sorted("endDate", false));
  // With a text query and a filter the sort still holds.
  domain::RecordQuery q;
  q.text = "合同";
  q.sort = "title";
  EXPECT_EQ(Ids(Search(q)), V{"CT-2026-000001"});
  q.text = "";
  q.sort = "title";
  q.descending = true;
  q.type = domain::RecordType::kContract;
  V titles = Ids(Search(q));
  ASSERT_EQ(titles.size(), 5u);
  EXPECT_EQ(titles.front(), "CT-2026-000001");  // 供货合同 after every Latin title
  EXPECT_EQ(titles.back(), "CT-2026-000002");   // Agreement
}

TEST_P(StoreContract, SearchRefusesAnUnknownSortKeyAsInvalidSort) {
  InsertRecords(Catalogue());
  for (const std::string key : {"created_at", "metadata_json", "title; DROP TABLE records", "customer", "Title"}) {
    domain::RecordQuery q;
    q.sort = key;
    MustRead([&](Transaction& tx) -> Status {
      auto page = tx.records().Search(q);
      EXPECT_FALSE(page.ok()) << key;
      if (!page.ok()) {
        EXPECT_EQ(page.status().reason(), "invalid_sort") << key;
      }
      return Status::Ok();
    });
  }
  EXPECT_EQ(SearchText("steel"), std::vector<std::string>{"CT-2026-000001"});
}

// Counting stops at kMaxCountedMatches; the pages go on past it, newest
// first, the same with and without a text query.
TEST_P(StoreContract, SearchCountsUpToTheCapAndPagesOnBeyondIt) {
  std::vector<domain::Record> records;
  const int n = static_cast<int>(domain::kMaxCountedMatches) + 3;
  for (int i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "GN-2026-%06d", i + 1);
    domain::Record r = MakeRecord(id, i % 2 ? "bulk even" : "bulk odd");
    r.created_at = r.updated_at = At(i);
    records.push_back(r);
  }
  InsertRecords(records);
  for (const char* text : {"", "bulk"}) {
    domain::RecordQuery q;
    q.text = text;
    q.page_size = 50;
    domain::RecordPage page = Search(q);
    EXPECT_EQ(page.total, domain::kMaxCountedMatches) << text;
    EXPECT_FALSE(page.total_exact) << text;
    EXPECT_EQ(page.records.front().id.value, "GN-2026-001003") << text;
    q.page = static_cast<int>(domain::kMaxCountedMatches / 50) + 1;  // past the counted ones
    EXPECT_EQ(Ids(Search(q)), (std::vector<std::string>{"GN-2026-000003", "GN-2026-000002",
                                                        "GN-2026-000001"}))
        << text;
  }
  domain::RecordQuery few;
  few.text = "bulk odd";
  few.created_from = At(n - 6);
  domain::RecordPage page = Search(few);
  EXPECT_EQ(page.total, 3u);
  EXPECT_TRUE(page.total_exact);
}

TEST_P(StoreContract, PaginationClampsPageSizeAndPage) {
  std::vector<domain::Record> records;
  for (int i = 0; i < 503; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "GN-2026-%06d", i + 1);
    domain::Record r = MakeRecord(id, "bulk");
    r.created_at = r.updated_at = At(i);
    records.push_back(r);
  }
  InsertRecords(records);
  domain::RecordQuery q;
  q.page_size = 2;
  q.page = 2;
  domain::RecordPage page = Search(q);
  EXPECT_EQ(page.total, 503u);
  EXPECT_EQ(Ids(page), (std::vector<std::string>{"GN-2026-000501", "GN-2026-000500"}));
  q.page = 0;  // treated as 1
  EXPECT_EQ(Ids(Search(q)), (std::vector<std::string>{"GN-2026-000503", "GN-2026-000502"}));
  q.page = -3;
  EXPECT_EQ(Ids(Search(q)).size(), 2u);
  q.page_size = 0;  // clamped to 1
  q.page = 1;
  EXPECT_EQ(Ids(Search(q)), std::vector<std::string>{"GN-2026-000503"});
  q.page_size = -5;
  EXPECT_EQ(Search(q).records.size(), 1u);
  q.page_size = 10000;  // clamped to 500
  EXPECT_EQ(Search(q).records.size(), 500u);
  q.page = 2;
  page = Search(q);
  EXPECT_EQ(Ids(page), (std::vector<std::string>{"GN-2026-000003", "GN-2026-000002",
                                                 "GN-2026-000001"}));
  q.page = 1000000;  // past the end
  page = Search(q);
  EXPECT_TRUE(page.records.empty());
  EXPECT_EQ(page.total, 503u);
}

TEST_P(StoreContract, NextSequenceCountsPerTypeAndYear) {
  MustWrite([&](Transaction& tx) -> Status {
    for (uint64_t want : {1u, 2u, 3u}) {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.records().NextSequence(domain::RecordType::kContract, 2026));
      EXPECT_EQ(n, want);
    }
    CUSTOS_ASSIGN_OR_RETURN(uint64_t other_year,
                            tx.records().NextSequence(domain::RecordType::kContract, 2027));
    CUSTOS_ASSIGN_OR_RETURN(uint64_t other_type,
                            tx.records().NextSequence(domain::RecordType::kQualification, 2026));
    EXPECT_EQ(other_year, 1u);
    EXPECT_EQ(other_type, 1u);
    return Status::Ok();
  });
  // A failed write gives its numbers back: no gaps.
  Status s = store_->Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.records().NextSequence(domain::RecordType::kContract, 2026));
    EXPECT_EQ(n, 4u);
    return Conflict("abandoned", "test_abort");
  });
  EXPECT_EQ(s.reason(), "test_abort");
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.records().NextSequence(domain::RecordType::kContract, 2026));
    EXPECT_EQ(n, 4u);
    return Status::Ok();
  });
}

TEST_P(StoreContract, ForEachVisitsRecordsInIdOrderAndStopsAtFirstError) {
  std::vector<domain::Record> records = Catalogue();
  InsertRecords(records);
  std::vector<std::string> want;
  for (const domain::Record& r : records) want.push_back(r.id.value);
  std::sort(want.begin(), want.end());
  MustRead([&](Transaction& tx) -> Status {
    std::vector<std::string> seen;
    CUSTOS_RETURN_IF_ERROR(tx.records().ForEach([&](const domain::Record& r) {
      seen.push_back(r.id.value);
      return Status::Ok();
    }));
    EXPECT_EQ(seen, want);
    seen.clear();
    Status st = tx.records().ForEach([&](const domain::Record& r) {
      seen.push_back(r.id.value);
      return seen.size() == 3 ? DataLoss("bad row", "test_stop") : Status::Ok();
    });
    EXPECT_EQ(st.reason(), "test_stop");
    EXPECT_EQ(seen.size(), 3u);
    return Status::Ok();
  });
}

// --------------------------------------------------------- versions, files

TEST_P(StoreContract, VersionsComeBackByNumberWithFilesInInsertionOrder) {
  InsertRecords({MakeRecord("CT-2026-000001", "a"), MakeRecord("CT-2026-000002", "b")});
  domain::StoredFile f9 = MakeFile("f9", "b9", "first.pdf");
  f9.record_id = domain::RecordId{"ignored"};  // the version's record and number win
  f9.version = 77;
  f9.signature.status = "valid";
  f9.signature.signer = "CN=Alice";
  f9.signature.signing_time = At(3) + std::chrono::microseconds(400);
  f9.signature.reason = "ok";
  domain::StoredFile f1 = MakeFile("f1", "b1", "second.pdf");
  f1.sm3 = "cd";
  f1.wrapped_dek.clear();
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.versions().Insert(MakeVersion("CT-2026-000001", 2, {MakeFile("f5", "b5", "v2.pdf")})));
    CUSTOS_RETURN_IF_ERROR(tx.versions().Insert(MakeVersion("CT-2026-000001", 1, {f9, f1})));
    CUSTOS_RETURN_IF_ERROR(tx.versions().Insert(MakeVersion("CT-2026-000002", 1, {})));
    Status dup = tx.versions().Insert(MakeVersion("CT-2026-000001", 1, {}));
    EXPECT_EQ(dup.code(), ErrorCode::kConflict);
    EXPECT_EQ(dup.reason(), "version_exists");
    Status orphan = tx.versions().Insert(MakeVersion("CT-2026-999999", 1, {}));
    EXPECT_EQ(orphan.code(), ErrorCode::kNotFound);
    EXPECT_EQ(orphan.reason(), "record_not_found");
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto list, tx.versions().List(domain::RecordId{"CT-2026-000001"}));
    EXPECT_EQ(list.size(), 2u);
    if (list.size() != 2) return Status::Ok();
    EXPECT_EQ(list[0].number, 1);
    EXPECT_EQ(list[1].number, 2);
    EXPECT_EQ(list[0].created_at, At(1));
    EXPECT_EQ(list[0].created_by, "alice");
    EXPECT_EQ(list[0].manifest_hash, "ab");
    EXPECT_EQ(list[0].log_index, 7u);
    EXPECT_EQ(list[0].kind, domain::VersionKind::kOriginal);
    EXPECT_EQ(list[0].files.size(), 2u);
    if (list[0].files.size() == 2) {
      const domain::StoredFile& a = list[0].files[0];
      EXPECT_EQ(a.id.value, "f9");
      EXPECT_EQ(a.record_id.value, "CT-2026-000001");
      EXPECT_EQ(a.version, 1);
      EXPECT_EQ(a.name, "first.pdf");
      EXPECT_EQ(a.wrapped_dek, (std::vector<uint8_t>{1, 2, 3}));
      EXPECT_EQ(a.signature.status, "valid");
      EXPECT_EQ(a.signature.signer, "CN=Alice");
      EXPECT_EQ(a.signature.signing_time, std::optional<domain::Time>(At(3)));
      EXPECT_EQ(a.signature.reason, "ok");
      const domain::StoredFile& b = list[0].files[1];
      EXPECT_EQ(b.id.value, "f1");
      EXPECT_EQ(b.sm3, "cd");
      EXPECT_TRUE(b.wrapped_dek.empty());
      EXPECT_EQ(b.signature.status, "none");
      EXPECT_FALSE(b.signature.signing_time.has_value());
    }
    EXPECT_EQ(list[1].files.size(), 1u);
    CUSTOS_ASSIGN_OR_RETURN(auto v2, tx.versions().Find(domain::RecordId{"CT-2026-000001"}, 2));
    EXPECT_TRUE(v2 && v2->files.size() == 1 && v2->files[0].id.value == "f5");
    CUSTOS_ASSIGN_OR_RETURN(auto empty, tx.versions().Find(domain::RecordId{"CT-2026-000002"}, 1));
    EXPECT_TRUE(empty && empty->files.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto none, tx.versions().Find(domain::RecordId{"CT-2026-000001"}, 3));
    EXPECT_FALSE(none.has_value());
    CUSTOS_ASSIGN_OR_RETURN(auto no_record, tx.versions().List(domain::RecordId{"CT-2026-999999"}));
    EXPECT_TRUE(no_record.empty());
    return Status::Ok();
  });
}

TEST_P(StoreContract, FileKeysRotateAndShredAndFilesAreVisitedInIdOrder) {
  InsertRecords({MakeRecord("CT-2026-000001", "a")});
  MustWrite([&](Transaction& tx) {
    return tx.versions().Insert(MakeVersion(
        "CT-2026-000001", 1,
        {MakeFile("f3", "b3", "x"), MakeFile("f1", "b1", "y"), MakeFile("f2", "b2", "z")}));
  });
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.versions().SetFileKey(domain::FileId{"f1"}, "kek-2", {9, 9}));
    CUSTOS_RETURN_IF_ERROR(tx.versions().SetFileKey(domain::FileId{"f2"}, "kek-2", {}));  // shredded
    Status missing = tx.versions().SetFileKey(domain::FileId{"nope"}, "kek-2", {1});
    EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
    EXPECT_EQ(missing.reason(), "file_not_found");
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    std::vector<domain::StoredFile> files;
    CUSTOS_RETURN_IF_ERROR(tx.versions().ForEachFile([&](const domain::StoredFile& f) {
      files.push_back(f);
      return Status::Ok();
    }));
    EXPECT_EQ(files.size(), 3u);
    if (files.size() == 3) {
      EXPECT_EQ(files[0].id.value, "f1");
      EXPECT_EQ(files[0].kek_id, "kek-2");
      EXPECT_EQ(files[0].wrapped_dek, (std::vector<uint8_t>{9, 9}));
      EXPECT_EQ(files[1].id.value, "f2");
      EXPECT_TRUE(files[1].wrapped_dek.empty());
      EXPECT_EQ(files[2].id.value, "f3");
      EXPECT_EQ(files[2].kek_id, "kek-1");
      EXPECT_EQ(files[2].record_id.value, "CT-2026-000001");
    }
    int visited = 0;
    Status st = tx.versions().ForEachFile([&](const domain::StoredFile&) {
      return ++visited == 2 ? DataLoss("stop", "test_stop") : Status::Ok();
    });
    EXPECT_EQ(st.reason(), "test_stop");
    EXPECT_EQ(visited, 2);
    CUSTOS_ASSIGN_OR_RETURN(bool b1, tx.versions().BlobReferenced(domain::BlobId{"b1"}));
    CUSTOS_ASSIGN_OR_RETURN(bool b4, tx.versions().BlobReferenced(domain::BlobId{"b4"}));
    EXPECT_TRUE(b1);
    EXPECT_FALSE(b4);
    return Status::Ok();
  });
}

TEST_P(StoreContract, DuplicateFileOrBlobIdIsDatabaseErrorAndRollsBack) {
  InsertRecords({MakeRecord("CT-2026-000001", "a")});
  MustWrite([&](Transaction& tx) {
    return tx.versions().Insert(MakeVersion("CT-2026-000001", 1, {MakeFile("f1", "b1", "x")}));
  });
  Status same_blob = store_->Write([&](Transaction& tx) {
    return tx.versions().Insert(MakeVersion("CT-2026-000001", 2, {MakeFile("f2", "b1", "x")}));
  });
  EXPECT_EQ(same_blob.code(), ErrorCode::kInternal) << same_blob.ToString();
  EXPECT_EQ(same_blob.reason(), "database_error");
  Status same_file = store_->Write([&](Transaction& tx) {
    return tx.versions().Insert(MakeVersion("CT-2026-000001", 2, {MakeFile("f1", "b2", "x")}));
  });
  EXPECT_EQ(same_file.code(), ErrorCode::kInternal) << same_file.ToString();
  EXPECT_EQ(same_file.reason(), "database_error");
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto v2, tx.versions().Find(domain::RecordId{"CT-2026-000001"}, 2));
    EXPECT_FALSE(v2.has_value());  // the failed writes left no version row
    CUSTOS_ASSIGN_OR_RETURN(bool b2, tx.versions().BlobReferenced(domain::BlobId{"b2"}));
    EXPECT_FALSE(b2);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------- log

TEST_P(StoreContract, EmptyLogHasNoCheckpointAndTheEmptyRoot) {
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 0u);
    Status none = tx.log().LatestCheckpoint().status();
    EXPECT_EQ(none.code(), ErrorCode::kNotFound);
    EXPECT_EQ(none.reason(), "no_checkpoint");
    CUSTOS_ASSIGN_OR_RETURN(auto checkpoints, tx.log().Checkpoints());
    EXPECT_TRUE(checkpoints.empty());
    CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 root, tx.log().RootAt(0));
    EXPECT_EQ(root, merkle::EmptyRoot());
    EXPECT_EQ(tx.log().RootAt(1).status().reason(), "proof_bad_sizes");
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 10, 10));
    EXPECT_TRUE(entries.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto nodes, tx.log().NodesAtLevel(0, 0, 10));
    EXPECT_TRUE(nodes.empty());
    return Status::Ok();
  });
}

TEST_P(StoreContract, AppendedLeavesFormAHashChainWithEntriesBySubject) {
  MustWrite([&](Transaction& tx) -> Status {
    for (int i = 0; i < 3; ++i) {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(FixedEvent("s" + std::to_string(i % 3), i)));
      EXPECT_EQ(index, static_cast<uint64_t>(i));
    }
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 3u);  // the transaction sees its own appends
    return Status::Ok();
  });
  AppendEach(3, 10);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 10u);
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 10, 100));
    EXPECT_EQ(entries.size(), 10u);
    std::optional<crypto::Digest32> prev;
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ(entries[i].index, i);
      EXPECT_EQ(entries[i].leaf_hash, merkle::HashLeaf(entries[i].leaf));
      CUSTOS_ASSIGN_OR_RETURN(DecodedLeaf leaf, DecodeLeaf(entries[i].leaf));
      CUSTOS_RETURN_IF_ERROR(CheckChainLink(leaf, i, prev));
      EXPECT_EQ(leaf.event.subject, "s" + std::to_string(i % 3));
      EXPECT_EQ(leaf.event.at, At(static_cast<int64_t>(i)));
      prev = entries[i].leaf_hash;
    }
    // [start, end) clamped to the size, at most `limit`.
    CUSTOS_ASSIGN_OR_RETURN(auto middle, tx.log().Entries(4, 7, 100));
    EXPECT_EQ(middle.size(), 3u);
    if (middle.size() == 3) {
      EXPECT_EQ(middle[0].index, 4u);
    }
    CUSTOS_ASSIGN_OR_RETURN(auto limited, tx.log().Entries(2, 10, 2));
    EXPECT_EQ(limited.size(), 2u);
    if (limited.size() == 2) {
      EXPECT_EQ(limited[1].index, 3u);
    }
    CUSTOS_ASSIGN_OR_RETURN(auto clamped, tx.log().Entries(8, 1000, 100));
    EXPECT_EQ(clamped.size(), 2u);
    CUSTOS_ASSIGN_OR_RETURN(auto past, tx.log().Entries(12, 20, 100));
    EXPECT_TRUE(past.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto backwards, tx.log().Entries(5, 3, 100));
    EXPECT_TRUE(backwards.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto none, tx.log().Entries(0, 10, 0));
    EXPECT_TRUE(none.empty());
    // By subject: s1 holds entries 1, 4, 7.
    CUSTOS_ASSIGN_OR_RETURN(auto s1, tx.log().EntriesForSubject("s1", 100));
    EXPECT_EQ(s1.size(), 3u);
    if (s1.size() == 3) {
      EXPECT_EQ(s1[0].index, 1u);
      EXPECT_EQ(s1[2].index, 7u);
      EXPECT_EQ(s1[1].leaf, entries[4].leaf);
      EXPECT_EQ(s1[1].leaf_hash, entries[4].leaf_hash);
    }
    CUSTOS_ASSIGN_OR_RETURN(auto s1_limited, tx.log().EntriesForSubject("s1", 2));
    EXPECT_EQ(s1_limited.size(), 2u);
    CUSTOS_ASSIGN_OR_RETURN(auto nobody, tx.log().EntriesForSubject("s9", 100));
    EXPECT_TRUE(nobody.empty());
    return Status::Ok();
  });
}

TEST_P(StoreContract, LogArgumentsNearTheLimitsAreClampedNotWrapped) {
  AppendEach(0, 3);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto to_max, tx.log().Entries(0, UINT64_MAX, 10));
    EXPECT_EQ(to_max.size(), 3u);
    CUSTOS_ASSIGN_OR_RETURN(auto no_limit, tx.log().Entries(0, 10, SIZE_MAX));
    EXPECT_EQ(no_limit.size(), 3u);
    CUSTOS_ASSIGN_OR_RETURN(auto far, tx.log().Entries(uint64_t{1} << 63, UINT64_MAX, 10));
    EXPECT_TRUE(far.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto subject, tx.log().EntriesForSubject("s0", SIZE_MAX));
    EXPECT_EQ(subject.size(), 1u);
    CUSTOS_ASSIGN_OR_RETURN(auto nodes, tx.log().NodesAtLevel(0, 0, SIZE_MAX));
    EXPECT_EQ(nodes.size(), 3u);
    CUSTOS_ASSIGN_OR_RETURN(auto far_nodes, tx.log().NodesAtLevel(0, uint64_t{1} << 63, 10));
    EXPECT_TRUE(far_nodes.empty());
    EXPECT_EQ(tx.log().InclusionProof(UINT64_MAX, 3).status().reason(), "proof_index_out_of_range");
    return Status::Ok();
  });
}

// The verifier walks the log through the Scan functions: they must hand
// over exactly the rows of Entries and NodesAtLevel, a redacted entry and
// clamped arguments included, and stop at the visitor's first error.
TEST_P(StoreContract, ScansVisitTheRowsOfEntriesAndNodesAtLevel) {
  AppendEach(0, 11);
  MustWrite([&](Transaction& tx) { return tx.log().Redact(4); });
  MustRead([&](Transaction& tx) -> Status {
    for (auto [start, end, limit] : {std::tuple<uint64_t, uint64_t, size_t>{0, 11, 100}, {3, 9, 4},
                                     {0, UINT64_MAX, SIZE_MAX}, {10, 11, 5}, {uint64_t{1} << 63, UINT64_MAX, 10}}) {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<LogEntry> want, tx.log().Entries(start, end, limit));
      std::vector<LogEntry> got;
      CUSTOS_RETURN_IF_ERROR(tx.log().ScanEntries(start, end, limit, [&](const LogEntryView& e) -> Status {
        got.push_back({e.index, std::string(e.leaf), e.leaf_hash, std::string(e.subject)});
        EXPECT_EQ(e.redacted(), e.index == 4);
        return Status::Ok();
      }));
      EXPECT_EQ(got.size(), want.size()) << start;
      for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
        EXPECT_EQ(got[i].index, want[i].index);
        EXPECT_EQ(got[i].leaf, want[i].leaf);
        EXPECT_EQ(got[i].leaf_hash, want[i].leaf_hash);
        EXPECT_EQ(got[i].subject, want[i].subject);
      }
    }
    for (uint32_t level = 0; level < 5; ++level) {
      for (auto [from, limit] : {std::pair<uint64_t, size_t>{0, 100}, {1, 2}, {0, SIZE_MAX}, {uint64_t{1} << 63, 10}}) {
        CUSTOS_ASSIGN_OR_RETURN(auto want, tx.log().NodesAtLevel(level, from, limit));
        std::vector<std::pair<uint64_t, crypto::Digest32>> got;
        CUSTOS_RETURN_IF_ERROR(tx.log().ScanNodesAtLevel(level, from, limit,
                                                         [&](uint64_t k, const crypto::Digest32& h) -> Status {
                                                           got.emplace_back(k, h);
                                                           return Status::Ok();
                                                         }));
        EXPECT_EQ(got, want) << level << "/" << from;
      }
    }
    int entries_seen = 0;
    Status stopped = tx.log().ScanEntries(0, 11, 100, [&](const LogEntryView&) -> Status {
      return ++entries_seen == 2 ? Internal("the visitor's own failure", "visitor_failed") : Status::Ok();
    });
    EXPECT_EQ(stopped.reason(), "visitor_failed");
    EXPECT_EQ(entries_seen, 2);
    int nodes_seen = 0;
    stopped = tx.log().ScanNodesAtLevel(0, 0, 100, [&](uint64_t, const crypto::Digest32&) -> Status {
      ++nodes_seen;
      return Internal("the visitor's own failure", "visitor_failed");
    });
    EXPECT_EQ(stopped.reason(), "visitor_failed");
    EXPECT_EQ(nodes_seen, 1);
    return Status::Ok();
  });
}

TEST_P(StoreContract, InvalidEventFailsTheAppendAndLeavesNoLeaf) {
  Status s = store_->Write([&](Transaction& tx) {
    LogEvent e = FixedEvent("s", 0);
    e.action = "NotDotted";
    return tx.log().Append(e).status();
  });
  EXPECT_EQ(s.reason(), "leaf_invalid_event");
  AppendEach(0, 1);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 10, 10));
    EXPECT_EQ(entries.size(), 1u);
    if (!entries.empty()) {
      CUSTOS_ASSIGN_OR_RETURN(DecodedLeaf leaf, DecodeLeaf(entries[0].leaf));
      EXPECT_EQ(leaf.seq, 0u);
      EXPECT_FALSE(leaf.prev.has_value());
    }
    return Status::Ok();
  });
}

TEST_P(StoreContract, OneSignedCheckpointAfterEachWriteThatAppended) {
  AppendEach(0, 2);
  MustWrite([&](Transaction& tx) -> Status {  // three events, one checkpoint
    for (int i = 2; i < 5; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(FixedEvent("s", i)).status());
    // The checkpoint of this write is not visible inside it.
    CUSTOS_ASSIGN_OR_RETURN(StoredCheckpoint latest, tx.log().LatestCheckpoint());
    EXPECT_EQ(latest.size, 2u);
    return Status::Ok();
  });
  MustWrite([&](Transaction& tx) {  // no event, no authority row changed: no checkpoint
    return tx.records().NextSequence(domain::RecordType::kContract, 2026).status();
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto checkpoints, tx.log().Checkpoints());
    std::vector<uint64_t> sizes;
    for (const auto& cp : checkpoints) sizes.push_back(cp.size);
    EXPECT_EQ(sizes, (std::vector<uint64_t>{1, 2, 5}));
    CUSTOS_ASSIGN_OR_RETURN(StoredCheckpoint latest, tx.log().LatestCheckpoint());
    EXPECT_EQ(latest.size, 5u);
    for (const StoredCheckpoint& cp : checkpoints) {
      CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 root, tx.log().RootAt(cp.size));
      EXPECT_EQ(cp.root, root);
      auto opened = crypto::OpenCheckpoint(cp.note, test_signer_.verifiers());
      EXPECT_TRUE(opened.ok()) << opened.status().ToString();
      if (opened.ok()) {
        EXPECT_EQ(opened->checkpoint.origin, testing::kOrigin);
        EXPECT_EQ(opened->checkpoint.size, cp.size);
        EXPECT_EQ(opened->checkpoint.root, cp.root);
      }
      EXPECT_EQ(cp.created_at, domain::TruncateToMillis(cp.created_at));
      EXPECT_LE(cp.created_at, std::chrono::system_clock::now());
    }
    return Status::Ok();
  });
}

TEST_P(StoreContract, ProofsFromTheStoreVerify) {
  constexpr uint64_t kLeaves = 37;
  AppendEach(0, static_cast<int>(kLeaves));
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, kLeaves, kLeaves));
    std::vector<crypto::Digest32> roots = {merkle::EmptyRoot()};
    merkle::MemoryTree tree;
    for (const auto& e : entries) {
      tree.AppendLeafHash(e.leaf_hash);
      roots.push_back(tree.Root());
    }
    for (uint64_t size = 1; size <= kLeaves; ++size) {
      CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 root, tx.log().RootAt(size));
      EXPECT_EQ(root, roots[size]) << size;
      for (uint64_t index = 0; index < size; index += 3) {
        CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(index, size));
        EXPECT_TRUE(merkle::VerifyInclusion(index, size, entries[index].leaf_hash,
                                            merkle::ProofToBytes(proof), roots[size])
                        .ok())
            << index << "/" << size;
      }
      for (uint64_t to = size; to <= kLeaves; to += 5) {
        CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().ConsistencyProof(size, to));
        EXPECT_TRUE(merkle::VerifyConsistency(size, to, merkle::ProofToBytes(proof), roots[size],
                                              roots[to])
                        .ok())
            << size << "->" << to;
      }
    }
    EXPECT_EQ(tx.log().InclusionProof(0, kLeaves + 1).status().reason(), "proof_bad_sizes");
    EXPECT_EQ(tx.log().ConsistencyProof(1, kLeaves + 1).status().reason(), "proof_bad_sizes");
    EXPECT_EQ(tx.log().RootAt(kLeaves + 1).status().reason(), "proof_bad_sizes");
    EXPECT_EQ(tx.log().InclusionProof(kLeaves, kLeaves).status().reason(),
              "proof_index_out_of_range");
    EXPECT_EQ(tx.log().ConsistencyProof(0, kLeaves).status().reason(), "proof_bad_sizes");
    EXPECT_EQ(tx.log().ConsistencyProof(5, 4).status().reason(), "proof_bad_sizes");
    return Status::Ok();
  });
}

TEST_P(StoreContract, NodesAtLevelListsEveryPerfectSubtree) {
  constexpr uint64_t kLeaves = 13;
  AppendEach(0, static_cast<int>(kLeaves));
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, kLeaves, kLeaves));
    for (uint32_t level = 0; level < 6; ++level) {
      CUSTOS_ASSIGN_OR_RETURN(auto nodes, tx.log().NodesAtLevel(level, 0, 100));
      EXPECT_EQ(nodes.size(), kLeaves >> level) << level;
      for (size_t i = 0; i < nodes.size(); ++i) {
        EXPECT_EQ(nodes[i].first, i);
        if (level == 0) {
          EXPECT_EQ(nodes[i].second, entries[i].leaf_hash);
        }
        // A perfect node is the root of its leaves.
        merkle::MemoryTree sub;
        for (uint64_t leaf = i << level; leaf < (i + 1) << level; ++leaf) {
          sub.AppendLeafHash(entries[leaf].leaf_hash);
        }
        EXPECT_EQ(nodes[i].second, sub.Root()) << level << "/" << i;
      }
    }
    CUSTOS_ASSIGN_OR_RETURN(auto tail, tx.log().NodesAtLevel(0, 10, 2));
    EXPECT_EQ(tail.size(), 2u);
    if (tail.size() == 2) {
      EXPECT_EQ(tail[0].first, 10u);
      EXPECT_EQ(tail[1].first, 11u);
    }
    CUSTOS_ASSIGN_OR_RETURN(auto past, tx.log().NodesAtLevel(1, 6, 100));
    EXPECT_TRUE(past.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto high, tx.log().NodesAtLevel(40, 0, 100));
    EXPECT_TRUE(high.empty());
    return Status::Ok();
  });
}

// ------------------------------------------------ transactions as a whole

TEST_P(StoreContract, ReadTransactionCannotAppend) {
  AppendEach(0, 1);
  Status s = store_->Read([](Transaction& tx) {
    EXPECT_FALSE(tx.writable());
    return tx.log().Append(FixedEvent("s", 1)).status();
  });
  EXPECT_EQ(s.code(), ErrorCode::kInternal);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 1u);
    CUSTOS_ASSIGN_OR_RETURN(auto checkpoints, tx.log().Checkpoints());
    EXPECT_EQ(checkpoints.size(), 1u);
    return Status::Ok();
  });
  MustWrite([](Transaction& tx) {
    EXPECT_TRUE(tx.writable());
    return Status::Ok();
  });
}

TEST_P(StoreContract, ReadTransactionCannotChangeRows) {
  InsertRecords({MakeRecord("CT-2026-000001", "a")});
  MustWrite([&](Transaction& tx) { return tx.users().Insert(MakeUser("alice", At(0))); });
  (void)store_->Read([&](Transaction& tx) {
    EXPECT_FALSE(tx.departments().Insert({"sales", At(0)}).ok());
    EXPECT_FALSE(tx.users().Insert(MakeUser("bob", At(0))).ok());
    EXPECT_FALSE(tx.records().Insert(MakeRecord("CT-2026-000002", "b")).ok());
    EXPECT_FALSE(tx.records().NextSequence(domain::RecordType::kContract, 2026).ok());
    EXPECT_FALSE(tx.sessions().Insert({"t", domain::Username{"alice"}, At(0), At(0), At(1)}).ok());
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(bool sales, tx.departments().Exists("sales"));
    EXPECT_FALSE(sales);
    CUSTOS_ASSIGN_OR_RETURN(auto bob, tx.users().Find(domain::Username{"bob"}));
    EXPECT_FALSE(bob.has_value());
    CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{"CT-2026-000002"}));
    EXPECT_FALSE(rec.has_value());
    CUSTOS_ASSIGN_OR_RETURN(auto session, tx.sessions().Find("t"));
    EXPECT_FALSE(session.has_value());
    return Status::Ok();
  });
}

TEST_P(StoreContract, WriteSeesItsOwnChangesBeforeCommit) {
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(MakeRecord("CT-2026-000001", "Steel")));
    CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{"CT-2026-000001"}));
    EXPECT_TRUE(rec.has_value());
    domain::RecordQuery q;
    q.text = "steel";
    CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, tx.records().Search(q));
    EXPECT_EQ(page.total, 1u);
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(FixedEvent("s", 0)).status());
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 10, 10));
    EXPECT_EQ(entries.size(), 1u);
    CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(0, 1));
    EXPECT_TRUE(proof.empty());
    return Status::Ok();
  });
}

TEST_P(StoreContract, FailedWriteChangesNothing) {
  AppendEach(0, 2);
  Status s = store_->Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"sales", At(0)}));
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(MakeUser("alice", At(0))));
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(MakeRecord("CT-2026-000001", "x")));
    CUSTOS_RETURN_IF_ERROR(
        tx.versions().Insert(MakeVersion("CT-2026-000001", 1, {MakeFile("f1", "b1", "x")})));
    CUSTOS_RETURN_IF_ERROR(tx.records().NextSequence(domain::RecordType::kContract, 2026).status());
    for (int i = 2; i < 6; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(FixedEvent("s", i)).status());
    return Conflict("changed my mind", "test_abort");
  });
  EXPECT_EQ(s.code(), ErrorCode::kConflict);
  EXPECT_EQ(s.reason(), "test_abort");
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto departments, tx.departments().List());
    EXPECT_TRUE(departments.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto users, tx.users().List());
    EXPECT_TRUE(users.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{"CT-2026-000001"}));
    EXPECT_FALSE(rec.has_value());
    CUSTOS_ASSIGN_OR_RETURN(bool b1, tx.versions().BlobReferenced(domain::BlobId{"b1"}));
    EXPECT_FALSE(b1);
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 2u);
    CUSTOS_ASSIGN_OR_RETURN(auto checkpoints, tx.log().Checkpoints());
    EXPECT_EQ(checkpoints.size(), 2u);
    CUSTOS_ASSIGN_OR_RETURN(auto nodes, tx.log().NodesAtLevel(0, 0, 100));
    EXPECT_EQ(nodes.size(), 2u);
    CUSTOS_ASSIGN_OR_RETURN(auto level1, tx.log().NodesAtLevel(1, 0, 100));
    EXPECT_EQ(level1.size(), 1u);
    CUSTOS_ASSIGN_OR_RETURN(auto level2, tx.log().NodesAtLevel(2, 0, 100));
    EXPECT_TRUE(level2.empty());
    return Status::Ok();
  });
  // The log continues from where the last commit left it.
  AppendEach(2, 6);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 10, 10));
    EXPECT_EQ(entries.size(), 6u);
    std::optional<crypto::Digest32> prev;
    merkle::MemoryTree tree;
    for (size_t i = 0; i < entries.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(DecodedLeaf leaf, DecodeLeaf(entries[i].leaf));
      CUSTOS_RETURN_IF_ERROR(CheckChainLink(leaf, i, prev));
      prev = entries[i].leaf_hash;
      tree.AppendLeafHash(entries[i].leaf_hash);
    }
    CUSTOS_ASSIGN_OR_RETURN(StoredCheckpoint latest, tx.log().LatestCheckpoint());
    EXPECT_EQ(latest.size, 6u);
    EXPECT_EQ(latest.root, tree.Root());
    return Status::Ok();
  });
}

TEST_P(StoreContract, SigningFailureChangesNothing) {
  AppendEach(0, 1);
  signer_.fail = true;
  Status s = store_->Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(MakeRecord("CT-2026-000001", "x")));
    return tx.log().Append(FixedEvent("s", 1)).status();
  });
  EXPECT_EQ(s.reason(), "test_sign_failed");
  // A write without events that changes no authority row needs no signature.
  MustWrite([&](Transaction& tx) { return tx.records().NextSequence(domain::RecordType::kContract, 2026).status(); });
  signer_.fail = false;
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{"CT-2026-000001"}));
    EXPECT_FALSE(rec.has_value());
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 1u);
    CUSTOS_ASSIGN_OR_RETURN(auto checkpoints, tx.log().Checkpoints());
    EXPECT_EQ(checkpoints.size(), 1u);
    return Status::Ok();
  });
  AppendEach(1, 3);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 10, 10));
    EXPECT_EQ(entries.size(), 3u);
    if (entries.size() == 3) {
      CUSTOS_ASSIGN_OR_RETURN(DecodedLeaf leaf, DecodeLeaf(entries[1].leaf));
      EXPECT_EQ(leaf.event.at, At(1));
      CUSTOS_RETURN_IF_ERROR(CheckChainLink(leaf, 1, entries[0].leaf_hash));
    }
    return Status::Ok();
  });
}

TEST_P(StoreContract, ThrowingFunctionIsInternalAndChangesNothing) {
  Status s = store_->Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"sales", At(0)}));
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(FixedEvent("s", 0)).status());
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(s.code(), ErrorCode::kInternal);
  Status r = store_->Read([](Transaction&) -> Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(r.code(), ErrorCode::kInternal);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(bool sales, tx.departments().Exists("sales"));
    EXPECT_FALSE(sales);
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 0u);
    return Status::Ok();
  });
  AppendEach(0, 1);  // still writable afterwards
}

TEST_P(StoreContract, StoreWithoutSignerCannotWrite) {
  custos::testing::TempDir other;
  auto unsigned_store = GetParam().open(other, nullptr);
  ASSERT_NE(unsigned_store, nullptr);
  Status s = unsigned_store->Write([](Transaction& tx) { return tx.departments().Insert({"sales", At(0)}); });
  EXPECT_EQ(s.code(), ErrorCode::kInternal);
  Status r = unsigned_store->Read([](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(bool sales, tx.departments().Exists("sales"));
    EXPECT_FALSE(sales);
    return Status::Ok();
  });
  EXPECT_TRUE(r.ok()) << r.ToString();
}

// ------------------------------------------------------------------ documents

Document MakeDocument(const std::string& kind, const std::string& id, int64_t created_ms) {
  Document d;
  d.kind = kind;
  d.id = id;
  d.subject = "CT-2026-000001";
  d.owner = "alice";
  d.state = "requested";
  d.due_at = At(created_ms + 86400000);
  d.created_at = At(created_ms);
  d.updated_at = At(created_ms);
  d.body = "{\"id\":\"" + id + "\"}";
  return d;
}

void ExpectSameDocument(const Document& got, const Document& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.subject, want.subject);
  EXPECT_EQ(got.owner, want.owner);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.due_at.has_value(), want.due_at.has_value());
  if (got.due_at && want.due_at) {
    EXPECT_EQ(*got.due_at, *want.due_at);
  }
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
  EXPECT_EQ(got.body, want.body);
}

std::vector<std::string> Ids(const std::vector<Document>& docs) {
  std::vector<std::string> out;
  for (const Document& d : docs) out.push_back(d.id);
  return out;
}

TEST_P(StoreContract, DocumentsRoundTripToTheMillisecond) {
  using std::chrono::microseconds;
  Document d = MakeDocument("loan", "LN-2026-000001", 5);
  d.subject = "GN-2026-000007";
  d.owner = "bob";
  d.state = "checked_out";
  d.due_at = At(86400005) + microseconds(999);
  d.created_at = At(5) + microseconds(1);
  d.updated_at = At(6) + microseconds(500);
  d.body = "{\"purpose\":\"Prüfung \\\"Q3\\\"\",\"n\":1}";
  Document bare = MakeDocument("hold", "H-1", 7);
  bare.subject = "";
  bare.owner = "";
  bare.due_at.reset();
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(d));
    return tx.documents().Insert(bare);
  });
  Document want = d;
  want.due_at = At(86400005);
  want.created_at = At(5);
  want.updated_at = At(6);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto got, tx.documents().Find("loan", "LN-2026-000001"));
    EXPECT_TRUE(got.has_value());
    if (got) {
      ExpectSameDocument(*got, want);
    }
    CUSTOS_ASSIGN_OR_RETURN(auto hold, tx.documents().Find("hold", "H-1"));
    EXPECT_TRUE(hold.has_value());
    if (hold) {
      ExpectSameDocument(*hold, bare);
    }
    // Ids are unique within their kind only.
    CUSTOS_ASSIGN_OR_RETURN(auto other_kind, tx.documents().Find("hold", "LN-2026-000001"));
    EXPECT_FALSE(other_kind.has_value());
    CUSTOS_ASSIGN_OR_RETURN(auto missing, tx.documents().Find("loan", "LN-2026-000002"));
    EXPECT_FALSE(missing.has_value());
    return Status::Ok();
  });
}

TEST_P(StoreContract, DuplicateDocumentAndUpdateOfMissingDocument) {
  MustWrite([&](Transaction& tx) { return tx.documents().Insert(MakeDocument("loan", "L1", 0)); });
  Document changed = MakeDocument("loan", "L1", 0);
  changed.state = "approved";
  Status dup = store_->Write([&](Transaction& tx) { return tx.documents().Insert(changed); });
  EXPECT_EQ(dup.code(), ErrorCode::kConflict);
  EXPECT_EQ(dup.reason(), "document_exists");
  // The same id in another kind is another document.
  MustWrite([&](Transaction& tx) { return tx.documents().Insert(MakeDocument("hold", "L1", 0)); });
  Status missing = store_->Write(
      [&](Transaction& tx) { return tx.documents().Update(MakeDocument("loan", "L2", 0)); });
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.reason(), "document_not_found");
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto l1, tx.documents().Find("loan", "L1"));
    EXPECT_TRUE(l1.has_value());
    if (l1) {
      EXPECT_EQ(l1->state, "requested");
    }
    CUSTOS_ASSIGN_OR_RETURN(auto l2, tx.documents().Find("loan", "L2"));
    EXPECT_FALSE(l2.has_value());
    return Status::Ok();
  });
}

TEST_P(StoreContract, DocumentUpdateChangesEverythingButCreatedAt) {
  MustWrite([&](Transaction& tx) { return tx.documents().Insert(MakeDocument("loan", "L1", 0)); });
  Document u;
  u.kind = "loan";
  u.id = "L1";
  u.subject = "CT-2026-000009";
  u.owner = "carol";
  u.state = "returned";
  u.due_at.reset();
  u.created_at = At(999999);  // ignored
  u.updated_at = At(5000) + std::chrono::microseconds(700);
  u.body = "{\"state\":\"returned\"}";
  MustWrite([&](Transaction& tx) { return tx.documents().Update(u); });
  Document want = u;
  want.created_at = At(0);
  want.updated_at = At(5000);
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto got, tx.documents().Find("loan", "L1"));
    EXPECT_TRUE(got.has_value());
    if (got) {
      ExpectSameDocument(*got, want);
    }
    return Status::Ok();
  });
  // And a due date comes back.
  u.due_at = At(7000);
  MustWrite([&](Transaction& tx) { return tx.documents().Update(u); });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto got, tx.documents().Find("loan", "L1"));
    EXPECT_TRUE(got && got->due_at && *got->due_at == At(7000));
    EXPECT_TRUE(got && got->created_at == At(0));
    return Status::Ok();
  });
}

TEST_P(StoreContract, DocumentListFiltersAndPagesInIdOrder) {
  // Inserted out of order; listed by id.
  std::vector<Document> docs;
  auto add = [&](const std::string& id, const std::string& state, const std::string& subject,
                 const std::string& owner, std::optional<int64_t> due_ms, int64_t created_ms) {
    Document d = MakeDocument("loan", id, created_ms);
    d.state = state;
    d.subject = subject;
    d.owner = owner;
    d.due_at = due_ms ? std::optional<domain::Time>(At(*due_ms)) : std::nullopt;
    docs.push_back(d);
  };
  add("L5", "requested", "R1", "alice", 500, 50);
  add("L1", "requested", "R1", "alice", 100, 10);
  add("L3", "checked_out", "R2", "bob", 300, 30);
  add("L2", "approved", "R1", "bob", 200, 20);
  add("L4", "returned", "R2", "alice", std::nullopt, 40);
  add("L6", "checked_out", "R1", "carol", 600, 60);
  Document hold = MakeDocument("hold", "L0", 0);
  Document other = MakeDocument("zeta", "L9", 0);
  MustWrite([&](Transaction& tx) -> Status {
    for (const Document& d : docs) CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(d));
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(hold));
    return tx.documents().Insert(other);
  });
  auto list = [&](DocumentQuery q) {
    std::vector<Document> out;
    MustRead([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.documents().List(q));
      return Status::Ok();
    });
    return Ids(out);
  };
  using V = std::vector<std::string>;
  DocumentQuery q;
  q.kind = "loan";
  EXPECT_EQ(list(q), (V{"L1", "L2", "L3", "L4", "L5", "L6"}));
  q.kind = "hold";
  EXPECT_EQ(list(q), V{"L0"});
  q.kind = "nothing";
  EXPECT_TRUE(list(q).empty());

  DocumentQuery states;
  states.kind = "loan";
  states.states = {"checked_out", "approved"};
  EXPECT_EQ(list(states), (V{"L2", "L3", "L6"}));
  states.states = {"expired"};
  EXPECT_TRUE(list(states).empty());

  DocumentQuery subject;
  subject.kind = "loan";
  subject.subject = "R2";
  EXPECT_EQ(list(subject), (V{"L3", "L4"}));
  DocumentQuery owner;
  owner.kind = "loan";
  owner.owner = "alice";
  EXPECT_EQ(list(owner), (V{"L1", "L4", "L5"}));
  owner.subject = "R1";
  owner.states = {"requested"};
  EXPECT_EQ(list(owner), (V{"L1", "L5"}));

  // due_before: set and strictly earlier (L4 has none).
  DocumentQuery due;
  due.kind = "loan";
  due.due_before = At(300);
  EXPECT_EQ(list(due), (V{"L1", "L2"}));
  due.due_before = At(300) + std::chrono::milliseconds(1);
  EXPECT_EQ(list(due), (V{"L1", "L2", "L3"}));
  due.due_before = At(100000);
  EXPECT_EQ(list(due), (V{"L1", "L2", "L3", "L5", "L6"}));

  // created_from / created_to: inclusive.
  DocumentQuery created;
  created.kind = "loan";
  created.created_from = At(20);
  created.created_to = At(40);
  EXPECT_EQ(list(created), (V{"L2", "L3", "L4"}));
  created.created_from = At(21);
  EXPECT_EQ(list(created), (V{"L3", "L4"}));
  created.created_from.reset();
  created.created_to = At(10);
  EXPECT_EQ(list(created), V{"L1"});

  // Paging: after_id and limit.
  DocumentQuery page;
  page.kind = "loan";
  page.limit = 2;
  EXPECT_EQ(list(page), (V{"L1", "L2"}));
  page.after_id = "L2";
  EXPECT_EQ(list(page), (V{"L3", "L4"}));
  page.after_id = "L4";
  EXPECT_EQ(list(page), (V{"L5", "L6"}));
  page.after_id = "L6";
  EXPECT_TRUE(list(page).empty());
  page.after_id = "L25";  // need not exist
  page.limit = 1000;
  EXPECT_EQ(list(page), (V{"L3", "L4", "L5", "L6"}));
  // The limit counts matches, not rows looked at.
  DocumentQuery limited;
  limited.kind = "loan";
  limited.owner = "bob";
  limited.limit = 1;
  EXPECT_EQ(list(limited), V{"L2"});
  limited.after_id = "L2";
  EXPECT_EQ(list(limited), V{"L3"});
}

TEST_P(StoreContract, NextNumberCountsPerPrefixAndYearAndGivesBackOnRollback) {
  MustWrite([&](Transaction& tx) -> Status {
    for (uint64_t want : {1u, 2u, 3u}) {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.documents().NextNumber("LN", 2026));
      EXPECT_EQ(n, want);
    }
    CUSTOS_ASSIGN_OR_RETURN(uint64_t other_year, tx.documents().NextNumber("LN", 2027));
    CUSTOS_ASSIGN_OR_RETURN(uint64_t other_prefix, tx.documents().NextNumber("LH", 2026));
    EXPECT_EQ(other_year, 1u);
    EXPECT_EQ(other_prefix, 1u);
    return Status::Ok();
  });
  // A failed write gives its numbers back (its document with it).
  Status s = store_->Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.documents().NextNumber("LN", 2026));
    EXPECT_EQ(n, 4u);
    CUSTOS_ASSIGN_OR_RETURN(uint64_t m, tx.documents().NextNumber("LN", 2026));
    EXPECT_EQ(m, 5u);
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(MakeDocument("loan", "LN-2026-000004", 0)));
    return Conflict("abandoned", "test_abort");
  });
  EXPECT_EQ(s.reason(), "test_abort");
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.documents().NextNumber("LN", 2026));
    EXPECT_EQ(n, 4u);
    CUSTOS_ASSIGN_OR_RETURN(auto d, tx.documents().Find("loan", "LN-2026-000004"));
    EXPECT_FALSE(d.has_value());
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto d, tx.documents().Find("loan", "LN-2026-000004"));
    EXPECT_FALSE(d.has_value());
    return Status::Ok();
  });
}

TEST_P(StoreContract, NextNumberSharesTheArchiveSequenceCounters) {
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t a, tx.records().NextSequence(domain::RecordType::kContract, 2026));
    CUSTOS_ASSIGN_OR_RETURN(uint64_t b, tx.documents().NextNumber(std::string(domain::Prefix(domain::RecordType::kContract)), 2026));
    CUSTOS_ASSIGN_OR_RETURN(uint64_t c, tx.records().NextSequence(domain::RecordType::kContract, 2026));
    EXPECT_EQ(a, 1u);
    EXPECT_EQ(b, 2u);
    EXPECT_EQ(c, 3u);
    return Status::Ok();
  });
}

TEST_P(StoreContract, ReadTransactionCannotChangeDocuments) {
  MustWrite([&](Transaction& tx) { return tx.documents().Insert(MakeDocument("loan", "L1", 0)); });
  (void)store_->Read([&](Transaction& tx) {
    EXPECT_FALSE(tx.documents().Insert(MakeDocument("loan", "L2", 0)).ok());
    Document changed = MakeDocument("loan", "L1", 0);
    changed.state = "revoked";
    EXPECT_FALSE(tx.documents().Update(changed).ok());
    EXPECT_FALSE(tx.documents().NextNumber("LN", 2026).ok());
    return Status::Ok();
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto l1, tx.documents().Find("loan", "L1"));
    EXPECT_TRUE(l1.has_value());
    if (l1) {
      EXPECT_EQ(l1->state, "requested");
    }
    CUSTOS_ASSIGN_OR_RETURN(auto l2, tx.documents().Find("loan", "L2"));
    EXPECT_FALSE(l2.has_value());
    return Status::Ok();
  });
  // The counter was not taken.
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.documents().NextNumber("LN", 2026));
    EXPECT_EQ(n, 1u);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ exports

StoredExport MakeExport(const std::string& id, const std::string& blob,
                        const std::vector<ExportedRecord>& records) {
  StoredExport e;
  e.id = id;
  e.owner = "张三";
  e.format = "zip";
  e.created_at = At(10) + std::chrono::microseconds(700);
  e.expires_at = At(86400010);
  e.blob_id = domain::BlobId{blob};
  e.file_id = domain::FileId{"0123456789abcdef0123456789abcdef"};
  e.size = 4242;
  e.sha256 = std::string(64, 'a');
  e.kek_id = "kek-1";
  e.wrapped_dek = {1, 2, 3, 0, 255};
  e.summary = "{\"name\":\"导出-1\",\"withheld\":[]}";
  e.records = records;
  return e;
}

std::vector<std::string> ExportIds(const std::vector<StoredExport>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.id);
  return out;
}

TEST_P(StoreContract, ExportsRoundTripAndAreFoundByEveryRecordTheyName) {
  const StoredExport a = MakeExport("EX-b", "blob-a", {{domain::RecordId{"GN-2026-000002"}, false}, {domain::RecordId{"CT-2026-000001"}, true}});
  const StoredExport b = MakeExport("EX-a", "blob-b", {{domain::RecordId{"GN-2026-000002"}, true}});
  MustWrite([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.exports().Insert(a));
    return tx.exports().Insert(b);
  });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto got, tx.exports().Find("EX-b"));
    EXPECT_TRUE(got.has_value());
    if (got) {
      EXPECT_EQ(got->owner, "张三");
      EXPECT_EQ(got->format, "zip");
      EXPECT_EQ(got->created_at, At(10));  // to the millisecond
      EXPECT_EQ(got->expires_at, At(86400010));
      EXPECT_EQ(got->blob_id.value, "blob-a");
      EXPECT_EQ(got->file_id, a.file_id);
      EXPECT_EQ(got->size, 4242u);
      EXPECT_EQ(got->sha256, a.sha256);
      EXPECT_EQ(got->kek_id, "kek-1");
      EXPECT_EQ(got->wrapped_dek, a.wrapped_dek);
      EXPECT_EQ(got->shredded_by, "");
      EXPECT_EQ(got->summary, a.summary);
      // Records come back sorted by id.
      EXPECT_EQ(got->records.size(), 2u);
      if (got->records.size() == 2) {
        EXPECT_EQ(got->records[0].id.value, "CT-2026-000001");
        EXPECT_TRUE(got->records[0].content);
        EXPECT_EQ(got->records[1].id.value, "GN-2026-000002");
        EXPECT_FALSE(got->records[1].content);
      }
    }
    CUSTOS_ASSIGN_OR_RETURN(auto missing, tx.exports().Find("EX-c"));
    EXPECT_FALSE(missing.has_value());
    CUSTOS_ASSIGN_OR_RETURN(auto all, tx.exports().List());
    EXPECT_EQ(ExportIds(all), (std::vector<std::string>{"EX-a", "EX-b"}));
    CUSTOS_ASSIGN_OR_RETURN(auto both, tx.exports().Naming(domain::RecordId{"GN-2026-000002"}));
    EXPECT_EQ(ExportIds(both), (std::vector<std::string>{"EX-a", "EX-b"}));
    CUSTOS_ASSIGN_OR_RETURN(auto one, tx.exports().Naming(domain::RecordId{"CT-2026-000001"}));
    EXPECT_EQ(ExportIds(one), (std::vector<std::string>{"EX-b"}));
    CUSTOS_ASSIGN_OR_RETURN(auto none, tx.exports().Naming(domain::RecordId{"CT-2026-000009"}));
    EXPECT_TRUE(none.empty());
    CUSTOS_ASSIGN_OR_RETURN(bool live, tx.exports().BlobReferenced(domain::BlobId{"blob-a"}));
    EXPECT_TRUE(live);
    CUSTOS_ASSIGN_OR_RETURN(bool unknown, tx.exports().BlobReferenced(domain::BlobId{"blob-z"}));
    EXPECT_FALSE(unknown);
    return Status::Ok();
  });
}

TEST_P(StoreContract, ShreddedExportKeepsNoKeyNorSummaryAndDeletedOneIsGone) {
  MustWrite([&](Transaction& tx) {
    return tx.exports().Insert(MakeExport("EX-1", "blob-1", {{domain::RecordId{"CT-2026-000001"}, true}}));
  });
  MustWrite([&](Transaction& tx) { return tx.exports().Shred("EX-1", "DB-2026-000001"); });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto got, tx.exports().Find("EX-1"));
    EXPECT_TRUE(got.has_value());
    if (got) {
      EXPECT_TRUE(got->wrapped_dek.empty());
      EXPECT_EQ(got->kek_id, "");
      EXPECT_EQ(got->summary, "{}");
      EXPECT_EQ(got->shredded_by, "DB-2026-000001");
      EXPECT_EQ(got->blob_id.value, "blob-1");
      EXPECT_EQ(got->records.size(), 1u);  // still found by the record it named
    }
    CUSTOS_ASSIGN_OR_RETURN(bool referenced, tx.exports().BlobReferenced(domain::BlobId{"blob-1"}));
    EXPECT_FALSE(referenced);
    return Status::Ok();
  });
  for (const auto& change : std::vector<std::function<Status(Transaction&)>>{
           [](Transaction& tx) { return tx.exports().Shred("EX-2", "DB-2026-000001"); },
           [](Transaction& tx) { return tx.exports().Delete("EX-2"); }}) {
    Status s = store_->Write(change);
    EXPECT_EQ(s.code(), ErrorCode::kNotFound) << s.ToString();
    EXPECT_EQ(s.reason(), "export_not_found");
  }
  MustWrite([&](Transaction& tx) { return tx.exports().Delete("EX-1"); });
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto got, tx.exports().Find("EX-1"));
    EXPECT_FALSE(got.has_value());
    CUSTOS_ASSIGN_OR_RETURN(auto naming, tx.exports().Naming(domain::RecordId{"CT-2026-000001"}));
    EXPECT_TRUE(naming.empty());
    return Status::Ok();
  });
}

TEST_P(StoreContract, DuplicateExportIsRefusedAndReadTransactionCannotChangeExports) {
  MustWrite([&](Transaction& tx) { return tx.exports().Insert(MakeExport("EX-1", "blob-1", {})); });
  Status dup = store_->Write([&](Transaction& tx) { return tx.exports().Insert(MakeExport("EX-1", "blob-2", {})); });
  EXPECT_EQ(dup.code(), ErrorCode::kConflict);
  EXPECT_EQ(dup.reason(), "export_exists");
  Status same_blob = store_->Write([&](Transaction& tx) {
    return tx.exports().Insert(MakeExport("EX-2", "blob-1", {{domain::RecordId{"CT-2026-000001"}, true}}));
  });
  EXPECT_EQ(same_blob.code(), ErrorCode::kInternal) << same_blob.ToString();
  EXPECT_EQ(same_blob.reason(), "database_error");
  for (const auto& change : std::vector<std::function<Status(Transaction&)>>{
           [](Transaction& tx) { return tx.exports().Insert(MakeExport("EX-3", "blob-3", {})); },
           [](Transaction& tx) { return tx.exports().Shred("EX-1", "DB-2026-000001"); },
           [](Transaction& tx) { return tx.exports().Delete("EX-1"); }}) {
    Status s = store_->Read(change);
    EXPECT_EQ(s.code(), ErrorCode::kInternal) << s.ToString();
  }
  MustRead([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto all, tx.exports().List());
    EXPECT_EQ(ExportIds(all), std::vector<std::string>{"EX-1"});
    EXPECT_FALSE(all.empty() || all[0].wrapped_dek.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto naming, tx.exports().Naming(domain::RecordId{"CT-2026-000001"}));
    EXPECT_TRUE(naming.empty());  // the failed insert left no record rows
    return Status::Ok();
  });
}

// Every record comes with its event: a reader never sees one without the
// other, however writers and readers interleave.
TEST_P(StoreContract, ConcurrentWritersAndReadersSeeWholeCommits) {
  constexpr int kThreads = 4, kPerThread = 20;
  std::vector<std::thread> threads;
  std::atomic<int> torn{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "GN-2026-" + std::to_string(100000 + t * kPerThread + i);
        Status s = store_->Write([&](Transaction& tx) -> Status {
          CUSTOS_RETURN_IF_ERROR(tx.records().Insert(MakeRecord(id, "x")));
          return tx.log().Append(Event("test.append", id, i)).status();
        });
        EXPECT_TRUE(s.ok()) << s.ToString();
        s = store_->Read([&](Transaction& tx) -> Status {
          CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, tx.records().Search(domain::RecordQuery{}));
          CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
          if (page.total != size) ++torn;
          return Status::Ok();
        });
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(Search(domain::RecordQuery{}).total, static_cast<uint64_t>(kThreads * kPerThread));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values(kSqlite, kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

// ------------------------------------------------- the two, side by side

// The same appends, grouped into the same writes, give byte-identical leaves,
// the same stored nodes on every level and the same signed checkpoints.
TEST(StoreContractCrossCheck, SameAppendsGiveSameLeavesNodesAndCheckpoints) {
  CUSTOS_REQUIRE_POSTGRES(custos::testing::PostgresDsn());
  custos::testing::TempDir dir;
  TestSigner signer;
  auto sqlite = OpenSqlite(dir, &signer.checkpoint);
  ASSERT_NE(sqlite, nullptr);
  auto postgres = OpenPostgres(dir, &signer.checkpoint);
  ASSERT_NE(postgres, nullptr);
  int n = 0;
  for (int batch : {1, 3, 1, 7, 2, 16, 1, 5}) {
    for (MetadataStore* store : {sqlite.get(), postgres.get()}) {
      Status s = store->Write([&](Transaction& tx) -> Status {
        for (int i = 0; i < batch; ++i) {
          CUSTOS_RETURN_IF_ERROR(tx.log().Append(FixedEvent("s" + std::to_string(n % 4), n + i)).status());
        }
        return Status::Ok();
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    n += batch;
  }
  struct Dump {
    std::vector<LogEntry> entries;
    std::vector<std::vector<std::pair<uint64_t, crypto::Digest32>>> levels;
    std::vector<StoredCheckpoint> checkpoints;
    std::vector<std::vector<crypto::Digest32>> proofs;
  };
  auto dump = [&](MetadataStore& store) {
    Dump d;
    Status s = store.Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(d.entries, tx.log().Entries(0, 1000, 1000));
      for (uint32_t level = 0; level <= merkle::kMaxLevel; ++level) {
        CUSTOS_ASSIGN_OR_RETURN(auto nodes, tx.log().NodesAtLevel(level, 0, 1000));
        d.levels.push_back(std::move(nodes));
      }
      CUSTOS_ASSIGN_OR_RETURN(d.checkpoints, tx.log().Checkpoints());
      for (uint64_t size = 1; size <= d.entries.size(); ++size) {
        CUSTOS_ASSIGN_OR_RETURN(auto inclusion, tx.log().InclusionProof(size / 2, size));
        CUSTOS_ASSIGN_OR_RETURN(auto consistency,
                                tx.log().ConsistencyProof(size, d.entries.size()));
        d.proofs.push_back(std::move(inclusion));
        d.proofs.push_back(std::move(consistency));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return d;
  };
  Dump a = dump(*sqlite);
  Dump b = dump(*postgres);
  ASSERT_EQ(a.entries.size(), static_cast<size_t>(n));
  ASSERT_EQ(b.entries.size(), a.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].index, b.entries[i].index);
    EXPECT_EQ(a.entries[i].leaf, b.entries[i].leaf);
    EXPECT_EQ(a.entries[i].leaf_hash, b.entries[i].leaf_hash);
  }
  size_t nonempty = 0;
  for (uint32_t level = 0; level <= merkle::kMaxLevel; ++level) {
    EXPECT_EQ(a.levels[level], b.levels[level]) << "level " << level;
    if (!a.levels[level].empty()) ++nonempty;
  }
  EXPECT_EQ(nonempty, 6u);  // 36 leaves: levels 0..5
  ASSERT_EQ(a.checkpoints.size(), 8u);
  ASSERT_EQ(b.checkpoints.size(), a.checkpoints.size());
  for (size_t i = 0; i < a.checkpoints.size(); ++i) {
    EXPECT_EQ(a.checkpoints[i].size, b.checkpoints[i].size);
    EXPECT_EQ(a.checkpoints[i].root, b.checkpoints[i].root);
    EXPECT_EQ(a.checkpoints[i].note, b.checkpoints[i].note);  // Ed25519 is deterministic
  }
  EXPECT_EQ(a.proofs, b.proofs);
}

// ------------------------------------------------------------- FaultyStore

// A write to the store, with a record and an event.
Status WriteRecord(MetadataStore& store, const std::string& id) {
  return store.Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(MakeRecord(id, "x")));
    return tx.log().Append(FixedEvent(id, 0)).status();
  });
}

TEST(FaultyStoreTest, FailNextCommitFailsOnceAndChangesNothing) {
  TestSigner signer;
  testing::ScratchStore inner(&signer.checkpoint);
  testing::FaultyStore store(inner);
  store.FailNextCommit(ResourceExhausted("disk full", "storage_full"));
  Status s = WriteRecord(store, "CT-2026-000001");
  EXPECT_EQ(s.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(s.reason(), "storage_full");
  EXPECT_EQ(store.commits(), 0u);
  Status r = store.Read([](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{"CT-2026-000001"}));
    EXPECT_FALSE(rec.has_value());
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 0u);
    EXPECT_EQ(tx.log().LatestCheckpoint().status().reason(), "no_checkpoint");
    return Status::Ok();
  });
  EXPECT_TRUE(r.ok()) << r.ToString();
  // One shot: the retry commits, and the log continues from where it was.
  s = WriteRecord(store, "CT-2026-000001");
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(store.commits(), 1u);
  r = store.Read([](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 1u);
    return tx.log().LatestCheckpoint().status();
  });
  EXPECT_TRUE(r.ok()) << r.ToString();
}

TEST(FaultyStoreTest, FailWriteFailsTheNthWriteFromNowOnly) {
  TestSigner signer;
  testing::ScratchStore inner(&signer.checkpoint);
  testing::FaultyStore store(inner);
  store.FailWrite(2, Status(ErrorCode::kInternal, "crash", "crash"));
  EXPECT_TRUE(WriteRecord(store, "CT-2026-000001").ok());
  EXPECT_EQ(WriteRecord(store, "CT-2026-000002").reason(), "crash");
  EXPECT_TRUE(WriteRecord(store, "CT-2026-000003").ok());
  EXPECT_EQ(store.commits(), 2u);
  Status r = store.Read([](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto second, tx.records().Find(domain::RecordId{"CT-2026-000002"}));
    EXPECT_FALSE(second.has_value());
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 2u);
    return Status::Ok();
  });
  EXPECT_TRUE(r.ok()) << r.ToString();
}

TEST(FaultyStoreTest, FailNextCommitIsUsedUpByAFunctionThatFailsItself) {
  TestSigner signer;
  testing::ScratchStore inner(&signer.checkpoint);
  testing::FaultyStore store(inner);
  store.FailNextCommit(ResourceExhausted("disk full", "storage_full"));
  Status s = store.Write([](Transaction&) { return Conflict("own failure", "test_abort"); });
  EXPECT_EQ(s.reason(), "test_abort");
  EXPECT_TRUE(store.Write([](Transaction&) { return Status::Ok(); }).ok());
}

TEST(FaultyStoreTest, HooksWorkFromInsideAStoreFunction) {
  TestSigner signer;
  testing::ScratchStore inner(&signer.checkpoint);
  testing::FaultyStore store(inner);
  uint64_t seen = 99;
  Status s = store.Write([&](Transaction&) {
    seen = store.commits();
    store.FailNextCommit(ResourceExhausted("disk full", "storage_full"));
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();  // applies to the following write
  EXPECT_EQ(seen, 0u);
  EXPECT_EQ(store.commits(), 1u);
  EXPECT_EQ(store.Write([](Transaction&) { return Status::Ok(); }).reason(), "storage_full");
  EXPECT_EQ(store.commits(), 1u);
}

}  // namespace
}  // namespace custos::storage
