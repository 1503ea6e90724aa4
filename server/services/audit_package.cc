#include "server/services/audit_package.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "crypto/hash.h"
#include "common/byte_stream.h"
#include "server/services/events.h"
#include "server/services/loan.h"
#include "server/services/log_service.h"
#include "server/services/package_writer.h"
#include "domain/canonical_json.h"

namespace custos::services {

using domain::Record;
using domain::RecordId;
using domain::StoredFile;
using storage::Transaction;
using domain::Version;

namespace {

constexpr size_t kEntriesPerRead = 10000;
constexpr size_t kChunk = 64 * 1024;

// A file name safe inside a package path: no separators, no control
// characters, no leading dots. Any other UTF-8 stays as it is.
std::string SafeName(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    out.push_back(c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':' ? '_' : static_cast<char>(c));
  }
  while (!out.empty() && out.front() == '.') out.front() = '_';
  if (out.empty()) out = "file";
  return out;
}

// Writes to a file descriptor the caller owns.
class FdSink final : public ByteSink {
 public:
  FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Write(const uint8_t* p, size_t n) override {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        std::string m = "write " + path_ + ": " + std::strerror(errno);
        if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT) return ResourceExhausted(m, "storage_full");
        return Internal(m);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
};

// A path as a BagIt manifest line gives it (RFC 8493 §2.1.3): '%', CR and
// LF percent-encoded.
std::string ManifestPath(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%') {
      out += "%25";
    } else if (c == '\r') {
      out += "%0D";
    } else if (c == '\n') {
      out += "%0A";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Why a file's content is left out: the code (WithheldFile::reason) and
// the words metadata/<record>.json gives.
constexpr char kWithheldDestroyed[] = "destroyed";
constexpr char kWithheldNotRequested[] = "not_requested";
constexpr char kWithheldNotPermitted[] = "not_permitted";

std::string WithheldText(const std::string& code) {
  if (code == kWithheldNotRequested) return "content not requested";
  if (code == kWithheldNotPermitted) return "the exporter may not read this content";
  return code;
}

struct ExportFile {
  StoredFile file;
  int version = 0;
  bool include = false;
  std::string withheld;  // why the content is not included (a kWithheld* code)
  std::string path;      // inside data/
};

struct ExportRecord {
  Record record;
  std::vector<Version> versions;
  std::vector<ExportFile> files;
};

Poco::JSON::Object::Ptr RecordMetadata(const ExportRecord& r) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  const Record& x = r.record;
  o->set("id", x.id.value);
  o->set("type", std::string(domain::Name(x.type)));
  o->set("title", x.title);
  o->set("description", x.description);
  o->set("department", x.department);
  o->set("classification", std::string(domain::Name(x.classification)));
  o->set("custodian", x.custodian);
  o->set("location", x.location);
  auto meta = domain::ParseJsonStrict(x.metadata_json);
  o->set("metadata", meta.ok() ? *meta : Poco::Dynamic::Var());
  o->set("state", std::string(domain::Name(x.state)));
  o->set("createdAt", domain::FormatTime(x.created_at));
  o->set("createdBy", x.created_by);
  o->set("updatedAt", domain::FormatTime(x.updated_at));
  Poco::JSON::Array::Ptr versions = new Poco::JSON::Array;
  for (const Version& v : r.versions) {
    Poco::JSON::Object::Ptr vo = new Poco::JSON::Object;
    vo->set("number", v.number);
    vo->set("kind", std::string(domain::Name(v.kind)));
    vo->set("note", v.note);
    vo->set("createdAt", domain::FormatTime(v.created_at));
    vo->set("createdBy", v.created_by);
    vo->set("manifestHash", v.manifest_hash);
    vo->set("prevManifestHash", v.prev_manifest_hash);
    vo->set("logIndex", static_cast<Poco::Int64>(v.log_index));
    vo->set("receipt", "receipts/" + x.id.value + "-v" + std::to_string(v.number) + ".tlog-proof");
    Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
    for (const ExportFile& f : r.files) {
      if (f.version != v.number) continue;
      Poco::JSON::Object::Ptr fo = new Poco::JSON::Object;
      fo->set("id", f.file.id.value);
      fo->set("name", f.file.name);
      fo->set("mediaType", f.file.media_type);
      fo->set("size", static_cast<Poco::Int64>(f.file.size));
      fo->set("sha256", f.file.sha256);
      if (!f.file.sm3.empty()) fo->set("sm3", f.file.sm3);
      fo->set("signature", f.file.signature.status);
      fo->set("path", f.include ? Poco::Dynamic::Var("data/" + f.path) : Poco::Dynamic::Var());
      if (!f.include) fo->set("withheld", WithheldText(f.withheld));
      files->add(fo);
    }
    vo->set("files", files);
    versions->add(vo);
  }
  o->set("versions", versions);
  return o;
}

}  // namespace

StatusOr<PackageFormat> ParsePackageFormat(std::string_view s) {
  if (s == "tar.gz" || s == "tgz") return PackageFormat::kTarGz;
  if (s == "zip") return PackageFormat::kZip;
  return Unprocessable("format must be tar.gz or zip", "invalid_format");
}

std::string_view Extension(PackageFormat f) { return f == PackageFormat::kZip ? ".zip" : ".tar.gz"; }

PackageExporter::PackageExporter(storage::MetadataStore& store, storage::ContentStore& content,
                                 std::string verifier_keys, Clock& clock)
    : store_(store), content_(content), verifier_keys_(std::move(verifier_keys)), clock_(clock) {}

StatusOr<ExportSummary> PackageExporter::Write(const Principal* who, const ExportRequest& request,
                                               const std::string& path) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot create " + tmp + ": " + std::strerror(errno));
  struct Cleanup {
    int fd;
    std::string tmp;
    bool keep = false;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      if (!keep) ::unlink(tmp.c_str());
    }
  } cleanup{fd, tmp};
  FdSink sink(fd, tmp);
  CUSTOS_ASSIGN_OR_RETURN(ExportSummary summary, WriteTo(who, request, sink));
  if (::fsync(fd) != 0) return Internal("fsync " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("rename to " + path + ": " + std::strerror(errno));
  cleanup.keep = true;
  return summary;
}

StatusOr<ExportSummary> PackageExporter::WriteTo(const Principal* who, const ExportRequest& request,
                                                 ByteSink& out) {
  if (who != nullptr && who->role == domain::Role::kAdmin) return Forbidden("export records");
  if (request.record_ids.empty() && !request.query) {
    return Unprocessable("name the records to export (recordIds) or give a query", "invalid_export")
        .WithParam("rule", "empty");
  }
  if (request.record_ids.size() > kMaxExportRecords) {
    return Unprocessable("at most " + std::to_string(kMaxExportRecords) + " records per package",
                         "invalid_export")
        .WithParam("rule", "too_many")
        .WithParam("max", kMaxExportRecords);
  }
  const domain::Time now = clock_.Now();
  ExportSummary summary;
  summary.name = request.name.empty() ? "custos-export-" + domain::FormatTime(now).substr(0, 10) : request.name;
  for (char c : summary.name) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return Unprocessable("the package name may hold only letters, digits, '-', '_' and '.'",
                           "invalid_export")
          .WithParam("rule", "name");
    }
  }

  // 1. Choose the records and decide, file by file, what goes in.
  std::vector<ExportRecord> records;
  std::set<std::string> seen;
  auto add_record = [&](Transaction& tx, const Record& r) -> Status {
    if (!seen.insert(r.id.value).second) return Status::Ok();
    if (records.size() >= kMaxExportRecords) {
      return Unprocessable("more than " + std::to_string(kMaxExportRecords) + " records match",
                           "invalid_export")
          .WithParam("rule", "too_many")
          .WithParam("max", kMaxExportRecords);
    }
    ExportRecord er;
    er.record = r;
    CUSTOS_ASSIGN_OR_RETURN(er.versions, tx.versions().List(r.id));
    bool may_read = who == nullptr || MayReadContentDirectly(*who, r);
    if (!may_read) {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> loans,
                              LoansOfRecord(tx, r.id, who->username.value, {domain::LoanState::kCheckedOut}));
      for (const domain::Loan& l : loans) may_read = may_read || domain::GrantsContentAccess(l, who->username.value, now);
    }
    for (const Version& v : er.versions) {
      for (const StoredFile& f : v.files) {
        ExportFile ef;
        ef.file = f;
        ef.version = v.number;
        ef.path = r.id.value + "/v" + std::to_string(v.number) + "/" + f.id.value + "-" + SafeName(f.name);
        if (f.wrapped_dek.empty()) {
          ef.withheld = kWithheldDestroyed;
        } else if (!request.include_content) {
          ef.withheld = kWithheldNotRequested;
        } else if (!may_read) {
          ef.withheld = kWithheldNotPermitted;
        } else {
          ef.include = true;
        }
        er.files.push_back(std::move(ef));
      }
    }
    records.push_back(std::move(er));
    return Status::Ok();
  };

  // Everything below reads one snapshot.
  struct Snapshot {
    storage::StoredCheckpoint checkpoint;
    std::map<std::string, std::string> receipts;  // path → text
  } snap;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    for (const std::string& id : request.record_ids) {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{id}));
      if (!r || (who != nullptr && !MaySeeRecord(*who, *r))) return NotFound("no record " + id, "record_not_found");
      CUSTOS_RETURN_IF_ERROR(add_record(tx, *r));
    }
    if (request.query) {
      domain::RecordQuery q = *request.query;
      if (who != nullptr) RestrictToVisible(*who, q);
      q.page_size = 500;
      for (q.page = 1;; ++q.page) {
        CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, tx.records().Search(q));
        for (const Record& r : page.records) {
          if (who == nullptr || MaySeeRecord(*who, r)) CUSTOS_RETURN_IF_ERROR(add_record(tx, r));
        }
        if (page.records.size() < 500) break;
      }
    }
    CUSTOS_ASSIGN_OR_RETURN(snap.checkpoint, tx.log().LatestCheckpoint());
    for (const ExportRecord& er : records) {
      for (const Version& v : er.versions) {
        if (v.log_index >= snap.checkpoint.size) continue;  // not yet checkpointed
        CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(v.log_index, v.log_index + 1, 1));
        if (entries.empty()) return DataLoss("log entry " + std::to_string(v.log_index) + " is missing", "log_entry_missing");
        CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(v.log_index, snap.checkpoint.size));
        snap.receipts["receipts/" + er.record.id.value + "-v" + std::to_string(v.number) + ".tlog-proof"] =
            FormatReceipt(entries[0].leaf, v.log_index, proof, snap.checkpoint.note);
      }
    }
    return Status::Ok();
  }));
  if (records.empty()) return NotFound("no record matches", "record_not_found");
  summary.records = records.size();
  summary.log_size = snap.checkpoint.size;
  summary.log_root = crypto::Base64Encode(snap.checkpoint.root);

  // 2. An export by a user is a read of everything it includes: log it
  //    before any byte leaves.
  if (who != nullptr) {
    uint64_t index = 0;
    CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
      storage::LogEvent e = MakeEvent("export.create", *who, "export:" + summary.name, now);
      Poco::JSON::Array::Ptr ids = new Poco::JSON::Array;
      Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
      for (const ExportRecord& er : records) {
        ids->add(er.record.id.value);
        for (const ExportFile& f : er.files) {
          if (f.include) files->add(f.file.id.value);
        }
      }
      e.details->set("recordIds", ids);
      e.details->set("filesWithContent", files);
      e.details->set("checkpointSize", static_cast<Poco::Int64>(snap.checkpoint.size));
      CUSTOS_ASSIGN_OR_RETURN(index, tx.log().Append(e));
      return Status::Ok();
    }));
    summary.log_index = index;
  }

  // 3. Write the bag.
  const time_t mtime = std::chrono::system_clock::to_time_t(now);
  const std::string root = summary.name + "/";
  std::unique_ptr<PackageWriter> w = PackageWriter::Create(request.format, out);
  std::map<std::string, std::string> tag_hashes;  // tag file → sha256
  auto tag = [&](const std::string& name, const std::string& content) -> Status {
    tag_hashes[name] = crypto::HexEncode(crypto::Sha256Of(content));
    return w->Small(root + name, content, mtime);
  };
  const std::string bagit = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
  CUSTOS_RETURN_IF_ERROR(w->Small(root + "bagit.txt", bagit, mtime));
  tag_hashes["bagit.txt"] = crypto::HexEncode(crypto::Sha256Of(bagit));
  // data/ is there even when it stays empty: a bag without it is no bag
  // (RFC 8493 §2.1.2).
  CUSTOS_RETURN_IF_ERROR(w->Directory(root + "data/", mtime));

  std::string manifest;
  std::vector<uint8_t> buf(kChunk);
  for (const ExportRecord& er : records) {
    for (const ExportFile& f : er.files) {
      ++summary.files;
      if (!f.include) {
        summary.withheld.push_back(
            WithheldFile{er.record.id.value, f.version, f.file.id.value, f.file.name, f.withheld});
        continue;
      }
      if (summary.records_with_content.empty() || summary.records_with_content.back() != er.record.id.value) {
        summary.records_with_content.push_back(er.record.id.value);
      }
      CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> in, content_.Open(f.file));
      CUSTOS_RETURN_IF_ERROR(w->Begin(root + "data/" + f.path, f.file.size, mtime));
      crypto::Sha256 h;
      uint64_t total = 0;
      for (;;) {
        CUSTOS_ASSIGN_OR_RETURN(size_t n, in->Read(buf.data(), buf.size()));
        if (n == 0) break;
        h.Update(buf.data(), n);
        total += n;
        CUSTOS_RETURN_IF_ERROR(w->Data(buf.data(), n));
      }
      std::string sha = crypto::HexEncode(h.Finish());
      if (total != f.file.size || sha != f.file.sha256) {
        return DataLoss("file " + f.file.id.value + " of " + er.record.id.value +
                            " does not match its recorded size and hash",
                        "content_hash_mismatch");
      }
      manifest += sha + "  " + ManifestPath("data/" + f.path) + "\n";
      ++summary.files_with_content;
      summary.payload_bytes += total;
    }
  }

  for (const ExportRecord& er : records) {
    CUSTOS_ASSIGN_OR_RETURN(std::string json, domain::CanonicalJson(RecordMetadata(er)));
    CUSTOS_RETURN_IF_ERROR(tag("metadata/" + er.record.id.value + ".json", json + "\n"));
  }
  // The whole log up to the checkpoint: the auditor recomputes the chain
  // and the root from it.
  {
    std::string jsonl;
    crypto::Sha256 h;
    for (uint64_t start = 0; start < snap.checkpoint.size; start += kEntriesPerRead) {
      std::vector<storage::LogEntry> entries;
      CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(entries, tx.log().Entries(start, std::min(snap.checkpoint.size, start + kEntriesPerRead),
                                                          kEntriesPerRead));
        return Status::Ok();
      }));
      for (const auto& e : entries) {
        jsonl += "{\"index\":" + std::to_string(e.index) + ",\"leaf\":\"" + crypto::Base64Encode(e.leaf) + "\"}\n";
      }
    }
    CUSTOS_RETURN_IF_ERROR(tag("log/entries.jsonl", jsonl));
  }
  CUSTOS_RETURN_IF_ERROR(tag("log/checkpoint", snap.checkpoint.note));
  CUSTOS_RETURN_IF_ERROR(tag("log/key", verifier_keys_ + (verifier_keys_.empty() || verifier_keys_.back() == '\n' ? "" : "\n")));
  for (const auto& [name, text] : snap.receipts) CUSTOS_RETURN_IF_ERROR(tag(name, text));
  CUSTOS_RETURN_IF_ERROR(tag("manifest-sha256.txt", manifest));
  std::string info;
  info += "Source-Organization: Custos archive " + std::string(snap.checkpoint.note.substr(0, snap.checkpoint.note.find('\n'))) + "\n";
  info += "Bagging-Date: " + domain::FormatTime(now).substr(0, 10) + "\n";
  info += "External-Identifier: " + summary.name + "\n";
  info += "Payload-Oxum: " + std::to_string(summary.payload_bytes) + "." + std::to_string(summary.files_with_content) + "\n";
  info += "Bag-Count: 1 of 1\n";
  info += "Custos-Records: " + std::to_string(summary.records) + "\n";
  info += "Custos-Checkpoint-Size: " + std::to_string(summary.log_size) + "\n";
  info += "Custos-Checkpoint-Root: " + summary.log_root + "\n";
  if (who != nullptr) info += "Custos-Exported-By: " + who->username.value + "\n";
  // Which files the package leaves out and why, one line each; the names
  // are in metadata/<record>.json (a bag-info value is one line).
  info += "Custos-Withheld-Files: " + std::to_string(summary.withheld.size()) + "\n";
  for (const WithheldFile& f : summary.withheld) {
    info += "Custos-Withheld: " + f.record_id + "/v" + std::to_string(f.version) + "/" + f.file_id + " " +
            f.reason + "\n";
  }
  CUSTOS_RETURN_IF_ERROR(tag("bag-info.txt", info));
  std::string tagmanifest;
  for (const auto& [name, sha] : tag_hashes) tagmanifest += sha + "  " + name + "\n";
  CUSTOS_RETURN_IF_ERROR(w->Small(root + "tagmanifest-sha256.txt", tagmanifest, mtime));
  CUSTOS_RETURN_IF_ERROR(w->Close());
  return summary;
}

}  // namespace custos::services
