#include "server/services/bag_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/hash.h"

namespace custos::services {

namespace {

constexpr size_t kChunk = 64 * 1024;

// Writes to a file descriptor the caller owns.
class FdSink final : public ByteSink {
 public:
  FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Write(const uint8_t* p, size_t n) override {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        std::string m = "write " + path_ + ": " + std::strerror(errno);
        if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT) return ResourceExhausted(m, "storage_full");
        return Internal(m);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

std::string SafeName(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    out.push_back(c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':' ? '_' : static_cast<char>(c));
  }
  while (!out.empty() && out.front() == '.') out.front() = '_';
  if (out.empty()) out = "file";
  return out;
}

std::string ManifestPath(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%') {
      out += "%25";
    } else if (c == '\r') {
      out += "%0D";
    } else if (c == '\n') {
      out += "%0A";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

BagWriter::BagWriter(PackageFormat format, ByteSink& out, std::string root, time_t mtime)
    : w_(PackageWriter::Create(format, out)), root_(std::move(root)), mtime_(mtime), buf_(kChunk) {}

Status BagWriter::Begin() {
  CUSTOS_RETURN_IF_ERROR(Tag("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"));
  return w_->Directory(root_ + "data/", mtime_);
}

Status BagWriter::Payload(storage::ContentStore& content, const domain::StoredFile& file, const std::string& path,
                          const std::string& owner, uint64_t& bytes) {
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> in, content.Open(file));
  CUSTOS_RETURN_IF_ERROR(w_->Begin(root_ + "data/" + path, file.size, mtime_));
  crypto::Sha256 h;
  uint64_t total = 0;
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(size_t n, in->Read(buf_.data(), buf_.size()));
    if (n == 0) break;
    h.Update(buf_.data(), n);
    total += n;
    CUSTOS_RETURN_IF_ERROR(w_->Data(buf_.data(), n));
  }
  std::string sha = crypto::HexEncode(h.Finish());
  if (total != file.size || sha != file.sha256) {
    return DataLoss("file " + file.id.value + " of " + owner + " does not match its recorded size and hash",
                    "content_hash_mismatch");
  }
  manifest_ += sha + "  " + ManifestPath("data/" + path) + "\n";
  bytes = total;
  return Status::Ok();
}

Status BagWriter::Tag(const std::string& name, const std::string& content) {
  tag_hashes_[name] = crypto::HexEncode(crypto::Sha256Of(content));
  return w_->Small(root_ + name, content, mtime_);
}

Status BagWriter::Finish(const std::string& bag_info) {
  CUSTOS_RETURN_IF_ERROR(Tag("manifest-sha256.txt", manifest_));
  CUSTOS_RETURN_IF_ERROR(Tag("bag-info.txt", bag_info));
  std::string tagmanifest;
  for (const auto& [name, sha] : tag_hashes_) tagmanifest += sha + "  " + ManifestPath(name) + "\n";
  CUSTOS_RETURN_IF_ERROR(w_->Small(root_ + "tagmanifest-sha256.txt", tagmanifest, mtime_));
  return w_->Close();
}

Status WriteFileAtomically(const std::string& path, const std::function<Status(ByteSink&)>& write) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot create " + tmp + ": " + std::strerror(errno));
  struct Cleanup {
    int fd;
    std::string tmp;
    bool keep = false;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      if (!keep) ::unlink(tmp.c_str());
    }
  } cleanup{fd, tmp};
  FdSink sink(fd, tmp);
  CUSTOS_RETURN_IF_ERROR(write(sink));
  if (::fsync(fd) != 0) return Internal("fsync " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("rename to " + path + ": " + std::strerror(errno));
  cleanup.keep = true;
  return Status::Ok();
}

}  // namespace custos::services
