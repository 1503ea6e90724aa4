#include "common/metrics.h"

#include <cmath>
#include <cstdio>

namespace custos {

namespace {

std::string FormatNumber(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string LabelText(const std::vector<std::string>& names, const LabelValues& values,
                      const std::string& extra = {}) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + EscapeLabel(values[i]) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

void Header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Counter::Counter(std::string name, std::string help, std::vector<std::string> labels)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}

void Counter::Inc(const LabelValues& values, double by) {
  std::lock_guard<std::mutex> lock(mu_);
  series_[values] += by;
}

double Counter::Value(const LabelValues& values) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second;
}

void Counter::Render(std::string& out) const {
  Header(out, name_, help_, "counter");
  std::lock_guard<std::mutex> lock(mu_);
  if (series_.empty() && labels_.empty()) out += name_ + " 0\n";
  for (const auto& [values, v] : series_) {
    out += name_ + LabelText(labels_, values) + " " + FormatNumber(v) + "\n";
  }
}

Gauge::Gauge(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
void Gauge::Add(double d) {
  std::lock_guard<std::mutex> lock(mu_);
  value_ += d;
}
void Gauge::Set(double v) {
  std::lock_guard<std::mutex> lock(mu_);
  value_ = v;
}
double Gauge::Value() const {
  std::lock_guard<std::mutex> lock(mu_);
  return value_;
}
void Gauge::Render(std::string& out) const {
  Header(out, name_, help_, "gauge");
  out += name_ + " " + FormatNumber(Value()) + "\n";
}

CallbackGauge::CallbackGauge(std::string name, std::string help, std::function<double()> read)
    : name_(std::move(name)), help_(std::move(help)), read_(std::move(read)) {}
void CallbackGauge::Render(std::string& out) const {
  Header(out, name_, help_, "gauge");
  out += name_ + " " + FormatNumber(read_()) + "\n";
}

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> labels,
                     std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)),
      bounds_(std::move(bounds)) {}

void Histogram::Observe(double v, const LabelValues& values) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = series_[values];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size() + 1, 0);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++s.buckets[i];
  ++s.count;
  s.sum += v;
}

uint64_t Histogram::Count(const LabelValues& values) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  return it == series_.end() ? 0 : it->second.count;
}

void Histogram::Render(std::string& out) const {
  Header(out, name_, help_, "histogram");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, s] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      std::string le = "le=\"" + (i < bounds_.size() ? FormatNumber(bounds_[i]) : "+Inf") + "\"";
      out += name_ + "_bucket" + LabelText(labels_, values, le) + " " + std::to_string(cumulative) + "\n";
    }
    out += name_ + "_sum" + LabelText(labels_, values) + " " + FormatNumber(s.sum) + "\n";
    out += name_ + "_count" + LabelText(labels_, values) + " " + std::to_string(s.count) + "\n";
  }
}

Counter& MetricsRegistry::AddCounter(std::string name, std::string help,
                                     std::vector<std::string> labels) {
  auto c = std::make_shared<Counter>(std::move(name), std::move(help), std::move(labels));
  std::lock_guard<std::mutex> lock(mu_);
  owned_.push_back(c);
  renderers_.push_back([p = c.get()](std::string& out) { p->Render(out); });
  return *c;
}

Gauge& MetricsRegistry::AddGauge(std::string name, std::string help) {
  auto g = std::make_shared<Gauge>(std::move(name), std::move(help));
  std::lock_guard<std::mutex> lock(mu_);
  owned_.push_back(g);
  renderers_.push_back([p = g.get()](std::string& out) { p->Render(out); });
  return *g;
}

void MetricsRegistry::AddCallbackGauge(std::string name, std::string help,
                                       std::function<double()> read) {
  auto g = std::make_shared<CallbackGauge>(std::move(name), std::move(help), std::move(read));
  std::lock_guard<std::mutex> lock(mu_);
  owned_.push_back(g);
  renderers_.push_back([p = g.get()](std::string& out) { p->Render(out); });
}

void MetricsRegistry::AddCallbackGaugeFamily(
    std::string name, std::string help, std::string label,
    std::function<std::vector<std::pair<std::string, double>>()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  renderers_.push_back([name = std::move(name), help = std::move(help), label = std::move(label),
                        read = std::move(read)](std::string& out) {
    Header(out, name, help, "gauge");
    for (const auto& [value, v] : read()) {
      out += name + LabelText({label}, {value}) + " " + FormatNumber(v) + "\n";
    }
  });
}

Histogram& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                         std::vector<std::string> labels,
                                         std::vector<double> bounds) {
  auto h = std::make_shared<Histogram>(std::move(name), std::move(help), std::move(labels),
                                       std::move(bounds));
  std::lock_guard<std::mutex> lock(mu_);
  owned_.push_back(h);
  renderers_.push_back([p = h.get()](std::string& out) { p->Render(out); });
  return *h;
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& r : renderers_) r(out);
  return out;
}

}  // namespace custos
