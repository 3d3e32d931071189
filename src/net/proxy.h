#pragma once
// Which proxy a request goes through, from the variables every Kubernetes tool honours, read the
// way Go's net/http (golang.org/x/net/http/httpproxy, hence kubectl and client-go) reads them:
//
// - HTTPS_PROXY for https:// targets, HTTP_PROXY for http:// targets; the upper-case name wins
//   over the lower-case one (https_proxy, http_proxy) when both are set and not empty. A value
//   without a scheme means http://. Only http:// proxies are supported (https:// targets tunnel
//   through them with CONNECT); an https:// or socks5:// proxy is an error, not silently ignored.
// - HTTP_PROXY is ignored when REQUEST_METHOD is set (a CGI environment, where a client could set
//   it through a "Proxy:" header).
// - NO_PROXY (or no_proxy): comma-separated entries, case-insensitive, spaces trimmed:
//     *                      no proxy for anything
//     10.0.0.0/8, fd00::/8   IP targets in the CIDR block
//     10.1.2.3, ::1          that IP target (with ":port", "[v6]:port": on that port only)
//     example.com            example.com and every subdomain (with ":port": on that port only)
//     .example.com           subdomains only; "*.example.com" is the same
//   A name is matched as text, never resolved: "10.0.0.0/8" does not bypass a name that
//   resolves into it. Malformed entries are skipped.
// - "localhost" and loopback IPs (127.0.0.0/8, ::1) always go direct.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "net/url.h"

namespace aa::net {

// The variables' values ("" when unset or empty).
struct ProxyEnvironment {
  std::string http_proxy{};
  std::string https_proxy{};
  std::string no_proxy{};
  bool cgi = false;  // REQUEST_METHOD is set

  // From the process environment (upper case first, then lower case).
  static ProxyEnvironment FromProcess();
};

class ProxyRules {
 public:
  // No proxy for anything.
  ProxyRules() = default;
  // InvalidArgument naming the variable when HTTP_PROXY or HTTPS_PROXY is not an http:// URL with a
  // host (the value is not repeated: it may hold credentials).
  static absl::StatusOr<ProxyRules> Parse(const ProxyEnvironment& env);

  // The proxy for a request to `target`, or nullopt for a direct connection.
  std::optional<Url> ProxyFor(const Url& target) const;
  // Whether NO_PROXY (or being loopback) sends `host` (IPv6 without brackets) on `port` direct.
  bool Bypass(std::string_view host, int port) const;

 private:
  struct IpEntry {
    unsigned char addr[16];  // IPv4 as ::ffff:a.b.c.d
    int prefix_bits;         // 128 for a single address
    int port;                // 0: any
  };
  struct NameEntry {
    std::string suffix;  // ".example.com"
    bool match_self;     // "example.com" itself matches too
    int port;            // 0: any
  };
  std::optional<Url> http_;
  std::optional<Url> https_;
  bool bypass_all_ = false;
  std::vector<IpEntry> ips_;
  std::vector<NameEntry> names_;
};

}  // namespace aa::net
