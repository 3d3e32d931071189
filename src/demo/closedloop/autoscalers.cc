#include "demo/closedloop/autoscalers.h"

#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "scaling/hpa.h"
#include "scaling/kpa.h"

namespace aa::closedloop {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string LabelSelector(const std::string& isvc) {
  return absl::StrCat("serving.kserve.io/inferenceservice=", isvc);
}

int StepsOf(absl::Duration d, absl::Duration step) {
  return std::max<int>(1, static_cast<int>(d / step));
}

// The pods the Deployment's selector matches, as the HPA's pod lister sees them: a starting pod is
// Pending, a draining one has its deletionTimestamp set. The pods that run when the loop starts
// (`initial`) have been running for an hour, as in a live cluster (the simulator starts them with
// the process, which would put them inside the HPA's CPU initialization period).
std::vector<scaling::Pod> PodsOf(const SimService& s, const std::set<std::string>& initial,
                                 absl::Time now) {
  std::vector<scaling::Pod> out;
  for (const SimPod& p : s.pods) {
    scaling::Pod pod;
    pod.name = p.name;
    pod.deleting = p.draining;
    const bool started = p.ready || p.draining;
    pod.phase = started ? scaling::PodPhase::kRunning : scaling::PodPhase::kPending;
    pod.ready = started;
    const bool old = initial.contains(p.name);
    pod.ready_transition = old ? now - absl::Hours(1) : started ? p.ready_at : p.created;
    pod.start_time = old ? now - absl::Hours(1) : p.created;
    pod.containers.push_back({"kserve-container", {{"cpu", scaling::MilliValue(s.cpu_request)}}});
    out.push_back(std::move(pod));
  }
  return out;
}

scaling::HpaSpec SpecWith(const Scenario& sc, scaling::MetricSpec metric) {
  scaling::HpaSpec spec;
  spec.min_replicas = sc.autoscaling.min_replicas;
  spec.max_replicas = sc.autoscaling.max_replicas;
  spec.metrics.push_back(std::move(metric));
  // KServe writes `behavior: {}`; the windows are the scenario's (the default run shortens the
  // scale-down window so the drop fits in the run).
  scaling::BehaviorSpec behavior;
  scaling::ScalingRulesSpec up, down;
  up.stabilization_window_seconds =
      static_cast<int32_t>(absl::ToInt64Seconds(sc.autoscaling.scale_up_stabilization));
  down.stabilization_window_seconds =
      static_cast<int32_t>(absl::ToInt64Seconds(sc.autoscaling.scale_down_stabilization));
  behavior.scale_up = up;
  behavior.scale_down = down;
  spec.behavior = behavior;
  return spec;
}

}  // namespace

double LlmTarget(const std::string& metric) {
  if (metric == "llm_running") return kLlmRunningTarget;
  if (metric == "llm_waiting") return kLlmWaitingTarget;
  if (metric == "llm_kv_cache") return kLlmKvCacheTarget;
  return 0;
}

scaling::HpaSpec HpaSpecFor(const ModeSpec& mode, const Scenario& sc) {
  scaling::MetricSpec metric;
  if (mode.model == ModelKind::kCpu) {
    metric.source = scaling::MetricSourceType::kResource;
    metric.name = "cpu";
    metric.target_type = scaling::MetricTargetType::kUtilization;
    metric.target_utilization_percent = kCpuTargetPercent;
    return SpecWith(sc, std::move(metric));
  }
  metric.source = scaling::MetricSourceType::kPods;
  metric.name = mode.metric;
  metric.target_type = scaling::MetricTargetType::kAverageValue;
  const bool llm = mode.model == ModelKind::kLlm;
  metric.target_milli = scaling::MilliValue(llm ? LlmTarget(mode.metric) : kConcurrencyTarget);
  scaling::HpaSpec spec = SpecWith(sc, metric);
  for (const std::string& name : mode.more_metrics) {
    metric.name = name;
    metric.target_milli = scaling::MilliValue(LlmTarget(name));
    spec.metrics.push_back(metric);
  }
  return spec;
}

namespace {

std::string DecisionNote(int from, const scaling::HpaDecision& d) {
  if (!d.error.ok() && d.metric_desired_replicas < 0) {
    return absl::StrCat("no change: ", d.error.message());
  }
  std::string note = d.desired_replicas == from ? absl::StrCat("stay ", from)
                                                : absl::StrCat(from, " -> ", d.desired_replicas);
  if (!d.reason.empty() && d.desired_replicas != from) absl::StrAppend(&note, " (", d.reason, ")");
  if (d.desired_replicas == from && d.metric_desired_replicas >= 0 &&
      d.metric_desired_replicas != from) {
    absl::StrAppend(
        &note, " (wants ", d.metric_desired_replicas, ", ",
        d.able_to_scale_reason.empty() ? d.scaling_limited_reason : d.able_to_scale_reason, ")");
  }
  return note;
}

class HpaEmulator final : public Autoscaler {
 public:
  HpaEmulator(const ModeSpec& mode, const AutoscalerContext& ctx, scaling::HpaController hpa)
      : mode_(mode),
        ctx_(ctx),
        client_(ctx.https_port, ctx.bearer_token),
        hpa_(std::move(hpa)),
        period_(StepsOf(ctx.scenario->autoscaling.sync_period, ctx.scenario->step)) {}

  Action Step(int step, absl::Time now, double, const SimService& s) override {
    Action a;
    if (step == 0) {
      for (const SimPod& p : s.pods) initial_.insert(p.name);
    }
    if (step % period_ != period_ - 1) return a;  // first sync after one full period
    a.acted = true;
    scaling::HpaObservations obs;
    obs.pods = PodsOf(s, initial_, now);
    for (size_t k = 0; k <= mode_.more_metrics.size(); ++k) {
      const std::string& name = k == 0 ? mode_.metric : mode_.more_metrics[k - 1];
      scaling::MetricObservation m;
      absl::StatusOr<std::vector<PodSample>> samples =
          mode_.model == ModelKind::kCpu
              ? client_.PodCpu(ctx_.ns, LabelSelector(mode_.name))
              : client_.PodsMetric(ctx_.ns, name, LabelSelector(mode_.name));
      if (samples.ok()) {
        for (const PodSample& p : *samples) {
          m.pod_samples[p.pod] = {p.milli_value, p.timestamp, p.window};
        }
      } else {
        m.status = samples.status();
      }
      obs.metrics.push_back(std::move(m));
    }
    const int current = s.desired_replicas;
    scaling::HpaDecision d = hpa_.Sync(now, current, obs);
    a.ok = d.metric_desired_replicas >= 0 || d.error.ok();
    a.replicas = d.desired_replicas;
    a.observed = kNaN;
    if (mode_.model == ModelKind::kLlm) {
      // Percent of its target, of the metric that asks for the most.
      for (size_t k = 0; k < d.metrics.size(); ++k) {
        if (!d.metrics[k].status.ok()) continue;
        const std::string& name = k == 0 ? mode_.metric : mode_.more_metrics[k - 1];
        const double percent = d.metrics[k].proposal.usage_milli / 10.0 / LlmTarget(name);
        if (!(a.observed >= percent)) a.observed = percent;
      }
    } else if (!d.metrics.empty() && d.metrics[0].status.ok()) {
      const scaling::MetricProposal& p = d.metrics[0].proposal;
      a.observed = p.utilization_percent ? *p.utilization_percent : p.usage_milli / 1000.0;
    }
    a.note = DecisionNote(current, d);
    return a;
  }

 private:
  ModeSpec mode_;
  AutoscalerContext ctx_;
  KubeMetricsClient client_;
  scaling::HpaController hpa_;
  int period_;
  std::set<std::string> initial_;
};

class KedaEmulator final : public Autoscaler {
 public:
  KedaEmulator(const ModeSpec& mode, const AutoscalerContext& ctx, std::unique_ptr<KedaClient> keda,
               scaling::HpaSpec spec, scaling::HpaControllerOptions options)
      : mode_(mode),
        keda_(std::move(keda)),
        spec_(std::move(spec)),
        options_(options),
        poll_(StepsOf(ctx.scenario->autoscaling.keda_polling_interval, ctx.scenario->step)),
        period_(StepsOf(ctx.scenario->autoscaling.sync_period, ctx.scenario->step)) {
    keda_->StartStream();
  }

  Action Step(int step, absl::Time now, double, const SimService& s) override {
    Action a;
    if (step == 0) {
      for (const SimPod& p : s.pods) initial_.insert(p.name);
    }
    if (step % poll_ == poll_ - 1) {
      // KEDA creates the HPA once GetMetricSpec answers (its reconcile retries until then); the
      // CPU trigger's target needs the pods' CPU requests sampled first.
      if (!hpa_) {
        auto spec = keda_->MetricSpec();
        if (!spec.ok()) {
          a.acted = true;
          a.ok = false;
          a.note = std::string(spec.status().message());
          return a;
        }
        metric_name_ = spec->first;
        target_ = spec->second;
        spec_.metrics[0].name = metric_name_;
        spec_.metrics[0].target_milli = scaling::MilliValue(target_);
        auto hpa = scaling::HpaController::Create(spec_, options_);
        if (!hpa.ok()) {
          a.acted = true;
          a.ok = false;
          a.note = std::string(hpa.status().message());
          return a;
        }
        hpa_.emplace(*std::move(hpa));
      }
      last_ = keda_->Metric(metric_name_);
    }
    if (!hpa_ || step % period_ != period_ - 1) return a;
    a.acted = true;
    scaling::HpaObservations obs;
    obs.pods = PodsOf(s, initial_, now);
    obs.status_replicas = s.desired_replicas;
    scaling::MetricObservation m;
    if (!last_.has_value()) {
      m.status = absl::UnavailableError("no GetMetrics answer yet");
    } else if (!last_->ok()) {
      m.status = last_->status();
    } else {
      m.external_values_milli.push_back(scaling::MilliValue(**last_));
    }
    obs.metrics.push_back(std::move(m));
    const int current = s.desired_replicas;
    scaling::HpaDecision d = hpa_->Sync(now, current, obs);
    a.ok = d.metric_desired_replicas >= 0 || d.error.ok();
    a.replicas = d.desired_replicas;
    // Per pod, comparable with the HPA's average value (or the CPU utilization in percent).
    a.observed = kNaN;
    if (last_ && last_->ok() && current > 0) {
      const double per_pod = **last_ / current;
      a.observed = mode_.model == ModelKind::kCpu ? per_pod / target_ * kCpuTargetPercent : per_pod;
    }
    a.note = DecisionNote(current, d);
    return a;
  }

  std::string State() const override {
    return absl::StrCat(keda_->active() ? "active" : "inactive", ", ", keda_->pushes(), " pushes");
  }

 private:
  ModeSpec mode_;
  std::unique_ptr<KedaClient> keda_;
  scaling::HpaSpec spec_;
  scaling::HpaControllerOptions options_;
  int poll_;
  int period_;
  std::optional<scaling::HpaController> hpa_;
  std::string metric_name_;
  double target_ = 0;
  std::optional<absl::StatusOr<double>> last_;
  std::set<std::string> initial_;
};

class KpaReference final : public Autoscaler {
 public:
  KpaReference(const AutoscalerContext& ctx, scaling::KpaOptions options)
      : kpa_(options), decide_every_(StepsOf(absl::Seconds(2), ctx.scenario->step)) {}

  Action Step(int step, absl::Time now, double sim_seconds, const SimService& s) override {
    Action a;
    // The exact mean concurrency (in flight + queued) since the previous step, as the
    // queue-proxies and the activator report it.
    if (last_seconds_ >= 0 && sim_seconds > last_seconds_) {
      kpa_.Record(now, (s.concurrency_seconds - last_concurrency_) / (sim_seconds - last_seconds_));
    }
    last_seconds_ = sim_seconds;
    last_concurrency_ = s.concurrency_seconds;
    if (step % decide_every_ != decide_every_ - 1) return a;
    scaling::KpaDecision d = kpa_.Decide(now, s.ready_replicas, s.desired_replicas);
    panic_ = d.in_panic;
    a.acted = true;
    a.ok = true;
    a.replicas = d.valid ? d.desired_pods : s.desired_replicas;
    const int ready = std::max(1, s.ready_replicas);
    // Window sums can end a hair below zero after subtracting equal floats.
    const double stable = std::max(0.0, kpa_.StableAverage(now));
    const double panic = std::max(0.0, kpa_.PanicAverage(now));
    a.observed = stable / ready;
    a.note = absl::StrFormat("%s%d (stable %.0f, panic %.0f%s)",
                             a.replicas == s.desired_replicas
                                 ? "stay "
                                 : absl::StrCat(s.desired_replicas, " -> ").c_str(),
                             a.replicas, stable, panic, d.in_panic ? ", panic" : "");
    return a;
  }

  std::string State() const override { return panic_ ? "panic" : ""; }

 private:
  scaling::KpaAutoscaler kpa_;
  int decide_every_;
  double last_seconds_ = -1;
  double last_concurrency_ = 0;
  bool panic_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Autoscaler>> MakeAutoscaler(const ModeSpec& mode,
                                                           const AutoscalerContext& context) {
  const Scenario& sc = *context.scenario;
  scaling::HpaControllerOptions options;
  options.downscale_stabilization_window = sc.autoscaling.scale_down_stabilization;
  switch (mode.scaler) {
    case ScalerKind::kHpa: {
      auto hpa = scaling::HpaController::Create(HpaSpecFor(mode, sc), options);
      if (!hpa.ok()) return hpa.status();
      return std::unique_ptr<Autoscaler>(new HpaEmulator(mode, context, *std::move(hpa)));
    }
    case ScalerKind::kKeda: {
      // The trigger metadata of examples/keda-{concurrency,cpu}.yaml.
      std::map<std::string, std::string> metadata = {{"metric", mode.metric},
                                                     {"inferenceService", mode.name}};
      if (!mode.keda_query.empty()) {
        // A `type: prometheus` trigger's metadata, as it is.
        metadata = {{"serverAddress", "default"},
                    {"query", mode.keda_query},
                    {"threshold", absl::StrCat(kConcurrencyTarget)}};
      } else if (mode.model == ModelKind::kCpu) {
        metadata["targetUtilizationPercentage"] = absl::StrCat(kCpuTargetPercent);
      } else {
        metadata["containerConcurrency"] = "100";
        metadata["targetUtilizationPercentage"] = "70";
      }
      auto keda = KedaClient::Create(context.grpc_port, mode.name, context.ns, metadata);
      if (!keda.ok()) return keda.status();
      scaling::MetricSpec metric;
      metric.source = scaling::MetricSourceType::kExternal;
      metric.name = mode.metric;  // replaced by GetMetricSpec's name
      metric.target_type = scaling::MetricTargetType::kAverageValue;
      metric.target_milli = 1;  // replaced by GetMetricSpec's target
      scaling::HpaSpec spec = SpecWith(sc, std::move(metric));
      // Checks the spec now; the target comes from GetMetricSpec during the run.
      if (auto hpa = scaling::HpaController::Create(spec, options); !hpa.ok()) return hpa.status();
      return std::unique_ptr<Autoscaler>(
          new KedaEmulator(mode, context, *std::move(keda), std::move(spec), options));
    }
    case ScalerKind::kKpa: {
      scaling::KpaOptions o;
      o.stable_window = sc.autoscaling.kpa_stable_window;
      o.panic_window_percentage =
          100.0 * absl::FDivDuration(sc.autoscaling.panic_window, sc.autoscaling.kpa_stable_window);
      o.target = kConcurrencyTarget;
      o.enable_scale_to_zero = false;
      o.min_scale = sc.autoscaling.min_replicas;
      o.max_scale = sc.autoscaling.max_replicas;
      if (absl::Status s = scaling::ValidateKpaOptions(o); !s.ok()) return s;
      return std::unique_ptr<Autoscaler>(new KpaReference(context, o));
    }
  }
  return absl::InvalidArgumentError("unknown scaler");
}

}  // namespace aa::closedloop
