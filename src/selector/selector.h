#pragma once
// Kubernetes label selectors (the string form of apimachinery's pkg/labels): parsing with
// upstream's validation, matching against label sets, the canonical string form, and translation
// into PromQL matchers.
//
// Grammar (whitespace ' ', '\t', '\r', '\n' is skipped between tokens):
//   selector    ::= "" | requirement ("," requirement)*
//   requirement ::= ["!"] KEY
//                 | KEY ("=" | "==" | "!=") [VALUE]
//                 | KEY ("in" | "notin") "(" [VALUE] ("," [VALUE])* ")"
//                 | KEY (">" | "<") INTEGER
// An identifier (key or value) runs up to whitespace or one of `= ! ( ) , > <`. `in` and `notin`
// are keywords only in operator position: `in=notin` and `x in (in,notin)` are valid.
// KEY: optional DNS-1123 subdomain prefix (lowercase, <= 253 chars) and '/', then a name of
// 1..63 chars matching [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?.
// VALUE: empty, or 1..63 chars of the same form as a key name. An empty slot in a set (`()`,
// `(a,)`, `(,a)`, `(a,,b)`) is the empty value, as upstream.
// INTEGER: a VALUE that parses as a decimal int64 (so digits only: `x>-1` is invalid, as upstream).
//
// Follows the current upstream parser, where `(a,,)` is valid (older releases rejected an empty
// slot right after ",,"). Deliberate difference from upstream: a NUL byte is rejected (upstream's
// lexer treats it as end of input). Requirements with the same key keep their input order
// (upstream's sort is unstable there).
//
// All types here are immutable values; thread-compatible, and const methods are safe to call
// concurrently.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "selector/promql_escape.h"

namespace aa::selector {

enum class Op {
  kEquals,        // key=value
  kDoubleEquals,  // key==value: same meaning as kEquals, kept apart only so String() prints it back
                  // as upstream
  kNotEquals,     // key!=value: also matches when the key is absent
  kIn,            // key in (a,b): key present with one of the values
  kNotIn,         // key notin (a,b): key absent, or its value is none of the values
  kExists,        // key
  kDoesNotExist,  // !key
  kGreaterThan,   // key>N: key present and its value parses as int64 > N
  kLessThan,      // key<N: key present and its value parses as int64 < N
};

// Operator as written in String() without surrounding spaces: "=", "==", "!=", "in", "notin", "",
// "!", ">", "<".
std::string_view OpName(Op op);

struct Requirement {
  std::string key;
  Op op = Op::kExists;
  // Sorted and unique. Exactly one value for =, ==, !=, >, <; at least one for in/notin; none for
  // exists and does-not-exist.
  std::vector<std::string> values;

  // Whether this requirement holds for the label set given by `lookup` (nullopt = key absent).
  bool Matches(
      const std::function<std::optional<std::string_view>(std::string_view key)>& lookup) const;
  // Upstream's string form: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`,
  // `k<1`.
  std::string String() const;

  friend bool operator==(const Requirement&, const Requirement&) = default;
};

class Selector {
 public:
  // The empty selector: no requirements, matches everything.
  Selector() = default;

  // Parses the string form. Errors: InvalidArgument whose message names the byte offset and the
  // offending token (escaped and truncated) and what was expected, or the key/value that failed
  // validation and why. Runs in O(n log n) time for n input bytes (linear lexing and validation,
  // plus sorting).
  static absl::StatusOr<Selector> Parse(std::string_view text);

  // True when there are no requirements (matches everything).
  bool Empty() const { return requirements_.empty(); }

  // Requirements sorted by key (stable), as upstream's parser orders them.
  const std::vector<Requirement>& requirements() const { return requirements_; }

  // True when every requirement matches. `lookup` returns a label's value, or nullopt when the
  // label is absent.
  bool Matches(
      const std::function<std::optional<std::string_view>(std::string_view key)>& lookup) const;
  bool Matches(const std::map<std::string, std::string, std::less<>>& labels) const;

  // Canonical form as upstream prints it: requirements joined by ",", in requirements() order,
  // values sorted. Parse(String()) gives back an equal selector. The empty selector prints "".
  std::string String() const;

  friend bool operator==(const Selector&, const Selector&) = default;

 private:
  std::vector<Requirement> requirements_;
};

// Translates `s` to PromQL label matchers, one per requirement in requirements() order, e.g.
// {`app="web"`, `tier=~"a|b"`}. Each key is passed through `map_key` (identity for series labels,
// KubeStateMetricsLabelName for kube_pod_labels); a mapped name that is not a valid Prometheus
// label name -> InvalidArgument naming the key. Mapping: = and == -> `=`, != -> `!=`, in ->
// `=~"v1|v2"`, notin -> `!~"v1|v2"`, exists -> `!=""`, !key -> `=""`. Values are regex-quoted
// (QuoteRegex) for =~ and !~ and always escaped as PromQL string literals (EscapePromQLString), so
// no value can change the structure of the query. > and < have no PromQL matcher ->
// InvalidArgument. The empty selector gives an empty vector.
//
// Semantics: Prometheus does not distinguish an absent label from an empty one, so requirements
// that tell the two apart in Kubernetes (`k in (,a)`, `k=`, `k!=`) select "absent or empty" alike
// in PromQL.
absl::StatusOr<std::vector<std::string>> ToPromQLMatchers(
    const Selector& s, const std::function<std::string(std::string_view key)>& map_key);

// A selector over a metric's own series labels: prometheus-adapter's metricLabelSelector, or the
// labelSelector of an externalRules metric (external.metrics.k8s.io, KEDA triggers). Keys are
// Prometheus label names, taken as written.
struct SeriesSelector {
  Selector selector;     // as parsed
  std::string matchers;  // ToPromQLMatchers(selector, identity) joined by ","; "" = every series
};

// Parses `text` (Kubernetes selector syntax) into a SeriesSelector. `field` names the parameter or
// key in errors: InvalidArgument "<field>: <parse problem>" for a malformed selector, or
// "<field> \"<text>\": <problem>" for one PromQL cannot express (`>`/`<`, or a key that is not a
// Prometheus label name). The empty text selects every series.
absl::StatusOr<SeriesSelector> ParseSeriesSelector(std::string_view text, std::string_view field);

// Every byte of `key` outside [a-zA-Z0-9_] replaced by '_' ("app.kubernetes.io/name" ->
// "app_kubernetes_io_name"), as kube-state-metrics sanitizes label keys. No prefix is added.
std::string SanitizeLabelName(std::string_view key);

// kube-state-metrics' label name for a Kubernetes label key: "label_" + key with every byte outside
// [a-zA-Z0-9_] replaced by '_' (so "app.kubernetes.io/name" -> "label_app_kubernetes_io_name").
std::string KubeStateMetricsLabelName(std::string_view key);

// Upstream's label validation, exposed for other components (e.g. metricLabels in responses).
// Each returns OK or InvalidArgument explaining what is wrong with the given key/value.
absl::Status ValidateLabelKey(std::string_view key);
absl::Status ValidateLabelValue(std::string_view value);

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no spaces, within int64.
std::optional<int64_t> ParseInt64(std::string_view s);

}  // namespace aa::selector
