#pragma once
// A fake kube-apiserver for tests: HTTPS on 127.0.0.1 port 0, speaking the real JSON formats.
//
// - A built-in object store, with one global resourceVersion counter (as etcd), for the core/v1
//   resources "pods", "configmaps", "services", "namespaces" and "nodes" (the last two
//   cluster-scoped) and "deployments.apps", "statefulsets.apps", "daemonsets.apps",
//   "replicasets.apps" (apps/v1, under /apis/apps/v1): list (<Kind>List with metadata.
//   resourceVersion; labelSelector, limit/continue, fieldSelector metadata.name/metadata.namespace
//   honoured; a PartialObjectMetadataList when the Accept header asks for one),
//   get one (404 Status when absent), and watch (?watch=1|true) from a resourceVersion: events
//   after it are replayed from history, then live ADDED/MODIFIED/DELETED events stream as
//   newline-delimited JSON; BOOKMARK events (only to watches with allowWatchBookmarks=true) when
//   the test calls Bookmark(). A watch from a resourceVersion older than the last Compact() is "410
//   Gone": an ERROR event with a 410 Status in a 200 stream (what kube-apiserver's watch cache
//   does), or an HTTP 410 Status answer (GoneMode::kHttp). Without resourceVersion (or "0") a
//   watch starts with synthetic ADDED events for the current objects.
// - Responders registered per method and exact path answer before the store (TokenReview,
//   SubjectAccessReview, anything else); unknown paths get a 404 Status.
// - Authentication: when a required token is set, requests without "Authorization: Bearer <it>"
//   and without a client certificate verified against `client_ca_file` get a 401 Status.
// - Fault injection: FailNext() answers the next N matching requests with an error Status;
//   DropNext() closes their connection without an answer; CloseConnections() closes the kept-alive
//   connections. Start() ignores SIGPIPE for the whole process (writes to a connection closed this
//   way must fail with EPIPE, not kill the test).
// - Every request is recorded (Requests(), CountRequests()).
//
//   auto server = aa::kube::testing::FakeApiServer::Start({.required_token = "t0k"});
//   (*server)->Upsert("pods", aa::kube::testing::MakePod("ns", "p-1", {{"app", "web"}}));
//   ClientConfig cfg = (*server)->ClientConfigFor("t0k");
//
// Thread-safe: every method may be called from any thread while requests are served. Responders
// run on server threads and must be thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kube/config.h"
#include "nlohmann/json.hpp"

namespace aa::kube::testing {

inline constexpr char kTokenReviewPath[] = "/apis/authentication.k8s.io/v1/tokenreviews";
inline constexpr char kSubjectAccessReviewPath[] =
    "/apis/authorization.k8s.io/v1/subjectaccessreviews";
inline constexpr char kAuthConfigMapPath[] =
    "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication";

struct FakeRequest {
  std::string method;
  std::string path;                                // percent-decoded, without the query
  std::multimap<std::string, std::string> params;  // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string bearer_token;    // from "Authorization: Bearer ...", "" when absent
  std::string client_cert_cn;  // CN of a verified client certificate, "" when none
  int remote_port = 0;         // the client's port: requests on one kept-alive connection share it

  // First value of a query parameter or header (case-insensitive name); "" when absent.
  std::string Param(std::string_view name) const;
  std::string Header(std::string_view name) const;
  // The body parsed as JSON (a discarded value when it is not JSON).
  nlohmann::json Json() const;
};

struct FakeResponse {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  // A metav1.Status answer: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
  // "message":..., "reason":..., "code":...}.
  static FakeResponse Status(int code, std::string_view reason, std::string_view message);
};

using Responder = std::function<FakeResponse(const FakeRequest&)>;

// How a watch from a compacted resourceVersion is refused.
enum class GoneMode {
  kErrorEvent,  // HTTP 200, then {"type":"ERROR","object":<410 Status>} and the end of the stream
  kHttp,        // HTTP 410 with a Status body
};

struct FakeApiServerOptions {
  // Serving certificate and key (PEM files). Empty: a CA and a server certificate for 127.0.0.1 and
  // localhost are generated in a temporary directory (ca_file() returns the CA).
  std::string cert_file{};
  std::string key_file{};
  std::string ca_file{};  // the CA of cert_file, returned by ca_file() (only with cert_file)
  // When set, client certificates are requested and verified against this CA (optional for the
  // client); a verified one authenticates the request and its CN is in FakeRequest::client_cert_cn.
  std::string client_ca_file{};
  // When non-empty, requests need "Authorization: Bearer <required_token>" (or a verified client
  // certificate); others get 401. SetRequiredToken() changes it later.
  std::string required_token{};
};

class FakeApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<FakeApiServer>> Start(FakeApiServerOptions options = {});
  // Ends every watch stream and stops the server.
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  int port() const;
  std::string url() const;             // "https://127.0.0.1:<port>"
  const std::string& ca_file() const;  // PEM of the CA that signed the serving certificate
  std::string ca_pem() const;
  // A ClientConfig for this server: url(), ca_file(), bearer `token` (may be empty).
  ClientConfig ClientConfigFor(std::string_view token) const;
  // A kubeconfig (YAML) for this server with CA data inline and the given token, context "fake",
  // namespace `ns`.
  std::string Kubeconfig(std::string_view token, std::string_view ns = "default") const;

  void SetRequiredToken(std::string token);

  // ---- responders and faults
  // Answers `method` `path` (exact, decoded) with `responder` before the store is consulted.
  void Handle(std::string_view method, std::string_view path, Responder responder);
  // The next `count` requests whose method matches and whose path starts with `path_prefix` (and,
  // when `watch_only`, that are watches) are answered with an HTTP `status` Status.
  void FailNext(std::string_view method, std::string_view path_prefix, int status, int count = 1,
                bool watch_only = false);
  // The next `count` matching requests are recorded, then their connection is closed without an
  // answer (the client sees EOF before any response byte), as when the server closes a kept-alive
  // connection just as the client reuses it.
  void DropNext(std::string_view method, std::string_view path_prefix, int count = 1);
  // Closes every open client connection now (idle kept-alive ones; open watch streams end too), as
  // a server closing idle connections does. Returns how many.
  int CloseConnections();

  // ---- the object store (a resource above by its store key, e.g. "pods" or "deployments.apps";
  // objects need metadata.name, and metadata.namespace when the resource is namespaced)
  // Creates or replaces the object (ADDED or MODIFIED event); returns its new resourceVersion.
  int64_t Upsert(std::string_view resource, nlohmann::json object);
  // Deletes it (DELETED event with the last state and a new resourceVersion); returns that
  // version, or -1 when the object does not exist.
  int64_t Delete(std::string_view resource, std::string_view ns, std::string_view name);
  // The current state, or a null json when absent.
  nlohmann::json Get(std::string_view resource, std::string_view ns, std::string_view name) const;
  // The latest resourceVersion handed out.
  int64_t resource_version() const;
  // Sends a BOOKMARK (object of the resource's kind with only metadata.resourceVersion = current)
  // to every open watch of `resource` that asked for bookmarks. Returns how many got it.
  int Bookmark(std::string_view resource);
  // Forgets the history up to the current resourceVersion: watches from an older version are Gone.
  void Compact();
  void SetGoneMode(GoneMode mode);
  // Sends an ERROR 410 event to every open watch of `resource` and ends them (etcd compacted
  // under a running watch). Returns how many.
  int ExpireWatches(std::string_view resource);
  // Ends every open watch stream of `resource` normally (as the server-side timeout does).
  int CloseWatches(std::string_view resource);

  // ---- observation
  std::vector<FakeRequest> Requests() const;
  // Requests with this method whose path starts with `path_prefix` (watch: only watches; list:
  // only non-watch GETs; anything else: all).
  enum class Kind { kAny, kWatch, kNonWatch };
  int CountRequests(std::string_view method, std::string_view path_prefix,
                    Kind kind = Kind::kAny) const;
  // Watches of `resource` currently streaming.
  int OpenWatches(std::string_view resource) const;
  // Waits (real time, bounded) until OpenWatches(resource) >= n; returns whether it happened.
  bool WaitForOpenWatches(std::string_view resource, int n,
                          absl::Duration timeout = absl::Seconds(10)) const;
  // Waits until CountRequests(method, prefix, kind) >= n.
  bool WaitForRequests(std::string_view method, std::string_view path_prefix, int n,
                       Kind kind = Kind::kAny, absl::Duration timeout = absl::Seconds(10)) const;

  class Impl;

 private:
  explicit FakeApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A v1 Pod as kube-apiserver serves it: metadata (name, namespace, uid, labels,
// creationTimestamp), spec.containers with CPU requests (cores, as a Quantity; omitted when < 0),
// status.phase, status.startTime, and the Ready condition.
struct PodSpec {
  std::string ns{};
  std::string name{};
  std::map<std::string, std::string> labels{};
  std::string phase = "Running";
  bool ready = true;
  std::string start_time = "2026-11-28T10:00:00Z";   // "" for none (Pending pods have none)
  std::vector<std::string> cpu_requests = {"500m"};  // one container per entry; "" for no request
};
nlohmann::json MakePod(const PodSpec& spec);
// Any object with only metadata (name, namespace unless empty, labels) and an empty spec; Upsert()
// sets its kind and apiVersion from the resource.
nlohmann::json MakeObject(std::string_view ns, std::string_view name,
                          const std::map<std::string, std::string>& labels);
// A v1 ConfigMap with string data.
nlohmann::json MakeConfigMap(std::string_view ns, std::string_view name,
                             const std::map<std::string, std::string>& data);

}  // namespace aa::kube::testing
