#include "prometheus/client.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "net/client.h"
#include "net/url.h"
#include "prometheus/answer_sizes.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/parser.h"
#include "prometheus/registry.h"

namespace aa::prom {
namespace {

enum class Endpoint { kQuery = 0, kSeries = 1, kLabelValues = 2, kQueryRange = 3 };
constexpr std::array<const char*, 4> kEndpointNames = {"query", "series", "label_values",
                                                       "query_range"};

enum class Outcome {
  kSuccess = 0,
  kHttp,
  kNetwork,
  kTimeout,
  kParse,
  kQuery,
  kTooLarge,
  kWarnings
};
constexpr std::array<const char*, 8> kOutcomeNames = {
    "success",     "error_http",  "error_network",   "error_timeout",
    "error_parse", "error_query", "error_too_large", "error_warnings"};

// What became of a success answer with warnings.
constexpr std::array<const char*, 2> kWarningActionNames = {"rejected", "accepted"};

// Self-metrics, one struct built once per client from the registry. Counted per HTTP attempt, so
// retries show.
struct ClientMetrics {
  // Several clients (backends) register the same families in one registry: prometheus-cpp hands
  // back the existing family, and each client adds its own children, labelled backend=`backend`.
  ClientMetrics(prometheus::Registry& registry, const std::string& backend) {
    auto& requests =
        prometheus::BuildCounter()
            .Name("autoscale_adapter_prometheus_requests_total")
            .Help("HTTP requests to Prometheus, by API endpoint and outcome (each retry counts).")
            .Register(registry);
    auto& duration = prometheus::BuildHistogram()
                         .Name("autoscale_adapter_prometheus_request_duration_seconds")
                         .Help("Duration of one HTTP request to Prometheus, by API endpoint.")
                         .Register(registry);
    auto& warnings =
        prometheus::BuildCounter()
            .Name("autoscale_adapter_prometheus_warnings_total")
            .Help(
                "Prometheus success answers that carried warnings (a partial response), by API "
                "endpoint and whether they were rejected or accepted (prometheus.acceptWarnings).")
            .Register(registry);
    for (size_t e = 0; e < kEndpointNames.size(); ++e) {
      for (size_t a = 0; a < kWarningActionNames.size(); ++a) {
        warnings_total[e][a] = &warnings.Add({{"backend", backend},
                                              {"endpoint", kEndpointNames[e]},
                                              {"action", kWarningActionNames[a]}});
      }
      for (size_t o = 0; o < kOutcomeNames.size(); ++o) {
        requests_total[e][o] = &requests.Add(
            {{"backend", backend}, {"endpoint", kEndpointNames[e]}, {"outcome", kOutcomeNames[o]}});
      }
      duration_seconds[e] =
          &duration.Add({{"backend", backend}, {"endpoint", kEndpointNames[e]}},
                        prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5, 1, 2.5, 5, 10, 30});
    }
  }
  std::array<std::array<prometheus::Counter*, kOutcomeNames.size()>, kEndpointNames.size()>
      requests_total{};
  std::array<prometheus::Histogram*, kEndpointNames.size()> duration_seconds{};
  std::array<std::array<prometheus::Counter*, kWarningActionNames.size()>, kEndpointNames.size()>
      warnings_total{};
};

using Params = std::vector<std::pair<std::string, std::string>>;

std::string EncodeParams(const Params& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    net::AppendUrlEncoded(&out, k);
    out.push_back('=');
    net::AppendUrlEncoded(&out, v);
  }
  return out;
}

std::string TimeParam(absl::Time t) {
  int64_t ms = absl::ToUnixMillis(t);
  const char* sign = ms < 0 ? "-" : "";
  uint64_t abs_ms = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : static_cast<uint64_t>(ms);
  return absl::StrFormat("%s%d.%03d", sign, abs_ms / 1000, abs_ms % 1000);
}

// An instant or range query's answer, its warnings to `*warnings`.
absl::StatusOr<QueryResult> ParseQueryAnswer(std::string_view body,
                                             std::vector<std::string>* warnings,
                                             const LabelFilter& keep = LabelFilter()) {
  auto result = ParseQueryResponse(body, keep);
  if (result.ok()) *warnings = result->warnings;
  return result;
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& option, const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("option ", option, ": cannot read ", path, ": ", text.status().message()));
  }
  std::string s = *std::move(text);
  // Secrets are usually written with a trailing newline.
  absl::StripAsciiWhitespace(&s);
  return s;
}

absl::Status CheckReadable(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("option ", option, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string BodySnippet(const std::string& body) {
  constexpr size_t kMax = 120;
  std::string out;
  for (char c : std::string_view(body).substr(0, kMax))
    out.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  if (body.size() > kMax) out += "...";
  return out;
}

// `text` (an error answer) without the credentials of `sent`: the Authorization header's value
// and its credential part, and the values of `custom` headers (they may be secrets too). Some
// servers echo what they refused (vmauth: `cannot find the provided auth token "Basic ..."`), and
// error messages go to logs and API clients.
std::string WithoutCredentials(std::string text,
                               const std::vector<std::pair<std::string, std::string>>& sent,
                               const std::map<std::string, std::string>& custom) {
  std::vector<std::string> secrets;
  for (const auto& [k, v] : sent) {
    if (!absl::EqualsIgnoreCase(k, "Authorization")) continue;
    secrets.push_back(v);
    if (size_t space = v.find(' '); space != std::string::npos)
      secrets.push_back(v.substr(space + 1));
  }
  for (const auto& [k, v] : custom) secrets.push_back(v);
  // Longest first, so a credential's part does not break up the whole value's replacement.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;  // too short to be a secret, and would mangle the message
    absl::StrReplaceAll({{secret, "<redacted>"}}, &text);
  }
  return text;
}

// The refusal of a partial answer: its first warnings, each shortened, in one message.
absl::Status PartialAnswerError(const std::string& where,
                                const std::vector<std::string>& warnings) {
  constexpr size_t kMaxWarnings = 3;
  constexpr size_t kMaxWarningBytes = 200;
  std::string text;
  for (size_t i = 0; i < warnings.size() && i < kMaxWarnings; ++i) {
    absl::StrAppend(&text, i > 0 ? "; " : "", BodySnippet(warnings[i].substr(0, kMaxWarningBytes)));
  }
  if (warnings.size() > kMaxWarnings) {
    absl::StrAppend(&text, "; and ", warnings.size() - kMaxWarnings, " more");
  }
  return absl::UnavailableError(absl::StrCat(
      where,
      ": partial answer: Prometheus answered with warnings (prometheus.acceptWarnings is "
      "false): ",
      text));
}

// RFC 9110 token: the characters of a header name.
bool IsHttpToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool IsTransientHttpStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

struct AttemptResult {
  absl::Status status;
  Outcome outcome = Outcome::kSuccess;
  bool retryable = false;
  std::string body;  // 2xx body, on success
};

class HttpClient final : public Client {
 public:
  HttpClient(ClientOptions options, std::unique_ptr<net::Client> http,
             std::unique_ptr<ClientMetrics> metrics, std::string username, std::string password)
      : options_(std::move(options)),
        http_(std::move(http)),
        metrics_(std::move(metrics)),
        username_(std::move(username)),
        password_(std::move(password)) {
    if (!options_.sleep) options_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
    method_ = absl::AsciiStrToUpper(options_.method);
  }

  absl::StatusOr<QueryResult> Query(std::string_view promql, absl::Time at,
                                    const QueryOptions& options) override {
    return InstantQuery(promql, at, options, nullptr);
  }

  absl::StatusOr<QueryResult> QueryEach(std::string_view promql, absl::Time at,
                                        const QueryOptions& options, SampleVisitor visit) override {
    return InstantQuery(promql, at, options, &visit);
  }

  absl::StatusOr<QueryResult> QueryRange(std::string_view promql, absl::Time start, absl::Time end,
                                         absl::Duration step) override {
    if (step <= absl::ZeroDuration() || end < start) {
      return absl::InvalidArgumentError(absl::StrCat(
          "range query: the step must be positive and the end not before the start (step ",
          absl::FormatDuration(step), ")"));
    }
    Params params = {{"query", std::string(promql)},
                     {"start", TimeParam(start)},
                     {"end", TimeParam(end)},
                     // Seconds with milliseconds, as the times (Prometheus takes a float).
                     {"step", TimeParam(absl::UnixEpoch() + step)}};
    return Do<QueryResult>(Endpoint::kQueryRange, "/api/v1/query_range", params,
                           [](std::string_view body, std::vector<std::string>* warnings) {
                             return ParseQueryAnswer(body, warnings);
                           });
  }

  absl::StatusOr<std::vector<Labels>> Series(const std::vector<std::string>& matchers,
                                             absl::Time start, absl::Time end) override {
    if (matchers.empty())
      return absl::InvalidArgumentError("series: at least one match[] selector is required");
    Params params;
    for (const auto& m : matchers) params.emplace_back("match[]", m);
    if (start != absl::InfinitePast()) params.emplace_back("start", TimeParam(start));
    if (end != absl::InfiniteFuture()) params.emplace_back("end", TimeParam(end));
    return Do<std::vector<Labels>>(Endpoint::kSeries, "/api/v1/series", params,
                                   [](std::string_view body, std::vector<std::string>* warnings) {
                                     return ParseSeriesResponse(body, warnings);
                                   });
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(const std::string& label, absl::Time start,
                                                       absl::Time end) override {
    // A label name is [a-zA-Z_][a-zA-Z0-9_]*: nothing to escape in the path.
    if (label.empty() || !std::all_of(label.begin(), label.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("label values: invalid label name \"", absl::CHexEscape(label), "\""));
    }
    Params params;
    if (start != absl::InfinitePast()) params.emplace_back("start", TimeParam(start));
    if (end != absl::InfiniteFuture()) params.emplace_back("end", TimeParam(end));
    auto values = Do<std::vector<std::string>>(
        Endpoint::kLabelValues, absl::StrCat("/api/v1/label/", label, "/values"), params,
        [](std::string_view body, std::vector<std::string>* warnings) {
          return ParseLabelValuesResponse(body, warnings);
        });
    // Prometheus answers an unknown label with no values; a plain 404 is a server without this
    // endpoint.
    if (!values.ok() && values.status().code() == absl::StatusCode::kUnavailable &&
        absl::StrContains(values.status().message(), ": HTTP 404: ")) {
      return absl::UnimplementedError(values.status().message());
    }
    return values;
  }

 private:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  static bool HasHeader(const Headers& headers, std::string_view name) {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, ToAbsl(name))) return true;
    }
    return false;
  }

  bool OwnAuth() const { return !options_.bearer_token_file.empty() || !username_.empty(); }

  // A query's options, against what this client sets itself.
  absl::Status CheckQueryOptions(const QueryOptions& options) const {
    if (absl::Status s = ValidateQueryOptions(options); !s.ok()) return s;
    for (const auto& [name, value] : options.headers) {
      bool configured = false;
      for (const auto& [k, v] : options_.headers) configured |= absl::EqualsIgnoreCase(k, name);
      if (configured || (OwnAuth() && absl::EqualsIgnoreCase(name, "Authorization"))) {
        return absl::InvalidArgumentError(
            absl::StrCat("header ", name,
                         ": set by the backend's configuration; a query may add headers but not "
                         "replace the backend's"));
      }
    }
    return absl::OkStatus();
  }

  // Re-read per call: tokens and passwords rotate. `extra` (checked by CheckQueryOptions) comes
  // after the configured headers and before the defaults it may replace (Accept, User-Agent).
  absl::StatusOr<Headers> BuildHeaders(const Headers& extra) const {
    Headers headers;
    bool own_auth = OwnAuth();
    for (const auto& [k, v] : options_.headers) {
      if (own_auth && absl::EqualsIgnoreCase(k, "Authorization")) continue;
      headers.emplace_back(k, v);
    }
    headers.insert(headers.end(), extra.begin(), extra.end());
    if (!HasHeader(headers, "Accept")) headers.emplace_back("Accept", "application/json");
    if (!HasHeader(headers, "User-Agent")) headers.emplace_back("User-Agent", "autoscale-adapter");
    if (!options_.bearer_token_file.empty()) {
      auto token = ReadSecretFile("bearer_token_file", options_.bearer_token_file);
      if (!token.ok()) return token.status();
      headers.emplace_back("Authorization", absl::StrCat("Bearer ", *token));
    } else if (!username_.empty()) {
      std::string password = password_;
      if (!options_.basic_auth_password_file.empty()) {
        auto p = ReadSecretFile("basic_auth_password_file", options_.basic_auth_password_file);
        if (!p.ok()) return p.status();
        password = *std::move(p);
      }
      headers.emplace_back(
          "Authorization",
          absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(username_, ":", password))));
    }
    return headers;
  }

  absl::Duration Backoff(int retry) {
    absl::Duration d = options_.retry_backoff * (int64_t{1} << std::min(retry, 20));
    d = std::min(d, absl::Seconds(30));
    // "Equal jitter": half fixed, half random, so concurrent retries spread out but never wait ~0.
    double r;
    {
      absl::MutexLock lock(&rng_mu_);
      r = absl::Uniform(rng_, 0.0, 1.0);
    }
    return d / 2 + (d / 2) * r;
  }

  void RecordWarnings(Endpoint ep, bool accepted) {
    if (metrics_ == nullptr) return;
    metrics_->warnings_total[static_cast<size_t>(ep)][accepted ? 1 : 0]->Increment();
  }

  void Record(Endpoint ep, Outcome outcome, absl::Duration elapsed) {
    if (metrics_ == nullptr) return;
    metrics_->requests_total[static_cast<size_t>(ep)][static_cast<size_t>(outcome)]->Increment();
    metrics_->duration_seconds[static_cast<size_t>(ep)]->Observe(absl::ToDoubleSeconds(elapsed));
  }

  template <typename T>
  absl::StatusOr<T> Do(
      Endpoint ep, std::string_view api_path, const Params& params,
      absl::FunctionRef<absl::StatusOr<T>(std::string_view, std::vector<std::string>* warnings)>
          parse,
      const Headers& extra_headers = {}, absl::Duration timeout = absl::ZeroDuration()) {
    if (timeout <= absl::ZeroDuration()) timeout = options_.timeout;
    auto headers = BuildHeaders(extra_headers);
    if (!headers.ok()) return headers.status();
    std::string encoded = EncodeParams(params);
    // Prometheus serves /api/v1/label/<name>/values on GET only (POST: 405); its parameters
    // (start, end) are short, so method POST applies to query and series.
    bool post = ep != Endpoint::kLabelValues &&
                (method_ == "POST" ||
                 (method_ == "AUTO" && encoded.size() > options_.post_threshold_bytes));
    std::string where = absl::StrCat(http_->url().Redacted(), ToAbsl(api_path));
    net::Request req;
    req.headers = *std::move(headers);
    req.max_body_bytes = options_.max_response_bytes;
    const size_t size_key = AnswerSizes::Key(api_path, params);
    req.expected_body_bytes = answer_sizes_.Expect(size_key);
    if (post) {
      req.method = "POST";
      req.target = std::string(api_path);
      req.body = encoded;
      req.content_type = "application/x-www-form-urlencoded";
    } else {
      req.target =
          encoded.empty() ? std::string(api_path) : absl::StrCat(ToAbsl(api_path), "?", encoded);
    }
    absl::Status last;
    int attempts = 0;
    for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
      if (attempt > 0) options_.sleep(Backoff(attempt - 1));
      ++attempts;
      absl::Time start = absl::Now();
      AttemptResult r = Attempt(req, where, start, timeout);
      if (r.status.ok()) {
        answer_sizes_.Record(size_key, r.body.size());
        std::vector<std::string> warnings;
        absl::StatusOr<T> parsed = parse(r.body, &warnings);
        if (parsed.ok() && !warnings.empty()) {
          RecordWarnings(ep, options_.accept_warnings);
          if (!options_.accept_warnings) {
            Record(ep, Outcome::kWarnings, absl::Now() - start);
            return PartialAnswerError(where, warnings);
          }
        }
        if (parsed.ok()) {
          Record(ep, Outcome::kSuccess, absl::Now() - start);
          return parsed;
        }
        if (auto api = ExtractApiError(r.body); api.has_value()) {
          r.outcome = Outcome::kQuery;
          r.status = absl::Status(api->code(), absl::StrCat(where, ": ", api->message()));
        } else {
          r.outcome = Outcome::kParse;
          r.status = absl::UnavailableError(
              absl::StrCat(where, ": not a Prometheus API answer: ", parsed.status().message()));
        }
        r.retryable = false;
      }
      Record(ep, r.outcome, absl::Now() - start);
      last = r.status;
      if (!r.retryable) break;
    }
    if (attempts > 1) {
      return absl::Status(last.code(),
                          absl::StrCat(last.message(), " (after ", attempts, " attempts)"));
    }
    return last;
  }

  // One HTTP attempt (the transport itself sends a request again once when it met a stale
  // kept-alive connection: that is still one attempt here).
  AttemptResult Attempt(net::Request req, const std::string& where, absl::Time start,
                        absl::Duration timeout) {
    AttemptResult out;
    req.deadline = start + timeout;
    req.read_timeout = timeout;  // the deadline is checked as bytes arrive; this bounds the wait
    net::Result result = http_->Send(req);
    switch (result.failure) {
      case net::Failure::kNone:
        break;
      case net::Failure::kTooLarge:
        out.status = absl::ResourceExhaustedError(absl::StrCat(
            where, ": answer larger than max_response_bytes (", options_.max_response_bytes,
            " bytes)", result.detail.empty() ? "" : absl::StrCat("; ", result.detail)));
        out.outcome = Outcome::kTooLarge;
        return out;
      case net::Failure::kTimeout:
        out.status = absl::DeadlineExceededError(
            absl::StrCat(where, ": no answer within ", absl::FormatDuration(timeout)));
        out.outcome = Outcome::kTimeout;
        out.retryable = true;
        return out;
      case net::Failure::kTlsVerification:
        out.status = absl::UnavailableError(absl::StrCat(
            where,
            ": request failed: TLS server certificate verification failed: ", result.detail));
        out.outcome = Outcome::kNetwork;
        return out;
      default:
        out.status =
            absl::UnavailableError(absl::StrCat(where, ": request failed: ", result.detail));
        out.outcome = Outcome::kNetwork;
        out.retryable = true;
        return out;
    }
    const int status = result.response.status;
    std::string& body = result.response.body;
    if (status >= 200 && status < 300) {
      out.body = std::move(body);
      return out;
    }
    out.retryable = IsTransientHttpStatus(status);
    body = WithoutCredentials(std::move(body), req.headers, options_.headers);
    if (auto api = ExtractApiError(body); api.has_value()) {
      out.status =
          absl::Status(api->code(), absl::StrCat(where, ": HTTP ", status, ": ", api->message()));
      out.outcome = Outcome::kQuery;
      return out;
    }
    out.status =
        absl::UnavailableError(absl::StrCat(where, ": HTTP ", status, ": ", BodySnippet(body)));
    out.outcome = Outcome::kHttp;
    return out;
  }

  // `/api/v1/query`; an instant vector's elements to `*visit` when it is not null (QueryEach).
  absl::StatusOr<QueryResult> InstantQuery(std::string_view promql, absl::Time at,
                                           const QueryOptions& options,
                                           const SampleVisitor* visit) {
    if (absl::Status s = CheckQueryOptions(options); !s.ok()) return s;
    Params params = {{"query", std::string(promql)}};
    if (at != absl::InfinitePast()) params.emplace_back("time", TimeParam(at));
    params.insert(params.end(), options.params.begin(), options.params.end());
    const LabelFilter& keep = options.keep_labels;
    return Do<QueryResult>(
        Endpoint::kQuery, "/api/v1/query", params,
        [&keep, visit](std::string_view body, std::vector<std::string>* warnings) {
          if (visit == nullptr) return ParseQueryAnswer(body, warnings, keep);
          auto result = ParseQueryResponse(body, keep, ParseSizes(), *visit);
          if (result.ok()) *warnings = result->warnings;
          return result;
        },
        options.headers, options.timeout);
  }

  ClientOptions options_;
  std::unique_ptr<net::Client> http_;
  std::unique_ptr<ClientMetrics> metrics_;
  std::string method_;
  const std::string username_;
  const std::string password_;
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
  AnswerSizes answer_sizes_;  // room reserved for the body of a request sent before
};

}  // namespace

absl::StatusOr<QueryResult> Client::QueryEach(std::string_view promql, absl::Time at,
                                              const QueryOptions& options, SampleVisitor visit) {
  absl::StatusOr<QueryResult> result = Query(promql, at, options);
  if (!result.ok() || result->type != ResultType::kVector) return result;
  std::vector<std::pair<std::string_view, std::string_view>> labels;
  for (const Sample& sample : result->samples) {
    labels.assign(sample.labels.begin(), sample.labels.end());
    visit(SampleRef{labels, sample.value, sample.timestamp_ms});
  }
  result->samples.clear();
  return result;
}

absl::Status ValidateQueryOptions(const QueryOptions& options) {
  for (const auto& [name, value] : options.params) {
    if (name.empty()) return absl::InvalidArgumentError("query parameter: empty name");
    if (name == "query" || name == "time") {
      return absl::InvalidArgumentError(absl::StrCat(
          "query parameter ", name, ": set by the adapter itself (the query and its time)"));
    }
  }
  // Headers that frame the request or belong to the transport, never a query's to set.
  static constexpr std::string_view kReserved[] = {
      "Host",       "Content-Length", "Content-Type",     "Transfer-Encoding",
      "Connection", "Upgrade",        "Keep-Alive",       "TE",
      "Trailer",    "Expect",         "Proxy-Connection", "Proxy-Authorization"};
  for (const auto& [name, value] : options.headers) {
    if (!IsHttpToken(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("header \"", absl::CHexEscape(name), "\": not a valid HTTP header name"));
    }
    for (std::string_view r : kReserved) {
      if (absl::EqualsIgnoreCase(name, ToAbsl(r))) {
        return absl::InvalidArgumentError(
            absl::StrCat("header ", name, ": reserved for the HTTP transport"));
      }
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("header ", name, ": the value contains CR, LF or NUL"));
    }
  }
  if (options.timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("query timeout: must not be negative");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Client>> NewHttpClient(ClientOptions options) {
  auto url = net::ParseUrl(options.url);
  if (!url.ok()) {
    // The URL may carry credentials: the message names the fault, not the URL.
    return absl::InvalidArgumentError(absl::StrCat("option url: ", url.status().message()));
  }
  std::string method = absl::AsciiStrToUpper(options.method);
  if (method != "GET" && method != "POST" && method != "AUTO") {
    return absl::InvalidArgumentError(
        absl::StrCat("option method: \"", options.method, "\" is not GET, POST or auto"));
  }
  if (options.timeout <= absl::ZeroDuration())
    return absl::InvalidArgumentError("option timeout: must be positive");
  if (options.max_retries < 0)
    return absl::InvalidArgumentError("option max_retries: must not be negative");
  if (options.retry_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("option retry_backoff: must not be negative");
  }
  if (options.max_response_bytes == 0)
    return absl::InvalidArgumentError("option max_response_bytes: must be positive");
  if (!options.bearer_token_file.empty()) {
    if (!options.basic_auth_username.empty() || !url->username.empty()) {
      return absl::InvalidArgumentError(
          "options bearer_token_file and basic auth are mutually exclusive");
    }
    if (auto s = CheckReadable("bearer_token_file", options.bearer_token_file); !s.ok()) return s;
  }
  if (!options.basic_auth_password_file.empty()) {
    if (options.basic_auth_username.empty()) {
      return absl::InvalidArgumentError(
          "option basic_auth_password_file: needs basic_auth_username");
    }
    if (auto s = CheckReadable("basic_auth_password_file", options.basic_auth_password_file);
        !s.ok())
      return s;
  }
  const TlsOptions& tls = options.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "options tls.cert_file and tls.key_file: set both or neither");
  }
  if (!tls.cert_file.empty()) {
    if (auto s = CheckReadable("tls.cert_file", tls.cert_file); !s.ok()) return s;
    if (auto s = CheckReadable("tls.key_file", tls.key_file); !s.ok()) return s;
  }
  if (!tls.ca_file.empty()) {
    if (auto s = CheckReadable("tls.ca_file", tls.ca_file); !s.ok()) return s;
  }
  if (!url->https && (!tls.ca_file.empty() || !tls.cert_file.empty() || tls.insecure_skip_verify)) {
    LogWarn("prometheus: TLS options are ignored for an http:// URL", {{"url", url->Redacted()}});
  }
  if (url->https && tls.insecure_skip_verify) {
    LogWarn("prometheus: TLS certificate verification is disabled (insecure_skip_verify)",
            {{"url", url->Redacted()}});
  }
  net::ClientOptions transport;
  transport.url = options.url;
  transport.timeout = options.timeout;
  transport.max_idle_connections = 8;
  transport.name = "prometheus";
  transport.proxy = options.proxy;
  transport.tls.ca_file = tls.ca_file;
  transport.tls.cert_file = tls.cert_file;
  transport.tls.key_file = tls.key_file;
  transport.tls.server_name = tls.server_name;
  transport.tls.insecure_skip_verify = tls.insecure_skip_verify;
  auto http = net::Client::Create(std::move(transport));
  if (!http.ok()) {
    std::string_view why = FromAbsl(http.status().message());
    if (absl::StartsWith(ToAbsl(why), "tls: ")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "options tls.ca_file/tls.cert_file/tls.key_file: cannot load ", ToAbsl(why.substr(5))));
    }
    return absl::InvalidArgumentError(absl::StrCat("option ", http.status().message()));
  }
  std::unique_ptr<ClientMetrics> metrics;
  if (options.registry != nullptr) {
    try {
      metrics = std::make_unique<ClientMetrics>(*options.registry, options.name);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("option registry: cannot register metrics: ", e.what()));
    }
  }
  std::string username =
      options.basic_auth_username.empty() ? url->username : options.basic_auth_username;
  std::string password =
      options.basic_auth_username.empty() ? url->password : options.basic_auth_password;
  return std::make_unique<HttpClient>(std::move(options), *std::move(http), std::move(metrics),
                                      std::move(username), std::move(password));
}

}  // namespace aa::prom
