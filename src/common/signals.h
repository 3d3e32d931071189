#pragma once
// Shutdown signals for the programs: blocked in every thread, taken synchronously in one.

#include <signal.h>

namespace aa {

// Blocks SIGTERM and SIGINT in the calling thread and returns the set, for
// sigwait()/sigtimedwait(). Call it first thing in main(), before any thread starts, so every
// thread inherits the mask.
inline sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Adds SIGHUP (the adapter's "reload the config file") to `signals` and blocks it too; call it
// right after BlockShutdownSignals(), before any thread starts.
inline void BlockReloadSignal(sigset_t* signals) {
  sigaddset(signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, signals, nullptr);
}

inline const char* SignalName(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT";
}

}  // namespace aa
