#include "app/config_reload.h"

#include <sys/stat.h>

#include <functional>
#include <utility>

#include "common/log.h"
#include "common/metric_families.h"
#include "config/error_location.h"

namespace aa::app {

std::vector<std::string> RestartOnlyChanges(const config::Config& running,
                                            const config::Config& next) {
  std::vector<std::string> out;
  auto check = [&out](const char* field, bool same) {
    if (!same) out.emplace_back(field);
  };
  // One backend's client options (`prefix` names it: "prometheus" or "backends.<name>").
  auto check_backend = [&](const std::string& prefix, const prom::ClientOptions& p,
                           const prom::ClientOptions& q) {
    auto field = [&](const char* name, bool same) {
      if (!same) out.push_back(prefix + "." + name);
    };
    field("url", p.url == q.url);
    field("headers", p.headers == q.headers);
    field("bearerTokenFile", p.bearer_token_file == q.bearer_token_file);
    field("basicAuth", p.basic_auth_username == q.basic_auth_username &&
                           p.basic_auth_password == q.basic_auth_password &&
                           p.basic_auth_password_file == q.basic_auth_password_file);
    field("tls.caFile", p.tls.ca_file == q.tls.ca_file);
    field("tls.certFile", p.tls.cert_file == q.tls.cert_file);
    field("tls.keyFile", p.tls.key_file == q.tls.key_file);
    field("tls.serverName", p.tls.server_name == q.tls.server_name);
    field("tls.insecureSkipVerify", p.tls.insecure_skip_verify == q.tls.insecure_skip_verify);
    field("timeout", p.timeout == q.timeout);
    field("maxRetries", p.max_retries == q.max_retries);
    field("retryBackoff", p.retry_backoff == q.retry_backoff);
    field("method", p.method == q.method);
    field("postThresholdBytes", p.post_threshold_bytes == q.post_threshold_bytes);
    field("maxResponseBytes", p.max_response_bytes == q.max_response_bytes);
    field("acceptWarnings", p.accept_warnings == q.accept_warnings);
  };
  check_backend("prometheus", running.prometheus, next.prometheus);
  // The registry of backends is built at start: a backend added or removed needs a restart.
  bool same_names = running.backends.size() == next.backends.size();
  for (size_t i = 0; same_names && i < running.backends.size(); ++i) {
    same_names = running.backends[i].options.name == next.backends[i].options.name;
  }
  check("backends", same_names);
  if (same_names) {
    for (size_t i = 0; i < running.backends.size(); ++i) {
      check_backend("backends." + running.backends[i].options.name, running.backends[i].options,
                    next.backends[i].options);
    }
  }

  const config::SamplingConfig& s = running.sampling;
  const config::SamplingConfig& t = next.sampling;
  check("sampling.waitForFirstSample", s.wait_for_first_sample == t.wait_for_first_sample);
  check("sampling.warmNamespaces", s.warm_namespaces == t.warm_namespaces);
  check("sampling.checkNamespaces", s.check_namespaces == t.check_namespaces);
  check("sampling.namespaceCheckInterval",
        s.namespace_check_interval == t.namespace_check_interval);
  check("sampling.maxNamespaces", s.max_namespaces == t.max_namespaces);
  check("sampling.newNamespacesPerSecond",
        s.new_namespaces_per_second == t.new_namespaces_per_second);
  check("sampling.newNamespaceBurst", s.new_namespace_burst == t.new_namespace_burst);
  check("sampling.maxNamespacesPerQuery", s.max_namespaces_per_query == t.max_namespaces_per_query);
  check("sampling.maxMatcherBytes", s.max_matcher_bytes == t.max_matcher_bytes);
  check("sampling.wholeClusterPercent", s.whole_cluster_percent == t.whole_cluster_percent);
  check("sampling.maxConcurrentQueries", s.max_concurrent_queries == t.max_concurrent_queries);
  check("podLabels.enabled", running.pod_labels.enabled == next.pod_labels.enabled);
  check("podLabels.query", running.pod_labels.query == next.pod_labels.query);
  check("podLabels.backend", running.pod_labels.backend == next.pod_labels.backend);
  check("discovery.interval", running.discovery_interval == next.discovery_interval);
  const config::ObjectWatchConfig& w = running.object_watch;
  const config::ObjectWatchConfig& x = next.object_watch;
  check("objectWatch.maxResources", w.max_resources == x.max_resources);
  check("objectWatch.maxObjects", w.max_objects == x.max_objects);
  check("objectWatch.firstListWait", w.first_list_wait == x.first_list_wait);
  check("objectWatch.maxStaleness", w.max_staleness == x.max_staleness);
  check("objectWatch.listPageSize", w.list_page_size == x.list_page_size);

  const config::KedaConfig& k = running.keda;
  const config::KedaConfig& l = next.keda;
  check("keda.listen", k.listen == l.listen);
  check("keda.insecure", k.insecure == l.insecure);
  check("keda.tls.certFile", k.tls_cert_file == l.tls_cert_file);
  check("keda.tls.keyFile", k.tls_key_file == l.tls_key_file);
  check("keda.tls.clientCAFile", k.client_ca_file == l.client_ca_file);
  check("keda.tls.clientNames", k.client_names == l.client_names);
  check("keda.limits.maxStreams", k.max_streams == l.max_streams);
  check("keda.limits.maxStreamsPerClient", k.max_streams_per_client == l.max_streams_per_client);
  check("keda.limits.maxConcurrentStreamsPerConnection",
        k.max_concurrent_streams_per_connection == l.max_concurrent_streams_per_connection);
  check("keda.limits.maxReceiveMessageBytes",
        k.max_receive_message_bytes == l.max_receive_message_bytes);
  check("keda.limits.minPingInterval", k.min_ping_interval == l.min_ping_interval);
  check("keda.limits.maxPingStrikes", k.max_ping_strikes == l.max_ping_strikes);
  check("keda.limits.maxConnectionIdle", k.max_connection_idle == l.max_connection_idle);
  check("keda.limits.maxConnectionAge", k.max_connection_age == l.max_connection_age);
  check("keda.limits.maxConnectionAgeGrace",
        k.max_connection_age_grace == l.max_connection_age_grace);
  check("keda.limits.handshakeTimeout", k.handshake_timeout == l.handshake_timeout);
  check("keda.adhocQueries.enabled", k.adhoc_queries.enabled == l.adhoc_queries.enabled);
  check("keda.adhocQueries.max", k.adhoc_queries.max == l.adhoc_queries.max);
  check("keda.adhocQueries.allowlist", k.adhoc_queries.allowlist == l.adhoc_queries.allowlist);
  return out;
}

ConfigReloader::ConfigReloader(ConfigReloaderOptions options) : options_(std::move(options)) {
  if (options_.registry != nullptr) {
    prometheus::Registry& r = *options_.registry;
    successful_ = &GaugeFamily(r, "autoscale_adapter_config_last_reload_successful",
                               "Whether the last configuration reload attempt succeeded (1) or "
                               "failed (0: the previous configuration keeps serving).")
                       .Add({});
    success_time_ =
        &GaugeFamily(r, "autoscale_adapter_config_last_reload_success_timestamp_seconds",
                     "Unix time of the last successful configuration load (the start "
                     "counts as one).")
             .Add({});
    auto& reloads = CounterFamily(r, "autoscale_adapter_config_reloads_total",
                                  "Configuration reloads of a changed file, by outcome.");
    successes_ = &reloads.Add({{"outcome", "success"}});
    failures_ = &reloads.Add({{"outcome", "failure"}});
    successful_->Set(1);
    success_time_->Set(absl::ToDoubleSeconds(options_.clock->Now() - absl::UnixEpoch()));
  }
  absl::MutexLock lock(&check_mu_);
  seen_ = Stat();
  if (absl::StatusOr<std::string> text = config::ReadConfigFile(options_.path); text.ok()) {
    hash_ = std::hash<std::string>{}(*text);
    have_hash_ = true;
  }
}

ConfigReloader::~ConfigReloader() { Stop(); }

void ConfigReloader::Start() {
  if (options_.check_interval <= absl::ZeroDuration() || thread_.joinable()) return;
  thread_ = std::thread([this] {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.check_interval)) {
      mu_.Unlock();
      Poll();
      mu_.Lock();
    }
  });
}

void ConfigReloader::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

ConfigReloader::FileId ConfigReloader::Stat() const {
  struct stat st {};
  FileId id;
  if (stat(options_.path.c_str(), &st) != 0) return id;
  id.ok = true;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return id;
}

ConfigReloader::Outcome ConfigReloader::CheckFile(bool force) {
  absl::MutexLock lock(&check_mu_);
  const FileId id = Stat();
  if (!force && id == seen_) return Outcome::kUnchanged;
  seen_ = id;
  absl::StatusOr<std::string> text = config::ReadConfigFile(options_.path);
  if (!text.ok()) {
    // Logged once per error (a deleted file would otherwise log every check).
    if (force || text.status() != read_error_) Failed(text.status(), "");
    read_error_ = text.status();
    have_hash_ = false;
    return Outcome::kFailed;
  }
  read_error_ = absl::OkStatus();
  const size_t hash = std::hash<std::string>{}(*text);
  if (have_hash_ && hash == hash_) {
    if (force) LogInfo("config reload: the file is unchanged", {{"file", options_.path}});
    return Outcome::kUnchanged;
  }
  hash_ = hash;
  have_hash_ = true;
  absl::StatusOr<config::Config> next = options_.parse(*text);
  if (!next.ok()) {
    Failed(next.status(), *text);
    return Outcome::kFailed;
  }
  options_.apply(*next);
  if (successful_ != nullptr) {
    successful_->Set(1);
    success_time_->Set(absl::ToDoubleSeconds(options_.clock->Now() - absl::UnixEpoch()));
    successes_->Increment();
  }
  LogInfo("config reloaded", {{"file", options_.path},
                              {"metrics", static_cast<int64_t>(next->metrics.size())},
                              {"rules", static_cast<int64_t>(next->rules.size())}});
  return Outcome::kApplied;
}

void ConfigReloader::Failed(const absl::Status& error, std::string_view text) {
  if (successful_ != nullptr) {
    successful_->Set(0);
    failures_->Increment();
  }
  config::ErrorLocation where = config::LocateError(error, options_.path, text);
  LogError("config reload failed: the previous configuration keeps serving",
           {{"file", where.file}, {"line", where.line}, {"field", where.field}, {"error", error}});
}

}  // namespace aa::app
