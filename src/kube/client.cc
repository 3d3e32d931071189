#include "kube/client.h"

#include <sys/stat.h>

#include <exception>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/file.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "kube/client_metrics.h"
#include "kube/json_fields.h"
#include "net/url.h"

namespace aa::kube {
namespace {

constexpr char kHttpStatusPayload[] = "aa.kube/http-status";
constexpr size_t kMaxBodyBytes = 64 << 20;
constexpr size_t kMaxWatchLineBytes = 16 << 20;

std::string Snippet(std::string_view body) {
  std::string s(body.substr(0, 200));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (body.size() > 200) s += "...";
  return s;
}

absl::StatusCode CodeForHttp(int http) {
  switch (http) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return http >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

absl::Status WithHttpStatus(absl::Status status, int http) {
  status.SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(http)));
  return status;
}

// The message of a metav1.Status body, or nullopt.
std::optional<std::string> StatusMessage(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (JsonString(j, "kind") != "Status") return std::nullopt;
  const nlohmann::json* message = JsonField(j, "message");
  if (message == nullptr || !message->is_string()) return JsonString(j, "reason");
  return message->get<std::string>();
}

// ---- token -----------------------------------------------------------------------------------

class TokenSource {
 public:
  TokenSource(std::string token, std::string file)
      : token_(std::move(token)), file_(std::move(file)) {}

  // The token to send; re-reads the file when it changed (or when `force`).
  absl::StatusOr<std::string> Get(bool force = false) {
    absl::MutexLock lock(&mu_);
    if (file_.empty()) return token_;
    struct stat st {};
    if (::stat(file_.c_str(), &st) != 0) {
      if (loaded_) return token_;  // keep the last token while the file is being swapped
      return absl::FailedPreconditionError(absl::StrCat("token file ", file_, " cannot be read"));
    }
    bool changed = !loaded_ || st.st_ino != ino_ || st.st_size != size_ ||
                   st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec;
    if (changed || force) {
      auto text = ReadFile(file_);
      if (!text.ok()) {
        if (loaded_) return token_;
        return absl::FailedPreconditionError(absl::StrCat("token file ", file_, " cannot be read"));
      }
      std::string fresh(absl::StripAsciiWhitespace(*text));
      if (loaded_ && fresh != token_)
        LogInfo("kubernetes token file changed; using the new token", {{"file", file_}});
      token_ = std::move(fresh);
      loaded_ = true;
      ino_ = st.st_ino;
      size_ = st.st_size;
      mtime_ = st.st_mtim;
    }
    return token_;
  }

  bool from_file() const { return !file_.empty(); }

 private:
  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  const std::string file_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  ino_t ino_ ABSL_GUARDED_BY(mu_) = 0;
  off_t size_ ABSL_GUARDED_BY(mu_) = 0;
  timespec mtime_ ABSL_GUARDED_BY(mu_){};
};

}  // namespace

int HttpStatusOf(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpStatusPayload);
  int code = 0;
  if (payload.has_value() && absl::SimpleAtoi(std::string(*payload), &code)) return code;
  return 0;
}

bool IsGone(const absl::Status& status) { return HttpStatusOf(status) == 410; }

absl::Status StatusFromHttp(int http_status, std::string_view body, std::string_view what) {
  std::string detail;
  if (auto msg = StatusMessage(body); msg.has_value()) {
    detail = *msg;
  } else {
    detail = Snippet(body);
  }
  return WithHttpStatus(
      absl::Status(CodeForHttp(http_status), absl::StrCat(ToAbsl(what), ": HTTP ", http_status,
                                                          detail.empty() ? "" : ": ", detail)),
      http_status);
}

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  WatchEvent event;
  event.type = JsonString(j, "type");
  if (event.type.empty()) {
    return absl::InternalError(absl::StrCat("not a watch event: ", Snippet(line)));
  }
  if (auto it = j.find("object"); it != j.end()) event.object = std::move(*it);
  return event;
}

absl::Status StatusFromWatchError(const nlohmann::json& object) {
  int code = 500;
  std::string message = "watch ERROR event";
  if (object.is_object()) {
    if (auto it = object.find("code"); it != object.end() && it->is_number_integer()) {
      code = it->get<int>();
    }
    if (auto it = object.find("message"); it != object.end() && it->is_string()) {
      message = absl::StrCat("watch ERROR event: ", it->get<std::string>());
    }
  }
  return WithHttpStatus(
      absl::Status(CodeForHttp(code), absl::StrCat(message, " (code ", code, ")")), code);
}

// ---- Impl ------------------------------------------------------------------------------------

class Client::Impl {
 public:
  Impl(const ClientConfig& config, std::unique_ptr<net::Client> http)
      : config_(config), http_(std::move(http)), token_(config.token, config.token_file) {}

  // Why the request got no complete HTTP answer.
  absl::Status TransportError(const net::Result& result, std::string_view what) const {
    if (result.failure == net::Failure::kTimeout) {
      return absl::DeadlineExceededError(absl::StrCat(ToAbsl(what), ": ", result.detail));
    }
    std::string detail = result.detail;
    if (result.failure == net::Failure::kTlsVerification) {
      detail = absl::StrCat("TLS verification of the server certificate failed: ", detail);
    }
    return absl::UnavailableError(
        absl::StrCat(ToAbsl(what), ": request to ", config_.server, " failed: ", detail));
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Headers(
      bool force_token, std::string_view accept = "application/json") {
    std::vector<std::pair<std::string, std::string>> headers;
    headers.emplace_back("Accept", std::string(accept));
    headers.emplace_back("User-Agent", "autoscale-adapter");
    AA_ASSIGN_OR_RETURN(std::string token, token_.Get(force_token));
    if (!token.empty()) headers.emplace_back("Authorization", absl::StrCat("Bearer ", token));
    return headers;
  }

  absl::StatusOr<nlohmann::json> Call(const char* method, std::string_view path,
                                      const std::string* body,
                                      std::string_view accept = "application/json") {
    std::string what = absl::StrCat(method, " ", ToAbsl(path));
    net::Request req;
    req.method = method;
    req.target = std::string(path);
    req.max_body_bytes = kMaxBodyBytes;
    if (body != nullptr) {
      req.body = *body;
      req.content_type = "application/json";
    }
    bool token_retried = false;
    net::Result result;
    while (true) {
      AA_ASSIGN_OR_RETURN(req.headers, Headers(/*force_token=*/token_retried, accept));
      std::string sent_token;
      for (const auto& [k, v] : req.headers) {
        if (k == "Authorization") sent_token = v;
      }
      // The transport sends the request once more on a new connection when a kept-alive one
      // turned out closed (see "Stale connections" in client.h).
      result = http_->Send(req);
      if (result.failure == net::Failure::kTooLarge) {
        return absl::ResourceExhaustedError(
            absl::StrCat(what, ": answer larger than ", kMaxBodyBytes, " bytes"));
      }
      if (!result.ok()) return TransportError(result, what);
      if (result.response.status == 401 && !token_retried && token_.from_file()) {
        // The token may have rotated between our stat() and the server's check: re-read and retry.
        token_retried = true;
        auto fresh = token_.Get(/*force=*/true);
        if (fresh.ok() && absl::StrCat("Bearer ", *fresh) != sent_token) continue;
      }
      break;
    }
    const int status = result.response.status;
    const std::string& answer = result.response.body;
    if (status < 200 || status >= 300) return StatusFromHttp(status, answer, what);
    nlohmann::json j = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return absl::InternalError(absl::StrCat(what, ": answer is not JSON: ", Snippet(answer)));
    }
    return j;
  }

  absl::Status Watch(std::string_view path, const std::function<bool(const WatchEvent&)>& on_event,
                     WatchCancel* cancel, absl::Duration idle_timeout,
                     const std::function<void()>& on_open, std::string_view accept) {
    std::string what = absl::StrCat("watch ", ToAbsl(path));
    if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError(what);
    net::Request req;
    req.target = std::string(path);
    AA_ASSIGN_OR_RETURN(req.headers, Headers(false, accept));
    req.keep_alive = false;
    req.read_timeout = idle_timeout;
    req.cancel = cancel != nullptr ? &cancel->cancellation_ : nullptr;
    int status = 0;
    std::string error_body;
    std::string buffer;
    absl::Status stream_error;
    bool handler_stopped = false;
    req.on_head = [&](const net::Response& res) {
      status = res.status;
      if (status >= 200 && status < 300 && on_open) on_open();
      return true;
    };
    req.on_body = [&](std::string_view data) {
      if (status < 200 || status >= 300) {
        if (error_body.size() < size_t{64} * 1024) error_body.append(data);
        return true;
      }
      buffer.append(data);
      size_t start = 0;
      for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(buffer.data() + start, nl - start);
        if (absl::StripAsciiWhitespace(ToAbsl(line)).empty()) continue;
        absl::StatusOr<WatchEvent> event = ParseWatchEvent(line);
        if (!event.ok()) {
          stream_error = absl::InternalError(absl::StrCat(what, ": ", event.status().message()));
          return false;
        }
        if (!on_event(*event)) {
          handler_stopped = true;
          return false;
        }
      }
      buffer.erase(0, start);
      if (buffer.size() > kMaxWatchLineBytes) {
        stream_error = absl::ResourceExhaustedError(
            absl::StrCat(what, ": one event is larger than ", kMaxWatchLineBytes, " bytes"));
        return false;
      }
      return true;
    };
    net::Result result = http_->Send(req);
    if (handler_stopped) return absl::OkStatus();
    if (!stream_error.ok()) return stream_error;
    if (result.failure == net::Failure::kCancelled || (cancel != nullptr && cancel->cancelled())) {
      return absl::CancelledError(what);
    }
    if (!result.ok()) {
      if (status >= 200 && status < 300 && result.failure == net::Failure::kTimeout) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, ": nothing received for ", absl::FormatDuration(idle_timeout)));
      }
      if (status != 0 && (status < 200 || status >= 300)) {
        return StatusFromHttp(status, error_body, what);
      }
      return TransportError(result, what);
    }
    if (status < 200 || status >= 300) return StatusFromHttp(status, error_body, what);
    return absl::OkStatus();
  }

  TokenSource& token() { return token_; }

 private:
  const ClientConfig& config_;
  std::unique_ptr<net::Client> http_;
  TokenSource token_;
};

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientConfig config,
                                                       prometheus::Registry* registry) {
  auto url = net::ParseUrl(config.server);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("server: \"", config.server, "\": ", url.status().message()));
  }
  auto pem_of = [](const std::string& inline_pem, const std::string& file,
                   std::string_view field) -> absl::StatusOr<std::string> {
    if (!inline_pem.empty()) return inline_pem;
    if (file.empty()) return std::string();
    auto text = ReadFile(file);
    if (!text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": cannot read ", file));
    }
    return *text;
  };
  // Read once here, so that the errors name kubeconfig's fields, and handed to the transport
  // inline: the files are not watched (as client-go, a changed CA or client certificate file
  // needs a restart).
  net::ClientOptions transport;
  transport.url = config.server;
  transport.timeout = config.timeout;
  transport.name = "kubernetes";
  transport.proxy = config.proxy;
  transport.tls.server_name = config.tls_server_name;
  transport.tls.insecure_skip_verify = config.insecure_skip_tls_verify;
  AA_ASSIGN_OR_RETURN(transport.tls.ca_pem,
                      pem_of(config.ca_pem, config.ca_file, "certificate-authority"));
  if (!transport.tls.ca_pem.empty()) {
    if (auto s = net::CheckCertificatePem(transport.tls.ca_pem); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("certificate-authority: ", s.message()));
    }
  }
  AA_ASSIGN_OR_RETURN(
      transport.tls.cert_pem,
      pem_of(config.client_cert_pem, config.client_cert_file, "client-certificate"));
  AA_ASSIGN_OR_RETURN(transport.tls.key_pem,
                      pem_of(config.client_key_pem, config.client_key_file, "client-key"));
  const std::string& cert = transport.tls.cert_pem;
  const std::string& key = transport.tls.key_pem;
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("client-certificate and client-key must be given together");
  }
  if (!cert.empty()) {
    if (auto s = net::CheckCertificatePem(cert); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("client-certificate: ", s.message()));
    }
    if (auto s = net::CheckPrivateKeyPem(key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("client-key: ", s.message()));
    }
    if (!net::CheckKeyMatchesCertificate(cert, key).ok()) {
      return absl::InvalidArgumentError("client-key does not match client-certificate");
    }
  }
  if (!config.token_file.empty() && !ReadFile(config.token_file).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenFile: cannot read ", config.token_file));
  }
  if (config.insecure_skip_tls_verify && url->https) {
    LogWarn(
        "kubernetes client: TLS verification of the API server is OFF (insecure-skip-tls-verify)",
        {{"server", config.server}});
  }
  auto http = net::Client::Create(std::move(transport));
  if (!http.ok()) return http.status();
  auto client = std::unique_ptr<Client>(new Client(std::move(config), nullptr));
  client->impl_ = std::make_unique<Impl>(client->config_, *std::move(http));
  client->metrics_ = ClientMetrics::Create(registry);
  return client;
}

Client::Client(ClientConfig config, std::unique_ptr<Impl> impl)
    : config_(std::move(config)), impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<nlohmann::json> Client::GetJson(std::string_view path, std::string_view accept) {
  const absl::Time start = absl::Now();
  auto answer = impl_->Call("GET", path, nullptr, accept);
  metrics_->Observe("GET", path, answer.status(), absl::Now() - start);
  return answer;
}

absl::StatusOr<nlohmann::json> Client::PostJson(std::string_view path, const nlohmann::json& body) {
  std::string text = SafeDump(body);
  const absl::Time start = absl::Now();
  auto answer = impl_->Call("POST", path, &text);
  metrics_->Observe("POST", path, answer.status(), absl::Now() - start);
  return answer;
}

absl::Status Client::Watch(std::string_view path,
                           const std::function<bool(const WatchEvent&)>& on_event,
                           WatchCancel* cancel, absl::Duration idle_timeout,
                           const std::function<void()>& on_open, std::string_view accept) {
  return impl_->Watch(path, on_event, cancel, idle_timeout, on_open, accept);
}

absl::StatusOr<std::string> Client::CurrentToken() { return impl_->token().Get(); }

}  // namespace aa::kube
