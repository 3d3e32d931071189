#include "pipeline/pod_select.h"

#include <map>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "selector/selector.h"

namespace aa::pipeline {

absl::StatusOr<PodPredicate> PodSelector(const Snapshot& snapshot, std::string_view ns,
                                         std::string_view label_selector) {
  auto parsed = selector::Selector::Parse(label_selector);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid labelSelector: ", parsed.status().message()));
  }
  std::shared_ptr<const PodLabelsTable> index;
  if (auto it = snapshot.pod_labels.find(std::string(ns)); it != snapshot.pod_labels.end())
    index = it->second;
  if (parsed->Empty()) return PodPredicate();
  const bool from_kubernetes = index && index->from_kubernetes;
  LabelsPredicate match = LabelsMatcher(
      std::make_shared<const selector::Selector>(*std::move(parsed)), from_kubernetes);
  return PodPredicate([index, match = std::move(match)](const PodValue& pod) {
    if (!index) return false;
    auto it = index->pods.find(pod.pod);
    return it != index->pods.end() && match(it->second);
  });
}

LabelsPredicate LabelsMatcher(std::shared_ptr<const selector::Selector> sel, bool from_kubernetes) {
  if (from_kubernetes) {
    // Real label keys; an empty value is a value.
    return [sel = std::move(sel)](const prom::Labels& labels) {
      return sel->Matches([&](std::string_view key) -> std::optional<std::string_view> {
        for (const auto& [k, v] : labels) {
          if (k == key) return std::string_view(v);
        }
        return std::nullopt;
      });
    };
  }
  // The index holds kube-state-metrics' sanitized names without "label_": map the selector's keys
  // the same way, once per selector rather than once per object.
  auto names = std::make_shared<std::map<std::string, std::string, std::less<>>>();
  for (const auto& r : sel->requirements()) (*names)[r.key] = selector::SanitizeLabelName(r.key);
  return [sel = std::move(sel), names](const prom::Labels& labels) {
    return sel->Matches([&](std::string_view key) -> std::optional<std::string_view> {
      auto name = names->find(key);
      std::string_view v =
          name == names->end() ? std::string_view() : prom::LabelValue(labels, name->second);
      // Prometheus drops empty labels: absent and empty are alike.
      if (v.empty()) return std::nullopt;
      return v;
    });
  };
}

namespace {

template <typename Series>
prom::Labels KubeStateLabelsOf(const Series& series) {
  constexpr std::string_view kPrefix = "label_";
  prom::Labels labels;
  for (const auto& [name, value] : series) {
    std::string_view n = name;
    if (n.substr(0, kPrefix.size()) == kPrefix)
      labels.emplace_back(n.substr(kPrefix.size()), value);
  }
  return labels;
}

}  // namespace

prom::Labels KubeStateLabels(const prom::Labels& series) { return KubeStateLabelsOf(series); }

prom::Labels KubeStateLabels(
    std::span<const std::pair<std::string_view, std::string_view>> series) {
  return KubeStateLabelsOf(series);
}

std::optional<size_t> CountIndexedPods(const Snapshot& snapshot, std::string_view ns,
                                       std::string_view label_selector) {
  auto it = snapshot.pod_labels.find(std::string(ns));
  if (it == snapshot.pod_labels.end() || !it->second || !it->second->from_kubernetes) {
    return std::nullopt;
  }
  auto select = PodSelector(snapshot, ns, label_selector);
  if (!select.ok()) return std::nullopt;
  size_t n = 0;
  PodValue probe;
  for (const auto& [name, labels] : it->second->pods) {
    probe.pod = name;
    if (!*select || (*select)(probe)) ++n;
  }
  return n;
}

absl::StatusOr<std::string> InferenceServiceSelector(std::string_view name) {
  absl::Status valid = selector::ValidateLabelValue(name);
  if (!valid.ok() || name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid InferenceService name \"", ToAbsl(name),
                                                   "\": ", valid.ok() ? "empty" : valid.message()));
  }
  return absl::StrCat(ToAbsl(kInferenceServiceLabel), "=", ToAbsl(name));
}

}  // namespace aa::pipeline
