#pragma once

#include <string>

#include "absl/time/time.h"

namespace aa {

// RFC 3339 in UTC, milliseconds: "2026-11-28T10:00:00.123Z". absl::InfinitePast() prints "never".
std::string FormatRfc3339Millis(absl::Time t);
// RFC 3339 in UTC without fraction, as Kubernetes prints metav1.Time: "2026-11-28T10:00:00Z".
std::string FormatRfc3339Seconds(absl::Time t);

}  // namespace aa
