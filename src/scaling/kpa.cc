#include "scaling/kpa.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"

namespace aa::scaling {
namespace {

int32_t ClampToInt32(double x) {
  if (std::isnan(x)) return 0;
  if (x >= static_cast<double>(std::numeric_limits<int32_t>::max())) {
    return std::numeric_limits<int32_t>::max();
  }
  if (x <= 0) return 0;
  return static_cast<int32_t>(x);
}

absl::Status RangeError(std::string_view field, double value, std::string_view range) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: must be %s (got %g)", field, range, value));
}

}  // namespace

absl::Duration KpaOptions::panic_window() const {
  return stable_window * (panic_window_percentage / 100.0);
}

absl::Status ValidateKpaOptions(const KpaOptions& o) {
  if (o.stable_window < absl::Seconds(6) || o.stable_window > absl::Hours(1)) {
    return absl::InvalidArgumentError(absl::StrFormat("stableWindow: must be in 6s..1h (got %s)",
                                                      absl::FormatDuration(o.stable_window)));
  }
  if (!(o.panic_window_percentage >= 1.0 && o.panic_window_percentage <= 100.0)) {
    return RangeError("panicWindowPercentage", o.panic_window_percentage, "in 1..100");
  }
  if (!(o.panic_threshold_percentage >= 110.0 && o.panic_threshold_percentage <= 1000.0)) {
    return RangeError("panicThresholdPercentage", o.panic_threshold_percentage, "in 110..1000");
  }
  if (!(o.max_scale_up_rate > 1.0) || std::isinf(o.max_scale_up_rate)) {
    return RangeError("maxScaleUpRate", o.max_scale_up_rate, "greater than 1");
  }
  if (!(o.max_scale_down_rate > 1.0) || std::isinf(o.max_scale_down_rate)) {
    return RangeError("maxScaleDownRate", o.max_scale_down_rate, "greater than 1");
  }
  if (!(o.target >= 0.01) || std::isinf(o.target)) {
    return RangeError("target", o.target, "at least 0.01");
  }
  if (o.activation_scale < 1) return RangeError("activationScale", o.activation_scale, ">= 1");
  if (o.scale_to_zero_grace_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("scaleToZeroGracePeriod: must be >= 0 (got %s)",
                        absl::FormatDuration(o.scale_to_zero_grace_period)));
  }
  if (o.min_scale < 0) return RangeError("minScale", o.min_scale, ">= 0");
  if (o.max_scale < 0) return RangeError("maxScale", o.max_scale, ">= 0");
  if (o.max_scale > 0 && o.min_scale > o.max_scale) {
    return RangeError("minScale", o.min_scale, "at most maxScale");
  }
  return absl::OkStatus();
}

double KpaConcurrencyTarget(int32_t container_concurrency, double target_utilization_percentage) {
  double cc = container_concurrency > 0 ? container_concurrency : 100.0;
  return std::max(0.01, cc * target_utilization_percentage / 100.0);
}

// ----- WindowAverage -----

WindowAverage::WindowAverage(absl::Duration window, absl::Duration granularity)
    : window_(window), granularity_(granularity) {
  if (granularity_ <= absl::ZeroDuration()) granularity_ = absl::Seconds(1);
  if (window_ < granularity_) window_ = granularity_;
  int64_t n = absl::ToInt64Nanoseconds(window_) / absl::ToInt64Nanoseconds(granularity_);
  if (absl::Nanoseconds(n * absl::ToInt64Nanoseconds(granularity_)) < window_) ++n;
  buckets_.assign(static_cast<size_t>(n), 0.0);
}

absl::Time WindowAverage::Truncate(absl::Time t) const {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), granularity_);
}

int64_t WindowAverage::Index(absl::Time t) const {
  int64_t slot = (t - absl::UnixEpoch()) / granularity_;
  int64_t n = static_cast<int64_t>(buckets_.size());
  return ((slot % n) + n) % n;
}

void WindowAverage::Record(absl::Time time, double value) {
  if (!std::isfinite(value)) return;
  const absl::Time bt = Truncate(time);
  if (last_write_ == absl::InfinitePast() || bt - last_write_ >= window_) {
    // First write, or nothing for a whole window: start over.
    std::fill(buckets_.begin(), buckets_.end(), 0.0);
    window_total_ = 0;
    first_write_ = bt;
    last_write_ = bt;
  } else if (bt > last_write_) {
    // Clear the buckets skipped since the last write (they hold values from a window ago).
    for (absl::Time t = last_write_ + granularity_; t <= bt; t += granularity_) {
      double& b = buckets_[static_cast<size_t>(Index(t))];
      window_total_ -= b;
      b = 0;
    }
    last_write_ = bt;
  } else if (last_write_ - bt >= window_) {
    return;  // too old to matter
  }
  if (bt < first_write_) first_write_ = bt;
  buckets_[static_cast<size_t>(Index(bt))] += value;
  window_total_ += value;
}

namespace {

// The running total adds and subtracts the same bucket values in different orders, so a window
// whose buckets are all zero can total a few ulps off zero (2e-14 after a minute at ~250), which
// ceil(total / target) turns into one pod: scale to zero would never happen. Below this, a
// window average is residue, not load.
constexpr double kResidue = 1e-9;

double Clean(double v) { return std::abs(v) < kResidue ? 0 : v; }

}  // namespace

double WindowAverage::Average(absl::Time now) const {
  if (last_write_ == absl::InfinitePast()) return 0;
  const absl::Time n = Truncate(now);
  const double max_buckets = static_cast<double>(buckets_.size());
  const absl::Duration d = n - last_write_;
  if (d <= absl::ZeroDuration()) {
    double filled =
        std::min(static_cast<double>((last_write_ - first_write_) / granularity_) + 1, max_buckets);
    return Clean(window_total_ / filled);
  }
  if (d < window_) {
    double total = window_total_;
    for (absl::Time t = last_write_ + granularity_; t <= n; t += granularity_) {
      total -= buckets_[static_cast<size_t>(Index(t))];
    }
    double filled =
        std::min(static_cast<double>((n - first_write_) / granularity_) + 1, max_buckets);
    return Clean(total / filled);
  }
  return 0;
}

bool WindowAverage::IsEmpty(absl::Time now) const {
  return last_write_ == absl::InfinitePast() || Truncate(now) - last_write_ >= window_;
}

// ----- KpaDecider -----

KpaDecider::KpaDecider(KpaOptions options) : options_(options) {}

KpaDecision KpaDecider::NoData() const {
  KpaDecision d;
  d.valid = false;
  d.in_panic = in_panic();
  d.panic_since = panic_time_;
  return d;
}

KpaDecision KpaDecider::Scale(absl::Time now, int32_t ready_pods, double stable_total,
                              double panic_total) {
  KpaDecision d;
  d.valid = true;
  const double ready = std::max(1.0, static_cast<double>(ready_pods));
  const double max_up = std::ceil(options_.max_scale_up_rate * ready);
  const double max_down = options_.reachable ? std::floor(ready / options_.max_scale_down_rate) : 0;

  const double dspc = std::ceil(std::max(0.0, stable_total) / options_.target);
  const double dppc = std::ceil(std::max(0.0, panic_total) / options_.target);
  int32_t desired_stable = ClampToInt32(std::min(std::max(dspc, max_down), max_up));
  int32_t desired_panic = ClampToInt32(std::min(std::max(dppc, max_down), max_up));
  if (options_.activation_scale > 1) {
    if (dspc > 0 && options_.activation_scale > desired_stable) {
      desired_stable = options_.activation_scale;
    }
    if (dppc > 0 && options_.activation_scale > desired_panic) {
      desired_panic = options_.activation_scale;
    }
  }
  d.desired_stable = desired_stable;
  d.desired_panic = desired_panic;

  const bool over = dppc / ready >= options_.panic_threshold_percentage / 100.0;
  d.over_panic_threshold = over;
  if (over) {
    panic_time_ = now;  // enter, or extend
  } else if (in_panic() && panic_time_ + options_.stable_window < now) {
    // The surge has made its way into the stable window.
    panic_time_ = absl::InfinitePast();
    max_panic_pods_ = 0;
  }

  int32_t desired = desired_stable;
  if (in_panic()) {
    desired = std::max(desired, desired_panic);
    // Never scale down while panicking.
    max_panic_pods_ = std::max(max_panic_pods_, desired);
    desired = max_panic_pods_;
  }
  d.desired_pods = desired;
  d.in_panic = in_panic();
  d.panic_since = panic_time_;
  return d;
}

// ----- ScaleToZeroGate -----

int32_t ScaleToZeroGate::Apply(absl::Time now, int32_t desired_pods) {
  int32_t result = desired_pods;
  if (desired_pods <= 0) {
    result = 1;
    if (options_.enable_scale_to_zero && options_.min_scale == 0) {
      if (zero_since_ == absl::InfinitePast()) zero_since_ = now;
      if (now - zero_since_ >= options_.scale_to_zero_grace_period) result = 0;
    }
  } else {
    zero_since_ = absl::InfinitePast();
  }
  result = std::max(result, options_.min_scale);
  if (options_.max_scale > 0) result = std::min(result, options_.max_scale);
  return result;
}

// ----- KpaAutoscaler -----

KpaAutoscaler::KpaAutoscaler(KpaOptions options)
    : stable_(options.stable_window),
      panic_(std::max(options.panic_window(), absl::Seconds(1))),
      decider_(options),
      gate_(options) {}

void KpaAutoscaler::Record(absl::Time time, double total_value) {
  stable_.Record(time, total_value);
  panic_.Record(time, total_value);
}

KpaDecision KpaAutoscaler::Decide(absl::Time now, int32_t ready_pods, int32_t current) {
  if (stable_.IsEmpty(now)) {
    KpaDecision d = decider_.NoData();
    d.desired_pods = current;
    return d;
  }
  KpaDecision d = decider_.Scale(now, ready_pods, stable_.Average(now), panic_.Average(now));
  d.desired_pods = gate_.Apply(now, d.desired_pods);
  return d;
}

}  // namespace aa::scaling
