#include "config/go_template.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "config/internal/syntax.h"

namespace aa::config {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int LineOf(std::string_view text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

absl::Status Problem(std::string_view text, size_t pos, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", LineOf(text, pos), ": ", ToAbsl(what)));
}

}  // namespace

absl::StatusOr<GoTemplate> GoTemplate::Parse(std::string_view text,
                                             const std::vector<std::string_view>& fields) {
  GoTemplate t;
  size_t pos = 0;
  bool trim_next = false;
  auto supported = [&] {
    std::vector<std::string> names;
    for (std::string_view f : fields) names.push_back(absl::StrCat("<<.", ToAbsl(f), ">>"));
    return absl::StrJoin(names, ", ");
  };
  while (pos <= text.size()) {
    size_t open = text.find("<<", pos);
    std::string literal(
        text.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos));
    if (trim_next) {
      size_t i = 0;
      while (i < literal.size() && IsSpace(literal[i])) ++i;
      literal.erase(0, i);
    }
    if (open == std::string_view::npos) {
      if (!literal.empty()) t.segments_.push_back({false, std::move(literal)});
      break;
    }
    size_t close = text.find(">>", open + 2);
    if (close == std::string_view::npos) {
      return Problem(text, open,
                     absl::StrCat("unterminated template action \"",
                                  internal::QuoteForMessage(text.substr(open), 40), "\""));
    }
    std::string_view action = text.substr(open + 2, close - open - 2);
    std::string_view whole = text.substr(open, close + 2 - open);
    // Go: "<<-" followed by white space trims the text before; white space then "->>" the text
    // after.
    if (action.size() >= 2 && action[0] == '-' && IsSpace(action[1])) {
      while (!literal.empty() && IsSpace(literal.back())) literal.pop_back();
      action.remove_prefix(1);
    }
    trim_next = false;
    if (action.size() >= 2 && action.back() == '-' && IsSpace(action[action.size() - 2])) {
      trim_next = true;
      action.remove_suffix(1);
    }
    while (!action.empty() && IsSpace(action.front())) action.remove_prefix(1);
    while (!action.empty() && IsSpace(action.back())) action.remove_suffix(1);
    std::string_view name = action.size() > 1 && action[0] == '.' ? action.substr(1) : "";
    if (std::find(fields.begin(), fields.end(), name) == fields.end() || name.empty()) {
      return Problem(
          text, open,
          absl::StrCat("unsupported template construct \"", internal::QuoteForMessage(whole, 60),
                       "\"; supported here: ", supported()));
    }
    if (!literal.empty()) t.segments_.push_back({false, std::move(literal)});
    t.segments_.push_back({true, std::string(name)});
    pos = close + 2;
  }
  return t;
}

std::string GoTemplate::Render(
    const std::map<std::string, std::string, std::less<>>& values) const {
  std::string out;
  for (const Segment& s : segments_) {
    if (!s.is_field) {
      out += s.text;
    } else if (auto it = values.find(s.text); it != values.end()) {
      out += it->second;
    } else {
      absl::StrAppend(&out, "<<.", s.text, ">>");
    }
  }
  return out;
}

bool GoTemplate::Uses(std::string_view name) const {
  return std::any_of(segments_.begin(), segments_.end(),
                     [&](const Segment& s) { return s.is_field && s.text == name; });
}

}  // namespace aa::config
