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

std::string_view SampleRef::Label(std::string_view name) const {
  for (const auto& [n, v] : labels) {
    if (n == name) return v;
  }
  return {};
}

LabelFilter LabelFilter::Only(std::vector<std::string> names, std::vector<std::string> prefixes) {
  LabelFilter f;
  f.all = false;
  for (auto& n : names) {
    if (!n.empty()) f.names.push_back(std::move(n));
  }
  for (auto& p : prefixes) {
    if (!p.empty()) f.prefixes.push_back(std::move(p));
  }
  return f;
}

bool LabelFilter::Keeps(std::string_view name) const {
  if (all) return true;
  for (const auto& n : names) {
    if (name == n) return true;
  }
  for (const auto& p : prefixes) {
    if (name.starts_with(p)) return true;
  }
  return false;
}

}  // namespace aa::prom
