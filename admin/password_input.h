// Passwords as custosctl handles them: generated for a new account, or read
// from a file the operator prepared. custosctl never prompts and never reads
// standard input.
//
// The password rules themselves (minimum length, different from the
// username) belong to services::AuthService, which enforces them when it
// creates the account; PrecheckPassword applies the same rules earlier, so
// that `custosctl init` can refuse a weak password before it creates anything.
//
// Thread safety: all functions are thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace custos::admin {

// Length of a generated password.
inline constexpr size_t kGeneratedPasswordLength = 18;
// Letters and digits without the look-alikes 0/O/o, 1/l/I: a generated
// password can be read from a terminal or a printout without guessing.
// 56 symbols, so 18 of them carry about 104 bits.
inline constexpr std::string_view kGeneratedPasswordAlphabet =
    "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
// A password file larger than this is refused (it is not a password file).
inline constexpr size_t kMaxPasswordFileBytes = 4096;

// kGeneratedPasswordLength characters drawn uniformly from
// kGeneratedPasswordAlphabet with the OS CSPRNG (crypto/random.h). Fails only
// if the CSPRNG fails ("rng_failure" or what crypto reports).
StatusOr<std::string> GeneratePassword();

// The first line of the file at `path`, without its line ending ("\n" or
// "\r\n"). Fails with kInvalidArgument "password_file_unreadable" if the file
// cannot be read or is larger than kMaxPasswordFileBytes, and
// "password_file_empty" if the first line is empty. Messages name the path,
// never the content.
StatusOr<std::string> ReadPasswordFile(const std::string& path);

// The rules of services::AuthService with its default options: at least
// AuthOptions::min_password_length characters, at most 1024, and not equal
// to `username`. kUnprocessable "weak_password" with a message saying which
// rule failed (never the password).
Status PrecheckPassword(const std::string& username, const std::string& password);

// Overwrites the characters of `secret` (SecureZero) and clears it.
void WipeString(std::string& secret);

}  // namespace custos::admin
