#include "client/bench/pacer.h"

#include <sys/prctl.h>

#include <chrono>

#include "absl/time/clock.h"

namespace rnnserve::client::bench {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Pacer::Pacer() : thread_([this] { Loop(); }) {}

Pacer::~Pacer() {
  {
    absl::MutexLock lock(&mu_);
    flush_ = true;
    exit_ = true;
  }
  thread_.join();
}

void Pacer::Flush() {
  absl::MutexLock lock(&mu_);
  flush_ = true;
}

void Pacer::At(int64_t when_ns, absl::AnyInvocable<void() &&> callback) {
  absl::MutexLock lock(&mu_);
  queue_.push(Entry{when_ns, next_order_++, std::move(callback)});
}

void Pacer::Loop() {
  // The default 50 us slack would delay every wake-up by about that much.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  absl::MutexLock lock(&mu_);
  while (true) {
    if (queue_.empty()) {
      if (exit_) return;
      mu_.Await(absl::Condition(
          +[](Pacer* p) ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->exit_ || !p->queue_.empty(); },
          this));
      continue;
    }
    const int64_t when = queue_.top().when_ns;
    const int64_t wait = when - SteadyNanos();
    if (wait > 0 && !flush_) {
      // Woken early by an earlier entry or by stopping; the loop re-checks.
      const uint64_t top_order = queue_.top().order;
      const auto changed = [this, top_order]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return flush_ || queue_.top().order != top_order;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Nanoseconds(wait));
      continue;
    }
    absl::AnyInvocable<void()&&> callback = std::move(queue_.top().callback);
    queue_.pop();
    // Unlocked, so a callback may call At().
    mu_.Unlock();
    std::move(callback)();
    mu_.Lock();
  }
}

}  // namespace rnnserve::client::bench
