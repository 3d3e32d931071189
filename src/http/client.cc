#include "http/client.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"

namespace aa::http {

absl::StatusOr<HttpResult> HttpCall(std::string_view method, std::string_view host, int port,
                                    std::string_view path_and_query, std::string_view body,
                                    absl::Duration timeout) {
  httplib::Client client(std::string(host), port);
  int64_t usec = absl::ToInt64Microseconds(timeout);
  client.set_connection_timeout(usec / 1000000, usec % 1000000);
  client.set_read_timeout(usec / 1000000, usec % 1000000);
  client.set_write_timeout(usec / 1000000, usec % 1000000);
  std::string path(path_and_query);
  httplib::Result res =
      method == "GET"    ? client.Get(path.c_str())
      : method == "PUT"  ? client.Put(path.c_str(), std::string(body), "application/json")
      : method == "POST" ? client.Post(path.c_str(), std::string(body), "application/json")
                         : client.Delete(path.c_str());
  if (!res) {
    return absl::UnavailableError(absl::StrCat(ToAbsl(method), " http://", ToAbsl(host), ":", port,
                                               path, ": ", httplib::to_string(res.error())));
  }
  return HttpResult{res->status, res->body};
}

absl::StatusOr<HttpResult> HttpsGetInsecure(std::string_view host, int port,
                                            std::string_view path_and_query,
                                            std::string_view bearer_token, absl::Duration timeout) {
  httplib::SSLClient client(std::string(host), port);
  client.enable_server_certificate_verification(false);
  int64_t usec = absl::ToInt64Microseconds(timeout);
  client.set_connection_timeout(usec / 1000000, usec % 1000000);
  client.set_read_timeout(usec / 1000000, usec % 1000000);
  client.set_write_timeout(usec / 1000000, usec % 1000000);
  if (!bearer_token.empty()) client.set_bearer_token_auth(std::string(bearer_token));
  std::string path(path_and_query);
  httplib::Result res = client.Get(path.c_str());
  if (!res) {
    return absl::UnavailableError(absl::StrCat("GET https://", ToAbsl(host), ":", port, path, ": ",
                                               httplib::to_string(res.error())));
  }
  return HttpResult{res->status, res->body};
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

}  // namespace aa::http
