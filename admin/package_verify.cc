#include "admin/package_verify.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <archive.h>
#include <archive_entry.h>

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "admin/batch_archive.h"
#include "admin/verify.h"
#include "admin/evidence_verify.h"
#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "server/services/receipt.h"
#include "domain/canonical_json.h"
#include "storage/data_dir.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"

namespace custos::admin {

namespace {

struct PayloadFile {
  std::string sha256;
  uint64_t size = 0;
};

struct Contents {
  std::string root;                              // the bag's folder ("name/")
  std::map<std::string, PayloadFile> payload;    // "data/…" → hash
  std::map<std::string, std::string> tags;       // other files → bytes
  bool data_dir = false;                          // data/ is there (maybe empty)
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// A manifest's path with RFC 8493 §2.1.3's percent-encoding undone (%0A,
// %0D and %25, in either letter case; nothing else is decoded).
std::string DecodeManifestPath(const std::string& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%' && i + 2 < p.size()) {
      std::string code = p.substr(i + 1, 2);
      for (char& ch : code) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
      if (code == "0A" || code == "0D" || code == "25") {
        out.push_back(code == "0A" ? '\n' : code == "0D" ? '\r' : '%');
        i += 2;
        continue;
      }
    }
    out.push_back(p[i]);
  }
  return out;
}

// "<hex>  <path>" lines → path → hex; malformed lines become findings.
std::map<std::string, std::string> ParseManifest(const std::string& name, const std::string& text,
                                                 PackageReport& report) {
  std::map<std::string, std::string> out;
  for (const std::string& line : Lines(text)) {
    size_t sep = line.find(' ');
    if (sep != 64 || line.size() < 67) {
      report.findings.push_back({name, "malformed line: " + line.substr(0, 80)});
      continue;
    }
    size_t path_at = line.find_first_not_of(' ', sep);
    out[DecodeManifestPath(line.substr(path_at))] = line.substr(0, 64);
  }
  return out;
}

StatusOr<Contents> ReadPackage(const std::string& path, PackageReport& report) {
  // Names are UTF-8 (pax path records, zip bit 11), whatever the process
  // locale.
  Utf8Locale utf8;
  if (!utf8.ok()) return Internal("no UTF-8 locale (C.UTF-8) is installed, so package names cannot be read");
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    return InvalidArgument("cannot read " + path + ": " + archive_error_string(a.get()), "package_unreadable");
  }
  Contents c;
  std::vector<uint8_t> buf(64 * 1024);
  for (;;) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) {
      return InvalidArgument("cannot read " + path + ": " + archive_error_string(a.get()), "package_unreadable");
    }
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (archive_entry_filetype(e) == AE_IFDIR) {
      size_t slash = name.find('/');
      std::string rel = slash == std::string::npos ? "" : name.substr(slash + 1);
      if (!rel.empty() && rel.back() == '/') rel.pop_back();
      if (rel == "data") c.data_dir = true;
      continue;
    }
    size_t slash = name.find('/');
    if (slash == std::string::npos || name.find("..") != std::string::npos) {
      report.findings.push_back({name, "entry outside the bag's folder"});
      continue;
    }
    std::string root = name.substr(0, slash + 1);
    if (c.root.empty()) c.root = root;
    if (root != c.root) {
      report.findings.push_back({name, "entry outside the bag's folder " + c.root});
      continue;
    }
    std::string rel = name.substr(slash + 1);
    if (archive_entry_filetype(e) != AE_IFREG) {
      report.findings.push_back({rel, "not a regular file"});
      continue;
    }
    bool is_payload = rel.rfind("data/", 0) == 0;
    crypto::Sha256 h;
    std::string bytes;
    uint64_t total = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) {
        return InvalidArgument("cannot read " + rel + " from " + path + ": " + archive_error_string(a.get()),
                               "package_unreadable");
      }
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (is_payload) {
        h.Update(buf.data(), static_cast<size_t>(n));
      } else {
        if (total > kMaxTagFileBytes) return TooLarge(rel + " is larger than a tag file may be", "package_too_large");
        bytes.append(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n));
      }
    }
    if (is_payload) {
      if (c.payload.count(rel)) report.findings.push_back({rel, "appears twice in the package"});
      c.payload[rel] = {crypto::HexEncode(h.Finish()), total};
    } else {
      if (c.tags.count(rel)) report.findings.push_back({rel, "appears twice in the package"});
      c.tags[rel] = std::move(bytes);
    }
  }
  return c;
}

// The reason code bag-info.txt gives for the words of metadata's "withheld".
std::string WithheldCode(const std::string& words) {
  if (words == "content not requested") return "not_requested";
  if (words == "the exporter may not read this content") return "not_permitted";
  return words;  // "destroyed"
}

// bag-info.txt's Custos-Withheld lines must name exactly the files that
// metadata/*.json describes without content, with the same reason. Packages
// written before bag-info listed them (no Custos-Withheld-Files) are not
// judged.
void CheckWithheld(const std::string& info, const std::map<std::string, std::string>& withheld,
                   PackageReport& report) {
  std::optional<std::string> count;
  std::map<std::string, std::string> listed;
  for (const std::string& line : Lines(info)) {
    if (line.rfind("Custos-Withheld-Files: ", 0) == 0) count = line.substr(23);
    if (line.rfind("Custos-Withheld: ", 0) != 0) continue;
    std::string value = line.substr(17);
    size_t space = value.rfind(' ');
    if (space == std::string::npos) {
      report.findings.push_back({"bag-info.txt", "malformed Custos-Withheld line: " + value.substr(0, 80)});
      continue;
    }
    listed[value.substr(0, space)] = value.substr(space + 1);
  }
  if (!count) return;
  if (*count != std::to_string(withheld.size())) {
    report.findings.push_back({"bag-info.txt", "Custos-Withheld-Files is " + *count + ", but the metadata withholds " +
                                                   std::to_string(withheld.size()) + " files"});
  }
  for (const auto& [file, reason] : withheld) {
    auto it = listed.find(file);
    if (it == listed.end() || it->second != reason) {
      report.findings.push_back({"bag-info.txt", "Custos-Withheld does not say " + file + " " + reason +
                                                     " as the metadata does"});
    }
  }
  for (const auto& [file, reason] : listed) {
    if (!withheld.count(file)) {
      report.findings.push_back({"bag-info.txt", "Custos-Withheld names " + file + ", which the metadata includes"});
    }
  }
}

const std::string* Tag(const Contents& c, const std::string& name, PackageReport& report) {
  auto it = c.tags.find(name);
  if (it == c.tags.end()) {
    report.findings.push_back({name, "missing"});
    return nullptr;
  }
  return &it->second;
}

void CheckBagIt(const Contents& c, PackageReport& report) {
  if (const std::string* bagit = Tag(c, "bagit.txt", report)) {
    if (bagit->find("BagIt-Version: 1.0") == std::string::npos) {
      report.findings.push_back({"bagit.txt", "not a BagIt 1.0 declaration"});
    }
  }
  if (!c.data_dir && c.payload.empty()) {
    report.findings.push_back({"data/", "missing: a bag has a payload directory even when it is empty"});
  }
  if (const std::string* text = Tag(c, "manifest-sha256.txt", report)) {
    auto manifest = ParseManifest("manifest-sha256.txt", *text, report);
    for (const auto& [path, sha] : manifest) {
      auto it = c.payload.find(path);
      if (it == c.payload.end()) {
        report.findings.push_back({path, "listed in manifest-sha256.txt but missing"});
      } else if (it->second.sha256 != sha) {
        report.findings.push_back({path, "SHA-256 differs from manifest-sha256.txt"});
      }
    }
    for (const auto& [path, file] : c.payload) {
      if (!manifest.count(path)) report.findings.push_back({path, "not listed in manifest-sha256.txt"});
    }
  }
  if (const std::string* text = Tag(c, "tagmanifest-sha256.txt", report)) {
    auto manifest = ParseManifest("tagmanifest-sha256.txt", *text, report);
    for (const auto& [path, sha] : manifest) {
      auto it = c.tags.find(path);
      if (it == c.tags.end()) {
        report.findings.push_back({path, "listed in tagmanifest-sha256.txt but missing"});
      } else if (crypto::HexEncode(crypto::Sha256Of(it->second)) != sha) {
        report.findings.push_back({path, "SHA-256 differs from tagmanifest-sha256.txt"});
      }
    }
    for (const auto& [path, bytes] : c.tags) {
      if (path != "tagmanifest-sha256.txt" && !manifest.count(path)) {
        report.findings.push_back({path, "not listed in tagmanifest-sha256.txt"});
      }
    }
  }
  if (const std::string* info = Tag(c, "bag-info.txt", report)) {
    uint64_t bytes = 0;
    for (const auto& [p, f] : c.payload) bytes += f.size;
    std::string want = "Payload-Oxum: " + std::to_string(bytes) + "." + std::to_string(c.payload.size());
    if (info->find(want + "\n") == std::string::npos) {
      report.findings.push_back({"bag-info.txt", "Payload-Oxum does not match the payload (" + want + ")"});
    }
  }
}

using Verifiers = std::vector<const crypto::note::Verifier*>;

// log/checkpoint, signed by one of the keys the auditor trusts; nullopt
// (and a finding) otherwise.
std::optional<crypto::Checkpoint> CheckCheckpoint(const Contents& c, const Verifiers& verifiers,
                                                  PackageReport& report) {
  const std::string* note = Tag(c, "log/checkpoint", report);
  if (!note) return std::nullopt;
  auto opened = crypto::OpenCheckpoint(*note, verifiers);
  if (!opened.ok()) {
    report.findings.push_back({"log/checkpoint", "not signed by the given key: " + opened.status().message()});
    return std::nullopt;
  }
  return opened->checkpoint;
}

// The action whose details list the entries it redacted, and that member
// (docs/formats/audit-log.md, record.destroy).
constexpr char kDestroyAction[] = "record.destroy";
constexpr char kDetailRedacted[] = "redacted";

// One line of log/entries.jsonl: {"index","leaf"}, or for an entry whose
// body a destruction redacted {"index","redacted":true,"leafHash"}.
struct EntryLine {
  std::string leaf;  // "" when redacted
  crypto::Digest32 leaf_hash{};
};

// The line as entry `expected_index`; nullopt unless it is that entry in
// one of the two forms.
std::optional<EntryLine> ParseEntryLine(const std::string& line, uint64_t expected_index) {
  auto parsed = domain::ParseJsonStrict(line);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return std::nullopt;
  auto o = parsed->extract<Poco::JSON::Object::Ptr>();
  try {
    if (o->getValue<Poco::Int64>("index") != static_cast<int64_t>(expected_index)) return std::nullopt;
    EntryLine e;
    if (o->has("redacted")) {
      auto hash = crypto::Base64Decode(o->getValue<std::string>("leafHash"));
      if (!o->getValue<bool>("redacted") || !hash || hash->size() != e.leaf_hash.size()) return std::nullopt;
      std::copy(hash->begin(), hash->end(), e.leaf_hash.begin());
      return e;
    }
    auto bytes = crypto::Base64Decode(o->getValue<std::string>("leaf"));
    if (!bytes || bytes->empty()) return std::nullopt;
    e.leaf = crypto::ToString(*bytes);
    e.leaf_hash = crypto::merkle::HashLeaf(e.leaf);
    return e;
  } catch (...) {
    return std::nullopt;
  }
}

// What log/entries.jsonl holds, read up to its first fault.
struct LogContents {
  std::vector<std::string> leaves;  // "" for a redacted entry
  // Record (event subject) → index of the newest entry whose details carry
  // a recordHash.
  std::map<std::string, uint64_t> newest_record_hash;
};

// Every redacted entry must be one that a record.destroy entry lists.
void CheckRedactions(const std::vector<uint64_t>& redacted, const std::set<uint64_t>& listed, PackageReport& report) {
  for (uint64_t i : redacted) {
    if (!listed.count(i)) {
      report.findings.push_back({"log/entries.jsonl", "entry " + std::to_string(i) +
                                                          " is redacted, but no record.destroy entry lists it"});
    }
  }
}

// log/entries.jsonl: every leaf decodes and links to the one before, and
// together they give the checkpoint's size and root.
LogContents CheckLogEntries(const Contents& c, const std::optional<crypto::Checkpoint>& cp,
                            PackageReport& report) {
  LogContents log;
  std::vector<std::string>& leaves = log.leaves;
  const std::string* jsonl = Tag(c, "log/entries.jsonl", report);
  if (!jsonl) return log;
  crypto::merkle::CompactRange range;
  std::optional<crypto::Digest32> prev;
  std::vector<uint64_t> redacted;
  std::set<uint64_t> listed;  // by record.destroy entries
  const size_t findings_before = report.findings.size();
  for (const std::string& line : Lines(*jsonl)) {
    const uint64_t line_no = leaves.size();
    std::optional<EntryLine> entry = ParseEntryLine(line, line_no);
    if (!entry) {
      report.findings.push_back({"log/entries.jsonl", "line " + std::to_string(line_no + 1) + " is not entry " +
                                                          std::to_string(line_no)});
      break;
    }
    if (entry->leaf.empty()) {
      redacted.push_back(line_no);
    } else {
      auto decoded = storage::DecodeLeaf(entry->leaf);
      if (!decoded.ok()) {
        report.findings.push_back({"log/entries.jsonl", "entry " + std::to_string(line_no) + ": " + decoded.status().message()});
        break;
      }
      if (auto link = storage::CheckChainLink(*decoded, line_no, prev); !link.ok()) {
        report.findings.push_back({"log/entries.jsonl", link.message()});
        break;
      }
      const domain::EventDetails& details = decoded->event.details;
      if (details.String(storage::kDetailRecordHash)) log.newest_record_hash[decoded->event.subject] = line_no;
      const domain::DetailValue::Array* list = details.Array(kDetailRedacted);
      for (size_t i = 0; list && decoded->event.action == kDestroyAction && i < list->size(); ++i) {
        if (std::optional<int64_t> n = (*list)[i].AsInt(); n && *n >= 0) listed.insert(static_cast<uint64_t>(*n));
      }
    }
    range.Append(entry->leaf_hash);
    prev = entry->leaf_hash;
    leaves.push_back(std::move(entry->leaf));
  }
  report.log_entries = leaves.size();
  CheckRedactions(redacted, listed, report);
  if (cp && report.findings.size() == findings_before && (range.size() != cp->size || range.Root() != cp->root)) {
    report.findings.push_back({"log/entries.jsonl", "the entries do not give the checkpoint's size " +
                                                       std::to_string(cp->size) + " and root"});
  }
  return log;
}

// bag-info.txt names the same checkpoint as log/checkpoint.
void CheckBagInfoCheckpoint(const Contents& c, const crypto::Checkpoint& cp, PackageReport& report) {
  auto it = c.tags.find("bag-info.txt");
  if (it == c.tags.end()) return;
  const std::string& info = it->second;
  std::string size_line = "Custos-Checkpoint-Size: " + std::to_string(cp.size) + "\n";
  std::string root_line = "Custos-Checkpoint-Root: " + crypto::Base64Encode(cp.root) + "\n";
  if (info.find(size_line) == std::string::npos || info.find(root_line) == std::string::npos) {
    report.findings.push_back({"bag-info.txt", "its checkpoint size or root differs from log/checkpoint"});
  }
}

// One verified receipt's entry.
struct ReceiptEntry {
  uint64_t index = 0;
  std::string subject;
  domain::EventDetails details;
};

// What the verified receipts say the log recorded.
struct LoggedVersions {
  std::map<std::string, std::string> file_hash;                   // "<record>/v<n>/<file id>" → sha256
  std::map<std::string, domain::EventDetails> version_details;  // "<record>/v<n>" → event details
  std::map<std::string, ReceiptEntry> receipts;                   // receipt file → its entry
};

// Every receipts/ file verifies against the keys and log/checkpoint, and
// its leaf is the log's entry at its index.
LoggedVersions CheckReceipts(const Contents& c, const Verifiers& verifiers,
                             const std::optional<crypto::Checkpoint>& cp, const std::vector<std::string>& leaves,
                             PackageReport& report) {
  LoggedVersions logged;
  for (const auto& [name, text] : c.tags) {
    if (name.rfind("receipts/", 0) != 0) continue;
    ++report.receipts;
    auto verified = services::VerifyReceipt(text, verifiers);
    if (!verified.ok()) {
      report.findings.push_back({name, "does not verify: " + verified.status().message()});
      continue;
    }
    if (cp && !(verified->checkpoint == *cp)) {
      report.findings.push_back({name, "is against a checkpoint other than log/checkpoint"});
    }
    uint64_t index = verified->receipt.index;
    if (index < leaves.size() && !leaves[index].empty() && leaves[index] != verified->receipt.leaf) {
      report.findings.push_back({name, "its leaf differs from entry " + std::to_string(index) + " of the log"});
    }
    auto leaf = storage::DecodeLeaf(verified->receipt.leaf);
    if (!leaf.ok()) {
      report.findings.push_back({name, "its leaf does not decode"});
      continue;
    }
    const domain::EventDetails& details = leaf->event.details;
    const std::string& record = leaf->event.subject;
    logged.receipts[name] = {index, record, details};
    std::optional<int64_t> version = details.Int("version");
    if (!version) {
      // A record's receipt (receipts/<record>.tlog-proof) is of the entry
      // with its newest recordHash, which need not be a version event.
      if (!details.String(storage::kDetailRecordHash)) {
        report.findings.push_back({name, "its leaf is neither a version event nor carries a recordHash"});
      }
      continue;
    }
    const std::string key = record + "/v" + std::to_string(static_cast<int>(*version));
    logged.version_details[key] = details;
    const domain::DetailValue::Array* files = details.Array("files");
    for (size_t i = 0; files && i < files->size(); ++i) {
      const domain::EventDetails* f = (*files)[i].AsObject();
      std::optional<std::string> id = f ? f->String("id") : std::nullopt;
      std::optional<std::string> sha256 = f ? f->String("sha256") : std::nullopt;
      if (!id || !sha256) {
        report.findings.push_back({name, "its leaf is not a version event"});
        break;
      }
      logged.file_hash[key + "/" + *id] = *sha256;
    }
  }
  return logged;
}

// One version `key` ("<record>/v<n>") of metadata file `name` against the
// version event the log recorded; records its withheld files.
void CheckMetadataVersion(const Contents& c, const std::string& name, const std::string& key,
                          const Poco::JSON::Object::Ptr& v, const domain::EventDetails& logged,
                          std::map<std::string, std::string>& withheld, PackageReport& report) {
  if (std::optional<std::string>(v->getValue<std::string>("manifestHash")) != logged.String("manifestHash")) {
    report.findings.push_back({name, "the manifest hash of " + key + " differs from the log"});
  }
  // The log's files of this version by id (CheckReceipts reported entries
  // without an id).
  std::map<std::string, const domain::EventDetails*> logged_files;
  const domain::DetailValue::Array* lf = logged.Array("files");
  for (size_t j = 0; lf && j < lf->size(); ++j) {
    const domain::EventDetails* f = (*lf)[j].AsObject();
    std::optional<std::string> id = f ? f->String("id") : std::nullopt;
    if (id) logged_files[*id] = f;
  }
  auto files = v->getArray("files");
  size_t described = files ? files->size() : 0;
  if (described != logged_files.size()) {
    report.findings.push_back({name, key + " lists " + std::to_string(described) + " files, the log " +
                                         std::to_string(logged_files.size())});
  }
  for (size_t j = 0; j < described; ++j) {
    auto f = files->getObject(static_cast<unsigned>(j));
    std::string fid = f->getValue<std::string>("id");
    auto lfile = logged_files.find(fid);
    if (lfile == logged_files.end()) {
      report.findings.push_back({name, "file " + fid + " of " + key + " is not in the log"});
      continue;
    }
    for (const char* field : {"name", "sha256"}) {
      if (std::optional<std::string>(f->getValue<std::string>(field)) != lfile->second->String(field)) {
        report.findings.push_back({name, std::string("the ") + field + " of file " + fid + " differs from the log"});
      }
    }
    if (std::optional<int64_t>(f->getValue<Poco::Int64>("size")) != lfile->second->Int("size")) {
      report.findings.push_back({name, "the size of file " + fid + " differs from the log"});
    }
    if (!f->isNull("path") && !c.payload.count(f->getValue<std::string>("path"))) {
      report.findings.push_back({name, "names " + f->getValue<std::string>("path") + ", which is missing"});
    }
    if (f->isNull("path")) withheld[key + "/" + fid] = WithheldCode(f->optValue<std::string>("withheld", ""));
  }
}

// A string member of `o`, or nullopt (missing, or another JSON type).
std::optional<std::string> StringMember(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o->has(key) || !o->get(key).isString()) return std::nullopt;
  return o->getValue<std::string>(key);
}

// `text` as a time written exactly as the log writes times.
StatusOr<domain::Time> LogTime(const std::string& text, const char* member) {
  auto t = domain::ParseTime(text);
  if (!t.ok() || domain::FormatTime(*t) != text) return InvalidArgument(std::string("member ") + member + " is not a log time");
  return *t;
}

// An integer member of `o`, or nullopt.
std::optional<int64_t> IntMember(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o->has(key) || !o->get(key).isInteger()) return std::nullopt;
  return o->getValue<Poco::Int64>(key);
}

// One file of a version object as storage::ManifestCanonical reads it.
StatusOr<domain::StoredFile> ManifestFile(const Poco::JSON::Object::Ptr& f) {
  domain::StoredFile file;
  std::map<std::string, std::string> text;
  for (const char* key : {"id", "name", "mediaType", "sha256", "signature", "signer", "signingTime"}) {
    std::optional<std::string> value = StringMember(f, key);
    if (!value) return InvalidArgument(std::string("file member ") + key + " is missing or not a string");
    text[key] = *value;
  }
  std::optional<int64_t> size = IntMember(f, "size");
  if (!size || *size < 0) return InvalidArgument("file member size is missing or not a size");
  file.id = domain::FileId{text["id"]};
  file.name = text["name"];
  file.media_type = text["mediaType"];
  file.size = static_cast<uint64_t>(*size);
  file.sha256 = text["sha256"];
  file.sm3 = StringMember(f, "sm3").value_or("");
  file.signature.status = text["signature"];
  file.signature.signer = text["signer"];
  if (!text["signingTime"].empty()) {
    CUSTOS_ASSIGN_OR_RETURN(file.signature.signing_time, LogTime(text["signingTime"], "signingTime"));
  }
  return file;
}

// Version object `v` of record `record` as storage::ManifestHash reads it
// (docs/formats/audit-package.md, "Version values").
StatusOr<domain::Version> ManifestVersion(const std::string& record, const Poco::JSON::Object::Ptr& v) {
  domain::Version version;
  version.record_id = domain::RecordId{record};
  std::optional<int64_t> number = IntMember(v, "number");
  if (!number) return InvalidArgument("member number is missing or not an integer");
  version.number = static_cast<int>(*number);
  std::map<std::string, std::string> text;
  for (const char* key : {"kind", "note", "createdAt", "createdBy", "prevManifestHash"}) {
    std::optional<std::string> value = StringMember(v, key);
    if (!value) return InvalidArgument(std::string("member ") + key + " is missing or not a string");
    text[key] = *value;
  }
  CUSTOS_ASSIGN_OR_RETURN(version.kind, domain::ParseVersionKind(text["kind"]));
  version.note = text["note"];
  CUSTOS_ASSIGN_OR_RETURN(version.created_at, LogTime(text["createdAt"], "createdAt"));
  version.created_by = text["createdBy"];
  version.prev_manifest_hash = text["prevManifestHash"];
  Poco::JSON::Array::Ptr files = v->getArray("files");
  for (size_t i = 0; files && i < files->size(); ++i) {
    Poco::JSON::Object::Ptr f = files->getObject(static_cast<unsigned>(i));
    if (!f) return InvalidArgument("a file is not an object");
    CUSTOS_ASSIGN_OR_RETURN(domain::StoredFile file, ManifestFile(f));
    version.files.push_back(std::move(file));
  }
  return version;
}

}  // namespace

StatusOr<domain::Record> CatalogueRow(const Poco::JSON::Object::Ptr& o) {
  std::map<std::string, std::string> text;
  for (const char* key : {"id", "type", "title", "description", "department", "classification", "custodian",
                          "location", "retentionClass", "state", "createdAt", "createdBy", "updatedAt", "salt"}) {
    std::optional<std::string> value = StringMember(o, key);
    if (!value) return InvalidArgument(std::string("member ") + key + " is missing or not a string");
    text[key] = *value;
  }
  domain::Record r;
  r.id = domain::RecordId{text["id"]};
  CUSTOS_ASSIGN_OR_RETURN(r.type, domain::ParseRecordType(text["type"]));
  r.title = text["title"];
  r.description = text["description"];
  r.department = text["department"];
  CUSTOS_ASSIGN_OR_RETURN(r.classification, domain::ParseClassification(text["classification"]));
  r.custodian = text["custodian"];
  r.location = text["location"];
  Poco::JSON::Object::Ptr metadata = o->getObject("metadata");
  if (!metadata) return InvalidArgument("member metadata is missing or not an object");
  CUSTOS_ASSIGN_OR_RETURN(r.metadata_json, domain::CanonicalJson(metadata));
  r.retention_class = text["retentionClass"];
  CUSTOS_ASSIGN_OR_RETURN(r.state, domain::ParseRecordState(text["state"]));
  CUSTOS_ASSIGN_OR_RETURN(r.created_at, LogTime(text["createdAt"], "createdAt"));
  CUSTOS_ASSIGN_OR_RETURN(r.updated_at, LogTime(text["updatedAt"], "updatedAt"));
  r.created_by = text["createdBy"];
  r.salt = text["salt"];
  return r;
}

namespace {

// The record's catalogue values in metadata file `name` against the log:
// its receipt must be of the newest entry of log/entries.jsonl that carries
// a recordHash for the record, and that recordHash must be the digest of
// the values and salt the file gives.
void CheckCatalogue(const std::string& name, const Poco::JSON::Object::Ptr& record, const LoggedVersions& logged,
                    const LogContents& log, PackageReport& report) {
  const std::string id = record->getValue<std::string>("id");
  const std::string label = "record " + id + ": ";
  std::optional<std::string> receipt = StringMember(record, "receipt");
  if (!receipt) {
    report.findings.push_back({name, label + "no receipt binds its catalogue values to the log"});
    return;
  }
  auto it = logged.receipts.find(*receipt);
  if (it == logged.receipts.end()) {
    report.findings.push_back({name, label + "its receipt " + *receipt + " is missing or does not verify"});
    return;
  }
  const ReceiptEntry& entry = it->second;
  std::optional<std::string> logged_hash = entry.details.String(storage::kDetailRecordHash);
  if (entry.subject != id || !logged_hash) {
    report.findings.push_back({name, label + *receipt + " is not of an entry with this record's recordHash"});
    return;
  }
  if (!record->has("logIndex") || !record->get("logIndex").isInteger() ||
      record->getValue<Poco::Int64>("logIndex") != static_cast<Poco::Int64>(entry.index)) {
    report.findings.push_back({name, label + "logIndex is not the entry of " + *receipt});
  }
  auto newest = log.newest_record_hash.find(id);
  if (newest != log.newest_record_hash.end() && newest->second != entry.index) {
    report.findings.push_back({name, label + "entry " + std::to_string(newest->second) +
                                         " of the log holds a newer recordHash than entry " +
                                         std::to_string(entry.index) + " of its receipt"});
  }
  StatusOr<domain::Record> row = CatalogueRow(record);
  StatusOr<std::string> digest = row.ok() ? storage::RecordDigest(*row) : StatusOr<std::string>(row.status());
  if (!digest.ok()) {
    report.findings.push_back({name, label + "catalogue values do not match the log (" + digest.status().message() + ")"});
  } else if (*digest != *logged_hash) {
    report.findings.push_back({name, label + "catalogue values do not match the log (the recordHash of entry " +
                                         std::to_string(entry.index) + ")"});
  }
}

// Version `key` of record `record` in metadata file `name`: its values
// (kind, note, creation, previous hash, files with their signatures) must
// give the manifest hash that the version's entry logged.
void CheckVersionValues(const std::string& name, const std::string& record, const std::string& key,
                        const Poco::JSON::Object::Ptr& v, const domain::EventDetails& logged,
                        PackageReport& report) {
  StatusOr<domain::Version> version = ManifestVersion(record, v);
  StatusOr<std::string> hash = version.ok() ? storage::ManifestHash(*version) : StatusOr<std::string>(version.status());
  if (!hash.ok()) {
    report.findings.push_back({name, "version " + key + ": its values do not match the log (" + hash.status().message() + ")"});
  } else if (std::optional<std::string>(*hash) != logged.String(storage::kDetailManifestHash)) {
    report.findings.push_back({name, "version " + key + ": its values do not match the log (the manifest hash it recorded)"});
  }
}

// Metadata: every version and file it describes must be what the log
// recorded, and every path it names must be in the package; the record's
// catalogue values must be those whose digest the log holds. Returns the
// withheld files ("<record>/v<n>/<file id>" → reason code).
std::map<std::string, std::string> CheckMetadata(const Contents& c, const LoggedVersions& logged,
                                                 const LogContents& log, PackageReport& report) {
  std::map<std::string, std::string> withheld;
  for (const auto& [name, text] : c.tags) {
    if (name.rfind("metadata/", 0) != 0) continue;
    auto parsed = domain::ParseJsonStrict(text);
    if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
      report.findings.push_back({name, "is not a JSON object"});
      continue;
    }
    try {
      auto record = parsed->extract<Poco::JSON::Object::Ptr>();
      std::string id = record->getValue<std::string>("id");
      CheckCatalogue(name, record, logged, log, report);
      auto versions = record->getArray("versions");
      for (size_t i = 0; versions && i < versions->size(); ++i) {
        auto v = versions->getObject(static_cast<unsigned>(i));
        std::string key = id + "/v" + std::to_string(v->getValue<Poco::Int64>("number"));
        auto it = logged.version_details.find(key);
        if (it == logged.version_details.end()) {
          report.findings.push_back({name, "version " + key + " has no receipt"});
          continue;
        }
        CheckMetadataVersion(c, name, key, v, it->second, withheld, report);
        CheckVersionValues(name, id, key, v, it->second, report);
      }
    } catch (const std::exception& e) {
      report.findings.push_back({name, std::string("is not record metadata: ") + e.what()});
    }
  }
  return withheld;
}

// Every payload file data/<record>/v<n>/<file id>-<name> has the hash its
// version's receipt leaf records.
void CheckPayloadAgainstLog(const Contents& c, const LoggedVersions& logged, PackageReport& report) {
  for (const auto& [path, file] : c.payload) {
    std::string rest = path.substr(5);
    size_t s1 = rest.find('/');
    size_t s2 = s1 == std::string::npos ? s1 : rest.find('/', s1 + 1);
    size_t dash = s2 == std::string::npos ? s2 : rest.find('-', s2 + 1);
    if (dash == std::string::npos) {
      report.findings.push_back({path, "not a file of a record version"});
      continue;
    }
    std::string key = rest.substr(0, s2 + 1) + rest.substr(s2 + 1, dash - s2 - 1);
    auto it = logged.file_hash.find(key);
    if (it == logged.file_hash.end()) {
      report.findings.push_back({path, "no receipt records this file"});
    } else if (it->second != file.sha256) {
      report.findings.push_back({path, "SHA-256 differs from the hash recorded in the log"});
    }
  }
}

}  // namespace

StatusOr<PackageReport> VerifyPackage(const std::string& package_path, const std::string& vkey_text,
                                      const crypto::AttestationPolicy& policy) {
  std::vector<crypto::note::KeyVerifier> keys;
  for (const std::string& line : Lines(vkey_text)) {
    CUSTOS_ASSIGN_OR_RETURN(crypto::note::KeyVerifier v, crypto::note::KeyVerifier::FromVerifierKey(line));
    keys.push_back(std::move(v));
  }
  if (keys.empty()) return InvalidArgument("the verifier key file holds no key", "vkey_empty");
  Verifiers verifiers;
  for (const auto& k : keys) verifiers.push_back(&k);

  PackageReport report;
  CUSTOS_ASSIGN_OR_RETURN(Contents c, ReadPackage(package_path, report));
  report.payload_files = c.payload.size();
  for (const auto& [p, f] : c.payload) report.payload_bytes += f.size;
  report.tag_files = c.tags.size();
  CheckBagIt(c, report);
  CheckPackageAttestations(c.tags, policy, report);
  if (IsEvidenceBundle(c.tags)) {  // one record's evidence (docs/formats/evidence-bundle.md)
    std::map<std::string, std::string> payload;
    for (const auto& [path, file] : c.payload) payload[path] = file.sha256;
    CheckEvidenceBundle(c.tags, payload, verifiers, report);
    return report;
  }
  std::optional<crypto::Checkpoint> cp = CheckCheckpoint(c, verifiers, report);
  LogContents log = CheckLogEntries(c, cp, report);
  if (cp) CheckBagInfoCheckpoint(c, *cp, report);
  LoggedVersions logged = CheckReceipts(c, verifiers, cp, log.leaves, report);
  std::map<std::string, std::string> withheld = CheckMetadata(c, logged, log, report);
  if (auto it = c.tags.find("bag-info.txt"); it != c.tags.end()) CheckWithheld(it->second, withheld, report);
  CheckPayloadAgainstLog(c, logged, report);
  return report;
}

void PrintPackageReport(const PackageReport& report, std::ostream& out) {
  for (const auto& f : report.findings) out << "FINDING " << f.file << ": " << f.problem << "\n";
  out << (report.clean() ? "clean: " : std::to_string(report.findings.size()) + " finding(s): ")
      << report.payload_files << " files (" << report.payload_bytes << " bytes), " << report.tag_files
      << " tag files, " << report.log_entries << " log entries, " << report.receipts << " receipts\n";
}

std::string PackageReportJson(const PackageReport& report) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("clean", report.clean());
  Poco::JSON::Array::Ptr findings = new Poco::JSON::Array;
  for (const auto& f : report.findings) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("file", f.file);
    x->set("problem", f.problem);
    findings->add(x);
  }
  o->set("findings", findings);
  Poco::JSON::Object::Ptr counts = new Poco::JSON::Object;
  counts->set("payloadFiles", static_cast<Poco::UInt64>(report.payload_files));
  counts->set("payloadBytes", static_cast<Poco::UInt64>(report.payload_bytes));
  counts->set("tagFiles", static_cast<Poco::UInt64>(report.tag_files));
  counts->set("logEntries", static_cast<Poco::UInt64>(report.log_entries));
  counts->set("receipts", static_cast<Poco::UInt64>(report.receipts));
  o->set("counts", counts);
  auto text = domain::CanonicalJson(o);
  return text.ok() ? *text : "{}";
}

int RunVerifyPackage(const std::vector<std::string>& all_args) {
  std::string package, vkey_path;
  bool json = false;
  std::vector<std::string> args = all_args;
  AttestationFlags attest;
  std::string flag_error;
  if (!TakeAttestationFlags(args, attest, flag_error)) {
    std::cerr << "custosctl: verify-package: " << flag_error << "\n";
    return 2;
  }
  auto policy = MakeAttestationPolicy(attest, nullptr);
  if (!policy.ok()) {
    std::cerr << "custosctl: verify-package: " << policy.status().message() << "\n";
    return 2;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--vkey" && i + 1 < args.size()) {
      vkey_path = args[++i];
    } else if (!args[i].empty() && args[i][0] != '-' && package.empty()) {
      package = args[i];
    } else {
      std::cerr << "custosctl: verify-package: unexpected argument '" << args[i] << "'\n";
      return 2;
    }
  }
  if (package.empty() || vkey_path.empty()) {
    std::cerr << "custosctl: verify-package: usage: verify-package PKG --vkey KEY [--json]"
                 " [--witness VKEY]... [--witness-policy N] [--tsa-ca FILE]\n";
    return 2;
  }
  auto vkey = storage::ReadSmallFile(vkey_path);
  if (!vkey.ok()) {
    std::cerr << "custosctl: verify-package: " << vkey.status().message() << "\n";
    return 2;
  }
  auto report = VerifyPackage(package, *vkey, *policy);
  if (!report.ok()) {
    std::cerr << "custosctl: verify-package: could not run: " << report.status().message() << "\n";
    return 2;
  }
  if (json) {
    std::cout << PackageReportJson(*report) << "\n";
  } else {
    PrintPackageReport(*report, std::cout);
  }
  return report->clean() ? 0 : 1;
}

}  // namespace custos::admin
