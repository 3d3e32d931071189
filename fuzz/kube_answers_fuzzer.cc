// Feeds arbitrary bytes to every reader of the Kubernetes API's answers: as one line of a watch
// stream (and the event's object to the pod reader, the watch ERROR reader and the metadata
// reader), as an error answer's body, and, when it is JSON, as a Pod, a TokenReview, a
// SubjectAccessReview and the authentication ConfigMap (whose data then builds a trust config). An
// answer is input the adapter does not control: none of this may throw or crash, and requests
// built from what it read (a SubjectAccessReview with the user it names) must serialize to valid
// JSON whatever bytes they carry.
//
// Seed corpus: tests/testdata/kube/corpus/ (dictionary kube.dict).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "auth/kube_backends.h"
#include "auth/trust_config.h"
#include "kube/client.h"
#include "kube/json_fields.h"
#include "kube/pod.h"
#include "nlohmann/json.hpp"

namespace {

using nlohmann::json;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// Whatever it holds, `j` serializes (SafeDump) to JSON that parses back.
void CheckDumps(const json& j) {
  Check(!json::parse(aa::kube::SafeDump(j), nullptr, /*allow_exceptions=*/false).is_discarded());
}

void ReadObject(const json& object) {
  auto pod = aa::kube::ParsePod(object);
  if (pod.ok()) Check(!pod->name.empty() && !pod->ns.empty());
  (void)aa::kube::StatusFromWatchError(object);
  (void)aa::kube::MetadataString(object, "resourceVersion");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto event = aa::kube::ParseWatchEvent(input); event.ok()) {
    Check(!event->type.empty());
    ReadObject(event->object);
  }
  absl::Status error = aa::kube::StatusFromHttp(403, input, "GET /api/v1/pods");
  Check(!error.ok() && aa::kube::HttpStatusOf(error) == 403);

  json j = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  CheckDumps(j);
  ReadObject(j);
  auto review = aa::auth::ParseTokenReview(j);
  if (review.ok() && review->authenticated) {
    Check(!review->user.name.empty());
    // The user it names goes into the next request, a SubjectAccessReview.
    aa::auth::Attributes attributes;
    attributes.user = review->user;
    attributes.verb = "get";
    attributes.path = std::string(input.substr(0, 64));
    CheckDumps(aa::auth::SubjectAccessReviewFor(attributes));
  }
  (void)aa::auth::ParseSubjectAccessReview(j);
  std::map<std::string, std::string> configmap = aa::auth::ConfigMapData(j);
  (void)aa::auth::BuildTrustConfig(aa::auth::TrustFlags{}, &configmap);
  return 0;
}
