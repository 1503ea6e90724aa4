// Fuzz target for every JSON request decoder of the HTTP API, reached
// through the real route handlers: the services and the Router are built as
// server/main.cc builds them (AddApiRoutes), over a SQLite store in a
// temporary directory (tests/testutil/scratch_store.h) and an in-memory blob
// store (tests/testutil/memory_blob_store.h), and each input is
// one request handed to the matched handler in-process, through a minimal
// HTTPServerRequest without a socket.
//
// Input layout:
//   byte 0   the route, an index into kRoutes (modulo its size);
//   byte 1   bits 0-3: the caller (kCallers: one user per role, a user who
//            must change their password, no token, an unknown token);
//            bits 4-5: the path parameter (0 and 2: seeded objects, 1: one
//            that does not exist, 3: an odd percent-encoded one);
//            bits 6-7: how the body is framed (0: Content-Length, 1: no
//            length header, so the body is not read, 2: chunked, 3: a
//            Content-Length one byte longer than the body);
//   rest     the body. For the two upload routes it is the JSON "metadata"
//            part of a multipart body that also carries a small file.
//
// State: every input meets the same freshly seeded world: new stores and
// services, with four departments, one user per role plus one
// who must change their password and a session each (written straight into
// the store), then, through the router with real requests, three records
// (two made long ago, so due for disposition, one of them under a legal
// hold), a loan, a pending retention change and a destruction batch. The
// world is kept for the next input only while nothing changed it (no store
// write committed, no blob written, no audit job started; see Untouched),
// which is most inputs; otherwise it is built again. So nothing an input
// does (a changed password, a locked account, a new user) reaches the next
// one. Argon2 runs with its smallest parameters and the clock is fixed.
//
// Properties, each checked with abort() (after a line on stderr):
//   * no handler throws (the server would turn that into a 500);
//   * the status is one the route documents in docs/openapi.yaml;
//   * every answer of 400 or more has {"error":{"code":"<non-empty>",
//     "message":"…"}}; every JSON answer parses.
//
// Covered: ParseObject, OptString/ReqString/OptBool/OptObject/OnlyKeys,
// DecodeRecordInput and DecodeRecordPatch (json_codec.h), JsonBody,
// OptionalJsonBody and StringList (route_util.h), RequestContext's body
// reading, and the inline decoders of sign-in, password change, users,
// departments, record versions, loans (DecodeLoanRequest, the action
// bodies), retention rules (RuleBody/RuleFromJson), holds, destructions and
// exports (DecodeExport), with the services behind them.
// Not covered: routes without a JSON body (GET, DELETE), query-string
// parsing, the multipart framing beyond the metadata part (fuzzed by
// multipart_fuzz.cc), TLS and HTTP parsing (Poco's), the SQLite store, and
// the background work the audit routes start (verification runs a stub;
// an export job may or may not run before the world is torn down).
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/SocketAddress.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/key_provider.h"
#include "crypto/password.h"
#include "crypto/random.h"
#include "crypto/signature.h"
#include "crypto/signed_note.h"
#include "server/http/api_routes.h"
#include "server/http/request_context.h"
#include "server/http/response.h"
#include "server/http/router.h"
#include "tests/testutil/fake_request.h"
#include "server/services/audit_package.h"
#include "server/services/audit_service.h"
#include "server/services/auth_service.h"
#include "server/services/clock.h"
#include "server/services/destruction_service.h"
#include "server/services/loan_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "server/services/retention_service.h"
#include "storage/content_store.h"
#include "storage/keyring.h"
#include "tests/testutil/faulty_store.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/scratch_store.h"

#ifndef CUSTOS_FUZZ_SOURCE_DIR
#error "CUSTOS_FUZZ_SOURCE_DIR must name the source tree (tests/fuzz/CMakeLists.txt sets it)"
#endif

namespace custos {
namespace {

constexpr char kOrigin[] = "fuzz.example/custos";
constexpr char kPassword[] = "fuzzing-password-1";
constexpr char kBoundary[] = "CustosFuzzBoundary";
// JSON bodies above this are refused (413): small, so that inputs reach it.
constexpr int64_t kMaxJsonBytes = 2048;
constexpr int64_t kMaxBodyBytes = 1 << 20;

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "json_request: %s\n", why.c_str());
  std::fflush(stderr);
  std::abort();
}

void Check(bool condition, const std::string& why) {
  if (!condition) Fail(why);
}

// ------------------------------------------------------------ the request

using custos::testing::FakeRequest;

enum class Framing { kLength, kNoLength, kChunked, kLongLength };

struct Call {
  std::string method;
  std::string path;
  std::string token;  // "" for none
  std::string body;
  std::string content_type = "application/json";
  Framing framing = Framing::kLength;
};

struct Answer {
  std::string pattern;  // the route that served it
  http::Response response;
};

Answer Send(const http::Router& router, const Call& call) {
  http::Router::Match match = router.Find(call.method, call.path);
  Check(match.kind == http::Router::Match::kFound, "no route for " + call.method + " " + call.path);
  FakeRequest request(call.method, call.path, call.body);
  request.setContentType(call.content_type);
  if (!call.token.empty()) request.set("Authorization", "Bearer " + call.token);
  switch (call.framing) {
    case Framing::kLength:
      request.setContentLength64(static_cast<Poco::Int64>(call.body.size()));
      break;
    case Framing::kNoLength:
      break;
    case Framing::kChunked:
      request.setChunkedTransferEncoding(true);
      break;
    case Framing::kLongLength:
      request.setContentLength64(static_cast<Poco::Int64>(call.body.size()) + 1);
      break;
  }
  http::RequestContext ctx(request, match.params, http::RequestLimits{kMaxBodyBytes, kMaxJsonBytes});
  Answer a;
  a.pattern = match.pattern;
  try {
    a.response = (*match.handler)(ctx);
  } catch (const std::exception& e) {
    Fail(call.method + " " + match.pattern + " threw: " + e.what());
  } catch (...) {
    Fail(call.method + " " + match.pattern + " threw a non-standard exception");
  }
  return a;
}

// The multipart body of an upload: `metadata` as its JSON part, one file.
std::string UploadBody(const std::string& metadata) {
  const std::string dash = std::string("--") + kBoundary;
  return dash + "\r\nContent-Disposition: form-data; name=\"metadata\"\r\n" +
         "Content-Type: application/json\r\n\r\n" + metadata + "\r\n" + dash +
         "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.txt\"\r\n" +
         "Content-Type: text/plain\r\n\r\nfuzz file content\r\n" + dash + "--\r\n";
}

std::string UploadType() { return std::string("multipart/form-data; boundary=") + kBoundary; }

Poco::JSON::Object::Ptr JsonObject(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(text);
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
  }
  return {};
}

// ------------------------------------------------------------ the contract

// (method, pattern) → the statuses docs/openapi.yaml lists for it. The file
// promises its layout (see its header): path keys indented by two spaces,
// method keys by four, `responses:` by six and status keys ('200':) by
// eight.
using Documented = std::map<std::pair<std::string, std::string>, std::set<int>>;

Documented ReadDocumentedStatuses() {
  const std::string file = std::string(CUSTOS_FUZZ_SOURCE_DIR) + "/docs/openapi.yaml";
  std::ifstream in(file);
  Check(static_cast<bool>(in), "cannot read " + file);
  static const std::set<std::string> kMethods = {"get", "put", "post", "delete", "patch"};
  Documented out;
  bool in_paths = false, in_responses = false;
  std::string path, method;
  std::string line;
  while (std::getline(in, line)) {
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos || line[indent] == '#') continue;
    std::string text = line.substr(indent);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
    if (indent == 0) {
      in_paths = text == "paths:";
      continue;
    }
    if (!in_paths) continue;
    if (indent == 2 && text.front() == '/' && text.back() == ':') {
      path = text.substr(0, text.size() - 1);
      method.clear();
      in_responses = false;
    } else if (indent == 4) {
      std::string key = text.substr(0, text.size() - 1);
      method = text.back() == ':' && kMethods.count(key) ? key : "";
      in_responses = false;
    } else if (indent == 6) {
      in_responses = !method.empty() && text == "responses:";
    } else if (indent == 8 && in_responses && text.size() == 6 && text[0] == '\'' &&
               text[4] == '\'' && text[5] == ':') {
      std::string upper;
      for (char c : method) upper += static_cast<char>(c - 'a' + 'A');
      out[{upper, path}].insert(std::stoi(text.substr(1, 3)));
    }
  }
  Check(!out.empty(), "no operations found in " + file);
  return out;
}

// ------------------------------------------------------------ the world

// Argon2 with the smallest parameters it takes: the code is the same, only
// its cost differs.
crypto::PasswordParams CheapPasswords() {
  crypto::PasswordParams p;
  p.time_cost = 1;
  p.memory_kib = 8;
  p.parallelism = 1;
  return p;
}

// Cheap hashes, and no role needs a second factor: the target feeds the
// routes' JSON decoders, which a session waiting to enrol one never reaches
// (the rule is tested in separation_test.cc and second_factor_test.cc).
services::AuthOptions CheapAuth() {
  services::AuthOptions o;
  o.argon2_memory_kib = CheapPasswords().memory_kib;
  o.argon2_iterations = CheapPasswords().time_cost;
  o.second_factor_roles.clear();
  return o;
}

struct Shared {
  Shared(crypto::note::KeySigner s, std::unique_ptr<crypto::LocalKeyProvider> k, std::string dir,
         std::string hash)
      : signer(std::move(s)),
        checkpoint(kOrigin, {&signer}),
        keys(std::move(k)),
        exports_dir(std::move(dir)),
        password_hash(std::move(hash)),
        documented(ReadDocumentedStatuses()) {}

  const crypto::note::KeySigner signer;
  storage::NoteCheckpointSigner checkpoint;  // signs with `signer`
  const std::unique_ptr<crypto::LocalKeyProvider> keys;
  const std::string exports_dir;
  const std::string password_hash;  // of kPassword, with CheapPasswords()
  const Documented documented;
};

Shared& TheShared();

// At exit, after the last world (and its export packages) is gone.
void RemoveExportsDir() { ::rmdir(TheShared().exports_dir.c_str()); }

Shared& TheShared() {
  // Built once; nothing in it changes afterwards.
  static Shared* const shared = [] {
    auto pair = crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519);
    Check(pair.ok(), "key generation failed");
    auto signer = crypto::note::KeySigner::Create(kOrigin, std::move(pair).value());
    Check(signer.ok(), "signer creation failed");
    auto kek_bytes = crypto::RandomBytes(crypto::kKekSize);
    Check(kek_bytes.ok(), "no random bytes");
    auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(kek_bytes).value()));
    Check(kek.ok(), "KEK creation failed");
    auto keys = crypto::LocalKeyProvider::Create(std::move(kek).value());
    Check(keys.ok(), "key provider creation failed");
    char dir[] = "/tmp/custos-fuzz-exports-XXXXXX";
    Check(::mkdtemp(dir) != nullptr, "mkdtemp failed");
    auto hash = crypto::HashPassword(kPassword, CheapPasswords());
    Check(hash.ok(), "password hashing failed");
    auto* made = new Shared(std::move(signer).value(), std::move(keys).value(), dir,
                            std::move(hash).value());
    std::atexit(RemoveExportsDir);
    return made;
  }();
  return *shared;
}

// The callers, in the order byte 1 picks them.
struct Caller {
  const char* username;  // nullptr: no token
  const char* role;
  const char* department;
};
constexpr Caller kCallers[] = {
    {"admin", "sysadmin", "administration"},  {"archivist", "archivist", "sales"},
    {"staff", "staff", "sales"},           {"approver", "approver", "sales"},
    {"legal", "legal", "legal"},           {"auditor", "auditor", "audit"},
    {"newbie", "staff", "sales"},  // must change the password first
    {nullptr, nullptr, nullptr},           // no Authorization header
    {"", nullptr, nullptr},                // a token no session has
};
constexpr size_t kCallerCount = sizeof kCallers / sizeof kCallers[0];
const domain::Time kNow = domain::ParseTime("2026-03-02T09:00:00Z").value();
const domain::Time kLongAgo = domain::ParseTime("1990-06-01T09:00:00Z").value();

// Everything custosd wires together, over fresh in-memory stores. Members
// are destroyed in reverse order: router, services, stores.
struct World {
  explicit World(Shared& s)
      : shared(s),
        scratch(&shared.checkpoint),
        store(scratch),
        content(blobs, *shared.keys, crypto::Suite::kIntl),
        log(store, shared.signer.VerifierKey()),
        auth(store, clock, CheapAuth()),
        records(store, content, blobs, log, clock, /*trust=*/nullptr),
        loans(store, clock),
        retention(store, clock),
        destruction(store, blobs, log, {&shared.signer}, clock),
        exporter(store, content, shared.signer.VerifierKey(), clock),
        audit(
            store,
            [](const auto&) -> StatusOr<storage::VerifyReport> { return storage::VerifyReport{}; },
            exporter, content, blobs, shared.exports_dir, clock, logger) {
    http::AddApiRoutes(router, {auth, records, log, loans, retention, destruction, audit});
  }

  Shared& shared;  // the checkpoint signer is shared; it keeps no state
  services::ManualClock clock{kNow};
  storage::testing::ScratchStore scratch;
  storage::testing::FaultyStore store;  // counts the commits (see Untouched)
  storage::MemoryBlobStore blobs;
  storage::ContentStore content;
  services::LogService log;
  services::AuthService auth;
  services::RecordService records;
  services::LoanService loans;
  services::RetentionService retention;
  services::DestructionService destruction;
  services::PackageExporter exporter;
  Logger logger{2, LogLevel::kError};  // failed audit jobs are expected here
  services::AuditService audit;
  http::Router router;

  std::map<std::string, std::string> tokens;  // username → bearer token
  // Seeded objects: "record" (new), "old-record" (due), "held-record",
  // "loan", "hold", "change", "destruction".
  std::map<std::string, std::string> ids;

  // What the seeded world looks like from outside, to tell whether an input
  // changed it (see FreshWorld).
  uint64_t seeded_commits = 0;
  std::vector<domain::BlobId> seeded_blobs;
  bool audit_jobs = false;  // an audit route started a job
};

// A seeding request that must succeed; returns the answer's JSON.
Poco::JSON::Object::Ptr Seed(World& w, Call call, int want) {
  Answer a = Send(w.router, call);
  Check(a.response.status == want, "seeding " + call.method + " " + call.path + " answered " +
                                       std::to_string(a.response.status) + ": " + a.response.body);
  return JsonObject(a.response.body);
}

std::string CheckInRecord(World& w, const std::string& title, const std::string& classification) {
  Call c{"POST", "/v1/records", w.tokens.at("archivist"),
         UploadBody(R"({"type":"general","title":")" + title +
                    R"(","department":"sales","classification":")" + classification + R"("})"),
         UploadType()};
  return Seed(w, c, 201)->getValue<std::string>("id");
}

// The bearer token of `username`'s seeded session (64 hex digits, as the
// tokens AuthService hands out).
std::string TokenOf(const std::string& username) {
  return crypto::HexEncode(crypto::Sha256Of("fuzz session of " + username));
}

// The people, written straight into the store (their sign-ins and creation
// events would only cost time): the departments, one user per caller and a
// session each.
void SeedPeople(World& w) {
  const domain::Time now = w.clock.Now();
  Status s = w.store.Write([&](storage::Transaction& tx) -> Status {
    for (const char* d : {"administration", "sales", "legal", "audit"}) {
      CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, now}));
    }
    for (const Caller& c : kCallers) {
      if (c.username == nullptr || c.role == nullptr) continue;
      domain::User u;
      u.username = domain::Username{c.username};
      u.password_hash = w.shared.password_hash;
      CUSTOS_ASSIGN_OR_RETURN(u.role, domain::ParseRole(c.role));
      u.department = c.department;
      u.must_change_password = std::string(c.username) == "newbie";
      u.password_changed_at = u.created_at = now;
      CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
      CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert(
          {services::TokenHash(TokenOf(c.username)), u.username, now, now, now + std::chrono::hours(12)}));
      w.tokens[c.username] = TokenOf(c.username);
    }
    return Status::Ok();
  });
  Check(s.ok(), "cannot seed the people: " + s.ToString());
}

void Populate(World& w) {
  SeedPeople(w);

  // Two records made long ago, due for disposition now.
  w.clock.Set(kLongAgo);
  w.ids["old-record"] = CheckInRecord(w, "Old minutes", "internal");
  w.ids["held-record"] = CheckInRecord(w, "Old correspondence", "confidential");
  w.clock.Set(kNow);

  // A new record, a loan of it, a hold, a pending change, a batch.
  w.ids["record"] = CheckInRecord(w, "Supplier list", "internal");
  w.ids["loan"] = Seed(w,
                       {"POST", "/v1/loans", w.tokens["staff"],
                        R"({"recordId":")" + w.ids["record"] +
                            R"(","kind":"digital","purpose":"review","dueAt":"2026-03-09T09:00:00Z"})"},
                       201)
                      ->getValue<std::string>("id");
  w.ids["hold"] = Seed(w,
                       {"POST", "/v1/holds", w.tokens["legal"],
                        R"({"name":"Case 7","reason":"litigation","recordIds":[")" +
                            w.ids["held-record"] + R"("]})"},
                       201)
                      ->getValue<std::string>("id");
  w.ids["change"] = Seed(w,
                         {"PUT", "/v1/retention/schedules/customer_file", w.tokens["archivist"],
                          R"({"trigger":"last_activity","period":"P1Y","action":"destroy"})"},
                         202)
                        ->getValue<std::string>("id");
  w.ids["destruction"] = Seed(w,
                              {"POST", "/v1/destructions", w.tokens["archivist"],
                               R"({"recordIds":[")" + w.ids["old-record"] +
                                   R"("],"reason":"retention ended"})"},
                              201)
                             ->getValue<std::string>("id");
  w.seeded_commits = w.store.commits();
  auto blobs = w.blobs.List();
  Check(blobs.ok(), "cannot list blobs");
  w.seeded_blobs = std::move(blobs).value();
}

// Whether `w` is still exactly as Populate left it. Only a committed store
// write, a blob or an audit job can change it: services keep their state in
// the store, failed writes leave nothing, the clock never moves, and with a
// fixed clock authenticating touches no session.
bool Untouched(World& w) {
  if (w.audit_jobs || w.store.commits() != w.seeded_commits) return false;
  auto blobs = w.blobs.List();
  return blobs.ok() && *blobs == w.seeded_blobs;
}

// The world for the next input: the previous one if that input left it
// untouched (most inputs are refused before anything is written), else a
// new one. Either way every input meets the same state.
std::unique_ptr<World>& TheWorld() {
  static std::unique_ptr<World> world;
  return world;
}

World& FreshWorld(Shared& shared) {
  std::unique_ptr<World>& world = TheWorld();
  if (!world || !Untouched(*world)) {
    world.reset();  // the old one goes first: its audit worker stops
    world = std::make_unique<World>(shared);
    Populate(*world);
    if (std::getenv("CUSTOS_FUZZ_TRACE") != nullptr) std::fprintf(stderr, "(new world)\n");
  }
  return *world;
}

// ------------------------------------------------------------ the routes

struct Route {
  const char* method;
  const char* pattern;
  bool upload;  // the body is the metadata part of a multipart upload
};

// The order is the input format (byte 0): append, never reorder.
constexpr Route kRoutes[] = {
    {"POST", "/v1/session", false},                          // 0
    {"POST", "/v1/me/password", false},                      // 1
    {"POST", "/v1/users", false},                            // 2
    {"PATCH", "/v1/users/{name}", false},                    // 3
    {"POST", "/v1/departments", false},                      // 4
    {"POST", "/v1/records", true},                           // 5
    {"PATCH", "/v1/records/{id}", false},                    // 6
    {"POST", "/v1/records/{id}/versions", true},             // 7
    {"POST", "/v1/loans", false},                            // 8
    {"POST", "/v1/loans/{id}/approve", false},               // 9
    {"POST", "/v1/loans/{id}/reject", false},                // 10
    {"POST", "/v1/loans/{id}/checkout", false},              // 11
    {"POST", "/v1/loans/{id}/return", false},                // 12
    {"POST", "/v1/loans/{id}/renew", false},                 // 13
    {"POST", "/v1/loans/{id}/revoke", false},                // 14
    {"PUT", "/v1/retention/schedules/{type}", false},        // 15
    {"POST", "/v1/retention/changes/{id}/approve", false},   // 16
    {"POST", "/v1/retention/changes/{id}/reject", false},    // 17
    {"PUT", "/v1/records/{id}/retention", false},            // 18
    {"POST", "/v1/holds", false},                            // 19
    {"POST", "/v1/holds/{id}/records", false},               // 20
    {"POST", "/v1/holds/{id}/release", false},               // 21
    {"POST", "/v1/destructions", false},                     // 22
    {"POST", "/v1/destructions/{id}/approve", false},        // 23
    {"POST", "/v1/destructions/{id}/execute", false},        // 24
    {"POST", "/v1/audit/verify", false},                     // 25
    {"POST", "/v1/exports", false},                          // 26
};
constexpr size_t kRouteCount = sizeof kRoutes / sizeof kRoutes[0];

// The value of `placeholder` in `pattern` for the given variant: the
// seeded objects for variants 0 and 2, one that does not exist for 1, an odd
// percent-encoded one for 3.
std::string ParamValue(const World& w, const std::string& pattern, const std::string& placeholder,
                       int variant) {
  std::string first, second, missing;
  if (placeholder == "name") {
    first = "staff", second = "newbie", missing = "nobody";
  } else if (placeholder == "type") {
    first = "general", second = "contract", missing = "no_such_type";
  } else if (pattern.rfind("/v1/records/", 0) == 0) {
    first = w.ids.at("record"), second = w.ids.at("old-record"), missing = "GN-2026-999999";
  } else if (pattern.rfind("/v1/loans/", 0) == 0) {
    first = second = w.ids.at("loan"), missing = "LN-2026-999999";
  } else if (pattern.rfind("/v1/holds/", 0) == 0) {
    first = second = w.ids.at("hold"), missing = "LH-2026-999999";
  } else if (pattern.rfind("/v1/retention/changes/", 0) == 0) {
    first = second = w.ids.at("change"), missing = "RC-2026-999999";
  } else if (pattern.rfind("/v1/destructions/", 0) == 0) {
    first = second = w.ids.at("destruction"), missing = "DB-2026-999999";
  } else {
    Fail("no parameter values for " + pattern);
  }
  switch (variant) {
    case 0: return first;
    case 1: return missing;
    case 2: return second;
    default: return "%2e%2E%2fx%00y";  // decodes to "../x", a NUL and "y"
  }
}

std::string PathFor(const World& w, const std::string& pattern, int variant) {
  std::string path;
  for (const std::string& segment : http::SplitPath(pattern)) {
    path += "/";
    if (segment.front() == '{') {
      path += ParamValue(w, pattern, segment.substr(1, segment.size() - 2), variant);
    } else {
      path += segment;
    }
  }
  return path;
}

void CheckAnswer(const Shared& shared, const Call& call, const Answer& a) {
  const http::Response& r = a.response;
  const std::string what = call.method + " " + a.pattern + " answered " + std::to_string(r.status) +
                           " " + r.body.substr(0, 300);
  auto documented = shared.documented.find({call.method, a.pattern});
  Check(documented != shared.documented.end(), "undocumented operation: " + what);
  Check(documented->second.count(r.status) > 0, "undocumented status: " + what);
  if (r.stream) return;
  bool json = r.content_type.rfind("application/json", 0) == 0;
  Poco::JSON::Object::Ptr body;
  if (json && !r.body.empty()) {
    try {
      Poco::JSON::Parser parser;
      Poco::Dynamic::Var v = parser.parse(r.body);
      if (v.type() == typeid(Poco::JSON::Object::Ptr)) body = v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
      Fail("a JSON answer does not parse (" + e.message() + "): " + what);
    }
  }
  if (r.status >= 400) {
    Check(json && body && body->has("error"), "an error answer without an error object: " + what);
    Poco::JSON::Object::Ptr error = body->getObject("error");
    Check(error && error->has("code") && error->get("code").isString() &&
              !error->getValue<std::string>("code").empty() && error->has("message") &&
              error->get("message").isString(),
          "an error answer without code and message: " + what);
  }
}

}  // namespace
}  // namespace custos

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)custos::TheShared();
  return 0;
}

// The replay driver's last call: the world goes (its audit worker stops,
// an export in flight included) before exit destroys what the worker uses.
extern "C" void CustosFuzzReplayFinish() { custos::TheWorld().reset(); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace custos;
  if (size < 2) return 0;
  Shared& shared = TheShared();
  World& world = FreshWorld(shared);

  const Route& route = kRoutes[data[0] % kRouteCount];
  const Caller& caller = kCallers[(data[1] & 0x0f) % kCallerCount];
  const int variant = (data[1] >> 4) & 0x03;
  const auto framing = static_cast<Framing>(data[1] >> 6);
  std::string body(reinterpret_cast<const char*>(data + 2), size - 2);

  Call call;
  call.method = route.method;
  call.path = PathFor(world, route.pattern, variant);
  if (caller.username != nullptr) {
    call.token = caller.role ? world.tokens.at(caller.username) : "not-a-session-token";
  }
  if (route.upload) {
    call.body = UploadBody(body);
    call.content_type = UploadType();
  } else {
    call.body = std::move(body);
  }
  call.framing = framing;
  Answer answer = Send(world.router, call);
  // A started job runs later on the audit worker and may write then.
  if (answer.pattern == "/v1/audit/verify" || answer.pattern == "/v1/exports") {
    world.audit_jobs = world.audit_jobs || answer.response.status == 202;
  }
  if (std::getenv("CUSTOS_FUZZ_TRACE") != nullptr) {  // to see what the seeds reach
    std::fprintf(stderr, "%s %s -> %d %s\n", call.method.c_str(), call.path.c_str(),
                 answer.response.status, answer.response.body.substr(0, 160).c_str());
  }
  CheckAnswer(shared, call, answer);
  return 0;
}
