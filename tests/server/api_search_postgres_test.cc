// Search inside documents end to end on PostgreSQL (docs/search.md "API"):
// the real custosd on a throwaway PostgreSQL database, a text file checked
// in through the API goes through the content pipeline (the real
// custos-extract worker), and GET /v1/records?q= then finds its words by
// content with a marked snippet for the archivist, a two-character title
// word through the index, and the traditional form alike; staff without a
// loan get no content hit. After the record is destroyed (due by a P0D
// schedule, a two-person destruction batch) its word finds nothing and the
// database holds no search_postings or file_texts row of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// `s` percent-encoded for a query string (every byte but unreserved ones).
std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The first column of the first row of `query` on `dsn` through psql, or
// -1 (after ADD_FAILURE) when psql fails or answers no number.
int64_t PgCount(const std::string& dsn, const std::string& query) {
  RunResult r = RunProgram({"/usr/bin/psql", "-d", dsn, "-X", "-q", "-t", "-A", "-c", query});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "psql " << query << ": " << r.err;
    return -1;
  }
  try {
    return std::stoll(r.out);
  } catch (const std::exception&) {
    ADD_FAILURE() << "psql " << query << " answered " << r.out;
    return -1;
  }
}

// One custosd on a PostgreSQL database (custosctl init --backend
// postgresql), with the admin and the security officer signed in and one
// signed-in user per role archivist, staff, approver and legal, made as
// people make them (api_fixture.h).
class PostgresServer {
 public:
  static std::unique_ptr<PostgresServer> Create(const std::string& dsn) {
    std::unique_ptr<PostgresServer> s(new PostgresServer);
    if (!s->Init(dsn)) return nullptr;
    return s;
  }
  ~PostgresServer() {
    if (server_.process().running()) server_.Stop();
  }

  const std::string& dsn() const { return dsn_; }
  std::string Log() const { return server_.Log(); }

  HttpResult As(const std::string& who, const std::string& method, const std::string& path,
                const std::string& body = "", const std::string& content_type = "") {
    std::map<std::string, std::string> headers;
    if (!tokens_[who].empty()) headers["Authorization"] = "Bearer " + tokens_[who];
    return client_->Request(method, path, body, content_type, headers);
  }

 private:
  PostgresServer() = default;

  bool Init(const std::string& dsn) {
    dsn_ = dsn;
    data_dir_ = tmp_.Sub("data");
    const std::string admin_file = tmp_.Sub("admin-password");
    const std::string security_file = tmp_.Sub("security-password");
    WriteFile(admin_file, std::string(kAdminPassword) + "\n");
    WriteFile(security_file, std::string(kSecurityPassword) + "\n");
    RunResult init = RunProgram({BinDir() + "/custosctl", "init", "--data", data_dir_, "--backend",
                                 "postgresql", "--dsn", dsn_, "--admin-password-file", admin_file,
                                 "--security-officer-password-file", security_file});
    if (init.exit_code != 0) {
      ADD_FAILURE() << "custosctl init failed (" << init.exit_code << "): " << init.err;
      return false;
    }
    if (!server_.Start(data_dir_, RelaxedConfig(""))) return false;
    client_ = std::make_unique<HttpsClient>(server_.port(), data_dir_ + "/tls/cert.pem");
    tokens_[kAdmin] = SignIn(kAdmin, kAdminPassword);
    tokens_[kSecurity] = SignIn(kSecurity, kSecurityPassword);
    if (tokens_[kAdmin].empty() || tokens_[kSecurity].empty()) {
      ADD_FAILURE() << "admin or security officer sign-in failed";
      return false;
    }
    for (const char* d : {"sales", "legal"}) {
      HttpResult r =
          As(kAdmin, "POST", "/v1/departments", std::string("{\"name\":\"") + d + "\"}", kJson);
      if (r.status != 201) {
        ADD_FAILURE() << "department " << d << ": " << Describe(r);
        return false;
      }
    }
    for (const char* role : {"archivist", "staff", "approver", "legal"}) {
      const std::string name = role;
      const std::string password = name + "-password-0001";
      const std::string failed = AddUser(name, password, name == "legal" ? "legal" : "sales");
      if (!failed.empty()) {
        ADD_FAILURE() << failed;
        return false;
      }
      tokens_[name] = SignIn(name, password);
      if (tokens_[name].empty()) {
        ADD_FAILURE() << "sign-in of " << name << " failed";
        return false;
      }
    }
    return true;
  }

  std::string SignIn(const std::string& name, const std::string& password) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", name);
    o->set("password", password);
    HttpResult r = client_->Request("POST", "/v1/session", Stringify(o), kJson);
    return r.status == 200 ? Str(JsonObject(r.body), "token") : "";
  }

  // The admin creates the account, the security officer proposes its role
  // (user name = role) and the admin confirms, the officer issues a set-up
  // code and the holder sets the password. "" when done, else the step.
  std::string AddUser(const std::string& name, const std::string& password,
                      const std::string& department) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", name);
    o->set("department", department);
    HttpResult r = As(kAdmin, "POST", "/v1/users", Stringify(o), kJson);
    if (r.status != 201) return "create " + name + ": " + Describe(r);
    if (name != "staff") {
      Poco::JSON::Object::Ptr g = new Poco::JSON::Object;
      g->set("username", name);
      g->set("role", name);
      r = As(kSecurity, "POST", "/v1/grants", Stringify(g), kJson);
      if (r.status != 201) return "grant to " + name + ": " + Describe(r);
      r = As(kAdmin, "POST", "/v1/grants/" + Str(JsonObject(r.body), "id") + "/confirm");
      if (r.status != 200) return "confirming the grant to " + name + ": " + Describe(r);
    }
    r = As(kSecurity, "POST", "/v1/users/" + name + "/setup-code");
    if (r.status != 201) return "set-up code for " + name + ": " + Describe(r);
    Poco::JSON::Object::Ptr setup = new Poco::JSON::Object;
    setup->set("username", name);
    setup->set("code", Str(JsonObject(r.body), "code"));
    setup->set("password", password);
    r = client_->Request("POST", "/v1/setup", Stringify(setup), kJson);
    if (r.status != 204) return "set-up of " + name + ": " + Describe(r);
    return "";
  }

  TempDir tmp_;
  std::string dsn_;
  std::string data_dir_;
  ServerProcess server_;
  std::unique_ptr<HttpsClient> client_;
  std::map<std::string, std::string> tokens_;
};

// GET /v1/records?q=text as `who`: the answer object (null on failure).
Poco::JSON::Object::Ptr Search(PostgresServer& s, const std::string& who, const std::string& text) {
  HttpResult r = s.As(who, "GET", "/v1/records?q=" + UrlEncode(text));
  EXPECT_EQ(r.status, 200) << Describe(r);
  return JsonObject(r.body);
}

std::vector<std::string> Ids(const Poco::JSON::Object::Ptr& page) {
  std::vector<std::string> out;
  if (!page || !page->has("records")) return out;
  Poco::JSON::Array::Ptr records = page->getArray("records");
  for (size_t i = 0; i < records->size(); ++i)
    out.push_back(Str(records->getObject(static_cast<unsigned>(i)), "id"));
  std::sort(out.begin(), out.end());
  return out;
}

// The match of `field` of record `id` in `page`, or null.
Poco::JSON::Object::Ptr MatchOf(const Poco::JSON::Object::Ptr& page, const std::string& id,
                                const std::string& field) {
  if (!page || !page->has("records")) return {};
  Poco::JSON::Array::Ptr records = page->getArray("records");
  for (size_t i = 0; i < records->size(); ++i) {
    Poco::JSON::Object::Ptr r = records->getObject(static_cast<unsigned>(i));
    if (Str(r, "id") != id || !r->has("matches")) continue;
    Poco::JSON::Array::Ptr ms = r->getArray("matches");
    for (size_t k = 0; k < ms->size(); ++k) {
      if (Str(ms->getObject(static_cast<unsigned>(k)), "field") == field)
        return ms->getObject(static_cast<unsigned>(k));
    }
  }
  return {};
}

// The extraction of the file of version 1 of `id` once it is no longer
// pending (polls the record view, at most about two minutes); null if never.
Poco::JSON::Object::Ptr WaitForExtraction(PostgresServer& s, const std::string& id) {
  for (int i = 0; i < 1200; ++i) {
    Poco::JSON::Object::Ptr o = JsonObject(s.As("archivist", "GET", "/v1/records/" + id).body);
    if (o && o->has("versions")) {
      Poco::JSON::Object::Ptr f =
          o->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
      if (f && f->has("extraction")) {
        Poco::JSON::Object::Ptr x = f->getObject("extraction");
        if (Str(x, "state") != "pending") return x;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the pipeline never ran on " << id;
  return {};
}

// Makes every general record due at once (schedule P0D from creation:
// the archivist shortens, legal approves) and destroys `id` through a
// batch proposed by the archivist, approved by the approver and legal and
// executed by the archivist.
void DestroyThroughTheApi(PostgresServer& s, const std::string& id) {
  HttpResult put =
      s.As("archivist", "PUT", "/v1/retention/schedules/general",
           "{\"trigger\":\"created\",\"period\":\"P0D\",\"action\":\"destroy\"}", kJson);
  ASSERT_EQ(put.status, 202) << Describe(put);
  HttpResult ok = s.As("legal", "POST",
                       "/v1/retention/changes/" + Str(JsonObject(put.body), "id") + "/approve");
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  HttpResult proposed =
      s.As("archivist", "POST", "/v1/destructions",
           "{\"recordIds\":[\"" + id + "\"],\"reason\":\"retention period ended\"}", kJson);
  ASSERT_EQ(proposed.status, 201) << Describe(proposed);
  const std::string batch = Str(JsonObject(proposed.body), "id");
  HttpResult first = s.As("approver", "POST", "/v1/destructions/" + batch + "/approve");
  ASSERT_EQ(first.status, 200) << Describe(first);
  HttpResult second = s.As("legal", "POST", "/v1/destructions/" + batch + "/approve");
  ASSERT_EQ(second.status, 200) << Describe(second);
  HttpResult executed = s.As("archivist", "POST", "/v1/destructions/" + batch + "/execute");
  ASSERT_EQ(executed.status, 200) << Describe(executed);
  ASSERT_EQ(Str(JsonObject(executed.body), "state"), "executed");
}

TEST(ApiSearchPostgres, ContentTitleAndTraditionalFormFoundByRoleAndGoneAfterDestruction) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  std::unique_ptr<PostgresServer> s = PostgresServer::Create(dsn);
  ASSERT_NE(s, nullptr);

  // A general record whose title holds 合同 and whose text file holds the
  // content words (never 合同: the title is found by its own postings).
  const std::string text = "第三条 价格调整：甲方ABC公司按季度调整单价 unit price review。\n";
  HttpResult checked = s->As("archivist", "POST", "/v1/records",
                             MultipartBody({MetadataPart(GeneralJson("供货合同 Supply agreement")),
                                            FilePart("条款 clauses.txt", text, "text/plain")}),
                             MultipartType());
  ASSERT_EQ(checked.status, 201) << Describe(checked);
  const std::string id = Str(JsonObject(checked.body), "id");
  ASSERT_FALSE(id.empty());
  // A second record that must not be found by either word.
  HttpResult other =
      s->As("archivist", "POST", "/v1/records",
            MultipartBody({MetadataPart(GeneralJson("会议纪要 Minutes")),
                           FilePart("minutes.txt", "年度预算 budget 2026\n", "text/plain")}),
            MultipartType());
  ASSERT_EQ(other.status, 201) << Describe(other);
  const std::string other_id = Str(JsonObject(other.body), "id");

  Poco::JSON::Object::Ptr x = WaitForExtraction(*s, id);
  ASSERT_TRUE(x) << s->Log();
  ASSERT_EQ(Str(x, "state"), "text") << Stringify(x);
  EXPECT_GT(Int(x, "textBytes"), 0);
  Poco::JSON::Object::Ptr rec = JsonObject(s->As("archivist", "GET", "/v1/records/" + id).body);
  ASSERT_TRUE(rec);
  const std::string file_id =
      Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  ASSERT_FALSE(file_id.empty());
  EXPECT_GT(PgCount(dsn, "SELECT count(*) FROM file_texts WHERE record_id = '" + id + "'"), 0);
  EXPECT_GT(PgCount(dsn, "SELECT count(*) FROM search_postings WHERE record_id = '" + id + "'"), 0);

  // The archivist finds it by content, with the words marked as written;
  // the traditional form finds it too, marked in the original characters.
  for (const std::string q : {"价格调整", "價格調整"}) {
    Poco::JSON::Object::Ptr page = Search(*s, "archivist", q);
    EXPECT_EQ(Ids(page), std::vector<std::string>{id}) << q;
    Poco::JSON::Object::Ptr m = MatchOf(page, id, "content");
    ASSERT_TRUE(m) << q << " " << Stringify(page);
    EXPECT_EQ(Int(m, "version"), 1);
    EXPECT_EQ(Str(m, "file"), file_id);
    EXPECT_EQ(Str(m, "fileName"), "条款 clauses.txt");
    ASSERT_TRUE(m->has("snippet")) << Stringify(m);
    Poco::JSON::Array::Ptr snippet = m->getArray("snippet");
    ASSERT_TRUE(snippet && snippet->size() >= 3u) << Stringify(m);
    EXPECT_EQ(snippet->getElement<std::string>(1), "价格调整") << q;
    EXPECT_FALSE(MatchOf(page, id, "title")) << q;
  }
  EXPECT_EQ(Ids(Search(*s, "archivist", "甲方")), std::vector<std::string>{id});

  // Two characters of the title: one bigram, found through the postings.
  Poco::JSON::Object::Ptr title = Search(*s, "archivist", "合同");
  EXPECT_EQ(Ids(title), std::vector<std::string>{id});
  EXPECT_TRUE(MatchOf(title, id, "title")) << Stringify(title);
  EXPECT_FALSE(MatchOf(title, id, "content"));

  // Staff without a loan: the record is visible (its title is found) but
  // its content is no hit and shows no snippet.
  Poco::JSON::Object::Ptr staff_title = Search(*s, "staff", "合同");
  EXPECT_EQ(Ids(staff_title), std::vector<std::string>{id});
  EXPECT_FALSE(MatchOf(staff_title, id, "content"));
  for (const std::string q : {"价格调整", "價格調整", "甲方"}) {
    HttpResult r = s->As("staff", "GET", "/v1/records?q=" + UrlEncode(q));
    ASSERT_EQ(r.status, 200) << Describe(r);
    EXPECT_TRUE(Ids(JsonObject(r.body)).empty()) << q << " " << r.body;
    EXPECT_EQ(r.body.find("价格"), std::string::npos) << r.body;
  }

  // Destroyed: the content word finds nothing, and its rows are gone.
  DestroyThroughTheApi(*s, id);
  EXPECT_TRUE(Ids(Search(*s, "archivist", "价格调整")).empty());
  EXPECT_TRUE(Ids(Search(*s, "archivist", "甲方")).empty());
  EXPECT_EQ(PgCount(dsn, "SELECT count(*) FROM search_postings WHERE record_id = '" + id + "'"), 0);
  EXPECT_EQ(PgCount(dsn, "SELECT count(*) FROM file_texts WHERE record_id = '" + id + "'"), 0);
  // The other record's index is untouched.
  EXPECT_GT(
      PgCount(dsn, "SELECT count(*) FROM search_postings WHERE record_id = '" + other_id + "'"), 0);
  EXPECT_EQ(Ids(Search(*s, "archivist", "年度预算")), std::vector<std::string>{other_id});
}

}  // namespace
}  // namespace custos::testing::api
