#pragma once
// Client-certificate verification for the HTTPS port: a CA bundle (the client CA or the front-proxy
// requestheader CA) and the check of the certificate a client presented during the TLS handshake,
// as Kubernetes' x509 authenticator does (chain to one of the CAs, validity at `now`, extended key
// usage clientAuth when the certificate lists key usages).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct ssl_st;

namespace aa::auth {

// What a verified client certificate says about its holder.
struct CertIdentity {
  std::string common_name;                 // subject CN (Kubernetes: the user name)
  std::vector<std::string> organizations;  // subject O entries (Kubernetes: the groups)
};

// An immutable set of trusted CA certificates. Thread-safe (const after construction).
class CaPool {
 public:
  // Parses every certificate in a PEM bundle. InvalidArgument naming `source` when the text holds
  // no certificate or a malformed one.
  static absl::StatusOr<std::shared_ptr<const CaPool>> FromPem(std::string_view pem,
                                                               std::string_view source);
  // Reads and parses a PEM file. NotFound/InvalidArgument naming the path.
  static absl::StatusOr<std::shared_ptr<const CaPool>> FromFile(const std::string& path);

  ~CaPool();
  CaPool(const CaPool&) = delete;
  CaPool& operator=(const CaPool&) = delete;

  // Verifies the certificate the peer of `ssl` presented (leaf plus the intermediates it sent)
  // against these CAs at time `now`, for client authentication. NotFound when the peer sent no
  // certificate; Unauthenticated (with OpenSSL's reason: expired, unknown issuer, ...) when it
  // does not verify. `ssl` may be null (plain HTTP): NotFound.
  absl::StatusOr<CertIdentity> VerifyPeer(const ssl_st* ssl, absl::Time now) const;

  // The same for a PEM certificate chain (leaf first). For tests and tools.
  absl::StatusOr<CertIdentity> VerifyPem(std::string_view chain_pem, absl::Time now) const;

  // Where the pool came from (a path or "configmap kube-system/..."), for logs.
  const std::string& source() const { return source_; }
  size_t size() const;

 private:
  struct Impl;
  CaPool(std::unique_ptr<Impl> impl, std::string source);
  std::unique_ptr<Impl> impl_;
  std::string source_;
};

}  // namespace aa::auth
