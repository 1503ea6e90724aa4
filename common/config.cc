#include "common/config.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>
#include <utility>
#include <sstream>

namespace custos {

namespace {

Status BadValue(std::string_view key, std::string_view value, std::string_view expected) {
  return InvalidArgument("bad value for " + std::string(key) + ": '" + std::string(value) +
                             "' (expected " + std::string(expected) + ")",
                         "config_bad_value");
}

template <typename Int>
Status ParseInt(std::string_view key, std::string_view value, Int min, Int max, Int& out) {
  Int v{};
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || v < min || v > max) {
    return BadValue(key, value,
                    "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  out = v;
  return Status::Ok();
}

// The items of a comma-separated value, blanks around each removed.
std::vector<std::string_view> CommaItems(std::string_view value) {
  std::vector<std::string_view> items;
  size_t start = 0;
  for (;;) {
    size_t comma = value.find(',', start);
    std::string_view item = value.substr(start, comma == std::string_view::npos ? value.npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    items.push_back(item);
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

// A comma-separated list of integers in [min, max], at least one.
Status ParseIntList(std::string_view key, std::string_view value, int min, int max,
                    std::vector<int>& out) {
  std::vector<int> list;
  for (std::string_view item : CommaItems(value)) {
    int v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || v < min || v > max) {
      return BadValue(key, value, "comma-separated integers from " + std::to_string(min) + " to " +
                                      std::to_string(max));
    }
    list.push_back(v);
  }
  out = std::move(list);
  return Status::Ok();
}

// Two or more of approver, legal, archivist, auditor (not admin, not staff).
Status ParseRoleList(std::string_view key, std::string_view value, std::vector<std::string>& out) {
  std::vector<std::string> list;
  for (std::string_view item : CommaItems(value)) {
    if (item != "approver" && item != "legal" && item != "archivist" && item != "auditor") {
      return BadValue(key, value, "two or more of approver, legal, archivist, auditor");
    }
    list.emplace_back(item);
  }
  if (list.size() < 2) return BadValue(key, value, "two or more of approver, legal, archivist, auditor");
  out = std::move(list);
  return Status::Ok();
}

// Classification names (public, internal, confidential, secret),
// comma-separated, or nothing.
Status ParseClassificationList(std::string_view key, std::string_view value, std::vector<std::string>& out) {
  std::vector<std::string> list;
  if (value.find_first_not_of(' ') != std::string_view::npos) {
    for (std::string_view item : CommaItems(value)) {
      if (item != "public" && item != "internal" && item != "confidential" && item != "secret") {
        return BadValue(key, value, "classifications (public, internal, confidential, secret), comma-separated, or nothing");
      }
      list.emplace_back(item);
    }
  }
  out = std::move(list);
  return Status::Ok();
}

// Roles that need a second factor: any of the role names but "admin";
// empty for none.
Status ParseFactorRoles(std::string_view key, std::string_view value, std::vector<std::string>& out) {
  static constexpr std::string_view kNames[] = {"sysadmin", "security_officer", "security_auditor",
                                                "archivist", "approver", "legal", "staff", "auditor"};
  std::vector<std::string> list;
  if (value.find_first_not_of(' ') == std::string_view::npos) {
    out.clear();
    return Status::Ok();
  }
  for (std::string_view item : CommaItems(value)) {
    if (std::find(std::begin(kNames), std::end(kNames), item) == std::end(kNames)) {
      return BadValue(key, value,
                      "role names (sysadmin, security_officer, security_auditor, archivist, approver, "
                      "legal, staff, auditor), comma-separated, or nothing");
    }
    list.emplace_back(item);
  }
  out = std::move(list);
  return Status::Ok();
}

// Comma-separated "<word> <url>" pairs, or nothing: a witness's verifier
// key or an authority's name, one space, an http(s) URL.
Status ParseEndpointList(std::string_view key, std::string_view value, std::string_view what,
                         std::vector<std::string>& out) {
  std::vector<std::string> list;
  const std::string expected = "comma-separated \"<" + std::string(what) + "> <http or https URL>\" pairs, or nothing";
  if (value.find_first_not_of(' ') != std::string_view::npos) {
    for (std::string_view item : CommaItems(value)) {
      const size_t space = item.find(' ');
      if (space == 0 || space == std::string_view::npos) return BadValue(key, value, expected);
      std::string_view url = item.substr(space + 1);
      if (url.find(' ') != std::string_view::npos ||
          !(url.starts_with("http://") || url.starts_with("https://")) || url.size() <= 8) {
        return BadValue(key, value, expected);
      }
      for (char c : item) {
        if (static_cast<unsigned char>(c) < 0x20) return BadValue(key, value, expected);
      }
      list.emplace_back(item);
    }
  }
  out = std::move(list);
  return Status::Ok();
}

std::string JoinComma(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& k : items) out += (out.empty() ? "" : ",") + k;
  return out;
}

Status ParseBool(std::string_view key, std::string_view value, bool& out) {
  if (value == "true" || value == "yes" || value == "on") {
    out = true;
  } else if (value == "false" || value == "no" || value == "off") {
    out = false;
  } else {
    return BadValue(key, value, "true or false");
  }
  return Status::Ok();
}

Status ParseChoice(std::string_view key, std::string_view value,
                   std::initializer_list<std::string_view> choices, std::string& out) {
  std::string expected;
  for (auto c : choices) {
    if (c == value) {
      out = std::string(value);
      return Status::Ok();
    }
    expected += (expected.empty() ? "" : " or ") + std::string(c);
  }
  return BadValue(key, value, expected);
}

Status ParseText(std::string_view key, std::string_view value, std::string& out) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20) return BadValue(key, value, "printable text");
  }
  out = std::string(value);
  return Status::Ok();
}

// A duration (ParseDurationSeconds) of 0 (when `zero_allowed`) or from
// `min` to `max` seconds.
Status ParseDurationIn(std::string_view key, std::string_view value, int64_t min, int64_t max,
                       bool zero_allowed, int64_t& out) {
  auto expected = [&] {
    return std::string(zero_allowed ? "0 (off) or " : "") + "a duration from " + FormatDuration(min) +
           " to " + FormatDuration(max) + ", such as 30s, 15m, 24h, 7d or whole seconds";
  };
  StatusOr<int64_t> v = ParseDurationSeconds(value);
  if (!v.ok() || ((*v < min || *v > max) && !(zero_allowed && *v == 0))) {
    return BadValue(key, value, expected());
  }
  out = *v;
  return Status::Ok();
}

constexpr int64_t kDay = 24 * 3600;

struct Key {
  const char* name;
  const char* help;
  std::function<Status(Config&, std::string_view)> set;
  std::function<std::string(const Config&)> get;
};

constexpr int64_t kMaxBytes = int64_t{1} << 50;

const std::vector<Key>& Keys() {
  static const std::vector<Key> keys = {
      {"server.listen", "address and port of the HTTPS listener ([::1]:8443 for IPv6)",
       [](Config& c, std::string_view v) -> Status {
         CUSTOS_ASSIGN_OR_RETURN(c.listen, ParseListenAddress(v));
         return Status::Ok();
       },
       [](const Config& c) { return c.listen.ToString(); }},
      {"server.threads", "worker threads serving requests",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.threads"), v, 1, 4096, c.threads); },
       [](const Config& c) { return std::to_string(c.threads); }},
      {"server.max_queued", "accepted connections that may wait for a free thread",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.max_queued"), v, 1, 100000, c.max_queued); },
       [](const Config& c) { return std::to_string(c.max_queued); }},
      {"server.max_header_bytes", "largest request header (all lines); larger gets 431",
       [](Config& c, std::string_view v) { return ParseInt<int64_t>("server.max_header_bytes", v, 1024, 1 << 20, c.max_header_bytes); },
       [](const Config& c) { return std::to_string(c.max_header_bytes); }},
      {"server.max_body_bytes", "largest request body, uploads included; larger gets 413",
       [](Config& c, std::string_view v) { return ParseInt<int64_t>("server.max_body_bytes", v, 1024, kMaxBytes, c.max_body_bytes); },
       [](const Config& c) { return std::to_string(c.max_body_bytes); }},
      {"server.max_json_bytes", "largest JSON request body; larger gets 413",
       [](Config& c, std::string_view v) { return ParseInt<int64_t>("server.max_json_bytes", v, 1024, 64 << 20, c.max_json_bytes); },
       [](const Config& c) { return std::to_string(c.max_json_bytes); }},
      {"server.keep_alive", "allow persistent connections",
       [](Config& c, std::string_view v) { return ParseBool("server.keep_alive", v, c.keep_alive); },
       [](const Config& c) { return std::string(c.keep_alive ? "true" : "false"); }},
      {"server.keep_alive_timeout_s", "seconds an idle persistent connection stays open",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.keep_alive_timeout_s"), v, 1, 3600, c.keep_alive_timeout_s); },
       [](const Config& c) { return std::to_string(c.keep_alive_timeout_s); }},
      {"server.max_keep_alive_requests", "requests served on one persistent connection",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.max_keep_alive_requests"), v, 1, 1000000, c.max_keep_alive_requests); },
       [](const Config& c) { return std::to_string(c.max_keep_alive_requests); }},
      {"server.read_timeout_s", "seconds a socket read or write may block",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.read_timeout_s"), v, 1, 3600, c.read_timeout_s); },
       [](const Config& c) { return std::to_string(c.read_timeout_s); }},
      {"server.header_timeout_s", "seconds a connection has to send a complete request header (after connecting; after a response, keep_alive_timeout_s more)",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.header_timeout_s"), v, 1, 3600, c.header_timeout_s); },
       [](const Config& c) { return std::to_string(c.header_timeout_s); }},
      {"server.body_min_rate_bytes_s", "average bytes/s a request body must keep up once server.header_timeout_s has passed since its header",
       [](Config& c, std::string_view v) { return ParseInt<int64_t>("server.body_min_rate_bytes_s", v, 1, 1LL << 30, c.body_min_rate_bytes_s); },
       [](const Config& c) { return std::to_string(c.body_min_rate_bytes_s); }},
      {"server.body_timeout_s", "seconds a whole request body may take, however fast it comes",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.body_timeout_s"), v, 1, 86400, c.body_timeout_s); },
       [](const Config& c) { return std::to_string(c.body_timeout_s); }},
      {"server.max_connections_per_address", "open connections one client address may hold (IPv6: one /64); below server.threads; 0 = a quarter of server.threads",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.max_connections_per_address"), v, 0, 100000, c.max_connections_per_address); },
       [](const Config& c) { return std::to_string(c.max_connections_per_address); }},
      {"server.shutdown_grace_s", "seconds in-flight requests may finish after SIGTERM",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("server.shutdown_grace_s"), v, 0, 3600, c.shutdown_grace_s); },
       [](const Config& c) { return std::to_string(c.shutdown_grace_s); }},
      {"tls.certificate", "server certificate chain (PEM), relative to the data directory",
       [](Config& c, std::string_view v) { return ParseText("tls.certificate", v, c.tls_certificate); },
       [](const Config& c) { return c.tls_certificate; }},
      {"tls.private_key", "server private key (PEM, mode 0600), relative to the data directory",
       [](Config& c, std::string_view v) { return ParseText("tls.private_key", v, c.tls_private_key); },
       [](const Config& c) { return c.tls_private_key; }},
      {"tls.client_ca", "CA certificates (PEM) of users' client certificates; set, a client certificate is a second factor",
       [](Config& c, std::string_view v) { return ParseText("tls.client_ca", v, c.tls_client_ca); },
       [](const Config& c) { return c.tls_client_ca; }},
      {"tls.client_crl", "revoked client certificates (PEM CRL of tls.client_ca)",
       [](Config& c, std::string_view v) { return ParseText("tls.client_crl", v, c.tls_client_crl); },
       [](const Config& c) { return c.tls_client_crl; }},
      {"archive.origin", "origin line of the audit log's checkpoints (unique per archive)",
       [](Config& c, std::string_view v) { return ParseText("archive.origin", v, c.origin); },
       [](const Config& c) { return c.origin; }},
      {"archive.suite", "cryptographic suite: intl (AES-GCM, Ed25519) or gm (SM4, SM3, SM2)",
       [](Config& c, std::string_view v) { return ParseChoice("archive.suite", v, {"intl", "gm"}, c.suite); },
       [](const Config& c) { return c.suite; }},
      {"storage.backend", "metadata store: sqlite (embedded) or postgresql",
       [](Config& c, std::string_view v) { return ParseChoice("storage.backend", v, {"sqlite", "postgresql"}, c.storage_backend); },
       [](const Config& c) { return c.storage_backend; }},
      {"storage.dsn", "PostgreSQL connection string (storage.backend = postgresql)",
       [](Config& c, std::string_view v) { return ParseText("storage.dsn", v, c.storage_dsn); },
       [](const Config& c) { return c.storage_dsn; }},
      {"storage.min_free_bytes", "free bytes on the data directory's file system below which /readyz answers 503",
       [](Config& c, std::string_view v) { return ParseInt<int64_t>("storage.min_free_bytes", v, 0, kMaxBytes, c.min_free_bytes); },
       [](const Config& c) { return std::to_string(c.min_free_bytes); }},
      {"auth.password_max_age_days", "days after which a password must be changed",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.password_max_age_days"), v, 1, 3650, c.password_max_age_days); },
       [](const Config& c) { return std::to_string(c.password_max_age_days); }},
      {"auth.session_idle_minutes", "minutes without a request after which a session ends",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.session_idle_minutes"), v, 1, 1440, c.session_idle_minutes); },
       [](const Config& c) { return std::to_string(c.session_idle_minutes); }},
      {"auth.session_absolute_hours", "hours after sign-in at which a session ends regardless",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.session_absolute_hours"), v, 1, 168, c.session_absolute_hours); },
       [](const Config& c) { return std::to_string(c.session_absolute_hours); }},
      {"auth.password_memory_kib", "Argon2id memory per password hash in KiB (19456 at the least)",
       [](Config& c, std::string_view v) { return ParseInt<uint32_t>("auth.password_memory_kib", v, kMinPasswordMemoryKib, 4u << 20, c.password_memory_kib); },
       [](const Config& c) { return std::to_string(c.password_memory_kib); }},
      {"auth.max_failed_logins", "failed sign-ins in a row that lock an account",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.max_failed_logins"), v, 1, 100, c.max_failed_logins); },
       [](const Config& c) { return std::to_string(c.max_failed_logins); }},
      {"auth.lockout_minutes", "minutes a locked account stays locked",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.lockout_minutes"), v, 1, 10080, c.lockout_minutes); },
       [](const Config& c) { return std::to_string(c.lockout_minutes); }},
      {"auth.second_factor_roles", "roles that must sign in with a second factor (comma-separated; empty for none)",
       [](Config& c, std::string_view v) { return ParseFactorRoles("auth.second_factor_roles", v, c.second_factor_roles); },
       [](const Config& c) {
         std::string out;
         for (const auto& r : c.second_factor_roles) out += (out.empty() ? "" : ",") + r;
         return out;
       }},
      {"auth.approver_cooling_days", "days after an account's creation, reset or role grant before it may approve a destruction or a shorter retention",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.approver_cooling_days"), v, 0, 3650, c.approver_cooling_days); },
       [](const Config& c) { return std::to_string(c.approver_cooling_days); }},
      {"auth.fresh_account_days", "days after set-up, reset or role grant in which content reads are flagged to the security auditor",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.fresh_account_days"), v, 0, 365, c.fresh_account_days); },
       [](const Config& c) { return std::to_string(c.fresh_account_days); }},
      {"auth.setup_code_hours", "hours a one-time set-up code stays valid",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.setup_code_hours"), v, 1, 720, c.setup_code_hours); },
       [](const Config& c) { return std::to_string(c.setup_code_hours); }},
      {"auth.totp_skew_steps", "30-second steps a TOTP code may be early or late",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("auth.totp_skew_steps"), v, 0, 3, c.totp_skew_steps); },
       [](const Config& c) { return std::to_string(c.totp_skew_steps); }},
      {"records.reject_invalid_contract_signatures",
       "refuse (422) a contract whose signature does not verify, instead of storing it flagged",
       [](Config& c, std::string_view v) { return ParseBool("records.reject_invalid_contract_signatures", v, c.reject_invalid_contract_signatures); },
       [](const Config& c) { return std::string(c.reject_invalid_contract_signatures ? "true" : "false"); }},
      {"loans.max_days", "longest loan or renewal, in days from the request",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("loans.max_days"), v, 1, 3650, c.loan_max_days); },
       [](const Config& c) { return std::to_string(c.loan_max_days); }},
      {"loans.stamp_classifications",
       "comma-separated classifications whose records a digital borrower reads as a stamped copy; empty for none",
       [](Config& c, std::string_view v) { return ParseClassificationList("loans.stamp_classifications", v, c.loan_stamp_classifications); },
       [](const Config& c) { return JoinComma(c.loan_stamp_classifications); }},
      {"loans.stamp_worker", "path of the loan copy worker; empty = custos-stamp next to custosd",
       [](Config& c, std::string_view v) { return ParseText("loans.stamp_worker", v, c.stamp_worker); },
       [](const Config& c) { return c.stamp_worker; }},
      {"alerts.certificate_horizons_days",
       "comma-separated days ahead at which expiring qualification certificates are flagged",
       [](Config& c, std::string_view v) { return ParseIntList("alerts.certificate_horizons_days", v, 1, 3650, c.certificate_horizons_days); },
       [](const Config& c) {
         std::string out;
         for (int d : c.certificate_horizons_days) out += (out.empty() ? "" : ",") + std::to_string(d);
         return out;
       }},
      {"destruction.approver_roles",
       "comma-separated roles whose approval a destruction batch needs, one person each",
       [](Config& c, std::string_view v) { return ParseRoleList("destruction.approver_roles", v, c.destruction_approver_roles); },
       [](const Config& c) {
         std::string out;
         for (const auto& r : c.destruction_approver_roles) out += (out.empty() ? "" : ",") + r;
         return out;
       }},
      {"extraction.enabled", "extract the text of stored files and index it (false: files wait in the queue)",
       [](Config& c, std::string_view v) { return ParseBool("extraction.enabled", v, c.extraction_enabled); },
       [](const Config& c) { return std::string(c.extraction_enabled ? "true" : "false"); }},
      {"extraction.worker", "path of the extraction worker; empty = custos-extract next to custosd",
       [](Config& c, std::string_view v) { return ParseText("extraction.worker", v, c.extraction_worker); },
       [](const Config& c) { return c.extraction_worker; }},
      {"extraction.ocr", "recognise the text of scans and images (OCR)",
       [](Config& c, std::string_view v) { return ParseBool("extraction.ocr", v, c.extraction_ocr); },
       [](const Config& c) { return std::string(c.extraction_ocr ? "true" : "false"); }},
      {"extraction.timeout_s", "seconds one extraction may take before its worker is killed",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("extraction.timeout_s"), v, 1, 3600, c.extraction_timeout_s); },
       [](const Config& c) { return std::to_string(c.extraction_timeout_s); }},
      {"extraction.cpu_s", "CPU seconds one extraction may use",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("extraction.cpu_s"), v, 1, 3600, c.extraction_cpu_s); },
       [](const Config& c) { return std::to_string(c.extraction_cpu_s); }},
      {"extraction.memory_mb", "address space of the extraction worker in MiB",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("extraction.memory_mb"), v, 64, 65536, c.extraction_memory_mb); },
       [](const Config& c) { return std::to_string(c.extraction_memory_mb); }},
      {"extraction.nice", "CPU niceness (0 to 19) of the content pipeline and its workers, so requests come first",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("extraction.nice"), v, 0, 19, c.extraction_nice); },
       [](const Config& c) { return std::to_string(c.extraction_nice); }},
      {"extraction.max_attempts", "failed runs of a file after which its extraction is failed for good",
       [](Config& c, std::string_view v) { return ParseInt(std::string_view("extraction.max_attempts"), v, 1, 100, c.extraction_max_attempts); },
       [](const Config& c) { return std::to_string(c.extraction_max_attempts); }},
      {"audit.verify_interval",
       "how often custosd verifies the archive by itself (30s, 15m, 24h, 7d or seconds; 0 = never)",
       [](Config& c, std::string_view v) { return ParseDurationIn("audit.verify_interval", v, 1, 30 * kDay, true, c.verify_interval_s); },
       [](const Config& c) { return FormatDuration(c.verify_interval_s); }},
      {"audit.full_verify_interval",
       "a scheduled verification reads every blob again when the last full one is this old",
       [](Config& c, std::string_view v) { return ParseDurationIn("audit.full_verify_interval", v, 1, 365 * kDay, false, c.full_verify_interval_s); },
       [](const Config& c) { return FormatDuration(c.full_verify_interval_s); }},
      {"log.level", "least severe log level written: debug, info, warn or error",
       [](Config& c, std::string_view v) { return ParseChoice("log.level", v, {"debug", "info", "warn", "error"}, c.log_level); },
       [](const Config& c) { return c.log_level; }},
      {"log.witnesses",
       "witnesses that cosign the audit log's checkpoints: comma-separated \"<verifier key> <url>\" pairs",
       [](Config& c, std::string_view v) { return ParseEndpointList("log.witnesses", v, "verifier key", c.witnesses); },
       [](const Config& c) { return JoinComma(c.witnesses); }},
      {"log.witness_policy",
       "how many of the witnesses must have cosigned for verify to accept a checkpoint; default = 1 with witnesses",
       [](Config& c, std::string_view v) {
         if (v == "default") {
           c.witness_policy = -1;
           return Status::Ok();
         }
         return ParseInt(std::string_view("log.witness_policy"), v, 0, 100, c.witness_policy);
       },
       [](const Config& c) { return c.witness_policy < 0 ? std::string("default") : std::to_string(c.witness_policy); }},
      {"log.witness_ca", "PEM file of the roots that https witnesses are checked against; empty = the system's",
       [](Config& c, std::string_view v) { return ParseText("log.witness_ca", v, c.witness_ca); },
       [](const Config& c) { return c.witness_ca; }},
      {"log.tsa", "RFC 3161 time-stamping authorities: comma-separated \"<name> <url>\" pairs",
       [](Config& c, std::string_view v) { return ParseEndpointList("log.tsa", v, "name", c.tsas); },
       [](const Config& c) { return JoinComma(c.tsas); }},
      {"log.tsa_ca", "PEM file of the roots that timestamp tokens must chain to",
       [](Config& c, std::string_view v) { return ParseText("log.tsa_ca", v, c.tsa_ca); },
       [](const Config& c) { return c.tsa_ca; }},
      {"log.public_entries",
       "serve the log's entry bundles (/log/tile/entries/) without a session; false = signed-in log readers only",
       [](Config& c, std::string_view v) { return ParseBool("log.public_entries", v, c.public_entries); },
       [](const Config& c) { return std::string(c.public_entries ? "true" : "false"); }},
      {"log.timestamp_interval",
       "at most one timestamp of the newest checkpoint per this interval (0 = every new checkpoint)",
       [](Config& c, std::string_view v) { return ParseDurationIn("log.timestamp_interval", v, 1, 30 * kDay, true, c.timestamp_interval_s); },
       [](const Config& c) { return FormatDuration(c.timestamp_interval_s); }},
  };
  return keys;
}

const Key* FindKey(std::string_view name) {
  for (const Key& k : Keys()) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("bad listen address '" + std::string(text) +
                               "' (expected HOST:PORT or [IPV6]:PORT)",
                           "config_bad_value");
  };
  ListenAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad();
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad();
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return bad();
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad();
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad();
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

Status SetConfigValue(Config& config, std::string_view key, std::string_view value) {
  const Key* k = FindKey(key);
  if (k == nullptr) {
    return InvalidArgument("unknown configuration key '" + std::string(key) + "'",
                           "config_unknown_key");
  }
  return k->set(config, Trim(value));
}

StatusOr<int64_t> ParseDurationSeconds(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("bad duration '" + std::string(text) +
                               "' (expected whole seconds or a whole number with s, m, h or d)",
                           "config_bad_value");
  };
  int64_t unit = 1;
  std::string_view digits = text;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 's': unit = 1; digits.remove_suffix(1); break;
      case 'm': unit = 60; digits.remove_suffix(1); break;
      case 'h': unit = 3600; digits.remove_suffix(1); break;
      case 'd': unit = kDay; digits.remove_suffix(1); break;
      default: break;
    }
  }
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || digits.front() == '-' || ec != std::errc() ||
      ptr != digits.data() + digits.size() || n > INT64_MAX / unit) {
    return bad();
  }
  return n * unit;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds == 0) return "0s";
  for (auto [unit, suffix] : {std::pair<int64_t, char>{kDay, 'd'}, {3600, 'h'}, {60, 'm'}}) {
    if (seconds % unit == 0) return std::to_string(seconds / unit) + suffix;
  }
  return std::to_string(seconds) + "s";
}

int ConnectionsPerAddress(const Config& config) {
  if (config.max_connections_per_address > 0) return config.max_connections_per_address;
  return std::max(1, config.threads / 4);
}

Status ValidateConfig(const Config& config) {
  if (config.storage_backend == "postgresql" && config.storage_dsn.empty()) {
    return InvalidArgument("storage.backend = postgresql needs storage.dsn", "config_bad_value");
  }
  if (config.max_json_bytes > config.max_body_bytes) {
    return InvalidArgument("server.max_json_bytes exceeds server.max_body_bytes",
                           "config_bad_value");
  }
  if (config.max_connections_per_address != 0 && config.max_connections_per_address >= config.threads) {
    return InvalidArgument("server.max_connections_per_address (" +
                               std::to_string(config.max_connections_per_address) +
                               ") must be below server.threads (" + std::to_string(config.threads) +
                               "), or one client address can take every thread",
                           "config_bad_value");
  }
  if (config.verify_interval_s != 0 && config.full_verify_interval_s < config.verify_interval_s) {
    return InvalidArgument("audit.full_verify_interval (" + FormatDuration(config.full_verify_interval_s) +
                               ") must not be below audit.verify_interval (" +
                               FormatDuration(config.verify_interval_s) + ")",
                           "config_bad_value");
  }
  if (WitnessPolicy(config) > static_cast<int>(config.witnesses.size())) {
    return InvalidArgument("log.witness_policy (" + std::to_string(config.witness_policy) +
                               ") asks for more cosignatures than log.witnesses names (" +
                               std::to_string(config.witnesses.size()) + ")",
                           "config_bad_value");
  }
  if (!config.tsas.empty() && config.tsa_ca.empty()) {
    return InvalidArgument("log.tsa needs log.tsa_ca: the roots its tokens are checked against",
                           "config_bad_value");
  }
  if (config.tls_certificate.empty() || config.tls_private_key.empty()) {
    return InvalidArgument("tls.certificate and tls.private_key must be set", "config_bad_value");
  }
  return Status::Ok();
}

int WitnessPolicy(const Config& config) {
  if (config.witness_policy >= 0) return config.witness_policy;
  return config.witnesses.empty() ? 0 : 1;
}

StatusOr<Config> ParseConfig(std::string_view text) {
  Config config;
  std::set<std::string, std::less<>> seen;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    auto where = "line " + std::to_string(line_no);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(where + ": expected 'key = value'", "config_syntax");
    }
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    if (!seen.insert(std::string(key)).second) {
      return InvalidArgument(where + ": key '" + std::string(key) + "' repeated",
                             "config_repeated_key");
    }
    Status s = SetConfigValue(config, key, value);
    if (!s.ok()) return s.WithContext(where);
  }
  CUSTOS_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

std::string FormatConfigFile(const Config& config) {
  std::ostringstream out;
  out << "# Custos configuration. One 'key = value' per line; '#' starts a comment.\n"
         "# Unknown keys and bad values stop the server at start-up.\n"
         "# Command-line flags override the values here. See docs/operations.md.\n";
  std::string section;
  for (const Key& k : Keys()) {
    std::string name = k.name;
    std::string this_section = name.substr(0, name.find('.'));
    if (this_section != section) {
      out << "\n";
      section = this_section;
    }
    out << "# " << k.help << "\n" << name << " = " << k.get(config) << "\n";
  }
  return out.str();
}

std::vector<std::string> ConfigKeys() {
  std::vector<std::string> out;
  for (const Key& k : Keys()) out.emplace_back(k.name);
  return out;
}

}  // namespace custos
