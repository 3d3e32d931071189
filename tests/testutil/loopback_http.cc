#include "testutil/loopback_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

namespace aa::testutil {
namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads up to the end of a request head into `head`; what came after it stays in `rest`. False on
// EOF or error first.
bool ReadHead(int fd, std::string* head, std::string* rest) {
  std::string buffer = std::move(*rest);
  rest->clear();
  while (true) {
    size_t end = buffer.find("\r\n\r\n");
    if (end != std::string::npos) {
      *head = buffer.substr(0, end + 4);
      *rest = buffer.substr(end + 4);
      return true;
    }
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

size_t ContentLength(const std::string& head) {
  std::istringstream in(head);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 15 && strncasecmp(line.c_str(), "content-length:", 15) == 0) {
      return std::strtoul(line.c_str() + 15, nullptr, 10);
    }
  }
  return 0;
}

int ConnectTo(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies bytes both ways until one side closes.
void Pump(int a, int b) {
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buffer[16384];
  while (::poll(fds, 2, -1) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0 || !WriteAll(fds[1 - i].fd, std::string_view(buffer, static_cast<size_t>(n)))) {
        return;
      }
    }
  }
}

}  // namespace

LoopbackListener::LoopbackListener() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::cerr << "LoopbackListener: cannot listen on 127.0.0.1:0\n";
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
}

LoopbackListener::~LoopbackListener() { Shutdown(); }

void LoopbackListener::Start() {
  accept_thread_ = std::thread([this] {
    while (true) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;  // Shutdown() closed the listening socket
      std::lock_guard lock(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      open_fds_.push_back(fd);
      threads_.emplace_back([this, fd] {
        Serve(fd);
        Untrack(fd);
        ::close(fd);
      });
    }
  });
}

void LoopbackListener::Track(int fd) {
  std::lock_guard lock(mu_);
  open_fds_.push_back(fd);
  if (stopping_) ::shutdown(fd, SHUT_RDWR);
}

void LoopbackListener::Untrack(int fd) {
  std::lock_guard lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
}

void LoopbackListener::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

// ---- ConnectProxy -------------------------------------------------------------------------------

ConnectProxy::ConnectProxy(std::map<std::string, std::string> routes) : routes_(std::move(routes)) {
  Start();
}

ConnectProxy::~ConnectProxy() { Shutdown(); }

std::string ConnectProxy::Url() const { return "http://127.0.0.1:" + std::to_string(port()); }

std::vector<std::string> ConnectProxy::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void ConnectProxy::Serve(int fd) {
  std::string head, rest;
  if (!ReadHead(fd, &head, &rest)) return;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(head);
  }
  std::string line = head.substr(0, head.find("\r\n"));
  std::istringstream words(line);
  std::string method, target, version;
  words >> method >> target >> version;
  std::string host_port, origin_form;
  if (method == "CONNECT") {
    host_port = target;
  } else if (target.rfind("http://", 0) == 0) {
    size_t slash = target.find('/', 7);
    host_port = target.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
    if (host_port.find(':') == std::string::npos) host_port += ":80";
    origin_form = slash == std::string::npos ? "/" : target.substr(slash);
  }
  auto route = routes_.find(host_port);
  int upstream = route == routes_.end() ? -1 : ConnectTo(route->second);
  if (upstream < 0) {
    // Without "Connection: close": cpp-httplib 0.11 deadlocks on a refused CONNECT that has it.
    WriteAll(fd, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  Track(upstream);
  if (method == "CONNECT") {
    WriteAll(fd, "HTTP/1.1 200 Connection established\r\n\r\n");
    if (!rest.empty()) WriteAll(upstream, rest);
  } else {
    // Origin form, hop-by-hop and proxy headers dropped, one request per connection.
    std::string out = method + " " + origin_form + " " + version + "\r\n";
    std::istringstream lines(head.substr(line.size() + 2));
    std::string h;
    while (std::getline(lines, h)) {
      if (!h.empty() && h.back() == '\r') h.pop_back();
      if (h.empty()) continue;
      if (strncasecmp(h.c_str(), "connection:", 11) == 0 ||
          strncasecmp(h.c_str(), "proxy-", 6) == 0) {
        continue;
      }
      out += h + "\r\n";
    }
    out += "Connection: close\r\n\r\n";
    WriteAll(upstream, out + rest);
  }
  Pump(fd, upstream);
  Untrack(upstream);
  ::close(upstream);
}

// ---- DroppingServer -----------------------------------------------------------------------------

DroppingServer::DroppingServer(std::string body) : body_(std::move(body)) { Start(); }

DroppingServer::~DroppingServer() { Shutdown(); }

std::string DroppingServer::Url() const { return "http://127.0.0.1:" + std::to_string(port()); }

void DroppingServer::DropNext(int n) {
  std::lock_guard lock(mu_);
  drop_ = n;
}

std::vector<int> DroppingServer::Connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

void DroppingServer::Serve(int fd) {
  int connection;
  {
    std::lock_guard lock(mu_);
    connection = ++next_connection_;
  }
  std::string head, rest;
  while (ReadHead(fd, &head, &rest)) {
    size_t length = ContentLength(head);
    while (rest.size() < length) {
      char chunk[4096];
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      rest.append(chunk, static_cast<size_t>(n));
    }
    rest.erase(0, length);
    bool drop;
    {
      std::lock_guard lock(mu_);
      connections_.push_back(connection);
      drop = drop_ > 0;
      if (drop) --drop_;
    }
    if (drop) return;
    std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body_.size()) + "\r\n\r\n" + body_;
    if (!WriteAll(fd, answer)) return;
  }
}

}  // namespace aa::testutil
