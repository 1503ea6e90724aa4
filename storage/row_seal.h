// Row seals: every row of an authority table (storage/row_image.h) carries
// `mac` = lower-hex HMAC-SHA256(seal key, SealInput(ImageOf(row, kSeal))).
// The seal key is DATA/keys/row-seal.key (storage/keyring.h), never in the
// database, so whoever can write the database but cannot read the key
// directory can change, forge or move no row without the next read of it
// failing. The repositories (storage/sql_repositories.cc) seal every row
// they write and check every row they read; a row that fails is never
// returned: the read fails with RowIntegrityError(). Deleting a row is
// not caught here (the state replay finds it). docs/security.md
// "Row seals".
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/hmac.h"
#include "storage/row_image.h"

namespace custos::storage {

// Seals and checks rows under one key. Thread safety: immutable; share
// freely (Seal and Check may run on any number of threads at once).
class RowSealer {
 public:
  static constexpr size_t kKeySize = 32;

  // `key` must be kKeySize bytes (any length works; the file holds 32).
  explicit RowSealer(const crypto::Bytes& key) : mac_(key) {}

  // The seal of `image` (a kSeal image): 64 lower-case hex digits.
  [[nodiscard]] std::string Seal(const RowImage& image) const;
  // The seal of `image` as its 32 bytes (the set seals, storage/row_set.h,
  // XOR them).
  [[nodiscard]] crypto::Digest32 SealBytes(const RowImage& image) const { return mac_.Mac(SealInput(image)); }
  // Whether `mac` is the seal of `image` (compared in constant time).
  [[nodiscard]] bool Check(const RowImage& image, std::string_view mac) const;

 private:
  crypto::HmacSha256 mac_;
};

// Called once per row whose seal fails, with the table and the row's key
// (never its values). custosd counts, logs and raises an alert from it.
using RowIntegrityObserver = std::function<void(const std::string& table, const std::string& key)>;

// Sets the process-wide observer (empty: none). Call it before the stores
// serve; it may be called from any thread.
void SetRowIntegrityObserver(RowIntegrityObserver observer);

// Reports a row whose seal failed to the observer and returns the error
// every such read fails with: kDataLoss "row_integrity", naming the table
// and the key.
[[nodiscard]] Status RowIntegrityError(const std::string& table, const std::string& key);

}  // namespace custos::storage
