#include "kube/client.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <exception>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "kube/client_metrics.h"

namespace aa::kube {
namespace {

constexpr char kHttpStatusPayload[] = "aa.kube/http-status";
constexpr size_t kMaxBodyBytes = 64 << 20;
constexpr size_t kMaxWatchLineBytes = 16 << 20;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

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
  if (!j.is_object() || j.value("kind", "") != "Status") return std::nullopt;
  auto it = j.find("message");
  if (it == j.end() || !it->is_string()) return std::string(j.value("reason", ""));
  return it->get<std::string>();
}

// ---- TLS -------------------------------------------------------------------------------------

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct StoreDeleter {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

std::vector<X509Ptr> ParseCerts(const std::string& pem) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the loop ends with a "no start line" error
  return out;
}

KeyPtr ParseKey(const std::string& pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

// PEM material resolved once at Create (files read then: a CA or client certificate file that
// changes later needs a restart, like client-go).
struct TlsMaterial {
  std::vector<X509Ptr> ca;     // empty: system trust store
  std::vector<X509Ptr> chain;  // client certificate first, then intermediates
  KeyPtr key;
};

// The reason of the last failed verification on this thread (the handshake runs on the calling
// thread).
thread_local int tls_verify_error = X509_V_OK;

int VerifyCallback(int preverify_ok, X509_STORE_CTX* ctx) {
  if (!preverify_ok) tls_verify_error = X509_STORE_CTX_get_error(ctx);
  return preverify_ok;
}

struct ParsedUrl {
  bool https = true;
  std::string host;  // without brackets
  int port = 443;
  std::string prefix;  // path prefix without trailing '/'
};

absl::StatusOr<ParsedUrl> ParseServer(const std::string& server) {
  ParsedUrl url;
  absl::string_view rest = server;
  if (absl::ConsumePrefix(&rest, "https://")) {
    url.https = true;
    url.port = 443;
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    url.https = false;
    url.port = 80;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("server: \"", server, "\" must start with https:// or http://"));
  }
  absl::string_view hostport = rest.substr(0, rest.find('/'));
  if (rest.size() > hostport.size()) {
    url.prefix = std::string(rest.substr(hostport.size()));
    while (!url.prefix.empty() && url.prefix.back() == '/') url.prefix.pop_back();
  }
  absl::string_view port_text;
  if (absl::ConsumePrefix(&hostport, "[")) {
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("server: \"", server, "\": unclosed '['"));
    }
    url.host = std::string(hostport.substr(0, close));
    absl::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(absl::StrCat("server: \"", server, "\": bad port"));
      }
      port_text = after.substr(1);
    }
  } else {
    size_t colon = hostport.rfind(':');
    url.host = std::string(hostport.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = hostport.substr(colon + 1);
  }
  if (url.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("server: \"", server, "\" has no host"));
  }
  if (!port_text.empty() &&
      (!absl::SimpleAtoi(port_text, &url.port) || url.port <= 0 || url.port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("server: \"", server, "\": bad port"));
  }
  return url;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Whether a kept-alive connection's socket is still open: nothing to read (idle), or data waiting
// (a TLS record). EOF or an error means the server closed it while it sat in the pool. The same
// test httplib makes before reusing a socket; made here first so that a connection found closed is
// replaced by a fresh one that counts as fresh (no stale-connection retry for it).
bool SocketLooksAlive(int fd) {
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  int ready = ::poll(&p, 1, 0);
  if (ready == 0) return true;
  if (ready < 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

// ---- token -----------------------------------------------------------------------------------

class TokenSource {
 public:
  TokenSource(std::string token, std::string file)
      : token_(std::move(token)), file_(std::move(file)) {}

  // The token to send; re-reads the file when it changed (or when `force`).
  absl::StatusOr<std::string> Get(bool force = false) {
    if (file_.empty()) return token_;
    struct stat st {};
    std::lock_guard lock(mu_);
    if (::stat(file_.c_str(), &st) != 0) {
      if (loaded_) return token_;  // keep the last token while the file is being swapped
      return absl::FailedPreconditionError(absl::StrCat("token file ", file_, " cannot be read"));
    }
    bool changed = !loaded_ || st.st_ino != ino_ || st.st_size != size_ ||
                   st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec;
    if (changed || force) {
      auto text = ReadFile(file_);
      if (!text.has_value()) {
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
  std::mutex mu_;
  std::string token_;
  const std::string file_;
  bool loaded_ = false;
  ino_t ino_ = 0;
  off_t size_ = 0;
  timespec mtime_{};
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

void WatchCancel::Cancel() {
  cancelled_.store(true);
  std::lock_guard lock(mu_);
  if (stop_) stop_();
}

// ---- Impl ------------------------------------------------------------------------------------

class Client::Impl {
 public:
  Impl(const ClientConfig& config, ParsedUrl url, TlsMaterial tls)
      : config_(config),
        url_(std::move(url)),
        tls_(std::move(tls)),
        token_(config.token, config.token_file) {}

  std::unique_ptr<httplib::ClientImpl> NewConnection(absl::Duration read_timeout) {
    std::unique_ptr<httplib::ClientImpl> cli;
    if (url_.https) {
      auto ssl = std::make_unique<httplib::SSLClient>(url_.host, url_.port);
      SSL_CTX* ctx = ssl->ssl_context();
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      // httplib's own verification is off; OpenSSL verifies the chain and the name during the
      // handshake with the trust store and parameters set here.
      ssl->enable_server_certificate_verification(false);
      if (!config_.insecure_skip_tls_verify) {
        if (!tls_.ca.empty()) {
          X509_STORE* store = X509_STORE_new();
          for (const auto& c : tls_.ca) X509_STORE_add_cert(store, c.get());
          SSL_CTX_set_cert_store(ctx, store);  // takes ownership
        } else {
          SSL_CTX_set_default_verify_paths(ctx);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &VerifyCallback);
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
        const std::string& name =
            config_.tls_server_name.empty() ? url_.host : config_.tls_server_name;
        if (IsIpAddress(name)) {
          X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
        } else {
          X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
        }
      }
      if (!tls_.chain.empty()) {
        SSL_CTX_use_certificate(ctx, tls_.chain.front().get());
        for (size_t i = 1; i < tls_.chain.size(); ++i)
          SSL_CTX_add1_chain_cert(ctx, tls_.chain[i].get());
        SSL_CTX_use_PrivateKey(ctx, tls_.key.get());
      }
      cli = std::move(ssl);
    } else {
      cli = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
    }
    cli->set_connection_timeout(absl::ToChronoMicroseconds(config_.timeout));
    cli->set_read_timeout(absl::ToChronoMicroseconds(read_timeout));
    cli->set_write_timeout(absl::ToChronoMicroseconds(config_.timeout));
    cli->set_keep_alive(true);
    cli->set_tcp_nodelay(true);
    cli->set_url_encode(false);
    cli->set_follow_location(false);
    return cli;
  }

  // A pooled connection whose socket is still open (`*reused` = true), else a new one.
  std::unique_ptr<httplib::ClientImpl> Acquire(bool* reused) {
    while (true) {
      std::unique_ptr<httplib::ClientImpl> cli;
      {
        std::lock_guard lock(pool_mu_);
        if (pool_.empty()) break;
        cli = std::move(pool_.back());
        pool_.pop_back();
      }
      if (cli->is_socket_open() && SocketLooksAlive(cli->socket())) {
        *reused = true;
        return cli;
      }
      // Closed by the server while idle: drop it (its destructor closes our end).
    }
    *reused = false;
    return NewConnection(config_.timeout);
  }

  void Release(std::unique_ptr<httplib::ClientImpl> cli) {
    std::lock_guard lock(pool_mu_);
    if (pool_.size() < 4) pool_.push_back(std::move(cli));
  }

  // Why the request got no HTTP answer.
  absl::Status TransportError(httplib::Error err, std::string_view what, absl::Duration elapsed,
                              absl::Duration timeout) const {
    if (err == httplib::Error::ConnectionTimeout ||
        ((err == httplib::Error::Read || err == httplib::Error::Write) &&
         elapsed >= timeout * 0.9)) {
      return absl::DeadlineExceededError(
          absl::StrCat(ToAbsl(what), ": no answer within ", absl::FormatDuration(timeout)));
    }
    std::string detail = httplib::to_string(err);
    if (err == httplib::Error::SSLConnection && tls_verify_error != X509_V_OK) {
      detail = absl::StrCat("TLS verification of the server certificate failed: ",
                            X509_verify_cert_error_string(tls_verify_error));
    }
    return absl::UnavailableError(
        absl::StrCat(ToAbsl(what), ": request to ", config_.server, " failed: ", detail));
  }

  absl::StatusOr<httplib::Headers> Headers(bool force_token,
                                           std::string_view accept = "application/json") {
    httplib::Headers headers;
    headers.emplace("Accept", std::string(accept));
    headers.emplace("User-Agent", "autoscale-adapter");
    AA_ASSIGN_OR_RETURN(std::string token, token_.Get(force_token));
    if (!token.empty()) headers.emplace("Authorization", absl::StrCat("Bearer ", token));
    return headers;
  }

  absl::StatusOr<nlohmann::json> Call(const char* method, std::string_view path,
                                      const std::string* body,
                                      std::string_view accept = "application/json") {
    std::string full = absl::StrCat(url_.prefix, ToAbsl(path));
    std::string what = absl::StrCat(method, " ", ToAbsl(path));
    int status = 0;
    std::string answer;
    bool token_retried = false;
    bool stale_retried = false;
    while (true) {
      AA_ASSIGN_OR_RETURN(httplib::Headers headers, Headers(/*force_token=*/token_retried, accept));
      std::string sent_token =
          headers.count("Authorization") ? headers.find("Authorization")->second : "";
      bool reused = false;
      auto cli = Acquire(&reused);
      httplib::Request req;
      req.method = method;
      req.path = full;
      req.headers = std::move(headers);
      if (body != nullptr) {
        req.body = *body;
        req.set_header("Content-Type", "application/json");
      }
      bool answered = false;  // the response's status line and headers arrived
      req.response_handler = [&](const httplib::Response&) {
        answered = true;
        return true;
      };
      bool too_large = false;
      answer.clear();
      req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        if (answer.size() + len > kMaxBodyBytes) {
          too_large = true;
          return false;
        }
        answer.append(data, len);
        return true;
      };
      httplib::Response res;
      httplib::Error err = httplib::Error::Success;
      tls_verify_error = X509_V_OK;
      absl::Time start = absl::Now();
      bool sent = false;
      try {
        sent = cli->send(req, res, err);
      } catch (const std::exception&) {
        err = httplib::Error::Unknown;
      }
      if (!sent) {
        if (too_large) {
          return absl::ResourceExhaustedError(
              absl::StrCat(what, ": answer larger than ", kMaxBodyBytes, " bytes"));
        }
        absl::Status failure = TransportError(err, what, absl::Now() - start, config_.timeout);
        // A kept-alive connection the server closed just as we reused it (EOF or reset before
        // any answer): the request most likely never reached the server. Once, on a new one.
        if (reused && !answered && !stale_retried && absl::IsUnavailable(failure) &&
            (err == httplib::Error::Read || err == httplib::Error::Write)) {
          stale_retried = true;
          LogDebug("kubernetes client: kept-alive connection was closed; retrying on a new one",
                   {{"request", what}, {"error", std::string(failure.message())}});
          continue;
        }
        return failure;
      }
      Release(std::move(cli));
      status = res.status;
      if (status == 401 && !token_retried && token_.from_file()) {
        // The token may have rotated between our stat() and the server's check: re-read and retry.
        token_retried = true;
        auto fresh = token_.Get(/*force=*/true);
        if (fresh.ok() && absl::StrCat("Bearer ", *fresh) != sent_token) continue;
      }
      break;
    }
    if (status < 200 || status >= 300) return StatusFromHttp(status, answer, what);
    nlohmann::json j = nlohmann::json::parse(answer, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return absl::InternalError(absl::StrCat(what, ": answer is not JSON: ", Snippet(answer)));
    }
    return j;
  }

  absl::Status Watch(std::string_view path, const std::function<bool(const WatchEvent&)>& on_event,
                     WatchCancel* cancel, absl::Duration idle_timeout) {
    std::string what = absl::StrCat("watch ", ToAbsl(path));
    if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError(what);
    AA_ASSIGN_OR_RETURN(httplib::Headers headers, Headers(false));
    std::shared_ptr<httplib::ClientImpl> cli = NewConnection(idle_timeout);
    cli->set_keep_alive(false);
    if (cancel != nullptr) {
      std::lock_guard lock(cancel->mu_);
      cancel->stop_ = [cli] { cli->stop(); };
    }
    struct Unregister {
      WatchCancel* cancel;
      ~Unregister() {
        if (cancel == nullptr) return;
        std::lock_guard lock(cancel->mu_);
        cancel->stop_ = nullptr;
      }
    } unregister{cancel};

    httplib::Request req;
    req.method = "GET";
    req.path = absl::StrCat(url_.prefix, ToAbsl(path));
    req.headers = std::move(headers);
    int status = 0;
    std::string error_body;
    std::string buffer;
    absl::Status stream_error;
    bool handler_stopped = false;
    absl::Time last_data = absl::Now();
    req.response_handler = [&](const httplib::Response& res) {
      status = res.status;
      return !(cancel != nullptr && cancel->cancelled());
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      last_data = absl::Now();
      if (cancel != nullptr && cancel->cancelled()) return false;
      if (status < 200 || status >= 300) {
        if (error_body.size() < 64 * 1024) error_body.append(data, len);
        return true;
      }
      buffer.append(data, len);
      size_t start = 0;
      for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(buffer.data() + start, nl - start);
        if (absl::StripAsciiWhitespace(ToAbsl(line)).empty()) continue;
        nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        WatchEvent event;
        if (j.is_object() && j.contains("type") && j["type"].is_string()) {
          event.type = j["type"].get<std::string>();
          if (auto it = j.find("object"); it != j.end()) event.object = std::move(*it);
        }
        if (event.type.empty()) {
          stream_error =
              absl::InternalError(absl::StrCat(what, ": not a watch event: ", Snippet(line)));
          return false;
        }
        if (!on_event(event)) {
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
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    tls_verify_error = X509_V_OK;
    bool sent = false;
    try {
      sent = cli->send(req, res, err);
    } catch (const std::exception&) {
      err = httplib::Error::Unknown;
    }
    if (handler_stopped) return absl::OkStatus();
    if (!stream_error.ok()) return stream_error;
    if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError(what);
    if (!sent) {
      if (status >= 200 && status < 300 &&
          (err == httplib::Error::Read || err == httplib::Error::Canceled) &&
          absl::Now() - last_data >= idle_timeout * 0.9) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, ": nothing received for ", absl::FormatDuration(idle_timeout)));
      }
      if (status != 0 && (status < 200 || status >= 300)) {
        return StatusFromHttp(status, error_body, what);
      }
      return TransportError(err, what, absl::Now() - last_data, idle_timeout);
    }
    if (res.status < 200 || res.status >= 300) return StatusFromHttp(res.status, error_body, what);
    return absl::OkStatus();
  }

  TokenSource& token() { return token_; }

 private:
  const ClientConfig& config_;
  const ParsedUrl url_;
  const TlsMaterial tls_;
  TokenSource token_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> pool_;
};

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientConfig config,
                                                       prometheus::Registry* registry) {
  AA_ASSIGN_OR_RETURN(ParsedUrl url, ParseServer(config.server));
  TlsMaterial tls;
  auto pem_of = [](const std::string& inline_pem, const std::string& file,
                   std::string_view field) -> absl::StatusOr<std::string> {
    if (!inline_pem.empty()) return inline_pem;
    if (file.empty()) return std::string();
    auto text = ReadFile(file);
    if (!text.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": cannot read ", file));
    }
    return *text;
  };
  AA_ASSIGN_OR_RETURN(std::string ca,
                      pem_of(config.ca_pem, config.ca_file, "certificate-authority"));
  if (!ca.empty()) {
    tls.ca = ParseCerts(ca);
    if (tls.ca.empty()) {
      return absl::InvalidArgumentError("certificate-authority: no PEM certificate in it");
    }
  }
  AA_ASSIGN_OR_RETURN(std::string cert, pem_of(config.client_cert_pem, config.client_cert_file,
                                               "client-certificate"));
  AA_ASSIGN_OR_RETURN(std::string key,
                      pem_of(config.client_key_pem, config.client_key_file, "client-key"));
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("client-certificate and client-key must be given together");
  }
  if (!cert.empty()) {
    tls.chain = ParseCerts(cert);
    if (tls.chain.empty()) {
      return absl::InvalidArgumentError("client-certificate: no PEM certificate in it");
    }
    tls.key = ParseKey(key);
    if (!tls.key) return absl::InvalidArgumentError("client-key: no PEM private key in it");
    if (X509_check_private_key(tls.chain.front().get(), tls.key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("client-key does not match client-certificate");
    }
  }
  if (!config.token_file.empty() && !ReadFile(config.token_file).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenFile: cannot read ", config.token_file));
  }
  if (config.insecure_skip_tls_verify && url.https) {
    LogWarn(
        "kubernetes client: TLS verification of the API server is OFF (insecure-skip-tls-verify)",
        {{"server", config.server}});
  }
  auto client = std::unique_ptr<Client>(new Client(std::move(config), nullptr));
  client->impl_ = std::make_unique<Impl>(client->config_, std::move(url), std::move(tls));
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
  std::string text = body.dump();
  const absl::Time start = absl::Now();
  auto answer = impl_->Call("POST", path, &text);
  metrics_->Observe("POST", path, answer.status(), absl::Now() - start);
  return answer;
}

absl::Status Client::Watch(std::string_view path,
                           const std::function<bool(const WatchEvent&)>& on_event,
                           WatchCancel* cancel, absl::Duration idle_timeout) {
  return impl_->Watch(path, on_event, cancel, idle_timeout);
}

absl::StatusOr<std::string> Client::CurrentToken() { return impl_->token().Get(); }

}  // namespace aa::kube
