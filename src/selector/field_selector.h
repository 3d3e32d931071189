#pragma once
// Kubernetes field selectors (the string form of apimachinery's pkg/fields), as the generic
// apiserver reads `fieldSelector` for objects whose only selectable fields are their metadata
// (metrics-server's PodMetrics and NodeMetrics):
//   selector ::= "" | term ("," term)*          terms split on unescaped ','; empty terms skipped
//   term     ::= FIELD ("!=" | "==" | "=") VALUE  split at the first operator (no escaping in
//   FIELD)
// VALUE escapes '\', ',' and '=' with a backslash; anything else after a backslash, a trailing
// backslash, or a bare ',' or '=' in VALUE is an error. Only `metadata.name` and
// `metadata.namespace` are known fields (upstream's default field label conversion); any other is
// refused, also for objects that have no namespace (where metadata.namespace reads as "").
//
// Errors (InvalidArgument) carry upstream's messages word for word, as kube-apiserver and
// metrics-server answer them (400 BadRequest):
//   invalid selector: '<selector>'; can't understand '<term>'
//   invalid field selector: invalid escape sequence: <sequence>
//   invalid field selector: unescaped character in value: <code point, decimal>
//   "<field>" is not a known field selector: only "metadata.name", "metadata.namespace"
// Terms are checked in sorted order, as upstream, so the first error is upstream's first error.
//
// Immutable value; thread-compatible.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aa::selector {

class FieldSelector {
 public:
  // The selectable fields of one object; an empty `ns` for objects without a namespace.
  struct Fields {
    std::string_view name;
    std::string_view ns;
  };

  static absl::StatusOr<FieldSelector> Parse(std::string_view text);

  // Whether every term holds: `=`/`==` the field equals the value, `!=` it does not.
  bool Matches(const Fields& fields) const;
  // True for the selector that selects everything.
  bool Empty() const { return terms_.empty(); }

 private:
  struct Term {
    bool name = false;  // metadata.name, else metadata.namespace
    bool equals = true;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace aa::selector
