// Shared helpers for the v1 API integration suites (api_*_test.cc): a real
// custosd on a fresh data directory with one signed-in user per role,
// hand-built multipart bodies, JSON access, a raw TLS connection for
// misbehaving clients, and probes of the data directory (blob counts).
//
// Accounts are made as people make them (issue #23, docs/security.md):
// custosctl init creates the system administrator "admin" and the security
// officer "security"; every other account is created by the admin (staff,
// awaiting set-up), granted its role by the security officer and confirmed
// by the admin, and set up by its holder with a one-time code the security
// officer issued. Two of the rules would make every test enrol TOTP or wait
// 30 days, so the fixture's custos.conf relaxes them unless the test's own
// config lines set the key (RelaxedConfig): no role needs a second factor
// (auth.second_factor_roles empty) and approvers need no cooling period
// (auth.approver_cooling_days = 0). The rules themselves are tested in
// separation_test.cc, second_factor_test.cc and the service tests.
//
// Everything here fails the current test (ADD_FAILURE) rather than throwing;
// functions that cannot produce their result return an empty value.
// Thread safety: ApiServer::As and Call use one shared client and belong to
// the test's main thread; other threads take their own NewClient().
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing::api {

// ------------------------------------------------------------------ constants

inline constexpr char kAnonymous[] = "anonymous";
// The system administrator custosctl init creates (role "sysadmin").
inline constexpr char kAdmin[] = "admin";
// Password of the first admin, given to custosctl init in a file.
inline constexpr char kAdminPassword[] = "admin-password-for-tests";
// The security officer custosctl init creates (role "security_officer").
inline constexpr char kSecurity[] = "security";
inline constexpr char kSecurityPassword[] = "security-password-for-tests";
// Both live in the department custosctl init makes for them.
inline constexpr char kAdministration[] = "administration";
// The security auditor's role name, and its user name when a fixture asks
// for that role ("security_auditor" in `roles`).
inline constexpr char kSecurityAuditor[] = "security_auditor";
// Departments every fixture creates.
inline const std::vector<std::string> kDepartments = {"sales", "legal", "audit"};
// Roles with one user each (besides admin and security), in matrix column
// order; user name = role name.
inline const std::vector<std::string> kUserRoles = {"archivist", "staff", "approver", "legal",
                                                    "auditor"};
inline constexpr char kBoundary[] = "----CustosTestBoundary7d1f0c93";
inline constexpr char kJson[] = "application/json";

// ---------------------------------------------------------------------- JSON

// Parses JSON text; an empty Var if it is not JSON.
inline Poco::Dynamic::Var ParseJson(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text);
  } catch (const Poco::Exception&) {
    return {};
  }
}

// The object `text` holds, or a null pointer.
inline Poco::JSON::Object::Ptr JsonObject(const std::string& text) {
  Poco::Dynamic::Var v = ParseJson(text);
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) return {};
  return v.extract<Poco::JSON::Object::Ptr>();
}

// The array `text` holds, or a null pointer.
inline Poco::JSON::Array::Ptr JsonArray(const std::string& text) {
  Poco::Dynamic::Var v = ParseJson(text);
  if (v.type() != typeid(Poco::JSON::Array::Ptr)) return {};
  return v.extract<Poco::JSON::Array::Ptr>();
}

inline std::string Stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

// Member `key` of `o` as a string ("" when absent or `o` is null).
inline std::string Str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || o->isNull(key)) return "";
  return o->get(key).convert<std::string>();
}

// Member `key` of `o` as an integer (-1 when absent or `o` is null).
inline int64_t Int(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || o->isNull(key)) return -1;
  return o->get(key).convert<int64_t>();
}

// error.code of an API error answer, or "".
inline std::string ErrorCode(const HttpResult& r) {
  Poco::JSON::Object::Ptr o = JsonObject(r.body);
  if (!o || !o->has("error")) return "";
  return Str(o->getObject("error"), "code");
}

// error.message of an API error answer, or "".
inline std::string ErrorMessage(const HttpResult& r) {
  Poco::JSON::Object::Ptr o = JsonObject(r.body);
  if (!o || !o->has("error")) return "";
  return Str(o->getObject("error"), "message");
}

// A one-line description of an answer for failure messages.
inline std::string Describe(const HttpResult& r) {
  std::string body = r.body.size() > 400 ? r.body.substr(0, 400) + "…" : r.body;
  return "HTTP " + std::to_string(r.status) + " " + body +
         (r.transport_error.empty() ? "" : " [transport: " + r.transport_error + "]");
}

// ---------------------------------------------------------------- multipart

// One part of a multipart/form-data body. `filename` and `content_type` are
// left out of the part header when empty.
struct Part {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string body;
};

inline Part MetadataPart(const std::string& json) { return {"metadata", "", kJson, json}; }
inline Part FilePart(const std::string& filename, const std::string& bytes,
                     const std::string& type = "application/pdf") {
  return {"file", filename, type, bytes};
}

// The multipart/form-data body of `parts` (RFC 7578).
inline std::string MultipartBody(const std::vector<Part>& parts,
                                 const std::string& boundary = kBoundary) {
  std::string out;
  for (const Part& p : parts) {
    out += "--" + boundary + "\r\n";
    out += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) out += "; filename=\"" + p.filename + "\"";
    out += "\r\n";
    if (!p.content_type.empty()) out += "Content-Type: " + p.content_type + "\r\n";
    out += "\r\n" + p.body + "\r\n";
  }
  out += "--" + boundary + "--\r\n";
  return out;
}

inline std::string MultipartType(const std::string& boundary = kBoundary) {
  return "multipart/form-data; boundary=" + boundary;
}

// ----------------------------------------------------------- record metadata

// Metadata of a contract check-in (type-specific fields inside "metadata").
inline std::string ContractJson(const std::string& title, const std::string& counterparty,
                                const std::string& classification = "internal",
                                const std::string& department = "sales",
                                const std::string& contract_number = "HT-2026-0042") {
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("counterparty", counterparty);
  meta->set("contractNumber", contract_number);
  meta->set("signedDate", "2026-03-14");
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("type", "contract");
  o->set("title", title);
  o->set("department", department);
  o->set("classification", classification);
  o->set("metadata", meta);
  return Stringify(o);
}

// Metadata of a general record (no type-specific fields).
inline std::string GeneralJson(const std::string& title,
                               const std::string& classification = "internal",
                               const std::string& department = "sales") {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("type", "general");
  o->set("title", title);
  o->set("department", department);
  o->set("classification", classification);
  return Stringify(o);
}

// --------------------------------------------------------------- hashes etc.

inline std::string HexOf(const unsigned char* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xF]);
  }
  return out;
}

// Lower-case hex SHA-256 of `data`, computed with OpenSSL directly.
inline std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    ADD_FAILURE() << "EVP_Digest failed";
    return "";
  }
  return HexOf(md, len);
}

// `n` bytes of a deterministic pattern seeded by `seed` (not compressible
// into anything a test might confuse with a marker).
inline std::string PatternBytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x & 0xFF);
  }
  return out;
}

// ------------------------------------------------------------ data directory

// Committed blobs: regular files in DATA/blobs/<2 chars>/ (tmp/ excluded).
inline size_t CountBlobs(const std::string& data_dir) {
  namespace fs = std::filesystem;
  size_t n = 0;
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(data_dir + "/blobs", ec)) {
    const std::string name = dir.path().filename().string();
    if (!dir.is_directory() || name.size() != 2) continue;
    for (const auto& f : fs::directory_iterator(dir.path(), ec)) n += f.is_regular_file() ? 1 : 0;
  }
  return n;
}

// Blobs being written: files in DATA/blobs/tmp/.
inline size_t CountTempBlobs(const std::string& data_dir) {
  namespace fs = std::filesystem;
  size_t n = 0;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(data_dir + "/blobs/tmp", ec)) {
    n += f.is_regular_file() ? 1 : 0;
  }
  return n;
}

// The tree size line of a signed checkpoint text (0 if unparsable).
inline uint64_t CheckpointSize(const std::string& checkpoint) {
  size_t a = checkpoint.find('\n');
  if (a == std::string::npos) return 0;
  size_t b = checkpoint.find('\n', a + 1);
  if (b == std::string::npos) return 0;
  try {
    return std::stoull(checkpoint.substr(a + 1, b - a - 1));
  } catch (const std::exception&) {
    return 0;
  }
}

// Polls `done` every 20 ms until it holds or `timeout_ms` passes.
template <typename F>
bool WaitFor(F done, int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// ------------------------------------------------------------ raw TLS client

// One TLS connection driven by hand, for clients that misbehave (announce
// more bytes than they send, stream chunked bodies, vanish mid-upload). The
// server certificate is not checked: this probes, it does not trust.
class RawTlsConnection {
 public:
  // `source`: the loopback address to connect from (another client address
  // than the tests' usual 127.0.0.1), or null for any.
  explicit RawTlsConnection(int port, const char* source = nullptr) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ >= 0 && source != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &from.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~RawTlsConnection() {
    Close();
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ERR_clear_error();
  }
  RawTlsConnection(const RawTlsConnection&) = delete;
  RawTlsConnection& operator=(const RawTlsConnection&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // Drops the connection with a TCP reset (SO_LINGER 0), as a client that
  // is killed with data still in flight does.
  void Reset() {
    if (fd_ >= 0) {
      linger l{1, 0};
      ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    Close();
  }

  // Writes all of `bytes`; false if the connection failed.
  bool Write(const std::string& bytes) {
    size_t off = 0;
    while (connected_ && off < bytes.size()) {
      int n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off));
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return connected_;
  }

  // True once the server has closed the connection (a TLS close or a TCP
  // end or reset); reads and discards anything else that has arrived (TLS
  // session tickets, an answer). Waits at most `timeout_ms` for news.
  bool PeerClosed(int timeout_ms = 0) {
    if (!connected_) return true;
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    char buf[4096];
    bool closed = false;
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) continue;
      int e = SSL_get_error(ssl_, n);
      closed = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
      break;
    }
    ERR_clear_error();
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    return closed;
  }

  // Whatever arrives next (one read), or "" on close or after `timeout_ms`.
  std::string ReadSome(int timeout_ms) {
    if (!connected_) return "";
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return "";
    }
    char buf[4096];
    int n = SSL_read(ssl_, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  // One HTTP response: reads until the header and Content-Length bytes of
  // body have arrived, the server closes, or `timeout_ms` passes.
  std::string ReadResponse(int timeout_ms = 5000) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!ResponseComplete(out) && std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      std::string more = ReadSome(static_cast<int>(std::max<int64_t>(left, 0)));
      if (more.empty()) break;
      out += more;
    }
    return out;
  }

  // Sends a TLS close_notify (the client will send nothing more) and keeps
  // the connection open for reading the answer.
  void FinishSending() {
    if (connected_) SSL_shutdown(ssl_);
  }

  // Drops the connection without a TLS close_notify, as a crashed client would.
  void Close() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    connected_ = false;
  }

 private:
  static bool ResponseComplete(const std::string& text) {
    size_t end = text.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    static const std::string kLength = "\r\nContent-Length: ";
    size_t at = text.find(kLength);
    if (at == std::string::npos || at > end) return true;
    size_t length = std::stoul(text.substr(at + kLength.size()));
    return text.size() >= end + 4 + length;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
};

// ------------------------------------------------------------------- config

// True when the config lines `config` set `key` ("key = value", spaces
// around '=' optional; comments and blank lines ignored).
inline bool SetsConfigKey(const std::string& config, const std::string& key) {
  std::istringstream in(config);
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    size_t eq = line.find('=', start);
    if (eq == std::string::npos) continue;
    std::string name = line.substr(start, eq - start);
    name.erase(name.find_last_not_of(" \t") + 1);
    if (name == key) return true;
  }
  return false;
}

// `extra_config` preceded by the fixture's relaxations of issue #23's rules
// (no second factor for any role, no cooling period before an approval),
// each left out when `extra_config` sets that key itself: custosd refuses a
// config file that repeats a key (common/config.cc, config_repeated_key).
inline std::string RelaxedConfig(const std::string& extra_config) {
  std::string out;
  if (!SetsConfigKey(extra_config, "auth.second_factor_roles")) out += "auth.second_factor_roles =\n";
  if (!SetsConfigKey(extra_config, "auth.approver_cooling_days")) {
    out += "auth.approver_cooling_days = 0\n";
  }
  return out + extra_config;
}

// ------------------------------------------------------------------- server

struct Account {
  std::string username;
  std::string password;
  std::string role;
  std::string department;
  std::string token;
};

// A custosd on a fresh data directory initialised with known passwords for
// the system administrator (kAdmin) and the security officer (kSecurity),
// both signed in, with departments kDepartments and one signed-in user per
// requested role (user name = role name), made as people make them (see the
// top of this file), so no password has to change. The config is
// RelaxedConfig(extra_config).
class ApiServer {
 public:
  // Returns nullptr (after ADD_FAILURE) if any step fails. `roles` defaults
  // to kUserRoles; `extra_config` lines are set in custos.conf before start.
  static std::unique_ptr<ApiServer> Create(const std::string& extra_config = "",
                                           const std::vector<std::string>& roles = kUserRoles) {
    std::unique_ptr<ApiServer> s(new ApiServer);
    if (!s->Init(extra_config, roles)) return nullptr;
    return s;
  }

  ~ApiServer() {
    if (server_.process().running()) server_.Stop();
  }

  const std::string& data_dir() const { return data_dir_; }
  int port() const { return server_.port(); }
  std::string ca_file() const { return data_dir_ + "/tls/cert.pem"; }
  ServerProcess& process() { return server_; }
  const TempDir& tmp() const { return tmp_; }

  std::unique_ptr<HttpsClient> NewClient() const {
    return std::make_unique<HttpsClient>(port(), ca_file());
  }

  Account& account(const std::string& role) { return accounts_.at(role); }
  const std::string& token(const std::string& role) { return accounts_.at(role).token; }

  // A request with `token` as bearer (none when empty), on the shared client.
  HttpResult Call(const std::string& token, const std::string& method, const std::string& path,
                  const std::string& body = "", const std::string& content_type = "",
                  std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return client_->Request(method, path, body, content_type, headers);
  }

  // A request as the user of `role` (kAnonymous: no Authorization header).
  HttpResult As(const std::string& role, const std::string& method, const std::string& path,
                const std::string& body = "", const std::string& content_type = "",
                std::map<std::string, std::string> headers = {}) {
    std::string t = role == kAnonymous ? "" : token(role);
    return Call(t, method, path, body, content_type, std::move(headers));
  }

  // POST /v1/records as `role` with a metadata part and file parts.
  HttpResult CheckIn(const std::string& role, const std::string& metadata,
                     const std::vector<Part>& files) {
    std::vector<Part> parts{MetadataPart(metadata)};
    parts.insert(parts.end(), files.begin(), files.end());
    return As(role, "POST", "/v1/records", MultipartBody(parts), MultipartType());
  }

  // Checks in and returns the record JSON; ADD_FAILURE and null unless 201.
  Poco::JSON::Object::Ptr CheckInOk(const std::string& role, const std::string& metadata,
                                    const std::vector<Part>& files) {
    HttpResult r = CheckIn(role, metadata, files);
    if (r.status != 201) {
      ADD_FAILURE() << "check-in failed: " << Describe(r);
      return {};
    }
    return JsonObject(r.body);
  }

  // Signs in on `client` (the shared one when null); the token or "".
  std::string SignIn(const std::string& username, const std::string& password,
                     HttpsClient* client = nullptr) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", username);
    o->set("password", password);
    HttpsClient& c = client ? *client : *client_;
    HttpResult r = c.Request("POST", "/v1/session", Stringify(o), kJson);
    if (r.status != 200) return "";
    return Str(JsonObject(r.body), "token");
  }

  // POST /v1/users as the admin: a staff account awaiting set-up, without a
  // password. `role` is sent only when not empty (anything but staff is
  // refused: roles are granted). The HTTP answer.
  HttpResult PostUser(const std::string& username, const std::string& department,
                      const std::string& role = "", HttpsClient* client = nullptr) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", username);
    o->set("department", department);
    if (!role.empty()) o->set("role", role);
    return Send(client, token(kAdmin), "POST", "/v1/users", Stringify(o));
  }

  // POST /v1/grants {username, role} as `who` (the security officer by
  // default); the HTTP answer (201 and the grant when proposed).
  HttpResult ProposeGrant(const std::string& username, const std::string& role,
                          const std::string& who = kSecurity, HttpsClient* client = nullptr) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", username);
    o->set("role", role);
    return Send(client, token(who), "POST", "/v1/grants", Stringify(o));
  }

  // POST /v1/grants/{id}/confirm as `who` (the admin by default).
  HttpResult ConfirmGrant(const std::string& id, const std::string& who = kAdmin,
                          HttpsClient* client = nullptr) {
    return Send(client, token(who), "POST", "/v1/grants/" + id + "/confirm", "");
  }

  // POST /v1/users/{username}/setup-code as `who` (the security officer by
  // default); 201 {code, expiresAt} when issued.
  HttpResult IssueSetupCode(const std::string& username, const std::string& who = kSecurity,
                            HttpsClient* client = nullptr) {
    return Send(client, token(who), "POST", "/v1/users/" + username + "/setup-code", "");
  }

  // POST /v1/setup {username, code, password}, anonymous; 204 when done.
  HttpResult CompleteSetup(const std::string& username, const std::string& code,
                           const std::string& password, HttpsClient* client = nullptr) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", username);
    o->set("code", code);
    o->set("password", password);
    return Send(client, "", "POST", "/v1/setup", Stringify(o));
  }

  // Grants `role` to `username`: the security officer proposes, the admin
  // confirms. "" when done, else the step that failed and its answer.
  std::string GrantRole(const std::string& username, const std::string& role,
                        HttpsClient* client = nullptr) {
    HttpResult proposed = ProposeGrant(username, role, kSecurity, client);
    if (proposed.status != 201) return "grant of " + role + " to " + username + ": " + Describe(proposed);
    const std::string id = Str(JsonObject(proposed.body), "id");
    HttpResult confirmed = ConfirmGrant(id, kAdmin, client);
    if (confirmed.status != 200) return "confirming grant " + id + ": " + Describe(confirmed);
    return "";
  }

  // The holder's set-up: the security officer issues a code, the holder
  // sets `password` with it. "" when done, else the failed step.
  std::string SetUp(const std::string& username, const std::string& password,
                    HttpsClient* client = nullptr) {
    HttpResult issued = IssueSetupCode(username, kSecurity, client);
    if (issued.status != 201) return "set-up code for " + username + ": " + Describe(issued);
    const std::string code = Str(JsonObject(issued.body), "code");
    HttpResult done = CompleteSetup(username, code, password, client);
    if (done.status != 204) return "set-up of " + username + ": " + Describe(done);
    return "";
  }

  // A usable account the way people make one: the admin creates it (staff,
  // awaiting set-up), roles other than staff are granted (GrantRole), and
  // the holder sets `password` (SetUp). "" when done, else the failed step
  // and its answer. Costs one Argon2id hash (the set-up).
  std::string AddUser(const std::string& username, const std::string& password,
                      const std::string& role, const std::string& department,
                      HttpsClient* client = nullptr) {
    HttpResult created = PostUser(username, department, "", client);
    if (created.status != 201) return "create " + username + ": " + Describe(created);
    if (role != "staff") {
      std::string failed = GrantRole(username, role, client);
      if (!failed.empty()) return failed;
    }
    return SetUp(username, password, client);
  }

  // AddUser, then a sign-in: the token, or "" after ADD_FAILURE.
  std::string AddUserAndSignIn(const std::string& username, const std::string& password,
                               const std::string& role, const std::string& department) {
    std::string failed = AddUser(username, password, role, department);
    if (!failed.empty()) {
      ADD_FAILURE() << failed;
      return "";
    }
    std::string t = SignIn(username, password);
    if (t.empty()) ADD_FAILURE() << "sign-in of " << username << " failed";
    return t;
  }

  // The current log size, from the public checkpoint.
  uint64_t LogSize() {
    HttpResult r = client_->Get("/v1/log/checkpoint");
    if (r.status != 200) {
      ADD_FAILURE() << "checkpoint: " << Describe(r);
      return 0;
    }
    return CheckpointSize(r.body);
  }

  // The `total` of a catalogue search as `role` (-1 on failure).
  int64_t SearchTotal(const std::string& role, const std::string& query) {
    HttpResult r = As(role, "GET", "/v1/records?" + query);
    if (r.status != 200) {
      ADD_FAILURE() << "search: " << Describe(r);
      return -1;
    }
    return Int(JsonObject(r.body), "total");
  }

  // Stops the server (SIGTERM); its exit code.
  int Stop() { return server_.Stop(); }

  // Starts the server again on the same data directory (new port, new
  // shared client; sessions live in the database and stay valid).
  bool Restart() {
    if (server_.process().running()) server_.Stop();
    if (!server_.Start(data_dir_)) return false;
    client_ = NewClient();
    return true;
  }

 private:
  ApiServer() = default;

  // A request with `token` (none when empty) on `client`, or on the shared
  // client when null.
  HttpResult Send(HttpsClient* client, const std::string& token, const std::string& method,
                  const std::string& path, const std::string& json_body) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    HttpsClient& c = client ? *client : *client_;
    return c.Request(method, path, json_body, json_body.empty() ? "" : kJson, headers);
  }

  static std::string DepartmentOf(const std::string& role) {
    if (role == "legal") return "legal";
    if (role == "auditor") return "audit";
    if (role == kSecurityAuditor) return kAdministration;
    return "sales";
  }

  bool Init(const std::string& extra_config, const std::vector<std::string>& roles) {
    data_dir_ = tmp_.Sub("data");
    const std::string admin_file = tmp_.Sub("admin-password");
    const std::string security_file = tmp_.Sub("security-password");
    WriteFile(admin_file, std::string(kAdminPassword) + "\n");
    WriteFile(security_file, std::string(kSecurityPassword) + "\n");
    RunResult init = RunProgram({BinDir() + "/custosctl", "init", "--data", data_dir_,
                                 "--admin-password-file", admin_file,
                                 "--security-officer-password-file", security_file,
                                 // hashed at the floor, as the server's sign-ins (RelaxedConfig)
                                 "--password-memory-kib", "19456"});
    if (init.exit_code != 0) {
      ADD_FAILURE() << "custosctl init failed (" << init.exit_code << "): " << init.err;
      return false;
    }
    if (!server_.Start(data_dir_, RelaxedConfig(extra_config))) return false;
    client_ = NewClient();
    accounts_[kAdmin] = {kAdmin, kAdminPassword, "sysadmin", kAdministration, ""};
    accounts_[kSecurity] = {kSecurity, kSecurityPassword, "security_officer", kAdministration, ""};
    for (const std::string& role : roles) {
      accounts_[role] = {role, role + "-password-0001", role, DepartmentOf(role), ""};
    }
    // Every sign-in and set-up costs an Argon2id hash: spread them over the
    // server's worker threads.
    std::mutex mu;
    std::vector<std::string> failures;
    auto in_parallel = [&](const std::vector<std::string>& names, auto&& step) {
      std::vector<std::thread> threads;
      for (const std::string& name : names) {
        threads.emplace_back([&, name] {
          std::unique_ptr<HttpsClient> c = NewClient();
          std::string failed = step(accounts_.at(name), c.get());
          if (failed.empty()) return;
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(failed);
        });
      }
      for (auto& t : threads) t.join();
      for (const auto& f : failures) ADD_FAILURE() << f;
      return failures.empty();
    };
    auto sign_in = [this](Account& a, HttpsClient* c) -> std::string {
      a.token = SignIn(a.username, a.password, c);
      return a.token.empty() ? "sign-in of " + a.username + " failed" : "";
    };
    if (!in_parallel({kAdmin, kSecurity}, sign_in)) return false;
    for (const std::string& d : kDepartments) {
      HttpResult r = As(kAdmin, "POST", "/v1/departments", "{\"name\":\"" + d + "\"}", kJson);
      if (r.status != 201) {
        ADD_FAILURE() << "department " << d << ": " << Describe(r);
        return false;
      }
    }
    return in_parallel(roles, [this, &sign_in](Account& a, HttpsClient* c) -> std::string {
      std::string failed = AddUser(a.username, a.password, a.role, a.department, c);
      return failed.empty() ? sign_in(a, c) : failed;
    });
  }

  TempDir tmp_;
  std::string data_dir_;
  ServerProcess server_;
  std::unique_ptr<HttpsClient> client_;
  std::map<std::string, Account> accounts_;
};

// Waits until the server logged the end of a POST /v1/records that began
// after `log_offset` in its log (answered, or not delivered).
inline bool WaitForUploadHandled(ApiServer& s, size_t log_offset) {
  return WaitFor([&] {
    std::string log = s.process().Log();
    if (log.size() <= log_offset) return false;
    std::string tail = log.substr(log_offset);
    return tail.find("\"path\":\"/v1/records\"") != std::string::npos ||
           tail.find("response not delivered") != std::string::npos;
  });
}

}  // namespace custos::testing::api
