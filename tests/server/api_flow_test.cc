// End-to-end flows of the v1 API against the real custosd over TLS: check-in
// with verifiable receipts, versions and "as of", content reads with ranges
// and their audit events, metadata changes, search visibility, the log's
// entries and proofs, and the session rules (sign-out, forced password
// change, lockout).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

namespace merkle = crypto::merkle;

// What a tlog-proof@v1 receipt proved, or why it did not.
struct ReceiptCheck {
  std::string error;  // "" when the receipt verified
  std::string leaf;
  uint64_t index = 0;
  uint64_t tree_size = 0;
};

ReceiptCheck Failed(std::string why) {
  ReceiptCheck out;
  out.error = std::move(why);
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return lines;
}

// The verifiers of GET /v1/log/key (one key per line).
std::vector<crypto::note::KeyVerifier> ParseVerifierKeys(const std::string& text) {
  std::vector<crypto::note::KeyVerifier> out;
  for (const std::string& line : SplitLines(text)) {
    if (line.empty()) continue;
    auto v = crypto::note::KeyVerifier::FromVerifierKey(line);
    EXPECT_TRUE(v.ok()) << "verifier key '" << line << "': " << v.status().ToString();
    if (v.ok()) out.push_back(std::move(v).value());
  }
  return out;
}

std::vector<const crypto::note::Verifier*> Pointers(
    const std::vector<crypto::note::KeyVerifier>& keys) {
  std::vector<const crypto::note::Verifier*> out;
  for (const auto& k : keys) out.push_back(&k);
  return out;
}

// Verifies a receipt offline: leaf → leaf hash → inclusion proof → the root
// of the checkpoint, whose signature is checked with `keys`.
ReceiptCheck VerifyReceipt(const std::string& receipt,
                           const std::vector<crypto::note::KeyVerifier>& keys) {
  ReceiptCheck out;
  const std::string kHeader = "c2sp.org/tlog-proof@v1\n";
  if (receipt.compare(0, kHeader.size(), kHeader) != 0) return Failed("missing header line");
  size_t blank = receipt.find("\n\n");
  if (blank == std::string::npos) return Failed("no blank line before the checkpoint");
  std::vector<std::string> lines =
      SplitLines(receipt.substr(kHeader.size(), blank + 1 - kHeader.size()));
  std::string checkpoint = receipt.substr(blank + 2);
  if (lines.size() < 2 || lines[0].rfind("extra ", 0) != 0 || lines[1].rfind("index ", 0) != 0) {
    return Failed("expected 'extra' and 'index' lines");
  }
  auto leaf = crypto::Base64Decode(lines[0].substr(6));
  if (!leaf) return Failed("extra is not base64");
  out.leaf.assign(leaf->begin(), leaf->end());
  try {
    out.index = std::stoull(lines[1].substr(6));
  } catch (const std::exception&) {
    return Failed("bad index line");
  }
  std::vector<crypto::Bytes> proof;
  for (size_t i = 2; i < lines.size(); ++i) {
    auto h = crypto::Base64Decode(lines[i]);
    if (!h) return Failed("proof line " + std::to_string(i) + " is not base64");
    proof.push_back(*h);
  }
  auto opened = crypto::OpenCheckpoint(checkpoint, Pointers(keys));
  if (!opened.ok()) return Failed("checkpoint: " + opened.status().ToString());
  out.tree_size = opened->checkpoint.size;
  Status inclusion = merkle::VerifyInclusion(out.index, out.tree_size, merkle::HashLeaf(out.leaf),
                                             proof, opened->checkpoint.root);
  if (!inclusion.ok()) return Failed("inclusion: " + inclusion.ToString());
  return out;
}

Poco::JSON::Object::Ptr FirstVersion(const Poco::JSON::Object::Ptr& record) {
  if (!record || !record->has("versions")) return {};
  Poco::JSON::Array::Ptr versions = record->getArray("versions");
  if (!versions || versions->size() == 0) return {};
  return versions->getObject(0);
}

Poco::JSON::Object::Ptr FileAt(const Poco::JSON::Object::Ptr& version, size_t i) {
  if (!version || !version->has("files")) return {};
  Poco::JSON::Array::Ptr files = version->getArray("files");
  if (!files || files->size() <= i) return {};
  return files->getObject(static_cast<unsigned>(i));
}

class ApiFlow : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ApiServer::Create().release();
    if (server_ == nullptr) return;
    HttpResult key = server_->As(kAnonymous, "GET", "/v1/log/key");
    EXPECT_EQ(key.status, 200) << Describe(key);
    keys_ = new std::vector<crypto::note::KeyVerifier>(ParseVerifierKeys(key.body));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete keys_;
    keys_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the server did not come up";
    ASSERT_FALSE(keys_->empty()) << "no log verifier key";
  }

  ApiServer& S() { return *server_; }

  // The entries of GET /v1/records/{id}/history as `role`.
  std::vector<Poco::JSON::Object::Ptr> History(const std::string& id,
                                               const std::string& role = "archivist") {
    HttpResult r = S().As(role, "GET", "/v1/records/" + id + "/history");
    EXPECT_EQ(r.status, 200) << Describe(r);
    std::vector<Poco::JSON::Object::Ptr> out;
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    if (!o || !o->has("entries")) return out;
    Poco::JSON::Array::Ptr arr = o->getArray("entries");
    for (size_t i = 0; i < arr->size(); ++i)
      out.push_back(arr->getObject(static_cast<unsigned>(i)));
    return out;
  }

  size_t CountActions(const std::string& id, const std::string& action) {
    size_t n = 0;
    for (const auto& e : History(id)) n += Str(e->getObject("event"), "action") == action ? 1 : 0;
    return n;
  }

  static ApiServer* server_;
  static std::vector<crypto::note::KeyVerifier>* keys_;
};

ApiServer* ApiFlow::server_ = nullptr;
std::vector<crypto::note::KeyVerifier>* ApiFlow::keys_ = nullptr;

TEST_F(ApiFlow, ContractCheckInReturnsArchiveNumberHashesAndVerifiableReceipt) {
  const std::string pdf = PatternBytes(3000, 11);
  const std::string annex = PatternBytes(70000, 12);  // more than one 64 KiB chunk
  Poco::JSON::Object::Ptr rec = S().CheckInOk(
      "archivist", ContractJson("Supply agreement Qingdao", "Qingdao Harbour Logistics"),
      {FilePart("agreement.pdf", pdf), FilePart("annex.txt", annex, "text/plain")});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  EXPECT_TRUE(std::regex_match(id, std::regex("^CT-\\d{4}-\\d{6}$"))) << id;
  EXPECT_EQ(Str(rec, "type"), "contract");
  EXPECT_EQ(Str(rec, "state"), "active");
  EXPECT_EQ(Str(rec->getObject("metadata"), "counterparty"), "Qingdao Harbour Logistics");
  EXPECT_EQ(Str(rec, "custodian"), "archivist");

  Poco::JSON::Object::Ptr v1 = FirstVersion(rec);
  ASSERT_TRUE(v1);
  EXPECT_EQ(Int(v1, "number"), 1);
  EXPECT_EQ(Str(v1, "kind"), "original");
  EXPECT_TRUE(std::regex_match(Str(v1, "manifestHash"), std::regex("^[0-9a-f]{64}$")))
      << Str(v1, "manifestHash");
  EXPECT_EQ(Str(v1, "prevManifestHash"), "");
  ASSERT_GE(Int(v1, "logIndex"), 0);
  Poco::JSON::Object::Ptr f0 = FileAt(v1, 0), f1 = FileAt(v1, 1);
  ASSERT_TRUE(f0 && f1);
  EXPECT_EQ(Str(f0, "name"), "agreement.pdf");
  EXPECT_EQ(Str(f0, "mediaType"), "application/pdf");
  EXPECT_EQ(Int(f0, "size"), 3000);
  EXPECT_EQ(Str(f0, "sha256"), Sha256Hex(pdf));
  EXPECT_EQ(Str(f1, "name"), "annex.txt");
  EXPECT_EQ(Str(f1, "mediaType"), "text/plain");
  EXPECT_EQ(Int(f1, "size"), 70000);
  EXPECT_EQ(Str(f1, "sha256"), Sha256Hex(annex));
  EXPECT_EQ(Str(f0->getObject("signature"), "status"), "none");

  const std::string receipt = Str(rec, "receipt");
  ASSERT_EQ(receipt.rfind("c2sp.org/tlog-proof@v1", 0), 0u) << receipt;
  ReceiptCheck check = VerifyReceipt(receipt, *keys_);
  ASSERT_EQ(check.error, "") << receipt;
  EXPECT_EQ(check.index, static_cast<uint64_t>(Int(v1, "logIndex")));
  EXPECT_GT(check.tree_size, check.index);
  // The leaf is the check-in event, naming the record and its manifest.
  Poco::JSON::Object::Ptr event = JsonObject(check.leaf);
  ASSERT_TRUE(event) << check.leaf;
  EXPECT_EQ(Str(event, "action"), "record.checkin");
  EXPECT_EQ(Str(event, "subject"), id);
  EXPECT_EQ(Str(event, "actor"), "archivist");
  EXPECT_EQ(Int(event, "seq"), Int(v1, "logIndex"));
  EXPECT_EQ(Str(event->getObject("details"), "manifestHash"), Str(v1, "manifestHash"));
  EXPECT_EQ(check.leaf.find(pdf.substr(0, 32)), std::string::npos) << "content in the leaf";

  // A receipt whose leaf was altered does not verify.
  std::string forged = receipt;
  size_t extra = forged.find("extra ") + 6;
  forged[extra + 10] = forged[extra + 10] == 'A' ? 'B' : 'A';
  EXPECT_NE(VerifyReceipt(forged, *keys_).error, "");

  // The receipt can be fetched again later and still proves the same leaf.
  HttpResult again = S().As("staff", "GET", "/v1/records/" + id + "/versions/1/receipt");
  ASSERT_EQ(again.status, 200) << Describe(again);
  ReceiptCheck later = VerifyReceipt(again.body, *keys_);
  EXPECT_EQ(later.error, "") << again.body;
  EXPECT_EQ(later.leaf, check.leaf);
  EXPECT_EQ(later.index, check.index);
}

TEST_F(ApiFlow, AmendmentChainsManifestHashAndAsOfPicksTheCurrentVersion) {
  Poco::JSON::Object::Ptr rec =
      S().CheckInOk("archivist", ContractJson("Maintenance contract Wuxi", "Wuxi Pumps"),
                    {FilePart("contract.pdf", PatternBytes(2000, 21))});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  Poco::JSON::Object::Ptr v1 = FirstVersion(rec);
  ASSERT_TRUE(v1);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // distinct createdAt (ms)

  const std::string amendment = PatternBytes(1500, 22);
  HttpResult r =
      S().As("archivist", "POST", "/v1/records/" + id + "/versions",
             MultipartBody({MetadataPart("{\"kind\":\"amendment\",\"note\":\"new prices\"}"),
                            FilePart("amendment-1.pdf", amendment)}),
             MultipartType());
  ASSERT_EQ(r.status, 201) << Describe(r);
  Poco::JSON::Object::Ptr v2 = JsonObject(r.body);
  ASSERT_TRUE(v2);
  EXPECT_EQ(Str(v2, "recordId"), id);
  EXPECT_EQ(Int(v2, "number"), 2);
  EXPECT_EQ(Str(v2, "kind"), "amendment");
  EXPECT_EQ(Str(v2, "note"), "new prices");
  EXPECT_EQ(Str(v2, "prevManifestHash"), Str(v1, "manifestHash"));
  EXPECT_NE(Str(v2, "manifestHash"), Str(v1, "manifestHash"));
  EXPECT_EQ(Str(FileAt(v2, 0), "sha256"), Sha256Hex(amendment));
  ReceiptCheck check = VerifyReceipt(Str(v2, "receipt"), *keys_);
  ASSERT_EQ(check.error, "");
  EXPECT_EQ(Str(JsonObject(check.leaf), "action"), "record.version");

  HttpResult all = S().As("legal", "GET", "/v1/records/" + id + "/versions");
  ASSERT_EQ(all.status, 200) << Describe(all);
  EXPECT_EQ(JsonObject(all.body)->getArray("versions")->size(), 2u);

  const std::string t1 = Str(v1, "createdAt"), t2 = Str(v2, "createdAt");
  ASSERT_LT(t1, t2);
  auto as_of = [&](const std::string& t) {
    return S().As("legal", "GET", "/v1/records/" + id + "/versions?asOf=" + t);
  };
  // [t1, t2) is version 1's time; from t2 on, version 2's.
  HttpResult at1 = as_of(t1);
  ASSERT_EQ(at1.status, 200) << Describe(at1);
  Poco::JSON::Array::Ptr only = JsonObject(at1.body)->getArray("versions");
  ASSERT_EQ(only->size(), 1u);
  EXPECT_EQ(Int(only->getObject(0), "number"), 1);
  HttpResult at2 = as_of(t2);
  ASSERT_EQ(at2.status, 200) << Describe(at2);
  EXPECT_EQ(Int(JsonObject(at2.body)->getArray("versions")->getObject(0), "number"), 2);
  HttpResult before = as_of("2001-01-01T00:00:00Z");
  EXPECT_EQ(before.status, 404) << Describe(before);
  EXPECT_EQ(ErrorCode(before), "no_version_at");

  HttpResult one = S().As("staff", "GET", "/v1/records/" + id + "/versions/2");
  ASSERT_EQ(one.status, 200) << Describe(one);
  EXPECT_EQ(Str(JsonObject(one.body), "manifestHash"), Str(v2, "manifestHash"));
}

TEST_F(ApiFlow, LegalReadsContractContentWithRangesAndEveryReadIsLogged) {
  const std::string content = PatternBytes(1000, 31);
  Poco::JSON::Object::Ptr rec =
      S().CheckInOk("archivist", ContractJson("Framework agreement Xiamen", "Xiamen Textiles"),
                    {FilePart("supply agreement.pdf", content)});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  const std::string file_id = Str(FileAt(FirstVersion(rec), 0), "id");
  ASSERT_NE(file_id, "");
  const std::string path = "/v1/records/" + id + "/versions/1/files/" + file_id;
  ASSERT_EQ(CountActions(id, "content.read"), 0u);

  HttpResult full = S().As("legal", "GET", path);
  ASSERT_EQ(full.status, 200) << Describe(full);
  EXPECT_EQ(full.body, content);
  EXPECT_EQ(full.headers["ETag"], "\"" + Sha256Hex(content) + "\"");
  EXPECT_EQ(full.headers["Content-Disposition"],
            "attachment; filename=\"supply agreement.pdf\"; filename*=UTF-8''supply%20agreement.pdf");
  EXPECT_EQ(full.headers["Content-Type"], "application/pdf");
  EXPECT_EQ(CountActions(id, "content.read"), 1u);

  HttpResult part = S().As("legal", "GET", path, "", "", {{"Range", "bytes=2-5"}});
  ASSERT_EQ(part.status, 206) << Describe(part);
  EXPECT_EQ(part.body, content.substr(2, 4));
  EXPECT_EQ(part.headers["Content-Range"], "bytes 2-5/1000");
  EXPECT_EQ(CountActions(id, "content.read"), 2u);

  HttpResult beyond = S().As("legal", "GET", path, "", "", {{"Range", "bytes=5000-"}});
  EXPECT_EQ(beyond.status, 416) << Describe(beyond);
  EXPECT_EQ(beyond.headers["Content-Range"], "bytes */1000");

  // The read events name the reader, the file and its hash.
  size_t reads = 0;
  for (const auto& e : History(id, "auditor")) {
    Poco::JSON::Object::Ptr ev = e->getObject("event");
    if (Str(ev, "action") != "content.read") continue;
    ++reads;
    EXPECT_EQ(Str(ev, "actor"), "legal");
    EXPECT_EQ(Str(ev->getObject("details"), "file"), file_id);
    EXPECT_EQ(Str(ev->getObject("details"), "sha256"), Sha256Hex(content));
  }
  EXPECT_GE(reads, 2u);
}

TEST_F(ApiFlow, StaffContentReadIsForbiddenAndNotLoggedAsRead) {
  Poco::JSON::Object::Ptr rec =
      S().CheckInOk("archivist", ContractJson("Lease Hangzhou office", "Hangzhou Estates"),
                    {FilePart("lease.pdf", PatternBytes(500, 41))});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  const std::string path =
      "/v1/records/" + id + "/versions/1/files/" + Str(FileAt(FirstVersion(rec), 0), "id");
  EXPECT_EQ(S().As("staff", "GET", "/v1/records/" + id).status,
            200);  // the catalogue entry is visible
  HttpResult r = S().As("staff", "GET", path);
  EXPECT_EQ(r.status, 403) << Describe(r);
  EXPECT_EQ(ErrorCode(r), "content_forbidden");
  EXPECT_EQ(r.body.find("PDF"), std::string::npos);
  EXPECT_EQ(CountActions(id, "content.read"), 0u);
}

TEST_F(ApiFlow, PatchTitleIsLoggedWithBeforeAndAfter) {
  Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", GeneralJson("Board minutes draft"),
                                              {FilePart("minutes.txt", "minutes", "text/plain")});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  HttpResult r = S().As("archivist", "PATCH", "/v1/records/" + id,
                        "{\"title\":\"Board minutes 2026-03 (final)\"}", kJson);
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(Str(JsonObject(r.body), "title"), "Board minutes 2026-03 (final)");
  HttpResult got = S().As("staff", "GET", "/v1/records/" + id);
  EXPECT_EQ(Str(JsonObject(got.body), "title"), "Board minutes 2026-03 (final)");

  std::vector<Poco::JSON::Object::Ptr> history = History(id);
  ASSERT_FALSE(history.empty());
  Poco::JSON::Object::Ptr last = history.back()->getObject("event");
  EXPECT_EQ(Str(last, "action"), "record.update");
  EXPECT_EQ(Str(last, "actor"), "archivist");
  Poco::JSON::Object::Ptr details = last->getObject("details");
  ASSERT_TRUE(details);
  EXPECT_EQ(Str(details->getObject("before"), "title"), "Board minutes draft");
  EXPECT_EQ(Str(details->getObject("after"), "title"), "Board minutes 2026-03 (final)");

  // The same value again changes nothing and logs nothing.
  size_t updates = CountActions(id, "record.update");
  ASSERT_EQ(S().As("archivist", "PATCH", "/v1/records/" + id,
                   "{\"title\":\"Board minutes 2026-03 (final)\"}", kJson)
                .status,
            200);
  EXPECT_EQ(CountActions(id, "record.update"), updates);
}

TEST_F(ApiFlow, SearchFindsByTitleAndCounterpartyAndHidesSecretFromStaff) {
  auto a =
      S().CheckInOk("archivist", ContractJson("Quillfeather distribution deal", "Northwind Ltd"),
                    {FilePart("a.pdf", "a")});
  auto b = S().CheckInOk("archivist", ContractJson("Spare parts order", "Brightwater Ceramics"),
                         {FilePart("b.pdf", "b")});
  // A secret record of another department: hidden from staff and from the
  // sales approver (approvers see their own department's secret records).
  auto secret =
      S().CheckInOk("archivist", GeneralJson("Quillfeather acquisition plan", "secret", "legal"),
                    {FilePart("c.pdf", "c")});
  ASSERT_TRUE(a && b && secret);
  auto ids = [&](const std::string& role, const std::string& q) {
    std::set<std::string> out;
    HttpResult r = S().As(role, "GET", "/v1/records?q=" + q);
    EXPECT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    if (!o) return out;
    Poco::JSON::Array::Ptr arr = o->getArray("records");
    for (size_t i = 0; i < arr->size(); ++i)
      out.insert(Str(arr->getObject(static_cast<unsigned>(i)), "id"));
    EXPECT_EQ(Int(o, "total"), static_cast<int64_t>(out.size()));
    return out;
  };
  EXPECT_EQ(ids("archivist", "Quillfeather"),
            (std::set<std::string>{Str(a, "id"), Str(secret, "id")}));
  EXPECT_EQ(ids("archivist", "Brightwater"), std::set<std::string>{Str(b, "id")});
  EXPECT_EQ(ids("legal", "Brightwater"), std::set<std::string>{Str(b, "id")});
  EXPECT_EQ(ids("staff", "Quillfeather"), std::set<std::string>{Str(a, "id")});

  HttpResult hidden = S().As("staff", "GET", "/v1/records/" + Str(secret, "id"));
  EXPECT_EQ(hidden.status, 404) << Describe(hidden);
  EXPECT_EQ(ErrorCode(hidden), "record_not_found");
  EXPECT_EQ(hidden.body.find("acquisition"), std::string::npos);
  EXPECT_EQ(S().As("approver", "GET", "/v1/records/" + Str(secret, "id")).status, 404);
  EXPECT_EQ(S().As("auditor", "GET", "/v1/records/" + Str(secret, "id")).status, 200);
}

TEST_F(ApiFlow, AuditorReadsEntriesAndProofsVerifyAgainstSignedCheckpoints) {
  auto open = [&](const std::string& text) {
    auto cp = crypto::OpenCheckpoint(text, Pointers(*keys_));
    EXPECT_TRUE(cp.ok()) << cp.status().ToString() << "\n" << text;
    return cp.ok() ? cp->checkpoint : crypto::Checkpoint{};
  };
  crypto::Checkpoint old_cp = open(S().As(kAnonymous, "GET", "/v1/log/checkpoint").body);
  ASSERT_GT(old_cp.size, 0u);
  auto rec = S().CheckInOk("archivist", GeneralJson("Quality manual rev 7"),
                           {FilePart("manual.pdf", PatternBytes(800, 51))});
  ASSERT_TRUE(rec);
  const uint64_t index = static_cast<uint64_t>(Int(FirstVersion(rec), "logIndex"));
  crypto::Checkpoint cp = open(S().As(kAnonymous, "GET", "/v1/log/checkpoint").body);
  ASSERT_GT(cp.size, index);

  // Every entry, page by page; rebuild the tree and the hash chain.
  merkle::MemoryTree tree;
  std::string prev_hash_b64;
  while (tree.size() < cp.size) {
    HttpResult r = S().As(
        "auditor", "GET",
        "/v1/log/entries?start=" + std::to_string(tree.size()) + "&end=" + std::to_string(cp.size));
    ASSERT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Array::Ptr arr = JsonArray(r.body);
    ASSERT_TRUE(arr && arr->size() > 0) << r.body.substr(0, 200);
    for (size_t i = 0; i < arr->size(); ++i) {
      Poco::JSON::Object::Ptr e = arr->getObject(static_cast<unsigned>(i));
      ASSERT_EQ(Int(e, "index"), static_cast<int64_t>(tree.size()));
      auto leaf = crypto::Base64Decode(Str(e, "leaf"));
      ASSERT_TRUE(leaf);
      std::string leaf_text(leaf->begin(), leaf->end());
      Poco::JSON::Object::Ptr event = e->getObject("event");
      ASSERT_TRUE(event);
      EXPECT_EQ(Int(event, "seq"), Int(e, "index"));
      EXPECT_EQ(Str(event, "prev"), prev_hash_b64) << "hash chain broken at " << tree.size();
      prev_hash_b64 = crypto::Base64Encode(merkle::HashLeaf(leaf_text));
      tree.Append(leaf_text);
    }
  }
  EXPECT_EQ(tree.Root(), cp.root) << "the entries do not make up the signed tree";

  HttpResult inc = S().As("auditor", "GET",
                          "/v1/log/proof/inclusion?index=" + std::to_string(index) +
                              "&size=" + std::to_string(cp.size));
  ASSERT_EQ(inc.status, 200) << Describe(inc);
  Poco::JSON::Object::Ptr io = JsonObject(inc.body);
  EXPECT_EQ(Int(io, "index"), static_cast<int64_t>(index));
  EXPECT_EQ(Int(io, "size"), static_cast<int64_t>(cp.size));
  auto leaf_hash = crypto::Base64Decode(Str(io, "leafHash"));
  ASSERT_TRUE(leaf_hash);
  auto lh = merkle::HashFromBytes(*leaf_hash);
  ASSERT_TRUE(lh.ok());
  std::vector<crypto::Bytes> proof;
  Poco::JSON::Array::Ptr parr = io->getArray("proof");
  for (size_t i = 0; i < parr->size(); ++i)
    proof.push_back(*crypto::Base64Decode(parr->getElement<std::string>(static_cast<unsigned>(i))));
  EXPECT_TRUE(merkle::VerifyInclusion(index, cp.size, *lh, proof, cp.root).ok());

  HttpResult con = S().As("archivist", "GET",
                          "/v1/log/proof/consistency?from=" + std::to_string(old_cp.size) +
                              "&to=" + std::to_string(cp.size));
  ASSERT_EQ(con.status, 200) << Describe(con);
  Poco::JSON::Object::Ptr co = JsonObject(con.body);
  EXPECT_EQ(Int(co, "from"), static_cast<int64_t>(old_cp.size));
  std::vector<crypto::Bytes> cproof;
  Poco::JSON::Array::Ptr carr = co->getArray("proof");
  for (size_t i = 0; i < carr->size(); ++i)
    cproof.push_back(
        *crypto::Base64Decode(carr->getElement<std::string>(static_cast<unsigned>(i))));
  Status consistent = merkle::VerifyConsistency(old_cp.size, cp.size, cproof, old_cp.root, cp.root);
  EXPECT_TRUE(consistent.ok()) << consistent.ToString();

  HttpResult staff = S().As("staff", "GET", "/v1/log/entries?start=0&end=1");
  EXPECT_EQ(staff.status, 403) << Describe(staff);
}

TEST_F(ApiFlow, SignOutInvalidatesOnlyThatToken) {
  std::string second = S().SignIn("staff", S().account("staff").password);
  ASSERT_NE(second, "");
  ASSERT_EQ(S().Call(second, "GET", "/v1/me").status, 200);
  HttpResult out = S().Call(second, "DELETE", "/v1/session");
  EXPECT_EQ(out.status, 204) << Describe(out);
  HttpResult after = S().Call(second, "GET", "/v1/me");
  EXPECT_EQ(after.status, 401) << Describe(after);
  EXPECT_EQ(ErrorCode(after), "session_invalid");
  EXPECT_EQ(S().Call(second, "DELETE", "/v1/session").status, 401);
  EXPECT_EQ(S().As("staff", "GET", "/v1/me").status, 200);  // the other session lives on
}

// A new account has no password: nobody signs in with it until its holder
// sets one with the one-time code the security officer issued, and the code
// works once.
TEST_F(ApiFlow, NewUserSignsInOnlyAfterSettingUpWithTheCode) {
  HttpResult created = S().PostUser("newbie", "sales");
  ASSERT_EQ(created.status, 201) << Describe(created);
  Poco::JSON::Object::Ptr user = JsonObject(created.body);
  ASSERT_TRUE(user);
  EXPECT_EQ(Str(user, "role"), "staff");
  EXPECT_TRUE(user->getValue<bool>("awaitingSetup"));
  EXPECT_EQ(Str(user, "createdBy"), kAdmin);
  for (const char* secret : {"password", "passwordHash", "setupCode", "credentials"}) {
    EXPECT_FALSE(user->has(secret)) << secret << ": " << created.body;
  }
  HttpResult early = S().Call("", "POST", "/v1/session",
                              R"({"username":"newbie","password":"newbie-first-pass"})", kJson);
  EXPECT_EQ(early.status, 401) << Describe(early);
  EXPECT_EQ(ErrorCode(early), "invalid_credentials");

  HttpResult issued = S().IssueSetupCode("newbie");
  ASSERT_EQ(issued.status, 201) << Describe(issued);
  const std::string code = Str(JsonObject(issued.body), "code");
  ASSERT_FALSE(code.empty()) << issued.body;
  EXPECT_FALSE(Str(JsonObject(issued.body), "expiresAt").empty()) << issued.body;
  HttpResult done = S().CompleteSetup("newbie", code, "新员工的口令 newbie-first-pass");
  ASSERT_EQ(done.status, 204) << Describe(done);
  HttpResult again = S().CompleteSetup("newbie", code, "someone-else-s-password");
  EXPECT_EQ(again.status, 401) << Describe(again);
  EXPECT_EQ(ErrorCode(again), "invalid_setup_code");

  const std::string t = S().SignIn("newbie", "新员工的口令 newbie-first-pass");
  ASSERT_NE(t, "");
  EXPECT_EQ(S().SignIn("newbie", "someone-else-s-password"), "");
  HttpResult me = S().Call(t, "GET", "/v1/me");
  ASSERT_EQ(me.status, 200) << Describe(me);
  EXPECT_FALSE(JsonObject(me.body)->getValue<bool>("mustChangePassword"));
  EXPECT_FALSE(JsonObject(me.body)->getValue<bool>("awaitingSetup"));
  HttpResult open = S().Call(t, "GET", "/v1/records");
  EXPECT_EQ(open.status, 200) << Describe(open);
}

TEST_F(ApiFlow, FiveWrongPasswordsLockTheAccount) {
  ASSERT_EQ(S().AddUser("locky", "locky-password-01", "staff", "sales"), "");
  auto attempt = [&](const std::string& password) {
    return S().Call("", "POST", "/v1/session",
                    "{\"username\":\"locky\",\"password\":\"" + password + "\"}", kJson);
  };
  HttpResult wrong;
  for (int i = 0; i < 5; ++i) {
    wrong = attempt("not-the-password-" + std::to_string(i));
    ASSERT_EQ(wrong.status, 401) << Describe(wrong);
    EXPECT_EQ(ErrorCode(wrong), "invalid_credentials");
  }
  HttpResult locked = attempt("locky-password-01");
  EXPECT_EQ(locked.status, 401) << Describe(locked);
  EXPECT_EQ(ErrorCode(locked), "invalid_credentials");
  EXPECT_EQ(locked.body, wrong.body) << "a locked account must look like a wrong password";
  EXPECT_EQ(JsonObject(locked.body)->has("token"), false);
}

// What custosd stored as a user's password hash (read from the stopped
// server's database).
std::string StoredPasswordHash(const std::string& data_dir, const std::string& username) {
  sqlite3* db = nullptr;
  std::string hash;
  if (sqlite3_open_v2((data_dir + "/custos.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT password_hash FROM users WHERE username = ?1", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, username.c_str(), -1, SQLITE_TRANSIENT);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
      hash = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return hash;
}

// auth.password_memory_kib sets the cost of new hashes; a hash made under
// another setting keeps its own parameters and still verifies.
TEST(ApiPasswords, NewHashesUseTheConfiguredMemoryAndOldOnesStillVerify) {
  auto s = ApiServer::Create("auth.password_memory_kib = 20480", {"staff"});
  ASSERT_TRUE(s);
  ASSERT_EQ(s->Stop(), 0);
  EXPECT_NE(StoredPasswordHash(s->data_dir(), "staff").find("$m=20480,"), std::string::npos)
      << StoredPasswordHash(s->data_dir(), "staff");
  // The first admin was hashed by custosctl init at the cost it was given
  // (--password-memory-kib 19456, tests/testutil/process.cc).
  EXPECT_NE(StoredPasswordHash(s->data_dir(), kAdmin).find("$m=19456,"), std::string::npos)
      << StoredPasswordHash(s->data_dir(), kAdmin);
  ASSERT_TRUE(s->Restart());
  EXPECT_FALSE(s->SignIn("staff", "staff-password-0001").empty());
  EXPECT_FALSE(s->SignIn(kAdmin, kAdminPassword).empty());
}

}  // namespace
}  // namespace custos::testing::api
