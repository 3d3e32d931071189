#include "pipeline/metric_set.h"

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace aa::pipeline {

const config::MetricDefinition* MetricSet::Find(const config::MetricResource& resource,
                                                std::string_view name) const {
  auto it = resource.is(config::MetricResource::Kind::kPods)
                ? by_key.find(name)
                : by_key.find(absl::StrCat(resource.name(), "/", ToAbsl(name)));
  return it == by_key.end() ? nullptr : &definitions[it->second];
}

std::vector<const config::MetricDefinition*> MetricSet::FindAll(std::string_view name) const {
  std::vector<const config::MetricDefinition*> out;
  auto it = by_name.find(name);
  if (it == by_name.end()) return out;
  out.reserve(it->second.size());
  for (size_t i : it->second) out.push_back(&definitions[i]);
  return out;
}

}  // namespace aa::pipeline
