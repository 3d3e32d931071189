#pragma once
// The KEDA external scaler gRPC server: service `externalscaler.ExternalScaler` (keda/metadata.h
// documents the trigger metadata), the gRPC health service (grpc.health.v1: "" and
// "externalscaler.ExternalScaler" report SERVING until shutdown) and server reflection
// (grpc.reflection.v1alpha), over mutual TLS, TLS, or (only when asked for explicitly) plaintext.
// No gRPC types in this header.
//
// Who may connect: with client_ca_file, only clients whose certificate that CA signed complete the
// handshake; with client_names too, every call (health and reflection included) of a client whose
// certificate carries none of those names (subject CN or DNS SAN) fails with PERMISSION_DENIED
// before anything is read. Without TLS files the server starts only with allow_plaintext (and logs
// a warning).
//
// Bounds (each an option below): HTTP/2 streams per connection, keepalive ping enforcement,
// handshake time, connection idle time and age, request size, open StreamIsActive streams in total
// and per client (client = certificate name with mutual TLS, else peer IP address). A stream keeps
// its parsed trigger (bounded by the request size) and one response: memory per stream is bounded.
//
//   keda::ServerOptions options;
//   options.listen_address = "0.0.0.0:9500";
//   options.tls_cert_file = ...; options.tls_key_file = ...; options.client_ca_file = ...;
//   options.registry = &registry;
//   auto server = keda::Server::Start(options, pipeline::View(sampler));  // sampler outlives it
//   ... server->port() ...
//   server->Shutdown(absl::Seconds(5));
//
// Thread-safe.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

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
  // Names a client certificate must carry (its subject CN or one of its DNS SANs, exact match),
  // any one of them. Needs client_ca_file. Empty (default): any certificate the client CA signed.
  // Other clients get PERMISSION_DENIED on every call.
  std::vector<std::string> client_names;
  // No TLS files: plaintext is served only when this is true (a warning is logged); otherwise
  // Start fails with FailedPrecondition saying what to set. Default false.
  bool allow_plaintext = false;
  // Open StreamIsActive streams beyond this are refused with RESOURCE_EXHAUSTED. Default 10,000.
  size_t max_streams = 10000;
  // Open StreamIsActive streams of one client (certificate name with mutual TLS, else peer IP
  // address) beyond this are refused with RESOURCE_EXHAUSTED. Default 1,000.
  size_t max_streams_per_client = 1000;
  // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: calls open at once on one connection; the client
  // queues more. Default 1,000.
  int max_concurrent_streams_per_connection = 1000;
  // Largest request accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. Default 16 KiB
  // (KEDA's requests are a few hundred bytes; 64 metadata keys of 256 bytes fit).
  int max_receive_message_bytes = 16 << 10;
  // Keepalive enforcement: a client ping less than this after the previous one, while no data
  // flows, is a strike; more than max_ping_strikes strikes close the connection (GOAWAY
  // ENHANCE_YOUR_CALM). Defaults 30 s and 2.
  absl::Duration min_ping_interval = absl::Seconds(30);
  int max_ping_strikes = 2;
  // A connection without calls for this long is closed (GOAWAY). Default 5 min. Whole ms.
  absl::Duration max_connection_idle = absl::Minutes(5);
  // A connection is asked to go away (GOAWAY) after this age, and closed max_connection_age_grace
  // later with whatever is still open (KEDA re-opens its stream on a new connection). Defaults
  // 1 h and 1 min. absl::InfiniteDuration(): no limit.
  absl::Duration max_connection_age = absl::Hours(1);
  absl::Duration max_connection_age_grace = absl::Minutes(1);
  // A connection that has not completed its TLS and HTTP/2 handshake this long after it was
  // accepted is closed (slow or silent clients hold no connection for long). Default 10 s.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Receives autoscale_adapter_keda_requests_total{method,code} and autoscale_adapter_keda_streams.
  // May be null.
  prometheus::Registry* registry = nullptr;
};

class Server {
 public:
  // Builds and starts the server. Errors: InvalidArgument for inconsistent options (key without
  // certificate, client CA without TLS, client names without client CA, a limit out of range,
  // empty address); FailedPrecondition for no TLS without allow_plaintext; NotFound /
  // PermissionDenied when a TLS file cannot be read; Unavailable when the address cannot be bound.
  // What `view` reads must outlive the server.
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
