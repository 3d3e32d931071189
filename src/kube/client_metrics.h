#pragma once
// The Kubernetes API client's self-metrics, built once per client from the registry:
//   autoscale_adapter_kube_request_duration_seconds{verb,resource,code}
// a histogram of every GetJson/PostJson call (retries included) by what it asked for and the class
// of its answer. Watches are streams and are not timed here.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
}

namespace aa::kube {

// What a request asked for, in the labels' terms: verb get (one object), list (a collection),
// create (POST); resource the plural resource name ("pods", "tokenreviews", "configmaps"), with
// "/subresource" when there is one; "other" for a path that is no Kubernetes API path.
struct RequestLabels {
  std::string verb;
  std::string resource;
};
RequestLabels ClassifyRequest(std::string_view method, std::string_view path);

// "2xx", "4xx", "5xx" (any HTTP answer, by its status: see HttpStatusOf) or "error" (no HTTP
// answer: connection, TLS, timeout).
std::string CodeClass(const absl::Status& status);

class ClientMetrics {
 public:
  // `registry` may be null: then Observe is a no-op.
  static std::unique_ptr<ClientMetrics> Create(prometheus::Registry* registry);
  virtual ~ClientMetrics() = default;
  virtual void Observe(std::string_view method, std::string_view path, const absl::Status& status,
                       absl::Duration elapsed) = 0;
};

}  // namespace aa::kube
