#pragma once
// Helpers shared by the integration suites: the stack they start, JSON over HTTP, Prometheus' own
// answers at a given evaluation time, and running an external client (kubectl, the Python gRPC
// client). The inline ones need nothing else; the kubectl suites' helpers declared at the end are
// in integration_util.cc (link aa_integration_util).

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "demo/stack.h"
#include "gtest/gtest.h"
#include "net/call.h"
#include "net/url.h"
#include "nlohmann/json.hpp"

namespace aa::integration {

using nlohmann::json;

// The simulator + real Prometheus (1 s scrapes) + adapter stack, with `adapter_config` as the
// adapter's config.
inline demo::StackOptions StackOptionsFor(const std::string& adapter_config) {
  demo::StackOptions options;
  options.bin_dir = AA_BIN_DIR;
  options.prometheus_bin = AA_PROMETHEUS_BIN;
  options.adapter_config_yaml = adapter_config;
  options.scrape_interval = absl::Seconds(1);
  return options;
}

// An HTTP answer as JSON; `status` receives the HTTP code. A transport error fails the test.
inline json AnswerJson(const absl::StatusOr<net::HttpResult>& r, int* status) {
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    return json();
  }
  if (status) *status = r->status;
  json j = json::parse(r->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r->body;
  return j;
}

// GET http://127.0.0.1:port/path as JSON (Prometheus, the adapter's /metrics port).
inline json GetJson(int port, const std::string& path, int* status = nullptr) {
  return AnswerJson(net::HttpCall("GET", "127.0.0.1", port, path), status);
}

// GET on the adapter's query API: https://127.0.0.1:https_port/path (the stack's self-signed
// certificate not verified; no credentials: the stack runs with --authentication=off).
inline json QueryJson(int https_port, const std::string& path, int* status = nullptr) {
  return AnswerJson(net::HttpsGetInsecure("127.0.0.1", https_port, path), status);
}

// Prometheus' own answer to an instant query evaluated at `unix_ms`.
inline json PrometheusQueryAt(int prometheus_port, const std::string& query, int64_t unix_ms) {
  return GetJson(prometheus_port, absl::StrCat("/api/v1/query?query=", net::UrlEncode(query),
                                               "&time=", unix_ms / 1000, ".",
                                               absl::StrFormat("%03d", unix_ms % 1000)));
}

// A metric definition's query rendered the way the sampler renders it for one namespace, and the
// series label that names the pod.
struct RenderedQuery {
  std::string query;
  std::string pod_label;
};
inline RenderedQuery RenderQuery(int adapter_https_port, const std::string& metric,
                                 const std::string& ns) {
  json defs = QueryJson(adapter_https_port, "/api/v1/metrics");
  for (const auto& d : defs["metrics"]) {
    if (d["name"] != metric) continue;
    const std::string tmpl = d["query"].get<std::string>();
    // The Knative queue-proxy preset (our "concurrency") labels series namespace_name/pod_name.
    bool knative = tmpl.find("namespace_name") != std::string::npos || metric == "concurrency";
    std::string ns_label = knative ? "namespace_name" : "namespace";
    std::string pod_label = knative ? "pod_name" : "pod";
    return {
        absl::StrReplaceAll(tmpl, {{"<<.LabelMatchers>>", absl::StrCat(ns_label, "=\"", ns, "\"")},
                                   {"<<.GroupBy>>", absl::StrCat(ns_label, ", ", pod_label)}}),
        pod_label};
  }
  ADD_FAILURE() << "no definition " << metric;
  return {};
}

// Per-pod finite values Prometheus answers for the rendered query of `metric` at `unix_ms` (the
// adapter never serves NaN or Inf, so they are left out here too).
inline std::map<std::string, double> PrometheusValues(int adapter_https_port, int prometheus_port,
                                                      const std::string& metric,
                                                      const std::string& ns, int64_t unix_ms) {
  RenderedQuery q = RenderQuery(adapter_https_port, metric, ns);
  json j = PrometheusQueryAt(prometheus_port, q.query, unix_ms);
  std::map<std::string, double> out;
  for (const auto& s : j["data"]["result"]) {
    double v = std::stod(s["value"][1].get<std::string>());
    if (std::isfinite(v)) out[s["metric"][q.pod_label].get<std::string>()] = v;
  }
  return out;
}

// Parses a Kubernetes quantity string ("1500m", "250n", "2Gi", "12k", "3") into a number; NaN and
// a test failure for anything else.
inline double ParseQuantity(const std::string& q) {
  static const std::map<std::string, double> kSuffix = {
      {"n", 1e-9},    {"u", 1e-6},       {"m", 1e-3},          {"", 1},
      {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12},
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}};
  size_t i = 0;
  while (i < q.size() && (std::isdigit(static_cast<unsigned char>(q[i])) || q[i] == '.' ||
                          q[i] == '-' || q[i] == '+')) {
    ++i;
  }
  auto it = kSuffix.find(q.substr(i));
  double mantissa = 0;
  if (i == 0 || it == kSuffix.end() || !absl::SimpleAtod(q.substr(0, i), &mantissa)) {
    ADD_FAILURE() << "not a quantity: " << q;
    return NAN;
  }
  return mantissa * it->second;
}

// Checks a PodMetrics/NodeMetrics `window` (a Go duration string, "14.994s"): the real span of the
// samples behind the value, so more than zero and at most the metric's configured window (a stack
// a few seconds old has only a few seconds of samples).
inline void ExpectWindowWithin(const json& window, absl::Duration configured) {
  absl::Duration d;
  ASSERT_TRUE(window.is_string() && absl::ParseDuration(window.get<std::string>(), &d))
      << "not a duration: " << window.dump();
  EXPECT_GT(d, absl::ZeroDuration()) << window.dump();
  EXPECT_LE(d, configured) << window.dump();
}

// Runs a shell command; returns what it printed on stdout and sets `exit_code` (-1 if it could not
// run).
inline std::string RunCommand(const std::string& cmd, int* exit_code = nullptr) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    if (exit_code) *exit_code = -1;
    return "";
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Writes a kubeconfig for kubectl pointed straight at the adapter's HTTPS port (a token, no TLS
// verification of the self-signed certificate).
inline void WriteKubeconfig(const std::string& path, int https_port) {
  std::ofstream out(path);
  out << "apiVersion: v1\nkind: Config\nclusters:\n- name: adapter\n  cluster:\n"
      << "    server: https://127.0.0.1:" << https_port << "\n"
      << "    insecure-skip-tls-verify: true\n"
      << "users:\n- name: hpa\n  user:\n    token: integration-test-token\n"
      << "contexts:\n- name: adapter\n  context: {cluster: adapter, user: hpa}\n"
      << "current-context: adapter\n";
}

// Runs the build folder's pinned kubectl (AA_KUBECTL, from scripts/tools.sh) with `kubeconfig`;
// returns stdout+stderr and sets `exit_code`. When that kubectl is missing (the aa_tools target
// not built), a test failure that says so, and exit code 127.
inline std::string RunKubectl(const std::string& kubeconfig, const std::vector<std::string>& args,
                              int* exit_code) {
  if (access(AA_KUBECTL, X_OK) != 0) {
    std::string missing = absl::StrCat("kubectl not found at ", AA_KUBECTL,
                                       ": build the aa_tools target (scripts/build.sh does)");
    ADD_FAILURE() << missing;
    if (exit_code != nullptr) *exit_code = 127;
    return missing;
  }
  std::string cmd =
      absl::StrCat("'", AA_KUBECTL, "' --kubeconfig='", kubeconfig, "' --request-timeout=15s");
  for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
  absl::StrAppend(&cmd, " 2>&1");
  return RunCommand(cmd, exit_code);
}

// ----- the kubectl suites (integration_util.cc, library aa_integration_util) -----

// `kubectl get --raw path` with `kubeconfig`, as JSON. With `exit_code` null, kubectl must succeed
// and print JSON (else a test failure); otherwise `exit_code` receives its status and the result
// may be discarded JSON.
json KubectlJson(const std::string& kubeconfig, const std::string& path, int* exit_code = nullptr);

// The evaluation time of the adapter's current table of `metric` for `resource` in namespace `ns`
// (of the `metric_selector` variant when not empty), from the query API (HTTPS port), which has it
// to the millisecond (the metrics APIs print it truncated to seconds). InfinitePast and a test
// failure when it is missing.
absl::Time SampledAt(int adapter_https_port, const std::string& ns, const std::string& metric,
                     const std::string& resource, const std::string& metric_selector = "");

// Polls the query API until `metric` of `resource` in namespace `ns` is served (HTTP 200), at most
// `timeout`. A just-started adapter evaluates its first tables at the sampling interval's boundary
// before the request, which can precede Prometheus' first scrapes of a just-started simulator (a
// rate() needs two): a suite waits for its data before its first strict read.
bool WaitUntilServed(int adapter_https_port, const std::string& ns, const std::string& metric,
                     const std::string& resource, absl::Duration timeout = absl::Seconds(60));

// `t` as the metrics APIs print timestamps: RFC 3339 in UTC, whole seconds.
std::string Rfc3339Seconds(absl::Time t);

// Prometheus' answer to `query` evaluated at `at`, keyed by the values of `labels` joined with '/'
// ("pod/container" for {"pod", "container"}); finite values only (the adapter never serves NaN or
// Inf).
std::map<std::string, double> PrometheusValuesBy(int prometheus_port, const std::string& query,
                                                 const std::vector<std::string>& labels,
                                                 absl::Time at);

// Every value Prometheus at `prometheus_port` gives `query` at 50 ms steps over the last `span`
// (a series scraped every second changes no more often: none of its values is missed).
std::set<double> PrometheusValuesOver(int prometheus_port, const std::string& query,
                                      absl::Duration span);

// The value of the counter or gauge `name{labels...}` in a Prometheus text exposition (summed over
// the series whose label text contains every one of `labels`; 0 when none).
double ScrapeValue(const std::string& text, const std::string& name,
                   const std::vector<std::string>& labels);

// The adapter's /metrics from its plain-HTTP port (a test failure and "" when it does not answer).
std::string Scrape(int port);

}  // namespace aa::integration
