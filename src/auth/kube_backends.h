#pragma once
// The Kubernetes-backed implementations of the auth seams, over the kube::Client:
//   KubeTokenReviewer       POST /apis/authentication.k8s.io/v1/tokenreviews
//   KubeAuthorizer          POST /apis/authorization.k8s.io/v1/subjectaccessreviews
//   AuthConfigMapWatcher    GET and watch ConfigMap kube-system/extension-apiserver-authentication
//                           and keep a TrustStore in step with it (and the flags)
// RBAC the adapter's ServiceAccount needs: ClusterRole system:auth-delegator (token and access
// reviews) and, in kube-system, Role extension-apiserver-authentication-reader.

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/authenticator.h"
#include "auth/authorizer.h"
#include "auth/trust_config.h"
#include "kube/client.h"

namespace aa::auth {

// Thread-safe (the client is). The token goes only into the request body, never into errors.
class KubeTokenReviewer final : public TokenReviewer {
 public:
  explicit KubeTokenReviewer(kube::Client& client) : client_(client) {}
  absl::StatusOr<TokenReviewResult> Review(const std::string& token) override;

 private:
  kube::Client& client_;
};

// Thread-safe. allowed -> kAllow, denied -> kDeny, neither -> kNoOpinion (refused by the filter).
class KubeAuthorizer final : public Authorizer {
 public:
  explicit KubeAuthorizer(kube::Client& client) : client_(client) {}
  absl::StatusOr<AuthorizationResult> Authorize(const Attributes& attributes) override;

 private:
  kube::Client& client_;
};

// The SubjectAccessReview request body for `attributes` (exposed for tests).
nlohmann::json SubjectAccessReviewFor(const Attributes& attributes);

// Readers of the Kubernetes API's answers (exposed for tests and the fuzzer). Never throw: a
// missing field, a field of another type or an answer that is not an object reads as absent.
// A TokenReview: authenticated and the user, or not and the error; Internal for authenticated
// without a user name.
absl::StatusOr<TokenReviewResult> ParseTokenReview(const nlohmann::json& answer);
// A SubjectAccessReview: allowed -> kAllow, denied -> kDeny, else kNoOpinion, with the reason.
AuthorizationResult ParseSubjectAccessReview(const nlohmann::json& answer);
// The string entries of a ConfigMap's data (others skipped).
std::map<std::string, std::string> ConfigMapData(const nlohmann::json& configmap);

// Keeps `store` equal to BuildTrustConfig(flags, ConfigMap data): reads the ConfigMap once in
// Start() (a missing ConfigMap counts as empty; a failed read is logged and retried by the watch),
// then watches it on a thread (relist on 410 Gone and on errors, with backoff from 1 s to 30 s).
// Data that does not build (a malformed CA) is logged and the previous trust kept.
class AuthConfigMapWatcher {
 public:
  // `client` and `store` must outlive the watcher.
  AuthConfigMapWatcher(kube::Client& client, TrustFlags flags, TrustStore& store);
  ~AuthConfigMapWatcher();  // Stop()s

  // Reads the ConfigMap (blocking, bounded by the client's timeout), applies it, starts watching.
  // Returns the read's outcome (the watch starts either way).
  absl::Status Start();
  void Stop();
  // ConfigMap states processed so far, applied or rejected (for tests).
  int applied() const;
  // Waits (real time, bounded) until applied() >= n; returns whether it happened. For tests.
  bool WaitForApplied(int n, absl::Duration timeout) const;

 private:
  absl::StatusOr<std::string> List();  // GET + apply; the resourceVersion to watch from
  void Apply(const nlohmann::json& configmap);
  void Run(std::string resource_version, bool need_list);

  kube::Client& client_;
  const TrustFlags flags_;
  TrustStore& store_;
  kube::WatchCancel cancel_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int applied_ ABSL_GUARDED_BY(mu_) = 0;
  // The data applied last, to log only real changes.
  std::string last_data_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::auth
