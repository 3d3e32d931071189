// HTTP server under hostile clients: cpp-httplib 0.11.4 configured as the adapter's server was
// (64 workers, each connection holding one; 5 s keep-alive, 10 s read timeout) against
// net::HttpServer with its defaults, side by side, on loopback. Each server runs in a child
// process of its own (so its resident memory is its own); this process is the attacker and the
// legitimate client. Prints one table.
// Usage: http_server_bench [--slow=1000] [--idle=10000] [--header_mib=300] [--timeout=5s]

#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "net/raw_socket.h"
#include "net/server.h"
#include "testutil/temp_dir.h"
#include "testutil/tls_certs.h"

ABSL_FLAG(int, slow, 1000, "Slow-loris sockets in the large slow-loris case (the small one is 70)");
ABSL_FLAG(int, idle, 10000, "Idle connections");
ABSL_FLAG(int, header_mib, 300, "Size of the endless header line, MiB");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Client timeout of one /healthz");

namespace aa {
namespace {

using Clock = std::chrono::steady_clock;
using net::testing::RawSocket;

enum class Kind { kHttplib, kNet };

struct Tls {
  std::string cert_file, key_file;
};

// Runs in the child: serves "ok" on /healthz (and any path) until killed.
[[noreturn]] void Serve(Kind kind, const Tls* tls, int port_pipe) {
  int port = 0;
  std::unique_ptr<httplib::Server> old;
  std::unique_ptr<net::HttpServer> now;
  if (kind == Kind::kHttplib) {
    old = tls ? std::make_unique<httplib::SSLServer>(tls->cert_file.c_str(), tls->key_file.c_str())
              : std::make_unique<httplib::Server>();
    old->new_task_queue = [] { return new httplib::ThreadPool(64); };
    old->set_keep_alive_max_count(100000);
    old->set_tcp_nodelay(true);
    old->set_keep_alive_timeout(5);
    old->set_read_timeout(10, 0);
    old->set_write_timeout(10, 0);
    old->set_payload_max_length(1 << 20);
    old->Get(".*", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    port = old->bind_to_any_port("127.0.0.1");
    std::thread([&] { old->listen_after_bind(); }).detach();
  } else {
    net::HttpServerOptions options;
    if (tls) {
      options.tls_cert_file = tls->cert_file;
      options.tls_key_file = tls->key_file;
    }
    auto server = net::StartHttpServer(options, [](const net::HttpRequest&) {
      net::HttpResponse out;
      out.body = "ok";
      return out;
    });
    if (server.ok()) {
      now = std::move(*server);
      port = now->port();
    }
  }
  (void)!write(port_pipe, &port, sizeof(port));
  for (;;) pause();
}

struct Child {
  pid_t pid = -1;
  int port = 0;
};

Child Spawn(Kind kind, const Tls* tls) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Serve(kind, tls, fds[1]);
  }
  close(fds[1]);
  Child c{pid, 0};
  (void)!read(fds[0], &c.port, sizeof(c.port));
  close(fds[0]);
  return c;
}

void Kill(const Child& c) {
  kill(c.pid, SIGKILL);
  waitpid(c.pid, nullptr, 0);
}

// VmRSS or VmHWM of a process, MiB.
double Memory(pid_t pid, const char* field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(strlen(field) + 1)) / 1024;
  }
  return -1;
}

// Latency of one GET /healthz on a new connection, or "timeout".
std::string Probe(int port, bool tls) {
  auto timeout = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_timeout));
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    auto get = [&](auto& client) {
      client.set_connection_timeout(timeout);
      client.set_read_timeout(timeout);
      client.set_write_timeout(timeout);
      return client.Get("/healthz");
    };
    httplib::Client plain("127.0.0.1", port);
    httplib::SSLClient secure("127.0.0.1", port);
    secure.enable_server_certificate_verification(false);
    httplib::Result res = tls ? get(secure) : get(plain);
    if (!res || res->status != 200) {
      return absl::StrCat("no answer in ", absl::FormatDuration(absl::GetFlag(FLAGS_timeout)),
                          res ? absl::StrCat(" (", res->status, ")") : "");
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return absl::StrFormat("%.1f ms (max %.1f)", ms[ms.size() / 2], ms.back());
}

// Opens `n` connections that each send `bytes` (maybe nothing) and then wait.
std::vector<RawSocket> Open(int port, int n, const std::string& bytes) {
  std::vector<RawSocket> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    out.emplace_back(port);
    if (!out.back().ok()) {
      out.pop_back();
      break;
    }
    if (!bytes.empty()) out.back().Send(bytes);
  }
  return out;
}

struct Row {
  std::string name;
  std::string figures[2];
};

void Run(const Tls& tls) {
  std::vector<Row> rows = {
      {"/healthz, no attack (median of 5, new connection each)", {}},
      {"/healthz, 70 sockets sent 1 byte each", {}},
      {absl::StrCat("/healthz, ", absl::GetFlag(FLAGS_slow), " sockets sent 1 byte each"), {}},
      {"HTTPS /livez, 70 sockets sent 1 byte (stalled handshakes)", {}},
      {absl::StrCat("HTTPS /livez, ", absl::GetFlag(FLAGS_slow), " stalled handshakes"), {}},
      {absl::StrCat("/healthz, ", absl::GetFlag(FLAGS_idle), " idle connections"), {}},
      {absl::StrCat("resident memory, ", absl::GetFlag(FLAGS_idle), " idle connections"), {}},
      {absl::StrCat("peak resident memory, one ", absl::GetFlag(FLAGS_header_mib),
                    " MiB header line"),
       {}},
  };
  for (Kind kind : {Kind::kHttplib, Kind::kNet}) {
    const int k = kind == Kind::kHttplib ? 0 : 1;
    Child plain = Spawn(kind, nullptr);
    Child https = Spawn(kind, &tls);
    rows[0].figures[k] = Probe(plain.port, false);
    {
      auto loris = Open(plain.port, 70, "G");
      rows[1].figures[k] = Probe(plain.port, false);
    }
    {
      auto loris = Open(plain.port, absl::GetFlag(FLAGS_slow), "G");
      rows[2].figures[k] = Probe(plain.port, false);
    }
    {
      auto loris = Open(https.port, 70, "\x16");
      rows[3].figures[k] = Probe(https.port, true);
    }
    {
      auto loris = Open(https.port, absl::GetFlag(FLAGS_slow), "\x16");
      rows[4].figures[k] = Probe(https.port, true);
    }
    Kill(plain);
    Kill(https);
    plain = Spawn(kind, nullptr);
    {
      double before = Memory(plain.pid, "VmRSS:");
      auto idle = Open(plain.port, absl::GetFlag(FLAGS_idle), "");
      rows[5].figures[k] = Probe(plain.port, false);
      rows[6].figures[k] = absl::StrFormat("%.0f -> %.0f MiB", before, Memory(plain.pid, "VmRSS:"));
    }
    Kill(plain);
    plain = Spawn(kind, nullptr);
    {
      double before = Memory(plain.pid, "VmRSS:");
      RawSocket s(plain.port);
      s.Send("GET /healthz HTTP/1.1\r\nX-Huge: ");
      const std::string chunk(1 << 20, 'a');
      int sent = 0;
      while (sent < absl::GetFlag(FLAGS_header_mib) && s.Send(chunk)) ++sent;
      s.ClosedWithin(2000);
      rows[7].figures[k] =
          absl::StrFormat("%.0f -> %.0f MiB (%d MiB sent before the server cut it)", before,
                          Memory(plain.pid, "VmHWM:"), sent);
    }
    Kill(plain);
  }
  std::printf("%-62s | %-36s | %s\n", "case", "cpp-httplib 0.11.4 (before)", "net::HttpServer");
  for (const Row& r : rows) {
    std::printf("%-62s | %-36s | %s\n", r.name.c_str(), r.figures[0].c_str(), r.figures[1].c_str());
  }
}

}  // namespace
}  // namespace aa

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  (void)aa::SetLogLevel("warn");
  signal(SIGPIPE, SIG_IGN);
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  aa::testutil::TempDir dir;
  auto ca = aa::testutil::TestCa::Create(dir.path(), "ca");
  if (!ca.ok()) return 1;
  auto cert = ca->IssueServer(dir.path(), "server");
  if (!cert.ok()) return 1;
  aa::Run({cert->cert_file, cert->key_file});
  return 0;
}
