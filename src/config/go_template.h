#pragma once
// The subset of Go's text/template that prometheus-adapter configs use, with its `<<` `>>`
// delimiters: literal text and field actions `<<.Name>>`, with optional spaces inside the
// delimiters and Go's trim markers (`<<- ` trims the white space before the action, ` ->>` the
// white space after it). Anything else (pipelines, functions, range/if, comments, variables) is
// rejected at parse time, naming the construct and its line. Immutable after Parse; thread-safe.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aa::config {

class GoTemplate {
 public:
  // Parses `text`; `fields` are the field names allowed (e.g. {"Series", "LabelMatchers"}).
  // InvalidArgument "line N: unsupported template construct "<<...>>": ..." (N 1-based within
  // `text`) or "line N: unterminated template action ..." on anything outside the subset.
  static absl::StatusOr<GoTemplate> Parse(std::string_view text,
                                          const std::vector<std::string_view>& fields);

  // Renders the template. Fields absent from `values` are written back as the canonical action
  // `<<.Name>>` (so a template can be rendered in stages).
  std::string Render(const std::map<std::string, std::string, std::less<>>& values) const;

  // Whether the template uses field `name`.
  bool Uses(std::string_view name) const;

 private:
  struct Segment {
    bool is_field = false;
    std::string text;  // literal text, or the field name
  };
  std::vector<Segment> segments_;
};

}  // namespace aa::config
