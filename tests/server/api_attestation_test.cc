// Witnesses and timestamps through the real custosd (docs/operations.md
// "Witnesses and timestamps"): configured with log.witnesses (the test
// witness written from C2SP tlog-witness) and log.tsa (an `openssl ts`
// authority), custosd cosigns and timestamps its checkpoints by itself; the
// served checkpoint and a receipt asked for afterwards carry both lines and
// pass a 1-of-1 policy with the authority's root; /metrics counts the
// requests. An evidence bundle made afterwards carries the attested
// checkpoint and passes verify-package held to the witness and the
// authority. With log.public_entries = false the entry bundles of /log/
// need a log reader's session, the hash tiles do not.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "crypto/attested_note.h"
#include "crypto/cosignature.h"
#include "tests/server/api_fixture.h"
#include "tests/testutil/test_tsa.h"
#include "tests/testutil/test_witness.h"

namespace custos::testing {
namespace {

using namespace api;

// Lines after the log's own signature in a served checkpoint.
int ExtraLines(const std::string& note) {
  int dashes = 0;
  for (size_t at = note.find("\n\xe2\x80\x94 "); at != std::string::npos; at = note.find("\n\xe2\x80\x94 ", at + 1)) {
    ++dashes;
  }
  return dashes - 1;
}

TEST(ApiAttestation, CustosdCosignsAndTimestampsItsCheckpointsAndReceiptsCarryThem) {
  TestTsa tsa;
  ASSERT_TRUE(tsa.Start());
  ASSERT_TRUE(tsa.Serve());
  auto server = ApiServer::Create("log.tsa = tsa.test/时间 " + tsa.url() + "\nlog.tsa_ca = " + tsa.ca_path() +
                                      "\nlog.timestamp_interval = 0\nlog.public_entries = false\n",
                                  {"archivist"});
  ASSERT_NE(server, nullptr);
  // The witness must know the log's key before it can cosign: learn it,
  // then name the witness in custos.conf and start again.
  HttpResult key = server->As(kAnonymous, "GET", "/v1/log/key");
  ASSERT_EQ(key.status, 200) << Describe(key);
  std::string vkey = key.body.substr(0, key.body.find('\n'));
  auto witness = TestWitness::Start({"witness.test/见证", {vkey}, ""});
  ASSERT_NE(witness, nullptr);
  {
    const std::string path = server->data_dir() + "/custos.conf";
    std::ifstream in(path);
    std::string conf, line;
    while (std::getline(in, line)) {
      conf += (line.rfind("log.witnesses =", 0) == 0 ? "log.witnesses = " + witness->vkey() + " " + witness->url()
                                                     : line) +
              "\n";
    }
    std::ofstream(path, std::ios::trunc) << conf;
  }
  ASSERT_TRUE(server->Restart()) << server->process().Log();

  Poco::JSON::Object::Ptr rec =
      server->CheckInOk("archivist", GeneralJson("见证合同 attested"), {FilePart("合同.pdf", "%PDF-1.4 attested")});
  ASSERT_TRUE(rec);
  const std::string id = rec->getValue<std::string>("id");

  // The thread looks every second; give it a few.
  std::string checkpoint;
  for (int i = 0; i < 100; ++i) {
    HttpResult cp = server->As(kAnonymous, "GET", "/v1/log/checkpoint");
    ASSERT_EQ(cp.status, 200);
    checkpoint = cp.body;
    if (ExtraLines(checkpoint) == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(ExtraLines(checkpoint), 2) << checkpoint << server->process().Log();

  HttpResult receipt = server->As("archivist", "GET", "/v1/records/" + id + "/versions/1/receipt");
  ASSERT_EQ(receipt.status, 200) << Describe(receipt);
  const std::string note = receipt.body.substr(receipt.body.find("\n\n") + 2);
  crypto::AttestationPolicy policy;
  auto wkey = crypto::cosig::ParseWitnessKey(witness->vkey());
  ASSERT_TRUE(wkey.ok());
  policy.witnesses = {*wkey};
  policy.min_cosignatures = 1;
  policy.tsa_ca_pem = tsa.ca_pem();
  policy.require_timestamp = true;
  crypto::AttestationReport report = crypto::CheckAttestations(note, policy);
  EXPECT_TRUE(report.problems.empty()) << report.problems.front() << "\n" << note;
  EXPECT_EQ(report.cosignatures_ok, 1u);
  EXPECT_EQ(report.timestamps.size(), 1u);

  // log.public_entries = false: entry bundles for signed-in log readers
  // only; hash tiles stay public.
  EXPECT_EQ(server->As(kAnonymous, "GET", "/log/tile/entries/000.p/1").status, 401);
  EXPECT_EQ(server->As("archivist", "GET", "/log/tile/entries/000.p/1").status, 200);
  EXPECT_EQ(server->As(kAnonymous, "GET", "/log/tile/0/000.p/1").status, 200);

  // An evidence bundle made now: its own checkpoint covers its making and
  // is not attested yet; the attested one rides along with a consistency
  // proof, and verify-package holds it to the witness and the authority.
  HttpResult bundle = server->As("archivist", "GET", "/v1/records/" + id + "/evidence");
  ASSERT_EQ(bundle.status, 200) << Describe(bundle);
  const std::string zip = server->tmp().Sub("evidence.zip"), vkey_file = server->tmp().Sub("log.vkey");
  WriteFile(zip, bundle.body);
  WriteFile(vkey_file, key.body);
  EXPECT_NE(bundle.body.find("log/attested/"), std::string::npos);
  RunResult verified = RunProgram({BinDir() + "/custosctl", "verify-package", zip, "--vkey", vkey_file, "--witness",
                                   witness->vkey(), "--witness-policy", "1", "--tsa-ca", tsa.ca_path()});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  HttpResult metrics = server->NewClient()->Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("custos_attestation_requests_total{party=\"witness.test/见证\",result=\"cosigned\"}"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("custos_attestation_requests_total{party=\"tsa.test/时间\",result=\"timestamped\"}"),
            std::string::npos);
}

}  // namespace
}  // namespace custos::testing
