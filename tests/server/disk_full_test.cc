// A full disk, end to end: custosd runs with a file-size limit
// (RLIMIT_FSIZE, inherited from this process when it starts), so a write
// past the limit fails with EFBIG exactly as a full file system fails with
// ENOSPC. DESIGN §7: the write is answered 507, nothing of it remains (no
// record, no version, no blob, no temp file, no log entry), and the server
// goes on serving reads and the writes that still fit.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <string>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// The file-size limit custosd runs under. The database, its WAL and the log
// stay far below it; a 12 MiB upload (its blob is a little larger) does not.
constexpr rlim_t kFileSizeLimit = 8 << 20;
constexpr size_t kTooLarge = 12 << 20;

// Starts (or restarts) `server` under the file-size limit; this process's own
// limit is restored before returning.
bool RestartWithFileSizeLimit(ApiServer& server) {
  struct rlimit saved {};
  if (getrlimit(RLIMIT_FSIZE, &saved) != 0) return false;
  struct rlimit limited = saved;
  limited.rlim_cur = kFileSizeLimit;
  if (setrlimit(RLIMIT_FSIZE, &limited) != 0) return false;
  bool started = server.Restart();
  setrlimit(RLIMIT_FSIZE, &saved);
  return started;
}

// What a failed write must leave unchanged.
struct Footprint {
  size_t blobs = 0;
  size_t temp_blobs = 0;
  uint64_t log_size = 0;
  int64_t records = 0;

  bool operator==(const Footprint&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Footprint& f) {
  return out << "{blobs " << f.blobs << ", temp " << f.temp_blobs << ", log " << f.log_size
             << ", records " << f.records << "}";
}

Footprint Measure(ApiServer& s) {
  return {CountBlobs(s.data_dir()), CountTempBlobs(s.data_dir()), s.LogSize(),
          s.SearchTotal("archivist", "")};
}

TEST(DiskFull, WriteAnswers507LeavesNothingAndReadsGoOn) {
  std::unique_ptr<ApiServer> s = ApiServer::Create();
  ASSERT_TRUE(s);
  const std::string kept_bytes = PatternBytes(300 * 1024, 7);
  Poco::JSON::Object::Ptr kept =
      s->CheckInOk("archivist", ContractJson("kept before the disk filled", "ACME"),
                   {FilePart("kept.pdf", kept_bytes)});
  ASSERT_TRUE(kept);
  const std::string kept_id = Str(kept, "id");
  Poco::JSON::Object::Ptr kept_file =
      kept->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  const std::string kept_path = "/v1/records/" + kept_id + "/versions/1/files/" + Str(kept_file, "id");

  ASSERT_TRUE(RestartWithFileSizeLimit(*s));
  const Footprint before = Measure(*s);
  ASSERT_GT(before.records, 0);
  const std::string big = PatternBytes(kTooLarge, 8);

  // A new record whose file does not fit.
  HttpResult full = s->CheckIn("archivist", ContractJson("does not fit", "ACME"),
                               {FilePart("small.pdf", "fits"), FilePart("big.pdf", big)});
  EXPECT_EQ(full.status, 507) << Describe(full);
  EXPECT_EQ(ErrorCode(full), "storage_full") << Describe(full);
  EXPECT_EQ(Measure(*s), before);

  // A new version whose file does not fit.
  HttpResult version = s->As(
      "archivist", "POST", "/v1/records/" + kept_id + "/versions",
      MultipartBody({MetadataPart("{\"kind\":\"amendment\"}"), FilePart("big.pdf", big)}),
      MultipartType());
  EXPECT_EQ(version.status, 507) << Describe(version);
  EXPECT_EQ(ErrorCode(version), "storage_full") << Describe(version);
  EXPECT_EQ(Measure(*s), before);
  HttpResult versions = s->As("archivist", "GET", "/v1/records/" + kept_id + "/versions");
  ASSERT_EQ(versions.status, 200) << Describe(versions);
  Poco::JSON::Object::Ptr listed = JsonObject(versions.body);
  ASSERT_TRUE(listed && listed->has("versions")) << versions.body;
  Poco::JSON::Array::Ptr list = listed->getArray("versions");
  EXPECT_EQ(list->size(), 1u) << versions.body;

  // Reads go on: the record, its content, search.
  HttpResult record = s->As("archivist", "GET", "/v1/records/" + kept_id);
  EXPECT_EQ(record.status, 200) << Describe(record);
  HttpResult content = s->As("archivist", "GET", kept_path);
  ASSERT_EQ(content.status, 200) << Describe(content);
  EXPECT_EQ(Sha256Hex(content.body), Sha256Hex(kept_bytes));
  HttpResult health = s->As(kAnonymous, "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << Describe(health);

  // A write that fits still succeeds, and the log keeps verifying.
  Poco::JSON::Object::Ptr small =
      s->CheckInOk("archivist", ContractJson("fits after the failure", "ACME"),
                   {FilePart("small.pdf", PatternBytes(64 * 1024, 9))});
  ASSERT_TRUE(small);
  EXPECT_EQ(Measure(*s).records, before.records + 1);
  EXPECT_EQ(CountTempBlobs(s->data_dir()), 0u);

  ASSERT_EQ(s->process().Stop(), 0);
  RunResult verify = RunProgram({BinDir() + "/custosctl", "verify", "--data", s->data_dir()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace custos::testing::api
