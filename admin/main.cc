// custosctl: administration of a Custos data directory without HTTP.
//
// Every command fails with a one-line message on standard error and a
// non-zero exit code on bad arguments, and never prompts.
//   0  success
//   1  the command ran and found problems (verify)
//   2  bad arguments, or the command could not run
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "admin/command_args.h"
#include "admin/evidence_command.h"
#include "admin/export_command.h"
#include "admin/backup_command.h"
#include "admin/import_command.h"
#include "admin/init.h"
#include "admin/keys_command.h"
#include "admin/migrate_command.h"
#include "admin/open_archive.h"
#include "admin/package_verify.h"
#include "admin/password_input.h"
#include "admin/promote_command.h"
#include "admin/reindex_command.h"
#include "admin/trace_command.h"
#include "admin/user_command.h"
#include "admin/verify.h"
#include "common/config.h"
#include "storage/archive.h"
#include "storage/data_dir.h"

namespace {

constexpr int kExitUsage = 2;

const char kUsage[] =
    "usage: custosctl COMMAND [OPTIONS]\n"
    "commands:\n"
    "  init --data DIR [--origin NAME] [--suite intl|gm] [--listen HOST:PORT]\n"
    "       [--backend sqlite|postgresql --dsn DSN] [--admin-password-file F]\n"
    "       [--security-officer-password-file G]\n"
    "       creates DIR and the first two of the three administrative roles\n"
    "       (docs/security.md), both in department administration:\n"
    "         admin     sysadmin (系统管理员): accounts, departments; grants no rights\n"
    "         security  security_officer (安全保密员): set-up codes, role grants, unlocks\n"
    "       each password is the first line of F (admin) or G (security), or is\n"
    "       generated and printed once, as 'admin password: ...' and as\n"
    "       'security officer password: ...', and must be changed at first sign-in;\n"
    "       both also enrol a second factor (TOTP) at first sign-in. Give the two\n"
    "       accounts to two different people; the security auditor (安全审计员) is\n"
    "       granted later\n"
    "  user add NAME --role R --department D --data DIR [--password-file F]\n"
    "       [--no-force-change]\n"
    "       the machine operator's path (first set-up, recovery): any role, no\n"
    "       set-up code, no second person; logged with actor custosctl. R is one of\n"
    "       sysadmin security_officer security_auditor archivist approver legal\n"
    "       staff auditor (the pre-split role 'admin' is refused); D is created if\n"
    "       missing; the password is the first line of F, or is generated and\n"
    "       printed once as 'password for NAME: ...'; the user must change it at\n"
    "       first sign-in unless F is given with --no-force-change\n"
    "  verify --data DIR [--json]   offline check: exit 0 clean, 1 findings, 2 could not run\n"
    "       [--witness VKEY]... [--witness-policy N] [--tsa-ca FILE]: checkpoint\n"
    "       attestations (default: the data directory's log.witnesses, policy, tsa_ca)\n"
    "  backup --data DIR --out DEST [--include-keys]\n"
    "       online copy of an archive (custosd may run) into the new directory DEST;\n"
    "       keys/ only with --include-keys, otherwise back it up separately\n"
    "  restore --from DEST (or --in DEST) --data NEWDIR [--keys KEYSDIR]\n"
    "       restores a backup into a new directory with the backup's keys or a copy\n"
    "       of keys/, then verifies it: exit 0 clean, 1 findings, 2 could not run\n"
    "       (the restored copy serves reads and signs nothing until promoted)\n"
    "  promote --data DIR   makes a restored or copied SQLite data directory the copy\n"
    "       that signs the log (logged as log.promote; custosd must be stopped there;\n"
    "       run it only once the original is stopped for good)\n"
    "  import --data DIR [--as USER] [--dry-run] [--json] [--max-file-bytes N]\n"
    "         [--max-total-bytes N] [--name-encoding utf-8|gbk] BATCH\n"
    "       bulk check-in of a zip or tar batch with manifest.csv or manifest.json\n"
    "       (docs/import.md) as archivist USER (default: the log names\n"
    "       system:import); N takes K/M/G/T (default 4G, 64G); --name-encoding gbk\n"
    "       reads names not marked UTF-8 (Chinese Windows zip tools) and a non-UTF-8\n"
    "       manifest.csv as GBK:\n"
    "       exit 0 imported, 1 refused (nothing imported), 2 could not run\n"
    "  keys rotate --data DIR   new KEK, every data key re-wrapped, old KEK destroyed\n"
    "       (custosd must be stopped; an interrupted rotation resumes when rerun;\n"
    "       it does not touch the index key: see reindex --new-index-key)\n"
    "  reindex --data DIR [--rebuild] [--new-index-key]\n"
    "       extracts and indexes the text of stored files offline (custosd must be\n"
    "       stopped): works off the queue and every file never looked at;\n"
    "       --rebuild drops the content index and the file texts and redoes every\n"
    "       live record; --new-index-key also replaces keys/index.key (the index\n"
    "       key's rotation); an interrupted run continues when run again without\n"
    "       flags; prints counts\n"
    "  export --data DIR --out FILE [--records ID,...] [--query TEXT] [--type T]\n"
    "       [--format tar.gz|zip] [--metadata-only] [--name NAME]\n"
    "       writes an audit package (BagIt) of the chosen records\n"
    "  evidence RECORD --data DIR --out FILE\n"
    "       writes the evidence bundle (BagIt zip) of one record: its originals,\n"
    "       signature results, custody events with inclusion proofs, the checkpoint\n"
    "       and a bilingual summary\n"
    "  migrate --from DIR --to DSN\n"
    "       moves the archive's metadata and log from SQLite to an empty PostgreSQL\n"
    "       database (DSN: postgresql://USER@HOST:PORT/DB or 'host=… dbname=…'),\n"
    "       verifying the log root before and after (custosd must be stopped)\n"
    "  verify-package PKG --vkey KEY [--json] [--witness VKEY]... [--witness-policy N]\n"
    "       [--tsa-ca FILE]\n"
    "       checks an audit package or an evidence bundle offline against the\n"
    "       log's verifier key:\n"
    "       exit 0 clean, 1 findings, 2 could not run\n"
    "  trace FILE --data DIR\n"
    "       names the loan, borrower and log entry of a stamped loan copy found\n"
    "       outside (by its SHA-256; custosd may run): exit 0 found, 1 no loan copy\n"
    "       with this SHA-256, 2 could not run\n";

int Fail(const std::string& message) {
  std::cerr << "custosctl: " << message << "\n";
  return kExitUsage;
}

using CommandLine = custos::admin::ParsedArgs;
using custos::admin::ParseArgs;

// Parses "--name value" pairs only; every option takes exactly one value.
std::optional<std::map<std::string, std::string>> ParseOptions(
    const std::vector<std::string>& args, const std::vector<std::string>& allowed,
    std::string& error) {
  auto line = ParseArgs(args, allowed, {}, error);
  if (!line) return std::nullopt;
  if (!line->positionals.empty()) {
    error = "unknown argument '" + line->positionals.front() + "'";
    return std::nullopt;
  }
  return std::move(line->options);
}

// Reads the password file named by option `flag`, if given, into `out`.
// An error message names the option and the path, never the content.
bool ReadPasswordOption(const std::map<std::string, std::string>& opts, const std::string& flag,
                        std::optional<std::string>& out, std::string& error) {
  if (!opts.count(flag)) return true;
  auto password = custos::admin::ReadPasswordFile(opts.at(flag));
  if (!password.ok()) {
    error = flag + ": " + password.status().message();
    return false;
  }
  out = std::move(password).value();
  return true;
}

// Prints how one of init's accounts signs in: a generated password once, or
// the file it came from.
void PrintFirstPassword(std::optional<std::string>& generated, const std::string& label,
                        const std::map<std::string, std::string>& opts, const std::string& flag) {
  if (generated) {
    std::cout << label << " password: " << *generated << "\n"
              << "  (shown only this once; it must be changed at first sign-in)\n";
    custos::admin::WipeString(*generated);
  } else {
    std::cout << "  the " << label << " signs in with the password from " << opts.at(flag) << "\n";
  }
}

int RunInit(const std::vector<std::string>& args) {
  std::string error;
  auto opts = ParseOptions(args,
                           {"--data", "--origin", "--suite", "--listen", "--backend", "--dsn",
                            "--admin-password-file", "--security-officer-password-file",
                           "--password-memory-kib"},
                           error);
  if (!opts) return Fail("init: " + error);
  if (!opts->count("--data")) return Fail("init: --data DIR is required");

  custos::admin::InitOptions init;
  init.data_dir = opts->at("--data");
  const std::map<std::string, std::string> keys = {{"--origin", "archive.origin"},
                                                   {"--suite", "archive.suite"},
                                                   {"--listen", "server.listen"},
                                                   {"--backend", "storage.backend"},
                                                   {"--dsn", "storage.dsn"},
                                                   {"--password-memory-kib", "auth.password_memory_kib"}};
  for (const auto& [flag, key] : keys) {
    if (!opts->count(flag)) continue;
    if (auto s = custos::SetConfigValue(init.config, key, opts->at(flag)); !s.ok()) {
      return Fail("init: " + flag + ": " + s.message());
    }
  }
  auto wipe = [&] {
    if (init.admin_password) custos::admin::WipeString(*init.admin_password);
    if (init.security_officer_password) {
      custos::admin::WipeString(*init.security_officer_password);
    }
  };
  if (!ReadPasswordOption(*opts, "--admin-password-file", init.admin_password, error) ||
      !ReadPasswordOption(*opts, "--security-officer-password-file",
                          init.security_officer_password, error)) {
    wipe();
    return Fail("init: " + error);
  }
  auto result = custos::admin::InitDataDirectory(init);
  wipe();
  if (!result.ok()) return Fail("init: " + result.status().message());
  const std::string_view department = custos::admin::kFirstAdminDepartment;
  std::cout << "Created data directory " << init.data_dir << "\n"
            << "  configuration: " << result->config_file << "\n"
            << "  TLS certificate (self-signed): " << result->certificate << "\n"
            << "  first admin: " << result->admin_username << " (role "
            << custos::admin::kFirstAdminRole << ", department " << department << ")\n"
            << "  first security officer: " << result->security_officer_username << " (role "
            << custos::admin::kFirstSecurityOfficerRole << ", department " << department << ")\n";
  PrintFirstPassword(result->generated_admin_password, "admin", *opts, "--admin-password-file");
  PrintFirstPassword(result->generated_security_officer_password, "security officer", *opts,
                     "--security-officer-password-file");
  std::cout << "Give the two accounts to two different people; each enrols a second factor\n"
               "(TOTP) at first sign-in. docs/security.md says how to fill the three roles.\n"
            << "Start the server with: custosd --data " << init.data_dir << "\n";
  return 0;
}

int RunUserAdd(const std::vector<std::string>& args) {
  std::string error;
  auto line = ParseArgs(args, {"--data", "--role", "--department", "--password-file"},
                               {"--no-force-change"}, error);
  if (!line) return Fail("user add: " + error);
  if (line->positionals.size() != 1) return Fail("user add: exactly one user NAME is required");
  for (const char* required : {"--data", "--role", "--department"}) {
    if (!line->options.count(required)) {
      return Fail(std::string("user add: ") + required + " is required");
    }
  }
  const bool has_file = line->options.count("--password-file") > 0;
  if (line->flags.count("--no-force-change") && !has_file) {
    return Fail("user add: --no-force-change needs --password-file (a generated password must be "
                "changed)");
  }
  custos::admin::AddUserOptions add;
  add.data_dir = line->options.at("--data");
  add.username = line->positionals.front();
  add.role = line->options.at("--role");
  add.department = line->options.at("--department");
  add.must_change_password = !line->flags.count("--no-force-change");
  if (has_file) {
    auto password = custos::admin::ReadPasswordFile(line->options.at("--password-file"));
    if (!password.ok()) return Fail("user add: " + password.status().message());
    add.password = std::move(password).value();
  }
  auto result = custos::admin::AddUser(add);
  if (add.password) custos::admin::WipeString(*add.password);
  if (!result.ok()) return Fail("user add: " + result.status().message());
  std::cout << "Created user " << add.username << " (role " << add.role << ", department "
            << add.department << ")\n";
  if (result->generated_password) {
    std::cout << "password for " << add.username << ": " << *result->generated_password << "\n";
    custos::admin::WipeString(*result->generated_password);
  }
  if (result->user.must_change_password) {
    std::cout << "  the password must be changed at first sign-in\n";
  }
  return 0;
}

int RunUser(const std::vector<std::string>& args) {
  if (args.empty()) return Fail(std::string("user: missing subcommand (add)\n") + kUsage);
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "add") return RunUserAdd(rest);
  return Fail("user: unknown subcommand '" + args[0] + "' (expected: add)");
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
  custos::admin::AttestationFlags attest;
  if (!custos::admin::TakeAttestationFlags(rest, attest, error)) return Fail("verify: " + error);
  auto opts = ParseOptions(rest, {"--data"}, error);
  if (!opts) return Fail("verify: " + error);
  if (!opts->count("--data")) return Fail("verify: --data DIR is required");
  auto policy = custos::admin::AttestationPolicyFor(opts->at("--data"), attest);
  if (!policy.ok()) return Fail("verify: " + policy.status().message());
  auto archive = custos::admin::OpenArchive(opts->at("--data"));
  if (!archive.ok() && archive.status().code() == custos::ErrorCode::kDataLoss) {
    // Damaged stored data that stops the archive from opening (a key file
    // that no longer matches its name) is a finding, not a failure to run.
    custos::storage::VerifyReport damaged;
    damaged.findings.push_back({opts->at("--data") + "/keys", archive.status().message(),
                                archive.status().reason()});
    if (json) {
      std::cout << custos::admin::ReportJson(damaged) << "\n";
    } else {
      custos::admin::PrintReport(damaged, std::cout);
    }
    return 1;
  }
  if (!archive.ok()) return Fail("verify: " + archive.status().message());
  auto report = (*archive)->Verify();
  if (!report.ok()) return Fail("verify: could not run: " + report.status().message());
  if (auto st = custos::admin::CheckStoredAttestations((*archive)->store(), *policy, *report); !st.ok()) {
    return Fail("verify: could not run: " + st.message());
  }
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
  if (command == "user") return RunUser(args);
  if (command == "verify") return RunVerify(args);
  if (command == "backup") return custos::admin::RunBackup(args);
  if (command == "restore") return custos::admin::RunRestore(args);
  if (command == "promote") return custos::admin::RunPromote(args);
  if (command == "keys") return custos::admin::RunKeys(args);
  if (command == "reindex") return custos::admin::RunReindex(args);
  if (command == "import") return custos::admin::RunImport(args);
  if (command == "export") return custos::admin::RunExport(args);
  if (command == "evidence") return custos::admin::RunEvidence(args);
  if (command == "migrate") return custos::admin::RunMigrate(args, std::cout, std::cerr);
  if (command == "verify-package") return custos::admin::RunVerifyPackage(args);
  if (command == "trace") return custos::admin::RunTrace(args);
  return Fail("unknown command '" + command + "'\n" + kUsage);
}
