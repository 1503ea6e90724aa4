// Audit log figures of DESIGN §8, measured in-process on a real SQLite file
// (synchronous=FULL: every commit is fsynced before Write returns):
//   - durable appends/s with 1 and 16 appenders, one event per Write
//     (concurrent Writes share commits: group commit);
//   - appends/s batched, 10,000 events per Write — this also fills the log to
//     --entries (10 million for the figure of the targets);
//   - full re-verification (chain, tree, checkpoints) in leaves per CPU
//     second, beside the bound of merely hashing the same leaves and nodes
//     with SHA-256 on one core, measured in the same run, and the
//     process's peak RSS while verifying (VmHWM, reset before);
//   - inclusion-proof time at the final size (p50, p99);
//   - the state replay (storage/replay.h) in entries per CPU second: the
//     leaves of the filled log carry no row images (its events are appended
//     without rows), so the replay is measured on leaves shaped like a
//     check-in's, which carry the images of its record, version and file
//     rows: decoding and folding them (what re-verification does per
//     entry, beside hashing), beside the bound of hashing the same leaves,
//     and folding alone;
//   - the cost of row seal checks per request (storage/row_seal.h): a page
//     of 50 loan documents read with their seals checked and read as
//     stored (ReadUnchecked), median of many, on a sealed store of 10,000
//     loans; the difference per row beside the bound of the HMAC alone;
//   - custosd's start-up on the filled log: opening the store with its
//     row sealer and the start-up check (every seal of the small authority
//     tables, every table's set seal, the log's tail against its newest
//     checkpoint: storage/seal_check.h), median of 5, wall seconds.
//
//   log_bench --dir DIR [--entries N] [--keep] [--json OUT] [benchmark flags]
//
// --keep opens the log already in DIR instead of starting a new one (to
// profile one benchmark, e.g. --benchmark_filter=Verify, on a filled log).
//
// The figures are also written as one flat JSON object to OUT, which
// bench/run.py merges into the results file.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crypto/hmac.h"
#include "crypto/merkle.h"
#include "crypto/signature.h"
#include "crypto/signed_note.h"
#include "storage/keyring.h"
#include "storage/log_leaf.h"
#include "storage/replay.h"
#include "storage/row_image.h"
#include "storage/row_seal.h"
#include "storage/seal_check.h"
#include "storage/sqlite_store.h"
#include "storage/verifier.h"

using namespace custos;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kPerBatch = 10000;
// A fixed signing key, so that a kept log's checkpoints verify in a later run.
constexpr std::array<uint8_t, crypto::kEd25519SeedSize> kBenchKeySeed = {
    0x62, 0x65, 0x6e, 0x63, 0x68, 0x2f, 0x6c, 0x6f, 0x67, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x73, 0x65,
    0x65, 0x64, 0x2d, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x31};

struct Bench {
  std::string dir;
  uint64_t entries = 1000000;
  bool keep = false;
  std::unique_ptr<crypto::note::KeySigner> signer;
  std::unique_ptr<storage::NoteCheckpointSigner> checkpoints;
  std::unique_ptr<storage::SqliteStore> store;
  std::map<std::string, double> figures;
};

Bench* g = nullptr;

storage::LogEvent Event(uint64_t i) {
  storage::LogEvent e;
  e.action = "record.checkin";
  e.actor = "archivist" + std::to_string(i % 7);
  e.at = domain::TruncateToMillis(std::chrono::system_clock::now());
  e.subject = "CT-2026-" + std::to_string(100000 + i % 900000);
  e.details.Set("version", 1);
  e.details.Set("manifestHash", "ef30c41e3b107e09724c33a662606e921942d179df036bc31f8ad301df54cb97");
  e.details.Set("recordHash", "5b1d0c2f7a9e48d3b6c1f0e2a4d6b8c0e1f3a5c7d9eb0d2f4a6c8e0b2d4f6a8c");
  return e;
}

uint64_t LogSize() {
  uint64_t size = 0;
  (void)g->store->Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(size, tx.log().Size());
    return Status::Ok();
  });
  return size;
}

// One event per Write; with threads, concurrent Writes share a commit.
void BM_DurableAppend(benchmark::State& state) {
  uint64_t i = 0;
  for (auto _ : state) {
    Status s = g->store->Write([&](storage::Transaction& tx) {
      return tx.log().Append(Event(state.thread_index() * 1000000 + i++)).status();
    });
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_BatchedAppend(benchmark::State& state) {
  uint64_t done = LogSize();
  for (auto _ : state) {
    Status s = g->store->Write([&](storage::Transaction& tx) -> Status {
      for (uint64_t i = 0; i < kPerBatch; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event(done + i)).status());
      return Status::Ok();
    });
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    done += kPerBatch;
  }
  state.SetItemsProcessed(state.iterations() * kPerBatch);
}

// A field of /proc/self/status ("VmHWM", "VmRSS") in MiB; -1 if absent.
double ProcStatusMiB(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;  // kB
  }
  return -1;
}

void BM_Verify(benchmark::State& state) {
  storage::VerifyOptions o;
  o.origin = "bench/log";
  o.verifiers = {&g->signer->verifier()};
  uint64_t leaves = 0;
  // The verifier's peak: the high-water mark is reset first (Linux:
  // "5" to clear_refs), so the appends before do not count; what the
  // process held before verifying is reported beside it.
  const bool reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5" << std::flush);
  g->figures["verify_rss_before_MiB"] = ProcStatusMiB("VmRSS");
  for (auto _ : state) {
    auto report = storage::VerifyArchive(*g->store, o);
    if (!report.ok() || !report->clean()) {
      state.SkipWithError("verification failed");
      return;
    }
    leaves += report->log_entries;
  }
  state.SetItemsProcessed(leaves);
  g->figures["verify_peak_rss_MiB"] = ProcStatusMiB("VmHWM");
  if (!reset) g->figures["verify_peak_rss_includes_appends"] = 1;
}

// The bound for verification: SHA-256 over every leaf's bytes and every
// interior node, nothing else — what a verifier that did no reading,
// parsing or checking would still have to do. Measured on the first
// `sample` stored leaves, scaled per leaf.
void BM_HashBound(benchmark::State& state) {
  std::vector<std::string> leaves;
  (void)g->store->Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 100000, 100000));
    for (auto& e : entries) leaves.push_back(std::move(e.leaf));
    return Status::Ok();
  });
  if (leaves.empty()) {
    state.SkipWithError("empty log");
    return;
  }
  uint64_t n = 0;
  for (auto _ : state) {
    crypto::merkle::CompactRange range;
    for (const std::string& leaf : leaves) range.Append(crypto::merkle::HashLeaf(leaf));
    benchmark::DoNotOptimize(range.Root());
    n += leaves.size();
  }
  state.SetItemsProcessed(n);
}

// Leaves like a check-in's: its event with the images of the record, the
// version and the file it wrote.
std::vector<std::string> CheckinLeaves(size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  crypto::Digest32 prev{};
  const domain::Time now = domain::TruncateToMillis(std::chrono::system_clock::now());
  for (size_t i = 0; i < n; ++i) {
    domain::Record r;
    r.id = domain::RecordId{"CT-2026-" + std::to_string(100000 + i)};
    r.title = "采购合同 " + std::to_string(i);
    r.description = "年度框架协议";
    r.department = "法务部";
    r.custodian = "archivist1";
    r.metadata_json = "{\"counterparty\":\"上海某某有限公司\"}";
    r.salt = std::string(64, 'a');
    r.created_at = r.updated_at = now;
    r.created_by = "archivist1";
    domain::Version v;
    v.record_id = r.id;
    v.number = 1;
    v.created_at = now;
    v.created_by = "archivist1";
    v.manifest_hash = std::string(64, 'e');
    v.log_index = i;
    domain::StoredFile f;
    f.id = domain::FileId{std::string(32, 'f') + std::to_string(i)};
    f.record_id = r.id;
    f.version = 1;
    f.name = "合同.pdf";
    f.media_type = "application/pdf";
    f.size = 65536;
    f.sha256 = std::string(64, '5');
    f.sm3 = std::string(64, '3');
    f.blob_id = domain::BlobId{std::string(32, 'b')};
    f.wrapped_dek = std::vector<uint8_t>(60, 7);
    storage::LogEvent e = Event(i);
    e.subject = r.id.value;
    e.details.Set(storage::kDetailRows,
                  storage::ImagesDetail({storage::ImageOf(r, storage::ImageUse::kLog),
                                         storage::ImageOf(v, storage::ImageUse::kLog),
                                         storage::ImageOf(f, storage::ImageUse::kLog)}));
    out.push_back(storage::EncodeLeaf(e, i + 1, prev).value());
  }
  return out;
}

constexpr size_t kReplaySample = 20000;

// Decoding and folding image-bearing leaves, per CPU second.
void BM_ReplayDecodeFold(benchmark::State& state) {
  const std::vector<std::string> leaves = CheckinLeaves(kReplaySample);
  double bytes = 0;
  for (const std::string& leaf : leaves) bytes += double(leaf.size());
  g->figures["replay_leaf_bytes"] = bytes / double(leaves.size());
  uint64_t n = 0;
  for (auto _ : state) {
    storage::StateReplay replay;
    for (size_t i = 0; i < leaves.size(); ++i) {
      auto leaf = storage::DecodeLeaf(leaves[i]);
      if (!leaf.ok()) {
        state.SkipWithError(leaf.status().ToString().c_str());
        return;
      }
      replay.Fold(i + 1, leaf->event);
    }
    n += leaves.size();
  }
  state.SetItemsProcessed(n);
  // The bound, as for verification: SHA-256 of the same leaves and one
  // interior node each, nothing else, in CPU seconds of this thread.
  constexpr int kHashRounds = 5;
  const std::clock_t start = std::clock();
  for (int r = 0; r < kHashRounds; ++r) {
    crypto::merkle::CompactRange range;
    for (const std::string& leaf : leaves) range.Append(crypto::merkle::HashLeaf(leaf));
    benchmark::DoNotOptimize(range.Root());
  }
  const double cpu_s = double(std::clock() - start) / CLOCKS_PER_SEC;
  g->figures["replay_hash_bound_entries_per_s"] = double(kHashRounds) * double(leaves.size()) / cpu_s;
}

// Folding alone (the leaves decoded beforehand), per CPU second.
void BM_ReplayFold(benchmark::State& state) {
  std::vector<storage::LogEvent> events;
  for (const std::string& leaf : CheckinLeaves(kReplaySample)) events.push_back(storage::DecodeLeaf(leaf)->event);
  uint64_t n = 0;
  for (auto _ : state) {
    storage::StateReplay replay;
    for (size_t i = 0; i < events.size(); ++i) replay.Fold(i + 1, events[i]);
    n += events.size();
  }
  state.SetItemsProcessed(n);
}

void BM_InclusionProof(benchmark::State& state) {
  uint64_t size = LogSize();
  std::mt19937_64 rng(42);
  std::vector<double> us;
  for (auto _ : state) {
    uint64_t index = rng() % size;
    auto t0 = Clock::now();
    Status s = g->store->Read([&](storage::Transaction& tx) -> Status {
      return tx.log().InclusionProof(index, size).status();
    });
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  std::sort(us.begin(), us.end());
  g->figures["proof_us_p50"] = us[us.size() / 2];
  g->figures["proof_us_p99"] = us[us.size() * 99 / 100];
  g->figures["proof_log_size"] = double(size);
}

// A sealed store of kSealRows loans; pages of kSealPage read with seals
// checked and unchecked (alternating, so both see the same cache).
constexpr int kSealRows = 10000;
constexpr int kSealPage = 50;

void BM_SealCheck(benchmark::State& state) {
  storage::RowSealer sealer(crypto::Bytes(storage::RowSealer::kKeySize, 0x42));
  storage::SqliteOptions o;
  o.path = g->dir + "/seal_bench.db";
  o.sealer = &sealer;
  o.durable = false;
  auto opened = storage::SqliteStore::Open(o, g->checkpoints.get());
  if (!opened.ok()) return state.SkipWithError(opened.status().ToString().c_str());
  std::unique_ptr<storage::SqliteStore> store = std::move(opened).value();
  const domain::Time now = domain::TruncateToMillis(std::chrono::system_clock::now());
  Status s = store->Write([&](storage::Transaction& tx) -> Status {
    for (int i = 0; i < kSealRows; ++i) {
      storage::Document d;
      d.kind = "loan";
      d.id = "LN-2026-" + std::to_string(100000 + i);
      d.subject = "CT-2026-" + std::to_string(100000 + i % 900);
      d.owner = "staff" + std::to_string(i % 50);
      d.state = "returned";
      d.created_at = d.updated_at = now;
      d.body = "{\"approver\":\"carol\",\"kind\":\"original\",\"purpose\":\"审计抽查 audit sampling\"}";
      CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(d));
    }
    return Status::Ok();
  });
  if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
  std::mt19937_64 rng(7);
  std::vector<double> sealed_us, unchecked_us;
  std::vector<storage::RowImage> images;
  for (auto _ : state) {
    storage::DocumentQuery q;
    q.kind = "loan";
    q.after_id = "LN-2026-" + std::to_string(100000 + rng() % (kSealRows - kSealPage));
    q.limit = kSealPage;
    auto page = [&](bool checked) {
      auto t0 = Clock::now();
      auto read = [&](storage::Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::Document> docs, tx.documents().List(q));
        if (images.empty()) {
          for (const auto& d : docs) images.push_back(storage::ImageOf(d, storage::ImageUse::kSeal));
        }
        return Status::Ok();
      };
      Status r = checked ? store->Read(read) : store->ReadUnchecked(read);
      if (!r.ok()) state.SkipWithError(r.ToString().c_str());
      return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    };
    sealed_us.push_back(page(true));
    unchecked_us.push_back(page(false));
  }
  // The bound: the HMAC alone over the same rows' sealed bytes.
  std::vector<std::string> inputs;
  for (const auto& image : images) inputs.push_back(storage::SealInput(image));
  crypto::HmacSha256 mac(crypto::Bytes(storage::RowSealer::kKeySize, 0x42));
  const int rounds = 2000;
  auto t0 = Clock::now();
  uint8_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& in : inputs) sink ^= mac.Mac(in)[0];
  }
  const double hmac_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                         (double(rounds) * std::max<size_t>(inputs.size(), 1));
  benchmark::DoNotOptimize(sink);
  std::sort(sealed_us.begin(), sealed_us.end());
  std::sort(unchecked_us.begin(), unchecked_us.end());
  const double sealed = sealed_us[sealed_us.size() / 2];
  const double unchecked = unchecked_us[unchecked_us.size() / 2];
  g->figures["seal_page_us"] = sealed;
  g->figures["seal_page_unchecked_us"] = unchecked;
  g->figures["seal_check_ns_per_row"] = (sealed - unchecked) * 1000.0 / kSealPage;
  g->figures["seal_check_share_of_page"] = (sealed - unchecked) / sealed;
  g->figures["seal_hmac_bound_ns_per_row"] = hmac_ns;
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(o.path + suffix);
}

// Start-up on the filled log: what custosd does before it serves
// (storage/archive.cc, ArchiveStorage::StartupCheck), on the bench's own
// database. The first open under the sealer seals the existing rows once
// (an archive's upgrade), outside the timing.
void BM_StartupCheck(benchmark::State& state) {
  storage::RowSealer sealer(crypto::Bytes(storage::RowSealer::kKeySize, 0x24));
  storage::SqliteOptions o;
  o.path = g->dir + "/log_bench.db";
  o.sealer = &sealer;
  o.seal_existing_rows = true;
  {
    auto upgraded = storage::SqliteStore::Open(o, g->checkpoints.get());
    if (!upgraded.ok()) return state.SkipWithError(upgraded.status().ToString().c_str());
  }
  o.seal_existing_rows = false;
  const std::vector<const crypto::note::Verifier*> verifiers = {&g->signer->verifier()};
  std::vector<double> seconds;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto opened = storage::SqliteStore::Open(o, g->checkpoints.get());
    if (!opened.ok()) return state.SkipWithError(opened.status().ToString().c_str());
    storage::MetadataStore& store = **opened;
    auto seals = storage::CheckRowSeals(store, storage::StartupSealTables());
    auto sets = storage::CheckRowSetFindings(store);
    auto tail = storage::CheckLogTail(store, "bench/log", verifiers);
    if (!seals.ok() || !sets.ok() || !tail.ok() || !seals->empty() || !sets->empty() || !tail->empty()) {
      return state.SkipWithError("the start-up check failed on the bench's log");
    }
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  g->figures["startup_check_s"] = seconds[seconds.size() / 2];
  g->figures["startup_log_entries"] = double(LogSize());
}

// Keeps each benchmark's rate in g->figures as well as printing it.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      std::string name = r.benchmark_name();
      double rate = it->second.value;
      if (name.rfind("DurableAppend", 0) == 0) {
        g->figures[r.threads == 1 ? "appends_per_s_1" : "appends_per_s_16"] = rate;
      } else if (name.rfind("BatchedAppend", 0) == 0) {
        g->figures["appends_per_s_batched"] = rate;
      } else if (name.rfind("Verify", 0) == 0) {
        // Not real time: items per CPU second of the verifying thread.
        g->figures["verify_leaves_per_cpu_s"] = rate;
      } else if (name.rfind("HashBound", 0) == 0) {
        g->figures["verify_hash_bound_leaves_per_s"] = rate;
      } else if (name.rfind("ReplayDecodeFold", 0) == 0) {
        g->figures["replay_entries_per_cpu_s"] = rate;
      } else if (name.rfind("ReplayFold", 0) == 0) {
        g->figures["replay_fold_entries_per_cpu_s"] = rate;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  Bench bench;
  g = &bench;
  std::string json;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      bench.dir = argv[++i];
    } else if (a == "--entries" && i + 1 < argc) {
      bench.entries = std::stoull(argv[++i]);
    } else if (a == "--keep") {
      bench.keep = true;
    } else if (a == "--json" && i + 1 < argc) {
      json = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (bench.dir.empty() || bench.entries < kPerBatch) {
    std::fprintf(stderr, "usage: log_bench --dir DIR [--entries N ≥ %llu] [--json OUT]\n",
                 static_cast<unsigned long long>(kPerBatch));
    return 2;
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());

  std::filesystem::create_directories(bench.dir);
  std::string db = bench.dir + "/log_bench.db";
  if (!bench.keep) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  }
  bench.signer = std::make_unique<crypto::note::KeySigner>(
      crypto::note::KeySigner::Create("bench/log", crypto::KeyPair::FromRawPrivateKey(
                                                       crypto::SignatureAlgorithm::kEd25519,
                                                       kBenchKeySeed.data(), kBenchKeySeed.size())
                                                       .value())
          .value());
  bench.checkpoints = std::make_unique<storage::NoteCheckpointSigner>(
      "bench/log", std::vector<const crypto::note::Signer*>{bench.signer.get()});
  auto opened = storage::SqliteStore::Open({db}, bench.checkpoints.get());
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  bench.store = std::move(opened).value();

  const uint64_t batches = bench.entries / kPerBatch;
  benchmark::RegisterBenchmark("DurableAppend", BM_DurableAppend)->Iterations(300)->UseRealTime();
  benchmark::RegisterBenchmark("DurableAppend", BM_DurableAppend)
      ->Threads(16)->Iterations(150)->UseRealTime();
  benchmark::RegisterBenchmark("BatchedAppend", BM_BatchedAppend)
      ->Iterations(static_cast<benchmark::IterationCount>(batches))->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Verify", BM_Verify)->Iterations(1)->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("StartupCheck", BM_StartupCheck)->Iterations(5)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("HashBound", BM_HashBound)->Iterations(5)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ReplayDecodeFold", BM_ReplayDecodeFold)->Iterations(3)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("ReplayFold", BM_ReplayFold)->Iterations(3)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("InclusionProof", BM_InclusionProof)
      ->Iterations(5000)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("SealCheck", BM_SealCheck)->Iterations(2000)->Unit(benchmark::kMicrosecond);
  Collector reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  bench.figures["log_entries"] = double(LogSize());
  if (!json.empty()) {
    std::ofstream out(json);
    out << "{";
    bool first = true;
    for (const auto& [k, v] : bench.figures) {
      out << (first ? "" : ", ") << "\"" << k << "\": " << v;
      first = false;
    }
    out << "}\n";
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", json.c_str());
      return 1;
    }
  }
  return 0;
}
