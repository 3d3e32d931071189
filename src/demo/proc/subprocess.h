#pragma once
// Child processes for the demo and the integration tests: start, find the port they listen on,
// stop. A child gets SIGTERM if its parent dies (PR_SET_PDEATHSIG), so a crashed test or demo
// leaves nothing behind.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace aa::proc {

struct SubprocessOptions {
  std::vector<std::string> argv;  // argv[0] is the program path
  std::string log_file;           // stdout and stderr are appended here; required
  std::string working_dir;        // empty: the parent's
};

// Not thread-safe; one owner.
class Subprocess {
 public:
  // Forks and execs. Unavailable when the program cannot be started (the log file says why).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(SubprocessOptions options);
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const std::string& log_file() const { return options_.log_file; }
  const std::string& name() const { return options_.argv[0]; }
  bool Running();

  // Waits until the child logs our "listening" record for `server`
  // ({"msg":"listening","server":"http",...,"port":N}) and returns N. DeadlineExceeded after
  // `timeout`; Unavailable if the child exits first (with its last log lines).
  absl::StatusOr<int> WaitForListeningPort(std::string_view server, absl::Duration timeout);

  // Sends SIGTERM, waits up to `grace`, then SIGKILL. Returns the exit code (128+signal if killed).
  // Idempotent.
  int Stop(absl::Duration grace = absl::Seconds(10));
  // Sends a signal without waiting.
  void Signal(int sig);
  // The last `n` lines of the log, for error messages.
  std::string LogTail(int n = 20) const;

 private:
  explicit Subprocess(SubprocessOptions options) : options_(std::move(options)) {}
  bool Reap(bool block);

  SubprocessOptions options_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago (for programs that cannot bind port 0 and
// report it, such as Prometheus). The kernel does not hand it out again soon after, but another
// process could take it.
absl::StatusOr<int> PickUnusedPort();

// Waits for the condition, polling every `poll` of real time, up to `timeout`. For integration
// tests and the demo only (unit tests use injected clocks).
bool PollUntil(const std::function<bool()>& condition, absl::Duration timeout,
               absl::Duration poll = absl::Milliseconds(100));

}  // namespace aa::proc
