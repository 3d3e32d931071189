#include "keda/metadata.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/strings.h"
#include "pipeline/discovery.h"
#include "pipeline/pod_select.h"
#include "pipeline/validation.h"
#include "selector/selector.h"

namespace aa::keda {
namespace {

constexpr size_t kMaxQuotedBytes = 64;

// The value as it appears in messages: JSON-escaped, cut to a readable length.
std::string Quote(std::string_view v) {
  if (v.size() <= kMaxQuotedBytes) return absl::StrCat("\"", JsonEscape(v), "\"");
  return absl::StrCat("\"", JsonEscape(v.substr(0, kMaxQuotedBytes)), "\"... (", v.size(),
                      " bytes)");
}

absl::Status KeyError(std::string_view key, std::string_view problem, std::string_view value) {
  return absl::InvalidArgumentError(absl::StrCat("scalerMetadata.", ToAbsl(key), ": ",
                                                 ToAbsl(problem), " (got ", Quote(value), ")"));
}

std::string_view TrimBlanks(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// A plain decimal number: from_chars' general format (no leading '+', no hex), whole text, finite.
absl::StatusOr<double> ParseNumber(std::string_view key, std::string_view text) {
  std::string_view t = TrimBlanks(text);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    return KeyError(key, "must be a decimal number", text);
  }
  if (!std::isfinite(v)) return KeyError(key, "must be a finite number", text);
  return v;
}

absl::StatusOr<int64_t> ParseInteger(std::string_view key, std::string_view text) {
  std::string_view t = TrimBlanks(text);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    return KeyError(key, "must be an integer", text);
  }
  return v;
}

std::string_view Lookup(const Metadata& md, std::string_view key, bool* present) {
  auto it = md.find(key);
  *present = it != md.end();
  return *present ? it->second : std::string_view();
}

// A resource name as API paths spell it: lowercase DNS-1123 subdomain ("foos.example.com").
bool IsResourceName(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.' || s.front() == '-' ||
      s.back() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

}  // namespace

bool IsKedaKey(std::string_view key) {
  static constexpr std::string_view kKedaKeys[] = {"scalerAddress", "enableTLS", "unsafeSsl",
                                                   "tlsCertFile",   "caCert",    "tlsClientCert",
                                                   "tlsClientKey"};
  for (std::string_view k : kKedaKeys) {
    if (k == key) return true;
  }
  return false;
}

std::string Trigger::MetricName() const {
  if (inference_service.empty()) return metric;
  return absl::StrCat(metric, "-", inference_service);
}

absl::StatusOr<Trigger> ParseTrigger(const Metadata& metadata, std::string_view ref_namespace) {
  if (metadata.size() > kMaxMetadataEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("scalerMetadata: too many keys: ", metadata.size(), " (at most ",
                     kMaxMetadataEntries, ")"));
  }
  Trigger t;
  for (const auto& [key, value] : metadata) {
    if (key.size() > kMaxMetadataKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scalerMetadata: key ", Quote(key), " is longer than ", kMaxMetadataKeyBytes, " bytes"));
    }
    if (value.size() > kMaxMetadataValueBytes) {
      return KeyError(key, absl::StrCat("value longer than ", kMaxMetadataValueBytes, " bytes"),
                      value);
    }
    bool ours = key == kKeyMetric || key == kKeyResource || key == kKeyNamespace ||
                key == kKeyInferenceService || key == kKeyLabelSelector || key == kKeyTarget ||
                key == kKeyContainerConcurrency || key == kKeyTargetUtilizationPercentage ||
                key == kKeyActivationThreshold;
    if (!ours && !IsKedaKey(key)) t.unknown_keys.emplace_back(key);
  }

  bool present = false;
  std::string_view metric = TrimBlanks(Lookup(metadata, kKeyMetric, &present));
  if (!present) {
    return absl::InvalidArgumentError(
        "scalerMetadata.metric: required: the name of a metric this adapter serves");
  }
  if (metric.empty()) return KeyError(kKeyMetric, "must not be empty", metric);
  t.metric = std::string(metric);

  std::string_view resource = TrimBlanks(Lookup(metadata, kKeyResource, &present));
  if (present) {
    if (resource == "external") {
      t.resource = "external";
    } else if (const pipeline::KubeResource* r = pipeline::FindKubeResource(resource)) {
      t.resource = r->GroupResource();
    } else if (IsResourceName(resource)) {
      t.resource = std::string(resource);  // e.g. a custom resource a rule's override names
    } else {
      return KeyError(kKeyResource,
                      "must be a Kubernetes resource (pods, namespaces, services, "
                      "deployments.apps...) or external",
                      resource);
    }
  }

  std::string_view ns = Lookup(metadata, kKeyNamespace, &present);
  if (present) {
    if (absl::Status s = pipeline::ValidateNamespace(ns); !s.ok()) {
      return KeyError(kKeyNamespace, "must be a Kubernetes namespace name (a DNS-1123 label)", ns);
    }
  } else {
    ns = ref_namespace;
    if (absl::Status s = pipeline::ValidateNamespace(ns); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScaledObjectRef.namespace: ",
                       ns.empty() ? "empty, and scalerMetadata.namespace is not set"
                                  : "must be a Kubernetes namespace name (a DNS-1123 label)",
                       " (got ", Quote(ns), ")"));
    }
  }
  t.ns = std::string(ns);

  bool has_isvc = false;
  bool has_selector = false;
  std::string_view isvc = Lookup(metadata, kKeyInferenceService, &has_isvc);
  std::string_view sel = Lookup(metadata, kKeyLabelSelector, &has_selector);
  if (has_isvc && has_selector) {
    return KeyError(kKeyLabelSelector, "give either inferenceService or labelSelector, not both",
                    sel);
  }
  if (has_isvc) {
    auto selector = pipeline::InferenceServiceSelector(isvc);
    if (!selector.ok() || isvc.empty()) {
      return KeyError(kKeyInferenceService,
                      "must be an InferenceService name (a Kubernetes label value)", isvc);
    }
    t.inference_service = std::string(isvc);
    t.label_selector = *std::move(selector);
  }
  if (has_selector) {
    auto parsed = selector::Selector::Parse(sel);
    if (!parsed.ok()) {
      return KeyError(kKeyLabelSelector,
                      absl::StrCat("invalid label selector: ", parsed.status().message()), sel);
    }
    t.label_selector = std::string(sel);
  }

  bool has_target = false;
  bool has_cc = false;
  bool has_pct = false;
  std::string_view target = Lookup(metadata, kKeyTarget, &has_target);
  std::string_view cc = Lookup(metadata, kKeyContainerConcurrency, &has_cc);
  std::string_view pct = Lookup(metadata, kKeyTargetUtilizationPercentage, &has_pct);
  if (has_target && (has_cc || has_pct)) {
    return KeyError(
        kKeyTarget,
        "give either target, or containerConcurrency and/or targetUtilizationPercentage, not both",
        target);
  }
  if (has_target) {
    auto v = ParseNumber(kKeyTarget, target);
    if (!v.ok()) return v.status();
    if (*v <= 0) return KeyError(kKeyTarget, "must be greater than 0", target);
    t.target = *v;
  }
  if (has_cc) {
    auto v = ParseInteger(kKeyContainerConcurrency, cc);
    if (!v.ok()) return v.status();
    if (*v < 1) return KeyError(kKeyContainerConcurrency, "must be at least 1", cc);
    t.container_concurrency = *v;
  }
  if (has_pct) {
    auto v = ParseNumber(kKeyTargetUtilizationPercentage, pct);
    if (!v.ok()) return v.status();
    if (*v <= 0) return KeyError(kKeyTargetUtilizationPercentage, "must be greater than 0", pct);
    if (has_cc && *v > 100) {
      return KeyError(kKeyTargetUtilizationPercentage,
                      "must be at most 100 with containerConcurrency", pct);
    }
    if (*v > 1000) return KeyError(kKeyTargetUtilizationPercentage, "must be at most 1000", pct);
    t.target_utilization_percentage = *v;
  }

  std::string_view activation = Lookup(metadata, kKeyActivationThreshold, &present);
  if (present) {
    auto v = ParseNumber(kKeyActivationThreshold, activation);
    if (!v.ok()) return v.status();
    if (*v < 0) return KeyError(kKeyActivationThreshold, "must not be negative", activation);
    t.activation_threshold = *v;
  }
  return t;
}

absl::StatusOr<TargetRule> ResolveTargetRule(const Trigger& trigger,
                                             const config::MetricDefinition& def) {
  const bool has_baseline = !def.baseline_query.empty();
  if (trigger.target) return TargetRule{TargetRule::Kind::kValue, *trigger.target, "target"};
  if (trigger.container_concurrency) {
    double pct =
        trigger.target_utilization_percentage.value_or(kDefaultTargetUtilizationPercentage);
    double v = static_cast<double>(*trigger.container_concurrency) * pct / 100.0;
    return TargetRule{TargetRule::Kind::kValue, v, "containerConcurrency"};
  }
  if (trigger.target_utilization_percentage) {
    if (!has_baseline) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scalerMetadata.targetUtilizationPercentage: alone it needs a metric with a baseline "
          "(such as cpu); "
          "metric \"",
          def.name,
          "\" has none: set target, or containerConcurrency with targetUtilizationPercentage"));
    }
    return TargetRule{TargetRule::Kind::kBaselinePercent, *trigger.target_utilization_percentage,
                      "targetUtilizationPercentage"};
  }
  if (def.target && std::isfinite(*def.target) && *def.target > 0) {
    return TargetRule{TargetRule::Kind::kValue, *def.target, "metric definition"};
  }
  if (has_baseline && def.target_utilization && std::isfinite(*def.target_utilization) &&
      *def.target_utilization > 0) {
    return TargetRule{TargetRule::Kind::kBaselinePercent, *def.target_utilization,
                      "metric definition"};
  }
  if (!def.rule.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scalerMetadata.target: required for metric \"", def.name, "\" (", def.resource.name(),
        ", discovered from ", def.rule,
        "): prometheus-adapter rules define no target; set target, the value per replica "
        "(KEDA's default AverageValue gives ceil(value / target) replicas)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "scalerMetadata: no target for metric \"", def.name,
      "\" (its definition has none): set target (per pod), or containerConcurrency and "
      "targetUtilizationPercentage",
      has_baseline ? ", or targetUtilizationPercentage (percent of the baseline)" : ""));
}

absl::StatusOr<double> PerPodTarget(const TargetRule& rule, const pipeline::WorkloadStats& stats,
                                    std::string_view metric) {
  if (rule.kind == TargetRule::Kind::kValue) return rule.value;
  if (stats.pods_with_baseline <= 0 || !(stats.baseline_total > 0)) {
    return absl::UnavailableError(absl::StrCat(
        "metric ", ToAbsl(metric),
        ": no selected pod has a baseline (such as a CPU request) yet, so ", rule.value,
        "% of it cannot be computed; set scalerMetadata.target to give the per-pod target "
        "directly"));
  }
  double v = rule.value / 100.0 * stats.baseline_total / stats.pods_with_baseline;
  if (!std::isfinite(v) || v <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metric ", ToAbsl(metric), ": the per-pod target is not positive"));
  }
  return v;
}

int64_t RoundForKeda(double v) {
  if (!(v > 0)) return 0;  // also NaN
  if (v >= 9.2e18) return std::numeric_limits<int64_t>::max();
  return std::llround(v);
}

int64_t TargetSize(double target) { return std::max<int64_t>(1, RoundForKeda(target)); }

}  // namespace aa::keda
