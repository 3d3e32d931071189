#include "kube/watched_pod_labels.h"

#include <utility>

namespace aa::kube {

std::shared_ptr<const pipeline::PodLabelsTable> WatchedPodLabels::PodLabels(std::string_view ns) {
  std::shared_ptr<const NamespacePods> pods = watch_.Pods(ns);
  if (!pods) return nullptr;
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(ns);
  if (it != cache_.end() && it->second.source == pods) {
    return it->second.table;
  }
  auto table = std::make_shared<pipeline::PodLabelsTable>();
  table->from_kubernetes = true;
  table->sampled_at = clock_.Now();
  table->pods.reserve(pods->pods.size());
  pipeline::SharedLabelsMaker shared;  // the pods of one workload have the same labels
  for (const auto& [name, pod] : pods->pods) {
    if (pod.terminating || pod.phase == "Succeeded" || pod.phase == "Failed") continue;
    prom::Labels labels(pod.labels.begin(), pod.labels.end());  // std::map: sorted by key
    table->pods.emplace(name, shared.Make(std::move(labels)));
  }
  std::shared_ptr<const pipeline::PodLabelsTable> out = std::move(table);
  if (it == cache_.end()) {
    cache_.emplace(std::string(ns), Cached{std::move(pods), out});
  } else {
    it->second = Cached{std::move(pods), out};
  }
  return out;
}

bool WatchedPodLabels::HasPods(std::string_view ns) {
  std::shared_ptr<const NamespacePods> pods = watch_.Pods(ns);
  return pods != nullptr && !pods->pods.empty();
}

void WatchedPodLabels::Forget(std::string_view ns) {
  absl::MutexLock lock(&mu_);
  if (auto it = cache_.find(ns); it != cache_.end()) cache_.erase(it);
}

size_t WatchedPodLabels::cached_namespaces() {
  absl::MutexLock lock(&mu_);
  return cache_.size();
}

}  // namespace aa::kube
