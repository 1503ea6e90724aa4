#include "storage/verifier.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sstream>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "crypto/merkle.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"
#include "storage/replay.h"
#include "storage/seal_check.h"

namespace custos::storage {

namespace merkle = crypto::merkle;

namespace {

constexpr size_t kBatch = 4096;

std::string EntryName(uint64_t i) { return "log entry " + std::to_string(i); }
std::string NodeName(uint32_t level, uint64_t k) {
  return "log node (" + std::to_string(level) + ", " + std::to_string(k) + ")";
}

// What the log says about the stored records, gathered while walking it.
// Only what a stored row needs is kept, so memory follows the rows, not
// the log: the newest recordHash of each stored record (a subject without
// a row is never looked up). Versions need nothing kept: each version's
// event is read back at its log index (CheckVersion).
struct LoggedFacts {
  std::unordered_map<std::string, std::optional<std::string>> record_hash;  // stored record id → newest recordHash
  std::set<uint64_t> redaction_allowed;  // indexes a record.destroy lists as redacted
};

class Checker {
 public:
  Checker(Transaction& tx, const VerifyOptions& options, VerifyReport& report)
      : tx_(tx), options_(options), report_(report) {}

  Status Run() {
    CUSTOS_RETURN_IF_ERROR(CollectRecordIds());
    CUSTOS_RETURN_IF_ERROR(CheckLog());
    CUSTOS_RETURN_IF_ERROR(CheckNodes());
    CUSTOS_RETURN_IF_ERROR(CheckRecords());
    CUSTOS_RETURN_IF_ERROR(CheckVersionsAndFiles());
    CUSTOS_RETURN_IF_ERROR(CheckExports());
    return CheckState();
  }

 private:
  void Add(std::string object, std::string problem, std::string code) {
    report_.findings.push_back({std::move(object), std::move(problem), std::move(code)});
  }
  void Progress(const char* phase, uint64_t done, uint64_t total) {
    if (options_.progress) options_.progress({phase, done, total});
  }
  Status CheckStop() const {
    if (options_.stop && options_.stop()) {
      return Unavailable("verification stopped before it ended", "verify_stopped");
    }
    return Status::Ok();
  }

  // The stored records whose newest recordHash the walk keeps.
  Status CollectRecordIds() {
    return tx_.records().ForEach([&](const domain::Record& r) -> Status {
      facts_.record_hash.emplace(r.id.value, std::nullopt);
      return Status::Ok();
    });
  }

  Status CheckLog() {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx_.log().Size());
    CUSTOS_ASSIGN_OR_RETURN(std::vector<StoredCheckpoint> checkpoints, tx_.log().Checkpoints());
    // Signed checkpoints say how long the log was; a shorter log lost entries.
    if (!checkpoints.empty()) size = std::max(size, checkpoints.back().size);
    size_t next_cp = 0;
    std::optional<crypto::Digest32> prev;
    while (range_.size() < size) {
      CUSTOS_RETURN_IF_ERROR(CheckStop());
      const uint64_t batch_start = range_.size();  // a multiple of kBatch: only the last batch is short
      StartChunk(0, batch_start / kBatch);
      size_t visited = 0;
      std::optional<uint64_t> gap;  // the index stored after a missing one
      CUSTOS_RETURN_IF_ERROR(tx_.log().ScanEntries(
          range_.size(), size, kBatch, [&](const LogEntryView& e) -> Status {
            ++visited;
            if (gap) return Status::Ok();
            if (e.index != range_.size()) {
              gap = e.index;
              return Status::Ok();
            }
            CheckEntry(e, prev);
            CheckCheckpointsAt(checkpoints, next_cp);
            return Status::Ok();
          }));
      if (gap) {
        Add(EntryName(range_.size()), "entry is missing (next stored is " + std::to_string(*gap) + ")",
            "log_entry_missing");
        report_.log_entries = range_.size();
        return Status::Ok();
      }
      if (range_.size() == batch_start + kBatch) CUSTOS_RETURN_IF_ERROR(ChunkDone(0, batch_start / kBatch));
      if (visited == 0) {
        Add(EntryName(range_.size()), "entries from here on are missing", "log_entry_missing");
        break;
      }
      Progress("log", range_.size(), size);
    }
    CheckRedactions();
    // Entries() reads each leaf hash from its level-0 node, so the leaf hash
    // check above also covers level 0 of the tree.
    report_.log_entries = range_.size();
    report_.log_nodes += range_.size();  // level 0; levels above are counted as they are checked
    for (const StoredCheckpoint& cp : checkpoints) {
      if (cp.size > range_.size() || (cp.size == 0)) CheckCheckpoint(cp);
    }
    report_.checkpoints = checkpoints.size();
    if (size > 0 && (checkpoints.empty() || checkpoints.back().size != size)) {
      Add("checkpoint", "no checkpoint covers the whole log of " + std::to_string(size) + " entries",
          "checkpoint_missing");
    }
    return Status::Ok();
  }

  // Checks entry e (the next index of the walk) and appends it to the
  // tree; `prev` is the previous leaf hash, then e's.
  void CheckEntry(const LogEntryView& e, std::optional<crypto::Digest32>& prev) {
    const uint64_t i = e.index;
    Keep(0, i, e.leaf_hash);  // the stored level-0 node: Entries() joins it
    if (e.redacted()) {
      // Only its hash is left: it links the chain and the tree.
      redacted_.push_back(i);
      prev = e.leaf_hash;
      range_.Append(e.leaf_hash);
      return;
    }
    crypto::Digest32 h = merkle::HashLeaf(e.leaf);
    if (h != e.leaf_hash) {
      Add(EntryName(i), "leaf bytes do not match the stored leaf hash", "log_leaf_hash_mismatch");
    }
    auto leaf = DecodeLeaf(e.leaf);
    if (!leaf.ok()) {
      Add(EntryName(i), leaf.status().message(), leaf.status().reason());
    } else {
      Status link = CheckChainLink(*leaf, i, prev);
      if (!link.ok()) Add(EntryName(i), link.message(), link.reason());
      Remember(i, *leaf);
      if (e.subject != leaf->event.subject) {
        Add(EntryName(i), "stored subject '" + std::string(e.subject) + "' differs from the leaf's subject '" +
                              leaf->event.subject + "' (the entry is hidden from that subject's history)",
            "log_subject_mismatch");
      }
      replay_.Fold(i, leaf->event);
    }
    prev = h;
    range_.Append(h);
  }

  // Checks the checkpoint at the size the walk has reached, if any.
  void CheckCheckpointsAt(const std::vector<StoredCheckpoint>& checkpoints, size_t& next_cp) {
    while (next_cp < checkpoints.size() && checkpoints[next_cp].size <= range_.size()) {
      if (checkpoints[next_cp].size == range_.size()) CheckCheckpoint(checkpoints[next_cp]);
      ++next_cp;
    }
  }

  // A redacted entry must be one a logged destruction redacted: its
  // record.destroy event lists the index (details.redacted).
  void CheckRedactions() {
    for (uint64_t i : redacted_) {
      if (!facts_.redaction_allowed.count(i)) {
        Add(EntryName(i), "entry is redacted, but no logged destruction redacted it", "log_entry_redacted");
      }
    }
  }

  void CheckCheckpoint(const StoredCheckpoint& cp) {
    std::string name = "checkpoint at size " + std::to_string(cp.size);
    auto opened = crypto::OpenCheckpoint(cp.note, options_.verifiers);
    if (!opened.ok()) {
      Add(name, "signature does not verify: " + opened.status().message(), "checkpoint_signature");
      return;
    }
    const crypto::Checkpoint& body = opened->checkpoint;
    if (body.origin != options_.origin) {
      Add(name, "origin is '" + body.origin + "', expected '" + options_.origin + "'",
          "checkpoint_origin");
    }
    if (body.size != cp.size || body.root != cp.root) {
      Add(name, "signed size or root differs from the stored columns", "checkpoint_mismatch");
    }
    if (cp.size > range_.size()) {
      Add(name, "covers more entries than the log holds", "checkpoint_beyond_log");
    } else if (cp.size == range_.size() && body.root != range_.Root()) {
      Add(name, "root differs from the root recomputed from the leaves (inconsistent checkpoint)",
          "checkpoint_inconsistent");
    }
  }

  void Remember(uint64_t index, const DecodedLeaf& leaf) {
    const domain::EventDetails& d = leaf.event.details;
    if (const domain::DetailValue* v = d.Find(kDetailRecordHash); v != nullptr && v->AsString() != nullptr) {
      auto stored = facts_.record_hash.find(leaf.event.subject);
      if (stored != facts_.record_hash.end()) stored->second = *v->AsString();
    }
    if (leaf.event.action == "record.destroy") {
      if (const domain::DetailValue::Array* redacted = d.Array(kDetailRedacted)) {
        for (const domain::DetailValue& v : *redacted) {
          if (std::optional<int64_t> i = v.AsInt(); i && *i >= 0 && static_cast<uint64_t>(*i) < index) {
            facts_.redaction_allowed.insert(static_cast<uint64_t>(*i));
          }
        }
      }
    }
  }

  // Whether the walked entry at `index` is a version event of `record`
  // recording manifest `manifest_hash` as version `number`. The entry is
  // read back (the same read transaction, so the same bytes the walk
  // hashed); a redacted entry, one the walk did not reach and one that
  // does not decode record nothing.
  StatusOr<bool> VersionLogged(uint64_t index, const std::string& record, const std::string& manifest_hash,
                               int number) {
    if (index >= report_.log_entries) return false;
    CUSTOS_ASSIGN_OR_RETURN(std::vector<LogEntry> entries, tx_.log().Entries(index, index + 1, 1));
    if (entries.empty() || entries[0].index != index || entries[0].redacted()) return false;
    auto leaf = DecodeLeaf(entries[0].leaf);
    if (!leaf.ok()) return false;
    const domain::EventDetails& d = leaf->event.details;
    std::optional<std::string> logged_hash = d.String(kDetailManifestHash);
    std::optional<int64_t> logged_number = d.Int(kDetailVersion);
    return logged_hash && logged_number && leaf->event.subject == record && *logged_hash == manifest_hash &&
           *logged_number == number;
  }

  // The tree is checked a chunk of kBatch nodes at a time, each stored
  // node read once: level 0 comes with the walk's entries, and a level's
  // chunk, once read and checked against its children, stays as the
  // children of the level above. Chunk c of level L (nodes [c·kBatch,
  // (c+1)·kBatch)) is checked when chunks 2c and 2c+1 of level L-1 are:
  // during the walk for every full chunk, at its end (FinishTree) for the
  // one short chunk each level may have left. Memory: two chunks per
  // level, whatever the log's length.
  struct LevelWindow {
    std::vector<crypto::Digest32> hash = std::vector<crypto::Digest32>(2 * kBatch);  // chunk c at (c % 2)·kBatch
    std::vector<uint8_t> present = std::vector<uint8_t>(2 * kBatch);
    uint64_t chunks_done = 0;  // chunks of this level read and checked (level 0: walked in full)
  };

  LevelWindow& Level(uint32_t level) {
    while (levels_.size() <= level) levels_.emplace_back();
    return levels_[level];
  }
  void StartChunk(uint32_t level, uint64_t chunk) {
    LevelWindow& w = Level(level);
    const size_t slot = static_cast<size_t>(chunk % 2) * kBatch;
    std::fill(w.present.begin() + static_cast<std::ptrdiff_t>(slot),
              w.present.begin() + static_cast<std::ptrdiff_t>(slot + kBatch), 0);
  }
  void Keep(uint32_t level, uint64_t index, const crypto::Digest32& hash) {
    LevelWindow& w = Level(level);
    const size_t at = static_cast<size_t>((index / kBatch) % 2) * kBatch + static_cast<size_t>(index % kBatch);
    w.hash[at] = hash;
    w.present[at] = 1;
  }

  // Chunk `chunk` of `level` was read and checked in full: the chunk of
  // the level above that it completes is next.
  Status ChunkDone(uint32_t level, uint64_t chunk) {
    ++Level(level).chunks_done;
    if (chunk % 2 == 1 && level < merkle::kMaxLevel) return CheckChunk(level + 1, chunk / 2, kBatch, true);
    return Status::Ok();
  }

  // Reads `want` nodes of chunk `chunk` of `level` (≥ 1) and checks each
  // against its children kept from the level below.
  Status CheckChunk(uint32_t level, uint64_t chunk, size_t want, bool full) {
    CUSTOS_RETURN_IF_ERROR(CheckStop());
    StartChunk(level, chunk);
    const uint64_t first = chunk * kBatch;
    CUSTOS_RETURN_IF_ERROR(
        tx_.log().ScanNodesAtLevel(level, first, want, [&](uint64_t k, const crypto::Digest32& h) -> Status {
          if (k >= first && k - first < want) Keep(level, k, h);
          return Status::Ok();
        }));
    const LevelWindow& parents = Level(level);
    const LevelWindow& children = Level(level - 1);  // chunks 2c and 2c+1, slots 0 and 1
    const size_t base = static_cast<size_t>(chunk % 2) * kBatch;
    for (size_t j = 0; j < want; ++j) {
      if (!parents.present[base + j]) {
        Add(NodeName(level, first + j), "node is missing", "log_node_missing");
      } else if (children.present[2 * j] && children.present[2 * j + 1] &&
                 merkle::HashChildren(children.hash[2 * j], children.hash[2 * j + 1]) != parents.hash[base + j]) {
        Add(NodeName(level, first + j), "node hash does not match its children", "log_node_mismatch");
      }
      ++report_.log_nodes;
    }
    return full ? ChunkDone(level, chunk) : Status::Ok();
  }

  // After the walk: each level's short last chunk, the nodes beyond the
  // tree, and the root of the stored nodes.
  Status CheckNodes() {
    uint64_t size = range_.size();
    for (uint32_t level = 1; (uint64_t{1} << level) <= size && level <= merkle::kMaxLevel; ++level) {
      uint64_t expected_count = size >> level;
      const uint64_t next = Level(level).chunks_done;
      if (next * kBatch < expected_count) {
        CUSTOS_RETURN_IF_ERROR(CheckChunk(level, next, static_cast<size_t>(expected_count - next * kBatch), false));
      }
      // A node beyond the complete ones would be extra.
      CUSTOS_ASSIGN_OR_RETURN(auto extra, tx_.log().NodesAtLevel(level, expected_count, 1));
      if (!extra.empty()) {
        Add("log node (" + std::to_string(level) + ", " + std::to_string(extra[0].first) + ")",
            "node exists beyond the tree", "log_node_extra");
      }
      Progress("nodes", level, 64);
    }
    // Level 0 must equal the leaf hashes: Entries() joins them, so compare
    // the root recomputed from stored nodes with the leaf-derived root.
    if (size > 0) {
      auto stored_root = tx_.log().RootAt(size);
      if (!stored_root.ok()) {
        Add("log tree", stored_root.status().message(), stored_root.status().reason());
      } else if (*stored_root != range_.Root()) {
        Add("log tree", "root from stored nodes differs from the root of the leaves",
            "log_root_mismatch");
      }
    }
    return Status::Ok();
  }

  Status CheckRecords() {
    return tx_.records().ForEach([&](const domain::Record& r) -> Status {
      ++report_.records;
      std::string name = "record " + r.id.value;
      auto logged = facts_.record_hash.find(r.id.value);
      if (logged == facts_.record_hash.end() || !logged->second) {
        Add(name, "no log entry records this record's content", "record_not_logged");
        return Status::Ok();
      }
      CUSTOS_ASSIGN_OR_RETURN(std::string digest, RecordDigest(r));
      if (digest != *logged->second) {
        Add(name, "row differs from its last logged state", "record_row_mismatch");
      }
      return Status::Ok();
    });
  }

  Status CheckVersionsAndFiles() {
    // The files phase reports done of a known total: count them first (rows
    // only, cheap beside decrypting every blob).
    CUSTOS_RETURN_IF_ERROR(tx_.versions().ForEachFile([&](const domain::StoredFile&) -> Status {
      ++files_total_;
      return Status::Ok();
    }));
    Progress("files", 0, files_total_);
    return tx_.records().ForEach([&](const domain::Record& r) -> Status {
      CUSTOS_RETURN_IF_ERROR(CheckStop());
      CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Version> versions, tx_.versions().List(r.id));
      std::string prev;
      for (const domain::Version& v : versions) {
        ++report_.versions;
        CUSTOS_RETURN_IF_ERROR(CheckVersion(r, v, prev));
        prev = v.manifest_hash;
        for (const domain::StoredFile& f : v.files) {
          CUSTOS_RETURN_IF_ERROR(CheckFile(r, f, v.log_index >= options_.content_from));
        }
      }
      return Status::Ok();
    });
  }

  Status CheckVersion(const domain::Record& r, const domain::Version& v, const std::string& prev) {
    std::string name = "version " + std::to_string(v.number) + " of " + r.id.value;
    auto hash = ManifestHash(v);
    if (!hash.ok() || *hash != v.manifest_hash) {
      Add(name, "manifest hash does not match its rows", "manifest_mismatch");
    }
    if (v.prev_manifest_hash != prev) {
      Add(name, "does not chain to the previous version's manifest", "manifest_chain_broken");
    }
    CUSTOS_ASSIGN_OR_RETURN(bool logged, VersionLogged(v.log_index, r.id.value, v.manifest_hash, v.number));
    if (!logged) {
      Add(name, "log entry " + std::to_string(v.log_index) + " does not record this manifest",
          "manifest_not_logged");
    }
    return Status::Ok();
  }

  // `read_content`: decrypt and hash the blob (else only its key and, for a
  // destroyed file, its absence are checked).
  Status CheckFile(const domain::Record& r, const domain::StoredFile& f, bool read_content) {
    ++report_.files;
    std::string name = "file " + f.id.value + " (" + f.name + ", blob " + f.blob_id.value + ")";
    if (f.wrapped_dek.empty()) {
      // Only a logged destruction may take a key away: the record row says
      // destroyed, and CheckRecords ties that row to its logged hash.
      if (r.state != domain::RecordState::kDestroyed) {
        Add(name, "data key is missing but the record was never destroyed", "key_missing");
      }
      if (options_.blobs != nullptr && options_.blobs->Size(f.blob_id).ok()) {
        Add(name, "destroyed file still has ciphertext on disk", "destroyed_blob_present");
      }
      return Status::Ok();
    }
    if (options_.content == nullptr) return Status::Ok();
    if (!read_content) {
      ++report_.files_unread;
      Progress("files", report_.files, std::max(files_total_, report_.files));
      return Status::Ok();
    }
    auto fixity = options_.content->Fixity(f);
    if (!fixity.ok()) {
      Add(name, fixity.status().message(), fixity.status().reason());
    } else if (*fixity != f.sha256) {
      Add(name, "content hash differs from the recorded SHA-256", "content_hash_mismatch");
    } else {
      report_.content_bytes += f.size;
    }
    Progress("files", report_.files, std::max(files_total_, report_.files));
    return Status::Ok();
  }

  // The authority rows must be the replay of the log's row images
  // (storage/replay.h), both ways.
  Status CheckState() {
    for (Finding& f : replay_.fold_findings()) report_.findings.push_back(std::move(f));
    replay_.fold_findings().clear();
    return replay_.Compare(tx_, report_.findings, report_.state_rows);
  }

  // A stored audit package still holding its key must not name a destroyed
  // record (the destruction shreds it), and a shredded one has no
  // ciphertext left.
  Status CheckExports() {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<StoredExport> exports, tx_.exports().List());
    report_.exports = exports.size();
    for (const StoredExport& e : exports) {
      std::string name = "export " + e.id + " (blob " + e.blob_id.value + ")";
      if (e.wrapped_dek.empty()) {
        if (options_.blobs != nullptr && options_.blobs->Size(e.blob_id).ok()) {
          Add(name, "shredded export still has ciphertext on disk", "shredded_export_blob_present");
        }
        continue;
      }
      for (const ExportedRecord& named : e.records) {
        CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::Record> r, tx_.records().Find(named.id));
        if (r && ExportOutlivesDestruction(e, named, *r)) {
          Add(name, "holds record " + named.id.value + ", which was destroyed, and can still be decrypted",
              "export_holds_destroyed");
        }
      }
    }
    return Status::Ok();
  }

  Transaction& tx_;
  const VerifyOptions& options_;
  VerifyReport& report_;
  merkle::CompactRange range_;
  LoggedFacts facts_;
  StateReplay replay_;  // every leaf's row images, folded during CheckLog
  std::vector<uint64_t> redacted_;  // redacted entries met in the walk
  std::vector<LevelWindow> levels_;  // the tree check's windows, by level
  uint64_t files_total_ = 0;  // stored files, counted before the files phase
};

}  // namespace

StatusOr<VerifyReport> VerifyArchive(MetadataStore& store, const VerifyOptions& options) {
  VerifyReport report;
  if (options.row_seals) {
    CUSTOS_ASSIGN_OR_RETURN(report.findings, CheckRowSeals(store, {}));
    CUSTOS_ASSIGN_OR_RETURN(std::vector<Finding> sets, CheckRowSetFindings(store));
    report.findings.insert(report.findings.end(), sets.begin(), sets.end());
  }
  // Rows as stored: a row whose seal fails is a finding above, not an end.
  Status s = store.ReadUnchecked([&](Transaction& tx) { return Checker(tx, options, report).Run(); });
  if (!s.ok()) return s;
  return report;
}

std::string VerifyReportJson(const VerifyReport& r) {
  Poco::JSON::Object root;
  root.set("clean", r.clean());
  Poco::JSON::Array::Ptr findings = new Poco::JSON::Array;
  for (const Finding& f : r.findings) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("object", f.object);
    o->set("problem", f.problem);
    o->set("code", f.code);
    findings->add(o);
  }
  root.set("findings", findings);
  Poco::JSON::Object::Ptr counts = new Poco::JSON::Object;
  counts->set("logEntries", static_cast<Poco::UInt64>(r.log_entries));
  counts->set("logNodes", static_cast<Poco::UInt64>(r.log_nodes));
  counts->set("checkpoints", static_cast<Poco::UInt64>(r.checkpoints));
  counts->set("records", static_cast<Poco::UInt64>(r.records));
  counts->set("versions", static_cast<Poco::UInt64>(r.versions));
  counts->set("files", static_cast<Poco::UInt64>(r.files));
  counts->set("contentBytes", static_cast<Poco::UInt64>(r.content_bytes));
  counts->set("exports", static_cast<Poco::UInt64>(r.exports));
  counts->set("stateRows", static_cast<Poco::UInt64>(r.state_rows));
  root.set("counts", counts);
  std::ostringstream out;
  root.stringify(out);
  return out.str();
}


}  // namespace custos::storage
