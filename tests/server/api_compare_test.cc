// GET /v1/records/{id}/compare through the real custosd (docs/api.md
// "Version comparison"): a contract with a Chinese text file, a second
// version with a changed clause, both extracted by the real pipeline; legal
// sees the changed characters marked, staff without a loan is refused, bad
// parameters are refused with nothing logged, and the two content.read
// events (derived text, naming the other version) are in the history.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

void ExpectError(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << Describe(r);
  EXPECT_EQ(ErrorCode(r), code) << Describe(r);
}

// The extraction state of every file of every version of `id` once none is
// pending (polls the record view, at most about two minutes); empty if the
// pipeline never got there.
std::vector<std::string> WaitForExtraction(ApiServer& s, const std::string& id) {
  for (int i = 0; i < 1200; ++i) {
    HttpResult d = s.As("archivist", "GET", "/v1/records/" + id);
    Poco::JSON::Object::Ptr o = JsonObject(d.body);
    std::vector<std::string> states;
    bool done = o != nullptr;
    for (size_t v = 0; done && v < o->getArray("versions")->size(); ++v) {
      Poco::JSON::Array::Ptr files =
          o->getArray("versions")->getObject(static_cast<unsigned>(v))->getArray("files");
      for (size_t f = 0; f < files->size(); ++f) {
        Poco::JSON::Object::Ptr file = files->getObject(static_cast<unsigned>(f));
        const std::string state =
            file->has("extraction") ? Str(file->getObject("extraction"), "state") : "";
        if (state.empty() || state == "pending" || state == "retry") done = false;
        states.push_back(state);
      }
    }
    if (done) return states;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the pipeline never finished " << id;
  return {};
}

TEST(ApiCompare, LegalSeesTheChangedClauseAndEachTextReadIsLogged) {
  auto server = ApiServer::Create();
  ASSERT_NE(server, nullptr);
  ApiServer& s = *server;
  const std::string v1_text =
      "采购合同 Purchase contract\n第五条 违约金：价格调整为百分之五。Penalty of 5% per day.\n";
  const std::string v2_text =
      "采购合同 Purchase contract\n第五条 违约金：价格调整为百分之八。Penalty of 8% per day.\n";
  Poco::JSON::Object::Ptr rec =
      s.CheckInOk("archivist", ContractJson("钢材采购合同 Steel purchase", "甲方ABC有限公司"),
                  {FilePart("合同 contract.txt", v1_text, "text/plain")});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  HttpResult v2 =
      s.As("archivist", "POST", "/v1/records/" + id + "/versions",
           MultipartBody({MetadataPart("{\"kind\":\"amendment\",\"note\":\"违约金调整 penalty\"}"),
                          FilePart("合同 contract.txt", v2_text, "text/plain")}),
           MultipartType());
  ASSERT_EQ(v2.status, 201) << Describe(v2);
  EXPECT_EQ(WaitForExtraction(s, id), (std::vector<std::string>{"text", "text"}));

  const std::string path = "/v1/records/" + id + "/compare";
  const uint64_t before = s.LogSize();
  HttpResult r = s.As("legal", "GET", path + "?from=1&to=2");
  ASSERT_EQ(r.status, 200) << Describe(r);
  Poco::JSON::Object::Ptr c = JsonObject(r.body);
  ASSERT_TRUE(c);
  EXPECT_EQ(Str(c, "record"), id);
  EXPECT_EQ(Int(c->getObject("from"), "number"), 1);
  EXPECT_EQ(Str(c->getObject("to"), "note"), "违约金调整 penalty");
  EXPECT_EQ(Str(c->getObject("to"), "kind"), "amendment");
  EXPECT_EQ(c->getArray("metadataChanges")->size(), 0u);
  Poco::JSON::Array::Ptr files = c->getArray("files");
  ASSERT_EQ(files->size(), 1u);
  Poco::JSON::Object::Ptr file = files->getObject(0);
  EXPECT_EQ(Str(file, "name"), "合同 contract.txt");
  EXPECT_EQ(Str(file, "change"), "changed");
  EXPECT_NE(Str(file->getObject("from"), "sha256"), Str(file->getObject("to"), "sha256"));
  Poco::JSON::Object::Ptr text = file->getObject("text");
  EXPECT_EQ(Str(text, "state"), "diff");
  EXPECT_EQ(Str(text, "level"), "unit");
  std::string old_side, new_side, marked;
  Poco::JSON::Array::Ptr segments = text->getArray("segments");
  for (size_t i = 0; i < segments->size(); ++i) {
    Poco::JSON::Object::Ptr seg = segments->getObject(static_cast<unsigned>(i));
    const std::string op = Str(seg, "op");
    const std::string t = Str(seg, "text");
    if (op != "insert") old_side += t;
    if (op != "delete") new_side += t;
    if (op != "equal") marked += (op == "insert" ? "+" : "-") + t + " ";
  }
  EXPECT_EQ(old_side, v1_text);
  EXPECT_EQ(new_side, v2_text);
  EXPECT_EQ(marked, "-五 +八 -5 +8 ");
  Poco::JSON::Array::Ptr indexes = c->getArray("logIndexes");
  ASSERT_EQ(indexes->size(), 2u);
  EXPECT_EQ(s.LogSize(), before + 2);

  // Refusals, none logged.
  const uint64_t after = s.LogSize();
  ExpectError(s.As("staff", "GET", path + "?from=1&to=2"), 403, "content_forbidden");
  ExpectError(s.As("legal", "GET", path + "?from=1&to=1"), 422, "invalid_compare");
  ExpectError(s.As("legal", "GET", path + "?from=1"), 422, "invalid_compare");
  ExpectError(s.As("legal", "GET", path + "?from=one&to=2"), 422, "invalid_compare");
  ExpectError(s.As("legal", "GET", path + "?from=1&to=2x"), 422, "invalid_compare");
  ExpectError(s.As("legal", "GET", path + "?from=0&to=2"), 422, "invalid_compare");
  ExpectError(s.As("legal", "GET", path + "?from=1&to=99999999999"), 422, "invalid_compare");
  ExpectError(s.As("legal", "GET", path + "?from=1&to=3"), 404, "version_not_found");
  ExpectError(s.As("legal", "GET", "/v1/records/CT-2099-999999/compare?from=1&to=2"), 404,
              "record_not_found");
  EXPECT_EQ(s.As(kAnonymous, "GET", path + "?from=1&to=2").status, 401);
  EXPECT_EQ(s.LogSize(), after);

  // The two reads in the record's history: derived text, by legal, each
  // naming the other version, and no word of the text.
  HttpResult h = s.As("archivist", "GET", "/v1/records/" + id + "/history");
  ASSERT_EQ(h.status, 200) << Describe(h);
  Poco::JSON::Array::Ptr entries = JsonObject(h.body)->getArray("entries");
  std::vector<std::string> seen;
  for (size_t i = 0; i < entries->size(); ++i) {
    Poco::JSON::Object::Ptr e = entries->getObject(static_cast<unsigned>(i))->getObject("event");
    if (!e || Str(e, "action") != "content.read") continue;
    Poco::JSON::Object::Ptr d = e->getObject("details");
    if (!d->has("compare")) continue;
    EXPECT_EQ(Str(e, "actor"), "legal");
    EXPECT_EQ(Str(d, "derived"), "text");
    seen.push_back(std::to_string(Int(d, "version")) + "→" + std::to_string(Int(d, "compare")));
    EXPECT_EQ(Stringify(e).find("违约金"), std::string::npos);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"1→2", "2→1"}));
}

}  // namespace
}  // namespace custos::testing::api
