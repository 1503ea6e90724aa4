#include "crypto/random.h"

#include <openssl/rand.h>

namespace custos::crypto {

Status RandomFill(uint8_t* out, size_t n) {
  if (n == 0) return Status::Ok();
  if (RAND_bytes(out, static_cast<int>(n)) != 1) {
    return Internal("the random number generator failed", "rng_failure");
  }
  return Status::Ok();
}

StatusOr<Bytes> RandomBytes(size_t n) {
  Bytes b(n);
  CUSTOS_RETURN_IF_ERROR(RandomFill(b.data(), b.size()));
  return b;
}

StatusOr<std::string> RandomHexId(size_t n) {
  CUSTOS_ASSIGN_OR_RETURN(Bytes b, RandomBytes(n));
  return HexEncode(b);
}

}  // namespace custos::crypto
