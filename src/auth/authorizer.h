#pragma once
// Authorization of requests to the Kubernetes metrics APIs through SubjectAccessReview, with the
// attributes Kubernetes' request-info factory derives from the path:
//   /apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/concurrency
//       resource "pods", name "*", subresource "concurrency", verb get, namespace "ns"
//   /apis/external.metrics.k8s.io/v1beta1/namespaces/ns/queue_depth
//       resource "queue_depth", verb list
//   /apis/metrics.k8s.io/v1beta1/namespaces/ns/pods (list) and .../pods/name (get), /nodes
//   /apis, /apis/{group}, /apis/{group}/{version}, /api, /openapi/...: non-resource (path, verb)

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/authenticator.h"
#include "auth/internal/review_budget.h"
#include "auth/internal/ttl_cache.h"
#include "common/clock.h"
#include "net/server.h"

namespace aa::auth {

// authorization.k8s.io/v1 SubjectAccessReview attributes.
struct Attributes {
  UserInfo user;
  std::string verb;  // get, list, watch, create, ... (non-resource: the lowercase HTTP method)
  bool resource_request = false;
  // Resource requests:
  std::string namespace_;
  std::string api_group;
  std::string api_version;
  std::string resource;
  std::string subresource;
  std::string name;
  // Non-resource requests:
  std::string path;
  bool operator==(const Attributes&) const = default;
};

// Kubernetes' RequestInfoFactory (apiserver/pkg/endpoints/request/requestinfo.go) with API
// prefixes "api" (groupless) and "apis", for `request` made by `user`.
Attributes AttributesFor(const net::HttpRequest& request, const UserInfo& user);

enum class Decision { kAllow, kDeny, kNoOpinion };

struct AuthorizationResult {
  Decision decision = Decision::kNoOpinion;
  std::string reason;  // status.reason of the review
};

// Answers whether a user may do something. Thread-safe implementations.
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // A decision, or an error when it could not be made (Unavailable, ...).
  virtual absl::StatusOr<AuthorizationResult> Authorize(const Attributes& attributes) = 0;
};

// Caches another authorizer's decisions: allowed ones for `allow_ttl`, denied (and no-opinion)
// ones for `deny_ttl` (Kubernetes: 10 s each), at most `max_entries` (expired, then oldest dropped
// first). Errors are not cached. Thread-safe.
class CachingAuthorizer final : public Authorizer {
 public:
  // `backend` and `clock` must outlive this object.
  CachingAuthorizer(Authorizer& backend, Clock& clock, absl::Duration allow_ttl = absl::Seconds(10),
                    absl::Duration deny_ttl = absl::Seconds(10), size_t max_entries = 8192);
  absl::StatusOr<AuthorizationResult> Authorize(const Attributes& attributes) override;
  uint64_t hits() const { return cache_.hits(); }
  uint64_t misses() const { return cache_.misses(); }

 private:
  Authorizer& backend_;
  const absl::Duration allow_ttl_;
  const absl::Duration deny_ttl_;
  internal::TtlCache<AuthorizationResult> cache_;
};

// Guards the SubjectAccessReview backend (the Kubernetes API): each user's uncached reviews within
// a ReviewBudget keyed by the user's name, so one user's flood of invented namespaces neither
// floods the Kubernetes API nor delays another user's reviews. Over the budget the backend is not
// asked and the answer is ResourceExhausted (the filter answers 429). Sits between
// CachingAuthorizer and the backend. Thread-safe.
class BoundedAuthorizer final : public Authorizer {
 public:
  // `backend` and `clock` must outlive this object.
  BoundedAuthorizer(Authorizer& backend, Clock& clock, internal::ReviewBudgetOptions budget)
      : backend_(backend), budget_(clock, budget) {}
  absl::StatusOr<AuthorizationResult> Authorize(const Attributes& attributes) override;
  uint64_t refused() const { return refused_.load(); }

 private:
  Authorizer& backend_;
  internal::ReviewBudget budget_;
  std::atomic<uint64_t> refused_{0};
};

// The message of a 403, as Kubernetes words it: `User "u" cannot get resource "pods/m" in API
// group "custom.metrics.k8s.io" in the namespace "ns"` (+ ": reason").
std::string ForbiddenMessage(const Attributes& attributes, const std::string& reason);

}  // namespace aa::auth
