// Byte strings and their text encodings, shared by every crypto component.
//
// Bytes is a plain std::vector<uint8_t>; SecretBytes is the same but wipes
// itself on destruction (use it for keys and other secrets). Digest32 is a
// 32-byte hash value (SHA-256, SM3, Merkle tree nodes).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace custos::crypto {

using Bytes = std::vector<uint8_t>;
using Digest32 = std::array<uint8_t, 32>;

// Overwrites `n` bytes at `p` in a way the compiler may not elide.
void SecureZero(void* p, size_t n);

// A byte buffer for secret material: movable, not copyable, wiped when
// destroyed or cleared.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n) : data_(n, 0) {}
  explicit SecretBytes(Bytes b) : data_(std::move(b)) {}
  SecretBytes(const uint8_t* p, size_t n) : data_(p, p + n) {}
  ~SecretBytes() { Clear(); }
  SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)) { o.data_.clear(); }
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      Clear();
      data_ = std::move(o.data_);
      o.data_.clear();
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  // An explicit copy (the type forbids accidental ones).
  SecretBytes Clone() const { return SecretBytes(data_.data(), data_.size()); }
  void Clear() {
    if (!data_.empty()) SecureZero(data_.data(), data_.size());
    data_.clear();
  }

 private:
  Bytes data_;
};

// Standard base64 (RFC 4648 §4) with padding.
std::string Base64Encode(const uint8_t* p, size_t n);
inline std::string Base64Encode(const Bytes& b) { return Base64Encode(b.data(), b.size()); }
inline std::string Base64Encode(const Digest32& d) { return Base64Encode(d.data(), d.size()); }
inline std::string Base64Encode(std::string_view s) {
  return Base64Encode(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
// Strict decoding: padding required, no whitespace, no other alphabet.
// Returns nullopt on any malformed input.
std::optional<Bytes> Base64Decode(std::string_view text);

// Lower-case hex.
std::string HexEncode(const uint8_t* p, size_t n);
inline std::string HexEncode(const Bytes& b) { return HexEncode(b.data(), b.size()); }
inline std::string HexEncode(const Digest32& d) { return HexEncode(d.data(), d.size()); }
// Accepts upper or lower case; nullopt on odd length or a non-hex digit.
std::optional<Bytes> HexDecode(std::string_view text);

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(const Bytes& b) { return std::string(b.begin(), b.end()); }

// Constant-time comparison of equal-length buffers; false if lengths differ.
bool ConstantTimeEquals(const uint8_t* a, size_t an, const uint8_t* b, size_t bn);

}  // namespace custos::crypto
