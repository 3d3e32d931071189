// cpp-httplib stays inside .cc files (here, http/server.cc, http/client.cc, kube/client.cc and
// sim/server.cc): no header of the project includes httplib.h.
#include "prometheus/client.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/parser.h"
#include "prometheus/registry.h"

namespace aa::prom {
namespace {

enum class Endpoint { kQuery = 0, kSeries = 1 };
constexpr std::array<const char*, 2> kEndpointNames = {"query", "series"};

enum class Outcome { kSuccess = 0, kHttp, kNetwork, kTimeout, kParse, kQuery, kTooLarge };
constexpr std::array<const char*, 7> kOutcomeNames = {
    "success",     "error_http",  "error_network",  "error_timeout",
    "error_parse", "error_query", "error_too_large"};

// Self-metrics, one struct built once per client from the registry. Counted per HTTP attempt, so
// retries show.
struct ClientMetrics {
  explicit ClientMetrics(prometheus::Registry& registry) {
    auto& requests =
        prometheus::BuildCounter()
            .Name("autoscale_adapter_prometheus_requests_total")
            .Help("HTTP requests to Prometheus, by API endpoint and outcome (each retry counts).")
            .Register(registry);
    auto& duration = prometheus::BuildHistogram()
                         .Name("autoscale_adapter_prometheus_request_duration_seconds")
                         .Help("Duration of one HTTP request to Prometheus, by API endpoint.")
                         .Register(registry);
    for (size_t e = 0; e < kEndpointNames.size(); ++e) {
      for (size_t o = 0; o < kOutcomeNames.size(); ++o) {
        requests_total[e][o] =
            &requests.Add({{"endpoint", kEndpointNames[e]}, {"outcome", kOutcomeNames[o]}});
      }
      duration_seconds[e] =
          &duration.Add({{"endpoint", kEndpointNames[e]}},
                        prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5, 1, 2.5, 5, 10, 30});
    }
  }
  std::array<std::array<prometheus::Counter*, kOutcomeNames.size()>, kEndpointNames.size()>
      requests_total{};
  std::array<prometheus::Histogram*, kEndpointNames.size()> duration_seconds{};
};

struct ParsedUrl {
  bool https = false;
  std::string host;  // without brackets for IPv6
  int port = 0;
  std::string prefix;  // "" or "/a/b", no trailing slash
  std::string username;
  std::string password;
  std::string redacted;  // scheme://host:port/prefix, no credentials
};

absl::StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl out;
  auto bad = [&](std::string_view why) {
    // The URL may carry credentials: name it only up to the scheme.
    return absl::InvalidArgumentError(absl::StrCat("option url: ", ToAbsl(why)));
  };
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return bad("must start with http:// or https://");
  std::string scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https")
    return bad(absl::StrCat("unsupported scheme \"", scheme, "\""));
  out.https = scheme == "https";
  std::string rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string::npos)
    return bad("must not have a query or fragment");
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  if (size_t at = authority.rfind('@'); at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    out.username = userinfo.substr(0, colon);
    if (colon != std::string::npos) out.password = userinfo.substr(colon + 1);
  }
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unterminated IPv6 address");
    out.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("missing host");
  if (out.host.find_first_of(" \t\r\n/") != std::string::npos) return bad("invalid host");
  out.port = out.https ? 443 : 80;
  if (!port_text.empty() &&
      (!absl::SimpleAtoi(port_text, &out.port) || out.port <= 0 || out.port > 65535)) {
    return bad(absl::StrCat("invalid port \"", port_text, "\""));
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  out.prefix = path;
  bool v6 = out.host.find(':') != std::string::npos;
  out.redacted = absl::StrCat(scheme, "://", v6 ? "[" : "", out.host, v6 ? "]" : "", ":", out.port,
                              out.prefix);
  return out;
}

// Percent-encoding of everything but RFC 3986 unreserved characters; valid both in a query string
// and in an application/x-www-form-urlencoded body.
void AppendEncoded(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

using Params = std::vector<std::pair<std::string, std::string>>;

std::string EncodeParams(const Params& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    AppendEncoded(&out, k);
    out.push_back('=');
    AppendEncoded(&out, v);
  }
  return out;
}

std::string TimeParam(absl::Time t) {
  int64_t ms = absl::ToUnixMillis(t);
  const char* sign = ms < 0 ? "-" : "";
  uint64_t abs_ms = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : static_cast<uint64_t>(ms);
  return absl::StrFormat("%s%d.%03d", sign, abs_ms / 1000, abs_ms % 1000);
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("option ", option, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
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

bool IsTransientHttpStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

// Resolves `host` to one numeric address, for httplib's address map (used when tls.server_name
// differs from the URL's host: the connection goes to the URL's host, TLS checks server_name).
std::string ResolveNumeric(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return host;
  char buf[NI_MAXHOST];
  std::string out = host;
  if (getnameinfo(res->ai_addr, res->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) == 0)
    out = buf;
  freeaddrinfo(res);
  return out;
}

struct AttemptResult {
  absl::Status status;
  Outcome outcome = Outcome::kSuccess;
  bool retryable = false;
  std::string body;  // 2xx body, on success
};

class HttpClient final : public Client {
 public:
  HttpClient(ClientOptions options, ParsedUrl url, std::unique_ptr<ClientMetrics> metrics)
      : options_(std::move(options)), url_(std::move(url)), metrics_(std::move(metrics)) {
    if (!options_.sleep) options_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
    method_ = absl::AsciiStrToUpper(options_.method);
    if (url_.https && !options_.tls.server_name.empty() && options_.tls.server_name != url_.host) {
      connect_host_ = options_.tls.server_name;
    } else {
      connect_host_ = url_.host;
    }
  }

  // Builds one httplib client; NewHttpClient uses it to check the TLS files once.
  absl::StatusOr<std::unique_ptr<httplib::Client>> MakeHttp() const {
    bool v6 = connect_host_.find(':') != std::string::npos;
    std::string base = absl::StrCat(url_.https ? "https://" : "http://", v6 ? "[" : "",
                                    connect_host_, v6 ? "]" : "", ":", url_.port);
    std::unique_ptr<httplib::Client> cli;
    try {
      cli = std::make_unique<httplib::Client>(base, options_.tls.cert_file, options_.tls.key_file);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("option url: ", e.what()));
    }
    if (!cli->is_valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat("options tls.cert_file/tls.key_file: cannot load ", options_.tls.cert_file,
                       " and ", options_.tls.key_file));
    }
    auto t = absl::ToChronoMicroseconds(options_.timeout);
    cli->set_connection_timeout(t);
    cli->set_read_timeout(t);
    cli->set_write_timeout(t);
    cli->set_keep_alive(true);
    // The request line and headers, and a form body, go out in separate writes: no Nagle delay
    // between them.
    cli->set_tcp_nodelay(true);
    cli->set_url_encode(false);  // paths are encoded here
    cli->set_follow_location(false);
    if (url_.https) {
      if (!options_.tls.ca_file.empty()) cli->set_ca_cert_path(options_.tls.ca_file);
      cli->enable_server_certificate_verification(!options_.tls.insecure_skip_verify);
    }
    if (connect_host_ != url_.host) {
      cli->set_hostname_addr_map({{connect_host_, ResolveNumeric(url_.host)}});
    }
    return cli;
  }

  void SetBasicAuth(std::string username, std::string password) {
    username_ = std::move(username);
    password_ = std::move(password);
  }

  void AddToPool(std::unique_ptr<httplib::Client> cli) {
    std::lock_guard lock(pool_mu_);
    if (pool_.size() < kMaxIdle) pool_.push_back(std::move(cli));
  }

  absl::StatusOr<QueryResult> Query(std::string_view promql, absl::Time at) override {
    Params params = {{"query", std::string(promql)}};
    if (at != absl::InfinitePast()) params.emplace_back("time", TimeParam(at));
    return Do<QueryResult>(Endpoint::kQuery, "/api/v1/query", params, &ParseQueryResponse);
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
                                   &ParseSeriesResponse);
  }

 private:
  static constexpr size_t kMaxIdle = 8;

  absl::StatusOr<std::unique_ptr<httplib::Client>> Acquire() {
    {
      std::lock_guard lock(pool_mu_);
      if (!pool_.empty()) {
        auto cli = std::move(pool_.back());
        pool_.pop_back();
        return cli;
      }
    }
    return MakeHttp();
  }

  // Re-read per call: tokens and passwords rotate.
  absl::StatusOr<httplib::Headers> BuildHeaders() const {
    httplib::Headers headers;
    for (const auto& [k, v] : options_.headers) headers.emplace(k, v);
    // httplib::Headers compares names case-insensitively.
    if (headers.find("Accept") == headers.end()) headers.emplace("Accept", "application/json");
    if (headers.find("User-Agent") == headers.end()) {
      headers.emplace("User-Agent", "autoscale-adapter");
    }
    if (!options_.bearer_token_file.empty() || !username_.empty()) headers.erase("Authorization");
    if (connect_host_ != url_.host) {
      bool v6 = url_.host.find(':') != std::string::npos;
      headers.emplace("Host",
                      absl::StrCat(v6 ? "[" : "", url_.host, v6 ? "]" : "", ":", url_.port));
    }
    if (!options_.bearer_token_file.empty()) {
      auto token = ReadSecretFile("bearer_token_file", options_.bearer_token_file);
      if (!token.ok()) return token.status();
      headers.emplace("Authorization", absl::StrCat("Bearer ", *token));
    } else if (!username_.empty()) {
      std::string password = password_;
      if (!options_.basic_auth_password_file.empty()) {
        auto p = ReadSecretFile("basic_auth_password_file", options_.basic_auth_password_file);
        if (!p.ok()) return p.status();
        password = *std::move(p);
      }
      headers.emplace(
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
      std::lock_guard lock(rng_mu_);
      r = absl::Uniform(rng_, 0.0, 1.0);
    }
    return d / 2 + (d / 2) * r;
  }

  void Record(Endpoint ep, Outcome outcome, absl::Duration elapsed) {
    if (metrics_ == nullptr) return;
    metrics_->requests_total[static_cast<size_t>(ep)][static_cast<size_t>(outcome)]->Increment();
    metrics_->duration_seconds[static_cast<size_t>(ep)]->Observe(absl::ToDoubleSeconds(elapsed));
  }

  template <typename T>
  absl::StatusOr<T> Do(Endpoint ep, std::string_view api_path, const Params& params,
                       absl::StatusOr<T> (*parse)(std::string_view)) {
    auto headers = BuildHeaders();
    if (!headers.ok()) return headers.status();
    std::string encoded = EncodeParams(params);
    bool post =
        method_ == "POST" || (method_ == "AUTO" && encoded.size() > options_.post_threshold_bytes);
    std::string path = absl::StrCat(url_.prefix, ToAbsl(api_path));
    std::string where = absl::StrCat(url_.redacted, ToAbsl(api_path));
    absl::Status last;
    int attempts = 0;
    for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
      if (attempt > 0) options_.sleep(Backoff(attempt - 1));
      ++attempts;
      absl::Time start = absl::Now();
      AttemptResult r = Attempt(*headers, path, where, post, encoded, start);
      if (r.status.ok()) {
        absl::StatusOr<T> parsed = parse(r.body);
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

  AttemptResult Attempt(const httplib::Headers& headers, const std::string& path,
                        const std::string& where, bool post, const std::string& encoded,
                        absl::Time start) {
    AttemptResult out;
    auto cli_or = Acquire();
    if (!cli_or.ok()) {
      out.status = cli_or.status();
      out.outcome = Outcome::kNetwork;
      return out;
    }
    std::unique_ptr<httplib::Client> cli = *std::move(cli_or);
    httplib::Request req;
    req.headers = headers;
    if (post) {
      req.method = "POST";
      req.path = path;
      req.body = encoded;
      req.set_header("Content-Type", "application/x-www-form-urlencoded");
    } else {
      req.method = "GET";
      req.path = encoded.empty() ? path : absl::StrCat(path, "?", encoded);
    }
    const size_t max = options_.max_response_bytes;
    const absl::Time deadline = start + options_.timeout;
    bool too_large = false;
    bool deadline_hit = false;
    uint64_t declared = 0;
    std::string body;
    req.response_handler = [&](const httplib::Response& res) {
      if (res.has_header("Content-Length") &&
          absl::SimpleAtoi(res.get_header_value("Content-Length"), &declared)) {
        if (declared > max) {
          too_large = true;
          return false;
        }
        body.reserve(declared);
      }
      return true;
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      if (body.size() + len > max) {
        too_large = true;
        return false;
      }
      if (absl::Now() > deadline) {
        deadline_hit = true;
        return false;
      }
      body.append(data, len);
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    bool sent = false;
    try {
      sent = cli->send(req, res, err);
    } catch (const std::exception& e) {
      err = httplib::Error::Unknown;
    }
    absl::Duration elapsed = absl::Now() - start;
    if (!sent) {
      if (too_large) {
        out.status = absl::ResourceExhaustedError(
            absl::StrCat(where, ": answer larger than max_response_bytes (", max, " bytes)",
                         declared > max ? absl::StrCat("; Content-Length ", declared) : ""));
        out.outcome = Outcome::kTooLarge;
        return out;
      }
      bool timed_out = deadline_hit || err == httplib::Error::ConnectionTimeout ||
                       ((err == httplib::Error::Read || err == httplib::Error::Write) &&
                        elapsed >= options_.timeout * 0.9);
      if (timed_out) {
        out.status = absl::DeadlineExceededError(
            absl::StrCat(where, ": no answer within ", absl::FormatDuration(options_.timeout)));
        out.outcome = Outcome::kTimeout;
        out.retryable = true;
        return out;
      }
      std::string detail = httplib::to_string(err);
      if (err == httplib::Error::SSLServerVerification) {
        long v = cli->get_openssl_verify_result();
        detail = absl::StrCat("TLS server certificate verification failed",
                              v != 0 ? absl::StrCat(": ", X509_verify_cert_error_string(v)) : "");
      }
      out.status = absl::UnavailableError(absl::StrCat(where, ": request failed: ", detail));
      out.outcome = Outcome::kNetwork;
      out.retryable =
          err != httplib::Error::SSLServerVerification && err != httplib::Error::SSLLoadingCerts;
      return out;
    }
    AddToPool(std::move(cli));
    if (res.status >= 200 && res.status < 300) {
      out.body = std::move(body);
      return out;
    }
    out.retryable = IsTransientHttpStatus(res.status);
    if (auto api = ExtractApiError(body); api.has_value()) {
      out.status = absl::Status(api->code(),
                                absl::StrCat(where, ": HTTP ", res.status, ": ", api->message()));
      out.outcome = Outcome::kQuery;
      return out;
    }
    out.status =
        absl::UnavailableError(absl::StrCat(where, ": HTTP ", res.status, ": ", BodySnippet(body)));
    out.outcome = Outcome::kHttp;
    return out;
  }

  ClientOptions options_;
  ParsedUrl url_;
  std::unique_ptr<ClientMetrics> metrics_;
  std::string method_;
  std::string connect_host_;
  std::string username_;
  std::string password_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<httplib::Client>> pool_;
  std::mutex rng_mu_;
  absl::BitGen rng_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> NewHttpClient(ClientOptions options) {
  auto url = ParseUrl(options.url);
  if (!url.ok()) return url.status();
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
    LogWarn("prometheus: TLS options are ignored for an http:// URL", {{"url", url->redacted}});
  }
  if (url->https && tls.insecure_skip_verify) {
    LogWarn("prometheus: TLS certificate verification is disabled (insecure_skip_verify)",
            {{"url", url->redacted}});
  }
  std::unique_ptr<ClientMetrics> metrics;
  if (options.registry != nullptr) {
    try {
      metrics = std::make_unique<ClientMetrics>(*options.registry);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("option registry: cannot register metrics: ", e.what()));
    }
  }
  std::string username =
      options.basic_auth_username.empty() ? url->username : options.basic_auth_username;
  std::string password =
      options.basic_auth_username.empty() ? url->password : options.basic_auth_password;
  auto client =
      std::make_unique<HttpClient>(std::move(options), *std::move(url), std::move(metrics));
  client->SetBasicAuth(std::move(username), std::move(password));
  // One connection object up front checks the client certificate and key.
  auto http = client->MakeHttp();
  if (!http.ok()) return http.status();
  client->AddToPool(*std::move(http));
  return client;
}

}  // namespace aa::prom
