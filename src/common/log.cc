#include "common/log.h"

#include <atomic>
#include <cmath>
#include <cstdio>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/enum_names.h"
#include "common/escape.h"
#include "common/strings.h"

namespace aa {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kJson};
// Serializes whole lines on stderr.
ABSL_CONST_INIT absl::Mutex g_write_mu(absl::kConstInit);

constexpr EnumName<LogLevel> kLevelNames[] = {{LogLevel::kDebug, "debug"},
                                              {LogLevel::kInfo, "info"},
                                              {LogLevel::kWarn, "warn"},
                                              {LogLevel::kError, "error"}};

std::string_view LevelName(LogLevel level) { return NameOf(level, kLevelNames, "info"); }

bool NeedsLogfmtQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f)
      return true;
  }
  return false;
}

void AppendLogfmt(std::string* out, std::string_view key, std::string_view value) {
  if (!out->empty()) out->push_back(' ');
  absl::StrAppend(out, ToAbsl(key), "=");
  if (NeedsLogfmtQuotes(value)) {
    absl::StrAppend(out, "\"", JsonEscape(value), "\"");
  } else {
    out->append(value.data(), value.size());
  }
}

void AppendJson(std::string* out, std::string_view key, std::string_view value, bool quoted) {
  absl::StrAppend(out, out->size() > 1 ? "," : "", "\"", JsonEscape(key), "\":");
  if (quoted) {
    absl::StrAppend(out, "\"", JsonEscape(value), "\"");
  } else {
    out->append(value.data(), value.size());
  }
}

}  // namespace

LogField::LogField(std::string_view k, int64_t v) : key(k), value(absl::StrCat(v)), quoted(false) {}
LogField::LogField(std::string_view k, uint64_t v)
    : key(k), value(absl::StrCat(v)), quoted(false) {}
LogField::LogField(std::string_view k, double v) : key(k), quoted(false) {
  // JSON has no NaN or Inf: those become strings.
  if (std::isfinite(v)) {
    value = absl::StrFormat("%.6g", v);
  } else {
    value = absl::StrCat(v);
    quoted = true;
  }
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (const char* e = ShortEscape(c)) {
      out += e;
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

absl::Status SetLogLevel(std::string_view level) {
  if (std::optional<LogLevel> l = ValueOf(level, kLevelNames)) {
    g_level = *l;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid log level \"", ToAbsl(level), "\": want debug, info, warn or error"));
}

absl::Status SetLogFormat(std::string_view format) {
  if (format == "json") {
    g_format = LogFormat::kJson;
  } else if (format == "logfmt") {
    g_format = LogFormat::kLogfmt;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid log format \"", ToAbsl(format), "\": want json or logfmt"));
  }
  return absl::OkStatus();
}

bool LogEnabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

std::string FormatLogRecord(LogFormat format, LogLevel level, std::string_view ts,
                            std::string_view msg, std::initializer_list<LogField> fields) {
  std::string out;
  if (format == LogFormat::kJson) {
    out = "{";
    AppendJson(&out, "ts", ts, true);
    AppendJson(&out, "level", LevelName(level), true);
    AppendJson(&out, "msg", msg, true);
    for (const LogField& f : fields) AppendJson(&out, f.key, f.value, f.quoted);
    out += "}";
  } else {
    AppendLogfmt(&out, "ts", ts);
    AppendLogfmt(&out, "level", LevelName(level));
    AppendLogfmt(&out, "msg", msg);
    for (const LogField& f : fields) AppendLogfmt(&out, f.key, f.value);
  }
  return out;
}

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line = FormatLogRecord(g_format.load(), level, ts, msg, fields);
  line.push_back('\n');
  absl::MutexLock lock(&g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace aa
