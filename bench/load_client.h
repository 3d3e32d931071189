#pragma once
// HTTP load for the benchmarks, to loopback only, for a fixed time, recording every latency:
// closed loop (RunLoad: N keep-alive connections, each sending the next request as soon as the
// previous answer arrived) or paced (RunPaced: many clients on a fixed period).

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace aa::bench {

struct LoadResult {
  int64_t requests = 0;
  int64_t errors = 0;  // transport errors or non-200 answers
  int64_t late = 0;    // RunPaced: requests sent over 100 ms after their due time
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double rps() const { return seconds > 0 ? requests / seconds : 0; }
};

// A keep-alive loopback client; `tls`: HTTPS without certificate verification.
inline std::unique_ptr<httplib::Client> NewClient(int port, bool tls) {
  auto client = std::make_unique<httplib::Client>(std::string(tls ? "https" : "http") +
                                                  "://127.0.0.1:" + std::to_string(port));
  client->enable_server_certificate_verification(false);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_url_encode(false);
  client->set_read_timeout(10, 0);
  return client;
}

// Latency percentiles of per-connection latencies (ms) of a run that began at `start`.
inline LoadResult Summarize(const std::vector<std::vector<double>>& latencies, int64_t errors,
                            std::chrono::steady_clock::time_point start) {
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
      auto client_ptr = NewClient(port, tls);
      httplib::Client& client = *client_ptr;
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
  return Summarize(latencies, errors, start);
}

// Paced (open-loop) HTTP load, as HPA controllers read: client i sends paths[i] once every
// `period`, the clients' first requests spread evenly over the first period, over `connections`
// keep-alive connections (client i on connection i % connections), until `duration` has passed.
// A connection still busy when its next request is due sends it late; `late` counts the requests
// sent more than 100 ms after their due time. Latency is from the send to the answer; each
// connection's first request (its TCP and TLS handshake) is not counted, as a Kubernetes API
// aggregator keeps its connections open.
inline LoadResult RunPaced(int port, const std::vector<std::string>& paths,
                           std::chrono::milliseconds period, std::chrono::milliseconds duration,
                           int connections, bool tls = false) {
  std::vector<std::vector<double>> latencies(connections);
  std::atomic<int64_t> errors{0}, late{0};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + duration;
  const int64_t n = static_cast<int64_t>(paths.size());
  std::vector<std::thread> threads;
  for (int c = 0; c < connections && c < n; ++c) {
    threads.emplace_back([&, c] {
      auto client_ptr = NewClient(port, tls);
      httplib::Client& client = *client_ptr;
      bool connected = false;  // the first answer's latency (its handshake) is not counted
      for (int64_t round = 0;; ++round) {
        for (int64_t i = c; i < n; i += connections) {
          const auto due = start + period * round + period * i / n;
          if (due >= deadline) return;
          std::this_thread::sleep_until(due);
          auto t0 = std::chrono::steady_clock::now();
          if (t0 - due > std::chrono::milliseconds(100)) ++late;
          auto res = client.Get(paths[i].c_str());
          auto t1 = std::chrono::steady_clock::now();
          if (!res || res->status != 200) {
            ++errors;
            continue;
          }
          if (connected) {
            latencies[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          }
          connected = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  LoadResult r = Summarize(latencies, errors, start);
  r.late = late;
  return r;
}

}  // namespace aa::bench
