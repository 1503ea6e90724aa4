#include "storage/row_seal.h"

#include <openssl/crypto.h>

#include <mutex>

namespace custos::storage {

namespace {

std::mutex observer_mu;
RowIntegrityObserver& Observer() {  // GUARDED_BY(observer_mu)
  static auto* observer = new RowIntegrityObserver();  // never destroyed: threads may report at exit
  return *observer;
}

// The 32 bytes that 64 lower-case hex digits name; false for anything else.
bool FromLowerHex(std::string_view hex, crypto::Digest32& out) {
  if (hex.size() != 2 * out.size()) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

std::string RowSealer::Seal(const RowImage& image) const {
  return crypto::HexEncode(mac_.Mac(SealInput(image)));
}

bool RowSealer::Check(const RowImage& image, std::string_view mac) const {
  // Compared as bytes: nothing is allocated for the stored seal.
  crypto::Digest32 stored{};
  if (!FromLowerHex(mac, stored)) return false;
  const crypto::Digest32 want = mac_.Mac(SealInput(image));
  return CRYPTO_memcmp(stored.data(), want.data(), want.size()) == 0;
}

void SetRowIntegrityObserver(RowIntegrityObserver observer) {
  std::lock_guard<std::mutex> lock(observer_mu);
  Observer() = std::move(observer);
}

Status RowIntegrityError(const std::string& table, const std::string& key) {
  RowIntegrityObserver observer;
  {
    std::lock_guard<std::mutex> lock(observer_mu);
    observer = Observer();
  }
  if (observer) observer(table, key);
  return DataLoss("row " + key + " of table " + table + " fails its seal: the database was changed "
                  "outside the server",
                  "row_integrity");
}

}  // namespace custos::storage
