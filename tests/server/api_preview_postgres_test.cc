// Previews on PostgreSQL (docs/api.md "Previews"): the real custosd on a
// throwaway PostgreSQL database renders a page of a PDF with Chinese text
// through custos-render, stores it sealed in derived_cache (one row, never
// the image in clear) and serves the second view from there without a
// worker run.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// The first column of the first row of `query` on `dsn` through psql.
std::string PgValue(const std::string& dsn, const std::string& query) {
  RunResult r = RunProgram({"/usr/bin/psql", "-d", dsn, "-X", "-q", "-t", "-A", "-c", query});
  EXPECT_EQ(r.exit_code, 0) << "psql " << query << ": " << r.err;
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) r.out.pop_back();
  return r.out;
}

double MetricValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find(series + " ");
  return at == std::string::npos ? 0 : std::stod(metrics.substr(at + series.size() + 1));
}

TEST(ApiPreviewPostgres, PreviewIsCachedSealedInPostgresAndServedFromThere) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  TempDir tmp;
  ASSERT_EQ(
      std::system(
          ("python3 " + SourceDir() + "/tests/extract/make_documents.py " + tmp.path()).c_str()),
      0);
  std::ifstream in(tmp.Sub("cjk_text.pdf"), std::ios::binary);
  const std::string pdf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string data = tmp.Sub("data");
  const std::string pw = tmp.Sub("pw");
  const std::string security_pw = tmp.Sub("security-pw");
  WriteFile(pw, std::string(kAdminPassword) + "\n");
  WriteFile(security_pw, std::string(kSecurityPassword) + "\n");
  RunResult init = RunProgram({BinDir() + "/custosctl", "init", "--data", data, "--backend",
                               "postgresql", "--dsn", dsn, "--admin-password-file", pw,
                               "--security-officer-password-file", security_pw});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  RunResult user = RunProgram({BinDir() + "/custosctl", "user", "add", "archivist", "--role",
                               "archivist", "--department", "sales", "--password-file", pw,
                               "--no-force-change", "--data", data});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  ServerProcess server;
  ASSERT_TRUE(server.Start(data, RelaxedConfig("")));
  HttpsClient client(server.port(), data + "/tls/cert.pem");
  HttpResult session = client.Request(
      "POST", "/v1/session",
      std::string("{\"username\":\"archivist\",\"password\":\"") + kAdminPassword + "\"}", kJson);
  ASSERT_EQ(session.status, 200) << Describe(session);
  const std::map<std::string, std::string> auth = {
      {"Authorization", "Bearer " + Str(JsonObject(session.body), "token")}};

  HttpResult checked =
      client.Request("POST", "/v1/records",
                     MultipartBody({MetadataPart(GeneralJson("预览 Preview on PostgreSQL")),
                                    FilePart("价格调整.pdf", pdf)}),
                     MultipartType(), auth);
  ASSERT_EQ(checked.status, 201) << Describe(checked);
  Poco::JSON::Object::Ptr rec = JsonObject(checked.body);
  const std::string id = Str(rec, "id");
  const std::string file =
      Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  const std::string path =
      "/v1/records/" + id + "/versions/1/files/" + file + "/preview?size=thumb";

  HttpResult first;
  ASSERT_TRUE(WaitFor(
      [&] {
        first = client.Request("GET", path, "", "", auth);
        return first.status == 200;
      },
      120000))
      << Describe(first) << server.Log();
  EXPECT_EQ(first.headers["X-Custos-Pages"], "1");
  EXPECT_EQ(PgValue(dsn, "SELECT count(*) FROM derived_cache WHERE record_id = '" + id + "'"), "1");
  EXPECT_EQ(PgValue(dsn, "SELECT purpose FROM derived_cache WHERE record_id = '" + id + "'"),
            "preview:1:thumb");
  // The stored value is the envelope, not the PNG.
  EXPECT_EQ(
      PgValue(
          dsn,
          "SELECT position('\\x89504e47'::bytea in sealed) FROM derived_cache WHERE record_id = '" +
              id + "'"),
      "0");
  const double renders = MetricValue(client.Request("GET", "/metrics").body,
                                     "custos_preview_renders_total{result=\"ok\"}");
  EXPECT_GE(renders, 1);

  HttpResult second = client.Request("GET", path, "", "", auth);
  ASSERT_EQ(second.status, 200) << Describe(second);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(MetricValue(client.Request("GET", "/metrics").body,
                        "custos_preview_renders_total{result=\"ok\"}"),
            renders)
      << "the second view ran the worker";
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace custos::testing::api
