#include "keda/internal/service.h"

#include <grpc/grpc_security_constants.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace aa::keda {
namespace {

constexpr size_t kMaxWarnedKeys = 256;
constexpr size_t kMaxWaitingRequests = 10000;
// Unary requests that select objects other than pods by labels: how many threads read them (each
// read may block for the object source's time bound), and how many may wait or run at once.
constexpr int kObjectReaders = 2;
constexpr size_t kMaxObjectReads = 8;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl and gRPC canonical codes are numerically equal.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// Finishes a stream at once (bad request, too many streams, shutting down) and deletes itself when
// done.
class RejectReactor final : public grpc::ServerWriteReactor<externalscaler::IsActiveResponse> {
 public:
  explicit RejectReactor(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// The answers in KEDA's messages. KEDA reads the float field when it is > 0, else the integer one
// (deprecated in its proto): both are set.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void Fill(const MetricSpecResult& spec, externalscaler::MetricSpec* out) {
  out->set_metricname(spec.metric_name);
  out->set_targetsizefloat(spec.target);
  out->set_targetsize(spec.target_size);
}
void Fill(const MetricValueResult& value, externalscaler::MetricValue* out) {
  out->set_metricname(value.metric_name);
  out->set_metricvaluefloat(value.total);
  out->set_metricvalue(value.rounded);
}
#pragma GCC diagnostic pop

// Streams sharing this key share one evaluation in a push pass.
std::string EvalKey(const Trigger& t) {
  if (t.adhoc) return absl::StrCat("adhoc\n", t.adhoc->Identity());
  return absl::StrCat(t.metric, "\n", t.resource, "\n", t.ns, "\n", t.label_selector);
}

}  // namespace

std::vector<std::string> CertificateNames(const grpc::AuthContext& context) {
  std::vector<std::string> names;
  for (const char* property : {GRPC_X509_CN_PROPERTY_NAME, GRPC_PEER_DNS_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : context.FindPropertyValues(property)) {
      names.emplace_back(value.data(), value.size());
    }
  }
  return names;
}

std::string ClientKey(const grpc::CallbackServerContext& context) {
  if (std::shared_ptr<const grpc::AuthContext> auth = context.auth_context()) {
    std::vector<std::string> names = CertificateNames(*auth);
    if (!names.empty()) return absl::StrCat("cert:", names.front());
  }
  // "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000": the address without the port.
  std::string peer = context.peer();
  std::string_view address = peer;
  if (size_t colon = address.find(':'); colon != std::string_view::npos) {
    address.remove_prefix(colon + 1);
    if (size_t port = address.rfind(':'); port != std::string_view::npos && port > 0) {
      address = address.substr(0, port);
    }
  }
  return absl::StrCat("ip:", std::string(address));
}

// One open StreamIsActive call. Owned by the service's registry (shared with the workers while they
// use it); removed from the registry in OnDone, after which gRPC never touches it again.
class StreamReactor final : public grpc::ServerWriteReactor<externalscaler::IsActiveResponse> {
 public:
  StreamReactor(ExternalScalerService* service, uint64_t id, std::string client, Trigger trigger)
      : service_(service), id_(id), client_(std::move(client)), trigger_(std::move(trigger)) {}

  const Trigger& trigger() const { return trigger_; }

  // Guarded by the service's mu_: an evaluation of the stream as new is pending; its first
  // evaluation finished.
  bool queued = true;
  bool evaluated_once = false;

  bool closed() {
    std::lock_guard lock(mu_);
    return finished_ || pending_finish_.has_value();
  }

  // Records the activity computed from snapshot `generation` and writes it when it differs from the
  // last state written. States from an older generation than one already recorded are ignored, so
  // evaluations of the stream may race. At most one write is in flight; a newer state replaces one
  // not yet written.
  void Push(bool active, uint64_t generation) {
    std::lock_guard lock(mu_);
    if (finished_ || pending_finish_ || generation < generation_) return;
    generation_ = generation;
    desired_ = active;
    MaybeWriteLocked();
  }

  // Finishes the stream with `status` after the latest state is written (a client that reads gets
  // the state current at shutdown). Idempotent.
  void Close(grpc::Status status) {
    std::lock_guard lock(mu_);
    if (finished_ || pending_finish_) return;
    if (writing_ || MaybeWriteLocked()) {
      pending_finish_ = std::move(status);
    } else {
      FinishLocked(std::move(status));
    }
  }

  // gRPC runs these reactions on its own threads, never inline inside StartWrite()/Finish() of a
  // non-inlineable reactor, so holding mu_ across those calls cannot deadlock.
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed: the client went away"));
    } else if (!MaybeWriteLocked() && pending_finish_) {
      FinishLocked(*std::move(pending_finish_));
      pending_finish_.reset();
    }
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    pending_finish_.reset();
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    absl::StatusCode code;
    {
      std::lock_guard lock(mu_);
      code = final_code_;
    }
    service_->metrics_.Request(Method::kStreamIsActive, code);
    service_->Remove(id_, client_);  // may destroy this object: nothing may follow
  }

 private:
  void FinishLocked(grpc::Status status) {
    if (finished_) return;
    finished_ = true;
    final_code_ = static_cast<absl::StatusCode>(status.error_code());
    Finish(std::move(status));
  }

  // Starts writing the latest state if it was not written yet; returns whether a write started.
  bool MaybeWriteLocked() {
    if (finished_ || writing_ || !desired_ || desired_ == sent_) return false;
    response_.set_result(*desired_);
    sent_ = desired_;
    writing_ = true;
    StartWrite(&response_);
    return true;
  }

  ExternalScalerService* const service_;
  const uint64_t id_;
  const std::string client_;  // ClientKey of the caller
  const Trigger trigger_;

  std::mutex mu_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<grpc::Status> pending_finish_;
  uint64_t generation_ = 0;      // snapshot generation of desired_
  std::optional<bool> desired_;  // latest activity computed
  std::optional<bool> sent_;     // activity written (or being written)
  absl::StatusCode final_code_ = absl::StatusCode::kOk;
  externalscaler::IsActiveResponse response_;  // must stay unchanged while a write is in flight
};

ExternalScalerService::ExternalScalerService(pipeline::View view, KedaMetrics& metrics,
                                             StreamLimits limits)
    : scaler_(view), view_(view), metrics_(metrics), limits_(limits) {}

ExternalScalerService::~ExternalScalerService() {
  BeginShutdown();
  Stop();
}

void ExternalScalerService::Start() {
  listener_id_ = view_.Subscribe([this](const std::shared_ptr<const pipeline::Snapshot>&) {
    // On the sampling thread: only flag and signal.
    {
      std::lock_guard lock(mu_);
      push_wanted_ = true;
    }
    pusher_cv_.notify_one();
  });
  pusher_ = std::thread([this] { PusherLoop(); });
  for (int i = 0; i < kObjectReaders; ++i) {
    object_readers_.emplace_back([this] { ObjectReaderLoop(); });
  }
}

void ExternalScalerService::ObjectReaderLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    object_cv_.wait(lock, [this] { return stopping_ || !object_reads_.empty(); });
    if (stopping_) {
      // Reads not started yet are answered UNAVAILABLE, so grpc::Server::Shutdown() need not wait
      // for them.
      std::deque<ObjectRead> left = std::move(object_reads_);
      object_reads_.clear();
      lock.unlock();
      for (ObjectRead& read : left) read(false);
      return;
    }
    ObjectRead read = std::move(object_reads_.front());
    object_reads_.pop_front();
    ++object_reads_running_;
    lock.unlock();
    read(true);
    lock.lock();
    --object_reads_running_;
  }
}

void ExternalScalerService::BeginShutdown() {
  std::vector<std::shared_ptr<StreamReactor>> open;
  uint64_t listener = 0;
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    stopping_ = true;
    listener = listener_id_;
    for (auto& [id, s] : streams_) open.push_back(s);
  }
  pusher_cv_.notify_all();
  object_cv_.notify_all();
  if (listener != 0) view_.Unsubscribe(listener);
  for (auto& s : open) s->Close(grpc::Status::OK);
}

void ExternalScalerService::Stop() {
  scaler_.Stop();  // answers of first samples that arrive later are dropped
  if (pusher_.joinable()) pusher_.join();
  for (std::thread& reader : object_readers_) reader.join();
  object_readers_.clear();
}

size_t ExternalScalerService::open_streams() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

bool ExternalScalerService::WaitForOpenStreams(size_t count, absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return progress_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                               [&] { return streams_.size() == count; });
}

bool ExternalScalerService::WaitForPushed(uint64_t generation, absl::Duration timeout) {
  std::unique_lock lock(mu_);
  return progress_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                               [&] { return pushed_generation_ >= generation; });
}

uint64_t ExternalScalerService::push_passes() const {
  std::lock_guard lock(mu_);
  return push_passes_;
}

absl::StatusOr<Trigger> ExternalScalerService::ParseRef(
    const externalscaler::ScaledObjectRef& ref) {
  if (static_cast<size_t>(ref.scalermetadata_size()) > kMaxMetadataEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("scalerMetadata: too many keys: ", ref.scalermetadata_size(), " (at most ",
                     kMaxMetadataEntries, ")"));
  }
  Metadata md;
  for (const auto& [key, value] : ref.scalermetadata()) md.emplace(key, value);
  auto trigger = ParseTrigger(md, ref.namespace_());
  if (trigger.ok() && (!trigger->unknown_keys.empty() || !trigger->no_effect_keys.empty())) {
    WarnUnknownKeys(*trigger);
  }
  return trigger;
}

void ExternalScalerService::WarnUnknownKeys(const Trigger& trigger) {
  std::vector<std::string> fresh_unknown, fresh_no_effect;
  {
    std::lock_guard lock(warned_mu_);
    auto take = [this](const std::vector<std::string>& keys, std::vector<std::string>* fresh) {
      for (const auto& key : keys) {
        if (warned_keys_.size() >= kMaxWarnedKeys) break;
        if (warned_keys_.insert(key).second) fresh->push_back(key);
      }
    };
    take(trigger.unknown_keys, &fresh_unknown);
    take(trigger.no_effect_keys, &fresh_no_effect);
  }
  for (const auto& key : fresh_unknown) {
    LogWarn("keda: ignoring unknown scalerMetadata key (logged once per key)",
            {{"key", std::string_view(key).substr(0, 256)}, {"metric", trigger.metric}});
  }
  for (const auto& key : fresh_no_effect) {
    LogWarn(
        "keda: scalerMetadata key has no effect here: the backend's configured credentials apply "
        "(logged once per key)",
        {{"key", key}});
  }
}

bool ExternalScalerService::WouldWait(const Trigger& trigger) const {
  return scaler_.WouldWait(trigger);
}

void ExternalScalerService::Answer(grpc::ServerUnaryReactor* reactor, Method method,
                                   const absl::StatusOr<Trigger>& trigger, bool reads, Work work) {
  auto finish = [this, reactor, method](const absl::Status& status) {
    metrics_.Request(method, status.code());
    if (!status.ok())
      LogDebug("keda: request failed", {{"method", static_cast<int>(method)}, {"error", status}});
    reactor->Finish(ToGrpc(status));
  };
  if (!trigger.ok()) return finish(trigger.status());
  if (!reads) {
    return finish(work(*trigger, absl::FailedPreconditionError("the answer reads no data")));
  }
  if (scaler_.AsksObjectSource(*trigger)) {
    // Objects picked by labels: the object source may block, so the read runs on an object reader,
    // never on a gRPC thread; at most kMaxObjectReads wait or run at once.
    {
      std::lock_guard lock(mu_);
      if (stopping_) return finish(absl::UnavailableError("the adapter is shutting down"));
      if (object_reads_.size() + object_reads_running_ >= kMaxObjectReads) {
        return finish(absl::ResourceExhaustedError(
            absl::StrCat("too many requests selecting objects by labels at once (limit ",
                         kMaxObjectReads, "); retry")));
      }
      object_reads_.emplace_back([this, finish, work = std::move(work), t = *trigger](bool run) {
        finish(run ? work(t, scaler_.Stats(t))
                   : absl::UnavailableError("the adapter is shutting down"));
      });
    }
    object_cv_.notify_one();
    return;
  }
  if (!WouldWait(*trigger)) return finish(work(*trigger, scaler_.Stats(*trigger)));
  // The first request of a (metric, namespace) is answered when its sample is published: no
  // thread waits for it.
  {
    std::lock_guard lock(mu_);
    if (waiting_ >= kMaxWaitingRequests) {
      return finish(absl::ResourceExhaustedError("too many requests waiting for a first sample"));
    }
    ++waiting_;
  }
  scaler_.StatsWhenSampled(*trigger, [this, finish, work = std::move(work),
                                      t = *trigger](const absl::StatusOr<Observation>& obs) {
    {
      std::lock_guard lock(mu_);
      --waiting_;
    }
    finish(work(t, obs));
  });
}

grpc::ServerUnaryReactor* ExternalScalerService::IsActive(
    grpc::CallbackServerContext* ctx, const externalscaler::ScaledObjectRef* request,
    externalscaler::IsActiveResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Answer(
      reactor, Method::kIsActive, ParseRef(*request), /*reads=*/true,
      [this, response](const Trigger& t, const absl::StatusOr<Observation>& obs) -> absl::Status {
        auto active = scaler_.IsActive(t, obs);
        if (!active.ok()) return active.status();
        response->set_result(*active);
        return absl::OkStatus();
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExternalScalerService::GetMetricSpec(
    grpc::CallbackServerContext* ctx, const externalscaler::ScaledObjectRef* request,
    externalscaler::GetMetricSpecResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<Trigger> trigger = ParseRef(*request);
  // Only targets relative to a baseline read data.
  bool reads = false;
  if (trigger.ok()) {
    auto metric = scaler_.Resolve(*trigger);
    reads =
        metric.ok() && metric->definition != nullptr && !metric->definition->baseline_query.empty();
  }
  Answer(
      reactor, Method::kGetMetricSpec, trigger, reads,
      [this, response](const Trigger& t, const absl::StatusOr<Observation>& obs) -> absl::Status {
        auto spec = scaler_.MetricSpec(t, obs);
        if (!spec.ok()) return spec.status();
        Fill(*spec, response->add_metricspecs());
        return absl::OkStatus();
      });
  return reactor;
}

grpc::ServerUnaryReactor* ExternalScalerService::GetMetrics(
    grpc::CallbackServerContext* ctx, const externalscaler::GetMetricsRequest* request,
    externalscaler::GetMetricsResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Answer(
      reactor, Method::kGetMetrics, ParseRef(request->scaledobjectref()), /*reads=*/true,
      [this, response](const Trigger& t, const absl::StatusOr<Observation>& obs) -> absl::Status {
        auto value = scaler_.Metrics(t, obs);
        if (!value.ok()) return value.status();
        Fill(*value, response->add_metricvalues());
        return absl::OkStatus();
      });
  return reactor;
}

grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* ExternalScalerService::StreamIsActive(
    grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request) {
  absl::StatusOr<Trigger> trigger = ParseRef(*request);
  if (trigger.ok()) {
    // An unknown metric fails at once; other problems surface at the first evaluation.
    if (auto metric = scaler_.Resolve(*trigger); !metric.ok()) trigger = metric.status();
  }
  if (!trigger.ok()) {
    metrics_.Request(Method::kStreamIsActive, trigger.status().code());
    return new RejectReactor(ToGrpc(trigger.status()));
  }
  std::string client = ClientKey(*context);
  std::shared_ptr<StreamReactor> stream;
  absl::Status refused;
  {
    std::lock_guard lock(mu_);
    auto of_client = client_streams_.find(client);
    if (shutting_down_) {
      refused = absl::UnavailableError("the adapter is shutting down");
    } else if (streams_.size() >= limits_.total) {
      refused = absl::ResourceExhaustedError(
          absl::StrCat("too many open StreamIsActive streams (limit ", limits_.total, ")"));
    } else if (of_client != client_streams_.end() && of_client->second >= limits_.per_client) {
      refused = absl::ResourceExhaustedError(
          absl::StrCat("too many open StreamIsActive streams of this client (limit ",
                       limits_.per_client, " per client)"));
    } else {
      uint64_t id = next_stream_id_++;
      ++client_streams_[client];
      stream = std::make_shared<StreamReactor>(this, id, client, *std::move(trigger));
      streams_.emplace(id, stream);
      metrics_.StreamOpened();
    }
  }
  progress_cv_.notify_all();
  if (!refused.ok()) {
    metrics_.Request(Method::kStreamIsActive, refused.code());
    return new RejectReactor(ToGrpc(refused));
  }
  Open(stream);
  return stream.get();
}

void ExternalScalerService::Remove(uint64_t id, const std::string& client) {
  std::shared_ptr<StreamReactor> gone;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    gone = std::move(it->second);
    streams_.erase(it);
    if (auto c = client_streams_.find(client); c != client_streams_.end() && --c->second == 0) {
      client_streams_.erase(c);
    }
  }
  metrics_.StreamClosed();
  progress_cv_.notify_all();
  // `gone` may be the last reference: the reactor is destroyed here, outside the lock.
}

void ExternalScalerService::Open(const std::shared_ptr<StreamReactor>& stream) {
  bool first;
  {
    std::lock_guard lock(mu_);
    first = !stream->evaluated_once;
    stream->evaluated_once = true;
  }
  // At once when sampled, else when the first sample is published (its reading demands it).
  const Trigger& trigger = stream->trigger();
  if (scaler_.AsksObjectSource(trigger)) {
    // Objects picked by labels: evaluated by the push pass on the pusher thread (which may ask the
    // object source), at once when sampled, else after the publication that samples it.
    const bool sampled = !scaler_.WouldWait(trigger);
    if (!sampled) scaler_.Demand(trigger);
    {
      std::lock_guard lock(mu_);
      stream->queued = false;
      if (sampled) push_wanted_ = true;
    }
    if (sampled) pusher_cv_.notify_all();
    return;
  }
  scaler_.StatsWhenSampled(trigger, [this, stream, first](absl::StatusOr<Observation> obs) {
    {
      std::lock_guard lock(mu_);
      stream->queued = false;
    }
    if (stream->closed()) return;
    // A failed first evaluation, or a metric that is gone, ends the stream.
    if (!obs.ok() && !first && obs.status().code() != absl::StatusCode::kNotFound) {
      LogDebug("keda: StreamIsActive re-evaluation failed", {{"error", obs.status()}});
    } else if (!obs.ok()) {
      LogDebug("keda: StreamIsActive evaluation failed", {{"error", obs.status()}});
      stream->Close(ToGrpc(obs.status()));
    } else {
      stream->Push(obs->stats.total > stream->trigger().activation_threshold, obs->generation);
    }
  });
}

void ExternalScalerService::PusherLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    pusher_cv_.wait(lock, [this] { return stopping_ || push_wanted_; });
    if (stopping_) return;
    push_wanted_ = false;
    lock.unlock();
    bool handed_back = false;
    uint64_t generation = PushPass(&handed_back);
    lock.lock();
    ++push_passes_;
    // A stream handed back to be evaluated as new was not evaluated against this generation: its
    // read demands its (metric, namespace) again, and the pass after that sample counts.
    if (!handed_back) pushed_generation_ = std::max(pushed_generation_, generation);
    progress_cv_.notify_all();
  }
}

uint64_t ExternalScalerService::PushPass(bool* handed_back) {
  const uint64_t generation = view_.snapshot()->generation;
  std::vector<std::shared_ptr<StreamReactor>> open;
  {
    std::lock_guard lock(mu_);
    open.reserve(streams_.size());
    for (const auto& [id, s] : streams_) open.push_back(s);
  }
  absl::flat_hash_map<std::string, absl::StatusOr<Observation>> evaluated;
  std::vector<std::shared_ptr<StreamReactor>> requeue;
  for (const auto& s : open) {
    const Trigger& t = s->trigger();
    std::string key = EvalKey(t);
    auto it = evaluated.find(key);
    if (it == evaluated.end())
      it = evaluated.emplace(std::move(key), scaler_.StatsIfSampled(t)).first;
    // On failure the stream keeps its last state; the unary RPCs report the error to KEDA. A
    // metric that is gone (a config reload removed it) ends the stream with NOT_FOUND.
    if (it->second.ok()) {
      s->Push(it->second->stats.total > t.activation_threshold, it->second->generation);
    } else if (it->second.status().code() == absl::StatusCode::kNotFound) {
      s->Close(ToGrpc(it->second.status()));
    } else if (it->second.status().code() == absl::StatusCode::kFailedPrecondition) {
      // The pipeline dropped (or never had) this (metric, namespace): demand it again, and
      // evaluate the stream once it is sampled.
      requeue.push_back(s);
    }
  }
  *handed_back = !requeue.empty();
  for (auto& s : requeue) {
    {
      std::lock_guard lock(mu_);
      if (s->queued || stopping_) continue;
      s->queued = true;
    }
    Open(s);
  }
  return generation;
}

}  // namespace aa::keda
