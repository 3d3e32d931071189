#include "selector/field_selector.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace aa::selector {
namespace {

constexpr std::string_view kName = "metadata.name";
constexpr std::string_view kNamespace = "metadata.namespace";

// Splits on ',' not escaped by a backslash (the backslashes stay for UnescapeValue).
std::vector<std::string_view> SplitTerms(std::string_view text) {
  std::vector<std::string_view> out;
  if (text.empty()) return out;
  size_t start = 0;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (escaped) {
      escaped = false;
    } else if (text[i] == '\\') {
      escaped = true;
    } else if (text[i] == ',') {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  return out;
}

absl::StatusOr<std::string> UnescapeValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool slash = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (slash) {
      if (c != '\\' && c != ',' && c != '=') {
        // Upstream prints the backslash and the whole (UTF-8) character after it.
        size_t len = 1;
        while (i + len < v.size() && (static_cast<unsigned char>(v[i + len]) & 0xC0) == 0x80) {
          ++len;
        }
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid field selector: invalid escape sequence: \\", ToAbsl(v.substr(i, len))));
      }
      out += c;
      slash = false;
    } else if (c == '\\') {
      slash = true;
    } else if (c == ',' || c == '=') {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid field selector: unescaped character in value: ", static_cast<int>(c)));
    } else {
      out += c;
    }
  }
  if (slash) {
    return absl::InvalidArgumentError("invalid field selector: invalid escape sequence: \\");
  }
  return out;
}

}  // namespace

absl::StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  std::vector<std::string_view> parts = SplitTerms(text);
  std::sort(parts.begin(), parts.end());
  struct Parsed {
    std::string_view field;
    Term term;
  };
  std::vector<Parsed> parsed;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    size_t at = std::string_view::npos, op_len = 0;
    for (size_t i = 0; i < part.size() && at == std::string_view::npos; ++i) {
      std::string_view rest = part.substr(i);
      if (rest.starts_with("!=") || rest.starts_with("==")) {
        at = i;
        op_len = 2;
      } else if (rest.starts_with("=")) {
        at = i;
        op_len = 1;
      }
    }
    if (at == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("invalid selector: '", ToAbsl(text),
                                                     "'; can't understand '", ToAbsl(part), "'"));
    }
    auto value = UnescapeValue(part.substr(at + op_len));
    if (!value.ok()) return value.status();
    Parsed p;
    p.field = part.substr(0, at);
    p.term.equals = part[at] != '!';
    p.term.value = *std::move(value);
    parsed.push_back(std::move(p));
  }
  // Upstream converts the field labels after parsing every term.
  FieldSelector out;
  for (Parsed& p : parsed) {
    if (p.field != kName && p.field != kNamespace) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", ToAbsl(p.field), "\" is not a known field selector: only \"",
                       ToAbsl(kName), "\", \"", ToAbsl(kNamespace), "\""));
    }
    p.term.name = p.field == kName;
    out.terms_.push_back(std::move(p.term));
  }
  return out;
}

bool FieldSelector::Matches(const Fields& fields) const {
  for (const Term& t : terms_) {
    if (((t.name ? fields.name : fields.ns) == t.value) != t.equals) return false;
  }
  return true;
}

}  // namespace aa::selector
