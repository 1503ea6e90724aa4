// Two custosd nodes with one data directory over one PostgreSQL database
// serve one archive: 16 clients (8 per node) check in, add versions to each
// other's records, read back through either node and walk loans through
// separation of duties, and afterwards every acknowledged write is there,
// byte for byte, through both nodes; archive numbers are unique and
// gap-free; both nodes publish checkpoints of one log, signed by the
// archive's key and consistent with each other; custosctl verify is clean.
// The same with one node SIGKILLed under load, and init refusing a database
// that already holds an archive.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "tests/server/multinode_fixture.h"

namespace custos::testing::multinode {
namespace {

namespace merkle = crypto::merkle;

using Clock = std::chrono::steady_clock;

int64_t MillisSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Problems found by the checks after the load, from several threads; each
// becomes one test failure (the first kMaxReported of them).
class Findings {
 public:
  static constexpr size_t kMaxReported = 40;
  void Add(const std::string& problem) {
    std::lock_guard<std::mutex> lock(mu_);
    problems_.push_back(problem);
  }
  void Report(const std::string& context) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < problems_.size() && i < kMaxReported; ++i) {
      ADD_FAILURE() << context << ": " << problems_[i];
    }
    if (problems_.size() > kMaxReported) {
      ADD_FAILURE() << context << ": " << problems_.size() - kMaxReported << " more problems";
    }
    problems_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::string> problems_;  // GUARDED_BY(mu_)
};

HttpResult As(HttpsClient& c, const Cluster& cluster, const std::string& user,
              const std::string& path) {
  return c.Request("GET", path, "", "", {{"Authorization", "Bearer " + cluster.token(user)}});
}

// ------------------------------------------------------------- records

struct RecordFigures {
  size_t records = 0;
  size_t versions = 0;
  size_t downloads = 0;
};

// Compares one record as `node` serves it with the ledger: versions 1..k
// chained by manifest hash, every acknowledged version with its log index,
// manifest and files, every acknowledged file's bytes.
void CheckRecordOn(const Cluster& cluster, HttpsClient& client, int node, const RecordModel& m,
                   Findings& findings, RecordFigures& figures) {
  const std::string where = m.id + " on node " + kNodeName[node];
  HttpResult r = As(client, cluster, "archivist1", "/v1/records/" + m.id);
  if (r.status != 200) return findings.Add(where + ": " + Describe(r));
  Poco::JSON::Object::Ptr o = JsonObject(r.body);
  Poco::JSON::Array::Ptr versions = o ? o->getArray("versions") : nullptr;
  if (!versions) return findings.Add(where + ": no versions in " + Describe(r));
  if (Str(o, "type") != m.type || Str(o, "classification") != m.classification) {
    findings.Add(where + ": type/classification " + Str(o, "type") + "/" +
                 Str(o, "classification") + ", acknowledged " + m.type + "/" + m.classification);
  }
  std::string prev_manifest;
  for (size_t i = 0; i < versions->size(); ++i) {
    Poco::JSON::Object::Ptr v = versions->getObject(static_cast<unsigned>(i));
    if (Int(v, "number") != static_cast<int64_t>(i + 1)) {
      findings.Add(where + ": version at position " + std::to_string(i) + " is number " +
                   std::to_string(Int(v, "number")));
    }
    if (Str(v, "prevManifestHash") != prev_manifest) {
      findings.Add(where + ": version " + std::to_string(i + 1) + " does not chain to the one before");
    }
    prev_manifest = Str(v, "manifestHash");
  }
  for (const VersionModel& vm : m.versions) {
    const int number = vm.number;
    if (number < 1 || static_cast<size_t>(number) > versions->size()) {
      findings.Add(where + ": acknowledged version " + std::to_string(number) + " is missing");
      continue;
    }
    ++figures.versions;
    const std::string version = where + ": version " + std::to_string(number);
    for (const std::string& p : workload::CompareServedVersion(
             version, versions->getObject(static_cast<unsigned>(number - 1)), vm)) {
      findings.Add(p);
    }
    for (const FileModel& fm : vm.files) {
      const std::string path = "/v1/records/" + m.id + "/versions/" + std::to_string(number) +
                               "/files/" + fm.id;
      const std::string problem = workload::CompareDownload(
          version + " file " + fm.name + " (GET " + path + ")",
          As(client, cluster, "archivist2", path), fm);
      if (!problem.empty()) findings.Add(problem);
      ++figures.downloads;
    }
  }
  ++figures.records;
}

// Every acknowledged record through each of `nodes`, on 8 threads.
RecordFigures CheckRecords(const Cluster& cluster, const Ledger& ledger,
                           const std::vector<int>& nodes) {
  const std::map<std::string, RecordModel> records = ledger.records();
  std::vector<const RecordModel*> all;
  for (const auto& [id, m] : records) all.push_back(&m);
  constexpr size_t kThreads = 8;
  Findings findings;
  std::vector<RecordFigures> figures(kThreads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int node : nodes) {
        std::unique_ptr<HttpsClient> client = cluster.NewClient(node);
        for (size_t i = t; i < all.size(); i += kThreads) {
          CheckRecordOn(cluster, *client, node, *all[i], findings, figures[t]);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  findings.Report("records");
  RecordFigures sum;
  for (const auto& f : figures) {
    sum.records += f.records;
    sum.versions += f.versions;
    sum.downloads += f.downloads;
  }
  return sum;
}

// ------------------------------------------------------- archive numbers

// "GN-2026-000004" → {"GN-2026", 4}; nullopt if it is not an archive number.
std::optional<std::pair<std::string, uint64_t>> SplitNumber(const std::string& id) {
  static const std::regex kNumber("^([A-Z]{2}-[0-9]{4})-([0-9]+)$");
  std::smatch m;
  if (!std::regex_match(id, m, kNumber)) return std::nullopt;
  return std::make_pair(m[1].str(), std::stoull(m[2].str()));
}

// Checks that `ids` (as listed by the server) hold no duplicate and, per
// prefix and year, exactly the numbers 1..N. Returns the count per series.
std::map<std::string, uint64_t> CheckSeries(const std::vector<std::string>& ids,
                                            const std::string& what, Findings& findings) {
  std::map<std::string, std::set<uint64_t>> series;
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) findings.Add(what + ": " + id + " listed twice");
    auto n = SplitNumber(id);
    if (!n) {
      findings.Add(what + ": '" + id + "' is not an archive number");
      continue;
    }
    series[n->first].insert(n->second);
  }
  std::map<std::string, uint64_t> counts;
  for (const auto& [prefix, numbers] : series) {
    counts[prefix] = numbers.size();
    if (*numbers.begin() != 1 || *numbers.rbegin() != numbers.size()) {
      findings.Add(what + ": " + prefix + " numbers run from " + std::to_string(*numbers.begin()) +
                   " to " + std::to_string(*numbers.rbegin()) + " with " +
                   std::to_string(numbers.size()) + " handed out: a gap");
    }
  }
  return counts;
}

// The archive numbers of every record as `node` lists them (archivists see
// all records), by catalogue search per type, page by page.
std::vector<std::string> ListRecordIds(const Cluster& cluster, int node, Findings& findings) {
  std::unique_ptr<HttpsClient> client = cluster.NewClient(node);
  std::vector<std::string> ids;
  for (const char* type : {"general", "contract"}) {
    int64_t total = -1;
    for (int page = 1; total < 0 || static_cast<int64_t>(ids.size()) < total; ++page) {
      HttpResult r = As(*client, cluster, "archivist1",
                        std::string("/v1/records?type=") + type +
                            "&pageSize=500&page=" + std::to_string(page));
      Poco::JSON::Object::Ptr o = JsonObject(r.body);
      Poco::JSON::Array::Ptr records = o ? o->getArray("records") : nullptr;
      if (r.status != 200 || !records) {
        findings.Add(std::string("search on node ") + kNodeName[node] + ": " + Describe(r));
        return ids;
      }
      if (total < 0) {
        if (!o->getValue<bool>("totalExact")) findings.Add("search total is not exact");
        total = static_cast<int64_t>(ids.size()) + Int(o, "total");
      }
      if (records->size() == 0) break;
      for (size_t i = 0; i < records->size(); ++i) {
        ids.push_back(Str(records->getObject(static_cast<unsigned>(i)), "id"));
      }
    }
    if (static_cast<int64_t>(ids.size()) != total) {
      findings.Add(std::string("search on node ") + kNodeName[node] + " listed " +
                   std::to_string(ids.size()) + " records, total " + std::to_string(total));
    }
  }
  return ids;
}

// Archive numbers through each node: the same listing on every node, no
// duplicate, no gap, every acknowledged check-in among them; with `exact`
// (nothing was lost) exactly the acknowledged ones. Returns the series.
std::map<std::string, uint64_t> CheckArchiveNumbers(const Cluster& cluster, const Ledger& ledger,
                                                    const std::vector<int>& nodes, bool exact) {
  Findings findings;
  const std::map<std::string, RecordModel> records = ledger.records();
  std::map<std::string, uint64_t> series;
  std::set<std::string> first;
  for (int node : nodes) {
    std::vector<std::string> ids = ListRecordIds(cluster, node, findings);
    const std::string what = std::string("records listed by node ") + kNodeName[node];
    series = CheckSeries(ids, what, findings);
    std::set<std::string> listed(ids.begin(), ids.end());
    for (const auto& [id, m] : records) {
      if (!listed.count(id)) findings.Add(what + ": acknowledged " + id + " is missing");
    }
    if (exact && listed.size() != records.size()) {
      findings.Add(what + ": " + std::to_string(listed.size()) + " records, " +
                   std::to_string(records.size()) + " acknowledged and nothing lost");
    }
    if (node == nodes.front()) {
      first = listed;
    } else if (listed != first) {
      findings.Add(what + ": not the same records as node " + kNodeName[nodes.front()] + " lists");
    }
  }
  findings.Report("archive numbers");
  return series;
}

// ------------------------------------------------------------------ loans

// The borrowing register through each node: loan numbers unique and
// gap-free, every acknowledged loan in its acknowledged state (or, if its
// last step was lost, possibly the state that step would have reached).
size_t CheckLoans(const Cluster& cluster, const Ledger& ledger, const std::vector<int>& nodes,
                  bool exact) {
  Findings findings;
  const std::vector<LoanModel> loans = ledger.loans();
  size_t listed_count = 0;
  for (int node : nodes) {
    const std::string where = std::string("register on node ") + kNodeName[node];
    std::unique_ptr<HttpsClient> client = cluster.NewClient(node);
    HttpResult r = As(*client, cluster, "archivist2", "/v1/loans/register");
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    Poco::JSON::Array::Ptr arr = o ? o->getArray("loans") : nullptr;
    if (r.status != 200 || !arr) {
      findings.Add(where + ": " + Describe(r));
      continue;
    }
    std::map<std::string, Poco::JSON::Object::Ptr> by_id;
    std::vector<std::string> ids;
    for (size_t i = 0; i < arr->size(); ++i) {
      Poco::JSON::Object::Ptr l = arr->getObject(static_cast<unsigned>(i));
      ids.push_back(Str(l, "id"));
      by_id[Str(l, "id")] = l;
    }
    CheckSeries(ids, where, findings);
    listed_count = ids.size();
    for (const LoanModel& m : loans) {
      auto it = by_id.find(m.id);
      if (it == by_id.end()) {
        findings.Add(where + ": acknowledged loan " + m.id + " is missing");
        continue;
      }
      const std::string problem = workload::CompareServedLoan(where, it->second, m);
      if (!problem.empty()) findings.Add(problem);
    }
    if (exact && ids.size() != loans.size()) {
      findings.Add(where + ": " + std::to_string(ids.size()) + " loans, " +
                   std::to_string(loans.size()) + " acknowledged and nothing lost");
    }
  }
  findings.Report("loans");
  return listed_count;
}

// -------------------------------------------------------------------- log

crypto::Checkpoint OpenOrFail(const Cluster& cluster, const std::string& text,
                              const std::string& what) {
  auto cp = crypto::OpenCheckpoint(text, cluster.verifier_pointers());
  EXPECT_TRUE(cp.ok()) << what << ": " << cp.status().ToString() << "\n" << text;
  if (!cp.ok()) return {};
  EXPECT_EQ(cp->checkpoint.origin, kOrigin) << what;
  return cp->checkpoint;
}

// The latest checkpoint `node` publishes, opened with the archive's key.
crypto::Checkpoint LatestCheckpoint(const Cluster& cluster, int node, std::string* text = nullptr) {
  std::unique_ptr<HttpsClient> client = cluster.NewClient(node);
  HttpResult r = client->Get("/v1/log/checkpoint");
  EXPECT_EQ(r.status, 200) << Describe(r);
  if (text != nullptr) *text = r.body;
  return OpenOrFail(cluster, r.body, std::string("checkpoint of node ") + kNodeName[node]);
}

// The consistency proof between two checkpoints, fetched from `node` and
// verified in-process; OK or what failed.
Status ConsistencyThrough(const Cluster& cluster, int node, const crypto::Checkpoint& older,
                          const crypto::Checkpoint& newer) {
  std::unique_ptr<HttpsClient> client = cluster.NewClient(node);
  return workload::CheckConsistency(
      [&](const std::string& user, const std::string& method, const std::string& path,
          const std::string& body, const std::string& content_type) {
        return client->Request(method, path, body, content_type,
                               {{"Authorization", "Bearer " + cluster.token(user)}});
      },
      "archivist1", older, newer);
}

struct CheckpointFigures {
  size_t samples[kNodes] = {0, 0};
  size_t cross_node_proofs = 0;  // between samples of different nodes, sizes differing
  uint64_t first_size = 0;
  uint64_t last_size = 0;
};

// The monitor's samples: each signed by the archive's key, sizes never
// shrinking from one fetch to the next whichever node answered, and a
// verified consistency proof between every two successive samples from
// different nodes (fetched from the node of the newer one, or the other
// one if that node is down).
CheckpointFigures CheckSamples(Cluster& cluster, const std::vector<CheckpointSample>& samples) {
  CheckpointFigures fig;
  const CheckpointSample* prev_sample = nullptr;
  crypto::Checkpoint prev;
  for (const CheckpointSample& s : samples) {
    const std::string what = std::string("checkpoint from node ") + kNodeName[s.node] + " at " +
                             std::to_string(s.at_ms) + " ms";
    crypto::Checkpoint cp = OpenOrFail(cluster, s.text, what);
    ++fig.samples[s.node];
    if (prev_sample != nullptr) {
      EXPECT_GE(cp.size, prev.size) << what << " is older than the one node "
                                    << kNodeName[prev_sample->node] << " gave before";
      if (prev_sample->node != s.node && cp.size >= prev.size) {
        const int via = cluster.running(s.node) ? s.node : prev_sample->node;
        Status st = ConsistencyThrough(cluster, via, prev, cp);
        EXPECT_TRUE(st.ok()) << "from size " << prev.size << " (node "
                             << kNodeName[prev_sample->node] << ") to " << what << ": "
                             << st.ToString();
        if (st.ok() && cp.size > prev.size) ++fig.cross_node_proofs;
      }
    } else {
      fig.first_size = cp.size;
    }
    fig.last_size = cp.size;
    prev = cp;
    prev_sample = &s;
  }
  return fig;
}

// Rebuilds the tree from every entry (pages fetched from the nodes in
// turn): seq and the prev-hash chain unbroken, the root that of the latest
// checkpoint, and every acknowledged version's log index the event that
// logged it. Returns the tree size.
uint64_t CheckLog(const Cluster& cluster, const Ledger& ledger, const std::vector<int>& nodes) {
  const crypto::Checkpoint cp = LatestCheckpoint(cluster, nodes.front());
  std::vector<std::unique_ptr<HttpsClient>> clients;
  for (int node : nodes) clients.push_back(cluster.NewClient(node));
  merkle::MemoryTree tree;
  std::vector<Poco::JSON::Object::Ptr> events;
  std::string prev_hash;
  for (size_t page = 0; tree.size() < cp.size; ++page) {
    HttpResult r = As(*clients[page % clients.size()], cluster, "archivist1",
                      "/v1/log/entries?start=" + std::to_string(tree.size()) +
                          "&end=" + std::to_string(cp.size));
    Poco::JSON::Array::Ptr arr = api::JsonArray(r.body);
    if (r.status != 200 || !arr || arr->size() == 0) {
      ADD_FAILURE() << "entries from " << tree.size() << ": " << Describe(r);
      return 0;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      Poco::JSON::Object::Ptr e = arr->getObject(static_cast<unsigned>(i));
      auto leaf = crypto::Base64Decode(Str(e, "leaf"));
      Poco::JSON::Object::Ptr event = e->getObject("event");
      if (Int(e, "index") != static_cast<int64_t>(tree.size()) || !leaf || !event ||
          Int(event, "seq") != Int(e, "index") || Str(event, "prev") != prev_hash) {
        ADD_FAILURE() << "log entry " << tree.size() << " breaks the chain: " << Stringify(e);
        return 0;
      }
      std::string leaf_text(leaf->begin(), leaf->end());
      prev_hash = crypto::Base64Encode(merkle::HashLeaf(leaf_text));
      tree.Append(leaf_text);
      events.push_back(event);
    }
  }
  EXPECT_EQ(tree.Root(), cp.root) << "the entries do not make up the signed tree of size "
                                  << cp.size;
  Findings findings;
  for (const auto& [id, m] : ledger.records()) {
    for (const VersionModel& v : m.versions) {
      const int number = v.number;
      const std::string what = id + " version " + std::to_string(number);
      if (v.log_index < 0 || static_cast<uint64_t>(v.log_index) >= events.size()) {
        findings.Add(what + ": log index " + std::to_string(v.log_index) + " is not in the log");
        continue;
      }
      const Poco::JSON::Object::Ptr& e = events[static_cast<size_t>(v.log_index)];
      Poco::JSON::Object::Ptr details = e->getObject("details");
      if (Str(e, "action") != (number == 1 ? "record.checkin" : "record.version") ||
          Str(e, "subject") != id || Int(details, "version") != number ||
          Str(details, "manifestHash") != v.manifest_hash) {
        findings.Add(what + ": log entry " + std::to_string(v.log_index) + " is " + Stringify(e));
      }
    }
  }
  findings.Report("log");
  return cp.size;
}

// custosctl verify --data DIR: exit 0 and "clean".
void ExpectVerifyClean(const Cluster& cluster) {
  RunResult v = cluster.Verify();
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.out.rfind("clean", 0), 0u) << v.out << v.err;
  std::cout << "[ figures  ] custosctl verify: " << v.out;
}

void ExpectNoLoadErrors(const Ledger& ledger) {
  const std::vector<std::string> errors = ledger.errors();
  for (size_t i = 0; i < errors.size() && i < Findings::kMaxReported; ++i) {
    ADD_FAILURE() << "load: " << errors[i];
  }
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors during the load";
}

// Versions acknowledged by the node that did not check the record in.
size_t VersionsAcrossNodes(const Ledger& ledger) {
  size_t n = 0;
  for (const auto& [id, m] : ledger.records()) {
    const int owner_node = m.owner % kNodes;
    for (const VersionModel& v : m.versions) n += v.number > 1 && v.node != owner_node ? 1 : 0;
  }
  return n;
}

void PrintCounts(const Load& load) {
  Counts per_node[kNodes];
  for (const auto& w : load.workers()) per_node[w->home()] += w->counts();
  for (int n = 0; n < kNodes; ++n) {
    std::cout << "[ figures  ] workers of node " << kNodeName[n] << ": " << per_node[n].ToString()
              << "\n";
  }
}

// The archive's verifier key as both nodes publish it is DATA/keys/log.vkey.
void ExpectNodesPublishTheArchiveKey(const Cluster& cluster) {
  const std::string file = ReadFileOrDie(cluster.data_dir() + "/keys/log.vkey");
  for (int n = 0; n < kNodes; ++n) {
    HttpResult key = cluster.NewClient(n)->Get("/v1/log/key");
    EXPECT_EQ(key.status, 200) << Describe(key);
    EXPECT_TRUE(key.body == file || key.body + "\n" == file || key.body == file + "\n")
        << "node " << kNodeName[n] << " publishes " << key.body << ", keys/log.vkey is " << file;
  }
}

// ------------------------------------------------------------------ tests

TEST(MultiNode, SixteenClientsOnTwoNodesShareOneArchiveAndOneLog) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  const Clock::time_point t0 = Clock::now();
  std::unique_ptr<Cluster> cluster = Cluster::Create(dsn);
  ASSERT_TRUE(cluster) << "the nodes did not come up";
  const int64_t setup_ms = MillisSince(t0);
  ExpectNodesPublishTheArchiveKey(*cluster);

  Ledger ledger;
  LoadOptions options;
  options.seed = 20261126;
  options.ops_per_worker = 70;
  Load load(*cluster, ledger, options);
  load.Start();
  load.Join();
  ExpectNoLoadErrors(ledger);
  PrintCounts(load);

  Counts total[kNodes];
  for (const auto& w : load.workers()) {
    EXPECT_EQ(w->counts().ops, options.ops_per_worker) << "a worker stopped early";
    total[w->home()] += w->counts();
  }
  for (int n = 0; n < kNodes; ++n) {
    EXPECT_GT(total[n].checkins, 0) << "node " << kNodeName[n];
    EXPECT_GT(total[n].versions, 0) << "node " << kNodeName[n];
    EXPECT_GT(total[n].loan_steps, 0) << "node " << kNodeName[n];
    EXPECT_GT(total[n].cross_reads, 0) << "node " << kNodeName[n];
    EXPECT_EQ(total[n].lost, 0) << "node " << kNodeName[n];
  }
  EXPECT_GT(VersionsAcrossNodes(ledger), 0u)
      << "no version was added through the node that did not check the record in";

  const Clock::time_point checks = Clock::now();
  const RecordFigures rec = CheckRecords(*cluster, ledger, {0, 1});
  const auto series = CheckArchiveNumbers(*cluster, ledger, {0, 1}, /*exact=*/true);
  const size_t loans = CheckLoans(*cluster, ledger, {0, 1}, /*exact=*/true);

  const std::vector<CheckpointSample> samples = load.samples();
  const CheckpointFigures cpf = CheckSamples(*cluster, samples);
  EXPECT_GE(cpf.samples[0], 2u);
  EXPECT_GE(cpf.samples[1], 2u);
  EXPECT_GT(cpf.cross_node_proofs, 0u)
      << "no two checkpoints of different nodes and sizes were compared";

  // The latest checkpoints of both nodes, and a proof from the first
  // checkpoint the monitor took (from node A) to B's latest, given by A.
  std::string text_a, text_b;
  const crypto::Checkpoint latest_a = LatestCheckpoint(*cluster, 0, &text_a);
  const crypto::Checkpoint latest_b = LatestCheckpoint(*cluster, 1, &text_b);
  ASSERT_FALSE(samples.empty());
  const crypto::Checkpoint first = OpenOrFail(*cluster, samples.front().text, "first sample");
  ASSERT_LT(first.size, latest_b.size);
  Status st = ConsistencyThrough(*cluster, 0, first, latest_b);
  EXPECT_TRUE(st.ok()) << st.ToString();
  const crypto::Checkpoint& older = latest_a.size <= latest_b.size ? latest_a : latest_b;
  const crypto::Checkpoint& newer = latest_a.size <= latest_b.size ? latest_b : latest_a;
  st = ConsistencyThrough(*cluster, 1, older, newer);
  EXPECT_TRUE(st.ok()) << st.ToString();

  const uint64_t log_size = CheckLog(*cluster, ledger, {0, 1});
  ExpectVerifyClean(*cluster);  // with both nodes still running

  std::cout << "[ figures  ] set-up " << setup_ms << " ms, load " << load.elapsed_ms()
            << " ms, checks " << MillisSince(checks) << " ms; " << load.acked_ops()
            << " acknowledged writes; " << rec.records << " record reads, " << rec.versions
            << " version checks, " << rec.downloads << " downloads over both nodes; " << loans
            << " loans in the register; " << VersionsAcrossNodes(ledger)
            << " versions added through the other node\n";
  for (const auto& [prefix, n] : series) {
    std::cout << "[ figures  ] archive numbers " << prefix << ": 1.." << n << "\n";
  }
  std::cout << "[ figures  ] checkpoints: " << cpf.samples[0] << " from A, " << cpf.samples[1]
            << " from B, sizes " << cpf.first_size << " → " << cpf.last_size << ", "
            << cpf.cross_node_proofs << " cross-node consistency proofs verified; latest A "
            << latest_a.size << ", latest B " << latest_b.size << ", log rebuilt " << log_size
            << " entries\n";
}

TEST(MultiNode, KillingOneNodeMidLoadLosesNoAcknowledgedWrite) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  const Clock::time_point t0 = Clock::now();
  std::unique_ptr<Cluster> cluster = Cluster::Create(dsn);
  ASSERT_TRUE(cluster) << "the nodes did not come up";

  Ledger ledger;
  LoadOptions options;
  options.seed = 77;
  options.ops_per_worker = 80;
  options.expect_kill = true;
  options.min_ops_after_kill = 8;
  Load load(*cluster, ledger, options);
  load.Start();

  // Kill B about a third of the way through the planned operations (a
  // quarter of them are writes that get acknowledged by then).
  const int threshold = options.workers * options.ops_per_worker / 4;
  EXPECT_TRUE(WaitFor(
      [&] { return load.acked_ops() >= threshold || ledger.error_count() > 0; }, 60000));
  std::string before_text;
  const crypto::Checkpoint before = LatestCheckpoint(*cluster, 1, &before_text);
  const int acked_at_kill = load.acked_ops();
  const int64_t kill_ms = load.MillisSinceStart();
  const pid_t pid_b = cluster->pid(1);
  load.MarkKilled(1);
  EXPECT_EQ(cluster->Kill(1), 128 + SIGKILL) << "node B (pid " << pid_b << ")";
  load.Join();
  ExpectNoLoadErrors(ledger);
  PrintCounts(load);

  Counts total[kNodes];
  for (const auto& w : load.workers()) {
    total[w->home()] += w->counts();
    if (w->home() == 1) {
      EXPECT_TRUE(w->lost_home()) << "a client of node B never noticed that B was gone";
    } else {
      EXPECT_FALSE(w->lost_home());
      EXPECT_GE(w->counts().ops_after_kill, options.min_ops_after_kill);
    }
  }
  EXPECT_GT(total[0].checkins_after_kill, 0) << "no check-in on node A after the kill";
  EXPECT_GT(total[1].lost, 0);

  // Node B again, on the same data directory and database.
  const Clock::time_point restart = Clock::now();
  ASSERT_TRUE(cluster->Restart(1));
  const int64_t restart_ms = MillisSince(restart);

  const RecordFigures rec = CheckRecords(*cluster, ledger, {0, 1});
  const auto series = CheckArchiveNumbers(*cluster, ledger, {0, 1}, /*exact=*/false);
  const size_t loans = CheckLoans(*cluster, ledger, {0, 1}, /*exact=*/false);
  const CheckpointFigures cpf = CheckSamples(*cluster, load.samples());

  // From the last checkpoint B gave before it died to the checkpoint the
  // restarted B gives, proved by the restarted B and by A.
  const crypto::Checkpoint after = LatestCheckpoint(*cluster, 1);
  ASSERT_GT(after.size, before.size);
  Status st = ConsistencyThrough(*cluster, 1, before, after);
  EXPECT_TRUE(st.ok()) << st.ToString();
  st = ConsistencyThrough(*cluster, 0, before, after);
  EXPECT_TRUE(st.ok()) << st.ToString();

  const uint64_t log_size = CheckLog(*cluster, ledger, {0, 1});
  ExpectVerifyClean(*cluster);

  std::cout << "[ figures  ] kill of node B (pid " << pid_b << ") at " << kill_ms << " ms after "
            << acked_at_kill << " acknowledged writes; load " << load.elapsed_ms() << " ms, "
            << load.acked_ops() << " acknowledged writes; " << total[0].checkins_after_kill
            << " check-ins on A after the kill; B restarted in " << restart_ms << " ms; "
            << rec.downloads << " downloads over both nodes; " << loans
            << " loans in the register; total " << MillisSince(t0) << " ms\n";
  for (const auto& [prefix, n] : series) {
    std::cout << "[ figures  ] archive numbers " << prefix << ": 1.." << n << "\n";
  }
  std::cout << "[ figures  ] checkpoints: before the kill " << before.size << ", after the restart "
            << after.size << "; monitor " << cpf.samples[0] << " from A, " << cpf.samples[1]
            << " from B, " << cpf.cross_node_proofs << " cross-node proofs; log rebuilt "
            << log_size << " entries\n";
}

TEST(MultiNode, InitRefusesADatabaseThatAlreadyHoldsAnArchive) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  TempDir tmp;
  const std::string first = tmp.Sub("first");
  const std::string second = tmp.Sub("second");
  const std::string pw_file = tmp.Sub("admin-password");
  WriteFile(pw_file, std::string(api::kAdminPassword) + "\n");
  auto init = [&](const std::string& dir) {
    return RunProgram({BinDir() + "/custosctl", "init", "--data", dir, "--backend", "postgresql",
                       "--dsn", dsn, "--admin-password-file", pw_file});
  };
  RunResult made = init(first);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ServerProcess node;
  ASSERT_TRUE(node.Start(first, api::RelaxedConfig("")));
  HttpsClient client(node.port(), first + "/tls/cert.pem");
  const std::string checkpoint_before = client.Get("/v1/log/checkpoint").body;

  RunResult refused = init(second);
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("already holds an archive"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find('\n'), refused.err.size() - 1) << "not one line: " << refused.err;
  EXPECT_FALSE(std::filesystem::exists(second + "/keys/log.vkey"))
      << "a second log key was made for the database";

  // The first archive is untouched and goes on working.
  EXPECT_EQ(client.Get("/v1/log/checkpoint").body, checkpoint_before);
  const std::string token = Cluster::SignIn(client, "admin", api::kAdminPassword);
  ASSERT_FALSE(token.empty());
  HttpResult dept = client.Request("POST", "/v1/departments", "{\"name\":\"sales\"}", api::kJson,
                                   {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(dept.status, 201) << Describe(dept);
  HttpResult cp = client.Get("/v1/log/checkpoint");
  auto verifiers = ParseVerifierKeys(ReadFileOrDie(first + "/keys/log.vkey"));
  auto opened = crypto::OpenCheckpoint(cp.body, workload::VerifierPointers(verifiers));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString() << "\n" << cp.body;
  EXPECT_GT(opened->checkpoint.size, api::CheckpointSize(checkpoint_before));
  EXPECT_EQ(node.Stop(), 0);
  RunResult v = RunProgram({BinDir() + "/custosctl", "verify", "--data", first});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace custos::testing::multinode
