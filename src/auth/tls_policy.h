#pragma once
// The HTTPS port's protocol versions and cipher suites, from flags spelled as Kubernetes spells
// them (--tls-min-version=VersionTLS12|VersionTLS13, --tls-cipher-suites with IANA names such as
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), applied to an OpenSSL context:
//
//   AA_ASSIGN_OR_RETURN(auth::TlsPolicy policy, auth::ParseTlsPolicy(suites, min_version));
//   ... tls_setup = [policy](ssl_ctx_st* ctx) { return auth::ApplyTlsPolicy(policy, ctx); };
//
// Only forward-secret AEAD suites are accepted: ECDHE with AES-GCM or ChaCha20-Poly1305 for
// TLS 1.2, and the three TLS 1.3 suites. The default (no names) is Kubernetes' default list for
// TLS 1.2 (the six ECDHE ECDSA/RSA AES-GCM and CHACHA20-POLY1305 suites) and OpenSSL's TLS 1.3
// suites. CBC suites, RSA key exchange, 3DES, RC4 and names Kubernetes does not know are refused by
// name. TLS 1.3 names in the list restrict TLS 1.3 to them; without any, TLS 1.3 keeps its default
// three.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct ssl_ctx_st;

namespace aa::auth {

struct TlsPolicy {
  int min_version = 0;             // TLS1_2_VERSION or TLS1_3_VERSION
  std::string tls12_ciphers;       // OpenSSL cipher list (SSL_CTX_set_cipher_list)
  std::string tls13_ciphersuites;  // OpenSSL TLS 1.3 list (SSL_CTX_set_ciphersuites)
  std::vector<std::string> names;  // the IANA names in effect, for the start log
};

// `cipher_suites`: IANA names (empty: the default above; empty entries are ignored);
// `min_version`: "VersionTLS12" (also "" for the default) or "VersionTLS13". InvalidArgument naming
// the flag and the value for an unknown name, an insecure suite (with the reason), a version below
// TLS 1.2, or a list that leaves TLS 1.2 without a suite while TLS 1.2 is allowed.
absl::StatusOr<TlsPolicy> ParseTlsPolicy(const std::vector<std::string>& cipher_suites,
                                         std::string_view min_version);

// Why ParseTlsPolicy refuses `name` when it is a suite Kubernetes knows but this port never offers
// (e.g. "CBC mode, not an AEAD cipher"); "" for an accepted suite and for an unknown name. Lets a
// caller drop such names from an inherited list (prometheus-adapter's Deployment passes CBC and RSA
// key-exchange suites) with a warning instead of refusing to start.
std::string_view InsecureCipherSuiteReason(std::string_view name);

// Sets the minimum version and both cipher lists on `ctx` (after ServingCertificate's setup, which
// it tightens). Internal error when OpenSSL refuses them.
absl::Status ApplyTlsPolicy(const TlsPolicy& policy, ssl_ctx_st* ctx);

}  // namespace aa::auth
