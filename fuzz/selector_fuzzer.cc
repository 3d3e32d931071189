// Fuzzes the label selector parser and the PromQL escaping helpers.
// Properties checked (abort on violation):
//  - Parse never fails with anything but InvalidArgument;
//  - accepted selectors round-trip: Parse(String()) succeeds, is equal, and prints the same
//    String();
//  - structural invariants: requirements sorted by key, values sorted and unique, value counts
//    per operator;
//  - Selector::Matches agrees with the conjunction of Requirement::Matches, for map and lookup
//    forms;
//  - every PromQL matcher produced is `name op "literal"` with a valid label name and a literal
//    that Prometheus' lexer accepts (balanced quotes, no raw newline or invalid UTF-8);
//  - on the raw input: PromQLStringLiteral and QuoteRegex output unquotes back to exactly the
//    input.
// Seed corpus: tests/testdata/selector/corpus/, dictionary: tests/testdata/selector/selector.dict.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "selector/promql_escape.h"
#include "selector/selector.h"

namespace {

using aa::selector::Op;
using aa::selector::Requirement;
using aa::selector::Selector;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsRegexMeta(char c) {
  return std::string_view(R"(\.+*?()|[]{}^$)").find(c) != std::string_view::npos;
}

// Undoes QuoteRegex, failing if a metacharacter is unescaped or a backslash escapes a
// non-metacharacter.
std::optional<std::string> UnquoteRegex(std::string_view q) {
  std::string out;
  for (size_t i = 0; i < q.size(); ++i) {
    if (q[i] == '\\') {
      if (i + 1 >= q.size() || !IsRegexMeta(q[i + 1])) return std::nullopt;
      out.push_back(q[++i]);
    } else {
      if (IsRegexMeta(q[i])) return std::nullopt;
      out.push_back(q[i]);
    }
  }
  return out;
}

void CheckEscaping(std::string_view input) {
  absl::StatusOr<std::string> back =
      aa::selector::UnquotePromQLString(aa::selector::PromQLStringLiteral(input));
  Check(back.ok() && *back == input);
  const std::string quoted = aa::selector::QuoteRegex(input);
  std::optional<std::string> unquoted = UnquoteRegex(quoted);
  Check(unquoted.has_value() && *unquoted == input);
  back = aa::selector::UnquotePromQLString(aa::selector::PromQLStringLiteral(quoted));
  Check(back.ok() && *back == quoted);
}

void CheckMatcher(std::string_view m) {
  size_t name_end = 0;
  while (name_end < m.size() && m[name_end] != '=' && m[name_end] != '!') ++name_end;
  Check(aa::selector::IsValidPrometheusLabelName(m.substr(0, name_end)));
  std::string_view rest = m.substr(name_end);
  size_t op_len = 0;
  for (std::string_view op : {"=~", "!~", "!=", "="}) {
    if (rest.substr(0, op.size()) == op) {
      op_len = op.size();
      break;
    }
  }
  Check(op_len > 0);
  Check(aa::selector::UnquotePromQLString(rest.substr(op_len)).ok());
}

void CheckInvariants(const Selector& s) {
  const std::vector<Requirement>& reqs = s.requirements();
  for (size_t i = 0; i < reqs.size(); ++i) {
    const Requirement& r = reqs[i];
    if (i > 0) Check(reqs[i - 1].key <= r.key);
    Check(aa::selector::ValidateLabelKey(r.key).ok());
    for (size_t k = 0; k < r.values.size(); ++k) {
      Check(aa::selector::ValidateLabelValue(r.values[k]).ok());
      if (k > 0) Check(r.values[k - 1] < r.values[k]);
    }
    switch (r.op) {
      case Op::kExists:
      case Op::kDoesNotExist:
        Check(r.values.empty());
        break;
      case Op::kIn:
      case Op::kNotIn:
        Check(!r.values.empty());
        break;
      case Op::kGreaterThan:
      case Op::kLessThan:
        Check(r.values.size() == 1 && aa::selector::ParseInt64(r.values[0]).has_value());
        break;
      default:
        Check(r.values.size() == 1);
    }
  }
}

void CheckMatching(const Selector& s, const Selector& reparsed) {
  // Label sets derived from the selector itself: each key set to the first/last value of its
  // requirement, plus the empty set.
  for (int variant = 0; variant < 3; ++variant) {
    std::map<std::string, std::string, std::less<>> labels;
    if (variant > 0) {
      for (const Requirement& r : s.requirements()) {
        if (r.values.empty()) {
          labels[r.key] = "1";
        } else {
          labels[r.key] = variant == 1 ? r.values.front() : r.values.back() + "0";
        }
      }
    }
    bool all = true;
    auto lookup = [&labels](std::string_view key) -> std::optional<std::string_view> {
      auto it = labels.find(key);
      if (it == labels.end()) return std::nullopt;
      return std::string_view(it->second);
    };
    for (const Requirement& r : s.requirements()) all = all && r.Matches(lookup);
    Check(s.Matches(labels) == all);
    Check(s.Matches(lookup) == all);
    Check(reparsed.Matches(labels) == all);
  }
}

void CheckPromQL(const Selector& s) {
  bool has_comparison = false;
  for (const Requirement& r : s.requirements()) {
    has_comparison = has_comparison || r.op == Op::kGreaterThan || r.op == Op::kLessThan;
  }
  absl::StatusOr<std::vector<std::string>> identity =
      aa::selector::ToPromQLMatchers(s, [](std::string_view k) { return std::string(k); });
  absl::StatusOr<std::vector<std::string>> ksm =
      aa::selector::ToPromQLMatchers(s, aa::selector::KubeStateMetricsLabelName);
  if (has_comparison) {
    Check(!identity.ok() && !ksm.ok());
    return;
  }
  Check(ksm.ok());  // every valid key maps to a valid kube-state-metrics name
  Check(ksm->size() == s.requirements().size());
  for (const std::string& m : *ksm) CheckMatcher(m);
  if (identity.ok()) {
    for (const std::string& m : *identity) CheckMatcher(m);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckEscaping(input);

  absl::StatusOr<Selector> s = Selector::Parse(input);
  if (!s.ok()) {
    Check(s.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const std::string printed = s->String();
  absl::StatusOr<Selector> reparsed = Selector::Parse(printed);
  Check(reparsed.ok());
  Check(reparsed->String() == printed);
  Check(*reparsed == *s);
  Check(s->Empty() == printed.empty());
  CheckInvariants(*s);
  CheckMatching(*s, *reparsed);
  CheckPromQL(*s);
  return 0;
}
