#pragma once
// Test TLS material made in-process with the OpenSSL 3 C API: a CA, then server and client
// certificates signed by it, written as PEM files. For tests of every TLS endpoint (Prometheus
// client, HTTPS API server, gRPC, front-proxy client-certificate auth). Keys are ECDSA P-256;
// signatures SHA-256.
//
//   aa::testutil::TempDir dir;
//   auto ca = aa::testutil::TestCa::Create(dir.path(), "ca");          // dir/ca.crt, dir/ca.key
//   auto server = ca->IssueServer(dir.path(), "server");               // SANs 127.0.0.1, ::1,
//   localhost auto client = ca->IssueClient(dir.path(), "client", "system:kube-aggregator",
//   {"system:masters"});
//   // server->cert_file, server->key_file, ca->cert_file() ...
//
// Thread-compatible (one TestCa per thread, or external locking). Errors are absl::Status (Internal
// for OpenSSL failures, with OpenSSL's reason; Unavailable when a file cannot be written).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa::testutil {

// Paths of one issued certificate and its unencrypted private key (PKCS#8 PEM).
struct CertFiles {
  std::string cert_file;  // <dir>/<name>.crt
  std::string key_file;   // <dir>/<name>.key
  std::string cert_pem;   // contents of cert_file
  std::string key_pem;    // contents of key_file
};

// What to put in a leaf certificate.
struct CertSpec {
  std::string common_name;                 // subject CN
  std::vector<std::string> organizations;  // subject O entries (Kubernetes reads groups from them)
  std::vector<std::string> dns_names;      // DNS SANs
  std::vector<std::string> ip_addresses;   // IP SANs ("127.0.0.1", "::1")
  bool server_auth = false;                // extendedKeyUsage serverAuth
  bool client_auth = false;                // extendedKeyUsage clientAuth
  bool expired = false;                    // valid from now-2d to now-1d
  absl::Duration validity = absl::Hours(24);  // when not expired: valid from now-1h for this long
};

class TestCa {
 public:
  // A self-signed CA (basicConstraints CA:TRUE), written to <dir>/<name>.crt and <dir>/<name>.key.
  static absl::StatusOr<TestCa> Create(std::string_view dir, std::string_view name,
                                       std::string_view common_name = "autoscale-adapter test CA");

  // Issues a leaf certificate signed by this CA into <dir>/<name>.crt/.key.
  absl::StatusOr<CertFiles> Issue(std::string_view dir, std::string_view name,
                                  const CertSpec& spec) const;

  // A server certificate (serverAuth, CN=localhost) with SANs 127.0.0.1, ::1, localhost plus
  // `dns_names`.
  absl::StatusOr<CertFiles> IssueServer(std::string_view dir, std::string_view name,
                                        const std::vector<std::string>& dns_names = {},
                                        bool expired = false) const;

  // A client certificate (clientAuth) with CN `common_name` and O `organizations`.
  absl::StatusOr<CertFiles> IssueClient(std::string_view dir, std::string_view name,
                                        std::string_view common_name,
                                        const std::vector<std::string>& organizations = {},
                                        bool expired = false) const;

  const std::string& cert_file() const { return files_.cert_file; }
  const std::string& key_file() const { return files_.key_file; }
  const std::string& cert_pem() const { return files_.cert_pem; }

 private:
  explicit TestCa(CertFiles files) : files_(std::move(files)) {}
  CertFiles files_;  // the CA's own certificate and key
};

}  // namespace aa::testutil
