// Tells ThreadSanitizer about abseil's Mutex, CondVar and Notification when
// abseil itself is not instrumented, as with Debian's libabsl. TSan sees
// neither the atomics nor the futex calls inside libabsl_synchronization, so
// without this every ABSL_GUARDED_BY member looks racy and gRPC's own locking
// (grpc_core::Mutex is an absl::Mutex) creates no happens-before either.
//
// scripts/sanitize.sh tsan builds this uninstrumented and LD_PRELOADs it: it
// stands in for the library's exported functions (for every caller, ours and
// gRPC's), calls the real ones through dlsym(RTLD_NEXT) and adds the
// annotations an instrumented abseil makes (ABSL_TSAN_MUTEX_* in
// absl/synchronization/mutex.cc). Between a pre_ and a post_ annotation TSan
// ignores memory accesses, which covers the conditions abseil evaluates while
// it locks or unlocks. Processes without TSan (sh, openssl) load it
// harmlessly: the annotations are weak symbols and null there.
//
// The symbols are abseil 20220623 as Debian builds it (inline namespace
// debian3); a missing one aborts loudly instead of losing annotations.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" {
void __tsan_mutex_pre_lock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_lock(void* addr, unsigned flags, int recursion) __attribute__((weak));
void __tsan_mutex_pre_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_mutex_post_unlock(void* addr, unsigned flags) __attribute__((weak));
void __tsan_acquire(void* addr) __attribute__((weak));
void __tsan_release(void* addr) __attribute__((weak));
}

namespace {

// sanitizer/tsan_interface.h's flags.
constexpr unsigned kReadLock = 1 << 3;
constexpr unsigned kTryLock = 1 << 4;
constexpr unsigned kTryLockFailed = 1 << 5;

// absl::Duration and absl::Time: trivially copyable, passed by value exactly
// like these.
struct Duration {
  int64_t hi;
  uint32_t lo;
};
struct Time {
  Duration since_epoch;
};

bool Active() { return __tsan_mutex_pre_lock != nullptr; }

void PreLock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_pre_lock(mu, flags);
}
void PostLock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_post_lock(mu, flags, 0);
}
void PreUnlock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_pre_unlock(mu, flags);
}
void PostUnlock(void* mu, unsigned flags) {
  if (Active()) __tsan_mutex_post_unlock(mu, flags);
}

// How `mu` is held, for the calls that keep it held across a wait: the
// writer bit of absl::Mutex's one word (kMuWriter in mutex.cc).
unsigned HeldFlags(const void* mu) {
  const intptr_t word = *static_cast<const volatile intptr_t*>(mu);
  return (word & 0x0008) != 0 ? 0 : kReadLock;
}

// Where the library is when RTLD_NEXT cannot see it: loaded into a local
// scope, as by a Python extension module (grpcio) dlopen'ed RTLD_LOCAL.
constexpr char kAbslSynchronization[] = "libabsl_synchronization.so.20220623";

template <typename Fn>
Fn Real(const char* symbol) {
  void* real = dlsym(RTLD_NEXT, symbol);
  if (real == nullptr) {
    if (void* library = dlopen(kAbslSynchronization, RTLD_NOW | RTLD_NOLOAD)) {
      real = dlsym(library, symbol);
    }
  }
  if (real == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found: %s\n", symbol, dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(real);
}

// abseil's functions call each other through the PLT (WaitWithTimeout calls
// WaitWithDeadline, Notification locks its own Mutex), which lands here
// again: only a thread's outermost call annotates, the nested ones pass
// straight through.
thread_local int tls_depth = 0;

class Nesting {
 public:
  Nesting() : outer_(tls_depth++ == 0) {}
  ~Nesting() { --tls_depth; }
  Nesting(const Nesting&) = delete;
  Nesting& operator=(const Nesting&) = delete;
  bool outer() const { return outer_; }

 private:
  const bool outer_;
};

// Declares `real`, the library's function, and returns its result at once
// from a nested call.
#define REAL(type, symbol, ...)                 \
  static const auto real = Real<type>(#symbol); \
  const Nesting nesting;                        \
  if (!nesting.outer()) return real(__VA_ARGS__)

// A call that waits while holding `mu` (Await, CondVar::Wait): to TSan an
// unlock, then a lock once the call returns.
template <typename Call>
auto WhileHeld(void* mu, Call call) {
  const unsigned flags = HeldFlags(mu);
  PreUnlock(mu, flags);
  auto result = call();
  PostUnlock(mu, flags);
  PreLock(mu, flags);
  PostLock(mu, flags);
  return result;
}

template <typename Call>
auto Locking(void* mu, unsigned flags, Call call) {
  PreLock(mu, flags);
  auto result = call();
  PostLock(mu, flags);
  return result;
}

}  // namespace

extern "C" {

// absl::Mutex::Lock(), Unlock(), ReaderLock(), ReaderUnlock().
void _ZN4absl7debian35Mutex4LockEv(void* mu) {
  REAL(void (*)(void*), _ZN4absl7debian35Mutex4LockEv, mu);
  PreLock(mu, 0);
  real(mu);
  PostLock(mu, 0);
}
void _ZN4absl7debian35Mutex6UnlockEv(void* mu) {
  REAL(void (*)(void*), _ZN4absl7debian35Mutex6UnlockEv, mu);
  PreUnlock(mu, 0);
  real(mu);
  PostUnlock(mu, 0);
}
void _ZN4absl7debian35Mutex10ReaderLockEv(void* mu) {
  REAL(void (*)(void*), _ZN4absl7debian35Mutex10ReaderLockEv, mu);
  PreLock(mu, kReadLock);
  real(mu);
  PostLock(mu, kReadLock);
}
void _ZN4absl7debian35Mutex12ReaderUnlockEv(void* mu) {
  REAL(void (*)(void*), _ZN4absl7debian35Mutex12ReaderUnlockEv, mu);
  PreUnlock(mu, kReadLock);
  real(mu);
  PostUnlock(mu, kReadLock);
}

// TryLock(), ReaderTryLock().
bool _ZN4absl7debian35Mutex7TryLockEv(void* mu) {
  REAL(bool (*)(void*), _ZN4absl7debian35Mutex7TryLockEv, mu);
  PreLock(mu, kTryLock);
  const bool locked = real(mu);
  PostLock(mu, kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}
bool _ZN4absl7debian35Mutex13ReaderTryLockEv(void* mu) {
  REAL(bool (*)(void*), _ZN4absl7debian35Mutex13ReaderTryLockEv, mu);
  PreLock(mu, kReadLock | kTryLock);
  const bool locked = real(mu);
  PostLock(mu, kReadLock | kTryLock | (locked ? 0 : kTryLockFailed));
  return locked;
}

// LockWhen(cond) and friends: the mutex is held on return, whatever they return.
void _ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE(void* mu, const void* cond) {
  REAL(void (*)(void*, const void*), _ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE, mu, cond);
  Locking(mu, 0, [&] { return (real(mu, cond), 0); });
}
void _ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE(void* mu, const void* cond) {
  REAL(void (*)(void*, const void*), _ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE, mu,
       cond);
  Locking(mu, kReadLock, [&] { return (real(mu, cond), 0); });
}
bool _ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(void* mu,
                                                                                 const void* cond,
                                                                                 Duration timeout) {
  REAL(bool (*)(void*, const void*, Duration),
       _ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE, mu, cond,
       timeout);
  return Locking(mu, 0, [&] { return real(mu, cond, timeout); });
}
bool _ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(void* mu,
                                                                              const void* cond,
                                                                              Time deadline) {
  REAL(bool (*)(void*, const void*, Time),
       _ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE, mu, cond,
       deadline);
  return Locking(mu, 0, [&] { return real(mu, cond, deadline); });
}
bool _ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE(
    void* mu, const void* cond, Duration timeout) {
  REAL(bool (*)(void*, const void*, Duration),
       _ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE, mu, cond,
       timeout);
  return Locking(mu, kReadLock, [&] { return real(mu, cond, timeout); });
}
bool _ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE(
    void* mu, const void* cond, Time deadline) {
  REAL(bool (*)(void*, const void*, Time),
       _ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE, mu, cond,
       deadline);
  return Locking(mu, kReadLock, [&] { return real(mu, cond, deadline); });
}

// Await(cond) and friends: held before and after, released while waiting.
void _ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE(void* mu, const void* cond) {
  REAL(void (*)(void*, const void*), _ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE, mu, cond);
  WhileHeld(mu, [&] { return (real(mu, cond), 0); });
}
bool _ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE(void* mu,
                                                                              const void* cond,
                                                                              Duration timeout) {
  REAL(bool (*)(void*, const void*, Duration),
       _ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE, mu, cond, timeout);
  return WhileHeld(mu, [&] { return real(mu, cond, timeout); });
}
bool _ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE(void* mu,
                                                                           const void* cond,
                                                                           Time deadline) {
  REAL(bool (*)(void*, const void*, Time),
       _ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE, mu, cond, deadline);
  return WhileHeld(mu, [&] { return real(mu, cond, deadline); });
}

// CondVar::Wait(mu) and friends.
void _ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(void* cv, void* mu) {
  REAL(void (*)(void*, void*), _ZN4absl7debian37CondVar4WaitEPNS0_5MutexE, cv, mu);
  WhileHeld(mu, [&] { return (real(cv, mu), 0); });
}
bool _ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE(void* cv, void* mu,
                                                                          Duration timeout) {
  REAL(bool (*)(void*, void*, Duration),
       _ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE, cv, mu, timeout);
  return WhileHeld(mu, [&] { return real(cv, mu, timeout); });
}
bool _ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(void* cv, void* mu,
                                                                       Time deadline) {
  REAL(bool (*)(void*, void*, Time),
       _ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE, cv, mu, deadline);
  return WhileHeld(mu, [&] { return real(cv, mu, deadline); });
}

// Notification: Notify() happens before every wait that sees it, and before
// every HasBeenNotified() that returns true. That one is inline: an
// instrumented acquire load of the Notification's `notified_yet_`, which
// follows its Mutex (one intptr_t), so Notify also releases at that address.
constexpr size_t kNotifiedYetOffset = sizeof(intptr_t);

void _ZN4absl7debian312Notification6NotifyEv(void* n) {
  REAL(void (*)(void*), _ZN4absl7debian312Notification6NotifyEv, n);
  if (Active()) {
    __tsan_release(n);
    __tsan_release(static_cast<char*>(n) + kNotifiedYetOffset);
  }
  real(n);
}
void _ZNK4absl7debian312Notification19WaitForNotificationEv(const void* n) {
  REAL(void (*)(const void*), _ZNK4absl7debian312Notification19WaitForNotificationEv, n);
  real(n);
  if (Active()) __tsan_acquire(const_cast<void*>(n));
}
bool _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
    const void* n, Duration timeout) {
  REAL(bool (*)(const void*, Duration),
       _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE, n, timeout);
  const bool notified = real(n, timeout);
  if (notified && Active()) __tsan_acquire(const_cast<void*>(n));
  return notified;
}
bool _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(const void* n,
                                                                                 Time deadline) {
  REAL(bool (*)(const void*, Time),
       _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE, n, deadline);
  const bool notified = real(n, deadline);
  if (notified && Active()) __tsan_acquire(const_cast<void*>(n));
  return notified;
}

}  // extern "C"
