#include "storage/integrity.h"

#include <algorithm>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "crypto/hash.h"
#include "domain/canonical_json.h"
#include "storage/log_leaf.h"
#include "storage/row_image.h"

namespace custos::storage {

namespace {

StatusOr<std::string> HexSha256(const StatusOr<std::string>& canonical) {
  if (!canonical.ok()) return canonical.status();
  return crypto::HexEncode(crypto::Sha256Of(*canonical));
}

}  // namespace

StatusOr<std::string> RecordCanonical(const domain::Record& r) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", r.id.value);
  o->set("type", std::string(domain::Name(r.type)));
  o->set("title", r.title);
  o->set("description", r.description);
  o->set("department", r.department);
  o->set("classification", std::string(domain::Name(r.classification)));
  o->set("custodian", r.custodian);
  o->set("location", r.location);
  o->set("metadata", r.metadata_json);
  o->set("retentionClass", r.retention_class);
  o->set("state", std::string(domain::Name(r.state)));
  o->set("createdAt", domain::FormatTime(r.created_at));
  o->set("createdBy", r.created_by);
  o->set("updatedAt", domain::FormatTime(r.updated_at));
  if (!r.salt.empty()) o->set("salt", r.salt);
  return domain::CanonicalJson(o);
}

StatusOr<uint64_t> SaltUnsaltedRecords(MetadataStore& store, domain::Time now) {
  std::vector<domain::RecordId> unsalted;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(unsalted, tx.records().Unsalted());
    return Status::Ok();
  }));
  // In write transactions of kSaltBatch records: an archive of a million
  // older records is not salted in one transaction that holds the writer
  // (and custosd's start) for its whole length. What a batch salted stays
  // salted if the next one fails; the next start goes on from there.
  constexpr size_t kSaltBatch = 1000;
  uint64_t salted = 0;
  for (size_t from = 0; from < unsalted.size(); from += kSaltBatch) {
    const size_t to = std::min(unsalted.size(), from + kSaltBatch);
    uint64_t in_batch = 0;
    CUSTOS_RETURN_IF_ERROR(store.Write([&](Transaction& tx) -> Status {
      in_batch = 0;
      for (size_t i = from; i < to; ++i) {
        StatusOr<std::optional<domain::Record>> found = tx.records().Find(unsalted[i]);
        // A row whose seal fails is never acted on; verify names it.
        if (!found.ok() && found.status().reason() == "row_integrity") continue;
        CUSTOS_RETURN_IF_ERROR(found.status());
        if (!*found || !(*found)->salt.empty()) continue;
        domain::Record r = **found;
        CUSTOS_ASSIGN_OR_RETURN(r.salt, NewRecordSalt());
        CUSTOS_RETURN_IF_ERROR(tx.records().Update(r));
        LogEvent e;
        e.action = kRecordSaltAction;
        e.actor = "system:custos";
        e.subject = r.id.value;
        e.at = now;
        CUSTOS_ASSIGN_OR_RETURN(std::string digest, RecordDigest(r));
        e.details.Set(kDetailRecordHash, digest);
        CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
        ++in_batch;
      }
      return Status::Ok();
    }));
    salted += in_batch;
  }
  return salted;
}

StatusOr<std::string> RecordDigest(const domain::Record& r) { return HexSha256(RecordCanonical(r)); }

StatusOr<std::string> ManifestCanonical(const domain::Version& v) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("record", v.record_id.value);
  o->set("number", v.number);
  o->set("kind", std::string(domain::Name(v.kind)));
  o->set("note", v.note);
  o->set("createdAt", domain::FormatTime(v.created_at));
  o->set("createdBy", v.created_by);
  o->set("prev", v.prev_manifest_hash);
  Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
  for (const domain::StoredFile& f : v.files) {
    Poco::JSON::Object::Ptr fo = new Poco::JSON::Object;
    fo->set("id", f.id.value);
    fo->set("name", f.name);
    fo->set("mediaType", f.media_type);
    fo->set("size", static_cast<Poco::Int64>(f.size));
    fo->set("sha256", f.sha256);
    fo->set("sm3", f.sm3);
    Poco::JSON::Object::Ptr sig = new Poco::JSON::Object;
    sig->set("status", f.signature.status);
    sig->set("signer", f.signature.signer);
    sig->set("signingTime",
             f.signature.signing_time ? domain::FormatTime(*f.signature.signing_time) : std::string());
    fo->set("signature", sig);
    files->add(fo);
  }
  o->set("files", files);
  return domain::CanonicalJson(o);
}

StatusOr<std::string> ManifestHash(const domain::Version& v) { return HexSha256(ManifestCanonical(v)); }

}  // namespace custos::storage
