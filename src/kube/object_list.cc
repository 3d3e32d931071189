#include "kube/object_list.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "net/url.h"

namespace aa::kube {
namespace {

constexpr char kMetadataOnly[] =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

}  // namespace

std::string CollectionPath(const pipeline::KubeResource& resource, std::string_view ns) {
  std::string path =
      resource.group.empty() ? std::string("/api/") : absl::StrCat("/apis/", resource.group, "/");
  // api_version is "v1" for the core group, "<group>/<version>" otherwise.
  std::string_view version = resource.api_version;
  if (size_t slash = version.rfind('/'); slash != std::string_view::npos) {
    version = version.substr(slash + 1);
  }
  absl::StrAppend(&path, ToAbsl(version));
  if (resource.namespaced) absl::StrAppend(&path, "/namespaces/", ToAbsl(ns));
  absl::StrAppend(&path, "/", resource.plural);
  return path;
}

absl::StatusOr<std::vector<std::string>> ApiObjectLister::Select(
    const pipeline::KubeResource& resource, std::string_view ns,
    const selector::Selector& selector) {
  const std::string collection = CollectionPath(resource, ns);
  const std::string what =
      absl::StrCat("listing ", resource.GroupResource(),
                   resource.namespaced ? absl::StrCat(" in namespace ", ToAbsl(ns)) : "",
                   " with labelSelector \"", selector.String(), "\"");
  auto failed = [&](std::string_view detail) {
    return absl::UnavailableError(
        absl::StrCat("the Kubernetes API server failed ", what, ": ", ToAbsl(detail)));
  };
  const absl::Time deadline = clock_.Now() + options_.timeout;
  std::vector<std::string> names;
  std::string cont;
  for (int page = 0;; ++page) {
    if (page > 0 && clock_.Now() >= deadline) {
      return failed(absl::StrCat("no complete answer within ",
                                 absl::FormatDuration(options_.timeout), " (", page, " pages, ",
                                 names.size(), " objects so far)"));
    }
    std::string path =
        absl::StrCat(collection, "?labelSelector=", net::UrlEncode(selector.String()),
                     "&limit=", options_.page_size);
    if (!cont.empty()) absl::StrAppend(&path, "&continue=", net::UrlEncode(cont));
    auto list = client_.GetJson(path, kMetadataOnly);
    if (!list.ok()) {
      if (HttpStatusOf(list.status()) == 404) {
        return absl::NotFoundError(absl::StrCat("the Kubernetes API server does not serve ",
                                                resource.GroupResource(), " (", collection,
                                                "): ", list.status().message()));
      }
      return failed(FromAbsl(list.status().message()));
    }
    if (!list->is_object()) return failed("the answer is not a list object");
    const nlohmann::json items = list->value("items", nlohmann::json());
    if (!items.is_array() && !items.is_null()) return failed("the answer has no items list");
    if (items.is_array()) {
      for (const auto& item : items) {
        auto md = item.find("metadata");
        if (md == item.end() || !md->is_object()) continue;
        auto n = md->find("name");
        if (n != md->end() && n->is_string()) names.push_back(n->get<std::string>());
      }
    }
    if (names.size() > options_.max_objects) {
      return failed(absl::StrCat("more than ", options_.max_objects, " objects match"));
    }
    cont.clear();
    if (auto md = list->find("metadata"); md != list->end() && md->is_object()) {
      if (auto c = md->find("continue"); c != md->end() && c->is_string()) {
        cont = c->get<std::string>();
      }
    }
    if (cont.empty()) break;
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace aa::kube
