#include "tests/testutil/test_tsa.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/ts.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "tests/testutil/process.h"

namespace custos::testing {
namespace {

constexpr size_t kMaxQuerySize = 64 * 1024;
constexpr char kQueryType[] = "application/timestamp-query";
constexpr char kReplyType[] = "application/timestamp-reply";
constexpr char kPath[] = "/tsa";

// The [tsa] section of the config `openssl ts -reply` reads. `digests` lists
// the imprint algorithms accepted: kReject configures only sha512, so the
// SHA-256 queries Custos sends get a real badAlg rejection.
std::string TsaConfig(const std::string& dir, const std::string& digests) {
  return "[ tsa ]\n"
         "default_tsa = tsa_config\n"
         "[ tsa_config ]\n"
         "serial = " + dir + "/serial\n"
         "crypto_device = builtin\n"
         "signer_digest = sha256\n"
         "default_policy = 1.3.6.1.4.1.99999.1\n"
         "digests = " + digests + "\n"
         "accuracy = secs:1\n"
         "ordering = no\n"
         "tsa_name = no\n"
         "ess_cert_id_chain = no\n"
         "ess_cert_id_alg = sha256\n";
}

}  // namespace

std::string TestTsa::OpensslPath() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    std::string candidate = d + "/openssl";
    if (!d.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "/usr/bin/openssl";
}

namespace {

bool Run(const std::vector<std::string>& argv) {
  RunResult r = RunProgram(argv);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "test TSA: " << argv[1] << " exited " << r.exit_code << ": " << r.err;
    return false;
  }
  return true;
}

// The query with its nonce replaced by nonce + 1 (kWrongNonce).
std::vector<uint8_t> ChangeNonce(const std::vector<uint8_t>& query) {
  const unsigned char* p = query.data();
  TS_REQ* req = d2i_TS_REQ(nullptr, &p, long(query.size()));
  if (req == nullptr) return query;
  uint64_t nonce = 0;
  const ASN1_INTEGER* n = TS_REQ_get_nonce(req);
  if (n != nullptr) ASN1_INTEGER_get_uint64(&nonce, n);
  ASN1_INTEGER* changed = ASN1_INTEGER_new();
  ASN1_INTEGER_set_uint64(changed, nonce + 1);
  TS_REQ_set_nonce(req, changed);
  ASN1_INTEGER_free(changed);
  std::vector<uint8_t> out(size_t(i2d_TS_REQ(req, nullptr)));
  unsigned char* w = out.data();
  i2d_TS_REQ(req, &w);
  TS_REQ_free(req);
  return out;
}

}  // namespace

class TestTsa::Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(TestTsa* tsa) : tsa_(tsa) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    ++tsa_->requests_;
    if (req.getMethod() != Poco::Net::HTTPRequest::HTTP_POST || req.getURI() != kPath ||
        req.getContentType() != kQueryType) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
      resp.send() << "expected POST " << kPath << " " << kQueryType;
      return;
    }
    std::vector<uint8_t> query;
    std::istream& in = req.stream();
    char buf[4096];
    while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
      query.insert(query.end(), buf, buf + in.gcount());
      if (query.size() > kMaxQuerySize) break;
    }
    Mode mode = tsa_->mode_;
    std::vector<uint8_t> reply;
    if (mode == Mode::kGarbage) {
      reply.assign({'n', 'o', 't', ' ', 'D', 'E', 'R', 0x30, 0x82, 0xff});
    } else {
      reply = tsa_->Reply(query);
    }
    resp.setContentType(mode == Mode::kWrongType ? "text/plain" : kReplyType);
    resp.setContentLength(std::streamsize(reply.size()));
    resp.send().write(reinterpret_cast<const char*>(reply.data()), std::streamsize(reply.size()));
  }

 private:
  TestTsa* tsa_;
};

class TestTsa::Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(TestTsa* tsa) : tsa_(tsa) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(tsa_);
  }

 private:
  TestTsa* tsa_;
};

TestTsa::TestTsa() = default;

TestTsa::~TestTsa() {
  if (server_) server_->stopAll(true);
}

bool TestTsa::Start(const std::string& common_name) {
  const std::string openssl = TestTsa::OpensslPath();
  const std::string d = dir_.path();
  std::filesystem::permissions(d, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  WriteFile(dir_.Sub("tsa.ext"),
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature,nonRepudiation\n"
            "extendedKeyUsage = critical,timeStamping\n");
  WriteFile(dir_.Sub("serial"), "01\n");
  WriteFile(dir_.Sub("tsa.cnf"), TsaConfig(d, "sha256"));
  WriteFile(dir_.Sub("reject.cnf"), TsaConfig(d, "sha512"));
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes"};
  std::vector<std::string> ca = {openssl, "req", "-x509"};
  ca.insert(ca.end(), ec.begin(), ec.end());
  ca.insert(ca.end(), {"-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj",
                       "/O=Custos Tests/CN=" + common_name + " Root", "-addext",
                       "basicConstraints=critical,CA:TRUE", "-addext",
                       "keyUsage=critical,keyCertSign,cRLSign"});
  std::vector<std::string> csr = {openssl, "req"};
  csr.insert(csr.end(), ec.begin(), ec.end());
  csr.insert(csr.end(), {"-keyout", d + "/tsa.key", "-out", d + "/tsa.csr", "-subj",
                         "/O=Custos Tests/CN=" + common_name});
  std::vector<std::string> sign = {openssl, "x509", "-req", "-in", d + "/tsa.csr", "-CA",
                                   d + "/ca.pem", "-CAkey", d + "/ca.key", "-set_serial", "2",
                                   "-days", "2", "-extfile", d + "/tsa.ext", "-out",
                                   d + "/tsa.pem"};
  if (!Run(ca) || !Run(csr) || !Run(sign)) return false;
  ca_pem_ = ReadFileOrDie(dir_.Sub("ca.pem"));
  return !ca_pem_.empty();
}

bool TestTsa::Serve() {
  try {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port_ = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(2);
    params->setKeepAlive(false);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(this), socket, params);
    server_->start();
    return true;
  } catch (const Poco::Exception& e) {
    ADD_FAILURE() << "test TSA: " << e.displayText();
    return false;
  }
}

std::string TestTsa::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + kPath;
}

std::vector<uint8_t> TestTsa::Reply(const std::vector<uint8_t>& query) {
  Mode mode = mode_;
  std::lock_guard<std::mutex> lock(mu_);
  const std::string n = std::to_string(++sequence_);
  const std::string q = dir_.Sub("q" + n + ".tsq"), r = dir_.Sub("r" + n + ".tsr");
  std::vector<uint8_t> sent = mode == Mode::kWrongNonce ? ChangeNonce(query) : query;
  WriteFile(q, std::string(sent.begin(), sent.end()));
  const std::string config = dir_.Sub(mode == Mode::kReject ? "reject.cnf" : "tsa.cnf");
  if (!Run({OpensslPath(), "ts", "-reply", "-config", config, "-queryfile", q, "-inkey",
            dir_.Sub("tsa.key"), "-signer", dir_.Sub("tsa.pem"), "-out", r})) {
    return {};
  }
  std::string reply = ReadFileOrDie(r);
  return std::vector<uint8_t>(reply.begin(), reply.end());
}

int TestTsa::OpensslVerify(const std::string& data, const std::vector<uint8_t>& token_der,
                           std::string* output) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string n = std::to_string(++sequence_);
  const std::string data_path = dir_.Sub("data" + n), token_path = dir_.Sub("token" + n + ".der");
  WriteFile(data_path, data);
  WriteFile(token_path, std::string(token_der.begin(), token_der.end()));
  RunResult r = RunProgram({OpensslPath(), "ts", "-verify", "-data", data_path, "-in", token_path,
                            "-token_in", "-CAfile", ca_path()});
  if (output != nullptr) *output = r.out + r.err;
  return r.exit_code;
}

}  // namespace custos::testing
