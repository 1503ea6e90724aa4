// A C2SP tlog-witness for tests: see tests/testutil/test_witness.h.
#include "tests/testutil/test_witness.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "crypto/hash.h"
#include "crypto/signed_note.h"
#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/test_tsa.h"

namespace custos::testing {
namespace {

using crypto::Digest32;

constexpr size_t kMaxBody = 1 << 20;
constexpr size_t kMaxProofLines = 63;

Digest32 HashNode(const Digest32& left, const Digest32& right) {
  std::string buf(1, '\x01');
  buf.append(reinterpret_cast<const char*>(left.data()), left.size());
  buf.append(reinterpret_cast<const char*>(right.data()), right.size());
  return crypto::Sha256Of(buf);
}

// RFC 9162 §2.1.4.2, step by step, for 0 < first < second.
bool VerifyConsistency(uint64_t first, uint64_t second, const Digest32& first_hash,
                       const Digest32& second_hash, std::vector<Digest32> path) {
  if (path.empty()) return false;
  if ((first & (first - 1)) == 0) path.insert(path.begin(), first_hash);  // power of 2
  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Digest32 fr = path[0];
  Digest32 sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Digest32& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = HashNode(c, fr);
      sr = HashNode(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashNode(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == first_hash && sr == second_hash;
}

std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

uint32_t SpecKeyId(const std::string& name, const crypto::Bytes& pub) {
  std::string pre = name + "\n" + std::string(1, '\x04');
  pre.append(pub.begin(), pub.end());
  Digest32 h = crypto::Sha256Of(pre);
  return (uint32_t(h[0]) << 24) | (uint32_t(h[1]) << 16) | (uint32_t(h[2]) << 8) | h[3];
}

TestWitness::Reply Plain(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body)};
}

}  // namespace

struct TestWitness::Core {
  std::string name;
  std::string vkey;
  uint32_t key_id = 0;
  std::optional<crypto::KeyPair> key;
  std::vector<std::string> log_vkeys;
  std::string state_file;
  std::atomic<Mode> mode{Mode::kNormal};
  std::atomic<int64_t> delay_ms{0};
  std::atomic<int> requests{0};

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;  // GUARDED_BY(stop_mu)
  int active = 0;         // requests being handled; GUARDED_BY(stop_mu)

  mutable std::mutex mu;
  std::map<std::string, Latest> latest;  // GUARDED_BY(mu)

  Reply AddCheckpoint(const std::string& body);
  void Persist() const;  // requires mu
  void Load();
};

namespace {

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<TestWitness::Core> w) : w_(std::move(w)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    {
      std::lock_guard<std::mutex> lock(w_->stop_mu);
      ++w_->active;
    }
    struct Done {
      TestWitness::Core& c;
      ~Done() {
        std::lock_guard<std::mutex> lock(c.stop_mu);
        --c.active;
        c.stop_cv.notify_all();
      }
    } done{*w_};
    TestWitness::Reply reply;
    if (req.getMethod() != "POST" || req.getURI() != "/add-checkpoint") {
      reply = Plain(404, "not found\n");
    } else {
      std::string body(kMaxBody + 1, '\0');
      req.stream().read(body.data(), static_cast<std::streamsize>(body.size()));
      body.resize(static_cast<size_t>(req.stream().gcount()));
      reply = body.size() > kMaxBody ? Plain(413, "too large\n") : w_->AddCheckpoint(body);
    }
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
    resp.setContentType(reply.content_type);
    resp.setContentLength64(static_cast<Poco::Int64>(reply.body.size()));
    resp.send().write(reply.body.data(), static_cast<std::streamsize>(reply.body.size()));
  }

 private:
  std::shared_ptr<TestWitness::Core> w_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<TestWitness::Core> w) : w_(std::move(w)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(w_);
  }

 private:
  std::shared_ptr<TestWitness::Core> w_;
};

}  // namespace

std::unique_ptr<TestWitness> TestWitness::Start(Options options) {
  std::unique_ptr<TestWitness> w(new TestWitness);
  w->core_ = std::make_shared<Core>();
  Core& c = *w->core_;
  c.name = options.name;
  c.log_vkeys = options.log_vkeys;
  c.state_file = options.state_file;
  auto key = crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519);
  if (!key.ok()) {
    ADD_FAILURE() << key.status().ToString();
    return nullptr;
  }
  c.key = *key;
  const crypto::Bytes& pub = c.key->public_key().raw();
  c.key_id = SpecKeyId(c.name, pub);
  crypto::Bytes tk{0x04};
  tk.insert(tk.end(), pub.begin(), pub.end());
  uint8_t be[4] = {uint8_t(c.key_id >> 24), uint8_t(c.key_id >> 16), uint8_t(c.key_id >> 8),
                   uint8_t(c.key_id)};
  c.vkey = c.name + "+" + crypto::HexEncode(be, 4) + "+" + crypto::Base64Encode(tk);
  c.Load();
  std::unique_ptr<Poco::Net::ServerSocket> socket;
  if (options.tls) {
    w->tls_dir_ = std::make_unique<TempDir>();
    const std::string key_file = w->tls_dir_->Sub("key.pem");
    RunResult made = RunProgram({TestTsa::OpensslPath(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                                 "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                 "-keyout", key_file, "-out", w->cert_path()});
    if (made.exit_code != 0) {
      ADD_FAILURE() << "openssl req: " << made.err;
      return nullptr;
    }
    EnsureSslInitialized();
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, key_file, w->cert_path(), "", Poco::Net::Context::VERIFY_NONE);
    socket = std::make_unique<Poco::Net::SecureServerSocket>(
        Poco::Net::SocketAddress("127.0.0.1", 0), 64, context);
  } else {
    socket = std::make_unique<Poco::Net::ServerSocket>(Poco::Net::SocketAddress("127.0.0.1", 0));
  }
  w->port_ = socket->address().port();
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(4);
  params->setKeepAlive(true);
  w->server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(w->core_), *socket, params);
  w->server_->start();
  return w;
}

TestWitness::~TestWitness() {
  {
    std::lock_guard<std::mutex> lock(core_->stop_mu);
    core_->stopping = true;
  }
  core_->stop_cv.notify_all();
  if (server_) server_->stopAll(true);
  // Let a request cut short finish before the process may exit.
  std::unique_lock<std::mutex> lock(core_->stop_mu);
  core_->stop_cv.wait_for(lock, std::chrono::seconds(2), [this] { return core_->active == 0; });
}

std::string TestWitness::url() const {
  return std::string(tls_dir_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}
std::string TestWitness::cert_path() const { return tls_dir_ ? tls_dir_->Sub("cert.pem") : ""; }
const std::string& TestWitness::name() const { return core_->name; }
const std::string& TestWitness::vkey() const { return core_->vkey; }
void TestWitness::set_mode(Mode mode) { core_->mode = mode; }
void TestWitness::set_delay(std::chrono::milliseconds delay) { core_->delay_ms = delay.count(); }
int TestWitness::requests() const { return core_->requests; }

std::optional<TestWitness::Latest> TestWitness::latest(const std::string& origin) const {
  std::lock_guard<std::mutex> lock(core_->mu);
  auto it = core_->latest.find(origin);
  if (it == core_->latest.end()) return std::nullopt;
  return it->second;
}

TestWitness::Reply TestWitness::AddCheckpoint(const std::string& body) {
  return core_->AddCheckpoint(body);
}

TestWitness::Reply TestWitness::Core::AddCheckpoint(const std::string& body) {
  ++requests;
  if (int64_t ms = delay_ms.load(); ms > 0) {
    std::unique_lock<std::mutex> lock(stop_mu);
    stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping; });
  }
  Mode mode = this->mode.load();
  if (mode == Mode::kServerError) return Plain(503, "unavailable\n");
  if (mode == Mode::kRefuseAll) return Plain(403, "refused\n");

  // old <size>\n, proof lines, empty line, checkpoint.
  std::string_view rest(body);
  auto next_line = [&rest]() -> std::optional<std::string_view> {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    return line;
  };
  auto old_line = next_line();
  if (!old_line || old_line->substr(0, 4) != "old ") return Plain(400, "no old size line\n");
  auto old_size = ParseDecimal(old_line->substr(4));
  if (!old_size) return Plain(400, "bad old size\n");
  std::vector<Digest32> proof;
  for (;;) {
    auto line = next_line();
    if (!line) return Plain(400, "no empty line\n");
    if (line->empty()) break;
    auto h = crypto::Base64Decode(*line);
    if (!h || h->size() != 32 || proof.size() == kMaxProofLines) return Plain(400, "bad proof line\n");
    Digest32 d;
    std::copy(h->begin(), h->end(), d.begin());
    proof.push_back(d);
  }
  std::string_view note(rest);
  std::string origin(note.substr(0, note.find('\n')));
  std::vector<crypto::note::KeyVerifier> verifiers;
  for (const std::string& vk : log_vkeys) {
    auto v = crypto::note::KeyVerifier::FromVerifierKey(vk);
    if (v.ok() && v->name() == origin) verifiers.push_back(*v);
  }
  if (verifiers.empty()) return Plain(404, "unknown log\n");
  std::vector<const crypto::note::Verifier*> vptrs;
  for (const auto& v : verifiers) vptrs.push_back(&v);
  auto opened = crypto::OpenCheckpoint(note, vptrs);
  if (!opened.ok()) {
    const std::string reason = opened.status().reason();
    if (reason == "note_invalid_signature" || reason == "note_no_verified_signature") {
      return Plain(403, "log signature does not verify\n");
    }
    return Plain(400, "bad checkpoint: " + reason + "\n");
  }
  const crypto::Checkpoint& cp = opened->checkpoint;
  if (*old_size > cp.size) return Plain(400, "old size above checkpoint size\n");

  std::lock_guard<std::mutex> lock(mu);  // check and update atomically
  Latest mine;
  if (auto it = latest.find(origin); it != latest.end()) mine = it->second;
  auto conflict = [&mine]() {
    return Reply{409, "text/x.tlog.size", std::to_string(mine.size) + "\n"};
  };
  if (*old_size != mine.size) return conflict();
  if (*old_size == 0) {
    if (!proof.empty()) return Plain(422, "proof from size 0 must be empty\n");
  } else if (*old_size == cp.size) {
    if (cp.root != mine.root) return conflict();
    if (!proof.empty()) return Plain(422, "proof between equal sizes must be empty\n");
  } else if (!VerifyConsistency(*old_size, cp.size, mine.root, cp.root, proof)) {
    return Plain(422, "consistency proof does not verify\n");
  }
  latest[origin] = Latest{cp.size, cp.root};
  Persist();

  // cosignature/v1 over the note text.
  const std::string& text = opened->note.text;
  const uint64_t ts = static_cast<uint64_t>(std::time(nullptr));
  const std::string message = "cosignature/v1\ntime " + std::to_string(ts) + "\n" + text;
  auto sig = key->Sign(message);
  if (!sig.ok()) return Plain(500, "signing failed\n");
  if (mode == Mode::kBadCosignature) (*sig)[10] ^= 0x01;
  crypto::Bytes payload = {uint8_t(key_id >> 24), uint8_t(key_id >> 16), uint8_t(key_id >> 8),
                           uint8_t(key_id)};
  for (int i = 7; i >= 0; --i) payload.push_back(uint8_t(ts >> (8 * i)));
  payload.insert(payload.end(), sig->begin(), sig->end());
  return Plain(200, "\xE2\x80\x94 " + name + " " + crypto::Base64Encode(payload) + "\n");
}

void TestWitness::Core::Persist() const {
  if (state_file.empty()) return;
  std::ostringstream out;
  for (const auto& [origin, l] : latest) {
    out << origin << ' ' << l.size << ' ' << crypto::Base64Encode(l.root) << '\n';
  }
  const std::string tmp = state_file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return;
  const std::string s = out.str();
  bool ok = ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), state_file.c_str());
}

void TestWitness::Core::Load() {
  if (state_file.empty()) return;
  std::ifstream in(state_file);
  std::string origin, root;
  uint64_t size = 0;
  while (in >> origin >> size >> root) {
    auto r = crypto::Base64Decode(root);
    if (!r || r->size() != 32) continue;
    Latest l;
    l.size = size;
    std::copy(r->begin(), r->end(), l.root.begin());
    latest[origin] = l;
  }
}

}  // namespace custos::testing
