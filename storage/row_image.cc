#include "storage/row_image.h"

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/random.h"

namespace custos::storage {

namespace {

std::string B(bool b) { return b ? "1" : "0"; }
std::string Tm(domain::Time t) { return domain::FormatTime(t); }
std::string OptTm(const std::optional<domain::Time>& t) { return t ? domain::FormatTime(*t) : std::string(); }

// Builds an image column by column; kLog-only transforms are chosen by the
// callers below.
class Builder {
 public:
  Builder(std::string table, std::string key, ImageUse use) : use_(use) {
    image_.table = std::move(table);
    image_.key = std::move(key);
    image_.columns.reserve(16);  // the widest table has 16 columns: no regrowth per row
  }
  Builder& Col(const char* name, std::string value) {
    image_.columns.emplace_back(name, std::move(value));
    return *this;
  }
  // A column only the seal covers.
  Builder& SealOnly(const char* name, std::string value) {
    if (use_ == ImageUse::kSeal) Col(name, std::move(value));
    return *this;
  }
  // A secret: itself in the seal, its SHA-256 in the log.
  Builder& Secret(const char* name, const std::string& value) {
    return Col(name, use_ == ImageUse::kSeal
                         ? value
                         : "sha256:" + crypto::HexEncode(crypto::Sha256Of(value)));
  }
  // A key: itself in the seal, its presence in the log.
  Builder& Key(const char* name, const std::vector<uint8_t>& value) {
    return Col(name, use_ == ImageUse::kSeal ? crypto::HexEncode(value.data(), value.size())
                                             : B(!value.empty()));
  }
  // A personal value: itself in the seal, a salted commitment in the log.
  Builder& Personal(const char* name, const std::string& salt, const std::string& value) {
    return Col(name, use_ == ImageUse::kSeal ? value : Commitment(salt, name, value));
  }
  // A column added by a later migration with a default: absent from both
  // images while it holds the default, so rows sealed before it keep
  // their seals (and their logged images).
  Builder& ColUnless(const char* name, std::string value, std::string_view absent) {
    if (value != absent) Col(name, std::move(value));
    return *this;
  }
  Builder& SecretUnless(const char* name, const std::string& value, std::string_view absent) {
    if (value != absent) Secret(name, value);
    return *this;
  }
  RowImage Done() { return std::move(image_); }

 private:
  ImageUse use_;
  RowImage image_;
};

void PutLength(std::string& out, size_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
}

void Put(std::string& out, std::string_view s) {
  PutLength(out, s.size());
  out.append(s);
}

}  // namespace

const std::string* RowImage::Find(std::string_view column) const {
  for (const auto& [name, value] : columns) {
    if (name == column) return &value;
  }
  return nullptr;
}

RowImage ImageOf(const domain::Department& d, ImageUse use) {
  return Builder("departments", d.name, use).Col("name", d.name).Col("created_at", Tm(d.created_at)).Done();
}

RowImage ImageOf(const domain::User& u, ImageUse use) {
  return Builder("users", u.username.value, use)
      .Col("username", u.username.value)
      .Secret("password_hash", u.password_hash)
      .Col("role", std::string(domain::Name(u.role)))
      .Col("department", u.department)
      .Col("must_change_password", B(u.must_change_password))
      .Col("password_changed_at", Tm(u.password_changed_at))
      .Col("failed_logins", std::to_string(u.failed_logins))
      .Col("locked_until", OptTm(u.locked_until))
      .Col("disabled", B(u.disabled))
      .Col("created_at", Tm(u.created_at))
      .SecretUnless("credentials", u.credentials, "{}")
      .ColUnless("provenance", u.provenance, "{}")
      .Done();
}

RowImage ImageOf(const domain::Session& s, ImageUse use) {
  return Builder("sessions", s.token_hash, use)
      .Col("token_hash", s.token_hash)
      .Col("username", s.username.value)
      .Col("created_at", Tm(s.created_at))
      .SealOnly("last_seen_at", Tm(s.last_seen_at))
      .Col("expires_at", Tm(s.expires_at))
      .Done();
}

RowImage ImageOf(const domain::Record& r, ImageUse use) {
  return Builder("records", r.id.value, use)
      .Col("id", r.id.value)
      .Col("type", std::string(domain::Name(r.type)))
      .Col("title", r.title)
      .Personal("description", r.salt, r.description)
      .Col("department", r.department)
      .Col("classification", std::string(domain::Name(r.classification)))
      .Col("custodian", r.custodian)
      .Personal("location", r.salt, r.location)
      .Personal("metadata_json", r.salt, r.metadata_json)
      .Col("retention_class", r.retention_class)
      .Col("state", std::string(domain::Name(r.state)))
      .Col("created_at", Tm(r.created_at))
      .Col("created_by", r.created_by)
      .Col("updated_at", Tm(r.updated_at))
      .SealOnly("salt", r.salt)
      .Done();
}

RowImage ImageOf(const domain::Version& v, ImageUse use) {
  return Builder("versions", v.record_id.value + "/" + std::to_string(v.number), use)
      .Col("record_id", v.record_id.value)
      .Col("number", std::to_string(v.number))
      .Col("kind", std::string(domain::Name(v.kind)))
      .Col("note", v.note)
      .Col("created_at", Tm(v.created_at))
      .Col("created_by", v.created_by)
      .Col("manifest_hash", v.manifest_hash)
      .Col("prev_manifest_hash", v.prev_manifest_hash)
      .Col("log_index", std::to_string(v.log_index))
      .Done();
}

RowImage ImageOf(const domain::StoredFile& f, ImageUse use) {
  return Builder("files", f.id.value, use)
      .Col("id", f.id.value)
      .Col("record_id", f.record_id.value)
      .Col("version", std::to_string(f.version))
      .Col("name", f.name)
      .Col("media_type", f.media_type)
      .Col("size", std::to_string(f.size))
      .Col("sha256", f.sha256)
      .Col("sm3", f.sm3)
      .Col("blob_id", f.blob_id.value)
      .SealOnly("kek_id", f.kek_id)
      .Key("wrapped_dek", f.wrapped_dek)
      .Col("sig_status", f.signature.status)
      .Col("sig_signer", f.signature.signer)
      .Col("sig_time", OptTm(f.signature.signing_time))
      .Col("sig_reason", f.signature.reason)
      .Done();
}

RowImage ImageOf(const Document& d, ImageUse use) {
  return Builder("documents", d.kind + "/" + d.id, use)
      .Col("kind", d.kind)
      .Col("id", d.id)
      .Col("subject", d.subject)
      .Col("owner", d.owner)
      .Col("state", d.state)
      .Col("due_at", OptTm(d.due_at))
      .Col("created_at", Tm(d.created_at))
      .Col("updated_at", Tm(d.updated_at))
      .Col("body", d.body)
      .Done();
}

RowImage ImageOf(const StoredExport& e, ImageUse use) {
  std::string records;
  for (const ExportedRecord& r : e.records) {
    if (!records.empty()) records += ",";
    records += r.id.value + (r.content ? ":content" : ":catalogue");
  }
  return Builder("exports", e.id, use)
      .Col("id", e.id)
      .Col("owner", e.owner)
      .Col("format", e.format)
      .Col("created_at", Tm(e.created_at))
      .Col("expires_at", Tm(e.expires_at))
      .Col("blob_id", e.blob_id.value)
      .Col("file_id", e.file_id.value)
      .Col("size", std::to_string(e.size))
      .Col("sha256", e.sha256)
      .SealOnly("kek_id", e.kek_id)
      .Key("wrapped_dek", e.wrapped_dek)
      .Col("shredded_by", e.shredded_by)
      .Secret("summary", e.summary)
      .Col("records", records)
      .Done();
}

RowImage DeletedImage(std::string table, std::string key) {
  RowImage image;
  image.table = std::move(table);
  image.key = std::move(key);
  image.deleted = true;
  return image;
}

std::string SealInput(const RowImage& image) {
  size_t size = 4 * 3 + image.table.size() + image.key.size();
  for (const auto& [name, value] : image.columns) size += 8 + name.size() + value.size();
  std::string out;
  out.reserve(size);  // one allocation: a seal is computed per row read
  Put(out, image.table);
  Put(out, image.key);
  PutLength(out, image.columns.size());
  for (const auto& [name, value] : image.columns) {
    Put(out, name);
    Put(out, value);
  }
  return out;
}

std::string Commitment(std::string_view salt_hex, std::string_view column, std::string_view value) {
  if (value.empty() || salt_hex.empty()) return "";
  std::optional<crypto::Bytes> salt = crypto::HexDecode(salt_hex);
  if (!salt) return "";
  crypto::Hasher h(crypto::HashAlgorithm::kSha256);
  h.Update(*salt);
  h.Update(column);
  const uint8_t zero = 0;
  h.Update(&zero, 1);
  h.Update(value);
  return "c1:" + crypto::HexEncode(h.Finish());
}

StatusOr<std::string> NewRecordSalt() { return crypto::RandomHexId(32); }

}  // namespace custos::storage
