// A BagIt 1.0 bag (RFC 8493) written through a PackageWriter: what audit
// packages (docs/formats/audit-package.md) and evidence bundles
// (docs/formats/evidence-bundle.md) share. Every entry lies under the bag's
// folder; payload files go under data/ and into manifest-sha256.txt, every
// other file into tagmanifest-sha256.txt.
//
// Thread safety: one BagWriter is used by one thread at a time.
#pragma once

#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "common/status.h"
#include "server/services/package_writer.h"
#include "storage/content_store.h"

namespace custos::services {

// A file name safe inside a package path: control characters, '/', '\\'
// and ':' become '_', so do leading dots; "file" when nothing is left. Any
// other UTF-8 (Chinese, spaces, '%') stays as it is.
std::string SafeName(const std::string& name);

// A path as a BagIt manifest line gives it (RFC 8493 §2.1.3): '%', CR and
// LF percent-encoded.
std::string ManifestPath(const std::string& path);

class BagWriter {
 public:
  // A bag whose entries lie under `root` ("<name>/"), every byte written to
  // `out` (which must outlive the writer), every entry dated `mtime`.
  BagWriter(PackageFormat format, ByteSink& out, std::string root, time_t mtime);

  // bagit.txt and data/, which is there even when it stays empty: a bag
  // without it is no bag (RFC 8493 §2.1.2).
  [[nodiscard]] Status Begin();

  // One payload file data/<path>: `file`'s content streamed from `content`
  // and checked against its recorded size and SHA-256 (kDataLoss
  // "content_hash_mismatch" naming `owner` otherwise); adds its manifest
  // line and sets `bytes` to its size.
  [[nodiscard]] Status Payload(storage::ContentStore& content, const domain::StoredFile& file,
                               const std::string& path, const std::string& owner, uint64_t& bytes);

  // One tag file `name` (relative to the bag's folder).
  [[nodiscard]] Status Tag(const std::string& name, const std::string& content);

  // manifest-sha256.txt and bag-info.txt, then the tag manifest; closes
  // the container.
  [[nodiscard]] Status Finish(const std::string& bag_info);

 private:
  std::unique_ptr<PackageWriter> w_;
  const std::string root_;
  const time_t mtime_;
  std::map<std::string, std::string> tag_hashes_;  // tag file → sha256
  std::string manifest_;
  std::vector<uint8_t> buf_;
};

// Writes `path` through `write` (a temporary file beside it, mode 0600,
// fsync'd and renamed), so the file is never half-written; on failure
// nothing remains. `write`'s error is returned unchanged; a full disk is
// kResourceExhausted "storage_full".
[[nodiscard]] Status WriteFileAtomically(const std::string& path, const std::function<Status(ByteSink&)>& write);

}  // namespace custos::services
