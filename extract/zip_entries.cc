#include "extract/zip_entries.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace custos::extract {
namespace {

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};

// Inflates the current entry into `out` up to `cap` bytes; false if the
// entry is larger (out is then cleared).
bool ReadEntry(archive* a, size_t cap, std::string& out) {
  char buffer[64 * 1024];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0) throw UnreadableDocument(std::string("zip: ") + archive_error_string(a));
    if (out.size() + static_cast<size_t>(n) > cap) {
      out.clear();
      out.shrink_to_fit();
      return false;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

ZipContents ReadZip(std::string_view bytes, const ParseLimits& limits,
                    const std::function<bool(const std::string&)>& want) {
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    throw UnreadableDocument("zip: cannot open");
  }
  ZipContents zip;
  size_t total = 0;
  archive_entry* entry = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (zip.names.empty()) throw UnreadableDocument("zip: cannot read an entry");
      zip.warnings.push_back("zip_damaged");
      break;
    }
    if (static_cast<int>(zip.names.size()) >= limits.max_zip_entries) {
      zip.warnings.push_back("zip_too_many_entries");
      break;
    }
    const char* path = archive_entry_pathname(entry);
    std::string name = path ? path : "";
    zip.names.push_back(name);
    if (!want(name)) continue;
    size_t cap = std::min(limits.max_entry_bytes, limits.max_zip_total_bytes - total);
    std::string content;
    if (!ReadEntry(a.get(), cap, content)) {
      zip.warnings.push_back(total + limits.max_entry_bytes > limits.max_zip_total_bytes
                                 ? "zip_total_over_cap"
                                 : "zip_entry_over_cap");
      continue;
    }
    total += content.size();
    zip.entries[name] = std::move(content);
  }
  return zip;
}

}  // namespace custos::extract
