#include "storage/keyring.h"

#include <dirent.h>

#include <algorithm>

namespace custos::storage {

namespace {

std::string KekDir(const DataDir& dir) { return dir.KeysDir() + "/kek"; }
std::string Ed25519Path(const DataDir& dir) { return dir.KeysDir() + "/log-ed25519.pem"; }
std::string Sm2Path(const DataDir& dir) { return dir.KeysDir() + "/log-sm2.pem"; }
std::string VkeyPath(const DataDir& dir) { return dir.KeysDir() + "/log.vkey"; }
std::string CurrentPath(const DataDir& dir) { return KekDir(dir) + "/current"; }

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
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
  return WriteNewFile(VkeyPath(dir), vkeys, 0644);
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
  return ring;
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
