// Retention, legal holds and destruction over the real HTTPS API (DESIGN §2
// "Retention schedule", "Legal hold", "Destruction batch"; §4 "retention"):
// the default schedules; lengthening applies at once while shortening waits
// for legal; per-record rules; the disposition queue and the record states
// it drives; holds that stop destruction and shortening; and a destruction
// batch from proposal through two approvals to execution, after which the
// content answers 410, the tombstone stays, the record's history and
// receipts still verify, the signed certificate verifies offline and
// `custosctl verify` finds the archive clean.
//
// One server serves the whole suite. The clock is real, so a test makes its
// records due by shortening a schedule to P0D after creation — which
// changes every record of that type. Each test therefore owns one record
// type's schedule: qualification (schedules), contract (per-record rules,
// no schedule change), customer_file (disposition and holds), general
// (destruction). The defaults are captured before any test runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

namespace merkle = crypto::merkle;

constexpr char kCertificateHeader[] = "custos destruction certificate v1";

// ------------------------------------------------------------ request bodies

std::string RuleBody(const std::string& trigger, const std::string& period,
                     const std::string& action) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("trigger", trigger);
  o->set("period", period);
  o->set("action", action);
  return Stringify(o);
}

Poco::JSON::Array::Ptr IdArray(const std::vector<std::string>& ids) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const auto& id : ids) arr->add(id);
  return arr;
}

std::string HoldBody(const std::string& name, const std::vector<std::string>& record_ids) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("name", name);
  o->set("reason", "pending litigation; preserve every document of the customer");
  o->set("caseRef", "CASE-2026-017");
  o->set("recordIds", IdArray(record_ids));
  return Stringify(o);
}

std::string RecordIdsBody(const std::vector<std::string>& record_ids) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordIds", IdArray(record_ids));
  return Stringify(o);
}

std::string BatchBody(const std::vector<std::string>& record_ids) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordIds", IdArray(record_ids));
  o->set("reason", "retention period ended");
  return Stringify(o);
}

// -------------------------------------------------------- record metadata

std::string ContractEndingJson(const std::string& title, const std::string& end_date) {
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("counterparty", "Harbour Logistics Co.");
  meta->set("contractNumber", "HT-2026-0917");
  meta->set("signedDate", "2026-01-05");
  meta->set("endDate", end_date);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("type", "contract");
  o->set("title", title);
  o->set("department", "sales");
  o->set("classification", "internal");
  o->set("metadata", meta);
  return Stringify(o);
}

std::string QualificationJson(const std::string& title, const std::string& valid_until) {
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("issuer", "China Quality Certification Centre");
  meta->set("certificateNumber", "CQC-2026-55021");
  meta->set("validUntil", valid_until);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("type", "qualification");
  o->set("title", title);
  o->set("department", "sales");
  o->set("classification", "internal");
  o->set("metadata", meta);
  return Stringify(o);
}

std::string CustomerFileJson(const std::string& title, const std::string& customer_id) {
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("customerName", "Lakeside Instruments");
  meta->set("customerId", customer_id);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("type", "customer_file");
  o->set("title", title);
  o->set("department", "sales");
  o->set("classification", "internal");
  o->set("metadata", meta);
  return Stringify(o);
}

// "YYYY-MM-DD" with `years` added to the year (no 29 February involved).
std::string PlusYears(const std::string& day, int years) {
  return std::to_string(std::stoi(day.substr(0, 4)) + years) + day.substr(4);
}

// -------------------------------------------------------------- JSON access

std::vector<Poco::JSON::Object::Ptr> Objects(const Poco::JSON::Array::Ptr& arr) {
  std::vector<Poco::JSON::Object::Ptr> out;
  for (size_t i = 0; arr && i < arr->size(); ++i) {
    out.push_back(arr->getObject(static_cast<unsigned>(i)));
  }
  return out;
}

std::vector<std::string> Strings(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  std::vector<std::string> out;
  if (!o || !o->has(key) || o->isNull(key)) return out;
  Poco::JSON::Array::Ptr arr = o->getArray(key);
  for (size_t i = 0; arr && i < arr->size(); ++i) {
    out.push_back(arr->get(static_cast<unsigned>(i)).convert<std::string>());
  }
  return out;
}

void ExpectError(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << Describe(r);
  EXPECT_EQ(ErrorCode(r), code) << Describe(r);
}

// --------------------------------------------------------- offline checks

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

std::vector<const crypto::note::Verifier*> Pointers(
    const std::vector<crypto::note::KeyVerifier>& keys) {
  std::vector<const crypto::note::Verifier*> out;
  for (const auto& k : keys) out.push_back(&k);
  return out;
}

// Verifies a tlog-proof@v1 receipt offline (docs/formats/receipt.md) and
// returns the leaf it proves; "" (after ADD_FAILURE) when it does not verify.
std::string VerifiedReceiptLeaf(const std::string& receipt,
                                const std::vector<crypto::note::KeyVerifier>& keys) {
  const std::string kMagic = "c2sp.org/tlog-proof@v1\n";
  if (receipt.compare(0, kMagic.size(), kMagic) != 0) {
    ADD_FAILURE() << "not a tlog-proof: " << receipt.substr(0, 80);
    return "";
  }
  size_t blank = receipt.find("\n\n");
  if (blank == std::string::npos) {
    ADD_FAILURE() << "receipt without a checkpoint";
    return "";
  }
  std::vector<std::string> lines =
      SplitLines(receipt.substr(kMagic.size(), blank + 1 - kMagic.size()));
  if (lines.size() < 2 || lines[0].rfind("extra ", 0) != 0 || lines[1].rfind("index ", 0) != 0) {
    ADD_FAILURE() << "receipt lacks its extra and index lines";
    return "";
  }
  auto leaf = crypto::Base64Decode(lines[0].substr(6));
  if (!leaf) {
    ADD_FAILURE() << "extra is not base64";
    return "";
  }
  uint64_t index = std::stoull(lines[1].substr(6));
  std::vector<crypto::Bytes> proof;
  for (size_t i = 2; i < lines.size(); ++i) {
    auto h = crypto::Base64Decode(lines[i]);
    if (!h) {
      ADD_FAILURE() << "proof line is not base64: " << lines[i];
      return "";
    }
    proof.push_back(*h);
  }
  auto cp = crypto::OpenCheckpoint(receipt.substr(blank + 2), Pointers(keys));
  if (!cp.ok()) {
    ADD_FAILURE() << "receipt checkpoint: " << cp.status().ToString();
    return "";
  }
  std::string leaf_text(leaf->begin(), leaf->end());
  Status inclusion = merkle::VerifyInclusion(
      index, cp->checkpoint.size, merkle::HashLeaf(leaf_text), proof, cp->checkpoint.root);
  if (!inclusion.ok()) {
    ADD_FAILURE() << "receipt inclusion: " << inclusion.ToString();
    return "";
  }
  Poco::JSON::Object::Ptr event = JsonObject(leaf_text);
  if (Int(event, "seq") != static_cast<int64_t>(index)) {
    ADD_FAILURE() << "receipt leaf is not entry " << index;
    return "";
  }
  return leaf_text;
}

// ------------------------------------------------------------------ suite

class ApiRetention : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ApiServer::Create().release();
    if (server_ == nullptr) return;
    // The schedules of the fresh archive, before any test changes one.
    HttpResult r = server_->As("archivist", "GET", "/v1/retention/schedules");
    EXPECT_EQ(r.status, 200) << Describe(r);
    initial_schedules_ = new std::string(r.body);
    HttpResult key = server_->As(kAnonymous, "GET", "/v1/log/key");
    EXPECT_EQ(key.status, 200) << Describe(key);
    keys_ = new std::vector<crypto::note::KeyVerifier>;
    for (const std::string& line : SplitLines(key.body)) {
      if (line.empty()) continue;
      auto v = crypto::note::KeyVerifier::FromVerifierKey(line);
      EXPECT_TRUE(v.ok()) << line << ": " << v.status().ToString();
      if (v.ok()) keys_->push_back(std::move(v).value());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete initial_schedules_;
    initial_schedules_ = nullptr;
    delete keys_;
    keys_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the server did not come up";
    ASSERT_FALSE(keys_->empty()) << "no log verifier key";
  }

  ApiServer& S() { return *server_; }

  // Checks in a record with one file as the archivist; its JSON or null.
  Poco::JSON::Object::Ptr CheckIn(const std::string& metadata, const std::string& bytes) {
    return S().CheckInOk("archivist", metadata, {FilePart("doc.pdf", bytes)});
  }

  Poco::JSON::Object::Ptr Record(const std::string& id, const std::string& role = "archivist") {
    HttpResult r = S().As(role, "GET", "/v1/records/" + id);
    EXPECT_EQ(r.status, 200) << Describe(r);
    return JsonObject(r.body);
  }

  Poco::JSON::Object::Ptr Retention(const std::string& id) {
    Poco::JSON::Object::Ptr rec = Record(id);
    if (!rec || !rec->has("retention")) {
      ADD_FAILURE() << "record " << id << " shows no retention";
      return {};
    }
    return rec->getObject("retention");
  }

  // The schedule of `type` from GET /v1/retention/schedules.
  Poco::JSON::Object::Ptr Schedule(const std::string& type) {
    HttpResult r = S().As("legal", "GET", "/v1/retention/schedules");
    EXPECT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    for (const auto& s : Objects(o ? o->getArray("schedules") : nullptr)) {
      if (Str(s, "type") == type) return s;
    }
    ADD_FAILURE() << "no schedule for " << type;
    return {};
  }

  // PUT a shortening schedule as the archivist (202) and approve it as legal.
  void ShortenScheduleApproved(const std::string& type, const std::string& body) {
    HttpResult put = S().As("archivist", "PUT", "/v1/retention/schedules/" + type, body, kJson);
    ASSERT_EQ(put.status, 202) << Describe(put);
    const std::string change = Str(JsonObject(put.body), "id");
    HttpResult ok = S().As("legal", "POST", "/v1/retention/changes/" + change + "/approve");
    ASSERT_EQ(ok.status, 200) << Describe(ok);
    ASSERT_EQ(Str(JsonObject(ok.body), "state"), "approved");
  }

  // The ids in GET /v1/disposition/due as `role`.
  std::set<std::string> DueIds(const std::string& role = "archivist") {
    HttpResult r = S().As(role, "GET", "/v1/disposition/due");
    EXPECT_EQ(r.status, 200) << Describe(r);
    std::set<std::string> out;
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    for (const auto& rec : Objects(o ? o->getArray("records") : nullptr))
      out.insert(Str(rec, "id"));
    return out;
  }

  // POST /v1/destructions/{id}/{action} as `role`.
  HttpResult Batch(const std::string& role, const std::string& id, const std::string& action) {
    return S().As(role, "POST", "/v1/destructions/" + id + "/" + action);
  }

  // The signed checkpoint now, opened with the log key.
  crypto::Checkpoint Checkpoint() {
    HttpResult r = S().As(kAnonymous, "GET", "/v1/log/checkpoint");
    EXPECT_EQ(r.status, 200) << Describe(r);
    auto cp = crypto::OpenCheckpoint(r.body, Pointers(*keys_));
    EXPECT_TRUE(cp.ok()) << cp.status().ToString();
    return cp.ok() ? cp->checkpoint : crypto::Checkpoint{};
  }

  // Checks that log entry {index, leaf} is in the tree of `cp`.
  void ExpectIncluded(const Poco::JSON::Object::Ptr& entry, const crypto::Checkpoint& cp) {
    const int64_t index = Int(entry, "index");
    auto leaf = crypto::Base64Decode(Str(entry, "leaf"));
    ASSERT_TRUE(leaf) << "entry " << index;
    HttpResult r = S().As("auditor", "GET",
                          "/v1/log/proof/inclusion?index=" + std::to_string(index) +
                              "&size=" + std::to_string(cp.size));
    ASSERT_EQ(r.status, 200) << Describe(r);
    std::vector<crypto::Bytes> proof;
    for (const std::string& h : Strings(JsonObject(r.body), "proof")) {
      auto b = crypto::Base64Decode(h);
      ASSERT_TRUE(b) << h;
      proof.push_back(*b);
    }
    std::string leaf_text(leaf->begin(), leaf->end());
    Status s = merkle::VerifyInclusion(static_cast<uint64_t>(index), cp.size,
                                       merkle::HashLeaf(leaf_text), proof, cp.root);
    EXPECT_TRUE(s.ok()) << "entry " << index << ": " << s.ToString();
  }

  static ApiServer* server_;
  static std::string* initial_schedules_;
  static std::vector<crypto::note::KeyVerifier>* keys_;
};

ApiServer* ApiRetention::server_ = nullptr;
std::string* ApiRetention::initial_schedules_ = nullptr;
std::vector<crypto::note::KeyVerifier>* ApiRetention::keys_ = nullptr;

// ---------------------------------------------------------------- schedules

TEST_F(ApiRetention, FreshArchiveHasTheFiveDefaultSchedules) {
  Poco::JSON::Object::Ptr o = JsonObject(*initial_schedules_);
  ASSERT_TRUE(o) << *initial_schedules_;
  struct Expected {
    std::string trigger, period, action;
  };
  const std::map<std::string, Expected> kDefaults = {
      {"contract", {"contract_end", "P10Y", "destroy"}},
      {"qualification", {"valid_until", "P5Y", "destroy"}},
      {"customer_file", {"last_activity", "P5Y", "destroy"}},
      {"product_dossier", {"created", "P0D", "permanent"}},
      {"general", {"created", "P10Y", "destroy"}},
  };
  std::set<std::string> seen;
  for (const auto& s : Objects(o->getArray("schedules"))) {
    const std::string type = Str(s, "type");
    ASSERT_TRUE(kDefaults.count(type)) << type;
    seen.insert(type);
    EXPECT_EQ(Str(s, "trigger"), kDefaults.at(type).trigger) << type;
    EXPECT_EQ(Str(s, "period"), kDefaults.at(type).period) << type;
    EXPECT_EQ(Str(s, "action"), kDefaults.at(type).action) << type;
    EXPECT_TRUE(s->getValue<bool>("isDefault")) << type;
    EXPECT_TRUE(s->isNull("updatedAt")) << type;
  }
  EXPECT_EQ(seen.size(), 5u);

  // Readers: archivist, legal, auditor; nobody else.
  EXPECT_EQ(S().As("auditor", "GET", "/v1/retention/schedules").status, 200);
  ExpectError(S().As("staff", "GET", "/v1/retention/schedules"), 403, "forbidden");
  for (const char* administrative : {kAdmin, kSecurity}) {
    ExpectError(S().As(administrative, "GET", "/v1/retention/schedules"), 403, "forbidden");
  }
}

TEST_F(ApiRetention, LengtheningAppliesAtOnceAndShorteningWaitsForLegal) {
  auto rec = CheckIn(QualificationJson("ISO 9001 certificate", "2027-12-31"), "iso 9001");
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  Poco::JSON::Object::Ptr before = Retention(id);
  EXPECT_EQ(Str(before, "source"), "schedule");
  EXPECT_EQ(Str(before, "triggerDate"), "2027-12-31");
  EXPECT_EQ(Str(before, "dispositionDate"), "2032-12-31");

  // Lengthening: 200, the schedule and the record's date change at once.
  const std::string longer = RuleBody("valid_until", "P6Y", "destroy");
  ExpectError(S().As("staff", "PUT", "/v1/retention/schedules/qualification", longer, kJson), 403,
              "forbidden");
  ExpectError(S().As("legal", "PUT", "/v1/retention/schedules/qualification", longer, kJson), 403,
              "forbidden");
  HttpResult put =
      S().As("archivist", "PUT", "/v1/retention/schedules/qualification", longer, kJson);
  ASSERT_EQ(put.status, 200) << Describe(put);
  Poco::JSON::Object::Ptr applied = JsonObject(put.body);
  EXPECT_EQ(Str(applied, "type"), "qualification");
  EXPECT_EQ(Str(applied, "period"), "P6Y");
  EXPECT_FALSE(applied->getValue<bool>("isDefault"));
  EXPECT_EQ(Str(applied, "updatedBy"), "archivist");
  EXPECT_EQ(Str(Schedule("qualification"), "period"), "P6Y");
  EXPECT_EQ(Str(Retention(id), "dispositionDate"), "2033-12-31");

  // Shortening: 202 with a pending change; nothing changes yet.
  HttpResult shorter = S().As("archivist", "PUT", "/v1/retention/schedules/qualification",
                              RuleBody("valid_until", "P5Y", "destroy"), kJson);
  ASSERT_EQ(shorter.status, 202) << Describe(shorter);
  Poco::JSON::Object::Ptr change = JsonObject(shorter.body);
  const std::string change_id = Str(change, "id");
  EXPECT_EQ(change_id.rfind("RC-", 0), 0u) << change_id;
  EXPECT_EQ(Str(change, "state"), "pending");
  EXPECT_EQ(Str(change, "scope"), "schedule");
  EXPECT_EQ(Str(change, "target"), "qualification");
  EXPECT_EQ(Str(change->getObject("from"), "period"), "P6Y");
  EXPECT_EQ(Str(change->getObject("to"), "period"), "P5Y");
  EXPECT_EQ(Str(change, "requestedBy"), "archivist");
  EXPECT_EQ(Str(Schedule("qualification"), "period"), "P6Y");
  EXPECT_EQ(Str(Retention(id), "dispositionDate"), "2033-12-31");

  HttpResult pending = S().As("auditor", "GET", "/v1/retention/changes?state=pending");
  ASSERT_EQ(pending.status, 200) << Describe(pending);
  std::set<std::string> pending_ids;
  for (const auto& c : Objects(JsonObject(pending.body)->getArray("changes"))) {
    pending_ids.insert(Str(c, "id"));
  }
  EXPECT_EQ(pending_ids.count(change_id), 1u);

  // Only legal decides; the archivist who asked may not.
  const std::string approve = "/v1/retention/changes/" + change_id + "/approve";
  ExpectError(S().As("archivist", "POST", approve), 403, "forbidden");
  ExpectError(S().As("approver", "POST", approve), 403, "forbidden");
  HttpResult ok = S().As("legal", "POST", approve);
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  Poco::JSON::Object::Ptr decided = JsonObject(ok.body);
  EXPECT_EQ(Str(decided, "state"), "approved");
  EXPECT_EQ(Str(decided, "decidedBy"), "legal");
  EXPECT_FALSE(decided->isNull("decidedAt"));
  EXPECT_EQ(Str(Schedule("qualification"), "period"), "P5Y");
  EXPECT_EQ(Str(Retention(id), "dispositionDate"), "2032-12-31");
  ExpectError(S().As("legal", "POST", approve), 409, "invalid_change_state");
  ExpectError(S().As("legal", "POST", "/v1/retention/changes/" + change_id + "/reject"), 409,
              "invalid_change_state");

  // The reject path: the schedule stays as it was.
  HttpResult again = S().As("archivist", "PUT", "/v1/retention/schedules/qualification",
                            RuleBody("valid_until", "P3Y", "destroy"), kJson);
  ASSERT_EQ(again.status, 202) << Describe(again);
  const std::string second = Str(JsonObject(again.body), "id");
  EXPECT_NE(second, change_id);
  HttpResult rejected =
      S().As("legal", "POST", "/v1/retention/changes/" + second + "/reject",
             "{\"reason\":\"the certification body requires five years\"}", kJson);
  ASSERT_EQ(rejected.status, 200) << Describe(rejected);
  EXPECT_EQ(Str(JsonObject(rejected.body), "state"), "rejected");
  EXPECT_EQ(Str(JsonObject(rejected.body), "reason"), "the certification body requires five years");
  EXPECT_EQ(Str(Schedule("qualification"), "period"), "P5Y");
  ExpectError(S().As("legal", "POST", "/v1/retention/changes/" + second + "/approve"), 409,
              "invalid_change_state");
  ExpectError(S().As("legal", "POST", "/v1/retention/changes/RC-2026-999999/approve"), 404,
              "change_not_found");
}

TEST_F(ApiRetention, InvalidRulesAreRefusedWith422) {
  const std::string path = "/v1/retention/schedules/general";
  const std::string before = Stringify(Schedule("general"));
  ExpectError(S().As("archivist", "PUT", path, RuleBody("created", "10Y", "destroy"), kJson), 422,
              "invalid_period");
  ExpectError(S().As("archivist", "PUT", path, RuleBody("created", "PT10H", "destroy"), kJson), 422,
              "invalid_period");
  ExpectError(S().As("archivist", "PUT", path, RuleBody("signed", "P10Y", "destroy"), kJson), 422,
              "invalid_trigger");
  ExpectError(S().As("archivist", "PUT", path, RuleBody("created", "P10Y", "shred"), kJson), 422,
              "invalid_action");
  ExpectError(S().As("archivist", "PUT", "/v1/retention/schedules/invoice",
                     RuleBody("created", "P10Y", "destroy"), kJson),
              422, "invalid_type");
  ExpectError(
      S().As("archivist", "PUT", path, "{\"trigger\":\"created\",\"period\":\"P10Y\"}", kJson), 422,
      "invalid_action");
  ExpectError(
      S().As("archivist", "PUT", path,
             "{\"trigger\":\"created\",\"period\":\"P10Y\",\"action\":\"destroy\",\"x\":1}", kJson),
      400, "unknown_field");
  // None of that changed anything.
  EXPECT_EQ(Stringify(Schedule("general")), before);
}

// ------------------------------------------------------- per-record rules

TEST_F(ApiRetention, RecordOverrideShowsItsSourceAndShorteningWaits) {
  auto rec = CheckIn(ContractEndingJson("Warehouse lease Qingdao", "2030-06-30"), "lease");
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  // The check-in answer already carries the retention.
  ASSERT_TRUE(rec->has("retention"));
  EXPECT_EQ(Str(rec->getObject("retention"), "dispositionDate"), "2040-06-30");

  Poco::JSON::Object::Ptr r = Retention(id);
  EXPECT_EQ(Str(r, "source"), "schedule");
  EXPECT_EQ(Str(r, "trigger"), "contract_end");
  EXPECT_EQ(Str(r, "period"), "P10Y");
  EXPECT_EQ(Str(r, "action"), "destroy");
  EXPECT_EQ(Str(r, "triggerDate"), "2030-06-30");
  EXPECT_EQ(Str(r, "dispositionDate"), "2040-06-30");
  EXPECT_FALSE(r->getValue<bool>("due"));
  Poco::JSON::Object::Ptr detail = Record(id, "staff");
  EXPECT_TRUE(detail->getArray("holds")->size() == 0);
  EXPECT_TRUE(detail->isNull("tombstone"));

  HttpResult direct = S().As("legal", "GET", "/v1/records/" + id + "/retention");
  ASSERT_EQ(direct.status, 200) << Describe(direct);
  EXPECT_EQ(Str(JsonObject(direct.body), "dispositionDate"), "2040-06-30");

  // Lengthening override by an archivist: applied, source "record".
  const std::string path = "/v1/records/" + id + "/retention";
  const std::string longer = RuleBody("contract_end", "P12Y", "destroy");
  ExpectError(S().As("staff", "PUT", path, longer, kJson), 403, "forbidden");
  ExpectError(S().As("legal", "PUT", path, longer, kJson), 403, "forbidden");
  HttpResult put = S().As("archivist", "PUT", path, longer, kJson);
  ASSERT_EQ(put.status, 200) << Describe(put);
  EXPECT_EQ(Str(JsonObject(put.body), "source"), "record");
  EXPECT_EQ(Str(JsonObject(put.body), "dispositionDate"), "2042-06-30");
  r = Retention(id);
  EXPECT_EQ(Str(r, "source"), "record");
  EXPECT_EQ(Str(r, "period"), "P12Y");
  EXPECT_EQ(Str(r, "dispositionDate"), "2042-06-30");

  // `review` keeps the record at least as long as `destroy`: applied too.
  HttpResult review =
      S().As("archivist", "PUT", path, RuleBody("contract_end", "P12Y", "review"), kJson);
  ASSERT_EQ(review.status, 200) << Describe(review);
  EXPECT_EQ(Str(JsonObject(review.body), "action"), "review");

  // Shortening the record's rule: 202, pending until legal approves.
  HttpResult shorter =
      S().As("archivist", "PUT", path, RuleBody("contract_end", "P11Y", "destroy"), kJson);
  ASSERT_EQ(shorter.status, 202) << Describe(shorter);
  Poco::JSON::Object::Ptr change = JsonObject(shorter.body);
  EXPECT_EQ(Str(change, "state"), "pending");
  EXPECT_EQ(Str(change, "scope"), "record");
  EXPECT_EQ(Str(change, "target"), id);
  EXPECT_EQ(Str(Retention(id), "dispositionDate"), "2042-06-30");
  HttpResult ok =
      S().As("legal", "POST", "/v1/retention/changes/" + Str(change, "id") + "/approve");
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  r = Retention(id);
  EXPECT_EQ(Str(r, "source"), "record");
  EXPECT_EQ(Str(r, "period"), "P11Y");
  EXPECT_EQ(Str(r, "action"), "destroy");
  EXPECT_EQ(Str(r, "dispositionDate"), "2041-06-30");

  // The contract schedule itself never moved.
  EXPECT_EQ(Str(Schedule("contract"), "period"), "P10Y");

  // Every rule change is in the record's history.
  HttpResult history = S().As("auditor", "GET", "/v1/records/" + id + "/history");
  ASSERT_EQ(history.status, 200) << Describe(history);
  std::vector<std::string> actions;
  for (const auto& e : Objects(JsonObject(history.body)->getArray("entries"))) {
    actions.push_back(Str(e->getObject("event"), "action"));
  }
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "retention.override"), 2)
      << history.body.substr(0, 400);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "retention.change_request"), 1);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "retention.change_approve"), 1);

  ExpectError(S().As("archivist", "PUT", "/v1/records/CT-2026-999999/retention", longer, kJson),
              404, "record_not_found");
}

TEST_F(ApiRetention, DispositionDatesUseCalendarArithmetic) {
  // 2024-02-29 + P10Y is 2034-02-28: the month has no 29th that year.
  auto leap = CheckIn(ContractEndingJson("Leap day contract", "2024-02-29"), "leap");
  ASSERT_TRUE(leap);
  Poco::JSON::Object::Ptr r = Retention(Str(leap, "id"));
  EXPECT_EQ(Str(r, "triggerDate"), "2024-02-29");
  EXPECT_EQ(Str(r, "dispositionDate"), "2034-02-28");

  // A contract without an end date has no disposition date and is never due.
  auto open = CheckIn(ContractJson("Framework agreement, open-ended", "Sunrise Tools"), "open");
  ASSERT_TRUE(open);
  r = Retention(Str(open, "id"));
  EXPECT_TRUE(r->isNull("triggerDate"));
  EXPECT_TRUE(r->isNull("dispositionDate"));
  EXPECT_FALSE(r->getValue<bool>("due"));
}

// ------------------------------------------------------ disposition, holds

TEST_F(ApiRetention, HoldTakesADueRecordOutOfTheQueueUntilReleased) {
  auto rec = CheckIn(CustomerFileJson("Lakeside Instruments customer file", "C-0042"), "file");
  auto other = CheckIn(CustomerFileJson("Lakeside Instruments orders 2025", "C-0042"), "orders");
  ASSERT_TRUE(rec && other);
  const std::string id = Str(rec, "id");
  const std::string other_id = Str(other, "id");
  // last_activity: the UTC day of the check-in, the record's last change.
  const std::string changed = Str(rec, "updatedAt").substr(0, 10);
  Poco::JSON::Object::Ptr r = Retention(id);
  EXPECT_EQ(Str(r, "trigger"), "last_activity");
  EXPECT_EQ(Str(r, "triggerDate"), changed);
  EXPECT_EQ(Str(r, "dispositionDate"), PlusYears(changed, 5));
  EXPECT_EQ(DueIds().count(id), 0u);

  // Customer files: destroy on the day of check-in.
  ShortenScheduleApproved("customer_file", RuleBody("created", "P0D", "destroy"));
  EXPECT_TRUE(Retention(id)->getValue<bool>("due"));

  // The queue lists it, and listing it marks it disposition_due.
  HttpResult due = S().As("legal", "GET", "/v1/disposition/due");
  ASSERT_EQ(due.status, 200) << Describe(due);
  Poco::JSON::Object::Ptr listed;
  for (const auto& x : Objects(JsonObject(due.body)->getArray("records"))) {
    if (Str(x, "id") == id) listed = x;
  }
  ASSERT_TRUE(listed) << due.body.substr(0, 400);
  EXPECT_EQ(Str(listed->getObject("retention"), "dispositionDate"),
            Str(listed, "createdAt").substr(0, 10));
  EXPECT_EQ(Str(Record(id), "state"), "disposition_due");
  ExpectError(S().As("staff", "GET", "/v1/disposition/due"), 403, "forbidden");

  // A hold by legal: on_hold, out of the queue.
  ExpectError(S().As("archivist", "POST", "/v1/holds", HoldBody("Lakeside dispute", {id}), kJson),
              403, "forbidden");
  HttpResult created =
      S().As("legal", "POST", "/v1/holds", HoldBody("Lakeside dispute", {id}), kJson);
  ASSERT_EQ(created.status, 201) << Describe(created);
  Poco::JSON::Object::Ptr hold = JsonObject(created.body);
  const std::string hold_id = Str(hold, "id");
  EXPECT_EQ(hold_id.rfind("LH-", 0), 0u) << hold_id;
  EXPECT_EQ(Str(hold, "state"), "active");
  EXPECT_EQ(Str(hold, "caseRef"), "CASE-2026-017");
  EXPECT_EQ(Str(hold, "createdBy"), "legal");
  EXPECT_EQ(Strings(hold, "recordIds"), std::vector<std::string>{id});

  Poco::JSON::Object::Ptr held = Record(id);
  EXPECT_EQ(Str(held, "state"), "on_hold");
  EXPECT_EQ(Strings(held, "holds"), std::vector<std::string>{hold_id});
  EXPECT_FALSE(held->getObject("retention")->getValue<bool>("due"));
  std::set<std::string> queue = DueIds();
  EXPECT_EQ(queue.count(id), 0u);
  EXPECT_EQ(queue.count(other_id), 1u);

  // Held: it cannot be proposed for destruction, nor its retention shortened.
  HttpResult propose = S().As("archivist", "POST", "/v1/destructions", BatchBody({id}), kJson);
  ExpectError(propose, 409, "record_on_hold");
  EXPECT_NE(ErrorMessage(propose).find(hold_id), std::string::npos) << ErrorMessage(propose);
  HttpResult shorten = S().As("archivist", "PUT", "/v1/records/" + id + "/retention",
                              RuleBody("last_activity", "P0D", "destroy"), kJson);
  ExpectError(shorten, 409, "record_on_hold");
  EXPECT_NE(ErrorMessage(shorten).find(hold_id), std::string::npos) << ErrorMessage(shorten);

  // Reading holds: archivist, legal, auditor.
  HttpResult list = S().As("auditor", "GET", "/v1/holds");
  ASSERT_EQ(list.status, 200) << Describe(list);
  std::set<std::string> hold_ids;
  for (const auto& h : Objects(JsonObject(list.body)->getArray("holds")))
    hold_ids.insert(Str(h, "id"));
  EXPECT_EQ(hold_ids.count(hold_id), 1u);
  ExpectError(S().As("staff", "GET", "/v1/holds"), 403, "forbidden");
  HttpResult one = S().As("archivist", "GET", "/v1/holds/" + hold_id);
  ASSERT_EQ(one.status, 200) << Describe(one);
  EXPECT_EQ(Str(JsonObject(one.body), "name"), "Lakeside dispute");
  ExpectError(S().As("legal", "GET", "/v1/holds/LH-2026-999999"), 404, "hold_not_found");

  // Adding and removing a record.
  HttpResult added = S().As("legal", "POST", "/v1/holds/" + hold_id + "/records",
                            RecordIdsBody({other_id}), kJson);
  ASSERT_EQ(added.status, 200) << Describe(added);
  EXPECT_EQ(Strings(JsonObject(added.body), "recordIds"), (std::vector<std::string>{id, other_id}));
  EXPECT_EQ(Str(Record(other_id), "state"), "on_hold");
  ExpectError(S().As("legal", "POST", "/v1/holds/" + hold_id + "/records",
                     RecordIdsBody({"CF-2026-999999"}), kJson),
              404, "record_not_found");
  HttpResult removed = S().As("legal", "DELETE", "/v1/holds/" + hold_id + "/records/" + other_id);
  ASSERT_EQ(removed.status, 200) << Describe(removed);
  EXPECT_EQ(Strings(JsonObject(removed.body), "recordIds"), std::vector<std::string>{id});
  EXPECT_EQ(Str(Record(other_id), "state"), "disposition_due");
  ExpectError(S().As("legal", "DELETE", "/v1/holds/" + hold_id + "/records/" + other_id), 404,
              "record_not_held");

  // Release: back in the queue, disposition_due again.
  ExpectError(S().As("archivist", "POST", "/v1/holds/" + hold_id + "/release"), 403, "forbidden");
  HttpResult released = S().As("legal", "POST", "/v1/holds/" + hold_id + "/release");
  ASSERT_EQ(released.status, 200) << Describe(released);
  EXPECT_EQ(Str(JsonObject(released.body), "state"), "released");
  EXPECT_EQ(Str(JsonObject(released.body), "releasedBy"), "legal");
  ExpectError(S().As("legal", "POST", "/v1/holds/" + hold_id + "/release"), 409, "hold_released");
  ExpectError(
      S().As("legal", "POST", "/v1/holds/" + hold_id + "/records", RecordIdsBody({id}), kJson), 409,
      "hold_released");
  Poco::JSON::Object::Ptr back = Record(id);
  EXPECT_EQ(Str(back, "state"), "disposition_due");
  EXPECT_EQ(back->getArray("holds")->size(), 0u);
  EXPECT_EQ(DueIds("auditor").count(id), 1u);

  // Each state change is a record.state event in the record's history.
  HttpResult history = S().As("auditor", "GET", "/v1/records/" + id + "/history");
  ASSERT_EQ(history.status, 200) << Describe(history);
  std::vector<std::string> transitions;
  for (const auto& e : Objects(JsonObject(history.body)->getArray("entries"))) {
    Poco::JSON::Object::Ptr ev = e->getObject("event");
    if (Str(ev, "action") != "record.state") continue;
    transitions.push_back(Str(ev->getObject("details"), "from") + ">" +
                          Str(ev->getObject("details"), "to"));
  }
  EXPECT_EQ(transitions,
            (std::vector<std::string>{"active>disposition_due", "disposition_due>on_hold",
                                      "on_hold>disposition_due"}));
}

TEST_F(ApiRetention, HoldRefusesUnknownRecordsAndMissingFields) {
  ExpectError(S().As("legal", "POST", "/v1/holds", HoldBody("Ghost", {"GN-2026-999999"}), kJson),
              404, "record_not_found");
  ExpectError(S().As("legal", "POST", "/v1/holds", "{\"reason\":\"x\"}", kJson), 400,
              "missing_field");
  ExpectError(S().As("legal", "POST", "/v1/holds", "{\"name\":\"n\",\"reason\":\" \"}", kJson), 422,
              "invalid_reason");
}

// -------------------------------------------------------------- destruction

TEST_F(ApiRetention, DestructionNeedsTwoApprovalsThenShredsAndCertifies) {
  // A record that is not due yet: refused, named in the message.
  auto not_due =
      CheckIn(ContractEndingJson("Supply contract running to 2031", "2031-12-31"), "live");
  ASSERT_TRUE(not_due);
  const std::string not_due_id = Str(not_due, "id");
  HttpResult refused =
      S().As("archivist", "POST", "/v1/destructions", BatchBody({not_due_id}), kJson);
  ExpectError(refused, 409, "record_not_due");
  EXPECT_NE(ErrorMessage(refused).find(not_due_id), std::string::npos) << ErrorMessage(refused);

  // General records: destroy on the day of check-in.
  const std::string bytes = PatternBytes(70000, 4242);  // more than one 64 KiB chunk
  auto rec = CheckIn(GeneralJson("Expired visitor log 2019"), bytes);
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  Poco::JSON::Object::Ptr file =
      rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  const std::string content = "/v1/records/" + id + "/versions/1/files/" + Str(file, "id");
  ASSERT_EQ(Str(file, "sha256"), Sha256Hex(bytes));
  ShortenScheduleApproved("general", RuleBody("created", "P0D", "destroy"));
  EXPECT_TRUE(Retention(id)->getValue<bool>("due"));
  ASSERT_EQ(S().As("archivist", "GET", content).status, 200);

  // Proposal by an archivist only.
  ExpectError(S().As("staff", "POST", "/v1/destructions", BatchBody({id}), kJson), 403,
              "forbidden");
  ExpectError(S().As("legal", "POST", "/v1/destructions", BatchBody({id}), kJson), 403,
              "forbidden");
  HttpResult mixed =
      S().As("archivist", "POST", "/v1/destructions", BatchBody({id, not_due_id}), kJson);
  ExpectError(mixed, 409, "record_not_due");
  EXPECT_NE(ErrorMessage(mixed).find(not_due_id), std::string::npos) << ErrorMessage(mixed);
  HttpResult proposed = S().As("archivist", "POST", "/v1/destructions", BatchBody({id}), kJson);
  ASSERT_EQ(proposed.status, 201) << Describe(proposed);
  Poco::JSON::Object::Ptr batch = JsonObject(proposed.body);
  const std::string batch_id = Str(batch, "id");
  EXPECT_EQ(batch_id.rfind("DB-", 0), 0u) << batch_id;
  EXPECT_EQ(Str(batch, "state"), "proposed");
  EXPECT_EQ(Str(batch, "proposedBy"), "archivist");
  auto items = Objects(batch->getArray("records"));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(Str(items[0], "recordId"), id);
  EXPECT_EQ(Str(items[0]->getObject("retention"), "period"), "P0D");
  EXPECT_EQ(Str(items[0]->getArray("files")->getObject(0), "sha256"), Sha256Hex(bytes));
  ExpectError(S().As("archivist", "POST", "/v1/destructions", BatchBody({id}), kJson), 409,
              "record_in_batch");

  // Approvals: never the proposer, only the configured roles, each person once.
  ExpectError(Batch("archivist", batch_id, "approve"), 403, "self_approval");
  ExpectError(Batch("staff", batch_id, "approve"), 403, "forbidden");
  ExpectError(Batch("auditor", batch_id, "approve"), 403, "forbidden");
  ExpectError(Batch("archivist", batch_id, "execute"), 409, "invalid_batch_state");
  ExpectError(S().As("auditor", "GET", "/v1/destructions/" + batch_id + "/certificate"), 409,
              "not_executed");
  HttpResult first = Batch("approver", batch_id, "approve");
  ASSERT_EQ(first.status, 200) << Describe(first);
  EXPECT_EQ(Str(JsonObject(first.body), "state"), "proposed");
  ExpectError(Batch("approver", batch_id, "approve"), 409, "already_approved");
  ExpectError(Batch("archivist", batch_id, "execute"), 409, "invalid_batch_state");
  HttpResult second = Batch("legal", batch_id, "approve");
  ASSERT_EQ(second.status, 200) << Describe(second);
  Poco::JSON::Object::Ptr approved = JsonObject(second.body);
  EXPECT_EQ(Str(approved, "state"), "approved");
  auto approvals = Objects(approved->getArray("approvals"));
  ASSERT_EQ(approvals.size(), 2u);
  EXPECT_EQ(Str(approvals[0], "by"), "approver");
  EXPECT_EQ(Str(approvals[0], "role"), "approver");
  EXPECT_EQ(Str(approvals[1], "by"), "legal");
  EXPECT_EQ(Str(approvals[1], "role"), "legal");
  ExpectError(Batch("legal", batch_id, "approve"), 409, "invalid_batch_state");

  // Execution by an archivist.
  ExpectError(Batch("approver", batch_id, "execute"), 403, "forbidden");
  const size_t blobs_before = CountBlobs(S().data_dir());
  HttpResult executed = Batch("archivist", batch_id, "execute");
  ASSERT_EQ(executed.status, 200) << Describe(executed);
  Poco::JSON::Object::Ptr done = JsonObject(executed.body);
  EXPECT_EQ(Str(done, "state"), "executed");
  EXPECT_EQ(Str(done, "executedBy"), "archivist");
  EXPECT_TRUE(done->getValue<bool>("hasCertificate"));
  const int64_t event_index = Int(done->getArray("records")->getObject(0), "eventIndex");
  ASSERT_GT(event_index, 0);
  EXPECT_EQ(CountBlobs(S().data_dir()), blobs_before - 1) << "the ciphertext is still on disk";

  // The content is gone for good; the tombstone stays.
  ExpectError(S().As("archivist", "GET", content), 410, "content_destroyed");
  Poco::JSON::Object::Ptr tomb_rec = Record(id, "auditor");
  EXPECT_EQ(Str(tomb_rec, "state"), "destroyed");
  EXPECT_EQ(Str(tomb_rec, "title"), "Expired visitor log 2019");
  ASSERT_TRUE(tomb_rec->has("tombstone") && !tomb_rec->isNull("tombstone"));
  Poco::JSON::Object::Ptr tombstone = tomb_rec->getObject("tombstone");
  EXPECT_EQ(Str(tombstone, "batch"), batch_id);
  EXPECT_EQ(Int(tombstone, "eventIndex"), event_index);
  EXPECT_EQ(Str(tombstone, "destroyedBy"), "archivist");
  EXPECT_EQ(Objects(tombstone->getArray("approvals")).size(), 2u);
  Poco::JSON::Object::Ptr shown =
      tomb_rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  EXPECT_TRUE(shown->getValue<bool>("destroyed"));
  EXPECT_EQ(Str(shown, "sha256"), Sha256Hex(bytes));
  ExpectError(S().As("archivist", "PATCH", "/v1/records/" + id, "{\"title\":\"x\"}", kJson), 409,
              "record_destroyed");
  ExpectError(S().As("archivist", "POST", "/v1/destructions", BatchBody({id}), kJson), 409,
              "record_destroyed");
  EXPECT_EQ(DueIds().count(id), 0u);

  // The history still reads and every entry is in the signed tree.
  const crypto::Checkpoint cp = Checkpoint();
  HttpResult history = S().As("auditor", "GET", "/v1/records/" + id + "/history");
  ASSERT_EQ(history.status, 200) << Describe(history);
  auto entries = Objects(JsonObject(history.body)->getArray("entries"));
  std::vector<std::string> actions;
  for (const auto& e : entries) {
    actions.push_back(Str(e->getObject("event"), "action"));
    ExpectIncluded(e, cp);
  }
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions.front(), "record.checkin");
  EXPECT_EQ(actions.back(), "record.destroy");
  EXPECT_EQ(Int(entries.back(), "index"), event_index);

  // The version's receipt still comes and still names the file's hash.
  HttpResult receipt = S().As("auditor", "GET", "/v1/records/" + id + "/versions/1/receipt");
  ASSERT_EQ(receipt.status, 200) << Describe(receipt);
  Poco::JSON::Object::Ptr checkin = JsonObject(VerifiedReceiptLeaf(receipt.body, *keys_));
  ASSERT_TRUE(checkin);
  EXPECT_EQ(Str(checkin, "action"), "record.checkin");
  EXPECT_EQ(Str(checkin->getObject("details")->getArray("files")->getObject(0), "sha256"),
            Sha256Hex(bytes));

  // The certificate: a signed note that verifies with the log key.
  ExpectError(S().As("staff", "GET", "/v1/destructions/" + batch_id + "/certificate"), 403,
              "forbidden");
  HttpResult cert = S().As("auditor", "GET", "/v1/destructions/" + batch_id + "/certificate");
  ASSERT_EQ(cert.status, 200) << Describe(cert);
  EXPECT_EQ(cert.headers["Content-Type"].rfind("text/plain", 0), 0u)
      << cert.headers["Content-Type"];
  auto note = crypto::note::Open(cert.body, Pointers(*keys_));
  ASSERT_TRUE(note.ok()) << note.status().ToString() << "\n" << cert.body;
  EXPECT_FALSE(note->verified.empty());
  std::vector<std::string> text = SplitLines(note->text);
  ASSERT_EQ(text.size(), 2u) << note->text;
  EXPECT_EQ(text[0], kCertificateHeader);
  Poco::JSON::Object::Ptr body = JsonObject(text[1]);
  ASSERT_TRUE(body) << text[1];
  EXPECT_EQ(Str(body, "batch"), batch_id);
  EXPECT_EQ(Str(body, "proposedBy"), "archivist");
  EXPECT_EQ(Str(body, "executedBy"), "archivist");
  EXPECT_EQ(Objects(body->getArray("approvals")).size(), 2u);
  auto certified = Objects(body->getArray("records"));
  ASSERT_EQ(certified.size(), 1u);
  EXPECT_EQ(Str(certified[0], "recordId"), id);
  EXPECT_EQ(Str(certified[0], "title"), "Expired visitor log 2019");
  EXPECT_EQ(Int(certified[0], "eventIndex"), event_index);
  auto certified_files = Objects(certified[0]->getArray("files"));
  ASSERT_EQ(certified_files.size(), 1u);
  EXPECT_EQ(Str(certified_files[0], "sha256"), Sha256Hex(bytes));
  EXPECT_EQ(Int(certified_files[0], "size"), static_cast<int64_t>(bytes.size()));
  EXPECT_FALSE(certified_files[0]->has("blobId"));
  auto receipts = Objects(body->getArray("receipts"));
  ASSERT_EQ(receipts.size(), 1u);
  EXPECT_EQ(Str(receipts[0], "recordId"), id);
  EXPECT_EQ(Int(receipts[0], "eventIndex"), event_index);
  Poco::JSON::Object::Ptr destroy =
      JsonObject(VerifiedReceiptLeaf(Str(receipts[0], "receipt"), *keys_));
  ASSERT_TRUE(destroy);
  EXPECT_EQ(Str(destroy, "action"), "record.destroy");
  EXPECT_EQ(Str(destroy, "subject"), id);
  EXPECT_EQ(Int(destroy, "seq"), event_index);
  EXPECT_EQ(Str(destroy->getObject("details"), "batch"), batch_id);
  // A certificate altered by one character no longer verifies.
  std::string forged = cert.body;
  forged.replace(forged.find(id), id.size(), "GN-1999-000001");
  EXPECT_FALSE(crypto::note::Open(forged, Pointers(*keys_)).ok());

  // Listing and reading the batch; executing again changes nothing.
  HttpResult listed = S().As("approver", "GET", "/v1/destructions");
  ASSERT_EQ(listed.status, 200) << Describe(listed);
  std::set<std::string> batch_ids;
  for (const auto& b : Objects(JsonObject(listed.body)->getArray("destructions"))) {
    batch_ids.insert(Str(b, "id"));
  }
  EXPECT_EQ(batch_ids.count(batch_id), 1u);
  HttpResult got = S().As("legal", "GET", "/v1/destructions/" + batch_id);
  ASSERT_EQ(got.status, 200) << Describe(got);
  EXPECT_EQ(Str(JsonObject(got.body), "state"), "executed");
  ExpectError(S().As("staff", "GET", "/v1/destructions"), 403, "forbidden");
  ExpectError(S().As("legal", "GET", "/v1/destructions/DB-2026-999999"), 404,
              "destruction_not_found");
  HttpResult again = Batch("archivist", batch_id, "execute");
  ASSERT_EQ(again.status, 200) << Describe(again);
  EXPECT_EQ(S().As("auditor", "GET", "/v1/destructions/" + batch_id + "/certificate").body,
            cert.body);

  // The whole archive verifies clean. custosctl verify only reads (it takes
  // no lock and sweeps nothing), so it runs beside the live server.
  RunResult verify = RunProgram({BinDir() + "/custosctl", "verify", "--data", S().data_dir()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

}  // namespace
}  // namespace custos::testing::api
