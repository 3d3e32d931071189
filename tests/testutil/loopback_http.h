#pragma once
// Raw-socket HTTP/1.1 helpers on 127.0.0.1, port 0, for transport tests: a forward proxy (CONNECT
// tunnels and absolute-form requests) and a server that can drop a request on a kept-alive
// connection. Both serve each connection on a thread of its own until destroyed; the destructor
// closes every connection and joins the threads. Thread-safe.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aa::testutil {

// What the servers share: the listening socket, the accept loop and the connection threads.
class LoopbackListener {
 public:
  LoopbackListener();
  virtual ~LoopbackListener();
  int port() const { return port_; }

 protected:
  // Starts the accept loop; `serve` runs on a thread per accepted connection (fd owned by the
  // loop: closed after `serve` returns).
  void Start();
  virtual void Serve(int fd) = 0;
  // Call first in the subclass destructor: closes everything and joins the threads.
  void Shutdown();
  // Registers another socket to be closed by Shutdown() (e.g. the proxy's upstream connection).
  void Track(int fd);
  void Untrack(int fd);

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
};

// A forward proxy. `routes` maps what clients ask for ("kube.example:443") to where it really is
// ("127.0.0.1:34567"), so that tests can use names that do not resolve (and loopback targets, which
// proxy rules always send direct, are not needed). CONNECT to a route answers 200 and tunnels
// bytes both ways; an absolute-form request ("GET http://prom.example:9090/x HTTP/1.1") is sent on
// to the route in origin form with "Connection: close" (one request per proxied connection). An
// unknown target gets 502.
class ConnectProxy : public LoopbackListener {
 public:
  explicit ConnectProxy(std::map<std::string, std::string> routes);
  ~ConnectProxy() override;
  std::string Url() const;  // "http://127.0.0.1:<port>"
  // The request heads received (request line and headers), in order.
  std::vector<std::string> Requests() const;

 private:
  void Serve(int fd) override;
  const std::map<std::string, std::string> routes_;
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
};

// An HTTP/1.1 server that answers every request 200 with `body` (application/json) and keeps the
// connection open, except that DropNext(n) makes it close the connection of each of the next n
// requests after reading it, without an answer.
class DroppingServer : public LoopbackListener {
 public:
  explicit DroppingServer(std::string body);
  ~DroppingServer() override;
  std::string Url() const;  // "http://127.0.0.1:<port>"
  void DropNext(int n);
  // One entry per request read: the number of the connection it came on (1, 2, ...).
  std::vector<int> Connections() const;

 private:
  void Serve(int fd) override;
  const std::string body_;
  mutable std::mutex mu_;
  int drop_ = 0;
  int next_connection_ = 0;
  std::vector<int> connections_;
};

}  // namespace aa::testutil
