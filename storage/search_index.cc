#include "storage/search_index.h"

#include "storage/data_dir.h"
#include "storage/key_file.h"

namespace custos::storage {

std::string IndexKeyPath(const DataDir& dir) { return dir.KeysDir() + "/" + kIndexKeyFileName; }

StatusOr<std::unique_ptr<IndexKey>> IndexKey::LoadOrCreate(const DataDir& dir) {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<uint8_t> key, LoadOrCreateKeyFile(IndexKeyPath(dir), kIndexKeySize, "index"));
  auto index_key = std::make_unique<IndexKey>(key);
  crypto::SecureZero(key.data(), key.size());
  return index_key;
}

std::string IndexKey::KeyedToken(std::string_view token) const {
  std::string input;
  input.reserve(kKeyedTokenDomain.size() + token.size());
  input.append(kKeyedTokenDomain);
  input.append(token);
  const crypto::Digest32 mac = mac_.Mac(input);
  return crypto::HexEncode(mac.data(), kKeyedTokenBytes);
}

std::vector<std::string> IndexKey::KeyedTokens(const std::vector<std::string>& tokens) const {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (const std::string& t : tokens) out.push_back(KeyedToken(t));
  return out;
}

std::map<std::string, uint32_t> IndexKey::KeyedFrequencies(const std::map<std::string, uint32_t>& frequencies) const {
  std::map<std::string, uint32_t> out;
  for (const auto& [token, tf] : frequencies) out[KeyedToken(token)] += tf;
  return out;
}

}  // namespace custos::storage
