#include "domain/model.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "domain/canonical_json.h"
#include "domain/enum_names.h"

namespace custos::domain {

namespace {

constexpr EnumNames<RecordType, 5> kRecordTypes{{{{RecordType::kContract, "contract"},
                                                  {RecordType::kProductDossier, "product_dossier"},
                                                  {RecordType::kCustomerFile, "customer_file"},
                                                  {RecordType::kQualification, "qualification"},
                                                  {RecordType::kGeneral, "general"}}}};
constexpr EnumNames<Classification, 4> kClassifications{
    {{{Classification::kPublic, "public"},
      {Classification::kInternal, "internal"},
      {Classification::kConfidential, "confidential"},
      {Classification::kSecret, "secret"}}}};
constexpr EnumNames<RecordState, 4> kStates{{{{RecordState::kActive, "active"},
                                              {RecordState::kOnHold, "on_hold"},
                                              {RecordState::kDispositionDue, "disposition_due"},
                                              {RecordState::kDestroyed, "destroyed"}}}};
constexpr EnumNames<VersionKind, 6> kKinds{
    {{{VersionKind::kOriginal, "original"},
      {VersionKind::kAmendment, "amendment"},
      {VersionKind::kSupplementaryAgreement, "supplementary_agreement"},
      {VersionKind::kChangeNote, "change_note"},
      {VersionKind::kCopy, "copy"},
      {VersionKind::kRenewal, "renewal"}}}};
constexpr EnumNames<Role, 9> kRoles{{{{Role::kSysAdmin, "sysadmin"},
                                      {Role::kArchivist, "archivist"},
                                      {Role::kStaff, "staff"},
                                      {Role::kApprover, "approver"},
                                      {Role::kLegal, "legal"},
                                      {Role::kAuditor, "auditor"},
                                      {Role::kSecurityOfficer, "security_officer"},
                                      {Role::kSecurityAuditor, "security_auditor"},
                                      {Role::kLegacyAdmin, "admin"}}}};

bool ParseDigits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

bool IsAdministrative(Role r) {
  return r == Role::kSysAdmin || r == Role::kSecurityOfficer || r == Role::kSecurityAuditor;
}

std::string_view Name(RecordType v) { return kRecordTypes.Name(v); }
std::string_view Name(Classification v) { return kClassifications.Name(v); }
std::string_view Name(RecordState v) { return kStates.Name(v); }
std::string_view Name(VersionKind v) { return kKinds.Name(v); }
std::string_view Name(Role v) { return kRoles.Name(v); }

std::string_view Prefix(RecordType v) {
  switch (v) {
    case RecordType::kContract: return "CT";
    case RecordType::kProductDossier: return "PD";
    case RecordType::kCustomerFile: return "CF";
    case RecordType::kQualification: return "QC";
    case RecordType::kGeneral: return "GN";
  }
  return "GN";
}

StatusOr<RecordType> ParseRecordType(std::string_view s) { return kRecordTypes.Parse(s, "type", "invalid_type"); }
StatusOr<Classification> ParseClassification(std::string_view s) {
  return kClassifications.Parse(s, "classification", "invalid_classification");
}
StatusOr<RecordState> ParseRecordState(std::string_view s) { return kStates.Parse(s, "state", "invalid_state"); }
StatusOr<VersionKind> ParseVersionKind(std::string_view s) { return kKinds.Parse(s, "kind", "invalid_kind"); }
StatusOr<Role> ParseRole(std::string_view s) { return kRoles.Parse(s, "role", "invalid_role"); }

std::string ExpiresOn(const std::string& metadata_json) {
  constexpr size_t kDateChars = 10;  // YYYY-MM-DD
  for (const char* key : {"\"validUntil\":\"", "\"endDate\":\""}) {
    size_t at = metadata_json.find(key);
    if (at == std::string::npos) continue;
    size_t start = at + std::strlen(key);
    size_t end = metadata_json.find('"', start);
    if (end != std::string::npos && end - start == kDateChars) {
      return metadata_json.substr(start, kDateChars);
    }
  }
  return "";
}

RecordId MakeArchiveNumber(RecordType type, int year, uint64_t sequence) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s-%04d-%06llu", std::string(Prefix(type)).c_str(), year,
                static_cast<unsigned long long>(sequence));
  return RecordId{buf};
}

Time TruncateToMillis(Time t) {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(t);
}

std::string FormatTime(Time t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

StatusOr<Time> ParseTime(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument("bad time '" + std::string(s.substr(0, 64)) +
                               "' (expected RFC 3339, e.g. 2026-11-22T14:00:00Z)",
                           "invalid_time");
  };
  int year, mon, day, hour, min, sec;
  if (s.size() < 20 || !ParseDigits(s, 0, 4, year) || s[4] != '-' || !ParseDigits(s, 5, 2, mon) ||
      s[7] != '-' || !ParseDigits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !ParseDigits(s, 11, 2, hour) || s[13] != ':' || !ParseDigits(s, 14, 2, min) ||
      s[16] != ':' || !ParseDigits(s, 17, 2, sec)) {
    return bad();
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad();
  // Time counts nanoseconds in 64 bits: years outside 1678..2261 overflow.
  if (year < 1677 || year > 2262) return bad();
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (pos == start) return bad();
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_minutes = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec == 60 ? 59 : sec;
  std::time_t t = timegm(&tm);
  // timegm normalises out-of-range days (Feb 30): reject those.
  std::tm check{};
  gmtime_r(&t, &check);
  if (check.tm_mday != day || check.tm_mon != mon - 1) return bad();
  int64_t ms = (static_cast<int64_t>(t) - offset_minutes * 60) * 1000 + millis;
  // The clock holds ±2^63 ns, about ±9.2e12 ms (years 1677 to 2262).
  constexpr int64_t kMaxMillis = INT64_MAX / 1000000;
  if (ms > kMaxMillis || ms < -kMaxMillis) return bad();
  return Time(std::chrono::milliseconds(ms));
}

uint32_t NextCodePoint(std::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    ++i;
    return 0xFFFD;
  }
  uint32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 0x2) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += n;
  return cp;
}

namespace {

bool IsControl(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

bool IsBidiControl(uint32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
         cp == 0x200F || cp == 0x061C;
}

std::string CodePointLabel(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", cp);
  return buf;
}

}  // namespace

Status ValidateName(std::string_view name, const NameRule& rule) {
  const std::string what = rule.what;
  auto refuse = [&](const std::string& message, const char* broken) {
    return Unprocessable(message, rule.code).WithParam("field", rule.field).WithParam("rule", broken);
  };
  if (name.empty()) return refuse(what + " must not be empty", "empty");
  if (name.size() > rule.max_bytes) {
    return refuse(what + " must be at most " + std::to_string(rule.max_bytes) + " bytes", "too_long")
        .WithParam("maxBytes", rule.max_bytes);
  }
  if (!IsValidUtf8(name)) return refuse(what + " must be UTF-8", "utf8");
  if (rule.file_name && (name == "." || name == "..")) {
    return refuse(what + " may not be '.' or '..'", "dot_name");
  }
  bool blank = true;  // only spaces (ASCII, no-break, ideographic) so far
  for (size_t i = 0; i < name.size();) {
    const uint32_t cp = NextCodePoint(name, i);
    blank = blank && (cp == ' ' || cp == 0xA0 || cp == 0x3000);
    if (IsControl(cp)) {
      return refuse(what + " may not contain control characters (C0, C1, DEL, line breaks, tabs): " +
                        CodePointLabel(cp),
                    "control_character");
    }
    if (IsBidiControl(cp)) {
      return refuse(what + " may not contain bidirectional control characters, which make it read as "
                           "something else: " + CodePointLabel(cp),
                    "bidi_control");
    }
    if (rule.file_name && (cp == '/' || cp == '\\' || cp == ':')) {
      return refuse(what + " may not contain '/', '\\' or ':' (it is a name, not a path)", "path_character")
          .WithParam("character", std::string(1, static_cast<char>(cp)));
    }
  }
  if (blank) return refuse(what + " must not be blank (only spaces)", "empty");
  return Status::Ok();
}

bool IsMetadataSortKey(std::string_view key) {
  static constexpr std::string_view kKeys[] = {
      "counterparty", "contractNumber", "signedDate",   "effectiveDate", "endDate",      "amount",       "issuer",
      "certificateNumber", "validUntil", "issuedDate", "productModel",  "documentKind", "customerName", "customerId"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

bool IsRecordSortKey(std::string_view key) {
  static constexpr std::string_view kColumns[] = {"id",         "title", "type",      "classification",
                                                   "department", "state", "createdAt", "updatedAt"};
  return std::find(std::begin(kColumns), std::end(kColumns), key) != std::end(kColumns) || IsMetadataSortKey(key);
}

}  // namespace custos::domain
