#include "pipeline/discovery.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/strings.h"
#include "config/go_template.h"
#include "pipeline/sampler.h"
#include "pipeline/sampler_metrics.h"
#include "re2/re2.h"

namespace aa::pipeline {
namespace {

const std::vector<KubeResource>& Table() {
  static const auto* table = new std::vector<KubeResource>{
      {"pod", "pods", "", "Pod", "v1", true},
      {"namespace", "namespaces", "", "Namespace", "v1", false},
      {"node", "nodes", "", "Node", "v1", false},
      {"service", "services", "", "Service", "v1", true},
      {"persistentvolumeclaim", "persistentvolumeclaims", "", "PersistentVolumeClaim", "v1", true},
      {"persistentvolume", "persistentvolumes", "", "PersistentVolume", "v1", false},
      {"deployment", "deployments", "apps", "Deployment", "apps/v1", true},
      {"statefulset", "statefulsets", "apps", "StatefulSet", "apps/v1", true},
      {"daemonset", "daemonsets", "apps", "DaemonSet", "apps/v1", true},
      {"replicaset", "replicasets", "apps", "ReplicaSet", "apps/v1", true},
      {"job", "jobs", "batch", "Job", "batch/v1", true},
      {"cronjob", "cronjobs", "batch", "CronJob", "batch/v1", true},
      {"ingress", "ingresses", "networking.k8s.io", "Ingress", "networking.k8s.io/v1", true},
      {"horizontalpodautoscaler", "horizontalpodautoscalers", "autoscaling",
       "HorizontalPodAutoscaler", "autoscaling/v2", true},
  };
  return *table;
}

// Go's regexp.Expand of `tmpl` for the submatches of one match: $1, ${1}, $name, ${name}, $$.
std::string Expand(const RE2& re, std::string_view tmpl, const std::vector<re2::StringPiece>& m) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 == tmpl.size()) {
      out.push_back(tmpl[i]);
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    if (tmpl[j] == '{') {
      size_t close = tmpl.find('}', j);
      if (close == std::string_view::npos) {
        out.push_back('$');
        continue;
      }
      name = std::string(tmpl.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      while (j < tmpl.size() && (absl::ascii_isalnum(tmpl[j]) || tmpl[j] == '_')) ++j;
      name = std::string(tmpl.substr(i + 1, j - i - 1));
    }
    if (name.empty()) {
      out.push_back('$');
      continue;
    }
    int group = -1;
    if (std::all_of(name.begin(), name.end(), [](char c) { return absl::ascii_isdigit(c); })) {
      group = name.size() < 4 ? std::stoi(name) : -1;
    } else if (auto it = re.NamedCapturingGroups().find(name);
               it != re.NamedCapturingGroups().end()) {
      group = it->second;
    }
    if (group >= 0 && static_cast<size_t>(group) < m.size() && m[group].data() != nullptr) {
      out.append(m[group].data(), m[group].size());
    }
    i = j - 1;
  }
  return out;
}

// The resource a label stands for under `mapping`, or nullopt.
std::optional<KubeResource> ResourceForLabel(const config::ResourceMapping& mapping,
                                             const config::GoTemplate* label_template,
                                             const std::string& label) {
  if (auto it = mapping.overrides.find(label); it != mapping.overrides.end()) {
    const config::GroupResource& gr = it->second;
    std::string name = gr.group.empty() ? gr.resource : absl::StrCat(gr.resource, ".", gr.group);
    if (const KubeResource* r = FindKubeResource(name)) return *r;
    // A resource the built-in table does not know (a CRD): served under the name as written.
    std::string lower = absl::AsciiStrToLower(gr.resource);
    KubeResource r{lower, lower, gr.group, "", gr.group.empty() ? "v1" : gr.group + "/v1", true};
    if (!lower.empty())
      r.kind = absl::StrCat(absl::AsciiStrToUpper(lower.substr(0, 1)), lower.substr(1));
    return r;
  }
  if (label_template == nullptr) return std::nullopt;
  for (const KubeResource& r : Table()) {
    for (const std::string* res : {&r.singular, &r.plural}) {
      if (label_template->Render({{"Group", r.group}, {"Resource", *res}}) == label) return r;
    }
  }
  return std::nullopt;
}

}  // namespace

const KubeResource* FindKubeResource(std::string_view name) {
  std::string lower = absl::AsciiStrToLower(ToAbsl(name));
  for (const KubeResource& r : Table()) {
    if (lower == r.plural || lower == r.singular ||
        (!r.group.empty() && (lower == absl::StrCat(r.plural, ".", r.group) ||
                              lower == absl::StrCat(r.singular, ".", r.group)))) {
      return &r;
    }
  }
  return nullptr;
}

std::string KnownResourceNames() {
  std::vector<std::string> names;
  for (const KubeResource& r : Table()) names.push_back(r.GroupResource());
  return absl::StrJoin(names, ", ");
}

std::vector<config::MetricDefinition> DefinitionsForRule(const config::AdapterRule& rule,
                                                         const std::vector<prom::Labels>& series) {
  std::vector<config::MetricDefinition> out;
  std::vector<std::unique_ptr<RE2>> filters;
  for (const auto& f : rule.series_filters) filters.push_back(std::make_unique<RE2>(f.regex));
  RE2 matches(rule.name_matches);
  std::string as = rule.name_as;
  if (as.empty()) as = matches.NumberOfCapturingGroups() == 1 ? "$1" : "$0";
  auto query = config::GoTemplate::Parse(rule.metrics_query, {"Series", "LabelMatchers", "GroupBy",
                                                              "GroupBySlice", "LabelValuesByName"});
  if (!query.ok() || !matches.ok()) return out;  // validated at load: cannot happen
  const bool whole_cluster = !query->Uses("LabelMatchers") && !query->Uses("LabelValuesByName");
  std::optional<config::GoTemplate> label_template;
  if (!rule.resources.label_template.empty()) {
    auto t = config::GoTemplate::Parse(rule.resources.label_template, {"Group", "Resource"});
    if (t.ok()) label_template = *std::move(t);
  }
  std::set<std::string> keys;
  for (const prom::Labels& labels : series) {
    std::string series_name(prom::LabelValue(labels, "__name__"));
    if (series_name.empty()) continue;
    bool pass = true;
    for (size_t i = 0; i < filters.size() && pass; ++i) {
      pass = RE2::PartialMatch(series_name, *filters[i]) == rule.series_filters[i].is;
    }
    if (!pass) continue;
    std::vector<re2::StringPiece> m(1 + matches.NumberOfCapturingGroups());
    if (!matches.Match(series_name, 0, series_name.size(), RE2::UNANCHORED, m.data(),
                       static_cast<int>(m.size()))) {
      continue;
    }
    std::string name = Expand(matches, as, m);
    if (name.empty()) continue;
    // Resources this series' labels stand for.
    std::vector<std::pair<std::string, KubeResource>> mapped;
    std::string ns_label;
    for (const auto& [label, value] : labels) {
      if (label == "__name__") continue;
      auto r = ResourceForLabel(rule.resources, label_template ? &*label_template : nullptr, label);
      if (!r) continue;
      if (r->plural == "namespaces" && r->group.empty() && ns_label.empty()) ns_label = label;
      mapped.emplace_back(label, *r);
    }
    std::string rendered = query->Render({{"Series", series_name}});
    auto add = [&](config::MetricDefinition def) {
      if (!keys.insert(def.Key()).second) return;
      def.name = name;
      def.rule = rule.path;
      def.series = series_name;
      def.whole_cluster_query = whole_cluster;
      def.backend = rule.backend;
      def.query = rendered;
      def.description = absl::StrCat("from ", rule.path, " (series ", series_name, ")");
      out.push_back(std::move(def));
    };
    if (rule.external) {
      config::MetricDefinition def;
      def.name = name;
      def.resource = config::MetricResource::External();
      def.namespace_label = rule.resources.namespaced ? ns_label : "";
      def.pod_label = "";
      add(std::move(def));
      continue;
    }
    for (const auto& [label, r] : mapped) {
      config::MetricDefinition def;
      def.name = name;
      def.resource = config::MetricResource::FromName(r.GroupResource());
      if (r.plural == "namespaces" && r.group.empty()) {
        def.namespace_label = label;
      } else if (r.namespaced) {
        if (ns_label.empty()) continue;  // a namespaced object needs the namespace label
        def.namespace_label = ns_label;
      } else {
        def.namespace_label = "";
      }
      def.pod_label = label;
      add(std::move(def));
    }
  }
  return out;
}

RuleDiscovery::RuleDiscovery(const config::Config& config, prom::Client& client, Clock& clock)
    : RuleDiscovery(config, prom::Backends::Single(client), clock) {}

RuleDiscovery::RuleDiscovery(const config::Config& config, prom::Backends backends, Clock& clock)
    : config_(config),
      backends_(std::move(backends)),
      clock_(clock),
      last_good_(config.rules.size()) {}

std::vector<config::MetricDefinition> RuleDiscovery::Run() {
  absl::Time now = clock_.Now();
  const absl::Duration lookback = config_.discovery_max_age > absl::ZeroDuration()
                                      ? config_.discovery_max_age
                                      : config_.discovery_interval;
  std::map<std::string, absl::StatusOr<std::vector<prom::Labels>>> answers;
  std::map<std::string, absl::Status> errors;
  for (size_t i = 0; i < config_.rules.size(); ++i) {
    const config::AdapterRule& rule = config_.rules[i];
    const bool other_backend = !rule.backend.empty() && rule.backend != prom::Backends::kDefault;
    const std::string key =
        other_backend ? absl::StrCat(rule.backend, " ", rule.series_query) : rule.series_query;
    auto it = answers.find(key);
    if (it == answers.end()) {
      prom::Client* client = backends_.Find(rule.backend);
      it = answers
               .emplace(key, client == nullptr
                                 ? absl::StatusOr<std::vector<prom::Labels>>(absl::NotFoundError(
                                       absl::StrCat("no backend named ", rule.backend)))
                                 : client->Series({rule.series_query}, now - lookback, now))
               .first;
      if (!it->second.ok()) {
        errors[key] = it->second.status();
        if (!last_errors_.contains(key)) {
          LogWarn("rule discovery failed; keeping the rule's last good metrics",
                  {{"rule", rule.path},
                   {"backend", rule.backend.empty() ? "default" : rule.backend},
                   {"seriesQuery", rule.series_query},
                   {"error", it->second.status()}});
        }
      }
    }
    if (it->second.ok()) last_good_[i] = DefinitionsForRule(rule, *it->second);
  }
  last_errors_ = std::move(errors);
  std::set<std::string> keys;
  for (const auto& def : config_.metrics) keys.insert(def.Key());
  std::vector<config::MetricDefinition> out;
  for (const auto& defs : last_good_) {
    for (const auto& def : defs) {
      if (keys.insert(def.Key()).second) out.push_back(def);
    }
  }
  return out;
}

Discoverer::Discoverer(Sampler& sampler, prom::Client& client, Clock& clock,
                       prometheus::Registry* registry)
    : Discoverer(sampler, prom::Backends::Single(client), clock, registry) {}

Discoverer::Discoverer(Sampler& sampler, prom::Backends backends, Clock& clock,
                       prometheus::Registry* registry)
    : sampler_(sampler),
      backends_(std::move(backends)),
      clock_(clock),
      metrics_(DiscoveryMetrics::Create(registry)),
      discovery_(std::make_unique<RuleDiscovery>(sampler.config(), backends_, clock)),
      has_rules_(!sampler.config().rules.empty()),
      interval_(sampler.config().discovery_interval) {}

Discoverer::~Discoverer() { Stop(); }

void Discoverer::Reload(const config::Config& next) {
  bool had_rules;
  {
    absl::MutexLock lock(&run_mu_);
    auto config = std::make_unique<const config::Config>(next);
    discovery_ = std::make_unique<RuleDiscovery>(*config, backends_, clock_);
    reloaded_ = std::move(config);
    had_rules = has_rules_;
    has_rules_ = !next.rules.empty();
  }
  if (had_rules || !next.rules.empty()) RunOnce();  // without rules before or after: nothing to do
  Start();
}

void Discoverer::Start() {
  {
    absl::MutexLock lock(&run_mu_);
    if (!has_rules_) return;
  }
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      RunOnce();
      absl::MutexLock lock(&mu_);
      // Until discovery finds something without errors (Prometheus may not have scraped yet when
      // the adapter starts), retry every 10 s rather than waiting a whole interval.
      absl::Duration wait = interval_;
      if (!healthy_) wait = std::min(wait, absl::Seconds(10));
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
    }
  });
}

void Discoverer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Discoverer::RunOnce() {
  absl::MutexLock lock(&run_mu_);
  const absl::Time start = clock_.Now();
  std::vector<config::MetricDefinition> defs = discovery_->Run();
  metrics_->Run(clock_.Now() - start, discovery_->last_errors().empty());
  {
    absl::MutexLock state(&mu_);
    healthy_ = !defs.empty() && discovery_->last_errors().empty();
  }
  size_t count = defs.size();
  std::shared_ptr<const MetricSet> set = sampler_.metrics();
  size_t before = set->definitions.size() - set->configured;
  sampler_.SetDiscoveredMetrics(std::move(defs));
  if (count != before) {
    LogInfo("rule discovery: metric set changed", {{"definitions", std::to_string(count)}});
  }
}

}  // namespace aa::pipeline
