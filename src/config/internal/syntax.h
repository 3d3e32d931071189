#pragma once
// Lexical checks shared by the config loader and its tests: names, templates, URLs, PromQL
// durations. Pure functions; thread-safe.

#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace aa::config::internal {

// A served metric name: [a-zA-Z_:][a-zA-Z0-9_:.-]*, 1 to 253 characters.
bool IsServedMetricName(std::string_view s);
// A Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsPromMetricName(std::string_view s);
// A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsPromLabelName(std::string_view s);
// A Kubernetes namespace name (DNS-1123 label): [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63
// characters.
bool IsNamespaceName(std::string_view s);
// An HTTP header field name (RFC 9110 token).
bool IsHttpToken(std::string_view s);

// Returns "" when `matcher` is one PromQL label matcher, `<label><op>"<value>"` with op one of = !=
// =~
// !~ and the value a double-quoted string with valid escapes (a valid RE2 regular expression for
// =~ and !~), spaces allowed around the parts; then sets *normalized to it without those spaces.
// Else returns the problem in words.
std::string LabelMatcherProblem(std::string_view matcher, std::string* normalized);

// Returns "" when `tmpl` is a valid query template (contains <<.LabelMatchers>>, and no `<< >>`
// construct other than <<.LabelMatchers>> and <<.GroupBy>>), else the problem in words.
std::string TemplateProblem(std::string_view tmpl);

// Returns "" when `url` is a usable Prometheus base URL (http/https scheme, a host, optional port
// and path, no credentials, query or fragment, no whitespace), else the problem in words. `url`
// must not be empty.
std::string UrlProblem(std::string_view url);

// Formats a positive duration of whole milliseconds as PromQL expects it, in its largest exact
// unit: 1m, 90s, 2h, 1500ms.
std::string FormatPromDuration(absl::Duration d);

// `s` C-escaped (quotes, control bytes) and cut to at most `max_chars` characters, "..." marking a
// cut.
std::string QuoteForMessage(std::string_view s, size_t max_chars = 120);

}  // namespace aa::config::internal
