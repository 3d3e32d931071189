#include "net/url.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace aa::net {

std::string Url::HostPort() const {
  bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

std::string Url::Redacted() const { return absl::StrCat(scheme(), "://", HostPort(), path); }

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  auto bad = [](std::string_view why) { return absl::InvalidArgumentError(ToAbsl(why)); };
  Url out;
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return bad("must start with http:// or https://");
  std::string scheme = absl::AsciiStrToLower(ToAbsl(text.substr(0, scheme_end)));
  if (scheme != "http" && scheme != "https") {
    return bad(absl::StrCat("unsupported scheme \"", scheme, "\": want http:// or https://"));
  }
  out.https = scheme == "https";
  std::string_view rest = text.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("must not have a query or fragment");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string path(slash == std::string_view::npos ? "" : rest.substr(slash));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    out.username = std::string(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) out.password = std::string(userinfo.substr(colon + 1));
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address ('[' without ']')");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("missing host");
  if (out.host.find_first_of(" \t\r\n/") != std::string::npos) return bad("invalid host");
  out.port = out.https ? 443 : 80;
  if (!port_text.empty() &&
      (!absl::SimpleAtoi(ToAbsl(port_text), &out.port) || out.port <= 0 || out.port > 65535)) {
    return bad(absl::StrCat("invalid port \"", ToAbsl(port_text), "\" (bad port: want 1-65535)"));
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  out.path = std::move(path);
  return out;
}

void AppendUrlEncoded(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  AppendUrlEncoded(&out, s);
  return out;
}

}  // namespace aa::net
