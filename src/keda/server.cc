#include "keda/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"
#include "common/log.h"
#include "keda/internal/keda_metrics.h"
#include "keda/internal/service.h"

namespace aa::keda {
namespace {

constexpr char kServiceName[] = "externalscaler.ExternalScaler";

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view option) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    std::string what = absl::StrCat("keda server: ", std::string(option), ": cannot read \"", path,
                                    "\": ", text.status().message());
    return absl::IsPermissionDenied(text.status()) ? absl::PermissionDeniedError(what)
                                                   : absl::NotFoundError(what);
  }
  std::string pem = *std::move(text);
  if (pem.find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("keda server: ", std::string(option), ": \"", path, "\" holds no PEM block"));
  }
  return pem;
}

// Refuses every call of a client whose certificate carries none of the allowed names, before the
// call reaches a service.
class ClientNameCheck final : public grpc::AuthMetadataProcessor {
 public:
  explicit ClientNameCheck(const std::vector<std::string>& names)
      : allowed_(names.begin(), names.end()) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata&, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    std::vector<std::string> names = CertificateNames(*context);
    for (const std::string& name : names) {
      if (allowed_.contains(name)) return grpc::Status::OK;
    }
    std::string shown = absl::StrJoin(names, ", ").substr(0, 512);
    LogDebug("keda server: client certificate not allowed", {{"names", shown}});
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("client certificate names [", shown,
                     "] are not in the allowed client names (--grpc-client-names)"));
  }

 private:
  const absl::flat_hash_set<std::string> allowed_;
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (!o.client_names.empty() && o.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "keda server: client_names (allowed client certificate names) need client_ca_file "
        "(mutual TLS)");
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "keda server: tls_cert_file and tls_key_file must be given together (or neither, for "
        "plaintext)");
  }
  if (o.tls_cert_file.empty()) {
    if (!o.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "keda server: client_ca_file (mutual TLS) needs tls_cert_file and tls_key_file");
    }
    if (!o.allow_plaintext) {
      return absl::FailedPreconditionError(
          "keda server: the gRPC port has no TLS: set --grpc-tls-cert-file and "
          "--grpc-tls-key-file (and --grpc-client-ca-file for client certificates), or keda.tls "
          "in the config; --grpc-insecure serves plaintext, --grpc-listen=off turns the port off");
    }
    return grpc::InsecureServerCredentials();
  }
  auto cert = ReadPem(o.tls_cert_file, "tls_cert_file");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(o.tls_key_file, "tls_key_file");
  if (!key.ok()) return key.status();
  std::string ca_file;
  if (!o.client_ca_file.empty()) {
    auto ca = ReadPem(o.client_ca_file, "client_ca_file");
    if (!ca.ok()) return ca.status();
    ca_file = o.client_ca_file;
  }
  // The files are read here and re-read every interval by gRPC's watcher: a rotated pair (or CA
  // bundle) is used for new handshakes; an unreadable one keeps the last good one.
  const auto interval =
      static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(o.tls_reload_interval)));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      o.tls_key_file, o.tls_cert_file, ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::experimental::TlsServerCredentials(tls);
  if (!o.client_names.empty()) {
    creds->SetAuthMetadataProcessor(std::make_shared<ClientNameCheck>(o.client_names));
  }
  return creds;
}

int Millis(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return std::numeric_limits<int>::max();
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, std::numeric_limits<int>::max()));
}

absl::Status CheckLimits(const ServerOptions& o) {
  auto positive = [](std::string_view name, int64_t v) -> absl::Status {
    if (v >= 1) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("keda server: ", std::string(name), " must be at least 1 (got ", v, ")"));
  };
  if (auto s = positive("max_streams", static_cast<int64_t>(o.max_streams)); !s.ok()) return s;
  if (auto s = positive("max_streams_per_client", static_cast<int64_t>(o.max_streams_per_client));
      !s.ok())
    return s;
  if (auto s = positive("max_concurrent_streams_per_connection",
                        o.max_concurrent_streams_per_connection);
      !s.ok())
    return s;
  if (auto s = positive("max_receive_message_bytes", o.max_receive_message_bytes); !s.ok())
    return s;
  if (auto s = positive("max_ping_strikes", o.max_ping_strikes); !s.ok()) return s;
  for (auto [name, d] :
       {std::pair<std::string_view, absl::Duration>{"min_ping_interval", o.min_ping_interval},
        {"max_connection_idle", o.max_connection_idle},
        {"max_connection_age", o.max_connection_age},
        {"max_connection_age_grace", o.max_connection_age_grace},
        {"handshake_timeout", o.handshake_timeout}}) {
    if (d < absl::Milliseconds(1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("keda server: ", std::string(name), " must be at least 1ms"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& options, pipeline::View view)
      : metrics(options.registry),
        service(view, metrics, {options.max_streams, options.max_streams_per_client}) {}

  KedaMetrics metrics;
  ExternalScalerService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  absl::Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      pipeline::View view) {
  if (options.listen_address.empty())
    return absl::InvalidArgumentError("keda server: empty listen address");
  if (auto s = CheckLimits(options); !s.ok()) return s;
  auto creds = Credentials(options);
  if (!creds.ok()) return creds.status();

  // Both are process-wide switches read by every ServerBuilder created afterwards.
  static std::once_flag once;
  std::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });

  auto impl = std::make_unique<Impl>(options, view);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *creds, &impl->port);
  builder.RegisterService(&impl->service);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             options.max_concurrent_streams_per_connection);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Millis(options.min_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, options.max_ping_strikes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(options.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(options.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             Millis(options.max_connection_age_grace));
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             Millis(options.handshake_timeout));
  // gRPC sets SO_REUSEPORT by default: a second server on a taken port would then share it
  // silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  impl->service.Start();
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    impl->service.BeginShutdown();
    impl->service.Stop();
    return absl::UnavailableError(absl::StrCat("keda server: cannot listen on \"",
                                               options.listen_address,
                                               "\" (address in use or invalid)"));
  }
  if (options.tls_cert_file.empty()) {
    LogWarn("keda server: PLAINTEXT gRPC port (--grpc-insecure)",
            {{"address", options.listen_address},
             {"risk",
              "anyone who reaches the port reads every namespace's metrics; use TLS with "
              "client certificates (--grpc-client-ca-file) in a cluster"}});
  }
  if (grpc::HealthCheckServiceInterface* health = impl->server->GetHealthCheckService()) {
    health->SetServingStatus("", true);
    health->SetServingStatus(kServiceName, true);
  }
  // The record every listener of the project logs (scripts and tests read the port from it).
  LogInfo("listening", {{"server", "grpc"},
                        {"address", options.listen_address},
                        {"port", impl->port},
                        {"tls", !options.tls_cert_file.empty()},
                        {"mtls", !options.client_ca_file.empty()},
                        {"client_names", absl::StrJoin(options.client_names, ",")}});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(); }

int Server::port() const { return impl_->port; }

size_t Server::open_streams() const { return impl_->service.open_streams(); }

bool Server::WaitForOpenStreams(size_t count, absl::Duration timeout) const {
  return impl_->service.WaitForOpenStreams(count, timeout);
}

bool Server::WaitForPushed(uint64_t generation, absl::Duration timeout) const {
  return impl_->service.WaitForPushed(generation, timeout);
}

uint64_t Server::push_passes() const { return impl_->service.push_passes(); }

void Server::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&impl_->shutdown_mu);
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  if (grpc::HealthCheckServiceInterface* health = impl_->server->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  impl_->service.BeginShutdown();
  auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace);
  impl_->server->Shutdown(deadline);
  impl_->server->Wait();
  impl_->service.Stop();
  LogInfo("keda external scaler stopped", {{"port", impl_->port}});
}

}  // namespace aa::keda
