#pragma once
// Helpers for writing user-controlled text into PromQL safely. Pure functions, thread-safe.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace aa::selector {

// Escapes `s` for the inside of a double-quoted PromQL string literal (PromQL follows Go's escaping
// rules): backslash -> \\, double quote -> \", newline -> \n, carriage return -> \r, tab -> \t,
// every other control byte (< 0x20, 0x7f) and every byte that is not part of valid UTF-8 -> \xNN.
// U+FFFD -> \uFFFD (Prometheus' lexer takes a literal U+FFFD for a decoding error). Other valid
// multi-byte UTF-8 passes through unchanged. The surrounding quotes are NOT added (see
// PromQLStringLiteral). The PromQL parser turns the result back into exactly `s`.
std::string EscapePromQLString(std::string_view s);

// `"` + EscapePromQLString(s) + `"`: a complete PromQL string literal whose value is `s`.
std::string PromQLStringLiteral(std::string_view s);

// The inverse of PromQLStringLiteral, accepting what Prometheus 2.x's lexer accepts in a
// double-quoted string: Go escapes \a \b \f \n \r \t \v \\ \" \NNN (octal) \xNN \uNNNN \UNNNNNNNN.
// `literal` must include the quotes. Errors (InvalidArgument): missing quotes, an unescaped quote,
// newline, invalid UTF-8 or U+FFFD inside, an unknown or truncated escape, an out-of-range code
// point. Used by tests and the fuzzer to prove the escaping round-trips.
absl::StatusOr<std::string> UnquotePromQLString(std::string_view literal);

// Quotes RE2 (Go regexp) metacharacters `\.+*?()|[]{}^$` with a backslash, so that the result, used
// as a regular expression, matches exactly the literal text `s` and nothing else (Prometheus
// anchors =~ and !~ matchers at both ends). The result still has to go through EscapePromQLString
// before it is put in quotes.
std::string QuoteRegex(std::string_view s);

// True when `name` is a valid Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidPrometheusLabelName(std::string_view name);

}  // namespace aa::selector
