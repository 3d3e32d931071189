#include "kube/client_metrics.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/metric_families.h"
#include "common/strings.h"
#include "kube/client.h"

namespace aa::kube {

RequestLabels ClassifyRequest(std::string_view method, std::string_view path) {
  RequestLabels out{method == "POST" ? "create" : "get", "other"};
  path = path.substr(0, path.find('?'));
  std::vector<std::string> segments = absl::StrSplit(ToAbsl(path), '/', absl::SkipEmpty());
  // /api/v1/... (core) or /apis/<group>/<version>/...
  size_t first = 0;
  if (segments.size() >= 3 && segments[0] == "api") first = 2;
  if (segments.size() >= 4 && segments[0] == "apis") first = 3;
  if (first == 0) return out;
  std::vector<std::string> rest(segments.begin() + first, segments.end());
  // namespaces/<ns>/<resource>... is namespaced; namespaces and namespaces/<name> are namespaces.
  if (rest.size() >= 3 && rest[0] == "namespaces") rest.erase(rest.begin(), rest.begin() + 2);
  out.resource = rest[0];
  if (rest.size() >= 3) absl::StrAppend(&out.resource, "/", rest[2]);
  if (method != "POST" && rest.size() == 1) out.verb = "list";
  return out;
}

std::string CodeClass(const absl::Status& status) {
  if (status.ok()) return "2xx";
  const int http = HttpStatusOf(status);
  if (http == 0) return "error";
  return absl::StrCat(http / 100, "xx");
}

namespace {

class NoMetrics final : public ClientMetrics {
 public:
  void Observe(std::string_view, std::string_view, const absl::Status&, absl::Duration) override {}
};

class RegistryMetrics final : public ClientMetrics {
 public:
  explicit RegistryMetrics(prometheus::Registry& registry)
      : duration_(HistogramFamily(
            registry, "autoscale_adapter_kube_request_duration_seconds",
            "Duration of Kubernetes API calls (TokenReview, SubjectAccessReview, lists), by verb, "
            "resource and answer class (2xx, 4xx, 5xx, error).")) {}

  void Observe(std::string_view method, std::string_view path, const absl::Status& status,
               absl::Duration elapsed) override {
    RequestLabels labels = ClassifyRequest(method, path);
    duration_
        .Add({{"verb", labels.verb}, {"resource", labels.resource}, {"code", CodeClass(status)}},
             DurationBuckets(10))
        .Observe(absl::ToDoubleSeconds(elapsed));
  }

 private:
  prometheus::Family<prometheus::Histogram>& duration_;
};

}  // namespace

std::unique_ptr<ClientMetrics> ClientMetrics::Create(prometheus::Registry* registry) {
  if (registry == nullptr) return std::make_unique<NoMetrics>();
  return std::make_unique<RegistryMetrics>(*registry);
}

}  // namespace aa::kube
