#include "kube/pod_watch.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time_format.h"
#include "kube/json_fields.h"
#include "kube/list_watch.h"
#include "net/url.h"

namespace aa::kube {
namespace {

std::string PodsPath(const std::string& ns) {
  return ns.empty() ? "/api/v1/pods" : absl::StrCat("/api/v1/namespaces/", ns, "/pods");
}

}  // namespace

PodWatch::PodWatch(Client& client, Clock& clock, PodWatchOptions options)
    : client_(client), clock_(clock), options_(std::move(options)) {}

PodWatch::~PodWatch() { Stop(); }

void PodWatch::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PodWatch::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cancel_.Cancel();
  if (thread_.joinable()) thread_.join();
}

bool PodWatch::Synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

absl::Status PodWatch::StaleLocked(absl::Time now) const {
  if (!synced_ || watching_ || now - last_good_ <= options_.max_staleness) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat(
      "the pod index is stale: no successful list or watch of pods from the Kubernetes API since ",
      FormatRfc3339Millis(last_good_), " (",
      absl::FormatDuration(absl::Trunc(now - last_good_, absl::Seconds(1))),
      ", longer than --pod-watch-max-staleness ", absl::FormatDuration(options_.max_staleness), ")",
      stats_.last_error.ok() ? "" : absl::StrCat("; last error: ", stats_.last_error.message())));
}

absl::Status PodWatch::StaleStatus() const {
  absl::MutexLock lock(&mu_);
  return StaleLocked(clock_.Now());
}

absl::Status PodWatch::SyncStatus() const {
  absl::MutexLock lock(&mu_);
  if (synced_) return StaleLocked(clock_.Now());
  std::string what = options_.ns.empty() ? "pods" : absl::StrCat("pods of namespace ", options_.ns);
  return absl::UnavailableError(absl::StrCat(
      "waiting for the first list of ", what, " from the Kubernetes API",
      stats_.last_error.ok() ? ""
                             : absl::StrCat(" (last error: ", stats_.last_error.message(), ")")));
}

std::shared_ptr<const NamespacePods> PodWatch::Pods(std::string_view ns) const {
  static const auto* const kEmpty =
      new std::shared_ptr<const NamespacePods>(std::make_shared<const NamespacePods>());
  absl::MutexLock lock(&mu_);
  if (!synced_) return nullptr;
  auto it = pods_.find(ns);
  if (it == pods_.end()) return *kEmpty;
  return it->second;
}

std::optional<PodInfo> PodWatch::Find(std::string_view ns, std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = pods_.find(ns);
  if (it == pods_.end()) return std::nullopt;
  auto p = it->second->pods.find(name);
  if (p == it->second->pods.end()) return std::nullopt;
  return p->second;
}

size_t PodWatch::size() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [ns, table] : pods_) n += table->pods.size();
  return n;
}

PodWatch::Stats PodWatch::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void PodWatch::Wake() {
  {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  }
}

bool PodWatch::WaitFor(const std::function<bool(const Stats&)>& pred,
                       absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(stats_); };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

void PodWatch::Run() {
  using Failure = ListWatchSteps::Failure;
  RunListWatch({
      .list = [this] { return List(); },
      .watch = [this](const std::string& rv,
                      bool* got_events) { return WatchOnce(rv, got_events); },
      .resume_version =
          [this] {
            absl::MutexLock lock(&mu_);
            return stats_.resource_version;
          },
      .done =
          [this] {
            absl::MutexLock lock(&mu_);
            return stopping_;
          },
      .failed =
          [this](Failure failure, const absl::Status& s) {
            {
              absl::MutexLock lock(&mu_);
              ++(failure == Failure::kList    ? stats_.list_failures
                 : failure == Failure::kWatch ? stats_.watch_failures
                                              : stats_.gone);
              stats_.last_error = s;
            }
            if (failure == Failure::kList) {
              LogWarn("pod watch: list failed; retrying after a backoff",
                      {{"namespace", options_.ns.empty() ? "(all)" : options_.ns}, {"error", s}});
            } else if (failure == Failure::kWatch) {
              LogWarn("pod watch: watch failed; retrying after a backoff", {{"error", s}});
            } else {
              LogInfo("pod watch: resourceVersion expired (410 Gone); listing again",
                      {{"error", s}});
            }
          },
      .backoff = [this](int failures) { return Backoff(failures); },
  });
}

absl::StatusOr<std::string> PodWatch::List() {
  std::map<std::string, std::shared_ptr<NamespacePods>, std::less<>> fresh;
  std::string cont;
  std::string rv;
  do {
    std::string path = absl::StrCat(PodsPath(options_.ns), "?limit=", options_.list_page_size);
    if (!cont.empty()) absl::StrAppend(&path, "&continue=", net::UrlEncode(cont));
    auto page = client_.GetJson(path);
    if (!page.ok()) return page.status();
    if (!page->is_object() || !page->contains("items") || !(*page)["items"].is_array()) {
      return absl::InternalError(absl::StrCat("GET ", path, ": not a PodList"));
    }
    rv = MetadataString(*page, "resourceVersion");
    cont = MetadataString(*page, "continue");
    for (const auto& item : (*page)["items"]) {
      auto pod = ParsePod(item);
      if (!pod.ok()) {
        LogWarn("pod watch: skipping a pod", {{"error", pod.status()}});
        continue;
      }
      auto& table = fresh[pod->ns];
      if (!table) table = std::make_shared<NamespacePods>();
      std::string name = pod->name;
      table->pods[name] = *std::move(pod);
    }
  } while (!cont.empty());
  if (rv.empty()) return absl::InternalError("pod list without metadata.resourceVersion");
  size_t count = 0;
  for (const auto& [ns, t] : fresh) count += t->pods.size();
  {
    absl::MutexLock lock(&mu_);
    pods_ = std::move(fresh);
    synced_ = true;
    last_good_ = clock_.Now();
    ++stats_.lists;
    stats_.resource_version = rv;
  }
  LogInfo("pod watch: listed pods",
          {{"pods", static_cast<int64_t>(count)}, {"resource_version", rv}});
  return rv;
}

absl::Status PodWatch::WatchOnce(const std::string& rv, bool* got_events) {
  std::string path = absl::StrCat(
      PodsPath(options_.ns),
      "?watch=1&allowWatchBookmarks=true&resourceVersion=", net::UrlEncode(rv),
      "&timeoutSeconds=", std::max<int64_t>(1, absl::ToInt64Seconds(options_.watch_timeout)));
  {
    absl::MutexLock lock(&mu_);
    ++stats_.watches;
  }
  absl::Status event_error;
  absl::Status s = client_.Watch(
      path,
      [&](const WatchEvent& event) {
        if (event.type == "ERROR") {
          event_error = StatusFromWatchError(event.object);
          return false;
        }
        *got_events = true;
        Apply(event);
        return true;
      },
      &cancel_, options_.watch_timeout + absl::Minutes(1),
      [this] {
        absl::MutexLock lock(&mu_);
        watching_ = true;
      });
  {
    // The index was current until this watch ended, whatever ended it.
    absl::MutexLock lock(&mu_);
    if (watching_) last_good_ = clock_.Now();
    watching_ = false;
  }
  if (!event_error.ok()) return event_error;
  return s;
}

void PodWatch::Apply(const WatchEvent& event) {
  std::string version = MetadataString(event.object, "resourceVersion");
  if (event.type == "BOOKMARK") {
    {
      absl::MutexLock lock(&mu_);
      ++stats_.bookmarks;
      if (!version.empty()) stats_.resource_version = version;
    }
    return;
  }
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED") {
    LogWarn("pod watch: unknown event type", {{"type", event.type}});
    return;
  }
  auto pod = ParsePod(event.object);
  if (!pod.ok()) LogWarn("pod watch: skipping an event", {{"error", pod.status()}});
  {
    absl::MutexLock lock(&mu_);
    if (!version.empty()) stats_.resource_version = version;
    ++stats_.events;
    if (pod.ok()) {
      auto& table = pods_[pod->ns];
      if (!table) {
        table = std::make_shared<NamespacePods>();
      } else if (table.use_count() > 1) {
        table = std::make_shared<NamespacePods>(*table);  // a reader holds the old one
      }
      if (event.type == "DELETED") {
        table->pods.erase(pod->name);
      } else {
        std::string name = pod->name;
        table->pods[name] = *std::move(pod);
      }
    }
  }
}

bool PodWatch::Backoff(int failures) {
  const absl::Duration d =
      BackoffDelay(failures, options_.initial_backoff, options_.max_backoff, options_.jitter);
  absl::MutexLock lock(&mu_);
  const absl::Time until = clock_.Now() + d;
  stats_.backoff_until = until;
  const bool running = AwaitClock(mu_, clock_, until, stopping_, wake_);
  stats_.backoff_until = absl::InfinitePast();
  return running;
}

}  // namespace aa::kube
