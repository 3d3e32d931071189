#include "pipeline/why.h"

#include <iterator>
#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace aa::pipeline {
namespace {

constexpr absl::string_view kWhyPayload = "aa.pipeline.why";

}  // namespace

Why WhyOf(const absl::Status& status) {
  auto payload = status.GetPayload(kWhyPayload);
  if (!payload.has_value()) return Why::kOther;
  std::string text(*payload);
  if (text.size() != 1) return Why::kOther;
  return static_cast<Why>(text[0]);
}

absl::Status WithWhy(absl::Status status, Why why) {
  if (!status.ok())
    status.SetPayload(kWhyPayload, absl::Cord(std::string(1, static_cast<char>(why))));
  return status;
}

std::string_view WhyName(Why why) {
  // In the order of the enum.
  static constexpr std::string_view kNames[] = {
      "other", "unknown metric",  "bad question",   "no such object",    "no value",
      "stale", "not sampled yet", "backend failed", "too many variants", "demand limit"};
  const size_t i = static_cast<size_t>(why);
  return i < std::size(kNames) ? kNames[i] : kNames[0];
}

}  // namespace aa::pipeline
