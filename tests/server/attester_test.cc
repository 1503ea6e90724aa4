// The attester thread's rounds (server/services/checkpoint_attester.h)
// against the test witness (written from C2SP tlog-witness,
// tests/testutil/test_witness.h) and a local RFC 3161 authority made with
// `openssl ts` (tests/testutil/test_tsa.h), over real HTTP:
//   * the newest checkpoint gets a cosignature and a timestamp; the served
//     checkpoint and a receipt carry both, and CheckAttestations accepts them
//     under a 1-of-2 policy;
//   * a witness that already cosigned another history refuses a copy of the
//     archive that was restored and never promoted: the alert names it;
//   * an unreachable witness delays no write and is counted, not alerted;
//   * the timestamp interval holds back a second token.
#include <gtest/gtest.h>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/log.h"
#include "common/metrics.h"
#include "crypto/attested_note.h"
#include "crypto/cosignature.h"
#include "server/services/checkpoint_attester.h"
#include "server/services/log_service.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/scratch_store.h"
#include "tests/testutil/test_tsa.h"
#include "tests/testutil/test_witness.h"
#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using storage::testing::ScratchStore;
using storage::testing::TestSigner;
using testing::TestTsa;
using testing::TestWitness;

// `n` events about one record in one write: one checkpoint.
void Append(storage::MetadataStore& store, int n, const std::string& subject = "合同-1") {
  Status s = store.Write([&](storage::Transaction& tx) -> Status {
    for (int i = 0; i < n; ++i) {
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(storage::testing::Event("test.event", subject, i)).status());
    }
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

WitnessEndpoint EndpointOf(const TestWitness& w) {
  auto key = crypto::cosig::ParseWitnessKey(w.vkey());
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return WitnessEndpoint{key.ok() ? *key : crypto::cosig::WitnessKey{}, w.url(), ""};
}

class AttesterTest : public ::testing::Test {
 protected:
  AttesterTest() : store_(&signer_.checkpoint), clock_(std::chrono::system_clock::now()) {}

  std::unique_ptr<CheckpointAttester> Attester(AttesterOptions o) {
    o.start_thread = false;
    o.request_timeout = std::chrono::milliseconds(3000);
    return std::make_unique<CheckpointAttester>(store_, clock_, logger_, metrics_, std::move(o));
  }
  std::unique_ptr<TestWitness> Witness(const std::string& name) {
    return TestWitness::Start({name, {signer_.signer.VerifierKey()}, ""});
  }
  std::vector<storage::CheckpointSignature> Lines(uint64_t size) {
    std::vector<storage::CheckpointSignature> out;
    Status s = store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.log().CheckpointSignatures(size));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  TestSigner signer_;
  ScratchStore store_;
  ManualClock clock_;
  Logger logger_{2, LogLevel::kError};
  MetricsRegistry metrics_;
  Principal auditor_{domain::Username{"audrey"}, domain::Role::kAuditor, ""};
};

TEST_F(AttesterTest, NewestCheckpointIsCosignedAndTimestampedAndReceiptsCarryBoth) {
  auto witness = Witness("witness.test/见证一");
  ASSERT_NE(witness, nullptr);
  TestTsa tsa;
  ASSERT_TRUE(tsa.Start());
  ASSERT_TRUE(tsa.Serve());
  Append(store_, 3);

  AttesterOptions o;
  o.witnesses = {EndpointOf(*witness)};
  o.tsas = {TsaEndpoint{"tsa.test/时间", tsa.url(), ""}};
  o.tsa_ca_pem = tsa.ca_pem();
  auto attester = Attester(o);
  attester->RunOnce();

  std::vector<storage::CheckpointSignature> lines = Lines(3);
  ASSERT_EQ(lines.size(), 2u);
  ASSERT_TRUE(witness->latest("test.example/custos").has_value());
  EXPECT_EQ(witness->latest("test.example/custos")->size, 3u);

  LogService log(store_, signer_.signer.VerifierKey());
  auto served = log.Checkpoint();
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  crypto::AttestationPolicy policy;
  policy.witnesses = {EndpointOf(*witness).key,
                      *crypto::cosig::ParseWitnessKey(Witness("witness.test/other")->vkey())};
  policy.min_cosignatures = 1;
  policy.tsa_ca_pem = tsa.ca_pem();
  policy.require_timestamp = true;
  crypto::AttestationReport report = crypto::CheckAttestations(*served, policy);
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  EXPECT_EQ(report.cosignatures_ok, 1u);
  EXPECT_EQ(report.timestamps.size(), 1u);

  // A later entry: the receipt of entry 0 stays on the attested checkpoint.
  Append(store_, 2);
  auto receipt = log.Receipt(0);
  ASSERT_TRUE(receipt.ok()) << receipt.status().ToString();
  EXPECT_NE(receipt->find(lines[0].line), std::string::npos);
  EXPECT_NE(receipt->find(lines[1].line), std::string::npos);
  EXPECT_NE(receipt->find("\n3\n"), std::string::npos);  // tree size 3
  // Without a policy's witness the same note falls short of 1-of-1.
  crypto::AttestationPolicy stranger;
  stranger.witnesses = {policy.witnesses[1]};
  stranger.min_cosignatures = 1;
  EXPECT_FALSE(crypto::CheckAttestations(*served, stranger).problems.empty());

  // The next round cosigns size 5 with a proof from 3; the timestamp
  // interval (1 h) holds back a second token.
  attester->RunOnce();
  lines = Lines(5);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].kind, storage::kCosignatureKind);
  EXPECT_EQ(tsa.requests(), 1);
  EXPECT_FALSE(attester->AlertFor(auditor_).has_value());
}

TEST_F(AttesterTest, WitnessRefusesARestoredCopyThatWasNeverPromoted) {
  auto witness = Witness("witness.test/w1");
  ASSERT_NE(witness, nullptr);
  // The live archive and a copy that was never promoted but kept running
  // under the same signing key: another history of the same origin.
  Append(store_, 2);
  ScratchStore copy(&signer_.checkpoint);
  Append(copy, 2, "合同-2");
  Append(store_, 3);
  Append(copy, 4, "合同-2");

  AttesterOptions o;
  o.witnesses = {EndpointOf(*witness)};
  auto live = Attester(o);
  live->RunOnce();
  ASSERT_EQ(witness->latest("test.example/custos")->size, 5u);

  MetricsRegistry other_metrics;
  CheckpointAttester stale(copy, clock_, logger_, other_metrics,
                           [&] {
                             AttesterOptions c = o;
                             c.start_thread = false;
                             c.request_timeout = std::chrono::milliseconds(3000);
                             return c;
                           }());
  stale.RunOnce();  // 409 (the witness is at 5), then the proof 5→6 fails: 422
  auto alert = stale.AlertFor(auditor_);
  ASSERT_TRUE(alert.has_value());
  ASSERT_FALSE(alert->problems.empty());
  EXPECT_EQ(alert->problems[0].code, "witness_refused");
  EXPECT_EQ(alert->problems[0].party, "witness.test/w1");
  EXPECT_EQ(alert->problems[0].size, 6u);
  EXPECT_EQ(witness->latest("test.example/custos")->size, 5u);
  EXPECT_FALSE(stale.AlertFor(Principal{domain::Username{"sam"}, domain::Role::kStaff, ""}).has_value());
  std::vector<storage::CheckpointSignature> none;
  ASSERT_TRUE(copy.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(none, tx.log().CheckpointSignatures(6));
    return Status::Ok();
  }).ok());
  EXPECT_TRUE(none.empty());
}

TEST_F(AttesterTest, WitnessThatKnowsALongerLogRaisesWitnessAhead) {
  auto witness = Witness("witness.test/w1");
  ASSERT_NE(witness, nullptr);
  AttesterOptions o;
  o.witnesses = {EndpointOf(*witness)};
  Append(store_, 5);
  Attester(o)->RunOnce();
  ASSERT_EQ(witness->latest("test.example/custos")->size, 5u);
  // A copy of the archive rolled back to 3 entries.
  ScratchStore rolled_back(&signer_.checkpoint);
  Append(rolled_back, 3);
  MetricsRegistry other_metrics;
  o.start_thread = false;
  CheckpointAttester attester(rolled_back, clock_, logger_, other_metrics, o);
  attester.RunOnce();
  auto alert = attester.AlertFor(auditor_);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->problems[0].code, "witness_ahead");
  EXPECT_EQ(alert->problems[0].size, 3u);
}

TEST_F(AttesterTest, UnreachableWitnessDelaysNothingAndIsCountedNotAlerted) {
  int closed_port = 0;
  {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    closed_port = s.address().port();
  }
  AttesterOptions o;
  auto key = crypto::cosig::ParseWitnessKey(Witness("witness.test/gone")->vkey());
  ASSERT_TRUE(key.ok());
  o.witnesses = {WitnessEndpoint{*key, "http://127.0.0.1:" + std::to_string(closed_port), ""}};
  o.start_thread = true;
  o.poll = std::chrono::milliseconds(10);
  CheckpointAttester attester(store_, clock_, logger_, metrics_, o);
  for (int i = 0; i < 5; ++i) Append(store_, 1);  // writes go on
  attester.RunOnce();
  EXPECT_TRUE(Lines(5).empty());
  EXPECT_FALSE(attester.AlertFor(auditor_).has_value());
  const std::string text = metrics_.Render();
  EXPECT_NE(text.find("custos_attestation_requests_total{party=\"witness.test/gone\",result=\"unreachable\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("custos_attestation_lag_entries{party=\"witness.test/gone\"} 5"), std::string::npos) << text;
}

}  // namespace
}  // namespace custos::services
