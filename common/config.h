// Configuration of one Custos installation: a typed struct read once from
// DIR/custos.conf at start and passed down by reference (no globals).
//
// File format: UTF-8 text, one `key = value` per line; `#` starts a comment
// line; blank lines are ignored. Every key is optional (defaults below); an
// unknown key, a repeated key or a bad value is an error naming the line.
// docs/operations.md lists every key.
//
// Thread safety: a Config is a plain value; after start-up it is only read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custos {

struct ListenAddress {
  std::string host = "127.0.0.1";  // IPv4 or IPv6 literal, or "localhost"
  uint16_t port = 8443;            // 0 = any free port (tests)
  std::string ToString() const;    // "127.0.0.1:8443", "[::1]:8443"
};

// Parses "HOST:PORT" or "[V6]:PORT". The error names the text.
StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

// Parses a duration: whole seconds ("90") or a whole number with one unit,
// s, m, h or d ("30s", "15m", "24h", "7d"). kInvalidArgument
// "config_bad_value" for anything else (fractions, signs, blanks, other
// units, overflow).
StatusOr<int64_t> ParseDurationSeconds(std::string_view text);
// `seconds` in the largest unit that divides it evenly: 604800 → "7d",
// 5400 → "90m", 90 → "90s", 0 → "0s".
std::string FormatDuration(int64_t seconds);

// The least Argon2id memory per password hash that configuration accepts:
// 19 MiB, the smallest setting with two passes that current guidance allows
// (hashes here make three).
inline constexpr uint32_t kMinPasswordMemoryKib = 19 * 1024;

struct Config {
  // server.*
  ListenAddress listen;
  int threads = 512;                         // threads serving connections, one each, made on demand
  int max_queued = 128;                      // accepted connections waiting for a thread
  int64_t max_header_bytes = 16 * 1024;      // all request header lines together
  int64_t max_body_bytes = 4LL << 30;        // any request body (uploads)
  int64_t max_json_bytes = 1 << 20;          // a JSON request body
  bool keep_alive = true;
  int keep_alive_timeout_s = 15;             // idle time before a kept-alive connection closes
  int max_keep_alive_requests = 1000;
  int read_timeout_s = 30;                   // socket send/receive timeout
  int header_timeout_s = 10;                 // a whole request header must arrive in this time
  // A request body must keep up this average rate once header_timeout_s
  // has passed since the header, and arrive whole within body_timeout_s.
  int64_t body_min_rate_bytes_s = 4096;
  int body_timeout_s = 3600;
  // Open connections one client address may hold (IPv6: one /64); 0 means
  // a quarter of `threads` (at least 1). Set, it must be below `threads`.
  int max_connections_per_address = 0;
  int shutdown_grace_s = 20;                 // drain time after SIGTERM before aborting

  // tls.* (relative paths are inside the data directory)
  std::string tls_certificate = "tls/cert.pem";
  std::string tls_private_key = "tls/key.pem";
  // Mutual TLS as a second factor (docs/security.md): CA certificates (PEM)
  // that issue users' client certificates, and an optional CRL (PEM). ""
  // (the default) asks no client for a certificate.
  std::string tls_client_ca;
  std::string tls_client_crl;

  // archive.*
  std::string origin = "custos.local/archive";  // the log's checkpoint origin line
  std::string suite = "intl";                    // "intl" or "gm"

  // storage.*
  std::string storage_backend = "sqlite";        // "sqlite" or "postgresql"
  std::string storage_dsn;                       // PostgreSQL connection string
  // Below this much free space on the data directory's file system /readyz
  // answers 503 (content reads and sign-ins need room for their log entries).
  int64_t min_free_bytes = 256LL << 20;

  // auth.*
  int password_max_age_days = 90;     // then the password must be changed
  int session_idle_minutes = 30;
  int session_absolute_hours = 12;
  int max_failed_logins = 5;
  int lockout_minutes = 15;
  // Argon2id memory per password hash, in KiB (RFC 9106's second
  // recommendation, 64 MiB with three passes, by default). Never below
  // kMinPasswordMemoryKib.
  uint32_t password_memory_kib = 64 * 1024;
  // Roles that must sign in with a second factor (TOTP or a client
  // certificate); domain::Name(Role) values. Staff may enrol one too.
  std::vector<std::string> second_factor_roles = {"sysadmin", "security_officer", "security_auditor",
                                                  "archivist", "approver", "legal"};
  // An account created, reset or granted its role less than this many days
  // ago may not approve a destruction or a shortened retention period.
  int approver_cooling_days = 30;
  // Content read by an account this many days after its set-up, reset or
  // role grant is flagged to the security auditor (0: never).
  int fresh_account_days = 7;
  int setup_code_hours = 72;          // a set-up code expires after this
  int totp_skew_steps = 1;            // TOTP codes accepted this many 30 s steps early or late

  // records.*
  bool reject_invalid_contract_signatures = false;  // else stored and flagged

  // loans.*
  int loan_max_days = 90;             // longest loan (and renewal) from the day it is asked for
  // Classifications whose records a digital borrower reads only as a stamped
  // copy (docs/security.md "Loan copies"); empty: none.
  std::vector<std::string> loan_stamp_classifications = {"confidential", "secret"};
  std::string stamp_worker;           // custos-stamp; "" = next to the custosd binary

  // alerts.*
  std::vector<int> certificate_horizons_days = {90, 30, 7};  // warn this many days ahead

  // destruction.*
  std::vector<std::string> destruction_approver_roles = {"approver", "legal"};  // one each

  // audit.* (durations in seconds; configured as 90, 30s, 15m, 24h or 7d)
  // How often custosd verifies the archive by itself; 0 turns it off.
  int64_t verify_interval_s = 24 * 3600;
  // A scheduled pass reads every blob again when the last such full pass
  // began at least this long ago; the passes between read only the blobs of
  // versions logged since the last clean pass. Not below verify_interval_s.
  int64_t full_verify_interval_s = 7 * 24 * 3600;

  // extraction.* (the content pipeline, docs/search.md "Pipeline")
  bool extraction_enabled = true;     // false: files are queued but not extracted
  std::string extraction_worker;      // custos-extract; "" = next to the custosd binary
  bool extraction_ocr = true;         // OCR of scans and images
  int extraction_timeout_s = 60;      // wall time of one run, then the worker is killed
  int extraction_cpu_s = 30;          // CPU seconds of one run
  int extraction_memory_mb = 1024;    // address space of the worker
  int extraction_max_attempts = 5;    // failed runs of a file before it is failed for good
  int extraction_nice = 10;           // CPU niceness of the pipeline thread and its workers (0..19)

  // log.* (the server's own log)
  std::string log_level = "info";                // "debug", "info", "warn", "error"

  // log.witnesses etc.: who attests the audit log's checkpoints
  // (docs/operations.md "Witnesses and timestamps").
  // Witnesses, each "<verifier key> <url>" (C2SP tlog-witness; the key as
  // docs/formats/cosignature.md writes it, the url the witness's prefix).
  std::vector<std::string> witnesses;
  // At least this many of the witnesses must have cosigned the newest
  // attested checkpoint for verify to accept it; -1: 1 when witnesses are
  // configured, else 0. Never above the number of witnesses.
  int witness_policy = -1;
  std::string witness_ca;             // PEM roots for https witnesses; "" = the system's
  // Time-stamping authorities, each "<name> <url>" (RFC 3161 over HTTP).
  std::vector<std::string> tsas;
  std::string tsa_ca;                 // PEM roots that verify accepts for timestamp tokens
  // At most one timestamp per this interval (0: every new checkpoint).
  int64_t timestamp_interval_s = 3600;
  // Entry bundles of the tiles read API (/log/tile/entries/…) without a
  // session; false: only signed-in log readers get them (hash tiles and the
  // checkpoint stay public). docs/formats/tiles.md.
  bool public_entries = true;
};

// The witness policy in force: witness_policy, or its default.
int WitnessPolicy(const Config& config);

// The per-address connection cap in force: max_connections_per_address, or
// its automatic value when that is 0.
int ConnectionsPerAddress(const Config& config);

// Parses configuration text, starting from the defaults above.
StatusOr<Config> ParseConfig(std::string_view text);

// Sets one key as if it appeared in the file (used for command-line flags).
Status SetConfigValue(Config& config, std::string_view key, std::string_view value);

// Checks values that depend on each other; ParseConfig calls it.
Status ValidateConfig(const Config& config);

// The commented configuration file `custosctl init` writes: every key with
// its value from `config` and a one-line explanation.
std::string FormatConfigFile(const Config& config);

// Every known key, in file order.
std::vector<std::string> ConfigKeys();

}  // namespace custos
