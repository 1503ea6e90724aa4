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
// check-and-update (the spec's atomicity rule). Destroying the witness cuts
// a delayed answer short.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "tests/testutil/testutil.h"

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
    // Serve HTTPS with a self-signed certificate for 127.0.0.1 made at
    // start (cert_path() is the file a client trusts).
    bool tls = false;
  };
  struct Latest {
    uint64_t size = 0;
    crypto::Digest32 root{};
  };

  // Starts the server; aborts the test (ADD_FAILURE + nullptr) on failure.
  static std::unique_ptr<TestWitness> Start(Options options);
  ~TestWitness();  // stops the server, aborting open connections

  // "http://127.0.0.1:<port>" or https (the submission prefix).
  std::string url() const;
  // With Options::tls: the server's self-signed certificate (PEM file).
  std::string cert_path() const;
  int port() const { return port_; }
  const std::string& name() const;
  // The cosigner vkey "<name>+<hex id>+base64(0x04 ‖ key)", derived here
  // from the spec, not through crypto/cosignature.
  const std::string& vkey() const;

  void set_mode(Mode mode);
  // Sleeps this long before answering each request (cut short when the
  // witness is destroyed).
  void set_delay(std::chrono::milliseconds delay);
  // The latest cosigned state for `origin`, if any.
  std::optional<Latest> latest(const std::string& origin) const;
  // Number of add-checkpoint requests received.
  int requests() const;

  struct Reply {
    int status = 0;
    std::string content_type;
    std::string body;
  };
  // The whole add-checkpoint logic on a request body (what the HTTP handler
  // runs). Public so tests can see the witness's answer directly.
  Reply AddCheckpoint(const std::string& body);

  // Implementation: everything a request touches (test_witness.cc).
  struct Core;

 private:
  TestWitness() = default;

  // Shared with the server's handler threads, so a request still running
  // when the witness is destroyed never touches freed memory.
  std::shared_ptr<Core> core_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
  std::unique_ptr<TempDir> tls_dir_;  // key and certificate when serving HTTPS
};

}  // namespace custos::testing
