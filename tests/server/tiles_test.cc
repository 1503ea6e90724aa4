// The tlog-tiles read API (server/http/tile_routes.h, docs/formats/tiles.md)
// through the product's HTTPS server on an ephemeral port, spoken to by a
// client written here from the C2SP tlog-tiles text alone: it hashes with
// plain OpenSSL SHA-256 (RFC 6962 §2.1) and rebuilds the tree root from hash
// tiles, checks level 0 against entry bundles and level 1 against level 0,
// and compares with the signed checkpoint. No Custos Merkle code is used.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "crypto/signed_note.h"
#include "crypto/x509.h"
#include "server/http/router.h"
#include "server/http/server.h"
#include "server/http/tile_routes.h"
#include "server/services/log_service.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/scratch_store.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

// ------------------------------------------------- the client, from the spec

using Hash = std::array<uint8_t, 32>;

Hash Sha256(const std::string& bytes) {
  Hash h{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), h.data(), &n, EVP_sha256(), nullptr);
  return h;
}
std::string Str(const Hash& h) { return std::string(reinterpret_cast<const char*>(h.data()), h.size()); }
Hash LeafHash(const std::string& leaf) { return Sha256(std::string(1, '\0') + leaf); }
Hash NodeHash(const Hash& l, const Hash& r) { return Sha256(std::string(1, '\1') + Str(l) + Str(r)); }

// Strict base64 of 32 bytes.
std::optional<Hash> Base64Hash(const std::string& b64) {
  if (b64.size() != 44) return std::nullopt;
  unsigned char out[33];
  if (EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(b64.data()), 44) != 33) return std::nullopt;
  Hash h;
  std::copy(out, out + 32, h.begin());
  return h;
}

// "x001/x234/067" for 1234067 (tlog-tiles "<N>").
std::string IndexPath(uint64_t n) {
  std::string out = std::to_string(n % 1000);
  out = std::string(3 - out.size(), '0') + out;
  for (n /= 1000; n > 0; n /= 1000) {
    std::string g = std::to_string(n % 1000);
    out = "x" + std::string(3 - g.size(), '0') + g + "/" + out;
  }
  return out;
}

// MTH of a power-of-two run of hashes.
Hash Fold(std::vector<Hash> hs) {
  while (hs.size() > 1) {
    std::vector<Hash> up;
    for (size_t i = 0; i + 1 < hs.size(); i += 2) up.push_back(NodeHash(hs[i], hs[i + 1]));
    hs = std::move(up);
  }
  return hs[0];
}

struct Checkpoint {
  uint64_t size = 0;
  Hash root{};
};

class TilesClient {
 public:
  TilesClient(HttpsClient& http, uint64_t size) : http_(http), size_(size) {}

  // The hashes of tile (level, n) as a tree of size_ has it: full, or
  // partial of width floor(size / 256^level) mod 256.
  const std::vector<Hash>& Tile(uint32_t level, uint64_t n) {
    auto key = std::make_pair(level, n);
    if (auto it = tiles_.find(key); it != tiles_.end()) return it->second;
    uint64_t count = 8 * level >= 64 ? 0 : size_ >> (8 * level);
    uint64_t width = std::min<uint64_t>(256, count - n * 256);
    std::string path = "/log/tile/" + std::to_string(level) + "/" + IndexPath(n) +
                       (width < 256 ? ".p/" + std::to_string(width) : "");
    HttpResult r = http_.Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.body.size(), width * 32) << path;
    std::vector<Hash> hashes;
    for (size_t i = 0; i + 32 <= r.body.size(); i += 32) {
      Hash h;
      std::copy(r.body.begin() + i, r.body.begin() + i + 32, h.begin());
      hashes.push_back(h);
    }
    hashes.resize(width);
    return tiles_[key] = hashes;
  }

  // The hash of the perfect subtree of height k over leaves
  // [i·2^k, (i+1)·2^k): from the tile at level k/8, folding 2^(k mod 8)
  // of its hashes.
  Hash Node(uint32_t k, uint64_t i) {
    uint32_t level = k / 8, r = k % 8;
    uint64_t start = i << r;
    const std::vector<Hash>& t = Tile(level, start / 256);
    std::vector<Hash> run(t.begin() + static_cast<long>(start % 256),
                          t.begin() + static_cast<long>(start % 256 + (uint64_t{1} << r)));
    return Fold(run);
  }

  // RFC 6962 MTH of the whole tree: its perfect subtrees, largest first,
  // folded from the right.
  Hash Root() {
    if (size_ == 0) return Sha256("");
    std::vector<Hash> parts;
    uint64_t done = 0;
    for (int k = 63; k >= 0; --k) {
      if ((size_ >> k) & 1) {
        parts.push_back(Node(static_cast<uint32_t>(k), done >> k));
        done += uint64_t{1} << k;
      }
    }
    Hash h = parts.back();
    for (size_t j = parts.size() - 1; j-- > 0;) h = NodeHash(parts[j], h);
    return h;
  }

  // The entries of bundle n; a placeholder's leaf hash in `stand_ins`.
  std::vector<std::string> Bundle(uint64_t n) {
    uint64_t width = std::min<uint64_t>(256, size_ - n * 256);
    std::string path = "/log/tile/entries/" + IndexPath(n) + (width < 256 ? ".p/" + std::to_string(width) : "");
    HttpResult r = http_.Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    std::vector<std::string> entries;
    size_t at = 0;
    while (at + 2 <= r.body.size()) {
      size_t len = (static_cast<uint8_t>(r.body[at]) << 8) | static_cast<uint8_t>(r.body[at + 1]);
      if (at + 2 + len > r.body.size()) break;
      entries.push_back(r.body.substr(at + 2, len));
      at += 2 + len;
    }
    EXPECT_EQ(at, r.body.size()) << path << ": trailing bytes";
    EXPECT_EQ(entries.size(), width) << path;
    return entries;
  }

  // Checks every entry against level 0 (a placeholder by its "leafHash")
  // and every full level-0 tile against level 1. Returns the placeholders.
  std::vector<std::string> CheckLevels() {
    std::vector<std::string> placeholders;
    for (uint64_t n = 0; n * 256 < size_; ++n) {
      std::vector<std::string> entries = Bundle(n);
      const std::vector<Hash>& level0 = Tile(0, n);
      for (size_t i = 0; i < entries.size() && i < level0.size(); ++i) {
        Hash h = LeafHash(entries[i]);
        if (entries[i].rfind("{\"index\":", 0) == 0) {
          placeholders.push_back(entries[i]);
          size_t at = entries[i].find("\"leafHash\":\"");
          EXPECT_NE(at, std::string::npos) << entries[i];
          h = Base64Hash(entries[i].substr(at + 12, 44)).value_or(Hash{});
        }
        EXPECT_EQ(h, level0[i]) << "entry " << n * 256 + i;
      }
      if (level0.size() == 256) EXPECT_EQ(Fold(level0), Tile(1, n / 256)[n % 256]) << "level-1 hash " << n;
    }
    return placeholders;
  }

 private:
  HttpsClient& http_;
  const uint64_t size_;
  std::map<std::pair<uint32_t, uint64_t>, std::vector<Hash>> tiles_;
};

// ------------------------------------------------------------ the fixture

class TilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EnsureSslInitialized();
    auto pem = crypto::MakeSelfSignedCertificate({});
    ASSERT_TRUE(pem.ok()) << pem.status().ToString();
    WriteFile(tmp_.Sub("cert.pem"), pem->certificate_pem);
    WriteFile(tmp_.Sub("key.pem"), pem->private_key_pem);
    ASSERT_EQ(chmod(tmp_.Sub("key.pem").c_str(), 0600), 0);
    http::AddTileRoutes(router_, log_);
    config_.listen.port = 0;
    server_ = std::make_unique<http::HttpsServer>(config_, http::TlsFiles{tmp_.Sub("cert.pem"), tmp_.Sub("key.pem")},
                                                  router_, logger_, metrics_);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    client_ = std::make_unique<HttpsClient>(server_->port(), tmp_.Sub("cert.pem"));
  }
  void TearDown() override {
    if (server_) server_->Stop(1);
  }
  ~TilesTest() override { close(null_fd_); }

  // Appends events until the log has `size` entries (one write, so one
  // checkpoint).
  void GrowTo(uint64_t size, size_t detail_bytes = 0) {
    Status s = store_.Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.log().Size());
      for (; n < size; ++n) {
        storage::LogEvent e = storage::testing::Event("test.tile", "tiles", static_cast<int>(n));
        if (detail_bytes > 0) e.details.Set("pad", std::string(detail_bytes, 'p'));
        CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The served checkpoint, its signature checked.
  Checkpoint Served() {
    HttpResult r = client_->Get("/log/checkpoint");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["Content-Type"], "text/plain; charset=utf-8");
    EXPECT_EQ(r.headers["Cache-Control"], "no-store");
    auto opened = crypto::OpenCheckpoint(r.body, signer_.verifiers());
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    // The body read as the spec's client would: origin, size, base64 root.
    size_t l1 = r.body.find('\n'), l2 = r.body.find('\n', l1 + 1), l3 = r.body.find('\n', l2 + 1);
    Checkpoint cp;
    cp.size = std::stoull(r.body.substr(l1 + 1, l2 - l1 - 1));
    cp.root = Base64Hash(r.body.substr(l2 + 1, l3 - l2 - 1)).value_or(Hash{});
    return cp;
  }

  int Code(const std::string& path) { return client_->Get(path).status; }

  TempDir tmp_;
  storage::testing::TestSigner signer_;
  storage::testing::ScratchStore store_{&signer_.checkpoint};
  services::LogService log_{store_, ""};
  http::Router router_;
  Config config_;
  int null_fd_ = open("/dev/null", O_WRONLY | O_CLOEXEC);
  Logger logger_{null_fd_, LogLevel::kError};
  MetricsRegistry metrics_;
  std::unique_ptr<http::HttpsServer> server_;
  std::unique_ptr<HttpsClient> client_;
};

// ------------------------------------------------------------------ tests

TEST(TilePath, IndexIsEncodedInThreeDigitElements) {
  EXPECT_EQ(http::FormatTileIndex(0), "000");
  EXPECT_EQ(http::FormatTileIndex(999), "999");
  EXPECT_EQ(http::FormatTileIndex(1000), "x001/000");
  EXPECT_EQ(http::FormatTileIndex(1234067), "x001/x234/067");
  EXPECT_EQ(http::FormatTileIndex(UINT64_MAX), "x018/x446/x744/x073/x709/x551/615");
  EXPECT_EQ(IndexPath(1234067), "x001/x234/067");  // the test client agrees
  auto t = http::ParseTilePath("3/x001/x234/067.p/12");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_FALSE(t->entries);
  EXPECT_EQ(t->level, 3u);
  EXPECT_EQ(t->index, 1234067u);
  EXPECT_EQ(t->width, 12u);
  EXPECT_EQ(http::FormatTilePath(*t), "3/x001/x234/067.p/12");
  auto e = http::ParseTilePath("entries/x018/x446/x744/x073/x709/x551/615");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE(e->entries);
  EXPECT_EQ(e->index, UINT64_MAX);
  EXPECT_FALSE(e->partial());
}

TEST(TilePath, NonCanonicalPathsAreRefusedNamingTheRule) {
  for (const char* bad : {"0", "0/", "00/000", "64/000", "-1/000", "a/000", "0/1", "0/0001", "0/x000/001",
                          "0/001/000", "0/x001", "0/x1/000", "0/000.p/0", "0/000.p/256", "0/000.p/07",
                          "0/000.p/", "0/000.p", "0//000", "0/%30%30%30", "entries/000.p/1/1",
                          "0/x018/x446/x744/x073/x709/x551/616", "tile/0/000", "0/000.q/1"}) {
    auto t = http::ParseTilePath(bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().reason(), "bad_tile_path") << bad;
  }
}

TEST_F(TilesTest, ClientRebuildsTheSignedRootFromTilesAtSeveralSizes) {
  for (uint64_t size : {1u, 255u, 256u, 257u, 600u}) {
    GrowTo(size);
    Checkpoint cp = Served();
    ASSERT_EQ(cp.size, size);
    TilesClient tiles(*client_, size);
    EXPECT_EQ(tiles.Root(), cp.root) << "size " << size;
    EXPECT_TRUE(tiles.CheckLevels().empty()) << "size " << size;
  }
}

TEST_F(TilesTest, FullTilesAreImmutableAndPartialOnesShortLived) {
  GrowTo(257);
  HttpResult full = client_->Get("/log/tile/0/000");
  ASSERT_EQ(full.status, 200) << full.body;
  EXPECT_EQ(full.headers["Content-Type"], "application/octet-stream");
  EXPECT_EQ(full.headers["Cache-Control"], "public, max-age=31536000, immutable");
  EXPECT_EQ(full.body.size(), 8192u);
  HttpResult partial = client_->Get("/log/tile/0/001.p/1");
  ASSERT_EQ(partial.status, 200) << partial.body;
  EXPECT_EQ(partial.headers["Cache-Control"], "public, max-age=60");
  // A partial tile is a prefix of the tile it grows into.
  EXPECT_EQ(client_->Get("/log/tile/0/000.p/5").body, full.body.substr(0, 5 * 32));
  HttpResult bundle = client_->Get("/log/tile/entries/000");
  ASSERT_EQ(bundle.status, 200) << bundle.body;
  EXPECT_EQ(bundle.headers["Content-Type"], "application/octet-stream");
  EXPECT_EQ(bundle.headers["Cache-Control"], "no-cache");
  EXPECT_EQ(client_->Get("/log/tile/1/000.p/1").body.size(), 32u);
}

TEST_F(TilesTest, TilesBeyondTheCheckpointAre404) {
  GrowTo(257);
  for (const char* path : {"/log/tile/0/001", "/log/tile/0/001.p/2", "/log/tile/entries/001",
                           "/log/tile/entries/001.p/2", "/log/tile/1/000", "/log/tile/1/000.p/2",
                           "/log/tile/2/000.p/1", "/log/tile/0/002.p/1", "/log/tile/63/000.p/1",
                           "/log/tile/0/x018/x446/x744/x073/x709/x551/615"}) {
    HttpResult r = client_->Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("tile_not_found"), std::string::npos) << path << ": " << r.body;
  }
  EXPECT_EQ(Code("/log/tile/0/001.p/1"), 200);
}

TEST_F(TilesTest, MalformedPathsAre400AndChangeNothing) {
  GrowTo(3);
  for (const char* path : {"/log/tile/00/000", "/log/tile/64/000", "/log/tile/0/x000/000", "/log/tile/0/0001",
                           "/log/tile/0/000.p/0", "/log/tile/0/000.p/256", "/log/tile/0/000.p/03",
                           "/log/tile/0/x001", "/log/tile/entries/00", "/log/tile/0/%30%30%30",
                           "/log/tile/0/x018/x446/x744/x073/x709/x551/616"}) {
    HttpResult r = client_->Get(path);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_NE(r.body.find("bad_tile_path"), std::string::npos) << path << ": " << r.body;
  }
  EXPECT_EQ(Code("/log/tile/0/x001/x002/x003/x004/x005/x006/x007/x008/009"), 404);  // too many segments to route
  EXPECT_EQ(client_->Request("POST", "/log/tile/0/000.p/3").status, 405);
  EXPECT_EQ(Code("/log/tile/0/000.p/3"), 200);
  EXPECT_EQ(Served().size, 3u);
}

TEST_F(TilesTest, RedactedEntryStillRebuildsLevelZeroFromItsPlaceholder) {
  GrowTo(300);
  Status redacted = store_.Write([](storage::Transaction& tx) { return tx.log().Redact(258); });
  ASSERT_TRUE(redacted.ok()) << redacted.ToString();
  Checkpoint cp = Served();
  TilesClient tiles(*client_, cp.size);
  EXPECT_EQ(tiles.Root(), cp.root);
  std::vector<std::string> placeholders = tiles.CheckLevels();
  ASSERT_EQ(placeholders.size(), 1u);
  EXPECT_EQ(placeholders[0].rfind("{\"index\":258,\"leafHash\":\"", 0), 0u) << placeholders[0];
  EXPECT_NE(placeholders[0].find("\"redacted\":true}"), std::string::npos) << placeholders[0];
}

// A leaf over the bundle's uint16 length (the log takes leaves up to
// 1 MiB) is carried as a placeholder with its length and leaf hash.
TEST_F(TilesTest, LeafOverTheBundleLimitIsCarriedAsAPlaceholder) {
  GrowTo(2);
  GrowTo(3, 70000);
  Checkpoint cp = Served();
  TilesClient tiles(*client_, cp.size);
  EXPECT_EQ(tiles.Root(), cp.root);
  std::vector<std::string> placeholders = tiles.CheckLevels();
  ASSERT_EQ(placeholders.size(), 1u);
  EXPECT_EQ(placeholders[0].rfind("{\"index\":2,\"leafBytes\":", 0), 0u) << placeholders[0];
  EXPECT_NE(placeholders[0].find("\"tooLarge\":true}"), std::string::npos) << placeholders[0];
}

TEST_F(TilesTest, EmptyLogHasNoCheckpointAndNoTiles) {
  EXPECT_EQ(Code("/log/checkpoint"), 404);
  EXPECT_EQ(Code("/log/tile/0/000.p/1"), 404);
}

// custosd mounts /log/ beside the API, with no session asked.
TEST(TilesMount, CustosdServesTilesWithoutASession) {
  TempDir tmp;
  ServerProcess server;
  ASSERT_TRUE(server.Start(tmp.Sub("data")));
  HttpsClient client(server.port(), tmp.Sub("data/tls/cert.pem"));
  HttpResult cp = client.Get("/log/checkpoint");
  ASSERT_EQ(cp.status, 200) << cp.body;
  uint64_t size = std::stoull(cp.body.substr(cp.body.find('\n') + 1));
  ASSERT_GT(size, 0u);
  ASSERT_LT(size, 256u);
  std::string w = ".p/" + std::to_string(size);
  HttpResult tile = client.Get("/log/tile/0/000" + w);
  EXPECT_EQ(tile.status, 200) << tile.body;
  EXPECT_EQ(tile.body.size(), size * 32);
  HttpResult bundle = client.Get("/log/tile/entries/000" + w);
  EXPECT_EQ(bundle.status, 200) << bundle.body;
  EXPECT_EQ(bundle.body.substr(2, 10), "{\"action\":");
  // The session-bound JSON API still asks for one.
  EXPECT_EQ(client.Get("/v1/log/entries?start=0&end=1").status, 401);
}

}  // namespace
}  // namespace custos::testing
