#include "net/server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <cctype>
#include <chrono>
#include <deque>
#include <exception>
#include <list>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_set>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/strings.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace aa::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct ServerMetrics {
  explicit ServerMetrics(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("autoscale_adapter_http_requests_total")
                     .Help("HTTP requests served, by server, route and status code.")
                     .Register(registry)),
        latency(prometheus::BuildHistogram()
                    .Name("autoscale_adapter_http_request_duration_seconds")
                    .Help("Time to answer an HTTP request, by server and route.")
                    .Register(registry)),
        open(prometheus::BuildGauge()
                 .Name("autoscale_adapter_http_open_connections")
                 .Help("Open HTTP connections, by server.")
                 .Register(registry)),
        refused(prometheus::BuildCounter()
                    .Name("autoscale_adapter_http_connections_refused_total")
                    .Help("HTTP connections closed (or answered 503) as they came in, by server "
                          "and reason (max_connections: every connection busy in a handler).")
                    .Register(registry)),
        evicted(prometheus::BuildCounter()
                    .Name("autoscale_adapter_http_connections_evicted_total")
                    .Help("HTTP connections closed at the connection limit to make room for a new "
                          "one: the one waiting longest without a complete request, by server.")
                    .Register(registry)),
        timed_out(prometheus::BuildCounter()
                      .Name("autoscale_adapter_http_connections_timed_out_total")
                      .Help("HTTP connections closed at a deadline, by server and reason "
                            "(tls_handshake, header, body, idle, write).")
                      .Register(registry)) {}
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Family<prometheus::Gauge>& open;
  prometheus::Family<prometheus::Counter>& refused;
  prometheus::Family<prometheus::Counter>& evicted;
  prometheus::Family<prometheus::Counter>& timed_out;
};

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return *b;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes and, in query strings (`plus_is_space`), '+' as a space (form encoding, as
// the aggregator sends).
std::string Unescape(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::multimap<std::string, std::string> ParseQuery(std::string_view target) {
  std::multimap<std::string, std::string> params;
  size_t q = target.find('?');
  if (q == std::string_view::npos) return params;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    params.emplace(Unescape(pair.substr(0, eq), true), eq == std::string_view::npos
                                                           ? std::string()
                                                           : Unescape(pair.substr(eq + 1), true));
  }
  return params;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view View(boost::beast::string_view s) { return {s.data(), s.size()}; }

// One header field's limit (name, ": " and value), as nginx's default large_client_header_buffers.
constexpr size_t kMaxFieldBytes = 8192;
// Bytes read from a socket at a time.
constexpr size_t kReadChunk = 4096;
// What a body's framing (a chunk header) may leave buffered unparsed.
constexpr size_t kMaxBodyBuffered = 64 << 10;
// After a refusal: how long, and how many bytes, the server reads and drops before it closes.
constexpr absl::Duration kLingerTime = absl::Seconds(2);
constexpr size_t kMaxLingerBytes = 1 << 20;

bool IsKnownMethod(std::string_view m) {
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
    if (m == known) return true;
  }
  return false;
}

// The request line and header fields of one request, checked as they are parsed; the body is
// counted and dropped. A refusal sets `status`/`message` and fails the parse.
class RequestParser final : public http::basic_parser<true> {
 public:
  explicit RequestParser(const HttpServerOptions& o) : o_(o) {
    header_limit(static_cast<std::uint32_t>(std::min<size_t>(o.max_header_bytes, UINT32_MAX)));
    body_limit(o.max_body_bytes);
    eager(true);
  }

  HttpRequest request;
  bool request_line_done = false;
  int status = 0;  // set when refused
  std::string message;
  const char* route = "rejected";

 private:
  void Refuse(int code, std::string why, error_code& ec) {
    status = code;
    message = std::move(why);
    ec = http::error::bad_value;
  }

  void on_request_impl(http::verb /*verb*/, boost::beast::string_view method_sv,
                       boost::beast::string_view target_sv, int version, error_code& ec) override {
    request_line_done = true;
    std::string_view method = View(method_sv), target = View(target_sv);
    if ((version != 10 && version != 11) || target.empty() || target[0] != '/') {
      return Refuse(400,
                    "malformed HTTP request: want a request line \"GET /path HTTP/1.1\" and "
                    "header lines \"Name: value\"",
                    ec);
    }
    if (!IsKnownMethod(method)) {
      return Refuse(405,
                    absl::StrCat("method ", ToAbsl(method.substr(0, 32)),
                                 " is not allowed: the server answers GET (and HEAD)"),
                    ec);
    }
    if (target.size() > o_.max_uri_bytes) {
      route = "too_long";
      return Refuse(414,
                    absl::StrCat("request URI too long: the path and query string are ",
                                 target.size(), " bytes, over the ", o_.max_uri_bytes,
                                 "-byte limit; shorten the query string"),
                    ec);
    }
    if (std::count(target.begin(), target.end(), '?') > 1) {
      return Refuse(400, "malformed request target: more than one '?' (encode it as %3F)", ec);
    }
    request.method = std::string(method);
    request.path = Unescape(target.substr(0, target.find('?')), false);
    request.params = ParseQuery(target);
  }

  void on_response_impl(int /*code*/, boost::beast::string_view /*reason*/, int /*version*/,
                        error_code& ec) override {
    ec = http::error::bad_method;  // never called for a request parser
  }

  void on_field_impl(http::field /*f*/, boost::beast::string_view name,
                     boost::beast::string_view value, error_code& ec) override {
    if (request.headers.size() >= static_cast<size_t>(o_.max_header_count)) {
      return Refuse(431,
                    absl::StrCat("too many request header fields: over the limit of ",
                                 o_.max_header_count, "; send fewer"),
                    ec);
    }
    if (name.size() + 2 + value.size() > kMaxFieldBytes) {
      return Refuse(431,
                    absl::StrCat("request headers exceed the ", kMaxFieldBytes,
                                 "-byte limit of one header field; shorten or drop it"),
                    ec);
    }
    request.headers.emplace_back(std::string(View(name)), std::string(View(value)));
  }

  void on_header_impl(error_code& /*ec*/) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& /*length*/,
                         error_code& /*ec*/) override {}
  size_t on_body_impl(boost::beast::string_view body, error_code& /*ec*/) override {
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t /*size*/, boost::beast::string_view /*extensions*/,
                            error_code& /*ec*/) override {}
  size_t on_chunk_body_impl(std::uint64_t /*remain*/, boost::beast::string_view body,
                            error_code& /*ec*/) override {
    return body.size();
  }
  void on_finish_impl(error_code& /*ec*/) override {}

  const HttpServerOptions& o_;
};

// Handlers run here: up to `threads` workers, at most `max_queued` tasks waiting. Workers are
// started on demand (a task arrives and no worker is free), never more than `threads`, and live
// until Stop(): an idle server holds no worker's stack and arena, a busy one as many as it needed
// at once. What is refused is as with every worker started: a task is refused when the queue
// holds `max_queued` tasks beyond the workers free or still to start.
class WorkerPool {
 public:
  WorkerPool(int threads, size_t max_queued)
      : max_threads_(static_cast<size_t>(std::max(1, threads))), max_queued_(max_queued) {}
  ~WorkerPool() { Stop(); }

  // False when the queue is full (or the pool stopped): the task was not taken.
  bool TrySubmit(std::function<void()> task) {
    absl::MutexLock lock(&mu_);
    const size_t free = idle_ + starting_ + (max_threads_ - threads_.size());
    if (stopping_ || queue_.size() >= max_queued_ + free) return false;
    queue_.push_back(std::move(task));
    if (queue_.size() > idle_ + starting_ && threads_.size() < max_threads_) {
      try {
        threads_.emplace_back([this] { Run(); });
        ++starting_;
      } catch (const std::system_error& e) {
        LogWarn("cannot start an HTTP worker thread", {{"error", std::string(e.what())}});
        if (threads_.empty()) {  // nobody would ever run it
          queue_.pop_back();
          return false;
        }
      }
    }
    return true;
  }

  // Runs no more tasks; drops the queued ones; joins.
  void Stop() {
    std::deque<std::function<void()>> dropped;
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
      dropped.swap(queue_);
      threads.swap(threads_);  // no worker starts once stopping_ is set
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  void Run() {
    bool started = false;
    for (;;) {
      std::function<void()> task;
      {
        absl::MutexLock lock(&mu_);
        if (!started) {
          --starting_;
          started = true;
        }
        ++idle_;
        mu_.Await(absl::Condition(this, &WorkerPool::HasWork));
        --idle_;
        if (stopping_) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); }

  const size_t max_threads_;
  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;      // workers waiting for a task
  size_t starting_ ABSL_GUARDED_BY(mu_) = 0;  // workers started that have not waited yet
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return std::chrono::hours(24 * 365);
  return absl::ToChronoNanoseconds(d);
}

class Connection;

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    if (options_.registry) metrics_ = std::make_unique<ServerMetrics>(*options_.registry);
  }
  ~ServerImpl() override { Stop(); }

  absl::StatusOr<int> Init();
  int port() const override { return port_; }
  void Stop() override;

  // What connections use; all on the I/O thread unless said otherwise.
  const HttpServerOptions& options() const { return options_; }
  asio::io_context& io() { return io_; }
  asio::ssl::context* tls() { return tls_.get(); }
  WorkerPool& pool() { return *pool_; }
  bool stopping() const { return stopping_; }
  // Connections without a complete request, longest waiting first.
  std::list<Connection*>& waiting() { return waiting_; }
  void Closed(Connection* c);
  void CountTimeout(const char* reason);
  // An answer the server gives by itself, rendered by options_.error_response. Any thread.
  HttpResponse Render(int status, std::string message, const char* route);
  // Runs the handler (on a worker) and counts the answer.
  HttpResponse Handle(const HttpRequest& request);

 private:
  void Accept();
  void Admit(tcp::socket socket);
  bool AllClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_count_ == 0; }

  HttpServerOptions options_;
  HttpHandler handler_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::unique_ptr<WorkerPool> pool_;
  // Declared after what its pending handlers own (connections hold the TLS context), so it is
  // destroyed (and destroys them) first.
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  std::thread io_thread_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  bool stopping_ = false;
  std::list<Connection*> waiting_;
  std::unordered_set<Connection*> open_;
  mutable absl::Mutex mu_;
  size_t open_count_ ABSL_GUARDED_BY(mu_) = 0;  // open_.size(), for Stop()
};

// One connection, driven on the I/O thread. Phases: TLS handshake, reading a request (headers,
// then body), in the handler (a worker), writing the answer, then again from reading.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerImpl& server, tcp::socket socket)
      : s_(server), socket_(std::move(socket)), timer_(server.io()) {
    error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    if (!ec) remote_addr_ = peer.address().to_string();
    socket_.set_option(tcp::no_delay(true), ec);  // headers and body in one write anyway
  }

  void Start() {
    waiting_ = s_.waiting().insert(s_.waiting().end(), this);
    if (s_.tls() != nullptr) {
      tls_.emplace(std::move(socket_), *s_.tls());
      SetDeadline(s_.options().tls_handshake_timeout, "tls_handshake");
      tls_->async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](const error_code& ec) {
                              if (self->closed_) return;
                              if (ec) return self->Close();
                              self->BeginRequest(true);
                            });
    } else {
      BeginRequest(true);
    }
  }

  // Closes the socket at once; pending operations end with operation_aborted.
  void Close() {
    if (closed_) return;
    closed_ = true;
    StopWaiting();
    s_.Closed(this);  // counted before the client can see the close
    timer_.cancel();
    error_code ec;
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Socket().close(ec);
  }

  bool Busy() const { return phase_ == Phase::kHandler || phase_ == Phase::kWrite; }

 private:
  enum class Phase { kIdle, kHeader, kBody, kHandler, kWrite };

  tcp::socket& Socket() { return tls_ ? tls_->next_layer() : socket_; }

  template <typename Buffers, typename Done>
  void ReadSome(const Buffers& buffers, Done&& done) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Done>(done));
    } else {
      socket_.async_read_some(buffers, std::forward<Done>(done));
    }
  }

  // Arms the connection's one deadline; passing it closes the connection, counted by `reason`
  // (unless null).
  void SetDeadline(absl::Duration d, const char* reason) {
    uint64_t generation = ++deadline_generation_;
    timer_.expires_after(ToChrono(d));
    timer_.async_wait([self = shared_from_this(), generation, reason](const error_code& ec) {
      if (ec || self->closed_ || generation != self->deadline_generation_) return;
      if (reason != nullptr) self->s_.CountTimeout(reason);
      self->Close();
    });
  }
  void ClearDeadline() {
    ++deadline_generation_;
    timer_.cancel();
  }

  void StopWaiting() {
    if (waiting_) s_.waiting().erase(*waiting_);
    waiting_.reset();
  }

  // A new request: its header deadline starts now for a connection's first request (or bytes
  // already buffered), else at its first byte (until then the connection is idle).
  void BeginRequest(bool first) {
    parser_.emplace(s_.options());
    header_bytes_ = 0;
    if (first || buffer_.size() > 0) {
      phase_ = Phase::kHeader;
      SetDeadline(s_.options().request_header_timeout, "header");
    } else {
      phase_ = Phase::kIdle;
      SetDeadline(s_.options().keep_alive_timeout, "idle");
    }
    Parse();
  }

  void Parse() {
    const HttpServerOptions& o = s_.options();
    while (!parser_->is_done()) {
      if (buffer_.size() == 0) return Read();
      const bool header_done = parser_->is_header_done();
      error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (!header_done) header_bytes_ += used;
      if (ec == http::error::need_more) {
        if (!parser_->is_header_done() && header_bytes_ + buffer_.size() >= o.max_header_bytes) {
          ec = http::error::header_limit;
        } else if (parser_->is_header_done() && buffer_.size() > kMaxBodyBuffered) {
          ec = http::error::bad_chunk;
        } else {
          return Read();
        }
      }
      if (ec) return Refuse(ec);
      if (parser_->is_header_done() && phase_ == Phase::kHeader && !parser_->is_done()) {
        phase_ = Phase::kBody;
        SetDeadline(o.body_timeout, "body");
      }
    }
    Dispatch();
  }

  void Read() {
    size_t chunk = kReadChunk;
    if (!parser_->is_header_done()) {
      // Never buffer past the header limit: one byte over it is enough to refuse.
      size_t held = header_bytes_ + buffer_.size();
      chunk = std::min(
          chunk, s_.options().max_header_bytes + 1 - std::min(held, s_.options().max_header_bytes));
    }
    ReadSome(buffer_.prepare(chunk), [self = shared_from_this()](const error_code& ec, size_t n) {
      if (self->closed_) return;
      if (ec) return self->Close();  // the client went away (or the connection broke)
      self->buffer_.commit(n);
      if (self->phase_ == Phase::kIdle) {
        self->phase_ = Phase::kHeader;
        self->SetDeadline(self->s_.options().request_header_timeout, "header");
      }
      self->Parse();
    });
  }

  // The request cannot be read on: answers why and closes.
  void Refuse(const error_code& ec) {
    int status = parser_->status;
    std::string message = std::move(parser_->message);
    const char* route = parser_->route;
    if (status == 0) {
      const HttpServerOptions& o = s_.options();
      if (ec == http::error::header_limit && !parser_->request_line_done) {
        status = 414;
        route = "too_long";
        message = absl::StrCat(
            "request URI too long: the request line (method, path and query string) exceeds the ",
            o.max_header_bytes, "-byte limit of the request headers; shorten the query string");
      } else if (ec == http::error::header_limit) {
        status = 431;
        message = absl::StrCat("request headers exceed the ", o.max_header_bytes,
                               "-byte limit of all header fields together; send fewer or "
                               "shorter ones");
      } else if (ec == http::error::body_limit) {
        status = 413;
        message = absl::StrCat("request body too large: over the ", o.max_body_bytes,
                               "-byte limit (the server reads no request bodies)");
      } else {
        status = 400;
        message = absl::StrCat(
            "malformed HTTP request (", ec.message(),
            "): want a request line \"GET /path HTTP/1.1\" and header lines \"Name: value\"");
      }
    }
    StopWaiting();
    keep_alive_ = false;
    refused_ = true;
    head_ = false;
    Write(s_.Render(status, std::move(message), route));
  }

  // A complete request: to a worker, or 503 when the queue is full.
  void Dispatch() {
    StopWaiting();
    ClearDeadline();
    phase_ = Phase::kHandler;
    keep_alive_ = parser_->keep_alive() && !s_.stopping();
    head_ = parser_->request.method == "HEAD";
    HttpRequest request = std::move(parser_->request);
    parser_.reset();
    request.remote_addr = remote_addr_;
    request.ssl = tls_ ? tls_->native_handle() : nullptr;
    auto self = shared_from_this();
    bool taken = s_.pool().TrySubmit([self, request = std::move(request)]() {
      HttpResponse out = self->s_.Handle(request);
      asio::post(self->s_.io(), [self, out = std::move(out)]() {
        if (!self->closed_) self->Write(out);
      });
    });
    if (!taken) {
      Write(s_.Render(
          503,
          absl::StrCat("server busy: every worker is answering and ",
                       s_.options().max_queued_requests, " requests wait for one; retry shortly"),
          "overloaded"));
    }
  }

  void Write(const HttpResponse& out) {
    phase_ = Phase::kWrite;
    if (s_.stopping()) keep_alive_ = false;
    Serialize(out);
    SetDeadline(s_.options().write_timeout, "write");
    auto done = [self = shared_from_this()](const error_code& ec, size_t /*n*/) {
      if (self->closed_) return;
      if (ec || self->s_.stopping()) return self->Close();
      if (!self->keep_alive_) return self->Finish();
      self->out_.clear();
      self->out_.shrink_to_fit();
      self->waiting_ = self->s_.waiting().insert(self->s_.waiting().end(), self.get());
      self->BeginRequest(false);
    };
    if (tls_) {
      asio::async_write(*tls_, asio::buffer(out_), std::move(done));
    } else {
      asio::async_write(socket_, asio::buffer(out_), std::move(done));
    }
  }

  // Ends a connection after its last answer. TLS: close_notify first (a client such as openssl
  // s_client takes a close without it for a truncation attack), bounded in time.
  void Finish() {
    if (!tls_) return refused_ ? Linger() : Close();
    SetDeadline(kLingerTime, nullptr);
    tls_->async_shutdown([self = shared_from_this()](const error_code& /*ec*/) { self->Close(); });
  }

  // After a refusal the client may still be sending (the rest of a huge header): closing now
  // would reset the connection and lose the answer. So stop sending, read and drop what comes for
  // a short while (bounded in bytes and time, evictable), then close.
  void Linger() {
    error_code ec;
    Socket().shutdown(tcp::socket::shutdown_send, ec);
    waiting_ = s_.waiting().insert(s_.waiting().end(), this);
    SetDeadline(kLingerTime, nullptr);
    Discard();
  }
  void Discard() {
    buffer_.clear();
    Socket().async_read_some(buffer_.prepare(kReadChunk),
                             [self = shared_from_this()](const error_code& ec, size_t n) {
                               if (self->closed_) return;
                               self->lingered_ += n;
                               if (ec || self->lingered_ > kMaxLingerBytes) return self->Close();
                               self->Discard();
                             });
  }

  void Serialize(const HttpResponse& out) {
    auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(out.status)));
    out_ = absl::StrCat("HTTP/1.1 ", out.status, " ", ToAbsl(View(reason)), "\r\n");
    bool has_type = false;
    for (const auto& [k, v] : out.headers) {
      if (EqualsIgnoreCase(k, "Content-Length") || EqualsIgnoreCase(k, "Connection") ||
          k.find_first_of("\r\n:") != std::string::npos ||
          v.find_first_of("\r\n") != std::string::npos) {
        continue;  // ours to set, or would split the answer
      }
      has_type = has_type || EqualsIgnoreCase(k, "Content-Type");
      absl::StrAppend(&out_, k, ": ", v, "\r\n");
    }
    if (!has_type && !out.content_type.empty()) {
      absl::StrAppend(&out_, "Content-Type: ", out.content_type, "\r\n");
    }
    absl::StrAppend(&out_, "Content-Length: ", out.body.size(), "\r\n",
                    keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n", "\r\n");
    if (!head_) out_.append(out.body);
  }

  ServerImpl& s_;
  tcp::socket socket_;  // moved into tls_ for TLS
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  asio::steady_timer timer_;
  uint64_t deadline_generation_ = 0;
  std::string remote_addr_;
  boost::beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  size_t header_bytes_ = 0;  // of the current request, parsed so far
  Phase phase_ = Phase::kIdle;
  bool closed_ = false;
  bool keep_alive_ = true;
  bool head_ = false;
  bool refused_ = false;  // the server refused the request: linger before closing
  size_t lingered_ = 0;   // bytes dropped while lingering
  std::string out_;
  std::optional<std::list<Connection*>::iterator> waiting_;  // in s_.waiting()
};

absl::StatusOr<int> ServerImpl::Init() {
  auto addr = ParseListenAddress(options_.listen);
  if (!addr.ok()) return addr.status();
  bool tls =
      options_.tls_setup || !options_.tls_cert_file.empty() || !options_.tls_key_file.empty();
  if (tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(options_.name, ": no SSL context"));
    }
    tls_ = std::make_unique<asio::ssl::context>(ctx);  // owns it
    if (options_.tls_setup) {
      absl::Status setup = options_.tls_setup(ctx);
      if (!setup.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(options_.name, ": TLS setup failed: ", setup.ToString()));
      }
    } else {
      if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(options_.name, ": TLS needs both a certificate and a key"));
      }
      SSL_CTX_set_options(ctx,
                          SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      if (SSL_CTX_use_certificate_chain_file(ctx, options_.tls_cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx, options_.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
          SSL_CTX_check_private_key(ctx) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(options_.name, ": cannot load TLS certificate ", options_.tls_cert_file,
                         " and key ", options_.tls_key_file));
      }
    }
  }
  error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(addr->first, absl::StrCat(addr->second),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  auto unavailable = [&](const error_code& why) {
    return absl::UnavailableError(
        absl::StrCat(options_.name, ": cannot listen on ", options_.listen, ": ", why.message()));
  };
  if (ec) return unavailable(ec);
  for (const auto& entry : endpoints) {
    acceptor_.close(ec);
    if (acceptor_.open(entry.endpoint().protocol(), ec)) continue;
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (acceptor_.bind(entry.endpoint(), ec) || acceptor_.listen(SOMAXCONN, ec)) continue;
    break;
  }
  if (ec || !acceptor_.is_open()) return unavailable(ec);
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return unavailable(ec);
  pool_ = std::make_unique<WorkerPool>(
      options_.threads, static_cast<size_t>(std::max(0, options_.max_queued_requests)));
  Accept();
  io_thread_ = std::thread([this] { io_.run(); });
  LogInfo("listening", {{"server", options_.name},
                        {"address", absl::StrCat(addr->first, ":", port_)},
                        {"port", port_},
                        {"tls", tls}});
  return port_;
}

void ServerImpl::Accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping_) return;
    if (ec) {
      // Out of descriptors (or a connection reset before it was accepted): retry shortly rather
      // than spin.
      LogWarn("accept failed", {{"server", options_.name}, {"error", ec.message()}});
      accept_retry_.expires_after(std::chrono::milliseconds(50));
      accept_retry_.async_wait([this](const error_code& e) {
        if (!e && !stopping_) Accept();
      });
      return;
    }
    Admit(std::move(socket));
    Accept();
  });
}

void ServerImpl::Admit(tcp::socket socket) {
  if (open_.size() >= static_cast<size_t>(std::max(1, options_.max_connections))) {
    if (waiting_.empty()) {
      // Every connection is busy in a handler: nothing to make room with. Told at once.
      if (metrics_) {
        metrics_->refused.Add({{"server", options_.name}, {"reason", "max_connections"}})
            .Increment();
      }
      error_code ec;
      if (!tls_) {
        HttpResponse busy =
            Render(503,
                   absl::StrCat("too many connections: all ", options_.max_connections,
                                " are busy answering; retry shortly"),
                   "overloaded");
        std::string text = absl::StrCat(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: ", busy.content_type,
            "\r\nContent-Length: ", busy.body.size(), "\r\nConnection: close\r\n\r\n", busy.body);
        // A fresh socket's send buffer is empty: this small write does not block.
        asio::write(socket, asio::buffer(text), ec);
      }
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
      return;
    }
    if (metrics_) metrics_->evicted.Add({{"server", options_.name}}).Increment();
    waiting_.front()->Close();
  }
  auto c = std::make_shared<Connection>(*this, std::move(socket));
  open_.insert(c.get());
  {
    absl::MutexLock lock(&mu_);
    ++open_count_;
  }
  if (metrics_) metrics_->open.Add({{"server", options_.name}}).Increment();
  c->Start();
}

void ServerImpl::Closed(Connection* c) {
  open_.erase(c);
  {
    absl::MutexLock lock(&mu_);
    --open_count_;
  }
  if (metrics_) metrics_->open.Add({{"server", options_.name}}).Decrement();
}

void ServerImpl::CountTimeout(const char* reason) {
  if (metrics_) {
    metrics_->timed_out.Add({{"server", options_.name}, {"reason", reason}}).Increment();
  }
}

HttpResponse ServerImpl::Render(int status, std::string message, const char* route) {
  HttpResponse out;
  if (options_.error_response) {
    out = options_.error_response(status, std::move(message));
  } else {
    out.content_type = "text/plain; charset=utf-8";
    out.body = std::move(message);
  }
  out.status = status;
  if (metrics_) {
    metrics_->requests
        .Add({{"server", options_.name}, {"route", route}, {"code", absl::StrCat(status)}})
        .Increment();
  }
  return out;
}

HttpResponse ServerImpl::Handle(const HttpRequest& request) {
  auto start = std::chrono::steady_clock::now();
  HttpResponse out;
  try {
    out = handler_(request);
  } catch (const std::exception& e) {
    LogError("HTTP handler threw", {{"server", options_.name}, {"error", e.what()}});
    return Render(500, "internal error: the request handler failed", "error");
  } catch (...) {
    LogError("HTTP handler threw", {{"server", options_.name}});
    return Render(500, "internal error: the request handler failed", "error");
  }
  if (metrics_) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_->requests
        .Add({{"server", options_.name}, {"route", out.route}, {"code", absl::StrCat(out.status)}})
        .Increment();
    metrics_->latency.Add({{"server", options_.name}, {"route", out.route}}, LatencyBuckets())
        .Observe(seconds);
  }
  return out;
}

void ServerImpl::Stop() {
  if (stopped_.exchange(true) || !io_thread_.joinable()) return;
  asio::post(io_, [this] {
    stopping_ = true;
    error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    std::vector<Connection*> idle;
    for (Connection* c : open_) {
      if (!c->Busy()) idle.push_back(c);
    }
    for (Connection* c : idle) c->Close();
  });
  {
    // Answers in progress go out; a handler that never returns is not waited for forever.
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &ServerImpl::AllClosed),
                         options_.write_timeout + absl::Seconds(5));
  }
  io_.stop();
  io_thread_.join();
  pool_->Stop();
}

}  // namespace

const std::string* HttpRequest::Param(std::string_view name) const {
  auto it = params.find(std::string(name));
  return it == params.end() ? nullptr : &it->second;
}

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

absl::StatusOr<std::pair<std::string, int>> ParseListenAddress(std::string_view address) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid listen address \"", ToAbsl(address),
                     "\": want host:port, [ipv6]:port or :port (port 0 = any)"));
  };
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad();
  std::string host(address.substr(0, colon));
  int port;
  if (!absl::SimpleAtoi(ToAbsl(address.substr(colon + 1)), &port) || port < 0 || port > 65535)
    return bad();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (host.find(':') != std::string::npos && address.front() != '[') return bad();
  return std::make_pair(host, port);
}

absl::StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(HttpServerOptions options,
                                                            HttpHandler handler) {
  auto server = std::make_unique<ServerImpl>(std::move(options), std::move(handler));
  auto port = server->Init();
  if (!port.ok()) return port.status();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace aa::net
