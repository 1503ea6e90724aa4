// Mutual TLS as a second factor, against a real custosd (docs/security.md):
// with tls.client_ca set, a client may connect with or without a
// certificate; one it presents must chain to the CA, be in its validity
// period and not be on tls.client_crl, or the handshake fails. A valid
// certificate, once enrolled (POST /v1/me/certificate over it), is the
// second factor of a sign-in made over it.
//
// The CA, the certificates and the CRL are made at test time with the
// openssl CLI (`openssl ca` sets past validity dates and revokes).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "tests/server/api_fixture.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing::api {
namespace {

constexpr char kOpenssl[] = "/usr/bin/openssl";

// Runs the openssl CLI; ADD_FAILURE unless it exits 0.
bool Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunProgram(argv);
  if (r.exit_code != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    ADD_FAILURE() << line << "failed (" << r.exit_code << "): " << r.err;
    return false;
  }
  return true;
}

// A client CA (`openssl ca` with its database) and what it issued.
class TestCa {
 public:
  explicit TestCa(const std::string& dir) : dir_(dir) {}

  bool Init() {
    std::filesystem::create_directories(dir_ + "/newcerts");
    WriteFile(dir_ + "/index.txt", "");
    WriteFile(dir_ + "/serial", "1000\n");
    WriteFile(dir_ + "/crlnumber", "01\n");
    WriteFile(Config(),
              "[ ca ]\ndefault_ca = testca\n"
              "[ testca ]\n"
              "dir = " + dir_ + "\n"
              "database = $dir/index.txt\nnew_certs_dir = $dir/newcerts\nserial = $dir/serial\n"
              "crlnumber = $dir/crlnumber\ncertificate = $dir/ca.pem\nprivate_key = $dir/ca.key\n"
              "default_md = sha256\npolicy = policy_any\nunique_subject = no\ncopy_extensions = none\n"
              "x509_extensions = client_ext\ndefault_crl_days = 30\nutf8 = yes\nstring_mask = utf8only\n"
              "[ policy_any ]\ncommonName = supplied\n"
              "[ client_ext ]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n"
              "extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n");
    return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", dir_ + "/ca.key", "-out", CaPem(), "-days", "3650", "-utf8", "-subj",
                    "/CN=Custos 测试 client CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  }

  // Issues `name`.pem / `name`.key for common name `cn`; `start`/`end`
  // (YYMMDDHHMMSSZ) set the validity period, else 30 days from now.
  bool Issue(const std::string& name, const std::string& cn, const std::string& start = "",
             const std::string& end = "") {
    if (!Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                  Key(name), "-out", dir_ + "/" + name + ".csr", "-utf8", "-subj", "/CN=" + cn})) {
      return false;
    }
    std::vector<std::string> args{"ca", "-batch", "-notext", "-config", Config(), "-in",
                                  dir_ + "/" + name + ".csr", "-out", Pem(name)};
    if (start.empty()) {
      args.insert(args.end(), {"-days", "30"});
    } else {
      args.insert(args.end(), {"-startdate", start, "-enddate", end});
    }
    return Openssl(args);
  }

  bool Revoke(const std::string& name) { return Openssl({"ca", "-config", Config(), "-revoke", Pem(name)}); }
  bool WriteCrl() { return Openssl({"ca", "-config", Config(), "-gencrl", "-out", CrlPem()}); }

  std::string CaPem() const { return dir_ + "/ca.pem"; }
  std::string CrlPem() const { return dir_ + "/crl.pem"; }
  std::string Pem(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

 private:
  std::string Config() const { return dir_ + "/ca.cnf"; }
  std::string dir_;
};

// A self-signed client certificate that no configured CA issued.
bool SelfSigned(const std::string& dir, const std::string& name) {
  return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                  dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem", "-days", "30", "-subj",
                  "/CN=stranger", "-addext", "extendedKeyUsage=clientAuth"});
}

struct Answer {
  int status = 0;       // 0: no HTTP answer (the handshake or the connection failed)
  std::string body;
  std::string error;    // why there is no answer
};

// One HTTPS request on a connection of its own, presenting the client
// certificate `cert`/`key` when given; the server is verified against
// `server_ca`. OpenSSL's SSL API directly, because a failed client-certificate
// check shows differently in TLS 1.2 (SSL_connect fails) and TLS 1.3 (the
// client's handshake completes, the server's alert arrives with the answer).
Answer RequestOver(int port, const std::string& server_ca, const std::string& cert, const std::string& key,
                   const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& token = "") {
  Answer a;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx.get(), server_ca.c_str(), nullptr) != 1) {
    a.error = "cannot load " + server_ca;
    return a;
  }
  if (!cert.empty() && (SSL_CTX_use_certificate_file(ctx.get(), cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
                        SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)) {
    a.error = "cannot load client certificate " + cert;
    return a;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    a.error = "cannot connect";
    return a;
  }
  SSL* ssl = SSL_new(ctx.get());
  SSL_set_fd(ssl, fd);
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty()) request += "Content-Type: application/json\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string response;
  if (SSL_connect(ssl) != 1) {
    a.error = "handshake failed";
  } else if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) != static_cast<int>(request.size())) {
    a.error = "write failed";
  } else {
    char buf[4096];
    for (;;) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) break;
      response.append(buf, static_cast<size_t>(n));
    }
  }
  SSL_free(ssl);
  ::close(fd);
  ERR_clear_error();
  if (response.rfind("HTTP/1.1 ", 0) != 0) {
    if (a.error.empty()) a.error = "no HTTP answer";
    return a;
  }
  a.status = std::atoi(response.c_str() + 9);
  size_t end = response.find("\r\n\r\n");
  if (end != std::string::npos) a.body = response.substr(end + 4);
  // Chunked answers: good enough for the JSON bodies read here.
  if (response.find("Transfer-Encoding: chunked") != std::string::npos && end != std::string::npos) {
    std::string raw = a.body, out;
    size_t at = 0;
    for (;;) {
      size_t eol = raw.find("\r\n", at);
      if (eol == std::string::npos) break;
      size_t n = std::stoul(raw.substr(at, eol - at), nullptr, 16);
      if (n == 0) break;
      out += raw.substr(eol + 2, n);
      at = eol + 2 + n + 2;
    }
    a.body = out;
  }
  return a;
}

std::string SignInBody(const std::string& username, const std::string& password) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("username", username);
  o->set("password", password);
  return Stringify(o);
}

constexpr char kHolder[] = "li.na";
constexpr char kHolderPassword[] = "李娜的密码-correct-horse-42";

class ClientCertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    ca_ = new TestCa(dir_->Sub("ca"));
    bool made = ca_->Init() && ca_->Issue("valid", "李娜 (销售部)") && ca_->Issue("other", "王芳") &&
                ca_->Issue("expired", "过期", "200101000000Z", "210101000000Z") &&
                ca_->Issue("revoked", "已吊销") && ca_->Revoke("revoked") && ca_->WriteCrl() &&
                SelfSigned(dir_->path(), "stranger");
    if (!made) return;
    server_ = ApiServer::Create("tls.client_ca = " + ca_->CaPem() + "\ntls.client_crl = " + ca_->CrlPem() +
                                    "\nauth.second_factor_roles = security_auditor\n",
                                {})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete ca_;
    delete dir_;
    server_ = nullptr;
    ca_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "no server (see the suite's set-up failure)";
  }

  // A request presenting certificate `name` ("" for none).
  Answer With(const std::string& name, const std::string& method, const std::string& path,
              const std::string& body = "", const std::string& token = "") {
    if (name.empty()) return RequestOver(server_->port(), server_->ca_file(), "", "", method, path, body, token);
    const std::string dir = name == "stranger" ? dir_->path() : dir_->Sub("ca");
    return RequestOver(server_->port(), server_->ca_file(), dir + "/" + name + ".pem", dir + "/" + name + ".key",
                       method, path, body, token);
  }

  static TempDir* dir_;
  static TestCa* ca_;
  static ApiServer* server_;
};

TempDir* ClientCertTest::dir_ = nullptr;
TestCa* ClientCertTest::ca_ = nullptr;
ApiServer* ClientCertTest::server_ = nullptr;

// ---------------------------------------------------------------- the TLS layer

TEST_F(ClientCertTest, ValidCertificateConnects) {
  Answer a = With("valid", "GET", "/v1/log/checkpoint");
  EXPECT_EQ(a.status, 200) << a.error;
}

TEST_F(ClientCertTest, NoCertificateStillConnects) {
  Answer a = With("", "GET", "/v1/log/checkpoint");
  EXPECT_EQ(a.status, 200) << a.error;
}

TEST_F(ClientCertTest, ExpiredCertificateCannotConnect) {
  Answer a = With("expired", "GET", "/v1/log/checkpoint");
  EXPECT_EQ(a.status, 0) << a.body;
  EXPECT_TRUE(a.error == "handshake failed" || a.error == "write failed" || a.error == "no HTTP answer") << a.error;
}

TEST_F(ClientCertTest, RevokedCertificateCannotConnect) {
  Answer a = With("revoked", "GET", "/v1/log/checkpoint");
  EXPECT_EQ(a.status, 0) << a.body;
  EXPECT_TRUE(a.error == "handshake failed" || a.error == "write failed" || a.error == "no HTTP answer") << a.error;
}

TEST_F(ClientCertTest, CertificateOfAnotherCaCannotConnect) {
  Answer a = With("stranger", "GET", "/v1/log/checkpoint");
  EXPECT_EQ(a.status, 0) << a.body;
  EXPECT_TRUE(a.error == "handshake failed" || a.error == "write failed" || a.error == "no HTTP answer") << a.error;
}

TEST_F(ClientCertTest, ServerServesOnAfterRefusedHandshakes) {
  for (const char* bad : {"expired", "revoked", "stranger", "expired", "revoked"}) {
    EXPECT_EQ(With(bad, "GET", "/v1/log/checkpoint").status, 0) << bad;
  }
  EXPECT_EQ(With("valid", "GET", "/v1/log/checkpoint").status, 200);
  EXPECT_EQ(With("", "GET", "/v1/log/checkpoint").status, 200);
}

// ---------------------------------------------------------------- the factor

// Enrolment over the certificate, then sign-ins over it, without it, over
// another valid one and over a refused one.
TEST_F(ClientCertTest, EnrolledCertificateIsTheSecondFactor) {
  ASSERT_EQ(server_->AddUser(kHolder, kHolderPassword, "security_auditor", kAdministration), "");

  // No factor yet: a restricted session that may only enrol.
  Answer first = With("valid", "POST", "/v1/session", SignInBody(kHolder, kHolderPassword));
  ASSERT_EQ(first.status, 200) << first.error << first.body;
  Poco::JSON::Object::Ptr o = JsonObject(first.body);
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->getValue<bool>("mustEnrolSecondFactor"));
  const std::string restricted = Str(o, "token");

  // Enrolling needs a certificate on the connection.
  Answer without = With("", "POST", "/v1/me/certificate", "", restricted);
  EXPECT_NE(without.status, 204) << without.body;
  Answer enrolled = With("valid", "POST", "/v1/me/certificate", "", restricted);
  ASSERT_EQ(enrolled.status, 204) << enrolled.error << enrolled.body;

  // Over the enrolled certificate: a full session.
  Answer full = With("valid", "POST", "/v1/session", SignInBody(kHolder, kHolderPassword));
  ASSERT_EQ(full.status, 200) << full.error << full.body;
  Poco::JSON::Object::Ptr session = JsonObject(full.body);
  ASSERT_TRUE(session);
  EXPECT_FALSE(session->getValue<bool>("mustEnrolSecondFactor"));
  Poco::JSON::Object::Ptr factor = session->getObject("user")->getObject("secondFactor");
  ASSERT_TRUE(factor);
  EXPECT_TRUE(factor->getValue<bool>("certificate"));
  EXPECT_EQ(first.body.find("certificateSha256"), std::string::npos);  // never shown

  // Without a certificate, or over another valid one: refused.
  Answer none = With("", "POST", "/v1/session", SignInBody(kHolder, kHolderPassword));
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("second_factor_required"), std::string::npos) << none.body;
  Answer other = With("other", "POST", "/v1/session", SignInBody(kHolder, kHolderPassword));
  EXPECT_EQ(other.status, 401);
  EXPECT_NE(other.body.find("invalid_second_factor"), std::string::npos) << other.body;
  // Expired and revoked certificates do not even reach the sign-in.
  EXPECT_EQ(With("expired", "POST", "/v1/session", SignInBody(kHolder, kHolderPassword)).status, 0);
  EXPECT_EQ(With("revoked", "POST", "/v1/session", SignInBody(kHolder, kHolderPassword)).status, 0);
  // The right certificate with a wrong password is still refused.
  Answer wrong = With("valid", "POST", "/v1/session", SignInBody(kHolder, "wrong-password-错误"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("invalid_credentials"), std::string::npos) << wrong.body;
}

// ---------------------------------------------------------------- configuration

// custosd refuses to start on an unusable client CA or CRL, naming it
// (exit code non-zero at once; a server that started would run until
// RunProgram's time-out, reported as -1).
class ClientCertConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    RunResult init = RunProgram({BinDir() + "/custosctl", "init", "--data", data()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  std::string data() const { return tmp_.Sub("data"); }
  RunResult StartWith(const std::string& config) {
    SetConfigLines(data() + "/custos.conf", config);
    return RunProgram({BinDir() + "/custosd", "--data", data(), "--listen", "127.0.0.1:0"});
  }
  TempDir tmp_;
};

TEST_F(ClientCertConfig, MissingClientCaRefusedAtStart) {
  RunResult r = StartWith("tls.client_ca = /nonexistent/客户端-ca.pem\n");
  EXPECT_GT(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/"), std::string::npos) << r.err;
}

TEST_F(ClientCertConfig, ClientCaWithoutCertificatesRefusedAtStart) {
  WriteFile(tmp_.Sub("empty-ca.pem"), "no certificate here\n");
  RunResult r = StartWith("tls.client_ca = " + tmp_.Sub("empty-ca.pem") + "\n");
  EXPECT_GT(r.exit_code, 0);
  EXPECT_NE(r.err.find("empty-ca.pem"), std::string::npos) << r.err;
}

TEST_F(ClientCertConfig, CrlWithoutClientCaRefusedAtStart) {
  WriteFile(tmp_.Sub("crl.pem"), "not a CRL\n");
  RunResult r = StartWith("tls.client_crl = " + tmp_.Sub("crl.pem") + "\n");
  EXPECT_GT(r.exit_code, 0);
  EXPECT_NE(r.err.find("tls.client_crl"), std::string::npos) << r.err;
}

TEST_F(ClientCertConfig, UnreadableCrlRefusedAtStart) {
  TestCa ca(tmp_.Sub("ca"));
  ASSERT_TRUE(ca.Init());
  WriteFile(tmp_.Sub("crl.pem"), "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n");
  RunResult r = StartWith("tls.client_ca = " + ca.CaPem() + "\ntls.client_crl = " + tmp_.Sub("crl.pem") + "\n");
  EXPECT_GT(r.exit_code, 0);
  EXPECT_NE(r.err.find("crl.pem"), std::string::npos) << r.err;
}

// A client CA path relative to the data directory, as tls.certificate.
TEST_F(ClientCertConfig, RelativeClientCaIsInDataDir) {
  TestCa ca(data() + "/tls/clients");
  ASSERT_TRUE(ca.Init());
  ASSERT_TRUE(ca.Issue("valid", "张伟"));
  ServerProcess server;
  ASSERT_TRUE(server.Start(data(), "tls.client_ca = tls/clients/ca.pem\n"));
  Answer with = RequestOver(server.port(), data() + "/tls/cert.pem", ca.Pem("valid"), ca.Key("valid"), "GET",
                            "/v1/log/checkpoint");
  EXPECT_EQ(with.status, 200) << with.error;
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace custos::testing::api
