// Fuzz target for the bulk-import reader of `custosctl import`
// (docs/import.md): the batch archive reader (admin/batch_archive.h, zip and
// tar through libarchive, optionally compressed) and the manifest parsers
// (admin/import_manifest.h). Every input is used three ways:
//
//   1. as a batch file: written to an in-memory file (memfd) and read entry
//      by entry with BatchReader, twice (Rewind), the second time reading
//      each file's data in small pieces; a manifest.csv / manifest.json
//      entry is parsed and planned as the import does;
//   2. as the text of manifest.csv and of manifest.json, then PlanRecords;
//   3. as an entry name: NormalizeEntryPath, PrintableName.
//
// The limits are small (kLimits) so that an input of a few kilobytes can
// cross each of them. Properties, each checked with abort():
//   * no entry escapes its folder: every path Next() hands out, and every
//     entry or signature path a plan names, is relative, has no "." or ".."
//     segment, no empty segment, no backslash, no control character, is
//     valid UTF-8 and is its own normal form;
//   * only files and directories come out, no two with the same folded
//     path, and (once a read ends cleanly) none below a file;
//   * limits hold: at most max_entries entries; no entry's bytes over
//     max_file_bytes and the total neither over max_total_bytes nor over
//     max_ratio × the batch size whenever a read succeeded; Finish()
//     reports exactly the bytes (count and SHA-256) read through data();
//   * two reads of the same batch see the same entries, bytes and outcome;
//   * PrintableName gives valid UTF-8 without control characters, quotes
//     or bidirectional overrides.
// Seeds (corpus/import_archive/): tar, tar.gz and zip batches with a
// manifest, one with a "../" entry, one with a symbolic link, one with an
// entry below a file, and manifest texts.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "admin/batch_archive.h"
#include "admin/import_manifest.h"
#include "crypto/hash.h"
#include "domain/canonical_json.h"

namespace {

using custos::admin::BatchEntry;
using custos::admin::BatchLimits;
using custos::admin::BatchReader;
using custos::admin::EntryKind;

void Check(bool condition) {
  if (!condition) std::abort();
}

BatchLimits FuzzLimits() {
  BatchLimits l;
  l.max_file_bytes = 64 * 1024;
  l.max_total_bytes = 256 * 1024;
  l.max_ratio = 100;
  l.max_entries = 64;
  return l;
}

// Code points of valid UTF-8 (the caller checked it).
std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool IsControlOrOverride(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

// A path that stays inside the folder it is extracted to.
void CheckContainedPath(std::string_view path) {
  Check(!path.empty() && path.size() <= custos::admin::kMaxEntryPathBytes);
  Check(custos::domain::IsValidUtf8(path));
  for (uint32_t cp : CodePoints(path)) Check(!IsControlOrOverride(cp) && cp != '\\');
  Check(path.front() != '/' && path.back() != '/');
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    Check(!seg.empty() && seg != "." && seg != "..");
    Check(seg.size() <= custos::admin::kMaxEntrySegmentBytes);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  auto again = custos::admin::NormalizeEntryPath(path);
  Check(again.ok() && *again == path);
}

void CheckPrintable(std::string_view raw) {
  const std::string shown = custos::admin::PrintableName(raw);
  Check(custos::domain::IsValidUtf8(shown));
  for (uint32_t cp : CodePoints(shown)) Check(!IsControlOrOverride(cp) && cp != '\'');
}

// ------------------------------------------------------------ manifests

void CheckPlan(const std::vector<custos::admin::ManifestRow>& rows) {
  Check(!rows.empty());
  std::vector<std::string> problems;
  const auto records = custos::admin::PlanRecords(rows, &problems);
  size_t files = 0;
  for (const auto& r : records) {
    std::set<std::string> names;
    for (const auto& f : r.files) {
      CheckContainedPath(f.entry);
      if (!f.signature.empty()) CheckContainedPath(f.signature);
      Check(!f.media_type.empty());
      Check(names.insert(f.name).second);  // a name once per record
      ++files;
    }
  }
  Check(records.size() <= rows.size());
  Check(files <= rows.size());
  // A row that gives no file is a problem, never silently dropped.
  Check(files == rows.size() || !problems.empty());
}

void FuzzManifestText(std::string_view text) {
  auto csv = custos::admin::ParseManifestCsv(text);
  if (csv.ok()) CheckPlan(*csv);
  auto json = custos::admin::ParseManifestJson(text);
  if (json.ok()) CheckPlan(*json);
}

// -------------------------------------------------------------- batches

struct EntryRead {
  std::string path;
  EntryKind kind;
  uint64_t size = 0;
  custos::crypto::Digest32 sha256{};
};

struct BatchRead {
  std::vector<EntryRead> entries;
  bool ended = false;  // Next() returned false
  std::string reason;  // the refusal otherwise
};

// One read of the batch. `piece` > 0 reads each file's data through data()
// in pieces of that size before Finish(); 0 leaves it all to Finish().
BatchRead ReadBatch(BatchReader& reader, size_t piece, const BatchLimits& limits) {
  BatchRead out;
  auto failed = [&out](const custos::Status& s) {
    out.reason = s.reason();
    Check(!out.reason.empty());
    return out;
  };
  if (auto s = reader.Rewind(); !s.ok()) return failed(s);
  std::set<std::string> folded;
  std::vector<uint8_t> buf(piece > 0 ? piece : 1);
  const uint64_t ratio_cap = limits.max_ratio * reader.file_size();
  while (true) {
    BatchEntry entry;
    auto more = reader.Next(&entry);
    if (!more.ok()) return failed(more.status());
    if (!*more) break;
    Check(out.entries.size() < limits.max_entries);
    Check(entry.kind == EntryKind::kFile || entry.kind == EntryKind::kDirectory);
    if (entry.kind == EntryKind::kFile || !entry.path.empty()) CheckContainedPath(entry.path);
    if (!entry.path.empty()) Check(folded.insert(custos::admin::FoldCase(entry.path)).second);
    EntryRead e{entry.path, entry.kind};
    if (entry.kind == EntryKind::kFile) {
      custos::crypto::Sha256 hash;
      std::string manifest;
      uint64_t got_total = 0;
      while (piece > 0) {
        auto got = reader.data().Read(buf.data(), buf.size());
        if (!got.ok()) return failed(got.status());
        if (*got == 0) break;
        Check(*got <= buf.size());
        got_total += *got;
        hash.Update(buf.data(), *got);
        if (manifest.size() < 1 << 20) manifest.append(reinterpret_cast<char*>(buf.data()), *got);
        Check(got_total <= limits.max_file_bytes);
        Check(reader.total_bytes() <= limits.max_total_bytes);
        Check(reader.total_bytes() <= ratio_cap);
      }
      auto digest = reader.Finish();
      if (!digest.ok()) return failed(digest.status());
      Check(digest->size <= limits.max_file_bytes);
      if (piece > 0) {
        Check(digest->size == got_total);
        Check(digest->sha256 == hash.Finish());
        if (entry.path == custos::admin::kManifestCsv) {
          if (auto rows = custos::admin::ParseManifestCsv(manifest); rows.ok()) CheckPlan(*rows);
        } else if (entry.path == custos::admin::kManifestJson) {
          if (auto rows = custos::admin::ParseManifestJson(manifest); rows.ok()) CheckPlan(*rows);
        }
      }
      e.size = digest->size;
      e.sha256 = digest->sha256;
      Check(reader.total_bytes() <= limits.max_total_bytes);
      Check(reader.total_bytes() <= ratio_cap);
    }
    out.entries.push_back(std::move(e));
  }
  out.ended = true;
  // A clean end: nothing lies below a file.
  for (const EntryRead& a : out.entries) {
    if (a.kind != EntryKind::kFile) continue;
    const std::string prefix = custos::admin::FoldCase(a.path) + "/";
    for (const EntryRead& b : out.entries) {
      Check(custos::admin::FoldCase(b.path).compare(0, prefix.size(), prefix) != 0);
    }
  }
  // After the end, the read is over until Rewind().
  BatchEntry entry;
  Check(!reader.Next(&entry).ok());
  return out;
}

bool IsLimit(std::string_view reason) {
  return reason == custos::admin::kBatchEntryTooLarge || reason == custos::admin::kBatchTooLarge ||
         reason == custos::admin::kBatchRatio;
}

void FuzzBatch(int fd, const std::string& path, const uint8_t* data, size_t size) {
  Check(::ftruncate(fd, 0) == 0);
  for (size_t done = 0; done < size;) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    Check(n > 0);
    done += static_cast<size_t>(n);
  }
  const BatchLimits limits = FuzzLimits();
  auto reader = BatchReader::Open(path, limits);
  Check(reader.ok());
  Check((*reader)->file_size() == size);
  const size_t piece = size > 0 ? 1 + data[size - 1] % 97 : 1;
  const BatchRead whole = ReadBatch(**reader, 0, limits);
  const BatchRead pieces = ReadBatch(**reader, piece, limits);
  if (std::getenv("CUSTOS_FUZZ_TRACE") != nullptr) {  // to see what the seeds reach
    std::fprintf(stderr, "batch: %zu entries, %s\n", pieces.entries.size(),
                 pieces.ended ? "read to its end" : pieces.reason.c_str());
  }
  Check(whole.ended == pieces.ended);
  // Reads of other sizes may cross two limits in one read where pieces
  // cross them one after the other: any limit refusal matches any other.
  Check(whole.reason == pieces.reason || (IsLimit(whole.reason) && IsLimit(pieces.reason)));
  Check(whole.entries.size() == pieces.entries.size());
  for (size_t i = 0; i < whole.entries.size(); ++i) {
    const EntryRead& a = whole.entries[i];
    const EntryRead& b = pieces.entries[i];
    Check(a.path == b.path && a.kind == b.kind && a.size == b.size && a.sha256 == b.sha256);
  }
}

// The in-memory batch file, made once; each input rewrites it.
struct BatchFile {
  int fd = -1;
  std::string path;
};

const BatchFile& TheBatchFile() {
  static const BatchFile* const file = [] {
    auto* f = new BatchFile;
    f->fd = ::memfd_create("custos-fuzz-batch", MFD_CLOEXEC);
    Check(f->fd >= 0);
    f->path = "/proc/self/fd/" + std::to_string(f->fd);
    return f;
  }();
  return *file;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)TheBatchFile();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const BatchFile& file = TheBatchFile();
  FuzzBatch(file.fd, file.path, data, size);
  FuzzManifestText(text);
  auto normal = custos::admin::NormalizeEntryPath(text);
  if (normal.ok() && !normal->empty()) CheckContainedPath(*normal);
  CheckPrintable(text);
  return 0;
}
