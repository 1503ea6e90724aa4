// Evidence bundles offline (docs/formats/evidence-bundle.md): custosctl
// evidence writes one record's bundle that custosctl verify-package accepts
// with the log's verifier key; one byte changed in each part of it (an
// original, a signature result, an event, a proof, the checkpoint, the
// summary) fails with a finding naming that part — also when the forger
// recomputes the BagIt manifests, so that only the bundle's own checks can
// see it.
//
// The archive is made once per suite (custosctl init, then check-ins, a
// new version and a read through the services) and bundled once; every
// tampering test rewrites its own copy with libarchive and the package
// writer.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include "admin/batch_archive.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/timestamp.h"
#include "server/services/bag_writer.h"
#include "server/services/destruction_service.h"
#include "server/services/package_writer.h"
#include "storage/integrity.h"
#include "storage/metadata_store.h"
#include "tests/admin/in_process.h"
#include "tests/admin/live_archive.h"
#include "tests/admin/verdict.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

constexpr char kTitle[] = "董事会决议 Board resolution 2026";
constexpr char kName1[] = "决议正本 resolution.pdf";
constexpr char kName2[] = "表决 100% 记录.pdf";
constexpr char kWitness[] = "witness.example/w1";

struct Entry {
  std::string path;  // relative to the bag's folder
  std::string bytes;
};

struct Seed {
  std::string data, vkey, bundle, bag, record;
  std::string destroyed;        // a record destroyed ten years on
  uint64_t redacted_update = 0;  // its record.update with values in the leaf, redacted
  uint64_t stamped_size = 0;     // an earlier checkpoint with a timestamp line
};

Seed* seed_ = nullptr;

// Every regular file of a bundle, relative to its folder; `bag` gets the folder.
std::vector<Entry> ReadEntries(const std::string& path, std::string* bag = nullptr) {
  std::vector<Entry> out;
  admin::Utf8Locale utf8;
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    ADD_FAILURE() << "cannot open " << path << ": " << archive_error_string(a.get());
    return out;
  }
  for (struct archive_entry* e = nullptr; archive_read_next_header(a.get(), &e) == ARCHIVE_OK;) {
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    std::string name = archive_entry_pathname(e);
    if (bag) *bag = name.substr(0, name.find('/'));
    Entry entry{name.substr(name.find('/') + 1), ""};
    char buf[16 * 1024];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) > 0;) entry.bytes.append(buf, static_cast<size_t>(n));
    out.push_back(std::move(entry));
  }
  return out;
}

std::string Sha256Hex(const std::string& s) { return crypto::HexEncode(crypto::Sha256Of(s)); }

// Writes `entries` as a zip bag; with `remanifest` the manifests are made
// anew from the entries, as a forger would.
void WriteEntries(const std::string& path, const std::string& bag, std::vector<Entry> entries, bool remanifest) {
  if (remanifest) {
    std::string manifest, tagmanifest;
    for (const Entry& e : entries) {
      if (e.path == "manifest-sha256.txt" || e.path == "tagmanifest-sha256.txt") continue;
      if (e.path.rfind("data/", 0) == 0) manifest += Sha256Hex(e.bytes) + "  " + services::ManifestPath(e.path) + "\n";
    }
    for (Entry& e : entries) {
      if (e.path == "manifest-sha256.txt") e.bytes = manifest;
    }
    for (const Entry& e : entries) {
      if (e.path.rfind("data/", 0) != 0 && e.path != "tagmanifest-sha256.txt") {
        tagmanifest += Sha256Hex(e.bytes) + "  " + services::ManifestPath(e.path) + "\n";
      }
    }
    for (Entry& e : entries) {
      if (e.path == "tagmanifest-sha256.txt") e.bytes = tagmanifest;
    }
  }
  StringSink sink;
  auto w = services::PackageWriter::Create(services::PackageFormat::kZip, sink);
  ASSERT_TRUE(w->Directory(bag + "/data/", 0).ok());
  for (const Entry& e : entries) ASSERT_TRUE(w->Small(bag + "/" + e.path, e.bytes, 0).ok());
  ASSERT_TRUE(w->Close().ok());
  WriteFile(path, std::string(sink.data().begin(), sink.data().end()));
}

Verdict Verify(const std::string& bundle) {
  return RunVerdict({Ctl(), "verify-package", bundle, "--vkey", seed_->vkey, "--json"}, "file");
}

// Does a finding name `file`?
bool Names(const Verdict& v, const std::string& file) {
  for (const Finding& f : v.findings) {
    if (f.object == file) return true;
  }
  return false;
}

// The archive: a record with two files, a second version and a read of
// its first file; then its bundle.
bool MakeSeed(const TempDir& tmp, Seed& seed) {
  seed.data = tmp.Sub("data");
  seed.vkey = seed.data + "/keys/log.vkey";
  seed.bundle = tmp.Sub("evidence.zip");
  if (!live::InitWithArchivist(tmp, seed.data)) return false;
  {
    services::ManualClock clock(std::chrono::system_clock::now());
    auto archive = live::OpenedArchive::Open(seed.data, clock);
    if (!archive) return false;
    services::RecordService& records = archive->records();
    const services::Principal archivist = live::Archivist();
    auto v1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord(kTitle)),
                           {{kName1, live::PatternBytes(4000, 1), "application/pdf"},
                            {kName2, live::PatternBytes(900, 2), "application/pdf"}});
    if (!v1) return false;
    seed.record = v1->detail.record.id.value;
    clock.Advance(std::chrono::minutes(5));
    auto v2 = live::Commit(records.BeginVersion(archivist, domain::RecordId{seed.record}, "amendment", "更正"),
                           {{"补充 amendment.pdf", live::PatternBytes(1200, 3), "application/pdf"}});
    if (!v2) return false;
    // This checkpoint gets an authority's line below: the bundle then
    // carries it as an earlier attested checkpoint with its consistency
    // proof (the token itself is not checked without --tsa-ca).
    Status stamped = archive->storage().store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(storage::StoredCheckpoint cp, tx.log().LatestCheckpoint());
      seed.stamped_size = cp.size;
      return Status::Ok();
    });
    if (!stamped.ok()) return false;
    clock.Advance(std::chrono::minutes(5));
    auto read = records.OpenContent(archivist, domain::RecordId{seed.record}, 1, v1->detail.versions[0].files[0].id);
    if (!read.ok()) {
      ADD_FAILURE() << "read: " << read.status().ToString();
      return false;
    }
    // A record destroyed when its retention ran out: a legacy record.update
    // with its values in the leaf, which the destruction redacts.
    auto d1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord("访客登记 Visitor log 2016")),
                           {{"访客登记.pdf", live::PatternBytes(700, 4), "application/pdf"}});
    if (!d1) return false;
    seed.destroyed = d1->detail.record.id.value;
    Status legacy = archive->storage().store().Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::Record> r, tx.records().Find(domain::RecordId{seed.destroyed}));
      if (!r) return NotFound("no record " + seed.destroyed);
      storage::LogEvent e;
      e.action = "record.update";
      e.actor = archivist.username.value;
      e.subject = seed.destroyed;
      e.at = clock.Now();
      CUSTOS_ASSIGN_OR_RETURN(std::string digest, storage::RecordDigest(*r));
      e.details.Set(storage::kDetailRecordHash, digest);
      e.details.Set("before", domain::EventDetails().Set("description", "访客 李四"));
      e.details.Set("after", domain::EventDetails().Set("description", r->description));
      CUSTOS_ASSIGN_OR_RETURN(seed.redacted_update, tx.log().Append(e));
      return Status::Ok();
    });
    if (!legacy.ok()) {
      ADD_FAILURE() << "legacy update: " << legacy.ToString();
      return false;
    }
    clock.Advance(std::chrono::hours(24) * (3653 + 7));
    services::DestructionOptions no_cooling;  // ann and lee have no users rows
    no_cooling.account_policy.cooling = std::chrono::hours(0);
    services::DestructionService destruction(archive->storage().store(), archive->storage().blobs(), archive->log(),
                                             archive->storage().keyring().log_signers(), clock, no_cooling);
    auto batch = destruction.Propose(archivist, {seed.destroyed}, "retention expired");
    if (!batch.ok()) {
      ADD_FAILURE() << "propose: " << batch.status().ToString();
      return false;
    }
    for (const services::Principal& p : {services::Principal{domain::Username{"ann"}, domain::Role::kApprover, "sales"},
                                         services::Principal{domain::Username{"lee"}, domain::Role::kLegal, "legal"}}) {
      if (auto approved = destruction.Approve(p, batch->id); !approved.ok()) {
        ADD_FAILURE() << "approve: " << approved.status().ToString();
        return false;
      }
    }
    if (auto executed = destruction.Execute(archivist, batch->id); !executed.ok()) {
      ADD_FAILURE() << "execute: " << executed.status().ToString();
      return false;
    }
    // A witness's line on the newest checkpoint (its signature is not
    // checked without --witness): the bundle carries the attested note.
    Status attested = archive->storage().store().Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(storage::StoredCheckpoint cp, tx.log().LatestCheckpoint());
      const std::string line =
          "\xe2\x80\x94 " + std::string(kWitness) + " " + crypto::Base64Encode(std::string(76, '\x07')) + "\n";
      CUSTOS_RETURN_IF_ERROR(
          tx.log().AddCheckpointSignature({cp.size, kWitness, storage::kCosignatureKind, line, clock.Now()}));
      const std::string tsa = "tsa.test/时间";
      const std::string token(300, '\x30');
      return tx.log().AddCheckpointSignature(
          {seed.stamped_size, tsa, storage::kTimestampKind,
           crypto::tsa::TimestampLine(tsa, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(token.data()), token.size())),
           clock.Now()});
    });
    if (!attested.ok()) {
      ADD_FAILURE() << "cosignature line: " << attested.ToString();
      return false;
    }
  }
  RunResult r = RunProgram({Ctl(), "evidence", seed.record, "--data", seed.data, "--out", seed.bundle});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "evidence: exit " << r.exit_code << ": " << r.err;
    return false;
  }
  ReadEntries(seed.bundle, &seed.bag);
  return true;
}

class Evidence : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir;
    seed_ = new Seed;
    if (!MakeSeed(*tmp_, *seed_)) {
      delete seed_;
      seed_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    delete seed_;
    seed_ = nullptr;
    delete tmp_;
    tmp_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(seed_, nullptr) << "the seed archive was not made"; }

  std::string Scratch(const std::string& name) { return tmp_->Sub(name); }

  static TempDir* tmp_;
};

TempDir* Evidence::tmp_ = nullptr;

const Entry* Find(const std::vector<Entry>& entries, const std::function<bool(const std::string&)>& match) {
  for (const Entry& e : entries) {
    if (match(e.path)) return &e;
  }
  return nullptr;
}

TEST_F(Evidence, OperatorBundleHoldsEveryPartAndVerifies) {
  Verdict v = Verify(seed_->bundle);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_EQ(seed_->bag, "evidence-" + seed_->record);
  std::vector<Entry> entries = ReadEntries(seed_->bundle);
  size_t data = 0, signatures = 0, events = 0, proofs = 0;
  for (const Entry& e : entries) {
    data += e.path.rfind("data/", 0) == 0;
    signatures += e.path.rfind("signatures/", 0) == 0;
    events += e.path.rfind("events/", 0) == 0;
    proofs += e.path.rfind("proofs/", 0) == 0;
  }
  EXPECT_EQ(data, 3u);  // the operator's bundle holds every original, as custosctl export does
  EXPECT_EQ(signatures, 3u);
  EXPECT_GE(events, 3u);  // two check-ins and the read
  EXPECT_EQ(proofs, events);
  EXPECT_TRUE(Find(entries, [](const std::string& p) { return p.find(kName2) != std::string::npos; }));
  const Entry* summary = Find(entries, [](const std::string& p) { return p == "summary.md"; });
  ASSERT_NE(summary, nullptr);
  for (const char* words : {kTitle, "读取原件", "read the original", "openssl pkeyutl -verify", "openssl ts -verify",
                            "openssl dgst -sha256", "generic tlog verifier"}) {
    EXPECT_NE(summary->bytes.find(words), std::string::npos) << words;
  }
  EXPECT_NE(summary->bytes.find(std::string(kWitness) + " (见证人副署 / witness cosignature)"), std::string::npos);
  const Entry* checkpoint = Find(entries, [](const std::string& p) { return p == "log/checkpoint"; });
  ASSERT_NE(checkpoint, nullptr);
  EXPECT_NE(checkpoint->bytes.find(std::string("\n\xe2\x80\x94 ") + kWitness + " "), std::string::npos);
  // The earlier checkpoint an authority timestamped, and the proof that the
  // bundle's checkpoint extends it.
  const std::string attested = "log/attested/" + std::to_string(seed_->stamped_size);
  const Entry* older = Find(entries, [&](const std::string& p) { return p == attested + ".checkpoint"; });
  ASSERT_NE(older, nullptr);
  EXPECT_NE(older->bytes.find("\n\xe2\x80\x94 tsa.test/时间 "), std::string::npos);
  EXPECT_TRUE(Find(entries, [&](const std::string& p) { return p == attested + ".consistency"; }));
  EXPECT_NE(summary->bytes.find("tsa.test/时间 (时间戳 / RFC 3161 timestamp)"), std::string::npos);
  for (const char* tool : {"custosctl", "custosd", "custos-"}) {
    EXPECT_EQ(summary->bytes.find(tool), std::string::npos) << tool;
  }
}

// The summary's own shell steps (fixity, the checkpoint's Ed25519
// signature, every inclusion proof by RFC 9162 with openssl dgst), run as
// written on the unpacked bundle, pass; and fail on a changed event.
TEST_F(Evidence, SummaryStepsRunWithOpensslAlone) {
  const std::string dir = Scratch("unpacked");
  RunResult unzip = RunProgram({"/usr/bin/python3", "-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
                                seed_->bundle, dir});
  ASSERT_EQ(unzip.exit_code, 0) << unzip.err;
  const std::string bag = dir + "/" + seed_->bag;
  // The ```sh blocks of sections 1 (fixity), 3 (Ed25519) and 4 (proofs).
  std::vector<std::string> blocks;
  std::istringstream in(ReadFileOrDie(bag + "/summary.md"));
  std::string block;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (!inside && line == "```sh") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  ASSERT_GE(blocks.size(), 5u);
  std::string script = "set -u\ncd \"$1\"\n" + blocks[0] + blocks[2] + blocks[4];
  const std::string placeholder = "KEY=/path/to/log.vkey";
  ASSERT_NE(script.find(placeholder), std::string::npos);
  script.replace(script.find(placeholder), placeholder.size(), "KEY=\"$2\"");
  WriteFile(Scratch("steps.sh"), script);
  std::string first;  // the first custody event's index
  for (const auto& e : std::filesystem::directory_iterator(bag + "/events")) {
    std::string n = e.path().stem().string();
    if (first.empty() || std::stoull(n) < std::stoull(first)) first = n;
  }
  ASSERT_FALSE(first.empty());
  RunResult r = RunProgram({"/bin/sh", Scratch("steps.sh"), bag, seed_->vkey});
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("Signature Verified Successfully"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("OK event " + first + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OK data/v2/"), std::string::npos) << r.out;

  // One character of an event changed: its fixity and its proof fail.
  std::string event = ReadFileOrDie(bag + "/events/" + first + ".json");
  event[event.find("archivist1")] = 'A';
  WriteFile(bag + "/events/" + first + ".json", event);
  RunResult tampered = RunProgram({"/bin/sh", Scratch("steps.sh"), bag, seed_->vkey});
  EXPECT_NE(tampered.out.find("FAILED events/" + first + ".json"), std::string::npos) << tampered.out;
  EXPECT_NE(tampered.out.find("FAILED event " + first), std::string::npos) << tampered.out;
}

// A destroyed record's bundle: no original (each file says destroyed), the
// tombstone's catalogue values, the redacted event named by its index, and
// still clean.
TEST_F(Evidence, DestroyedRecordBundleVerifies) {
  const std::string out = Scratch("destroyed.zip");
  RunResult r = RunProgram({Ctl(), "evidence", seed_->destroyed, "--data", seed_->data, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Verdict v = Verify(out);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  std::vector<Entry> entries = ReadEntries(out);
  EXPECT_EQ(Find(entries, [](const std::string& p) { return p.rfind("data/", 0) == 0; }), nullptr);
  const std::string redacted = std::to_string(seed_->redacted_update);
  EXPECT_EQ(Find(entries, [&](const std::string& p) { return p == "events/" + redacted + ".json"; }), nullptr);
  const Entry* info = Find(entries, [](const std::string& p) { return p == "bag-info.txt"; });
  ASSERT_NE(info, nullptr);
  EXPECT_NE(info->bytes.find(" destroyed\n"), std::string::npos) << info->bytes;
  EXPECT_NE(info->bytes.find("Custos-Redacted-Event: " + redacted + "\n"), std::string::npos) << info->bytes;
  const Entry* summary = Find(entries, [](const std::string& p) { return p == "summary.md"; });
  ASSERT_NE(summary, nullptr);
  EXPECT_NE(summary->bytes.find("已销毁 / destroyed"), std::string::npos);
  EXPECT_NE(summary->bytes.find("| " + redacted + " | | | 因销毁而删去正文"), std::string::npos);
  EXPECT_NE(summary->bytes.find("销毁 / destroyed | record.destroy"), std::string::npos);
}

TEST_F(Evidence, UnknownRecordWritesNothing) {
  const std::string out = Scratch("unknown.zip");
  RunResult r = RunProgram({Ctl(), "evidence", "GN-1999-999999", "--data", seed_->data, "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no record GN-1999-999999"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

// Where a one-byte change lands in a part: the byte at the returned offset
// (npos: the part was not found) is changed to another character.
struct Tamper {
  const char* part;  // for the test's name
  std::function<bool(const std::string&)> match;
  std::function<size_t(const std::string&)> offset;
};

size_t After(const std::string& s, const std::string& marker) {
  size_t at = s.find(marker);
  return at == std::string::npos ? at : at + marker.size();
}

TEST_F(Evidence, OneByteChangedInEachPartFailsNamingIt) {
  const std::vector<Tamper> table = {
      {"original", [](const std::string& p) { return p.rfind("data/v1/", 0) == 0; },
       [](const std::string&) { return size_t{100}; }},
      {"signature result", [](const std::string& p) { return p.rfind("signatures/v1/", 0) == 0; },
       [](const std::string& s) { return After(s, "\"status\":\""); }},
      {"event", [](const std::string& p) { return p.rfind("events/", 0) == 0; },
       [](const std::string& s) { return After(s, "\"at\":\"") + 3; }},
      {"proof", [](const std::string& p) { return p.rfind("proofs/", 0) == 0; },
       [](const std::string& s) { return After(s, "\nindex ") + 4; }},  // in the first proof hash
      {"checkpoint", [](const std::string& p) { return p == "log/checkpoint"; },
       [](const std::string& s) { return s.find('\n', s.find('\n') + 1) + 3; }},  // in the root
      {"earlier attested checkpoint", [](const std::string& p) { return p.rfind("log/attested/", 0) == 0 && p.ends_with(".checkpoint"); },
       [](const std::string& s) { return s.find('\n', s.find('\n') + 1) + 3; }},  // in the root
      {"consistency proof", [](const std::string& p) { return p.rfind("log/attested/", 0) == 0 && p.ends_with(".consistency"); },
       [](const std::string&) { return size_t{5}; }},
      {"summary", [](const std::string& p) { return p == "summary.md"; },
       [](const std::string& s) { return After(s, "| 题名 / Title | ") + 1; }},
  };
  const std::vector<Entry> clean = ReadEntries(seed_->bundle);
  {  // the control: rewriting itself changes nothing a verifier checks
    const std::string path = Scratch("rewritten.zip");
    WriteEntries(path, seed_->bag, clean, true);
    Verdict v = Verify(path);
    ASSERT_EQ(v.exit_code, 0) << v.output;
  }
  for (const Tamper& t : table) {
    std::vector<Entry> entries = clean;
    Entry* target = nullptr;
    for (Entry& e : entries) {
      if (!target && t.match(e.path)) target = &e;
    }
    ASSERT_NE(target, nullptr) << t.part;
    size_t at = t.offset(target->bytes);
    ASSERT_LT(at, target->bytes.size()) << t.part;
    char& c = target->bytes[at];
    c = c == 'A' ? 'B' : (c == '1' ? '2' : (c >= 0x21 && c < 0x7e && c != '"' && c != '\\' ? c + 1 : 'A'));
    if (c == '"' || c == '\\') c = 'C';
    for (bool remanifest : {false, true}) {
      SCOPED_TRACE(std::string(t.part) + (remanifest ? ", manifests recomputed" : ""));
      const std::string path = Scratch(std::string("tampered-") + (remanifest ? "r-" : "") + t.part + ".zip");
      WriteEntries(path, seed_->bag, entries, remanifest);
      Verdict v = Verify(path);
      EXPECT_EQ(v.exit_code, 1) << v.output;
      EXPECT_TRUE(Names(v, target->path)) << target->path << "\n" << v.output;
    }
  }
}

// An original left out without a word (Payload-Oxum and the manifests made
// to fit) is a finding: each file has its original or a Custos-Withheld line.
TEST_F(Evidence, OriginalDroppedSilentlyIsNamed) {
  std::vector<Entry> entries;
  uint64_t bytes = 0, files = 0;
  for (Entry& e : ReadEntries(seed_->bundle)) {
    if (e.path.rfind("data/v2/", 0) == 0) continue;
    if (e.path.rfind("data/", 0) == 0) {
      bytes += e.bytes.size();
      ++files;
    }
    entries.push_back(std::move(e));
  }
  for (Entry& e : entries) {
    if (e.path != "bag-info.txt") continue;
    size_t at = e.bytes.find("Payload-Oxum: ");
    ASSERT_NE(at, std::string::npos);
    e.bytes.replace(at, e.bytes.find('\n', at) - at, "Payload-Oxum: " + std::to_string(bytes) + "." + std::to_string(files));
  }
  const std::string path = Scratch("dropped.zip");
  WriteEntries(path, seed_->bag, entries, true);
  Verdict v = Verify(path);
  EXPECT_EQ(v.exit_code, 1) << v.output;
  ASSERT_EQ(v.findings.size(), 1u) << v.output;
  EXPECT_EQ(v.findings[0].object, "bag-info.txt");
  EXPECT_NE(v.findings[0].problem.find("nor says why it is withheld"), std::string::npos) << v.output;
}

}  // namespace
}  // namespace custos::testing
