#include "admin/trace_command.h"

#include <fstream>

#include "admin/command_args.h"
#include "admin/open_archive.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "domain/model.h"
#include "storage/log_leaf.h"

namespace custos::admin {
namespace {

StatusOr<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path, "file_not_found");
  crypto::Sha256 h;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.Update(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Internal("cannot read " + path);
  return crypto::HexEncode(h.Finish());
}

// The copy an entry describes, when it is the content.read of that copy.
std::optional<TracedCopy> CopyOf(const storage::LogEntry& entry, const std::string& sha256_hex) {
  // Cheap test first: the hash must occur in the leaf's bytes.
  if (entry.redacted() || entry.leaf.find(sha256_hex) == std::string::npos) return std::nullopt;
  auto leaf = storage::DecodeLeaf(entry.leaf);
  if (!leaf.ok() || leaf->event.action != "content.read") return std::nullopt;
  const domain::EventDetails& d = leaf->event.details;
  if (d.String("copySha256").value_or("") != sha256_hex) return std::nullopt;
  TracedCopy c;
  c.log_index = entry.index;
  c.loan = d.String("loan").value_or("");
  c.borrower = leaf->event.actor;
  c.record = leaf->event.subject;
  c.version = d.Int("version").value_or(0);
  c.file = d.String("file").value_or("");
  c.original_sha256 = d.String("sha256").value_or("");
  c.made_at = domain::FormatTime(leaf->event.at);
  return c;
}

}  // namespace

StatusOr<std::optional<TracedCopy>> FindLoanCopy(storage::MetadataStore& store,
                                                 const std::string& sha256_hex) {
  std::optional<TracedCopy> found;
  uint64_t size = 0;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(size, tx.log().Size());
    return Status::Ok();
  }));
  // One read transaction per batch, so a long scan holds no snapshot open
  // against a running custosd.
  for (uint64_t start = 0; start < size && !found; start += kTraceBatch) {
    CUSTOS_RETURN_IF_ERROR(store.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::LogEntry> entries,
                              tx.log().Entries(start, start + kTraceBatch, kTraceBatch));
      for (const storage::LogEntry& e : entries) {
        if ((found = CopyOf(e, sha256_hex))) break;
      }
      return Status::Ok();
    }));
  }
  return found;
}

int RunTrace(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string error;
  auto line = ParseArgs(args, {"--data"}, {}, error);
  if (line && line->positionals.size() != 1) error = "give one FILE";
  if (line && !line->options.count("--data")) error = "--data DIR is required";
  if (!line || !error.empty()) {
    err << "custosctl: trace: " << error << " (usage: custosctl trace FILE --data DIR)\n";
    return 2;
  }
  auto sha = FileSha256(line->positionals.front());
  if (!sha.ok()) {
    err << "custosctl: trace: " << sha.status().message() << "\n";
    return 2;
  }
  auto archive = OpenArchive(line->options.at("--data"));
  if (!archive.ok()) {
    err << "custosctl: trace: " << archive.status().message() << "\n";
    return 2;
  }
  auto found = FindLoanCopy((*archive)->store(), *sha);
  if (!found.ok()) {
    err << "custosctl: trace: could not read the log: " << found.status().message() << "\n";
    return 2;
  }
  if (!*found) {
    err << "custosctl: trace: no loan copy with this SHA-256 (" << *sha << ")\n";
    return 1;
  }
  const TracedCopy& c = **found;
  out << "sha256:    " << *sha << "\n"
      << "loan:      " << c.loan << "\n"
      << "borrower:  " << c.borrower << "\n"
      << "record:    " << c.record << "\n"
      << "version:   " << c.version << "\n"
      << "file:      " << c.file << " (original sha256 " << c.original_sha256 << ")\n"
      << "made at:   " << c.made_at << "\n"
      << "log index: " << c.log_index << "\n";
  return 0;
}

}  // namespace custos::admin
