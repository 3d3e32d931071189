#include "demo/closedloop/autoscalers.h"

#include <algorithm>
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

int ModeMinReplicas(const ModeSpec& mode, const Scenario& scenario) {
  return mode.from_zero ? 0 : scenario.autoscaling.min_replicas;
}

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

// One trigger of the ScaledObject: its client (StreamIsActive open), and what GetMetricSpec and
// the latest GetMetrics answered.
struct KedaTrigger {
  std::unique_ptr<KedaClient> client;
  std::string metric_name;
  double target = 0;
  std::optional<absl::StatusOr<double>> last;
};

class KedaEmulator final : public Autoscaler {
 public:
  KedaEmulator(const ModeSpec& mode, const AutoscalerContext& ctx,
               std::vector<std::unique_ptr<KedaClient>> clients, scaling::HpaSpec spec,
               scaling::HpaControllerOptions options)
      : mode_(mode),
        spec_(std::move(spec)),
        options_(options),
        poll_(StepsOf(ctx.scenario->autoscaling.keda_polling_interval, ctx.scenario->step)),
        period_(StepsOf(ctx.scenario->autoscaling.sync_period, ctx.scenario->step)),
        cooldown_(ctx.scenario->autoscaling.keda_cooldown_period) {
    for (auto& c : clients) {
      c->StartStream();
      triggers_.push_back(KedaTrigger{std::move(c), "", 0, std::nullopt});
    }
  }

  Action Step(int step, absl::Time now, double, const SimService& s) override {
    Action a;
    if (step == 0) {
      for (const SimPod& p : s.pods) initial_.insert(p.name);
    }
    const int current = s.desired_replicas;
    if (mode_.from_zero) {
      // KEDA's own 0 <-> 1: the scale loop reacts to a pushed `true` at once (external-push), and
      // scales to minReplicaCount 0 once no trigger was active for cooldownPeriod. In between,
      // its HPA (minReplicas 1) does 1 <-> N; at 0 replicas the HPA does nothing.
      const bool active = std::any_of(triggers_.begin(), triggers_.end(),
                                      [](const KedaTrigger& t) { return t.client->active(); });
      if (active) last_active_ = now;
      if (current == 0) {
        if (!active) return a;
        a.acted = true;
        a.replicas = 1;
        a.observed = kNaN;
        a.note = "0 -> 1 (StreamIsActive pushed true)";
        return a;
      }
      if (!active && now - last_active_ >= cooldown_) {
        a.acted = true;
        a.replicas = 0;
        a.observed = kNaN;
        a.note = absl::StrCat(current, " -> 0 (no trigger active for cooldownPeriod ",
                              absl::FormatDuration(cooldown_), ")");
        return a;
      }
    }
    if (step % poll_ == poll_ - 1) {
      // KEDA creates the HPA once GetMetricSpec answers (its reconcile retries until then); the
      // CPU trigger's target needs the pods' CPU requests sampled first.
      if (!hpa_) {
        for (size_t k = 0; k < triggers_.size(); ++k) {
          auto spec = triggers_[k].client->MetricSpec();
          if (!spec.ok()) {
            a.acted = true;
            a.ok = false;
            a.note = std::string(spec.status().message());
            return a;
          }
          triggers_[k].metric_name = spec->first;
          triggers_[k].target = spec->second;
          spec_.metrics[k].name = spec->first;
          spec_.metrics[k].target_milli = scaling::MilliValue(spec->second);
        }
        auto hpa = scaling::HpaController::Create(spec_, options_);
        if (!hpa.ok()) {
          a.acted = true;
          a.ok = false;
          a.note = std::string(hpa.status().message());
          return a;
        }
        hpa_.emplace(*std::move(hpa));
      }
      for (KedaTrigger& t : triggers_) t.last = t.client->Metric(t.metric_name);
    }
    if (!hpa_ || step % period_ != period_ - 1 || current == 0) return a;
    a.acted = true;
    scaling::HpaObservations obs;
    obs.pods = PodsOf(s, initial_, now);
    obs.status_replicas = current;
    for (const KedaTrigger& t : triggers_) {
      scaling::MetricObservation m;
      if (!t.last.has_value()) {
        m.status = absl::UnavailableError("no GetMetrics answer yet");
      } else if (!t.last->ok()) {
        m.status = t.last->status();
      } else {
        m.external_values_milli.push_back(scaling::MilliValue(**t.last));
      }
      obs.metrics.push_back(std::move(m));
    }
    scaling::HpaDecision d = hpa_->Sync(now, current, obs);
    a.ok = d.metric_desired_replicas >= 0 || d.error.ok();
    a.replicas = d.desired_replicas;
    // Per pod, comparable with the HPA's average value (or the CPU utilization in percent).
    a.observed = kNaN;
    const auto& last = triggers_[0].last;
    if (last && last->ok()) {
      const double per_pod = **last / current;
      a.observed = mode_.model == ModelKind::kCpu
                       ? per_pod / triggers_[0].target * kCpuTargetPercent
                       : per_pod;
    }
    a.note = DecisionNote(current, d);
    return a;
  }

  std::string State() const override {
    int pushes = 0;
    bool active = false;
    for (const KedaTrigger& t : triggers_) {
      pushes += t.client->pushes();
      active = active || t.client->active();
    }
    return absl::StrCat(active ? "active" : "inactive", ", ", pushes, " pushes");
  }

 private:
  ModeSpec mode_;
  std::vector<KedaTrigger> triggers_;  // [0]: the mode's metric; [1]: activity (from zero)
  scaling::HpaSpec spec_;
  scaling::HpaControllerOptions options_;
  int poll_;
  int period_;
  absl::Duration cooldown_;
  absl::Time last_active_ = absl::InfinitePast();
  std::optional<scaling::HpaController> hpa_;
  std::set<std::string> initial_;
};

class KpaReference final : public Autoscaler {
 public:
  KpaReference(const AutoscalerContext& ctx, scaling::KpaOptions options, bool from_zero)
      : kpa_(options),
        decide_every_(StepsOf(absl::Seconds(2), ctx.scenario->step)),
        from_zero_(from_zero) {}

  Action Step(int step, absl::Time now, double sim_seconds, const SimService& s) override {
    Action a;
    // The exact mean concurrency (in flight + queued) since the previous step, as the
    // queue-proxies and the activator report it.
    if (last_seconds_ >= 0 && sim_seconds > last_seconds_) {
      kpa_.Record(now, (s.concurrency_seconds - last_concurrency_) / (sim_seconds - last_seconds_));
    }
    last_seconds_ = sim_seconds;
    last_concurrency_ = s.concurrency_seconds;
    // Knative's activator pokes the autoscaler when a request arrives for a revision at zero
    // pods: it decides at once instead of at its next 2 s tick, and wants at least one pod.
    const bool poke = from_zero_ && s.desired_replicas == 0 && s.queue_length > 0;
    if (!poke && step % decide_every_ != decide_every_ - 1) return a;
    scaling::KpaDecision d = kpa_.Decide(now, s.ready_replicas, s.desired_replicas);
    if (poke && d.desired_pods < 1) d.desired_pods = 1;
    panic_ = d.in_panic;
    a.acted = true;
    a.ok = true;
    a.replicas = d.valid || poke ? d.desired_pods : s.desired_replicas;
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
  bool from_zero_;
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
      std::vector<std::unique_ptr<KedaClient>> clients;
      auto keda = KedaClient::Create(context.grpc_port, mode.name, context.ns, metadata);
      if (!keda.ok()) return keda.status();
      clients.push_back(*std::move(keda));
      if (mode.from_zero) {
        // examples/keda-concurrency-zero.yaml's second trigger: requests waiting in the
        // activator for this InferenceService's revision (exists at zero pods).
        auto activity = KedaClient::Create(
            context.grpc_port, mode.name, context.ns,
            {{"metric", kActivityMetric},
             {"resource", "external"},
             {"labelSelector", absl::StrCat("configuration_name=", mode.name, "-predictor")},
             {"activationThreshold", "0"}});
        if (!activity.ok()) return activity.status();
        clients.push_back(*std::move(activity));
      }
      scaling::MetricSpec metric;
      metric.source = scaling::MetricSourceType::kExternal;
      metric.name = mode.metric;  // replaced by GetMetricSpec's name
      metric.target_type = scaling::MetricTargetType::kAverageValue;
      metric.target_milli = 1;  // replaced by GetMetricSpec's target
      scaling::HpaSpec spec = SpecWith(sc, metric);
      // KEDA's HPA has one External metric per trigger.
      for (size_t k = 1; k < clients.size(); ++k) spec.metrics.push_back(metric);
      // Checks the spec now; the target comes from GetMetricSpec during the run.
      if (auto hpa = scaling::HpaController::Create(spec, options); !hpa.ok()) return hpa.status();
      return std::unique_ptr<Autoscaler>(
          new KedaEmulator(mode, context, std::move(clients), std::move(spec), options));
    }
    case ScalerKind::kKpa: {
      scaling::KpaOptions o;
      o.stable_window = sc.autoscaling.kpa_stable_window;
      o.panic_window_percentage =
          100.0 * absl::FDivDuration(sc.autoscaling.panic_window, sc.autoscaling.kpa_stable_window);
      o.target = kConcurrencyTarget;
      o.enable_scale_to_zero = mode.from_zero;
      o.scale_to_zero_grace_period = sc.autoscaling.scale_to_zero_grace;
      o.min_scale = ModeMinReplicas(mode, sc);
      o.max_scale = sc.autoscaling.max_replicas;
      if (absl::Status s = scaling::ValidateKpaOptions(o); !s.ok()) return s;
      return std::unique_ptr<Autoscaler>(new KpaReference(context, o, mode.from_zero));
    }
  }
  return absl::InvalidArgumentError("unknown scaler");
}

}  // namespace aa::closedloop
