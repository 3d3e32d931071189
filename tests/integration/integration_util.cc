#include "integration/integration_util.h"

#include <cmath>

#include "absl/strings/str_join.h"

namespace aa::integration {

json KubectlJson(const std::string& kubeconfig, const std::string& path, int* exit_code) {
  int code = -1;
  std::string out = RunKubectl(kubeconfig, {"get", "--raw", path}, &code);
  if (exit_code) *exit_code = code;
  json j = json::parse(out, nullptr, false);
  if (exit_code == nullptr) {
    EXPECT_EQ(code, 0) << path << ": " << out;
    EXPECT_FALSE(j.is_discarded()) << out;
  }
  return j;
}

absl::Time SampledAt(int adapter_https_port, const std::string& ns, const std::string& metric,
                     const std::string& resource, const std::string& metric_selector) {
  json j = QueryJson(
      adapter_https_port,
      absl::StrCat(
          "/api/v1/namespaces/", ns, "/metrics/", metric, "?resource=", resource,
          metric_selector.empty() ? "" : "&metricLabelSelector=", net::UrlEncode(metric_selector)));
  absl::Time t = absl::InfinitePast();
  std::string err;
  if (!j.contains("sampledAt") ||
      !absl::ParseTime(absl::RFC3339_full, j["sampledAt"].get<std::string>(), &t, &err)) {
    ADD_FAILURE() << "no sampledAt: " << j.dump();
  }
  return t;
}

std::string Rfc3339Seconds(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::map<std::string, double> PrometheusValuesBy(int prometheus_port, const std::string& query,
                                                 const std::vector<std::string>& labels,
                                                 absl::Time at) {
  json j = PrometheusQueryAt(prometheus_port, query, absl::ToUnixMillis(at));
  std::map<std::string, double> out;
  for (const auto& s : j["data"]["result"]) {
    const double v = std::stod(s["value"][1].get<std::string>());
    if (!std::isfinite(v)) continue;
    std::vector<std::string> key;
    for (const std::string& label : labels) key.push_back(s["metric"][label].get<std::string>());
    out[absl::StrJoin(key, "/")] = v;
  }
  return out;
}

}  // namespace aa::integration
