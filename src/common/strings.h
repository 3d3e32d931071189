#pragma once
// Debian's Abseil 20220623 is built with ABSL_OPTION_USE_STD_STRING_VIEW=0: absl::string_view is
// its own type and absl::StrCat does not take a std::string_view. Our interfaces use
// std::string_view; these bridge the two.

#include <string_view>

#include "absl/strings/string_view.h"

namespace aa {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view FromAbsl(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace aa
