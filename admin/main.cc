// custosctl: administration of a Custos data directory without HTTP.
//
// Every command fails with a one-line message on standard error and a
// non-zero exit code on bad arguments, and never prompts.
//   0  success
//   1  the command ran and found problems (verify)
//   2  bad arguments, or the command could not run
#include <signal.h>

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "admin/init.h"
#include "admin/verify.h"
#include "storage/archive.h"
#include "storage/data_dir.h"
#include "common/config.h"

namespace {

constexpr int kExitUsage = 2;

const char kUsage[] =
    "usage: custosctl COMMAND [OPTIONS]\n"
    "commands:\n"
    "  init --data DIR [--origin NAME] [--suite intl|gm] [--listen HOST:PORT]\n"
    "       [--backend sqlite|postgresql --dsn DSN]\n"
    "  verify --data DIR [--json]   offline check: exit 0 clean, 1 findings, 2 could not run\n";

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

// Loads DIR/custos.conf.
std::optional<custos::Config> LoadConfig(const custos::storage::DataDir& dir, std::string& error) {
  auto text = custos::storage::ReadSmallFile(dir.ConfigFile());
  if (!text.ok()) {
    error = text.status().message();
    return std::nullopt;
  }
  auto config = custos::ParseConfig(*text);
  if (!config.ok()) {
    error = dir.ConfigFile() + ": " + config.status().message();
    return std::nullopt;
  }
  return std::move(config).value();
}

int RunVerify(const std::vector<std::string>& args) {
  bool json = false;
  std::vector<std::string> rest;
  for (const auto& a : args) {
    if (a == "--json") {
      json = true;
    } else {
      rest.push_back(a);
    }
  }
  std::string error;
  auto opts = ParseOptions(rest, {"--data"}, error);
  if (!opts) return Fail("verify: " + error);
  if (!opts->count("--data")) return Fail("verify: --data DIR is required");
  custos::storage::DataDir dir(opts->at("--data"));
  auto config = LoadConfig(dir, error);
  if (!config) return Fail("verify: " + error);
  auto archive = custos::storage::ArchiveStorage::Open(dir, *config);
  if (!archive.ok()) return Fail("verify: cannot open the archive: " + archive.status().message());
  auto report = (*archive)->Verify();
  if (!report.ok()) return Fail("verify: could not run: " + report.status().message());
  if (json) {
    std::cout << custos::admin::ReportJson(*report) << "\n";
  } else {
    custos::admin::PrintReport(*report, std::cout);
  }
  return report->clean() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGXFSZ, SIG_IGN);  // a file-size limit is reported as storage full
  if (argc < 2) return Fail(std::string("missing command\n") + kUsage);
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "init") return RunInit(args);
  if (command == "verify") return RunVerify(args);
  return Fail("unknown command '" + command + "'\n" + kUsage);
}
