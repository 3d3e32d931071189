#include "demo/sim/scenario.h"

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/file.h"
#include "common/strings.h"
#include "yaml-cpp/yaml.h"

namespace aa::sim {

std::vector<ServiceSpec> DefaultScenario() {
  std::vector<ServiceSpec> out;
  {
    ServiceSpec s;
    s.name = "concurrency-model";
    s.ns = "kserve-test";
    s.container_concurrency = 100;
    s.target_utilization_percent = 70;
    s.service_time = absl::Milliseconds(500);
    s.cpu_per_request = 0.005;
    s.idle_cpu = 0.02;
    s.cpu_request = 1;
    s.memory_request = 1 << 30;
    s.memory_working_set = 512 << 20;
    s.memory_per_request = 1 << 20;
    s.replicas = 1;
    s.start_delay = absl::Seconds(10);
    // Peak 360 rps x 0.5 s = 180 concurrent: ceil(180 / 70) = 3 pods. One pod serves at most 200
    // rps.
    s.load.loop = true;
    s.load.segments = {{absl::Seconds(60), 40, 40},
                       {absl::Seconds(60), 40, 360},
                       {absl::Seconds(300), 360, 360},
                       {absl::Seconds(120), 100, 100}};
    out.push_back(std::move(s));
  }
  {
    ServiceSpec s;
    s.name = "cpu-model";
    s.ns = "kserve-test";
    s.container_concurrency = 0;
    s.target_utilization_percent = 50;
    s.service_time = absl::Milliseconds(100);
    s.cpu_per_request = 0.05;
    s.idle_cpu = 0.02;
    s.cpu_request = 1;
    s.memory_request = 1 << 30;
    s.memory_working_set = 384 << 20;
    s.memory_per_request = 2 << 20;
    s.replicas = 1;
    s.start_delay = absl::Seconds(10);
    // Peak 28 rps x 0.05 core-s = 1.4 cores (+ idle): 1 pod at ~142 % -> ceil(1 x 142 / 50) = 3
    // pods at ~49 %.
    s.load.loop = true;
    s.load.segments = {{absl::Seconds(60), 4, 4},
                       {absl::Seconds(60), 4, 28},
                       {absl::Seconds(300), 28, 28},
                       {absl::Seconds(120), 8, 8}};
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view filename) : filename_(filename) {}

  absl::Status Error(const YAML::Node& node, std::string_view field,
                     std::string_view problem) const {
    std::string value;
    if (node.IsScalar()) {
      value = absl::StrCat(" (value: \"", node.Scalar(), "\")");
    } else if (node.IsMap()) {
      value = " (value: a mapping)";
    } else if (node.IsSequence()) {
      value = " (value: a sequence)";
    }
    const YAML::Mark m = node.Mark();
    const std::string where =
        m.is_null() ? filename_ : absl::StrCat(filename_, ":", m.line + 1, ":", m.column + 1);
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", ToAbsl(field), ": ", ToAbsl(problem), value));
  }

  // An unknown key: points at the key, shows the value.
  absl::Status Unknown(const YAML::Node& key, const YAML::Node& value,
                       std::string_view field) const {
    absl::Status st = Error(value, field, "unknown field");
    const YAML::Mark m = key.Mark();
    if (m.is_null()) return st;
    std::string msg(st.message());
    const std::string where = absl::StrCat(filename_, ":", m.line + 1, ":", m.column + 1);
    return absl::InvalidArgumentError(absl::StrCat(where, msg.substr(msg.find(": "))));
  }

  absl::StatusOr<double> Number(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected a number");
    const std::string& s = n.Scalar();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
      return Error(n, field, "expected a number");
    return v;
  }

  absl::StatusOr<int64_t> Integer(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected an integer");
    const std::string& s = n.Scalar();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0)
      return Error(n, field, "expected an integer");
    return static_cast<int64_t>(v);
  }

  absl::StatusOr<int> Int(const YAML::Node& n, std::string_view field) const {
    auto v = Integer(n, field);
    if (!v.ok()) return v.status();
    if (*v < 0 || *v > 1000000) return Error(n, field, "out of range");
    return static_cast<int>(*v);
  }

  absl::StatusOr<std::string> String(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected a string");
    return n.Scalar();
  }

  absl::StatusOr<bool> Bool(const YAML::Node& n, std::string_view field) const {
    if (n.IsScalar()) {
      if (n.Scalar() == "true") return true;
      if (n.Scalar() == "false") return false;
    }
    return Error(n, field, "expected true or false");
  }

  absl::StatusOr<absl::Duration> Duration(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected a duration like 500ms or 1m");
    auto d = ParseGoDuration(n.Scalar());
    if (!d.ok()) return Error(n, field, "expected a duration like 500ms or 1m");
    return *d;
  }

  // Kubernetes quantities, the subset people write: plain numbers, m (milli), k/M/G/T, Ki/Mi/Gi/Ti.
  absl::StatusOr<double> Quantity(const YAML::Node& n, std::string_view field) const {
    if (!n.IsScalar()) return Error(n, field, "expected a quantity like 1, 500m, 512Mi");
    std::string s = n.Scalar();
    double mult = 1;
    static const std::pair<std::string_view, double> kSuffixes[] = {
        {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
        {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12},
        {"m", 1e-3}};
    for (const auto& [suffix, m] : kSuffixes) {
      if (s.size() > suffix.size() &&
          std::string_view(s).substr(s.size() - suffix.size()) == suffix) {
        s.resize(s.size() - suffix.size());
        mult = m;
        break;
      }
    }
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) {
      return Error(n, field, "expected a quantity like 1, 500m, 512Mi");
    }
    return v * mult;
  }

  absl::Status Segment(const YAML::Node& n, const std::string& path, LoadSegment* seg) const {
    if (!n.IsMap())
      return Error(n, path, "expected a mapping with duration, rps and optionally to_rps");
    bool has_to = false, has_rps = false, has_duration = false;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const std::string f = absl::StrCat(path, ".", key);
      const YAML::Node& v = kv.second;
      if (key == "duration") {
        auto d = Duration(v, f);
        if (!d.ok()) return d.status();
        seg->duration = *d;
        has_duration = true;
      } else if (key == "rps") {
        auto x = Number(v, f);
        if (!x.ok()) return x.status();
        seg->rps = *x;
        has_rps = true;
      } else if (key == "to_rps") {
        auto x = Number(v, f);
        if (!x.ok()) return x.status();
        seg->to_rps = *x;
        has_to = true;
      } else {
        return Unknown(kv.first, v, f);
      }
    }
    if (!has_duration) return Error(n, path + ".duration", "required field missing");
    if (!has_rps) return Error(n, path + ".rps", "required field missing");
    if (!has_to) seg->to_rps = seg->rps;
    return absl::OkStatus();
  }

  absl::Status Load(const YAML::Node& n, const std::string& path, LoadProfile* load) const {
    if (!n.IsMap()) return Error(n, path, "expected a mapping with loop and steps");
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const std::string f = absl::StrCat(path, ".", key);
      const YAML::Node& v = kv.second;
      if (key == "loop") {
        auto b = Bool(v, f);
        if (!b.ok()) return b.status();
        load->loop = *b;
      } else if (key == "steps") {
        if (!v.IsSequence()) return Error(v, f, "expected a sequence of steps");
        for (size_t i = 0; i < v.size(); ++i) {
          LoadSegment seg;
          if (absl::Status st = Segment(v[i], absl::StrCat(f, "[", i, "]"), &seg); !st.ok())
            return st;
          load->segments.push_back(seg);
        }
      } else {
        return Unknown(kv.first, v, f);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Llm(const YAML::Node& n, const std::string& path, LlmSpec* llm) const {
    if (!n.IsMap()) return Error(n, path, "expected a mapping");
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const std::string f = absl::StrCat(path, ".", key);
      const YAML::Node& v = kv.second;
      absl::StatusOr<double> x = 0.0;
      if (key == "prompt_tokens") {
        x = Number(v, f);
        if (x.ok()) llm->prompt_tokens = *x;
      } else if (key == "output_tokens") {
        x = Number(v, f);
        if (x.ok()) llm->output_tokens = *x;
      } else if (key == "prefill_tokens_per_second") {
        x = Number(v, f);
        if (x.ok()) llm->prefill_tokens_per_second = *x;
      } else if (key == "kv_cache_tokens") {
        x = Number(v, f);
        if (x.ok()) llm->kv_cache_tokens = *x;
      } else if (key == "time_per_output_token") {
        auto d = Duration(v, f);
        if (!d.ok()) return d.status();
        llm->time_per_output_token = *d;
      } else {
        return Unknown(kv.first, v, f);
      }
      if (!x.ok()) return x.status();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ServiceSpec> Service(const YAML::Node& n, const std::string& path) const {
    if (!n.IsMap()) return Error(n, path, "expected a mapping");
    ServiceSpec s;
    s.load.segments.clear();
    bool has_name = false;
#define AA_SIM_FIELD(expr, target)  \
  {                                 \
    auto r = (expr);                \
    if (!r.ok()) return r.status(); \
    (target) = *r;                  \
  }
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const std::string f = absl::StrCat(path, ".", key);
      const YAML::Node& v = kv.second;
      if (key == "name") {
        AA_SIM_FIELD(String(v, f), s.name);
        has_name = true;
      } else if (key == "namespace") {
        AA_SIM_FIELD(String(v, f), s.ns);
      } else if (key == "model_name") {
        AA_SIM_FIELD(String(v, f), s.model_name);
      } else if (key == "container_concurrency") {
        AA_SIM_FIELD(Int(v, f), s.container_concurrency);
      } else if (key == "target_utilization_percent") {
        AA_SIM_FIELD(Int(v, f), s.target_utilization_percent);
      } else if (key == "service_time") {
        AA_SIM_FIELD(Duration(v, f), s.service_time);
      } else if (key == "distribution") {
        auto d = String(v, f);
        if (!d.ok()) return d.status();
        if (*d == "exponential") {
          s.distribution = ServiceTimeDistribution::kExponential;
        } else if (*d == "lognormal") {
          s.distribution = ServiceTimeDistribution::kLognormal;
        } else if (*d == "constant") {
          s.distribution = ServiceTimeDistribution::kConstant;
        } else {
          return Error(v, f, "expected exponential, lognormal or constant");
        }
      } else if (key == "lognormal_sigma") {
        AA_SIM_FIELD(Number(v, f), s.lognormal_sigma);
      } else if (key == "cpu_per_request") {
        AA_SIM_FIELD(Number(v, f), s.cpu_per_request);
      } else if (key == "idle_cpu") {
        AA_SIM_FIELD(Quantity(v, f), s.idle_cpu);
      } else if (key == "cpu_request") {
        AA_SIM_FIELD(Quantity(v, f), s.cpu_request);
      } else if (key == "cpu_limit") {
        AA_SIM_FIELD(Quantity(v, f), s.cpu_limit);
      } else if (key == "memory_request") {
        AA_SIM_FIELD(Quantity(v, f), s.memory_request);
      } else if (key == "memory_working_set") {
        AA_SIM_FIELD(Quantity(v, f), s.memory_working_set);
      } else if (key == "memory_per_request") {
        AA_SIM_FIELD(Quantity(v, f), s.memory_per_request);
      } else if (key == "replicas") {
        AA_SIM_FIELD(Int(v, f), s.replicas);
      } else if (key == "start_delay") {
        AA_SIM_FIELD(Duration(v, f), s.start_delay);
      } else if (key == "queue_limit") {
        AA_SIM_FIELD(Integer(v, f), s.queue_limit);
      } else if (key == "load") {
        if (absl::Status st = Load(v, f, &s.load); !st.ok()) return st;
      } else if (key == "llm") {
        if (absl::Status st = Llm(v, f, &s.llm.emplace()); !st.ok()) return st;
      } else {
        return Unknown(kv.first, v, f);
      }
    }
#undef AA_SIM_FIELD
    if (!has_name) return Error(n, path + ".name", "required field missing");
    if (absl::Status st = ValidateServiceSpec(s); !st.ok()) {
      return Error(n, path, FromAbsl(st.message()));
    }
    return s;
  }

  absl::StatusOr<std::vector<ServiceSpec>> Scenario(const YAML::Node& root) const {
    if (!root.IsMap()) return Error(root, "(top level)", "expected a mapping with `services`");
    std::vector<ServiceSpec> out;
    bool has_services = false;
    for (const auto& kv : root) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "services") {
        has_services = true;
        if (!v.IsSequence() || v.size() == 0)
          return Error(v, key, "expected a non-empty sequence of services");
        for (size_t i = 0; i < v.size(); ++i) {
          auto s = Service(v[i], absl::StrCat("services[", i, "]"));
          if (!s.ok()) return s.status();
          out.push_back(std::move(*s));
        }
      } else {
        return Unknown(kv.first, v, key);
      }
    }
    if (!has_services) return Error(root, "services", "required field missing");
    return out;
  }

 private:
  std::string filename_;
};

}  // namespace

absl::StatusOr<std::vector<ServiceSpec>> ParseScenario(std::string_view text,
                                                       std::string_view filename) {
  Parser parser(filename);
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return parser.Scenario(root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(filename), ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(filename), ": ", e.what()));
  }
}

absl::StatusOr<std::vector<ServiceSpec>> LoadScenarioFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("cannot read scenario file ", path));
  return ParseScenario(*text, path);
}

}  // namespace aa::sim
