#include "kube/fake_apiserver.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/strings.h"
#include "selector/selector.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

namespace aa::kube::testing {
namespace {

using json = nlohmann::json;

// The resources the store serves, by store key (the group resource: "pods", "deployments.apps").
struct Served {
  const char* key;
  const char* group;  // "" for the core group
  const char* version;
  const char* plural;
  const char* kind;
  bool namespaced;
};
constexpr Served kServed[] = {
    {"pods", "", "v1", "pods", "Pod", true},
    {"configmaps", "", "v1", "configmaps", "ConfigMap", true},
    {"services", "", "v1", "services", "Service", true},
    {"namespaces", "", "v1", "namespaces", "Namespace", false},
    {"nodes", "", "v1", "nodes", "Node", false},
    {"deployments.apps", "apps", "v1", "deployments", "Deployment", true},
    {"statefulsets.apps", "apps", "v1", "statefulsets", "StatefulSet", true},
    {"daemonsets.apps", "apps", "v1", "daemonsets", "DaemonSet", true},
    {"replicasets.apps", "apps", "v1", "replicasets", "ReplicaSet", true},
};

const Served* FindServed(std::string_view key) {
  for (const Served& r : kServed) {
    if (key == r.key) return &r;
  }
  return nullptr;
}

std::string KindOf(std::string_view resource) {
  const Served* r = FindServed(resource);
  return r ? r->kind : "";
}

std::string ApiVersionOf(std::string_view resource) {
  const Served* r = FindServed(resource);
  if (r == nullptr || r->group[0] == '\0') return "v1";
  return absl::StrCat(r->group, "/", r->version);
}

std::string ObjectKey(std::string_view ns, std::string_view name) {
  return absl::StrCat(ToAbsl(ns), "/", ToAbsl(name));
}

std::string StrOf(const json& j, const char* a, const char* b) {
  auto it = j.find(a);
  if (it == j.end() || !it->is_object()) return "";
  auto jt = it->find(b);
  if (jt == it->end() || !jt->is_string()) return "";
  return jt->get<std::string>();
}

// What a request addresses: /api/v1/{resource}, /api/v1/namespaces/{ns}/{resource}[/{name}],
// /api/v1/{cluster resource}/{name}, and the same under /apis/{group}/{version}.
struct Target {
  std::string resource;  // the store key
  std::string ns;        // "" = all namespaces (or a cluster-scoped resource)
  std::string name;      // "" = the collection
};

std::optional<Target> ParseTarget(std::string_view path) {
  std::vector<std::string> parts = absl::StrSplit(ToAbsl(path), '/', absl::SkipEmpty());
  std::string group;
  std::string version;
  size_t rest = 0;
  if (parts.size() >= 3 && parts[0] == "api" && parts[1] == "v1") {
    version = "v1";
    rest = 2;
  } else if (parts.size() >= 4 && parts[0] == "apis") {
    group = parts[1];
    version = parts[2];
    rest = 3;
  } else {
    return std::nullopt;
  }
  auto find = [&](std::string_view plural) -> const Served* {
    for (const Served& r : kServed) {
      if (plural == r.plural && group == r.group && version == r.version) return &r;
    }
    return nullptr;
  };
  Target t;
  const size_t n = parts.size() - rest;
  const Served* served = nullptr;
  if (n >= 3 && parts[rest] == "namespaces" && n <= 4) {
    served = find(parts[rest + 2]);
    if (served == nullptr || !served->namespaced) return std::nullopt;
    t.ns = parts[rest + 1];
    if (n == 4) t.name = parts[rest + 3];
  } else if (n == 1 || n == 2) {
    served = find(parts[rest]);
    if (served == nullptr) return std::nullopt;
    if (n == 2) {
      if (served->namespaced) return std::nullopt;
      t.name = parts[rest + 1];
    }
  } else {
    return std::nullopt;
  }
  t.resource = served->key;
  return t;
}

// The filter of one list or watch.
struct Filter {
  std::string resource;
  std::string ns;
  std::string name;  // fieldSelector metadata.name
  selector::Selector labels;

  bool Matches(const json& obj) const {
    if (!ns.empty() && StrOf(obj, "metadata", "namespace") != ns) return false;
    if (!name.empty() && StrOf(obj, "metadata", "name") != name) return false;
    if (labels.Empty()) return true;
    const json* l = nullptr;
    if (auto m = obj.find("metadata"); m != obj.end()) {
      if (auto it = m->find("labels"); it != m->end() && it->is_object()) l = &*it;
    }
    std::string scratch;
    return labels.Matches([&](std::string_view key) -> std::optional<std::string_view> {
      if (l == nullptr) return std::nullopt;
      auto it = l->find(std::string(key));
      if (it == l->end() || !it->is_string()) return std::nullopt;
      scratch = it->get<std::string>();
      return std::string_view(scratch);
    });
  }
};

json StatusBody(int code, std::string_view reason, std::string_view message) {
  return json{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
              {"status", "Failure"}, {"message", message}, {"reason", reason},
              {"code", code}};
}

const char* ReasonFor(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "InternalError";
  }
}

std::string EventLine(std::string_view type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

struct Watcher {
  Filter filter;
  bool bookmarks = false;
  std::deque<std::string> lines;
  bool closed = false;  // end the stream once `lines` is drained
};

constexpr int kDropConnection = 0;  // Fault::status: close the connection without an answer

struct Fault {
  std::string method;
  std::string prefix;
  int status;  // an HTTP status, or kDropConnection
  int count;
  bool watch_only;
};

}  // namespace

std::string FakeRequest::Param(std::string_view name) const {
  auto it = params.find(std::string(name));
  return it == params.end() ? "" : it->second;
}

std::string FakeRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, ToAbsl(name))) return v;
  }
  return "";
}

json FakeRequest::Json() const { return json::parse(body, nullptr, /*allow_exceptions=*/false); }

FakeResponse FakeResponse::Status(int code, std::string_view reason, std::string_view message) {
  return FakeResponse{code, StatusBody(code, reason, message)};
}

class FakeApiServer::Impl {
 public:
  explicit Impl(FakeApiServerOptions options) : options_(std::move(options)) {
    required_token_ = options_.required_token;
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Start() {
    std::signal(SIGPIPE, SIG_IGN);
    if (options_.cert_file.empty()) {
      auto ca =
          testutil::TestCa::Create(dir_.path(), "fake-apiserver-ca", "fake kube-apiserver CA");
      if (!ca.ok()) return ca.status();
      auto cert = ca->IssueServer(dir_.path(), "fake-apiserver", {"kubernetes.default.svc"});
      if (!cert.ok()) return cert.status();
      options_.cert_file = cert->cert_file;
      options_.key_file = cert->key_file;
      options_.ca_file = ca->cert_file();
    }
    const FakeApiServerOptions& o = options_;
    server_ = std::make_unique<httplib::SSLServer>([&o](SSL_CTX& ctx) {
      if (SSL_CTX_use_certificate_chain_file(&ctx, o.cert_file.c_str()) != 1) return false;
      if (SSL_CTX_use_PrivateKey_file(&ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        return false;
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      if (!o.client_ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(&ctx, o.client_ca_file.c_str(), nullptr) != 1)
          return false;
        SSL_CTX_set_client_CA_list(&ctx, SSL_load_client_CA_file(o.client_ca_file.c_str()));
        SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);  // a certificate is optional
      }
      return true;
    });
    if (!server_->is_valid()) {
      return absl::InternalError("fake apiserver: cannot load the serving certificate");
    }
    server_->set_tcp_nodelay(true);
    server_->new_task_queue = [] { return new httplib::ThreadPool(16); };
    auto handler = [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); };
    server_->Get(".*", handler);
    server_->Post(".*", handler);
    server_->Put(".*", handler);
    server_->Delete(".*", handler);
    server_->Patch(".*", handler);
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return absl::UnavailableError("fake apiserver: cannot bind 127.0.0.1:0");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::yield();
    return absl::OkStatus();
  }

  // ---- serving

  void Serve(const httplib::Request& hreq, httplib::Response& res) {
    FakeRequest req;
    req.method = hreq.method;
    req.path = hreq.path;
    for (const auto& [k, v] : hreq.params) req.params.emplace(k, v);
    for (const auto& [k, v] : hreq.headers) req.headers.emplace_back(k, v);
    req.body = hreq.body;
    req.remote_port = hreq.remote_port;
    std::string auth = req.Header("Authorization");
    if (absl::StartsWithIgnoreCase(auth, "Bearer ")) req.bearer_token = auth.substr(7);
    if (hreq.ssl != nullptr) {
      X509* peer = SSL_get1_peer_certificate(hreq.ssl);
      if (peer != nullptr) {
        if (SSL_get_verify_result(hreq.ssl) == X509_V_OK) {
          char cn[256] = {};
          X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
          req.client_cert_cn = cn;
        }
        X509_free(peer);
      }
    }
    bool watch = req.Param("watch") == "1" || req.Param("watch") == "true";

    Responder responder;
    std::optional<int> fault;
    std::string token;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
      token = required_token_;
      for (auto it = faults_.begin(); it != faults_.end(); ++it) {
        if (it->method == req.method && absl::StartsWith(req.path, it->prefix) &&
            (!it->watch_only || watch)) {
          fault = it->status;
          if (--it->count <= 0) faults_.erase(it);
          break;
        }
      }
      if (auto it = responders_.find(req.method + " " + req.path); it != responders_.end()) {
        responder = it->second;
      }
    }
    cv_.notify_all();
    if (fault == kDropConnection) {
      CloseConnectionsFrom(req.remote_port);
      return;  // httplib's write of the (empty) answer fails on the closed socket
    }
    if (fault.has_value()) {
      return Reply(res, *fault, StatusBody(*fault, ReasonFor(*fault), "injected failure"));
    }
    if (!token.empty() && req.bearer_token != token && req.client_cert_cn.empty()) {
      return Reply(res, 401, StatusBody(401, "Unauthorized", "Unauthorized"));
    }
    if (responder) {
      FakeResponse r = responder(req);
      return Reply(res, r.status, r.body);
    }
    auto target = ParseTarget(req.path);
    if (!target.has_value() || req.method != "GET") {
      return Reply(res, 404,
                   StatusBody(404, "NotFound", "the server could not find the requested resource"));
    }
    if (!target->name.empty()) return GetOne(*target, res);
    Filter filter;
    filter.resource = target->resource;
    filter.ns = target->ns;
    if (std::string ls = req.Param("labelSelector"); !ls.empty()) {
      auto sel = selector::Selector::Parse(ls);
      if (!sel.ok()) {
        return Reply(res, 400, StatusBody(400, "BadRequest", FromAbsl(sel.status().message())));
      }
      filter.labels = *std::move(sel);
    }
    for (absl::string_view part :
         absl::StrSplit(req.Param("fieldSelector"), ',', absl::SkipEmpty())) {
      if (absl::ConsumePrefix(&part, "metadata.name=")) {
        filter.name = std::string(part);
      } else if (absl::ConsumePrefix(&part, "metadata.namespace=")) {
        filter.ns = std::string(part);
      } else {
        return Reply(
            res, 400,
            StatusBody(400, "BadRequest", absl::StrCat("unsupported field selector ", part)));
      }
    }
    if (watch) return StartWatch(std::move(filter), req, res);
    size_t limit = 0;
    size_t offset = 0;
    if (std::string l = req.Param("limit"); !l.empty() && !absl::SimpleAtoi(l, &limit)) {
      return Reply(res, 400, StatusBody(400, "BadRequest", "invalid limit"));
    }
    if (std::string c = req.Param("continue"); !c.empty()) {
      std::string decoded;
      if (!absl::Base64Unescape(c, &decoded) || !absl::SimpleAtoi(decoded, &offset)) {
        return Reply(res, 400, StatusBody(400, "BadRequest", "invalid continue token"));
      }
    }
    List(filter, limit, offset,
         absl::StrContains(req.Header("Accept"), "as=PartialObjectMetadataList"), res);
  }

  // Shuts down the server side of the open connections from client port `peer_port` (0: all):
  // the client sees EOF. Found among this process's file descriptors by their addresses (httplib
  // does not expose them); returns how many.
  int CloseConnectionsFrom(int peer_port) const {
    int closed = 0;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return 0;
    while (dirent* entry = ::readdir(dir)) {
      int fd = -1;
      if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == ::dirfd(dir)) continue;
      sockaddr_in local{};
      sockaddr_in peer{};
      socklen_t local_len = sizeof(local);
      socklen_t peer_len = sizeof(peer);
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
          local.sin_family != AF_INET || ntohs(local.sin_port) != port_) {
        continue;
      }
      // The listening socket has no peer.
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
      if (peer_port != 0 && ntohs(peer.sin_port) != peer_port) continue;
      if (::shutdown(fd, SHUT_RDWR) == 0) ++closed;
    }
    ::closedir(dir);
    return closed;
  }

  void Reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }

  void GetOne(const Target& t, httplib::Response& res) {
    std::lock_guard lock(mu_);
    auto& objects = store_[t.resource];
    auto it = objects.find(ObjectKey(t.ns, t.name));
    if (it == objects.end()) {
      return Reply(
          res, 404,
          StatusBody(404, "NotFound", absl::StrCat(t.resource, " \"", t.name, "\" not found")));
    }
    Reply(res, 200, it->second);
  }

  // Pages (limit, continue) are offsets into the sorted matching objects: enough for tests that
  // do not change the store while paging.
  // `metadata_only`: a PartialObjectMetadataList (what kube-apiserver answers to
  // "Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").
  void List(const Filter& filter, size_t limit, size_t offset, bool metadata_only,
            httplib::Response& res) {
    json items = json::array();
    int64_t rv;
    bool more = false;
    {
      std::lock_guard lock(mu_);
      rv = rv_;
      size_t index = 0;
      for (const auto& [key, obj] : store_[filter.resource]) {
        if (!filter.Matches(obj)) continue;
        if (index++ < offset) continue;
        if (limit > 0 && items.size() == limit) {
          more = true;
          break;
        }
        if (metadata_only) {
          items.push_back(json{{"kind", "PartialObjectMetadata"},
                               {"apiVersion", "meta.k8s.io/v1"},
                               {"metadata", obj["metadata"]}});
          continue;
        }
        json item = obj;
        item.erase("kind");
        item.erase("apiVersion");
        items.push_back(std::move(item));
      }
    }
    json metadata = {{"resourceVersion", absl::StrCat(rv)}};
    if (more) metadata["continue"] = absl::Base64Escape(absl::StrCat(offset + limit));
    Reply(res, 200,
          json{{"kind", metadata_only ? std::string("PartialObjectMetadataList")
                                      : KindOf(filter.resource) + "List"},
               {"apiVersion",
                metadata_only ? std::string("meta.k8s.io/v1") : ApiVersionOf(filter.resource)},
               {"metadata", std::move(metadata)},
               {"items", std::move(items)}});
  }

  void StartWatch(Filter filter, const FakeRequest& req, httplib::Response& res) {
    auto watcher = std::make_shared<Watcher>();
    watcher->bookmarks = req.Param("allowWatchBookmarks") == "true";
    std::string rv_text = req.Param("resourceVersion");
    int64_t from = 0;
    if (!rv_text.empty() && !absl::SimpleAtoi(rv_text, &from)) {
      return Reply(
          res, 400,
          StatusBody(400, "BadRequest", absl::StrCat("invalid resourceVersion \"", rv_text, "\"")));
    }
    {
      std::lock_guard lock(mu_);
      if (from > 0 && from < compacted_rv_) {
        std::string msg =
            absl::StrCat("too old resource version: ", from, " (", compacted_rv_, ")");
        if (gone_mode_ == GoneMode::kHttp) return Reply(res, 410, StatusBody(410, "Expired", msg));
        watcher->lines.push_back(EventLine("ERROR", StatusBody(410, "Expired", msg)));
        watcher->closed = true;
      } else if (from > 0) {
        for (const auto& [resource, line_rv, type, obj] : history_) {
          if (resource != filter.resource || line_rv <= from) continue;
          if (filter.Matches(obj)) watcher->lines.push_back(EventLine(type, obj));
        }
      } else {
        for (const auto& [key, obj] : store_[filter.resource]) {
          if (filter.Matches(obj)) watcher->lines.push_back(EventLine("ADDED", obj));
        }
      }
      watcher->filter = std::move(filter);
      if (!watcher->closed) watchers_.push_back(watcher);
    }
    cv_.notify_all();
    res.status = 200;
    res.set_chunked_content_provider(
        "application/json",
        [this, watcher](size_t, httplib::DataSink& sink) {
          std::unique_lock lock(mu_);
          while (true) {
            if (stopping_) return false;
            if (!watcher->lines.empty()) {
              std::deque<std::string> lines;
              lines.swap(watcher->lines);
              lock.unlock();
              for (const auto& line : lines) {
                if (!sink.write(line.data(), line.size())) return false;
              }
              return true;
            }
            if (watcher->closed) {
              lock.unlock();
              sink.done();
              return true;
            }
            cv_.wait_for(lock, std::chrono::milliseconds(100));
            if (watcher->lines.empty() && !watcher->closed && !stopping_) {
              lock.unlock();
              bool alive = sink.is_writable();
              lock.lock();
              if (!alive) return false;
            }
          }
        },
        [this, watcher](bool) {
          {
            std::lock_guard lock(mu_);
            watchers_.erase(std::remove(watchers_.begin(), watchers_.end(), watcher),
                            watchers_.end());
          }
          cv_.notify_all();
        });
  }

  // ---- store (mu_ held by callers)

  void Emit(const std::string& resource, std::string_view type, const json& obj,
            const json* old_obj) {
    history_.push_back({resource, rv_, std::string(type), obj});
    for (auto& w : watchers_) {
      if (w->closed || w->filter.resource != resource) continue;
      bool now = w->filter.Matches(obj);
      bool before = old_obj != nullptr && w->filter.Matches(*old_obj);
      if (type == "MODIFIED" && !before && now) {
        w->lines.push_back(EventLine("ADDED", obj));
      } else if (type == "MODIFIED" && before && !now) {
        w->lines.push_back(EventLine("DELETED", obj));
      } else if (now) {
        w->lines.push_back(EventLine(type, obj));
      }
    }
  }

  int64_t Upsert(std::string_view resource, json obj) {
    int64_t rv;
    {
      std::lock_guard lock(mu_);
      std::string r(resource);
      rv = ++rv_;
      obj["kind"] = KindOf(resource);
      obj["apiVersion"] = ApiVersionOf(resource);
      json& md = obj["metadata"];
      std::string key =
          ObjectKey(StrOf(obj, "metadata", "namespace"), StrOf(obj, "metadata", "name"));
      md["resourceVersion"] = absl::StrCat(rv);
      if (!md.contains("uid")) md["uid"] = absl::StrCat("uid-", key);
      if (!md.contains("creationTimestamp")) md["creationTimestamp"] = "2026-11-28T10:00:00Z";
      auto& objects = store_[r];
      auto it = objects.find(key);
      if (it == objects.end()) {
        objects[key] = obj;
        Emit(r, "ADDED", obj, nullptr);
      } else {
        json old = std::move(it->second);
        it->second = obj;
        Emit(r, "MODIFIED", obj, &old);
      }
    }
    cv_.notify_all();
    return rv;
  }

  int64_t Delete(std::string_view resource, std::string_view ns, std::string_view name) {
    int64_t rv;
    {
      std::lock_guard lock(mu_);
      std::string r(resource);
      auto& objects = store_[r];
      auto it = objects.find(ObjectKey(ns, name));
      if (it == objects.end()) return -1;
      json obj = std::move(it->second);
      objects.erase(it);
      rv = ++rv_;
      obj["metadata"]["resourceVersion"] = absl::StrCat(rv);
      Emit(r, "DELETED", obj, nullptr);
    }
    cv_.notify_all();
    return rv;
  }

  FakeApiServerOptions options_;
  testutil::TempDir dir_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopping_ = false;
  std::string required_token_;
  std::map<std::string, Responder> responders_;  // "METHOD path"
  std::vector<Fault> faults_;
  std::vector<FakeRequest> requests_;
  int64_t rv_ = 100;  // like a real cluster, versions do not start at 1
  int64_t compacted_rv_ = 0;
  GoneMode gone_mode_ = GoneMode::kErrorEvent;
  std::map<std::string, std::map<std::string, json>> store_;  // resource -> "ns/name" -> object
  struct HistoryEntry {
    std::string resource;
    int64_t rv;
    std::string type;
    json object;
  };
  std::vector<HistoryEntry> history_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
};

absl::StatusOr<std::unique_ptr<FakeApiServer>> FakeApiServer::Start(FakeApiServerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Start(); !s.ok()) return s;
  return std::unique_ptr<FakeApiServer>(new FakeApiServer(std::move(impl)));
}

FakeApiServer::FakeApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FakeApiServer::~FakeApiServer() = default;

int FakeApiServer::port() const { return impl_->port_; }
std::string FakeApiServer::url() const { return absl::StrCat("https://127.0.0.1:", port()); }
const std::string& FakeApiServer::ca_file() const { return impl_->options_.ca_file; }
std::string FakeApiServer::ca_pem() const { return testutil::ReadFileOrEmpty(ca_file()); }

ClientConfig FakeApiServer::ClientConfigFor(std::string_view token) const {
  ClientConfig config;
  config.server = url();
  config.ca_file = ca_file();
  config.token = std::string(token);
  config.source = "fake apiserver";
  return config;
}

std::string FakeApiServer::Kubeconfig(std::string_view token, std::string_view ns) const {
  return absl::StrCat("apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n",
                      "- name: fake\n  cluster:\n    server: ", url(),
                      "\n    certificate-authority-data: ", absl::Base64Escape(ca_pem()),
                      "\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n",
                      "    namespace: ", ToAbsl(ns),
                      "\nusers:\n- name: fake\n  user:\n    token: \"", ToAbsl(token), "\"\n");
}

void FakeApiServer::SetRequiredToken(std::string token) {
  std::lock_guard lock(impl_->mu_);
  impl_->required_token_ = std::move(token);
}

void FakeApiServer::Handle(std::string_view method, std::string_view path, Responder responder) {
  std::lock_guard lock(impl_->mu_);
  impl_->responders_[absl::StrCat(ToAbsl(method), " ", ToAbsl(path))] = std::move(responder);
}

void FakeApiServer::FailNext(std::string_view method, std::string_view path_prefix, int status,
                             int count, bool watch_only) {
  std::lock_guard lock(impl_->mu_);
  impl_->faults_.push_back(
      {std::string(method), std::string(path_prefix), status, count, watch_only});
}

void FakeApiServer::DropNext(std::string_view method, std::string_view path_prefix, int count) {
  std::lock_guard lock(impl_->mu_);
  impl_->faults_.push_back(
      {std::string(method), std::string(path_prefix), kDropConnection, count, false});
}

int FakeApiServer::CloseConnections() { return impl_->CloseConnectionsFrom(0); }

int64_t FakeApiServer::Upsert(std::string_view resource, nlohmann::json object) {
  return impl_->Upsert(resource, std::move(object));
}

int64_t FakeApiServer::Delete(std::string_view resource, std::string_view ns,
                              std::string_view name) {
  return impl_->Delete(resource, ns, name);
}

nlohmann::json FakeApiServer::Get(std::string_view resource, std::string_view ns,
                                  std::string_view name) const {
  std::lock_guard lock(impl_->mu_);
  auto r = impl_->store_.find(std::string(resource));
  if (r == impl_->store_.end()) return nullptr;
  auto it = r->second.find(ObjectKey(ns, name));
  return it == r->second.end() ? json(nullptr) : it->second;
}

int64_t FakeApiServer::resource_version() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->rv_;
}

int FakeApiServer::Bookmark(std::string_view resource) {
  int n = 0;
  {
    std::lock_guard lock(impl_->mu_);
    json obj = {{"kind", KindOf(resource)},
                {"apiVersion", ApiVersionOf(resource)},
                {"metadata",
                 {{"resourceVersion", absl::StrCat(impl_->rv_)}, {"creationTimestamp", nullptr}}}};
    for (auto& w : impl_->watchers_) {
      if (w->closed || !w->bookmarks || w->filter.resource != resource) continue;
      w->lines.push_back(EventLine("BOOKMARK", obj));
      ++n;
    }
  }
  impl_->cv_.notify_all();
  return n;
}

void FakeApiServer::Compact() {
  std::lock_guard lock(impl_->mu_);
  impl_->compacted_rv_ = impl_->rv_;
  impl_->history_.clear();
}

void FakeApiServer::SetGoneMode(GoneMode mode) {
  std::lock_guard lock(impl_->mu_);
  impl_->gone_mode_ = mode;
}

int FakeApiServer::ExpireWatches(std::string_view resource) {
  int n = 0;
  {
    std::lock_guard lock(impl_->mu_);
    impl_->compacted_rv_ = impl_->rv_;
    impl_->history_.clear();
    for (auto& w : impl_->watchers_) {
      if (w->closed || w->filter.resource != resource) continue;
      w->lines.push_back(EventLine(
          "ERROR",
          StatusBody(410, "Expired",
                     absl::StrCat("The resourceVersion for the provided watch is too old."))));
      w->closed = true;
      ++n;
    }
  }
  impl_->cv_.notify_all();
  return n;
}

int FakeApiServer::CloseWatches(std::string_view resource) {
  int n = 0;
  {
    std::lock_guard lock(impl_->mu_);
    for (auto& w : impl_->watchers_) {
      if (w->closed || w->filter.resource != resource) continue;
      w->closed = true;
      ++n;
    }
  }
  impl_->cv_.notify_all();
  return n;
}

std::vector<FakeRequest> FakeApiServer::Requests() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->requests_;
}

namespace {
bool IsWatch(const FakeRequest& r) {
  std::string w = r.Param("watch");
  return w == "1" || w == "true";
}
int Count(const std::vector<FakeRequest>& requests, std::string_view method,
          std::string_view prefix, FakeApiServer::Kind kind) {
  int n = 0;
  for (const auto& r : requests) {
    if (r.method != method || !absl::StartsWith(r.path, ToAbsl(prefix))) continue;
    if (kind == FakeApiServer::Kind::kWatch && !IsWatch(r)) continue;
    if (kind == FakeApiServer::Kind::kNonWatch && IsWatch(r)) continue;
    ++n;
  }
  return n;
}
}  // namespace

int FakeApiServer::CountRequests(std::string_view method, std::string_view path_prefix,
                                 Kind kind) const {
  std::lock_guard lock(impl_->mu_);
  return Count(impl_->requests_, method, path_prefix, kind);
}

int FakeApiServer::OpenWatches(std::string_view resource) const {
  std::lock_guard lock(impl_->mu_);
  int n = 0;
  for (const auto& w : impl_->watchers_) n += (!w->closed && w->filter.resource == resource);
  return n;
}

bool FakeApiServer::WaitForOpenWatches(std::string_view resource, int n,
                                       absl::Duration timeout) const {
  std::unique_lock lock(impl_->mu_);
  return impl_->cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] {
    int open = 0;
    for (const auto& w : impl_->watchers_) open += (!w->closed && w->filter.resource == resource);
    return open >= n;
  });
}

bool FakeApiServer::WaitForRequests(std::string_view method, std::string_view path_prefix, int n,
                                    Kind kind, absl::Duration timeout) const {
  std::unique_lock lock(impl_->mu_);
  return impl_->cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] {
    return Count(impl_->requests_, method, path_prefix, kind) >= n;
  });
}

nlohmann::json MakePod(const PodSpec& spec) {
  json containers = json::array();
  for (size_t i = 0; i < spec.cpu_requests.size(); ++i) {
    json c = {{"name", i == 0 ? "kserve-container" : absl::StrCat("sidecar-", i)},
              {"image", "example/image:1"}};
    if (!spec.cpu_requests[i].empty()) {
      c["resources"] = {{"requests", {{"cpu", spec.cpu_requests[i]}, {"memory", "1Gi"}}}};
    } else {
      c["resources"] = json::object();
    }
    containers.push_back(std::move(c));
  }
  json labels = json::object();
  for (const auto& [k, v] : spec.labels) labels[k] = v;
  json status = {{"phase", spec.phase}};
  if (!spec.start_time.empty()) status["startTime"] = spec.start_time;
  if (spec.phase != "Pending") {
    status["conditions"] =
        json::array({{{"type", "Initialized"}, {"status", "True"}},
                     {{"type", "Ready"}, {"status", spec.ready ? "True" : "False"}},
                     {{"type", "ContainersReady"}, {"status", spec.ready ? "True" : "False"}},
                     {{"type", "PodScheduled"}, {"status", "True"}}});
    status["podIP"] = "10.244.0.10";
  } else {
    status["conditions"] = json::array({{{"type", "PodScheduled"}, {"status", "False"}}});
  }
  return json{
      {"kind", "Pod"},
      {"apiVersion", "v1"},
      {"metadata", {{"name", spec.name}, {"namespace", spec.ns}, {"labels", std::move(labels)}}},
      {"spec", {{"containers", std::move(containers)}, {"nodeName", "node-1"}}},
      {"status", std::move(status)}};
}

nlohmann::json MakeObject(std::string_view ns, std::string_view name,
                          const std::map<std::string, std::string>& labels) {
  json l = json::object();
  for (const auto& [k, v] : labels) l[k] = v;
  json metadata = {{"name", name}, {"labels", std::move(l)}};
  if (!ns.empty()) metadata["namespace"] = ns;
  return json{{"metadata", std::move(metadata)}, {"spec", json::object()}};
}

nlohmann::json MakeConfigMap(std::string_view ns, std::string_view name,
                             const std::map<std::string, std::string>& data) {
  json d = json::object();
  for (const auto& [k, v] : data) d[k] = v;
  return json{{"kind", "ConfigMap"},
              {"apiVersion", "v1"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"data", std::move(d)}};
}

}  // namespace aa::kube::testing
