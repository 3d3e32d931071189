#pragma once
// The adapter as a library: everything autoscale-adapter runs (Prometheus client, sampler and
// rule discovery, the pod watch when the pods come from the Kubernetes API, the plain-HTTP port
// with /metrics and health, the HTTPS port with the Kubernetes metrics APIs and the query API
// behind authentication and authorization, the KEDA gRPC port), wired from one AdapterOptions.
// main() parses flags into AdapterOptions, calls Start, waits for a signal and calls Stop (and
// ReloadConfig on SIGHUP); tests do the same in process, with ports 0 and a Prometheus of their
// own.
//
//   app::Adapter adapter(std::move(options));
//   if (absl::Status s = adapter.Start(); !s.ok()) ...;
//   ... adapter.http_port() ...
//   adapter.Stop();
//
// Not thread-safe: one owner calls Start and Stop (the servers run their own threads).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/internal/review_budget.h"
#include "auth/trust_config.h"
#include "config/config.h"
#include "net/server.h"

namespace aa::prom {
class Client;
}

namespace aa::app {

// Whether a listen address turns its port off: "off", or explicitly empty.
bool ListenerOff(std::string_view listen);

enum class PodSource {
  kAuto,        // kKubernetes when the Kubernetes API is configured, else kPrometheus
  kKubernetes,  // list+watch pods through the Kubernetes API (needs it)
  kPrometheus,  // kube_pod_labels from kube-state-metrics
};

struct AdapterOptions {
  // The effective configuration: parsed, flag overrides applied, config::ValidateForRun passed.
  // config.keda.listen empty: no KEDA gRPC port; ":port" listens on every IPv4 address.
  // /metrics also reports autoscale_adapter_build_info (common/version.h) and process_*.
  config::Config config;

  // Reloading the configuration while running (app/config_reload.h): the file `config` came from
  // (empty: no reloads, e.g. the embedded default), how its text becomes the effective config (the
  // same flag overrides and config::ValidateForRun as at start; required with config_file), and
  // how often the file is checked for a change (<= 0: only ReloadConfig(), i.e. SIGHUP).
  std::string config_file;
  std::function<absl::StatusOr<config::Config>(std::string_view text)> reload_config;
  absl::Duration config_check_interval = absl::Seconds(5);

  // The plain-HTTP port (/metrics, health; nothing else): "host:port" (":port": every IPv4
  // address), port 0 picks a free one; "off" or "" disables it.
  std::string http_listen = ":8080";
  // Worker threads of the plain-HTTP port and of the HTTPS port.
  int http_threads = 64;
  // The limits of the plain-HTTP and of the HTTPS port (each its own): connections, header, URI
  // and body bytes, header count, deadlines, queued requests. Only those fields are read; listen
  // address, name, TLS, threads, handler and self-metrics are set per port.
  net::HttpServerOptions http_limits;

  // The HTTPS port of the Kubernetes metrics APIs (custom, external, metrics.k8s.io) and of the
  // query API (queryapi/): "host:port", port 0 picks a free one; "off" or "" disables it.
  std::string https_listen = ":6443";
  // PEM certificate chain and key of the HTTPS port (both or neither); neither: a self-signed
  // certificate is generated at Start (ECDSA P-256; SANs localhost, 127.0.0.1 and `tls_san`).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::vector<std::string> tls_san;
  // Without tls_cert_file: a directory holding the self-signed pair as Kubernetes' --cert-dir does,
  // apiserver.crt and apiserver.key (key mode 0600), reused when both exist (and then loaded as
  // they are), else generated there (the directory is created, mode 0700, when missing). Empty:
  // generated into a private temporary directory removed at Stop.
  std::string cert_dir;
  // The HTTPS port's cipher suites (IANA names as Kubernetes spells them; empty: Kubernetes'
  // default forward-secret AEAD list and OpenSSL's TLS 1.3 suites) and lowest version
  // ("VersionTLS12" or "VersionTLS13"); see auth/tls_policy.h. Anything else is an InvalidArgument
  // at Start.
  std::vector<std::string> tls_cipher_suites;
  std::string tls_min_version = "VersionTLS12";
  // false: no credentials needed / every authenticated caller may read everything (local use;
  // both the Kubernetes metrics APIs and the query API).
  bool authentication = true;
  bool authorization = true;
  // What uncached TokenReviews and SubjectAccessReviews may cost the Kubernetes API
  // (auth::SecureServingOptions).
  auth::internal::ReviewBudgetOptions token_review_budget{
      .per_second = 20, .burst = 40, .max_in_flight = 8};
  auth::internal::ReviewBudgetOptions access_review_budget{
      .per_second = 20, .burst = 40, .max_in_flight = 8};
  // Client and front-proxy CAs and headers; what they leave open comes from the ConfigMap
  // kube-system/extension-apiserver-authentication when the Kubernetes API is reachable.
  auth::TrustFlags trust;

  // The Kubernetes API: a kubeconfig file (and its context; empty: current-context), else the
  // pod's service account in a cluster, else none.
  std::string kubeconfig;
  std::string kube_context;
  PodSource pod_source = PodSource::kAuto;
  // Watch the pods of this namespace only; empty: all namespaces.
  std::string pod_watch_namespace;
  // After this long without a successful list or an open watch, the pod index is stale: /readyz
  // fails and answers that select pods by labels are 503 (kube::PodWatchOptions::max_staleness).
  absl::Duration pod_watch_max_staleness = absl::Minutes(2);

  // Optional: the Prometheus to read instead of an HTTP client built from config.prometheus (not
  // owned; must outlive the Adapter): the backend named default. For tests.
  prom::Client* prometheus = nullptr;
  // Optional: clients for backends by name (not owned; must outlive the Adapter), used instead of
  // HTTP clients built from the config for those names ("default" as `prometheus` above, which
  // wins). Backends of config.backends not named here get HTTP clients. For tests.
  std::map<std::string, prom::Client*> prometheus_backends;
};

class Adapter {
 public:
  explicit Adapter(AdapterOptions options);
  // Stops what is still running.
  ~Adapter();
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  // Builds every component and starts the threads and servers. On an error (an invalid option:
  // InvalidArgument or FailedPrecondition naming it; a port in use; an unreadable certificate or
  // kubeconfig) whatever had started is stopped again and the error returned.
  // FailedPrecondition while running (Start after Stop starts afresh).
  absl::Status Start();

  // Stops the servers (KEDA with a 5 s grace period, then HTTPS, then HTTP), then the background
  // work (ConfigMap watch, discovery, sampler, pod watch), and frees every component. Idempotent.
  void Stop();

  // The bound ports after a successful Start (the chosen ones for port 0); 0 when that port is
  // off or not started.
  int http_port() const;
  int https_port() const;
  int grpc_port() const;

  // Reads the config file now (SIGHUP) and applies it when its content changed: the metric
  // definitions, the prometheus-adapter rules (discovered again at once) and the sampling
  // durations, from the next sampling round; fields that need a restart keep their running values
  // and are named in a warning (RestartOnlyChanges). An invalid file changes nothing (logged, and
  // the gauge autoscale_adapter_config_last_reload_successful reads 0). Returns whether the file
  // changed and was applied; false too when not running or without config_file.
  bool ReloadConfig();

 private:
  struct Parts;  // the running components, in start order

  absl::Status StartParts();  // all but the HTTPS and gRPC ports
  absl::Status StartHttps();
  absl::Status StartGrpc();
  void ApplyConfig(const config::Config& next);  // the reloader's apply

  AdapterOptions options_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace aa::app
