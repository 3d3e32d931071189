#pragma once
// The subset of Go's text/template that prometheus-adapter configs use, with its `<<` `>>`
// delimiters. Supported:
//   text and actions, with Go's trim markers (`<<- ` trims the white space before the action,
//     ` ->>` the white space after it) and comments `<</* ... */>>`;
//   operands: fields `.Name` (of the names given to Parse), `.` (dot), `$` and `$.Name` (the
//     data), variables `$x`, string ("..." or `...`), integer, true and false literals, and
//     parenthesized calls;
//   the functions index, len, not, and, or, eq, ne, lt, le, gt, ge (Go's built-ins of the same
//     names, on strings, integers, booleans, lists and maps);
//   `<<$x := pipeline>>`, `<<$x = pipeline>>`;
//   `<<if p>> ... <<else if p>> ... <<else>> ... <<end>>`, `<<with p>> ... <<else>> ... <<end>>`,
//   `<<range p>>`, `<<range $v := p>>`, `<<range $i, $v := p>> ... <<else>> ... <<end>>` over
//     lists (index, element) and maps (key, value; keys in sorted order, as Go).
// Values print as Go's fmt does: a list as [a b], a map as map[k1:v1 k2:v2]. Everything else
// (pipes `|`, other functions such as printf, template/define/block, break/continue, field
// chains, fields not given to Parse) is rejected at parse time naming the construct and its line.
//
// Bounded: templates nest at most 32 deep; Execute stops with an error after kMaxSteps nodes or
// `max_output_bytes` of output, so no data makes it loop or grow without bound (there is no
// recursion: templates cannot call templates).
// Immutable after Parse; thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aa::config {

// A value of the template's data: a string, a list of strings (GroupBySlice) or a map of strings
// (LabelValuesByName).
struct TemplateValue {
  enum class Kind { kString, kList, kMap };
  Kind kind = Kind::kString;
  std::string str;
  std::vector<std::string> list;
  std::map<std::string, std::string> map;

  TemplateValue() = default;
  TemplateValue(std::string s) : str(std::move(s)) {}  // NOLINT: implicit on purpose
  TemplateValue(const char* s) : str(s) {}             // NOLINT
  static TemplateValue List(std::vector<std::string> l) {
    TemplateValue v;
    v.kind = Kind::kList;
    v.list = std::move(l);
    return v;
  }
  static TemplateValue Map(std::map<std::string, std::string> m) {
    TemplateValue v;
    v.kind = Kind::kMap;
    v.map = std::move(m);
    return v;
  }
};
using TemplateData = std::map<std::string, TemplateValue, std::less<>>;

class GoTemplate {
 public:
  static constexpr int64_t kMaxSteps = 100000;
  static constexpr size_t kMaxOutputBytes = 1 << 20;

  // Parses `text`; `fields` are the field names allowed (e.g. {"Series", "LabelMatchers"}).
  // InvalidArgument "line N: unsupported template construct "<<...>>" (why); supported here: ..."
  // (N 1-based within `text`), "line N: unterminated template action ...", or "line N: ..." for
  // an unbalanced if/range/with/else/end or an undefined variable.
  static absl::StatusOr<GoTemplate> Parse(std::string_view text,
                                          const std::vector<std::string_view>& fields);

  // Runs the template on `data` (every field the template uses must be in it). InvalidArgument
  // "line N: ..." for what Go reports at execution (index out of range, comparing a string with a
  // number, a field of something that is not the data), or when the output would exceed
  // `max_output_bytes` or the run kMaxSteps.
  absl::StatusOr<std::string> Execute(const TemplateData& data,
                                      size_t max_output_bytes = kMaxOutputBytes) const;

  // Staged rendering with string values: every top-level action or block whose fields are all in
  // `values` is executed; the others are written back as they are, a lone field as the canonical
  // action `<<.Name>>`, so the result parses again and renders the rest later.
  std::string Render(const std::map<std::string, std::string, std::less<>>& values) const;

  // Whether the template uses field `name` (anywhere, also as `$.Name`).
  bool Uses(std::string_view name) const;

  struct Node;  // the parse tree (go_template.cc)

 private:
  std::string text_;  // the source, for staged rendering
  std::shared_ptr<const std::vector<Node>> nodes_;
};

}  // namespace aa::config
