#pragma once
// Where the certificate trust of the HTTPS port comes from: flags (files) and/or the ConfigMap
// kube-system/extension-apiserver-authentication that kube-apiserver publishes for aggregated API
// servers (keys client-ca-file, requestheader-client-ca-file, requestheader-allowed-names,
// requestheader-username-headers, requestheader-group-headers,
// requestheader-extra-headers-prefix; the list values are JSON-encoded string lists).
//
// Precedence, field by field, as Kubernetes' delegated authentication does:
//   client CA:      --client_ca_file, else the ConfigMap's client-ca-file, else none
//   front proxy:    --requestheader_client_ca_file with the --requestheader_* flags (headers
//                   default X-Remote-User / X-Remote-Group / X-Remote-Extra-), else the
//                   ConfigMap's requestheader-* keys (header flags, when given, still win), else
//                   none (X-Remote-* headers are then never trusted)

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/authenticator.h"

namespace aa::auth {

struct TrustFlags {
  std::string client_ca_file;
  std::string requestheader_client_ca_file;
  std::vector<std::string> requestheader_allowed_names;     // empty: any CN
  std::vector<std::string> requestheader_username_headers;  // empty: ConfigMap or X-Remote-User
  std::vector<std::string> requestheader_group_headers;     // empty: ConfigMap or X-Remote-Group
  std::vector<std::string>
      requestheader_extra_headers_prefix;  // empty: ConfigMap or X-Remote-Extra-
};

// Builds the trust from the flags and, when not null, the ConfigMap's data. InvalidArgument naming
// the file or ConfigMap key when a CA bundle or a list does not parse; NotFound for a missing file.
absl::StatusOr<TrustConfig> BuildTrustConfig(const TrustFlags& flags,
                                             const std::map<std::string, std::string>* configmap);

// Whether the flags alone fix every part the ConfigMap could supply (then watching it is useless).
bool FlagsCoverEverything(const TrustFlags& flags);

// A one-line description for the start-up log: sources and CA counts, never certificate bodies.
std::string DescribeTrust(const TrustConfig& trust);

}  // namespace aa::auth
