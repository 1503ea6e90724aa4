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

}  // namespace

std::string RowSealer::Seal(const RowImage& image) const {
  return crypto::HexEncode(mac_.Mac(SealInput(image)));
}

bool RowSealer::Check(const RowImage& image, std::string_view mac) const {
  const std::string want = Seal(image);
  return mac.size() == want.size() && CRYPTO_memcmp(mac.data(), want.data(), want.size()) == 0;
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
