// autoscale-adapter: serves Prometheus metrics to Kubernetes autoscalers (HPA and KEDA) from one
// pipeline. This file turns flags into app::AdapterOptions; app/adapter.h does the rest.

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "app/adapter.h"
#include "app/flags.h"
#include "app/prometheus_adapter_flags.h"
#include "auth/trust_config.h"
#include "common/duration.h"
#include "common/enum_names.h"
#include "common/file.h"
#include "common/flag_names.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/version.h"
#include "config/config.h"
#include "net/server.h"

ABSL_FLAG(std::string, config, "",
          "Path to the YAML config file; empty: the embedded default (the simulator demo)");
ABSL_FLAG(std::string, prometheus_url, "",
          "Prometheus (or Thanos, Mimir, VictoriaMetrics) base URL; overrides prometheus.url in "
          "the config");
ABSL_FLAG(std::string, sampling_interval, "", "Overrides sampling.interval (Go duration, e.g. 5s)");
ABSL_FLAG(std::string, max_age, "",
          "Overrides sampling.maxAge: older values are refused, never served");
ABSL_FLAG(std::string, demand_ttl, "",
          "Overrides sampling.demandTTL: metrics nobody asked for that long stop being sampled");
ABSL_FLAG(std::string, prometheus_timeout, "", "Overrides prometheus.timeout (per attempt)");
ABSL_FLAG(std::string, prometheus_bearer_token_file, "", "Overrides prometheus.bearerTokenFile");
ABSL_FLAG(std::string, prometheus_ca_file, "", "Overrides prometheus.tls.caFile");
ABSL_FLAG(bool, prometheus_insecure_skip_verify, false,
          "Skip TLS verification of Prometheus (explicit opt-in; logged as a warning)");
ABSL_FLAG(std::string, http_listen, ":8080",
          "Address of the plain-HTTP port (/metrics, /healthz, /livez, /readyz only; no "
          "credentials); host:port (:port: every IPv4 address), port 0 picks a free one, \"off\" "
          "or \"\" disables it");
ABSL_FLAG(int, http_threads, 64, "Worker threads of the plain-HTTP port");
// Limits of each HTTP port (plain HTTP and HTTPS, each its own); net::HttpServerOptions says more.
ABSL_FLAG(int, max_connections, 512,
          "Open connections per HTTP port; at the limit a new one evicts the connection waiting "
          "longest without a complete request (or gets 503 when all are busy)");
ABSL_FLAG(int, max_queued_requests, 256,
          "Requests waiting for a worker per HTTP port; beyond, 503 at once");
ABSL_FLAG(int64_t, max_header_bytes, 32 << 10,
          "Request line and headers together, bytes (over: 431, or 414 for the request line)");
ABSL_FLAG(int, max_header_count, 100, "Header fields in one request (over: 431)");
ABSL_FLAG(int64_t, max_uri_bytes, 8192, "Path and query string, bytes (over: 414)");
ABSL_FLAG(int64_t, max_body_bytes, 1 << 20, "Request body, bytes (over: 413)");
ABSL_FLAG(std::string, request_header_timeout, "10s",
          "Deadline for a request's line and headers as a whole (Go duration)");
ABSL_FLAG(std::string, body_timeout, "10s", "Deadline for a request's body (Go duration)");
ABSL_FLAG(std::string, idle_timeout, "60s",
          "Idle keep-alive connections are closed after this (Go duration)");
ABSL_FLAG(std::string, tls_handshake_timeout, "10s",
          "Deadline for the TLS handshake of the HTTPS port (Go duration)");
ABSL_FLAG(std::string, write_timeout, "10s", "Deadline for writing one answer (Go duration)");
ABSL_FLAG(std::string, grpc_listen, "",
          "KEDA external scaler gRPC address, host:port (port 0 picks a free one), \"off\" or \"\" "
          "disables it; not given: keda.listen from the config (:9500)");
ABSL_FLAG(std::string, grpc_tls_cert_file, "",
          "PEM certificate chain for the gRPC port (TLS); overrides keda.tls");
ABSL_FLAG(std::string, grpc_tls_key_file, "", "PEM private key of --grpc-tls-cert-file");
ABSL_FLAG(std::string, grpc_client_ca_file, "",
          "PEM CA bundle for client certificates on the gRPC port: mutual TLS (needs TLS)");
ABSL_FLAG(std::vector<std::string>, grpc_client_names, {},
          "Client certificate names allowed on the gRPC port (comma-separated; each matches the "
          "subject CN or a DNS SAN); others get PERMISSION_DENIED. Needs --grpc-client-ca-file. "
          "Empty: any certificate the client CA signed; overrides keda.tls.clientNames");
ABSL_FLAG(bool, grpc_insecure, false,
          "Serve the gRPC port in plaintext when it has no TLS settings (logged as a warning); "
          "without TLS settings and without this flag the adapter refuses to start");
ABSL_FLAG(int64_t, grpc_max_streams, 10000,
          "Open StreamIsActive streams in total; more get RESOURCE_EXHAUSTED (keda.limits)");
ABSL_FLAG(int64_t, grpc_max_streams_per_client, 1000,
          "Open StreamIsActive streams of one client (certificate name with mutual TLS, else peer "
          "IP); more get RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, grpc_max_concurrent_streams, 1000,
          "HTTP/2 streams (calls) open at once on one gRPC connection");
ABSL_FLAG(int64_t, grpc_max_receive_message_bytes, 16384,
          "Largest gRPC request accepted, in bytes");
ABSL_FLAG(std::string, grpc_min_ping_interval, "30s",
          "Client keepalive pings closer than this while no data flows are strikes (Go duration)");
ABSL_FLAG(int64_t, grpc_max_ping_strikes, 2,
          "Ping strikes after which the gRPC connection is closed (GOAWAY ENHANCE_YOUR_CALM)");
ABSL_FLAG(std::string, grpc_max_connection_idle, "5m",
          "A gRPC connection without calls for this long is closed");
ABSL_FLAG(std::string, grpc_max_connection_age, "1h",
          "A gRPC connection gets GOAWAY at this age (KEDA reconnects)");
ABSL_FLAG(std::string, grpc_max_connection_age_grace, "1m",
          "Calls still open this long after the age GOAWAY are cut");
ABSL_FLAG(std::string, grpc_handshake_timeout, "10s",
          "A gRPC connection not through its TLS and HTTP/2 handshake by then is closed");
ABSL_FLAG(std::string, https_listen, ":6443",
          "Address of the HTTPS port serving the Kubernetes metrics APIs (custom, external, "
          "metrics.k8s.io) and the query API (/api/v1/...), behind --authentication and "
          "--authorization; host:port, port 0 picks a free one, \"off\" or \"\" disables it");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain of the HTTPS port; empty: a self-signed certificate is generated "
          "at start (ECDSA P-256; SANs localhost, 127.0.0.1 and --tls-san)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls-cert-file");
ABSL_FLAG(std::vector<std::string>, tls_san, {},
          "Extra subjectAltNames of the generated self-signed certificate (comma-separated DNS "
          "names or IPs, e.g. the Service's DNS name)");
ABSL_FLAG(std::vector<std::string>, tls_cipher_suites, {},
          "Cipher suites of the HTTPS port, comma-separated IANA names as Kubernetes accepts them "
          "(e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); only forward-secret AEAD suites (ECDHE "
          "with AES-GCM or CHACHA20-POLY1305, and TLS 1.3's); an unknown or insecure name is a "
          "start error. Empty: Kubernetes' default TLS 1.2 list (the six ECDHE ECDSA/RSA AES-GCM "
          "and CHACHA20-POLY1305 suites) and OpenSSL's three TLS 1.3 suites");
ABSL_FLAG(std::string, tls_min_version, "VersionTLS12",
          "Lowest TLS version of the HTTPS port: VersionTLS12 or VersionTLS13 (Kubernetes' "
          "spelling); older versions are refused");
ABSL_FLAG(std::string, authentication, "on",
          "on: the HTTPS port (Kubernetes metrics APIs, query API) asks every caller for "
          "credentials (front-proxy or client "
          "certificate, bearer token via TokenReview) and answers 401 without; off: no "
          "credentials needed (local use only, logged as a warning)");
ABSL_FLAG(std::string, authorization, "on",
          "on: callers are authorized with SubjectAccessReview (needs the Kubernetes API); off: "
          "every authenticated caller may read everything (local use only, logged as a warning; "
          "without the Kubernetes API, e.g. the demo, it must be off explicitly)");
ABSL_FLAG(double, token_reviews_per_second, 20,
          "TokenReviews per second (burst twice that) for bearer tokens that never authenticated, "
          "over all clients; more get 429 without asking the Kubernetes API (tokens that "
          "authenticated in the last hour are always reviewed)");
ABSL_FLAG(double, access_reviews_per_second, 20,
          "SubjectAccessReviews per second per user (burst twice that) for requests the cache "
          "does not answer; more get 429 without asking the Kubernetes API");
ABSL_FLAG(int32_t, reviews_in_flight, 8,
          "TokenReviews, and separately SubjectAccessReviews, running at once; more get 429");
ABSL_FLAG(std::string, client_ca_file, "",
          "PEM CA bundle for direct clients' certificates on the Kubernetes API port (user = CN, "
          "groups = O); default: client-ca-file of ConfigMap "
          "kube-system/extension-apiserver-authentication when reachable");
ABSL_FLAG(std::string, requestheader_client_ca_file, "",
          "PEM CA bundle of the front proxy (kube-apiserver's aggregator); only requests with a "
          "client certificate it signed may set X-Remote-User/-Group/-Extra-*; default: the "
          "ConfigMap's requestheader-client-ca-file");
ABSL_FLAG(std::vector<std::string>, requestheader_allowed_names, {},
          "Common names the front proxy's certificate may have (comma-separated); empty: any the "
          "CA signed");
ABSL_FLAG(std::vector<std::string>, requestheader_username_headers, {},
          "Headers holding the user name from the front proxy; default: the ConfigMap's, else "
          "X-Remote-User");
ABSL_FLAG(std::vector<std::string>, requestheader_group_headers, {},
          "Headers holding the groups from the front proxy; default: the ConfigMap's, else "
          "X-Remote-Group");
ABSL_FLAG(std::vector<std::string>, requestheader_extra_headers_prefix, {},
          "Header prefixes of extra user attributes from the front proxy; default: the "
          "ConfigMap's, else X-Remote-Extra-");
ABSL_FLAG(std::string, kubeconfig, "",
          "kubeconfig file to reach the Kubernetes API from outside a cluster (current-context, or "
          "--kube-context); empty: the pod's service account when running in a cluster");
ABSL_FLAG(std::string, kube_context, "", "Context of --kubeconfig to use; empty: current-context");
ABSL_FLAG(std::string, pod_source, "auto",
          "Where pods and their labels (for labelSelector) come from: kubernetes (list+watch pods "
          "through the Kubernetes API), prometheus (kube_pod_labels from kube-state-metrics), or "
          "auto (kubernetes when running in a cluster or with --kubeconfig, else prometheus)");
ABSL_FLAG(std::string, pod_watch_namespace, "",
          "Watch pods of this namespace only (a namespaced Role suffices); empty: all namespaces");
ABSL_FLAG(std::string, pod_watch_max_staleness, "2m",
          "How long the pod watch may go without a successful list or an open watch before its "
          "index counts as stale: /readyz fails (check pod-watch) and answers that select pods by "
          "labels become 503 until it recovers (Go duration > 0)");
ABSL_FLAG(bool, check_config, false,
          "Validate the config, print the effective metric queries and exit");
ABSL_FLAG(std::string, log_level, "info", "Log level: debug, info, warn, error");
ABSL_FLAG(std::string, log_format, "json", "Log format: json (one object a line) or logfmt");

// prometheus-adapter's flags (its own and the Kubernetes API server's it inherits), so its
// Deployment's and Helm chart's arguments start this adapter unchanged;
// app/prometheus_adapter_flags.h. Its flags without a meaning here (klog's --logtostderr,
// --audit-*...) are dropped with a warning.
ABSL_FLAG(int, secure_port, 6443,
          "prometheus-adapter's (Kubernetes') HTTPS port: given, it sets the port of "
          "--https-listen (0 picks a free one), the KEDA gRPC port stays off unless keda.tls, "
          "--grpc-tls-cert-file, --grpc-insecure or --grpc-listen configure it (prometheus-adapter "
          "serves HTTPS only), and insecure --tls-cipher-suites (its Deployment lists CBC and RSA "
          "ones) are left out with a warning instead of being a start error");
ABSL_FLAG(std::string, bind_address, "",
          "prometheus-adapter's (Kubernetes') address of the HTTPS port: the host of "
          "--https-listen (0.0.0.0 or empty: every IPv4 address; :: and IPv6 addresses too)");
ABSL_FLAG(std::string, cert_dir, "",
          "Without --tls-cert-file: the directory of the self-signed serving pair, as Kubernetes' "
          "--cert-dir: apiserver.crt and apiserver.key reused when present, else generated there "
          "(key mode 0600)");
ABSL_FLAG(std::string, tls_private_key_file, "",
          "prometheus-adapter's (Kubernetes') name of --tls-key-file");
ABSL_FLAG(std::string, prometheus_auth_config, "",
          "prometheus-adapter's kubeconfig for Prometheus: its current context's TLS "
          "(certificate-authority(-data), insecure-skip-tls-verify, tls-server-name, "
          "client-certificate/key(-data)) and credentials (token, tokenFile, username/password) "
          "are used towards --prometheus-url (its server is not); exec, auth-provider, "
          "impersonation and proxy-url are refused. Inline data is kept in a private directory "
          "(mode 0700, files 0600) removed at exit");
ABSL_FLAG(bool, prometheus_auth_incluster, false,
          "Authenticate to Prometheus with the pod's service account token (re-read when it "
          "rotates) and CA, as prometheus-adapter's flag of that name");
ABSL_FLAG(
    std::string, prometheus_token_file, "",
    "prometheus-adapter's name of --prometheus-bearer-token-file (prometheus.bearerTokenFile)");
ABSL_FLAG(std::string, prometheus_header, "",
          "Name=Value: a header on every request to Prometheus (prometheus.headers); repeat the "
          "flag for more headers, as prometheus-adapter's");
ABSL_FLAG(std::string, prometheus_verb, "",
          "GET or POST: the HTTP method of queries to Prometheus (prometheus.method; default auto: "
          "GET, POST for long queries)");
ABSL_FLAG(std::string, prometheus_client_tls_cert_file, "",
          "PEM client certificate towards Prometheus (prometheus.tls.certFile), mutual TLS");
ABSL_FLAG(std::string, prometheus_client_tls_key_file, "",
          "PEM private key of --prometheus-client-tls-cert-file (prometheus.tls.keyFile)");
ABSL_FLAG(std::string, metrics_relist_interval, "",
          "prometheus-adapter's relist interval: overrides discovery.interval, how often the "
          "rules' seriesQuery discovery re-runs (Go duration >= 10s)");
ABSL_FLAG(std::string, metrics_max_age, "",
          "prometheus-adapter's max age: how far back the rules' seriesQuery discovery looks for "
          "series (/api/v1/series start); default: the discovery interval; at least it. It does "
          "not bound served values: --max-age (sampling.maxAge) does");
ABSL_FLAG(int, v, 0,
          "klog's verbosity, as prometheus-adapter's: 0-3 sets --log-level info, 4 and more debug "
          "(--log-level, when given, wins)");
ABSL_FLAG(std::string, authentication_kubeconfig, "",
          "prometheus-adapter's (Kubernetes') kubeconfig for TokenReviews: here one kubeconfig "
          "serves everything, so it sets --kubeconfig (all these flags must name the same file)");
ABSL_FLAG(std::string, authorization_kubeconfig, "",
          "As --authentication-kubeconfig, for SubjectAccessReviews: sets --kubeconfig");
ABSL_FLAG(std::string, lister_kubeconfig, "",
          "As --authentication-kubeconfig, for listing objects: sets --kubeconfig");

namespace aa {
namespace {

constexpr EnumName<app::PodSource> kPodSources[] = {{app::PodSource::kAuto, "auto"},
                                                    {app::PodSource::kKubernetes, "kubernetes"},
                                                    {app::PodSource::kPrometheus, "prometheus"}};

// The limits of both HTTP ports; InvalidArgument naming the flag that is wrong.
absl::StatusOr<net::HttpServerOptions> HttpLimitsFromFlags() {
  net::HttpServerOptions o;
  auto positive = [](int64_t v, const char* name) -> absl::Status {
    if (v > 0) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("--", name, "=", v, ": want a positive number"));
  };
  auto duration = [](const absl::Flag<std::string>& flag, const char* name,
                     absl::Duration* out) -> absl::Status {
    auto d = ParseGoDuration(absl::GetFlag(flag));
    if (!d.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", d.status().message()));
    }
    if (*d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": want a positive duration"));
    }
    *out = *d;
    return absl::OkStatus();
  };
  AA_RETURN_IF_ERROR(positive(absl::GetFlag(FLAGS_max_connections), "max-connections"));
  AA_RETURN_IF_ERROR(positive(absl::GetFlag(FLAGS_max_header_bytes), "max-header-bytes"));
  AA_RETURN_IF_ERROR(positive(absl::GetFlag(FLAGS_max_header_count), "max-header-count"));
  AA_RETURN_IF_ERROR(positive(absl::GetFlag(FLAGS_max_uri_bytes), "max-uri-bytes"));
  AA_RETURN_IF_ERROR(positive(absl::GetFlag(FLAGS_max_body_bytes), "max-body-bytes"));
  if (absl::GetFlag(FLAGS_max_queued_requests) < 0) {
    return absl::InvalidArgumentError("--max-queued-requests: want 0 or more");
  }
  o.max_connections = absl::GetFlag(FLAGS_max_connections);
  o.max_queued_requests = absl::GetFlag(FLAGS_max_queued_requests);
  o.max_header_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_header_bytes));
  o.max_header_count = absl::GetFlag(FLAGS_max_header_count);
  o.max_uri_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_uri_bytes));
  o.max_body_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_body_bytes));
  AA_RETURN_IF_ERROR(
      duration(FLAGS_request_header_timeout, "request-header-timeout", &o.request_header_timeout));
  AA_RETURN_IF_ERROR(duration(FLAGS_body_timeout, "body-timeout", &o.body_timeout));
  AA_RETURN_IF_ERROR(duration(FLAGS_idle_timeout, "idle-timeout", &o.keep_alive_timeout));
  AA_RETURN_IF_ERROR(
      duration(FLAGS_tls_handshake_timeout, "tls-handshake-timeout", &o.tls_handshake_timeout));
  AA_RETURN_IF_ERROR(duration(FLAGS_write_timeout, "write-timeout", &o.write_timeout));
  return o;
}

int Fail(const absl::Status& status) {
  LogError("fatal", {{"error", status}});
  return 1;
}

// Settings given as flags win over the config file.
absl::Status ApplyFlagOverrides(config::Config& config) {
  auto duration = [](const absl::Flag<std::string>& flag, const char* name,
                     absl::Duration* out) -> absl::Status {
    std::string text = absl::GetFlag(flag);
    if (text.empty()) return absl::OkStatus();
    auto d = ParseGoDuration(text);
    if (!d.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", d.status().message()));
    }
    *out = *d;
    return absl::OkStatus();
  };
  AA_RETURN_IF_ERROR(
      duration(FLAGS_sampling_interval, "sampling-interval", &config.sampling.interval));
  AA_RETURN_IF_ERROR(duration(FLAGS_max_age, "max-age", &config.sampling.max_age));
  AA_RETURN_IF_ERROR(duration(FLAGS_demand_ttl, "demand-ttl", &config.sampling.demand_ttl));
  AA_RETURN_IF_ERROR(
      duration(FLAGS_prometheus_timeout, "prometheus-timeout", &config.prometheus.timeout));
  if (config.sampling.interval < absl::Seconds(1) ||
      config.sampling.max_age < 2 * config.sampling.interval) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling interval must be >= 1s and maxAge >= 2 x interval (got interval ",
                     FormatGoDuration(config.sampling.interval), ", maxAge ",
                     FormatGoDuration(config.sampling.max_age), ")"));
  }
  if (std::string url = absl::GetFlag(FLAGS_prometheus_url); !url.empty()) {
    config.prometheus.url = url;
  }
  if (std::string f = absl::GetFlag(FLAGS_prometheus_bearer_token_file); !f.empty()) {
    config.prometheus.bearer_token_file = f;
  }
  if (std::string f = absl::GetFlag(FLAGS_prometheus_ca_file); !f.empty()) {
    config.prometheus.tls.ca_file = f;
  }
  if (absl::GetFlag(FLAGS_prometheus_insecure_skip_verify)) {
    config.prometheus.tls.insecure_skip_verify = true;
  }
  return absl::OkStatus();
}

// The --grpc-* flags given win over the config's keda section.
absl::Status ApplyGrpcFlagOverrides(config::KedaConfig& grpc) {
  // An explicitly empty --grpc-listen disables the port like "off"; not given: the config's.
  if (std::string f = absl::GetFlag(FLAGS_grpc_listen); !f.empty() || FlagGiven("grpc_listen"))
    grpc.listen = app::ListenerOff(f) ? "" : f;
  if (std::string f = absl::GetFlag(FLAGS_grpc_tls_cert_file); !f.empty()) grpc.tls_cert_file = f;
  if (std::string f = absl::GetFlag(FLAGS_grpc_tls_key_file); !f.empty()) grpc.tls_key_file = f;
  if (std::string f = absl::GetFlag(FLAGS_grpc_client_ca_file); !f.empty()) grpc.client_ca_file = f;
  if (FlagGiven("grpc_client_names")) grpc.client_names = absl::GetFlag(FLAGS_grpc_client_names);
  if (absl::GetFlag(FLAGS_grpc_insecure)) grpc.insecure = true;
  // Limits: a flag given wins over keda.limits.
  for (auto [name, flag, out] :
       {std::tuple<const char*, const absl::Flag<int64_t>*, int64_t*>{
            "grpc_max_streams", &FLAGS_grpc_max_streams, &grpc.max_streams},
        {"grpc_max_streams_per_client", &FLAGS_grpc_max_streams_per_client,
         &grpc.max_streams_per_client},
        {"grpc_max_concurrent_streams", &FLAGS_grpc_max_concurrent_streams,
         &grpc.max_concurrent_streams_per_connection},
        {"grpc_max_receive_message_bytes", &FLAGS_grpc_max_receive_message_bytes,
         &grpc.max_receive_message_bytes},
        {"grpc_max_ping_strikes", &FLAGS_grpc_max_ping_strikes, &grpc.max_ping_strikes}}) {
    if (!FlagGiven(name)) continue;
    const int64_t v = absl::GetFlag(*flag);
    if (v < 1 || v > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("--", absl::StrReplaceAll(name, {{"_", "-"}}),
                                                     "=", v, ": want 1..2147483647"));
    }
    *out = v;
  }
  for (auto [name, flag, out] :
       {std::tuple<const char*, const absl::Flag<std::string>*, absl::Duration*>{
            "grpc_min_ping_interval", &FLAGS_grpc_min_ping_interval, &grpc.min_ping_interval},
        {"grpc_max_connection_idle", &FLAGS_grpc_max_connection_idle, &grpc.max_connection_idle},
        {"grpc_max_connection_age", &FLAGS_grpc_max_connection_age, &grpc.max_connection_age},
        {"grpc_max_connection_age_grace", &FLAGS_grpc_max_connection_age_grace,
         &grpc.max_connection_age_grace},
        {"grpc_handshake_timeout", &FLAGS_grpc_handshake_timeout, &grpc.handshake_timeout}}) {
    if (!FlagGiven(name)) continue;
    absl::StatusOr<absl::Duration> d = ParseGoDuration(absl::GetFlag(*flag));
    if (!d.ok() || *d < absl::Milliseconds(1)) {
      return absl::InvalidArgumentError(absl::StrCat("--", absl::StrReplaceAll(name, {{"_", "-"}}),
                                                     "=", absl::GetFlag(*flag),
                                                     ": want a duration of at least 1ms"));
    }
    *out = *d;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> OnOffFlag(const absl::Flag<std::string>& flag, const char* name) {
  std::string v = absl::GetFlag(flag);
  if (v == "on" || v == "true") return true;
  if (v == "off" || v == "false") return false;
  return absl::InvalidArgumentError(absl::StrCat("--", name, "=", v, ": want on or off"));
}

// A string flag given under two names (ours and prometheus-adapter's): the one given, or
// InvalidArgument when both are, with different values.
absl::StatusOr<std::string> EitherFlag(const absl::Flag<std::string>& ours, const char* our_name,
                                       const absl::Flag<std::string>& theirs,
                                       const char* their_name) {
  const std::string a = absl::GetFlag(ours), b = absl::GetFlag(theirs);
  if (!a.empty() && !b.empty() && a != b) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", our_name, " and --", their_name, " name the same setting; give one"));
  }
  return a.empty() ? b : a;
}

// The Prometheus and discovery settings of prometheus-adapter's flags, over the config file's.
absl::Status ApplyPrometheusAdapterFlags(config::Config& config) {
  prom::ClientOptions& prometheus = config.prometheus;
  const std::string auth_config = absl::GetFlag(FLAGS_prometheus_auth_config);
  if (!auth_config.empty() && absl::GetFlag(FLAGS_prometheus_auth_incluster)) {
    return absl::InvalidArgumentError(
        "--prometheus-auth-config and --prometheus-auth-incluster: give one");
  }
  if (!auth_config.empty()) {
    // Inline credentials of the kubeconfig live here until the process exits.
    static std::unique_ptr<PrivateTempDir> secrets;
    if (!secrets) {
      AA_ASSIGN_OR_RETURN(secrets, PrivateTempDir::Create("autoscale-adapter-prometheus-auth"));
    }
    AA_RETURN_IF_ERROR(app::ApplyPrometheusAuthConfig(auth_config, *secrets, &prometheus));
  } else if (absl::GetFlag(FLAGS_prometheus_auth_incluster)) {
    AA_RETURN_IF_ERROR(app::ApplyInClusterPrometheusAuth({}, &prometheus));
  }
  // Flags win over the kubeconfig, as over the config file.
  if (std::string f = absl::GetFlag(FLAGS_prometheus_ca_file); !f.empty()) {
    prometheus.tls.ca_file = f;
  }
  AA_ASSIGN_OR_RETURN(std::string token_file,
                      EitherFlag(FLAGS_prometheus_bearer_token_file, "prometheus-bearer-token-file",
                                 FLAGS_prometheus_token_file, "prometheus-token-file"));
  if (!token_file.empty()) prometheus.bearer_token_file = token_file;
  if (std::string f = absl::GetFlag(FLAGS_prometheus_client_tls_cert_file); !f.empty()) {
    prometheus.tls.cert_file = f;
  }
  if (std::string f = absl::GetFlag(FLAGS_prometheus_client_tls_key_file); !f.empty()) {
    prometheus.tls.key_file = f;
  }
  AA_ASSIGN_OR_RETURN(auto headers, app::ParsePrometheusHeaders(FlagValues("prometheus_header")));
  for (auto& header : headers) {
    const std::string& name = header.first;
    std::erase_if(prometheus.headers,
                  [&](const auto& h) { return absl::EqualsIgnoreCase(h.first, name); });
    prometheus.headers[name] = header.second;
  }
  if (std::string verb = absl::GetFlag(FLAGS_prometheus_verb); !verb.empty()) {
    if (verb != "GET" && verb != "POST") {
      return absl::InvalidArgumentError(
          absl::StrCat("--prometheus-verb=", verb, ": want GET or POST"));
    }
    prometheus.method = verb;
  }
  for (auto [flag, name, out] :
       {std::tuple<const absl::Flag<std::string>*, const char*, absl::Duration*>{
            &FLAGS_metrics_relist_interval, "metrics-relist-interval", &config.discovery_interval},
        {&FLAGS_metrics_max_age, "metrics-max-age", &config.discovery_max_age}}) {
    const std::string text = absl::GetFlag(*flag);
    if (text.empty()) continue;
    absl::StatusOr<absl::Duration> d = ParseGoDuration(text);
    if (!d.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", d.status().message()));
    }
    *out = *d;
  }
  if (config.discovery_interval < absl::Seconds(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-relist-interval (discovery.interval) must be at least 10s (got ",
                     FormatGoDuration(config.discovery_interval), ")"));
  }
  if (config.discovery_max_age > absl::ZeroDuration() &&
      config.discovery_max_age < config.discovery_interval) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-max-age (", FormatGoDuration(config.discovery_max_age),
                     ") must not be less than --metrics-relist-interval (discovery.interval, ",
                     FormatGoDuration(config.discovery_interval), "), as in prometheus-adapter"));
  }
  return absl::OkStatus();
}

// The serving settings of prometheus-adapter's flags: the HTTPS port, its certificate, the
// kubeconfig; and, under --secure-port, insecure cipher suites left out.
absl::Status ApplyPrometheusAdapterServing(app::AdapterOptions& o) {
  if (FlagGiven("secure_port") || FlagGiven("bind_address")) {
    if (FlagGiven("https_listen")) {
      return absl::InvalidArgumentError(
          "--https-listen and --secure-port/--bind-address set the same port; give one");
    }
    int port = absl::GetFlag(FLAGS_secure_port);
    if (!FlagGiven("secure_port")) {
      AA_ASSIGN_OR_RETURN(auto host_port, net::ParseListenAddress(o.https_listen));
      port = host_port.second;
    }
    AA_ASSIGN_OR_RETURN(o.https_listen,
                        app::SecurePortListen(absl::GetFlag(FLAGS_bind_address), port));
  }
  o.cert_dir = absl::GetFlag(FLAGS_cert_dir);
  AA_ASSIGN_OR_RETURN(o.tls_key_file,
                      EitherFlag(FLAGS_tls_key_file, "tls-key-file", FLAGS_tls_private_key_file,
                                 "tls-private-key-file"));
  // prometheus-adapter's command line (--secure-port) brings its Deployment's list, with nine
  // suites this port never offers: left out with a warning. Elsewhere they stay start errors.
  app::CipherSuites suites = app::DropInsecureCipherSuites(o.tls_cipher_suites);
  if (FlagGiven("secure_port") && !suites.dropped.empty()) {
    LogWarn("--tls-cipher-suites: suites this port never offers left out",
            {{"dropped", absl::StrJoin(suites.dropped, ", ")},
             {"kept", absl::StrJoin(suites.kept, ",")}});
    if (suites.kept.empty()) {
      return absl::InvalidArgumentError(
          "--tls-cipher-suites: no suite left after leaving out the insecure ones; name ECDHE "
          "AES-GCM or CHACHA20-POLY1305 suites, or none for the default");
    }
    o.tls_cipher_suites = suites.kept;
  }
  std::string kubeconfig = o.kubeconfig;
  for (auto [flag, name] :
       {std::pair{&FLAGS_authentication_kubeconfig, "authentication-kubeconfig"},
        {&FLAGS_authorization_kubeconfig, "authorization-kubeconfig"},
        {&FLAGS_lister_kubeconfig, "lister-kubeconfig"}}) {
    const std::string f = absl::GetFlag(*flag);
    if (f.empty()) continue;
    if (!kubeconfig.empty() && kubeconfig != f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, "=", f, ": one kubeconfig serves everything here, and another flag names ",
          kubeconfig,
          " (--kubeconfig, --authentication-kubeconfig, --authorization-kubeconfig "
          "and --lister-kubeconfig must agree)"));
    }
    kubeconfig = f;
  }
  o.kubeconfig = kubeconfig;
  return absl::OkStatus();
}

// Under prometheus-adapter's command line (--secure-port) the KEDA port is off unless something
// configures it: part of the effective config, so a reload compares like with like.
void ApplySecurePortKedaDefault(config::KedaConfig& keda) {
  if (FlagGiven("secure_port") && !FlagGiven("grpc_listen") && !keda.listen.empty() &&
      keda.tls_cert_file.empty() && !keda.insecure) {
    LogInfo(
        "KEDA gRPC port off: --secure-port (prometheus-adapter's command line) and no KEDA "
        "TLS settings; keda.tls, --grpc-tls-cert-file, --grpc-insecure or --grpc-listen turn it "
        "on");
    keda.listen.clear();
  }
}

// A config text with the flags' overrides, validated for a run: what the adapter starts with, and
// what a reload of the file applies (app::AdapterOptions::reload_config).
absl::StatusOr<config::Config> EffectiveConfig(std::string_view text, std::string_view source) {
  AA_ASSIGN_OR_RETURN(config::Config config, config::ParseConfig(text, source));
  AA_RETURN_IF_ERROR(ApplyFlagOverrides(config));
  AA_RETURN_IF_ERROR(ApplyPrometheusAdapterFlags(config));
  AA_RETURN_IF_ERROR(ApplyGrpcFlagOverrides(config.keda));
  ApplySecurePortKedaDefault(config.keda);
  AA_RETURN_IF_ERROR(config::ValidateForRun(config));
  return config;
}

// The config file (or the embedded default) with the flags' overrides, validated for a run.
absl::StatusOr<config::Config> ConfigFromFlags() {
  const std::string config_path = absl::GetFlag(FLAGS_config);
  if (config_path.empty()) {
    return EffectiveConfig(config::EmbeddedDefaultConfig(), "<embedded default>");
  }
  AA_ASSIGN_OR_RETURN(std::string text, config::ReadConfigFile(config_path));
  return EffectiveConfig(text, config_path);
}

// The options the flags describe around `config`; InvalidArgument naming the flag that is wrong.
absl::StatusOr<app::AdapterOptions> OptionsFromFlags(config::Config config) {
  app::AdapterOptions o;
  o.config = std::move(config);
  o.config_file = absl::GetFlag(FLAGS_config);
  if (!o.config_file.empty()) {
    o.reload_config = [path = o.config_file](std::string_view text) {
      return EffectiveConfig(text, path);
    };
  }

  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  o.http_threads = absl::GetFlag(FLAGS_http_threads);
  AA_ASSIGN_OR_RETURN(o.http_limits, HttpLimitsFromFlags());
  o.https_listen = absl::GetFlag(FLAGS_https_listen);
  if (!app::ListenerOff(o.https_listen)) {
    AA_ASSIGN_OR_RETURN(o.authentication, OnOffFlag(FLAGS_authentication, "authentication"));
    AA_ASSIGN_OR_RETURN(o.authorization, OnOffFlag(FLAGS_authorization, "authorization"));
  }
  {
    const double tokens = absl::GetFlag(FLAGS_token_reviews_per_second);
    const double access = absl::GetFlag(FLAGS_access_reviews_per_second);
    const int in_flight = absl::GetFlag(FLAGS_reviews_in_flight);
    if (!(tokens > 0) || !(access > 0) || in_flight < 1) {
      return absl::InvalidArgumentError(
          "--token-reviews-per-second and --access-reviews-per-second must be > 0, "
          "--reviews-in-flight >= 1");
    }
    o.token_review_budget = {.per_second = tokens, .burst = 2 * tokens, .max_in_flight = in_flight};
    o.access_review_budget = {
        .per_second = access, .burst = 2 * access, .max_in_flight = in_flight};
  }
  o.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.tls_san = absl::GetFlag(FLAGS_tls_san);
  o.tls_cipher_suites = absl::GetFlag(FLAGS_tls_cipher_suites);
  o.tls_min_version = absl::GetFlag(FLAGS_tls_min_version);
  o.trust.client_ca_file = absl::GetFlag(FLAGS_client_ca_file);
  o.trust.requestheader_client_ca_file = absl::GetFlag(FLAGS_requestheader_client_ca_file);
  o.trust.requestheader_allowed_names = absl::GetFlag(FLAGS_requestheader_allowed_names);
  o.trust.requestheader_username_headers = absl::GetFlag(FLAGS_requestheader_username_headers);
  o.trust.requestheader_group_headers = absl::GetFlag(FLAGS_requestheader_group_headers);
  o.trust.requestheader_extra_headers_prefix =
      absl::GetFlag(FLAGS_requestheader_extra_headers_prefix);

  o.kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
  o.kube_context = absl::GetFlag(FLAGS_kube_context);
  const std::string pod_source = absl::GetFlag(FLAGS_pod_source);
  std::optional<app::PodSource> source = ValueOf(pod_source, kPodSources);
  if (!source.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pod-source=", pod_source, ": want auto, kubernetes or prometheus"));
  }
  o.pod_source = *source;
  o.pod_watch_namespace = absl::GetFlag(FLAGS_pod_watch_namespace);
  {
    const std::string text = absl::GetFlag(FLAGS_pod_watch_max_staleness);
    auto staleness = ParseGoDuration(text);
    if (!staleness.ok() || *staleness <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--pod-watch-max-staleness=", text, ": ",
                       staleness.ok() ? "must be positive" : staleness.status().message()));
    }
    o.pod_watch_max_staleness = *staleness;
  }

  AA_RETURN_IF_ERROR(ApplyPrometheusAdapterServing(o));
  return o;
}

// Raises the soft limit of open descriptors to the hard one, as Go programs do at start: each
// port's connection cap (and the sockets to Prometheus and the Kubernetes API) must fit under it,
// and a soft limit of 1024 (systemd's default) would fail accept() first.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    LogDebug("open file limit raised", {{"from", static_cast<int64_t>(before)},
                                        {"to", static_cast<int64_t>(limit.rlim_cur)}});
  }
}

// glibc malloc settings, before any thread starts. Measured with bench/memory_bench (10,000 pods x
// 3 metrics, three runs each): together with the parser's smaller retained buffers
// (prometheus/parser.cc) they take the resident size between rounds from 38.8-41.1 to 35.7-35.8 MiB
// (its anonymous part from 16.7-19.1 to 13.7-13.8 MiB) and the peak from 53.5-54.1 to 49.2-51.6.
// - M_ARENA_MAX: glibc gives threads their own arenas, up to 8 per core; the adapter's ~140 threads
//   (HTTP workers, gRPC) each leave a few pages in theirs. As many arenas as cores is enough for
//   threads that run at once.
// - M_MMAP_THRESHOLD: blocks from 128 KiB up (Prometheus answers, their parse buffers, large
//   tables) are mmap'ed and returned to the system when freed. Left to itself glibc raises the
//   threshold to the largest block freed (up to 32 MiB), after which these blocks come from the
//   arena and the holes they leave between live tables stay resident.
void SetMallocOptions() {
  mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
}

int Main(int argc, char** argv) {
  SetMallocOptions();
  // Block the shutdown signals and SIGHUP (reload the config) before any thread starts, so every
  // thread inherits the mask and the main thread receives them with sigwait.
  sigset_t signals = BlockShutdownSignals();
  BlockReloadSignal(&signals);

  // prometheus-adapter's flags that mean nothing here are taken out first, and warned about once
  // logging is set up.
  app::CommandLineWithoutIgnored command_line =
      app::DropIgnoredFlags(std::vector<std::string>(argv, argv + argc), RegisteredFlags());
  std::vector<char*> args;
  for (std::string& a : command_line.args) args.push_back(a.data());
  std::vector<char*> positional = ParseProgramFlags(
      static_cast<int>(args.size()), args.data(),
      "serves Prometheus metrics to Kubernetes autoscalers.\n"
      "Usage: autoscale-adapter [--config FILE] [--prometheus-url URL] [flags]; --helpfull lists "
      "every flag, --version prints the version",
      absl::StrCat("autoscale-adapter version ", ToAbsl(Version()), ", revision ",
                   ToAbsl(Revision()), "\n"));
  std::string log_level = absl::GetFlag(FLAGS_log_level);
  absl::Status verbosity_error;
  if (FlagGiven("v") && !FlagGiven("log_level")) {
    absl::StatusOr<std::string> level = app::LogLevelForVerbosity(absl::GetFlag(FLAGS_v));
    if (level.ok()) log_level = *level;
    verbosity_error = level.status();
  }
  if (auto s = SetLogFormat(absl::GetFlag(FLAGS_log_format)); !s.ok()) return Fail(s);
  if (!verbosity_error.ok()) return Fail(verbosity_error);
  if (auto s = SetLogLevel(log_level); !s.ok()) return Fail(s);
  // The first record says what runs.
  LogInfo("autoscale-adapter", {{"version", Version()}, {"revision", Revision()}});
  if (FlagGiven("v") && !FlagGiven("log_level")) {
    LogInfo("log level from --v",
            {{"v", static_cast<int64_t>(absl::GetFlag(FLAGS_v))}, {"log_level", log_level}});
  }
  for (const app::DroppedFlag& d : command_line.dropped) {
    LogWarn("flag has no effect here", {{"flag", d.flag}, {"instead", d.instead}});
  }
  for (size_t i = 1; i < positional.size(); ++i) {
    // prometheus-adapter's chart passes its program name, /adapter, as the first argument.
    LogWarn("positional argument ignored", {{"arg", std::string(positional[i])}});
  }
  RaiseOpenFileLimit();

  absl::StatusOr<config::Config> config = ConfigFromFlags();
  if (!config.ok()) return Fail(config.status());
  if (absl::GetFlag(FLAGS_check_config)) {
    for (const auto& def : config->metrics) {
      // Per-pod metrics by name; the others (containers/cpu, nodemetrics/memory...) by key.
      std::printf("%s\t%s\n", def.Key().c_str(), def.query.c_str());
      if (!def.baseline_query.empty())
        std::printf("%s (baseline)\t%s\n", def.name.c_str(), def.baseline_query.c_str());
    }
    return 0;
  }

  absl::StatusOr<app::AdapterOptions> options = OptionsFromFlags(*std::move(config));
  if (!options.ok()) return Fail(options.status());
  app::Adapter adapter(*std::move(options));
  if (absl::Status s = adapter.Start(); !s.ok()) return Fail(s);
  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
    LogInfo("SIGHUP: reloading the config file");
    adapter.ReloadConfig();
  }
  LogInfo("shutting down", {{"signal", SignalName(signal)}});
  adapter.Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) { return aa::Main(argc, argv); }
