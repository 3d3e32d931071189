#pragma once
// A small HTTP/1.1 server (plain or TLS): one handler for every request, port 0, graceful stop, and
// bounds that no client can get around. Connections are handled asynchronously on one I/O thread
// (Boost.Asio, requests parsed by Boost.Beast's incremental parser, TLS through OpenSSL): an idle
// or slow connection costs a socket and a small buffer, never a thread. Complete requests run on a
// bounded worker pool (workers started on demand) with a bounded queue. Every limit is checked
// while reading, so what a client sends never makes memory grow past them. Boost stays inside
// server.cc.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
}
// OpenSSL's SSL and SSL_CTX (openssl/ssl.h), declared here so the header stays free of OpenSSL.
struct ssl_st;
struct ssl_ctx_st;

namespace aa::net {

// Header and parameter names are kept as received; header lookups ignore case.
struct HttpRequest {
  std::string method;
  std::string path;                                // percent-decoded path, without the query string
  std::multimap<std::string, std::string> params;  // decoded query parameters ('+' is a space)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string remote_addr;
  // The TLS connection the request came on (HTTPS only, else null): for reading the client's
  // certificate (SSL_get0_peer_certificate). Valid for the duration of the handler call.
  const ssl_st* ssl = nullptr;

  // First value of query parameter `name`, or nullptr.
  const std::string* Param(std::string_view name) const;
  // First value of header `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Low-cardinality name of what was served ("/api/v1/namespaces/{ns}/metrics/{metric}"), for
  // self-metrics.
  std::string route = "other";
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // "host:port"; port 0 picks a free port (logged, and returned by port()). "[::1]:0" for IPv6.
  std::string listen = "127.0.0.1:0";
  // Name in logs and self-metrics ("http", "https").
  std::string name = "http";
  // Worker threads running the handler (which may block), at most. Started as requests need them
  // (none while idle) and kept until Stop(). Default 64.
  int threads = 64;
  // Complete requests waiting for a worker beyond this are answered 503 at once. Default 256.
  int max_queued_requests = 256;

  // Limits, each per server. At `max_connections` open connections, a new connection evicts the
  // one that has waited longest without a complete request (idle keep-alive, TLS handshake, headers
  // or body still arriving); when every connection is busy in a handler or writing its answer, the
  // new one is answered 503 (plain HTTP) or closed (TLS) at once. Default 512 (nginx's default
  // worker_connections): a TLS connection costs about 84 KiB (Asio's and OpenSSL's record
  // buffers), so 512 keep an HTTPS port under about 45 MiB of connection state.
  int max_connections = 512;
  // Request line and header fields together, counted while reading: over this the request is
  // answered 431 (414 when the request line alone is over it). Default 32 KiB. Each header field
  // is also limited to 8192 bytes (431), as nginx does by default.
  size_t max_header_bytes = 32 << 10;
  // Header fields in one request: over this, 431. Default 100.
  int max_header_count = 100;
  // Requests whose path + query exceed this are answered 414 without calling the handler.
  // Default 8 KiB.
  size_t max_uri_bytes = 8192;
  // Request body (read and discarded: handlers get none), by Content-Length or chunked: over
  // this, 413. Default 1 MiB.
  size_t max_body_bytes = 1 << 20;
  // From a request's first byte (or the connection's start) to the end of its headers: a client
  // that trickles bytes is dropped when it passes. Default 10 s.
  absl::Duration request_header_timeout = absl::Seconds(10);
  // From the end of the headers to the end of the body. Default 10 s.
  absl::Duration body_timeout = absl::Seconds(10);
  // An idle keep-alive connection (no byte of a next request) is closed after this. Default 60 s.
  absl::Duration keep_alive_timeout = absl::Seconds(60);
  // TLS handshake, done on the I/O thread (never in a worker). Default 10 s.
  absl::Duration tls_handshake_timeout = absl::Seconds(10);
  // Writing one answer. Default 10 s.
  absl::Duration write_timeout = absl::Seconds(10);

  // Renders the errors the server answers by itself, without calling the handler: 400 (malformed
  // request), 405 (a method HTTP/1.1 does not know), 413, 414, 431, 500 (the handler threw) and
  // 503 (overloaded). Gets the status and a message a person can act on; what it returns is sent
  // with that status (its `status` is ignored). Default: the message as text/plain. Called on the
  // server's threads, possibly concurrently.
  std::function<HttpResponse(int status, std::string message)> error_response;
  // TLS: both set -> HTTPS. PEM files.
  std::string tls_cert_file;
  std::string tls_key_file;
  // TLS set up by the caller instead (takes precedence over the files): called once with the new
  // server's SSL_CTX to install certificates (e.g. a per-handshake certificate callback for
  // rotation), protocol versions and client-certificate requests. An error fails the start
  // (InvalidArgument). The context outlives neither the server nor what the callback captured.
  std::function<absl::Status(ssl_ctx_st*)> tls_setup;
  // Self-metrics: autoscale_adapter_http_requests_total{server,route,code},
  // autoscale_adapter_http_request_duration_seconds{server,route},
  // autoscale_adapter_http_open_connections{server},
  // autoscale_adapter_http_connections_refused_total{server,reason="max_connections"},
  // autoscale_adapter_http_connections_evicted_total{server} and
  // autoscale_adapter_http_connections_timed_out_total{server,reason} (reason: tls_handshake,
  // header, body, idle, write). May be null.
  prometheus::Registry* registry = nullptr;
};

// Thread-safe. The handler runs on worker threads, concurrently.
class HttpServer {
 public:
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  // Stops accepting, closes the connections waiting for a request, lets requests in handlers
  // finish and their answers go out (waiting at most write_timeout after the last handler), joins
  // the threads. Idempotent.
  virtual void Stop() = 0;
};

// Binds and starts serving. InvalidArgument for a malformed listen address or unreadable TLS files;
// Unavailable when the address cannot be bound.
absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(HttpServerOptions options,
                                                            HttpHandler handler);

// Splits "host:port" / "[v6]:port" / ":port". InvalidArgument naming the text when malformed.
absl::StatusOr<std::pair<std::string, int>> ParseListenAddress(std::string_view address);

}  // namespace aa::net
