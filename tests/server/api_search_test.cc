// Search inside documents through the real custosd (docs/search.md "API"):
// files checked in through the API go through the content pipeline (the
// real custos-extract worker), and GET /v1/records?q= then finds their
// words by role: the archivist and legal (contracts) read content and see
// content matches with marked snippets; staff without a loan see neither;
// traditional and simplified forms match alike. The text route and its
// refusals, and a bad query refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
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

class ApiSearch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = ApiServer::Create().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }
  ApiServer& S() { return *server_; }

  // Checks in a record of one UTF-8 text file; returns its id and file id.
  std::pair<std::string, std::string> CheckInText(const std::string& metadata, const std::string& name,
                                                  const std::string& text) {
    Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", metadata, {FilePart(name, text, "text/plain")});
    if (!rec) return {};
    std::string id = Str(rec, "id");
    HttpResult d = S().As("archivist", "GET", "/v1/records/" + id);
    Poco::JSON::Object::Ptr o = JsonObject(d.body);
    if (!o) return {id, ""};
    return {id, Str(o->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id")};
  }

  // The file's extraction object once its state is no longer pending
  // (polls the record view, at most about two minutes); null if never.
  Poco::JSON::Object::Ptr WaitForExtraction(const std::string& id) {
    for (int i = 0; i < 1200; ++i) {
      HttpResult d = S().As("archivist", "GET", "/v1/records/" + id);
      Poco::JSON::Object::Ptr o = JsonObject(d.body);
      if (o) {
        Poco::JSON::Object::Ptr f = o->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
        if (f->has("extraction")) {
          Poco::JSON::Object::Ptr x = f->getObject("extraction");
          if (Str(x, "state") != "pending") return x;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the pipeline never ran on " << id;
    return {};
  }

  // GET /v1/records?q=text as `role`: the answer object.
  Poco::JSON::Object::Ptr Search(const std::string& role, const std::string& text) {
    HttpResult r = S().As(role, "GET", "/v1/records?q=" + UrlEncode(text));
    EXPECT_EQ(r.status, 200) << Describe(r);
    return JsonObject(r.body);
  }
  static std::vector<std::string> Ids(const Poco::JSON::Object::Ptr& page) {
    std::vector<std::string> out;
    if (!page) return out;
    Poco::JSON::Array::Ptr records = page->getArray("records");
    for (size_t i = 0; i < records->size(); ++i) out.push_back(Str(records->getObject(static_cast<unsigned>(i)), "id"));
    std::sort(out.begin(), out.end());
    return out;
  }
  // The match of `field` of record `id` in `page`, or null.
  static Poco::JSON::Object::Ptr MatchOf(const Poco::JSON::Object::Ptr& page, const std::string& id,
                                         const std::string& field) {
    if (!page) return {};
    Poco::JSON::Array::Ptr records = page->getArray("records");
    for (size_t i = 0; i < records->size(); ++i) {
      Poco::JSON::Object::Ptr r = records->getObject(static_cast<unsigned>(i));
      if (Str(r, "id") != id || !r->has("matches")) continue;
      Poco::JSON::Array::Ptr ms = r->getArray("matches");
      for (size_t k = 0; k < ms->size(); ++k) {
        if (Str(ms->getObject(static_cast<unsigned>(k)), "field") == field) return ms->getObject(static_cast<unsigned>(k));
      }
    }
    return {};
  }

  // The content.snippet events in the record's history; each names the
  // version and file and never holds the query's words.
  size_t ContentSnippets(const std::string& id) {
    HttpResult r = S().As("archivist", "GET", "/v1/records/" + id + "/history");
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    size_t n = 0;
    if (!o) return n;
    Poco::JSON::Array::Ptr entries = o->getArray("entries");
    for (size_t i = 0; i < entries->size(); ++i) {
      Poco::JSON::Object::Ptr e = entries->getObject(static_cast<unsigned>(i))->getObject("event");
      if (Str(e, "action") != "content.snippet") continue;
      ++n;
      Poco::JSON::Object::Ptr details = e->getObject("details");
      EXPECT_EQ(Int(details, "version"), 1);
      EXPECT_FALSE(Str(details, "file").empty());
      EXPECT_EQ(Stringify(e).find("价格"), std::string::npos);
    }
    return n;
  }

  static ApiServer* server_;
};

ApiServer* ApiSearch::server_ = nullptr;

TEST_F(ApiSearch, ContentFoundByRoleWithMarkedSnippetsAndTheTextRoute) {
  auto [contract, contract_file] =
      CheckInText(ContractJson("Supply contract 供货合同", "Ningbo Steel 宁波钢铁"), "合同正文.txt",
                  "第五条 价格调整：甲方ABC公司与乙方按季度调整单价。ISO9001认证为前提。\n");
  auto [memo, memo_file] = CheckInText(GeneralJson("Memo 备忘录"), "memo.txt",
                                       "会议纪要：讨论了價格調整的时间表。\n");
  ASSERT_FALSE(contract_file.empty());
  ASSERT_FALSE(memo_file.empty());
  Poco::JSON::Object::Ptr x = WaitForExtraction(contract);
  ASSERT_TRUE(x);
  EXPECT_EQ(Str(x, "state"), "text");
  EXPECT_EQ(Str(x, "claimedType"), "text/plain");
  EXPECT_GT(Int(x, "textBytes"), 0);
  ASSERT_TRUE(WaitForExtraction(memo));

  // The archivist reads both: simplified and traditional forms alike.
  std::vector<std::string> both{contract, memo};
  std::sort(both.begin(), both.end());
  for (const std::string q : {"价格调整", "價格調整"}) {
    Poco::JSON::Object::Ptr page = Search("archivist", q);
    EXPECT_EQ(Ids(page), both) << q;
    Poco::JSON::Object::Ptr m = MatchOf(page, contract, "content");
    ASSERT_TRUE(m) << q;
    EXPECT_EQ(Int(m, "version"), 1);
    EXPECT_EQ(Str(m, "file"), contract_file);
    EXPECT_EQ(Str(m, "fileName"), "合同正文.txt");
    Poco::JSON::Array::Ptr snippet = m->getArray("snippet");
    ASSERT_TRUE(snippet) << q;
    ASSERT_GE(snippet->size(), 3u);
    EXPECT_EQ(snippet->getElement<std::string>(1), "价格调整");
    Poco::JSON::Object::Ptr t = MatchOf(page, memo, "content");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->getArray("snippet")->getElement<std::string>(1), "價格調整") << "shown as written";
  }
  // Each search that showed the contract's content logged it, without the query.
  size_t snippets = ContentSnippets(contract);
  EXPECT_EQ(snippets, 2u) << "two searches showed its content";
  // Legal reads contracts only: the memo is no hit through its content.
  EXPECT_EQ(Ids(Search("legal", "价格调整")), std::vector<std::string>{contract});
  // Staff without a loan: neither is a hit, and no content leaks.
  Poco::JSON::Object::Ptr staff = Search("staff", "价格调整");
  EXPECT_TRUE(Ids(staff).empty());
  EXPECT_EQ(ContentSnippets(contract), snippets + 1) << "legal's search only";
  // Catalogue matches still show for staff, without content.
  Poco::JSON::Object::Ptr title = Search("staff", "供货合同");
  EXPECT_EQ(Ids(title), std::vector<std::string>{contract});
  EXPECT_TRUE(MatchOf(title, contract, "title"));
  EXPECT_FALSE(MatchOf(title, contract, "content"));
  // Full-width and mixed queries.
  EXPECT_EQ(Ids(Search("archivist", "ＩＳＯ９００１")), std::vector<std::string>{contract});
  EXPECT_EQ(Ids(Search("archivist", "ABC公司")), std::vector<std::string>{contract});
  // The file name matched as such.
  EXPECT_TRUE(MatchOf(Search("archivist", "合同正文"), contract, "fileName"));

  // The text route: readers get the text, staff are refused.
  const std::string path = "/v1/records/" + contract + "/versions/1/files/" + contract_file + "/text";
  HttpResult text = S().As("archivist", "GET", path);
  ASSERT_EQ(text.status, 200) << Describe(text);
  Poco::JSON::Object::Ptr body = JsonObject(text.body);
  EXPECT_NE(Str(body, "text").find("价格调整"), std::string::npos);
  EXPECT_EQ(Str(body->getObject("extraction"), "state"), "text");
  HttpResult refused = S().As("staff", "GET", path);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(ErrorCode(refused), "content_forbidden");
  EXPECT_EQ(refused.body.find("价格"), std::string::npos);
  HttpResult unknown = S().As("archivist", "GET", "/v1/records/" + contract +
                                                      "/versions/1/files/00000000000000000000000000000000/text");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrorCode(unknown), "file_not_found");
}

TEST_F(ApiSearch, TooManyWordsIsRefusedWithAStableCode) {
  std::string many;
  for (int i = 0; i < 70; ++i) many += "w" + std::to_string(i) + "x ";
  HttpResult r = S().As("archivist", "GET", "/v1/records?q=" + UrlEncode(many));
  EXPECT_EQ(r.status, 400) << Describe(r);
  EXPECT_EQ(ErrorCode(r), "too_many_tokens");
}

// sort= and order= through the API: contracts by amount both ways (the
// records of this suite are many; only these three carry the marker), and
// an unknown key or order is 400 invalid_sort.
TEST_F(ApiSearch, SortByMetadataBothWaysAndBadSortIsRefused) {
  std::vector<std::string> ids;
  for (const char* amount : {"900.5", "10000", "75"}) {
    Poco::JSON::Object::Ptr rec = S().CheckInOk(
        "archivist",
        std::string(R"({"type":"contract","title":"排序 sortmarker","department":"sales","classification":"internal",)"
                    R"("metadata":{"counterparty":"排序公司","contractNumber":"S-1","signedDate":"2026-01-01","amount":")") +
            amount + R"("}})",
        {FilePart("排序.txt", "sort", "text/plain")});
    ASSERT_TRUE(rec);
    ids.push_back(Str(rec, "id"));
  }
  auto order = [&](const std::string& params) {
    HttpResult r = S().As("archivist", "GET", "/v1/records?q=sortmarker&type=contract&" + params);
    EXPECT_EQ(r.status, 200) << Describe(r);
    std::vector<std::string> out;
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    if (!o) return out;
    Poco::JSON::Array::Ptr records = o->getArray("records");
    for (size_t i = 0; i < records->size(); ++i) out.push_back(Str(records->getObject(static_cast<unsigned>(i)), "id"));
    return out;
  };
  EXPECT_EQ(order("sort=amount"), (std::vector<std::string>{ids[2], ids[0], ids[1]}));
  EXPECT_EQ(order("sort=amount&order=desc"), (std::vector<std::string>{ids[1], ids[0], ids[2]}));
  for (const char* bad : {"sort=metadata_json", "sort=amount&order=up", "sort=title%3B"}) {
    HttpResult r = S().As("archivist", "GET", std::string("/v1/records?") + bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << Describe(r);
    EXPECT_EQ(ErrorCode(r), "invalid_sort") << bad;
  }
}

}  // namespace
}  // namespace custos::testing::api
