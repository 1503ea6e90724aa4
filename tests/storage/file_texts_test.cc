// The content pipeline's tables (storage/file_texts.h): the state names,
// TypeMismatch, the FileTextRepository and the search queue on SQLite and
// PostgreSQL alike, schema migration 9 over an archive at version 8 (the
// backfill queues live records, not destroyed ones), and custosctl
// migrate's copy of both tables.
#include "storage/file_texts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "storage/postgres_store.h"
#include "storage/schema.h"
#include "storage/sql_util.h"
#include "storage/sqlite_store.h"
#include "storage/store_copy.h"
#include "tests/storage/backend_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

using std::chrono::milliseconds;
using testing::Backend;
using testing::TestSigner;

// A fixed instant (2026-11-22T14:00:00Z) plus `ms` milliseconds.
domain::Time At(int64_t ms) { return domain::Time(milliseconds(1795356000000LL + ms)); }

FileText Text(const std::string& file, const std::string& record, int version, TextState state) {
  FileText t;
  t.file_id = domain::FileId{file};
  t.record_id = domain::RecordId{record};
  t.version = version;
  t.state = state;
  t.claimed_type = "application/pdf";
  t.updated_at = At(0);
  return t;
}

std::vector<std::string> Files(const std::vector<FileText>& rows) {
  std::vector<std::string> out;
  for (const FileText& t : rows) out.push_back(t.file_id.value);
  return out;
}

std::vector<std::string> Ids(const std::vector<domain::RecordId>& ids) {
  std::vector<std::string> out;
  for (const domain::RecordId& id : ids) out.push_back(id.value);
  return out;
}

using Strings = std::vector<std::string>;

// ------------------------------------------------------------ state names

TEST(TextStateName, EveryStateRoundTrips) {
  for (TextState s : {TextState::kPending, TextState::kText, TextState::kNoText, TextState::kRetry,
                      TextState::kFailed}) {
    auto parsed = ParseTextState(Name(s));
    ASSERT_TRUE(parsed.ok()) << Name(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(Name(TextState::kNoText), "no_text");
}

TEST(TextStateName, UnknownNameIsDataLoss) {
  for (const char* name : {"", "done", "TEXT", "文本"}) {
    auto parsed = ParseTextState(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(parsed.status().reason(), "bad_text_state");
  }
}

TEST(TypeMismatch, ComparesTheEssenceOfBothTypes) {
  FileText t = Text("f1", "CT-1", 1, TextState::kText);
  t.claimed_type = "application/pdf";
  t.identified_type = "application/pdf";
  EXPECT_FALSE(TypeMismatch(t));
  t.claimed_type = "Application/PDF; name=\"合同.pdf\"";
  EXPECT_FALSE(TypeMismatch(t));  // case and parameters ignored
  t.claimed_type = "text/plain;charset=utf-8";
  t.identified_type = "text/plain; charset=us-ascii";
  EXPECT_FALSE(TypeMismatch(t));
  t.claimed_type = "application/pdf";
  t.identified_type = "application/x-dosexec";
  EXPECT_TRUE(TypeMismatch(t));  // an executable sent as a PDF
}

TEST(TypeMismatch, NoClaimOrNoIdentificationNeverMismatches) {
  FileText t = Text("f1", "CT-1", 1, TextState::kText);
  t.identified_type = "application/x-dosexec";
  t.claimed_type = "";
  EXPECT_FALSE(TypeMismatch(t));
  t.claimed_type = "application/octet-stream";
  EXPECT_FALSE(TypeMismatch(t));
  t.claimed_type = "application/pdf";
  t.identified_type = "";  // not yet run
  EXPECT_FALSE(TypeMismatch(t));
}

// --------------------------------------------------- repository on stores

class FileTextsStore : public testing::BackendStoreTest {
 protected:
  void MustWrite(const std::function<Status(FileTextRepository&)>& fn) {
    Status s = store_->Write([&](Transaction& tx) { return fn(tx.texts()); });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  Status Write(const std::function<Status(FileTextRepository&)>& fn) {
    return store_->Write([&](Transaction& tx) { return fn(tx.texts()); });
  }
  Status Read(const std::function<Status(FileTextRepository&)>& fn) {
    return store_->Read([&](Transaction& tx) { return fn(tx.texts()); });
  }
  void Upsert(const FileText& t) {
    MustWrite([&](FileTextRepository& r) { return r.Upsert(t); });
  }
  void Enqueue(const std::string& record, domain::Time at) {
    MustWrite([&](FileTextRepository& r) { return r.Enqueue(domain::RecordId{record}, at); });
  }
  std::optional<FileText> Find(const std::string& file) {
    std::optional<FileText> out;
    Status s = Read([&](FileTextRepository& r) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, r.Find(domain::FileId{file}));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  std::vector<FileText> OfRecord(const std::string& record) {
    std::vector<FileText> out;
    Status s = Read([&](FileTextRepository& r) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, r.OfRecord(domain::RecordId{record}));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  Strings Queued(size_t limit = 100) {
    std::vector<domain::RecordId> out;
    Status s = Read([&](FileTextRepository& r) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, r.Queued(limit));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return Ids(out);
  }
  Strings DueRetries(domain::Time now, size_t limit = 100) {
    std::vector<FileText> out;
    Status s = Read([&](FileTextRepository& r) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, r.DueRetries(now, limit));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (const FileText& t : out) EXPECT_TRUE(t.sealed_text.empty()) << t.file_id.value;
    return Files(out);
  }
  TextCounts Counts() {
    TextCounts out;
    Status s = Read([&](FileTextRepository& r) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, r.Counts());
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
};

TEST_P(FileTextsStore, UpsertThenFindGivesEveryFieldBack) {
  FileText t = Text("0123456789abcdef0123456789abcdef", "合同-2026-000001", 3, TextState::kText);
  t.claimed_type = "application/pdf";
  t.identified_type = "application/pdf";
  t.method = "ocr";
  t.pages = 12;
  t.text_bytes = 4096;
  t.sealed_text = {'C', 'S', 'T', 'E', 0x00, 0xff, 0x00, 0x7f, 0x80};  // NUL bytes kept
  t.attempts = 2;
  t.next_attempt = At(5000);
  t.reason = "extraction_timeout";
  t.updated_at = At(1234);
  Upsert(t);
  std::optional<FileText> got = Find(t.file_id.value);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->file_id, t.file_id);
  EXPECT_EQ(got->record_id, t.record_id);
  EXPECT_EQ(got->version, 3);
  EXPECT_EQ(got->state, TextState::kText);
  EXPECT_EQ(got->claimed_type, "application/pdf");
  EXPECT_EQ(got->identified_type, "application/pdf");
  EXPECT_EQ(got->method, "ocr");
  EXPECT_EQ(got->pages, 12);
  EXPECT_EQ(got->text_bytes, 4096u);
  EXPECT_EQ(got->sealed_text, t.sealed_text);
  EXPECT_EQ(got->attempts, 2);
  EXPECT_EQ(got->next_attempt, At(5000));
  EXPECT_EQ(got->reason, "extraction_timeout");
  EXPECT_EQ(got->updated_at, At(1234));
  EXPECT_FALSE(Find("ffffffffffffffffffffffffffffffff").has_value());
}

TEST_P(FileTextsStore, UpsertReplacesTheRow) {
  FileText t = Text("f1", "CT-1", 1, TextState::kText);
  t.sealed_text = {1, 2, 3};
  t.text_bytes = 3;
  Upsert(t);
  FileText again = Text("f1", "CT-1", 1, TextState::kFailed);
  again.reason = "extraction_unreadable";
  Upsert(again);
  std::optional<FileText> got = Find("f1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->state, TextState::kFailed);
  EXPECT_TRUE(got->sealed_text.empty());
  EXPECT_EQ(got->text_bytes, 0u);
  EXPECT_EQ(got->reason, "extraction_unreadable");
  EXPECT_EQ(Counts().failed, 1u);
  EXPECT_EQ(Counts().text, 0u);
}

TEST_P(FileTextsStore, OfRecordByVersionThenFileWithoutSealedText) {
  for (auto [file, version] : {std::pair{"f-b", 2}, std::pair{"f-c", 1}, std::pair{"f-a", 1}}) {
    FileText t = Text(file, "CT-1", version, TextState::kText);
    t.sealed_text = {9, 9, 9, 9};
    t.text_bytes = 77;
    Upsert(t);
  }
  Upsert(Text("f-other", "CT-2", 1, TextState::kPending));
  const std::vector<FileText> rows = OfRecord("CT-1");
  EXPECT_EQ(Files(rows), Strings({"f-a", "f-c", "f-b"}));
  for (const FileText& t : rows) {
    EXPECT_TRUE(t.sealed_text.empty()) << t.file_id.value;
    EXPECT_EQ(t.text_bytes, 77u);
    EXPECT_EQ(t.state, TextState::kText);
  }
  EXPECT_TRUE(OfRecord("CT-404").empty());
  // Find still gives the sealed text.
  EXPECT_EQ(Find("f-b")->sealed_text, std::vector<uint8_t>({9, 9, 9, 9}));
}

TEST_P(FileTextsStore, QueueOldestFirstAndEnqueueIsIdempotent) {
  Enqueue("CT-3", At(300));
  Enqueue("CT-1", At(100));
  Enqueue("合同-2", At(200));
  EXPECT_EQ(Queued(), Strings({"CT-1", "合同-2", "CT-3"}));
  // Queued again later: the earlier time stays, one entry.
  Enqueue("CT-1", At(900));
  EXPECT_EQ(Queued(), Strings({"CT-1", "合同-2", "CT-3"}));
  // Queued again earlier: moves up.
  Enqueue("CT-3", At(50));
  EXPECT_EQ(Queued(), Strings({"CT-3", "CT-1", "合同-2"}));
  EXPECT_EQ(Queued(2), Strings({"CT-3", "CT-1"}));
  EXPECT_TRUE(Queued(0).empty());
  EXPECT_EQ(Counts().queued_records, 3u);
  MustWrite([](FileTextRepository& r) { return r.Dequeue(domain::RecordId{"CT-1"}); });
  MustWrite([](FileTextRepository& r) { return r.Dequeue(domain::RecordId{"CT-404"}); });  // not there: nothing
  EXPECT_EQ(Queued(), Strings({"CT-3", "合同-2"}));
}

TEST_P(FileTextsStore, DueRetriesOnlyRetryRowsDueOldestFirst) {
  auto retry = [&](const std::string& file, int64_t at) {
    FileText t = Text(file, "CT-1", 1, TextState::kRetry);
    t.attempts = 1;
    t.next_attempt = At(at);
    t.reason = "extraction_crashed";
    Upsert(t);
  };
  retry("r-10", 10);
  retry("r-5", 5);
  retry("r-30", 30);  // not due at 20
  FileText failed = Text("x-failed", "CT-1", 1, TextState::kFailed);
  failed.next_attempt = At(1);
  Upsert(failed);
  Upsert(Text("x-pending", "CT-1", 1, TextState::kPending));
  EXPECT_EQ(DueRetries(At(20)), Strings({"r-5", "r-10"}));
  EXPECT_EQ(DueRetries(At(20), 1), Strings({"r-5"}));
  EXPECT_EQ(DueRetries(At(10)), Strings({"r-5", "r-10"}));  // at next_attempt: due
  EXPECT_TRUE(DueRetries(At(4)).empty());
  EXPECT_TRUE(DueRetries(At(100), 0).empty());
  EXPECT_EQ(DueRetries(At(100)), Strings({"r-5", "r-10", "r-30"}));
}

TEST_P(FileTextsStore, DeleteRecordDeletesItsRowsAndQueueEntryOnly) {
  Upsert(Text("f1", "CT-1", 1, TextState::kText));
  Upsert(Text("f2", "CT-1", 2, TextState::kNoText));
  Upsert(Text("f3", "CT-2", 1, TextState::kText));
  Enqueue("CT-1", At(1));
  Enqueue("CT-2", At(2));
  uint64_t deleted = 0;
  MustWrite([&](FileTextRepository& r) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(deleted, r.DeleteRecord(domain::RecordId{"CT-1"}));
    return Status::Ok();
  });
  EXPECT_EQ(deleted, 2u);
  EXPECT_TRUE(OfRecord("CT-1").empty());
  EXPECT_FALSE(Find("f1").has_value());
  EXPECT_EQ(Files(OfRecord("CT-2")), Strings({"f3"}));
  EXPECT_EQ(Queued(), Strings({"CT-2"}));
  MustWrite([&](FileTextRepository& r) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(deleted, r.DeleteRecord(domain::RecordId{"CT-1"}));
    return Status::Ok();
  });
  EXPECT_EQ(deleted, 0u);
}

TEST_P(FileTextsStore, CountsPerStateAndQueue) {
  const TextCounts empty = Counts();
  EXPECT_EQ(empty.pending + empty.text + empty.no_text + empty.retry + empty.failed + empty.queued_records, 0u);
  Upsert(Text("p1", "CT-1", 1, TextState::kPending));
  Upsert(Text("p2", "CT-1", 1, TextState::kPending));
  Upsert(Text("t1", "CT-1", 1, TextState::kText));
  Upsert(Text("n1", "CT-2", 1, TextState::kNoText));
  Upsert(Text("r1", "CT-2", 1, TextState::kRetry));
  Upsert(Text("x1", "CT-3", 1, TextState::kFailed));
  Upsert(Text("x2", "CT-3", 1, TextState::kFailed));
  Upsert(Text("x3", "CT-3", 1, TextState::kFailed));
  Enqueue("CT-1", At(1));
  const TextCounts c = Counts();
  EXPECT_EQ(c.pending, 2u);
  EXPECT_EQ(c.text, 1u);
  EXPECT_EQ(c.no_text, 1u);
  EXPECT_EQ(c.retry, 1u);
  EXPECT_EQ(c.failed, 3u);
  EXPECT_EQ(c.queued_records, 1u);
}

TEST_P(FileTextsStore, ReadTransactionRefusesWritesAndChangesNothing) {
  Upsert(Text("f1", "CT-1", 1, TextState::kText));
  Enqueue("CT-1", At(1));
  const std::vector<std::function<Status(FileTextRepository&)>> writes = {
      [](FileTextRepository& r) { return r.Upsert(Text("f2", "CT-2", 1, TextState::kPending)); },
      [](FileTextRepository& r) { return r.DeleteRecord(domain::RecordId{"CT-1"}).status(); },
      [](FileTextRepository& r) { return r.Enqueue(domain::RecordId{"CT-2"}, At(0)); },
      [](FileTextRepository& r) { return r.Dequeue(domain::RecordId{"CT-1"}); },
  };
  for (size_t i = 0; i < writes.size(); ++i) {
    Status s = Read(writes[i]);
    EXPECT_EQ(s.code(), ErrorCode::kInternal) << i;
    EXPECT_EQ(s.reason(), "read_only_transaction") << i;
  }
  EXPECT_FALSE(Find("f2").has_value());
  EXPECT_TRUE(Find("f1").has_value());
  EXPECT_EQ(Queued(), Strings({"CT-1"}));
}

TEST_P(FileTextsStore, BadInputRefusedAndNothingChanged) {
  Upsert(Text("f1", "CT-1", 1, TextState::kText));
  FileText no_file = Text("", "CT-1", 1, TextState::kText);
  FileText no_record = Text("f1", "", 1, TextState::kFailed);
  FileText negative_version = Text("f1", "CT-1", -1, TextState::kFailed);
  FileText negative_pages = Text("f1", "CT-1", 1, TextState::kFailed);
  negative_pages.pages = -3;
  FileText negative_attempts = Text("f1", "CT-1", 1, TextState::kFailed);
  negative_attempts.attempts = -1;
  for (const FileText* bad : {&no_file, &no_record, &negative_version, &negative_pages, &negative_attempts}) {
    Status s = Write([&](FileTextRepository& r) { return r.Upsert(*bad); });
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.reason(), "bad_file_text");
  }
  Status s = Write([](FileTextRepository& r) { return r.Enqueue(domain::RecordId{""}, At(0)); });
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.reason(), "bad_queue_entry");
  std::optional<FileText> kept = Find("f1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->state, TextState::kText);
  EXPECT_EQ(kept->record_id.value, "CT-1");
  EXPECT_FALSE(Find("").has_value());
  EXPECT_TRUE(Queued().empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, FileTextsStore,
                         testing::kBothBackends,
                         testing::BackendName);

// ------------------------------------------------------ migration 8 → 9

// A database at schema version 8 (the migrations as released) holding
// three records: two live, one destroyed.
Status MakeVersion8(sql::Connection& c, SqlEngine engine) {
  const auto migrations = SchemaMigrations(engine);
  CUSTOS_RETURN_IF_ERROR(sql::Exec(c, "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, "
                                      "applied_at TEXT NOT NULL)"));
  for (size_t i = 0; i < 8; ++i) {
    for (const std::string& ddl : migrations[i]) CUSTOS_RETURN_IF_ERROR(sql::Exec(c, ddl));
    CUSTOS_RETURN_IF_ERROR(sql::Exec(c, "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)",
                                     {sql::P(static_cast<int64_t>(i + 1)), sql::P(domain::FormatTime(At(0)))}));
  }
  const struct {
    const char* id;
    const char* state;
    int64_t created;
  } records[] = {{"CT-2026-000002", "active", 2000},
                 {"合同-2026-000001", "on_hold", 1000},
                 {"CT-2026-000003", "destroyed", 500}};
  for (const auto& r : records) {
    CUSTOS_RETURN_IF_ERROR(sql::Exec(
        c,
        "INSERT INTO records(id, type, title, description, department, classification, custodian, location, "
        "metadata_json, retention_class, state, created_at, created_by, updated_at, expires_on) "
        "VALUES ($1, 'contract', '采购合同 purchase', '', 'sales', 'internal', 'alice', '', '{}', '', $2, $3, "
        "'alice', $3, '')",
        {sql::P(r.id), sql::P(r.state), sql::P(domain::FormatTime(At(r.created)))}));
  }
  return Status::Ok();
}

class Migration9 : public ::testing::TestWithParam<Backend> {};

TEST_P(Migration9, QueuesLiveRecordsNotDestroyedOnesAndRemakesPostings) {
  custos::testing::TempDir tmp;
  TestSigner signer;
  std::unique_ptr<MetadataStore> store;
  if (GetParam().postgres) {
    CUSTOS_REQUIRE_POSTGRES(custos::testing::PostgresDsn());
    const std::string dsn = custos::testing::NewPostgresSchema();
    {
      auto normalized = NormalizePostgresDsn(dsn);
      ASSERT_TRUE(normalized.ok()) << normalized.status().ToString();
      auto c = sql::OpenPostgres(*normalized);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      Status s = MakeVersion8(**c, SqlEngine::kPostgres);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    PostgresOptions options;
    options.dsn = dsn;
    auto s = PostgresStore::Open(options, &signer.checkpoint);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ((*s)->schema_version(), 12);  // 9, then 10 (derived_cache), 11 (checkpoint_signatures) and 12 (search_postings_by_impact)
    store = std::move(s).value();
  } else {
    {
      auto c = sql::OpenSqlite(tmp.Sub("custos.db"));
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      Status s = MakeVersion8(**c, SqlEngine::kSqlite);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    SqliteOptions options;
    options.path = tmp.Sub("custos.db");
    options.durable = false;
    auto s = SqliteStore::Open(options, &signer.checkpoint);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ((*s)->schema_version(), 12);  // 9, then 10 (derived_cache), 11 (checkpoint_signatures) and 12 (search_postings_by_impact)
    store = std::move(s).value();
  }
  std::vector<domain::RecordId> queued;
  TextCounts counts;
  Status s = store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(queued, tx.texts().Queued(100));
    CUSTOS_ASSIGN_OR_RETURN(counts, tx.texts().Counts());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  // Oldest first, by creation; the destroyed record is not queued.
  EXPECT_EQ(Ids(queued), Strings({"合同-2026-000001", "CT-2026-000002"}));
  EXPECT_EQ(counts.queued_records, 2u);
  EXPECT_EQ(counts.pending + counts.text + counts.no_text + counts.retry + counts.failed, 0u);
  // The remade postings table takes keyed tokens.
  s = store->Write([](Transaction& tx) {
    return tx.search().Replace(domain::RecordId{"CT-2026-000002"}, "title", domain::FileId{""},
                               {{"447117f0d48fe53fcd1c0dc5bb928fdf", 1}});
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<PostingMatch> found;
  s = store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(found, tx.search().Match({"447117F0D48FE53FCD1C0DC5BB928FDF"}, 10));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(found.size(), 1u);  // upper-case hex names the same 16 bytes
  EXPECT_EQ(found[0].record_id.value, "CT-2026-000002");
}

INSTANTIATE_TEST_SUITE_P(Stores, Migration9, testing::kBothBackends,
                         testing::BackendName);

// ------------------------------------------------ custosctl migrate's copy

TEST(FileTextsCopy, CustosctlMigrateCopiesTextsAndQueue) {
  CUSTOS_REQUIRE_POSTGRES(custos::testing::PostgresDsn());
  custos::testing::TempDir tmp;
  TestSigner signer;
  FileText sealed = Text("f1", "合同-1", 1, TextState::kText);
  sealed.sealed_text = {0x00, 0x01, 0xfe, 0xff, 'C', 'S', 'T', 'E'};
  sealed.text_bytes = 42;
  sealed.method = "pdf_text";
  FileText retry = Text("f2", "CT-2", 2, TextState::kRetry);
  retry.next_attempt = At(60000);
  retry.attempts = 1;
  retry.reason = "extraction_timeout";
  {
    SqliteOptions options;
    options.path = tmp.Sub("custos.db");
    options.durable = false;
    auto store = SqliteStore::Open(options, &signer.checkpoint);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Status s = (*store)->Write([&](Transaction& tx) -> Status {
      CUSTOS_RETURN_IF_ERROR(tx.texts().Upsert(sealed));
      CUSTOS_RETURN_IF_ERROR(tx.texts().Upsert(retry));
      CUSTOS_RETURN_IF_ERROR(tx.texts().Enqueue(domain::RecordId{"CT-2"}, At(7)));
      return tx.texts().Enqueue(domain::RecordId{"合同-1"}, At(3));
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  const std::string dsn = custos::testing::NewPostgresSchema();
  auto counts = CopySqliteToPostgres(tmp.Sub("custos.db"), dsn, nullptr);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->at("file_texts"), 2u);
  EXPECT_EQ(counts->at("search_queue"), 2u);
  PostgresOptions options;
  options.dsn = dsn;
  auto pg = PostgresStore::Open(options, &signer.checkpoint);
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  std::optional<FileText> got_sealed, got_retry;
  std::vector<domain::RecordId> queued;
  Status s = (*pg)->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(got_sealed, tx.texts().Find(domain::FileId{"f1"}));
    CUSTOS_ASSIGN_OR_RETURN(got_retry, tx.texts().Find(domain::FileId{"f2"}));
    CUSTOS_ASSIGN_OR_RETURN(queued, tx.texts().Queued(10));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(got_sealed.has_value() && got_retry.has_value());
  EXPECT_EQ(got_sealed->sealed_text, sealed.sealed_text);
  EXPECT_EQ(got_sealed->text_bytes, 42u);
  EXPECT_EQ(got_sealed->record_id.value, "合同-1");
  EXPECT_TRUE(got_retry->sealed_text.empty());
  EXPECT_EQ(got_retry->next_attempt, At(60000));
  EXPECT_EQ(got_retry->reason, "extraction_timeout");
  EXPECT_EQ(Ids(queued), Strings({"合同-1", "CT-2"}));
}

}  // namespace
}  // namespace custos::storage
