#include "server/services/package_writer.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace custos::services {

namespace {

constexpr size_t kOutChunk = 64 * 1024;

// ---- tar (POSIX.1-2001 pax, ustar headers) ----
constexpr size_t kTarBlock = 512;
constexpr size_t kUstarNameBytes = 100;
constexpr uint64_t kUstarMaxSize = 077777777777ULL;  // 11 octal digits

// ---- zip (PKWARE APPNOTE 6.3.x) ----
constexpr uint32_t kZipLocalHeaderSig = 0x04034b50;
constexpr uint32_t kZipDataDescriptorSig = 0x08074b50;
constexpr uint32_t kZipCentralHeaderSig = 0x02014b50;
constexpr uint32_t kZipEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kZipFlagDataDescriptor = 1 << 3;
constexpr uint16_t kZipFlagUtf8 = 1 << 11;  // language encoding flag (EFS)
constexpr uint16_t kZipMethodStored = 0;
constexpr uint16_t kZipMethodDeflated = 8;
constexpr uint16_t kZipVersion20 = 20;
constexpr uint16_t kZipVersion45 = 45;  // zip64
constexpr uint16_t kZipMadeByUnix = (3 << 8) | 45;
constexpr uint16_t kZipExtraZip64 = 0x0001;
constexpr uint16_t kZipExtraTimestamp = 0x5455;
constexpr uint16_t kZipExtraUnicodePath = 0x7075;
constexpr uint32_t kZip32Max = 0xffffffffU;
constexpr uint16_t kZip16Max = 0xffff;
// A file this large gets zip64 sizes from its local header on: deflate may
// make it a little larger than it is.
constexpr uint64_t kZip64FileThreshold = 0xf0000000ULL;

bool IsAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

void Put16(std::string& b, uint16_t v) {
  b.push_back(static_cast<char>(v & 0xff));
  b.push_back(static_cast<char>(v >> 8));
}
void Put32(std::string& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Put64(std::string& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Deflates (raw for zip, gzip-wrapped for tar.gz) into a sink, counting
// what it emits.
class Deflater {
 public:
  Deflater(ByteSink& out, bool gzip) : out_(out) {
    ok_ = deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 15 + 16 : -15, 8,
                       Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Deflater() {
    if (ok_) deflateEnd(&z_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  Status Write(const void* p, size_t n) { return Run(p, n, Z_NO_FLUSH); }
  // Ends the deflate stream; Write() may not follow.
  Status Finish() { return Run(nullptr, 0, Z_FINISH); }
  uint64_t written() const { return written_; }

 private:
  Status Run(const void* p, size_t n, int flush) {
    if (!ok_) return Internal("cannot start a deflate stream");
    z_.next_in = const_cast<Bytef*>(static_cast<const Bytef*>(p));
    z_.avail_in = static_cast<uInt>(n);  // callers pass chunks well under 4 GiB
    std::vector<uint8_t> buf(kOutChunk);
    for (;;) {
      z_.next_out = buf.data();
      z_.avail_out = static_cast<uInt>(buf.size());
      int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) return Internal("deflate failed");
      size_t have = buf.size() - z_.avail_out;
      if (have > 0) {
        CUSTOS_RETURN_IF_ERROR(out_.Write(buf.data(), have));
        written_ += have;
      }
      if (flush == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) break;
    }
    return Status::Ok();
  }

  ByteSink& out_;
  z_stream z_{};
  bool ok_ = false;
  uint64_t written_ = 0;
};

// Counts the bytes of the current file entry against its declared size.
class EntrySize {
 public:
  void Start(const std::string& path, uint64_t size) {
    path_ = path;
    size_ = size;
    got_ = 0;
    open_ = true;
  }
  Status Add(size_t n) {
    if (!open_) return Internal("package: data outside a file entry");
    if (n > size_ - got_) return Internal("package: " + path_ + " is longer than declared");
    got_ += n;
    return Status::Ok();
  }
  // Ends the entry; fails when its data fell short.
  Status End() {
    if (open_ && got_ != size_) {
      open_ = false;
      return Internal("package: " + path_ + " is shorter than declared");
    }
    open_ = false;
    return Status::Ok();
  }
  bool open() const { return open_; }
  uint64_t size() const { return size_; }

 private:
  std::string path_;
  uint64_t size_ = 0;
  uint64_t got_ = 0;
  bool open_ = false;
};

// ------------------------------------------------------------------ tar.gz

class TarGzWriter final : public PackageWriter {
 public:
  explicit TarGzWriter(ByteSink& out) : gz_(out, /*gzip=*/true) {}

  Status Directory(const std::string& path, time_t mtime) override {
    CUSTOS_RETURN_IF_ERROR(EndEntry());
    return Header(path, 0, mtime, '5', 0755);
  }

  Status Begin(const std::string& path, uint64_t size, time_t mtime) override {
    CUSTOS_RETURN_IF_ERROR(EndEntry());
    CUSTOS_RETURN_IF_ERROR(Header(path, size, mtime, '0', 0644));
    entry_.Start(path, size);
    return Status::Ok();
  }

  Status Data(const void* p, size_t n) override {
    CUSTOS_RETURN_IF_ERROR(entry_.Add(n));
    return gz_.Write(p, n);
  }

  Status Close() override {
    CUSTOS_RETURN_IF_ERROR(EndEntry());
    const std::string end(2 * kTarBlock, '\0');
    CUSTOS_RETURN_IF_ERROR(gz_.Write(end.data(), end.size()));
    return gz_.Finish();
  }

 private:
  // Pads the last file's data to a whole block.
  Status EndEntry() {
    if (!entry_.open()) return Status::Ok();
    const uint64_t size = entry_.size();
    CUSTOS_RETURN_IF_ERROR(entry_.End());
    const size_t pad = (kTarBlock - size % kTarBlock) % kTarBlock;
    if (pad == 0) return Status::Ok();
    const std::string zeros(pad, '\0');
    return gz_.Write(zeros.data(), pad);
  }

  // One pax record: "<length> <key>=<value>\n", the length counting itself.
  static std::string PaxRecord(const std::string& key, const std::string& value) {
    const size_t body = 1 + key.size() + 1 + value.size() + 1;
    size_t len = body + 1;
    while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
    return std::to_string(len) + " " + key + "=" + value + "\n";
  }

  static void Octal(char* field, size_t width, uint64_t v) {
    // width - 1 digits and a NUL.
    std::string digits(width - 1, '0');
    for (size_t i = width - 1; i-- > 0 && v != 0; v >>= 3) digits[i] = static_cast<char>('0' + (v & 7));
    std::memcpy(field, digits.data(), width - 1);
    field[width - 1] = '\0';
  }

  static std::string UstarBlock(const std::string& name, uint64_t size, time_t mtime, char type, int mode) {
    std::string h(kTarBlock, '\0');
    std::memcpy(&h[0], name.data(), std::min(name.size(), kUstarNameBytes));
    Octal(&h[100], 8, static_cast<uint64_t>(mode));
    Octal(&h[108], 8, 0);  // uid
    Octal(&h[116], 8, 0);  // gid
    Octal(&h[124], 12, size <= kUstarMaxSize ? size : 0);
    Octal(&h[136], 12, mtime > 0 ? static_cast<uint64_t>(mtime) : 0);
    h[156] = type;
    std::memcpy(&h[257], "ustar\0" "00", 8);
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    Octal(&h[148], 7, sum);
    h[155] = ' ';
    return h;
  }

  // The ustar name for a path the pax header names: ASCII, within 100 bytes.
  static std::string AsciiStandIn(const std::string& path) {
    std::string out;
    for (unsigned char c : path) out.push_back(c < 0x80 ? static_cast<char>(c) : '_');
    if (out.size() > kUstarNameBytes) out = out.substr(out.size() - kUstarNameBytes);
    return out;
  }

  Status Header(const std::string& path, uint64_t size, time_t mtime, char type, int mode) {
    std::string records;
    if (!IsAscii(path) || path.size() > kUstarNameBytes) records += PaxRecord("path", path);
    if (size > kUstarMaxSize) records += PaxRecord("size", std::to_string(size));
    std::string out;
    if (!records.empty()) {
      out += UstarBlock("PaxHeader/" + AsciiStandIn(path).substr(0, kUstarNameBytes - 10), records.size(),
                        mtime, 'x', 0644);
      out += records;
      out.append((kTarBlock - records.size() % kTarBlock) % kTarBlock, '\0');
    }
    out += UstarBlock(records.empty() ? path : AsciiStandIn(path), size, mtime, type, mode);
    return gz_.Write(out.data(), out.size());
  }

  Deflater gz_;
  EntrySize entry_;
};

// --------------------------------------------------------------------- zip

class ZipWriter final : public PackageWriter {
 public:
  explicit ZipWriter(ByteSink& out) : out_(out) {}

  Status Directory(const std::string& path, time_t mtime) override {
    CUSTOS_RETURN_IF_ERROR(EndEntry());
    Central c;
    c.name = path;
    c.mtime = mtime;
    c.method = kZipMethodStored;
    c.flags = kZipFlagUtf8;
    c.offset = offset_;
    c.mode = 040755;
    CUSTOS_RETURN_IF_ERROR(LocalHeader(c, /*zip64=*/false));
    central_.push_back(std::move(c));
    return Status::Ok();
  }

  Status Begin(const std::string& path, uint64_t size, time_t mtime) override {
    CUSTOS_RETURN_IF_ERROR(EndEntry());
    Central c;
    c.name = path;
    c.mtime = mtime;
    c.method = kZipMethodDeflated;
    c.flags = kZipFlagUtf8 | kZipFlagDataDescriptor;
    c.offset = offset_;
    c.mode = 0100644;
    c.zip64_local = size >= kZip64FileThreshold;
    CUSTOS_RETURN_IF_ERROR(LocalHeader(c, c.zip64_local));
    central_.push_back(std::move(c));
    entry_.Start(path, size);
    deflater_ = std::make_unique<Deflater>(counting_, /*gzip=*/false);
    crc_ = crc32(0L, Z_NULL, 0);
    return Status::Ok();
  }

  Status Data(const void* p, size_t n) override {
    CUSTOS_RETURN_IF_ERROR(entry_.Add(n));
    crc_ = crc32(crc_, static_cast<const Bytef*>(p), static_cast<uInt>(n));
    return deflater_->Write(p, n);
  }

  Status Close() override {
    CUSTOS_RETURN_IF_ERROR(EndEntry());
    const uint64_t cd_offset = offset_;
    for (const Central& c : central_) CUSTOS_RETURN_IF_ERROR(Emit(CentralHeader(c)));
    const uint64_t cd_size = offset_ - cd_offset;
    const uint64_t count = central_.size();
    std::string end;
    if (count >= kZip16Max || cd_size >= kZip32Max || cd_offset >= kZip32Max) {
      const uint64_t end64_offset = offset_;
      Put32(end, kZip64EndSig);
      Put64(end, 44);  // the size of the rest of this record
      Put16(end, kZipMadeByUnix);
      Put16(end, kZipVersion45);
      Put32(end, 0);  // this disk
      Put32(end, 0);  // the disk with the central directory
      Put64(end, count);
      Put64(end, count);
      Put64(end, cd_size);
      Put64(end, cd_offset);
      Put32(end, kZip64LocatorSig);
      Put32(end, 0);
      Put64(end, end64_offset);
      Put32(end, 1);  // disks
    }
    Put32(end, kZipEndSig);
    Put16(end, 0);
    Put16(end, 0);
    Put16(end, static_cast<uint16_t>(std::min<uint64_t>(count, kZip16Max)));
    Put16(end, static_cast<uint16_t>(std::min<uint64_t>(count, kZip16Max)));
    Put32(end, static_cast<uint32_t>(std::min<uint64_t>(cd_size, kZip32Max)));
    Put32(end, static_cast<uint32_t>(std::min<uint64_t>(cd_offset, kZip32Max)));
    Put16(end, 0);  // comment length
    return Emit(end);
  }

 private:
  // What the central directory needs of an entry.
  struct Central {
    std::string name;
    time_t mtime = 0;
    uint16_t method = kZipMethodStored;
    uint16_t flags = 0;
    uint32_t crc = 0;
    uint64_t compressed = 0;
    uint64_t size = 0;
    uint64_t offset = 0;
    uint32_t mode = 0;
    bool zip64_local = false;
  };

  // Passes the deflater's output on and counts it into offset_.
  class CountingSink final : public ByteSink {
   public:
    explicit CountingSink(ZipWriter& w) : w_(w) {}
    Status Write(const uint8_t* p, size_t n) override {
      CUSTOS_RETURN_IF_ERROR(w_.out_.Write(p, n));
      w_.offset_ += n;
      return Status::Ok();
    }

   private:
    ZipWriter& w_;
  };

  Status Emit(const std::string& bytes) {
    CUSTOS_RETURN_IF_ERROR(out_.Write(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    offset_ += bytes.size();
    return Status::Ok();
  }

  // MS-DOS date and time (of the UTC time: 0x5455 carries the exact one).
  static void DosTime(time_t t, uint16_t* time, uint16_t* date) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    if (tm.tm_year < 80) {
      *time = 0;
      *date = (1 << 5) | 1;  // 1980-01-01
      return;
    }
    *time = static_cast<uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
    *date = static_cast<uint16_t>(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
  }

  // The extra fields both headers carry: the UTC modification time and, for
  // a name that is not ASCII, the Info-ZIP Unicode Path (version 1, the
  // CRC-32 of the header's name field, the UTF-8 name).
  static std::string CommonExtra(const Central& c) {
    std::string x;
    Put16(x, kZipExtraTimestamp);
    Put16(x, 5);
    x.push_back(1);  // modification time present
    Put32(x, static_cast<uint32_t>(c.mtime > 0 ? c.mtime : 0));
    if (!IsAscii(c.name)) {
      Put16(x, kZipExtraUnicodePath);
      Put16(x, static_cast<uint16_t>(1 + 4 + c.name.size()));
      x.push_back(1);
      Put32(x, static_cast<uint32_t>(
                   crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(c.name.data()),
                         static_cast<uInt>(c.name.size()))));
      x += c.name;
    }
    return x;
  }

  Status LocalHeader(const Central& c, bool zip64) {
    if (c.name.size() >= kZip16Max) return Internal("package: entry name too long: " + c.name);
    std::string extra;
    if (zip64) {
      Put16(extra, kZipExtraZip64);
      Put16(extra, 16);
      Put64(extra, 0);  // sizes follow in the data descriptor
      Put64(extra, 0);
    }
    extra += CommonExtra(c);
    uint16_t time = 0, date = 0;
    DosTime(c.mtime, &time, &date);
    std::string h;
    Put32(h, kZipLocalHeaderSig);
    Put16(h, zip64 ? kZipVersion45 : kZipVersion20);
    Put16(h, c.flags);
    Put16(h, c.method);
    Put16(h, time);
    Put16(h, date);
    Put32(h, 0);  // CRC-32 and sizes: 0 here (in the data descriptor, or a directory)
    Put32(h, zip64 ? kZip32Max : 0);
    Put32(h, zip64 ? kZip32Max : 0);
    Put16(h, static_cast<uint16_t>(c.name.size()));
    Put16(h, static_cast<uint16_t>(extra.size()));
    h += c.name;
    h += extra;
    return Emit(h);
  }

  Status EndEntry() {
    if (!entry_.open()) return Status::Ok();
    CUSTOS_RETURN_IF_ERROR(entry_.End());
    CUSTOS_RETURN_IF_ERROR(deflater_->Finish());
    Central& c = central_.back();
    c.crc = static_cast<uint32_t>(crc_);
    c.size = entry_.size();
    c.compressed = deflater_->written();
    deflater_.reset();
    if (!c.zip64_local && (c.size >= kZip32Max || c.compressed >= kZip32Max)) {
      return Internal("package: " + c.name + " outgrew its zip header");
    }
    std::string d;
    Put32(d, kZipDataDescriptorSig);
    Put32(d, c.crc);
    if (c.zip64_local) {
      Put64(d, c.compressed);
      Put64(d, c.size);
    } else {
      Put32(d, static_cast<uint32_t>(c.compressed));
      Put32(d, static_cast<uint32_t>(c.size));
    }
    return Emit(d);
  }

  static std::string CentralHeader(const Central& c) {
    const bool big_size = c.size >= kZip32Max || c.zip64_local;
    const bool big_compressed = c.compressed >= kZip32Max || c.zip64_local;
    const bool big_offset = c.offset >= kZip32Max;
    const bool zip64 = big_size || big_compressed || big_offset;
    std::string extra;
    if (zip64) {
      std::string z;
      if (big_size) Put64(z, c.size);
      if (big_compressed) Put64(z, c.compressed);
      if (big_offset) Put64(z, c.offset);
      Put16(extra, kZipExtraZip64);
      Put16(extra, static_cast<uint16_t>(z.size()));
      extra += z;
    }
    extra += CommonExtra(c);
    uint16_t time = 0, date = 0;
    DosTime(c.mtime, &time, &date);
    std::string h;
    Put32(h, kZipCentralHeaderSig);
    Put16(h, kZipMadeByUnix);
    Put16(h, zip64 ? kZipVersion45 : kZipVersion20);
    Put16(h, c.flags);
    Put16(h, c.method);
    Put16(h, time);
    Put16(h, date);
    Put32(h, c.crc);
    Put32(h, big_compressed ? kZip32Max : static_cast<uint32_t>(c.compressed));
    Put32(h, big_size ? kZip32Max : static_cast<uint32_t>(c.size));
    Put16(h, static_cast<uint16_t>(c.name.size()));
    Put16(h, static_cast<uint16_t>(extra.size()));
    Put16(h, 0);  // comment length
    Put16(h, 0);  // disk
    Put16(h, 0);  // internal attributes
    Put32(h, c.mode << 16);
    Put32(h, big_offset ? kZip32Max : static_cast<uint32_t>(c.offset));
    h += c.name;
    h += extra;
    return h;
  }

  ByteSink& out_;
  CountingSink counting_{*this};
  uint64_t offset_ = 0;  // bytes written so far
  std::vector<Central> central_;
  EntrySize entry_;
  std::unique_ptr<Deflater> deflater_;
  uLong crc_ = 0;
};

}  // namespace

PackageWriter::~PackageWriter() = default;

std::unique_ptr<PackageWriter> PackageWriter::Create(PackageFormat format, ByteSink& out) {
  if (format == PackageFormat::kZip) return std::make_unique<ZipWriter>(out);
  return std::make_unique<TarGzWriter>(out);
}

Status PackageWriter::Small(const std::string& path, const std::string& content, time_t mtime) {
  CUSTOS_RETURN_IF_ERROR(Begin(path, content.size(), mtime));
  return Data(content.data(), content.size());
}

}  // namespace custos::services
