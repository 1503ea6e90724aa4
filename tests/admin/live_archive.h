// Helpers for the admin suites that need an archive with content: a data
// directory initialised with an archivist account, check-ins over HTTPS
// against a real custosd, seed archives made once per suite and copied per
// test, and checkpoint texts.
//
// Everything fails the current test (ADD_FAILURE) rather than throwing.
// Thread safety: a CheckInClient belongs to one thread, a SuiteSeed to the
// suite's set-up and tear-down; the free functions are stateless.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "storage/custody.h"
#include "tests/admin/cli_probes.h"
#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing::live {

inline constexpr char kArchivist[] = "archivist1";
inline constexpr char kArchivistPassword[] = "filing cabinet seventeen drawers";
inline constexpr char kBoundary[] = "----CustosAdminTestBoundary41c9";

// custosctl init on `data`, then an archivist (department "sales") with a
// known password that need not be changed. The archive's configuration asks
// no role for a second factor (auth.second_factor_roles empty): these suites
// check in over HTTPS to test backups, copies and tampering, not sign-in
// (tests/server covers the factors). False (after ADD_FAILURE) if a step
// fails.
inline bool InitWithArchivist(const TempDir& tmp, const std::string& data) {
  RunResult init = RunProgram({Ctl(), "init", "--data", data, "--password-memory-kib", "19456"});
  if (init.exit_code != 0) {
    ADD_FAILURE() << "init: " << init.err;
    return false;
  }
  const std::string pw = tmp.Sub("archivist-password");
  WriteFile(pw, std::string(kArchivistPassword) + "\n");
  RunResult add =
      RunProgram({Ctl(), "user", "add", kArchivist, "--role", "archivist", "--department", "sales",
                  "--data", data, "--password-file", pw, "--no-force-change"});
  if (add.exit_code != 0) {
    ADD_FAILURE() << "user add: " << add.err;
    return false;
  }
  SetConfigLines(data + "/custos.conf", "auth.second_factor_roles =\n");
  return true;
}

// `n` bytes of a deterministic pattern seeded by `seed`.
inline std::string PatternBytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x & 0xFF);
  }
  return out;
}

// Member `key` of the JSON object `text` as a string ("" if absent).
inline std::string JsonString(const std::string& text, const std::string& key) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(text);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return "";
    auto o = v.extract<Poco::JSON::Object::Ptr>();
    if (!o->has(key) || o->isNull(key)) return "";
    return o->get(key).convert<std::string>();
  } catch (const Poco::Exception&) {
    return "";
  }
}

// Signs in as the archivist and checks records in over HTTPS.
class CheckInClient {
 public:
  CheckInClient(int port, const std::string& data_dir)
      : client_(port, data_dir + "/tls/cert.pem") {}

  bool SignIn() {
    std::string body = std::string("{\"username\":\"") + kArchivist + "\",\"password\":\"" +
                       kArchivistPassword + "\"}";
    HttpResult r = client_.Request("POST", "/v1/session", body, "application/json");
    token_ = r.status == 200 ? JsonString(r.body, "token") : "";
    if (token_.empty()) ADD_FAILURE() << "sign-in: HTTP " << r.status << " " << r.body;
    return !token_.empty();
  }

  // Checks in a general record with one file per entry of `contents`;
  // returns the archive number once the server acknowledged it (201).
  std::optional<std::string> CheckIn(const std::string& title,
                                     const std::vector<std::string>& contents) {
    std::string body = Part("metadata", "", "application/json",
                            "{\"type\":\"general\",\"title\":\"" + title +
                                "\",\"department\":\"sales\",\"classification\":\"internal\"}");
    for (size_t i = 0; i < contents.size(); ++i) {
      body += Part("file", title + "-" + std::to_string(i) + ".bin", "application/octet-stream",
                   contents[i]);
    }
    body += std::string("--") + kBoundary + "--\r\n";
    HttpResult r = client_.Request("POST", "/v1/records", body,
                                   std::string("multipart/form-data; boundary=") + kBoundary,
                                   {{"Authorization", "Bearer " + token_}});
    if (r.status != 201) {
      last_error_ = "HTTP " + std::to_string(r.status) + " " + r.body + r.transport_error;
      return std::nullopt;
    }
    std::string id = JsonString(r.body, "id");
    if (id.empty()) return std::nullopt;
    return id;
  }

  const std::string& last_error() const { return last_error_; }

 private:
  static std::string Part(const std::string& name, const std::string& filename,
                          const std::string& type, const std::string& bytes) {
    std::string out =
        std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) out += "; filename=\"" + filename + "\"";
    out += "\r\nContent-Type: " + type + "\r\n\r\n" + bytes + "\r\n";
    return out;
  }

  HttpsClient client_;
  std::string token_;
  std::string last_error_;
};

// Initialises `data` with an archivist, starts custosd, checks in
// `records` general records (record i holds `files_per_record` files of a
// few KiB) and stops the server. Returns the archive numbers, or an empty
// vector after ADD_FAILURE.
inline std::vector<std::string> MakeArchiveWithContent(const TempDir& tmp, const std::string& data,
                                                       int records, int files_per_record = 1) {
  if (!InitWithArchivist(tmp, data)) return {};
  ServerProcess server;
  if (!server.Start(data)) return {};
  std::vector<std::string> ids;
  {
    CheckInClient client(server.port(), data);
    if (!client.SignIn()) return {};
    for (int i = 0; i < records; ++i) {
      std::vector<std::string> contents;
      for (int f = 0; f < files_per_record; ++f) {
        contents.push_back(PatternBytes(3000 + 1000 * f + 17 * i, 100 * i + f));
      }
      auto id = client.CheckIn("Seeded record " + std::to_string(i), contents);
      if (!id) {
        ADD_FAILURE() << "check-in " << i << ": " << client.last_error();
        return {};
      }
      ids.push_back(*id);
    }
  }
  if (server.Stop() != 0) {
    ADD_FAILURE() << "custosd did not stop cleanly: " << server.Log();
    return {};
  }
  return ids;
}

// Copies a stopped data directory (permissions included) and hands the
// copy the signing custody (storage/custody.h), as a move would: the seed
// is never started again, so the copy may sign.
inline void CopyDataDir(const std::string& from, const std::string& to) {
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
  Status bound = storage::BindCustody(storage::DataDir(to), "test copy of a seed archive");
  if (!bound.ok()) ADD_FAILURE() << bound.ToString();
}

// A stopped archive with content (MakeArchiveWithContent): its data
// directory and archive numbers.
struct ContentArchive {
  std::string data;
  std::vector<std::string> ids;
};

// A maker of a ContentArchive with `records` records of `files_per_record`
// files each, for SuiteSeed::Make.
inline auto ContentArchiveOf(int records, int files_per_record) {
  return [records, files_per_record](const TempDir& tmp, ContentArchive& seed) {
    seed.data = tmp.Sub("data");
    seed.ids = MakeArchiveWithContent(tmp, seed.data, records, files_per_record);
    return seed.ids.size() == static_cast<size_t>(records);
  };
}

// A seed archive made once for a whole test suite: Make() in
// SetUpTestSuite, Clear() in TearDownTestSuite; each test copies what it
// needs (CopyDataDir). `make(tmp, seed)` fills the seed in the scratch
// directory `tmp` and returns false (after ADD_FAILURE) if it could not.
template <typename Seed>
class SuiteSeed {
 public:
  template <typename Maker>
  void Make(Maker make) {
    tmp_ = std::make_unique<TempDir>();
    seed_ = std::make_unique<Seed>();
    made_ = make(*tmp_, *seed_);
  }
  void Clear() {
    seed_.reset();
    tmp_.reset();
    made_ = false;
  }
  // False if Make() failed; a test should then stop at once.
  bool made() const { return made_; }
  const Seed& operator*() const { return *seed_; }
  const Seed* operator->() const { return seed_.get(); }
  // Copies the seed's data directory (Seed::data) to `tmp`/`name`; its path.
  std::string CopyData(const TempDir& tmp, const std::string& name = "data") const {
    const std::string data = tmp.Sub(name);
    CopyDataDir(seed_->data, data);
    return data;
  }

 private:
  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<Seed> seed_;
  bool made_ = false;
};

// The size line and the root line of a signed checkpoint text.
struct CheckpointText {
  uint64_t size = 0;
  std::string root;
};

inline CheckpointText ParseCheckpoint(const std::string& text) {
  CheckpointText out;
  std::istringstream in(text);
  std::string origin, size;
  if (std::getline(in, origin) && std::getline(in, size) && std::getline(in, out.root)) {
    try {
      out.size = std::stoull(size);
    } catch (const std::exception&) {
      out.size = 0;
    }
  }
  return out;
}

}  // namespace custos::testing::live
