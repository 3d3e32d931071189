#include "auth/filter.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "apiserver/wire.h"
#include "common/log.h"
#include "common/metric_families.h"
#include "common/strings.h"

namespace aa::auth {
namespace {

net::HttpResponse Reject(int code, std::string_view message, std::string route) {
  net::HttpResponse r;
  r.status = code;
  r.body = apiserver::StatusJson(code, message);
  r.route = std::move(route);
  return r;
}

// 429 with Retry-After, as Kubernetes answers a request its flow control rejects.
net::HttpResponse Throttled(const std::string& why) {
  net::HttpResponse r = Reject(429, absl::StrCat("Too many requests: ", why), "throttled");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

bool IsMaster(const UserInfo& user) {
  for (const auto& g : user.groups) {
    if (g == "system:masters") return true;
  }
  return false;
}

}  // namespace

struct AuthFilter::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : family(CounterFamily(
            registry, "autoscale_adapter_auth_requests_total",
            "Requests to the HTTPS port (Kubernetes metrics APIs, query API) by authentication and "
            "authorization outcome.")) {}
  prometheus::Family<prometheus::Counter>& family;
  void Count(std::string_view result) { family.Add({{"result", std::string(result)}}).Increment(); }
};

bool IsHealthPath(std::string_view path) {
  // "/livez/../apis" must not pass as a health path, whatever the handler makes of it.
  if (path.find("..") != std::string_view::npos) return false;
  for (std::string_view p : {"/healthz", "/livez", "/readyz"}) {
    if (path == p || (absl::StartsWith(ToAbsl(path), ToAbsl(p)) && path.size() > p.size() &&
                      path[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

AuthFilter::AuthFilter(AuthFilterOptions options) : options_(options) {
  if (options_.registry) metrics_ = std::make_unique<Metrics>(*options_.registry);
}
AuthFilter::~AuthFilter() = default;

std::optional<net::HttpResponse> AuthFilter::Check(const net::HttpRequest& request,
                                                   const AttributesFn& attributes_fn) const {
  auto count = [this](std::string_view result) {
    if (metrics_) metrics_->Count(result);
  };
  if (IsHealthPath(request.path) || options_.authenticator == nullptr) {
    count("skipped");
    return std::nullopt;
  }
  auto who = options_.authenticator->Authenticate(request);
  if (!who.ok() && absl::IsResourceExhausted(who.status())) {
    count("throttled");
    return Throttled(std::string(who.status().message()));
  }
  if (!who.ok()) {
    count("unauthorized");
    LogDebug("unauthorized request", {{"path", request.path},
                                      {"remote", request.remote_addr},
                                      {"reason", std::string(FromAbsl(who.status().message()))}});
    return Reject(401, "Unauthorized", "unauthorized");
  }
  if (options_.authorizer == nullptr || IsMaster(who->user)) {
    count(who->method);
    return std::nullopt;
  }
  absl::StatusOr<Attributes> derived =
      attributes_fn ? attributes_fn(request, who->user) : AttributesFor(request, who->user);
  if (!derived.ok()) {
    count("bad_request");
    return Reject(400, FromAbsl(derived.status().message()), "bad_request");
  }
  const Attributes& attributes = *derived;
  auto decision = options_.authorizer->Authorize(attributes);
  if (decision.ok() && decision->decision == Decision::kAllow) {
    count(who->method);
    return std::nullopt;
  }
  if (!decision.ok() && absl::IsResourceExhausted(decision.status())) {
    count("throttled");
    return Throttled(std::string(decision.status().message()));
  }
  if (!decision.ok()) {
    count("error");
    LogWarn("authorization failed",
            {{"path", request.path}, {"user", who->user.name}, {"error", decision.status()}});
    return Reject(500, absl::StrCat("authorization failed: ", decision.status().message()),
                  "auth_error");
  }
  count("forbidden");
  std::string message = ForbiddenMessage(attributes, decision->reason);
  LogDebug("forbidden request", {{"path", request.path}, {"reason", message}});
  return Reject(403, message, "forbidden");
}

net::HttpHandler AuthFilter::Wrap(net::HttpHandler next, AttributesFn attributes) const {
  return [this, next = std::move(next),
          attributes = std::move(attributes)](const net::HttpRequest& request) {
    if (auto rejected = Check(request, attributes)) return *std::move(rejected);
    return next(request);
  };
}

}  // namespace aa::auth
