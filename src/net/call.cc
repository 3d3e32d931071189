#include "net/call.h"

#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "net/client.h"

namespace aa::net {
namespace {

// `url_text` is "scheme://host:port" (for error messages too).
absl::StatusOr<HttpResult> Call(const std::string& url_text, Request request, ClientTls tls,
                                absl::Duration timeout) {
  const std::string what = absl::StrCat(request.method, " ", url_text, request.target);
  ClientOptions options;
  options.url = url_text;
  options.tls = std::move(tls);
  options.timeout = timeout;
  options.max_idle_connections = 0;
  options.proxy = ProxyEnvironment{};  // always direct, whatever the environment says
  auto client = Client::Create(std::move(options));
  if (!client.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", client.status().message()));
  }
  request.keep_alive = false;
  request.max_body_bytes = std::numeric_limits<size_t>::max();
  Result result = (*client)->Send(request);
  if (!result.ok()) return absl::UnavailableError(absl::StrCat(what, ": ", result.detail));
  return HttpResult{result.response.status, std::move(result.response.body)};
}

std::string HostPortUrl(std::string_view scheme, std::string_view host, int port) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  return absl::StrCat(ToAbsl(scheme), "://", ipv6 ? "[" : "", ToAbsl(host), ipv6 ? "]" : "", ":",
                      port);
}

}  // namespace

absl::StatusOr<HttpResult> HttpCall(std::string_view method, std::string_view host, int port,
                                    std::string_view path_and_query, std::string_view body,
                                    absl::Duration timeout) {
  Request request;
  request.method = std::string(method);
  request.target = std::string(path_and_query);
  if (method == "PUT" || method == "POST") {
    request.body = std::string(body);
    request.content_type = "application/json";
  }
  return Call(HostPortUrl("http", host, port), std::move(request), ClientTls{}, timeout);
}

absl::StatusOr<HttpResult> HttpsGetInsecure(std::string_view host, int port,
                                            std::string_view path_and_query,
                                            std::string_view bearer_token, absl::Duration timeout) {
  Request request;
  request.target = std::string(path_and_query);
  if (!bearer_token.empty()) {
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", ToAbsl(bearer_token)));
  }
  ClientTls tls;
  tls.insecure_skip_verify = true;
  return Call(HostPortUrl("https", host, port), std::move(request), std::move(tls), timeout);
}

}  // namespace aa::net
