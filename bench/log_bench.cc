// Audit log figures for the storage layer, measured in-process on a real
// SQLite file (synchronous=FULL, so every commit is fsynced):
//   appends/s with 1 and 16 concurrent appenders (one event per Write, each
//   durable before Write returns; concurrent ones share commits),
//   appends/s batched (many events per Write),
//   verification leaves/s (chain + tree + checkpoints, one thread),
//   inclusion-proof time at the final size.
//
//   log_bench DIR [ENTRIES]   (ENTRIES for the batched fill, default 1000000)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "crypto/signature.h"
#include "crypto/signed_note.h"
#include "storage/keyring.h"
#include "storage/sqlite_store.h"
#include "storage/verifier.h"

using namespace custos;
using Clock = std::chrono::steady_clock;

namespace {

storage::LogEvent Event(int i) {
  storage::LogEvent e;
  e.action = "bench.append";
  e.actor = "bench";
  e.at = storage::TruncateToMillis(std::chrono::system_clock::now());
  e.subject = "CT-2026-" + std::to_string(100000 + i % 900000);
  e.details = new Poco::JSON::Object;
  e.details->set("n", i);
  e.details->set("sha256", "ef30c41e3b107e09724c33a662606e921942d179df036bc31f8ad301df54cb97");
  return e;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double ConcurrentAppends(storage::MetadataStore& store, int threads, int per_thread) {
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        Status s = store.Write([&](storage::Transaction& tx) {
          return tx.log().Append(Event(t * per_thread + i)).status();
        });
        if (!s.ok()) std::fprintf(stderr, "append failed: %s\n", s.ToString().c_str());
      }
    });
  }
  for (auto& th : pool) th.join();
  return threads * per_thread / Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: log_bench DIR [ENTRIES]\n");
    return 2;
  }
  std::string dir = argv[1];
  uint64_t entries = argc > 2 ? std::stoull(argv[2]) : 1000000;
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir + "/bench.db");
  auto signer = crypto::note::KeySigner::Create(
                    "bench/log", crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519).value())
                    .value();
  storage::NoteCheckpointSigner checkpoints("bench/log", {&signer});
  auto store = storage::SqliteStore::Open({dir + "/bench.db"}, &checkpoints).value();

  double one = ConcurrentAppends(*store, 1, 300);
  double sixteen = ConcurrentAppends(*store, 16, 200);
  std::printf("durable appends/s, 1 appender:   %.0f\n", one);
  std::printf("durable appends/s, 16 appenders: %.0f\n", sixteen);

  const uint64_t kPerBatch = 10000;
  auto start = Clock::now();
  uint64_t done = 0;
  while (done < entries) {
    uint64_t n = std::min(kPerBatch, entries - done);
    Status s = store->Write([&](storage::Transaction& tx) -> Status {
      for (uint64_t i = 0; i < n; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event(int(done + i))).status());
      return Status::Ok();
    });
    if (!s.ok()) {
      std::fprintf(stderr, "batch failed: %s\n", s.ToString().c_str());
      return 1;
    }
    done += n;
  }
  std::printf("durable appends/s, batched %llu per commit: %.0f\n",
              static_cast<unsigned long long>(kPerBatch), entries / Seconds(start));

  uint64_t size = 0;
  (void)store->Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(size, tx.log().Size());
    return Status::Ok();
  });
  storage::VerifyOptions o;
  o.origin = "bench/log";
  o.verifiers = {&signer.verifier()};
  auto cpu0 = std::clock();
  start = Clock::now();
  auto report = storage::VerifyArchive(*store, o);
  double wall = Seconds(start);
  double cpu = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
  if (!report.ok() || !report->clean()) {
    std::fprintf(stderr, "verification failed\n");
    return 1;
  }
  std::printf("verification of %llu leaves: %.0f leaves/s wall, %.0f leaves/s per CPU second\n",
              static_cast<unsigned long long>(size), size / wall, size / cpu);

  const int kProofs = 2000;
  start = Clock::now();
  (void)store->Read([&](storage::Transaction& tx) -> Status {
    for (int i = 0; i < kProofs; ++i) {
      uint64_t index = (uint64_t(i) * 2654435761u) % size;
      CUSTOS_RETURN_IF_ERROR(tx.log().InclusionProof(index, size).status());
    }
    return Status::Ok();
  });
  std::printf("inclusion proof at size %llu: %.1f us each\n", static_cast<unsigned long long>(size),
              Seconds(start) / kProofs * 1e6);
  return 0;
}
