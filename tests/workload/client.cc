#include "tests/workload/client.h"

#include <Poco/JSON/Array.h>
#include <openssl/evp.h>
#include <strings.h>
#include <time.h>

#include <chrono>

#include "tests/workload/json.h"

namespace custos::workload {
namespace {

constexpr char kBoundary[] = "----CustosWorkload5b0e";
constexpr char kJson[] = "application/json";

std::string Part(const std::string& name, const std::string& filename, const std::string& type,
                 const std::string& bytes) {
  std::string out =
      std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
  if (!filename.empty()) out += "; filename=\"" + filename + "\"";
  out += "\r\nContent-Type: " + type + "\r\n\r\n" + bytes + "\r\n";
  return out;
}

std::string MultipartBody(const std::string& metadata, const std::vector<Upload>& files) {
  std::string body = Part("metadata", "", kJson, metadata);
  for (const Upload& f : files) body += Part("file", f.model.name, "application/octet-stream", f.bytes);
  return body + "--" + kBoundary + "--\r\n";
}

std::string MultipartType() { return std::string("multipart/form-data; boundary=") + kBoundary; }

Outcome Wrong(Outcome o, const std::string& problem) {
  o.kind = Outcome::Kind::kWrong;
  o.problem = o.what + ": " + problem;
  return o;
}

// Compares the files of an acknowledged version with what was sent and
// fills `v` from it; the difference, or "".
std::string MatchAcknowledged(const Poco::JSON::Object::Ptr& version, VersionModel* v) {
  Poco::JSON::Array::Ptr files = version ? version->getArray("files") : nullptr;
  if (!files || files->size() != v->files.size()) return "acknowledged with the wrong number of files";
  for (size_t i = 0; i < v->files.size(); ++i) {
    Poco::JSON::Object::Ptr f = files->getObject(static_cast<unsigned>(i));
    FileModel& m = v->files[i];
    if (Str(f, "name") != m.name || Int(f, "size") != static_cast<int64_t>(m.size) ||
        Str(f, "sha256") != m.sha256 || Str(f, "id").empty()) {
      return "file " + m.name + " acknowledged as " + Stringify(f) + ", sent " +
             std::to_string(m.size) + " bytes sha256 " + m.sha256;
    }
    m.id = Str(f, "id");
  }
  v->number = static_cast<int>(Int(version, "number"));
  v->log_index = Int(version, "logIndex");
  v->manifest_hash = Str(version, "manifestHash");
  v->acked = true;
  return "";
}

void SetFiles(const std::vector<Upload>& files, VersionModel* v) {
  v->files.clear();
  for (const Upload& f : files) v->files.push_back(f.model);
}

}  // namespace

// ------------------------------------------------------------------ helpers

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  return out;
}

std::string PatternBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<char>((x >> (8 * b)) & 0xFF);
  }
  for (; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x & 0xFF);
  }
  return out;
}

std::string DaysFromNow(int days) {
  time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) +
             static_cast<time_t>(days) * 86400;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Describe(const HttpResult& r) {
  if (r.status == 0) return "transport: " + r.transport_error;
  std::string body = r.body.size() > 300 ? r.body.substr(0, 300) + "..." : r.body;
  return "HTTP " + std::to_string(r.status) + " " + body;
}

bool ResponseComplete(const HttpResult& r) {
  if (r.status == 0) return false;
  for (const auto& [name, value] : r.headers) {
    if (strcasecmp(name.c_str(), "Content-Length") != 0) continue;
    try {
      return std::stoull(value) == r.body.size();
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

Upload NewUpload(const std::string& name, size_t size, uint64_t seed) {
  Upload u;
  u.bytes = PatternBytes(size, seed);
  u.model.name = name;
  u.model.size = u.bytes.size();
  u.model.sha256 = Sha256Hex(u.bytes);
  return u;
}

std::string CheckInMetadata(const RecordModel& record, const std::string& department,
                            const std::string& contract_number) {
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("type", record.type);
  meta->set("title", record.title);
  meta->set("department", department);
  meta->set("classification", record.classification);
  if (record.type == "contract") {
    Poco::JSON::Object::Ptr fields = new Poco::JSON::Object;
    fields->set("counterparty", "Harbour Logistics Co.");
    fields->set("contractNumber", contract_number);
    fields->set("signedDate", "2026-03-14");
    meta->set("metadata", fields);
  }
  return Stringify(meta);
}

LoanStep NextLoanStep(const LoanModel& loan) {
  if (loan.state == "requested") {
    return {LoanStep::By::kApprover, "approve", loan.kind == "digital" ? "checked_out" : "approved"};
  }
  if (loan.state == "approved") return {LoanStep::By::kArchivist, "checkout", "checked_out"};
  return {loan.kind == "digital" ? LoanStep::By::kBorrower : LoanStep::By::kArchivist, "return",
          "returned"};
}

// --------------------------------------------------------------- operations

Outcome Expect(std::string what, HttpResult answer, int want) {
  Outcome o;
  o.what = std::move(what);
  o.answer = std::move(answer);
  o.kind = o.answer.status == want && ResponseComplete(o.answer) ? Outcome::Kind::kAcked
                                                                 : Outcome::Kind::kUnanswered;
  return o;
}

Outcome CheckIn(const Send& send, const std::string& user, const std::string& what,
                const std::string& metadata, const std::vector<Upload>& files, std::string* id,
                VersionModel* v) {
  SetFiles(files, v);
  Outcome o = Expect(what, send(user, "POST", "/v1/records", MultipartBody(metadata, files),
                              MultipartType()),
                   201);
  if (!o.acked()) return o;
  Poco::JSON::Object::Ptr record = JsonObject(o.answer.body);
  Poco::JSON::Array::Ptr versions = record ? record->getArray("versions") : nullptr;
  if (!versions || versions->size() != 1 || Str(record, "id").empty()) {
    return Wrong(o, "acknowledged without an id and one version: " + Describe(o.answer));
  }
  const std::string problem = MatchAcknowledged(versions->getObject(0), v);
  if (!problem.empty()) return Wrong(o, problem);
  if (v->number != 1) return Wrong(o, "acknowledged as version " + std::to_string(v->number));
  *id = Str(record, "id");
  return o;
}

Outcome AddVersion(const Send& send, const std::string& user, const std::string& record_id,
                   const std::vector<Upload>& files, VersionModel* v) {
  SetFiles(files, v);
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("kind", "amendment");
  meta->set("note", v->note);
  Outcome o = Expect("new version of " + record_id,
                   send(user, "POST", "/v1/records/" + record_id + "/versions",
                        MultipartBody(Stringify(meta), files), MultipartType()),
                   201);
  if (!o.acked()) return o;
  Poco::JSON::Object::Ptr version = JsonObject(o.answer.body);
  if (Str(version, "recordId") != record_id) return Wrong(o, "acknowledged as " + Describe(o.answer));
  const std::string problem = MatchAcknowledged(version, v);
  if (!problem.empty()) return Wrong(o, problem);
  if (v->number < 2) return Wrong(o, "acknowledged as version " + std::to_string(v->number));
  return o;
}

Outcome ReadFile(const Send& send, const std::string& user, const std::string& why,
                 const std::string& record_id, int number, const FileModel& file) {
  const std::string path = "/v1/records/" + record_id + "/versions/" + std::to_string(number) +
                           "/files/" + file.id;
  Outcome o = Expect(why + " as " + user + ": GET " + path, send(user, "GET", path, "", ""), 200);
  if (!o.acked()) return o;
  const std::string sha = Sha256Hex(o.answer.body);
  if (o.answer.body.size() != file.size || sha != file.sha256) {
    return Wrong(o, "gave " + std::to_string(o.answer.body.size()) + " bytes with sha256 " + sha +
                        ", acknowledged " + std::to_string(file.size) + " bytes with sha256 " +
                        file.sha256);
  }
  return o;
}

Outcome RequestLoan(const Send& send, const std::string& purpose, LoanModel* loan) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("recordId", loan->record_id);
  body->set("kind", loan->kind);
  body->set("purpose", purpose);
  body->set("dueAt", DaysFromNow(7));
  loan->pending = "requested";
  Outcome o = Expect("loan request for " + loan->record_id + " by " + loan->borrower,
                   send(loan->borrower, "POST", "/v1/loans", Stringify(body), kJson), 201);
  if (!o.acked()) return o;
  Poco::JSON::Object::Ptr answer = JsonObject(o.answer.body);
  if (Str(answer, "id").empty() || Str(answer, "state") != "requested") {
    return Wrong(o, "acknowledged as " + Describe(o.answer));
  }
  loan->id = Str(answer, "id");
  loan->state = "requested";
  loan->pending.clear();
  loan->steps = 1;
  return o;
}

Outcome TakeLoanStep(const Send& send, const std::string& user, const LoanStep& step,
                     LoanModel* loan) {
  loan->pending = step.next;
  Outcome o = Expect(step.action + " of loan " + loan->id + " by " + user,
                   send(user, "POST", "/v1/loans/" + loan->id + "/" + step.action, "", ""), 200);
  if (!o.acked()) return o;
  if (Str(JsonObject(o.answer.body), "state") != step.next) {
    return Wrong(o, "expected state " + step.next + ", answered " + Describe(o.answer));
  }
  loan->state = step.next;
  loan->pending.clear();
  ++loan->steps;
  return o;
}

// ------------------------------------------------------------------- checks

std::vector<std::string> CompareServedVersion(const std::string& where,
                                              const Poco::JSON::Object::Ptr& served,
                                              const VersionModel& v) {
  std::vector<std::string> out;
  if (v.acked && (Int(served, "number") != v.number || Int(served, "logIndex") != v.log_index ||
                  Str(served, "manifestHash") != v.manifest_hash)) {
    out.push_back(where + " is number " + std::to_string(Int(served, "number")) +
                  " with log index " + std::to_string(Int(served, "logIndex")) + " manifest " +
                  Str(served, "manifestHash") + ", acknowledged as number " +
                  std::to_string(v.number) + " log index " + std::to_string(v.log_index) + " " +
                  v.manifest_hash);
  }
  std::vector<Poco::JSON::Object::Ptr> files = Objects(served, "files");
  if (files.size() != v.files.size()) {
    out.push_back(where + " has " + std::to_string(files.size()) + " files, " +
                  std::to_string(v.files.size()) + " were sent");
    return out;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const FileModel& m = v.files[i];
    const Poco::JSON::Object::Ptr& f = files[i];
    if (Str(f, "name") != m.name || Int(f, "size") != static_cast<int64_t>(m.size) ||
        Str(f, "sha256") != m.sha256) {
      out.push_back(where + " file " + m.name + " is listed as " + Stringify(f) + "; sent " +
                    std::to_string(m.size) + " bytes sha256 " + m.sha256);
    }
    if (v.acked && Str(f, "id") != m.id) {
      out.push_back(where + " file " + m.name + " has id " + Str(f, "id") + ", acknowledged as " +
                    m.id);
    }
  }
  return out;
}

std::string CompareServedLoan(const std::string& where, const Poco::JSON::Object::Ptr& served,
                              const LoanModel& loan) {
  const std::string state = Str(served, "state");
  if (Str(served, "recordId") == loan.record_id && Str(served, "kind") == loan.kind &&
      Str(served, "borrower") == loan.borrower &&
      (state == loan.state || (!loan.pending.empty() && state == loan.pending))) {
    return "";
  }
  return where + ": loan " + loan.id + " is " + Stringify(served) + ", acknowledged " + loan.kind +
         " of " + loan.record_id + " by " + loan.borrower + " in state " + loan.state +
         (loan.pending.empty() ? "" : " (or " + loan.pending + " if the step in flight landed)");
}

std::string CompareDownload(const std::string& where, const HttpResult& got,
                            const FileModel& file) {
  if (got.status != 200 || !ResponseComplete(got)) return where + " does not download: " + Describe(got);
  const std::string sha = Sha256Hex(got.body);
  if (got.body.size() == file.size && sha == file.sha256) return "";
  return where + " downloads as " + std::to_string(got.body.size()) + " bytes sha256 " + sha +
         "; acknowledged " + std::to_string(file.size) + " bytes sha256 " + file.sha256;
}

}  // namespace custos::workload
