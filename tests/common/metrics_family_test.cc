// MetricsRegistry::AddCallbackGaugeFamily: one gauge family with a label,
// its series read at each scrape (the content pipeline's files per state).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"

namespace custos {
namespace {

TEST(MetricsFamily, CallbackGaugeFamilyRendersEachSeriesReadAtScrapeTime) {
  MetricsRegistry reg;
  double retry = 1;
  reg.AddCallbackGaugeFamily("x_files", "files by state", "state", [&retry] {
    return std::vector<std::pair<std::string, double>>{{"text", 4}, {"re\"try", retry}};
  });
  std::string text = reg.Render();
  EXPECT_NE(text.find("# HELP x_files files by state\n# TYPE x_files gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_files{state=\"text\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_files{state=\"re\\\"try\"} 1\n"), std::string::npos) << text;
  retry = 0;
  text = reg.Render();
  EXPECT_NE(text.find("x_files{state=\"re\\\"try\"} 0\n"), std::string::npos) << text;
}

TEST(MetricsFamily, AnEmptyFamilyRendersOnlyItsHeader) {
  MetricsRegistry reg;
  reg.AddCallbackGaugeFamily("x_none", "nothing", "state", [] { return std::vector<std::pair<std::string, double>>{}; });
  EXPECT_EQ(reg.Render(), "# HELP x_none nothing\n# TYPE x_none gauge\n");
}

}  // namespace
}  // namespace custos
