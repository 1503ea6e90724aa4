// Conformance of crypto/merkle against the shared Merkle proof vectors:
// shared/testdata/merkle/{inclusion,consistency}/** (from transparency-dev/
// merkle testdata, Apache 2.0) and merkle/tree-roots.json (RFC 6962 roots of
// the first N of 8 leaves, as in google/certificate-transparency's
// merkle_tree_test.cc). Every JSON file under the two folders is one case, so
// new files count automatically.
#include <gtest/gtest.h>

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "tests/testutil/testutil.h"

namespace custos::crypto::merkle {
namespace {

namespace fs = std::filesystem;

const char* const kVectorFolders[] = {"inclusion", "consistency"};

std::string MerkleDir() { return custos::testing::TestdataDir() + "/merkle"; }

// Vectors whose `wantErr` contradicts the verification rules of
// shared/testdata/README.md; the test expects the outcome the rules demand.
// Each entry names the rule. Remove an entry when the data file is fixed.
const std::map<std::string, std::string>& KnownDeviations() {
  static const auto* deviations = new std::map<std::string, std::string>{
      {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
       "roots are 12 bytes (\"don't care 2\"); the README rule \"every hash is exactly 32 "
       "bytes\" makes this an error although the file says wantErr=false"},
  };
  return *deviations;
}

// Path of `file` relative to MerkleDir(), with '/' separators.
std::string RelativeName(const fs::path& file) {
  return fs::relative(file, MerkleDir()).generic_string();
}

// Every *.json under merkle/inclusion and merkle/consistency, sorted.
std::vector<std::string> VectorFiles() {
  std::vector<std::string> files;
  for (const char* folder : kVectorFolders) {
    const fs::path root = fs::path(MerkleDir()) / folder;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_regular_file() && entry.path().extension() == ".json") {
        files.push_back(RelativeName(entry.path()));
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

Poco::JSON::Object::Ptr ParseObject(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

uint64_t GetU64(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
  if (!obj->has(key)) throw Poco::NotFoundException("missing field " + key);
  return obj->get(key).convert<Poco::UInt64>();
}

Bytes GetBase64(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
  if (!obj->has(key)) throw Poco::NotFoundException("missing field " + key);
  std::optional<Bytes> b = Base64Decode(obj->getValue<std::string>(key));
  if (!b) throw Poco::DataFormatException("field " + key + " is not base64");
  return *b;
}

// "proof" may be an array of base64 strings or null (no hashes).
std::vector<Bytes> GetProof(const Poco::JSON::Object::Ptr& obj) {
  std::vector<Bytes> proof;
  if (!obj->has("proof") || obj->isNull("proof")) return proof;
  Poco::JSON::Array::Ptr array = obj->getArray("proof");
  if (array.isNull()) throw Poco::DataFormatException("proof is not an array");
  for (size_t i = 0; i < array->size(); ++i) {
    std::optional<Bytes> b = Base64Decode(array->getElement<std::string>(i));
    if (!b) throw Poco::DataFormatException("proof hash is not base64");
    proof.push_back(*b);
  }
  return proof;
}

// Runs the verifier the way a receipt parser would: roots and leaf hashes
// are first converted to Digest32, which rejects a wrong length.
Status VerifyInclusionVector(const Poco::JSON::Object::Ptr& v) {
  CUSTOS_ASSIGN_OR_RETURN(Digest32 root, HashFromBytes(GetBase64(v, "root")));
  CUSTOS_ASSIGN_OR_RETURN(Digest32 leaf, HashFromBytes(GetBase64(v, "leafHash")));
  return VerifyInclusion(GetU64(v, "leafIdx"), GetU64(v, "treeSize"), leaf, GetProof(v), root);
}

Status VerifyConsistencyVector(const Poco::JSON::Object::Ptr& v) {
  CUSTOS_ASSIGN_OR_RETURN(Digest32 root1, HashFromBytes(GetBase64(v, "root1")));
  CUSTOS_ASSIGN_OR_RETURN(Digest32 root2, HashFromBytes(GetBase64(v, "root2")));
  return VerifyConsistency(GetU64(v, "size1"), GetU64(v, "size2"), GetProof(v), root1, root2);
}

struct Outcome {
  bool passed = false;
  std::string reason;  // the verifier's reason, "OK" on success
  std::string detail;  // why it failed, or the deviation applied
};

// Verifies one vector file and compares the outcome with its wantErr.
Outcome RunVector(const std::string& name) {
  Outcome out;
  try {
    const std::string text = custos::testing::ReadFileOrDie(MerkleDir() + "/" + name);
    Poco::JSON::Object::Ptr v = ParseObject(text);
    bool want_err = v->getValue<bool>("wantErr");
    const auto deviation = KnownDeviations().find(name);
    if (deviation != KnownDeviations().end()) {
      want_err = !want_err;
      out.detail = "deviation: " + deviation->second;
    }
    const bool is_inclusion = name.rfind("inclusion/", 0) == 0;
    const Status st = is_inclusion ? VerifyInclusionVector(v) : VerifyConsistencyVector(v);
    out.passed = st.ok() != want_err;
    out.reason = st.ok() ? "OK" : st.reason();
    if (!out.passed) {
      out.detail = "wantErr=" + std::string(want_err ? "true" : "false") +
                   " but got: " + (st.ok() ? "OK" : st.ToString());
    }
  } catch (const Poco::Exception& e) {
    out.detail = "cannot read vector: " + e.displayText();
  }
  return out;
}

// A gtest-safe test name from a relative path.
std::string TestName(const std::string& path) {
  std::string name;
  for (char c : path) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
}

class MerkleVectorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MerkleVectorTest, OutcomeMatchesWantErr) {
  const Outcome out = RunVector(GetParam());
  EXPECT_TRUE(out.passed) << GetParam() << ": " << out.detail;
  if (out.passed && !out.detail.empty()) std::cout << GetParam() << ": " << out.detail << "\n";
}

INSTANTIATE_TEST_SUITE_P(
    Files, MerkleVectorTest, ::testing::ValuesIn(VectorFiles()),
    [](const ::testing::TestParamInfo<std::string>& info) { return TestName(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MerkleVectorTest);

// Runs every vector once more to give a count, and fails if there are none
// (a missing or misplaced testdata folder must not pass silently).
TEST(MerkleVectors, AllVectorsPass) {
  const std::vector<std::string> files = VectorFiles();
  size_t passed = 0;
  size_t inclusion = 0;
  std::map<std::string, size_t> reasons;
  for (const std::string& name : files) {
    const Outcome out = RunVector(name);
    if (out.passed) ++passed;
    ++reasons[out.reason];
    if (name.rfind("inclusion/", 0) == 0) ++inclusion;
    EXPECT_TRUE(out.passed) << name << ": " << out.detail;
  }
  std::cout << passed << " of " << files.size() << " vectors passed (" << inclusion
            << " inclusion, " << files.size() - inclusion << " consistency, "
            << KnownDeviations().size() << " with a documented deviation)\n";
  for (const auto& [reason, count] : reasons) std::cout << "  " << reason << ": " << count << "\n";
  EXPECT_GT(inclusion, 0u);
  EXPECT_GT(files.size() - inclusion, 0u);
  EXPECT_EQ(passed, files.size());
}

// Every documented deviation must name a file that exists, so a renamed or
// fixed vector does not leave a stale exception behind.
TEST(MerkleVectors, DeviationsNameExistingFiles) {
  const std::vector<std::string> files = VectorFiles();
  for (const auto& [name, reason] : KnownDeviations()) {
    EXPECT_TRUE(std::find(files.begin(), files.end(), name) != files.end()) << name;
  }
}

TEST(MerkleVectors, TreeRootsOfFirstNLeaves) {
  const std::string text = custos::testing::ReadFileOrDie(MerkleDir() + "/tree-roots.json");
  ASSERT_FALSE(text.empty());
  Poco::JSON::Object::Ptr v = ParseObject(text);
  Poco::JSON::Array::Ptr inputs = v->getArray("leafInputsHex");
  Poco::JSON::Array::Ptr roots = v->getArray("rootsHex");
  ASSERT_FALSE(inputs.isNull());
  ASSERT_FALSE(roots.isNull());
  ASSERT_EQ(roots->size(), inputs->size() + 1);

  // One tree holding all leaves answers RootAt for every earlier size too.
  MemoryTree full;
  std::vector<Bytes> leaves;
  for (size_t i = 0; i < inputs->size(); ++i) {
    std::optional<Bytes> leaf = HexDecode(inputs->getElement<std::string>(i));
    ASSERT_TRUE(leaf.has_value()) << i;
    leaves.push_back(*leaf);
    full.Append(leaf->data(), leaf->size());
  }
  MemoryTree growing;
  for (size_t n = 0; n < roots->size(); ++n) {
    SCOPED_TRACE("N = " + std::to_string(n));
    if (n > 0) growing.Append(leaves[n - 1].data(), leaves[n - 1].size());
    const std::string want = roots->getElement<std::string>(n);
    EXPECT_EQ(HexEncode(growing.Root()), want);
    StatusOr<Digest32> at = RootAt(n, full);
    ASSERT_TRUE(at.ok()) << at.status().ToString();
    EXPECT_EQ(HexEncode(*at), want);
  }
}

}  // namespace
}  // namespace custos::crypto::merkle
