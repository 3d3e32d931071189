#pragma once
// The authentication and authorization step in front of the Kubernetes metrics APIs handler:
//
//   auth::AuthFilter filter(options);            // options' pointers must outlive the filter
//   net::HttpHandler secured = filter.Wrap(handler);
//
// Order per request: health paths (/healthz, /livez, /readyz and below) go straight through;
// otherwise the caller is authenticated (none: 401 metav1.Status "Unauthorized"), then, unless a
// member of system:masters, authorized by SubjectAccessReview attributes (denied or no opinion:
// 403 metav1.Status "Forbidden" with Kubernetes' wording; the authorizer unreachable: 500). The
// attributes are Kubernetes' for the request path (AttributesFor), or what the AttributesFn given
// to Wrap derives (the query API authorizes as the custom metrics API; its error: 400).
// Either step can be switched off for local use. Rejections are logged at debug level with the
// user and the reason, never with credentials.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "auth/authenticator.h"
#include "auth/authorizer.h"
#include "net/server.h"

namespace prometheus {
class Registry;
}

namespace aa::auth {

// The SubjectAccessReview attributes of a request by `user`; an error (InvalidArgument) when the
// request names nothing that can be authorized.
using AttributesFn =
    std::function<absl::StatusOr<Attributes>(const net::HttpRequest&, const UserInfo&)>;

struct AuthFilterOptions {
  // Null: authentication off (every request is served as if from system:anonymous with no
  // authorization check; only for local use).
  const Authenticator* authenticator = nullptr;
  // Null: authorization off (every authenticated request is allowed).
  Authorizer* authorizer = nullptr;
  // Counts autoscale_adapter_auth_requests_total{result} (authenticated method, unauthorized,
  // forbidden, error, bad_request, skipped). May be null.
  prometheus::Registry* registry = nullptr;
};

class AuthFilter {
 public:
  explicit AuthFilter(AuthFilterOptions options);
  ~AuthFilter();
  // A handler that runs the checks, then `next`. The returned handler refers to this filter.
  // `attributes` null: AttributesFor.
  net::HttpHandler Wrap(net::HttpHandler next, AttributesFn attributes = nullptr) const;
  // The checks alone: nullopt when the request may go on, else the rejection.
  std::optional<net::HttpResponse> Check(const net::HttpRequest& request,
                                         const AttributesFn& attributes = nullptr) const;

 private:
  struct Metrics;
  AuthFilterOptions options_;
  std::unique_ptr<Metrics> metrics_;
};

// Whether `path` is a health endpoint served without credentials.
bool IsHealthPath(std::string_view path);

}  // namespace aa::auth
