#pragma once
// What the tests of the sampler and of the APIs over it share: the sampling settings they run with
// and stepping the sampler one round on a SimulatedClock.

#include <cstdint>

#include "absl/time/time.h"
#include "common/clock.h"
#include "config/config.h"
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

}  // namespace aa::testing
