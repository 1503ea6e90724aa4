#include "admin/password_input.h"

#include "crypto/bytes.h"
#include "crypto/random.h"
#include "server/services/auth_service.h"
#include "storage/data_dir.h"

namespace custos::admin {

namespace {

// The same upper bound AuthService applies.
constexpr size_t kMaxPasswordLength = 1024;
// Random bytes drawn per round; rejected bytes are redrawn in the next round.
constexpr size_t kRandomBatch = 32;

}  // namespace

StatusOr<std::string> GeneratePassword() {
  const size_t n = kGeneratedPasswordLength;
  const size_t alphabet = kGeneratedPasswordAlphabet.size();
  // Bytes at or above `limit` would favour the first symbols: redraw them.
  const size_t limit = 256 - 256 % alphabet;
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes batch, crypto::RandomBytes(kRandomBatch));
    for (uint8_t b : batch) {
      if (out.size() == n) break;
      if (b < limit) out.push_back(kGeneratedPasswordAlphabet[b % alphabet]);
    }
    crypto::SecureZero(batch.data(), batch.size());
  }
  return out;
}

StatusOr<std::string> ReadPasswordFile(const std::string& path) {
  StatusOr<std::string> text = storage::ReadSmallFile(path, kMaxPasswordFileBytes);
  if (!text.ok()) {
    return InvalidArgument("cannot read password file " + path + ": " + text.status().message(),
                           "password_file_unreadable");
  }
  std::string content = std::move(text).value();
  size_t end = content.find('\n');
  if (end == std::string::npos) end = content.size();
  if (end > 0 && content[end - 1] == '\r') --end;
  std::string password = content.substr(0, end);
  WipeString(content);
  if (password.empty()) {
    return InvalidArgument("password file " + path + " is empty (the first line is the password)",
                           "password_file_empty");
  }
  return password;
}

Status PrecheckPassword(const std::string& username, const std::string& password) {
  const size_t min_length = services::AuthOptions{}.min_password_length;
  if (password.size() < min_length) {
    return Unprocessable("password must have at least " + std::to_string(min_length) +
                             " characters",
                         "weak_password");
  }
  if (password.size() > kMaxPasswordLength) {
    return Unprocessable("password is too long", "weak_password");
  }
  if (password == username) {
    return Unprocessable("password must differ from the username", "weak_password");
  }
  return Status::Ok();
}

void WipeString(std::string& secret) {
  if (!secret.empty()) crypto::SecureZero(secret.data(), secret.size());
  secret.clear();
}

}  // namespace custos::admin
