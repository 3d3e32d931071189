#pragma once
// The KEDA external scaler gRPC server: service `externalscaler.ExternalScaler` (keda/metadata.h
// documents the trigger metadata), the gRPC health service (grpc.health.v1: "" and
// "externalscaler.ExternalScaler" report SERVING until shutdown) and server reflection
// (grpc.reflection.v1alpha), over plaintext, TLS or mutual TLS. No gRPC types in this header.
//
//   keda::ServerOptions options;
//   options.listen_address = "0.0.0.0:9500";
//   options.registry = &registry;
//   auto server = keda::Server::Start(options, pipeline::View(sampler));  // sampler outlives it
//   ... server->port() ...
//   server->Shutdown(absl::Seconds(5));
//
// Thread-safe.

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pipeline/view.h"

namespace prometheus {
class Registry;
}

namespace aa::keda {

struct ServerOptions {
  // gRPC listen address, "host:port": "0.0.0.0:9500", "[::]:9500", or port 0 ("127.0.0.1:0") for
  // any free port (Server::port() tells which). Default "0.0.0.0:9500".
  std::string listen_address = "0.0.0.0:9500";
  // TLS: PEM certificate chain and private key files, both or neither. Neither: plaintext. Read
  // once at Start.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Mutual TLS: PEM bundle of the CAs that sign client certificates. Needs TLS. When set, clients
  // must present a certificate that verifies against it, or the handshake fails. Default "": no
  // client certificate asked for.
  std::string client_ca_file;
  // How often the three files above are checked for changes; a changed certificate/key pair or CA
  // bundle applies to new connections without a restart (cert-manager rotation). Whole seconds,
  // at least 1 s. Default 10 s.
  absl::Duration tls_reload_interval = absl::Seconds(10);
  // Open StreamIsActive streams beyond this are refused with RESOURCE_EXHAUSTED. Default 10,000.
  size_t max_streams = 10000;
  // Largest request accepted, in bytes. Default 1 MiB (KEDA's requests are a few hundred bytes).
  int max_receive_message_bytes = 1 << 20;
  // Receives autoscale_adapter_keda_requests_total{method,code} and autoscale_adapter_keda_streams.
  // May be null.
  prometheus::Registry* registry = nullptr;
};

class Server {
 public:
  // Builds and starts the server. Errors: InvalidArgument for inconsistent options (key without
  // certificate, client CA without TLS, empty address); NotFound / PermissionDenied when a TLS file
  // cannot be read; Unavailable when the address cannot be bound. What `view` reads must
  // outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       pipeline::View view);

  // Shuts down with a 5 s grace period if Shutdown() was not called.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound TCP port (the chosen one when the address asked for port 0).
  int port() const;

  // Health turns NOT_SERVING, new streams are refused, open StreamIsActive streams are finished
  // with OK, and in-flight calls get `grace` to complete before they are cancelled. Blocks until
  // everything has stopped. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // Open StreamIsActive streams.
  size_t open_streams() const;
  // Waits until exactly `count` streams are open, up to `timeout` of real time; returns whether
  // they were. For tests (stream teardown completes asynchronously).
  bool WaitForOpenStreams(size_t count, absl::Duration timeout) const;
  // Completed stream push passes (one per snapshot publication noticed). For tests and benchmarks.
  uint64_t push_passes() const;
  // Waits until the streams were evaluated against a snapshot of generation >= `generation` (their
  // writes are started), up to `timeout` of real time; returns whether they were. For tests and
  // benchmarks.
  bool WaitForPushed(uint64_t generation, absl::Duration timeout) const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aa::keda
