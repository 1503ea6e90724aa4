// Damage under a live server: a file's ciphertext removed from the blob
// store behind custosd's back. The catalogue says the file is live, so the
// read is an integrity failure (500 content_missing, named in the server's
// log and by custosctl verify), not an unknown resource (404); other files
// are served as before.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

namespace fs = std::filesystem;

// Paths of the committed blobs under DATA/blobs/<2 hex>/.
std::vector<fs::path> BlobFiles(const std::string& data_dir) {
  std::vector<fs::path> out;
  for (const auto& dir : fs::directory_iterator(data_dir + "/blobs")) {
    if (!dir.is_directory() || dir.path().filename() == "tmp") continue;
    for (const auto& f : fs::directory_iterator(dir.path())) out.push_back(f.path());
  }
  return out;
}

TEST(StorageDamage, MissingCiphertextIsAnIntegrityFailureNotANotFound) {
  std::unique_ptr<ApiServer> s = ApiServer::Create("", {"archivist"});
  ASSERT_TRUE(s);
  Poco::JSON::Object::Ptr damaged =
      s->CheckInOk("archivist", ContractJson("damaged", "ACME"), {FilePart("a.pdf", "first")});
  ASSERT_TRUE(damaged);
  const std::vector<fs::path> before = BlobFiles(s->data_dir());
  ASSERT_EQ(before.size(), 1u);
  Poco::JSON::Object::Ptr intact =
      s->CheckInOk("archivist", ContractJson("intact", "ACME"), {FilePart("b.pdf", "second")});
  ASSERT_TRUE(intact);
  fs::remove(before[0]);

  auto file_path = [](const Poco::JSON::Object::Ptr& record) {
    Poco::JSON::Object::Ptr f =
        record->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
    return "/v1/records/" + Str(record, "id") + "/versions/1/files/" + Str(f, "id");
  };
  HttpResult lost = s->As("archivist", "GET", file_path(damaged));
  EXPECT_EQ(lost.status, 500) << Describe(lost);
  EXPECT_EQ(lost.body.find("first"), std::string::npos);
  EXPECT_NE(s->process().Log().find("is missing (run custosctl verify)"), std::string::npos)
      << s->process().Log();

  HttpResult kept = s->As("archivist", "GET", file_path(intact));
  ASSERT_EQ(kept.status, 200) << Describe(kept);
  EXPECT_EQ(kept.body, "second");

  ASSERT_EQ(s->process().Stop(), 0);
  RunResult verify = RunProgram({BinDir() + "/custosctl", "verify", "--data", s->data_dir()});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  Poco::JSON::Object::Ptr lost_file =
      damaged->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  EXPECT_NE(verify.out.find("FINDING file " + Str(lost_file, "id")), std::string::npos) << verify.out;
}

}  // namespace
}  // namespace custos::testing::api
