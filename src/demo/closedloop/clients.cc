#include "demo/closedloop/clients.h"

#include <grpcpp/grpcpp.h>

#include <cmath>
#include <limits>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/strings.h"
#include "demo/proc/subprocess.h"
#include "externalscaler.grpc.pb.h"
#include "net/call.h"
#include "net/url.h"
#include "nlohmann/json.hpp"

namespace aa::closedloop {

using nlohmann::json;

namespace {

absl::StatusOr<json> ParseJson(const std::string& body, std::string_view what) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    return absl::DataLossError(absl::StrCat(ToAbsl(what), ": not JSON: ", body.substr(0, 200)));
  }
  return j;
}

absl::Time UnixSecondsToTime(double s) { return absl::FromUnixMicros(std::llround(s * 1e6)); }

template <typename T>
T JsonGet(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

absl::Status SimError(int http_status, const std::string& message) {
  return absl::Status(http_status == 404   ? absl::StatusCode::kNotFound
                      : http_status == 400 ? absl::StatusCode::kInvalidArgument
                                           : absl::StatusCode::kInternal,
                      message);
}

}  // namespace

absl::StatusOr<SimState> SimClient::State() const {
  auto r = net::HttpCall("GET", "127.0.0.1", port_, "/api/v1/services");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return absl::UnavailableError(absl::StrCat("simulator answered HTTP ", r->status));
  }
  auto j = ParseJson(r->body, "simulator state");
  if (!j.ok()) return j.status();
  SimState state;
  state.time_seconds = JsonGet<double>(*j, "time_seconds", 0);
  std::map<std::string, SimService>& out = state.services;
  for (const json& s : (*j)["services"]) {
    if (JsonGet<std::string>(s, "namespace", "") != ns_) continue;
    SimService v;
    v.name = JsonGet<std::string>(s, "name", "");
    v.desired_replicas = JsonGet<int>(s, "desired_replicas", 0);
    v.ready_replicas = JsonGet<int>(s, "ready_replicas", 0);
    v.arrival_rate = JsonGet<double>(s, "arrival_rate", 0);
    v.queue_length = JsonGet<int64_t>(s, "queue_length", 0);
    v.in_flight = JsonGet<int64_t>(s, "in_flight", 0);
    v.arrived = JsonGet<uint64_t>(s, "arrived", 0);
    v.queued = JsonGet<uint64_t>(s, "queued", 0);
    v.completed = JsonGet<uint64_t>(s, "completed", 0);
    v.dropped = JsonGet<uint64_t>(s, "dropped", 0);
    v.concurrency_seconds = JsonGet<double>(s, "concurrency_seconds", 0);
    v.pod_seconds = JsonGet<double>(s, "pod_seconds", 0);
    v.cpu_seconds = JsonGet<double>(s, "cpu_seconds", 0);
    v.cpu_request = JsonGet<double>(s, "cpu_request", 0);
    v.service_time_seconds = JsonGet<double>(s, "service_time_seconds", 0);
    v.cpu_per_request = JsonGet<double>(s, "cpu_per_request", 0);
    v.idle_cpu = JsonGet<double>(s, "idle_cpu", 0);
    v.container_concurrency = JsonGet<int>(s, "container_concurrency", 0);
    if (s.contains("ttft_buckets") && s["ttft_buckets"].is_array()) {
      for (const json& b : s["ttft_buckets"]) {
        if (!b.is_array() || b.size() != 3) continue;
        v.ttft_buckets.push_back({b[0].get<double>(), b[1].get<double>(), b[2].get<uint64_t>()});
      }
    }
    v.first_arrival_seconds = JsonGet<double>(s, "first_arrival_seconds", -1);
    v.first_ready_seconds = JsonGet<double>(s, "first_ready_seconds", -1);
    if (s.contains("first_waits_seconds") && s["first_waits_seconds"].is_array()) {
      for (const json& w : s["first_waits_seconds"]) {
        if (w.is_number()) v.first_waits.push_back(w.get<double>());
      }
    }
    for (const json& p : s["pods"]) {
      SimPod pod;
      pod.name = JsonGet<std::string>(p, "name", "");
      pod.ready = JsonGet<bool>(p, "ready", false);
      pod.draining = JsonGet<bool>(p, "draining", false);
      pod.created = UnixSecondsToTime(JsonGet<double>(p, "created", 0));
      pod.ready_at = UnixSecondsToTime(JsonGet<double>(p, "ready_at", 0));
      v.pods.push_back(std::move(pod));
    }
    out[v.name] = std::move(v);
  }
  return state;
}

absl::Status SimClient::SetLoad(const std::string& service, double rps) const {
  auto r = net::HttpCall("PUT", "127.0.0.1", port_,
                         absl::StrCat("/api/v1/services/", ns_, "/", service, "/load"),
                         json{{"rps", rps}}.dump());
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return SimError(r->status, absl::StrCat("simulator: PUT load of ", ns_, "/", service, ": HTTP ",
                                            r->status, ": ", r->body));
  }
  return absl::OkStatus();
}

absl::Status SimClient::SetReplicas(const std::string& service, int replicas) const {
  auto r = net::HttpCall("PUT", "127.0.0.1", port_,
                         absl::StrCat("/api/v1/services/", ns_, "/", service, "/replicas"),
                         json{{"replicas", replicas}}.dump());
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return SimError(r->status, absl::StrCat("simulator: PUT replicas of ", ns_, "/", service,
                                            ": HTTP ", r->status, ": ", r->body));
  }
  return absl::OkStatus();
}

absl::Status WaitForAdapterData(int adapter_https_port, const std::string& ns,
                                const std::string& metric, int pods, absl::Duration timeout) {
  std::string last = "no answer";
  const bool ok = proc::PollUntil(
      [&] {
        auto r =
            net::HttpsGetInsecure("127.0.0.1", adapter_https_port,
                                  absl::StrCat("/api/v1/namespaces/", ns, "/metrics/", metric));
        if (!r.ok()) {
          last = std::string(r.status().message());
          return false;
        }
        last = absl::StrCat("HTTP ", r->status, ": ", r->body.substr(0, 300));
        json j = json::parse(r->body, nullptr, false);
        return r->status == 200 && !j.is_discarded() && JsonGet<int>(j, "podCount", 0) >= pods;
      },
      timeout, absl::Milliseconds(250));
  if (ok) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("the adapter did not serve ", metric, " for ", pods, " pods within ",
                   absl::FormatDuration(timeout), " (last: ", last, ")"));
}

absl::StatusOr<int64_t> ParseQuantityMilli(std::string_view q) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("not a quantity: \"", ToAbsl(q), "\""));
  };
  // <sign><digits>[.<digits>]<suffix>; the value is mantissa * 10^(exp10 - fraction digits) *
  // binary, computed exactly in 128-bit integers and rounded up to milli as MilliValue() does.
  size_t i = 0;
  bool negative = false;
  if (i < q.size() && (q[i] == '-' || q[i] == '+')) negative = q[i++] == '-';
  __int128 mantissa = 0;
  int digits = 0, fraction = 0;
  bool seen_point = false;
  for (; i < q.size(); ++i) {
    if (q[i] == '.' && !seen_point) {
      seen_point = true;
    } else if (q[i] >= '0' && q[i] <= '9') {
      if (++digits > 30) return bad();
      mantissa = mantissa * 10 + (q[i] - '0');
      if (seen_point) ++fraction;
    } else {
      break;
    }
  }
  if (digits == 0) return bad();
  const std::string_view suffix = q.substr(i);
  int exp10 = 0;
  __int128 binary = 1;
  static constexpr std::pair<std::string_view, int> kDecimal[] = {
      {"", 0},  {"n", -9}, {"u", -6}, {"m", -3}, {"k", 3},
      {"M", 6}, {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  static constexpr std::string_view kBinary[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  bool known = false;
  for (const auto& [name, e] : kDecimal) {
    if (suffix == name) {
      exp10 = e;
      known = true;
    }
  }
  for (int k = 0; k < 6 && !known; ++k) {
    if (suffix == kBinary[k]) {
      for (int j = 0; j <= k; ++j) binary *= 1024;
      known = true;
    }
  }
  if (!known) {
    if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E') ||
        !absl::SimpleAtoi(ToAbsl(suffix.substr(1)), &exp10) || exp10 < -30 || exp10 > 30) {
      return bad();
    }
  }
  // mantissa < 10^30 and binary <= 2^60 could overflow 128 bits together: refuse such values.
  if (binary > 1 && mantissa > (static_cast<__int128>(1) << 66)) return bad();
  __int128 value = mantissa * binary;
  int e = exp10 + 3 - fraction;  // value * 10^e milli-units
  for (; e > 0; --e) {
    value *= 10;
    if (value > static_cast<__int128>(std::numeric_limits<int64_t>::max())) return bad();
  }
  __int128 milli = 0;
  if (e < -36) {
    // value < 10^36 is below 10^-e: less than one milli-unit.
    milli = 0;
    if (value != 0 && !negative) milli = 1;
  } else {
    __int128 divisor = 1;
    for (; e < 0; ++e) divisor *= 10;
    milli = value / divisor;
    if (value % divisor != 0 && !negative) ++milli;  // round up (towards +inf)
  }
  if (milli > static_cast<__int128>(std::numeric_limits<int64_t>::max())) return bad();
  return static_cast<int64_t>(negative ? -milli : milli);
}

absl::StatusOr<std::string> KubeMetricsClient::Get(const std::string& path) const {
  auto r = net::HttpsGetInsecure("127.0.0.1", port_, path, token_);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    // metav1.Status: keep its message, as the HPA's condition would.
    json j = json::parse(r->body, nullptr, false);
    std::string message = !j.is_discarded() && j.contains("message") && j["message"].is_string()
                              ? j["message"].get<std::string>()
                              : r->body.substr(0, 200);
    absl::StatusCode code = r->status == 404   ? absl::StatusCode::kNotFound
                            : r->status == 503 ? absl::StatusCode::kUnavailable
                            : r->status == 400 ? absl::StatusCode::kInvalidArgument
                            : r->status == 401 ? absl::StatusCode::kUnauthenticated
                            : r->status == 403 ? absl::StatusCode::kPermissionDenied
                                               : absl::StatusCode::kInternal;
    return absl::Status(code, absl::StrCat("HTTP ", r->status, ": ", message));
  }
  return r->body;
}

namespace {

absl::Time ParseRfc3339(const json& j) {
  absl::Time t;
  std::string err;
  if (j.is_string() && absl::ParseTime(absl::RFC3339_full, j.get<std::string>(), &t, &err)) {
    return t;
  }
  return absl::InfinitePast();
}

}  // namespace

absl::StatusOr<std::vector<PodSample>> KubeMetricsClient::PodsMetric(
    const std::string& ns, const std::string& metric, const std::string& label_selector) const {
  auto body = Get(absl::StrCat("/apis/custom.metrics.k8s.io/v1beta2/namespaces/", ns, "/pods/*/",
                               metric, "?labelSelector=", net::UrlEncode(label_selector)));
  if (!body.ok()) return body.status();
  auto j = ParseJson(*body, "custom.metrics answer");
  if (!j.ok()) return j.status();
  std::vector<PodSample> out;
  for (const json& item : (*j)["items"]) {
    PodSample s;
    s.pod = item["describedObject"]["name"].get<std::string>();
    auto milli = ParseQuantityMilli(item["value"].get<std::string>());
    if (!milli.ok()) return milli.status();
    s.milli_value = *milli;
    s.timestamp = ParseRfc3339(item["timestamp"]);
    s.window = absl::Seconds(JsonGet<int64_t>(item, "windowSeconds", 0));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<PodSample>> KubeMetricsClient::PodCpu(
    const std::string& ns, const std::string& label_selector) const {
  auto body = Get(absl::StrCat("/apis/metrics.k8s.io/v1beta1/namespaces/", ns,
                               "/pods?labelSelector=", net::UrlEncode(label_selector)));
  if (!body.ok()) return body.status();
  auto j = ParseJson(*body, "metrics.k8s.io answer");
  if (!j.ok()) return j.status();
  std::vector<PodSample> out;
  for (const json& item : (*j)["items"]) {
    PodSample s;
    s.pod = item["metadata"]["name"].get<std::string>();
    for (const json& c : item["containers"]) {
      auto milli = ParseQuantityMilli(c["usage"]["cpu"].get<std::string>());
      if (!milli.ok()) return milli.status();
      s.milli_value += *milli;
    }
    s.timestamp = ParseRfc3339(item["timestamp"]);
    absl::Duration window;
    if (item["window"].is_string() &&
        absl::ParseDuration(item["window"].get<std::string>(), &window)) {
      s.window = window;
    }
    out.push_back(std::move(s));
  }
  return out;
}

struct KedaClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub;
  externalscaler::ScaledObjectRef ref;
  absl::Mutex mu;
  std::unique_ptr<grpc::ClientContext> stream_ctx ABSL_GUARDED_BY(mu);
  std::thread stream_thread;  // started under mu
};

KedaClient::KedaClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<KedaClient>> KedaClient::Create(
    int grpc_port, std::string scaled_object, std::string ns,
    const std::map<std::string, std::string>& metadata) {
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                                      grpc::InsecureChannelCredentials());
  impl->stub = externalscaler::ExternalScaler::NewStub(impl->channel);
  impl->ref.set_name(scaled_object);
  impl->ref.set_namespace_(ns);
  for (const auto& [k, v] : metadata) (*impl->ref.mutable_scalermetadata())[k] = v;
  return std::unique_ptr<KedaClient>(new KedaClient(std::move(impl)));
}

KedaClient::~KedaClient() {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->stream_ctx) impl_->stream_ctx->TryCancel();
  }
  if (impl_->stream_thread.joinable()) impl_->stream_thread.join();
}

namespace {

absl::Status FromGrpc(const grpc::Status& s, std::string_view call) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(ToAbsl(call), ": ", s.error_message()));
}

void SetDeadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace

absl::StatusOr<std::pair<std::string, double>> KedaClient::MetricSpec() {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  externalscaler::GetMetricSpecResponse r;
  grpc::Status s = impl_->stub->GetMetricSpec(&ctx, impl_->ref, &r);
  if (!s.ok()) return FromGrpc(s, "GetMetricSpec");
  if (r.metricspecs_size() != 1) {
    return absl::InternalError(
        absl::StrCat("GetMetricSpec: expected one metric spec, got ", r.metricspecs_size()));
  }
  const auto& spec = r.metricspecs(0);
  // The adapter always fills targetSizeFloat (the deprecated integer field is not read).
  return std::make_pair(spec.metricname(), spec.targetsizefloat());
}

absl::StatusOr<double> KedaClient::Metric(const std::string& metric_name) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  externalscaler::GetMetricsRequest req;
  *req.mutable_scaledobjectref() = impl_->ref;
  req.set_metricname(metric_name);
  externalscaler::GetMetricsResponse r;
  grpc::Status s = impl_->stub->GetMetrics(&ctx, req, &r);
  if (!s.ok()) return FromGrpc(s, "GetMetrics");
  if (r.metricvalues_size() != 1) {
    return absl::InternalError(
        absl::StrCat("GetMetrics: expected one value, got ", r.metricvalues_size()));
  }
  const auto& v = r.metricvalues(0);
  return v.metricvaluefloat();
}

void KedaClient::StartStream() {
  absl::MutexLock lock(&impl_->mu);
  if (impl_->stream_ctx) return;
  impl_->stream_ctx = std::make_unique<grpc::ClientContext>();
  grpc::ClientContext* ctx = impl_->stream_ctx.get();
  impl_->stream_thread = std::thread([this, ctx] {
    auto reader = impl_->stub->StreamIsActive(ctx, impl_->ref);
    externalscaler::IsActiveResponse msg;
    while (reader->Read(&msg)) {
      active_.store(msg.result());
      pushes_.fetch_add(1);
    }
    reader->Finish();
  });
}

}  // namespace aa::closedloop
