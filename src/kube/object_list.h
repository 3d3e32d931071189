#pragma once
// Objects other than pods selected by their labels through the Kubernetes API
// (pipeline::ObjectSource): a metadata-only LIST with the labelSelector passed through, as
// prometheus-adapter resolves `{resource}/*/{metric}?labelSelector=`.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "kube/client.h"
#include "pipeline/object_select.h"

namespace aa::kube {

// The collection path of `resource` (from pipeline::FindKubeResource's table) in namespace `ns`
// ("" for a cluster-scoped resource): "/api/v1/namespaces/ns/services",
// "/apis/apps/v1/namespaces/ns/deployments", "/api/v1/nodes".
std::string CollectionPath(const pipeline::KubeResource& resource, std::string_view ns);

struct ObjectListOptions {
  absl::Duration timeout = absl::Seconds(5);  // the whole LIST (all pages), checked between pages
  int page_size = 500;                        // `limit` of each page
  size_t max_objects = 10000;                 // more matching objects than this: Unavailable
};

// Thread-safe (the client is). Every Select() is one paged LIST (`limit`/`continue`) asking for
// PartialObjectMetadataList (metadata only; a server that ignores it answers the full list, which
// works too). Errors: NotFound when the API server does not serve the resource (HTTP 404: e.g. its
// CRD or API group is not installed); Unavailable for everything else (refused by RBAC, API server
// down or slow, pages past `timeout`), the message saying the Kubernetes API server failed and how.
// `client` and `clock` must outlive this.
class ApiObjectLister final : public pipeline::ObjectSource {
 public:
  ApiObjectLister(Client& client, Clock& clock, ObjectListOptions options = {})
      : client_(client), clock_(clock), options_(options) {}

  absl::StatusOr<std::vector<std::string>> Select(const pipeline::KubeResource& resource,
                                                  std::string_view ns,
                                                  const selector::Selector& selector) override;
  std::string Describe(const pipeline::KubeResource&) const override {
    return "the Kubernetes API";
  }

 private:
  Client& client_;
  Clock& clock_;
  const ObjectListOptions options_;
};

}  // namespace aa::kube
