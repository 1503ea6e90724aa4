#include "storage/keyring.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "crypto/random.h"

namespace custos::storage {

namespace {

std::string KekDir(const DataDir& dir) { return dir.KeysDir() + "/kek"; }
std::string Ed25519Path(const DataDir& dir) { return dir.KeysDir() + "/log-ed25519.pem"; }
std::string Sm2Path(const DataDir& dir) { return dir.KeysDir() + "/log-sm2.pem"; }
std::string VkeyPath(const DataDir& dir) { return dir.KeysDir() + "/log.vkey"; }
std::string CurrentPath(const DataDir& dir) { return KekDir(dir) + "/current"; }
std::string RowSealKeyPath(const DataDir& dir) { return dir.KeysDir() + "/row-seal.key"; }
std::string PendingRowSealKeyPath(const DataDir& dir) { return RowSealKeyPath(dir) + ".new"; }

// Writes 32 new random bytes to the new file `path` (0600).
Status WriteRowSealKey(const std::string& path) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes key, crypto::RandomBytes(RowSealer::kKeySize));
  return WriteNewFile(path, std::string(key.begin(), key.end()), 0600);
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

constexpr char kKeySuffix[] = ".key";
constexpr size_t kKeySuffixLength = sizeof kKeySuffix - 1;

std::string KekPath(const DataDir& dir, const std::string& id) {
  return KekDir(dir) + "/" + id + kKeySuffix;
}

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  return Internal(what + " " + path + ": " + std::strerror(err), "kek_file_io");
}

// Makes the entries created, renamed or removed in `path` durable.
Status FsyncDirectory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("cannot fsync", path, err);
  return Status::Ok();
}

// Overwrites a file with zeros, fsyncs and unlinks it (the caller fsyncs
// the directory).
Status WipeAndUnlink(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st {};
  Status s;
  if (::fstat(fd, &st) != 0) s = ErrnoStatus("cannot stat", path, errno);
  const std::vector<uint8_t> zeros(4096, 0);
  for (off_t done = 0; s.ok() && done < st.st_size;) {
    size_t n = static_cast<size_t>(std::min<off_t>(st.st_size - done, zeros.size()));
    ssize_t w = ::write(fd, zeros.data(), n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      s = ErrnoStatus("cannot overwrite", path, w < 0 ? errno : EIO);
      break;
    }
    done += w;
  }
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus("cannot fsync", path, errno);
  ::close(fd);
  if (s.ok() && ::unlink(path.c_str()) != 0) s = ErrnoStatus("cannot remove", path, errno);
  return s;
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Status Keyring::Create(const DataDir& dir, const std::string& origin, crypto::Suite suite) {
  CUSTOS_RETURN_IF_ERROR(EnsureDirectory(dir.KeysDir()));
  CUSTOS_RETURN_IF_ERROR(EnsureDirectory(KekDir(dir)));
  // The KEK's id is derived from the key, so write it under a temporary name
  // first, then link it to its final name.
  std::string tmp = KekDir(dir) + "/new.key";
  CUSTOS_ASSIGN_OR_RETURN(crypto::Kek kek, crypto::CreateKekFile(tmp));
  std::string final_path = KekDir(dir) + "/" + kek.id + ".key";
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return Internal("cannot rename " + tmp + " to " + final_path);
  }
  CUSTOS_RETURN_IF_ERROR(WriteNewFile(CurrentPath(dir), kek.id + "\n", 0600));

  std::string vkeys;
  CUSTOS_ASSIGN_OR_RETURN(crypto::KeyPair ed, crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519));
  CUSTOS_RETURN_IF_ERROR(ed.SavePrivateKeyFile(Ed25519Path(dir)));
  CUSTOS_ASSIGN_OR_RETURN(crypto::note::KeySigner ed_signer, crypto::note::KeySigner::Create(origin, ed));
  vkeys += ed_signer.VerifierKey() + "\n";
  if (suite == crypto::Suite::kGm) {
    CUSTOS_ASSIGN_OR_RETURN(crypto::KeyPair sm2, crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kSm2Sm3));
    CUSTOS_RETURN_IF_ERROR(sm2.SavePrivateKeyFile(Sm2Path(dir)));
    CUSTOS_ASSIGN_OR_RETURN(crypto::note::KeySigner sm2_signer, crypto::note::KeySigner::Create(origin, sm2));
    vkeys += sm2_signer.VerifierKey() + "\n";
  }
  CUSTOS_RETURN_IF_ERROR(WriteRowSealKey(RowSealKeyPath(dir)));
  return WriteNewFile(VkeyPath(dir), vkeys, 0644);
}

bool Keyring::HasRowSealKey(const DataDir& dir) {
  return FileExists(RowSealKeyPath(dir)) || FileExists(PendingRowSealKeyPath(dir));
}

Status Keyring::PrepareRowSealKey(const DataDir& dir) {
  CUSTOS_RETURN_IF_ERROR(WriteRowSealKey(PendingRowSealKeyPath(dir)));
  return FsyncDirectory(dir.KeysDir());
}

Status Keyring::DiscardPendingRowSealKey(const DataDir& dir) {
  const std::string path = PendingRowSealKeyPath(dir);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("cannot remove", path, errno);
  return FsyncDirectory(dir.KeysDir());
}

Status Keyring::CommitRowSealKey(const DataDir& dir) {
  const std::string from = PendingRowSealKeyPath(dir);
  if (::rename(from.c_str(), RowSealKeyPath(dir).c_str()) != 0) {
    return ErrnoStatus("cannot rename " + from + " to", RowSealKeyPath(dir), errno);
  }
  return FsyncDirectory(dir.KeysDir());
}

StatusOr<std::unique_ptr<Keyring>> Keyring::Load(const DataDir& dir, const std::string& origin,
                                                 crypto::Suite suite) {
  std::unique_ptr<Keyring> ring(new Keyring());
  ring->suite_ = suite;
  ring->origin_ = origin;

  CUSTOS_ASSIGN_OR_RETURN(std::string current_text, ReadSmallFile(CurrentPath(dir), 256));
  std::string current_id = Trimmed(current_text);
  std::vector<crypto::Kek> retired;
  std::optional<crypto::Kek> current;
  DIR* d = ::opendir(KekDir(dir).c_str());
  if (d == nullptr) return NotFound("no key directory " + KekDir(dir), "keys_missing");
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".key") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    CUSTOS_ASSIGN_OR_RETURN(crypto::Kek kek, crypto::LoadKekFile(KekDir(dir) + "/" + name));
    if (kek.id + ".key" != name) {
      return DataLoss("key file " + name + " does not hold the key its name says", "kek_mismatch");
    }
    if (kek.id == current_id) {
      current = std::move(kek);
    } else {
      retired.push_back(std::move(kek));
    }
  }
  if (!current) return NotFound("the current key " + current_id + " is missing", "kek_unknown");
  CUSTOS_ASSIGN_OR_RETURN(auto provider,
                          crypto::LocalKeyProvider::Create(std::move(*current), std::move(retired)));
  ring->keys_ = std::move(provider);

  CUSTOS_ASSIGN_OR_RETURN(crypto::KeyPair ed, crypto::KeyPair::LoadPrivateKeyFile(Ed25519Path(dir)));
  CUSTOS_ASSIGN_OR_RETURN(crypto::note::KeySigner ed_signer, crypto::note::KeySigner::Create(origin, ed));
  ring->signers_.push_back(std::move(ed_signer));
  if (suite == crypto::Suite::kGm) {
    CUSTOS_ASSIGN_OR_RETURN(crypto::KeyPair sm2, crypto::KeyPair::LoadPrivateKeyFile(Sm2Path(dir)));
    CUSTOS_ASSIGN_OR_RETURN(crypto::note::KeySigner sm2_signer, crypto::note::KeySigner::Create(origin, sm2));
    ring->signers_.push_back(std::move(sm2_signer));
  }
  std::string seal_path = RowSealKeyPath(dir);
  if (!FileExists(seal_path) && FileExists(PendingRowSealKeyPath(dir))) {
    seal_path = PendingRowSealKeyPath(dir);
    ring->seal_key_pending_ = true;
  }
  if (FileExists(seal_path)) {
    CUSTOS_ASSIGN_OR_RETURN(std::string key, ReadSmallFile(seal_path, 1024));
    if (key.size() != RowSealer::kKeySize) {
      return DataLoss("the row seal key " + seal_path + " does not hold " +
                          std::to_string(RowSealer::kKeySize) + " bytes",
                      "row_seal_key_bad");
    }
    ring->sealer_ = std::make_unique<RowSealer>(crypto::Bytes(key.begin(), key.end()));
  }
  return ring;
}

std::string Keyring::KekDirectory(const DataDir& dir) { return KekDir(dir); }

StatusOr<std::vector<std::string>> Keyring::ListKekIds(const DataDir& dir) {
  DIR* d = ::opendir(KekDir(dir).c_str());
  if (d == nullptr) return NotFound("no key directory " + KekDir(dir), "keys_missing");
  std::vector<std::string> ids;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > kKeySuffixLength &&
        name.compare(name.size() - kKeySuffixLength, kKeySuffixLength, kKeySuffix) == 0) {
      ids.push_back(name.substr(0, name.size() - kKeySuffixLength));
    }
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

StatusOr<std::string> Keyring::CurrentKekId(const DataDir& dir) {
  CUSTOS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(CurrentPath(dir), 256));
  return Trimmed(text);
}

StatusOr<std::string> Keyring::AddKek(const DataDir& dir) {
  // As in Create(): the id comes from the key, so the file is written under
  // a temporary name (one Load() ignores) and renamed. A temporary file left
  // by an interrupted call never wrapped anything and is wiped.
  const std::string tmp = KekDir(dir) + "/adding.tmp";
  if (FileExists(tmp)) CUSTOS_RETURN_IF_ERROR(WipeAndUnlink(tmp));
  CUSTOS_ASSIGN_OR_RETURN(crypto::Kek kek, crypto::CreateKekFile(tmp));
  const std::string final_path = KekPath(dir, kek.id);
  if (FileExists(final_path)) {
    (void)WipeAndUnlink(tmp);
    return Internal("a key file " + final_path + " already exists", "kek_file_exists");
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return ErrnoStatus("cannot rename " + tmp + " to", final_path, errno);
  }
  CUSTOS_RETURN_IF_ERROR(FsyncDirectory(KekDir(dir)));
  return kek.id;
}

Status Keyring::SetCurrentKek(const DataDir& dir, const std::string& id) {
  if (id.empty() || !FileExists(KekPath(dir, id))) {
    return NotFound("no key file for KEK \"" + id + "\"", "kek_unknown");
  }
  const std::string tmp = CurrentPath(dir) + ".tmp";
  if (FileExists(tmp) && ::unlink(tmp.c_str()) != 0) {
    return ErrnoStatus("cannot remove", tmp, errno);
  }
  CUSTOS_RETURN_IF_ERROR(WriteNewFile(tmp, id + "\n", 0600));
  if (::rename(tmp.c_str(), CurrentPath(dir).c_str()) != 0) {
    return ErrnoStatus("cannot rename " + tmp + " to", CurrentPath(dir), errno);
  }
  return FsyncDirectory(KekDir(dir));
}

StatusOr<std::vector<std::string>> Keyring::DestroyRetiredKeks(const DataDir& dir) {
  constexpr char kDestroySuffix[] = ".key.destroy";
  constexpr size_t kDestroySuffixLength = sizeof kDestroySuffix - 1;
  CUSTOS_ASSIGN_OR_RETURN(std::string current, CurrentKekId(dir));
  CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListKekIds(dir));
  // 1. Take every retired key out of Load()'s sight in one durable step.
  for (const std::string& id : ids) {
    if (id == current) continue;
    const std::string from = KekPath(dir, id);
    const std::string to = KekDir(dir) + "/" + id + kDestroySuffix;
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus("cannot rename " + from + " to", to, errno);
    }
  }
  CUSTOS_RETURN_IF_ERROR(FsyncDirectory(KekDir(dir)));
  // 2. Wipe whatever is marked for destruction, leftovers included.
  DIR* d = ::opendir(KekDir(dir).c_str());
  if (d == nullptr) return NotFound("no key directory " + KekDir(dir), "keys_missing");
  std::vector<std::string> doomed;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > kDestroySuffixLength &&
        name.compare(name.size() - kDestroySuffixLength, kDestroySuffixLength, kDestroySuffix) ==
            0) {
      doomed.push_back(name.substr(0, name.size() - kDestroySuffixLength));
    }
  }
  ::closedir(d);
  std::sort(doomed.begin(), doomed.end());
  for (const std::string& id : doomed) {
    CUSTOS_RETURN_IF_ERROR(WipeAndUnlink(KekDir(dir) + "/" + id + kDestroySuffix));
  }
  CUSTOS_RETURN_IF_ERROR(FsyncDirectory(KekDir(dir)));
  return doomed;
}

std::vector<const crypto::note::Signer*> Keyring::log_signers() const {
  std::vector<const crypto::note::Signer*> out;
  for (const auto& s : signers_) out.push_back(&s);
  return out;
}

std::vector<const crypto::note::Verifier*> Keyring::log_verifiers() const {
  std::vector<const crypto::note::Verifier*> out;
  for (const auto& s : signers_) out.push_back(&s.verifier());
  return out;
}

std::string Keyring::VerifierKeys() const {
  std::string out;
  for (const auto& s : signers_) out += s.VerifierKey() + "\n";
  return out;
}

StatusOr<std::string> NoteCheckpointSigner::Sign(uint64_t size, const crypto::Digest32& root) {
  crypto::Checkpoint cp;
  cp.origin = origin_;
  cp.size = size;
  cp.root = root;
  CUSTOS_ASSIGN_OR_RETURN(std::string body, crypto::FormatCheckpointBody(cp));
  return crypto::note::Sign(body, signers_);
}

}  // namespace custos::storage
