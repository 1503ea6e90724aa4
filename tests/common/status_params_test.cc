#include <gtest/gtest.h>

#include <string>

#include "common/status.h"

namespace custos {
namespace {

TEST(StatusParams, CarriesStringsAndNumbersInOrderAndReplacesByName) {
  Status s = Unprocessable("a loan may last at most 90 days", "invalid_due_date")
                 .WithParam("rule", "max_days")
                 .WithParam("maxDays", 90)
                 .WithParam("field", std::string("dueAt"))
                 .WithParam("maxDays", uint64_t{30});
  ASSERT_EQ(s.params().size(), 3u);
  EXPECT_EQ(s.params()[0].name, "rule");
  EXPECT_EQ(std::get<std::string>(s.params()[0].value), "max_days");
  ASSERT_NE(s.param("maxDays"), nullptr);
  EXPECT_EQ(std::get<int64_t>(s.param("maxDays")->value), 30);
  EXPECT_EQ(std::get<std::string>(s.param("field")->value), "dueAt");
  EXPECT_EQ(s.param("absent"), nullptr);
  // The rest of the status is as before.
  EXPECT_EQ(s.reason(), "invalid_due_date");
  EXPECT_EQ(s.ToString(), "invalid_due_date: a loan may last at most 90 days");
}

TEST(StatusParams, WithContextKeepsParamsAndOkDropsThem) {
  Status s = InvalidArgument("bad", "invalid_field").WithParam("field", "amount").WithContext("loan");
  EXPECT_EQ(s.message(), "loan: bad");
  ASSERT_NE(s.param("field"), nullptr);
  EXPECT_EQ(std::get<std::string>(s.param("field")->value), "amount");
  EXPECT_TRUE(Status::Ok().WithParam("field", "x").params().empty());
  EXPECT_TRUE(Status::Ok().WithParam("field", "x").ok());
  // A StatusOr keeps them too.
  StatusOr<int> failed = Status(s);
  EXPECT_EQ(failed.status().params().size(), 1u);
}

}  // namespace
}  // namespace custos
