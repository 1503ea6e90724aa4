// The RFC 3161 HTTP client (server/services/tsa_client.h) against a real
// local TSA (tests/testutil/test_tsa.h: `openssl ts -reply` behind a Poco
// HTTP server on an ephemeral port).
#include "server/services/tsa_client.h"

#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

#include "crypto/timestamp.h"
#include "tests/testutil/test_tsa.h"

namespace custos::services {
namespace {

using testing::TestTsa;
using namespace std::chrono_literals;

constexpr std::string_view kText = "example.com/custos\n7\nq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6s=\n";

class TsaClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tsa_ = new TestTsa;
    ASSERT_TRUE(tsa_->Start("HTTP Test TSA"));
    ASSERT_TRUE(tsa_->Serve());
  }
  static void TearDownTestSuite() { delete tsa_; }
  void SetUp() override { tsa_->set_mode(TestTsa::Mode::kGrant); }

  static StatusOr<std::vector<uint8_t>> Request(std::string url = "") {
    return RequestTimestamp(TsaEndpoint{"tsa.test", url.empty() ? tsa_->url() : url, ""}, kText,
                            5s);
  }

  static TestTsa* tsa_;
};
TestTsa* TsaClientTest::tsa_ = nullptr;

TEST_F(TsaClientTest, TokenOverHttpVerifiesAndOpensslTsVerifyAcceptsIt) {
  int before = tsa_->requests();
  StatusOr<std::vector<uint8_t>> token = Request();
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(tsa_->requests(), before + 1);
  StatusOr<crypto::tsa::TokenInfo> info = crypto::tsa::VerifyToken(*token, kText, tsa_->ca_pem());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->tsa_subject, "CN=HTTP Test TSA,O=Custos Tests");
  std::string out;
  EXPECT_EQ(tsa_->OpensslVerify(std::string(kText), *token, &out), 0) << out;
  // And through its signature line, as the attester stores it.
  StatusOr<std::vector<uint8_t>> back =
      crypto::tsa::TokenFromLine("tsa.test", crypto::tsa::TimestampLine("tsa.test", *token));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *token);
}

TEST_F(TsaClientTest, RejectionIsUnprocessableWithTheTsaStatus) {
  tsa_->set_mode(TestTsa::Mode::kReject);
  StatusOr<std::vector<uint8_t>> token = Request();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), ErrorCode::kUnprocessable);
  EXPECT_EQ(token.status().reason(), crypto::tsa::kReasonRejected);
  EXPECT_NE(token.status().message().find("tsa.test"), std::string::npos);
}

TEST_F(TsaClientTest, GarbageWrongNonceAndWrongTypeRepliesAreRefused) {
  struct Case {
    TestTsa::Mode mode;
    ErrorCode code;
    std::string_view reason;
  };
  for (const Case& c : {Case{TestTsa::Mode::kGarbage, ErrorCode::kInvalidArgument,
                             crypto::tsa::kReasonMalformed},
                        Case{TestTsa::Mode::kWrongNonce, ErrorCode::kDataLoss,
                             crypto::tsa::kReasonNonceMismatch},
                        Case{TestTsa::Mode::kWrongType, ErrorCode::kInvalidArgument,
                             "tsa_bad_reply"}}) {
    tsa_->set_mode(c.mode);
    StatusOr<std::vector<uint8_t>> token = Request();
    ASSERT_FALSE(token.ok()) << int(c.mode);
    EXPECT_EQ(token.status().code(), c.code) << token.status().ToString();
    EXPECT_EQ(token.status().reason(), c.reason) << token.status().ToString();
  }
}

TEST_F(TsaClientTest, UnreachableWrongPathAndBadUrl) {
  // A port that was just free: nothing listens there.
  int port;
  {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = s.address().port();
  }
  StatusOr<std::vector<uint8_t>> token = Request("http://127.0.0.1:" + std::to_string(port) + "/");
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(token.status().reason(), "tsa_unreachable");

  token = Request(tsa_->url() + "/elsewhere");  // the test TSA answers 400
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().reason(), "tsa_bad_reply");

  token = Request("ftp://127.0.0.1/tsa");
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().reason(), "tsa_url_invalid");
}

}  // namespace
}  // namespace custos::services
