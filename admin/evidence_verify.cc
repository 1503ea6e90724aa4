#include "admin/evidence_verify.h"

#include <Poco/JSON/Object.h>

#include <optional>
#include <set>
#include <sstream>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/merkle.h"
#include "domain/canonical_json.h"
#include "server/services/evidence_bundle.h"
#include "server/services/receipt.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"

namespace custos::admin {

namespace {

using Tags = std::map<std::string, std::string>;
using Verifiers = std::vector<const crypto::note::Verifier*>;

void Add(PackageReport& report, const std::string& file, const std::string& problem) {
  report.findings.push_back({file, problem});
}

// The value of bag-info label `label`, or "".
std::string BagInfoValue(const Tags& tags, const std::string& label) {
  auto it = tags.find("bag-info.txt");
  if (it == tags.end()) return "";
  std::istringstream in(it->second);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(label + ": ", 0) == 0) return line.substr(label.size() + 2);
  }
  return "";
}

// The index that "<dir>/<index><ext>" names, or nullopt.
std::optional<uint64_t> IndexOf(const std::string& path, const std::string& dir, const std::string& ext) {
  if (path.rfind(dir, 0) != 0 || path.size() <= dir.size() + ext.size() ||
      path.compare(path.size() - ext.size(), ext.size(), ext) != 0) {
    return std::nullopt;
  }
  std::string digits = path.substr(dir.size(), path.size() - dir.size() - ext.size());
  if (digits.size() > 19 || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  return std::stoull(digits);
}

struct Event {
  std::string path;
  std::string leaf;
  storage::DecodedLeaf decoded;
};

// 1. The checkpoint, signed by a trusted key and named by bag-info.txt.
std::optional<crypto::Checkpoint> CheckCheckpoint(const Tags& tags, const Verifiers& verifiers,
                                                  PackageReport& report) {
  auto it = tags.find("log/checkpoint");
  if (it == tags.end()) {
    Add(report, "log/checkpoint", "missing");
    return std::nullopt;
  }
  auto opened = crypto::OpenCheckpoint(it->second, verifiers);
  if (!opened.ok()) {
    Add(report, "log/checkpoint", "not signed by the given key: " + opened.status().message());
    return std::nullopt;
  }
  const crypto::Checkpoint& cp = opened->checkpoint;
  if (BagInfoValue(tags, "Custos-Checkpoint-Size") != std::to_string(cp.size) ||
      BagInfoValue(tags, "Custos-Checkpoint-Root") != crypto::Base64Encode(cp.root)) {
    Add(report, "bag-info.txt", "its checkpoint size or root differs from log/checkpoint");
  }
  return cp;
}

// 1b. Each older attested checkpoint (log/attested/<size>.checkpoint):
// signed by a trusted key, of the same log, and a prefix of the bundle's
// checkpoint by its consistency proof (log/attested/<size>.consistency).
void CheckAttested(const Tags& tags, const Verifiers& verifiers, const std::optional<crypto::Checkpoint>& cp,
                   PackageReport& report) {
  const std::string dir = "log/attested/";
  for (auto it = tags.lower_bound(dir); it != tags.end() && it->first.rfind(dir, 0) == 0; ++it) {
    const std::string& path = it->first;
    const std::string stem = path.substr(0, path.rfind('.'));
    if (path.size() > 11 && path.compare(path.size() - 12, 12, ".consistency") == 0) {
      if (!tags.count(stem + ".checkpoint")) Add(report, path, "names no attested checkpoint");
      continue;
    }
    if (path.size() < 12 || path.compare(path.size() - 11, 11, ".checkpoint") != 0) {
      Add(report, path, "is not an attested checkpoint or its consistency proof");
      continue;
    }
    auto opened = crypto::OpenCheckpoint(it->second, verifiers);
    if (!opened.ok()) {
      Add(report, path, "not signed by the given key: " + opened.status().message());
      continue;
    }
    const crypto::Checkpoint& old = opened->checkpoint;
    if (stem != dir + std::to_string(old.size)) {
      Add(report, path, "names tree size " + std::to_string(old.size) + ", not its file name's");
      continue;
    }
    if (!cp) continue;  // log/checkpoint's own finding says why
    if (old.origin != cp->origin) {
      Add(report, path, "is of another log (" + old.origin + ")");
      continue;
    }
    auto proof_it = tags.find(stem + ".consistency");
    if (proof_it == tags.end()) {
      Add(report, stem + ".consistency", "missing");
      continue;
    }
    std::vector<crypto::Bytes> proof;
    std::istringstream in(proof_it->second);
    bool malformed = false;
    for (std::string line; std::getline(in, line);) {
      auto h = crypto::Base64Decode(line);
      if (!h) {
        malformed = true;
        break;
      }
      proof.push_back(std::move(*h));
    }
    Status s = malformed ? InvalidArgument("a line is not base64", "proof_malformed")
                         : crypto::merkle::VerifyConsistency(old.size, cp->size, proof, old.root, cp->root);
    if (!s.ok()) Add(report, stem + ".consistency", "does not lead from it to log/checkpoint: " + s.message());
  }
}

// 2. The events about the record, each with a proof of exactly its leaf.
std::map<uint64_t, Event> CheckEvents(const Tags& tags, const std::string& record,
                                      const std::optional<crypto::Checkpoint>& cp, PackageReport& report) {
  std::map<uint64_t, Event> events;
  for (const auto& [path, bytes] : tags) {
    if (path.rfind("events/", 0) != 0) continue;
    std::optional<uint64_t> index = IndexOf(path, "events/", ".json");
    if (!index) {
      Add(report, path, "not events/<log index>.json");
      continue;
    }
    auto decoded = storage::DecodeLeaf(bytes);
    if (!decoded.ok()) {
      Add(report, path, "not a log entry: " + decoded.status().message());
      continue;
    }
    if (decoded->seq != *index) Add(report, path, "its seq is " + std::to_string(decoded->seq) + ", not its index");
    if (decoded->event.subject != record) Add(report, path, "is not about " + record);
    events[*index] = {path, bytes, std::move(decoded).value()};
  }
  for (const auto& [path, text] : tags) {
    if (path.rfind("proofs/", 0) != 0) continue;
    std::optional<uint64_t> index = IndexOf(path, "proofs/", ".tlog-proof");
    if (!index || !events.count(*index)) Add(report, path, "no event of the bundle has this proof's index");
  }
  for (const auto& [index, e] : events) {
    const std::string proof_path = "proofs/" + std::to_string(index) + ".tlog-proof";
    auto it = tags.find(proof_path);
    if (it == tags.end()) {
      Add(report, e.path, "has no inclusion proof (" + proof_path + " is missing)");
      continue;
    }
    auto receipt = services::ParseReceipt(it->second);
    if (!receipt.ok()) {
      Add(report, proof_path, "malformed: " + receipt.status().message());
      continue;
    }
    if (receipt->index != index) Add(report, proof_path, "proves entry " + std::to_string(receipt->index));
    if (auto note = tags.find("log/checkpoint"); note == tags.end() || receipt->checkpoint_note != note->second) {
      Add(report, proof_path, "is against a checkpoint other than log/checkpoint");
    }
    if (!cp) continue;
    // The proof, with its own leaf, must lead to the signed root; the
    // event must then be that leaf.
    Status own = crypto::merkle::VerifyInclusion(receipt->index, cp->size, crypto::merkle::HashLeaf(receipt->leaf),
                                                 receipt->proof, cp->root);
    if (!own.ok()) {
      Add(report, proof_path, "does not lead to the root of log/checkpoint: " + own.message());
    } else if (receipt->leaf != e.leaf) {
      Add(report, e.path, "differs from the log entry its proof shows included");
    }
  }
  return events;
}

// 3. Consecutive events link.
void CheckChain(const std::map<uint64_t, Event>& events, PackageReport& report) {
  for (auto it = events.begin(); it != events.end(); ++it) {
    auto next = std::next(it);
    if (next == events.end() || next->first != it->first + 1) continue;
    Status link = storage::CheckChainLink(next->second.decoded, next->first, crypto::merkle::HashLeaf(it->second.leaf));
    if (!link.ok()) Add(report, next->second.path, "does not link to " + it->second.path + ": " + link.message());
  }
}

// What the check-in events record of each file: "v<n>/<id>" → details.
std::map<std::string, const domain::EventDetails*> CheckedInFiles(const std::map<uint64_t, Event>& events) {
  std::map<std::string, const domain::EventDetails*> out;
  for (const auto& [index, e] : events) {
    const domain::EventDetails& d = e.decoded.event.details;
    std::optional<int64_t> version = d.Int("version");
    const domain::DetailValue::Array* files = d.Array("files");
    if (!version || !files || !d.String(storage::kDetailManifestHash)) continue;
    for (const domain::DetailValue& v : *files) {
      const domain::EventDetails* f = v.AsObject();
      std::optional<std::string> id = f ? f->String("id") : std::nullopt;
      if (id) out["v" + std::to_string(*version) + "/" + *id] = f;
    }
  }
  return out;
}

// 4. Originals and signature results against the check-in events.
void CheckFiles(const Tags& tags, const std::map<std::string, std::string>& payload,
                const std::map<std::string, const domain::EventDetails*>& logged, PackageReport& report) {
  for (const auto& [path, sha] : payload) {
    // data/v<n>/<file id>-<name>
    size_t slash = path.find('/', 5);
    size_t dash = slash == std::string::npos ? slash : path.find('-', slash);
    auto it = dash == std::string::npos ? logged.end() : logged.find(path.substr(5, dash - 5));
    if (it == logged.end()) {
      Add(report, path, "no check-in event of the bundle records this file");
    } else if (it->second->String("sha256") != sha) {
      Add(report, path, "SHA-256 differs from the hash its check-in event records");
    }
  }
  for (const auto& [path, text] : tags) {
    if (path.rfind("signatures/", 0) != 0) continue;
    auto parsed = domain::ParseJsonStrict(text);
    if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
      Add(report, path, "is not a JSON object");
      continue;
    }
    auto o = parsed->extract<Poco::JSON::Object::Ptr>();
    std::string key = path.substr(11, path.size() > 16 ? path.size() - 16 : 0);  // v<n>/<id>
    auto it = logged.find(key);
    if (it == logged.end() || path.size() < 16 || path.substr(path.size() - 5) != ".json") {
      Add(report, path, "no check-in event of the bundle records this file");
      continue;
    }
    for (const auto& [member, logged_member] : {std::pair<std::string, std::string>{"status", "signature"},
                                                {"sha256", "sha256"}, {"name", "name"}, {"file", "id"}}) {
      if (!o->has(member) || !o->get(member).isString() ||
          std::optional<std::string>(o->getValue<std::string>(member)) != it->second->String(logged_member)) {
        Add(report, path, "its " + member + " differs from the check-in event");
      }
    }
  }
}

// Every file of the record (a signature result) has its original in data/
// or a Custos-Withheld line in bag-info.txt, never both.
void CheckWithheld(const Tags& tags, const std::map<std::string, std::string>& payload, PackageReport& report) {
  std::set<std::string> withheld;  // "v<n>/<id>"
  auto info = tags.find("bag-info.txt");
  std::istringstream in(info == tags.end() ? "" : info->second);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Custos-Withheld: ", 0) == 0) withheld.insert(line.substr(17, line.rfind(' ') - 17));
  }
  if (BagInfoValue(tags, "Custos-Withheld-Files") != std::to_string(withheld.size())) {
    Add(report, "bag-info.txt", "Custos-Withheld-Files does not count its Custos-Withheld lines");
  }
  for (const auto& [path, text] : tags) {
    if (path.rfind("signatures/", 0) != 0 || path.size() < 16) continue;
    const std::string key = path.substr(11, path.size() - 16);  // v<n>/<id>
    auto original = payload.lower_bound("data/" + key + "-");
    bool has = original != payload.end() && original->first.rfind("data/" + key + "-", 0) == 0;
    if (has && withheld.count(key)) Add(report, "bag-info.txt", "withholds " + key + ", whose original is in data/");
    if (!has && !withheld.count(key)) {
      Add(report, "bag-info.txt", "neither holds the original of " + key + " nor says why it is withheld");
    }
  }
}

// 5. The catalogue values against the newest recordHash of the events.
void CheckCatalogue(const Tags& tags, const std::map<uint64_t, Event>& events, PackageReport& report) {
  const std::string path = services::kEvidenceRecordPath;
  auto it = tags.find(path);
  if (it == tags.end()) {
    Add(report, path, "missing");
    return;
  }
  std::optional<std::string> logged;
  for (const auto& [index, e] : events) {
    if (auto h = e.decoded.event.details.String(storage::kDetailRecordHash)) logged = h;
  }
  auto parsed = domain::ParseJsonStrict(it->second);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
    Add(report, path, "is not a JSON object");
    return;
  }
  StatusOr<domain::Record> row = CatalogueRow(parsed->extract<Poco::JSON::Object::Ptr>());
  StatusOr<std::string> digest = row.ok() ? storage::RecordDigest(*row) : StatusOr<std::string>(row.status());
  if (!digest.ok()) {
    Add(report, path, "catalogue values do not match the log (" + digest.status().message() + ")");
  } else if (!logged) {
    Add(report, path, "no event of the bundle carries a recordHash");
  } else if (*digest != *logged) {
    Add(report, path, "catalogue values do not match the log (the newest recordHash of the events)");
  }
}

}  // namespace

bool IsEvidenceBundle(const Tags& tags) { return !BagInfoValue(tags, services::kEvidenceRecordLabel).empty(); }

void CheckEvidenceBundle(const Tags& tags, const std::map<std::string, std::string>& payload_sha256,
                         const Verifiers& verifiers, PackageReport& report) {
  const std::string record = BagInfoValue(tags, services::kEvidenceRecordLabel);
  std::optional<crypto::Checkpoint> cp = CheckCheckpoint(tags, verifiers, report);
  CheckAttested(tags, verifiers, cp, report);
  std::map<uint64_t, Event> events = CheckEvents(tags, record, cp, report);
  report.log_entries = events.size();
  report.receipts = events.size();
  CheckChain(events, report);
  CheckFiles(tags, payload_sha256, CheckedInFiles(events), report);
  CheckWithheld(tags, payload_sha256, report);
  CheckCatalogue(tags, events, report);
  auto summary = tags.find(services::kEvidenceSummaryPath);
  if (summary == tags.end()) {
    Add(report, services::kEvidenceSummaryPath, "missing");
  } else if (summary->second != services::EvidenceSummary(tags)) {
    Add(report, services::kEvidenceSummaryPath, "differs from the summary that the bundle's events and files give");
  }
}

}  // namespace custos::admin
