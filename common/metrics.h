// A small Prometheus metrics registry (text exposition format 0.0.4).
//
// Families are created once at start-up (by main or by the component that
// owns them) and then updated from any thread. Label values must come from
// a bounded set (route names, status codes), never from user input.
//
// Thread safety: all methods are safe to call concurrently; each family
// guards its series with its own mutex. Registered families must outlive
// the registry's use (the registry owns them).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace custos {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> labels);
  void Inc(const LabelValues& values = {}, double by = 1.0);
  double Value(const LabelValues& values = {}) const;
  void Render(std::string& out) const;

 private:
  const std::string name_, help_;
  const std::vector<std::string> labels_;
  mutable std::mutex mu_;
  std::map<LabelValues, double> series_;  // GUARDED_BY(mu_)
};

class Gauge {
 public:
  Gauge(std::string name, std::string help);
  void Add(double d);
  void Set(double v);
  double Value() const;
  void Render(std::string& out) const;

 private:
  const std::string name_, help_;
  mutable std::mutex mu_;
  double value_ = 0;  // GUARDED_BY(mu_)
};

// A gauge whose value is read from a callback at scrape time.
class CallbackGauge {
 public:
  CallbackGauge(std::string name, std::string help, std::function<double()> read);
  void Render(std::string& out) const;

 private:
  const std::string name_, help_;
  const std::function<double()> read_;
};

class Histogram {
 public:
  // `bounds` are the upper bounds of the buckets, ascending (+Inf is added).
  Histogram(std::string name, std::string help, std::vector<std::string> labels,
            std::vector<double> bounds);
  void Observe(double v, const LabelValues& values = {});
  uint64_t Count(const LabelValues& values = {}) const;
  void Render(std::string& out) const;

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // cumulative on render, per-bucket here
    uint64_t count = 0;
    double sum = 0;
  };
  const std::string name_, help_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;  // GUARDED_BY(mu_)
};

class MetricsRegistry {
 public:
  Counter& AddCounter(std::string name, std::string help, std::vector<std::string> labels = {});
  Gauge& AddGauge(std::string name, std::string help);
  void AddCallbackGauge(std::string name, std::string help, std::function<double()> read);
  // A gauge family with one label, its series read from a callback at
  // scrape time (label value → value, in the order returned).
  void AddCallbackGaugeFamily(std::string name, std::string help, std::string label,
                              std::function<std::vector<std::pair<std::string, double>>()> read);
  Histogram& AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                          std::vector<double> bounds);

  // The whole exposition text, families in registration order.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::function<void(std::string&)>> renderers_;  // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<void>> owned_;                  // GUARDED_BY(mu_)
};

}  // namespace custos
