// The TLS listener as an outside scanner sees it: sslscan (installed by
// scripts/install-deps.sh) against a real custosd, with assertions on its
// report, plus a hand-built ClientHello that offers DEFLATE compression,
// because a scanner linked against an OpenSSL without zlib cannot offer it.
//
// What must hold (docs/operations.md, TLS): only TLS 1.2 and 1.3; every
// accepted cipher AEAD with an ephemeral key exchange; no compression; no
// insecure renegotiation; no Heartbleed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

// The first executable `name` on $PATH (or a usual system folder), or "".
std::string FindProgram(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/bin:/usr/local/bin:/bin";
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The lines of a section of sslscan's report: those after the line holding
// `title`, up to the next blank line.
std::vector<std::string> Section(const std::string& report, const std::string& title) {
  std::vector<std::string> out;
  std::istringstream in(report);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!inside) {
      inside = line.find(title) != std::string::npos;
      continue;
    }
    if (line.find_first_not_of(' ') == std::string::npos) break;
    out.push_back(line);
  }
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

class TlsScan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir;
    server_ = new ServerProcess;
    if (!server_->Start(tmp_->Sub("data"))) return;
    started_ = true;
    sslscan_ = new std::string(FindProgram("sslscan"));
    if (sslscan_->empty()) return;
    RunResult r =
        RunProgram({*sslscan_, "--no-colour", "127.0.0.1:" + std::to_string(server_->port())});
    report_ = new std::string(r.out);
    scan_exit_ = r.exit_code;
    scan_err_ = new std::string(r.err);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete tmp_;
    delete sslscan_;
    delete report_;
    delete scan_err_;
    server_ = nullptr;
    tmp_ = nullptr;
    sslscan_ = report_ = scan_err_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_) << "custosd did not start"; }

  // Fails the test unless sslscan ran and reached the server.
  void RequireReport() {
    ASSERT_NE(sslscan_, nullptr);
    ASSERT_FALSE(sslscan_->empty())
        << "sslscan is not installed: apt-get install -y sslscan (scripts/install-deps.sh)";
    ASSERT_EQ(scan_exit_, 0) << *report_ << *scan_err_;
    ASSERT_NE(report_->find("Connected to 127.0.0.1"), std::string::npos) << *report_;
  }

  static TempDir* tmp_;
  static ServerProcess* server_;
  static bool started_;
  static std::string* sslscan_;
  static std::string* report_;
  static std::string* scan_err_;
  static int scan_exit_;
};

TempDir* TlsScan::tmp_ = nullptr;
ServerProcess* TlsScan::server_ = nullptr;
bool TlsScan::started_ = false;
std::string* TlsScan::sslscan_ = nullptr;
std::string* TlsScan::report_ = nullptr;
std::string* TlsScan::scan_err_ = nullptr;
int TlsScan::scan_exit_ = -1;

TEST_F(TlsScan, OnlyTls12AndTls13AreEnabled) {
  ASSERT_NO_FATAL_FAILURE(RequireReport());
  std::vector<std::string> lines = Section(*report_, "SSL/TLS Protocols:");
  static const std::regex kLine("^(SSLv2|SSLv3|TLSv1\\.0|TLSv1\\.1|TLSv1\\.2|TLSv1\\.3)\\s+(\\S+)");
  std::map<std::string, std::string> state;
  for (const std::string& l : lines) {
    std::smatch m;
    if (std::regex_search(l, m, kLine)) state[m[1]] = m[2];
  }
  const std::map<std::string, std::string> expected = {
      {"SSLv2", "disabled"},   {"SSLv3", "disabled"},  {"TLSv1.0", "disabled"},
      {"TLSv1.1", "disabled"}, {"TLSv1.2", "enabled"}, {"TLSv1.3", "enabled"}};
  EXPECT_EQ(state, expected) << "protocols section:\n" << Joined(lines);
}

TEST_F(TlsScan, EveryAcceptedCipherIsAeadWithForwardSecrecy) {
  ASSERT_NO_FATAL_FAILURE(RequireReport());
  std::vector<std::string> lines = Section(*report_, "Supported Server Cipher(s):");
  // "Accepted  TLSv1.2  256 bits  ECDHE-ECDSA-AES256-GCM-SHA384 Curve 25519 DHE 253"
  static const std::regex kLine("^(Preferred|Accepted)\\s+(\\S+)\\s+\\d+ bits\\s+(\\S+)\\s*(.*)$");
  int tls12 = 0, tls13 = 0;
  for (const std::string& l : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, kLine)) << "unexpected cipher line: " << l;
    const std::string version = m[2], cipher = m[3], exchange = m[4];
    if (version == "TLSv1.3") {
      ++tls13;
      // Every TLS 1.3 suite is AEAD with an ephemeral (EC)DH exchange.
      EXPECT_EQ(cipher.rfind("TLS_", 0), 0u) << l;
    } else if (version == "TLSv1.2") {
      ++tls12;
      bool aead = cipher.find("-GCM-") != std::string::npos ||
                  cipher.find("CHACHA20-POLY1305") != std::string::npos;
      bool ephemeral = cipher.rfind("ECDHE-", 0) == 0 || cipher.rfind("DHE-", 0) == 0;
      EXPECT_TRUE(aead) << "not AEAD: " << l;
      EXPECT_TRUE(ephemeral) << "no forward secrecy: " << l;
    } else {
      ADD_FAILURE() << "cipher accepted under " << version << ": " << l;
    }
    EXPECT_NE(exchange.find("DHE"), std::string::npos) << "no ephemeral key exchange: " << l;
  }
  EXPECT_GT(tls12, 0) << "no TLS 1.2 cipher listed:\n" << Joined(lines);
  EXPECT_GT(tls13, 0) << "no TLS 1.3 cipher listed:\n" << Joined(lines);
}

TEST_F(TlsScan, NoCompressionNoInsecureRenegotiationNoHeartbleed) {
  ASSERT_NO_FATAL_FAILURE(RequireReport());
  std::vector<std::string> compression = Section(*report_, "TLS Compression:");
  ASSERT_FALSE(compression.empty()) << *report_;
  // "Compression disabled", or the scanner could not offer it (then
  // HandshakeOfferingDeflateIsAnsweredWithoutCompression is the evidence).
  EXPECT_TRUE(compression[0] == "Compression disabled" ||
              compression[0].find("does not support compression") != std::string::npos)
      << Joined(compression);

  std::vector<std::string> renegotiation = Section(*report_, "TLS renegotiation:");
  ASSERT_FALSE(renegotiation.empty()) << *report_;
  EXPECT_TRUE(renegotiation[0] == "Session renegotiation not supported" ||
              renegotiation[0] == "Secure session renegotiation supported")
      << Joined(renegotiation);

  std::vector<std::string> heartbleed = Section(*report_, "Heartbleed:");
  ASSERT_FALSE(heartbleed.empty()) << *report_;
  for (const std::string& l : heartbleed) {
    EXPECT_NE(l.find("not vulnerable to heartbleed"), std::string::npos) << l;
  }
}

// ------------------------------------------------------------- raw probe

void PutU16(std::string& out, size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

// A TLS 1.2 ClientHello offering DEFLATE (1) before null (0) compression,
// with the extensions an ECDSA server needs to pick an ECDHE suite.
std::string ClientHelloOfferingDeflate(const std::vector<uint16_t>& suites) {
  std::string ext;
  PutU16(ext, 0x000a);  // supported_groups: x25519, P-256, P-384
  PutU16(ext, 8);
  PutU16(ext, 6);
  for (uint16_t g : {0x001d, 0x0017, 0x0018}) PutU16(ext, g);
  PutU16(ext, 0x000b);  // ec_point_formats: uncompressed
  PutU16(ext, 2);
  ext += std::string("\x01\x00", 2);
  PutU16(ext, 0x000d);  // signature_algorithms
  const std::vector<uint16_t> algs = {0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501};
  PutU16(ext, 2 + 2 * algs.size());
  PutU16(ext, 2 * algs.size());
  for (uint16_t a : algs) PutU16(ext, a);

  std::string body = std::string("\x03\x03", 2) + std::string(32, '\x2a');  // version, random
  body.push_back('\0');                                                     // no session id
  PutU16(body, 2 * suites.size());
  for (uint16_t s : suites) PutU16(body, s);
  body += std::string("\x02\x01\x00", 3);  // compression methods: DEFLATE, null
  PutU16(body, ext.size());
  body += ext;

  std::string handshake = "\x01";  // ClientHello
  handshake.push_back(static_cast<char>((body.size() >> 16) & 0xFF));
  PutU16(handshake, body.size() & 0xFFFF);
  handshake += body;
  std::string record = std::string("\x16\x03\x01", 3);
  PutU16(record, handshake.size());
  return record + handshake;
}

// Sends `hello` over plain TCP and returns what arrives until the first
// record is complete, the server closes, or 3 s pass.
std::string FirstRecordAnswering(int port, const std::string& hello) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
    ::close(fd);
    return out;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    if (out.size() >= 5) {
      size_t length = (static_cast<unsigned char>(out[3]) << 8) | static_cast<unsigned char>(out[4]);
      if (out.size() >= 5 + length) break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST_F(TlsScan, HandshakeOfferingDeflateIsAnsweredWithoutCompression) {
  // ECDHE-ECDSA/RSA with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.
  const std::vector<uint16_t> suites = {0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8};
  std::string reply = FirstRecordAnswering(server_->port(), ClientHelloOfferingDeflate(suites));
  ASSERT_GE(reply.size(), 5u) << "no answer to the ClientHello";
  auto byte = [&](size_t i) { return i < reply.size() ? static_cast<unsigned char>(reply[i]) : -1; };
  ASSERT_EQ(byte(0), 0x16) << "not a handshake record (0x15 is an alert, description "
                           << byte(6) << ")";
  ASSERT_EQ(byte(5), 0x02) << "first handshake message is not a ServerHello";
  // ServerHello: type(1) length(3) version(2) random(32) session_id(1+n)
  // cipher_suite(2) compression_method(1).
  EXPECT_EQ(byte(9), 0x03);
  EXPECT_EQ(byte(10), 0x03) << "not TLS 1.2";
  size_t sid = static_cast<size_t>(byte(43));
  int cipher = (byte(44 + sid) << 8) | byte(45 + sid);
  EXPECT_NE(std::find(suites.begin(), suites.end(), cipher), suites.end())
      << "chose a suite that was not offered: " << std::hex << cipher;
  ASSERT_GT(reply.size(), 46 + sid);
  EXPECT_EQ(byte(46 + sid), 0) << "the server chose compression method " << byte(46 + sid);
}

}  // namespace
}  // namespace custos::testing
