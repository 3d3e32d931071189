#include "prometheus/types.h"

#include <algorithm>

namespace aa::prom {

std::string_view LabelValue(const Labels& labels, std::string_view name) {
  // Sorted by name: binary search.
  auto it = std::lower_bound(
      labels.begin(), labels.end(), name,
      [](const std::pair<std::string, std::string>& l, std::string_view n) { return l.first < n; });
  if (it != labels.end() && it->first == name) return it->second;
  return {};
}

}  // namespace aa::prom
