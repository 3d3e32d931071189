#pragma once
// Readiness: the named checks behind /readyz, answered the way kube-apiserver answers its own.
//
//   GET /readyz            200 "ok" when every check passes; otherwise 503 with one line per check,
//                          "[+]<name> ok" or "[-]<name> failed: <reason>", then
//                          "readyz check failed"
//   GET /readyz?verbose    the per-check list on success too, ending "readyz check passed"
//   GET /readyz/<name>     that check alone: 200 "ok", or 503 "[-]<name> failed: <reason>"; 404
//                          for a name that is not a check
// Readiness is about the adapter's own state (its sources answered once), never about whether a
// workload has data yet. /healthz and /livez do not use it.
//
// Checks are added before serving; Handle() and Status() are then thread-safe (they run the checks,
// which must be thread-safe and quick: they read state, they do no I/O).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "net/server.h"

namespace aa::pipeline {
class Sampler;
class View;
}  // namespace aa::pipeline

namespace aa::http {

class Readiness {
 public:
  // OK when ready; otherwise the reason is the status message.
  using Check = std::function<absl::Status()>;

  // Adds a check (names: lowercase words with '-', unique). Not thread-safe: call before serving.
  void Add(std::string name, Check check);

  // OK when every check passes, else Unavailable naming the first failing check and its reason.
  absl::Status Status() const;

  // Answers /readyz and /readyz/<name> (see above); route "/readyz".
  net::HttpResponse Handle(const net::HttpRequest& request) const;

  // A Readiness with the pipeline's check alone ("prometheus": View::ReadyStatus()). `view` is
  // copied (a view is a handle).
  static std::unique_ptr<Readiness> ForView(const pipeline::View& view);

  // Whether `path` is /readyz or below it.
  static bool IsReadyzPath(std::string_view path);

 private:
  std::vector<std::pair<std::string, Check>> checks_;
};

// The sampler's check, named "prometheus": Sampler::ReadyStatus().
void AddSamplerCheck(const pipeline::Sampler& sampler, Readiness& readiness);
// One check per backend of the sampler, named "prometheus-<backend>":
// Sampler::BackendReadyStatus(), so a backend that never answered fails alone.
void AddBackendChecks(const pipeline::Sampler& sampler, Readiness& readiness);

}  // namespace aa::http
