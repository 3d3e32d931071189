#pragma once
// The HTTP face of autoscale-sim (cpp-httplib stays inside server.cc):
//   GET  /metrics                             Prometheus text exposition (see exposition.h)
//   GET  /healthz                             "ok"
//   GET  /api/v1/services                     JSON: every service with its pods
//   GET  /api/v1/services/{namespace}/{name}  JSON: one service
//   PUT  /api/v1/services/{namespace}/{name}/replicas
//                                             body {"replicas": N}, N integer in 0..1000
//   PUT  /api/v1/services/{namespace}/{name}/load
//                                             body {"rps": X} (X >= 0) or {"rps": null} (back to
//                                             profile)
// Errors are JSON {"error": "...", "code": N}: 400 for a bad body or value, 404 for an unknown
// service. A successful PUT answers 200 with the service's JSON state.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "demo/sim/model.h"
#include "nlohmann/json.hpp"

namespace aa::sim {

// JSON state of one service / all services (the bodies of the GET endpoints).
nlohmann::json ServiceJson(const ServiceView& s);
nlohmann::json ServicesJson(const Simulator& sim);

class SimHttpServer {
 public:
  // Binds `listen` ("host:port", port 0 = any free port; "[::1]:port" for IPv6) and serves on a
  // background thread pool. `sim` and `mu` are not owned and must outlive the server; the server
  // holds `mu` whenever it touches `sim`. InvalidArgument for a malformed address, Unavailable if
  // the bind fails.
  static absl::StatusOr<std::unique_ptr<SimHttpServer>> Start(std::string_view listen,
                                                              Simulator* sim, absl::Mutex* mu);
  ~SimHttpServer();  // Stop()s.
  SimHttpServer(const SimHttpServer&) = delete;
  SimHttpServer& operator=(const SimHttpServer&) = delete;

  // The bound port and "host:port" (host as given).
  int port() const { return port_; }
  std::string address() const;

  // Stops accepting and waits for the serving thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit SimHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string host_;
  int port_ = 0;
};

}  // namespace aa::sim
