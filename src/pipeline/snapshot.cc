#include "pipeline/snapshot.h"

#include <algorithm>

namespace aa::pipeline {

const PodValue* MetricTable::Find(std::string_view pod) const {
  auto it = std::lower_bound(pods.begin(), pods.end(), pod,
                             [](const PodValue& v, std::string_view p) { return v.pod < p; });
  return it != pods.end() && it->pod == pod ? &*it : nullptr;
}

std::string SlotKey(std::string_view metric, std::string_view ns) {
  std::string key;
  key.reserve(metric.size() + ns.size() + 1);
  key.append(metric);
  key.push_back('\0');  // neither metric names nor namespaces contain NUL
  key.append(ns);
  return key;
}

const Slot* Snapshot::FindSlot(std::string_view metric, std::string_view ns) const {
  auto it = slots.find(SlotKey(metric, ns));
  return it == slots.end() ? nullptr : &it->second;
}

const prom::Labels* Snapshot::FindPodLabels(std::string_view ns, std::string_view pod) const {
  auto it = pod_labels.find(std::string(ns));
  if (it == pod_labels.end() || !it->second) return nullptr;
  auto p = it->second->pods.find(std::string(pod));
  return p == it->second->pods.end() ? nullptr : &p->second;
}

}  // namespace aa::pipeline
