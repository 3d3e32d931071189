#pragma once
// Durations written the Go way ("5s", "1m30s", "250ms", "2h"), as Kubernetes and Prometheus users
// write them.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa {

// Parses a non-negative Go duration. Accepts the units ns, us, µs, ms, s, m, h and, as Prometheus
// does, d and w. Returns InvalidArgument naming the text for anything else (empty, negative, "inf",
// no unit, unknown unit).
absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text);

// Formats a duration the way Go and Kubernetes print it ("15s", "1m0s", "1.5s").
std::string FormatGoDuration(absl::Duration d);

}  // namespace aa
