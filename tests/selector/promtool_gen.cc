// Writes a `promtool test rules` file to stdout that checks our PromQL text against Prometheus
// itself: for hostile label values, a series carrying the value must be selected by `=` with
// PromQLStringLiteral(value) and by `=~` with PromQLStringLiteral(QuoteRegex(value)), and the regex
// must select exactly that one series (so `.*`, `a|b` etc. are taken literally). Selector
// translations (ToPromQLMatchers) are checked the same way. Run by the ctest `selector_promtool`.

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "selector/promql_escape.h"
#include "selector/selector.h"

namespace {

using aa::selector::PromQLStringLiteral;
using aa::selector::QuoteRegex;

// YAML single-quoted scalar.
std::string Yaml(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

struct Check {
  std::string expr;
  std::string labels;  // expected sample labels, "{}" for aggregations
  int value;
};

}  // namespace

int main() {
  // Values present as series (non-empty, valid UTF-8: Go's regexp rejects invalid UTF-8 patterns).
  const std::vector<std::string> kValues = {
      "a.b",  "axb",         ".*",           "a|b",      "a",
      "b",    "(a)",         "[ab]",         "a{1}",     "a+",
      "a?",   "^a$",         "\\d",          "\\",       "\"",
      "\\\"", "x\ny",        "tab\there",    "}",        "\"} or vector(1) or up{a=\"",
      "$1",   "caf\xc3\xa9", "\xef\xbf\xbd", "\x01\x7f", "'",
      "1.2",  "1x2",         "x_y",
  };
  std::vector<Check> checks;
  for (size_t i = 0; i < kValues.size(); ++i) {
    const std::string& v = kValues[i];
    const std::string series =
        "up{job=\"t\",i=\"" + std::to_string(i) + "\",a=" + PromQLStringLiteral(v) + "}";
    checks.push_back({"up{a=" + PromQLStringLiteral(v) + "}", series, 1});
    checks.push_back({"up{a=~" + PromQLStringLiteral(QuoteRegex(v)) + "}", series, 1});
    checks.push_back({"count(up{a=~" + PromQLStringLiteral(QuoteRegex(v)) + "})", "{}", 1});
    checks.push_back({"count(up{a!~" + PromQLStringLiteral(QuoteRegex(v)) + "})", "{}",
                      static_cast<int>(kValues.size()) - 1});
  }
  // Selector translations: "1.2" and "x_y" are selected, "1x2" is not.
  struct SelectorCase {
    const char* selector;
    int count;
  };
  for (const SelectorCase& c :
       {SelectorCase{"a in (1.2,x_y)", 2}, SelectorCase{"a in (1.2)", 1}, SelectorCase{"a=1.2", 1},
        SelectorCase{"a,job=t", static_cast<int>(kValues.size())},
        SelectorCase{"a notin (1.2,x_y)", static_cast<int>(kValues.size()) - 2},
        SelectorCase{"a!=1.2", static_cast<int>(kValues.size()) - 1}}) {
    absl::StatusOr<aa::selector::Selector> s = aa::selector::Selector::Parse(c.selector);
    if (!s.ok()) return 1;
    absl::StatusOr<std::vector<std::string>> m =
        aa::selector::ToPromQLMatchers(*s, [](std::string_view k) { return std::string(k); });
    if (!m.ok()) return 1;
    std::string expr = "count(up{";
    for (size_t i = 0; i < m->size(); ++i) expr += (i ? "," : "") + (*m)[i];
    checks.push_back({expr + "})", "{}", c.count});
  }

  std::printf(
      "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n");
  for (size_t i = 0; i < kValues.size(); ++i) {
    const std::string series =
        "up{job=\"t\",i=\"" + std::to_string(i) + "\",a=" + PromQLStringLiteral(kValues[i]) + "}";
    std::printf("      - series: %s\n        values: '1'\n", Yaml(series).c_str());
  }
  std::printf("    promql_expr_test:\n");
  for (const Check& c : checks) {
    std::printf("      - expr: %s\n        eval_time: 0m\n        exp_samples:\n",
                Yaml(c.expr).c_str());
    std::printf("          - labels: %s\n            value: %d\n", Yaml(c.labels).c_str(), c.value);
  }
  return 0;
}
