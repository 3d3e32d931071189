#pragma once
// Where a configuration error points in the file, for logs: the file, the line and the field.
// ParseConfig's and ValidateForRun's messages name the field by its path
// ("metrics[1].preset.window") and YAML syntax errors name the line; this finds the other one.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace aa::config {

struct ErrorLocation {
  std::string file;   // the source the message names (`source` when it does not start with it)
  int line = 0;       // 1-based; 0 when unknown
  std::string field;  // the field path, e.g. "metrics[1].preset.window"; "" when none
};

// Locates `error` (a ParseConfig / ValidateForRun error of the text `yaml_text` read from
// `source`): a syntax error gives its own line; a field path gives the line of that field in the
// text, or of its nearest ancestor present there (a field that a flag set, or a missing required
// key, points at the map that lacks it). Never fails: what it cannot find stays empty / 0.
ErrorLocation LocateError(const absl::Status& error, std::string_view source,
                          std::string_view yaml_text);

}  // namespace aa::config
