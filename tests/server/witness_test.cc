// The witness client (server/services/witness_client.h) against a witness
// written from the C2SP tlog-witness spec (tests/testutil/test_witness.h),
// and the attestation policy check (crypto/attested_note.h) on what it
// returns.
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "crypto/attested_note.h"
#include "crypto/cosignature.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "server/services/witness_client.h"
#include "crypto/hash.h"
#include "crypto/timestamp.h"
#include "tests/testutil/test_tsa.h"
#include "tests/testutil/test_witness.h"
#include "tests/testutil/testutil.h"

namespace custos {
namespace {

using crypto::Digest32;
using services::SubmitCheckpoint;
using services::WitnessEndpoint;
using services::WitnessResult;
using testing::TestWitness;

constexpr std::string_view kOrigin = "archive.test/audit-log";
constexpr std::chrono::milliseconds kTimeout(2000);

// A log: a Merkle tree and the key that signs its checkpoints.
class TestLog {
 public:
  explicit TestLog(const crypto::note::KeySigner& signer) : signer_(signer) {}
  void Add(const std::string& leaf) { tree_.Append(leaf); }
  uint64_t size() const { return tree_.size(); }
  std::string Note() const {
    crypto::Checkpoint cp{std::string(kOrigin), tree_.size(), tree_.Root(), {}};
    auto body = crypto::FormatCheckpointBody(cp);
    EXPECT_TRUE(body.ok());
    auto note = crypto::note::Sign(*body, {&signer_});
    EXPECT_TRUE(note.ok());
    return *note;
  }
  std::vector<Digest32> ProofFrom(uint64_t old_size) {
    if (old_size == 0 || old_size == tree_.size()) return {};
    auto proof = crypto::merkle::ConsistencyProof(old_size, tree_.size(), tree_);
    EXPECT_TRUE(proof.ok()) << proof.status().ToString();
    return *proof;
  }

 private:
  const crypto::note::KeySigner& signer_;
  crypto::merkle::MemoryTree tree_;
};

crypto::note::KeySigner LogSigner() {
  auto key = crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519);
  EXPECT_TRUE(key.ok());
  auto signer = crypto::note::KeySigner::Create(std::string(kOrigin), *key);
  EXPECT_TRUE(signer.ok());
  return *signer;
}

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    witness_ = TestWitness::Start({"witness.test/w1", {signer_.VerifierKey()}, ""});
    ASSERT_NE(witness_, nullptr);
    auto key = crypto::cosig::ParseWitnessKey(witness_->vkey());
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    endpoint_ = WitnessEndpoint{*key, witness_->url(), ""};
  }
  static void Grow(TestLog& log, int n, const std::string& tag) {
    for (int i = 0; i < n; ++i) log.Add(tag + std::to_string(log.size()));
  }

  crypto::note::KeySigner signer_ = LogSigner();
  std::unique_ptr<TestWitness> witness_;
  WitnessEndpoint endpoint_;
};

TEST_F(WitnessTest, CosignsAndThenExtendsWithAConsistencyProof) {
  TestLog log(signer_);
  Grow(log, 5, "a");
  const std::string note5 = log.Note();
  WitnessResult r = SubmitCheckpoint(endpoint_, 0, {}, note5, kTimeout);
  ASSERT_EQ(r.kind, WitnessResult::kCosigned) << r.detail;
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(witness_->latest(std::string(kOrigin))->size, 5u);

  // The attested note is still a checkpoint for a verifier of the log only.
  const std::string attested = note5 + r.lines[0];
  std::vector<const crypto::note::Verifier*> log_only{&signer_.verifier()};
  auto opened = crypto::OpenCheckpoint(attested, log_only);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->note.unverified.size(), 1u);  // the cosignature, ignored

  Grow(log, 6, "a");  // 11: a proof of several hashes
  r = SubmitCheckpoint(endpoint_, 5, log.ProofFrom(5), log.Note(), kTimeout);
  ASSERT_EQ(r.kind, WitnessResult::kCosigned) << r.detail;
  EXPECT_EQ(witness_->latest(std::string(kOrigin))->size, 11u);
  // The same checkpoint again (old size == size) is cosigned again.
  r = SubmitCheckpoint(endpoint_, 11, {}, log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kCosigned) << r.detail;
}

TEST_F(WitnessTest, ConflictTellsTheWitnessSize) {
  TestLog log(signer_);
  Grow(log, 4, "a");
  ASSERT_EQ(SubmitCheckpoint(endpoint_, 0, {}, log.Note(), kTimeout).kind, WitnessResult::kCosigned);
  Grow(log, 3, "a");
  // The client believes the witness has never seen the log.
  WitnessResult r = SubmitCheckpoint(endpoint_, 0, {}, log.Note(), kTimeout);
  ASSERT_EQ(r.kind, WitnessResult::kConflict) << r.detail;
  EXPECT_EQ(r.witness_size, 4u);
  // Retrying from the size the 409 gave succeeds.
  r = SubmitCheckpoint(endpoint_, r.witness_size, log.ProofFrom(r.witness_size), log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kCosigned) << r.detail;
}

// A restored copy of the data that was never promoted goes on signing with
// the same log key: its tree shares a prefix with the live one and then
// diverges. A witness that cosigned the live tree refuses it.
TEST_F(WitnessTest, RefusesACheckpointOfADivergedCopy) {
  TestLog live(signer_);
  TestLog restored(signer_);
  Grow(live, 4, "common");
  Grow(restored, 4, "common");
  Grow(live, 4, "live");          // live: 8
  Grow(restored, 2, "restored");  // restored: 6
  ASSERT_EQ(SubmitCheckpoint(endpoint_, 0, {}, live.Note(), kTimeout).kind, WitnessResult::kCosigned);
  const auto before = *witness_->latest(std::string(kOrigin));

  // The copy claims the witness is at the common prefix: 409, the witness
  // says 8.
  WitnessResult r = SubmitCheckpoint(endpoint_, 4, restored.ProofFrom(4), restored.Note(), kTimeout);
  ASSERT_EQ(r.kind, WitnessResult::kConflict) << r.detail;
  EXPECT_EQ(r.witness_size, 8u);
  // From 8 it cannot be smaller: 400, refused.
  r = SubmitCheckpoint(endpoint_, 8, {}, restored.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kRefused) << r.detail;
  // Grown past 8, its own proof from 8 does not lead from the live root: 422.
  Grow(restored, 4, "restored");  // 10
  r = SubmitCheckpoint(endpoint_, 8, restored.ProofFrom(8), restored.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kRefused) << r.detail;
  EXPECT_NE(r.detail.find("422"), std::string::npos) << r.detail;
  // The same size with another root: 409 with the witness's own size.
  TestLog restored8(signer_);
  Grow(restored8, 4, "common");
  Grow(restored8, 4, "restored");
  r = SubmitCheckpoint(endpoint_, 8, {}, restored8.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kConflict) << r.detail;
  // Nothing of the copy was cosigned.
  const auto after = *witness_->latest(std::string(kOrigin));
  EXPECT_EQ(after.size, before.size);
  EXPECT_EQ(after.root, before.root);
  // The live log goes on.
  Grow(live, 1, "live");
  EXPECT_EQ(SubmitCheckpoint(endpoint_, 8, live.ProofFrom(8), live.Note(), kTimeout).kind,
            WitnessResult::kCosigned);
}

TEST_F(WitnessTest, RefusesUnknownLogsAndForeignSignatures) {
  TestLog log(signer_);
  Grow(log, 3, "a");
  crypto::note::KeySigner other = LogSigner();  // same origin, another key
  TestLog forged(other);
  Grow(forged, 3, "a");
  WitnessResult r = SubmitCheckpoint(endpoint_, 0, {}, forged.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kRefused);
  EXPECT_NE(r.detail.find("403"), std::string::npos) << r.detail;

  witness_->set_mode(TestWitness::Mode::kRefuseAll);
  r = SubmitCheckpoint(endpoint_, 0, {}, log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kRefused) << r.detail;
  witness_->set_mode(TestWitness::Mode::kServerError);
  r = SubmitCheckpoint(endpoint_, 0, {}, log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kUnreachable) << r.detail;
}

TEST_F(WitnessTest, BadCosignatureIsRefused) {
  TestLog log(signer_);
  Grow(log, 2, "a");
  witness_->set_mode(TestWitness::Mode::kBadCosignature);
  WitnessResult r = SubmitCheckpoint(endpoint_, 0, {}, log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kRefused);
  EXPECT_TRUE(r.lines.empty());
  EXPECT_NE(r.detail.find("cosignature_invalid"), std::string::npos) << r.detail;

  // A witness key the client trusts under another name: the reply has no
  // line of the trusted key.
  WitnessEndpoint renamed = endpoint_;
  renamed.key.name = "witness.test/other";
  witness_->set_mode(TestWitness::Mode::kNormal);
  Grow(log, 1, "a");
  r = SubmitCheckpoint(renamed, 2, log.ProofFrom(2), log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kRefused) << r.detail;
}

TEST_F(WitnessTest, UnreachableAndSlowWitnessesFailQuickly) {
  TestLog log(signer_);
  Grow(log, 2, "a");
  int closed_port = 0;
  {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    closed_port = s.address().port();
  }
  WitnessEndpoint gone = endpoint_;
  gone.url = "http://127.0.0.1:" + std::to_string(closed_port);
  auto start = std::chrono::steady_clock::now();
  WitnessResult r = SubmitCheckpoint(gone, 0, {}, log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kUnreachable) << r.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));

  witness_->set_delay(std::chrono::milliseconds(600));
  start = std::chrono::steady_clock::now();
  r = SubmitCheckpoint(endpoint_, 0, {}, log.Note(), std::chrono::milliseconds(150));
  EXPECT_EQ(r.kind, WitnessResult::kUnreachable) << r.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(550));
}

TEST_F(WitnessTest, WitnessStatePersistsAcrossRestarts) {
  testing::TempDir dir;
  const std::string state = dir.path() + "/witness.state";
  TestLog log(signer_);
  Grow(log, 3, "a");
  {
    auto w = TestWitness::Start({"witness.test/p", {signer_.VerifierKey()}, state});
    auto key = crypto::cosig::ParseWitnessKey(w->vkey());
    ASSERT_TRUE(key.ok());
    ASSERT_EQ(SubmitCheckpoint({*key, w->url(), ""}, 0, {}, log.Note(), kTimeout).kind,
              WitnessResult::kCosigned);
  }
  auto w = TestWitness::Start({"witness.test/p", {signer_.VerifierKey()}, state});
  ASSERT_TRUE(w->latest(std::string(kOrigin)).has_value());
  EXPECT_EQ(w->latest(std::string(kOrigin))->size, 3u);
}

// Policy 1-of-2 over what two real witnesses return.
TEST_F(WitnessTest, PolicyCountsValidCosignaturesOfTrustedWitnesses) {
  auto second = TestWitness::Start({"witness.test/w2", {signer_.VerifierKey()}, ""});
  auto key2 = crypto::cosig::ParseWitnessKey(second->vkey());
  ASSERT_TRUE(key2.ok());
  TestLog log(signer_);
  Grow(log, 6, "a");
  const std::string note = log.Note();
  WitnessResult r = SubmitCheckpoint(endpoint_, 0, {}, note, kTimeout);
  ASSERT_EQ(r.kind, WitnessResult::kCosigned) << r.detail;

  crypto::AttestationPolicy policy;
  policy.witnesses = {endpoint_.key, *key2};
  policy.min_cosignatures = 1;
  auto report = crypto::CheckAttestations(note + r.lines[0], policy);
  EXPECT_TRUE(report.ok()) << report.problems[0];
  EXPECT_EQ(report.cosignatures_ok, 1u);
  EXPECT_EQ(report.witness_names_ok, std::vector<std::string>{"witness.test/w1"});

  // None: the policy is not met.
  report = crypto::CheckAttestations(note, policy);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(crypto::ProblemCode(report.problems[0]), crypto::kProblemWitnessPolicy);

  // 2-of-2 with one: not met either.
  policy.min_cosignatures = 2;
  report = crypto::CheckAttestations(note + r.lines[0], policy);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(crypto::ProblemCode(report.problems[0]), crypto::kProblemWitnessPolicy);

  // A tampered line of a trusted witness is a problem of its own, and does
  // not count.
  policy.min_cosignatures = 1;
  std::string bad = r.lines[0];
  bad[bad.size() - 6] = bad[bad.size() - 6] == 'A' ? 'B' : 'A';
  report = crypto::CheckAttestations(note + bad, policy);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_EQ(crypto::ProblemCode(report.problems[0]), crypto::kProblemCosignatureInvalid);
  EXPECT_EQ(crypto::ProblemCode(report.problems[1]), crypto::kProblemWitnessPolicy);

  // The cosignature is of this checkpoint only: moved onto another one, it
  // fails.
  Grow(log, 1, "a");
  report = crypto::CheckAttestations(log.Note() + r.lines[0], policy);
  EXPECT_FALSE(report.ok());
  // An untrusted witness's line is ignored.
  policy.witnesses = {*key2};
  report = crypto::CheckAttestations(note + r.lines[0], policy);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(crypto::ProblemCode(report.problems[0]), crypto::kProblemWitnessPolicy);
}

TEST_F(WitnessTest, HttpsWitnessMustChainToTheGivenRoots) {
  auto tls = TestWitness::Start({"witness.test/tls", {signer_.VerifierKey()}, "", true});
  ASSERT_NE(tls, nullptr);
  ASSERT_EQ(tls->url().rfind("https://", 0), 0u);
  auto key = crypto::cosig::ParseWitnessKey(tls->vkey());
  ASSERT_TRUE(key.ok());
  TestLog log(signer_);
  Grow(log, 3, "a");
  // The system's roots do not know the witness's certificate: no request.
  WitnessResult r = SubmitCheckpoint({*key, tls->url(), ""}, 0, {}, log.Note(), kTimeout);
  EXPECT_EQ(r.kind, WitnessResult::kUnreachable) << r.detail;
  EXPECT_NE(r.detail.find("certificate"), std::string::npos) << r.detail;
  EXPECT_EQ(tls->requests(), 0);
  // Its certificate as the root (log.witness_ca): cosigned over TLS.
  r = SubmitCheckpoint({*key, tls->url(), tls->cert_path()}, 0, {}, log.Note(), kTimeout);
  ASSERT_EQ(r.kind, WitnessResult::kCosigned) << r.detail;
  EXPECT_EQ(tls->requests(), 1);
}

// Timestamp lines: counted when their token verifies against the policy's
// roots, a finding when it does not, unchecked without roots.
TEST_F(WitnessTest, TimestampLinesAreCheckedAgainstTheTsaRoots) {
  testing::TestTsa tsa, other_tsa;
  ASSERT_TRUE(tsa.Start());
  ASSERT_TRUE(other_tsa.Start("Another TSA"));
  TestLog log(signer_);
  Grow(log, 3, "a");
  const std::string note = log.Note();
  const std::string text = note.substr(0, note.rfind("\n\n") + 1);
  const Digest32 imprint = crypto::Sha256Of(text);
  auto token = crypto::tsa::TokenFromResponse(tsa.Reply(crypto::tsa::MakeRequest(imprint, 7)), imprint, 7);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  const std::string line = crypto::tsa::TimestampLine("tsa.test", *token);

  crypto::AttestationPolicy policy;
  policy.tsa_ca_pem = tsa.ca_pem();
  policy.require_timestamp = true;
  auto report = crypto::CheckAttestations(note + line, policy);
  EXPECT_TRUE(report.ok()) << report.problems[0];
  EXPECT_EQ(report.timestamps.size(), 1u);

  // Roots of another authority: the token is a finding, and does not count.
  policy.tsa_ca_pem = other_tsa.ca_pem();
  report = crypto::CheckAttestations(note + line, policy);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_EQ(crypto::ProblemCode(report.problems[0]), crypto::kProblemTimestampInvalid);
  EXPECT_EQ(crypto::ProblemCode(report.problems[1]), crypto::kProblemWitnessPolicy);

  // The token moved onto another checkpoint does not verify.
  policy.tsa_ca_pem = tsa.ca_pem();
  Grow(log, 1, "a");
  report = crypto::CheckAttestations(log.Note() + line, policy);
  ASSERT_FALSE(report.problems.empty());
  EXPECT_EQ(crypto::ProblemCode(report.problems[0]), crypto::kProblemTimestampInvalid);

  // No roots: not checked, not counted.
  policy.tsa_ca_pem.clear();
  policy.require_timestamp = false;
  report = crypto::CheckAttestations(note + line, policy);
  EXPECT_TRUE(report.ok());
  EXPECT_TRUE(report.timestamps.empty());
}

}  // namespace
}  // namespace custos
