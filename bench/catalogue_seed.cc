// Fills an initialised data directory with N catalogue records for the
// search figure of DESIGN §8 (p99 at one million records).
//
//   catalogue_seed --data DIR --records N
//
// Each record is a catalogue row written the way a check-in writes it
// (archive number from the gap-free counter, canonical metadata) with its
// "record.checkin" log event carrying the record hash, 1,000 records per
// transaction. No content is stored: the figure is about the catalogue, and
// a million 1-file check-ins through the blob store would take the run
// hours of fsyncs. Titles and descriptions draw words from a fixed
// vocabulary with a fixed seed, so every run builds the same catalogue.
//
// custosd must not be running on DIR. Prints one JSON line:
//   {"records": N, "seconds": S, "queries": ["term", …]}
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "admin/open_archive.h"
#include "domain/canonical_json.h"
#include "storage/data_dir.h"
#include "server/services/content_pipeline.h"
#include "storage/integrity.h"
#include "storage/row_image.h"

using namespace custos;

namespace {

const std::vector<std::string> kWords = {
    "supply",    "agreement", "service",   "warranty",  "maintenance", "licence",   "lease",
    "framework", "amendment", "qualification", "certificate", "dossier", "customer", "product",
    "pump",      "valve",     "turbine",   "sensor",    "controller", "bearing",   "gearbox",
    "audit",     "inspection", "calibration", "validation", "shipment", "invoice",  "tender",
    "northwind", "contoso",   "fabrikam",  "initech",   "globex",    "umbrella",  "stark",
    "hamburg",   "rotterdam", "lyon",      "milano",    "krakow",    "vienna",    "zurich",
    "annual",    "quarterly", "renewal",   "termination", "confidentiality", "pricing", "delivery",
    "electrical", "hydraulic", "pneumatic", "software",  "firmware",  "spare",     "parts",
    "training",  "support",   "escrow",    "guarantee", "insurance", "compliance", "safety"};

const char* kTypes[] = {"contract", "product_dossier", "customer_file", "qualification",
                        "general"};
const domain::Classification kClasses[] = {
    domain::Classification::kPublic, domain::Classification::kInternal,
    domain::Classification::kInternal, domain::Classification::kConfidential};
const char* kDepartments[] = {"sales", "engineering", "quality", "legal"};

std::string Words(std::mt19937_64& rng, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out += ' ';
    out += kWords[rng() % kWords.size()];
  }
  return out;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "catalogue_seed: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data;
  uint64_t n = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--data") data = argv[i + 1];
    if (a == "--records") n = std::stoull(argv[i + 1]);
  }
  if (data.empty() || n == 0) {
    std::fprintf(stderr, "usage: catalogue_seed --data DIR --records N\n");
    return 2;
  }
  storage::DataDir dir(data);
  auto lock = storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive);
  if (!lock.ok()) return Fail(lock.status());
  auto archive = admin::OpenArchive(data);
  if (!archive.ok()) return Fail(archive.status());
  storage::MetadataStore& store = (*archive)->store();
  // The catalogue fields are searched through the index, as custosd writes
  // it at check-in: without postings every search would find nothing.
  auto index_key = storage::IndexKey::LoadOrCreate(dir);
  if (!index_key.ok()) return Fail(index_key.status());

  auto start = std::chrono::steady_clock::now();
  domain::Time now = domain::TruncateToMillis(std::chrono::system_clock::now());
  int year = std::stoi(domain::FormatTime(now).substr(0, 4));
  Status s = store.Write([&](storage::Transaction& tx) -> Status {
    for (const char* d : kDepartments) {
      CUSTOS_ASSIGN_OR_RETURN(bool exists, tx.departments().Exists(d));
      if (!exists) CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, now}));
    }
    return Status::Ok();
  });
  if (!s.ok()) return Fail(s);

  std::mt19937_64 rng(20261126);
  const uint64_t kPerTransaction = 1000;
  for (uint64_t done = 0; done < n;) {
    uint64_t batch = std::min(kPerTransaction, n - done);
    s = store.Write([&](storage::Transaction& tx) -> Status {
      for (uint64_t i = 0; i < batch; ++i) {
        domain::Record r;
        r.type = domain::ParseRecordType(kTypes[rng() % 5]).value();
        r.title = Words(rng, 4);
        r.description = Words(rng, 12);
        r.department = kDepartments[rng() % 4];
        r.classification = kClasses[rng() % 4];
        r.custodian = "archivist";
        r.location = "shelf " + std::to_string(rng() % 500);
        r.created_by = "archivist";
        r.created_at = r.updated_at = now;
        CUSTOS_ASSIGN_OR_RETURN(uint64_t seq, tx.records().NextSequence(r.type, year));
        r.id = domain::MakeArchiveNumber(r.type, year, seq);
        // Salted as a check-in salts it: custosd would otherwise salt every
        // seeded record at start-up, all in one transaction (a migration).
        CUSTOS_ASSIGN_OR_RETURN(r.salt, storage::NewRecordSalt());
        CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
        CUSTOS_RETURN_IF_ERROR(services::IndexCatalogue(tx, **index_key, r, {}));
        storage::LogEvent e;
        e.action = "record.checkin";
        e.actor = "archivist";
        e.subject = r.id.value;
        e.at = now;
        CUSTOS_ASSIGN_OR_RETURN(std::string digest, storage::RecordDigest(r));
        e.details.Set(storage::kDetailRecordHash, digest);
        CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
      }
      return Status::Ok();
    });
    if (!s.ok()) return Fail(s);
    done += batch;
    if (done % 100000 == 0) std::fprintf(stderr, "catalogue_seed: %llu records\n",
                                         static_cast<unsigned long long>(done));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Queries: single words (many hits), two-word phrases and pieces of words
  // (substring search), and a word that matches nothing.
  std::string queries;
  std::mt19937_64 q(7);
  auto add = [&](const std::string& t) { queries += (queries.empty() ? "\"" : ", \"") + t + "\""; };
  for (int i = 0; i < 10; ++i) add(kWords[q() % kWords.size()]);
  for (int i = 0; i < 10; ++i) add(kWords[q() % kWords.size()] + " " + kWords[q() % kWords.size()]);
  for (int i = 0; i < 10; ++i) add(kWords[q() % kWords.size()].substr(1, 4));
  add("zyxwvut");
  std::printf("{\"records\": %llu, \"seconds\": %.3f, \"queries\": [%s]}\n",
              static_cast<unsigned long long>(n), seconds, queries.c_str());
  return 0;
}
