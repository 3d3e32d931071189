#pragma once
// Time source seam: production code asks a Clock for the time, tests inject a SimulatedClock and
// never sleep.

#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace aa {

// Thread-safe source of wall-clock time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The real wall clock. Stateless; use RealClock::Get().
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  static Clock& Get();
};

// A clock that moves only when told to. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000)) : now_(start) {}
  absl::Time Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace aa
