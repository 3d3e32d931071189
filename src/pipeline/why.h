#pragma once
// Why the pipeline has no answer to a question: a kind carried by its error statuses (as a
// payload, so the code and message stay what they are), read by the frontends with WhyOf().
// pipeline/view.h says which error has which kind.

#include <string_view>

#include "absl/status/status.h"

namespace aa::pipeline {

// Why a question has no answer, or why a selection is empty.
enum class Why {
  kOther = 0,  // not said (OK, or an error that does not come from the view)
  kUnknownMetric,
  kBadQuestion,
  kNoSuchObject,  // nothing is selected: no object has the name or matches the selector
  kNoValue,       // objects are selected, but none has a value of the metric
  kStale,
  kNotSampledYet,
  kBackendFailed,
  kTooManyVariants,
  kDemandLimit,  // a new namespace refused: too many new ones at once, or the demand ceiling
};
// The Why an error of the view carries (kOther for any other status).
Why WhyOf(const absl::Status& status);
// `status` with `why` attached (the code and message unchanged).
absl::Status WithWhy(absl::Status status, Why why);
// "unknown metric", "no value"...: for tests and logs.
std::string_view WhyName(Why why);

}  // namespace aa::pipeline
