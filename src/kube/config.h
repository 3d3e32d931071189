#pragma once
// Where the Kubernetes API is and how to authenticate to it: in-cluster (the pod's service account)
// or a kubeconfig file (out of cluster), as client-go resolves them.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "net/proxy.h"

namespace aa::kube {

// Everything the client needs. Empty strings mean "not set". PEM may be given inline (`*_pem`) or
// as a file; inline wins when both are set. Secrets (token, key) are never logged.
struct ClientConfig {
  // Base URL: "https://10.96.0.1:443" (IPv6 hosts in brackets). Required.
  std::string server;
  // PEM bundle that verifies the server; neither set: the system trust store.
  std::string ca_file;
  std::string ca_pem;
  // Client certificate and its key (mutual TLS); both or neither of each pair.
  std::string client_cert_file;
  std::string client_cert_pem;
  std::string client_key_file;
  std::string client_key_pem;
  // Bearer token: a fixed string, or a file re-read whenever it changes (rotated service account
  // tokens). token_file wins when both are set.
  std::string token;
  std::string token_file;
  // The kubeconfig user's username and password (HTTP basic auth). Not used by kube::Client (the
  // Kubernetes API dropped basic auth); read by --prometheus-auth-config.
  std::string username;
  std::string password;
  // Fields of the context's cluster and user that are set but not applied by the loader, as paths
  // ("users[name=u].user.exec", "...as", "clusters[name=c].cluster.proxy-url"): exec and
  // auth-provider plugins, impersonation (as, as-uid, as-groups, as-user-extra), proxy-url. Callers
  // that must honour every credential (--prometheus-auth-config) refuse a file with any.
  std::vector<std::string> unapplied_fields;
  // Skip verification of the server certificate (kubeconfig insecure-skip-tls-verify). Logged.
  bool insecure_skip_tls_verify = false;
  // Name expected in the server certificate (kubeconfig tls-server-name); default: the URL's host.
  std::string tls_server_name;
  // Default namespace: the service account's namespace in a cluster, the context's namespace (or
  // "default") from a kubeconfig.
  std::string default_namespace = "default";
  // Deadline of one non-watch request (connect + answer). Default 10 s.
  absl::Duration timeout = absl::Seconds(10);
  // Where this came from, for logs: "in-cluster" or "kubeconfig /path (context ctx)".
  std::string source;
  // HTTPS_PROXY / HTTP_PROXY / NO_PROXY (net/proxy.h); nullopt: the process environment, as
  // kubectl. Not read from a kubeconfig.
  std::optional<net::ProxyEnvironment> proxy;
};

// Where a pod finds its service account. Defaults are the standard mount paths.
struct InClusterPaths {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// Reads an environment variable; nullopt when unset. Tests inject their own.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment.
std::optional<std::string> ProcessEnv(std::string_view name);

// True when KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set and the token file exists:
// client-go's test for "running in a pod".
bool InCluster(const InClusterPaths& paths = {}, const EnvLookup& env = ProcessEnv);

// The in-cluster config: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the token file
// (re-read on rotation by the client), the CA file, the namespace file (default "default" when it
// is missing). FailedPrecondition when the variables are unset or the token file is unreadable;
// InvalidArgument for a malformed host or port.
absl::StatusOr<ClientConfig> InClusterConfig(const InClusterPaths& paths = {},
                                             const EnvLookup& env = ProcessEnv);

// Loads a kubeconfig file (YAML or JSON) and resolves `context` (empty: current-context):
// cluster server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name; user
// client-certificate(-data), client-key(-data), token, tokenFile, username, password; context
// namespace; what else is set and not applied goes to unapplied_fields. Relative file
// paths are relative to the kubeconfig's directory, as in kubectl. Errors: NotFound when the file
// cannot be read; InvalidArgument naming the field for a malformed file, a missing context, cluster
// or user, bad base64, or a user with only exec/auth-provider credentials (not supported).
absl::StatusOr<ClientConfig> LoadKubeconfig(std::string_view path, std::string_view context = "");

// Parses kubeconfig text; `dir` resolves relative paths. Same errors as LoadKubeconfig.
absl::StatusOr<ClientConfig> ParseKubeconfig(std::string_view text, std::string_view dir,
                                             std::string_view context = "",
                                             std::string_view name_for_errors = "kubeconfig");

// How a program finds the Kubernetes API: `kubeconfig` (a path; `context` picks one of its
// contexts) when set, else the in-cluster config when InCluster(), else nullopt (not in a cluster,
// nothing configured). Errors are those of LoadKubeconfig / InClusterConfig.
absl::StatusOr<std::optional<ClientConfig>> ResolveClientConfig(std::string_view kubeconfig,
                                                                std::string_view context = "",
                                                                const InClusterPaths& paths = {},
                                                                const EnvLookup& env = ProcessEnv);

}  // namespace aa::kube
