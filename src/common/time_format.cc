#include "common/time_format.h"

namespace aa {

std::string FormatRfc3339Millis(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string FormatRfc3339Seconds(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace aa
