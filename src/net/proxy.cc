#include "net/proxy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace aa::net {
namespace {

std::string FirstSet(const char* upper, const char* lower) {
  for (const char* name : {upper, lower}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "";
}

// IPv4 or IPv6 text to 16 bytes (IPv4 mapped into ::ffff:0:0/96); false when it is neither.
bool ParseIp(std::string_view text, unsigned char out[16], bool* v4 = nullptr) {
  std::string s(text);
  unsigned char b4[4];
  if (inet_pton(AF_INET, s.c_str(), b4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, b4, 4);
    if (v4) *v4 = true;
    return true;
  }
  if (v4) *v4 = false;
  return inet_pton(AF_INET6, s.c_str(), out) == 1;
}

bool IsLoopback(const unsigned char ip[16]) {
  static const unsigned char kV6Loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char kV4Prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(ip, kV6Loopback, 16) == 0) return true;
  return std::memcmp(ip, kV4Prefix, 12) == 0 && ip[12] == 127;
}

bool PrefixMatches(const unsigned char a[16], const unsigned char b[16], int bits) {
  int bytes = bits / 8;
  if (std::memcmp(a, b, bytes) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

absl::StatusOr<std::optional<Url>> ParseProxy(const char* variable, const std::string& value) {
  if (value.empty()) return std::optional<Url>();
  std::string text = value;
  if (!absl::StrContains(text, "://")) text = absl::StrCat("http://", text);
  auto url = ParseUrl(text);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(variable, ": not a proxy URL: ", url.status().message()));
  }
  if (url->https) {
    return absl::InvalidArgumentError(
        absl::StrCat(variable,
                     ": an https:// proxy is not supported; use an http:// proxy (https:// "
                     "requests tunnel through it with CONNECT)"));
  }
  return std::optional<Url>(*std::move(url));
}

}  // namespace

ProxyEnvironment ProxyEnvironment::FromProcess() {
  ProxyEnvironment env;
  env.http_proxy = FirstSet("HTTP_PROXY", "http_proxy");
  env.https_proxy = FirstSet("HTTPS_PROXY", "https_proxy");
  env.no_proxy = FirstSet("NO_PROXY", "no_proxy");
  const char* method = std::getenv("REQUEST_METHOD");
  env.cgi = method != nullptr && *method != '\0';
  return env;
}

absl::StatusOr<ProxyRules> ProxyRules::Parse(const ProxyEnvironment& env) {
  ProxyRules rules;
  {
    auto http = ParseProxy("HTTP_PROXY", env.cgi ? std::string() : env.http_proxy);
    if (!http.ok()) return http.status();
    rules.http_ = *std::move(http);
    auto https = ParseProxy("HTTPS_PROXY", env.https_proxy);
    if (!https.ok()) return https.status();
    rules.https_ = *std::move(https);
  }
  for (absl::string_view raw : absl::StrSplit(env.no_proxy, ',')) {
    std::string entry = absl::AsciiStrToLower(absl::StripAsciiWhitespace(raw));
    if (entry.empty()) continue;
    if (entry == "*") {
      rules.bypass_all_ = true;
      rules.ips_.clear();
      rules.names_.clear();
      break;
    }
    // 10.0.0.0/8, fd00::/8
    if (size_t slash = entry.find('/'); slash != std::string::npos) {
      IpEntry ip{};
      bool v4 = false;
      int bits = -1;
      if (ParseIp(std::string_view(entry).substr(0, slash), ip.addr, &v4) &&
          absl::SimpleAtoi(absl::string_view(entry).substr(slash + 1), &bits) && bits >= 0 &&
          bits <= (v4 ? 32 : 128)) {
        ip.prefix_bits = v4 ? bits + 96 : bits;
        rules.ips_.push_back(ip);
      }
      continue;
    }
    // host:port, [v6]:port, or a bare host (an IPv6 address has several colons).
    std::string host = entry;
    int port = 0;
    if (host.front() == '[') {
      size_t close = host.find(']');
      if (close == std::string::npos) continue;
      std::string after = host.substr(close + 1);
      host = host.substr(1, close - 1);
      if (!after.empty() && (after[0] != ':' || !absl::SimpleAtoi(after.substr(1), &port))) {
        continue;
      }
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
      size_t colon = host.find(':');
      if (!absl::SimpleAtoi(host.substr(colon + 1), &port)) continue;
      host = host.substr(0, colon);
    }
    if (host.empty()) continue;
    IpEntry ip{};
    if (ParseIp(host, ip.addr)) {
      ip.prefix_bits = 128;
      ip.port = port;
      rules.ips_.push_back(ip);
      continue;
    }
    if (absl::StartsWith(host, "*.")) host = host.substr(1);
    NameEntry name;
    name.match_self = host.front() != '.';
    name.suffix = name.match_self ? absl::StrCat(".", host) : host;
    name.port = port;
    rules.names_.push_back(std::move(name));
  }
  return rules;
}

bool ProxyRules::Bypass(std::string_view host_in, int port) const {
  std::string host = absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(host_in)));
  if (host == "localhost") return true;
  unsigned char ip[16];
  bool is_ip = ParseIp(host, ip);
  if (is_ip && IsLoopback(ip)) return true;
  if (bypass_all_) return true;
  if (is_ip) {
    for (const IpEntry& e : ips_) {
      if (PrefixMatches(e.addr, ip, e.prefix_bits) && (e.port == 0 || e.port == port)) return true;
    }
  }
  for (const NameEntry& e : names_) {
    if (absl::EndsWith(host, e.suffix) ||
        (e.match_self && host == std::string_view(e.suffix).substr(1))) {
      if (e.port == 0 || e.port == port) return true;
    }
  }
  return false;
}

std::optional<Url> ProxyRules::ProxyFor(const Url& target) const {
  const std::optional<Url>& proxy = target.https ? https_ : http_;
  if (!proxy.has_value() || Bypass(target.host, target.port)) return std::nullopt;
  return proxy;
}

}  // namespace aa::net
