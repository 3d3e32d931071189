#pragma once
// Client for the Prometheus HTTP query API, also spoken by Thanos Query, Mimir/Cortex and
// VictoriaMetrics.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "net/proxy.h"
#include "prometheus/types.h"

namespace prometheus {
class Registry;
}

namespace aa::prom {

// TLS towards Prometheus. Empty strings mean "not set".
struct TlsOptions {
  std::string ca_file;      // PEM bundle to verify the server; default: the system trust store
  std::string cert_file;    // PEM client certificate, for mutual TLS (needs key_file)
  std::string key_file;     // PEM private key of cert_file
  std::string server_name;  // expected name in the server certificate; default: the URL's host
  bool insecure_skip_verify = false;  // explicit opt-in to skip verification; logged as a warning
};

struct ClientOptions {
  // The backend's name (prom::Backends): the `backend` label of the self-metrics. Default
  // "default", the `prometheus:` section.
  std::string name = "default";
  // Base URL, with an optional path prefix: "http://prometheus:9090",
  // "https://thanos/query/prefix".
  // "/api/v1/..." is appended to it.
  std::string url;
  // Extra headers on every request, e.g. {"X-Scope-OrgID": "tenant-a"}.
  std::map<std::string, std::string> headers;
  // File holding a bearer token, re-read on every request (tokens rotate). Empty: none.
  std::string bearer_token_file;
  // Basic auth; used when username is set. password_file, when set, is re-read on every request.
  std::string basic_auth_username;
  std::string basic_auth_password;
  std::string basic_auth_password_file;
  TlsOptions tls;
  // Deadline of one HTTP attempt (connect + answer). Default 10 s.
  absl::Duration timeout = absl::Seconds(10);
  // Further attempts after a transient failure (connection error, timeout, HTTP 429/502/503/504).
  // Default 2.
  int max_retries = 2;
  // Delay before the first retry, doubled each time, with jitter. Default 200 ms.
  absl::Duration retry_backoff = absl::Milliseconds(200);
  // "GET", "POST", or "auto": GET unless the encoded query is longer than post_threshold_bytes.
  // Default auto. Label values are always asked with GET (Prometheus has no POST form of them).
  std::string method = "auto";
  size_t post_threshold_bytes = 2048;
  // Answers larger than this are refused (ResourceExhausted) without being parsed. Default 64 MiB.
  size_t max_response_bytes = 64 << 20;
  // A success answer with "warnings" (Thanos' or Mimir's partial response: some stores did not
  // answer) is incomplete. false (default): it is refused, Unavailable naming the warnings, so a
  // partial value is never served as if complete; true: it is returned, with
  // QueryResult::warnings. Counted either way (autoscale_adapter_prometheus_warnings_total).
  bool accept_warnings = false;
  // How retries wait; tests replace it so they never sleep. Default absl::SleepFor.
  std::function<void(absl::Duration)> sleep;
  // Self-metrics registry (queries by endpoint and outcome, latency). May be null.
  prometheus::Registry* registry = nullptr;
  // HTTPS_PROXY / HTTP_PROXY / NO_PROXY (net/proxy.h); nullopt: the process environment.
  std::optional<net::ProxyEnvironment> proxy;
};

// What one query adds to the client's configuration (KEDA's prometheus triggers carry these:
// queryParameters, namespace, customHeaders, timeout). The default adds nothing.
struct QueryOptions {
  // Extra URL parameters, sent in this order after `query` and `time` (in the query string, or in
  // the form body when the client POSTs). Names are non-empty and never "query" or "time" (the
  // client's own); values are any text (URL-encoded on the wire).
  std::vector<std::pair<std::string, std::string>> params;
  // Extra request headers. Names are HTTP tokens, values have no CR, LF or NUL. A name the client
  // itself sets (ClientOptions::headers, Authorization when the client authenticates) or one that
  // frames the request (Host, Content-Length, Content-Type, Transfer-Encoding, Connection, ...) is
  // refused: a query adds headers, it never replaces the backend's (a tenant header, the
  // credentials).
  std::vector<std::pair<std::string, std::string>> headers;
  // Deadline of one HTTP attempt instead of ClientOptions::timeout; zero: the client's. Must not
  // be negative.
  absl::Duration timeout = absl::ZeroDuration();
  // The labels of each sample the caller reads (types.h); the others are not parsed into the
  // result (a client that does not parse, such as a test's fake, may still return them: the caller
  // must not read them). Not sent: the query and its answer are the same. Default: every label.
  LabelFilter keep_labels;

  friend bool operator==(const QueryOptions&, const QueryOptions&) = default;

  // Nothing added to the request (keep_labels changes only what is parsed).
  bool empty() const {
    return params.empty() && headers.empty() && timeout == absl::ZeroDuration();
  }
};

// Checks `options` on its own (names, values, timeout), without a client's configured headers:
// InvalidArgument naming the offending parameter or header (header values are never echoed).
absl::Status ValidateQueryOptions(const QueryOptions& options);

// Thread-safe; calls may run concurrently, each on its own keep-alive connection from a small pool
// (idle connections are kept, at most 8) of net::Client (net/client.h), which also reads the proxy
// variables (ClientOptions::proxy) and sends a request once more on a new connection, at once,
// when a reused kept-alive connection turns out closed before any answer (not counted as a retry).
// GET with url-encoded parameters, or an application/x-www-form-urlencoded POST (see
// ClientOptions::method). Secret files are re-read on every call (once per call, shared by its
// retries). With tls.server_name set, the connection goes to the URL's host while SNI and
// certificate verification use server_name; the Host header stays the URL's. Self-metrics (when
// options.registry is set), one observation per HTTP attempt, so retries show, each also labelled
// backend="<options.name>" (several clients share the families of one registry):
//   autoscale_adapter_prometheus_requests_total{endpoint="query|query_range|series|label_values",
//     outcome="success|error_http|
//     error_network|error_timeout|error_parse|error_query|error_too_large|error_warnings"}
//   autoscale_adapter_prometheus_request_duration_seconds{endpoint} (histogram, includes parsing)
//   autoscale_adapter_prometheus_warnings_total{endpoint,action="rejected|accepted"}: success
//     answers that carried warnings (a partial response), refused or returned (accept_warnings)
// error_query: a Prometheus error answer (JSON errorType/error) whatever the HTTP status;
// error_http: any other non-2xx; error_parse: a 2xx that is not a Prometheus answer;
// error_warnings: a success answer with warnings, refused (accept_warnings false). Errors:
// - Unavailable: the server is down or unreachable, answered 5xx or something that is not a
// Prometheus answer
//   (HTML, truncated or invalid JSON), after retries; the message names the URL (without
//   credentials) and cause.
// - DeadlineExceeded: no answer within `timeout` on the last attempt.
// - Unavailable also: a success answer with warnings while accept_warnings is false (not retried;
//   the message says "partial answer" and quotes the first warnings).
// - InvalidArgument: Prometheus rejected the query (bad_data), message includes its error text.
// - ResourceExhausted: the answer exceeded max_response_bytes (checked on Content-Length and while
// streaming;
//   decompressed size).
// - FailedPrecondition: bearer_token_file or basic_auth_password_file cannot be read at call time.
// Retried (max_retries, backoff retry_backoff * 2^n, "equal jitter": uniform in [d/2, d], capped at
// 30 s): connection failures, timeouts, HTTP 429/502/503/504. Never: other 4xx/5xx, TLS
// verification failures, unparsable answers. Other non-2xx answers without a Prometheus error body
// (401, 403, 404, 500...) are Unavailable naming the status.
class Client {
 public:
  virtual ~Client() = default;
  // Instant query (`/api/v1/query`) evaluated at `at` (absl::InfinitePast() means "now", as the
  // server sees it), with `options` added to the request. InvalidArgument, before anything is
  // sent, for options ValidateQueryOptions() refuses or that would replace a header the client
  // sets itself.
  virtual absl::StatusOr<QueryResult> Query(std::string_view promql, absl::Time at,
                                            const QueryOptions& options) = 0;
  // The same with no options.
  absl::StatusOr<QueryResult> Query(std::string_view promql, absl::Time at) {
    return Query(promql, at, QueryOptions{});
  }
  // Query, with each element of an instant-vector answer handed to `visit` (SampleRef: the labels
  // options.keep_labels keeps, as views valid during the call) instead of returned in
  // QueryResult::samples, which stays empty (a scalar is returned there as by Query): so a large
  // answer is never held whole. Errors as Query(); on any error, whatever `visit` received is no
  // answer and must be discarded. By default Query() and then its samples visited; the HTTP
  // client visits them as it parses.
  virtual absl::StatusOr<QueryResult> QueryEach(std::string_view promql, absl::Time at,
                                                const QueryOptions& options, SampleVisitor visit);
  // Range query (`/api/v1/query_range`) evaluated at start, start + step, ... up to `end`; the
  // answer is a matrix (QueryResult::series; a series has a point only at the steps where it had a
  // value). InvalidArgument, before anything is sent, for a step that is not positive or an end
  // before start. Unimplemented by default (a client that cannot ask: callers then do without);
  // other errors as Query().
  virtual absl::StatusOr<QueryResult> QueryRange(std::string_view promql, absl::Time start,
                                                 absl::Time end, absl::Duration step) {
    (void)promql, (void)start, (void)end, (void)step;
    return absl::UnimplementedError("range queries are not supported by this client");
  }
  // Series metadata (`/api/v1/series`) for the given match[] selectors within [start, end].
  virtual absl::StatusOr<std::vector<Labels>> Series(const std::vector<std::string>& matchers,
                                                     absl::Time start, absl::Time end) = 0;
  // The values label `label` takes in series within [start, end]
  // (`/api/v1/label/<label>/values`). Unimplemented by default (a client that cannot ask:
  // callers then do without), and from the HTTP client when the server answers a plain 404 (no
  // such endpoint); other errors as Query().
  virtual absl::StatusOr<std::vector<std::string>> LabelValues(const std::string& label,
                                                               absl::Time start, absl::Time end) {
    (void)label, (void)start, (void)end;
    return absl::UnimplementedError("label values are not supported by this client");
  }
};

// Validates the options (URL scheme http/https, readable files, key with cert) and builds the HTTP
// client. InvalidArgument names the offending option.
absl::StatusOr<std::unique_ptr<Client>> NewHttpClient(ClientOptions options);

}  // namespace aa::prom
