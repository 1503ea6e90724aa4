#include "domain/event_details.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace custos::domain {
namespace {

TEST(EventDetails, SetReplacesInPlaceAndKeepsFirstOrder) {
  EventDetails d;
  d.Set("loan", "LN-2026-000001").Set("state", "requested").Set("loan", "LN-2026-000002");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.members()[0].first, "loan");
  EXPECT_EQ(d.members()[1].first, "state");
  EXPECT_EQ(d.String("loan"), "LN-2026-000002");
}

TEST(EventDetails, GettersAnswerOnlyForTheirKind) {
  EventDetails d;
  d.Set("name", "会议纪要.pdf").Set("size", uint64_t{3}).Set("clean", true).Set("none", nullptr);
  EXPECT_EQ(d.String("name"), "会议纪要.pdf");
  EXPECT_EQ(d.Int("size"), 3);
  EXPECT_EQ(d.Bool("clean"), true);
  EXPECT_EQ(d.String("size"), std::nullopt);
  EXPECT_EQ(d.Int("name"), std::nullopt);
  EXPECT_EQ(d.Bool("missing"), std::nullopt);
  EXPECT_TRUE(d.Has("none"));
  EXPECT_TRUE(d.Find("none")->IsNull());
  EXPECT_FALSE(d.Has("missing"));
  EXPECT_EQ(d.Array("name"), nullptr);
  EXPECT_EQ(d.Object("name"), nullptr);
}

TEST(EventDetails, ListsAndNestedObjectsAreValues) {
  EventDetails rule;
  rule.Set("trigger", "created").Set("period", "P10Y");
  EventDetails d;
  d.Set("recordIds", std::vector<std::string>{"CT-2026-000001", "合同-2"}).Set("to", rule);
  rule.Set("period", "P1Y");  // the copy in `d` stays as it was
  ASSERT_NE(d.Object("to"), nullptr);
  EXPECT_EQ(d.Object("to")->String("period"), "P10Y");
  const DetailValue::Array* ids = d.Array("recordIds");
  ASSERT_NE(ids, nullptr);
  ASSERT_EQ(ids->size(), 2u);
  ASSERT_NE((*ids)[1].AsString(), nullptr);
  EXPECT_EQ(*(*ids)[1].AsString(), "合同-2");
}

TEST(EventDetails, EqualityIgnoresMemberOrderButNotValues) {
  EventDetails a, b;
  a.Set("x", 1).Set("y", EventDetails().Set("z", "归档"));
  b.Set("y", EventDetails().Set("z", "归档")).Set("x", 1);
  EXPECT_EQ(a, b);
  b.Set("x", true);
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(DetailValue(1) == DetailValue(true));
  EXPECT_FALSE(DetailValue() == DetailValue(""));
}

TEST(EventDetails, UnsignedBeyondInt64IsKeptAtTheLargestInteger) {
  EXPECT_EQ(DetailValue(UINT64_MAX).AsInt(), INT64_MAX);
  EXPECT_EQ(DetailValue(uint64_t{42}).AsInt(), 42);
  EXPECT_EQ(DetailValue(int64_t{-7}).AsInt(), -7);
}

}  // namespace
}  // namespace custos::domain
