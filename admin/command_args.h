// Command-line parsing shared by every custosctl command: "--name value"
// options, value-less flags and positional arguments.
//
// Thread safety: a stateless function.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace custos::admin {

struct ParsedArgs {
  std::map<std::string, std::string> options;  // "--name" -> value
  std::set<std::string> flags;                 // "--name" given without a value
  std::vector<std::string> positionals;
};

// Parses `args` against the allowed `options` (each takes exactly one value
// and may appear once) and `flags`. Anything else that starts with '-' is an
// error. Returns nullopt with a one-line `error` ("--data needs a value",
// "--out given twice", "unknown argument '--x'").
std::optional<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                    const std::vector<std::string>& options,
                                    const std::vector<std::string>& flags, std::string& error);

// For commands that take "--data DIR" and nothing else: DIR, or nullopt
// with a one-line `error` (ParseArgs's, "unknown argument '…'" for a
// positional, "--data DIR is required").
std::optional<std::string> ParseDataDirOnly(const std::vector<std::string>& args,
                                            std::string& error);

}  // namespace custos::admin
