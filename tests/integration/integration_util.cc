#include "integration/integration_util.h"

#include <cmath>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "demo/proc/subprocess.h"

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

bool WaitUntilServed(int adapter_https_port, const std::string& ns, const std::string& metric,
                     const std::string& resource, absl::Duration timeout) {
  const std::string path =
      absl::StrCat("/api/v1/namespaces/", ns, "/metrics/", metric, "?resource=", resource);
  return proc::PollUntil(
      [&] {
        int status = 0;
        QueryJson(adapter_https_port, path, &status);
        return status == 200;
      },
      timeout, absl::Milliseconds(300));
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

double ScrapeValue(const std::string& text, const std::string& name,
                   const std::vector<std::string>& labels) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || line.empty() || (line[0] != '{' && line[0] != ' ')) {
      continue;
    }
    bool all = true;
    for (const auto& l : labels) all = all && line.find(l) != absl::string_view::npos;
    double v = 0;
    if (all && absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

std::string Scrape(int port) {
  auto r = net::HttpCall("GET", "127.0.0.1", port, "/metrics");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->body : "";
}

std::set<double> PrometheusValuesOver(int prometheus_port, const std::string& query,
                                      absl::Duration span) {
  const absl::Time end = absl::Now();
  json j =
      GetJson(prometheus_port, absl::StrCat("/api/v1/query_range?query=", net::UrlEncode(query),
                                            absl::StrFormat("&start=%.3f&end=%.3f&step=0.05",
                                                            absl::ToUnixMillis(end - span) / 1000.0,
                                                            absl::ToUnixMillis(end) / 1000.0)));
  std::set<double> out;
  if (!j.contains("data")) return out;
  for (const auto& series : j["data"]["result"]) {
    for (const auto& point : series["values"]) out.insert(std::stod(point[1].get<std::string>()));
  }
  return out;
}

}  // namespace aa::integration
