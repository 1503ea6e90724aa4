// Destruction leaves nothing recoverable in the live data directory
// (DESIGN §7): a real archive (SQLite database with its write-ahead log,
// blob folder, key files) on disk, a record destroyed through the services,
// then every byte of every file under the data directory is searched for the
// record's plaintext marker and for its wrapped data key, and the saved
// ciphertext is tried against every key the archive still holds. Audit
// packages exported before the destruction (tar.gz and zip) are covered
// too: every file is also searched after unpacking it as a package or a
// compressed stream, and one marker sits in incompressible bytes, which
// deflate stores as they are.
//
// The test lives in server_tests rather than storage_tests because it drives
// the services (storage_tests links only custos_storage).
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/byte_stream.h"
#include "server/services/audit_service.h"
#include "server/services/clock.h"
#include "server/services/destruction_service.h"
#include "server/services/log_service.h"
#include "server/services/receipt.h"
#include "server/services/record_service.h"
#include "server/services/retention_service.h"
#include "server/http/json_codec.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"
#include "tests/testutil/process.h"
#include "storage/archive.h"
#include "storage/data_dir.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using domain::RecordId;
using domain::Role;
using domain::StoredFile;

Principal User(const std::string& name, Role role, const std::string& department) {
  return Principal{domain::Username{name}, role, department};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string AsString(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

// The files under `root` whose raw bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& root, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    if (ReadAll(e.path().string()).find(needle) != std::string::npos) {
      out.push_back(e.path().string());
    }
  }
  return out;
}

// Does `bytes`, unpacked (every entry of a tar, zip or compressed stream
// that libarchive reads; the bytes themselves otherwise), contain `needle`?
bool UnpackedContains(const std::string& bytes, const std::string& needle) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) return false;
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    std::string entry;
    char buf[16 * 1024];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) > 0;) entry.append(buf, static_cast<size_t>(n));
    if (entry.find(needle) != std::string::npos) return true;
  }
  return false;
}

// The files under `root` that hold `needle` once unpacked.
std::vector<std::string> FilesUnpackingTo(const std::string& root, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && UnpackedContains(ReadAll(e.path().string()), needle)) {
      out.push_back(e.path().string());
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

// Reads `source` to its end. Returns what it released and whether it ended
// cleanly (a verified, complete stream).
struct Drained {
  std::string bytes;
  bool complete = false;
};
Drained Drain(ByteSource& source) {
  Drained d;
  uint8_t buf[8192];
  for (;;) {
    auto n = source.Read(buf, sizeof buf);
    if (!n.ok()) return d;
    if (*n == 0) {
      d.complete = true;
      return d;
    }
    d.bytes.append(reinterpret_cast<const char*>(buf), *n);
  }
}

class ShreddingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<storage::DataDir>(tmp_.Sub("data"));
    ASSERT_TRUE(dir_->CreateFresh().ok());
    Status created = storage::ArchiveStorage::Create(*dir_, config_);
    ASSERT_TRUE(created.ok()) << created.ToString();
    auto opened = storage::ArchiveStorage::Open(*dir_, config_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    archive_ = std::move(opened).value();
    log_ = std::make_unique<LogService>(archive_->store(), archive_->keyring().VerifierKeys());
    records_ = std::make_unique<RecordService>(archive_->store(), archive_->content(),
                                               archive_->blobs(), *log_, clock_, nullptr);
    retention_ = std::make_unique<RetentionService>(archive_->store(), clock_);
    destruction_ = std::make_unique<DestructionService>(archive_->store(), archive_->blobs(), *log_,
                                                        archive_->keyring().log_signers(), clock_);
    exporter_ = std::make_unique<PackageExporter>(archive_->store(), archive_->content(),
                                                  archive_->keyring().VerifierKeys(), clock_);
    audit_ = std::make_unique<AuditService>(
        archive_->store(), [](const auto&) -> StatusOr<storage::VerifyReport> { return storage::VerifyReport{}; },
        *exporter_, archive_->content(), archive_->blobs(), dir_->root() + "/exports", clock_, logger_);
    Status s = archive_->store().Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "records"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      }
      // The approvers' accounts, long past the cooling period (approvals
      // read the approver's users row; account_policy.h).
      for (const Principal* p : {&ann_, &lee_}) {
        domain::User u;
        u.username = p->username;
        u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
        u.role = p->role;
        u.department = p->department;
        u.created_at = clock_.Now() - std::chrono::hours(24 * 400);
        u.password_changed_at = u.created_at;
        CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void TearDown() override {
    // Services before the archive they use, the archive before its folder.
    audit_.reset();
    exporter_.reset();
    destruction_.reset();
    retention_.reset();
    records_.reset();
    log_.reset();
    archive_.reset();
  }

  // A general record whose files have these contents.
  RecordId CheckIn(const std::string& title, const std::vector<std::string>& contents) {
    RecordInput in;
    in.type = "general";
    in.title = title;
    in.department = "sales";
    in.classification = "internal";
    auto c = records_->BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return {};
    }
    for (size_t i = 0; i < contents.size(); ++i) {
      crypto::Bytes bytes(contents[i].begin(), contents[i].end());
      MemorySource source(bytes);
      Status added =
          (*c)->AddFile({"part" + std::to_string(i) + ".bin", "application/octet-stream"}, source);
      EXPECT_TRUE(added.ok()) << added.ToString();
    }
    auto r = (*c)->Commit();
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return {};
    }
    return r->detail.record.id;
  }

  std::vector<StoredFile> FilesOf(const RecordId& id) {
    std::vector<StoredFile> out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto v, tx.versions().Find(id, 1));
      if (!v) return NotFound("no version 1 of " + id.value);
      out = v->files;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::vector<StoredFile> AllFiles() {
    std::vector<StoredFile> out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      return tx.versions().ForEachFile([&](const StoredFile& f) -> Status {
        out.push_back(f);
        return Status::Ok();
      });
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::string BlobBytes(const domain::BlobId& id) {
    auto source = archive_->blobs().Open(id);
    if (!source.ok()) {
      ADD_FAILURE() << source.status().ToString();
      return "";
    }
    Drained d = Drain(**source);
    EXPECT_TRUE(d.complete);
    return d.bytes;
  }

  testing::TempDir tmp_;
  Config config_;
  std::unique_ptr<storage::DataDir> dir_;
  std::unique_ptr<storage::ArchiveStorage> archive_;
  ManualClock clock_{domain::ParseTime("2026-03-02T09:00:00Z").value()};
  std::unique_ptr<LogService> log_;
  std::unique_ptr<RecordService> records_;
  std::unique_ptr<RetentionService> retention_;
  std::unique_ptr<DestructionService> destruction_;
  Logger logger_{2, LogLevel::kError};
  std::unique_ptr<PackageExporter> exporter_;
  std::unique_ptr<AuditService> audit_;

  // Exports `id` as the archivist in `format` and waits until it is stored;
  // the job id ("" on failure).
  std::string ExportAndWait(const RecordId& id, PackageFormat format) {
    ExportRequest request;
    request.record_ids = {id.value};
    request.format = format;
    auto job = audit_->StartExport(arch_, request);
    if (!job.ok()) {
      ADD_FAILURE() << job.status().ToString();
      return "";
    }
    for (int i = 0; i < 2000; ++i) {
      auto now = audit_->GetExport(arch_, job->id);
      if (now.ok() && now->state == domain::JobState::kDone) return job->id;
      if (now.ok() && now->state == domain::JobState::kFailed) {
        ADD_FAILURE() << "export failed: " << now->error;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "export " << job->id << " did not finish";
    return "";
  }

  // The plaintext package of a stored export.
  std::string Download(const std::string& job) {
    auto opened = audit_->OpenExport(arch_, job);
    if (!opened.ok()) {
      ADD_FAILURE() << opened.status().ToString();
      return "";
    }
    Drained d = Drain(*opened->stream);
    EXPECT_TRUE(d.complete);
    return d.bytes;
  }

  storage::StoredExport StoredExportRow(const std::string& id) {
    storage::StoredExport out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto e, tx.exports().Find(id));
      if (!e) return NotFound("no export " + id);
      out = *e;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  const Principal arch_ = User("arch", Role::kArchivist, "records");
  const Principal ann_ = User("ann", Role::kApprover, "sales");
  const Principal lee_ = User("lee", Role::kLegal, "legal");
};

TEST_F(ShreddingTest, DestroyedContentAndKeysAreUnrecoverableFromTheDataDirectory) {
  // Two unique markers (fixed seed), each inside its own file with filler
  // around it; the first file spans several envelope chunks.
  std::mt19937_64 rng(0x5eedc0de);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  };
  const std::string marker = random_bytes(32);
  const std::string marker2 = random_bytes(32);
  const std::string filler(100 * 1024, 'f');
  const std::string doomed_text = filler + marker + filler;
  // Incompressible: deflate stores these bytes as they are, in both formats.
  const std::string doomed_text2 = random_bytes(40 * 1024) + marker2 + random_bytes(40 * 1024);
  RecordId doomed = CheckIn("待销毁会议纪要 Minutes to destroy", {doomed_text, doomed_text2});

  // The record that stays, checked in ten years later (so not yet due).
  clock_.Set(domain::ParseTime("2036-03-01T09:00:00Z").value());
  const std::string survivor_text = "survivor content " + random_bytes(16);
  RecordId survivor = CheckIn("保留会议纪要 Minutes to keep", {survivor_text});

  // Two days later, audit packages of the doomed record in both formats.
  clock_.Set(domain::ParseTime("2036-03-03T08:00:00Z").value());
  std::vector<std::string> exports;
  std::vector<std::string> export_keys;
  std::vector<domain::BlobId> export_blobs;
  for (PackageFormat format : {PackageFormat::kTarGz, PackageFormat::kZip}) {
    const std::string job = ExportAndWait(doomed, format);
    ASSERT_FALSE(job.empty());
    // The package holds both markers: the searches below would find them
    // in a plaintext package, marker2 even without unpacking it.
    const std::string package = Download(job);
    EXPECT_TRUE(UnpackedContains(package, marker));
    EXPECT_TRUE(UnpackedContains(package, marker2));
    EXPECT_NE(package.find(marker2), std::string::npos) << "deflate did not store marker2 as it is";
    storage::StoredExport row = StoredExportRow(job);
    ASSERT_FALSE(row.wrapped_dek.empty());
    exports.push_back(job);
    export_keys.push_back(AsString(row.wrapped_dek));
    export_blobs.push_back(row.blob_id);
  }

  std::vector<StoredFile> doomed_files = FilesOf(doomed);
  ASSERT_EQ(doomed_files.size(), 2u);
  const StoredFile doomed_file = doomed_files[0];
  ASSERT_FALSE(doomed_file.wrapped_dek.empty());
  ASSERT_FALSE(doomed_files[1].wrapped_dek.empty());
  const std::string wrapped = AsString(doomed_file.wrapped_dek);
  const std::string wrapped2 = AsString(doomed_files[1].wrapped_dek);
  const std::string ciphertext = BlobBytes(doomed_file.blob_id);
  ASSERT_FALSE(ciphertext.empty());

  // Before destruction: the plaintext was never on disk, the wrapped keys
  // are (so the scan below can find what it looks for).
  EXPECT_TRUE(FilesContaining(dir_->root(), marker).empty());
  EXPECT_TRUE(FilesContaining(dir_->root(), marker2).empty())
      << "an export lies in clear in:\n" << Join(FilesContaining(dir_->root(), marker2));
  EXPECT_TRUE(FilesUnpackingTo(dir_->root(), marker).empty())
      << "an export lies in clear in:\n" << Join(FilesUnpackingTo(dir_->root(), marker));
  EXPECT_FALSE(FilesContaining(dir_->root(), wrapped).empty())
      << "the wrapped data key should be in the database files before destruction";
  for (const std::string& key : export_keys) {
    EXPECT_FALSE(FilesContaining(dir_->root(), key).empty()) << "an export's wrapped key should be on disk";
  }

  // A copy of the ciphertext, as an attacker holding an old blob would have
  // it, decrypts with the key the archive holds before destruction.
  storage::MemoryBlobStore saved;
  domain::BlobId saved_id;
  {
    auto w = saved.Create();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(
        (*w)->Write(reinterpret_cast<const uint8_t*>(ciphertext.data()), ciphertext.size()).ok());
    ASSERT_TRUE((*w)->Commit().ok());
    saved_id = (*w)->id();
  }
  storage::ContentStore saved_content(saved, archive_->keyring().keys(),
                                      archive_->keyring().suite());
  {
    auto s = saved_content.Open(saved_id, doomed_file.id, doomed_file.kek_id,
                                doomed_file.wrapped_dek, doomed_file.sha256);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Drained d = Drain(**s);
    ASSERT_TRUE(d.complete);
    EXPECT_EQ(d.bytes, doomed_text);
  }

  // Due, proposed, approved by an approver and legal, executed.
  clock_.Set(domain::ParseTime("2036-03-03T09:00:00Z").value());
  auto batch = destruction_->Propose(arch_, {doomed.value}, "retention expired");
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_TRUE(destruction_->Approve(ann_, batch->id).ok());
  ASSERT_TRUE(destruction_->Approve(lee_, batch->id).ok());
  auto done = destruction_->Execute(arch_, batch->id);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(domain::Name(done->state), "executed");
  for (const StoredFile& f : FilesOf(doomed)) EXPECT_TRUE(f.wrapped_dek.empty()) << f.id.value;
  // Both packages were shredded with it, and the certificate says so.
  for (const std::string& job : exports) {
    EXPECT_TRUE(StoredExportRow(job).wrapped_dek.empty()) << job;
    auto view = audit_->GetExport(arch_, job);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_EQ(domain::Name(view->state), "shredded");
    EXPECT_EQ(view->shredded_by, batch->id);
    auto opened = audit_->OpenExport(arch_, job);
    EXPECT_EQ(opened.status().code(), ErrorCode::kGone);
    EXPECT_EQ(opened.status().reason(), "export_shredded");
  }
  for (const domain::BlobId& blob : export_blobs) EXPECT_FALSE(archive_->blobs().Size(blob).ok());
  auto certificate = destruction_->Certificate(arch_, batch->id);
  ASSERT_TRUE(certificate.ok()) << certificate.status().ToString();
  EXPECT_NE(certificate->find("\"exportsShredded\":2"), std::string::npos) << *certificate;

  // 1. No file under the data directory holds the plaintext or the keys —
  //    database, write-ahead log, shared memory, blobs, keys, everything.
  std::vector<std::string> scanned;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_->root())) {
    if (e.is_regular_file()) scanned.push_back(e.path().string());
  }
  EXPECT_GE(scanned.size(), 4u) << Join(scanned);
  EXPECT_TRUE(FilesContaining(dir_->root(), marker).empty())
      << Join(FilesContaining(dir_->root(), marker));
  EXPECT_TRUE(FilesContaining(dir_->root(), marker2).empty());
  EXPECT_TRUE(FilesUnpackingTo(dir_->root(), marker).empty());
  EXPECT_TRUE(FilesUnpackingTo(dir_->root(), marker2).empty());
  for (const std::string& key : export_keys) {
    EXPECT_TRUE(FilesContaining(dir_->root(), key).empty())
        << "an export's wrapped key still on disk in:\n" << Join(FilesContaining(dir_->root(), key));
  }
  EXPECT_TRUE(FilesContaining(dir_->root(), wrapped).empty())
      << "wrapped data key still on disk in:\n"
      << Join(FilesContaining(dir_->root(), wrapped));
  EXPECT_TRUE(FilesContaining(dir_->root(), wrapped2).empty())
      << "wrapped data key still on disk in:\n"
      << Join(FilesContaining(dir_->root(), wrapped2));
  // Not even a 16-byte piece of either key.
  for (const std::string* key : {&wrapped, &wrapped2}) {
    ASSERT_GE(key->size(), 32u);
    for (size_t at = 0; at + 16 <= key->size(); at += 8) {
      EXPECT_TRUE(FilesContaining(dir_->root(), key->substr(at, 16)).empty()) << "piece at " << at;
    }
  }
  // Nor the ciphertext: its blobs are gone.
  for (const StoredFile& f : doomed_files) {
    EXPECT_FALSE(archive_->blobs().Size(f.blob_id).ok()) << f.blob_id.value;
  }
  EXPECT_TRUE(FilesContaining(dir_->root(), ciphertext.substr(ciphertext.size() / 2, 64)).empty());

  // 2. No key the archive still holds opens the destroyed content: not the
  //    saved ciphertext, and no remaining blob yields the destroyed plaintext.
  std::vector<StoredFile> remaining;
  for (const StoredFile& f : AllFiles()) {
    if (!f.wrapped_dek.empty()) remaining.push_back(f);
  }
  ASSERT_EQ(remaining.size(), 1u);  // the survivor's file
  EXPECT_EQ(remaining[0].record_id, survivor);
  auto blob_ids = archive_->blobs().List();
  ASSERT_TRUE(blob_ids.ok());
  ASSERT_EQ(blob_ids->size(), 1u);  // the survivor's blob
  for (const StoredFile& key : remaining) {
    // The saved ciphertext, under the destroyed file's id and under the key's own.
    for (const domain::FileId& as : {doomed_file.id, key.id}) {
      auto s = saved_content.Open(saved_id, as, key.kek_id, key.wrapped_dek, doomed_file.sha256);
      if (!s.ok()) continue;
      Drained d = Drain(**s);
      EXPECT_FALSE(d.complete) << "saved ciphertext decrypted with the key of " << key.id.value;
      EXPECT_EQ(d.bytes.find(marker), std::string::npos);
    }
    // Every remaining blob, as the destroyed file, with this key.
    for (const domain::BlobId& blob : *blob_ids) {
      for (const domain::FileId& as : {doomed_file.id, key.id}) {
        auto s =
            archive_->content().Open(blob, as, key.kek_id, key.wrapped_dek, doomed_file.sha256);
        if (!s.ok()) continue;
        Drained d = Drain(**s);
        EXPECT_FALSE(d.complete) << "blob " << blob.value << " passed as the destroyed file";
        EXPECT_EQ(d.bytes.find(marker), std::string::npos);
      }
    }
  }
  // The destroyed file's own record now has no key to offer.
  auto own = archive_->content().Open(FilesOf(doomed)[0]);
  EXPECT_FALSE(own.ok());
  EXPECT_EQ(own.status().reason(), storage::kContentDestroyed);
  auto read = records_->OpenContent(arch_, doomed, 1, doomed_file.id);
  EXPECT_EQ(read.status().code(), ErrorCode::kGone);

  // The survivor still reads, and the whole archive verifies clean.
  {
    auto s = records_->OpenContent(arch_, survivor, 1, remaining[0].id);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Drained d = Drain(*s->stream);
    EXPECT_TRUE(d.complete);
    EXPECT_EQ(d.bytes, survivor_text);
  }
  auto report = archive_->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::string findings;
  for (const auto& f : report->findings)
    findings += f.object + ": " + f.problem + " [" + f.code + "]\n";
  EXPECT_TRUE(report->clean()) << findings;
  EXPECT_EQ(report->records, 2u);
  EXPECT_EQ(report->files, 3u);

  // 3. Closed and reopened, still nothing.
  audit_.reset();
  exporter_.reset();
  records_.reset();
  destruction_.reset();
  retention_.reset();
  log_.reset();
  archive_.reset();
  EXPECT_TRUE(FilesContaining(dir_->root(), marker).empty());
  EXPECT_TRUE(FilesContaining(dir_->root(), wrapped).empty());
  EXPECT_TRUE(FilesContaining(dir_->root(), wrapped2).empty());
  auto reopened = storage::ArchiveStorage::Open(*dir_, config_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto again = (*reopened)->Verify();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->clean());
}

// ------------------------------------------------------------- severing

std::string Stringify(const Poco::JSON::Object::Ptr& o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

// A customer file's personal values severed by its destruction: none of
// them is left in the history API, the log entries API, a new export, the
// database files or a backup made afterwards, while the log, its tree and
// receipts issued earlier keep verifying.
class SeveringTest : public ShreddingTest {
 protected:
  // The personal values the record ever held, as UTF-8 bytes.
  const std::vector<std::string> old_values_ = {
      "张伟",  "王芳", "李娜", "310115198805126617", "上海市浦东新区世纪大道100号",
      "客户张伟的开户资料与往来记录", "开户资料已补充身份证复印件", "王芳名下的往来记录"};

  RecordId CheckInCustomerFile() {
    RecordInput in;
    in.type = "customer_file";
    in.title = "个人客户档案 Personal customer file";
    in.department = "sales";
    in.classification = "confidential";
    in.description = "客户张伟的开户资料与往来记录";
    in.location = "上海市浦东新区世纪大道100号";
    in.metadata = {{"customerName", "张伟"}, {"customerId", "310115198805126617"}};
    auto c = records_->BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return {};
    }
    crypto::Bytes bytes{'c', 'f'};
    MemorySource source(bytes);
    EXPECT_TRUE((*c)->AddFile({"开户申请.pdf", "application/pdf"}, source).ok());
    auto r = (*c)->Commit();
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return {};
    }
    return r->detail.record.id;
  }

  void Edit(const RecordId& id, const std::string& description, const std::string& name) {
    RecordPatch patch;
    patch.description = description;
    patch.metadata = domain::RecordMetadata{{"customerName", name}, {"customerId", "310115198805126617"}};
    auto r = records_->Patch(arch_, id, patch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // A record.update as versions before the severing wrote it: the old and
  // new personal values in the leaf itself. `drop_salt`: and the record as
  // those versions kept it, without a salt (so the digest is unsalted).
  uint64_t AppendLegacyUpdate(const RecordId& id, bool drop_salt = false) {
    uint64_t index = 0;
    Status s = archive_->store().Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto r, tx.records().Find(id));
      if (drop_salt) {
        r->salt.clear();
        CUSTOS_RETURN_IF_ERROR(tx.records().Update(*r));
      }
      storage::LogEvent e;
      e.action = "record.update";
      e.actor = arch_.username.value;
      e.subject = id.value;
      e.at = clock_.Now();
      CUSTOS_ASSIGN_OR_RETURN(std::string digest, storage::RecordDigest(*r));
      e.details.Set(storage::kDetailRecordHash, digest);
      e.details.Set("before", domain::EventDetails().Set("description", "客户张伟的开户资料与往来记录"));
      e.details.Set("after", domain::EventDetails().Set("description", r->description));
      CUSTOS_ASSIGN_OR_RETURN(index, tx.log().Append(e));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return index;
  }

  std::string HistoryText(const RecordId& id) {
    auto h = records_->History(arch_, id);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    std::string out;
    for (const HistoryEntry& e : h.ok() ? *h : std::vector<HistoryEntry>{}) {
      out += Stringify(http::HistoryEntryJson(e)) + "\n";
    }
    return out;
  }

  // Every page of /v1/log/entries, as the API renders it.
  std::string AllEntriesText() {
    std::string out;
    for (uint64_t start = 0;; start += kMaxEntriesPerPage) {
      auto page = log_->Entries(auditor_, start, start + kMaxEntriesPerPage);
      if (!page.ok() || page->empty()) break;
      for (const storage::LogEntry& e : *page) out += Stringify(http::EntryJson(e)) + "\n";
    }
    return out;
  }

  storage::StoredCheckpoint Latest() {
    storage::StoredCheckpoint cp;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(cp, tx.log().LatestCheckpoint());
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return cp;
  }

  void Destroy(const RecordId& id) {
    auto batch = destruction_->Propose(arch_, {id.value}, "retention expired");
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_TRUE(destruction_->Approve(ann_, batch->id).ok());
    ASSERT_TRUE(destruction_->Approve(lee_, batch->id).ok());
    auto done = destruction_->Execute(arch_, batch->id);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }

  std::string Findings() {
    auto report = archive_->Verify();
    if (!report.ok()) return report.status().ToString();
    std::string out;
    for (const auto& f : report->findings) out += f.object + ": " + f.problem + " [" + f.code + "]\n";
    return out;
  }

  const Principal auditor_ = User("audrey", Role::kAuditor, "audit");
};

TEST_F(SeveringTest, DestructionLeavesNoPersonalValueInApisExportDatabaseOrBackup) {
  RecordId id = CheckInCustomerFile();
  ASSERT_FALSE(id.value.empty());
  // A record that stays, checked in long after, for the export made after
  // the destruction (which carries the whole log).
  clock_.Set(domain::ParseTime("2032-05-01T09:00:00Z").value());
  RecordId survivor = CheckIn("保留会议纪要 Minutes to keep", {"kept"});
  clock_.Set(domain::ParseTime("2026-04-01T09:00:00Z").value());
  uint64_t legacy = AppendLegacyUpdate(id);
  Edit(id, "开户资料已补充身份证复印件", "王芳");
  clock_.Set(domain::ParseTime("2026-05-01T09:00:00Z").value());
  Edit(id, "王芳名下的往来记录", "李娜");

  // While the record lives, the history shows the changes (old and new
  // values, from record_changes); the new leaves name only the fields.
  std::string history = HistoryText(id);
  EXPECT_NE(history.find("王芳"), std::string::npos) << history;
  EXPECT_NE(history.find("\"changed\":[\"description\",\"metadata.customerName\"]"), std::string::npos)
      << history;
  std::string entries = AllEntriesText();
  for (const char* v : {"王芳", "开户资料已补充身份证复印件"}) {
    EXPECT_EQ(entries.find(v), std::string::npos) << v << " in a new leaf";
  }
  // Receipts issued before the destruction: the check-in and an update.
  auto v1 = records_->Receipt(arch_, id, 1);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  auto update_receipt = log_->Receipt(legacy + 1);
  ASSERT_TRUE(update_receipt.ok()) << update_receipt.status().ToString();
  const storage::StoredCheckpoint before = Latest();
  // The scan below finds what it looks for: the values are on disk now.
  EXPECT_FALSE(FilesContaining(dir_->root(), "王芳").empty());
  EXPECT_FALSE(FilesContaining(dir_->root(), "上海市浦东新区世纪大道100号").empty());

  // Six years without activity: due; two-person destruction.
  clock_.Set(domain::ParseTime("2032-06-01T09:00:00Z").value());
  Destroy(id);
  if (HasFatalFailure()) return;

  // Nothing of the old values anywhere the archive serves or keeps.
  history = HistoryText(id);
  std::string export_job = ExportAndWait(survivor, PackageFormat::kZip);
  ASSERT_FALSE(export_job.empty());
  std::string package = Download(export_job);
  entries = AllEntriesText();
  std::ofstream(dir_->root() + "/custos.conf") << "";  // the defaults, as init writes them
  testing::RunResult backup = testing::RunProgram({testing::BinDir() + "/custosctl", "backup", "--data", dir_->root(), "--out",
                                 tmp_.Sub("backup")});
  EXPECT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  for (const std::string& v : old_values_) {
    EXPECT_EQ(history.find(v), std::string::npos) << v << " in the history:\n" << history;
    EXPECT_EQ(entries.find(v), std::string::npos) << v << " in /v1/log/entries";
    EXPECT_FALSE(UnpackedContains(package, v)) << v << " in a new export";
    EXPECT_TRUE(FilesContaining(dir_->root(), v).empty()) << v << " in\n" << Join(FilesContaining(dir_->root(), v));
    EXPECT_TRUE(FilesContaining(tmp_.Sub("backup"), v).empty()) << v << " in the backup";
  }
  // The legacy leaf is redacted: served by its hash, named by the
  // destruction; the history still names the changed fields.
  EXPECT_NE(entries.find("{\"index\":" + std::to_string(legacy) + ",\"leafHash\":"), std::string::npos)
      << entries;
  EXPECT_NE(history.find("\"redacted\":true"), std::string::npos) << history;
  EXPECT_NE(history.find("metadata.customerName"), std::string::npos) << history;
  EXPECT_EQ(log_->Receipt(legacy).status().reason(), "entry_redacted");

  // The tree is the one signed before: same root at the same size, and the
  // archive verifies clean.
  Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 root, tx.log().RootAt(before.size));
    EXPECT_EQ(root, before.root);
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Findings(), "");
  // Receipts issued earlier verify offline, with the key alone.
  auto verifiers = archive_->keyring().log_verifiers();
  for (const std::string* receipt : {&*v1, &*update_receipt}) {
    auto checked = VerifyReceipt(*receipt, verifiers);
    EXPECT_TRUE(checked.ok()) << checked.status().ToString();
  }
}

TEST_F(SeveringTest, RedactedEntryNoDestructionNamesIsAFinding) {
  RecordId id = CheckInCustomerFile();
  ASSERT_FALSE(id.value.empty());
  Edit(id, "开户资料已补充身份证复印件", "王芳");
  ASSERT_EQ(Findings(), "");
  // Someone with the database blanks the update's leaf, as a destruction
  // would, without one.
  auto history = records_->History(arch_, id);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_FALSE(history->back().change.after_json.empty()) << "the newest entry is not the update";
  const uint64_t update = history->back().entry.index;
  Status s = archive_->store().Write([&](storage::Transaction& tx) { return tx.log().Redact(update); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(Findings().find("[log_entry_redacted]"), std::string::npos) << Findings();
}

// The Go toolchain with golang.org/x/mod from Debian's packages, or "".
std::string GoWithReferenceTlog() {
  for (const char* go : {"/usr/bin/go", "/usr/lib/go/bin/go"}) {
    if (std::filesystem::exists(go) &&
        std::filesystem::exists("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog/tlog.go")) {
      return go;
    }
  }
  return "";
}

TEST_F(SeveringTest, LogWithARedactedEntryVerifiesWithGosReferenceTlog) {
  const std::string go = GoWithReferenceTlog();
  if (go.empty()) GTEST_SKIP() << "needs Debian's golang-go and golang-golang-x-mod-dev";
  RecordId id = CheckInCustomerFile();
  ASSERT_FALSE(id.value.empty());
  const uint64_t legacy = AppendLegacyUpdate(id);
  Edit(id, "开户资料已补充身份证复印件", "王芳");
  clock_.Set(domain::ParseTime("2032-06-01T09:00:00Z").value());
  Destroy(id);
  if (HasFatalFailure()) return;

  // What a client fetches: every entry, the checkpoint, the key.
  const std::string dir = tmp_.Sub("tlog");
  std::filesystem::create_directories(dir);
  std::string entries = AllEntriesText();
  ASSERT_NE(entries.find("{\"index\":" + std::to_string(legacy) + ",\"leafHash\":"), std::string::npos);
  std::ofstream(dir + "/entries.jsonl") << entries;
  std::ofstream(dir + "/checkpoint") << log_->Checkpoint().value();
  std::ofstream(dir + "/key") << log_->VerifierKeys();
  testing::RunResult checked = testing::RunProgram(
      {"/usr/bin/env", "GO111MODULE=off", "GOPATH=/usr/share/gocode", "GOCACHE=" + tmp_.Sub("gocache"),
       "HOME=" + tmp_.Sub("."), go, "run", testing::SourceDir() + "/tests/tools/tlog_check/main.go", dir});
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  EXPECT_NE(checked.out.find(", 1 redacted"), std::string::npos) << checked.out;

  // The same check fails on a redacted entry whose hash is not the leaf's.
  const std::string bad = "{\"index\":" + std::to_string(legacy) + ",\"leafHash\":\"";
  size_t at = entries.find(bad);
  ASSERT_NE(at, std::string::npos);
  entries[at + bad.size()] = entries[at + bad.size()] == 'A' ? 'B' : 'A';
  std::ofstream(dir + "/entries.jsonl") << entries;
  checked = testing::RunProgram(
      {"/usr/bin/env", "GO111MODULE=off", "GOPATH=/usr/share/gocode", "GOCACHE=" + tmp_.Sub("gocache"),
       "HOME=" + tmp_.Sub("."), go, "run", testing::SourceDir() + "/tests/tools/tlog_check/main.go", dir});
  EXPECT_EQ(checked.exit_code, 1) << checked.out << checked.err;
}

domain::Record RecordRow(storage::ArchiveStorage& archive, const RecordId& id) {
  domain::Record out;
  Status s = archive.store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto r, tx.records().Find(id));
    if (!r) return NotFound("no record " + id.value);
    out = *r;
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST_F(SeveringTest, SaltedRecordHashCannotTestAGuessAndDestructionEmptiesTheSalt) {
  RecordId id = CheckInCustomerFile();
  ASSERT_FALSE(id.value.empty());
  domain::Record r = RecordRow(*archive_, id);
  ASSERT_EQ(r.salt.size(), 64u) << "32 random bytes, hex";
  // The logged digest is not the one a guesser can compute from values alone.
  domain::Record guessed = r;
  guessed.salt.clear();
  EXPECT_NE(storage::RecordDigest(r).value(), storage::RecordDigest(guessed).value());
  clock_.Set(domain::ParseTime("2032-06-01T09:00:00Z").value());
  Destroy(id);
  if (HasFatalFailure()) return;
  EXPECT_EQ(RecordRow(*archive_, id).salt, "");
  EXPECT_EQ(Findings(), "");
}

TEST_F(SeveringTest, RecordWithoutSaltGetsOneAtStartWithARecordSaltEventAndStillVerifies) {
  RecordId id = CheckInCustomerFile();
  ASSERT_FALSE(id.value.empty());
  // As an archive written before salts has it: no salt, an unsalted digest.
  AppendLegacyUpdate(id, /*drop_salt=*/true);
  ASSERT_EQ(Findings(), "");
  const domain::Record before = RecordRow(*archive_, id);

  clock_.Set(domain::ParseTime("2026-03-05T09:00:00Z").value());
  auto salted = storage::SaltUnsaltedRecords(archive_->store(), clock_.Now());
  ASSERT_TRUE(salted.ok()) << salted.status().ToString();
  EXPECT_EQ(*salted, 1u);
  const domain::Record after = RecordRow(*archive_, id);
  EXPECT_EQ(after.salt.size(), 64u);
  EXPECT_EQ(after.updated_at, before.updated_at) << "a salt is no activity";
  auto history = records_->History(arch_, id);
  ASSERT_TRUE(history.ok());
  auto leaf = storage::DecodeLeaf(history->back().entry.leaf);
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(leaf->event.action, storage::kRecordSaltAction);
  EXPECT_EQ(leaf->event.details.String(storage::kDetailRecordHash), storage::RecordDigest(after).value());
  EXPECT_EQ(Findings(), "");
  // The next start finds nothing to do.
  auto again = storage::SaltUnsaltedRecords(archive_->store(), clock_.Now());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

}  // namespace
}  // namespace custos::services
