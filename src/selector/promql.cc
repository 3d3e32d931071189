#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/escape.h"
#include "common/strings.h"
#include "selector/promql_escape.h"
#include "selector/selector.h"

namespace aa::selector {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHexByte(std::string* out, unsigned char c) {
  out->append("\\x");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xf]);
}

bool IsRegexMeta(char c) {
  static constexpr std::string_view kMeta = "\\.+*?()|[]{}^$";
  return kMeta.find(c) != std::string_view::npos;
}

std::string RegexAlternation(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += '|';
    out += QuoteRegex(values[i]);
  }
  return out;
}

}  // namespace

std::string EscapePromQLString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (const char* e = ShortEscape(c)) {
        out += e;
      } else if (c < 0x20 || c == 0x7f) {
        AppendHexByte(&out, c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      AppendHexByte(&out, c);  // not UTF-8: PromQL's lexer would reject the raw byte
      ++i;
    } else if (s.substr(i, len) == "\xef\xbf\xbd") {
      out += "\\uFFFD";  // PromQL's lexer mistakes a literal U+FFFD for an invalid rune
      i += len;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string PromQLStringLiteral(std::string_view s) {
  return absl::StrCat("\"", EscapePromQLString(s), "\"");
}

namespace {

void AppendUtf8(std::string* out, uint32_t r) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  }
}

absl::Status UnquoteError(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid PromQL string literal: at offset ", offset, ": ", ToAbsl(what)));
}

}  // namespace

absl::StatusOr<std::string> UnquotePromQLString(std::string_view literal) {
  if (literal.size() < 2 || literal.front() != '"' || literal.back() != '"') {
    return UnquoteError(0, "must start and end with '\"'");
  }
  const std::string_view body = literal.substr(1, literal.size() - 2);
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    const size_t offset = i + 1;
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c == '"') return UnquoteError(offset, "unescaped '\"'");
    if (c == '\n') return UnquoteError(offset, "unescaped newline");
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(body, i);
      if (len == 0 || body.substr(i, len) == "\xef\xbf\xbd") {
        return UnquoteError(offset, "invalid UTF-8 rune");
      }
      out.append(body.substr(i, len));
      i += len;
      continue;
    }
    if (c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (i + 1 >= body.size()) return UnquoteError(offset, "escape sequence not terminated");
    const char e = body[i + 1];
    i += 2;
    // One-character escapes: kEscaped[k] stands for kMeaning[k].
    static constexpr std::string_view kEscaped = "abfnrtv\\\"";
    static constexpr std::string_view kMeaning = "\a\b\f\n\r\t\v\\\"";
    if (size_t k = kEscaped.find(e); k != std::string_view::npos) {
      out.push_back(kMeaning[k]);
      continue;
    }
    size_t digits = 0;
    int base = 16;
    uint32_t max = 0x10ffff;
    if (e >= '0' && e <= '7') {
      digits = 3;
      base = 8;
      max = 255;
      --i;  // the first octal digit is part of the number
    } else if (e == 'x') {
      digits = 2;
      max = 255;
    } else if (e == 'u') {
      digits = 4;
    } else if (e == 'U') {
      digits = 8;
    } else {
      return UnquoteError(offset, "unknown escape sequence");
    }
    if (i + digits > body.size()) return UnquoteError(offset, "escape sequence not terminated");
    uint32_t v = 0;
    for (size_t k = 0; k < digits; ++k) {
      const int d = HexDigitValue(body[i + k]);
      if (d < 0 || d >= base) return UnquoteError(offset, "illegal character in escape sequence");
      v = v * static_cast<uint32_t>(base) + static_cast<uint32_t>(d);
    }
    i += digits;
    if (v > max || (v >= 0xd800 && v < 0xe000 && (e == 'u' || e == 'U'))) {
      return UnquoteError(offset, "escape sequence is an invalid Unicode code point");
    }
    if (e == 'u' || e == 'U') {
      AppendUtf8(&out, v);
    } else {
      out.push_back(static_cast<char>(v));  // octal and \x give one raw byte, as in Go
    }
  }
  return out;
}

std::string QuoteRegex(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    if (IsRegexMeta(c)) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

bool IsValidPrometheusLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

std::string SanitizeLabelName(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

std::string KubeStateMetricsLabelName(std::string_view key) {
  return absl::StrCat("label_", SanitizeLabelName(key));
}

absl::StatusOr<std::vector<std::string>> ToPromQLMatchers(
    const Selector& s, const std::function<std::string(std::string_view key)>& map_key) {
  std::vector<std::string> matchers;
  matchers.reserve(s.requirements().size());
  for (const Requirement& r : s.requirements()) {
    if (r.op == Op::kGreaterThan || r.op == Op::kLessThan) {
      return absl::InvalidArgumentError(
          absl::StrCat("label selector requirement \"", absl::CHexEscape(r.String()),
                       "\": '>' and '<' cannot be expressed as a PromQL label matcher"));
    }
    std::string name = map_key(r.key);
    if (!IsValidPrometheusLabelName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label key \"", absl::CHexEscape(r.key), "\" maps to \"", absl::CHexEscape(name),
          "\", which is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"));
    }
    switch (r.op) {
      case Op::kEquals:
      case Op::kDoubleEquals:
        matchers.push_back(absl::StrCat(
            name, "=", PromQLStringLiteral(r.values.empty() ? std::string_view() : r.values[0])));
        break;
      case Op::kNotEquals:
        matchers.push_back(absl::StrCat(
            name, "!=", PromQLStringLiteral(r.values.empty() ? std::string_view() : r.values[0])));
        break;
      case Op::kIn:
        matchers.push_back(
            absl::StrCat(name, "=~", PromQLStringLiteral(RegexAlternation(r.values))));
        break;
      case Op::kNotIn:
        matchers.push_back(
            absl::StrCat(name, "!~", PromQLStringLiteral(RegexAlternation(r.values))));
        break;
      case Op::kExists:
        matchers.push_back(absl::StrCat(name, "!=\"\""));
        break;
      case Op::kDoesNotExist:
        matchers.push_back(absl::StrCat(name, "=\"\""));
        break;
      case Op::kGreaterThan:
      case Op::kLessThan:
        break;  // rejected above
    }
  }
  return matchers;
}

absl::StatusOr<SeriesSelector> ParseSeriesSelector(std::string_view text, std::string_view field) {
  auto parsed = Selector::Parse(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": ", parsed.status().message()));
  }
  auto matchers = ToPromQLMatchers(*parsed, [](std::string_view key) { return std::string(key); });
  if (!matchers.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(field), " \"", ToAbsl(text), "\": ", matchers.status().message()));
  }
  SeriesSelector out;
  out.matchers = absl::StrJoin(*matchers, ",");
  out.selector = *std::move(parsed);
  return out;
}

}  // namespace aa::selector
