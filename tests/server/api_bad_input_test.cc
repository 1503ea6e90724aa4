// Bad input to the v1 API gets a clear 4xx and changes nothing (DESIGN §7):
// after every case the log size, the number of records and the number of
// blobs are what they were before (checked in TearDown).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "domain/model.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// A file large enough to take several reads (and blob chunks) on the server.
constexpr size_t kBigFile = 256 * 1024;

std::string Raw(const std::string& token, const std::string& content_type, uint64_t content_length,
                const std::string& extra_headers = "") {
  return "POST /v1/records HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: " + content_type + "\r\n" +
         (content_length > 0 ? "Content-Length: " + std::to_string(content_length) + "\r\n" : "") +
         extra_headers + "\r\n";
}

// Shared checks of both bad-input fixtures: snapshot before, compare after.
class NothingChangesTest : public ::testing::Test {
 protected:
  virtual ApiServer* server() = 0;
  ApiServer& S() { return *server(); }

  void SetUp() override {
    ASSERT_NE(server(), nullptr) << "the server did not come up";
    log_size_ = S().LogSize();
    records_ = S().SearchTotal("archivist", "pageSize=1");
    blobs_ = CountBlobs(S().data_dir());
    ASSERT_GT(log_size_, 0u);
    ASSERT_GE(records_, 1);
  }
  void TearDown() override {
    if (server() == nullptr) return;
    EXPECT_EQ(S().LogSize(), log_size_) << "the log grew";
    EXPECT_EQ(S().SearchTotal("archivist", "pageSize=1"), records_) << "a record appeared";
    EXPECT_EQ(CountBlobs(S().data_dir()), blobs_) << "a blob was left behind";
    EXPECT_EQ(CountTempBlobs(S().data_dir()), 0u) << "a partial blob was left behind";
  }

  void ExpectError(const HttpResult& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << Describe(r);
    EXPECT_EQ(ErrorCode(r), code) << Describe(r);
  }

  HttpResult Upload(const std::vector<Part>& parts) {
    return S().As("archivist", "POST", "/v1/records", MultipartBody(parts), MultipartType());
  }

  bool WaitForUploadHandled(size_t log_offset) { return api::WaitForUploadHandled(S(), log_offset); }

  // Takes a new snapshot, after a test changed the archive on purpose.
  void Resnapshot() {
    log_size_ = S().LogSize();
    records_ = S().SearchTotal("archivist", "pageSize=1");
    blobs_ = CountBlobs(S().data_dir());
  }

  uint64_t log_size_ = 0;
  int64_t records_ = 0;
  size_t blobs_ = 0;
};

class ApiBadInput : public NothingChangesTest {
 protected:
  static void SetUpTestSuite() {
    server_ = ApiServer::Create("", {"archivist"}).release();
    if (server_ == nullptr) return;
    auto rec = server_->CheckInOk("archivist", GeneralJson("Existing record"),
                                  {FilePart("e.txt", "existing", "text/plain")});
    if (rec) record_id_ = new std::string(Str(rec, "id"));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete record_id_;
    record_id_ = nullptr;
  }
  ApiServer* server() override { return server_; }
  void SetUp() override {
    NothingChangesTest::SetUp();
    ASSERT_NE(record_id_, nullptr);
  }

  static ApiServer* server_;
  static std::string* record_id_;
};

ApiServer* ApiBadInput::server_ = nullptr;
std::string* ApiBadInput::record_id_ = nullptr;

// ------------------------------------------------------------------ JSON

TEST_F(ApiBadInput, SessionWithMalformedJson) {
  ExpectError(S().Call("", "POST", "/v1/session", "{\"username\":\"admin\",\"password\":", kJson),
              400, "malformed_json");
  ExpectError(S().Call("", "POST", "/v1/session", "[\"admin\",\"pw\"]", kJson), 400,
              "malformed_json");
  ExpectError(S().Call("", "POST", "/v1/session",
                       "{\"username\":\"admin\",\"password\":\"x\"} trailing", kJson),
              400, "malformed_json");
  ExpectError(S().Call("", "POST", "/v1/session",
                       "{\"username\":\"admin\",\"username\":\"root\",\"password\":\"x\"}", kJson),
              400, "malformed_json");
  ExpectError(S().Call("", "POST", "/v1/session", "", kJson), 400, "malformed_json");
}

TEST_F(ApiBadInput, SessionWithNumberForUsername) {
  ExpectError(S().Call("", "POST", "/v1/session",
                       "{\"username\":42,\"password\":\"whatever-pass\"}", kJson),
              400, "invalid_field");
  ExpectError(
      S().Call("", "POST", "/v1/session", "{\"username\":\"admin\",\"password\":null}", kJson), 400,
      "missing_field");
}

TEST_F(ApiBadInput, SessionWithUnknownField) {
  HttpResult r = S().Call("", "POST", "/v1/session",
                          "{\"username\":\"admin\",\"password\":\"" + std::string(kAdminPassword) +
                              "\",\"rememberMe\":true}",
                          kJson);
  ExpectError(r, 400, "unknown_field");
  EXPECT_NE(ErrorMessage(r).find("rememberMe"), std::string::npos);
  EXPECT_EQ(r.body.find("token"), std::string::npos);
}

TEST_F(ApiBadInput, CreateUserWithMalformedJson) {
  ExpectError(S().As(kAdmin, "POST", "/v1/users", "{\"username\":\"eve\",", kJson), 400,
              "malformed_json");
  ExpectError(S().As(kAdmin, "POST", "/v1/users", "\"eve\"", kJson), 400, "malformed_json");
}

TEST_F(ApiBadInput, CreateUserWithWrongFieldTypes) {
  ExpectError(S().As(kAdmin, "POST", "/v1/users", R"({"username":7,"department":"sales"})", kJson),
              400, "invalid_field");
  ExpectError(S().As(kAdmin, "POST", "/v1/users",
                     R"({"username":"eve","department":"sales","role":["staff"]})", kJson),
              400, "invalid_field");
  ExpectError(
      S().As(kAdmin, "POST", "/v1/users", R"({"username":"eve","department":{"name":"sales"}})", kJson),
      400, "invalid_field");
  EXPECT_EQ(S().As(kAdmin, "GET", "/v1/users").body.find("\"eve\""), std::string::npos);
}

TEST_F(ApiBadInput, CreateUserWithUnknownField) {
  HttpResult r = S().As(kAdmin, "POST", "/v1/users",
                        R"({"username":"eve","department":"sales","isSuperuser":true})", kJson);
  ExpectError(r, 400, "unknown_field");
  EXPECT_NE(ErrorMessage(r).find("isSuperuser"), std::string::npos);
}

// The system administrator never chooses a new account's password: the
// holder sets it with a set-up code from the security officer.
TEST_F(ApiBadInput, CreateUserWithPasswordIsRefused) {
  HttpResult r = S().As(kAdmin, "POST", "/v1/users",
                        R"({"username":"eve","department":"sales","password":"管理员知道的口令 known"})",
                        kJson);
  ExpectError(r, 422, "password_not_accepted");
  EXPECT_NE(ErrorMessage(r).find("set-up code"), std::string::npos) << ErrorMessage(r);
  EXPECT_EQ(r.body.find("管理员知道的口令"), std::string::npos) << "the password was echoed";
  EXPECT_EQ(S().As(kAdmin, "GET", "/v1/users").body.find("\"eve\""), std::string::npos);
}

TEST_F(ApiBadInput, CreateUserWithMustChangePasswordIsRefused) {
  ExpectError(S().As(kAdmin, "POST", "/v1/users",
                     R"({"username":"eve","department":"sales","mustChangePassword":false})", kJson),
              422, "password_not_accepted");
  EXPECT_EQ(S().As(kAdmin, "GET", "/v1/users").body.find("\"eve\""), std::string::npos);
}

// Roles other than staff are granted by the security officer and confirmed
// by a second person, never given at creation.
TEST_F(ApiBadInput, CreateUserAsArchivistNeedsAGrant) {
  HttpResult r = S().As(kAdmin, "POST", "/v1/users",
                        R"({"username":"eve","department":"sales","role":"archivist"})", kJson);
  ExpectError(r, 409, "grant_required");
  EXPECT_EQ(S().As(kAdmin, "GET", "/v1/users").body.find("\"eve\""), std::string::npos);
}

TEST_F(ApiBadInput, ProposeGrantWithUnknownField) {
  HttpResult r = S().As(kSecurity, "POST", "/v1/grants",
                        R"({"username":"archivist","role":"legal","effective":"now"})", kJson);
  ExpectError(r, 400, "unknown_field");
  EXPECT_NE(ErrorMessage(r).find("effective"), std::string::npos);
  HttpResult grants = S().As(kSecurity, "GET", "/v1/grants");
  ASSERT_EQ(grants.status, 200) << Describe(grants);
  EXPECT_EQ(JsonObject(grants.body)->getArray("grants")->size(), 1u)
      << "only the fixture's archivist grant: " << grants.body;
}

TEST_F(ApiBadInput, SetupWithMalformedJson) {
  ExpectError(S().Call("", "POST", "/v1/setup", R"({"username":"eve","code":)", kJson), 400,
              "malformed_json");
  ExpectError(S().Call("", "POST", "/v1/setup", R"({"username":"eve","code":123456,"password":"x"})",
                       kJson),
              400, "invalid_field");
}

// --------------------------------------------------------------- check-in

TEST_F(ApiBadInput, CheckInThatIsNotMultipart) {
  ExpectError(S().As("archivist", "POST", "/v1/records", GeneralJson("Plain JSON"), kJson), 400,
              "expected_multipart");
  ExpectError(
      S().As("archivist", "POST", "/v1/records",
             MultipartBody({MetadataPart(GeneralJson("No boundary")), FilePart("a.txt", "a")}),
             "multipart/form-data"),
      400, "expected_multipart");
}

TEST_F(ApiBadInput, CheckInWhoseFirstPartIsNotMetadata) {
  ExpectError(
      Upload({FilePart("first.pdf", PatternBytes(5000, 1)), MetadataPart(GeneralJson("Late"))}),
      400, "missing_metadata");
  ExpectError(Upload({}), 400, "missing_metadata");
}

TEST_F(ApiBadInput, CheckInWithMetadataThatIsNotJson) {
  ExpectError(Upload({MetadataPart("type=general&title=x"), FilePart("a.pdf", "a")}), 400,
              "malformed_json");
  ExpectError(Upload({MetadataPart("{\"type\":\"general\",\"title\":5,\"department\":\"sales\","
                                   "\"classification\":\"internal\"}"),
                      FilePart("a.pdf", "a")}),
              400, "invalid_field");
}

TEST_F(ApiBadInput, CheckInOfUnknownType) {
  HttpResult r = Upload({MetadataPart("{\"type\":\"memo\",\"title\":\"x\",\"department\":\"sales\","
                                      "\"classification\":\"internal\"}"),
                         FilePart("a.pdf", "a")});
  ExpectError(r, 422, "invalid_type");
  ExpectError(Upload({MetadataPart("{\"type\":\"general\",\"title\":\"x\",\"department\":\"sales\","
                                   "\"classification\":\"top-secret\"}"),
                      FilePart("a.pdf", "a")}),
              422, "invalid_classification");
}

TEST_F(ApiBadInput, ContractWithoutCounterparty) {
  HttpResult r =
      Upload({MetadataPart("{\"type\":\"contract\",\"title\":\"x\",\"department\":\"sales\","
                           "\"classification\":\"internal\",\"metadata\":{\"contractNumber\":"
                           "\"HT-1\",\"signedDate\":\"2026-01-05\"}}"),
              FilePart("a.pdf", "a")});
  ExpectError(r, 422, "invalid_metadata");
  EXPECT_NE(ErrorMessage(r).find("counterparty"), std::string::npos) << Describe(r);
}

TEST_F(ApiBadInput, ContractWithBadDate) {
  for (const char* date : {"31.12.2026", "2026-13-01", "2026-02-30", "yesterday"}) {
    HttpResult r =
        Upload({MetadataPart(std::string("{\"type\":\"contract\",\"title\":\"x\",\"department\":"
                                         "\"sales\",\"classification\":\"internal\",\"metadata\":"
                                         "{\"counterparty\":\"A\",\"contractNumber\":\"HT-1\","
                                         "\"signedDate\":\"") +
                             date + "\"}}"),
                FilePart("a.pdf", "a")});
    ExpectError(r, 422, "invalid_metadata");
    EXPECT_NE(ErrorMessage(r).find("signedDate"), std::string::npos) << date << ": " << Describe(r);
  }
}

TEST_F(ApiBadInput, ContractWithUnknownMetadataField) {
  HttpResult r =
      Upload({MetadataPart("{\"type\":\"contract\",\"title\":\"x\",\"department\":\"sales\","
                           "\"classification\":\"internal\",\"metadata\":{\"counterparty\":"
                           "\"A\",\"contractNumber\":\"HT-1\",\"signedDate\":\"2026-01-05\","
                           "\"discount\":\"50%\"}}"),
              FilePart("a.pdf", "a")});
  ExpectError(r, 422, "invalid_metadata");
  EXPECT_NE(ErrorMessage(r).find("discount"), std::string::npos);
}

// error.params of an answer as compact JSON ("" when absent): the values a
// client needs to say what was wrong in its own language.
std::string ErrorParams(const HttpResult& r) {
  Poco::JSON::Object::Ptr o = JsonObject(r.body);
  if (!o || !o->has("error")) return "";
  Poco::JSON::Object::Ptr e = o->getObject("error");
  if (!e->has("params")) return "";
  return Stringify(e->getObject("params"));
}

TEST_F(ApiBadInput, ContractAmountInWordsNamesTheFieldAndRuleInParams) {
  HttpResult r =
      Upload({MetadataPart("{\"type\":\"contract\",\"title\":\"采购合同 x\",\"department\":\"sales\","
                           "\"classification\":\"internal\",\"metadata\":{\"counterparty\":"
                           "\"甲方\",\"contractNumber\":\"HT-1\",\"signedDate\":\"2026-01-05\","
                           "\"amount\":\"十万元\"}}"),
              FilePart("合同.pdf", "a")});
  ExpectError(r, 422, "invalid_metadata");
  Poco::JSON::Object::Ptr params = JsonObject(ErrorParams(r));
  ASSERT_TRUE(params) << Describe(r);
  EXPECT_EQ(Str(params, "field"), "amount") << Describe(r);
  EXPECT_EQ(Str(params, "rule"), "decimal") << Describe(r);
  // The English message stays for clients that know no code.
  EXPECT_NE(ErrorMessage(r).find("decimal"), std::string::npos) << Describe(r);
}

// Type-specific fields are strings: a number is refused at decoding with
// the service's own error.
TEST_F(ApiBadInput, ContractAmountAsNumberIsRefusedAsNotAString) {
  HttpResult r =
      Upload({MetadataPart("{\"type\":\"contract\",\"title\":\"采购合同 y\",\"department\":\"sales\","
                           "\"classification\":\"internal\",\"metadata\":{\"counterparty\":"
                           "\"甲方\",\"contractNumber\":\"HT-2\",\"signedDate\":\"2026-01-05\","
                           "\"amount\":100000}}"),
              FilePart("合同.pdf", "a")});
  ExpectError(r, 422, "invalid_metadata");
  Poco::JSON::Object::Ptr params = JsonObject(ErrorParams(r));
  ASSERT_TRUE(params) << Describe(r);
  EXPECT_EQ(Str(params, "field"), "amount") << Describe(r);
  EXPECT_EQ(Str(params, "rule"), "string") << Describe(r);
}

TEST_F(ApiBadInput, LoanLongerThanTheLongestCarriesMaxDaysInParams) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordId", *record_id_);
  o->set("kind", "digital");
  o->set("purpose", "审计 audit");
  o->set("dueAt", domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(24) * 200));
  HttpResult r = S().As("archivist", "POST", "/v1/loans", Stringify(o), kJson);
  ExpectError(r, 422, "invalid_due_date");
  Poco::JSON::Object::Ptr params = JsonObject(ErrorParams(r));
  ASSERT_TRUE(params) << Describe(r);
  EXPECT_EQ(Int(params, "maxDays"), 90) << Describe(r);
  EXPECT_TRUE(params->get("maxDays").isInteger()) << "a number, not a string: " << Describe(r);
  EXPECT_EQ(Str(params, "rule"), "max_days") << Describe(r);
}

TEST_F(ApiBadInput, WrongFieldTypeNamesTheFieldInParams) {
  HttpResult r = S().Call("", "POST", "/v1/session", "{\"username\":42,\"password\":\"whatever-pass\"}", kJson);
  ExpectError(r, 400, "invalid_field");
  EXPECT_EQ(ErrorParams(r), "{\"field\":\"username\"}") << Describe(r);
  // An error without values has no params at all.
  HttpResult none = S().Call("", "POST", "/v1/session", "[]", kJson);
  ExpectError(none, 400, "malformed_json");
  EXPECT_EQ(none.body.find("params"), std::string::npos) << Describe(none);
}

TEST_F(ApiBadInput, CheckInToUnknownDepartment) {
  ExpectError(
      Upload({MetadataPart(GeneralJson("Orphan", "internal", "nowhere")), FilePart("a.pdf", "a")}),
      422, "unknown_department");
}

TEST_F(ApiBadInput, CheckInWithoutFileParts) {
  ExpectError(Upload({MetadataPart(GeneralJson("Empty"))}), 422, "no_files");
}

TEST_F(ApiBadInput, FileNameWithSlash) {
  ExpectError(Upload({MetadataPart(GeneralJson("Slash")), FilePart("../../etc/passwd", "root")}),
              422, "invalid_file_name");
  // A good file stored first is removed again when a later one is refused.
  ExpectError(
      Upload({MetadataPart(GeneralJson("Slash later")),
              FilePart("good.pdf", PatternBytes(kBigFile, 2)), FilePart("dir/bad.pdf", "x")}),
      422, "invalid_file_name");
}

TEST_F(ApiBadInput, UnknownPartAfterAFileIsRefusedAndCleanedUp) {
  ExpectError(
      Upload({MetadataPart(GeneralJson("Stray part")), FilePart("good.pdf", PatternBytes(9000, 3)),
              Part{"comment", "", "text/plain", "hello"}}),
      400, "unknown_part");
  ExpectError(Upload({MetadataPart(GeneralJson("Signature first")),
                      Part{"signature", "sig.p7s", "application/pkcs7-signature", "MIIB"}}),
              400, "signature_without_file");
}

TEST_F(ApiBadInput, GarbageMultipartBody) {
  HttpResult r = S().As("archivist", "POST", "/v1/records", PatternBytes(4000, 4), MultipartType());
  EXPECT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(ErrorCode(r) == "malformed_multipart" || ErrorCode(r) == "missing_metadata")
      << Describe(r);
}

// A client that announces more bytes than it sends and then vanishes in the
// middle of a file: no record, no event, no blob (complete or partial).
TEST_F(ApiBadInput, TruncatedUploadLeavesNothingBehind) {
  std::string body = MultipartBody({MetadataPart(GeneralJson("Truncated upload")),
                                    FilePart("big.bin", PatternBytes(kBigFile, 5))});
  size_t cut = body.find("big.bin") + 100 * 1024;  // well inside the file
  size_t log_offset = S().process().Log().size();
  {
    RawTlsConnection conn(S().port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.Write(Raw(S().token("archivist"), MultipartType(), body.size())));
    ASSERT_TRUE(conn.Write(body.substr(0, cut)));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server take the bytes
    conn.Close();
  }
  ASSERT_TRUE(WaitForUploadHandled(log_offset)) << S().process().Log().substr(log_offset);
  EXPECT_TRUE(WaitFor(
      [&] { return CountBlobs(S().data_dir()) == blobs_ && CountTempBlobs(S().data_dir()) == 0; }));
  EXPECT_EQ(S().As(kAnonymous, "GET", "/healthz").status, 200);
  EXPECT_EQ(S().SearchTotal("archivist", "q=Truncated"), 0);
}

// The same short body from a client that stays to read the answer: the
// server tells it the upload was truncated.
TEST_F(ApiBadInput, ShortBodyIsReportedAsTruncated) {
  std::string body = MultipartBody(
      {MetadataPart(GeneralJson("Short body")), FilePart("big.bin", PatternBytes(kBigFile, 6))});
  RawTlsConnection conn(S().port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Write(Raw(S().token("archivist"), MultipartType(), body.size())));
  ASSERT_TRUE(conn.Write(body.substr(0, body.find("big.bin") + 100 * 1024)));
  conn.FinishSending();
  std::string reply = conn.ReadResponse();
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"truncated_upload\""), std::string::npos) << reply;
}

// A POST that carries neither Content-Length nor a chunked body has no body
// (RFC 9112 §6.3) — curl -X POST sends exactly this. A second request
// pipelined behind it must be answered as a request of its own, not read as
// the first one's body.
TEST_F(ApiBadInput, PostWithoutBodyHasNoBody) {
  RawTlsConnection conn(S().port());
  ASSERT_TRUE(conn.connected());
  const std::string auth = "Authorization: Bearer " + S().token("archivist") + "\r\n";
  ASSERT_TRUE(conn.Write("POST /v1/loans/LN-2099-000001/approve HTTP/1.1\r\nHost: localhost\r\n" +
                         auth + "\r\n" +
                         "GET /v1/loans/LN-2099-000002 HTTP/1.1\r\nHost: localhost\r\n" + auth +
                         "\r\n"));
  std::string first = conn.ReadResponse();
  std::string both = first + conn.ReadResponse();
  EXPECT_EQ(first.rfind("HTTP/1.1 404", 0), 0u) << first;
  EXPECT_NE(both.find("no loan LN-2099-000001"), std::string::npos) << both;
  EXPECT_NE(both.find("no loan LN-2099-000002"), std::string::npos) << both;
}

// ----------------------------------------------------------- lookups, queries

TEST_F(ApiBadInput, UnknownRecordId) {
  ExpectError(S().As("archivist", "GET", "/v1/records/CT-2099-999999"), 404, "record_not_found");
  EXPECT_EQ(S().As("archivist", "GET", "/v1/records/..%2F..%2Fetc").status, 404);
  ExpectError(S().As("archivist", "GET", "/v1/records/CT-2099-999999/versions"), 404,
              "record_not_found");
  ExpectError(
      S().As("archivist", "PATCH", "/v1/records/CT-2099-999999", "{\"title\":\"x\"}", kJson), 404,
      "record_not_found");
}

TEST_F(ApiBadInput, VersionThatIsNotANumber) {
  const std::string rec = "/v1/records/" + *record_id_;
  ExpectError(S().As("archivist", "GET", rec + "/versions/abc"), 404, "version_not_found");
  ExpectError(S().As("archivist", "GET", rec + "/versions/0"), 404, "version_not_found");
  ExpectError(S().As("archivist", "GET", rec + "/versions/-1"), 404, "version_not_found");
  ExpectError(S().As("archivist", "GET", rec + "/versions/99"), 404, "version_not_found");
  ExpectError(S().As("archivist", "GET", rec + "/versions/abc/receipt"), 404, "version_not_found");
  ExpectError(S().As("archivist", "GET", rec + "/versions/1x/files/whatever"), 404,
              "version_not_found");
}

TEST_F(ApiBadInput, BadQueryParameters) {
  ExpectError(S().As("archivist", "GET", "/v1/records?page=x"), 400, "invalid_parameter");
  ExpectError(S().As("archivist", "GET", "/v1/records?pageSize=-5"), 400, "invalid_parameter");
  ExpectError(S().As("archivist", "GET", "/v1/records?pageSize=100000"), 400, "invalid_parameter");
  ExpectError(S().As("archivist", "GET", "/v1/records?page=0"), 400, "invalid_parameter");
  ExpectError(S().As("archivist", "GET", "/v1/log/entries?start=zero&end=1"), 400,
              "invalid_parameter");
  ExpectError(S().As("archivist", "GET", "/v1/log/entries?end=1"), 400, "missing_parameter");
  ExpectError(S().As("archivist", "GET", "/v1/log/proof/inclusion?index=5&size=2"), 400,
              "bad_range");
  ExpectError(S().As("archivist", "GET", "/v1/records/" + *record_id_ + "/versions?asOf=yesterday"),
              400, "invalid_time");
}

// ------------------------------------------------------------ names
//
// One rule for names people read (domain::ValidateName): a name is refused
// with 422 and a code, never changed. Before it, "..\..\boot.ini" was
// stored as "....boot.ini", "C:\x.pdf" as "C:x.pdf", a name with a line
// break was cut short, and titles and department names took U+202E.

struct HostileName {
  std::string name;
  std::string rule;  // params.rule
};

const std::vector<HostileName> kHostileFileNames = {
    {"..\\..\\boot.ini", "path_character"},
    {"C:\\x.pdf", "path_character"},
    {"C:x.pdf", "path_character"},
    {"dir/合同.pdf", "path_character"},
    {"..\\合同正本.pdf", "path_character"},
    {"a\r\nb.pdf", "control_character"},
    {"a\nb.pdf", "control_character"},
    {"a\rb.pdf", "control_character"},
    {"报价\t单.xlsx", "control_character"},
    {"del\x7f.pdf", "control_character"},
    {"nel\u0085.pdf", "control_character"},
    {"行\u2028分隔.pdf", "control_character"},
    {"合同\u202Efdp.exe", "bidi_control"},
    {"报价\u200F单.pdf", "bidi_control"},
    {"x\u061C.pdf", "bidi_control"},
    {"isolate\u2066.pdf", "bidi_control"},
    {".", "dot_name"},
    {"..", "dot_name"},
    {"\u3000\u3000", "empty"},
    {std::string(256, 'a'), "too_long"},
};

std::string ErrorParam(const HttpResult& r, const std::string& key) {
  Poco::JSON::Object::Ptr o = JsonObject(r.body);
  if (!o || !o->has("error")) return "";
  Poco::JSON::Object::Ptr e = o->getObject("error");
  return e->has("params") ? Str(e->getObject("params"), key) : "";
}

TEST_F(ApiBadInput, HostileFileNamesWereChangedInsteadOfRefused) {
  for (const HostileName& h : kHostileFileNames) {
    HttpResult r = Upload({MetadataPart(GeneralJson("敌意文件名 Hostile name")),
                           FilePart("合同正本.pdf", "good first"), FilePart(h.name, "bad")});
    EXPECT_EQ(r.status, 422) << Describe(r);
    EXPECT_EQ(ErrorCode(r), "invalid_file_name") << Describe(r);
    EXPECT_EQ(ErrorParam(r, "rule"), h.rule) << Describe(r);
    EXPECT_EQ(ErrorParam(r, "field"), "filename") << Describe(r);
    EXPECT_NE(ErrorMessage(r).find("file name"), std::string::npos) << ErrorMessage(r);
  }
  // A file part without a filename has an empty name.
  HttpResult none = Upload({MetadataPart(GeneralJson("No name")), Part{"file", "", "", "x"}});
  ExpectError(none, 422, "invalid_file_name");
  EXPECT_EQ(ErrorParam(none, "rule"), "empty");
}

TEST_F(ApiBadInput, TitlesAndDepartmentsTookBidiOverrides) {
  HttpResult title = Upload({MetadataPart(GeneralJson("合同\u202E正本")), FilePart("a.pdf", "a")});
  ExpectError(title, 422, "invalid_title");
  EXPECT_EQ(ErrorParam(title, "rule"), "bidi_control");
  ExpectError(Upload({MetadataPart(GeneralJson("第一行\n第二行")), FilePart("a.pdf", "a")}), 422,
              "invalid_title");
  ExpectError(Upload({MetadataPart(GeneralJson("Blank", "internal", "\u3000")), FilePart("a.pdf", "a")}),
              422, "invalid_department");
  ExpectError(S().As("archivist", "PATCH", "/v1/records/" + *record_id_,
                     "{\"title\":\"invoice\\u202Efdp.exe\"}", kJson),
              422, "invalid_title");
  for (const std::string name : {"销售\u202E部", "sales\u2067", "销售\t部", "\u200E销售部", "a\u0085b"}) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("name", name);
    HttpResult r = S().As(kAdmin, "POST", "/v1/departments", Stringify(o), kJson);
    ExpectError(r, 422, "invalid_department");
    EXPECT_NE(ErrorMessage(r).find("department name"), std::string::npos) << ErrorMessage(r);
  }
  HttpResult departments = S().As(kAdmin, "GET", "/v1/departments");
  ASSERT_EQ(departments.status, 200) << Describe(departments);
  EXPECT_EQ(departments.body.find("销售"), std::string::npos) << departments.body;
}

// The Chinese names people really use pass through unchanged.
TEST_F(ApiBadInput, ChineseNamesArriveUnchanged) {
  const std::vector<std::string> names = {"合同正本.pdf", "报价单（2026）.xlsx", "Q1 报告 (final) v2.docx",
                                          "résumé 简历.pdf", "a'b&c=d.txt", "..合同.pdf"};
  std::vector<Part> parts = {MetadataPart(GeneralJson("华东区供货合同（2026）「正本」"))};
  for (size_t i = 0; i < names.size(); ++i) parts.push_back(FilePart(names[i], "内容 " + std::to_string(i)));
  HttpResult r = Upload(parts);
  ASSERT_EQ(r.status, 201) << Describe(r);
  Poco::JSON::Object::Ptr rec = JsonObject(r.body);
  EXPECT_EQ(Str(rec, "title"), "华东区供货合同（2026）「正本」");
  Poco::JSON::Array::Ptr files = rec->getArray("versions")->getObject(0)->getArray("files");
  ASSERT_EQ(files->size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(Str(files->getObject(static_cast<unsigned>(i)), "name"), names[i]);
  }
  HttpResult dept = S().As(kAdmin, "POST", "/v1/departments", "{\"name\":\"华东销售部（上海）\"}", kJson);
  EXPECT_EQ(dept.status, 201) << Describe(dept);
  Resnapshot();  // what this test stored on purpose
}

TEST(ValidateName, OneRuleForEveryKindOfName) {
  using domain::ValidateName;
  for (const domain::NameRule* rule : {&domain::kFileNameRule, &domain::kTitleRule,
                                        &domain::kDepartmentNameRule, &domain::kHoldNameRule}) {
    EXPECT_TRUE(ValidateName("合同正本 2026", *rule).ok()) << rule->what;
    for (const std::string bad : {"a\u202Eb", "a\u2066b", "a\u200Fb", "a\u061Cb", "a\tb", "a\nb",
                                  "a\x7f", "a\u0085", "", "\u3000 ", "\xff\xfe"}) {
      Status s = ValidateName(bad, *rule);
      EXPECT_FALSE(s.ok()) << rule->what << " accepted " << bad;
      EXPECT_EQ(s.reason(), rule->code);
      EXPECT_EQ(s.code(), custos::ErrorCode::kUnprocessable);
    }
    EXPECT_EQ(ValidateName(std::string(rule->max_bytes + 1, 'x'), *rule).reason(), rule->code);
    EXPECT_TRUE(ValidateName(std::string(rule->max_bytes, 'x'), *rule).ok());
  }
  // Path characters only matter in file names.
  EXPECT_FALSE(ValidateName("C:\\x.pdf", domain::kFileNameRule).ok());
  EXPECT_TRUE(ValidateName("合同 2026/01: 正本", domain::kTitleRule).ok());
  EXPECT_TRUE(ValidateName(".", domain::kTitleRule).ok());
  EXPECT_FALSE(ValidateName(".", domain::kFileNameRule).ok());
}

// ------------------------------------------------------------ size limit

class ApiBadInputSizeLimit : public NothingChangesTest {
 protected:
  static constexpr int64_t kLimit = 65536;
  static void SetUpTestSuite() {
    server_ = ApiServer::Create("server.max_body_bytes = " + std::to_string(kLimit) +
                                    "\nserver.max_json_bytes = " + std::to_string(kLimit) + "\n",
                                {"archivist"})
                  .release();
    if (server_ == nullptr) return;
    EXPECT_TRUE(server_->CheckInOk("archivist", GeneralJson("Small enough"),
                                   {FilePart("small.bin", PatternBytes(kLimit / 2, 6))}));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  ApiServer* server() override { return server_; }

  static ApiServer* server_;
};

ApiServer* ApiBadInputSizeLimit::server_ = nullptr;

TEST_F(ApiBadInputSizeLimit, DeclaredLengthOverLimitGets413) {
  std::string body = MultipartBody({MetadataPart(GeneralJson("Too big declared")),
                                    FilePart("big.bin", PatternBytes(3 * kLimit, 7))});
  RawTlsConnection conn(S().port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Write(Raw(S().token("archivist"), MultipartType(), body.size())));
  (void)conn.Write(body);  // the server may answer and close before taking it all
  std::string reply = conn.ReadResponse();
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  EXPECT_NE(reply.find("body_too_large"), std::string::npos);
  EXPECT_NE(reply.find("\"params\":{\"maxBytes\":" + std::to_string(kLimit) + "}"), std::string::npos) << reply;
}

// Without a Content-Length the limit is found while streaming: the file
// already stored is removed again.
TEST_F(ApiBadInputSizeLimit, ChunkedUploadOverLimitGets413AndLeavesNoBlob) {
  std::string body = MultipartBody({MetadataPart(GeneralJson("Too big streamed")),
                                    FilePart("big.bin", PatternBytes(kLimit + kLimit / 2, 8))});
  std::string chunked;
  for (size_t at = 0; at < body.size(); at += 8192) {
    std::string piece = body.substr(at, 8192);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    chunked += size_line + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  size_t log_offset = S().process().Log().size();
  RawTlsConnection conn(S().port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Write(
      Raw(S().token("archivist"), MultipartType(), 0, "Transfer-Encoding: chunked\r\n")));
  (void)conn.Write(chunked);
  std::string reply = conn.ReadResponse();
  EXPECT_TRUE(WaitForUploadHandled(log_offset));
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply << "\n"
                                                << S().process().Log().substr(log_offset);
  EXPECT_NE(reply.find("body_too_large"), std::string::npos);
  EXPECT_NE(reply.find("\"maxBytes\":" + std::to_string(kLimit)), std::string::npos) << reply;
}

TEST_F(ApiBadInputSizeLimit, JustUnderTheLimitStillWorks) {
  // Not a bad input: shows the limit is where it is configured. The check-in
  // adds a record, an event and a blob, so the snapshot is taken again.
  HttpResult r = Upload({MetadataPart(GeneralJson("Just under")),
                         FilePart("ok.bin", PatternBytes(kLimit - 1024, 9))});
  ASSERT_EQ(r.status, 201) << Describe(r);
  log_size_ = S().LogSize();
  records_ += 1;
  blobs_ += 1;
}

}  // namespace
}  // namespace custos::testing::api
