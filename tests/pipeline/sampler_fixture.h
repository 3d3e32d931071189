#pragma once
// What the tests of the sampler and of the APIs over it share: the sampling settings they run with
// and stepping the sampler one round on a SimulatedClock.

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "config/config.h"
#include "pipeline/pod_source.h"
#include "pipeline/sampler.h"

namespace aa::testing {

// Real-time bound on waiting for the sampling thread.
inline constexpr absl::Duration kSamplerWait = absl::Seconds(10);

// A config with no metrics, sampling every `interval`, values served for 30 s and a first request
// waiting kSamplerWait for its sample; the rest as the defaults.
inline config::Config SamplingTestConfig(absl::Duration interval = absl::Seconds(5)) {
  config::Config c;
  c.sampling.interval = interval;
  c.sampling.max_age = absl::Seconds(30);
  c.sampling.first_sample_timeout = kSamplerWait;
  return c;
}

// Advances `clock` by `interval`, wakes `sampler` and waits (at most `wait`, real time) for the
// round that triggers. False when it did not come.
[[nodiscard]] inline bool NextSamplerRound(pipeline::Sampler& sampler, SimulatedClock& clock,
                                           absl::Duration interval = absl::Seconds(5),
                                           absl::Duration wait = kSamplerWait) {
  const uint64_t generation = sampler.snapshot()->generation;
  clock.Advance(interval);
  sampler.Wake();
  return sampler.WaitForGeneration(generation + 1, wait);
}

// A pod-label source that never has tables (the sampler falls back to kube_pod_labels) and whose
// index is stale when a test says so: a Kubernetes pod watch that has failed for too long.
class StalablePodIndex final : public pipeline::PodLabelSource {
 public:
  std::shared_ptr<const pipeline::PodLabelsTable> PodLabels(std::string_view) override {
    return nullptr;
  }
  absl::Status IndexStatus() const override {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  void Set(absl::Status status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aa::testing
