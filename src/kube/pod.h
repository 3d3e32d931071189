#pragma once
// What the adapter keeps of a v1 Pod, and how it is read from the API's JSON.

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace aa::kube {

struct PodInfo {
  std::string ns;
  std::string name;
  std::map<std::string, std::string> labels;  // Kubernetes label keys as written
  std::string phase;         // "Pending", "Running", "Succeeded", "Failed", "Unknown"
  bool ready = false;        // condition Ready is "True"
  bool terminating = false;  // metadata.deletionTimestamp is set
  absl::Time start_time = absl::InfinitePast();  // status.startTime; InfinitePast when unset
  double cpu_request_cores = 0;                  // sum of spec.containers[].resources.requests.cpu
  bool cpu_request_complete = false;  // every container has a CPU request (the HPA needs that)
  std::string resource_version;

  friend bool operator==(const PodInfo&, const PodInfo&) = default;
};

// Reads a Pod object (from a list item or a watch event). InvalidArgument when metadata.name or
// metadata.namespace is missing or a CPU request is not a valid quantity (the message names the
// pod and the container).
absl::StatusOr<PodInfo> ParsePod(const nlohmann::json& pod);

// Parses a resource.Quantity string ("500m", "2", "1.5", "100n", "1Ki", "1e3") into its value.
// InvalidArgument for anything else.
absl::StatusOr<double> ParseQuantity(std::string_view text);

// Parses an RFC 3339 time as Kubernetes prints it ("2026-11-28T10:00:00Z", fractions allowed).
absl::StatusOr<absl::Time> ParseKubeTime(std::string_view text);

}  // namespace aa::kube
