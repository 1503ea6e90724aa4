// Running the Python 3 tools of tests/tools/ from a test (python3 is part of
// the build machine; the tools use its standard library only).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace custos::testing {

// The first python3 on PATH (execv needs a path).
inline std::string Python() {
  const char* path = std::getenv("PATH");
  const std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t at = 0; at <= dirs.size();) {
    const size_t colon = dirs.find(':', at);
    const std::string dir = dirs.substr(at, colon == std::string::npos ? std::string::npos : colon - at);
    const std::string candidate = dir + "/python3";
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  return "/usr/bin/python3";
}

}  // namespace custos::testing
