#pragma once
// The metric definitions the pipeline serves, as one immutable set.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace aa::pipeline {

// The metric definitions the sampler serves: the config's `metrics:` entries, then the ones
// discovered from prometheus-adapter rules. Immutable once published; replaced as a whole.
struct MetricSet {
  uint64_t version = 0;  // grows with every replacement
  std::vector<config::MetricDefinition> definitions;
  size_t configured = 0;  // the first `configured` definitions are the config's `metrics:`
  std::map<std::string, size_t, std::less<>> by_key;  // MetricDefinition::Key() -> index
  // name -> indexes of the definitions by_key serves under that name, one per resource, in
  // definition order.
  std::map<std::string, std::vector<size_t>, std::less<>> by_name;

  // The definition of `name` for `resource`, or nullptr.
  const config::MetricDefinition* Find(const config::MetricResource& resource,
                                       std::string_view name) const;
  // Every definition served under `name` (one per resource), in definition order.
  std::vector<const config::MetricDefinition*> FindAll(std::string_view name) const;
};

}  // namespace aa::pipeline
