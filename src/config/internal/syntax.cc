#include "config/internal/syntax.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "re2/re2.h"

namespace aa::config::internal {
namespace {

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// True when s is non-empty, s[0] is a letter or in `first_extra`, and the rest are letters, digits
// or in `rest_extra`.
bool MatchesIdentifier(std::string_view s, std::string_view first_extra,
                       std::string_view rest_extra) {
  if (s.empty()) return false;
  if (!IsAsciiLetter(s[0]) && first_extra.find(s[0]) == std::string_view::npos) return false;
  for (char c : s.substr(1)) {
    if (!IsAsciiLetter(c) && !IsAsciiDigit(c) && rest_extra.find(c) == std::string_view::npos)
      return false;
  }
  return true;
}

constexpr std::string_view kLabelMatchers = "<<.LabelMatchers>>";
constexpr std::string_view kGroupBy = "<<.GroupBy>>";

}  // namespace

bool IsServedMetricName(std::string_view s) {
  return s.size() <= 253 && MatchesIdentifier(s, "_:", "_:.-");
}

bool IsPromMetricName(std::string_view s) { return MatchesIdentifier(s, "_:", "_:"); }

bool IsPromLabelName(std::string_view s) { return MatchesIdentifier(s, "_", "_"); }

bool IsNamespaceName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || IsAsciiDigit(c); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

bool IsHttpToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsAsciiLetter(c) && !IsAsciiDigit(c) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string LabelMatcherProblem(std::string_view matcher, std::string* normalized) {
  // absl's string functions take absl::string_view (not std::string_view on Debian's Abseil).
  absl::string_view rest = absl::StripAsciiWhitespace(ToAbsl(matcher));
  size_t name_end = 0;
  while (name_end < rest.size() &&
         (IsAsciiLetter(rest[name_end]) || IsAsciiDigit(rest[name_end]) || rest[name_end] == '_')) {
    ++name_end;
  }
  const absl::string_view name = rest.substr(0, name_end);
  if (!IsPromLabelName(FromAbsl(name))) {
    return "must start with a label name ([a-zA-Z_][a-zA-Z0-9_]*), e.g. job=\"kubelet\"";
  }
  rest = absl::StripLeadingAsciiWhitespace(rest.substr(name_end));
  absl::string_view op;
  for (absl::string_view candidate : {"=~", "!~", "!=", "="}) {
    if (absl::StartsWith(rest, candidate)) {
      op = candidate;
      break;
    }
  }
  if (op.empty()) return "expected =, !=, =~ or !~ after the label name";
  const absl::string_view quoted = absl::StripLeadingAsciiWhitespace(rest.substr(op.size()));
  // The closing quote: the first unescaped '"' after the opening one, which must end the matcher.
  size_t close = absl::string_view::npos;
  for (size_t i = 1; quoted.size() > 1 && quoted.front() == '"' && i < quoted.size(); ++i) {
    if (quoted[i] == '\\') {
      ++i;
    } else if (quoted[i] == '"') {
      close = i;
      break;
    }
  }
  if (close == absl::string_view::npos || close + 1 != quoted.size()) {
    return "the value must be one double-quoted string, e.g. job=\"kubelet\"";
  }
  std::string value;
  std::string error;
  if (!absl::CUnescape(quoted.substr(1, close - 1), &value, &error)) {
    return absl::StrCat("invalid escape in the value: ", error);
  }
  if (absl::StrContains(quoted, "<<")) {
    return "must not contain \"<<\" (the queries' template syntax)";
  }
  if (op == "=~" || op == "!~") {
    RE2 re(value, RE2::Quiet);
    if (!re.ok()) return absl::StrCat("invalid regular expression: ", re.error());
  }
  *normalized = absl::StrCat(name, op, quoted);
  return "";
}

std::string TemplateProblem(std::string_view tmpl) {
  bool has_matchers = false;
  size_t pos = 0;
  while ((pos = tmpl.find("<<", pos)) != std::string_view::npos) {
    size_t end = tmpl.find(">>", pos + 2);
    if (end == std::string_view::npos) {
      return absl::StrCat("unterminated template construct \"",
                          QuoteForMessage(tmpl.substr(pos), 40), "\"");
    }
    std::string_view construct = tmpl.substr(pos, end + 2 - pos);
    if (construct == kLabelMatchers) {
      has_matchers = true;
    } else if (construct != kGroupBy) {
      return absl::StrCat("unsupported template construct \"", QuoteForMessage(construct, 60),
                          "\"; only <<.LabelMatchers>> and <<.GroupBy>> are expanded");
    }
    pos = end + 2;
  }
  if (!has_matchers)
    return "must contain <<.LabelMatchers>> (it restricts the query to the namespaces asked for)";
  return "";
}

std::string UrlProblem(std::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return "must not contain whitespace or control characters";
  }
  std::string_view rest;
  auto has_prefix_ci = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      char c = url[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != prefix[i]) return false;
    }
    return true;
  };
  if (has_prefix_ci("http://")) {
    rest = url.substr(7);
  } else if (has_prefix_ci("https://")) {
    rest = url.substr(8);
  } else {
    return "scheme must be http:// or https://";
  }
  if (rest.find_first_of("?#") != std::string_view::npos)
    return "must not have a query or fragment";
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find('@') != std::string_view::npos) {
    return "must not contain credentials (use basicAuth or bearerTokenFile)";
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {  // IPv6 literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return "malformed IPv6 host";
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "malformed IPv6 host";
      port = after.substr(1);
      if (port.empty()) return "empty port";
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return "empty port";
    }
  }
  if (host.empty()) return "must name a host";
  if (!port.empty()) {
    if (port.size() > 5) return "port must be 1..65535";
    int value = 0;
    for (char c : port) {
      if (!IsAsciiDigit(c)) return "port must be a number";
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return "port must be 1..65535";
  }
  return "";
}

std::string FormatPromDuration(absl::Duration d) {
  struct Unit {
    absl::Duration size;
    const char* name;
  };
  static const Unit kUnits[] = {
      {absl::Hours(1), "h"}, {absl::Minutes(1), "m"}, {absl::Seconds(1), "s"}};
  for (const Unit& u : kUnits) {
    absl::Duration rem;
    int64_t n = absl::IDivDuration(d, u.size, &rem);
    if (rem == absl::ZeroDuration() && n > 0) return absl::StrCat(n, u.name);
  }
  return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
}

std::string QuoteForMessage(std::string_view s, size_t max_chars) {
  bool cut = s.size() > max_chars;
  std::string out = absl::CHexEscape(ToAbsl(cut ? s.substr(0, max_chars) : s));
  if (cut) out += "...";
  return out;
}

}  // namespace aa::config::internal
