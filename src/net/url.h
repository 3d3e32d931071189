#pragma once
// URLs of the servers the clients talk to (Prometheus, the Kubernetes API, proxies), and
// percent-encoding.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace aa::net {

// An absolute http:// or https:// URL without query or fragment.
struct Url {
  bool https = false;
  std::string host;  // IPv6 without brackets
  int port = 0;      // explicit, or 80 / 443 by scheme
  std::string path;  // "" or "/a/b": never a trailing '/'
  // userinfo ("user:password@"), percent-decoding not applied; never part of Redacted().
  std::string username;
  std::string password;

  std::string scheme() const { return https ? "https" : "http"; }
  // "host:port", an IPv6 host in brackets.
  std::string HostPort() const;
  // "scheme://host:port/path", without credentials: safe for logs and error messages.
  std::string Redacted() const;
};

// Parses "scheme://[user[:password]@]host[:port][/path]". A missing scheme is an error, as is any
// scheme but http and https, a query or fragment, an empty host or a port outside 1-65535.
// InvalidArgument with a message naming the fault but never the URL (it may hold credentials);
// callers prefix the option's name.
absl::StatusOr<Url> ParseUrl(std::string_view text);

// Percent-encodes everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~): valid in a
// query string and an application/x-www-form-urlencoded body.
std::string UrlEncode(std::string_view s);
void AppendUrlEncoded(std::string* out, std::string_view s);

}  // namespace aa::net
