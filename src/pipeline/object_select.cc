#include "pipeline/object_select.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "pipeline/pod_select.h"
#include "selector/promql_escape.h"

namespace aa::pipeline {

std::string KubeStateLabelsSeries(const KubeResource& resource) {
  return absl::StrCat("kube_", resource.singular, "_labels");
}

std::string KubeStateNameLabel(const KubeResource& resource) {
  return resource.singular == "job" ? std::string("job_name") : resource.singular;
}

KubeStateObjectSource::KubeStateObjectSource(prom::Client& client, Clock& clock,
                                             absl::Duration cache_ttl)
    : client_(client), clock_(clock), cache_ttl_(cache_ttl) {}

std::string KubeStateObjectSource::Describe(const KubeResource& resource) const {
  return KubeStateLabelsSeries(resource);
}

absl::StatusOr<std::shared_ptr<const KubeStateObjectSource::Objects>> KubeStateObjectSource::Fetch(
    const KubeResource& resource, std::string_view ns) {
  std::string key = absl::StrCat(resource.GroupResource(), std::string(1, '\0'), ToAbsl(ns));
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && now - it->second.fetched < cache_ttl_) return it->second.objects;
  }
  const std::string series = KubeStateLabelsSeries(resource);
  const std::string name_label = KubeStateNameLabel(resource);
  std::string query =
      resource.namespaced
          ? absl::StrCat(series, "{namespace=", selector::PromQLStringLiteral(ns), "}")
          : series;
  // Read below: the object's name and kube-state-metrics' label_* (KubeStateLabels).
  prom::QueryOptions options;
  options.keep_labels = prom::LabelFilter::Only({name_label}, {"label_"});
  auto result = client_.Query(query, now, options);
  if (!result.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the labels of ", resource.GroupResource(), " from kube-state-metrics (",
                     query, ") could not be read from Prometheus: ", result.status().message()));
  }
  auto objects = std::make_shared<Objects>();
  for (prom::Sample& s : result->samples) {
    std::string name(prom::LabelValue(s.labels, name_label));
    if (name.empty()) continue;
    (*objects)[std::move(name)] = KubeStateLabels(s.labels);
  }
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= kMaxCached) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = now - it->second.fetched >= cache_ttl_ ? cache_.erase(it) : std::next(it);
    }
    if (cache_.size() >= kMaxCached) cache_.erase(cache_.begin());
  }
  cache_[key] = {now, objects};
  return std::shared_ptr<const Objects>(std::move(objects));
}

absl::StatusOr<std::vector<std::string>> KubeStateObjectSource::Select(
    const KubeResource& resource, std::string_view ns, const selector::Selector& selector) {
  auto objects = Fetch(resource, ns);
  if (!objects.ok()) return objects.status();
  LabelsPredicate match = LabelsMatcher(std::make_shared<const selector::Selector>(selector),
                                        /*from_kubernetes=*/false);
  std::vector<std::string> names;
  for (const auto& [name, labels] : **objects) {
    if (match(labels)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace aa::pipeline
