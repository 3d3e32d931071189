#include "config/error_location.h"

#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "common/strings.h"
#include "yaml-cpp/yaml.h"

namespace aa::config {
namespace {

// The path's steps: map keys and [n] list indexes, in order ("a.b[2].c" -> a, b, [2], c). A key
// is what QuoteForMessage printed; keys with '.' or '[' in them cannot be told apart and end the
// walk early (the ancestor's line is used).
struct Step {
  std::string key;
  int index = -1;  // >= 0: a list index
};

std::vector<Step> SplitPath(std::string_view path) {
  std::vector<Step> steps;
  std::string key;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '.' || c == '[') {
      if (!key.empty()) steps.push_back({std::move(key)});
      key.clear();
      if (c == '[') {
        size_t close = path.find(']', i);
        int index = -1;
        if (close == std::string_view::npos ||
            !absl::SimpleAtoi(ToAbsl(path.substr(i + 1, close - i - 1)), &index)) {
          return steps;
        }
        steps.push_back({"", index});
        i = close;
      }
      continue;
    }
    key += c;
  }
  if (!key.empty()) steps.push_back({std::move(key)});
  return steps;
}

// The 1-based line of the deepest node along `steps`, 0 when the text does not parse.
int LineOfPath(std::string_view yaml_text, const std::vector<Step>& steps) {
  try {
    YAML::Node node = YAML::Load(std::string(yaml_text));
    int line = 0;
    for (const Step& step : steps) {
      YAML::Node next;
      if (step.index >= 0 && node.IsSequence() && static_cast<size_t>(step.index) < node.size()) {
        next = node[static_cast<size_t>(step.index)];
      } else if (step.index < 0 && node.IsMap()) {
        for (auto it = node.begin(); it != node.end(); ++it) {
          if (it->first.IsScalar() && it->first.Scalar() == step.key) {
            next = it->second;
            // The key's own line: a block value starts below it.
            if (!it->first.Mark().is_null()) line = it->first.Mark().line + 1;
            break;
          }
        }
      }
      if (!next.IsDefined()) break;
      if (step.index >= 0 && !next.Mark().is_null()) line = next.Mark().line + 1;
      node = next;
    }
    return line;
  } catch (...) {
    return 0;
  }
}

}  // namespace

ErrorLocation LocateError(const absl::Status& error, std::string_view source,
                          std::string_view yaml_text) {
  ErrorLocation out;
  out.file = std::string(source);
  std::string_view msg = FromAbsl(error.message());
  if (!msg.starts_with(source)) return out;
  msg.remove_prefix(source.size());
  if (msg.starts_with(":") && msg.size() > 1 && std::isdigit(static_cast<unsigned char>(msg[1]))) {
    // "<source>:<line>:<column>: YAML syntax error: ..."
    size_t end = msg.find(':', 1);
    int line = 0;
    if (end != std::string_view::npos && absl::SimpleAtoi(ToAbsl(msg.substr(1, end - 1)), &line)) {
      out.line = line;
    }
    return out;
  }
  if (!msg.starts_with(": ")) return out;
  msg.remove_prefix(2);
  // "<path>: <problem>"; a message without a path ("<source>: <problem>") has a space before its
  // first ": ".
  size_t colon = msg.find(": ");
  if (colon == std::string_view::npos || msg.substr(0, colon).find(' ') != std::string_view::npos) {
    return out;
  }
  out.field = std::string(msg.substr(0, colon));
  out.line = LineOfPath(yaml_text, SplitPath(out.field));
  return out;
}

}  // namespace aa::config
