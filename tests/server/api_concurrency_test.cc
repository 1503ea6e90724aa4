// Many clients at once, and confidentiality at rest, against the real server:
// concurrent check-ins get unique, gap-free archive numbers and leave an
// archive that `custosctl verify` accepts; uploaded plaintext appears nowhere
// in the data directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/random.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

constexpr int kThreads = 16;
constexpr int kPerThread = 5;
constexpr size_t kFileBytes = 64 * 1024;

class ApiConcurrency : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ApiServer::Create("", {"archivist"});
    ASSERT_NE(server_, nullptr);
  }
  ApiServer& S() { return *server_; }

  // Every record the archivist can list.
  std::vector<Poco::JSON::Object::Ptr> AllRecords() {
    std::vector<Poco::JSON::Object::Ptr> out;
    for (int page = 1;; ++page) {
      HttpResult r =
          S().As("archivist", "GET", "/v1/records?pageSize=500&page=" + std::to_string(page));
      EXPECT_EQ(r.status, 200) << Describe(r);
      Poco::JSON::Object::Ptr o = JsonObject(r.body);
      if (!o) break;
      Poco::JSON::Array::Ptr arr = o->getArray("records");
      for (size_t i = 0; i < arr->size(); ++i)
        out.push_back(arr->getObject(static_cast<unsigned>(i)));
      if (arr->size() == 0 || static_cast<int64_t>(out.size()) >= Int(o, "total")) break;
    }
    return out;
  }

  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiConcurrency, SixteenClientsGetUniqueGapFreeArchiveNumbers) {
  struct Outcome {
    std::vector<std::string> ids;
    std::vector<std::string> errors;
  };
  std::vector<Outcome> outcomes(kThreads);
  std::vector<std::thread> threads;
  const std::string token = S().token("archivist");
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<HttpsClient> client = S().NewClient();
      for (int i = 0; i < kPerThread; ++i) {
        const bool contract = (t + i) % 2 == 0;
        const std::string title = "Concurrent " + std::to_string(t) + "-" + std::to_string(i);
        const std::string meta = contract
                                     ? ContractJson(title, "Parallel Partner " + std::to_string(t))
                                     : GeneralJson(title);
        const std::string file =
            PatternBytes(kFileBytes, static_cast<uint32_t>(1000 + t * kPerThread + i));
        HttpResult r = client->Request("POST", "/v1/records",
                                       MultipartBody({MetadataPart(meta), FilePart("c.bin", file)}),
                                       MultipartType(), {{"Authorization", "Bearer " + token}});
        Poco::JSON::Object::Ptr o = JsonObject(r.body);
        if (r.status != 201 || !o) {
          outcomes[t].errors.push_back(title + ": " + Describe(r));
          continue;
        }
        Poco::JSON::Object::Ptr f =
            o->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
        if (Str(f, "sha256") != Sha256Hex(file))
          outcomes[t].errors.push_back(title + ": wrong sha256");
        outcomes[t].ids.push_back(Str(o, "id"));
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<std::string> answered;
  for (const Outcome& o : outcomes) {
    for (const auto& e : o.errors) ADD_FAILURE() << e;
    for (const auto& id : o.ids)
      EXPECT_TRUE(answered.insert(id).second) << "archive number given twice: " << id;
  }
  ASSERT_EQ(answered.size(), static_cast<size_t>(kThreads * kPerThread));

  // The catalogue holds all of them; per series (type and year) the
  // sequence numbers are exactly 1..N.
  std::vector<Poco::JSON::Object::Ptr> all = AllRecords();
  std::set<std::string> listed;
  std::map<std::string, std::set<int>> series;
  static const std::regex kNumber("^([A-Z]{2}-\\d{4})-(\\d{6})$");
  for (const auto& r : all) {
    const std::string id = Str(r, "id");
    listed.insert(id);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(id, m, kNumber)) << id;
    EXPECT_TRUE(series[m[1]].insert(std::stoi(m[2])).second) << id;
  }
  for (const auto& id : answered)
    EXPECT_EQ(listed.count(id), 1u) << id << " missing from the catalogue";
  EXPECT_EQ(listed.size(), answered.size());
  for (const auto& [prefix, numbers] : series) {
    ASSERT_FALSE(numbers.empty());
    EXPECT_EQ(*numbers.begin(), 1) << prefix;
    EXPECT_EQ(*numbers.rbegin(), static_cast<int>(numbers.size())) << prefix << " has a gap";
  }
  EXPECT_EQ(series.size(), 2u);  // CT-YYYY and GN-YYYY

  ASSERT_EQ(S().Stop(), 0);
  RunResult verify = RunProgram({BinDir() + "/custosctl", "verify", "--data", S().data_dir()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// Collects every regular file under `dir` (recursively) with its contents.
std::map<std::string, std::string> ReadTree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out[e.path().string()] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

TEST_F(ApiConcurrency, UploadedPlaintextIsNeverStored) {
  auto drawn = crypto::RandomBytes(32);
  ASSERT_TRUE(drawn.ok());
  const crypto::Bytes random = *drawn;
  const std::string marker(random.begin(), random.end());
  const std::string hex_marker = HexOf(random.data(), random.size());
  std::string content;
  for (int i = 0; i < 8; ++i) content += PatternBytes(5000, 70 + i) + marker;
  const std::string title = "Plaintext probe " + hex_marker.substr(0, 8);

  auto rec = S().CheckInOk("archivist", ContractJson(title, "Probe Partner"),
                           {FilePart("probe.bin", content)});
  ASSERT_TRUE(rec);
  // A read decrypts it once more (and is logged): still nothing in the clear.
  const std::string path =
      "/v1/records/" + Str(rec, "id") + "/versions/1/files/" +
      Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  HttpResult read = S().As("archivist", "GET", path);
  ASSERT_EQ(read.status, 200) << Describe(read);
  ASSERT_EQ(read.body, content);

  ASSERT_EQ(S().Stop(), 0);
  std::map<std::string, std::string> files = ReadTree(S().data_dir());
  bool saw_db = false, saw_blob = false, saw_title = false;
  for (const auto& [name, bytes] : files) {
    saw_db = saw_db || name.find("custos.db") != std::string::npos;
    saw_blob = saw_blob || name.find("/blobs/") != std::string::npos;
    saw_title = saw_title || bytes.find(title) != std::string::npos;
    EXPECT_EQ(bytes.find(marker), std::string::npos) << "plaintext marker found in " << name;
    EXPECT_EQ(bytes.find(hex_marker), std::string::npos) << "hex of the marker found in " << name;
  }
  // The scan did look where the catalogue and the content live.
  EXPECT_TRUE(saw_db);
  EXPECT_TRUE(saw_blob);
  EXPECT_TRUE(saw_title) << "the record's title should be in the database files the scan read";
  // Nor in the server's own log.
  EXPECT_EQ(S().process().Log().find(marker), std::string::npos);
}

}  // namespace
}  // namespace custos::testing::api
