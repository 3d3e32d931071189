#pragma once
// Assembles the HTTPS port's request checks from the adapter's settings: the trust store (client
// CA and front proxy), cached and budgeted TokenReview and SubjectAccessReview backends, the
// authenticator and the filter; logs at start what is enforced (loudly, at warn level, what is
// switched off).
//
//   auto secure = auth::SecureServing::Create(options);
//   net::HttpHandler handler = (*secure)->Wrap(metrics_handler);
//   (*secure)->trust().Set(...);   // e.g. from the watched ConfigMap
//
// Thread-safe after Create.

#include <memory>

#include "absl/status/statusor.h"
#include "auth/authenticator.h"
#include "auth/authorizer.h"
#include "auth/filter.h"
#include "auth/trust_config.h"
#include "common/clock.h"
#include "net/server.h"

namespace aa::auth {

struct SecureServingOptions {
  bool authentication = true;  // false: no credentials asked (and no authorization)
  bool authorization = true;   // false: every authenticated caller may read everything
  TrustConfig trust;           // initial certificate trust
  // The TokenReview backend; null: bearer tokens are refused. Must outlive the object.
  TokenReviewer* token_reviewer = nullptr;
  // The SubjectAccessReview backend; required when authorization is on. Must outlive the object.
  Authorizer* authorizer = nullptr;
  absl::Duration cache_ttl = absl::Seconds(10);  // TokenReview and SAR answers (allow and deny)
  // Uncached TokenReviews of tokens that never authenticated, over all clients (one bucket).
  internal::ReviewBudgetOptions token_review_budget{
      .per_second = 20, .burst = 40, .max_in_flight = 8};
  // Uncached SubjectAccessReviews, a bucket per user; the in-flight cap is over all users.
  internal::ReviewBudgetOptions access_review_budget{
      .per_second = 20, .burst = 40, .max_in_flight = 8};
  Clock* clock = nullptr;                    // required
  prometheus::Registry* registry = nullptr;  // may be null
};

class SecureServing {
 public:
  // FailedPrecondition when authorization is on without an authorizer, or authorization on with
  // authentication off.
  static absl::StatusOr<std::unique_ptr<SecureServing>> Create(SecureServingOptions options);

  // `attributes` null: Kubernetes' attributes of the request path (auth/filter.h).
  net::HttpHandler Wrap(net::HttpHandler next, AttributesFn attributes = nullptr) const {
    return filter_->Wrap(std::move(next), std::move(attributes));
  }
  TrustStore& trust() { return trust_; }

 private:
  explicit SecureServing(SecureServingOptions options);
  SecureServingOptions options_;
  TrustStore trust_;
  std::unique_ptr<BoundedTokenReviewer> bounded_tokens_;
  std::unique_ptr<CachingTokenReviewer> tokens_;
  std::unique_ptr<BoundedAuthorizer> bounded_authorizer_;
  std::unique_ptr<CachingAuthorizer> authorizer_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<AuthFilter> filter_;
};

}  // namespace aa::auth
