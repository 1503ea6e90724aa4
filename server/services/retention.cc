#include "server/services/retention.h"

#include <Poco/JSON/Object.h>

#include <array>
#include <charconv>
#include <chrono>

#include "server/services/events.h"
#include "domain/canonical_json.h"
#include "storage/integrity.h"

namespace custos::services {

using domain::Record;
using domain::RecordState;
using domain::RecordType;
using domain::Time;

namespace {

constexpr std::array<std::pair<RetentionTrigger, std::string_view>, 4> kTriggers = {{
    {RetentionTrigger::kCreated, "created"},
    {RetentionTrigger::kContractEnd, "contract_end"},
    {RetentionTrigger::kValidUntil, "valid_until"},
    {RetentionTrigger::kLastActivity, "last_activity"},
}};
constexpr std::array<std::pair<RetentionAction, std::string_view>, 3> kActions = {{
    {RetentionAction::kDestroy, "destroy"},
    {RetentionAction::kReview, "review"},
    {RetentionAction::kPermanent, "permanent"},
}};

template <typename E, size_t N>
StatusOr<E> ParseIn(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view s,
                    const std::string& what) {
  std::string expected;
  for (const auto& [value, name] : table) {
    if (name == s) return value;
    expected += (expected.empty() ? "" : ", ") + std::string(name);
  }
  return Unprocessable("unknown retention " + what + " '" + std::string(s) + "' (expected " +
                           expected + ")",
                       "invalid_" + what);
}

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool ParseDate(const std::string& s, int64_t& y, unsigned& m, unsigned& d) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto num = [&](size_t at, size_t n, auto& out) {
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + n, out);
    return ec == std::errc() && p == s.data() + at + n;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return false;
  return m >= 1 && m <= 12 && d >= 1 && d <= DaysInMonth(y, m);
}

std::string FormatDate(int64_t y, unsigned m, unsigned d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

// A string field of the record's type-specific metadata ("" if absent).
std::string MetadataField(const Record& r, const std::string& key) {
  auto parsed = domain::ParseJsonStrict(r.metadata_json);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return "";
  auto o = parsed->extract<Poco::JSON::Object::Ptr>();
  if (!o->has(key)) return "";
  try {
    return o->getValue<std::string>(key);
  } catch (...) {
    return "";
  }
}

int ActionRank(RetentionAction a) {
  switch (a) {
    case RetentionAction::kDestroy: return 0;
    case RetentionAction::kReview: return 1;
    case RetentionAction::kPermanent: return 2;
  }
  return 0;
}

}  // namespace

std::string_view Name(RetentionTrigger t) {
  for (const auto& [v, n] : kTriggers) {
    if (v == t) return n;
  }
  return "unknown";
}

std::string_view Name(RetentionAction a) {
  for (const auto& [v, n] : kActions) {
    if (v == a) return n;
  }
  return "unknown";
}

StatusOr<RetentionTrigger> ParseRetentionTrigger(std::string_view s) {
  return ParseIn(kTriggers, s, "trigger");
}
StatusOr<RetentionAction> ParseRetentionAction(std::string_view s) {
  return ParseIn(kActions, s, "action");
}

StatusOr<IsoPeriod> ParseIsoPeriod(std::string_view text) {
  auto bad = [&] {
    return Unprocessable("'" + std::string(text) +
                             "' is not an ISO 8601 period of days (PnYnMnWnD, e.g. P10Y, P6M, P0D)",
                         "invalid_period");
  };
  if (text.size() < 3 || text.size() > 32 || text[0] != 'P') return bad();
  int64_t years = 0, months = 0, weeks = 0, days = 0;
  const std::string order = "YMWD";
  size_t next_unit = 0;
  size_t at = 1;
  while (at < text.size()) {
    size_t digits = at;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == at || digits == text.size() || digits - at > 6) return bad();
    size_t unit = order.find(text[digits], next_unit);
    if (unit == std::string::npos) return bad();  // unknown, repeated or out of order; no T part
    int64_t n = 0;
    std::from_chars(text.data() + at, text.data() + digits, n);
    (unit == 0 ? years : unit == 1 ? months : unit == 2 ? weeks : days) = n;
    next_unit = unit + 1;
    at = digits + 1;
  }
  IsoPeriod p;
  int64_t total_months = years * 12 + months;
  int64_t total_days = weeks * 7 + days;
  if (total_months > 12 * 1000 || total_days > 366 * 1000) return bad();
  p.months = static_cast<int>(total_months);
  p.days = static_cast<int>(total_days);
  std::string canon = "P";
  if (p.months / 12) canon += std::to_string(p.months / 12) + "Y";
  if (p.months % 12) canon += std::to_string(p.months % 12) + "M";
  if (p.days || canon == "P") canon += std::to_string(p.days) + "D";
  p.text = canon;
  return p;
}

RetentionRule DefaultRule(RecordType type) {
  auto period = [](const char* text) { return *ParseIsoPeriod(text); };
  switch (type) {
    case RecordType::kContract:
      return {RetentionTrigger::kContractEnd, period("P10Y"), RetentionAction::kDestroy};
    case RecordType::kQualification:
      return {RetentionTrigger::kValidUntil, period("P5Y"), RetentionAction::kDestroy};
    case RecordType::kCustomerFile:
      return {RetentionTrigger::kLastActivity, period("P5Y"), RetentionAction::kDestroy};
    case RecordType::kProductDossier:
      return {RetentionTrigger::kCreated, period("P0D"), RetentionAction::kPermanent};
    case RecordType::kGeneral:
      return {RetentionTrigger::kCreated, period("P10Y"), RetentionAction::kDestroy};
  }
  return {RetentionTrigger::kCreated, period("P10Y"), RetentionAction::kDestroy};
}

bool IsLengthening(const RetentionRule& from, const RetentionRule& to) {
  if (to.action == RetentionAction::kPermanent) return true;
  if (from.action == RetentionAction::kPermanent) return false;
  if (ActionRank(to.action) < ActionRank(from.action)) return false;
  return to.trigger == from.trigger && to.period.months >= from.period.months &&
         to.period.days >= from.period.days;
}

std::optional<std::string> AddPeriod(const std::string& date, const IsoPeriod& period) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  if (!ParseDate(date, y, m, d)) return std::nullopt;
  int64_t month_index = y * 12 + (m - 1) + period.months;
  y = month_index / 12;
  m = static_cast<unsigned>(month_index % 12) + 1;
  d = std::min(d, DaysInMonth(y, m));
  int64_t z = DaysFromCivil(y, m, d) + period.days;
  CivilFromDays(z, y, m, d);
  if (y > 9999) return std::nullopt;
  return FormatDate(y, m, d);
}

std::string DayOf(Time t) { return domain::FormatTime(t).substr(0, 10); }

Disposition ComputeDisposition(const Record& r, const RetentionRule& rule, const std::string& source,
                               std::vector<std::string> holds, Time now) {
  Disposition d;
  d.rule = rule;
  d.source = source;
  d.holds = std::move(holds);
  std::string trigger;
  switch (rule.trigger) {
    case RetentionTrigger::kCreated: trigger = DayOf(r.created_at); break;
    case RetentionTrigger::kContractEnd: trigger = MetadataField(r, "endDate"); break;
    case RetentionTrigger::kValidUntil: trigger = MetadataField(r, "validUntil"); break;
    case RetentionTrigger::kLastActivity: trigger = DayOf(r.updated_at); break;
  }
  if (rule.action == RetentionAction::kPermanent) {
    if (!trigger.empty()) d.trigger_date = trigger;
    return d;
  }
  if (trigger.empty()) return d;
  d.trigger_date = trigger;
  d.date = AddPeriod(trigger, rule.period);
  d.due = d.date && *d.date <= DayOf(now) && d.holds.empty() &&
          r.state != RecordState::kDestroyed;
  return d;
}

Poco::JSON::Object::Ptr RuleJson(const RetentionRule& rule) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("trigger", std::string(Name(rule.trigger)));
  o->set("period", rule.period.text);
  o->set("action", std::string(Name(rule.action)));
  return o;
}

domain::EventDetails RuleDetails(const RetentionRule& rule) {
  domain::EventDetails d;
  d.Set("trigger", Name(rule.trigger));
  d.Set("period", rule.period.text);
  d.Set("action", Name(rule.action));
  return d;
}

StatusOr<RetentionRule> RuleFromJson(const Poco::JSON::Object::Ptr& o) {
  auto field = [&](const std::string& key) -> StatusOr<std::string> {
    if (!o->has(key)) {
      return Unprocessable("'" + key + "' is required", "invalid_" + key)
          .WithParam("field", key).WithParam("rule", "required");
    }
    Poco::Dynamic::Var v = o->get(key);
    if (!v.isString()) return InvalidArgument("'" + key + "' must be a string", "invalid_field").WithParam("field", key);
    return v.convert<std::string>();
  };
  RetentionRule rule;
  CUSTOS_ASSIGN_OR_RETURN(std::string trigger, field("trigger"));
  CUSTOS_ASSIGN_OR_RETURN(std::string period, field("period"));
  CUSTOS_ASSIGN_OR_RETURN(std::string action, field("action"));
  CUSTOS_ASSIGN_OR_RETURN(rule.trigger, ParseRetentionTrigger(trigger));
  CUSTOS_ASSIGN_OR_RETURN(rule.period, ParseIsoPeriod(period));
  CUSTOS_ASSIGN_OR_RETURN(rule.action, ParseRetentionAction(action));
  return rule;
}

namespace {

// The rule of a stored schedule or override document, if there is one.
StatusOr<std::optional<RetentionRule>> RuleOf(const char* kind, const std::string& id,
                                              const std::optional<storage::Document>& doc) {
  if (!doc) return std::optional<RetentionRule>();
  auto parsed = domain::ParseJsonStrict(doc->body);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
    return DataLoss(std::string(kind) + " " + id + " does not decode", "retention_corrupt");
  }
  auto rule = RuleFromJson(parsed->extract<Poco::JSON::Object::Ptr>()->getObject("rule"));
  if (!rule.ok()) return DataLoss(std::string(kind) + " " + id + " does not decode", "retention_corrupt");
  return std::optional<RetentionRule>(*rule);
}

StatusOr<std::optional<RetentionRule>> StoredRule(storage::Transaction& tx, const char* kind,
                                                  const std::string& id) {
  CUSTOS_ASSIGN_OR_RETURN(auto doc, tx.documents().Find(kind, id));
  return RuleOf(kind, id, doc);
}

}  // namespace

StatusOr<RetentionRule> LoadSchedule(storage::Transaction& tx, RecordType type) {
  CUSTOS_ASSIGN_OR_RETURN(auto stored, StoredRule(tx, kScheduleDocument, std::string(domain::Name(type))));
  return stored ? *stored : DefaultRule(type);
}

StatusOr<std::vector<std::string>> ActiveHolds(storage::Transaction& tx, const domain::RecordId& id) {
  storage::DocumentQuery q;
  q.kind = kHoldItemDocument;
  q.subject = id.value;
  q.states = {"active"};
  CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::Document> items, ListAllDocuments(tx, q));
  std::vector<std::string> out;
  for (const auto& d : items) out.push_back(d.id.substr(0, d.id.find('/')));
  return out;
}

StatusOr<DispositionInputs> LoadDispositionInputs(storage::Transaction& tx, const Record& r) {
  DispositionInputs in;
  CUSTOS_ASSIGN_OR_RETURN(auto override_rule, StoredRule(tx, kOverrideDocument, r.id.value));
  CUSTOS_ASSIGN_OR_RETURN(in.holds, ActiveHolds(tx, r.id));
  if (override_rule) {
    in.rule = *override_rule;
    in.source = "record";
    return in;
  }
  CUSTOS_ASSIGN_OR_RETURN(in.rule, LoadSchedule(tx, r.type));
  in.source = "schedule";
  return in;
}

StatusOr<DispositionDocuments> DispositionDocuments::Load(storage::Transaction& tx) {
  DispositionDocuments out;
  storage::DocumentQuery q;
  q.kind = kOverrideDocument;
  CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::Document> overrides, ListAllDocuments(tx, q));
  for (storage::Document& d : overrides) {
    std::string id = d.id;
    out.overrides_.emplace(std::move(id), std::move(d));
  }
  q = storage::DocumentQuery();
  q.kind = kHoldItemDocument;
  q.states = {"active"};
  // In id order, as ActiveHolds reads each record's.
  CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::Document> items, ListAllDocuments(tx, q));
  for (const storage::Document& d : items) out.holds_[d.subject].push_back(d.id.substr(0, d.id.find('/')));
  return out;
}

StatusOr<DispositionInputs> DispositionDocuments::For(storage::Transaction& tx, const Record& r) {
  DispositionInputs in;
  auto o = overrides_.find(r.id.value);
  CUSTOS_ASSIGN_OR_RETURN(
      auto override_rule,
      RuleOf(kOverrideDocument, r.id.value,
             o == overrides_.end() ? std::optional<storage::Document>() : std::optional<storage::Document>(o->second)));
  if (auto h = holds_.find(r.id.value); h != holds_.end()) in.holds = h->second;
  if (override_rule) {
    in.rule = *override_rule;
    in.source = "record";
    return in;
  }
  auto s = schedules_.find(r.type);
  if (s == schedules_.end()) {
    CUSTOS_ASSIGN_OR_RETURN(RetentionRule rule, LoadSchedule(tx, r.type));
    s = schedules_.emplace(r.type, rule).first;
  }
  in.rule = s->second;
  in.source = "schedule";
  return in;
}

StatusOr<Disposition> LoadDisposition(storage::Transaction& tx, const Record& r, Time now) {
  CUSTOS_ASSIGN_OR_RETURN(DispositionInputs in, LoadDispositionInputs(tx, r));
  return ComputeDisposition(r, in.rule, in.source, std::move(in.holds), now);
}

Status ReconcileRecordState(storage::Transaction& tx, Record& r, const std::string& actor, Time now) {
  if (r.state == RecordState::kDestroyed) return Status::Ok();
  CUSTOS_ASSIGN_OR_RETURN(DispositionInputs in, LoadDispositionInputs(tx, r));
  return ReconcileRecordState(tx, r, actor, now, in);
}

Status ReconcileRecordState(storage::Transaction& tx, Record& r, const std::string& actor, Time now,
                            const DispositionInputs& in) {
  if (r.state == RecordState::kDestroyed) return Status::Ok();
  Disposition d = ComputeDisposition(r, in.rule, in.source, in.holds, now);
  RecordState want = !d.holds.empty() ? RecordState::kOnHold
                     : d.due          ? RecordState::kDispositionDue
                                      : RecordState::kActive;
  if (want == r.state) return Status::Ok();
  RecordState before = r.state;
  r.state = want;  // updated_at stays: a state change is not activity
  CUSTOS_RETURN_IF_ERROR(tx.records().Update(r));
  storage::LogEvent e;
  e.action = "record.state";
  e.actor = actor;
  e.subject = r.id.value;
  e.at = now;
  CUSTOS_ASSIGN_OR_RETURN(std::string record_hash, storage::RecordDigest(r));
  e.details.Set(storage::kDetailRecordHash, record_hash);
  e.details.Set("from", std::string(domain::Name(before)));
  e.details.Set("to", std::string(domain::Name(want)));
  if (!d.holds.empty()) {
    e.details.Set("holds", d.holds);
  }
  if (d.date) e.details.Set("dispositionDate", *d.date);
  return tx.log().Append(e).status();
}

}  // namespace custos::services
