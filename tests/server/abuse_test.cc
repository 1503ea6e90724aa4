// Hostile clients against the real custosd over TLS (DESIGN §7: no request
// may crash or wedge the server; bad input gets a clear 4xx and changes
// nothing): connections that never finish their header, header and URL
// floods, deeply nested JSON, uploads that lie about their length, password
// guessing, file names that hide what they are, and the security headers
// every answer carries.
//
// Cases already covered elsewhere are not repeated here: one oversized header
// line (HttpsServerTest.OversizedHeaderGets4xx), '/' in file names
// (ApiBadInput.FileNameWithSlash), the lockout threshold and the locked
// answer (ApiFlow.FiveWrongPasswordsLockTheAccount), tokens after sign-out
// (ApiFlow.SignOutInvalidatesOnlyThatToken) and session expiry
// (AuthServiceTest.SessionsEndWhenIdleAndAfterTheAbsoluteLimit).
//
// Figures (requests per second, connection lifetimes, answer times) are
// printed, never asserted.
#include <Poco/String.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A header of `r` looked up without regard to case ("" when absent).
std::string HeaderOf(const HttpResult& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (Poco::icompare(k, name) == 0) return v;
  }
  return "";
}

// A header of a raw HTTP answer, looked up without regard to case.
std::string RawHeaderOf(const std::string& reply, const std::string& name) {
  size_t end = reply.find("\r\n\r\n");
  std::string head = reply.substr(0, end);
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string::npos) {
    at += 2;
    size_t colon = head.find(':', at);
    size_t eol = std::min(head.find("\r\n", at), head.size());
    if (colon == std::string::npos || colon > eol) continue;
    if (Poco::icompare(head.substr(at, colon - at), name) == 0) {
      std::string v = head.substr(colon + 1, eol - colon - 1);
      return v.substr(std::min(v.find_first_not_of(' '), v.size()));
    }
  }
  return "";
}

// A POST /v1/records header with the given length (the body follows apart).
std::string UploadHeader(const std::string& token, uint64_t content_length) {
  return "POST /v1/records HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: " + MultipartType() +
         "\r\nContent-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

// True if the server process still runs and answers /healthz on a new
// connection.
bool ServerAlive(ApiServer& s) {
  if (s.process().process().Wait(0) != -1) return false;
  return s.NewClient()->Get("/healthz").status == 200;
}

// `s` with %XX sequences decoded; nullopt if a '%' is not followed by two
// hex digits.
std::optional<std::string> PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

// What the archive holds, to show a refused request changed nothing.
struct ArchiveSnapshot {
  uint64_t log_size = 0;
  int64_t records = 0;
  size_t blobs = 0;
  size_t temp_blobs = 0;

  static ArchiveSnapshot Take(ApiServer& s) {
    return {s.LogSize(), s.SearchTotal("archivist", "pageSize=1"), CountBlobs(s.data_dir()),
            CountTempBlobs(s.data_dir())};
  }
  bool operator==(const ArchiveSnapshot& o) const {
    return log_size == o.log_size && records == o.records && blobs == o.blobs &&
           temp_blobs == o.temp_blobs;
  }
  std::string ToString() const {
    return "log " + std::to_string(log_size) + ", records " + std::to_string(records) +
           ", blobs " + std::to_string(blobs) + ", partial blobs " + std::to_string(temp_blobs);
  }
};

// One server for every test of the suite, default configuration.
class Abuse : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A server that closes while a request is still being written must fail
    // the write, not kill the test program.
    ::signal(SIGPIPE, SIG_IGN);
    server_ = ApiServer::Create("", {"archivist", "staff"}).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not come up"; }

  ApiServer& S() { return *server_; }

  bool WaitForUploadHandled(size_t log_offset) { return api::WaitForUploadHandled(S(), log_offset); }

  // Sends `request` on its own TLS connection (as far as the server takes
  // it) and returns whatever came back.
  std::string SendRaw(const std::string& request) {
    RawTlsConnection conn(S().port());
    if (!conn.connected()) {
      ADD_FAILURE() << "TLS handshake failed";
      return "";
    }
    (void)conn.Write(request);  // the server may answer and close before taking it all
    return conn.ReadResponse(10000);
  }

  static ApiServer* server_;
};

ApiServer* Abuse::server_ = nullptr;

// ------------------------------------------------------------------ headers

// A refusal of an abusive header: a 4xx status line (400 or 431 by the
// specification), or the connection closed without an answer.
void ExpectRefusedOrClosed(const std::string& reply, const std::string& what) {
  if (reply.empty()) return;  // closed: allowed
  EXPECT_TRUE(reply.rfind("HTTP/1.1 400", 0) == 0 || reply.rfind("HTTP/1.1 431", 0) == 0)
      << what << ": " << reply.substr(0, 200);
}

TEST_F(Abuse, TwoThousandHeaderLinesAreRefused) {
  std::string request = "GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                        S().token("staff") + "\r\n";
  for (int i = 0; i < 2000; ++i) request += "X-Flood-" + std::to_string(i) + ": v\r\n";
  request += "\r\n";
  auto start = Clock::now();
  std::string reply = SendRaw(request);
  std::printf("[ figures  ] 2,000 header lines (%zu bytes): %s after %.1f ms\n", request.size(),
              reply.empty() ? "closed" : reply.substr(0, reply.find("\r\n")).c_str(),
              SecondsSince(start) * 1000);
  ExpectRefusedOrClosed(reply, "header flood");
  EXPECT_EQ(reply.find("\"username\""), std::string::npos) << "the flooded request was served";
  EXPECT_TRUE(ServerAlive(S()));
}

TEST_F(Abuse, HundredKibUrlIsRefused) {
  std::string request = "GET /v1/records/" + std::string(100 * 1024, 'a') +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                        S().token("archivist") + "\r\n\r\n";
  auto start = Clock::now();
  std::string reply = SendRaw(request);
  std::printf("[ figures  ] 100 KiB URL: %s after %.1f ms\n",
              reply.empty() ? "closed" : reply.substr(0, reply.find("\r\n")).c_str(),
              SecondsSince(start) * 1000);
  if (!reply.empty()) {
    EXPECT_EQ(reply.rfind("HTTP/1.1 4", 0), 0u) << reply.substr(0, 200);
  }
  EXPECT_TRUE(ServerAlive(S()));
}

// --------------------------------------------------------------------- JSON

// Deeper than any parser recursion could go, and long enough for a naive
// destructor of the parsed value to recurse as deep.
const std::string& OpenArrays() {
  static const std::string text(100000, '[');
  return text;
}

// {"username":{"username":…1…}} nested 10,000 deep, syntactically complete.
const std::string& DeepObject() {
  static const std::string text = [] {
    std::string out;
    for (int i = 0; i < 10000; ++i) out += "{\"username\":";
    out += "1";
    out += std::string(10000, '}');
    return out;
  }();
  return text;
}

void ExpectMalformedJson(const HttpResult& r, const std::string& what) {
  EXPECT_EQ(r.status, 400) << what << ": " << Describe(r);
  EXPECT_TRUE(ErrorCode(r) == "malformed_json" || ErrorCode(r) == "json_too_deep")
      << what << ": " << Describe(r);
}

TEST_F(Abuse, DeeplyNestedJsonIsRefusedNotACrash) {
  ArchiveSnapshot before = ArchiveSnapshot::Take(S());
  ExpectMalformedJson(S().Call("", "POST", "/v1/session", OpenArrays(), kJson),
                      "sign-in, 100,000 '['");
  ASSERT_TRUE(ServerAlive(S()));
  ExpectMalformedJson(S().Call("", "POST", "/v1/session", DeepObject(), kJson),
                      "sign-in, object 10,000 deep");
  ASSERT_TRUE(ServerAlive(S()));
  ExpectMalformedJson(S().As(kAdmin, "POST", "/v1/users", OpenArrays(), kJson),
                      "create user, 100,000 '['");
  ASSERT_TRUE(ServerAlive(S()));
  ExpectMalformedJson(S().As(kAdmin, "POST", "/v1/users", DeepObject(), kJson),
                      "create user, object 10,000 deep");
  ASSERT_TRUE(ServerAlive(S()));
  ExpectMalformedJson(S().CheckIn("archivist", DeepObject(), {FilePart("deep.pdf", "deep")}),
                      "check-in metadata, object 10,000 deep");
  ASSERT_TRUE(ServerAlive(S()));
  EXPECT_EQ(ArchiveSnapshot::Take(S()), before);
}

// ------------------------------------------------------------------ uploads

// The API documentation does not say whether an empty file may be checked
// in; an empty file is a file (a form with nothing filled in is still
// evidence), so it is stored and reads back as zero bytes.
TEST_F(Abuse, ZeroByteFileIsStoredAndReadsBackEmpty) {
  Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", GeneralJson("Zero-byte file"),
                                              {FilePart("empty.txt", "", "text/plain")});
  ASSERT_TRUE(rec);
  Poco::JSON::Object::Ptr file =
      rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  EXPECT_EQ(Int(file, "size"), 0);
  EXPECT_EQ(Str(file, "sha256"), kEmptySha256);
  HttpResult r = S().As("archivist", "GET",
                        "/v1/records/" + Str(rec, "id") + "/versions/1/files/" + Str(file, "id"));
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(HeaderOf(r, "Content-Length"), "0");
  EXPECT_EQ(HeaderOf(r, "ETag"), std::string("\"") + kEmptySha256 + "\"");
}

// Declares the largest body the server accepts (4 GiB), sends 1 MiB of it
// and vanishes: nothing is kept, no partial blob stays behind.
TEST_F(Abuse, UploadDeclaringFourGibThatStopsAfterOneMibLeavesNothing) {
  constexpr uint64_t kDeclared = 4ULL << 30;
  ArchiveSnapshot before = ArchiveSnapshot::Take(S());
  std::string body = MultipartBody({MetadataPart(GeneralJson("Four GiB promised")),
                                    FilePart("huge.bin", PatternBytes(1 << 20, 41))});
  body.resize(body.size() - (std::string(kBoundary).size() + 8));  // no closing delimiter
  size_t log_offset = S().process().Log().size();
  {
    RawTlsConnection conn(S().port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.Write(UploadHeader(S().token("archivist"), kDeclared)));
    ASSERT_TRUE(conn.Write(body));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server take it
    conn.Close();
  }
  ASSERT_TRUE(WaitForUploadHandled(log_offset)) << S().process().Log().substr(log_offset);
  EXPECT_TRUE(WaitFor([&] {
    return CountBlobs(S().data_dir()) == before.blobs && CountTempBlobs(S().data_dir()) == 0;
  })) << "blobs " << CountBlobs(S().data_dir()) << ", partial " << CountTempBlobs(S().data_dir());
  EXPECT_EQ(ArchiveSnapshot::Take(S()), before) << "before: " << before.ToString();
  EXPECT_EQ(S().SearchTotal("archivist", "q=promised"), 0);
  EXPECT_TRUE(ServerAlive(S()));
}

// One byte over the default maximum: refused from the header alone, before
// a byte of body is sent (a server that waited for the body would time out
// here).
TEST_F(Abuse, DeclaredLengthOverTheMaximumGets413BeforeTheBody) {
  ArchiveSnapshot before = ArchiveSnapshot::Take(S());
  RawTlsConnection conn(S().port());
  ASSERT_TRUE(conn.connected());
  auto start = Clock::now();
  ASSERT_TRUE(conn.Write(UploadHeader(S().token("archivist"), (4ULL << 30) + 1)));
  std::string reply = conn.ReadResponse(5000);
  std::printf("[ figures  ] 413 for a declared 4 GiB + 1 after %.1f ms\n",
              SecondsSince(start) * 1000);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"body_too_large\""), std::string::npos) << reply;
  EXPECT_EQ(Poco::toLower(RawHeaderOf(reply, "Connection")), "close") << reply;
  EXPECT_EQ(ArchiveSnapshot::Take(S()), before);
  EXPECT_TRUE(ServerAlive(S()));
}

// ------------------------------------------------------------------ sign-in

TEST_F(Abuse, LockedAccountLooksLikeAnyFailureAndOthersStillSignIn) {
  ASSERT_EQ(S().AddUser("guessed", "guessed-password-01", "staff", "sales"), "");
  ASSERT_EQ(S().AddUser("bystander", "bystander-password-01", "staff", "sales"), "");
  std::vector<double> wrong_ms, locked_ms, unknown_ms;
  auto attempt = [&](const std::string& user, const std::string& password,
                     std::vector<double>& times) {
    auto start = Clock::now();
    HttpResult r = S().Call("", "POST", "/v1/session",
                            "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}",
                            kJson);
    times.push_back(SecondsSince(start) * 1000);
    return r;
  };
  HttpResult wrong;
  for (int i = 0; i < 5; ++i) {  // auth.max_failed_logins, default 5
    wrong = attempt("guessed", "guess-number-" + std::to_string(i), wrong_ms);
    ASSERT_EQ(wrong.status, 401) << Describe(wrong);
    ASSERT_EQ(ErrorCode(wrong), "invalid_credentials");
  }
  for (int i = 0; i < 3; ++i) {
    HttpResult locked = attempt("guessed", "guessed-password-01", locked_ms);
    EXPECT_EQ(locked.status, wrong.status) << Describe(locked);
    EXPECT_EQ(locked.body, wrong.body) << "the right password on a locked account is an oracle";
    HttpResult unknown = attempt("nobody-by-this-name", "guessed-password-01", unknown_ms);
    EXPECT_EQ(unknown.status, wrong.status) << Describe(unknown);
    EXPECT_EQ(unknown.body, wrong.body) << "an unknown user must look like a wrong password";
  }
  // The lock is the guessed account's alone.
  EXPECT_NE(S().SignIn("bystander", "bystander-password-01"), "");
  HttpResult one_wrong = attempt("bystander", "not-it", wrong_ms);
  EXPECT_EQ(one_wrong.status, 401);
  EXPECT_NE(S().SignIn("bystander", "bystander-password-01"), "");
  EXPECT_NE(S().SignIn("staff", S().account("staff").password), "");

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  std::printf("[ figures  ] sign-in answer, median ms: wrong password %.1f, locked account %.1f, "
              "unknown user %.1f\n",
              median(wrong_ms), median(locked_ms), median(unknown_ms));
}

// --------------------------------------------------------------- file names

TEST_F(Abuse, HiddenAndControlCharactersInFileNamesAreRefused) {
  struct Case {
    const char* what;
    std::string name;
  };
  const std::vector<Case> cases = {
      {"NUL", std::string("a\0b.pdf", 7)},
      {"tab", "tab\there.pdf"},
      {"C1 NEL U+0085", "report\xC2\x85.pdf"},
      {"C1 CSI U+009B", "\xC2\x9B" "31mred.pdf"},
      {"RLO U+202E", "invoice\xE2\x80\xAE" "fdp.exe"},
      {"LRE U+202A", "a\xE2\x80\xAA" "b.pdf"},
      {"PDF U+202C", "a\xE2\x80\xAC" "b.pdf"},
      {"LRO U+202D", "a\xE2\x80\xAD" "b.pdf"},
      {"LRI U+2066", "a\xE2\x81\xA6" "b.pdf"},
      {"PDI U+2069", "a\xE2\x81\xA9" "b.pdf"},
  };
  ArchiveSnapshot before = ArchiveSnapshot::Take(S());
  for (const Case& c : cases) {
    HttpResult r = S().CheckIn("archivist", GeneralJson(std::string("Hiddenchar ") + c.what),
                               {FilePart(c.name, "x")});
    EXPECT_EQ(r.status, 422) << c.what << ": " << Describe(r);
    EXPECT_EQ(ErrorCode(r), "invalid_file_name") << c.what << ": " << Describe(r);
  }
  // A good file stored first is removed again when the next name is refused.
  HttpResult r = S().CheckIn(
      "archivist", GeneralJson("Hiddenchar good then RLO"),
      {FilePart("good.pdf", PatternBytes(200 * 1024, 42)),
       FilePart("invoice\xE2\x80\xAE" "fdp.exe", "MZ")});
  EXPECT_EQ(r.status, 422) << Describe(r);
  EXPECT_EQ(ErrorCode(r), "invalid_file_name") << Describe(r);
  EXPECT_TRUE(WaitFor([&] { return ArchiveSnapshot::Take(S()) == before; }))
      << "before: " << before.ToString()
      << "; after: " << ArchiveSnapshot::Take(S()).ToString();
  EXPECT_EQ(S().SearchTotal("archivist", "q=Hiddenchar"), 0);
}

// The ASCII fallback of Content-Disposition as specified: every byte outside
// printable ASCII, '"' and '\' become '_'.
std::string AsciiFallback(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E || c == '"' || c == '\\') c = '_';
  }
  return out;
}

TEST_F(Abuse, UnusualButHarmlessFileNamesDownloadUnderAnAsciiFallback) {
  struct Case {
    std::string sent;      // as written in the part header (quoted-string escapes)
    std::string stored;    // the name the archive keeps
    std::string fallback;  // spelled out, and checked against AsciiFallback
  };
  const std::vector<Case> cases = {
      {"合同 2026 «final».pdf", "合同 2026 «final».pdf", "______ 2026 __final__.pdf"},
      {"q\\\"uote;semi.pdf", "q\"uote;semi.pdf", "q_uote;semi.pdf"},
  };
  // filename="…" (printable ASCII without '"' and '\') and filename* with
  // RFC 8187 attr-chars and %XX only.
  static const std::regex kDisposition(
      "^attachment; filename=\"([ !#-\\[\\]-~]*)\"; filename\\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]*)$");
  for (const Case& c : cases) {
    ASSERT_EQ(AsciiFallback(c.stored), c.fallback);
    Poco::JSON::Object::Ptr rec =
        S().CheckInOk("archivist", GeneralJson("Named file"), {FilePart(c.sent, "named content")});
    ASSERT_TRUE(rec) << c.stored;
    Poco::JSON::Object::Ptr file =
        rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
    EXPECT_EQ(Str(file, "name"), c.stored);
    HttpResult r = S().As("archivist", "GET",
                          "/v1/records/" + Str(rec, "id") + "/versions/1/files/" + Str(file, "id"));
    ASSERT_EQ(r.status, 200) << Describe(r);
    EXPECT_EQ(r.body, "named content");
    std::string disposition = HeaderOf(r, "Content-Disposition");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(disposition, m, kDisposition)) << disposition;
    EXPECT_EQ(m[1].str(), c.fallback) << disposition;
    std::optional<std::string> decoded = PercentDecode(m[2].str());
    ASSERT_TRUE(decoded) << disposition;
    EXPECT_EQ(*decoded, c.stored) << disposition;
  }
}

// ------------------------------------------------------- security headers

TEST_F(Abuse, SecurityHeadersOnEveryKindOfAnswer) {
  Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", GeneralJson("Header probe"),
                                              {FilePart("probe.txt", "probe", "text/plain")});
  ASSERT_TRUE(rec);
  Poco::JSON::Object::Ptr file =
      rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  const std::string content =
      "/v1/records/" + Str(rec, "id") + "/versions/1/files/" + Str(file, "id");

  struct Answer {
    const char* what;
    HttpResult r;
    int status;
  };
  std::vector<Answer> answers = {
      {"JSON answer", S().As("staff", "GET", "/v1/me"), 200},
      {"404 error", S().As("staff", "GET", "/v1/no/such/route"), 404},
      {"401 error", S().As(kAnonymous, "GET", "/v1/me"), 401},
      {"content download", S().As("archivist", "GET", content), 200},
      {"/healthz", S().As(kAnonymous, "GET", "/healthz"), 200},
  };
  for (const Answer& a : answers) {
    ASSERT_EQ(a.r.status, a.status) << a.what << ": " << Describe(a.r);
    EXPECT_EQ(HeaderOf(a.r, "Strict-Transport-Security"), "max-age=63072000") << a.what;
    EXPECT_EQ(HeaderOf(a.r, "X-Content-Type-Options"), "nosniff") << a.what;
    EXPECT_EQ(HeaderOf(a.r, "Cache-Control"), "no-store") << a.what;
    EXPECT_EQ(HeaderOf(a.r, "Referrer-Policy"), "no-referrer") << a.what;
    EXPECT_EQ(HeaderOf(a.r, "X-Frame-Options"), "DENY") << a.what;
    std::string csp = HeaderOf(a.r, "Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << a.what << ": '" << csp << "'";
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos)
        << a.what << ": '" << csp << "'";
  }
}

// ---------------------------------------------------------------- slowloris

// Connections that take a server thread each and never finish a request:
// TLS connections that send part of a header and then one byte a second,
// and TCP connections that never send a ClientHello. Whatever the server
// closes is opened again until StopReopening(), so the pressure lasts.
// One thread does everything; the counters may be read while it runs.
class Slowloris {
 public:
  Slowloris(int port, int tls, int tcp, std::chrono::seconds drain_limit)
      : port_(port), want_tls_(tls), want_tcp_(tcp), drain_limit_(drain_limit) {
    ctx_ = SSL_CTX_new(TLS_client_method());
  }
  ~Slowloris() {
    quit_ = true;
    if (thread_.joinable()) thread_.join();
    for (Conn& c : conns_) Drop(c);
    SSL_CTX_free(ctx_);
  }

  void Start() { thread_ = std::thread([this] { Run(); }); }
  // While measuring, the number of connections held is sampled.
  void Measure(bool on) { measuring_ = on; }
  // No more replacements; then waits until every connection has been closed
  // by the server or `drain_limit` has passed.
  void StopReopeningAndWait() {
    reopen_ = false;
    if (thread_.joinable()) thread_.join();
  }

  int held() const { return held_.load(); }
  int still_open() const { return static_cast<int>(conns_.size()); }  // after the wait
  int opened() const { return opened_.load(); }
  int open_failures() const { return open_failures_.load(); }
  int answered_408() const { return answered_408_; }
  int held_min() const { return held_min_; }
  double held_mean() const { return samples_ ? held_sum_ / samples_ : 0; }
  const std::vector<double>& tls_lifetimes() const { return tls_lifetimes_; }
  const std::vector<double>& tcp_lifetimes() const { return tcp_lifetimes_; }

 private:
  struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;  // null: TCP that never says hello
    Clock::time_point opened;
    Clock::time_point last_byte;
    std::string received;
  };

  int Connect() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    // From another loopback address than the clients it must not starve:
    // the server caps the connections of one address.
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7f000002);  // 127.0.0.2
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      return -1;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  bool Open(bool tls) {
    Conn c;
    c.fd = Connect();
    if (c.fd < 0) return false;
    c.opened = c.last_byte = Clock::now();
    if (tls) {
      c.ssl = SSL_new(ctx_);
      SSL_set_fd(c.ssl, c.fd);
      const std::string partial = "GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
      if (SSL_connect(c.ssl) != 1 ||
          SSL_write(c.ssl, partial.data(), static_cast<int>(partial.size())) <= 0) {
        Drop(c);
        ERR_clear_error();
        return false;
      }
    }
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    conns_.push_back(c);
    ++opened_;
    return true;
  }

  static void Drop(Conn& c) {
    if (c.ssl != nullptr) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
    c.ssl = nullptr;
    c.fd = -1;
  }

  // Reads what is there; true if the server has closed the connection.
  bool ClosedByServer(Conn& c) {
    char buf[4096];
    for (;;) {
      if (c.ssl == nullptr) {
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.received.append(buf, static_cast<size_t>(n));
          continue;
        }
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
      }
      int n = SSL_read(c.ssl, buf, sizeof buf);
      if (n > 0) {
        c.received.append(buf, static_cast<size_t>(n));
        continue;
      }
      int e = SSL_get_error(c.ssl, n);
      ERR_clear_error();
      return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
    }
  }

  void Run() {
    Clock::time_point stopped_reopening{};
    while (!quit_) {
      int tls = 0;
      for (const Conn& c : conns_) tls += c.ssl != nullptr ? 1 : 0;
      int tcp = static_cast<int>(conns_.size()) - tls;
      // Read once per round: the main thread may clear it at any moment.
      const bool reopen = reopen_;
      if (reopen) {
        // A bounded batch per round, so that trickling and polling go on.
        for (int i = 0; i < 25 && tls < want_tls_; ++i) {
          if (Open(true)) ++tls; else ++open_failures_;
        }
        for (int i = 0; i < 25 && tcp < want_tcp_; ++i) {
          if (Open(false)) ++tcp; else ++open_failures_;
        }
      } else if (stopped_reopening == Clock::time_point{}) {
        stopped_reopening = Clock::now();
      }
      held_ = static_cast<int>(conns_.size());
      if (measuring_) {
        held_min_ = std::min(held_min_, held_.load());
        held_sum_ += held_;
        ++samples_;
      }
      if (!reopen && (conns_.empty() || Clock::now() - stopped_reopening > drain_limit_)) break;

      auto now = Clock::now();
      for (Conn& c : conns_) {
        if (c.ssl != nullptr && now - c.last_byte >= std::chrono::seconds(1)) {
          (void)SSL_write(c.ssl, "a", 1);  // a failure shows up as a close below
          ERR_clear_error();
          c.last_byte = now;
        }
      }
      std::vector<pollfd> fds;
      for (const Conn& c : conns_) fds.push_back({c.fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 50);
      std::vector<Conn> kept;
      for (size_t i = 0; i < conns_.size(); ++i) {
        Conn& c = conns_[i];
        if (fds[i].revents != 0 && ClosedByServer(c)) {
          (c.ssl ? tls_lifetimes_ : tcp_lifetimes_).push_back(SecondsSince(c.opened));
          if (c.received.rfind("HTTP/1.1 408", 0) == 0) ++answered_408_;
          Drop(c);
        } else {
          kept.push_back(c);
        }
      }
      conns_.swap(kept);
    }
    held_ = static_cast<int>(conns_.size());
  }

  const int port_;
  const int want_tls_;
  const int want_tcp_;
  const std::chrono::seconds drain_limit_;
  SSL_CTX* ctx_ = nullptr;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::atomic<bool> reopen_{true};
  std::atomic<bool> measuring_{false};
  std::atomic<int> held_{0};
  std::atomic<int> opened_{0};
  std::atomic<int> open_failures_{0};
  // Owned by the attack thread; read only after it has ended.
  std::vector<Conn> conns_;
  int answered_408_ = 0;
  int held_min_ = 1 << 30;
  double held_sum_ = 0;
  int samples_ = 0;
  std::vector<double> tls_lifetimes_;
  std::vector<double> tcp_lifetimes_;
};

struct Rate {
  int ok = 0;
  int failed = 0;
  std::string first_failure;
  double per_second = 0;
};

// Repeats `request` for `seconds`; counts answers that are 200.
Rate Measure(double seconds, const std::function<HttpResult()>& request) {
  Rate rate;
  auto start = Clock::now();
  while (SecondsSince(start) < seconds) {
    HttpResult r = request();
    if (r.status == 200) {
      ++rate.ok;
    } else if (rate.failed++ == 0) {
      rate.first_failure = Describe(r);
    }
  }
  rate.per_second = (rate.ok + rate.failed) / SecondsSince(start);
  return rate;
}

std::string Summary(std::vector<double> v) {
  if (v.empty()) return "none";
  std::sort(v.begin(), v.end());
  char text[96];
  std::snprintf(text, sizeof text, "%zu, min %.2f s, median %.2f s, max %.2f s", v.size(), v.front(),
                v[v.size() / 2], v.back());
  return text;
}

class AbuseSlowloris : public ::testing::Test {
 protected:
  static constexpr int kHeaderTimeoutS = 3;
  static void SetUpTestSuite() {
    ::signal(SIGPIPE, SIG_IGN);
    // The per-address cap is raised so that all 300 idle connections get a
    // thread: this suite tests the header deadline (connection_abuse_test.cc
    // tests the cap).
    server_ = ApiServer::Create("server.header_timeout_s = " + std::to_string(kHeaderTimeoutS) +
                                    "\nserver.max_connections_per_address = 400\n",
                                {"staff"})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not come up"; }

  // New connection per request, and one kept-alive connection: req/s of each.
  // Only fresh clients: the fixture's shared one may sit idle longer than
  // the header time-out between tests.
  std::pair<Rate, Rate> Load(double seconds_each) {
    const std::string auth = "Bearer " + server_->token("staff");
    Rate fresh = Measure(seconds_each, [&] {
      return server_->NewClient()->Request("GET", "/v1/me", "", "", {{"Authorization", auth}});
    });
    std::unique_ptr<HttpsClient> kept = server_->NewClient();
    Rate kept_alive = Measure(seconds_each, [&] {
      return kept->Request("GET", "/v1/me", "", "", {{"Authorization", auth}});
    });
    return {fresh, kept_alive};
  }

  static ApiServer* server_;
};

ApiServer* AbuseSlowloris::server_ = nullptr;

TEST_F(AbuseSlowloris, IdleAndTricklingConnectionsDoNotStarveClients) {
  constexpr int kTls = 200, kTcp = 100;
  constexpr double kSecondsEach = 2.5;
  // Three header time-outs and some slack: a correctness bound, not a
  // performance one.
  const auto drain_limit = std::chrono::seconds(3 * kHeaderTimeoutS + 5);

  (void)Load(0.5);  // warm-up: first connections, caches, the session's touch
  auto [quiet_fresh, quiet_kept] = Load(kSecondsEach);
  EXPECT_EQ(quiet_fresh.failed, 0) << quiet_fresh.first_failure;
  EXPECT_EQ(quiet_kept.failed, 0) << quiet_kept.first_failure;

  Slowloris attack(server_->port(), kTls, kTcp, drain_limit);
  auto opening = Clock::now();
  attack.Start();
  bool full = WaitFor([&] { return attack.held() >= kTls + kTcp; }, 15000);
  double open_s = SecondsSince(opening);
  attack.Measure(true);
  auto [busy_fresh, busy_kept] = Load(kSecondsEach);
  attack.Measure(false);
  EXPECT_EQ(busy_fresh.failed, 0) << "new connection per request: " << busy_fresh.first_failure;
  EXPECT_EQ(busy_kept.failed, 0) << "kept-alive connection: " << busy_kept.first_failure;

  auto draining = Clock::now();
  attack.StopReopeningAndWait();
  double drain_s = SecondsSince(draining);
  EXPECT_EQ(attack.still_open(), 0)
      << attack.still_open() << " idle connections still open "
      << std::chrono::duration_cast<std::chrono::seconds>(drain_limit).count()
      << " s after the last was opened";
  EXPECT_TRUE(ServerAlive(*server_));

  std::printf(
      "[ figures  ] GET /v1/me, requests/s: new connection each %.1f quiet / %.1f under attack; "
      "kept alive %.1f quiet / %.1f under attack\n",
      quiet_fresh.per_second, busy_fresh.per_second, quiet_kept.per_second, busy_kept.per_second);
  std::printf("[ figures  ] attack: %d + %d connections %s after %.2f s; held during the load: "
              "min %d, mean %.0f; %d opened in all, %d failed to open\n",
              kTls, kTcp, full ? "all held" : "NOT all held", open_s, attack.held_min(),
              attack.held_mean(), attack.opened(), attack.open_failures());
  std::printf("[ figures  ] closed by the server (header time-out %d s): TLS trickling %s; "
              "TCP silent %s; %d answered 408; all gone %.2f s after reopening stopped\n",
              kHeaderTimeoutS, Summary(attack.tls_lifetimes()).c_str(),
              Summary(attack.tcp_lifetimes()).c_str(), attack.answered_408(), drain_s);
}

}  // namespace
}  // namespace custos::testing::api
