#include "queryapi/authorization.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "queryapi/query_api.h"

namespace aa::queryapi {
namespace {

// A query parameter used as a path segment: absent gives `fallback`; empty or with a '/' is an
// error (it would change which resource the path names).
absl::StatusOr<std::string> Segment(const net::HttpRequest& request, std::string_view name,
                                    std::string_view fallback) {
  const std::string* value = request.Param(name);
  if (value == nullptr) return std::string(fallback);
  if (value->empty() || value->find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("parameter ", ToAbsl(name), "=\"", *value,
                                                   "\" must be a non-empty name without '/'"));
  }
  return *value;
}

// The Kubernetes metrics API path that reads what `request` reads.
absl::StatusOr<std::string> EquivalentPath(const net::HttpRequest& request, const QueryPath& q) {
  if (q.kind == QueryPath::Kind::kList) return std::string("/apis/custom.metrics.k8s.io/v1beta2");
  absl::StatusOr<std::string> resource = Segment(request, "resource", "pods");
  if (!resource.ok()) return resource.status();
  absl::StatusOr<std::string> name = Segment(request, "pod", "*");
  if (!name.ok()) return name.status();
  const std::string& ns = q.ns;
  const std::string& m = q.metric;
  const std::string one = *name == "*" ? "" : absl::StrCat("/", *name);
  if (*resource == "external") {
    return absl::StrCat("/apis/external.metrics.k8s.io/v1beta1/namespaces/", ns, "/", m);
  }
  if (*resource == "containers") {
    return absl::StrCat("/apis/metrics.k8s.io/v1beta1/namespaces/", ns, "/pods", one);
  }
  if (*resource == "nodemetrics") return absl::StrCat("/apis/metrics.k8s.io/v1beta1/nodes", one);
  constexpr char kCustom[] = "/apis/custom.metrics.k8s.io/v1beta2";
  if (*resource == "namespaces") return absl::StrCat(kCustom, "/namespaces/", ns, "/metrics/", m);
  if (*resource == "nodes") return absl::StrCat(kCustom, "/nodes/", *name, "/", m);
  return absl::StrCat(kCustom, "/namespaces/", ns, "/", *resource, "/", *name, "/", m);
}

}  // namespace

absl::StatusOr<auth::Attributes> AuthorizationAttributes(const net::HttpRequest& request,
                                                         const auth::UserInfo& user) {
  std::optional<QueryPath> q = ParseQueryPath(request.path);
  if (!q.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("not a query API path: ", request.path));
  }
  absl::StatusOr<std::string> path = EquivalentPath(request, *q);
  if (!path.ok()) return path.status();
  net::HttpRequest equivalent;
  equivalent.method = request.method;
  equivalent.path = *std::move(path);
  return auth::AttributesFor(equivalent, user);
}

}  // namespace aa::queryapi
