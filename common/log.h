// Structured logging: one JSON object per line, written atomically to a file
// descriptor (stderr by default). Objects receive a Logger& from main; there
// is no global logger.
//
// Never pass secrets (passwords, tokens, keys, document content) as fields.
//
// Thread safety: Log() may be called from any thread; each line is written
// with a single write(2) under a mutex, so lines never interleave.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace custos {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error"; anything else yields kInfo.
LogLevel ParseLogLevel(std::string_view name);

struct LogField {
  using Value = std::variant<std::string, int64_t, double, bool>;
  LogField(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  LogField(std::string k, const char* v) : key(std::move(k)), value(std::string(v)) {}
  LogField(std::string k, std::string_view v) : key(std::move(k)), value(std::string(v)) {}
  LogField(std::string k, int64_t v) : key(std::move(k)), value(v) {}
  LogField(std::string k, int v) : key(std::move(k)), value(int64_t{v}) {}
  LogField(std::string k, uint64_t v) : key(std::move(k)), value(static_cast<int64_t>(v)) {}
  LogField(std::string k, double v) : key(std::move(k)), value(v) {}
  LogField(std::string k, bool v) : key(std::move(k)), value(v) {}
  std::string key;
  Value value;
};

class Logger {
 public:
  // Writes to `fd` (not owned; must stay open while the Logger lives).
  explicit Logger(int fd = 2, LogLevel min_level = LogLevel::kInfo)
      : fd_(fd), min_level_(min_level) {}

  // {"ts":"2026-11-25T20:00:00.123Z","level":"info","msg":msg, fields…}
  void Log(LogLevel level, std::string_view msg, const std::vector<LogField>& fields = {});
  void Info(std::string_view msg, const std::vector<LogField>& f = {}) { Log(LogLevel::kInfo, msg, f); }
  void Warn(std::string_view msg, const std::vector<LogField>& f = {}) { Log(LogLevel::kWarn, msg, f); }
  void Error(std::string_view msg, const std::vector<LogField>& f = {}) { Log(LogLevel::kError, msg, f); }

 private:
  const int fd_;
  const LogLevel min_level_;
  std::mutex mu_;  // serialises write(2) calls
};

// Appends `s` to `out` as a JSON string literal (quotes included).
void AppendJsonString(std::string& out, std::string_view s);

// Current UTC time as RFC 3339 with milliseconds, e.g. "2026-11-25T20:00:00.123Z".
std::string NowRfc3339();

}  // namespace custos
