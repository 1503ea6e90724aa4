// The custosctl under test, and probes shared by the admin suites of what
// it printed and of what it left on disk: refusals (exit code 2 and one
// line on stderr), values on stdout, file modes, and polling for a
// condition.
//
// Thread safety: stateless functions.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {

// The custosctl program under test.
inline std::string Ctl() { return BinDir() + "/custosctl"; }

// How often `needle` occurs in `haystack` (without overlaps).
inline size_t CountOf(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// True if `err` is exactly one line: how custosctl reports a failure.
inline bool OneLine(const std::string& err) {
  return CountOf(err, "\n") == 1 && !err.empty() && err.back() == '\n';
}

// Success if custosctl refused: exit code `exit_code` (2 by default) and one
// line on stderr that contains `says` (when given).
inline ::testing::AssertionResult Refused(const RunResult& r, const std::string& says = "",
                                          int exit_code = 2) {
  if (r.exit_code != exit_code) {
    return ::testing::AssertionFailure() << "exit code " << r.exit_code << ", expected "
                                         << exit_code << "; stdout: " << r.out
                                         << "; stderr: " << r.err;
  }
  if (!OneLine(r.err)) return ::testing::AssertionFailure() << "not one line: " << r.err;
  if (r.err.find(says) == std::string::npos) {
    return ::testing::AssertionFailure() << "stderr does not say '" << says << "': " << r.err;
  }
  return ::testing::AssertionSuccess();
}

// The rest of the first line of `out` that starts with `prefix`, if any.
inline std::optional<std::string> LineValue(const std::string& out, const std::string& prefix) {
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  return std::nullopt;
}

// True if `text` has a line starting with `prefix`.
inline bool HasLineStartingWith(const std::string& text, const std::string& prefix) {
  return LineValue(text, prefix).has_value();
}

// The permission bits of `path` (fails the test if it cannot be read).
inline unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Polls `done` every 10 ms until it holds or `timeout_ms` passes.
template <typename F>
bool WaitFor(F done, int timeout_ms = 30000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace custos::testing
