#include "app/adapter.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apiserver/internal/self_signed.h"
#include "apiserver/server.h"
#include "app/config_reload.h"
#include "auth/kube_backends.h"
#include "auth/secure_serving.h"
#include "auth/serving_tls.h"
#include "auth/tls_policy.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "http/process_metrics.h"
#include "keda/server.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/object_watch.h"
#include "kube/pod_watch.h"
#include "kube/watched_pod_labels.h"
#include "net/server.h"
#include "pipeline/discovery.h"
#include "pipeline/sampler.h"
#include "pipeline/view.h"
#include "prometheus/backends.h"
#include "prometheus/client.h"
#include "prometheus/registry.h"
#include "queryapi/authorization.h"
#include "queryapi/query_api.h"

namespace aa::app {
namespace {}  // namespace

bool ListenerOff(std::string_view listen) { return listen.empty() || listen == "off"; }

// Declared in start order; Stop() stops them in reverse, and destruction runs in reverse too, so
// nothing outlives what it points at.
struct Adapter::Parts {
  std::shared_ptr<prometheus::Registry> registry;
  // Every backend: HTTP clients built from the config, or AdapterOptions' test clients.
  prom::Backends backends;
  std::unique_ptr<kube::Client> kube_client;
  std::unique_ptr<kube::PodWatch> pod_watch;
  std::unique_ptr<kube::WatchedPodLabels> watched_pod_labels;
  std::unique_ptr<pipeline::Sampler> sampler;
  std::unique_ptr<pipeline::Discoverer> discoverer;
  std::unique_ptr<ConfigReloader> reloader;
  http::Readiness readiness;
  // labelSelector on objects other than pods.
  std::unique_ptr<pipeline::ObjectSource> object_source;
  std::unique_ptr<queryapi::QueryApi> query_api;
  std::unique_ptr<net::HttpServer> http_server;
  std::unique_ptr<apiserver::MetricsApi> metrics_api;
  std::unique_ptr<auth::KubeTokenReviewer> token_reviewer;
  std::unique_ptr<auth::KubeAuthorizer> access_reviewer;
  std::unique_ptr<auth::SecureServing> secure;
  std::unique_ptr<auth::AuthConfigMapWatcher> auth_configmap;
  std::unique_ptr<PrivateTempDir> tls_dir;
  std::unique_ptr<auth::ServingCertificate> serving_cert;
  std::unique_ptr<net::HttpServer> https_server;
  std::unique_ptr<keda::Server> grpc_server;
};

Adapter::Adapter(AdapterOptions options) : options_(std::move(options)) {}

Adapter::~Adapter() { Stop(); }

int Adapter::http_port() const {
  return parts_ && parts_->http_server ? parts_->http_server->port() : 0;
}
int Adapter::https_port() const {
  return parts_ && parts_->https_server ? parts_->https_server->port() : 0;
}
int Adapter::grpc_port() const {
  return parts_ && parts_->grpc_server ? parts_->grpc_server->port() : 0;
}

absl::Status Adapter::Start() {
  if (parts_) return absl::FailedPreconditionError("the adapter is running already");
  if (!ListenerOff(options_.https_listen) &&
      options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert-file and --tls-key-file go together");
  }
  if (!ListenerOff(options_.https_listen)) {
    // Refused before anything starts.
    AA_RETURN_IF_ERROR(
        auth::ParseTlsPolicy(options_.tls_cipher_suites, options_.tls_min_version).status());
  }
  parts_ = std::make_unique<Parts>();
  absl::Status s = StartParts();
  if (!s.ok()) {
    Stop();
    return s;
  }
  LogInfo("started", {{"http", parts_->http_server != nullptr},
                      {"https", parts_->https_server != nullptr},
                      {"grpc", parts_->grpc_server != nullptr}});
  return absl::OkStatus();
}

absl::Status Adapter::StartParts() {
  Parts& p = *parts_;
  const config::Config& config = options_.config;
  p.registry = std::make_shared<prometheus::Registry>();
  http::RegisterBuildInfo(*p.registry, Version(), Revision());
  for (prom::ClientOptions client_options : config.BackendOptions()) {
    prom::Client* injected = nullptr;
    if (client_options.name == prom::Backends::kDefault) injected = options_.prometheus;
    if (auto it = options_.prometheus_backends.find(client_options.name);
        injected == nullptr && it != options_.prometheus_backends.end()) {
      injected = it->second;
    }
    if (injected != nullptr) {
      AA_RETURN_IF_ERROR(p.backends.AddUnowned(client_options.name, client_options.url, *injected));
      continue;
    }
    client_options.registry = p.registry.get();
    absl::StatusOr<std::unique_ptr<prom::Client>> client = prom::NewHttpClient(client_options);
    if (!client.ok() && client_options.name != prom::Backends::kDefault) {
      return absl::Status(client.status().code(), absl::StrCat("backend ", client_options.name,
                                                               ": ", client.status().message()));
    }
    if (!client.ok()) return client.status();
    AA_RETURN_IF_ERROR(p.backends.Add(client_options.name, client_options.url,
                                      std::shared_ptr<prom::Client>(*std::move(client))));
  }

  LogInfo("starting", {{"config", config.source},
                       {"metrics", static_cast<int64_t>(config.metrics.size())},
                       {"interval", absl::FormatDuration(config.sampling.interval)},
                       {"max_age", absl::FormatDuration(config.sampling.max_age)}});
  // The Kubernetes API (in a cluster, or with a kubeconfig): the pod watch, and authentication.
  AA_ASSIGN_OR_RETURN(std::optional<kube::ClientConfig> kube_config,
                      kube::ResolveClientConfig(options_.kubeconfig, options_.kube_context));
  if (kube_config.has_value()) {
    AA_ASSIGN_OR_RETURN(p.kube_client, kube::Client::Create(*kube_config, p.registry.get()));
    LogInfo("kubernetes API", {{"server", kube_config->server}, {"config", kube_config->source}});
  }
  if (options_.pod_source == PodSource::kKubernetes && !p.kube_client) {
    return absl::FailedPreconditionError(
        "--pod-source=kubernetes needs the Kubernetes API: run in a cluster or give --kubeconfig");
  }
  const bool pods_from_kubernetes = p.kube_client && options_.pod_source != PodSource::kPrometheus;
  if (pods_from_kubernetes) {
    kube::PodWatchOptions watch_options;
    watch_options.ns = options_.pod_watch_namespace;
    watch_options.max_staleness = options_.pod_watch_max_staleness;
    p.pod_watch = std::make_unique<kube::PodWatch>(*p.kube_client, RealClock::Get(), watch_options);
    p.watched_pod_labels = std::make_unique<kube::WatchedPodLabels>(*p.pod_watch, RealClock::Get());
    LogInfo("pod index: Kubernetes pod watch",
            {{"namespace", watch_options.ns.empty() ? "(all)" : watch_options.ns}});
  } else {
    LogInfo("pod index: kube_pod_labels from Prometheus", {{"enabled", config.pod_labels.enabled}});
  }

  p.sampler =
      std::make_unique<pipeline::Sampler>(config, p.backends, RealClock::Get(), p.registry.get());
  if (p.watched_pod_labels) p.sampler->SetPodLabelSource(p.watched_pod_labels.get());
  if (p.pod_watch) p.pod_watch->Start();
  p.sampler->Start();
  // prometheus-adapter rules: discovery on its own thread (nothing without rules).
  p.discoverer = std::make_unique<pipeline::Discoverer>(*p.sampler, p.backends, RealClock::Get(),
                                                        p.registry.get());
  p.discoverer->Start();
  if (!options_.config_file.empty()) {
    if (!options_.reload_config) {
      return absl::InvalidArgumentError("AdapterOptions: config_file needs reload_config");
    }
    ConfigReloaderOptions reload;
    reload.path = options_.config_file;
    reload.parse = options_.reload_config;
    reload.apply = [this](const config::Config& next) { ApplyConfig(next); };
    reload.check_interval = options_.config_check_interval;
    reload.registry = p.registry.get();
    p.reloader = std::make_unique<ConfigReloader>(std::move(reload));
    p.reloader->Start();
  }

  // /readyz on both servers: Prometheus answered once, and the pod watch (when used) has listed.
  http::AddSamplerCheck(*p.sampler, p.readiness);
  // With several backends, one check each ("prometheus-<name>"), failing alone.
  if (p.backends.size() > 1) http::AddBackendChecks(*p.sampler, p.readiness);
  if (p.pod_watch) {
    kube::PodWatch* watch = p.pod_watch.get();
    p.readiness.Add("pod-watch", [watch] { return watch->SyncStatus(); });
  }
  // labelSelector on objects other than pods: the Kubernetes API when the pods come from it (a
  // metadata-only watch cache per resource asked for, a LIST per request when it cannot answer),
  // else kube-state-metrics' kube_<object>_labels (cached for one sampling interval).
  if (pods_from_kubernetes) {
    kube::ObjectWatchOptions watch;
    watch.max_resources = static_cast<size_t>(config.object_watch.max_resources);
    watch.max_objects = static_cast<size_t>(config.object_watch.max_objects);
    watch.first_list_wait = config.object_watch.first_list_wait;
    watch.max_staleness = config.object_watch.max_staleness;
    watch.list_page_size = static_cast<int>(config.object_watch.list_page_size);
    watch.registry = p.registry.get();
    p.object_source =
        std::make_unique<kube::ObjectWatchCache>(*p.kube_client, RealClock::Get(), watch);
  } else {
    // kube-state-metrics' series, from the backend of its kube_pod_labels.
    prom::Client* kube_state = p.backends.Find(config.pod_labels.backend);
    if (kube_state == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("podLabels.backend: no backend named ", config.pod_labels.backend));
    }
    p.object_source = std::make_unique<pipeline::KubeStateObjectSource>(
        *kube_state, RealClock::Get(), config.sampling.interval);
  }
  // The one read path of the three frontends.
  const pipeline::View view(*p.sampler, p.object_source.get());
  p.query_api =
      std::make_unique<queryapi::QueryApi>(view, *p.registry, RealClock::Get(), &p.readiness);
  if (!ListenerOff(options_.http_listen)) {
    net::HttpServerOptions http_options = options_.http_limits;
    http_options.listen = options_.http_listen;
    http_options.threads = options_.http_threads;
    http_options.registry = p.registry.get();
    http_options.error_response = [](int code, std::string message) {
      return queryapi::ErrorResponse(code, std::move(message));
    };
    // Only /metrics and health: the query API answers on the HTTPS port, with credentials.
    queryapi::QueryApi* query_api = p.query_api.get();
    AA_ASSIGN_OR_RETURN(p.http_server,
                        net::StartHttpServer(http_options, [query_api](const net::HttpRequest& r) {
                          return query_api->HandleOperational(r);
                        }));
  }

  p.metrics_api = std::make_unique<apiserver::MetricsApi>(view, RealClock::Get(), &p.readiness);
  if (!ListenerOff(options_.https_listen)) {
    AA_RETURN_IF_ERROR(StartHttps());
  } else {
    LogInfo("HTTPS port off: neither the Kubernetes metrics APIs nor the query API are served");
  }
  return StartGrpc();
}

// The Kubernetes metrics APIs and the query API on HTTPS, behind authentication and authorization
// (the query API's requests authorized as the metrics API requests that read the same values).
absl::Status Adapter::StartHttps() {
  Parts& p = *parts_;
  AA_ASSIGN_OR_RETURN(auth::TrustConfig trust, auth::BuildTrustConfig(options_.trust, nullptr));
  auth::SecureServingOptions secure_options;
  secure_options.authentication = options_.authentication;
  secure_options.authorization = options_.authorization;
  secure_options.token_review_budget = options_.token_review_budget;
  secure_options.access_review_budget = options_.access_review_budget;
  secure_options.trust = std::move(trust);
  secure_options.clock = &RealClock::Get();
  secure_options.registry = p.registry.get();
  if (p.kube_client) {
    // Bearer tokens through TokenReview, callers through SubjectAccessReview.
    p.token_reviewer = std::make_unique<auth::KubeTokenReviewer>(*p.kube_client);
    p.access_reviewer = std::make_unique<auth::KubeAuthorizer>(*p.kube_client);
    secure_options.token_reviewer = p.token_reviewer.get();
    secure_options.authorizer = p.access_reviewer.get();
  }
  AA_ASSIGN_OR_RETURN(p.secure, auth::SecureServing::Create(secure_options));
  if (p.kube_client && options_.authentication && !auth::FlagsCoverEverything(options_.trust)) {
    // The CAs the flags leave open come from kube-system/extension-apiserver-authentication,
    // followed while running. A failed first read is logged and retried in the background.
    p.auth_configmap = std::make_unique<auth::AuthConfigMapWatcher>(*p.kube_client, options_.trust,
                                                                    p.secure->trust());
    (void)p.auth_configmap->Start();
  }

  net::HttpServerOptions https_options = options_.http_limits;
  https_options.listen = options_.https_listen;
  https_options.name = "https";
  https_options.threads = options_.http_threads;
  https_options.registry = p.registry.get();
  // What the server refuses by itself (oversized URI or headers) is a metav1.Status too.
  https_options.error_response = apiserver::StatusResponse;
  std::string cert_file = options_.tls_cert_file;
  std::string key_file = options_.tls_key_file;
  if (cert_file.empty()) {
    std::vector<std::string> sans = {"localhost", "127.0.0.1"};
    for (const std::string& san : options_.tls_san) {
      if (!san.empty()) sans.push_back(san);
    }
    if (options_.cert_dir.empty()) {
      AA_ASSIGN_OR_RETURN(p.tls_dir, PrivateTempDir::Create("autoscale-adapter-tls"));
    }
    const std::string dir = options_.cert_dir.empty() ? p.tls_dir->path() : options_.cert_dir;
    const std::string pair = options_.cert_dir.empty() ? "tls" : "apiserver";
    cert_file = absl::StrCat(dir, "/", pair, ".crt");
    key_file = absl::StrCat(dir, "/", pair, ".key");
    if (!options_.cert_dir.empty() && access(cert_file.c_str(), F_OK) == 0 &&
        access(key_file.c_str(), F_OK) == 0) {
      LogInfo("serving the certificate of --cert-dir", {{"cert", cert_file}});
    } else {
      // Created with its parents, as Kubernetes does; the directory itself private.
      for (size_t slash = dir.find('/', 1); !options_.cert_dir.empty();
           slash = dir.find('/', slash + 1)) {
        const bool last = slash == std::string::npos;
        const std::string part = last ? dir : dir.substr(0, slash);
        if (mkdir(part.c_str(), last ? 0700 : 0755) != 0 && errno != EEXIST) {
          return absl::InvalidArgumentError(absl::StrCat("--cert-dir ", dir, ": cannot create ",
                                                         part, ": ", std::strerror(errno)));
        }
        if (last) break;
      }
      AA_ASSIGN_OR_RETURN(apiserver::CertificateFiles files,
                          apiserver::WriteSelfSignedCertificate(dir, sans, absl::Now(), pair));
      LogInfo("generated a self-signed serving certificate",
              {{"cert", files.cert_file}, {"sans", absl::StrJoin(sans, ",")}});
    }
  }
  // Reloaded when the files change (checked at most once a second, on new handshakes).
  AA_ASSIGN_OR_RETURN(p.serving_cert,
                      auth::ServingCertificate::Load(cert_file, key_file, RealClock::Get()));
  auth::ServingCertificate* serving_cert = p.serving_cert.get();
  AA_ASSIGN_OR_RETURN(auth::TlsPolicy tls_policy,
                      auth::ParseTlsPolicy(options_.tls_cipher_suites, options_.tls_min_version));
  LogInfo("HTTPS TLS policy",
          {{"min_version",
            options_.tls_min_version.empty() ? "VersionTLS12" : options_.tls_min_version},
           {"cipher_suites", absl::StrJoin(tls_policy.names, ",")}});
  https_options.tls_setup = [serving_cert, tls_policy](ssl_ctx_st* ctx) -> absl::Status {
    AA_RETURN_IF_ERROR(serving_cert->ConfigureContext(ctx));
    return auth::ApplyTlsPolicy(tls_policy, ctx);
  };
  apiserver::MetricsApi* metrics_api = p.metrics_api.get();
  queryapi::QueryApi* query_api = p.query_api.get();
  net::HttpHandler kube_apis =
      p.secure->Wrap([metrics_api](const net::HttpRequest& r) { return metrics_api->Handle(r); });
  net::HttpHandler query_apis =
      p.secure->Wrap([query_api](const net::HttpRequest& r) { return query_api->Handle(r); },
                     queryapi::AuthorizationAttributes);
  AA_ASSIGN_OR_RETURN(
      p.https_server,
      net::StartHttpServer(https_options, [kube_apis, query_apis](const net::HttpRequest& r) {
        return queryapi::ParseQueryPath(r.path).has_value() ? query_apis(r) : kube_apis(r);
      }));
  return absl::OkStatus();
}

// The KEDA external scaler on gRPC.
absl::Status Adapter::StartGrpc() {
  Parts& p = *parts_;
  const config::KedaConfig& grpc = options_.config.keda;
  if (grpc.listen.empty()) return absl::OkStatus();
  keda::ServerOptions grpc_options;
  grpc_options.listen_address = grpc.listen.front() == ':' ? "0.0.0.0" + grpc.listen : grpc.listen;
  grpc_options.tls_cert_file = grpc.tls_cert_file;
  grpc_options.tls_key_file = grpc.tls_key_file;
  grpc_options.client_ca_file = grpc.client_ca_file;
  grpc_options.client_names = grpc.client_names;
  grpc_options.allow_plaintext = grpc.insecure;
  grpc_options.max_streams = static_cast<size_t>(grpc.max_streams);
  grpc_options.max_streams_per_client = static_cast<size_t>(grpc.max_streams_per_client);
  grpc_options.max_concurrent_streams_per_connection =
      static_cast<int>(grpc.max_concurrent_streams_per_connection);
  grpc_options.max_receive_message_bytes = static_cast<int>(grpc.max_receive_message_bytes);
  grpc_options.min_ping_interval = grpc.min_ping_interval;
  grpc_options.max_ping_strikes = static_cast<int>(grpc.max_ping_strikes);
  grpc_options.max_connection_idle = grpc.max_connection_idle;
  grpc_options.max_connection_age = grpc.max_connection_age;
  grpc_options.max_connection_age_grace = grpc.max_connection_age_grace;
  grpc_options.handshake_timeout = grpc.handshake_timeout;
  grpc_options.registry = p.registry.get();
  AA_ASSIGN_OR_RETURN(
      p.grpc_server,
      keda::Server::Start(grpc_options, pipeline::View(*p.sampler, p.object_source.get())));
  return absl::OkStatus();
}

bool Adapter::ReloadConfig() {
  if (!parts_ || !parts_->reloader) {
    LogWarn("config reload: nothing to reload (no --config file)");
    return false;
  }
  return parts_->reloader->Check() == ConfigReloader::Outcome::kApplied;
}

void Adapter::ApplyConfig(const config::Config& next) {
  Parts& p = *parts_;
  std::vector<std::string> restart = RestartOnlyChanges(options_.config, next);
  if (!restart.empty()) {
    LogWarn("config reload: changed fields that need a restart keep their running values",
            {{"fields", absl::StrJoin(restart, ",")}});
  }
  p.sampler->Reload(next);
  p.discoverer->Reload(next);
}

void Adapter::Stop() {
  if (!parts_) return;
  Parts& p = *parts_;
  if (p.reloader) p.reloader->Stop();  // first: it changes the sampler and discovery
  if (p.grpc_server) p.grpc_server->Shutdown(absl::Seconds(5));
  if (p.https_server) p.https_server->Stop();
  if (p.auth_configmap) p.auth_configmap->Stop();
  if (p.http_server) p.http_server->Stop();
  if (p.discoverer) p.discoverer->Stop();
  if (p.sampler) p.sampler->Stop();
  if (p.pod_watch) p.pod_watch->Stop();
  parts_.reset();
}

}  // namespace aa::app
