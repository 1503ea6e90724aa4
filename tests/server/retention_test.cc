// The rules of server/services/retention.h that need no service around
// them: ISO 8601 periods and their canonical text, calendar arithmetic,
// which rule changes lengthen retention, the disposition of a record under
// each trigger, and the default schedule of a fresh archive.
#include "server/services/retention.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace custos::services {
namespace {

using domain::Record;
using domain::RecordState;
using domain::RecordType;
using domain::Time;

IsoPeriod Period(const std::string& text) {
  auto p = ParseIsoPeriod(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().ToString();
  return p.ok() ? *p : IsoPeriod{};
}

RetentionRule Rule(RetentionTrigger trigger, const std::string& period, RetentionAction action) {
  return RetentionRule{trigger, Period(period), action};
}

Time At(const std::string& rfc3339) {
  auto t = domain::ParseTime(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? *t : Time{};
}

Record MakeRecord(RecordType type, const std::string& metadata_json, const std::string& created,
                  const std::string& updated) {
  Record r;
  r.id = domain::RecordId{"GN-2026-000001"};
  r.type = type;
  r.title = "A record";
  r.department = "sales";
  r.metadata_json = metadata_json;
  r.created_at = At(created);
  r.updated_at = At(updated);
  return r;
}

// ------------------------------------------------------------ ISO periods

TEST(IsoPeriodTest, AcceptsDayPeriodsAndCanonicalisesThem) {
  struct Case {
    std::string text;
    int months;
    int days;
    std::string canonical;
  };
  const std::vector<Case> cases = {
      {"P10Y", 120, 0, "P10Y"}, {"P6M", 6, 0, "P6M"},
      {"P2W", 0, 14, "P14D"},   {"P1Y6M", 18, 0, "P1Y6M"},
      {"P0D", 0, 0, "P0D"},     {"P18M", 18, 0, "P1Y6M"},
      {"P30D", 0, 30, "P30D"},  {"P1Y2M3W4D", 14, 25, "P1Y2M25D"},
      {"P12M", 12, 0, "P1Y"},   {"P0Y", 0, 0, "P0D"},
      {"P1Y0D", 12, 0, "P1Y"},
  };
  for (const Case& c : cases) {
    auto p = ParseIsoPeriod(c.text);
    ASSERT_TRUE(p.ok()) << c.text << ": " << p.status().ToString();
    EXPECT_EQ(p->months, c.months) << c.text;
    EXPECT_EQ(p->days, c.days) << c.text;
    EXPECT_EQ(p->text, c.canonical) << c.text;
    // The canonical text parses back to the same period.
    auto again = ParseIsoPeriod(p->text);
    ASSERT_TRUE(again.ok()) << p->text;
    EXPECT_EQ(again->months, c.months) << p->text;
    EXPECT_EQ(again->days, c.days) << p->text;
    EXPECT_EQ(again->text, c.canonical) << p->text;
  }
}

TEST(IsoPeriodTest, RejectsWhatIsNotAPeriodOfDays) {
  const std::vector<std::string> bad = {
      "",     "P",    "10Y",   "PT1H",      "P1DT1H", "P1Y1Y",    "P1D1Y",   "P1M1Y",  "P1W1M",
      "P-1D", "P+1D", "P1.5Y", "p1y",       "P1y",    "P1",       "PY",      "P1Yx",   " P1Y",
      "P1Y ", "P1H",  "P1S",   "P9999999Y", "P1001Y", "P366001D", "P99999W", "P10Y\n",
  };
  for (const std::string& text : bad) {
    auto p = ParseIsoPeriod(text);
    EXPECT_FALSE(p.ok()) << "'" << text << "' was accepted as " << (p.ok() ? p->text : "");
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), ErrorCode::kUnprocessable) << text;
      EXPECT_EQ(p.status().reason(), "invalid_period") << text;
    }
  }
}

TEST(IsoPeriodTest, TriggerAndActionNamesRoundTrip) {
  for (RetentionTrigger t : {RetentionTrigger::kCreated, RetentionTrigger::kContractEnd,
                             RetentionTrigger::kValidUntil, RetentionTrigger::kLastActivity}) {
    auto parsed = ParseRetentionTrigger(Name(t));
    ASSERT_TRUE(parsed.ok()) << Name(t);
    EXPECT_EQ(*parsed, t);
  }
  for (RetentionAction a :
       {RetentionAction::kDestroy, RetentionAction::kReview, RetentionAction::kPermanent}) {
    auto parsed = ParseRetentionAction(Name(a));
    ASSERT_TRUE(parsed.ok()) << Name(a);
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_EQ(ParseRetentionTrigger("signed").status().reason(), "invalid_trigger");
  EXPECT_EQ(ParseRetentionAction("archive").status().reason(), "invalid_action");
}

// ------------------------------------------------------------ AddPeriod

TEST(AddPeriodTest, CalendarArithmeticClampsToTheEndOfTheMonth) {
  struct Case {
    std::string date;
    std::string period;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"2026-01-31", "P1M", "2026-02-28"},  // short month
      {"2024-01-31", "P1M", "2024-02-29"},  // leap year
      {"2024-02-29", "P1Y", "2025-02-28"},  // leap day, next year has none
      {"2024-02-29", "P4Y", "2028-02-29"},  // leap day to leap day
      {"2026-03-31", "P1M", "2026-04-30"},
      {"2026-05-15", "P0D", "2026-05-15"},   // identity
      {"2026-12-25", "P10D", "2027-01-04"},  // year wrap with days
      {"2026-12-31", "P1D", "2027-01-01"},
      {"2026-11-30", "P3M", "2027-02-28"},    // year wrap with months
      {"2026-01-31", "P1M1D", "2026-03-01"},  // months first, then days
      {"2026-03-02", "P10Y", "2036-03-02"},
      {"2026-03-02", "P2W", "2026-03-16"},
      {"2026-02-28", "P1D", "2026-03-01"},
      {"2028-02-28", "P1D", "2028-02-29"},
      {"1999-12-31", "P18M", "2001-06-30"},
  };
  for (const Case& c : cases) {
    auto got = AddPeriod(c.date, Period(c.period));
    ASSERT_TRUE(got.has_value()) << c.date << " + " << c.period;
    EXPECT_EQ(*got, c.expected) << c.date << " + " << c.period;
  }
}

TEST(AddPeriodTest, MalformedDatesHaveNoResult) {
  for (const char* date : {"", "2026-1-01", "2026-02-30", "2026-13-01", "2026-00-10", "2026-01-00",
                           "26-01-01", "2026/01/01", "2026-01-01T00:00:00Z", "abcd-ef-gh"}) {
    EXPECT_FALSE(AddPeriod(date, Period("P1D")).has_value()) << "'" << date << "'";
  }
  // Beyond the four-digit years a date can be written in.
  EXPECT_FALSE(AddPeriod("9999-12-31", Period("P1D")).has_value());
}

TEST(AddPeriodTest, DayOfIsTheUtcDay) {
  EXPECT_EQ(DayOf(At("2026-03-02T23:59:59.999Z")), "2026-03-02");
  EXPECT_EQ(DayOf(At("2026-03-03T00:00:00Z")), "2026-03-03");
  // An instant given with an offset is still counted in UTC.
  EXPECT_EQ(DayOf(At("2026-03-03T07:00:00+08:00")), "2026-03-02");
}

// ------------------------------------------------------------ IsLengthening

TEST(IsLengtheningTest, Table) {
  using T = RetentionTrigger;
  using A = RetentionAction;
  struct Case {
    RetentionRule from;
    RetentionRule to;
    bool lengthens;
    const char* what;
  };
  const std::vector<Case> cases = {
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kCreated, "P12Y", A::kDestroy), true,
       "same trigger, longer"},
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kCreated, "P10Y", A::kDestroy), true,
       "unchanged"},
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kCreated, "P10Y30D", A::kDestroy), true,
       "a few days more"},
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kCreated, "P9Y11M", A::kDestroy), false,
       "fewer months"},
      {Rule(T::kCreated, "P1Y30D", A::kDestroy), Rule(T::kCreated, "P1Y29D", A::kDestroy), false,
       "fewer days"},
      // Months and days are compared separately: 13 months and no days
      // does not cover 1 year and 60 days on every calendar.
      {Rule(T::kCreated, "P1Y60D", A::kDestroy), Rule(T::kCreated, "P1Y1M", A::kDestroy), false,
       "more months, fewer days"},
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kLastActivity, "P20Y", A::kDestroy), false,
       "trigger change"},
      {Rule(T::kContractEnd, "P10Y", A::kDestroy), Rule(T::kCreated, "P50Y", A::kDestroy), false,
       "trigger change, however long"},
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kCreated, "P0D", A::kPermanent), true,
       "to permanent"},
      {Rule(T::kContractEnd, "P10Y", A::kDestroy), Rule(T::kCreated, "P0D", A::kPermanent), true,
       "to permanent, other trigger"},
      {Rule(T::kCreated, "P0D", A::kPermanent), Rule(T::kCreated, "P100Y", A::kDestroy), false,
       "from permanent to destroy"},
      {Rule(T::kCreated, "P0D", A::kPermanent), Rule(T::kCreated, "P100Y", A::kReview), false,
       "from permanent to review"},
      {Rule(T::kCreated, "P0D", A::kPermanent), Rule(T::kCreated, "P0D", A::kPermanent), true,
       "permanent stays permanent"},
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kCreated, "P10Y", A::kReview), true,
       "destroy to review"},
      {Rule(T::kCreated, "P10Y", A::kReview), Rule(T::kCreated, "P10Y", A::kDestroy), false,
       "review to destroy"},
      {Rule(T::kCreated, "P10Y", A::kReview), Rule(T::kCreated, "P20Y", A::kDestroy), false,
       "review to destroy, even later"},
      {Rule(T::kCreated, "P10Y", A::kDestroy), Rule(T::kCreated, "P5Y", A::kReview), false,
       "review but sooner"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsLengthening(c.from, c.to), c.lengthens) << c.what;
  }
}

// ------------------------------------------------------------ ComputeDisposition

TEST(ComputeDispositionTest, ContractEndTrigger) {
  const std::string metadata = R"({"contractNumber":"HT-1","counterparty":"ACME",)"
                               R"("endDate":"2026-06-30","signedDate":"2026-01-05"})";
  Record r =
      MakeRecord(RecordType::kContract, metadata, "2026-01-10T08:00:00Z", "2026-02-01T08:00:00Z");
  RetentionRule rule = Rule(RetentionTrigger::kContractEnd, "P10Y", RetentionAction::kDestroy);
  Disposition before = ComputeDisposition(r, rule, "schedule", {}, At("2036-06-29T23:59:59Z"));
  EXPECT_EQ(before.source, "schedule");
  EXPECT_EQ(before.rule.period.text, "P10Y");
  ASSERT_TRUE(before.trigger_date.has_value());
  EXPECT_EQ(*before.trigger_date, "2026-06-30");
  ASSERT_TRUE(before.date.has_value());
  EXPECT_EQ(*before.date, "2036-06-30");
  EXPECT_FALSE(before.due);
  // Due from the first instant of the disposition day.
  Disposition on = ComputeDisposition(r, rule, "schedule", {}, At("2036-06-30T00:00:00Z"));
  EXPECT_TRUE(on.due);
  EXPECT_TRUE(on.holds.empty());
  EXPECT_TRUE(ComputeDisposition(r, rule, "schedule", {}, At("2040-01-01T00:00:00Z")).due);
}

TEST(ComputeDispositionTest, ValidUntilTrigger) {
  Record r = MakeRecord(RecordType::kQualification,
                        R"({"certificateNumber":"Q-7","issuer":"CNAS","validUntil":"2027-03-31"})",
                        "2026-01-10T08:00:00Z", "2026-01-10T08:00:00Z");
  RetentionRule rule = Rule(RetentionTrigger::kValidUntil, "P5Y", RetentionAction::kDestroy);
  Disposition d = ComputeDisposition(r, rule, "record", {}, At("2032-03-30T12:00:00Z"));
  EXPECT_EQ(d.source, "record");
  ASSERT_TRUE(d.trigger_date.has_value());
  EXPECT_EQ(*d.trigger_date, "2027-03-31");
  ASSERT_TRUE(d.date.has_value());
  EXPECT_EQ(*d.date, "2032-03-31");
  EXPECT_FALSE(d.due);
  EXPECT_TRUE(ComputeDisposition(r, rule, "record", {}, At("2032-03-31T00:00:00Z")).due);
}

TEST(ComputeDispositionTest, CreatedTriggerUsesTheUtcDayOfCheckIn) {
  Record r = MakeRecord(RecordType::kGeneral, "{}", "2026-03-02T23:30:00Z", "2027-05-05T10:00:00Z");
  RetentionRule rule = Rule(RetentionTrigger::kCreated, "P10Y", RetentionAction::kDestroy);
  Disposition d = ComputeDisposition(r, rule, "schedule", {}, At("2036-03-01T23:59:59Z"));
  ASSERT_TRUE(d.trigger_date.has_value());
  EXPECT_EQ(*d.trigger_date, "2026-03-02");
  ASSERT_TRUE(d.date.has_value());
  EXPECT_EQ(*d.date, "2036-03-02");
  EXPECT_FALSE(d.due);
  EXPECT_TRUE(ComputeDisposition(r, rule, "schedule", {}, At("2036-03-02T00:00:00Z")).due);
}

TEST(ComputeDispositionTest, LastActivityTriggerUsesTheDayOfTheLastChange) {
  Record r = MakeRecord(RecordType::kCustomerFile, R"({"customerId":"C-1","customerName":"ACME"})",
                        "2026-03-02T09:00:00Z", "2028-07-15T18:00:00Z");
  RetentionRule rule = Rule(RetentionTrigger::kLastActivity, "P5Y", RetentionAction::kDestroy);
  Disposition d = ComputeDisposition(r, rule, "schedule", {}, At("2033-07-14T00:00:00Z"));
  ASSERT_TRUE(d.trigger_date.has_value());
  EXPECT_EQ(*d.trigger_date, "2028-07-15");
  ASSERT_TRUE(d.date.has_value());
  EXPECT_EQ(*d.date, "2033-07-15");
  EXPECT_FALSE(d.due);
  EXPECT_TRUE(ComputeDisposition(r, rule, "schedule", {}, At("2033-07-15T00:00:00Z")).due);
}

TEST(ComputeDispositionTest, MissingTriggerDateMeansNoDateAndNotDue) {
  // A contract without an end date, and one whose metadata is not even an object.
  for (const std::string& metadata :
       {std::string(R"({"contractNumber":"HT-2","counterparty":"ACME","signedDate":"2026-01-05"})"),
        std::string("{}"), std::string("[]")}) {
    Record r =
        MakeRecord(RecordType::kContract, metadata, "2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z");
    Disposition d = ComputeDisposition(
        r, Rule(RetentionTrigger::kContractEnd, "P0D", RetentionAction::kDestroy), "schedule", {},
        At("2099-01-01T00:00:00Z"));
    EXPECT_FALSE(d.trigger_date.has_value()) << metadata;
    EXPECT_FALSE(d.date.has_value()) << metadata;
    EXPECT_FALSE(d.due) << metadata;
  }
  Record q = MakeRecord(RecordType::kQualification, R"({"issuer":"CNAS"})", "2000-01-01T00:00:00Z",
                        "2000-01-01T00:00:00Z");
  Disposition d =
      ComputeDisposition(q, Rule(RetentionTrigger::kValidUntil, "P0D", RetentionAction::kDestroy),
                         "schedule", {}, At("2099-01-01T00:00:00Z"));
  EXPECT_FALSE(d.date.has_value());
  EXPECT_FALSE(d.due);
}

TEST(ComputeDispositionTest, PermanentIsNeverDue) {
  Record r =
      MakeRecord(RecordType::kProductDossier, "{}", "1990-01-01T00:00:00Z", "1990-01-01T00:00:00Z");
  Disposition d =
      ComputeDisposition(r, Rule(RetentionTrigger::kCreated, "P0D", RetentionAction::kPermanent),
                         "schedule", {}, At("2099-01-01T00:00:00Z"));
  EXPECT_FALSE(d.due);
  EXPECT_FALSE(d.date.has_value());
  ASSERT_TRUE(d.trigger_date.has_value());
  EXPECT_EQ(*d.trigger_date, "1990-01-01");
}

TEST(ComputeDispositionTest, ReviewIsDueLikeDestroy) {
  Record r = MakeRecord(RecordType::kGeneral, "{}", "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z");
  Disposition d =
      ComputeDisposition(r, Rule(RetentionTrigger::kCreated, "P1Y", RetentionAction::kReview),
                         "record", {}, At("2027-03-02T00:00:00Z"));
  ASSERT_TRUE(d.date.has_value());
  EXPECT_EQ(*d.date, "2027-03-02");
  EXPECT_TRUE(d.due);
}

TEST(ComputeDispositionTest, HoldBlocksDue) {
  Record r = MakeRecord(RecordType::kGeneral, "{}", "2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z");
  RetentionRule rule = Rule(RetentionTrigger::kCreated, "P1Y", RetentionAction::kDestroy);
  Disposition d = ComputeDisposition(r, rule, "schedule", {"LH-2026-000001", "LH-2026-000002"},
                                     At("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(d.date.has_value());
  EXPECT_EQ(*d.date, "2001-01-01");  // the date is still known
  EXPECT_FALSE(d.due);
  EXPECT_EQ(d.holds, (std::vector<std::string>{"LH-2026-000001", "LH-2026-000002"}));
}

TEST(ComputeDispositionTest, DestroyedRecordIsNotDue) {
  Record r = MakeRecord(RecordType::kGeneral, "{}", "2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z");
  r.state = RecordState::kDestroyed;
  Disposition d =
      ComputeDisposition(r, Rule(RetentionTrigger::kCreated, "P1Y", RetentionAction::kDestroy),
                         "schedule", {}, At("2026-01-01T00:00:00Z"));
  EXPECT_FALSE(d.due);
}

// ------------------------------------------------------------ defaults

TEST(DefaultRuleTest, AsDocumented) {
  struct Case {
    RecordType type;
    RetentionTrigger trigger;
    std::string period;
    RetentionAction action;
  };
  const std::vector<Case> cases = {
      {RecordType::kContract, RetentionTrigger::kContractEnd, "P10Y", RetentionAction::kDestroy},
      {RecordType::kQualification, RetentionTrigger::kValidUntil, "P5Y", RetentionAction::kDestroy},
      {RecordType::kCustomerFile, RetentionTrigger::kLastActivity, "P5Y",
       RetentionAction::kDestroy},
      {RecordType::kProductDossier, RetentionTrigger::kCreated, "P0D", RetentionAction::kPermanent},
      {RecordType::kGeneral, RetentionTrigger::kCreated, "P10Y", RetentionAction::kDestroy},
  };
  for (const Case& c : cases) {
    RetentionRule r = DefaultRule(c.type);
    EXPECT_EQ(r.trigger, c.trigger) << domain::Name(c.type);
    EXPECT_EQ(r.period.text, c.period) << domain::Name(c.type);
    EXPECT_EQ(r.action, c.action) << domain::Name(c.type);
    IsoPeriod expected = Period(c.period);
    EXPECT_EQ(r.period.months, expected.months) << domain::Name(c.type);
    EXPECT_EQ(r.period.days, expected.days) << domain::Name(c.type);
  }
}

// ------------------------------------------------------------ JSON form

TEST(RuleJsonTest, RoundTripsAndNamesTheBadField) {
  RetentionRule rule = Rule(RetentionTrigger::kValidUntil, "P18M", RetentionAction::kReview);
  Poco::JSON::Object::Ptr o = RuleJson(rule);
  EXPECT_EQ(o->getValue<std::string>("trigger"), "valid_until");
  EXPECT_EQ(o->getValue<std::string>("period"), "P1Y6M");
  EXPECT_EQ(o->getValue<std::string>("action"), "review");
  auto back = RuleFromJson(o);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->trigger, rule.trigger);
  EXPECT_EQ(back->period.months, 18);
  EXPECT_EQ(back->action, rule.action);

  o->set("period", "P1H");
  EXPECT_EQ(RuleFromJson(o).status().reason(), "invalid_period");
  o->set("period", "P1Y");
  o->remove("action");
  EXPECT_EQ(RuleFromJson(o).status().reason(), "invalid_action");
  o->set("action", "destroy");
  o->remove("trigger");
  EXPECT_EQ(RuleFromJson(o).status().reason(), "invalid_trigger");
}

}  // namespace
}  // namespace custos::services
