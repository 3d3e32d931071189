#pragma once
// The ExternalScaler gRPC service (private to src/keda: it exposes generated gRPC types).
//
// All RPCs use gRPC's callback API. Unary RPCs (IsActive, GetMetricSpec, GetMetrics) answer inline
// from the latest snapshot; the first request of a (metric, namespace) the sampler does not hold
// yet waits for one sample (Sampler::Read), and that wait runs on one of two slow-path threads,
// never on a gRPC thread (at most 10,000 such requests wait; more get RESOURCE_EXHAUSTED).
// (Measured: the synchronous API had ~100 ms tail latencies under 10,000 calls/s on 2 cores; the
// callback API did not.)
//
// StreamIsActive uses the callback API, so open streams cost no thread. Two worker threads serve
// all streams:
// - the opener evaluates each new stream once (may wait for a first sample) and sends the current
// state;
// - the pusher runs once after every snapshot publication (the Sampler::Subscribe callback only
// sets a flag and
//   signals), evaluates every open stream whose (metric, namespace) has been sampled (once per
//   distinct (metric, namespace, selector)) and writes to the streams whose activity changed. It
//   never waits on Prometheus.
// A stream whose (metric, namespace) the sampler no longer holds (dropped after demandTTL without
// reads) goes back to the opener, whose read demands it again. Each state carries the snapshot
// generation it was computed from; a stream ignores states older than the one it holds, so the two
// workers may race without sending an outdated state last. Each stream keeps at most one write in
// flight; a newer state replaces an unsent one, so a client that never reads costs a constant
// amount of memory. A stream that fails its first evaluation is finished with that error
// (INVALID_ARGUMENT / NOT_FOUND / UNAVAILABLE); later evaluation failures keep the stream open and
// silent (the unary RPCs report them to KEDA, and the stream resumes when data returns). Streams
// beyond `max_streams` are refused with RESOURCE_EXHAUSTED.
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

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "externalscaler.grpc.pb.h"
#include "keda/internal/keda_metrics.h"
#include "keda/scaler.h"

namespace aa::keda {

class StreamReactor;

class ExternalScalerService final : public externalscaler::ExternalScaler::CallbackService {
 public:
  ExternalScalerService(pipeline::Sampler& sampler, KedaMetrics& metrics, size_t max_streams);
  ~ExternalScalerService() override;

  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* context,
                                     const externalscaler::ScaledObjectRef* request,
                                     externalscaler::IsActiveResponse* response) override;
  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* context,
                                          const externalscaler::ScaledObjectRef* request,
                                          externalscaler::GetMetricSpecResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const externalscaler::GetMetricsRequest* request,
                                       externalscaler::GetMetricsResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* context,
      const externalscaler::ScaledObjectRef* request) override;

  // Subscribes to the sampler and starts the two stream workers. Call once.
  void Start();
  // Refuses new streams (UNAVAILABLE), finishes every open stream with OK (after its write in
  // flight, if any), unsubscribes from the sampler and tells the workers to stop. Idempotent.
  void BeginShutdown();
  // Joins the workers. Call after grpc::Server::Shutdown() returned. Idempotent.
  void Stop();

  size_t open_streams() const;
  // Waits until exactly `count` streams are open (or `timeout` of real time passes); returns
  // whether they were.
  bool WaitForOpenStreams(size_t count, absl::Duration timeout);
  // Completed push passes (one per snapshot publication that found the pusher idle). For tests and
  // benchmarks.
  uint64_t push_passes() const;
  // Waits until a push pass that started at snapshot generation >= `generation` has completed and
  // evaluated every open stream (none handed back to the opener), or `timeout` of real time passes;
  // returns whether it did.
  bool WaitForPushed(uint64_t generation, absl::Duration timeout);

 private:
  friend class StreamReactor;

  // Whether answering `trigger` would wait for a first sample of its (metric, namespace).
  bool WouldWait(const Trigger& trigger) const;
  // Runs `work` and finishes `reactor` with its status (counted in the metrics): inline, or when
  // `reads` and the answer would wait for a first sample, on a slow-path thread. A bad `trigger`
  // finishes at once.
  void Answer(grpc::ServerUnaryReactor* reactor, Method method,
              const absl::StatusOr<Trigger>& trigger, bool reads,
              std::function<absl::Status(const Trigger&)> work);
  void SlowLoop();
  absl::StatusOr<Trigger> ParseRef(const externalscaler::ScaledObjectRef& ref);
  void WarnUnknownKeys(const Trigger& trigger);
  void Remove(uint64_t id);  // from StreamReactor::OnDone
  void OpenerLoop();
  void PusherLoop();
  // Returns the snapshot generation the pass started from; sets `handed_back` when some stream's
  // (metric, namespace) was no longer sampled and the stream went back to the opener.
  uint64_t PushPass(bool* handed_back);

  Scaler scaler_;
  pipeline::Sampler& sampler_;
  KedaMetrics& metrics_;
  const size_t max_streams_;

  mutable std::mutex mu_;
  std::condition_variable opener_cv_;
  std::condition_variable pusher_cv_;
  std::condition_variable
      progress_cv_;  // the set of open streams changed, or a push pass completed
  absl::flat_hash_map<uint64_t, std::shared_ptr<StreamReactor>> streams_;
  std::deque<std::shared_ptr<StreamReactor>> to_open_;
  uint64_t next_stream_id_ = 1;
  bool push_wanted_ = false;
  bool shutting_down_ = false;
  bool stopping_ = false;
  uint64_t push_passes_ = 0;
  uint64_t pushed_generation_ = 0;
  uint64_t listener_id_ = 0;
  std::condition_variable slow_cv_;
  std::deque<std::function<void()>> slow_;  // requests waiting for a first sample
  bool slow_stopping_ = false;
  std::thread slow_threads_[2];
  std::thread opener_;
  std::thread pusher_;

  std::mutex warned_mu_;
  std::set<std::string> warned_keys_;  // unknown metadata keys already logged (bounded)
};

}  // namespace aa::keda
