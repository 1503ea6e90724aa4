#include "tests/workload/log_checks.h"

#include <sstream>

#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "tests/workload/json.h"

namespace custos::workload {

std::vector<crypto::note::KeyVerifier> ParseVerifierKeys(const std::string& text,
                                                         std::vector<std::string>* errors) {
  std::vector<crypto::note::KeyVerifier> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto v = crypto::note::KeyVerifier::FromVerifierKey(line);
    if (v.ok()) {
      out.push_back(std::move(v).value());
    } else {
      errors->push_back("log key '" + line + "' does not parse: " + v.status().ToString());
    }
  }
  return out;
}

std::vector<const crypto::note::Verifier*> VerifierPointers(
    const std::vector<crypto::note::KeyVerifier>& keys) {
  std::vector<const crypto::note::Verifier*> out;
  for (const auto& k : keys) out.push_back(&k);
  return out;
}

Status CheckConsistency(const Send& send, const std::string& user,
                        const crypto::Checkpoint& older, const crypto::Checkpoint& newer) {
  if (older.size == newer.size) {
    return older.root == newer.root ? Status::Ok()
                                    : Internal("two roots for size " + std::to_string(older.size));
  }
  HttpResult r = send(user, "GET",
                      "/v1/log/proof/consistency?from=" + std::to_string(older.size) +
                          "&to=" + std::to_string(newer.size),
                      "", "");
  if (r.status != 200) return Internal("consistency proof: " + Describe(r));
  std::vector<crypto::Bytes> proof;
  for (const std::string& h : Strings(JsonObject(r.body), "proof")) {
    auto bytes = crypto::Base64Decode(h);
    if (!bytes) return Internal("consistency proof hash is not base64: " + h);
    proof.push_back(*bytes);
  }
  Status s = crypto::merkle::VerifyConsistency(older.size, newer.size, proof, older.root,
                                               newer.root);
  if (s.ok()) return s;
  return Internal("the log of size " + std::to_string(newer.size) + " (root " +
                  crypto::Base64Encode(newer.root) + ") does not extend the one of size " +
                  std::to_string(older.size) + " (root " + crypto::Base64Encode(older.root) +
                  "): " + s.ToString());
}

}  // namespace custos::workload
