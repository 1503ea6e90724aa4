#include "server/http/api_routes.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>

#include <cctype>
#include <charconv>

#include "server/http/audit_routes.h"
#include "server/http/evidence_routes.h"
#include "server/http/home_routes.h"
#include "server/http/json_codec.h"
#include "server/http/loan_routes.h"
#include "server/http/multipart.h"
#include "server/http/retention_routes.h"
#include "server/http/request_context.h"
#include "server/http/route_util.h"
#include "server/http/tile_routes.h"

namespace custos::http {

using services::AuthenticatedSession;
using domain::RecordId;

namespace {

StatusOr<int> PathNumber(const RequestContext& ctx, const std::string& name) {
  const std::string& v = ctx.params.at(name);
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < 1) {
    return NotFound("no version '" + v + "'", "version_not_found");
  }
  return out;
}

// --------------------------------------------------------------- sessions

// POST /v1/session. A refused sign-in (401 invalid_credentials,
// second_factor_required, invalid_second_factor) makes no session.
Response SignIn(services::AuthService& auth, RequestContext& ctx) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  if (auto s = OnlyKeys(*body, {"username", "password", "totp", "recoveryCode"}); !s.ok()) {
    return Response::Error(s);
  }
  auto username = ReqString(*body, "username");
  auto password = ReqString(*body, "password");
  auto totp = OptString(*body, "totp");
  auto recovery = OptString(*body, "recoveryCode");
  for (const Status* st : {&username.status(), &password.status(), &totp.status(), &recovery.status()}) {
    if (!st->ok()) return Response::Error(*st);
  }
  services::SignInFactor factor{totp->value_or(""), recovery->value_or(""), ctx.ClientCertificateSha256()};
  auto result = auth.SignIn(*username, *password, factor);
  if (!result.ok()) return Response::Error(result.status());
  ctx.principal = result->user.username.value;
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("token", result->token);
  o->set("expiresAt", domain::FormatTime(result->expires_at));
  o->set("user", UserJson(result->user));
  o->set("mustChangePassword", result->must_change_password);
  o->set("mustEnrolSecondFactor", result->must_enrol_second_factor);
  return JsonOk(200, o);
}

// A body that must be JSON (Content-Type application/json): an anonymous
// route takes no form post or text/plain body a foreign page could send.
StatusOr<Poco::JSON::Object::Ptr> StrictJsonBody(RequestContext& ctx) {
  std::string media;
  Poco::Net::NameValueCollection params;
  Poco::Net::MessageHeader::splitParameters(ctx.request.getContentType(), media, params);
  if (Poco::icompare(media, "application/json") != 0) {
    return InvalidArgument("the body must be application/json", "expected_json");
  }
  return JsonBody(ctx);
}

// POST /v1/setup (anonymous): the holder sets their password with the
// one-time code.
Response CompleteSetup(services::AuthService& auth, RequestContext& ctx) {
  auto body = StrictJsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  if (auto s = OnlyKeys(*body, {"username", "code", "password"}); !s.ok()) return Response::Error(s);
  auto username = ReqString(*body, "username");
  auto code = ReqString(*body, "code");
  auto password = ReqString(*body, "password");
  for (const Status* st : {&username.status(), &code.status(), &password.status()}) {
    if (!st->ok()) return Response::Error(*st);
  }
  Status done = auth.CompleteSetup(*username, *code, *password);
  if (done.ok()) ctx.principal = *username;
  return NoContent(done);
}

// ------------------------------------------------------------- check-in

using BeginCheckIn = std::function<StatusOr<std::unique_ptr<services::CheckIn>>(const std::string&)>;

// The upload's error; past the size limit the body stream just ends, so
// that is said rather than "truncated".
Response UploadError(RequestContext& ctx, const Status& s) {
  if (ctx.BodyOverLimit()) {
    return Response::Error(TooLarge("upload exceeds the size limit", "body_too_large")
                               .WithParam("maxBytes", ctx.limits.max_body_bytes));
  }
  return Response::Error(s);
}

// A small part (metadata, signature) read whole, at most 1 MiB.
Status ReadSmallPart(MultipartReader& part, std::string& out, const char* too_large) {
  uint8_t buf[8192];
  while (true) {
    CUSTOS_ASSIGN_OR_RETURN(size_t got, part.Read(buf, sizeof buf));
    if (got == 0) return Status::Ok();
    out.append(reinterpret_cast<const char*>(buf), got);
    if (out.size() > (1 << 20)) {
      return TooLarge(std::string(too_large) + " part too large", "body_too_large").WithParam("maxBytes", 1 << 20);
    }
  }
}

// After the last part: a body cut short of its Content-Length is refused
// (the epilogue is drained first, so a short read is told from a truncated
// upload).
Status CheckWholeBody(RequestContext& ctx) {
  if (ctx.BodyOverLimit()) {
    return TooLarge("upload exceeds the size limit", "body_too_large").WithParam("maxBytes", ctx.limits.max_body_bytes);
  }
  if (!ctx.request.hasContentLength() || ctx.BodyBytesRead() == ctx.request.getContentLength64()) {
    return Status::Ok();
  }
  std::istream& rest = ctx.BodyStream();
  char buf[8192];
  while (rest.read(buf, sizeof buf) || rest.gcount() > 0) {
  }
  if (ctx.BodyBytesRead() != ctx.request.getContentLength64()) {
    return InvalidArgument("upload ended before its Content-Length", "truncated_upload");
  }
  return Status::Ok();
}

// Reads the parts of a multipart upload into a CheckIn: part "metadata"
// first (`begin` turns it into the CheckIn), then "file" parts each
// optionally followed by a "signature" part. On failure, the response to
// send; nullopt when every part was read.
std::optional<Response> ReadParts(RequestContext& ctx, MultipartReader& reader, const BeginCheckIn& begin,
                                  std::unique_ptr<services::CheckIn>& checkin) {
  while (true) {
    Poco::Net::MessageHeader header;
    auto more = reader.NextPart(header);
    if (!more.ok()) return UploadError(ctx, more.status());
    if (!*more) break;
    auto disposition = ParseContentDisposition(reader.Disposition());
    if (!disposition.ok()) return UploadError(ctx, disposition.status());
    const std::string& name = disposition->name;
    if (!checkin) {
      if (name != "metadata") {
        return UploadError(ctx, InvalidArgument("the first part must be 'metadata'", "missing_metadata"));
      }
      std::string text;
      if (auto s = ReadSmallPart(reader, text, "metadata"); !s.ok()) return UploadError(ctx, s);
      auto started = begin(text);
      if (!started.ok()) return Response::Error(started.status());
      checkin = std::move(started).value();
    } else if (name == "file") {
      // The file name exactly as sent: CheckIn::AddFile refuses a bad one.
      services::FileInput in{disposition->filename.value_or(""),
                             header.get("Content-Type", "application/octet-stream")};
      if (auto s = checkin->AddFile(in, reader); !s.ok()) return UploadError(ctx, s);
    } else if (name == "signature") {
      std::string sig;
      if (auto s = ReadSmallPart(reader, sig, "signature"); !s.ok()) {
        return UploadError(ctx, s.reason() == "body_too_large"
                                    ? TooLarge("signature part too large", "signature_too_large")
                                    : s);
      }
      if (auto s = checkin->AttachSignature(sig); !s.ok()) return Response::Error(s);
    } else {
      return Response::Error(InvalidArgument("unexpected part '" + name + "'", "unknown_part"));
    }
  }
  if (!checkin) return UploadError(ctx, InvalidArgument("no parts in the upload", "missing_metadata"));
  return std::nullopt;
}

// Reads a multipart upload (see ReadParts), commits it and renders the
// result with 201.
Response Upload(RequestContext& ctx, const BeginCheckIn& begin,
                const std::function<Poco::Dynamic::Var(const services::CheckInResult&)>& render) {
  std::string media;
  Poco::Net::NameValueCollection params;
  Poco::Net::MessageHeader::splitParameters(ctx.request.getContentType(), media, params);
  if (Poco::icompare(media, "multipart/form-data") != 0 || !params.has("boundary")) {
    return Response::Error(InvalidArgument("expected multipart/form-data with a boundary",
                                           "expected_multipart"));
  }
  std::unique_ptr<services::CheckIn> checkin;
  MultipartReader reader(ctx.BodyStream(), params.get("boundary"));
  if (auto failed = ReadParts(ctx, reader, begin, checkin)) return std::move(*failed);
  if (auto s = CheckWholeBody(ctx); !s.ok()) return Response::Error(s);
  return RenderOne(checkin->Commit(), 201, render);
}

// ---------------------------------------------------------------- content

struct ByteRange {
  uint64_t first = 0, last = 0;
};

// Parses "bytes=a-b", "bytes=a-", "bytes=-n" for a file of `size` bytes.
std::optional<ByteRange> ParseRange(const std::string& header, uint64_t size, bool& unsatisfiable) {
  unsatisfiable = false;
  const std::string prefix = "bytes=";
  if (header.compare(0, prefix.size(), prefix) != 0 || header.find(',') != std::string::npos) return std::nullopt;
  std::string spec = header.substr(prefix.size());
  size_t dash = spec.find('-');
  if (dash == std::string::npos) return std::nullopt;
  auto num = [](const std::string& s, uint64_t& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  ByteRange r;
  uint64_t x = 0, y = 0;
  if (a.empty()) {
    if (!num(b, y) || y == 0) return std::nullopt;
    if (size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    r.first = y >= size ? 0 : size - y;
    r.last = size - 1;
    return r;
  }
  if (!num(a, x)) return std::nullopt;
  if (x >= size) {
    unsatisfiable = true;
    return std::nullopt;
  }
  r.first = x;
  r.last = size - 1;
  if (!b.empty()) {
    if (!num(b, y) || y < x) return std::nullopt;
    r.last = std::min(y, size - 1);
  }
  return r;
}

Response RangeNotSatisfiable(uint64_t size) {
  Response e = Response::Error(416, "range_not_satisfiable", "the range lies outside the file");
  e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
  return e;
}

// An unsatisfiable range is answered before the read is logged: no byte of
// content leaves, so nothing was read. Nullopt when the range may be served.
std::optional<Response> RefuseUnsatisfiableRange(services::RecordService& records, const RequestContext& ctx,
                                                 const AuthenticatedSession& s, int n,
                                                 const std::string& range_header) {
  auto version = records.GetVersion(s.principal, RecordId{ctx.params.at("id")}, n);
  if (!version.ok()) return Response::Error(version.status());
  for (const domain::StoredFile& f : version->files) {
    bool unsatisfiable = false;
    if (f.id.value == ctx.params.at("fileId")) (void)ParseRange(range_header, f.size, unsatisfiable);
    if (unsatisfiable) return RangeNotSatisfiable(f.size);
  }
  return std::nullopt;
}

// Writes bytes [first, first + length) of the content to `out`.
Status StreamContent(services::ContentRead& read, uint64_t first, uint64_t length, std::ostream& out) {
  std::vector<uint8_t> buf(64 * 1024);
  uint64_t skipped = 0, sent = 0;
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(size_t got, read.stream->Read(buf.data(), buf.size()));
    if (got == 0) break;
    size_t offset = 0;
    if (skipped < first) {
      uint64_t skip = std::min<uint64_t>(got, first - skipped);
      skipped += skip;
      offset = static_cast<size_t>(skip);
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(got - offset, length - sent));
    out.write(reinterpret_cast<const char*>(buf.data() + offset), static_cast<std::streamsize>(take));
    if (!out) return Internal("client went away");
    sent += take;
    if (sent == length) break;
  }
  return sent == length ? Status::Ok() : DataLoss("content ended early", "content_truncated");
}

// A stamped loan copy (docs/api.md "Loan copies"): whole (a Range is
// ignored), from memory, its ETag the copy's own SHA-256. An image copy is
// a PNG, and its name says so.
Response LoanCopyResponse(services::ContentRead read) {
  services::LoanCopy& copy = *read.copy;
  std::string name = read.file.name;
  auto ends_with_png = [](const std::string& n) {
    if (n.size() < 4) return false;
    std::string tail = n.substr(n.size() - 4);
    for (char& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return tail == ".png";
  };
  if (copy.media_type == "image/png" && !ends_with_png(name)) name += ".png";
  Response r;
  r.content_type = copy.media_type;
  r.headers.emplace_back("ETag", "\"" + copy.sha256 + "\"");
  r.headers.emplace_back("Content-Disposition", ContentDisposition(name));
  r.headers.emplace_back("Accept-Ranges", "none");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Custos-Copy", "stamped");
  r.headers.emplace_back("X-Custos-Loan", copy.loan);
  r.headers.emplace_back("X-Custos-Log-Index", std::to_string(read.log_index));
  r.body = std::move(copy.bytes);
  return r;
}

// One file of a version, whole or the one byte range asked for (206).
Response Content(services::RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto n = PathNumber(ctx, "n");
  if (!n.ok()) return Response::Error(n.status());
  std::string range_header = ctx.request.get("Range", "");
  if (!range_header.empty()) {
    if (auto refused = RefuseUnsatisfiableRange(records, ctx, s, *n, range_header)) return std::move(*refused);
  }
  auto read = records.OpenContent(s.principal, RecordId{ctx.params.at("id")}, *n,
                                  domain::FileId{ctx.params.at("fileId")});
  if (!read.ok()) return Response::Error(read.status());
  if (read->copy) return LoanCopyResponse(std::move(*read));
  auto shared = std::make_shared<services::ContentRead>(std::move(read).value());
  const domain::StoredFile& f = shared->file;
  Response r;
  r.content_type = f.media_type;
  r.headers.emplace_back("ETag", "\"" + f.sha256 + "\"");
  r.headers.emplace_back("Content-Disposition", ContentDisposition(f.name));
  r.headers.emplace_back("Accept-Ranges", "bytes");
  r.headers.emplace_back("X-Custos-Log-Index", std::to_string(shared->log_index));
  uint64_t first = 0, length = f.size;
  if (!range_header.empty()) {
    bool unsatisfiable = false;
    auto range = ParseRange(range_header, f.size, unsatisfiable);
    if (unsatisfiable) return RangeNotSatisfiable(f.size);
    if (range) {
      first = range->first;
      length = range->last - range->first + 1;
      r.status = 206;
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                  std::to_string(range->last) + "/" + std::to_string(f.size));
    }
  }
  r.stream_length = length;
  r.stream = [shared, first, length](std::ostream& out) { return StreamContent(*shared, first, length, out); };
  return r;
}

// ---------------------------------------------------------------- records

StatusOr<domain::RecordQuery> DecodeQuery(const RequestContext& ctx) {
  domain::RecordQuery q;
  q.text = ctx.Query("q").value_or("");
  if (auto t = ctx.Query("type"); t && !t->empty()) {
    CUSTOS_ASSIGN_OR_RETURN(q.type, domain::ParseRecordType(*t));
  }
  q.department = ctx.Query("department").value_or("");
  if (auto c = ctx.Query("classification"); c && !c->empty()) {
    CUSTOS_ASSIGN_OR_RETURN(q.classification, domain::ParseClassification(*c));
  }
  if (auto s = ctx.Query("state"); s && !s->empty()) {
    CUSTOS_ASSIGN_OR_RETURN(q.state, domain::ParseRecordState(*s));
  }
  if (auto v = ctx.Query("expiringWithin"); v && !v->empty()) {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t days, QueryNumber(ctx, "expiringWithin"));
    q.expiring_within_days = static_cast<int>(std::min<uint64_t>(days, 1000000));
  }
  for (const char* name : {"createdFrom", "createdTo"}) {
    auto v = ctx.Query(name);
    if (!v || v->empty()) continue;
    std::string text = v->size() == 10 ? *v + "T00:00:00Z" : *v;
    CUSTOS_ASSIGN_OR_RETURN(domain::Time t, domain::ParseTime(text));
    if (std::string(name) == "createdFrom") {
      q.created_from = t;
    } else {
      q.created_to = v->size() == 10 ? t + std::chrono::hours(24) - std::chrono::milliseconds(1) : t;
    }
  }
  CUSTOS_ASSIGN_OR_RETURN(uint64_t page, QueryNumber(ctx, "page", 1));
  CUSTOS_ASSIGN_OR_RETURN(uint64_t size, QueryNumber(ctx, "pageSize", 50));
  if (page < 1 || page > 1000000) return InvalidArgument("page must be 1 or more", "invalid_parameter");
  if (size < 1 || size > 500) return InvalidArgument("pageSize must be 1 to 500", "invalid_parameter");
  q.page = static_cast<int>(page);
  q.page_size = static_cast<int>(size);
  q.sort = ctx.Query("sort").value_or("");
  const std::string order = ctx.Query("order").value_or("");
  if (!order.empty() && order != "asc" && order != "desc") {
    return InvalidArgument("order must be asc or desc", "invalid_sort");
  }
  q.descending = order == "desc";
  return q;
}

Poco::Dynamic::Var CheckInJson(const services::CheckInResult& r) {
  Poco::JSON::Object::Ptr o = RecordDetailJson(r.detail);
  o->set("receipt", r.receipt);
  return o;
}

Poco::JSON::Array::Ptr ProofJson(const std::vector<crypto::Digest32>& proof) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const auto& h : proof) arr->add(crypto::Base64Encode(h));
  return arr;
}

using services::AuthService;
using services::LogService;
using services::RecordService;

// ---- handlers: sessions and the signed-in user

Response SignOut(AuthService& auth, RequestContext&, const AuthenticatedSession& s) {
  return NoContent(auth.SignOut(s));
}

Response GetMe(AuthService& auth, RequestContext&, const AuthenticatedSession& s) {
  return RenderOne(auth.GetUser(s.principal.username.value), 200, UserJson);
}

Response ChangePassword(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  if (auto st = OnlyKeys(*body, {"currentPassword", "newPassword"}); !st.ok()) return Response::Error(st);
  auto current = ReqString(*body, "currentPassword");
  auto replacement = ReqString(*body, "newPassword");
  if (!current.ok()) return Response::Error(current.status());
  if (!replacement.ok()) return Response::Error(replacement.status());
  return NoContent(auth.ChangePassword(s, *current, *replacement));
}

Poco::JSON::Object::Ptr TotpEnrolmentJson(const services::TotpEnrolment& e) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("secret", e.secret_base32);
  o->set("otpauthUri", e.otpauth_uri);
  return o;
}

Response BeginTotp(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(auth.BeginTotp(s), 200, TotpEnrolmentJson);
}

Response ConfirmTotp(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  if (auto st = OnlyKeys(*body, {"code"}); !st.ok()) return Response::Error(st);
  auto code = ReqString(*body, "code");
  if (!code.ok()) return Response::Error(code.status());
  return RenderOne(auth.ConfirmTotp(s, *code), 200, [](const std::vector<std::string>& codes) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const std::string& c : codes) arr->add(c);
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("recoveryCodes", arr);
    return o;
  });
}

Response EnrolCertificate(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return NoContent(auth.EnrolCertificate(s, ctx.ClientCertificateSha256()));
}

// ---- handlers: users and departments

// {username, department, role?}: accounts are made without a password (the
// holder sets it with a set-up code), so "password" and
// "mustChangePassword" are refused with 422 "password_not_accepted".
StatusOr<services::NewUser> DecodeNewUser(const Poco::JSON::Object::Ptr& body) {
  for (const char* key : {"password", "mustChangePassword"}) {
    if (body->has(key)) {
      return Unprocessable(std::string("'") + key +
                               "' is not accepted: a new account has no password until its holder "
                               "sets one with a set-up code from the security officer",
                           "password_not_accepted")
          .WithParam("field", key);
    }
  }
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(body, {"username", "role", "department"}));
  services::NewUser nu;
  auto username = ReqString(body, "username");
  auto role = OptString(body, "role");
  auto department = ReqString(body, "department");
  for (const Status* st : {&username.status(), &role.status(), &department.status()}) {
    CUSTOS_RETURN_IF_ERROR(*st);
  }
  nu.username = *username;
  nu.role = role->value_or("");
  nu.department = *department;
  return nu;
}

StatusOr<services::UserPatch> DecodeUserPatch(const Poco::JSON::Object::Ptr& body) {
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(body, {"department", "disabled", "reset", "resetSecondFactor"}));
  services::UserPatch p;
  CUSTOS_ASSIGN_OR_RETURN(p.department, OptString(body, "department"));
  CUSTOS_ASSIGN_OR_RETURN(p.disabled, OptBool(body, "disabled"));
  CUSTOS_ASSIGN_OR_RETURN(auto reset, OptBool(body, "reset"));
  CUSTOS_ASSIGN_OR_RETURN(auto reset_factor, OptBool(body, "resetSecondFactor"));
  p.reset = reset.value_or(false);
  p.reset_second_factor = reset_factor.value_or(false);
  return p;
}

Response ListUsers(AuthService& auth, RequestContext&, const AuthenticatedSession& s) {
  return RenderList(auth.ListUsers(s.principal), "users", UserJson);
}

Response CreateUser(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  auto nu = DecodeNewUser(*body);
  if (!nu.ok()) return Response::Error(nu.status());
  return RenderOne(auth.CreateUser(s.principal, *nu), 201, UserJson);
}

Response PatchUser(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  auto patch = DecodeUserPatch(*body);
  if (!patch.ok()) return Response::Error(patch.status());
  return RenderOne(auth.PatchUser(s.principal, ctx.params.at("name"), *patch), 200, UserJson);
}

Poco::JSON::Object::Ptr SetupCodeJson(const services::SetupCode& c) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("code", c.code);
  o->set("expiresAt", domain::FormatTime(c.expires_at));
  return o;
}

Response IssueSetupCode(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(auth.IssueSetupCode(s.principal, ctx.params.at("name")), 201, SetupCodeJson);
}

Response UnlockUser(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(auth.Unlock(s.principal, ctx.params.at("name")), 200, UserJson);
}

// ---- handlers: role grants

Response ListGrants(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderList(auth.Grants(s.principal, ctx.Query("state").value_or("")), "grants", GrantJson);
}

Response ProposeGrant(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  if (auto st = OnlyKeys(*body, {"username", "role"}); !st.ok()) return Response::Error(st);
  auto username = ReqString(*body, "username");
  auto role = ReqString(*body, "role");
  if (!username.ok()) return Response::Error(username.status());
  if (!role.ok()) return Response::Error(role.status());
  return RenderOne(auth.ProposeGrant(s.principal, *username, *role), 201, GrantJson);
}

Response ConfirmGrant(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(auth.ConfirmGrant(s.principal, ctx.params.at("id")), 200, GrantJson);
}

Response RejectGrant(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  auto reason = ReasonBody(ctx);
  if (!reason.ok()) return Response::Error(reason.status());
  return RenderOne(auth.RejectGrant(s.principal, ctx.params.at("id"), *reason), 200, GrantJson);
}

Response ListDepartments(AuthService& auth, RequestContext&, const AuthenticatedSession& s) {
  return RenderList(auth.ListDepartments(s.principal), "departments", DepartmentJson);
}

Response CreateDepartment(AuthService& auth, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  if (auto st = OnlyKeys(*body, {"name"}); !st.ok()) return Response::Error(st);
  auto name = ReqString(*body, "name");
  if (!name.ok()) return Response::Error(name.status());
  return RenderOne(auth.CreateDepartment(s.principal, *name), 201, DepartmentJson);
}

// ---- handlers: records, versions and content

RecordId RecordIdParam(const RequestContext& ctx) { return RecordId{ctx.params.at("id")}; }

Poco::JSON::Object::Ptr RecordPageJson(const domain::RecordPage& p, const domain::RecordQuery& q) {
  Poco::JSON::Object::Ptr o = ListObject("records", p.records, RecordJson);
  // With a search text, where each record matched (docs/search.md "API").
  Poco::JSON::Array::Ptr records = o->getArray("records");
  for (size_t i = 0; !q.text.empty() && records && i < records->size() && i < p.matches.size(); ++i) {
    records->getObject(static_cast<unsigned>(i))->set("matches", FieldMatchesJson(p.matches[i]));
  }
  o->set("total", static_cast<Poco::UInt64>(p.total));
  o->set("totalExact", p.total_exact);
  o->set("page", q.page);
  o->set("pageSize", q.page_size);
  return o;
}

Poco::JSON::Object::Ptr NewVersionJson(const services::CheckInResult& r) {
  Poco::JSON::Object::Ptr o = VersionJson(r.detail.versions.back());
  o->set("recordId", r.detail.record.id.value);
  o->set("receipt", r.receipt);
  return o;
}

// The "metadata" part of a new version: {"kind", "note"}.
struct VersionInput {
  std::string kind;
  std::string note;
};

StatusOr<VersionInput> DecodeVersionInput(const std::string& text) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseObject(text));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"kind", "note"}));
  VersionInput in;
  CUSTOS_ASSIGN_OR_RETURN(in.kind, ReqString(o, "kind"));
  CUSTOS_ASSIGN_OR_RETURN(auto note, OptString(o, "note"));
  in.note = note.value_or("");
  return in;
}

// The optional "asOf" query parameter (an RFC 3339 time).
StatusOr<std::optional<domain::Time>> AsOf(const RequestContext& ctx) {
  auto a = ctx.Query("asOf");
  if (!a || a->empty()) return std::optional<domain::Time>();
  CUSTOS_ASSIGN_OR_RETURN(domain::Time t, domain::ParseTime(*a));
  return std::optional<domain::Time>(t);
}

Response CheckInRecord(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  return Upload(ctx, [&](const std::string& text) -> StatusOr<std::unique_ptr<services::CheckIn>> {
    CUSTOS_ASSIGN_OR_RETURN(services::RecordInput in, DecodeRecordInput(text));
    return records.BeginCheckIn(s.principal, in);
  }, CheckInJson);
}

Response SearchRecords(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto q = DecodeQuery(ctx);
  if (!q.ok()) return Response::Error(q.status());
  return RenderOne(records.Search(s.principal, *q), 200,
                   [&](const domain::RecordPage& p) { return RecordPageJson(p, *q); });
}

// The extracted text of a file (a content read, logged as such).
Response FileText(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto n = PathNumber(ctx, "n");
  if (!n.ok()) return Response::Error(n.status());
  return RenderOne(records.ReadText(s.principal, RecordIdParam(ctx), *n, domain::FileId{ctx.params.at("fileId")}),
                   200, TextReadJson);
}

// A page of a file as a PNG (a content read, logged as such): ?page=P
// (default 1) and ?size=thumb|page (default page). A page that is not a
// number goes to the service as 0, which refuses it (invalid_preview).
Response FilePreview(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto n = PathNumber(ctx, "n");
  if (!n.ok()) return Response::Error(n.status());
  int page = 1;
  if (const std::optional<std::string> p = ctx.Query("page")) {
    auto [end, ec] = std::from_chars(p->data(), p->data() + p->size(), page);
    if (ec != std::errc() || end != p->data() + p->size()) page = 0;
  }
  auto preview = records.Preview(s.principal, RecordIdParam(ctx), *n, domain::FileId{ctx.params.at("fileId")}, page,
                                 ctx.Query("size").value_or(""));
  if (!preview.ok()) return Response::Error(preview.status());
  Response r;
  r.content_type = "image/png";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Custos-Pages", std::to_string(preview->pages));
  r.headers.emplace_back("X-Custos-Log-Index", std::to_string(preview->log_index));
  r.body = std::move(preview->png);
  return r;
}

// A query parameter that must be a version number; 422 invalid_compare
// otherwise (missing, not a number, below 1).
StatusOr<int> CompareVersion(const RequestContext& ctx, const std::string& name) {
  const std::optional<std::string> v = ctx.Query(name);
  int out = 0;
  if (v) {
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec == std::errc() && p == v->data() + v->size() && out >= 1) return out;
  }
  return Unprocessable("'" + name + "' must be a version number", "invalid_compare").WithParam("field", name);
}

// Two versions compared (a read of both versions' texts, logged as such).
Response CompareVersions(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto from = CompareVersion(ctx, "from");
  if (!from.ok()) return Response::Error(from.status());
  auto to = CompareVersion(ctx, "to");
  if (!to.ok()) return Response::Error(to.status());
  return RenderOne(records.Compare(s.principal, RecordIdParam(ctx), *from, *to), 200, ComparisonJson);
}

Response GetRecord(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderOne(records.Get(s.principal, RecordIdParam(ctx)), 200, RecordDetailJson);
}

Response PatchRecord(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = ctx.ReadSmallBody();
  if (!body.ok()) return Response::Error(body.status());
  auto patch = DecodeRecordPatch(*body);
  if (!patch.ok()) return Response::Error(patch.status());
  auto updated = records.Patch(s.principal, RecordIdParam(ctx), *patch);
  if (!updated.ok()) return Response::Error(updated.status());
  return RenderOne(records.Get(s.principal, updated->id), 200, RecordDetailJson);
}

Response AddVersion(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  RecordId id = RecordIdParam(ctx);
  return Upload(ctx, [&](const std::string& text) -> StatusOr<std::unique_ptr<services::CheckIn>> {
    CUSTOS_ASSIGN_OR_RETURN(VersionInput in, DecodeVersionInput(text));
    return records.BeginVersion(s.principal, id, in.kind, in.note);
  }, [](const services::CheckInResult& r) { return Poco::Dynamic::Var(NewVersionJson(r)); });
}

Response ListVersions(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto as_of = AsOf(ctx);
  if (!as_of.ok()) return Response::Error(as_of.status());
  return RenderList(records.Versions(s.principal, RecordIdParam(ctx), *as_of), "versions", VersionJson);
}

Response GetVersion(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto n = PathNumber(ctx, "n");
  if (!n.ok()) return Response::Error(n.status());
  return RenderOne(records.GetVersion(s.principal, RecordIdParam(ctx), *n), 200, VersionJson);
}

Response GetReceipt(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto n = PathNumber(ctx, "n");
  if (!n.ok()) return Response::Error(n.status());
  auto receipt = records.Receipt(s.principal, RecordIdParam(ctx), *n);
  if (!receipt.ok()) return Response::Error(receipt.status());
  return Response::Text(200, *receipt);
}

Response RecordHistory(RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderList(records.History(s.principal, RecordIdParam(ctx)), "entries", HistoryEntryJson);
}

// ---- handlers: the transparency log

Response LogCheckpoint(LogService& log, RequestContext&) {
  auto cp = log.Checkpoint();
  if (!cp.ok()) return Response::Error(cp.status());
  return Response::Text(200, *cp);
}

Response LogKey(LogService& log, RequestContext&) { return Response::Text(200, log.VerifierKeys()); }

Response LogEntries(LogService& log, RequestContext& ctx, const AuthenticatedSession& s) {
  auto start = QueryNumber(ctx, "start");
  auto end = QueryNumber(ctx, "end");
  if (!start.ok()) return Response::Error(start.status());
  if (!end.ok()) return Response::Error(end.status());
  return RenderOne(log.Entries(s.principal, *start, *end), 200, [](const std::vector<storage::LogEntry>& es) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& e : es) arr->add(EntryJson(e));
    return arr;
  });
}

Poco::JSON::Object::Ptr InclusionJson(const services::InclusionProofView& v) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("index", static_cast<Poco::UInt64>(v.index));
  o->set("size", static_cast<Poco::UInt64>(v.size));
  o->set("leafHash", crypto::Base64Encode(v.leaf_hash));
  o->set("proof", ProofJson(v.proof));
  return o;
}

Response InclusionProof(LogService& log, RequestContext& ctx, const AuthenticatedSession& s) {
  auto index = QueryNumber(ctx, "index");
  auto size = QueryNumber(ctx, "size");
  if (!index.ok()) return Response::Error(index.status());
  if (!size.ok()) return Response::Error(size.status());
  return RenderOne(log.Inclusion(s.principal, *index, *size), 200, InclusionJson);
}

Response ConsistencyProof(LogService& log, RequestContext& ctx, const AuthenticatedSession& s) {
  auto from = QueryNumber(ctx, "from");
  auto to = QueryNumber(ctx, "to");
  if (!from.ok()) return Response::Error(from.status());
  if (!to.ok()) return Response::Error(to.status());
  return RenderOne(log.Consistency(s.principal, *from, *to), 200, [&](const std::vector<crypto::Digest32>& p) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("from", static_cast<Poco::UInt64>(*from));
    o->set("to", static_cast<Poco::UInt64>(*to));
    o->set("proof", ProofJson(p));
    return o;
  });
}

// ---- registrars

// Marks of the routes a restricted session may reach (WithSession): one
// that must change its password, or must enrol a second factor.
constexpr bool kRestrictedOk = true;

void AddAuthRoutes(Router& router, AuthService& auth) {
  router.Add("POST", "/v1/session", [&auth](RequestContext& ctx) { return SignIn(auth, ctx); });
  router.Add("POST", "/v1/setup", [&auth](RequestContext& ctx) { return CompleteSetup(auth, ctx); });
  AddSignedInRoutes<AuthService>(router, auth, auth, {
      {"DELETE", "/v1/session", SignOut, kRestrictedOk, kRestrictedOk},
      {"GET", "/v1/me", GetMe, kRestrictedOk, kRestrictedOk},
      {"POST", "/v1/me/password", ChangePassword, kRestrictedOk, kRestrictedOk},
      {"POST", "/v1/me/totp", BeginTotp, kRestrictedOk, kRestrictedOk},
      {"POST", "/v1/me/totp/confirm", ConfirmTotp, kRestrictedOk, kRestrictedOk},
      {"POST", "/v1/me/certificate", EnrolCertificate, kRestrictedOk, kRestrictedOk},
      {"GET", "/v1/users", ListUsers},
      {"POST", "/v1/users", CreateUser},
      {"PATCH", "/v1/users/{name}", PatchUser},
      {"POST", "/v1/users/{name}/setup-code", IssueSetupCode},
      {"POST", "/v1/users/{name}/unlock", UnlockUser},
      {"GET", "/v1/grants", ListGrants},
      {"POST", "/v1/grants", ProposeGrant},
      {"POST", "/v1/grants/{id}/confirm", ConfirmGrant},
      {"POST", "/v1/grants/{id}/reject", RejectGrant},
      {"GET", "/v1/departments", ListDepartments},
      {"POST", "/v1/departments", CreateDepartment},
  });
}

void AddRecordRoutes(Router& router, AuthService& auth, RecordService& records) {
  AddSignedInRoutes<RecordService>(router, auth, records, {
      {"POST", "/v1/records", CheckInRecord},
      {"GET", "/v1/records", SearchRecords},
      {"GET", "/v1/records/{id}", GetRecord},
      {"PATCH", "/v1/records/{id}", PatchRecord},
      {"POST", "/v1/records/{id}/versions", AddVersion},
      {"GET", "/v1/records/{id}/versions", ListVersions},
      {"GET", "/v1/records/{id}/versions/{n}", GetVersion},
      {"GET", "/v1/records/{id}/versions/{n}/files/{fileId}", Content},
      {"GET", "/v1/records/{id}/versions/{n}/files/{fileId}/text", FileText},
      {"GET", "/v1/records/{id}/versions/{n}/files/{fileId}/preview", FilePreview},
      {"GET", "/v1/records/{id}/versions/{n}/receipt", GetReceipt},
      {"GET", "/v1/records/{id}/compare", CompareVersions},
      {"GET", "/v1/records/{id}/history", RecordHistory},
  });
}

void AddLogRoutes(Router& router, AuthService& auth, LogService& log) {
  router.Add("GET", "/v1/log/checkpoint", [&log](RequestContext& ctx) { return LogCheckpoint(log, ctx); });
  router.Add("GET", "/v1/log/key", [&log](RequestContext& ctx) { return LogKey(log, ctx); });
  AddSignedInRoutes<LogService>(router, auth, log, {
      {"GET", "/v1/log/entries", LogEntries},
      {"GET", "/v1/log/proof/inclusion", InclusionProof},
      {"GET", "/v1/log/proof/consistency", ConsistencyProof},
  });
}

}  // namespace

void AddApiRoutes(Router& router, ApiServices api) {
  AddAuthRoutes(router, api.auth);
  AddRecordRoutes(router, api.auth, api.records);
  AddLogRoutes(router, api.auth, api.log);
  if (api.serve_tiles) {
    AddTileRoutes(router, api.log, api.public_tile_entries ? nullptr : &api.auth);
  }
  AddLoanRoutes(router, api.auth, api.loans, api.verification, api.row_integrity, api.fresh_reads, api.attester);
  AddRetentionRoutes(router, api.auth, api.retention, api.destruction);
  AddAuditRoutes(router, api.auth, api.audit);
  if (api.evidence != nullptr) AddEvidenceRoutes(router, api.auth, *api.evidence);
  AddHomeRoutes(router, api.auth,
                services::HomeService(api.auth, api.records, api.loans, api.retention, api.destruction,
                                      api.verification));
}

}  // namespace custos::http
