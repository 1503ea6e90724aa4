// What attesting a checkpoint adds (issue #27; docs/benchmarks.md
// "Witnesses and timestamps"), measured in-process on a real, durable SQLite
// file:
//   - the checkpoint itself: one write of one event, committed and
//     signed (the baseline every attestation is compared with);
//   - a cosignature: one attester round (server/services/
//     checkpoint_attester.h) that submits the newest checkpoint with its
//     consistency proof to a local witness (the tests' C2SP witness,
//     tests/testutil/test_witness.h, over HTTP on 127.0.0.1) and stores
//     the returned line;
//   - a timestamp: one round that asks a local RFC 3161 authority (the
//     tests' `openssl ts -reply` authority, tests/testutil/test_tsa.h) for
//     a token, checks it against the authority's root and stores it.
// For each: wall milliseconds per checkpoint (median and p90 over N) and
// the attester thread's own CPU milliseconds per round (CLOCK_THREAD_CPUTIME_
// ID), which is what custosd spends; the wall time of a timestamp is mostly
// the local authority starting `openssl`, which a real authority does not.
//
//   attest_bench --dir DIR [--rounds N] [--json OUT]
//
// The bench's own files in DIR are removed before and after. Prints one JSON
// object to OUT (or stdout).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/log.h"
#include "common/metrics.h"
#include "crypto/cosignature.h"
#include "crypto/signature.h"
#include "crypto/signed_note.h"
#include "server/services/checkpoint_attester.h"
#include "server/services/clock.h"
#include "storage/keyring.h"
#include "storage/log_leaf.h"
#include "storage/sqlite_store.h"
#include "tests/testutil/test_tsa.h"
#include "tests/testutil/test_witness.h"

namespace {

using namespace custos;

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Series {
  std::vector<double> wall, cpu;
  std::string Json() const {
    auto q = [](std::vector<double> v, double p) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
    };
    char buf[256];
    std::snprintf(buf, sizeof buf, "{\"wall_ms_p50\": %.3f, \"wall_ms_p90\": %.3f, \"cpu_ms_p50\": %.3f, \"n\": %zu}",
                  q(wall, 0.5), q(wall, 0.9), q(cpu, 0.5), wall.size());
    return buf;
  }
};

int Fail(const std::string& what) {
  std::cerr << "attest_bench: " << what << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, json_out;
  int rounds = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--rounds") rounds = std::max(5, std::atoi(argv[i + 1]));
    else if (a == "--json") json_out = argv[i + 1];
    else return Fail("unknown argument " + a);
  }
  if (dir.empty()) return Fail("usage: attest_bench --dir DIR [--rounds N] [--json OUT]");
  // The test utilities report through GoogleTest; nothing here is a test.
  ::testing::InitGoogleTest(&argc, argv);
  const std::string db = dir + "/attest_bench.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);

  const std::string origin = "bench.example/custos";
  auto signer = crypto::note::KeySigner::Create(origin, crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519).value());
  if (!signer.ok()) return Fail(signer.status().ToString());
  storage::NoteCheckpointSigner checkpoints(origin, {&*signer});
  storage::SqliteOptions options;
  options.path = db;
  options.durable = true;
  auto store = storage::SqliteStore::Open(options, &checkpoints);
  if (!store.ok()) return Fail(store.status().ToString());

  auto witness = custos::testing::TestWitness::Start({"witness.bench/w1", {signer->VerifierKey()}, ""});
  if (witness == nullptr) return Fail("the local witness did not start");
  custos::testing::TestTsa tsa;
  if (!tsa.Start() || !tsa.Serve()) return Fail("the local time-stamping authority did not start");
  auto key = crypto::cosig::ParseWitnessKey(witness->vkey());
  if (!key.ok()) return Fail(key.status().ToString());

  services::SystemClock clock;
  Logger logger(2, LogLevel::kError);
  MetricsRegistry metrics;
  services::AttesterOptions wo;
  wo.witnesses = {services::WitnessEndpoint{*key, witness->url(), ""}};
  wo.start_thread = false;
  services::CheckpointAttester cosigner(**store, clock, logger, metrics, wo);
  services::AttesterOptions to;
  to.tsas = {services::TsaEndpoint{"tsa.bench/t1", tsa.url(), ""}};
  to.tsa_ca_pem = tsa.ca_pem();
  to.timestamp_interval = std::chrono::seconds(0);
  to.start_thread = false;
  MetricsRegistry metrics2;
  services::CheckpointAttester stamper(**store, clock, logger, metrics2, to);

  Series checkpoint, cosign, stamp;
  int seq = 0;
  for (int r = 0; r < rounds; ++r) {
    double w0 = NowMs(), c0 = ThreadCpuMs();
    Status s = (*store)->Write([&](storage::Transaction& tx) -> Status {
      storage::LogEvent e;
      e.action = "bench.event";
      e.actor = "bench";
      e.at = clock.Now();
      e.subject = "CT-2026-" + std::to_string(++seq);
      return tx.log().Append(e).status();
    });
    if (!s.ok()) return Fail(s.ToString());
    checkpoint.wall.push_back(NowMs() - w0);
    checkpoint.cpu.push_back(ThreadCpuMs() - c0);

    w0 = NowMs(), c0 = ThreadCpuMs();
    cosigner.RunOnce();
    cosign.wall.push_back(NowMs() - w0);
    cosign.cpu.push_back(ThreadCpuMs() - c0);

    w0 = NowMs(), c0 = ThreadCpuMs();
    stamper.RunOnce();
    stamp.wall.push_back(NowMs() - w0);
    stamp.cpu.push_back(ThreadCpuMs() - c0);
  }
  // Every round must have attested: a bench of failures measures nothing.
  size_t lines = 0;
  Status s = (*store)->Read([&](storage::Transaction& tx) -> Status {
    for (uint64_t size = 1; size <= static_cast<uint64_t>(rounds); ++size) {
      CUSTOS_ASSIGN_OR_RETURN(auto l, tx.log().CheckpointSignatures(size));
      lines += l.size();
    }
    return Status::Ok();
  });
  if (!s.ok()) return Fail(s.ToString());
  if (lines != static_cast<size_t>(2 * rounds)) {
    return Fail("expected " + std::to_string(2 * rounds) + " lines, stored " + std::to_string(lines));
  }
  const std::string out = "{\"rounds\": " + std::to_string(rounds) + ", \"checkpoint\": " + checkpoint.Json() +
                          ", \"cosign\": " + cosign.Json() + ", \"timestamp\": " + stamp.Json() + "}\n";
  if (json_out.empty()) {
    std::cout << out;
  } else {
    std::ofstream(json_out) << out;
  }
  store->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  return 0;
}
