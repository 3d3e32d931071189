#include "selector/selector.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/enum_names.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace aa::selector {
namespace {

constexpr size_t kMaxNameLength = 63;       // label key name part and label value
constexpr size_t kMaxPrefixLength = 253;    // DNS-1123 subdomain
constexpr size_t kMaxQuotedInMessage = 80;  // bytes of user input echoed in an error message

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// The upstream lexer's whitespace: only these four.
bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsSpecial(char c) {
  switch (c) {
    case '=':
    case '!':
    case '(':
    case ')':
    case ',':
    case '>':
    case '<':
      return true;
    default:
      return false;
  }
}

// User input echoed in messages: C-escaped (so control bytes and quotes stay visible and harmless),
// truncated.
std::string Quoted(std::string_view s) {
  bool truncated = s.size() > kMaxQuotedInMessage;
  if (truncated) s = s.substr(0, kMaxQuotedInMessage);
  return absl::StrCat("\"", absl::CHexEscape(ToAbsl(s)), truncated ? "\"..." : "\"");
}

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])? (upstream's qualified name / label value pattern), any
// length.
bool MatchesNamePattern(std::string_view s) {
  if (s.empty() || !IsAsciiAlnum(s.front()) || !IsAsciiAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAsciiAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// DNS-1123 label pattern inside a subdomain: [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesDnsLabel(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// Returns an empty string when valid, else why not.
std::string CheckDns1123Subdomain(std::string_view s) {
  if (s.size() > kMaxPrefixLength) {
    return absl::StrCat("must be no more than ", kMaxPrefixLength, " characters");
  }
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!MatchesDnsLabel(label)) {
      return "must be a lowercase RFC 1123 subdomain: lowercase alphanumeric characters, '-' or "
             "'.', "
             "starting and ending with an alphanumeric character (e.g. 'example.com')";
    }
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

constexpr char kNamePatternHelp[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

enum class Tok {
  kEnd,
  kIdentifier,  // includes the keywords "in" and "notin"; the parser decides by position
  kComma,
  kOpenPar,
  kClosePar,
  kBang,
  kEquals,
  kDoubleEquals,
  kNotEquals,
  kGreater,
  kLess,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string_view text;  // a view into the input
  size_t offset = 0;      // byte offset of the token in the input
};

// Tokenizes as upstream's lexer does: identifiers run up to whitespace or a special symbol; among
// special symbols the longest of "==", "!=" wins, otherwise one symbol is one token.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Token Next() {
    while (pos_ < s_.size() && IsWhitespace(s_[pos_])) ++pos_;
    const size_t start = pos_;
    if (pos_ >= s_.size()) return Token{Tok::kEnd, {}, start};
    const char c = s_[pos_];
    const bool next_is_equals = pos_ + 1 < s_.size() && s_[pos_ + 1] == '=';
    Tok kind = Tok::kIdentifier;
    size_t len = 1;
    switch (c) {
      case ',':
        kind = Tok::kComma;
        break;
      case '(':
        kind = Tok::kOpenPar;
        break;
      case ')':
        kind = Tok::kClosePar;
        break;
      case '>':
        kind = Tok::kGreater;
        break;
      case '<':
        kind = Tok::kLess;
        break;
      case '=':
        kind = next_is_equals ? Tok::kDoubleEquals : Tok::kEquals;
        len = next_is_equals ? 2 : 1;
        break;
      case '!':
        kind = next_is_equals ? Tok::kNotEquals : Tok::kBang;
        len = next_is_equals ? 2 : 1;
        break;
      default:
        while (pos_ < s_.size() && !IsWhitespace(s_[pos_]) && !IsSpecial(s_[pos_])) ++pos_;
        return Token{Tok::kIdentifier, s_.substr(start, pos_ - start), start};
    }
    pos_ += len;
    return Token{kind, s_.substr(start, len), start};
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// Recursive descent with one token of lookahead, accepting exactly what upstream's parser accepts.
class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) { current_ = lexer_.Next(); }

  absl::StatusOr<std::vector<Requirement>> ParseAll() {
    std::vector<Requirement> requirements;
    if (current_.kind == Tok::kEnd) return requirements;
    while (true) {
      if (current_.kind != Tok::kIdentifier && current_.kind != Tok::kBang) {
        return Unexpected(current_, requirements.empty() ? "'!', a label key or end of string"
                                                         : "'!' or a label key after ','");
      }
      AA_ASSIGN_OR_RETURN(Requirement r, ParseRequirement());
      requirements.push_back(std::move(r));
      Token separator = Take();
      if (separator.kind == Tok::kEnd) return requirements;
      if (separator.kind != Tok::kComma) return Unexpected(separator, "',' or end of string");
    }
  }

 private:
  Token Take() {
    Token t = current_;
    current_ = lexer_.Next();
    return t;
  }

  static std::string Describe(const Token& t) {
    if (t.kind == Tok::kEnd) return "end of string";
    return absl::StrCat("'", absl::CHexEscape(ToAbsl(t.text.substr(0, kMaxQuotedInMessage))),
                        t.text.size() > kMaxQuotedInMessage ? "...'" : "'");
  }

  static absl::Status Unexpected(const Token& t, std::string_view expected) {
    return absl::InvalidArgumentError(absl::StrCat("invalid label selector: at offset ", t.offset,
                                                   ": found ", Describe(t), ", expected ",
                                                   ToAbsl(expected)));
  }

  static absl::Status AtOffset(const absl::Status& s, const Token& t) {
    if (s.ok()) return s;
    return absl::InvalidArgumentError(
        absl::StrCat("invalid label selector: at offset ", t.offset, ": ", s.message()));
  }

  absl::StatusOr<Requirement> ParseRequirement() {
    Token key = Take();
    bool negated = false;
    if (key.kind == Tok::kBang) {
      negated = true;
      key = Take();
    }
    if (key.kind != Tok::kIdentifier) return Unexpected(key, "a label key");
    AA_RETURN_IF_ERROR(AtOffset(ValidateLabelKey(key.text), key));
    Requirement r;
    r.key = std::string(key.text);
    if (current_.kind == Tok::kEnd || current_.kind == Tok::kComma) {
      r.op = negated ? Op::kDoesNotExist : Op::kExists;
      return r;
    }
    if (negated) return Unexpected(current_, "',' or end of string after '!key'");

    Token op = Take();
    switch (op.kind) {
      case Tok::kEquals:
        r.op = Op::kEquals;
        break;
      case Tok::kDoubleEquals:
        r.op = Op::kDoubleEquals;
        break;
      case Tok::kNotEquals:
        r.op = Op::kNotEquals;
        break;
      case Tok::kGreater:
        r.op = Op::kGreaterThan;
        break;
      case Tok::kLess:
        r.op = Op::kLessThan;
        break;
      case Tok::kIdentifier:
        if (op.text == "in") {
          r.op = Op::kIn;
          break;
        }
        if (op.text == "notin") {
          r.op = Op::kNotIn;
          break;
        }
        [[fallthrough]];
      default:
        return Unexpected(op,
                          "one of '=', '==', '!=', 'in', 'notin', '>', '<', ',' or end of string");
    }
    if (r.op == Op::kIn || r.op == Op::kNotIn) {
      AA_RETURN_IF_ERROR(ParseValueSet(&r.values));
    } else {
      AA_RETURN_IF_ERROR(ParseExactValue(r.op, &r.values));
    }
    return r;
  }

  static absl::Status CheckValue(const Token& t) { return AtOffset(ValidateLabelValue(t.text), t); }

  // "(" [VALUE] ("," [VALUE])* ")": every empty slot is the empty value.
  absl::Status ParseValueSet(std::vector<std::string>* values) {
    Token open = Take();
    if (open.kind != Tok::kOpenPar) return Unexpected(open, "'('");
    bool slot_open = true;  // a value may come next
    while (true) {
      Token t = Take();
      if (t.kind == Tok::kIdentifier) {
        if (!slot_open) return Unexpected(t, "',' or ')'");
        AA_RETURN_IF_ERROR(CheckValue(t));
        values->emplace_back(t.text);
        slot_open = false;
      } else if (t.kind == Tok::kComma) {
        if (slot_open) values->emplace_back();
        slot_open = true;
      } else if (t.kind == Tok::kClosePar) {
        if (slot_open) values->emplace_back();
        break;
      } else {
        return Unexpected(t, slot_open ? "a value, ',' or ')'" : "',' or ')'");
      }
    }
    std::sort(values->begin(), values->end());
    values->erase(std::unique(values->begin(), values->end()), values->end());
    return absl::OkStatus();
  }

  // An optional single value: absent when the requirement ends right after the operator.
  absl::Status ParseExactValue(Op op, std::vector<std::string>* values) {
    Token t{Tok::kIdentifier, {}, current_.offset};
    if (current_.kind != Tok::kEnd && current_.kind != Tok::kComma) {
      t = Take();
      if (t.kind != Tok::kIdentifier) return Unexpected(t, "a value, ',' or end of string");
    }
    AA_RETURN_IF_ERROR(CheckValue(t));
    if ((op == Op::kGreaterThan || op == Op::kLessThan) && !ParseInt64(t.text).has_value()) {
      return AtOffset(
          absl::InvalidArgumentError(absl::StrCat(
              "the value of '>' and '<' must be a decimal integer, found ", Quoted(t.text))),
          t);
    }
    values->emplace_back(t.text);
    return absl::OkStatus();
  }

  Lexer lexer_;
  Token current_;
};

bool HasValue(const Requirement& r, std::string_view v) {
  return std::binary_search(r.values.begin(), r.values.end(), v, std::less<>());
}

}  // namespace

std::string_view OpName(Op op) {
  static constexpr EnumName<Op> kNames[] = {
      {Op::kEquals, "="},       {Op::kDoubleEquals, "=="}, {Op::kNotEquals, "!="},
      {Op::kIn, "in"},          {Op::kNotIn, "notin"},     {Op::kExists, ""},
      {Op::kDoesNotExist, "!"}, {Op::kGreaterThan, ">"},   {Op::kLessThan, "<"}};
  return NameOf(op, kNames, "?");
}

absl::Status ValidateLabelKey(std::string_view key) {
  std::string_view name = key;
  size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label key ", Quoted(key),
                       ": a label key is a name with an optional DNS subdomain prefix and one '/' "
                       "(e.g. 'example.com/MyName')"));
    }
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label key ", Quoted(key), ": prefix part must be non-empty"));
    }
    std::string why = CheckDns1123Subdomain(prefix);
    if (!why.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label key ", Quoted(key), ": prefix part ", why));
    }
  }
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid label key ", Quoted(key), ": name part must be non-empty"));
  }
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("invalid label key ", Quoted(key),
                                                   ": name part must be no more than ",
                                                   kMaxNameLength, " characters"));
  }
  if (!MatchesNamePattern(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid label key ", Quoted(key), ": name part ", kNamePatternHelp));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelValue(std::string_view value) {
  if (value.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("invalid label value ", Quoted(value),
                                                   ": must be no more than ", kMaxNameLength,
                                                   " characters"));
  }
  if (!value.empty() && !MatchesNamePattern(value)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid label value ", Quoted(value),
                                                   ": a non-empty value ", kNamePatternHelp));
  }
  return absl::OkStatus();
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  size_t i = 0;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) return std::nullopt;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (limit - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  // Two's-complement conversion is well defined in C++20; covers INT64_MIN.
  return negative ? static_cast<int64_t>(uint64_t{0} - v) : static_cast<int64_t>(v);
}

bool Requirement::Matches(
    const std::function<std::optional<std::string_view>(std::string_view key)>& lookup) const {
  const std::optional<std::string_view> value = lookup(key);
  switch (op) {
    case Op::kEquals:
    case Op::kDoubleEquals:
    case Op::kIn:
      return value.has_value() && HasValue(*this, *value);
    case Op::kNotEquals:
    case Op::kNotIn:
      return !value.has_value() || !HasValue(*this, *value);
    case Op::kExists:
      return value.has_value();
    case Op::kDoesNotExist:
      return !value.has_value();
    case Op::kGreaterThan:
    case Op::kLessThan: {
      if (!value.has_value() || values.size() != 1) return false;
      std::optional<int64_t> actual = ParseInt64(*value);
      std::optional<int64_t> bound = ParseInt64(values[0]);
      if (!actual.has_value() || !bound.has_value()) return false;
      return op == Op::kGreaterThan ? *actual > *bound : *actual < *bound;
    }
  }
  return false;
}

std::string Requirement::String() const {
  std::string out;
  if (op == Op::kDoesNotExist) out = "!";
  out += key;
  switch (op) {
    case Op::kExists:
    case Op::kDoesNotExist:
      return out;
    case Op::kIn:
    case Op::kNotIn: {
      absl::StrAppend(&out, " ", ToAbsl(OpName(op)), " (");
      for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += values[i];
      }
      out += ')';
      return out;
    }
    default:
      out += OpName(op);
      if (!values.empty()) out += values[0];
      return out;
  }
}

absl::StatusOr<Selector> Selector::Parse(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid label selector: at offset ",
                                                   text.find('\0'), ": NUL byte is not allowed"));
  }
  Parser parser(text);
  AA_ASSIGN_OR_RETURN(std::vector<Requirement> requirements, parser.ParseAll());
  std::stable_sort(requirements.begin(), requirements.end(),
                   [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
  Selector s;
  s.requirements_ = std::move(requirements);
  return s;
}

bool Selector::Matches(
    const std::function<std::optional<std::string_view>(std::string_view key)>& lookup) const {
  for (const Requirement& r : requirements_) {
    if (!r.Matches(lookup)) return false;
  }
  return true;
}

bool Selector::Matches(const std::map<std::string, std::string, std::less<>>& labels) const {
  return Matches([&labels](std::string_view key) -> std::optional<std::string_view> {
    auto it = labels.find(key);
    if (it == labels.end()) return std::nullopt;
    return std::string_view(it->second);
  });
}

std::string Selector::String() const {
  std::string out;
  for (size_t i = 0; i < requirements_.size(); ++i) {
    if (i > 0) out += ',';
    out += requirements_[i].String();
  }
  return out;
}

}  // namespace aa::selector
