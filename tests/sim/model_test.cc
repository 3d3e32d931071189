#include "demo/sim/model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "demo/sim/scenario.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aa::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const absl::Time kEpoch = absl::FromUnixSeconds(1'800'000'000);

ServiceSpec Constant(double rps, int cc, absl::Duration service_time, int replicas) {
  ServiceSpec s;
  s.name = "m";
  s.ns = "ns";
  s.container_concurrency = cc;
  s.service_time = service_time;
  s.replicas = replicas;
  s.start_delay = absl::ZeroDuration();
  s.load.segments = {{absl::Seconds(60), rps, rps}};
  return s;
}

std::unique_ptr<Simulator> Make(std::vector<ServiceSpec> specs, uint64_t seed = 7) {
  auto sim = Simulator::Create(std::move(specs), seed, kEpoch);
  EXPECT_TRUE(sim.ok()) << sim.status();
  return std::move(*sim);
}

ServiceView One(const Simulator& sim) { return sim.Services().at(0); }

// Runs `seconds` in `step` increments and calls `check` after every step.
template <typename F>
void RunSteps(Simulator& sim, double seconds, absl::Duration step, F check) {
  const int n = static_cast<int>(std::lround(seconds / absl::ToDoubleSeconds(step)));
  for (int i = 0; i < n; ++i) {
    sim.Advance(step);
    check(One(sim));
  }
}

TEST(LoadProfile, PiecewiseLinearLoopsAndHolds) {
  LoadProfile p;
  p.segments = {{absl::Seconds(10), 0, 100}, {absl::Seconds(10), 5, 5}};
  EXPECT_DOUBLE_EQ(p.RateAt(absl::Seconds(5)), 50);
  EXPECT_DOUBLE_EQ(p.RateAt(absl::Seconds(10)), 5);
  EXPECT_DOUBLE_EQ(p.RateAt(absl::Seconds(25)), 50);                      // looped
  EXPECT_DOUBLE_EQ(p.MaxRate(absl::Seconds(8), absl::Seconds(12)), 100);  // left limit at the step
  EXPECT_DOUBLE_EQ(p.MaxRate(absl::Seconds(12), absl::Seconds(14)), 5);
  p.loop = false;
  EXPECT_DOUBLE_EQ(p.RateAt(absl::Seconds(25)), 5);  // held
  EXPECT_DOUBLE_EQ(LoadProfile{}.RateAt(absl::Seconds(3)), 0);
}

TEST(Simulator, LittlesLawHoldsOverALongWindow) {
  // 100 rps x 0.5 s = 50 concurrent on 1 pod of concurrency 100: little queueing.
  auto sim = Make({Constant(100, 100, absl::Milliseconds(500), 1)});
  auto latency_sum_ms = [](const ServiceView& s) {
    double sum = 0;
    for (const auto& p : s.pods) sum += p.latency_ms->sum;
    return sum;
  };
  sim->Advance(absl::Seconds(30));  // warm up
  const ServiceView a = One(*sim);
  const double sum_ms_a = latency_sum_ms(a);  // views point into the live model: read now
  sim->Advance(absl::Seconds(600));
  const ServiceView b = One(*sim);
  const double sum_ms_b = latency_sum_ms(b);
  const double window = 600;
  const double true_concurrency = (b.concurrency_seconds - a.concurrency_seconds) / window;
  // What Prometheus computes: rate(revision_request_latencies_sum[w]) / 1000, summed over pods.
  const double from_histogram = (sum_ms_b - sum_ms_a) / 1000 / window;
  EXPECT_NEAR(true_concurrency, 50, 50 * 0.05);
  EXPECT_NEAR(from_histogram, true_concurrency, true_concurrency * 0.03);
  // Arrival rate matches the profile.
  EXPECT_NEAR(static_cast<double>(b.arrived - a.arrived) / window, 100, 3);
}

TEST(Simulator, LittlesLawIncludesQueueWait) {
  // 3 pods x 10 slots / 0.2 s = 150 rps capacity at 140 rps: heavy queueing, still Little.
  auto sim = Make({Constant(140, 10, absl::Milliseconds(200), 3)}, 11);
  sim->Advance(absl::Seconds(60));
  const ServiceView a = One(*sim);
  sim->Advance(absl::Seconds(900));
  const ServiceView b = One(*sim);
  const double true_concurrency = (b.concurrency_seconds - a.concurrency_seconds) / 900;
  const double from_latency = (b.latency_seconds_sum - a.latency_seconds_sum) / 900;
  EXPECT_GT(b.queued - a.queued, 1000u);
  EXPECT_NEAR(from_latency, true_concurrency, true_concurrency * 0.05);
}

TEST(Simulator, QueuesWhenLoadExceedsCapacityAndRespectsConcurrency) {
  // One pod, 10 slots, 0.5 s: capacity 20 rps, offered 50 rps.
  auto sim = Make({Constant(50, 10, absl::Milliseconds(500), 1)});
  int64_t max_in_flight = 0;
  RunSteps(*sim, 60, absl::Milliseconds(100), [&](const ServiceView& s) {
    for (const auto& p : s.pods) {
      ASSERT_LE(p.in_flight, 10);
      max_in_flight = std::max<int64_t>(max_in_flight, p.in_flight);
    }
  });
  const ServiceView s = One(*sim);
  EXPECT_EQ(max_in_flight, 10);
  EXPECT_GT(s.queue_length, 1000);  // ~30 rps backlog for a minute
  EXPECT_GT(s.queued, 1000u);
  EXPECT_NEAR(static_cast<double>(s.completed) / 60, 20, 2);
  EXPECT_EQ(s.pods[0].waiting_share, s.queue_length);
  EXPECT_EQ(s.arrived,
            s.completed + static_cast<uint64_t>(s.in_flight + s.queue_length) + s.dropped);
}

TEST(Simulator, QueueLimitDrops) {
  ServiceSpec spec = Constant(50, 1, absl::Seconds(1), 1);
  spec.queue_limit = 5;
  auto sim = Make({spec});
  sim->Advance(absl::Seconds(20));
  const ServiceView s = One(*sim);
  EXPECT_LE(s.queue_length, 5);
  EXPECT_GT(s.dropped, 800u);
}

TEST(Simulator, NewPodsServeOnlyAfterTheStartDelay) {
  ServiceSpec spec = Constant(100, 10, absl::Milliseconds(500), 1);
  spec.start_delay = absl::Seconds(10);
  auto sim = Make({spec});
  sim->Advance(absl::Seconds(15));  // the first pod is ready at t = 10 s
  ASSERT_EQ(One(*sim).ready_replicas, 1);
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 3).ok());
  RunSteps(*sim, 9.9, absl::Milliseconds(100), [&](const ServiceView& s) {
    ASSERT_EQ(s.pods.size(), 3u);
    EXPECT_EQ(s.ready_replicas, 1);
    EXPECT_EQ(s.pods[1].in_flight + s.pods[2].in_flight, 0);
    EXPECT_EQ(s.pods[1].requests + s.pods[2].requests, 0u);
    EXPECT_FALSE(s.pods[1].ready);
  });
  sim->Advance(absl::Seconds(1));
  const ServiceView s = One(*sim);
  EXPECT_EQ(s.ready_replicas, 3);
  EXPECT_TRUE(s.pods[1].ready);
  EXPECT_GT(s.pods[1].requests, 0u);
  EXPECT_EQ(s.pods[1].created, kEpoch + absl::Seconds(15));
}

TEST(Simulator, ScaleDownDrainsInFlightRequests) {
  auto sim = Make({Constant(100, 100, absl::Seconds(2), 2)});
  sim->Advance(absl::Seconds(30));
  ServiceView before = One(*sim);
  ASSERT_EQ(before.pods.size(), 2u);
  const std::string newest = before.pods[1].name;
  const int in_flight = before.pods[1].in_flight;
  ASSERT_GT(in_flight, 20);
  const uint64_t done_before = before.pods[1].requests;
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 1).ok());
  ServiceView s = One(*sim);
  ASSERT_EQ(s.pods.size(), 2u);
  EXPECT_TRUE(s.pods[1].draining);
  EXPECT_FALSE(s.pods[1].ready);
  EXPECT_EQ(s.desired_replicas, 1);
  EXPECT_EQ(s.ready_replicas, 1);
  // It takes no new work and finishes what it has, then disappears.
  bool gone = false;
  uint64_t drained = 0;
  for (int i = 0; i < 400 && !gone; ++i) {
    sim->Advance(absl::Milliseconds(100));
    s = One(*sim);
    if (s.pods.size() == 1) {
      gone = true;
    } else {
      EXPECT_LE(s.pods[1].in_flight, in_flight);
      drained = s.pods[1].requests - done_before;
    }
  }
  EXPECT_TRUE(gone);
  EXPECT_NE(s.pods[0].name, newest);
  // Nearly all finished before the last tick.
  EXPECT_GE(drained, static_cast<uint64_t>(in_flight) - 5);
  EXPECT_EQ(s.arrived, s.completed + static_cast<uint64_t>(s.in_flight + s.queue_length));
}

TEST(Simulator, ScaleDownRemovesNotReadyPodsFirst) {
  ServiceSpec spec = Constant(10, 10, absl::Milliseconds(100), 1);
  spec.start_delay = absl::Seconds(5);
  auto sim = Make({spec});
  sim->Advance(absl::Seconds(6));
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 3).ok());
  const std::string oldest = One(*sim).pods[0].name;
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 1).ok());
  const ServiceView s = One(*sim);
  ASSERT_EQ(s.pods.size(), 1u);
  EXPECT_EQ(s.pods[0].name, oldest);
  EXPECT_TRUE(s.pods[0].ready);
}

TEST(Simulator, ScaleToZeroQueuesThenServesAfterScaleUp) {
  auto sim = Make({Constant(10, 10, absl::Milliseconds(100), 1)});
  sim->Advance(absl::Seconds(5));
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 0).ok());
  sim->Advance(absl::Seconds(5));
  ServiceView s = One(*sim);
  EXPECT_TRUE(s.pods.empty());
  EXPECT_GT(s.queue_length, 20);
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 1).ok());
  sim->Advance(absl::Seconds(5));
  s = One(*sim);
  EXPECT_LT(s.queue_length, 5);
}

TEST(Simulator, AServiceAtZeroHoldsItsRequestsUntilAPodIsReadyAndRecordsTheColdStart) {
  ServiceSpec spec = Constant(10, 100, absl::Milliseconds(100), 0);
  spec.start_delay = absl::Seconds(4);
  auto sim = Make({spec});
  ServiceView s = One(*sim);
  EXPECT_TRUE(s.pods.empty());
  EXPECT_EQ(s.first_arrival, -1);
  EXPECT_EQ(s.first_ready, -1);
  sim->Advance(absl::Seconds(3));
  s = One(*sim);
  // Every request waits (none dropped, none served) while no pod exists.
  ASSERT_GT(s.arrived, 10u);
  EXPECT_EQ(s.queue_length, static_cast<int64_t>(s.arrived));
  EXPECT_EQ(s.queued, s.arrived);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.completed, 0u);
  EXPECT_TRUE(s.first_waits->empty());
  const double first = s.first_arrival;
  EXPECT_GT(first, 0);
  EXPECT_LT(first, 3);
  // The autoscaler wakes up at t = 3 s: the pod is ready 4 s later and takes the whole queue.
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 1).ok());
  sim->Advance(absl::Seconds(3));
  s = One(*sim);
  EXPECT_EQ(s.ready_replicas, 0);
  EXPECT_EQ(s.first_ready, -1);
  sim->Advance(absl::Seconds(2));
  s = One(*sim);
  EXPECT_EQ(s.ready_replicas, 1);
  EXPECT_DOUBLE_EQ(s.first_ready, 7);
  EXPECT_EQ(s.queue_length, 0);
  EXPECT_EQ(s.dropped, 0u);
  sim->Advance(absl::Seconds(10));  // past the 100th request
  s = One(*sim);
  ASSERT_EQ(s.first_waits->size(), kFirstWaitsRecorded);
  // In arrival order: the first request waited from its arrival to the pod's readiness, the later
  // ones less; the requests arriving after the pod was ready did not wait.
  EXPECT_DOUBLE_EQ(s.first_waits->front(), 7 - first);
  EXPECT_TRUE(std::is_sorted(s.first_waits->rbegin(), s.first_waits->rend()));
  EXPECT_EQ(s.first_waits->back(), 0);
  // Scaling to zero again and back does not move the cold-start record.
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 0).ok());
  sim->Advance(absl::Seconds(2));
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 1).ok());
  sim->Advance(absl::Seconds(5));
  EXPECT_DOUBLE_EQ(One(*sim).first_ready, 7);
  EXPECT_DOUBLE_EQ(One(*sim).first_arrival, first);
}

TEST(Simulator, CpuCounterRateMatchesLoad) {
  ServiceSpec spec = Constant(20, 0, absl::Milliseconds(100), 2);
  spec.cpu_per_request = 0.05;
  spec.idle_cpu = 0.02;
  auto sim = Make({spec});
  sim->Advance(absl::Seconds(10));
  auto total_cpu = [](const ServiceView& s) {
    double c = 0;
    for (const auto& p : s.pods) c += p.cpu_seconds;
    return c;
  };
  const ServiceView a = One(*sim);
  sim->Advance(absl::Seconds(300));
  const ServiceView b = One(*sim);
  const double cores = (total_cpu(b) - total_cpu(a)) / 300;
  const double expected = 2 * 0.02 + 0.05 * static_cast<double>(b.completed - a.completed) / 300;
  EXPECT_NEAR(cores, expected, 0.01);
  EXPECT_NEAR(cores, 2 * 0.02 + 0.05 * 20, 0.06);
}

TEST(Simulator, CountersAreMonotonicAndDeterministic) {
  auto run = [](uint64_t seed) {
    std::vector<ServiceSpec> specs = {Constant(80, 10, absl::Milliseconds(300), 1)};
    specs[0].load.segments = {{absl::Seconds(20), 0, 150}, {absl::Seconds(20), 10, 10}};
    auto sim = Make(specs, seed);
    std::vector<std::string> trace;
    ServiceView prev = One(*sim);
    std::map<std::string, std::pair<double, uint64_t>> pod_prev;
    for (int i = 0; i < 600; ++i) {
      if (i == 100) {
        EXPECT_TRUE(sim->SetReplicas("ns", "m", 4).ok());
      }
      if (i == 300) {
        EXPECT_TRUE(sim->SetReplicas("ns", "m", 2).ok());
      }
      sim->Advance(absl::Milliseconds(100));
      const ServiceView s = One(*sim);
      EXPECT_GE(s.arrived, prev.arrived);
      EXPECT_GE(s.completed, prev.completed);
      EXPECT_GE(s.queued, prev.queued);
      EXPECT_GE(s.concurrency_seconds, prev.concurrency_seconds);
      for (const auto& p : s.pods) {
        auto it = pod_prev.find(p.name);
        if (it != pod_prev.end()) {
          EXPECT_GE(p.cpu_seconds, it->second.first);
          EXPECT_GE(p.latency_ms->count, it->second.second);
        }
        pod_prev[p.name] = {p.cpu_seconds, p.latency_ms->count};
        EXPECT_EQ(p.latency_ms->count, p.requests);
      }
      trace.push_back(absl::StrCat(s.arrived, "/", s.completed, "/", s.pods.size()));
      prev = s;
    }
    for (const auto& p : prev.pods) trace.push_back(p.name);
    return trace;
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

TEST(Simulator, PodSecondsAndCpuSecondsCountEveryPodIncludingRemovedOnes) {
  ServiceSpec spec = Constant(20, 100, absl::Milliseconds(100), 2);
  spec.start_delay = absl::Seconds(10);
  spec.idle_cpu = 0.1;
  spec.cpu_per_request = 0;  // only the idle floor: CPU = 0.1 core per pod
  auto sim = Make({spec});
  EXPECT_EQ(One(*sim).pods.at(0).ready_at, kEpoch);  // initial pods ready from the start
  sim->Advance(absl::Seconds(10));
  EXPECT_NEAR(One(*sim).pod_seconds, 20, 1e-9);  // 2 pods x 10 s
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 3).ok());
  EXPECT_EQ(One(*sim).pods.at(2).ready_at, kEpoch + absl::Seconds(20));  // created + start_delay
  sim->Advance(absl::Seconds(10));
  EXPECT_NEAR(One(*sim).pod_seconds, 50, 1e-9);  // + 3 pods x 10 s, the starting one counts
  ASSERT_TRUE(sim->SetReplicas("ns", "m", 1).ok());
  sim->Advance(absl::Seconds(10));  // the two drained pods finish within 10 s
  const ServiceView v = One(*sim);
  EXPECT_EQ(v.pods.size(), 1u);
  EXPECT_GT(v.pod_seconds, 60);
  EXPECT_LT(v.pod_seconds, 65);
  // CPU: 0.1 core per pod-second, removed pods included.
  EXPECT_NEAR(v.cpu_seconds, 0.1 * v.pod_seconds, 1e-6);
}

// A CPU limit throttles: a pod whose four requests in flight want 0.5 core each (2 cores) gets its
// 1-core limit, every request runs at half speed (0.2 s instead of 0.1 s), the pod serves 20 rps
// instead of 40, and the CFS counters show it: a throttled period every period, throttled seconds
// growing by the unmet core (demand 2 - limit 1). Without a limit the same pod uses 2 cores and
// has no CFS counters.
TEST(Simulator, CpuLimitThrottlesAndStretchesTheRequests) {
  auto run = [](double limit) {
    ServiceSpec spec = Constant(100, 4, absl::Milliseconds(100), 1);
    spec.distribution = ServiceTimeDistribution::kConstant;
    spec.cpu_per_request = 0.05;
    spec.idle_cpu = 0;
    spec.cpu_limit = limit;
    auto sim = Make({spec});
    sim->Advance(absl::Seconds(10));
    return sim;  // alive while its views are read: their histograms point into it
  };
  const auto limited_sim = run(1);
  const ServiceView limited = One(*limited_sim);
  const PodView& p = limited.pods.at(0);
  EXPECT_NEAR(p.cpu_seconds, 10, 0.05);  // pinned at the limit
  EXPECT_NEAR(p.throttled_seconds, 10, 0.2);
  EXPECT_NEAR(p.cfs_periods, 100, 1e-6);
  EXPECT_NEAR(p.cfs_throttled_periods, 100, 1);
  EXPECT_NEAR(static_cast<double>(limited.completed), 200, 4);  // 1 core / 0.05 core-s
  EXPECT_NEAR(p.latency_ms->count, limited.completed, 0);
  // Service time (the predict histogram) is the unthrottled one; latency includes the slow-down.
  EXPECT_NEAR(p.predict_seconds->sum / p.predict_seconds->count, 0.1, 1e-9);
  EXPECT_EQ(p.in_flight, 4);
  EXPECT_GT(limited.queue_length, 700);  // 100 rps arrive, 20 rps served

  const auto free_sim = run(0);
  const ServiceView free = One(*free_sim);
  const PodView& q = free.pods.at(0);
  EXPECT_NEAR(q.cpu_seconds, 20, 0.1);  // 4 x 0.5 core
  EXPECT_EQ(q.throttled_seconds, 0);
  EXPECT_EQ(q.cfs_periods, 0);
  EXPECT_NEAR(static_cast<double>(free.completed), 400, 4);
}

// Below its limit a container is never throttled, and its requests keep their service time.
TEST(Simulator, CpuLimitAboveTheDemandChangesNothing) {
  ServiceSpec spec = Constant(10, 4, absl::Milliseconds(100), 1);
  spec.distribution = ServiceTimeDistribution::kConstant;
  spec.cpu_per_request = 0.05;
  spec.idle_cpu = 0.02;
  spec.cpu_limit = 2.1;  // 4 x 0.5 + 0.02 never exceeds it
  auto sim = Make({spec});
  sim->Advance(absl::Seconds(20));
  const ServiceView v = One(*sim);
  const PodView& p = v.pods.at(0);
  EXPECT_EQ(p.throttled_seconds, 0);
  EXPECT_EQ(p.cfs_throttled_periods, 0);
  EXPECT_NEAR(p.cfs_periods, 200, 1e-6);
  EXPECT_NEAR(p.latency_ms->sum / p.latency_ms->count, 100, 5);  // no slow-down (rarely a queue)
  EXPECT_NEAR(p.cpu_seconds, 0.02 * 20 + 0.05 * static_cast<double>(v.completed), 0.2);
}

// Pods spread over the nodes (fewest live pods first) and stay there; a node's CPU counter is its
// system use plus the pod cgroup CPU of every pod it hosts or hosted, so it never decreases and is
// at least the sum of its pods'; its memory is system + its pods' working sets.
TEST(Simulator, NodesHostThePodsAndAddUpTheirUse) {
  ServiceSpec a = Constant(30, 100, absl::Milliseconds(100), 2);
  a.idle_cpu = 0.05;
  a.cpu_per_request = 0.01;
  ServiceSpec b = Constant(5, 100, absl::Milliseconds(200), 1);
  b.name = "b";
  NodeSpec nodes;
  nodes.count = 3;
  auto created = Simulator::Create({a, b}, 7, kEpoch, nodes);
  ASSERT_TRUE(created.ok()) << created.status();
  Simulator& sim = **created;
  auto node_of = [&] {
    std::map<std::string, std::string> out;
    for (const auto& s : sim.Services()) {
      for (const auto& p : s.pods) out[p.name] = p.node;
    }
    return out;
  };
  // 3 pods on 3 nodes, one each, in creation order.
  std::vector<NodeView> v = sim.Nodes();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].name, "sim-node-1");
  EXPECT_EQ(v[2].name, "sim-node-3");
  EXPECT_EQ(sim.Services()[0].pods[0].node, "sim-node-1");
  EXPECT_EQ(sim.Services()[0].pods[1].node, "sim-node-2");
  EXPECT_EQ(sim.Services()[1].pods[0].node, "sim-node-3");
  for (const auto& n : v) EXPECT_EQ(n.pods, 1);
  const std::map<std::string, std::string> before = node_of();

  std::vector<double> prev_cpu(3, 0);
  for (int i = 0; i < 300; ++i) {
    if (i == 50) {
      ASSERT_TRUE(sim.SetReplicas("ns", "m", 5).ok());
    }
    if (i == 150) {
      ASSERT_TRUE(sim.SetReplicas("ns", "m", 1).ok());
    }
    sim.Advance(absl::Milliseconds(100));
    v = sim.Nodes();
    const double now = absl::ToDoubleSeconds(sim.elapsed());
    std::vector<double> pods_cpu(3, 0), pods_memory(3, 0);
    std::vector<int> pods(3, 0);
    for (const auto& s : sim.Services()) {
      for (const auto& p : s.pods) {
        const size_t n = static_cast<size_t>(p.node.back() - '1');
        pods_cpu[n] +=
            p.cpu_seconds + kPauseContainerCpu * absl::ToDoubleSeconds(sim.Now() - p.created);
        pods_memory[n] += p.memory_bytes + kPauseContainerMemory;
        ++pods[n];
      }
    }
    for (size_t n = 0; n < 3; ++n) {
      EXPECT_GE(v[n].cpu_seconds, prev_cpu[n]) << i;
      prev_cpu[n] = v[n].cpu_seconds;
      EXPECT_GE(v[n].cpu_seconds, nodes.system_cpu * now + pods_cpu[n] - 1e-9) << i;
      EXPECT_NEAR(v[n].memory_bytes, nodes.system_memory + pods_memory[n], 1e-3) << i;
      EXPECT_EQ(v[n].pods, pods[n]) << i;
    }
    if (i == 50) {
      // 6 pods: two per node.
      for (const auto& n : v) EXPECT_EQ(n.pods, 2);
    }
  }
  // Pods never move.
  for (const auto& [pod, node] : node_of()) {
    if (before.contains(pod)) {
      EXPECT_EQ(node, before.at(pod));
    }
  }
  // All CPU ever used, removed pods included, is on the nodes: services' totals + pause + system.
  double service_cpu = 0, node_cpu = 0;
  for (const auto& s : sim.Services()) service_cpu += s.cpu_seconds;
  for (const auto& n : v) node_cpu += n.cpu_seconds;
  const double now = absl::ToDoubleSeconds(sim.elapsed());
  EXPECT_GT(node_cpu, service_cpu + 3 * nodes.system_cpu * now);
  EXPECT_LT(node_cpu, service_cpu + 3 * nodes.system_cpu * now + 6 * kPauseContainerCpu * now);
}

TEST(Simulator, RejectsInvalidNodeSpecs) {
  const std::vector<ServiceSpec> specs = {Constant(1, 1, absl::Seconds(1), 1)};
  NodeSpec n;
  n.count = 0;
  auto r = Simulator::Create(specs, 1, kEpoch, n);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("count = 0"));
  n = NodeSpec();
  n.name_prefix = "Node_";
  EXPECT_THAT(std::string(Simulator::Create(specs, 1, kEpoch, n).status().message()),
              HasSubstr("name_prefix = Node_"));
  n = NodeSpec();
  n.cpu_allocatable = n.cpu_capacity + 1;
  EXPECT_EQ(Simulator::Create(specs, 1, kEpoch, n).status().code(),
            absl::StatusCode::kInvalidArgument);
  n = NodeSpec();
  n.system_memory = -1;
  EXPECT_EQ(Simulator::Create(specs, 1, kEpoch, n).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Simulator, PodNamesLookLikeKubernetes) {
  auto sim = Make({Constant(1, 1, absl::Seconds(1), 5)});
  std::set<std::string> names;
  std::set<std::string> hashes;
  for (const auto& p : One(*sim).pods) {
    EXPECT_THAT(p.name, MatchesRegex("m-predictor-[bcdfghjklmnpqrstvwxz2456789]{10}-"
                                     "[bcdfghjklmnpqrstvwxz2456789]{5}"));
    names.insert(p.name);
    hashes.insert(p.name.substr(0, p.name.size() - 6));
  }
  EXPECT_EQ(names.size(), 5u);
  EXPECT_EQ(hashes.size(), 1u);
}

TEST(Simulator, LoadOverrideAndErrors) {
  auto sim = Make({Constant(10, 10, absl::Milliseconds(100), 1)});
  ASSERT_TRUE(sim->SetLoadOverride("ns", "m", 200).ok());
  sim->Advance(absl::Seconds(10));
  ServiceView s = One(*sim);
  EXPECT_DOUBLE_EQ(s.arrival_rate, 200);
  EXPECT_NEAR(static_cast<double>(s.arrived) / 10, 200, 20);
  ASSERT_TRUE(sim->SetLoadOverride("ns", "m", std::nullopt).ok());
  EXPECT_DOUBLE_EQ(One(*sim).arrival_rate, 10);
  EXPECT_EQ(sim->SetLoadOverride("ns", "nope", 1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sim->SetLoadOverride("ns", "m", -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sim->SetLoadOverride("ns", "m", std::nan("")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sim->SetReplicas("other", "m", 1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sim->SetReplicas("ns", "m", 1001).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sim->SetReplicas("ns", "m", -1).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Simulator, RejectsInvalidAndDuplicateSpecs) {
  ServiceSpec bad = Constant(1, 1, absl::Seconds(1), 1);
  bad.name = "Bad_Name";
  auto r = Simulator::Create({bad}, 1, kEpoch);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("Bad_Name"));
  ServiceSpec ok = Constant(1, 1, absl::Seconds(1), 1);
  EXPECT_EQ(Simulator::Create({ok, ok}, 1, kEpoch).status().code(),
            absl::StatusCode::kInvalidArgument);
  ok.service_time = absl::ZeroDuration();
  EXPECT_EQ(Simulator::Create({ok}, 1, kEpoch).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Simulator, TickSizeDoesNotChangeTheLongRunAverage) {
  auto a = Make({Constant(50, 100, absl::Milliseconds(200), 1)}, 5);
  auto b = Make({Constant(50, 100, absl::Milliseconds(200), 1)}, 5);
  a->Advance(absl::Seconds(120));
  for (int i = 0; i < 1200; ++i) b->Advance(absl::Milliseconds(100));
  // Same arrival stream (arrivals draw from their own random stream); only event ties could differ.
  EXPECT_EQ(One(*a).arrived, One(*b).arrived);
  EXPECT_NEAR(One(*a).concurrency_seconds, One(*b).concurrency_seconds,
              1e-6 * One(*a).concurrency_seconds);
}

}  // namespace
}  // namespace aa::sim

namespace aa::sim {
namespace {

// A crude HPA in the loop (every 15 s, 60 s windows, no stabilization): the default scenario's peak
// must settle at about 3 pods for both services, from the same signals the adapter will read.
// A vLLM-like server with constant request sizes: 512 prompt tokens (64 ms prefill at 8000/s),
// 100 output tokens at 20 ms (2 s decode), so one request runs 2.064 s.
ServiceSpec Llm(double rps, int batch, int replicas) {
  ServiceSpec s = Constant(rps, batch, absl::Seconds(1), replicas);
  s.distribution = ServiceTimeDistribution::kConstant;
  LlmSpec l;
  l.prompt_tokens = 512;
  l.output_tokens = 100;
  l.prefill_tokens_per_second = 8000;
  l.time_per_output_token = absl::Milliseconds(20);
  l.kv_cache_tokens = 10000;
  s.llm = l;
  return s;
}

TEST(Simulator, LlmRunsUpToTheBatchLimitAndTheRestWaits) {
  // 20 rps x 2.064 s = 41 running wanted; 2 pods x 8 = 16 slots.
  auto sim = Make({Llm(20, 8, 2)});
  int64_t max_queue = 0;
  RunSteps(*sim, 60, absl::Seconds(1), [&](const ServiceView& s) {
    for (const PodView& p : s.pods) {
      EXPECT_LE(p.in_flight, 8);
      ASSERT_NE(p.ttft_seconds, nullptr);
      EXPECT_GE(p.kv_cache_usage, 0);
      EXPECT_LE(p.kv_cache_usage, 1);
    }
    max_queue = std::max(max_queue, s.queue_length);
  });
  const ServiceView s = One(*sim);
  EXPECT_EQ(s.in_flight, 16);
  EXPECT_GT(max_queue, 100);
  // Every admitted request has its TTFT recorded: the running ones and the completed ones.
  uint64_t ttft = 0, requests = 0;
  for (const PodView& p : s.pods) {
    ttft += p.ttft_seconds->count;
    requests += p.requests + static_cast<uint64_t>(p.in_flight);
  }
  EXPECT_EQ(ttft, requests);
  // Throughput is the batch limit's: 16 / 2.064 s per second.
  EXPECT_NEAR(static_cast<double>(s.completed) / 60, 16 / 2.064, 0.5);
}

TEST(Simulator, LlmTimeToFirstTokenIsPrefillWhenIdleAndGrowsWithTheQueue) {
  auto idle = Make({Llm(1, 8, 1)});  // ~2 running of 8: nobody waits
  idle->Advance(absl::Seconds(120));
  const ServiceView idle_view = One(*idle);
  const PodView& p = idle_view.pods.at(0);
  ASSERT_GT(p.ttft_seconds->count, 50u);
  EXPECT_NEAR(p.ttft_seconds->sum / static_cast<double>(p.ttft_seconds->count), 0.064, 1e-9);
  // All in the bucket (0.06, 0.08].
  const auto& bounds = TtftBucketsSeconds();
  const size_t i = std::find(bounds.begin(), bounds.end(), 0.08) - bounds.begin();
  EXPECT_EQ(p.ttft_seconds->counts[i], p.ttft_seconds->count);

  auto busy = Make({Llm(6, 8, 1)});  // 12 running wanted, 8 slots: the queue grows
  double previous_mean = 0;
  for (int i = 0; i < 3; ++i) {
    busy->Advance(absl::Seconds(30));
    const ServiceView s = One(*busy);
    const Histogram& h = *s.pods.at(0).ttft_seconds;
    const double mean = h.sum / static_cast<double>(h.count);
    EXPECT_GT(mean, previous_mean) << "after " << 30 * (i + 1) << " s";
    previous_mean = mean;
  }
  EXPECT_GT(previous_mean, 5);  // mean wait grows by ~1/3 s per second of overload
}

TEST(Simulator, LlmKvCacheUsageFollowsTheTokensHeld) {
  // Always 4 requests running back to back (queue never empty): each holds 512 + 100 x (elapsed /
  // 2.064 s) tokens, 562 on average: mean usage 4 x 562 / 10000.
  auto sim = Make({Llm(3, 4, 1)});  // 1.94 rps served: the queue grows by ~1 per second
  sim->Advance(absl::Seconds(10));
  double sum = 0;
  int n = 0;
  double lo = 1, hi = 0;
  RunSteps(*sim, 100, absl::Milliseconds(37), [&](const ServiceView& s) {
    ASSERT_EQ(s.pods.at(0).in_flight, 4);
    const double u = s.pods.at(0).kv_cache_usage;
    sum += u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    ++n;
  });
  EXPECT_NEAR(sum / n, 4 * 562.0 / 10000, 0.005);
  EXPECT_GE(lo, 4 * 512.0 / 10000 - 1e-9);
  EXPECT_LE(hi, 4 * 612.0 / 10000 + 1e-9);
  // Idle once the queue (~110) has drained: nothing held.
  ASSERT_TRUE(sim->SetLoadOverride("ns", "m", 0).ok());
  sim->Advance(absl::Seconds(120));
  ASSERT_EQ(One(*sim).queue_length, 0);
  EXPECT_EQ(One(*sim).pods.at(0).kv_cache_usage, 0);
}

TEST(Simulator, LlmIsDeterministicAndTokenCountsVary) {
  auto spec = Llm(5, 8, 2);
  spec.distribution = ServiceTimeDistribution::kExponential;
  auto a = Make({spec}, 11), b = Make({spec}, 11), c = Make({spec}, 12);
  for (int i = 0; i < 60; ++i) {
    a->Advance(absl::Seconds(1));
    b->Advance(absl::Seconds(1));
    c->Advance(absl::Seconds(1));
  }
  auto summary = [](const Simulator& sim) {
    std::vector<double> out;
    const auto services =
        sim.Services();  // a copy: the loop must not range over a temporary's member
    for (const PodView& p : services[0].pods) {
      out.push_back(p.kv_cache_usage);
      out.push_back(p.ttft_seconds->sum);
      out.push_back(static_cast<double>(p.requests));
    }
    return out;
  };
  EXPECT_EQ(summary(*a), summary(*b));
  EXPECT_NE(summary(*a), summary(*c));
  // Exponential token counts: TTFTs spread over several buckets even without a queue.
  const Histogram& h = *a->Services()[0].pods[0].ttft_seconds;
  EXPECT_GT(std::count_if(h.counts.begin(), h.counts.end(), [](uint64_t n) { return n > 0; }), 2);
}

TEST(Simulator, RejectsInvalidLlmSpecs) {
  auto spec = Llm(1, 8, 1);
  spec.llm->kv_cache_tokens = 0;
  auto sim = Simulator::Create({spec}, 1, kEpoch);
  ASSERT_FALSE(sim.ok());
  EXPECT_THAT(sim.status().message(), HasSubstr("llm.kv_cache_tokens"));
  spec = Llm(1, 8, 1);
  spec.llm->prefill_tokens_per_second = -1;
  EXPECT_THAT(Simulator::Create({spec}, 1, kEpoch).status().message(),
              HasSubstr("llm.prefill_tokens_per_second"));
}

TEST(Simulator, DefaultScenarioNeedsAboutThreePodsAtPeak) {
  auto sim = Make(DefaultScenario(), 1);
  // Pods come and go, so integrate per-step deltas of the per-pod sums instead of differencing pod
  // sets.
  std::vector<std::vector<double>> lat_hist(2), cpu_hist(2);
  std::vector<std::map<std::string, std::pair<double, double>>> last(2);
  std::vector<int> desired_at_peak(2, 0);
  for (int step = 1; step <= 400; ++step) {  // 400 s
    sim->Advance(absl::Seconds(1));
    const auto views = sim->Services();
    for (size_t i = 0; i < 2; ++i) {
      double dl = 0, dc = 0;
      std::map<std::string, std::pair<double, double>> now;
      for (const auto& p : views[i].pods) {
        const double l = p.latency_ms->sum / 1000, c = p.cpu_seconds;
        auto it = last[i].find(p.name);
        dl += l - (it == last[i].end() ? 0 : it->second.first);
        dc += c - (it == last[i].end() ? 0 : it->second.second);
        now[p.name] = {l, c};
      }
      last[i] = std::move(now);
      lat_hist[i].push_back(dl);
      cpu_hist[i].push_back(dc);
    }
    if (step % 15 == 0 && step >= 60) {
      auto window = [](const std::vector<double>& h) {
        double s = 0;
        for (size_t k = h.size() - 60; k < h.size(); ++k) s += h[k];
        return s / 60;
      };
      const int conc_desired =
          std::clamp(static_cast<int>(std::ceil(window(lat_hist[0]) / 70)), 1, 10);
      const int cpu_desired =
          std::clamp(static_cast<int>(std::ceil(window(cpu_hist[1]) / 0.5)), 1, 10);
      ASSERT_TRUE(sim->SetReplicas("kserve-test", "concurrency-model", conc_desired).ok());
      ASSERT_TRUE(sim->SetReplicas("kserve-test", "cpu-model", cpu_desired).ok());
      desired_at_peak = {conc_desired, cpu_desired};
    }
  }
  EXPECT_EQ(desired_at_peak[0], 3);
  EXPECT_EQ(desired_at_peak[1], 3);
  const auto views = sim->Services();
  EXPECT_EQ(views[0].queue_length, 0);
  EXPECT_EQ(views[0].ready_replicas, 3);
}

}  // namespace
}  // namespace aa::sim
