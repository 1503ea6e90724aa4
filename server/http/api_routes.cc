#include "server/http/api_routes.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/URI.h>

#include <charconv>

#include "server/http/audit_routes.h"
#include "server/http/json_codec.h"
#include "server/http/loan_routes.h"
#include "server/http/multipart.h"
#include "server/http/retention_routes.h"
#include "server/http/request_context.h"
#include "server/http/route_util.h"

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

Response SignIn(services::AuthService& auth, RequestContext& ctx) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  auto username = ReqString(*body, "username");
  auto password = ReqString(*body, "password");
  if (!username.ok()) return Response::Error(username.status());
  if (!password.ok()) return Response::Error(password.status());
  if (auto s = OnlyKeys(*body, {"username", "password"}); !s.ok()) return Response::Error(s);
  auto result = auth.SignIn(*username, *password);
  if (!result.ok()) return Response::Error(result.status());
  ctx.principal = result->user.username.value;
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("token", result->token);
  o->set("expiresAt", domain::FormatTime(result->expires_at));
  o->set("user", UserJson(result->user));
  return JsonOk(200, o);
}

// ------------------------------------------------------------- check-in

// Reads a multipart upload: part "metadata" first, then "file" parts each
// optionally followed by a "signature" part. `begin` turns the metadata into
// a CheckIn.
Response Upload(RequestContext& ctx,
                const std::function<StatusOr<std::unique_ptr<services::CheckIn>>(const std::string&)>& begin,
                const std::function<Poco::Dynamic::Var(const services::CheckInResult&)>& render) {
  std::string media;
  Poco::Net::NameValueCollection params;
  Poco::Net::MessageHeader::splitParameters(ctx.request.getContentType(), media, params);
  if (Poco::icompare(media, "multipart/form-data") != 0 || !params.has("boundary")) {
    return Response::Error(InvalidArgument("expected multipart/form-data with a boundary",
                                           "expected_multipart"));
  }
  // Past the size limit the body stream just ends: say so rather than
  // "truncated".
  auto fail = [&ctx](const Status& s) {
    if (ctx.BodyOverLimit()) return Response::Error(TooLarge("upload exceeds the size limit", "body_too_large")
                                                       .WithParam("maxBytes", ctx.limits.max_body_bytes));
    return Response::Error(s);
  };
  // A small part (metadata, signature) read whole, at most 1 MiB.
  auto read_small = [](MultipartReader& part, std::string& out, const char* too_large) -> Status {
    uint8_t buf[8192];
    while (true) {
      CUSTOS_ASSIGN_OR_RETURN(size_t got, part.Read(buf, sizeof buf));
      if (got == 0) return Status::Ok();
      out.append(reinterpret_cast<const char*>(buf), got);
      if (out.size() > (1 << 20)) {
        return TooLarge(std::string(too_large) + " part too large", "body_too_large").WithParam("maxBytes", 1 << 20);
      }
    }
  };
  std::unique_ptr<services::CheckIn> checkin;
  MultipartReader reader(ctx.BodyStream(), params.get("boundary"));
  bool first = true;
  while (true) {
    Poco::Net::MessageHeader header;
    auto more = reader.NextPart(header);
    if (!more.ok()) return fail(more.status());
    if (!*more) break;
    auto disposition = ParseContentDisposition(reader.Disposition());
    if (!disposition.ok()) return fail(disposition.status());
    const std::string& name = disposition->name;
    if (first) {
      if (name != "metadata") {
        return fail(InvalidArgument("the first part must be 'metadata'", "missing_metadata"));
      }
      std::string text;
      if (auto s = read_small(reader, text, "metadata"); !s.ok()) return fail(s);
      auto started = begin(text);
      if (!started.ok()) return Response::Error(started.status());
      checkin = std::move(started).value();
      first = false;
    } else if (name == "file") {
      // The file name exactly as sent: CheckIn::AddFile refuses a bad one.
      services::FileInput in{disposition->filename.value_or(""),
                             header.get("Content-Type", "application/octet-stream")};
      if (auto s = checkin->AddFile(in, reader); !s.ok()) return fail(s);
    } else if (name == "signature") {
      std::string sig;
      if (auto s = read_small(reader, sig, "signature"); !s.ok()) {
        return fail(s.reason() == "body_too_large"
                        ? TooLarge("signature part too large", "signature_too_large")
                        : s);
      }
      if (auto s = checkin->AttachSignature(sig); !s.ok()) return Response::Error(s);
    } else {
      return Response::Error(InvalidArgument("unexpected part '" + name + "'", "unknown_part"));
    }
  }
  if (first) return fail(InvalidArgument("no parts in the upload", "missing_metadata"));
  if (ctx.BodyOverLimit()) return Response::Error(TooLarge("upload exceeds the size limit", "body_too_large")
                                                       .WithParam("maxBytes", ctx.limits.max_body_bytes));
  if (ctx.request.hasContentLength() && ctx.BodyBytesRead() != ctx.request.getContentLength64()) {
    // Drain the epilogue so a short read is told from a truncated upload.
    std::istream& rest = ctx.BodyStream();
    char buf[8192];
    while (rest.read(buf, sizeof buf) || rest.gcount() > 0) {
    }
    if (ctx.BodyBytesRead() != ctx.request.getContentLength64()) {
      return Response::Error(InvalidArgument("upload ended before its Content-Length", "truncated_upload"));
    }
  }
  auto result = checkin->Commit();
  if (!result.ok()) return Response::Error(result.status());
  return JsonOk(201, render(*result));
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

// RFC 6266: always an attachment (never rendered inline by a browser), with
// the exact name in filename* and, for clients that ignore it, a printable
// ASCII fallback in which every other byte, '"' and '\\' become '_'.
std::string ContentDisposition(const std::string& name) {
  std::string encoded;
  Poco::URI::encode(name, "!#$&+,/:;=?@[]'\"()*<>\\%", encoded);
  std::string fallback = name;
  for (char& c : fallback) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '"' || c == '\\') c = '_';
  }
  return "attachment; filename=\"" + fallback + "\"; filename*=UTF-8''" + encoded;
}

Response Content(services::RecordService& records, RequestContext& ctx, const AuthenticatedSession& s) {
  auto n = PathNumber(ctx, "n");
  if (!n.ok()) return Response::Error(n.status());
  // An unsatisfiable range is answered before the read is logged: no byte
  // of content leaves, so nothing was read.
  std::string range_header = ctx.request.get("Range", "");
  if (!range_header.empty()) {
    auto version = records.GetVersion(s.principal, RecordId{ctx.params.at("id")}, *n);
    if (!version.ok()) return Response::Error(version.status());
    for (const domain::StoredFile& f : version->files) {
      bool unsatisfiable = false;
      if (f.id.value == ctx.params.at("fileId")) (void)ParseRange(range_header, f.size, unsatisfiable);
      if (unsatisfiable) {
        Response e = Response::Error(416, "range_not_satisfiable", "the range lies outside the file");
        e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(f.size));
        return e;
      }
    }
  }
  auto read = records.OpenContent(s.principal, RecordId{ctx.params.at("id")}, *n,
                                  domain::FileId{ctx.params.at("fileId")});
  if (!read.ok()) return Response::Error(read.status());
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
    if (unsatisfiable) {
      Response e = Response::Error(416, "range_not_satisfiable", "the range lies outside the file");
      e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(f.size));
      return e;
    }
    if (range) {
      first = range->first;
      length = range->last - range->first + 1;
      r.status = 206;
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                  std::to_string(range->last) + "/" + std::to_string(f.size));
    }
  }
  r.stream_length = length;
  r.stream = [shared, first, length](std::ostream& out) -> Status {
    std::vector<uint8_t> buf(64 * 1024);
    uint64_t skipped = 0, sent = 0;
    for (;;) {
      CUSTOS_ASSIGN_OR_RETURN(size_t got, shared->stream->Read(buf.data(), buf.size()));
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
  };
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
  return q;
}

void AddSessionRoutes(Router& router, services::AuthService& auth) {
  router.Add("POST", "/v1/session", [&auth](RequestContext& ctx) { return SignIn(auth, ctx); });
  router.Add("DELETE", "/v1/session", WithSession(auth, [&auth](RequestContext&, const AuthenticatedSession& s) {
    Status st = auth.SignOut(s);
    return st.ok() ? Response::Json(204, "") : Response::Error(st);
  }, true));
  router.Add("GET", "/v1/me", WithSession(auth, [&auth](RequestContext&, const AuthenticatedSession& s) {
    return Render<domain::User>(auth.GetUser(s.principal.username.value), 200,
                                 [&](const domain::User& u) { return UserJson(u); });
  }, true));
  router.Add("POST", "/v1/me/password", WithSession(auth, [&auth](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    if (auto st = OnlyKeys(*body, {"currentPassword", "newPassword"}); !st.ok()) return Response::Error(st);
    auto current = ReqString(*body, "currentPassword");
    auto replacement = ReqString(*body, "newPassword");
    if (!current.ok()) return Response::Error(current.status());
    if (!replacement.ok()) return Response::Error(replacement.status());
    Status st = auth.ChangePassword(s, *current, *replacement);
    return st.ok() ? Response::Json(204, "") : Response::Error(st);
  }, true));
}

void AddUserRoutes(Router& router, services::AuthService& auth) {
  router.Add("GET", "/v1/users", WithSession(auth, [&auth](RequestContext&, const AuthenticatedSession& s) {
    return Render<std::vector<domain::User>>(auth.ListUsers(s.principal), 200, [](const auto& users) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const auto& u : users) arr->add(UserJson(u));
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("users", arr);
      return Poco::Dynamic::Var(o);
    });
  }));
  router.Add("POST", "/v1/users", WithSession(auth, [&auth](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    if (auto st = OnlyKeys(*body, {"username", "password", "role", "department", "mustChangePassword"}); !st.ok()) {
      return Response::Error(st);
    }
    services::NewUser nu;
    auto username = ReqString(*body, "username");
    auto password = ReqString(*body, "password");
    auto role = ReqString(*body, "role");
    auto department = ReqString(*body, "department");
    auto must = OptBool(*body, "mustChangePassword");
    for (const Status* st : {&username.status(), &password.status(), &role.status(), &department.status()}) {
      if (!st->ok()) return Response::Error(*st);
    }
    if (!must.ok()) return Response::Error(must.status());
    nu.username = *username;
    nu.password = *password;
    nu.role = *role;
    nu.department = *department;
    nu.must_change_password = must->value_or(true);
    return Render<domain::User>(auth.CreateUser(s.principal, nu), 201,
                                 [](const domain::User& u) { return UserJson(u); });
  }));
  router.Add("PATCH", "/v1/users/{name}", WithSession(auth, [&auth](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    if (auto st = OnlyKeys(*body, {"role", "department", "disabled", "password"}); !st.ok()) return Response::Error(st);
    services::UserPatch p;
    auto role = OptString(*body, "role");
    auto department = OptString(*body, "department");
    auto disabled = OptBool(*body, "disabled");
    auto password = OptString(*body, "password");
    if (!role.ok()) return Response::Error(role.status());
    if (!department.ok()) return Response::Error(department.status());
    if (!disabled.ok()) return Response::Error(disabled.status());
    if (!password.ok()) return Response::Error(password.status());
    p.role = *role;
    p.department = *department;
    p.disabled = *disabled;
    p.password = *password;
    return Render<domain::User>(auth.PatchUser(s.principal, ctx.params.at("name"), p), 200,
                                 [](const domain::User& u) { return UserJson(u); });
  }));
  router.Add("GET", "/v1/departments", WithSession(auth, [&auth](RequestContext&, const AuthenticatedSession& s) {
    return Render<std::vector<domain::Department>>(auth.ListDepartments(s.principal), 200, [](const auto& ds) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const auto& d : ds) arr->add(DepartmentJson(d));
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("departments", arr);
      return Poco::Dynamic::Var(o);
    });
  }));
  router.Add("POST", "/v1/departments", WithSession(auth, [&auth](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    if (auto st = OnlyKeys(*body, {"name"}); !st.ok()) return Response::Error(st);
    auto name = ReqString(*body, "name");
    if (!name.ok()) return Response::Error(name.status());
    return Render<domain::Department>(auth.CreateDepartment(s.principal, *name), 201,
                                       [](const domain::Department& d) { return DepartmentJson(d); });
  }));
}

Poco::Dynamic::Var CheckInJson(const services::CheckInResult& r) {
  Poco::JSON::Object::Ptr o = RecordDetailJson(r.detail);
  o->set("receipt", r.receipt);
  return o;
}

void AddRecordRoutes(Router& router, services::AuthService& auth, services::RecordService& records) {
  router.Add("POST", "/v1/records", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    return Upload(ctx, [&](const std::string& text) -> StatusOr<std::unique_ptr<services::CheckIn>> {
      CUSTOS_ASSIGN_OR_RETURN(services::RecordInput in, DecodeRecordInput(text));
      return records.BeginCheckIn(s.principal, in);
    }, CheckInJson);
  }));
  router.Add("GET", "/v1/records", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    auto q = DecodeQuery(ctx);
    if (!q.ok()) return Response::Error(q.status());
    return Render<domain::RecordPage>(records.Search(s.principal, *q), 200, [&](const domain::RecordPage& p) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const auto& r : p.records) arr->add(RecordJson(r));
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("records", arr);
      o->set("total", static_cast<Poco::UInt64>(p.total));
      o->set("totalExact", p.total_exact);
      o->set("page", q->page);
      o->set("pageSize", q->page_size);
      return Poco::Dynamic::Var(o);
    });
  }));
  router.Add("GET", "/v1/records/{id}", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    return Render<services::RecordDetail>(records.Get(s.principal, RecordId{ctx.params.at("id")}), 200,
                                          [](const services::RecordDetail& d) { return RecordDetailJson(d); });
  }));
  router.Add("PATCH", "/v1/records/{id}", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = ctx.ReadSmallBody();
    if (!body.ok()) return Response::Error(body.status());
    auto patch = DecodeRecordPatch(*body);
    if (!patch.ok()) return Response::Error(patch.status());
    auto updated = records.Patch(s.principal, RecordId{ctx.params.at("id")}, *patch);
    if (!updated.ok()) return Response::Error(updated.status());
    return Render<services::RecordDetail>(records.Get(s.principal, updated->id), 200,
                                          [](const services::RecordDetail& d) { return RecordDetailJson(d); });
  }));
  router.Add("POST", "/v1/records/{id}/versions", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    RecordId id{ctx.params.at("id")};
    return Upload(ctx, [&](const std::string& text) -> StatusOr<std::unique_ptr<services::CheckIn>> {
      CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseObject(text));
      CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"kind", "note"}));
      CUSTOS_ASSIGN_OR_RETURN(std::string kind, ReqString(o, "kind"));
      CUSTOS_ASSIGN_OR_RETURN(auto note, OptString(o, "note"));
      return records.BeginVersion(s.principal, id, kind, note.value_or(""));
    }, [](const services::CheckInResult& r) {
      Poco::JSON::Object::Ptr o = VersionJson(r.detail.versions.back());
      o->set("recordId", r.detail.record.id.value);
      o->set("receipt", r.receipt);
      return Poco::Dynamic::Var(o);
    });
  }));
  router.Add("GET", "/v1/records/{id}/versions", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    std::optional<domain::Time> as_of;
    if (auto a = ctx.Query("asOf"); a && !a->empty()) {
      auto t = domain::ParseTime(*a);
      if (!t.ok()) return Response::Error(t.status());
      as_of = *t;
    }
    return Render<std::vector<domain::Version>>(records.Versions(s.principal, RecordId{ctx.params.at("id")}, as_of), 200,
                                                 [](const auto& vs) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const auto& v : vs) arr->add(VersionJson(v));
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("versions", arr);
      return Poco::Dynamic::Var(o);
    });
  }));
  router.Add("GET", "/v1/records/{id}/versions/{n}", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    auto n = PathNumber(ctx, "n");
    if (!n.ok()) return Response::Error(n.status());
    return Render<domain::Version>(records.GetVersion(s.principal, RecordId{ctx.params.at("id")}, *n), 200,
                                    [](const domain::Version& v) { return VersionJson(v); });
  }));
  router.Add("GET", "/v1/records/{id}/versions/{n}/files/{fileId}",
             WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
               return Content(records, ctx, s);
             }));
  router.Add("GET", "/v1/records/{id}/versions/{n}/receipt", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    auto n = PathNumber(ctx, "n");
    if (!n.ok()) return Response::Error(n.status());
    auto receipt = records.Receipt(s.principal, RecordId{ctx.params.at("id")}, *n);
    if (!receipt.ok()) return Response::Error(receipt.status());
    return Response::Text(200, *receipt);
  }));
  router.Add("GET", "/v1/records/{id}/history", WithSession(auth, [&records](RequestContext& ctx, const AuthenticatedSession& s) {
    return Render<std::vector<storage::LogEntry>>(records.History(s.principal, RecordId{ctx.params.at("id")}), 200,
                                                  [](const auto& entries) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const auto& e : entries) arr->add(EntryJson(e));
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("entries", arr);
      return Poco::Dynamic::Var(o);
    });
  }));
}

Poco::JSON::Array::Ptr ProofJson(const std::vector<crypto::Digest32>& proof) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const auto& h : proof) arr->add(crypto::Base64Encode(h));
  return arr;
}

void AddLogRoutes(Router& router, services::AuthService& auth, services::LogService& log) {
  router.Add("GET", "/v1/log/checkpoint", [&log](RequestContext&) {
    auto cp = log.Checkpoint();
    if (!cp.ok()) return Response::Error(cp.status());
    return Response::Text(200, *cp);
  });
  router.Add("GET", "/v1/log/key", [&log](RequestContext&) { return Response::Text(200, log.VerifierKeys()); });
  router.Add("GET", "/v1/log/entries", WithSession(auth, [&log](RequestContext& ctx, const AuthenticatedSession& s) {
    auto start = QueryNumber(ctx, "start");
    auto end = QueryNumber(ctx, "end");
    if (!start.ok()) return Response::Error(start.status());
    if (!end.ok()) return Response::Error(end.status());
    return Render<std::vector<storage::LogEntry>>(log.Entries(s.principal, *start, *end), 200, [](const auto& es) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const auto& e : es) arr->add(EntryJson(e));
      return Poco::Dynamic::Var(arr);
    });
  }));
  router.Add("GET", "/v1/log/proof/inclusion", WithSession(auth, [&log](RequestContext& ctx, const AuthenticatedSession& s) {
    auto index = QueryNumber(ctx, "index");
    auto size = QueryNumber(ctx, "size");
    if (!index.ok()) return Response::Error(index.status());
    if (!size.ok()) return Response::Error(size.status());
    return Render<services::InclusionProofView>(log.Inclusion(s.principal, *index, *size), 200, [](const auto& v) {
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("index", static_cast<Poco::UInt64>(v.index));
      o->set("size", static_cast<Poco::UInt64>(v.size));
      o->set("leafHash", crypto::Base64Encode(v.leaf_hash));
      o->set("proof", ProofJson(v.proof));
      return Poco::Dynamic::Var(o);
    });
  }));
  router.Add("GET", "/v1/log/proof/consistency", WithSession(auth, [&log](RequestContext& ctx, const AuthenticatedSession& s) {
    auto from = QueryNumber(ctx, "from");
    auto to = QueryNumber(ctx, "to");
    if (!from.ok()) return Response::Error(from.status());
    if (!to.ok()) return Response::Error(to.status());
    return Render<std::vector<crypto::Digest32>>(log.Consistency(s.principal, *from, *to), 200, [&](const auto& p) {
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("from", static_cast<Poco::UInt64>(*from));
      o->set("to", static_cast<Poco::UInt64>(*to));
      o->set("proof", ProofJson(p));
      return Poco::Dynamic::Var(o);
    });
  }));
}

}  // namespace

void AddApiRoutes(Router& router, ApiServices api) {
  AddSessionRoutes(router, api.auth);
  AddUserRoutes(router, api.auth);
  AddRecordRoutes(router, api.auth, api.records);
  AddLogRoutes(router, api.auth, api.log);
  AddLoanRoutes(router, api.auth, api.loans);
  AddRetentionRoutes(router, api.auth, api.retention, api.destruction);
  AddAuditRoutes(router, api.auth, api.audit);
}

}  // namespace custos::http
