#pragma once
// Reloading the configuration file while running.
//
// ConfigReloader watches the file: every `check_interval` it stats the path (following symlinks,
// so both a plain rewrite and a Kubernetes ConfigMap volume's swap of its `..data` symlink to a
// new directory show as a new inode, size or modification time), and when that changed reads the
// file and reloads it if its content changed (hash). Check() (SIGHUP) reads and compares at once.
// A reload parses the text with `parse` (the same flag overrides and validation as at start): a
// valid config goes to `apply`; an invalid one (or an unreadable file) changes nothing, logs the
// error with file, line and field, and sets the gauge below to 0 until a reload succeeds.
//
// Self-metrics: autoscale_adapter_config_last_reload_successful (1/0),
// autoscale_adapter_config_last_reload_success_timestamp_seconds (the start counts as one), and
// autoscale_adapter_config_reloads_total{outcome=success|failure}.
//
// Thread-safe: Check() and the watch thread run one at a time.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "config/config.h"

namespace prometheus {
class Gauge;
class Counter;
class Registry;
}  // namespace prometheus

namespace aa::app {

// The fields of `next` that differ from `running` and that a running adapter cannot change (it
// keeps the running value until restarted), by their YAML paths ("prometheus.url",
// "sampling.warmNamespaces", "keda.listen"...). Everything else reloads: metrics, rules,
// externalRules, resourceRules and sampling.interval, maxAge, demandTTL and firstSampleTimeout.
std::vector<std::string> RestartOnlyChanges(const config::Config& running,
                                            const config::Config& next);

struct ConfigReloaderOptions {
  std::string path;  // the config file (or a symlink to it)
  // The file's text -> the effective config, as at start.
  std::function<absl::StatusOr<config::Config>(std::string_view text)> parse;
  // Applies a valid new config (on the thread that found it).
  std::function<void(const config::Config&)> apply;
  Clock* clock = &RealClock::Get();                  // the success timestamp
  absl::Duration check_interval = absl::Seconds(5);  // the watch; <= 0: no watch thread
  prometheus::Registry* registry = nullptr;          // the self-metrics (may be null)
};

class ConfigReloader {
 public:
  enum class Outcome { kUnchanged, kApplied, kFailed };

  // Reads the file once to know the running content (an error: the file the adapter just loaded is
  // gone, and the reloader starts without it, reloading whatever appears).
  explicit ConfigReloader(ConfigReloaderOptions options);
  ~ConfigReloader();
  ConfigReloader(const ConfigReloader&) = delete;
  ConfigReloader& operator=(const ConfigReloader&) = delete;

  // The watch thread (none when check_interval <= 0). Stop() is idempotent.
  void Start();
  void Stop();

  // Reads the file now (SIGHUP) and reloads it when its content changed.
  Outcome Check() { return CheckFile(/*force=*/true); }
  // What the watch does every check_interval: the same, only when the stat changed.
  Outcome Poll() { return CheckFile(/*force=*/false); }

 private:
  struct FileId {
    bool ok = false;
    uint64_t dev = 0, ino = 0;
    int64_t size = 0, mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  FileId Stat() const;
  Outcome CheckFile(bool force);
  void Failed(const absl::Status& error, std::string_view text);

  ConfigReloaderOptions options_;
  prometheus::Gauge* successful_ = nullptr;
  prometheus::Gauge* success_time_ = nullptr;
  prometheus::Counter* successes_ = nullptr;
  prometheus::Counter* failures_ = nullptr;

  absl::Mutex check_mu_;  // one check at a time
  FileId seen_ ABSL_GUARDED_BY(check_mu_);
  bool have_hash_ ABSL_GUARDED_BY(check_mu_) = false;
  size_t hash_ ABSL_GUARDED_BY(check_mu_) = 0;          // of the content last reloaded or refused
  absl::Status read_error_ ABSL_GUARDED_BY(check_mu_);  // the last read error (logged once)

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace aa::app
