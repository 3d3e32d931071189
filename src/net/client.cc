// The one translation unit with cpp-httplib's client.
#include "net/client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"

namespace aa::net {
namespace {

// ---- TLS material ------------------------------------------------------------------------------

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

std::vector<X509Ptr> ParseCerts(std::string_view pem) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the loop ends with a "no start line" error
  return out;
}

KeyPtr ParseKey(std::string_view pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return key;
}

struct TlsMaterial {
  std::vector<X509Ptr> ca;     // empty: the system trust store
  std::vector<X509Ptr> chain;  // client certificate first, then intermediates
  KeyPtr key;
};

// The PEM text of one item: inline, else the file, else "".
absl::StatusOr<std::string> PemOf(const std::string& pem, const std::string& file,
                                  std::string_view what) {
  if (!pem.empty()) return pem;
  if (file.empty()) return std::string();
  auto text = ReadFile(file);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tls: ", ToAbsl(what), ": cannot read ", file));
  }
  return *std::move(text);
}

absl::StatusOr<std::shared_ptr<const TlsMaterial>> LoadTls(const ClientTls& tls) {
  auto material = std::make_shared<TlsMaterial>();
  auto ca = PemOf(tls.ca_pem, tls.ca_file, "CA");
  if (!ca.ok()) return ca.status();
  if (!ca->empty()) {
    material->ca = ParseCerts(*ca);
    if (material->ca.empty())
      return absl::InvalidArgumentError("tls: CA: no PEM certificate in it");
  }
  auto cert = PemOf(tls.cert_pem, tls.cert_file, "client certificate");
  if (!cert.ok()) return cert.status();
  auto key = PemOf(tls.key_pem, tls.key_file, "client key");
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return absl::InvalidArgumentError(
        "tls: the client certificate and its key must be given together");
  }
  if (!cert->empty()) {
    material->chain = ParseCerts(*cert);
    if (material->chain.empty()) {
      return absl::InvalidArgumentError("tls: client certificate: no PEM certificate in it");
    }
    material->key = ParseKey(*key);
    if (!material->key) {
      return absl::InvalidArgumentError("tls: client key: no PEM private key in it");
    }
    if (X509_check_private_key(material->chain.front().get(), material->key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("tls: the client key does not match the certificate");
    }
  }
  return std::shared_ptr<const TlsMaterial>(std::move(material));
}

// inode, size and mtime of the files that are used (inline PEM wins), for change detection.
std::string FilesIdentity(const ClientTls& tls) {
  std::string out;
  auto add = [&](const std::string& pem, const std::string& file) {
    if (!pem.empty() || file.empty()) return;
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      absl::StrAppend(&out, "missing;");
      return;
    }
    absl::StrAppend(&out, st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                    st.st_mtim.tv_nsec, ";");
  };
  add(tls.ca_pem, tls.ca_file);
  add(tls.cert_pem, tls.cert_file);
  add(tls.key_pem, tls.key_file);
  return out;
}

// The TLS material, reloaded when its files changed (checked when a connection is made).
class TlsSource {
 public:
  TlsSource(ClientTls tls, std::shared_ptr<const TlsMaterial> material, std::string name)
      : tls_(std::move(tls)),
        name_(std::move(name)),
        material_(std::move(material)),
        identity_(FilesIdentity(tls_)) {}

  std::shared_ptr<const TlsMaterial> Get() {
    absl::MutexLock lock(&mu_);
    std::string identity = FilesIdentity(tls_);
    if (identity == identity_ || identity == failed_identity_) return material_;
    auto fresh = LoadTls(tls_);
    if (!fresh.ok()) {
      failed_identity_ = identity;
      LogWarn("TLS files changed but do not load; keeping the previous ones",
              {{"client", name_}, {"error", std::string(fresh.status().message())}});
      return material_;
    }
    LogInfo("TLS files changed; new connections use them", {{"client", name_}});
    material_ = *std::move(fresh);
    identity_ = std::move(identity);
    failed_identity_.clear();
    return material_;
  }

  const ClientTls& options() const { return tls_; }

 private:
  const ClientTls tls_;
  const std::string name_;
  absl::Mutex mu_;
  std::shared_ptr<const TlsMaterial> material_ ABSL_GUARDED_BY(mu_);
  std::string identity_ ABSL_GUARDED_BY(mu_);
  std::string failed_identity_ ABSL_GUARDED_BY(mu_);
};

// The reason of the last failed verification on this thread (the handshake runs on the thread that
// sends).
thread_local int tls_verify_error = X509_V_OK;

int VerifyCallback(int preverify_ok, X509_STORE_CTX* ctx) {
  if (!preverify_ok) tls_verify_error = X509_STORE_CTX_get_error(ctx);
  return preverify_ok;
}

// SNI = server_name: cpp-httplib sends the connection's host; the name set here, as the handshake
// starts, replaces it before the ClientHello is written.
int SniIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void SniCallback(const SSL* ssl, int where, int) {
  if ((where & SSL_CB_HANDSHAKE_START) == 0) return;
  auto* name =
      static_cast<const std::string*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), SniIndex()));
  if (name != nullptr) SSL_set_tlsext_host_name(const_cast<SSL*>(ssl), name->c_str());
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Whether a kept-alive connection's socket is still open: nothing to read (idle), or data waiting
// (a TLS record). EOF or an error means the server closed it while it sat in the pool. cpp-httplib
// makes the same test before reusing a socket; made here first so that a connection found closed
// is replaced by one that counts as new (no stale-connection retry for it).
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

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(ToAbsl(a), ToAbsl(b));
}

}  // namespace

void Cancellation::Cancel() {
  cancelled_ = true;
  absl::MutexLock lock(&mu_);
  if (stop_) stop_();
}

const std::string* Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

absl::Status CheckCertificatePem(std::string_view pem) {
  if (ParseCerts(pem).empty()) return absl::InvalidArgumentError("no PEM certificate in it");
  return absl::OkStatus();
}

absl::Status CheckPrivateKeyPem(std::string_view pem) {
  if (!ParseKey(pem)) return absl::InvalidArgumentError("no PEM private key in it");
  return absl::OkStatus();
}

absl::Status CheckKeyMatchesCertificate(std::string_view cert_pem, std::string_view key_pem) {
  std::vector<X509Ptr> chain = ParseCerts(cert_pem);
  KeyPtr key = ParseKey(key_pem);
  if (chain.empty() || !key || X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the key does not match the certificate");
  }
  return absl::OkStatus();
}

class Client::Impl {
 public:
  Impl(ClientOptions options, Url url, std::optional<Url> proxy,
       std::shared_ptr<const TlsMaterial> material)
      : options_(std::move(options)),
        url_(std::move(url)),
        proxy_(std::move(proxy)),
        tls_(options_.tls, std::move(material), options_.name) {}

  Result Send(const Request& request) {
    bool stale_retried = false;
    while (true) {
      if (request.cancel != nullptr && request.cancel->cancelled()) {
        return Result{Failure::kCancelled, "cancelled", {}};
      }
      bool reused = false;
      std::shared_ptr<httplib::ClientImpl> cli;
      if (request.keep_alive) {
        cli = Acquire(&reused);
      } else {
        cli = NewConnection();
        cli->set_keep_alive(false);
      }
      bool answered = false;
      httplib::Error err = httplib::Error::Success;
      Result result = Once(*cli, request, &answered, &err);
      if (result.failure == Failure::kNetwork && reused && !answered && !stale_retried &&
          (err == httplib::Error::Read || err == httplib::Error::Write)) {
        // A kept-alive connection the server closed just as it was reused (EOF or reset before
        // any answer): the request most likely never reached the server. Once, on a new one.
        stale_retried = true;
        LogDebug("kept-alive connection was closed; sending again on a new one",
                 {{"client", options_.name},
                  {"request", absl::StrCat(request.method, " ", request.target)},
                  {"error", result.detail}});
        continue;
      }
      if (result.ok() && request.keep_alive) Release(std::move(cli));
      return result;
    }
  }

  const Url& url() const { return url_; }
  const std::optional<Url>& proxy() const { return proxy_; }

 private:
  std::shared_ptr<httplib::ClientImpl> NewConnection() {
    std::shared_ptr<httplib::ClientImpl> cli;
    if (url_.https) {
      auto ssl = std::make_shared<httplib::SSLClient>(url_.host, url_.port);
      SSL_CTX* ctx = ssl->ssl_context();
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      // cpp-httplib's own verification is off; OpenSSL verifies the chain and the name during the
      // handshake with the trust store and parameters set here.
      ssl->enable_server_certificate_verification(false);
      std::shared_ptr<const TlsMaterial> material = tls_.Get();
      const ClientTls& o = tls_.options();
      const std::string& name = o.server_name.empty() ? url_.host : o.server_name;
      if (!o.insecure_skip_verify) {
        if (!material->ca.empty()) {
          X509_STORE* store = X509_STORE_new();
          for (const auto& c : material->ca) X509_STORE_add_cert(store, c.get());
          SSL_CTX_set_cert_store(ctx, store);  // takes ownership
        } else {
          SSL_CTX_set_default_verify_paths(ctx);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, &VerifyCallback);
        X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
        if (IsIpAddress(name)) {
          X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
        } else {
          X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
        }
      }
      if (!o.server_name.empty() && o.server_name != url_.host) {
        SSL_CTX_set_ex_data(ctx, SniIndex(), const_cast<std::string*>(&o.server_name));
        SSL_CTX_set_info_callback(ctx, &SniCallback);
      }
      if (!material->chain.empty()) {
        SSL_CTX_use_certificate(ctx, material->chain.front().get());
        for (size_t i = 1; i < material->chain.size(); ++i) {
          SSL_CTX_add1_chain_cert(ctx, material->chain[i].get());
        }
        SSL_CTX_use_PrivateKey(ctx, material->key.get());
      }
      cli = std::move(ssl);
    } else {
      cli = std::make_shared<httplib::ClientImpl>(url_.host, url_.port);
    }
    cli->set_connection_timeout(absl::ToChronoMicroseconds(options_.timeout));
    cli->set_read_timeout(absl::ToChronoMicroseconds(options_.timeout));
    cli->set_write_timeout(absl::ToChronoMicroseconds(options_.timeout));
    cli->set_keep_alive(true);
    // The request line and headers, and a body, go out in separate writes: no Nagle delay.
    cli->set_tcp_nodelay(true);
    cli->set_url_encode(false);  // targets come encoded
    cli->set_follow_location(false);
    if (proxy_.has_value()) {
      cli->set_proxy(proxy_->host, proxy_->port);
      if (!proxy_->username.empty()) {
        cli->set_proxy_basic_auth(proxy_->username, proxy_->password);
      }
    }
    return cli;
  }

  // A pooled connection whose socket is still open (`*reused` = true), else a new one.
  std::shared_ptr<httplib::ClientImpl> Acquire(bool* reused) {
    while (true) {
      std::shared_ptr<httplib::ClientImpl> cli;
      {
        absl::MutexLock lock(&pool_mu_);
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
    return NewConnection();
  }

  void Release(std::shared_ptr<httplib::ClientImpl> cli) {
    absl::MutexLock lock(&pool_mu_);
    if (pool_.size() < options_.max_idle_connections) pool_.push_back(std::move(cli));
  }

  Result Once(httplib::ClientImpl& cli, const Request& request, bool* answered,
              httplib::Error* err) {
    Result out;
    const absl::Duration read_timeout =
        request.read_timeout > absl::ZeroDuration() ? request.read_timeout : options_.timeout;
    cli.set_read_timeout(absl::ToChronoMicroseconds(read_timeout));
    Cancellation* cancel = request.cancel;
    if (cancel != nullptr) {
      absl::MutexLock lock(&cancel->mu_);
      cancel->stop_ = [&cli] { cli.stop(); };
    }
    struct Unregister {
      Cancellation* cancel;
      ~Unregister() {
        if (cancel == nullptr) return;
        absl::MutexLock lock(&cancel->mu_);
        cancel->stop_ = nullptr;
      }
    } unregister{cancel};

    httplib::Request req;
    req.method = request.method;
    req.path = absl::StrCat(url_.path, request.target);
    for (const auto& [k, v] : request.headers) req.headers.emplace(k, v);
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
      req.body = request.body;
      if (!request.content_type.empty()) req.set_header("Content-Type", request.content_type);
    }
    const size_t max = request.max_body_bytes;
    bool stopped = false;
    bool too_large = false;
    bool deadline_hit = false;
    absl::Time last_activity = absl::Now();
    req.response_handler = [&](const httplib::Response& res) {
      *answered = true;
      last_activity = absl::Now();
      out.response.status = res.status;
      for (const auto& [k, v] : res.headers) out.response.headers.emplace_back(k, v);
      if (cancel != nullptr && cancel->cancelled()) return false;
      if (!request.on_body) {
        uint64_t declared = 0;
        if (const std::string* length = out.response.Header("Content-Length");
            length != nullptr && absl::SimpleAtoi(*length, &declared)) {
          if (declared > max) {
            too_large = true;
            out.detail = absl::StrCat("Content-Length ", declared);
            return false;
          }
          out.response.body.reserve(declared);
        } else if (request.expected_body_bytes > 0) {
          out.response.body.reserve(std::min(request.expected_body_bytes, max));
        }
      }
      if (request.on_head && !request.on_head(out.response)) {
        stopped = true;
        return false;
      }
      return true;
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      last_activity = absl::Now();
      if (cancel != nullptr && cancel->cancelled()) return false;
      if (request.on_body) {
        if (!request.on_body(std::string_view(data, len))) {
          stopped = true;
          return false;
        }
      } else {
        if (out.response.body.size() + len > max) {
          too_large = true;
          return false;
        }
        out.response.body.append(data, len);
      }
      if (last_activity > request.deadline) {
        deadline_hit = true;
        return false;
      }
      return true;
    };
    httplib::Response res;
    tls_verify_error = X509_V_OK;
    bool sent = false;
    try {
      sent = cli.send(req, res, *err);
    } catch (const std::exception&) {
      *err = httplib::Error::Unknown;
    }
    if (sent && !*answered) {
      // cpp-httplib hands back the proxy's refusal of a CONNECT as if it were the answer.
      out.failure = Failure::kNetwork;
      out.detail = absl::StrCat("the proxy refused the tunnel (CONNECT): HTTP ", res.status);
      out.response = {};
      return out;
    }
    if (sent) {
      out.response.status = res.status;
      return out;
    }
    const absl::Duration idle = absl::Now() - last_activity;
    if (stopped) {
      out.failure = Failure::kStopped;
      out.detail = "stopped by the caller";
    } else if (too_large) {
      out.failure = Failure::kTooLarge;
    } else if (cancel != nullptr && cancel->cancelled()) {
      out.failure = Failure::kCancelled;
      out.detail = "cancelled";
    } else if (deadline_hit || *err == httplib::Error::ConnectionTimeout ||
               (*err == httplib::Error::Read && idle >= read_timeout * 0.9) ||
               (*err == httplib::Error::Write && idle >= options_.timeout * 0.9) ||
               (*err == httplib::Error::Canceled && *answered && idle >= read_timeout * 0.9)) {
      out.failure = Failure::kTimeout;
      out.detail = absl::StrCat(
          "no answer within ",
          absl::FormatDuration(*err == httplib::Error::Write ? options_.timeout : read_timeout));
    } else if (*err == httplib::Error::SSLConnection && tls_verify_error != X509_V_OK) {
      out.failure = Failure::kTlsVerification;
      out.detail = X509_verify_cert_error_string(tls_verify_error);
    } else {
      out.failure = Failure::kNetwork;
      out.detail = httplib::to_string(*err);
    }
    return out;
  }

  const ClientOptions options_;
  const Url url_;
  const std::optional<Url> proxy_;
  TlsSource tls_;
  absl::Mutex pool_mu_;
  std::vector<std::shared_ptr<httplib::ClientImpl>> pool_ ABSL_GUARDED_BY(pool_mu_);
};

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  auto url = ParseUrl(options.url);
  if (!url.ok()) return absl::InvalidArgumentError(absl::StrCat("url: ", url.status().message()));
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  std::shared_ptr<const TlsMaterial> material = std::make_shared<TlsMaterial>();
  if (url->https) {
    auto loaded = LoadTls(options.tls);
    if (!loaded.ok()) return loaded.status();
    material = *std::move(loaded);
  }
  auto rules = ProxyRules::Parse(options.proxy.has_value() ? *options.proxy
                                                           : ProxyEnvironment::FromProcess());
  if (!rules.ok()) return rules.status();
  std::optional<Url> proxy = rules->ProxyFor(*url);
  if (proxy.has_value()) {
    LogInfo("requests go through a proxy",
            {{"client", options.name}, {"url", url->Redacted()}, {"proxy", proxy->Redacted()}});
  }
  auto impl = std::make_unique<Impl>(std::move(options), *std::move(url), std::move(proxy),
                                     std::move(material));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result Client::Send(const Request& request) { return impl_->Send(request); }
const Url& Client::url() const { return impl_->url(); }
const std::optional<Url>& Client::proxy() const { return impl_->proxy(); }

}  // namespace aa::net
