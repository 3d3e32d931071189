#include "net/server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/strings.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace aa::net {
namespace {

struct ServerMetrics {
  explicit ServerMetrics(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("autoscale_adapter_http_requests_total")
                     .Help("HTTP requests served, by server, route and status code.")
                     .Register(registry)),
        latency(prometheus::BuildHistogram()
                    .Name("autoscale_adapter_http_request_duration_seconds")
                    .Help("Time to answer an HTTP request, by server and route.")
                    .Register(registry)) {}
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
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

// Decodes %XX escapes and, in query strings, '+' as a space (form encoding, as the aggregator
// sends).
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
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
    params.emplace(Unescape(pair.substr(0, eq)),
                   eq == std::string_view::npos ? std::string() : Unescape(pair.substr(eq + 1)));
  }
  return params;
}

// cpp-httplib's limits (CPPHTTPLIB_REQUEST_URI_MAX_LENGTH and CPPHTTPLIB_HEADER_MAX_LENGTH), fixed
// when Debian compiled libcpp-httplib.so: the request line, and each header line.
constexpr size_t kLibraryLineLimit = 8192;

bool IsLibraryMethod(std::string_view m) {
  // The methods cpp-httplib 0.11 parses; with any other the request line does not parse.
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI"}) {
    if (m == known) return true;
  }
  return false;
}

}  // namespace

LibraryError ExplainLibraryError(int status, std::string_view method, std::string_view target,
                                 std::string_view version, std::string_view path) {
  // cpp-httplib reports only a status. 414: the request line is over its limit (nothing of it
  // kept). 400: the request line did not parse, or a header line is over its limit (or the
  // connection ended inside the headers). It sets `path` only after the method, the version and
  // the number of tokens check out, and then fails only on a second '?' in the target: so with a
  // path and at most one '?' the request line was fine and the headers were not.
  const size_t questions = std::count(target.begin(), target.end(), '?');
  switch (status) {
    case 414:
      return {414, absl::StrCat("request URI too long: the request line (method, path and query "
                                "string) exceeds the ",
                                kLibraryLineLimit, "-byte limit; shorten the query string")};
    case 400:
      if (!path.empty() && questions <= 1) {
        return {431, absl::StrCat("request headers exceed the ", kLibraryLineLimit,
                                  "-byte limit of one header field; shorten or drop it")};
      }
      if (!path.empty()) {
        return {400, "malformed request target: more than one '?' (encode it as %3F)"};
      }
      if (!method.empty() && !IsLibraryMethod(method) && !target.empty() && target[0] == '/' &&
          (version == "HTTP/1.1" || version == "HTTP/1.0")) {
        return {405, absl::StrCat("method ", ToAbsl(method.substr(0, 32)),
                                  " is not allowed: the server answers GET (and HEAD)")};
      }
      return {400,
              "malformed HTTP request: want a request line \"GET /path HTTP/1.1\" and "
              "header lines \"Name: value\""};
    case 416:
      return {416, "invalid Range header: want bytes=<first>-<last>"};
    default:
      return {status, absl::StrCat("the HTTP request was refused (status ", status, ")")};
  }
}

namespace {

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    if (options_.registry) metrics_ = std::make_unique<ServerMetrics>(*options_.registry);
  }
  ~ServerImpl() override { Stop(); }

  absl::StatusOr<int> Init() {
    auto addr = ParseListenAddress(options_.listen);
    if (!addr.ok()) return addr.status();
    bool tls =
        options_.tls_setup || !options_.tls_cert_file.empty() || !options_.tls_key_file.empty();
    if (options_.tls_setup) {
      absl::Status setup_status;
      auto ssl = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
        setup_status = options_.tls_setup(&ctx);
        return setup_status.ok();
      });
      if (!ssl->is_valid()) {
        return absl::InvalidArgumentError(
            absl::StrCat(options_.name, ": TLS setup failed: ",
                         setup_status.ok() ? "no SSL context" : setup_status.ToString()));
      }
      server_ = std::move(ssl);
    } else if (tls) {
      if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(options_.name, ": TLS needs both a certificate and a key"));
      }
      auto ssl = std::make_unique<httplib::SSLServer>(options_.tls_cert_file.c_str(),
                                                      options_.tls_key_file.c_str());
      if (!ssl->is_valid()) {
        return absl::InvalidArgumentError(
            absl::StrCat(options_.name, ": cannot load TLS certificate ", options_.tls_cert_file,
                         " and key ", options_.tls_key_file));
      }
      server_ = std::move(ssl);
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    int threads = options_.threads;
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_->set_keep_alive_max_count(100000);
    // Headers and body go out in separate writes: no 40 ms Nagle stall.
    server_->set_tcp_nodelay(true);
    server_->set_keep_alive_timeout(absl::ToInt64Seconds(options_.keep_alive_timeout));
    server_->set_read_timeout(10, 0);
    server_->set_write_timeout(10, 0);
    server_->set_payload_max_length(1 << 20);
    server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      Serve(req, res);
      return httplib::Server::HandlerResponse::Handled;
    });
    // Called for every answer >= 400; the handler's own answers carry a Content-Type, what the
    // library refused by itself (before Serve) does not.
    server_->set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          if (res.has_header("Content-Type")) return httplib::Server::HandlerResponse::Unhandled;
          LibraryError e =
              ExplainLibraryError(res.status, req.method, req.target, req.version, req.path);
          // The rest of a refused request (headers after an over-long one) may still be
          // unread: the connection cannot be reused.
          res.set_header("Connection", "close");
          Render(e.status, std::move(e.message), "rejected", res);
          return httplib::Server::HandlerResponse::Handled;
        }));
    int port = addr->second;
    if (port == 0) {
      port = server_->bind_to_any_port(addr->first);
    } else if (!server_->bind_to_port(addr->first, port)) {
      port = -1;
    }
    if (port <= 0) {
      return absl::UnavailableError(
          absl::StrCat(options_.name, ": cannot listen on ", options_.listen));
    }
    port_ = port;
    thread_ = std::thread([this] {
      server_->listen_after_bind();
      listen_returned_ = true;
    });
    // httplib's stop() does nothing until the accept loop runs: a Stop() right after the start
    // would otherwise leave the loop blocked in accept() forever.
    while (!server_->is_running() && !listen_returned_) std::this_thread::yield();
    LogInfo("listening", {{"server", options_.name},
                          {"address", absl::StrCat(addr->first, ":", port)},
                          {"port", port},
                          {"tls", tls}});
    return port;
  }

  int port() const override { return port_; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Sends an error the server answers by itself, rendered by options_.error_response.
  void Render(int status, std::string message, const char* route, httplib::Response& res) {
    HttpResponse out;
    if (options_.error_response) {
      out = options_.error_response(status, std::move(message));
    } else {
      out.content_type = "text/plain; charset=utf-8";
      out.body = std::move(message);
    }
    res.status = status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    res.set_content(out.body, out.content_type);
    if (metrics_) {
      metrics_->requests
          .Add({{"server", options_.name}, {"route", route}, {"code", absl::StrCat(status)}})
          .Increment();
    }
  }

  void Serve(const httplib::Request& req, httplib::Response& res) {
    auto start = std::chrono::steady_clock::now();
    if (req.target.size() > options_.max_uri_bytes) {
      Render(414,
             absl::StrCat("request URI too long: the path and query string are ", req.target.size(),
                          " bytes, over the ", options_.max_uri_bytes,
                          "-byte limit; shorten the query string"),
             "too_long", res);
      return;
    }
    HttpRequest in;
    in.method = req.method;
    in.path = req.path;
    in.remote_addr = req.remote_addr;
    in.ssl = req.ssl;
    in.params = ParseQuery(req.target);
    for (const auto& [k, v] : req.headers) in.headers.emplace_back(k, v);
    HttpResponse out = handler_(in);
    // Answers are whole documents: a Range header must not cut them (cpp-httplib would slice the
    // body and still say 200). The request object is the library's own non-const one.
    const_cast<httplib::Request&>(req).ranges.clear();
    // The handler ran before cpp-httplib read any body: it is still in the connection, which
    // therefore cannot carry another request.
    if (req.has_header("Transfer-Encoding") ||
        (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0")) {
      res.set_header("Connection", "close");
    }
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    res.set_content(out.body, out.content_type);
    if (metrics_) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_->requests
          .Add(
              {{"server", options_.name}, {"route", out.route}, {"code", absl::StrCat(out.status)}})
          .Increment();
      metrics_->latency.Add({{"server", options_.name}, {"route", out.route}}, LatencyBuckets())
          .Observe(seconds);
    }
  }

  HttpServerOptions options_;
  HttpHandler handler_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> listen_returned_{false};
};

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
