#include "auth/authenticator.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/escape.h"
#include "common/strings.h"

namespace aa::auth {
namespace {

std::string Sha256(std::string_view s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof(md));
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         absl::EqualsIgnoreCase(ToAbsl(s.substr(0, prefix.size())), ToAbsl(prefix));
}

// Go's url.PathUnescape; the text unchanged when it has a malformed escape (as Kubernetes does).
std::string PathUnescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || HexDigitValue(s[i + 1]) < 0 || HexDigitValue(s[i + 2]) < 0)
      return std::string(s);
    out.push_back(static_cast<char>(HexDigitValue(s[i + 1]) * 16 + HexDigitValue(s[i + 2])));
    i += 2;
  }
  return out;
}

// Every value of the headers named (case-insensitively) in `names`, header by header, in order.
std::vector<std::string> HeaderValues(const net::HttpRequest& req,
                                      const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    for (const auto& [k, v] : req.headers) {
      if (absl::EqualsIgnoreCase(k, name)) out.push_back(v);
    }
  }
  return out;
}

// NotFound: this method does not apply (no certificate, no user header); other errors: it applied
// and failed.
absl::StatusOr<UserInfo> FrontProxy(const net::HttpRequest& req, const RequestHeaderConfig& rh,
                                    absl::Time now) {
  auto id = rh.client_ca->VerifyPeer(req.ssl, now);
  if (!id.ok()) {
    if (absl::IsNotFound(id.status())) return id.status();
    return absl::UnauthenticatedError(
        absl::StrCat("front proxy: ", id.status().message(), " (requestheader client CA)"));
  }
  if (!rh.allowed_names.empty() && std::find(rh.allowed_names.begin(), rh.allowed_names.end(),
                                             id->common_name) == rh.allowed_names.end()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "front proxy: client certificate CN \"", id->common_name,
        "\" is not in requestheader-allowed-names [", absl::StrJoin(rh.allowed_names, ","), "]"));
  }
  UserInfo user;
  // The first non-empty value, trying the header names in order.
  for (const std::string& name : rh.username_headers) {
    for (const auto& [k, v] : req.headers) {
      if (user.name.empty() && absl::EqualsIgnoreCase(k, name) && !v.empty()) user.name = v;
    }
    if (!user.name.empty()) break;
  }
  if (user.name.empty()) return absl::NotFoundError("front proxy: no username header");
  user.groups = HeaderValues(req, rh.group_headers);
  for (const std::string& prefix : rh.extra_headers_prefixes) {
    if (prefix.empty()) continue;
    for (const auto& [k, v] : req.headers) {
      if (!StartsWithIgnoreCase(k, prefix) || k.size() == prefix.size()) continue;
      std::string key = PathUnescape(absl::AsciiStrToLower(k.substr(prefix.size())));
      user.extra[key].push_back(v);
    }
  }
  return user;
}

absl::StatusOr<UserInfo> ClientCertificate(const net::HttpRequest& req, const CaPool& ca,
                                           absl::Time now) {
  auto id = ca.VerifyPeer(req.ssl, now);
  if (!id.ok()) {
    if (absl::IsNotFound(id.status())) return id.status();
    return absl::UnauthenticatedError(
        absl::StrCat("x509: ", id.status().message(), " (client CA)"));
  }
  if (id->common_name.empty()) {
    return absl::UnauthenticatedError("x509: the client certificate has no common name");
  }
  UserInfo user;
  user.name = id->common_name;
  user.groups = id->organizations;
  return user;
}

}  // namespace

bool IsTokenText(std::string_view token) {
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string BearerToken(const net::HttpRequest& request) {
  const std::string* auth = request.Header("Authorization");
  if (auth == nullptr) return "";
  std::string_view v = *auth;
  size_t space = v.find(' ');
  if (space == std::string_view::npos) return "";
  if (!absl::EqualsIgnoreCase(ToAbsl(v.substr(0, space)), "bearer")) return "";
  std::string_view rest = v.substr(space + 1);
  return std::string(rest.substr(0, rest.find(' ')));
}

CachingTokenReviewer::CachingTokenReviewer(TokenReviewer& backend, Clock& clock, absl::Duration ttl,
                                           size_t max_entries)
    : backend_(backend), ttl_(ttl), cache_(clock, max_entries) {}

absl::StatusOr<TokenReviewResult> CachingTokenReviewer::Review(const std::string& token) {
  const std::string key = Sha256(token);
  if (auto cached = cache_.Get(key)) return *std::move(cached);
  auto result = backend_.Review(token);
  if (result.ok()) cache_.Put(key, *result, ttl_);
  return result;
}

BoundedTokenReviewer::BoundedTokenReviewer(TokenReviewer& backend, Clock& clock,
                                           internal::ReviewBudgetOptions budget,
                                           absl::Duration remember, size_t max_remembered)
    : backend_(backend),
      remember_(remember),
      budget_(clock, budget),
      known_(clock, max_remembered) {}

absl::StatusOr<TokenReviewResult> BoundedTokenReviewer::Review(const std::string& token) {
  const std::string key = Sha256(token);
  if (known_.Get(key)) {
    auto result = backend_.Review(token);
    if (result.ok() && result->authenticated) known_.Put(key, true, remember_);
    return result;
  }
  if (!budget_.TryAcquire()) {
    refused_.fetch_add(1);
    return absl::ResourceExhaustedError(
        "too many new bearer tokens to review at once; try again in a second");
  }
  auto result = backend_.Review(token);
  budget_.Release();
  if (result.ok() && result->authenticated) known_.Put(key, true, remember_);
  return result;
}

Authenticator::Authenticator(AuthenticatorOptions options) : options_(options) {}

absl::StatusOr<Authenticated> Authenticator::Authenticate(const net::HttpRequest& request) const {
  std::vector<std::string> reasons;
  const absl::Time now = options_.clock->Now();
  std::shared_ptr<const TrustConfig> trust = options_.trust->Get();
  if (trust->request_header && trust->request_header->client_ca) {
    auto user = FrontProxy(request, *trust->request_header, now);
    if (user.ok()) return Authenticated{*std::move(user), "front-proxy"};
    if (!absl::IsNotFound(user.status())) reasons.emplace_back(user.status().message());
  }
  if (trust->client_ca) {
    auto user = ClientCertificate(request, *trust->client_ca, now);
    if (user.ok()) return Authenticated{*std::move(user), "x509"};
    if (!absl::IsNotFound(user.status())) reasons.emplace_back(user.status().message());
  }
  bool reviewer_failed = false;
  bool reviewer_busy = false;
  if (std::string token = BearerToken(request); !token.empty()) {
    if (options_.token_reviewer == nullptr) {
      reasons.emplace_back("token: bearer tokens are not accepted (no TokenReview access)");
    } else if (!IsTokenText(token)) {
      // No Kubernetes token has such bytes: refused without asking the Kubernetes API.
      reasons.emplace_back("token: not a bearer token (bytes outside printable ASCII)");
    } else {
      auto review = options_.token_reviewer->Review(token);
      if (!review.ok()) {
        reviewer_failed = true;
        reviewer_busy = absl::IsResourceExhausted(review.status());
        reasons.push_back(absl::StrCat("token: review failed: ", review.status().message()));
      } else if (review->authenticated) {
        return Authenticated{review->user, "token"};
      } else {
        reasons.push_back(absl::StrCat("token: not authenticated",
                                       review->error.empty() ? "" : ": ", review->error));
      }
    }
  }
  if (reasons.empty()) reasons.emplace_back("no credentials");
  std::string text = absl::StrJoin(reasons, "; ");
  if (reviewer_failed && reasons.size() == 1) {
    return reviewer_busy ? absl::ResourceExhaustedError(text) : absl::UnavailableError(text);
  }
  return absl::UnauthenticatedError(text);
}

}  // namespace aa::auth
