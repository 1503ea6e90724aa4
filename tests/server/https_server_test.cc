// Integration tests of custosd's front door: the real binary on an ephemeral
// port with a fresh data directory, spoken to over real TLS.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <regex>
#include <string>

#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

class HttpsServerTest : public ::testing::Test {
 protected:
  void StartServer(const std::string& extra_config = "") {
    ASSERT_TRUE(server_.Start(tmp_.Sub("data"), extra_config));  // NOLINT
    started_ = true;
    client_ = std::make_unique<HttpsClient>(server_.port(), tmp_.Sub("data/tls/cert.pem"));
  }
  void ExpectAlive() {
    HttpResult r = client_->Get("/healthz");
    EXPECT_EQ(r.status, 200) << r.transport_error;
  }

  TempDir tmp_;
  ServerProcess server_;
  std::unique_ptr<HttpsClient> client_;
  bool started_ = false;
};

TEST_F(HttpsServerTest, HealthzAnswersOverVerifiedTls) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HttpResult r = client_->Get("/healthz");
  ASSERT_EQ(r.status, 200) << r.transport_error;
  EXPECT_EQ(r.body, "{\"status\":\"ok\"}");
  EXPECT_EQ(r.headers["Content-Type"], "application/json; charset=utf-8");
}

TEST_F(HttpsServerTest, ReadyzReportsChecks) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HttpResult r = client_->Get("/readyz");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"status\":\"ready\""), std::string::npos);
  EXPECT_NE(r.body.find("\"name\":\"data_dir\",\"ok\":true"), std::string::npos);
}

TEST_F(HttpsServerTest, UnknownRouteIs404InJsonErrorFormat) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HttpResult r = client_->Get("/v1/no/such/thing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            "{\"error\":{\"code\":\"route_not_found\",\"message\":\"no route for GET "
            "/v1/no/such/thing\"}}");
}

TEST_F(HttpsServerTest, WrongMethodIs405WithAllow) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HttpResult r = client_->Request("DELETE", "/healthz");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "GET");
  EXPECT_NE(r.body.find("method_not_allowed"), std::string::npos);
}

TEST_F(HttpsServerTest, Tls11OnlyClientIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  EXPECT_FALSE(TlsHandshakeSucceeds(server_.port(), TLS1_VERSION, TLS1_1_VERSION, "ALL:@SECLEVEL=0"));
  ExpectAlive();
}

TEST_F(HttpsServerTest, Tls12AndTls13AreAccepted) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  EXPECT_TRUE(TlsHandshakeSucceeds(server_.port(), TLS1_2_VERSION, TLS1_2_VERSION, ""));
  EXPECT_TRUE(TlsHandshakeSucceeds(server_.port(), TLS1_3_VERSION, TLS1_3_VERSION, ""));
}

TEST_F(HttpsServerTest, NonAeadCipherIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  EXPECT_FALSE(TlsHandshakeSucceeds(server_.port(), TLS1_2_VERSION, TLS1_2_VERSION,
                                    "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:AES128-SHA"));
  ExpectAlive();
}

TEST_F(HttpsServerTest, PlainHttpOnTlsPortDoesNotCrashIt) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::string reply = RawTcpExchange(server_.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(reply.find("{\"status\":\"ok\"}"), std::string::npos);
  ExpectAlive();
}

TEST_F(HttpsServerTest, GarbageBytesDoNotCrashIt) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919) & 0xFF));
  RawTcpExchange(server_.port(), garbage);
  std::string reply = RawTlsExchange(server_.port(), garbage);
  // Inside TLS the server either answers 400 or closes the connection.
  if (!reply.empty()) EXPECT_NE(reply.find(" 400 "), std::string::npos) << reply;
  ExpectAlive();
}

TEST_F(HttpsServerTest, OversizedHeaderGets4xx) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  // Many medium-sized fields: over server.max_header_bytes (16 KiB) in total.
  std::map<std::string, std::string> headers;
  for (int i = 0; i < 8; ++i) headers["X-Filler-" + std::to_string(i)] = std::string(4000, 'a');
  HttpResult r = client_->Request("GET", "/healthz", "", "", headers);
  EXPECT_EQ(r.status, 431) << r.transport_error;
  EXPECT_NE(r.body.find("header_too_large"), std::string::npos);
  // One field longer than any header line may be.
  std::string huge = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'b') +
                     "\r\n\r\n";
  std::string reply = RawTlsExchange(server_.port(), huge);
  if (!reply.empty()) EXPECT_NE(reply.find(" 4"), std::string::npos) << reply.substr(0, 80);
  ExpectAlive();
}

TEST_F(HttpsServerTest, OverLimitBodyGets413AndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartServer("server.max_body_bytes = 4096\nserver.max_json_bytes = 2048\n"));
  HttpResult r = client_->Request("POST", "/healthz", std::string(10000, 'x'), "text/plain");
  // The connection may be closed before the client finishes sending; either
  // the 413 arrives or the transport fails, never a 2xx.
  if (r.status != 0) {
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("body_too_large"), std::string::npos);
  }
  HttpsClient fresh(server_.port(), tmp_.Sub("data/tls/cert.pem"));
  EXPECT_EQ(fresh.Get("/healthz").status, 200);
}

TEST_F(HttpsServerTest, MetricsExposeRequestsLatencyInFlightAndConnections) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_EQ(client_->Get("/healthz").status, 200);
  ASSERT_EQ(client_->Get("/nope").status, 404);
  HttpResult r = client_->Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers["Content-Type"].find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(r.body.find("custos_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"),
            std::string::npos) << r.body;
  EXPECT_NE(r.body.find("custos_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_NE(r.body.find("custos_http_request_duration_seconds_count{route=\"/healthz\"} 1"),
            std::string::npos);
  // This very request is in flight and its connection is open.
  EXPECT_NE(r.body.find("custos_http_requests_in_flight 1"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.body, m, std::regex("custos_http_open_connections ([0-9]+)")));
  EXPECT_GE(std::stoi(m[1]), 1);
}

TEST_F(HttpsServerTest, OneStructuredLogLinePerRequestWithoutSecrets) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  HttpResult r = client_->Request("GET", "/healthz?x=1", "", "",
                                  {{"Authorization", "Bearer sekrit-token-value"}});
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(server_.Stop(), 0);
  std::string log = server_.Log();
  std::regex line("\\{\"ts\":\"[0-9T:.Z-]+\",\"level\":\"info\",\"msg\":\"request\",\"method\":\"GET\","
                  "\"path\":\"/healthz\",\"route\":\"/healthz\",\"status\":200,\"bytes\":15,"
                  "\"aborted\":false,\"durationMs\":[0-9.]+,\"principal\":\"\",\"remote\":\"127.0.0.1\"\\}");
  EXPECT_TRUE(std::regex_search(log, line)) << log;
  EXPECT_EQ(log.find("sekrit"), std::string::npos);
}

TEST_F(HttpsServerTest, SigtermDrainsAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_EQ(client_->Get("/healthz").status, 200);  // leaves a kept-alive connection open
  EXPECT_EQ(server_.Stop(), 0);
  EXPECT_NE(server_.Log().find("\"msg\":\"stopped\""), std::string::npos);
}

TEST_F(HttpsServerTest, SigintAlsoExitsZero) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  server_.process().Signal(SIGINT);
  EXPECT_EQ(server_.process().Wait(30000), 0);
}

}  // namespace
}  // namespace custos::testing
