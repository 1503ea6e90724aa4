// A full disk, end to end: custosd runs with a file-size limit
// (RLIMIT_FSIZE, inherited from this process when it starts), so a write
// past the limit fails with EFBIG exactly as a full file system fails with
// ENOSPC. DESIGN §7: the write is answered 507, nothing of it remains (no
// record, no version, no blob, no temp file, no log entry), and the server
// goes on serving reads and the writes that still fit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "storage/custody.h"
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


// A file system that is really full (a small tmpfs of its own under the
// data directory, filled to the last byte). Every content read is logged
// before its first byte leaves and every sign-in writes its session, so
// both need room: they answer 507 storage_full, while catalogue reads go
// on; /readyz answers 503 naming disk_space as soon as less than
// storage.min_free_bytes is free, and all is well again once room is made.
// Needs the right to mount (root, as in CI); skipped otherwise.
TEST(DiskFull, FullFileSystemStopsLoggedReadsAndReadyzSaysSo) {
  namespace fs = std::filesystem;
  std::unique_ptr<ApiServer> s = ApiServer::Create("storage.min_free_bytes = 4194304\n");
  ASSERT_TRUE(s);
  const std::string bytes = PatternBytes(64 * 1024, 11);
  Poco::JSON::Object::Ptr rec = s->CheckInOk(
      "archivist", ContractJson("磁盘已满时的合同 full-disk contract", "华南物流有限公司"),
      {FilePart("合同正本.pdf", bytes)});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  const std::string file_id =
      Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  const std::string content = "/v1/records/" + id + "/versions/1/files/" + file_id;
  ASSERT_EQ(s->Stop(), 0);

  // The data directory moves onto a 48 MiB file system of its own.
  const std::string dir = s->data_dir();
  const std::string moved = dir + ".moved";
  fs::rename(dir, moved);
  fs::create_directory(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=48m,mode=0700") != 0) {
    fs::remove(dir);
    fs::rename(moved, dir);
    GTEST_SKIP() << "cannot mount a small file system here (needs root)";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{dir};
  fs::copy(moved, dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  // A move to another file system is a copy: the operator promotes it
  // (storage/custody.h); here the marker is bound directly.
  ASSERT_TRUE(storage::BindCustody(storage::DataDir(dir), "moved onto a small file system").ok());
  ASSERT_TRUE(s->Restart());
  HttpResult ready = s->As(kAnonymous, "GET", "/readyz");
  ASSERT_EQ(ready.status, 200) << Describe(ready);

  // Fill it to the last byte.
  const std::string filler = dir + "/filler";
  {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    std::string block(1 << 20, 'f');
    for (size_t n = block.size(); n > 0;) {
      if (::write(fd, block.data(), n) < 0) n /= 2;
    }
    ::close(fd);
  }
  const uint64_t log_before = s->LogSize();

  HttpResult full = s->As(kAnonymous, "GET", "/readyz");
  EXPECT_EQ(full.status, 503) << Describe(full);
  EXPECT_NE(full.body.find("disk_space"), std::string::npos) << full.body;
  HttpResult record = s->As("archivist", "GET", "/v1/records/" + id);
  EXPECT_EQ(record.status, 200) << "catalogue reads go on: " << Describe(record);
  HttpResult read = s->As("archivist", "GET", content);
  EXPECT_EQ(read.status, 507) << "a content read that cannot be logged is refused: " << Describe(read);
  EXPECT_EQ(ErrorCode(read), "storage_full") << Describe(read);
  HttpResult login = s->NewClient()->Request(
      "POST", "/v1/session",
      "{\"username\":\"staff\",\"password\":\"" + s->account("staff").password + "\"}", kJson);
  EXPECT_EQ(login.status, 507) << Describe(login);
  EXPECT_EQ(s->LogSize(), log_before) << "nothing was logged";

  // Room again: ready, and the read is served and logged.
  fs::remove(filler);
  HttpResult again = s->As(kAnonymous, "GET", "/readyz");
  EXPECT_EQ(again.status, 200) << Describe(again);
  HttpResult served = s->As("archivist", "GET", content);
  EXPECT_EQ(served.status, 200) << Describe(served);
  EXPECT_EQ(Sha256Hex(served.body), Sha256Hex(bytes));
  EXPECT_GT(s->LogSize(), log_before);
  EXPECT_EQ(s->Stop(), 0);
}

}  // namespace
}  // namespace custos::testing::api
