#include "auth/tls_policy.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace aa::auth {
namespace {

// A cipher suite Kubernetes (Go's crypto/tls) knows by its IANA name.
struct Suite {
  const char* iana;
  const char* openssl;  // OpenSSL's name; nullptr when OpenSSL cannot offer it
  bool tls13;
  const char* refused;  // why it is refused; nullptr: accepted (forward secret, AEAD)
};

constexpr char kNoFs[] = "RSA key exchange, no forward secrecy";
constexpr char kCbc[] = "CBC mode, not an AEAD cipher";
constexpr char kBroken[] = "broken cipher (RC4 or 3DES)";

// Every name Go's tls.CipherSuites() and tls.InsecureCipherSuites() list (what
// --tls-cipher-suites of Kubernetes components accepts), including the legacy CHACHA20 aliases.
constexpr Suite kSuites[] = {
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", true, nullptr},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", true, nullptr},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", true, nullptr},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", false, nullptr},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", false, nullptr},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false, nullptr},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", false, nullptr},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", false,
     nullptr},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", false, nullptr},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305", false, nullptr},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305", false, nullptr},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", nullptr, false, kCbc},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", nullptr, false, kCbc},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", nullptr, false, kCbc},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", nullptr, false, kCbc},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", nullptr, false, kCbc},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", nullptr, false, kCbc},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", nullptr, false, kNoFs},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", nullptr, false, kNoFs},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", nullptr, false, kNoFs},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", nullptr, false, kNoFs},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", nullptr, false, kNoFs},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", nullptr, false, kBroken},
    {"TLS_RSA_WITH_RC4_128_SHA", nullptr, false, kBroken},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", nullptr, false, kBroken},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", nullptr, false, kBroken},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", nullptr, false, kBroken},
};

// Kubernetes' default for TLS 1.2, then OpenSSL's TLS 1.3 suites.
constexpr const char* kDefault[] = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
};

const Suite* Find(std::string_view name) {
  for (const Suite& s : kSuites) {
    if (name == s.iana) return &s;
  }
  return nullptr;
}

std::string OpenSslError() {
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Appends `item` to the ':'-separated `list` unless it is there already.
void AddOnce(std::string* list, std::string_view item) {
  for (absl::string_view have : absl::StrSplit(*list, ':')) {
    if (FromAbsl(have) == item) return;
  }
  absl::StrAppend(list, list->empty() ? "" : ":", ToAbsl(item));
}

}  // namespace

std::string_view InsecureCipherSuiteReason(std::string_view name) {
  const Suite* suite = Find(name);
  return suite == nullptr || suite->refused == nullptr ? "" : suite->refused;
}

absl::StatusOr<TlsPolicy> ParseTlsPolicy(const std::vector<std::string>& cipher_suites,
                                         std::string_view min_version) {
  TlsPolicy policy;
  if (min_version.empty() || min_version == "VersionTLS12") {
    policy.min_version = TLS1_2_VERSION;
  } else if (min_version == "VersionTLS13") {
    policy.min_version = TLS1_3_VERSION;
  } else if (min_version == "VersionTLS10" || min_version == "VersionTLS11") {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-min-version=", ToAbsl(min_version),
                     ": TLS 1.0 and 1.1 are refused (insecure); use VersionTLS12 or VersionTLS13"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--tls-min-version=", ToAbsl(min_version),
                                                   ": unknown; use VersionTLS12 or VersionTLS13"));
  }
  std::vector<std::string> names;
  for (const std::string& n : cipher_suites) {
    if (!n.empty()) names.push_back(n);
  }
  if (names.empty()) names.assign(std::begin(kDefault), std::end(kDefault));
  for (const std::string& name : names) {
    const Suite* s = Find(name);
    if (s == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-cipher-suites: unknown cipher suite ", name,
                       " (IANA names as Kubernetes accepts them, e.g. "
                       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"));
    }
    if (s->refused != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("--tls-cipher-suites: ", name,
                                                     " is refused: ", s->refused,
                                                     "; only forward-secret AEAD suites"));
    }
    AddOnce(s->tls13 ? &policy.tls13_ciphersuites : &policy.tls12_ciphers, s->openssl);
    policy.names.push_back(name);
  }
  if (policy.tls13_ciphersuites.empty()) {
    policy.tls13_ciphersuites =
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
        "TLS_CHACHA20_POLY1305_SHA256";
  }
  if (policy.tls12_ciphers.empty() && policy.min_version == TLS1_2_VERSION) {
    return absl::InvalidArgumentError(
        "--tls-cipher-suites names no TLS 1.2 suite while TLS 1.2 is allowed: add one (e.g. "
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or pass --tls-min-version=VersionTLS13");
  }
  return policy;
}

absl::Status ApplyTlsPolicy(const TlsPolicy& policy, ssl_ctx_st* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, policy.min_version) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot set the minimum TLS version: ", OpenSslError()));
  }
  // With TLS 1.3 only, the TLS 1.2 list is unused and may be empty ("" is an error for OpenSSL).
  if (!policy.tls12_ciphers.empty() &&
      SSL_CTX_set_cipher_list(ctx, policy.tls12_ciphers.c_str()) != 1) {
    return absl::InternalError(absl::StrCat("cannot set the TLS 1.2 cipher suites ",
                                            policy.tls12_ciphers, ": ", OpenSslError()));
  }
  if (SSL_CTX_set_ciphersuites(ctx, policy.tls13_ciphersuites.c_str()) != 1) {
    return absl::InternalError(absl::StrCat("cannot set the TLS 1.3 cipher suites ",
                                            policy.tls13_ciphersuites, ": ", OpenSslError()));
  }
  return absl::OkStatus();
}

}  // namespace aa::auth
