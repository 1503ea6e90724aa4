// custosctl: administration of a Custos data directory without HTTP.
//
// Every command fails with a one-line message on standard error and a
// non-zero exit code on bad arguments, and never prompts.
//   0  success
//   1  the command ran and found problems (verify)
//   2  bad arguments, or the command could not run
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "admin/init.h"
#include "common/config.h"

namespace {

constexpr int kExitUsage = 2;

const char kUsage[] =
    "usage: custosctl COMMAND [OPTIONS]\n"
    "commands:\n"
    "  init --data DIR [--origin NAME] [--suite intl|gm] [--listen HOST:PORT]\n"
    "       [--backend sqlite|postgresql --dsn DSN]\n";

int Fail(const std::string& message) {
  std::cerr << "custosctl: " << message << "\n";
  return kExitUsage;
}

// Parses "--name value" pairs; every option takes exactly one value.
std::optional<std::map<std::string, std::string>> ParseOptions(
    const std::vector<std::string>& args, const std::vector<std::string>& allowed,
    std::string& error) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool known = false;
    for (const auto& name : allowed) known = known || a == name;
    if (!known) {
      error = "unknown argument '" + a + "'";
      return std::nullopt;
    }
    if (i + 1 >= args.size()) {
      error = a + " needs a value";
      return std::nullopt;
    }
    if (out.count(a)) {
      error = a + " given twice";
      return std::nullopt;
    }
    out[a] = args[++i];
  }
  return out;
}

int RunInit(const std::vector<std::string>& args) {
  std::string error;
  auto opts = ParseOptions(
      args, {"--data", "--origin", "--suite", "--listen", "--backend", "--dsn"}, error);
  if (!opts) return Fail("init: " + error);
  if (!opts->count("--data")) return Fail("init: --data DIR is required");

  custos::admin::InitOptions init;
  init.data_dir = opts->at("--data");
  const std::map<std::string, std::string> keys = {{"--origin", "archive.origin"},
                                                   {"--suite", "archive.suite"},
                                                   {"--listen", "server.listen"},
                                                   {"--backend", "storage.backend"},
                                                   {"--dsn", "storage.dsn"}};
  for (const auto& [flag, key] : keys) {
    if (!opts->count(flag)) continue;
    if (auto s = custos::SetConfigValue(init.config, key, opts->at(flag)); !s.ok()) {
      return Fail("init: " + flag + ": " + s.message());
    }
  }
  auto result = custos::admin::InitDataDirectory(init);
  if (!result.ok()) return Fail("init: " + result.status().message());
  std::cout << "Created data directory " << init.data_dir << "\n"
            << "  configuration: " << result->config_file << "\n"
            << "  TLS certificate (self-signed): " << result->certificate << "\n"
            << "Start the server with: custosd --data " << init.data_dir << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Fail(std::string("missing command\n") + kUsage);
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "init") return RunInit(args);
  return Fail("unknown command '" + command + "'\n" + kUsage);
}
