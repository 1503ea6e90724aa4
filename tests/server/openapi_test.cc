// docs/openapi.yaml is the published HTTP contract. These tests keep it true
// against the real router (every route of custosd, built over a throwaway
// archive exactly as server/main.cc builds it):
//
//   * every registered (method, pattern) is documented under `paths`, and
//     every documented operation is registered;
//   * every `$ref: '#/components/<section>/<name>'` resolves;
//   * the operations marked `security: []` are exactly those whose handler
//     answers without a bearer token.
//
// The YAML is read line by line, relying on the layout the file promises in
// its header comment: path keys indented by two spaces, method keys by four,
// `security: []` of an operation by six; components sections by two and
// their entries by four.
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "server/http/api_routes.h"
#include "server/http/ops_routes.h"
#include "server/http/request_context.h"
#include "server/http/router.h"
#include "tests/testutil/fake_request.h"
#include "server/services/audit_service.h"
#include "server/services/auth_service.h"
#include "server/services/clock.h"
#include "server/services/health.h"
#include "server/services/destruction_service.h"
#include "server/services/loan_service.h"
#include "server/services/retention_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "storage/archive.h"
#include "storage/data_dir.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos {
namespace {

using testing::BinDir;
using testing::ReadFileOrDie;
using testing::RunProgram;
using testing::RunResult;
using testing::SourceDir;
using testing::TempDir;

// ------------------------------------------------------------ YAML reading

constexpr size_t kPathIndent = 2;
constexpr size_t kMethodIndent = 4;
constexpr size_t kOperationFieldIndent = 6;
constexpr size_t kComponentSectionIndent = 2;
constexpr size_t kComponentEntryIndent = 4;
constexpr const char* kPublicMarker = "security: []";
constexpr const char* kComponentsPrefix = "#/components/";
const std::set<std::string> kHttpMethods = {"get",     "put",  "post",  "delete",
                                            "options", "head", "patch", "trace"};

struct YamlLine {
  size_t indent = 0;
  std::string text;  // without indentation and trailing spaces
};

std::vector<YamlLine> SplitLines(const std::string& yaml) {
  std::vector<YamlLine> out;
  std::istringstream in(yaml);
  std::string raw;
  while (std::getline(in, raw)) {
    while (!raw.empty() && (raw.back() == '\r' || raw.back() == ' ')) raw.pop_back();
    size_t indent = raw.find_first_not_of(' ');
    if (indent == std::string::npos) continue;  // blank
    out.push_back({indent, raw.substr(indent)});
  }
  return out;
}

bool IsComment(const YamlLine& l) { return l.text[0] == '#'; }

// "key:" (nothing after the colon) → "key"; otherwise "".
std::string BlockKey(const YamlLine& l) {
  if (l.text.size() < 2 || l.text.back() != ':') return "";
  return l.text.substr(0, l.text.size() - 1);
}

// The lines of the top-level block `name:` (up to the next top-level key).
std::vector<YamlLine> TopLevelBlock(const std::vector<YamlLine>& lines, const std::string& name) {
  std::vector<YamlLine> out;
  bool inside = false;
  for (const YamlLine& l : lines) {
    if (IsComment(l)) continue;
    if (l.indent == 0) {
      inside = BlockKey(l) == name;
      continue;
    }
    if (inside) out.push_back(l);
  }
  return out;
}

struct DocumentedOperation {
  std::string method;  // upper case, as the router has it
  std::string path;
  bool is_public = false;  // has `security: []`
};

std::vector<DocumentedOperation> ParseOperations(const std::string& yaml) {
  std::vector<DocumentedOperation> ops;
  std::string path;
  bool in_operation = false;
  for (const YamlLine& l : TopLevelBlock(SplitLines(yaml), "paths")) {
    if (l.indent <= kMethodIndent) in_operation = false;
    if (l.indent == kPathIndent) {
      std::string key = BlockKey(l);
      path = !key.empty() && key[0] == '/' ? key : "";
    } else if (l.indent == kMethodIndent && !path.empty() && kHttpMethods.count(BlockKey(l))) {
      std::string method = BlockKey(l);
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ops.push_back({method, path, false});
      in_operation = true;
    } else if (l.indent == kOperationFieldIndent && in_operation && l.text == kPublicMarker) {
      ops.back().is_public = true;
    }
  }
  return ops;
}

// "section/name" for every entry defined under `components:`.
std::set<std::string> ParseComponents(const std::string& yaml) {
  std::set<std::string> defined;
  std::string section;
  for (const YamlLine& l : TopLevelBlock(SplitLines(yaml), "components")) {
    if (l.indent == kComponentSectionIndent) section = BlockKey(l);
    if (l.indent == kComponentEntryIndent && !section.empty() && !BlockKey(l).empty()) {
      defined.insert(section + "/" + BlockKey(l));
    }
  }
  return defined;
}

// Every `$ref` target, verbatim (quotes removed), with its line number.
std::vector<std::pair<int, std::string>> ParseRefs(const std::string& yaml) {
  std::vector<std::pair<int, std::string>> refs;
  std::istringstream in(yaml);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string key = "$ref:";
    for (size_t at = line.find(key); at != std::string::npos; at = line.find(key, at + 1)) {
      size_t p = line.find_first_not_of(' ', at + key.size());
      if (p == std::string::npos) {
        refs.emplace_back(number, "");
        continue;
      }
      char quote = (line[p] == '\'' || line[p] == '"') ? line[p] : 0;
      if (quote) ++p;
      size_t end = quote ? line.find(quote, p) : line.find_first_of(" ,}", p);
      refs.emplace_back(number,
                        line.substr(p, end == std::string::npos ? std::string::npos : end - p));
    }
  }
  return refs;
}

// The refs that do not name a defined component, as "line N: target".
std::vector<std::string> DanglingRefs(const std::string& yaml) {
  std::set<std::string> defined = ParseComponents(yaml);
  std::vector<std::string> dangling;
  const std::string prefix = kComponentsPrefix;
  for (const auto& [number, target] : ParseRefs(yaml)) {
    bool ok = target.compare(0, prefix.size(), prefix) == 0 &&
              defined.count(target.substr(prefix.size())) > 0;
    if (!ok) dangling.push_back("line " + std::to_string(number) + ": " + target);
  }
  return dangling;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += "\n  " + s;
  return out;
}

std::string OpenApiText() { return ReadFileOrDie(SourceDir() + "/docs/openapi.yaml"); }

// ------------------------------------------------------------ the server

using custos::testing::FakeRequest;

// Everything custosd wires together, over a fresh archive. Members are
// destroyed in reverse order: router, services, archive, then the folder.
struct Server {
  TempDir tmp;
  storage::DataDir dir{tmp.Sub("data")};
  Config config;
  std::unique_ptr<storage::ArchiveStorage> archive;
  services::SystemClock clock;
  std::unique_ptr<services::LogService> log;
  std::unique_ptr<services::AuthService> auth;
  std::unique_ptr<services::RecordService> records;
  std::unique_ptr<services::LoanService> loans;
  std::unique_ptr<services::RetentionService> retention;
  std::unique_ptr<services::DestructionService> destruction;
  std::unique_ptr<services::PackageExporter> exporter;
  Logger logger;
  std::unique_ptr<services::AuditService> audit;
  std::unique_ptr<services::EvidenceService> evidence;
  services::HealthService health;
  MetricsRegistry metrics;
  http::Router router;
};

class OpenApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = std::make_unique<Server>();
    RunResult init = RunProgram({BinDir() + "/custosctl", "init", "--data", s->dir.root()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    auto config = ParseConfig(ReadFileOrDie(s->dir.ConfigFile()));
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    s->config = std::move(config).value();
    auto archive = storage::ArchiveStorage::Open(s->dir, s->config);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    s->archive = std::move(archive).value();
    s->log = std::make_unique<services::LogService>(s->archive->store(),
                                                    s->archive->keyring().VerifierKeys());
    s->auth = std::make_unique<services::AuthService>(s->archive->store(), s->clock);
    s->records = std::make_unique<services::RecordService>(
        s->archive->store(), s->archive->content(), s->archive->blobs(), *s->log, s->clock,
        /*trust=*/nullptr);
    s->loans = std::make_unique<services::LoanService>(s->archive->store(), s->clock);
    s->retention = std::make_unique<services::RetentionService>(s->archive->store(), s->clock);
    s->destruction = std::make_unique<services::DestructionService>(
        s->archive->store(), s->archive->blobs(), *s->log, s->archive->keyring().log_signers(),
        s->clock);
    s->exporter = std::make_unique<services::PackageExporter>(
        s->archive->store(), s->archive->content(), s->archive->keyring().VerifierKeys(), s->clock);
    s->audit = std::make_unique<services::AuditService>(
        s->archive->store(),
        [](const auto&) -> StatusOr<storage::VerifyReport> { return storage::VerifyReport{}; },
        *s->exporter, s->archive->content(), s->archive->blobs(), s->dir.root() + "/exports", s->clock,
        s->logger);
    http::AddOperationsRoutes(s->router, s->health, s->metrics, [] { return false; });
    s->evidence = std::make_unique<services::EvidenceService>(
        s->archive->store(), s->archive->content(), s->archive->keyring().VerifierKeys(), s->clock);
    http::ApiServices api{*s->auth, *s->records, *s->log, *s->loans, *s->retention, *s->destruction, *s->audit};
    api.evidence = s->evidence.get();
    http::AddApiRoutes(s->router, api);
    server_ = s.release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server could not be built"; }

  static const http::Router& router() { return server_->router; }

  // Calls the route's handler the way the dispatcher would, with no
  // Authorization header and no body.
  static http::Response CallWithoutToken(const std::string& method, const std::string& pattern) {
    std::string path;
    for (const std::string& segment : http::SplitPath(pattern)) {
      path += "/" + (segment.front() == '{' ? std::string("1") : segment);
    }
    http::Router::Match match = router().Find(method, path);
    if (match.kind != http::Router::Match::kFound || match.pattern != pattern) {
      return http::Response::Error(500, "test_routing", path + " did not reach " + pattern);
    }
    FakeRequest request(method, path);
    http::RequestContext ctx(request, match.params, http::RequestLimits{1 << 20, 1 << 20});
    try {
      return (*match.handler)(ctx);
    } catch (const std::exception& e) {
      return http::Response::Error(500, "test_exception", e.what());
    }
  }

  static Server* server_;
};

Server* OpenApi::server_ = nullptr;

// -------------------------------------------------------------- the checker

// A fragment with the traps of the real file: path-level `parameters`, a
// property named like a method deeper down, a `security` list that is not
// empty, and components of two sections.
constexpr const char* kSample = R"(openapi: 3.0.3
paths:
  /v1/things/{id}:
    parameters:
      - $ref: '#/components/parameters/ThingId'
    get:
      security: []
      responses:
        '200':
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Thing"
    delete:
      security:
        - bearerAuth: []
      responses:
        '204':
          description: gone
  /healthz:
    post:
      requestBody:
        content:
          application/json:
            schema:
              properties:
                get:
                  type: string
                put: {$ref: '#/components/schemas/Missing'}
components:
  parameters:
    ThingId:
      name: id
  schemas:
    Thing:
      properties:
        get:
          type: string
)";

TEST_F(OpenApi, CheckerReadsOperationsAndPublicMarks) {
  std::vector<DocumentedOperation> ops = ParseOperations(kSample);
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].method, "GET");
  EXPECT_EQ(ops[0].path, "/v1/things/{id}");
  EXPECT_TRUE(ops[0].is_public);
  EXPECT_EQ(ops[1].method, "DELETE");
  EXPECT_FALSE(ops[1].is_public);
  EXPECT_EQ(ops[2].method, "POST");
  EXPECT_EQ(ops[2].path, "/healthz");
  EXPECT_FALSE(ops[2].is_public);
}

TEST_F(OpenApi, CheckerReportsDanglingRef) {
  EXPECT_EQ(ParseComponents(kSample),
            (std::set<std::string>{"parameters/ThingId", "schemas/Thing"}));
  std::vector<std::string> dangling = DanglingRefs(kSample);
  ASSERT_EQ(dangling.size(), 1u) << Join(dangling);
  EXPECT_EQ(dangling[0], "line 29: #/components/schemas/Missing");
}

// ------------------------------------------------------------- the contract

TEST_F(OpenApi, UndocumentedOrStaleRoutes) {
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& route : router().Routes()) registered.insert(route);
  ASSERT_FALSE(registered.empty());

  std::set<std::pair<std::string, std::string>> documented;
  std::vector<std::string> duplicates;
  for (const DocumentedOperation& op : ParseOperations(OpenApiText())) {
    if (!documented.insert({op.method, op.path}).second) {
      duplicates.push_back(op.method + " " + op.path);
    }
  }

  std::vector<std::string> undocumented, stale;
  for (const auto& [method, path] : registered) {
    if (!documented.count({method, path})) undocumented.push_back(method + " " + path);
  }
  for (const auto& [method, path] : documented) {
    if (!registered.count({method, path})) stale.push_back(method + " " + path);
  }
  EXPECT_TRUE(undocumented.empty())
      << "routes the server registers but docs/openapi.yaml does not describe:"
      << Join(undocumented);
  EXPECT_TRUE(stale.empty()) << "operations in docs/openapi.yaml that the server does not register:"
                             << Join(stale);
  EXPECT_TRUE(duplicates.empty()) << "operations documented twice:" << Join(duplicates);
}

TEST_F(OpenApi, DanglingComponentRefs) {
  std::string yaml = OpenApiText();
  ASSERT_FALSE(ParseRefs(yaml).empty());
  ASSERT_TRUE(ParseComponents(yaml).count("schemas/Error"));
  std::vector<std::string> dangling = DanglingRefs(yaml);
  EXPECT_TRUE(dangling.empty()) << "$ref targets not defined under components:" << Join(dangling);
}

TEST_F(OpenApi, PublicMarksDisagreeWithHandlers) {
  std::map<std::pair<std::string, std::string>, bool> documented_public;
  for (const DocumentedOperation& op : ParseOperations(OpenApiText())) {
    documented_public[{op.method, op.path}] = op.is_public;
  }
  std::vector<std::string> wrong;
  size_t public_count = 0;
  for (const auto& [method, pattern] : router().Routes()) {
    http::Response r = CallWithoutToken(method, pattern);
    ASSERT_NE(r.status, 500) << method << " " << pattern << ": " << r.body;
    bool needs_token = r.status == 401 && r.body.find("\"not_signed_in\"") != std::string::npos;
    public_count += needs_token ? 0 : 1;
    auto it = documented_public.find({method, pattern});
    if (it == documented_public.end()) continue;  // reported by UndocumentedOrStaleRoutes
    if (it->second == needs_token) {
      wrong.push_back(method + " " + pattern +
                      (needs_token ? ": needs a token but is marked `security: []`"
                                   : ": answers without a token but is not marked `security: []`"));
    }
  }
  EXPECT_TRUE(wrong.empty()) << Join(wrong);
  // POST /v1/session, POST /v1/setup (a set-up code instead of a token),
  // the checkpoint and key, and the three operations routes.
  EXPECT_EQ(public_count, 7u);
}

}  // namespace
}  // namespace custos
