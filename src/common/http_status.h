#pragma once
// The one translation from absl::Status codes to HTTP status codes and Kubernetes' Status reasons,
// shared by the query API and the Kubernetes metrics APIs.

#include "absl/status/status.h"

namespace aa {

// InvalidArgument 400, Unauthenticated 401, PermissionDenied 403, NotFound 404, Unimplemented 405,
// Unavailable 503, DeadlineExceeded 504, OK 200; everything else 500.
int HttpStatusFor(absl::StatusCode code);

// metav1.StatusReason for an HTTP error code ("BadRequest", "NotFound", "ServiceUnavailable", ...),
// or nullptr for a code Kubernetes gives no reason.
const char* HttpReasonFor(int http_code);

}  // namespace aa
