#pragma once
// A self-signed serving certificate for the HTTPS port when no --tls_cert_file is given, as
// upstream aggregated API servers do (the APIService then needs insecureSkipTLSVerify or this
// certificate as caBundle).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa::apiserver {

struct CertificateFiles {
  std::string cert_file;  // PEM certificate
  std::string key_file;   // PEM PKCS#8 private key, mode 0600
};

// Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate (CN = first SAN, valid from
// `now` - 1 h for one year, serverAuth) whose subjectAltNames are `sans` (IPv4/IPv6 literals become
// IP entries, everything else DNS), and writes them to `dir`/`base_name`.crt and
// `dir`/`base_name`.key (Kubernetes' --cert-dir names them apiserver.crt and apiserver.key).
// InvalidArgument for no SANs; Internal when OpenSSL fails or the files cannot be written.
absl::StatusOr<CertificateFiles> WriteSelfSignedCertificate(const std::string& dir,
                                                            const std::vector<std::string>& sans,
                                                            absl::Time now,
                                                            std::string_view base_name = "tls");

}  // namespace aa::apiserver
