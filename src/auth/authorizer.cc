#include "auth/authorizer.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace aa::auth {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  size_t b = path.find_first_not_of('/');
  if (b == std::string_view::npos) return {};
  size_t e = path.find_last_not_of('/');
  return absl::StrSplit(ToAbsl(path.substr(b, e - b + 1)), '/');
}

// Length-prefixed, so no field value can imitate a separator.
void AppendKey(std::string* key, std::string_view field) {
  absl::StrAppend(key, field.size(), ":", ToAbsl(field), ";");
}

std::string CacheKey(const Attributes& a) {
  std::string key;
  AppendKey(&key, a.user.name);
  AppendKey(&key, a.user.uid);
  absl::StrAppend(&key, a.user.groups.size(), "g;");
  for (const auto& g : a.user.groups) AppendKey(&key, g);
  absl::StrAppend(&key, a.user.extra.size(), "x;");
  for (const auto& [k, values] : a.user.extra) {
    AppendKey(&key, k);
    absl::StrAppend(&key, values.size(), "v;");
    for (const auto& v : values) AppendKey(&key, v);
  }
  AppendKey(&key, a.verb);
  absl::StrAppend(&key, a.resource_request ? "R;" : "N;");
  for (const std::string* f : {&a.namespace_, &a.api_group, &a.api_version, &a.resource,
                               &a.subresource, &a.name, &a.path}) {
    AppendKey(&key, *f);
  }
  return key;
}

}  // namespace

Attributes AttributesFor(const net::HttpRequest& request, const UserInfo& user) {
  Attributes a;
  a.user = user;
  a.path = request.path;
  a.verb = absl::AsciiStrToLower(request.method);
  std::vector<std::string> parts = SplitPath(request.path);
  if (parts.size() < 3 || (parts[0] != "api" && parts[0] != "apis")) return a;
  const bool groupless = parts[0] == "api";
  size_t i = 1;
  if (!groupless) {
    if (parts.size() - i < 3) return a;
    a.api_group = parts[i++];
  }
  a.resource_request = true;
  a.path.clear();
  a.api_version = parts[i++];
  static const std::vector<std::string> kSpecialVerbs = {"proxy", "watch"};
  if (std::find(kSpecialVerbs.begin(), kSpecialVerbs.end(), parts[i]) != kSpecialVerbs.end()) {
    if (parts.size() - i < 2) return a;  // Kubernetes: an error; nothing sensible to authorize
    a.verb = parts[i++];
  } else {
    const std::string& m = request.method;
    a.verb = m == "POST"                 ? "create"
             : m == "GET" || m == "HEAD" ? "get"
             : m == "PUT"                ? "update"
             : m == "PATCH"              ? "patch"
             : m == "DELETE"             ? "delete"
                                         : "";
  }
  if (parts[i] == "namespaces") {
    if (parts.size() - i > 1) {
      a.namespace_ = parts[i + 1];
      if (parts.size() - i > 2 && parts[i + 2] != "status" && parts[i + 2] != "finalize") i += 2;
    }
  }
  const size_t n = parts.size() - i;
  if (n >= 3 && a.verb != "proxy") a.subresource = parts[i + 2];
  if (n >= 2) a.name = parts[i + 1];
  if (n >= 1) a.resource = parts[i];
  if (a.name.empty() && a.verb == "get") {
    a.verb = "list";
    if (const std::string* w = request.Param("watch")) {
      std::string v = absl::AsciiStrToLower(*w);
      a.verb = v == "false" || v == "0" ? "list" : "watch";
    }
  }
  if (a.name.empty() && a.verb == "delete") a.verb = "deletecollection";
  return a;
}

absl::StatusOr<AuthorizationResult> BoundedAuthorizer::Authorize(const Attributes& attributes) {
  if (!budget_.TryAcquire(attributes.user.name)) {
    refused_.fetch_add(1);
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many access reviews for user \"", attributes.user.name,
        "\" (reads of different namespaces or metrics) at once; try again in a second"));
  }
  auto result = backend_.Authorize(attributes);
  budget_.Release();
  return result;
}

std::string ForbiddenMessage(const Attributes& a, const std::string& reason) {
  std::string msg;
  if (!a.resource_request) {
    msg = absl::StrCat("User \"", a.user.name, "\" cannot ", a.verb, " path \"", a.path, "\"");
  } else {
    std::string resource = a.resource;
    if (!a.subresource.empty()) absl::StrAppend(&resource, "/", a.subresource);
    msg = absl::StrCat("User \"", a.user.name, "\" cannot ", a.verb, " resource \"", resource,
                       "\" in API group \"", a.api_group, "\"",
                       a.namespace_.empty()
                           ? " at the cluster scope"
                           : absl::StrCat(" in the namespace \"", a.namespace_, "\""));
  }
  if (!reason.empty()) absl::StrAppend(&msg, ": ", reason);
  return msg;
}

CachingAuthorizer::CachingAuthorizer(Authorizer& backend, Clock& clock, absl::Duration allow_ttl,
                                     absl::Duration deny_ttl, size_t max_entries)
    : backend_(backend), allow_ttl_(allow_ttl), deny_ttl_(deny_ttl), cache_(clock, max_entries) {}

absl::StatusOr<AuthorizationResult> CachingAuthorizer::Authorize(const Attributes& attributes) {
  const std::string key = CacheKey(attributes);
  if (auto cached = cache_.Get(key)) return *std::move(cached);
  auto result = backend_.Authorize(attributes);
  if (!result.ok()) return result;
  cache_.Put(key, *result, result->decision == Decision::kAllow ? allow_ttl_ : deny_ttl_);
  return result;
}

}  // namespace aa::auth
