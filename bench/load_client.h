#pragma once
// Closed-loop HTTP load for the benchmarks: N keep-alive connections, each sending the next request
// as soon as the previous answer arrived, for a fixed time, to loopback only. Records every
// latency.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace aa::bench {

struct LoadResult {
  int64_t requests = 0;
  int64_t errors = 0;  // transport errors or non-200 answers
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double rps() const { return seconds > 0 ? requests / seconds : 0; }
};

// `tls`: HTTPS without certificate verification (the adapter's self-signed certificate).
inline LoadResult RunLoad(int port, const std::string& path, int connections,
                          std::chrono::milliseconds duration, bool tls = false) {
  std::vector<std::vector<double>> latencies(connections);
  std::atomic<int64_t> errors{0};
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + duration;
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client(std::string(tls ? "https" : "http") +
                             "://127.0.0.1:" + std::to_string(port));
      client.enable_server_certificate_verification(false);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_url_encode(false);
      client.set_read_timeout(10, 0);
      while (std::chrono::steady_clock::now() < deadline) {
        auto t0 = std::chrono::steady_clock::now();
        auto res = client.Get(path.c_str());
        auto t1 = std::chrono::steady_clock::now();
        if (!res || res->status != 200) {
          ++errors;
          continue;
        }
        latencies[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  LoadResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  r.requests = static_cast<int64_t>(all.size());
  r.errors = errors;
  if (!all.empty()) {
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

}  // namespace aa::bench
