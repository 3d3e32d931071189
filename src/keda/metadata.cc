#include "keda/metadata.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/duration.h"
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

// KEDA reads a float with encoding/json: a JSON number, nothing else ("+1", ".5", "NaN" and "1."
// are refused).
absl::StatusOr<double> ParseJsonNumber(std::string_view key, std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i - start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  bool ok = i < t.size() && (t[i] == '0' ? (++i, true) : digits() > 0);
  if (ok && i < t.size() && t[i] == '.') ok = (++i, digits() > 0);
  if (ok && i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    ok = digits() > 0;
  }
  double v = 0;
  if (!ok || i != t.size() || std::from_chars(t.data(), t.data() + t.size(), v).ec != std::errc() ||
      !std::isfinite(v)) {
    return KeyError(key, "must be a number (JSON syntax, e.g. 70, 0.5, 1e3)", t);
  }
  return v;
}

// Go's strconv.ParseBool, as KEDA reads booleans.
absl::StatusOr<bool> ParseGoBool(std::string_view key, std::string_view t) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (t == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (t == no) return false;
  }
  return KeyError(key, "must be a boolean (true or false)", t);
}

// KEDA's durations: a Go duration ("5s"), else whole milliseconds ("5000"); not negative.
absl::StatusOr<absl::Duration> ParseKedaDuration(std::string_view key, std::string_view t) {
  if (auto d = ParseGoDuration(t); d.ok()) return *d;
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ms);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || ms < 0) {
    return KeyError(key, "must be a duration (5s, 1m30s) or a number of milliseconds", t);
  }
  return absl::Milliseconds(ms);
}

// KEDA's maps: "k1=v1,k2=v2", each element trimmed and split at its only '='; a later key
// replaces an earlier one. `secret` values (headers) are never echoed.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseKedaMap(std::string_view key,
                                                                              std::string_view t,
                                                                              bool secret) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t index = 0;
  for (absl::string_view element : absl::StrSplit(ToAbsl(t), ',')) {
    std::string_view e = TrimBlanks(FromAbsl(element));
    std::vector<absl::string_view> kv = absl::StrSplit(ToAbsl(e), '=');
    if (kv.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scalerMetadata.", ToAbsl(key), ": element ", index,
          " is not one key=value pair (elements are separated by commas, and neither keys nor "
          "values may contain '=' or ',')",
          secret ? "" : absl::StrCat(" (got ", Quote(e), ")")));
    }
    std::string k(TrimBlanks(FromAbsl(kv[0])));
    std::string v(TrimBlanks(FromAbsl(kv[1])));
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == k; });
    if (same != out.end()) {
      same->second = std::move(v);
    } else {
      out.emplace_back(std::move(k), std::move(v));
    }
    ++index;
  }
  return out;
}

// The keys of a trigger with `query` (KEDA's prometheus scaler).
absl::Status ParseAdhoc(const Metadata& metadata, Trigger* t) {
  for (std::string_view only :
       {kKeyMetric, kKeyResource, kKeyInferenceService, kKeyLabelSelector, kKeyTarget,
        kKeyContainerConcurrency, kKeyTargetUtilizationPercentage}) {
    if (metadata.contains(only)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scalerMetadata.", ToAbsl(only),
          ": not with query: a trigger either names a served metric (metric, with its keys) or "
          "carries its own query (KEDA's prometheus scaler keys: query, threshold, ...)"));
    }
  }
  // As KEDA: trimmed, and an empty value is no value.
  auto get = [&](std::string_view key, bool* present) {
    std::string_view v = TrimBlanks(Lookup(metadata, key, present));
    *present = *present && !v.empty();
    return v;
  };
  bool present = false;
  AdhocQuery a;
  a.query = std::string(get(kKeyQuery, &present));
  std::string_view threshold = get(kKeyThreshold, &present);
  if (!present) {
    return absl::InvalidArgumentError(
        "scalerMetadata.threshold: required with query: the target value (per replica with KEDA's "
        "default metricType AverageValue)");
  }
  auto th = ParseJsonNumber(kKeyThreshold, threshold);
  if (!th.ok()) return th.status();
  if (*th <= 0) return KeyError(kKeyThreshold, "must be greater than 0", threshold);
  a.threshold = *th;
  if (std::string_view v = get(kKeyActivationThreshold, &present); present) {
    auto at = ParseJsonNumber(kKeyActivationThreshold, v);
    if (!at.ok()) return at.status();
    t->activation_threshold = *at;
  }
  if (std::string_view v = get(kKeyIgnoreNullValues, &present); present) {
    auto b = ParseGoBool(kKeyIgnoreNullValues, v);
    if (!b.ok()) return b.status();
    a.ignore_null_values = *b;
  }
  a.server_address = std::string(get(kKeyServerAddress, &present));
  if (std::string_view v = get(kKeyNamespace, &present); present) {
    a.options.params.emplace_back("namespace", std::string(v));
  }
  if (std::string_view v = get(kKeyQueryParameters, &present); present) {
    auto params = ParseKedaMap(kKeyQueryParameters, v, false);
    if (!params.ok()) return params.status();
    for (auto& p : *params) a.options.params.push_back(std::move(p));
  }
  if (std::string_view v = get(kKeyCustomHeaders, &present); present) {
    auto headers = ParseKedaMap(kKeyCustomHeaders, v, true);
    if (!headers.ok()) return headers.status();
    a.options.headers = *std::move(headers);
  }
  if (std::string_view v = get(kKeyTimeout, &present); present) {
    auto d = ParseKedaDuration(kKeyTimeout, v);
    if (!d.ok()) return d.status();
    a.options.timeout = *d;
  }
  if (absl::Status s = prom::ValidateQueryOptions(a.options); !s.ok()) {
    const bool header = absl::StartsWith(s.message(), "header");
    return absl::InvalidArgumentError(absl::StrCat(
        "scalerMetadata.", header ? ToAbsl(kKeyCustomHeaders) : ToAbsl(kKeyQueryParameters), ": ",
        s.message()));
  }
  t->adhoc = std::move(a);
  return absl::OkStatus();
}

}  // namespace

std::string AdhocQuery::Identity() const {
  std::string id = absl::StrCat(server_address.size(), ":", server_address, query.size(), ":",
                                query, ignore_null_values ? "+" : "-");
  for (const auto& [k, v] : options.params)
    absl::StrAppend(&id, "p", k.size(), ":", k, v.size(), ":", v);
  for (const auto& [k, v] : options.headers)
    absl::StrAppend(&id, "h", k.size(), ":", k, v.size(), ":", v);
  absl::StrAppend(&id, "t", absl::ToInt64Milliseconds(options.timeout));
  return id;
}

bool IsKedaKey(std::string_view key) {
  static constexpr std::string_view kKedaKeys[] = {"scalerAddress", "enableTLS", "unsafeSsl",
                                                   "tlsCertFile",   "caCert",    "tlsClientCert",
                                                   "tlsClientKey"};
  for (std::string_view k : kKedaKeys) {
    if (k == key) return true;
  }
  return false;
}

namespace {
// Keys of KEDA's prometheus scaler for authentication the adapter does not forward: the
// backend's own settings apply (README, "KEDA's prometheus scaler keys").
bool IsPrometheusScalerKeyWithoutEffect(std::string_view key) {
  return key == "authModes" || key == "awsRegion" || key == "identityOwner";
}
}  // namespace

std::string Trigger::MetricName() const {
  if (adhoc) return "prometheus";
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
                key == kKeyActivationThreshold || key == kKeyQuery || key == kKeyThreshold ||
                key == kKeyIgnoreNullValues || key == kKeyQueryParameters ||
                key == kKeyCustomHeaders || key == kKeyTimeout || key == kKeyServerAddress;
    if (ours || IsKedaKey(key)) continue;
    if (IsPrometheusScalerKeyWithoutEffect(key)) {
      t.no_effect_keys.emplace_back(key);
    } else {
      t.unknown_keys.emplace_back(key);
    }
  }
  if (auto q = metadata.find(kKeyQuery); q != metadata.end() && !TrimBlanks(q->second).empty()) {
    if (absl::Status s = ParseAdhoc(metadata, &t); !s.ok()) return s;
    return t;
  }

  bool present = false;
  std::string_view metric = TrimBlanks(Lookup(metadata, kKeyMetric, &present));
  if (!present) {
    return absl::InvalidArgumentError(
        "scalerMetadata.metric: required: the name of a metric this adapter serves (or, "
        "instead, query and threshold, as KEDA's prometheus scaler reads them)");
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
