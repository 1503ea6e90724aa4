// custosctl import (admin/import_command.h, docs/import.md): bulk check-in of
// a legacy archive. Every batch is built here with libarchive's write API:
// good zip and tar batches with CSV and JSON manifests, and one hostile
// archive per refusal the import promises (path tricks, links, devices,
// duplicate names, sizes over the limits, a decompression bomb). A refused
// batch must leave the archive exactly as it was: same log size, same
// records, same blobs.
//
// The import runs in this process through admin::RunImport (what custosctl
// calls), so it needs no running server; init, user add and verify run as
// the real custosctl.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "admin/batch_archive.h"
#include "admin/import_command.h"
#include "admin/import_manifest.h"
#include "admin/open_archive.h"
#include "common/byte_stream.h"
#include "storage/data_dir.h"
#include "tests/admin/cli_probes.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"
#include "tests/tools/python.h"

namespace custos::testing {
namespace {

// ------------------------------------------------------ building batches

enum class Format { kZip, kTar, kTarGz, kTarBz2, kTarXz, kTarZst };

struct Entry {
  std::string path;
  std::string content;
  unsigned type = AE_IFREG;
  std::string target;  // symbolic or hard link target
  bool hardlink = false;
  bool raw_name = false;  // store the name's bytes as they are (not as UTF-8)
};

// A directory, link or device entry.
Entry Special(const std::string& path, unsigned type, const std::string& target = "") {
  Entry e;
  e.path = path;
  e.type = type;
  e.target = target;
  return e;
}

Entry File(const std::string& path, const std::string& content) {
  Entry e;
  e.path = path;
  e.content = content;
  return e;
}
Entry Dir(const std::string& path) { return Special(path, AE_IFDIR); }

// Writes `entries` as an archive of `format` to `file`. The writer does not
// sanitise names, so hostile entries come out as given.
void WriteArchive(const std::string& file, Format format, const std::vector<Entry>& entries) {
  struct archive* a = archive_write_new();
  ASSERT_NE(a, nullptr);
  if (format == Format::kZip) {
    ASSERT_EQ(archive_write_set_format_zip(a), ARCHIVE_OK);
  } else {
    ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
  }
  switch (format) {
    case Format::kTarGz:
      ASSERT_EQ(archive_write_add_filter_gzip(a), ARCHIVE_OK);
      break;
    case Format::kTarBz2:
      ASSERT_EQ(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
      break;
    case Format::kTarXz:
      ASSERT_EQ(archive_write_add_filter_xz(a), ARCHIVE_OK);
      break;
    case Format::kTarZst:
      ASSERT_EQ(archive_write_add_filter_zstd(a), ARCHIVE_OK);
      break;
    default:
      break;
  }
  ASSERT_EQ(archive_write_open_filename(a, file.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const Entry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    if (e.raw_name) {
      archive_entry_copy_pathname(entry, e.path.c_str());
    } else {
      archive_entry_set_pathname_utf8(entry, e.path.c_str());
    }
    archive_entry_set_mtime(entry, 1700000000, 0);
    if (e.hardlink) {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_perm(entry, 0644);
      archive_entry_set_hardlink_utf8(entry, e.target.c_str());
      archive_entry_set_size(entry, 0);
    } else {
      archive_entry_set_filetype(entry, e.type);
      archive_entry_set_perm(entry, e.type == AE_IFDIR ? 0755 : 0644);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
      if (e.type == AE_IFLNK) archive_entry_set_symlink_utf8(entry, e.target.c_str());
      if (e.type == AE_IFCHR || e.type == AE_IFBLK) archive_entry_set_rdev(entry, makedev(1, 3));
    }
    int r = archive_write_header(a, entry);
    archive_entry_free(entry);
    ASSERT_EQ(r, ARCHIVE_OK) << e.path << ": " << archive_error_string(a);
    if (!e.content.empty()) {
      ASSERT_EQ(archive_write_data(a, e.content.data(), e.content.size()),
                static_cast<la_ssize_t>(e.content.size()))
          << e.path << ": " << archive_error_string(a);
    }
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
}

// Rewrites the uncompressed size that the local header and the central
// directory of a zip declare for entry `name`, as a hostile zip would.
void PatchZipDeclaredSize(const std::string& file, const std::string& name, uint32_t size) {
  std::string zip = ReadFileOrDie(file);
  auto u16 = [&](size_t at) {
    return static_cast<size_t>(static_cast<uint8_t>(zip[at]) | static_cast<uint8_t>(zip[at + 1])
                                                                   << 8);
  };
  auto put32 = [&](size_t at) {
    for (int i = 0; i < 4; ++i) zip[at + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  };
  int patched = 0;
  for (size_t at = zip.find("PK\x03\x04"); at != std::string::npos;
       at = zip.find("PK\x03\x04", at + 4)) {
    if (zip.compare(at + 30, name.size(), name) == 0 && u16(at + 26) == name.size()) {
      put32(at + 22);
      ++patched;
    }
  }
  for (size_t at = zip.find("PK\x01\x02"); at != std::string::npos;
       at = zip.find("PK\x01\x02", at + 4)) {
    if (zip.compare(at + 46, name.size(), name) == 0 && u16(at + 28) == name.size()) {
      put32(at + 24);
      ++patched;
    }
  }
  ASSERT_EQ(patched, 2) << "local header and central directory entry of " << name;
  WriteFile(file, zip);
}

// Bytes that do not compress (fixed seed).
std::string Incompressible(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// ------------------------------------------------------ detached signatures

template <auto kFree>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

// A self-signed P-256 signer, its certificate as PEM (to trust it), and
// detached CMS signatures (DER) made with it.
class Signer {
 public:
  Signer() {
    key_.reset(EVP_EC_gen("P-256"));
    cert_.reset(X509_new());
    if (!key_ || !cert_) return;
    X509_set_version(cert_.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_.get()), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert_.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert_.get()), 3600L * 24 * 365);
    X509_NAME* name = X509_get_subject_name(cert_.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("Import Test Signer"), -1, -1,
                               0);
    X509_set_issuer_name(cert_.get(), name);
    X509_set_pubkey(cert_.get(), key_.get());
    ok_ = X509_sign(cert_.get(), key_.get(), EVP_sha256()) > 0;
  }
  bool ok() const { return ok_; }

  std::string CertificatePem() const {
    std::unique_ptr<BIO, OpenSslFree<BIO_free>> out(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(out.get(), cert_.get());
    char* p = nullptr;
    long n = BIO_get_mem_data(out.get(), &p);
    return std::string(p, static_cast<size_t>(n));
  }

  std::string SignDetached(const std::string& content) const {
    std::unique_ptr<BIO, OpenSslFree<BIO_free>> data(
        BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    std::unique_ptr<CMS_ContentInfo, OpenSslFree<CMS_ContentInfo_free>> cms(
        CMS_sign(cert_.get(), key_.get(), nullptr, data.get(), CMS_DETACHED | CMS_BINARY));
    if (!cms) return {};
    std::unique_ptr<BIO, OpenSslFree<BIO_free>> out(BIO_new(BIO_s_mem()));
    if (i2d_CMS_bio(out.get(), cms.get()) != 1) return {};
    char* p = nullptr;
    long n = BIO_get_mem_data(out.get(), &p);
    return std::string(p, static_cast<size_t>(n));
  }

 private:
  std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>> key_;
  std::unique_ptr<X509, OpenSslFree<X509_free>> cert_;
  bool ok_ = false;
};

// ------------------------------------------------------ the archive

constexpr char kArchivist[] = "alice";
constexpr char kStaff[] = "bob";
constexpr char kPassword[] = "a long enough password";

// custosctl init, an archivist and a staff member (whose department, sales,
// records are filed under); optional configuration lines; the signer's
// certificate in DATA/trust when given.
void MakeDataDir(const TempDir& tmp, const std::string& data, const std::string& config = "",
                 const std::string& trusted_pem = "") {
  std::string pw = tmp.Sub("pw-" + std::filesystem::path(data).filename().string());
  WriteFile(pw, std::string(kPassword) + "\n");
  RunResult init = RunProgram({Ctl(), "init", "--data", data, "--admin-password-file", pw});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  RunResult a = RunProgram({Ctl(), "user", "add", kArchivist, "--role", "archivist", "--department",
                            "records", "--data", data, "--password-file", pw});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  RunResult b = RunProgram({Ctl(), "user", "add", kStaff, "--role", "staff", "--department",
                            "sales", "--data", data, "--password-file", pw});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  if (!config.empty()) SetConfigLines(data + "/custos.conf", config);
  if (!trusted_pem.empty()) {
    std::filesystem::create_directory(data + "/trust");
    WriteFile(data + "/trust/signer.pem", trusted_pem);
  }
}

// What a refused import must leave untouched.
struct Snapshot {
  uint64_t log_size = 0;
  uint64_t records = 0;
  uint64_t blobs = 0;
  bool operator==(const Snapshot& o) const {
    return log_size == o.log_size && records == o.records && blobs == o.blobs;
  }
};

std::ostream& operator<<(std::ostream& os, const Snapshot& s) {
  return os << "{log " << s.log_size << ", records " << s.records << ", blobs " << s.blobs << "}";
}

Snapshot Take(const std::string& data) {
  Snapshot s;
  auto archive = admin::OpenArchive(data);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  if (!archive.ok()) return s;
  Status st = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(s.log_size, tx.log().Size());
    return tx.records().ForEach([&](const domain::Record&) {
      ++s.records;
      return Status::Ok();
    });
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  for (const auto& f : std::filesystem::recursive_directory_iterator(data + "/blobs")) {
    if (f.is_regular_file()) ++s.blobs;
  }
  return s;
}

struct ImportRun {
  int code = -1;
  std::string out;
  std::string err;
};

ImportRun RunImport(const std::string& data, const std::string& batch,
                    std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--data", data, "--as", kArchivist};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(batch);
  std::ostringstream out, err;
  ImportRun r;
  r.code = admin::RunImport(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// The plaintext of a stored file, read back through the ContentStore.
std::string ReadContent(storage::ArchiveStorage& archive, const domain::StoredFile& f) {
  auto source = archive.content().Open(f);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return {};
  std::string out;
  uint8_t buf[8192];
  while (true) {
    auto n = (*source)->Read(buf, sizeof buf);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) break;
    out.append(reinterpret_cast<const char*>(buf), *n);
  }
  return out;
}

struct StoredRecord {
  domain::Record record;
  domain::Version version;  // version 1
  std::string leaf;          // its record.checkin log leaf
};

StoredRecord ReadRecord(storage::ArchiveStorage& archive, const std::string& id) {
  StoredRecord out;
  Status s = archive.store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto r, tx.records().Find(domain::RecordId{id}));
    if (!r) return NotFound("no record " + id);
    out.record = *r;
    CUSTOS_ASSIGN_OR_RETURN(auto versions, tx.versions().List(domain::RecordId{id}));
    if (versions.size() != 1) return Internal("expected one version");
    out.version = versions[0];
    CUSTOS_ASSIGN_OR_RETURN(auto entries,
                            tx.log().Entries(out.version.log_index, out.version.log_index + 1, 1));
    if (entries.size() != 1) return Internal("no log entry");
    out.leaf = entries[0].leaf;
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

const domain::StoredFile* FileNamed(const domain::Version& v, const std::string& name) {
  for (const auto& f : v.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void ExpectVerifyClean(const std::string& data) {
  RunResult v = RunProgram({Ctl(), "verify", "--data", data});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// --------------------------------------------------------- the fixture

// One data directory for the suite: refused batches must not change it, and
// the good batches add their own records beside the others'.
class ImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir;
    data_ = tmp_->Sub("data");
    MakeDataDir(*tmp_, data_);
  }
  static void TearDownTestSuite() {
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override { ASSERT_FALSE(HasFatalFailure()) << "data directory set-up failed"; }

  std::string Batch(const std::string& name) { return scratch_.Sub(name); }

  // Runs the import of `batch` and expects a refusal (exit 1) whose message
  // contains every one of `fragments`, with the archive unchanged.
  void ExpectRefused(const std::string& batch, const std::vector<std::string>& fragments,
                     std::vector<std::string> extra = {}) {
    Snapshot before = Take(data_);
    ImportRun r = RunImport(data_, batch, std::move(extra));
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    for (const std::string& f : fragments) {
      EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in:\n" << r.err;
    }
    EXPECT_NE(r.err.find("nothing was imported"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(Take(data_), before);
  }

  static TempDir* tmp_;
  static std::string data_;
  TempDir scratch_;
};

TempDir* ImportTest::tmp_ = nullptr;
std::string ImportTest::data_;

// A minimal valid batch: one general record with one file. Hostile cases
// add their entry to it, so that entry is the only thing wrong.
const char kOneRecordCsv[] =
    "recordKey,path,type,title,department,classification\n"
    "G1,docs/note.txt,general,Migrated note,sales,internal\n";

std::vector<Entry> OneRecord() {
  return {File("manifest.csv", kOneRecordCsv), Dir("docs/"), File("docs/note.txt", "a note\n")};
}

std::vector<Entry> With(std::vector<Entry> base, const Entry& extra) {
  base.push_back(extra);
  return base;
}

// ------------------------------------------------------- good batches

TEST_F(ImportTest, ZipWithCsvManifestImportsEachRecordWithItsFiles) {
  const std::string contract = Incompressible(200000, 1);
  const std::string annex = "Annex 1: delivery schedule\n";
  const std::string certificate = Incompressible(5000, 2);
  const std::string csv =
      "recordKey,path,name,type,title,department,classification,description,location,"
      "metadata.counterparty,metadata.contractNumber,metadata.signedDate,metadata.amount,"
      "metadata.currency,metadata.issuer,metadata.certificateNumber,metadata.validUntil\n"
      "C-1,contracts/2019/supply.pdf,,contract,\"Supply contract, 2019\",sales,confidential,"
      "\"Framework agreement\nwith annex\",Box 12,ACME "
      "Ltd,HT-2019-001,2019-03-01,1250000.00,CNY,,,\n"
      "C-1,contracts/2019/附件一.txt,,,,,,,,,,,,,,,\n"
      "Q-1,certs/iso9001.pdf,ISO 9001.pdf,qualification,ISO 9001 certificate,sales,internal,,,,,"
      ",,,CQC,ISO-9001-7788,2027-12-31\n";
  const std::string batch = Batch("legacy.zip");
  WriteArchive(
      batch, Format::kZip,
      {Dir("contracts/"), Dir("contracts/2019/"), File("contracts/2019/supply.pdf", contract),
       File("manifest.csv", csv), File("contracts/2019/附件一.txt", annex), Dir("certs/"),
       File("certs/iso9001.pdf", certificate)});
  Snapshot before = Take(data_);

  ImportRun r = RunImport(data_, batch);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  // One line per record, in manifest order, then the summary.
  std::istringstream lines(r.out);
  std::string contract_line, cert_line, summary;
  std::getline(lines, contract_line);
  std::getline(lines, cert_line);
  std::getline(lines, summary);
  ASSERT_EQ(contract_line.rfind("imported CT-", 0), 0u) << r.out;
  EXPECT_NE(contract_line.find("Supply contract, 2019 (2 files)"), std::string::npos) << r.out;
  ASSERT_EQ(cert_line.rfind("imported QC-", 0), 0u) << r.out;
  EXPECT_NE(cert_line.find("ISO 9001 certificate (1 file)"), std::string::npos) << r.out;
  EXPECT_NE(summary.find("imported 2 records (3 files"), std::string::npos) << r.out;
  EXPECT_NE(summary.find("as alice"), std::string::npos) << r.out;
  const std::string contract_id = contract_line.substr(9, 14);
  const std::string cert_id = cert_line.substr(9, 14);

  Snapshot after = Take(data_);
  EXPECT_EQ(after.records, before.records + 2);
  EXPECT_EQ(after.log_size, before.log_size + 2);
  EXPECT_EQ(after.blobs, before.blobs + 3);

  auto archive = admin::OpenArchive(data_);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  StoredRecord c = ReadRecord(**archive, contract_id);
  EXPECT_EQ(c.record.type, domain::RecordType::kContract);
  EXPECT_EQ(c.record.title, "Supply contract, 2019");
  EXPECT_EQ(c.record.description, "Framework agreement\nwith annex");
  EXPECT_EQ(c.record.department, "sales");
  EXPECT_EQ(c.record.classification, domain::Classification::kConfidential);
  EXPECT_EQ(c.record.location, "Box 12");
  EXPECT_EQ(c.record.custodian, kArchivist);
  EXPECT_NE(c.record.metadata_json.find("\"counterparty\":\"ACME Ltd\""), std::string::npos)
      << c.record.metadata_json;
  EXPECT_NE(c.record.metadata_json.find("\"amount\":\"1250000.00\""), std::string::npos);
  ASSERT_EQ(c.version.files.size(), 2u);
  const domain::StoredFile* supply = FileNamed(c.version, "supply.pdf");
  const domain::StoredFile* annex_file = FileNamed(c.version, "附件一.txt");
  ASSERT_NE(supply, nullptr);
  ASSERT_NE(annex_file, nullptr);
  EXPECT_EQ(supply->media_type, "application/pdf");
  EXPECT_EQ(annex_file->media_type, "text/plain");
  EXPECT_EQ(ReadContent(**archive, *supply), contract);
  EXPECT_EQ(ReadContent(**archive, *annex_file), annex);
  EXPECT_NE(c.leaf.find("\"action\":\"record.checkin\""), std::string::npos) << c.leaf;
  EXPECT_NE(c.leaf.find("\"actor\":\"alice\""), std::string::npos) << c.leaf;

  StoredRecord q = ReadRecord(**archive, cert_id);
  EXPECT_EQ(q.record.type, domain::RecordType::kQualification);
  EXPECT_NE(q.record.metadata_json.find("\"validUntil\":\"2027-12-31\""), std::string::npos);
  ASSERT_EQ(q.version.files.size(), 1u);
  EXPECT_EQ(q.version.files[0].name, "ISO 9001.pdf");  // the manifest's name column
  EXPECT_EQ(ReadContent(**archive, q.version.files[0]), certificate);
  EXPECT_NE(q.leaf.find("\"actor\":\"alice\""), std::string::npos) << q.leaf;
  archive->reset();

  ExpectVerifyClean(data_);
}

TEST_F(ImportTest, TarGzWithJsonManifestAndSignaturesImports) {
  Signer signer;
  ASSERT_TRUE(signer.ok());
  const std::string dossier = Incompressible(70000, 3);
  const std::string report = "Test report: passed\n";
  const std::string customer = "Customer since 2011\n";
  const std::string dossier_sig = signer.SignDetached(dossier);
  const std::string report_sig = signer.SignDetached(report);
  ASSERT_FALSE(dossier_sig.empty());
  const std::string json = R"([
    {"recordKey": "PD-7", "path": "dossiers/x7/spec.bin", "signature": "dossiers/x7/spec.bin.p7s",
     "type": "product_dossier", "title": "X7 dossier", "department": "sales",
     "classification": "internal", "metadata": {"productModel": "X7", "documentKind": "spec"}},
    {"recordKey": "PD-7", "path": "dossiers/x7/report.txt", "signature": "sig/report.p7s",
     "mediaType": "text/plain"},
    {"path": "customers/zhang.txt", "type": "customer_file", "title": "Zhang Wei",
     "department": "sales", "classification": "confidential", "custodian": "bob",
     "metadata": {"customerName": "Zhang Wei", "customerId": "C-0042"}, "description": null}
  ])";
  const std::string batch = Batch("legacy.tar.gz");
  // One signature before its file, one after: the order must not matter.
  WriteArchive(batch, Format::kTarGz,
               {File("sig/report.p7s", report_sig), File("dossiers/x7/spec.bin", dossier),
                File("dossiers/x7/report.txt", report), File("customers/zhang.txt", customer),
                File("dossiers/x7/spec.bin.p7s", dossier_sig), File("manifest.json", json)});
  Snapshot before = Take(data_);

  ImportRun r = RunImport(data_, batch, {"--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  Poco::JSON::Object::Ptr result =
      Poco::JSON::Parser().parse(r.out).extract<Poco::JSON::Object::Ptr>();
  EXPECT_EQ(result->getValue<std::string>("outcome"), "imported");
  EXPECT_EQ(result->getValue<std::string>("actor"), "alice");
  Poco::JSON::Array::Ptr records = result->getArray("records");
  ASSERT_EQ(records->size(), 2u);
  Poco::JSON::Object::Ptr pd = records->getObject(0);
  Poco::JSON::Object::Ptr cf = records->getObject(1);
  EXPECT_EQ(pd->getValue<std::string>("key"), "PD-7");
  EXPECT_EQ(pd->getValue<std::string>("id").substr(0, 3), "PD-");
  EXPECT_EQ(cf->getValue<std::string>("id").substr(0, 3), "CF-");
  EXPECT_EQ(pd->getArray("files")->size(), 2u);
  EXPECT_EQ(result->getObject("summary")->getValue<int>("files"), 3);
  EXPECT_EQ(Take(data_).records, before.records + 2);

  auto archive = admin::OpenArchive(data_);
  ASSERT_TRUE(archive.ok());
  StoredRecord p = ReadRecord(**archive, pd->getValue<std::string>("id"));
  EXPECT_EQ(p.record.type, domain::RecordType::kProductDossier);
  EXPECT_EQ(p.record.title, "X7 dossier");
  const domain::StoredFile* spec = FileNamed(p.version, "spec.bin");
  const domain::StoredFile* rep = FileNamed(p.version, "report.txt");
  ASSERT_NE(spec, nullptr);
  ASSERT_NE(rep, nullptr);
  EXPECT_EQ(ReadContent(**archive, *spec), dossier);
  EXPECT_EQ(ReadContent(**archive, *rep), report);
  // Attached and checked (this archive does not trust the signer).
  EXPECT_EQ(spec->signature.status, "invalid");
  EXPECT_EQ(spec->signature.reason, "untrusted_chain");
  EXPECT_NE(spec->signature.signer.find("Import Test Signer"), std::string::npos);
  EXPECT_EQ(rep->signature.reason, "untrusted_chain");
  EXPECT_NE(p.leaf.find("\"actor\":\"alice\""), std::string::npos);

  StoredRecord c = ReadRecord(**archive, cf->getValue<std::string>("id"));
  EXPECT_EQ(c.record.custodian, "bob");
  ASSERT_EQ(c.version.files.size(), 1u);
  EXPECT_EQ(ReadContent(**archive, c.version.files[0]), customer);
  archive->reset();

  ExpectVerifyClean(data_);
}

// Every compression the batch may use, checked with --dry-run, which
// changes nothing.
TEST_F(ImportTest, EveryCompressionIsReadAndDryRunImportsNothing) {
  const std::vector<std::pair<Format, std::string>> formats = {
      {Format::kTar, "b.tar"},      {Format::kTarGz, "b.tgz"},      {Format::kTarBz2, "b.tar.bz2"},
      {Format::kTarXz, "b.tar.xz"}, {Format::kTarZst, "b.tar.zst"}, {Format::kZip, "b.zip"}};
  Snapshot before = Take(data_);
  for (const auto& [format, name] : formats) {
    SCOPED_TRACE(name);
    std::string batch = Batch(name);
    WriteArchive(batch, format, OneRecord());
    ImportRun r = RunImport(data_, batch, {"--dry-run"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("would import general Migrated note (1 file)"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("can be imported: 1 record (1 file, 7 bytes); nothing was imported"),
              std::string::npos)
        << r.out;
  }
  EXPECT_EQ(Take(data_), before);
}

// ----------------------------------------------------- hostile archives

TEST_F(ImportTest, DotDotPathIsRefused) {
  std::string batch = Batch("dotdot.tar.gz");
  WriteArchive(batch, Format::kTarGz, With(OneRecord(), File("../evil", "x")));
  ExpectRefused(batch, {"entry '../evil'", "'..'"});
}

TEST_F(ImportTest, DotDotInsideAPathIsRefusedInAZip) {
  std::string batch = Batch("dotdot.zip");
  WriteArchive(batch, Format::kZip, With(OneRecord(), File("docs/../../evil", "x")));
  ExpectRefused(batch, {"entry 'docs/../../evil'", "'..'"});
}

TEST_F(ImportTest, AbsolutePathIsRefused) {
  std::string batch = Batch("abs.tar");
  WriteArchive(batch, Format::kTar, With(OneRecord(), File("/abs/passwd", "x")));
  ExpectRefused(batch, {"entry '/abs/passwd'", "absolute"});
}

TEST_F(ImportTest, BackslashAndControlCharactersAreRefused) {
  std::string a = Batch("backslash.tar");
  WriteArchive(a, Format::kTar, With(OneRecord(), File("..\\evil", "x")));
  ExpectRefused(a, {"backslash"});
  std::string b = Batch("control.tar");
  WriteArchive(b, Format::kTar, With(OneRecord(), File("docs/bad\x1b[2Jname", "x")));
  ExpectRefused(b, {"entry 'docs/bad\\x1b[2Jname'", "control character"});
}

// A name in GBK, as a zip made on a Chinese Windows system may hold.
TEST_F(ImportTest, NameThatIsNotUtf8IsRefusedByIndexAndBytesNamingTheOption) {
  Entry gbk = File("docs/\xBA\xCF\xCD\xAC.pdf", "x");  // 合同 in GBK
  gbk.raw_name = true;
  std::string batch = Batch("gbk.zip");
  WriteArchive(batch, Format::kZip, With(OneRecord(), gbk));
  ExpectRefused(batch, {"entry #4 'docs/\\xba\\xcf\\xcd\\xac.pdf'", "name bytes in hex: 646f63732fbacfcdac2e706466",
                        "not valid UTF-8", "--name-encoding gbk"});
}

TEST_F(ImportTest, NameNeitherUtf8NorGbkIsRefusedWithItsBytesUnderTheGbkOption) {
  Entry bad = File("docs/\xFF\xFE\x80.pdf", "x");
  bad.raw_name = true;
  std::string batch = Batch("not-gbk.zip");
  WriteArchive(batch, Format::kZip, With(OneRecord(), bad));
  ExpectRefused(batch, {"entry #4", "name bytes in hex: 646f63732ffffe802e706466", "nor valid GBK"},
                {"--name-encoding", "gbk"});
}

// Writes a zip with Python's zipfile (tests/tools/make_zip.py): names in
// UTF-8 with bit 11 ("utf-8"), or in GBK without it as Chinese Windows tools
// write them ("gbk"); each entry's text in `encoding` (utf-8, utf-8-sig, gbk).
struct PyEntry {
  std::string name;
  std::string text;
  std::string encoding = "utf-8";
};

void PythonZip(const std::string& out, const std::string& name_encoding, const std::vector<PyEntry>& entries) {
  Poco::JSON::Object spec;
  spec.set("nameEncoding", name_encoding);
  Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
  for (const PyEntry& e : entries) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("name", e.name);
    o->set("text", e.text);
    o->set("encoding", e.encoding);
    list->add(o);
  }
  spec.set("entries", list);
  std::ostringstream json;
  spec.stringify(json);
  RunResult r = RunProgram({Python(), "tests/tools/make_zip.py", out, json.str()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

// The archive number in "imported GN-2026-000001 …".
std::string ImportedId(const std::string& out) {
  return out.rfind("imported ", 0) == 0 ? out.substr(9, 14) : "";
}

TEST_F(ImportTest, PythonZipWithUtf8FlaggedNamesImports) {
  // The zip of the audit: Python's zipfile sets bit 11 on 文件.pdf; the
  // manifest is UTF-8 with a byte order mark, as Excel's "CSV UTF-8" saves it.
  const std::string batch = Batch("python-utf8.zip");
  PythonZip(batch, "utf-8",
            {{"资料/文件.pdf", "%PDF-1.7 文件"},
             {"manifest.csv",
              "recordKey,path,type,title,department,classification\n"
              "P1,资料/文件.pdf,general,合同扫描件 Python zip,sales,internal\n",
              "utf-8-sig"}});
  ImportRun r = RunImport(data_, batch);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto archive = admin::OpenArchive(data_);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  StoredRecord rec = ReadRecord(**archive, ImportedId(r.out));
  EXPECT_EQ(rec.record.title, "合同扫描件 Python zip");
  const domain::StoredFile* f = FileNamed(rec.version, "文件.pdf");
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_EQ(ReadContent(**archive, *f), "%PDF-1.7 文件");
}

TEST_F(ImportTest, GbkZipFromWindowsToolsImportsOnlyWithTheOption) {
  const std::string batch = Batch("windows-gbk.zip");
  PythonZip(batch, "gbk",
            {{"合同/合同正本.pdf", "%PDF-1.4 contract"},
             {"manifest.csv",
              "recordKey,path,type,title,department,classification\r\n"
              "W1,合同/合同正本.pdf,general,采购合同 GBK 清单,sales,internal\r\n",
              "gbk"}});
  // Without the option: refused, naming the first entry, its bytes and the way out.
  ExpectRefused(batch, {"entry #1", "name bytes in hex: bacfcdac2fbacfcdacd5fdb1be2e706466",
                        "--name-encoding gbk"});
  ImportRun r = RunImport(data_, batch, {"--name-encoding", "gbk"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto archive = admin::OpenArchive(data_);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  StoredRecord rec = ReadRecord(**archive, ImportedId(r.out));
  EXPECT_EQ(rec.record.title, "采购合同 GBK 清单");
  const domain::StoredFile* f = FileNamed(rec.version, "合同正本.pdf");
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_EQ(ReadContent(**archive, *f), "%PDF-1.4 contract");
}

TEST_F(ImportTest, GnuTarWithGbkNamesImportsOnlyWithTheOption) {
  // GNU tar names are bytes of no stated encoding: Python's tarfile writes
  // them in GBK here, as a tar made on Chinese Windows has them.
  const std::string batch = Batch("windows-gbk.tar");
  const char kMakeTar[] = R"(
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT, encoding="gbk") as t:
    for name, data in [("档案/会议纪要.pdf", b"%PDF minutes"),
                       ("manifest.csv", "path,type,title,department,classification\n"
                        "档案/会议纪要.pdf,general,董事会会议纪要 2019,sales,internal\n".encode("gbk"))]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
)";
  RunResult made = RunProgram({Python(), "-c", kMakeTar, batch});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ExpectRefused(batch, {"entry #1", "name bytes in hex: b5b5b0b82fbbe1d2e9bccdd2aa2e706466", "--name-encoding gbk"});
  ImportRun r = RunImport(data_, batch, {"--name-encoding", "GBK"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto archive = admin::OpenArchive(data_);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  StoredRecord rec = ReadRecord(**archive, ImportedId(r.out));
  EXPECT_EQ(rec.record.title, "董事会会议纪要 2019");
  const domain::StoredFile* f = FileNamed(rec.version, "会议纪要.pdf");
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_EQ(ReadContent(**archive, *f), "%PDF minutes");
}

TEST_F(ImportTest, GbkManifestWithoutTheOptionIsRefusedNamingIt) {
  const std::string batch = Batch("gbk-manifest.zip");
  PythonZip(batch, "utf-8",
            {{"文件.pdf", "x"},
             {"manifest.csv",
              "recordKey,path,type,title,department,classification\n"
              "M1,文件.pdf,general,会议纪要,sales,internal\n",
              "gbk"}});
  ExpectRefused(batch, {"manifest.csv is not valid UTF-8", "--name-encoding gbk"});
}

TEST_F(ImportTest, SymbolicLinkIsRefused) {
  Entry link = Special("docs/passwd", AE_IFLNK, "/etc/passwd");
  std::string batch = Batch("symlink.tar.gz");
  WriteArchive(batch, Format::kTarGz, With(OneRecord(), link));
  ExpectRefused(batch, {"entry 'docs/passwd'", "symbolic link", "/etc/passwd"});
}

TEST_F(ImportTest, SymbolicLinkInAZipIsRefused) {
  Entry link = Special("docs/up", AE_IFLNK, "../..");
  std::string batch = Batch("symlink.zip");
  WriteArchive(batch, Format::kZip, With(OneRecord(), link));
  ExpectRefused(batch, {"entry 'docs/up'", "symbolic link"});
}

TEST_F(ImportTest, HardLinkIsRefused) {
  Entry link;
  link.path = "docs/copy.txt";
  link.hardlink = true;
  link.target = "docs/note.txt";
  std::string batch = Batch("hardlink.tar");
  WriteArchive(batch, Format::kTar, With(OneRecord(), link));
  ExpectRefused(batch, {"entry 'docs/copy.txt'", "hard link"});
}

TEST_F(ImportTest, DeviceFilesAndFifosAreRefused) {
  std::string chr = Batch("chr.tar");
  WriteArchive(chr, Format::kTar, With(OneRecord(), Special("dev/null", AE_IFCHR)));
  ExpectRefused(chr, {"entry 'dev/null'", "character device"});
  std::string blk = Batch("blk.tar");
  WriteArchive(blk, Format::kTar, With(OneRecord(), Special("dev/sda", AE_IFBLK)));
  ExpectRefused(blk, {"entry 'dev/sda'", "block device"});
  std::string fifo = Batch("fifo.tar");
  WriteArchive(fifo, Format::kTar, With(OneRecord(), Special("docs/pipe", AE_IFIFO)));
  ExpectRefused(fifo, {"entry 'docs/pipe'", "fifo"});
}

TEST_F(ImportTest, DuplicateNameIsRefused) {
  std::string batch = Batch("dup.tar");
  WriteArchive(batch, Format::kTar, With(OneRecord(), File("docs/note.txt", "replaced\n")));
  ExpectRefused(batch, {"entry 'docs/note.txt'", "more than once"});
}

TEST_F(ImportTest, DuplicateNameInAZipIsRefused) {
  std::string batch = Batch("dup.zip");
  WriteArchive(batch, Format::kZip, With(OneRecord(), File("docs/note.txt", "replaced\n")));
  ExpectRefused(batch, {"entry 'docs/note.txt'", "more than once"});
}

TEST_F(ImportTest, NamesDifferingOnlyInCaseAreDuplicates) {
  std::string batch = Batch("case.tar");
  WriteArchive(batch, Format::kTar, With(OneRecord(), File("DOCS/Note.TXT", "other\n")));
  ExpectRefused(batch, {"entry 'DOCS/Note.TXT'", "more than once"});
}

TEST_F(ImportTest, SameNameAfterDotSegmentsIsADuplicate) {
  std::string batch = Batch("dot.tar");
  WriteArchive(batch, Format::kTar, With(OneRecord(), File("./docs/./note.txt", "other\n")));
  ExpectRefused(batch, {"entry './docs/./note.txt'", "more than once"});
}

TEST_F(ImportTest, EntryInsideAFileIsRefused) {
  std::string batch = Batch("inside.tar");
  WriteArchive(batch, Format::kTar, With(OneRecord(), File("docs/note.txt/x", "x")));
  ExpectRefused(batch, {"entry 'docs/note.txt/x'", "lies inside 'docs/note.txt', which is a file"});
  // The same with the file after the entry below it.
  std::string reversed = Batch("inside2.zip");
  WriteArchive(reversed, Format::kZip,
               With(With(OneRecord(), File("docs/Sub/x.txt", "x")), File("docs/sub", "file")));
  ExpectRefused(reversed, {"entry 'docs/Sub/x.txt'", "lies inside 'docs/sub', which is a file"});
}

TEST_F(ImportTest, EntryOverTheFileSizeLimitIsRefused) {
  std::string batch = Batch("big.tar");
  WriteArchive(batch, Format::kTar,
               With(OneRecord(), File("docs/big.bin", Incompressible(5000, 4))));
  ExpectRefused(batch, {"entry 'docs/big.bin'", "4096 bytes per file"}, {"--max-file-bytes", "4K"});
}

// A zip whose headers claim 100 bytes for a 1 MiB entry: the bytes are
// counted as they are decompressed, not taken from the headers, so the
// limit stops the read long before the entry's end.
TEST_F(ImportTest, ZipHeaderUnderstatingTheSizeDoesNotPassTheLimit) {
  std::string batch = Batch("lying.zip");
  WriteArchive(batch, Format::kZip,
               With(OneRecord(), File("docs/big.bin", Incompressible(1 << 20, 5))));
  PatchZipDeclaredSize(batch, "docs/big.bin", 100);
  ExpectRefused(batch, {"entry 'docs/big.bin'", "is larger than the limit of 65536 bytes per file"},
                {"--max-file-bytes", "64K"});
}

// The same lie under the limit: the entry does not hold what it declares.
TEST_F(ImportTest, ZipEntryHoldingOtherThanItsDeclaredSizeIsRefused) {
  std::string batch = Batch("lying.zip");
  WriteArchive(batch, Format::kZip,
               With(OneRecord(), File("docs/big.bin", Incompressible(5000, 5))));
  PatchZipDeclaredSize(batch, "docs/big.bin", 100);
  ExpectRefused(batch, {"entry 'docs/big.bin'"});
}

TEST_F(ImportTest, TotalExpansionOverTheLimitIsRefused) {
  std::string batch = Batch("total.tar");
  WriteArchive(
      batch, Format::kTar,
      {File("manifest.csv", kOneRecordCsv), File("docs/note.txt", "a note\n"),
       File("docs/a.bin", Incompressible(3000, 6)), File("docs/b.bin", Incompressible(3000, 7)),
       File("docs/c.bin", Incompressible(3000, 8))});
  // 5000 bytes: the manifest, note and a.bin fit; b.bin crosses the limit.
  ExpectRefused(batch, {"entry 'docs/b.bin'", "5000 bytes decompressed"},
                {"--max-total-bytes", "5000"});
}

TEST_F(ImportTest, CompressionBombInTarGzIsRefused) {
  std::string batch = Batch("bomb.tar.gz");
  WriteArchive(batch, Format::kTarGz,
               With(OneRecord(), File("docs/zeros.bin", std::string(10 << 20, '\0'))));
  ASSERT_LT(std::filesystem::file_size(batch), (10u << 20) / 100);
  ExpectRefused(batch, {"entry 'docs/zeros.bin'", "compression ratio of 100:1"});
}

TEST_F(ImportTest, CompressionBombInZipIsRefused) {
  std::string batch = Batch("bomb.zip");
  WriteArchive(batch, Format::kZip,
               With(OneRecord(), File("docs/zeros.bin", std::string(10 << 20, '\0'))));
  ExpectRefused(batch, {"entry 'docs/zeros.bin'", "compression ratio of 100:1"});
}

// The batch as a whole stays under 100:1 (incompressible padding), but one
// zip entry expands 1000:1.
TEST_F(ImportTest, ZipEntryCompressedOver100To1IsRefusedInsideAnInnocentBatch) {
  std::string batch = Batch("padded-bomb.zip");
  WriteArchive(batch, Format::kZip,
               With(With(OneRecord(), File("docs/padding.bin", Incompressible(100000, 10))),
                    File("docs/zeros.bin", std::string(2 << 20, '\0'))));
  ASSERT_LT((2u << 20) + 100000, 100 * std::filesystem::file_size(batch));
  ExpectRefused(batch, {"entry 'docs/zeros.bin'", "is compressed more than 100:1"});
}

// ----------------------------------------------------- refused manifests

TEST_F(ImportTest, EntryMissingFromTheManifestIsRefused) {
  std::string batch = Batch("unlisted.zip");
  WriteArchive(batch, Format::kZip, With(OneRecord(), File("docs/forgotten.pdf", "x")));
  ExpectRefused(batch, {"entry 'docs/forgotten.pdf' is not listed in manifest.csv"});
}

TEST_F(ImportTest, EveryManifestProblemIsReportedAtOnce) {
  const std::string csv =
      "recordKey,path,type,title,department,classification,metadata.counterparty\n"
      "A,docs/a.pdf,contract,No contract number,sales,internal,ACME\n"
      "B,docs/missing.pdf,general,Missing file,sales,internal,\n"
      "C,docs/c.pdf,general,Unknown department,nowhere,internal,\n"
      "D,docs/d.pdf,general,Bad class,sales,top-secret,\n";
  std::string batch = Batch("manifest.tar");
  WriteArchive(batch, Format::kTar,
               {File("manifest.csv", csv), File("docs/a.pdf", "a"), File("docs/c.pdf", "c"),
                File("docs/d.pdf", "d")});
  ExpectRefused(
      batch, {"manifest.csv line 2 (record 'A'): metadata.contractNumber",
              "manifest.csv line 3: path 'docs/missing.pdf' is not a file in the batch",
              "manifest.csv line 4 (record 'C')", "nowhere", "manifest.csv line 5 (record 'D')"});
}

TEST_F(ImportTest, DisagreeingRowsOfOneRecordAreRefused) {
  const std::string json = R"([
    {"recordKey": "K", "path": "a.txt", "type": "general", "title": "One", "department": "sales",
     "classification": "internal"},
    {"recordKey": "K", "path": "b.txt", "title": "Two"}
  ])";
  std::string batch = Batch("disagree.zip");
  WriteArchive(batch, Format::kZip,
               {File("manifest.json", json), File("a.txt", "a"), File("b.txt", "b")});
  ExpectRefused(batch,
                {"manifest.json row 2: title 'Two' differs from 'One' on manifest.json row 1"});
}

TEST_F(ImportTest, BatchWithoutManifestIsRefused) {
  std::string batch = Batch("nomanifest.tar");
  WriteArchive(batch, Format::kTar, {File("docs/note.txt", "a note\n")});
  ExpectRefused(batch, {"no manifest.csv or manifest.json"});
}

TEST_F(ImportTest, FileThatIsNotAnArchiveIsRefused) {
  std::string batch = Batch("random.zip");
  WriteFile(batch, Incompressible(4000, 9));
  ExpectRefused(batch, {"not a readable zip or tar archive"});
}

TEST_F(ImportTest, InvalidContractSignatureIsRefusedWhenTheInstallationRefusesThem) {
  Signer signer;
  ASSERT_TRUE(signer.ok());
  TempDir tmp;
  std::string data = tmp.Sub("data");
  MakeDataDir(tmp, data, "records.reject_invalid_contract_signatures = true\n",
              signer.CertificatePem());
  const std::string csv =
      "recordKey,path,signature,type,title,department,classification,metadata.counterparty,"
      "metadata.contractNumber,metadata.signedDate\n"
      "A,good.pdf,good.pdf.p7s,contract,Good,sales,internal,ACME,N-1,2020-01-01\n"
      "B,bad.pdf,bad.pdf.p7s,contract,Bad,sales,internal,ACME,N-2,2020-01-01\n";
  std::string batch = tmp.Sub("signed.zip");
  WriteArchive(batch, Format::kZip,
               {File("manifest.csv", csv), File("good.pdf", "signed text"),
                File("good.pdf.p7s", signer.SignDetached("signed text")),
                File("bad.pdf", "altered"), File("bad.pdf.p7s", signer.SignDetached("original"))});
  Snapshot before = Take(data);
  ImportRun r = RunImport(data, batch);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("manifest.csv line 3: the signature 'bad.pdf.p7s' on 'bad.pdf' does not "
                       "verify"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("'good.pdf'"), std::string::npos) << r.err;  // the trusted one verifies
  EXPECT_EQ(Take(data), before);
}

// The command as DESIGN §9 writes it: the real custosctl, no --as. The log
// then names the archive's own importer, which no user can be.
TEST_F(ImportTest, BinaryWithoutAsImportsInTheSystemsName) {
  std::string batch = Batch("plain.zip");
  WriteArchive(batch, Format::kZip, OneRecord());
  Snapshot before = Take(data_);
  RunResult r = RunProgram({Ctl(), "import", "--data", data_, batch});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("as system:import"), std::string::npos) << r.out;
  Snapshot after = Take(data_);
  EXPECT_EQ(after.records, before.records + 1);
  std::string id = r.out.substr(r.out.find("imported ") + 9, 14);
  auto archive = admin::OpenArchive(data_);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  StoredRecord rec = ReadRecord(**archive, id);
  EXPECT_NE(rec.leaf.find("\"actor\":\"system:import\""), std::string::npos) << rec.leaf;
  RunResult verify = RunProgram({Ctl(), "verify", "--data", data_});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// ------------------------------------------------- could not run (exit 2)

TEST_F(ImportTest, CommandLineProblemsExitTwo) {
  std::string batch = Batch("ok.zip");
  WriteArchive(batch, Format::kZip, OneRecord());
  Snapshot before = Take(data_);
  std::ostringstream out, err;
  EXPECT_EQ(admin::RunImport({"--data", data_, "--as", kArchivist}, out, err), 2);
  EXPECT_NE(err.str().find("exactly one BATCH"), std::string::npos) << err.str();
  std::ostringstream out2, err2;
  EXPECT_EQ(admin::RunImport({"--data", data_, "--as", kStaff, batch}, out2, err2), 2);
  EXPECT_NE(err2.str().find("not archivist"), std::string::npos) << err2.str();
  std::ostringstream out3, err3;
  EXPECT_EQ(admin::RunImport({"--data", data_, "--as", "nobody", batch}, out3, err3), 2);
  EXPECT_NE(err3.str().find("no user 'nobody'"), std::string::npos) << err3.str();
  ImportRun missing = RunImport(data_, Batch("missing.zip"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("missing.zip"), std::string::npos) << missing.err;
  ImportRun bad_limit = RunImport(data_, batch, {"--max-file-bytes", "12Q"});
  EXPECT_EQ(bad_limit.code, 2);
  EXPECT_NE(bad_limit.err.find("--max-file-bytes"), std::string::npos) << bad_limit.err;
  EXPECT_EQ(Take(data_), before);
}

TEST_F(ImportTest, RefusesToRunBesideAnotherHolderOfTheLock) {
  std::string batch = Batch("ok.zip");
  WriteArchive(batch, Format::kZip, OneRecord());
  Snapshot before = Take(data_);
  {
    auto lock =
        storage::DataDirLock::Acquire(storage::DataDir(data_), storage::DataDirLock::Mode::kShared);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    ImportRun r = RunImport(data_, batch);
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Take(data_), before);
}

// A write failure while the files are stored (here a file-size limit, as a
// full disk would): the records are not committed and the blobs already
// stored are deleted.
TEST_F(ImportTest, StorageFailureWhileStoringFilesImportsNothing) {
  const std::string csv =
      "recordKey,path,type,title,department,classification\n"
      "S,small.txt,general,Small,sales,internal\n"
      "B,big.bin,general,Big,sales,internal\n";
  std::string batch = Batch("disk-full.zip");
  WriteArchive(batch, Format::kZip,
               {File("manifest.csv", csv), File("small.txt", "small\n"),
                File("big.bin", Incompressible(3 << 20, 11))});
  Snapshot before = Take(data_);
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 1 << 20;
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  ImportRun r = RunImport(data_, batch);
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("entry 'big.bin'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was imported"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Take(data_), before);
}

// ------------------------------------------------------------ units

TEST(ImportEntryPath, NormalisesHarmlessFormsAndRefusesTheRest) {
  EXPECT_EQ(admin::NormalizeEntryPath("./docs/a.pdf").value(), "docs/a.pdf");
  EXPECT_EQ(admin::NormalizeEntryPath("docs/").value(), "docs");
  EXPECT_EQ(admin::NormalizeEntryPath("./").value(), "");
  EXPECT_EQ(admin::NormalizeEntryPath("合同/附件.pdf").value(), "合同/附件.pdf");
  for (const char* bad :
       {"", "/etc/passwd", "../x", "a/../b", "a//b", "C:evil", "c:/x", "a\\b", "a\tb",
        "a\xC2\x85"
        "b",
        "a\xE2\x80\xAE"
        "fdp.exe",
        "\xFF\xFE"}) {
    EXPECT_FALSE(admin::NormalizeEntryPath(bad).ok()) << bad;
  }
  EXPECT_FALSE(admin::NormalizeEntryPath(std::string(256, 'a')).ok());
  std::string long_path;
  for (int i = 0; i < 5; ++i) long_path += std::string(250, 'a') + "/";
  long_path += "x";
  EXPECT_FALSE(admin::NormalizeEntryPath(long_path).ok());
}

TEST(ImportManifestCsv, QuotingAndErrorsNameTheLine) {
  auto rows = admin::ParseManifestCsv(
      "\xEF\xBB\xBFpath,title\r\n\"a,b.pdf\",\"say \"\"hi\"\"\"\r\n\r\nc.pdf,\r\n");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].fields.at("path"), "a,b.pdf");
  EXPECT_EQ((*rows)[0].fields.at("title"), "say \"hi\"");
  EXPECT_EQ((*rows)[1].where, "manifest.csv line 4");
  EXPECT_EQ((*rows)[1].fields.count("title"), 0u);  // empty means not given

  auto unknown = admin::ParseManifestCsv("path,colour\na,b\n");
  EXPECT_NE(unknown.status().message().find("unknown column 'colour'"), std::string::npos);
  auto short_row = admin::ParseManifestCsv("path,title\na\n");
  EXPECT_NE(short_row.status().message().find("line 2"), std::string::npos);
  auto open_quote = admin::ParseManifestCsv("path\n\"a\n");
  EXPECT_FALSE(open_quote.ok());
  auto no_path = admin::ParseManifestCsv("title\nx\n");
  EXPECT_NE(no_path.status().message().find("no 'path' column"), std::string::npos);
}

TEST(ImportManifestCsv, Utf8WithOrWithoutBomAndGbkOnlyWhenAsked) {
  const std::string utf8 = "path,title\n文件.pdf,会议纪要 minutes\n";
  const std::string gbk = "path,title\n\xCE\xC4\xBC\xFE.pdf,\xBB\xE1\xD2\xE9\xBC\xCD\xD2\xAA minutes\n";
  for (const auto& [text, encoding] :
       {std::pair{utf8, admin::NameEncoding::kUtf8}, std::pair{"\xEF\xBB\xBF" + utf8, admin::NameEncoding::kUtf8},
        std::pair{utf8, admin::NameEncoding::kGbk}, std::pair{gbk, admin::NameEncoding::kGbk}}) {
    auto rows = admin::ParseManifestCsv(text, encoding);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].fields.at("path"), "文件.pdf");
    EXPECT_EQ((*rows)[0].fields.at("title"), "会议纪要 minutes");
  }
  auto refused = admin::ParseManifestCsv(gbk, admin::NameEncoding::kUtf8);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--name-encoding gbk"), std::string::npos);
  // A byte order mark says UTF-8: GBK after it is refused even with the option.
  EXPECT_FALSE(admin::ParseManifestCsv("\xEF\xBB\xBF" + gbk, admin::NameEncoding::kGbk).ok());
  // Bytes that are not GBK either.
  auto neither = admin::ParseManifestCsv("path,title\nx.pdf,\xFF\xFF\n", admin::NameEncoding::kGbk);
  ASSERT_FALSE(neither.ok());
  EXPECT_NE(neither.status().message().find("neither UTF-8 nor GBK"), std::string::npos);
}

TEST(ImportManifestJson, ValuesMustBeStrings) {
  auto number = admin::ParseManifestJson(R"([{"path": "a", "metadata": {"amount": 12}}])");
  EXPECT_NE(number.status().message().find("row 1: metadata.amount must be a string"),
            std::string::npos)
      << number.status().ToString();
  auto unknown = admin::ParseManifestJson(R"([{"path": "a", "colour": "red"}])");
  EXPECT_NE(unknown.status().message().find("unknown member 'colour'"), std::string::npos);
  EXPECT_FALSE(admin::ParseManifestJson(R"({"path": "a"})").ok());
  EXPECT_FALSE(admin::ParseManifestJson("[]").ok());
}

TEST(ImportByteCount, SuffixesAndRefusals) {
  EXPECT_EQ(admin::ParseByteCount("4096").value(), 4096u);
  EXPECT_EQ(admin::ParseByteCount("4K").value(), 4096u);
  EXPECT_EQ(admin::ParseByteCount("64G").value(), 64ULL << 30);
  for (const char* bad : {"", "0", "K", "-1", "1.5G", "4k", "99999999999T"}) {
    EXPECT_FALSE(admin::ParseByteCount(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace custos::testing
