#pragma once
// Self-metrics about the process and the build, served on /metrics next to the components' own:
//   autoscale_adapter_build_info{version,revision} 1
//   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//   process_open_fds, process_max_fds, process_start_time_seconds
// named, typed and in the units the Go and Java Prometheus clients export them, read from /proc at
// scrape time (Linux only).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/metric_family.h"

namespace prometheus {
class Registry;
}

namespace aa::http {

// Registers autoscale_adapter_build_info{version,revision}, a gauge that is always 1 (join it on
// its labels to tell what runs where). Call once per registry.
void RegisterBuildInfo(prometheus::Registry& registry, std::string_view version,
                       std::string_view revision);

struct ProcessStats {
  double cpu_seconds = 0;         // user + system CPU time
  double resident_bytes = 0;      // resident set size
  double virtual_bytes = 0;       // virtual memory size
  double start_time_seconds = 0;  // Unix time the process started
  double open_fds = 0;
  std::optional<double> max_fds;  // soft limit on open files; none when unlimited or unreadable
};

// Parses /proc/<pid>/stat text (`stat`; the command name may hold spaces and parentheses) with the
// kernel's boot time (`boot_time_seconds`, btime of /proc/stat), clock ticks per second and page
// size. InvalidArgument when the text is not a stat line.
absl::StatusOr<ProcessStats> ParseProcStat(std::string_view stat, double boot_time_seconds,
                                           double ticks_per_second, double page_size);

// This process's figures now, from /proc/self/stat, /proc/stat, /proc/self/fd and
// /proc/self/limits. Unavailable when /proc cannot be read.
absl::StatusOr<ProcessStats> ReadProcessStats();

// The process_* families of ReadProcessStats() (none when it fails), to serialize with a
// registry's.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace aa::http
