#pragma once
// The adapter's configuration: one YAML file, validated whole at load time.
//
// The YAML reference below is the source of truth. docs/configuration.md presents it for users
// (types, defaults, units, examples); a test (tests/config/check_config_doc.py) fails when a key
// the loader accepts is missing from either, so change both together.
//
// clang-format off
// YAML reference. Keys are camelCase; every key is optional unless marked "required". Unknown keys,
// duplicate keys and values of the wrong type are errors. `key:` or `key: null` means "not set",
// i.e. the default. Durations are Go durations (5s, 1m30s, 250ms; also d and w).
//
// prometheus:                 Where to read metrics (Prometheus, Thanos, Mimir, VictoriaMetrics).
//   url                       string, default "". http:// or https://, a host, optional :port and
//                             path prefix; no credentials, query or fragment. May be empty in the
//                             file when the caller sets it (--prometheus-url): ValidateForRun()
//                             requires it.
//   headers                   map of string, default {}. Sent on every request (X-Scope-OrgID...).
//                             Names are HTTP tokens; values have no CR/LF/NUL; no Authorization
//                             header together with bearerTokenFile or basicAuth.
//   bearerTokenFile           string (path), default "". Re-read on every request. Excludes
//                             basicAuth.
//   basicAuth:                default none.
//     username                string, required when basicAuth is set.
//     password                string; exclusive with passwordFile.
//     passwordFile            string (path), re-read on every request.
//   tls:                      default: system trust store, no client certificate.
//     caFile                  string (path), PEM bundle verifying the server.
//     certFile                string (path), PEM client certificate; needs keyFile.
//     keyFile                 string (path), PEM private key; needs certFile.
//     serverName              string, default: the URL's host.
//     insecureSkipVerify      bool, default false.
//   timeout                   duration > 0, default 10s: one HTTP attempt.
//   maxRetries                integer 0..10, default 2: attempts after a transient failure.
//   retryBackoff              duration >= 0, default 200ms: first retry delay, doubled each time.
//   method                    auto | GET | POST (any case), default auto.
//   postThresholdBytes        integer >= 0, default 2048: `auto` POSTs longer queries.
//   maxResponseBytes          integer >= 1, default 67108864 (64 MiB): larger answers refused.
//   acceptWarnings            bool, default false: answers with "warnings" (partial responses)
//                             are refused like failed queries; true uses them.
//                             `prometheus:` is the backend named default.
// backends:                   list, default []: more Prometheus-API backends, each picked by name
//                             with `backend:` (below). Each entry:
// - name                      required, unique, a DNS-1123 label (a-z0-9 and '-', at most 63).
//                             "default" only without a `prometheus:` section (it then is that).
//   url, headers, bearerTokenFile, basicAuth, tls, timeout, maxRetries, retryBackoff, method,
//   postThresholdBytes, maxResponseBytes, acceptWarnings: as under prometheus.
// backend                     (on metrics entries, rules/externalRules entries, resourceRules and
//                             podLabels) string, default "default": the backend queried, by name.
// sampling:
//   interval                  duration >= 1s, default 5s: one query per demanded metric per
//                             interval.
//   maxAge                    duration >= interval, default 60s: older values are never served.
//   demandTTL                 duration >= interval, default 5m: a (metric, namespace) nobody asked
//                             for that long stops being sampled.
//   firstSampleTimeout        duration > 0, default 5s: how long a first request waits.
//   waitForFirstSample        bool, default true: readiness waits for one sample of every metric.
//   warmNamespaces            list of namespace names (DNS-1123 labels, unique), default [].
//   checkNamespaces           bool, default true: only existing namespaces become demand.
//   namespaceCheckInterval    duration >= 1s, default 30s: Prometheus' namespace list re-read at
//                             most this often.
//   maxNamespaces             integer >= 1, default 1000: namespaces demanded at once.
//   newNamespacesPerSecond    integer >= 1, default 10: new namespaces admitted per second.
//   newNamespaceBurst         integer >= 1, default 100: token bucket size of the above.
//   maxNamespacesPerQuery     integer >= 1, default 100: namespaces named by one query.
//   maxMatcherBytes           integer >= 64, default 4096: bytes of one query's namespace regex.
//   wholeClusterPercent       integer 0..100, default 50: one query without a namespace matcher
//                             when that share of the known namespaces is demanded (0: never).
//   maxConcurrentQueries      integer 1..64, default 4: a round's queries in flight at once (1:
//                             one after another).
// podLabels:                  Pod labels index from kube-state-metrics.
//   enabled                   bool, default true.
//   backend                   backend name, default "default" (also kube_<object>_labels).
//   query                     template (below), default 'kube_pod_labels{<<.LabelMatchers>>}'.
// objectWatch:                labelSelector on objects other than pods, with the Kubernetes API.
//   maxResources              integer 0..1000, default 16: resources with a watch cache (0: none,
//                             a LIST per request).
//   maxObjects                integer 1..10000000, default 100000: objects one cache keeps.
//   firstListWait             duration 0..1m, default 5s: a request waits for its first list.
//   maxStaleness              duration >= 1s, default 2m: without list or watch that long, LISTs.
//   listPageSize              integer 1..10000, default 500: objects per list page.
// keda:                       The KEDA external scaler gRPC port (flags --grpc-* override).
//   listen                    string, default ":9500"; "" turns it off; port 0 picks a free one.
//   insecure                  bool, default false: without tls, serve plaintext (a warning is
//                             logged); without tls and without it the adapter refuses to start.
//   tls:                      default none: the port needs tls, or insecure.
//     certFile, keyFile       strings (paths), together: TLS.
//     clientCAFile            string (path): mutual TLS, needs certFile and keyFile.
//     clientNames             list of strings, default []: with clientCAFile only, a client
//                             certificate must carry one of them as subject CN or DNS SAN (else
//                             PERMISSION_DENIED); []: any certificate the client CA signed.
//   limits:                   bounds of the port (defaults in parentheses).
//     maxStreams              integer >= 1 (10000): open StreamIsActive streams in total.
//     maxStreamsPerClient     integer >= 1 (1000): ... of one client (certificate name with
//                             mutual TLS, else peer IP); more get RESOURCE_EXHAUSTED.
//     maxConcurrentStreamsPerConnection  integer >= 1 (1000): HTTP/2 calls open on a connection.
//     maxReceiveMessageBytes  integer 256..4194304 (16384): largest request.
//     minPingInterval         duration >= 1ms (30s): client pings closer than this without data
//                             are strikes;
//     maxPingStrikes          integer >= 1 (2): more strikes close the connection.
//     maxConnectionIdle       duration >= 1ms (5m): a connection without calls is closed.
//     maxConnectionAge        duration >= 1ms (1h): then GOAWAY, and after
//     maxConnectionAgeGrace   duration >= 1ms (1m) the connection is closed.
//     handshakeTimeout        duration >= 1ms (10s): a connection not through its TLS and HTTP/2
//                             handshake by then is closed.
//   adhocQueries:             triggers that carry KEDA's prometheus scaler keys (query,
//                             threshold...) instead of `metric:` (keda/metadata.h).
//     enabled                 bool, default true; false refuses them (PERMISSION_DENIED).
//     max                     integer >= 1, default 500: distinct ad-hoc queries sampled at once
//                             (backend, query, parameters, headers); a new one beyond is refused
//                             (RESOURCE_EXHAUSTED) until one is not asked for during demandTTL.
//     allowlist               list of RE2 regexes, default [] (any query): when set, a query must
//                             fully match one of them (else PERMISSION_DENIED).
// metrics:                    required (unless prometheus-adapter rules are given), at least one:
// - name                      required, unique, [a-zA-Z_:][a-zA-Z0-9_:.-]*, at most 253 chars.
//   backend                   backend name, default "default".
//   description               string, default: generated for presets, else "".
//   resource                  default pods; external for preset activity (which implies it).
//   preset:                   exactly one of preset and query is required.
//     type                    required: concurrency | cpu | waiting | kv-cache | ttft (the last
//                             three read vLLM's series: requests waiting, KV-cache usage in
//                             percent, a time-to-first-token quantile in seconds) | activity
//                             (requests held by Knative's activator per revision, or requests
//                             Istio's gateway routed to a Service: an external metric, so it
//                             exists at zero pods; for scale from zero).
//     source                  concurrency, required: knative-queue-proxy | kserve | vllm |
//                             histogram | gauge; waiting, kv-cache, ttft: optional, vllm;
//                             activity: knative-activator (default) | istio-gateway.
//     quantile                ttft only: number in (0, 1), default 0.95.
//     window                  duration >= 1s, whole milliseconds, default 1m: rate/average window.
//     metric                  histogram (base name, no _sum) and gauge sources only; required
//                             there.
//     unit                    histogram source only, required there: s | ms (the histogram's unit).
//     namespaceLabel          concurrency only: overrides the source's namespace label.
//     podLabel                concurrency only: overrides the source's pod label.
//     sourceMatchers          list of PromQL label matchers, default []: each `label op "value"` (op
//                             = != =~ !~), added to the selector of the series the preset reads
//                             (cpu: the cAdvisor usage, also in the metrics.k8s.io cpu and memory it
//                             derives). For series that two scrape jobs collect, or every sum doubles:
//                             e.g. deploy/prometheus/scrape-config.yaml added to kube-prometheus-stack,
//                             which scrapes cAdvisor (job "kubelet") and kube-state-metrics too. Then
//                             ['job="kubelet-cadvisor"'] keeps one job's series.
//     baselineMatchers        cpu only, list of matchers, default []: the same for the CPU requests
//                             (kube-state-metrics), e.g. ['job="kube-state-metrics"'].
//     saturation              cpu only, bool, default false: serve the CPU demand, usage + the
//                             rate of cAdvisor's container_cpu_cfs_throttled_seconds_total (time
//                             the container's threads waited for CPU quota), instead of the usage,
//                             which a CPU limit pins at the limit; also in metrics.k8s.io's
//                             per-container cpu. Containers without a limit have no such series:
//                             their demand is their usage.
//   query                     template (below).
//   baselineQuery             template, with query only: per-pod baseline (e.g. CPU request).
//   namespaceLabel            with query only, default "namespace": the series' namespace label.
//   podLabel                  with query only, default "pod": the series' pod label.
//   target                    number > 0: per-pod target of the value. Excludes
//                             containerConcurrency.
//   containerConcurrency      integer >= 1 (KServe/Knative): target = containerConcurrency *
//   targetUtilizationPercentage  / 100, the percentage in (0, 100], default 70, only together
//                             with containerConcurrency. (100 and 70 give target 70.)
//   panic:                    default off; `panic: {}` turns it on with the defaults. Concurrency
//                             definitions only (preset type concurrency, or query without
//                             baselineQuery), with a target. Serves each pod's mean over the stable
//                             window, or over the panic window while its workload (InferenceService
//                             label, else the namespace's other pods) is in panic, as Knative's KPA.
//     stableWindow            duration 6s..1h, default 60s.
//     panicWindowPercentage   number in [1, 100], default 10: panic window = 6s by default. Must be
//                             at least 2 x sampling.interval (two samples); preset.window must not
//                             exceed it.
//     panicThresholdPercentage  number in [110, 1000], default 200.
//   scaling:                  what the query API's /scaling prediction assumes about the HPA in front
//                             of this metric's workloads; default: the tutorial's and KServe's.
//     minReplicas             integer 1..maxReplicas, default 1.
//     maxReplicas             integer >= 1, default 10.
//     behavior:               the HPA's spec.behavior; default {} (what KServe writes: every upstream
//                             default: scaleUp 0s window, Pods 4 / 15s and Percent 100 / 15s, Max;
//                             scaleDown 300s window, Percent 100 / 15s).
//       scaleUp, scaleDown:   each optional, unset fields default:
//         stabilizationWindowSeconds  integer 0..3600.
//         selectPolicy        Max | Min | Disabled.
//         policies            list of {type: Pods | Percent, value: integer >= 1, periodSeconds:
//                             integer 1..1800} (replaces the default list).
//   targetUtilization         number > 0, percent of the baseline; needs preset cpu or
//                             baselineQuery.
// discovery:
//   interval                  duration >= 10s, default 10m: how often the rules' seriesQuery
//                             discovery re-runs (every 10s while it finds nothing).
// rules, externalRules:       prometheus-adapter's format, read as it is (each a list):
// - seriesQuery               required: series selector for /api/v1/series.
//   backend                   backend name, default "default": discovery and queries.
//   seriesFilters             list of {is: regex} or {isNot: regex} (RE2), all must pass.
//   resources:                overrides: {<label>: {group, resource (required)}}, template
//                             (<<.Group>>, <<.Resource>>); externalRules also namespaced (bool).
//   name:                     matches (RE2, default .*), as (default $0, or $1 with one group).
//   metricsQuery              required: Go template (<< >> delimiters) with <<.Series>>,
//                             <<.LabelMatchers>>, <<.GroupBy>>, <<.GroupBySlice>> (list),
//                             <<.LabelValuesByName>> (map: label -> values joined by "|"); if,
//                             else, with, range, $variables, index, len, not, and, or, eq, ne,
//                             lt, le, gt, ge (config/go_template.h); anything else is an error
//                             naming the line. Without <<.LabelMatchers>> (and
//                             <<.LabelValuesByName>>) it is sampled once per round for the whole
//                             cluster and its series go to the objects their labels name.
// resourceRules:              cpu and memory (both required): {containerQuery (required),
//                             nodeQuery, resources, containerLabel}; window (default 1m); backend
//                             (default "default"). Adds the per-pod definitions "cpu" and "memory"
//                             unless metrics: has them.
// `metrics:` may be absent when rules or resourceRules are given.
//
// Templates are PromQL with two placeholders and no other `<< >>` construct: <<.LabelMatchers>>
// (required; e.g. namespace=~"a|b") and <<.GroupBy>> (e.g. namespace, pod). Presets expand to
// (W = window, in the largest exact unit: 1m, 90s, 1500ms; labels namespace/pod unless stated):
//   concurrency knative-queue-proxy (labels namespace_name, pod_name):
//     sum by (<<.GroupBy>>) (rate(revision_request_latencies_sum{<<.LabelMatchers>>}[W])) / 1000
//   concurrency kserve:
//     sum by (<<.GroupBy>>) (rate(request_predict_seconds_sum{<<.LabelMatchers>>}[W]))
//   concurrency vllm:
//     sum by (<<.GroupBy>>) (avg_over_time(vllm:num_requests_running{<<.LabelMatchers>>}[W]))
//   concurrency histogram (" / 1000" appended for unit ms):
//     sum by (<<.GroupBy>>) (rate(<metric>_sum{<<.LabelMatchers>>}[W]))
//   concurrency gauge:
//     sum by (<<.GroupBy>>) (avg_over_time(<metric>{<<.LabelMatchers>>}[W]))
//   waiting (vLLM), mean requests waiting:
//     sum by (<<.GroupBy>>) (avg_over_time(vllm:num_requests_waiting{<<.LabelMatchers>>}[W]))
//   kv-cache (vLLM), mean KV-cache usage in percent (0..100; a target of 80 is 80 %):
//     sum by (<<.GroupBy>>) (avg_over_time(vllm:gpu_cache_usage_perc{<<.LabelMatchers>>}[W])) * 100
//   ttft (vLLM), the quantile Q of each pod's time to first token over W, seconds (a pod with no
//   request in W has no value):
//     histogram_quantile(Q, sum by (<<.GroupBy>>, le) (rate(vllm:time_to_first_token_seconds_bucket{
//       <<.LabelMatchers>>}[W])))                                    (one line, no break)
//   activity (Knative's activator; external: namespace label namespace_name, one series per
//   revision, selected by its own labels, e.g. configuration_name=<isvc>-predictor):
//     sum by (<<.GroupBy>>, configuration_name, revision_name) (max_over_time(
//       activator_request_concurrency{<<.LabelMatchers>>}[W]))       (one line, no break)
//   activity with source istio-gateway (Istio's request counter, requests per second; external:
//   namespace label destination_service_namespace, one series per Service, selected by its own
//   labels, e.g. destination_service_name=<isvc>-predictor; any response code, since at zero pods a
//   gateway answers 503):
//     sum by (<<.GroupBy>>, destination_service_name) (rate(istio_requests_total{
//       reporter="source",<<.LabelMatchers>>}[W]))                   (one line, no break)
//   cpu, in cores; baseline_query the CPU requests in cores:
//     sum by (<<.GroupBy>>) (rate(container_cpu_usage_seconds_total{container!="",
//       container!="POD",<<.LabelMatchers>>}[W]))                    (one line, no break)
//     sum by (<<.GroupBy>>) (kube_pod_container_resource_requests{resource="cpu",unit="core",
//       <<.LabelMatchers>>})                                         (one line, no break)
//   cpu with saturation: the usage query U above, then
//     U + (sum by (<<.GroupBy>>) (rate(container_cpu_cfs_throttled_seconds_total{<U's matchers>}
//       [W])) or 0 * U)
// Histogram concurrency is Little's law: rate(<latency>_sum[W]) in seconds is the mean number of
// requests in flight over W. sourceMatchers go into the series' braces after the preset's own
// matchers, before <<.LabelMatchers>> (cpu with ['job="kubelet"']:
// container!="",container!="POD",job="kubelet",<<.LabelMatchers>>); baselineMatchers likewise.
//
// Reloading while running (app/config_reload.h): the adapter watches its --config file (a stat
// every 5 s, following symlinks, so a ConfigMap volume's `..data` swap is seen) and reloads it on
// SIGHUP, when its content changed. What reloads, from the next sampling round: metrics (unchanged
// definitions keep their tables and panic windows, changed ones start afresh, removed ones are
// gone from every API), rules, externalRules and resourceRules (discovered again at once), and
// sampling.interval, maxAge, demandTTL and firstSampleTimeout. What needs a restart (a reload
// keeps the running value and logs a warning naming the field): prometheus.*, the other sampling.*
// keys, podLabels.*, keda.*, discovery.interval. An invalid file changes nothing: the error is
// logged with file, line and field, and autoscale_adapter_config_last_reload_successful reads 0.
//
// Errors are InvalidArgument "<source>: <field path>: <problem>", followed by (got "<value>") when
// a value is at fault, e.g.
//   adapter.yaml: metrics[1].preset.window: must be at least 1s (got "500ms")
// Paths use the YAML keys: prometheus.tls.keyFile, metrics[2].name, prometheus.headers.X-Org; an
// unknown key is reported at its own path. Values are C-escaped and cut at 120 characters;
// header values and passwords are never echoed. YAML syntax errors read
//   <source>:<line>:<column>: YAML syntax error: <what>          (1-based line and column)
// clang-format on

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "config/resource.h"
#include "prometheus/client.h"
#include "scaling/hpa.h"

namespace aa::config {

// Where a metric definition came from when it was written as a preset (kept for listing and docs).
struct PresetInfo {
  std::string type;    // "concurrency" or "cpu"; empty when the definition was written as PromQL
  std::string source;  // concurrency: "knative-queue-proxy", "kserve", "vllm", "histogram", "gauge"
  absl::Duration window = absl::ZeroDuration();  // the preset's window; zero when written as PromQL
  std::string metric;  // the Prometheus metric the preset reads, e.g. "revision_request_latencies"
  std::string unit;    // histogram sources: "s" or "ms"; otherwise empty
  // preset.sourceMatchers / baselineMatchers, normalized (job="kubelet"); empty when not set.
  std::vector<std::string> source_matchers;
  std::vector<std::string> baseline_matchers;
  bool saturation = false;  // preset.saturation (cpu): usage + CFS throttled seconds
  friend bool operator==(const PresetInfo&, const PresetInfo&) = default;
};

// The panic-aware option of a concurrency definition: the pipeline keeps each pod's recent samples
// and serves their mean over the stable window, or over the panic window while the pod's workload
// is in panic (Knative's KPA rule: ceil(panic total / target) / pods >= threshold; panic ends once
// that has not held for a stable window).
struct PanicConfig {
  absl::Duration stable_window = absl::Seconds(60);  // 6s..1h
  double panic_window_percentage = 10;               // [1, 100] of stable_window: 6s by default
  double panic_threshold_percentage = 200;           // [110, 1000]
  absl::Duration panic_window() const { return stable_window * (panic_window_percentage / 100); }
  friend bool operator==(const PanicConfig&, const PanicConfig&) = default;
};

// What the query API's scaling prediction (/api/v1/.../scaling) assumes about the HPA in front of
// a workload of this metric. Defaults: the tutorial's min 1, max 10, and KServe's `behavior: {}`.
struct ScalingConfig {
  int32_t min_replicas = 1;        // 1..max_replicas
  int32_t max_replicas = 10;       // >= 1
  scaling::BehaviorSpec behavior;  // unset fields take the upstream defaults
  friend bool operator==(const ScalingConfig&, const ScalingConfig&) = default;
};

// One metric the adapter serves. After loading, presets are expanded: `query` is always set.
struct MetricDefinition {
  std::string name;  // served name, e.g. "concurrency"; unique; [a-zA-Z_:][a-zA-Z0-9_:.-]*
  // The Kubernetes resource one value describes: pods for `metrics:` entries; definitions
  // discovered from prometheus-adapter rules also describe namespaces, services,
  // deployments.apps, nodes... (named plural, with the group), and external for externalRules.
  // metrics.k8s.io reads containers (per container) and nodemetrics (per node) definitions
  // named cpu and memory, which the loader adds (resourceRules, or the cAdvisor default).
  // (name, resource) is unique; the pipeline keys it as Key().
  MetricResource resource;
  // Discovered definitions: the rule they came from ("rules[2]"); "" for `metrics:` entries.
  std::string rule;
  // Discovered definitions: the series name the rule matched (<<.Series>>); "" otherwise.
  std::string series;
  // A rule's metricsQuery that uses neither <<.LabelMatchers>> nor <<.LabelValuesByName>>: it
  // cannot be restricted to namespaces, so the sampler runs it once per round for all demanded
  // namespaces together, and each object gets the value of the series whose `pod_label` names it,
  // as prometheus-adapter matches series to objects (a series that also carries
  // `namespace_label` counts only in that namespace; series without `pod_label` match nothing).
  bool whole_cluster_query = false;
  // The backend queried (prom::Backends): "" or "default" is the `prometheus:` section; discovered
  // definitions carry their rule's, the cAdvisor ones the `cpu` definition's.
  std::string backend;
  std::string description;
  // PromQL with placeholders, rendered by the sampler:
  //   <<.LabelMatchers>>  matchers restricting the namespaces, e.g. namespace=~"a|b" (never empty,
  //                       but for an external metric without namespace label: empty, as
  //                       prometheus-adapter renders `namespaced: false`)
  //   <<.GroupBy>>        the grouping labels, e.g. namespace, pod
  // Definitions from prometheus-adapter rules (`rule` set) are Go templates (config/go_template.h)
  // that may also use <<.Series>>, <<.GroupBySlice>> (the grouping labels as a list) and
  // <<.LabelValuesByName>> (label -> values joined by "|"), with range, if and index.
  // Each result series must carry namespace_label and pod_label.
  std::string query;
  // Optional PromQL (same placeholders) giving each pod's baseline, e.g. its CPU request in cores:
  // then utilization = value / baseline (summed per workload, as the HPA does), and
  // `target_utilization` applies.
  std::string baseline_query;
  // Optional PromQL (same placeholders) giving, per row, the seconds between the first and the
  // last sample behind the value (the built-in metrics.k8s.io cpu: the span of the cAdvisor
  // samples in the rate window, less than the window for a younger series). metrics.k8s.io
  // reports it, capped at preset.window, as the item's `window`, as metrics-server reports the
  // time between the two samples it used.
  std::string span_query;
  // Series label naming the object's namespace; "" for cluster-scoped resources (nodes,
  // namespaces), which are sampled without a namespace restriction.
  std::string namespace_label = "namespace";
  // Series label naming the object described: the pod, or (discovered definitions) the service,
  // deployment, node... For resource "namespaces" it equals namespace_label.
  std::string pod_label = "pod";
  // Per-container definitions (resource "containers", for metrics.k8s.io): the series label naming
  // the container; the table then holds one value per "<pod>/<container>". "" otherwise.
  std::string container_label;
  // Per-pod target of the value (e.g. 70 concurrent requests), when known: utilization = value /
  // target. From `target`, or from `containerConcurrency * targetUtilizationPercentage / 100`.
  std::optional<double> target;
  // Target utilization in percent of the baseline (e.g. 50 for CPU), when baseline_query is set.
  std::optional<double> target_utilization;
  PresetInfo preset;
  // Panic-aware serving (KPA's rule), concurrency definitions only; unset: serve the sampled value.
  std::optional<PanicConfig> panic;
  ScalingConfig scaling;
  // KEDA ad-hoc queries only (a trigger's own PromQL, never from the config file): `query` is sent
  // as written, without placeholders, with these per-query options; the sampler keeps such
  // definitions apart from the served ones (Sampler::DefineAdhoc).
  bool adhoc = false;
  prom::QueryOptions query_options;

  // The pipeline's key: `name` for pods, "<resource>/<name>" otherwise.
  std::string Key() const {
    return resource.is(MetricResource::Kind::kPods) ? name : resource.name() + "/" + name;
  }
  // Same content, field by field (a reload keeps the tables of a definition that compares equal).
  friend bool operator==(const MetricDefinition&, const MetricDefinition&) = default;
};

struct SamplingConfig {
  // One query per demanded metric per interval. At least 1 s.
  absl::Duration interval = absl::Seconds(5);
  // Older values are never served. At least `interval`.
  absl::Duration max_age = absl::Seconds(60);
  // A (metric, namespace) nobody asked for that long is dropped. At least `interval`.
  absl::Duration demand_ttl = absl::Minutes(5);
  // How long a first request waits for its sample. Positive.
  absl::Duration first_sample_timeout = absl::Seconds(5);
  // Readiness: true waits until every metric definition has sampled once successfully.
  bool wait_for_first_sample = true;
  // Namespaces sampled from start, before anybody asks (readiness checks these). Empty: none.
  std::vector<std::string> warm_namespaces;

  // Bounded demand: what clients can make the sampler query.
  // A namespace nobody demands yet becomes demand only if it exists: the Kubernetes pod watch has
  // pods in it, or Prometheus has series with it as namespace label (its label values, re-read at
  // most once per `namespace_check_interval` when a namespace is not in them). Other namespaces
  // are answered as empty (no value) without a query. False: every valid namespace is demanded.
  bool check_namespaces = true;
  // How long Prometheus' namespace list answers "no" for a namespace. At least 1s.
  absl::Duration namespace_check_interval = absl::Seconds(30);
  // At most this many namespaces are demanded at once (warm namespaces included); at the ceiling
  // new ones are refused (503) until one expires after demandTTL. At least 1.
  int64_t max_namespaces = 1000;
  // New namespaces admitted per second (token bucket, refilled by the sampler's clock) and the
  // bucket's size; beyond them a new namespace is refused (503) and admitted on a later try.
  int64_t new_namespaces_per_second = 10;
  int64_t new_namespace_burst = 100;
  // Each metric's query names at most this many namespaces, and its namespace regex at most
  // `max_matcher_bytes` bytes: more namespaces are split over several queries (chunks). At least 1.
  int64_t max_namespaces_per_query = 100;
  int64_t max_matcher_bytes = 4096;
  // When a metric would need more than one chunk and its demanded namespaces are at least this
  // percentage of the namespaces Prometheus knows for its label, it is queried once without a
  // namespace matcher instead. 0..100; 0 turns it off.
  int64_t whole_cluster_percent = 50;
  // A round's metric queries run on up to this many threads at once, so one slow query does not
  // delay the others; 1 runs them one after another on the sampling thread. 1..64.
  int64_t max_concurrent_queries = 4;
};

// Pod labels index from kube-state-metrics (kube_pod_labels), used to select pods by their
// Kubernetes labels.
struct PodLabelsConfig {
  bool enabled = true;
  std::string backend;  // "" or "default": the `prometheus:` section; also kube_<object>_labels
  std::string query = "kube_pod_labels{<<.LabelMatchers>>}";
};

// The watch cache answering labelSelector on objects other than pods when the pods come from the
// Kubernetes API (kube::ObjectWatchCache: one metadata-only informer per resource asked for).
struct ObjectWatchConfig {
  int64_t max_resources = 16;    // resources with an informer; 0: every request is a LIST
  int64_t max_objects = 100000;  // objects one informer keeps; a larger resource is LISTed
  absl::Duration first_list_wait = absl::Seconds(5);  // a request waits this long for a first list
  absl::Duration max_staleness = absl::Minutes(2);    // no list nor watch that long: LISTs
  int64_t list_page_size = 500;                       // `limit` of each list page
};

// The KEDA external scaler's gRPC port. The adapter's --grpc-* flags override these when given.
struct KedaConfig {
  std::string listen = ":9500";  // host:port; port 0 picks a free one; "" turns the port off
  bool insecure = false;         // plaintext allowed (no TLS files); else TLS is required
  std::string tls_cert_file;     // PEM chain; with tls_key_file: TLS
  std::string tls_key_file;
  std::string client_ca_file;  // PEM CA bundle: clients must present a certificate it signed (mTLS)
  std::vector<std::string> client_names;  // allowed client certificate CN / DNS SAN; empty: any
  // Limits (keda::ServerOptions documents each).
  int64_t max_streams = 10000;
  int64_t max_streams_per_client = 1000;
  int64_t max_concurrent_streams_per_connection = 1000;
  int64_t max_receive_message_bytes = 16 << 10;
  absl::Duration min_ping_interval = absl::Seconds(30);
  int64_t max_ping_strikes = 2;
  absl::Duration max_connection_idle = absl::Minutes(5);
  absl::Duration max_connection_age = absl::Hours(1);
  absl::Duration max_connection_age_grace = absl::Minutes(1);
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Ad-hoc queries: triggers with KEDA's prometheus scaler keys (keda/metadata.h).
  struct AdhocQueries {
    bool enabled = true;
    int64_t max = 500;  // distinct queries sampled at once; >= 1
    // RE2 regexes (compiled at load time); a query must fully match one. Empty: any query.
    std::vector<std::string> allowlist;
  };
  AdhocQueries adhoc_queries;
};

// A Kubernetes group and resource as prometheus-adapter's `resources.overrides` name them.
struct GroupResource {
  std::string group;     // "" for the core group, e.g. "apps"
  std::string resource;  // as written: singular or plural, e.g. "pod", "deployments"
};

// How a prometheus-adapter rule maps series labels to Kubernetes resources.
struct ResourceMapping {
  std::map<std::string, GroupResource> overrides;  // Prometheus label -> resource
  std::string label_template;  // e.g. "<<.Resource>>" or "kube_<<.Group>>_<<.Resource>>"; "" none
  bool namespaced = true;      // externalRules only: false ignores the namespace of the request
};

// One entry of prometheus-adapter's `rules` or `externalRules`, validated (regexes compile,
// templates use only the supported constructs).
struct AdapterRule {
  std::string path;          // "rules[2]", for messages
  int line = 0;              // 1-based line of the rule in the file (0 when unknown)
  std::string series_query;  // series selector for /api/v1/series, e.g. '{__name__=~"^x_.*"}'
  struct Filter {
    bool is = true;     // true: `is` (must match), false: `isNot` (must not match)
    std::string regex;  // RE2 (Go regexp) syntax, matched anywhere in the series name
  };
  std::vector<Filter> series_filters;
  ResourceMapping resources;
  std::string name_matches = ".*";  // RE2 on the series name
  std::string name_as;              // Go regexp expansion ($1, ${name}); "" means $0 or $1
  std::string metrics_query;        // Go template: <<.Series>> <<.LabelMatchers>> <<.GroupBy>>
  bool external = false;            // from externalRules
  std::string backend;              // discovery and queries; "" or "default": `prometheus:`
};

// One of prometheus-adapter's `resourceRules` (cpu or memory).
struct AdapterResourceRule {
  std::string container_query;  // Go template, sums per container: cores or bytes
  std::string node_query;       // Go template, per node
  ResourceMapping resources;
  std::string container_label;  // series label naming the container, e.g. "container"
};

struct AdapterResourceRules {
  AdapterResourceRule cpu;
  AdapterResourceRule memory;
  absl::Duration window = absl::Minutes(1);  // reported as the PodMetrics window
  std::string backend;                       // "" or "default": `prometheus:`
};

// One entry of `backends:` other than `default`.
struct BackendConfig {
  std::string path;             // "backends[2]", for messages
  prom::ClientOptions options;  // options.name is the backend's name
};

struct Config {
  std::string source;  // the file it came from ("<embedded>" for strings), for messages
  // The backend named default: the `prometheus:` section, or the `backends:` entry named default.
  // `registry`, `sleep` and `proxy` are not read from YAML.
  prom::ClientOptions prometheus;
  std::string prometheus_path = "prometheus";  // where it was written, for messages
  // The other `backends:` entries, in file order (names unique, none "default").
  std::vector<BackendConfig> backends;
  SamplingConfig sampling;
  PodLabelsConfig pod_labels;
  ObjectWatchConfig object_watch;
  KedaConfig keda;
  std::vector<MetricDefinition> metrics;
  // prometheus-adapter sections, when the file has them.
  std::vector<AdapterRule> rules;  // `rules` then `externalRules`, in file order
  std::optional<AdapterResourceRules> resource_rules;
  // How often the rules' seriesQuery discovery re-runs (`discovery.interval`; default 10m, like
  // prometheus-adapter's --metrics-relist-interval). At least 10s.
  absl::Duration discovery_interval = absl::Minutes(10);
  // How far back discovery's /api/v1/series looks for series; zero: discovery_interval. Set by
  // --metrics-max-age (prometheus-adapter's flag of that meaning), not read from YAML.
  absl::Duration discovery_max_age = absl::ZeroDuration();

  // Returns the pods definition named `name`, or nullptr.
  const MetricDefinition* FindMetric(std::string_view name) const;
  // Every backend's client options: `prometheus` (named default) first, then `backends`.
  std::vector<prom::ClientOptions> BackendOptions() const;
  // Whether a backend is named `name` ("" is default).
  bool HasBackend(std::string_view name) const;
};

// Parses and validates YAML text. `source` names it in errors. InvalidArgument with "<source>:
// <field path>: <problem> (got <value>)" for unknown fields, wrong types, bad durations, duplicate
// names, unknown presets, templates missing their placeholders, an empty metric list, and YAML
// syntax errors (with line and column). Does not check that files (token, TLS) exist: the
// Prometheus client does at start. Texts over 1 MiB are refused. Never throws.
absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, std::string_view source);

// Reads and parses a file. NotFound / PermissionDenied when it cannot be read, else as ParseConfig.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);
// Only reads it (following symlinks), with LoadConfigFile's errors; a text over 1 MiB is cut just
// past the limit (ParseConfig refuses it).
absl::StatusOr<std::string> ReadConfigFile(const std::string& path);

// Checks what a running adapter needs beyond what ParseConfig checks, after the caller applied its
// flag overrides (e.g. --prometheus-url): prometheus.url is set and well formed, and the prometheus
// options are still valid; likewise every url of `backends`. InvalidArgument in the ParseConfig
// message shape, naming config.source.
absl::Status ValidateForRun(const Config& config);

// The built-in default for the simulator and demo (url empty: the demo passes --prometheus-url):
// namespace kserve-test warm, interval 2s, maxAge 30s; metrics `concurrency` (Knative queue-proxy,
// containerConcurrency 100 at 70 % -> target 70), `concurrency_kserve` (KServe predict histogram,
// target 70), `requests_running` (vLLM gauge, target 70) and `cpu` (targetUtilization 50).
std::string_view EmbeddedDefaultConfig();

}  // namespace aa::config
