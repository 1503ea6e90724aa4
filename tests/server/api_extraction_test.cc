// The content pipeline inside a real custosd: a check-in whose file's
// extraction worker hangs is answered 201 as usual, the server keeps
// answering other requests while the worker hangs, and the file ends in
// state retry with reason extraction_timeout, which the record and
// /metrics show.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// The extraction of the first file of version 1 of `record`, or null.
Poco::JSON::Object::Ptr FirstExtraction(const Poco::JSON::Object::Ptr& record) {
  if (!record) return {};
  auto versions = record->getArray("versions");
  if (!versions || versions->size() == 0) return {};
  auto files = versions->getObject(0)->getArray("files");
  if (!files || files->size() == 0) return {};
  return files->getObject(0)->getObject("extraction");
}

TEST(ApiExtraction, AHangingWorkerNeitherDelaysACheckInNorStopsTheServer) {
  TempDir scripts;
  const std::string started = scripts.Sub("started");
  const std::string worker = scripts.Sub("hanging-worker.sh");
  // Marks that it runs (a worker may create empty files only), then hangs.
  WriteFile(worker, "#!/bin/sh\ntouch " + started + "\nexec sleep 60\n");
  ::chmod(worker.c_str(), 0700);
  auto server = ApiServer::Create("extraction.worker = " + worker + "\nextraction.timeout_s = 3\n");
  ASSERT_NE(server, nullptr);

  HttpResult checked = server->CheckIn("archivist", GeneralJson("挂起的提取 Hanging extraction"),
                                       {FilePart("说明 notes.txt", "价格调整 text", "text/plain")});
  ASSERT_EQ(checked.status, 201) << Describe(checked);
  const std::string id = Str(JsonObject(checked.body), "id");
  ASSERT_FALSE(id.empty());

  // Once the worker runs, the server still answers.
  for (int i = 0; i < 600 && !std::filesystem::exists(started); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(std::filesystem::exists(started)) << server->process().Log();
  HttpResult health = server->As(kAnonymous, "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << Describe(health);
  HttpResult got = server->As("archivist", "GET", "/v1/records/" + id);
  EXPECT_EQ(got.status, 200) << Describe(got);
  HttpResult second = server->CheckIn("archivist", GeneralJson("第二份 Second"),
                                      {FilePart("b.txt", "违约金 text", "text/plain")});
  EXPECT_EQ(second.status, 201) << Describe(second);
  HttpResult found = server->As("archivist", "GET", "/v1/records?q=%E6%8C%82%E8%B5%B7");  // 挂起
  EXPECT_EQ(found.status, 200) << Describe(found);

  // The run is killed at its deadline and the file waits for a retry.
  Poco::JSON::Object::Ptr extraction;
  for (int i = 0; i < 1200; ++i) {
    HttpResult r = server->As("archivist", "GET", "/v1/records/" + id);
    ASSERT_EQ(r.status, 200) << Describe(r);
    extraction = FirstExtraction(JsonObject(r.body));
    if (extraction && Str(extraction, "state") == "retry") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(extraction) << "no extraction status on the record";
  EXPECT_EQ(Str(extraction, "state"), "retry");
  EXPECT_EQ(Str(extraction, "reason"), "extraction_timeout");
  EXPECT_EQ(Str(extraction, "claimedType"), "text/plain");
  // The failed run is in custosd's log by record, file and reason, and no
  // word of the content is.
  const std::string log = server->process().Log();
  EXPECT_NE(log.find("\"text extraction failed\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"reason\":\"extraction_timeout\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"record\":\"" + id + "\""), std::string::npos) << log;
  EXPECT_EQ(log.find("价格调整"), std::string::npos) << log;

  HttpResult metrics = server->NewClient()->Request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("custos_extraction_runs_total{result=\"retry\"} "), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("custos_extraction_files{state=\"retry\"} "), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("custos_search_queue_records "), std::string::npos) << metrics.body;
}

}  // namespace
}  // namespace custos::testing::api
