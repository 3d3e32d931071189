#pragma once
// The Kubernetes resource one value of a metric describes, typed. The well-known resources the
// adapter treats specially have a kind of their own; any other group resource a
// prometheus-adapter rule maps a label to ("services", "deployments.apps") is kOther with its
// name. Code compares kinds, never names: the wire names ("pods", "deployments.apps",
// "external") are mapped to and from at the edges (config, discovery, request paths, KEDA
// metadata) with FromName() and name().

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/enum_names.h"

namespace aa::config {

class MetricResource {
 public:
  enum class Kind {
    kPods,         // "pods": per pod (`metrics:` entries and pod rules)
    kNamespaces,   // "namespaces": the namespace itself (rules grouped by the namespace label)
    kNodes,        // "nodes": rule metrics of nodes
    kContainers,   // "containers": per container, for metrics.k8s.io (cpu and memory)
    kNodeMetrics,  // "nodemetrics": per node, for metrics.k8s.io (cpu and memory)
    kExternal,     // "external": externalRules series
    kOther,        // any other group resource, by name
  };

  // Pods.
  MetricResource() = default;
  static MetricResource Pods() { return MetricResource(); }
  static MetricResource Namespaces() { return MetricResource(Kind::kNamespaces, "namespaces"); }
  static MetricResource Containers() { return MetricResource(Kind::kContainers, "containers"); }
  static MetricResource NodeMetrics() { return MetricResource(Kind::kNodeMetrics, "nodemetrics"); }
  static MetricResource External() { return MetricResource(Kind::kExternal, "external"); }
  // KEDA ad-hoc queries (Sampler::DefineAdhoc): external-like series, named "keda-adhoc".
  // FromName() never gives it (that name is kOther there), so no request path can reach them.
  static MetricResource KedaAdhoc() { return MetricResource(Kind::kExternal, "keda-adhoc"); }

  // From its wire name: the well-known names give their kind, anything else is kOther with `name`
  // as given (group resources are lower-case "plural.group" by convention, e.g.
  // "deployments.apps").
  static MetricResource FromName(std::string_view name) {
    std::optional<Kind> kind = ValueOf(name, kWellKnown);
    return MetricResource(kind.value_or(Kind::kOther), std::string(name));
  }

  Kind kind() const { return kind_; }
  bool is(Kind kind) const { return kind_ == kind; }
  // The wire name: "pods", "namespaces", "deployments.apps", "external"...
  const std::string& name() const { return name_; }

  friend bool operator==(const MetricResource& a, const MetricResource& b) {
    return a.kind_ == b.kind_ && a.name_ == b.name_;
  }
  friend bool operator!=(const MetricResource& a, const MetricResource& b) { return !(a == b); }

 private:
  MetricResource(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}
  // The wire names of the well-known kinds (kOther has none).
  static constexpr EnumName<Kind> kWellKnown[] = {{Kind::kPods, "pods"},
                                                  {Kind::kNamespaces, "namespaces"},
                                                  {Kind::kNodes, "nodes"},
                                                  {Kind::kContainers, "containers"},
                                                  {Kind::kNodeMetrics, "nodemetrics"},
                                                  {Kind::kExternal, "external"}};

  Kind kind_ = Kind::kPods;
  std::string name_ = "pods";
};

}  // namespace aa::config
