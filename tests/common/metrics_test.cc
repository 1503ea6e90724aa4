#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace custos {
namespace {

TEST(Metrics, CounterHistogramGaugeRenderInPrometheusText) {
  MetricsRegistry reg;
  Counter& c = reg.AddCounter("x_total", "things", {"kind"});
  Histogram& h = reg.AddHistogram("x_seconds", "time", {"route"}, {0.1, 1});
  Gauge& g = reg.AddGauge("x_now", "now");
  reg.AddCallbackGauge("x_cb", "cb", [] { return 7.0; });
  c.Inc({"a\"b"});
  c.Inc({"a\"b"}, 2);
  h.Observe(0.05, {"/r"});
  h.Observe(0.5, {"/r"});
  h.Observe(5, {"/r"});
  g.Add(3);
  g.Add(-1);
  std::string text = reg.Render();
  EXPECT_NE(text.find("# TYPE x_total counter\nx_total{kind=\"a\\\"b\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{route=\"/r\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{route=\"/r\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{route=\"/r\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_count{route=\"/r\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("x_now 2\n"), std::string::npos);
  EXPECT_NE(text.find("x_cb 7\n"), std::string::npos);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry reg;
  Counter& c = reg.AddCounter("n_total", "n");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 40000);
}

}  // namespace
}  // namespace custos
