#include "http/readiness.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "pipeline/sampler.h"
#include "pipeline/view.h"

namespace aa::http {
namespace {

net::HttpResponse Text(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  r.route = "/readyz";
  return r;
}

std::string Line(const std::string& name, const absl::Status& status) {
  if (status.ok()) return absl::StrCat("[+]", name, " ok\n");
  return absl::StrCat("[-]", name, " failed: ", status.message(), "\n");
}

}  // namespace

void Readiness::Add(std::string name, Check check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

absl::Status Readiness::Status() const {
  for (const auto& [name, check] : checks_) {
    absl::Status s = check();
    if (!s.ok()) return absl::UnavailableError(absl::StrCat(name, ": ", s.message()));
  }
  return absl::OkStatus();
}

bool Readiness::IsReadyzPath(std::string_view path) {
  return path == "/readyz" || absl::StartsWith(ToAbsl(path), "/readyz/");
}

net::HttpResponse Readiness::Handle(const net::HttpRequest& request) const {
  std::string_view path = request.path;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path != "/readyz") {
    std::string_view name = path.substr(std::string_view("/readyz/").size());
    for (const auto& [check_name, check] : checks_) {
      if (check_name != name) continue;
      absl::Status s = check();
      return s.ok() ? Text(200, "ok") : Text(503, Line(check_name, s));
    }
    return Text(404, absl::StrCat("no readiness check \"", ToAbsl(name), "\"\n"));
  }
  std::string list;
  bool ready = true;
  for (const auto& [name, check] : checks_) {
    absl::Status s = check();
    ready = ready && s.ok();
    list += Line(name, s);
  }
  if (!ready) return Text(503, list + "readyz check failed\n");
  if (request.Param("verbose") != nullptr) return Text(200, list + "readyz check passed\n");
  return Text(200, "ok");
}

std::unique_ptr<Readiness> Readiness::ForView(const pipeline::View& view) {
  auto readiness = std::make_unique<Readiness>();
  readiness->Add("prometheus", [view] { return view.ReadyStatus(); });
  return readiness;
}

void AddSamplerCheck(const pipeline::Sampler& sampler, Readiness& readiness) {
  readiness.Add("prometheus", [&sampler] { return sampler.ReadyStatus(); });
}

void AddBackendChecks(const pipeline::Sampler& sampler, Readiness& readiness) {
  for (const std::string& name : sampler.backends().Names()) {
    readiness.Add(absl::StrCat("prometheus-", name),
                  [&sampler, name] { return sampler.BackendReadyStatus(name); });
  }
}

}  // namespace aa::http
