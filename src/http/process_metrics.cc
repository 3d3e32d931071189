#include "http/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/strings.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace aa::http {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {metric}};
}

}  // namespace

void RegisterBuildInfo(prometheus::Registry& registry, std::string_view version,
                       std::string_view revision) {
  prometheus::BuildGauge()
      .Name("autoscale_adapter_build_info")
      .Help("Always 1; the labels tell the version and git revision of the running binary.")
      .Register(registry)
      .Add({{"version", std::string(version)}, {"revision", std::string(revision)}})
      .Set(1);
}

absl::StatusOr<ProcessStats> ParseProcStat(std::string_view stat, double boot_time_seconds,
                                           double ticks_per_second, double page_size) {
  // "pid (comm) state ppid ...": the fields after the last ')' start at field 3 (state).
  const absl::string_view text = ToAbsl(stat);
  const size_t close = text.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("process stat: no \"(comm)\" in it");
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(text.substr(close + 1), ' ', absl::SkipWhitespace());
  // Field n (1-based, proc(5)) is f[n - 3].
  auto field = [&f](size_t n, double* out) {
    return n - 3 < f.size() && absl::SimpleAtod(absl::StripAsciiWhitespace(f[n - 3]), out);
  };
  double utime, stime, start_ticks, vsize, rss_pages;
  if (!field(14, &utime) || !field(15, &stime) || !field(22, &start_ticks) || !field(23, &vsize) ||
      !field(24, &rss_pages)) {
    return absl::InvalidArgumentError("process stat: fewer than 24 numeric fields");
  }
  ProcessStats out;
  out.cpu_seconds = (utime + stime) / ticks_per_second;
  out.start_time_seconds = boot_time_seconds + start_ticks / ticks_per_second;
  out.virtual_bytes = vsize;
  out.resident_bytes = rss_pages * page_size;
  return out;
}

absl::StatusOr<ProcessStats> ReadProcessStats() {
  absl::StatusOr<std::string> stat = ReadFile("/proc/self/stat");
  absl::StatusOr<std::string> kernel = ReadFile("/proc/stat");
  if (!stat.ok() || !kernel.ok()) {
    return absl::UnavailableError("cannot read /proc/self/stat or /proc/stat");
  }
  double boot_time = 0;
  for (absl::string_view line : absl::StrSplit(*kernel, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      if (!absl::SimpleAtod(line, &boot_time)) boot_time = 0;
      break;
    }
  }
  if (boot_time == 0) return absl::UnavailableError("/proc/stat: no btime");
  auto stats = ParseProcStat(*stat, boot_time, static_cast<double>(sysconf(_SC_CLK_TCK)),
                             static_cast<double>(sysconf(_SC_PAGESIZE)));
  if (!stats.ok()) return stats.status();

  // Open descriptors (the one reading the directory included, as the Go client counts).
  if (DIR* dir = opendir("/proc/self/fd"); dir != nullptr) {
    int count = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
    stats->open_fds = count;
  }
  // "Max open files            1048576              1048576              files"
  if (absl::StatusOr<std::string> limits = ReadFile("/proc/self/limits"); limits.ok()) {
    for (absl::string_view line : absl::StrSplit(*limits, '\n')) {
      if (!absl::ConsumePrefix(&line, "Max open files")) continue;
      std::vector<absl::string_view> cols = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      double soft;
      if (!cols.empty() && absl::SimpleAtod(cols[0], &soft)) stats->max_fds = soft;
      break;
    }
  }
  return stats;
}

std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  auto stats = ReadProcessStats();
  if (!stats.ok()) return {};
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out = {
      Family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
             MetricType::Counter, stats->cpu_seconds),
      Family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
             stats->resident_bytes),
      Family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
             stats->virtual_bytes),
      Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
             stats->open_fds),
      Family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
             MetricType::Gauge, stats->start_time_seconds)};
  if (stats->max_fds.has_value()) {
    out.push_back(Family("process_max_fds", "Maximum number of open file descriptors.",
                         MetricType::Gauge, *stats->max_fds));
  }
  return out;
}

}  // namespace aa::http
