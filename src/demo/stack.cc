#include "demo/stack.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/log.h"
#include "net/call.h"

namespace aa::demo {
namespace {

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status WaitForHttp(int port, const std::string& path, int want_status,
                         absl::Duration timeout) {
  int last = 0;
  std::string last_error = "no answer";
  bool ok = proc::PollUntil(
      [&] {
        auto r = net::HttpCall("GET", "127.0.0.1", port, path, "", absl::Seconds(2));
        if (!r.ok()) {
          last_error = std::string(r.status().message());
          return false;
        }
        last = r->status;
        return r->status == want_status;
      },
      timeout);
  if (ok) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("http://127.0.0.1:", port, path, " did not answer ", want_status, " within ",
                   absl::FormatDuration(timeout),
                   " (last: ", last ? absl::StrCat("HTTP ", last) : last_error, ")"));
}

absl::StatusOr<std::unique_ptr<Stack>> Stack::Start(StackOptions options) {
  std::unique_ptr<Stack> stack(new Stack(std::move(options)));
  absl::Status s = stack->Init();
  if (!s.ok()) {
    stack->Stop();
    return s;
  }
  return stack;
}

std::string Stack::prometheus_url() const {
  if (!options_.prometheus_url.empty()) return options_.prometheus_url;
  return absl::StrCat("http://127.0.0.1:", prometheus_port_);
}

absl::Status Stack::Init() {
  work_dir_ = options_.work_dir;
  if (work_dir_.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "autoscale-stack-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return absl::UnavailableError("mkdtemp failed");
    work_dir_ = tmpl;
    own_work_dir_ = true;
  } else {
    std::filesystem::create_directories(work_dir_);
  }
  if (!options_.prometheus_url.empty()) {
    return options_.start_adapter ? StartAdapter() : absl::OkStatus();
  }

  if (!options_.prometheus_config_yaml.empty()) {
    absl::Status prom = FirstStartPrometheus(options_.prometheus_config_yaml);
    if (!prom.ok()) return prom;
    return options_.start_adapter ? StartAdapter() : absl::OkStatus();
  }

  std::vector<std::string> sim_argv = {options_.bin_dir + "/autoscale-sim", "--listen=127.0.0.1:0"};
  if (!options_.sim_scenario_yaml.empty()) {
    absl::Status w = WriteFile(work_dir_ + "/sim-scenario.yaml", options_.sim_scenario_yaml);
    if (!w.ok()) return w;
    sim_argv.push_back("--scenario=" + work_dir_ + "/sim-scenario.yaml");
  }
  sim_argv.insert(sim_argv.end(), options_.sim_args.begin(), options_.sim_args.end());
  auto sim = proc::Subprocess::Start({sim_argv, work_dir_ + "/sim.log", ""});
  if (!sim.ok()) return sim.status();
  sim_ = *std::move(sim);
  auto sim_port = sim_->WaitForListeningPort("http", options_.start_timeout);
  if (!sim_port.ok()) return sim_port.status();
  sim_port_ = *sim_port;

  std::string interval = FormatGoDuration(options_.scrape_interval);
  std::string config = absl::StrCat("global:\n  scrape_interval: ", interval,
                                    "\n  evaluation_interval: ", interval, "\nscrape_configs:\n");
  std::vector<std::string> jobs = {"kserve-sim"};
  jobs.insert(jobs.end(), options_.extra_scrape_jobs.begin(), options_.extra_scrape_jobs.end());
  for (const std::string& job : jobs) {
    absl::StrAppend(&config, "- job_name: ", job,
                    "\n  static_configs:\n  - targets: ['127.0.0.1:", sim_port_, "']\n");
  }
  absl::Status prom = FirstStartPrometheus(config);
  if (!prom.ok()) return prom;
  if (options_.start_adapter) return StartAdapter();
  return absl::OkStatus();
}

absl::Status Stack::FirstStartPrometheus(const std::string& config) {
  auto port = proc::PickUnusedPort();
  if (!port.ok()) return port.status();
  prometheus_port_ = *port;
  absl::Status written = WriteFile(work_dir_ + "/prometheus.yml", config);
  if (!written.ok()) return written;
  return StartPrometheus();
}

absl::Status Stack::StartPrometheus() {
  std::vector<std::string> argv = {
      options_.prometheus_bin, "--config.file=" + work_dir_ + "/prometheus.yml",
      "--storage.tsdb.path=" + work_dir_ + "/prometheus-data",
      absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port_), "--log.level=warn"};
  auto p = proc::Subprocess::Start({argv, work_dir_ + "/prometheus.log", work_dir_});
  if (!p.ok()) return p.status();
  prometheus_ = *std::move(p);
  absl::Status ready = WaitForHttp(prometheus_port_, "/-/ready", 200, options_.start_timeout);
  if (!ready.ok()) {
    return absl::UnavailableError(absl::StrCat("prometheus did not become ready: ", ready.message(),
                                               "; last log lines:\n", prometheus_->LogTail()));
  }
  return absl::OkStatus();
}

void Stack::StopPrometheus() {
  if (prometheus_) prometheus_->Stop();
  prometheus_.reset();
}

absl::Status Stack::StartAdapter(const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {
      options_.bin_dir + "/autoscale-adapter", "--prometheus_url=" + prometheus_url(),
      "--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0", "--https_listen=127.0.0.1:0",
      // Plaintext gRPC on loopback unless the config gives keda.tls (the demo's emulated KEDA
      // dials it so).
      "--grpc_insecure",
      // A laptop demo has no Kubernetes API to ask (TokenReview, SubjectAccessReview); tests that
      // exercise the security pass --authentication=on/--authorization=on in adapter_args (the
      // last occurrence of a flag wins).
      "--authentication=off", "--authorization=off"};
  if (!options_.adapter_config_yaml.empty()) {
    absl::Status w = WriteFile(work_dir_ + "/adapter.yaml", options_.adapter_config_yaml);
    if (!w.ok()) return w;
    argv.push_back("--config=" + work_dir_ + "/adapter.yaml");
  }
  argv.insert(argv.end(), options_.adapter_args.begin(), options_.adapter_args.end());
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  // A restarted adapter logs to a fresh adapter.log (the ports are read from it); the previous
  // run's log stays as adapter.previous.log.
  const std::string log = work_dir_ + "/adapter.log";
  if (std::error_code ec; std::filesystem::exists(log, ec)) {
    std::filesystem::rename(log, work_dir_ + "/adapter.previous.log", ec);
  }
  auto a = proc::Subprocess::Start({argv, log, ""});
  if (!a.ok()) return a.status();
  adapter_ = *std::move(a);
  auto port = adapter_->WaitForListeningPort("http", options_.start_timeout);
  if (!port.ok()) return port.status();
  adapter_port_ = *port;
  auto grpc_port = adapter_->WaitForListeningPort("grpc", options_.start_timeout);
  if (!grpc_port.ok()) return grpc_port.status();
  adapter_grpc_port_ = *grpc_port;
  bool https_off = false;
  for (const std::string& arg : argv) https_off = https_off || arg == "--https_listen=off";
  adapter_https_port_ = 0;
  if (!https_off) {
    auto https_port = adapter_->WaitForListeningPort("https", options_.start_timeout);
    if (!https_port.ok()) return https_port.status();
    adapter_https_port_ = *https_port;
  }
  return absl::OkStatus();
}

int Stack::StopAdapter() {
  int code = adapter_ ? adapter_->Stop() : 0;
  adapter_.reset();
  return code;
}

void Stack::Stop() {
  StopAdapter();
  StopPrometheus();
  if (sim_) sim_->Stop();
  sim_.reset();
  if (own_work_dir_ && !work_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
    own_work_dir_ = false;
  }
}

Stack::~Stack() { Stop(); }

}  // namespace aa::demo
