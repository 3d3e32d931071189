#pragma once
// The ExternalScaler gRPC service (private to src/keda: it exposes generated gRPC types).
//
// All RPCs use gRPC's callback API. Unary RPCs (IsActive, GetMetricSpec, GetMetrics) answer inline
// from the latest snapshot; the first request of a (metric, namespace) the pipeline does not hold
// yet is answered when its first sample is published (View::SelectWhenSampled, on the sampling
// thread), so no thread waits for it (at most 10,000 such requests are pending; more get
// RESOURCE_EXHAUSTED). (Measured: the synchronous API had ~100 ms tail latencies under 10,000
// calls/s on 2 cores; the callback API did not.)
//
// StreamIsActive uses the callback API, so open streams cost no thread:
// - a new stream is evaluated once, at once when its (metric, namespace) is sampled, else when the
//   first sample is published, and sends the current state;
// - one pusher thread runs once after every snapshot publication (the subscription only sets a
//   flag and signals), evaluates every open stream whose (metric, namespace) has been sampled (once
//   per distinct (metric, namespace, selector)) and writes to the streams whose activity changed.
//   It never waits on Prometheus.
// A stream whose (metric, namespace) the pipeline no longer holds (dropped after demandTTL without
// reads) is evaluated as a new one again, which demands it again. Each state carries the snapshot
// generation it was computed from; a stream ignores states older than the one it holds, so
// evaluations may race without sending an outdated state last. Each stream keeps at most one write
// in flight; a newer state replaces an unsent one, so a client that never reads costs a constant
// amount of memory. A stream that fails its first evaluation is finished with that error
// (INVALID_ARGUMENT / NOT_FOUND / UNAVAILABLE); later evaluation failures keep the stream open and
// silent (the unary RPCs report them to KEDA, and the stream resumes when data returns). Streams
// beyond `limits.total`, or beyond `limits.per_client` for one client (ClientKey), are refused with
// RESOURCE_EXHAUSTED.
//
// Triggers that select objects other than pods by labels ask the view's object source, which may
// block for its time bound: unary requests are read by two object reader threads, at most 8
// waiting or running at once (more: RESOURCE_EXHAUSTED), so gRPC's threads never block on it;
// streams are evaluated by the push pass on the pusher thread; neither runs on the sampling thread.
//
// Thread-safe. Lifecycle: construct, Start(), register with a grpc::ServerBuilder, serve; then
// BeginShutdown() before grpc::Server::Shutdown(), and Stop() after it.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "externalscaler.grpc.pb.h"
#include "keda/internal/keda_metrics.h"
#include "keda/scaler.h"

namespace aa::keda {

class StreamReactor;

// The names of the peer's certificate the allowlist matches: subject CN and DNS SANs. Empty for a
// peer without a certificate.
std::vector<std::string> CertificateNames(const grpc::AuthContext& context);
// Who a call comes from, for the per-client stream limit: "cert:<name>" (the certificate's CN, else
// its first DNS SAN) when the peer presented a certificate, else "ip:<address>" (the peer's IP
// address without port; the whole peer string when it has no IP).
std::string ClientKey(const grpc::CallbackServerContext& context);

struct StreamLimits {
  size_t total = 10000;      // open StreamIsActive streams
  size_t per_client = 1000;  // ... of one ClientKey
};

class ExternalScalerService final : public externalscaler::ExternalScaler::CallbackService {
 public:
  ExternalScalerService(pipeline::View view, KedaMetrics& metrics, StreamLimits limits);
  ~ExternalScalerService() override;

  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* ctx,
                                     const externalscaler::ScaledObjectRef* request,
                                     externalscaler::IsActiveResponse* response) override;
  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* ctx,
                                          const externalscaler::ScaledObjectRef* request,
                                          externalscaler::GetMetricSpecResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* ctx,
                                       const externalscaler::GetMetricsRequest* request,
                                       externalscaler::GetMetricsResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* context,
      const externalscaler::ScaledObjectRef* request) override;

  // Subscribes to the pipeline and starts the pusher. Call once.
  void Start();
  // Refuses new streams (UNAVAILABLE), finishes every
  // open stream with OK (after its write in flight, if any), unsubscribes from the pipeline and
  // tells the pusher to stop. Idempotent.
  void BeginShutdown();
  // Joins the pusher; answers of first samples published later are dropped. Call after
  // grpc::Server::Shutdown() returned. Idempotent.
  void Stop();

  size_t open_streams() const;
  // Waits until exactly `count` streams are open (or `timeout` of real time passes); returns
  // whether they were.
  bool WaitForOpenStreams(size_t count, absl::Duration timeout);
  // Completed push passes (one per snapshot publication that found the pusher idle). For tests and
  // benchmarks.
  uint64_t push_passes() const;
  // Waits until a push pass that started at snapshot generation >= `generation` has completed and
  // evaluated every open stream (none handed back to be evaluated as new), or `timeout` of real
  // time passes; returns whether it did.
  bool WaitForPushed(uint64_t generation, absl::Duration timeout);

 private:
  friend class StreamReactor;

  // Whether answering `trigger` would wait for a first sample of its (metric, namespace).
  bool WouldWait(const Trigger& trigger) const;
  // Runs `work` on what the trigger observes (when `reads`; else on FailedPrecondition) and
  // finishes `reactor` with its status (counted in the metrics): inline, or when the answer would
  // wait for a first sample, once that sample is published. A bad `trigger` finishes at once.
  using Work = std::function<absl::Status(const Trigger&, const absl::StatusOr<Observation>&)>;
  void Answer(grpc::ServerUnaryReactor* reactor, Method method,
              const absl::StatusOr<Trigger>& trigger, bool reads, Work work);
  absl::StatusOr<Trigger> ParseRef(const externalscaler::ScaledObjectRef& ref);
  void WarnUnknownKeys(const Trigger& trigger);
  void Remove(uint64_t id, const std::string& client);  // from StreamReactor::OnDone
  // Evaluates `stream` once it can be without waiting, and sends its state (a first evaluation
  // that fails finishes the stream).
  void Open(const std::shared_ptr<StreamReactor>& stream);
  void PusherLoop();
  void ObjectReaderLoop();
  // Returns the snapshot generation the pass started from; sets `handed_back` when some stream's
  // (metric, namespace) was no longer sampled and the stream went back to be evaluated as new.
  uint64_t PushPass(bool* handed_back);

  Scaler scaler_;
  const pipeline::View view_;
  KedaMetrics& metrics_;
  const StreamLimits limits_;

  mutable std::mutex mu_;
  std::condition_variable pusher_cv_;
  std::condition_variable
      progress_cv_;  // the set of open streams changed, or a push pass completed
  absl::flat_hash_map<uint64_t, std::shared_ptr<StreamReactor>> streams_;
  absl::flat_hash_map<std::string, size_t> client_streams_;  // open streams per ClientKey (> 0)
  size_t waiting_ = 0;  // unary requests waiting for a first sample
  // Unary requests that ask the object source, waiting for an object reader; called with false when
  // the service stops first.
  using ObjectRead = std::function<void(bool run)>;
  std::deque<ObjectRead> object_reads_;
  size_t object_reads_running_ = 0;
  std::condition_variable object_cv_;
  std::vector<std::thread> object_readers_;
  uint64_t next_stream_id_ = 1;
  bool push_wanted_ = false;
  bool shutting_down_ = false;
  bool stopping_ = false;
  uint64_t push_passes_ = 0;
  uint64_t pushed_generation_ = 0;
  uint64_t listener_id_ = 0;
  std::thread pusher_;

  std::mutex warned_mu_;
  std::set<std::string> warned_keys_;  // unknown metadata keys already logged (bounded)
};

}  // namespace aa::keda
