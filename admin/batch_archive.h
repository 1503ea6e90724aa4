// Reading an import batch (`custosctl import`, docs/import.md): a zip or tar
// archive, the tar optionally compressed (gzip, bzip2, xz, lzma, lzip, zstd,
// lz4, compress), read entry by entry with libarchive so that a hostile
// archive can do no harm:
//
//   * entry names are read as UTF-8 whatever the process locale: a zip
//     name flagged UTF-8 (general purpose bit 11) or carrying an Info-ZIP
//     Unicode Path field is UTF-8; any other name must be valid UTF-8, or,
//     with NameEncoding::kGbk, is decoded from GBK (CP936, what Chinese
//     Windows tools write). A name that is neither is refused, naming the
//     entry by its index and its bytes in hex and the option that helps;
//     nothing is guessed;
//   * entry paths are checked and normalised (NormalizeEntryPath): nothing
//     absolute, no "..", no empty segment, no backslash, no control
//     character, valid UTF-8;
//   * only regular files and directories are accepted: symbolic links, hard
//     links, device files, fifos and sockets are refused, as are encrypted
//     zip entries;
//   * two entries whose normalised paths are equal ignoring ASCII letter case
//     are refused (the batch would mean different things on case-insensitive
//     file systems and the manifest could not name one of them), and so is an
//     entry below a path that is a file (found when the last entry has been
//     read);
//   * every byte of every file entry is counted as it is decompressed (the
//     sizes in the headers are not trusted): an entry over
//     BatchLimits::max_file_bytes, a total over max_total_bytes, or a total
//     over max_ratio times the archive's own size is refused as soon as the
//     limit is crossed, so a decompression bomb is stopped after at most
//     max_ratio × its size of work.
//
// Refusals are Status values whose message names the entry ("entry
// '../evil': …"), with code kUnprocessable (kTooLarge for the limits) and
// one of the kBatch* reasons below. The same archive can be read several
// times (Rewind()); each read repeats every check.
//
// Thread safety: a BatchReader is used by one thread at a time.
#pragma once

#include <locale.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "common/byte_stream.h"

struct archive;
struct archive_entry;

namespace custos::admin {

// ---- Stable refusal reasons (Status::reason()) ----
inline constexpr std::string_view kBatchUnreadable = "batch_unreadable";   // not zip/tar, corrupt
inline constexpr std::string_view kBatchUnsafePath = "batch_unsafe_path";  // .., absolute, …
inline constexpr std::string_view kBatchEntryType = "batch_entry_type";    // link, device, …
inline constexpr std::string_view kBatchEncrypted = "batch_entry_encrypted";
inline constexpr std::string_view kBatchDuplicate = "batch_duplicate_entry";
inline constexpr std::string_view kBatchEntryTooLarge = "batch_entry_too_large";
inline constexpr std::string_view kBatchTooLarge = "batch_too_large";  // total expansion
inline constexpr std::string_view kBatchRatio = "batch_compression_ratio";
inline constexpr std::string_view kBatchTooManyEntries = "batch_too_many_entries";
inline constexpr std::string_view kBatchNameEncoding = "batch_name_encoding";  // name not UTF-8/GBK

// How names that do not say they are UTF-8 are read (custosctl import
// --name-encoding).
enum class NameEncoding {
  kUtf8,  // they must be valid UTF-8 (the default)
  kGbk,   // they are GBK (CP936); flagged zip names stay UTF-8
};
// "utf-8" (or "utf8") | "gbk" (or "cp936"), any letter case; kInvalidArgument otherwise.
StatusOr<NameEncoding> ParseNameEncoding(std::string_view text);

// GBK (CP936) text as UTF-8. Fails (kUnprocessable kBatchNameEncoding,
// naming the byte offset) for bytes that are not GBK.
StatusOr<std::string> GbkToUtf8(std::string_view gbk);

// While alive, the calling thread's character-type locale is UTF-8 (the
// process's locale is untouched). libarchive converts every entry name to
// or from "the current locale", and under the C locale, which a program has
// unless it calls setlocale, a non-ASCII name cannot be converted. Hold one
// around every libarchive call that reads or writes names.
class Utf8Locale {
 public:
  Utf8Locale();
  ~Utf8Locale();
  Utf8Locale(const Utf8Locale&) = delete;
  Utf8Locale& operator=(const Utf8Locale&) = delete;
  // False when the system has no UTF-8 locale (C.UTF-8); nothing changed then.
  bool ok() const { return locale_ != static_cast<locale_t>(0); }

 private:
  locale_t locale_ = static_cast<locale_t>(0);
  locale_t previous_ = static_cast<locale_t>(0);
};

struct BatchLimits {
  uint64_t max_file_bytes = 4ULL << 30;    // one entry, decompressed
  uint64_t max_total_bytes = 64ULL << 30;  // all entries together, decompressed
  uint64_t max_ratio = 100;                // decompressed bytes per byte of the archive file
  uint64_t max_entries = 100000;           // entries of any kind
};

// Zip entries smaller than this (decompressed) are not judged by their own
// compression ratio: a few kilobytes of repeated text can exceed 100:1 and
// do no harm.
inline constexpr uint64_t kMinRatioJudgedBytes = 1 << 20;

// Longest entry path and path segment accepted, in bytes.
inline constexpr size_t kMaxEntryPathBytes = 1024;
inline constexpr size_t kMaxEntrySegmentBytes = 255;

// The path an entry name stands for inside the batch: "." segments dropped,
// a trailing "/" (directories) removed. Returns "" for the archive root
// itself ("./"). Fails (kUnprocessable, kBatchUnsafePath, message without
// the entry name: the caller adds it) for an absolute path ("/x", "C:x"),
// a ".." segment, an empty segment ("a//b"), a backslash, a control
// character, invalid UTF-8, or a path or segment over the limits above.
StatusOr<std::string> NormalizeEntryPath(std::string_view raw);

// The name as it may be shown in a message: control characters, the quote
// that delimits names in messages and (for a name that is not UTF-8) every
// non-ASCII byte are escaped (\xNN, \u{NNNN}), so a hostile name cannot
// drive the terminal or disguise itself.
std::string PrintableName(std::string_view raw);

// ASCII lower case: the key under which entries must be unique.
std::string FoldCase(std::string_view path);

enum class EntryKind { kFile, kDirectory };

struct BatchEntry {
  std::string path;  // NormalizeEntryPath of the stored name
  EntryKind kind = EntryKind::kFile;
};

// What a file entry held, once read to its end.
struct EntryDigest {
  uint64_t size = 0;
  crypto::Digest32 sha256{};
};

class BatchReader {
 public:
  // Opens the batch file (the descriptor is kept for every later read, so
  // renaming another file into its place changes nothing). Fails with
  // kNotFound "batch_not_found" or kInternal "batch_io" (the caller could not
  // run), or kUnprocessable kBatchUnreadable for something that is not a
  // regular file.
  // Names are read as `names` says (see the file comment).
  static StatusOr<std::unique_ptr<BatchReader>> Open(const std::string& path,
                                                     const BatchLimits& limits,
                                                     NameEncoding names = NameEncoding::kUtf8);
  ~BatchReader();
  BatchReader(const BatchReader&) = delete;
  BatchReader& operator=(const BatchReader&) = delete;

  // Size of the batch file in bytes (the denominator of the ratio limit).
  uint64_t file_size() const { return file_size_; }

  // Starts a new read from the first entry; every check starts afresh.
  // Fails with kBatchUnreadable when the file is not a zip or tar archive.
  Status Rewind();

  // Moves to the next entry: true with *entry filled, false after the last
  // one. The data of the previous file entry is first read to its end
  // (counted and hashed) if the caller did not. Fails with the refusals of
  // the file comment (an entry below a file only instead of returning
  // false); after a failure the read is over (Rewind() to start again).
  // Memory grows with the number and length of the entry names only
  // (bounded by max_entries and kMaxEntryPathBytes).
  StatusOr<bool> Next(BatchEntry* entry);

  // The current file entry's content. Read() fails with the limit refusals
  // (kBatchEntryTooLarge, kBatchTooLarge, kBatchRatio) and kBatchUnreadable
  // for corrupt data. Valid until Next() or Rewind(); empty for directories.
  ByteSource& data() { return data_; }

  // Reads the rest of the current file entry and returns its size and
  // SHA-256 (of all its bytes, including those read through data()).
  StatusOr<EntryDigest> Finish();

  // Decompressed bytes of file entries read so far in this read.
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  class DataSource final : public ByteSource {
   public:
    explicit DataSource(BatchReader& reader) : reader_(reader) {}
    StatusOr<size_t> Read(uint8_t* p, size_t n) override;

   private:
    BatchReader& reader_;
  };

  BatchReader(int fd, uint64_t file_size, const BatchLimits& limits, NameEncoding names);
  void Close();
  Status Refuse(std::string_view reason, const std::string& why) const;
  Status CheckEntryHeader(::archive_entry* e, BatchEntry* out);
  Status RefuseName(const std::string& raw, bool converted) const;
  StatusOr<std::string> RawNameOf(uint64_t index) const;
  Status CheckEntryEnd() const;
  Status CheckUnique(const BatchEntry& entry);
  Status CheckNesting();
  StatusOr<size_t> ReadData(uint8_t* p, size_t n);

  const int fd_;
  const uint64_t file_size_;
  const BatchLimits limits_;
  const NameEncoding names_;
  struct archive* archive_ = nullptr;
  DataSource data_{*this};

  // State of the current read.
  std::string current_;               // the current entry's path, for messages
  bool in_file_ = false;              // a file entry whose data is not finished
  bool data_ended_ = false;           // its data reached the end
  uint64_t entry_bytes_ = 0;          // its bytes read so far
  std::optional<uint64_t> declared_;  // its size as its header states it
  int64_t entry_raw_start_ = 0;       // archive file bytes consumed when its data began
  bool zip_ = false;                  // the batch is a zip (per-entry ratio known)
  crypto::Hasher entry_hash_{crypto::HashAlgorithm::kSha256};
  std::optional<EntryDigest> finished_;
  uint64_t total_bytes_ = 0;
  uint64_t entries_ = 0;
  bool failed_ = false;
  // Every entry of this read (but the root): folded path → whether it is a
  // file, and its path as normalised (for messages).
  struct Seen {
    bool file = false;
    std::string path;
  };
  std::map<std::string, Seen> seen_;
};

}  // namespace custos::admin
