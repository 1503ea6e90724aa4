// A C2SP tlog-witness (https://c2sp.org/tlog-witness) for tests, written from
// the spec and independent of the client code (server/services/witness_client)
// and of crypto/cosignature and crypto/merkle's verifiers: it has its own
// RFC 6962 consistency check and its own cosignature/v1 signer, so a test
// that passes through it checks the client against the spec, not against
// itself.
//
// A plain-HTTP server on 127.0.0.1 (ephemeral port) serving
//   POST /add-checkpoint
// It knows the logs' note verifier keys, keeps the latest (size, root) it
// cosigned per origin in memory (and in `state_file` if set, 0600), and
// answers as the spec says: 200 + cosignature line; 400 malformed; 403 no
// valid log signature; 404 unknown origin; 409 + text/x.tlog.size when the
// old size is not its own (or same size, other root); 422 when the proof
// does not verify. Modes make it misbehave on purpose.
//
// Thread safety: all methods may be called from any thread; requests are
// served on the server's threads, the state guarded by a mutex held across
// check-and-update (the spec's atomicity rule).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/signature.h"

namespace Poco::Net {
class HTTPServer;
}

namespace custos::testing {

class TestWitness {
 public:
  enum class Mode {
    kNormal,
    kRefuseAll,       // 403 to every request
    kBadCosignature,  // 200 with a cosignature whose signature is corrupted
    kServerError,     // 503 to every request
  };
  struct Options {
    std::string name = "witness.test/w1";
    std::vector<std::string> log_vkeys;  // signed-note verifier keys of the logs it knows
    std::string state_file;              // optional persistence, "origin size root-b64" lines
  };
  struct Latest {
    uint64_t size = 0;
    crypto::Digest32 root{};
  };

  // Starts the server; aborts the test (ADD_FAILURE + nullptr) on failure.
  static std::unique_ptr<TestWitness> Start(Options options);
  ~TestWitness();  // stops the server, aborting open connections

  std::string url() const;   // "http://127.0.0.1:<port>" (the submission prefix)
  int port() const { return port_; }
  const std::string& name() const { return name_; }
  // The cosigner vkey "<name>+<hex id>+base64(0x04 ‖ key)", derived here
  // from the spec, not through crypto/cosignature.
  const std::string& vkey() const { return vkey_; }

  void set_mode(Mode mode) { mode_ = mode; }
  // Sleeps this long before answering each request.
  void set_delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  // The latest cosigned state for `origin`, if any.
  std::optional<Latest> latest(const std::string& origin) const;
  // Number of add-checkpoint requests received.
  int requests() const { return requests_; }

  struct Reply {
    int status = 0;
    std::string content_type;
    std::string body;
  };
  // The whole add-checkpoint logic on a request body (what the HTTP handler
  // runs). Public so tests can see the witness's answer directly.
  Reply AddCheckpoint(const std::string& body);

 private:
  TestWitness() = default;
  void Persist() const;  // requires mu_
  void Load();

  std::string name_;
  std::string vkey_;
  uint32_t key_id_ = 0;
  std::optional<crypto::KeyPair> key_;
  std::vector<std::string> log_vkeys_;
  std::string state_file_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
  std::atomic<Mode> mode_{Mode::kNormal};
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::map<std::string, Latest> latest_;  // GUARDED_BY(mu_)
};

}  // namespace custos::testing
