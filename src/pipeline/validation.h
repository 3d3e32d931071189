#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace aa::pipeline {

// A Kubernetes namespace name is a DNS-1123 label: 1-63 of [a-z0-9-], starting and ending
// alphanumeric. InvalidArgument naming the value otherwise. Validated names need no escaping inside
// PromQL.
absl::Status ValidateNamespace(std::string_view ns);

}  // namespace aa::pipeline
