// The content search figures of issue #24 (docs/benchmarks.md "Content
// search"), measured in-process on a real SQLite file (or PostgreSQL
// database):
//   - search latency (p50, p99, max) through RecordService::Search with
//     the index key (server/services/record_search.cc), over N catalogue
//     records, M of them with two pages (about 3,000 characters) of
//     generated Chinese and Latin text, against the 50 ms target;
//   - the postings' share of it: tx.search().Match alone, per query class;
//   - index bytes per byte of text: the database's size before and after
//     the content postings, over the UTF-8 bytes of the indexed text;
//   - what building that costs: seconds per 1,000 records and per 1,000
//     texts, from which bench/run.py extrapolates to the scale.
//
//   search_bench --dir DIR --records N --with-text M [--rounds R] [--json OUT]
//                [--dsn DSN] [--keep 1] [--reuse 1] [--dump FILE]
//
// --keep 1 leaves the built archive in DIR (and in the database with
// --dsn); --reuse 1 measures an archive left by --keep with the same N and
// M, without building it (so that two builds of the service can be
// measured on one archive, in turns). All
// keys of the bench are fixed, so a kept archive opens again. --dump FILE
// writes what every search of the warm-up pass answered (pages 1 and 5:
// total, records, where each matched, snippets) and each query's median
// times, to compare two builds' answers line by line.
//
// The store is the one custosd runs (storage::SqliteStore in DIR, durable,
// rows sealed and checked; with --dsn, storage::PostgresStore in that
// empty database, and no size figures: bench/run.py asks PostgreSQL),
// with a file blob store in DIR and a content store under a random
// key-encryption key. N - M records are inserted through the
// records repository the way bench/catalogue_seed.cc does it, 1,000 per
// transaction, with the postings of their title and description (what
// IndexCatalogue writes for them). The M others are checked in through
// RecordService (one durable commit each: the file's blob, its wrapped
// key, the log entry, the catalogue postings), their one file being the
// text itself; then what the pipeline does for each is done 1,000 files
// per transaction: the text sealed under the file's key (file_texts) and
// its content postings (storage::TermFrequencies, IndexKey::
// KeyedFrequencies, tx.search().Replace). No worker runs: extraction is
// measured elsewhere (bench/extraction_bench.py).
//
// A search is RecordService::Search, page size 20, by two callers in
// turn: an archivist (sees every record, reads the content of all but
// secret ones: content snippets opened from the sealed texts and
// content.snippet events written, a durable commit) and a staff member of
// one department (sees fewer records and reads no content: every content
// match costs a rights check and is dropped). Postings matched, rights
// checked, one catalogue page, where each hit matched.
//
// Words come from fixed vocabularies with Zipf-like frequencies and a
// fixed seed, so every run builds the same archive. Query classes: two-
// character words of high, middle and low frequency, four-character
// phrases, a Chinese word with a Latin one, Latin words, and a word in no
// document. Each query runs R times, the classes interleaved.
//
// The bench's own files in DIR (search_bench.db*, blobs/) are removed
// before and after; nothing else there is touched. Prints progress to
// stderr and one JSON object to OUT (or stdout).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "crypto/key_provider.h"
#include "crypto/signature.h"
#include "crypto/signed_note.h"
#include "server/services/content_pipeline.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "storage/blob_store.h"
#include "storage/content_store.h"
#include "storage/file_texts.h"
#include "storage/keyring.h"
#include "storage/postgres_store.h"
#include "storage/row_seal.h"
#include "storage/search_index.h"
#include "storage/sqlite_store.h"
#include "storage/text_tokens.h"

using namespace custos;
using Clock = std::chrono::steady_clock;

namespace {

// 500 common simplified characters: the pool of the generated words.
constexpr char kCharPool[] =
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子"
    "说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当"
    "使点"
    "从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明"
    "看原"
    "又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象"
    "员革"
    "位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九"
    "区强"
    "放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术"
    "极交"
    "受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完"
    "类八"
    "离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众"
    "书布"
    "复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太"
    "准精"
    "值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县"
    "局照"
    "参红细引听该铁价严";
// Characters outside the pool: a word of them occurs in no document.
constexpr char kAbsentWord[] = "鑫罡";

constexpr int kPerTransaction = 1000;
constexpr int kTextChars = 3000;  // two pages
constexpr int kPageSize = 20;

std::vector<std::string> SplitUtf8(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// A vocabulary whose i-th word is drawn with weight 1 / (i + 1).
struct Vocabulary {
  std::vector<std::string> words;
  std::vector<double> cdf;

  void Finish() {
    double sum = 0;
    cdf.clear();
    for (size_t i = 0; i < words.size(); ++i) cdf.push_back(sum += 1.0 / double(i + 1));
    for (double& c : cdf) c /= sum;
  }
  const std::string& Draw(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    size_t i = std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
    return words[std::min(i, words.size() - 1)];
  }
};

struct Corpus {
  Vocabulary two;    // two-character Chinese words
  Vocabulary four;   // four-character Chinese phrases
  Vocabulary latin;  // Latin words

  explicit Corpus(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> chars = SplitUtf8(kCharPool);
    std::set<std::string> seen;
    auto ch = [&] { return chars[rng() % chars.size()]; };
    while (two.words.size() < 8000) {
      std::string w = ch() + ch();
      if (seen.insert(w).second) two.words.push_back(w);
    }
    while (four.words.size() < 2000) {
      std::string w = ch() + ch() + ch() + ch();
      if (seen.insert(w).second) four.words.push_back(w);
    }
    while (latin.words.size() < 3000) {
      std::string w;
      int n = 4 + int(rng() % 7);
      for (int i = 0; i < n; ++i) w += char('a' + rng() % 26);
      if (seen.insert(w).second) latin.words.push_back(w);
    }
    two.Finish();
    four.Finish();
    latin.Finish();
  }

  // One word: 60 % two characters, 15 % four, 25 % Latin. Adds its
  // length in characters to *chars.
  std::string Word(std::mt19937_64& rng, int* chars) const {
    uint64_t k = rng() % 100;
    if (k < 60) return *chars += 2, two.Draw(rng);
    if (k < 75) return *chars += 4, four.Draw(rng);
    const std::string& w = latin.Draw(rng);
    *chars += int(w.size()) + 2;
    return " " + w + " ";
  }

  std::string Text(std::mt19937_64& rng, int want_chars) const {
    std::string out;
    int chars = 0, words = 0;
    while (chars < want_chars) {
      out += Word(rng, &chars);
      if (++words % 9 == 0) out += (words % 27 == 0) ? "。" : "，", ++chars;
    }
    return out;
  }
};

struct Query {
  std::string cls;
  std::string text;
};

std::vector<Query> Queries(const Corpus& c) {
  std::vector<Query> q;
  for (size_t r : {0, 1, 2, 3, 5}) q.push_back({"two_chars_frequent", c.two.words[r]});
  for (size_t r : {100, 150, 200, 300, 400}) q.push_back({"two_chars_middle", c.two.words[r]});
  for (size_t r : {4000, 5000, 6000, 7000, 7999}) q.push_back({"two_chars_rare", c.two.words[r]});
  for (size_t r : {0, 10, 100, 500, 1500}) q.push_back({"four_char_phrase", c.four.words[r]});
  for (size_t r : {0, 50, 500}) q.push_back({"mixed", c.two.words[r] + " " + c.latin.words[r]});
  for (size_t r : {0, 100, 2000}) q.push_back({"latin_word", c.latin.words[r]});
  q.push_back({"absent", kAbsentWord});
  return q;
}

// CPU time of the calling thread, in ms: the steady figure on a shared
// machine (a search runs in its caller's thread, its commit too).
double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(std::ceil(p / 100.0 * double(v.size())));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

// The database's bytes on disk: the main file and what is left of the WAL.
uint64_t DbBytes(const std::string& db) {
  uint64_t n = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    uint64_t s = std::filesystem::file_size(db + suffix, ec);
    if (!ec) n += s;
  }
  return n;
}

int Fail(const char* what, const Status& s) {
  std::fprintf(stderr, "search_bench: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

// One record checked in with a text.
struct TextRecord {
  domain::RecordId id;
  domain::StoredFile file;
  uint64_t seed = 0;  // the text is Corpus::Text of an rng seeded with this
};

class Bench {
 public:
  Bench(std::string dir, std::string dsn, uint64_t records, uint64_t with_text)
      : dir_(std::move(dir)),
        dsn_(std::move(dsn)),
        db_(dir_ + "/search_bench.db"),
        records_(records),
        with_text_(with_text),
        sealer_(crypto::Bytes(storage::RowSealer::kKeySize, 0x5e)),
        key_(crypto::Bytes(storage::kIndexKeySize, 0x1d)),
        corpus_(20261207),
        archivist_{domain::Username{"archivist"}, domain::Role::kArchivist, "sales"},
        staff_{domain::Username{"staff1"}, domain::Role::kStaff, "sales"} {}

  Status Open() {
    if (!signer_) {
      CUSTOS_ASSIGN_OR_RETURN(crypto::KeyPair pair,
                              crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519));
      CUSTOS_ASSIGN_OR_RETURN(crypto::note::KeySigner s,
                              crypto::note::KeySigner::Create("bench/search", std::move(pair)));
      signer_ = std::make_unique<crypto::note::KeySigner>(std::move(s));
      checkpoints_ = std::make_unique<storage::NoteCheckpointSigner>(
          "bench/search", std::vector<const crypto::note::Signer*>{signer_.get()});
      // Fixed, as the other keys here: a kept archive (--keep) opens again.
      crypto::Bytes k(crypto::kKekSize, 0x4b);
      CUSTOS_ASSIGN_OR_RETURN(crypto::Kek kek, crypto::MakeKek(crypto::SecretBytes(std::move(k))));
      CUSTOS_ASSIGN_OR_RETURN(keys_, crypto::LocalKeyProvider::Create(std::move(kek)));
      std::filesystem::create_directories(dir_ + "/blobs");
      CUSTOS_ASSIGN_OR_RETURN(blobs_, storage::FileBlobStore::OpenDirectory(dir_ + "/blobs"));
      content_ = std::make_unique<storage::ContentStore>(*blobs_, *keys_, crypto::Suite::kIntl);
    }
    if (dsn_.empty()) {
      storage::SqliteOptions o;
      o.path = db_;
      o.sealer = &sealer_;
      CUSTOS_ASSIGN_OR_RETURN(store_, storage::SqliteStore::Open(o, checkpoints_.get()));
    } else {
      storage::PostgresOptions o;
      o.dsn = dsn_;
      o.sealer = &sealer_;
      CUSTOS_ASSIGN_OR_RETURN(store_, storage::PostgresStore::Open(o, checkpoints_.get()));
    }
    log_ = std::make_unique<services::LogService>(*store_, "");
    services::RecordOptions ro;
    ro.index_key = &key_;
    records_service_ = std::make_unique<services::RecordService>(*store_, *content_, *blobs_, *log_,
                                                                 clock_, nullptr, ro);
    return Status::Ok();
  }
  // Closing checkpoints the WAL into the database file, so that its size
  // counts everything written.
  void Close() {
    records_service_.reset();
    log_.reset();
    store_.reset();
  }

  // N - M records through the repository, with the postings of their
  // title and description, 1,000 per transaction.
  Status FillCatalogue(std::map<std::string, double>& fig) {
    domain::Time now = domain::TruncateToMillis(std::chrono::system_clock::now());
    CUSTOS_RETURN_IF_ERROR(store_->Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : kDepartments) {
        CUSTOS_ASSIGN_OR_RETURN(bool exists, tx.departments().Exists(d));
        if (!exists) CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, now}));
      }
      return Status::Ok();
    }));
    const domain::Classification classes[] = {
        domain::Classification::kPublic, domain::Classification::kInternal,
        domain::Classification::kInternal, domain::Classification::kConfidential};
    int year = std::stoi(domain::FormatTime(now).substr(0, 4));
    const uint64_t n = records_ - with_text_;
    auto t0 = Clock::now();
    for (uint64_t done = 0; done < n;) {
      uint64_t batch = std::min<uint64_t>(kPerTransaction, n - done);
      CUSTOS_RETURN_IF_ERROR(store_->Write([&](storage::Transaction& tx) -> Status {
        for (uint64_t i = 0; i < batch; ++i) {
          domain::Record r;
          r.type = domain::ParseRecordType(kTypes[rng_() % 5]).value();
          r.title = Words(4);
          r.description = Words(12);
          r.department = kDepartments[rng_() % 4];
          r.classification = classes[rng_() % 4];
          r.custodian = "archivist";
          r.location = "shelf " + std::to_string(rng_() % 500);
          r.created_by = "archivist";
          r.created_at = r.updated_at = now;
          CUSTOS_ASSIGN_OR_RETURN(uint64_t seq, tx.records().NextSequence(r.type, year));
          r.id = domain::MakeArchiveNumber(r.type, year, seq);
          CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
          CUSTOS_RETURN_IF_ERROR(
              tx.search().Replace(r.id, services::kFieldTitle, {},
                                  key_.KeyedFrequencies(storage::TermFrequencies(r.title))));
          CUSTOS_RETURN_IF_ERROR(
              tx.search().Replace(r.id, services::kFieldDescription, {},
                                  key_.KeyedFrequencies(storage::TermFrequencies(r.description))));
        }
        return Status::Ok();
      }));
      done += batch;
      if (done % 100000 == 0 || done == n) {
        std::fprintf(stderr, "search_bench: %llu catalogue records, %.0f s\n",
                     static_cast<unsigned long long>(done),
                     std::chrono::duration<double>(Clock::now() - t0).count());
      }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    fig["catalogue_seconds"] = s;
    if (n) fig["catalogue_s_per_1000_records"] = s / double(n) * 1000;
    return Status::Ok();
  }

  // M check-ins through the service, each one file: the text itself.
  Status CheckIns(std::map<std::string, double>& fig) {
    const char* classes[] = {"public", "internal", "internal", "confidential"};
    auto t0 = Clock::now();
    for (uint64_t i = 0; i < with_text_; ++i) {
      services::RecordInput in;
      in.type = "general";
      in.title = Words(4);
      in.description = Words(12);
      in.department = kDepartments[rng_() % 4];
      in.classification = classes[rng_() % 4];
      TextRecord t;
      t.seed = 1000003 * (i + 1);
      std::string text = TextOf(t);
      CUSTOS_ASSIGN_OR_RETURN(auto c, records_service_->BeginCheckIn(archivist_, in));
      MemorySource source(reinterpret_cast<const uint8_t*>(text.data()), text.size());
      CUSTOS_RETURN_IF_ERROR(
          c->AddFile({"合同 contract " + std::to_string(i) + ".txt", "text/plain"}, source));
      CUSTOS_ASSIGN_OR_RETURN(services::CheckInResult r, c->Commit());
      t.id = r.detail.record.id;
      t.file = r.detail.versions.at(0).files.at(0);
      texts_.push_back(std::move(t));
      if ((i + 1) % 10000 == 0 || i + 1 == with_text_) {
        std::fprintf(stderr, "search_bench: %llu check-ins, %.0f s\n",
                     static_cast<unsigned long long>(i + 1),
                     std::chrono::duration<double>(Clock::now() - t0).count());
      }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    fig["checkin_seconds"] = s;
    if (with_text_) fig["checkin_s_per_1000"] = s / double(with_text_) * 1000;
    return Status::Ok();
  }

  // What the pipeline stores for each text, in two passes so that their
  // sizes can be told apart: the sealed texts (file_texts), then the
  // content postings. 1,000 per transaction.
  Status SealTexts(std::map<std::string, double>& fig) {
    domain::Time now = domain::TruncateToMillis(std::chrono::system_clock::now());
    uint64_t sealed_bytes = 0;
    auto t0 = Clock::now();
    for (size_t done = 0; done < texts_.size();) {
      size_t batch = std::min<size_t>(kPerTransaction, texts_.size() - done);
      std::vector<storage::FileText> rows;
      for (size_t i = 0; i < batch; ++i) {
        const TextRecord& t = texts_[done + i];
        std::string text = TextOf(t);
        CUSTOS_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed,
                                content_->SealDerived(t.file, storage::kTextPurpose, text));
        storage::FileText row;
        row.file_id = t.file.id;
        row.record_id = t.id;
        row.version = 1;
        row.state = storage::TextState::kText;
        row.claimed_type = row.identified_type = "text/plain";
        row.method = "text";
        row.text_bytes = text.size();
        row.sealed_text = std::move(sealed);
        row.updated_at = now;
        sealed_bytes += row.sealed_text.size();
        rows.push_back(std::move(row));
      }
      CUSTOS_RETURN_IF_ERROR(store_->Write([&](storage::Transaction& tx) -> Status {
        for (const storage::FileText& row : rows) CUSTOS_RETURN_IF_ERROR(tx.texts().Upsert(row));
        return Status::Ok();
      }));
      done += batch;
    }
    fig["seal_seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
    fig["sealed_text_bytes"] = double(sealed_bytes);
    return Status::Ok();
  }

  Status IndexTexts(std::map<std::string, double>& fig) {
    uint64_t text_bytes = 0;
    double generate_s = 0;
    auto t0 = Clock::now();
    for (size_t done = 0; done < texts_.size();) {
      size_t batch = std::min<size_t>(kPerTransaction, texts_.size() - done);
      auto g0 = Clock::now();
      std::vector<std::string> bodies;
      for (size_t i = 0; i < batch; ++i) bodies.push_back(TextOf(texts_[done + i]));
      generate_s += std::chrono::duration<double>(Clock::now() - g0).count();
      CUSTOS_RETURN_IF_ERROR(store_->Write([&](storage::Transaction& tx) -> Status {
        for (size_t i = 0; i < batch; ++i) {
          const TextRecord& t = texts_[done + i];
          CUSTOS_RETURN_IF_ERROR(
              tx.search().Replace(t.id, services::kFieldContent, t.file.id,
                                  key_.KeyedFrequencies(storage::TermFrequencies(bodies[i]))));
        }
        return Status::Ok();
      }));
      for (const std::string& b : bodies) text_bytes += b.size();
      done += batch;
      if (done % 10000 == 0 || done == texts_.size()) {
        std::fprintf(stderr, "search_bench: %zu texts indexed, %.0f s\n", done,
                     std::chrono::duration<double>(Clock::now() - t0).count());
      }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count() - generate_s;
    fig["texts"] = double(texts_.size());
    fig["text_bytes"] = double(text_bytes);
    fig["text_chars_per_text"] = kTextChars;
    fig["text_seconds"] = s;
    if (!texts_.empty()) fig["text_s_per_1000_texts"] = s / double(texts_.size()) * 1000;
    return Status::Ok();
  }

  // One search through the service; returns the records on the page.
  StatusOr<size_t> Search(const services::Principal& who, const std::string& text) {
    domain::RecordQuery q;
    q.text = text;
    q.page_size = kPageSize;
    CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, records_service_->Search(who, q));
    return page.records.size();
  }

  // Pages 1 and 5 of `text` for `who`, as text lines, to tell two builds'
  // answers apart.
  StatusOr<std::string> Answer(const services::Principal& who, const std::string& text) {
    std::string out;
    for (int page : {1, 5}) {
      domain::RecordQuery q;
      q.text = text;
      q.page_size = kPageSize;
      q.page = page;
      CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage p, records_service_->Search(who, q));
      out += who.username.value + " " + text + " page " + std::to_string(page) + ": total " +
             std::to_string(p.total) + (p.total_exact ? "" : "+") + "\n";
      for (size_t i = 0; i < p.records.size(); ++i) {
        out += "  " + p.records[i].id.value;
        for (const domain::FieldMatch& m : p.matches.at(i)) {
          out += " " + m.field + ":" + std::to_string(m.version) + ":" + m.file_id.value + ":" +
                 m.file_name;
          if (!m.snippet.empty()) {
            out += "[";
            for (const std::string& seg : m.snippet) out += seg + "|";
            out += "]";
          }
        }
        out += "\n";
      }
    }
    return out;
  }

  // The postings alone: the query's keyed tokens matched as the service
  // does (at most 2,000), in a read transaction; returns the matches.
  StatusOr<size_t> MatchOnly(const std::string& text) {
    std::vector<std::string> keyed = key_.KeyedTokens(storage::QueryTokens(text));
    size_t n = 0;
    CUSTOS_RETURN_IF_ERROR(store_->Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::PostingMatch> hits,
                              tx.search().Match(keyed, 2000, services::kFieldContent));
      n = hits.size();
      return Status::Ok();
    }));
    return n;
  }

  Status Measure(int rounds, std::ostringstream& classes_json, std::map<std::string, double>& fig,
                 const std::string& dump) {
    std::vector<Query> queries = Queries(corpus_);
    struct Who {
      const char* name;
      const services::Principal* p;
    };
    const Who callers[] = {{"archivist", &archivist_}, {"staff", &staff_}};
    std::map<std::string, std::vector<double>> by_class, match_by_class, by_caller;
    std::map<std::string, size_t> matched_min, matched_max;
    std::vector<double> all;
    // One warm-up pass: the figure is of a server that has been running.
    std::string answers;
    for (const Query& q : queries) {
      for (const Who& w : callers) {
        CUSTOS_RETURN_IF_ERROR(Search(*w.p, q.text).status());
        if (!dump.empty()) {
          CUSTOS_ASSIGN_OR_RETURN(std::string a, Answer(*w.p, q.text));
          answers += a;
        }
      }
    }
    std::map<std::string, std::vector<double>> by_query, match_by_query;  // CPU
    std::map<std::string, std::vector<double>> cpu_by_class, match_cpu_by_class, cpu_by_caller;
    std::vector<double> cpu_all;
    for (int r = 0; r < rounds; ++r) {
      for (const Query& q : queries) {
        auto m0 = Clock::now();
        const double mc0 = ThreadCpuMs();
        CUSTOS_ASSIGN_OR_RETURN(size_t matched, MatchOnly(q.text));
        match_cpu_by_class[q.cls].push_back(ThreadCpuMs() - mc0);
        match_by_class[q.cls].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - m0).count());
        match_by_query[q.cls + " " + q.text].push_back(match_cpu_by_class[q.cls].back());
        if (!matched_min.count(q.cls) || matched < matched_min[q.cls]) matched_min[q.cls] = matched;
        matched_max[q.cls] = std::max(matched_max[q.cls], matched);
        for (const Who& w : callers) {
          auto t0 = Clock::now();
          const double c0 = ThreadCpuMs();
          CUSTOS_RETURN_IF_ERROR(Search(*w.p, q.text).status());
          const double cpu = ThreadCpuMs() - c0;
          double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          all.push_back(ms);
          cpu_all.push_back(cpu);
          by_class[q.cls].push_back(ms);
          cpu_by_class[q.cls].push_back(cpu);
          by_caller[w.name].push_back(ms);
          cpu_by_caller[w.name].push_back(cpu);
          by_query[q.cls + " " + q.text + " " + w.name].push_back(cpu);
        }
      }
    }
    if (!dump.empty()) {
      std::ofstream f(dump);
      f << answers;
      for (const auto& [k, v] : match_by_query)
        f << "match " << k << " cpu p50 " << Percentile(v, 50) << " ms\n";
      for (const auto& [k, v] : by_query)
        f << "search " << k << " cpu p50 " << Percentile(v, 50) << " ms\n";
      if (!f) return Status::Ok();
    }
    fig["queries"] = double(all.size());
    fig["distinct_queries"] = double(queries.size());
    fig["p50_ms"] = Percentile(all, 50);
    fig["p99_ms"] = Percentile(all, 99);
    fig["max_ms"] = Percentile(all, 100);
    fig["cpu_p50_ms"] = Percentile(cpu_all, 50);
    fig["cpu_p99_ms"] = Percentile(cpu_all, 99);
    double cpu_sum = 0;
    for (double c : cpu_all) cpu_sum += c;
    fig["cpu_mean_ms"] = cpu_all.empty() ? 0 : cpu_sum / double(cpu_all.size());
    for (const auto& [name, v] : by_caller) {
      fig[std::string(name) + "_p50_ms"] = Percentile(v, 50);
      fig[std::string(name) + "_p99_ms"] = Percentile(v, 99);
      fig[std::string(name) + "_cpu_p50_ms"] = Percentile(cpu_by_caller[name], 50);
      fig[std::string(name) + "_cpu_p99_ms"] = Percentile(cpu_by_caller[name], 99);
    }
    bool first = true;
    classes_json << "{";
    for (const auto& [cls, v] : by_class) {
      classes_json << (first ? "" : ", ") << "\"" << cls << "\": {\"p50_ms\": " << Percentile(v, 50)
                   << ", \"p99_ms\": " << Percentile(v, 99)
                   << ", \"match_p50_ms\": " << Percentile(match_by_class[cls], 50)
                   << ", \"match_p99_ms\": " << Percentile(match_by_class[cls], 99)
                   << ", \"cpu_p50_ms\": " << Percentile(cpu_by_class[cls], 50)
                   << ", \"cpu_p99_ms\": " << Percentile(cpu_by_class[cls], 99)
                   << ", \"match_cpu_p50_ms\": " << Percentile(match_cpu_by_class[cls], 50)
                   << ", \"match_cpu_p99_ms\": " << Percentile(match_cpu_by_class[cls], 99)
                   << ", \"matched_min\": " << matched_min[cls]
                   << ", \"matched_max\": " << matched_max[cls] << "}";
      first = false;
    }
    classes_json << "}";
    return Status::Ok();
  }

  Status IndexStats(std::map<std::string, double>& fig, const std::string& prefix) {
    return store_->Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(storage::SearchIndexStats s, tx.search().Stats());
      fig[prefix + "postings"] = double(s.rows);
      fig[prefix + "distinct_tokens"] = double(s.distinct_tokens);
      return Status::Ok();
    });
  }

  const std::string& db() const { return db_; }

  // Removes what the bench writes in DIR (its database and blob store),
  // and nothing else there.
  void RemoveFiles() const {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_ + suffix, ec);
    std::filesystem::remove_all(dir_ + "/blobs", ec);
  }

 private:
  static constexpr const char* kTypes[] = {"contract", "product_dossier", "customer_file",
                                           "qualification", "general"};
  static constexpr const char* kDepartments[] = {"sales", "engineering", "quality", "legal"};

  std::string Words(int n) {
    std::string s;
    int chars = 0;
    for (int i = 0; i < n; ++i) s += corpus_.Word(rng_, &chars);
    return s;
  }
  std::string TextOf(const TextRecord& t) const {
    std::mt19937_64 rng(t.seed);
    return corpus_.Text(rng, kTextChars);
  }

  std::string dir_;
  std::string dsn_;  // PostgreSQL; empty: SQLite in db_
  std::string db_;
  uint64_t records_;
  uint64_t with_text_;
  storage::RowSealer sealer_;
  storage::IndexKey key_;
  Corpus corpus_;
  std::mt19937_64 rng_{20261126};
  services::Principal archivist_;
  services::Principal staff_;
  services::SystemClock clock_;
  std::unique_ptr<crypto::note::KeySigner> signer_;
  std::unique_ptr<storage::NoteCheckpointSigner> checkpoints_;
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  std::unique_ptr<storage::FileBlobStore> blobs_;
  std::unique_ptr<storage::ContentStore> content_;
  std::unique_ptr<storage::MetadataStore> store_;  // between Open and Close
  std::unique_ptr<services::LogService> log_;
  std::unique_ptr<services::RecordService> records_service_;
  std::vector<TextRecord> texts_;  // the records checked in with a text
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir, json, dsn;
  uint64_t records = 0, with_text = 0;
  int rounds = 20;
  bool keep = false, reuse = false;
  std::string dump;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--dir")
      dir = v;
    else if (a == "--records")
      records = std::stoull(v);
    else if (a == "--with-text")
      with_text = std::stoull(v);
    else if (a == "--rounds")
      rounds = std::stoi(v);
    else if (a == "--json")
      json = v;
    else if (a == "--dsn")
      dsn = v;
    else if (a == "--keep")
      keep = v == "1";
    else if (a == "--reuse")
      reuse = v == "1";
    else if (a == "--dump")
      dump = v;
  }
  if (dir.empty() || records == 0 || with_text > records || rounds < 1) {
    std::fprintf(stderr,
                 "usage: search_bench --dir DIR --records N --with-text M<=N [--rounds R] "
                 "[--json OUT] [--dsn DSN] [--keep 1] [--reuse 1] [--dump FILE]\n");
    return 2;
  }
  if (Status s = storage::TextTokensReady(); !s.ok()) return Fail("text tokens", s);
  std::filesystem::create_directories(dir);
  Bench bench(dir, dsn, records, with_text);
  std::map<std::string, double> fig;
  fig["records"] = double(records);
  if (reuse && dsn.empty() && !std::filesystem::exists(bench.db())) {
    std::fprintf(stderr, "search_bench: --reuse: no archive in %s (build one with --keep 1)\n",
                 dir.c_str());
    return 2;
  }
  if (!reuse) {
    bench.RemoveFiles();
    // Sizes on disk after closing the store (the WAL checkpointed): after
    // the catalogue and check-ins, after the sealed texts, after the content
    // postings.
    if (Status s = bench.Open(); !s.ok()) return Fail("open", s);
    if (Status s = bench.FillCatalogue(fig); !s.ok()) return Fail("catalogue", s);
    if (Status s = bench.CheckIns(fig); !s.ok()) return Fail("check-in", s);
    if (Status s = bench.IndexStats(fig, "catalogue_"); !s.ok()) return Fail("stats", s);
    bench.Close();
    const uint64_t catalogue_bytes = DbBytes(bench.db());
    if (Status s = bench.Open(); !s.ok()) return Fail("open", s);
    if (Status s = bench.SealTexts(fig); !s.ok()) return Fail("seal", s);
    bench.Close();
    const uint64_t sealed_bytes = DbBytes(bench.db());
    if (Status s = bench.Open(); !s.ok()) return Fail("open", s);
    if (Status s = bench.IndexTexts(fig); !s.ok()) return Fail("index", s);
    if (Status s = bench.IndexStats(fig, ""); !s.ok()) return Fail("stats", s);
    bench.Close();
    const uint64_t full_bytes = DbBytes(bench.db());
    fig["content_postings"] = fig["postings"] - fig["catalogue_postings"];
    if (dsn.empty()) {
      fig["db_bytes_catalogue"] = double(catalogue_bytes);
      fig["db_bytes_sealed_texts"] = double(sealed_bytes - catalogue_bytes);
      fig["db_bytes"] = double(full_bytes);
    }
    if (dsn.empty() && fig["text_bytes"] > 0) {
      fig["index_bytes_per_text_byte"] = double(full_bytes - sealed_bytes) / fig["text_bytes"];
      fig["sealed_bytes_per_text_byte"] =
          double(sealed_bytes - catalogue_bytes) / fig["text_bytes"];
    }
  }

  if (Status s = bench.Open(); !s.ok()) return Fail("open", s);
  std::ostringstream classes;
  if (Status s = bench.Measure(rounds, classes, fig, dump); !s.ok()) return Fail("search", s);
  bench.Close();

  std::ostringstream out;
  out << "{";
  bool first = true;
  for (const auto& [k, v] : fig) {
    out << (first ? "" : ", ") << "\"" << JsonEscape(k) << "\": " << v;
    first = false;
  }
  out << ", \"engine\": \"" << (dsn.empty() ? "sqlite" : "postgresql")
      << "\", \"classes\": " << classes.str() << "}\n";
  if (json.empty()) {
    std::fputs(out.str().c_str(), stdout);
  } else {
    std::ofstream f(json);
    f << out.str();
    if (!f) {
      std::fprintf(stderr, "search_bench: cannot write %s\n", json.c_str());
      return 1;
    }
  }
  if (!keep) bench.RemoveFiles();
  return 0;
}
