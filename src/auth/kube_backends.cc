#include "auth/kube_backends.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "kube/json_fields.h"

namespace aa::auth {
namespace {

constexpr char kTokenReviews[] = "/apis/authentication.k8s.io/v1/tokenreviews";
constexpr char kAccessReviews[] = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
constexpr char kConfigMapPath[] =
    "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication";
constexpr char kConfigMapWatchPath[] =
    "/api/v1/namespaces/kube-system/configmaps?watch=1&allowWatchBookmarks=true&fieldSelector="
    "metadata.name%3Dextension-apiserver-authentication&resourceVersion=";

using kube::JsonBool;
using kube::JsonField;
using kube::JsonObject;
using kube::JsonString;
using kube::JsonStrings;

}  // namespace

absl::StatusOr<TokenReviewResult> ParseTokenReview(const nlohmann::json& answer) {
  const nlohmann::json& status = JsonObject(answer, "status");
  TokenReviewResult result;
  result.authenticated = JsonBool(status, "authenticated");
  result.error = JsonString(status, "error");
  if (result.authenticated) {
    const nlohmann::json& user = JsonObject(status, "user");
    result.user.name = JsonString(user, "username");
    result.user.uid = JsonString(user, "uid");
    if (const nlohmann::json* groups = JsonField(user, "groups")) {
      result.user.groups = JsonStrings(*groups);
    }
    for (const auto& [k, v] : JsonObject(user, "extra").items()) {
      result.user.extra[k] = JsonStrings(v);
    }
    if (result.user.name.empty()) {
      return absl::InternalError("TokenReview: authenticated without status.user.username");
    }
  }
  return result;
}

AuthorizationResult ParseSubjectAccessReview(const nlohmann::json& answer) {
  const nlohmann::json& status = JsonObject(answer, "status");
  AuthorizationResult result;
  result.reason = JsonString(status, "reason");
  if (JsonBool(status, "allowed")) {
    result.decision = Decision::kAllow;
  } else if (JsonBool(status, "denied")) {
    result.decision = Decision::kDeny;
  } else {
    result.decision = Decision::kNoOpinion;
  }
  if (result.decision != Decision::kAllow && result.reason.empty()) {
    result.reason = JsonString(status, "evaluationError");
  }
  return result;
}

std::map<std::string, std::string> ConfigMapData(const nlohmann::json& configmap) {
  std::map<std::string, std::string> data;
  for (const auto& [k, v] : JsonObject(configmap, "data").items()) {
    if (v.is_string()) data[k] = v.get<std::string>();
  }
  return data;
}

absl::StatusOr<TokenReviewResult> KubeTokenReviewer::Review(const std::string& token) {
  nlohmann::json body = {{"apiVersion", "authentication.k8s.io/v1"},
                         {"kind", "TokenReview"},
                         {"spec", {{"token", token}}}};
  auto answer = client_.PostJson(kTokenReviews, body);
  if (!answer.ok()) return answer.status();
  return ParseTokenReview(*answer);
}

nlohmann::json SubjectAccessReviewFor(const Attributes& a) {
  nlohmann::json spec = {{"user", a.user.name}, {"groups", a.user.groups}};
  if (!a.user.uid.empty()) spec["uid"] = a.user.uid;
  if (!a.user.extra.empty()) spec["extra"] = a.user.extra;
  if (a.resource_request) {
    nlohmann::json ra = {{"verb", a.verb},
                         {"group", a.api_group},
                         {"version", a.api_version},
                         {"resource", a.resource}};
    if (!a.namespace_.empty()) ra["namespace"] = a.namespace_;
    if (!a.subresource.empty()) ra["subresource"] = a.subresource;
    if (!a.name.empty()) ra["name"] = a.name;
    spec["resourceAttributes"] = ra;
  } else {
    spec["nonResourceAttributes"] = {{"path", a.path}, {"verb", a.verb}};
  }
  return {
      {"apiVersion", "authorization.k8s.io/v1"}, {"kind", "SubjectAccessReview"}, {"spec", spec}};
}

absl::StatusOr<AuthorizationResult> KubeAuthorizer::Authorize(const Attributes& attributes) {
  auto answer = client_.PostJson(kAccessReviews, SubjectAccessReviewFor(attributes));
  if (!answer.ok()) return answer.status();
  return ParseSubjectAccessReview(*answer);
}

AuthConfigMapWatcher::AuthConfigMapWatcher(kube::Client& client, TrustFlags flags,
                                           TrustStore& store)
    : client_(client), flags_(std::move(flags)), store_(store) {}

AuthConfigMapWatcher::~AuthConfigMapWatcher() { Stop(); }

int AuthConfigMapWatcher::applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

bool AuthConfigMapWatcher::WaitForApplied(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return applied_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

void AuthConfigMapWatcher::Apply(const nlohmann::json& configmap) {
  std::map<std::string, std::string> data = ConfigMapData(configmap);
  std::string key;
  for (const auto& [k, v] : data) absl::StrAppend(&key, k.size(), ":", k, v.size(), ":", v);
  auto trust = BuildTrustConfig(flags_, &data);
  absl::MutexLock lock(&mu_);
  ++applied_;
  if (!trust.ok()) {
    LogWarn(
        "ConfigMap kube-system/extension-apiserver-authentication not applied; keeping the "
        "previous trust",
        {{"error", trust.status()}});
    return;
  }
  if (key == last_data_ && applied_ > 1) return;
  last_data_ = key;
  store_.Set(*trust);
  LogInfo("authentication trust from ConfigMap kube-system/extension-apiserver-authentication",
          {{"trust", DescribeTrust(*trust)}});
}

absl::StatusOr<std::string> AuthConfigMapWatcher::List() {
  auto cm = client_.GetJson(kConfigMapPath);
  if (!cm.ok()) {
    if (kube::HttpStatusOf(cm.status()) != 404) return cm.status();
    // No ConfigMap (not a kubeadm-style cluster): only the flags. Watch from "now".
    Apply(nlohmann::json::object());
    return std::string();
  }
  Apply(*cm);
  return kube::MetadataString(*cm, "resourceVersion");
}

absl::Status AuthConfigMapWatcher::Start() {
  auto rv = List();
  if (!rv.ok()) {
    LogWarn(
        "cannot read ConfigMap kube-system/extension-apiserver-authentication (the adapter "
        "needs RoleBinding to extension-apiserver-authentication-reader in kube-system); "
        "retrying in the background",
        {{"error", rv.status()}});
  }
  thread_ = std::thread(
      [this, from = rv.ok() ? *rv : std::string(), listed = rv.ok()] { Run(from, !listed); });
  return rv.status();
}

void AuthConfigMapWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

void AuthConfigMapWatcher::Run(std::string resource_version, bool need_list) {
  absl::Duration backoff = absl::Seconds(1);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::Status status;
    if (need_list) {
      auto rv = List();
      status = rv.status();
      if (rv.ok()) {
        resource_version = *rv;
        need_list = false;
      }
    }
    if (status.ok()) {
      absl::Status event_error;
      status = client_.Watch(
          absl::StrCat(kConfigMapWatchPath, resource_version),
          [&](const kube::WatchEvent& e) {
            if (e.type == "ERROR") {
              event_error = kube::StatusFromWatchError(e.object);
              return false;
            }
            if (std::string rv = kube::MetadataString(e.object, "resourceVersion"); !rv.empty()) {
              resource_version = rv;
            }
            if (e.type == "ADDED" || e.type == "MODIFIED") {
              Apply(e.object);
            } else if (e.type == "DELETED") {
              Apply(nlohmann::json::object());
            }
            backoff = absl::Seconds(1);
            return true;
          },
          &cancel_);
      if (status.ok()) status = event_error;
      // The server ended the stream normally: watch again from the last version seen.
      if (status.ok()) continue;
    }
    if (absl::IsCancelled(status)) return;
    need_list = true;  // after 410 Gone or any error: list again, then watch
    if (kube::IsGone(status) && backoff == absl::Seconds(1)) {
      backoff = absl::Seconds(2);  // relist at once, but only once in a row without backoff
      continue;
    }
    {
      LogWarn("reading ConfigMap kube-system/extension-apiserver-authentication failed; retrying",
              {{"error", status}, {"backoff", absl::FormatDuration(backoff)}});
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
}

}  // namespace aa::auth
