#include "demo/sim/server.h"

#include <chrono>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/strings.h"
#include "demo/sim/exposition.h"
#include "httplib.h"

namespace aa::sim {
namespace {

constexpr char kJson[] = "application/json";

void SendError(httplib::Response& res, int code, std::string_view message) {
  res.status = code;
  res.set_content(nlohmann::json{{"error", std::string(message)}, {"code", code}}.dump(), kJson);
}

void SendStatus(httplib::Response& res, const absl::Status& st) {
  const int code = st.code() == absl::StatusCode::kNotFound          ? 404
                   : st.code() == absl::StatusCode::kInvalidArgument ? 400
                                                                     : 500;
  SendError(res, code, FromAbsl(st.message()));
}

double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

}  // namespace

nlohmann::json ServiceJson(const ServiceView& s) {
  nlohmann::json pods = nlohmann::json::array();
  for (const PodView& p : s.pods) {
    pods.push_back({{"name", p.name},
                    {"node", p.node},
                    {"ready", p.ready},
                    {"draining", p.draining},
                    {"created", UnixSeconds(p.created)},
                    {"ready_at", UnixSeconds(p.ready_at)},
                    {"in_flight", p.in_flight},
                    {"waiting", p.waiting_share},
                    {"requests", p.requests},
                    {"cpu_seconds", p.cpu_seconds},
                    {"throttled_seconds", p.throttled_seconds},
                    {"memory_bytes", p.memory_bytes},
                    {"kv_cache_usage", p.kv_cache_usage}});
  }
  nlohmann::json out = {
      {"namespace", s.spec->ns},
      {"name", s.spec->name},
      {"model_name", s.spec->ModelName()},
      {"container_concurrency", s.spec->container_concurrency},
      {"target_utilization_percent", s.spec->target_utilization_percent},
      {"cpu_request", s.spec->cpu_request},
      {"cpu_limit", s.spec->cpu_limit},
      {"service_time_seconds", absl::ToDoubleSeconds(s.spec->service_time)},
      {"cpu_per_request", s.spec->cpu_per_request},
      {"idle_cpu", s.spec->idle_cpu},
      {"desired_replicas", s.desired_replicas},
      {"ready_replicas", s.ready_replicas},
      {"draining_pods", s.draining_pods},
      {"arrival_rate", s.arrival_rate},
      {"rps_override", s.rps_override ? nlohmann::json(*s.rps_override) : nlohmann::json(nullptr)},
      {"queue_length", s.queue_length},
      {"in_flight", s.in_flight},
      {"arrived", s.arrived},
      {"completed", s.completed},
      {"queued", s.queued},
      {"dropped", s.dropped},
      {"concurrency_seconds", s.concurrency_seconds},
      {"pod_seconds", s.pod_seconds},
      {"cpu_seconds", s.cpu_seconds},
      {"first_arrival_seconds",
       s.first_arrival >= 0 ? nlohmann::json(s.first_arrival) : nlohmann::json(nullptr)},
      {"first_ready_seconds",
       s.first_ready >= 0 ? nlohmann::json(s.first_ready) : nlohmann::json(nullptr)},
      {"first_waits_seconds",
       s.first_waits ? nlohmann::json(*s.first_waits) : nlohmann::json::array()},
      {"pods", std::move(pods)}};
  if (s.ttft_seconds != nullptr) {
    // Sparse: [lower, upper, count] of every non-empty bucket (the overflow bucket's upper is its
    // lower).
    const Histogram& h = *s.ttft_seconds;
    nlohmann::json buckets = nlohmann::json::array();
    for (size_t i = 0; i < h.counts.size(); ++i) {
      if (h.counts[i] == 0) continue;
      const double lower = i == 0 ? 0 : (*h.bounds)[i - 1];
      const double upper = i < h.bounds->size() ? (*h.bounds)[i] : lower;
      buckets.push_back({lower, upper, h.counts[i]});
    }
    out["ttft_buckets"] = std::move(buckets);
  }
  return out;
}

nlohmann::json ServicesJson(const Simulator& sim) {
  nlohmann::json services = nlohmann::json::array();
  for (const ServiceView& s : sim.Services()) services.push_back(ServiceJson(s));
  return {{"time_seconds", absl::ToDoubleSeconds(sim.elapsed())},
          {"services", std::move(services)}};
}

struct SimHttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  absl::Mutex* mu = nullptr;
  Simulator* sim ABSL_PT_GUARDED_BY(mu) = nullptr;

  // Parses a JSON object body or answers 400.
  bool ParseBody(const httplib::Request& req, httplib::Response& res, nlohmann::json* body) {
    *body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (body->is_discarded() || !body->is_object()) {
      SendError(res, 400, "body must be a JSON object");
      return false;
    }
    return true;
  }

  void Reply(const std::string& ns, const std::string& name, httplib::Response& res)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    absl::StatusOr<ServiceView> v = sim->Service(ns, name);
    if (!v.ok()) return SendStatus(res, v.status());
    res.set_content(ServiceJson(*v).dump(), kJson);
  }

  void Register() {
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::string text;
      {
        absl::MutexLock lock(mu);
        text = RenderMetrics(*sim);
      }
      res.set_content(text, kExpositionContentType);
    });
    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    server.Get("/api/v1/services", [this](const httplib::Request&, httplib::Response& res) {
      absl::MutexLock lock(mu);
      res.set_content(ServicesJson(*sim).dump(), kJson);
    });
    server.Get(R"(/api/v1/services/([^/]+)/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 absl::MutexLock lock(mu);
                 Reply(req.matches[1], req.matches[2], res);
               });
    server.Put(R"(/api/v1/services/([^/]+)/([^/]+)/replicas)", [this](const httplib::Request& req,
                                                                      httplib::Response& res) {
      const std::string ns = req.matches[1], name = req.matches[2];
      nlohmann::json body;
      if (!ParseBody(req, res, &body)) return;
      const auto it = body.find("replicas");
      if (it == body.end()) return SendError(res, 400, "missing field \"replicas\"");
      const nlohmann::json& r = *it;
      double value = r.is_number() ? r.get<double>() : std::nan("");
      if (!r.is_number() || std::floor(value) != value || value < 0 || value > kMaxReplicas) {
        return SendError(
            res, 400,
            absl::StrCat("replicas = ", r.dump(), ": must be an integer in 0..", kMaxReplicas));
      }
      absl::MutexLock lock(mu);
      if (absl::Status st = sim->SetReplicas(ns, name, static_cast<int>(value)); !st.ok()) {
        return SendStatus(res, st);
      }
      LogInfo("replicas set",
              {{"namespace", ns}, {"service", name}, {"replicas", static_cast<int>(value)}});
      Reply(ns, name, res);
    });
    server.Put(R"(/api/v1/services/([^/]+)/([^/]+)/load)", [this](const httplib::Request& req,
                                                                  httplib::Response& res) {
      const std::string ns = req.matches[1], name = req.matches[2];
      nlohmann::json body;
      if (!ParseBody(req, res, &body)) return;
      const auto it = body.find("rps");
      if (it == body.end())
        return SendError(res, 400, "missing field \"rps\" (a number >= 0, or null)");
      std::optional<double> rps;
      if (it->is_number()) {
        rps = it->get<double>();
      } else if (!it->is_null()) {
        return SendError(res, 400,
                         absl::StrCat("rps = ", it->dump(), ": must be a number >= 0 or null"));
      }
      absl::MutexLock lock(mu);
      if (absl::Status st = sim->SetLoadOverride(ns, name, rps); !st.ok())
        return SendStatus(res, st);
      LogInfo(
          "load set",
          {{"namespace", ns}, {"service", name}, {"rps", rps ? absl::StrCat(*rps) : "profile"}});
      Reply(ns, name, res);
    });
    server.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
          SendError(res, 500, "internal error");
        });
  }
};

SimHttpServer::SimHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SimHttpServer::~SimHttpServer() { Stop(); }

std::string SimHttpServer::address() const {
  return host_.find(':') != std::string::npos ? absl::StrCat("[", host_, "]:", port_)
                                              : absl::StrCat(host_, ":", port_);
}

absl::StatusOr<std::unique_ptr<SimHttpServer>> SimHttpServer::Start(std::string_view listen,
                                                                    Simulator* sim,
                                                                    absl::Mutex* mu) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string_view::npos ||
      !absl::SimpleAtoi(ToAbsl(listen.substr(colon + 1)), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", ToAbsl(listen), "\": expected host:port"));
  }
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";

  auto impl = std::make_unique<Impl>();
  impl->mu = mu;
  impl->sim = sim;
  impl->Register();
  // httplib's default also sets SO_REUSEPORT, which would let a second simulator bind the same port
  // silently.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  if (port == 0) {
    port = impl->server.bind_to_any_port(host);
    if (port <= 0) {
      return absl::UnavailableError(absl::StrCat("cannot bind ", host, ":0"));
    }
  } else if (!impl->server.bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot bind ", ToAbsl(listen)));
  }
  std::unique_ptr<SimHttpServer> out(new SimHttpServer(std::move(impl)));
  out->host_ = host;
  out->port_ = port;
  Impl* raw = out->impl_.get();
  raw->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs, so do not hand out a server that could not be
  // stopped.
  for (int i = 0; i < 5000 && !raw->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return out;
}

void SimHttpServer::Stop() {
  if (impl_ && impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

}  // namespace aa::sim
