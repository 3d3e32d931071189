#include "kube/object_watch.h"

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metric_families.h"
#include "common/strings.h"
#include "kube/json_fields.h"
#include "kube/list_watch.h"
#include "net/url.h"

namespace aa::kube {
namespace {

// What client-go's metadata informers ask for: lists of PartialObjectMetadata, and watch events
// whose objects are PartialObjectMetadata (plain JSON from a server that does not know them).
constexpr char kMetadataList[] =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
constexpr char kMetadataWatch[] =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

using Labels = std::map<std::string, std::string, std::less<>>;

struct ObjectMeta {
  std::string ns;
  std::string name;
  Labels labels;
};

// An object's namespace, name and labels; nullopt without a name.
std::optional<ObjectMeta> ParseMeta(const nlohmann::json& object) {
  const nlohmann::json& md = JsonObject(object, "metadata");
  ObjectMeta meta{JsonString(md, "namespace"), JsonString(md, "name"), {}};
  if (meta.name.empty()) return std::nullopt;
  for (const auto& [key, value] : JsonObject(md, "labels").items()) {
    if (value.is_string()) meta.labels.emplace(key, value.get<std::string>());
  }
  return meta;
}

}  // namespace

// The self-metrics' families (options.registry, else a registry of their own nobody reads).
struct ObjectWatchCache::Metrics {
  explicit Metrics(prometheus::Registry* registry)
      : own(registry == nullptr ? std::make_unique<prometheus::Registry>() : nullptr),
        objects(GaugeFamily(registry ? *registry : *own, "autoscale_adapter_object_watch_objects",
                            "Objects the watch cache holds for labelSelector, by resource.")),
        lists(CounterFamily(
            registry ? *registry : *own, "autoscale_adapter_object_watch_lists_total",
            "Full lists of a resource by the watch cache (the first, after 410 Gone, after a "
            "failure), by outcome (success, failure).")),
        relists(CounterFamily(registry ? *registry : *own,
                              "autoscale_adapter_object_watch_relists_total",
                              "Watches of the watch cache that ended with 410 Gone (the "
                              "resourceVersion expired): each is followed by a full list.")),
        fallbacks(CounterFamily(
            registry ? *registry : *own, "autoscale_adapter_object_watch_fallbacks_total",
            "labelSelector requests on objects answered by a LIST of their own instead of the "
            "watch cache, by resource and reason (too_many_resources: objectWatch.maxResources; "
            "not_synced: no first list within objectWatch.firstListWait; stale; "
            "too_many_objects: objectWatch.maxObjects; stopped).")) {}

  std::unique_ptr<prometheus::Registry> own;
  prometheus::Family<prometheus::Gauge>& objects;
  prometheus::Family<prometheus::Counter>& lists;
  prometheus::Family<prometheus::Counter>& relists;
  prometheus::Family<prometheus::Counter>& fallbacks;
};

// One resource's list + watch loop and its cache (ns -> name -> labels).
class ObjectWatchCache::Informer {
 public:
  Informer(Client& client, Clock& clock, const ObjectWatchOptions& options,
           pipeline::KubeResource resource, Metrics& metrics)
      : client_(client),
        clock_(clock),
        options_(options),
        resource_(std::move(resource)),
        objects_gauge_(metrics.objects.Add({{"resource", resource_.GroupResource()}})),
        lists_ok_(
            metrics.lists.Add({{"resource", resource_.GroupResource()}, {"outcome", "success"}})),
        lists_failed_(
            metrics.lists.Add({{"resource", resource_.GroupResource()}, {"outcome", "failure"}})),
        relists_(metrics.relists.Add({{"resource", resource_.GroupResource()}})) {
    // Every namespace: the collection path without a namespace.
    pipeline::KubeResource all = resource_;
    all.namespaced = false;
    path_ = CollectionPath(all, "");
  }
  ~Informer() { Stop(); }
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    cancel_.Cancel();
    if (thread_.joinable()) thread_.join();
  }

  // The cache's answer, after waiting (bounded) for the first list; nullopt when the cache cannot
  // answer (not listed in time, stale, given up, stopped), with the reason in `*why`.
  std::optional<std::vector<std::string>> Select(std::string_view ns,
                                                 const selector::Selector& selector,
                                                 const char** why) {
    absl::MutexLock lock(&mu_);
    auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stats_.synced || stats_.list_failures > 0 || stats_.gave_up || stopping_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&settled), options_.first_list_wait);
    *why = stopping_             ? "stopped"
           : stats_.gave_up      ? "too_many_objects"
           : !stats_.synced      ? "not_synced"
           : Stale(clock_.Now()) ? "stale"
                                 : nullptr;
    if (*why != nullptr) return std::nullopt;
    std::vector<std::string> names;
    if (auto it = objects_.find(resource_.namespaced ? ns : std::string_view());
        it != objects_.end()) {
      for (const auto& [name, labels] : it->second) {
        if (selector.Matches(labels)) names.push_back(name);  // sorted: the map's order
      }
    }
    return names;
  }

  Stats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }
  void Wake() {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  }
  bool WaitFor(const std::function<bool(const Stats&)>& pred, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(stats_); };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }

 private:
  bool Stale(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !watching_ && now - last_good_ > options_.max_staleness;
  }

  void Run() {
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
              return stopping_ || stats_.gave_up;
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
              if (failure == Failure::kList) lists_failed_.Increment();
              if (failure == Failure::kGone) relists_.Increment();
              const std::string resource = resource_.GroupResource();
              if (failure == Failure::kGone) {
                LogInfo("object watch: resourceVersion expired (410 Gone); listing again",
                        {{"resource", resource}, {"error", s}});
              } else {
                LogWarn(failure == Failure::kList
                            ? "object watch: list failed; retrying after a backoff"
                            : "object watch: watch failed; retrying after a backoff",
                        {{"resource", resource}, {"error", s}});
              }
            },
        .backoff =
            [this](int failures) {
              const absl::Duration d = BackoffDelay(failures, options_.initial_backoff,
                                                    options_.max_backoff, options_.jitter);
              absl::MutexLock lock(&mu_);
              return AwaitClock(mu_, clock_, clock_.Now() + d, stopping_, wake_);
            },
    });
  }

  // More than max_objects: drop the cache and stop (requests fall back to LISTs).
  void GiveUp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    objects_.clear();
    stats_.objects = 0;
    objects_gauge_.Set(0);
    stats_.gave_up = true;
    LogWarn("object watch: too many objects to cache; answering by a LIST per request",
            {{"resource", resource_.GroupResource()},
             {"max_objects", static_cast<int64_t>(options_.max_objects)}});
  }

  // Lists every page and replaces the cache. Returns the list's resourceVersion.
  absl::StatusOr<std::string> List() {
    std::map<std::string, std::map<std::string, Labels, std::less<>>, std::less<>> fresh;
    size_t count = 0;
    std::string cont;
    std::string rv;
    do {
      std::string path = absl::StrCat(path_, "?limit=", options_.list_page_size);
      if (!cont.empty()) absl::StrAppend(&path, "&continue=", net::UrlEncode(cont));
      auto page = client_.GetJson(path, kMetadataList);
      if (!page.ok()) return page.status();
      const nlohmann::json* items = JsonField(*page, "items");
      if (items == nullptr || !(items->is_array() || items->is_null())) {
        return absl::InternalError(absl::StrCat("GET ", path, ": not a list"));
      }
      rv = MetadataString(*page, "resourceVersion");
      cont = MetadataString(*page, "continue");
      if (items->is_array()) {
        for (const auto& item : *items) {
          std::optional<ObjectMeta> meta = ParseMeta(item);
          if (!meta) continue;
          count += fresh[meta->ns].insert_or_assign(meta->name, std::move(meta->labels)).second;
        }
      }
      if (count > options_.max_objects) {
        absl::MutexLock lock(&mu_);
        GiveUp();
        lists_failed_.Increment();
        return absl::ResourceExhaustedError("too many objects");
      }
    } while (!cont.empty());
    if (rv.empty())
      return absl::InternalError(absl::StrCat(path_, ": list without resourceVersion"));
    {
      absl::MutexLock lock(&mu_);
      objects_ = std::move(fresh);
      stats_.objects = count;
      objects_gauge_.Set(static_cast<double>(count));
      stats_.synced = true;
      ++stats_.lists;
      lists_ok_.Increment();
      stats_.resource_version = rv;
      last_good_ = clock_.Now();
    }
    LogInfo("object watch: listed", {{"resource", resource_.GroupResource()},
                                     {"objects", static_cast<int64_t>(count)},
                                     {"resource_version", rv}});
    return rv;
  }

  absl::Status WatchOnce(const std::string& rv, bool* got_events) {
    const std::string path = absl::StrCat(
        path_, "?watch=1&allowWatchBookmarks=true&resourceVersion=", net::UrlEncode(rv),
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
          return Apply(event);
        },
        &cancel_, options_.watch_timeout + absl::Minutes(1),
        [this] {
          absl::MutexLock lock(&mu_);
          watching_ = true;
        },
        kMetadataWatch);
    {
      absl::MutexLock lock(&mu_);
      if (watching_) last_good_ = clock_.Now();
      watching_ = false;
    }
    if (!event_error.ok()) return event_error;
    return s;
  }

  // False (ending the watch) once the informer gave up.
  bool Apply(const WatchEvent& event) {
    const std::string version = MetadataString(event.object, "resourceVersion");
    const bool change =
        event.type == "ADDED" || event.type == "MODIFIED" || event.type == "DELETED";
    if (!change && event.type != "BOOKMARK") {
      LogWarn("object watch: unknown event type", {{"type", event.type}});
      return true;
    }
    std::optional<ObjectMeta> meta = change ? ParseMeta(event.object) : std::nullopt;
    absl::MutexLock lock(&mu_);
    if (!version.empty()) stats_.resource_version = version;
    if (!change) return true;
    ++stats_.events;
    if (!meta) return true;
    if (event.type == "DELETED") {
      auto it = objects_.find(meta->ns);
      if (it != objects_.end() && it->second.erase(meta->name) > 0) {
        --stats_.objects;
        objects_gauge_.Set(static_cast<double>(stats_.objects));
        if (it->second.empty()) objects_.erase(it);
      }
      return true;
    }
    stats_.objects +=
        objects_[meta->ns].insert_or_assign(meta->name, std::move(meta->labels)).second;
    objects_gauge_.Set(static_cast<double>(stats_.objects));
    if (stats_.objects > options_.max_objects) {
      GiveUp();
      return false;
    }
    return true;
  }

  Client& client_;
  Clock& clock_;
  const ObjectWatchOptions& options_;
  const pipeline::KubeResource resource_;
  prometheus::Gauge& objects_gauge_;
  prometheus::Counter& lists_ok_;
  prometheus::Counter& lists_failed_;
  prometheus::Counter& relists_;
  std::string path_;
  WatchCancel cancel_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool watching_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_good_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, Labels, std::less<>>, std::less<>> objects_
      ABSL_GUARDED_BY(mu_);
};

ObjectWatchCache::ObjectWatchCache(Client& client, Clock& clock, ObjectWatchOptions options)
    : client_(client),
      clock_(clock),
      options_(options),
      lister_(client, clock, options.list),
      metrics_(std::make_unique<Metrics>(options.registry)) {}

ObjectWatchCache::~ObjectWatchCache() { Stop(); }

void ObjectWatchCache::Stop() {
  std::map<std::string, std::unique_ptr<Informer>, std::less<>> informers;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    informers.swap(informers_);
  }
  informers.clear();  // each stops and joins its thread
}

ObjectWatchCache::Informer* ObjectWatchCache::InformerFor(const pipeline::KubeResource& resource) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return nullptr;
  const std::string key = resource.GroupResource();
  if (auto it = informers_.find(key); it != informers_.end()) return it->second.get();
  if (informers_.size() >= options_.max_resources) return nullptr;
  auto informer = std::make_unique<Informer>(client_, clock_, options_, resource, *metrics_);
  informer->Start();
  LogInfo("object watch: started", {{"resource", key}});
  return informers_.emplace(key, std::move(informer)).first->second.get();
}

absl::StatusOr<std::vector<std::string>> ObjectWatchCache::Select(
    const pipeline::KubeResource& resource, std::string_view ns,
    const selector::Selector& selector) {
  // Informers live until Stop(), which callers do not race with Select().
  const char* why = "too_many_resources";
  if (Informer* informer = InformerFor(resource)) {
    if (auto names = informer->Select(ns, selector, &why)) return *std::move(names);
  } else {
    absl::MutexLock lock(&mu_);
    if (stopped_) why = "stopped";
  }
  metrics_->fallbacks.Add({{"resource", resource.GroupResource()}, {"reason", why}}).Increment();
  return lister_.Select(resource, ns, selector);
}

absl::StatusOr<ObjectWatchCache::Stats> ObjectWatchCache::stats(
    std::string_view group_resource) const {
  absl::MutexLock lock(&mu_);
  auto it = informers_.find(group_resource);
  if (it == informers_.end()) {
    return absl::NotFoundError(absl::StrCat("no informer for ", ToAbsl(group_resource)));
  }
  return it->second->stats();
}

size_t ObjectWatchCache::informers() const {
  absl::MutexLock lock(&mu_);
  return informers_.size();
}

void ObjectWatchCache::Wake() {
  absl::MutexLock lock(&mu_);
  for (auto& [key, informer] : informers_) informer->Wake();
}

bool ObjectWatchCache::WaitFor(std::string_view group_resource,
                               const std::function<bool(const Stats&)>& pred,
                               absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  Informer* informer = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto started = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return informers_.find(group_resource) != informers_.end();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&started), timeout)) return false;
    informer = informers_.find(group_resource)->second.get();
  }
  return informer->WaitFor(pred, deadline - absl::Now());
}

}  // namespace aa::kube
