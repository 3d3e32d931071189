// Linked into the unit tests only in the ThreadSanitizer build (AA_TSAN). Debian's
// libabsl_synchronization is not built with -fsanitize=thread, so TSan cannot see the
// happens-before that absl::Mutex gives and reports every pair of accesses guarded by one as a
// race. This file defines absl::Mutex's and absl::CondVar's exported member functions in the test
// executable: the dynamic linker binds every call (ours, gRPC's, Abseil's own through its PLT) to
// these definitions, which call the real function of the shared library (dlsym RTLD_NEXT) between
// TSan's public mutex annotations, as an instrumented Abseil would. Contract: the executable links
// libabsl_synchronization.so (not the .a), and Await/CondVar waits are called with the mutex held
// for writing (true of every caller in this project).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

// The real function `mangled` of the shared library, as a pointer of type F.
template <typename F>
F Real(const char* mangled) {
  void* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found: %s\n", mangled, dlerror());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

// Calls `real` (a Mutex member that acquires `m`) with the arguments, annotated as acquiring `m`
// (flags: 0 or
// __tsan_mutex_read_lock). `try_lock`: the result says whether it was acquired.
template <typename R, typename... Args>
R AnnotatedLock(R (*real)(absl::Mutex*, Args...), unsigned flags, bool try_lock, absl::Mutex* m,
                std::type_identity_t<Args>... args) {
  __tsan_mutex_pre_lock(m, flags | (try_lock ? __tsan_mutex_try_lock : 0));
  if constexpr (std::is_void_v<R>) {
    real(m, args...);
    __tsan_mutex_post_lock(m, flags, 0);
  } else {
    R acquired = real(m, args...);
    __tsan_mutex_post_lock(m, flags | (try_lock && !acquired ? __tsan_mutex_try_lock_failed : 0),
                           0);
    return acquired;
  }
}

// Calls `real` (which releases `m`, held for writing, waits, and holds it again on return),
// annotated as a release before and an acquisition after; the accesses inside (the condition's
// evaluation) are ignored.
template <typename R, typename Call>
R AnnotatedWait(absl::Mutex* m, Call real) {
  __tsan_mutex_pre_unlock(m, 0);
  R result = real();
  __tsan_mutex_post_unlock(m, 0);
  __tsan_mutex_pre_lock(m, 0);
  __tsan_mutex_post_lock(m, 0, 0);
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  __tsan_mutex_destroy(this, 0);
  Real<void (*)(Mutex*)>("_ZN4absl7debian35MutexD2Ev")(this);
}

void Mutex::Lock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<void (*)(Mutex*)>("_ZN4absl7debian35Mutex4LockEv");
  return AnnotatedLock(real, 0, false, this);
}
void Mutex::ReaderLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<void (*)(Mutex*)>("_ZN4absl7debian35Mutex10ReaderLockEv");
  return AnnotatedLock(real, __tsan_mutex_read_lock, false, this);
}
bool Mutex::TryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<bool (*)(Mutex*)>("_ZN4absl7debian35Mutex7TryLockEv");
  return AnnotatedLock(real, 0, true, this);
}
bool Mutex::ReaderTryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<bool (*)(Mutex*)>("_ZN4absl7debian35Mutex13ReaderTryLockEv");
  return AnnotatedLock(real, __tsan_mutex_read_lock, true, this);
}
void Mutex::LockWhen(const Condition& cond) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real =
      Real<void (*)(Mutex*, const Condition&)>("_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  return AnnotatedLock(real, 0, false, this, cond);
}
void Mutex::ReaderLockWhen(const Condition& cond) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  return AnnotatedLock(real, __tsan_mutex_read_lock, false, this, cond);
}
bool Mutex::LockWhenWithDeadline(const Condition& cond,
                                 absl::Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return AnnotatedLock(real, 0, false, this, cond, deadline);
}
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond,
                                       absl::Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return AnnotatedLock(real, __tsan_mutex_read_lock, false, this, cond, deadline);
}

void Mutex::Unlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<void (*)(Mutex*)>("_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}
void Mutex::ReaderUnlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  static auto real = Real<void (*)(Mutex*)>("_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

void Mutex::Await(const Condition& cond) {
  static auto real =
      Real<void (*)(Mutex*, const Condition&)>("_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  AnnotatedWait<int>(this, [&] {
    real(this, cond);
    return 0;
  });
}
bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return AnnotatedWait<bool>(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  AnnotatedWait<int>(mu, [&] {
    real(this, mu);
    return 0;
  });
}
bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return AnnotatedWait<bool>(mu, [&] { return real(this, mu, deadline); });
}

// Notification's notified state is an atomic flag read and written inside the library (a waiter
// that finds it set takes no lock), and HasBeenNotified() reads it in our instrumented code:
// Notify() releases on the flag's address, every wait that returns notified acquires on it, so both
// paths carry the happens-before.
void Notification::Notify() {
  static auto real = Real<void (*)(Notification*)>("_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(&notified_yet_);
  real(this);
}
void Notification::WaitForNotification() const {
  static auto real =
      Real<void (*)(const Notification*)>("_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
}
bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  return notified;
}
bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static auto real = Real<bool (*)(const Notification*, absl::Time)>(
      "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<std::atomic<bool>*>(&notified_yet_));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
