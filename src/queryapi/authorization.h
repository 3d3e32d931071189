#pragma once
// Who may read what through the query API (queryapi/query_api.h) on the HTTPS port: a request is
// authorized with the SubjectAccessReview attributes of the Kubernetes metrics API request that
// reads the same values (auth::AttributesFor of that path), so a role that lets the HPA read a
// metric lets a user read it here too, and nothing more:
//
//   /api/v1/namespaces/{ns}/metrics/{m}[/scaling]   (?resource= default pods; ?pod=NAME)
//     pods and other objects
//     /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/{resource}/{NAME|*}/{m}
//                             (get; resource "pods", name "*", subresource "m" in namespace ns)
//     resource=namespaces     /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/metrics/{m}
//     resource=nodes          /apis/custom.metrics.k8s.io/v1beta2/nodes/{NAME|*}/{m}
//     resource=external       /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{m}
//     resource=containers     /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods[/{NAME}]
//     resource=nodemetrics    /apis/metrics.k8s.io/v1beta1/nodes[/{NAME}]
//   /api/v1/metrics (the metric definitions, no values)
//                           /apis/custom.metrics.k8s.io/v1beta2: the custom metrics API's
//                           discovery document (non-resource get; Kubernetes' default
//                           system:discovery role grants it to every authenticated user)
//
// /scaling needs exactly what its metric needs: it is computed from those values alone. The HTTP
// method is kept (a POST becomes verb create, denied by any read-only role).

#include "absl/status/statusor.h"
#include "auth/authorizer.h"
#include "net/server.h"

namespace aa::queryapi {

// The attributes of a query API request (a path ParseQueryPath accepts) by `user`.
// InvalidArgument when ?resource or ?pod is empty or holds a '/' (nothing to authorize), or the
// path is not a query API path.
absl::StatusOr<auth::Attributes> AuthorizationAttributes(const net::HttpRequest& request,
                                                         const auth::UserInfo& user);

}  // namespace aa::queryapi
