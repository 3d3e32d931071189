// Memory: resident size of the real adapter binary holding 10,000 pods x 3 metrics (100 namespaces
// x 100 pods) in its snapshot, plus the pod-label index. Prometheus is a fake HTTP server in this
// process that answers every instant query with one series per pod of the namespaces named in the
// query's matcher, on loopback. Prints where the resident memory is (/proc/<pid>/smaps).
// Usage: memory_bench [--namespaces=100] [--pods=100] [--watch=6s] [--max_rss_mib=N]
//                     [--max_idle_rss_mib=N]

#include <httplib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/bench_cluster.h"
#include "demo/proc/subprocess.h"
#include "demo/stack.h"
#include "net/call.h"

ABSL_FLAG(int, namespaces, 100, "Namespaces");
ABSL_FLAG(int, pods, 100, "Pods per namespace");
ABSL_FLAG(absl::Duration, watch, absl::Seconds(6),
          "How long the resident size is watched once the snapshot is full (3 sampling rounds)");
ABSL_FLAG(int64_t, max_rss_mib, 0,
          "Exit 1 when the resident size with the full snapshot (between rounds) is over this "
          "many MiB; 0: no bound (the CI check sets one)");
ABSL_FLAG(int64_t, max_idle_rss_mib, 0,
          "Exit 1 when the idle resident size (started, before any read) is over this many MiB; 0: "
          "no bound");

namespace aa {
namespace {

using bench::MiB;
using bench::StatusKiB;

std::string Answer(const std::string& query, int pods) {
  // The sampler renders namespace="a" or namespace=~"a|b|c".
  static const std::regex kMatcher(R"re(namespace=~?"([^"]*)")re");
  std::smatch m;
  std::vector<std::string> namespaces;
  if (std::regex_search(query, m, kMatcher)) namespaces = absl::StrSplit(m[1].str(), '|');
  bool labels = query.rfind("kube_pod_labels", 0) == 0;
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  bool first = true;
  for (const auto& ns : namespaces) {
    for (int p = 0; p < pods; ++p) {
      absl::StrAppend(
          &out, first ? "" : ",", R"({"metric":{"namespace":")", ns, R"(","pod":")",
          bench::PodName(ns, p), "\"",
          labels ? absl::StrCat(R"(,"label_app":"model-)", ns,
                                R"(","label_serving_kserve_io_inferenceservice":"model-)", ns, "\"")
                 : "",
          R"(},"value":[1800000000.123,")", 1.5 + p, "\"]}");
      first = false;
    }
  }
  out += "]}}";
  return out;
}

// Where a process' resident memory is, from /proc/<pid>/smaps, in KiB. Anonymous mappings are told
// apart by their shape: a thread stack is a read-write mapping right above a 4 KiB inaccessible
// guard page (glibc's pthread stacks); a malloc arena other than the main one (glibc gives threads
// their own arenas) is a read-write mapping starting on a 64 MiB boundary followed by the
// inaccessible rest of its 64 MiB reservation; [heap] is the main arena (brk); the rest is other
// anonymous memory (malloc's mmap'ed large blocks, gRPC's and OpenSSL's own mappings). Of the
// file-backed pages, the ones the process wrote to are its own copies (smaps' Anonymous of a file
// mapping): the dynamic loader's relocations (.data.rel.ro, the GOT) and the libraries' .data.
struct Breakdown {
  int64_t rss = 0, binary = 0, libraries = 0, heap = 0, stacks = 0, arenas = 0, other_anon = 0;
  int64_t binary_written = 0, libraries_written = 0;
  int stack_count = 0, arena_count = 0;
  std::vector<std::pair<int64_t, std::string>> top_libraries;  // largest first
};

Breakdown ReadBreakdown(pid_t pid) {
  struct Mapping {
    uint64_t start = 0, end = 0;
    std::string perms, path;
    int64_t rss = 0, anonymous = 0;
  };
  std::vector<Mapping> maps;
  std::ifstream in(absl::StrCat("/proc/", pid, "/smaps"));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty()) continue;
    size_t dash = f[0].find('-');
    if (f.size() >= 5 && dash != std::string::npos && f[0].back() != ':') {
      Mapping m;
      m.start = std::stoull(f[0].substr(0, dash), nullptr, 16);
      m.end = std::stoull(f[0].substr(dash + 1), nullptr, 16);
      m.perms = f[1];
      if (f.size() >= 6) m.path = f[5];
      maps.push_back(m);
    } else if (f[0] == "Rss:" && f.size() >= 2 && !maps.empty()) {
      maps.back().rss = std::stoll(f[1]);
    } else if (f[0] == "Anonymous:" && f.size() >= 2 && !maps.empty()) {
      maps.back().anonymous = std::stoll(f[1]);
    }
  }
  Breakdown b;
  std::map<std::string, int64_t> libraries;
  const std::string self = std::filesystem::read_symlink(absl::StrCat("/proc/", pid, "/exe"));
  constexpr uint64_t kArena = 64 << 20;
  for (size_t i = 0; i < maps.size(); ++i) {
    const Mapping& m = maps[i];
    b.rss += m.rss;
    bool writable = m.perms.rfind("rw", 0) == 0;
    if (m.path == self) {
      b.binary += m.rss;
      b.binary_written += m.anonymous;
    } else if (!m.path.empty() && m.path[0] == '/') {
      b.libraries += m.rss;
      b.libraries_written += m.anonymous;
      libraries[std::filesystem::path(m.path).filename()] += m.rss;
    } else if (m.path == "[heap]") {
      b.heap += m.rss;
    } else if (!m.path.empty()) {
      b.other_anon += m.rss;  // [stack] of the main thread, [vvar], [vdso]
    } else if (writable && i > 0 && maps[i - 1].end == m.start && maps[i - 1].perms[0] == '-' &&
               maps[i - 1].end - maps[i - 1].start == 4096) {
      b.stacks += m.rss;
      ++b.stack_count;
    } else if (writable && m.start % kArena == 0 && i + 1 < maps.size() &&
               maps[i + 1].start == m.end && maps[i + 1].perms[0] == '-' &&
               maps[i + 1].end == m.start + kArena) {
      b.arenas += m.rss;
      ++b.arena_count;
    } else {
      b.other_anon += m.rss;
    }
  }
  for (const auto& [name, rss] : libraries) b.top_libraries.push_back({rss, name});
  std::sort(b.top_libraries.rbegin(), b.top_libraries.rend());
  return b;
}

void PrintBreakdown(const char* when, const Breakdown& b) {
  std::printf("%s: %s resident (smaps): %s file-backed (binary, libraries), %s anonymous\n", when,
              MiB(b.rss).c_str(), MiB(b.binary + b.libraries).c_str(),
              MiB(b.heap + b.arenas + b.stacks + b.other_anon).c_str());
  std::printf("  adapter binary (text, data)      %9s  (%s written: relocations, .data)\n",
              MiB(b.binary).c_str(), MiB(b.binary_written).c_str());
  std::string top;
  for (size_t i = 0; i < b.top_libraries.size() && i < 5; ++i) {
    absl::StrAppend(&top, i ? ", " : "", b.top_libraries[i].second, " ",
                    MiB(b.top_libraries[i].first));
  }
  std::printf("  shared libraries (mapped pages)  %9s  (%s written; %zu files: %s)\n",
              MiB(b.libraries).c_str(), MiB(b.libraries_written).c_str(), b.top_libraries.size(),
              top.c_str());
  std::printf("  main malloc arena ([heap])       %9s\n", MiB(b.heap).c_str());
  std::printf("  other malloc arenas (%3d)        %9s\n", b.arena_count, MiB(b.arenas).c_str());
  std::printf("  thread stacks (%3d threads)      %9s\n", b.stack_count, MiB(b.stacks).c_str());
  std::printf("  other anonymous (large blocks)   %9s\n", MiB(b.other_anon).c_str());
}

int Main() {
  const int namespaces = absl::GetFlag(FLAGS_namespaces);
  const int pods = absl::GetFlag(FLAGS_pods);
  httplib::Server fake;
  auto handle = [pods](const httplib::Request& req, httplib::Response& res) {
    res.set_content(Answer(req.get_param_value("query"), pods), "application/json");
  };
  fake.Get("/api/v1/query", handle);
  fake.Post("/api/v1/query", handle);
  int prom_port = fake.bind_to_any_port("127.0.0.1");
  std::thread server([&] { fake.listen_after_bind(); });

  std::string dir = "/tmp/memory-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  {
    std::ofstream cfg(dir + "/adapter.yaml");
    cfg << bench::ThreeMetricsConfig("interval: 2s, maxAge: 60s");
  }
  auto adapter = proc::Subprocess::Start(
      {{AA_BIN_DIR "/autoscale-adapter", "--config=" + dir + "/adapter.yaml",
        absl::StrCat("--prometheus_url=http://127.0.0.1:", prom_port), "--http_listen=127.0.0.1:0",
        "--https_listen=127.0.0.1:0", "--authentication=off", "--authorization=off",
        "--grpc_listen=127.0.0.1:0", "--grpc_insecure", "--log_level=info"},
       dir + "/adapter.log",
       ""});
  if (!adapter.ok()) return 1;
  auto port = (*adapter)->WaitForListeningPort("http", absl::Seconds(20));
  if (!port.ok()) {
    std::fprintf(stderr, "%s\n", std::string(port.status().message()).c_str());
    return 1;
  }
  // The query API is on the HTTPS port (authentication off here), /metrics on the plain one.
  auto https_port = (*adapter)->WaitForListeningPort("https", absl::Seconds(20));
  if (!https_port.ok()) {
    std::fprintf(stderr, "%s\n", std::string(https_port.status().message()).c_str());
    return 1;
  }
  // Idle: started (the gRPC port, opened last, listens too) and left alone for a second, before any
  // read; the lowest resident size over that second.
  auto grpc_port = (*adapter)->WaitForListeningPort("grpc", absl::Seconds(20));
  if (!grpc_port.ok()) {
    std::fprintf(stderr, "%s\n", std::string(grpc_port.status().message()).c_str());
    return 1;
  }
  pid_t pid = (*adapter)->pid();
  Breakdown idle;
  idle.rss = std::numeric_limits<int64_t>::max();
  for (absl::Time end = absl::Now() + absl::Seconds(1); absl::Now() < end;) {
    if (StatusKiB(pid, "VmRSS") < idle.rss) idle = ReadBreakdown(pid);
    absl::SleepFor(absl::Milliseconds(50));
  }
  int ok = 0;
  for (int n = 0; n < namespaces; ++n) {
    for (const char* metric : bench::kMetricNames) {
      auto r = net::HttpsGetInsecure(
          "127.0.0.1", *https_port,
          absl::StrCat("/api/v1/namespaces/", bench::NamespaceName(n), "/metrics/", metric));
      ok += r.ok() && r->status == 200;
    }
  }
  // Let two periodic rounds replace the first tables (old snapshots are freed as readers let go),
  // then watch the resident size for --watch: its lowest is the snapshot at rest between rounds
  // (after the sampler's malloc_trim), its highest a round at work (answers being parsed, the next
  // tables being built).
  absl::SleepFor(absl::Seconds(4));
  int64_t low = std::numeric_limits<int64_t>::max(), high = 0;
  Breakdown at_low;
  for (absl::Time end = absl::Now() + absl::GetFlag(FLAGS_watch); absl::Now() < end;) {
    int64_t rss = StatusKiB(pid, "VmRSS");
    high = std::max(high, rss);
    if (rss < low) {
      low = rss;
      at_low = ReadBreakdown(pid);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  auto metrics = net::HttpCall("GET", "127.0.0.1", *port, "/metrics");
  std::string held;
  for (absl::string_view line : absl::StrSplit(metrics.ok() ? metrics->body : "", '\n')) {
    if (absl::StartsWith(line, "autoscale_adapter_series_held{"))
      absl::StrAppend(&held, "  ", line, "\n");
  }
  const int64_t peak = StatusKiB(pid, "VmHWM");
  std::printf(
      "memory, %d namespaces x %d pods x 3 metrics = %d pod values + pod-label index, %d cores\n",
      namespaces, pods, namespaces * pods * 3,
      static_cast<int>(std::thread::hardware_concurrency()));
  std::printf("reads answered 200: %d of %d\n%s", ok, namespaces * 3, held.c_str());
  std::printf("adapter VmRSS idle (started, before any read):       %s\n", MiB(idle.rss).c_str());
  std::printf("adapter VmRSS with the full snapshot, between rounds: %s (lowest over %s)\n",
              MiB(low).c_str(), absl::FormatDuration(absl::GetFlag(FLAGS_watch)).c_str());
  std::printf("adapter VmRSS during a round (highest seen):          %s\n", MiB(high).c_str());
  std::printf("adapter VmHWM (peak, the first reads included):       %s\n", MiB(peak).c_str());
  std::printf("target: under 30 MiB resident with the full snapshot, idle under 15 MiB\n");
  // The split the targets depend on: file-backed pages (the binary's and the shared libraries'
  // code and data, the same idle or full) against the adapter's own anonymous memory.
  const int64_t idle_files = idle.binary + idle.libraries,
                full_files = at_low.binary + at_low.libraries;
  std::printf("split: file-backed %s idle, %s full; anonymous %s idle, %s full\n",
              MiB(idle_files).c_str(), MiB(full_files).c_str(), MiB(idle.rss - idle_files).c_str(),
              MiB(at_low.rss - full_files).c_str());
  PrintBreakdown("idle", idle);
  PrintBreakdown("with the full snapshot, between rounds", at_low);
  int failed = ok != namespaces * 3;
  if (failed) std::printf("FAIL: %d reads did not answer 200\n", namespaces * 3 - ok);
  if (const int64_t bound = absl::GetFlag(FLAGS_max_rss_mib); bound > 0) {
    if (low > bound * 1024) {
      std::printf("FAIL: resident memory with the full snapshot %s is over the bound of %d MiB\n",
                  MiB(low).c_str(), static_cast<int>(bound));
      failed = 1;
    } else {
      std::printf("resident memory with the full snapshot %s is within the bound of %d MiB\n",
                  MiB(low).c_str(), static_cast<int>(bound));
    }
  }
  if (const int64_t bound = absl::GetFlag(FLAGS_max_idle_rss_mib); bound > 0) {
    if (idle.rss > bound * 1024) {
      std::printf("FAIL: idle resident memory %s is over the bound of %d MiB\n",
                  MiB(idle.rss).c_str(), static_cast<int>(bound));
      failed = 1;
    } else {
      std::printf("idle resident memory %s is within the bound of %d MiB\n", MiB(idle.rss).c_str(),
                  static_cast<int>(bound));
    }
  }
  (*adapter)->Stop();
  fake.stop();
  server.join();
  std::filesystem::remove_all(dir);
  return failed;
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return aa::Main();
}
