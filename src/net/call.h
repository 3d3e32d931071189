#pragma once
// One-off blocking HTTP calls for the demo, tools, benchmarks and tests, on the one client
// (net/client.h): a new connection per call (closed afterwards), no proxy, no body size limit.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa::net {

struct HttpResult {
  int status = 0;
  std::string body;
};

// One request to http://host:port/path_and_query. Unavailable when the connection fails or times
// out; any HTTP status is a successful result. `method` is GET, PUT, POST or DELETE; `body` is sent
// as application/json (always with PUT and POST).
absl::StatusOr<HttpResult> HttpCall(std::string_view method, std::string_view host, int port,
                                    std::string_view path_and_query, std::string_view body = "",
                                    absl::Duration timeout = absl::Seconds(5));

// One GET to https://host:port/path_and_query without verifying the server's certificate (for the
// adapter's self-signed loopback certificate in the demo and tests), with `Authorization: Bearer
// <bearer_token>` when the token is not empty. Errors as HttpCall.
absl::StatusOr<HttpResult> HttpsGetInsecure(std::string_view host, int port,
                                            std::string_view path_and_query,
                                            std::string_view bearer_token = "",
                                            absl::Duration timeout = absl::Seconds(5));

}  // namespace aa::net
