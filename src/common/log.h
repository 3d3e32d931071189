#pragma once
// Structured logging: one record a line on stderr, as JSON objects or logfmt, filtered by level.
// Thread-safe; records from different threads never interleave. Never pass secrets (tokens, keys)
// as fields.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace aa {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kJson, kLogfmt };

// One key=value pair of a record. Numbers and booleans stay unquoted in JSON.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, int64_t v);
  LogField(std::string_view k, int v) : LogField(k, static_cast<int64_t>(v)) {}
  LogField(std::string_view k, uint64_t v);
  LogField(std::string_view k, double v);
  LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  LogField(std::string_view k, const absl::Status& s)
      : key(k), value(s.ToString(absl::StatusToStringMode::kWithNoExtraData)), quoted(true) {}

  std::string_view key;
  std::string value;
  bool quoted;
};

// Parses "debug", "info", "warn", "error"; "json" and "logfmt". InvalidArgument otherwise.
absl::Status SetLogLevel(std::string_view level);
absl::Status SetLogFormat(std::string_view format);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
inline void LogDebug(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, msg, f);
}
inline void LogInfo(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, msg, f);
}
inline void LogWarn(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, msg, f);
}
inline void LogError(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, msg, f);
}

// Formats one record without writing it (for tests).
std::string FormatLogRecord(LogFormat format, LogLevel level, std::string_view ts,
                            std::string_view msg, std::initializer_list<LogField> fields);

// Escapes `s` as the inside of a JSON string literal.
std::string JsonEscape(std::string_view s);

}  // namespace aa
