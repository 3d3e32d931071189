#pragma once
// Raw TCP client sockets on 127.0.0.1 for tests that speak (or abuse) HTTP byte by byte. Every
// blocking call is bounded by the socket's receive/send timeout (10 s), so a broken server fails a
// test instead of hanging it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

namespace aa::net::testing {

class RawSocket {
 public:
  // Connects to 127.0.0.1:port; ok() tells whether it did.
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Close();
  }
  ~RawSocket() { Close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  RawSocket(RawSocket&& o) noexcept : fd_(o.fd_), pending_(std::move(o.pending_)) { o.fd_ = -1; }

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends all of `data`; false when the connection broke (or the send timed out).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one answer: its headers, then Content-Length bytes of body (or until the connection
  // ends). Empty when nothing came before the connection ended or the timeout. What came after it
  // (a pipelined next answer) is kept for the next call.
  std::string ReadResponse() {
    std::string in = std::move(pending_);
    pending_.clear();
    size_t header_end;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(in)) return in;
    }
    size_t length = 0;
    size_t at = in.find("Content-Length: ");
    if (at != std::string::npos && at < header_end) length = std::stoul(in.substr(at + 16));
    while (in.size() < header_end + 4 + length) {
      if (!ReadMore(in)) return in;
    }
    pending_ = in.substr(header_end + 4 + length);
    in.resize(header_end + 4 + length);
    return in;
  }

  // True when the server closes the connection within `timeout_ms` (what it sent before is
  // read and dropped).
  bool ClosedWithin(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    for (;;) {
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
  }

 private:
  bool ReadMore(std::string& in) {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string pending_;  // read past the last answer
};

// The status code of an answer read by ReadResponse ("HTTP/1.1 431 ..."), or 0.
inline int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

}  // namespace aa::net::testing
