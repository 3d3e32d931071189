#pragma once
// Authentication of requests to the Kubernetes metrics APIs, as Kubernetes' delegated
// authentication does it for an aggregated API server. Tried in this order, first success wins:
//   1. front proxy (kube-apiserver's aggregator): the client certificate verifies against the
//      requestheader client CA and, when allowed names are set, its CN is one of them; only then
//      the user comes from the username headers (first non-empty), the groups from every line of
//      the group headers and extras from headers with an extra prefix (key lowercased and
//      percent-decoded). Without such a certificate these headers are ignored.
//   2. client certificate against the client CA: user = CN, groups = O.
//   3. "Authorization: Bearer <token>" through a TokenReviewer (TokenReview API).
// None succeeding: Unauthenticated (the caller answers 401).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/internal/review_budget.h"
#include "auth/internal/ttl_cache.h"
#include "auth/x509.h"
#include "common/clock.h"
#include "net/server.h"

namespace aa::auth {

struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
  bool operator==(const UserInfo&) const = default;
};

// The front proxy's trust settings (kube-apiserver's --requestheader-* flags).
struct RequestHeaderConfig {
  std::shared_ptr<const CaPool> client_ca;  // required
  std::vector<std::string> allowed_names;   // empty: any CN the CA signed
  std::vector<std::string> username_headers = {"X-Remote-User"};
  std::vector<std::string> group_headers = {"X-Remote-Group"};
  std::vector<std::string> extra_headers_prefixes = {"X-Remote-Extra-"};
};

// Everything certificate-based authentication trusts. Either part may be absent.
struct TrustConfig {
  std::shared_ptr<const CaPool> client_ca;            // direct clients' certificates
  std::optional<RequestHeaderConfig> request_header;  // the front proxy
};

// Holds the current TrustConfig; replaced at run time (ConfigMap watch, files). Thread-safe.
class TrustStore {
 public:
  explicit TrustStore(const TrustConfig& initial = {})
      : config_(std::make_shared<TrustConfig>(initial)) {}
  std::shared_ptr<const TrustConfig> Get() const {
    absl::MutexLock lock(&mu_);
    return config_;
  }
  void Set(TrustConfig config) {
    auto next = std::make_shared<const TrustConfig>(std::move(config));
    absl::MutexLock lock(&mu_);
    config_ = std::move(next);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const TrustConfig> config_ ABSL_GUARDED_BY(mu_);
};

struct TokenReviewResult {
  bool authenticated = false;
  UserInfo user;      // when authenticated
  std::string error;  // status.error of the review, when not authenticated (never the token)
};

// Validates bearer tokens (the TokenReview API). Thread-safe implementations.
class TokenReviewer {
 public:
  virtual ~TokenReviewer() = default;
  // A definite answer (authenticated or not), or an error when the reviewer could not be asked
  // (Unavailable, ...). Implementations never log or return the token.
  virtual absl::StatusOr<TokenReviewResult> Review(const std::string& token) = 0;
};

// Caches another reviewer's definite answers for `ttl` (Kubernetes: 10 s), keyed by the token's
// SHA-256 (tokens are not kept), at most `max_entries` (oldest dropped first). Errors are not
// cached. Thread-safe; concurrent misses for one token may each ask the backend.
class CachingTokenReviewer final : public TokenReviewer {
 public:
  // `backend` and `clock` must outlive this object.
  CachingTokenReviewer(TokenReviewer& backend, Clock& clock, absl::Duration ttl = absl::Seconds(10),
                       size_t max_entries = 4096);
  absl::StatusOr<TokenReviewResult> Review(const std::string& token) override;
  uint64_t hits() const { return cache_.hits(); }
  uint64_t misses() const { return cache_.misses(); }

 private:
  TokenReviewer& backend_;
  const absl::Duration ttl_;
  internal::TtlCache<TokenReviewResult> cache_;
};

// Guards the TokenReview backend (the Kubernetes API) against floods of invented tokens: a token
// that authenticated before (remembered by its SHA-256 for `remember`, at most `max_remembered`) is
// always reviewed; any other one only within one ReviewBudget shared by all of them. Over the
// budget the backend is not asked and the answer is ResourceExhausted (the filter answers 429).
// Sits between CachingTokenReviewer and the backend. Thread-safe.
class BoundedTokenReviewer final : public TokenReviewer {
 public:
  // `backend` and `clock` must outlive this object.
  BoundedTokenReviewer(TokenReviewer& backend, Clock& clock, internal::ReviewBudgetOptions budget,
                       absl::Duration remember = absl::Hours(1), size_t max_remembered = 4096);
  absl::StatusOr<TokenReviewResult> Review(const std::string& token) override;
  uint64_t refused() const { return refused_.load(); }

 private:
  TokenReviewer& backend_;
  const absl::Duration remember_;
  internal::ReviewBudget budget_;
  internal::TtlCache<bool> known_;  // tokens that authenticated, by SHA-256
  std::atomic<uint64_t> refused_{0};
};

struct AuthenticatorOptions {
  TrustStore* trust = nullptr;              // required; must outlive the authenticator
  TokenReviewer* token_reviewer = nullptr;  // null: bearer tokens are not accepted
  Clock* clock = nullptr;                   // required (certificate validity is checked at Now())
};

// Which authenticator accepted the request ("front-proxy", "x509", "token").
struct Authenticated {
  UserInfo user;
  std::string method;
};

class Authenticator {
 public:
  explicit Authenticator(AuthenticatorOptions options);
  // The caller, or Unauthenticated with the reasons each method failed (no secrets in the text);
  // Unavailable when only the token reviewer's failure kept the request from being authenticated,
  // ResourceExhausted when only the review budget did (BoundedTokenReviewer).
  // Thread-safe.
  absl::StatusOr<Authenticated> Authenticate(const net::HttpRequest& request) const;

 private:
  AuthenticatorOptions options_;
};

// The bearer token of an "Authorization: Bearer <token>" header, or "" (as Kubernetes parses it:
// scheme case-insensitive, the token up to the next space).
std::string BearerToken(const net::HttpRequest& request);
// Whether `token` is made of printable ASCII only (0x21-0x7e), as every Kubernetes bearer token
// is; the authenticator refuses others (invalid UTF-8, controls) without a TokenReview.
bool IsTokenText(std::string_view token);

}  // namespace aa::auth
