#pragma once
// The whole local stack on loopback: the KServe simulator, a real Prometheus scraping it, and the
// adapter. Used by the demo (the README's main job) and by the integration tests, so both run
// exactly the same thing.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "demo/proc/subprocess.h"

namespace aa::demo {

struct StackOptions {
  std::string bin_dir;  // holds autoscale-sim and autoscale-adapter
  std::string prometheus_bin = "/usr/bin/prometheus";
  // Where logs, configs and Prometheus' data go. Empty: a new temporary directory, removed when the
  // stack stops.
  std::string work_dir;
  absl::Duration scrape_interval = absl::Seconds(1);
  // Names of more Prometheus scrape jobs of the same simulator target besides `kserve-sim`: every
  // series is then stored once per job, differing only in the `job` label (as when two scrape
  // configs collect the same exporter).
  std::vector<std::string> extra_scrape_jobs;
  // Non-empty: Prometheus' whole configuration (prometheus.yml) instead of the simulator's scrape
  // jobs, and no simulator is started (sim_port() is 0); scrape_interval and extra_scrape_jobs are
  // then unused. For benchmarks that serve their own exposition.
  std::string prometheus_config_yaml;
  // Adapter config text; empty: the adapter's embedded default. --prometheus-url is always passed.
  std::string adapter_config_yaml;
  // Simulator scenario YAML (src/sim/scenario.h); empty: the simulator's built-in scenario.
  std::string sim_scenario_yaml;
  std::vector<std::string> sim_args;      // extra flags for autoscale-sim
  std::vector<std::string> adapter_args;  // extra flags for autoscale-adapter
  // Non-empty: the adapter reads this already running Prometheus (another stack's, e.g. a second
  // adapter replica), and neither the simulator nor a Prometheus is started (sim_port() and
  // prometheus_port() are 0; prometheus_url() is this).
  std::string prometheus_url;
  bool start_adapter = true;
  absl::Duration start_timeout = absl::Seconds(30);
};

// Not thread-safe. Destruction stops every process and removes a temporary work dir.
class Stack {
 public:
  // Starts the simulator, Prometheus (waits for /-/ready) and the adapter (waits for its port). Any
  // failure stops what was started and returns the cause with the failing program's last log lines.
  static absl::StatusOr<std::unique_ptr<Stack>> Start(StackOptions options);
  ~Stack();

  int sim_port() const { return sim_port_; }
  int prometheus_port() const { return prometheus_port_; }
  int adapter_port() const { return adapter_port_; }            // plain HTTP: /metrics, health
  int adapter_grpc_port() const { return adapter_grpc_port_; }  // KEDA external scaler (plaintext)
  // Kubernetes metrics APIs and the query API (HTTPS, self-signed certificate; no credentials
  // needed: the stack passes --authentication=off --authorization=off unless adapter_args turn
  // them on); 0 with --https_listen=off.
  int adapter_https_port() const { return adapter_https_port_; }
  std::string prometheus_url() const;
  const std::string& work_dir() const { return work_dir_; }

  // Stops Prometheus (the adapter keeps running), and starts it again on the same port and data.
  void StopPrometheus();
  absl::Status StartPrometheus();

  // Starts the adapter (if start_adapter was false, or after StopAdapter), with extra flags.
  absl::Status StartAdapter(const std::vector<std::string>& extra_args = {});
  int StopAdapter();
  proc::Subprocess* adapter() { return adapter_.get(); }
  proc::Subprocess* prometheus() { return prometheus_.get(); }

  // Stops everything (adapter first). Idempotent.
  void Stop();

 private:
  explicit Stack(StackOptions options) : options_(std::move(options)) {}
  absl::Status Init();
  // Picks Prometheus' port, writes `config` as its prometheus.yml and starts it.
  absl::Status FirstStartPrometheus(const std::string& config);

  StackOptions options_;
  std::string work_dir_;
  bool own_work_dir_ = false;
  int sim_port_ = 0;
  int prometheus_port_ = 0;
  int adapter_port_ = 0;
  int adapter_grpc_port_ = 0;
  int adapter_https_port_ = 0;
  std::unique_ptr<proc::Subprocess> sim_;
  std::unique_ptr<proc::Subprocess> prometheus_;
  std::unique_ptr<proc::Subprocess> adapter_;
};

// Polls http://127.0.0.1:port/path until it answers HTTP `want_status` or `timeout` passes.
absl::Status WaitForHttp(int port, const std::string& path, int want_status,
                         absl::Duration timeout);

}  // namespace aa::demo
