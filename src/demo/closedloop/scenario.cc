#include "demo/closedloop/scenario.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace aa::closedloop {

absl::Duration Scenario::Length() const {
  absl::Duration total;
  for (const Phase& p : phases) total += p.duration;
  return total;
}

int Scenario::Steps() const { return static_cast<int>(Length() / step); }

const Phase* Scenario::PhaseAt(absl::Duration t) const {
  absl::Duration start;
  for (const Phase& p : phases) {
    if (t < start + p.duration) return &p;
    start += p.duration;
  }
  return phases.empty() ? nullptr : &phases.back();
}

double Scenario::LoadAt(absl::Duration t) const {
  absl::Duration start;
  for (const Phase& p : phases) {
    if (t < start + p.duration) {
      const double f = absl::FDivDuration(t - start, p.duration);
      return p.load + (p.to - p.load) * f;
    }
    start += p.duration;
  }
  return 0;
}

absl::Duration Scenario::PhaseStart(std::string_view name) const {
  absl::Duration start;
  for (const Phase& p : phases) {
    if (p.name == name) return start;
    start += p.duration;
  }
  return absl::InfiniteDuration();
}

double Scenario::PhaseMaxLoad(std::string_view name) const {
  for (const Phase& p : phases) {
    if (p.name == name) return std::max(p.load, p.to);
  }
  return 0;
}

Scenario DefaultScenario() {
  Scenario s;
  s.phases = {{"idle", absl::Seconds(20), 0.2, 0.2},
              {"ramp", absl::Seconds(30), 0.2, 1},
              {"burst", absl::Seconds(50), 5, 5},
              {"steady", absl::Seconds(70), 5, 5},
              {"drop", absl::Seconds(100), 0, 0}};
  return s;
}

Scenario LongScenario() {
  Scenario s;
  s.phases = {{"idle", absl::Seconds(60), 0.2, 0.2},
              {"ramp", absl::Seconds(60), 0.2, 1},
              {"burst", absl::Seconds(60), 5, 5},
              {"steady", absl::Minutes(6), 5, 5},
              {"drop", absl::Minutes(7), 0, 0}};
  s.autoscaling.scale_down_stabilization = absl::Minutes(5);
  s.autoscaling.keda_cooldown_period = absl::Minutes(5);
  return s;
}

namespace {

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 63 || !(n[0] >= 'a' && n[0] <= 'z')) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

absl::Status Invalid(std::string_view field, std::string_view problem, std::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(field), ": ", ToAbsl(problem), " (got \"", ToAbsl(value), "\")"));
}

bool WholeSteps(absl::Duration d, absl::Duration step) {
  return absl::IDivDuration(d, step, &d) >= 0 && d == absl::ZeroDuration();
}

}  // namespace

absl::Status ValidateScenario(const Scenario& s) {
  if (s.step < absl::Milliseconds(100) || s.step > absl::Seconds(5)) {
    return Invalid("step", "must be in [100ms, 5s]", FormatGoDuration(s.step));
  }
  if (s.phases.empty()) {
    return absl::InvalidArgumentError("phases: at least one phase is required");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < s.phases.size(); ++i) {
    const Phase& p = s.phases[i];
    const std::string f = absl::StrCat("phases[", i, "]");
    if (!ValidName(p.name)) {
      return Invalid(f + ".name", "must match [a-z][a-z0-9-]* (at most 63 characters)", p.name);
    }
    if (!names.insert(p.name).second) return Invalid(f + ".name", "duplicate phase name", p.name);
    if (p.duration <= absl::ZeroDuration() || !WholeSteps(p.duration, s.step)) {
      return Invalid(f + ".duration",
                     absl::StrCat("must be a positive whole multiple of the step (",
                                  FormatGoDuration(s.step), ")"),
                     FormatGoDuration(p.duration));
    }
    for (auto [field, v] : {std::pair{".load", p.load}, std::pair{".to", p.to}}) {
      if (!std::isfinite(v) || v < 0 || v > 1000) {
        return Invalid(f + field, "must be a number in [0, 1000]", absl::StrCat(v));
      }
    }
  }
  absl::Duration last = -absl::InfiniteDuration();
  for (const char* required : {"burst", "steady", "drop"}) {
    const absl::Duration start = s.PhaseStart(required);
    if (start == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("phases: a phase named \"", required,
                       "\" is required (the summary measures from it; order burst, steady, drop)"));
    }
    if (start <= last) {
      return absl::InvalidArgumentError(absl::StrCat(
          "phases: \"", required, "\" must come after the phases burst, steady, drop before it"));
    }
    last = start;
  }
  if (s.Length() > absl::Hours(2)) {
    return Invalid("phases", "the run must last at most 2h", FormatGoDuration(s.Length()));
  }
  for (auto [field, v] :
       {std::pair{"baseRps.concurrency", s.concurrency_base_rps},
        std::pair{"baseRps.cpu", s.cpu_base_rps}, std::pair{"baseRps.llm", s.llm_base_rps}}) {
    if (!std::isfinite(v) || v <= 0 || v > 10000) {
      return Invalid(field, "must be a number in (0, 10000]", absl::StrCat(v));
    }
  }
  const AutoscalingSettings& a = s.autoscaling;
  if (a.min_replicas < 1) {
    return Invalid("autoscaling.minReplicas", "must be at least 1", absl::StrCat(a.min_replicas));
  }
  if (a.max_replicas < a.min_replicas || a.max_replicas > 100) {
    return Invalid("autoscaling.maxReplicas", "must be in [minReplicas, 100]",
                   absl::StrCat(a.max_replicas));
  }
  struct D {
    const char* field;
    absl::Duration value;
    absl::Duration min;
    bool steps;  // must be a whole number of steps
  };
  for (const D& d :
       {D{"autoscaling.syncPeriod", a.sync_period, absl::Seconds(1), true},
        D{"autoscaling.kedaPollingInterval", a.keda_polling_interval, absl::Seconds(1), true},
        D{"autoscaling.scaleUpStabilization", a.scale_up_stabilization, absl::ZeroDuration(),
          false},
        D{"autoscaling.scaleDownStabilization", a.scale_down_stabilization, absl::ZeroDuration(),
          false},
        D{"autoscaling.metricWindow", a.metric_window, absl::Seconds(6), false},
        D{"autoscaling.panicWindow", a.panic_window, absl::Seconds(2), false},
        D{"autoscaling.cpuWindow", a.cpu_window, absl::Seconds(2), false},
        D{"autoscaling.kpaStableWindow", a.kpa_stable_window, absl::Seconds(2), false},
        D{"autoscaling.kedaCooldownPeriod", a.keda_cooldown_period, absl::ZeroDuration(), false},
        D{"autoscaling.scaleToZeroGrace", a.scale_to_zero_grace, absl::ZeroDuration(), false},
        D{"autoscaling.podStartDelay", a.pod_start_delay, absl::ZeroDuration(), false}}) {
    if (d.value < d.min || d.value > absl::Hours(1)) {
      return Invalid(d.field, absl::StrCat("must be in [", FormatGoDuration(d.min), ", 1h]"),
                     FormatGoDuration(d.value));
    }
    if (d.steps && !WholeSteps(d.value, s.step)) {
      return Invalid(
          d.field,
          absl::StrCat("must be a whole multiple of the step (", FormatGoDuration(s.step), ")"),
          FormatGoDuration(d.value));
    }
  }
  if (a.panic_window >= a.metric_window) {
    return Invalid("autoscaling.panicWindow", "must be shorter than metricWindow",
                   FormatGoDuration(a.panic_window));
  }
  if (a.panic_window >= a.kpa_stable_window) {
    return Invalid("autoscaling.panicWindow", "must be shorter than kpaStableWindow",
                   FormatGoDuration(a.panic_window));
  }
  return absl::OkStatus();
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view filename) : filename_(filename) {}

  absl::Status Error(const YAML::Node& n, std::string_view field, std::string_view problem) const {
    const YAML::Mark m = n.Mark();
    std::string where = m.is_null()
                            ? std::string(filename_)
                            : absl::StrCat(ToAbsl(filename_), ":", m.line + 1, ":", m.column + 1);
    std::string value = n.IsScalar()     ? absl::StrCat(" (got \"", n.Scalar(), "\")")
                        : n.IsMap()      ? " (got a mapping)"
                        : n.IsSequence() ? " (got a sequence)"
                                         : "";
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", ToAbsl(field), ": ", ToAbsl(problem), value));
  }

  // Checks that `n` is a mapping with only `known` keys.
  absl::Status Keys(const YAML::Node& n, std::string_view field,
                    std::initializer_list<std::string_view> known) const {
    if (!n.IsMap()) return Error(n, field, "expected a mapping");
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      bool found = false;
      for (std::string_view k : known) found = found || k == key;
      if (!found) {
        return Error(kv.first, absl::StrCat(ToAbsl(field), field.empty() ? "" : ".", key),
                     "unknown field");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<double> Number(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected a number");
    const std::string& s = n.Scalar();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
      return Error(n, field, "expected a number");
    }
    return v;
  }

  absl::StatusOr<int> Int(const YAML::Node& n, std::string_view field) const {
    auto v = Number(n, field);
    if (!v.ok()) return v.status();
    if (*v != std::floor(*v) || std::abs(*v) > 1e6) return Error(n, field, "expected an integer");
    return static_cast<int>(*v);
  }

  absl::StatusOr<absl::Duration> Duration(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected a duration such as 20s");
    auto d = ParseGoDuration(n.Scalar());
    if (!d.ok()) return Error(n, field, "expected a duration such as 20s");
    return *d;
  }

  absl::StatusOr<std::string> String(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected a string");
    return n.Scalar();
  }

 private:
  std::string_view filename_;
};

absl::StatusOr<Scenario> Parse(const YAML::Node& root, const Parser& p) {
  Scenario s;
  if (absl::Status st = p.Keys(root, "", {"phases", "baseRps", "step", "autoscaling"}); !st.ok()) {
    return st;
  }
  if (root["step"]) {
    AA_ASSIGN_OR_RETURN(s.step, p.Duration(root["step"], "step"));
  }
  const YAML::Node phases = root["phases"];
  if (!phases) return absl::InvalidArgumentError("phases: required");
  if (!phases.IsSequence()) return p.Error(phases, "phases", "expected a sequence");
  for (size_t i = 0; i < phases.size(); ++i) {
    const YAML::Node n = phases[i];
    const std::string f = absl::StrCat("phases[", i, "]");
    if (absl::Status st = p.Keys(n, f, {"name", "duration", "load", "to"}); !st.ok()) return st;
    Phase ph;
    for (const char* req : {"name", "duration", "load"}) {
      if (!n[req]) return p.Error(n, absl::StrCat(f, ".", req), "required");
    }
    AA_ASSIGN_OR_RETURN(ph.name, p.String(n["name"], f + ".name"));
    AA_ASSIGN_OR_RETURN(ph.duration, p.Duration(n["duration"], f + ".duration"));
    AA_ASSIGN_OR_RETURN(ph.load, p.Number(n["load"], f + ".load"));
    ph.to = ph.load;
    if (n["to"]) {
      AA_ASSIGN_OR_RETURN(ph.to, p.Number(n["to"], f + ".to"));
    }
    s.phases.push_back(std::move(ph));
  }
  if (const YAML::Node b = root["baseRps"]) {
    if (absl::Status st = p.Keys(b, "baseRps", {"concurrency", "cpu", "llm"}); !st.ok()) return st;
    if (b["concurrency"]) {
      AA_ASSIGN_OR_RETURN(s.concurrency_base_rps,
                          p.Number(b["concurrency"], "baseRps.concurrency"));
    }
    if (b["cpu"]) {
      AA_ASSIGN_OR_RETURN(s.cpu_base_rps, p.Number(b["cpu"], "baseRps.cpu"));
    }
    if (b["llm"]) {
      AA_ASSIGN_OR_RETURN(s.llm_base_rps, p.Number(b["llm"], "baseRps.llm"));
    }
  }
  if (const YAML::Node a = root["autoscaling"]) {
    if (absl::Status st = p.Keys(a, "autoscaling",
                                 {"minReplicas", "maxReplicas", "syncPeriod", "kedaPollingInterval",
                                  "scaleUpStabilization", "scaleDownStabilization", "metricWindow",
                                  "panicWindow", "cpuWindow", "kpaStableWindow", "podStartDelay",
                                  "kedaCooldownPeriod", "scaleToZeroGrace"});
        !st.ok()) {
      return st;
    }
    AutoscalingSettings& x = s.autoscaling;
    if (a["minReplicas"]) {
      AA_ASSIGN_OR_RETURN(x.min_replicas, p.Int(a["minReplicas"], "autoscaling.minReplicas"));
    }
    if (a["maxReplicas"]) {
      AA_ASSIGN_OR_RETURN(x.max_replicas, p.Int(a["maxReplicas"], "autoscaling.maxReplicas"));
    }
    struct Field {
      const char* key;
      absl::Duration* out;
    };
    for (const Field& f :
         {Field{"syncPeriod", &x.sync_period},
          Field{"kedaPollingInterval", &x.keda_polling_interval},
          Field{"scaleUpStabilization", &x.scale_up_stabilization},
          Field{"scaleDownStabilization", &x.scale_down_stabilization},
          Field{"metricWindow", &x.metric_window}, Field{"panicWindow", &x.panic_window},
          Field{"cpuWindow", &x.cpu_window}, Field{"kpaStableWindow", &x.kpa_stable_window},
          Field{"podStartDelay", &x.pod_start_delay},
          Field{"kedaCooldownPeriod", &x.keda_cooldown_period},
          Field{"scaleToZeroGrace", &x.scale_to_zero_grace}}) {
      if (a[f.key]) {
        AA_ASSIGN_OR_RETURN(*f.out, p.Duration(a[f.key], absl::StrCat("autoscaling.", f.key)));
      }
    }
  }
  return s;
}

}  // namespace

absl::StatusOr<Scenario> ParseScenario(std::string_view text, std::string_view filename) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(filename), ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1,
                                                   ": YAML syntax error: ", e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(filename), ": expected a mapping with `phases`"));
  }
  Parser parser(filename);
  absl::StatusOr<Scenario> s;
  try {
    s = Parse(root, parser);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(filename), ": ", e.what()));
  }
  if (!s.ok()) return s.status();
  if (absl::Status v = ValidateScenario(*s); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(filename), ": ", v.message()));
  }
  return s;
}

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("cannot read scenario file ", path));
  return ParseScenario(*text, path);
}

}  // namespace aa::closedloop
