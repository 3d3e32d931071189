#include "demo/proc/subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/strings.h"

namespace aa::proc {

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(SubprocessOptions options) {
  if (options.argv.empty() || options.log_file.empty()) {
    return absl::InvalidArgumentError("subprocess needs argv and a log file");
  }
  std::unique_ptr<Subprocess> p(new Subprocess(std::move(options)));
  int log = open(p->options_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", p->options_.log_file, ": ", std::strerror(errno)));
  }
  std::vector<char*> argv;
  for (auto& a : p->options_.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return absl::UnavailableError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (!p->options_.working_dir.empty() && chdir(p->options_.working_dir.c_str()) != 0) _exit(127);
    execv(argv[0], argv.data());
    const char msg[] = "exec failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
  }
  close(log);
  p->pid_ = pid;
  return p;
}

Subprocess::~Subprocess() { Stop(absl::Seconds(5)); }

bool Subprocess::Reap(bool block) {
  if (exited_) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == pid_) {
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else if (r < 0 && errno == ECHILD) {
    exited_ = true;
  }
  return exited_;
}

bool Subprocess::Running() { return pid_ > 0 && !Reap(false); }

void Subprocess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

int Subprocess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return exit_code_;
  if (!Running()) return exit_code_;
  kill(pid_, SIGTERM);
  absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (Reap(false)) return exit_code_;
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(pid_, SIGKILL);
  Reap(true);
  return exit_code_;
}

std::string Subprocess::LogTail(int n) const {
  std::ifstream in(options_.log_file);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > n) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) absl::StrAppend(&out, l, "\n");
  return out;
}

absl::StatusOr<int> Subprocess::WaitForListeningPort(std::string_view server,
                                                     absl::Duration timeout) {
  const std::string want_msg = "\"msg\":\"listening\"";
  const std::string want_server = absl::StrCat("\"server\":\"", ToAbsl(server), "\"");
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::ifstream in(options_.log_file);
    for (std::string line; std::getline(in, line);) {
      if (line.find(want_msg) == std::string::npos || line.find(want_server) == std::string::npos)
        continue;
      size_t at = line.find("\"port\":");
      if (at == std::string::npos) continue;
      int port = 0;
      size_t end = line.find_first_not_of("0123456789", at + 7);
      if (absl::SimpleAtoi(line.substr(at + 7, end - at - 7), &port) && port > 0) return port;
    }
    if (!Running()) {
      return absl::UnavailableError(absl::StrCat(name(), " exited with code ", exit_code_,
                                                 " before listening; last log lines:\n",
                                                 LogTail()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(name(), " did not report a listening ",
                                                      ToAbsl(server), " port within ",
                                                      absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<int> PickUnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("bind: ", std::strerror(errno)));
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool PollUntil(const std::function<bool()>& condition, absl::Duration timeout,
               absl::Duration poll) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(poll);
  }
}

}  // namespace aa::proc
