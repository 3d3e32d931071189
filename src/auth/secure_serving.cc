#include "auth/secure_serving.h"

#include "common/log.h"

namespace aa::auth {

SecureServing::SecureServing(SecureServingOptions options)
    : options_(std::move(options)), trust_(options_.trust) {}

absl::StatusOr<std::unique_ptr<SecureServing>> SecureServing::Create(SecureServingOptions options) {
  if (options.authorization && !options.authentication) {
    return absl::FailedPreconditionError(
        "--authorization=on needs --authentication=on (an anonymous caller cannot be authorized)");
  }
  if (options.authorization && options.authorizer == nullptr) {
    return absl::FailedPreconditionError(
        "--authorization=on needs the Kubernetes API for SubjectAccessReview (in cluster, or "
        "--kubeconfig); for local use pass --authorization=off");
  }
  std::unique_ptr<SecureServing> s(new SecureServing(std::move(options)));
  const SecureServingOptions& o = s->options_;
  if (o.token_reviewer) {
    s->bounded_tokens_ =
        std::make_unique<BoundedTokenReviewer>(*o.token_reviewer, *o.clock, o.token_review_budget);
    s->tokens_ = std::make_unique<CachingTokenReviewer>(*s->bounded_tokens_, *o.clock, o.cache_ttl);
  }
  if (o.authorization) {
    s->bounded_authorizer_ =
        std::make_unique<BoundedAuthorizer>(*o.authorizer, *o.clock, o.access_review_budget);
    s->authorizer_ = std::make_unique<CachingAuthorizer>(*s->bounded_authorizer_, *o.clock,
                                                         o.cache_ttl, o.cache_ttl);
  }
  if (o.authentication) {
    s->authenticator_ = std::make_unique<Authenticator>(
        AuthenticatorOptions{&s->trust_, s->tokens_.get(), o.clock});
  }
  s->filter_ = std::make_unique<AuthFilter>(
      AuthFilterOptions{s->authenticator_.get(), s->authorizer_.get(), o.registry});

  if (!o.authentication) {
    LogWarn(
        "AUTHENTICATION IS OFF on the HTTPS port (Kubernetes metrics APIs and query API): anyone "
        "who can reach it reads every metric (--authentication=off; for local use only)");
  } else {
    LogInfo("authentication on",
            {{"trust", DescribeTrust(o.trust)}, {"bearer_tokens", o.token_reviewer != nullptr}});
  }
  if (!o.authorization) {
    LogWarn(
        "AUTHORIZATION IS OFF on the HTTPS port (Kubernetes metrics APIs and query API): every "
        "authenticated caller reads every metric (--authorization=off; for local use only)");
  } else {
    LogInfo("authorization on (SubjectAccessReview; system:masters skip it)");
  }
  return s;
}

}  // namespace aa::auth
