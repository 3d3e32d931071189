#pragma once
// A small Kubernetes API client: JSON GET/POST and streaming watches, with TLS verification, client
// certificates and bearer tokens (re-read from their file when it changes). Enough for the pod
// watch, TokenReview, SubjectAccessReview and the extension-apiserver-authentication ConfigMap.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kube/config.h"
#include "net/client.h"
#include "nlohmann/json.hpp"

namespace prometheus {
class Registry;
}

namespace aa::kube {

class ClientMetrics;

// Errors returned by the client carry the HTTP status, when there was one, in a payload. Mapping of
// HTTP answers to codes: 400/422 InvalidArgument, 401 Unauthenticated, 403 PermissionDenied,
// 404 NotFound, 409 Aborted, 410 OutOfRange ("Expired"/"Gone": the resourceVersion is too old),
// 429 ResourceExhausted, 503 Unavailable, 504 DeadlineExceeded, anything else Internal (5xx) or
// Unknown. The message is "<METHOD> <path>: HTTP <code>: <Status.message>" when the server sent a
// metav1.Status, else a short snippet of the body. Connection failures and TLS failures are
// Unavailable; no answer within the timeout is DeadlineExceeded.
//
// The HTTP status of an error from this client (0 when the request got no HTTP answer).
int HttpStatusOf(const absl::Status& status);
// True for 410 Gone, whether an HTTP answer or a watch ERROR event with code 410.
bool IsGone(const absl::Status& status);
// The absl::Status for an HTTP error answer (`body` may be a metav1.Status). Exposed for the watch
// ERROR events, whose object is a metav1.Status, and for tests.
absl::Status StatusFromHttp(int http_status, std::string_view body, std::string_view what);

// One decoded line of a watch stream: {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{}}.
// The implicit special members copy nlohmann::json, which clang-tidy cannot prove noexcept.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct WatchEvent {
  std::string type;
  nlohmann::json object;
};

// Stops a running Watch() from another thread: Cancel() closes its connection; Watch() then
// returns Cancelled. Cancel before the watch starts makes it return at once. Thread-safe.
class WatchCancel {
 public:
  void Cancel() { cancellation_.Cancel(); }
  bool cancelled() const { return cancellation_.cancelled(); }

 private:
  friend class Client;
  net::Cancellation cancellation_;
};

// Transport: net::Client (net/client.h): connection pool, TLS, timeouts, and the proxy variables
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY (from ClientConfig::proxy, else the process environment, as
// kubectl reads them).
//
// Thread-safe: calls may run concurrently (each request uses its own connection; idle ones are
// kept alive and reused). The token file is stat()ed before every request and re-read when its
// inode, size or mtime changed, or after a 401 (then the request is retried once with the new
// token).
//
// Stale connections: a GetJson/PostJson sent on a reused keep-alive connection that fails before
// any response header arrived, because the connection was closed or reset (EOF or reset on read or
// write: the server closed the idle connection as we reused it), is sent once more on a new
// connection. Nothing else is retried: not timeouts (DeadlineExceeded), not HTTP error answers, not
// failures on a new connection, not a request whose answer had begun. So a request may reach the
// server twice: PostJson is only for requests that are safe to repeat. TokenReview and
// SubjectAccessReview are (they are reviews: they create nothing); do not use PostJson to create
// objects. Watches always use a new connection and are never retried here.
class Client {
 public:
  // Validates the config (URL scheme http/https, PEM data and files load, cert with key) and builds
  // the client. InvalidArgument names the offending field; no request is made. `registry` (may be
  // null) receives the client's self-metrics (kube/client_metrics.h).
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientConfig config,
                                                        prometheus::Registry* registry = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // GET `path` ("/api/v1/namespaces/ns/pods?limit=500", already percent-encoded) and parse the JSON
  // answer. Errors as described above; a 2xx that is not JSON is Internal.
  // `accept` is the Accept header (e.g. "application/json;as=PartialObjectMetadataList;
  // g=meta.k8s.io;v=v1,application/json" for metadata-only lists).
  absl::StatusOr<nlohmann::json> GetJson(std::string_view path,
                                         std::string_view accept = "application/json");
  // POST `body` as application/json to `path` and parse the JSON answer (2xx). Same errors.
  // Invalid UTF-8 in `body`'s strings (e.g. from a client's request) is sent as U+FFFD.
  absl::StatusOr<nlohmann::json> PostJson(std::string_view path, const nlohmann::json& body);

  // Streams a watch (`path` must carry watch=1 or watch=true). Calls `on_event` for every event as
  // it arrives, on the calling thread; `on_event` returning false ends the watch (OK). Returns OK
  // when the server ends the stream normally, Cancelled after cancel->Cancel(), DeadlineExceeded
  // when nothing (not even a bookmark) arrived for `idle_timeout`, an HTTP error (IsGone for 410)
  // when the watch is refused, Internal for a line that is not a watch event. ERROR events are
  // passed to `on_event` like the others (the caller decides; see StatusFromWatchError).
  // `on_open` (may be empty) is called once when the server accepted the watch (a 2xx answer's
  // head arrived), before any event, on the calling thread. `accept` is the Accept header (e.g.
  // "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json": events
  // carry metadata-only objects).
  absl::Status Watch(std::string_view path, const std::function<bool(const WatchEvent&)>& on_event,
                     WatchCancel* cancel = nullptr, absl::Duration idle_timeout = absl::Minutes(5),
                     const std::function<void()>& on_open = nullptr,
                     std::string_view accept = "application/json");

  const ClientConfig& config() const { return config_; }

  // The current bearer token ("" when none): what the next request sends. For tests and logs of
  // rotation only; never log the value.
  absl::StatusOr<std::string> CurrentToken();

 private:
  class Impl;
  explicit Client(ClientConfig config, std::unique_ptr<Impl> impl);
  ClientConfig config_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<ClientMetrics> metrics_;
};

// The absl::Status of a watch ERROR event's object (a metav1.Status): IsGone() for code 410.
absl::Status StatusFromWatchError(const nlohmann::json& object);

// Decodes one line of a watch stream. Internal, quoting the start of the line, when it is not a
// JSON object with a string "type" (the object is null when the line has none). Never throws.
absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line);

}  // namespace aa::kube
