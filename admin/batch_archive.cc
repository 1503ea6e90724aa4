#include "admin/batch_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <iconv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "domain/canonical_json.h"

namespace custos::admin {

namespace {

// libarchive's read-ahead from the batch file.
constexpr size_t kReadBlockSize = 64 * 1024;

// Code points that may not appear in an entry path: C0 and C1 controls,
// DEL, the Unicode line and paragraph separators and the bidirectional
// overrides and isolates (which make a name display as something else).
bool IsForbiddenCodePoint(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

// One code point of valid UTF-8 and how many bytes encode it.
struct CodePoint {
  uint32_t value;
  size_t length;
};

// Decodes the code points of valid UTF-8 (checked by the caller).
std::vector<CodePoint> CodePoints(std::string_view s) {
  std::vector<CodePoint> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    out.push_back({cp, len});
    i += len;
  }
  return out;
}

std::string HexEscape(uint32_t v, bool byte) {
  static const char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[v & 0x0f]);
    v >>= 4;
  } while (v != 0);
  if (byte) return "\\x" + std::string(2 - std::min<size_t>(2, digits.size()), '0') + digits;
  return "\\u{" + digits + "}";
}

}  // namespace

std::string PrintableName(std::string_view raw) {
  std::string out;
  if (domain::IsValidUtf8(raw)) {
    size_t i = 0;
    for (const CodePoint& cp : CodePoints(raw)) {
      if (IsForbiddenCodePoint(cp.value) || cp.value == '\'') {
        out += HexEscape(cp.value, cp.value < 0x80);
      } else {
        out.append(raw.substr(i, cp.length));
      }
      i += cp.length;
    }
    return out;
  }
  for (unsigned char c : raw) {
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      out += HexEscape(c, true);
    }
  }
  return out;
}

StatusOr<NameEncoding> ParseNameEncoding(std::string_view text) {
  const std::string folded = FoldCase(text);
  if (folded == "utf-8" || folded == "utf8") return NameEncoding::kUtf8;
  if (folded == "gbk" || folded == "cp936") return NameEncoding::kGbk;
  return InvalidArgument("--name-encoding must be utf-8 or gbk, not '" + PrintableName(text) + "'");
}

StatusOr<std::string> GbkToUtf8(std::string_view gbk) {
  iconv_t cd = iconv_open("UTF-8", "GBK");
  if (cd == reinterpret_cast<iconv_t>(-1)) return Internal("this system cannot decode GBK", "batch_io");
  std::string out(gbk.size() * 2 + 4, '\0');  // a GBK character is 1 or 2 bytes, its UTF-8 at most 3
  char* in = const_cast<char*>(gbk.data());
  size_t in_left = gbk.size();
  char* to = out.data();
  size_t to_left = out.size();
  const size_t rc = iconv(cd, &in, &in_left, &to, &to_left);
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1) || in_left != 0) {
    return Unprocessable("not valid GBK at byte " + std::to_string(gbk.size() - in_left),
                         std::string(kBatchNameEncoding));
  }
  out.resize(out.size() - to_left);
  return out;
}

Utf8Locale::Utf8Locale() {
  for (const char* name : {"C.UTF-8", "C.utf8", "en_US.UTF-8"}) {
    locale_ = newlocale(LC_CTYPE_MASK, name, static_cast<locale_t>(0));
    if (ok()) break;
  }
  if (ok()) previous_ = uselocale(locale_);
}

Utf8Locale::~Utf8Locale() {
  if (!ok()) return;
  uselocale(previous_);
  freelocale(locale_);
}

namespace {

Status NoUtf8Locale() {
  return Internal("no UTF-8 locale (C.UTF-8) is installed, so entry names cannot be read", "batch_io");
}

std::string Hex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0f]);
  }
  return out;
}

// libarchive reads through this when a name's bytes are wanted again: its
// own offset into the batch file, so the main read is not disturbed.
struct PreadSource {
  int fd;
  off_t at = 0;
  std::vector<uint8_t> buf = std::vector<uint8_t>(kReadBlockSize);
};

la_ssize_t PreadCallback(struct archive*, void* self, const void** out) {
  auto* src = static_cast<PreadSource*>(self);
  ssize_t n = ::pread(src->fd, src->buf.data(), src->buf.size(), src->at);
  if (n < 0) return -1;
  src->at += n;
  *out = src->buf.data();
  return n;
}

// Zip and tar only: the other formats libarchive knows (cpio, iso9660,
// rar, 7z, …) are not what an import batch is, and each is more parser
// exposed to hostile input. The filters are the common compressions;
// "program" filters that start external tools are not enabled.
void SupportBatchFormats(struct archive* a) {
  archive_read_support_format_tar(a);
  archive_read_support_format_zip(a);
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_lzma(a);
  archive_read_support_filter_lzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_lz4(a);
  archive_read_support_filter_compress(a);
}

Status UnsafePath(const std::string& why) {
  return Unprocessable(why, std::string(kBatchUnsafePath));
}

// libarchive's message, on one line and printable.
std::string ArchiveError(struct archive* a) {
  const char* e = a ? archive_error_string(a) : nullptr;
  std::string text = e ? e : "unknown libarchive error";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return PrintableName(text);
}

// a > ratio * b without overflow.
bool OverRatio(uint64_t a, uint64_t ratio, uint64_t b) {
  return static_cast<unsigned __int128>(a) > static_cast<unsigned __int128>(ratio) * b;
}

}  // namespace

StatusOr<std::string> NormalizeEntryPath(std::string_view raw) {
  if (raw.empty()) return UnsafePath("the name is empty");
  if (raw.size() > kMaxEntryPathBytes) {
    return UnsafePath("the path is longer than " + std::to_string(kMaxEntryPathBytes) + " bytes");
  }
  if (!domain::IsValidUtf8(raw)) {
    // Typically a zip made on a Windows system with names in GBK or
    // another code page.
    return UnsafePath("the path is not valid UTF-8 (pack the batch with UTF-8 file names)");
  }
  for (const CodePoint& cp : CodePoints(raw)) {
    if (IsForbiddenCodePoint(cp.value)) return UnsafePath("the path contains a control character");
    if (cp.value == '\\') return UnsafePath("the path contains a backslash");
  }
  if (raw.front() == '/') return UnsafePath("the path is absolute");
  std::string_view rest = raw;
  if (rest.back() == '/') rest.remove_suffix(1);  // a directory
  std::string out;
  bool first = true;
  size_t start = 0;
  while (true) {
    size_t slash = rest.find('/', start);
    std::string_view seg = rest.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) return UnsafePath("the path has an empty segment ('//')");
    if (seg == "..") return UnsafePath("the path contains '..'");
    if (seg.size() > kMaxEntrySegmentBytes) {
      return UnsafePath("a path segment is longer than " + std::to_string(kMaxEntrySegmentBytes) +
                        " bytes");
    }
    if (first && seg.size() >= 2 && seg[1] == ':' &&
        ((seg[0] >= 'A' && seg[0] <= 'Z') || (seg[0] >= 'a' && seg[0] <= 'z'))) {
      return UnsafePath("the path starts with a drive letter");
    }
    first = false;
    if (seg != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(seg);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string FoldCase(std::string_view path) {
  std::string out(path);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ------------------------------------------------------------ BatchReader

BatchReader::BatchReader(int fd, uint64_t file_size, const BatchLimits& limits, NameEncoding names)
    : fd_(fd), file_size_(file_size), limits_(limits), names_(names) {}

BatchReader::~BatchReader() {
  Close();
  ::close(fd_);
}

StatusOr<std::unique_ptr<BatchReader>> BatchReader::Open(const std::string& path,
                                                         const BatchLimits& limits,
                                                         NameEncoding names) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string why = "cannot open " + path + ": " + std::strerror(err);
    if (err == ENOENT) return NotFound(why, "batch_not_found");
    return Internal(why, "batch_io");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Internal("cannot stat " + path + ": " + std::strerror(err), "batch_io");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Unprocessable(path + " is not a regular file", std::string(kBatchUnreadable));
  }
  return std::unique_ptr<BatchReader>(
      new BatchReader(fd, static_cast<uint64_t>(st.st_size), limits, names));
}

void BatchReader::Close() {
  if (archive_) archive_read_free(archive_);
  archive_ = nullptr;
}

Status BatchReader::Refuse(std::string_view reason, const std::string& why) const {
  ErrorCode code = (reason == kBatchEntryTooLarge || reason == kBatchTooLarge ||
                    reason == kBatchRatio || reason == kBatchTooManyEntries)
                       ? ErrorCode::kTooLarge
                       : ErrorCode::kUnprocessable;
  return Status(code, "entry '" + current_ + "': " + why, std::string(reason));
}

Status BatchReader::Rewind() {
  Close();
  current_.clear();
  in_file_ = false;
  data_ended_ = false;
  entry_bytes_ = 0;
  entry_hash_.Reset();
  finished_.reset();
  total_bytes_ = 0;
  entries_ = 0;
  failed_ = false;
  declared_.reset();
  zip_ = false;
  entry_raw_start_ = 0;
  seen_.clear();
  Utf8Locale utf8;
  if (!utf8.ok()) return NoUtf8Locale();
  if (::lseek(fd_, 0, SEEK_SET) != 0) {
    return Internal(std::string("cannot rewind the batch: ") + std::strerror(errno), "batch_io");
  }
  archive_ = archive_read_new();
  if (!archive_) return Internal("libarchive cannot allocate a reader", "batch_io");
  SupportBatchFormats(archive_);
  // Names not marked as UTF-8 (zip names without bit 11 or a Unicode Path
  // field, ustar and GNU tar names) are decoded from GBK.
  if (names_ == NameEncoding::kGbk && archive_read_set_options(archive_, "hdrcharset=GBK") != ARCHIVE_OK) {
    std::string why = ArchiveError(archive_);
    Close();
    failed_ = true;
    return Internal("cannot read names in GBK (" + why + ")", "batch_io");
  }
  if (archive_read_open_fd(archive_, fd_, kReadBlockSize) != ARCHIVE_OK) {
    std::string why = ArchiveError(archive_);
    Close();
    failed_ = true;
    return Unprocessable("the batch is not a readable zip or tar archive (" + why + ")",
                         std::string(kBatchUnreadable));
  }
  return Status::Ok();
}

StatusOr<bool> BatchReader::Next(BatchEntry* entry) {
  if (failed_ || !archive_) {
    return Internal("the batch read is over (Rewind() first)", "batch_read_over");
  }
  if (in_file_ && !finished_) CUSTOS_RETURN_IF_ERROR(Finish().status());
  in_file_ = false;
  finished_.reset();
  Utf8Locale utf8;
  if (!utf8.ok()) return NoUtf8Locale();
  ::archive_entry* e = nullptr;
  int r = archive_read_next_header(archive_, &e);
  if (r == ARCHIVE_EOF) {
    Close();
    failed_ = true;  // the read is over
    CUSTOS_RETURN_IF_ERROR(CheckNesting());
    return false;
  }
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
    failed_ = true;
    std::string why = ArchiveError(archive_);
    if (entries_ == 0) {
      return Unprocessable("the batch is not a readable zip or tar archive (" + why + ")",
                           std::string(kBatchUnreadable));
    }
    return Unprocessable("the archive is damaged after entry '" + current_ + "' (" + why + ")",
                         std::string(kBatchUnreadable));
  }
  if (++entries_ > limits_.max_entries) {
    failed_ = true;
    return TooLarge("the batch has more than " + std::to_string(limits_.max_entries) + " entries",
                    std::string(kBatchTooManyEntries));
  }
  // A name that could not be decoded (GBK asked for, and it is not GBK).
  const char* warning = r == ARCHIVE_WARN ? archive_error_string(archive_) : nullptr;
  const bool undecodable = warning != nullptr && std::strstr(warning, "converted") != nullptr;
  Status s = undecodable ? RefuseName("", /*converted=*/true) : CheckEntryHeader(e, entry);
  if (s.ok()) s = CheckUnique(*entry);
  if (!s.ok()) {
    failed_ = true;
    return s;
  }
  in_file_ = entry->kind == EntryKind::kFile;
  data_ended_ = !in_file_;
  entry_bytes_ = 0;
  entry_hash_.Reset();
  declared_.reset();
  if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0) {
    declared_ = static_cast<uint64_t>(archive_entry_size(e));
  }
  zip_ = (archive_format(archive_) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
  entry_raw_start_ = archive_filter_bytes(archive_, -1);
  return true;
}

Status BatchReader::CheckEntryHeader(::archive_entry* e, BatchEntry* out) {
  // Under Utf8Locale the name is UTF-8 where libarchive could decode it,
  // and its stored bytes otherwise.
  const char* name = archive_entry_pathname(e);
  if (name == nullptr || !domain::IsValidUtf8(name)) return RefuseName(name ? name : "", false);
  current_ = PrintableName(name);
  const std::string raw = name;

  StatusOr<std::string> path = NormalizeEntryPath(raw);
  if (!path.ok()) return Refuse(kBatchUnsafePath, path.status().message());

  const char* hardlink = archive_entry_hardlink_utf8(e);
  if (!hardlink) hardlink = archive_entry_hardlink(e);
  const std::string only = "; only regular files and directories are imported";
  if (hardlink) {
    return Refuse(kBatchEntryType, "is a hard link (to '" + PrintableName(hardlink) + "')" + only);
  }
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      out->kind = EntryKind::kFile;
      break;
    case AE_IFDIR:
      out->kind = EntryKind::kDirectory;
      break;
    case AE_IFLNK: {
      const char* target = archive_entry_symlink_utf8(e);
      if (!target) target = archive_entry_symlink(e);
      return Refuse(kBatchEntryType,
                    "is a symbolic link (to '" + PrintableName(target ? target : "") + "')" + only);
    }
    case AE_IFCHR:
      return Refuse(kBatchEntryType, "is a character device" + only);
    case AE_IFBLK:
      return Refuse(kBatchEntryType, "is a block device" + only);
    case AE_IFIFO:
      return Refuse(kBatchEntryType, "is a fifo" + only);
    case AE_IFSOCK:
      return Refuse(kBatchEntryType, "is a socket" + only);
    default:
      return Refuse(kBatchEntryType, "has an unknown file type" + only);
  }
  if (archive_entry_is_encrypted(e)) {
    return Refuse(kBatchEncrypted, "is encrypted; encrypted entries cannot be imported");
  }
  if (out->kind == EntryKind::kFile) {
    if (path->empty() || raw.back() == '/') {
      return Refuse(kBatchUnsafePath, "a file entry must name a file");
    }
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
        static_cast<uint64_t>(archive_entry_size(e)) > limits_.max_file_bytes) {
      return Refuse(kBatchEntryTooLarge, "declares " + std::to_string(archive_entry_size(e)) +
                                             " bytes, over the limit of " +
                                             std::to_string(limits_.max_file_bytes) +
                                             " bytes per file");
    }
  }
  out->path = std::move(path).value();
  return Status::Ok();
}

// The current entry's name is not UTF-8 (converted: libarchive failed to
// decode it from GBK, and `raw` is empty).
Status BatchReader::RefuseName(const std::string& raw, bool converted) const {
  std::string bytes = raw;
  if (converted) {
    auto again = RawNameOf(entries_);
    bytes = again.ok() ? *again : "";
  }
  std::string what = "entry #" + std::to_string(entries_) +
                     (bytes.empty() ? std::string() : " '" + PrintableName(bytes) + "'") +
                     " (name bytes in hex: " + (bytes.empty() ? std::string("unavailable") : Hex(bytes)) + "): ";
  if (names_ == NameEncoding::kGbk) {
    what += "the name is neither marked as UTF-8 nor valid GBK";
  } else {
    what += "the name is not valid UTF-8; zips made by Chinese Windows tools store names in GBK: "
            "if this batch is one, run the import again with --name-encoding gbk";
  }
  return Unprocessable(what, std::string(kBatchNameEncoding));
}

// The stored bytes of entry `index` (counting from 1), read again from the
// start with no decoding.
StatusOr<std::string> BatchReader::RawNameOf(uint64_t index) const {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  if (!a) return Internal("libarchive cannot allocate a reader", "batch_io");
  SupportBatchFormats(a.get());
  PreadSource src{fd_};
  if (archive_read_open(a.get(), &src, nullptr, &PreadCallback, nullptr) != ARCHIVE_OK) {
    return Unprocessable(ArchiveError(a.get()), std::string(kBatchUnreadable));
  }
  ::archive_entry* e = nullptr;
  for (uint64_t i = 1; i <= index; ++i) {
    int r = archive_read_next_header(a.get(), &e);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return Unprocessable(ArchiveError(a.get()), std::string(kBatchUnreadable));
    }
  }
  const char* name = archive_entry_pathname(e);
  return std::string(name ? name : "");
}

Status BatchReader::CheckUnique(const BatchEntry& entry) {
  if (entry.path.empty()) return Status::Ok();  // "./": the root itself
  auto [it, inserted] =
      seen_.try_emplace(FoldCase(entry.path), Seen{entry.kind == EntryKind::kFile, entry.path});
  if (!inserted) {
    return Refuse(kBatchDuplicate,
                  "appears more than once (names are compared ignoring ASCII letter case)");
  }
  return Status::Ok();
}

// After the last entry: no entry may lie below a file ("a" and "a/b"). In
// the sorted map the entries below "a" directly follow "a/".
Status BatchReader::CheckNesting() {
  for (const auto& [folded, seen] : seen_) {
    if (!seen.file) continue;
    auto below = seen_.lower_bound(folded + "/");
    if (below != seen_.end() && below->first.compare(0, folded.size() + 1, folded + "/") == 0) {
      current_ = PrintableName(below->second.path);
      return Refuse(kBatchDuplicate, "lies inside '" + PrintableName(seen.path) +
                                         "', which is a file in the same archive");
    }
  }
  return Status::Ok();
}

StatusOr<size_t> BatchReader::DataSource::Read(uint8_t* p, size_t n) {
  return reader_.ReadData(p, n);
}

StatusOr<size_t> BatchReader::ReadData(uint8_t* p, size_t n) {
  if (failed_) return Internal("the batch read is over", "batch_read_over");
  if (n == 0 || !in_file_ || data_ended_) return size_t{0};
  Utf8Locale utf8;
  la_ssize_t r = archive_read_data(archive_, p, n);
  if (r < 0) {
    failed_ = true;
    return Refuse(kBatchUnreadable, "cannot be read (" + ArchiveError(archive_) + ")");
  }
  if (r == 0) {
    data_ended_ = true;
    Status s = CheckEntryEnd();
    if (!s.ok()) {
      failed_ = true;
      return s;
    }
    return size_t{0};
  }
  const auto got = static_cast<uint64_t>(r);
  entry_bytes_ += got;
  total_bytes_ += got;
  Status s;
  if (entry_bytes_ > limits_.max_file_bytes) {
    s = Refuse(kBatchEntryTooLarge, "is larger than the limit of " +
                                        std::to_string(limits_.max_file_bytes) + " bytes per file");
  } else if (total_bytes_ > limits_.max_total_bytes) {
    s = Refuse(kBatchTooLarge, "takes the batch over its limit of " +
                                   std::to_string(limits_.max_total_bytes) + " bytes decompressed");
  } else if (OverRatio(total_bytes_, limits_.max_ratio, file_size_)) {
    s = Refuse(kBatchRatio, "takes the batch over a compression ratio of " +
                                std::to_string(limits_.max_ratio) + ":1 (" +
                                std::to_string(total_bytes_) + " bytes from an archive of " +
                                std::to_string(file_size_) + " bytes)");
  }
  if (!s.ok()) {
    failed_ = true;
    return s;
  }
  entry_hash_.Update(p, static_cast<size_t>(r));
  return static_cast<size_t>(r);
}

Status BatchReader::CheckEntryEnd() const {
  if (declared_ && *declared_ != entry_bytes_) {
    return Refuse(kBatchUnreadable, "declares " + std::to_string(*declared_) +
                                        " bytes, but its data holds " +
                                        std::to_string(entry_bytes_));
  }
  if (zip_ && entry_bytes_ >= kMinRatioJudgedBytes) {
    // For a zip the bytes consumed from the file while this entry's data
    // was read are its compressed size.
    int64_t consumed = archive_filter_bytes(archive_, -1) - entry_raw_start_;
    uint64_t compressed = consumed > 0 ? static_cast<uint64_t>(consumed) : 1;
    if (OverRatio(entry_bytes_, limits_.max_ratio, compressed)) {
      return Refuse(kBatchRatio, "is compressed more than " + std::to_string(limits_.max_ratio) +
                                     ":1 (" + std::to_string(entry_bytes_) + " bytes from " +
                                     std::to_string(compressed) + ")");
    }
  }
  return Status::Ok();
}

StatusOr<EntryDigest> BatchReader::Finish() {
  if (finished_) return *finished_;
  if (!in_file_) return Internal("no file entry to finish", "batch_no_entry");
  std::vector<uint8_t> buf(kReadBlockSize);
  while (true) {
    CUSTOS_ASSIGN_OR_RETURN(size_t n, ReadData(buf.data(), buf.size()));
    if (n == 0) break;
  }
  finished_ = EntryDigest{entry_bytes_, entry_hash_.Finish()};
  return *finished_;
}

}  // namespace custos::admin
