// autoscale-adapter: serves Prometheus metrics to Kubernetes autoscalers (HPA and KEDA) from one
// pipeline.

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apiserver/internal/self_signed.h"
#include "apiserver/server.h"
#include "app/flags.h"
#include "auth/kube_backends.h"
#include "auth/secure_serving.h"
#include "auth/serving_tls.h"
#include "auth/trust_config.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/version.h"
#include "config/config.h"
#include "http/process_metrics.h"
#include "http/query_api.h"
#include "http/server.h"
#include "keda/server.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/object_list.h"
#include "kube/pod_watch.h"
#include "kube/watched_pod_labels.h"
#include "pipeline/discovery.h"
#include "pipeline/sampler.h"
#include "prometheus/client.h"
#include "prometheus/registry.h"

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
          "Address of the plain-HTTP port (query API, /metrics, health); host:port, port 0 picks a "
          "free one, \"off\" or \"\" disables it");
ABSL_FLAG(int, http_threads, 64, "Worker threads of the plain-HTTP port");
ABSL_FLAG(std::string, grpc_listen, "",
          "KEDA external scaler gRPC address, host:port (port 0 picks a free one), \"off\" or \"\" "
          "disables it; not given: keda.listen from the config (:9500)");
ABSL_FLAG(std::string, grpc_tls_cert_file, "",
          "PEM certificate chain for the gRPC port (TLS); overrides keda.tls");
ABSL_FLAG(std::string, grpc_tls_key_file, "", "PEM private key of --grpc-tls-cert-file");
ABSL_FLAG(std::string, grpc_client_ca_file, "",
          "PEM CA bundle for client certificates on the gRPC port: mutual TLS (needs TLS)");
ABSL_FLAG(std::string, https_listen, ":6443",
          "Address of the HTTPS port serving the Kubernetes metrics APIs (custom, external, "
          "metrics.k8s.io); host:port, port 0 picks a free one, \"off\" or \"\" disables it");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain of the HTTPS port; empty: a self-signed certificate is generated "
          "at start (ECDSA P-256; SANs localhost, 127.0.0.1 and --tls-san)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls-cert-file");
ABSL_FLAG(std::vector<std::string>, tls_san, {},
          "Extra subjectAltNames of the generated self-signed certificate (comma-separated DNS "
          "names or IPs, e.g. the Service's DNS name)");
ABSL_FLAG(std::string, authentication, "on",
          "on: the Kubernetes API port asks every caller for credentials (front-proxy or client "
          "certificate, bearer token via TokenReview) and answers 401 without; off: no "
          "credentials needed (local use only, logged as a warning)");
ABSL_FLAG(std::string, authorization, "on",
          "on: callers are authorized with SubjectAccessReview (needs the Kubernetes API); off: "
          "every authenticated caller may read everything (local use only, logged as a warning)");
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
ABSL_FLAG(bool, check_config, false,
          "Validate the config, print the effective metric queries and exit");
ABSL_FLAG(std::string, log_level, "info", "Log level: debug, info, warn, error");
ABSL_FLAG(std::string, log_format, "json", "Log format: json (one object a line) or logfmt");

namespace aa {
namespace {

// An explicitly empty listen address disables the listener, as "off" does.
bool ListenerOff(const std::string& listen) { return listen.empty() || listen == "off"; }

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
      config.sampling.max_age < config.sampling.interval) {
    return absl::InvalidArgumentError("sampling interval must be >= 1s and maxAge >= interval");
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

absl::StatusOr<bool> OnOffFlag(const absl::Flag<std::string>& flag, const char* name) {
  std::string v = absl::GetFlag(flag);
  if (v == "on" || v == "true") return true;
  if (v == "off" || v == "false") return false;
  return absl::InvalidArgumentError(absl::StrCat("--", name, "=", v, ": want on or off"));
}

// A temporary directory removed (with the files in it) when this goes out of scope.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/autoscale-adapter-tls.XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a temporary directory ", pattern));
    }
    return std::unique_ptr<TempDir>(new TempDir(pattern));
  }
  ~TempDir() {
    for (const char* f : {"/tls.crt", "/tls.key"}) unlink((path_ + f).c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

int Main(int argc, char** argv) {
  // Block the shutdown signals before any thread starts, so every thread inherits the mask and the
  // main thread receives them with sigwait.
  const sigset_t signals = BlockShutdownSignals();

  ParseProgramFlags(
      argc, argv,
      "serves Prometheus metrics to Kubernetes autoscalers.\n"
      "Usage: autoscale-adapter [--config FILE] [--prometheus-url URL] [flags]; --helpfull lists "
      "every flag, --version prints the version",
      absl::StrCat("autoscale-adapter version ", ToAbsl(Version()), ", revision ",
                   ToAbsl(Revision()), "\n"));
  if (auto s = SetLogLevel(absl::GetFlag(FLAGS_log_level)); !s.ok()) return Fail(s);
  if (auto s = SetLogFormat(absl::GetFlag(FLAGS_log_format)); !s.ok()) return Fail(s);
  // The first record says what runs.
  LogInfo("autoscale-adapter", {{"version", Version()}, {"revision", Revision()}});

  const std::string config_path = absl::GetFlag(FLAGS_config);
  auto config = config_path.empty()
                    ? config::ParseConfig(config::EmbeddedDefaultConfig(), "<embedded default>")
                    : config::LoadConfigFile(config_path);
  if (!config.ok()) return Fail(config.status());
  if (auto s = ApplyFlagOverrides(*config); !s.ok()) return Fail(s);
  if (auto s = config::ValidateForRun(*config); !s.ok()) return Fail(s);

  if (absl::GetFlag(FLAGS_check_config)) {
    for (const auto& def : config->metrics) {
      // Per-pod metrics by name; the others (containers/cpu, nodemetrics/memory...) by key.
      std::printf("%s\t%s\n", def.Key().c_str(), def.query.c_str());
      if (!def.baseline_query.empty())
        std::printf("%s (baseline)\t%s\n", def.name.c_str(), def.baseline_query.c_str());
    }
    return 0;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  http::RegisterBuildInfo(*registry, Version(), Revision());
  prom::ClientOptions client_options = config->prometheus;
  client_options.registry = registry.get();
  auto client = prom::NewHttpClient(client_options);
  if (!client.ok()) return Fail(client.status());

  LogInfo("starting", {{"config", config->source},
                       {"metrics", static_cast<int64_t>(config->metrics.size())},
                       {"interval", absl::FormatDuration(config->sampling.interval)},
                       {"max_age", absl::FormatDuration(config->sampling.max_age)}});
  // The Kubernetes API (in a cluster, or with --kubeconfig): the pod watch, and authentication.
  auto kube_config =
      kube::ResolveClientConfig(absl::GetFlag(FLAGS_kubeconfig), absl::GetFlag(FLAGS_kube_context));
  if (!kube_config.ok()) return Fail(kube_config.status());
  std::unique_ptr<kube::Client> kube_client;
  if (kube_config->has_value()) {
    auto created = kube::Client::Create(**kube_config);
    if (!created.ok()) return Fail(created.status());
    kube_client = *std::move(created);
    LogInfo("kubernetes API",
            {{"server", (*kube_config)->server}, {"config", (*kube_config)->source}});
  }
  const std::string pod_source = absl::GetFlag(FLAGS_pod_source);
  if (pod_source != "auto" && pod_source != "kubernetes" && pod_source != "prometheus") {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--pod-source=", pod_source, ": want auto, kubernetes or prometheus")));
  }
  if (pod_source == "kubernetes" && !kube_client) {
    return Fail(absl::FailedPreconditionError(
        "--pod-source=kubernetes needs the Kubernetes API: run in a cluster or give --kubeconfig"));
  }
  std::unique_ptr<kube::PodWatch> pod_watch;
  std::unique_ptr<kube::WatchedPodLabels> watched_pod_labels;
  if (kube_client && pod_source != "prometheus") {
    kube::PodWatchOptions watch_options;
    watch_options.ns = absl::GetFlag(FLAGS_pod_watch_namespace);
    pod_watch = std::make_unique<kube::PodWatch>(*kube_client, RealClock::Get(), watch_options);
    watched_pod_labels = std::make_unique<kube::WatchedPodLabels>(*pod_watch, RealClock::Get());
    LogInfo("pod index: Kubernetes pod watch",
            {{"namespace", watch_options.ns.empty() ? "(all)" : watch_options.ns}});
  } else {
    LogInfo("pod index: kube_pod_labels from Prometheus",
            {{"enabled", config->pod_labels.enabled}});
  }

  pipeline::Sampler sampler(*config, **client, RealClock::Get(), registry.get());
  if (watched_pod_labels) sampler.SetPodLabelSource(watched_pod_labels.get());
  if (pod_watch) pod_watch->Start();
  sampler.Start();
  // prometheus-adapter rules: discovery on its own thread (nothing without rules).
  pipeline::Discoverer discoverer(sampler, **client, RealClock::Get());
  discoverer.Start();

  // /readyz on both servers: Prometheus answered once, and the pod watch (when used) has listed.
  http::Readiness readiness;
  http::AddSamplerCheck(sampler, readiness);
  if (pod_watch) readiness.Add("pod-watch", [&pod_watch] { return pod_watch->SyncStatus(); });
  http::QueryApi query_api(sampler, *registry, RealClock::Get(), &readiness);
  std::unique_ptr<http::HttpServer> http_server;
  if (std::string listen = absl::GetFlag(FLAGS_http_listen); !ListenerOff(listen)) {
    http::HttpServerOptions http_options;
    http_options.listen = listen;
    http_options.threads = absl::GetFlag(FLAGS_http_threads);
    http_options.registry = registry.get();
    http_options.error_response = [](int code, std::string message) {
      return http::ErrorResponse(code, std::move(message));
    };
    auto started = http::StartHttpServer(
        http_options, [&query_api](const http::HttpRequest& r) { return query_api.Handle(r); });
    if (!started.ok()) return Fail(started.status());
    http_server = *std::move(started);
  }

  // The Kubernetes metrics APIs on HTTPS.
  std::unique_ptr<TempDir> tls_dir;
  std::unique_ptr<http::HttpServer> https_server;
  std::unique_ptr<auth::ServingCertificate> serving_cert;
  std::unique_ptr<auth::SecureServing> secure;
  std::unique_ptr<auth::KubeTokenReviewer> token_reviewer;
  std::unique_ptr<auth::KubeAuthorizer> access_reviewer;
  std::unique_ptr<auth::AuthConfigMapWatcher> auth_configmap;
  // labelSelector on objects other than pods: the Kubernetes API when the pods come from it, else
  // kube-state-metrics' kube_<object>_labels (cached for one sampling interval).
  std::unique_ptr<pipeline::ObjectSource> object_source;
  if (kube_client && pod_source != "prometheus") {
    object_source = std::make_unique<kube::ApiObjectLister>(*kube_client, RealClock::Get());
  } else {
    object_source = std::make_unique<pipeline::KubeStateObjectSource>(**client, RealClock::Get(),
                                                                      config->sampling.interval);
  }
  apiserver::MetricsApi metrics_api(sampler, RealClock::Get(), object_source.get(), &readiness);
  if (std::string listen = absl::GetFlag(FLAGS_https_listen); !ListenerOff(listen)) {
    auto authentication = OnOffFlag(FLAGS_authentication, "authentication");
    if (!authentication.ok()) return Fail(authentication.status());
    auto authorization = OnOffFlag(FLAGS_authorization, "authorization");
    if (!authorization.ok()) return Fail(authorization.status());
    auth::TrustFlags trust_flags;
    trust_flags.client_ca_file = absl::GetFlag(FLAGS_client_ca_file);
    trust_flags.requestheader_client_ca_file = absl::GetFlag(FLAGS_requestheader_client_ca_file);
    trust_flags.requestheader_allowed_names = absl::GetFlag(FLAGS_requestheader_allowed_names);
    trust_flags.requestheader_username_headers =
        absl::GetFlag(FLAGS_requestheader_username_headers);
    trust_flags.requestheader_group_headers = absl::GetFlag(FLAGS_requestheader_group_headers);
    trust_flags.requestheader_extra_headers_prefix =
        absl::GetFlag(FLAGS_requestheader_extra_headers_prefix);
    auto trust = auth::BuildTrustConfig(trust_flags, nullptr);
    if (!trust.ok()) return Fail(trust.status());
    auth::SecureServingOptions secure_options;
    secure_options.authentication = *authentication;
    secure_options.authorization = *authorization;
    secure_options.trust = *trust;
    secure_options.clock = &RealClock::Get();
    secure_options.registry = registry.get();
    if (kube_client) {
      // Bearer tokens through TokenReview, callers through SubjectAccessReview.
      token_reviewer = std::make_unique<auth::KubeTokenReviewer>(*kube_client);
      access_reviewer = std::make_unique<auth::KubeAuthorizer>(*kube_client);
      secure_options.token_reviewer = token_reviewer.get();
      secure_options.authorizer = access_reviewer.get();
    }
    auto created = auth::SecureServing::Create(secure_options);
    if (!created.ok()) return Fail(created.status());
    secure = *std::move(created);
    if (kube_client && *authentication && !auth::FlagsCoverEverything(trust_flags)) {
      // The CAs the flags leave open come from kube-system/extension-apiserver-authentication,
      // followed while running. A failed first read is logged and retried in the background.
      auth_configmap =
          std::make_unique<auth::AuthConfigMapWatcher>(*kube_client, trust_flags, secure->trust());
      (void)auth_configmap->Start();
    }

    http::HttpServerOptions https_options;
    https_options.listen = listen;
    https_options.name = "https";
    https_options.threads = absl::GetFlag(FLAGS_http_threads);
    https_options.registry = registry.get();
    // What the server refuses by itself (oversized URI or headers) is a metav1.Status too.
    https_options.error_response = apiserver::StatusResponse;
    std::string cert_file = absl::GetFlag(FLAGS_tls_cert_file);
    std::string key_file = absl::GetFlag(FLAGS_tls_key_file);
    if (cert_file.empty() != key_file.empty()) {
      return Fail(absl::InvalidArgumentError("--tls-cert-file and --tls-key-file go together"));
    }
    if (cert_file.empty()) {
      auto dir = TempDir::Create();
      if (!dir.ok()) return Fail(dir.status());
      tls_dir = *std::move(dir);
      std::vector<std::string> sans = {"localhost", "127.0.0.1"};
      for (const std::string& san : absl::GetFlag(FLAGS_tls_san)) {
        if (!san.empty()) sans.push_back(san);
      }
      auto files = apiserver::WriteSelfSignedCertificate(tls_dir->path(), sans, absl::Now());
      if (!files.ok()) return Fail(files.status());
      cert_file = files->cert_file;
      key_file = files->key_file;
      LogInfo("generated a self-signed serving certificate",
              {{"cert", files->cert_file}, {"sans", absl::StrJoin(sans, ",")}});
    }
    // Reloaded when the files change (checked at most once a second, on new handshakes).
    auto loaded = auth::ServingCertificate::Load(cert_file, key_file, RealClock::Get());
    if (!loaded.ok()) return Fail(loaded.status());
    serving_cert = *std::move(loaded);
    https_options.tls_setup = [&serving_cert](ssl_ctx_st* ctx) {
      return serving_cert->ConfigureContext(ctx);
    };
    auto started = http::StartHttpServer(
        https_options,
        secure->Wrap([&metrics_api](const http::HttpRequest& r) { return metrics_api.Handle(r); }));
    if (!started.ok()) return Fail(started.status());
    https_server = *std::move(started);
  }

  std::unique_ptr<keda::Server> grpc_server;
  config::KedaConfig grpc = config->keda;
  // An explicitly empty --grpc-listen disables the port like "off"; not given: the config's.
  if (std::string f = absl::GetFlag(FLAGS_grpc_listen); !f.empty() || FlagGiven("grpc_listen"))
    grpc.listen = ListenerOff(f) ? "" : f;
  if (std::string f = absl::GetFlag(FLAGS_grpc_tls_cert_file); !f.empty()) grpc.tls_cert_file = f;
  if (std::string f = absl::GetFlag(FLAGS_grpc_tls_key_file); !f.empty()) grpc.tls_key_file = f;
  if (std::string f = absl::GetFlag(FLAGS_grpc_client_ca_file); !f.empty()) grpc.client_ca_file = f;
  if (!grpc.listen.empty()) {
    keda::ServerOptions grpc_options;
    grpc_options.listen_address =
        grpc.listen.front() == ':' ? "0.0.0.0" + grpc.listen : grpc.listen;
    grpc_options.tls_cert_file = grpc.tls_cert_file;
    grpc_options.tls_key_file = grpc.tls_key_file;
    grpc_options.client_ca_file = grpc.client_ca_file;
    grpc_options.registry = registry.get();
    auto started = keda::Server::Start(grpc_options, sampler);
    if (!started.ok()) return Fail(started.status());
    grpc_server = *std::move(started);
  }

  LogInfo("started", {{"http", http_server != nullptr},
                      {"https", https_server != nullptr},
                      {"grpc", grpc_server != nullptr}});
  int signal = 0;
  sigwait(&signals, &signal);
  LogInfo("shutting down", {{"signal", SignalName(signal)}});
  if (grpc_server) grpc_server->Shutdown(absl::Seconds(5));
  if (https_server) https_server->Stop();
  if (auth_configmap) auth_configmap->Stop();
  if (http_server) http_server->Stop();
  discoverer.Stop();
  sampler.Stop();
  if (pod_watch) pod_watch->Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) { return aa::Main(argc, argv); }
