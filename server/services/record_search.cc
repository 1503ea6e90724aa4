// RecordService::Search and ReadText: the catalogue search with the content
// index (docs/search.md "API"), where each hit matched, snippets, and the
// extracted text of a file.
//
// A search's text is matched twice: by the store against the catalogue
// (archive number, and while text_scan a LIKE or full-text scan), and here
// against the postings of the index key (storage/search_index.h). Content
// postings count only for records whose content the caller may read at
// this instant, decided as OpenContent decides it; the store then applies
// the filters and the caller's visibility to both, so a record the caller
// may not see is never a hit by any field.
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "server/services/content_pipeline.h"
#include "server/services/events.h"
#include "server/services/record_service.h"
#include "storage/snippet.h"
#include "storage/text_tokens.h"

namespace custos::services {

using domain::FieldMatch;
using domain::Record;
using domain::RecordId;
using domain::StoredFile;
using domain::Time;
using domain::Version;
using storage::Transaction;

namespace {

// At most this many (record, field, file) triples are taken from the
// postings per search: the best-scored ones among the rarest token's best
// postings (SearchIndexRepository::Match).
constexpr size_t kMaxPostingMatches = 2000;

// Whether a query token is one ideograph (a unigram): the postings only
// hold it where it stands alone, so the catalogue scan must still run.
bool IsUnigram(const std::string& token) {
  if (token.empty()) return false;
  const auto b0 = static_cast<unsigned char>(token[0]);
  const size_t length = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  return b0 >= 0xE0 && token.size() == length;
}

// Whether normalised `value` holds normalised `text` (the store's own
// catalogue match is a substring match).
bool HoldsText(const std::string& value, const std::string& normalised_text) {
  return !normalised_text.empty() && storage::Normalise(value).find(normalised_text) != std::string::npos;
}

// The version of a note posting's file id "v<n>" (0 when malformed).
int NoteVersion(const domain::FileId& id) {
  if (id.value.size() < 2 || id.value[0] != 'v') return 0;
  int n = 0;
  for (size_t i = 1; i < id.value.size(); ++i) {
    if (id.value[i] < '0' || id.value[i] > '9' || n > 100000000) return 0;
    n = n * 10 + (id.value[i] - '0');
  }
  return n;
}

// The file `id` among `versions`, with its version; nullptr if none.
const StoredFile* FindFile(const std::vector<Version>& versions, const domain::FileId& id, int* version) {
  for (const Version& v : versions) {
    for (const StoredFile& f : v.files) {
      if (f.id == id) {
        *version = v.number;
        return &f;
      }
    }
  }
  return nullptr;
}

// The order of fields in a hit: catalogue, then notes, names and content.
int FieldRank(const std::string& field) {
  static const std::vector<std::string> order{"archiveNumber", kFieldTitle,    kFieldDescription, kFieldMetadata,
                                              kFieldNote,      kFieldFileName, kFieldContent};
  auto it = std::find(order.begin(), order.end(), field);
  return static_cast<int>(it - order.begin());
}

// A record with only the columns the content rights depend on, from a
// match (storage::PostingMatch); nullopt when the record has no row or a
// column does not parse.
std::optional<Record> RightsColumns(const storage::PostingMatch& m) {
  auto type = domain::ParseRecordType(m.record_type);
  auto classification = domain::ParseClassification(m.record_classification);
  auto state = domain::ParseRecordState(m.record_state);
  if (!type.ok() || !classification.ok() || !state.ok()) return std::nullopt;
  Record r;
  r.id = m.record_id;
  r.type = *type;
  r.classification = *classification;
  r.department = m.record_department;
  r.state = *state;
  return r;
}

// What the postings said, after the caller's rights.
struct IndexHits {
  // record → its matched (field, file) triples, best first.
  std::map<std::string, std::vector<storage::PostingMatch>> by_record;
};

// A content match whose snippet is to be cut from the sealed text.
struct PendingContent {
  size_t record = 0;  // index into the page
  size_t match = 0;   // index into that record's matches
  StoredFile file;
  std::vector<uint8_t> sealed;
};

}  // namespace

StatusOr<domain::RecordPage> RecordService::Search(const Principal& who, domain::RecordQuery query) {
  if (IsNonBusiness(who.role)) return Forbidden("read the catalogue");
  RestrictToVisible(who, query);
  if (query.expiring_within_days) {
    if (*query.expiring_within_days < 0 || *query.expiring_within_days > 36500) {
      return InvalidArgument("expiringWithin must be 0 to 36500 days", "invalid_parameter");
    }
    Time by = clock_.Now() + std::chrono::hours(24) * *query.expiring_within_days;
    query.expiring_by = domain::FormatTime(by).substr(0, 10);
  }
  if (!query.sort.empty() && !domain::IsRecordSortKey(query.sort)) {
    return InvalidArgument("cannot sort the catalogue by " + query.sort, "invalid_sort");
  }
  if (query.page < 1) return InvalidArgument("page starts at 1", "invalid_page");
  if (query.page_size < 1 || query.page_size > 500) {
    return InvalidArgument("pageSize must be 1 to 500", "invalid_page_size");
  }
  const bool indexed = !query.text.empty() && options_.index_key != nullptr;
  std::vector<std::string> tokens;
  if (indexed) {
    tokens = storage::QueryTokens(query.text);
    if (tokens.size() > storage::SearchIndexRepository::kMaxMatchTokens) {
      return InvalidArgument("the search text has more than " +
                                 std::to_string(storage::SearchIndexRepository::kMaxMatchTokens) +
                                 " words; shorten it",
                             "too_many_tokens");
    }
    // Catalogue fields are indexed at commit: the postings stand for the
    // scan unless a lone ideograph (only indexed where it stands alone)
    // must still be found inside words.
    if (!tokens.empty()) query.text_scan = std::any_of(tokens.begin(), tokens.end(), IsUnigram);
  }
  const Time now = clock_.Now();
  domain::RecordPage page;
  IndexHits hits;
  std::map<std::string, std::vector<Version>> versions;  // of the page's records with index hits
  std::map<std::string, bool> may_read;                  // record → content readable now
  std::set<std::string> copies_only;                     // readable through a loan of stamped copies: no snippet
  std::optional<std::set<std::string>> loaned;           // records the caller's loans open now
  std::vector<PendingContent> pending;
  bool index_complete = true;  // false: the postings match was cut (more may match)
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    if (indexed && !tokens.empty()) {
      CUSTOS_ASSIGN_OR_RETURN(storage::PostingMatches found,
                              tx.search().Match(options_.index_key->KeyedTokens(tokens), kMaxPostingMatches,
                                                kFieldContent));
      index_complete = found.complete;
      for (storage::PostingMatch& m : found) {
        if (m.field == kFieldContent) {
          auto it = may_read.find(m.record_id.value);
          if (it == may_read.end()) {
            // The rights' columns came with the content matches (no read
            // of the record per candidate); the page's records are read
            // sealed.
            std::optional<Record> r = RightsColumns(m);
            bool readable = false;
            if (r && r->state != domain::RecordState::kDestroyed && MaySeeRecord(who, *r)) {
              readable = MayReadContentDirectly(who, *r);
              if (!readable) {
                // The caller's own loans, read once per search rather than
                // once per candidate: the records a checked-out loan lets
                // them read now (as MayReadContentNow decides).
                if (!loaned) {
                  loaned.emplace();
                  CUSTOS_ASSIGN_OR_RETURN(
                      std::vector<domain::Loan> loans,
                      LoansOfRecord(tx, RecordId{""}, who.username.value, {domain::LoanState::kCheckedOut}));
                  for (const domain::Loan& l : loans) {
                    if (domain::GrantsContentAccess(l, who.username.value, now)) loaned->insert(l.record_id.value);
                  }
                }
                readable = loaned->count(r->id.value) > 0;
                if (readable && LentAsCopies(*r)) copies_only.insert(r->id.value);
              }
            }
            it = may_read.emplace(m.record_id.value, readable).first;
          }
          if (!it->second) continue;  // others must not learn what the content holds
        }
        hits.by_record[m.record_id.value].push_back(std::move(m));
      }
      for (const auto& [id, ms] : hits.by_record) query.text_matched_ids.push_back(RecordId{id});
    }
    CUSTOS_ASSIGN_OR_RETURN(page, tx.records().Search(query));
    // A cut match leaves records out of the count: "more than".
    if (!index_complete) page.total_exact = false;
    if (query.text.empty()) return Status::Ok();
    for (const Record& r : page.records) {
      if (hits.by_record.count(r.id.value) == 0) continue;
      CUSTOS_ASSIGN_OR_RETURN(versions[r.id.value], tx.versions().List(r.id));
    }
    return Status::Ok();
  }));
  if (query.text.empty()) return page;

  // Where each record of the page matched.
  const std::string normalised_text = storage::Normalise(query.text);
  page.matches.resize(page.records.size());
  for (size_t i = 0; i < page.records.size(); ++i) {
    const Record& r = page.records[i];
    std::vector<FieldMatch>& out = page.matches[i];
    const std::string metadata = MetadataValues(r.metadata_json, " · ");
    auto catalogue = [&](const std::string& field, const std::string& value) {
      FieldMatch m;
      m.field = field;
      m.snippet = storage::Snippet(value, query.text);
      out.push_back(std::move(m));
    };
    std::set<std::string> seen;  // catalogue fields already given
    auto hit = hits.by_record.find(r.id.value);
    if (hit != hits.by_record.end()) {
      const std::vector<Version>& vs = versions[r.id.value];
      bool content_snippet = false;  // one content snippet per record
      for (const storage::PostingMatch& p : hit->second) {
        if (p.field == kFieldTitle || p.field == kFieldDescription || p.field == kFieldMetadata) {
          if (!seen.insert(p.field).second) continue;
          catalogue(p.field, p.field == kFieldTitle ? r.title : p.field == kFieldDescription ? r.description : metadata);
        } else if (p.field == kFieldNote) {
          FieldMatch m;
          m.field = p.field;
          m.version = NoteVersion(p.file_id);
          for (const Version& v : vs) {
            if (v.number == m.version) m.snippet = storage::Snippet(v.note, query.text);
          }
          out.push_back(std::move(m));
        } else if (p.field == kFieldFileName || p.field == kFieldContent) {
          FieldMatch m;
          m.field = p.field;
          m.file_id = p.file_id;
          const StoredFile* f = FindFile(vs, p.file_id, &m.version);
          if (f == nullptr) continue;  // a posting of a file no longer listed
          m.file_name = f->name;
          if (p.field == kFieldFileName) {
            m.snippet = storage::Snippet(f->name, query.text);
          } else if (!content_snippet && pending.size() < options_.max_snippet_files && !f->wrapped_dek.empty() &&
                     copies_only.count(r.id.value) == 0) {
            content_snippet = true;
            pending.push_back({i, out.size(), *f, {}});
          }
          out.push_back(std::move(m));
        }
      }
    }
    // The store's own match of the catalogue (a substring of the text).
    auto add_if = [&](const std::string& field, const std::string& value) {
      if (seen.count(field) == 0 && HoldsText(value, normalised_text)) {
        seen.insert(field);
        catalogue(field, value);
      }
    };
    add_if("archiveNumber", r.id.value);
    add_if(kFieldTitle, r.title);
    add_if(kFieldDescription, r.description);
    add_if(kFieldMetadata, metadata);
    std::stable_sort(out.begin(), out.end(), [](const FieldMatch& a, const FieldMatch& b) {
      return FieldRank(a.field) < FieldRank(b.field);
    });
    for (PendingContent& c : pending) {
      if (c.record != i) continue;
      for (size_t k = 0; k < out.size(); ++k) {
        if (out[k].field == kFieldContent && out[k].file_id == c.file.id) c.match = k;
      }
    }
  }
  if (pending.empty()) return page;

  // Content snippets: the sealed texts, opened under each file's key.
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    for (PendingContent& c : pending) {
      CUSTOS_ASSIGN_OR_RETURN(auto row, tx.texts().Find(c.file.id));
      if (row && row->state == storage::TextState::kText) c.sealed = std::move(row->sealed_text);
    }
    return Status::Ok();
  }));
  std::vector<const PendingContent*> shown;
  for (const PendingContent& c : pending) {
    if (c.sealed.empty()) continue;
    auto text = content_.OpenDerived(c.file, storage::kTextPurpose, c.sealed);
    if (!text.ok()) continue;  // destroyed meanwhile, or damaged: no snippet, the hit stays
    std::vector<std::string> snippet = storage::Snippet(*text, query.text);
    if (snippet.empty()) continue;
    page.matches[c.record][c.match].snippet = std::move(snippet);
    shown.push_back(&c);
  }
  if (shown.empty()) return page;
  // Each record whose content a snippet showed is logged before the page
  // is returned (never the query).
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    for (const PendingContent* c : shown) {
      const Record& r = page.records[c->record];
      storage::LogEvent e = MakeEvent("content.snippet", who, r.id.value, now);
      e.details.Set("version", page.matches[c->record][c->match].version);
      e.details.Set("file", c->file.id.value);
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
    }
    return Status::Ok();
  }));
  return page;
}

StatusOr<TextRead> RecordService::ReadText(const Principal& who, const RecordId& id, int version,
                                           const domain::FileId& file_id) {
  CUSTOS_ASSIGN_OR_RETURN(LiveFile live, FindLiveFile(who, id, version, file_id));
  TextRead out;
  CUSTOS_ASSIGN_OR_RETURN(
      out.log_index, LogContentRead(who, live, version, storage::kTextPurpose, [&](Transaction& tx) -> Status {
        CUSTOS_ASSIGN_OR_RETURN(auto row, tx.texts().Find(live.file.id));
        if (!row) {
          return NotFound("the text of file " + live.file.id.value + " is not extracted yet", "text_not_found");
        }
        out.status = std::move(*row);
        return Status::Ok();
      }));
  std::vector<uint8_t> sealed = std::move(out.status.sealed_text);
  out.status.sealed_text.clear();
  if (out.status.state == storage::TextState::kText && !sealed.empty()) {
    auto text = content_.OpenDerived(live.file, storage::kTextPurpose, sealed);
    if (!text.ok() && text.status().reason() == storage::kContentDestroyed) return ContentDestroyed(id);
    if (!text.ok()) return text.status();
    out.text = std::move(text).value();
  }
  return out;
}

}  // namespace custos::services
