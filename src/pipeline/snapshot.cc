#include "pipeline/snapshot.h"

#include <algorithm>

namespace aa::pipeline {

const PodValue* MetricTable::Find(std::string_view pod) const {
  auto it = std::lower_bound(pods.begin(), pods.end(), pod,
                             [](const PodValue& v, std::string_view p) { return v.pod < p; });
  return it != pods.end() && it->pod == pod ? &*it : nullptr;
}

SharedLabels::SharedLabels(prom::Labels labels)
    : labels_(std::make_shared<const prom::Labels>(std::move(labels))) {}

const prom::Labels& SharedLabels::get() const {
  static const auto* const kNone = new prom::Labels();
  return labels_ ? *labels_ : *kNone;
}

SharedLabels SharedLabelsMaker::Make(prom::Labels labels) {
  auto [it, inserted] = seen_.try_emplace(std::move(labels));
  if (inserted) it->second = std::make_shared<const prom::Labels>(it->first);
  return SharedLabels(it->second);
}

const Slot* Snapshot::FindSlot(const SlotKey& key) const {
  auto it = slots.find(key);
  return it == slots.end() ? nullptr : &it->second;
}

std::vector<std::string> Snapshot::Namespaces(std::string_view metric_key) const {
  std::vector<std::string> out;
  for (const auto& [key, slot] : slots) {
    if (key.metric == metric_key && key.matchers.empty() && key.ns != kAllNamespaces) {
      out.push_back(key.ns);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const prom::Labels* Snapshot::FindPodLabels(std::string_view ns, std::string_view pod) const {
  auto it = pod_labels.find(std::string(ns));
  if (it == pod_labels.end() || !it->second) return nullptr;
  auto p = it->second->pods.find(pod);
  return p == it->second->pods.end() ? nullptr : &p->second.get();
}

}  // namespace aa::pipeline
