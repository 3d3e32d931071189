#pragma once
// The HTTPS port's TLS: TLS 1.2 or newer, a serving certificate read from PEM files and reloaded
// when the files change (cert-manager or a kubelet Secret volume rotating them) without a restart,
// and a request for the client's certificate (optional; verified later per request by the
// authenticator against the client CA or the front-proxy CA, which can change at run time).
//
//   auto cert = auth::ServingCertificate::Load(cert_file, key_file, RealClock::Get());
//   options.tls_setup = [&](ssl_ctx_st* ctx) { return (*cert)->ConfigureContext(ctx); };
//
// New handshakes get the newest certificate: the context's certificate callback runs on every
// handshake and, at most once per `check_interval`, compares the files' identity (inode, size,
// mtime) with the loaded ones; when they changed it loads both, and keeps serving the old pair
// (logging a warning) while the new one is unreadable or the key does not match the certificate
// (a rotation caught halfway). Established connections keep the certificate they negotiated.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

struct ssl_ctx_st;
struct ssl_st;

namespace aa::auth {

class ServingCertificate {
 public:
  // Loads the pair now. InvalidArgument naming the files when they cannot be read, do not parse or
  // the key does not match the certificate. `clock` must outlive this object.
  static absl::StatusOr<std::unique_ptr<ServingCertificate>> Load(
      std::string cert_file, std::string key_file, Clock& clock,
      absl::Duration check_interval = absl::Seconds(1));
  ~ServingCertificate();

  // Installs this certificate (through a per-handshake callback), TLS >= 1.2 and an optional
  // client-certificate request on `ctx`. This object must outlive every context it configured.
  absl::Status ConfigureContext(ssl_ctx_st* ctx);

  // Reloads when the files changed since the last load (regardless of check_interval). Returns
  // whether a new pair is now served; the error when the files changed but cannot be loaded.
  // Thread-safe.
  absl::StatusOr<bool> ReloadIfChanged();

  // SHA-256 fingerprint (hex) of the leaf certificate served now. Thread-safe.
  std::string Fingerprint() const;
  // Successful reloads since Load. Thread-safe.
  int reloads() const;

 private:
  struct Pair;
  ServingCertificate(std::string cert_file, std::string key_file, Clock& clock,
                     absl::Duration check_interval);
  std::shared_ptr<const Pair> Current();  // checks the files at most once per check_interval
  static int CertCallback(::ssl_st* ssl, void* arg);

  const std::string cert_file_;
  const std::string key_file_;
  Clock& clock_;
  const absl::Duration check_interval_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Pair> pair_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_);
  // inode/size/mtime of both files.
  std::string files_identity_ ABSL_GUARDED_BY(mu_);
  // The last identity that failed to load.
  std::string failed_identity_ ABSL_GUARDED_BY(mu_);
  int reloads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace aa::auth
