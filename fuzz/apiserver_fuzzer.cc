// Feeds arbitrary requests to MetricsApi::Handle (the Kubernetes metrics APIs): it must never
// crash, and every answer must keep the wire contract: a JSON body (text only for the health
// endpoints); a non-2xx answer is a metav1.Status whose `code` is the HTTP status; a 2xx JSON
// answer has `kind` and `apiVersion`.
//
// Input: lines "method\npath\nquery\nheader: value\n...", used raw (as the HttpServer hands them
// over after percent-decoding). The API runs on a sampler over a fake Prometheus (pods metrics,
// cpu/memory, prometheus-adapter rules for services, deployments, nodes and an external metric)
// that is warmed up for namespace "ns" and then stopped: a fixed snapshot, no threads while
// fuzzing. Seed corpus: tests/testdata/apiserver/corpus/.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "apiserver/server.h"
#include "config/config.h"
#include "nlohmann/json.hpp"
#include "pipeline/discovery.h"
#include "pipeline/sampler.h"
#include "pipeline/view.h"
#include "testutil/fake_prometheus.h"

namespace {

using aa::testing::FakePrometheus;
using aa::testing::PodLabelsRows;
using aa::testing::SeriesOf;
using nlohmann::json;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

aa::config::Config FuzzConfig() {
  aa::config::Config c;
  c.sampling.interval = absl::Seconds(5);
  c.sampling.max_age = absl::Seconds(30);
  c.sampling.first_sample_timeout = absl::Seconds(10);
  c.sampling.warm_namespaces = {"ns"};
  aa::config::MetricDefinition conc;
  conc.name = "concurrency";
  conc.query = "conc{<<.LabelMatchers>>}";
  conc.target = 70;
  conc.preset.type = "concurrency";
  conc.preset.window = absl::Seconds(30);
  aa::config::MetricDefinition cpu;
  cpu.name = "cpu";
  cpu.query = "usage{<<.LabelMatchers>>}";
  cpu.baseline_query = "requests{<<.LabelMatchers>>}";
  cpu.target_utilization = 50;
  aa::config::MetricDefinition memory;
  memory.name = "memory";
  memory.query = "mem{<<.LabelMatchers>>}";
  c.metrics = {conc, cpu, memory};

  aa::config::AdapterRule rule;
  rule.path = "rules[0]";
  rule.series_query = "{namespace!=\"\"}";
  rule.resources.label_template = "<<.Resource>>";
  rule.name_matches = "^(.*)_total$";
  rule.name_as = "${1}_per_second";
  rule.metrics_query = "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)";
  aa::config::AdapterRule nodes = rule;
  nodes.path = "rules[1]";
  nodes.series_query = "node_load";
  nodes.name_matches = ".*";
  nodes.name_as = "";
  nodes.metrics_query = "max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)";
  aa::config::AdapterRule external;
  external.path = "externalRules[0]";
  external.external = true;
  external.series_query = "queue_depth";
  external.resources.overrides["namespace"] = {"", "namespace"};
  external.metrics_query = "sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)";
  c.rules = {rule, nodes, external};
  return c;
}

void SetUpPrometheus(FakePrometheus& prom) {
  prom.AnswerSeries("node_load", {SeriesOf("node_load", {{"node", "n1"}})});
  prom.AnswerSeries("queue_depth",
                    {SeriesOf("queue_depth", {{"namespace", "ns"}, {"queue", "jobs"}})});
  prom.SetSeriesHandler(
      [](const std::vector<std::string>&) -> absl::StatusOr<std::vector<aa::prom::Labels>> {
        return std::vector<aa::prom::Labels>{SeriesOf(
            "http_requests_total",
            {{"namespace", "ns"}, {"pod", "a-1"}, {"service", "web"}, {"deployment", "web"}})};
      });
  prom.AnswerPrefix("kube_pod_labels",
                    PodLabelsRows("ns", {{"a-1", "a"}, {"a-2", "a"}, {"b-1", "b"}}));
  prom.AnswerPrefix("conc", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 35},
                             {{{"namespace", "ns"}, {"pod", "a-2"}}, 105.5},
                             {{{"namespace", "ns"}, {"pod", "b-1"}}, 7}});
  prom.AnswerPrefix("usage", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 0.25},
                              {{{"namespace", "ns"}, {"pod", "b-1"}}, -1.5}});
  prom.AnswerPrefix("mem", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 2.0 * 1024 * 1024 * 1024},
                            {{{"namespace", "ns"}, {"pod", "b-1"}}, 1e300}});
  prom.AnswerPrefix("sum(queue_depth",
                    {{{{"queue", "jobs"}}, 12000}, {{{"queue", "mail\xff\""}}, 0.5}});
  prom.AnswerPrefix("max(node_load", {{{{"node", "n1"}}, 0.5}, {{{"node", "n2"}}, 1.25}});
  prom.AnswerContaining("by (namespace, service)",
                        {{{{"namespace", "ns"}, {"service", "web"}}, 12.5}});
  prom.AnswerContaining("by (namespace, deployment)",
                        {{{{"namespace", "ns"}, {"deployment", "web"}}, 20}});
  prom.AnswerContaining("by (namespace, pod)", {{{{"namespace", "ns"}, {"pod", "a-1"}}, 3}});
  prom.AnswerContaining("by (namespace)", {{{{"namespace", "ns"}}, 21}});
  prom.AnswerOtherwise({});
}

// The paths whose tables the warm-up samples before the sampler stops.
constexpr const char* kWarmPaths[] = {
    "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency",
    "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/http_requests_per_second",
    "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/services/web/http_requests_per_second",
    ("/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/deployments.apps/web/"
     "http_requests_per_second"),
    "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/metrics/http_requests_per_second",
    "/apis/custom.metrics.k8s.io/v1beta1/nodes/*/node_load",
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/queue_depth",
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/concurrency",
    "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods",
    "/apis/metrics.k8s.io/v1beta1/pods",
};

struct World {
  World() {
    SetUpPrometheus(prom);
    sampler = std::make_unique<aa::pipeline::Sampler>(FuzzConfig(), prom, clock, nullptr);
    aa::pipeline::Discoverer discoverer(*sampler, prom, clock);
    discoverer.RunOnce();
    api = std::make_unique<aa::apiserver::MetricsApi>(aa::pipeline::View(*sampler), clock);
    sampler->Start();
    Check(sampler->WaitForGeneration(1, absl::Seconds(30)));
    for (const char* path : kWarmPaths) {
      aa::net::HttpRequest r;
      r.method = "GET";
      r.path = path;
      api->Handle(r);
    }
    // From here on a fixed snapshot: reads of anything else fail at once (Unavailable).
    sampler->Stop();
  }
  FakePrometheus prom;
  aa::SimulatedClock clock;
  std::unique_ptr<aa::pipeline::Sampler> sampler;
  std::unique_ptr<aa::apiserver::MetricsApi> api;
};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// Health answers are text, as kube-apiserver's: /healthz, /livez, /readyz and one readiness
// check by name (/readyz/<check>, 404 text for an unknown one).
bool IsHealthPath(const std::string& path) {
  return path == "/healthz" || path == "/livez" || path == "/readyz" ||
         absl::StartsWith(path, "/readyz/");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();  // never destroyed: no sampler thread outlives main
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines = Split(input, '\n');
  aa::net::HttpRequest req;
  req.method = lines.size() > 0 && !lines[0].empty() ? std::string(lines[0]) : "GET";
  req.path = lines.size() > 1 ? std::string(lines[1]) : "/";
  if (lines.size() > 2) {
    for (std::string_view pair : Split(lines[2], '&')) {
      size_t eq = pair.find('=');
      req.params.emplace(std::string(pair.substr(0, eq)),
                         eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    }
  }
  for (size_t i = 3; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    std::string_view value = colon == std::string_view::npos ? "" : lines[i].substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    req.headers.emplace_back(std::string(lines[i].substr(0, colon)), std::string(value));
  }

  aa::net::HttpResponse res = world->api->Handle(req);
  Check(res.status >= 200 && res.status <= 599);
  Check(!res.route.empty());
  if (absl::StartsWith(res.content_type, "text/plain")) {
    Check(IsHealthPath(req.path));
    return 0;
  }
  Check(res.content_type == "application/json");
  json body = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  Check(!body.is_discarded());
  Check(body.is_object());
  if (res.status >= 200 && res.status < 300) {
    Check(body.contains("kind") && body["kind"].is_string() && !body["kind"].empty());
    Check(body.contains("apiVersion") && body["apiVersion"].is_string() &&
          !body["apiVersion"].empty());
    Check(body["kind"] != "Status");
  } else {
    Check(body.value("kind", "") == "Status");
    Check(body.value("apiVersion", "") == "v1");
    Check(body.value("status", "") == "Failure");
    Check(body.contains("code") && body["code"].is_number_integer() &&
          body["code"].get<int>() == res.status);
    Check(!body.value("message", "").empty());
    Check(body.contains("reason") && body["reason"].is_string());
  }
  return 0;
}
