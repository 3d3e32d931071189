#include "demo/sim/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace aa::sim {
namespace {

constexpr double kMaxRps = 1e6;
// Kubernetes' pod-template-hash and pod-name suffix alphabet (no vowels, no 0/1/3).
constexpr std::string_view kNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Our own distributions on top of mt19937_64 (whose output the standard fixes), so a seed gives the
// same run with any standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Exponential(double rate) { return -std::log1p(-Uniform()) / rate; }
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  size_t Index(size_t n) { return static_cast<size_t>(engine_() % n); }

 private:
  std::mt19937_64 engine_;
};

bool IsDnsLabel(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

bool FiniteNonNegative(double v) { return std::isfinite(v) && v >= 0; }

}  // namespace

double LoadProfile::RateAt(absl::Duration t) const {
  if (segments.empty()) return 0;
  double total = 0;
  for (const auto& s : segments) total += Seconds(s.duration);
  double x = Seconds(t);
  if (x >= total || total <= 0) {
    if (!loop || total <= 0) return segments.back().to_rps;
    x = std::fmod(x, total);
  }
  double start = 0;
  for (const auto& s : segments) {
    const double d = Seconds(s.duration);
    if (x < start + d) return s.rps + (s.to_rps - s.rps) * ((x - start) / d);
    start += d;
  }
  return segments.back().to_rps;
}

double LoadProfile::MaxRate(absl::Duration from, absl::Duration to) const {
  if (segments.empty()) return 0;
  double m = std::max(RateAt(from), RateAt(to));
  double total = 0;
  for (const auto& s : segments) total += Seconds(s.duration);
  if (total <= 0) return m;
  const double a = Seconds(from), b = Seconds(to);
  if (loop && b - a >= total) {
    for (const auto& s : segments) m = std::max({m, s.rps, s.to_rps});
    return m;
  }
  // Boundaries strictly inside (a, b): both one-sided limits.
  const int64_t k0 = loop ? static_cast<int64_t>(std::floor(a / total)) : 0;
  const int64_t k1 = loop ? static_cast<int64_t>(std::floor(b / total)) : 0;
  for (int64_t k = k0; k <= k1; ++k) {
    double start = static_cast<double>(k) * total;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (start > a && start < b) {
        const LoadSegment& prev = segments[i == 0 ? segments.size() - 1 : i - 1];
        m = std::max({m, segments[i].rps, prev.to_rps});
      }
      start += Seconds(segments[i].duration);
    }
    if (start > a && start < b) m = std::max(m, segments.back().to_rps);
  }
  return m;
}

absl::Status ValidateNodeSpec(const NodeSpec& spec) {
  auto bad = [](std::string_view field, const auto& value, std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("nodes: ", ToAbsl(field), " = ", value, ": ", ToAbsl(why)));
  };
  if (spec.count < 1 || spec.count > kMaxNodes)
    return bad("count", spec.count, absl::StrCat("must be in 1..", kMaxNodes));
  if (!IsDnsLabel(absl::StrCat(spec.name_prefix, spec.count), 63))
    return bad("name_prefix", spec.name_prefix, "the node names must be DNS labels");
  if (!std::isfinite(spec.cpu_capacity) || spec.cpu_capacity <= 0)
    return bad("cpu_capacity", spec.cpu_capacity, "must be > 0");
  if (!std::isfinite(spec.memory_capacity) || spec.memory_capacity <= 0)
    return bad("memory_capacity", spec.memory_capacity, "must be > 0");
  if (!FiniteNonNegative(spec.cpu_allocatable) || spec.cpu_allocatable > spec.cpu_capacity)
    return bad("cpu_allocatable", spec.cpu_allocatable, "must be in 0..cpu_capacity");
  if (!FiniteNonNegative(spec.memory_allocatable) || spec.memory_allocatable > spec.memory_capacity)
    return bad("memory_allocatable", spec.memory_allocatable, "must be in 0..memory_capacity");
  if (!FiniteNonNegative(spec.system_cpu))
    return bad("system_cpu", spec.system_cpu, "must be >= 0");
  if (!FiniteNonNegative(spec.system_memory))
    return bad("system_memory", spec.system_memory, "must be >= 0");
  return absl::OkStatus();
}

absl::Status ValidateServiceSpec(const ServiceSpec& s) {
  auto bad = [&](std::string_view field, const auto& value, std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("service ", s.ns, "/", s.name, ": ",
                                                   ToAbsl(field), " = ", value, ": ", ToAbsl(why)));
  };
  // "-predictor-00001-deployment-xxxxxxxxxx-xxxxx" must still fit in 253, the revision label in 63.
  if (!IsDnsLabel(s.name, 45))
    return bad("name", s.name, "must be a DNS label of at most 45 characters");
  if (!IsDnsLabel(s.ns, 63))
    return bad("namespace", s.ns, "must be a DNS label of at most 63 characters");
  if (s.container_concurrency < 0 || s.container_concurrency > 100000) {
    return bad("container_concurrency", s.container_concurrency, "must be in 0..100000");
  }
  if (s.target_utilization_percent < 0 || s.target_utilization_percent > 100) {
    return bad("target_utilization_percent", s.target_utilization_percent, "must be in 0..100");
  }
  if (s.service_time <= absl::ZeroDuration() || s.service_time > absl::Hours(1)) {
    return bad("service_time", absl::FormatDuration(s.service_time), "must be in (0, 1h]");
  }
  if (!std::isfinite(s.lognormal_sigma) || s.lognormal_sigma < 0 || s.lognormal_sigma > 5) {
    return bad("lognormal_sigma", s.lognormal_sigma, "must be in 0..5");
  }
  if (!FiniteNonNegative(s.cpu_per_request))
    return bad("cpu_per_request", s.cpu_per_request, "must be >= 0");
  if (!FiniteNonNegative(s.idle_cpu)) return bad("idle_cpu", s.idle_cpu, "must be >= 0");
  if (!std::isfinite(s.cpu_request) || s.cpu_request <= 0) {
    return bad("cpu_request", s.cpu_request, "must be > 0");
  }
  if (!FiniteNonNegative(s.cpu_limit)) return bad("cpu_limit", s.cpu_limit, "must be >= 0");
  if (!FiniteNonNegative(s.memory_request))
    return bad("memory_request", s.memory_request, "must be >= 0");
  if (!FiniteNonNegative(s.memory_working_set)) {
    return bad("memory_working_set", s.memory_working_set, "must be >= 0");
  }
  if (!FiniteNonNegative(s.memory_per_request)) {
    return bad("memory_per_request", s.memory_per_request, "must be >= 0");
  }
  if (s.replicas < 0 || s.replicas > kMaxReplicas)
    return bad("replicas", s.replicas, "must be in 0..1000");
  if (s.start_delay < absl::ZeroDuration()) {
    return bad("start_delay", absl::FormatDuration(s.start_delay), "must be >= 0");
  }
  if (s.queue_limit < 0) return bad("queue_limit", s.queue_limit, "must be >= 0");
  if (s.llm) {
    const LlmSpec& l = *s.llm;
    if (!std::isfinite(l.prompt_tokens) || l.prompt_tokens < 1 || l.prompt_tokens > 1e7)
      return bad("llm.prompt_tokens", l.prompt_tokens, "must be in 1..1e7");
    if (!std::isfinite(l.output_tokens) || l.output_tokens < 1 || l.output_tokens > 1e7)
      return bad("llm.output_tokens", l.output_tokens, "must be in 1..1e7");
    if (!std::isfinite(l.prefill_tokens_per_second) || l.prefill_tokens_per_second <= 0)
      return bad("llm.prefill_tokens_per_second", l.prefill_tokens_per_second, "must be > 0");
    if (l.time_per_output_token <= absl::ZeroDuration() ||
        l.time_per_output_token > absl::Seconds(10)) {
      return bad("llm.time_per_output_token", absl::FormatDuration(l.time_per_output_token),
                 "must be in (0, 10s]");
    }
    if (!std::isfinite(l.kv_cache_tokens) || l.kv_cache_tokens < 1)
      return bad("llm.kv_cache_tokens", l.kv_cache_tokens, "must be >= 1");
  }
  for (size_t i = 0; i < s.load.segments.size(); ++i) {
    const LoadSegment& seg = s.load.segments[i];
    const std::string field = absl::StrCat("load.steps[", i, "]");
    if (seg.duration <= absl::ZeroDuration()) {
      return bad(field + ".duration", absl::FormatDuration(seg.duration), "must be > 0");
    }
    if (!FiniteNonNegative(seg.rps) || seg.rps > kMaxRps)
      return bad(field + ".rps", seg.rps, "must be in 0..1e6");
    if (!FiniteNonNegative(seg.to_rps) || seg.to_rps > kMaxRps) {
      return bad(field + ".to_rps", seg.to_rps, "must be in 0..1e6");
    }
  }
  return absl::OkStatus();
}

void Histogram::Observe(double v) {
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds->begin(), bounds->end(), v) - bounds->begin());
  ++counts[i];
  sum += v;
  ++count;
}

const std::vector<double>& LatencyBucketsMs() {
  static const auto* b = new std::vector<double>{
      5,   10,  20,  40,  60,  80,  100,  150,  200,  250,   300,   350,   400,
      450, 500, 600, 700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000};
  return *b;
}

const std::vector<double>& PredictBucketsSeconds() {
  static const auto* b = new std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                                 0.5,   0.75, 1,     2.5,  5,     7.5, 10};
  return *b;
}

const std::vector<double>& TtftBucketsSeconds() {
  static const auto* b =
      new std::vector<double>{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                              1,     2.5,   5,    7.5,  10,   20,   40,   80,  160,  640, 2560};
  return *b;
}

const std::vector<double>& FineTtftBucketsSeconds() {
  static const auto* b = [] {
    auto* v = new std::vector<double>;
    for (double x = 0.01; x < 2500; x *= 1.1) v->push_back(x);
    return v;
  }();
  return *b;
}

namespace {

// The CFS period cAdvisor's counters count in.
constexpr double kCfsPeriodSeconds = 0.1;

// A request running on a pod with a CPU limit: it is done once the pod's work clock reaches
// `finish_work`.
struct Running {
  uint64_t seq;
  double finish_work;
  double arrival;
  double service_time;
  double cpu_rate;
  double kv_base;
  double kv_rate;
};

struct Pod {
  Pod(uint64_t i, std::string n, double t, double ready)
      : id(i),
        name(std::move(n)),
        created(t),
        ready_at(ready),
        cpu_updated(t),
        latency_ms(&LatencyBucketsMs()),
        predict_seconds(&PredictBucketsSeconds()),
        ttft_seconds(&TtftBucketsSeconds()) {}

  // Integrates CPU use (and, with a limit, throttling and the work clock) up to `t`.
  void UpdateCpu(double t, double idle, double limit) {
    if (t <= cpu_updated) return;
    const double dt = t - cpu_updated;
    const double demand = idle + busy_cpu;
    if (limit > 0) {
      cfs_periods += dt / kCfsPeriodSeconds;
      if (demand > limit) {
        cpu_seconds += limit * dt;
        throttled_seconds += (demand - limit) * dt;
        cfs_throttled_periods += dt / kCfsPeriodSeconds;
      } else {
        cpu_seconds += demand * dt;
      }
      work += speed * dt;
    } else {
      cpu_seconds += demand * dt;
    }
    cpu_updated = t;
  }

  uint64_t id;
  std::string name;
  size_t node = 0;  // index into the simulator's nodes
  double created;
  double ready_at;
  bool ready = false;
  bool draining = false;
  double deletion = 0;
  int in_flight = 0;
  double busy_cpu = 0;  // cores the requests in flight want
  double cpu_seconds = 0;
  double throttled_seconds = 0;
  double cfs_periods = 0;
  double cfs_throttled_periods = 0;
  double cpu_updated;
  // With a CPU limit: the work clock (seconds of unthrottled progress), the speed requests run at
  // (limit / demand while throttled, else 1), the requests running, and the version of their
  // scheduled completions (bumped whenever they are rescheduled: older ones are stale).
  double work = 0;
  double speed = 1;
  std::vector<Running> running;
  uint64_t version = 0;
  uint64_t requests = 0;
  Histogram latency_ms;
  Histogram predict_seconds;
  // vLLM-like servers: TTFT, and the KV-cache tokens held at time t = kv_base + kv_rate * t (the
  // sums over the running requests of their linear growth, see Completion).
  Histogram ttft_seconds;
  double kv_base = 0;
  double kv_rate = 0;
};

struct Completion {
  double time;
  uint64_t seq;
  uint64_t pod;      // Pod::id
  uint64_t version;  // the pod's version when scheduled (always 0 without a CPU limit)
  double arrival;
  double service_time;
  double cpu_rate;
  // vLLM-like servers: the request's KV-cache tokens grow as kv_base + kv_rate * t while it runs.
  double kv_base = 0;
  double kv_rate = 0;
  bool operator>(const Completion& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

}  // namespace

struct Simulator::NodeState {
  int pods = 0;                    // live pods placed on it
  double retired_cpu_seconds = 0;  // pod cgroup CPU (serving + pause) of its removed pods
};

struct Simulator::ServiceState {
  ServiceState(ServiceSpec s, uint64_t seed, std::vector<NodeState>* n)
      : spec(std::move(s)),
        nodes(n),
        arrival_rng(SplitMix64(seed)),
        service_rng(SplitMix64(seed)),
        name_rng(SplitMix64(seed)),
        ttft_seconds(&FineTtftBucketsSeconds()) {
    uint64_t h = Fnv1a(spec.ns + "/" + spec.name, seed);
    for (int i = 0; i < 10; ++i) {
      template_hash.push_back(kNameAlphabet[SplitMix64(h) % kNameAlphabet.size()]);
    }
  }

  ServiceSpec spec;
  std::vector<NodeState>* nodes;  // shared by every service, owned by the simulator
  Rng arrival_rng, service_rng, name_rng;
  std::string template_hash;
  int desired = 0;
  std::optional<double> rps_override;
  std::vector<std::unique_ptr<Pod>> pods;  // creation order
  std::map<uint64_t, Pod*> live;           // pods by id
  uint64_t next_pod_id = 0;
  std::deque<double> queue;  // arrival times
  std::priority_queue<Completion, std::vector<Completion>, std::greater<>> completions;
  uint64_t seq = 0;
  int64_t in_flight = 0;
  uint64_t arrived = 0, completed = 0, queued = 0, dropped = 0;
  double concurrency_seconds = 0;
  double pod_seconds = 0;          // integral of the pod count (starting, serving, draining)
  double retired_cpu_seconds = 0;  // CPU of pods already removed
  double latency_seconds_sum = 0;
  double first_arrival = -1, first_ready = -1;
  std::vector<double> first_waits;  // queue waits of the first kFirstWaitsRecorded requests
  Histogram ttft_seconds;           // vLLM-like servers: every TTFT, fine buckets
  double integrated_to = 0;
  double pending_candidate = 0;  // next thinning candidate (>= the end of the last step)
  double pending_lam = -1;       // the bound it was drawn with

  double Rate(absl::Duration t) const { return rps_override ? *rps_override : spec.load.RateAt(t); }

  void Integrate(double t) {
    if (t > integrated_to) {
      concurrency_seconds +=
          static_cast<double>(in_flight + static_cast<int64_t>(queue.size())) * (t - integrated_to);
      pod_seconds += static_cast<double>(pods.size()) * (t - integrated_to);
      integrated_to = t;
    }
  }

  std::string NewPodName() {
    const std::string prefix = absl::StrCat(spec.name, "-predictor-", template_hash, "-");
    for (int attempt = 0;; ++attempt) {
      std::string n = prefix;
      for (int i = 0; i < 5; ++i) n.push_back(kNameAlphabet[name_rng.Index(kNameAlphabet.size())]);
      const bool taken =
          std::any_of(pods.begin(), pods.end(), [&](const auto& p) { return p->name == n; });
      if (!taken || attempt >= 100)
        return n;  // 27^5 names: a 101st collision in a row cannot happen in practice
    }
  }

  double SampleServiceTime() { return Sample(Seconds(spec.service_time)); }

  // A positive draw of the service's distribution with mean `mean`.
  double Sample(double mean) {
    switch (spec.distribution) {
      case ServiceTimeDistribution::kConstant:
        return mean;
      case ServiceTimeDistribution::kLognormal: {
        const double sigma = spec.lognormal_sigma;
        return std::exp(std::log(mean) - sigma * sigma / 2 + sigma * service_rng.Normal());
      }
      case ServiceTimeDistribution::kExponential:
        break;
    }
    return std::max(service_rng.Exponential(1.0 / mean), 1e-9);
  }

  // The least-loaded ready pod with a free slot (ties: the oldest), or null.
  Pod* PickPod() {
    Pod* best = nullptr;
    for (auto& p : pods) {
      if (!p->ready || p->draining) continue;
      if (spec.container_concurrency > 0 && p->in_flight >= spec.container_concurrency) continue;
      if (best == nullptr || p->in_flight < best->in_flight) best = p.get();
    }
    return best;
  }

  void UpdateCpu(Pod* pod, double t) const { pod->UpdateCpu(t, spec.idle_cpu, spec.cpu_limit); }

  // With a CPU limit: the pod's demand changed at `t` (its CPU integrated up to `t`): sets its
  // speed and schedules its running requests' completions anew (the former ones become stale).
  void Reschedule(Pod* pod, double t) {
    const double demand = spec.idle_cpu + pod->busy_cpu;
    pod->speed = demand > spec.cpu_limit ? spec.cpu_limit / demand : 1;
    ++pod->version;
    for (const Running& r : pod->running) {
      completions.push(Completion{t + std::max(0.0, r.finish_work - pod->work) / pod->speed, r.seq,
                                  pod->id, pod->version, r.arrival, r.service_time, r.cpu_rate,
                                  r.kv_base, r.kv_rate});
    }
  }

  void Dispatch(Pod* pod, double arrival, double t) {
    double st = 0;
    double kv_base = 0, kv_rate = 0;
    if (spec.llm) {
      // Token counts first, then the times they imply (see the model in model.h).
      const double prompt = std::max(1.0, std::round(Sample(spec.llm->prompt_tokens)));
      const double output = std::max(1.0, std::round(Sample(spec.llm->output_tokens)));
      const double prefill = prompt / spec.llm->prefill_tokens_per_second;
      st = prefill + output * Seconds(spec.llm->time_per_output_token);
      pod->ttft_seconds.Observe(t - arrival + prefill);
      ttft_seconds.Observe(t - arrival + prefill);
      kv_rate = output / st;
      kv_base = prompt - kv_rate * t;
      pod->kv_base += kv_base;
      pod->kv_rate += kv_rate;
    } else {
      st = SampleServiceTime();
    }
    // A request's CPU cost spread over its service time; with a CPU limit a request runs on one
    // thread at a constant share (cost / mean service time), its cost then proportional to its
    // service time, rather than a short request wanting many cores for a moment.
    const double rate =
        spec.cpu_per_request / (spec.cpu_limit > 0 ? Seconds(spec.service_time) : st);
    UpdateCpu(pod, t);
    // FIFO: requests are admitted in arrival order, so these are the first requests' waits.
    if (first_waits.size() < kFirstWaitsRecorded) first_waits.push_back(t - arrival);
    ++pod->in_flight;
    pod->busy_cpu += rate;
    ++in_flight;
    if (spec.cpu_limit > 0) {
      pod->running.push_back(Running{seq++, pod->work + st, arrival, st, rate, kv_base, kv_rate});
      Reschedule(pod, t);
    } else {
      completions.push(Completion{t + st, seq++, pod->id, 0, arrival, st, rate, kv_base, kv_rate});
    }
  }

  // Drops completions scheduled before their pod's last reschedule.
  void SkipStale() {
    while (!completions.empty()) {
      const Completion& c = completions.top();
      auto it = live.find(c.pod);
      if (it != live.end() && it->second->version == c.version) return;
      completions.pop();
    }
  }

  void DrainQueue(double t) {
    while (!queue.empty()) {
      Pod* pod = PickPod();
      if (pod == nullptr) return;
      const double arrival = queue.front();
      queue.pop_front();
      Dispatch(pod, arrival, t);
    }
  }

  void Arrive(double t) {
    if (arrived == 0) first_arrival = t;
    ++arrived;
    if (queue.empty()) {
      if (Pod* pod = PickPod()) {
        Dispatch(pod, t, t);
        return;
      }
    }
    if (static_cast<int64_t>(queue.size()) >= spec.queue_limit) {
      ++dropped;
      return;
    }
    ++queued;
    queue.push_back(t);
  }

  // A new pod at `t` on the node with the fewest live pods (ties: the first).
  std::unique_ptr<Pod> NewPod(double t) {
    auto pod = std::make_unique<Pod>(next_pod_id++, NewPodName(), t, t + Seconds(spec.start_delay));
    live[pod->id] = pod.get();
    for (size_t i = 1; i < nodes->size(); ++i) {
      if ((*nodes)[i].pods < (*nodes)[pod->node].pods) pod->node = i;
    }
    ++(*nodes)[pod->node].pods;
    return pod;
  }

  // Books a pod leaving at `t` (its CPU integrated up to `t`) in its service and node totals.
  void Retire(const Pod& pod, double t) {
    live.erase(pod.id);
    retired_cpu_seconds += pod.cpu_seconds;
    NodeState& node = (*nodes)[pod.node];
    --node.pods;
    node.retired_cpu_seconds += pod.cpu_seconds + kPauseContainerCpu * (t - pod.created);
  }

  void RemovePod(Pod* pod, double t) {
    Retire(*pod, t);
    pods.erase(
        std::find_if(pods.begin(), pods.end(), [&](const auto& p) { return p.get() == pod; }));
  }

  void Complete(const Completion& c) {
    Pod* pod = live.at(c.pod);
    UpdateCpu(pod, c.time);
    --pod->in_flight;
    pod->busy_cpu = pod->in_flight == 0 ? 0 : std::max(0.0, pod->busy_cpu - c.cpu_rate);
    pod->kv_base = pod->in_flight == 0 ? 0 : pod->kv_base - c.kv_base;
    pod->kv_rate = pod->in_flight == 0 ? 0 : pod->kv_rate - c.kv_rate;
    --in_flight;
    if (spec.cpu_limit > 0) {
      std::erase_if(pod->running, [&](const Running& r) { return r.seq == c.seq; });
      Reschedule(pod, c.time);
    }
    const double latency = c.time - c.arrival;
    pod->latency_ms.Observe(latency * 1000);
    pod->predict_seconds.Observe(c.service_time);
    ++pod->requests;
    ++completed;
    latency_seconds_sum += latency;
    if (pod->draining && pod->in_flight == 0) RemovePod(pod, c.time);
  }

  double NextReady() const {
    double next = std::numeric_limits<double>::infinity();
    for (const auto& p : pods) {
      if (!p->ready && !p->draining) next = std::min(next, p->ready_at);
    }
    return next;
  }

  void Advance(absl::Duration from, absl::Duration to) {
    const double t0 = Seconds(from), t1 = Seconds(to);
    // Arrivals in [t0, t1) by thinning a Poisson process of the maximal rate. A candidate beyond t1
    // is kept for the next step while the bound stays the same, so at a constant rate the run does
    // not depend on the step size.
    std::vector<double> arrivals;
    const double lam = rps_override ? *rps_override : spec.load.MaxRate(from, to);
    if (lam > 0) {
      double t = (pending_lam == lam && pending_candidate >= t0)
                     ? pending_candidate
                     : t0 + arrival_rng.Exponential(lam);
      for (; t < t1; t += arrival_rng.Exponential(lam)) {
        if (rps_override || arrival_rng.Uniform() * lam < spec.load.RateAt(absl::Seconds(t))) {
          arrivals.push_back(t);
        }
      }
      pending_candidate = t;
    }
    pending_lam = lam;
    size_t next_arrival = 0;
    double next_ready = NextReady();
    for (;;) {
      const double ta = next_arrival < arrivals.size() ? arrivals[next_arrival]
                                                       : std::numeric_limits<double>::infinity();
      SkipStale();
      const double tc =
          completions.empty() ? std::numeric_limits<double>::infinity() : completions.top().time;
      const double t = std::min({ta, tc, next_ready});
      if (!(t <= t1)) break;
      Integrate(t);
      if (next_ready == t) {
        for (auto& p : pods) {
          if (!p->ready && !p->draining && p->ready_at <= t) {
            p->ready = true;
            if (first_ready < 0) first_ready = t;
          }
        }
        next_ready = NextReady();
        DrainQueue(t);
      } else if (tc == t) {
        const Completion c = completions.top();
        completions.pop();
        Complete(c);
        DrainQueue(t);
      } else {
        ++next_arrival;
        Arrive(t);
      }
    }
    Integrate(t1);
    for (auto& p : pods) UpdateCpu(p.get(), t1);
  }

  void Scale(int replicas, double t) {
    desired = replicas;
    int active = 0;
    for (const auto& p : pods) active += p->draining ? 0 : 1;
    for (; active < replicas; ++active) {
      auto pod = NewPod(t);
      pod->ready = spec.start_delay <= absl::ZeroDuration();
      pods.push_back(std::move(pod));
    }
    // Not-ready pods first, newest first; then the newest ready pods, which drain.
    for (int pass = 0; pass < 2 && active > replicas; ++pass) {
      for (size_t i = pods.size(); i-- > 0 && active > replicas;) {
        Pod* p = pods[i].get();
        if (p->draining || p->ready != (pass == 1)) continue;
        --active;
        if (p->in_flight == 0) {
          UpdateCpu(p, t);
          Retire(*p, t);
          pods.erase(pods.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          p->draining = true;
          p->deletion = t;
        }
      }
    }
    DrainQueue(t);
  }
};

Simulator::Simulator(absl::Time epoch) : epoch_(epoch) {}
Simulator::~Simulator() = default;

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(std::vector<ServiceSpec> specs,
                                                             uint64_t seed, absl::Time epoch,
                                                             NodeSpec nodes) {
  if (absl::Status st = ValidateNodeSpec(nodes); !st.ok()) return st;
  std::unique_ptr<Simulator> sim(new Simulator(epoch));
  sim->nodes_.resize(static_cast<size_t>(nodes.count));
  sim->node_spec_ = std::move(nodes);
  std::set<std::string> seen;
  for (auto& spec : specs) {
    if (absl::Status st = ValidateServiceSpec(spec); !st.ok()) return st;
    if (!seen.insert(spec.ns + "/" + spec.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate service ", spec.ns, "/", spec.name));
    }
    uint64_t mix = seed ^ Fnv1a(spec.ns + "/" + spec.name);
    const int replicas = spec.replicas;
    auto state = std::make_unique<ServiceState>(std::move(spec), SplitMix64(mix), &sim->nodes_);
    state->Scale(replicas, 0);
    // The initial pods are already running when the simulation starts, as in a live cluster; only
    // pods added later wait out start_delay.
    for (auto& pod : state->pods) {
      pod->ready = true;
      pod->ready_at = 0;
    }
    sim->services_.push_back(std::move(state));
  }
  return sim;
}

void Simulator::Advance(absl::Duration dt) {
  if (dt <= absl::ZeroDuration()) return;
  const absl::Duration to = now_ + dt;
  for (auto& s : services_) s->Advance(now_, to);
  now_ = to;
}

Simulator::ServiceState* Simulator::Find(std::string_view ns, std::string_view name) const {
  for (const auto& s : services_) {
    if (s->spec.ns == ns && s->spec.name == name) return s.get();
  }
  return nullptr;
}

absl::Status Simulator::SetReplicas(std::string_view ns, std::string_view name, int replicas) {
  ServiceState* s = Find(ns, name);
  if (s == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("service ", ToAbsl(ns), "/", ToAbsl(name), " not found"));
  }
  if (replicas < 0 || replicas > kMaxReplicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("replicas = ", replicas, ": must be in 0..", kMaxReplicas));
  }
  s->Scale(replicas, Seconds(now_));
  return absl::OkStatus();
}

absl::Status Simulator::SetLoadOverride(std::string_view ns, std::string_view name,
                                        std::optional<double> rps) {
  ServiceState* s = Find(ns, name);
  if (s == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("service ", ToAbsl(ns), "/", ToAbsl(name), " not found"));
  }
  if (rps && (!FiniteNonNegative(*rps) || *rps > kMaxRps)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rps = ", *rps, ": must be a number in 0..1e6 or null"));
  }
  s->rps_override = rps;
  return absl::OkStatus();
}

ServiceView Simulator::View(const ServiceState& s) const {
  ServiceView v;
  v.spec = &s.spec;
  v.desired_replicas = s.desired;
  v.arrival_rate = s.Rate(now_);
  v.rps_override = s.rps_override;
  v.queue_length = static_cast<int64_t>(s.queue.size());
  v.in_flight = s.in_flight;
  v.arrived = s.arrived;
  v.completed = s.completed;
  v.queued = s.queued;
  v.dropped = s.dropped;
  v.concurrency_seconds = s.concurrency_seconds;
  v.pod_seconds = s.pod_seconds;
  v.cpu_seconds = s.retired_cpu_seconds;
  v.latency_seconds_sum = s.latency_seconds_sum;
  v.first_arrival = s.first_arrival;
  v.first_ready = s.first_ready;
  v.first_waits = &s.first_waits;
  if (s.spec.llm) v.ttft_seconds = &s.ttft_seconds;
  int serving = 0;
  for (const auto& p : s.pods) {
    if (p->draining) ++v.draining_pods;
    if (p->ready && !p->draining) ++serving;
  }
  v.ready_replicas = serving;
  // The queue is shared out over the serving pods (the first pods get the remainder), so that
  // summed over the pods vllm:num_requests_waiting equals the service queue whenever a pod serves.
  int64_t index = 0;
  for (const auto& p : s.pods) {
    PodView pv;
    pv.name = p->name;
    pv.node = NodeName(p->node);
    pv.created = epoch_ + absl::Seconds(p->created);
    pv.ready = p->ready && !p->draining;
    pv.draining = p->draining;
    pv.deletion = epoch_ + absl::Seconds(p->deletion);
    pv.in_flight = p->in_flight;
    if (pv.ready) {
      pv.waiting_share =
          static_cast<int>(v.queue_length / serving + (index < v.queue_length % serving ? 1 : 0));
      ++index;
    }
    pv.cpu_seconds = p->cpu_seconds;
    pv.throttled_seconds = p->throttled_seconds;
    pv.cfs_periods = p->cfs_periods;
    pv.cfs_throttled_periods = p->cfs_throttled_periods;
    v.cpu_seconds += p->cpu_seconds;
    pv.ready_at = epoch_ + absl::Seconds(p->ready_at);
    pv.memory_bytes = s.spec.memory_working_set + s.spec.memory_per_request * p->in_flight;
    pv.requests = p->requests;
    pv.latency_ms = &p->latency_ms;
    pv.predict_seconds = &p->predict_seconds;
    if (s.spec.llm) {
      pv.ttft_seconds = &p->ttft_seconds;
      const double held = p->kv_base + p->kv_rate * Seconds(now_);
      pv.kv_cache_usage = std::clamp(held / s.spec.llm->kv_cache_tokens, 0.0, 1.0);
    }
    v.pods.push_back(std::move(pv));
  }
  return v;
}

std::vector<ServiceView> Simulator::Services() const {
  std::vector<ServiceView> out;
  out.reserve(services_.size());
  for (const auto& s : services_) out.push_back(View(*s));
  return out;
}

std::string Simulator::NodeName(size_t index) const {
  return absl::StrCat(node_spec_.name_prefix, index + 1);
}

std::vector<NodeView> Simulator::Nodes() const {
  std::vector<NodeView> out(nodes_.size());
  const double now = Seconds(now_);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    out[i].name = NodeName(i);
    out[i].spec = &node_spec_;
    out[i].pods = nodes_[i].pods;
    out[i].cpu_seconds = node_spec_.system_cpu * now + nodes_[i].retired_cpu_seconds;
    out[i].memory_bytes = node_spec_.system_memory;
  }
  for (const auto& s : services_) {
    for (const auto& p : s->pods) {
      NodeView& n = out[p->node];
      n.cpu_seconds += p->cpu_seconds + kPauseContainerCpu * (now - p->created);
      n.memory_bytes += s->spec.memory_working_set + s->spec.memory_per_request * p->in_flight +
                        kPauseContainerMemory;
    }
  }
  return out;
}

absl::StatusOr<ServiceView> Simulator::Service(std::string_view ns, std::string_view name) const {
  const ServiceState* s = Find(ns, name);
  if (s == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("service ", ToAbsl(ns), "/", ToAbsl(name), " not found"));
  }
  return View(*s);
}

}  // namespace aa::sim
